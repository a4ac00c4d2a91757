"""LoRA training speed on CPU: samples/s per preset and precision (fp32 vs bf16 mixed), same data, same run.

    python bench/train_speed.py                                   # both presets, fp32 and bf16, 8 steps each
    python bench/train_speed.py --presets smollm2-135m-instruct --steps 12

The data is the sample course's own English FAQ (short question/answer pairs, ~60-90 tokens per example
in the chat format), trained plain (no retrieved context) with the library's defaults (r=8 on the
attention projections, batch 8) through ``train_adapter``, i.e. the code behind ``tutor finetune``.
Baseline, same run and preset: a plain fp32 loop (peft model, AdamW, forward/backward/step on the same
encoded examples and batches, nothing else), the kind of loop the issue measured. Figures: samples/s
and answer+prompt tokens/s (the Trainer's own train runtime: training steps plus its per-epoch
validation and checkpoint writes; the before/after loss evaluations are outside it), and the peak resident
memory of each run (the process's resident set, after what earlier runs freed is handed back to the OS).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TUTOR_CACHE_DIR", str(ROOT / ".cache" / "test-models"))


def plain_loop(preset: str, faq: Path, paths, steps: int, batch_size: int) -> tuple[float, float]:
    """(samples/s, mean tokens per example) of a bare fp32 LoRA loop on the examples ``train_adapter`` builds."""
    import time

    import torch
    from peft import LoraConfig, get_peft_model

    from finetune.data import build_examples, collate, split_entries
    from finetune.train import TrainConfig
    from knowledge_base.faq_files import load_faq
    from tutor.runtime.models import load_model

    config = TrainConfig(base=preset)
    torch.manual_seed(config.seed)
    loaded = load_model(preset, cache_dir=paths.cache_dir, device="cpu", for_training=True)
    train_rows, _ = split_entries(load_faq(faq), config.val_fraction, config.seed)
    examples = build_examples(train_rows, loaded.tokenizer, config.data_config())
    lora = LoraConfig(r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout, task_type="CAUSAL_LM",
                      target_modules=list(loaded.lora_target_modules))
    model = get_peft_model(loaded.model, lora).train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    started = None
    for step in range(steps + 1):  # step 0 warms up (allocator, kernels), as the Trainer's loss evaluations do
        if step == 1:
            started = time.perf_counter()
        batch = [examples[(step * batch_size + i) % len(examples)] for i in range(batch_size)]
        loss = model(**collate(batch, loaded.tokenizer.pad_token_id)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    elapsed = time.perf_counter() - started
    return steps * batch_size / elapsed, sum(len(e["input_ids"]) for e in examples) / len(examples)


class PeakMemory:
    """The largest resident set size of this process while the block runs (sampled every 0.1 s), in GiB:
    the figure a CPU trainer has to fit in, model, activations and optimiser state together."""

    def __enter__(self):
        import ctypes
        import gc
        import threading

        import psutil

        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # what an earlier run freed goes back to the OS: not counted again
        self.peak, self._stop, proc = 0, threading.Event(), psutil.Process()

        def sample():
            while not self._stop.is_set():
                self.peak = max(self.peak, proc.memory_info().rss)
                self._stop.wait(0.1)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def gib(self) -> float:
        return self.peak / 2**30


def main() -> None:
    from tutor.runtime.models import PRESETS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="+", default=list(PRESETS))
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()

    import torch

    from finetune.train import TrainConfig, train_adapter
    from knowledge_base.faq_files import load_faq, write_faq_csv
    from basics.config import Paths

    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    rows = [e for e in load_faq(ROOT / "knowledge_base" / "sample_course" / "faq.csv") if e.language == "en"]
    faq = write_faq_csv(rows, work / "faq.csv")
    paths = Paths(work / "data", Path(os.environ["TUTOR_CACHE_DIR"]))
    print(f"# {len(rows)} FAQ rows, torch threads {torch.get_num_threads()}, load before {os.getloadavg()[0]:.2f}")
    table = []
    for preset in args.presets:
        with PeakMemory() as mem:
            base, tokens = plain_loop(preset, faq, paths, args.steps, args.batch_size)
        table.append((preset, "plain fp32 loop (baseline)", args.steps, args.steps * args.batch_size / base, base, 1.0,
                      float("nan"), float("nan"), mem.gib))
        for precision in args.precisions:
            config = TrainConfig(base=preset, max_steps=args.steps, batch_size=args.batch_size, precision=precision,
                                 early_stopping_patience=0, loss_rows=8, show_progress=False, overwrite=True)
            with PeakMemory() as mem:
                card = train_adapter(faq, f"speed-{precision}", config, paths)
            m = card["metrics"]
            sps = m["samples_per_second"]
            table.append((preset, f"train_adapter {precision}", m["steps"], m["train_runtime_s"], sps, sps / base,
                          m["val_loss_before"], m["val_loss_after"], mem.gib))
        print(f"# {preset}: {tokens:.0f} tokens per example on average", flush=True)
    print("\n| preset | run | steps | train s | samples/s | vs plain loop | val loss before -> after | peak RSS GiB |")
    print("|---|---|---|---|---|---|---|---|")
    for preset, run, steps, secs, sps, ratio, v0, v1, gib in table:
        losses = "" if v0 != v0 else f"{v0:.2f} -> {v1:.2f}"
        print(f"| {preset} | {run} | {steps} | {secs:.0f} | {sps:.2f} | {ratio:.2f}x | {losses} | {gib:.1f} |")
    print(f"\nload after {os.getloadavg()[0]:.2f}")
    print("command: python " + " ".join(shlex.quote(a) for a in [str(Path(__file__).relative_to(ROOT))] + sys.argv[1:]))


if __name__ == "__main__":
    main()
