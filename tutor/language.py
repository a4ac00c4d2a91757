"""Which language a student wrote in, so the tutor answers (and refuses) in it.

langdetect is a character n-gram naive Bayes model: good on paragraphs, unreliable on the five-word
questions students actually type ("what is RRF?" comes back as Catalan or Somali). So detection is
layered, cheapest and surest first:

1. Script: any CJK ideograph -> ``zh`` (kana -> ``ja``, hangul -> ``ko``); the ideographs alone decide,
   because a Chinese question that names an English term ("什么是 BM25?") is still a Chinese question.
2. Very short Latin text (fewer than ``min_chars`` letters) -> the fallback (``en``): too little signal.
3. langdetect, seeded (``DetectorFactory.seed = 0``) so the same question always gets the same answer,
   restricted to a candidate set of languages we expect in a course; the best candidate must reach
   ``min_probability`` or we fall back to ``en``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)

# Names for the system prompt ("Answer in Chinese."): small models follow a language name better than a code.
LANGUAGE_NAMES = {
    "en": "English", "zh": "Chinese", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "ja": "Japanese", "ko": "Korean", "ar": "Arabic",
    "tr": "Turkish", "pl": "Polish", "vi": "Vietnamese", "id": "Indonesian", "hi": "Hindi", "uk": "Ukrainian",
    "sv": "Swedish",
}


@dataclass
class LanguageConfig:
    """Knobs for ``detect_language``; defaults tuned on short course questions."""

    fallback: str = field(default="en", metadata={"help": "Language when the text carries too little signal."})
    min_chars: int = field(default=12, metadata={"help": "Fewer letters than this (non-CJK) -> fallback."})
    min_probability: float = field(default=0.6, metadata={"help": "langdetect probability floor for its best candidate."})
    candidates: tuple[str, ...] = field(
        default=tuple(LANGUAGE_NAMES),
        metadata={"help": "Languages we accept from langdetect; others are noise on short text."},
    )


def language_name(code: str) -> str:
    """Human name of a language code, for prompts (``zh`` -> ``Chinese``); the code itself if unknown."""
    return LANGUAGE_NAMES.get(code, code)


def detect_language(text: str, config: LanguageConfig | None = None) -> str:
    """ISO 639-1 code of ``text`` (``zh`` for any Chinese variant); deterministic; never raises."""
    config = config or LanguageConfig()
    text = text or ""
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if _HAN.search(text):
        return "zh"
    if len(_LETTER.findall(text)) < config.min_chars:
        return config.fallback
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0  # langdetect samples n-grams at random; a fixed seed makes results repeat
    try:
        guesses = detect_langs(text)
    except LangDetectException:
        return config.fallback
    for guess in guesses:  # sorted by probability, best first
        code = "zh" if guess.lang.startswith("zh") else guess.lang
        if code in config.candidates:
            if guess.prob >= config.min_probability:
                return code
            break
    log.debug("language of %r uncertain (%s): using %s", text[:60], guesses, config.fallback)
    return config.fallback


def entry_language(entry) -> str:
    """An FAQ entry's language: the row's language column, else detected from its question."""
    return entry.language or detect_language(entry.question)
