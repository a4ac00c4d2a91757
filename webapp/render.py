"""Pure functions from library results to what the page shows: the course's header, chat messages with the FAQ
mark and collapsible citations, the engine's plain history, conversation exports, and the console's tables.

Kept apart from the handlers so that how something looks is tested without a server. Every text that came
from a document, the model, a student or an instructor (answers, questions, snippets, labels, exports, a
course's title and welcome) goes through
``safe_markdown`` before it becomes part of a message: the chat renders Markdown with inline HTML, and the
server must not count on the browser's sanitizer to drop a quoted ``<img onerror=…>`` or ``javascript:`` link.
"""

from __future__ import annotations

import html
import json
import re
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from knowledge_base.search import place_label
from knowledge_base.sources import is_key
from webapp.sources import SOURCE_PATH

if TYPE_CHECKING:
    from knowledge_base import DocumentInfo, FAQEntry
    from knowledge_base.course_info import CourseInfo
    from tutor.answer_result import AnswerResult

CSS = """
.faq-mark { display:inline-block; background:#fff3cd; color:#664d03; border:1px solid #ffe69c;
            border-radius:6px; padding:1px 8px; font-size:0.85em; margin-bottom:6px; }
details.citation { margin:4px 0; padding:4px 8px; border-left:3px solid #6c8ebf; background:rgba(108,142,191,0.08); }
details.citation summary { cursor:pointer; font-size:0.9em; }
details.citation blockquote { margin:6px 0 2px 0; font-size:0.9em; }
details.citation a.source-link { font-size:0.9em; white-space:nowrap; }
#notice p { margin:0; }
"""


# ---------------------------------------------------------------------------------------------- escaping

# Every Markdown link and image needs "]" followed by "(", "[" or ":" ("[x](javascript:…)", "![x](…)",
# "[x][ref]", "[ref]: url"): that "]" is written as an entity, which shows "]" and opens no link. A lone "[" or
# "\\[ … \\]" (a LaTeX display formula) is left alone.
_LINK_CLOSE = re.compile(r"\](?=[(\[:])")


def safe_markdown(text: str | None) -> str:
    """``text`` as Markdown that can only show text: HTML tags and entities escaped, link and image syntax
    disarmed. Code spans are escaped too (a code span shows "&lt;" for "<"): telling a real code span from a
    backslash-escaped backtick is the renderer's job, and a wrong guess here would let raw HTML through.
    Call it once, where the text enters a message (escaping twice shows "&amp;lt;")."""
    return _LINK_CLOSE.sub("&#93;", html.escape(text or "", quote=False))


def html_safe_json(data: object) -> str:
    """JSON whose text holds no raw markup: ``<``, ``>`` and ``&`` are written as ``\\u003c`` etc. (the same
    data once parsed), so a viewer that shows the file as HTML cannot run what a document or student wrote."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


# ---------------------------------------------------------------------------------------------- course


def course_header(info: "CourseInfo", missing: bool = False) -> str:
    """The top of the student page: the course's title as a heading, the line on what it covers, then the
    instructor's welcome (its line breaks kept by the Markdown component). Escaped like every other text: the
    console login guards who writes it, not what a pasted ``<img onerror>`` would do in every student's
    browser. ``missing``: the course holds nothing yet, and the page says so instead of showing an empty box."""
    parts = [f"## {safe_markdown(info.title)}"]
    if missing:
        parts.append("This course has no material yet: ask again once the instructor has added it.")
    parts += [safe_markdown(text) for text in (info.description, info.welcome) if text]
    return "\n\n".join(parts)


# ------------------------------------------------------------------------------------------------- chat


def render_answer(turn: dict) -> str:
    """One assistant message: FAQ mark, answer text, then one collapsible block per citation."""
    if turn.get("error"):
        return f"⚠️ {safe_markdown(turn['error'])}"
    parts = []
    if turn.get("from_faq"):
        parts.append("<span class='faq-mark'>From the instructor's FAQ</span>\n\n")
    if turn.get("waiting") and not turn.get("answer"):
        ahead = turn["waiting"]
        parts.append(f"⏳ {ahead} question{'s' if ahead != 1 else ''} ahead of yours; your answer starts as soon as "
                     "the tutor is free.")
    elif turn.get("searching") and not turn.get("answer") and "outcome" not in turn:
        places = ", ".join(safe_markdown(label) for label in turn["searching"])
        parts.append(f"<span class='searching'>🔎 Looking in the course: {places} …</span>")
    elif turn.get("outcome") == "quoted":
        parts.append("<span class='faq-mark'>Quoted from the course</span>\n\n")
    parts.append(safe_markdown(turn.get("answer")))
    for c in turn.get("citations") or []:
        where = place_label(c.get("section"), c.get("page"))
        label = f"[{c.get('n', '?')}] {c.get('document', '')}" + (f" — {where}" if where else "")
        snippet = safe_markdown(c.get("snippet")).replace("\n", " ")
        parts.append(
            f"\n\n<details class='citation'><summary>Source {safe_markdown(label)}{source_link(c)}</summary>"
            f"<blockquote>{snippet}</blockquote></details>"
        )
    return "".join(parts)


def source_link(citation: dict) -> str:
    """The link that opens a citation's passage in its place (a PDF's page with the passage highlighted, else its
    section with the passage marked: ``webapp/sources.py``), in a new tab so the conversation stays open. Empty
    for a citation without a passage key (an FAQ answer's source). The key is checked to be 16 hex digits, so
    nothing else can enter the ``href``."""
    key = citation.get("chunk_id")
    if not is_key(key):
        return ""
    what = "open the page" if citation.get("page") else "open the section"
    return (f" · <a class='source-link' href='{SOURCE_PATH}{key}#passage' target='_blank' "
            f"rel='noopener noreferrer'>{what}</a>")


def chat_messages(turns: list[dict], pending: dict | None = None) -> list[dict]:
    """Turns -> Chatbot messages: exactly two per turn, so a message index maps back to its turn."""
    msgs = []
    for t in turns + ([pending] if pending else []):
        msgs.append({"role": "user", "content": safe_markdown(t["question"])})
        msgs.append({"role": "assistant", "content": render_answer(t) or "…"})
    return msgs


def engine_history(turns: list[dict]) -> list[dict]:
    """The plain ``[{"role","content"}]`` history the engine wants (no citation markup, no failed turns)."""
    hist = []
    for t in turns:
        if t.get("error"):
            continue
        hist += [{"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["answer"]}]
    return hist


def citation_dicts(result: "AnswerResult") -> list[dict]:
    """AnswerResult citations -> plain dicts kept in the session (and exported)."""
    return [asdict(c) for c in result.citations]


def export_markdown(turns: list[dict], course: str) -> str:
    """The conversation as Markdown; every text in it is escaped (``safe_markdown``), so a Markdown viewer
    shows a quoted ``<script>`` as text."""
    lines = [f"# Conversation — course {safe_markdown(course)}", f"_Exported {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}_", ""]
    for t in turns:
        lines += [f"**Question:** {safe_markdown(t['question'])}", ""]
        lines += [f"**Answer:** {safe_markdown(t.get('error') or t.get('answer', ''))}", ""]
        if t.get("from_faq"):
            lines += ["_(from the instructor's FAQ)_", ""]
        for c in t.get("citations") or []:
            where = place_label(c.get("section"), c.get("page"))
            label = safe_markdown(f"{c.get('document', '')}{' — ' + where if where else ''}")
            lines.append(f"- [{c.get('n')}] {label}: “{safe_markdown(c.get('snippet', ''))}”")
        lines.append("")
    return "\n".join(lines)


def write_exports(turns: list[dict], course: str) -> list[str]:
    """Write the conversation as Markdown and JSON into a fresh temp dir; Gradio serves them for download."""
    out = Path(tempfile.mkdtemp(prefix="tutor-export-"))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    md, js = out / f"conversation-{stamp}.md", out / f"conversation-{stamp}.json"
    md.write_text(export_markdown(turns, course), encoding="utf-8")
    js.write_text(html_safe_json({"course": course, "turns": turns}), encoding="utf-8")
    return [str(md), str(js)]


# ---------------------------------------------------------------------------------------------- console

REVIEW_MARKS = {"refused": "refused", "error": "error", "rated_down": "👎"}


def documents_table(docs: list["DocumentInfo"]) -> list[list]:
    return [[d.name, d.title, d.version, d.chunks, str(d.added_at)] for d in docs]


def faq_table(entries: list["FAQEntry"]) -> list[list]:
    return [[e.question, e.answer, e.language or ""] for e in entries]


def review_table(rows: list[dict]) -> list[list]:
    """``records.review_queue`` rows -> ``id, why, question, answer given, answer check`` (👎 for a student's
    rating; the check column: what the answer check withheld from the model's answer, by kind and fact)."""
    return [[q["id"], REVIEW_MARKS.get(q["why"], q["why"]), q.get("question", ""), q.get("answer", "") or "",
             finding_lines(q.get("findings") or [])] for q in rows]


def finding_lines(findings: list[dict]) -> str:
    """Typed findings (``Finding.to_dict``) as one line each: "unsupported fact: B305"."""
    from tutor.verify.verdicts import Kind

    kinds = {k.name.lower(): k.value for k in Kind}
    return "\n".join(f"{kinds.get(f.get('kind', ''), f.get('kind', ''))}: {f.get('fact') or f.get('says') or ''}".rstrip(": ")
                     for f in findings)


def progress_line(event: dict) -> str:
    """One training progress event as a log line: ``stage=train, step=3, loss=2.311``."""
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.items())


def report_frame(page: str) -> str:
    """An evaluation's report.html inside an iframe (``srcdoc``), so its styles and scripts stay out of the page."""
    return f"<iframe id='eval-frame' style='width:100%;height:900px;border:0' srcdoc=\"{html.escape(page, quote=True)}\"></iframe>"
