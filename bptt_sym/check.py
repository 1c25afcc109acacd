"""Check hand derivations: each equation holds, fails (with why) or is invalid.

    >>> [v.verdict for v in check("dE/du = dE/du_1 + dE/du_0\\nds1/dz1 = 1 - s1",
    ...                           activation="tanh")]
    ['holds', 'fails']
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import sympy as sp

from .document import find_equations
from .errors import BpttError
from .evaluate import Point, Sampler, Undefined, is_zero
from .explain import Diagnosis, explain
from .formula import Chain, ParseError, parse
from .graph import Graph, unroll
from .resolve import InvalidFormula, to_sympy

__all__ = ["Verdict", "Judge", "check", "check_graph", "judge_lines", "summary", "POINTS",
           "OutOfTime"]

POINTS = 4
SYMBOLIC_SECONDS = 0.3
SYMBOLIC_OPS = 40
EXPLAIN_SECONDS = 0.3
DECIDE_SECONDS = 10.0


class OutOfTime(Exception):
    """The search for a diagnosis ran out of its time; the counterexample still stands."""


@dataclass(frozen=True)
class Verdict:
    """What the checker says of one equation (one line of the input)."""

    line: int
    source: str
    verdict: str
    message: str
    diagnosis: tuple[Diagnosis, ...] = ()
    counterexample: Mapping[str, float | str] | None = None
    method: str = ""
    column: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "source": self.source, "verdict": self.verdict,
                "message": self.message, "diagnosis": [d.text for d in self.diagnosis],
                "diagnosis_kinds": [d.kind for d in self.diagnosis],
                "counterexample": dict(self.counterexample) if self.counterexample else None,
                "method": self.method or None, "column": self.column}

    def text(self) -> str:
        head = f"line {self.line}: {self.verdict}: {self.source}"
        lines = [head, f"  {self.message}"] if self.message else [head]
        lines += [f"  why: {d.text}" for d in self.diagnosis]
        if self.counterexample:
            shown = ", ".join(f"{k} = {v:.17g}" if isinstance(v, float) else f"{k} = {v}"
                              for k, v in self.counterexample.items())
            lines.append(f"  counterexample: {shown}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {"holds": "green", "fails": "crimson", "invalid": "darkorange"}[self.verdict]
        from html import escape

        body = escape(self.text()).replace("\n", "<br>")
        return f'<div style="font-family:monospace"><b style="color:{colour}">' \
               f"{self.verdict}</b> {body}</div>"


@contextmanager
def _budget(seconds: float, error: type[Exception] = TimeoutError) -> Iterator[None]:
    """Raise ``error`` in work that runs longer than ``seconds`` (main thread only; nested
    budgets restore the outer one)."""
    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "setitimer"):
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise error

    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()
    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, min(seconds, outer_left) if outer_left else seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer_left:
            left = outer_left - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))


@dataclass
class Judge:
    """Decides equalities of one graph: symbolically, else at fixed random points."""

    graph: Graph
    seed: int = 0
    n_points: int = POINTS
    sampler: Sampler = field(init=False)
    points: list[Point] = field(init=False)

    deadline: float | None = field(init=False, default=None)
    _cache: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.sampler = Sampler(self.graph, random.Random(self.seed))
        self.points = [self.sampler.point() for _ in range(self.n_points)]

    def values(self, expr: sp.Expr) -> list[sp.Expr]:
        if expr not in self._cache:
            self._cache[expr] = [self.sampler.value(expr, p) for p in self.points]
        return self._cache[expr]

    def holds(self, lhs: sp.Expr, rhs: sp.Expr) -> bool:
        """Equal at every point; a try that fails at the first point costs one evaluation."""
        if self.deadline is not None and time.process_time() > self.deadline:
            raise OutOfTime
        left = self.values(lhs)
        for i, p in enumerate(self.points):
            if not is_zero(left[i] - self.sampler.value(rhs, p), left[i]):
                return False
        return True

    def symbolic(self, lhs: sp.Expr, rhs: sp.Expr) -> bool:
        """True when lhs − rhs simplifies to 0 in node values.

        Only short differences are simplified (``SYMBOLIC_OPS``), so whether an equation is
        decided symbolically or by evaluation does not depend on the machine's speed; the
        time budget only guards against SymPy hanging.
        """
        diff = self.sampler.in_node_values(lhs) - self.sampler.in_node_values(rhs)
        if diff == 0:
            return True
        if sp.count_ops(diff) > SYMBOLIC_OPS:
            return False
        try:
            with _budget(SYMBOLIC_SECONDS):
                return sp.simplify(diff) == 0
        except (TimeoutError, RecursionError, TypeError):
            return False

    def counterexample(self, lhs: sp.Expr, rhs: sp.Expr) -> dict[str, float | str]:
        for p in self.points:
            a, b = self.sampler.value(lhs, p), self.sampler.value(rhs, p)
            if not is_zero(a - b, a):
                out = {str(k): float(v) for k, v in p.values.items()
                       if self.graph.nodes.get(k) is None or
                       self.graph.nodes[k].kind in ("input", "target", "initial")}
                for cls, fn in p.functions.items():
                    if not cls.__name__.endswith("'"):
                        out[f"{cls.__name__}(z)"] = str(fn.expr.xreplace({fn.variables[0]:
                                                                          sp.Symbol("z")}))
                out.update({"left side": float(a), "right side": float(b),
                            "difference": float(a - b)})
                return out
        return {}


def _decide(judge: Judge, sides: list[sp.Expr]) -> tuple[str, str, tuple, dict | None, str]:
    exact = all(v.is_Rational for v in judge.values(sides[0]))
    how = "exact evaluation" if exact else "60-digit evaluation"
    methods = []
    for i, (lhs, rhs) in enumerate(zip(sides, sides[1:])):
        if judge.symbolic(lhs, rhs):
            methods.append("symbolic")
            continue
        if judge.holds(lhs, rhs):
            methods.append(f"{how} at {judge.n_points} random points")
            continue
        which = "" if len(sides) == 2 else f"sides {i + 1} and {i + 2}: "
        judge.deadline = time.process_time() + EXPLAIN_SECONDS  # CPU time: the same under load
        try:
            diagnosis = tuple(explain(judge.graph, lhs, rhs, judge.values, judge.holds))
        except OutOfTime:
            diagnosis = ()
        finally:
            judge.deadline = None
        cex = judge.counterexample(lhs, rhs)
        message = f"{which}the two sides differ at a random point ({how})"
        return "fails", message, diagnosis, cex, how
    method = "symbolic" if set(methods) == {"symbolic"} else methods[-1]
    return "holds", f"holds ({method})", (), None, method


def _invalid(line: int, source: str, message: str, column: int | None = None) -> Verdict:
    return Verdict(line, source, "invalid", message, column=column or None)


def judge_lines(text: str, decide: Callable[[Chain], tuple], *, seconds: float,
                on_verdict: Callable[[Verdict], None] | None = None) -> list[Verdict]:
    """Parse each equation of ``text`` and ``decide`` it within ``seconds``; every failure
    to read or to decide an equation is its ``invalid`` verdict, never an exception."""
    verdicts = []
    for found in find_equations(text):
        try:
            chain = parse(found.text)
            with _budget(seconds, OutOfTime):
                verdict = Verdict(found.line, found.text, *decide(chain))
        except ParseError as exc:
            verdict = _invalid(found.line, found.text, f"syntax error at {exc}", exc.column)
        except Undefined as exc:
            verdict = _invalid(found.line, found.text, str(exc))
        except OutOfTime:
            verdict = _invalid(found.line, found.text, f"deciding this formula took more "
                                                       f"than {seconds:g} s; split it")
        except InvalidFormula as exc:
            verdict = _invalid(found.line, found.text, str(exc), exc.column)
        except (BpttError, ZeroDivisionError, ValueError, TypeError, RecursionError) as exc:
            verdict = _invalid(found.line, found.text, f"cannot check this formula: {exc}")
        verdicts.append(verdict)
        if on_verdict:
            on_verdict(verdict)
    return verdicts


def check_graph(text: str, graph: Graph, *, seed: int = 0,
                on_verdict: Callable[[Verdict], None] | None = None) -> list[Verdict]:
    """Check every equation of ``text`` against ``graph``; see :func:`check`."""
    judge = Judge(graph, seed)

    def decide(chain: Chain) -> tuple:
        if chain.condition is not None:
            raise InvalidFormula("a condition such as k ≤ t is for formulas with free step "
                                 "indices (--model elman); write the steps out here")
        return _decide(judge, [to_sympy(s, graph) for s in chain.sides])

    return judge_lines(text, decide, seconds=DECIDE_SECONDS, on_verdict=on_verdict)


def check(text: str, *, model: str = "doc", steps: int = 2, activation: str = "f",
          output: str = "g", loss: str = "L", seed: int = 0, bias: bool = False) -> list[Verdict]:
    """Check each equation of a document (plain text, Markdown or LaTeX) for ``model``;
    ``model="elman"`` reads matrix formulas (see :mod:`bptt_sym.mcheck`)."""
    if model == "elman":
        from .mcheck import check_matrix

        return check_matrix(text, steps=steps, bias=bias, seed=seed,
                            activation="tanh" if activation == "f" else activation)
    graph = unroll(model, steps=steps, activation=activation, output=output, loss=loss)
    return check_graph(text, graph, seed=seed)


def summary(verdicts: list[Verdict]) -> dict[str, int]:
    return {k: sum(v.verdict == k for v in verdicts) for k in ("holds", "fails", "invalid")}
