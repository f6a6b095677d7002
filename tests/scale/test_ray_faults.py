"""Issue 11 item 5 on Ray: a Ray worker killed mid-shard (Ray retries its task) and the driver
killed mid-stage (its local Ray goes with it; the re-run skips finished shards). Both end with the
files of an undisturbed one-process run, exact ledgers, and at most the in-flight requests paid
twice. The scenarios (tests/scale/ray_kills.py) run inside a loopback-only network namespace."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from tests.scale.test_ray import RAY_PORT, in_loopback_namespace, needs_ray


@needs_ray
@pytest.mark.timeout(900)
@pytest.mark.parametrize("victim", ["worker", "driver"])
def test_ray_run_survives_a_kill(tmp_path, victim):
    proc = in_loopback_namespace(f"$PY -m tests.scale.ray_kills {tmp_path} {victim}", tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.rstrip().endswith("ok"), proc.stdout[-2000:]


@needs_ray
@pytest.mark.timeout(900)
def test_a_ray_cluster_ends_the_killed_drivers_tasks_and_the_rerun_resumes(tmp_path):
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 107 bytes
    proc = in_loopback_namespace(f"""
        ray start --head --port {RAY_PORT} --num-cpus 1 --temp-dir {temp}/a --disable-usage-stats >/dev/null 2>&1
        ray start --address 127.0.0.1:{RAY_PORT} --num-cpus 1 --temp-dir {temp}/b --disable-usage-stats >/dev/null 2>&1
        $PY -m tests.scale.ray_kills {tmp_path} driver 127.0.0.1:{RAY_PORT}
    """, tmp_path)
    shutil.rmtree(temp, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.rstrip().endswith("ok"), proc.stdout[-2000:]
