"""The language-neutral core of the answer check: what a sentence states must be in the excerpts it was given.

A language model that cannot find an exam time writes a plausible one. Wrong logistics are the worst thing a
tutor can say, so each sentence's *checkable facts* — numbers, clock times (in the locale's own formats,
``tutor.clock``), codes such as B214 or q_proj, acronyms such as BPE, weekdays (CLDR names, ``tutor.schedule``)
and in English the capitalised names inside a sentence (Thursday, Vaswani) — must each occur in the course
excerpts of the prompt or in the question. A number the answer computes from checked numbers, with the
operation written out, is supported too (``tutor.arithmetic``). Words are not checked: paraphrase is the point
of an answer, and the evidence gate and the "not in the course" reply guard the topic.

``check_sentence`` is the "facts" verifier of ``tutor.verify.checks``; the others compare a sentence with the
question and the prompt (``tutor.verify.replies``).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from basics.text import CJK_CHAR, ascii_digits
from tutor.arithmetic import derived_numbers
from tutor.clock import clock_times, without_times
from tutor.evidence import CODE, MARKER, NUMBER, Evidence
from tutor.schedule import evidence_days, unpaired_days, weekdays
from tutor.subjects import QUESTION_WORDS, WORD, content_words, detached_facts
from tutor.verify.verdicts import Check, Kind

ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]{1,}s?\b", re.ASCII)
NEGATION = re.compile(r"\b(?:not|no|never|none|neither|nor|without|isn't|aren't|doesn't|don't|didn't|cannot|can't)\b|n't\b",
                       re.IGNORECASE)
# An answer that opens by agreeing ("Yes, ...", "是的", "Sí", "Ja", "Oui", "Correct"): it affirms the question.
AFFIRMATION = re.compile(r"^\W*(?:(?:yes|yeah|correct|indeed|sí|ja|oui)(?![a-z])|(?:是的|没错|是|对|對)(?=[，,。！!\s]|$))",
                          re.IGNORECASE)  # "对于…" (regarding) and "Si el…" (if) are no yes
_CAPITALISED = re.compile(r"(?<=[^.!?:;\n\"'(\[]\s)[A-Z][a-z]{2,}\b")
# Capitalised words an English answer may use without the excerpts saying them.
_FREE_NAMES = {"English", "Chinese", "Spanish", "German", "French", "The", "This", "That", "These", "Yes", "No", "However"}


def premise_terms(question: str, evidence: Evidence) -> set[str]:
    """Content words of an English question that the excerpts never use ("final exam" in a course with
    only a final project). An answer that repeats one asserts the question's premise, not the course."""
    if not evidence.english:
        return set()  # a question shares no words with pages in another language, by design
    # "tying", "computing": how, not what; "How much is the final project worth?": what a thing is worth is asked
    words = {w for w in content_words(question) if not w.endswith("ing") and w != "worth"}
    return {w for w in words if not evidence.has_word(w[:-1] if w.endswith("s") else w, whole=True)}


def premise_facts(question: str, evidence: Evidence, language: str = "en") -> set[str]:
    """Numbers and codes of a question (any language) that the excerpts do not contain: "Are the lectures in
    room B305?" in a course whose lectures are in B214. An answer that says yes to it affirms them. For an
    English question, also those the excerpts state only about another subject (``detached_facts``)."""
    text = unicodedata.normalize("NFKC", question)
    numbers = {m.group().strip() for m in NUMBER.finditer(text) if not evidence.has_number(m.group().strip())}
    codes = {w for w in CODE.findall(text) if not re.fullmatch(r"[\d.,]+\w?", w) and not evidence.has_word(w)}
    return numbers | codes | (set(detached_facts(text, evidence)) if language == "en" else set())


_LIST_ITEM = re.compile(r"^\s*\d{1,2}(?:[.)]\s+|、)")


def check_sentence(sentence: str, evidence: Evidence, language: str, premises: set[str] = frozenset()) -> Check:
    """The checkable facts of one sentence, and which of them ``evidence`` does not contain.

    ``premises`` (from ``premise_terms`` and ``premise_facts``) are words and facts of the question the
    excerpts lack: repeated in an English answer, or affirmed by an answer that opens with "yes" (in any
    language), they fail it too.
    """
    # A list item's number ("1. 每超过一天扣10%", "2) Labs") counts items, it states nothing about the course.
    text = _LIST_ITEM.sub("", ascii_digits(unicodedata.normalize("NFKC", MARKER.sub("", sentence))), count=1)
    check = Check()
    if premises and AFFIRMATION.match(text):
        check.facts.append("yes")
        check.add(Kind.AFFIRMED, ", ".join(sorted(premises)))
    if premises and language == "en" and not NEGATION.search(text):
        # A sentence that denies the premise ("The course does not mention a final exam; ...") may name it.
        said = {w.lower() for w in WORD.findall(text)}
        for word in sorted(premises & said):
            check.facts.append(word)
            check.add(Kind.PREMISE, word)
    for time in clock_times(text, language):  # "10:00", and "10시 00분" in Korean (tutor.clock)
        check.facts.append(time)
        if time not in evidence.times:
            check.add(Kind.FACT, time)
    rest = without_times(text, language)
    derived = derived_numbers(rest)  # "32 / 8 = 4": 4 is computed from numbers that are checked (tutor.arithmetic)
    for m in NUMBER.finditer(rest):
        token = m.group().strip().rstrip(".,")
        if not token:
            continue
        check.facts.append(token)
        if not evidence.has_number(token) and token not in derived:
            check.add(Kind.FACT, token)
    if language != "en":  # (English names are checked below with every capitalised name)
        named = weekdays(rest, language)
        if named:
            known = evidence_days(evidence, language)
            for word, day in named:
                check.facts.append(word)
                if day not in known:
                    check.add(Kind.FACT, word)
    check.findings += unpaired_days(text, evidence, language)
    if language != evidence.language:
        for fact, supported in _quantities(rest, language, evidence):
            check.facts.append(fact)
            if not supported:
                check.add(Kind.FACT, fact)
    if CJK_CHAR.search(text) and evidence.latin:
        for fact, supported in _cjk_words(rest, evidence):
            check.facts.append(fact)
            if not supported:
                check.add(Kind.FACT, fact)
    words = set(CODE.findall(rest)) | set(ACRONYM.findall(rest))
    if language == "en" and evidence.english:
        words |= {w for w in _CAPITALISED.findall(rest) if w not in _FREE_NAMES}
    for word in sorted(words):
        if re.fullmatch(r"[\d.,]+\w?", word):
            continue  # a number with a unit letter was checked as a number
        check.facts.append(word)
        stem = word[:-1] if word.endswith("s") and word[:-1].isupper() else word  # "LLMs" -> "LLM"
        if not evidence.has_word(stem):
            check.add(Kind.FACT, word)
    return check


# Quantities with a unit: the unit words of each language come from CLDR's unit patterns (Babel), not tables.
_UNITS = ("duration-day", "duration-week", "duration-hour", "duration-minute", "duration-month")
_NUMBER_NAMES = "zero one two three four five six seven eight nine ten eleven twelve".split()  # "three grace days"
_ORDINAL = r"(?:e|ème|eme|er|re|º|ª|\.)?"  # "10ème jour", "12e semaine", "3. Woche"
_NOT_LATIN = r"(?![A-Za-z\u00c0-\u024f])"


@lru_cache(maxsize=64)
def unit_words(language: str) -> dict[str, str]:
    """Each word ``language`` writes a duration unit with ("días", "Wochen", "天", "주" ...) -> the unit's CLDR
    name: read off CLDR's own patterns, formatted with a few counts so that every plural form is seen."""
    from babel.units import format_unit

    from basics.language import cldr_locale

    locale = cldr_locale(language)
    out: dict[str, str] = {}
    if locale is None:
        return out
    for unit in _UNITS:
        for length in ("long", "short"):
            for n in (1, 2, 3, 5, 11, 21):
                try:
                    written = format_unit(n, unit, length=length, locale=locale)
                except Exception:  # noqa: BLE001 - a locale without this unit: none of its words
                    continue
                word = re.sub(r"[\d\s.,]+", " ", written).strip()
                if word and " " not in word and len(word) < 16 and (len(word) > 1 or not word.isascii()):  # not "h", "d"
                    out[word.lower()] = unit
    return out


@lru_cache(maxsize=64)
def _quantity_pattern(language: str) -> re.Pattern | None:
    words = "|".join(sorted(map(re.escape, unit_words(language)), key=len, reverse=True))
    if not words:
        return None
    return re.compile(rf"(第\s*)?(?<![\d.,])(\d+){_ORDINAL}\s*({words}){_NOT_LATIN}"  # "第12天", "10ème jour", "60 minutos"
                      rf"|(?<![A-Za-z\u00c0-\u024f])({words})\s+(\d+)(?![\d.,]\d)", re.IGNORECASE)  # "semaine 12", "Woche 6"


def _quantities(text: str, language: str, evidence: Evidence) -> list[tuple[str, bool]]:
    """Numbers with a unit in an answer in another language than the excerpts, each with whether the excerpts
    give the number with that unit (in their own language's words for it). "第12天" (day 12) and "le 10ème
    jour" (asked when the labs are) in a course that says "week 12" and has a row "| 10 | Project work |" are
    invented dates, though 12 and 10 are in the excerpts. (A table row does not count: "实验课在第10周" put the
    labs in the schedule's week 10.)"""
    pattern, course = _quantity_pattern(language), unit_words(evidence.language)
    if pattern is None or not course:
        return []
    out = []
    for m in pattern.finditer(text):
        n, word = (m.group(2), m.group(3)) if m.group(2) else (m.group(5), m.group(4))
        unit = unit_words(language)[word.lower()]
        names = "|".join(sorted((re.escape(w) for w, u in course.items() if u == unit), key=len, reverse=True))
        if not names:
            continue
        said = f"(?:{n}|{_NUMBER_NAMES[int(n)]})" if evidence.english and int(n) < len(_NUMBER_NAMES) else n
        near = (rf"(?<![\d.,]){said}(?:[\s-]+\w+)?[\s-]*(?:{names}){_NOT_LATIN}"  # "12 weeks", "three grace days", "12周"
                rf"|(?<!\w)(?:{names})\s+(?:\d+\s*(?:\w{{1,3}}|[,–-])\s*)?{n}(?!\d)")  # "week 12", "weeks 6 and 7"
        out.append((m.group().strip(), re.search(near, evidence.text) is not None))
    return out


def _cjk_words(text: str, evidence: Evidence) -> list[tuple[str, bool]]:
    """The Latin-script words a Chinese, Japanese or Korean answer carries over ("softmax", "Tuesdays",
    "terças-feiras"), with whether the excerpts use each: one they never use is the answer's, not the course's."""
    return [(word, evidence.has_word(word)) for word in _LATIN_WORD.findall(text) if word.lower() not in QUESTION_WORDS]


_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"  # ASCII and accented Latin letters, not CJK (\w has both)
_LATIN_WORD = re.compile(f"(?<![{_LATIN}0-9-])[{_LATIN}][{_LATIN}0-9-]{{3,}}")


# An English answer that says the question back ("How does attention decide which tokens to look at?" -> "The
# attention mechanism decides which tokens to look at.") states nothing and passes every fact check.
