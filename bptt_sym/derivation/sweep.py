"""The two sweeps over the unrolled graph, written as plain loops in topological order.

* ``tangent``: forward from the step copies of a parameter up to a node.  Each node's
  tangent is Σ_parents (local partial · tangent of parent), so the result comes out
  already factored, common prefixes pulled out, as the article's B4-B6 (size linear in T).
* ``relevant``: the nodes between two ends, which both sweeps and the paths visit.

* ``backward``: the one reverse sweep (the BPTT delta recursion), from a node down, in
  reverse topological order.  What an edge sends back and how a node adds up what it
  receives are the caller's rules: a scalar graph's local partials (``chains``), a matrix
  graph's vector-Jacobian products (``derivation.matrix``).

    >>> from bptt_sym.graph.build import unroll
    >>> from bptt_sym.printing.leibniz import leibniz
    >>> g = unroll("doc", steps=2)
    >>> leibniz(total(g, g.loss, g.copies["k"]), "ascii")
    "L'(o) * g'(q) * v_1 * f'(z_1) * (1 + w_1 * f'(z_0))"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sympy as sp

from bptt_sym.graph.build import Graph
from bptt_sym.notation import Partial

__all__ = ["relevant", "tangent", "total", "times", "plus", "local_factor", "evaluate_partials",
           "backward", "Sweep", "fold"]

Sym = sp.Symbol
Factor = Callable[[Sym, Sym], sp.Expr]


def relevant(graph: Graph, of: Sym, targets: Iterable[Sym]) -> set[Sym]:
    """Symbols on some path from a target up to ``of`` (both ends included)."""
    targets = set(targets)
    below = {of}
    for n in reversed(list(graph.nodes)):
        if n in below and n not in targets:
            below.update(graph.nodes[n].parents)
    above = set(targets)
    for n in graph.nodes:
        if n not in above and any(p in above for p in graph.nodes[n].parents):
            above.add(n)
    return below & above


def times(factor: sp.Expr, rest: sp.Expr, *, keep_ones: bool = False) -> sp.Expr:
    """``factor · rest`` unevaluated, in that order; 1s dropped unless ``keep_ones``."""
    if factor == 0 or rest == 0:
        return sp.S.Zero
    if rest == 1:
        return factor
    if factor == 1 and not keep_ones:
        return rest
    tail = rest.args if isinstance(rest, sp.Mul) else (rest,)
    args = [factor, *tail]
    if any(a.is_Number and a < 0 for a in args):  # a·(−1)·n reads −a·n: the sign in front
        negative = sum(1 for a in args if a.is_Number and a < 0) % 2 == 1
        args = [(-a if a.is_Number and a < 0 else a) for a in args if a != -1] or [sp.S.One]
        if negative:
            args = [sp.S.NegativeOne, *args]
    return sp.Mul(*args, evaluate=False) if len(args) > 1 else args[0]


def plus(terms: list[sp.Expr]) -> sp.Expr:
    """The unevaluated sum of ``terms`` in their order, zeros dropped."""
    terms = [t for t in terms if t != 0]
    if not terms:
        return sp.S.Zero
    return terms[0] if len(terms) == 1 else sp.Add(*terms, evaluate=False)


def local_factor(graph: Graph, *, symbolic: bool) -> Factor:
    """Local partial of an edge: its value, or ∂child/∂parent for nonlinear nodes."""
    local, nodes = graph.local, graph.nodes

    def factor(child: Sym, parent: Sym) -> sp.Expr:
        if symbolic and nodes[child].nonlinear and graph.single_path(child, parent):
            return Partial(child, parent)
        return local[(child, parent)]  # also where ∂child/∂parent (a total) is not the edge

    return factor


def tangent(graph: Graph, of: Sym, targets: tuple[Sym, ...], factor: Factor, *,
            keep_ones: bool = False) -> sp.Expr:
    """d(of)/d(targets together) by the forward sweep, factored as the article writes it.

    Terms of a sum are ordered by the latest step copy they reach, latest first (B1, B5).
    """
    rel = relevant(graph, of, targets)
    tan: dict[Sym, sp.Expr] = {t: sp.S.One for t in targets}
    latest: dict[Sym, int] = {t: graph.nodes[t].step or 0 for t in targets}
    loss = sp.Symbol(graph.spec.loss)
    for n in graph.nodes:
        if n not in rel or n in tan:
            continue
        terms = []
        keep = keep_ones and n != loss  # ∂E/∂E_t = 1 of a summed loss says nothing
        for p in graph.nodes[n].parents:
            if p in rel:
                terms.append((-latest[p], len(terms), times(factor(n, p), tan[p],
                                                           keep_ones=keep)))
        terms.sort(key=lambda item: item[:2])
        tan[n] = plus([term for _, _, term in terms])
        latest[n] = max(latest[p] for p in graph.nodes[n].parents if p in rel)
    return tan.get(of, sp.S.Zero)


def total(graph: Graph, of: Sym, targets: tuple[Sym, ...]) -> sp.Expr:
    """The total derivative ∂of/∂targets in node values (every local partial evaluated)."""
    return tangent(graph, of, targets, local_factor(graph, symbolic=False))


def evaluate_partials(graph: Graph, expr: sp.Expr) -> sp.Expr:
    """Replace every ∂X/∂Y in ``expr`` by its value in node values."""
    found = expr.atoms(Partial)
    return expr.xreplace({p: total(graph, p.num, graph.copies.get(str(p.den), (p.den,)))
                          for p in found})


@dataclass(frozen=True)
class Sweep:
    """What :func:`backward` found: every node's adjoint (the ends' too), and the kept
    adjoints in the order they were made, as (node, its symbol, the adjoint it names)."""

    adjoint: dict
    kept: list[tuple]


def backward(graph: Graph, of: Sym, start: object, *,
             send: Callable[[Sym, object], Iterable[tuple[Sym, object]]],
             join: Callable[[Sym, list], object],
             keep: Callable[[Sym], object | None],
             order: Callable[[Sym, Sym], object],
             ends: Iterable[Sym] = ()) -> Sweep:
    """The reverse sweep from ``of`` (adjoint ``start``), last node first.

    A node adds up (``join``) what its children sent, in ``order`` (a stable sort of the
    keys ``order(child, node)``), keeps that adjoint under a name when ``keep`` gives one
    (δ_t), and sends its adjoint to its parents (``send``: the local rule of each edge).
    The ``ends`` (a parameter's step copies) are joined, not passed on; other leaves are
    dropped.
    """
    ends = set(ends)
    received: dict = {of: [(None, start)]}
    adjoint: dict = {}
    kept: list[tuple] = []
    for n in reversed(list(graph.nodes)):
        if n not in received or (graph.nodes[n].expr is None and n not in ends):
            continue
        parts = received.pop(n)
        if len(parts) > 1:
            parts = sorted(parts, key=lambda part: part[0])
        g = join(n, [c for _, c in parts])
        if n not in ends:
            name = keep(n) if n != of else None
            if name is not None:
                kept.append((n, name, g))
                g = name
            for parent, contribution in send(n, g):
                received.setdefault(parent, []).append((order(n, parent), contribution))
        adjoint[n] = g
    return Sweep(adjoint, kept)


def fold(chain: tuple[sp.Expr, ...]) -> sp.Expr:
    """A chain of factors, top (the node nearest ``of``) first, as one product."""
    out = chain[-1]
    for f in reversed(chain[:-1]):
        out = times(f, out)
    return out
