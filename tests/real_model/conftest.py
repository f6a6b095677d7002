"""The real-model server for this folder: started once per session on a free loopback port,
stopped at the end.

Missing packages skip these tests with the install command. CI runs this folder in a step of its
own, after installing the server (`.ci/run`); there, with `CI` set and this folder named on the
command line, missing packages fail the run instead, so a broken install step cannot pass unseen.
The whole-suite step, which has no server stack by design, skips them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.real_model.server import INSTALL, RealServer, missing_packages

HERE = Path(__file__).resolve().parent


def asked_for_by_name(config) -> bool:
    """True when a command-line path points into this folder (not just at `tests/`)."""
    for arg in config.args:
        path = Path(config.invocation_params.dir, arg.split("::")[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


@pytest.fixture(scope="session")
def real_server(request, tmp_path_factory):
    missing = missing_packages()
    if missing:
        why = f"real-model tests need {', '.join(missing)}: {INSTALL}"
        if os.environ.get("CI") and asked_for_by_name(request.config):
            pytest.fail(why)
        pytest.skip(why)
    server = RealServer(tmp_path_factory.mktemp("real_server") / "serve.log")
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()
