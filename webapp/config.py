"""AppConfig, every setting of the web app with its default and help, and parse_args, which fills it from
flags and ``TUTOR_*`` environment variables (flags win). ``AppConfig.check`` refuses settings the app must
not start with, such as an instructor password too short to resist guessing."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from basics.config import DEFAULT_COURSE
from basics.errors import ConfigError
from tutor.models import DEFAULT_PRESET

PASSWORD_SETTINGS = "TUTOR_INSTRUCTOR_PASSWORD (or the first line of --instructor-password-file FILE)"


@dataclass
class AppConfig:
    """Everything the app needs to start; ``parse_args()`` fills it from flags and ``TUTOR_*`` variables."""

    host: str = field(default="127.0.0.1", metadata={"help": "Interface to listen on (0.0.0.0 for a LAN)."})
    port: int = field(default=7860, metadata={"help": "TCP port."})
    data_dir: str | None = field(default=None, metadata={"help": "Data directory (default: TUTOR_DATA_DIR or per-user)."})
    model: str = field(default=DEFAULT_PRESET, metadata={"help": "Model preset, model directory or HF id."})
    embedder: str | None = field(default=None, metadata={"help": "Retrieval embedder (default embeddinggemma-300m, "
                                 "multilingual; all-MiniLM-L6-v2 for English-only courses) or a sentence-transformers path."})
    remote_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible endpoint instead of a local model."})
    remote_model: str | None = field(default=None, metadata={"help": "Model name to request from the remote endpoint."})
    course: str = field(default=DEFAULT_COURSE, metadata={"help": "Course selected when the page opens."})
    adapter: str | None = field(default=None, metadata={"help": "LoRA adapter name (under DATA_DIR/adapters) to start with."})
    instructor_user: str | None = field(default=None, metadata={"help": "Instructor login name."})
    instructor_password: str | None = field(default=None, repr=False, metadata={"help": "Instructor password."})
    load_sample_course: bool = field(default=True, metadata={"help": "Load the built-in sample course if absent."})
    chat_concurrency: int = field(default=32, metadata={"help": "Chat requests admitted at once. The model still answers "
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
        return bool(self.instructor_user and self.instructor_password)

    def check(self, password_setting: str = PASSWORD_SETTINGS) -> None:
        """Refuse to start with a console guarded by a short password: the lockout slows online guessing, but
        only length keeps a guessed-at password safe. ``password_setting`` names where the password came from."""
        if self.console_enabled and len(self.instructor_password or "") < self.min_password_length:
            raise ConfigError(
                f"The instructor password set by {password_setting} is {len(self.instructor_password or '')} "
                f"characters long; the instructor console needs at least {self.min_password_length}. Set a longer "
                "password and restart (or unset it to run the app without the console)."
            )


CONSOLE_DISABLED = (
    "**The instructor console is disabled** because no instructor login is configured. To enable it, set "
    f"`TUTOR_INSTRUCTOR_USER` and `TUTOR_INSTRUCTOR_PASSWORD` (at least {AppConfig.min_password_length} characters) "
    "in the environment (or pass "
    "`--instructor-user NAME --instructor-password-file FILE`) and restart the app."
)


def parse_args(argv: list[str] | None = None, env: dict | None = None) -> tuple[AppConfig, int]:
    """Flags > ``TUTOR_*`` environment > AppConfig defaults. Passwords come only from env or a file."""
    env = os.environ if env is None else env
    d = AppConfig()
    p = argparse.ArgumentParser(description="coursetutor web app: student chat + instructor console")
    p.add_argument("--host", default=env.get("TUTOR_HOST", d.host))
    p.add_argument("--port", type=int, default=int(env.get("TUTOR_PORT", d.port)))
    p.add_argument("--data-dir", default=env.get("TUTOR_DATA_DIR", d.data_dir))
    p.add_argument("--model", default=env.get("TUTOR_MODEL", d.model), help="preset name, model directory or HF id")
    p.add_argument("--remote-url", default=env.get("TUTOR_REMOTE_URL", d.remote_url), help="OpenAI-compatible endpoint")
    p.add_argument("--remote-model", default=env.get("TUTOR_REMOTE_MODEL", d.remote_model))
    p.add_argument("--embedder", default=env.get("TUTOR_EMBEDDER", d.embedder),
                   help="retrieval embedder: embeddinggemma-300m (default), all-MiniLM-L6-v2 or a path")
    p.add_argument("--course", default=env.get("TUTOR_COURSE", d.course))
    p.add_argument("--adapter", default=env.get("TUTOR_ADAPTER", d.adapter))
    p.add_argument("--instructor-user", default=env.get("TUTOR_INSTRUCTOR_USER"))
    p.add_argument("--instructor-password-file", default=env.get("TUTOR_INSTRUCTOR_PASSWORD_FILE"),
                   help=f"file holding the instructor password (first line, at least {d.min_password_length} characters)")
    p.add_argument("--no-sample-course", action="store_true", help="do not load the built-in sample course")
    p.add_argument("--concurrency", type=int, default=int(env.get("TUTOR_CONCURRENCY", d.chat_concurrency)),
                   help="answers generated at once")
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
    user = a.instructor_user or ("instructor" if password else None)
    config = AppConfig(
        host=a.host, port=a.port, data_dir=a.data_dir, model=a.model, embedder=a.embedder, remote_url=a.remote_url,
        remote_model=a.remote_model, course=a.course, adapter=a.adapter, instructor_user=user,
        instructor_password=password, load_sample_course=not a.no_sample_course, chat_concurrency=a.concurrency,
    )
    config.check(setting)
    return config, a.verbose
