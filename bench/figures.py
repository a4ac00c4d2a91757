"""The table of current figures at the top of docs/benchmarks.md, made from bench/results/*.json.

A newcomer should find every current figure in one place, each beside the command that reproduces it and the
machine and date it was measured on; the diary (docs/benchmarks-history.md) says how each run went. Writing
the table by hand let figures drift from their runs, so it is generated: each benchmark's latest figures live
in one file of ``bench/results/`` (format and writer: ``bench/record.py``), and this script rewrites the block
between the two markers below, newest run first. ``--check`` changes nothing and exits 1 when the block is
not what the files say (tests/test_figures.py runs it).

    python bench/figures.py            # rewrite the block
    python bench/figures.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import RESULTS, RecordError, check_record  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HISTORY = ROOT / "docs" / "benchmarks-history.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"
COLUMNS = ("figure", "value", "target", "machine", "date", "command")


def load_records(results: Path) -> list[dict[str, Any]]:
    """Every ``*.json`` in ``results``, checked, newest run first (then by name, so the order is stable).

    A file that is not JSON or not a record stops the run with its name in the message: a table silently
    missing a benchmark is worse than no table.
    """
    records = []
    for path in sorted(results.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise RecordError(f"{path}: not valid JSON ({err})") from None
        check_record(data, str(path))
        if data["name"] != path.stem:
            raise RecordError(f"{path}: name {data['name']!r} differs from the file's name {path.stem!r}")
        records.append(data)
    if not records:
        raise RecordError(f"{results}: no results files (*.json)")
    records.sort(key=lambda r: r["name"])
    records.sort(key=lambda r: r["date"], reverse=True)
    return records


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def heading_anchors(markdown: str) -> dict[str, str]:
    """Heading text -> anchor, for the first heading of each text (the diary's newest run that has it).

    Repeated headings get GitHub's "-1", "-2" suffixes in document order, so later ones are counted too.
    """
    anchors: dict[str, str] = {}
    seen: dict[str, int] = {}
    for line in markdown.splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)(?:\s+#+)?\s*$", line)
        if not match:
            continue
        text = match.group(1)
        slug = github_anchor(text)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.setdefault(text, slug if count == 0 else f"{slug}-{count}")
    return anchors


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (a "|" would end the cell, a newline the row)."""
    return " ".join(text.split()).replace("|", "\\|")


def _row(cells: tuple[str, ...]) -> str:
    """One table row; an empty cell is written "| |", as the hand-written tables of the diary have it."""
    return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"


def render_table(records: list[dict[str, Any]], anchors: dict[str, str], history_link: str) -> str:
    """One Markdown table: a bold row per benchmark (what, machine, date, command), then a row per figure.

    Machine, date and command sit on the benchmark's row only: they are the same for all its figures, and
    repeating a 150-character command on every row would bury the figures.
    """
    lines = [_row(COLUMNS), "|" + "---|" * len(COLUMNS)]
    for rec in records:
        head = f"**{_cell(rec['what'])}**"
        if rec.get("note"):
            head += f"; {_cell(rec['note'])}"
        refs = []
        if rec["source"] in anchors:
            refs.append(f"[diary]({history_link}#{anchors[rec['source']]})")
        refs.append(f"`{rec['name']}.json`")
        head += f" ({', '.join(refs)})"
        lines.append(_row((head, "", "", _cell(rec["machine"]), rec["date"], f"`{_cell(rec['command'])}`")))
        for fig in rec["figures"]:
            value = _cell(fig["value"]) + (f" ({_cell(fig['note'])})" if fig.get("note") else "")
            lines.append(_row((_cell(fig["metric"]), value, _cell(fig.get("target", "")), "", "", "")))
    return "\n".join(lines)


def render_block(records: list[dict[str, Any]], anchors: dict[str, str], history_link: str) -> str:
    """The whole block, markers included, as it should stand in the document."""
    n = sum(len(rec["figures"]) for rec in records)
    return "\n".join([
        START,
        f"<!-- Made by `python bench/figures.py` from bench/results/*.json ({len(records)} benchmarks, {n} figures):"
        " edit those files, not this table. -->",
        "",
        render_table(records, anchors, history_link),
        END,
    ])


def replace_block(document: str, block: str, where: str) -> str:
    """``document`` with the text from START to END replaced by ``block``; both markers must be there once."""
    if document.count(START) != 1 or document.count(END) != 1 or document.index(START) > document.index(END):
        raise RecordError(f"{where}: needs one '{START}' line followed by one '{END}' line around the table")
    before, rest = document.split(START, 1)
    return before + block + rest.split(END, 1)[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if the table is out of date")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder of the results files")
    ap.add_argument("--doc", type=Path, default=DOC, help="the document whose block is rewritten")
    ap.add_argument("--history", type=Path, default=HISTORY, help="the diary the 'diary' links point into")
    args = ap.parse_args(argv)
    print("command: python bench/figures.py" + (" --check" if args.check else ""))
    try:
        records = load_records(args.results)
        history = args.history.read_text(encoding="utf-8") if args.history.is_file() else ""
        link = Path(os.path.relpath(args.history.resolve(), args.doc.resolve().parent)).as_posix()
        document = args.doc.read_text(encoding="utf-8")
        updated = replace_block(document, render_block(records, heading_anchors(history), link), str(args.doc))
    except (RecordError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if updated == document:
        print(f"{args.doc}: the figures table is up to date ({len(records)} benchmarks)")
        return 0
    if args.check:
        print(f"{args.doc}: the figures table is out of date with {args.results}; run python bench/figures.py",
              file=sys.stderr)
        return 1
    args.doc.write_text(updated, encoding="utf-8")
    print(f"{args.doc}: figures table rewritten from {len(records)} benchmarks in {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
