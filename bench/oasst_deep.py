"""Time `ingest oasst` on one linear thread of N messages (prompter/assistant alternating).

The parent-cycle check used to walk to the root from every message (N²/2 steps: 57 s at 20,000);
it now settles each message once. Also times that old walk alone, as the reference.

    python bench/oasst_deep.py [--sizes 5000 10000 20000 40000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.recipe import build_recipe  # noqa: E402
from pipeline.runner import Runner  # noqa: E402


def thread_file(folder: Path, n: int) -> Path:
    path = folder / f"thread{n}.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"message_id": f"m{i}", "parent_id": f"m{i - 1}" if i else None,
                                 "role": "prompter" if i % 2 == 0 else "assistant", "text": f"turn {i}"}) + "\n")
    return path


def old_walks(n: int) -> float:
    """The previous check: from every message, follow parent ids to the root."""
    parents = {f"m{i}": (f"m{i - 1}" if i else None) for i in range(n)}
    start = time.perf_counter()
    for mid in parents:
        seen, node = set(), mid
        while parents[node] is not None:
            seen.add(node)
            node = parents[node]
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5000, 10000, 20000, 40000])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in args.sizes:
            stage = {"id": "o", "op": "ingest", "source": "oasst", "path": str(thread_file(folder, n))}
            recipe = build_recipe({"name": "bench", "stages": [stage]}, folder)
            start = time.perf_counter()
            Runner(recipe, folder / f"run{n}").run()
            took = time.perf_counter() - start
            ref = old_walks(n) if n <= 20000 else float("nan")
            print(f"{n:>6} messages: ingest {took:6.2f} s ({took / n * 1e6:5.1f} us/message); "
                  f"old cycle walk alone {ref:6.2f} s")


if __name__ == "__main__":
    main()
