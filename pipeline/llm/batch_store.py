"""The batch tracker: shards, their request keys and batch ids, in the run's cache database.

A shard row is committed before its file is uploaded and before its batch is created (the
intent log), so a crash at any point is reconciled on resume through `files.list` and
`batches.list` instead of creating a second batch. Per-key attempt counts make the single
requeue of expired or failed requests survive restarts.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pipeline.llm.cache import connect

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_shards (
    shard TEXT PRIMARY KEY, stage TEXT NOT NULL, seq INTEGER NOT NULL, shard_hash TEXT NOT NULL,
    input_path TEXT NOT NULL, requests INTEGER NOT NULL, endpoint TEXT NOT NULL, base_url TEXT NOT NULL,
    api_key_env TEXT NOT NULL, state TEXT NOT NULL, file_id TEXT, batch_id TEXT, status TEXT,
    counts TEXT, error TEXT, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_items (key TEXT NOT NULL, shard TEXT NOT NULL, PRIMARY KEY (key, shard));
CREATE TABLE IF NOT EXISTS batch_attempts (key TEXT PRIMARY KEY, attempts INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS run_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
LIVE = ("uploading", "creating", "submitted")


@dataclass
class Shard:
    shard: str
    stage: str
    seq: int
    shard_hash: str
    input_path: str
    requests: int
    endpoint: str
    base_url: str
    api_key_env: str
    state: str
    file_id: str | None
    batch_id: str | None
    status: str | None
    counts: str | None
    error: str | None
    updated: float

    @property
    def file_name(self) -> str:
        return Path(self.input_path).name


class BatchStore:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.executescript(_SCHEMA)

    @classmethod
    def open(cls, db_path: Path) -> "BatchStore":
        return cls(connect(db_path))

    def run_id(self) -> str:
        """A random id for this run folder, made once (batch metadata carries it)."""
        row = self.conn.execute("SELECT value FROM run_meta WHERE name = 'run_id'").fetchone()
        if row:
            return row[0]
        self.conn.execute("INSERT OR IGNORE INTO run_meta VALUES ('run_id', ?)", (uuid.uuid4().hex,))
        return self.run_id()

    def shards(self, stage: str | None = None, states: tuple[str, ...] | None = None) -> list[Shard]:
        sql, args = "SELECT * FROM batch_shards", []
        where = []
        if stage is not None:
            where.append("stage = ?")
            args.append(stage)
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(states)
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [Shard(*row) for row in self.conn.execute(sql + " ORDER BY stage, seq", args)]

    def keys(self, shard: str) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT key FROM batch_items WHERE shard = ?", (shard,))]

    def next_seq(self, stage: str) -> int:
        row = self.conn.execute("SELECT max(seq) FROM batch_shards WHERE stage = ?", (stage,)).fetchone()
        return (row[0] or 0) + 1

    def add_shard(self, shard: Shard, keys: list[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN")
            self.conn.execute("INSERT INTO batch_shards VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                              tuple(shard.__dict__.values()))
            self.conn.executemany("INSERT OR IGNORE INTO batch_items VALUES (?, ?)",
                                  [(k, shard.shard) for k in keys])

    def update(self, shard: Shard, **fields) -> None:
        fields["updated"] = time.time()
        for k, v in fields.items():
            setattr(shard, k, v)
        cols = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE batch_shards SET {cols} WHERE shard = ?", (*fields.values(), shard.shard))

    def attempts(self, key: str) -> tuple[int, str | None]:
        row = self.conn.execute("SELECT attempts, error FROM batch_attempts WHERE key = ?", (key,)).fetchone()
        return (row[0], row[1]) if row else (0, None)

    def count_attempt(self, key: str, error: str) -> int:
        n = self.attempts(key)[0] + 1
        self.conn.execute("INSERT OR REPLACE INTO batch_attempts VALUES (?, ?, ?)", (key, n, error))
        return n


def counts_text(batch: object) -> str | None:
    counts = getattr(batch, "request_counts", None)
    if counts is None:
        return None
    return json.dumps({k: getattr(counts, k, None) for k in ("total", "completed", "failed")})
