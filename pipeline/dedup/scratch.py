"""Scratch folders for spill files inside a stage folder, cleaned even after a killed attempt."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def scratch(stage_dir: Path, name: str) -> Iterator[Path]:
    """A fresh `.<name>-*` folder in `stage_dir`, removed afterwards; leftovers of an attempt that
    was killed (and so could not clean up) are removed first."""
    for old in stage_dir.glob(f".{name}-*"):
        shutil.rmtree(old, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=stage_dir) as tmp:
        yield Path(tmp)
