"""Decode speed and time to first token of our local generator vs llama.cpp, same GGUF, same prompt, same run.

    python bench/generation.py                          # both presets, optimize none / bf16 / int8 / int4
    python bench/generation.py --presets smollm2-135m-instruct --optimize none int8 --new-tokens 64

The prompt is the engine's own: ``build_messages`` with three chunks of the sample course (about 450
tokens). Ours: ``LocalGenerator`` (transformers, the dequantized fp32 weights, optionally bf16 / int8);
baseline: llama-cpp-python on the bundled GGUF (Q4_1 / Q4_K_M) with the same number of threads, fed the
same rendered prompt text. Figures are medians over ``--repeats`` runs; prints a Markdown table whose
ratio column is ours / llama.cpp.
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

from knowledge_base import Hit  # noqa: E402
from tutor.runtime.generators.transformers import LocalGenerator  # noqa: E402
from tutor.runtime.models import PRESETS, load_model  # noqa: E402
from tutor.prompts import build_messages  # noqa: E402

QUESTION = "How does LoRA reduce the number of trainable parameters, and what rank is typical?"


def sample_hits(n: int = 3) -> list[Hit]:
    """Three paragraphs of the sample course as retrieval hits (no knowledge base needed)."""
    text = (ROOT / "knowledge_base" / "sample_course" / "05-fine-tuning-and-lora.md").read_text(encoding="utf-8")
    paras = [p.strip() for p in text.split("\n\n") if len(p.strip()) > 300][:n]
    return [Hit(f"lora#{i}", 1, "05-fine-tuning-and-lora.md", "Fine-tuning and LoRA", "LoRA", None, p, 0, len(p),
                0.1, 0.6, None) for i, p in enumerate(paras)]


def gguf_path(preset: str, cache_dir: Path) -> str:
    directory, name = PRESETS[preset].locate_gguf(cache_dir)
    return str(Path(directory) / name)


def bench_ours(loaded, messages, optimize: str, new_tokens: int, repeats: int) -> dict:
    gen = LocalGenerator(loaded, optimize=optimize, repetition_penalty=1.0)
    list(gen.stream(messages, 4))  # warm-up (allocations, oneDNN kernels)
    ttft, tps, n = [], [], []
    for _ in range(repeats):
        list(gen.stream(messages, new_tokens))
        s = gen.last_stats
        ttft.append(s.first_token_s)
        tps.append(s.decode_tokens_per_s)
        n.append(s.new_tokens)
    return {"ttft_s": statistics.median(ttft), "tok_s": statistics.median(tps), "tokens": statistics.median(n),
            "prompt_tokens": gen.last_stats.prompt_tokens}


def bench_llama(path: str, prompt: str, new_tokens: int, repeats: int, threads: int) -> dict:
    from llama_cpp import Llama

    llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_batch=512, verbose=False)
    llm(prompt, max_tokens=4, temperature=0.0)  # warm-up
    ttft, tps, n = [], [], []
    for _ in range(repeats):
        llm.reset()  # no prompt-cache reuse between runs: prefill is measured every time
        t0 = time.perf_counter()
        first, count = None, 0
        for _chunk in llm(prompt, max_tokens=new_tokens, temperature=0.0, stream=True):
            count += 1
            if first is None:
                first = time.perf_counter() - t0
        total = time.perf_counter() - t0
        ttft.append(first)
        tps.append((count - 1) / max(total - first, 1e-9))
        n.append(count)
    return {"ttft_s": statistics.median(ttft), "tok_s": statistics.median(tps), "tokens": statistics.median(n),
            "prompt_tokens": len(llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", nargs="+", default=list(PRESETS))
    ap.add_argument("--optimize", nargs="+", default=["none", "bf16", "int8", "int4"])
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--cache-dir", type=Path, default=Path(os.environ.get("TUTOR_CACHE_DIR", ROOT / ".cache" / "test-models")))
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    print(f"# {' '.join(sys.argv)}  (threads={args.threads}, load before: {os.getloadavg()[0]:.2f})")
    rows = []
    for preset in args.presets:
        loaded = load_model(preset, cache_dir=args.cache_dir, device="cpu")
        messages, _ = build_messages(QUESTION, sample_hits(), [], "en", loaded.tokenizer, 700)
        prompt = loaded.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        base = bench_llama(gguf_path(preset, args.cache_dir), prompt, args.new_tokens, args.repeats, args.threads)
        rows.append((preset, "llama.cpp (GGUF)", base, base))
        for opt in args.optimize:
            fresh = load_model(preset, cache_dir=args.cache_dir, device="cpu")  # optimizations modify in place
            rows.append((preset, f"ours optimize={opt}", bench_ours(fresh, messages, opt, args.new_tokens, args.repeats), base))
    print("\n| preset | backend | prompt tok | TTFT s | decode tok/s | tok/s ours/llama.cpp | TTFT ours/llama.cpp |")
    print("|---|---|---|---|---|---|---|")
    for preset, name, r, base in rows:
        print(f"| {preset} | {name} | {r['prompt_tokens']} | {r['ttft_s']:.2f} | {r['tok_s']:.1f} | "
              f"{r['tok_s'] / base['tok_s']:.2f}x | {r['ttft_s'] / base['ttft_s']:.2f}x |")
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
