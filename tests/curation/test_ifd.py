"""ifd with a tiny randomly initialised GPT-2 and word-level tokenizer built here from the
fixture texts (no download); skipped without the `ifd` extra (torch, transformers)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the ifd extra (torch, transformers) is not installed")
transformers = pytest.importorskip("transformers", reason="the ifd extra (torch, transformers) is not installed")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from tests.curation.conftest import fixture_rows

    texts = [x["instruction"] + " " + x["input"] + " " + x["output"] for x in fixture_rows("alpaca_slice.json")]
    texts.append("Below is an instruction that describes a task. ### Instruction: ### Response:")
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]"], vocab_size=3000))
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]")
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=256, n_embd=32, n_layer=2,
                                     n_head=2, initializer_range=0.5)  # large weights: IFDs spread away from 1
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_ifd_scores_drops_above_one_and_keeps_the_top(run_stages, ingest, tiny_model):
    stages = [ingest("alpaca", "alpaca_slice.json", limit=60)]
    r = run_stages(*stages, {"id": "ifd", "op": "ifd", "inputs": ["alpaca"], "model": str(tiny_model),
                             "max_length": 64})
    scored = r.records("ifd")
    values = [x["meta"]["scores"]["ifd"] for x in scored]
    # records with an input are scored in Alpaca's template with its Input section (Cherry LLM)
    assert r.reasons("ifd") == {"ifd_above_1": 24, "ifd_too_long": 6}
    assert len(scored) == 30 and max(values) <= 1
    above = [x for x in r.rejected("ifd") if x["reason"] == "ifd_above_1"]
    assert all(x["record"]["meta"]["scores"]["ifd"] > 1 for x in above)
    s = scored[0]["meta"]["scores"]
    assert s["ifd"] == pytest.approx(s["ifd_loss_conditioned"] / s["ifd_loss_direct"], rel=1e-4)

    r = run_stages(*stages, {"id": "ifd", "op": "ifd", "inputs": ["alpaca"], "model": str(tiny_model),
                             "max_length": 64, "fraction": 0.25}, out="top")
    # the fraction is of the 30 records that pass IFD <= 1 (Cherry LLM's sample_rate), not of all 60
    assert r.reasons("ifd") == {"ifd_above_1": 24, "ifd_too_long": 6, "ifd_not_top": 23}
    top = sorted(x["meta"]["scores"]["ifd"] for x in r.records("ifd"))
    assert len(top) == 7 and top[0] >= max(x["record"]["meta"]["scores"]["ifd"] for x in r.rejected("ifd")
                                            if x["reason"] == "ifd_not_top")


def test_missing_model_folder_is_a_config_error(run_stages, ingest, tmp_path):
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="never downloaded"):
        run_stages(ingest("alpaca", "alpaca_slice.json", limit=3),
                   {"id": "ifd", "op": "ifd", "inputs": ["alpaca"], "model": str(tmp_path / "nothing")})


@pytest.mark.slow
def test_brief_experience_sample_per_cluster(run_stages, ingest, tiny_model):
    pytest.importorskip("sklearn", reason="ifd_experience needs scikit-learn (the ifd extra)")
    stages = [ingest("alpaca", "alpaca_slice.json", limit=60)]
    r = run_stages(*stages, {"id": "exp", "op": "ifd_experience", "inputs": ["alpaca"], "model": str(tiny_model),
                             "max_length": 64, "clusters": 4, "per_cluster": 3})
    kept, rejected = r.records("exp"), r.rejected("exp")
    assert len(kept) + len(rejected) == 60 and {x["reason"] for x in rejected} == {"not_sampled"}
    clusters = [x["meta"]["cluster"] for x in kept]
    # at most 3 per cluster, from the middle of each cluster's prompt perplexities
    assert set(clusters) <= {0, 1, 2, 3} and max(clusters.count(c) for c in set(clusters)) <= 3
    assert len(kept) >= 4
    for c in set(clusters):
        band = sorted(x["record"]["meta"]["scores"]["prompt_ppl"] for x in rejected
                      if x["record"]["meta"]["cluster"] == c) + \
            [x["meta"]["scores"]["prompt_ppl"] for x in kept if x["meta"]["cluster"] == c]
        ours = [x["meta"]["scores"]["prompt_ppl"] for x in kept if x["meta"]["cluster"] == c]
        if len(band) >= 3:
            assert min(ours) >= np.percentile(band, 25) - 1e-6 and max(ours) <= np.percentile(band, 75) + 1e-6


def test_deita_causal_lm_embedder(run_stages, ingest, tiny_model):
    # Deita's selection embedder: the last token's hidden state of a causal LM, normalised
    from pipeline.embed import load_embedder

    emb = load_embedder(f"clm:{tiny_model}", 1024, 4)
    texts = ["Sum the numbers 2 and 3 .", "Sum the numbers 2 and 3 .", "Name three colours of the sea ."]
    m = emb.embed(texts)
    assert m.shape[0] == 3 and np.allclose(np.linalg.norm(m, axis=1), 1, atol=1e-5)
    assert float(m[0] @ m[1]) == pytest.approx(1.0, abs=1e-5) and float(m[0] @ m[2]) < 0.999
    # padding in a batch does not move a text's vector (right padding, last real token)
    alone = emb.embed(texts[2:])
    assert np.allclose(alone[0], m[2], atol=1e-4)
    r = run_stages(ingest("alpaca", "alpaca_slice.json", limit=20),
                   {"id": "pick", "op": "select", "inputs": ["alpaca"], "budget": 5, "embedder": f"clm:{tiny_model}",
                    "tau": 0.99})
    assert len(r.records("pick")) == 5
