"""Issue 11 item 5 on Ray: a Ray worker killed mid-shard (Ray retries its task) and the driver
killed mid-stage (its local Ray goes with it; the re-run skips finished shards). Both end with the
files of an undisturbed one-process run, exact ledgers, and at most the in-flight requests paid
twice. The scenarios (tests/scale/ray_kills.py) run inside a loopback-only network namespace."""

from __future__ import annotations

import pytest

from tests.scale.test_ray import in_loopback_namespace, needs_ray


@needs_ray
@pytest.mark.timeout(900)
@pytest.mark.parametrize("victim", ["worker", "driver"])
def test_ray_run_survives_a_kill(tmp_path, victim):
    proc = in_loopback_namespace(f"$PY -m tests.scale.ray_kills {tmp_path} {victim}", tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert proc.stdout.rstrip().endswith("ok"), proc.stdout[-2000:]
