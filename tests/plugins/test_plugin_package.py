"""A plugin package, built in the test from docs/plugins.md and installed into a fresh venv, shows up in
`instructpipe ops` with its package, runs in a recipe, and its version enters the fingerprint."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, ROOT

DOC = ROOT / "docs" / "plugins.md"


def doc_block(lang: str) -> str:
    return re.findall(rf"^```{lang}\n(.*?)^```$", DOC.read_text(), re.S | re.M)[0]


def build_wheel(folder: Path, dist: str, version: str, modules: dict[str, str], entry_points: str) -> Path:
    """A pure-Python wheel, written by hand (no build backend, no network)."""
    norm = dist.replace("-", "_")
    info = f"{norm}-{version}.dist-info"
    files = dict(modules)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{info}/entry_points.txt"] = entry_points
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    path = folder / f"{norm}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def entry_points_of(toml: str) -> str:
    """The `[project.entry-points."instructpipe.ops"]` table of the docs' pyproject, as entry_points.txt."""
    table = toml.split('[project.entry-points."instructpipe.ops"]', 1)[1].split("\n[", 1)[0]
    lines = [line.replace('"', "").replace(" = ", "=") for line in table.strip().splitlines()]
    return "[instructpipe.ops]\n" + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """A test venv that sees this environment's packages and the checkout, with pip of its own."""
    folder = tmp_path_factory.mktemp("plugin-venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(folder / "venv")], check=True,
                   capture_output=True, timeout=240)
    py = folder / "venv" / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    here = [p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages"))]
    here += [sysconfig.get_paths()["purelib"]]
    (Path(site) / "zz_parent_env.pth").write_text("\n".join([str(ROOT), *here]) + "\n")
    return py


def install(py: Path, wheel: Path) -> None:
    proc = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--force-reinstall", "-q", str(wheel)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr


def instructpipe(py: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(py), "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True, timeout=240)


def test_plugin_listed_runs_in_a_recipe_and_versions_count(venv, tmp_path):
    module, eps = doc_block("python"), entry_points_of(doc_block("toml"))
    install(venv, build_wheel(tmp_path, "instructpipe-shout", "0.1.0", {"instructpipe_shout.py": module}, eps))
    install(venv, build_wheel(tmp_path, "instructpipe-broken", "1.0", {"instructpipe_broken.py": "import nope\n"},
                              "[instructpipe.ops]\nwhisper = instructpipe_broken:SPEC\n"))

    listing = instructpipe(venv, "ops", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "shout (v1, inputs 1+, plugin instructpipe-shout 0.1.0): Upper-case every assistant turn." \
        in listing.stdout
    assert "suffix" in listing.stdout.split("shout (v1", 1)[1]
    assert "left out: plugin instructpipe-broken 1.0" in listing.stdout and "ModuleNotFoundError" in listing.stdout

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"name": "plugged", "stages": [
        {"id": "read", "op": "ingest", "source": "messages", "path": str(FIXTURES / "llm" / "dolly_complete_4.jsonl")},
        {"id": "loud", "op": "shout", "inputs": ["read"], "suffix": "!!", "min_chars": 300}]}))
    proc = instructpipe(venv, "run", str(recipe), "--out", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    kept = [json.loads(x) for x in (tmp_path / "out" / "loud" / "data.jsonl").read_text().splitlines()]
    stats = json.loads((tmp_path / "out" / "loud" / "stats.json").read_text())
    assert kept and all(r["messages"][-1]["content"].endswith("!!") and r["messages"][-1]["content"].isupper()
                        for r in kept)
    assert stats["records_in"] == 4 and stats["records_out"] + stats.get("dropped_too_short", 0) == 4
    assert stats["shouted"] == stats["records_out"]

    again = instructpipe(venv, "run", str(recipe), "--out", "out", cwd=tmp_path)
    assert "[loud] done, skipped" in again.stderr
    install(venv, build_wheel(tmp_path, "instructpipe-shout", "0.2.0", {"instructpipe_shout.py": module}, eps))
    upgraded = instructpipe(venv, "run", str(recipe), "--out", "out", cwd=tmp_path)
    assert "[read] done, skipped" in upgraded.stderr and "[loud] shout: running" in upgraded.stderr

    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"name": "b", "stages": [{"id": "w", "op": "whisper"}]}))
    proc = instructpipe(venv, "run", str(broken), cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "unknown op 'whisper': plugin instructpipe-broken 1.0" in proc.stderr


def test_plugins_are_not_visible_without_install():
    from pipeline.listing import list_ops

    assert "plugin instructpipe-shout" not in list_ops()
