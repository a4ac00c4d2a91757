"""Where the time of one decode step goes on CPU, and what each thing the stack offers changes.

    python bench/decode_step.py                                   # SmolLM2, all variants
    python bench/decode_step.py --preset gemma3-270m --variants fp32 bf16 int4

One token through the KV cache after a ~460-token prompt, median of ``--steps`` steps, for variants of the
same model: fp32, bf16, int8 dynamic quantization (``optimize=int8``), int4 weight-only (group 32,
torch's ``_weight_int4pack_mm_for_cpu``: the Q4_1 GGUF grid, so nearly lossless), int4 with eager
attention, and int4 + eager + ``torch.compile`` over a static KV cache. The baseline is llama.cpp on
the same GGUF, same threads, same run (decode tokens/s over 64 tokens). These are experiments, not
engine options: the engine offers ``optimize`` none / bf16 / int8 (``tutor/generation.py``).
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


def int4_linear(linear, group: int = 32):
    """An ``nn.Linear`` as 4-bit affine groups of ``group`` input columns (bf16 scales and zeros)."""
    import torch

    class Int4Linear(torch.nn.Module):
        def __init__(self):
            super().__init__()
            w = linear.weight.detach().float()
            n, k = w.shape
            wg = w.reshape(n, k // group, group)
            lo, hi = wg.amin(-1), wg.amax(-1)
            scale = ((hi - lo) / 15).clamp(min=1e-8)
            q = torch.round((wg - lo[..., None]) / scale[..., None]).clamp(0, 15).to(torch.int32).reshape(n, k)
            zero = lo + 8 * scale  # torch's convention: w = (q - 8) * scale + zero
            self.register_buffer("w", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 8))
            self.register_buffer("sz", torch.stack([scale, zero], -1).transpose(0, 1).contiguous().to(torch.bfloat16))
            self.bias = None if linear.bias is None else torch.nn.Parameter(linear.bias.detach().to(torch.bfloat16))
            self.n = n

        def forward(self, x):
            y = torch.ops.aten._weight_int4pack_mm_for_cpu(x.reshape(-1, x.shape[-1]), self.w, group, self.sz)
            y = y if self.bias is None else y + self.bias
            return y.reshape(*x.shape[:-1], self.n)

    return Int4Linear()


def prepare(model, variant: str):
    """The model changed in place for ``variant``; returns (model, uses_static_cache)."""
    import torch

    from tutor.generation import optimize_model

    if variant in ("fp32", "bf16", "int8"):
        return optimize_model(model, "none" if variant == "fp32" else variant, "cpu"), False
    model.to(torch.bfloat16)

    def swap(module):
        for name, child in module.named_children():
            if isinstance(child, torch.nn.Linear) and child.in_features % 32 == 0:
                setattr(module, name, int4_linear(child))
            else:
                swap(child)

    swap(model)
    if "eager" in variant:
        model.config._attn_implementation = "eager"
        for layer in model.model.layers:
            layer.self_attn.config._attn_implementation = "eager"
    return model, variant.endswith("compiled")


def time_steps(model, prompt_len: int, steps: int, static: bool) -> tuple[float, float]:
    """(prefill seconds, median decode step seconds)."""
    import torch

    ids = torch.randint(100, 1000, (1, prompt_len))
    forward = model.forward
    kwargs = {"logits_to_keep": 1, "use_cache": True}
    with torch.inference_mode():
        if static:
            from transformers import StaticCache

            cache = StaticCache(config=model.config, max_cache_len=prompt_len + steps + 8)
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
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache-dir", type=Path, default=Path(os.environ.get("TUTOR_CACHE_DIR", ROOT / ".cache" / "test-models")))
    args = ap.parse_args()

    import torch

    from bench.generation import bench_llama, gguf_path
    from tutor.models import load_model

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
        prefill, step = time_steps(model, args.prompt_tokens, args.steps, static)
        print(f"| {variant} | {prefill:.2f} | {step * 1000:.1f} | {1 / step:.1f} | {1 / step / llama['tok_s']:.2f}x |", flush=True)
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
