"""Verify derived gradients numerically: compiled derivation against independent oracles.

The reference forward pass of the article's model is typed by hand
(:func:`bptt_sym.verification.oracles.doc_loss`); any other scalar model runs its own equations
through :mod:`bptt_sym.verification.interpret`, which shares nothing with the SymPy derivation.

    >>> r = verify("doc", steps=3, activation="tanh", output="sigmoid", loss="bce",
    ...            oracles=("autograd", "fd"), points=8)
    >>> r.passed, sorted({row.oracle for row in r.rows})
    (True, ['autograd', 'fd'])
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import sympy as sp

from bptt_sym.errors import UsageError
from bptt_sym.files import read_json
from bptt_sym.graph.build import Graph, unroll
from bptt_sym.limits import check_points, check_seed
from bptt_sym.model.registry import MODELS, ModelSpec
from bptt_sym.numeric.compiled import StandIns, compile_gradients, compiled, leaf_names, spec_key
from bptt_sym.rules.functions import AbstractFunction
from bptt_sym.verification import interpret
from bptt_sym.verification.oracles import ORACLES, Reference, doc_reference, gradient, oracle_status

__all__ = ["Row", "Skip", "Report", "verify", "compare", "draw_points", "read_points",
           "FORMS_VERIFIED"]

FORMS_VERIFIED = ("delta", "closed")
TINY = 1e-300
FORWARD_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Row:
    """One comparison: a derived form's gradient of one parameter against one oracle."""

    form: str
    parameter: str
    oracle: str
    max_abs: float
    max_rel: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return bool(self.max_rel <= self.tolerance)


@dataclass(frozen=True)
class Skip:
    """An oracle that did not run, and why."""

    oracle: str
    reason: str


@dataclass(frozen=True)
class Report:
    """The outcome of :func:`verify`; ``to_json()`` gives the same as ``--json``."""

    model: str
    steps: int
    choices: Mapping[str, str]
    seed: int | None
    points: int
    stand_ins: Mapping[str, str]
    forward_max_rel: float
    rows: tuple[Row, ...]
    skipped: tuple[Skip, ...] = field(default=())
    loss: str = "E"

    @property
    def passed(self) -> bool:
        return self.forward_max_rel <= FORWARD_TOLERANCE and all(r.passed for r in self.rows)

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["choices"], d["stand_ins"] = dict(self.choices), dict(self.stand_ins)
        d["rows"] = [dict(asdict(r), passed=r.passed) for r in self.rows]
        d["passed"] = self.passed
        return d

    def text(self) -> str:
        c = self.choices
        roles = "".join(f", {role} {c[role]}" for role in ("activation", "output", "loss")
                        if role in c)
        head = f"model {self.model}, steps {self.steps}{roles}; seed {self.seed}, " \
               f"{self.points} points"
        lines = [head]
        lines += [f"stand-in {v}" for v in self.stand_ins.values()]
        ok = "PASS" if self.forward_max_rel <= FORWARD_TOLERANCE else "FAIL"
        lines.append(f"forward {self.loss}, compiled vs reference: max rel "
                     f"{self.forward_max_rel:.1e} "
                     f"(tolerance {FORWARD_TOLERANCE:.0e}) {ok}")
        lines.append(f"{'form':<7}{'param':<7}{'oracle':<14}{'max abs':>10}{'max rel':>10}"
                     f"{'tol':>8}  result")
        for r in self.rows:
            lines.append(f"{r.form:<7}{r.parameter:<7}{r.oracle:<14}{r.max_abs:>10.1e}"
                         f"{r.max_rel:>10.1e}{r.tolerance:>8.0e}  {'PASS' if r.passed else 'FAIL'}")
        lines += [f"skipped {s.oracle}: {s.reason}" for s in self.skipped]
        failed = sum(not r.passed for r in self.rows)
        lines.append("all passed" if self.passed else f"FAILED: {failed} of {len(self.rows)} rows")
        return "\n".join(lines)


def is_doc(spec: ModelSpec) -> bool:
    """True for the article's model (by content, whatever its name): its reference forward
    pass is the hand-written :func:`bptt_sym.verification.oracles.doc_loss`."""
    return spec_key(spec) == spec_key(MODELS["doc"])


def _inputs(graph: Graph) -> tuple[str, ...]:
    """The leaf names that hold one value per step (``(B, T)`` arrays)."""
    return tuple(n for n in leaf_names(graph) if n in graph.spec.inputs)


def draw_points(graph: Graph, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random values with a batch axis, scaled so that no activation saturates: parameters
    in (-1, 1), inputs N(0, 1) of shape ``(n, T)``, initial states in (-0.5, 0.5), targets
    in (0.1, 0.9) (the article's model keeps its own ranges)."""
    if n < 1:
        raise UsageError(f"--points must be at least 1, got {n}")
    t = graph.steps
    if is_doc(graph.spec):
        values = {"u": rng.uniform(-1, 1, n), "w": rng.uniform(-0.9, 0.9, n),
                  "k": rng.uniform(-0.5, 0.5, n), "v": rng.uniform(-1.5, 1.5, n),
                  "x": rng.normal(0, 1, (n, t)), "s_{-1}": rng.uniform(-0.5, 0.5, n),
                  "y": rng.uniform(0.1, 0.9, n)}
        return {k: values[k] for k in leaf_names(graph)}
    out = {}
    for name, syms in leaf_names(graph).items():
        kind = graph.nodes[syms[0]].kind if syms else "parameter"
        if kind == "input":
            out[name] = rng.normal(0, 1, (n, t))
        elif kind == "initial":
            out[name] = rng.uniform(-0.5, 0.5, n)
        elif kind == "target":
            out[name] = rng.uniform(0.1, 0.9, n)
        else:
            out[name] = rng.uniform(-1, 1, n)
    return out


def read_points(path: str | Path, graph: Graph) -> dict[str, np.ndarray]:
    """Values from a JSON file: each name a number (or a list, one per point); an input
    such as ``x`` a list of T numbers (or a list of such lists)."""
    raw = read_json(str(path), "--at file")
    per_step = _inputs(graph)
    if not isinstance(raw, dict):
        raise UsageError(f"--at file {str(path)!r} must hold one JSON object of names")
    out: dict[str, np.ndarray] = {}
    for name in leaf_names(graph):
        if name not in raw:
            raise UsageError(f"--at file {str(path)!r} has no value for {name!r}; it needs "
                             f"{', '.join(leaf_names(graph))}")
        try:
            arr = np.asarray(raw[name], dtype=float)
        except (TypeError, ValueError, OverflowError, RecursionError):
            raise UsageError(f"--at value of {name!r} is not a number or list of finite "
                             "numbers") from None
        if not np.all(np.isfinite(arr)):
            raise UsageError(f"--at value of {name!r} is not finite: "
                             f"{json.dumps(raw[name])[:60]}")
        if name in per_step:
            arr = np.atleast_2d(arr)
            if arr.ndim != 2 or arr.shape[1] != graph.steps:
                raise UsageError(f"--at value of {name!r} needs {graph.steps} numbers per "
                                 f"point (--steps {graph.steps}), got shape {list(arr.shape)}")
        elif arr.ndim > 1:
            raise UsageError(f"--at value of {name!r} must be a number or a flat list")
        out[name] = np.atleast_1d(arr)
    try:
        n = _batch(out, per_step)
    except ValueError:
        shapes = {k: list(a.shape) for k, a in out.items()}
        raise UsageError(f"--at values have different numbers of points: {shapes}") from None
    return {k: np.broadcast_to(a, (n, graph.steps) if k in per_step else (n,)).copy()
            for k, a in out.items()}


def _batch(values: Mapping[str, np.ndarray], per_step: Sequence[str]) -> int:
    """The number of points: the broadcast batch size of all values."""
    firsts = [np.asarray(v)[..., 0] if k in per_step else np.asarray(v)
              for k, v in values.items()]
    shape = np.broadcast(*firsts).shape
    return int(shape[0]) if shape else 1


def compare(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """gradcheck-style: max |a - b| and max |a - b| / max(|a|, |b|, tiny)."""
    err = np.abs(a - b)
    if not np.all(np.isfinite(err)):
        return math.inf, math.inf
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), TINY)
    return float(np.max(err)), float(np.max(err) / scale)


def verify(model: str | ModelSpec = "doc", *, steps: int = 2, activation: str = "f",
           output: str = "g", loss: str = "L", oracles: Sequence[str] | None = None,
           points: int = 64, seed: int | None = 0, at: Mapping[str, np.ndarray] | None = None,
           override: Mapping[str, sp.Expr] | None = None) -> Report:
    """Check the delta and closed forms of every parameter's gradient against oracles.

    ``model`` is a built-in model's name or any scalar :class:`~bptt_sym.model.registry.ModelSpec`.
    The oracles differentiate an independent forward pass:
    :func:`bptt_sym.verification.oracles.doc_loss` for the article's model, the model's own
    equations run by :mod:`bptt_sym.verification.interpret` for any other.

    ``override`` replaces a derived gradient (in node values) by another expression, for
    checking a hand derivation: a SymPy expression, or text in the notation of ``check``
    (read by our own grammar, never evaluated; see :func:`bptt_sym.numeric.compiled.override_expr`).
    """
    seed = check_seed(seed)
    if at is None:
        check_points(points, steps)
    graph = unroll(model, steps=steps, activation=activation, output=output, loss=loss)
    names = tuple(oracles) if oracles else tuple(ORACLES)
    for name in names:
        if name not in ORACLES:
            raise UsageError(f"unknown oracle {name!r}; choose from {', '.join(ORACLES)}")
    rng = np.random.default_rng(seed)
    used = set(graph.spec.functions.values())
    abstract = tuple(letter for letter, role in zip(("f", "g", "L"), ("activation", "output",
                                                                           "loss"))
                     if graph.choices[role] == letter and role in used)
    stand_ins = StandIns.draw(rng) if abstract else StandIns()
    values = dict(at) if at is not None else draw_points(graph, points, rng)
    n_points = _batch(values, _inputs(graph))
    with np.errstate(all="ignore"):  # a non-finite value is reported below, not warned
        return _run(graph, names, values, n_points, (activation, output, loss), stand_ins,
                    abstract, seed if at is None else None, override)


def _run(graph: Graph, names: tuple[str, ...], values: Mapping[str, np.ndarray],
         n_points: int, choice: tuple[str, str, str], stand_ins: StandIns,
         abstract: tuple[str, ...], seed: int | None,
         override: Mapping[str, sp.Expr] | None) -> Report:
    reference = _reference(graph, choice, stand_ins)
    e_ref = reference.loss(values)
    key = (graph.spec, graph.steps, *choice)
    e_sym = compiled(*key, "loss", stand_ins)(values)[graph.spec.loss]
    if not np.all(np.isfinite(e_ref)):
        raise UsageError("the loss is not finite at these values; bce and xent need an "
                         "output in (0, 1): use --output sigmoid")
    forward = compare(e_sym, e_ref)[1]
    derived = {form: (compile_gradients(graph, form=form, stand_ins=stand_ins,
                                        override=override) if override else
                      compiled(*key, form, stand_ins))(values) for form in FORMS_VERIFIED}
    rows, skipped = [], []
    for name in names:
        why = oracle_status(name, choice[0]) or _not_analytic(graph, name)
        if why:
            skipped.append(Skip(name, why))
            continue
        ref = gradient(name, values, choice, stand_ins, reference=reference)
        for form in FORMS_VERIFIED:
            for p in graph.copies:
                rows.append(Row(form, p, name, *compare(derived[form][p], ref[p]),
                                ORACLES[name].tolerance))
    used = set(graph.spec.functions.values())  # only the roles the model has a function for
    choices = {role: name for role, name in graph.choices.items() if role in used}
    return Report(graph.spec.name, graph.steps, choices, seed, n_points,
                  {**stand_ins.describe(abstract), **_many_stand_ins(graph, stand_ins)},
                  forward, tuple(rows), tuple(skipped),
                  graph.spec.loss)


def _many_stand_ins(graph: Graph, stand_ins: StandIns) -> dict[str, str]:
    """The stand-ins of the model's abstract functions of several arguments (d2l's f)."""
    found = sorted({(type(a).abstract_name, type(a).arity) for node in graph.nodes.values()
                    if node.expr is not None for a in node.expr.atoms(AbstractFunction)})
    return {name: stand_ins.describe_many(name, arity) for name, arity in found}


def _reference(graph: Graph, choice: tuple[str, str, str], stand_ins: StandIns) -> Reference:
    """The forward pass the oracles differentiate: typed by hand for the article's model,
    the model's own equations run by the interpreter for any other."""
    if is_doc(graph.spec):
        return doc_reference(choice, stand_ins)
    return interpret.reference(graph.spec, graph.steps, choice, stand_ins)


def _not_analytic(graph: Graph, oracle: str) -> str | None:
    """Why the complex step does not apply to a model that calls relu by name."""
    if oracle == "complex-step" and "relu" in interpret.calls(graph.spec):
        return "the model calls relu, which is not real-analytic, so the complex step " \
            "does not apply"
    return None
