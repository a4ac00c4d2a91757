"""LoRA training speed on CPU: samples/s per preset and precision (fp32 vs bf16 mixed), same data, same run.

    python bench/train_speed.py                                   # both presets, fp32 and bf16, 8 steps each
    python bench/train_speed.py --presets smollm2-135m-instruct --steps 12

The data is the sample course's own English FAQ (short question/answer pairs, ~60-90 tokens per example
in the chat format), trained plain (no retrieved context) with the library's defaults (r=8 on the
attention projections, batch 8) through ``train_adapter``, i.e. the code behind ``tutor finetune``. The
baseline of each row is fp32 on the same preset. Figures: the Trainer's own train samples/s (training
steps only; the before/after loss evaluations are outside it).
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


def main() -> None:
    from tutor.models import PRESETS

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="+", default=list(PRESETS))
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()

    import torch

    from finetune.train import TrainConfig, train_adapter
    from knowledge_base.faq import load_faq, write_faq_csv
    from tutor.config import Paths

    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    rows = [e for e in load_faq(ROOT / "knowledge_base" / "sample_course" / "faq.csv") if e.language == "en"]
    faq = write_faq_csv(rows, work / "faq.csv")
    paths = Paths(work / "data", Path(os.environ["TUTOR_CACHE_DIR"]))
    print(f"# {len(rows)} FAQ rows, torch threads {torch.get_num_threads()}, load before {os.getloadavg()[0]:.2f}")
    table = []
    for preset in args.presets:
        base = None
        for precision in args.precisions:
            config = TrainConfig(base=preset, max_steps=args.steps, batch_size=args.batch_size, precision=precision,
                                 early_stopping_patience=0, loss_rows=8, show_progress=False, overwrite=True)
            card = train_adapter(faq, f"speed-{precision}", config, paths)
            m = card["metrics"]
            sps = m["samples_per_second"]
            base = base or sps
            table.append((preset, precision, m["steps"], m["train_runtime_s"], sps, sps / base,
                          m["val_loss_before"], m["val_loss_after"]))
    print("\n| preset | precision | steps | train s | samples/s | vs fp32 | val loss before -> after |")
    print("|---|---|---|---|---|---|---|")
    for preset, precision, steps, secs, sps, ratio, v0, v1 in table:
        print(f"| {preset} | {precision} | {steps} | {secs:.0f} | {sps:.2f} | {ratio:.2f}x | {v0:.2f} -> {v1:.2f} |")
    print(f"\nload after {os.getloadavg()[0]:.2f}")
    print("command: python " + " ".join(shlex.quote(a) for a in [str(Path(__file__).relative_to(ROOT))] + sys.argv[1:]))


if __name__ == "__main__":
    main()
