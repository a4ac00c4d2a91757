"""The SQLite database shared by every subsystem, with named, numbered migrations.

Each subsystem registers its own migrations (``register_migrations("kb", [...])``) at import time of its
module; ``Database.migrate()`` runs, in order, those not yet recorded in the ``_migrations`` table, each
in its own transaction. Migrations are append-only: never edit one that has shipped, add a new one.
(The habit comes from simonw/llm's ``migrations.py``.)
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

Migration = Callable[[sqlite3.Connection], None]
_MIGRATIONS: dict[str, list[tuple[str, Migration]]] = {}


def register_migrations(namespace: str, migrations: list[tuple[str, Migration]]) -> None:
    """Register the ordered migrations of one subsystem (e.g. ``"kb"``, ``"tutor"``)."""
    _MIGRATIONS[namespace] = list(migrations)


class Database:
    """A thread-safe SQLite connection (WAL, foreign keys on) with a migration runner.

    One connection per ``Database``; a lock serialises writers because Gradio answers requests from
    several threads. ``transaction()`` commits on success and rolls back on any exception, so a failed
    operation never leaves half its rows behind.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (namespace TEXT, name TEXT, applied_at TEXT "
            "DEFAULT CURRENT_TIMESTAMP, PRIMARY KEY (namespace, name))"
        )

    def migrate(self, *namespaces: str) -> None:
        """Apply pending migrations of the given namespaces (all registered ones when none given)."""
        with self.lock:
            done = {(r["namespace"], r["name"]) for r in self.conn.execute("SELECT * FROM _migrations")}
            for ns in namespaces or tuple(_MIGRATIONS):
                for name, fn in _MIGRATIONS.get(ns, []):
                    if (ns, name) in done:
                        continue
                    with self.transaction() as conn:
                        fn(conn)
                        conn.execute("INSERT INTO _migrations (namespace, name) VALUES (?, ?)", (ns, name))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolls back and re-raises on error. Re-entrant."""
        with self.lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: tuple | dict = ()) -> sqlite3.Cursor:
        """One statement in its own transaction (use ``transaction()`` to group several)."""
        with self.transaction() as conn:
            return conn.execute(sql, params)

    def close(self) -> None:
        with self.lock:
            self.conn.close()
