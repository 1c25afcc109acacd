"""The gradient one step's loss sends to each step copy of the weights: ∂E_t/∂W_s, the
pieces of truncated BPTT.

Truncated after K steps (Williams and Peng's BPTT(h); the convention of common tutorial code,
``for s in range(max(0, t - K), t + 1)``), the error of step t reaches the weights' copies of
steps t − K … t only; K = 0 drops every through-time term.  The full gradient is the sum over
all s ≤ t.  One reverse sweep per step loss, with that loss's own named adjoints
(δ^(t)_k), so each sweep stays linear in T:

    >>> from bptt_sym.graph.matrix import unroll_vector
    >>> g = unroll_vector(steps=3, hidden=2, inputs=2, classes=2)
    >>> deltas, pieces = per_loss_pieces(g)
    >>> sorted((t, s) for (p, t, s) in pieces if p == "W")
    [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]
"""

from __future__ import annotations

import sympy as sp

from bptt_sym.derivation.matrix import (
    _contributions,
    _total,
    adjoint_symbol,
    kept_adjoints,
    shared,
    step_losses,
)
from bptt_sym.derivation.sweep import backward
from bptt_sym.errors import UsageError
from bptt_sym.graph.build import Graph

__all__ = ["per_loss_pieces", "truncated"]


def per_loss_pieces(graph: Graph) -> tuple[list[tuple[str, sp.Basic]],
                                           dict[tuple[str, int, int], sp.Basic]]:
    """The δ equations of every step loss's sweep, in the order they run, and the piece
    ∂E_t/∂p_s of each parameter p, loss step t and copy step s that is not zero."""
    base = step_losses(graph)
    if base is None:
        raise UsageError(f"model {graph.spec.name}: truncation needs a loss that adds one "
                         "loss per step (E = sum_t E_t)")
    kept = kept_adjoints(graph)
    to_shared = shared(graph)
    ends = [c for copies in graph.copies.values() for c in copies]
    step_of = {c: graph.nodes[c].step for c in ends}
    param_of = {c: p for p, copies in graph.copies.items() for c in copies}
    deltas: list[tuple[str, sp.Basic]] = []
    pieces: dict[tuple[str, int, int], sp.Basic] = {}
    for root in graph.nodes[graph.loss].parents:
        t = graph.nodes[root].step
        assert graph.nodes[root].base == base

        def name(n: sp.Basic, t: int = t) -> sp.Basic | None:
            b = graph.nodes[n].base
            return adjoint_symbol(n, f"{kept[b]}^({t})", b) if b in kept else None

        sweep = backward(graph, root, sp.S.One,
                         send=lambda n, g: _contributions(graph, n, g),
                         join=lambda n, parts: _total(parts, n), keep=name,
                         order=lambda child, n: graph.nodes[child].step or 0, ends=ends)
        deltas += [(d.name, e.xreplace(to_shared)) for _, d, e in sweep.kept]
        for c, value in sweep.adjoint.items():
            if c in step_of and not isinstance(value, sp.ZeroMatrix) and value != 0:
                pieces[(param_of[c], t, step_of[c])] = value.xreplace(to_shared)
    return deltas, pieces


def truncated(pieces: dict[tuple[str, int, int], object], p: str, k: int) -> list[object]:
    """The pieces of p's gradient truncated after ``k`` steps: those with t − k ≤ s ≤ t."""
    return [v for (q, t, s), v in pieces.items() if q == p and 0 <= t - s <= k]
