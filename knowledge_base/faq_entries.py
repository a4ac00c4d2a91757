"""``FAQEntry`` and the checks that turn one raw FAQ record into one, with a message per problem.

A record is what a file row says, as a dict: a CSV row keyed by its header, a JSON object, or a chat
``messages`` object (optional ``system`` turns, the first ``user`` turn is the question, the last
``assistant`` turn is the answer). ``validate_record`` appends ``(row, message)`` to ``problems`` instead of
raising, so ``load_faq`` (``faq_files.py``) reports every bad row of a file at once; ``check_duplicates``
flags repeated questions across rows. Separate from the file formats so the rules for what a valid entry
is sit in one short module that reads top to bottom.

Cells are data, never code: nothing here evaluates or templates what a row says.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

REQUIRED_COLUMNS = ("question", "answer")
OPTIONAL_COLUMNS = ("course", "source", "language", "answerable", "must_include", "also_accepted")
TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}

Problems = list[tuple[int, str]]  # (row, message); row 0 = the whole file
Bad = Callable[[str], None]  # records one problem of the row being validated


@dataclass
class FAQEntry:
    """One question/answer pair. ``row`` is where it came from (for messages), ``id`` its database id."""

    question: str
    answer: str
    course: str | None = None
    source: str | None = None
    language: str | None = None
    answerable: bool = True
    row: int = 0
    id: int | None = None
    must_include: tuple[tuple[str, ...], ...] = ()  # key facts, each with accepted spellings (evaluation)
    # Other reference answers that the answer scores accept (evaluation): SQuAD's other annotators' spans.
    # F1 and EM take the best reference, as the official SQuAD script does.
    also_accepted: tuple[str, ...] = ()

    @property
    def references(self) -> tuple[str, ...]:
        """The answer and every other accepted reference, the answer first."""
        return (self.answer, *(a for a in self.also_accepted if a != self.answer))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FAQLimits:
    """Bounds that keep one bad upload from filling the database or the training set.

    The answer limit is generous (a worked answer with code fits) while still far below what a
    135M-parameter model could learn to produce; the file limit stops a mistaken multi-GB upload
    before it is read into memory.
    """

    max_question_chars: int = 2000
    max_answer_chars: int = 8000
    max_rows: int = 100_000
    max_file_mb: float = 50.0
    control_char_ratio: float = 0.01  # more unprintable characters than this: treat as binary


def validate_record(row: int, raw: dict[str, Any], problems: Problems, limits: FAQLimits,
                     words_ok: bool = False) -> FAQEntry | None:
    """One record -> ``FAQEntry``, or None after appending this row's problems. ``words_ok``: a CSV
    cell can only be text, so there ``answerable`` may be true/false/yes/no/1/0; JSON has booleans."""
    before = len(problems)

    def bad(msg: str) -> None:
        problems.append((row, msg))

    answerable = _parse_answerable(raw.get("answerable"), words_ok, bad)
    if "messages" in raw:
        question, answer = _from_messages(raw["messages"], answerable is False, bad)
        if question is None:
            return None
    else:
        for key in REQUIRED_COLUMNS:
            if key not in raw and not (key == "answer" and answerable is False):
                bad(f"missing '{key}' (expected keys 'question' and 'answer', or 'messages')")
        question = _text_field(raw, "question", bad)
        answer = _text_field(raw, "answer", bad)
    extras = {key: _text_field(raw, key, bad) for key in ("course", "source", "language")}
    must_include = _parse_must_include(raw.get("must_include"), bad)
    also_accepted = _parse_also_accepted(raw.get("also_accepted"), bad)
    if len(problems) > before:
        return None

    question, answer = (question or "").strip(), (answer or "").strip()
    if not question:
        bad("empty question")
    elif len(question) > limits.max_question_chars:
        bad(f"question is {len(question)} characters, the limit is {limits.max_question_chars} "
            "(FAQLimits.max_question_chars)")
    if not answer and answerable is not False:
        bad("empty answer (write the answer, or set answerable to false for a question the tutor "
            "should refuse)")
    elif len(answer) > limits.max_answer_chars:
        bad(f"answer is {len(answer)} characters, the limit is {limits.max_answer_chars} "
            "(FAQLimits.max_answer_chars)")
    if len(problems) > before:
        return None
    language = extras["language"].strip().lower() if extras["language"] else None
    return FAQEntry(
        question=question,
        answer=answer,
        course=(extras["course"] or "").strip() or None,
        source=(extras["source"] or "").strip() or None,
        language=language or None,
        answerable=answerable is not False,
        row=row,
        must_include=must_include,
        also_accepted=also_accepted,
    )


def _parse_must_include(value: Any, bad: Bad) -> tuple[tuple[str, ...], ...]:
    """``[["9,216", "9216"], ["B214"]]`` (JSON) or ``"9,216|9216; B214"`` (CSV) -> tuple of spelling tuples."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [[alt for alt in fact.split("|")] for fact in value.split(";")]
    if not isinstance(value, list) or not all(isinstance(f, list) and f and all(isinstance(a, str) for a in f)
                                              for f in value):
        bad("'must_include' must be a list of lists of strings (JSON) or 'a|b; c' (CSV)")
        return ()
    facts = tuple(tuple(a.strip() for a in fact if a.strip()) for fact in value)
    return tuple(f for f in facts if f)


def _parse_also_accepted(value: Any, bad: Bad) -> tuple[str, ...]:
    """``["Denver Broncos", "the Broncos"]`` (JSON) or ``"Denver Broncos|the Broncos"`` (CSV) -> tuple."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = value.split("|")
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        bad("'also_accepted' must be a list of strings (JSON) or 'a|b' (CSV)")
        return ()
    return tuple(dict.fromkeys(a.strip() for a in value if a.strip()))


def _text_field(raw: dict, key: str, bad: Bad) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    bad(f"'{key}' must be a string, got {type_name(value)}")
    return None


def _parse_answerable(value: Any, words_ok: bool, bad: Bad) -> bool | None:
    """A boolean, or (CSV only) the words a spreadsheet writes; None/empty = unset (answerable)."""
    if value is None or isinstance(value, bool):
        return value
    if words_ok and isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return None
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    bad(f"'answerable' must be true or false, got {value!r}")
    return None


def _from_messages(messages: Any, unanswerable: bool, bad: Bad) -> tuple[str | None, str | None]:
    """(first user turn, last assistant turn) of a chat; the layout is [system*] user (assistant|user)*
    ending in assistant. A refusal row (``answerable: false``) may omit the assistant turn."""
    if not isinstance(messages, list) or not messages:
        bad(f"'messages' must be a non-empty list of {{role, content}} objects, got {type_name(messages)}")
        return None, None
    roles = []
    for i, m in enumerate(messages, start=1):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            bad(f"message {i} must be an object with 'role' and 'content'")
            return None, None
        if m["role"] not in ("system", "user", "assistant"):
            bad(f"message {i} has unknown role {m['role']!r} (expected system, user or assistant)")
            return None, None
        if not isinstance(m.get("content"), str):
            bad(f"message {i} ('{m['role']}') content must be a string, got {type_name(m.get('content'))}")
            return None, None
        roles.append(m["role"])
    first_user = roles.index("user") if "user" in roles else -1
    if first_user < 0:
        bad("unknown role layout: no 'user' message (expected [system] user assistant)")
        return None, None
    if "system" in roles[first_user:]:
        bad("unknown role layout: a 'system' message after the first 'user' message "
            "(expected [system] user assistant)")
        return None, None
    if roles[-1] != "assistant" and not (unanswerable and "assistant" not in roles):
        bad(f"unknown role layout: the last message is '{roles[-1]}', expected 'assistant' "
            "(the answer)")
        return None, None
    answer = messages[-1]["content"] if roles[-1] == "assistant" else ""
    return messages[first_user]["content"], answer


def check_duplicates(entries: list[FAQEntry], problems: Problems) -> None:
    """Flag repeated questions (same course, same words ignoring case and spacing): two answers to one
    question make FAQ matching arbitrary and teach a fine-tuned model two targets."""
    seen: dict[tuple[str, str], int] = {}
    for e in entries:
        key = (e.course or "", normalize_question(e.question))
        if key in seen:
            problems.append((e.row, f"duplicate question: rows {seen[key]} and {e.row} ask the same "
                                    "question; keep one of them"))
        else:
            seen[key] = e.row


def normalize_question(text: str) -> str:
    """Case- and whitespace-insensitive form of a question, used for duplicate detection."""
    return " ".join(text.split()).casefold()


def type_name(value: Any) -> str:
    """How a JSON value is named in a message: "an object", "a list", "a number", ..."""
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
