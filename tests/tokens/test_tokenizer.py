"""`llm.tokenizer`: a tiny BPE trained in the test (tokenizer.json and the same vocabulary as GGUF)
counts tokens for the filter's bounds, the dry-run estimates and the report; without it the estimate
is used and says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import cli

tokenizers = pytest.importorskip("tokenizers")  # the `tokenizer` extra (also in dev)

CORPUS = ["the cat sat on the mat", "the dog ate the bone", "a cat and a dog", "on the mat the cat sat"] * 20
TEXTS = ["the cat sat on the mat", "zq xj vk wp", "héllo wörld 你好", "", "the the the dog"]


def train(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(CORPUS, trainers.BpeTrainer(
        vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    return folder


def to_gguf(folder: Path, path: Path) -> Path:
    gguf = pytest.importorskip("gguf")
    spec = json.loads((folder / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(tokens)
    writer.add_token_merges(merges)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def tok_dir(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("tok") / "tiny-bpe")


def test_folder_json_and_gguf_count_alike(tok_dir, tmp_path):
    from pipeline import tokens

    direct = tokenizers.Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    gguf_file = to_gguf(tok_dir, tmp_path / "tiny.gguf")
    for source in (tok_dir, tok_dir / "tokenizer.json", gguf_file):
        with tokens.using(source) as tok:
            counts = [tokens.count(t, len) for t in TEXTS]
            assert counts == [len(direct.encode(t, add_special_tokens=False).ids) for t in TEXTS], source
            assert tokens.basis() == tok.name and "tokenizer" in tok.name
    assert counts[:2] == [6, 11]  # a learnt word is one token; unseen letters are one token each
    with tokens.using(None):
        assert tokens.count("abcdefgh", lambda t: 2) == 2 and "estimate" in tokens.basis()


def write_recipe(folder: Path, tok: str | None, *, max_tokens: int = 8, extra: list | None = None) -> Path:
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for q, a in [("the cat sat on the mat", "the dog"), ("zq xj vk wp", "ok")]]
    (folder / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    llm = {"model": "m", "base_url": "http://127.0.0.1:9/v1", **({"tokenizer": tok} if tok else {})}
    stages = [{"id": "read", "op": "ingest", "source": "messages", "path": "in.jsonl"},
              {"id": "short", "op": "filter", "inputs": ["read"], "max_tokens": max_tokens}] + (extra or [])
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump({"name": "tok", "llm": llm, "stages": stages}))
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_filter_bounds_count_with_the_recipes_tokenizer(tok_dir, tmp_path):
    import shutil

    shutil.copytree(tok_dir, tmp_path / "tok")
    estimate = write_recipe(tmp_path, None)
    cli("run", str(estimate), "--out", str(tmp_path / "est"), check=True)
    assert len(lines(tmp_path / "est" / "short" / "data.jsonl")) == 2  # 9 + 3 chars/4: under 8 each
    recipe = write_recipe(tmp_path, "tok")  # relative to the recipe's folder
    cli("run", str(recipe), "--out", str(tmp_path / "run"), check=True)
    kept = lines(tmp_path / "run" / "short" / "data.jsonl")
    rejected = lines(tmp_path / "run" / "short" / "rejected.jsonl")
    assert [r["messages"][0]["content"] for r in kept] == ["the cat sat on the mat"]
    assert rejected[0]["reason"] == "tokens_too_long" and rejected[0]["detail"].endswith("tokens > 8")
    assert "estimated" not in rejected[0]["detail"]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["tokenizer"] == str((tmp_path / "tok").resolve())
    # the tokenizer's content is part of the filter's fingerprint, not the ingest's
    again = cli("run", str(recipe), "--out", str(tmp_path / "run"), check=True)
    assert "[short] done, skipped" in again.stderr
    train_more = json.loads((tmp_path / "tok" / "tokenizer.json").read_text())
    train_more["model"]["merges"] = train_more["model"]["merges"][:5]
    (tmp_path / "tok" / "tokenizer.json").write_text(json.dumps(train_more))
    changed = cli("run", str(recipe), "--out", str(tmp_path / "run"), check=True)
    assert "[read] done, skipped" in changed.stderr and "[short] filter: running" in changed.stderr
    assert lines(tmp_path / "run" / "short" / "data.jsonl") == []  # fewer merges: more tokens


def test_dry_run_and_report_say_how_tokens_were_counted(tok_dir, tmp_path):
    import shutil

    shutil.copytree(tok_dir, tmp_path / "tok")
    respond = [{"id": "answer", "op": "respond", "inputs": ["short"], "reanswer": True}]
    for name, tok in (("with", "tok"), ("without", None)):
        recipe = write_recipe(tmp_path, tok, max_tokens=100, extra=respond)
        out = tmp_path / name
        proc = cli("run", str(recipe), "--out", str(out), "--dry-run")
        assert proc.returncode == 0, proc.stderr
        entry = json.loads((out / "dry-run" / "summary.json").read_text())["answer"]
        if tok:
            from pipeline import tokens

            with tokens.using(tmp_path / "tok"):
                expected = sum(tokens.count(t, len) + 4 for t in ("the cat sat on the mat", "zq xj vk wp")) + 4
            assert entry["tokens_in_est"] == expected
            assert entry["tokens_in_basis"] == "tokenizers tokenizer tok"
        else:
            assert entry["tokens_in_basis"].startswith("estimate:")
    cli("run", str(write_recipe(tmp_path, "tok", max_tokens=100)), "--out", str(tmp_path / "rep"), check=True)
    cli("report", str(tmp_path / "rep"), check=True)
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "Token counts are by the recipe&#39;s tokenizers tokenizer tok" in html or \
        "Token counts are by the recipe's tokenizers tokenizer tok" in html


def test_missing_tokenizer_is_one_clear_line(tmp_path):
    proc = cli("run", str(write_recipe(tmp_path, "nowhere/tokenizer.json")), "--out", str(tmp_path / "o"))
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "stages[0].llm.tokenizer: file not found" in proc.stderr


def test_sentencepiece_gguf_vocabulary_merges_by_score(tmp_path):
    gguf = pytest.importorskip("gguf")
    from pipeline import tokens

    pieces = ["<unk>", "\u2581", "a", "b", "c", "\u2581a", "ab", "\u2581ab", "bc"]
    scores = [0.0, -1.0, -2.0, -2.0, -2.0, -3.0, -4.0, -1.5, -5.0]
    path = tmp_path / "spm.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(pieces)
    writer.add_token_scores(scores)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with tokens.using(path) as tok:
        assert tok.kind == "GGUF"
        assert tokens.count("ab", len) == 1          # ▁ab
        assert tokens.count("ab abc", len) == 3      # ▁ab ▁ab c
        assert tokens.count("bc", len) == 2          # ▁ bc
