"""gradcheck with a person's per-step adjoints (issue 14): their δ_t (elman's dz = ∂E/∂z_t,
an LSTM's dh_t, dc_t) judged step by step, counting back from the last step, and the first
step where theirs departs named with what it says.  The exact adjoints are checked against
autograd (the gradient of the loss with respect to a perturbation added to z_t, h_t, c_t in
a forward pass written here); the test backward passes of tests/gradcheck/ give theirs."""

from __future__ import annotations

import json
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from bptt_sym.check.backward import exact_gradients
from bptt_sym.check.deltas import judge_deltas
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.model.registry import MODELS
from bptt_sym.numeric.matrix import random_values

from .gradcheck import elman_columns, gru_columns, lstm_columns
from .tools import bptt

T, SIZES = 5, "H=3,D=4,K=4"


def _values(tmp_path: Path, model: str = "elman", *extra: str, name: str = "point.npz"
            ) -> dict:
    path = tmp_path / name
    size = ("--size", SIZES) if model == "elman" else ()
    r = bptt("values", "--model", model, "--steps", str(T), *size, "--seed", "1", "-o",
             str(path), *extra)
    assert r.returncode == 0, r.stderr
    if name.endswith(".npz"):
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}
    return {k: np.asarray(v) for k, v in json.loads(path.read_text()).items()}


def _check(tmp_path: Path, grads: dict, model: str = "elman", *extra: str,
           at: str = "point.npz"):
    np.savez(tmp_path / "grads.npz", **grads)
    size = ("--size", SIZES) if model == "elman" else ()
    r = bptt("gradcheck", "--model", model, "--steps", str(T), *size, "--at",
             str(tmp_path / at), "--grads", str(tmp_path / "grads.npz"), "--json", *extra)
    assert r.returncode in (0, 1), r.stderr
    report = json.loads(r.stdout)
    return (r.returncode, {p["parameter"]: p for p in report["parameters"]},
            {d["adjoint"]: d for d in report["adjoints"]}, r.stderr)


def _softmax_xent(logits, y):
    return -anp.sum(y * (logits - anp.log(anp.sum(anp.exp(logits)))))


def test_exact_adjoints_are_autograds_elman_and_lstm() -> None:
    """δ_t = ∂E/∂z_t (elman) and ∂E/∂h_t, ∂E/∂c_t (lstm, every path) against autograd of a
    forward pass with a perturbation e_t added to the node: ∂E/∂e_t at e = 0."""
    g = unroll_vector(steps=T, hidden=3, inputs=4, classes=4)
    v = random_values(g, np.random.default_rng(5))
    exact = exact_gradients(g, v)

    def elman(es):
        s, total = v["s_{-1}"], 0.0
        for t in range(T):
            s = anp.tanh(v["U"] @ v[f"x_{t}"] + v["W"] @ s + es[t])
            total = total + _softmax_xent(v["V"] @ s, v[f"y_{t}"])
        return total

    ref = grad(elman)([np.zeros((3, 1)) for _ in range(T)])
    for t in range(T):
        assert np.max(np.abs(exact.adjoints["delta"][t][0] - ref[t][:, 0])) < 1e-13

    g = unroll_vector(MODELS["lstm"], steps=T)
    v = random_values(g, np.random.default_rng(6))
    exact = exact_gradients(g, v)
    H = v["W_hi"].shape[0]
    sig = lambda a: 1 / (1 + anp.exp(-a))  # noqa: E731

    def lstm(eh, ec):
        h, c, total = np.zeros((H, 1)), np.zeros((H, 1)), 0.0
        for t in range(T):
            a = {q: v[f"W_i{q}"] @ v[f"x_{t}"] + v[f"b_i{q}"] + v[f"W_h{q}"] @ h + v[f"b_h{q}"]
                 for q in "ifgo"}
            c = sig(a["f"]) * c + sig(a["i"]) * anp.tanh(a["g"]) + ec[t]
            h = sig(a["o"]) * anp.tanh(c) + eh[t]
            total = total + _softmax_xent(v["V"] @ h + v["b_y"], v[f"y_{t}"])
        return total

    zeros = [np.zeros((H, 1)) for _ in range(T)]
    dh, dc = grad(lstm, 0)(zeros, zeros), grad(lstm, 1)(zeros, zeros)
    for t in range(T):
        assert np.max(np.abs(exact.adjoints["dh"][t][0] - dh[t][:, 0])) < 1e-13
        assert np.max(np.abs(exact.adjoints["dc"][t][0] - dc[t][:, 0])) < 1e-13


@pytest.mark.parametrize("mistake, first, says", [
    (None, None, None),
    ("no-through-time", T - 2, "yours at step 3 is ∂E_3/∂z_3, step 3's own error alone"),
    ("sigmoid-derivative", T - 1, "at the last step delta_4 has no part carried back"),
    ("no-activation-derivative", T - 1, "at the last step delta_4 has no part carried back"),
    ("off-by-one", None, None),  # the mistake is in W's term, not in the δ's
    ("sign", None, None),         # on the finished gradient
])
def test_elman_deltas_first_departing_step(tmp_path: Path, mistake: str | None,
                                           first: int | None, says: str | None) -> None:
    point = _values(tmp_path)
    theirs = elman_columns.backward(point, mistake, deltas=True)
    status, params, steps, _ = _check(tmp_path, theirs)
    d = steps["delta"]
    assert d["meaning"] == "∂E/∂z_t" and d["first_departing_step"] == first, d
    assert d["verdict"] == ("matches" if first is None else "departs")
    assert status == (0 if mistake is None else 1)
    if says:
        assert says in d["detail"], d["detail"]
    if first is not None and first < T - 1:
        assert max(d["relative_error_by_step"][first + 1:]) < d["bound"]


def test_a_departure_that_enters_at_a_middle_step(tmp_path: Path) -> None:
    """Theirs right at steps 4 and 3, off from step 2 on: named at step 2, entry given."""
    point = _values(tmp_path)
    theirs = elman_columns.backward(point, deltas=True)
    for t in range(3):
        theirs[f"delta_{t}"] = theirs[f"delta_{t}"] * 1.01
    status, _, steps, _ = _check(tmp_path, theirs)
    d = steps["delta"]
    assert status == 1 and d["first_departing_step"] == 2
    assert "steps 4 and 3 match" in d["detail"] and "the difference enters at step 2" in \
        d["detail"] and "most at entry (" in d["detail"]


@pytest.mark.parametrize("mistake, dh, dc, diagnosis", [
    ("no-cell-through-time", 2, 3, "the path back through time along c dropped"),
    ("no-hidden-through-time", 3, 3, "the path back through time along h dropped"),
    ("g-sigmoid-derivative", 3, 3, "tanh′ of g written as sigmoid′"),  # via step 4's gates
])
def test_lstm_dh_and_dc(tmp_path: Path, mistake: str, dh: int, dc: int,
                        diagnosis: str) -> None:
    """One path of the cell dropped (the other kept): the weights named, and the steps
    where dh and dc depart; dc_t of step T − 1 has nothing carried back yet."""
    point = _values(tmp_path, "lstm")
    status, params, steps, _ = _check(tmp_path, lstm_columns.backward(point, mistake, True),
                                      "lstm")
    assert status == 1
    assert params["W_hi"]["diagnosis"].startswith(diagnosis), params["W_hi"]
    assert steps["dh"]["first_departing_step"] == dh, steps["dh"]
    assert steps["dc"]["first_departing_step"] == dc, steps["dc"]
    if "path" in diagnosis:
        state = diagnosis.split("along ")[1][0]
        assert f"with the path back through time along {state} dropped" in \
            steps["dc"]["detail"]
    status, _, steps, _ = _check(tmp_path, lstm_columns.backward(point, None, True), "lstm")
    assert status == 0 and {d["verdict"] for d in steps.values()} == {"matches"}


def test_the_forms_they_come_in(tmp_path: Path) -> None:
    """One array with the step first, their name by --map, dh_{t} with braces, a batch in
    the rows layout, float32 (its own bound), and a function's list of steps."""
    point = _values(tmp_path)
    mine = elman_columns.backward(point, deltas=True)
    grads = {k: v for k, v in mine.items() if not k.startswith("delta")}
    stacked = np.stack([mine[f"delta_{t}"] for t in range(T)])  # T × H × 1
    status, _, steps, _ = _check(tmp_path, {**grads, "dhraw": stacked}, "elman", "--map",
                                 "dhraw=delta")
    assert status == 0 and steps["delta"]["verdict"] == "matches"
    braces = {f"delta_{{{t}}}": mine[f"delta_{t}"].ravel() for t in range(T)}
    status, _, steps, _ = _check(tmp_path, {**grads, **braces})
    assert status == 0 and steps["delta"]["verdict"] == "matches"
    single = {k: v.astype(np.float32) for k, v in mine.items()}
    status, _, steps, _ = _check(tmp_path, single)
    assert status == 0 and steps["delta"]["dtype"] == "float32"

    rows = _values(tmp_path, "elman", "--layout", "rows", "--batch", "3", name="rows.json")
    columns = {k: (v.T if k in "UWV" else v) for k, v in rows.items()}
    theirs = elman_columns.backward(columns, deltas=True)
    theirs = {k: (v.T if k in "UWV" else v.T) for k, v in theirs.items()}  # δ_t: 3 × H
    assert theirs["delta_0"].shape == (3, 3)
    status, _, steps, _ = _check(tmp_path, theirs, "elman", "--layout", "rows", at="rows.json")
    assert status == 0 and steps["delta"]["verdict"] == "matches"
    theirs["delta_0"] = theirs["delta_0"] * 1.5
    status, _, steps, _ = _check(tmp_path, theirs, "elman", "--layout", "rows", at="rows.json")
    assert steps["delta"]["first_departing_step"] == 0
    assert "batch point" in steps["delta"]["detail"]

    user = tmp_path / "user.py"
    root = str(Path(__file__).parent.parent)
    user.write_text(f"import sys\nsys.path.insert(0, {root!r})\nfrom tests.gradcheck import "
                    "elman_columns\n\n\ndef backward(point):\n    g = elman_columns.backward("
                    "point, deltas=True)\n    g['delta'] = [g.pop(f'delta_{t}') for t in "
                    f"range({T})]\n    return g\n")
    r = bptt("gradcheck", "--model", "elman", "--steps", str(T), "--size", SIZES, "--at",
             str(tmp_path / "point.npz"), "--call", f"{user}:backward")
    assert r.returncode == 0 and "delta (∂E/∂z_t, by step): matches" in r.stdout, r.stdout
    assert "adjoints: 1 match, 0 depart" in r.stdout


def test_api_judges_deltas_without_the_cli() -> None:
    g = unroll_vector(steps=3, hidden=2, inputs=2, classes=2)
    exact = exact_gradients(g, random_values(g, np.random.default_rng(2)))
    flipped = [-a for a in exact.adjoints["delta"]]
    r = judge_deltas(exact, {"delta": flipped})[0]
    assert r.first == 2 and "the sign" in r.detail


def test_bad_adjoint_arrays_are_one_line(tmp_path: Path) -> None:
    point = _values(tmp_path)
    mine = elman_columns.backward(point, deltas=True)
    grads = {k: v for k, v in mine.items() if not k.startswith("delta")}
    steps = {k: v for k, v in mine.items() if k.startswith("delta")}
    cases = [
        ({**grads, **{k: v for k, v in steps.items() if k != "delta_2"}},
         (), "delta has no step 2; give delta_0 … delta_4"),
        ({**grads, "delta": np.zeros((4, 3))}, (),
         "delta has shape (4, 3); as one array of every step's delta its first axis is the "
         "step (T = 5)"),
        ({**grads, **steps, "delta_3": np.zeros(4)}, (),
         "delta_3 has shape (4,); delta at one step is 3"),
        ({**grads, **steps, "delta": np.zeros((5, 3))}, (),
         "delta is given both as one array and step by step"),
        ({**grads, **steps, "delta_1": steps["delta_1"] * np.nan}, (),
         "delta_1 holds NaN or infinity"),
        ({**grads, **steps, "delta_7": steps["delta_1"]}, (),
         "delta has step 7 beyond the last step 4"),
        (grads, ("--map", "dz=dq"), "'dq' is no parameter of elman; its parameters are U, W, "
         "V; its adjoints (per-step δs) delta"),
    ]
    for arrays, extra, message in cases:
        np.savez(tmp_path / "bad.npz", **arrays)
        r = bptt("gradcheck", "--model", "elman", "--steps", str(T), "--size", SIZES, "--at",
                 str(tmp_path / "point.npz"), "--grads", str(tmp_path / "bad.npz"), *extra)
        assert r.returncode == 2 and message in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    status, _, _, stderr = _check(tmp_path, {**grads, "cache": np.ones(3), "dh_raw_2":
                                             np.ones(3)})
    assert status == 0
    assert "skipped cache, dh_raw_2: no parameter or adjoint of elman (U, W, V, delta)" in \
        stderr


def test_a_mean_loss_summed_is_named(tmp_path: Path) -> None:
    """docs/examples/models/elman-mean.toml (E = 1/T Σ_t E_t): a pass for the sum is named
    "summed where the loss is their mean"; divided by T it matches; a sign and truncation
    (each step loss's own window, ÷ T) are named as for the sum."""
    model = str(Path(__file__).resolve().parent.parent / "docs/examples/models/elman-mean.toml")
    point = _values(tmp_path, model, "--size", SIZES)
    summed = elman_columns.backward(point)
    status, got, _, _ = _check(tmp_path, {k: v / T for k, v in summed.items()}, model,
                               "--size", SIZES)
    assert status == 0, got
    status, got, _, _ = _check(tmp_path, summed, model, "--size", SIZES)
    assert status == 1
    for p in "UWV":
        assert got[p]["diagnosis"].startswith(
            f"summed over the {T} steps where the loss is their mean: yours is {T} ∂E/∂{p}")
    status, got, _, _ = _check(tmp_path, {k: -v / T for k, v in summed.items()}, model,
                               "--size", SIZES)
    assert got["W"]["diagnosis"].startswith("the sign")
    for k, want in ((0, "the through-time term dropped"), (2, "truncated after 2 steps")):
        truncated = elman_columns.backward_truncated(point, k)
        status, got, _, _ = _check(tmp_path, {p: v / T for p, v in truncated.items()}, model,
                                   "--size", SIZES)
        assert got["U"]["diagnosis"].startswith(want) and got["V"]["verdict"] == "matches"


@pytest.mark.parametrize("mistake, first, says", [
    (None, None, None),
    ("no-through-time", T - 2, "yours at step 3 is ∂E_3/∂h_3, step 3's own error alone"),
    ("n-sigmoid-derivative", T - 2, "the difference enters at step 3"),  # via step 4's n
])
def test_gru_dh_first_departing_step(tmp_path: Path, mistake: str | None, first: int | None,
                                     says: str | None) -> None:
    point = _values(tmp_path, "gru")
    status, _, steps, _ = _check(tmp_path, gru_columns.backward(point, mistake, True), "gru")
    d = steps["dh"]
    assert d["meaning"] == "∂E/∂h_t" and d["first_departing_step"] == first, d
    assert status == (0 if mistake is None else 1)
    if says:
        assert says in d["detail"], d["detail"]
