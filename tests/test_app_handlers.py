"""The web app's handlers called as plain methods, without HTTP, on a real knowledge base (SQLite + FAISS in
a temp dir, the bundled MiniLM embedder) and a real engine. Only questions the engine answers without its
model are asked (an FAQ match, an off-topic refusal), and finetune's entry points are replaced by spies
where training would take minutes: the server tests run the real thing end to end."""

from __future__ import annotations

import re

import gradio as gr
import pytest

import app
from knowledge_base.faq_entries import FAQEntry

PASSWORD = "correct horse battery staple"
DOCS = [
    ("exams.md", "# Exams\n\nThe final exam takes place on Friday at noon in room B12. Bring a pen and your student card.\n"),
    ("lora.md", "# LoRA\n\nLoRA freezes the base model and trains two small low-rank matrices per layer.\n"),
]
FAQ = [FAQEntry("When is the final exam?", "On Friday at noon, in room B12.", source="exams.md"),
       FAQEntry("What does LoRA train?", "Two small low-rank matrices per layer.", source="lora.md")]
OFF_TOPIC = "What is the best recipe for a chocolate cake?"


@pytest.fixture
def parts(paths, embedder):
    from knowledge_base import KnowledgeBase

    kb = KnowledgeBase(paths, embedder=embedder)
    kb.add_texts("demo", DOCS)
    kb.set_faq("demo", FAQ)
    config = app.AppConfig(course="demo", instructor_user="prof", instructor_password=PASSWORD, load_sample_course=False,
                           login_failure_delay_s=0.0, model="smollm2-135m-instruct")
    yield app.build_parts(config, kb=kb)
    kb.close()


BROWSER_KEY = "b" * 64
BROWSER = gr.Request(headers={"cookie": f"tutor_browser={BROWSER_KEY}"})  # what Gradio hands a handler


class LoggedIn:
    """The console as one logged-in browser calls it: each handler gets the session's token first and the
    request (with the browser key cookie the token is bound to) last, as Gradio passes them."""

    def __init__(self, console, token: str):
        self.console, self.token = console, token

    def __getattr__(self, name):
        return lambda *args, **kw: getattr(self.console, name)(self.token, *args, request=BROWSER, **kw)


@pytest.fixture
def token(parts) -> LoggedIn:
    token, *_ = parts.console.login("prof", PASSWORD, BROWSER)
    assert parts.auth.user_of(token, BROWSER_KEY) == "prof"
    assert parts.auth.user_of(token, "c" * 64) is None and parts.auth.user_of(token, None) is None  # other browsers
    return LoggedIn(parts.console, token)


def last(updates):
    *_, final = updates
    return final


def test_faq_answer_streams_into_the_chat_and_its_rating_reaches_the_review_queue(parts, token):
    chat = parts.chat
    messages, turns, _, box, notice = last(chat.respond("When is the final exam?", "demo", []))
    assert (box, notice) == ("", "") and [m["role"] for m in messages] == ["user", "assistant"]
    assert "From the instructor's FAQ" in messages[1]["content"] and "exams.md" in messages[1]["content"]
    assert turns[0]["from_faq"] and turns[0]["outcome"] == "faq" and turns[0]["question_id"]
    thanks = chat.feedback(turns, gr.LikeData(None, {"index": 1, "value": messages[1]["content"], "liked": False}))
    assert "the instructor will review" in thanks
    review = token.refresh_review("demo")
    assert [(row[1], row[2]) for row in review] == [("👎", "When is the final exam?")]


def test_the_chat_says_where_it_is_looking_before_the_answer_comes(parts):
    """Right after retrieval, before the model's first words (seconds on 2 cores), the pending answer names the
    passages found; the finished answer no longer does."""
    updates = list(parts.chat.respond("When is the final exam?", "demo", []))
    shown = [messages[-1]["content"] for messages, *_ in updates]
    looking = [text for text in shown if "Looking in the course" in text]
    assert looking and "Exams" in looking[0] and shown.index(looking[0]) < len(shown) - 1
    assert "Looking in the course" not in shown[-1] and "B12" in shown[-1]


def test_off_topic_question_is_refused_then_becomes_an_faq_entry(parts, token):
    console = parts.console
    messages, turns, _, _, _ = last(parts.chat.respond(OFF_TOPIC, "demo", []))
    assert turns[0]["outcome"] == "refused" and not turns[0]["citations"]
    review = token.refresh_review("demo")
    assert [row[1:3] for row in review] == [["refused", OFF_TOPIC]]
    question, answer = token.pick_review(review, gr.SelectData(None, {"index": [0, 2], "value": OFF_TOPIC}))
    assert (question, answer) == (OFF_TOPIC, "")
    msg, faq_table, review, *_ = token.add_to_faq("demo", question, "Not covered: this course is about ML.")
    assert OFF_TOPIC in msg and [OFF_TOPIC, "Not covered: this course is about ML."] in [r[:2] for r in faq_table]
    assert [row[2] for row in review] == [OFF_TOPIC]  # the log keeps it; the FAQ now answers it
    assert parts.kb.match_faq(OFF_TOPIC, "demo")[0].question == OFF_TOPIC
    messages, turns, _, _, _ = last(parts.chat.respond(OFF_TOPIC, "demo", []))
    assert turns[0]["outcome"] == "faq"  # the next student gets the instructor's answer


def test_bad_questions_leave_the_text_in_the_box_with_a_message(parts):
    huge = "why " * 5000
    messages, turns, _, box, notice = last(parts.chat.respond(huge, "demo", []))
    assert messages == [] and turns == [] and box == huge.strip() and "characters" in notice and notice.startswith("⚠️")
    messages, turns, _, box, notice = last(parts.chat.respond("   ", "demo", []))
    assert turns == [] and "empty" in notice.lower()


def test_console_refuses_without_a_token_and_changes_nothing(parts, token, tmp_path):
    """No token, a forged one, or the real one sent from another browser (a replayed session id): refused."""
    doc = tmp_path / "planted.md"
    doc.write_text("# Planted\n\nThe exam is cancelled.", encoding="utf-8")
    console = parts.console
    other_browser = gr.Request(headers={"cookie": "tutor_browser=" + "c" * 64})
    for call in (lambda s, r: console.upload_documents(s, "demo", [str(doc)], request=r),
                 lambda s, r: console.delete_document(s, "demo", "exams.md", request=r),
                 lambda s, r: console.add_to_faq(s, "demo", "Is the exam cancelled?", "Yes.", request=r),
                 lambda s, r: console.refresh_review(s, "demo", request=r), lambda s, r: console.use_adapter(s, "(none)", request=r),
                 lambda s, r: next(console.start_training(s, "demo", None, "x", 1, request=r))):
        for session, request in ((None, BROWSER), ("prof|9999999999|" + "0" * 32 + "|" + "0" * 64, BROWSER),
                                 (token.token, None), (token.token, other_browser)):
            with pytest.raises(gr.Error, match="Instructor login required"):
                call(session, request)
    assert [d.name for d in parts.kb.list_documents("demo")] == ["exams.md", "lora.md"]
    assert len(parts.kb.faq("demo")) == len(FAQ)


def test_logout_revokes_the_login_of_that_browser(parts, token):
    assert isinstance(token.refresh_review("demo"), list)
    token.logout()
    with pytest.raises(gr.Error, match="Instructor login required"):
        token.refresh_review("demo")


def test_documents_and_faq_upload_report_per_file_and_per_row(parts, token, tmp_path):
    console = parts.console
    good, bad = tmp_path / "labs.md", tmp_path / "broken.pdf"
    good.write_text("# Labs\n\nThe Zorbium lab opens at 7:45.", encoding="utf-8")
    bad.write_bytes(b"not a pdf")
    rows, docs, names, courses = token.upload_documents("demo", [str(good), str(bad)])
    assert [r[:2] for r in rows] == [["labs.md", "added"], ["broken.pdf", "error"]] and rows[1][3]
    assert "labs.md" in [d[0] for d in docs] and "labs.md" in names["choices"] and courses["choices"][0] == "demo"
    msg, docs, _ = token.delete_document("demo", "labs.md")
    assert msg == "Deleted **labs.md** from demo." and "labs.md" not in [d[0] for d in docs]
    faq = tmp_path / "faq.csv"
    faq.write_text("question,answer\nWhat is BPE?,\n", encoding="utf-8")
    msg, problems, table = token.upload_faq("demo", str(faq))
    assert "1 problem(s); nothing was changed" in msg and [row for row, _ in problems] == [1] and len(table) == len(FAQ)


def test_training_and_evaluation_get_the_course_faq_as_entries(parts, token, monkeypatch, tmp_path):
    """No temporary CSV: finetune receives the knowledge base's entries, and the page streams its progress."""
    import finetune.evaluate
    import finetune.train

    seen = {}

    def train(faq, name, config, paths, kb=None, progress=None):
        seen["train"] = faq
        progress({"stage": "train", "step": 1, "loss": 2.5})
        return {"name": name, "path": str(paths.adapters_dir / name)}

    def evaluate(faq, config, paths, kb=None, out_dir=None):
        seen["eval"], seen["limit"] = faq, config.limit
        out_dir.mkdir(parents=True)
        (out_dir / "report.html").write_text("<p>report</p>", encoding="utf-8")
        return finetune.evaluate.EvalResult(metrics={}, rows=[{}, {}], out_dir=out_dir)

    monkeypatch.setattr(finetune.train, "train_adapter", train)
    monkeypatch.setattr(finetune.evaluate, "run_evaluation", evaluate)
    updates = list(token.start_training("demo", None, "demo-faq", 1))
    log_text, adapters = updates[-1]
    assert [e.question for e in seen["train"]] == [e.question for e in FAQ]
    assert log_text.startswith("Training adapter demo-faq on course demo FAQ (2 entries)")
    assert "stage=train, step=1, loss=2.5" in log_text and "Done: adapter demo-faq saved" in log_text
    text, frame = token.run_eval("demo", None, 1)
    assert [e.question for e in seen["eval"]] == [e.question for e in FAQ] and seen["limit"] == 1
    assert "(2 rows)" in text and frame.startswith("<iframe") and "&lt;p&gt;report" in frame
    with pytest.raises(gr.Error, match="Course empty has no FAQ yet"):
        next(token.start_training("empty", None, "x", 1))


def test_a_missing_adapter_keeps_the_engine_students_use(parts, token):
    before = parts.engines.engine
    msg = token.use_adapter("no-such-adapter")
    assert msg.startswith("⚠️") and "no-such-adapter" in msg and "still using the base model" in msg
    assert parts.engines.engine is before and parts.engines.adapter is None


def test_the_student_page_says_what_the_course_is_and_asks_its_examples(parts):
    """Issue 37 item 5: the header (title, description, welcome) and the example buttons of the chosen course;
    a clicked example goes through the Send handler and gets the FAQ's answer."""
    chat, kb = parts.chat, parts.kb
    header, *buttons = chat.course_page("demo")
    assert header == "## demo"  # no title set yet: the course id, and nothing made up
    kb.set_course_info("demo", title="Exams and LoRA", description="When the exam is, and what LoRA trains.",
                       welcome="Welcome!\nAsk me anything about the course.")
    header, *buttons = chat.course_page("demo")
    assert header == ("## Exams and LoRA\n\nWhen the exam is, and what LoRA trains.\n\n"
                      "Welcome!\nAsk me anything about the course.")
    assert [(b["value"], b["visible"]) for b in buttons] == [
        ("When is the final exam?", True), ("What does LoRA train?", True), ("", False)]  # two FAQ pages, three buttons
    messages, turns, _, box, notice = last(chat.respond(chat.pick_example(buttons[1]["value"]), "demo", []))
    assert turns[0]["question"] == "What does LoRA train?" and turns[0]["outcome"] == "faq" and (box, notice) == ("", "")
    header, *buttons = chat.course_page("no-such-course")
    assert header.startswith("## no-such-course\n\nThis course has no material yet") and not any(b["visible"] for b in buttons)


def test_the_course_picker_lists_titles_and_keeps_ids_as_values(parts):
    kb, chat = parts.kb, parts.chat
    kb.add_texts("stats", [("mean.md", "# Mean\n\nThe mean is the sum divided by the count.")])
    kb.set_course_info("demo", title="Exams and LoRA")
    kb.set_course_info("stats", title="Exams and LoRA")  # the same title twice: the ids tell them apart
    assert chat.courses() == [("Exams and LoRA (demo)", "demo"), ("Exams and LoRA (stats)", "stats")]
    kb.set_course_info("stats", title="Statistics")
    update = chat.refresh_courses("stats")
    assert update["choices"] == [("Exams and LoRA", "demo"), ("Statistics", "stats")] and update["value"] == "stats"
    assert chat.refresh_courses("gone")["value"] == "demo"  # a course that went away: the configured one
    # the page as built: the picker shows titles, its value is the id; the header and buttons are filled
    demo = app.build_app(parts.console.config, kb=kb, engine=parts.engines.engine)
    props = {c["props"].get("elem_id"): c["props"] for c in demo.get_config_file()["components"]}
    assert props["course"]["choices"] == [("Exams and LoRA", "demo"), ("Statistics", "stats")]
    assert props["course"]["value"] == "demo" and props["course-header"]["value"] == "## Exams and LoRA"
    assert [(props[f"example-{i}"]["value"], props[f"example-{i}"]["visible"]) for i in range(3)] == [
        ("When is the final exam?", True), ("What does LoRA train?", True), ("", False)]


def test_course_texts_from_the_console_are_escaped_for_students(parts, token):
    """The console edits title, description and welcome (behind the login); what it stores reaches students
    escaped: an instructor's pasted markup shows as text, a javascript: link opens nothing."""
    *_, title, description, welcome, preview = token.load_console("demo")
    assert (title, description, welcome, preview) == ("demo", "", "", "## demo")
    msg, preview = token.save_course_info("demo", "Exams <img src=x onerror=alert(1)>", "See [the map](javascript:alert(2))", "Hi")
    assert msg.startswith("Saved") and "&lt;img src=x onerror=alert(1)&gt;" in preview and "<img" not in preview
    header, *_ = parts.chat.course_page("demo")
    assert header == preview and "[the map&#93;(javascript:" in header
    msg, unchanged = token.save_course_info("demo", "T" * 500, "", "")
    assert msg.startswith("⚠️") and "title is 500 characters long" in msg and unchanged == gr.update()
    assert parts.kb.course_info("demo").title == "Exams <img src=x onerror=alert(1)>"
    msg, _ = token.save_course_info("no-such-course", "X", "", "")
    assert "no course" in msg and token.load_console("no-such-course")[-4:] == ("", "", "", "")
    other_browser = gr.Request(headers={"cookie": "tutor_browser=" + "c" * 64})
    for session, request in ((None, BROWSER), (token.token, other_browser)):
        with pytest.raises(gr.Error, match="Instructor login required"):
            parts.console.save_course_info(session, "demo", "Stolen", "", "", request=request)
    assert parts.kb.course_info("demo").title == "Exams <img src=x onerror=alert(1)>"


# ------------------------------------------------------------------------- the history a student keeps (37.6)

STUDENT_A = gr.Request(headers={"cookie": "tutor_browser=" + "a" * 64})
STUDENT_B = gr.Request(headers={"cookie": "tutor_browser=" + "d" * 64})
NO_COOKIE = gr.Request(headers={})
FORGED_SHORT = gr.Request(headers={"cookie": "tutor_browser=abc"})  # not a key the guard would accept


def kept_ids(chat, request) -> list:
    return [value for _, value in chat.history_list(None, request)["choices"]]


def test_each_browser_keeps_and_reopens_only_its_own_conversations(parts):
    """Two browsers (two keys): each answer is kept under its browser; the list shows each its own, by date;
    a conversation reopens with its turns and goes on; the other browser cannot open it."""
    chat = parts.chat
    _, turns, kept, _, notice = last(chat.respond("When is the final exam?", "demo", [], None, request=STUDENT_A))
    assert isinstance(kept, int) and notice == ""
    _, turns, again, _, _ = last(chat.respond("What does LoRA train?", "demo", turns, kept, request=STUDENT_A))
    assert again == kept and len(turns) == 2  # one conversation, growing
    _, _, b_kept, _, _ = last(chat.respond(OFF_TOPIC, "demo", [], None, request=STUDENT_B))
    listed = chat.history_list(kept, STUDENT_A)
    assert [v for _, v in listed["choices"]] == [kept] and listed["value"] == kept
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d · When is the final exam\?", listed["choices"][0][0])
    assert kept_ids(chat, STUDENT_B) == [b_kept] and b_kept != kept
    assert chat.history_list(kept, STUDENT_B)["value"] is None  # A's id selects nothing in B's list

    messages, turns, conversation, box, notice, course = chat.open_conversation(kept, STUDENT_B)
    assert (messages, turns, conversation) == ([], [], None) and "not in your history" in notice
    messages, turns, conversation, box, notice, course = chat.open_conversation(kept, STUDENT_A)
    assert [t["question"] for t in turns] == ["When is the final exam?", "What does LoRA train?"]
    assert len(messages) == 4 and "B12" in messages[1]["content"] and conversation == kept
    assert course["value"] == "demo" and notice == ""
    assert "the instructor will review" in chat.feedback(turns, gr.LikeData(None, {"index": 3, "value": "", "liked": False}))
    _, turns, again, _, _ = last(chat.respond("When is the final exam?", "demo", turns, conversation, request=STUDENT_A))
    assert again == kept and len(turns) == 3  # continued after a "reload"
    _, _, fresh, _, _ = last(chat.respond("What does LoRA train?", "demo", [], None, request=STUDENT_A))  # after "New conversation"
    assert kept_ids(chat, STUDENT_A) == [fresh, kept]  # newest first


def test_a_browser_without_a_cookie_keeps_and_sees_nothing(parts):
    chat = parts.chat
    last(chat.respond("When is the final exam?", "demo", [], None, request=STUDENT_A))
    for request in (NO_COOKIE, FORGED_SHORT, None):
        messages, turns, kept, _, notice = last(chat.respond("What does LoRA train?", "demo", [], None, request=request))
        assert len(messages) == 2 and kept is None and notice == ""  # answered, not kept
        listed = chat.history_list(None, request)
        assert listed["choices"] == [] and "no cookie" in listed["info"]
        assert "not in your history" in chat.open_conversation(kept_ids(chat, STUDENT_A)[0], request)[4]
        assert chat.delete_history(request)[4] == chat.history_list(None, request)["info"]
    assert len(kept_ids(chat, STUDENT_A)) == 1


def test_delete_my_history_asks_first_then_deletes_only_this_browsers(parts):
    chat = parts.chat
    for question in ("When is the final exam?", "What does LoRA train?"):
        last(chat.respond(question, "demo", [], None, request=STUDENT_A))
    last(chat.respond(OFF_TOPIC, "demo", [], None, request=STUDENT_B))
    confirm, text = chat.ask_to_delete(STUDENT_A)
    assert confirm["visible"] and text == "Delete all 2 conversations kept for this browser? This cannot be undone."
    assert chat.cancel_delete()[0]["visible"] is False and len(kept_ids(chat, STUDENT_A)) == 2
    messages, turns, conversation, box, notice, listed, confirm = chat.delete_history(STUDENT_A)
    assert (messages, turns, conversation) == ([], [], None)  # the open conversation is not saved again
    assert notice == "Your history is deleted (2 conversations)." and listed["choices"] == [] and not confirm["visible"]
    assert kept_ids(chat, STUDENT_A) == [] and len(kept_ids(chat, STUDENT_B)) == 1
    assert chat.ask_to_delete(STUDENT_A) == (gr.update(visible=False), "There is no history to delete.")


def test_a_conversation_too_long_to_keep_is_still_answered_and_the_kept_one_stays(parts):
    from tutor import conversations
    from tutor.conversations import HistoryConfig

    chat = parts.chat
    _, turns, kept, _, _ = last(chat.respond("When is the final exam?", "demo", [], None, request=STUDENT_A))
    chat.history = HistoryConfig(max_bytes=len(conversations.encode_turns(turns)) + 10)
    messages, turns, again, _, notice = last(chat.respond("What does LoRA train?", "demo", turns, kept, request=STUDENT_A))
    assert len(messages) == 4 and again == kept and notice.startswith("⚠️") and "too long to keep" in notice
    owner = conversations.owner_of(parts.kb.db, "a" * 64)
    assert len(conversations.load_conversation(parts.kb.db, owner, kept).turns) == 1


def test_the_page_lists_history_and_wires_its_buttons(parts):
    demo = app.build_app(parts.console.config, kb=parts.kb, engine=parts.engines.engine)
    config = demo.get_config_file()
    props = {c["props"].get("elem_id"): c["props"] for c in config["components"]}
    assert props["history"]["choices"] == [] and props["delete-confirm"]["visible"] is False
    apis = {d.get("api_name") for d in config["dependencies"]}
    assert {"ask", "history", "open_conversation", "delete_history", "new_conversation"} <= apis


def test_the_browser_key_a_history_belongs_to_outlives_the_browser_session():
    """The guard's cookie carries a Max-Age (without one, closing the browser would drop the key and the
    history with it), and keeps issue 34's settings: HttpOnly, SameSite=Strict, Secure behind HTTPS."""
    import asyncio

    from webapp.guard import KEY_MAX_AGE_S, BrowserKeyMiddleware

    async def page(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def cookie_of(scope_headers: list) -> str:
        sent = []

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "path": "/", "method": "GET", "scheme": "http", "headers": scope_headers}
        asyncio.run(BrowserKeyMiddleware(page)(scope, None, send))
        return "; ".join(v.decode() for k, v in sent[0]["headers"] if k == b"set-cookie")

    cookie = cookie_of([(b"x-forwarded-proto", b"https")])
    assert re.fullmatch(rf"tutor_browser=[0-9a-f]{{64}}; Path=/; Max-Age={KEY_MAX_AGE_S}; HttpOnly; SameSite=Strict; Secure", cookie)
    assert KEY_MAX_AGE_S >= 365 * 86400
    assert cookie_of([(b"cookie", b"tutor_browser=" + b"a" * 64)]) == ""  # a browser with a key keeps it
