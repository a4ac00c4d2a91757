"""`tutor ask` and `tutor chat` (placeholder until the engine lands)."""

import click


@click.command()
def ask() -> None:
    """Ask one question."""


@click.command()
def chat() -> None:
    """Multi-turn chat."""
