"""interpret: a model's own equations run forward in array code, checked against forward
passes typed by hand here; verify of any scalar ModelSpec against that reference; caches
keyed by a model's content, never by its name."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest

from bptt_sym import BpttError, UsageError, unroll
from bptt_sym.model.registry import DOC, ModelSpec
from bptt_sym.numeric.compiled import compiled, spec_key
from bptt_sym.verification.interpret import calls, evaluate, function_table, loss
from bptt_sym.verification.oracles import doc_loss, functions
from bptt_sym.verification.run import FORMS_VERIFIED, draw_points, read_points, verify

HAVE_TORCH = importlib.util.find_spec("torch") is not None

# ---- the models, built in Python --------------------------------------------------------

GRU = ModelSpec(
    name="gru", title="a scalar GRU",
    cell=("r_t = sigmoid(wr x_t + ur h_{t-1} + br)",
          "z_t = sigmoid(wz x_t + uz h_{t-1} + bz)",
          "n_t = tanh(wn x_t + r_t (un h_{t-1}) + bn)",
          "h_t = (1 - z_t) n_t + z_t h_{t-1}",
          "E_t = mse(h_t, y_t)"),
    head=("E = sum_t E_t",),
    parameters=("wr", "ur", "br", "wz", "uz", "bz", "wn", "un", "bn"),
    inputs=("x",), targets=("y",), states=("h",), keys=("h",), loss="E",
    functions={}, initial={"h": "zero"})
GRU_GIVEN = dataclasses.replace(GRU, name="gru-given", initial={"h": "given"})
MEAN = dataclasses.replace(DOC, name="doc-mean", cell=(*DOC.cell, "o_t = g(s_t v)",
                                                       "E_t = L(o_t, y_t)"),
                           head=("E = 1/T sum_t E_t",), keys=("s",), refs={},
                           backward_refs={})
LAST = dataclasses.replace(MEAN, name="doc-last", head=("E = E_{T-1}",))
TWO_INPUTS = ModelSpec(
    name="two", title="two inputs, a zero initial state, a parameter of the head only",
    cell=("z_t = u x_t + p c_t + w s_{t-1}", "s_t = f(z_t)"),
    head=("q = s_{T-1} v + m c_{T-1}", "o = g(q)", "E = L(o, y)"),
    parameters=("u", "p", "w", "v", "m"), inputs=("x", "c"), targets=("y",),
    states=("s",), keys=("s",), loss="E", initial={"s": "zero"})
SPECS = [GRU, GRU_GIVEN, MEAN, LAST, TWO_INPUTS]

CHOICES = [("tanh", "sigmoid", "bce"), ("f", "g", "L"), ("sigmoid", "identity", "mse")]


# ---- forward passes typed by hand (no grammar, no table of the package) ------------------

def _sig(t: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-t))


ACT = {"tanh": np.tanh, "sigmoid": _sig, "relu": lambda z: np.maximum(z, 0.0),
       "f": lambda z: np.tanh(0.9 * z + 0.1)}            # the default stand-in f
OUT = {"sigmoid": _sig, "identity": lambda q: q,
       "g": lambda q: _sig(1.1 * q - 0.2)}                # the default stand-in g
LOSS = {"bce": lambda o, y: -y * np.log(o) - (1 - y) * np.log(1 - o),
        "mse": lambda o, y: (o - y) ** 2 / 2, "xent": lambda o, y: -y * np.log(o),
        "L": lambda o, y: np.log(1 + 0.8 * (o - 0.3) ** 2)}  # the default stand-in L


def gru_by_hand(v: dict, steps: int) -> np.ndarray:
    h = v.get("h_{-1}", 0.0)
    total = 0.0
    for t in range(steps):
        x = v["x"][:, t]
        r = _sig(v["wr"] * x + v["ur"] * h + v["br"])
        z = _sig(v["wz"] * x + v["uz"] * h + v["bz"])
        n = np.tanh(v["wn"] * x + r * v["un"] * h + v["bn"])
        h = (1 - z) * n + z * h
        total = total + (h - v[f"y_{t}"]) ** 2 / 2
    return total


def doc_steps_by_hand(v: dict, steps: int, choice: tuple) -> list[np.ndarray]:
    """E_t of every step for the doc with a loss per step."""
    act, out, lo = ACT[choice[0]], OUT[choice[1]], LOSS[choice[2]]
    s, per_step = v["s_{-1}"], []
    for t in range(steps):
        s = act(v["u"] * v["x"][:, t] + v["w"] * s + v["k"])
        per_step.append(lo(out(s * v["v"]), v[f"y_{t}"]))
    return per_step


def two_inputs_by_hand(v: dict, steps: int, choice: tuple) -> np.ndarray:
    s = 0.0
    for t in range(steps):
        s = ACT[choice[0]](v["u"] * v["x"][:, t] + v["p"] * v["c"][:, t] + v["w"] * s)
    q = s * v["v"] + v["m"] * v["c"][:, steps - 1]
    return LOSS[choice[2]](OUT[choice[1]](q), v["y"])


def by_hand(spec: ModelSpec, v: dict, steps: int, choice: tuple) -> np.ndarray:
    if spec in (GRU, GRU_GIVEN):
        return gru_by_hand(v, steps)
    if spec is TWO_INPUTS:
        return two_inputs_by_hand(v, steps, choice)
    per_step = doc_steps_by_hand(v, steps, choice)
    return sum(per_step) / steps if spec is MEAN else per_step[-1]


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300))


def _values(spec: ModelSpec, steps: int, n: int = 16, seed: int = 0) -> dict:
    return draw_points(unroll(spec, steps=steps), n, np.random.default_rng(seed))


# ---- the interpreter against the forward passes by hand ----------------------------------

@pytest.mark.parametrize("choice", [*CHOICES, ("relu", "sigmoid", "xent"), ("tanh", "g", "L")])
@pytest.mark.parametrize("steps", [1, 3, 7])
def test_doc_equals_the_hand_written_doc_loss(steps: int, choice: tuple) -> None:
    v = _values(DOC, steps, seed=steps)
    ref = doc_loss({p: v[p] for p in "uwkv"}, v["x"], v["s_{-1}"], v["y"],
                   functions(np, *choice))
    mine = loss(DOC, v, steps=steps, functions=function_table(DOC, np, choice))
    assert mine.shape == (16,) and _max_rel(mine, ref) <= 1e-12


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("choice", CHOICES[:2])
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_loss_equals_a_forward_typed_by_hand(spec: ModelSpec, steps: int, choice: tuple) -> None:
    v = _values(spec, steps, seed=steps)
    mine = loss(spec, v, steps=steps, functions=function_table(spec, np, choice))
    assert _max_rel(mine, by_hand(spec, v, steps, choice)) <= 1e-12


def test_every_node_is_evaluated_at_its_step() -> None:
    v = _values(GRU, 3)
    nodes = evaluate(GRU, v, steps=3, functions=function_table(GRU, np, CHOICES[0]))
    assert {k for k in nodes if k[0] == "h"} == {("h", 0), ("h", 1), ("h", 2)}
    assert ("E", None) in nodes and ("E", 2) in nodes


def test_complex_values_pass_through() -> None:
    v = {k: a.astype(complex) for k, a in _values(MEAN, 3).items()}
    v["u"] = v["u"] + 1e-30j
    e = loss(MEAN, v, steps=3, functions=function_table(MEAN, np, CHOICES[0]))
    assert e.dtype == complex and np.all(np.imag(e) != 0)


def test_errors_name_the_equation_problem() -> None:
    bad = dataclasses.replace(GRU, cell=("h_t = softplus(x_t)",))
    with pytest.raises(BpttError, match="unknown function softplus"):
        loss(bad, _values(GRU, 2), steps=2, functions=function_table(bad, np, CHOICES[0]))
    early = dataclasses.replace(GRU, cell=("h_t = q_t + x_t", "q_t = x_t"))
    with pytest.raises(BpttError, match="q_0 is used before it is defined"):
        loss(early, _values(GRU, 2), steps=2, functions=function_table(early, np, CHOICES[0]))


def test_calls_lists_the_functions_called() -> None:
    assert calls(GRU) == {"sigmoid", "tanh", "mse"} and calls(MEAN) == {"f", "g", "L"}


# ---- the values of any model --------------------------------------------------------------

def test_points_of_per_step_targets_several_inputs_and_zero_states() -> None:
    v = _values(GRU, 4, n=5)
    assert sorted(k for k in v if k.startswith("y")) == ["y_0", "y_1", "y_2", "y_3"]
    assert v["x"].shape == (5, 4) and "h_{-1}" not in v
    assert "h_{-1}" in _values(GRU_GIVEN, 4)
    w = _values(TWO_INPUTS, 3, n=5)
    assert w["x"].shape == w["c"].shape == (5, 3) and "s_{-1}" not in w
    assert {"u", "p", "w", "v", "m", "y"} <= set(w)


def test_read_points_of_a_model_with_two_inputs(tmp_path) -> None:  # noqa: ANN001
    g = unroll(TWO_INPUTS, steps=2, activation="tanh", output="sigmoid", loss="bce")
    f = tmp_path / "at.json"
    f.write_text('{"u": [0.5, 0.1], "p": 0.2, "w": -0.3, "v": 0.8, "m": 0.4, "y": 0.3, '
                 '"x": [[0.2, -0.4], [1.0, 0.5]], "c": [0.3, 0.1]}')
    at = read_points(f, g)
    assert at["c"].shape == (2, 2) and at["p"].shape == (2,)
    r = verify(TWO_INPUTS, steps=2, activation="tanh", output="sigmoid", loss="bce",
               oracles=["autograd"], at=at)
    assert r.passed and r.points == 2, r.text()
    f.write_text('{"u": 1, "p": 1, "w": 1, "v": 1, "m": 1, "y": 0.5, "x": [1, 2], "c": [1]}')
    with pytest.raises(UsageError, match="'c' needs 2 numbers per point"):
        read_points(f, g)


# ---- verify of any scalar ModelSpec --------------------------------------------------------

def _assert_complete(r, spec: ModelSpec, oracles: set[str]) -> None:  # noqa: ANN001
    assert r.passed, r.text()
    assert r.forward_max_rel <= 1e-12
    want = {(f, p, o) for f in FORMS_VERIFIED for p in spec.parameters for o in oracles}
    assert {(row.form, row.parameter, row.oracle) for row in r.rows} == want


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("choice", CHOICES[:2])
@pytest.mark.parametrize("steps", [1, 2, 5])
def test_verify_any_spec(spec: ModelSpec, steps: int, choice: tuple) -> None:
    oracles = {"autograd", "fd", "complex-step"}
    r = verify(spec, steps=steps, activation=choice[0], output=choice[1], loss=choice[2],
               oracles=sorted(oracles), points=8, seed=steps)
    _assert_complete(r, spec, oracles)
    assert r.model == spec.name and not r.skipped


def test_stand_ins_only_for_the_roles_a_model_uses() -> None:
    assert verify(GRU, steps=2, oracles=["autograd"], points=4).stand_ins == {}
    assert set(verify(MEAN, steps=2, oracles=["autograd"], points=4).stand_ins) == {
        "f", "g", "L"}


def test_relu_by_name_skips_the_complex_step() -> None:
    spec = dataclasses.replace(GRU, cell=tuple(c.replace("tanh", "relu") for c in GRU.cell))
    r = verify(spec, steps=3, oracles=["autograd", "complex-step"], points=8)
    assert [s.oracle for s in r.skipped] == ["complex-step"]
    assert "calls relu" in r.skipped[0].reason and r.passed, r.text()


@pytest.mark.skipif(not HAVE_TORCH, reason="torch not installed (pip install 'bptt-sym[torch]')")
@pytest.mark.parametrize("spec", [GRU, MEAN, TWO_INPUTS], ids=lambda s: s.name)
def test_torch_on_the_interpreted_forward(spec: ModelSpec) -> None:
    r = verify(spec, steps=3, activation="tanh", output="sigmoid", loss="bce",
               oracles=["torch"], points=8)
    _assert_complete(r, spec, {"torch"})


def test_a_wrong_gradient_of_a_user_model_fails() -> None:
    r = verify(GRU, steps=3, oracles=["autograd"], points=8, override={"bn": "0"})
    assert not r.passed
    assert {row.parameter for row in r.rows if not row.passed} == {"bn"}


# ---- caches keyed by content, never by name -------------------------------------------------

def _doubled_w(spec: ModelSpec) -> ModelSpec:
    cell = tuple("b_t = s_{t-1}*w*w" if c.startswith("b_t") else c for c in spec.cell)
    return dataclasses.replace(spec, cell=cell)


def test_same_name_different_content_shares_no_cache() -> None:
    choice = ("tanh", "sigmoid", "bce")
    first = verify("doc", steps=3, activation=choice[0], output=choice[1], loss=choice[2],
                   oracles=["autograd"], points=8)
    changed = _doubled_w(DOC)  # still called "doc"
    assert changed.name == "doc" and spec_key(changed) != spec_key(DOC)
    second = verify(changed, steps=3, activation=choice[0], output=choice[1], loss=choice[2],
                    oracles=["autograd"], points=8)
    assert first.passed and second.passed, second.text()
    a = compiled(DOC, 3, *choice, "delta")
    b = compiled(changed, 3, *choice, "delta")
    assert a is not b and a is compiled("doc", 3, *choice, "delta")
    v = _values(DOC, 3)
    assert _max_rel(a(v)["w"], b(v)["w"]) > 1e-3  # the result reflects the modified model
    renamed = dataclasses.replace(changed, name="other")
    assert compiled(renamed, 3, *choice, "delta") is b  # equal content, one entry


def test_a_changed_user_model_after_the_original() -> None:
    first = verify(MEAN, steps=2, oracles=["autograd"], points=4)
    second = verify(_doubled_w(MEAN), steps=2, oracles=["autograd"], points=4)
    assert first.passed and second.passed, second.text()
    g = {(r.form, r.parameter): r.max_abs for r in second.rows}
    assert g and all(v <= 1e-9 for v in g.values())
