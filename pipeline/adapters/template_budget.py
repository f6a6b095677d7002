"""A Jinja sandbox with a time and a size budget, for templates from untrusted files.

Jinja's sandbox stops attribute tricks but not work: nested `range(99999)` loops run for hours
and `'a' * 3000000000` allocates 3 GB in one step. Here every way a template can grow a value in
one step is checked *before* the value is made: the operators `*`, `**`, `+`, `%` and `~`, the
filters and text methods by their size arguments, format widths and the size of what `join`,
`replace` and `string` would make. The rendered output is counted as it streams, and a timer
interrupts a render that takes too long. A broken budget raises `BudgetExceeded` (a sandbox
SecurityError).
"""

from __future__ import annotations

import functools
import re
import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_POWER_BITS = 1 << 16
# the conversion specs of %-formatting and str.format, whose digits are widths and precisions
_FORMAT_SPEC = re.compile(r"%[^a-zA-Z%]*[a-zA-Z%]|\{[^{}]*\}")


class BudgetExceeded(SecurityError):
    """A template went over its time or size budget."""


class _CheckedConcat(CodeGenerator):
    """Compiles `a ~ b` to a call that checks the joined size first (Jinja joins in place)."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        self.write("environment.checked_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with `max_chars` per value and per output, `timeout` s per render."""

    code_generator_class = _CheckedConcat
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, max_chars: int, timeout: float, **kw: Any):
        super().__init__(**kw)
        self.max_chars, self.timeout = max_chars, timeout
        self.filters = {name: self._sized(fn) for name, fn in self.filters.items()}

    def _over(self, size: int, what: str) -> None:
        if size > self.max_chars:
            raise BudgetExceeded(f"{what} would exceed the size budget of {self.max_chars:,} characters")

    def _size(self, value: Any) -> int:
        """Characters `value` becomes as text (stops counting once past the budget)."""
        total, stack = 0, [value]
        while stack and total <= self.max_chars:
            v = stack.pop()
            if isinstance(v, str):
                total += len(v)
            elif isinstance(v, (list, tuple, set, frozenset, dict)):
                total += 2 + 2 * len(v)
                stack.extend((*v.keys(), *v.values()) if isinstance(v, dict) else v)
            elif isinstance(v, int):
                total += v.bit_length() // 3 + 1
            else:
                total += 8
        return total

    def _sized(self, fn: Callable) -> Callable:
        """A filter checked before it runs: its size arguments and what it would make."""
        skip = 2 if hasattr(fn, "jinja_pass_arg") else 1  # the context/environment, then the value

        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if len(args) >= skip:
                args = (*args[:skip - 1], self._check(fn.__name__.removeprefix("do_"), args[skip - 1],
                                                      args[skip:], kwargs), *args[skip:])
            return fn(*args, **kwargs)
        return checked

    def _check(self, name: str, value: Any, args: tuple, kwargs: dict) -> Any:
        """Check a filter or a text method `name` on `value` before it runs; returns `value`
        (an iterator made a list, so that checking it does not use it up)."""
        formatting = name in ("format", "format_map")
        specs = _FORMAT_SPEC.findall(value) if formatting and isinstance(value, str) else []
        if not formatting or any("*" in spec for spec in specs):  # `%*s`: the width is an argument
            for arg in (*args, *kwargs.values()):
                if isinstance(arg, int) and not isinstance(arg, bool):
                    self._over(abs(arg), f"{name} with argument {arg}")
        if name == "join":
            value = value if isinstance(value, (str, list, tuple)) else list(value)
            sep = args[0] if args and isinstance(args[0], str) else kwargs.get("d", "")
            self._over(self._size(list(value)) + len(sep) * max(len(value) - 1, 0), "a join")
        elif not isinstance(value, str):
            if name in ("string", "format"):
                self._over(self._size(value), f"{name} of a value")
        elif formatting:
            for spec in specs:
                for number in re.findall(r"\d+", spec):
                    self._over(int(number), f"a format width of {number}")
            self._over(len(value) + sum(map(self._size, (*args, *kwargs.values()))), "a format")
        elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            n = value.count(args[0]) if args[0] else len(value) + 1
            self._over(len(value) + n * max(len(args[1]) - len(args[0]), 0), "a replace")
        elif name == "expandtabs":
            self._over(len(value) + value.count("\t") * (args[0] if args else 8), "expandtabs")
        return value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Text methods (`'x'.replace(...)`, `'{:9}'.format(...)`) are checked like filters."""
        target = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(target, "__self__", None)
        if isinstance(owner, str):
            __self._check(getattr(target, "__name__", ""), owner, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    self._over(self._size(seq) * n, "a repetition")
        elif op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            if max(left.bit_length(), 1) * right > MAX_POWER_BITS:
                raise BudgetExceeded(f"a power would exceed the size budget ({MAX_POWER_BITS} bits)")
        elif op == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            self._over(self._size(left) + self._size(right), "a concatenation")
        elif op == "%" and isinstance(left, str):
            self._check("format", left, right if isinstance(right, tuple) else (right,), {})
        return self.binop_table[op](left, right)

    def checked_concat(self, parts: tuple) -> str:
        self._over(sum(map(self._size, parts)), "a '~' concatenation")
        return "".join(map(str, parts))

    def render_within_budget(self, template: Any, values: dict) -> str:
        """Render `template`, stopping when the output passes `max_chars` or time runs out."""
        out, size = [], 0
        with self._timer():
            for chunk in template.generate(**values):
                size += len(chunk)
                self._over(size, "the rendered output")
                out.append(chunk)
        return "".join(out)

    @contextmanager
    def _timer(self) -> Iterator[None]:
        """Interrupt the render after `timeout` seconds (SIGALRM: only in the main thread; in
        another thread the size budgets still hold but time is not bounded)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        armed = [True]

        def expire(signum: int, frame: Any) -> None:
            if armed[0]:
                raise BudgetExceeded(f"the render exceeded the time budget of {self.timeout:g} s")

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            yield
        finally:
            armed[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
