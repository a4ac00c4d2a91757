"""Instructor FAQ files: the formats, ``load_faq`` (the one reader) and the writers symmetric with it.

An FAQ file feeds two consumers: the knowledge base (an answer from the FAQ beats a generated one) and
fine-tuning / evaluation (the rows are training targets and test questions). Both read it through
``load_faq`` so a file that trains also serves, and a bad file is rejected the same way everywhere.

Formats (picked by suffix, else by content):

* CSV / TSV (comma, tab or semicolon) with a header: ``question,answer`` required; ``course``, ``source``,
  ``language``, ``answerable``, ``must_include``, ``also_accepted`` optional.
* JSONL, one object per line, with the same keys.
* JSONL of chat ``messages`` (the format of most fine-tuning sets): optional ``system`` turns first,
  the first ``user`` turn is the question, the last ``assistant`` turn is the answer; the extra keys may
  sit at the top level of the object.

``answerable: false`` marks a question the tutor should refuse (the expected answer is a refusal), so
its answer may be empty. ``must_include`` (evaluation only) lists the key facts a correct answer states,
each with its accepted spellings: in JSON a list of lists (``[["9,216", "9216"], ["B214"]]``), in CSV
one cell with facts separated by ``;`` and spellings by ``|`` (``9,216|9216; B214``). ``also_accepted``
(evaluation only) lists other reference answers that F1 and EM accept, the best one counting (SQuAD's
other annotators): a JSON list of strings, or one CSV cell separated by ``|``.

Validation never stops at the first problem: an instructor fixing a spreadsheet wants every bad row at
once, so ``load_faq`` collects ``(row, message)`` pairs and raises one ``FAQFormatError`` (what makes one
record valid is in ``faq_entries.py``). Rows are 1-based data rows: the n-th record after the header in
CSV, the n-th line in JSONL (so an editor's "go to line" finds it). Row 0 means the whole file.

Files are decoded by ``loaders.read_text``, the one text decoder of the package (byte-order marks, UTF-8,
legacy code pages, binary files in disguise), with FAQ advice in its messages.

Cells are data, never code: nothing here evaluates or templates what a row says.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from basics.errors import FAQFormatError, IngestError
from knowledge_base.faq_entries import (OPTIONAL_COLUMNS, REQUIRED_COLUMNS, FAQEntry, FAQLimits, Problems,
                                        check_duplicates, type_name, validate_record)
from knowledge_base.loaders import read_text

log = logging.getLogger(__name__)

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
# Magic numbers of formats people export by mistake, with what to do instead.
BINARY_HINTS = {
    b"PK\x03\x04": "it looks like an Excel/ZIP file: save the sheet as 'CSV UTF-8' and load that",
    b"%PDF": "it looks like a PDF: add it as a course document, or write the FAQ as CSV",
    b"\xd0\xcf\x11\xe0": "it looks like an old Excel/Word file: save the sheet as 'CSV UTF-8'",
}
TEXT_ADVICE = "save the FAQ as CSV UTF-8 or JSONL"


# ---------------------------------------------------------------------------------------------------
# loading


def load_faq(path: str | os.PathLike, limits: FAQLimits = FAQLimits()) -> list[FAQEntry]:
    """Read and validate an FAQ file; raise ``FAQFormatError`` listing every problem with its row."""
    path = Path(path)
    text = _read_text(path, limits)
    fmt, delimiter = _detect_format(path, text)
    problems: Problems = []
    if fmt == "csv":
        records = _csv_records(text, delimiter, problems, path, limits)
    else:
        records = _jsonl_records(text, problems, path, limits)

    entries: list[FAQEntry] = []
    for row, raw in records:
        entry = validate_record(row, raw, problems, limits, words_ok=fmt == "csv")
        if entry is not None:
            entries.append(entry)
    if not records and not problems:
        problems.append((0, "the file has no FAQ rows (expected at least one question/answer pair)"))
    check_duplicates(entries, problems)
    if problems:
        problems.sort(key=lambda p: p[0])
        raise FAQFormatError(str(path), problems)
    log.info("loaded %d FAQ entries from %s (%s)", len(entries), path, fmt)
    return entries


def _read_text(path: Path, limits: FAQLimits) -> str:
    """The file as text (``loaders.read_text``), after the FAQ's own checks: a regular file, not too big."""
    if not path.is_file():
        raise FAQFormatError(str(path), [(0, "file not found (or not a regular file)")])
    size = path.stat().st_size
    max_bytes = int(limits.max_file_mb * 1024 * 1024)
    if size > max_bytes:
        raise FAQFormatError(
            str(path),
            [(0, f"file is too big: {size / 1e6:.1f} MB, the limit is {limits.max_file_mb} MB "
                 "(FAQLimits.max_file_mb); split it into several files")],
        )
    try:
        return read_text(path, hints=BINARY_HINTS, advice=TEXT_ADVICE, max_control_ratio=limits.control_char_ratio)
    except IngestError as exc:
        raise FAQFormatError(str(path), [(0, exc.reason)]) from None


def _detect_format(path: Path, text: str) -> tuple[str, str]:
    """``("csv", delimiter)`` or ``("jsonl", "")``.

    The suffix decides, with two corrections from the content, because people rename files: a text
    that starts with ``{`` is JSON lines whatever its suffix (no valid FAQ CSV header starts with a
    brace), and the CSV delimiter is the one the header line actually uses (Excel writes ``;`` in
    locales where the comma is the decimal mark, and ``Tab`` for "Unicode text").
    """
    suffix = path.suffix.lower()
    head = text.lstrip("\ufeff").lstrip()
    if suffix in JSONL_SUFFIXES or head[:1] == "{" or (suffix not in CSV_SUFFIXES and head[:1] == "["):
        return "jsonl", ""
    first = head.split("\n", 1)[0]
    preferred = CSV_SUFFIXES.get(suffix, ",")
    if preferred in first:
        return "csv", preferred
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    return "csv", best if counts[best] else preferred


def _csv_records(text: str, delimiter: str, problems: Problems, path: Path,
                 limits: FAQLimits) -> list[tuple[int, dict[str, Any]]]:
    """Header-checked CSV records as ``(row, {column: value})``; blank records are skipped but counted."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        problems.append((0, f"cannot read the CSV header: {exc}"))
        return []
    columns = [h.strip().lstrip("\ufeff").lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise FAQFormatError(str(path), [(0, f"missing required column(s) {names}; the header has "
                                             f"{[h.strip() for h in header]}, expected at least "
                                             f"'question{delimiter}answer'")])
    unknown = [c for c in columns if c and c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        log.warning("%s: ignoring unknown column(s) %s", path, unknown)

    records: list[tuple[int, dict[str, Any]]] = []
    row = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row += 1
            problems.append((row, f"malformed CSV (check the quotes): {exc}"))
            continue
        row += 1
        if row > limits.max_rows:
            raise FAQFormatError(str(path), [(0, f"too many rows: more than {limits.max_rows} "
                                                 "(FAQLimits.max_rows); split the file")])
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(columns):
            extra = values[len(columns):]
            if any(v.strip() for v in extra):
                problems.append((row, f"{len(values)} fields but the header has {len(columns)} "
                                      "columns (an unquoted comma? quote fields that contain commas)"))
                continue
        record = {c: v for c, v in zip(columns, values) if c}
        for c in columns[len(values):]:  # a short row: missing trailing cells are empty
            record.setdefault(c, "")
        records.append((row, record))
    return records


def _jsonl_records(text: str, problems: Problems, path: Path,
                   limits: FAQLimits) -> list[tuple[int, dict[str, Any]]]:
    """JSON objects as ``(line, object)``; a file that is one JSON array is accepted too."""
    stripped = text.lstrip("\ufeff").strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except json.JSONDecodeError as exc:
            problems.append((0, f"invalid JSON array: {exc.msg} at line {exc.lineno} column {exc.colno}"))
            return []
        if len(items) > limits.max_rows:
            raise FAQFormatError(str(path), [(0, f"too many rows: more than {limits.max_rows} "
                                                 "(FAQLimits.max_rows); split the file")])
        return _objects_only(enumerate(items, start=1), problems)

    parsed = []
    for line_no, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if not line.strip():
            continue
        if line_no > limits.max_rows:
            raise FAQFormatError(str(path), [(0, f"too many rows: more than {limits.max_rows} "
                                                 "(FAQLimits.max_rows); split the file")])
        try:
            parsed.append((line_no, json.loads(line)))
        except json.JSONDecodeError as exc:
            problems.append((line_no, f"invalid JSON: {exc.msg} at column {exc.colno}"))
    return _objects_only(parsed, problems)


def _objects_only(items: Iterable[tuple[int, Any]], problems: Problems) -> list[tuple[int, dict]]:
    records = []
    for row, item in items:
        if isinstance(item, dict):
            records.append((row, item))
        else:
            problems.append((row, f"expected a JSON object, got {type_name(item)}"))
    return records


# ---------------------------------------------------------------------------------------------------
# writing (symmetric with load_faq)


def _columns_for(entries: list[FAQEntry]) -> list[str]:
    """question, answer, and each optional column that some entry actually uses."""
    cols = list(REQUIRED_COLUMNS)
    for c in ("course", "source", "language"):
        if any(getattr(e, c) for e in entries):
            cols.append(c)
    if any(not e.answerable for e in entries):
        cols.append("answerable")
    if any(e.must_include for e in entries):
        cols.append("must_include")
    if any(e.also_accepted for e in entries):
        cols.append("also_accepted")
    return cols


def write_faq_csv(entries: Iterable[FAQEntry], path: str | os.PathLike) -> Path:
    """Write entries as UTF-8 CSV that ``load_faq`` reads back unchanged (atomically: a failed write
    leaves the previous file intact)."""
    entries = list(entries)
    cols = _columns_for(entries)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for e in entries:
        writer.writerow([str(e.answerable).lower() if c == "answerable"
                         else "; ".join("|".join(f) for f in e.must_include) if c == "must_include"
                         else "|".join(e.also_accepted) if c == "also_accepted"
                         else (getattr(e, c) or "") for c in cols])
    return _atomic_write(Path(path), buf.getvalue())


def write_faq_jsonl(entries: Iterable[FAQEntry], path: str | os.PathLike) -> Path:
    """Write entries as JSONL (one ``{"question", "answer", ...}`` object per line), atomically."""
    entries = list(entries)
    cols = _columns_for(entries)
    lines = []
    for e in entries:
        obj = {c: getattr(e, c) for c in cols if getattr(e, c) is not None}
        lines.append(json.dumps(obj, ensure_ascii=False))
    return _atomic_write(Path(path), "\n".join(lines) + "\n")


def _atomic_write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
