"""Exact and high-precision evaluation at random points, for deciding equalities.

A point gives every leaf a random rational value (step copies share their parameter's
value) and every abstract function a random cubic polynomial, so with f, g, L abstract the
whole evaluation is exact rational arithmetic.  Concrete functions (tanh, exp, log …) are
evaluated with 60 significant digits.  No float tolerance ever lets a wrong formula pass:
in exact mode a difference must be exactly 0, in 60-digit mode below 1e-40 relative.

    >>> from bptt_sym.graph import unroll
    >>> import random, sympy as sp
    >>> s = Sampler(unroll("doc", steps=2), random.Random(0))
    >>> p = s.point()
    >>> s.value(sp.Symbol("s_1") - sp.Symbol("s_1"), p)
    0
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp

from .graph import Graph
from .notation import Partial
from .rules import ROLES, function_class, prime_class, rule
from .sweep import total

__all__ = ["Point", "Sampler", "DIGITS", "is_zero", "Undefined"]

DIGITS = 60
_ZERO = sp.Float("1e-40", DIGITS)


class Undefined(ValueError):
    """An expression without a finite real value at the point (1/0, log of a negative)."""


@dataclass(frozen=True)
class Point:
    """Values of leaves, nodes and shared parameters, and the stand-in functions."""

    values: Mapping[sp.Symbol, sp.Expr]
    functions: Mapping[type, sp.Lambda]


def is_zero(diff: sp.Expr, scale: sp.Expr) -> bool:
    """Exactly zero (rationals) or below 1e-40 of ``scale`` (60-digit floats)."""
    if diff.is_Rational:
        return bool(diff == 0)
    return bool(abs(diff) <= _ZERO * max(1, abs(scale)))


class Sampler:
    """Draws points for one graph and evaluates expressions of the notation there."""

    def __init__(self, graph: Graph, rng: random.Random) -> None:
        self.graph = graph
        self.rng = rng
        self._partials: dict[Partial, sp.Expr] = {}

    def _rational(self, lo: int, hi: int) -> sp.Rational:
        return sp.Rational(self.rng.randint(lo, hi), 16)

    def point(self) -> Point:
        """A random point: leaves in (-1, 1) (targets in (0, 1)), random cubic stand-ins."""
        g = self.graph
        functions: dict[type, sp.Lambda] = {}
        z = sp.Dummy("z")
        for role, letter in zip(ROLES, ("f", "g", "L")):
            if g.choices[role] != letter:
                continue
            poly = sum(self._rational(-12, 12) * z**i for i in range(4))
            functions[function_class(rule(role, letter))] = sp.Lambda(z, poly)
            functions[prime_class(letter)] = sp.Lambda(z, sp.diff(poly, z))
        values: dict[sp.Symbol, sp.Expr] = {}
        for p in g.copies:
            values[sp.Symbol(p)] = self._rational(-14, 14)
        for sym, node in g.nodes.items():
            if node.kind == "parameter":
                values[sym] = values[sp.Symbol(node.parameter)]
            elif node.kind == "target":
                values[sym] = self._rational(2, 14)
            elif node.expr is None:
                values[sym] = self._rational(-14, 14)
            else:
                values[sym] = self._number(self._functions(node.expr, functions), values)
        return Point(values, functions)

    @staticmethod
    def _functions(expr: sp.Expr, functions: Mapping[type, sp.Lambda]) -> sp.Expr:
        for cls, fn in functions.items():
            if expr.has(cls):
                expr = expr.replace(cls, fn)
        return expr

    @staticmethod
    def _number(expr: sp.Expr, values: Mapping[sp.Symbol, sp.Expr]) -> sp.Expr:
        v = expr.xreplace(values)
        if v.is_Rational and v.q.bit_length() < 2000:
            return v
        # 60 digits: transcendental values, and rationals whose digits would keep tripling
        # through many steps of cubic stand-ins
        v = sp.N(v, DIGITS)
        if not (v.is_real and v.is_finite):
            raise Undefined(f"the formula is undefined or not real at a random point "
                            f"(it evaluates to {v}); look for a division by zero or a log "
                            "of a negative number")
        return v

    def partial_value(self, p: Partial) -> sp.Expr:
        """∂X/∂Y in node values (the graph's total derivative), memoised."""
        if p not in self._partials:
            targets = self.graph.copies.get(str(p.den), (p.den,))
            self._partials[p] = total(self.graph, p.num, targets)
        return self._partials[p]

    def in_node_values(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every ∂X/∂Y replaced by its value in node values."""
        found = expr.atoms(Partial)
        return expr.xreplace({p: self.partial_value(p) for p in found}) if found else expr

    def value(self, expr: sp.Expr, point: Point) -> sp.Expr:
        """The number ``expr`` takes at ``point`` (exact rational or 60 digits)."""
        expr = self._functions(self.in_node_values(expr), point.functions)
        return self._number(expr, point.values)
