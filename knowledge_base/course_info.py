"""What a course says about itself on the student's page: ``CourseInfo`` (title, one line on what it covers,
the instructor's welcome, example questions), the checks on what an instructor writes there, and the choice of
example questions, drawn from the course without a model.

Kept apart from the facade so that the rules (what a valid title is, which questions make good examples) sit
in one short module that reads top to bottom; the SQL is in ``store.py``, like every statement of the package.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from basics.errors import ConfigError

if TYPE_CHECKING:
    import sqlite3

    from knowledge_base.store import DocumentInfo

FIELDS = ("title", "description", "welcome")
COURSE_FILE = "course.json"  # a built-in course's title, description and welcome, next to its pages


@dataclass(frozen=True)
class CourseInfoLimits:
    """Bounds on what an instructor writes about a course. The title and the description are one line each (a
    heading and the line under it; the course picker shows the title); the welcome may hold a few short
    paragraphs, and a page-long welcome would push the chat below the fold. Example questions longer than
    ``max_example_chars`` are left out: a button holding a paragraph reads as a wall of text."""

    max_title_chars: int = 120
    max_description_chars: int = 300
    max_welcome_chars: int = 2000
    max_example_chars: int = 150


@dataclass
class CourseInfo:
    """A course as its student page introduces it. ``title`` is never empty: the course id when none was
    set. ``examples``: questions the page offers to click (see ``example_questions``)."""

    name: str
    title: str
    description: str = ""
    welcome: str = ""
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


# Line breaks become spaces in a one-line field and stay in the welcome; any other control character (and a
# lone UTF-16 surrogate, which a browser can send and SQLite cannot store) is dropped: it shows nothing a
# student could read, and a bell or escape sequence written to a terminal by `tutor kb course-info` does harm.
_LINE_BREAK = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")
_SPACES = re.compile(r"[ \t]+")


def clean_text(value: str, what: str, limit: int, multiline: bool = False) -> str:
    """``value`` as stored: control characters dropped, spaces collapsed, stripped; ``ConfigError`` naming the
    field when it is not a string or is longer than ``limit`` characters. An empty result clears the field."""
    if not isinstance(value, str):
        raise ConfigError(f"the course {what} must be text, got {type(value).__name__}")
    text = _LINE_BREAK.sub("\n" if multiline else " ", value)
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cs"))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if len(text) > limit:
        raise ConfigError(f"the course {what} is {len(text)} characters long; at most {limit} are allowed: shorten it")
    return text


def clean_fields(limits: CourseInfoLimits, title: str | None = None, description: str | None = None,
                 welcome: str | None = None) -> dict[str, str]:
    """The given fields (None: left as they are), each checked and cleaned by ``clean_text``."""
    given = {"title": title, "description": description, "welcome": welcome}
    return {name: clean_text(value, name, getattr(limits, f"max_{name}_chars"), multiline=name == "welcome")
            for name, value in given.items() if value is not None}


def read_course_file(folder: Path) -> dict[str, str]:
    """The ``course.json`` of a built-in course folder (keys among ``FIELDS``); {} when it has none. Written
    by us, but checked like an instructor's text: a wrong key is an error that names the file."""
    path = folder / COURSE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable JSON object ({exc})") from exc
    if not isinstance(data, dict) or set(data) - set(FIELDS):
        raise ConfigError(f"{path}: expected a JSON object with the keys {', '.join(FIELDS)}")
    return data


def example_questions(faq: Iterable["sqlite3.Row"], documents: Iterable["DocumentInfo"], n: int,
                      limits: CourseInfoLimits) -> list[str]:
    """Up to ``n`` questions for a student to click, taken from the course itself, deterministically.

    From the FAQ when the course has one: its answerable questions in row order (the instructor's order, so
    the instructor decides which come first), the first question of each source page before a second one of
    any page, so three examples show three parts of the course rather than three questions on its first page.
    An FAQ question is also the best example to click: the tutor answers it with the instructor's vetted
    answer, at once. A question the FAQ marks unanswerable is left out (the tutor would decline it).

    Without an FAQ, one question per document title ("What does the course say about “Tokenization”?"), in
    the documents' name order; a title that is only the file's name says nothing about a topic and is skipped.
    """
    rows = [r for r in faq if r["answerable"] and len(r["question"]) <= limits.max_example_chars]
    if rows:
        firsts, rest, sources = [], [], set()
        for r in rows:
            source = r["source"] or f"row {r['id']}"  # a row that names no page counts as a page of its own
            (rest if source in sources else firsts).append(r)
            sources.add(source)
        return _distinct(r["question"] for r in firsts + rest)[:n]
    titles = (d.title for d in documents if d.title and d.title != Path(d.name).stem)
    questions = (f"What does the course say about “{t}”?" for t in titles)
    return [q for q in _distinct(questions) if len(q) <= limits.max_example_chars][:n]


def _distinct(texts: Iterable[str]) -> list[str]:
    """``texts`` without repeats (compared without case and surrounding spaces), in order."""
    seen, out = set(), []
    for text in texts:
        key = " ".join(text.split()).casefold()
        if key not in seen:
            seen.add(key)
            out.append(text.strip())
    return out
