"""`ifs` with a local classifier folder (a tiny random BERT built here); skipped without the `ifd` extra."""

from __future__ import annotations

import pytest

from tests.methods.conftest import pairs, run, stage_out, write_recipe, write_rows

torch = pytest.importorskip("torch", reason="the ifd extra (torch, transformers) is not installed")
transformers = pytest.importorskip("transformers", reason="the ifd extra (torch, transformers) is not installed")


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(["the answer is red and blue", "to practise every day"],
                            trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "[CLS]", "[SEP]"]))
    folder = tmp_path_factory.mktemp("tiny-bert")
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                         cls_token="[CLS]", sep_token="[SEP]").save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=tok.get_vocab_size(), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, num_labels=2)
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    return folder


def test_local_classifier_labels_every_response(tmp_path, tiny_classifier, server):
    data = write_rows(tmp_path / "r.jsonl", pairs(("Colours?", "the answer is red and blue"),
                                                  ("Learning is", "to practise every day")))
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "ifs", "op": "ifs", "inputs": ["in"], "classifier": str(tiny_classifier),
         "drop_continuations": False}], data=data)
    run(recipe, tmp_path / "out")
    kept, _, stats = stage_out(tmp_path / "out", "ifs")
    assert not server.hits                                   # no LLM call with a local classifier
    for r in kept:
        s = r["meta"]["scores"]
        assert 0 <= s["ifs_p"] <= 1 and s["ifs"] == (1 if s["ifs_p"] >= 0.5 else 0)
    assert stats["ifs_answer"] + stats["ifs_continuation"] == 2


def test_unknown_answer_label_is_a_config_error(tmp_path, tiny_classifier, server):
    from pipeline.errors import ConfigError

    data = write_rows(tmp_path / "r.jsonl", pairs(("Colours?", "red")))
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "ifs", "op": "ifs", "inputs": ["in"], "classifier": str(tiny_classifier),
         "answer_label": "ANSWER"}], data=data)
    with pytest.raises(ConfigError, match="not a label"):
        run(recipe, tmp_path / "out")
