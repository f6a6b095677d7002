"""A Jinja sandbox with a time and a size budget, for templates from untrusted files.

Jinja's sandbox stops attribute tricks but not work: nested `range(99999)` loops run for hours
and `'a' * 3000000000` allocates 3 GB in one step. Here every value a template could grow in one
step (`*`, `**`, `+`, `~`, size arguments of filters such as `center`) is checked *before* it is
made, the rendered output is counted as it streams, and a timer interrupts a render that takes
too long. A broken budget raises `BudgetExceeded` (a sandbox SecurityError).
"""

from __future__ import annotations

import functools
import operator
import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Concat
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_POWER_BITS = 1 << 16


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
    intercepted_binops = frozenset({"*", "**", "+"})

    def __init__(self, *, max_chars: int, timeout: float, **kw: Any):
        super().__init__(**kw)
        self.max_chars, self.timeout = max_chars, timeout
        self.filters = {name: self._sized(fn) for name, fn in self.filters.items()}

    def _over(self, size: int, what: str) -> None:
        if size > self.max_chars:
            raise BudgetExceeded(f"{what} would exceed the size budget of {self.max_chars:,} characters")

    def _sized(self, fn: Callable) -> Callable:
        """A filter whose integer arguments (widths, counts) are checked against the budget."""
        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            for value in (*args, *kwargs.values()):
                if isinstance(value, int) and not isinstance(value, bool):
                    self._over(abs(value), f"filter {fn.__name__} argument {value}")
            return fn(*args, **kwargs)
        return checked

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(n, int):
                    self._over(len(seq) * n, "a repetition")
        elif op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            if max(left.bit_length(), 1) * right > MAX_POWER_BITS:
                raise BudgetExceeded(f"a power would exceed the size budget ({MAX_POWER_BITS} bits)")
        elif op == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            self._over(len(left) + len(right), "a concatenation")
        return {"*": operator.mul, "**": operator.pow, "+": operator.add}[op](left, right)

    def checked_concat(self, parts: tuple) -> str:
        texts = [str(p) for p in parts]
        self._over(sum(map(len, texts)), "a '~' concatenation")
        return "".join(texts)

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
