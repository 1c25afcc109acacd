"""The matrix checker for any matrix model file, not only elman: a row-vector RNN (x_t Wx,
no softmax, no named adjoint, a zero initial state) and a many-to-one Elman (E = E_{T-1}).
What the tests claim to be true is first checked here by a NumPy computation of its own
(finite differences of a forward pass written out), so the checker is not its own judge."""

from __future__ import annotations

import random
from importlib import resources

import numpy as np
import pytest

from bptt_sym.check.decide import START_BITS, working
from bptt_sym.check.matrix import SHAPES, check_matrix
from bptt_sym.check.structure import structure
from bptt_sym.check.truth_matrix import MPoint
from bptt_sym.errors import UsageError
from bptt_sym.graph.matrix import ELMAN
from bptt_sym.graph.names import MatrixNames, default_shapes
from bptt_sym.model.load import parse_model

ROW_RNN = """
name = "rowrnn"
title = "a row-vector RNN: h_t = tanh(x_t Wx + h_{t-1} Wh + b), E = sum_t sum(h_t * y_t)"
parameters = ["Wx", "Wh", "b"]
inputs = ["x"]
targets = ["y"]
initial = { h = "zero" }
cell = [
    "a_t = x_t Wx + h_{t-1} Wh + b",
    "h_t = tanh(a_t)",
    "E_t = sum(h_t * y_t)",
]
loss = "E = sum_t E_t"

[sizes]
H = 3
D = 2

[shapes]
x = "1 x D"
Wx = "D x H"
Wh = "H x H"
b = "1 x H"
h = "1 x H"
a = "1 x H"
y = "1 x H"
"""


def _row_rnn() -> object:
    return parse_model(ROW_RNN, path="rowrnn.toml")


def _many_to_one() -> object:
    text = resources.files("bptt_sym").joinpath("builtin/elman.toml").read_text("utf-8")
    assert 'loss = "E = sum_t E_t"' in text
    text = text.replace('loss = "E = sum_t E_t"', 'loss = "E = E_{T-1}"')
    return parse_model(text.replace('name = "elman"', 'name = "elman-m2o"'), path="m2o.toml")


def _check(text: str, spec: object, **kw: object) -> list:
    return check_matrix(text, spec=spec, **{"steps": 3, **kw})


# ---------------------------------------------------------------- NumPy's own truth


def _numeric_gradient(loss, params: dict[str, np.ndarray], eps: float = 1e-6) -> dict:
    """Central differences of ``loss(params)`` by every entry of every parameter."""
    grads = {}
    for name, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            up = {k: v.copy() for k, v in params.items()}
            down = {k: v.copy() for k, v in params.items()}
            up[name][idx] += eps
            down[name][idx] -= eps
            g[idx] = (loss(up) - loss(down)) / (2 * eps)
        grads[name] = g
    return grads


def test_the_row_rnn_formulas_are_right_by_numpy() -> None:
    """dE/dh_t = y_t + dE/da_{t+1} Whᵀ, dE/da_t = dE/dh_t ⊙ (1 − h_t²), dE/dWx = Σ x_tᵀ
    dE/da_t, dE/dWh = Σ h_{t-1}ᵀ dE/da_t, dE/db = Σ dE/da_t: against finite differences."""
    rng = np.random.default_rng(0)
    steps, hidden, inputs = 4, 3, 2
    xs = rng.normal(size=(steps, 1, inputs))
    ys = rng.normal(size=(steps, 1, hidden))
    params = {"Wx": rng.normal(size=(inputs, hidden)), "Wh": rng.normal(size=(hidden, hidden)),
              "b": rng.normal(size=(1, hidden))}

    def forward(p: dict) -> tuple[float, list]:
        h, hs, total = np.zeros((1, hidden)), [], 0.0
        for t in range(steps):
            h = np.tanh(xs[t] @ p["Wx"] + h @ p["Wh"] + p["b"])
            hs.append(h)
            total += float(np.sum(h * ys[t]))
        return total, hs

    _, hs = forward(params)
    da, grads = [None] * steps, {k: np.zeros_like(v) for k, v in params.items()}
    for t in reversed(range(steps)):
        dh = ys[t] + (da[t + 1] @ params["Wh"].T if t + 1 < steps else 0)
        da[t] = dh * (1 - hs[t] ** 2)
        before = hs[t - 1] if t > 0 else np.zeros((1, hidden))
        grads["Wx"] += xs[t].T @ da[t]
        grads["Wh"] += before.T @ da[t]
        grads["b"] += da[t]
    want = _numeric_gradient(lambda p: forward(p)[0], params)
    for k in params:
        np.testing.assert_allclose(grads[k], want[k], rtol=1e-6, atol=1e-8)
    # and the wrong ones below are wrong: no term through time, Wh for Whᵀ
    assert not np.allclose(sum(xs[t].T @ (ys[t] * (1 - hs[t] ** 2)) for t in range(steps)),
                           want["Wx"])
    assert not np.allclose(ys[0] + da[1] @ params["Wh"], ys[0] + da[1] @ params["Wh"].T)


ROW_RIGHT = [
    "dE/dh_t = y_t + dE/da_{t+1} Wh^T",
    "dE/dh_{T-1} = y_{T-1}",
    "dE/da_t = dE/dh_t * (1 - h_t^2)",
    "dE/dWx = sum_t x_t^T dE/da_t",
    "dE/dWh = sum_t h_{t-1}^T dE/da_t",
    "dE/dWh = sum_{t=1}^{T-1} h_{t-1}^T dE/da_t",
    "dE/db = sum_t dE/da_t",
    "dh_t/da_t = diag(1 - h_t * h_t)",
    "dh_t/dh_{t-1} = diag(1 - h_t * h_t) Wh^T",
    "h_t = tanh(x_t Wx + h_{t-1} Wh + b)",
    "E = sum_t h_t y_t^T",
]


def test_right_row_rnn_formulas_hold() -> None:
    got = _check("\n".join(ROW_RIGHT), _row_rnn())
    assert [v.verdict for v in got] == ["holds"] * len(ROW_RIGHT), [v.text() for v in got]
    # h_{-1} is zero: the Jacobian by it is left out at t = 0, the gradient uses h_{-1} = 0
    assert "t = 0 left out" in got[8].message
    assert "t = 2 left out" in got[0].message


@pytest.mark.parametrize("formula, kind, words", [
    ("dE/dh_t = y_t + dE/da_{t+1} Wh", "transpose", "Wh should be Whᵀ"),  # square: values
    ("dE/dWx = sum_t x_t dE/da_t", "shape", "x_t (1×D) times ∂E/∂a_t (1×H)"),
    ("dE/dWh = sum_t (dE/da_t)^T h_{t-1}", "whole-transpose", "the transpose of ∂E/∂Wh"),
    ("dE/da_t = y_t * (1 - h_t^2)", "missing-term", "δ_{t+1} Whᵀ"),  # no time
    ("dE/da_t = dE/dh_t * (1 - h_t)", "local-derivative", "tanh'(a_t) = 1 − h_t ⊙ h_t"),
    ("dE/da_t = dE/dh_t", "missing-factor", "tanh'(a_t) = 1 − h_t ⊙ h_t"),
    ("dE/dWh = sum_t h_t^T dE/da_t", "step-index", "h_t should be h_{t-1}"),
])
def test_wrong_row_rnn_formulas_fail_with_a_reason(formula: str, kind: str, words: str) -> None:
    (v,) = _check(formula, _row_rnn())
    assert v.verdict == "fails", v.text()
    assert v.diagnosis and v.diagnosis[0].kind == kind, v.text()
    assert words in v.diagnosis[0].text, v.text()


def test_a_dropped_term_through_time_fails_in_the_weight_gradient() -> None:
    (v,) = _check("dE/dWh = sum_{t=1}^{T-1} h_{t-1}^T (y_t * (1 - h_t^2))", _row_rnn())
    assert v.verdict == "fails" and v.counterexample is not None
    assert set(v.counterexample) >= {"H", "D", "entry"} and "K" not in v.counterexample


@pytest.mark.parametrize("formula, words", [
    ("dE/dWh = sum_t g_t h_{t-1}", "unknown name g"),  # its adjoint is delta, by default
    ("dE/dU = 0", "unknown name U"),
    ("dE/dyhat_t = 0", "unknown name yhat"),
    ("h_0 = h_{-2}", "out of range"),
    ("dE/dh_{-1} = 0 * h_0", "is 0 in this model"),
])
def test_row_rnn_names_are_its_own(formula: str, words: str) -> None:
    (v,) = _check(formula, _row_rnn())
    assert v.verdict == "invalid", v.text()
    assert words in v.message, v.message


def test_row_rnn_known_names_are_listed() -> None:
    names = MatrixNames(_row_rnn(), 3)
    known = names.known()
    assert "the weights Wx, Wh, b" in known and "a_t, h_t, x_t, y_t" in known
    assert "h_{-1} = 0" in known and "delta_t (δ_t = ∂E/∂a_t)" in known and "f," not in known


# ---------------------------------------------------------------- the structure a diagnosis uses


def test_the_structure_comes_from_the_graph() -> None:
    row = structure(MatrixNames(_row_rnn(), 2))
    assert row.errors == [] and row.own == []
    assert row.activations == [("tanh", "tanh", "h", "a")]
    assert row.back == [("Wh", "h", "a", False)]  # h_{t-1} Wh: the weight on the right
    elman = structure(MatrixNames(ELMAN, 2, bias=True))
    assert elman.errors == [("yhat", "y", "l")]
    assert elman.back == [("W", "s", "z", True)] and elman.own[0][:2] == ("V", "s")


# ---------------------------------------------------------------- the random points


def test_a_point_draws_every_leaf_by_its_shape() -> None:
    with working(START_BITS):
        p = MPoint.draw(_row_rnn(), steps=2, dims={"H": 3, "D": 2}, bias=False,
                        activation="tanh", rng=random.Random(0))
        assert p.leaves["Wx"].shape == (2, 3) and p.leaves["x_1"].shape == (1, 2)
        assert p.leaves["y_0"].shape == (1, 3)
        assert "h_{-1}" not in p.leaves  # a zero initial state is no leaf
        assert any(x < 0 for x in p.leaves["y_0"].ravel())  # not a distribution: no xent
        assert p.values["E"].shape == (1, 1)
        q = MPoint.draw(ELMAN, steps=2, dims=SHAPES[0], bias=False, activation="tanh",
                        rng=random.Random(0))
        assert sum(q.leaves["y_0"].ravel()) == 1  # a cross-entropy's target: a distribution


def test_default_shapes() -> None:
    assert default_shapes(ELMAN) == SHAPES == (
        {"H": 3, "D": 2, "K": 4}, {"H": 2, "D": 4, "K": 3}, {"H": 4, "D": 3, "K": 2})
    assert default_shapes(_row_rnn()) == ({"H": 3, "D": 2}, {"H": 2, "D": 4},
                                          {"H": 4, "D": 3})
    assert default_shapes(ELMAN, {"H": 5}) == ({"H": 5, "D": 2, "K": 4},)
    assert default_shapes(ELMAN, {"H": None, "D": None, "K": None}) == SHAPES
    with pytest.raises(UsageError, match="no size Q"):
        default_shapes(_row_rnn(), {"Q": 2})


def test_given_sizes_are_the_only_sizes() -> None:
    (v,) = check_matrix("dE/db = sum_t dE/da_t", spec=_row_rnn(), steps=2,
                        shapes=default_shapes(_row_rnn(), {"H": 5}))
    assert v.verdict == "holds" and "at 1 size ×" in v.message


# ---------------------------------------------------------------- many-to-one: E = E_{T-1}


def test_the_many_to_one_formulas_are_right_by_numpy() -> None:
    """dE/dV = (ŷ_{T-1} − y_{T-1}) s_{T-1}ᵀ, and dE/dW = Σ δ_t s_{t-1}ᵀ with δ_{T-1} =
    Vᵀ(ŷ_{T-1} − y_{T-1}) ⊙ (1 − s²), δ_t = Wᵀ δ_{t+1} ⊙ (1 − s_t²) before."""
    rng = np.random.default_rng(1)
    steps, hidden, inputs, classes = 3, 3, 2, 4
    xs = rng.normal(size=(steps, inputs, 1))
    y = rng.random((classes, 1))
    y /= y.sum()
    s_init = rng.normal(size=(hidden, 1))
    params = {"U": rng.normal(size=(hidden, inputs)), "W": rng.normal(size=(hidden, hidden)),
              "V": rng.normal(size=(classes, hidden))}

    def forward(p: dict) -> tuple[float, list, np.ndarray]:
        s, ss = s_init, [s_init]
        for t in range(steps):
            s = np.tanh(p["U"] @ xs[t] + p["W"] @ s)
            ss.append(s)
        e = np.exp(p["V"] @ s)
        yhat = e / e.sum()
        return float(-(y * np.log(yhat)).sum()), ss, yhat

    _, ss, yhat = forward(params)
    want = _numeric_gradient(lambda p: forward(p)[0], params)
    np.testing.assert_allclose((yhat - y) @ ss[-1].T, want["V"], rtol=1e-6, atol=1e-8)
    delta = params["V"].T @ (yhat - y) * (1 - ss[-1] ** 2)
    grad_w = np.zeros_like(params["W"])
    for t in reversed(range(steps)):
        grad_w += delta @ ss[t].T  # ss[t] is s_{t-1}
        delta = params["W"].T @ delta * (1 - ss[t] ** 2)
    np.testing.assert_allclose(grad_w, want["W"], rtol=1e-6, atol=1e-8)


M2O_RIGHT = [
    "dE/dV = (yhat_{T-1} - y_{T-1}) s_{T-1}^T",
    "delta_{T-1} = (V^T (yhat_{T-1} - y_{T-1})) * (1 - s_{T-1}^2)",
    "delta_t = (W^T delta_{t+1}) * (1 - s_t^2), t < T-1",
    "dE/dW = sum_t delta_t s_{t-1}^T",
    "dE/dl_t = 0 * l_t, t < T-1",
]


def test_right_many_to_one_formulas_hold() -> None:
    got = _check("\n".join(M2O_RIGHT), _many_to_one())
    assert [v.verdict for v in got] == ["holds"] * len(M2O_RIGHT), [v.text() for v in got]


@pytest.mark.parametrize("formula", [
    "dE/dV = sum_t (yhat_t - y_t) s_t^T",  # every step's loss: many-to-many
    "delta_t = (V^T (yhat_t - y_t) + W^T delta_{t+1}) * (1 - s_t^2)",
])
def test_many_to_many_formulas_fail_for_many_to_one(formula: str) -> None:
    (v,) = _check(formula, _many_to_one())
    assert v.verdict == "fails", v.text()
    # and they hold for elman itself
    assert check_matrix(formula, steps=3)[0].verdict == "holds"


def test_a_wrong_many_to_one_formula_is_diagnosed() -> None:
    (v,) = _check("dE/dW = sum_t delta_t s_t^T", _many_to_one())
    assert v.verdict == "fails" and v.diagnosis[0].kind == "step-index", v.text()


# ---------------------------------------------------------------- gates: functions of no node

GATED = """
name = "gated"
parameters = ["Wg", "Ug", "Wc"]
inputs = ["x"]
targets = ["y"]
initial = { s = "given" }
cell = [
    "a_t = Wg x_t + Ug s_{t-1}",
    "g_t = sigmoid(a_t)",
    "c_t = tanh(Wc x_t)",
    "s_t = g_t * c_t + s_{t-1}",
    "E_t = sum(s_t * y_t)",
]
loss = "E = sum_t E_t"
[sizes]
H = 3
D = 2
[shapes]
x = "D x 1"
y = "H x 1"
Wg = "H x D"
Ug = "H x H"
Wc = "H x D"
a = "H x 1"
g = "H x 1"
c = "H x 1"
s = "H x 1"
"""


@pytest.mark.parametrize("formula, kind, words", [
    ("dE/dWc = sum_t (dE/ds_t * g_t * (1 - c_t^2)) x_t^T", None, ""),
    ("dE/da_t = dE/dg_t * g_t * (1 - g_t)", None, ""),
    ("dE/ds_t = y_t + dE/ds_{t+1} + Ug^T dE/da_{t+1}", None, ""),
    ("dE/dWc = sum_t (dE/ds_t * g_t) x_t^T", "missing-factor", "tanh'(…) = 1 − c_t ⊙ c_t"),
    ("dE/da_t = dE/dg_t * g_t", "local-derivative", "sigmoid'(a_t) = g_t ⊙ (1 − g_t)"),
    ("dE/ds_t = y_t + dE/ds_{t+1}", "missing-term", "Ugᵀ ∂E/∂a_{t+1}"),
])
def test_a_gated_cell(formula: str, kind: str | None, words: str) -> None:
    (v,) = _check(formula, parse_model(GATED, path="gated.toml"))
    if kind is None:
        assert v.verdict == "holds", v.text()
        return
    assert v.verdict == "fails" and v.diagnosis and v.diagnosis[0].kind == kind, v.text()
    assert words in v.diagnosis[0].text, v.text()


def test_a_named_adjoint_of_a_model_file() -> None:
    """adjoints = { a = "g" }: g_t is ∂E/∂a_t (g_T = 0), and the term through time that a
    weight's gradient drops is named with it."""
    text = ROW_RNN.replace('loss = "E = sum_t E_t"',
                           'loss = "E = sum_t E_t"\nadjoints = { a = "g" }')
    spec = parse_model(text, path="rowrnn.toml")
    got = _check("g_t = (y_t + g_{t+1} Wh^T) * (1 - h_t^2)\n"
                 "dE/dWh = sum_t h_{t-1}^T g_t\n"
                 "g_3 = 0 * g_0\n"
                 "dE/dWh = sum_t h_{t-1}^T (y_t * (1 - h_t^2))\n"
                 "dg_t/dWh = 0", spec)
    assert [v.verdict for v in got] == ["holds"] * 3 + ["fails", "invalid"], \
        [v.text() for v in got]
    assert got[3].diagnosis[0].kind == "missing-term"
    assert "g_{t+1} Whᵀ" in got[3].diagnosis[0].text
    assert "g_t stands for ∂E/∂a_t" in got[4].message
