"""The gated built-ins against forward passes written here from the papers' equations (HIPS
autograd differentiates them): the GRU of Cho et al. 2014 (gru-cho, the reset gate before the
product: n_t = tanh(W_in x_t + W_hn (r_t ⊙ h_{t-1}) + b_n)) and the LSTM with peepholes of
Gers et al. 2002 (lstm-peephole), which no torch.nn module computes, and PyTorch's GRU and
LSTM as their documentation writes them; and a user's own cell, the minimal gated unit of
Zhou et al. 2016 written as a model file (docs/examples/models/mgu.toml).  Nothing of
bptt_sym's interpreter or derivation is used by the references."""

from __future__ import annotations

from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.model.registry import model_spec
from bptt_sym.numeric.matrix import matrix_program, random_values

MGU = str(Path(__file__).parent.parent / "docs" / "examples" / "models" / "mgu.toml")


def _sigmoid(a):  # noqa: ANN001, ANN202
    return 1 / (1 + anp.exp(-a))


def _xent(logits, y):  # noqa: ANN001, ANN202 - softmax with cross-entropy, columns
    a = logits - anp.max(logits)
    return -anp.sum(y * (a - anp.log(anp.sum(anp.exp(a)))))


def cho_step(p, x, h):  # noqa: ANN001, ANN201
    r = _sigmoid(p["W_ir"] @ x + p["W_hr"] @ h + p["b_r"])
    z = _sigmoid(p["W_iz"] @ x + p["W_hz"] @ h + p["b_z"])
    n = anp.tanh(p["W_in"] @ x + p["W_hn"] @ (r * h) + p["b_n"])
    return (1 - z) * n + z * h


def torch_gru_step(p, x, h):  # noqa: ANN001, ANN201
    r = _sigmoid(p["W_ir"] @ x + p["b_ir"] + p["W_hr"] @ h + p["b_hr"])
    z = _sigmoid(p["W_iz"] @ x + p["b_iz"] + p["W_hz"] @ h + p["b_hz"])
    n = anp.tanh(p["W_in"] @ x + p["b_in"] + r * (p["W_hn"] @ h + p["b_hn"]))
    return (1 - z) * n + z * h


def mgu_step(p, x, h):  # noqa: ANN001, ANN201
    """Zhou et al. 2016, the minimal gated unit: one gate f_t."""
    f = _sigmoid(p["W_f"] @ x + p["U_f"] @ h + p["b_f"])
    n = anp.tanh(p["W_h"] @ x + p["U_h"] @ (f * h) + p["b_h"])
    return (1 - f) * h + f * n


def lstm_step(p, x, state, peep=False):  # noqa: ANN001, ANN201
    """torch.nn.LSTM's documented equations; with ``peep`` Gers et al.'s peepholes."""
    h, c = state
    zero = 0 * c
    i = _sigmoid(p["W_ii"] @ x + p["b_ii"] + p["W_hi"] @ h + p["b_hi"] +
                 (p["P_i"] * c if peep else zero))
    f = _sigmoid(p["W_if"] @ x + p["b_if"] + p["W_hf"] @ h + p["b_hf"] +
                 (p["P_f"] * c if peep else zero))
    g = anp.tanh(p["W_ig"] @ x + p["b_ig"] + p["W_hg"] @ h + p["b_hg"])
    c = f * c + i * g
    o = _sigmoid(p["W_io"] @ x + p["b_io"] + p["W_ho"] @ h + p["b_ho"] +
                 (p["P_o"] * c if peep else zero))
    return o * anp.tanh(c), c


def _loss(step, p, seqs):  # noqa: ANN001, ANN202
    total = 0.0
    for xs, ys, state in seqs:
        for x, y in zip(xs, ys):
            state = step(p, x, state)
            h = state[0] if isinstance(state, tuple) else state
            total = total + _xent(p["V"] @ h + p["b_y"], y)
    return total


def _first(values: dict, b: int, model: str) -> object:
    """The initial state of sequence b: h_{-1} (and c_{-1}), given or zero."""
    zero = np.zeros((values["V"].shape[1], 1))
    h = values["h_{-1}"][b] if "h_{-1}" in values else zero
    if not model.startswith("lstm"):
        return h
    return h, (values["c_{-1}"][b] if "c_{-1}" in values else zero)


@pytest.mark.parametrize("model, step", [
    ("gru-cho", cho_step), ("gru", torch_gru_step), ("lstm", lstm_step),
    ("lstm-peephole", lambda p, x, s: lstm_step(p, x, s, peep=True)), (MGU, mgu_step)],
    ids=["gru-cho", "gru", "lstm", "lstm-peephole", "mgu-file"])
@pytest.mark.parametrize("steps, sizes", [(1, {"H": 2, "D": 1, "K": 2}),
                                          (4, {"H": 3, "D": 2, "K": 4}),
                                          (6, {"H": 4, "D": 3, "K": 3})])
def test_a_gru_against_its_paper(model: str, step, steps: int, sizes: dict) -> None:  # noqa: ANN001
    graph = unroll_vector(model_spec(model), steps=steps, sizes=sizes)
    values = random_values(graph, np.random.default_rng(steps), batch=2)
    derived = matrix_program(graph)(values)
    params = {p: values[p] for p in model_spec(model).parameters}
    seqs = [([values[f"x_{t}"][b] for t in range(steps)], [values[f"y_{t}"][b]
                                                           for t in range(steps)],
             _first(values, b, model)) for b in range(2)]
    names = list(params)
    reference = grad(lambda *w: _loss(step, dict(zip(names, w)), seqs),
                     argnum=tuple(range(len(names))))(*params.values())
    for name, g in zip(names, reference):
        if name not in derived:  # at T = 1 a weight of a zero initial state is not in the graph
            assert steps == 1 and np.allclose(g, 0), name
            continue
        assert np.allclose(derived[name], g, rtol=1e-9, atol=1e-12), name


def test_the_two_grus_differ() -> None:
    """The reset gate on the other side of the product is another function: at the same
    weights the two forward passes give different losses (so each test above is a test)."""
    rng = np.random.default_rng(1)
    p = {"W_ir": rng.normal(size=(3, 2)), "W_iz": rng.normal(size=(3, 2)),
         "W_in": rng.normal(size=(3, 2)), "W_hr": rng.normal(size=(3, 3)),
         "W_hz": rng.normal(size=(3, 3)), "W_hn": rng.normal(size=(3, 3))}
    zeros = {k: np.zeros((3, 1)) for k in ("b_r", "b_z", "b_n", "b_ir", "b_iz", "b_in", "b_hr",
                                           "b_hz", "b_hn")}
    p.update(zeros, V=rng.normal(size=(2, 3)), b_y=np.zeros((2, 1)))
    x, h = rng.normal(size=(2, 1)), rng.normal(size=(3, 1))
    assert not np.allclose(cho_step(p, x, h), torch_gru_step(p, x, h))


@pytest.mark.parametrize("model", ["lstm", "lstm-peephole", "gru", "gru-cho"])
def test_the_export_names_the_variant_and_braces_its_subscripts(model: str, capsys) -> None:  # noqa: ANN001
    from bptt_sym.cli.main import main

    assert main(["export", "--model", model, "--steps", "2", "--format", "markdown",
                 "-o", "-"]) == 0
    text = capsys.readouterr().out
    title = model_spec(model).title.split(":")[0]
    assert f"Model {model}: {title}" in text
    assert "$W_{hr}$" in text or "$W_{hi}$" in text
    assert "$W_hr$" not in text and "$W_hi$" not in text
    assert "activation tanh" not in text  # the cell's own sigmoid and tanh, no --activation
