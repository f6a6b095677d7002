"""Rows of a HF hub dataset, streamed by `datasets`, with a bound on how long the hub may stay silent.

`datasets`/`huggingface_hub` retry a silent endpoint for minutes. The load and the stream run in a
daemon thread that hands rows over a small queue; waiting longer than `timeout` seconds for the
next row (or for the first, which includes resolving the dataset) stops with one clear line.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Any, Iterator

from pipeline.errors import InputError

_DONE = object()


def check_hub_id(hub: str) -> None:
    """Refuse what `datasets` would load as code or pickles: the `pandas` builder, local paths."""
    if hub.split("/")[0].lower() == "pandas":
        raise InputError(f"{hub}: refusing the 'pandas' dataset builder (it unpickles files)")
    if Path(hub).exists():
        raise InputError(f"{hub}: is a local path; give it as `path`, not `hub`")


def hub_rows(hub: str, config: str | None, split: str, timeout: float) -> Iterator[Any]:
    """Every row of `hub` (streaming), or InputError when the hub is silent for `timeout` s."""
    check_hub_id(hub)
    rows: queue.Queue = queue.Queue(maxsize=256)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(hub, config, split, rows, stop), daemon=True,
                              name=f"hub:{hub}")
    thread.start()
    try:
        while True:
            try:
                item = rows.get(timeout=timeout)
            except queue.Empty:
                endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
                raise InputError(f"{hub}: the hub at {endpoint} gave no answer within {timeout:g} s "
                                 "(hub_timeout); check the network and HF_ENDPOINT, or raise hub_timeout"
                                 ) from None
            if item is _DONE:
                return
            if isinstance(item, InputError):
                raise item
            yield item
    finally:
        stop.set()  # the producer gives up at its next hand-over


def _produce(hub: str, config: str | None, split: str, rows: queue.Queue, stop: threading.Event) -> None:
    try:
        import datasets

        # Streaming keeps memory flat; remote code is never enabled (datasets 4+ has none).
        ds = datasets.load_dataset(hub, name=config, split=split, streaming=True)
        for row in ds:
            if not _hand_over(rows, row, stop):
                return
        item: Any = _DONE
    except ImportError:  # pragma: no cover - datasets is a core dependency
        item = InputError(f"reading {hub} needs the 'datasets' package")
    except Exception as e:  # the hub raises many types; all are input problems here
        item = InputError(f"{hub}: cannot load from the hub: {e}")
    _hand_over(rows, item, stop)


def _hand_over(rows: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put `item` for the reader, waiting while the queue is full; False once the reader left."""
    while not stop.is_set():
        try:
            rows.put(item, timeout=0.5)
            return True
        except queue.Full:
            continue
    return False
