"""How long `instructpipe report` takes on the full Alpaca 52K run folder.

Builds (or reuses) a run folder with ingest -> dedup_exact -> filter -> export over
/work/shared/data/alpaca/alpaca_data.json, then times, in the same run:
  - the baseline: one plain pass that json-decodes every line of every stage file;
  - `write_report` in process (best of 3);
  - the `instructpipe report` command end to end (a subprocess: interpreter start and imports included);
  - the peak Python memory of `write_report` (tracemalloc), to show it does not grow with the data.
Prints seconds, records per second (lines of all stage files / seconds) and ratios to the baseline.

    python bench/report_speed.py [--run-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.report.render import write_report  # noqa: E402

ALPACA = Path("/work/shared/data/alpaca/alpaca_data.json")
RECIPE = """name: alpaca52k
stages:
  - {{id: alpaca, op: ingest, source: alpaca, path: {path}}}
  - {{id: dedup, op: dedup_exact, inputs: [alpaca]}}
  - {{id: filter, op: filter, inputs: [dedup], require_complete: true, instruction_min_words: 3, min_words: 1}}
  - {{id: export, op: export, inputs: [filter], format: messages, validation: 0.02, seed: 7}}
"""


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def build_run(run_dir: Path) -> float:
    recipe = run_dir.parent / "alpaca52k.yaml"
    recipe.write_text(RECIPE.format(path=json.dumps(str(ALPACA))))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "run", str(recipe), "--out", str(run_dir)],
                   check=True, env=env(), stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def stage_files(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.glob("*/*.jsonl") if p.name in ("data.jsonl", "rejected.jsonl"))


def decode_all(run_dir: Path) -> int:
    """The baseline's work: json-decode every line of every stage file once; return the line count."""
    lines = 0
    for path in stage_files(run_dir):
        with open(path, "rb") as fh:
            for line in fh:
                json.loads(line)
                lines += 1
    return lines


def best_of(n: int, fn) -> tuple[float, float]:
    """The best wall and the best CPU seconds of `n` calls (CPU time is less shaken by other load)."""
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", type=Path, help="run folder to build or reuse (default: a temp folder)")
    args = ap.parse_args()
    if not ALPACA.exists():
        sys.exit(f"{ALPACA} not found: this benchmark needs the shared Alpaca data")
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="report-bench-")) / "run"
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    built = build_run(run_dir)
    final = json.loads((run_dir / "export" / "stats.json").read_text())["records_out"]
    lines = decode_all(run_dir)
    base, base_cpu = best_of(3, lambda: decode_all(run_dir))
    report, report_cpu = best_of(3, lambda: write_report(run_dir, run_dir / "report-bench.html"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipeline", "report", str(run_dir)], check=True, env=env(),
                   stderr=subprocess.DEVNULL)
    cli = time.perf_counter() - start
    size = (run_dir / "report.html").stat().st_size
    tracemalloc.start()
    write_report(run_dir, run_dir / "report-bench.html")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    data_mib = sum(p.stat().st_size for p in stage_files(run_dir)) / 2**20
    print(f"run folder: {run_dir} (pipeline run or reuse took {built:.1f} s)")
    print(f"stage files: {len(stage_files(run_dir))}, {lines} lines; final stage: {final} records; "
          f"report.html {size / 1024:.0f} KiB")
    print(f"baseline, json-decode every line once (best of 3): {base:.2f} s wall, {base_cpu:.2f} s CPU "
          f"({lines / base:,.0f} records/s)")
    print(f"write_report in process (best of 3): {report:.2f} s wall, {report_cpu:.2f} s CPU "
          f"({lines / report:,.0f} records/s); {report / base:.2f}x the baseline's wall time, "
          f"{report_cpu / base_cpu:.2f}x its CPU time")
    print(f"peak Python memory of write_report (tracemalloc): {peak / 2**20:.1f} MiB "
          f"for {data_mib:.0f} MiB of stage files")
    print(f"instructpipe report (CLI, end to end, once): {cli:.2f} s wall ({lines / cli:,.0f} records/s), "
          f"{cli / base:.2f}x the baseline")


if __name__ == "__main__":
    main()
