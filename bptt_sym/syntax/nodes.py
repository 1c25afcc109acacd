"""The tree a hand formula parses into (:mod:`bptt_sym.syntax.formula`): small frozen dataclasses
that the checkers resolve against a graph, and the error of a formula that does not parse.

    >>> Op("+", (Num("1"), Ref("x", ("var", "t", 0), 5)))
    Op(op='+', args=(Num(value='1'), Ref(base='x', index=('var', 't', 0), column=5)))
"""

from __future__ import annotations

from dataclasses import dataclass

from bptt_sym.errors import BpttError

__all__ = ["ParseError", "Num", "Ref", "Deriv", "Call", "DerivCall", "Op", "Sum", "Prod",
           "Condition", "Chain"]


class ParseError(BpttError):
    """A formula that is not in our grammar: the message names the column, with a caret."""

    def __init__(self, message: str, *, column: int, source: str) -> None:
        start = max(column - 41, 0)  # a window of the line around the column, for long lines
        excerpt = source[start:column + 40]
        lead = "…" if start else ""
        tail = "…" if column + 40 < len(source) else ""
        caret = " " * (len(lead) + column - 1 - start) + "^"
        super().__init__(f"column {column}: {message}\n  {lead}{excerpt}{tail}\n  {caret}")
        self.column = column
        self.reason = message


@dataclass(frozen=True)
class Num:
    """A number as a plain decimal (``1e-3`` and ``.5`` are read as ``0.001`` and ``0.5``),
    so that ``sympy.Rational(value)`` is its exact value."""

    value: str


@dataclass(frozen=True)
class Ref:
    """A name as written: ``base`` and an index ``("abs", n)`` or ``("var", "t", offset)``."""

    base: str
    index: tuple | None
    column: int


@dataclass(frozen=True)
class Deriv:
    num: Ref
    den: Ref


@dataclass(frozen=True)
class Call:
    """``f(a, b)``; ``slot`` i > 0: the partial by the i-th argument, ``∂ᵢf(a, b)``."""

    name: str
    prime: bool
    args: tuple
    column: int
    slot: int = 0


@dataclass(frozen=True)
class DerivCall:
    """``∂f(a1, …, an)/∂x``: the partial of ``call`` by the argument that ``den`` names."""

    call: Call
    den: Ref


@dataclass(frozen=True)
class Op:
    """An operator: ``+ - * / ^`` with two operands, ``neg`` with one."""

    op: str
    args: tuple


@dataclass(frozen=True)
class Sum:
    """Σ over ``var`` from ``lo`` to ``hi`` (``None``: every step) of ``body``."""

    var: str
    lo: object
    hi: object
    body: object


@dataclass(frozen=True)
class Prod:
    """Π over ``var`` from ``lo`` to ``hi`` of ``body``; for matrices the factor of the
    highest step stands on the left (the chain rule's order)."""

    var: str
    lo: object
    hi: object
    body: object


@dataclass(frozen=True)
class Condition:
    """``k ≤ t`` after an equation: the steps where it is claimed (``op`` is <=, <, >=, >)."""

    left: object
    op: str
    right: object


@dataclass(frozen=True)
class Chain:
    """``A = B = C``: the sides, in order, and an optional condition (``…, k ≤ t``)."""

    sides: tuple
    condition: Condition | None = None
