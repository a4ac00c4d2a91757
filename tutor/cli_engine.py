"""``tutor ask`` and ``tutor chat``: parse flags into an ``EngineConfig``, stream ``TutorEngine.answer``, print.

    tutor ask "What is LoRA?" --course sample
    tutor ask "What is LoRA?" --json                       # one JSON object: AnswerResult.to_dict()
    tutor ask "..." --remote-url http://gpu:8000 --remote-model smollm2
    tutor chat --model qwen2.5-0.5b-instruct               # /new resets the history, /quit leaves
"""

from __future__ import annotations

import json

import click

from basics.cli_options import course_option, data_dir_option, embedder_option, json_option
from knowledge_base.facade import BUILTIN_COURSES
from basics.errors import QuestionError
from basics.flags import click_options, config_from_flags
from knowledge_base.search import place_label
from tutor.runtime.backends import BACKENDS
from tutor.engine import EngineConfig, TutorEngine, open_engine
from tutor.runtime.generators.transformers import OPTIMIZATIONS

# The flags that pick and tune the model, shared by ``ask`` and ``chat``: derived from EngineConfig's fields.
ENGINE_FLAGS = ("model", "adapter", "remote_url", "remote_model", "remote_api_key", "backend", "device", "optimize",
                "max_new_tokens", "verifiers", "support_judge")


def engine_options(fn):
    fn = embedder_option(fn)
    return click_options(EngineConfig, ENGINE_FLAGS, choices={"backend": BACKENDS, "optimize": OPTIMIZATIONS})(fn)


def make_engine(data_dir, course, embedder=None, **flags) -> TutorEngine:
    """The engine of ``tutor ask`` / ``tutor chat``: an EngineConfig from the flags given. ``--optimize`` is a
    transformers option: with ``--backend`` left at auto it selects that backend."""
    config = config_from_flags(EngineConfig, flags)
    if flags.get("optimize") and not flags.get("backend") and not config.remote_url:
        config.backend = "transformers"
    engine = open_engine(config, data_dir=data_dir, embedder=embedder, sample_course=False)
    if course in BUILTIN_COURSES:  # a built-in course is there on first use: a new user's question needs no setup
        engine.kb.ensure_sample_course(course)
    return engine


def print_sources(result) -> None:
    if result.outcome == "faq":
        click.echo(f"\n(answer from the instructor FAQ, match {result.faq['score']:.2f}: {result.faq['question']})")
    for c in result.citations:
        where = place_label(c.section, c.page)
        click.echo(f"  [{c.n}] {c.document}" + (f" — {where}" if where else ""))


@click.command()
@click.argument("question")
@course_option
@engine_options
@data_dir_option
@json_option
def ask(question: str, course: str, data_dir: str | None, as_json: bool, **engine_kw) -> None:
    """Ask one question about a course; streams the answer, then lists the sources."""
    engine = make_engine(data_dir, course, **engine_kw)
    stream = engine.answer(question, [], course)
    for delta in stream:
        if not as_json:
            click.echo(delta, nl=False)
    if as_json:
        click.echo(json.dumps(stream.result.to_dict(), ensure_ascii=False))
    else:
        click.echo()
        print_sources(stream.result)


@click.command()
@course_option
@engine_options
@data_dir_option
def chat(course: str, data_dir: str | None, **engine_kw) -> None:
    """Multi-turn chat on stdin: one question per line; /new starts over, /quit (or end of input) leaves."""
    engine = make_engine(data_dir, course, **engine_kw)
    history: list[dict] = []
    click.echo(f"Course {course!r}. Ask a question; /new starts a new conversation, /quit leaves.")
    while True:
        try:
            line = input("> ")
        except EOFError:
            break
        line = line.strip()
        if line in ("/quit", "/exit"):
            break
        if line == "/new":
            history = []
            click.echo("(new conversation)")
            continue
        if not line:
            continue
        try:
            stream = engine.answer(line, history, course)
        except QuestionError as exc:
            click.echo(f"Error: {exc}", err=True)
            continue
        for delta in stream:
            click.echo(delta, nl=False)
        click.echo()
        print_sources(stream.result)
        history += [{"role": "user", "content": line}, {"role": "assistant", "content": stream.result.answer}]
