import json

import pytest

from pipeline.errors import InputError
from pipeline.record import Record, Rejected, check_messages, content_id


def msgs(*roles):
    return [{"role": r, "content": f"text {i}"} for i, r in enumerate(roles)]


def codes(messages, **kw):
    return [p.code for p in check_messages(messages, **kw)]


def test_valid_shapes():
    assert codes(msgs("user")) == []
    assert codes(msgs("system", "user", "assistant")) == []
    assert codes(msgs("user", "assistant", "user", "assistant"), complete=True) == []


def test_role_order_problems_name_turn_and_field():
    problems = check_messages(msgs("user", "user"))
    assert [p.code for p in problems] == ["roles_not_alternating@turn2"]
    assert str(problems[0]) == "messages[1].role: expected 'assistant', got 'user'"
    assert codes(msgs("assistant", "user")) == ["first_turn_not_user"]
    assert codes(msgs("user", "system")) == ["system_not_first@turn2"]
    assert codes(msgs("system")) == ["no_user_turn"]
    assert codes([{"role": "bing", "content": "x"}]) == ["bad_role@turn1"]
    assert codes(msgs("user"), complete=True) == ["incomplete"]


def test_content_problems():
    assert codes([{"role": "user", "content": "  "}]) == ["empty_content@turn1"]
    assert codes([{"role": "user"}]) == ["bad_schema@turn1"]
    assert codes([{"role": "user", "content": 3}]) == ["bad_schema@turn1"]
    assert codes([{"role": "user", "content": "x", "name": "bob"}]) == ["bad_schema@turn1"]
    assert codes("not a list") == ["bad_schema:messages"]
    assert codes([]) == ["empty_messages"]


def test_content_id_is_stable_and_ignores_meta():
    a = Record.new(msgs("user", "assistant"), {"source": "x"})
    b = Record.new(msgs("user", "assistant"), {"source": "y"})
    assert a.id == b.id == content_id(a.messages)
    assert len(a.id) == 16
    c = Record.new([{"role": "user", "content": "text 0"}, {"role": "assistant", "content": "other"}])
    assert c.id != a.id


def test_from_dict_names_where_and_field():
    with pytest.raises(InputError, match=r"f.jsonl:3: messages\[1\].role: expected 'assistant'"):
        Record.from_dict({"id": "x", "messages": msgs("user", "user"), "meta": {}}, where="f.jsonl:3")
    with pytest.raises(InputError, match="extra: unknown key"):
        Record.from_dict({"id": "x", "messages": msgs("user"), "extra": 1})


def test_derive_links_parent_and_round_trips_json():
    parent = Record.new(msgs("user"), {"source": "s", "stage": "a"})
    child = parent.derive(msgs("user", "assistant"), stage="b")
    assert child.meta == {"source": "s", "stage": "b", "parents": [parent.id]}
    assert Record.from_dict(json.loads(child.to_json())) == child
    assert child.complete and not parent.complete
    assert child.instruction == "text 0" and child.response == "text 1"


def test_rejected_counter_strips_turn_suffix():
    r = Rejected("roles_not_alternating@turn3", "detail", raw={"a": 1}, where="f:2")
    assert r.counter == "dropped_roles_not_alternating"
    assert json.loads(r.to_json()) == {"reason": "roles_not_alternating@turn3", "detail": "detail",
                                       "where": "f:2", "raw": {"a": 1}}
