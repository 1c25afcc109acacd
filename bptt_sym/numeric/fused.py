"""Sums and elementwise products of NumPy arrays with fewer fresh arrays: ``1 − z`` as one
subtraction (SymPy writes it OneMatrix + (−1)·z: three arrays), and every term after the
first two added into the array the first addition made (``out += v``), never into a value
that another expression shares.  What is computed is the same sum, in the same order of
terms; only where the result is written changes.  :func:`occurrences` counts how often each
subexpression of a program occurs, so that only a shared one keeps its value in a call's
memo (:func:`bptt_sym.numeric.matrix.compile_expr`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import sympy as sp

__all__ = ["fused_sum", "fused_product", "occurrences"]

Compiled = Callable[[Mapping[str, object]], object]


def _into(out: np.ndarray, v: object, op: Callable, fresh: bool) -> tuple[np.ndarray, bool]:
    """``op(out, v)``: in place when ``out`` is this closure's own array and ``v`` fits."""
    if fresh:
        try:
            op(out, v, out=out)
            return out, True
        except (ValueError, TypeError):  # v broadcasts to a larger shape than out
            pass
    return op(out, v), True


def fused_sum(expr: sp.MatAdd, compile_: Callable[[sp.Basic], Compiled]) -> Compiled | None:
    """A closure for the matrix sum ``expr`` (None when it has no array term)."""
    pos: list[Compiled] = []
    neg: list[Compiled] = []
    ones = 0
    for a in expr.args:
        if isinstance(a, sp.OneMatrix):
            ones += 1
        elif isinstance(a, sp.MatMul) and len(a.args) == 2 and a.args[0] == -1:
            neg.append(compile_(a.args[1]))
        else:
            pos.append(compile_(a))
    if not pos and not neg:
        return None
    const = float(ones)

    def run(env: Mapping[str, object]) -> object:
        if pos:
            out, fresh, rest = pos[0](env), False, pos[1:]
            minus = neg
        else:
            out, fresh, rest = -neg[0](env), True, ()
            minus = neg[1:]
        for f in rest:
            out, fresh = _into(out, f(env), np.add, fresh)
        for f in minus:
            out, fresh = _into(out, f(env), np.subtract, fresh)
        if const:
            out, fresh = _into(out, const, np.add, fresh)
        return out
    return run


def fused_product(factors: list[Compiled]) -> Compiled:
    """A closure for the elementwise product of ``factors`` (two or more)."""
    first, rest = factors[0], factors[1:]

    def run(env: Mapping[str, object]) -> object:
        out, fresh = first(env), False
        for f in rest:
            out, fresh = _into(out, f(env), np.multiply, fresh)
        return out
    return run


def occurrences(exprs: list) -> dict:
    """How many times each subexpression of ``exprs`` occurs (one that occurs once needs no
    place in a call's memo)."""
    uses: dict = {}
    stack = list(exprs)
    while stack:
        e = stack.pop()
        uses[e] = uses.get(e, 0) + 1
        if uses[e] == 1:
            stack.extend(e.args)
    return uses
