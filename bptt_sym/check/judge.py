"""The scalar checker's judge: decides one equation of a graph, symbolically or at random
points through :mod:`bptt_sym.check.decide`, and explains a failing one.

    >>> from bptt_sym.graph.build import unroll
    >>> from bptt_sym.graph.resolve import to_sympy
    >>> from bptt_sym.syntax.formula import parse
    >>> g = unroll("doc", steps=2)
    >>> judge_sides(Judge(g), [to_sympy(s, g) for s in parse("ds1/dz1 = 1 - s1").sides])[0]
    'fails'
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sympy as sp

from bptt_sym.budget import OutOfTime, budget
from bptt_sym.check.decide import (
    MAX_BITS,
    START_BITS,
    Decision,
    Undefined,
    Unsure,
    decide,
    shown,
    sign,
    working,
)
from bptt_sym.check.explain import explain
from bptt_sym.check.rigorous import Point, Sampler, kink_arguments
from bptt_sym.graph.build import Graph
from bptt_sym.rules.functions import function_class, rule

__all__ = ["Judge", "judge_sides", "POINTS", "POOL"]

POINTS = 8   # points that must agree (more where a kink needs both sides)
POOL = 64    # points drawn at most for one equation (kink sides, spares for unsure ones)
# A guard against SymPy hanging, not a limit that decides: a difference of at most
# SYMBOLIC_OPS operations simplifies in milliseconds, but the first simplify of a process
# loads SymPy's simplification modules (0.09 s of CPU here, over 0.3 s on a cold CI machine,
# where it once turned "holds (symbolic)" into "holds (8 random points)").
SYMBOLIC_SECONDS = 3.0
SYMBOLIC_OPS = 40
EXPLAIN_SECONDS = 0.45

_KINKS = (sp.Max, sp.Min, sp.Heaviside, sp.Abs, sp.sign, sp.Piecewise,
          function_class(rule("activation", "relu")))


@dataclass
class Judge:
    """Decides equalities of one graph: symbolically, else by :mod:`bptt_sym.check.decide` at
    random points (the first ``n_points`` of a pool, plus points that put every kink
    argument on the side the first ones miss, plus spares for points that stay unsure)."""

    graph: Graph
    seed: int = 0
    n_points: int = POINTS
    sampler: Sampler = field(init=False)
    pool: list[Point] = field(init=False, default_factory=list)

    deadline: float | None = field(init=False, default=None)
    _cache: dict = field(init=False, default_factory=dict)
    _kinks: set = field(init=False, default_factory=set)
    _signs: dict = field(init=False, default_factory=dict)
    focus: int = field(init=False, default=0)  # the point a failing equation is explained at

    def __post_init__(self) -> None:
        self.sampler = Sampler(self.graph, random.Random(self.seed))
        for node in self.graph.nodes.values():
            if node.expr is not None:
                self._kinks |= kink_arguments(node.expr)

    @property
    def points(self) -> list[Point]:
        return [self.point(i) for i in range(self.n_points)]

    def point(self, i: int) -> Point:
        while len(self.pool) <= i:  # the first points moderate, the rest of the pool wide
            self.pool.append(self.sampler.point(wide=len(self.pool) >= self.n_points))
        return self.pool[i]

    def _sign(self, arg: sp.Expr, i: int) -> int | None:
        if (arg, i) not in self._signs:
            try:
                with working(START_BITS):
                    self._signs[(arg, i)] = sign(self.sampler.value(arg, self.point(i)))
            except (Unsure, Undefined, ZeroDivisionError):
                self._signs[(arg, i)] = None
        return self._signs[(arg, i)]

    def _in_node_values(self, expr: sp.Expr) -> sp.Expr:
        if ("nv", expr) not in self._cache:
            self._cache[("nv", expr)] = self.sampler.in_node_values(expr)
        return self._cache[("nv", expr)]

    def _written_kinks(self, expr: sp.Expr) -> set[sp.Expr]:
        if ("kinks", expr) not in self._cache:
            self._cache[("kinks", expr)] = kink_arguments(expr)
        return self._cache[("kinks", expr)]

    def order(self, written: set[sp.Expr]) -> list[int]:
        """The points one equation is decided at, in order: the first ``n_points``, then one
        point for each side of a kink (of the graph's or the ``written`` kink arguments)
        that they miss."""
        chosen = list(range(self.n_points))
        kinks = self._kinks | written
        for arg in sorted(kinks, key=sp.default_sort_key) if kinks else ():
            seen = {self._sign(arg, i) for i in chosen}
            for want in (1, -1):
                if want in seen:
                    continue
                extra = next((i for i in range(self.n_points, POOL)
                              if self._sign(arg, i) == want), None)
                if extra is not None and extra not in chosen:
                    chosen.append(extra)
        return chosen

    def decision(self, lhs: sp.Expr, rhs: sp.Expr) -> tuple[Decision, list[int]]:
        """The decision on lhs = rhs and the pool indices of the points, in the order tried."""
        if self.deadline is not None and time.process_time() > self.deadline:
            raise OutOfTime
        diff = self._in_node_values(lhs) - self._in_node_values(rhs)
        chosen = self.order(self._written_kinks(lhs) | self._written_kinks(rhs))
        tried = chosen + [i for i in range(POOL) if i not in chosen]

        def at(i: int) -> Callable[[], list]:
            return lambda: [self.sampler.value(diff, self.point(i))]

        return decide((at(i) for i in tried), needed=len(chosen)), tried

    def values(self, expr: sp.Expr) -> list:
        """``expr`` at the first points and at the point where the equation being explained
        failed (for the explainer's searches)."""
        key = (expr, self.focus)
        if key not in self._cache:
            at = self.points + ([self.point(self.focus)] if self.focus >= self.n_points else [])
            with working(START_BITS):
                self._cache[key] = [self.sampler.value(expr, p) for p in at]
        return self._cache[key]

    def holds(self, lhs: sp.Expr, rhs: sp.Expr) -> bool:
        """The equation holds at the judge's points (for the explainer's candidates)."""
        try:
            return self.decision(lhs, rhs)[0].verdict == "holds"
        except (Undefined, ZeroDivisionError):  # a candidate not defined everywhere
            return False

    def symbolic(self, lhs: sp.Expr, rhs: sp.Expr) -> bool:
        """True when lhs − rhs simplifies to 0 in node values.

        Only short differences are simplified (``SYMBOLIC_OPS``), so whether an equation is
        decided symbolically or by evaluation does not depend on the machine's speed; the
        time budget only guards against SymPy hanging.
        """
        diff = self.sampler.in_node_values(lhs) - self.sampler.in_node_values(rhs)
        if diff == 0:
            return True
        if sp.count_ops(diff) > SYMBOLIC_OPS or diff.has(*_KINKS):
            return False  # kinks make SymPy split cases slowly; the points decide them
        try:
            with budget(SYMBOLIC_SECONDS, cpu=True):  # CPU time: the same under load
                return sp.simplify(diff) == 0
        except OutOfTime:
            raise
        except Exception:  # noqa: BLE001 - SymPy may fail in many ways; numbers decide then
            return False

    def counterexample(self, lhs: sp.Expr, rhs: sp.Expr, i: int) -> dict[str, float | str]:
        """Point ``i`` as the person can read it, with both sides and their difference."""
        p = self.point(i)
        out: dict[str, float | str] = dict(self.sampler.leaves(p))
        for bits in (START_BITS, 2 * START_BITS, 4 * START_BITS, MAX_BITS):
            with working(bits):
                try:
                    a, b = self.sampler.value(lhs, p), self.sampler.value(rhs, p)
                except Unsure:
                    continue
                out.update({"left side": shown(a), "right side": shown(b),
                            "difference": shown(a - b)})
                return out
        return out


def judge_sides(judge: Judge, sides: list[sp.Expr]) -> tuple[str, str, tuple, dict | None, str]:
    methods = []
    undecided = None
    for i, (lhs, rhs) in enumerate(zip(sides, sides[1:])):
        which = "" if len(sides) == 2 else f"sides {i + 1} and {i + 2}: "
        if judge.symbolic(lhs, rhs):
            methods.append("symbolic")
            continue
        decision, tried = judge.decision(lhs, rhs)
        if decision.verdict == "holds":
            methods.append(decision.method)
            continue
        if decision.verdict == "undecided":
            undecided = undecided or f"{which}{decision.method}"
            continue
        judge.deadline = time.process_time() + EXPLAIN_SECONDS  # CPU time: the same under load
        judge.focus = tried[decision.point]
        try:
            with working(START_BITS):  # the searches' own arithmetic runs at this precision
                diagnosis = tuple(explain(judge.graph, lhs, rhs, judge.values, judge.holds))
        except (OutOfTime, Unsure):
            diagnosis = ()
        finally:
            judge.deadline = None
        cex = judge.counterexample(lhs, rhs, tried[decision.point])
        message = f"{which}the two sides differ at a random point ({decision.method})"
        return "fails", message, diagnosis, cex, decision.method
    if undecided:
        return "undecided", f"undecided: {undecided}; no verdict is given", (), None, \
            "undecided"
    method = "symbolic" if set(methods) == {"symbolic"} else \
        next(m for m in methods if m != "symbolic")
    return "holds", f"holds ({method})", (), None, method
