"""Check matrix formulas of a matrix model (elman, or a model file with shapes): holds,
fails (with why) or invalid.

Each equation is decided entry by entry at random points of several small sizes (three
sizes of the model's letters, :func:`default_shapes`; elman's are three (H, D, K) triples),
two points each, every free step index t running over the steps: its sides are evaluated
in ball arithmetic against the model's forward pass, and every ∂A/∂B and named adjoint
(δ_t) by dual numbers on that forward pass (:mod:`bptt_sym.check.truth_matrix`); the verdict is
:func:`bptt_sym.check.decide.decide`'s.  A shape that does not fit is named first.

    >>> [v.verdict for v in check_matrix("dE/dV = sum_t (yhat_t - y_t) s_t^T\\n"
    ...                                  "dE/dW = sum_t delta_t s_t^T", steps=2)]
    ['holds', 'fails']
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bptt_sym.check.checker import Verdict, judge_lines
from bptt_sym.check.decide import (
    Decision,
    Undefined,
    Unsure,
    at_point,
    decide,
    shown,
    working,
)
from bptt_sym.check.explain import Diagnosis
from bptt_sym.check.explain_matrix import explain_matrix
from bptt_sym.check.kinks import POOL, Coverage, cover
from bptt_sym.check.truth_matrix import DPS, MPoint
from bptt_sym.check.values import Values
from bptt_sym.check.variant import variant_diagnosis
from bptt_sym.errors import UsageError
from bptt_sym.graph.entries import entry_bounds, free_entries
from bptt_sym.graph.entries import read as read_entries
from bptt_sym.graph.matrix import ELMAN
from bptt_sym.graph.names import default_shapes, free_variables, steps_text
from bptt_sym.graph.resolve import InvalidFormula
from bptt_sym.graph.resolve_matrix import (
    SCALAR,
    MatrixNames,
    OutOfRange,
    ShapeError,
    Walk,
    entrywise_powers,
    shape_of,
    show,
    side,
)
from bptt_sym.model.spec import ModelSpec
from bptt_sym.syntax.formula import Chain, Condition, Ref

__all__ = ["check_matrix", "MatrixJudge", "SHAPES", "POINTS_PER_SHAPE", "Values",
           "free_variables", "default_shapes"]

SHAPES = default_shapes(ELMAN)  # ({"H": 3, "D": 2, "K": 4}, {"H": 2, …}, {"H": 4, …})
POINTS_PER_SHAPE = 2
EXPLAIN_SECONDS = 3.0
DECIDE_SECONDS = 30.0
MAX_FREE = 2


@dataclass
class Mismatch:
    """Where two sides differ: the point, the step variables, the entry and both values."""

    where: int
    env: Mapping[str, int]
    entry: tuple[int, int]
    left: object
    right: object
    how: str


@dataclass
class MatrixJudge:
    """Decides matrix equalities at fixed random points of several sizes, entry by entry,
    with :mod:`bptt_sym.check.decide` (every (point, step) place must agree), and at further
    points of a pool (up to ``POOL`` in all) until every kink argument was seen on both
    sides (:mod:`bptt_sym.check.kinks`)."""

    names: MatrixNames
    seed: int = 0
    shapes: Sequence[Mapping[str, int]] = ()  # () for the model's default_shapes
    per_shape: int = POINTS_PER_SHAPE
    pool: int = POOL
    first: int = 0  # the number the document gives the first step (messages only)
    points: list[Values] = field(init=False)
    deadline: float | None = field(init=False, default=None)
    condition: Condition | None = field(init=False, default=None)
    entries: dict[str, str] = field(init=False, default_factory=dict)  # free entry letters
    base: int = field(init=False)
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.shapes = tuple(self.shapes) or default_shapes(self.names.spec)
        self.base = len(self.shapes) * self.per_shape
        self.points = [self._draw(dims) for dims in self.shapes for _ in range(self.per_shape)]

    def _draw(self, dims: Mapping[str, int], wide: bool = False) -> Values:
        return Values(MPoint.draw(self.names.spec, steps=self.names.steps, dims=dims,
                                  bias=self.names.bias, activation=self.names.activation,
                                  rng=self.rng, wide=wide), dims, self.names)

    def point(self, i: int) -> Values:
        """Point ``i`` of the pool, drawn in order, so the same for every equation: after the
        fixed points, the sizes in turn, every other one with larger entries."""
        while len(self.points) <= i:
            j = len(self.points) - self.base
            self.points.append(self._draw(self.shapes[j % len(self.shapes)], wide=j % 2 == 1))
        return self.points[i]

    def _entries_at(self, i: int) -> list[dict[str, int]]:
        """Every entry of the free entry letters at point ``i`` (its sizes), from 1."""
        dims = self.point(i).dims
        ranges = [range(1, (dims[d] if d != "1" else 1) + 1) for d in self.entries.values()]
        return [dict(zip(self.entries, combo)) for combo in itertools.product(*ranges)]

    def assignments(self, free: tuple[str, ...]) -> list[dict[str, int]]:
        """Every value of the free step variables that satisfies the equation's condition."""
        steps = range(self.names.steps)
        envs = [dict(zip(free, combo)) for combo in itertools.product(steps, repeat=len(free))]
        return [env for env in envs if self.condition is None or
                _satisfied(self.condition, env, self.names)]

    def places(self, lhs: object, rhs: object, free: tuple[str, ...]) -> list[dict[str, int]]:
        """The steps of the free variables where every name of both sides exists."""
        found = []
        for env in self.assignments(free):
            try:
                side(lhs, self.names, {**env, **dict.fromkeys(self.entries)})
                side(rhs, self.names, {**env, **dict.fromkeys(self.entries)})
            except OutOfRange:
                continue
            found.append(env)
        return found

    def decision(self, lhs: object, rhs: object, free: tuple[str, ...],
                 first: tuple[int, dict] | None = None
                 ) -> tuple[Decision, list[tuple[int, dict]]]:
        """The decision over every (point, step) place, and the places in the order tried:
        one that holds at the fixed points (and ``first``) goes on at points of the pool
        until every kink argument was seen on both sides, or is undecided."""
        envs = self.places(lhs, rhs, free)
        chosen = list(range(self.base))
        if first is not None and first[0] not in chosen:
            chosen.append(first[0])
        coverage = Coverage()
        decision, pairs = self._decide_at(lhs, rhs, envs, chosen, first, coverage)
        if decision.verdict != "holds" or not pairs:
            return decision, pairs
        return cover(decision, pairs, coverage, chosen, range(self.base, self.pool),
                     lambda i: self.point(i).kinks,
                     lambda i: self._decide_at(lhs, rhs, envs, [i], None, coverage))

    def _decide_at(self, lhs: object, rhs: object, envs: list[dict[str, int]],
                   chosen: list[int], first: tuple[int, dict] | None,
                   coverage: Coverage) -> tuple[Decision, list[tuple[int, dict]]]:
        """:func:`bptt_sym.check.decide.decide` at the points ``chosen``, every step place; the
        formula's kink arguments noted in ``coverage``."""
        if self.deadline is not None and time.process_time() > self.deadline:
            raise TimeoutError
        pairs = [(i, {**env, **at}) for i in chosen for env in envs
                 for at in self._entries_at(i)]
        if first is not None and first in pairs:
            pairs.remove(first)
            pairs.insert(0, first)

        def at(i: int, env: dict) -> Callable[[], list]:
            return lambda: self.decision_entries(lhs, rhs, i, env)

        for i in chosen:
            self.point(i).coverage = coverage
        try:
            return decide((at(i, env) for i, env in pairs), needed=len(pairs)), pairs
        finally:
            for i in chosen:
                self.point(i).coverage = None

    def mismatch(self, lhs: object, rhs: object, decision: Decision,
                 pairs: list[tuple[int, dict]]) -> Mismatch:
        """Both sides' values where ``decision`` found them to differ."""
        i, env = pairs[decision.point]
        result = at_point(lambda: self.decision_entries(lhs, rhs, i, env))
        with working(result.bits):
            _, lv = side(lhs, self.names, env, self.point(i))
            _, rv = side(rhs, self.names, env, self.point(i))
            entry = np.unravel_index(result.entry if result.entry is not None else
                                     decision.entry or 0, lv.shape)
            return Mismatch(i, env, entry, lv[entry], rv[entry], decision.method)

    def decision_entries(self, lhs: object, rhs: object, i: int, env: dict) -> list:
        _, lv = side(lhs, self.names, env, self.point(i))
        _, rv = side(rhs, self.names, env, self.point(i))
        return list(np.ravel(np.asarray(lv - rv, dtype=object)))

    def holds(self, lhs: object, rhs: object, free: tuple[str, ...],
              first: tuple[int, dict] | None = None) -> bool:
        """Shapes fit and every entry agrees (False for a side that is not well formed)."""
        try:
            if shape_of(lhs, self.names, free) != shape_of(rhs, self.names, free):
                return False
            decision, pairs = self.decision(lhs, rhs, free, first)
        except (ShapeError, InvalidFormula, ZeroDivisionError, Unsure, Undefined):
            return False
        return decision.verdict == "holds" and bool(pairs)


def _satisfied(cond: Condition, env: Mapping[str, int], names: MatrixNames) -> bool:
    walk = Walk(names)
    a, b = walk.integer(cond.left, env), walk.integer(cond.right, env)
    return {"<=": a <= b, "<": a < b, ">=": a >= b, ">": a > b}[cond.op]


def _step_range(judge: MatrixJudge, lhs: object, rhs: object,
                free: tuple[str, ...]) -> Diagnosis | None:
    """With two free steps: does it hold on one side of the diagonal only (k ≤ t)?"""
    if len(free) != 2 or judge.condition is not None:
        return None
    a, b = (Ref(v, None, 0) for v in free)
    for cond in (Condition(b, "<=", a), Condition(a, "<=", b), Condition(b, "<", a),
                 Condition(a, "<", b)):
        judge.condition = cond
        try:
            if judge.holds(lhs, rhs, free):
                text = f"{show(cond.left)} {'≤' if cond.op == '<=' else '<'} {show(cond.right)}"
                return Diagnosis("step-range", f"it holds for {text} only; say so after the "
                                               f"equation: …, {text}")
        finally:
            judge.condition = None
    return None


def _decide(judge: MatrixJudge, chain: Chain) -> tuple:
    names = judge.names
    sides = list(chain.sides)
    sides = [read_entries(s, names) for s in sides]
    cond = chain.condition
    entries = free_entries(tuple(sides), names)
    free = tuple(v for v in free_variables(sides, names, [cond.left, cond.right] if cond else [])
                 if v not in entry_bounds(tuple(sides), names) and v not in entries)
    judge.condition, judge.entries = cond, entries
    try:
        verdict, message, *rest = _decide_sides(judge, sides, free)
    finally:
        judge.condition, judge.entries = None, {}
    if entries and verdict == "holds":
        message += f"; for every entry {', '.join(entries)} (counted from 1)"
    powers = entrywise_powers(tuple(sides), names, free + tuple(entries))
    if powers and verdict in ("holds", "fails"):  # say which reading of s_t^2 was taken
        message += f"; {', '.join(powers)} of a vector read entry by entry (a matrix power " \
                   "needs a square matrix; s^{⊙2} says entry by entry)"
    return (verdict, message, *rest)


def _decide_sides(judge: MatrixJudge, sides: list[object], free: tuple[str, ...]) -> tuple:
    names = judge.names
    if len(free) > MAX_FREE:
        raise InvalidFormula(f"more than {MAX_FREE} free step indices ({', '.join(free)}); "
                             "bind them with sums")
    shapes = []
    for part in sides:
        try:
            shapes.append(shape_of(part, names, free + tuple(judge.entries)))
        except ShapeError as exc:
            diagnosis = (Diagnosis("shape", f"shape mismatch: {exc}"),)
            diagnosis += tuple(explain_matrix(sides[0], part, names, free, judge.holds,
                                              kinds=("transpose",)))
            return "fails", f"the formula {show(part)} does not fit together", diagnosis, \
                None, "shapes"
    undecided, extra = None, 0
    for i, (lhs, rhs) in enumerate(zip(sides, sides[1:])):
        which = "" if len(sides) == 2 else f"sides {i + 1} and {i + 2}: "
        if shapes[i] != shapes[i + 1]:
            text = (f"shape mismatch: the left side {show(lhs)} is {_dims(shapes[i])}, the right "
                    f"side is {_dims(shapes[i + 1])}")
            more = explain_matrix(lhs, rhs, names, free, judge.holds,
                                  kinds=("transpose", "whole-transpose"))
            return "fails", f"{which}the two sides have different shapes", \
                (Diagnosis("shape", text), *more), None, "shapes"
        decision, pairs = judge.decision(lhs, rhs, free)
        if not pairs:
            raise InvalidFormula(f"no step {', '.join(free)} = 0..{names.steps - 1} makes every "
                                 "name of this formula exist; check the step indices")
        if decision.verdict == "holds":
            extra = max(extra, len({p for p, _ in pairs}) - judge.base)
            continue
        if decision.verdict == "undecided":
            undecided = undecided or f"{which}{decision.method}"
            continue
        mismatch = judge.mismatch(lhs, rhs, decision, pairs)
        judge.deadline = time.process_time() + EXPLAIN_SECONDS
        try:
            ranged = _step_range(judge, lhs, rhs, free)
            first = (mismatch.where, dict(mismatch.env))
            diagnosis = (ranged,) if ranged else tuple(explain_matrix(
                lhs, rhs, names, free, lambda a, b, f, at=first: judge.holds(a, b, f, at)))
            if not diagnosis and (variant := variant_diagnosis(judge, lhs, rhs, free)):
                diagnosis = (variant,)
        except TimeoutError:
            diagnosis = ()
        finally:
            judge.deadline = None
        return "fails", f"{which}the two sides differ at a random point (elementwise, " \
                        f"{decision.method})", diagnosis, _counterexample(judge, mismatch), \
            decision.method
    if undecided:
        return "undecided", f"undecided: {undecided}; no verdict is given", (), None, \
            "undecided"
    k = len(judge.shapes)
    more = f" and {extra} more for the kinks" if extra else ""
    method = f"elementwise at {k} size{'s' if k > 1 else ''} × {judge.per_shape} random " \
             f"points{more}, {DPS} digits"
    steps = ""
    if free:
        envs = judge.places(sides[0], sides[1], free)
        steps = ", " + steps_text(free, envs, names.steps, judge.condition is not None,
                                  judge.first)
    if judge.condition is not None:
        c = judge.condition
        op = {"<=": "≤", ">=": "≥"}.get(c.op, c.op)
        steps += f" with {show(c.left)} {op} {show(c.right)}"
    return "holds", f"holds ({method}{steps})", (), None, "elementwise evaluation"


def _counterexample(judge: MatrixJudge, m: Mismatch) -> dict[str, float | str]:
    dims = judge.points[m.where].dims
    cex: dict[str, float | str] = {k: str(v) for k, v in dims.items()}
    # a step as the document numbers it (--first); an entry as written, from 1
    cex.update({k: str(v if k in judge.entries else v + judge.first) for k, v in m.env.items()})
    if judge.points[m.where].point.stand_in:
        cex["f(z)"] = judge.points[m.where].point.stand_in
    r, c = m.entry[:2] if len(m.entry) >= 2 else (m.entry[0], 0)
    cex.update({"entry": f"({r + 1}, {c + 1})", "left side": shown(m.left),
                "right side": shown(m.right), "difference": shown(m.left - m.right)})
    return cex


def _dims(shape: tuple[str, str]) -> str:
    if len(shape) == 3:
        return f"a 3-tensor ({shape[0]} by {shape[1]}×{shape[2]})"
    return "1×1 (a number)" if shape == SCALAR else f"{shape[0]}×{shape[1]}"


def check_matrix(text: str, *, spec: ModelSpec = ELMAN, steps: int = 2, bias: bool = False,
                 activation: str = "tanh", seed: int = 0,
                 shapes: Sequence[Mapping[str, int]] | None = None,
                 on_verdict: Callable[[Verdict], None] | None = None,
                 first: int = 0, layout: str = "numerator",
                 partials: str = "total") -> list[Verdict]:
    """Check each equation of a document against the matrix model ``spec``, at the sizes
    ``shapes`` (each a dict letter: size; default :func:`default_shapes`).  ``layout``:
    ∂a/∂b of two vectors is the Jacobian (numerator) or its transpose (denominator).
    ``partials``: ∂h_t/∂W goes through every copy of W (total) or W's copy at step t (local)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 50:
        raise UsageError(f"--steps for checking matrix formulas must be from 1 to 50, "
                         f"got {steps!r}")
    if activation not in ("tanh", "sigmoid", "relu", "identity", "f"):
        raise UsageError(f"unknown activation {activation!r}; choose tanh, sigmoid, relu, "
                         "identity or f (abstract: a random cubic at each point)")
    if layout not in ("numerator", "denominator"):
        raise UsageError(f"unknown layout {layout!r}; choose numerator or denominator")
    if partials not in ("total", "local"):
        raise UsageError(f"unknown partials {partials!r}; choose total or local")
    names = MatrixNames(spec, steps, bias=bias, activation=activation, layout=layout,
                        partials=partials)
    judges: list[MatrixJudge] = []  # drawn at the first equation: none for an empty file

    def decide(chain: Chain) -> tuple:
        if not judges:
            judges.append(MatrixJudge(names, seed, shapes or default_shapes(spec), pool=POOL,
                                      first=first))
        return _decide(judges[0], chain)

    return judge_lines(text, decide, seconds=DECIDE_SECONDS, on_verdict=on_verdict,
                       names=spec.names, first=first, parameters=names.weights,
                       adjoints={a: (z, spec.loss) for z, a in spec.adjoints.items()})
