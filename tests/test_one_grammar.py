"""One grammar for model lines and hand formulas (issue 11, part 3): a line means in a model
file what it means in a derivation being checked, the readings print would give
(juxtaposition binds before an exponent's base grows, ``1/T Σ``), and names with their own
subscript (W_x, W_hh, w_h) work in every command.

The references are SymPy expressions typed by hand, a NumPy loop written from CS231n's
equations, and the checker's own truth (the model's forward pass), never the parser."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from bptt_sym.check.checker import check
from bptt_sym.cli import main as cli
from bptt_sym.graph.build import unroll
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.graph.resolve import to_sympy
from bptt_sym.model.load import ModelFileError, builtin_text, load_model, parse_model
from bptt_sym.model.registry import DOC
from bptt_sym.numeric.matrix import matrix_gradients
from bptt_sym.printing.leibniz import leibniz
from bptt_sym.syntax.equations import parse_equation
from bptt_sym.syntax.formula import named, parse

from .test_export import pdflatex

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "docs" / "examples" / "models"
x, y, s, w, v, T = sp.symbols("x y s w v T")


def _rhs(line: str, steps: int | None = None) -> sp.Expr:
    """A model line's right side over placeholders named as the line writes them."""
    t = parse_equation(line, functions={"tanh": sp.tanh, "f": sp.Function("f")},
                       symbol=lambda r: sp.Symbol(r.base if r.var is None else
                                                  f"{r.base}{r.var}{r.offset or ''}"),
                       steps=steps)
    return t.rhs


# ---- the readings of print --------------------------------------------------------------

@pytest.mark.parametrize("line, want", [
    ("a = x^2 y", x**2 * y),                       # the exponent is 2, not 2 y
    ("a = x^2 s^3 w", x**2 * s**3 * w),
    ("a = w^2 s", w**2 * s),
    ("a = 2^-1 x", x / 2),
    ("a = x^-2 y", y / x**2),
    ("a = s (1 - s)^2", s * (1 - s)**2),          # the square of the bracket only
    ("a = v (1 - s)", v * (1 - s)),               # v is no function: a product
    ("a = tanh (x) y", sp.tanh(x) * y),           # a function, space or not
    ("a = x * -y", -x * y),
    ("a = + x - - y", x + y),
    ("a = x / 2 y", x / (2 * y)),                 # juxtaposition binds before /
])
def test_a_model_line_reads_as_print_does(line: str, want: sp.Expr) -> None:
    assert sp.simplify(_rhs(line) - want) == 0, _rhs(line)


def test_the_mean_over_the_steps_is_one_over_t_times_the_sum() -> None:
    e0, e1, e2 = sp.symbols("E0 E1 E2")
    for line in ("E = 1/T sum_t E_t", "E = 1/T Σ_t E_t", "E = (1/T) sum_t E_t",
                 "E = sum_t E_t / T", "E = \\frac{1}{T} \\sum_t E_t"):
        got = parse_equation(line, functions={}, steps=3,
                             symbol=lambda r: sp.Symbol(f"E{r.offset}")).rhs
        assert sp.simplify(got - (e0 + e1 + e2) / 3) == 0, (line, got)


@pytest.mark.parametrize("formula", ["ds1/dz1 * (1 - s1) = s1 (1 - s1)^2",
                                     "ds1/dz1 (1 - s1) = s1 (1 - s1)²",
                                     "(1 - s1) ds1/dz1 = s_1 (1 - s_1)^{2}"])
def test_a_bracket_after_a_name_keeps_its_own_exponent_in_a_check(formula: str) -> None:
    """Issue 12, class 1: s1 (1 - s1)^2 is s1 · (1 - s1)², with sigmoid's s' = s(1 − s)."""
    assert [v.verdict for v in check(formula, steps=2, activation="sigmoid")] == ["holds"]
    wrong = formula.replace("^2", "^3").replace("²", "³").replace("^{2}", "^{3}")
    assert [v.verdict for v in check(wrong, steps=2, activation="sigmoid")] == ["fails"]


def test_an_exponent_does_not_swallow_the_next_factor_in_a_check() -> None:
    """Issue 12, class 3: w^2 s_{-1} is (w²) s₋₁; dz1/ds0 is w (the copy w_1)."""
    right = "dz1/ds0 * w * s_{-1} = w^2 s_{-1}"
    assert [v.verdict for v in check(right, steps=2)] == ["holds"]
    assert [v.verdict for v in check(right.replace("w^2 s", "w^3 s"), steps=2)] == ["fails"]


def test_a_derivative_in_a_model_line_is_one_line_at_its_line() -> None:
    text = (MODELS / "d2l.toml").read_text().replace('"o_t = g(h_t, w_o)"',
                                                      '"o_t = g(h_t, w_o) + dh_t/dw_h"')
    with pytest.raises(ModelFileError) as info:
        parse_model(text, path="m.toml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("m.toml:")
    assert "a derivative has no place in a model line" in message


# ---- names with their own subscript --------------------------------------------------------

ROWS = (MODELS / "rnn-rows.toml").read_text()


def _rows_subscripted(tmp_path: Path) -> Path:
    """CS231n's row-vector RNN with the course's names W_x, W_h (the example file)."""
    assert '"W_x", "W_h"' in ROWS
    return MODELS / "rnn-rows.toml"


@pytest.mark.parametrize("N", [1, 3])
def test_subscripted_weights_against_a_hand_written_loop(tmp_path: Path, N: int) -> None:
    """CS231n's rnn_step_backward as a loop, at a batch of N rows: the bias row b spreads
    over the rows (NumPy's broadcast), so its gradient sums δ over them."""
    spec = load_model(_rows_subscripted(tmp_path))
    assert spec.parameters == ("W_x", "W_h", "b")
    T, D, H = 3, 3, 4
    rng = np.random.default_rng(5)
    Wx, Wh, b = rng.normal(size=(D, H)), rng.normal(size=(H, H)) * 0.5, rng.normal(size=(1, H))
    xs, ys = rng.normal(size=(T, N, D)), rng.normal(size=(T, N, H))
    hs, h = [], np.zeros((N, H))
    for t in range(T):
        h = np.tanh(xs[t] @ Wx + h @ Wh + b)
        hs.append(h)
    dWx, dWh, db, dnext = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b), np.zeros((N, H))
    for t in reversed(range(T)):
        da = (ys[t] + dnext) * (1 - hs[t] ** 2)
        prev = hs[t - 1] if t > 0 else np.zeros((N, H))
        dWx, dWh, dnext = dWx + xs[t].T @ da, dWh + prev.T @ da, da @ Wh.T
        db = db + da.sum(axis=0, keepdims=True)
    graph = unroll_vector(spec, steps=T, sizes={"N": N, "D": D, "H": H})
    values = {"W_x": Wx, "W_h": Wh, "b": b}
    values.update({f"x_{t}": xs[t][None] for t in range(T)})
    values.update({f"y_{t}": ys[t][None] for t in range(T)})
    got = matrix_gradients(graph, values)
    for name, want in (("W_x", dWx), ("W_h", dWh), ("b", db)):
        assert np.allclose(np.asarray(got[name]).reshape(want.shape), want, rtol=1e-12,
                           atol=1e-12), name


def test_a_broadcast_row_prints_as_a_column_of_ones() -> None:
    """b spread over N rows is 𝟏 b; its gradient sums δ over the rows, 𝟏ᵀ δ_t."""
    graph = unroll_vector(load_model(MODELS / "rnn-rows.toml"), steps=2,
                          sizes={"N": 3, "D": 3, "H": 4})
    a0 = next(n.expr for n in graph.nodes.values() if n.base == "a" and n.step == 0)
    assert leibniz(a0, "unicode") == "x₀ W_x₀ + 𝟏 b₀"
    ones = sp.Transpose(sp.OneMatrix(3, 1))
    delta = sp.MatrixSymbol("delta_t", 3, 4)
    assert [leibniz(sp.MatMul(ones, delta), f) for f in ("unicode", "ascii", "latex")] == \
        ["𝟏ᵀ δₜ", "ones^T @ delta_t", r"\mathbf{1}^{\top} \delta_{t}"]
    at_one = unroll_vector(load_model(MODELS / "rnn-rows.toml"), steps=1)
    assert "𝟏" not in leibniz(next(n.expr for n in at_one.nodes.values() if n.base == "a"),
                              "unicode")


def test_subscripted_names_print_in_each_notation() -> None:
    w = sp.MatrixSymbol("W_x", 3, 4)
    assert leibniz(w, "unicode") == "W_x" and leibniz(w, "ascii") == "W_x"
    assert leibniz(w, "latex") == "W_{x}"
    copy = sp.MatrixSymbol("W_x_k", 3, 4)
    assert (leibniz(copy, "unicode"), leibniz(copy, "latex")) == ("W_xₖ", "W_{x,k}")
    scalar = sp.Symbol("w_h_0")
    assert (leibniz(scalar, "unicode"), leibniz(scalar, "ascii"), leibniz(scalar, "latex")) \
        == ("w_h₀", "w_h_0", "w_{h,0}")


@pytest.mark.parametrize("formula, verdict", [
    ("dE/dW_x = sum_t x_t^T delta_t", "holds"),
    ("dE/dW_h = sum_t h_{t-1}^T delta_t", "holds"),
    ("dE/dW_{h} = sum_t h_{t-1}^T delta_t", "holds"),
    ("dE/dW_h = sum_t h_t^T delta_t", "fails"),
    ("dE/dW_x = sum_t delta_t^T x_t", "fails"),  # H x D against D x H: the transpose
    ("delta_t = (y_t + delta_{t+1} W_h^T) * (1 - h_t * h_t)", "holds"),
    ("delta_t = (y_t + delta_{t+1} W_h) * (1 - h_t * h_t)", "fails"),
])
def test_check_reads_subscripted_weights(tmp_path: Path, formula: str, verdict: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text(formula + "\n")
    status = cli.main(["check", str(notes), "--model", str(_rows_subscripted(tmp_path)),
                       "--steps", "3", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert [e["verdict"] for e in out["equations"]] == [verdict], out
    assert status == (0 if verdict == "holds" else 1)


def test_verify_export_and_graph_on_subscripted_weights(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    model = str(_rows_subscripted(tmp_path))
    assert cli.main(["verify", "--model", model, "--steps", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {r["parameter"] for r in report["rows"]} >= {"W_x", "W_h", "b"}
    tex = tmp_path / "rows.tex"
    assert cli.main(["export", "--model", model, "--steps", "3", "-o", str(tex)]) == 0
    assert "W_{x}" in tex.read_text() and "W_x_" not in tex.read_text()
    status, log = pdflatex(tex)
    assert status == 0 and "Overfull" not in log
    assert cli.main(["graph", "--model", model, "--steps", "2", "-o",
                     str(tmp_path / "g.dot")]) == 0


def test_d2l_recursion_with_the_books_names() -> None:
    """d2l's w_h and w_o: the chapter's recursion holds, the dropped term fails."""
    spec = load_model(MODELS / "d2l.toml")
    assert spec.parameters == ("w_h", "w_o")
    right = "dh_2/dw_h = D_3 f(x_2, h_1, w_h) + D_2 f(x_2, h_1, w_h) * dh_1/dw_h"
    wrong = "dh_2/dw_h = D_3 f(x_2, h_1, w_h)"
    assert [v.verdict for v in check(f"{right}\n{wrong}", model=spec, steps=3)] == \
        ["holds", "fails"]
    graph = unroll(spec, steps=2)
    chain = named(parse("dL/dw_h = dL/dw_h_0 + dL/dw_{h,1}"), spec.names)
    got = [to_sympy(side, graph) for side in chain.sides]
    assert str(got[1]) == "dL/dw_h_0 + dL/dw_h_1"


@pytest.mark.parametrize("name, fragment", [
    ("W_t", "a subscript t, T, k, j or a number is a step"),
    ("W_k", "a subscript t, T, k, j or a number is a step"),
    ("W_1", "a subscript t, T, k, j or a number is a step"),
    ("W_x_y", "at most one subscript"),
])
def test_a_subscript_that_reads_as_a_step_is_refused(name: str, fragment: str) -> None:
    text = ROWS.replace('"W_x"', f'"{name}"', 1).replace("x_t W_x", f"x_t {name}") \
        .replace("W_x = ", f"{name} = ")
    with pytest.raises(ModelFileError) as info:
        parse_model(text, path="m.toml")
    assert fragment in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_a_second_subscript_is_an_error_at_the_name() -> None:
    from bptt_sym.syntax.nodes import ParseError

    with pytest.raises(ParseError) as info:
        parse("a = 1 + W_{h,hh}")
    assert info.value.column == 9 and "a name has one subscript, then a step" in str(info.value)


@pytest.mark.parametrize("spelling", ["σ(x_t)", "sigma(x_t)", "\\\\sigma(x_t)"])
def test_sigma_is_sigmoid_in_a_model_line_as_in_a_formula(spelling: str) -> None:
    """One meaning: σ(z), sigma(z) and \\sigma(z) call sigmoid in a model line too."""
    text = builtin_text("doc")
    plain = parse_model(text.replace('"a_t = x_t*u"', '"a_t = sigmoid(x_t)*u"'), path="m.toml")
    other = parse_model(text.replace('"a_t = x_t*u"', f'"a_t = {spelling}*u"'), path="m.toml")
    assert [n.expr for n in unroll(other, steps=2).nodes.values()] == \
        [n.expr for n in unroll(plain, steps=2).nodes.values()]


def test_a_node_with_a_one_letter_subscript_is_read_as_its_name() -> None:
    """q_h, a head node: `dE/dq_h` means ∂E/∂q_h (the model has the name), not q at a step h."""
    spec = dataclasses.replace(DOC, head=("q_h = s_{T-1}*v", "o = g(q_h)", "E = L(o, y)"),
                               refs={})
    assert "q_h" in spec.names and "q" not in spec.names
    verdicts = check("dE/dq_h = dE/do * do/dq_h\ndE/dq_h = dE/do", model=spec, steps=2)
    assert [v.verdict for v in verdicts] == ["holds", "fails"]
