"""The `dpo` export format: TRL's conversational preference rows, read back by TRL itself."""

import json

import datasets
import pytest

from pipeline.export.write import write_export
from pipeline.ops.export import complete_or_reason
from pipeline.record import Record


def pair(prompt, chosen, rejected, system=None):
    msgs = ([{"role": "system", "content": system}] if system else []) + prompt
    return Record.new(msgs + [{"role": "assistant", "content": chosen}],
                      {"source": "s", "license": "Apache-2.0", "stage": "pairs",
                       "chosen": {"id": "c", "score": 5.0},
                       "rejected": {"id": "r", "score": 1.0, "content": rejected}})


ROWS = [
    pair([{"role": "user", "content": "Say hi {{ x }}."}], "Hi!", "Go away."),
    pair([{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"},
          {"role": "user", "content": "And 3+3?"}], "6", "7", system="Be brief."),
]


def test_dpo_rows_and_card(tmp_path):
    summary = write_export(lambda: ROWS, tmp_path / "exp", "dpo", name="prefs")
    assert summary.splits == {"train": 2} and summary.files == ["train.jsonl"]
    rows = [json.loads(x) for x in (tmp_path / "exp" / "train.jsonl").read_text().splitlines()]
    assert rows[0] == {"prompt": [{"role": "user", "content": "Say hi {{ x }}."}],
                       "chosen": [{"role": "assistant", "content": "Hi!"}],
                       "rejected": [{"role": "assistant", "content": "Go away."}]}
    assert rows[1]["prompt"] == ROWS[1].messages[:-1]
    assert rows[1]["chosen"] == [{"role": "assistant", "content": "6"}]
    assert rows[1]["rejected"] == [{"role": "assistant", "content": "7"}]
    info = json.loads((tmp_path / "exp" / "dataset_info.json").read_text())  # LLaMA-Factory's ranking entry
    assert info["prefs"]["ranking"] is True and info["prefs"]["file_name"] == "train_llamafactory.jsonl"
    card = (tmp_path / "exp" / "README.md").read_text()
    assert "- dpo\n" in card and "- sft\n" not in card and "DPOTrainer" in card
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "exp" / "train.jsonl"), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert ds.column_names == ["prompt", "chosen", "rejected"] and len(ds) == 2


def test_export_rejects_records_without_a_rejected_answer():
    plain = Record.new([{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}])
    assert complete_or_reason(plain, "messages") is None
    got = complete_or_reason(plain, "dpo")
    assert got.reason == "no_rejected_answer"
    blank = Record.new(plain.messages, {"rejected": {"content": "  "}})
    assert complete_or_reason(blank, "dpo").reason == "no_rejected_answer"
    assert complete_or_reason(ROWS[0], "dpo") is None


def test_trl_reads_the_rows(tmp_path):
    data_utils = pytest.importorskip("trl.data_utils")
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]")),
                                  unk_token="[UNK]", eos_token="[UNK]")
    tok.chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                         "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    write_export(lambda: ROWS, tmp_path / "exp", "dpo", name="prefs")
    ds = datasets.load_dataset("json", data_files=str(tmp_path / "exp" / "train.jsonl"), split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert data_utils.is_conversational(ds[0])
    got = [data_utils.maybe_apply_chat_template(row, tok) for row in ds]
    assert got[0] == {"prompt": "<|user|>Say hi {{ x }}.\n<|assistant|>", "chosen": "Hi!\n",
                      "rejected": "Go away.\n"}
    assert got[1] == {"prompt": "<|system|>Be brief.\n<|user|>2+2?\n<|assistant|>4\n<|user|>And 3+3?\n"
                                "<|assistant|>", "chosen": "6\n", "rejected": "7\n"}
