"""Random scalar cells, written as model specs: every equation that `derive` prints for
them, in every form, must hold when `check` reads it back; and the closed form must equal
SymPy's own ``diff`` of the composed loss (an independent reference) at a random point.

The cells mix the rule table's functions, products of states with gates, a second state,
zero and given initial states, and the three loss forms.  Fixed seeds: the same models at
every run."""

from __future__ import annotations

import random

import pytest
import sympy as sp

from bptt_sym import derive, unroll
from bptt_sym.check.checker import check_graph
from bptt_sym.derivation.sweep import evaluate_partials
from bptt_sym.model.registry import ModelSpec
from bptt_sym.notation import step_symbol

FUNCTIONS = ("tanh", "sigmoid")
LOSSES = ("E = sum_t E_t", "E = 1/T sum_t E_t", "E = E_{T-1}")


def _term(rng: random.Random, names: list[str]) -> str:
    """A random product of one to three of ``names``, sometimes through a function."""
    factors = rng.sample(names, rng.randint(1, min(3, len(names))))
    body = " ".join(factors)
    if rng.random() < 0.3:
        body = f"{rng.choice(FUNCTIONS)}({body})"
    return body


def random_spec(seed: int) -> ModelSpec:
    rng = random.Random(seed)
    states = ["h"] if rng.random() < 0.6 else ["h", "c"]
    params = ["w" + "abcd"[i] for i in range(rng.randint(2, 4))]
    cell, used = [], set()
    for i, s in enumerate(states):
        gate = "g" + "ab"[i]
        leaves = ["x_t", *params, *(f"{q}_{{t-1}}" for q in states)]
        terms = [_term(rng, leaves) for _ in range(rng.randint(1, 3))]
        cell.append(f"{gate}_t = {rng.choice(FUNCTIONS)}({' + '.join(terms)})")
        mix = rng.choice([f"{gate}_t {s}_{{t-1}} + (1 - {gate}_t) x_t",
                          f"{gate}_t + {s}_{{t-1}}", f"tanh({gate}_t {s}_{{t-1}} + x_t)"])
        cell.append(f"{s}_t = {mix}")
    cell.append("o_t = sigmoid(" + " + ".join(f"{s}_t" for s in states) + " " + params[0] + ")")
    cell.append("E_t = bce(o_t, y_t)")
    text = " ".join(cell)
    for p in params:
        if p in text.split() or f" {p} " in f" {text} " or f"{p})" in text or f"{p} " in text:
            used.add(p)
    params = [p for p in params if p in used]
    initial = {s: rng.choice(["zero", "given"]) for s in states}
    return ModelSpec(name=f"random{seed}", title="a random cell", cell=tuple(cell),
                     head=(rng.choice(LOSSES),), parameters=tuple(params), inputs=("x",),
                     targets=("y",), states=tuple(states), keys=tuple(states), loss="E",
                     functions={}, initial=initial)


SEEDS = range(40)


@pytest.mark.parametrize("seed,steps", [(s, 2) for s in SEEDS] + [(s, 3) for s in range(8)])
def test_every_printed_line_holds_when_read_back(seed: int, steps: int) -> None:
    spec = random_spec(seed)
    graph = unroll(spec, steps=steps)
    lines = []
    for p in spec.parameters:
        for form in ("paths", "factored", "delta", "closed"):
            text = derive(graph, wrt=p, form=form).text("ascii")
            lines += [line for line in text.splitlines() if line and not line.startswith("#")]
    verdicts = check_graph("\n".join(lines), graph, seed=seed)
    bad = [(v.source, v.verdict, v.message) for v in verdicts if v.verdict != "holds"]
    assert not bad, (spec.cell, spec.head, bad[:3])


def _composed(spec: ModelSpec, graph, values: dict) -> tuple[dict, sp.Expr]:
    """The loss as one SymPy expression in the shared parameters (a hand-free reference:
    node definitions substituted into each other, copies renamed to the shared name)."""
    env: dict = {}
    for sym, node in graph.nodes.items():
        if node.kind == "parameter":
            env[sym] = sp.Symbol(node.parameter)
        elif node.expr is None:
            env[sym] = values[sym]
        else:
            env[sym] = node.expr.xreplace(env)
    return env, env[graph.loss]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_closed_form_is_sympy_diff_of_the_composed_loss(seed: int) -> None:
    spec = random_spec(seed)
    graph = unroll(spec, steps=2)
    rng = random.Random(1000 + seed)
    leaves = {sym: sp.Float(rng.uniform(-1, 1), 50) for sym, node in graph.nodes.items()
              if node.expr is None and node.kind != "parameter"}
    for sym, node in graph.nodes.items():
        if node.kind == "target":
            leaves[sym] = sp.Float(rng.uniform(0.1, 0.9), 50)
    point = {sp.Symbol(p): sp.Float(rng.uniform(-1, 1), 50) for p in spec.parameters}
    _, loss = _composed(spec, graph, leaves)
    values = dict(leaves)
    for sym, node in graph.nodes.items():
        if node.kind == "parameter":
            values[sym] = point[sp.Symbol(node.parameter)]
        elif node.expr is not None:
            values[sym] = node.expr.xreplace(values).evalf(50)
    for p in spec.parameters:
        want = sp.diff(loss, sp.Symbol(p)).xreplace(point).evalf(50)
        got = evaluate_partials(graph, derive(graph, wrt=p, form="closed").equations[-1].rhs)
        got = got.xreplace(values).evalf(50)
        assert abs(got - want) < sp.Float(10) ** -35, (spec.cell, p, got, want)
    assert step_symbol("E", 0) in graph.nodes
