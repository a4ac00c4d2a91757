"""`tutor kb ...` (placeholder until the knowledge base lands)."""

import click


@click.group()
def kb() -> None:
    """Manage course documents: add, list, remove, search."""
