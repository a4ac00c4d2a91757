"""`tutor finetune`, `tutor eval`, `tutor adapters` (placeholders until fine-tuning lands)."""

import click


@click.command("finetune")
def finetune_cmd() -> None:
    """Train a LoRA adapter on an FAQ file."""


@click.command("eval")
def evaluate_cmd() -> None:
    """Evaluate the tutor on an FAQ file."""


@click.group()
def adapters() -> None:
    """List and manage LoRA adapters."""
