"""The budgeted sandbox, in-process with a small budget (1,000 characters): every one-step growth
is refused before the value is made, and ordinary templates render exactly as Jinja renders them."""

from __future__ import annotations

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from pipeline.adapters.template_budget import BudgetedSandbox, BudgetExceeded

VALUES = {"text": "Some news.", "n": 500_000, "items": ["a", "b"], "label": 2}


def budgeted(timeout: float = 5) -> BudgetedSandbox:
    return BudgetedSandbox(max_chars=1000, timeout=timeout)


def render(env, source: str) -> str:
    return env.render_within_budget(env.from_string(source), VALUES)


@pytest.mark.parametrize("source", [
    "{{ text }} | {{ text|upper }} {{ items|join(', ') }} {{ '%-5s|' % text[:3] }} {{ '{:>6}'.format(label) }}",
    "{{ n }} {{ n|abs }} {{ '%d' % n }} {{ text.replace('.', '!') }} {{ 'x'|center(9) }} {{ [1, 2]|string }}",
    "{% for i in range(3) %}{{ i ~ '-' ~ text }}{% endfor %} {{ 2 ** 10 }} {{ 'ab' * 3 }} {{ items + ['c'] }}",
])
def test_ordinary_templates_render_as_jinja_does(source):
    plain = ImmutableSandboxedEnvironment()
    assert render(budgeted(), source) == plain.from_string(source).render(**VALUES)


@pytest.mark.parametrize("source", [
    "{{ ('a' * 1001) }}", "{{ (['aaaa'] * 300)|length }}", "{{ 7 ** 99999 }}", "{{ ('a' * 600) + ('b' * 600) }}",
    "{{ ('a' * 600) ~ ('b' * 600) }}", "{{ 'a'|center(5000) }}", "{{ 'a'|indent(5000) }}",
    "{{ '%5000s'|format(1) }}", "{{ '%5000s' % 1 }}", "{{ '%*s' % (5000, 'a') }}", "{{ '{:5000}'.format(1) }}",
    "{{ range(600)|join('ab') }}", "{{ ('a' * 100).replace('a', 'a' * 100) }}",
    "{{ ('a' * 100)|replace('a', 'bb' * 50) }}",
    "{{ ('\t' * 100).expandtabs(100) }}", "{% for i in range(2000) %}x{% endfor %}",
])
def test_every_one_step_growth_is_refused_by_the_size_budget(source):
    with pytest.raises(BudgetExceeded, match="size budget"):
        render(budgeted(), source)


def test_a_long_render_is_stopped_by_the_time_budget():
    with pytest.raises(BudgetExceeded, match="time budget of 0.2 s"):
        render(budgeted(timeout=0.2), "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}")
    assert render(budgeted(timeout=0.2), "{{ text }}") == "Some news."  # the timer was disarmed
