"""The JSON API of a real `instructpipe review` server: browsing, decisions and their protection."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request

from tests.conftest import cli
from tests.review.conftest import ROWS, needs_server

pytestmark = needs_server


def test_stages_list_the_funnel_and_records_page_in_stable_order(reviewed_run, serve):
    _, run = reviewed_run
    s = serve(run)
    status, data = s.get("/api/stages")
    assert status == 200
    by_id = {st["id"]: st for st in data["stages"]}
    assert [st["id"] for st in data["stages"]] == ["src", "filter", "review", "export"]
    assert by_id["filter"]["records_out"] == 7 and by_id["filter"]["rejected"] == 3
    assert by_id["filter"]["reasons"] == {"banned_keyword": 1, "response_too_short": 1, "incomplete": 1}
    assert by_id["review"]["state"] == "pending"

    pages = [s.get(f"/api/stages/src/records?kind=kept&offset={o}&limit=4")[1] for o in (0, 4, 8)]
    ids = [r["id"] for p in pages for r in p["records"]]
    assert pages[0]["total"] == 10 and len(ids) == 10 == len(set(ids))
    assert [r["messages"][0]["content"] for p in pages for r in p["records"]] == \
        [r["messages"][0]["content"] for r in ROWS]
    again = s.get("/api/stages/src/records?kind=kept&offset=4&limit=4")[1]
    assert [r["id"] for r in again["records"]] == [r["id"] for r in pages[1]["records"]]


def test_search_filters_scores_and_sort(reviewed_run, serve):
    _, run = reviewed_run
    s = serve(run)
    hit = s.get("/api/stages/src/records?q=PARIS")[1]
    assert [r["messages"][1]["content"] for r in hit["records"]] == ["Paris is the capital of France."]
    rej = s.get("/api/stages/filter/records?kind=rejected&reason=response_too_short")[1]
    assert rej["total"] == 1 and rej["records"][0]["rejected"]["detail"] == "1 words < 3"
    assert rej["facets"]["reason"] == {"banned_keyword": 1, "response_too_short": 1, "incomplete": 1}
    src_b = s.get("/api/stages/src/records?source=src_b")[1]
    assert src_b["total"] == 5 and {r["meta"]["source"] for r in src_b["records"]} == {"src_b"}
    ranged = s.get("/api/stages/src/records?min.judge=2&max.judge=4")[1]
    assert sorted(r["meta"]["scores"]["judge"] for r in ranged["records"]) == [2, 3, 4]
    ordered = s.get("/api/stages/src/records?sort=judge&order=desc&limit=6")[1]
    assert [r["meta"].get("scores", {}).get("judge") for r in ordered["records"]] == [5, 4, 3, 2, 1, None]
    status, err = s.get("/api/stages/src/records?kind=bogus")
    assert status == 400 and "kind" in err["error"]
    status, err = s.get("/api/stages/nope/records")
    assert status == 400 and "no stage 'nope'" in err["error"]


def test_record_text_is_escaped_and_markdown_keeps_code(reviewed_run, serve):
    _, run = reviewed_run
    s = serve(run)
    rec = s.get("/api/stages/src/records?q=pwned")[1]["records"][0]
    html = rec["messages"][1]["html"]
    assert "<script>" not in html and "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert '<pre><code class="language-html">&lt;script&gt;x()&lt;/script&gt;' in html
    assert "<code>&lt;b&gt;bold&lt;/b&gt;</code>" in html


def test_post_without_the_page_protection_is_refused(reviewed_run, serve):
    _, run = reviewed_run
    s = serve(run)
    rid = s.get("/api/stages/filter/records")[1]["records"][0]["id"]
    body = {"stage": "filter", "record_id": rid, "action": "accept"}
    assert s.post("/api/decisions", body, csrf=False)[0] == 403
    assert s.post("/api/decisions", body, headers={"X-Review-Token": "guess"})[0] == 403
    assert s.post("/api/decisions", body, headers={"Origin": "http://evil.example"})[0] == 403
    assert s.post("/api/decisions", body, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert s.post("/api/decisions", body, headers={"Content-Type": "text/plain"})[0] == 415
    assert s.get("/api/stages", headers={"Host": "attacker.example"})[0] == 403  # DNS rebinding
    assert not (run / "reviews" / "filter.jsonl").exists()
    status, ok = s.post("/api/decisions", body, headers={"Origin": s.base})
    assert status == 200 and ok["decision"]["action"] == "accept"
    lines = (run / "reviews" / "filter.jsonl").read_text().splitlines()
    assert [json.loads(x)["record_id"] for x in lines] == [rid]
    bad = s.post("/api/decisions", {"stage": "filter", "record_id": rid, "action": "edit",
                                    "messages": [{"role": "assistant", "content": "x"}]})
    assert bad[0] == 400 and "messages" in bad[1]["error"]
    assert s.post("/api/decisions", {"stage": "filter", "record_id": "nope", "action": "accept"})[0] == 400
    assert len((run / "reviews" / "filter.jsonl").read_text().splitlines()) == 1


def _lan_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent for a UDP connect
            return probe.getsockname()[0]
        except OSError:
            return None


def test_non_loopback_bind_needs_the_printed_token(reviewed_run, serve):
    _, run = reviewed_run
    s = serve(run, "--host", "0.0.0.0")
    assert "?token=" in s.url
    token = s.url.split("?token=", 1)[1]
    assert s.get("/api/stages")[0] == 403
    assert s.get("/")[0] == 403
    assert s.get("/?token=wrong")[0] == 403
    status, text = s.get("/static/review.js")
    assert status == 403

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(s.base + f"/?token={token}")
        raise AssertionError("expected a redirect")
    except urllib.error.HTTPError as e:
        assert e.code == 303
        cookie = e.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    jar = cookie.split(";", 1)[0]
    assert s.get("/api/stages", headers={"Cookie": jar})[0] == 200
    lan = _lan_address()
    if lan and not lan.startswith("127."):
        req = urllib.request.Request(f"http://{lan}:{s.base.rsplit(':', 1)[1]}/api/stages")
        try:
            urllib.request.urlopen(req)
            raise AssertionError("no token, yet answered")
        except urllib.error.HTTPError as e:
            assert e.code == 403


def test_concurrent_reviewers_decisions_all_land(reviewed_run, serve):
    _, run = reviewed_run
    s = serve(run)
    ids = [r["id"] for r in s.get("/api/stages/src/records")[1]["records"]]
    errors: list = []

    def reviewer(name: str, server) -> None:
        for i in range(30):
            status, answer = server.post("/api/decisions", {"stage": "src", "record_id": ids[i % len(ids)],
                                                  "action": "flag" if i % 3 else "accept", "reviewer": name,
                                                  "reason": "x" * (i * 50)})
            if status != 200:
                errors.append((status, answer))

    other = serve(run)  # a second server process on the same run appends to the same file
    threads = [threading.Thread(target=reviewer, args=(f"r{k}", s if k % 2 else other)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    lines = (run / "reviews" / "src.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b""
    parsed = [json.loads(x) for x in lines[:-1]]
    assert len(parsed) == 240
    assert {p["reviewer"] for p in parsed} == {f"r{k}" for k in range(8)}
    stages = {st["id"]: st for st in s.get("/api/stages")[1]["stages"]}
    assert stages["src"]["reviewed"] == 10 and len(stages["src"]["reviewers"]) == 8


def test_bulk_action_on_the_current_filter(reviewed_run, serve):
    _, run = reviewed_run
    s = serve(run)
    status, res = s.post("/api/stages/filter/bulk?kind=kept&source=src_b", {"action": "reject", "reason": "batch"})
    assert status == 200 and res["decided"] == 4
    lines = [json.loads(x) for x in (run / "reviews" / "filter.jsonl").read_text().splitlines()]
    assert {x["action"] for x in lines} == {"reject"} and {x["reason"] for x in lines} == {"batch"}
    left = s.get("/api/stages/filter/records?decision=unreviewed")[1]
    assert left["total"] == 3 and {r["meta"]["source"] for r in left["records"]} == {"src_a"}
    assert s.post("/api/stages/filter/bulk", {"action": "edit"})[0] == 400


def test_bad_port_and_missing_run_are_one_line_errors(tmp_path):
    proc = cli("review", str(tmp_path / "missing"))
    assert proc.returncode == 1 and proc.stderr.strip().startswith("error: ") and "no such run folder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_unknown_stage_option_is_one_line_error(reviewed_run):
    _, run = reviewed_run
    proc = cli("review", str(run), "--stage", "nope")
    assert proc.returncode == 1 and proc.stderr.strip() == \
        "error: stage: no stage 'nope' in this run (stages: src, filter, review, export)"


def test_server_killed_while_reviewers_write_leaves_a_readable_file(reviewed_run, serve):
    _, run = reviewed_run
    s = serve(run)
    ids = [r["id"] for r in s.get("/api/stages/src/records")[1]["records"]]
    big = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "y" * 1_500_000}]
    landed: list[int] = []

    def reviewer(k: int) -> None:
        for i in range(200):
            try:
                status, _ = s.post("/api/decisions", {"stage": "src", "record_id": ids[i % len(ids)], "action": "edit",
                                                      "messages": big, "reviewer": f"r{k}"})
            except OSError:
                return
            if status == 200:
                landed.append(1)

    threads = [threading.Thread(target=reviewer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    while len(landed) < 3:
        threading.Event().wait(0.02)
    s.proc.kill()  # SIGKILL, most likely in the middle of a 1.5 MB append
    for t in threads:
        t.join()
    s.proc.wait()
    path = run / "reviews" / "src.jsonl"
    content = path.read_bytes()
    complete = content[:content.rfind(b"\n") + 1].split(b"\n")[:-1]
    assert len(complete) >= len(landed)  # every answered decision is on disk
    assert all(json.loads(x)["messages"] == big for x in complete)
    again = serve(run)
    assert again.post("/api/decisions", {"stage": "src", "record_id": ids[0], "action": "accept"})[0] == 200
    stages = {st["id"]: st for st in again.get("/api/stages")[1]["stages"]}
    assert stages["src"]["reviewed"] == len({json.loads(x)["record_id"] for x in complete} | {ids[0]})
    last = path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    assert json.loads(last)["action"] == "accept"


def test_agreement_endpoint_compares_reviewers_and_the_judge(reviewed_run, serve):
    _, run = reviewed_run
    s = serve(run)
    recs = s.get("/api/stages/src/records?min.judge=0")[1]["records"]  # the 5 records with a judge score
    for r in recs:
        high = r["meta"]["scores"]["judge"] >= 3
        s.post("/api/decisions", {"stage": "src", "record_id": r["id"], "reviewer": "ann",
                                  "action": "accept" if high else "reject"})
        s.post("/api/decisions", {"stage": "src", "record_id": r["id"], "reviewer": "bob", "action": "accept"})
    status, a = s.get("/api/stages/src/agreement")
    assert status == 200 and a["reviewers"] == ["ann", "bob"] and a["reviewed"] == 5
    assert a["pairs"][0]["n"] == 5 and a["pairs"][0]["agree"] == 0.6
    judge = next(r for r in a["raters"] if r["name"].startswith("scores.judge"))
    assert judge["name"] == "scores.judge >= 3 (median)"
    # newest verdict per record is bob's accept: 3 of 5 have judge >= 3
    assert judge["table"] == {"accept": {"accept": 3, "reject": 2}, "reject": {"accept": 0, "reject": 0}}
