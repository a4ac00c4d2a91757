"""AppConfig, every setting of the web app with its default and help, and parse_args, which fills it from
flags and ``TUTOR_*`` environment variables (flags win). ``AppConfig.check`` refuses settings the app must
not start with, such as an instructor password too short to resist guessing."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from basics.config import DEFAULT_COURSE
from basics.errors import ConfigError
from basics.flags import add_arguments, config_from_flags
from knowledge_base.accounts import password_problem
from tutor.engine_config import EngineConfig
from tutor.runtime.models import DEFAULT_PRESET

def _engine_help(name: str) -> str:
    """The help of an engine setting the app passes through: written once, on EngineConfig."""
    return next(f for f in fields(EngineConfig) if f.name == name).metadata["help"]


PASSWORD_SETTINGS = "TUTOR_INSTRUCTOR_PASSWORD (or the first line of --instructor-password-file FILE)"


@dataclass
class AppConfig:
    """Everything the app needs to start; ``parse_args()`` fills it from flags and ``TUTOR_*`` variables."""

    host: str = field(default="127.0.0.1", metadata={"env": "TUTOR_HOST", "help": "Interface to listen on (0.0.0.0 for a LAN)."})
    port: int = field(default=7860, metadata={"env": "TUTOR_PORT", "help": "TCP port."})
    data_dir: str | None = field(default=None, metadata={"env": "TUTOR_DATA_DIR", "help": "Data directory (default: TUTOR_DATA_DIR or per-user)."})
    model: str = field(default=DEFAULT_PRESET, metadata={"env": "TUTOR_MODEL", "help": "Model preset, .gguf file, model directory or HF id."})
    embedder: str | None = field(default=None, metadata={"env": "TUTOR_EMBEDDER", "help": "Retrieval embedder (default embeddinggemma-300m, "
                                 "multilingual; all-MiniLM-L6-v2 for English-only courses) or a sentence-transformers path."})
    remote_url: str | None = field(default=None, metadata={"env": "TUTOR_REMOTE_URL", "help": _engine_help("remote_url")})
    remote_model: str | None = field(default=None, metadata={"env": "TUTOR_REMOTE_MODEL", "help": _engine_help("remote_model")})
    course: str = field(default=DEFAULT_COURSE, metadata={"env": "TUTOR_COURSE", "help": "Course selected when the page opens."})
    adapter: str | None = field(default=None, metadata={"env": "TUTOR_ADAPTER", "help": _engine_help("adapter")})
    instructor_user: str | None = field(default=None, metadata={"env": "TUTOR_INSTRUCTOR_USER", "help": "Instructor login name."})
    instructor_password: str | None = field(default=None, repr=False, metadata={"help": "Instructor password."})
    load_sample_course: bool = field(default=True, metadata={"help": "Load the built-in courses if absent."})
    builtin_courses: tuple[str, ...] = field(default=("sample", "estatistica"), metadata={
        "help": "Which built-in courses load_sample_course loads (knowledge_base.facade.BUILTIN_COURSES)."})
    chat_concurrency: int = field(default=32, metadata={"env": "TUTOR_CONCURRENCY", "help": "Chat requests admitted at once. The model still answers "
                                  "one at a time, first come first served; admitted requests see their place in line."})
    queue_size: int = field(default=128, metadata={"help": "Requests waiting in the queue before new ones are refused."})
    session_hours: float = field(default=8.0, metadata={"help": "How long an instructor login stays valid."})
    min_password_length: int = field(default=12, metadata={"help": "Shortest instructor password the console accepts; "
                                     "a shorter one is refused at startup."})
    login_failure_delay_s: float = field(default=1.0, metadata={"help": "Pause after a wrong password; it doubles with each "
                                         "further failure in a row from the same client address (slows guessing)."})
    login_max_failures: int = field(default=5, metadata={"help": "Wrong passwords in a row from one client address before "
                                    "its logins are locked (even the right password is refused while locked)."})
    login_lockout_s: float = field(default=60.0, metadata={"help": "First lockout; each further failure doubles it."})
    login_max_lockout_s: float = field(default=3600.0, metadata={"help": "Longest lockout."})
    login_concurrency: int = field(default=8, metadata={"help": "Logins checked at once (a client's backoff pause must "
                                   "not hold up other clients' logins)."})
    max_upload_mb: int = field(default=50, metadata={"help": "Largest file accepted by an upload."})
    review_limit: int = field(default=200, metadata={"help": "Rows shown in the questions-to-review table."})
    engine_options: dict = field(default_factory=dict, metadata={"help": "Extra EngineConfig fields (e.g. max_new_tokens)."})

    @property
    def console_enabled(self) -> bool:
        """An instructor is configured (an admin). Accounts in the database open the console too (``build_parts``)."""
        return bool(self.instructor_user and self.instructor_password)

    def check(self, password_setting: str = PASSWORD_SETTINGS) -> None:
        """Refuse to start with a console guarded by a short, blank or one-character password: the lockout
        slows online guessing, but only length and variety keep a guessed-at password safe. ``password_setting`` names where the password came from."""
        problem = password_problem(self.instructor_password or "", self.min_password_length)
        if self.console_enabled and problem:
            raise ConfigError(
                f"The instructor password set by {password_setting} is {problem}. Set a longer password of several "
                "different characters (a few random words) and restart (or unset it to run the app without the "
                "configured instructor)."
            )


CONSOLE_DISABLED = (
    "**The instructor console is disabled** because no instructor login is configured. To enable it, set "
    f"`TUTOR_INSTRUCTOR_USER` and `TUTOR_INSTRUCTOR_PASSWORD` (at least {AppConfig.min_password_length} characters) "
    "in the environment (or pass "
    "`--instructor-user NAME --instructor-password-file FILE`), or create an admin account with "
    "`tutor admin account add NAME --admin`, and restart the app."
)


# The settings that are flags of ``python app.py`` (each also read from its ``metadata["env"]`` variable). The
# password is not among them: it comes only from the environment or a file, never from a command line.
FLAGS = ("host", "port", "data_dir", "model", "remote_url", "remote_model", "embedder", "course", "adapter",
         "instructor_user", "chat_concurrency")


def parse_args(argv: list[str] | None = None, env: dict | None = None) -> tuple[AppConfig, int]:
    """Flags > ``TUTOR_*`` environment > AppConfig defaults. Passwords come only from env or a file."""
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(description="coursetutor web app: student chat + instructor console")
    add_arguments(p, AppConfig, FLAGS)
    p.add_argument("--instructor-password-file", default=env.get("TUTOR_INSTRUCTOR_PASSWORD_FILE"),
                   help=f"file holding the instructor password (first line, at least {AppConfig.min_password_length} "
                        "characters) [env TUTOR_INSTRUCTOR_PASSWORD_FILE]")
    p.add_argument("--no-sample-course", action="store_true", help="do not load the built-in sample course")
    p.add_argument("-v", "--verbose", action="count", default=0)
    a = p.parse_args(argv)
    password, setting = env.get("TUTOR_INSTRUCTOR_PASSWORD"), "TUTOR_INSTRUCTOR_PASSWORD"
    if a.instructor_password_file:
        f = Path(a.instructor_password_file).expanduser()
        setting = f"--instructor-password-file {f} (TUTOR_INSTRUCTOR_PASSWORD_FILE)"
        try:
            password = f.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise ConfigError(f"--instructor-password-file {f}: cannot read a password from it ({exc}).") from exc
        if not password:
            raise ConfigError(f"--instructor-password-file {f}: the first line is empty.")
    config = config_from_flags(AppConfig, vars(a), env=env)
    config = replace(config, instructor_user=config.instructor_user or ("instructor" if password else None),
                     instructor_password=password, load_sample_course=not a.no_sample_course)
    config.check(setting)
    return config, a.verbose
