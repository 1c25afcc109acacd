"""Judge a person's backward pass: their gradients at a point against the exact ones, and,
when they differ, the name of their mistake.

The exact gradient is the derivation itself (:func:`bptt_sym.derivation.matrix.derive_matrix`,
its δ recursion and the terms ∂E/∂W_k of each step copy), evaluated in Arb ball arithmetic
at the point's float64 values, so it carries no round-off of its own.  Theirs *matches* when
it is within the round-off of their dtype (the bound is stated: ``ROUNDOFF``).  Otherwise
the usual wrong variants are made from the same derivation and theirs is compared with each,
to the same bound: a sign, a transpose, the step terms averaged (÷ T) or one step's term
left where += belongs, the gradient clipped to ±c, a step index off by one (s_k where s_{k-1}
belongs), the initial state taken from the last step (``h[t-1]`` at t = 0 wraps to h_{T-1}),
truncated BPTT after k steps (k = 0: the through-time term dropped; the pieces ∂E_t/∂W_s of
:mod:`bptt_sym.derivation.truncated`), and, derived again, an activation's derivative left
out or written as another's (σ′ = s ⊙ (1 − s) for a tanh unit) at one place of the cell.

    >>> import numpy as np
    >>> from bptt_sym.graph.matrix import unroll_vector
    >>> from bptt_sym.numeric.matrix import random_values
    >>> g = unroll_vector(steps=3, hidden=2, inputs=2, classes=2)
    >>> point = random_values(g, np.random.default_rng(1))
    >>> exact = exact_gradients(g, point)
    >>> wrong = {p: (-v if p == "W" else v) for p, v in exact.total.items()}
    >>> [(r.name, r.verdict, r.diagnosis) for r in judge(exact, wrong)]
    [('U', 'matches', None), ('W', 'wrong', 'the sign: yours is −∂E/∂W'), ('V', 'matches', None)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp
from flint import arb

from bptt_sym.check.decide import working
from bptt_sym.check.truth_matrix import MP
from bptt_sym.derivation.matrix import derive_matrix, step_losses
from bptt_sym.derivation.truncated import per_loss_pieces
from bptt_sym.graph.build import Graph
from bptt_sym.notation import split_name
from bptt_sym.numeric.matrix import MatrixProgram, matrix_program
from bptt_sym.rules.expressions import Apply
from bptt_sym.rules.functions import rule, rule_names
from bptt_sym.rules.matrix import place, replaced

__all__ = ["Exact", "Result", "exact_gradients", "judge", "ROUNDOFF", "BITS"]

BITS = 256  # working precision of the exact gradient: far below any float's round-off
# The largest error, relative to the gradient's largest entry, that a correct backward pass
# in this dtype may show: a few thousand roundings of a sum over steps, entries and a batch.
ROUNDOFF = {"float64": 1e-9, "float32": 1e-3}


@dataclass(frozen=True)
class Exact:
    """The exact gradient of each parameter at one point, and its step terms ∂E/∂p_k."""

    graph: Graph
    total: dict[str, np.ndarray]
    terms: dict[str, list[tuple[int, np.ndarray]]]
    variants: dict[str, list[tuple[str, np.ndarray]]]  # (what the mistake is, its gradient)
    values: dict = field(default_factory=dict, repr=False)
    _derived: dict = field(default_factory=dict, repr=False, compare=False)

    def derivative_variants(self, p: str) -> list[tuple[str, np.ndarray]]:
        """p's gradient with an activation's derivative left out or written as another's:
        derived again for every parameter, so made only once a gradient is wrong."""
        if "all" not in self._derived:
            self._derived["all"] = _derivative_variants(self.graph, self.values)
        return [(what, grads[p]) for what, grads in self._derived["all"]
                if not np.array_equal(grads[p], self.total[p])]


@dataclass(frozen=True)
class Result:
    """One parameter's verdict: ``matches``, or ``wrong`` with the mistake when one fits."""

    name: str
    verdict: str
    error: float      # max |theirs − exact| / max |exact|
    bound: float      # the round-off bound of their dtype
    dtype: str
    diagnosis: str | None
    detail: str

    def to_json(self) -> dict:
        return {"parameter": self.name, "verdict": self.verdict, "relative_error": self.error,
                "bound": self.bound, "dtype": self.dtype, "diagnosis": self.diagnosis,
                "detail": self.detail}


def _balls(value: np.ndarray) -> np.ndarray:
    """A float array as Arb balls, exactly."""
    a = np.asarray(value, dtype=float)
    out = np.empty(a.shape, dtype=object)
    for i, x in np.ndenumerate(a):
        out[i] = arb(float(x))
    return out


def _floats(value: object, shape: tuple[int, ...]) -> np.ndarray:
    a = np.asarray(value, dtype=object)
    return np.array([float(arb(x).mid()) for x in a.ravel()], dtype=float).reshape(shape)


def _operand(term: sp.Basic) -> tuple[sp.Basic, sp.Basic] | None:
    """A weight's step term L Rᵀ (an adjoint times the vector the weight multiplies) as
    (L, R); None for any other form (a bias's term, a stack's)."""
    if isinstance(term, sp.MatMul) and isinstance(term.args[-1], sp.Transpose) and \
            isinstance(term.args[-1].arg, sp.MatrixSymbol):
        left = term.args[:-1]
        return (left[0] if len(left) == 1 else sp.MatMul(*left)), term.args[-1].arg
    return None


class _Names:
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


def _step_variants(graph: Graph, names: _Names, terms: list[tuple[int, sp.Basic]]
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


def exact_gradients(graph: Graph, values: Mapping[str, np.ndarray]) -> Exact:
    """Every parameter's gradient, its step terms and its wrong variants that need the
    derivation (a step index off by one, the wrapped initial state), at ``values`` (the
    layout of :func:`bptt_sym.numeric.matrix.random_values`; a batch's gradients are sums)."""
    deltas: dict[str, sp.Basic] = {}
    named: list[tuple[str, sp.Basic]] = []
    per_weight: dict[str, list[tuple[int, sp.Basic]]] = {}
    for p in graph.copies:
        d = derive_matrix(graph, wrt=p)
        for eq in d.unrolled:
            if eq.kind == "delta":
                deltas.setdefault(eq.lhs.name, eq.rhs)
        for k, term in d.terms:
            named.append((f"{p}|term|{k}", term))
        per_weight[p] = list(d.terms)
    names = _Names(graph, deltas)
    for p, terms in per_weight.items():
        for kind, parts in _step_variants(graph, names, terms).items():
            named += [(f"{p}|{kind}|{k}", e) for k, e in enumerate(parts)]
    if step_losses(graph) is not None:  # ∂E_t/∂p_s: the pieces of truncated BPTT
        more, pieces = per_loss_pieces(graph)
        deltas.update(more)
        named += [(f"{p}|piece|{t}.{k}", e) for (p, t, k), e in pieces.items()]
    floats = _run(graph, MatrixProgram(graph, tuple(deltas.items()), tuple(named)), values)
    terms: dict[str, list[tuple[int, np.ndarray]]] = {p: [] for p in graph.copies}
    extra: dict[str, dict[str, dict]] = {p: {} for p in graph.copies}
    for key, v in floats.items():
        p, kind, k = key.split("|")
        if kind == "term":
            terms[p].append((int(k), v))
        elif kind == "piece":
            extra[p].setdefault(kind, {})[tuple(map(int, k.split(".")))] = v
        else:
            extra[p].setdefault(kind, {})[int(k)] = v
    total = {p: sum((v for _, v in terms[p]), np.zeros(graph.copies[p][0].shape))
             for p in graph.copies}
    variants = {p: _variants(graph, p, total[p], terms[p], extra[p]) for p in graph.copies}
    return Exact(graph, total, terms, variants, dict(values))


def _run(graph: Graph, program: MatrixProgram, values: Mapping[str, np.ndarray]
         ) -> dict[str, np.ndarray]:
    """Run ``program`` in 256-bit balls at every point of the batch; the sum, as floats."""
    batch = max([np.shape(v)[0] for v in values.values() if np.ndim(v) == 3] or [1])
    floats: dict[str, np.ndarray] = {}
    with working(BITS):
        for b in range(batch):  # E is the sum of the batch's losses
            point = {k: _balls(v[b] if np.ndim(v) == 3 else v) for k, v in values.items()}
            for k, v in program(point, MP).items():
                v = _floats(v, graph.copies[k.split("|")[0]][0].shape)
                floats[k] = floats[k] + v if k in floats else v
    return floats


WRONG_DERIVATIVES = ("tanh", "sigmoid")  # the derivatives people write for one another


def _derivative_variants(graph: Graph, values: Mapping[str, np.ndarray]
                         ) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Every gradient derived again with one activation's derivative left out (as 1), or
    written as another's in the same node value (σ′ = s ⊙ (1 − s) for a tanh unit)."""
    known = set(rule_names("activation")) - {"identity"}
    places: dict[str, str] = {}  # g -> tanh, tanh(c) -> tanh: each place of a function
    for sym, n in graph.nodes.items():
        for a in (n.expr.atoms(Apply) if n.expr is not None else ()):
            if a.name in known:
                places[place(a, sym if n.expr == a else a)] = a.name
    out = []
    for where, name in sorted(places.items()):
        at = "" if where == name else f" in {where}" if "(" in where else f" of {where}"
        for by in (None, *(w for w in WRONG_DERIVATIVES if w != name)):
            with replaced(where, by):
                program = matrix_program(graph)
            grads = _run(graph, program, values)
            what = (f"the derivative of {name}{at} left out (taken as 1)" if by is None else
                    f"{name}′{at} written as {by}′ of the same value "
                    f"({_in_values(by)} where {_in_values(name)} belongs)")
            out.append((what, grads))
    return out


def _in_values(name: str) -> str:
    s = sp.Symbol("s")
    d = rule("activation", name).derivative(sp.Symbol("z"), out=s)
    return str(d).replace("**2", "²").replace("*", " ⊙ ")


def _variants(graph: Graph, p: str, total: np.ndarray, terms: list[tuple[int, np.ndarray]],
              extra: dict[str, dict]) -> list[tuple[str, np.ndarray]]:
    T = graph.steps
    out = [(f"the sign: yours is −∂E/∂{p}", -total)]
    if T > 1:
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
    return out


def _error(theirs: np.ndarray, want: np.ndarray, scale: float) -> float:
    return float(np.max(np.abs(theirs - want))) / scale if want.size else 0.0


def _dtype(value: np.ndarray) -> str:
    return "float32" if np.asarray(value).dtype in (np.float32, np.float16) else "float64"


def judge(exact: Exact, theirs: Mapping[str, np.ndarray]) -> list[Result]:
    """Each parameter's verdict, in the graph's order; ``theirs`` holds every parameter in
    its shape (or the transposed shape: then "transposed" is the diagnosis)."""
    results = []
    for p, want in exact.total.items():
        got = np.asarray(theirs[p])
        dtype = _dtype(got)
        bound = ROUNDOFF[dtype]
        got = got.astype(float)
        scale = max(float(np.max(np.abs(want))), np.finfo(float).tiny)
        if got.shape != want.shape:  # only the transposed shape gets here
            err = _error(got.T, want, scale)
            results.append(Result(p, "wrong", err, bound, dtype,
                                  f"transposed: yours is (∂E/∂{p})ᵀ" if err <= bound else None,
                                  f"shape {got.shape} where {p} is {want.shape}"))
            continue
        err = _error(got, want, scale)
        if err <= bound:
            results.append(Result(p, "matches", err, bound, dtype, None,
                                  f"to {dtype} round-off (max error {err:.1e} of the largest "
                                  f"entry, bound {bound:g})"))
            continue
        candidates = list(exact.variants[p])
        if want.shape[0] == want.shape[1]:
            candidates.append((f"transposed: yours is (∂E/∂{p})ᵀ", want.T))
        c = float(np.max(np.abs(got)))
        if 0 < c and np.max(np.abs(want)) > c * (1 + bound):
            candidates.append((f"clipped to ±{c:.6g}: yours is clip(∂E/∂{p}, −{c:.6g}, "
                               f"{c:.6g})", np.clip(want, -c, c)))
        found = _fitting(got, candidates, scale, bound)
        if found is None:
            found = _fitting(got, exact.derivative_variants(p), scale, bound)
        if found is None and c == 0:
            found = "yours is zero: nothing was added into it"
        detail = _where(exact, p, got) if found is None else ""
        results.append(Result(p, "wrong", err, bound, dtype, found, detail))
    return results


def _fitting(got: np.ndarray, candidates: list[tuple[str, np.ndarray]], scale: float,
             bound: float) -> str | None:
    """The first mistake whose gradient is yours to the bound."""
    return next((what for what, v in candidates
                 if _error(got, v, max(float(np.max(np.abs(v))), scale)) <= bound), None)


def _where(exact: Exact, p: str, got: np.ndarray) -> str:
    """No known mistake fits: where the difference is, and each step's term beside it."""
    diff = got - exact.total[p]
    i = np.unravel_index(int(np.argmax(np.abs(diff))), diff.shape)
    entry = ", ".join(str(j + 1) for j in i)
    steps = "; ".join(f"step {k}: {float(v[i]):.6g}" for k, v in sorted(exact.terms[p]))
    return (f"no known mistake fits; the largest difference is at entry ({entry}): yours "
            f"{float(got[i]):.6g}, exact {float(exact.total[p][i]):.6g}; the exact entry's "
            f"terms ∂E/∂{p}_k by step: {steps}")
