"""Several courses, several instructors (issue 37.3) at the handlers, without HTTP: who may change which course
(configured admin, database admin, instructor of a course), the Admin tab, sessions that end, and the
courses a student may pick. Real knowledge base (SQLite + FAISS in a temp dir, MiniLM), real argon2; the
server tests (test_app_server.py) make the same crossings over HTTP."""

from __future__ import annotations

import gradio as gr
import pytest

import app
from knowledge_base import accounts
from knowledge_base.faq_entries import FAQEntry
from webapp.admin import AdminConsole

PASSWORD = "correct horse battery staple"  # the configured instructor, prof
ALICE, BOB, ROOT = "alice pw: blue fjord lamp", "bob pw: seven red kites", "root pw: quiet granite owl"
DOCS = {"demo": [("exams.md", "# Exams\n\nThe final exam takes place on Friday at noon in room B12.\n")],
        "other": [("intro.md", "# Other\n\nThe other course meets on Tuesdays.\n")]}


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


class Browser:
    """One logged-in browser: its key cookie, the session's token, and the console's handlers called as
    Gradio calls them (token first, request last)."""

    def __init__(self, console, user: str, password: str, key_char: str):
        self.console, self.request = console, gr.Request(headers={"cookie": "tutor_browser=" + key_char * 64})
        self.token, _, _, self.error, self.who = console.login(user, password, self.request)

    def __getattr__(self, name):
        target = getattr(self.console, name)
        return lambda *args, **kw: target(self.token, *args, request=self.request, **kw)


def make_parts(paths, embedder, clock=None, configured: bool = True):
    from knowledge_base import KnowledgeBase

    kb = KnowledgeBase(paths, embedder=embedder)
    for course, docs in DOCS.items():
        kb.add_texts(course, docs)
    kb.set_faq("demo", [FAQEntry("When is the final exam?", "On Friday at noon, in room B12.", source="exams.md")])
    accounts.ensure_schema(kb.db)
    accounts.save_account(kb.db, "alice", password=ALICE, courses=["demo"], create=True)
    accounts.save_account(kb.db, "bob", password=BOB, courses=["other"], create=True)
    accounts.save_account(kb.db, "root", password=ROOT, admin=True, create=True)
    login = dict(instructor_user="prof", instructor_password=PASSWORD) if configured else {}
    config = app.AppConfig(course="demo", load_sample_course=False, login_failure_delay_s=0.0,
                           model="smollm2-135m-instruct", **login)
    return app.build_parts(config, kb=kb, **({"clock": clock} if clock else {}))


@pytest.fixture
def parts(paths, embedder):
    parts = make_parts(paths, embedder)
    yield parts
    parts.kb.close()


def snapshot(kb) -> tuple:
    return ([(d.course, d.name, d.hash) for d in kb.list_documents()], [(e.question, e.answer) for e in kb.faq("other")],
            kb.course_info("other").title, kb.courses(), [(a.username, a.is_admin, a.courses) for a in accounts.list_accounts(kb.db)])


def test_an_instructor_changes_only_the_courses_of_the_account(parts, tmp_path):
    console = parts.console
    alice = Browser(console, "alice", ALICE, "a")
    assert alice.who == "Logged in as **alice**." and alice.error == ""
    picker, admin_tab, who = alice.my_courses("other")
    assert (picker["choices"], picker["value"], admin_tab["visible"]) == (["demo"], "demo", False)
    assert "instructor of demo" in who
    # her own course: every handler works
    *_, title, _, _, _ = alice.load_console("demo")
    assert title == "demo" and alice.save_course_info("demo", "Exams", "", "")[0].startswith("Saved")
    assert alice.add_to_faq("demo", "Where is the exam?", "Room B12.")[0].startswith("Added to the FAQ of demo")
    assert isinstance(alice.refresh_review("demo"), list)

    doc, faq = tmp_path / "planted.md", tmp_path / "faq.csv"
    doc.write_text("# Planted\n\nThe other course is cancelled.", encoding="utf-8")
    faq.write_text("question,answer\nIs it cancelled?,Yes.\n", encoding="utf-8")
    before = snapshot(parts.kb)
    crossings = {  # every console handler that names a course, aimed at bob's course
        "load_console": lambda c: alice.load_console(c), "upload_documents": lambda c: alice.upload_documents(c, [str(doc)]),
        "delete_document": lambda c: alice.delete_document(c, "intro.md"), "upload_faq": lambda c: alice.upload_faq(c, str(faq)),
        "save_course_info": lambda c: alice.save_course_info(c, "Stolen", "", ""),
        "refresh_review": lambda c: alice.refresh_review(c), "add_to_faq": lambda c: alice.add_to_faq(c, "Cancelled?", "Yes."),
        "dashboard": lambda c: alice.dashboard(c, 30), "start_training": lambda c: next(alice.start_training(c, None, "x", 1)),
        "run_eval": lambda c: alice.run_eval(c, None, 1),
    }
    for name, call in crossings.items():
        with pytest.raises(gr.Error, match="You are not an instructor of other: your courses are demo"):
            call("other")
        with pytest.raises(gr.Error, match="There is no course ml101: only an admin can create a course"):
            call("ml101")  # uploading to it would have created it
        with pytest.raises(gr.Error, match="Pick one of your courses first"):
            call("")
    admin = AdminConsole(console)
    admin_only = [lambda: alice.use_adapter("(none)"),  # every course's students get the one adapter
                  lambda: admin.load(alice.token, request=alice.request),
                  lambda: admin.create_course(alice.token, "ml101", "ML", True, request=alice.request),
                  lambda: admin.set_published(alice.token, "other", False, request=alice.request),
                  lambda: admin.pick_account(alice.token, "bob", request=alice.request),
                  lambda: admin.save_account(alice.token, "alice", "", True, ["demo", "other"], request=alice.request),
                  lambda: admin.remove_account(alice.token, "bob", request=alice.request)]
    for call in admin_only:
        with pytest.raises(gr.Error, match="Only an admin can do this"):
            call()
    assert snapshot(parts.kb) == before and accounts.unpublished_courses(parts.kb.db) == set()


def test_a_student_session_reaches_no_console_or_admin_handler(parts):
    """Student -> console: a session without a login (no token, a forged one) is refused by the admin handlers
    as by the others (test_app_handlers covers those)."""
    admin, before = AdminConsole(parts.console), snapshot(parts.kb)
    student = gr.Request(headers={"cookie": "tutor_browser=" + "s" * 64})
    for token in (None, "root|9999999999|" + "0" * 32 + "|" + "0" * 64):
        for call in (lambda: admin.load(token, request=student), lambda: admin.create_course(token, "x", "", True, request=student),
                     lambda: admin.save_account(token, "mallory", ROOT, True, [], request=student),
                     lambda: admin.remove_account(token, "root", request=student),
                     lambda: parts.console.my_courses(token, "demo", request=student)):
            with pytest.raises(gr.Error, match="Instructor login required"):
                call()
    assert snapshot(parts.kb) == before


def test_admins_make_courses_and_accounts_and_an_account_removed_is_logged_out(parts):
    console, kb = parts.console, parts.kb
    root = Browser(console, "root", ROOT, "r")
    picker, admin_tab, who = root.my_courses(None)
    assert picker["choices"] == ["demo", "other"] and picker["value"] == "demo" and admin_tab["visible"] and "admin" in who
    admin = AdminConsole(console)
    call = lambda name, *args: getattr(admin, name)(root.token, *args, request=root.request)  # noqa: E731
    accounts_rows, course_rows, *_ = call("load")
    assert accounts_rows[0][:2] == ["prof", "admin (configured in the app's environment)"]
    assert ["alice", "instructor", "demo"] == accounts_rows[1][:3] and not any(ROOT in str(r) for r in accounts_rows)
    msg, _, course_rows, *_ = call("create_course", "ml101", "Machine Learning 101", False)
    assert "Created course **ml101**" in msg and "unpublished" in msg
    assert ["ml101", "Machine Learning 101", "no", ""] in course_rows and "ml101" not in dict(parts.chat.courses()).values()
    msg, *_ = call("create_course", "ml101", "Again", True)
    assert msg.startswith("⚠️") and "exists already" in msg and kb.course_info("ml101").title == "Machine Learning 101"
    msg, box, *_ = call("save_account", "carol", "weak", False, ["ml101"])
    assert msg.startswith("⚠️") and "4 characters long" in msg and box == "" and accounts.get_account(kb.db, "carol") is None
    msg, *_ = call("save_account", "prof", "a whole new password", False, [])
    assert "configured in the app's environment" in msg  # the configured admin is not taken over from here
    msg, *_ = call("save_account", "carol", "carol pw: wide amber field", False, ["ml101"])
    assert msg == "Created account **carol**: instructor of ml101."
    assert call("pick_account", "carol")[:3] == ("carol", "", False)
    carol = Browser(console, "carol", "carol pw: wide amber field", "c")
    assert carol.my_courses("demo")[0]["choices"] == ["ml101"]
    assert carol.save_course_info("ml101", "ML 101", "", "")[0].startswith("Saved")
    msg, *_ = call("set_published", "ml101", True)
    assert "published" in msg and ("ML 101", "ml101") in parts.chat.courses()
    # a change takes effect at the account's next click: demo given, then the account removed
    call("save_account", "carol", "", False, ["ml101", "demo"])
    assert isinstance(carol.refresh_review("demo"), list)
    assert accounts.verify_password(kb.db, "carol", "carol pw: wide amber field") == "carol"  # a blank password kept it
    msg, *_ = call("remove_account", "carol")
    assert msg.startswith("Removed account **carol**") and "ml101" in kb.courses()
    with pytest.raises(gr.Error, match="Instructor login required"):
        carol.refresh_review("ml101")
    assert Browser(console, "carol", "carol pw: wide amber field", "c").token is None


def test_the_last_admin_cannot_remove_or_demote_itself_from_the_console(paths, embedder):
    """No configured instructor: the console opens for the database's accounts, and its only admin keeps being one."""
    parts = make_parts(paths, embedder, configured=False)
    try:
        assert Browser(parts.console, "prof", PASSWORD, "p").token is None  # nobody configured: no such login
        root, admin = Browser(parts.console, "root", ROOT, "r"), AdminConsole(parts.console)
        for msg, *_ in (admin.save_account(root.token, "root", "", False, ["demo"], request=root.request),
                        admin.remove_account(root.token, "root", request=root.request)):
            assert msg.startswith("⚠️") and "root is the last admin" in msg and "nothing was changed" in msg
        assert accounts.get_account(parts.kb.db, "root").is_admin and root.my_courses(None)[1]["visible"]
        admin.save_account(root.token, "alice", "", True, ["demo"], request=root.request)  # a second admin
        msg, *_ = admin.save_account(root.token, "root", "", False, [], request=root.request)
        assert msg.startswith("Saved account **root**") and not root.my_courses(None)[1]["visible"]
        with pytest.raises(gr.Error, match="Only an admin"):  # its own session lost the rights at once
            admin.load(root.token, request=root.request)
    finally:
        parts.kb.close()


def test_expired_logged_out_and_replayed_sessions_are_refused(paths, embedder):
    clock = FakeClock()
    parts = make_parts(paths, embedder, clock=clock)
    try:
        alice = Browser(parts.console, "alice", ALICE, "a")
        assert isinstance(alice.refresh_review("demo"), list)
        thief = gr.Request(headers={"cookie": "tutor_browser=" + "t" * 64})  # alice's session id, another browser
        for request in (thief, gr.Request(headers={})):
            with pytest.raises(gr.Error, match="Instructor login required"):
                parts.console.refresh_review(alice.token, "demo", request=request)
        clock.t += parts.auth.session_hours * 3600 - 5
        assert isinstance(alice.refresh_review("demo"), list)
        clock.t += 10  # past the session's 8 h
        with pytest.raises(gr.Error, match="Instructor login required"):
            alice.refresh_review("demo")
        again = Browser(parts.console, "alice", ALICE, "a")
        again.logout()
        with pytest.raises(gr.Error, match="Instructor login required"):
            again.refresh_review("demo")
    finally:
        parts.kb.close()


def test_students_pick_among_published_courses_and_a_link_opens_one(parts):
    chat, kb = parts.chat, parts.kb
    link = lambda course: gr.Request(headers={}, query_params={"course": course})  # noqa: E731 (/?course=...)
    assert chat.courses() == [("demo", "demo"), ("other", "other")]
    assert chat.arrive("demo", link("other")) == (gr.update(choices=chat.courses(), value="other"), "")
    accounts.set_published(kb.db, "other", False)
    assert chat.courses() == [("demo", "demo")]
    for wanted in ("other", "nope"):  # unpublished or unknown: the same message, the page opens as usual
        update, notice = chat.arrive("demo", link(wanted))
        assert update["value"] == "demo" and notice == f"⚠️ There is no published course “{wanted}” here: pick a course from the list."
    update, notice = chat.arrive("demo", link("<b>x</b>"))
    assert "&lt;b&gt;x&lt;/b&gt;" in notice and "<b>" not in notice
    assert chat.arrive("demo", gr.Request(headers={}))[1] == ""
    # a forged call naming the hidden course: nothing is answered from it, the question stays in the box
    *_, (messages, turns, _, box, notice) = list(chat.respond("When does the other course meet?", "other", []))
    assert turns == [] and box == "When does the other course meet?" and "no published course “other”" in notice
    header, *buttons = chat.course_page("other")
    assert header.startswith("## other\n\nThis course has no material yet") and not any(b["visible"] for b in buttons)
    # the page's config, which anyone can read, names no hidden course (the console's picker is filled at login)
    page = app.build_app(parts.console.config, kb=kb, engine=parts.engines.engine)
    props = {c["props"].get("elem_id"): c["props"] for c in page.get_config_file()["components"]}
    assert props["console-course"]["choices"] == [("demo", "demo")] and props["course"]["choices"] == [("demo", "demo")]
    assert props["admin-tab"]["visible"] is False
    # the configured course hidden: the page opens on the first published one
    accounts.set_published(kb.db, "other", True)
    accounts.set_published(kb.db, "demo", False)
    assert chat.start_course() == "other" and chat.refresh_courses("demo")["value"] == "other"
