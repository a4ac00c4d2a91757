"""StudentChat: the chat page's handlers (the course's header and example questions, streamed answers, 👍/👎
feedback, new conversation, export, and the history a browser keeps).

A conversation lives in the session's ``gr.State`` as a list of turns (question, answer, citations, outcome,
question id), next to a second State with the id it is kept under in the history (None until its first
answer); each handler takes them and returns what the page's components show next. Nothing here answers or
stores anything itself: the engine answers, ``tutor.records`` keeps the feedback, ``tutor.conversations``
the history.

Whose history: the owner is derived from the browser key cookie (``webapp.guard``, HttpOnly) that Gradio hands
each handler in its ``gr.Request``, never from anything the page sends as data. A request without the cookie
keeps and sees nothing.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from typing import TYPE_CHECKING, Iterator

import gradio as gr

from basics.errors import ConfigError, TutorError
from basics.text import replace_surrogates
from knowledge_base import accounts
from knowledge_base.course_info import CourseInfo
from tutor import conversations, records
from tutor.citations import SourcesFound
from tutor.conversations import HistoryConfig
from tutor.runtime.generators.base import QueueWait
from webapp.access import not_offered, requested_course
from webapp.guard import request_browser_key
from webapp.render import chat_messages, citation_dicts, course_header, engine_history, write_exports
from webapp.runtime import ActiveEngine

if TYPE_CHECKING:
    from knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)

ChatUpdate = tuple[list[dict], list[dict], int | None, str, str]  # chatbot messages, turns, kept id, question box, notice
NO_COOKIE = "History is off: your browser sent no cookie. Allow cookies for this site to keep your conversations."
CoursePage = tuple  # header Markdown, then one update per example question button


def course_choices(kb: "KnowledgeBase", default: str) -> list[str]:
    """The knowledge base's courses, with the configured one first when it holds nothing yet."""
    names = kb.courses()
    return names if default in names else [default] + names


def course_options(kb: "KnowledgeBase", default: str) -> list[tuple[str, str]]:
    """The student's course picker: (title, course id) pairs, so the picker shows titles while its value, what
    the handlers get, stays the id. Two courses of the same title are told apart by their ids. Only published
    courses are offered (``knowledge_base.accounts``), the configured one included."""
    hidden = accounts.unpublished_courses(kb.db)
    titles = {name: title for name, title in kb.course_titles().items() if name not in hidden}
    if default not in titles and default not in hidden:
        titles = {default: default, **titles}
    repeated = Counter(titles.values())
    return [(title if repeated[title] == 1 else f"{title} ({name})", name) for name, title in titles.items()]


class StudentChat:
    """What a student's clicks do. Shared by all sessions: per-session data comes in as arguments."""

    def __init__(self, kb: "KnowledgeBase", engines: ActiveEngine, default_course: str,
                 history: HistoryConfig | None = None):
        self.kb, self.engines, self.default_course = kb, engines, default_course
        self.history = history or HistoryConfig()
        conversations.ensure_schema(kb.db)
        accounts.ensure_schema(kb.db)

    def courses(self) -> list[tuple[str, str]]:
        return course_options(self.kb, self.default_course)

    def offered(self) -> set[str]:
        """The course ids a student may use: those the picker offers. Handlers check a course against it, since
        a forged call can name any id."""
        return {name for _, name in self.courses()}

    def start_course(self) -> str:
        """The course a page opens on: the configured one while it is offered, else the first that is."""
        names = [name for _, name in self.courses()]
        return self.default_course if self.default_course in names or not names else names[0]

    @property
    def n_examples(self) -> int:
        """How many example question buttons the page holds (``KBConfig.course_examples``)."""
        return self.kb.config.course_examples

    def course_view(self, course: str) -> tuple[str, list[str]]:
        """(header Markdown, example questions) of ``course``: the title, description and welcome, and one
        question per example button ("" for a button the course has no example for)."""
        try:
            if course not in self.offered():  # unpublished or unknown: students see nothing of it
                raise ConfigError(not_offered(course))
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

    def respond(self, question: str, course: str, turns: list[dict] | None, conversation: int | None = None,
                request: gr.Request | None = None) -> Iterator[ChatUpdate]:
        """Stream one answer, then keep the conversation in this browser's history (``conversation``: the id it
        is kept under, None for a new one). Any failure becomes a message in the chat; the session carries on."""
        turns = list(turns or [])
        question = (question or "").strip()
        course = replace_surrogates(course)  # a forged course name is echoed in messages: it must encode
        if course not in self.offered():  # unpublished, unknown, or forged: nothing is answered from it
            yield chat_messages(turns), turns, conversation, replace_surrogates(question), f"⚠️ {not_offered(course)}"
            return
        engine = self.engines.engine  # the whole answer comes from one engine, even if an adapter is picked meanwhile
        pending = {"question": question, "answer": "", "citations": [], "from_faq": False}
        try:
            stream = engine.answer(question, engine_history(turns), course)
            yield chat_messages(turns, pending), turns, conversation, "", ""
            for delta in stream:
                if isinstance(delta, QueueWait):  # the model is busy with other students' questions
                    pending["waiting"] = delta.ahead
                elif isinstance(delta, SourcesFound):  # retrieval is done: say where the tutor is looking
                    pending["searching"] = delta.labels
                else:
                    pending["answer"] += delta
                yield chat_messages(turns, pending), turns, conversation, "", ""
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
            conversation, notice = self._keep(conversation, course, turns, request)
            yield chat_messages(turns), turns, conversation, "", notice
        except TutorError as exc:  # empty / oversized question, model or KB problem: say what to do
            log.info("question refused: %s", exc)
            yield chat_messages(turns), turns, conversation, replace_surrogates(question), f"⚠️ {exc}"
        except Exception as exc:  # noqa: BLE001 - one bad request must not end the student's session
            log.exception("answering failed")
            turns.append({"question": question, "error": f"Sorry, something went wrong while answering ({type(exc).__name__}). Please try again."})
            yield chat_messages(turns), turns, conversation, "", ""

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
        """An empty chat; the next answer starts a new conversation in the history (the old one stays kept)."""
        return [], [], None, "", ""

    def export(self, turns: list[dict] | None, course: str) -> tuple[dict, str]:
        if not turns:
            return gr.update(value=None, visible=False), "Nothing to export yet: ask a question first."
        return gr.update(value=write_exports(turns, course), visible=True), ""

    def refresh_courses(self, current: str) -> dict:
        """The picker when a page loads: courses and titles as they are now (added or renamed since the server
        started), the page's course kept if it still exists."""
        options = self.courses()
        names = [name for _, name in options]
        return gr.update(choices=options, value=current if current in names else self.start_course())

    def arrive(self, current: str, request: gr.Request | None = None) -> tuple[dict, str]:
        """When a page loads -> the picker (``refresh_courses``) and a notice. A link ``/?course=ml101`` opens
        on that course when it is offered; an unknown or unpublished id says so, and the page opens as usual."""
        update, wanted = self.refresh_courses(current), requested_course(request)
        if wanted is None:
            return update, ""
        if wanted in self.offered():
            return gr.update(choices=update["choices"], value=wanted), ""
        return update, f"⚠️ {not_offered(wanted)}"

    # ---------------------------------------------------------------------------------------------- history

    def _owner(self, request: gr.Request | None) -> str | None:
        """This browser's history owner (from its key cookie), or None: no cookie, no history."""
        return conversations.owner_of(self.kb.db, request_browser_key(request))

    def _keep(self, conversation: int | None, course: str, turns: list[dict],
              request: gr.Request | None) -> tuple[int | None, str]:
        """Save the conversation after an answer -> (the id it is kept under, a notice). Keeping it must never
        cost the student the answer they just got: a refusal or a database problem is a notice, not an error."""
        owner = self._owner(request)
        if owner is None:
            return conversation, ""  # the history list says why nothing is kept
        try:
            return conversations.save_conversation(self.kb.db, owner, course, turns, conversation, self.history), ""
        except TutorError as exc:
            log.info("conversation not kept: %s", exc)
            return conversation, f"⚠️ {exc}"
        except sqlite3.Error:
            log.exception("conversation not kept")
            return conversation, "⚠️ This answer could not be saved to your history (a database problem); it is still shown here."

    def history_list(self, conversation: int | None = None, request: gr.Request | None = None) -> dict:
        """The picker of this browser's conversations ("2026-12-07 14:02 · What is LoRA?", newest first), with
        ``conversation`` selected when it is one of them. Filled when the page loads and after each answer."""
        owner = self._owner(request)
        kept = conversations.list_conversations(self.kb.db, owner, self.history.list_limit) if owner else []
        choices = [(c.label(), c.id) for c in kept]
        value = conversation if conversation in {c.id for c in kept} else None
        info = NO_COOKIE if owner is None else ("Kept for this browser only." if kept else "No conversations kept yet.")
        return gr.update(choices=choices, value=value, info=info)

    def open_conversation(self, conversation: int | None, request: gr.Request | None = None) -> tuple:
        """Show a kept conversation and continue it -> a ChatUpdate, then the course picker (set to its course
        when that is still offered). Only this browser's own conversations open: any other id is "not in your
        history", exactly like one that was deleted."""
        if conversation is None:
            return (gr.skip(),) * 6
        owner = self._owner(request)
        try:
            kept = conversations.load_conversation(self.kb.db, owner, conversation) if owner else None
        except TutorError as exc:
            return [], [], None, "", f"⚠️ {exc}", gr.skip()
        if kept is None:
            return [], [], None, "", "⚠️ That conversation is not in your history (deleted, or kept by another browser).", gr.skip()
        offered = kept.course in {name for _, name in self.courses()}
        notice = "" if offered else f"⚠️ The course of this conversation ({replace_surrogates(kept.course)}) is no longer offered."
        return (chat_messages(kept.turns), kept.turns, kept.id, "", notice,
                gr.update(value=kept.course) if offered else gr.skip())

    def ask_to_delete(self, request: gr.Request | None = None) -> tuple[dict, str]:
        """The confirmation step of "Delete my history": shows how many conversations would go."""
        owner = self._owner(request)
        count = conversations.count_conversations(self.kb.db, owner) if owner else 0
        if not count:
            return gr.update(visible=False), "There is no history to delete." if owner else NO_COOKIE
        what = "the conversation" if count == 1 else f"all {count} conversations"
        return gr.update(visible=True), f"Delete {what} kept for this browser? This cannot be undone."

    def cancel_delete(self) -> tuple[dict, str]:
        return gr.update(visible=False), ""

    def delete_history(self, request: gr.Request | None = None) -> tuple:
        """Delete every conversation this browser kept -> a cleared chat (ChatUpdate, so the open conversation is
        not saved again by the next answer), the emptied list and the hidden confirmation."""
        owner = self._owner(request)
        count = conversations.delete_conversations(self.kb.db, owner) if owner else 0
        if owner:
            log.info("a student deleted their history (%d conversations)", count)
        notice = f"Your history is deleted ({count} conversation{'s' if count != 1 else ''})." if owner else NO_COOKIE
        return [], [], None, "", notice, self.history_list(None, request), gr.update(visible=False)
