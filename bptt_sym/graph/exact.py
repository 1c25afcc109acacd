"""Exact values of matrix formulas: numbers as written (1.5 is 3/2), the identity and diag(v)
with exact zeros, and the stand-in point that lets a sum's bounds be whole numbers only.

    >>> exact("1.5")
    3/2
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from flint import fmpq

from bptt_sym.graph.resolve import InvalidFormula

__all__ = ["exact", "diag_of", "identity_like", "Integers"]


def identity_like(v: np.ndarray) -> np.ndarray:
    out = np.empty(v.shape, dtype=object)
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            out[i, j] = fmpq(1) if i == j else fmpq(0)
    return out


def diag_of(v: np.ndarray) -> np.ndarray:
    """diag(v) with exact zeros off the diagonal (``np.diag`` fills in the int 0, which is
    not a number of the decision)."""
    out = np.full((len(v), len(v)), fmpq(0), dtype=object)
    for i in range(len(v)):
        out[i, i] = v[i, 0]
    return out


def exact(text: str) -> fmpq:
    """A number as written, exactly (1.5 is 3/2)."""
    r = Fraction(text)
    return fmpq(r.numerator, r.denominator)


class Integers:
    """The 'point' of a sum's bounds: only whole numbers and step variables."""

    def value(self, item: object) -> object:
        raise InvalidFormula(f"a bound must be a whole number, not {getattr(item, 'name', item)}")

    def derivative(self, num: object, den: object) -> object:
        raise InvalidFormula("a bound must be a whole number, not a derivative")

    def function(self, name: str, v: object, prime: bool) -> object:
        raise InvalidFormula(f"a bound must be a whole number, not a value of {name}")

    def softmax(self, v: object) -> object:
        raise InvalidFormula("a bound must be a whole number, not a value of softmax")

    def identity(self, shape: tuple[str, str]) -> object:
        raise InvalidFormula("a bound must be a whole number, not a matrix")
    zeros = identity
