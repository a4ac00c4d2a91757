"""The quoted course sentence in the student's language: translated by the model, shown only if it keeps the facts.

When the answer check rejects a generated answer, the student gets the course's own sentence (the quote). On an
English course a German student then read "Im Kursmaterial steht: „Instructor office hours: Wednesdays from
14:00 to 16:00 in room B305, or by appointment.“": right, and in a language the student did not write in. The
model translates that one sentence with a short prompt of its own (~60 tokens, a few seconds), and the
translation is shown only when it states the same facts as the sentence: the same numbers, clock times, codes
(rooms) and weekdays. That check is not a formality: asked by hand, the 1.5B model translated "Labs: Mondays
from 14:00 to 16:00" into Spanish as "Laboratorios: Martes de 14:00 a 16:00". The original sentence is shown
with the translation, so a student can check the wording too.
"""

from __future__ import annotations

import logging
import re
from typing import Callable, Iterator

from tutor.clock import clock_times, without_times
from tutor.evidence import CODE, MARKER, NUMBER, Evidence
from basics.language import LanguageConfig, detect_language, language_name, ranked_languages
from basics.text import CJK_CHAR, KANA_CHAR as _KANA, ascii_digits
from tutor.schedule import english_days, localize_weekdays, months
from tutor.verify.verdicts import Kind

_WORD_RUN = re.compile(r"[^\W_](?:[\w:'-]*[^\W_])?")  # words and numbers ("14:00", "dot-product"), any script
_SUFFIXED = re.compile(r"\b(\d+)[a-z]{1,3}\b", re.ASCII)  # a number with an English suffix: 1980s, 4th
UNTRANSLATED = Kind.UNTRANSLATED.value

log = logging.getLogger(__name__)

# Asked by hand on the logistics lines, this wording kept "office hours" (not "Horarios de clase", class times,
# with "You translate course text into Spanish.").
TRANSLATE_RULES = ("Translate the user's text from {source} into {language}. It is {what}: translate its meaning "
                   "faithfully and keep every number, time, room and name exactly as written. Reply with the "
                   "translation only.")


def facts(text: str, language: str = "en") -> tuple[frozenset, ...]:
    """What a translation must keep: numbers (by their digits: 49,152 = 49.152), clock times, codes (B305),
    weekdays (by their English names, read in ``language``: "terças-feiras" in a Portuguese course sentence is
    the "Tuesdays" of its English translation) and months (CLDR names: "julho" is the "7月" of a Chinese one)."""
    text = ascii_digits(text)  # "6،0" in an Arabic translation is the course's 6,0
    text = _SUFFIXED.sub(r"\1", text)  # "the late 1980s" is the "1980-х" of a Russian translation, not a code
    named_months, rest = months(without_times(text, language), language)
    numbers = frozenset(re.sub(r"[.,\s]", "", m.group()) for m in NUMBER.finditer(rest))
    return (numbers, frozenset(clock_times(text, language)), frozenset(c.lower() for c in CODE.findall(text)),
            frozenset(english_days(text, language)), frozenset(named_months))


def untranslated(sentence: str, evidence: Evidence, language: str = "") -> str:
    """The excerpt sentence that ``sentence`` copies prose from when the answer's ``language`` is not the
    excerpts' own: a run of five words found word for word in an excerpt sentence, none of them a single
    letter (a formula, "softmax(Q Kᵀ / √d_k)", is carried over, not copied prose) and two of them words
    ("Los laboratorios se llevan a cabo de **Mondays from 14:00 to 16:00 in computer room C3**"). Language-neutral:
    a Japanese answer copying a Portuguese page is caught like a Spanish one copying an English page. "" when
    there is none."""
    if language and language == evidence.language:
        return ""  # copying the course's own words in its own language is quoting
    words = _WORD_RUN.findall(MARKER.sub("", sentence).lower())
    plain = None
    for i in range(len(words) - 4):
        gram = words[i:i + 5]
        if any(len(w) == 1 for w in gram) or sum(w.isalpha() and len(w) > 1 for w in gram) < 2:
            continue
        plain = plain or [" ".join(_WORD_RUN.findall(s)) for s in evidence.sentences]
        joined = " ".join(gram)
        for original, text in zip(evidence.originals, plain):
            if f" {joined} " in f" {text} ":
                return original
    return ""


def wrong_language(sentence: str, language: str, min_letters: int = 15, echo: str = "") -> str:
    """The language ``sentence`` is written in when it is clearly not ``language``, else "": a French question
    answered "The excerpts do not mention the dates ...". Clearly: fastText's best guess is another language
    at probability 0.5 or more, and ``language`` gets under 0.05, on at least ``min_letters`` letters. A
    Japanese sentence written in kanji alone reads as Chinese by its script, and is no wrong language. Words of
    ``echo`` (the question) say nothing of the sentence's language and are left out: "The excerpts do not provide
    any information about the year when the phong trào thoái vốn khỏi Nam Phi was held." read as Vietnamese
    enough to pass, for a Vietnamese question."""
    text = MARKER.sub("", sentence)
    if echo:
        asked = {w.lower() for w in _WORD_RUN.findall(echo)}
        text = _WORD_RUN.sub(lambda m: "" if m.group().lower() in asked else m.group(), text)
    if sum(c.isalpha() for c in text) < min_letters:
        return ""
    said = detect_language(text, LanguageConfig(fallback=language, min_confidence=0.5))
    if said == language or (said == "zh" and language == "ja" and not _KANA.search(text)):
        return ""
    if not CJK_CHAR.search(text) and dict(ranked_languages(text)).get(language, 0.0) >= 0.05:
        return ""
    return said


COURSE_LINE = "a line of a university course's documents"
# A student's question put into the course's language (EngineConfig.pivot_answers). Told it was course text, the
# 1.5B turned "강의는 언제 어디에서 하나요?" (when and where are the lectures?) into "The lecture is held at a specific
# time and place.", which the answer check then read as the question restated.
QUESTION = "a student's question about a university course, and stays a question"


def translation_messages(text: str, language: str, source: str = "en", what: str = COURSE_LINE) -> list[dict]:
    """The prompt: the rules as a system turn, the sentence alone as the user turn."""
    rules = TRANSLATE_RULES.format(source=language_name(source), language=language_name(language), what=what)
    return [{"role": "system", "content": rules},
            {"role": "user", "content": text}]


def translatable(text: str, language: str) -> bool:
    """Whether ``text`` is in another language than ``language``: then the student gets it translated, with the
    course's own words under it. A translation is shown only if it keeps the source's numbers, times, codes,
    days and months (``acceptable``); a sentence without any is checked for its language alone, and its
    original, shown beside it, is the student's check of the wording (a Spanish student asking about the central
    limit theorem got the Portuguese sentence alone before)."""
    prose = CODE.sub(" ", text)  # "14:00-16:00, B305" has no words to translate
    return (bool(CJK_CHAR.search(prose)) or re.search(r"[^\W\d_]{3,}", prose) is not None) \
        and detect_language(text) != language


def acceptable(source: str, translation: str, language: str, source_language: str = "en",
               same_meaning: Callable[[str, str], bool] | None = None) -> bool:
    """Whether ``translation`` may be shown: as many lines as the source, in ``language``, not much longer
    than the source, stating exactly the source's facts and, with ``same_meaning`` (``meaning_check``), saying
    what the source says."""
    if not translation or translation.count("\n") > source.count("\n") or len(translation) > 2 * len(source) + 40:
        return False
    return detect_language(translation) == language and facts(source, source_language) == facts(translation, language) \
        and (same_meaning is None or same_meaning(source, translation))


def meaning_check(embedder) -> Callable[[str, str], bool] | None:
    """Whether a translation says what its source says, by the multilingual embedder: the cosine of the two
    reaches ``EmbedderSpec.min_translation_cosine``. The facts check cannot see a translation that keeps the
    numbers and garbles the rest: the 1.5B's Greek for a sentence on the late-1980s divestment movement kept
    "1980" and said nothing else of it. None for an embedder without the level (an English-only one)."""
    level = getattr(embedder.spec, "min_translation_cosine", None)
    if level is None:
        return None

    def same(source: str, translation: str) -> bool:
        a, b = embedder.encode([source, translation])
        return float(a @ b) >= level

    return same


def translate(generator, text: str, language: str, max_new_tokens: int | None = None, source: str = "en",
              keep: list[str] | None = None, same_meaning: Callable[[str, str], bool] | None = None,
              what: str = COURSE_LINE) -> Iterator[str]:
    """Translate one course sentence with ``generator``: yields its queue notices (empty ``QueueWait``
    deltas), returns the checked translation, or None when it is not acceptable (the original is shown alone).
    ``keep``, if given, receives the model's translation whether accepted or not; ``same_meaning``: see
    ``acceptable``."""
    out = ""
    max_new_tokens = max_new_tokens or min(512, 64 + len(text))  # CJK and Cyrillic text take more tokens a character
    # Weekdays are written in the student's language first, from CLDR: the 1.5B turned "quarta-feira" (Wednesday)
    # into Thursday in English, Spanish and Chinese, and the check rightly refused each translation.
    prepared = localize_weekdays(text, language, source)
    try:
        for delta in generator.stream(translation_messages(prepared, language, source, what), max_new_tokens, 0.0):
            if delta:
                out += delta
            else:
                yield delta
    except Exception as exc:  # the quote is the answer and is ready: a failed translation only leaves it untranslated
        log.warning("could not translate the quote into %s: %s", language, exc)
        return None
    out = out.strip().strip("\"“”„«»").strip()
    if keep is not None:  # the raw translation, accepted or not (bench/translations.py reads it)
        keep.append(out)
    return out if acceptable(text, out, language, source, same_meaning) else None


def faq_text(generator: Callable, answer: str, faq_language: str, language: str, translate_it: bool = True,
             same_meaning: Callable[[str, str], bool] | None = None) -> Iterator[str]:
    """What the student reads for an FAQ match: the instructor's answer as written; in another language,
    translated by the model (``generator()`` loads it) and kept only if it states the same facts, with the
    instructor's words under it; a translation that fails shows a note in the student's language instead."""
    from tutor.prompts import faq_language_note, with_original  # (prompts imports the answer check, which imports this)

    if faq_language == language:
        return answer
    translation = (yield from translate(generator(), answer, language, source=faq_language, same_meaning=same_meaning)) \
        if translate_it else None
    if translation:
        return with_original(translation, answer, faq_language, language)
    return f"{faq_language_note(language, faq_language)}\n\n{answer}"


class RefusalLines:
    """"The course material does not cover this question" in the languages ``prompts.REFUSALS`` has no line
    for: the model translates the English line once per language (kept if it reads as that language)."""

    def __init__(self, same_meaning: Callable[[str, str], bool] | None = None):
        self._lines: dict[str, str | None] = {}
        self.same_meaning = same_meaning  # the check of each translation's meaning (``meaning_check``), shared

    def head(self, generator: Callable, language: str, translate_it: bool = True) -> Iterator[str]:
        """The line in ``language``; None where the table has it, or the translation failed (English shows)."""
        from tutor.prompts import REFUSALS

        if language in REFUSALS or not translate_it:
            return None
        if language not in self._lines:
            self._lines[language] = yield from translate(generator(), REFUSALS["en"][0], language,
                                                         same_meaning=self.same_meaning)
        return self._lines[language]
