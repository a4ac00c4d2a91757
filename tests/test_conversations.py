"""The history a student keeps (``tutor.conversations``) on a real SQLite file: the round trip, one owner never
reaching another's rows, deletion, surviving a reopen of the database (a server restart), and bad input that is
refused with a message while the stored rows stay as they were."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from basics.db import Database
from tutor import conversations as conv
from tutor.conversations import ConversationError, HistoryConfig

KEY_A, KEY_B = "a" * 64, "0123456789abcdef" * 4

TURN_1 = {"question": "What is LoRA?", "answer": "LoRA trains two small low-rank matrices per layer.",
          "citations": [{"n": 1, "document": "lora.md", "section": "LoRA", "page": None, "snippet": "LoRA freezes…"}],
          "from_faq": False, "outcome": "answered", "language": "en", "question_id": 7,
          "searching": ["lora.md"], "waiting": 0}  # the live answer's progress marks are not kept
TURN_2 = {"question": "And what rank is usual?", "answer": "Ranks of 4 to 16.", "citations": [], "from_faq": True,
          "outcome": "faq", "language": "en", "question_id": 8}


@pytest.fixture
def db(paths):
    database = Database(paths.db_path)
    conv.ensure_schema(database)
    yield database
    database.close()


def owners(db) -> tuple[str, str]:
    return conv.owner_of(db, KEY_A), conv.owner_of(db, KEY_B)


def test_a_conversation_round_trips_and_grows_in_place(db):
    a, _ = owners(db)
    cid = conv.save_conversation(db, a, "ml101", [TURN_1])
    assert conv.save_conversation(db, a, "ml101", [TURN_1, TURN_2], cid) == cid  # one row, updated
    kept = conv.load_conversation(db, a, cid)
    assert (kept.id, kept.course, kept.title) == (cid, "ml101", "What is LoRA?")
    stored_1 = {k: v for k, v in TURN_1.items() if k not in ("searching", "waiting")}
    assert kept.turns == [stored_1, TURN_2]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d · What is LoRA\?", kept.label())
    [summary] = conv.list_conversations(db, a)
    assert (summary.id, summary.title, summary.created_at <= summary.updated_at) == (cid, "What is LoRA?", True)


def test_the_list_is_newest_first_and_titles_are_cut(db):
    a, _ = owners(db)
    first = conv.save_conversation(db, a, "ml101", [TURN_1])
    long_question = "Why " + "really " * 40 + "?"
    second = conv.save_conversation(db, a, "ml101", [{"question": long_question, "answer": "Because."}])
    listed = conv.list_conversations(db, a)
    assert [c.id for c in listed] == [second, first]
    assert len(listed[0].title) == HistoryConfig().title_chars and listed[0].title.endswith("…")
    assert [c.id for c in conv.list_conversations(db, a, limit=1)] == [second]
    assert conv.count_conversations(db, a) == 2


def test_the_owner_id_is_a_keyed_digest_never_the_key(db):
    a, b = owners(db)
    assert re.fullmatch(r"[0-9a-f]{64}", a) and a != b and KEY_A not in a
    assert conv.owner_of(db, KEY_A) == a  # stable for a browser
    assert conv.owner_of(db, None) is None and conv.owner_of(db, "") is None  # no cookie, no owner
    import hashlib

    assert a != hashlib.sha256(KEY_A.encode()).hexdigest()  # not the plain digest a login token carries a part of
    conv.save_conversation(db, a, "ml101", [TURN_1])
    raw = sqlite3.connect(db.path).execute("SELECT owner, turns FROM conversations").fetchall()
    assert all(KEY_A not in owner and KEY_A not in turns for owner, turns in raw)


def test_one_owner_cannot_list_load_update_or_delete_anothers(db):
    a, b = owners(db)
    cid = conv.save_conversation(db, a, "ml101", [TURN_1])
    assert conv.list_conversations(db, b) == [] and conv.count_conversations(db, b) == 0
    assert conv.load_conversation(db, b, cid) is None
    # B "continuing" A's id writes a new row of B's own; A's row is untouched
    b_id = conv.save_conversation(db, b, "ml101", [TURN_2], cid)
    assert b_id != cid and conv.load_conversation(db, a, cid).turns[0]["question"] == "What is LoRA?"
    assert conv.delete_conversations(db, b) == 1
    assert [c.id for c in conv.list_conversations(db, a)] == [cid]
    for bad_owner in ("", None):
        with pytest.raises(ConversationError, match="owner"):
            conv.list_conversations(db, bad_owner)


def test_delete_removes_all_of_an_owners_conversations_and_only_those(db):
    a, b = owners(db)
    for turns in ([TURN_1], [TURN_2], [TURN_1, TURN_2]):
        conv.save_conversation(db, a, "ml101", turns)
    kept_b = conv.save_conversation(db, b, "stats", [TURN_2])
    assert conv.delete_conversations(db, a) == 3
    assert conv.list_conversations(db, a) == [] and conv.delete_conversations(db, a) == 0
    assert [c.id for c in conv.list_conversations(db, b)] == [kept_b]


def test_the_history_survives_reopening_the_database(paths):
    """A server restart: a new process opens the same file; the secret, so each browser's owner id, is the same."""
    db = Database(paths.db_path)
    conv.ensure_schema(db)
    a = conv.owner_of(db, KEY_A)
    cid = conv.save_conversation(db, a, "ml101", [TURN_1, TURN_2])
    db.close()
    again = Database(paths.db_path)
    conv.ensure_schema(again)  # idempotent: the migration ran once, the secret is not replaced
    assert conv.owner_of(again, KEY_A) == a
    assert [t["question"] for t in conv.load_conversation(again, a, cid).turns] == ["What is LoRA?", "And what rank is usual?"]
    assert sqlite3.connect(paths.db_path).execute(
        "SELECT COUNT(*) FROM _migrations WHERE namespace = 'conversations'").fetchone()[0] == 1
    again.close()


def test_bad_input_is_refused_with_a_message_and_stored_rows_stay(db):
    a, _ = owners(db)
    cid = conv.save_conversation(db, a, "ml101", [TURN_1])
    before = sqlite3.connect(db.path).execute("SELECT turns, updated_at FROM conversations").fetchall()
    cases = [
        ("not a list", "must be a list"),
        ([], "empty conversation"),
        ([{"answer": "no question"}], "turn 1"),
        ([TURN_1, "just text"], "turn 2"),
        ([{**TURN_1, "citations": "lora.md"}], "citations"),
        ([{**TURN_1, "answer": {1, 2}}], "JSON"),  # a set: JSON cannot write it
        ([{**TURN_1, "answer": float("nan")}], "JSON"),
    ]
    for turns, message in cases:
        with pytest.raises(ConversationError, match=message):
            conv.save_conversation(db, a, "ml101", turns, cid)
    small = HistoryConfig(max_bytes=2_000)
    with pytest.raises(ConversationError, match=r"too long to keep.*limit is 2 kB"):
        conv.save_conversation(db, a, "ml101", [TURN_1, {**TURN_2, "answer": "x" * 5_000}], cid, small)
    assert sqlite3.connect(db.path).execute("SELECT turns, updated_at FROM conversations").fetchall() == before
    assert conv.load_conversation(db, a, "not a number") is None


def test_a_lone_surrogate_is_stored_as_a_replacement_character(db):
    a, _ = owners(db)
    cid = conv.save_conversation(db, a, "ml\ud800101", [{"question": "Why \udc00?", "answer": "ok"}])
    kept = conv.load_conversation(db, a, cid)
    assert (kept.course, kept.title, kept.turns[0]["question"]) == ("ml\ufffd101", "Why \ufffd?", "Why \ufffd?")


def test_a_damaged_row_is_named_and_the_others_still_open(db):
    a, _ = owners(db)
    good = conv.save_conversation(db, a, "ml101", [TURN_1])
    bad = conv.save_conversation(db, a, "ml101", [TURN_2])
    for damage in ("{not json", json.dumps({"question": "a dict, not a list"}), json.dumps([{"answer": "no question"}])):
        db.execute("UPDATE conversations SET turns = ? WHERE id = ?", (damage, bad))
        with pytest.raises(ConversationError, match=f"conversation {bad} is damaged.*can only be deleted"):
            conv.load_conversation(db, a, bad)
    assert {c.id for c in conv.list_conversations(db, a)} == {good, bad}  # the list does not read turns
    assert conv.load_conversation(db, a, good).turns[0]["question"] == "What is LoRA?"
    assert conv.delete_conversations(db, a) == 2
