"""The run's request cache: raw responses by request key, in `<run>/cache/llm.sqlite`.

Each response is committed as it arrives (WAL journal: a killed process loses nothing that
was committed). Only answered requests are stored, so failed ones are sent again on the next
run. The table also tells what the run has spent, for the budgets.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from pipeline.errors import LLMError

CACHE_DIR, CACHE_FILE = "cache", "llm.sqlite"

# `aliases`: the keys a fleet's answer has under its other servers (see fleet.py), so a later run
# naming any one of them finds it; they cost nothing and do not count as spend.
# `spend` keeps the run's paid requests and cost up to date on every insert (a trigger), so the
# processes of a `--workers` run read the shared spend in one row, not by counting the table.
_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY, stage TEXT NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL,
    tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, cost REAL NOT NULL, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS spend (id INTEGER PRIMARY KEY CHECK (id = 0), requests INTEGER NOT NULL,
                                  cost REAL NOT NULL);
INSERT OR IGNORE INTO spend SELECT 0, count(*), total(cost) FROM responses;
CREATE TABLE IF NOT EXISTS aliases (alias TEXT PRIMARY KEY, key TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS spend_add AFTER INSERT ON responses BEGIN
    UPDATE spend SET requests = requests + 1, cost = cost + NEW.cost WHERE id = 0;
END;
COMMIT;
"""


def cache_path(run_dir: Path) -> Path:
    return Path(run_dir) / CACHE_DIR / CACHE_FILE


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    return conn


class ResponseCache:
    """Raw responses keyed by request key, plus the run's spend (responses stored, their cost)."""

    def __init__(self, run_dir: Path):
        # `refresh_since` (a time): answers stored before it are ignored and replaced, so a stage
        # re-samples (`run --no-cache ID`) and an interrupted re-sampling resumes without paying twice
        self.refresh_since: float | None = None
        self.path = cache_path(run_dir)
        self.conn = connect(self.path)
        self.shared = False  # set for a `--workers` shard: other processes pay into this file too
        count, cost = self.conn.execute("SELECT count(*), total(cost) FROM responses").fetchone()
        self.spent_requests, self.spent_cost = int(count), float(cost)

    def sync_spend(self) -> None:
        """Take the spend of every process writing this file (a shard's view, for the budgets)."""
        if self.shared:
            count, cost = self.conn.execute("SELECT requests, cost FROM spend").fetchone()
            self.spent_requests, self.spent_cost = int(count), float(cost)

    def get(self, key: str, also: tuple[str, ...] = ()) -> tuple[str, float] | None:
        """`(response text, cost)` of an answered request, or None. `also`: the request's keys under
        a fleet's other servers; an answer stored under any of them, or aliased to one, will do
        (the newest, should there be several)."""
        since = self.refresh_since or 0.0
        if also:
            keys = (key, *also)
            marks = ",".join("?" * len(keys))
            row = self.conn.execute(f"SELECT response, cost FROM responses WHERE key IN ({marks}) AND created >= ? "
                                    "ORDER BY created DESC LIMIT 1", (*keys, since)).fetchone()
        else:
            keys, marks = (key,), "?"
            row = self.conn.execute("SELECT response, cost FROM responses WHERE key = ? AND created >= ?",
                                    (key, since)).fetchone()
        if row is None:  # a second query, not a join: a hit (the common case) costs one lookup
            row = self.conn.execute(
                f"SELECT response, cost FROM responses WHERE key IN (SELECT key FROM aliases WHERE alias IN "
                f"({marks})) AND created >= ? ORDER BY created DESC LIMIT 1", (*keys, since)).fetchone()
        return (row[0], row[1]) if row else None

    def put(self, key: str, stage: str, request: str, response: str, tokens_in: int, tokens_out: int,
            cost: float, aliases: tuple[str, ...] = ()) -> None:
        try:
            cur = self.conn.execute(
                f"INSERT OR {'REPLACE' if self.refresh_since else 'IGNORE'} INTO responses "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (key, stage, request, response, tokens_in, tokens_out, cost, time.time()))
            if aliases:
                self.conn.executemany("INSERT OR REPLACE INTO aliases VALUES (?, ?)", [(a, key) for a in aliases])
                if self.refresh_since:  # re-sampled: older answers under the other servers' keys are stale
                    self.conn.executemany("DELETE FROM responses WHERE key = ?", [(a,) for a in aliases])
        except sqlite3.Error as e:
            raise LLMError(f"{self.path}: cannot store a response ({e}); free space and run the "
                           "same command again to resume") from None
        if cur.rowcount:
            self.spent_requests += 1
            self.spent_cost += cost

    def keys(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT key FROM responses")}

    def close(self) -> None:
        self.conn.close()
