"""``tutor ask`` and ``tutor chat``: parse flags into an ``EngineConfig``, stream ``TutorEngine.answer``, print.

    tutor ask "What is LoRA?" --course sample
    tutor ask "What is LoRA?" --json                       # one JSON object: AnswerResult.to_dict()
    tutor ask "..." --remote-url http://gpu:8000 --remote-model smollm2
    tutor chat --model qwen2.5-0.5b-instruct               # /new resets the history, /quit leaves
"""

from __future__ import annotations

import json

import click

from basics.config import DEFAULT_COURSE
from knowledge_base import KnowledgeBase
from knowledge_base.search import place_label
from basics.cli_options import course_option, data_dir_option, embedder_option, json_option, paths_from


def engine_options(fn):
    """The flags that pick and tune the model, shared by ``ask`` and ``chat``."""
    from tutor.backends import BACKENDS
    from tutor.generators.transformers import OPTIMIZATIONS

    for option in reversed([
        click.option("--model", default=None, help="Preset name, model directory or Hugging Face id [default: the --adapter's base "
                     "model (its card.json), else the default preset]."),
        click.option("--adapter", default=None, help="LoRA adapter name (see `tutor adapters`)."),
        click.option("--remote-url", envvar="TUTOR_REMOTE_URL", default=None,
                     help="OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama) instead of a local model [env TUTOR_REMOTE_URL]."),
        click.option("--remote-model", envvar="TUTOR_REMOTE_MODEL", default="", help="Model name on the remote server."),
        click.option("--remote-api-key", envvar="TUTOR_REMOTE_API_KEY", default=None, help="Bearer token for the remote server."),
        click.option("--backend", type=click.Choice(BACKENDS), default="auto", show_default=True,
                     help="auto: llama.cpp for GGUF models on a CPU, transformers otherwise."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ..."),
        click.option("--optimize", type=click.Choice(OPTIMIZATIONS), default=None, help="CPU speed-up of the transformers backend (implies --backend transformers when --backend is auto)."),
        click.option("--max-new-tokens", type=int, default=None, help="Longest answer in tokens."),
        embedder_option,
    ]):
        fn = option(fn)
    return fn


def make_engine(data_dir, course, model, adapter, remote_url, remote_model, remote_api_key, backend, device, optimize,
                max_new_tokens, embedder=None):
    from tutor.engine import EngineConfig, TutorEngine

    paths = paths_from(data_dir)
    kb = KnowledgeBase.open(data_dir, embedder)
    if course == DEFAULT_COURSE and not kb.list_documents(course):
        kb.ensure_sample_course()
    config = EngineConfig(adapter=adapter, remote_url=remote_url, remote_model=remote_model,
                          remote_api_key=remote_api_key, backend=backend, device=device)
    if model:
        config.model = model
    if optimize:
        config.optimize = optimize
        if backend == "auto":
            config.backend = "transformers"
    if max_new_tokens:
        config.max_new_tokens = max_new_tokens
    return TutorEngine(kb, config, paths)


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
    from basics.errors import QuestionError

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
