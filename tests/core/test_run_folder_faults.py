"""Issue 15 item 5 (runner part): a stage id that would clash with the run folder's own files, a
full disk and a read-only run folder each end in one clear line and exit 1."""

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.conftest import QUICKSTART, SAMPLES, cli


def recipe_with_id(tmp_path, sid: str):
    p = tmp_path / "r.yaml"
    p.write_text(textwrap.dedent(f"""
        name: t
        stages:
          - id: first
            op: ingest
            source: alpaca
            path: {SAMPLES / "alpaca_sample.json"}
          - id: {sid}
            op: filter
            inputs: [first]
    """))
    return p


@pytest.mark.parametrize("sid", ["manifest.json", "cache", "Cache", "reviews", "report.html", "dry-run"])
def test_a_stage_id_naming_a_run_folder_entry_is_refused(tmp_path, sid):
    proc = cli("run", str(recipe_with_id(tmp_path, sid)), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "stages[1].id" in proc.stderr and "reserved" in proc.stderr
    assert not (tmp_path / "out").exists()


def mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


class Disk(type(Path())):
    """A mounted folder: `grow()` makes it large, `read_only()` remounts it read-only."""

    def grow(self) -> None:
        mount("-o", "remount,size=64m", str(self))

    def read_only(self) -> None:
        mount("-o", "remount,ro", str(self))


@pytest.fixture
def small_disk(tmp_path):
    """A real 300 KB filesystem (tmpfs, needs root)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    where = Disk(tmp_path / "disk")
    where.mkdir()
    try:
        mount("-t", "tmpfs", "-o", "size=300k", "tmpfs", str(where))
    except subprocess.CalledProcessError as e:
        pytest.skip(f"cannot mount a tmpfs here: {e.stderr.decode().strip()}")
    yield where
    subprocess.run(["umount", str(where)], capture_output=True)


def stage_files(out: Path) -> dict:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.jsonl"))}


def one_error_line(proc) -> str:
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("[")]
    assert len(errors) == 1 and errors[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    return errors[0]


def test_a_full_disk_is_one_line_naming_the_file_and_the_run_resumes_once_space_is_freed(tmp_path, small_disk):
    ref = tmp_path / "ref"
    cli("run", str(QUICKSTART), "--out", str(ref), check=True)
    out = small_disk / "run"
    line = one_error_line(cli("run", str(QUICKSTART), "--out", str(out)))
    assert "No space left on device" in line and str(small_disk) in line
    small_disk.grow()
    cli("run", str(QUICKSTART), "--out", str(out), check=True)
    assert stage_files(out) == stage_files(ref)


@pytest.mark.parametrize("size", ["8k", "40k"])
def test_a_full_disk_at_the_first_writes_is_one_line(tmp_path, small_disk, size):
    mount("-o", f"remount,size={size}", str(small_disk))
    line = one_error_line(cli("run", str(QUICKSTART), "--out", str(small_disk / "run")))
    assert "No space left on device" in line and str(small_disk / "run") in line


def test_a_read_only_run_folder_is_one_line_for_run_rerun_and_report(tmp_path, small_disk):
    small_disk.grow()
    out = small_disk / "run"
    cli("run", str(QUICKSTART), "--out", str(out), check=True)
    small_disk.read_only()
    for args in (("run", str(QUICKSTART), "--out", str(small_disk / "fresh")),
                 ("run", str(QUICKSTART), "--out", str(out)),
                 ("report", str(out))):
        line = one_error_line(cli(*args))
        assert "Read-only file system (EROFS)" in line and str(small_disk) in line, args
    assert cli("status", str(out)).returncode == 0
