import json
import re

from tests.conftest import QUICKSTART, SAMPLES, cli

STATUS_FIELDS = {"id", "op", "state", "records_in", "records_out", "rejected", "requests", "cached",
                 "tokens_in", "tokens_out", "cost_usd", "output"}


def one_line_error(proc, *needles):
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == lines[-1:], proc.stderr
    for needle in needles:
        assert needle in lines[-1], lines[-1]
    assert "Traceback" not in proc.stderr


def test_status_json_lists_every_stage(tmp_path):
    out = tmp_path / "qs"
    cli("run", str(QUICKSTART), "--out", str(out), "--until", "dedup", check=True)
    rows = json.loads(cli("status", str(out), "--json", check=True).stdout)
    import yaml

    expected = [s["id"] for s in yaml.safe_load(QUICKSTART.read_text())["stages"]]
    assert [r["id"] for r in rows] == expected
    assert all(STATUS_FIELDS <= set(r) for r in rows)
    states = {r["id"]: r["state"] for r in rows}
    assert states["dedup"] == "done" and states["filter"] == "pending"
    dedup = next(r for r in rows if r["id"] == "dedup")
    assert dedup["records_in"] == dedup["records_out"] + dedup["rejected"]
    assert dedup["output"].endswith("dedup/data.jsonl")
    assert "stage" in cli("status", str(out), check=True).stdout


def test_bad_recipe_and_missing_things_end_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstages:\n  - id: a\n    op: ingest\n    source: alpaca\n    path: missing.json\n")
    one_line_error(cli("run", str(bad), "--out", str(tmp_path / "o")), "stages[0].path: file not found")
    assert not (tmp_path / "o").exists()
    one_line_error(cli("run", str(tmp_path / "nope.yaml")), "recipe not found")
    one_line_error(cli("status", str(tmp_path / "nowhere")), "no such run folder")
    one_line_error(cli("ingest", "alpaca", str(tmp_path / "none.json"), "-o", str(tmp_path / "x.jsonl")),
                   "no such file")


def test_broken_line_3_gives_file_line_col(tmp_path):
    src = tmp_path / "broken.jsonl"
    src.write_text('{"messages": [{"role": "user", "content": "a"}]}\n' * 2 + '{"messages": [}\n')
    proc = cli("ingest", "messages", str(src), "-o", str(tmp_path / "o.jsonl"))
    one_line_error(proc, f"{src}:3:15:")
    lenient = cli("ingest", "messages", str(src), "-o", str(tmp_path / "o.jsonl"), "-p", "lenient=true",
                  check=True)
    assert "2 records; 1 rejected" in lenient.stderr
    rejected = (tmp_path / "o.jsonl.run" / "main" / "rejected.jsonl").read_text().splitlines()
    assert json.loads(rejected[0])["where"] == f"{src}:3"


def test_stage_command_runs_an_op_and_resumes(tmp_path):
    ingested = tmp_path / "alpaca.jsonl"
    cli("ingest", "alpaca", str(SAMPLES / "alpaca_sample.json"), "-o", str(ingested), check=True)
    assert len(ingested.read_text().splitlines()) == 250
    out = tmp_path / "filtered.jsonl"
    first = cli("stage", "filter", "-i", str(ingested), "-o", str(out), "-p", "require_complete=true",
                "-p", "min_words=3", check=True)
    assert "records;" in first.stderr
    kept = out.read_text().splitlines()
    assert 0 < len(kept) < 250
    again = cli("stage", "filter", "-i", str(ingested), "-o", str(out), "-p", "require_complete=true",
                "-p", "min_words=3", check=True)
    assert "nothing to do" in again.stderr
    assert out.read_text().splitlines() == kept
    one_line_error(cli("stage", "filter", "-i", str(ingested), "-o", str(out), "-p", "min_wrods=3"),
                   "-p min_wrods: unknown parameter; did you mean min_words?")


def test_listings():
    sources = cli("sources", check=True).stdout
    assert "alpaca:" in sources and "license: CC-BY-NC-4.0" in sources and "input_separator" in sources
    ops = cli("ops", check=True).stdout
    for name in ("ingest", "mix", "dedup_exact", "filter", "export"):
        assert f"\n  {name} (" in ops
    assert "min_words: default None" in ops


def test_usage_errors_are_one_line_exit_1():
    one_line_error(cli("nosuch"), "No such command 'nosuch'")
    one_line_error(cli("run"), "Missing argument")


WIDE = {"COLUMNS": "200", "TERM": "dumb"}


def test_bare_command_prints_help_and_exits_0_and_version():
    for args in ((), ("batch",)):
        proc = cli(*args, env=WIDE)
        assert proc.returncode == 0, proc.stderr
        assert "Usage:" in proc.stdout and "Commands" in proc.stdout
        assert proc.stderr == ""
    from pipeline import __version__

    version = cli("--version", check=True)
    assert version.stdout == f"instructpipe {__version__}\n"


def test_help_texts_are_complete_and_types_readable():
    import re

    for command in ("run", "status", "stage", "ingest", "export", "report", "sources", "ops", "batch status"):
        text = cli(*command.split(), "--help", env=WIDE, check=True).stdout
        assert not re.search(r"<(str|int|bool|float|path|list\[\w+\])>", text), (command, text)
        for line in text.splitlines():
            if re.match(r"^\W*--", line.strip("│ ")):  # every option row says what it is for
                assert re.search(r"--[\w-]+(\s+-\w)?\s+\S.*\s{2,}\S", line), (command, line)
    run_help = cli("run", "--help", env=WIDE, check=True).stdout
    for option, words in (("--model", "model name"), ("--base-url", "endpoint"), ("--concurrency", "requests")):
        row = next(line for line in run_help.splitlines() if option in line)
        assert words in row, row


def test_ops_grouped_by_purpose_and_one_op():
    from pipeline.ops import all_ops

    text = cli("ops", check=True).stdout
    headings = [line for line in text.splitlines() if line and not line.startswith(" ") and "(" not in line]
    assert headings[:2] == ["Reading and mixing:", "Deduplication and filtering:"], headings
    listed = re.findall(r"^  (\w+) \(v\d+", text, flags=re.M)
    assert sorted(listed) == sorted(all_ops()) and len(listed) == len(set(listed))
    one = cli("ops", "filter", check=True).stdout
    assert one.startswith("filter (v") and "min_words: default None" in one
    assert "dedup_exact" not in one
    one_line_error(cli("ops", "filtr"), "unknown op 'filtr'; did you mean filter?")


def test_stage_params_errors_name_the_p_option(tmp_path):
    src = tmp_path / "a.jsonl"
    src.write_text('{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}\n')
    out = str(tmp_path / "o.jsonl")
    proc = cli("stage", "filter", "-i", str(src), "-o", out, "-p", "min_wrods=3")
    one_line_error(proc, "-p min_wrods: unknown parameter; did you mean min_words?")
    assert "stages[" not in proc.stderr and "recipe:" not in proc.stderr
    one_line_error(cli("stage", "filter", "-i", str(src), "-o", out, "-p", "min_words=abc"),
                   "-p min_words=abc:", "integer")
    one_line_error(cli("stage", "filter", "-i", str(src), "-o", out, "-p", "banned_keywords=[spam, eggs"),
                   "-p banned_keywords=[spam, eggs: not valid YAML", "quote")
    assert not (tmp_path / "o.jsonl.run").exists()


def test_stage_inputs_are_named_after_their_files(tmp_path):
    """The README's `stage mix -i a.jsonl -i b.jsonl -p caps={a: 10}` works as written."""
    for name, n in (("a", 30), ("b", 5)):
        (tmp_path / f"{name}.jsonl").write_text("".join(
            json.dumps({"messages": [{"role": "user", "content": f"{name} question {i}"},
                                     {"role": "assistant", "content": "answer"}]}) + "\n" for i in range(n)))
    proc = cli("stage", "mix", "-i", "a.jsonl", "-i", "b.jsonl", "-o", "mixed.jsonl", "-p", "caps={a: 10}",
               cwd=tmp_path, check=True)
    rows = [json.loads(x) for x in (tmp_path / "mixed.jsonl").read_text().splitlines()]
    firsts = [r["messages"][0]["content"].split()[0] for r in rows]
    assert firsts.count("a") == 10 and firsts.count("b") == 5, proc.stderr
    one_line_error(cli("stage", "mix", "-i", "a.jsonl", "-i", "b.jsonl", "-o", "m2.jsonl", "-p", "caps={c: 1}",
                       cwd=tmp_path), "not inputs", "'a'", "'b'")
