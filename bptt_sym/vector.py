"""Vector models: the article's Elman RNN (V1-V4) as equations over matrices and vectors.

The same equation grammar as the scalar models reads the cell; every name becomes a SymPy
``MatrixSymbol`` of its shape, so ``U*x_t + W*s_{t-1}`` is a matrix expression.  The
unrolled graph has a copy of each weight per step (W_0, W_1, …), as the scalar one does.

    >>> g = unroll_vector(steps=2, hidden=3, inputs=2, classes=4)
    >>> g.nodes[sp.MatrixSymbol("z_1", 3, 1)].expr
    U_1*x_1 + W_1*s_0
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr

from .equations import Ref, parse_equation
from .errors import UsageError
from .notation import step_symbol

__all__ = ["Apply", "Softmax", "Xent", "VectorSpec", "VectorGraph", "VNode", "ELMAN",
           "unroll_vector", "matrix_symbol", "MAX_SIZE"]

MAX_SIZE = 4096


class Apply(MatrixExpr):
    """An elementwise function applied to a vector: tanh(z_t)."""

    def __new__(cls, name: str | Str, arg: MatrixExpr) -> Apply:
        return MatrixExpr.__new__(cls, Str(str(name)), arg)

    @property
    def name(self) -> str:
        return str(self.args[0])

    @property
    def arg(self) -> MatrixExpr:
        return self.args[1]

    @property
    def shape(self) -> tuple:
        return self.arg.shape


class Softmax(MatrixExpr):
    """softmax of a vector of logits."""

    def __new__(cls, arg: MatrixExpr) -> Softmax:
        return MatrixExpr.__new__(cls, arg)

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    @property
    def shape(self) -> tuple:
        return self.arg.shape


class Xent(sp.Expr):
    """The cross-entropy −yᵀ log ŷ of a prediction ŷ and a target y (a scalar)."""

    is_commutative = True

    def __new__(cls, yhat: MatrixExpr, y: MatrixExpr) -> Xent:
        return sp.Expr.__new__(cls, yhat, y)


@dataclass(frozen=True)
class VectorSpec:
    """A vector model: cell equations (with and without biases), shapes by name.

    Shapes use the letters H (hidden), D (inputs), K (classes) and 1.
    """

    name: str
    title: str
    cell: tuple[str, ...]
    cell_bias: tuple[str, ...]
    loss_term: str
    loss: str
    parameters: tuple[str, ...]
    bias_parameters: tuple[str, ...]
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    states: tuple[str, ...]
    shapes: Mapping[str, tuple[str, str]]


ELMAN = VectorSpec(
    name="elman",
    title="the article's vector RNN (V1-V4): s_t = tanh(U x_t + W s_{t-1}), "
          "yhat_t = softmax(V s_t), E = sum_t -y_t^T log yhat_t",
    cell=("z_t = U*x_t + W*s_{t-1}", "s_t = f(z_t)", "l_t = V*s_t",
          "yhat_t = softmax(l_t)", "E_t = xent(yhat_t, y_t)"),
    cell_bias=("z_t = U*x_t + W*s_{t-1} + b", "s_t = f(z_t)", "l_t = V*s_t + c",
               "yhat_t = softmax(l_t)", "E_t = xent(yhat_t, y_t)"),
    loss_term="E", loss="E",
    parameters=("U", "W", "V"), bias_parameters=("b", "c"),
    inputs=("x",), targets=("y",), states=("s",),
    shapes={"U": ("H", "D"), "W": ("H", "H"), "V": ("K", "H"), "b": ("H", "1"),
            "c": ("K", "1"), "x": ("D", "1"), "y": ("K", "1"), "s": ("H", "1"),
            "z": ("H", "1"), "l": ("K", "1"), "yhat": ("K", "1")},
)


@dataclass(frozen=True)
class VNode:
    """A node of the vector graph: a matrix or vector (or the scalar losses E_t, E)."""

    symbol: sp.Basic
    base: str
    step: int | None
    kind: str
    expr: sp.Basic | None = None
    parents: tuple[sp.Basic, ...] = ()
    parameter: str | None = None


@dataclass(frozen=True)
class VectorGraph:
    """The unrolled vector graph, in topological order; ``dims`` maps H, D, K to sizes."""

    spec: VectorSpec
    steps: int
    dims: Mapping[str, int]
    activation: str
    bias: bool
    nodes: Mapping[sp.Basic, VNode]
    copies: Mapping[str, tuple[sp.Basic, ...]]

    @property
    def loss(self) -> sp.Symbol:
        return sp.Symbol(self.spec.loss)

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(self.copies)


def matrix_symbol(spec: VectorSpec, dims: Mapping[str, int], base: str,
                  step: int | None) -> sp.Basic:
    """The symbol of ``base`` at ``step``: a MatrixSymbol of its shape (E_t: a scalar)."""
    name = step_symbol(base, step).name
    if base not in spec.shapes:
        return sp.Symbol(name)
    rows, cols = (dims.get(d, 1) if d != "1" else 1 for d in spec.shapes[base])
    return sp.MatrixSymbol(name, rows, cols)


def _functions(activation: str) -> dict:
    return {"f": lambda z: Apply(activation, z), "softmax": Softmax, "xent": Xent}


def unroll_vector(spec: VectorSpec = ELMAN, *, steps: int = 2, hidden: int = 3,
                  inputs: int = 2, classes: int = 3, bias: bool = False,
                  activation: str = "tanh") -> VectorGraph:
    """Unroll a vector model over ``steps`` steps with the given sizes."""
    for name, value in (("--steps", steps), ("--hidden", hidden), ("--inputs", inputs),
                        ("--classes", classes)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE:
            raise UsageError(f"{name} must be a whole number from 1 to {MAX_SIZE}, got {value!r}")
    if classes < 2:
        raise UsageError(f"--classes must be at least 2 for a softmax output, got {classes}")
    if activation not in ("tanh", "sigmoid", "relu", "identity", "f"):
        raise UsageError(f"unknown activation {activation!r} for {spec.name}; choose one of "
                         "tanh, sigmoid, relu, identity, or f (abstract)")
    dims = {"H": hidden, "D": inputs, "K": classes}
    params = spec.parameters + (spec.bias_parameters if bias else ())

    def placeholder(ref: Ref) -> sp.Basic:
        p = ref.placeholder()
        if ref.base not in spec.shapes:
            return p
        rows, cols = (dims.get(d, 1) if d != "1" else 1 for d in spec.shapes[ref.base])
        return sp.MatrixSymbol(p.name, rows, cols)

    templates = [parse_equation(e, functions=_functions(activation), symbol=placeholder)
                 for e in (spec.cell_bias if bias else spec.cell)]
    nodes: dict[sp.Basic, VNode] = {}
    copies: dict[str, list] = {p: [] for p in params}

    def leaf(ref: Ref, t: int) -> sp.Basic:
        if ref.base in params:
            sym = matrix_symbol(spec, dims, ref.base, t)
            if sym not in nodes:
                nodes[sym] = VNode(sym, ref.base, t, "parameter", parameter=ref.base)
                copies[ref.base].append(sym)
            return sym
        step = ref.step(t, steps)
        sym = matrix_symbol(spec, dims, ref.base, step)
        if sym not in nodes:
            kind = {True: "initial"}.get(ref.base in spec.states and step == -1) or \
                ("input" if ref.base in spec.inputs else
                 "target" if ref.base in spec.targets else None)
            if kind is None:
                raise UsageError(f"model {spec.name}: {sym} is used before it is defined")
            nodes[sym] = VNode(sym, ref.base, step, kind)
        return sym

    for t in range(steps):
        for tpl in templates:
            mapping = {p: leaf(r, t) for p, r in tpl.refs.items()}
            sym = matrix_symbol(spec, dims, tpl.lhs.base, t)
            parents = tuple(dict.fromkeys(v for p, v in mapping.items() if tpl.rhs.has(p)))
            nodes[sym] = VNode(sym, tpl.lhs.base, t, "node", tpl.rhs.xreplace(mapping), parents)
    terms = [matrix_symbol(spec, dims, spec.loss_term, t) for t in range(steps)]
    loss = sp.Symbol(spec.loss)
    nodes[loss] = VNode(loss, spec.loss, None, "node", sp.Add(*terms, evaluate=False),
                        tuple(terms))
    return VectorGraph(spec, steps, dims, activation, bias, nodes,
                       {k: tuple(v) for k, v in copies.items()})
