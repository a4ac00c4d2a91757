"""Where a citation comes from: the cited passage in its document, found by its chunk key alone.

A citation carries the key of the chunk it quotes (``Citation.chunk_id``: 16 hex digits, the same for the same
passage of the same file on every ingest, and what kept conversations hold). ``cited_passage`` turns a key into
what the source viewer shows:

* the passage's **context**: the text of its section (Markdown, HTML, DOCX: the heading it sits under; TXT:
  the whole text; PDF: its page), stitched back from the document's stored chunks, which overlap and together
  cover every section; where two chunks do not touch (rare: a long sentence split at a window), the whitespace
  between them is not stored and a blank line or space stands in for it;
* where the passage lies in that context, so it can be marked;
* for a paged document (PDF), the kept original file (``originals.py``), verified against the document's hash,
  so the viewer can draw the page itself (``pdf_pages.py``).

Only what the knowledge base holds can come out of here: a key selects chunk rows, and a kept file is named by
the integer id of their document. A key nothing has (a deleted or replaced document) gives None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from basics.db import Database
from knowledge_base import store
from knowledge_base.originals import Originals

KEY = re.compile(r"[0-9a-f]{16}")  # what ``chunking.chunk_key`` makes: nothing else is ever looked up


@dataclass
class CitedPassage:
    """A cited chunk in its document. ``context[mark_start:mark_end]`` is the passage; ``original`` is the kept
    file of a paged document (None: not kept, see ``original_missing``)."""

    key: str
    course: str
    doc_id: int
    document: str
    title: str | None
    section: str | None
    page: int | None
    text: str
    context: str
    mark_start: int
    mark_end: int
    original: bytes | None = None

    @property
    def paged(self) -> bool:
        """A document with pages (PDF): shown as its page, not as text."""
        return self.page is not None

    @property
    def original_missing(self) -> bool:
        """A paged document whose file was not kept (added before originals were kept, or the file is gone)."""
        return self.paged and self.original is None


def is_key(key: object) -> bool:
    """True for a string shaped like a chunk key (checked before anything is looked up)."""
    return isinstance(key, str) and KEY.fullmatch(key) is not None


def cited_passage(db: Database, originals: Originals, key: str) -> CitedPassage | None:
    """The chunk with key ``key`` in its section (see the module docstring); None when no chunk has that key.
    Raises ``ValueError`` for a ``key`` that is not shaped like a chunk key."""
    if not is_key(key):
        raise ValueError(f"not a passage id: {key!r}")
    rows = store.passage_rows(db, key)
    at = next((i for i, r in enumerate(rows) if r["chunk_key"] == key), None)
    if at is None:
        return None
    cited = rows[at]
    run = _same_place(rows, at)
    context, spans = _stitch([(r["start"], r["end"], r["text"]) for r in run])
    start, end = spans[run.index(cited)]
    original = originals.read(cited["doc_id"], cited["hash"]) if cited["page"] is not None else None
    return CitedPassage(key, cited["course"], int(cited["doc_id"]), cited["document"], cited["title"],
                        cited["section"], cited["page"], cited["text"], context, start, end, original)


def _same_place(rows: list, at: int) -> list:
    """The run of chunks around ``rows[at]`` (rows in reading order) with its section and page: the chunks of
    one section or one PDF page."""
    place = (rows[at]["section"], rows[at]["page"])
    first = last = at
    while first > 0 and (rows[first - 1]["section"], rows[first - 1]["page"]) == place:
        first -= 1
    while last + 1 < len(rows) and (rows[last + 1]["section"], rows[last + 1]["page"]) == place:
        last += 1
    return rows[first:last + 1]


def _stitch(pieces: list[tuple[int, int, str]]) -> tuple[str, list[tuple[int, int]]]:
    """One text from chunks ``(start, end, text)`` in reading order (offsets into the loaded document), with
    each chunk's span in it. Overlapping chunks share their common text once; a gap between two chunks (its
    characters are not stored, and were whitespace) becomes a blank line when it was two or more characters,
    else a space."""
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    length, reached = 0, None
    for start, end, text in pieces:
        if reached is not None and start < reached:  # overlap: only the part past what is already there
            begin = length - (reached - start)
            new = text[reached - start:] if end > reached else ""
        else:
            gap = "" if reached is None or start == reached else "\n\n" if start - reached >= 2 else " "
            out.append(gap)
            begin = length = length + len(gap)
            new = text
        out.append(new)
        length += len(new)
        spans.append((begin, begin + len(text)))
        reached = end if reached is None else max(reached, end)
    return "".join(out), spans
