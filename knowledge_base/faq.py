"""Instructor FAQ files: the one parser and validator, and the matching writers.

An FAQ file feeds two consumers: the knowledge base (an answer from the FAQ beats a generated one) and
fine-tuning / evaluation (the rows are training targets and test questions). Both read it through
``load_faq`` so a file that trains also serves, and a bad file is rejected the same way everywhere.

Formats (picked by suffix, else by content):

* CSV / TSV (comma, tab or semicolon) with a header: ``question,answer`` required; ``course``, ``source``, ``language``,
  ``answerable``, ``must_include`` optional.
* JSONL, one object per line, with the same keys.
* JSONL of chat ``messages`` (the format of most fine-tuning sets): optional ``system`` turns first,
  the first ``user`` turn is the question, the last ``assistant`` turn is the answer; the extra keys may
  sit at the top level of the object.

``answerable: false`` marks a question the tutor should refuse (the expected answer is a refusal), so
its answer may be empty. ``must_include`` (evaluation only) lists the key facts a correct answer states,
each with its accepted spellings: in JSON a list of lists (``[["9,216", "9216"], ["B214"]]``), in CSV
one cell with facts separated by ``;`` and spellings by ``|`` (``9,216|9216; B214``). Validation never stops at the first problem: an instructor fixing a
spreadsheet wants every bad row at once, so ``load_faq`` collects ``(row, message)`` pairs and raises
one ``FAQFormatError``. Rows are 1-based data rows: the n-th record after the header in CSV, the n-th
line in JSONL (so an editor's "go to line" finds it). Row 0 means the whole file.

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable

from knowledge_base.loaders import read_text
from tutor.errors import FAQFormatError, IngestError

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("question", "answer")
OPTIONAL_COLUMNS = ("course", "source", "language", "answerable", "must_include")
CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}
# Magic numbers of formats people export by mistake, with what to do instead.
BINARY_HINTS = {
    b"PK\x03\x04": "it looks like an Excel/ZIP file: save the sheet as 'CSV UTF-8' and load that",
    b"%PDF": "it looks like a PDF: add it as a course document, or write the FAQ as CSV",
    b"\xd0\xcf\x11\xe0": "it looks like an old Excel/Word file: save the sheet as 'CSV UTF-8'",
}
TEXT_ADVICE = "save the FAQ as CSV UTF-8 or JSONL"


@dataclass
class FAQEntry:
    """One question/answer pair. ``row`` is where it came from (for messages), ``id`` its database id."""

    question: str
    answer: str
    course: str | None = None
    source: str | None = None
    language: str | None = None
    answerable: bool = True
    row: int = 0
    id: int | None = None
    must_include: tuple[tuple[str, ...], ...] = ()  # key facts, each with accepted spellings (evaluation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FAQLimits:
    """Bounds that keep one bad upload from filling the database or the training set.

    The answer limit is generous (a worked answer with code fits) while still far below what a
    135M-parameter model could learn to produce; the file limit stops a mistaken multi-GB upload
    before it is read into memory.
    """

    max_question_chars: int = 2000
    max_answer_chars: int = 8000
    max_rows: int = 100_000
    max_file_mb: float = 50.0
    control_char_ratio: float = 0.01  # more unprintable characters than this: treat as binary


# ---------------------------------------------------------------------------------------------------
# loading


def load_faq(path: str | os.PathLike, limits: FAQLimits = FAQLimits()) -> list[FAQEntry]:
    """Read and validate an FAQ file; raise ``FAQFormatError`` listing every problem with its row."""
    path = Path(path)
    text = _read_text(path, limits)
    fmt, delimiter = _detect_format(path, text)
    problems: list[tuple[int, str]] = []
    if fmt == "csv":
        records = _csv_records(text, delimiter, problems, path, limits)
    else:
        records = _jsonl_records(text, problems, path, limits)

    entries: list[FAQEntry] = []
    for row, raw in records:
        entry = _validate_record(row, raw, problems, limits, words_ok=fmt == "csv")
        if entry is not None:
            entries.append(entry)
    if not records and not problems:
        problems.append((0, "the file has no FAQ rows (expected at least one question/answer pair)"))
    _check_duplicates(entries, problems)
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


def _csv_records(text: str, delimiter: str, problems: list, path: Path,
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


def _jsonl_records(text: str, problems: list, path: Path,
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


def _objects_only(items: Iterable[tuple[int, Any]], problems: list) -> list[tuple[int, dict]]:
    records = []
    for row, item in items:
        if isinstance(item, dict):
            records.append((row, item))
        else:
            problems.append((row, f"expected a JSON object, got {_type_name(item)}"))
    return records


def _validate_record(row: int, raw: dict[str, Any], problems: list, limits: FAQLimits,
                     words_ok: bool = False) -> FAQEntry | None:
    """One record -> ``FAQEntry``, or None after appending this row's problems. ``words_ok``: a CSV
    cell can only be text, so there ``answerable`` may be true/false/yes/no/1/0; JSON has booleans."""
    before = len(problems)

    def bad(msg: str) -> None:
        problems.append((row, msg))

    answerable = _parse_answerable(raw.get("answerable"), words_ok, bad)
    if "messages" in raw:
        question, answer = _from_messages(raw["messages"], answerable is False, bad)
        if question is None:
            return None
    else:
        for key in REQUIRED_COLUMNS:
            if key not in raw and not (key == "answer" and answerable is False):
                bad(f"missing '{key}' (expected keys 'question' and 'answer', or 'messages')")
        question = _text_field(raw, "question", bad)
        answer = _text_field(raw, "answer", bad)
    extras = {key: _text_field(raw, key, bad) for key in ("course", "source", "language")}
    must_include = _parse_must_include(raw.get("must_include"), bad)
    if len(problems) > before:
        return None

    question, answer = (question or "").strip(), (answer or "").strip()
    if not question:
        bad("empty question")
    elif len(question) > limits.max_question_chars:
        bad(f"question is {len(question)} characters, the limit is {limits.max_question_chars} "
            "(FAQLimits.max_question_chars)")
    if not answer and answerable is not False:
        bad("empty answer (write the answer, or set answerable to false for a question the tutor "
            "should refuse)")
    elif len(answer) > limits.max_answer_chars:
        bad(f"answer is {len(answer)} characters, the limit is {limits.max_answer_chars} "
            "(FAQLimits.max_answer_chars)")
    if len(problems) > before:
        return None
    language = extras["language"].strip().lower() if extras["language"] else None
    return FAQEntry(
        question=question,
        answer=answer,
        course=(extras["course"] or "").strip() or None,
        source=(extras["source"] or "").strip() or None,
        language=language or None,
        answerable=answerable is not False,
        row=row,
        must_include=must_include,
    )


def _parse_must_include(value: Any, bad) -> tuple[tuple[str, ...], ...]:
    """``[["9,216", "9216"], ["B214"]]`` (JSON) or ``"9,216|9216; B214"`` (CSV) -> tuple of spelling tuples."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [[alt for alt in fact.split("|")] for fact in value.split(";")]
    if not isinstance(value, list) or not all(isinstance(f, list) and f and all(isinstance(a, str) for a in f) for f in value):
        bad("'must_include' must be a list of lists of strings (JSON) or 'a|b; c' (CSV)")
        return ()
    facts = tuple(tuple(a.strip() for a in fact if a.strip()) for fact in value)
    return tuple(f for f in facts if f)


def _text_field(raw: dict, key: str, bad) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    bad(f"'{key}' must be a string, got {_type_name(value)}")
    return None


def _parse_answerable(value: Any, words_ok: bool, bad) -> bool | None:
    """A boolean, or (CSV only) the words a spreadsheet writes; None/empty = unset (answerable)."""
    if value is None or isinstance(value, bool):
        return value
    if words_ok and isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return None
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    bad(f"'answerable' must be true or false, got {value!r}")
    return None


def _from_messages(messages: Any, unanswerable: bool, bad) -> tuple[str | None, str | None]:
    """(first user turn, last assistant turn) of a chat; the layout is [system*] user (assistant|user)*
    ending in assistant. A refusal row (``answerable: false``) may omit the assistant turn."""
    if not isinstance(messages, list) or not messages:
        bad(f"'messages' must be a non-empty list of {{role, content}} objects, got {_type_name(messages)}")
        return None, None
    roles = []
    for i, m in enumerate(messages, start=1):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            bad(f"message {i} must be an object with 'role' and 'content'")
            return None, None
        if m["role"] not in ("system", "user", "assistant"):
            bad(f"message {i} has unknown role {m['role']!r} (expected system, user or assistant)")
            return None, None
        if not isinstance(m.get("content"), str):
            bad(f"message {i} ('{m['role']}') content must be a string, got {_type_name(m.get('content'))}")
            return None, None
        roles.append(m["role"])
    first_user = roles.index("user") if "user" in roles else -1
    if first_user < 0:
        bad("unknown role layout: no 'user' message (expected [system] user assistant)")
        return None, None
    if "system" in roles[first_user:]:
        bad("unknown role layout: a 'system' message after the first 'user' message "
            "(expected [system] user assistant)")
        return None, None
    if roles[-1] != "assistant" and not (unanswerable and "assistant" not in roles):
        bad(f"unknown role layout: the last message is '{roles[-1]}', expected 'assistant' "
            "(the answer)")
        return None, None
    answer = messages[-1]["content"] if roles[-1] == "assistant" else ""
    return messages[first_user]["content"], answer


def _check_duplicates(entries: list[FAQEntry], problems: list) -> None:
    """Flag repeated questions (same course, same words ignoring case and spacing): two answers to one
    question make FAQ matching arbitrary and teach a fine-tuned model two targets."""
    seen: dict[tuple[str, str], int] = {}
    for e in entries:
        key = (e.course or "", normalize_question(e.question))
        if key in seen:
            problems.append((e.row, f"duplicate question: rows {seen[key]} and {e.row} ask the same "
                                    "question; keep one of them"))
        else:
            seen[key] = e.row


def normalize_question(text: str) -> str:
    """Case- and whitespace-insensitive form of a question, used for duplicate detection."""
    return " ".join(text.split()).casefold()


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


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
