"""Models that are not built in, given as ModelSpecs: a scalar GRU, a mean loss over the
steps, a loss on the last step only.  Every derived form is checked against SymPy's own
``diff`` of a forward pass written here by hand, at random points, to 40 digits."""

from __future__ import annotations

import random

import pytest
import sympy as sp

from bptt_sym import derive, unroll
from bptt_sym.derivation.sweep import evaluate_partials
from bptt_sym.model.registry import ModelSpec
from bptt_sym.notation import step_symbol

GRU = ModelSpec(
    name="gru-scalar", title="a scalar GRU",
    cell=("r_t = sigmoid(wr x_t + ur h_{t-1} + br)", "z_t = sigmoid(wz x_t + uz h_{t-1} + bz)",
          "n_t = tanh(wn x_t + r_t (un h_{t-1}) + bn)", "h_t = (1 - z_t) n_t + z_t h_{t-1}",
          "E_t = mse(h_t, y_t)"),
    head=("E = sum_t E_t",), parameters=("wr", "ur", "br", "wz", "uz", "bz", "wn", "un", "bn"),
    inputs=("x",), targets=("y",), states=("h",), keys=("h",), loss="E", functions={},
    initial={"h": "zero"})
MEAN = ModelSpec(
    name="rnn-mean", title="mean loss",
    cell=("h_t = tanh(wx x_t + wh h_{t-1})", "o_t = sigmoid(wo h_t)", "E_t = bce(o_t, y_t)"),
    head=("E = 1/T sum_t E_t",), parameters=("wx", "wh", "wo"), inputs=("x",),
    targets=("y",), states=("h",), keys=("h",), loss="E", functions={})
LAST = ModelSpec(
    name="rnn-last", title="many-to-one",
    cell=("h_t = tanh(wx x_t + wh h_{t-1} + b)", "o_t = wo h_t", "E_t = mse(o_t, y_t)"),
    head=("E = E_{T-1}",), parameters=("wx", "wh", "b", "wo"), inputs=("x",),
    targets=("y",), states=("h",), keys=("h",), loss="E", functions={},
    initial={"h": "zero"})


def _sig(v: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-v))


def _gru_loss(p: dict, x: list, y: list) -> sp.Expr:
    h, total = sp.S.Zero, sp.S.Zero
    for xt, yt in zip(x, y):
        r = _sig(p["wr"] * xt + p["ur"] * h + p["br"])
        z = _sig(p["wz"] * xt + p["uz"] * h + p["bz"])
        n = sp.tanh(p["wn"] * xt + r * (p["un"] * h) + p["bn"])
        h = (1 - z) * n + z * h
        total += (h - yt) ** 2 / 2
    return total


def _mean_loss(p: dict, x: list, y: list, h0: sp.Expr) -> sp.Expr:
    h, total = h0, sp.S.Zero
    for xt, yt in zip(x, y):
        h = sp.tanh(p["wx"] * xt + p["wh"] * h)
        o = _sig(p["wo"] * h)
        total += -(yt * sp.log(o) + (1 - yt) * sp.log(1 - o))
    return total / len(x)


def _last_loss(p: dict, x: list, y: list) -> sp.Expr:
    h = sp.S.Zero
    for xt in x:
        h = sp.tanh(p["wx"] * xt + p["wh"] * h + p["b"])
    return (p["wo"] * h - y[-1]) ** 2 / 2


CASES = [(GRU, lambda p, x, y, h0: _gru_loss(p, x, y)), (MEAN, _mean_loss),
         (LAST, lambda p, x, y, h0: _last_loss(p, x, y))]


def _rational(rng: random.Random) -> sp.Float:
    """A random rational, as a 60-digit float (exact trees of tanh(…) grow too fast)."""
    return sp.Float(sp.Rational(rng.randint(-40, 40), rng.randint(17, 41)), 60)


def _values(graph, rng: random.Random) -> tuple[dict, dict, list, list, sp.Expr]:
    shared = {p: sp.Symbol(p) for p in graph.spec.parameters}
    point = {sp.Symbol(p): _rational(rng) for p in graph.spec.parameters}
    leaves: dict[sp.Symbol, sp.Rational] = {}
    for sym, node in graph.nodes.items():
        if node.kind == "parameter":
            leaves[sym] = point[sp.Symbol(node.parameter)]
    x = [_rational(rng) for _ in range(graph.steps)]
    y = [sp.Float(sp.Rational(rng.randint(1, 9), 10), 60) for _ in range(graph.steps)]
    h0 = _rational(rng)
    for t in range(graph.steps):
        leaves[step_symbol("x", t)] = x[t]
        leaves[step_symbol("y", t)] = y[t]
    leaves[step_symbol("h", -1)] = h0
    return shared, point, x, y, h0, leaves


def _forward(graph, leaves: dict) -> dict:
    env = dict(leaves)
    for sym, node in graph.nodes.items():
        if node.expr is not None:
            env[sym] = node.expr.xreplace(env).evalf(60)
    return env


@pytest.mark.parametrize("spec,reference,steps", [
    (spec, reference, steps) for spec, reference in CASES for steps in (1, 2, 3)
    if not (spec is GRU and steps == 3)])  # SymPy's diff of the GRU at T = 3 takes minutes
def test_every_form_equals_sympy_diff_of_a_hand_forward(spec, reference, steps) -> None:
    rng = random.Random(steps)
    graph = unroll(spec, steps=steps)
    shared, point, x, y, h0, leaves = _values(graph, rng)
    env = _forward(graph, leaves)
    loss = reference(shared, x, y, h0)
    assert abs((env[graph.loss] - loss.xreplace(point)).evalf(60)) < sp.Float(10) ** -40
    for p in spec.parameters:
        want = sp.diff(loss, shared[p]).xreplace(point).evalf(60)
        for form in ("factored", "closed"):
            rhs = derive(graph, wrt=p, form=form).equations[-1].rhs
            got = evaluate_partials(graph, rhs).xreplace(env).evalf(60)
            assert abs(got - want) < sp.Float(10) ** -40, (p, form)


def test_a_zero_initial_state_is_no_leaf_and_drops_what_it_multiplies() -> None:
    g = unroll(GRU, steps=2)
    assert step_symbol("h", -1) not in g.nodes
    n0 = g.nodes[step_symbol("n", 0)]
    assert step_symbol("un", 0) not in n0.parents and step_symbol("r", 0) not in n0.parents
    text = derive(g, wrt="un", form="delta").text("ascii")
    assert "dn_0/dun_0" not in text and "dn_1/dun_1" in text


def test_a_mean_loss_weights_each_step_by_one_over_T() -> None:
    g = unroll(MEAN, steps=4)
    assert g.local[(g.loss, step_symbol("E", 2))] == sp.Rational(1, 4)
    text = derive(g, wrt="wo", form="delta").text("ascii")
    assert "dE/dE_3 = 1/4" in text


def test_a_last_step_loss_reaches_only_the_last_output() -> None:
    g = unroll(LAST, steps=3)
    assert g.nodes[g.loss].parents == (step_symbol("E", 2),)
    assert "dE/dwo = dE/dwo_2" in derive(g, wrt="wo", form="paths").text("ascii")


def test_a_nested_form_that_grows_exponentially_is_refused_with_one_line() -> None:
    """A GRU's paths branch at every step: its factored and closed forms grow like 4^T.
    Past the print limit the form is a PathLimitError naming --form delta; delta stays."""
    from bptt_sym.derivation.forms import MAX_PRINTED_NODES, PathLimitError, printed_nodes

    g = unroll(GRU, steps=9)
    with pytest.raises(PathLimitError, match="use --form delta"):
        derive(g, wrt="wz", form="closed")
    delta = derive(g, wrt="wz", form="delta")
    assert max(printed_nodes(e.rhs, MAX_PRINTED_NODES) for e in delta.equations) < 1000
    x, y = sp.symbols("x y")
    shared = sp.Add(x, y, evaluate=False)
    assert printed_nodes(sp.Mul(shared, shared, evaluate=False), 100) == 7
