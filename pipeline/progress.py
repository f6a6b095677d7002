"""Progress display: a rich progress bar on a terminal, plain periodic lines otherwise."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

console = Console(stderr=True, highlight=False)


def say(message: str) -> None:
    """One line of run output on stderr (plain when not a terminal)."""
    if console.is_terminal:  # plain text: rich would read `[stage]` as a markup tag and drop it
        console.print(message, markup=False)
    else:
        print(message, file=sys.stderr, flush=True)


@contextmanager
def stage_progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n)`; draws a bar on a TTY, else prints a line every 10 seconds."""
    if console.is_terminal:
        columns = [TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(label, total=total or None)
            yield lambda n=1: bar.advance(task, n)
        return
    state = {"n": 0, "last": time.monotonic()}

    def advance(n: int = 1) -> None:
        state["n"] += n
        now = time.monotonic()
        if now - state["last"] >= 10:
            state["last"] = now
            of = f" of {total}" if total else ""
            print(f"  {label}: {state['n']}{of} records", file=sys.stderr, flush=True)

    yield advance
