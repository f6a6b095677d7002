"""Safe arithmetic score expressions over `meta.scores`, e.g. `quality * complexity`.

Parsed once with `ast` and checked against a whitelist: numbers, names (a score, or a dotted
path into nested scores: `judge.accuracy`), + - * / // % **, unary minus, and the functions
min, max, abs, sqrt, log, exp, sum, mean. Per-turn scores given as lists of numbers combine
element-wise, so Deita's `sum(complexity * quality)` works. Nothing else can run.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

import numpy as np

BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}


def _reduce(fn):
    return lambda *a: fn(np.asarray(a[0], dtype=float)) if len(a) == 1 else fn(np.asarray(a, dtype=float), axis=0)


FUNCTIONS = {"min": _reduce(np.min), "max": _reduce(np.max), "sum": np.sum, "mean": np.mean,
             "abs": np.abs, "sqrt": np.sqrt, "log": np.log, "exp": np.exp}


class ExprError(ValueError):
    """The expression is not allowed, or a record's scores cannot feed it."""


def _path(node: ast.AST) -> str:
    if isinstance(node, ast.Name) and not node.id.startswith("_"):
        return node.id
    if isinstance(node, ast.Attribute) and not node.attr.startswith("_"):
        return f"{_path(node.value)}.{node.attr}"
    raise ExprError(f"not allowed: {ast.dump(node)[:60]}")


def check(node: ast.AST) -> None:
    """Raise ExprError unless every node is whitelisted."""
    if isinstance(node, ast.Expression):
        check(node.body)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, (int, float)) or isinstance(node.value, bool):
            raise ExprError(f"only numbers are allowed as constants, not {node.value!r}")
    elif isinstance(node, (ast.Name, ast.Attribute)):
        _path(node)
    elif isinstance(node, ast.BinOp) and type(node.op) in BINARY:
        check(node.left)
        check(node.right)
    elif isinstance(node, ast.UnaryOp) and type(node.op) in UNARY:
        check(node.operand)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
            and not node.keywords and node.args:
        for arg in node.args:
            check(arg)
    else:
        raise ExprError(f"not allowed in a score expression: {ast.unparse(node)!r} "
                        f"(use numbers, score names, + - * / // % **, {', '.join(FUNCTIONS)})")


class ScoreExpr:
    def __init__(self, text: str):
        try:
            self.tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as e:
            raise ExprError(f"invalid expression {text!r}: {e.msg}") from None
        check(self.tree)
        self.text = text

    def value(self, scores: dict) -> float:
        """The expression's value for one record's scores; ExprError when a score is missing or bad."""
        out = self._eval(self.tree.body, scores)
        arr = np.asarray(out, dtype=float)
        if arr.size != 1 or not math.isfinite(float(arr.reshape(-1)[0])):
            raise ExprError(f"{self.text!r} gave {out!r}, not one finite number")
        return float(arr.reshape(-1)[0])

    def _eval(self, node: ast.AST, scores: dict) -> Any:
        if isinstance(node, ast.Constant):
            return np.float64(node.value)  # numpy scalars: x/0 gives inf (caught below), not an exception
        if isinstance(node, (ast.Name, ast.Attribute)):
            return lookup(scores, _path(node))
        if isinstance(node, ast.BinOp):
            with np.errstate(all="ignore"):
                return BINARY[type(node.op)](self._eval(node.left, scores), self._eval(node.right, scores))
        if isinstance(node, ast.UnaryOp):
            return UNARY[type(node.op)](self._eval(node.operand, scores))
        with np.errstate(all="ignore"):
            return FUNCTIONS[node.func.id](*(self._eval(a, scores) for a in node.args))


def lookup(scores: dict, path: str) -> Any:
    value: Any = scores
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ExprError(f"meta.scores has no {path!r}")
        value = value[part]
    if isinstance(value, list) and value and all(_number(v) for v in value):
        return np.asarray(value, dtype=float)
    if not _number(value):
        raise ExprError(f"meta.scores.{path} is {value!r}, not a number")
    return np.float64(value)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)
