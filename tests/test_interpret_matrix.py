"""interpret on matrix model files: the equations of builtin/elman.toml run with NumPy's
semantics give the loss and (by autograd) the gradients of the hand-written Elman forward of
``elman_oracles``; a row-vector RNN and a many-to-one Elman against loops typed here; and
verify_matrix of a model that is not built in, against its interpreted equations."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import tomllib

from bptt_sym import BpttError, UsageError
from bptt_sym.model.spec import ModelSpec
from bptt_sym.verification.interpret import evaluate, function_table, loss, matrix_reference
from bptt_sym.verification.matrix_oracles import (
    elman_gradient,
    elman_loss,
    matrix_gradient,
    matrix_loss,
    matrix_oracle_status,
    max_rel,
)

ROOT = Path(__file__).resolve().parents[1]
EXACT = 1e-12


def spec_from_toml(text: str, path: str = "") -> ModelSpec:
    """A matrix model file read by tomllib here, not by the package's reader."""
    d = tomllib.loads(text)
    initial = d.get("initial", {})
    shapes = {k: tuple(c.strip() for c in v.split("x")) for k, v in d.get("shapes", {}).items()}
    return ModelSpec(
        name=d["name"], title=d.get("title", ""), cell=tuple(d["cell"]),
        head=(*d.get("head", ()), d["loss"]), parameters=tuple(d["parameters"]),
        inputs=tuple(d.get("inputs", ())), targets=tuple(d.get("targets", ())),
        states=tuple(initial), keys=tuple(initial), loss=d["loss"].split("=")[0].strip(),
        functions=dict(d.get("functions", {})),
        initial={k: v for k, v in initial.items() if v != "given"}, path=path,
        shapes=shapes, sizes=dict(d.get("sizes", {})), optional=tuple(d.get("optional", ())))


ELMAN = spec_from_toml((ROOT / "bptt_sym" / "builtin" / "elman.toml").read_text("utf-8"))
LAST = dataclasses.replace(ELMAN, name="elman-last", head=("E = E_{T-1}",))
ROWS_TEXT = '''
name = "rows"
parameters = ["Wx", "Wh", "b"]
optional = ["b"]
inputs = ["x"]
targets = ["y"]
initial = { h = "zero" }
cell = ["a_t = x_t Wx + h_{t-1} Wh + b", "h_t = tanh(a_t)", "E_t = sum(h_t * y_t)"]
loss = "E = sum_t E_t"
[sizes]
D = 3
H = 4
[shapes]
x = "1 x D"
Wx = "D x H"
Wh = "H x H"
b = "1 x H"
h = "1 x H"
a = "1 x H"
y = "1 x H"
'''
ROWS = spec_from_toml(ROWS_TEXT)

SIZES = [(1, 1, 2), (3, 2, 4), (5, 4, 3)]  # (H, D, K)
ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity", "f")


def elman_values(hidden: int, inputs: int, classes: int, steps: int, seed: int, *,
                 bias: bool, batch: int = 3, one_hot: bool = True) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, hidden, inputs, classes, steps])
    vals = {"U": rng.normal(0, 1, (hidden, inputs)),
            "W": rng.normal(0, 0.8 / np.sqrt(hidden), (hidden, hidden)),
            "V": rng.normal(0, 1, (classes, hidden)),
            "s_{-1}": rng.normal(0, 0.5, (batch, hidden, 1))}
    if bias:
        vals["b"], vals["c"] = rng.normal(0, 0.3, (hidden, 1)), rng.normal(0, 0.3, (classes, 1))
    for t in range(steps):
        vals[f"x_{t}"] = rng.normal(0, 1, (batch, inputs, 1))
        y = np.eye(classes)[rng.integers(0, classes, batch)] if one_hot else \
            rng.dirichlet(np.ones(classes), batch)
        vals[f"y_{t}"] = y[..., None]
    return vals


def interpreted_loss(spec: ModelSpec, values: dict, steps: int, activation: str = "tanh",
                     xp=np):  # noqa: ANN001, ANN201
    return loss(spec, values, steps=steps, xp=xp,
                functions=function_table(spec, xp, (activation, "g", "L")))


# ---- elman.toml against the hand-written Elman forward --------------------------------------

@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "H{}-D{}-K{}".format(*s))
def test_elman_file_loss_is_the_hand_written_forward(size: tuple, activation: str,
                                                     bias: bool) -> None:
    for seed in range(3):
        steps = 1 + seed * 2
        vals = elman_values(*size, steps, seed, bias=bias, one_hot=seed != 1)
        ours = interpreted_loss(ELMAN, vals, steps, activation)
        theirs = elman_loss(vals, steps=steps, activation=activation, bias=bias)
        assert ours.shape == theirs.shape == (3,)
        np.testing.assert_allclose(ours, theirs, rtol=EXACT, atol=0)


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "H{}-D{}-K{}".format(*s))
def test_elman_file_gradients_are_the_hand_written_ones(size: tuple, activation: str,
                                                        bias: bool) -> None:
    for seed in range(2):
        steps = 2 + 2 * seed
        vals = elman_values(*size, steps, seed, bias=bias)
        ours = matrix_gradient("autograd", ELMAN, vals, steps=steps, activation=activation,
                               bias=bias)
        theirs = elman_gradient("autograd", vals, steps=steps, activation=activation, bias=bias)
        assert sorted(ours) == sorted(theirs)
        for p in ours:
            assert ours[p].shape == vals[p].shape
        assert max_rel(ours, theirs) <= EXACT


def test_without_bias_the_biases_are_zero_and_absent() -> None:
    """Without --bias the optional b, c are left out: the loss is the model without them
    whatever values b and c hold, and they get no gradient."""
    vals = elman_values(3, 2, 4, 3, 0, bias=True)
    without = interpreted_loss(ELMAN, {k: v for k, v in vals.items() if k not in "bc"}, 3)
    np.testing.assert_allclose(without, elman_loss(vals, steps=3), rtol=EXACT, atol=0)
    zero = dict(vals, b=np.zeros_like(vals["b"]), c=np.zeros_like(vals["c"]))
    np.testing.assert_allclose(interpreted_loss(ELMAN, zero, 3), without, rtol=EXACT, atol=0)
    assert matrix_loss(ELMAN, vals, steps=3) == pytest.approx(without, rel=EXACT)
    assert sorted(matrix_gradient("autograd", ELMAN, vals, steps=3)) == ["U", "V", "W"]
    assert not np.allclose(matrix_loss(ELMAN, vals, steps=3, bias=True), without)


def test_a_zero_initial_state_is_zeros() -> None:
    zero = dataclasses.replace(ELMAN, initial={"s": "zero"})
    vals = elman_values(3, 2, 3, 3, 1, bias=False)
    given = dict(vals, **{"s_{-1}": np.zeros_like(vals["s_{-1}"])})
    del vals["s_{-1}"]
    np.testing.assert_allclose(interpreted_loss(zero, vals, 3),
                               elman_loss(given, steps=3), rtol=EXACT, atol=0)


def test_inputs_with_a_step_axis_and_nodes() -> None:
    """x as one (B, T, D, 1) array reads as x_0 … x_{T-1}; every node has its shape."""
    vals = elman_values(3, 2, 4, 3, 2, bias=True)
    stacked = {k: v for k, v in vals.items() if not k.startswith("x_")}
    stacked["x"] = np.stack([vals[f"x_{t}"] for t in range(3)], axis=1)
    np.testing.assert_array_equal(interpreted_loss(ELMAN, stacked, 3),
                                  interpreted_loss(ELMAN, vals, 3))
    nodes = evaluate(ELMAN, vals, steps=3, functions=function_table(ELMAN, np, ("tanh",) * 3))
    assert nodes[("z", 2)].shape == (3, 3, 1) and nodes[("yhat", 0)].shape == (3, 4, 1)
    np.testing.assert_allclose(nodes[("yhat", 1)].sum(axis=1), 1.0, rtol=1e-14)
    assert nodes[("E", 0)].shape == (3, 1, 1) and nodes[("E", None)].shape == (3, 1, 1)


def test_complex_step_on_the_interpreter() -> None:
    """The interpreter runs on complex arrays: Im E(θ + ih)/h is autograd's gradient."""
    vals = elman_values(3, 2, 3, 4, 0, bias=True)
    ref = matrix_reference(ELMAN, 4, "tanh", bias=True)
    theta = {p: vals[p] for p in ref.parameters}
    data = {k: v for k, v in vals.items() if k not in theta}
    h = 1e-30
    cs = {}
    for p in theta:
        grad = np.empty_like(theta[p])
        for i in np.ndindex(theta[p].shape):
            moved = {q: v.astype(complex) for q, v in theta.items()}
            moved[p][i] += 1j * h
            grad[i] = np.imag(np.sum(ref.forward(np, moved, data))) / h
        cs[p] = grad
    assert max_rel(cs, elman_gradient("autograd", vals, steps=4, bias=True)) <= EXACT


def by_autograd(forward, names: list[str], vals: dict, steps: int,  # noqa: ANN001
                bias: bool) -> dict:
    """autograd of a forward typed in this file, in the weights ``names``."""
    def total(*w):  # noqa: ANN002, ANN202
        return anp.sum(forward(anp, dict(zip(names, w)), vals, steps, bias))
    grads = autograd.grad(total, argnum=tuple(range(len(names))))(*(vals[p] for p in names))
    return dict(zip(names, grads))


# ---- a row-vector RNN against a loop typed here ----------------------------------------------

def row_values(d: int, h: int, steps: int, seed: int, *, batch: int = 3) -> dict:
    rng = np.random.default_rng([seed, d, h, steps])
    vals = {"Wx": rng.normal(0, 1 / np.sqrt(d), (d, h)),
            "Wh": rng.normal(0, 0.8 / np.sqrt(h), (h, h)), "b": rng.normal(0, 0.3, (1, h))}
    for t in range(steps):
        vals[f"x_{t}"] = rng.normal(0, 1, (batch, 1, d))
        vals[f"y_{t}"] = rng.normal(0, 1, (batch, 1, h))
    return vals


def rows_by_hand(xp, w: dict, data: dict, steps: int, bias: bool):  # noqa: ANN001, ANN201
    """a_t = x_t Wx + h_{t-1} Wh (+ b) with rows x_t (B, D), h_t = tanh(a_t), h_{-1} = 0,
    E = Σ_t Σ_j h_t ⊙ y_t."""
    hidden = w["Wh"].shape[0]
    state = np.zeros((data["x_0"].shape[0], hidden))
    total = 0.0
    for t in range(steps):
        a = data[f"x_{t}"][:, 0, :] @ w["Wx"] + state @ w["Wh"]
        if bias:
            a = a + w["b"][0]
        state = xp.tanh(a)
        total = total + xp.sum(state * data[f"y_{t}"][:, 0, :], axis=1)
    return total


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("size", [(1, 1), (2, 3), (4, 2)], ids=lambda s: "D{}-H{}".format(*s))
def test_row_vector_model_against_a_loop(size: tuple, bias: bool) -> None:
    d, h = size
    for seed, steps in enumerate((1, 3, 5)):
        vals = row_values(d, h, steps, seed)
        given = vals if bias else {k: v for k, v in vals.items() if k != "b"}
        ours = interpreted_loss(ROWS, given, steps)
        np.testing.assert_allclose(ours, rows_by_hand(np, vals, vals, steps, bias),
                                   rtol=EXACT, atol=0)
        names = ["Wx", "Wh", "b"] if bias else ["Wx", "Wh"]
        hand = by_autograd(rows_by_hand, names, vals, steps, bias)
        ad = matrix_gradient("autograd", ROWS, vals, steps=steps, bias=bias)
        fd = matrix_gradient("fd", ROWS, vals, steps=steps, bias=bias)
        assert sorted(ad) == sorted(hand)
        assert max_rel(ad, hand) <= EXACT and max_rel(fd, hand) <= 1e-6


# ---- a many-to-one Elman: E = E_{T-1} --------------------------------------------------------

def last_by_hand(xp, w: dict, data: dict, steps: int, bias: bool):  # noqa: ANN001, ANN201
    """s_t = tanh(U x_t + W s_{t-1} (+ b)) with batches of rows; E = −y_{T-1}ᵀ log ŷ_{T-1}."""
    s = data["s_{-1}"][..., 0]
    for t in range(steps):
        z = data[f"x_{t}"][..., 0] @ w["U"].T + s @ w["W"].T
        s = xp.tanh(z + w["b"][:, 0] if bias else z)
    logits = s @ w["V"].T + (w["c"][:, 0] if bias else 0.0)
    log_yhat = logits - xp.log(xp.sum(xp.exp(logits), axis=1, keepdims=True))
    return -xp.sum(data[f"y_{steps - 1}"][..., 0] * log_yhat, axis=1)


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "H{}-D{}-K{}".format(*s))
def test_many_to_one_against_a_loop(size: tuple, bias: bool) -> None:
    for seed, steps in enumerate((1, 2, 5)):
        vals = elman_values(*size, steps, seed, bias=bias)
        np.testing.assert_allclose(interpreted_loss(LAST, vals, steps),
                                   last_by_hand(np, vals, vals, steps, bias), rtol=EXACT, atol=0)
        names = ["U", "W", "V", "b", "c"] if bias else ["U", "W", "V"]
        ad = matrix_gradient("autograd", LAST, vals, steps=steps, bias=bias)
        assert max_rel(ad, by_autograd(last_by_hand, names, vals, steps, bias)) <= EXACT


# ---- what the interpreter refuses ------------------------------------------------------------

def test_errors() -> None:
    vals = elman_values(3, 2, 3, 2, 0, bias=False)
    matrix_out = dataclasses.replace(ELMAN, head=("E = s_{T-1}",))
    with pytest.raises(BpttError, match="3 x 1, not a scalar; sum it"):
        interpreted_loss(matrix_out, vals, 2)
    bad = dict(vals, W=np.zeros((2, 2)))
    with pytest.raises(BpttError, match="H = 2 but|H = 3 but"):
        interpreted_loss(ELMAN, bad, 2)
    with pytest.raises(BpttError, match="no array form"):
        function_table(ELMAN, np, ("softplus", "g", "L"))
    with pytest.raises(UsageError, match="lack U"):
        matrix_gradient("autograd", ELMAN, {k: v for k, v in vals.items() if k != "U"}, steps=2)
    why = matrix_oracle_status("torch", ROWS, "tanh")
    assert why is not None and "[torch] table" in why and "rows" in why
    assert "unknown oracle" in matrix_oracle_status("jax", ROWS, "tanh")
    with pytest.raises(UsageError, match=r"\[torch\] table"):
        matrix_gradient("torch", ROWS, row_values(2, 2, 2, 0), steps=2)


# ---- verify of matrix models -----------------------------------------------------------------

def _file_spec(text: str, name: str) -> ModelSpec:
    from bptt_sym.model.load import parse_model

    return parse_model(text, path=f"{name}.toml")


def test_verify_matrix_of_the_builtin_elman_is_verify_elman() -> None:
    from bptt_sym.model.registry import MODELS
    from bptt_sym.verification.matrix import verify_elman, verify_matrix

    for bias, sizes in ((False, None), (True, {"H": 3, "D": 2, "K": 4})):
        dims = sizes or {"H": 4, "D": 3, "K": 3}
        ours = verify_matrix(MODELS["elman"], steps=3, sizes=sizes, bias=bias,
                             oracles=("autograd", "fd"), points=3, seed=2)
        theirs = verify_elman(steps=3, hidden=dims["H"], inputs=dims["D"], classes=dims["K"],
                              bias=bias, oracles=("autograd", "fd"), points=3, seed=2)
        assert ours == theirs and ours.passed


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "f"])
def test_verify_matrix_many_to_one(bias: bool, activation: str) -> None:
    from bptt_sym.verification.matrix import verify_matrix

    r = verify_matrix(LAST, steps=4, sizes={"H": 3, "D": 2, "K": 4}, bias=bias,
                      activation=activation, points=3, seed=1)
    assert r.passed, r.text()
    assert r.model == "elman-last" and r.loss == "E"
    want = ["U", "W", "V", "b", "c"] if bias else ["U", "W", "V"]
    assert [row.parameter for row in r.rows] == want * 2
    assert {row.oracle for row in r.rows} == {"autograd", "fd"}
    assert r.choices["sizes"].startswith("H 3, D 2, K 4")


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
def test_verify_matrix_row_vector_model(bias: bool) -> None:
    from bptt_sym.verification.matrix import verify_matrix

    spec = _file_spec(ROWS_TEXT, "rows")
    r = verify_matrix(spec, steps=5, sizes={"D": 2, "H": 3}, bias=bias, points=4)
    assert r.passed, r.text()
    want = ["Wx", "Wh", "b"] if bias else ["Wx", "Wh"]
    assert [row.parameter for row in r.rows] == want * 2


def test_verify_matrix_tells_a_wrong_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    from bptt_sym.verification import matrix as elman_verify

    real = elman_verify.matrix_program

    def transposed(graph):  # noqa: ANN001, ANN202 - ∂E/∂W written as its transpose
        program = real(graph)
        return lambda values: {**program(values), "W": program(values)["W"].T}

    monkeypatch.setattr(elman_verify, "matrix_program", transposed)
    r = elman_verify.verify_matrix(LAST, steps=3, points=3)
    assert not r.passed
    assert {row.parameter for row in r.rows if not row.passed} == {"W"}


def test_verify_matrix_refuses_torch_and_unknown_oracles() -> None:
    from bptt_sym.verification.matrix import verify_matrix

    with pytest.raises(UsageError) as info:
        verify_matrix(LAST, steps=2, oracles=("autograd", "torch"))
    assert str(info.value).startswith("--oracle torch: torch needs a [torch] table")
    assert "\n" not in str(info.value) and "elman-last" in str(info.value)
    with pytest.raises(UsageError, match="unknown oracle 'jax' for elman-last; choose from "
                                         "autograd, fd"):
        verify_matrix(LAST, steps=2, oracles=("jax",))
    with pytest.raises(UsageError, match="--points must be at least 1"):
        verify_matrix(LAST, steps=2, points=0)


def test_verify_matrix_at_given_values() -> None:
    from bptt_sym.verification.matrix import verify_matrix

    vals = elman_values(3, 2, 4, 3, 5, bias=True, batch=2)
    r = verify_matrix(LAST, steps=3, sizes={"H": 3, "D": 2, "K": 4}, bias=True, at=vals)
    assert r.passed and r.seed is None and r.points == 2


def test_random_values_by_shape() -> None:
    """No names of elman's: every leaf drawn by its shape; xent's targets one-hot or a
    distribution, other targets anything."""
    from bptt_sym.graph.matrix import unroll_vector
    from bptt_sym.numeric.matrix import random_values

    rows = unroll_vector(_file_spec(ROWS_TEXT, "rows"), steps=3, sizes={"D": 2, "H": 5},
                         bias=True)
    v = random_values(rows, np.random.default_rng(0), batch=4)
    assert {k: a.shape for k, a in v.items()} == {
        "Wx": (2, 5), "Wh": (5, 5), "b": (1, 5), **{f"x_{t}": (4, 1, 2) for t in range(3)},
        **{f"y_{t}": (4, 1, 5) for t in range(3)}}
    assert np.any(v["y_0"] < 0)  # a target of sum(h * y), not of xent
    given = dataclasses.replace(LAST, initial={})  # s_{-1} given: drawn, not zero
    last = unroll_vector(given, steps=2, sizes={"H": 3, "D": 2, "K": 4})
    for one_hot in (True, False):
        v = random_values(last, np.random.default_rng(1), batch=6, one_hot=one_hot)
        assert v["s_{-1}"].shape == (6, 3, 1) and np.any(v["s_{-1}"] != 0)
        for t in range(2):
            y = v[f"y_{t}"]
            assert y.shape == (6, 4, 1) and np.all(y >= 0)
            np.testing.assert_allclose(y.sum(axis=(1, 2)), 1.0, rtol=1e-12)
            assert np.all(np.isin(y, (0.0, 1.0))) == one_hot


def test_the_batched_program_runs_a_hand_derivation() -> None:
    """mnumeric's batch-first evaluator on the row model, with the δ recursion typed here
    as SymPy (δ_t = (y_t + δ_{t+1} Whᵀ) ⊙ (1 − h_t ⊙ h_t), ∂E/∂Wx = Σ_t x_tᵀ δ_t, …):
    the gradients of the interpreted equations, summed over the batch."""
    import sympy as sp

    from bptt_sym.graph.matrix import unroll_vector
    from bptt_sym.numeric.matrix import MatrixProgram, backend, forward_loss

    steps, d, h = 3, 2, 3
    graph = unroll_vector(_file_spec(ROWS_TEXT, "rows"), steps=steps, sizes={"D": d, "H": h},
                          bias=True)
    assert backend(graph).__dict__.keys() >= {"matmul", "entrysum"}
    M = sp.MatrixSymbol  # noqa: N806
    wh, one = M("Wh", h, h), sp.OneMatrix(1, h)
    deltas = []
    for t in reversed(range(steps)):
        ht, yt = M(f"h_{t}", 1, h), M(f"y_{t}", 1, h)
        back = yt if t == steps - 1 else sp.MatAdd(yt, sp.MatMul(M(f"delta_{t + 1}", 1, h),
                                                                  wh.T))
        deltas.append((f"delta_{t}", sp.HadamardProduct(back, one - sp.HadamardProduct(ht, ht))))
    ds = [M(f"delta_{t}", 1, h) for t in range(steps)]
    grads = (("Wx", sp.MatAdd(*(sp.MatMul(M(f"x_{t}", 1, d).T, ds[t]) for t in range(steps)))),
             ("Wh", sp.MatAdd(*(sp.MatMul(M(f"h_{t - 1}", 1, h).T, ds[t])
                                for t in range(1, steps)))),
             ("b", sp.MatAdd(*ds)))
    program = MatrixProgram(graph, tuple(deltas), grads)
    vals = row_values(d, h, steps, 7, batch=5)
    np.testing.assert_allclose(forward_loss(graph, vals),
                               interpreted_loss(ROWS, vals, steps), rtol=EXACT, atol=0)
    ours = program(vals)
    assert {p: g.shape for p, g in ours.items()} == {"Wx": (d, h), "Wh": (h, h), "b": (1, h)}
    assert max_rel(ours, matrix_gradient("autograd", ROWS, vals, steps=steps, bias=True)) \
        <= EXACT


# ---- --at FILE for a matrix model file -------------------------------------------------------

def test_points_of_a_row_vector_model(tmp_path: Path) -> None:
    import json

    from bptt_sym.graph.matrix import unroll_vector
    from bptt_sym.verification.matrix import verify_matrix
    from bptt_sym.verification.points import read_elman_points

    spec = _file_spec(ROWS_TEXT, "rows")
    graph = unroll_vector(spec, steps=3, sizes={"D": 2, "H": 3}, bias=True)
    point = {"Wx": [[0.5, -0.2, 0.1], [0.3, 0.2, -0.4]],
             "Wh": [[0.1, 0.2, 0.0], [0.0, 0.3, 0.1], [0.2, -0.1, 0.1]], "b": [0.1, 0, -0.1],
             "x": [[1.0, 0.0], [0.5, 0.5], [-0.2, 0.3]],
             "y": [[1, -2, 0], [0, 0, 1], [0.25, 0.5, 0.25]]}
    f = tmp_path / "p.json"
    f.write_text(json.dumps(point), encoding="utf-8")
    values = read_elman_points(f, graph)
    assert {k: v.shape for k, v in values.items()} == {
        "Wx": (2, 3), "Wh": (3, 3), "b": (1, 3), **{f"x_{t}": (1, 1, 2) for t in range(3)},
        **{f"y_{t}": (1, 1, 3) for t in range(3)}}
    np.testing.assert_array_equal(values["y_0"][0, 0], [1, -2, 0])  # no sum-to-1 for sum(h*y)
    hand = {p: np.array(point[p], dtype=float) for p in ("Wx", "Wh")}
    hand["b"] = np.array([point["b"]])
    hand.update({f"x_{t}": np.array(point["x"][t])[None, None] for t in range(3)})
    hand.update({f"y_{t}": np.array(point["y"][t], dtype=float)[None, None] for t in range(3)})
    assert max_rel(matrix_gradient("autograd", ROWS, values, steps=3, bias=True),
                   matrix_gradient("autograd", ROWS, hand, steps=3, bias=True)) == 0
    r = verify_matrix(spec, steps=3, sizes={"D": 2, "H": 3}, bias=True, at=values)
    assert r.passed and r.points == 1 and r.seed is None
    f.write_text(json.dumps(dict(point, Wx=[[0.1] * 3] * 3)), encoding="utf-8")
    with pytest.raises(UsageError, match=r"^Wx has shape 3×3 in .*p.json; with --size D=2 "
                                         r"--size H=3 it must be 2×3$"):
        read_elman_points(f, graph)
    f.write_text(json.dumps(dict(point, Q=1)), encoding="utf-8")
    with pytest.raises(UsageError, match=r"unknown name 'Q'; rows takes Wx, Wh, b, x \(or "
                                         r"x_0 … x_2\), y \(or y_0 … y_2\)$"):
        read_elman_points(f, graph)


def test_points_of_a_model_with_a_given_state_and_xent(tmp_path: Path) -> None:
    import json

    from bptt_sym.graph.matrix import unroll_vector
    from bptt_sym.verification.points import read_elman_points

    graph = unroll_vector(LAST, steps=2, sizes={"H": 2, "D": 1, "K": 2})
    point = {"U": [[0.5], [-0.2]], "W": [[0.1, 0], [0, 0.3]], "V": [[1, 0], [0, 1]],
             "x": [[[1.0], [-1.0]], [[0.5], [2.0]]], "y": [[1, 0], [0.5, 0.5]],
             "s_{-1}": [0.1, 0.2]}
    f = tmp_path / "p.json"
    f.write_text(json.dumps(point), encoding="utf-8")
    values = read_elman_points(f, graph)  # x has a batch of 2 points, the rest is shared
    assert values["x_1"].shape == (2, 1, 1) and values["y_1"].shape == (2, 2, 1)
    np.testing.assert_array_equal(values["x_1"][:, 0, 0], [-1.0, 2.0])
    np.testing.assert_array_equal(values["s_{-1}"][1, :, 0], [0.1, 0.2])
    f.write_text(json.dumps(dict(point, y=[[1, 0], [0.5, 0]])), encoding="utf-8")
    with pytest.raises(UsageError, match="y_1 of point 0 sums to 0.5 in"):
        read_elman_points(f, graph)


def test_a_copy_of_the_elman_file_is_verified_as_elman() -> None:
    from bptt_sym.model.registry import MODELS
    from bptt_sym.verification.matrix import verify_matrix

    text = (ROOT / "bptt_sym" / "builtin" / "elman.toml").read_text("utf-8")
    mine = _file_spec(text.replace('name = "elman"', 'name = "mine"', 1), "mine")
    ours = verify_matrix(mine, steps=2, oracles=("autograd",), points=2)
    builtin = verify_matrix(MODELS["elman"], steps=2, oracles=("autograd",), points=2)
    assert ours.model == "mine" and dataclasses.replace(ours, model="elman") == builtin
