"""Kink coverage of the matrix checker: every entry of every kink argument (relu, step; in
the model or in the formula) must be seen on both sides of 0 before a formula holds.

The model's kink arguments are the arguments of its relu/step nodes (z_t of s_t = relu(z_t)),
named by the node, one per step; the formula's are the arguments of each relu/step call as
written, named by the call's column and the steps of its indices.  Each entry counts by
itself; an entry that is exactly 0 (or too close to 0 to tell) counts as neither side.

    >>> import numpy as np
    >>> from flint import fmpq
    >>> c = Coverage()
    >>> c.note("k", "relu(z_0)", np.array([[fmpq(1)], [fmpq(0)]], dtype=object))
    >>> c.note("k", "relu(z_0)", np.array([[fmpq(-1)], [fmpq(2)]], dtype=object))
    >>> c.missing()
    ('relu(z_0), entry 2', 'negative')
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import sympy as sp

from bptt_sym.check.decide import START_BITS, Decision, Undefined, Unsure, sign, working
from bptt_sym.check.truth_matrix import MPoint
from bptt_sym.graph.matrix import Apply
from bptt_sym.graph.resolve_matrix import KINK_FUNCS
from bptt_sym.numeric.matrix import compile_expr

__all__ = ["KINK_FUNCS", "POOL", "Coverage", "cover", "model_kinks"]

POOL = 64  # points an equation is decided at, at most, to see every kink on both sides


def _entry(index: int, shape: tuple[int, ...]) -> str:
    if len(shape) == 2 and shape[1] > 1:
        r, c = divmod(index, shape[1])
        return f"entry ({r + 1}, {c + 1})"
    return f"entry {index + 1}"


def _sign(x: object) -> int:
    try:
        return sign(x)
    except (Unsure, TypeError):
        return 0


@dataclass
class Coverage:
    """The sides (1, −1) seen of each entry of each kink argument, in the order first met."""

    seen: dict[tuple[Hashable, int], set[int]] = field(default_factory=dict)
    labels: dict[tuple[Hashable, int], str] = field(default_factory=dict)

    def note(self, key: Hashable, label: str, value: np.ndarray) -> None:
        arr = np.asarray(value, dtype=object)
        for i, x in enumerate(arr.ravel()):
            sides = self.seen.setdefault((key, i), set())
            self.labels.setdefault((key, i), f"{label}, {_entry(i, arr.shape)}")
            s = _sign(x)
            if s:
                sides.add(s)

    def merge(self, found: Iterator[tuple[Hashable, str, np.ndarray]]) -> None:
        for key, label, value in found:
            self.note(key, label, value)

    def gaps(self) -> list[tuple[Hashable, int]]:
        """The entries not yet seen on both sides."""
        return [k for k, sides in self.seen.items() if len(sides) < 2]

    def missing(self) -> tuple[str, str] | None:
        """The first entry not yet seen on both sides, and the side it lacks."""
        for k, sides in self.seen.items():
            if len(sides) < 2:
                return self.labels[k], "negative" if 1 in sides else "positive"
        return None

    def helped_by(self, found: list[tuple[Hashable, str, np.ndarray]]) -> bool:
        """Would these arguments add a side that is still missing?"""
        for key, _, value in found:
            for i, x in enumerate(np.ravel(np.asarray(value, dtype=object))):
                s = _sign(x)
                if s and s not in self.seen.get((key, i), {s}):
                    return True
        return False


def model_kinks(point: MPoint) -> list[tuple[Hashable, str, np.ndarray]]:
    """Every kink argument of the model's forward pass at ``point``: (key, label, value)."""
    found = []
    with working(START_BITS):
        values = None
        for sym, node in point.graph.nodes.items():
            if node.expr is None or not isinstance(node.expr, sp.Basic):
                continue
            apps = sorted((a for a in node.expr.atoms(Apply) if a.name in KINK_FUNCS), key=str)
            for k, app in enumerate(apps):
                values = point.values if values is None else values
                try:
                    arg = compile_expr(app.arg, point.ns)(values)
                except (Unsure, Undefined, ZeroDivisionError):
                    continue
                found.append((("model", sym.name, k), f"{app.name}({app.arg})",
                              np.asarray(arg, dtype=object)))
    return found


Found = list[tuple[Hashable, str, np.ndarray]]
Pairs = list[tuple[int, dict]]


def cover(decision: Decision, pairs: Pairs, coverage: Coverage, chosen: list[int],
          pool: Iterable[int], kinks: Callable[[int], Found],
          decide_at: Callable[[int], tuple[Decision, Pairs]]) -> tuple[Decision, Pairs]:
    """A decision that held at the points ``chosen`` (``pairs``, the formula's kink arguments
    in ``coverage``), decided further at points of ``pool`` until every kink argument
    (``kinks(i)``: the model's at point i) was seen on both sides: it fails or is undecided
    as soon as one of them does, and is undecided when the pool runs out first."""
    for i in chosen:
        coverage.merge(kinks(i))
    agreed, tried = decision.agreed, len(chosen)
    for i in pool:
        gaps = coverage.gaps()
        if not gaps:
            break
        if not any(k[0][0] == "formula" for k in gaps) and not coverage.helped_by(kinks(i)):
            continue  # the formula's kinks are seen; this point adds no side of the model's
        more, extra = decide_at(i)
        if more.verdict != "holds":
            shift = None if more.point is None else more.point + len(pairs)
            return replace(more, point=shift, agreed=agreed + more.agreed), pairs + extra
        pairs, agreed, tried = pairs + extra, agreed + more.agreed, tried + 1
        coverage.merge(kinks(i))
    gap = coverage.missing()
    if gap is not None:
        return Decision("undecided", f"the kink of {gap[0]}, was never crossed at the {tried} "
                                     f"points tried (never {gap[1]})", agreed=agreed), pairs
    return replace(decision, agreed=agreed), pairs
