"""The real-model server for this folder: started once per session on a free loopback port,
stopped at the end. Missing packages skip these tests with the install command; under CI
(`CI` set) they fail instead, so a broken install step cannot pass unseen."""

from __future__ import annotations

import os

import pytest

from tests.real_model.server import INSTALL, RealServer, missing_packages


@pytest.fixture(scope="session")
def real_server(tmp_path_factory):
    missing = missing_packages()
    if missing:
        why = f"real-model tests need {', '.join(missing)}: {INSTALL}"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    server = RealServer(tmp_path_factory.mktemp("real_server") / "serve.log")
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()
