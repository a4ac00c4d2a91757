"""``tutor kb ...``: add, list, rm, faq, course-info, reindex, stats, search. Parses arguments and prints; the
work is in ``facade.py`` (``KnowledgeBase``) and the modules it composes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from basics.cli_options import course_option, data_dir_option, embedder_option, json_option
from basics.errors import ConfigError
from knowledge_base.facade import KnowledgeBase
from knowledge_base.faq_files import load_faq
from knowledge_base.search import place_label

optional_course = click.option("--course", default=None, help="Only this course (default: all courses).")


def _open(data_dir: str | None):
    """The knowledge base, with the embedder given to the group (``tutor kb --embedder NAME ...``)."""
    options = click.get_current_context().find_object(dict) or {}
    return KnowledgeBase.open(data_dir, options.get("embedder"))


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


@click.group()
@embedder_option
@click.pass_context
def kb(ctx: click.Context, embedder: str | None) -> None:
    """Manage courses: documents (add, list, remove), FAQ, course page texts, search, reindex."""
    ctx.obj = {"embedder": embedder}


@kb.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@course_option
@data_dir_option
@json_option
def add_cmd(paths: tuple[Path, ...], course: str, data_dir: str | None, as_json: bool) -> None:
    """Add files and folders (PDF, Markdown, HTML, TXT, DOCX) to a course. Exit code 1 if any file failed."""
    base = _open(data_dir)
    results = base.add(list(paths), course, progress=not as_json)
    if as_json:
        _echo_json([r.to_dict() for r in results])
    else:
        for r in results:
            detail = f"{r.chunks} chunks" if r.status in ("added", "replaced") else (r.error or "")
            click.echo(f"{r.status:9} {r.name}  {detail}", err=r.status == "error")
        counts = {s: sum(r.status == s for r in results) for s in ("added", "replaced", "skipped", "error")}
        click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "nothing to add")
    if any(r.status == "error" for r in results):
        sys.exit(1)


@kb.command("list")
@optional_course
@data_dir_option
@json_option
def list_cmd(course: str | None, data_dir: str | None, as_json: bool) -> None:
    """List documents (name, version, chunks, when added)."""
    docs = _open(data_dir).list_documents(course)
    if as_json:
        _echo_json([d.to_dict() for d in docs])
        return
    if not docs:
        click.echo("no documents")
    for d in docs:
        click.echo(f"{d.course}\t{d.name}\tv{d.version}\t{d.chunks} chunks\t{d.added_at}\t{d.title or ''}")


@kb.command("rm")
@click.argument("name")
@course_option
@data_dir_option
@json_option
def rm_cmd(name: str, course: str, data_dir: str | None, as_json: bool) -> None:
    """Remove document NAME (as shown by `tutor kb list`) from a course."""
    removed = _open(data_dir).delete(course, name)
    if as_json:
        _echo_json({"course": course, "name": name, "removed": removed})
    else:
        click.echo(f"removed {name}" if removed else f"no document {name!r} in course {course!r}")
    if not removed:
        sys.exit(1)


@kb.command("faq")
@click.argument("faq_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@course_option
@data_dir_option
@json_option
def faq_cmd(faq_file: Path, course: str, data_dir: str | None, as_json: bool) -> None:
    """Load FAQ_FILE (CSV or JSONL, validated row by row) as the course's FAQ, replacing the previous one.

    The FAQ answers close questions with the instructor's vetted text; the same file trains adapters
    (`tutor finetune`) and evaluates the tutor (`tutor eval`). A file with problems changes nothing."""
    entries = load_faq(faq_file)  # raises FAQFormatError naming every bad row before anything is stored
    count = _open(data_dir).set_faq(course, entries)
    if as_json:
        _echo_json({"course": course, "file": str(faq_file), "entries": count})
    else:
        click.echo(f"course {course}: FAQ replaced with {count} entries from {faq_file}")


@kb.command("course-info")
@course_option
@click.option("--title", default=None, help="The course's title (students pick courses by it); \"\" clears it.")
@click.option("--description", default=None, help="One line on what the course covers; \"\" clears it.")
@click.option("--welcome", default=None, help="The instructor's welcome above the chat (may span lines); \"\" clears it.")
@data_dir_option
@json_option
def course_info_cmd(course: str, title: str | None, description: str | None, welcome: str | None,
                    data_dir: str | None, as_json: bool) -> None:
    """Show, or set, what the student page says about a course: title, description, welcome, and the example
    questions it offers (drawn from the FAQ, else from the document titles). Options left out keep their text."""
    base = _open(data_dir)
    if title is None and description is None and welcome is None:
        info = base.course_info(course)
    else:
        info = base.set_course_info(course, title=title, description=description, welcome=welcome)
    if as_json:
        _echo_json(info.to_dict())
        return
    click.echo(f"{info.name}: {info.title}")
    for label, text in (("description", info.description), ("welcome", info.welcome)):
        click.echo(f"{label}: {text or '-'}")
    click.echo("examples:" + "".join(f"\n  {q}" for q in info.examples) if info.examples else "examples: -")


@kb.command("reindex")
@course_option
@data_dir_option
@json_option
def reindex_cmd(course: str, data_dir: str | None, as_json: bool) -> None:
    """Re-embed a course's chunks and FAQ with the configured embedder (`tutor kb --embedder NAME reindex`).

    Needed after changing the embedder: vectors of two models cannot be searched together. Atomic: until
    the new vectors are all computed the course keeps working with its old ones."""
    result = _open(data_dir).reindex(course, progress=not as_json)
    if as_json:
        _echo_json(result)
    else:
        click.echo(f"course {course}: {result['chunks']} chunks and {result['faq']} FAQ questions re-embedded with "
                   f"{result['embedder']} ({result['dim']} dimensions; was {result['previous'] or 'none'}) in "
                   f"{result['seconds']} s")


@kb.command("stats")
@optional_course
@data_dir_option
@json_option
def stats_cmd(course: str | None, data_dir: str | None, as_json: bool) -> None:
    """Documents, chunks, FAQ entries and index type per course."""
    stats = _open(data_dir).stats(course)
    if as_json:
        _echo_json(stats)
        return
    for name, s in stats["courses"].items():
        click.echo(f"{name}: {s['documents']} documents, {s['chunks']} chunks, {s['faq']} FAQ entries, "
                   f"index {s['index'] or '-'} ({s['index_vectors']} vectors, embedder {s['embedder'] or '-'})")
    if not stats["courses"]:
        click.echo("no courses")


def _read_queries(path: Path) -> list[str]:
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: line {n}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("question"), str) or not row["question"].strip():
            raise ConfigError(f"{path}: line {n}: needs a non-empty \"question\" string")
        questions.append(row["question"])
    return questions


def _hit_row(h) -> dict:
    return {"document": h.document, "chunk_id": h.chunk_id, "score": h.score, "dense_score": h.dense_score,
            "lexical_score": h.lexical_score, "text": h.text, "section": h.section, "page": h.page}


@kb.command("search")
@click.argument("text", required=False)
@click.option("--queries", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL file of rows with a \"question\" key: one JSON line of hits per row (with --json).")
@course_option
@click.option("-k", "k", default=5, show_default=True, help="Number of hits.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True)
@data_dir_option
@json_option
def search_cmd(text: str | None, queries: Path | None, course: str, k: int, mode: str, data_dir: str | None,
               as_json: bool) -> None:
    """Search a course for TEXT (or for every question in --queries)."""
    if bool(text) == bool(queries):
        raise click.UsageError("give either TEXT or --queries FILE")
    questions = _read_queries(queries) if queries else [text]
    base = _open(data_dir)
    for question in questions:
        hits = base.search(question, course, k=k, mode=mode)
        if as_json:
            _echo_json({"question": question, "hits": [_hit_row(h) for h in hits]})
            continue
        click.echo(f"? {question}")
        if not hits:
            click.echo("  no hits")
        for i, h in enumerate(hits, 1):
            where = place_label(h.section, h.page)
            snippet = " ".join(h.text.split())[:160]
            click.echo(f"{i}. {h.document}{' — ' + where if where else ''}  score {h.score:.4f} cos {h.dense_score:.3f}"
                       f"\n   {snippet}")
