"""The truth a matrix formula is checked against: a matrix model's forward pass at a
random point, in Arb ball arithmetic, and every derivative by forward-mode dual numbers.

A derivative ∂A/∂B is not taken from our own rules: entry j of B carries the tangent 1
(a :class:`Dual` number) and the forward pass runs again on the model's own equations; the
tangent of A is column j of the Jacobian, exactly, enclosed in balls like every value.  B may
be a weight (all its step copies move), one step copy (W_2), an input, the initial state or
any node (z_1: the pass continues from the moved value), so the result is the total
derivative through every path.  Every value is computed at the current working precision
(:func:`bptt_sym.check.decide.working`) and kept per precision.

    >>> import random
    >>> from bptt_sym.graph.matrix import ELMAN
    >>> from bptt_sym.check.decide import working, START_BITS, classify
    >>> with working(START_BITS):
    ...     p = MPoint.draw(ELMAN, steps=2, dims={"H": 2, "D": 3, "K": 2}, bias=False,
    ...                     activation="tanh", rng=random.Random(0))
    ...     jac = p.derivative("s_1", "z_1")          # diag(1 − s_1 ⊙ s_1)
    ...     s = p.values["s_1"]
    ...     classify(jac[0, 0] - (1 - s[0, 0] ** 2)), classify(jac[0, 1])
    ('agrees', 'exact')
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import sympy as sp
from flint import arb, ctx, fmpq

from bptt_sym.check.decide import Undefined, sign, to_ball
from bptt_sym.check.rigorous import BallEvaluator, StandIn, draw_rational
from bptt_sym.graph.build import Graph
from bptt_sym.graph.matrix import Xent, matrix_symbol, unroll_vector
from bptt_sym.model.spec import ModelSpec
from bptt_sym.notation import split_name
from bptt_sym.numeric.matrix import compile_expr
from bptt_sym.rules.functions import RULES, Rule

__all__ = ["Dual", "MPoint", "MP", "FUNCS", "elementwise", "tangent_of", "DPS"]

DPS = 120  # digits to which agreement is stated (bptt_sym.check.decide.DIGITS)


class Dual:
    """v + d·ε with ε² = 0: a value and its tangent, both exact rationals or balls."""

    __slots__ = ("v", "d")

    def __init__(self, v: object, d: object) -> None:
        self.v, self.d = v, d

    def __add__(self, o: object) -> Dual:
        return Dual(self.v + o.v, self.d + o.d) if isinstance(o, Dual) else Dual(self.v + o, self.d)

    __radd__ = __add__

    def __neg__(self) -> Dual:
        return Dual(-self.v, -self.d)

    def __sub__(self, o: object) -> Dual:
        return self + (-o)

    def __rsub__(self, o: object) -> Dual:
        return (-self) + o

    def __mul__(self, o: object) -> Dual:
        if isinstance(o, Dual):
            return Dual(self.v * o.v, self.d * o.v + self.v * o.d)
        return Dual(self.v * o, self.d * o)

    __rmul__ = __mul__

    def __truediv__(self, o: object) -> Dual:
        if isinstance(o, Dual):
            return Dual(self.v / o.v, (self.d * o.v - self.v * o.d) / (o.v * o.v))
        return Dual(self.v / o, self.d / o)

    def __rtruediv__(self, o: object) -> Dual:
        return Dual(o / self.v, -o * self.d / (self.v * self.v))

    def __pow__(self, n: int) -> Dual:
        return Dual(self.v ** n, n * self.v ** (n - 1) * self.d)


def _lift(fn: Callable, deriv: Callable) -> Callable:
    """A scalar function of balls that also takes a Dual (its derivative ``deriv(x, fx)``)."""
    def apply(x: object) -> object:
        if isinstance(x, Dual):
            fx = fn(x.v)
            return Dual(fx, deriv(x.v, fx) * x.d)
        return fn(x)
    return apply


def _log(x: object) -> arb:
    if sign(x) <= 0:
        raise Undefined("a log of a number that is not positive at a random point")
    return to_ball(x).log()


def _step(x: object) -> object:
    return fmpq(1) if sign(x) > 0 else fmpq(0)


_Z, _OUT = sp.Dummy("z"), sp.Dummy("out")


def _from_rule(r: Rule) -> Callable:
    """An activation of the rule table (rules/functions.py) on balls and duals: its value
    in elementary functions, its derivative in the argument and the value, both evaluated
    by the scalar checker's ball evaluator."""
    value, derivative = r.explicit(_Z), r.derivative(_Z, out=_OUT)
    return _lift(lambda x: BallEvaluator({_Z: x}, {})(value),
                 lambda x, fx: BallEvaluator({_Z: x, _OUT: fx}, {})(derivative))


SCALAR_FUNCS: dict[str, Callable] = {
    **{r.name: _from_rule(r) for (role, _), r in RULES.items()
       if role == "activation" and r.explicit is not None and r.name != "identity"},
    "exp": _lift(lambda x: to_ball(x).exp(), lambda x, e: e),
    "log": _lift(_log, lambda x, lx: 1 / x),
    "step": _lift(_step, lambda x, s: fmpq(0)),
    "identity": lambda x: x,
}


def elementwise(fn: Callable) -> Callable:
    """A scalar function applied to every entry of an object array."""
    return np.frompyfunc(fn, 1, 1)


FUNCS = {name: (elementwise(fn) if name != "identity" else fn)
         for name, fn in SCALAR_FUNCS.items()}


def _softmax(a: np.ndarray) -> np.ndarray:
    """softmax of a column or a row: over every entry."""
    e = FUNCS["exp"](a)
    return e / e.sum()


def _diag(v: np.ndarray) -> np.ndarray:
    """diag(v) with exact zeros off the diagonal (NumPy's would be the int 0)."""
    out = np.full((len(v), len(v)), fmpq(0), dtype=object)
    for i, x in enumerate(v):
        out[i, i] = x
    return out


def _number(n: sp.Expr) -> object:
    if n.is_Rational:
        return fmpq(int(n.p), int(n.q))
    raise Undefined(f"the number {n} is not rational")


# mnumeric's evaluator over object arrays of balls and duals (vectors are (n, 1) columns
# or (1, n) rows); xent and sum(X) are numbers
MP = SimpleNamespace(
    matmul=lambda a, b: a.dot(b), transpose=lambda a: a.T,
    hadamard=lambda a, b: a * b, ones=lambda shape: np.full(shape, fmpq(1), dtype=object),
    zeros=lambda shape: np.full(shape, fmpq(0), dtype=object),
    softmax=_softmax, xent=lambda yhat, y: (-(y * FUNCS["log"](yhat))).sum(),
    entrysum=lambda a: np.asarray(a, dtype=object).sum(),
    diag=lambda v: _diag(np.ravel(v)), funcs=FUNCS, number=_number,
    stack=lambda parts: np.concatenate([np.asarray(p, dtype=object) for p in parts]),
    rows=lambda a, i, j: a[i:j])


def tangent_of(x: object) -> object:
    return x.d if isinstance(x, Dual) else fmpq(0)


def derivative_of(fn: Callable, z: np.ndarray) -> np.ndarray:
    """fn'(z) entry by entry, by dual numbers: the tangent of fn(z + ε)."""
    return elementwise(tangent_of)(fn(elementwise(lambda v: Dual(v, fmpq(1)))(z)))


def _fill(rng: random.Random, shape: tuple[int, int], wide: bool = False) -> np.ndarray:
    lo, hi = (-6, 4) if wide else (-4, 0)
    return np.array([[draw_rational(rng, lo=lo, hi=hi) for _ in range(shape[1])]
                     for _ in range(shape[0])],
                    dtype=object)


def _distributions(graph: Graph) -> set[str]:
    """The targets that a cross-entropy reads: each is drawn as a random distribution."""
    found = set()
    for node in graph.nodes.values():
        if isinstance(node.expr, sp.Basic):
            for x in node.expr.atoms(Xent):
                found |= {getattr(a, "name", "") for a in x.args[1:]}
    return found


@dataclass
class MPoint:
    """One random point of a matrix model at sizes ``dims``: exact rational leaves; node
    values and derivatives at the current precision."""

    graph: Graph
    leaves: Mapping[str, np.ndarray]
    ns: SimpleNamespace = field(default_factory=lambda: MP)
    stand_in: str = ""  # the random function that stands for an abstract f, as text
    _values: dict[int, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    _moved: dict[tuple[int, str], list[dict[str, np.ndarray]]] = field(default_factory=dict,
                                                                       repr=False)
    _compiled: dict[str, Callable] = field(default_factory=dict, repr=False)

    @classmethod
    def draw(cls, spec: ModelSpec, *, steps: int, dims: Mapping[str, int], bias: bool,
             activation: str, rng: random.Random, wide: bool = False) -> MPoint:
        """Weights, inputs, given initial states and the targets of no cross-entropy
        random rationals of the wide set (``wide``: sizes up to 32 instead of 2), each
        drawn by its shape; the targets of a cross-entropy a random distribution; a zero
        initial state zero; an abstract f a random non-polynomial function."""
        graph = unroll_vector(spec, steps=steps, sizes=dict(dims), bias=bias,
                              activation=activation)
        leaves: dict[str, np.ndarray] = {}
        for p in spec.parameters_for(bias):  # one unused at this T too (its ∂ is 0)
            leaves[p] = _fill(rng, matrix_symbol(spec, graph.dims, p, None).shape, wide)
        distributions = _distributions(graph)
        for sym, node in graph.nodes.items():
            if node.kind == "initial" and spec.initial_value(node.base) == "zero":
                leaves[sym.name] = np.full(sym.shape, fmpq(0), dtype=object)
            elif node.kind in ("input", "initial") or \
                    (node.kind == "target" and sym.name not in distributions):
                leaves[sym.name] = _fill(rng, sym.shape, wide)
            elif node.kind == "target":
                w = np.array([[fmpq(rng.randint(1, 1 << 20)) for _ in range(sym.shape[1])]
                              for _ in range(sym.shape[0])], dtype=object)
                leaves[sym.name] = w / w.sum()
        ns, text = MP, ""
        if activation == "f":
            fn = StandIn.draw(rng)
            funcs = {**FUNCS, "f": elementwise(_lift(fn, lambda x, fx: fn.prime(x)))}
            ns = SimpleNamespace(**{**vars(MP), "funcs": funcs})
            text = fn.text()
        return cls(graph, leaves, ns, text)

    @property
    def values(self) -> dict[str, np.ndarray]:
        """Every value of the forward pass at the current precision."""
        if ctx.prec not in self._values:
            self._values[ctx.prec] = self.forward()
        return self._values[ctx.prec]

    def forward(self, moved: str | None = None, entry: int = 0) -> dict[str, np.ndarray]:
        """Every value of the forward pass; with ``moved``, that name's entry carries the
        tangent 1 (a weight's name moves every copy)."""
        def bump(name: str, value: np.ndarray, shared: str | None = None) -> np.ndarray:
            if moved is None or moved not in (name, shared):
                return value
            out = np.array(value, dtype=object)
            out.flat[entry] = Dual(out.flat[entry], fmpq(1))
            return out

        base = None if moved is None else self.values
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
                if base is None or name == moved or \
                        any(getattr(q, "name", str(q)) in dirty for q in node.parents):
                    value = base[name] if base is not None and name == moved else \
                        _column(self._program[name](env))
                    env[name] = bump(name, value)
                    dirty.add(name)
                else:
                    env[name] = base[name]
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
        key = (ctx.prec, den)
        if key not in self._moved:
            self._moved[key] = [self.forward(den, j) for j in range(self._size(den))]
        cols = [elementwise(tangent_of)(env[num]).reshape(-1) for env in self._moved[key]]
        jac = np.array(cols, dtype=object).T  # (entries of num, entries of den)
        if self.values[num].size == 1:
            return jac.reshape(self._shape(den))
        if min(self._shape(den)) > 1:  # a vector by a matrix: (entries of num, rows, cols)
            return jac.reshape((jac.shape[0],) + self._shape(den))
        return jac

    def _shape(self, name: str) -> tuple[int, ...]:
        value = self.leaves.get(name)
        if value is None and name not in self.values:  # W_0 of a W unused at step 0: its
            value = self.leaves[split_name(name)[0]]   # derivatives are all 0
        return value.shape if value is not None else self.values[name].shape

    def _size(self, name: str) -> int:
        return int(np.prod(self._shape(name)))


def _column(value: object) -> np.ndarray:
    """Scalars (the losses) as 1×1 arrays, like every other value."""
    arr = np.asarray(value, dtype=object)
    return arr.reshape(1, 1) if arr.size == 1 and arr.ndim < 2 else arr
