"""Truncated BPTT: the gradient one loss sends to each step copy of the weights, ∂E_t/∂W_s,
and the gradient truncated after K steps.

Truncated after K steps (Williams and Peng's BPTT(h), Neural Computation 2(4), 1990; the
convention of common tutorial code, ``for s in range(max(0, t - K), t + 1)``), the error of
the loss at step t reaches the weights' copies of steps t − K … t only; K = 0 drops every
through-time term.  A loss E = Σ_t E_t has one loss per step; any other loss (the article's
E = L(o, y) after the last step) is one loss at step T − 1.  The full gradient is the sum
over all s ≤ t.  One reverse sweep per step loss, with that loss's own named adjoints
(δ^(t)_k; ∂E_t/∂z_k in a scalar model), so each sweep stays linear in T:

    >>> from bptt_sym.graph.matrix import unroll_vector
    >>> g = unroll_vector(steps=3, hidden=2, inputs=2, classes=2)
    >>> deltas, pieces = per_loss_pieces(g)
    >>> sorted((t, s) for (p, t, s) in pieces if p == "W")
    [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]
"""

from __future__ import annotations

import sympy as sp

from bptt_sym.derivation.forms import Derivation, Equation, _delta_form
from bptt_sym.derivation.matrix import (
    _contributions,
    _downstream,
    _total,
    adjoint_symbol,
    kept_adjoints,
    mean_of_step_losses,
    shared,
    step_losses,
)
from bptt_sym.derivation.sweep import backward, local_factor, plus, tangent
from bptt_sym.errors import UsageError
from bptt_sym.graph.build import Graph
from bptt_sym.notation import Partial

__all__ = ["loss_roots", "loss_weight", "per_loss_pieces", "path_dropped", "truncated",
           "truncated_derivation", "truncated_closed", "dropped_terms", "CITATION"]

CITATION = "Williams and Peng's BPTT(h), 1990"


def loss_roots(graph: Graph) -> list[tuple[sp.Basic, int]]:
    """The losses the error enters at, each with its step: E_t at step t when E = Σ_t E_t,
    else the whole loss at the last step."""
    if step_losses(graph) is not None or mean_of_step_losses(graph):
        return [(r, graph.nodes[r].step) for r in graph.nodes[graph.loss].parents]
    return [(graph.loss, graph.steps - 1)]


def loss_weight(graph: Graph) -> sp.Expr:
    """What each step loss's gradient is multiplied by in ∂E: 1/T when E = 1/T Σ_t E_t."""
    return sp.Rational(1, graph.steps) if mean_of_step_losses(graph) else sp.S.One


def _reach(graph: Graph) -> dict[sp.Basic, set[sp.Basic]]:
    """Each step copy's downstream nodes (the losses it reaches)."""
    return {c: _downstream(graph, c) for copies in graph.copies.values() for c in copies}


def per_loss_pieces(graph: Graph, k: int | None = None
                    ) -> tuple[list[tuple[str, sp.Basic]], dict[tuple[str, int, int], sp.Basic]]:
    """The δ equations of every loss's sweep, in the order they run, and the piece
    ∂E_t/∂p_s of each parameter p, loss step t and copy step s that is not zero (times 1/T
    when E is their mean: each piece is E's part); with ``k``, only those with t − k ≤ s ≤ t
    (the sweep stops there).  A matrix graph."""
    roots, weight = loss_roots(graph), loss_weight(graph)
    kept = kept_adjoints(graph)
    to_shared = shared(graph)
    ends = [c for copies in graph.copies.values() for c in copies]
    step_of = {c: graph.nodes[c].step for c in ends}
    param_of = {c: p for p, copies in graph.copies.items() for c in copies}
    deltas: list[tuple[str, sp.Basic]] = []
    pieces: dict[tuple[str, int, int], sp.Basic] = {}
    for root, t in roots:
        first = -1 if k is None else t - k  # the earliest step this loss's error reaches

        def name(n: sp.Basic, t: int = t) -> sp.Basic | None:
            b = graph.nodes[n].base
            if b not in kept:
                return None
            return adjoint_symbol(n, kept[b] if len(roots) == 1 else f"{kept[b]}^({t})", b)

        def send(n: sp.Basic, g: sp.Basic, first: int = first) -> list[tuple]:
            return [(p, c) for p, c in _contributions(graph, n, g)
                    if graph.nodes[p].step is None or graph.nodes[p].step >= first]

        sweep = backward(graph, root, sp.S.One, send=send,
                         join=lambda n, parts: _total(parts, n), keep=name,
                         order=lambda child, n: graph.nodes[child].step or 0, ends=ends)
        deltas += [(d.name, e.xreplace(to_shared)) for _, d, e in sweep.kept]
        for c, value in sweep.adjoint.items():
            if c in step_of and not isinstance(value, sp.ZeroMatrix) and value != 0:
                pieces[(param_of[c], t, step_of[c])] = _weighted(weight,
                                                                  value.xreplace(to_shared))
    return deltas, pieces


def path_dropped(graph: Graph, state: str
                 ) -> tuple[list[tuple[str, sp.Basic]], dict[str, sp.Basic]]:
    """The gradient with one state's path back through time cut: no step-t node sends its
    error to ``state`` of step t − 1 (an LSTM's c: a loop that never adds ``dc_next``); the
    other paths are kept.  The δ equations of that sweep (named ``δ^(no c)_t``) and each
    parameter's gradient.  A matrix graph."""
    kept = kept_adjoints(graph)
    to_shared = shared(graph)
    ends = [c for copies in graph.copies.values() for c in copies]

    def name(n: sp.Basic) -> sp.Basic | None:
        b = graph.nodes[n].base
        return adjoint_symbol(n, f"{kept[b]}^(no {state})", b) if b in kept else None

    def send(n: sp.Basic, g: sp.Basic) -> list[tuple]:
        step = graph.nodes[n].step
        return [(p, c) for p, c in _contributions(graph, n, g)
                if not (graph.nodes[p].base == state and step is not None and
                        graph.nodes[p].step is not None and graph.nodes[p].step < step)]

    sweep = backward(graph, graph.loss, sp.S.One, send=send,
                     join=lambda n, parts: _total(parts, n), keep=name,
                     order=lambda child, n: graph.nodes[child].step or 0, ends=ends)
    grads = {p: _total([sweep.adjoint[c] for c in copies if c in sweep.adjoint], copies[0])
             for p, copies in graph.copies.items()}
    return ([(d.name, e.xreplace(to_shared)) for _, d, e in sweep.kept],
            {p: e.xreplace(to_shared) for p, e in grads.items()})


def _weighted(weight: sp.Expr, value: sp.Basic) -> sp.Basic:
    return value if weight == 1 else weight * value


def truncated(pieces: dict[tuple[str, int, int], object], p: str, k: int) -> list[object]:
    """The pieces of p's gradient truncated after ``k`` steps: those with t − k ≤ s ≤ t."""
    return [v for (q, t, s), v in pieces.items() if q == p and 0 <= t - s <= k]


def dropped_terms(graph: Graph, wrt: str, k: int) -> tuple[list[tuple[int, int]], int]:
    """The (loss step, copy step) pairs truncation drops from ∂E/∂wrt, and how many there
    are in all (the pairs whose copy reaches the loss)."""
    reach = _reach(graph)
    pairs = [(t, graph.nodes[c].step) for root, t in loss_roots(graph)
             for c in graph.copies[wrt] if root in reach[c]]
    return [(t, s) for t, s in pairs if t - s > k], len(pairs)


def _check(graph: Graph, wrt: str, k: int) -> None:
    if k < 0:
        raise UsageError(f"--truncate {k}: K is the number of steps each error goes back, "
                         "0 or more")
    if wrt not in graph.copies:
        raise UsageError(f"--truncate needs a shared parameter, not {wrt!r}; choose from "
                         f"{', '.join(graph.copies)}")


def _roots_scalar(graph: Graph, wrt: str, k: int) -> list[tuple[sp.Basic, int, tuple]]:
    """Each loss with the copies of ``wrt`` in its window t − k … t (a scalar graph)."""
    return [(root, t, tuple(c for c in graph.copies[wrt] if 0 <= t - graph.nodes[c].step <= k))
            for root, t in loss_roots(graph)]


def truncated_closed(graph: Graph, wrt: str, k: int) -> sp.Expr:
    """The truncated ∂E/∂wrt of a scalar graph with every local derivative evaluated (in node
    values): Σ over the losses of the tangent from the copies in each one's window."""
    _check(graph, wrt, k)
    factor = local_factor(graph, symbolic=False)
    return _weighted(loss_weight(graph), plus([tangent(graph, root, window, factor)
                     for root, _, window in _roots_scalar(graph, wrt, k) if window]))


def _approx(lhs: sp.Expr, rhs: sp.Expr, note: str) -> Equation:
    return Equation(lhs, rhs, "truncated", note, relation="≈")


def truncated_derivation(graph: Graph, *, wrt: str, k: int) -> Derivation:
    """∂E/∂wrt truncated after ``k`` steps: each loss's delta recursion within its window,
    the truncated sum (≈, it is not the gradient), and what it drops."""
    _check(graph, wrt, k)
    loss, roots = graph.spec.loss, loss_roots(graph)
    dropped, total = dropped_terms(graph, wrt, k)
    window = "t − K … t" if len(roots) > 1 else f"T − 1 − K … T − 1 = {max(0, roots[0][1] - k)}"\
        f" … {roots[0][1]}"
    title = (f"d{loss}/d{wrt} truncated after K = {k} step{'s' if k != 1 else ''} ({CITATION}): "
             f"the error of {'each step loss E_t' if len(roots) > 1 else 'the loss'} reaches "
             f"the copies of {wrt} at steps {window} only (T = {graph.steps})")
    eqs: list[Equation] = []
    if graph.spec.is_matrix:
        deltas, pieces = per_loss_pieces(graph, k)
        mine = sorted((((t, s), v) for (p, t, s), v in pieces.items() if p == wrt),
                      key=lambda item: item[0])
        eqs += _needed(deltas, [v for _, v in mine])
        lhs = Partial(graph.loss, sp.MatrixSymbol(wrt, *graph.copies[wrt][0].shape))
        rhs = _total([v for _, v in mine], graph.copies[wrt][0]) if mine else \
            sp.ZeroMatrix(*graph.copies[wrt][0].shape)
    else:
        rhs_parts = []
        for root, _, window_copies in _roots_scalar(graph, wrt, k):
            if window_copies:
                part = _delta_form(graph, root, window_copies, sp.Symbol(wrt))
                eqs += part[:-1]
                rhs_parts.append(part[-1].rhs)
        lhs = Partial(graph.loss, sp.Symbol(wrt))
        rhs = _weighted(loss_weight(graph), plus(rhs_parts))
    what = ("drops nothing: no path from a loss to a copy of "
            f"{wrt} is longer than {k} step{'s' if k != 1 else ''}, so this is ∂{loss}/∂{wrt}"
            if not dropped else
            f"drops {len(dropped)} of the {total} terms ∂{_loss_name(graph)}/∂{wrt}_s, those "
            f"with s < {'t' if len(roots) > 1 else roots[0][1]} − {k}: "
            + ", ".join(_piece(graph, wrt, t, s) for t, s in dropped[:6])
            + (" …" if len(dropped) > 6 else ""))
    eqs.append(_approx(lhs, rhs, f"the truncated gradient; it {what}"))
    return Derivation(loss, wrt, "truncated", tuple(eqs), graph, title)


def _needed(deltas: list[tuple[str, sp.Basic]], exprs: list[sp.Basic]) -> list[Equation]:
    """The δ equations ``exprs`` read, directly or through other δ's, in the order they run."""
    names = {s.name for e in exprs for s in e.atoms(sp.MatrixSymbol)}
    out = []
    for n, e in reversed(deltas):
        if n in names:
            names |= {s.name for s in e.atoms(sp.MatrixSymbol)}
            out.append(Equation(sp.MatrixSymbol(n, *e.shape), e, "delta"))
    return out[::-1]


def _loss_name(graph: Graph) -> str:
    return "E_t" if len(loss_roots(graph)) > 1 else graph.spec.loss


def _piece(graph: Graph, wrt: str, t: int, s: int) -> str:
    loss = f"E_{t}" if len(loss_roots(graph)) > 1 else graph.spec.loss
    return f"∂{loss}/∂{wrt}_{s}"
