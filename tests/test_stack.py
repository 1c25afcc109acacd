"""The stacked column [a; b] (issue 13's Colah-style LSTM, f_t = σ(W_f [h_{t-1}; x_t] + b_f)):
the grammar reads it, a size letter may be the sum of others (M = "H + D"), its VJP and
Jacobian in the rule table agree with SymPy's own jacobian of the explicit matrices, and the
example model file docs/examples/models/lstm-colah.toml derives, verifies against
torch.nn.LSTM (each W split into its h and x columns) and checks hand formulas."""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from bptt_sym.errors import BpttError
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.model.load import parse_model
from bptt_sym.model.registry import model_spec
from bptt_sym.rules.expressions import Rows, Stack
from bptt_sym.rules.matrix import JACOBIAN, VJP
from bptt_sym.syntax.formula import parse
from bptt_sym.syntax.nodes import Op, ParseError
from bptt_sym.verification.matrix import verify_matrix

from .tools import bptt

ROOT = Path(__file__).resolve().parent.parent
COLAH = "docs/examples/models/lstm-colah.toml"
TEXT = (ROOT / COLAH).read_text(encoding="utf-8")


# ---- the grammar ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["W_f [h_{t-1}; x_t]", "W_f[h_{t-1}; x_t]",
                                  "W_f \\left[h_{t-1}; x_t\\right]", "W_f (h_{t-1}; x_t)"])
def test_a_weight_times_a_stack_reads_as_a_product(text: str) -> None:
    rhs = parse(f"z = {text} + b").sides[1]
    product = rhs.args[0]
    assert product.op == "juxt" and isinstance(product.args[1], Op)
    assert product.args[1].op == "stack" and len(product.args[1].args) == 2


def test_a_stack_of_three_and_a_stack_alone() -> None:
    rhs = parse("z = [a_t; b_t; c_t]").sides[1]
    assert rhs.op == "stack" and [a.base for a in rhs.args] == ["a", "b", "c"]


@pytest.mark.parametrize("text, column", [("z = [a; ]", 9), ("z = [a;; b]", 8)])
def test_a_broken_stack_is_an_error_at_its_column(text: str, column: int) -> None:
    with pytest.raises(ParseError) as err:
        parse(text)
    assert err.value.column == column


# ---- the rule table against SymPy's explicit matrices ----------------------------------------

def test_the_stack_rules_are_sympys_jacobian() -> None:
    a, b = sp.MatrixSymbol("a", 2, 1), sp.MatrixSymbol("b", 3, 1)
    g = sp.MatrixSymbol("g", 5, 1)
    n = Stack(a, b)
    explicit = n.as_explicit()
    assert explicit == sp.Matrix.vstack(a.as_explicit(), b.as_explicit())
    for i, part in enumerate((a, b)):
        jac = explicit.jacobian(part.as_explicit())
        assert JACOBIAN["stack"](n, i).as_explicit() == jac
        assert VJP["stack"](g, n, i).as_explicit() == jac.T * g.as_explicit()
    assert Rows(g, 2, 5).as_explicit() == g.as_explicit()[2:5, :]


# ---- derived sizes in a model file --------------------------------------------------------------

def test_the_derived_size_follows_its_parts() -> None:
    spec = model_spec(COLAH)
    assert spec.derived_sizes == {"M": ("H", "D")}
    g = unroll_vector(spec, steps=2, sizes={"H": 4, "D": 3})
    assert g.dims["M"] == 7
    w = next(iter(g.copies["W_f"]))
    assert w.shape == (4, 7)


@pytest.mark.parametrize("old, new, message", [
    ('M = "H + D"', 'M = "H + Q"', "size M = 'H + Q': a derived size is a sum of size letters"),
    ('M = "H + D"', 'M = "H"', "it needs two letters or more"),
    ('M = "H + D"', 'M = "H + M"', "'M' is not a size letter given as a number"),
])
def test_a_bad_derived_size_is_one_line_at_its_place(old: str, new: str, message: str) -> None:
    with pytest.raises(BpttError) as err:
        parse_model(TEXT.replace(old, new), path="c.toml")
    assert message in str(err.value), str(err.value)
    assert str(err.value).startswith("c.toml:")


def test_a_stack_of_other_widths_is_an_error_naming_them() -> None:
    text = TEXT.replace('"f_t = sigmoid(W_f [h_{t-1}; x_t] + b_f)"',
                        '"f_t = sigmoid(W_f [h_{t-1}; V] + b_f)"')
    with pytest.raises(BpttError, match=r"\[a; b\] stacks parts of one width"):
        parse_model(text, path="c.toml")


def test_a_scalar_model_has_no_stacks() -> None:
    r = bptt("derive", "--model", "doc", "--steps", "2")
    assert r.returncode == 0
    doc = model_spec("doc")
    assert not doc.derived_sizes


def test_the_derived_size_is_not_an_option(tmp_path: Path) -> None:
    r = bptt("derive", "--model", str(ROOT / COLAH), "--size", "M=6", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "bptt-sym derive: error: --size M=: M is H + D in model lstm-colah (5 here); set those "
        "sizes instead"]


# ---- derive, verify, check on the Colah LSTM -----------------------------------------------------

def test_derive_writes_the_stack_and_the_rows_of_its_adjoint() -> None:
    r = bptt("derive", "--model", str(ROOT / COLAH), "--steps", "3", "--wrt", "W_i",
             "--size", "H=2,D=3")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "∂E/∂W_i = Σₜ ((dCₜ ⊙ gₜ) ⊙ (iₜ ⊙ (1 − iₜ))) [hₜ₋₁; xₜ]ᵀ" in out
    assert "(W_iᵀ ((dCₜ₊₁ ⊙ gₜ₊₁) ⊙ (iₜ₊₁ ⊙ (1 − iₜ₊₁))))[1:H]" in out  # rows of h
    assert "M = 5" in out.splitlines()[0]
    assert "[0; x₀]" in out  # the zero initial state in the stack at step 0
    latex = bptt("derive", "--model", str(ROOT / COLAH), "--steps", "2", "--wrt", "W_i",
                 "--format", "latex").stdout
    assert "\\begin{bmatrix} h_{t-1} \\\\ x_{t} \\end{bmatrix}^{\\top}" in latex
    assert ")_{1:H}" in latex


@pytest.mark.parametrize("steps, sizes", [(1, {"H": 2, "D": 1, "K": 2}),
                                          (3, {"H": 1, "D": 1, "K": 2}),
                                          (4, {"H": 3, "D": 2, "K": 4}),
                                          (6, {"H": 4, "D": 3, "K": 5})])
def test_the_gradients_agree_with_torch_nn_lstm(steps: int, sizes: dict) -> None:
    """torch.nn.LSTM computes Colah's cell when each W is split into its h and x columns
    (weight_hh_l0 and weight_ih_l0) and bias_hh_l0 is zero: an outside reference."""
    pytest.importorskip("torch")
    report = verify_matrix(model_spec(COLAH), steps=steps, sizes=sizes, points=3,
                           oracles=("torch", "autograd"))
    assert report.passed, report.text()
    assert {r.oracle for r in report.rows} == {"torch", "autograd"}
    assert all(r.max_rel <= 1e-9 for r in report.rows)


def test_a_wrong_split_does_not_agree_with_torch() -> None:
    """The same file with the stack written [x_t; h_{t-1}] (and M = D + H) is another
    recurrence: the torch table's split no longer matches and verify says so."""
    pytest.importorskip("torch")
    text = TEXT.replace("[h_{t-1}; x_t]", "[x_t; h_{t-1}]").replace('M = "H + D"',
                                                                    'M = "D + H"')
    spec = parse_model(text, path="swapped.toml")
    report = verify_matrix(spec, steps=3, sizes={"H": 3, "D": 2, "K": 4}, points=2,
                           oracles=("torch",))
    assert not report.passed
    assert verify_matrix(spec, steps=3, sizes={"H": 3, "D": 2, "K": 4}, points=2,
                         oracles=("autograd",)).passed


def test_verify_in_batches_and_the_cli(tmp_path: Path) -> None:
    r = bptt("verify", "--model", str(ROOT / COLAH), "--steps", "3", "--size", "H=2,D=2",
             cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all passed" in r.stdout


CHECKED = [
    ("dE/dW_f = sum_t ((dC_t * C_{t-1}) * (f_t * (1 - f_t))) [h_{t-1}; x_t]^T", "holds"),
    ("dE/dW_f = sum_t ((dC_t * C_{t-1}) * (f_t * (1 - f_t))) [x_t; h_{t-1}]^T", "fails"),
    ("dE/dW_f = sum_t ((dC_t * C_t) * (f_t * (1 - f_t))) [h_{t-1}; x_t]^T", "fails"),
    ("dE/db_f = sum_t (dC_t * C_{t-1}) * (f_t * (1 - f_t))", "holds"),
    ("dC_t = dh_t * o_t * (1 - tanh(C_t) * tanh(C_t)) + dC_{t+1} * f_{t+1}", "holds"),
    ("dC_t = dh_t * o_t * (1 - tanh(C_t) * tanh(C_t))", "fails"),
]


def test_check_reads_the_stack_in_hand_formulas(tmp_path: Path) -> None:
    path = tmp_path / "colah.txt"
    path.write_text("\n".join(f for f, _ in CHECKED) + "\n", encoding="utf-8")
    r = bptt("check", "--model", str(ROOT / COLAH), "--steps", "3", str(path))
    verdicts = [line.split(":")[1].strip() for line in r.stdout.splitlines()
                if line.startswith("line ")]
    assert verdicts == [v for _, v in CHECKED], r.stdout
    assert "stacks D then H rows; the model's M is H + D" in r.stdout
    assert "two paths reach C_t" in r.stdout
    assert r.returncode == 1


# ---- the rows (g)[1:H] of a column in hand formulas ------------------------------------------

@pytest.mark.parametrize("text", ["(W_f^T d_t)[1:H]", "(W_f^T d_t)_{1:H}",
                                  "\\left(W_{f}^{\\top} d_{t}\\right)_{1:H}"])
def test_the_rows_of_a_column_read_with_their_bounds(text: str) -> None:
    rhs = parse(f"z = {text}").sides[1]
    assert rhs.op == "rows"
    assert (rhs.args[1].start, rhs.args[1].stop) == ("1", "H")


def test_rows_in_sums_of_size_letters_and_a_latex_column() -> None:
    rhs = parse("z = (g)[H+1:M] + a").sides[1]
    assert rhs.args[0].op == "rows" and rhs.args[0].args[1].start == "H+1"
    latex = parse("z = W \\begin{bmatrix} h_{t-1} \\\\ x_{t} \\end{bmatrix}").sides[1]
    assert latex.args[1].op == "stack" and [a.base for a in latex.args[1].args] == ["h", "x"]


def test_a_broken_span_is_an_error_at_its_column() -> None:
    with pytest.raises(ParseError) as err:
        parse("z = (g)[1:]")
    assert err.value.column == 10


GATE_F = "(W_f^T ((dC_{t+1} * C_t) * (f_{t+1} * (1 - f_{t+1}))))"
ROWS_CHECKED = [  # the δh recursion of lstm-colah.toml, in rows of each gate's adjoint
    ("dh_t = V^T (yhat_t - y_t) + (W_o^T ((dh_{t+1} * tanh(C_{t+1})) * (o_{t+1} * "
     "(1 - o_{t+1}))))[1:H] + (W_C^T ((dC_{t+1} * i_{t+1}) * (1 - g_{t+1} * g_{t+1})))[1:H] + "
     "(W_i^T ((dC_{t+1} * g_{t+1}) * (i_{t+1} * (1 - i_{t+1}))))_{1:H} + " + GATE_F + "[1:H]",
     "holds", ""),
    ("dh_t = V^T (yhat_t - y_t) + (W_o^T ((dh_{t+1} * tanh(C_{t+1})) * (o_{t+1} * "
     "(1 - o_{t+1}))))[1:H] + (W_C^T ((dC_{t+1} * i_{t+1}) * (1 - g_{t+1} * g_{t+1})))[1:H] + "
     "(W_i^T ((dC_{t+1} * g_{t+1}) * (i_{t+1} * (1 - i_{t+1}))))[1:H]",
     "fails", "missing the term (W_fᵀ"),
    ("dh_t = V^T (yhat_t - y_t) + " + GATE_F + "[H+1:M]", "fails", "(D×1): the shapes differ"),
    ("dh_t = V^T (yhat_t - y_t) + " + GATE_F + "[0:H]", "fails", "are not rows it has"),
    ("dh_t = V^T (yhat_t - y_t) + " + GATE_F + "[1:M+1]", "fails", "are not rows it has"),
    ("dh_t = V^T (yhat_t - y_t) + " + GATE_F + "[H:1]", "fails", "are not rows it has"),
    ("dh_t = V^T (yhat_t - y_t) + " + GATE_F + "[1:Z]", "fails",
     "the bound Z is not a sum of whole numbers and the size letters of model lstm-colah"),
    ("dh_t = V^T (yhat_t - y_t) + " + GATE_F + "[1:]", "invalid", "syntax error at column"),
]


def test_check_reads_the_rows_of_the_hidden_adjoint(tmp_path: Path) -> None:
    path = tmp_path / "rows.txt"
    path.write_text("\n".join(f for f, _, _ in ROWS_CHECKED) + "\n", encoding="utf-8")
    r = bptt("check", "--model", str(ROOT / COLAH), "--steps", "3", str(path))
    blocks = r.stdout.split("\nline ")
    assert len(blocks) == len(ROWS_CHECKED), r.stdout
    for block, (_, verdict, why) in zip(blocks, ROWS_CHECKED):
        assert block.split(":")[1].strip() == verdict, block
        assert why in block, block
    assert r.returncode == 1
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("fmt, suffix", [("ascii", "txt"), ("latex", "tex")])
def test_what_derive_writes_check_reads_back_as_holding(tmp_path: Path, fmt: str,
                                                        suffix: str) -> None:
    """derive's own output (the stack, the rows of every gate's adjoint, the unrolled steps)
    read back by check; each line is judged against the model, not against derive."""
    out = bptt("derive", "--model", str(ROOT / COLAH), "--steps", "3", "--wrt", "W_f",
               "--format", fmt)
    assert out.returncode == 0, out.stderr
    assert "1:H" in out.stdout
    path = tmp_path / f"derived.{suffix}"
    path.write_text(out.stdout, encoding="utf-8")
    r = bptt("check", "--model", str(ROOT / COLAH), "--steps", "3", str(path))
    assert r.returncode == 0, r.stdout
    assert r.stdout.strip().endswith("11 hold, 0 fail, 0 invalid"), r.stdout
