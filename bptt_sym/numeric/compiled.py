"""Compile derived gradients into NumPy functions, vectorised over a batch of sequences.

The unrolled graph is T copies of one cell, so the code is compiled per step, not per
graph (:mod:`bptt_sym.numeric.stepwise`): one function for a forward step, one for a backward
(delta) step, one for a layer of the nested closed form, called in a loop over t.  Every
symbol is renamed to a generated identifier before ``lambdify`` sees it, so no name from a
model or a user reaches the code, and no expression is ever expanded.

Abstract functions f, g, L are replaced by named smooth stand-ins (:class:`StandIns`), so a
derivation that holds for every activation is exercised numerically too; so are a model's
abstract functions of several arguments (``functions = { f = "abstract" }``).

    >>> import numpy as np
    >>> from bptt_sym.graph.build import unroll
    >>> c = compile_gradients(unroll("doc", steps=2, activation="tanh",
    ...                              output="sigmoid", loss="bce"), form="closed")
    >>> sorted(c(point(2, u=0.5, w=-0.3, k=0.1, v=0.8, y=0.3)))
    ['k', 'u', 'v', 'w']
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields

import numpy as np
import sympy as sp

from bptt_sym.derivation.forms import derive
from bptt_sym.errors import BpttError, UsageError
from bptt_sym.graph.build import Graph, unroll
from bptt_sym.model.registry import ModelSpec, model_spec
from bptt_sym.notation import Partial
from bptt_sym.numeric.anchors import Block, Unit, anchor_of, fold, forward_blocks, term_anchor
from bptt_sym.numeric.stepwise import build
from bptt_sym.rules.functions import (
    RULES,
    AbstractFunction,
    AbstractPartial,
    function_class,
    prime_class,
    rule,
)

__all__ = ["StandIns", "DEFAULT_STAND_INS", "Compiled", "compile_gradients", "compile_loss",
           "compiled", "spec_key", "point", "leaf_names", "override_expr"]

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

    def many(self, name: str, arity: int) -> tuple[float, ...]:
        """The coefficients (a, b1 … bn, c, d, e1 … en, g, h) of the stand-in of the abstract
        function ``name`` of ``arity`` arguments (``functions = { f = "abstract" }``):
        a·sin(Σ bᵢ·zᵢ + c) + d·tanh(Σ eᵢ·zᵢ + g) + h, fixed by the name, the arity and these
        stand-ins, to two decimals so that a report shows them exactly."""
        seed = [arity, *name.encode(), *(round(abs(c) * 100) for c in (*self.f, *self.g,
                                                                         *self.L))]
        rng = np.random.default_rng(seed)

        def u(lo: float, hi: float, n: int = 1) -> list[float]:
            return [round(float(v), 2) or 0.25 for v in rng.uniform(lo, hi, n)]
        return (*u(0.5, 1.5), *u(-1, 1, arity), *u(-0.5, 0.5), *u(0.5, 1.5), *u(-1, 1, arity),
                *u(-0.5, 0.5), *u(-0.5, 0.5))

    def describe_many(self, name: str, arity: int) -> str:
        """How the stand-in of the abstract ``name`` reads, for a report."""
        k = self.many(name, arity)
        a, b, c, d, e, g, h = k[0], k[1:arity + 1], k[arity + 1], k[arity + 2], \
            k[arity + 3:2 * arity + 3], k[-2], k[-1]
        zs = ", ".join(f"z{i}" for i in range(1, arity + 1))

        def lin(ks: tuple[float, ...], k0: float) -> str:
            return " + ".join([f"{x}*z{i}" for i, x in enumerate(ks, 1)] + [str(k0)])
        return f"{name}({zs}) = {a}*sin({lin(b, c)}) + {d}*tanh({lin(e, g)}) + {h}"

    def abstract_rule(self, cls: type) -> Callable[..., sp.Expr]:
        """The stand-in of an abstract function class (or of one of its partials) in SymPy."""
        n, slot = cls.arity, getattr(cls, "slot", 0)
        k = [sp.Rational(str(c)) for c in self.many(cls.abstract_name, n)]
        a, b, c, d, e, g, h = k[0], k[1:n + 1], k[n + 1], k[n + 2], k[n + 3:2 * n + 3], k[-2], \
            k[-1]

        def value(*zs: sp.Expr) -> sp.Expr:
            u = sum((bi * z for bi, z in zip(b, zs)), c)
            v = sp.tanh(sum((ei * z for ei, z in zip(e, zs)), g))
            if not slot:
                return a * sp.sin(u) + d * v + h
            return a * b[slot - 1] * sp.cos(u) + d * e[slot - 1] * (1 - v**2)
        return value

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
    table.update({c: stand_ins.abstract_rule(c) for c in found
                  if issubclass(c, (AbstractFunction, AbstractPartial))})
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
    columns: Mapping[str, tuple[tuple[int, ...], bool]] = field(repr=False, default_factory=dict)

    def __call__(self, values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = []
        for name in self.inputs:
            if name not in values:
                raise UsageError(f"missing value for {name!r}; give every one of "
                                 f"{', '.join(self.inputs)}")
            args.append(self._argument(name, np.asarray(values[name], dtype=float)))
        result = self.fn(*args)
        batch = np.broadcast(*[np.asarray(values[n])[..., 0] if self._per_step(n) else values[n]
                               for n in self.inputs]).shape
        return {k: np.broadcast_to(np.asarray(r, dtype=float), batch).copy()
                for k, r in zip(self.outputs, result)}

    def _per_step(self, name: str) -> bool:
        return name in self.columns or (not self.columns and name == "x")

    def _argument(self, name: str, a: np.ndarray) -> object:
        """An input ``(B, T)`` as the program takes it: its used steps as rows (or the one
        column); any other value as it is."""
        if name not in self.columns:
            return a.T if name == "x" else a  # rows of x.T are the steps
        steps, rows = self.columns[name]
        if a.ndim < 1 or a.shape[-1] != self.steps:
            raise UsageError(f"expected {self.steps} rows (one per step) of input {name!r}, "
                             f"got shape {list(a.shape)}")
        cols = [a[..., k] for k in steps]
        return cols if rows else cols[0]


def compile_gradients(graph: Graph, *, form: str = "delta", of: str | None = None,
                      wrt: tuple[str, ...] | None = None,
                      stand_ins: StandIns = DEFAULT_STAND_INS,
                      override: Mapping[str, sp.Expr] | None = None) -> Compiled:
    """Compile ∂of/∂p for every parameter p (``form`` delta or closed) into one function.

    The delta form runs as BPTT does: the forward loop, then the adjoints from t = T-1 down
    to 0, each step adding its terms to the gradients.  The closed form's nested factors
    are evaluated from the innermost step outwards (:func:`bptt_sym.numeric.anchors.fold`).
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
    it is, a number, or text read by our own grammar (:mod:`bptt_sym.syntax.formula`, as ``check``
    reads it).  Text is never evaluated: no ``sympify``, whose parser runs code.

    >>> from bptt_sym.graph.build import unroll
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
        from bptt_sym.graph.resolve import to_sympy
        from bptt_sym.syntax.formula import parse

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
    leaves = leaf_names(graph)
    program = build(graph, blocks, leaves, n_out=len(names), natural=natural,
                    lower=lambda e: _elementary(e, stand_ins))
    columns = {name: (tuple(graph.nodes[s].step for s in leaves[name]), rows)
               for name, (rows, _) in zip(leaves, program.leaves) if name in graph.spec.inputs}
    return Compiled(names, tuple(leaves), graph.steps, program, columns=columns)


def _locals(graph: Graph, expr: sp.Expr, adjoints: set[sp.Expr]) -> sp.Expr:
    """Every ∂c/∂p that is not one of ``adjoints`` -> the local partial's value."""
    subs = {p: graph.local[(p.num, p.den)] for p in expr.atoms(Partial) if p not in adjoints}
    return expr.xreplace(subs)


def spec_key(spec: ModelSpec) -> tuple:
    """What identifies a model by its content: every field but its name, title and file
    (dicts as sorted items), so two models that differ anywhere else never share a cache.

    >>> from dataclasses import replace
    >>> from bptt_sym.model.registry import DOC
    >>> spec_key(replace(DOC, name="mine")) == spec_key(DOC)
    True
    >>> spec_key(replace(DOC, cell=DOC.cell[:3] + ("s_t = tanh(z_t)",))) == spec_key(DOC)
    False
    """
    def plain(value: object) -> object:
        if isinstance(value, Mapping):
            return tuple(sorted(((k, plain(v)) for k, v in value.items()), key=repr))
        return value
    return tuple((f.name, plain(getattr(spec, f.name))) for f in fields(spec)
                 if f.name not in ("name", "title", "path"))


class _Keyed:
    """A model with its content key: hashed and compared by the key alone."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec, self.key = spec, spec_key(spec)

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Keyed) and self.key == other.key


def compiled(model: str | ModelSpec, steps: int, activation: str, output: str, loss: str,
             form: str, stand_ins: StandIns = DEFAULT_STAND_INS) -> Compiled:
    """The compiled gradients (``form`` delta or closed) or loss (``form`` "loss") of one
    unrolling, made once per (model content, options, T, stand-ins) and then reused.

    ``model`` is a built-in model's name or a :class:`~bptt_sym.model.registry.ModelSpec`; the cache
    is keyed by the model's content (:func:`spec_key`), never by its name.
    """
    spec = model_spec(model) if isinstance(model, str) else model
    return _compiled(_Keyed(spec), steps, activation, output, loss, form, stand_ins)


@functools.lru_cache(maxsize=32)
def _compiled(model: _Keyed, steps: int, activation: str, output: str, loss: str, form: str,
              stand_ins: StandIns) -> Compiled:
    graph = unroll(model.spec, steps=steps, activation=activation, output=output, loss=loss)
    if form == "loss":
        return compile_loss(graph, stand_ins=stand_ins)
    return compile_gradients(graph, form=form, stand_ins=stand_ins)


def compile_loss(graph: Graph, *, stand_ins: StandIns = DEFAULT_STAND_INS) -> Compiled:
    """Compile the forward pass: the loss E of each sequence."""
    tail = [Unit(0, graph.loss)]
    return _assemble(graph, forward_blocks(graph, tail), [*_forward_units(graph), *tail],
                     (graph.spec.loss,), stand_ins)
