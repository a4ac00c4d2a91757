"""The Gradio page: ``build_app`` makes the shared objects (knowledge base, engine, auth, handlers) and lays
out the student tab and the instructor console, wiring each component's event to one handler method;
``launch`` serves it. Nothing here decides anything: the handlers live in ``student`` and ``console``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import gradio as gr

from basics.config import Paths
from knowledge_base.accounts import AccountsConfig
from webapp import admin_view, dashboard_view
from webapp.access import CourseAccess
from webapp.admin import AdminConsole
from webapp.auth import InstructorAuth
from webapp.config import CONSOLE_DISABLED, AppConfig
from webapp.console import NO_ADAPTER, InstructorConsole
from webapp.guard import ROTATE_PATH, BrowserKeyMiddleware
from webapp.render import CSS
from webapp.sources import SourceViewer
from webapp.runtime import ActiveEngine
from webapp.student import StudentChat

if TYPE_CHECKING:
    from knowledge_base import KnowledgeBase
    from tutor.engine import TutorEngine


@dataclass
class AppParts:
    """The objects behind a built page, as ``demo.tutor``: for ``main`` (load the model before the first
    student waits), tests (call handlers, read the knowledge base, install an engine) and benchmarks."""

    kb: "KnowledgeBase"
    paths: Paths
    engines: ActiveEngine
    chat: StudentChat
    auth: InstructorAuth | None  # None: console disabled
    console: InstructorConsole | None


def build_parts(config: AppConfig, kb: "KnowledgeBase | None" = None, engine: "TutorEngine | None" = None,
                clock: Callable[[], float] = time.time) -> AppParts:
    """Everything but the page. ``kb`` / ``engine`` may be passed in (tests share loaded models that way);
    otherwise they are created here once and shared by every session. ``clock`` drives login tokens and
    the login lockout (tests pass a fake one to let a lockout expire)."""
    from knowledge_base import KBConfig, KnowledgeBase
    from tutor.engine import EngineConfig, open_engine

    config.check()  # a short instructor password is refused before anything is created on disk
    paths = Paths.from_env(config.data_dir) if kb is None else kb.paths
    if kb is None:
        kb = KnowledgeBase(paths, KBConfig(embedder=config.embedder) if config.embedder else None)
    # the console opens for the configured instructor (an admin) and for the accounts in the database
    access = CourseAccess(kb, config.instructor_user if config.console_enabled else None,
                          AccountsConfig(min_password_length=config.min_password_length))
    console_on = config.console_enabled or access.has_accounts()
    auth = InstructorAuth.from_config(config, clock=clock, accounts=access) if console_on else None
    if config.load_sample_course:
        for course in config.builtin_courses:
            kb.ensure_sample_course(course)

    def make_engine(adapter: str | None) -> TutorEngine:
        return open_engine(EngineConfig(model=config.model, adapter=adapter, remote_url=config.remote_url,
                                        remote_model=config.remote_model or "", **config.engine_options),
                           kb=kb, sample_course=False)  # loaded above when load_sample_course

    engines = ActiveEngine(make_engine, engine, config.adapter)
    console = InstructorConsole(kb, paths, engines, auth, config, access) if auth is not None else None
    return AppParts(kb, paths, engines, StudentChat(kb, engines, config.course), auth, console)


def build_app(config: AppConfig, kb: "KnowledgeBase | None" = None, engine: "TutorEngine | None" = None,
              clock: Callable[[], float] = time.time) -> gr.Blocks:
    """Build the whole page (see ``build_parts`` for the arguments); ``demo.tutor`` holds its ``AppParts``."""
    parts = build_parts(config, kb, engine, clock)
    with gr.Blocks(title="Course tutor", fill_width=True) as demo:
        gr.Markdown("# Course tutor")
        with gr.Tabs():
            with gr.Tab("Ask the tutor", id="student"):
                _student_tab(demo, parts.chat, config)
            with gr.Tab("Instructor", id="instructor"):
                if parts.console is None:
                    gr.Markdown(CONSOLE_DISABLED, elem_id="console-disabled")
                else:
                    _console_tab(parts.console, config)
    demo.queue(default_concurrency_limit=1, max_size=config.queue_size)
    demo.tutor = parts
    return demo


# Formulas as courses write them: $…$ and \(…\) inline, $$…$$ and \[…\] displayed (KaTeX, in answers and in
# citation snippets alike). A lone "$" ("costs $5") stays text: KaTeX's auto-render needs the closing one.
LATEX_DELIMITERS = [
    {"left": "$$", "right": "$$", "display": True},
    {"left": "\\[", "right": "\\]", "display": True},
    {"left": "$", "right": "$", "display": False},
    {"left": "\\(", "right": "\\)", "display": False},
]


def _student_tab(demo: gr.Blocks, chat: StudentChat, config: AppConfig) -> None:
    turns = gr.State([])
    conversation = gr.State(None)  # the id the conversation is kept under in this browser's history
    with gr.Row():
        course = gr.Dropdown(chat.courses(), value=chat.start_course(), label="Course", scale=3, elem_id="course")
        new_btn = gr.Button("New conversation", scale=1, elem_id="new-conversation")
        export_btn = gr.Button("Export conversation", scale=1, elem_id="export")
    with gr.Row():
        history = gr.Dropdown([], value=None, label="Your conversations", scale=3, elem_id="history")
        delete_btn = gr.Button("Delete my history", scale=1, size="sm", variant="secondary", elem_id="delete-history")
    with gr.Row(visible=False, elem_id="delete-confirm") as confirm_row:
        confirm_text = gr.Markdown("", elem_id="delete-confirm-text")
        confirm_yes = gr.Button("Yes, delete it", variant="stop", scale=0, elem_id="delete-history-confirm")
        confirm_no = gr.Button("Cancel", scale=0, elem_id="delete-history-cancel")
    # What the course is, and questions to start with: filled for the configured course now, and again when the
    # page loads (titles may have changed since) or the student picks another course.
    first_header, first_questions = chat.course_view(chat.start_course())
    header = gr.Markdown(first_header, line_breaks=True, elem_id="course-header")
    with gr.Row(elem_id="examples"):
        examples = [gr.Button(q, visible=bool(q), size="sm", variant="secondary", elem_classes="example-question",
                              elem_id=f"example-{i}") for i, q in enumerate(first_questions)]
    chatbot = gr.Chatbot(
        label="Tutor",
        height=520,
        elem_id="chat",
        placeholder="Ask a question about the course. Answers cite the course material; open a source to read the passage.",
        feedback_options=("Like", "Dislike"),
        buttons=["copy"],
        latex_delimiters=LATEX_DELIMITERS,
    )
    with gr.Row():
        question = gr.Textbox(
            placeholder="Type your question and press Enter", show_label=False, scale=6, elem_id="question", max_lines=6
        )
        send = gr.Button("Send", variant="primary", scale=1, elem_id="send")
    notice = gr.Markdown("", elem_id="notice")
    export_files = gr.File(label="Conversation export (Markdown and JSON)", file_count="multiple", visible=False, interactive=False)

    answer_io = dict(
        fn=chat.respond,
        inputs=[question, course, turns, conversation],
        outputs=[chatbot, turns, conversation, question, notice],
        concurrency_limit=config.chat_concurrency,
        concurrency_id="answer",
    )
    cleared = [chatbot, turns, conversation, question, notice]
    # The answer keeps the conversation (saved inside respond); then the list shows it, selected.
    listed = dict(fn=chat.history_list, inputs=[conversation], outputs=[history], api_visibility="private")
    question.submit(api_name="ask", **answer_io).then(**listed)
    send.click(api_visibility="private", **answer_io).then(**listed)
    for button in examples:  # the example goes into the box, then is asked as if the student had typed it
        button.click(chat.pick_example, [button], [question], api_visibility="private").then(
            api_visibility="private", **answer_io).then(**listed)
    chatbot.like(chat.feedback, [turns], [notice], api_name="feedback")
    new_btn.click(chat.new_conversation, None, cleared, api_name="new_conversation").then(**listed)
    chatbot.clear(chat.new_conversation, None, cleared, api_visibility="private").then(**listed)
    # Only the student's own pick of a course starts a new conversation: opening a kept one sets its course too.
    course.input(chat.new_conversation, None, cleared, api_visibility="private").then(**listed)
    course.change(chat.course_page, [course], [header, *examples], api_visibility="private")
    export_btn.click(chat.export, [turns, course], [export_files, notice], api_name="export")
    history.input(chat.open_conversation, [history], [*cleared, course], api_name="open_conversation")
    delete_btn.click(chat.ask_to_delete, None, [confirm_row, confirm_text], api_visibility="private")
    confirm_no.click(chat.cancel_delete, None, [confirm_row, confirm_text], api_visibility="private")
    confirm_yes.click(chat.delete_history, None, [*cleared, history, confirm_row], api_name="delete_history")
    # (a link /?course=ID opens on that course: ``arrive`` reads the page's query)
    demo.load(chat.arrive, [course], [course, notice], api_visibility="private").then(
        chat.course_page, [course], [header, *examples], api_visibility="private")
    demo.load(chat.history_list, [conversation], [history], api_name="history")  # this browser's kept conversations


# Runs in the page before the login handler (and after logout): asks the server for a fresh browser key
# cookie, then passes the handler's inputs on unchanged.
ROTATE_KEY_JS = f"""async (...args) => {{
  await fetch(window.location.pathname.replace(/\\/$/, '') + '{ROTATE_PATH}', {{method: 'POST', credentials: 'same-origin'}});
  return args;
}}"""


def _console_tab(console: InstructorConsole, config: AppConfig) -> None:
    session = gr.State(None)
    with gr.Column(visible=True, elem_id="login") as login_box:
        gr.Markdown("### Instructor login")
        user_in = gr.Textbox(label="User name", elem_id="login-user")
        pass_in = gr.Textbox(label="Password", type="password", elem_id="login-password")
        login_btn = gr.Button("Log in", variant="primary", elem_id="login-button")
        login_msg = gr.Markdown("", elem_id="login-message")
    with gr.Column(visible=False, elem_id="console") as console_box:
        with gr.Row():
            who = gr.Markdown("")
            logout_btn = gr.Button("Log out", size="sm", scale=0)
        # filled at login with the account's courses: the page's config, which anyone can read, names only the
        # configured course (the one the student page opens on)
        ic = gr.Dropdown([config.course], value=config.course, label="Course", allow_custom_value=True,
                         elem_id="console-course")
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
            with gr.Tab("Course page"):
                gr.Markdown("What students see above the chat. The course picker lists courses by title; the example "
                            "questions come from the FAQ (else from the document titles).")
                ci_title = gr.Textbox(label="Title (blank: the course id)", max_lines=1, elem_id="course-title")
                ci_desc = gr.Textbox(label="Description: one line on what the course covers", max_lines=2, elem_id="course-description")
                ci_welcome = gr.Textbox(label="Welcome text (optional)", lines=4, elem_id="course-welcome")
                ci_btn = gr.Button("Save", variant="primary", elem_id="course-save")
                ci_msg = gr.Markdown("")
                ci_preview = gr.Markdown("", line_breaks=True, elem_id="course-preview")
            with gr.Tab("Fine-tuning"):
                gr.Markdown("Train a LoRA adapter on this course's FAQ (or on the file chosen here), then pick the adapter students get.")
                train_file = gr.File(label="Training FAQ file (optional: default is the course FAQ)")
                with gr.Row():
                    train_name = gr.Textbox(label="Adapter name", value=f"{config.course}-faq", scale=3)
                    train_epochs = gr.Number(label="Epochs", value=3, minimum=0.1, scale=1)
                train_btn = gr.Button("Start fine-tuning", variant="primary")
                train_log = gr.Textbox(label="Progress", lines=10, max_lines=20, autoscroll=True)
                with gr.Row():
                    adapter_pick = gr.Dropdown([NO_ADAPTER], value=console.engines.adapter or NO_ADAPTER, label="Active adapter", scale=3)
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
                review = gr.Dataframe(headers=["id", "why", "question", "answer given", "answer check"], interactive=False, wrap=True, elem_id="review")
                review_refresh = gr.Button("Refresh", size="sm")
                rv_q = gr.Textbox(label="Question")
                rv_a = gr.Textbox(label="Instructor's answer", lines=3)
                rv_btn = gr.Button("Add to FAQ", variant="primary")
                rv_msg = gr.Markdown("")
            with gr.Tab("Dashboard", elem_id="dashboard-tab") as dash_tab:
                with gr.Row():
                    dash_days = gr.Dropdown([7, 30, 90, 365], value=30, label="Days (UTC, today included)", scale=3,
                                            elem_id="dash-days")
                    dash_refresh = gr.Button("Refresh", scale=1, elem_id="dash-refresh")
                dash_summary = gr.Markdown("", elem_id="dash-summary")
                with gr.Row():
                    dash_per_day = gr.Plot(label="Questions per day", format="png", elem_id="dash-per-day")
                    dash_outcomes = gr.Plot(label="Outcomes per day", format="png", elem_id="dash-outcomes")
                dash_topics = gr.Dataframe(headers=dashboard_view.TOPIC_HEADERS, label="Most asked topics (grouped by meaning)",
                                           interactive=False, wrap=True, elem_id="dash-topics")
                dash_docs = gr.Dataframe(headers=dashboard_view.DOCUMENT_HEADERS, label="Documents never cited",
                                         interactive=False, elem_id="dash-never-cited")
                dash_gaps = gr.Dataframe(headers=dashboard_view.GAP_HEADERS, label="Unanswered questions the FAQ now answers",
                                         interactive=False, wrap=True, elem_id="dash-gaps")
                dash_files = gr.File(label="CSV export", file_count="multiple", interactive=False, elem_id="dash-csv")
            admin_tab = admin_view.build(AdminConsole(console), session, ic, who)  # shown to admins at login

    private = dict(api_visibility="private")
    heavy = dict(api_visibility="private", concurrency_limit=1, concurrency_id="instructor-heavy")
    # A client's backoff pause runs inside its login call: other clients' logins must not queue behind it.
    logins = dict(api_visibility="private", concurrency_limit=config.login_concurrency, concurrency_id="login")
    login_io = ([user_in, pass_in], [session, login_box, console_box, login_msg, who])
    console_io = ([session, ic], [docs, del_name, faq_list, review, ci_title, ci_desc, ci_welcome, ci_preview])
    for trigger in (login_btn.click, pass_in.submit):
        # the page first replaces its browser key (guard.ROTATE_PATH), so the login binds a key no one else saw
        # then the account's own courses in the picker (and the Admin tab for an admin), then the picked course
        trigger(console.login, *login_io, js=ROTATE_KEY_JS, **logins).then(
            console.my_courses, [session, ic], [ic, admin_tab, who], **private).then(
            console.load_console, *console_io, **private).then(console.adapter_choices, [session], [adapter_pick], **private)
    logout_btn.click(console.logout, [session], login_io[1], **private).then(None, js=ROTATE_KEY_JS)
    ic.change(console.load_console, *console_io, **private)
    up_btn.click(console.upload_documents, [session, ic, up_files], [up_status, docs, del_name, ic], **heavy)
    del_btn.click(console.delete_document, [session, ic, del_name], [del_msg, docs, del_name], **private)
    faq_btn.click(console.upload_faq, [session, ic, faq_file], [faq_msg, faq_errors, faq_list], **private)
    ci_btn.click(console.save_course_info, [session, ic, ci_title, ci_desc, ci_welcome], [ci_msg, ci_preview], **private)
    train_btn.click(console.start_training, [session, ic, train_file, train_name, train_epochs], [train_log, adapter_pick], **heavy)
    adapter_btn.click(console.use_adapter, [session, adapter_pick], [adapter_msg], **heavy)
    eval_btn.click(console.run_eval, [session, ic, eval_file, eval_limit], [eval_msg, eval_report], **heavy)
    review_refresh.click(console.refresh_review, [session, ic], [review], **private)
    review.select(console.pick_review, [session, review], [rv_q, rv_a], **private)
    rv_btn.click(console.add_to_faq, [session, ic, rv_q, rv_a], [rv_msg, faq_list, review, rv_q, rv_a], **private)
    # The dashboard is computed when asked for (its topics embed new questions, on the cores students' answers use)
    dash_io = ([session, ic, dash_days], [dash_summary, dash_per_day, dash_outcomes, dash_topics, dash_docs, dash_gaps, dash_files])
    for trigger in (dash_tab.select, dash_refresh.click, dash_days.input):
        trigger(console.dashboard, *dash_io, api_visibility="private", concurrency_limit=1, concurrency_id="dashboard")


def launch(config: AppConfig, demo: gr.Blocks | None = None, block: bool = True) -> gr.Blocks:
    """Start the server (blocking unless ``block=False``, used by tests); returns the Blocks."""
    from starlette.middleware import Middleware

    demo = demo or build_app(config)
    guard = Middleware(BrowserKeyMiddleware, auth=demo.tutor.auth)  # browser key cookie, upload guard
    # A citation's page (GET /tutor/source/<chunk key>), for the courses the student page offers
    sources = Middleware(SourceViewer, kb=demo.tutor.kb, offered=demo.tutor.chat.offered)
    demo.launch(
        app_kwargs={"middleware": [guard, sources]},
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
