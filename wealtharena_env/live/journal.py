"""The trading runner's journal: an append-only SQLite file (stdlib ``sqlite3``, WAL mode).

Every bar seen (accepted or refused), decision, policy error, order, broker acknowledgement, fill, step result
(values, costs, risk events) and reconciliation is one row of ``entries``:

==========  ==================================================================================================
column      meaning
==========  ==================================================================================================
``seq``     append order (``INTEGER PRIMARY KEY``)
``bar``     the Simulation's bar index the entry belongs to (the decision bar for decisions and orders, the
            fill bar for fills and steps; ``-1`` for run-level entries)
``kind``    ``bar``, ``refused_bar``, ``decision``, ``policy_error``, ``order``, ``order_ack``, ``fill``,
            ``step``, ``reconcile``, ``halt``, ``problem``
``key``     a deterministic identity (``UNIQUE``): the entry a restarted runner would write again has the same
            key, so :meth:`Journal.append` is idempotent, and a different payload under a known key is an
            error (:class:`JournalError`): the restart would contradict what already happened
``payload`` the entry as JSON (floats written with ``repr``, read back bit for bit)
``logged``  wall-clock time of the write (the only column two identical runs may differ in)
==========  ==================================================================================================

Updates and deletes are refused by triggers. ``meta`` holds the run's identity (run ID, policy, tickers,
broker, configuration fingerprint), written once; a restart with a different identity is refused.
Orders carry deterministic client order IDs (:func:`client_order_id`), so a runner killed at any point and
restarted finds in the journal which orders it already sent and asks the broker about the rest instead of
sending them again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from wealtharena_env.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    bar INTEGER NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    logged REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_kind ON entries (kind, bar);
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only: entries cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only: entries cannot be deleted'); END;
CREATE TRIGGER IF NOT EXISTS meta_no_update BEFORE UPDATE ON meta
    BEGIN SELECT RAISE(ABORT, 'the journal is append-only: meta cannot be updated'); END;
"""


class JournalError(ConfigError):
    """The journal contradicts the run: another run's journal, or a restart that would rewrite history."""


def client_order_id(run_id: str, bar: int, agent: str, asset: str) -> str:
    """The deterministic client order ID of ``agent``'s order in ``asset`` decided on ``bar`` of ``run_id``:
    ``"{run_id}-{bar:06d}-{agent}-{asset}"`` (``agent = "net"`` for the per-asset netted order the broker
    receives). At most 128 characters (Alpaca's limit)."""
    cid = f"{run_id}-{bar:06d}-{agent}-{asset}"
    if len(cid) > 128:
        raise ConfigError(f"client order ID {cid!r} is longer than 128 characters; use a shorter run ID.")
    return cid


def _dumps(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=True)


class Journal:
    """One run's journal file (created if absent). ``Journal(path)``; use as a context manager or ``close()``.

    Writes happen in transactions (:meth:`transaction`): the entries of one bar become visible together or
    not at all, so a runner killed mid-bar restarts from the last complete transaction.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._depth = 0

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:  # noqa: PYI034 (a final class in practice)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def transaction(self) -> _Transaction:
        """``with journal.transaction(): ...`` — the appends inside commit together (nested: the
        outer one)."""
        return _Transaction(self)

    def bind_run(self, identity: dict[str, Any]) -> bool:
        """Record the run's identity, or check it against the one recorded; return True on a fresh journal.

        Raises :class:`JournalError` when the journal belongs to a different run (another policy, tickers,
        broker or configuration): resuming it would mix two runs' orders.
        """
        rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not rows:
            with self.transaction():
                for key, value in identity.items():
                    self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, _dumps(value)))
            return True
        recorded = {k: json.loads(v) for k, v in rows.items()}
        wanted = json.loads(_dumps(identity))
        diff = sorted(k for k in set(recorded) | set(wanted) if recorded.get(k) != wanted.get(k))
        if diff:
            details = "; ".join(f"{k}: journal {recorded.get(k)!r}, now {wanted.get(k)!r}" for k in diff)
            raise JournalError(
                f"journal {self.path} belongs to another run ({details}). Resume with the same settings, or "
                "start a new journal file (or a new --run-id)."
            )
        return False

    def meta(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self._db.execute("SELECT key, value FROM meta").fetchall()}

    def append(self, bar: int, kind: str, key: str, payload: Any) -> bool:
        """Append one entry; return False if the same entry (key and payload) is already there.

        A known key with a different payload raises :class:`JournalError` (the restarted run diverged).
        """
        text = _dumps(payload)
        row = self._db.execute("SELECT payload FROM entries WHERE key = ?", (key,)).fetchone()
        if row is not None:
            if row[0] != text:
                raise JournalError(
                    f"journal {self.path}: entry {key!r} was {row[0][:300]} and is now {text[:300]}; the "
                    "resumed run diverged from the journaled one (nondeterministic policy or changed data?)."
                )
            return False
        with self.transaction():
            self._db.execute(
                "INSERT INTO entries (bar, kind, key, payload, logged) VALUES (?, ?, ?, ?, ?)",
                (int(bar), kind, key, text, time.time()),
            )
        return True

    # ------------------------------------------------------------------ reading
    def get(self, key: str) -> Any | None:
        row = self._db.execute("SELECT payload FROM entries WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def entries(self, kind: str | None = None) -> Iterator[tuple[int, str, str, Any]]:
        """``(bar, kind, key, payload)`` of every entry (of ``kind``), in append order."""
        if kind is None:
            cursor = self._db.execute("SELECT bar, kind, key, payload FROM entries ORDER BY seq")
        else:
            cursor = self._db.execute(
                "SELECT bar, kind, key, payload FROM entries WHERE kind = ? ORDER BY seq", (kind,)
            )
        for bar, k, key, payload in cursor.fetchall():
            yield int(bar), k, key, json.loads(payload)

    def count(self, kind: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM entries WHERE kind = ?", (kind,)).fetchone()[0])


class _Transaction:
    def __init__(self, journal: Journal):
        self.journal = journal

    def __enter__(self) -> None:
        if self.journal._depth == 0:
            self.journal._db.execute("BEGIN IMMEDIATE")
        self.journal._depth += 1

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self.journal._depth -= 1
        if self.journal._depth == 0:
            self.journal._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")


__all__ = ["Journal", "JournalError", "client_order_id"]
