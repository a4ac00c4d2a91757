"""``tutor admin ...``: courses (add, publish, unpublish, list) and instructor accounts (add, password, assign,
unassign, promote, demote, rm, list). Parses arguments and prints; the rules and the writes are in
``accounts.py``, which the console's Admin tab calls too.

A password never comes on the command line (shell history, ``ps``): it is typed at a hidden prompt, twice, or
read from the first line of ``--password-file``. The CLI knows nothing of an app's configured instructor, so
here the database always keeps one admin account once it has had one.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from basics.cli_options import data_dir_option, json_option
from basics.errors import ConfigError
from knowledge_base import accounts
from knowledge_base.facade import KnowledgeBase

password_file_option = click.option(
    "--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
    help="Read the password from the first line of this file (default: ask for it, hidden, twice).")


def _open(data_dir: str | None) -> KnowledgeBase:
    kb = KnowledgeBase.open(data_dir)  # the embedder's weights are not loaded: nothing here embeds
    accounts.ensure_schema(kb.db)
    return kb


def _password(password_file: Path | None) -> str:
    if password_file is None:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        lines = password_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--password-file {password_file}: cannot read a password from it ({exc}).") from exc
    if not lines or not lines[0].strip():
        raise ConfigError(f"--password-file {password_file}: the first line is empty.")
    return lines[0].strip()


def _echo_account(account: accounts.Account, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"username": account.username, "admin": account.is_admin, "courses": list(account.courses),
                               "created_at": account.created_at}, ensure_ascii=False))
    else:
        role = "admin" if account.is_admin else "instructor"
        click.echo(f"{account.username}\t{role}\t{', '.join(account.courses) or '-'}\t{account.created_at}")


@click.group()
def admin() -> None:
    """Admin: create and publish courses, create instructor accounts and give them courses."""


# ------------------------------------------------------------------------------------------------- courses


@admin.group()
def course() -> None:
    """Courses: add (empty, unpublished), publish, unpublish, list."""


@course.command("add")
@click.argument("course_id")
@click.option("--title", default="", help="The title students pick the course by (default: the id).")
@click.option("--publish", is_flag=True, help="Show it to students at once (default: unpublished until `publish`).")
@data_dir_option
@json_option
def course_add(course_id: str, title: str, publish: bool, data_dir: str | None, as_json: bool) -> None:
    """Create the empty course COURSE_ID (letters, digits, '_', '-', '.'), to give instructors before it has documents."""
    summary = accounts.create_course(_open(data_dir), course_id, title, publish)
    if as_json:
        click.echo(json.dumps({"course": summary.name, "title": summary.title, "published": summary.published}))
    else:
        state = "published" if summary.published else "unpublished (students do not see it yet: `tutor admin course publish`)"
        click.echo(f"course {summary.name} created, {state}")


@course.command("publish")
@click.argument("course_id")
@data_dir_option
def course_publish(course_id: str, data_dir: str | None) -> None:
    """Show COURSE_ID in the students' course picker."""
    accounts.set_published(_open(data_dir).db, course_id, True)
    click.echo(f"course {course_id} published: students see it")


@course.command("unpublish")
@click.argument("course_id")
@data_dir_option
def course_unpublish(course_id: str, data_dir: str | None) -> None:
    """Hide COURSE_ID from students (documents, FAQ and instructors stay)."""
    accounts.set_published(_open(data_dir).db, course_id, False)
    click.echo(f"course {course_id} unpublished: students no longer see it")


@course.command("list")
@data_dir_option
@json_option
def course_list(data_dir: str | None, as_json: bool) -> None:
    """Courses with their title, whether students see them, and their instructors."""
    summaries = accounts.course_summaries(_open(data_dir))
    if as_json:
        click.echo(json.dumps([{"course": c.name, "title": c.title, "published": c.published,
                                "instructors": list(c.instructors)} for c in summaries], ensure_ascii=False))
        return
    for c in summaries:
        click.echo(f"{c.name}\t{'published' if c.published else 'unpublished'}\t{c.title}\t{', '.join(c.instructors) or '-'}")
    if not summaries:
        click.echo("no courses")


# ------------------------------------------------------------------------------------------------ accounts


@admin.group()
def account() -> None:
    """Instructor accounts: add, password, assign, unassign, promote, demote, rm, list."""


@account.command("add")
@click.argument("username")
@click.option("--admin", "is_admin", is_flag=True, help="An admin: may change every course, create courses and accounts.")
@click.option("--course", "courses", multiple=True, help="A course the instructor may change (repeat for several).")
@password_file_option
@data_dir_option
@json_option
def account_add(username: str, is_admin: bool, courses: tuple[str, ...], password_file: Path | None,
                data_dir: str | None, as_json: bool) -> None:
    """Create the account USERNAME (it logs in on the console's Instructor tab)."""
    kb = _open(data_dir)
    password = _password(password_file)
    _echo_account(accounts.save_account(kb.db, username, password=password, admin=is_admin, courses=courses,
                                        create=True), as_json)


@account.command("password")
@click.argument("username")
@password_file_option
@data_dir_option
def account_password(username: str, password_file: Path | None, data_dir: str | None) -> None:
    """Set a new password for USERNAME."""
    kb = _open(data_dir)
    accounts.require_account(kb.db, username)  # before asking for a password for nothing
    accounts.save_account(kb.db, username, password=_password(password_file))
    click.echo(f"password of {username} changed")


def _change_courses(data_dir: str | None, username: str, courses: tuple[str, ...], add: bool, as_json: bool) -> None:
    kb = _open(data_dir)
    current = accounts.require_account(kb.db, username)
    wanted = set(current.courses) | set(courses) if add else set(current.courses) - set(courses)
    _echo_account(accounts.save_account(kb.db, username, courses=wanted), as_json)


@account.command("assign")
@click.argument("username")
@click.argument("courses", nargs=-1, required=True)
@data_dir_option
@json_option
def account_assign(username: str, courses: tuple[str, ...], data_dir: str | None, as_json: bool) -> None:
    """Let USERNAME change COURSES (which must exist)."""
    _change_courses(data_dir, username, courses, True, as_json)


@account.command("unassign")
@click.argument("username")
@click.argument("courses", nargs=-1, required=True)
@data_dir_option
@json_option
def account_unassign(username: str, courses: tuple[str, ...], data_dir: str | None, as_json: bool) -> None:
    """Take COURSES away from USERNAME (the courses themselves stay)."""
    _change_courses(data_dir, username, courses, False, as_json)


@account.command("promote")
@click.argument("username")
@data_dir_option
def account_promote(username: str, data_dir: str | None) -> None:
    """Make USERNAME an admin."""
    accounts.save_account(_open(data_dir).db, username, admin=True)
    click.echo(f"{username} is now an admin")


@account.command("demote")
@click.argument("username")
@data_dir_option
def account_demote(username: str, data_dir: str | None) -> None:
    """Make USERNAME an instructor of its courses only (refused for the last admin)."""
    accounts.save_account(_open(data_dir).db, username, admin=False)
    click.echo(f"{username} is no longer an admin")


@account.command("rm")
@click.argument("username")
@data_dir_option
def account_rm(username: str, data_dir: str | None) -> None:
    """Remove the account USERNAME (refused for the last admin); its courses stay."""
    accounts.remove_account(_open(data_dir).db, username)
    click.echo(f"account {username} removed")


@account.command("list")
@data_dir_option
@json_option
def account_list(data_dir: str | None, as_json: bool) -> None:
    """Accounts with their role and courses (never their passwords or hashes)."""
    found = accounts.list_accounts(_open(data_dir).db)
    for a in found:
        _echo_account(a, as_json)
    if not found and not as_json:
        click.echo("no accounts")
