"""Run one ingest stage in-process and read back what it wrote; shared malformed-input checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.recipe import build_recipe
from pipeline.runner import Runner

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is not present")


@dataclass
class Result:
    records: list[dict]
    rejected: list[dict]
    stats: dict

    def reasons(self) -> dict[str, int]:
        return {k[len("dropped_"):]: v for k, v in self.stats.items() if k.startswith("dropped_")}


def ingest(tmp_path: Path, source: str, path: Path | str | None = None, **params) -> Result:
    """Run `ingest` on `path`; the runner itself checks the ledger balances."""
    stage = {"id": "main", "op": "ingest", "source": source, **params}
    if path is not None:
        stage["path"] = str(path)
    recipe = build_recipe({"name": "t", "stages": [stage]}, Path.cwd())
    run = tmp_path / f"run{len(list(tmp_path.glob('run*')))}"
    Runner(recipe, run).run()
    main = run / "main"
    lines = lambda p: [json.loads(x) for x in p.read_text(encoding="utf-8").splitlines() if x]
    return Result(lines(main / "data.jsonl"), lines(main / "rejected.jsonl"),
                  json.loads((main / "stats.json").read_text()))


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def jsonl(*rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def check_malformed_jsonl(tmp_path: Path, source: str, good: dict, field: str, wrong, *,
                          gives_record: bool = True, **params) -> None:
    """The G4 bad-file cases on a JSONL file of `source`: truncated JSON, invalid UTF-8, UTF-8 BOM,
    CRLF, UTF-16, empty file, a wrong-typed field and a missing field. `good` is a valid row."""
    ok = jsonl(good)
    # truncated JSON: strict mode stops naming file:line:col; lenient mode rejects that line
    bad = write(tmp_path, "trunc.jsonl", ok + ok[: len(ok) // 2] + "\n" + ok)
    with pytest.raises(InputError, match=r"trunc\.jsonl:2:\d+: "):
        ingest(tmp_path, source, bad, **params)
    res = ingest(tmp_path, source, bad, lenient=True, **params)
    assert res.reasons()["bad_json"] == 1 and res.rejected[0]["where"].endswith("trunc.jsonl:2")
    assert res.stats["records_in"] == 3
    # invalid UTF-8 on line 2: named with its byte offset; lenient rejects just that line
    utf = write(tmp_path, "utf.jsonl", ok.encode() + b'{"x": "\xff"}\n' + ok.encode())
    with pytest.raises(InputError, match=r"utf\.jsonl:2:\d+: invalid UTF-8 byte 0xff"):
        ingest(tmp_path, source, utf, **params)
    assert ingest(tmp_path, source, utf, lenient=True, **params).reasons()["bad_json"] == 1
    # a UTF-8 BOM is accepted: same output as without it
    plain = ingest(tmp_path, source, write(tmp_path, "plain.jsonl", ok), **params)
    bom = ingest(tmp_path, source, write(tmp_path, "bom.jsonl", b"\xef\xbb\xbf" + ok.encode()), **params)
    assert bom.records == plain.records and bool(plain.records) == gives_record
    crlf = ingest(tmp_path, source, write(tmp_path, "crlf.jsonl", ok.replace("\n", "\r\n")), **params)
    assert crlf.records == plain.records
    with pytest.raises(InputError, match=r"utf16\.jsonl:1:1: file is UTF-16 encoded"):
        ingest(tmp_path, source, write(tmp_path, "utf16.jsonl", ok.encode("utf-16")), **params)
    # empty file: no records, counted as a warning
    empty = ingest(tmp_path, source, write(tmp_path, "empty.jsonl", ""), **params)
    assert empty.records == [] and empty.stats["empty_files"] == 1
    # wrong type and missing field: rejected naming the field and file:line
    typed = ingest(tmp_path, source, write(tmp_path, "typed.jsonl", jsonl({**good, field: wrong})), **params)
    assert typed.reasons() == {f"bad_schema:{field}": 1}
    assert typed.rejected[0]["where"].endswith("typed.jsonl:1")
    missing = {k: v for k, v in good.items() if k != field}
    gone = ingest(tmp_path, source, write(tmp_path, "missing.jsonl", jsonl(missing)), **params)
    assert gone.reasons() == {f"bad_schema:{field}": 1} and "missing" in gone.rejected[0]["detail"]
