"""elman: the hand-written oracles (autograd, torch nn.RNN, finite differences) agree with
each other and with the derived matrix-form gradients; a wrong gradient is rejected."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from bptt_sym import UsageError
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.numeric.matrix import forward_values, matrix_gradients, random_values
from bptt_sym.verification.matrix_oracles import (
    TOLERANCE,
    elman_gradient,
    elman_loss,
    elman_oracle_status,
    max_rel,
    weight_names,
)

HAVE_TORCH = importlib.util.find_spec("torch") is not None
IN_CI = os.environ.get("CI") == "true"
needs_torch = pytest.mark.skipif(not HAVE_TORCH and not IN_CI,
                                 reason="torch not installed (pip install 'bptt-sym[torch]')")

EXACT = 1e-9     # autograd, torch and the matrix form against one another
FD = TOLERANCE["fd"]
BATCH = 3

# Every (hidden, T) for hidden 1..4 and T 1..6; bias and one-hot targets alternate so that
# each of the four (bias, one-hot) combinations occurs at every hidden size.
GRID = [(h, t, (h + t) % 2 == 0, (t // 2 + h) % 2 == 0) for h in range(1, 5)
        for t in range(1, 7)]
# relu on a smaller grid that still covers every hidden size, T = 1 and T = 6
RELU_GRID = [(1, 1, False, True), (1, 6, True, False), (2, 3, True, True),
             (2, 5, False, False), (3, 2, False, True), (3, 6, True, True),
             (4, 4, True, False), (4, 6, False, True)]


def _ids(case: tuple) -> str:
    h, t, bias, one_hot = case
    return f"H{h}-T{t}-{'bias' if bias else 'nobias'}-{'onehot' if one_hot else 'dist'}"


def make_case(hidden: int, steps: int, bias: bool, one_hot: bool, activation: str = "tanh",
              *, inputs: int | None = None, classes: int | None = None, batch: int = BATCH,
              seed: int = 0) -> tuple:
    """The graph and random values at these sizes, with a non-zero initial state s_{-1}."""
    inputs = inputs or 1 + (hidden + steps) % 3
    classes = classes or 2 + (hidden * steps) % 3
    graph = unroll_vector(steps=steps, hidden=hidden, inputs=inputs, classes=classes,
                          bias=bias, activation=activation)
    rng = np.random.default_rng([seed, hidden, steps, int(bias), int(one_hot)])
    values = random_values(graph, rng, batch=batch, one_hot=one_hot)
    values["s_{-1}"] = rng.normal(0, 0.5, values["s_{-1}"].shape)
    return graph, values


def oracle(name: str, graph, values: dict) -> dict[str, np.ndarray]:  # noqa: ANN001
    return elman_gradient(name, values, steps=graph.steps, activation=graph.activation,
                          bias=graph.bias)


def test_grid_covers_what_it_claims() -> None:
    assert {(h, t) for h, t, _, _ in GRID} == {(h, t) for h in range(1, 5) for t in range(1, 7)}
    for h in range(1, 5):
        assert {(b, o) for hh, _, b, o in GRID if hh == h} == \
            {(b, o) for b in (False, True) for o in (False, True)}


@pytest.mark.parametrize("case", GRID[::3] + RELU_GRID[:2], ids=_ids)
def test_loss_is_the_forward_of_the_graph(case: tuple) -> None:
    activation = "relu" if case in RELU_GRID else "tanh"
    graph, values = make_case(*case, activation=activation)
    ours = elman_loss(values, steps=graph.steps, activation=activation, bias=graph.bias)
    theirs = np.asarray(forward_values(graph, values)["E"], dtype=float)
    assert ours.shape == (BATCH,)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)


def test_loss_is_stable_for_large_logits() -> None:
    graph, values = make_case(2, 2, False, True)
    values["V"] = values["V"] * 1e4
    assert np.all(np.isfinite(elman_loss(values, steps=2)))


@pytest.mark.parametrize("activation, case",
                         [("tanh", c) for c in GRID] + [("relu", c) for c in RELU_GRID],
                         ids=lambda v: v if isinstance(v, str) else _ids(v))
def test_autograd_fd_and_the_matrix_form_agree(activation: str, case: tuple) -> None:
    graph, values = make_case(*case, activation=activation)
    matrix = matrix_gradients(graph, values)
    ad = oracle("autograd", graph, values)
    fd = oracle("fd", graph, values)
    assert sorted(ad) == sorted(fd) == sorted(matrix) == sorted(weight_names(graph.bias))
    for p, g in ad.items():
        assert g.shape == values[p].shape and g.dtype == np.float64
    assert max_rel(matrix, ad) <= EXACT
    assert max_rel(matrix, fd) <= FD
    assert max_rel(ad, fd) <= FD


@pytest.mark.parametrize("activation", ("sigmoid", "identity", "f"))
def test_other_activations_autograd_and_fd(activation: str) -> None:
    """f is the abstract activation: derived with f'(z), run with its stand-in tanh."""
    graph, values = make_case(3, 4, True, False, activation=activation)
    matrix = matrix_gradients(graph, values)
    assert max_rel(matrix, oracle("autograd", graph, values)) <= EXACT
    assert max_rel(matrix, oracle("fd", graph, values)) <= FD


@needs_torch
@pytest.mark.parametrize("activation, case",
                         [("tanh", c) for c in GRID] + [("relu", c) for c in RELU_GRID],
                         ids=lambda v: v if isinstance(v, str) else _ids(v))
def test_torch_agrees_with_autograd_and_the_matrix_form(activation: str, case: tuple) -> None:
    assert HAVE_TORCH, "CI installs torch==2.13.0: the torch oracle must run there"
    graph, values = make_case(*case, activation=activation)
    tg = oracle("torch", graph, values)
    assert sorted(tg) == sorted(weight_names(graph.bias))
    for p, g in tg.items():
        assert g.shape == values[p].shape and g.dtype == np.float64
    assert max_rel(tg, oracle("autograd", graph, values)) <= EXACT
    assert max_rel(tg, matrix_gradients(graph, values)) <= EXACT


# ---- the matrix form at a realistic size -----------------------------------------------------

@pytest.fixture(scope="module", params=[False, True], ids=["nobias", "bias"])
def large(request: pytest.FixtureRequest) -> tuple:
    """Hidden 64, T = 50: the graph, values and the derived matrix-form gradients."""
    graph, values = make_case(64, 50, request.param, True, inputs=16, classes=10, batch=4)
    return graph, values, matrix_gradients(graph, values)


def test_large_matrix_form_agrees_with_autograd(large: tuple) -> None:
    graph, values, matrix = large
    assert max_rel(matrix, oracle("autograd", graph, values)) <= EXACT


@needs_torch
def test_large_matrix_form_agrees_with_torch_rnn(large: tuple) -> None:
    assert HAVE_TORCH, "CI installs torch==2.13.0: the torch oracle must run there"
    graph, values, matrix = large
    assert max_rel(matrix, oracle("torch", graph, values)) <= EXACT


# ---- a wrong gradient is rejected ------------------------------------------------------------

def hand_gradient_w(values: dict, steps: int, *, recurrent: bool = True) -> np.ndarray:
    """∂E/∂W by hand, tanh, no bias, batch of rows: a forward loop storing s_t and ŷ_t, then
    δ_t = (Vᵀ(ŷ_t − y_t) + Wᵀδ_{t+1}) ⊙ (1 − s_t ⊙ s_t) and ∂E/∂W = Σ_batch Σ_t δ_t s_{t-1}ᵀ;
    ``recurrent=False`` drops the Wᵀδ_{t+1} term."""
    U, W, V = values["U"], values["W"], values["V"]  # noqa: N806
    states, yhats = [values["s_{-1}"][..., 0]], []
    for t in range(steps):
        states.append(np.tanh(values[f"x_{t}"][..., 0] @ U.T + states[-1] @ W.T))
        logits = states[-1] @ V.T
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        yhats.append(e / e.sum(axis=1, keepdims=True))
    grad = np.zeros_like(W)
    later = None
    for t in reversed(range(steps)):
        s, before = states[t + 1], states[t]
        back = (yhats[t] - values[f"y_{t}"][..., 0]) @ V          # rows: Vᵀ(ŷ_t − y_t)
        if recurrent and later is not None:
            back = back + later @ W                                # rows: Wᵀδ_{t+1}
        later = back * (1 - s * s)
        grad += later.T @ before
    return grad


@pytest.mark.parametrize("size", [(4, 5, 2, 3, 3), (64, 50, 16, 10, 4)], ids=["small", "large"])
def test_dropping_the_recurrent_term_is_rejected(size: tuple) -> None:
    hidden, steps, inputs, classes, batch = size
    graph, values = make_case(hidden, steps, False, True, inputs=inputs, classes=classes,
                              batch=batch)
    refs = [oracle("autograd", graph, values)]
    if HAVE_TORCH:
        refs.append(oracle("torch", graph, values))
    matrix = matrix_gradients(graph, values)
    right = {**matrix, "W": hand_gradient_w(values, steps)}
    wrong = {**matrix, "W": hand_gradient_w(values, steps, recurrent=False)}
    for ref in refs:
        assert max_rel(right, ref) <= EXACT  # the hand construction itself is right
        assert max_rel(wrong, ref) > 1e-3    # without Wᵀδ_{t+1} it is far off
        assert max_rel({"W": wrong["W"]}, ref) == max_rel(wrong, ref)
        assert max_rel({p: wrong[p] for p in ("U", "V")}, ref) <= EXACT


def test_max_rel_sees_a_one_entry_error() -> None:
    graph, values = make_case(3, 3, True, True)
    ad = oracle("autograd", graph, values)
    bad = {p: g.copy() for p, g in ad.items()}
    bad["c"][1, 0] += 1e-3 * np.abs(bad["c"]).max()
    assert max_rel(bad, ad) == pytest.approx(1e-3, rel=1e-6)


# ---- when an oracle cannot run ---------------------------------------------------------------

@pytest.mark.parametrize("activation", ("sigmoid", "identity"))
def test_torch_rnn_has_no_such_nonlinearity(activation: str) -> None:
    why = elman_oracle_status("torch", activation)
    assert why is not None and "tanh and relu" in why and activation in why
    graph, values = make_case(2, 2, False, True, activation=activation)
    with pytest.raises(UsageError, match="tanh and relu"):
        oracle("torch", graph, values)


def test_missing_torch_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    why = elman_oracle_status("torch", "tanh")
    assert why == "torch is not installed; pip install 'bptt-sym[torch]'"
    assert elman_oracle_status("autograd", "tanh") is None
    assert elman_oracle_status("fd", "tanh") is None


def test_usage_errors() -> None:
    graph, values = make_case(2, 2, True, True)
    assert "unknown oracle" in elman_oracle_status("jax", "tanh")
    with pytest.raises(UsageError, match="unknown oracle"):
        elman_gradient("jax", values, steps=2, bias=True)
    with pytest.raises(UsageError, match="unknown activation"):
        elman_gradient("autograd", values, steps=2, activation="softplus", bias=True)
    with pytest.raises(UsageError, match="unknown activation"):
        elman_loss(values, steps=2, activation="softplus", bias=True)
    with pytest.raises(UsageError, match="lack x_2, y_2"):
        elman_gradient("autograd", values, steps=3, bias=True)
    with pytest.raises(UsageError, match="steps"):
        elman_loss(values, steps=0)
    without_c = {k: v for k, v in values.items() if k != "c"}
    with pytest.raises(UsageError, match="lack c"):
        elman_gradient("fd", without_c, steps=2, bias=True)
