"""Resource limits on untrusted recipes and templates: a YAML alias bomb and PromptSource templates
that loop for ever or allocate gigabytes are stopped early, with small memory and a clear reason.

Each case runs the real CLI in a child process capped at 2 GB of address space (so the old,
unbounded behaviour fails fast instead of eating the machine) and reads the child's own peak RSS.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading

import yaml

from tests.conftest import ROOT, cli

CAP = 2 << 30
SMALL_RSS_KB = 400_000


def run_capped(*args: str, timeout: float = 120) -> tuple[int, str, int]:
    """`instructpipe ARGS` under an address-space cap: (exit code, stderr, its peak RSS in KB)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    proc = subprocess.Popen([sys.executable, "-m", "pipeline", *args], env=env, preexec_fn=cap,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    killer = threading.Timer(timeout, proc.kill)  # the old, unbounded code would run for ever
    killer.start()
    try:
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage, not all children's
    finally:
        killer.cancel()
        proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, err, usage.ru_maxrss


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(["name: bomb", "llm:", "  extra_body:", *("    " + x for x in lines),
                      "stages:", "  - {id: a, op: ingest, source: alpaca, path: x.json}", ""])


def test_a_yaml_alias_bomb_recipe_is_refused_before_it_grows(tmp_path):
    recipe = tmp_path / "bomb.yaml"
    recipe.write_text(billion_laughs())
    code, err, rss = run_capped("run", str(recipe), "--out", str(tmp_path / "out"))
    assert code == 1 and "Traceback" not in err, err
    assert f"error: {recipe}:" in err and "aliases" in err
    assert rss < SMALL_RSS_KB


def test_a_recipe_with_a_few_aliases_still_loads(tmp_path):
    from pipeline.recipe import load_recipe

    (tmp_path / "x.json").write_text('[{"instruction": "Say hi.", "output": "Hi."}]')
    recipe = tmp_path / "ok.yaml"
    recipe.write_text("name: ok\nstages:\n  - &s {id: a, op: ingest, source: alpaca, path: x.json}\n"
                      "  - {<<: *s, id: b}\n")
    assert [s.id for s in load_recipe(recipe).stages] == ["a", "b"]


def template_recipe(tmp_path, jinjas: dict[str, str], **params) -> str:
    templates = {"dataset": "toy", "templates": {
        name: {"id": name, "name": name, "jinja": jinja} for name, jinja in jinjas.items()}}
    (tmp_path / "templates.yaml").write_text(yaml.safe_dump(templates))
    rows = [{"text": "first row", "label": 1}, {"text": "second row", "label": 0}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    stage = {"id": "ps", "op": "ingest", "source": "promptsource", "path": "rows.jsonl",
             "templates": "templates.yaml", **params}
    recipe = tmp_path / "r.yaml"
    recipe.write_text(yaml.safe_dump({"name": "ps", "stages": [stage]}))
    return str(recipe)


def test_templates_that_loop_for_ever_or_allocate_gigabytes_are_rejected(tmp_path):
    recipe = template_recipe(tmp_path, {
        "loops": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}x ||| y",
        "huge": "{{ ('a' * 3000000000) }} ||| y",
        "power": "{{ (7 ** 999999999) }} ||| y",
        "doubling": "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                    "{% endfor %}{{ ns.s|length }} ||| y",
        "wide": "{{ 'a'|center(3000000000) }} ||| y",
        "output": "{% for i in range(99999) %}{{ text }}{% endfor %} ||| y",
        "width": "{{ '%3000000000s'|format(1) }}{{ '{:>3000000000}'.format(text) }} ||| y",
        "join": "{{ range(99999)|join('a' * 99999) }} ||| y",
        "replace": "{{ ('a' * 99999).replace('a', 'a' * 99999) }} ||| y",
        "fine": "Classify: {{ text }} ||| {{ label }}",
    }, template_timeout=1)
    out = tmp_path / "out"
    code, err, rss = run_capped("run", recipe, "--out", str(out))
    assert code == 0, err
    assert rss < SMALL_RSS_KB
    data = [json.loads(x) for x in (out / "ps" / "data.jsonl").read_text().splitlines()]
    rejected = [json.loads(x) for x in (out / "ps" / "rejected.jsonl").read_text().splitlines()]
    assert [r["meta"]["template"] for r in data] == ["fine", "fine"]
    why = {r["template"]: r["detail"] for r in rejected}
    assert {r["reason"] for r in rejected} == {"template_error"} and len(rejected) == 2 * 9
    assert "time budget" in why["loops"]
    for name in ("huge", "power", "doubling", "wide", "output", "width", "join", "replace"):
        assert "size budget" in why[name], why[name]


def test_a_recipe_nested_too_deeply_is_one_line_error(tmp_path):
    recipe = tmp_path / "deep.yaml"
    recipe.write_text("name: deep\nstages:\n  - {id: a, op: ingest, source: alpaca, path: x.json, label: "
                      + "[" * 20_000 + "]" * 20_000 + "}\n")
    proc = cli("run", str(recipe), "--out", str(tmp_path / "out"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"error: {recipe}:3:" in proc.stderr and "nested" in proc.stderr
