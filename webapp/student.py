"""StudentChat: the chat page's handlers (the course's header and example questions, streamed answers, 👍/👎
feedback, new conversation, export).

A conversation lives in the session's ``gr.State`` as a list of turns (question, answer, citations, outcome,
question id); each handler takes that list and returns what the page's components show next. Nothing here
answers or stores anything itself: the engine answers, ``tutor.records`` keeps the feedback.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Iterator

import gradio as gr

from basics.errors import ConfigError, TutorError
from basics.text import replace_surrogates
from knowledge_base.course_info import CourseInfo
from tutor import records
from tutor.citations import SourcesFound
from tutor.runtime.generators.base import QueueWait
from webapp.render import chat_messages, citation_dicts, course_header, engine_history, write_exports
from webapp.runtime import ActiveEngine

if TYPE_CHECKING:
    from knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

ChatUpdate = tuple[list[dict], list[dict], str, str]  # chatbot messages, turns, question box, notice
CoursePage = tuple  # header Markdown, then one update per example question button


def course_choices(kb: "KnowledgeBase", default: str) -> list[str]:
    """The knowledge base's courses, with the configured one first when it holds nothing yet."""
    names = kb.courses()
    return names if default in names else [default] + names


def course_options(kb: "KnowledgeBase", default: str) -> list[tuple[str, str]]:
    """The student's course picker: (title, course id) pairs, so the picker shows titles while its value, what
    the handlers get, stays the id. Two courses of the same title are told apart by their ids."""
    titles = kb.course_titles()
    if default not in titles:
        titles = {default: default, **titles}
    repeated = Counter(titles.values())
    return [(title if repeated[title] == 1 else f"{title} ({name})", name) for name, title in titles.items()]


class StudentChat:
    """What a student's clicks do. Shared by all sessions: per-session data comes in as arguments."""

    def __init__(self, kb: "KnowledgeBase", engines: ActiveEngine, default_course: str):
        self.kb, self.engines, self.default_course = kb, engines, default_course

    def courses(self) -> list[tuple[str, str]]:
        return course_options(self.kb, self.default_course)

    @property
    def n_examples(self) -> int:
        """How many example question buttons the page holds (``KBConfig.course_examples``)."""
        return self.kb.config.course_examples

    def course_view(self, course: str) -> tuple[str, list[str]]:
        """(header Markdown, example questions) of ``course``: the title, description and welcome, and one
        question per example button ("" for a button the course has no example for)."""
        try:
            info, missing = self.kb.course_info(course), False
        except ConfigError:  # a course with nothing in it yet (the configured one on a fresh server)
            info, missing = CourseInfo(course, replace_surrogates(course)), True
        questions = info.examples[: self.n_examples]
        return course_header(info, missing), questions + [""] * (self.n_examples - len(questions))

    def course_page(self, course: str) -> CoursePage:
        """-> the header of ``course`` and one update per example button: shown with its question, or hidden
        where the course offers fewer examples than the page has buttons."""
        header, questions = self.course_view(course)
        return (header, *(gr.update(value=q, visible=bool(q)) for q in questions))

    def pick_example(self, question: str) -> str:
        """A click on an example puts its question into the box; the page then asks it with the Send handler,
        so an example is answered exactly as if the student had typed it."""
        return question

    def respond(self, question: str, course: str, turns: list[dict] | None) -> Iterator[ChatUpdate]:
        """Stream one answer. Any failure becomes a message in the chat; the session carries on."""
        turns = list(turns or [])
        question = (question or "").strip()
        course = replace_surrogates(course)  # a forged course name is echoed in messages: it must encode
        engine = self.engines.engine  # the whole answer comes from one engine, even if an adapter is picked meanwhile
        pending = {"question": question, "answer": "", "citations": [], "from_faq": False}
        try:
            stream = engine.answer(question, engine_history(turns), course)
            yield chat_messages(turns, pending), turns, "", ""
            for delta in stream:
                if isinstance(delta, QueueWait):  # the model is busy with other students' questions
                    pending["waiting"] = delta.ahead
                elif isinstance(delta, SourcesFound):  # retrieval is done: say where the tutor is looking
                    pending["searching"] = delta.labels
                else:
                    pending["answer"] += delta
                yield chat_messages(turns, pending), turns, "", ""
            result = stream.result
            pending.update(
                answer=result.answer,
                citations=citation_dicts(result),
                from_faq=result.outcome == "faq",
                outcome=result.outcome,
                language=result.language,
                question_id=result.question_id,
            )
            turns.append(pending)
            yield chat_messages(turns), turns, "", ""
        except TutorError as exc:  # empty / oversized question, model or KB problem: say what to do
            log.info("question refused: %s", exc)
            yield chat_messages(turns), turns, replace_surrogates(question), f"⚠️ {exc}"
        except Exception as exc:  # noqa: BLE001 - one bad request must not end the student's session
            log.exception("answering failed")
            turns.append({"question": question, "error": f"Sorry, something went wrong while answering ({type(exc).__name__}). Please try again."})
            yield chat_messages(turns), turns, "", ""

    def feedback(self, turns: list[dict] | None, like: gr.LikeData) -> str:
        """Store a 👍/👎 on the rated answer's logged question; the notice thanks the student."""
        index = like.index[0] if isinstance(like.index, (list, tuple)) else like.index
        turns = turns or []
        turn = turns[index // 2] if 0 <= index // 2 < len(turns) else None
        if not turn or not turn.get("question_id"):
            return "This message cannot be rated."
        rating = 1 if like.liked is True or like.liked == "Like" else -1
        if like.liked is None or like.liked == "":
            return ""  # the student took the rating back; keep what was stored
        try:
            records.add_feedback(self.kb.db, turn["question_id"], rating)
        except TutorError as exc:
            return f"⚠️ {exc}"
        return "Thanks for the feedback 👍" if rating > 0 else "Thanks — the instructor will review this answer."

    def new_conversation(self) -> ChatUpdate:
        return [], [], "", ""

    def export(self, turns: list[dict] | None, course: str) -> tuple[dict, str]:
        if not turns:
            return gr.update(value=None, visible=False), "Nothing to export yet: ask a question first."
        return gr.update(value=write_exports(turns, course), visible=True), ""

    def refresh_courses(self, current: str) -> dict:
        """The picker when a page loads: courses and titles as they are now (added or renamed since the server
        started), the page's course kept if it still exists."""
        options = self.courses()
        names = [name for _, name in options]
        return gr.update(choices=options, value=current if current in names else self.default_course)
