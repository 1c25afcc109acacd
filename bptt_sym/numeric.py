"""Compile derived gradients into NumPy functions, vectorised over a batch of sequences.

The unrolled graph is T copies of one cell, so the code is compiled per step, not per
graph (:mod:`bptt_sym.stepwise`): one function for a forward step, one for a backward
(delta) step, one for a layer of the nested closed form, called in a loop over t.  Every
symbol is renamed to a generated identifier before ``lambdify`` sees it, so no name from a
model or a user reaches the code, and no expression is ever expanded.

Abstract functions f, g, L are replaced by named smooth stand-ins (:class:`StandIns`), so a
derivation that holds for every activation is exercised numerically too.

    >>> import numpy as np
    >>> from bptt_sym.graph import unroll
    >>> c = compile_gradients(unroll("doc", steps=2, activation="tanh",
    ...                              output="sigmoid", loss="bce"), form="closed")
    >>> sorted(c(point(2, u=0.5, w=-0.3, k=0.1, v=0.8, y=0.3)))
    ['k', 'u', 'v', 'w']
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .anchors import Block, Unit, anchor_of, fold, forward_blocks, term_anchor
from .derive import derive
from .errors import BpttError, UsageError
from .graph import Graph, unroll
from .notation import Partial
from .rules import RULES, function_class, prime_class, rule
from .stepwise import build

__all__ = ["StandIns", "DEFAULT_STAND_INS", "Compiled", "compile_gradients", "compile_loss",
           "compiled", "point", "leaf_names", "override_expr"]

Sym = sp.Symbol


@dataclass(frozen=True)
class StandIns:
    """Smooth stand-ins for the abstract functions, each ``h(a·x + b)`` for a known h.

    f(z) = tanh(a·z + b), g(q) = sigmoid(a·q + b), L(o) = log(1 + a·(o − b)²).
    """

    f: tuple[float, float] = (0.9, 0.1)
    g: tuple[float, float] = (1.1, -0.2)
    L: tuple[float, float] = (0.8, 0.3)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> StandIns:
        """Random coefficients, rounded to two decimals so the report shows them exactly."""
        def pair() -> tuple[float, float]:
            return (round(float(rng.uniform(0.5, 1.5)), 2), round(float(rng.uniform(-0.5, 0.5)), 2))
        return cls(pair(), pair(), pair())

    def describe(self, used: tuple[str, ...] = ("f", "g", "L")) -> dict[str, str]:
        """How each stand-in in ``used`` reads, for a report."""
        (fa, fb), (ga, gb), (la, lb) = self.f, self.g, self.L
        text = {"f": f"f(z) = tanh({fa}*z {_signed(fb)})",
                "g": f"g(q) = sigmoid({ga}*q {_signed(gb)})",
                "L": f"L(o) = log(1 + {la}*(o {_signed(-lb)})^2)"}
        return {k: text[k] for k in used}

    def sympy_rules(self) -> dict[type, Callable[[sp.Expr], sp.Expr]]:
        """Function class -> its stand-in value; the primes get the stand-in's derivative."""
        def r(c: float) -> sp.Rational:
            return sp.Rational(str(c))
        (fa, fb), (ga, gb), (la, lb) = [(r(a), r(b)) for a, b in (self.f, self.g, self.L)]
        sig = lambda t: 1 / (1 + sp.exp(-t))  # noqa: E731
        return {
            function_class(rule("activation", "f")): lambda z: sp.tanh(fa * z + fb),
            prime_class("f"): lambda z: fa * (1 - sp.tanh(fa * z + fb) ** 2),
            function_class(rule("output", "g")): lambda q: sig(ga * q + gb),
            prime_class("g"): lambda q: ga * sig(ga * q + gb) * (1 - sig(ga * q + gb)),
            function_class(rule("loss", "L")): lambda o: sp.log(1 + la * (o - lb) ** 2),
            prime_class("L"): lambda o: 2 * la * (o - lb) / (1 + la * (o - lb) ** 2),
        }


DEFAULT_STAND_INS = StandIns()


def _signed(c: float) -> str:
    return f"+ {c}" if c >= 0 else f"- {-c}"


_EXPLICIT: dict[type, Callable[..., sp.Expr]] = {
    function_class(r): r.explicit for r in RULES.values() if r.explicit is not None}


def _elementary(expr: sp.Expr, stand_ins: StandIns) -> sp.Expr:
    """Replace rule functions by their explicit formulas and abstract ones by stand-ins."""
    found = {type(a) for a in expr.atoms(sp.Function)}
    if not found:
        return expr
    table = {**_EXPLICIT, **stand_ins.sympy_rules()}
    found &= set(table)
    for cls in found:
        expr = expr.replace(cls, table[cls])
    return expr


def leaf_names(graph: Graph) -> dict[str, tuple[Sym, ...]]:
    """The values a compiled function takes: parameters, inputs, targets, initial states."""
    names: dict[str, list[Sym]] = {p: [] for p in graph.copies}
    for sym, node in graph.nodes.items():
        if node.kind == "parameter":
            names[node.parameter].append(sym)
        elif node.kind == "input":
            names.setdefault(node.base, []).append(sym)
        elif node.kind in ("target", "initial"):
            names[str(sym)] = [sym]
    return {k: tuple(v) for k, v in names.items()}


def point(steps: int, **values: float | list[float]) -> dict[str, np.ndarray]:
    """One point as batch-of-one arrays: scalars for parameters, ``x`` a list of T inputs.

    Missing values default to 0 (``x``: zeros, ``s_{-1}``: 0).
    """
    out = {k: np.atleast_1d(np.asarray(v, dtype=float)) for k, v in values.items()}
    out.setdefault("x", np.zeros(steps))
    out["x"] = out["x"].reshape(1, steps)
    out.setdefault("s_{-1}", np.zeros(1))
    return out


@dataclass(frozen=True)
class Compiled:
    """A compiled gradient (or loss) function of one unrolled graph.

    Call it with a mapping of arrays with a leading batch axis: each parameter and target
    ``(B,)``, ``x`` ``(B, T)``, ``s_{-1}`` ``(B,)``; it returns ``{name: (B,) array}``.
    """

    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    steps: int
    fn: Callable[..., object] = field(repr=False)
    source: str = field(repr=False, default="")

    def __call__(self, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = []
        for name in self.inputs:
            if name not in values:
                raise UsageError(f"missing value for {name!r}; give every one of "
                                 f"{', '.join(self.inputs)}")
            a = np.asarray(values[name], dtype=float)
            args.append(a.T if name == "x" else a)  # rows of x.T are the steps
        result = self.fn(*args)
        batch = np.broadcast(*[np.asarray(values[n])[..., 0] if n == "x" else values[n]
                               for n in self.inputs]).shape
        return {k: np.broadcast_to(np.asarray(r, dtype=float), batch).copy()
                for k, r in zip(self.outputs, result)}


def compile_gradients(graph: Graph, *, form: str = "delta", of: str | None = None,
                      wrt: tuple[str, ...] | None = None,
                      stand_ins: StandIns = DEFAULT_STAND_INS,
                      override: Mapping[str, sp.Expr] | None = None) -> Compiled:
    """Compile ∂of/∂p for every parameter p (``form`` delta or closed) into one function.

    The delta form runs as BPTT does: the forward loop, then the adjoints from t = T-1 down
    to 0, each step adding its terms to the gradients.  The closed form's nested factors
    are evaluated from the innermost step outwards (:func:`bptt_sym.anchors.fold`).
    ``override`` replaces the derived expression of a parameter, in node values: used to
    verify a gradient written by hand.
    """
    if form not in ("delta", "closed"):
        raise UsageError(f"only the delta and closed forms compile; got {form!r}")
    params = tuple(wrt or graph.copies)
    adjoints: dict[Partial, sp.Expr] = {}
    terms: list[Unit] = []
    nested: list[Unit] = []
    for j, p in enumerate(params):
        d = derive(graph, wrt=p, of=of or graph.spec.loss, form=form)
        if override and p in override:
            nested.append(Unit(j, override_expr(graph, p, override[p])))
        elif form == "closed":
            nested.append(Unit(j, d.equations[-1].rhs))
        else:
            own = {e.lhs for e in d.equations[:-1]}
            for e in d.equations[:-1]:  # the same adjoint in every parameter's derivation
                if e.lhs not in adjoints:
                    adjoints[e.lhs] = _locals(graph, e.rhs, own)
            rhs = _locals(graph, d.equations[-1].rhs, own)
            terms += [Unit(j, t) for t in sp.Add.make_args(rhs)]
    adjoint_units = [Unit(lhs, rhs) for lhs, rhs in adjoints.items()]
    blocks = [*forward_blocks(graph), *_backward_blocks(graph, adjoint_units, terms),
              *_layer_blocks(graph, nested)]
    natural = [*_forward_units(graph), *adjoint_units, *terms, *nested]
    return _assemble(graph, blocks, natural, params, stand_ins)


def override_expr(graph: Graph, parameter: str, value: object) -> sp.Expr:
    """A caller's expression for ∂E/∂``parameter``, in node values: a SymPy expression as
    it is, a number, or text read by our own grammar (:mod:`bptt_sym.formula`, as ``check``
    reads it).  Text is never evaluated: no ``sympify``, whose parser runs code.

    >>> from bptt_sym.graph import unroll
    >>> override_expr(unroll("doc", steps=1), "k", "(o - y) * v0 * (1 - s0^2)")
    v_0*(1 - s_0**2)*(o - y)
    """
    if isinstance(value, sp.Basic):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return sp.Integer(value)
    if isinstance(value, float) and np.isfinite(value):
        return sp.Float(value)
    if isinstance(value, str):
        from .formula import parse
        from .resolve import to_sympy

        loss = graph.spec.loss
        try:
            chain = parse(value if "=" in value else f"d{loss}/d{parameter} = {value}")
            return to_sympy(chain.sides[-1], graph)
        except BpttError as exc:
            why = str(exc).splitlines()[0]
            raise UsageError(f"override for {parameter!r} is not a formula of ours: {why}") \
                from None
    raise UsageError(f"override for {parameter!r} is a {type(value).__name__}; give a SymPy "
                     "expression, a finite number or a formula as text")


def _backward_blocks(graph: Graph, adjoints: list[Unit], terms: list[Unit]) -> list[Block]:
    """The delta form's sweep: what needs no step first, then t = T-1 down to 0."""
    steps: dict[int | None, list[Unit]] = {None: []}
    steps.update((t, []) for t in reversed(range(graph.steps)))
    for u in adjoints:
        steps.setdefault(anchor_of(graph, u.target), []).append(u)
    for u in terms:
        steps.setdefault(term_anchor(graph, u.expr), []).append(u)
    return list(steps.items())


def _layer_blocks(graph: Graph, nested: list[Unit]) -> list[Block]:
    """Nested expressions: every output's layers at t = 0 … T-1, then their outsides."""
    steps: dict[int, list[Unit]] = {}
    outside = []
    for u in nested:
        layers, rest = fold(graph, u.target, u.expr)
        for t, units in layers:
            steps.setdefault(t, []).extend(units)
        outside.append(rest)
    return [*sorted(steps.items()), (None, outside)]


def _forward_units(graph: Graph) -> list[Unit]:
    return [u for _, units in forward_blocks(graph) for u in units]


def _assemble(graph: Graph, blocks: list[Block], natural: list[Unit], names: tuple[str, ...],
              stand_ins: StandIns) -> Compiled:
    program = build(graph, blocks, leaf_names(graph), n_out=len(names), natural=natural,
                    lower=lambda e: _elementary(e, stand_ins))
    return Compiled(names, tuple(leaf_names(graph)), graph.steps, program)


def _locals(graph: Graph, expr: sp.Expr, adjoints: set[sp.Expr]) -> sp.Expr:
    """Every ∂c/∂p that is not one of ``adjoints`` -> the local partial's value."""
    subs = {p: graph.local[(p.num, p.den)] for p in expr.atoms(Partial) if p not in adjoints}
    return expr.xreplace(subs)


@functools.lru_cache(maxsize=32)
def compiled(model: str, steps: int, activation: str, output: str, loss: str, form: str,
             stand_ins: StandIns = DEFAULT_STAND_INS) -> Compiled:
    """The compiled gradients (``form`` delta or closed) or loss (``form`` "loss") of one
    unrolling, made once per (model, options, T, stand-ins) and then reused."""
    graph = unroll(model, steps=steps, activation=activation, output=output, loss=loss)
    if form == "loss":
        return compile_loss(graph, stand_ins=stand_ins)
    return compile_gradients(graph, form=form, stand_ins=stand_ins)


def compile_loss(graph: Graph, *, stand_ins: StandIns = DEFAULT_STAND_INS) -> Compiled:
    """Compile the forward pass: the loss E of each sequence."""
    tail = [Unit(0, graph.loss)]
    return _assemble(graph, forward_blocks(graph, tail), [*_forward_units(graph), *tail],
                     (graph.spec.loss,), stand_ins)
