"""Peak memory of `instructpipe ingest alpaca` on the full Alpaca 52K file, against `json.load`.

Each measurement runs in its own subprocess; the peak RSS of that child comes from
`getrusage(RUSAGE_CHILDREN)` taken by a small wrapper process, so runs do not mix.
Also ingests the 9K AlpaGasus file: flat memory means the 52K peak is close to the 9K peak.

    python bench/ingest_memory.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRAPPER = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
           "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_rss_mib(argv: list[str]) -> float:
    """Peak resident memory (MiB) of the command `argv`, run as a child of a fresh wrapper."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", WRAPPER, *argv], check=True, capture_output=True,
                         text=True, env=env).stdout
    return int(out.strip()) / 1024  # ru_maxrss is in KiB on Linux


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    full = args.data / "alpaca" / "alpaca_data.json"
    small = args.data / "alpaca" / "alpagasus_random_9k.json"
    if not full.is_file():
        sys.exit(f"{full}: not found (give --data)")
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        baseline = peak_rss_mib([py, "-c", "import pipeline.cli, pipeline.ops.ingest, pipeline.runner, pipeline.adhoc"])
        bare = peak_rss_mib([py, "-c", "import json"])
        loaded = peak_rss_mib([py, "-c", f"import json; json.load(open({str(full)!r}))"])
        ingest_small = peak_rss_mib([py, "-m", "pipeline", "ingest", "alpaca", str(small), "-o", f"{tmp}/s.jsonl"])
        ingest_full = peak_rss_mib([py, "-m", "pipeline", "ingest", "alpaca", str(full), "-o", f"{tmp}/f.jsonl"])
        records = count_lines(Path(tmp) / "f.jsonl")
    size = full.stat().st_size / 2**20
    result = {
        "file": str(full), "file_mib": round(size, 1), "records": records,
        "peak_rss_mib": {"python_json_only": round(bare, 1), "imports_only": round(baseline, 1),
                         "json_load": round(loaded, 1),
                         "ingest_9k": round(ingest_small, 1), "ingest_52k": round(ingest_full, 1)},
        "ingest_52k_over_json_load": round(ingest_full / loaded, 2),
        "ingest_52k_over_ingest_9k": round(ingest_full / ingest_small, 2),
        "ingest_52k_above_imports_mib": round(ingest_full - baseline, 1),
        "json_load_above_bare_python_mib": round(loaded - bare, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
