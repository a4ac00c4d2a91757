"""The web app: a student chat page and an instructor console, both thin Gradio layers.

Everything that answers, stores or trains lives in the libraries (``TutorEngine``, ``KnowledgeBase``,
``tutor.records``, ``finetune``); this file only lays out the page, turns clicks into library calls and
shows their results. Run it with ``python app.py`` (flags below, or ``TUTOR_*`` environment variables).

Security model of the console: Gradio serves every event handler over HTTP (``/gradio_api/queue/join``
with an ``fn_index``), whether or not the button is visible, so hiding the console is not a guard. A login
checked here on the server puts a signed, expiring token into the session's ``gr.State`` (held on the
server, never sent by the client), and every instructor handler verifies that token before doing
anything. A student's session has no token, so each call is refused and nothing changes.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import json
import logging
import os
import queue
import secrets
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gradio as gr

from basics.config import DEFAULT_COURSE, Paths
from basics.errors import ConfigError, FAQFormatError, TutorError
from tutor.generation import QueueWait
from tutor.models import DEFAULT_PRESET

log = logging.getLogger(__name__)

CSS = """
.faq-mark { display:inline-block; background:#fff3cd; color:#664d03; border:1px solid #ffe69c;
            border-radius:6px; padding:1px 8px; font-size:0.85em; margin-bottom:6px; }
details.citation { margin:4px 0; padding:4px 8px; border-left:3px solid #6c8ebf; background:rgba(108,142,191,0.08); }
details.citation summary { cursor:pointer; font-size:0.9em; }
details.citation blockquote { margin:6px 0 2px 0; font-size:0.9em; }
#notice p { margin:0; }
"""


@dataclass
class AppConfig:
    """Everything the app needs to start; ``main()`` fills it from flags and ``TUTOR_*`` variables."""

    host: str = field(default="127.0.0.1", metadata={"help": "Interface to listen on (0.0.0.0 for a LAN)."})
    port: int = field(default=7860, metadata={"help": "TCP port."})
    data_dir: str | None = field(default=None, metadata={"help": "Data directory (default: TUTOR_DATA_DIR or per-user)."})
    model: str = field(default=DEFAULT_PRESET, metadata={"help": "Model preset, model directory or HF id."})
    embedder: str | None = field(default=None, metadata={"help": "Retrieval embedder (default embeddinggemma-300m, "
                                 "multilingual; all-MiniLM-L6-v2 for English-only courses) or a sentence-transformers path."})
    remote_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible endpoint instead of a local model."})
    remote_model: str | None = field(default=None, metadata={"help": "Model name to request from the remote endpoint."})
    course: str = field(default=DEFAULT_COURSE, metadata={"help": "Course selected when the page opens."})
    adapter: str | None = field(default=None, metadata={"help": "LoRA adapter name (under DATA_DIR/adapters) to start with."})
    instructor_user: str | None = field(default=None, metadata={"help": "Instructor login name."})
    instructor_password: str | None = field(default=None, repr=False, metadata={"help": "Instructor password."})
    load_sample_course: bool = field(default=True, metadata={"help": "Load the built-in sample course if absent."})
    chat_concurrency: int = field(default=32, metadata={"help": "Chat requests admitted at once. The model still answers "
                                  "one at a time, first come first served; admitted requests see their place in line."})
    queue_size: int = field(default=128, metadata={"help": "Requests waiting in the queue before new ones are refused."})
    session_hours: float = field(default=8.0, metadata={"help": "How long an instructor login stays valid."})
    login_failure_delay_s: float = field(default=1.0, metadata={"help": "Pause after a wrong password (slows guessing)."})
    max_upload_mb: int = field(default=50, metadata={"help": "Largest file accepted by an upload."})
    review_limit: int = field(default=200, metadata={"help": "Rows shown in the questions-to-review table."})
    engine_options: dict = field(default_factory=dict, metadata={"help": "Extra EngineConfig fields (e.g. max_new_tokens)."})

    @property
    def console_enabled(self) -> bool:
        return bool(self.instructor_user and self.instructor_password)


CONSOLE_DISABLED = (
    "**The instructor console is disabled** because no instructor login is configured. To enable it, set "
    "`TUTOR_INSTRUCTOR_USER` and `TUTOR_INSTRUCTOR_PASSWORD` in the environment (or pass "
    "`--instructor-user NAME --instructor-password-file FILE`) and restart the app."
)
REFUSED = "Instructor login required: this action is only available to a logged-in instructor."


# ---------------------------------------------------------------------------------------------- sessions


def _sign(secret: bytes, payload: str) -> str:
    return hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()


def make_token(secret: bytes, user: str, hours: float) -> str:
    """A login token ``user|expiry|signature``; only this server (which holds ``secret``) can mint one."""
    payload = f"{user}|{int(time.time() + hours * 3600)}"
    return f"{payload}|{_sign(secret, payload)}"


def token_user(secret: bytes, token: Any) -> str | None:
    """The instructor a token belongs to, or None for a missing, forged or expired token."""
    if not isinstance(token, str) or token.count("|") != 2:
        return None
    user, expiry, sig = token.split("|")
    if not hmac.compare_digest(sig, _sign(secret, f"{user}|{expiry}")):
        return None
    if not expiry.isdigit() or int(expiry) < time.time():
        return None
    return user


# ------------------------------------------------------------------------------------------ rendering


def render_answer(turn: dict) -> str:
    """One assistant message: FAQ mark, answer text, then one collapsible block per citation."""
    if turn.get("error"):
        return f"⚠️ {turn['error']}"
    parts = []
    if turn.get("from_faq"):
        parts.append("<span class='faq-mark'>From the instructor's FAQ</span>\n\n")
    if turn.get("waiting") and not turn.get("answer"):
        ahead = turn["waiting"]
        parts.append(f"⏳ {ahead} question{'s' if ahead != 1 else ''} ahead of yours; your answer starts as soon as "
                     "the tutor is free.")
    elif turn.get("outcome") == "quoted":
        parts.append("<span class='faq-mark'>Quoted from the course</span>\n\n")
    parts.append(turn.get("answer") or "")
    for c in turn.get("citations") or []:
        where = ", ".join(x for x in [c.get("section") or "", f"page {c['page']}" if c.get("page") else ""] if x)
        label = f"[{c.get('n', '?')}] {c.get('document', '')}" + (f" — {where}" if where else "")
        snippet = html.escape(c.get("snippet") or "").replace("\n", " ")
        parts.append(
            f"\n\n<details class='citation'><summary>Source {html.escape(label)}</summary>"
            f"<blockquote>{snippet}</blockquote></details>"
        )
    return "".join(parts)


def chat_messages(turns: list[dict], pending: dict | None = None) -> list[dict]:
    """Turns -> Chatbot messages: exactly two per turn, so a message index maps back to its turn."""
    msgs = []
    for t in turns + ([pending] if pending else []):
        msgs.append({"role": "user", "content": t["question"]})
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


def citation_dicts(result) -> list[dict]:
    """AnswerResult citations -> plain dicts kept in the session (and exported)."""
    return [asdict(c) for c in result.citations]


def export_markdown(turns: list[dict], course: str) -> str:
    lines = [f"# Conversation — course {course}", f"_Exported {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}_", ""]
    for t in turns:
        lines += [f"**Question:** {t['question']}", ""]
        lines += [f"**Answer:** {t.get('error') or t.get('answer', '')}", ""]
        if t.get("from_faq"):
            lines += ["_(from the instructor's FAQ)_", ""]
        for c in t.get("citations") or []:
            where = ", ".join(x for x in [c.get("section") or "", f"page {c['page']}" if c.get("page") else ""] if x)
            lines.append(f"- [{c.get('n')}] {c.get('document', '')}{' — ' + where if where else ''}: “{c.get('snippet', '')}”")
        lines.append("")
    return "\n".join(lines)


def write_exports(turns: list[dict], course: str) -> list[str]:
    """Write the conversation as Markdown and JSON into a fresh temp dir; Gradio serves them for download."""
    out = Path(tempfile.mkdtemp(prefix="tutor-export-"))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    md, js = out / f"conversation-{stamp}.md", out / f"conversation-{stamp}.json"
    md.write_text(export_markdown(turns, course), encoding="utf-8")
    js.write_text(json.dumps({"course": course, "turns": turns}, ensure_ascii=False, indent=2), encoding="utf-8")
    return [str(md), str(js)]


# ------------------------------------------------------------------------------------------ the app


def build_app(config: AppConfig, kb=None, engine=None) -> gr.Blocks:
    """Build the whole page. ``kb`` / ``engine`` may be passed in (tests share loaded models that way);
    otherwise they are created here once and shared by every session."""
    from knowledge_base import KBConfig, KnowledgeBase
    from tutor import records
    from tutor.engine import EngineConfig, TutorEngine

    paths = Paths.from_env(config.data_dir) if kb is None else kb.paths
    if kb is None:
        kb = KnowledgeBase(paths, KBConfig(embedder=config.embedder) if config.embedder else None)
    if config.load_sample_course:
        kb.ensure_sample_course()

    def make_engine(adapter: str | None):
        return TutorEngine(
            kb,
            EngineConfig(model=config.model, adapter=adapter, remote_url=config.remote_url,
                         remote_model=config.remote_model or "", **config.engine_options),
            paths,
        )

    # The engine (and the model inside it) is created once and shared by all sessions; picking another
    # adapter swaps it for every session at once.
    runtime = {"engine": engine or make_engine(config.adapter), "adapter": config.adapter}
    runtime_lock = threading.Lock()
    secret = secrets.token_bytes(32)

    def courses() -> list[str]:
        names = kb.courses()
        return names if config.course in names else [config.course] + names

    # -------------------------------------------------------------------------- student handlers

    def respond(question: str, course: str, turns: list[dict] | None):
        """Stream one answer. Any failure becomes a message in the chat; the session carries on."""
        turns = list(turns or [])
        question = (question or "").strip()
        engine_now = runtime["engine"]
        pending = {"question": question, "answer": "", "citations": [], "from_faq": False}
        try:
            stream = engine_now.answer(question, engine_history(turns), course)
            yield chat_messages(turns, pending), turns, "", ""
            for delta in stream:
                if isinstance(delta, QueueWait):  # the model is busy with other students' questions
                    pending["waiting"] = delta.ahead
                else:
                    pending["answer"] += delta
                yield chat_messages(turns, pending), turns, "", ""
            result = stream.result
            pending.update(
                answer=result.answer,
                citations=citation_dicts(result),
                from_faq=result.outcome == "faq",
                outcome=result.outcome,
                language=result.language,
                question_id=result.question_id,
            )
            turns.append(pending)
            yield chat_messages(turns), turns, "", ""
        except TutorError as exc:  # empty / oversized question, model or KB problem: say what to do
            log.info("question refused: %s", exc)
            yield chat_messages(turns), turns, question, f"⚠️ {exc}"
        except Exception as exc:  # noqa: BLE001 - one bad request must not end the student's session
            log.exception("answering failed")
            turns.append({"question": question, "error": f"Sorry, something went wrong while answering ({type(exc).__name__}). Please try again."})
            yield chat_messages(turns), turns, "", ""

    def feedback(turns: list[dict] | None, like: gr.LikeData):
        index = like.index[0] if isinstance(like.index, (list, tuple)) else like.index
        turns = turns or []
        turn = turns[index // 2] if 0 <= index // 2 < len(turns) else None
        if not turn or not turn.get("question_id"):
            return "This message cannot be rated."
        rating = 1 if like.liked is True or like.liked == "Like" else -1
        if like.liked is None or like.liked == "":
            return ""  # the student took the rating back; keep what was stored
        try:
            records.add_feedback(kb.db, turn["question_id"], rating)
        except TutorError as exc:
            return f"⚠️ {exc}"
        return "Thanks for the feedback 👍" if rating > 0 else "Thanks — the instructor will review this answer."

    def new_conversation():
        return [], [], "", ""

    def export(turns: list[dict] | None, course: str):
        if not turns:
            return gr.update(value=None, visible=False), "Nothing to export yet: ask a question first."
        return gr.update(value=write_exports(turns, course), visible=True), ""

    def refresh_courses(current: str):
        names = courses()
        return gr.update(choices=names, value=current if current in names else config.course)

    # ------------------------------------------------------------------------ instructor handlers

    def require(session: Any) -> str:
        """The logged-in instructor, or raise: every console handler starts with this."""
        user = token_user(secret, session)
        if user is None:
            raise gr.Error(REFUSED)
        return user

    def login(user: str, password: str):
        ok_user = hmac.compare_digest((user or "").encode(), (config.instructor_user or "").encode())
        ok_pass = hmac.compare_digest((password or "").encode(), (config.instructor_password or "").encode())
        if not (ok_user and ok_pass and config.console_enabled):
            time.sleep(config.login_failure_delay_s)
            return None, gr.update(visible=True), gr.update(visible=False), "Wrong user name or password.", ""
        log.info("instructor %s logged in", user)
        return make_token(secret, user, config.session_hours), gr.update(visible=False), gr.update(visible=True), "", f"Logged in as **{user}**."

    def logout():
        return None, gr.update(visible=True), gr.update(visible=False), "", ""

    def documents_table(course: str) -> list[list]:
        return [[d.name, d.title, d.version, d.chunks, str(d.added_at)] for d in kb.list_documents(course or None)]

    def doc_names(course: str) -> list[str]:
        return [d.name for d in kb.list_documents(course or None)]

    def load_console(session, course: str):
        require(session)
        names = doc_names(course)
        return documents_table(course), gr.update(choices=names, value=None), faq_table(course), review_table(course)

    def upload_documents(session, course: str, files: list[str] | None):
        require(session)
        course = (course or "").strip()
        if not course:
            raise gr.Error("Pick or type a course name first.")
        if not files:
            raise gr.Error("Choose one or more files to upload.")
        rows = []
        for f in files:
            name = Path(f).name
            try:
                res = kb.add_file(Path(f), course, name=name)
                rows.append([name, res.status, res.chunks, res.error or ""])
            except TutorError as exc:  # IngestError names the server's temp path: show its reason
                rows.append([name, "error", 0, getattr(exc, "reason", str(exc))])
        names = doc_names(course)
        return rows, documents_table(course), gr.update(choices=names, value=None), gr.update(choices=courses())

    def delete_document(session, course: str, name: str | None):
        require(session)
        if not name:
            raise gr.Error("Pick the document to delete.")
        ok = kb.delete(course, name)
        msg = f"Deleted **{name}** from {course}." if ok else f"{name} is not in {course}."
        return msg, documents_table(course), gr.update(choices=doc_names(course), value=None)

    def faq_table(course: str) -> list[list]:
        return [[e.question, e.answer, e.language or ""] for e in kb.faq(course)]

    def upload_faq(session, course: str, file: str | None):
        require(session)
        from knowledge_base import load_faq

        if not file:
            raise gr.Error("Choose an FAQ file (CSV or JSONL).")
        try:
            entries = load_faq(Path(file))
        except FAQFormatError as exc:
            rows = [[row, msg] for row, msg in exc.problems]
            return f"⚠️ {Path(file).name}: {len(exc.problems)} problem(s); nothing was changed.", rows, faq_table(course)
        except TutorError as exc:
            return f"⚠️ {exc}", [], faq_table(course)
        n = kb.set_faq(course, entries)
        return f"Loaded {n} FAQ entries into {course}.", [], faq_table(course)

    def review_table(course: str) -> list[list]:
        seen, rows = set(), []
        for kw in ({"outcome": "refused"}, {"outcome": "error"}, {"rated_down": True}):
            for q in records.list_questions(kb.db, course=course or None, limit=config.review_limit, **kw):
                if q["id"] in seen:
                    continue
                seen.add(q["id"])
                why = q["outcome"] if q.get("outcome") in ("refused", "error") else "👎"
                rows.append([q["id"], why, q.get("question", ""), q.get("answer", "") or ""])
        return rows

    def refresh_review(session, course: str):
        require(session)
        return review_table(course)

    def pick_review(session, rows, evt: gr.SelectData):
        require(session)
        r = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        values = rows.values.tolist() if hasattr(rows, "values") else rows
        if not values or r >= len(values):
            return "", ""
        return values[r][2], ""

    def add_to_faq(session, course: str, question: str, answer: str):
        require(session)
        if not (question or "").strip() or not (answer or "").strip():
            raise gr.Error("Both the question and the instructor's answer are needed for an FAQ entry.")
        kb.add_faq_entry(course, question.strip(), answer.strip())
        return f"Added to the FAQ of {course}: “{question.strip()}”", faq_table(course), review_table(course), "", ""

    def course_faq_file(course: str, purpose: str) -> Path:
        """The course FAQ as stored in the knowledge base, written to a CSV for finetune's file API."""
        from knowledge_base.faq import write_faq_csv

        entries = kb.faq(course)
        if not entries:
            raise gr.Error(f"Course {course} has no FAQ yet: upload an FAQ file first (or choose one for {purpose}).")
        return write_faq_csv(entries, Path(tempfile.mkdtemp(prefix=f"tutor-{purpose}-")) / f"{course}-faq.csv")

    def adapter_names() -> list[str]:
        from finetune.train import list_adapters

        return [card["name"] for card in list_adapters(paths)]

    def adapter_choices(session):
        require(session)
        return gr.update(choices=["(none)"] + adapter_names())

    def start_training(session, course: str, file: str | None, name: str, epochs: float):
        """Train in a worker thread and stream its progress events into the page."""
        require(session)
        from finetune.train import TrainConfig, train_adapter

        name = (name or "").strip()
        if not name:
            raise gr.Error("Give the adapter a name (letters, digits, - and _).")
        source = Path(file) if file else course_faq_file(course, "training")
        events: queue.Queue = queue.Queue()
        outcome: dict = {}
        train_config = TrainConfig(base=config.model, epochs=float(epochs or 3), show_progress=False)

        def work():
            try:
                outcome["card"] = train_adapter(source, name, train_config, paths, kb=kb, progress=events.put)
            except Exception as exc:  # noqa: BLE001 - shown in the page below
                log.exception("training failed")
                outcome["error"] = exc

        worker = threading.Thread(target=work, daemon=True, name=f"train-{name}")
        worker.start()
        log_lines = [f"Training adapter {name} on {Path(source).name} (base {config.model}, {train_config.epochs:g} epochs)…"]
        while worker.is_alive() or not events.empty():
            try:
                event = events.get(timeout=0.5)
                log_lines.append(", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.items()))
            except queue.Empty:
                pass
            yield "\n".join(log_lines[-200:]), gr.update()
        if "error" in outcome:
            log_lines.append(f"⚠️ Training failed: {outcome['error']}")
        else:
            log_lines.append(f"Done: adapter {name} saved to {outcome['card'].get('path')}. Pick it below to use it.")
        yield "\n".join(log_lines[-200:]), gr.update(choices=["(none)"] + adapter_names())

    def use_adapter(session, name: str | None):
        require(session)
        adapter = None if name in (None, "", "(none)") else name
        with runtime_lock:
            try:
                new = make_engine(adapter)
                new.generator  # load now: a missing or broken adapter is reported here, not to a student
            except TutorError as exc:
                return f"⚠️ {exc} (still using {runtime['adapter'] or 'the base model'})"
            runtime.update(engine=new, adapter=adapter)
        return f"Students are now answered by {config.model}" + (f" + adapter **{adapter}**." if adapter else " (no adapter).")

    def run_eval(session, course: str, file: str | None, limit: float | None):
        require(session)
        from finetune.evaluate import EvalConfig, run_evaluation

        source = Path(file) if file else course_faq_file(course, "evaluation")
        eval_config = EvalConfig(course=course, adapter=runtime["adapter"], model=config.model,
                                 limit=int(limit) if limit else None, show_progress=False)
        out_dir = paths.reports_dir / f"{course}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
        try:
            result = run_evaluation(source, eval_config, paths, kb=kb, out_dir=out_dir)
        except TutorError as exc:
            return f"⚠️ {exc}", ""
        page = (result.out_dir / "report.html").read_text(encoding="utf-8")
        frame = f"<iframe id='eval-frame' style='width:100%;height:900px;border:0' srcdoc=\"{html.escape(page, quote=True)}\"></iframe>"
        return f"Report written to `{result.out_dir}` ({len(result.rows)} rows).", frame

    # -------------------------------------------------------------------------------- layout

    with gr.Blocks(title="Course tutor", fill_width=True) as demo:
        gr.Markdown("# Course tutor")
        with gr.Tabs():
            with gr.Tab("Ask the tutor", id="student"):
                turns = gr.State([])
                with gr.Row():
                    course = gr.Dropdown(courses(), value=config.course, label="Course", scale=3, elem_id="course")
                    new_btn = gr.Button("New conversation", scale=1, elem_id="new-conversation")
                    export_btn = gr.Button("Export conversation", scale=1, elem_id="export")
                chatbot = gr.Chatbot(
                    label="Tutor",
                    height=520,
                    elem_id="chat",
                    placeholder="Ask a question about the course. Answers cite the course material; open a source to read the passage.",
                    feedback_options=("Like", "Dislike"),
                    buttons=["copy"],
                )
                with gr.Row():
                    question = gr.Textbox(
                        placeholder="Type your question and press Enter", show_label=False, scale=6, elem_id="question", max_lines=6
                    )
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
                notice = gr.Markdown("", elem_id="notice")
                export_files = gr.File(label="Conversation export (Markdown and JSON)", file_count="multiple", visible=False, interactive=False)

                answer_io = dict(
                    fn=respond,
                    inputs=[question, course, turns],
                    outputs=[chatbot, turns, question, notice],
                    concurrency_limit=config.chat_concurrency,
                    concurrency_id="answer",
                )
                question.submit(api_name="ask", **answer_io)
                send.click(api_visibility="private", **answer_io)
                chatbot.like(feedback, [turns], [notice], api_name="feedback")
                new_btn.click(new_conversation, None, [chatbot, turns, question, notice], api_name="new_conversation")
                chatbot.clear(new_conversation, None, [chatbot, turns, question, notice], api_visibility="private")
                course.change(new_conversation, None, [chatbot, turns, question, notice], api_visibility="private")
                export_btn.click(export, [turns, course], [export_files, notice], api_name="export")
                demo.load(refresh_courses, [course], [course], api_visibility="private")

            with gr.Tab("Instructor", id="instructor"):
                if not config.console_enabled:
                    gr.Markdown(CONSOLE_DISABLED, elem_id="console-disabled")
                else:
                    session = gr.State(None)
                    with gr.Column(visible=True, elem_id="login") as login_box:
                        gr.Markdown("### Instructor login")
                        user_in = gr.Textbox(label="User name", elem_id="login-user")
                        pass_in = gr.Textbox(label="Password", type="password", elem_id="login-password")
                        login_btn = gr.Button("Log in", variant="primary", elem_id="login-button")
                        login_msg = gr.Markdown("", elem_id="login-message")
                    with gr.Column(visible=False, elem_id="console") as console:
                        with gr.Row():
                            who = gr.Markdown("")
                            logout_btn = gr.Button("Log out", size="sm", scale=0)
                        ic = gr.Dropdown(courses(), value=config.course, label="Course", allow_custom_value=True, elem_id="console-course")
                        with gr.Tabs():
                            with gr.Tab("Documents"):
                                up_files = gr.File(label="Documents (PDF, Markdown, HTML, TXT, DOCX) — several at once", file_count="multiple", elem_id="doc-upload")
                                up_btn = gr.Button("Add / replace documents", variant="primary", elem_id="doc-add")
                                up_status = gr.Dataframe(headers=["file", "status", "chunks", "error"], label="Upload results", interactive=False, elem_id="doc-status")
                                docs = gr.Dataframe(headers=["name", "title", "version", "chunks", "added"], label="Documents in this course", interactive=False, elem_id="doc-list")
                                with gr.Row():
                                    del_name = gr.Dropdown([], label="Document to delete", scale=3)
                                    del_btn = gr.Button("Delete", variant="stop", scale=1)
                                del_msg = gr.Markdown("")
                            with gr.Tab("FAQ"):
                                faq_file = gr.File(label="FAQ file (CSV with question,answer columns, or JSONL)", elem_id="faq-upload")
                                faq_btn = gr.Button("Validate and load FAQ", variant="primary")
                                faq_msg = gr.Markdown("")
                                faq_errors = gr.Dataframe(headers=["row", "problem"], label="Problems by row", interactive=False)
                                faq_list = gr.Dataframe(headers=["question", "answer", "language"], label="Current FAQ", interactive=False, wrap=True)
                            with gr.Tab("Fine-tuning"):
                                gr.Markdown("Train a LoRA adapter on this course's FAQ (or on the file chosen here), then pick the adapter students get.")
                                train_file = gr.File(label="Training FAQ file (optional: default is the course FAQ)")
                                with gr.Row():
                                    train_name = gr.Textbox(label="Adapter name", value=f"{config.course}-faq", scale=3)
                                    train_epochs = gr.Number(label="Epochs", value=3, minimum=0.1, scale=1)
                                train_btn = gr.Button("Start fine-tuning", variant="primary")
                                train_log = gr.Textbox(label="Progress", lines=10, max_lines=20, autoscroll=True)
                                with gr.Row():
                                    adapter_pick = gr.Dropdown(["(none)"], value=runtime["adapter"] or "(none)", label="Active adapter", scale=3)
                                    adapter_btn = gr.Button("Use this adapter", scale=1)
                                adapter_msg = gr.Markdown("")
                            with gr.Tab("Evaluation"):
                                with gr.Row():
                                    eval_file = gr.File(label="Evaluation FAQ file (optional: default is the course FAQ)", scale=3)
                                    eval_limit = gr.Number(label="Only the first N rows (empty: all)", value=20, minimum=1, scale=1)
                                eval_btn = gr.Button("Run evaluation", variant="primary")
                                eval_msg = gr.Markdown("")
                                eval_report = gr.HTML("")
                            with gr.Tab("Questions to review"):
                                gr.Markdown("Questions the tutor refused or students rated 👎. Click one, write the answer, add it to the FAQ; then retrain and evaluate.")
                                review = gr.Dataframe(headers=["id", "why", "question", "answer given"], interactive=False, wrap=True, elem_id="review")
                                review_refresh = gr.Button("Refresh", size="sm")
                                rv_q = gr.Textbox(label="Question")
                                rv_a = gr.Textbox(label="Instructor's answer", lines=3)
                                rv_btn = gr.Button("Add to FAQ", variant="primary")
                                rv_msg = gr.Markdown("")

                    private = dict(api_visibility="private")
                    heavy = dict(api_visibility="private", concurrency_limit=1, concurrency_id="instructor-heavy")
                    login_btn.click(login, [user_in, pass_in], [session, login_box, console, login_msg, who], **private).then(
                        load_console, [session, ic], [docs, del_name, faq_list, review], **private
                    ).then(adapter_choices, [session], [adapter_pick], **private)
                    pass_in.submit(login, [user_in, pass_in], [session, login_box, console, login_msg, who], **private).then(
                        load_console, [session, ic], [docs, del_name, faq_list, review], **private
                    ).then(adapter_choices, [session], [adapter_pick], **private)
                    logout_btn.click(logout, None, [session, login_box, console, login_msg, who], **private)
                    ic.change(load_console, [session, ic], [docs, del_name, faq_list, review], **private)
                    up_btn.click(upload_documents, [session, ic, up_files], [up_status, docs, del_name, ic], **heavy)
                    del_btn.click(delete_document, [session, ic, del_name], [del_msg, docs, del_name], **private)
                    faq_btn.click(upload_faq, [session, ic, faq_file], [faq_msg, faq_errors, faq_list], **private)
                    train_btn.click(start_training, [session, ic, train_file, train_name, train_epochs], [train_log, adapter_pick], **heavy)
                    adapter_btn.click(use_adapter, [session, adapter_pick], [adapter_msg], **heavy)
                    eval_btn.click(run_eval, [session, ic, eval_file, eval_limit], [eval_msg, eval_report], **heavy)
                    review_refresh.click(refresh_review, [session, ic], [review], **private)
                    review.select(pick_review, [session, review], [rv_q, rv_a], **private)
                    rv_btn.click(add_to_faq, [session, ic, rv_q, rv_a], [rv_msg, faq_list, review, rv_q, rv_a], **private)

    demo.queue(default_concurrency_limit=1, max_size=config.queue_size)
    demo.tutor = {"kb": kb, "runtime": runtime, "paths": paths}  # for tests and the load benchmark
    return demo


def launch(config: AppConfig, demo: gr.Blocks | None = None, block: bool = True) -> gr.Blocks:
    """Start the server (blocking unless ``block=False``, used by tests); returns the Blocks."""
    demo = demo or build_app(config)
    demo.launch(
        server_name=config.host,
        server_port=config.port,
        prevent_thread_lock=not block,
        show_error=True,
        quiet=not block,
        css=CSS,
        max_file_size=f"{config.max_upload_mb}mb",
        footer_links=["gradio", "settings"],
    )
    return demo


# ------------------------------------------------------------------------------------------ CLI


def parse_args(argv: list[str] | None = None, env: dict | None = None) -> tuple[AppConfig, int]:
    """Flags > ``TUTOR_*`` environment > AppConfig defaults. Passwords come only from env or a file."""
    env = os.environ if env is None else env
    d = AppConfig()
    p = argparse.ArgumentParser(description="coursetutor web app: student chat + instructor console")
    p.add_argument("--host", default=env.get("TUTOR_HOST", d.host))
    p.add_argument("--port", type=int, default=int(env.get("TUTOR_PORT", d.port)))
    p.add_argument("--data-dir", default=env.get("TUTOR_DATA_DIR", d.data_dir))
    p.add_argument("--model", default=env.get("TUTOR_MODEL", d.model), help="preset name, model directory or HF id")
    p.add_argument("--remote-url", default=env.get("TUTOR_REMOTE_URL", d.remote_url), help="OpenAI-compatible endpoint")
    p.add_argument("--remote-model", default=env.get("TUTOR_REMOTE_MODEL", d.remote_model))
    p.add_argument("--embedder", default=env.get("TUTOR_EMBEDDER", d.embedder),
                   help="retrieval embedder: embeddinggemma-300m (default), all-MiniLM-L6-v2 or a path")
    p.add_argument("--course", default=env.get("TUTOR_COURSE", d.course))
    p.add_argument("--adapter", default=env.get("TUTOR_ADAPTER", d.adapter))
    p.add_argument("--instructor-user", default=env.get("TUTOR_INSTRUCTOR_USER"))
    p.add_argument("--instructor-password-file", default=env.get("TUTOR_INSTRUCTOR_PASSWORD_FILE"),
                   help="file holding the instructor password (first line)")
    p.add_argument("--no-sample-course", action="store_true", help="do not load the built-in sample course")
    p.add_argument("--concurrency", type=int, default=int(env.get("TUTOR_CONCURRENCY", d.chat_concurrency)),
                   help="answers generated at once")
    p.add_argument("-v", "--verbose", action="count", default=0)
    a = p.parse_args(argv)
    password = env.get("TUTOR_INSTRUCTOR_PASSWORD")
    if a.instructor_password_file:
        f = Path(a.instructor_password_file).expanduser()
        try:
            password = f.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise ConfigError(f"--instructor-password-file {f}: cannot read a password from it ({exc}).") from exc
        if not password:
            raise ConfigError(f"--instructor-password-file {f}: the first line is empty.")
    user = a.instructor_user or ("instructor" if password else None)
    config = AppConfig(
        host=a.host, port=a.port, data_dir=a.data_dir, model=a.model, embedder=a.embedder, remote_url=a.remote_url,
        remote_model=a.remote_model, course=a.course, adapter=a.adapter, instructor_user=user,
        instructor_password=password, load_sample_course=not a.no_sample_course, chat_concurrency=a.concurrency,
    )
    return config, a.verbose


def main(argv: list[str] | None = None) -> None:
    try:
        config, verbose = parse_args(argv)
        logging.basicConfig(level=logging.WARNING - 10 * min(verbose, 2), format="%(levelname)s %(name)s: %(message)s")
        if not config.console_enabled:
            log.warning("Instructor console disabled: set TUTOR_INSTRUCTOR_USER / TUTOR_INSTRUCTOR_PASSWORD or --instructor-password-file.")
        demo = build_app(config)
        demo.tutor["runtime"]["engine"].generator  # load the model before the first student waits for it
        launch(config, demo)
    except TutorError as exc:
        raise SystemExit(f"Error: {exc}") from exc


if __name__ == "__main__":
    main()
