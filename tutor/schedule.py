"""Answer checks on *when*: weekdays in the tutor's languages, and a day stated with its time as the course does.

Logistics are where a wrong answer costs a student most, and where a small model slips in two ways the fact
check alone misses: it pairs a time with a day the course names for something else (the office hours at 14:00
moved to "Dienstag", the lectures' day), and it gives the time without the day ("de 14:00 a 16:00", asked
"¿Cuándo son las horas de oficina?", where the course says Wednesdays). Both failures name the course sentence
(``SAYS``), which the retry is shown and the quote falls back to.

An answer that passed may still name days in English in another language ("课程的讲座在Tuesdays和Thursdays"):
``localize_weekdays`` writes them in the answer's language.
"""

from __future__ import annotations

import re

from tutor.evidence import CODE, SAYS, Evidence, clock_times

# Weekdays in the languages the tutor answers in, by their English name: a German answer moved the office hours
# from Wednesday to "Dienstag", and capitalised names are checked only in English sentences.
_WEEKDAYS = {
    "monday": "montag lunes lundi 星期一 周一", "tuesday": "dienstag martes mardi 星期二 周二",
    "wednesday": "mittwoch miércoles mercredi 星期三 周三", "thursday": "donnerstag jueves jeudi 星期四 周四",
    "friday": "freitag viernes vendredi 星期五 周五", "saturday": "samstag sábado samedi 星期六 周六",
    "sunday": "sonntag domingo dimanche 星期日 星期天 周日",
}
WEEKDAY = {name: english for english, names in _WEEKDAYS.items() for name in names.split()}  # "dienstag" -> "tuesday"
WEEKDAY_NAME = re.compile(r"(?<!\w)(?:" + "|".join(WEEKDAY) + r")|(?:星期|周)[一二三四五六日天]", re.IGNORECASE)
# "Tuesdays" too; not \b, which finds no word boundary in "在Tuesdays和" (CJK characters are word characters)
_ENGLISH_DAY = re.compile(r"(?<![A-Za-z])(" + "|".join(_WEEKDAYS) + r")(s?)(?![A-Za-z])", re.IGNORECASE)

# Weekday names to write in an answer, Monday first: (a day, a recurring day: "Mondays").
_DAY_ORDER = tuple(_WEEKDAYS)
_LOCAL_DAYS = {
    "zh": ("周一 周二 周三 周四 周五 周六 周日".split(),) * 2,  # a plural is the day itself
    "es": ("lunes martes miércoles jueves viernes sábado domingo".split(),
           "los lunes|los martes|los miércoles|los jueves|los viernes|los sábados|los domingos".split("|")),
    "de": ("Montag Dienstag Mittwoch Donnerstag Freitag Samstag Sonntag".split(),
           "montags dienstags mittwochs donnerstags freitags samstags sonntags".split()),
    "fr": ("lundi mardi mercredi jeudi vendredi samedi dimanche".split(),
           "le lundi|le mardi|le mercredi|le jeudi|le vendredi|le samedi|le dimanche".split("|")),
}

# Questions that ask when something happens, in the tutor's languages.
_ASKS_WHEN = re.compile(r"\b(?:when|what time|which days?|cu[aá]ndo|a qu[eé] hora|qu[eé] d[ií]as?|wann|um wie viel uhr|"
                        r"an welchen? tag(?:en)?|quand|quels? jours?|[aà] quelle heure)\b|什么时候|何时|几点|哪天|星期几|周几",
                        re.IGNORECASE)


def asks_when(question: str) -> bool:
    """Whether ``question`` asks when something happens ("When are the office hours?", "¿Cuándo ...?")."""
    return _ASKS_WHEN.search(question) is not None


def _days(text: str) -> list[tuple[str, str]]:
    """The weekdays ``text`` names, each as (the word, its English name): ("Mittwochs", "mittwoch") is
    ("Mittwoch", "wednesday"), ("Tuesdays", ...) is ("Tuesday", "tuesday")."""
    days = [(m.group(), m.group(1).lower()) for m in _ENGLISH_DAY.finditer(text)]
    return days + [(m.group(), WEEKDAY.get(m.group().lower(), "")) for m in WEEKDAY_NAME.finditer(text)]


def english_days(text: str) -> list[str]:
    """The weekdays ``text`` names, by their English names, whatever language it names them in."""
    return [english for _, english in _days(text)]


def localize_weekdays(text: str, language: str) -> str:
    """``text`` with English weekday names written in ``language``: a Chinese answer copied the excerpts'
    "Tuesdays和Thursdays" (-> 周二和周四). The mapping is exact, so it runs on text the answer check has passed;
    unchanged for English and languages without a table."""
    names = _LOCAL_DAYS.get(language)
    if not names:
        return text

    def local(m: re.Match) -> str:
        i = _DAY_ORDER.index(m.group(1).lower())
        return names[1 if m.group(2) else 0][i]

    return _ENGLISH_DAY.sub(local, text)


def names_day(text: str) -> bool:
    """Whether ``text`` names a weekday, in any of the tutor's languages."""
    return bool(_ENGLISH_DAY.search(text) or WEEKDAY_NAME.search(text))


def _course_sentence(text: str, times: list[str], evidence: Evidence) -> str:
    """The excerpt sentence with ``times[0]`` that shares most of ``text``'s times and codes: 14:00-16:00 in
    B305 are the office hours, though the labs are at 14:00 too ("" when none has the time)."""
    facts = set(times) | {c.lower() for c in CODE.findall(text)}
    shared = [(len(facts & paired) + sum(c in s for c in facts if ":" not in c), o) for o, s, paired
              in zip(evidence.originals, evidence.sentences, evidence.sentence_times) if times[0] in paired]
    return max(shared, key=lambda x: x[0], default=(0, ""))[1]


def unpaired_days(text: str, evidence: Evidence) -> list[str]:
    """Weekdays of a sentence with clock times that the excerpts never give with any of those times, as
    "Dienstag 14:00": a German answer put the office hours (Wednesdays 14:00-16:00) on "Dienstag", a day the
    excerpts do name, for the lectures. A day and a time stated together must be stated together in one
    excerpt sentence; each day with at least one of the sentence's times ("Tuesdays 10:00-11:30 and Mondays
    14:00-16:00" pairs each day with its own). Each miss comes with the excerpt sentence that gives the time."""
    times = clock_times(text)
    if not times:
        return []
    out = []
    for word, english in _days(text):
        stem = english[:-3]  # "tuesday" -> "tues": the excerpts say "Tuesdays"
        if english and not any(stem in s and paired & set(times)
                               for s, paired in zip(evidence.sentences, evidence.sentence_times)):
            out.append(f"{word} {times[0]}")
            said = _course_sentence(text, times, evidence)  # the retry is told which day the course gives
            if said and SAYS + said not in out:
                out.append(SAYS + said)
    return out


def omitted_day(text: str, evidence: Evidence) -> str:
    """The course sentence an answer to a "when" question left the day out of: ``text`` gives clock times and
    no weekday, while every excerpt sentence with its first time names one ("Wednesdays from 14:00 to 16:00").
    "" when nothing is missing."""
    times = clock_times(text)
    if not times or names_day(text):
        return ""
    with_time = [s for s, paired in zip(evidence.sentences, evidence.sentence_times) if times[0] in paired]
    if not with_time or not all(names_day(s) for s in with_time):
        return ""
    return _course_sentence(text, times, evidence)
