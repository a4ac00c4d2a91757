"""Structure-aware chunking bounded by the embedder's token limit, with overlap.

Why this shape: a chunk never crosses a section (heading) or a PDF page, so its citation (section, page) is
exact; inside a section whole paragraphs are packed greedily; a paragraph too long for one chunk is split
into sentences, and a sentence still too long into token windows (from the tokenizer's offsets, so Chinese
without spaces works too). Sizes are counted with the embedder's own tokenizer: MiniLM silently truncates
after 256 tokens, and text it never sees can never be found. Consecutive chunks of a section share up to
``overlap_tokens`` of trailing units, so an answer straddling a boundary is whole in at least one chunk.

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


def _units(doc_text: str, start: int, end: int, counter: TokenCounter, max_tokens: int) -> list[tuple[int, int, int]]:
    """(start, end, tokens) units of one section: paragraphs, or sentences / token windows when too long."""
    units: list[tuple[int, int, int]] = []
    paras = _spans(doc_text[start:end], _PARA, start)
    for (ps, pe), n in zip(paras, counter.count_tokens([doc_text[s:e] for s, e in paras])):
        if n <= max_tokens:
            units.append((ps, pe, n))
            continue
        sents = _spans(doc_text[ps:pe], _SENT, ps)
        for (ss, se), m in zip(sents, counter.count_tokens([doc_text[s:e] for s, e in sents])):
            if m <= max_tokens:
                units.append((ss, se, m))
                continue
            windows = [(ss + a, ss + b) for a, b in counter.split_by_tokens(doc_text[ss:se], max_tokens - 8)]
            counts = counter.count_tokens([doc_text[a:b] for a, b in windows])
            units.extend((a, b, c) for (a, b), c in zip(windows, counts))
    return units


def chunk_key(doc_hash: str, start: int, end: int, text: str) -> str:
    """Stable chunk id: the same content in the same place gets the same id on every ingest."""
    return hashlib.sha1(f"{doc_hash}:{start}:{end}:{text}".encode()).hexdigest()[:16]


def chunk_document(doc: LoadedDocument, counter: TokenCounter, max_tokens: int = 200, overlap_tokens: int = 32,
                   doc_hash: str = "") -> list[Chunk]:
    """Chunks of ``doc``; see the module docstring for the rules."""
    chunks: list[Chunk] = []
    for sec in doc.sections:
        units = _units(doc.text, sec.start, sec.end, counter, max_tokens)
        cur: list[tuple[int, int, int]] = []

        def emit() -> None:
            s, e = cur[0][0], cur[-1][1]
            text = doc.text[s:e]
            chunks.append(Chunk(text, s, e, sec.heading, sec.page, len(chunks), sum(u[2] for u in cur),
                                chunk_key(doc_hash, s, e, text)))

        for unit in units:
            if cur and sum(u[2] for u in cur) + unit[2] > max_tokens:
                emit()
                carry: list[tuple[int, int, int]] = []
                for prev in reversed(cur):
                    if sum(u[2] for u in carry) + prev[2] > overlap_tokens:
                        break
                    carry.insert(0, prev)
                while carry and sum(u[2] for u in carry) + unit[2] > max_tokens:
                    carry.pop(0)
                cur = carry
            cur.append(unit)
        if cur:
            emit()
    return chunks
