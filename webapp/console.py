"""InstructorConsole: the console's handlers (login, documents, FAQ, the course page's texts, questions to
review, fine-tuning, the active adapter, evaluation, the dashboard), each a thin method over a library call.

Every handler but ``login`` / ``logout`` starts with ``require(session, request, course)``: the session's token
and the browser key cookie it was bound to at login, both checked by ``InstructorAuth``, are the guard (Gradio
serves each handler over HTTP whether its button is shown or not, and a session id alone can be replayed);
then ``CourseAccess`` says whether that account may act on the course the call names (an admin: every course;
an instructor: the courses given to the account) or, for what all courses share, whether it is an admin.
A refusal raises ``gr.Error``, which Gradio shows in the page and returns to an HTTP caller.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import gradio as gr

from basics.errors import FAQFormatError, TutorError
from basics.text import lone_surrogate
from knowledge_base.accounts import Account
from tutor import records
from tutor.dashboard import DashboardConfig, dashboard_data, to_csv
from tutor.topics import QuestionVectors
from webapp import dashboard_view, render
from webapp.access import CourseAccess
from webapp.auth import InstructorAuth
from webapp.guard import request_browser_key
from webapp.config import AppConfig
from webapp.runtime import ActiveEngine, BackgroundJob
from webapp.student import course_choices

if TYPE_CHECKING:
    from knowledge_base import FAQEntry, KnowledgeBase
    from basics.config import Paths

log = logging.getLogger(__name__)

REFUSED = "Instructor login required: this action is only available to a logged-in instructor."
NO_ADAPTER = "(none)"
INVALID_TEXT = "The text holds a character that is not valid text (a lone UTF-16 surrogate): remove or retype it."


def client_address(request: gr.Request | None) -> str:
    """The TCP peer a request came from: the key of the login throttle."""
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or "unknown"


class InstructorConsole:
    """What an instructor's clicks do, for every instructor session at once (the session's token comes in
    as the first argument of each handler)."""

    def __init__(self, kb: "KnowledgeBase", paths: "Paths", engines: ActiveEngine, auth: InstructorAuth,
                 config: AppConfig, access: CourseAccess | None = None):
        self.kb, self.paths, self.engines, self.auth, self.config = kb, paths, engines, auth, config
        self.access = access or auth.accounts or CourseAccess(kb, config.instructor_user)
        self.question_vectors = QuestionVectors(kb.embedder)  # the dashboard's topics: each question embedded once

    # -------------------------------------------------------------------------------------- session

    def require(self, session: Any, request: gr.Request | None, course: str | None = None,
                admin: bool = False) -> Account:
        """The logged-in account, if it may act on ``course`` (None: the call names no course) or, with
        ``admin``, act as an admin; else raise: every console handler starts with this. A session whose token
        comes without the browser key it was bound to (a replayed session id) is refused and logged, and so is
        an instructor reaching for another's course."""
        key = request_browser_key(request)
        user = self.auth.user_of(session, key)
        if user is None:
            if session is not None:
                log.warning("console call refused from %s: the session holds a login but %s", client_address(request),
                            "the request has no browser key" if key is None else "not this browser's key, or it ended")
            raise gr.Error(REFUSED)
        account = self.access.who(user)
        refusal = self.access.refusal(account, course, admin)
        if refusal is not None:
            log.warning("console call refused from %s: %s may not %s", client_address(request), user,
                        "act as an admin" if admin else f"change course {course!r}")
            raise gr.Error(refusal)
        return account

    def course_choices(self, account: Account) -> list[str]:
        """The console's course picker for ``account``: an admin's lists every course (and the configured
        one); an instructor's only the account's own."""
        return course_choices(self.kb, self.config.course) if account.is_admin else self.access.courses_of(account)

    def my_courses(self, session: Any, current: str | None, request: gr.Request | None = None) -> tuple[dict, dict, str]:
        """After login -> the course picker (the account's courses, ``current`` kept if among them), the Admin
        tab (shown to admins only), and the "logged in as" line with the account's role."""
        account = self.require(session, request)
        choices = self.course_choices(account)
        preferred = [c for c in (current, self.config.course) if c in choices] or choices
        value = preferred[0] if preferred else None
        role = "admin: every course" if account.is_admin else f"instructor of {', '.join(account.courses) or 'no course yet'}"
        line = f"Logged in as **{render.safe_markdown(account.username)}** ({render.safe_markdown(role)})."
        return gr.update(choices=choices, value=value), gr.update(visible=account.is_admin), line

    def login(self, user: str, password: str, request: gr.Request | None = None) -> tuple:
        """-> session token, login form, console, login message, "logged in as" line. The page replaced its
        browser key just before (``guard.ROTATE_PATH``); the token is bound to the new one."""
        if lone_surrogate(user) is not None or lone_surrogate(password) is not None:
            return None, gr.update(visible=True), gr.update(visible=False), INVALID_TEXT, ""
        result = self.auth.login(user, password, client_address(request), request_browser_key(request))
        if result.token is None:
            return None, gr.update(visible=True), gr.update(visible=False), result.message, ""
        return result.token, gr.update(visible=False), gr.update(visible=True), "", result.message

    def logout(self, session: Any = None, request: gr.Request | None = None) -> tuple:
        """Forget the token and revoke the login bound to this browser's key (the page then replaces the key)."""
        if self.auth.user_of(session, request_browser_key(request)) is not None:
            self.auth.revoke(request_browser_key(request))
        return None, gr.update(visible=True), gr.update(visible=False), "", ""

    # ------------------------------------------------------------------------------------ documents

    def _documents(self, course: str) -> tuple[list[list], dict]:
        """The documents table and the delete dropdown, both fresh."""
        docs = self.kb.list_documents(course or None)
        return render.documents_table(docs), gr.update(choices=[d.name for d in docs], value=None)

    def load_console(self, session: Any, course: str, request: gr.Request | None = None) -> tuple:
        """-> documents table, delete dropdown, FAQ table, review table, then the course page's title,
        description, welcome and preview, of ``course``."""
        self.require(session, request, course or "")
        return (*self._documents(course), self._faq_table(course), self._review_table(course), *self._course_texts(course))

    def upload_documents(self, session: Any, course: str, files: list[str] | None, request: gr.Request | None = None) -> tuple:
        """Add or replace each file; one result row per file (a bad file does not stop the others). Uploading to
        a course that does not exist creates it, which only an admin may do."""
        course = (course or "").strip()
        account = self.require(session, request, course)
        if lone_surrogate(course) is not None:
            raise gr.Error(INVALID_TEXT)
        if not course:
            raise gr.Error("Pick or type a course name first.")
        if not files:
            raise gr.Error("Choose one or more files to upload.")
        rows = []
        for f in files:
            name = Path(f).name
            try:
                res = self.kb.add_file(Path(f), course, name=name)
                rows.append([name, res.status, res.chunks, res.error or ""])
            except TutorError as exc:  # IngestError names the server's temp path: show its reason
                rows.append([name, "error", 0, getattr(exc, "reason", str(exc))])
        return (rows, *self._documents(course), gr.update(choices=self.course_choices(account)))

    def delete_document(self, session: Any, course: str, name: str | None, request: gr.Request | None = None) -> tuple:
        self.require(session, request, course or "")
        if not name:
            raise gr.Error("Pick the document to delete.")
        ok = self.kb.delete(course, name)
        msg = f"Deleted **{name}** from {course}." if ok else f"{name} is not in {course}."
        return (msg, *self._documents(course))

    # ------------------------------------------------------------------------------------------ FAQ

    def _faq_table(self, course: str) -> list[list]:
        return render.faq_table(self.kb.faq(course))

    def upload_faq(self, session: Any, course: str, file: str | None, request: gr.Request | None = None) -> tuple[str, list, list]:
        """Validate the whole file first: any bad row and the course keeps its old FAQ."""
        self.require(session, request, course or "")
        from knowledge_base import load_faq

        if not file:
            raise gr.Error("Choose an FAQ file (CSV or JSONL).")
        try:
            entries = load_faq(Path(file))
        except FAQFormatError as exc:
            rows = [[row, msg] for row, msg in exc.problems]
            return f"⚠️ {Path(file).name}: {len(exc.problems)} problem(s); nothing was changed.", rows, self._faq_table(course)
        except TutorError as exc:
            return f"⚠️ {exc}", [], self._faq_table(course)
        n = self.kb.set_faq(course, entries)
        return f"Loaded {n} FAQ entries into {course}.", [], self._faq_table(course)

    # ------------------------------------------------------------------------------ course page

    def _course_texts(self, course: str) -> tuple[str, str, str, str]:
        """(title, description, welcome, preview of the student's header); blank for a course not created yet."""
        try:
            info = self.kb.course_info(course)
        except TutorError:
            return "", "", "", ""
        return info.title, info.description, info.welcome, render.course_header(info)

    def save_course_info(self, session: Any, course: str, title: str, description: str, welcome: str,
                         request: gr.Request | None = None) -> tuple[str, str]:
        """Store what the student page says about ``course`` (a blank title shows the course id) -> message,
        preview. A text that is too long changes nothing and says which one."""
        self.require(session, request, course or "")
        try:
            info = self.kb.set_course_info(course, title=title or "", description=description or "", welcome=welcome or "")
        except TutorError as exc:
            return f"⚠️ {render.safe_markdown(str(exc))}", gr.update()
        return f"Saved: students of {render.safe_markdown(course)} now see the page below.", render.course_header(info)

    # ------------------------------------------------------------------------------ review queue

    def _review_table(self, course: str) -> list[list]:
        return render.review_table(records.review_queue(self.kb.db, course=course or None, limit=self.config.review_limit))

    def refresh_review(self, session: Any, course: str, request: gr.Request | None = None) -> list[list]:
        self.require(session, request, course or "")
        return self._review_table(course)

    def pick_review(self, session: Any, rows: Any, evt: gr.SelectData, request: gr.Request | None = None) -> tuple[str, str]:
        """A click on a review row puts its question into the FAQ form."""
        self.require(session, request)
        r = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        values = rows.values.tolist() if hasattr(rows, "values") else rows
        if not values or r >= len(values):
            return "", ""
        return values[r][2], ""

    def add_to_faq(self, session: Any, course: str, question: str, answer: str, request: gr.Request | None = None) -> tuple:
        self.require(session, request, course or "")
        if any(lone_surrogate(text) is not None for text in (course, question, answer)):
            raise gr.Error(INVALID_TEXT)
        if not (question or "").strip() or not (answer or "").strip():
            raise gr.Error("Both the question and the instructor's answer are needed for an FAQ entry.")
        self.kb.add_faq_entry(course, question.strip(), answer.strip())
        return f"Added to the FAQ of {course}: “{question.strip()}”", self._faq_table(course), self._review_table(course), "", ""

    # ------------------------------------------------------------------------------------ dashboard

    def dashboard(self, session: Any, course: str, days: Any, request: gr.Request | None = None) -> tuple:
        """-> summary, questions-per-day plot, outcomes plot, topics, never-cited documents, questions the FAQ now
        answers, CSV files: ``course`` over the last ``days`` days (``dashboard_view.outputs``). A course that
        does not exist or a wrong number of days is a message, with the plots and tables emptied."""
        self.require(session, request, course or "")
        try:
            # "the FAQ answers it now": from the cosine at which the engine students use answers with the FAQ
            config = DashboardConfig(days=DashboardConfig.days if days is None else days,
                                     faq_threshold=self.engines.engine.config.faq_threshold)
            data = dashboard_data(self.kb, course, config, vectors=self.question_vectors)
        except TutorError as exc:
            return f"⚠️ {render.safe_markdown(str(exc))}", None, None, [], [], [], None
        return dashboard_view.outputs(data, to_csv(data, Path(tempfile.mkdtemp(prefix="tutor-dashboard-"))))

    # ------------------------------------------------------------------- training and evaluation

    def _faq_for(self, course: str, file: str | None, purpose: str) -> tuple["Path | list[FAQEntry]", str]:
        """(what finetune reads, how to name it): the chosen file, else the course's FAQ as the knowledge
        base holds it (entries, no temporary file)."""
        if file:
            return Path(file), Path(file).name
        from finetune.data import read_faq_data

        entries = self.kb.faq(course)
        if not entries:
            raise gr.Error(f"Course {course} has no FAQ yet: upload an FAQ file first (or choose one for {purpose}).")
        return entries, read_faq_data(entries).source  # "course C FAQ (N entries)", as the adapter card says

    def _adapter_names(self) -> list[str]:
        from tutor.adapters import list_adapters

        return [card["name"] for card in list_adapters(self.paths)]

    def adapter_choices(self, session: Any, request: gr.Request | None = None) -> dict:
        self.require(session, request)
        return gr.update(choices=[NO_ADAPTER] + self._adapter_names())

    def start_training(self, session: Any, course: str, file: str | None, name: str, epochs: float, request: gr.Request | None = None) -> Iterator[tuple[str, dict]]:
        """Train in a worker thread and stream its progress events into the page's log."""
        self.require(session, request, course or "")
        from finetune.train import TrainConfig, train_adapter

        name = (name or "").strip()
        if not name:
            raise gr.Error("Give the adapter a name (letters, digits, - and _).")
        faq, label = self._faq_for(course, file, "training")
        train_config = TrainConfig(base=self.config.model, epochs=float(epochs or 3), show_progress=False)
        job = BackgroundJob(lambda progress: train_adapter(faq, name, train_config, self.paths, kb=self.kb, progress=progress),
                            name=f"train-{name}")
        lines = [f"Training adapter {name} on {label} (base {self.config.model}, {train_config.epochs:g} epochs)…"]
        for event in job.events():
            if event is not None:
                lines.append(render.progress_line(event))
            yield "\n".join(lines[-200:]), gr.update()
        if job.error is not None:
            lines.append(f"⚠️ Training failed: {job.error}")
        else:
            lines.append(f"Done: adapter {name} saved to {job.result.get('path')}. Pick it below to use it.")
        yield "\n".join(lines[-200:]), gr.update(choices=[NO_ADAPTER] + self._adapter_names())

    def use_adapter(self, session: Any, name: str | None, request: gr.Request | None = None) -> str:
        """Switch every student to ``name`` (or the base model); the model loads before anyone is switched. Every
        course's students get the one adapter, so only an admin switches it."""
        self.require(session, request, admin=True)
        adapter = None if name in (None, "", NO_ADAPTER) else name
        try:
            self.engines.use_adapter(adapter)
        except TutorError as exc:
            return f"⚠️ {exc} (still using {self.engines.adapter or 'the base model'})"
        return f"Students are now answered by {self.config.model}" + (f" + adapter **{adapter}**." if adapter else " (no adapter).")

    def run_eval(self, session: Any, course: str, file: str | None, limit: float | None, request: gr.Request | None = None) -> tuple[str, str]:
        """Evaluate the active adapter (or base) on the file or the course FAQ; show its report."""
        self.require(session, request, course or "")
        from finetune.evaluate import EvalConfig, run_evaluation

        faq, _ = self._faq_for(course, file, "evaluation")
        eval_config = EvalConfig(course=course, adapter=self.engines.adapter, model=self.config.model,
                                 limit=int(limit) if limit else None, show_progress=False)
        out_dir = self.paths.reports_dir / f"{course}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
        try:
            result = run_evaluation(faq, eval_config, self.paths, kb=self.kb, out_dir=out_dir)
        except TutorError as exc:
            return f"⚠️ {exc}", ""
        page = (result.out_dir / "report.html").read_text(encoding="utf-8")
        return f"Report written to `{result.out_dir}` ({len(result.rows)} rows).", render.report_frame(page)
