"""Which language a student wrote in, so the tutor answers (and refuses) in it.

Short questions are the hard case: "what is RRF?" carries a handful of letters, and a question often names
its topic in the course's terms. Detection, cheapest and surest first:

1. Script: kana -> ``ja``, hangul -> ``ko``, any CJK ideograph -> ``zh``. The ideographs alone decide,
   because a Chinese question that names an English term ("什么是 BM25?") is still a Chinese question.
2. Fewer than ``min_letters`` letters ("RRF?") -> the fallback: too little to judge.
3. Names and terms are set aside: a word written with a capital inside it or all in capitals (LoRA, MRR,
   SwiGLU), holding a digit (BM25, GPT-2), or capitalised after the first word (Temüjin, Mean Reciprocal
   Rank) belongs to no language, and such words pulled short questions to Tagalog, Xhosa or English. This
   is orthography, not a word list: it does nothing in scripts without case. When fewer than
   ``min_letters`` letters are left, the whole text is judged.
4. lingua-language-detector, a detector built for short text (character 1- to 5-gram models of 75
   languages plus rules for unique letters), over every language it knows except the ones in ``exclude``
   (Latin and Esperanto: no student writes them, and they won short English questions such as "What is
   septicemia?"). Its best language must reach ``min_confidence``, else the fallback.

Chosen by measurement (``python bench/language.py``; figures in docs/benchmarks.md) over XQuAD questions in 12
languages, the regression set and hand-written short questions, against langdetect and against the
function-word tables this module held before (which knew five languages and answered Greek, Romanian and
Thai questions in English). The models load once per process, on first use (~1 GB, ~10 s on 2 cores).
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from basics.text import HAN_CHAR, HANGUL_CHAR, KANA_CHAR

log = logging.getLogger(__name__)

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_PUNCTUATION = "¿¡?!.,:;()[]{}\"'«»„“”‘’「」"


def _name_like(word: str, first: bool) -> bool:
    """A name or a term: a digit in it, a capital inside it (LoRA), all capitals (MRR), or a capital
    initial anywhere but at the start of the text."""
    core = word.strip(_PUNCTUATION)
    if not core:
        return False
    if any(c.isdigit() for c in core) or any(c.isupper() for c in core[1:]):
        return True
    return not first and core[0].isupper()


def without_names(text: str) -> str:
    """``text`` without its name-like words (see the module docstring, step 3)."""
    words = text.split()
    return " ".join(w for i, w in enumerate(words) if not _name_like(w, i == 0))


@dataclass
class LanguageConfig:
    """Knobs for ``detect_language``; defaults chosen on bench/language.py's sets."""

    fallback: str = field(default="en", metadata={"help": "Language when the text carries too little signal."})
    min_letters: int = field(default=5, metadata={"help": "Fewer letters than this (non-CJK) -> fallback."})
    min_confidence: float = field(default=0.05, metadata={"help": "lingua confidence floor for its best language."})
    exclude: tuple[str, ...] = field(default=("la", "eo"), metadata={"help": "ISO 639-1 codes never returned (languages "
                                     "no student writes in, which otherwise win some short questions)."})
    candidates: tuple[str, ...] | None = field(default=None, metadata={"help": "Only these ISO 639-1 codes (None: every "
                                               "language lingua knows but ``exclude``); others fall back."})


_BUILD_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _detector(exclude: tuple[str, ...]):
    """lingua's detector over every language but ``exclude``, models preloaded (built once per process)."""
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    with _BUILD_LOCK:
        excluded = {Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in exclude}
        languages = [lang for lang in Language.all() if lang not in excluded]
        return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()


def language_name(code: str) -> str:
    """English name of a language code, for prompts (``zh`` -> ``Chinese``), from CLDR's locale data (Babel):
    small models follow a language name better than a code. The code itself if CLDR does not know it."""
    from babel import Locale

    return Locale("en").languages.get(code, code)


def detect_language(text: str, config: LanguageConfig | None = None) -> str:
    """ISO 639-1 code of ``text`` (``zh`` for any Chinese variant); deterministic; never raises."""
    config = config or LanguageConfig()
    text = text or ""
    for script, code in ((KANA_CHAR, "ja"), (HANGUL_CHAR, "ko"), (HAN_CHAR, "zh")):
        if script.search(text):
            return code if config.candidates is None or code in config.candidates else config.fallback
    if len(_LETTER.findall(text)) < config.min_letters:
        return config.fallback
    words = without_names(text)
    if len(_LETTER.findall(words)) >= config.min_letters:
        text = words
    try:
        ranked = _detector(tuple(sorted(config.exclude))).compute_language_confidence_values(text)
    except Exception:  # noqa: BLE001 - a detector failure must not fail the answer: fall back, and say so
        log.exception("language detection failed on %r", text[:60])
        return config.fallback
    if not ranked or ranked[0].value < config.min_confidence:
        log.debug("language of %r uncertain: using %s", text[:60], config.fallback)
        return config.fallback
    code = ranked[0].language.iso_code_639_1.name.lower()
    return code if config.candidates is None or code in config.candidates else config.fallback


def entry_language(entry) -> str:
    """An FAQ entry's language: the row's language column, else detected from its question."""
    return entry.language or detect_language(entry.question)
