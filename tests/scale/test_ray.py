"""Issue 11 item 2: shards as Ray tasks, on a local Ray and on a two-node cluster on this machine,
write the files one process writes. Every Ray instance runs inside a network namespace that has
only loopback (Ray binds to the machine's outside address otherwise); the fake LLM server runs
there too. Skipped without Ray, unless CI is set."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from tests.conftest import ROOT
from tests.scale.conftest import make_input, snapshot, write_recipe

PORT, RAY_PORT = 28731, 26379
needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None and not os.environ.get("CI"),
                               reason="Ray is not installed (pip install 'instructpipe[ray]')")


def in_loopback_namespace(script: str, tmp_path) -> subprocess.CompletedProcess:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs root and unshare for a loopback-only network namespace")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENAI_API_KEY="sk-test-ray-0000", RAY_AUTH_MODE="disabled",
               RAY_USAGE_STATS_ENABLED="0", PY=sys.executable)
    # daemons write nowhere we read, so the pipes close when the script ends; the trap stops them
    body = (f"set -e; ip link set lo up; cd {tmp_path}; $PY -m tests.fake_openai --port {PORT} >/dev/null 2>&1 & "
            f"SERVER=$!; trap 'ray stop --force >/dev/null 2>&1 || true; kill $SERVER' EXIT; " + script)
    # a PID namespace too: `ray stop` there sees only this test's Ray (not another run's on the
    # machine), and every process left in it dies with the script
    return subprocess.run(["unshare", "-n", "-p", "-f", "--mount-proc", "bash", "-c", body], env=env,
                          capture_output=True, text=True, timeout=900)


@needs_ray
@pytest.mark.timeout(900)
def test_ray_local_and_two_node_cluster_write_the_same_files(tmp_path):
    recipe = write_recipe(tmp_path, make_input(tmp_path / "in.jsonl"), f"http://127.0.0.1:{PORT}/v1")
    run = f"$PY -m pipeline run {recipe} --out"
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 107 bytes
    proc = in_loopback_namespace(f"""
        sleep 2
        {run} one
        {run} local --engine ray --workers 2
        ray start --head --port {RAY_PORT} --num-cpus 1 --temp-dir {temp}/a --disable-usage-stats >/dev/null 2>&1
        ray start --address 127.0.0.1:{RAY_PORT} --num-cpus 1 --temp-dir {temp}/b --disable-usage-stats >/dev/null 2>&1
        {run} cluster --engine ray --address 127.0.0.1:{RAY_PORT} --workers 2
        $PY -c "import ray; ray.init(address='127.0.0.1:{RAY_PORT}'); print('nodes', len([n for n in ray.nodes() if n['Alive']]))"
    """, tmp_path)
    shutil.rmtree(temp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "nodes 2" in proc.stdout
    assert "[answer] 5 shards of up to 40 records, 2 workers" in proc.stderr
    ref = snapshot(tmp_path / "one")
    assert snapshot(tmp_path / "local") == ref
    assert snapshot(tmp_path / "cluster") == ref
    assert not list((tmp_path / "cluster").glob(".engine-probe-*"))  # the probe is cleaned up


@needs_ray
@pytest.mark.timeout(600)
def test_a_node_that_cannot_see_the_run_folder_is_named_before_any_stage_runs(tmp_path):
    """The second node runs in a mount namespace of its own with a tmpfs over the run folder's
    parent: its tasks write somewhere the driver never reads, as on a node without the shared mount."""
    recipe = write_recipe(tmp_path, make_input(tmp_path / "in.jsonl", 40), f"http://127.0.0.1:{PORT}/v1")
    shared = tmp_path / "shared"
    shared.mkdir()
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    proc = in_loopback_namespace(f"""
        ray start --head --port {RAY_PORT} --num-cpus 1 --temp-dir {temp}/a --disable-usage-stats >/dev/null 2>&1
        unshare -m bash -c 'mount -t tmpfs none {shared} && ray start --address 127.0.0.1:{RAY_PORT} --num-cpus 1 \\
            --temp-dir {temp}/b --disable-usage-stats >/dev/null 2>&1'
        set +e
        $PY -m pipeline run {recipe} --out {shared}/run --engine ray --address 127.0.0.1:{RAY_PORT} --workers 2
        echo "exit $?"
    """, tmp_path)
    shutil.rmtree(temp, ignore_errors=True)
    assert "exit 1" in proc.stdout, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and f"{shared}/run: Ray workers on node 127.0.0.1 (" in lines[0], proc.stderr[-3000:]
    assert "cannot write the run folder where this driver reads it" in lines[0]
    assert not (shared / "run" / "in").exists()  # stopped before the first stage
    assert not list((shared / "run").glob(".engine-probe-*"))
