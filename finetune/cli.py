"""`tutor finetune`, `tutor eval`, `tutor adapters`: parse arguments, call the library, print."""

from __future__ import annotations

import json
from pathlib import Path

import click

from basics.cli_options import data_dir_option, embedder_option, json_option
from basics.config import Paths
from basics.flags import click_options, config_from_flags
from basics.hardware import PRECISIONS
from knowledge_base import KnowledgeBase
from knowledge_base.facade import BUILTIN_COURSES
from tutor.adapters import list_adapters
from tutor.adapters import merge_adapter
from tutor.adapters import remove_adapter
from finetune.evaluate import EvalConfig, run_evaluation
from finetune.metrics import METRICS
from finetune.train import TrainConfig, train_adapter
from tutor.prompts import ANSWER_FORMS, PromptConfig

# The training settings that are flags of `tutor finetune`, derived from TrainConfig's fields.
TRAIN_FLAGS = ("base", "epochs", "max_steps", "learning_rate", "r", "alpha", "batch_size", "grad_accum", "max_length",
               "rag", "course", "device", "precision", "seed")


@click.command("finetune")
@click.argument("faq_file", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="Adapter name (registered under DATA_DIR/adapters/NAME).")
@click_options(TrainConfig, TRAIN_FLAGS, choices={"precision": PRECISIONS}, aliases={"learning_rate": "--lr"})
@click.option("--resume", is_flag=True, help="Continue from the last checkpoint of this --name.")
@click.option("--overwrite", is_flag=True, help="Replace an existing adapter with this name.")
@embedder_option
@data_dir_option
@json_option
def finetune_cmd(faq_file, name, resume, overwrite, embedder, data_dir, as_json, **flags) -> None:
    """Train a LoRA adapter on an FAQ file (CSV or JSONL)."""
    config = config_from_flags(TrainConfig, {**flags, "resume": resume, "overwrite": overwrite,
                                             "show_progress": not as_json})
    rag = config.rag

    def progress(event: dict) -> None:
        if not as_json and event["stage"] in ("load", "eval"):
            click.echo("  " + ", ".join(f"{k}={_fmt(v)}" for k, v in event.items()), err=True)

    kb = KnowledgeBase.open(data_dir, embedder) if rag else None  # --rag prompts hold what this course's search returns
    card = train_adapter(Path(faq_file), name, config, Paths.from_env(data_dir), progress=progress, kb=kb)
    if as_json:
        click.echo(json.dumps(card, indent=2, default=str))
        return
    m = card["metrics"]
    click.echo(f"Adapter {name!r} saved to {card['path']}")
    click.echo(f"  val loss {_fmt(m.get('val_loss_before'))} -> {_fmt(m.get('val_loss_after'))}, "
               f"train loss {_fmt(m['train_loss_before'])} -> {_fmt(m['train_loss_after'])}, "
               f"{m['steps']} steps, {_fmt(m['samples_per_second'])} samples/s")


@click.command("eval")
@click.argument("faq_file", type=click.Path(dir_okay=False))
@click.option("--course", required=True, help="Course whose knowledge base answers the questions.")
@click.option("--adapter", default=None, help="Adapter to evaluate (the primary system).")
@click.option("--compare", "compare", multiple=True, help="Also evaluate: 'base' or an adapter name (repeatable).")
@click.option("--model", default=None, help="Base model preset or path [default: the adapter's base, else the default preset].")
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--use-faq", is_flag=True, help="Let the engine answer from the course FAQ (leaks gold answers when the FAQ is this file).")
@click.option("--max-new-tokens", type=int, default=None, help="Longest generated answer [default: the engine's].")
@click.option("--answer-form", type=click.Choice(list(ANSWER_FORMS)), default="sentences", show_default=True,
              help="'sentences' as students get them; 'short' asks for the bare answer, as extractive QA sets "
                   "such as SQuAD score it.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for metrics.json, rows.csv, report.html.")
@embedder_option
@data_dir_option
@json_option
def evaluate_cmd(faq_file, course, adapter, compare, model, limit, use_faq, max_new_tokens, answer_form, out,
                 embedder, data_dir, as_json) -> None:
    """Evaluate the tutor on an FAQ file: metrics.json, rows.csv and report.html in --out."""
    options = {"max_new_tokens": max_new_tokens} if max_new_tokens else {}
    if answer_form != "sentences":
        options["prompt"] = PromptConfig(answer_form=answer_form)
    config = EvalConfig(course=course, adapter=adapter, compare=tuple(compare), model=model, limit=limit,
                        use_faq=use_faq, show_progress=not as_json, engine_options=options)
    paths = Paths.from_env(data_dir)
    kb = KnowledgeBase.open(data_dir, embedder)
    if course in BUILTIN_COURSES:  # a built-in course is there on first use, as for `tutor ask`
        kb.ensure_sample_course(course)
    result = run_evaluation(Path(faq_file), config, paths, kb=kb, out_dir=Path(out))
    if as_json:
        click.echo(json.dumps(result.metrics, indent=2, default=str))
        return

    def line(block: dict, where: str) -> str:
        return "  ".join(f"{m.label} {m.format(block[m.key])}" for m in METRICS if m.cli == where)

    for system, block in result.metrics["systems"].items():
        click.echo(f"{system:>24}: {line(block, 'system')}")
    click.echo(line(result.metrics, "retrieval"))  # the primary system's (the top level of metrics.json)
    click.echo(f"Report: {Path(out) / 'report.html'}")


@click.group()
def adapters() -> None:
    """List and manage LoRA adapters."""


@adapters.command("list")
@data_dir_option
@json_option
def adapters_list(data_dir, as_json) -> None:
    """Registered adapters, newest first."""
    cards = list_adapters(Paths.from_env(data_dir))
    if as_json:
        click.echo(json.dumps(cards, indent=2, default=str))
        return
    if not cards:
        click.echo("No adapters yet: train one with `tutor finetune FAQ_FILE --name NAME`.")
    for c in cards:
        m = c.get("metrics", {})
        click.echo(f"{c['name']:<24} base={c.get('base')}  created={c.get('created')}  "
                   f"val_loss={_fmt(m.get('val_loss_before'))}->{_fmt(m.get('val_loss_after'))}")


@adapters.command("merge")
@click.argument("name")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for the merged full model.")
@click.option("--overwrite", is_flag=True, help="Replace a non-empty --out directory.")
@data_dir_option
def adapters_merge(name, out, overwrite, data_dir) -> None:
    """Merge adapter NAME into its base model and export a full model directory."""
    path = merge_adapter(Paths.from_env(data_dir), name, out, overwrite=overwrite)
    click.echo(f"Merged model written to {path} (use it with --model {path})")


@adapters.command("rm")
@click.argument("name")
@data_dir_option
def adapters_rm(name, data_dir) -> None:
    """Remove adapter NAME."""
    path = remove_adapter(Paths.from_env(data_dir), name)
    click.echo(f"Removed {path}")


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
