"""``check --layout``: what ∂a/∂b of two vectors means in matrix formulas.  The reference is
the Jacobian itself, computed here with autograd from a forward pass written for the test:
in the numerator layout ∂h_t/∂h_{t-1} = W (rows: h_t's entries); d2l's denominator layout
writes its transpose."""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import jacobian

from bptt_sym.check.checker import check
from bptt_sym.cli.main import main

ELMAN_STEP = r"$$\frac{\partial s_t}{\partial s_{t-1}} = %s$$"


def test_the_reference_jacobian_of_one_elman_step_is_diag_times_w() -> None:
    rng = np.random.default_rng(0)
    W, U, x, s = rng.normal(size=(3, 3)), rng.normal(size=(3, 2)), rng.normal(size=2), \
        rng.normal(size=3)
    J = jacobian(lambda v: anp.tanh(U @ x + W @ v))(s)
    new = np.tanh(U @ x + W @ s)
    assert np.allclose(J, np.diag(1 - new**2) @ W)  # numerator: a row per entry of s_t


def _verdict(text: str, layout: str) -> tuple[str, str]:
    [v] = check(text, model="elman", steps=3, layout=layout)
    return v.verdict, " ".join(d.text for d in v.diagnosis)


def test_numerator_layout_is_the_default_and_reads_the_jacobian() -> None:
    right, transposed = "diag(1 - s_t^{⊙2}) W", "W^T diag(1 - s_t^{⊙2})"
    assert _verdict(ELMAN_STEP % right, "numerator")[0] == "holds"
    verdict, why = _verdict(ELMAN_STEP % transposed, "numerator")
    assert verdict == "fails" and "--layout denominator" in why
    [v] = check(ELMAN_STEP % right, model="elman", steps=3)
    assert v.verdict == "holds"


def test_denominator_layout_reads_the_transpose() -> None:
    right, untransposed = "W^T diag(1 - s_t^{⊙2})", "diag(1 - s_t^{⊙2}) W"
    assert _verdict(ELMAN_STEP % right, "denominator")[0] == "holds"
    verdict, why = _verdict(ELMAN_STEP % untransposed, "denominator")
    assert verdict == "fails" and "--layout numerator" in why


def test_a_chain_of_jacobians_in_the_denominator_layout() -> None:
    # d2l: dL/dh_t = (dh_{t+1}/dh_t) dL/dh_{t+1} + ..., the Jacobian standing on the left
    chain = r"$$\frac{\partial E}{\partial s_t} = \frac{\partial s_{t+1}}{\partial s_t} " \
            r"\frac{\partial E}{\partial s_{t+1}} + V^T (\hat{y}_t - y_t)$$"
    assert _verdict(chain, "denominator")[0] == "holds"
    verdict, why = _verdict(chain, "numerator")
    assert verdict == "fails" and "denominator layout" in why


def test_a_gradient_of_the_loss_is_the_same_in_both_layouts() -> None:
    text = r"$$\frac{\partial E}{\partial V} = \sum_t (\hat{y}_t - y_t) s_t^T$$"
    assert _verdict(text, "numerator")[0] == _verdict(text, "denominator")[0] == "holds"


def test_the_cli_option_and_a_bad_layout(tmp_path, capsys) -> None:
    f = tmp_path / "d.tex"
    f.write_text(ELMAN_STEP % "W^T diag(1 - s_t^{⊙2})", encoding="utf-8")
    assert main(["check", str(f), "--model", "elman", "--steps", "3",
                 "--layout", "denominator"]) == 0
    assert main(["check", str(f), "--model", "elman", "--steps", "3"]) == 1
    capsys.readouterr()
    try:
        main(["check", str(f), "--model", "elman", "--layout", "rows"])
    except SystemExit as e:
        assert e.code == 2
    assert "invalid choice: 'rows'" in capsys.readouterr().err


def test_a_step_variable_in_an_exponent_counts_from_first() -> None:
    # d2l (h_1 ... h_T): dh_T/dh_t = (W_hh^T)^{T-t}; with --first 1, t is the book's number
    model = "tests/corpus/models/d2l-linear-sum.toml"
    text = r"$$\partial_{\mathbf{h}_t} \mathbf{h}_T = \left(\mathbf{W}_{hh}^\top\right)^{T-t}$$"
    [v] = check(text, model=model, steps=4, first=1, layout="denominator")
    assert v.verdict == "holds"
    [v] = check(text.replace("T-t", "T-t+1"), model=model, steps=4, first=1,
                layout="denominator")
    assert v.verdict == "fails"
    zero = text.replace("T-t", "T-1-t").replace(r"\mathbf{h}_T", r"\mathbf{h}_{T-1}")
    [v] = check(zero, model=model, steps=4, first=0, layout="denominator")
    assert v.verdict == "holds"


def test_local_partials_read_dh_dw_as_the_copy_of_that_step() -> None:
    # the reference: dE/dU = sum_t (dE/dz_t) x_t^T (V3); with --partials local, dz_t/dU is
    # the copy's, so the chain through dE/dz_t sums to dE/dU; with total it double counts
    text = r"$$\frac{\partial E}{\partial U} = \sum_t \frac{\partial E}{\partial z_t} " \
           r"\frac{\partial z_t}{\partial U}$$"
    [v] = check(text, model="elman", steps=3, partials="local")
    assert v.verdict == "holds", v.message
    [v] = check(text, model="elman", steps=3)
    assert v.verdict == "fails" and "--partials local" in " ".join(d.text for d in v.diagnosis)
    # the loss itself: dE/dU is the sum over copies in both readings
    total = r"$$\frac{\partial E}{\partial U} = \sum_t \frac{\partial E}{\partial U_t}$$"
    for partials in ("total", "local"):
        [v] = check(total, model="elman", steps=3, partials=partials)
        assert v.verdict == "holds"


def test_the_cli_partials_option(tmp_path) -> None:
    f = tmp_path / "d.txt"
    f.write_text("dE/dU = sum_t dE/dz_t dz_t/dU\n", encoding="utf-8")
    assert main(["check", str(f), "--model", "elman", "--partials", "local"]) == 0
    assert main(["check", str(f), "--model", "elman"]) == 1


def test_a_counterexample_numbers_the_steps_as_the_document_does() -> None:
    """With --first 1 the failing step is shown in the book's numbers (s_1 is step 1): the
    recursion term left out makes ∂E/∂s_t wrong at every step but the last (V4)."""
    text = r"$$\frac{\partial E}{\partial s_t} = V^\top (\hat{y}_t - y_t)$$"
    [v] = check(text, model="elman", steps=3, first=1)
    assert v.verdict == "fails" and v.counterexample["t"] in ("1", "2"), v.counterexample
    [v] = check(text, model="elman", steps=3)
    assert v.verdict == "fails" and v.counterexample["t"] in ("0", "1"), v.counterexample
