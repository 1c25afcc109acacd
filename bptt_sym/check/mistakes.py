"""The usual wrong variants of a gradient, made from its exact step terms and the pieces of
the derivation (:mod:`bptt_sym.check.backward`): a sign, the mean over the steps, truncated
BPTT after k steps, one step's term alone where += belongs, a step index off by one, the
initial state wrapped to the last step, and one state's path back through time dropped."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp

from bptt_sym.derivation.matrix import mean_of_step_losses
from bptt_sym.graph.build import Graph
from bptt_sym.notation import split_name

__all__ = ["Names", "step_variants", "variants", "then"]


def _operand(term: sp.Basic) -> tuple[sp.Basic, sp.Basic] | None:
    """A weight's step term L Rᵀ (an adjoint times the vector the weight multiplies) as
    (L, R); None for any other form (a bias's term, a stack's)."""
    if isinstance(term, sp.MatMul) and isinstance(term.args[-1], sp.Transpose) and \
            isinstance(term.args[-1].arg, sp.MatrixSymbol):
        left = term.args[:-1]
        return (left[0] if len(left) == 1 else sp.MatMul(*left)), term.args[-1].arg
    return None


class Names:
    """The symbols of a derivation by (base, step): node values and the named adjoints; a
    zero initial state (c_{-1}, left out of the graph) is its zeros."""

    def __init__(self, graph: Graph, adjoints: Mapping[str, sp.Basic]) -> None:
        self.by = {split_name(s.name): s for s in graph.nodes if isinstance(s, sp.MatrixSymbol)}
        self.by.update({split_name(n): sp.MatrixSymbol(n, *e.shape) for n, e in adjoints.items()})

    def moved(self, expr: sp.Basic, by: int) -> sp.Basic | None:
        """``expr`` with every step-k symbol moved to step k + ``by``; a symbol that does not
        exist there is 0 when the step is below 0 (a zero initial state, left out of the
        graph), else the move fails (None)."""
        subs = {}
        for s in expr.atoms(sp.MatrixSymbol):
            base, step = split_name(s.name)
            if step is None:
                continue
            new = self.by.get((base, step + by))
            if new is None and step + by < 0:
                new = sp.ZeroMatrix(*s.shape)
            if new is None:
                return None
            subs[s] = new
        return expr.xreplace(subs)

    def at(self, symbol: sp.Basic, step: int) -> sp.Basic | None:
        return self.by.get((split_name(symbol.name)[0], step))


def step_variants(graph: Graph, names: Names, terms: list[tuple[int, sp.Basic]]
                   ) -> dict[str, list[sp.Basic]]:
    """The step terms of two index mistakes in a weight's gradient L_k R_kᵀ: R_k from one
    step late (s_k where s_{k-1} belongs), and, at t = 0, R from the last step (h[t-1]
    wrapping).  A term that a zero initial state leaves out (step 0's) is step 1's moved
    back a step."""
    by_step = {k: _operand(t) for k, t in terms}
    if not by_step or any(v is None for v in by_step.values()):
        return {}
    if 0 not in by_step and 1 in by_step:
        left, right = by_step[1]
        left0, right0 = names.moved(left, -1), names.moved(right, -1)
        if left0 is None or right0 is None:
            return {}
        by_step[0] = (left0, right0)
    out: dict[str, list[sp.Basic]] = {"shift": [], "wrap": []}
    last = graph.steps - 1
    for k, (left, right) in sorted(by_step.items()):
        late = names.moved(right, 1) if not isinstance(right, sp.ZeroMatrix) else None
        if late is None and k == 0 and 1 in by_step:
            late = by_step[1][1]  # step 0's own state: the operand of step 1
        if late is None:
            return {}
        out["shift"].append(left * late.T)
        wrapped = names.at(by_step.get(1, (None, right))[1], last) if k == 0 else None
        out["wrap"].append(left * wrapped.T if wrapped is not None else left * right.T)
    return out


def variants(graph: Graph, p: str, total: np.ndarray, terms: list[tuple[int, np.ndarray]],
              extra: dict[str, dict]) -> list[tuple[str, np.ndarray]]:
    T = graph.steps
    out = [(f"the sign: yours is −∂E/∂{p}", -total)]
    if T > 1 and mean_of_step_losses(graph):
        out.append((f"summed over the {T} steps where the loss is their mean: yours is {T} "
                    f"∂E/∂{p} (the loss is E = 1/T Σ_t E_t)", total * T))
    elif T > 1:
        out.append((f"averaged over the {T} steps: yours is ∂E/∂{p} / {T} (the loss is "
                    "their sum)", total / T))
    pieces = extra.pop("piece", {})
    for k in range(T - 1):  # truncated after k steps: step t's error reaches steps t − k … t
        value = sum((v for (t, s), v in pieces.items() if t - s <= k), np.zeros_like(total))
        if not np.array_equal(value, total):
            what = ("the through-time term dropped: each step's error reaches only its own "
                    "step's weights (truncated after 0 steps)") if k == 0 else \
                (f"truncated after {k} step{'s' if k > 1 else ''}: step t's error reaches the "
                 f"weights of steps t − {k} … t only")
            out.append((what, value))
    by_step = dict(terms)
    if T > 1:  # a loop back over the steps leaves step 0's term, one forward step T − 1's
        for k in (0, T - 1):
            out.append((f"overwritten instead of accumulated: yours is step {k}'s term "
                        f"∂E/∂{p}_{k} alone (= where += belongs)",
                        by_step.get(k, np.zeros_like(total))))  # none: a zero initial state
    for kind, what in (("shift", "a step index off by one: step k's state where step k − 1's "
                        "belongs in ∂E/∂{p}_k"),
                       ("wrap", "the initial state taken from the last step: at t = 0, "
                        "h[t-1] wrapped to step {last}'s state")):
        if extra.get(kind):
            value = sum(extra[kind].values(), np.zeros_like(total))
            if not np.array_equal(value, total):
                out.append((what.format(p=p, last=T - 1), value))
    for kind in sorted(k for k in extra if k.startswith("cut-")):
        state, value = kind[4:], extra[kind][0]
        if not np.array_equal(value, total):
            out.append((f"the path back through time along {state} dropped: step t sends "
                        f"nothing to {state}_(t−1) (a loop that never adds d{state}_next); "
                        "the other paths are kept", value))
    return out


FINISHED = ("the sign", "averaged", "summed", "transposed", "clipped")  # made on the sum


def then(candidates: list[tuple[str, np.ndarray]], graph: Graph, c: float, bound: float
         ) -> list[tuple[str, np.ndarray]]:
    """Each one-mistake variant with a second mistake made on the finished gradient: the
    sign, ÷ T (× T for a mean loss), the transpose, clipped to ±c (their largest entry);
    never the same kind twice."""
    T, mean = graph.steps, mean_of_step_losses(graph)
    out = []
    for what, v in candidates:
        kind = next((k for k in FINISHED if what.startswith(k)), None)
        ops = [("the sign", "the sign flipped", lambda a: -a)]
        if T > 1:
            ops.append(("summed", f"multiplied by {T}", lambda a: a * T) if mean else
                       ("averaged", f"divided by {T}", lambda a: a / T))
        if v.shape[0] == v.shape[1]:
            ops.append(("transposed", "transposed", lambda a: a.T))
        ops.append(("clipped", f"clipped to ±{c:.6g}", lambda a: np.clip(a, -c, c)))
        for op_kind, name, op in ops:
            if op_kind == kind or (op_kind == "clipped" and np.max(np.abs(v)) <= c * (1 + bound)):
                continue
            out.append((f"{what}; and {name}", op(v)))
    return out
