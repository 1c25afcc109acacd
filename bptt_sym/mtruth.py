"""The truth a matrix formula is checked against: the vector model's forward pass at a
random point, in 120-digit arithmetic, and every derivative by the complex step.

A derivative ∂A/∂B is not taken from our own rules: entry j of B is moved by i·h
(h = 10⁻⁵⁰) and the forward pass is run again on the model's own equations; the imaginary
part of A, divided by h, is column j of the Jacobian (error of order h², 10⁻¹⁰⁰, with no
cancellation).  B may be a weight (all its step copies move), one step copy (W_2), an input,
the initial state or any node (z_1: the pass continues from the moved value), so the result
is the total derivative through every path.

    >>> import random
    >>> from bptt_sym.vector import ELMAN
    >>> with mp.workdps(DPS):
    ...     p = MPoint.draw(ELMAN, steps=2, dims={"H": 2, "D": 3, "K": 2}, bias=False,
    ...                     activation="tanh", rng=random.Random(0))
    ...     jac = p.derivative("s_1", "z_1")          # diag(1 − s_1 ⊙ s_1)
    ...     s = p.values["s_1"]
    ...     bool(abs(jac[0, 0] - (1 - s[0, 0] ** 2)) < mpf(10) ** -60), bool(jac[0, 1] == 0)
    (True, True)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import sympy as sp
from mpmath import mp, mpc, mpf

from .mnumeric import compile_expr
from .vector import VectorGraph, VectorSpec, unroll_vector

__all__ = ["DPS", "STEP", "MPoint", "MP", "elementwise", "complex_step"]

DPS = 120
STEP = 50  # the complex step is 10^-STEP


def elementwise(fn: object) -> object:
    """A scalar mpmath function applied to every entry of an object array."""
    return np.frompyfunc(fn, 1, 1)


def _relu(z: object) -> object:
    return z if mp.re(z) > 0 else mpf(0)


def _step(z: object) -> object:
    return mpf(1) if mp.re(z) > 0 else mpf(0)


def _softmax(a: np.ndarray) -> np.ndarray:
    e = elementwise(mp.exp)(a)
    return e / e.sum(axis=0, keepdims=True)


FUNCS = {"tanh": elementwise(mp.tanh), "sigmoid": elementwise(lambda z: 1 / (1 + mp.exp(-z))),
         "relu": elementwise(_relu), "identity": lambda z: z, "step": elementwise(_step),
         "exp": elementwise(mp.exp), "log": elementwise(mp.log)}

# mnumeric's evaluator over object arrays of mpmath numbers (vectors are (n, 1) columns)
MP = SimpleNamespace(
    matmul=lambda a, b: a.dot(b), transpose=lambda a: a.T,
    hadamard=lambda a, b: a * b, ones=lambda shape: np.full(shape, mpf(1), dtype=object),
    softmax=_softmax, xent=lambda yhat, y: -(y * FUNCS["log"](yhat)).sum(axis=0),
    diag=lambda v: np.diag(v[:, 0]), funcs=FUNCS,
    number=lambda n: mpf(n.p) / n.q if n.is_Rational else mpf(str(sp.N(n, DPS))))


def complex_step(fn: object, z: np.ndarray) -> np.ndarray:
    """fn'(z) entry by entry: Im fn(z + i·h) / h."""
    h = mpf(10) ** -STEP
    out = fn(z + mpc(0, h))
    return elementwise(lambda v: mp.im(v) / h)(out) if isinstance(out, np.ndarray) else \
        mp.im(out) / h


def _fraction(rng: random.Random, lo: int, hi: int, den: int = 64) -> mpf:
    value = 0
    while value == 0:
        value = rng.randint(lo, hi)
    return mpf(value) / den


@dataclass
class MPoint:
    """One random point of the vector model at sizes ``dims``: leaves and node values."""

    graph: VectorGraph
    leaves: Mapping[str, np.ndarray]
    values: Mapping[str, np.ndarray]
    ns: SimpleNamespace = field(default_factory=lambda: MP)
    stand_in: str = ""  # the random function that stands for an abstract f, as text
    _moved: dict[str, list[dict[str, np.ndarray]]] = field(default_factory=dict, repr=False)
    _compiled: dict[str, Callable] = field(default_factory=dict, repr=False)

    @classmethod
    def draw(cls, spec: VectorSpec, *, steps: int, dims: Mapping[str, int], bias: bool,
             activation: str, rng: random.Random) -> MPoint:
        """Weights and inputs in (−1, 1), targets a random distribution, s_{−1} random."""
        graph = unroll_vector(spec, steps=steps, hidden=dims["H"], inputs=dims["D"],
                              classes=dims["K"], bias=bias, activation=activation)
        leaves: dict[str, np.ndarray] = {}

        def fill(shape: tuple[int, int], lo: int, hi: int) -> np.ndarray:
            return np.array([[_fraction(rng, lo, hi) for _ in range(shape[1])]
                             for _ in range(shape[0])], dtype=object)

        for p, copies in graph.copies.items():
            leaves[p] = fill(copies[0].shape, -60, 60)
        for sym, node in graph.nodes.items():
            if node.kind in ("input", "initial"):
                leaves[sym.name] = fill(sym.shape, -60, 60)
            elif node.kind == "target":
                w = fill(sym.shape, 1, 64)
                leaves[sym.name] = w / w.sum()
        ns, text = MP, ""
        if activation == "f":  # an abstract f: a random a·sin(b·z + c) + d at each point
            a, b, c, d = (sp.Rational(rng.randint(lo, hi), 16) for lo, hi in
                          ((8, 16), (8, 24), (-8, 8), (-8, 8)))
            params = [mpf(x.p) / x.q for x in (a, b, c, d)]
            stand_in = elementwise(lambda v: params[0] * mp.sin(params[1] * v + params[2])
                                   + params[3])
            ns = SimpleNamespace(**{**vars(MP), "funcs": {**FUNCS, "f": stand_in}})
            z = sp.Symbol("z")
            text = str(a * sp.sin(b * z + c) + d)
        point = cls(graph, leaves, {}, ns, text)
        point.values = point.forward()
        return point

    def forward(self, moved: str | None = None, entry: int = 0) -> dict[str, np.ndarray]:
        """Every value of the forward pass; with ``moved``, that name's entry moved by i·h
        (a weight's name moves every copy)."""
        h = mpc(0, mpf(10) ** -STEP)

        def bump(name: str, value: np.ndarray, shared: str | None = None) -> np.ndarray:
            if moved is None or moved not in (name, shared):
                return value
            out = np.array(value, dtype=object)
            out.flat[entry] = out.flat[entry] + h
            return out

        env: dict[str, object] = {}
        dirty: set[str] = set()  # the names the move reaches; the rest keeps its value
        for p, copies in self.graph.copies.items():
            env[p] = self.leaves[p]
            for c in copies:
                env[c.name] = bump(c.name, self.leaves[p], p)
                if moved in (c.name, p):
                    dirty.add(c.name)
        for sym, node in self.graph.nodes.items():
            name = sym.name
            if node.expr is not None:
                if moved is None or name == moved or \
                        any(getattr(q, "name", str(q)) in dirty for q in node.parents):
                    env[name] = bump(name, _column(self._program[name](env)))
                    dirty.add(name)
                else:
                    env[name] = self.values[name]
            elif node.kind != "parameter":
                env[name] = bump(name, self.leaves[name])
                if name == moved:
                    dirty.add(name)
        return env

    @property
    def _program(self) -> dict[str, Callable]:
        """Each node's equation compiled once for this point's functions."""
        if not self._compiled:
            self._compiled.update({s.name: compile_expr(n.expr, self.ns)
                                   for s, n in self.graph.nodes.items() if n.expr is not None})
        return self._compiled

    def derivative(self, num: str, den: str) -> np.ndarray:
        """∂num/∂den: the gradient (den's shape) for a scalar num, else the Jacobian
        (num's entries by den's entries)."""
        if den not in self._moved:
            size = self._size(den)
            self._moved[den] = [self.forward(den, j) for j in range(size)]
        h = mpf(10) ** -STEP
        cols = [elementwise(lambda v: mp.im(v) / h)(env[num]).reshape(-1)
                for env in self._moved[den]]
        jac = np.array(cols, dtype=object).T  # (entries of num, entries of den)
        if self.values[num].size == 1:
            return jac.reshape(self._shape(den))
        if self._shape(den)[1] > 1:  # a vector by a matrix: (entries of num, rows, cols)
            return jac.reshape((jac.shape[0],) + self._shape(den))
        return jac

    def _shape(self, name: str) -> tuple[int, ...]:
        value = self.leaves.get(name)
        return value.shape if value is not None else self.values[name].shape

    def _size(self, name: str) -> int:
        return int(np.prod(self._shape(name)))


def _column(value: object) -> np.ndarray:
    """Scalars (the losses) as 1×1 arrays, like every other value."""
    arr = np.asarray(value, dtype=object)
    return arr.reshape(1, 1) if arr.size == 1 and arr.ndim < 2 else arr
