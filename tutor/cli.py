"""The ``tutor`` command: a thin layer that parses arguments and prints; the work lives in the libraries.

Subsystems contribute their own command groups: ``knowledge_base.cli`` (``tutor kb ...``),
``tutor.cli_engine`` (``tutor ask``, ``tutor chat``), ``finetune.cli`` (``tutor finetune``,
``tutor eval``, ``tutor adapters``). They are registered as the ``coursetutor.commands`` entry points of
pyproject.toml, not imported here: the root stays in its layer (finetune sits above tutor), and a plugin
package adds a command by declaring one more entry point.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import entry_points

import click

from basics.errors import TutorError

COMMANDS_GROUP = "coursetutor.commands"


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
    commands = entry_points(group=COMMANDS_GROUP)
    if not commands:
        raise SystemExit("coursetutor's commands are not registered: install it with `bash .ci/setup` "
                         "(or `pip install -e .`).")
    for entry in sorted(commands, key=lambda e: e.name):
        main.add_command(entry.load(), entry.name)


_register()

if __name__ == "__main__":
    main()
