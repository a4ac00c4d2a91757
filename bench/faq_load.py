"""How much validation costs: ``load_faq`` against a bare parse of the same file.

Baseline: ``csv.DictReader`` (CSV) or ``json.loads`` per line (JSONL) building plain dicts, with no
checks at all. The ratio is what per-row validation, duplicate detection and encoding handling add.
Synthetic files (N rows of short question/answer pairs) are written to a temp dir.

    python bench/faq_load.py            # 20,000 rows, best of 3
    python bench/faq_load.py --rows 100000
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from knowledge_base.faq_entries import FAQEntry
from knowledge_base.faq_files import load_faq, write_faq_csv, write_faq_jsonl  # noqa: E402


def baseline_csv(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as f:
        return len(list(csv.DictReader(f)))


def baseline_jsonl(path: Path) -> int:
    with open(path, encoding="utf-8") as f:
        return len([json.loads(line) for line in f if line.strip()])


def best_of(fn, path: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(path)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    entries = [FAQEntry(f"Question number {i}: how does attention weigh token {i % 97}?",
                        f"Answer {i}: it is a softmax over scaled dot products, see page {i % 8 + 1}.",
                        source=f"0{i % 8 + 1}-page.md", language="en") for i in range(args.rows)]
    with tempfile.TemporaryDirectory() as tmp:
        files = {"csv": write_faq_csv(entries, Path(tmp) / "faq.csv"),
                 "jsonl": write_faq_jsonl(entries, Path(tmp) / "faq.jsonl")}
        print(f"command: python bench/faq_load.py --rows {args.rows} --repeat {args.repeat}")
        for fmt, base in (("csv", baseline_csv), ("jsonl", baseline_jsonl)):
            path = files[fmt]
            assert len(load_faq(path)) == args.rows == base(path)
            t_base = best_of(base, path, args.repeat)
            t_load = best_of(load_faq, path, args.repeat)
            print(f"{fmt:5s} {args.rows} rows ({path.stat().st_size / 1e6:.1f} MB): load_faq {t_load:.3f} s "
                  f"({args.rows / t_load:,.0f} rows/s), bare parse {t_base:.3f} s; "
                  f"ratio load_faq / bare = {t_load / t_base:.2f}x")


if __name__ == "__main__":
    main()
