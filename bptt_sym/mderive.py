"""Matrix-form BPTT for vector models: a reverse sweep with vector-Jacobian rules.

The rules live in one table, one line each, in the style of autograd's ``defvjp``: given
the adjoint ``g`` of a node, the adjoint it sends to one argument.  The sweep is a plain
loop in reverse topological order; δ_t = ∂E/∂z_t is kept as a symbol (the pre-activation
adjoint an implementation stores), every other adjoint is written out in place.

    >>> from bptt_sym.vector import unroll_vector
    >>> from bptt_sym.printing import leibniz
    >>> d = derive_matrix(unroll_vector(steps=3), wrt="W")
    >>> print(leibniz(d.template[1].rhs, "ascii"))
    (V^T @ (yhat_t - y_t) + W^T @ delta_{t+1}) * (1 - s_t * s_t)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from .derive import Equation
from .errors import UsageError
from .notation import Partial
from .rules import rule
from .vector import Apply, Softmax, VectorGraph, Xent

__all__ = ["VJP", "MatrixDerivation", "derive_matrix", "elementwise", "Diag", "StepSum",
           "BoundedSum", "StepProduct", "ChainProduct", "adjoint_symbol", "shared",
           "state_jacobian", "per_output"]

M = MatrixExpr


class Diag(MatrixExpr):
    """diag(v): the square matrix with the vector v on its diagonal."""

    def __new__(cls, v: MatrixExpr) -> Diag:
        return MatrixExpr.__new__(cls, v)

    @property
    def shape(self) -> tuple:
        return (self.args[0].shape[0], self.args[0].shape[0])


class StepSum(sp.Expr):
    """Σ_t body, for printing the general form; ``var`` is the step variable's name."""

    is_commutative = False

    def __new__(cls, body: sp.Basic, var: str | sp.Symbol = "t") -> StepSum:
        return sp.Expr.__new__(cls, body, sp.Symbol(str(var)))


class BoundedSum(sp.Expr):
    """Σ_{var=lo}^{hi} body, for printing; the bounds are names such as 0, t, k+1."""

    is_commutative = False

    def __new__(cls, body: sp.Basic, var: str, lo: str, hi: str) -> BoundedSum:
        return sp.Expr.__new__(cls, body, *(sp.Symbol(x) for x in (var, lo, hi)))


class StepProduct(BoundedSum):
    """Π_{var=lo}^{hi} body of matrices, the factor of the highest step on the left."""


class ChainProduct(sp.Expr):
    """A chain of Jacobians in the order the chain rule writes them (not multiplied out)."""

    is_commutative = False

    def __new__(cls, *factors: sp.Basic) -> ChainProduct:
        return sp.Expr.__new__(cls, *factors)


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


def _act_derivative(node: Apply, out: MatrixExpr) -> M:
    """f'(z) for the node out = f(z), from the scalar rule table, in node values."""
    z, s = sp.symbols("z s")
    d = rule("activation", node.name).derivative(z, out=s)
    return elementwise(d, {z: node.arg, s: out}, out.shape)


def _minus(a: M, b: M) -> M:
    return sp.MatAdd(a, sp.MatMul(-1, b))


# ---- vector-Jacobian rules: (g = adjoint of the node) -> adjoint sent to one argument ---
VJP: dict[str, Callable[..., M]] = {
    "add":          lambda g: g,                                      # n = a + b + …
    "matmul_arg":   lambda g, A, x: sp.MatMul(sp.Transpose(A), g),    # n = A x, to x
    "matmul_mat":   lambda g, A, x: sp.MatMul(g, sp.Transpose(x)),    # n = A x, to A
    "elementwise":  lambda g, fprime: sp.HadamardProduct(g, fprime),  # n = f(z), to z
    "xent_softmax": lambda g, yhat, y: _minus(yhat, y),               # E = xent(softmax(l), y)
}


def adjoint_symbol(z: sp.MatrixSymbol) -> sp.MatrixSymbol:
    """δ_t, the stored adjoint ∂E/∂z_t of a pre-activation."""
    return sp.MatrixSymbol(z.name.replace("z", "delta", 1), *z.shape)


def shared(graph: VectorGraph) -> dict[sp.Basic, sp.Basic]:
    """Every step copy W_t -> the shared W (their values are equal)."""
    out = {}
    for p, copies in graph.copies.items():
        for c in copies:
            out[c] = sp.MatrixSymbol(p, *c.shape)
    return out


def _contributions(graph: VectorGraph, n: sp.Basic, g: sp.Basic) -> list[tuple]:
    """(parent, adjoint it receives) for node ``n`` whose adjoint is ``g``."""
    e = graph.nodes[n].expr
    if isinstance(e, sp.Add) and not isinstance(e, MatrixExpr):  # E = Σ_t E_t
        return [(p, g) for p in graph.nodes[n].parents]
    if isinstance(e, Xent):
        yhat, y = e.args
        soft = graph.nodes[yhat].expr
        if isinstance(soft, Softmax):  # the fused rule: needs Σ_k y_k = 1
            return [(soft.arg, VJP["xent_softmax"](g, yhat, y))]
        raise UsageError("xent without softmax is not supported")
    if isinstance(e, Apply):
        return [(e.arg, VJP["elementwise"](g, _act_derivative(e, n)))]
    out = []
    for term in (e.args if isinstance(e, sp.MatAdd) else (e,)):
        if isinstance(term, sp.MatMul) and len(term.args) == 2:
            A, x = term.args
            out.append((x, VJP["matmul_arg"](g, A, x)))
            out.append((A, VJP["matmul_mat"](g, A, x)))
        else:
            out.append((term, VJP["add"](g)))
    return out


def state_jacobian(graph: VectorGraph) -> Equation | None:
    """∂s_t/∂s_{t-1} = diag(f'(z_t)) W, by the Jacobian of each edge on the path, templated."""
    if graph.steps < 2:
        return None
    t = graph.steps - 1
    s_t = next(n for n, node in graph.nodes.items() if node.base == "s" and node.step == t)
    z_t = graph.nodes[s_t].expr.arg
    prev = next(n for n, node in graph.nodes.items() if node.base == "s" and node.step == t - 1)
    weight = next(term.args[0] for term in graph.nodes[z_t].expr.args
                  if isinstance(term, sp.MatMul) and term.args[1] == prev)
    jac = sp.MatMul(Diag(_act_derivative(graph.nodes[s_t].expr, s_t)), weight)
    eq = Equation(Partial(s_t, prev), jac.xreplace(shared(graph)), "jacobian")
    return Equation(_template_names(eq.lhs, t), _template_names(eq.rhs, t), eq.kind)


def _named(base: str, index: str, like: sp.Basic) -> sp.Basic:
    """The template symbol base_index (s_k, s_{j-1}, W_k) of the shape of ``like``."""
    name = f"{base}_{index}" if index.isalnum() else f"{base}_{{{index}}}"
    return sp.MatrixSymbol(name, *like.shape) if isinstance(like, sp.MatrixSymbol) else \
        sp.MatrixSymbol(name, 1, 1)


def _downstream(graph: VectorGraph, start: sp.Basic) -> set[sp.Basic]:
    reached = {start}
    for n, node in graph.nodes.items():
        if any(p in reached for p in node.parents):
            reached.add(n)
    return reached


def per_output(graph: VectorGraph, wrt: str) -> list[tuple[str, Equation]]:
    """V5 per output: the chain that carries E_t back to ``wrt``, read off the graph.

    For a weight inside the recurrence (U, W, b) the chain runs through the states of
    every step k ≤ t: ∂E_t/∂W = Σ_{k=0}^{t} ∂E_t/∂ŷ_t ∂ŷ_t/∂s_t (Π_{j=k+1}^{t}
    ∂s_j/∂s_{j−1}) ∂s_k/∂W_k, with the immediate ∂s_k/∂W_k of step k's copy.  A weight of
    the output (V, c) reaches E_t at step t only.  Each chain comes with its local pieces,
    derived by the reverse sweep of the loss E_t alone.
    """
    spec, t0 = graph.spec, graph.steps - 1
    at = {(node.base, node.step): n for n, node in graph.nodes.items()}
    e_t = at[(spec.loss_term, t0)]
    out = next(p for p in graph.nodes[e_t].parents if graph.nodes[p].kind == "node")
    state = at[(spec.states[0], t0)]
    copy = next(c for c in graph.copies[wrt] if graph.nodes[c].step == t0)
    w = sp.MatrixSymbol(wrt, *copy.shape)
    loss_t = sp.MatrixSymbol(f"{spec.loss_term}_t", 1, 1)
    out_t = _named(graph.nodes[out].base, "t", out)
    s = spec.states[0]
    if state in _downstream(graph, copy):
        chain = ChainProduct(Partial(loss_t, out_t), Partial(out_t, _named(s, "t", state)),
                             StepProduct(Partial(_named(s, "j", state),
                                                 _named(s, "j-1", state)), "j", "k+1", "t"),
                             Partial(_named(s, "k", state), _named(wrt, "k", copy)))
        eqs = [("chain", Equation(Partial(loss_t, w), BoundedSum(chain, "k", "0", "t"),
                                  "chain"))]
        jac = state_jacobian(graph)
        if jac is not None:
            eqs.append(("jacobian", jac))
        piece = state
    else:
        chain = ChainProduct(Partial(loss_t, out_t), Partial(out_t, _named(wrt, "t", copy)))
        eqs = [("chain", Equation(Partial(loss_t, w), chain, "chain"))]
        piece = copy
    alone = dict(graph.nodes)  # the graph whose loss is E_t alone
    alone[graph.loss] = dataclasses.replace(graph.nodes[graph.loss], expr=e_t, parents=(e_t,))
    value, _ = _sweep(dataclasses.replace(graph, nodes=alone))
    local = Equation(Partial(loss_t, piece if piece is state else w),
                     value[piece].xreplace(shared(graph)), "local")
    eqs.append(("local", Equation(_template_names(local.lhs, t0),
                                  _template_names(local.rhs, t0), "local")))
    return eqs


@dataclass(frozen=True)
class MatrixDerivation:
    """The matrix form of ∂E/∂wrt: the general template in t and the unrolled equations."""

    wrt: str
    template: tuple[Equation, ...]
    unrolled: tuple[Equation, ...]
    per_output: tuple[Equation, ...]
    graph: VectorGraph = field(repr=False, compare=False)


def _sweep(graph: VectorGraph) -> tuple[dict, list[Equation]]:
    """The reverse sweep: adjoint expressions of every node, δ equations as they are made."""
    adj: dict[sp.Basic, list[tuple[int, sp.Basic]]] = {graph.loss: [(0, sp.S.One)]}
    value: dict[sp.Basic, sp.Basic] = {}
    deltas: list[Equation] = []
    for n in reversed(list(graph.nodes)):  # the BPTT sweep, last step first
        node = graph.nodes[n]
        if n not in adj or node.expr is None:
            continue
        parts = [g for _, g in sorted(adj[n], key=lambda item: item[0])]
        g = parts[0] if len(parts) == 1 else sp.MatAdd(*parts)
        if isinstance(node.expr, Softmax):
            continue  # folded into the xent rule
        if node.base == "z":
            d = adjoint_symbol(n)
            deltas.append(Equation(d, g, "delta"))
            g = d
        value[n] = g
        for parent, contribution in _contributions(graph, n, g):
            adj.setdefault(parent, []).append((node.step or 0, contribution))
    for c in (c for copies in graph.copies.values() for c in copies):
        parts = [g for _, g in adj.get(c, [])]
        value[c] = parts[0] if len(parts) == 1 else sp.MatAdd(*parts)
    return value, deltas


_STEP = re.compile(r"^(?P<base>[A-Za-z]+)_(?:\{(?P<neg>-?\d+)\}|(?P<pos>\d+))$")


def _template_names(expr: sp.Basic, t0: int) -> sp.Basic:
    """Rename step k to t + (k - t0): the equations of step t0 read for any step t."""
    subs = {}
    for s in expr.atoms(sp.MatrixSymbol):
        m = _STEP.match(s.name)
        if not m:
            continue
        k = int(m["neg"] if m["neg"] is not None else m["pos"]) - t0
        index = "t" if k == 0 else f"t{k:+d}"
        subs[s] = sp.MatrixSymbol(f"{m['base']}_{{{index}}}" if k else f"{m['base']}_t",
                                  *s.shape)
    parts = {p: Partial(p.num.xreplace(subs), p.den.xreplace(subs))
             for p in expr.atoms(Partial)}
    return expr.xreplace({**subs, **parts})


def derive_matrix(graph: VectorGraph, *, wrt: str) -> MatrixDerivation:
    """∂E/∂wrt for a shared weight of a vector model, in matrix notation."""
    if wrt not in graph.copies:
        raise UsageError(f"unknown --wrt {wrt!r} for {graph.spec.name}; choose from "
                         f"{', '.join(graph.copies)}")
    value, deltas = _sweep(graph)
    to_shared = shared(graph)
    copies = sorted(graph.copies[wrt], key=lambda c: -graph.nodes[c].step)
    lhs = Partial(graph.loss, sp.MatrixSymbol(wrt, *copies[0].shape))
    unrolled = [Equation(d.lhs, d.rhs.xreplace(to_shared), "delta") for d in deltas]
    total = sp.MatAdd(*[value[c] for c in copies]) if len(copies) > 1 else value[copies[0]]
    unrolled.append(Equation(lhs, total.xreplace(to_shared), "gradient"))
    template: list[Equation] = []
    if graph.steps >= 2:
        t0 = graph.steps - 2  # a step with a next one: δ_t depends on δ_{t+1}
        out_err = _minus(sp.MatrixSymbol(f"yhat_{t0}", graph.dims["K"], 1),
                         sp.MatrixSymbol(f"y_{t0}", graph.dims["K"], 1))
        logits = sp.MatrixSymbol(f"l_{t0}", graph.dims["K"], 1)
        template.append(Equation(Partial(graph.loss, logits), out_err, "output"))
        d0 = next(d for d in deltas if d.lhs.name == f"delta_{t0}")
        template.append(Equation(d0.lhs, d0.rhs.xreplace(to_shared), "delta"))
        own = value[next(c for c in graph.copies[wrt] if graph.nodes[c].step == t0)]
        template.append(Equation(lhs, StepSum(own.xreplace(to_shared)), "gradient"))
        template = [Equation(_template_names(e.lhs, t0), _template_names(e.rhs, t0), e.kind)
                    for e in template]
    return MatrixDerivation(wrt, tuple(template), tuple(unrolled), (), graph)
