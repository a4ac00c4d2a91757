"""What a question asks, read without a model: its content terms, its symbols, and whether it is a follow-up.

The engine uses these to match FAQ entries (terms and symbols must agree, not only embeddings), to pick the
citations of an answer without [n] markers, and to fold a follow-up into a standalone retrieval query.
"""

from __future__ import annotations

import re

from basics.text import HAN_CHAR, HAN_KANA_RUN, STOPWORDS, is_cjk_run, words
from basics.language import LanguageConfig, detect_language, entry_language

# Words that make a question lean on the previous turn ("how is *it* trained?", "and *that* one?").
_FOLLOWUP_WORDS = {
    "it", "its", "it's", "they", "them", "their", "these", "those", "he", "she", "his", "her", "former", "latter",
    "它", "它的", "它们", "ello", "eso", "cela", "ça", "dessen", "deren",
}
# Openers of a question that continues the previous one ("and the alpha?", "what about rank 16?").
_OPENERS = {"and", "also", "what about", "how about", "why", "so", "then", "y", "und", "et", "那", "那么"}
# Words of short questions that name no topic ("why?", "give an example", "explain more").
_GENERIC_TERMS = {"example", "examples", "explain", "more", "detail", "details", "mean", "means", "give", "show",
                  "again", "please", "elaborate", "why", "simpler", "shorter", "longer"}


def terms(text: str) -> set[str]:
    """Content terms for overlap checks: lower-cased words minus stopwords, plus CJK character bigrams."""
    out = {w for w in words(text) if not is_cjk_run(w) and w not in STOPWORDS and len(w) > 1}
    for run in HAN_KANA_RUN.findall(text):
        out.update(run[i : i + 2] for i in range(max(1, len(run) - 1)))
    return out


# The symbols of a question: a lone capital letter (matrix A), a number, a code (q_proj, B214). Two questions
# that differ in one of them ask different things however close their embeddings ("Why is the LoRA matrix A
# initialised to zero?" is a trap; the FAQ answers it for B).
_SYMBOL = re.compile(r"(?<![A-Za-z0-9_.])(?:[A-Z]|\d+(?:[.,]\d+)?|(?=[A-Za-z_]*\d)[A-Za-z0-9_]+)(?![A-Za-z0-9_])")


def symbols(text: str) -> set[str]:
    """Lone capital letters, numbers and codes of ``text`` ("I" and a sentence-opening "A" are words)."""
    return {m.group() for m in _SYMBOL.finditer(text.strip()) if m.group() != "I" and (m.start() or len(m.group()) > 1)}


def leaned_on(question: str, history: list[dict], max_words: int = 4, language_config: LanguageConfig | None = None) -> str | None:
    """The previous user question when ``question`` is a follow-up of it, else None; read without an LLM call.

    A follow-up ("and how is it trained?") retrieves nothing useful alone. Rewriting it with the model
    would cost a second generation (seconds on 2 cores); the previous question's topic words are free and
    deterministic, and they are what dense and BM25 retrieval need. A question is a follow-up only when it
    leans on the previous turn:

    - it is in the same language as the previous question (a switch of language starts a new question:
      "¿Qué es la tokenización?" after an English question is not about the English one), and
    - it has a pronoun or opener that points back ("it", "they", "它", "and ...", "what about ..."), in
      a question under three times ``max_words``, or it is at most ``max_words`` words and names no topic
      of its own ("Why?", "Give an example").
    """
    previous = [t["content"] for t in history if t.get("role") == "user" and t.get("content")]
    if not previous:
        return None
    language = detect_language(question, language_config)
    fallback = (language_config or LanguageConfig()).fallback
    if language != fallback and language != detect_language(previous[-1], language_config):
        return None  # a switch of language (short text falls back to English and proves nothing)
    said = words(question)
    n_words = len(said) + len(HAN_CHAR.findall(question)) // 2
    leans = (any(w in _FOLLOWUP_WORDS for w in said) or any(p in question for p in ("它", "这个", "那个"))
             or (said[:1] and said[0] in _OPENERS) or " ".join(said[:2]) in _OPENERS)
    own_topic = bool(terms(question) - _GENERIC_TERMS)
    if (leans and n_words <= 3 * max_words) or (n_words <= max_words and not own_topic):
        return previous[-1].strip()
    return None


def standalone_query(question: str, history: list[dict], max_words: int = 4, language_config: LanguageConfig | None = None) -> str:
    """The question made self-contained for retrieval: a follow-up (``leaned_on``) is prefixed with the
    question it leans on ("What is LoRA? What rank is typical for it?"); any other question is left alone."""
    return fold(question, leaned_on(question, history, max_words, language_config))


def fold(question: str, previous: str | None) -> str:
    """The retrieval query of ``question``: prefixed with the question it leans on, if any."""
    return f"{previous} {question.strip()}" if previous else question


def followup_prompt(question: str, previous: str) -> str:
    """The question the model is asked for a follow-up: the student's own question first, the one it leans
    on after it. Asked the folded query ("What is LoRA? What rank is typical for it?") the 1.5B answered the
    first question it read, a definition of LoRA, and not the rank."""
    return f"{question.strip()}\n(This follows the earlier question: {previous})"


def close_faq(question: str, match, language: str, threshold: float, min_overlap: float, multilingual: bool):
    """The FAQ match ``(entry, score)`` when it is close enough: cosine >= ``threshold`` and enough shared terms.

    The overlap check exists because embedders crowd near-identical questions that differ in the one
    word that matters ("rank" vs "alpha" of LoRA), and MiniLM embeds scripts it was not trained on
    (Chinese) into one crowded region. Across languages no words are shared: there a multilingual
    embedder's cosine decides alone (``multilingual``), and an English-only one never matches. In any language
    the two must name the same symbols (matrix A vs B, rank 8 vs 16).
    """
    if match is None:
        return None
    entry, score = match
    if score < threshold or symbols(entry.question) != symbols(question):
        return None
    if entry_language(entry) != language:
        return (entry, score) if multilingual else None
    wanted = terms(entry.question)
    if wanted and len(wanted & terms(question)) / len(wanted) < min_overlap:
        return None
    return entry, score
