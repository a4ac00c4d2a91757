"""Answer checks on *when*: weekdays in every language, and a day stated with its time as the course does.

Logistics are where a wrong answer costs a student most, and where a small model slips in two ways the fact
check alone misses: it pairs a time with a day the course names for something else (the office hours at 14:00
moved to "Dienstag", the lectures' day), and it gives the time without the day ("de 14:00 a 16:00", asked
"¿Cuándo son las horas de oficina?", where the course says Wednesdays). Both failures name the course sentence
(``SAYS``), which the retry is shown and the quote falls back to.

Weekday names come from CLDR's locale data (through Babel), for every language it has: a Korean answer that
moved the Tuesday and Thursday lectures to "월요일과 화요일" went unchecked while the names were a hand table of
five languages. English names are always known too, since answers copy them from English course text.

An answer that passed may still name days in English in another language ("课程的讲座在Tuesdays和Thursdays"):
``localize_weekdays`` writes them in the answer's language.
"""

from __future__ import annotations

import re
from functools import lru_cache

from basics.language import cldr_locale
from basics.text import CJK_CHAR
from tutor.clock import clock_times, without_times
from tutor.evidence import CODE, Evidence
from tutor.verify.verdicts import Finding, Kind

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")  # CLDR's order: 0 = Monday
# "Tuesdays" too; not \b, which finds no word boundary in "在Tuesdays和" (CJK characters are word characters)
_ENGLISH_DAY = re.compile(r"(?<![A-Za-z])(" + "|".join(DAYS) + r")(s?)(?![A-Za-z])", re.IGNORECASE)


@lru_cache(maxsize=None)
def day_names(language: str) -> dict[str, str]:
    """Lower-case weekday names of ``language`` -> their English names: CLDR's wide names (as written in a
    date and standing alone: "dienstag", "화요일", "вторник") and, in CJK scripts, the short ones of two
    characters or more ("周二"; "火" alone is also "fire"), plus the English names themselves."""
    names = {day: day for day in DAYS}
    locale = cldr_locale(language)
    if locale is not None:
        for context in ("format", "stand-alone"):
            for i, name in locale.days[context]["wide"].items():
                names[name.lower()] = DAYS[i]
            for i, name in locale.days[context]["abbreviated"].items():
                if len(name) >= 2 and all(CJK_CHAR.match(c) for c in name):
                    names[name.lower()] = DAYS[i]
    return names


_PART = re.compile(r"([-\s]+)")
_CJK_LETTER = CJK_CHAR.pattern
_END = rf"(?:(?={_CJK_LETTER})|(?![^\W\d_]))"  # the name ends the word ("Tuesdays和": a CJK letter may follow)


def _name_regex(name: str, loose: bool) -> str:
    """A weekday name as a pattern: each word of it may take an inflected ending of up to two letters
    ("terças-feiras" for CLDR's "terça-feira", "вторникам" for "вторник", "Mittwochs"); ``loose`` also
    takes the first word of a compound alone ("segundas e quartas-feiras" names Monday too)."""
    if CJK_CHAR.match(name):
        return re.escape(name)
    parts = _PART.split(name)
    ending = rf"(?:(?!{_CJK_LETTER})[^\W\d_]){{0,2}}"  # not a CJK letter: "Thursdays从" ends at the s
    words = [re.escape(p) + ending if i % 2 == 0 else r"[-\s]+" for i, p in enumerate(parts)]
    whole = "".join(words) + _END
    if loose and len(parts) > 1 and len(parts[0]) >= 4:
        return f"{whole}|{words[0]}{_END}"
    return whole


@lru_cache(maxsize=None)
def _day_pattern(language: str, loose: bool = False) -> re.Pattern:
    """Any weekday name of ``language``, one named group a day: at a word start in spaced scripts (a
    CJK letter before it counts as a start: "在Tuesdays和"), anywhere in CJK text ("在周二和")."""
    by_day: dict[str, list[str]] = {}
    for name, day in day_names(language).items():
        by_day.setdefault(day, []).append(name)
    start = rf"(?:(?<={_CJK_LETTER})|(?<![^\W\d_]))"
    groups = []
    for day, names in by_day.items():
        names = sorted(names, key=len, reverse=True)
        spaced = "|".join(_name_regex(n, loose) for n in names if not CJK_CHAR.match(n))
        cjk = "|".join(re.escape(n) for n in names if CJK_CHAR.match(n))
        groups.append(f"(?P<{day}>{start}(?:{spaced})" + (f"|{cjk}" if cjk else "") + ")")
    return re.compile("|".join(groups), re.IGNORECASE)


def weekdays(text: str, language: str = "en", loose: bool = False) -> list[tuple[str, str]]:
    """The weekdays ``text`` names in ``language`` or English, each as (the word, its English name);
    ``loose`` as ``_name_regex`` says (for reading the excerpts, where a day too many only makes the check
    lenient; an answer is read strictly)."""
    return [(m.group(), m.lastgroup) for m in _day_pattern(language, loose).finditer(text)]


def english_days(text: str, language: str = "en") -> list[str]:
    """The weekdays ``text`` names (in ``language`` or English), by their English names."""
    return [english for _, english in weekdays(text, language)]


def names_day(text: str, language: str = "en") -> bool:
    """Whether ``text`` names a weekday, in ``language`` or in English."""
    return bool(weekdays(text, language))


@lru_cache(maxsize=64)
def _month_pattern(language: str) -> tuple[re.Pattern | None, dict[str, int]]:
    """One regex for the month names CLDR gives ``language`` (wide and abbreviated, in and out of a date:
    "julho", "jul.", "7月", "июля"), and each name's month number. A name CLDR capitalizes is matched with its
    capital only: English "may" (the verb) and "mar" are no months, "May" and "Mar." are; names a language
    writes in lower case ("maio", "mai") match in any case, as at the start of a sentence."""
    locale = cldr_locale(language)
    if locale is None:
        return None, {}
    names: dict[str, int] = {}
    cased: set[str] = set()
    for context in ("format", "stand-alone"):
        for width in ("wide", "abbreviated"):
            for number, name in locale.months[context][width].items():
                name = str(name).rstrip(".")
                if len(name) > 1:
                    names[name.lower()] = number
                    if name[0].isupper() and context == "format":
                        cased.add(name)
    lower = [n for n in names if not any(c.lower() == n for c in cased)]

    def alternatives(words) -> str:
        return "|".join(sorted(map(re.escape, words), key=len, reverse=True))

    either = "|".join(filter(None, (alternatives(cased), f"(?i:{alternatives(lower)})" if lower else "")))
    if CJK_CHAR.search(either):
        return re.compile(f"(?:{either})"), names
    return re.compile(rf"(?<![^\W\d_])(?:{either})\.?(?![^\W\d_])"), names


def months(text: str, language: str) -> tuple[set[int], str]:
    """The month numbers ``text`` names in ``language`` (CLDR names), and the text with those names blanked:
    "1º de julho" and "7月1日" both name July, and the 7 of "7月" is no number of its own."""
    pattern, names = _month_pattern(language)
    if pattern is None:
        return set(), text
    found = {names[m.group().lower().rstrip(".")] for m in pattern.finditer(text)}
    return found, pattern.sub(" ", text)


def localize_weekdays(text: str, language: str, source: str = "en") -> str:
    """``text`` with the weekday names of the excerpts' language ``source`` (and English ones) written in
    ``language`` (CLDR's name of the day): a Chinese answer copied the excerpts' "Tuesdays和Thursdays" (-> 星期二和
    星期四), an English one a Portuguese course's "terças-feiras" (-> Tuesday). A name already in ``language`` is
    left as written. The mapping is exact, so it runs on text the answer check has passed; unchanged for
    languages CLDR does not know."""
    locale = cldr_locale(language)
    if locale is None:
        return text
    local = locale.days["format"]["wide"]
    own = _day_pattern(language)

    def written(m: re.Match) -> str:
        word = m.group()
        ours = own.fullmatch(word) and (language == "en" or not _ENGLISH_DAY.fullmatch(word))
        return word if ours else local[DAYS.index(m.lastgroup)]

    return _day_pattern(source).sub(written, text)


def evidence_days(evidence: Evidence, language: str) -> set[str]:
    """The weekdays (English names) the excerpts name, in English, in their own language or in ``language``."""
    return _sentence_days(evidence.text, evidence, language)


def _sentence_days(sentence: str, evidence: Evidence, language: str) -> set[str]:
    days = {day for _, day in weekdays(sentence, language, loose=True)}
    if evidence.language not in ("en", language):
        days |= {day for _, day in weekdays(sentence, evidence.language, loose=True)}
    return days


def _course_sentence(text: str, times: list[str], evidence: Evidence) -> str:
    """The excerpt sentence with ``times[0]`` that shares most of ``text``'s times and codes: 14:00-16:00 in
    B305 are the office hours, though the labs are at 14:00 too ("" when none has the time)."""
    facts = set(times) | {c.lower() for c in CODE.findall(text)}
    shared = [(len(facts & paired) + sum(c in s for c in facts if ":" not in c), o) for o, s, paired
              in zip(evidence.originals, evidence.sentences, evidence.sentence_times) if times[0] in paired]
    return max(shared, key=lambda x: x[0], default=(0, ""))[1]


def unpaired_days(text: str, evidence: Evidence, language: str = "en") -> list[Finding]:
    """Weekdays of a sentence with clock times that the excerpts never give with any of those times, as
    "Dienstag 14:00": a German answer put the office hours (Wednesdays 14:00-16:00) on "Dienstag", a day the
    excerpts do name, for the lectures. A day and a time stated together must be stated together in one
    excerpt sentence; each day with at least one of the sentence's times ("Tuesdays 10:00-11:30 and Mondays
    14:00-16:00" pairs each day with its own). Each miss comes with the excerpt sentence that gives the time."""
    times = clock_times(text, language)
    if not times:
        return []
    out: list[Finding] = []
    for word, english in weekdays(text, language):
        if not any(english in _sentence_days(s, evidence, language) and paired & set(times)
                   for s, paired in zip(evidence.sentences, evidence.sentence_times)):
            out.append(Finding(Kind.FACT, f"{word} {times[0]}"))
            said = _course_sentence(text, times, evidence)  # the retry is told which day the course gives
            if said and Finding(Kind.SAYS, says=said) not in out:
                out.append(Finding(Kind.SAYS, says=said))
    return out


def omitted_day(text: str, evidence: Evidence, language: str = "en") -> str:
    """The course sentence an answer to a "when" question left the day out of: ``text`` gives clock times and
    no weekday, while every excerpt sentence with its first time names one ("Wednesdays from 14:00 to 16:00").
    "" when nothing is missing."""
    times = clock_times(text, language)
    if not times or names_day(text, language) or names_day(text, evidence.language):  # "terças-feiras" carried over
        return ""
    if months(without_times(text, language), language)[0]:  # a date ("1º de julio de 2026") pins the day
        return ""
    with_time = [s for s, paired in zip(evidence.sentences, evidence.sentence_times) if times[0] in paired]
    if not with_time or not all(_sentence_days(s, evidence, language) for s in with_time):
        return ""
    return _course_sentence(text, times, evidence)
