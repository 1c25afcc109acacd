"""One random point as a matrix formula's walk (:mod:`bptt_sym.check.matrix`) sees it: the
values of names, derivatives and named adjoints from the model's forward pass
(:mod:`bptt_sym.check.truth_matrix`), memoised per working precision, and the functions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from flint import ctx, fmpq

from bptt_sym.check.decide import sign
from bptt_sym.check.kinks import Coverage, model_kinks
from bptt_sym.check.truth_matrix import FUNCS, MPoint, derivative_of
from bptt_sym.graph.names import MatrixNames
from bptt_sym.graph.resolve import InvalidFormula
from bptt_sym.graph.resolve_matrix import Item

__all__ = ["Values"]


class Values:
    """One random point as the walk sees it: values, derivatives (memoised per working
    precision), functions."""

    def __init__(self, point: MPoint, dims: Mapping[str, int], names: MatrixNames) -> None:
        self.point, self.dims, self.names = point, dict(dims), names
        self.steps = point.graph.steps
        self._cache: dict[tuple[int, str, str], np.ndarray] = {}
        self.coverage: Coverage | None = None  # where the formula's kink arguments go
        self._kinks: list | None = None

    @property
    def kinks(self) -> list:
        """The model's kink arguments at this point (:func:`bptt_sym.check.kinks.model_kinks`)."""
        if self._kinks is None:
            self._kinks = model_kinks(self.point)
        return self._kinks

    def kink(self, key: object, label: str, v: np.ndarray) -> None:
        """A kink argument of the formula, as the walk meets it."""
        if self.coverage is not None:
            self.coverage.note(key, label, v)

    def _size(self, letter: str) -> int:
        return 1 if letter == "1" else self.dims[letter]

    def value(self, item: Item) -> np.ndarray:
        if item.kind in ("weight", "copy"):
            return self.point.leaves[item.base]
        if item.kind == "delta":
            names = self.names
            if item.step == self.steps:
                return self.zeros(names.shape(item.base))
            return self._derivative(names.spec.loss, f"{names.adjoint[item.base]}_{item.step}")
        if item.kind == "zero":
            return self.zeros(self.names.shape(item.base))
        return self.point.values[item.name]

    def derivative(self, num: Item, den: Item) -> np.ndarray:
        return self._derivative(num.name, den.name)

    def _derivative(self, num: str, den: str) -> np.ndarray:
        key = (ctx.prec, num, den)
        if key not in self._cache:
            self._cache[key] = self.point.derivative(num, den)
        return self._cache[key]

    def softmax(self, v: np.ndarray) -> np.ndarray:
        e = FUNCS["exp"](v)
        return e / e.sum()

    def function(self, name: str, v: np.ndarray, prime: bool) -> np.ndarray:
        fn = self.point.ns.funcs[name]
        if name == "log" and any(sign(x) <= 0 for x in np.ravel(v)):
            raise InvalidFormula("log of a number that is not positive at a random point")
        return derivative_of(fn, v) if prime else fn(v)

    def identity(self, shape: tuple[str, str]) -> np.ndarray:
        n = self._size(shape[0])
        return np.array([[fmpq(int(i == j)) for j in range(n)] for i in range(n)], dtype=object)

    def zeros(self, shape: tuple[str, str]) -> np.ndarray:
        return np.full((self._size(shape[0]), self._size(shape[1])), fmpq(0), dtype=object)
