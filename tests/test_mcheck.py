"""check for the vector model (elman): the article's matrix formulas hold in every notation,
everything `derive --model elman` prints holds, each kind of mistake is named, and bad input
is invalid.  The truth is independent of our derivation engine: complex-step derivatives of
the forward pass, themselves compared here with autograd and with SymPy's own diff."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from flint import fmpq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bptt_sym.check.checker import check
from bptt_sym.check.decide import START_BITS, describe, working
from bptt_sym.check.matrix import check_matrix
from bptt_sym.check.truth_matrix import DPS, MPoint
from bptt_sym.cli.main import main
from bptt_sym.graph.matrix import ELMAN
from bptt_sym.verification.matrix_oracles import elman_gradient

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def _verdicts(text: str, **kw: object) -> list[str]:
    return [v.verdict for v in check_matrix(text, **kw)]


# ---------------------------------------------------------------- the truth is independent


def _exact(x: object) -> sp.Expr:
    """A leaf (an exact rational) or a ball's midpoint, as a SymPy number."""
    if isinstance(x, fmpq):
        return sp.Rational(int(x.p), int(x.q))
    return sp.Float(describe(x, DPS), DPS)


@pytest.mark.parametrize("bias", [False, True])
def test_dual_number_truth_agrees_with_autograd(bias: bool) -> None:
    with working(START_BITS):
        p = MPoint.draw(ELMAN, steps=3, dims={"H": 3, "D": 2, "K": 4}, bias=bias,
                        activation="tanh", rng=random.Random(1))
        truth = {w: np.array([[float(x) for x in row] for row in p.derivative("E", w)])
                 for w in p.graph.copies}
    values = {k: np.array([[float(x) for x in row] for row in v]) for k, v in p.leaves.items()}
    values = {k: (v if k in p.graph.copies else v[None]) for k, v in values.items()}
    ref = elman_gradient("autograd", values, steps=3, activation="tanh", bias=bias)
    for w, g in truth.items():
        np.testing.assert_allclose(g, ref[w], rtol=1e-12, atol=1e-14)


def test_dual_number_jacobian_agrees_with_sympy_diff() -> None:
    """∂s_1/∂s_0 at H = 2 by SymPy's diff of the state written out entry by entry."""
    with working(START_BITS):
        p = MPoint.draw(ELMAN, steps=2, dims={"H": 2, "D": 2, "K": 2}, bias=False,
                        activation="tanh", rng=random.Random(2))
        jac = p.derivative("s_1", "s_0")
        s0 = sp.symbols("a0 a1")
        w = sp.Matrix(2, 2, [_exact(x) for x in p.leaves["W"].ravel()])
        u = sp.Matrix(2, 2, [_exact(x) for x in p.leaves["U"].ravel()])
        x1 = sp.Matrix([_exact(x) for x in p.leaves["x_1"].ravel()])
        s1 = (u * x1 + w * sp.Matrix(s0)).applyfunc(sp.tanh)
        at = {s0[i]: _exact(p.values["s_0"][i, 0]) for i in range(2)}
        for i in range(2):
            for j in range(2):
                want = sp.diff(s1[i], s0[j]).evalf(DPS, subs=at)
                assert abs(float(want - _exact(jac[i, j]))) < 1e-40
                assert jac[i, j].rad() < 1e-100  # the enclosure is tight


# ---------------------------------------------------------------- what holds


@pytest.mark.parametrize("name", ["elman-ascii.txt", "elman-unicode.txt", "elman-latex.md"])
def test_the_matrix_formulas_hold_in_every_notation(name: str) -> None:
    verdicts = check_matrix((EXAMPLES / name).read_text(encoding="utf-8"), steps=3)
    assert len(verdicts) >= 8
    assert [v.verdict for v in verdicts] == ["holds"] * len(verdicts), \
        [v.text() for v in verdicts if v.verdict != "holds"]


@pytest.mark.parametrize("steps, bias, activation", [(1, False, "tanh"), (2, True, "tanh"),
                                                     (3, False, "tanh"), (4, True, "sigmoid"),
                                                     (3, False, "relu"), (3, True, "f")])
def test_every_line_derive_prints_holds(capsys: pytest.CaptureFixture, steps: int, bias: bool,
                                        activation: str) -> None:
    argv = ["derive", "--model", "elman", "--steps", str(steps), "--format", "json",
            "--activation", activation] + (["--bias"] if bias else [])
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    lines = {f"{eq['lhs'][fmt]} = {eq['rhs'][fmt]}" for d in doc["derivations"]
             for eq in d["equations"] for fmt in ("ascii", "unicode", "latex")}
    assert len(lines) > 20
    verdicts = check_matrix("\n".join(sorted(lines)), steps=steps, bias=bias,
                            activation=activation)
    assert len(verdicts) == len(lines)
    bad = [v.text() for v in verdicts if v.verdict != "holds"]
    assert not bad, bad


def test_bias_gradients_and_forward_equations() -> None:
    text = ("dE/db = sum_t delta_t\ndE/dc = sum_t (yhat_t - y_t)\n"
            "z_t = U x_t + W s_{t-1} + b\nyhat_t = softmax(V s_t + c)\n"
            "E_t = -y_t^T log(yhat_t)\nE = sum_{t=0}^{T-1} E_t\n"
            "dyhat_t/dl_t = diag(yhat_t) - yhat_t yhat_t^T\ndE_t/dyhat_t = -y_t / yhat_t\n"
            "ds_t/ds_k = prod_{j=k+1}^{t} ds_j/ds_{j-1}, k <= t\n"
            "dE_t/dW_k = (diag(1 - s_k * s_k) (ds_t/ds_k)^T V^T (yhat_t - y_t)) s_{k-1}^T\n"
            "dE/dW = sum_t outer(delta_t, s_{t-1})\ndelta_3 = 0 * delta_2")
    verdicts = check_matrix(text, steps=3, bias=True)
    assert [v.verdict for v in verdicts] == ["holds"] * 12, [v.text() for v in verdicts]


def test_abstract_f_holds_for_every_activation_and_rejects_a_tanh_formula() -> None:
    text = ("delta_t = (V^T (yhat_t - y_t) + W^T delta_{t+1}) * f'(z_t)\n"
            "ds_t/ds_{t-1} = diag(f'(z_t)) W\n"
            "delta_t = (V^T (yhat_t - y_t) + W^T delta_{t+1}) * (1 - s_t^2)")
    verdicts = check_matrix(text, steps=3, activation="f")
    assert [v.verdict for v in verdicts] == ["holds", "holds", "fails"]
    assert verdicts[2].diagnosis[0].kind == "local-derivative"
    assert "f'(z_t)" in verdicts[2].diagnosis[0].text
    assert "f(z)" in verdicts[2].counterexample  # the random cubic that stood for f
    # with tanh the same tanh-only formula holds
    assert check_matrix(verdicts[2].source, steps=3)[0].verdict == "holds"


def test_cli_activation_defaults_to_tanh_for_elman(capsys: pytest.CaptureFixture) -> None:
    assert main(["derive", "--model", "elman", "--wrt", "W", "--form", "delta"]) == 0
    assert "(1 − sₜ ⊙ sₜ)" in capsys.readouterr().out
    assert main(["derive", "--model", "elman", "--wrt", "W", "--form", "delta",
                 "--activation", "f"]) == 0
    assert "f'(zₜ)" in capsys.readouterr().out


def test_the_check_api_dispatches_on_the_model() -> None:
    assert [v.verdict for v in check("dE/dl_t = yhat_t - y_t", model="elman", steps=2)] == \
        ["holds"]


# ---------------------------------------------------------------- what fails, and why

STUDENT_KINDS = ["transpose", "missing-term", "missing-factor", "step-index", "softmax",
                 "shape", "local-derivative", "sign", "copy"]


def test_student_mistakes_are_each_diagnosed() -> None:
    verdicts = check_matrix((EXAMPLES / "elman-student.txt").read_text(encoding="utf-8"),
                            steps=3)
    assert [v.verdict for v in verdicts[:3]] == ["holds"] * 3
    wrong = verdicts[3:]
    assert [v.verdict for v in wrong] == ["fails"] * len(STUDENT_KINDS)
    assert [v.diagnosis[0].kind for v in wrong] == STUDENT_KINDS
    texts = [v.diagnosis[0].text for v in wrong]
    assert "W should be Wᵀ" in texts[0]
    assert "Wᵀ δ_{t+1}" in texts[1]
    assert "tanh'(z_t) = 1 − s_t ⊙ s_t" in texts[2]
    assert "s_t should be s_{t-1}" in texts[3]
    assert "ŷ_t − y_t" in texts[4]
    assert "K×H" in texts[5] and "K×1" in texts[5]
    assert wrong[5].diagnosis[1].kind == "transpose"
    assert "∂s_k/∂W_k" in texts[8]


@pytest.mark.parametrize("formula, kind", [
    ("dE/dW = sum_t s_{t-1} delta_t^T", "whole-transpose"),
    ("dE/dW = sum_{t=1}^{T-1} delta_t s_{t-1}^T", "bounds"),
    ("dE/dW = delta_t s_{t-1}^T", "missing-sum"),
    ("ds_t/ds_k = prod_{j=k+1}^{t} ds_j/ds_{j-1}", "step-range"),
    ("dE_t/dW = sum_{k=0}^{t} dE_t/dyhat_t @ dyhat_t/ds_t @ (prod_{j=k}^{t} ds_j/ds_{j-1}) "
     "@ ds_k/dW_k", "bounds"),
    ("delta_t = (V^T (yhat_t - y_t) + W^T delta_{t+1}) * (1 - z_t^2)", "local-derivative"),
    ("delta_t = (V^T (y_t - yhat_t) + W^T delta_{t+1}) * (1 - s_t^2)", "softmax"),
    ("delta_t = (V^T (yhat_t - y_t) * yhat_t + W^T delta_{t+1}) * (1 - s_t^2)", "shape"),
    ("ds_t/ds_{t-1} = diag(1 - s_t * s_t) W^T", "transpose"),
    ("dE/dU = sum_t delta_{t+1} x_t^T", "step-index"),
])
def test_more_mistakes(formula: str, kind: str) -> None:
    (v,) = check_matrix(formula, steps=3)
    assert v.verdict == "fails", v.text()
    assert v.diagnosis and v.diagnosis[0].kind == kind, v.text()


def test_a_tiny_difference_is_not_tolerated() -> None:
    near = "dE/dV = sum_t (yhat_t - y_t) s_t^T + 1/" + "1" + "0" * 30
    (v,) = check_matrix(near, steps=2)
    assert v.verdict == "fails"
    assert v.counterexample and abs(v.counterexample["difference"] + 1e-30) < 1e-40


def test_a_shape_mismatch_names_both_shapes() -> None:
    (v,) = check_matrix("dE/dW = sum_t delta_t x_t^T", steps=2)
    assert v.verdict == "fails" and v.diagnosis[0].kind == "shape"
    assert "H×H" in v.diagnosis[0].text and "H×D" in v.diagnosis[0].text


# ---------------------------------------------------------------- what is invalid


@pytest.mark.parametrize("formula, words", [
    ("dE/dQ = sum_t delta_t", "unknown name Q"),
    ("a = sum_{t=0}^{1} s_t", "unknown name a"),
    ("dE/dW = sum_t delta_t s_{t+5}^T", "out of range"),
    ("dE/db = sum_t delta_t", "--bias"),
    ("s_9 = tanh(z_9)", "out of range"),
    ("s_{t+5} = tanh(z_{t+5})", "no step t = 0..2"),
    ("dE/dW = sum_t delta_t s_{t-1}^T +", "syntax error"),
    ("dE/dW = __import__('os').system('true')", "syntax error"),
    ("x_t = foo(x_t)", "unknown name foo"),
    ("x_t = exp'(x_t)", "write exp'"),
    ("dE/dW = W^{5000}", "exponent"),
    ("a_t b_k c_j d_i = 0", "free step"),
    ("s_t = log(z_t - 10)", "log of a number that is not positive"),
    ("ddelta_t/dW = 0", "δ_t stands for ∂E/∂z_t"),
])
def test_invalid_formulas(formula: str, words: str) -> None:
    (v,) = check_matrix(formula, steps=3)
    assert v.verdict == "invalid", v.text()
    assert words in v.message, v.message


def test_user_text_never_reaches_sympy_parsers(monkeypatch: pytest.MonkeyPatch) -> None:
    import sympy.parsing.sympy_parser as parser

    def refuse(*args: object, **kw: object) -> None:
        raise AssertionError("parse_expr was called")

    monkeypatch.setattr(parser, "parse_expr", refuse)
    monkeypatch.setattr(sp, "sympify", refuse)
    text = (EXAMPLES / "elman-student.txt").read_text(encoding="utf-8")
    assert len(_verdicts(text, steps=2)) == 12


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_formulas_never_crash(data: st.DataObject) -> None:
    base = "delta_t = (V^T (yhat_t - y_t) + W^T delta_{t+1}) * (1 - s_t^2)"
    chars = list(base)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(chars) - 1))
        chars[i] = data.draw(st.sampled_from(list("tTW^*@()_{}+-1s δŷ⊙ᵀ")))
    verdicts = check_matrix("".join(chars), steps=2)
    assert len(verdicts) <= 1
    assert all(v.verdict in ("holds", "fails", "invalid") for v in verdicts)


# ---------------------------------------------------------------- the command


def test_cli_check_elman(capsys: pytest.CaptureFixture) -> None:
    good = str(EXAMPLES / "elman-ascii.txt")
    assert main(["check", good, "--model", "elman", "--steps", "3"]) == 0
    assert "8 hold, 0 fail, 0 invalid" in capsys.readouterr().out
    bad = str(EXAMPLES / "elman-student.txt")
    assert main(["check", bad, "--model", "elman", "--steps", "3", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"] == {"holds": 3, "fails": 9, "undecided": 0, "invalid": 0, "skipped": 0}
    assert doc["equations"][3]["diagnosis_kinds"] == ["transpose"]


def test_cli_check_elman_at_given_sizes(capsys: pytest.CaptureFixture) -> None:
    good = str(EXAMPLES / "elman-unicode.txt")
    assert main(["check", good, "--model", "elman", "--hidden", "5", "--inputs", "2",
                 "--classes", "3"]) == 0
    assert "1 size ×" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["--hidden", "0"], "--hidden"),
    (["--output", "sigmoid"], "--output"),  # elman's output is in its equations
    (["--steps", "0"], "--steps"),
])
def test_cli_check_elman_bad_options(capsys: pytest.CaptureFixture, argv: list[str],
                                     words: str) -> None:
    try:
        code = main(["check", str(EXAMPLES / "elman-ascii.txt"), "--model", "elman", *argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
