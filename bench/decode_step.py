"""Where the time of one decode step goes on CPU, and what each thing the stack offers changes.

    python bench/decode_step.py                                   # SmolLM2, all variants
    python bench/decode_step.py --preset gemma3-270m --variants fp32 bf16 int4

One token through the KV cache after a ~460-token prompt, median of ``--steps`` steps, for variants of the
same model: fp32, bf16, int8 dynamic quantization (``optimize=int8``), int4 weight-only (group 32,
torch's ``_weight_int4pack_mm_for_cpu``, ``optimize=int4``: the Q4_1 GGUF grid, so nearly
lossless), int4 with eager attention, and int4 + eager + ``torch.compile`` over a static KV cache of
``--static-len`` positions. The baseline is llama.cpp on the same GGUF, same threads, same run (decode
tokens/s over 64 tokens). fp32 / bf16 / int8 / int4 are engine options (``tutor/runtime/generators/transformers.py``); the
eager and compiled variants are experiments (see docs/benchmarks.md for why they are not options).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

VARIANTS = ("fp32", "bf16", "int8", "int4", "int4-eager", "int4-eager-compiled")


def prepare(model, variant: str):
    """The model changed in place for ``variant``; returns (model, uses_static_cache)."""
    from tutor.runtime.generators.transformers import optimize_model

    if variant in ("fp32", "bf16", "int8", "int4"):
        return optimize_model(model, "none" if variant == "fp32" else variant, "cpu"), False
    model = optimize_model(model, "int4", "cpu")
    model.set_attn_implementation("eager")
    return model, variant.endswith("compiled")


def time_steps(model, prompt_len: int, steps: int, static: bool, static_len: int) -> tuple[float, float]:
    """(prefill seconds, median decode step seconds)."""
    import torch

    ids = torch.randint(100, 1000, (1, prompt_len))
    forward = model.forward
    kwargs = {"logits_to_keep": 1, "use_cache": True}
    with torch.inference_mode():
        if static:
            from transformers import StaticCache

            cache = StaticCache(config=model.config, max_cache_len=max(static_len, prompt_len + steps + 8))
            forward = torch.compile(model.forward, dynamic=False)
            t0 = time.perf_counter()
            model(input_ids=ids, past_key_values=cache, cache_position=torch.arange(prompt_len), **kwargs)
            prefill = time.perf_counter() - t0
            token = torch.tensor([[5]])
            for i in range(3):  # compile (minutes on 2 cores), not timed
                forward(input_ids=token, past_key_values=cache, cache_position=torch.tensor([prompt_len + i]), **kwargs)
            times = []
            for i in range(3, steps + 3):
                t0 = time.perf_counter()
                forward(input_ids=token, past_key_values=cache, cache_position=torch.tensor([prompt_len + i]), **kwargs)
                times.append(time.perf_counter() - t0)
            return prefill, statistics.median(times)
        model(input_ids=ids, **kwargs)  # warm-up
        t0 = time.perf_counter()
        out = model(input_ids=ids, **kwargs)
        prefill = time.perf_counter() - t0
        past, token, times = out.past_key_values, torch.tensor([[5]]), []
        for _ in range(steps):
            t0 = time.perf_counter()
            past = model(input_ids=token, past_key_values=past, **kwargs).past_key_values
            times.append(time.perf_counter() - t0)
        return prefill, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="smollm2-135m-instruct")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    ap.add_argument("--prompt-tokens", type=int, default=460)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--static-len", type=int, default=512,
                    help="Static KV cache length of the compiled variant (the engine's prompts need ~1,200-2,048).")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache-dir", type=Path, default=Path(os.environ.get("TUTOR_CACHE_DIR", ROOT / ".cache" / "test-models")))
    args = ap.parse_args()

    import torch

    from bench.generation import bench_llama, gguf_path
    from tutor.runtime.models import load_model

    torch.set_num_threads(args.threads)
    print(f"# {' '.join(sys.argv)}  (threads={args.threads}, load before: {os.getloadavg()[0]:.2f})")
    loaded = load_model(args.preset, cache_dir=args.cache_dir, device="cpu")
    prompt = loaded.tokenizer.decode(torch.randint(100, 1000, (args.prompt_tokens,)).tolist())
    llama = bench_llama(gguf_path(args.preset, args.cache_dir), prompt, 64, 2, args.threads)
    print(f"\n| variant | prefill s ({args.prompt_tokens} tok) | decode ms/token | tok/s | ours/llama.cpp |")
    print("|---|---|---|---|---|")
    print(f"| llama.cpp (GGUF) | {llama['ttft_s']:.2f} | {1000 / llama['tok_s']:.1f} | {llama['tok_s']:.1f} | 1.00x |")
    for variant in args.variants:
        model, static = prepare(load_model(args.preset, cache_dir=args.cache_dir, device="cpu").model, variant)
        prefill, step = time_steps(model, args.prompt_tokens, args.steps, static, args.static_len)
        print(f"| {variant} | {prefill:.2f} | {step * 1000:.1f} | {1 / step:.1f} | {1 / step / llama['tok_s']:.2f}x |", flush=True)
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
