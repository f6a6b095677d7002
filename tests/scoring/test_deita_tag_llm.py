"""`score_deita` and `tag` end to end against the local OpenAI-compatible server."""

from __future__ import annotations

import json

from tests.conftest import FIXTURES, SAMPLES
from tests.scoring.conftest import llm_block, lines, run_recipe, stats, write_recipe
from tests.scoring.scripted import deita_server, tag_server

OASST = FIXTURES / "scoring" / "oasst1_paths_5.jsonl"


def deita_recipe(tmp_path, server, **params):
    stages = [
        {"id": "oasst", "op": "ingest", "source": "messages", "path": str(OASST)},
        {"id": "alpaca", "op": "ingest", "source": "alpaca", "path": str(SAMPLES / "alpaca_sample.json"),
         "limit": 4},
        {"id": "deita", "op": "score_deita", "inputs": ["oasst", "alpaca"], **params},
    ]
    return write_recipe(tmp_path, "deitatest", llm_block(server), stages)


def first_user(rec):
    return next(m["content"] for m in rec["messages"] if m["role"] == "user")


def test_deita_scores_per_turn_with_logprobs(tmp_path, server):
    server.reply_fn = deita_server({"How would the Future of AI": ["excellent", "5"],
                                    "Remove the unnecessary word": ["excellent"]})
    out = tmp_path / "run"
    run_recipe(deita_recipe(tmp_path, server), out)
    st = stats(out, "deita")
    assert (st["records_in"], st["records_out"], st["rejected"]) == (9, 8, 1)
    assert st["dropped_deita_unparsable"] == 1
    # 11 user turns get a complexity score, 9 answered turns a quality score; 1 + 2 re-asks
    assert (st["scored_by_logprobs"], st["scored_by_text"], st["reasked"]) == (11, 8, 3)
    assert server.completions == 11 + 9 + 3
    assert all(c.body["logprobs"] is True and c.body["top_logprobs"] == 20 for c in server.calls)
    kept = {first_user(r)[:25]: r["meta"] for r in lines(out / "deita" / "data.jsonl")}
    # one turn, long query (complexity 0.5*5 + 0.5*6 = 5.5), quality 4
    assert kept["Can you please provide me"]["scores"] == {"deita_complexity": 5.5, "deita_quality": 4.0,
                                                          "deita_score": 22.0}
    # short query: 0.8*2 + 0.2*1 = 1.8; quality re-asked once, then 5
    assert kept["How would the Future of A"]["scores"] == {"deita_complexity": 1.8, "deita_quality": 5.0,
                                                          "deita_score": 9.0}
    # two turns (32 and 84 characters): 1.8*4 + 5.5*4
    two = kept["What do you think about C"]
    assert two["scores"] == {"deita_complexity": 3.65, "deita_quality": 4.0, "deita_score": 29.2}
    assert two["deita"] == {"complexity": [1.8, 5.5], "quality": [4.0, 4.0], "method": ["logprobs", "text"]}
    # an open record gets complexity only
    assert kept["Standardize the following"]["scores"] == {"deita_complexity": 5.5}
    bad = lines(out / "deita" / "rejected.jsonl")[0]
    assert first_user(bad["record"]).startswith("Remove the unnecessary word")
    assert bad["raw"] == ["excellent"] * 3


def test_deita_without_logprobs_reads_the_number(tmp_path, server):
    server.reply_fn = deita_server({})
    out = tmp_path / "run"
    run_recipe(deita_recipe(tmp_path, server, logprobs=False, scores=["complexity"]), out)
    st = stats(out, "deita")
    assert (st["records_out"], st["scored_by_text"], st.get("scored_by_logprobs", 0)) == (9, 11, 0)
    assert server.completions == 11 and all("logprobs" not in c.body for c in server.calls)
    kept = {first_user(r)[:25]: r["meta"]["scores"] for r in lines(out / "deita" / "data.jsonl")}
    assert kept["What do you think about C"] == {"deita_complexity": 3.5}
    assert kept["Can you please provide me"] == {"deita_complexity": 5.0}


def tags(*names):
    return json.dumps([{"tag": n, "explanation": f"about {n}"} for n in names])


TAGS = {
    "Can you please provide me": [tags("Sports Trivia", "fact lookup")],
    "How would the Future of AI": ["```json\n" + tags("future prediction", "Artificial-Intelligence") + "\n```"],
    "Using the Roblox Luau": ["Sure! " + tags("coding"), tags("Coding", "game development", "Lua programming")],
    "What do you think about ChatGPT": [tags("artificial intelligence", "opinion", "AI chatbots")],
    "How can L’Hopital’s Rule": [tags("math", "Calculus", "real-world application")],
    "Generate a list of marketing": [tags("marketing", "app promotion", "list generation")],
    "Standardize the following date": [tags("date formatting", "Programs")],
    "Remove the unnecessary word": ["[{'tag': 'editing'}]"],
    "Create an illustration": [tags("drawing", "illustrations", "Real world applications")],
}


def tag_recipe(tmp_path, server, **tag_params):
    tag_params = {"min_count": 1, **tag_params}      # nine records: InsTag's 20 would drop every tag
    tag_params = {k: v for k, v in tag_params.items() if v is not None}
    stages = [
        {"id": "oasst", "op": "ingest", "source": "messages", "path": str(OASST)},
        {"id": "alpaca", "op": "ingest", "source": "alpaca", "path": str(SAMPLES / "alpaca_sample.json"),
         "limit": 4},
        {"id": "tags", "op": "tag", "inputs": ["oasst", "alpaca"], **tag_params},
        {"id": "single", "op": "filter", "inputs": ["tags"], "max_turns": 1},
        {"id": "subset_tags", "op": "tag", "inputs": ["single"], "coverage_of": "tags", "min_count": 1},
    ]
    return write_recipe(tmp_path, "tagtest", llm_block(server), stages)


def test_tags_normalised_counted_and_covered(tmp_path, server):
    server.reply_fn = tag_server(TAGS)
    out = tmp_path / "run"
    run_recipe(tag_recipe(tmp_path, server), out)
    st = stats(out, "tags")
    assert (st["records_in"], st["records_out"], st["rejected"], st["dropped_tag_bad_json"]) == (9, 8, 1, 1)
    assert st["reasked"] == 1 + 2
    assert server.completions == 9 + 1 + 2          # the subset stage was answered from the cache
    kept = {first_user(r)[:25]: r["meta"] for r in lines(out / "tags" / "data.jsonl")}
    assert kept["How would the Future of A"]["tags"] == ["future prediction", "artificial intelligence"]
    assert kept["Using the Roblox Luau lan"]["tags"] == ["coding", "game development", "lua programming"]
    assert kept["Using the Roblox Luau lan"]["scores"] == {"instag_complexity": 3}
    # "real-world application" / "Real world applications" merge by stem, shown in the most
    # frequent form, then the shortest; "Programs" stays apart from "lua programming"
    assert kept["How can L’Hopital’s Rule "]["tags"] == ["math", "calculus", "real world application"]
    assert kept["Create an illustration fo"]["tags"] == ["drawing", "illustrations", "real world application"]
    summary = json.loads((out / "tags" / "tags.json").read_text())
    assert summary["records"] == 8 and summary["unique_tags"] == 19
    assert summary["complexity"] == round(21 / 8, 4)
    assert list(summary["tags"].items())[:2] == [("artificial intelligence", 2), ("real world application", 2)]
    sub = json.loads((out / "subset_tags" / "tags.json").read_text())
    # the 6 single-turn records carry 15 of the 19 tags (not: opinion, ai chatbots, math, calculus)
    assert (sub["records"], sub["unique_tags"], sub["coverage_of"]) == (6, 15, "tags")
    assert sub["coverage"] == round(15 / 19, 4)
    bad = lines(out / "tags" / "rejected.jsonl")[0]
    assert bad["reason"] == "tag_bad_json" and bad["raw"] == ["[{'tag': 'editing'}]"] * 3


def test_instag_merges_semantic_and_association(tmp_path, server):
    # "AI chatbots" and "artificial intelligence chatbots" are one tag by meaning (hashing embedder:
    # shared words); "lua programming" only ever comes with "coding": merged into it
    # ("chatbot ai" and "ai chatbot": the same words, cosine distance 1/3 with the hashing embedder)
    table = {**TAGS, "What do you think about ChatGPT": [tags("artificial intelligence", "opinion", "ai chatbot")],
             "How would the Future of AI": [tags("future prediction", "chatbot ai")]}
    server.reply_fn = tag_server(table)
    out = tmp_path / "run"
    run_recipe(tag_recipe(tmp_path, server, semantic_merge=0.4), out)
    assert stats(out, "tags")["tags_merged_semantic"] == 1
    kept = {first_user(r)[:25]: r["meta"] for r in lines(out / "tags" / "data.jsonl")}
    assert kept["How would the Future of A"]["tags"][1] == kept["What do you think about C"]["tags"][2]
    assert kept["What do you think about C"]["tags"][2] in ("ai chatbot", "chatbot ai")
    # with a support of one record every tag of a query that no other query shares merges into one
    run_recipe(tag_recipe(tmp_path, server, association_merge=True, min_support=1), tmp_path / "assoc")
    kept = {first_user(r)[:25]: r["meta"] for r in lines(tmp_path / "assoc" / "tags" / "data.jsonl")}
    assert len(kept["Using the Roblox Luau lan"]["tags"]) == 1


def test_instag_frequency_floor_is_the_papers_by_default(tmp_path, server):
    server.reply_fn = tag_server(TAGS)
    out = tmp_path / "run"
    run_recipe(tag_recipe(tmp_path, server, min_count=None), out)
    kept = lines(out / "tags" / "data.jsonl")
    # no tag reaches 20 records in nine: every record keeps none (complexity 0), none is lost
    assert len(kept) == 8 and all(r["meta"]["tags"] == [] for r in kept)
