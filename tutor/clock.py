"""Clock times as each language writes them, read from CLDR's time patterns (through Babel), not from tables.

"10:00" is what most course pages write, and ``TIME`` in ``tutor.evidence`` reads it in every language. An
answer in Korean writes "10시 00분", one in Japanese "10時30分", one in German "14 Uhr", one in English "2 PM":
those are the locale's own time formats (``h시 m분``, ``H時mm分``, ``HH 'Uhr'``, ``h a``), and a check that
cannot read them cannot compare them with the course. Each language's patterns are turned into one regular
expression once, so every locale CLDR knows is read the same way and none is written by hand.
"""

from __future__ import annotations

import re
from functools import lru_cache

# "14:00", "9.30", "9h30": what course pages write, read in every language
TIME = re.compile(r"\b([01]?\d|2[0-3])[:.h]([0-5]\d)\b", re.ASCII)

_FIELD = re.compile(r"'[^']*'|([A-Za-z])\1*|.", re.S)  # a quoted literal, a run of one pattern letter, or one character
_HOUR, _MINUTE, _SECOND, _PERIOD, _ZONE = set("HhKk"), {"m"}, {"s"}, set("abB"), set("zZvVOxX")


def _pattern_regex(pattern: str, periods: list[str]) -> str | None:
    """A regex for one CLDR time pattern ("a h시 m분 s초 zzzz" -> "(?:오전|오후)?\\s*(\\d{1,2})시(?:\\s*(\\d{1,2})분…)?"),
    or None for a pattern with no mark of a time besides its digits ("HH": a bare number is no clock time).
    After an hour marked by a word ("10시", "14 Uhr") the minutes are optional; after a colon they are not
    ("14:" is no time). The day period is optional where another mark says "time", else required ("2 PM")."""
    parts, optional, marks, hour = [], 0, [], False
    for m in _FIELD.finditer(pattern):
        token, letter = m.group(), m.group()[0]
        if letter in _ZONE:
            break  # a time zone ends what an answer writes
        if letter in _HOUR:
            parts.append(r"(?P<hour>\d{1,2})")
            hour = True
        elif letter in _MINUTE or letter in _SECOND:
            worded = any(any(c.isalpha() for c in mark) for mark in marks)
            group = r"(?P<minute>\d{1,2})" if letter in _MINUTE else r"\d{1,2}"
            if worded or letter in _SECOND:
                parts.append("(?:" + group)
                optional += 1
            else:
                parts.append(group)
        elif letter in _PERIOD:
            parts.append("\0PERIOD\0" if periods else "")
        elif token.isspace():
            parts.append(r"\s*")
        else:
            literal = token[1:-1] if token.startswith("'") else token
            parts.append(re.escape(literal))
            if hour and literal.strip():
                marks.append(literal)
    if not hour or not (marks or periods):
        return None
    names = "|".join(sorted((r"\s*".join(map(re.escape, p.split())) for p in periods), key=len, reverse=True))
    regex = "".join(parts).replace("\0PERIOD\0", rf"(?P<period>{names})" + ("?" if marks else ""))
    if "(?P<period>" not in regex and not marks:
        return None  # "HH": the hour alone
    while regex.endswith(r"\s*"):
        regex = regex[: -len(r"\s*")]
    return regex + ")?" * optional


@lru_cache(maxsize=64)
def _locale_clock(language: str) -> tuple[re.Pattern | None, str]:
    """One regex for the clock-time formats of ``language`` (None when it has none beyond "H:MM"), and the
    locale's name for the afternoon."""
    from basics.language import cldr_locale

    locale = cldr_locale(language)
    if locale is None:
        return None, ""
    names = locale.day_periods.get("format", {}).get("abbreviated", {})
    periods = [str(names[k]) for k in ("am", "pm") if names.get(k)]
    patterns = [str(locale.time_formats[k].pattern) for k in ("short", "medium", "long", "full")]
    patterns += [str(locale.datetime_skeletons[k]) for k in ("H", "h", "Hm", "hm") if k in locale.datetime_skeletons]
    regexes = sorted({r for p in patterns if (r := _pattern_regex(p, periods)) is not None}, key=len, reverse=True)
    if not regexes:
        return None, ""
    # A name may appear once in a regex: number each alternative's groups (hour0, minute0, …)
    numbered = [re.sub(r"\(\?P<(hour|minute|period)>", lambda m, i=i: f"(?P<{m.group(1)}{i}>", r) for i, r in enumerate(regexes)]
    union = "|".join(rf"(?<![\d:.])(?:{r})(?!\d)" for r in numbered)
    return re.compile(union, re.IGNORECASE), _squeeze(str(names.get("pm", "")))


def _squeeze(period: str) -> str:
    """A day period's name without spaces, lower case: "p. m." and CLDR's "p.\u202fm." are one name."""
    return "".join(period.split()).lower()


def _group(m: re.Match, name: str) -> str | None:
    return next((v for k, v in m.groupdict().items() if k.rstrip("0123456789") == name and v is not None), None)


def clock_spans(text: str, language: str = "") -> list[tuple[int, int, str]]:
    """(start, end, "H:MM") of each clock time in ``text``: "14:00", "9.30", "9h30" in any language, and the
    locale's own forms of ``language`` ("10시 30분" -> "10:30", "2 PM" -> "14:00", "14 Uhr" -> "14:00")."""
    spans: list[tuple[int, int, str]] = []
    pattern, afternoon = _locale_clock(language) if language else (None, "")
    if pattern is not None:  # first: "2:30 م" is 14:30, not the 2:30 that "H:MM" alone reads
        for m in pattern.finditer(text):
            if not m.group().strip():
                continue
            hour, minute, period = int(_group(m, "hour")), _group(m, "minute") or "00", _group(m, "period")
            if period and _squeeze(period) == afternoon and hour < 12:
                hour += 12
            if hour <= 24 and int(minute) < 60:
                spans.append((m.start(), m.start() + len(m.group().rstrip()), f"{hour}:{int(minute):02d}"))
    spans += [(m.start(), m.end(), f"{int(m.group(1))}:{m.group(2)}") for m in TIME.finditer(text)
              if not any(s < m.end() and m.start() < e for s, e, _ in spans)]
    return sorted(spans)


def clock_times(text: str, language: str = "") -> list[str]:
    """The clock times of ``text`` in order, as "14:00" ("9.30", "9h30", and in Korean "오후 2시" -> "14:00")."""
    return [time for _, _, time in clock_spans(text, language)]


def without_times(text: str, language: str = "") -> str:
    """``text`` with its clock times blanked: their digits are no numbers of their own."""
    for start, end, _ in reversed(clock_spans(text, language)):
        text = text[:start] + " " + text[end:]
    return text
