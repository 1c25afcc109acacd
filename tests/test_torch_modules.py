"""verify against PyTorch's own recurrent modules (issue 13, first part): the built-in lstm
and gru name their gates in a [torch] table, and the derived gradients must agree with
torch.nn.LSTM / torch.nn.GRU (float64) with the weights copied in.  The reference is PyTorch's
module, written by others; a model whose equations differ from its module (the reset gate
before the product, Cho et al.'s GRU) must not agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from bptt_sym.errors import BpttError, UsageError
from bptt_sym.model.load import parse_model
from bptt_sym.model.registry import model_spec
from bptt_sym.verification.matrix import verify_matrix

torch = pytest.importorskip("torch")

GRU_TEXT = (Path(__file__).resolve().parent.parent / "bptt_sym" / "builtin" /
            "gru.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("model", ["lstm", "gru"])
@pytest.mark.parametrize("steps, sizes", [(1, {"H": 2, "D": 1, "K": 2}),
                                          (3, {"H": 1, "D": 1, "K": 2}),  # one entry
                                          (2, {"H": 1, "D": 3, "K": 3}),
                                          (3, {"H": 3, "D": 2, "K": 4}),
                                          (6, {"H": 4, "D": 3, "K": 5})])
def test_the_derived_gradients_agree_with_the_torch_module(model: str, steps: int,
                                                           sizes: dict) -> None:
    report = verify_matrix(model_spec(model), steps=steps, sizes=sizes, points=3,
                           oracles=("torch",))
    assert report.passed, report.text()
    compared = {r.parameter for r in report.rows}
    every = set(model_spec(model).parameters)
    # at T = 1 the recurrent weights multiply the zero initial state: not in the graph
    assert compared == every if steps > 1 or model == "gru" else compared < every
    assert all(r.max_rel <= 1e-9 for r in report.rows)


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_hidden_64_at_50_steps(model: str) -> None:
    """The issue's large case: hidden 64, T = 50, against the torch module and autograd on
    the model file's interpreter, every gradient to 1e-9 relative."""
    report = verify_matrix(model_spec(model), steps=50, sizes={"H": 64, "D": 8, "K": 10},
                           points=1, oracles=("torch", "autograd"))
    assert report.passed, report.text()
    assert {r.oracle for r in report.rows} == {"torch", "autograd"}
    assert {r.parameter for r in report.rows} == set(model_spec(model).parameters)
    assert all(r.max_rel <= 1e-9 for r in report.rows)


def test_a_model_that_is_not_its_module_does_not_agree() -> None:
    """Cho et al.'s reset gate before the product, n_t = tanh(W_in x_t + b_in + W_hn (r_t ⊙
    h_{t-1}) + b_hn), with torch.nn.GRU's table: the derivation is right for the file's
    equations (autograd agrees) and torch, which computes the other GRU, does not."""
    cho = GRU_TEXT.replace('name = "gru"', 'name = "gru-cho-test"').replace(
        "r_t * (W_hn h_{t-1} + b_hn)", "W_hn (r_t * h_{t-1}) + b_hn")
    spec = parse_model(cho)
    assert verify_matrix(spec, steps=3, points=2, oracles=("autograd",)).passed
    report = verify_matrix(spec, steps=3, points=2, oracles=("torch",))
    assert not report.passed
    failed = {r.parameter for r in report.rows if not r.passed}
    assert "W_hn" in failed, failed


def test_torch_without_a_table_is_one_line_naming_it() -> None:
    with pytest.raises(UsageError, match=r"--oracle torch: torch needs a \[torch\] table"):
        verify_matrix(model_spec("docs/examples/models/rnn-rows.toml"), steps=2,
                      oracles=("torch",))


@pytest.mark.parametrize("change, message", [
    ('module = "GRU"', "[torch] module must be one of RNN, LSTM, GRU"),
    ('weight_ih = ["W_ir", "W_iz", "W_in"]', "weight_ih of a torch.nn.GRU has 3 name(s), got 2"),
    ('bias_hh = ["b_hr", "b_hz", "b_hn"]', "gives bias_ih and bias_hh together"),
    ('output = ["V", "b_y"]', "needs output"),
    ('weight_hh = ["W_hr", "W_hz", "W_hn"]', "W_hq is not a parameter of the model"),
])
def test_a_bad_torch_table_is_one_line_with_its_place(change: str, message: str) -> None:
    replacement = {
        'module = "GRU"': 'module = "Transformer"',
        'weight_ih = ["W_ir", "W_iz", "W_in"]': 'weight_ih = ["W_ir", "W_iz"]',
        'bias_hh = ["b_hr", "b_hz", "b_hn"]': "",
        'output = ["V", "b_y"]': "",
        'weight_hh = ["W_hr", "W_hz", "W_hn"]': 'weight_hh = ["W_hr", "W_hz", "W_hq"]',
    }[change]
    text = GRU_TEXT.replace(change, replacement)
    with pytest.raises(BpttError) as exc:
        parse_model(text, path="gru.toml")
    assert message in str(exc.value), str(exc.value)
    assert str(exc.value).startswith("gru.toml:") and "\n" not in str(exc.value)


def test_the_torch_table_is_written_back_by_models_show() -> None:
    from bptt_sym.model.write import model_toml

    spec = model_spec("lstm")
    again = parse_model(model_toml(spec))
    assert again.torch == spec.torch and again.torch["module"] == "LSTM"
