"""``verify --truncate K``: the truncated gradient (:mod:`bptt_sym.derivation.truncated`),
compiled, against oracles of the convention itself.

The oracles run the model's own equations (:mod:`bptt_sym.verification.interpret`, which
shares nothing with the derivation) once per loss E_t, with every node before step t − K
replaced by a constant of its value: the weights then reach E_t through their copies of
steps t − K … t only.  autograd differentiates that pass; finite differences perturb the
weights with the early nodes held at their unperturbed values.  The sum over the losses is
the truncated gradient.

    >>> from bptt_sym.graph.build import unroll
    >>> r = verify_truncated(unroll("elman", steps=4), 1, points=2)
    >>> r.report.passed, r.dropped["V"], r.dropped["W"], r.changed["W"] > 0
    (True, 0, 3, True)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from bptt_sym.derivation.matrix import _total
from bptt_sym.derivation.truncated import (
    CITATION,
    dropped_terms,
    loss_roots,
    loss_weight,
    per_loss_pieces,
    truncated,
    truncated_closed,
)
from bptt_sym.graph.build import Graph
from bptt_sym.limits import check_points, check_seed
from bptt_sym.numeric.compiled import (
    DEFAULT_STAND_INS,
    StandIns,
    compile_gradients,
    compile_loss,
)
from bptt_sym.numeric.matrix import MatrixProgram, forward_loss, random_values
from bptt_sym.verification import interpret
from bptt_sym.verification.run import Report, Row, compare, draw_points

__all__ = ["verify_truncated", "TruncatedReport", "truncated_reference", "truncated_gradients"]

TOLERANCE = {"autograd": 1e-9, "fd": 1e-5}


@dataclass(frozen=True)
class TruncatedReport:
    """The rows of :func:`verify_truncated`, and per weight how far the truncated gradient is
    from the full one (max relative difference; 0: truncation drops nothing of it)."""

    k: int
    report: Report
    changed: Mapping[str, float]
    dropped: Mapping[str, int]  # the terms ∂E_t/∂p_s truncation drops, by the graph
    losses: str = "E_t"  # the losses' name in those terms (E when there is one loss)

    @property
    def passed(self) -> bool:
        return self.report.passed

    def text(self) -> str:
        head, *rest = self.report.text().split("\n")
        lines = [head, f"truncated after K = {self.k} ({CITATION}): each loss's error goes "
                 f"back at most {self.k} step{'s' if self.k != 1 else ''}; the oracles hold "
                 "every node before step t − K of loss E_t at its value"]
        lines += rest[:-1]
        lines += [_changed(p, self.dropped[p], d, self.losses) for p, d in self.changed.items()]
        return "\n".join([*lines, rest[-1]])

    def to_json(self) -> dict[str, object]:
        return {**self.report.to_json(), "truncate": self.k,
                "truncated_vs_full_max_rel": dict(self.changed),
                "dropped_terms": dict(self.dropped)}


def _changed(p: str, dropped: int, rel: float, losses: str) -> str:
    if not dropped:
        return f"{p}: nothing dropped (no path is longer than K steps): the full gradient"
    terms = f"drops {dropped} term{'s' if dropped > 1 else ''} ∂{losses}/∂{p}_s"
    if rel == 0:
        return f"{p}: {terms}, all 0 at these values: the full gradient here"
    return f"{p}: {terms}; truncated vs full gradient: max rel {rel:.1e}"


def _functions(graph: Graph, xp: object, stand_ins: StandIns) -> dict[str, Callable]:
    c = graph.choices
    choice = (c.get("activation", "f"), c.get("output", "g"), c.get("loss", "L"))
    return interpret.function_table(graph.spec, xp, choice, stand_ins)


def truncated_reference(graph: Graph, values: Mapping[str, np.ndarray], k: int | None, *,
                        oracle: str = "autograd", stand_ins: StandIns = DEFAULT_STAND_INS
                        ) -> dict[str, np.ndarray]:
    """Σ_t ∂E_t/∂p with every node before step t − ``k`` held constant (``k`` None: the full
    gradient), by ``oracle`` (autograd or fd) on the model's interpreted equations."""
    spec, matrix = graph.spec, graph.spec.is_matrix
    names = [p for p in graph.copies]
    theta = {p: np.asarray(values[p], dtype=float) for p in names}
    data = {n: np.asarray(v, dtype=float) for n, v in values.items() if n not in theta}
    sizes = graph.dims if matrix else None
    out = {p: np.zeros_like(v) for p, v in theta.items()}
    weight = float(loss_weight(graph))  # 1/T for a mean of the step losses, else 1
    for root, t in loss_roots(graph):
        key = (graph.nodes[root].base, graph.nodes[root].step) if root != graph.loss else \
            (spec.loss, None)
        first = 0 if k is None else t - k

        def loss(xp: object, w: Mapping[str, object], cut: object = None,
                 key: tuple = key) -> object:
            nodes = interpret.evaluate(spec, {**data, **w}, steps=graph.steps,
                                       functions=_functions(graph, xp, stand_ins), xp=xp,
                                       sizes=sizes, cut=cut)
            return weight * xp.reshape(nodes[key], (-1,))

        if oracle == "autograd":
            import autograd
            import autograd.numpy as anp
            from autograd.tracer import getval

            cut = (first, lambda _, v: getval(v)) if first > 0 else None

            def total(*ws, cut=cut):
                return anp.sum(loss(anp, dict(zip(names, ws)), cut))

            grads = autograd.grad(total, argnum=tuple(range(len(names))))(*theta.values())
        else:
            base = interpret.evaluate(spec, {**data, **theta}, steps=graph.steps,
                                      functions=_functions(graph, np, stand_ins), sizes=sizes)
            cut = (first, lambda key, _, base=base: base[key]) if first > 0 else None
            grads = [_fd(lambda w, cut=cut: loss(np, w, cut), theta, p, matrix) for p in names]
        for p, g in zip(names, grads):
            out[p] = out[p] + np.asarray(g, dtype=float).reshape(theta[p].shape)
    return out


def _fd(loss: Callable[[dict], np.ndarray], theta: dict, p: str, matrix: bool) -> np.ndarray:
    """Central differences in p: entry by entry of a shared weight (the batch's losses
    summed), all points at once for a scalar model (each point has its own parameters)."""
    value = theta[p]
    if not matrix:
        h = 1e-6 * (1.0 + np.abs(value))
        up = loss({**theta, p: value + h})
        return (up - loss({**theta, p: value - h})) / (2 * h)
    grad = np.empty_like(value)
    for i in np.ndindex(value.shape):
        h = 1e-6 * (1.0 + abs(value[i]))
        moved = value.copy()
        moved[i] += h
        up = float(np.sum(loss({**theta, p: moved})))
        moved[i] -= 2 * h
        grad[i] = (up - float(np.sum(loss({**theta, p: moved})))) / (2 * h)
    return grad


def truncated_gradients(graph: Graph, k: int, values: Mapping[str, np.ndarray],
                        stand_ins: StandIns = DEFAULT_STAND_INS) -> dict[str, np.ndarray]:
    """The derived truncated gradient of every weight, compiled and run at ``values`` (a
    scalar model: per point; a matrix model: summed over the batch, as verify holds them)."""
    if not graph.spec.is_matrix:
        program = compile_gradients(graph, form="closed", stand_ins=stand_ins, override={
            p: truncated_closed(graph, p, k) for p in graph.copies})
        return program(values)
    deltas, pieces = per_loss_pieces(graph, k)
    sums = tuple((p, _total(truncated(pieces, p, k), graph.copies[p][0]))
                 for p in graph.copies)
    return MatrixProgram(graph, tuple(deltas), sums)(values)


def verify_truncated(graph: Graph, k: int, *, points: int = 8, seed: int = 0,
                     at: Mapping[str, np.ndarray] | None = None,
                     oracles: tuple[str, ...] = ("autograd", "fd")) -> TruncatedReport:
    """Check every weight's truncated gradient (after ``k`` steps) at ``points`` random
    points (or ``at``) against ``oracles``."""
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    matrix = graph.spec.is_matrix
    abstract = [r for r in ("activation", "output", "loss")
                if graph.choices.get(r) in ("f", "g", "L")]
    stand_ins = StandIns.draw(rng) if abstract and not matrix else StandIns()
    if at is None:
        check_points(points, graph.steps)
        values = random_values(graph, rng, batch=points) if matrix else \
            draw_points(graph, points, rng)
    else:
        values, seed = dict(at), None
    with np.errstate(all="ignore"):
        derived = truncated_gradients(graph, k, values, stand_ins)
        full = truncated_reference(graph, values, None, stand_ins=stand_ins)
        e_sym = forward_loss(graph, values) if matrix else \
            compile_loss(graph, stand_ins=stand_ins)(values)[graph.spec.loss]
        e_ref = np.reshape(interpret.evaluate(
            graph.spec, values, steps=graph.steps, functions=_functions(graph, np, stand_ins),
            sizes=graph.dims if matrix else None)[(graph.spec.loss, None)], (-1,))
        rows = []
        for name in oracles:
            ref = truncated_reference(graph, values, k, oracle=name, stand_ins=stand_ins)
            rows += [Row(f"K={k}", p, name, *compare(derived[p], ref[p]), TOLERANCE[name])
                     for p in graph.copies]
    changed = {p: compare(ref_p, full[p])[1] for p, ref_p in
               truncated_reference(graph, values, k, stand_ins=stand_ins).items()}
    n = int(np.size(e_ref))
    c = graph.choices
    choices = {r: c[r] for r in ("activation", "output", "loss")
               if r in c and r in graph.spec.functions.values()}
    if matrix:
        choices["sizes"] = ", ".join(f"{a} {b}" for a, b in graph.dims.items())
    report = Report(graph.spec.name, graph.steps, choices, seed, n,
                    stand_ins.describe(tuple(c[r] for r in abstract)) if abstract and
                    not matrix else {}, compare(np.asarray(e_sym), np.asarray(e_ref))[1],
                    tuple(rows), (), graph.spec.loss)
    return TruncatedReport(k, report, changed,
                           {p: len(dropped_terms(graph, p, k)[0]) for p in graph.copies},
                           "E_t" if len(loss_roots(graph)) > 1 else graph.spec.loss)
