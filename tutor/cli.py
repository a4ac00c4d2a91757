"""The ``tutor`` command: a thin layer that parses arguments and prints; the work lives in the libraries.

Subsystems contribute their own command groups: ``knowledge_base.cli`` (``tutor kb ...``),
``tutor.cli_engine`` (``tutor ask``, ``tutor chat``), ``finetune.cli`` (``tutor finetune``,
``tutor eval``, ``tutor adapters``).
"""

from __future__ import annotations

import logging
import sys

import click

from tutor.errors import TutorError


class _Group(click.Group):
    """Prints ``TutorError`` messages without a traceback and exits 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TutorError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="coursetutor")
def main(verbose: int) -> None:
    """coursetutor: a tutoring bot grounded in your course material."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    from knowledge_base.cli import kb
    from tutor.cli_engine import ask, chat
    from finetune.cli import adapters, evaluate_cmd, finetune_cmd

    main.add_command(kb)
    main.add_command(ask)
    main.add_command(chat)
    main.add_command(finetune_cmd)
    main.add_command(evaluate_cmd)
    main.add_command(adapters)


_register()

if __name__ == "__main__":
    main()
