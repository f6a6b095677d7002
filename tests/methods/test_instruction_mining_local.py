"""`instruction_mining` with local models (tiny random ones built here): reward score and perplexity.
Skipped without the `ifd` extra (torch, transformers)."""

from __future__ import annotations

import math

import pytest

from tests.methods.conftest import pairs, run, stage_out, write_recipe, write_rows

torch = pytest.importorskip("torch", reason="the ifd extra (torch, transformers) is not installed")
transformers = pytest.importorskip("transformers", reason="the ifd extra (torch, transformers) is not installed")

TEXTS = ["Explain photosynthesis briefly.", "Plants turn light into sugar.", "Name a prime number.", "Seven.",
         "Below is an instruction that describes a task. ### Instruction: ### Response:"]


def tokenizer(folder):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(TEXTS, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "[CLS]", "[SEP]"]))
    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                         cls_token="[CLS]", sep_token="[SEP]").save_pretrained(folder)
    return tok.get_vocab_size()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    torch.manual_seed(0)
    reward = tmp_path_factory.mktemp("reward")
    n = tokenizer(reward)
    transformers.BertForSequenceClassification(transformers.BertConfig(
        vocab_size=n, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        num_labels=1)).save_pretrained(reward)
    lm = tmp_path_factory.mktemp("lm")
    n = tokenizer(lm)
    transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=n, n_positions=128, n_embd=16, n_layer=1,
                                                         n_head=2)).save_pretrained(lm)
    return reward, lm


def test_reward_and_perplexity_with_the_paper_rule(tmp_path, server, models):
    reward, lm = models
    data = write_rows(tmp_path / "r.jsonl", pairs((TEXTS[0], TEXTS[1]), (TEXTS[2], TEXTS[3])))
    recipe = write_recipe(tmp_path, server.base_url, [
        {"id": "im", "op": "instruction_mining", "inputs": ["in"], "reward_model": str(reward),
         "ppl_model": str(lm), "knn_k": 1}], data=data)
    run(recipe, tmp_path / "out")
    kept, _, _ = stage_out(tmp_path / "out", "im")
    for r in kept:
        s = r["meta"]["scores"]["instruction_mining"]
        assert math.isfinite(s["reward"]) and s["ppl"] > 1
        assert s["loss"] == pytest.approx(0.0274 - 0.0078 * s["reward"] + 0.4421 * s["understandability"]
                                          - 0.3212 * s["naturalness"] - 0.1520 * s["coherence"], abs=1e-5)
