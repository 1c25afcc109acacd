"""The one table of matrix rules: for each operator of a matrix model line, its
vector-Jacobian product (what the reverse sweep sends back) and its local Jacobian (what a
drawing labels an edge with), one line each, in the style of autograd's ``defvjp``.

An elementwise function's derivative comes from the scalar rule table
(:mod:`bptt_sym.rules.functions`), written in node values: tanh′ is 1 − s ⊙ s.  A weight's Jacobian
is written for the weight stacked column by column (vec), hence the Kronecker product.

    >>> import sympy as sp
    >>> z, s = sp.MatrixSymbol("z", 3, 1), sp.MatrixSymbol("s", 3, 1)
    >>> from bptt_sym.printing.leibniz import leibniz
    >>> leibniz(act_derivative(Apply("tanh", z), s))
    '1 − s ⊙ s'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from bptt_sym.errors import UsageError
from bptt_sym.notation import split_name
from bptt_sym.rules.expressions import Apply, EntrySum, Rows, Softmax, Stack, Xent
from bptt_sym.rules.functions import rule

__all__ = ["Diag", "VJP", "JACOBIAN", "elementwise", "act_derivative", "replaced", "place",
           "edge_jacobians",
           "jacobian", "minus", "scaled"]

M = MatrixExpr


class Diag(MatrixExpr):
    """diag(v): the square matrix with the vector v on its diagonal."""

    def __new__(cls, v: MatrixExpr) -> Diag:
        return MatrixExpr.__new__(cls, v)

    @property
    def shape(self) -> tuple:
        rows, cols = self.args[0].shape
        n = rows if cols == 1 else cols  # a column or a row vector
        return (n, n)


def elementwise(expr: sp.Expr, mapping: dict[sp.Symbol, MatrixExpr], shape: tuple) -> M:
    """A scalar rule (1 - s**2) as the elementwise matrix expression 1 − s ⊙ s."""
    if expr in mapping:
        return mapping[expr]
    if expr.is_Number:
        ones = sp.OneMatrix(*shape)
        return ones if expr == 1 else sp.MatMul(expr, ones)
    if isinstance(expr, sp.Add):
        return sp.MatAdd(*[elementwise(a, mapping, shape) for a in expr.args])
    if isinstance(expr, sp.Mul):
        coeff, rest = expr.as_coeff_Mul()
        parts = [elementwise(a, mapping, shape) for a in sp.Mul.make_args(rest)]
        body = parts[0] if len(parts) == 1 else sp.HadamardProduct(*parts)
        return body if coeff == 1 else sp.MatMul(coeff, body)
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0:
        base = elementwise(expr.base, mapping, shape)
        return sp.HadamardProduct(*[base] * int(expr.exp))
    if isinstance(expr, sp.Heaviside):
        return Apply("step", elementwise(expr.args[0], mapping, shape))
    if isinstance(expr, sp.Function) and len(expr.args) == 1:  # f'(z) of an abstract f
        return Apply(type(expr).__name__, elementwise(expr.args[0], mapping, shape))
    raise UsageError(f"cannot write {expr} elementwise")


# Wrong derivatives on purpose, for gradcheck's variants: f′ of a function taken from another
# function's rule (in the same node value), or 1 (None).  Empty but inside `replaced`.
_REPLACED: dict[str, str | None] = {}


@contextmanager
def replaced(name: str, by: str | None) -> Iterator[None]:
    """Derive with ``name``′ written as ``by``′ in node values (None: left out, as 1);
    ``name`` is a function (tanh), or one place of it (:func:`place`: g, tanh(c))."""
    _REPLACED[name] = by
    try:
        yield
    finally:
        _REPLACED.pop(name, None)


def place(node: Apply, out: MatrixExpr) -> str:
    """Where an elementwise function stands: the base of the node it makes (g for g_t =
    tanh(…)), or the function of a node inside an expression (tanh(c) in o_t ⊙ tanh(c_t))."""
    if isinstance(out, sp.MatrixSymbol) and out is not node:
        return split_name(out.name)[0]
    if isinstance(node.arg, sp.MatrixSymbol):
        return f"{node.name}({split_name(node.arg.name)[0]})"
    return node.name


def act_derivative(node: Apply, out: MatrixExpr) -> M:
    """f'(z) for the node out = f(z), from the scalar rule table, in node values."""
    z, s = sp.symbols("z s")
    name = _REPLACED.get(place(node, out), _REPLACED.get(node.name, node.name))
    if name is None:
        return sp.OneMatrix(*out.shape)
    d = rule("activation", name).derivative(z, out=s)
    return elementwise(d, {z: node.arg, s: out}, out.shape)


def minus(a: M, b: M) -> M:
    return sp.MatAdd(a, sp.MatMul(-1, b))


def scaled(c: sp.Basic, g: sp.Basic) -> sp.Basic:
    return g if c == 1 else sp.MatMul(c, g) if isinstance(g, MatrixExpr) else c * g


def _had(*factors: M) -> M:
    """a ⊙ b ⊙ …, a factor of ones left out."""
    kept = [f for f in factors if not isinstance(f, sp.OneMatrix)]
    return kept[0] if len(kept) == 1 else sp.HadamardProduct(*kept) if kept else factors[0]


# ---- vector-Jacobian rules: (g = adjoint of the node) -> adjoint sent to one argument ---
VJP: dict[str, Callable[..., M]] = {
    "add":          lambda g: g,                                      # n = a + b + …
    "matmul_arg":   lambda g, A, x: sp.MatMul(sp.Transpose(A), g),    # n = A x, to x
    "matmul_mat":   lambda g, A, x: sp.MatMul(g, sp.Transpose(x)),    # n = A x, to A
    "hadamard":     lambda g, *others: _had(g, *others),              # n = a ⊙ b, to a
    "transpose":    lambda g: sp.Transpose(g),                        # n = aᵀ, to a
    "scale":        lambda g, c: scaled(c, g),                       # n = c a, to a
    "elementwise":  lambda g, fprime: sp.HadamardProduct(g, fprime),  # n = f(z), to z
    "entry_sum":    lambda g, X: scaled(g, sp.OneMatrix(*X.shape)),  # n = sum(X), to X
    "softmax":      lambda g, p: sp.MatAdd(_had(p, g),                # n = softmax(l), to l
                                           sp.MatMul(-1, p, sp.Transpose(p), g)),
    "xent_softmax": lambda g, yhat, y: scaled(g, minus(yhat, y)),   # E = xent(softmax(l), y)
    "stack":        lambda g, n, i, span=None: Rows(g, n.offsets[i], n.offsets[i + 1],  # [a; b]
                                                    span),            # to part i: its rows
}


# ---- local Jacobians ∂node/∂argument, one line per kind of edge --------------------------
JACOBIAN: dict[str, Callable[..., sp.Basic]] = {
    "add":         lambda arg: sp.Identity(arg.shape[0]),                   # n = a + b + …
    "matmul_arg":  lambda A, x: A,                                          # n = A x, to x
    "matmul_mat":  lambda A, x: sp.KroneckerProduct(sp.Transpose(x),      # n = A x, to vec A
                                                    sp.Identity(A.shape[0])),
    "elementwise": lambda fprime: Diag(fprime),                             # n = f(z)
    "softmax":     lambda p: sp.MatAdd(Diag(p), sp.MatMul(-1, p, sp.Transpose(p))),
    "xent_yhat":   lambda p, y: sp.MatMul(-1, sp.Transpose(y), sp.Inverse(Diag(p))),
    "xent_y":      lambda p, y: sp.MatMul(-1, sp.Transpose(Apply("log", p))),
    "sum":         lambda: sp.S.One,                                        # E = Σ_t E_t
    "rowmul_arg":  lambda x, W: sp.Transpose(W),                            # n = x W, to x
    "rowmul_mat":  lambda x, W: sp.KroneckerProduct(sp.Identity(W.shape[1]), x),  # to vec W
    "hadamard":    lambda other: Diag(other),                               # n = a ⊙ b, to a
    "entry_sum":   lambda X: sp.Transpose(sp.OneMatrix(*X.shape)),          # n = sum(X)
    "entry_sum_of": lambda other: sp.Transpose(other) if other.shape[1] == 1 else other,
    "stack":       lambda n, i: Stack(*(sp.Identity(p.shape[0]) if j == i else  # n = [a; b]
                                        sp.ZeroMatrix(p.shape[0], n.parts[i].shape[0])
                                        for j, p in enumerate(n.parts))),        # to a: [I; 0]
}


def edge_jacobians(n: sp.Basic, node: object, node_kind: Callable[[sp.Basic], str]
                   ) -> dict[tuple, sp.Basic]:
    """(node, parent) -> the Jacobian of that edge, for every parent of ``node``: one rule
    of JACOBIAN for the edges of a simple equation, the chain of them (:func:`jacobian`)
    through a nested one such as r_t = σ(W x_t + U h_{t-1} + b)."""
    simple = _simple_jacobians(n, node, node_kind)
    e = node.expr
    terms = e.args if isinstance(e, (sp.MatAdd, sp.Add)) else (e,)
    return {(n, p): simple[(n, p)] if (n, p) in simple and sum(t.has(p) for t in terms) == 1
            else jacobian(e, p, node_kind, out=n) for p in node.parents}


def jacobian(e: sp.Basic, p: sp.Basic, node_kind: Callable[[sp.Basic], str],
             out: sp.Basic | None = None) -> sp.Basic:
    """∂e/∂p for a vector (or scalar) ``p`` inside ``e``, by the chain rule over ``e``'s
    operators (``out``: the node's own symbol, in which f' is written)."""
    if e == p:
        return sp.Identity(_length(p)) if isinstance(p, MatrixExpr) else sp.S.One
    parts = [a for a in getattr(e, "args", ()) if isinstance(a, sp.Basic) and a.has(p)]
    if isinstance(e, (sp.MatAdd, sp.Add)):
        terms = [jacobian(a, p, node_kind) for a in parts]
        return terms[0] if len(terms) == 1 else sp.MatAdd(*terms)
    if isinstance(e, Apply):
        return _then(Diag(act_derivative(e, out or e)), jacobian(e.arg, p, node_kind))
    if isinstance(e, Stack):
        terms = [_then(JACOBIAN["stack"](e, i), jacobian(a, p, node_kind))
                 for i, a in enumerate(e.parts) if a.has(p)]
        return terms[0] if len(terms) == 1 else sp.MatAdd(*terms)
    if isinstance(e, sp.HadamardProduct) and len(e.args) == 2:
        a, b = e.args
        terms = [_then(Diag(other), jacobian(x, p, node_kind))
                 for x, other in ((a, b), (b, a)) if x.has(p)]
        return terms[0] if len(terms) == 1 else sp.MatAdd(*terms)
    if isinstance(e, sp.MatMul):
        scalars = [a for a in e.args if not isinstance(a, MatrixExpr)]
        mats = [a for a in e.args if isinstance(a, MatrixExpr)]
        inner = mats[0] if len(mats) == 1 else None
        if inner is None and len(mats) == 2:
            A, x = mats
            if A == p and x.shape[1] == 1:
                inner = JACOBIAN["matmul_mat"](A, x)
            elif x == p and node_kind(x) == "parameter":
                inner = JACOBIAN["rowmul_mat"](A, x)
            elif not A.has(p) and x.shape[1] == 1:
                inner = _then(A, jacobian(x, p, node_kind))
            elif not x.has(p) and A.shape[0] == 1:
                inner = _then(sp.Transpose(x), jacobian(A, p, node_kind))
            else:
                raise UsageError(f"no Jacobian rule for {e} with respect to {p}")
        elif inner is not None:
            inner = jacobian(inner, p, node_kind)
        else:
            raise UsageError(f"no Jacobian rule for {e} with respect to {p}")
        return scaled(sp.Mul(*scalars), inner) if scalars else inner
    raise UsageError(f"no Jacobian rule for {type(e).__name__} with respect to {p}")


def _length(v: MatrixExpr) -> int:
    rows, cols = v.shape
    return rows * cols


def _then(left: sp.Basic, right: sp.Basic) -> sp.Basic:
    """left · right, an identity on either side left out."""
    if isinstance(right, sp.Identity):
        return left
    if isinstance(left, sp.Identity):
        return right
    if isinstance(right, sp.MatMul) and [type(a) for a in right.args if
                                         isinstance(a, MatrixExpr)] == [sp.Identity]:
        return scaled(sp.Mul(*(a for a in right.args if not isinstance(a, MatrixExpr))), left)
    return sp.MatMul(left, right)


def _simple_jacobians(n: sp.Basic, node: object, node_kind: Callable[[sp.Basic], str]
                      ) -> dict[tuple, sp.Basic]:
    """The edges of a one-operator equation, each by one rule of JACOBIAN."""
    e = node.expr
    if isinstance(e, Xent):
        p, y = e.args
        return {(n, p): JACOBIAN["xent_yhat"](p, y), (n, y): JACOBIAN["xent_y"](p, y)}
    if isinstance(e, Softmax):
        return {(n, e.arg): JACOBIAN["softmax"](n)}
    if isinstance(e, Apply):
        return {(n, e.arg): JACOBIAN["elementwise"](act_derivative(e, n))}
    if isinstance(e, EntrySum):
        arg = e.arg
        if isinstance(arg, sp.HadamardProduct) and len(arg.args) == 2:  # sum(h ⊙ y)
            a, b = arg.args
            return {(n, a): JACOBIAN["entry_sum_of"](b), (n, b): JACOBIAN["entry_sum_of"](a)}
        return {(n, arg): JACOBIAN["entry_sum"](arg)}
    if not isinstance(e, M):  # E = Σ_t E_t (at T = 1 just E_0)
        return {(n, p): JACOBIAN["sum"]() for p in node.parents}
    out = {}
    for term in e.args if isinstance(e, sp.MatAdd) else (e,):
        two = isinstance(term, sp.MatMul) and len(term.args) == 2 and \
            all(isinstance(a, MatrixExpr) for a in term.args)
        if two and node_kind(term.args[1]) == "parameter":  # a row times a weight: x W
            x, W = term.args
            out[(n, x)] = JACOBIAN["rowmul_arg"](x, W)
            out[(n, W)] = JACOBIAN["rowmul_mat"](x, W)
        elif two:
            A, x = term.args
            out[(n, x)] = JACOBIAN["matmul_arg"](A, x)
            out[(n, A)] = JACOBIAN["matmul_mat"](A, x)
        elif isinstance(term, sp.HadamardProduct) and len(term.args) == 2:
            a, b = term.args
            out[(n, a)], out[(n, b)] = JACOBIAN["hadamard"](b), JACOBIAN["hadamard"](a)
        else:
            out[(n, term)] = JACOBIAN["add"](term)
    return out
