"""Truncated BPTT (issue 14): ``derive --truncate K`` and ``verify --truncate K``.

The reference is NumPy code written here from the convention (the error of the loss at step
t goes back to the steps max(0, t − K) … t, as tutorial loops write it) for the article's
scalar model, and tests/gradcheck/elman_columns.backward_truncated (WildML's
``bptt_truncate`` loop) for elman; both at T = 6, K = 1 … 5."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bptt_sym.derivation.truncated import dropped_terms, truncated_derivation
from bptt_sym.graph.build import unroll
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.model.load import load_model
from bptt_sym.numeric.matrix import random_values
from bptt_sym.verification.run import draw_points
from bptt_sym.verification.truncated import truncated_gradients, verify_truncated

from .gradcheck import elman_columns
from .tools import ROOT, bptt

T = 6


def _doc_truncated(p: dict, k: int) -> dict:
    """The article's model, s_t = tanh(u x_t + w s_{t-1} + k), o = σ(v s_{T-1}), E =
    bce(o, y), its one error carried back from step T − 1 to step T − 1 − k."""
    u, w, kk, v, y = (p[n] for n in ("u", "w", "k", "v", "y"))
    x = p["x"]
    s = {-1: p["s_{-1}"]}
    for t in range(len(x)):
        s[t] = np.tanh(u * x[t] + w * s[t - 1] + kk)
    last = len(x) - 1
    o = 1 / (1 + np.exp(-v * s[last]))
    dq = o - y  # bce after a sigmoid
    grads = {"u": 0.0, "w": 0.0, "k": 0.0, "v": dq * s[last]}
    ds = dq * v
    for t in range(last, max(0, last - k) - 1, -1):
        dz = ds * (1 - s[t] ** 2)
        grads["u"] += dz * x[t]
        grads["w"] += dz * s[t - 1]
        grads["k"] += dz
        ds = dz * w
    return grads


@pytest.mark.parametrize("k", range(1, T))
def test_doc_truncated_agrees_with_numpy_reference(k: int) -> None:
    g = unroll("doc", steps=T, activation="tanh", output="sigmoid", loss="bce")
    values = draw_points(g, 5, np.random.default_rng(k))
    derived = truncated_gradients(g, k, values)
    full = truncated_gradients(g, T, values)
    for i in range(5):
        ref = _doc_truncated({n: v[i] for n, v in values.items()}, k)
        for p in "uwkv":
            assert abs(derived[p][i] - ref[p]) <= 1e-13 * (1 + abs(ref[p]))
    if k < T - 1:  # truncation changes w; at K = T − 1 the one loss reaches every copy
        assert np.any(np.abs(derived["w"] - full["w"]) > 1e-6)
    else:
        assert np.array_equal(derived["w"], full["w"])


def _elman_point(values: dict) -> dict:
    return {n: (v[0, :, 0] if np.ndim(v) == 3 else v) for n, v in values.items()}


@pytest.mark.parametrize("k", range(1, T))
def test_elman_truncated_agrees_with_tutorial_code(k: int) -> None:
    g = unroll("elman", steps=T)
    values = random_values(g, np.random.default_rng(k), batch=1)
    values["s_{-1}"] = np.random.default_rng(100 + k).normal(0, 0.5, values["s_{-1}"].shape)
    derived = truncated_gradients(g, k, values)
    ref = elman_columns.backward_truncated(_elman_point(values), k)
    for p in "UWV":
        assert np.max(np.abs(derived[p] - ref[p])) <= 1e-13 * (1 + np.max(np.abs(ref[p])))


@pytest.mark.parametrize("k", [0, 2, 4])
def test_a_mean_loss_truncated_is_the_tutorial_sum_over_t(k: int) -> None:
    """E = 1/T Σ_t E_t (docs/examples/models/elman-mean.toml): each step loss keeps its own
    window, and the truncated gradient is the summed one's divided by T."""
    g = unroll_vector(load_model(ROOT / "docs/examples/models/elman-mean.toml"), steps=T)
    values = random_values(g, np.random.default_rng(k), batch=1)
    values["s_{-1}"] = np.random.default_rng(7).normal(0, 0.5, values["s_{-1}"].shape)
    derived = truncated_gradients(g, k, values)
    ref = elman_columns.backward_truncated(_elman_point(values), k)
    for p in "UWV":
        assert np.max(np.abs(derived[p] - ref[p] / T)) <= 1e-13 * (1 + np.max(np.abs(ref[p])))
    assert dropped_terms(g, "W", k)[1] == T * (T + 1) // 2  # one window per step loss


def test_a_weight_whose_dropped_term_multiplies_the_zero_initial_state_stays_exact() -> None:
    """At K = T − 2 the one term dropped from W's gradient, ∂E_5/∂W_0 = δ⁽⁵⁾₀ s₋₁ᵀ, is 0
    when s₋₁ = 0: W's truncated gradient is the full one; U's is not."""
    g = unroll("elman", steps=T)
    values = random_values(g, np.random.default_rng(3), batch=2)  # s_{-1} = 0
    assert not values["s_{-1}"].any()
    truncated = elman_columns.backward_truncated(_elman_point(values), T - 2)
    full = elman_columns.backward_truncated(_elman_point(values), T)
    assert np.array_equal(dropped_terms(g, "W", T - 2)[0], [(5, 0)])
    r = verify_truncated(g, T - 2, points=2, seed=3)
    assert r.passed
    assert r.dropped == {"U": 1, "W": 1, "V": 0}
    assert r.changed["W"] == 0 and r.changed["V"] == 0 and r.changed["U"] > 1e-6
    assert np.max(np.abs(truncated["W"] - full["W"])) == 0  # the reference agrees
    assert "W: drops 1 term ∂E_t/∂W_s, all 0 at these values: the full gradient here" \
        in r.text()


@pytest.mark.parametrize("model, extra", [("doc", ()), ("elman", ()), ("lstm", ()),
                                          ("gru", ("--size", "H=2,D=2,K=2")),
                                          ("docs/examples/models/elman-mean.toml", ()),
                                          ("docs/examples/models/rnn-mean.toml",
                                           ("--activation", "tanh"))])
def test_verify_truncate_passes_for_every_k(model: str, extra: tuple) -> None:
    for k in (0, 2):
        r = bptt("verify", "--model", model, "--steps", "4", "--truncate", str(k),
                 "--points", "3", "--json", *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        report = json.loads(r.stdout)
        assert report["truncate"] == k and report["passed"]
        assert {row["oracle"] for row in report["rows"]} == {"autograd", "fd"}


def test_derive_truncate_prints_the_truncated_sum_and_what_it_drops() -> None:
    r = bptt("derive", "--steps", "3", "--truncate", "1", "--wrt", "w")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "∂E/∂w ≈ ∂E/∂z₂·s₁ + ∂E/∂z₁·s₀"
    assert "drops 1 of the 3 terms ∂E/∂w_s, those with s < 2 − 1: ∂E/∂w_0" in r.stdout
    r = bptt("derive", "--model", "elman", "--steps", "3", "--truncate", "1", "--wrt", "W",
             "--format", "latex")
    assert r.returncode == 0, r.stderr
    assert "\\delta^{(2)}_{1} = \\left(W^{\\top} \\delta^{(2)}_{2}\\right)" in r.stdout
    assert "\\approx" in r.stdout and "∂E_2/∂W_0" in r.stdout
    r = bptt("derive", "--model", "elman", "--steps", "3", "--truncate", "2", "--wrt", "V",
             "--format", "json")
    eq = json.loads(r.stdout)["derivations"][0]["equations"][-1]
    assert eq["relation"] == "≈" and "drops nothing" in eq["note"]


def test_the_truncated_derivation_is_the_sum_of_the_kept_terms() -> None:
    """SymPy's own diff on a small case: doc at T = 3, K = 1 with concrete functions is
    ∂E/∂w₂ + ∂E/∂w₁, each w copy a separate symbol."""
    import sympy as sp
    u, k, v, y, s0 = sp.symbols("u k v y s0")
    w0, w1, w2 = sp.symbols("w0 w1 w2")
    x = sp.symbols("x0:3")
    s = s0
    for t, wt in enumerate((w0, w1, w2)):
        s = sp.tanh(u * x[t] + wt * s + k)
    o = 1 / (1 + sp.exp(-v * s))
    E = -y * sp.log(o) - (1 - y) * sp.log(1 - o)
    want = sp.diff(E, w2) + sp.diff(E, w1)
    g = unroll("doc", steps=3, activation="tanh", output="sigmoid", loss="bce")
    values = draw_points(g, 3, np.random.default_rng(0))
    got = truncated_gradients(g, 1, values)["w"]
    for i in range(3):
        at = {u: values["u"][i], k: values["k"][i], v: values["v"][i], y: values["y"][i],
              s0: values["s_{-1}"][i], w0: values["w"][i], w1: values["w"][i],
              w2: values["w"][i], **{x[t]: values["x"][i, t] for t in range(3)}}
        assert abs(float(want.subs(at)) - got[i]) < 1e-12
    assert "∂E/∂w ≈" in truncated_derivation(g, wrt="w", k=1).text()


@pytest.mark.parametrize("argv, message", [
    (("derive", "--truncate", "-1"), "--truncate: must be at least 0"),
    (("derive", "--truncate", "x"), "--truncate: must be a whole number"),
    (("derive", "--truncate", "1", "--form", "delta"), "--form does not apply with --truncate"),
    (("derive", "--truncate", "1", "--of", "s_1"), "--of does not apply with --truncate"),
    (("derive", "--truncate", "1", "--wrt", "s_1"), "--truncate takes the shared parameters"),
    (("derive", "--model", "elman", "--truncate", "1", "--wrt", "Q"), "unknown --wrt 'Q'"),
    (("verify", "--truncate", "1", "--oracle", "torch"), "--oracle does not apply"),
])
def test_bad_truncate_options_are_one_line(argv: tuple, message: str) -> None:
    r = bptt(*argv)
    assert r.returncode == 2 and message in r.stderr and len(r.stderr.splitlines()) == 1, \
        r.stderr
