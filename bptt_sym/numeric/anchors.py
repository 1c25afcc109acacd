"""Anchor derived equations at steps, so that equal steps can share compiled code.

Every equation that :mod:`bptt_sym.numeric.stepwise` compiles is a :class:`Unit` in a block
anchored at one step t (or None: once).  The forward pass and the adjoints of the delta
form anchor at their node's step; a gradient term at its earliest adjoint; the nested
closed form is cut by :func:`fold` into one layer per step.

    >>> from bptt_sym.graph.build import unroll
    >>> from bptt_sym.derivation.forms import derive
    >>> g = unroll("doc", steps=4, activation="tanh", output="sigmoid", loss="bce")
    >>> layers, outside = fold(g, 0, derive(g, wrt="u", form="closed").equations[-1].rhs)
    >>> [step for step, _ in layers]  # the innermost layer, then one per step
    [1, 2, 3]
    >>> outside.expr
    _carry0*v_3*(1 - s_3**2)*(o - y)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from bptt_sym.graph.build import Graph
from bptt_sym.notation import Partial

__all__ = ["Unit", "Block", "Carry", "value_atoms", "anchor_of", "term_anchor",
           "forward_blocks", "fold"]

Sym = sp.Symbol


@dataclass(frozen=True)
class Unit:
    """``target = expr``.  ``target`` is a graph symbol, an adjoint ``Partial`` or a carry
    of :func:`fold` (the value is stored), or an int j (the value is added to output j)."""

    target: object
    expr: sp.Expr


Block = tuple[int | None, list[Unit]]  # units run together at step t (None: once)


def value_atoms(expr: sp.Expr) -> list[sp.Basic]:
    """Symbols and ``Partial`` atoms of ``expr`` in a fixed order, without recursion."""
    seen, stack, out = set(), [expr], []
    while stack:
        e = stack.pop()
        if isinstance(e, (Sym, Partial)):
            out.append(e)
            continue
        for a in reversed(e.args):
            if a not in seen:
                seen.add(a)
                stack.append(a)
    return out


def anchor_of(graph: Graph, atom: sp.Basic) -> int | None:
    """The step of a node, of an adjoint's node or of a parameter copy; None otherwise."""
    node = graph.nodes.get(atom.den if isinstance(atom, Partial) else atom)
    return None if node is None else node.step


def forward_blocks(graph: Graph, tail: Sequence[Unit] = ()) -> list[Block]:
    """The forward pass: each step's nodes, then the nodes after the last step and ``tail``."""
    steps: dict[int | None, list[Unit]] = {t: [] for t in range(graph.steps)}
    steps[None] = []
    for sym, node in graph.nodes.items():
        if node.expr is not None:
            steps.setdefault(node.step, []).append(Unit(sym, node.expr))
    steps[None].extend(tail)
    return list(steps.items())


# ---- the closed form: a nested expression, cut into one layer per step -------------------

class Carry(sp.Dummy):
    """The value of one layer of :func:`fold`'s output j, stored at its step."""

    def __new__(cls, j: int, step: int) -> Carry:
        obj = super().__new__(cls, f"carry{j}")
        obj.out, obj.step = j, step
        return obj


def fold(graph: Graph, j: int, expr: sp.Expr) -> tuple[list[Block], Unit]:
    """Cut a nested expression (a closed form) into layers, one per step, and its outside.

    The spine runs from the root towards the earliest step; each sum on it is a layer, in
    which the next sum down the spine is replaced by its carry.  The layers of ∂E/∂u,
    ``… (w_2 (1 − s_1²) (w_1 x_0 (1 − s_0²) + x_1) + x_2)``, all read
    ``w_t (1 − s_{t-1}²) C_{t-1} + x_t`` but the innermost.  Returns the layers (innermost
    first, each at its latest step) and the unit that adds the outside to output j.  When
    the layers' steps do not fall strictly down the spine, nothing is cut.
    """
    low: dict[sp.Basic, int | None] = {}
    for e in _postorder(expr):
        steps = [anchor_of(graph, e)] if isinstance(e, (Sym, Partial)) else \
            [low[a] for a in e.args]
        low[e] = min((s for s in steps if s is not None), default=None)
    path = [expr]
    while not isinstance(path[-1], (Sym, Partial)) and low[path[-1]] is not None:
        kids = [a for a in path[-1].args if low[a] == low[path[-1]]]
        if len(kids) != 1:
            break
        path.append(kids[0])
    cuts = [i for i, e in enumerate(path) if isinstance(e, sp.Add)]
    layers: list[Block] = []
    inner: Carry | None = None
    for top, bottom in reversed(list(zip(cuts, cuts[1:] + [None]))):
        body = path[top] if bottom is None else _rebuild(path, top, bottom, inner)
        step = max((s for s in (anchor_of(graph, a) for a in value_atoms(body))
                    if s is not None), default=None)
        if step is None or (inner is not None and step <= inner.step):
            return [], Unit(j, expr)
        inner = Carry(j, step)
        layers.append((step, [Unit(inner, body)]))
    return layers, Unit(j, expr if not cuts else _rebuild(path, 0, cuts[0], inner))


def _postorder(expr: sp.Expr) -> list[sp.Basic]:
    """Every distinct subexpression, children before parents, without recursion."""
    order, seen, stack = [], set(), [(expr, False)]
    while stack:
        e, done = stack.pop()
        if done:
            order.append(e)
        elif e not in seen:
            seen.add(e)
            stack.append((e, True))
            if not isinstance(e, Partial):
                stack.extend((a, False) for a in e.args)
    return order


def _rebuild(path: list[sp.Basic], top: int, bottom: int, value: sp.Expr) -> sp.Expr:
    """``path[top]`` with its descendant ``path[bottom]`` replaced by ``value``."""
    node = value
    for i in range(bottom - 1, top - 1, -1):
        args = [node if a is path[i + 1] else a for a in path[i].args]
        node = path[i].func(*args, evaluate=False) if isinstance(path[i], (sp.Add, sp.Mul)) \
            else path[i].func(*args)
    return node


def term_anchor(graph: Graph, term: sp.Expr) -> int | None:
    """Where a gradient term of the delta form runs: at its earliest adjoint (every later
    one is known by then), else at its latest node value; None when it has no step."""
    adjoint = [s for s in (anchor_of(graph, a) for a in term.atoms(Partial)) if s is not None]
    if adjoint:
        return min(adjoint)
    return max((s for s in (anchor_of(graph, a) for a in term.free_symbols) if s is not None),
               default=None)
