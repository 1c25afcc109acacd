"""The vector graph as :func:`bptt_sym.drawing.draw` reads a graph: each node's children,
the local Jacobian of every edge, and the names ``--wrt`` and ``--of`` take.

The Jacobians come from one table, one line per kind of edge; a weight's Jacobian is
written for the weight stacked column by column (vec), hence the Kronecker product.

    >>> from bptt_sym.printing import leibniz
    >>> from bptt_sym.vector import unroll_vector
    >>> g = drawable(unroll_vector(steps=2, activation="tanh"))
    >>> [str(s) for s in g.resolve("W")], leibniz(g.local[g.resolve("s_0")[0],
    ...                                                   g.resolve("z_0")[0]])
    (['W_0', 'W_1'], 'diag(1 − s₀ ⊙ s₀)')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from .errors import UsageError
from .mderive import Diag, elementwise
from .notation import split_name
from .rules import rule
from .vector import Apply, Softmax, VectorGraph, VectorSpec, VNode, Xent

__all__ = ["JACOBIAN", "DrawableVector", "drawable"]

M = MatrixExpr

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
}


def _derivative(node: Apply, out: M) -> M:
    """f'(z) of out = f(z), from the scalar rule table, in node values."""
    z, s = sp.symbols("z s")
    d = rule("activation", node.name).derivative(z, out=s)
    return elementwise(d, {z: node.arg, s: out}, out.shape)


def _local(n: sp.Basic, node: VNode) -> dict[tuple, sp.Basic]:
    """(node, parent) -> the Jacobian of that edge, for every parent of ``node``."""
    e = node.expr
    if isinstance(e, Xent):
        p, y = e.args
        return {(n, p): JACOBIAN["xent_yhat"](p, y), (n, y): JACOBIAN["xent_y"](p, y)}
    if isinstance(e, Softmax):
        return {(n, e.arg): JACOBIAN["softmax"](n)}
    if isinstance(e, Apply):
        return {(n, e.arg): JACOBIAN["elementwise"](_derivative(e, n))}
    if not isinstance(e, M):  # E = Σ_t E_t (at T = 1 just E_0)
        return {(n, p): JACOBIAN["sum"]() for p in node.parents}
    out = {}
    for term in e.args if isinstance(e, sp.MatAdd) else (e,):
        if isinstance(term, sp.MatMul) and len(term.args) == 2:
            A, x = term.args
            out[(n, x)] = JACOBIAN["matmul_arg"](A, x)
            out[(n, A)] = JACOBIAN["matmul_mat"](A, x)
        else:
            out[(n, term)] = JACOBIAN["add"](term)
    return out


@dataclass(frozen=True)
class DrawableVector:
    """A vector graph with what a drawing reads: ``children``, ``local`` and ``resolve``."""

    spec: VectorSpec
    steps: int
    nodes: Mapping[sp.Basic, VNode]
    children: Mapping[sp.Basic, tuple[sp.Basic, ...]]
    local: Mapping[tuple[sp.Basic, sp.Basic], sp.Basic]
    copies: Mapping[str, tuple[sp.Basic, ...]]

    @property
    def loss(self) -> sp.Symbol:
        return sp.Symbol(self.spec.loss)

    def resolve(self, name: str, *, option: str = "--wrt") -> tuple[sp.Basic, ...]:
        """The symbols behind ``name``: every copy of a weight, or one node."""
        if name in self.copies:
            return self.copies[name]
        by_name = {str(s): s for s in self.nodes}
        if name.strip() in by_name:
            return (by_name[name.strip()],)
        base, step = split_name(name.strip())
        last = self.steps - 1
        if base in self.copies:
            raise UsageError(f"{option} {name!r} is not a step copy of {base}; its copies are "
                             f"{', '.join(map(str, self.copies[base]))}")
        if step is not None and any(n.base == base for n in self.nodes.values()):
            raise UsageError(f"{option} {name!r} is out of range: with --steps {self.steps} "
                             f"the steps are 0..{last} (and -1 for the initial state)")
        bases = ", ".join(sorted({n.base for n in self.nodes.values() if n.kind == "node"}))
        if option == "--of":
            raise UsageError(f"unknown --of node {name!r}; choose a node such as E, E_{last}, "
                             f"s_{last}, z_0 (nodes: {bases})")
        raise UsageError(f"unknown {option} name {name!r}; choose a weight "
                         f"({', '.join(self.copies)}), a step copy such as W_0, or a node "
                         f"such as s_{last}, z_0 (nodes: {bases})")


def drawable(graph: VectorGraph) -> DrawableVector:
    """``graph`` with its children, edge Jacobians and name lookup, ready to draw."""
    children: dict[sp.Basic, list[sp.Basic]] = {n: [] for n in graph.nodes}
    local: dict[tuple[sp.Basic, sp.Basic], sp.Basic] = {}
    for n, node in graph.nodes.items():
        for p in node.parents:
            children[p].append(n)
        if node.expr is not None:
            local.update(_local(n, node))
    return DrawableVector(graph.spec, graph.steps, graph.nodes,
                          {k: tuple(v) for k, v in children.items()}, local, graph.copies)
