"""CourseAccess: who a logged-in console user is and which courses they may change, the one place every console
handler asks (through ``InstructorConsole.require``).

Two kinds of users log in through the same form, with the same throttle and the same browser-bound token
(``webapp.auth``): the instructor configured in the app's environment (``TUTOR_INSTRUCTOR_USER``), who is an
admin and exists only while the app is started with it; and the accounts in the database
(``knowledge_base.accounts``, argon2 hashes), each an admin or the instructor of its courses. The configured
name wins: a database account of the same name cannot log in, so the environment's admin cannot be taken over
from the Admin tab.

Why every call reads the database again rather than trusting what the login saw: an admin who removes an
account, takes a course from it or demotes it changes what its open sessions may do at their next click, not
at the end of an 8-hour token. A removed account's session is refused like a logged-out one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from basics.text import lone_surrogate, replace_surrogates
from knowledge_base import accounts
from knowledge_base.accounts import Account, AccountsConfig
from webapp.render import safe_markdown

if TYPE_CHECKING:
    from knowledge_base import KnowledgeBase

ADMIN_ONLY = "Only an admin can do this: ask an admin of this tutor (or log in as one)."
NO_COURSE_PICKED = "Pick one of your courses first."
NO_COURSES = "Your account has no course yet: ask an admin to give you one (Admin tab or `tutor admin account assign`)."
INVALID_COURSE = "The course name holds a character that is not valid text (a lone UTF-16 surrogate): retype it."


class CourseAccess:
    """The accounts of one knowledge base, plus the configured instructor (``configured_user``, None when the
    app runs without one). Stateless apart from the database: safe to share between sessions and threads."""

    def __init__(self, kb: "KnowledgeBase", configured_user: str | None = None,
                 config: AccountsConfig | None = None):
        self.kb, self.configured_user = kb, configured_user or None
        self.config = config or AccountsConfig()
        accounts.ensure_schema(kb.db)

    @property
    def other_admins(self) -> int:
        """Admins outside the database (the configured instructor): the last database admin may then go."""
        return 1 if self.configured_user else 0

    def has_accounts(self) -> bool:
        return accounts.count_accounts(self.kb.db) > 0

    def verify(self, user: str, password: str) -> str | None:
        """The database account ``user`` / ``password`` logs in as (its stored spelling), else None. Never the
        configured user's name: that login is the environment's password only (``InstructorAuth`` checks it), and
        the decoy hash is verified instead, so that both names take as long."""
        if self.configured_user and isinstance(user, str) and user.casefold() == self.configured_user.casefold():
            accounts.verify_password(self.kb.db, "", password, self.config)  # an unknown name: the decoy
            return None
        return accounts.verify_password(self.kb.db, user, password, self.config)

    def who(self, user: str | None) -> Account | None:
        """The account a token's user name stands for now, or None (never was one, or removed since)."""
        if not user:
            return None
        if self.configured_user and user == self.configured_user:
            return Account(user, is_admin=True, configured=True)
        return accounts.get_account(self.kb.db, user)

    def courses_of(self, account: Account) -> list[str]:
        """The courses ``account`` may change: all for an admin."""
        return self.kb.courses() if account.is_admin else list(account.courses)

    def refusal(self, account: Account | None, course: str | None = None, admin: bool = False) -> str | None:
        """Why ``account`` may not act (on ``course``, or as an admin), or None when it may. ``course`` None:
        the action touches no course; "" is no course picked. An admin may act on a course that does not
        exist yet (uploading to it creates it); an instructor only on the courses given to the account."""
        if account is None:
            return "Your instructor account no longer exists: log in again, or ask an admin."
        if admin and not account.is_admin:
            return ADMIN_ONLY
        if course is None or account.may_change(course):
            return None
        if not isinstance(course, str) or lone_surrogate(course) is not None:
            return INVALID_COURSE
        if not course:
            return NO_COURSE_PICKED if account.courses else NO_COURSES
        shown = safe_markdown(replace_surrogates(course))
        if course not in self.kb.courses():
            return f"There is no course {shown}: only an admin can create a course. Pick one of your courses."
        return (f"You are not an instructor of {shown}: your courses are {', '.join(account.courses) or 'none yet'}. "
                "Ask an admin to give you this one.")


# ------------------------------------------------------------------------------------------------ students
# A student may use only the courses the picker offers (``student.course_options``: the published ones). The
# picker is no guard by itself: a forged call names any course id, so the handlers check it again.


def not_offered(course: str) -> str:
    """What a student who asks for a course that is not offered reads (the same for an unknown id and an
    unpublished one: a student cannot tell whether a hidden course exists)."""
    return f"There is no published course “{safe_markdown(replace_surrogates(course))}” here: pick a course from the list."


def requested_course(request: object) -> str | None:
    """The course a link asked for (``/?course=ml101``), or None. Gradio's page sends its own address's query
    with each queue call, so the page-load handler's request carries it."""
    params = getattr(request, "query_params", None)
    try:
        value = params.get("course") if params is not None else None
    except (AttributeError, TypeError):
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None
