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

from bptt_sym.check import mistakes
from bptt_sym.check.decide import working
from bptt_sym.check.mistakes import Names, step_variants
from bptt_sym.check.truth_matrix import MP
from bptt_sym.derivation.matrix import derive_matrix, kept_adjoints
from bptt_sym.derivation.truncated import loss_roots, loss_weight, path_dropped, per_loss_pieces
from bptt_sym.graph.build import Graph
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
    # each kept adjoint's exact value at steps 0 … T − 1 (B × n each, B = 1 without a batch),
    # and its wrong variants by kind: "own", step t's own part δ⁽ᵗ⁾_t (the error of E_t
    # alone, when the loss is a sum of step losses); "cut-c", c's path back dropped
    adjoints: dict[str, list[np.ndarray]] = field(default_factory=dict, repr=False)
    wrong_steps: dict[str, dict[str, list[np.ndarray]]] = field(default_factory=dict,
                                                                repr=False)
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
    names = Names(graph, deltas)
    for p, terms in per_weight.items():
        for kind, parts in step_variants(graph, names, terms).items():
            named += [(f"{p}|{kind}|{k}", e) for k, e in enumerate(parts)]
    if len(loss_roots(graph)) > 1:  # ∂E_t/∂p_s (1/T of it for a mean): truncated BPTT
        more, pieces = per_loss_pieces(graph)
        deltas.update(more)
        named += [(f"{p}|piece|{t}.{k}", e) for (p, t, k), e in pieces.items()]
    if len(graph.spec.initial) > 1:  # one state's path back cut, the others kept
        for state in graph.spec.initial:
            more, grads = path_dropped(graph, state)
            deltas.update(more)
            named += [(f"{p}|cut-{state}|0", e) for p, e in grads.items()]
    steps = _adjoint_outputs(graph, deltas)
    floats = _run(graph, MatrixProgram(graph, tuple(deltas.items()), tuple(named + steps)),
                  values, {key: e.shape for key, e in steps})
    adjoints: dict[str, dict[str, list]] = {}
    for key, _ in steps:
        name, kind, t = key.split("|")
        by_name = adjoints.setdefault(kind, {})
        by_name.setdefault(name, [None] * graph.steps)[int(t)] = floats.pop(key)
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
    variants = {p: mistakes.variants(graph, p, total[p], terms[p], extra[p]) for p in graph.copies}
    full = adjoints.pop("delta", {})
    return Exact(graph, total, terms, variants, dict(values), full,
                 {kind: {n: v for n, v in by.items() if all(a is not None for a in v)}
                  for kind, by in adjoints.items()})


def _adjoint_outputs(graph: Graph, deltas: Mapping[str, sp.Basic]
                     ) -> list[tuple[str, sp.Basic]]:
    """Each kept adjoint at each step (``delta|delta|t``) and, when the loss is a sum of
    step losses, step t's own part of it (``delta|own|t``: δ⁽ᵗ⁾_t of E_t's sweep), and it
    with one state's path back dropped (``delta|cut-c|t``)."""
    out = []
    weight = loss_weight(graph)
    for name in kept_adjoints(graph).values():
        for t in range(graph.steps):
            kinds = [("delta", f"{name}_{t}"), ("own", f"{name}^({t})_{t}"),
                     *((f"cut-{c}", f"{name}^(no {c})_{t}") for c in graph.spec.initial)]
            for kind, symbol in kinds:
                if symbol in deltas:
                    value = sp.MatrixSymbol(symbol, *deltas[symbol].shape)
                    out.append((f"{name}|{kind}|{t}",  # E_t's own part of E: 1/T of it
                                weight * value if kind == "own" and weight != 1 else value))
    return out


def _run(graph: Graph, program: MatrixProgram, values: Mapping[str, np.ndarray],
         stacked: Mapping[str, tuple[int, int]] | None = None) -> dict[str, np.ndarray]:
    """Run ``program`` in 256-bit balls at every point of the batch; the sum, as floats;
    an output of ``stacked`` (its shape n × 1) is not summed but each point's n numbers, a
    B × n array."""
    stacked = stacked or {}
    batch = max([np.shape(v)[0] for v in values.values() if np.ndim(v) == 3] or [1])
    floats: dict[str, np.ndarray] = {}
    rows: dict[str, list[np.ndarray]] = {k: [] for k in stacked}
    with working(BITS):
        for b in range(batch):  # E is the sum of the batch's losses
            point = {k: _balls(v[b] if np.ndim(v) == 3 else v) for k, v in values.items()}
            for k, v in program(point, MP).items():
                if k in stacked:
                    rows[k].append(np.ravel(_floats(v, stacked[k])))
                    continue
                v = _floats(v, graph.copies[k.split("|")[0]][0].shape)
                floats[k] = floats[k] + v if k in floats else v
    return {**floats, **{k: np.array(v) for k, v in rows.items()}}


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
            found = f"transposed: yours is (∂E/∂{p})ᵀ" if err <= bound else None
            if found is None:  # transposed, and one more mistake
                more = _fitting(got.T, _singles(exact, p, got.T, bound), scale, bound)
                found = f"transposed: yours is (∂E/∂{p})ᵀ, and {more}" if more else None
            results.append(Result(p, "wrong", err, bound, dtype, found,
                                  f"shape {got.shape} where {p} is {want.shape}"))
            continue
        err = _error(got, want, scale)
        if err <= bound:
            results.append(Result(p, "matches", err, bound, dtype, None,
                                  f"to {dtype} round-off (max error {err:.1e} of the largest "
                                  f"entry, bound {bound:g})"))
            continue
        candidates = _singles(exact, p, got, bound)
        found = _fitting(got, candidates, scale, bound)
        if found is None:
            found = _fitting(got, exact.derivative_variants(p), scale, bound)
        c = float(np.max(np.abs(got)))
        if found is None and c > 0:  # two mistakes: one of the loop's, then one on the sum
            found = _fitting(got, mistakes.then(
                [*candidates, *exact.derivative_variants(p)], exact.graph, c, bound), scale,
                bound)
        if found is None and c == 0:
            found = "yours is zero: nothing was added into it"
        detail = _where(exact, p, got) if found is None else ""
        results.append(Result(p, "wrong", err, bound, dtype, found, detail))
    return results


def _singles(exact: Exact, p: str, got: np.ndarray, bound: float
             ) -> list[tuple[str, np.ndarray]]:
    """p's one-mistake variants: those of the derivation, the transpose and the clip (to
    their largest entry)."""
    want = exact.total[p]
    candidates = list(exact.variants[p])
    if want.shape[0] == want.shape[1]:
        candidates.append((f"transposed: yours is (∂E/∂{p})ᵀ", want.T))
    c = float(np.max(np.abs(got)))
    if 0 < c and np.max(np.abs(want)) > c * (1 + bound):
        candidates.append((f"clipped to ±{c:.6g}: yours is clip(∂E/∂{p}, −{c:.6g}, "
                           f"{c:.6g})", np.clip(want, -c, c)))
    return candidates


def _fitting(got: np.ndarray, candidates: list[tuple[str, np.ndarray]], scale: float,
             bound: float) -> str | None:
    """The first mistake whose gradient is yours to the bound; when others give the same
    numbers for this parameter, they are named after it (an LSTM's output gate never sees
    dc_next: dropping dh_next alone and dropping every path back give it the same)."""
    fits = [what for what, v in candidates
            if _error(got, v, max(float(np.max(np.abs(v))), scale)) <= bound]
    if not fits:
        return None
    also = [w.split(":")[0] for w in fits[1:]]
    return fits[0] + (f" (for this parameter these give the same numbers: "
                      f"{'; '.join(also)})" if also else "")


def _where(exact: Exact, p: str, got: np.ndarray) -> str:
    """No known mistake fits: where the difference is, and each step's term beside it."""
    diff = got - exact.total[p]
    i = np.unravel_index(int(np.argmax(np.abs(diff))), diff.shape)
    entry = ", ".join(str(j + 1) for j in i)
    steps = "; ".join(f"step {k}: {float(v[i]):.6g}" for k, v in sorted(exact.terms[p]))
    return (f"no known mistake fits; the largest difference is at entry ({entry}): yours "
            f"{float(got[i]):.6g}, exact {float(exact.total[p][i]):.6g}; the exact entry's "
            f"terms ∂E/∂{p}_k by step: {steps}")
