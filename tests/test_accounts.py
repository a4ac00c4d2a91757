"""Instructor accounts and published courses (issue 37.3): the storage rules of ``knowledge_base.accounts`` on a
real SQLite file with real argon2 hashes, and ``tutor admin`` through the root CLI (CliRunner)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from click.testing import CliRunner

from basics.errors import TutorError
from knowledge_base import KnowledgeBase, accounts
from knowledge_base.accounts import AccountError, AccountsConfig

PASSWORD = "violet kettle under the bridge"
OTHER = "seven pianos in the attic"


@pytest.fixture
def kb(paths, embedder):
    """Two courses with material (published, as every course made by adding documents) and the account tables."""
    kb = KnowledgeBase(paths, embedder=embedder)
    kb.add_texts("demo", [("intro.md", "# Intro\n\nThe course starts on Monday.")])
    kb.add_texts("other", [("intro.md", "# Other\n\nAnother course.")])
    accounts.ensure_schema(kb.db)
    yield kb
    kb.close()


def stored_row(kb: KnowledgeBase, username: str) -> dict:
    """The account's row as the SQLite file holds it (read with a connection of its own)."""
    with sqlite3.connect(kb.paths.db_path) as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM accounts WHERE username = ?", (username,)).fetchone())


def test_a_password_is_kept_as_an_argon2_hash_and_only_the_right_one_verifies(kb):
    account = accounts.save_account(kb.db, "alice", password=PASSWORD, courses=["demo"], create=True)
    assert (account.username, account.is_admin, account.courses) == ("alice", False, ("demo",))
    row = stored_row(kb, "alice")
    assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in json.dumps(row)
    assert PASSWORD.encode() not in kb.paths.db_path.read_bytes()  # nowhere in the file, not only not in the row
    assert accounts.verify_password(kb.db, "alice", PASSWORD) == "alice"
    assert accounts.verify_password(kb.db, "ALICE", PASSWORD) == "alice"  # one account whatever the case
    for user, password in (("alice", OTHER), ("alice", PASSWORD.upper()), ("alice", ""), ("nobody", PASSWORD),
                           ("", PASSWORD), ("alice", "x\ud800"), ("a|b", PASSWORD)):
        assert accounts.verify_password(kb.db, user, password) is None, (user, password)
    # a second account of the same password gets another salt: equal passwords do not show in the file
    accounts.save_account(kb.db, "bob", password=PASSWORD, create=True)
    assert stored_row(kb, "bob")["password_hash"] != row["password_hash"]


def test_a_hash_made_with_weaker_settings_is_replaced_at_the_next_login(kb):
    weak = AccountsConfig(time_cost=1, memory_kib=8192, parallelism=1)
    accounts.save_account(kb.db, "alice", password=PASSWORD, create=True, config=weak)
    assert "m=8192,t=1,p=1" in stored_row(kb, "alice")["password_hash"]
    assert accounts.verify_password(kb.db, "alice", PASSWORD) == "alice"  # the default (stronger) settings
    assert "m=65536,t=3,p=4" in stored_row(kb, "alice")["password_hash"]
    assert accounts.verify_password(kb.db, "alice", PASSWORD) == "alice"  # and it still opens


@pytest.mark.parametrize("password, reason", [(" " * 14, "blank"), ("a" * 16, "one character repeated"),
                                              ("short pw", "8 characters long"), ("x\ud800" * 8, "not valid text")])
def test_weak_passwords_are_refused_and_nothing_is_written(kb, password, reason):
    with pytest.raises(AccountError, match=reason):
        accounts.save_account(kb.db, "alice", password=password, create=True)
    assert accounts.get_account(kb.db, "alice") is None
    accounts.save_account(kb.db, "alice", password=PASSWORD, create=True)
    with pytest.raises(AccountError, match=reason):  # a change too: the old password stays
        accounts.save_account(kb.db, "alice", password=password)
    assert accounts.verify_password(kb.db, "alice", PASSWORD) == "alice"


def test_bad_names_unknown_courses_and_doubles_are_refused_with_a_message(kb):
    for name in ("", "a b", "prof|admin", "-dash", "x" * 65, "naïve\ud800"):
        with pytest.raises(AccountError, match="username .* is not valid"):
            accounts.save_account(kb.db, name, password=PASSWORD, create=True)
    with pytest.raises(AccountError, match=r"no course 'ml101'.*tutor admin course add ml101.*Courses: demo, other"):
        accounts.save_account(kb.db, "alice", password=PASSWORD, courses=["demo", "ml101"], create=True)
    assert accounts.list_accounts(kb.db) == []  # the unknown course stopped the whole account
    accounts.save_account(kb.db, "alice", password=PASSWORD, courses=["demo"], create=True)
    with pytest.raises(AccountError, match="already an account alice"):
        accounts.save_account(kb.db, "Alice", password=OTHER, create=True)
    with pytest.raises(AccountError, match="no account 'carol'. Accounts: alice"):
        accounts.save_account(kb.db, "carol", courses=["demo"])
    with pytest.raises(AccountError, match="no course 'gone'"):
        accounts.save_account(kb.db, "alice", courses=["other", "gone"])
    assert accounts.get_account(kb.db, "alice").courses == ("demo",)  # the refused change changed nothing
    assert accounts.verify_password(kb.db, "alice", PASSWORD) == "alice"


def test_the_last_admin_is_neither_removed_nor_demoted(kb):
    accounts.save_account(kb.db, "root", password=PASSWORD, admin=True, create=True)
    accounts.save_account(kb.db, "alice", password=OTHER, courses=["demo"], create=True)
    for change in (lambda: accounts.remove_account(kb.db, "root"),
                   lambda: accounts.save_account(kb.db, "root", admin=False),
                   lambda: accounts.save_account(kb.db, "ROOT", admin=False, courses=["demo"])):
        with pytest.raises(AccountError, match="root is the last admin.*nothing was changed"):
            change()
    root = accounts.get_account(kb.db, "root")
    assert root.is_admin and root.courses == ()
    accounts.remove_account(kb.db, "alice")  # an instructor goes; its courses stay
    assert kb.courses() == ["demo", "other"]
    # a second admin, or an admin outside the database (the app's configured instructor), lets the first go
    accounts.save_account(kb.db, "root", admin=False, other_admins=1)
    accounts.save_account(kb.db, "root", admin=True)
    accounts.save_account(kb.db, "second", password=OTHER, admin=True, create=True)
    accounts.remove_account(kb.db, "root")
    assert [(a.username, a.is_admin) for a in accounts.list_accounts(kb.db)] == [("second", True)]
    with pytest.raises(AccountError, match="no account 'root'"):
        accounts.remove_account(kb.db, "root")


def test_courses_are_published_unless_an_admin_hides_them_and_new_empty_ones_start_hidden(kb):
    assert accounts.unpublished_courses(kb.db) == set()  # courses from before accounts, or from `kb add`: published
    summary = accounts.create_course(kb, "ml101", "Machine Learning 101")
    assert (summary.name, summary.title, summary.published) == ("ml101", "Machine Learning 101", False)
    assert accounts.unpublished_courses(kb.db) == {"ml101"} and kb.list_documents("ml101") == []
    accounts.set_published(kb.db, "ml101", True)
    accounts.set_published(kb.db, "demo", False)
    assert accounts.unpublished_courses(kb.db) == {"demo"}
    accounts.save_account(kb.db, "alice", password=PASSWORD, courses=["ml101", "demo"], create=True)
    rows = {c.name: c for c in accounts.course_summaries(kb)}
    assert rows["ml101"].instructors == ("alice",) and not rows["demo"].published and rows["other"].instructors == ()
    with pytest.raises(AccountError, match="no course 'nope'"):
        accounts.set_published(kb.db, "nope", True)
    for bad, reason in (("ml101", "exists already"), ("bad id!", "not valid"), ("", "not valid")):
        with pytest.raises(TutorError, match=reason):
            accounts.create_course(kb, bad, "Another title")
    assert kb.course_info("ml101").title == "Machine Learning 101"  # the refused second create changed nothing
    with pytest.raises(TutorError, match="title is 500 characters long"):
        accounts.create_course(kb, "long", "T" * 500)
    assert "long" not in kb.courses()


# ---------------------------------------------------------------------------------------------- the CLI


@pytest.fixture
def tutor(paths):
    """``tutor admin ...`` on the test's data directory -> the CliRunner result."""
    from tutor.cli import main

    runner = CliRunner()

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, ["admin", *args, "--data-dir", str(paths.data_dir)], input=input)

    return run


def test_the_admin_cli_creates_courses_and_accounts_and_refuses_what_would_lose_something(kb, tutor, tmp_path):
    secret = tmp_path / "pw.txt"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    result = tutor("course", "add", "ml101", "--title", "Machine Learning 101")
    assert result.exit_code == 0 and "unpublished" in result.output, result.output
    assert "ml101" in accounts.unpublished_courses(kb.db)
    assert tutor("course", "publish", "ml101").exit_code == 0 and accounts.unpublished_courses(kb.db) == set()
    result = tutor("account", "add", "root", "--admin", "--password-file", str(secret))
    assert result.exit_code == 0 and result.output.startswith("root\tadmin"), result.output
    # no file: the password is asked for, hidden, twice
    result = tutor("account", "add", "alice", "--course", "ml101", "--course", "demo", input=f"{OTHER}\n{OTHER}\n")
    assert result.exit_code == 0 and "alice\tinstructor\tdemo, ml101" in result.output, result.output
    assert accounts.verify_password(kb.db, "alice", OTHER) == "alice" and OTHER not in result.output  # never echoed
    assert tutor("account", "assign", "alice", "other").exit_code == 0
    assert tutor("account", "unassign", "alice", "demo").exit_code == 0
    assert accounts.get_account(kb.db, "alice").courses == ("ml101", "other")
    listed = json.loads(tutor("account", "list", "--json").output.splitlines()[1])
    assert listed == {"username": "root", "admin": True, "courses": [], "created_at": listed["created_at"]}
    assert "argon2" not in tutor("account", "list").output
    courses = json.loads(tutor("course", "list", "--json").output)
    assert {c["course"]: c["instructors"] for c in courses}["ml101"] == ["alice"]

    # bad input: a message that names what to do, exit 2, nothing lost
    for args, message in ((("account", "rm", "root"), "root is the last admin"),
                          (("account", "demote", "root"), "root is the last admin"),
                          (("account", "assign", "alice", "nope"), "There is no course 'nope'"),
                          (("account", "add", "bob", "--password-file", str(secret), "--course", "nope"), "no course 'nope'"),
                          (("account", "password", "carol"), "There is no account 'carol'. Accounts: alice, root"),
                          (("course", "publish", "nope"), "no course 'nope'"),
                          (("course", "add", "ml101"), "exists already")):
        result = tutor(*args)
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, (args, result.output)
    weak = tmp_path / "weak.txt"
    weak.write_text("short\n", encoding="utf-8")
    result = tutor("account", "password", "alice", "--password-file", str(weak))
    assert result.exit_code == 2 and "5 characters long" in result.output
    assert accounts.verify_password(kb.db, "alice", OTHER) == "alice"
    assert [a.username for a in accounts.list_accounts(kb.db)] == ["alice", "root"]
    # with a second admin the first may go
    assert tutor("account", "promote", "alice").exit_code == 0
    assert tutor("account", "rm", "root").exit_code == 0
    assert [(a.username, a.is_admin) for a in accounts.list_accounts(kb.db)] == [("alice", True)]
