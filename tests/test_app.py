"""Fast tests of app.py's own parts: flags and environment, instructor tokens, how answers are shown,
the conversation export, and the instructor password rules (length, backoff, lockout). The handlers on a
real knowledge base are in test_app_handlers.py; the server, engine and browser are exercised in
test_app_server.py and test_app_browser.py."""

from __future__ import annotations

import json

import pytest

import app
from basics.errors import ConfigError
from tutor.runtime.models import DEFAULT_PRESET


def test_defaults_without_flags_or_env():
    config, _ = app.parse_args([], env={})
    assert (config.host, config.port, config.course) == ("127.0.0.1", 7860, "sample")
    assert config.model == DEFAULT_PRESET == "qwen2.5-1.5b-instruct" and config.data_dir is None and config.remote_url is None
    assert not config.console_enabled


def test_flags_override_environment():
    env = {"TUTOR_HOST": "0.0.0.0", "TUTOR_PORT": "9000", "TUTOR_DATA_DIR": "/srv/env", "TUTOR_COURSE": "bio",
           "TUTOR_MODEL": "gemma3-270m", "TUTOR_REMOTE_URL": "http://127.0.0.1:8080/v1", "TUTOR_ADAPTER": "a1"}
    config, _ = app.parse_args([], env=env)
    assert (config.host, config.port, config.data_dir, config.course) == ("0.0.0.0", 9000, "/srv/env", "bio")
    assert (config.model, config.remote_url, config.adapter) == ("gemma3-270m", "http://127.0.0.1:8080/v1", "a1")
    config, _ = app.parse_args(["--port", "9100", "--course", "chem", "--remote-model", "m"], env=env)
    assert (config.port, config.course, config.remote_model, config.host) == (9100, "chem", "m", "0.0.0.0")


def test_instructor_credentials_from_env_or_password_file(tmp_path):
    config, _ = app.parse_args([], env={"TUTOR_INSTRUCTOR_USER": "prof", "TUTOR_INSTRUCTOR_PASSWORD": "pw-of-the-prof"})
    assert config.console_enabled and (config.instructor_user, config.instructor_password) == ("prof", "pw-of-the-prof")
    assert "pw-of-the-prof" not in repr(config)  # a logged config never shows the password
    secret = tmp_path / "pw.txt"
    secret.write_text("s3cret-s3cret\n")
    config, _ = app.parse_args(["--instructor-password-file", str(secret)], env={})
    assert config.console_enabled and (config.instructor_user, config.instructor_password) == ("instructor", "s3cret-s3cret")


@pytest.mark.parametrize("content", [None, "\n"])
def test_unreadable_or_empty_password_file_names_the_file(tmp_path, content):
    path = tmp_path / "pw.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match="pw.txt"):
        app.parse_args(["--instructor-password-file", str(path)], env={})


def test_tokens_are_signed_bound_to_a_browser_and_expire():
    secret, key = b"k" * 32, "a" * 64
    token = app.make_token(secret, "prof", hours=1, browser_key=key)
    assert app.token_user(secret, token, browser_key=key) == "prof"
    assert app.token_user(secret, token) is None  # presented without the browser's key: a replayed session
    assert app.token_user(secret, token, browser_key="b" * 64) is None  # another browser's key
    assert app.token_user(b"other-server-secret-000000000000", token, browser_key=key) is None  # not minted here
    user, expiry, browser, sig = token.split("|")
    assert key not in token  # the token holds a digest of the key, not the key
    assert app.token_user(secret, f"admin|{expiry}|{browser}|{sig}", browser_key=key) is None  # user swapped
    assert app.token_user(secret, f"{user}|{int(expiry) + 3600}|{browser}|{sig}", browser_key=key) is None  # stretched
    other = app.make_token(secret, "prof", hours=1, browser_key="b" * 64).split("|")[2]
    assert app.token_user(secret, f"{user}|{expiry}|{other}|{sig}", browser_key="b" * 64) is None  # rebound
    assert app.token_user(secret, app.make_token(secret, "prof", hours=-1, browser_key=key), browser_key=key) is None
    for junk in (None, "", "prof", 42, ["prof"], "a|b|c|d", "a|b|c|d|e"):
        assert app.token_user(secret, junk, browser_key=key) is None


TURN = {
    "question": "What is a <b>transformer</b>?",
    "answer": "A neural network built from attention layers [1].",
    "from_faq": True,
    "question_id": 3,
    "citations": [{"n": 1, "document": "attention.md", "section": "Self-attention", "page": None,
                   "snippet": "Attention lets <every> token look at the others."},
                  {"n": 2, "document": "notes.pdf", "section": "", "page": 4, "snippet": "Layers stack."}],
}


def test_answer_shows_faq_mark_and_expandable_citations():
    shown = app.render_answer(TURN)
    assert "From the instructor's FAQ" in shown
    assert shown.count("<details class='citation'>") == 2
    assert "[1] attention.md — Self-attention" in shown and "[2] notes.pdf — page 4" in shown
    assert "&lt;every&gt;" in shown and "<every>" not in shown  # document text cannot inject markup
    plain = app.render_answer({**TURN, "from_faq": False, "citations": []})
    assert plain == TURN["answer"]


def test_two_messages_per_turn_so_feedback_finds_its_turn():
    turns = [TURN, {"question": "q2", "error": "Sorry"}]
    msgs = app.chat_messages(turns, pending={"question": "q3", "answer": "par", "citations": []})
    assert [m["role"] for m in msgs] == ["user", "assistant"] * 3
    assert msgs[3]["content"].startswith("⚠️") and msgs[5]["content"] == "par"
    # failed turns never reach the model as history
    assert app.engine_history(turns) == [{"role": "user", "content": TURN["question"]},
                                         {"role": "assistant", "content": TURN["answer"]}]


def test_export_round_trips_as_json_and_reads_as_markdown():
    md_path, json_path = app.write_exports([TURN], "sample")
    raw = open(json_path, encoding="utf-8").read()
    assert json.loads(raw) == {"course": "sample", "turns": [TURN]}
    assert "<" not in raw and "\\u003cb\\u003e" in raw  # the same data, with no raw markup in the file
    md = open(md_path, encoding="utf-8").read()
    assert "**Question:** What is a &lt;b&gt;transformer&lt;/b&gt;?" in md and "attention.md — Self-attention" in md
    assert md.startswith("# Conversation — course sample") and "<every>" not in md


HOSTILE = ('Office hours are on Wednesday <img src=x onerror="alert(1)"> in room <script>alert(2)</script> B7; '
           'see [the map](javascript:alert(3)) and ![pic](javascript:alert(4)) or <javascript:alert(5)>.')


def test_text_from_documents_models_and_students_never_becomes_markup():
    """Issue 34: a quoted answer carried a document's <img onerror>, <script> and javascript: link raw."""
    turn = {"question": "<img src=x onerror=alert(6)> when?", "answer": HOSTILE, "outcome": "quoted",
            "citations": [{"n": 1, "document": "<b>x</b>.md", "section": "<i>s</i>", "page": None, "snippet": HOSTILE}]}
    shown = " ".join(m["content"] for m in app.chat_messages([turn]))
    for raw in ("<img", "<script", "](javascript:", "<javascript:", "<b>", "<i>"):
        assert raw not in shown, raw
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in shown and "Wednesday" in shown
    md = app.export_markdown([turn], "c")
    for raw in ("<img", "<script", "](javascript:", "<javascript:"):
        assert raw not in md, raw
    # LaTeX display formulas and ordinary brackets survive; a model's "[1]" marker still reads as one
    assert app.render_answer({"answer": r"Scale by \[ \frac{\alpha}{r} \] as in [1]."}) == r"Scale by \[ \frac{\alpha}{r} \] as in [1]."


def test_console_disabled_message_says_how_to_enable():
    for needed in ("TUTOR_INSTRUCTOR_USER", "TUTOR_INSTRUCTOR_PASSWORD", "--instructor-password-file"):
        assert needed in app.CONSOLE_DISABLED


# ------------------------------------------------------------------------------ instructor password and lockout

from webapp.auth import WRONG  # noqa: E402

PASSWORD = "correct horse battery staple"
CLIENT = "203.0.113.9"
KEY = "k" * 64  # the browser key cookie of the instructor's browser


class FakeClock:
    """A clock the test moves by hand: a lockout expires without the test waiting for it."""

    def __init__(self, t: float = 1_700_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_auth(clock: FakeClock, sleep=lambda s: None, **throttle) -> app.InstructorAuth:
    return app.InstructorAuth("prof", PASSWORD, throttle=app.LoginThrottle(clock=clock, **throttle), clock=clock, sleep=sleep)


@pytest.mark.parametrize("password", [" " * 12, "a" * 16, "\t" * 20])
def test_blank_or_one_character_passwords_are_refused(password):
    config = app.AppConfig(instructor_user="prof", instructor_password=password)
    with pytest.raises(ConfigError, match="blank|one character repeated"):
        config.check()


def test_short_password_is_refused_at_startup_naming_the_setting(tmp_path):
    short = tmp_path / "pw.txt"
    short.write_text("hunter2\n")
    with pytest.raises(SystemExit, match=r"--instructor-password-file \S*pw.txt.* is 7 characters long; the "
                                         r"instructor console needs at least 12"):
        app.main(["--instructor-password-file", str(short)])
    with pytest.raises(ConfigError, match="TUTOR_INSTRUCTOR_PASSWORD is 5 characters long"):
        app.parse_args([], env={"TUTOR_INSTRUCTOR_PASSWORD": "short"})
    # an AppConfig built in code is refused too, before anything is created on disk
    config = app.AppConfig(data_dir=str(tmp_path / "data"), instructor_user="prof", instructor_password="eleven char")
    with pytest.raises(ConfigError, match="11 characters long"):
        app.build_app(config)
    assert not (tmp_path / "data").exists()
    config.instructor_password = "twelve chars"
    config.check()  # 12 is enough


def test_parallel_wrong_guesses_lock_the_client_out_until_the_lockout_expires():
    from concurrent.futures import ThreadPoolExecutor
    from datetime import datetime, timezone

    clock = FakeClock()
    auth = make_auth(clock, delay_s=0.0, max_failures=5, lockout_s=60.0)
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda i: auth.login("prof", f"guess {i}", CLIENT, KEY), range(20)))
    assert all(r.token is None for r in results)
    checked = [r for r in results if r.message.startswith(WRONG)]
    assert len(checked) == 5  # each attempt is counted before its password is compared: no race past the limit
    assert sum("locked for 60 s" in r.message for r in results) == 16  # the 5th failure and the 15 unchecked ones
    refused = auth.login("prof", PASSWORD, CLIENT, KEY)
    retry_at = datetime.fromtimestamp(clock.t + 60, timezone.utc).strftime("%H:%M:%S UTC")
    assert refused.token is None and not refused.message.startswith(WRONG)  # the password was not even checked
    assert f"locked for 60 s. Try again after {retry_at}" in refused.message
    assert auth.login("prof", PASSWORD, "198.51.100.7", KEY).token  # another address is not locked
    clock.t += 59
    assert auth.login("prof", PASSWORD, CLIENT, KEY).token is None
    clock.t += 1
    ok = auth.login("prof", PASSWORD, CLIENT, KEY)
    assert ok.token and auth.user_of(ok.token, KEY) == "prof" and ok.message == "Logged in as **prof**."


def test_backoff_grows_with_each_failure_then_the_lockout_grows_and_a_login_resets_it():
    clock, slept = FakeClock(), []

    def sleep(seconds):  # the pause a wrong password waits, on the fake clock
        slept.append(seconds)
        clock.t += seconds

    auth = make_auth(clock, sleep=sleep)  # defaults: 1 s doubling, 5 failures, 60 s lockout doubling
    assert [auth.login("prof", "wrong", CLIENT, KEY).message for _ in range(4)] == [WRONG] * 4
    assert slept == [1, 2, 4, 8]
    fifth = auth.login("prof", "wrong", CLIENT, KEY)
    assert fifth.message.startswith(WRONG) and "locked for 60 s" in fifth.message and slept == [1, 2, 4, 8]
    clock.t += 60
    assert "locked for 2 min" in auth.login("prof", "wrong", CLIENT, KEY).message  # one more failure: twice as long
    clock.t += 120
    assert auth.login("prof", PASSWORD, CLIENT, KEY).token
    assert auth.login("prof", "wrong", CLIENT, KEY).message == WRONG and slept[-1] == 1  # afresh after a login
    for _ in range(5):
        auth.login("prof", "wrong", CLIENT, KEY)
    clock.t += 3600 + 60 + 1  # quiet for an hour after the lockout ended: the address starts afresh
    assert auth.login("prof", "wrong", CLIENT, KEY).message == WRONG and slept[-1] == 1
    # a second attempt during the pause (another tab, a script) is refused unchecked, saying how long to wait
    paused = make_auth(FakeClock())
    paused.login("prof", "wrong", CLIENT, KEY)
    assert paused.login("prof", PASSWORD, CLIENT, KEY).message == "Too many login attempts: wait 1 s and try again."


def test_tokens_follow_the_injected_clock():
    clock = FakeClock()
    auth = make_auth(clock)
    token = auth.login("prof", PASSWORD, CLIENT, KEY).token
    clock.t += 8 * 3600 - 1
    assert auth.user_of(token, KEY) == "prof"
    clock.t += 2
    assert auth.user_of(token, KEY) is None  # the 8-hour session is over
    assert auth.user_of(app.make_token(b"x" * 32, "prof", hours=1, now=clock.t, browser_key=KEY), KEY) is None  # another server's secret


def test_a_login_needs_a_browser_key_and_logout_or_a_new_key_revokes_it():
    clock = FakeClock()
    auth = make_auth(clock)
    refused = auth.login("prof", PASSWORD, CLIENT, None)
    assert refused.token is None and "cookie" in refused.message
    assert auth.throttle.failures(CLIENT) == 0  # refused before anything was counted or compared
    token = auth.login("prof", PASSWORD, CLIENT, KEY).token
    assert auth.user_of(token, KEY) == "prof" and auth.is_logged_in(KEY) and not auth.is_logged_in("z" * 64)
    auth.revoke(KEY)
    assert auth.user_of(token, KEY) is None and not auth.is_logged_in(KEY)
    token = auth.login("prof", PASSWORD, CLIENT, KEY).token
    clock.t += 8 * 3600 + 1
    assert not auth.is_logged_in(KEY) and auth.user_of(token, KEY) is None  # expiry ends it too
