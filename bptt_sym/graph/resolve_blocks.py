"""The stacked column [a; b] and the rows (g)[1:H] of a matrix formula, for
:class:`bptt_sym.graph.resolve_matrix.Walk` (Colah's LSTM multiplies one weight by
[h_{t-1}; x_t]; its adjoint splits back into the rows of h and of x), and the
:class:`ShapeError` the walk raises."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import sympy as sp

from bptt_sym.errors import BpttError
from bptt_sym.graph.names import Shape
from bptt_sym.syntax.formula import Op
from bptt_sym.syntax.text import show

if TYPE_CHECKING:
    from bptt_sym.graph.resolve_matrix import Walk


class ShapeError(BpttError):
    """Two shapes that do not fit; the message names both."""


def _dims(shape: tuple) -> str:
    return "×".join(shape)


def _no_tensor(node: object, shape: tuple) -> None:
    if len(shape) == 3:
        raise ShapeError(f"{show(node)} is a 3-tensor ({shape[0]} by {_dims(shape[1:])}); it "
                         "can only stand last in a chain, after a row such as ∂E_t/∂s_k")


def stack(self: Walk, node: Op, env: Mapping[str, int | None]) -> tuple[Shape, object]:
    """[h_{t-1}; x_t]: the rows of its parts, the model's letter for their sum (M when
    its [sizes] says M = "H + D")."""
    parts = [self(a, env) for a in node.args]
    for a, (shape, _) in zip(node.args, parts):
        _no_tensor(a, shape)
        if shape[1] != parts[0][0][1]:
            raise ShapeError(f"[…; …] stacks parts of one width: {show(node.args[0])} is "
                             f"{_dims(parts[0][0])} and {show(a)} is {_dims(shape)}")
    rows = tuple(shape[0] for shape, _ in parts)
    derived = self.names.spec.derived_sizes
    named = [k for k, v in derived.items() if v == rows]
    swapped = [k for k, v in derived.items() if sorted(v) == sorted(rows) and v != rows]
    if swapped and not named:
        want = derived[swapped[0]]
        raise ShapeError(f"{show(node)} stacks {' then '.join(rows)} rows; the model's "
                         f"{swapped[0]} is {' + '.join(want)} (the parts in that order)")
    shape = (named[0] if named else "+".join(rows), parts[0][0][1])
    values = [v for _, v in parts]
    if any(v is None for v in values):
        return shape, None
    return shape, np.concatenate([np.asarray(v, dtype=object) for v in values])

def rows(self: Walk, node: Op, env: Mapping[str, int | None]) -> tuple[Shape, object]:
    """(g)[1:H]: rows 1 … H of g (counted from 1, both in); the bounds in size letters
    (a letter the model derives, M = H + D, read as its sum)."""
    shape, v = self(node.args[0], env)
    _no_tensor(node.args[0], shape)
    span = node.args[1]
    start, stop, whole = (_size_sum(x, self.names.spec) for x in
                          (span.start, span.stop, shape[0]))
    spec = self.names.spec
    for text, value in ((span.start, start), (span.stop, stop)):
        if value is None:
            letters = ", ".join((*spec.sizes, *spec.derived_sizes))
            raise ShapeError(f"{show(node)}: the bound {text} is not a sum of whole numbers and "
                             f"the size letters of model {spec.name} ({letters})")
    count = sp.expand(stop - start + 1)
    if whole is None or not count.is_positive or \
            (whole - stop).is_negative or (start - 1).is_negative:
        raise ShapeError(f"{show(node)}: rows {span.start} to {span.stop} of "
                         f"{show(node.args[0])} ({_dims(shape)}) are not rows it has (write "
                         "the bounds in size letters, counted from 1: [1:H], [H+1:M])")
    named = [k for k in (*self.names.spec.sizes, *self.names.spec.derived_sizes, "1")
             if _size_sum(k, self.names.spec) == count]
    rows = named[0] if named else str(count).replace(" ", "")
    if v is None:
        return (rows, shape[1]), None
    dims = {sp.Symbol(k, positive=True): n for k, n in self.point.dims.items()}
    lo, hi = int(start.subs(dims)), int(stop.subs(dims))
    if hi > np.shape(v)[0]:
        raise ShapeError(f"{show(node)}: {show(node.args[0])} has {np.shape(v)[0]} rows "
                         f"here, not {hi}")
    return (rows, shape[1]), v[lo - 1:hi]


def _size_sum(text: str, spec: object) -> sp.Expr | None:
    """A bound such as H+1 or M (= H + D) as a sum of the model's size letters; None when it
    names something else."""
    derived = spec.derived_sizes
    total = sp.S.Zero
    for sign, part in re.findall(r"([+-]?)\s*([A-Za-z][A-Za-z0-9]*|\d+)", text):
        if part.isdigit():
            value: sp.Expr = sp.Integer(part)
        elif part in derived:
            value = sp.Add(*(sp.Symbol(p, positive=True) for p in derived[part]))
        elif part in spec.sizes or part in {d for s in spec.shapes.values() for d in s}:
            value = sp.Symbol(part, positive=True)
        else:
            return None
        total += -value if sign == "-" else value
    return total
