"""AdminConsole: the handlers of the console's Admin tab (courses: create, publish; accounts: create or change,
remove), each a thin method over ``knowledge_base.accounts``, the functions ``tutor admin`` calls too.

Every handler starts with ``InstructorConsole.require(..., admin=True)``: the tab is shown to admins only, but
Gradio serves its handlers to any caller, so hiding it is no guard. A refused change (a weak password, a course
that does not exist, the last admin) is a message and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import gradio as gr

from basics.errors import TutorError
from basics.text import lone_surrogate
from knowledge_base import accounts
from webapp.console import INVALID_TEXT, InstructorConsole, client_address
from webapp.render import safe_markdown

log = logging.getLogger(__name__)

ACCOUNT_HEADERS = ["account", "role", "courses", "created"]
COURSE_HEADERS = ["course", "title", "students see it", "instructors"]


def _text(value: Any) -> str:
    """A text input as typed (Gradio may send None), refused when it holds a lone surrogate."""
    text = value if isinstance(value, str) else ""
    if lone_surrogate(text) is not None:
        raise gr.Error(INVALID_TEXT)
    return text.strip()


class AdminConsole:
    """What an admin's clicks on the Admin tab do; shares the instructor console's login and access checks."""

    def __init__(self, console: InstructorConsole):
        self.console = console
        self.kb, self.access = console.kb, console.access

    def _tables(self) -> tuple[list[list], list[list], dict, dict, dict]:
        """-> accounts table, courses table, the account picker, the publish form's course picker, the account
        form's courses (all fresh; the pickers keep their value)."""
        found = accounts.list_accounts(self.kb.db)
        account_rows = [[a.username, "admin" if a.is_admin else "instructor", ", ".join(a.courses), a.created_at]
                        for a in found]
        if self.access.configured_user:
            account_rows.insert(0, [self.access.configured_user, "admin (configured in the app's environment)", "", ""])
        summaries = accounts.course_summaries(self.kb)
        course_rows = [[c.name, c.title, "yes" if c.published else "no", ", ".join(c.instructors)] for c in summaries]
        names = [c.name for c in summaries]
        return (account_rows, course_rows, gr.update(choices=[a.username for a in found]),
                gr.update(choices=names), gr.update(choices=names))

    def load(self, session: Any, request: gr.Request | None = None) -> tuple:
        """-> ``_tables``: what the tab shows when opened."""
        self.console.require(session, request, admin=True)
        return self._tables()

    def create_course(self, session: Any, course: str, title: str, publish: bool,
                      request: gr.Request | None = None) -> tuple:
        """-> message, then ``load``'s outputs. A course id in use, a bad id or a title too long: a message."""
        self.console.require(session, request, admin=True)
        course, title = _text(course), _text(title)
        try:
            summary = accounts.create_course(self.kb, course, title, bool(publish))
        except TutorError as exc:
            return (f"⚠️ {safe_markdown(str(exc))}", *self._tables())
        state = "students see it" if summary.published else "unpublished: students do not see it until you publish it"
        return (f"Created course **{safe_markdown(summary.name)}** ({state}).", *self._tables())

    def set_published(self, session: Any, course: str | None, published: bool,
                      request: gr.Request | None = None) -> tuple:
        """-> message, then ``load``'s outputs: show ``course`` to students, or hide it from them."""
        self.console.require(session, request, admin=True)
        course = _text(course)
        if not course:
            return ("⚠️ Pick the course to publish or unpublish.", *self._tables())
        try:
            accounts.set_published(self.kb.db, course, bool(published))
        except TutorError as exc:
            return (f"⚠️ {safe_markdown(str(exc))}", *self._tables())
        done = "published: students see it" if published else "unpublished: students no longer see it"
        return (f"Course **{safe_markdown(course)}** {done}.", *self._tables())

    def pick_account(self, session: Any, username: str | None, request: gr.Request | None = None) -> tuple:
        """A pick in the account list fills the form -> username, password (blank), admin flag, courses."""
        self.console.require(session, request, admin=True)
        found = accounts.get_account(self.kb.db, _text(username))
        if found is None:
            return "", "", False, gr.update(value=[])
        return found.username, "", found.is_admin, gr.update(value=list(found.courses))

    def save_account(self, session: Any, username: str, password: str, is_admin: bool, courses: list[str] | None,
                     request: gr.Request | None = None) -> tuple:
        """Create the account, or change an existing one (a blank password keeps its password) -> message, the
        password box emptied, then ``load``'s outputs."""
        me = self.console.require(session, request, admin=True)
        username, password = _text(username), password if isinstance(password, str) else ""
        if lone_surrogate(password) is not None:
            raise gr.Error(INVALID_TEXT)
        if self.access.configured_user and username.casefold() == self.access.configured_user.casefold():
            return (f"⚠️ {safe_markdown(username)} is the instructor configured in the app's environment: change "
                    "that login there, not here.", "", *self._tables())
        exists = accounts.get_account(self.kb.db, username) is not None
        try:
            saved = accounts.save_account(self.kb.db, username, password=password or None, admin=bool(is_admin),
                                          courses=list(courses or []), create=not exists,
                                          other_admins=self.access.other_admins, config=self.access.config)
        except TutorError as exc:
            return (f"⚠️ {safe_markdown(str(exc))}", "", *self._tables())
        log.info("admin %s %s account %s (from %s)", me.username, "changed" if exists else "created", saved.username,
                 client_address(request))
        role = "an admin" if saved.is_admin else f"instructor of {', '.join(saved.courses) or 'no course yet'}"
        verb = "Saved" if exists else "Created"
        return (f"{verb} account **{safe_markdown(saved.username)}**: {safe_markdown(role)}.", "", *self._tables())

    def remove_account(self, session: Any, username: str | None, request: gr.Request | None = None) -> tuple:
        """-> message, then ``load``'s outputs. The last admin stays (and says why)."""
        me = self.console.require(session, request, admin=True)
        username = _text(username)
        if not username:
            return ("⚠️ Pick the account to remove.", *self._tables())
        try:
            accounts.remove_account(self.kb.db, username, other_admins=self.access.other_admins)
        except TutorError as exc:
            return (f"⚠️ {safe_markdown(str(exc))}", *self._tables())
        log.info("admin %s removed account %s (from %s)", me.username, username, client_address(request))
        return (f"Removed account **{safe_markdown(username)}**; its courses stay.", *self._tables())
