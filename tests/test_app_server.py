"""The real app on a loopback port, driven over HTTP: gradio_client for what a student's page does, raw
``/gradio_api/queue/join`` calls for what an attacker with curl could try against the console.

One server per module (real KnowledgeBase with the sample course, real engine with the bundled model),
so the model loads once for all these tests.
"""

from __future__ import annotations

import json
import uuid
from contextlib import closing
from pathlib import Path

import httpx
import pytest

import app
from browser import (PASSWORD, QUESTION, browser_client, file_data, fn_index, raw_call, raw_upload, serve, serve_test_app,
                     write_doc)

pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serve_test_app(tmp_path_factory.mktemp("app-data")) as (demo, url):
        yield demo, url


@pytest.fixture
def client(server):
    from gradio_client import Client

    c = Client(server[1], verbose=False)
    yield c
    c.close()


def text_of(message: dict) -> str:
    content = message["content"]
    if isinstance(content, list):  # Gradio may hand back normalised content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content


def test_student_answer_streams_and_cites_the_course(client):
    job = client.submit(QUESTION, "sample", api_name="/ask")
    updates = [update for update in job]
    chat, box, notice = job.result()
    assert notice == "" and box == ""
    assert [m["role"] for m in chat] == ["user", "assistant"]
    answer = text_of(chat[1])
    assert "<details class='citation'>" in answer and ".md" in answer  # a sample-course page is cited
    # streamed: the page saw the answer grow (one checked sentence at a time) before the citations arrived
    partial = [text_of(u[0][-1]) for u in updates if u[0] and u[0][-1]["role"] == "assistant"]
    assert len(set(partial)) >= 2 and "<details" not in partial[0], partial


def test_bad_questions_get_clear_messages_and_the_session_goes_on(client):
    chat, box, notice = client.predict("   ", "sample", api_name="/ask")
    assert chat == [] and "empty" in notice.lower()
    huge = "why " * 5000
    chat, box, notice = client.predict(huge, "sample", api_name="/ask")
    assert chat == [] and notice.startswith("⚠️") and ("long" in notice.lower() or "characters" in notice.lower())
    assert box.strip() == huge.strip()  # the student's text is kept so they can shorten it
    chat, box, notice = client.predict("What does a tokenizer do?", "sample", api_name="/ask")
    assert len(chat) == 2 and notice == ""
    assert "From the instructor's FAQ" in text_of(chat[1])  # a sample-course FAQ question, marked as such
    chat, _, _ = client.predict("And why is it frozen after training?", "sample", api_name="/ask")
    assert len(chat) == 4  # a follow-up in the same conversation


def test_a_backend_failure_mid_answer_is_shown_logged_and_the_session_goes_on(server, client):
    from tutor import records
    from tutor.engine import TutorEngine

    demo, _ = server
    engines = demo.tutor.engines
    engine = engines.engine
    real = engine.generator

    class DiesMidAnswer:  # fault injection around the real model: a few real pieces, then the backend fails
        name, tokenizer = real.name, real.tokenizer

        def stream(self, *args, **kwargs):
            for i, delta in enumerate(real.stream(*args, **kwargs)):
                if i == 3:
                    raise RuntimeError("backend connection lost")
                yield delta

    engines.install(TutorEngine(engine.kb, engine.config, engine.paths, generator=DiesMidAnswer()), engines.adapter)
    try:
        chat, box, notice = client.predict(QUESTION, "sample", api_name="/ask")
    finally:
        engines.install(engine, engines.adapter)
    assert len(chat) == 2 and "something went wrong" in text_of(chat[1]) and "RuntimeError" in text_of(chat[1])
    logged = records.list_questions(demo.tutor.kb.db, course="sample", outcome="error")
    assert [q["question"] for q in logged] == [QUESTION] and logged[0]["answer"]  # the partial answer is kept
    chat, _, notice = client.predict("What does LoRA train?", "sample", api_name="/ask")  # same session, healthy backend
    assert len(chat) == 4 and notice == "" and "something went wrong" not in text_of(chat[3])


def test_export_gives_markdown_and_json(client):
    client.predict("What does a tokenizer do?", "sample", api_name="/ask")
    files, notice = client.predict(api_name="/export")
    files = files["value"] if isinstance(files, dict) else files  # the handler sends a gr.update
    paths = sorted((Path(f["path"] if isinstance(f, dict) else f) for f in files), key=lambda p: p.suffix)
    assert [p.suffix for p in paths] == [".json", ".md"]
    assert "What does a tokenizer do?" in paths[1].read_text(encoding="utf-8")
    client.predict(api_name="/new_conversation")
    _, notice = client.predict(api_name="/export")
    assert "Nothing to export" in notice


def kb_snapshot(demo) -> tuple:
    kb = demo.tutor.kb
    return ([(d.name, d.hash) for d in kb.list_documents()], [(e.question, e.answer) for e in kb.faq("sample")],
            kb.course_info("sample"))


class Instructor:
    """A logged-in instructor's browser as HTTP sees it: a cookie-keeping client (the browser key) and the
    page's session id."""

    def __init__(self, url: str, user: str = "prof", password: str = PASSWORD):
        self.url, self.session = url, uuid.uuid4().hex[:12]
        self.client = browser_client(url)
        self.client.post(url.rstrip("/") + "/tutor/browser-key").raise_for_status()  # what the page does before login
        self.login_message = str(self.call("login", [user, password])["output"]["data"])

    def call(self, api_name: str, data: list, **kw) -> dict:
        return raw_call(self.url, fn_index(self.url, api_name), data, session=self.session, client=self.client, **kw)

    def upload(self, path: Path) -> dict:
        return file_data(raw_upload(self.url, path, self.client), path)


def login_session(url: str) -> Instructor:
    instructor = Instructor(url)
    assert "Logged in as" in instructor.login_message, instructor.login_message
    return instructor


def test_console_actions_are_refused_to_a_student_over_http(server, tmp_path):
    demo, url = server
    before = kb_snapshot(demo)
    planted = write_doc(tmp_path, "planted.md", "# Planted\n\nThe exam is cancelled.")
    assert raw_upload(url, planted).status_code == 403  # a student cannot even upload the file
    doc = login_session(url).upload(planted)  # (so the refusals below are the handlers' own)
    first_doc = before[0][0][0]
    attempts = {
        "upload_documents": [None, "sample", [doc]],
        "delete_document": [None, "sample", first_doc],
        "add_to_faq": [None, "sample", "Is the exam cancelled?", "Yes."],
        "upload_faq": [None, "sample", doc],
        "save_course_info": [None, "sample", "Planted title", "", ""],
        "use_adapter": [None, "(none)"],
    }
    for api_name, data in attempts.items():
        msg = raw_call(url, fn_index(url, api_name), data)
        assert not msg["success"], api_name
        # (delete is stopped even earlier by Gradio: a student's dropdown has no document names to pick)
        assert "Instructor login required" in msg["output"]["error"] or api_name == "delete_document", msg
        # a forged token in the state slot changes nothing either: state comes from the server session
        forged = raw_call(url, fn_index(url, api_name), ["prof|9999999999|" + "0" * 32 + "|" + "0" * 64] + data[1:])
        assert not forged["success"], api_name
    # a wrong password does not open the session
    with closing(browser_client(url)) as attacker:
        session = "attacker-session"
        msg = raw_call(url, fn_index(url, "login"), ["prof", "guess"], session=session, client=attacker)
        assert "Wrong user name or password" in str(msg["output"]["data"])
        msg = raw_call(url, fn_index(url, "upload_documents"), [None, "sample", [doc]], session=session, client=attacker)
        assert not msg["success"]
    # gradio_client cannot even name the console endpoints
    from gradio_client import Client

    with pytest.raises(Exception):
        Client(url, verbose=False).predict(None, "sample", [doc], api_name="/upload_documents")
    assert kb_snapshot(demo) == before


def test_the_same_calls_work_after_a_real_login(server, tmp_path):
    """The refusal above is the login check, not a broken endpoint: a logged-in browser succeeds."""
    demo, url = server
    instructor = login_session(url)
    assert "Logged in as **prof**" in instructor.login_message
    doc = instructor.upload(write_doc(tmp_path, "http-upload.md", "# Lab hours\n\nThe Zorbium lab opens at 7:45."))
    msg = instructor.call("upload_documents", [None, "http-course", [doc]])
    assert msg["success"], msg
    assert "http-upload.md" in [d.name for d in demo.tutor.kb.list_documents("http-course")]


# Every console handler with the inputs a page would send (the session's State slot first, sent empty: the
# server keeps the state). pick_review is a table click and gets its event data.
CONSOLE_CALLS = {
    "load_console": [None, "sample"],
    "adapter_choices": [None],
    "upload_documents": [None, "sample", None],
    "delete_document": [None, "sample", None],
    "upload_faq": [None, "sample", None],
    "refresh_review": [None, "sample"],
    "pick_review": [None, {"headers": ["id", "why", "question", "answer given", "answer check"], "data": [[1, "refused", "q?", "", ""]]}],
    "add_to_faq": [None, "sample", "Is the exam cancelled?", "Yes."],
    "save_course_info": [None, "sample", "Planted title", "", ""],
    "start_training": [None, "sample", None, "stolen", 1],
    "use_adapter": [None, "(none)"],
    "run_eval": [None, "sample", None, 1],
    "dashboard": [None, "sample", 30],
    "my_courses": [None, "sample"],
    "admin_load": [None],
    "admin_create_course": [None, "stolen", "Stolen course", True],
    # (a pick from the Admin tab's own lists is sent empty: Gradio refuses a value its list in this session lacks)
    "admin_publish": [None, None, None],
    "admin_unpublish": [None, None, None],
    "admin_pick_account": [None, None],
    "admin_save_account": [None, "mallory", "mallory's own password", True, []],
    "admin_remove_account": [None, None],
}


def test_a_replayed_session_id_without_the_browser_cookie_gets_nothing(server, tmp_path, caplog):
    """The attack of issue 34: a second client that knows only a logged-in page's session_hash (it travels in
    URLs, so proxy logs hold it) calls every console handler in that session. Each is refused and logged;
    the instructor's own browser still works; after logout the browser itself is refused too."""
    demo, url = server
    before = kb_snapshot(demo)
    instructor = login_session(url)
    names = {d.get("api_name") for d in httpx.get(url + "config", timeout=10).json()["dependencies"]}
    assert set(CONSOLE_CALLS) <= names, set(CONSOLE_CALLS) - names  # a new console handler belongs in this test
    caplog.set_level("WARNING", logger="webapp")
    for with_page_cookie in (False, True):  # no cookie at all; a cookie of its own (a page it loaded itself)
        with closing(browser_client(url) if with_page_cookie else httpx.Client(timeout=120)) as attacker:
            for api_name, data in CONSOLE_CALLS.items():
                event = {"index": [0, 2], "value": "x", "selected": True} if api_name == "pick_review" else None
                msg = raw_call(url, fn_index(url, api_name), data, session=instructor.session, client=attacker,
                               event_data=event)
                assert not msg["success"] and "Instructor login required" in str(msg["output"].get("error")), (api_name, msg)
    refusals = [r for r in caplog.records if "console call refused" in r.getMessage()]
    assert len(refusals) >= 2 * len(CONSOLE_CALLS), [r.getMessage() for r in caplog.records]
    assert kb_snapshot(demo) == before and demo.tutor.engines.adapter is None
    # the instructor's browser, same session, still works
    assert instructor.call("refresh_review", [None, "sample"])["success"]
    # logout revokes: the same browser and session are refused afterwards, uploads too
    instructor.call("logout", [None])
    instructor.client.post(url + "tutor/browser-key")  # the page replaces its key after logout
    assert not instructor.call("refresh_review", [None, "sample"])["success"]
    assert raw_upload(url, write_doc(tmp_path, "late.md", "# Late\n\nToo late."), instructor.client).status_code == 403


def test_anonymous_upload_flood_is_refused_and_the_disk_stays_as_it_was(server, tmp_path, caplog):
    """200 anonymous uploads of 256 KB each: every one refused before a byte is stored, and logged (the
    first, then one line per hundred)."""
    from gradio.utils import get_upload_folder

    demo, url = server
    folder = Path(get_upload_folder())

    def stored() -> int:
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0

    before = stored()
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\0" * 256 * 1024)
    caplog.set_level("WARNING", logger="webapp")
    with httpx.Client(timeout=30) as flood:
        codes = [raw_upload(url, blob, flood).status_code for _ in range(200)]
    assert codes == [403] * 200
    assert stored() == before
    logged = [r.getMessage() for r in caplog.records if "upload refused" in r.getMessage()]
    assert 1 <= len(logged) <= 3 and "200 refused" in logged[-1], logged


def test_a_lone_surrogate_gets_a_message_and_the_next_question_is_answered(server, client):
    """A question holding "\\ud800" (valid JSON, invalid Unicode) used to kill the stream with "surrogates not
    allowed"; now the page says what is wrong, keeps the text (the bad character shown as U+FFFD), and the
    same session goes on."""
    _, url = server
    session = uuid.uuid4().hex[:12]
    index = fn_index(url, "ask")
    msg = raw_call(url, index, ["What is LoRA?\ud800", "sample", None, None], session=session)
    assert msg["success"], msg
    chat, _, _, box, notice = msg["output"]["data"]
    assert "not valid text" in notice and box == "What is LoRA?\ufffd" and chat == []
    msg = raw_call(url, index, ["What does a tokenizer do?", "sample", None, None], session=session)
    chat, _, _, _, notice = msg["output"]["data"]
    assert msg["success"] and notice == "" and len(chat) == 2


def test_each_browser_sees_only_its_own_history_over_http(server):
    """Issue 37.6 over HTTP: two browsers (two cookie jars, each with the key the page gave it) ask; each lists
    only its own conversation, and the other's id opens nothing; a client without the cookie keeps and sees
    nothing; deleting one browser's history leaves the other's."""
    demo, url = server
    ask, history, open_it, delete = (fn_index(url, name) for name in ("ask", "history", "open_conversation", "delete_history"))
    questions = {"a": "What does a tokenizer do?", "b": "How does Byte-Pair Encoding build its vocabulary?",
                 "nobody": "What is the EOS token for?"}  # FAQ questions of the sample course: no wait for the model

    def listed(client, session) -> dict:
        msg = raw_call(url, history, [None], session=session, client=client)
        assert msg["success"], msg
        return {value: label for label, value in msg["output"]["data"][0]["choices"]}

    nobody = None  # raw_call then sends each request from a fresh client: never a cookie
    with closing(browser_client(url)) as a, closing(browser_client(url)) as b:
        assert a.cookies.get("tutor_browser") != b.cookies.get("tutor_browser")
        sessions = {"a": uuid.uuid4().hex[:12], "b": uuid.uuid4().hex[:12], "nobody": uuid.uuid4().hex[:12]}
        for name, client in (("a", a), ("b", b), ("nobody", nobody)):
            msg = raw_call(url, ask, [questions[name], "sample", None, None], session=sessions[name], client=client)
            assert msg["success"] and len(msg["output"]["data"][0]) == 2, msg
        kept_a, kept_b = listed(a, sessions["a"]), listed(b, sessions["b"])
        assert len(kept_a) == 1 and list(kept_a.values())[0].endswith("· " + questions["a"])
        assert len(kept_b) == 1 and list(kept_b.values())[0].endswith("· " + questions["b"])
        msg = raw_call(url, history, [None], session=sessions["nobody"])  # answered, but nothing kept without the key
        assert msg["output"]["data"][0]["choices"] == [] and "no cookie" in msg["output"]["data"][0]["info"]
        titles = [row[0] for row in demo.tutor.kb.db.query("SELECT title FROM conversations")]
        assert questions["a"] in titles and questions["nobody"] not in titles

        a_id = next(iter(kept_a))
        for client, session in ((b, sessions["b"]), (nobody, sessions["nobody"])):  # A's id from elsewhere: nothing
            msg = raw_call(url, open_it, [a_id], session=session, client=client)
            assert questions["a"] not in json.dumps(msg), msg
        msg = raw_call(url, open_it, [a_id], session=sessions["a"], client=a)  # A's own browser reopens it
        assert msg["success"] and questions["a"] in json.dumps(msg["output"]["data"][0]), msg

        assert raw_call(url, delete, [], session=sessions["b"], client=b)["success"]
        assert listed(b, sessions["b"]) == {} and listed(a, sessions["a"]) == kept_a
        assert raw_call(url, delete, [], session=sessions["nobody"], client=nobody)["success"]
        assert listed(a, sessions["a"]) == kept_a  # a cookie-less delete deletes nobody's history
        assert raw_call(url, delete, [], session=sessions["a"], client=a)["success"] and listed(a, sessions["a"]) == {}


# Issue 37.3: every console handler that names a course, aimed at course B by the instructor of course A
COURSE_B_CALLS = {
    "load_console": [None, "course-b"],
    "upload_documents": [None, "course-b", None],
    "delete_document": [None, "course-b", None],
    "upload_faq": [None, "course-b", None],
    "save_course_info": [None, "course-b", "Stolen title", "", ""],
    "refresh_review": [None, "course-b"],
    "add_to_faq": [None, "course-b", "Is the exam cancelled?", "Yes."],
    "dashboard": [None, "course-b", 30],
    "start_training": [None, "course-b", None, "stolen", 1],
    "run_eval": [None, "course-b", None, 1],
}
ADMIN_CALLS = {name: data for name, data in CONSOLE_CALLS.items() if name.startswith("admin_") or name == "use_adapter"}
ALICE_PASSWORD = "alice: lantern over the quiet bay"


def test_every_crossing_between_accounts_and_courses_is_refused_over_http(tmp_path, caplog):
    """Several courses, several instructors, over HTTP: a student reaches no console or admin handler; the
    instructor of course A changes A but nothing of course B (nor creates a course, nor makes herself an
    admin); a replayed or expired session gets nothing; a student cannot open the unpublished course B, by
    picking it or by a link ``/?course=course-b``. The clock is a fake one the test moves past the 8 h."""
    from knowledge_base import accounts

    now = [1_700_000_000.0]
    config = app.AppConfig(data_dir=str(tmp_path / "data"), load_sample_course=False, instructor_user="prof",
                           instructor_password=PASSWORD, login_failure_delay_s=0.0, course="course-a")
    with serve(config, kb=None, clock=lambda: now[0]) as (demo, url):
        kb = demo.tutor.kb
        accounts.create_course(kb, "course-a", "Course A", publish=True)
        accounts.create_course(kb, "course-b", "Course B")  # unpublished
        accounts.save_account(kb.db, "alice", password=ALICE_PASSWORD, courses=["course-a"], create=True)

        def state() -> tuple:
            return (kb.courses(), kb.course_info("course-b"), kb.faq("course-b"), accounts.unpublished_courses(kb.db),
                    [(a.username, a.is_admin, a.courses) for a in accounts.list_accounts(kb.db)])

        before = state()
        caplog.set_level("WARNING", logger="webapp")
        with closing(browser_client(url)) as student:  # student -> console: a page of its own, no login
            for api_name, data in {**COURSE_B_CALLS, **ADMIN_CALLS}.items():
                msg = raw_call(url, fn_index(url, api_name), data, client=student)
                assert not msg["success"] and "Instructor login required" in str(msg["output"].get("error")), (api_name, msg)

        alice = Instructor(url, "alice", ALICE_PASSWORD)
        assert "Logged in as **alice**" in alice.login_message
        msg = alice.call("my_courses", [None, "course-b"])
        picker, admin_tab, _ = msg["output"]["data"]
        assert [c[-1] if isinstance(c, list) else c for c in picker["choices"]] == ["course-a"], msg
        assert picker["value"] == "course-a" and admin_tab["visible"] is False  # no Admin tab
        assert alice.call("save_course_info", [None, "course-a", "Course A, by Alice", "", ""])["success"]
        for api_name, data in COURSE_B_CALLS.items():  # instructor A -> course B
            msg = alice.call(api_name, data)
            error = str(msg["output"].get("error"))
            assert not msg["success"] and "You are not an instructor of course-b" in error, (api_name, msg)
        msg = alice.call("upload_documents", [None, "course-c", None])  # a new course: only an admin creates one
        assert "There is no course course-c: only an admin can create a course" in str(msg["output"].get("error")), msg
        for api_name, data in ADMIN_CALLS.items():
            msg = alice.call(api_name, [None, "alice", "", True, []] if api_name == "admin_save_account" else data)
            assert not msg["success"] and "Only an admin can do this" in str(msg["output"].get("error")), (api_name, msg)
        assert any("alice may not change course 'course-b'" in r.getMessage() for r in caplog.records)
        assert state() == before and kb.course_info("course-a").title == "Course A, by Alice"

        # replayed: alice's session id from a client with a cookie of its own; expired: 8 h later
        with closing(browser_client(url)) as thief:
            msg = raw_call(url, fn_index(url, "refresh_review"), [None, "course-a"], session=alice.session, client=thief)
            assert not msg["success"] and "Instructor login required" in str(msg["output"].get("error"))
        assert alice.call("refresh_review", [None, "course-a"])["success"]
        now[0] += config.session_hours * 3600 + 1
        msg = alice.call("refresh_review", [None, "course-a"])
        assert not msg["success"] and "Instructor login required" in str(msg["output"].get("error"))
        assert "Logged in as **alice**" in Instructor(url, "alice", ALICE_PASSWORD).login_message  # a new login works

        # a student and the unpublished course B: a link to it says so; a page that still lists it (opened while B
        # was published) gets no answer from it
        with closing(browser_client(url)) as student:
            arrive, page = fn_index(url, "arrive"), uuid.uuid4().hex[:12]
            msg = raw_call(url, arrive, ["course-a"], client=student, page_query={"course": "course-b"})
            picker, notice = msg["output"]["data"]
            assert picker["value"] == "course-a" and [c[-1] for c in picker["choices"]] == ["course-a"], msg
            assert "no published course “course-b”" in notice
            accounts.set_published(kb.db, "course-b", True)
            msg = raw_call(url, arrive, ["course-a"], client=student, page_query={"course": "course-b"}, session=page)
            assert msg["output"]["data"][0]["value"] == "course-b" and msg["output"]["data"][1] == "", msg
            accounts.set_published(kb.db, "course-b", False)
            msg = raw_call(url, fn_index(url, "ask"), ["What is on the exam?", "course-b", None, None], client=student,
                           session=page)
            chat, _, _, box, notice = msg["output"]["data"]
            assert chat == [] and box == "What is on the exam?" and "no published course “course-b”" in notice, msg


def test_console_disabled_without_credentials(tmp_path):
    config = app.AppConfig(data_dir=str(tmp_path / "data"), load_sample_course=False)
    with serve(config, kb=None) as (demo, url):
        page = httpx.get(url.rstrip("/") + "/config", timeout=10).json()
        names = {d.get("api_name") for d in page["dependencies"]}
        assert "login" not in names and "upload_documents" not in names
        assert any("console is disabled" in str(c.get("props", {}).get("value", "")) for c in page["components"])


def test_parallel_guesses_lock_the_login_until_the_lockout_expires(tmp_path):
    """20 wrong passwords at once from one address: only 5 are checked, then even the right password is
    refused (saying when to retry) until the lockout expires; the clock is a fake one the test moves."""
    from concurrent.futures import ThreadPoolExecutor

    now = [1_700_000_000.0]
    config = app.AppConfig(data_dir=str(tmp_path / "data"), load_sample_course=False, instructor_user="prof",
                           instructor_password=PASSWORD, login_failure_delay_s=0.0)
    with serve(config, kb=None, clock=lambda: now[0]) as (demo, url), closing(browser_client(url)) as guesser:
        index = fn_index(url, "login")
        with ThreadPoolExecutor(20) as pool:
            texts = list(pool.map(lambda i: str(raw_call(url, index, ["prof", f"guess {i}"], client=guesser)["output"]["data"]),
                                  range(20)))
        assert sum("Wrong user name or password" in t for t in texts) == config.login_max_failures
        assert all("Logged in" not in t for t in texts)
        locked = str(raw_call(url, index, ["prof", PASSWORD], client=guesser)["output"]["data"])
        assert "Logged in" not in locked and "locked for 60 s" in locked and "Try again after" in locked, locked
        now[0] += 61
        assert "Logged in as **prof**" in str(raw_call(url, index, ["prof", PASSWORD], client=guesser)["output"]["data"])


def test_faq_upload_reports_problems_by_row_and_keeps_the_old_faq(server, tmp_path):
    demo, url = server
    instructor = login_session(url)
    before = kb_snapshot(demo)
    bad = tmp_path / "faq.csv"
    bad.write_text("question,answer\nWhat is BPE?,\n,An answer without a question\n", encoding="utf-8")
    msg = instructor.call("upload_faq", [None, "sample", instructor.upload(bad)])
    text, problems, _ = msg["output"]["data"]
    assert "2 problem(s)" in text and "nothing was changed" in text
    assert sorted(row for row, _ in problems["data"]) == [1, 2]  # data rows, as load_faq numbers them
    assert kb_snapshot(demo) == before


def test_refused_question_becomes_an_faq_entry(server, client):
    """The weekly loop: a refused question shows up for review; one action turns it into an FAQ entry."""
    demo, url = server
    off_topic = "What is the best recipe for a chocolate cake?"
    chat, _, _ = client.predict(off_topic, "sample", api_name="/ask")
    instructor = login_session(url)
    review = instructor.call("refresh_review", [None, "sample"])["output"]["data"][0]
    assert [row[1] for row in review["data"] if row[2] == off_topic] == ["refused"], text_of(chat[1])
    answer = "This course does not cover baking; ask about Transformers instead."
    msg = instructor.call("add_to_faq", [None, "sample", off_topic, answer])
    assert msg["success"], msg
    assert (off_topic, answer) in [(e.question, e.answer) for e in demo.tutor.kb.faq("sample")]


def test_console_trains_picks_an_adapter_and_shows_an_evaluation(server, tmp_path):
    """FAQ -> retrain (live progress) -> pick the adapter -> evaluate, all through the console's handlers."""
    from knowledge_base.faq_files import load_faq, write_faq_csv

    demo, url = server
    instructor = login_session(url)
    sample_faq = [e for e in load_faq(Path(app.__file__).parent / "knowledge_base" / "sample_course" / "faq.csv")
                  if e.language == "en"][:8]
    small = write_faq_csv(sample_faq, tmp_path / "small-faq.csv")
    uploaded = instructor.upload(small)
    index = fn_index(url, "start_training")
    updates = []
    c = instructor.client  # stream the training events the way the page receives them
    c.post(url + "gradio_api/queue/join", json={"data": [None, "sample", uploaded, "ui-test", 1], "fn_index": index,
                                                "session_hash": instructor.session, "event_data": None, "trigger_id": None})
    with c.stream("GET", url + "gradio_api/queue/data", params={"session_hash": instructor.session}, timeout=600) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                updates.append(msg)
                if msg.get("msg") == "process_completed":
                    break
    final = updates[-1]
    assert final["success"], final
    log_text = final["output"]["data"][0]
    assert "stage=train" in log_text and "Done: adapter ui-test saved" in log_text, log_text
    assert sum(1 for u in updates if u.get("msg") == "process_generating") >= 3  # progress arrived while it ran
    msg = instructor.call("use_adapter", [None, "ui-test"])
    assert "adapter **ui-test**" in msg["output"]["data"][0]
    assert demo.tutor.engines.adapter == "ui-test"
    msg = instructor.call("run_eval", [None, "sample", uploaded, 2], timeout=600)
    text, frame = msg["output"]["data"]
    assert "Report written to" in text and "(4 rows)" in text  # 2 questions x (adapter, retrieval-only)
    assert frame.startswith("<iframe") and "srcdoc=" in frame
    instructor.call("use_adapter", [None, "(none)"])
    assert demo.tutor.engines.adapter is None


def test_python_app_py_starts_from_flags_and_environment(tmp_path):
    """``python app.py`` as the README runs it: flags and TUTOR_* variables reach the server."""
    import os
    import subprocess
    import sys
    import time

    from browser import free_port

    port = free_port()
    pw = tmp_path / "pw.txt"
    pw.write_text("from-a-file-of-the-ta\n")
    env = {**os.environ, "TUTOR_PORT": str(port), "TUTOR_DATA_DIR": str(tmp_path / "data"), "TUTOR_INSTRUCTOR_USER": "ta"}
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--host", "127.0.0.1", "--instructor-password-file", str(pw), "--course", "sample"],
        cwd=Path(app.__file__).parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.time() + 480  # first start: assemble the embedder, embed both built-in courses
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(1)
        url = f"http://127.0.0.1:{port}/"
        assert "login" in {d.get("api_name") for d in httpx.get(url + "config", timeout=10).json()["dependencies"]}
        assert "Logged in as **ta**" in Instructor(url, "ta", "from-a-file-of-the-ta").login_message
        assert (tmp_path / "data" / "tutor.db").exists()  # TUTOR_DATA_DIR was used, sample course loaded there
        page = httpx.get(url + "config", timeout=10).json()
        picker = next(c for c in page["components"] if c.get("props", {}).get("elem_id") == "course")
        choices = [c[1] if isinstance(c, (list, tuple)) else c for c in picker["props"]["choices"]]
        assert {"sample", "estatistica"} <= set(choices), choices  # both built-in courses are offered
        labels = {c[0] for c in picker["props"]["choices"]}  # by their course.json titles
        assert {"How Transformers and fine-tuning work", "Introdução à Estatística"} <= labels, labels
    finally:
        proc.terminate()
        proc.wait(timeout=30)
