"""The run folder: per-stage files, completion markers, the manifest and the lock.

    <run>/manifest.json          resolved recipe, versions, fingerprints, counts (no secrets)
    <run>/.lock                  held (flock) by the running process
    <run>/<stage>/data.jsonl     records kept by the stage
    <run>/<stage>/rejected.jsonl records dropped, each with its reason
    <run>/<stage>/stats.json     counters
    <run>/<stage>/started.json   fingerprint of the attempt in progress
    <run>/<stage>/done.json      completion marker, written last
    <run>/<stage>/failed.json    the error of a failed attempt
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

from pipeline.errors import InputError, LockError
from pipeline.jsonl import atomic_write_json, read_json_file

DATA, REJECTED, STATS = "data.jsonl", "rejected.jsonl", "stats.json"
STARTED, DONE, FAILED = "started.json", "done.json", "failed.json"
STAT_FIELDS = ("records_in", "records_out", "rejected", "requests", "cached", "tokens_in",
               "tokens_out", "cost_usd")


class RunFolderError(InputError):
    """The run folder cannot be written (disk full, read-only, no permission)."""


def os_problem(e: OSError) -> str:
    """One line for an OSError met reading or writing files: the path, the error and its name
    (`ENOSPC`), and what to do about it."""
    name = errno.errorcode.get(e.errno or 0, "")
    where = f"{e.filename}: " if e.filename else ""
    what = f"{e.strerror or e}" + (f" ({name})" if name else "")
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "; free some space and run the same command again to resume"
    elif e.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        hint = "; the folder is not writable: use a writable --out or fix its permissions"
    else:
        hint = ""
    return f"{where}{what}{hint}"


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Name `path` in an OSError that does not say which file it was about (a failed write)."""
    try:
        yield
    except OSError as e:
        if e.filename:
            raise
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._lock_fd: int | None = None

    def stage_dir(self, stage_id: str) -> Path:
        return self.root / stage_id

    def file(self, stage_id: str, name: str) -> Path:
        return self.stage_dir(stage_id) / name

    # -- lock -------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the run folder for this process, or raise LockError naming the holder's pid."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / ".lock"
        with writing(path):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LockError(f"run directory {self.root} is locked by pid {holder} "
                            "(another instructpipe run is using it; wait for it or stop it)") from None
        self._lock_fd = fd
        try:
            with writing(path):
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            self.unlock()
            raise

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- markers and counters ---------------------------------------------------------------
    def read(self, stage_id: str, name: str) -> Any:
        path = self.file(stage_id, name)
        return read_json_file(path) if path.exists() else None

    def write(self, stage_id: str, name: str, value: Any) -> None:
        with writing(self.file(stage_id, name)):
            atomic_write_json(self.file(stage_id, name), value)

    def remove(self, stage_id: str, *names: str) -> None:
        for name in names:
            self.file(stage_id, name).unlink(missing_ok=True)

    def clear(self, stage_id: str) -> None:
        """Empty a stage's folder: its files, markers and scratch (not the run's request cache)."""
        folder = self.stage_dir(stage_id)
        if folder.is_dir():
            shutil.rmtree(folder)

    def is_done(self, stage_id: str, fingerprint: str) -> bool:
        done = self.read(stage_id, DONE)
        return (bool(done) and done.get("fingerprint") == fingerprint
                and self.file(stage_id, DATA).exists())

    def state(self, stage_id: str, fingerprint: str | None = None) -> str:
        """done, failed, partial or pending (against `fingerprint` when given)."""
        done = self.read(stage_id, DONE)
        if done and (fingerprint is None or done.get("fingerprint") == fingerprint):
            return "done"
        if self.file(stage_id, FAILED).exists():
            return "failed"
        if self.file(stage_id, STARTED).exists() or self.file(stage_id, DATA).exists():
            return "partial"
        return "pending"

    def stats(self, stage_id: str) -> dict:
        return self.read(stage_id, STATS) or {}

    def manifest(self) -> dict | None:
        path = self.root / "manifest.json"
        return read_json_file(path) if path.exists() else None

    def write_manifest(self, manifest: dict) -> None:
        """Write the manifest only when it changed, so a no-op re-run leaves every byte alone."""
        if self.manifest() != manifest:
            with writing(self.root / "manifest.json"):
                atomic_write_json(self.root / "manifest.json", manifest)


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    n = 0
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return n
