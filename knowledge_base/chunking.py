"""Structure-aware chunking bounded by the embedder's token limit, with overlap.

Why this shape: a chunk never crosses a section (heading) or a PDF page, so its citation (section, page) is
exact; inside a section sentences are packed greedily, and a chunk preferably ends where a paragraph does
(if that leaves it at least half full); a sentence too long for one chunk is split into token windows (from
the tokenizer's offsets, so Chinese without punctuation works too). Sizes are counted with the embedder's own tokenizer: MiniLM silently truncates
after 256 tokens, and text it never sees can never be found. Consecutive chunks of a section share up to
``overlap_tokens`` of trailing sentences, so an answer straddling a boundary is whole in at least one chunk.

A chunk's text is exactly ``doc.text[start:end]``; its id is a hash of the document hash and that span.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol

from knowledge_base.loaders import LoadedDocument

class TokenCounter(Protocol):
    def count_tokens(self, texts: list[str]) -> list[int]: ...
    def split_by_tokens(self, text: str, max_tokens: int) -> list[tuple[int, int]]: ...


@dataclass
class Chunk:
    text: str
    start: int
    end: int
    section: str | None
    page: int | None
    ordinal: int
    tokens: int
    key: str = ""


_PARA = re.compile(r"\n\s*\n")
# Sentence ends: Latin . ! ? followed by space, or CJK 。！？； (no space needed), or a single newline.
_SENT = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])|\n")


def _spans(text: str, pattern: re.Pattern, offset: int) -> list[tuple[int, int]]:
    """Non-blank pieces of ``text`` between separator matches, as absolute (start, end), stripped."""
    out, pos = [], 0
    for m in list(pattern.finditer(text)) + [None]:
        end = m.start() if m else len(text)
        piece = text[pos:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            out.append((offset + pos + lead, offset + pos + len(piece.rstrip())))
        if m:
            pos = m.end()
    return out


def _units(doc_text: str, start: int, end: int, counter: TokenCounter, max_tokens: int) -> list[tuple[int, int, int, bool]]:
    """(start, end, tokens, starts_paragraph) sentence units of one section; over-long sentences become
    token windows."""
    spans: list[tuple[int, int, bool]] = []
    for ps, pe in _spans(doc_text[start:end], _PARA, start):
        spans += [(ss, se, i == 0) for i, (ss, se) in enumerate(_spans(doc_text[ps:pe], _SENT, ps))]
    units: list[tuple[int, int, int, bool]] = []
    for (ss, se, first), n in zip(spans, counter.count_tokens([doc_text[s:e] for s, e, _ in spans])):
        if n <= max_tokens:
            units.append((ss, se, n, first))
            continue
        windows = [(ss + a, ss + b) for a, b in counter.split_by_tokens(doc_text[ss:se], max_tokens - 8)]
        counts = counter.count_tokens([doc_text[a:b] for a, b in windows])
        units.extend((a, b, c, first and i == 0) for i, ((a, b), c) in enumerate(zip(windows, counts)))
    return units


def chunk_key(doc_hash: str, start: int, end: int, text: str) -> str:
    """Stable chunk id: the same content in the same place gets the same id on every ingest."""
    return hashlib.sha1(f"{doc_hash}:{start}:{end}:{text}".encode()).hexdigest()[:16]


def chunk_document(doc: LoadedDocument, counter: TokenCounter, max_tokens: int = 200, overlap_tokens: int = 32,
                   doc_hash: str = "") -> list[Chunk]:
    """Chunks of ``doc``; see the module docstring for the rules."""
    chunks: list[Chunk] = []

    def size(units) -> int:
        return sum(u[2] for u in units)

    for sec in doc.sections:
        cur: list[tuple[int, int, int, bool]] = []

        def emit(units) -> None:
            s, e = units[0][0], units[-1][1]
            text = doc.text[s:e]
            chunks.append(Chunk(text, s, e, sec.heading, sec.page, len(chunks), size(units),
                                chunk_key(doc_hash, s, e, text)))

        for unit in _units(doc.text, sec.start, sec.end, counter, max_tokens):
            while cur and size(cur) + unit[2] > max_tokens:
                # Break at the last paragraph start that leaves the chunk at least half full, else here.
                cut = next((i for i in range(len(cur) - 1, 0, -1) if cur[i][3] and size(cur[:i]) >= max_tokens // 2),
                           len(cur))
                head, rest = cur[:cut], cur[cut:]
                emit(head)
                carry: list[tuple[int, int, int, bool]] = []
                for prev in reversed(head[1:]):  # never carry the whole previous chunk
                    if size(carry) + prev[2] > overlap_tokens:
                        break
                    carry.insert(0, prev)
                cur = carry + rest
                while carry and size(cur) + unit[2] > max_tokens:
                    carry.pop(0)
                    cur = carry + rest
            cur.append(unit)
        if cur:
            emit(cur)
    return chunks
