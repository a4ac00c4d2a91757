"""The real app on a loopback port, driven over HTTP: gradio_client for what a student's page does, raw
``/gradio_api/queue/join`` calls for what an attacker with curl could try against the console.

One server per module (real KnowledgeBase with the sample course, real engine with the bundled model),
so the model loads once for all these tests.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

import app
from browser import PASSWORD, QUESTION, fn_index, raw_call, raw_upload, serve, serve_test_app, write_doc

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
    return ([(d.name, d.hash) for d in kb.list_documents()], [(e.question, e.answer) for e in kb.faq("sample")])


def test_console_actions_are_refused_to_a_student_over_http(server, tmp_path):
    demo, url = server
    before = kb_snapshot(demo)
    doc = raw_upload(url, write_doc(tmp_path, "planted.md", "# Planted\n\nThe exam is cancelled."))
    first_doc = before[0][0][0]
    attempts = {
        "upload_documents": [None, "sample", [doc]],
        "delete_document": [None, "sample", first_doc],
        "add_to_faq": [None, "sample", "Is the exam cancelled?", "Yes."],
        "upload_faq": [None, "sample", doc],
        "use_adapter": [None, "(none)"],
    }
    for api_name, data in attempts.items():
        msg = raw_call(url, fn_index(url, api_name), data)
        assert not msg["success"], api_name
        # (delete is stopped even earlier by Gradio: a student's dropdown has no document names to pick)
        assert "Instructor login required" in msg["output"]["error"] or api_name == "delete_document", msg
        # a forged token in the state slot changes nothing either: state comes from the server session
        forged = raw_call(url, fn_index(url, api_name), ["prof|9999999999|" + "0" * 64] + data[1:])
        assert not forged["success"], api_name
    # a wrong password does not open the session
    session = "attacker-session"
    msg = raw_call(url, fn_index(url, "login"), ["prof", "guess"], session=session)
    assert "Wrong user name or password" in str(msg["output"]["data"])
    msg = raw_call(url, fn_index(url, "upload_documents"), [None, "sample", [doc]], session=session)
    assert not msg["success"]
    # gradio_client cannot even name the console endpoints
    from gradio_client import Client

    with pytest.raises(Exception):
        Client(url, verbose=False).predict(None, "sample", [doc], api_name="/upload_documents")
    assert kb_snapshot(demo) == before


def test_the_same_calls_work_after_a_real_login(server, tmp_path):
    """The refusal above is the login check, not a broken endpoint: a logged-in session succeeds."""
    demo, url = server
    session = "instructor-session"
    msg = raw_call(url, fn_index(url, "login"), ["prof", PASSWORD], session=session)
    assert msg["success"] and "Logged in as **prof**" in str(msg["output"]["data"])
    doc = raw_upload(url, write_doc(tmp_path, "http-upload.md", "# Lab hours\n\nThe Zorbium lab opens at 7:45."))
    msg = raw_call(url, fn_index(url, "upload_documents"), [None, "http-course", [doc]], session=session)
    assert msg["success"], msg
    assert "http-upload.md" in [d.name for d in demo.tutor.kb.list_documents("http-course")]


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
    with serve(config, kb=None, clock=lambda: now[0]) as (demo, url):
        index = fn_index(url, "login")
        with ThreadPoolExecutor(20) as pool:
            texts = list(pool.map(lambda i: str(raw_call(url, index, ["prof", f"guess {i}"])["output"]["data"]), range(20)))
        assert sum("Wrong user name or password" in t for t in texts) == config.login_max_failures
        assert all("Logged in" not in t for t in texts)
        locked = str(raw_call(url, index, ["prof", PASSWORD])["output"]["data"])
        assert "Logged in" not in locked and "locked for 60 s" in locked and "Try again after" in locked, locked
        now[0] += 61
        assert "Logged in as **prof**" in str(raw_call(url, index, ["prof", PASSWORD])["output"]["data"])


def login_session(url: str) -> str:
    session = uuid.uuid4().hex[:12]
    assert "Logged in as" in str(raw_call(url, fn_index(url, "login"), ["prof", PASSWORD], session=session)["output"]["data"])
    return session


def test_faq_upload_reports_problems_by_row_and_keeps_the_old_faq(server, tmp_path):
    demo, url = server
    session = login_session(url)
    before = kb_snapshot(demo)
    bad = tmp_path / "faq.csv"
    bad.write_text("question,answer\nWhat is BPE?,\n,An answer without a question\n", encoding="utf-8")
    msg = raw_call(url, fn_index(url, "upload_faq"), [None, "sample", raw_upload(url, bad)], session=session)
    text, problems, _ = msg["output"]["data"]
    assert "2 problem(s)" in text and "nothing was changed" in text
    assert sorted(row for row, _ in problems["data"]) == [1, 2]  # data rows, as load_faq numbers them
    assert kb_snapshot(demo) == before


def test_refused_question_becomes_an_faq_entry(server, client):
    """The weekly loop: a refused question shows up for review; one action turns it into an FAQ entry."""
    demo, url = server
    off_topic = "What is the best recipe for a chocolate cake?"
    chat, _, _ = client.predict(off_topic, "sample", api_name="/ask")
    session = login_session(url)
    review = raw_call(url, fn_index(url, "refresh_review"), [None, "sample"], session=session)["output"]["data"][0]
    assert [row[1] for row in review["data"] if row[2] == off_topic] == ["refused"], text_of(chat[1])
    answer = "This course does not cover baking; ask about Transformers instead."
    msg = raw_call(url, fn_index(url, "add_to_faq"), [None, "sample", off_topic, answer], session=session)
    assert msg["success"], msg
    assert (off_topic, answer) in [(e.question, e.answer) for e in demo.tutor.kb.faq("sample")]


def test_console_trains_picks_an_adapter_and_shows_an_evaluation(server, tmp_path):
    """FAQ -> retrain (live progress) -> pick the adapter -> evaluate, all through the console's handlers."""
    from knowledge_base.faq_files import load_faq, write_faq_csv

    demo, url = server
    session = login_session(url)
    sample_faq = [e for e in load_faq(Path(app.__file__).parent / "knowledge_base" / "sample_course" / "faq.csv")
                  if e.language == "en"][:8]
    small = write_faq_csv(sample_faq, tmp_path / "small-faq.csv")
    uploaded = raw_upload(url, small)
    index = fn_index(url, "start_training")
    updates = []
    with httpx.Client(timeout=600) as c:  # stream the training events the way the page receives them
        c.post(url + "gradio_api/queue/join", json={"data": [None, "sample", uploaded, "ui-test", 1], "fn_index": index,
                                                    "session_hash": session, "event_data": None, "trigger_id": None})
        with c.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}) as stream:
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
    msg = raw_call(url, fn_index(url, "use_adapter"), [None, "ui-test"], session=session)
    assert "adapter **ui-test**" in msg["output"]["data"][0]
    assert demo.tutor.engines.adapter == "ui-test"
    msg = raw_call(url, fn_index(url, "run_eval"), [None, "sample", uploaded, 2], session=session, timeout=600)
    text, frame = msg["output"]["data"]
    assert "Report written to" in text and "(4 rows)" in text  # 2 questions x (adapter, retrieval-only)
    assert frame.startswith("<iframe") and "srcdoc=" in frame
    raw_call(url, fn_index(url, "use_adapter"), [None, "(none)"], session=session)
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
        deadline = time.time() + 240
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(1)
        url = f"http://127.0.0.1:{port}/"
        assert "login" in {d.get("api_name") for d in httpx.get(url + "config", timeout=10).json()["dependencies"]}
        assert "Logged in as **ta**" in str(raw_call(url, fn_index(url, "login"), ["ta", "from-a-file-of-the-ta"])["output"]["data"])
        assert (tmp_path / "data" / "tutor.db").exists()  # TUTOR_DATA_DIR was used, sample course loaded there
    finally:
        proc.terminate()
        proc.wait(timeout=30)
