"""gradcheck on backward passes written in the row-vector, batched style (x @ Wx + h @ Wh + b,
arrays of shape (B, n), PyTorch-like or cs231n-like numpy code): for the LSTM, the GRU and the
Elman RNN at T = 4 with a batch of B = 3, at a point of `values --layout rows --batch 3`.  The
correct pass (tests/gradcheck/*_rows.py) is autograd's gradient of a forward pass written here
and matches every parameter; each mistake is named on the parameters it changes, the others
still match.  The correct passes go through the command line as a user runs it; the mistakes
through the same ``main`` in this process (the interpreter's start is most of a call's time)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from bptt_sym.cli.main import main

from .tools import bptt

MODELS = ("lstm", "gru", "elman")
STEPS, BATCH = 4, 3
FLAGS = ("--steps", str(STEPS), "--layout", "rows")
# the weight that "sign" and "transpose" change, and the one "overwrite" changes
ONE = {"lstm": ("W_hf", "W_hi"), "gru": ("W_hn", "W_hz"), "elman": ("W", "W")}
H_DROPPED = "the path back through time along h dropped"
ALL_DROPPED = "the through-time term dropped"


def _module(model: str):
    return importlib.import_module(f"tests.gradcheck.{model}_rows")


@pytest.fixture(scope="module")
def points(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Each model's rows point with a batch of 3 (seed 2), as the file and its arrays."""
    out = {}
    for model in MODELS:
        path = tmp_path_factory.mktemp(model) / "point.json"
        r = bptt("values", "--model", model, *FLAGS, "--batch", str(BATCH), "--seed", "2",
                 "-o", str(path))
        assert r.returncode == 0, r.stderr
        assert "rows layout; a batch of 3" in r.stderr, r.stderr
        point = {k: np.asarray(v, dtype=float) for k, v in json.loads(path.read_text()).items()}
        assert all(point[f"x_{t}"].shape[0] == BATCH for t in range(STEPS))
        out[model] = path, point
    return out


def _weights(point: dict) -> dict:
    return {k: v for k, v in point.items() if k[0] in "UWVb"}


# The forward passes, rows layout, written for autograd from the models' equations.
def _sigmoid(v):
    return 1 / (1 + anp.exp(-v))


def _xent(logits, y):
    """The cross-entropy of softmax(logits) summed over the batch's rows."""
    logp = logits - anp.log(anp.sum(anp.exp(logits), axis=1, keepdims=True))
    return -anp.sum(y * logp)


def _lstm_loss(P: dict, point: dict):
    h = c = anp.zeros((BATCH, P["W_hi"].shape[1]))
    total = 0.0
    for t in range(STEPS):
        x = point[f"x_{t}"]
        pre = {q: x @ P[f"W_i{q}"] + P[f"b_i{q}"] + h @ P[f"W_h{q}"] + P[f"b_h{q}"]
               for q in "ifgo"}
        c = _sigmoid(pre["f"]) * c + _sigmoid(pre["i"]) * anp.tanh(pre["g"])
        h = _sigmoid(pre["o"]) * anp.tanh(c)
        total = total + _xent(h @ P["V"] + P["b_y"], point[f"y_{t}"])
    return total


def _gru_loss(P: dict, point: dict):
    h = point["h_{-1}"]
    total = 0.0
    for t in range(STEPS):
        x = point[f"x_{t}"]
        r = _sigmoid(x @ P["W_ir"] + P["b_ir"] + h @ P["W_hr"] + P["b_hr"])
        z = _sigmoid(x @ P["W_iz"] + P["b_iz"] + h @ P["W_hz"] + P["b_hz"])
        n = anp.tanh(x @ P["W_in"] + P["b_in"] + r * (h @ P["W_hn"] + P["b_hn"]))
        h = (1 - z) * n + z * h
        total = total + _xent(h @ P["V"] + P["b_y"], point[f"y_{t}"])
    return total


def _elman_loss(P: dict, point: dict):
    s = point["s_{-1}"]
    total = 0.0
    for t in range(STEPS):
        s = anp.tanh(point[f"x_{t}"] @ P["U"] + s @ P["W"])
        total = total + _xent(s @ P["V"], point[f"y_{t}"])
    return total


LOSSES = {"lstm": _lstm_loss, "gru": _gru_loss, "elman": _elman_loss}


@pytest.mark.parametrize("model", MODELS)
def test_the_correct_rows_pass_is_autograds_and_matches(points: dict, model: str,
                                                        tmp_path: Path) -> None:
    path, point = points[model]
    weights = _weights(point)
    mine = _module(model).backward(point)
    assert set(mine) == set(weights)
    for name, w in weights.items():  # the rows layout: each the shape of its weight
        assert mine[name].shape == w.shape, name
        assert mine[name].ndim == (1 if name.startswith("b_") else 2), name
    reference = grad(LOSSES[model])(weights, point)
    for name in weights:
        assert np.max(np.abs(mine[name] - reference[name])) < 1e-12, name
    np.savez(tmp_path / "grads.npz", **mine)
    r = bptt("gradcheck", "--model", model, *FLAGS, "--at", str(path), "--grads",
             str(tmp_path / "grads.npz"), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    got = {p["parameter"]: p for p in json.loads(r.stdout)["parameters"]}
    assert set(got) == set(weights)
    assert all(p["verdict"] == "matches" and p["dtype"] == "float64" for p in got.values())
    assert max(p["relative_error"] for p in got.values()) < 1e-14


COMMON = [
    ("sign", "the sign"),
    ("transpose", "transposed"),
    ("mean", f"averaged over the {STEPS} steps"),
    ("overwrite", "overwritten instead of accumulated: yours is step 0's term"),
    ("clip", "clipped to ±0.05"),
    ("off-by-one", "a step index off by one"),
    ("wrap", "the initial state taken from the last step"),
]
OWN = {
    "lstm": [("no-tanh-c-derivative", "the derivative of tanh in tanh(c) left out"),
             ("g-sigmoid-derivative", "tanh′ of g written as sigmoid′"),
             ("no-cell-through-time", "the path back through time along c dropped"),
             ("no-hidden-through-time", H_DROPPED)],
    "gru": [("no-n-derivative", "the derivative of tanh of n left out"),
            ("n-sigmoid-derivative", "tanh′ of n written as sigmoid′")],
    "elman": [("no-activation-derivative", "the derivative of tanh of s left out (taken as 1)"),
              ("sigmoid-derivative", "tanh′ of s written as sigmoid′ of the same value "
               "(s ⊙ (1 - s) where 1 - s² belongs)"),
              ("no-through-time", ALL_DROPPED)],
}
CASES = [(model, mistake, diagnosis) for model in MODELS for mistake, diagnosis in COMMON
         + OWN[model]]


@pytest.mark.parametrize("model, mistake, diagnosis", CASES)
def test_each_rows_mistake_is_named(points: dict, model: str, mistake: str, diagnosis: str,
                                    tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path, point = points[model]
    module = _module(model)
    correct, theirs = module.backward(point), module.backward(point, mistake)
    changed = {k for k in correct if correct[k].shape != theirs[k].shape
               or not np.array_equal(correct[k], theirs[k])}
    assert changed  # the mistake reaches some gradient
    if mistake in ("sign", "transpose"):
        assert changed == {ONE[model][0]}
    if mistake == "overwrite":
        assert changed == {ONE[model][1]}
    # where dropping only dh_next gives the numbers of dropping every path back through time
    # (the output gate: do_t = dh_t ⊙ tanh(c_t) never sees dc_next), both names fit
    either = set()
    if mistake == "no-hidden-through-time":
        both = module.backward(point, "no-through-time")
        either = {k for k in changed if np.array_equal(theirs[k], both[k])}
        assert either == {"W_io", "W_ho", "b_io", "b_ho"}
    np.savez(tmp_path / "grads.npz", **theirs)
    capsys.readouterr()
    status = main(["gradcheck", "--model", model, *FLAGS, "--at", str(path), "--grads",
                   str(tmp_path / "grads.npz"), "--json"])
    out = capsys.readouterr().out
    assert status == 1, out
    got = {p["parameter"]: p for p in json.loads(out)["parameters"]}
    assert set(got) == set(correct)
    for name, p in got.items():
        if name in either:
            assert p["verdict"] == "wrong", p
            assert (p["diagnosis"] or "").startswith((H_DROPPED, ALL_DROPPED)), p
        elif name in changed:
            assert p["verdict"] == "wrong", p
            assert (p["diagnosis"] or "").startswith(diagnosis), p
        else:
            assert p["verdict"] == "matches", p
