"""Fast tests of app.py's own parts: flags and environment, instructor tokens, how answers are shown,
and the conversation export. The server, engine and browser are exercised in test_app_server.py and
test_app_browser.py."""

from __future__ import annotations

import json

import pytest

import app
from basics.errors import ConfigError
from tutor.models import DEFAULT_PRESET


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
    config, _ = app.parse_args([], env={"TUTOR_INSTRUCTOR_USER": "prof", "TUTOR_INSTRUCTOR_PASSWORD": "pw"})
    assert config.console_enabled and (config.instructor_user, config.instructor_password) == ("prof", "pw")
    assert "pw" not in repr(config)  # a logged config never shows the password
    secret = tmp_path / "pw.txt"
    secret.write_text("s3cret\n")
    config, _ = app.parse_args(["--instructor-password-file", str(secret)], env={})
    assert config.console_enabled and (config.instructor_user, config.instructor_password) == ("instructor", "s3cret")


@pytest.mark.parametrize("content", [None, "\n"])
def test_unreadable_or_empty_password_file_names_the_file(tmp_path, content):
    path = tmp_path / "pw.txt"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match="pw.txt"):
        app.parse_args(["--instructor-password-file", str(path)], env={})


def test_tokens_are_signed_and_expire():
    secret = b"k" * 32
    token = app.make_token(secret, "prof", hours=1)
    assert app.token_user(secret, token) == "prof"
    assert app.token_user(b"other-server-secret-000000000000", token) is None  # not minted by this server
    user, expiry, sig = token.split("|")
    assert app.token_user(secret, f"admin|{expiry}|{sig}") is None  # user swapped
    assert app.token_user(secret, f"{user}|{int(expiry) + 3600}|{sig}") is None  # lifetime stretched
    assert app.token_user(secret, app.make_token(secret, "prof", hours=-1)) is None  # expired
    for junk in (None, "", "prof", 42, ["prof"], "a|b|c|d"):
        assert app.token_user(secret, junk) is None


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
    data = json.loads(open(json_path, encoding="utf-8").read())
    assert data == {"course": "sample", "turns": [TURN]}
    md = open(md_path, encoding="utf-8").read()
    assert "**Question:** What is a <b>transformer</b>?" in md and "attention.md — Self-attention" in md
    assert md.startswith("# Conversation — course sample")


def test_console_disabled_message_says_how_to_enable():
    for needed in ("TUTOR_INSTRUCTOR_USER", "TUTOR_INSTRUCTOR_PASSWORD", "--instructor-password-file"):
        assert needed in app.CONSOLE_DISABLED
