"""Hub ingest against an endpoint that accepts connections and never answers stops after
`hub_timeout` with one clear line, instead of retrying for minutes."""

from __future__ import annotations

import socket
import threading

import pytest
import yaml

from tests.conftest import cli


@pytest.fixture
def silent_endpoint():
    """A loopback socket that accepts every connection and never sends a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_hub_ingest_from_a_silent_endpoint_times_out_with_a_clear_line(tmp_path, silent_endpoint):
    stage = {"id": "hub", "op": "ingest", "source": "alpaca", "hub": "someone/silent-dataset", "hub_timeout": 3}
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "hub", "stages": [stage]}))
    env = {"HF_ENDPOINT": silent_endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
           "HF_DATASETS_OFFLINE": "0"}
    proc = cli("run", str(recipe), "--out", str(tmp_path / "out"), env=env, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "someone/silent-dataset" in errors[0] and "no answer within 3 s" in errors[0]
    assert "hub_timeout" in errors[0] and silent_endpoint in errors[0]
