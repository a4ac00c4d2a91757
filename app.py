"""The web app: a student chat page and an instructor console, both thin Gradio layers.

Run it with ``python app.py`` (flags in ``python app.py --help``, or ``TUTOR_*`` environment variables).
Everything that answers, stores or trains lives in the libraries (``TutorEngine``, ``KnowledgeBase``,
``tutor.records``, ``finetune``); the page itself lives in the ``webapp`` package (see its docstring for
which module holds what). This file is the entry point and re-exports the names callers use.
"""

from __future__ import annotations

import logging

from basics.errors import TutorError
from tutor.runtime.machine import check_machine
from webapp.auth import InstructorAuth, LoginThrottle, make_token, token_user
from webapp.config import CONSOLE_DISABLED, AppConfig, parse_args
from webapp.console import REFUSED, InstructorConsole
from webapp.layout import AppParts, build_app, build_parts, launch
from webapp.render import CSS, chat_messages, citation_dicts, engine_history, export_markdown, render_answer, write_exports
from webapp.runtime import ActiveEngine, BackgroundJob
from webapp.student import StudentChat

__all__ = [
    "CONSOLE_DISABLED", "CSS", "REFUSED", "ActiveEngine", "AppConfig", "AppParts", "BackgroundJob", "InstructorAuth",
    "InstructorConsole", "LoginThrottle", "StudentChat", "build_app", "build_parts", "chat_messages", "citation_dicts",
    "engine_history", "export_markdown", "launch", "main", "make_token", "parse_args", "render_answer", "token_user",
    "write_exports",
]

log = logging.getLogger("app")


def main(argv: list[str] | None = None) -> None:
    """``python app.py``: read the settings, build the page, load the model, serve until interrupted."""
    try:
        config, verbose = parse_args(argv)
        logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), format="%(levelname)s %(name)s: %(message)s")
        if not config.console_enabled:
            log.warning("No instructor configured (TUTOR_INSTRUCTOR_USER / TUTOR_INSTRUCTOR_PASSWORD or "
                        "--instructor-password-file): the console opens only to accounts made with `tutor admin account add`.")
        demo = build_app(config)
        engine = demo.tutor.engines.engine
        # load the model before the first student waits for it, and say once if this CPU is too slow for it
        check_machine(engine.generator, engine.generator.name.split("+")[0], engine.paths.cache_dir)
        launch(config, demo)
    except TutorError as exc:
        raise SystemExit(f"Error: {exc}") from exc


if __name__ == "__main__":
    main()
