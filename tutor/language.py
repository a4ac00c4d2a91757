"""Which language a student wrote in, so the tutor answers (and refuses) in it.

langdetect is a character n-gram naive Bayes model: good on paragraphs, unreliable on the five-word
questions students actually type ("what is RRF?" comes back as Catalan or Somali). So detection is
layered, cheapest and surest first:

1. Script: any CJK ideograph -> ``zh`` (kana -> ``ja``, hangul -> ``ko``); the ideographs alone decide,
   because a Chinese question that names an English term ("什么是 BM25?") is still a Chinese question.
2. An inverted question or exclamation mark (¿ ¡) -> ``es``: only Spanish writes one.
3. Function words: a question names its topic in the course's terms ("Was misst der Mean Reciprocal Rank
   (MRR)?" is half English words, and langdetect calls it English), but its small words are the student's
   language. When at least two function words of one language outnumber the English ones, that language;
   two English ones and none of another language, English. This runs on short text too ("Was ist LoRA?").
4. Very short Latin text (fewer than ``min_chars`` letters) -> the fallback (``en``): too little signal.
5. langdetect, seeded (``DetectorFactory.seed = 0``) so the same question always gets the same answer,
   restricted to a candidate set of languages we expect in a course; the best candidate must reach
   ``min_probability`` or we fall back to ``en``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from basics.text import HAN_CHAR, HANGUL_CHAR, KANA_CHAR

log = logging.getLogger(__name__)

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)

# Names for the system prompt ("Answer in Chinese."): small models follow a language name better than a code.
LANGUAGE_NAMES = {
    "en": "English", "zh": "Chinese", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "ja": "Japanese", "ko": "Korean", "ar": "Arabic",
    "tr": "Turkish", "pl": "Polish", "vi": "Vietnamese", "id": "Indonesian", "hi": "Hindi", "uk": "Ukrainian",
    "sv": "Swedish",
}


# Small words that name no topic; ones shared by two of these languages ("die", "es", "de", "en") are left out
# ("was" counts for German: an English "was" comes with English words that outvote it).
FUNCTION_WORDS = {
    "en": set("the what is are how why when which does do of to a an for with and can i my this that it where who "
              "were did has have been being from by".split()),
    "de": set("was der das ist sind wie wann warum welche welcher welches wird werden und nicht ein eine einen mit "
              "für von im auf den dem des zu bei kann muss wo wer mein meine ich statt finden findet gibt habe hat "
              "bis oder auch viele".split()),
    "es": set("qué cómo cuál cuáles cuándo dónde por para el los las es son del una y se puedo mi cuánto "
              "cuántos hay está están tengo".split()),
    "fr": set("qu'est-ce est que quel quelle quels quelles les des le du une pour dans comment pourquoi quand où "
              "avec sur je mon ma puis-je combien ont lieu sont a-t-il".split()),
}
_INVERTED = re.compile(r"[¿¡]")  # only Spanish opens a question with "¿": "¿Qué es LoRA?" is too short for the rest
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?(?:-[^\W\d_]+)*", re.UNICODE)
# A verb joined to its subject pronoun ("a-t-il", "peut-on", "puis-je", "est-ce") is an inversion only French
# writes: it counts as two function words, so "Y a-t-il un examen final ?" is French though "y" is Spanish too.
_FRENCH_INVERSION = re.compile(r"^[^\W\d_]+-(?:t-)?(?:il|elle|on|ils|elles|je|tu|nous|vous|ce)$")


def _by_function_words(text: str, candidates: tuple[str, ...]) -> str | None:
    words = [w.lower() for w in _WORDS.findall(text)]
    counts = {lang: sum(w in vocab for w in words) for lang, vocab in FUNCTION_WORDS.items() if lang in candidates}
    if "fr" in counts:
        counts["fr"] += 2 * sum(bool(_FRENCH_INVERSION.match(w)) for w in words)
    english = counts.pop("en", 0)
    best = max(counts, key=counts.get, default=None)
    if best is not None and counts[best] >= 2 and counts[best] > english \
            and sum(c == counts[best] for c in counts.values()) == 1:
        return best
    if english >= 2 and not any(counts.values()) and "en" in candidates:
        return "en"  # "How does SentencePiece represent spaces?": langdetect said Spanish
    return None


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
    if KANA_CHAR.search(text):
        return "ja"
    if HANGUL_CHAR.search(text):
        return "ko"
    if HAN_CHAR.search(text):
        return "zh"
    if _INVERTED.search(text) and "es" in config.candidates:
        return "es"
    by_words = _by_function_words(text, config.candidates)  # also on short text: "Was ist LoRA?"
    if by_words:
        return by_words
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
