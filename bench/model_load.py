"""Model load time from the safetensors cache, in a fresh process each time, against llama.cpp loading the GGUF.

    python bench/model_load.py                       # both presets, 3 fresh processes each
    python bench/model_load.py --presets gemma3-270m --repeats 5

Each measurement is a new Python process (warm OS page cache). Two figures: the first
``load_model(preset, device="cpu")`` in that process, which includes importing torch and transformers'
model code (~2-3 s of imports on 2 cores), and a second ``load_model`` in the same process, which is the
load itself (tokenizer + safetensors weights). Dequantizing the GGUF and writing the cache happens once
beforehand and is not timed. Baseline, same run: ``llama_cpp.Llama(model_path=GGUF)`` in a fresh
process (import + load, and load alone). Medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OURS = """
import json, time; t0 = time.perf_counter()
from tutor.runtime.models import load_model
loaded = load_model({preset!r}, cache_dir={cache!r}, device="cpu"); t1 = time.perf_counter()
del loaded
loaded = load_model({preset!r}, cache_dir={cache!r}, device="cpu"); t2 = time.perf_counter()
print(json.dumps({{"first_s": t1 - t0, "load_s": t2 - t1}}))
"""
LLAMA = """
import json, time; t0 = time.perf_counter()
from llama_cpp import Llama; t1 = time.perf_counter()
llm = Llama(model_path={path!r}, n_ctx=2048, verbose=False); t2 = time.perf_counter()
print(json.dumps({{"first_s": t2 - t0, "load_s": t2 - t1}}))
"""


def run(code: str) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from tutor.runtime.models import PRESETS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="+", default=list(PRESETS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cache-dir", default=os.environ.get("TUTOR_CACHE_DIR", str(ROOT / ".cache" / "test-models")))
    args = ap.parse_args()

    from bench.generation import gguf_path

    print(f"# {' '.join(sys.argv)}  (load before: {os.getloadavg()[0]:.2f})")
    print("\n| preset | loader | fresh process: imports + load s | load s (imports done) | load ours/llama.cpp |")
    print("|---|---|---|---|---|")
    for preset in args.presets:
        run(OURS.format(preset=preset, cache=args.cache_dir))  # makes sure the cache exists; warms the page cache
        ours = [run(OURS.format(preset=preset, cache=args.cache_dir)) for _ in range(args.repeats)]
        path = gguf_path(preset, Path(args.cache_dir))
        base = [run(LLAMA.format(path=path)) for _ in range(args.repeats)]
        med = {name: {k: statistics.median(r[k] for r in rows) for k in ("first_s", "load_s")}
               for name, rows in (("ours", ours), ("llama", base))}
        ratio = med["ours"]["load_s"] / med["llama"]["load_s"]
        print(f"| {preset} | llama.cpp GGUF | {med['llama']['first_s']:.2f} | {med['llama']['load_s']:.2f} | 1.00x |")
        print(f"| {preset} | ours (safetensors cache) | {med['ours']['first_s']:.2f} | {med['ours']['load_s']:.2f} | {ratio:.2f}x |",
              flush=True)
    print(f"\nload after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
