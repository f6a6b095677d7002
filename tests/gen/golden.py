"""Golden files of rendered prompts: `tests/gen/golden/<case>.txt` hold the exact expected text.

Set `UPDATE_GOLDEN=1` to (re)write them after a deliberate prompt change, then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"


def assert_golden(case: str, text: str) -> None:
    path = GOLDEN / f"{case}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.is_file(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_bytes().decode("utf-8"), f"rendered prompt differs from {path}"
