"""Passages picked by meaning: the course sentence to quote, and the sentences of each excerpt to prompt with.

Both embed sentences with the knowledge base's embedder (the same vectors retrieval uses), so what is quoted or
kept is what is closest to the question, in any language the embedder reads.
"""

from __future__ import annotations

from tutor.evidence import split_sentences, table_header, unwrap


def best_passage(question: str, text: str, embedder, max_sentences: int = 2) -> str:
    """The sentence of ``text`` closest to ``question`` (embedder cosine), with its neighbour when short."""
    sentences = [x for x in split_sentences(unwrap(text)) if not x.startswith("#")] or [text.strip()]  # no headings
    scores = closeness(question, sentences, embedder)
    best = scores.index(max(scores))
    chosen = sentences[best]
    if max_sentences > 1 and len(chosen) < 80 and best + 1 < len(sentences):
        chosen = f"{chosen} {sentences[best + 1]}"
    return chosen


def closeness(question: str, sentences: list[str], embedder) -> list[float]:
    """Cosine of each sentence to ``question`` (the question as a query, the sentences as passages)."""
    return (embedder.encode_sentences(sentences) @ embedder.encode_query(question)).tolist()


def focus_excerpts(query: str, texts: list[str], embedder, max_chars: int) -> list[str]:
    """Each text cut to its sentences closest to ``query`` (kept in their order), about ``max_chars`` long.

    Prefill is most of an answer's time on a CPU (a 1.5B model reads ~40-90 tokens/s on 2 cores), and
    the answer to a question is almost always in two or three sentences of a 200-token chunk. One batch of
    sentence embeddings picks them; the neighbours of the best sentence come first so a sentence that
    continues another keeps its subject. Texts already short enough are left as they are.
    """
    texts = [unwrap(t) if len(t) > max_chars else t for t in texts]
    split = [split_sentences(t) if len(t) > max_chars else [] for t in texts]
    flat = [s for sentences in split for s in sentences]
    if not flat:
        return list(texts)
    # The question as a query (the vector retrieval already computed, cached), the sentences as passages:
    # asymmetric embedders (EmbeddingGemma) are trained on exactly that pairing, across languages too.
    scores = iter((embedder.encode_sentences(flat) @ embedder.encode_query(query)).tolist())
    out = []
    for text, sentences in zip(texts, split):
        if not sentences:
            out.append(text)
            continue
        sims = [next(scores) for _ in sentences]
        best = max(range(len(sentences)), key=sims.__getitem__)
        order = [best, best - 1, best + 1] + sorted(range(len(sentences)), key=lambda i: -sims[i])
        keep, used = set(), 0
        for i in order:
            if 0 <= i < len(sentences) and i not in keep and (not keep or used + len(sentences[i]) <= max_chars):
                keep.add(i)
                used += len(sentences[i]) + 1
        picked = sorted(keep | _table_headers(sentences, keep))
        breaks = _line_breaks(text, sentences)
        out.append("".join(("" if j == 0 else " ... " if i != picked[j - 1] + 1 else "\n" if breaks[i] else " ")
                           + sentences[i] for j, i in enumerate(picked)))
    return out


def _table_headers(sentences: list[str], keep: set[int]) -> set[int]:
    """The header and separator rows of each table that a kept row belongs to. A row cut from its header
    reads as bare cells: "| 10 | Project work and consultations |" became "the 10th day of the week" in a
    French answer about the labs; under "| Week | Topic |" it is week 10."""
    headers = {table_header(sentences, i) for i in keep} - {None}
    return headers | {h + 1 for h in headers}


def _line_breaks(text: str, sentences: list[str]) -> list[bool]:
    """For each sentence of ``text``, whether a line break precedes it: a table row or a list item stays on
    its own line when sentences are cut out (joined by spaces, "| Final project | 35% |" rows ran together)."""
    out, pos = [], 0
    for sentence in sentences:
        start = text.find(sentence, pos)
        if start < 0:
            out.append(False)
            continue
        out.append("\n" in text[pos:start] and pos > 0)
        pos = start + len(sentence)
    return out
