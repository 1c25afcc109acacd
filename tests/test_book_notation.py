"""Formulas as textbooks and papers print them (issue 12, class 5 and the model's own
equations): each notation read, a right formula holding and a wrong one failing.

The truth of each pair is the article's (S1-S12, V1-V4) or a one-line fact of calculus
(tanh' = 1 - tanh², ∂E/∂W = Σ_t ∂E/∂W_t); the wrong formula differs from it by a sign, a
factor or a name."""

from __future__ import annotations

from pathlib import Path

import pytest

from bptt_sym.check.checker import check
from bptt_sym.syntax.formula import ParseError, parse
from bptt_sym.syntax.latex import rewrite

DOC = {"model": "doc", "steps": 2, "activation": "tanh", "output": "sigmoid", "loss": "bce"}
ELMAN = {"model": "elman", "steps": 3}
PASCANU = {"model": str(Path(__file__).parent / "corpus" / "models" / "pascanu.toml"),
           "steps": 3, "first": 1, "activation": "sigmoid"}

PAIRS = [
    # \tanh^2(z) is tanh(z)², as books print it (and tanh^2(z1) in ASCII)
    (DOC, r"$\frac{\partial s_1}{\partial z_1} = 1 - \tanh^2(z_1)$",
     r"$\frac{\partial s_1}{\partial z_1} = 1 + \tanh^2(z_1)$"),
    (DOC, "ds1/dz1 = 1 - tanh^2(z1)", "ds1/dz1 = 1 - tanh^2(z0)"),
    # \mathrm{d}, \dfrac, \tfrac
    (DOC, r"$\dfrac{\mathrm{d} E}{\mathrm{d} o} = \tfrac{o - y}{o (1 - o)}$",
     r"$\dfrac{\mathrm{d} E}{\mathrm{d} o} = \tfrac{y - o}{o (1 - o)}$"),
    # \partial{E} with braces, \cdot, \times between scalars
    (DOC, r"$\frac{\partial{q}}{\partial{s_1}} = v \cdot 1$",
     r"$\frac{\partial{q}}{\partial{s_1}} = v \times 2$"),
    # \nabla_{W} E is ∂E/∂W; \sum\limits; a bold name
    (ELMAN, r"$\nabla_{\boldsymbol{W}} E = \sum\limits_{t} \nabla_{W_t} E$",
     r"$\nabla_{\boldsymbol{W}} E = \sum\limits_{t} \nabla_{U_t} E$"),
    # time as a superscript, h^{(t)}
    (ELMAN, r"$\mathbf{s}^{(t)} = \tanh(\mathbf{z}^{(t)})$",
     r"$\mathbf{s}^{(t)} = \tanh(\mathbf{z}^{(t-1)})$"),
    # an ellipsis between repeated pairs of factors (Hanbingtao's W diag[f'(net_{t-1})] …)
    (ELMAN, r"$\frac{\partial s_t}{\partial s_k} = \operatorname{diag}(\tanh'(z_t)) W "
            r"\operatorname{diag}(\tanh'(z_{t-1})) W \cdots \operatorname{diag}(\tanh'(z_{k+1}))"
            r" W, k < t$",
     r"$\frac{\partial s_t}{\partial s_k} = \operatorname{diag}(\tanh'(z_t)) W^T "
     r"\operatorname{diag}(\tanh'(z_{t-1})) W^T \cdots \operatorname{diag}(\tanh'(z_{k+1}))"
     r" W^T, k < t$"),
    # WildML's δ_2^{(3)}: the adjoint at step 2 of the loss of step 3, ∂E_3/∂z_2
    ({**ELMAN, "steps": 4},
     r"$\delta_2^{(3)} = \frac{\partial E_3}{\partial s_3}\frac{\partial s_3}{\partial s_2}"
     r"\frac{\partial s_2}{\partial z_2}$",
     r"$\delta_2^{(3)} = \frac{\partial E_3}{\partial s_3}\frac{\partial s_3}{\partial s_1}"
     r"\frac{\partial s_2}{\partial z_2}$"),
    # a step as a bare superscript on an entry (Hanbingtao's net_j^t, δ_j^t, s_i^{t-1})
    (ELMAN, r"$\frac{\partial E}{\partial z_i^t} = \delta_i^t$",
     r"$\frac{\partial E}{\partial z_i^t} = \delta_i^{t-1}$"),
    (ELMAN, r"$\frac{\partial z_i^t}{\partial s_j^{t-1}} = W_{ij}$",
     r"$\frac{\partial z_i^t}{\partial s_j^{t-1}} = W_{ji}$"),
    # \left. … \right|_{…}: the evaluation bar says where the derivative is taken
    (DOC, r"$\left. \frac{\partial E}{\partial o} \right|_{o} = \frac{o - y}{o(1 - o)}$",
     r"$\left. \frac{\partial E}{\partial o} \right|_{o} = \frac{o + y}{o(1 - o)}$"),
    # letters side by side are a product in print: Ux_t is U x_t (the model has no Ux)
    (ELMAN, r"$s_t = \tanh(Ux_t + Ws_{t-1})$", r"$s_t = \tanh(Ux_t - Ws_{t-1})$"),
    (ELMAN, r"$\hat{y}_t = \mathrm{softmax}(Vs_t)$", r"$\hat{y}_t = \text{softmax}(Ws_t)$"),
    # E_t(y_t, ŷ_t): the node E_t, its arguments named; \log without brackets; y_t log ŷ_t
    # of two columns is their inner product, the one product that fits
    (ELMAN, r"$E_t(y_t, \hat{y}_t) = - y_{t} \log \hat{y}_{t}$",
     r"$E_t(y_t, \hat{y}_t) = - \hat{y}_{t} \log \hat{y}_{t}$"),
    # sech² is tanh' (and cosh), a power in Unicode superscripts on the name
    (DOC, "∂s₁/∂s₀ = sech²(z₁) w", "∂s₁/∂s₀ = sech(z₁) w"),
    # ⊗ is the outer product a bᵀ: the other order does not fit
    (ELMAN, r"$\frac{\partial E}{\partial V} = \sum_t (\hat{y}_t - y_t) \otimes s_t$",
     r"$\frac{\partial E}{\partial V} = \sum_t s_t \otimes (\hat{y}_t - y_t)$"),
    # a free step index: the formula at every step (false at t = 0 for s_{t-1})
    (DOC, "ds_t/dz_t = 1 - s_t^2", "ds_t/dz_t = 1 - s_{t-1}^2"),
    # an index in T: s_{T-1} is the last step, in scalar models as in matrix ones
    ({**DOC, "steps": 3}, "ds_{T-1}/dz_{T-1} = 1 - s_{T-1}^2", "ds_{T-1}/dz_{T-1} = 1 - s_{T-2}^2"),
    # steps counted from 1 (--first 1): Σ_{t=1}^{T} is every step
    ({**ELMAN, "first": 1}, r"$E = \sum_{t=1}^{T} E_t$", r"$E = \sum_{t=2}^{T} E_t$"),
    # a square matrix's power is the matrix power (class 2), also in a step variable
    ({**ELMAN, "activation": "identity"}, "ds_2/ds_0 = W^2", "ds_2/ds_0 = W * W"),
    ({**ELMAN, "activation": "identity"},
     r"$\frac{\partial s_2}{\partial s_k} = W^{2-k}, \quad k \le 2$",
     r"$\frac{\partial s_2}{\partial s_k} = W^{k}, \quad k \le 2$"),
    # class 4: index variables in the bounds of nested sums and products (scalar model)
    ({**DOC, "steps": 3}, "ds_t/dw = sum_{i=0}^{t} (prod_{j=i+1}^{t} ds_j/ds_{j-1}) ds_i/dw_i",
     "ds_t/dw = sum_{i=0}^{t} (prod_{j=i}^{t} ds_j/ds_{j-1}) ds_i/dw_i"),
    # d2l's prod(a, b, …): the chain rule's product, a Jacobian used as the Jacobian, a
    # plain matrix as it stands or transposed (whichever fits), a column: the outer product
    (ELMAN, r"$\frac{\partial E}{\partial V} = \sum_t \textrm{prod}\left(\frac{\partial E}"
            r"{\partial l_t}, s_t\right)$",
     r"$\frac{\partial E}{\partial V} = \sum_t \textrm{prod}\left(\frac{\partial E}"
     r"{\partial l_t}, s_{t-1}\right)$"),
    ({**ELMAN, "steps": 2}, r"$\frac{\partial E}{\partial s_1} = \mathrm{prod}\left("
     r"\frac{\partial E}{\partial l_1}, V\right)$",
     r"$\frac{\partial E}{\partial s_1} = \mathrm{prod}\left(\frac{\partial E}"
     r"{\partial l_0}, V\right)$"),
    (ELMAN, r"$\frac{\partial E}{\partial s_{t-1}} = \text{prod}(\frac{\partial E}"
            r"{\partial s_t}, \frac{\partial s_t}{\partial s_{t-1}}) + \text{prod}("
            r"\frac{\partial E}{\partial l_{t-1}}, V)$",
     r"$\frac{\partial E}{\partial s_{t-1}} = \text{prod}(\frac{\partial E}"
     r"{\partial s_t}, \frac{\partial s_t}{\partial s_{t-1}})$"),
    # l(ŷ_t, y_t), a node of the model called with its arguments, is that step's node;
    # ∂l(…)/∂ŷ_t its derivative; L(x_1, \ldots, x_T) the whole
    (ELMAN, r"$E(x_1, \ldots, x_T) = \sum_t E_t(\hat{y}_t, y_t)$",
     r"$E(x_1, \ldots, x_T) = \sum_{t=1}^{T-1} E_t(\hat{y}_t, y_t)$"),
    # index arithmetic: T+t-k, t-k+1, read where it is a step
    ({**ELMAN, "activation": "identity"},
     r"$\frac{\partial E}{\partial s_t} = \sum_{k=t}^{T-1} (W^\top)^{T-1-k} V^\top "
     r"(\hat{y}_{T-1+t-k} - y_{T-1+t-k})$",
     r"$\frac{\partial E}{\partial s_t} = \sum_{k=t}^{T-1} (W^\top)^{k-t} V^\top "
     r"(\hat{y}_{T-1+t-k} - y_{T-1+t-k})$"),
    # bounds as relations (Pascanu): \sum_{1 \le t \le T}, \prod_{t \geq i > k}
    ({**ELMAN, "first": 1}, r"$E = \sum_{1 \le t \le T} E_t$", r"$E = \sum_{1 < t \le T} E_t$"),
    (ELMAN, r"$\frac{\partial s_t}{\partial s_k} = \prod_{t \geq i > k} \frac{\partial s_i}"
            r"{\partial s_{i-1}}, \quad k \le t$",
     r"$\frac{\partial s_t}{\partial s_k} = \prod_{t \geq i \geq k} \frac{\partial s_i}"
     r"{\partial s_{i-1}}, \quad k \le t$"),
    # θ, any parameter: checked for each; ∂⁺ the immediate partial (Pascanu)
    (ELMAN, r"$\frac{\partial E}{\partial \theta} = \sum_{t} \frac{\partial E}"
            r"{\partial \theta_t}$",
     r"$\frac{\partial E}{\partial \theta} = \sum_{t} \frac{\partial E_t}"
     r"{\partial \theta_t}$"),
    # (Pascanu's model, where every parameter is in the recurrence)
    (PASCANU, r"$\frac{\partial E_t}{\partial \theta} = \sum_{k=1}^{t} \frac{\partial E_t}"
              r"{\partial x_k} \frac{\partial^+ x_k}{\partial \theta}$",
     r"$\frac{\partial E_t}{\partial \theta} = \sum_{k=1}^{t} \frac{\partial E_t}"
     r"{\partial x_k} \frac{\partial x_k}{\partial \theta}$"),
    # the Hadamard power s^{⊙2}, and two equations joined by "and thus"
    (ELMAN, r"$\frac{\partial s_t}{\partial z_t} = \operatorname{diag}(1 - s_t^{\odot 2})$",
     r"$\frac{\partial s_t}{\partial z_t} = \operatorname{diag}(1 - s_t^{\odot 3})$"),
    # entries, counted from 1: h_{t,i}, ŷ_{3j}, o_i^{(t)}, W_{ij}, w_{ij} (W's entry), Σ over
    # an entry (to n, m or no bound), e^{x}; a free entry index: every entry
    (ELMAN, r"$z_{t,i} = \sum_{k=1}^{n} W_{ik} s_{t-1,k} + \sum_j U_{ij} x_{t,j}$",
     r"$z_{t,i} = \sum_{k=1}^{n} W_{ki} s_{t-1,k} + \sum_j U_{ij} x_{t,j}$"),
    (ELMAN, r"$\frac{\partial s_{t,i}}{\partial s_{t-1,j}} = (1 - s_{t,i}^2) w_{ij}$",
     r"$\frac{\partial s_{t,i}}{\partial s_{t-1,j}} = 1 - s_{t,i}^2 w_{ij}$"),
    (ELMAN, r"$\hat{y}_{2j} = \frac{e^{l_{2j}}}{\sum_{k} e^{l_{2k}}}$",
     r"$\hat{y}_{2j} = \frac{e^{l_{2j}}}{\sum_{k} e^{l_{1k}}}$"),
    ({**ELMAN, "first": 1}, r"$\nabla_{V} E = \sum_t \sum_i \frac{\partial E}{\partial "
     r"l_i^{(t)}} \nabla_{V} l_i^{(t)}$",
     r"$\nabla_{V} E = \sum_t \sum_i \frac{\partial E}{\partial l_i^{(t)}} "
     r"\nabla_{V} l_i^{(1)}$"),
    (ELMAN, "dE/dW_ij = sum_t delta_{t,i} s_{t-1,j}", "dE/dW_ij = sum_t delta_{t,j} s_{t-1,i}"),
    # \operatorname{diag}, \text{diag}, \top, a prime on \tanh
    (ELMAN, r"$\frac{\partial s_t}{\partial s_{t-1}} = \operatorname{diag}(\tanh'(z_t)) W$",
     r"$\frac{\partial s_t}{\partial s_{t-1}} = \text{diag}(\tanh'(z_t)) W^\top$"),
]


@pytest.mark.parametrize("options, right, wrong", PAIRS,
                         ids=[f"{i}" for i in range(len(PAIRS))])
def test_a_book_notation_is_read(options: dict, right: str, wrong: str) -> None:
    (ok,) = check(right, **options)
    assert ok.verdict == "holds", ok.message
    (bad,) = check(wrong, **options)
    assert bad.verdict == "fails", bad.message


def test_a_restated_model_equation_holds() -> None:
    """S1-S3 and V1-V2 as the article prints them hold against the model."""
    for text, options in [(r"$z_1 = a_1 + b_1 + k_1$", DOC), (r"$s_0 = f(z_0)$", {"model": "doc"}),
                          (r"$z_t = U x_t + W s_{t-1}$", ELMAN)]:
        (v,) = check(text, **options)
        assert v.verdict == "holds", (text, v.message)


@pytest.mark.parametrize("typed", [
    r"\nabla_{\boldsymbol{W}} E = \sum\limits_t \nabla_{W_t} E + @",
    r"\frac{\partial E}{\partial w_\textrm{h}} = ?",
    r"\left. \tanh^2(\boldsymbol{h}^{(t)}) \right|_{t} = \tanh^2(?)",
])
def test_a_parse_error_points_into_the_text_as_typed(typed: str) -> None:
    """The rewriting keeps every column: an error is reported where the person typed it."""
    with pytest.raises(ParseError) as exc:
        parse(typed)
    assert exc.value.column == len(typed.rstrip(")")), (exc.value, typed)


def test_rewrite_keeps_plain_text_as_it_is() -> None:
    text = "dE/du = dE/du_1 + dE/du_0"
    assert rewrite(text) == (text, list(range(1, len(text) + 1)))


def _table_rows() -> list[tuple[str, str, str]]:
    """(model, format, formula) of every spelling in docs/check.md's "You write — we read"."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "check.md").read_text("utf-8")
    section = text.split("## You write — we read", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.replace("\\|", "\0").strip("|").split("|")]
        if len(cells) != 5 or cells[0] not in ("doc", "elman"):
            continue
        for fmt, cell in zip(("ascii", "unicode", "latex"), cells[1:4]):
            rows.append((cells[0], fmt, cell.strip("`").replace("\0", "|")))
    return rows


TABLE = _table_rows()


def test_the_table_has_every_row() -> None:
    assert len(TABLE) == 3 * 28


@pytest.mark.parametrize("model, fmt, formula", TABLE,
                         ids=[f"{m}-{f}-{i // 3}" for i, (m, f, _) in enumerate(TABLE)])
def test_every_spelling_of_the_table_holds(model: str, fmt: str, formula: str) -> None:
    options = DOC if model == "doc" else ELMAN
    (v,) = check(f"${formula}$" if fmt == "latex" else formula, **options)
    assert v.verdict == "holds", (formula, v.message)


@pytest.mark.parametrize("options, right, wrong, why", [
    ({**DOC, "steps": 3}, "dE/du = sum_t dE/du_t", "dE/du = 1/T sum_t dE/du_t",
     "a constant factor 1/T (mean instead of sum)"),
    (DOC, "dE/du = sum_t dE/du_t", "dE/du = 1/T sum_t dE/du_t",
     "with T = 2 also the factor of a mean instead of a sum; --steps 3 tells them apart"),
    (ELMAN, "dE/dW = sum_t dE/dW_t", "dE/dW = 1/T sum_t dE/dW_t",
     "a constant factor 1/T (mean instead of sum)"),
    ({**DOC, "steps": 3, "model": "docs/examples/models/rnn-mean.toml", "activation": "tanh",
      "output": "g", "loss": "L"},
     "dE/dwx = 1/T sum_t dE_t/dwx", "dE/dwx = sum_t dE_t/dwx",
     "a constant factor T (sum instead of mean)"),
])
def test_a_mean_for_a_sum_is_named(options: dict, right: str, wrong: str, why: str) -> None:
    """Class 7: a loss averaged over T where the model sums it (or back) is a factor 1/T
    (or T), said so, not a wrong local derivative.  T in a formula is the number of steps."""
    from pathlib import Path

    options = {**options}
    if options["model"].endswith(".toml"):
        options["model"] = str(Path(__file__).resolve().parent.parent / options["model"])
    (ok,) = check(right, **options)
    assert ok.verdict == "holds", ok.message
    (bad,) = check(wrong, **options)
    assert bad.verdict == "fails" and why in bad.diagnosis[0].text, bad.text()


def test_a_latex_file_that_restates_the_model(tmp_path) -> None:  # noqa: ANN001
    """Class 6: the model's own lines in a LaTeX file are its equations, said so; the run
    exits 0 when they hold, 1 when one is restated wrong."""
    from tests.tools import bptt

    right = tmp_path / "right.tex"
    right.write_text("\\begin{equation} s_t = \\tanh(z_t) \\end{equation}\n"
                     "where $z_t = U x_t + W s_{t-1}$.\n", encoding="utf-8")
    r = bptt("check", str(right), "--model", "elman", "--steps", "3")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("the model's own equation: holds") == 2
    wrong = tmp_path / "wrong.tex"
    wrong.write_text("\\begin{equation} s_t = \\sigma(z_t) \\end{equation}\n", encoding="utf-8")
    r = bptt("check", str(wrong), "--model", "elman", "--steps", "3")
    assert r.returncode == 1 and "fails" in r.stdout, r.stdout


def test_a_derivative_of_letters_side_by_side_is_no_product() -> None:
    """∂EE/∂V names one node (there is none): invalid with the name, never a crash (a fuzz
    finding: the split of EE into E E reached a derivative)."""
    (v,) = check("∂EE/∂V = 1", **ELMAN)
    assert v.verdict == "invalid" and "unknown name EE" in v.message


def test_two_equations_in_one_row_are_two() -> None:
    """d2l's "h_t = … \\text{ and } o_t = …" and "… = W, \\qquad z_t = …" are two equations;
    a condition after \\quad stays with its equation."""
    from bptt_sym.syntax.document import find_equations

    texts = [e.text for e in find_equations(
        r"$h_t = f(x_t, h_{t-1}, w) \text{ and } o_t = g(h_t, w)$ and "
        r"$$\frac{\partial s_t}{\partial s_{t-1}} = W, \qquad z_t = U x_t + W s_{t-1}.$$ "
        r"$\frac{\partial s_2}{\partial s_k} = W^{2-k}, \quad k \le 2$")]
    assert texts == ["h_t = f(x_t, h_{t-1}, w)", "o_t = g(h_t, w)",
                     r"\frac{\partial s_t}{\partial s_{t-1}} = W", "z_t = U x_t + W s_{t-1}",
                     r"\frac{\partial s_2}{\partial s_k} = W^{2-k}, \quad k \le 2"]


def test_steps_are_shown_as_the_document_counts_them() -> None:
    """With --first 1 the steps a message names are the document's (1..T)."""
    (v,) = check(r"$s_t = \tanh(U x_t + W s_{t-1})$", first=1, **ELMAN)
    assert v.verdict == "holds" and "t = 1..3" in v.message, v.message
    (v,) = check("ds_t/dz_t = 1 - s_t^2", first=1, **DOC)
    assert v.verdict == "holds" and "t = 1..2" in v.message, v.message


def test_first_on_the_command_line(tmp_path) -> None:  # noqa: ANN001
    """--first 1 reads d2l's h_1 … h_T; any value but 0 or 1 is one line, exit 2."""
    from tests.tools import bptt

    doc = tmp_path / "d.md"
    doc.write_text("$E = \\sum_{t=1}^{T} E_t$\n", encoding="utf-8")
    r = bptt("check", str(doc), "--model", "elman", "--steps", "3", "--first", "1")
    assert r.returncode == 0 and "1 hold, 0 fail" in r.stdout, r.stdout + r.stderr
    r = bptt("check", str(doc), "--model", "elman", "--steps", "3")
    assert r.returncode == 1 and "need --first 1" in r.stdout, r.stdout
    r = bptt("check", str(doc), "--model", "elman", "--first", "2")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "--first: must be 0 or 1, got '2'" in r.stderr


def test_a_right_side_of_zero_is_said_plainly() -> None:
    """Not "the right side is 0 times the left": at t = 0 the sum over i < t is empty."""
    (v,) = check("ds_t/dw = sum_{i=0}^{t-1} (prod_{j=i+1}^{t} ds_j/ds_{j-1}) ds_i/dw_i",
                 **{**DOC, "steps": 3})
    assert v.verdict == "fails" and "(t = 0)" in v.message
    assert "the right side is 0 at every point checked" in v.diagnosis[0].text


@pytest.mark.parametrize("options, text, why", [
    (ELMAN, r"$s_{t,9} = 0$", "entry 9 of s is out of range: it has 3 (H) entries"),
    (ELMAN, r"$E_t = -\log p(y_t \mid x_t)$", "'|' is not read: a conditional probability"),
    (ELMAN, r"$(\nabla_{s_t} E)_i = 0$", "an entry of a bracket, (…)_i, is not read"),
    (ELMAN, r"$s_2^{(3)} = s_2$", "s_2^(3) has two step indices: read only on a named adjoint"),
    (ELMAN, r"$\sum_i^t s_t = 0$", "a sum's or product's bounds as _i^t are not read"),
    (ELMAN, r"$\delta_t^q = \delta_t$", "the superscript q of δ_t is no number, step or name"),
    (ELMAN, r"$z_{t,i} = \sum_{k=0}^{T} W_{ik} s_{t-1,k}$", "runs over every entry"),
    (DOC, r"$s_{1,i} = 0$", "an index of one entry is for the vectors and matrices"),
    (ELMAN, r"$\frac{\partial E}{\partial s_1} = \textrm{prod}\left(\frac{\partial E}"
            r"{\partial s_2}, W\right)$", "W is square, so it fits as it is and transposed"),
    (ELMAN, r"$\frac{\partial E}{\partial s_1} = \textrm{prod}\left(W, \frac{\partial E}"
            r"{\partial s_2}\right)$", "its first argument W must be a gradient"),
    (ELMAN, r"$\frac{\partial s_2}{\partial s_0} = \frac{\partial s_2}{\partial s_1} \cdots"
            r" \frac{\partial s_1}{\partial s_0}$",
     "an ellipsis (…, \\ldots, \\cdots) in a product is read after"),
    (ELMAN, r"$\frac{\partial s_2}{\partial s_0} = s_2^{\odot 9}$",
     "the elementwise power ^{⊙9} must be from 1 to 8"),
])
def test_what_is_not_read_says_which(options: dict, text: str, why: str) -> None:
    """A notation the checker does not read is invalid with a message that names it."""
    (v,) = check(text, **options)
    assert v.verdict == "invalid" and why in v.message, v.message


def test_a_counterexample_at_long_t_shows_the_few_values_that_matter() -> None:
    """At T = 40 the text shows each stepped input twice at most and says how many more
    there are; the JSON keeps every value."""
    (v,) = check("dE/du = 1/T sum_t dE/du_t", model="doc", steps=40)
    line = next(ln for ln in v.text().splitlines() if ln.startswith("  counterexample:"))
    assert "x_0 = " in line and "x_1 = " in line and "x_2 = " not in line
    assert "(and 38 more inputs; --json lists them all)" in line
    assert "x_39" in v.to_json()["counterexample"]


def test_a_free_index_says_the_steps_it_left_out() -> None:
    """x_{t+1} has no last step: the formula is checked at t = 0..T-2, and the message says
    that t = T-1 was left out (a skipped part is reported, never silent)."""
    (v,) = check("ds_{t+1}/ds_t = f'(z_{t+1}) w", model="doc", steps=3)
    assert v.verdict == "holds"
    assert "t = 0..1; t = 2 left out: a name of the formula does not exist there" in v.message


def test_a_name_defined_with_eqqcolon_is_used_in_what_follows() -> None:
    """``… =: J_t`` (and ``J_t := …``) names a side; later lines use J at any step. The
    reference is V2's Jacobian diag(1 − s_t ⊙ s_t) W and the chain rule of B2."""
    doc = "\n".join([
        r"$$\frac{\partial s_t}{\partial s_{t-1}} = \operatorname{diag}(1 - s_t^{\odot 2}) W "
        r"=: J_t$$",
        r"$$\frac{\partial s_2}{\partial s_0} = J_2 J_1$$",
        r"$$\frac{\partial s_2}{\partial s_0} = J_1 J_2$$",
        r"$$A_t := W^\top$$",
        r"$$\frac{\partial s_2}{\partial s_0} = J_2\, A_1$$",
    ])
    v = check(doc, **ELMAN)
    assert [x.verdict for x in v] == ["holds", "holds", "fails", "skipped", "fails"], v
    assert v[0].message.startswith("J_t stands for diag(1 − s_t ⊙ s_t) W (a definition); holds")
    assert "a definition: A_t stands for Wᵀ in what follows" in v[3].message
    # := of a name the model has is its equation, checked as such
    (own,) = check(r"$$z_t := U x_t + W s_{t-1}$$", **ELMAN)
    assert own.verdict == "holds" and "the model's own equation" in own.message


@pytest.mark.parametrize("chain, holds", [
    (r"J_3 J_2 \cdots J_{k+1}", True),   # every factor from J_3 down to J_{k+1}
    (r"J_3\, J_2 \ldots J_{k+1}", True),
    (r"J_3 J_2 \cdots J_{k}", False),    # one factor too many
    (r"J_2 J_1 \cdots J_{k+1}", False),  # starts one step low
])
def test_an_ellipsis_between_factors_is_the_product_it_leaves_out(chain: str,
                                                                  holds: bool) -> None:
    doc = "\n".join([
        r"$$\frac{\partial s_t}{\partial s_{t-1}} = \operatorname{diag}(1 - s_t^{\odot 2}) W "
        r"=: J_t$$",
        rf"$$\frac{{\partial s_3}}{{\partial s_k}} = {chain}, \quad k \le 2$$",
    ])
    v = check(doc, model="elman", steps=4)
    assert v[1].verdict == ("holds" if holds else "fails"), v[1].message


def test_an_ellipsis_that_shows_no_pattern_is_invalid_with_its_column() -> None:
    text = r"$$\frac{\partial s_3}{\partial s_0} = J_1 J_2 \cdots J_3$$"
    (v,) = check(text, model="elman", steps=4)
    assert v.verdict == "invalid" and "write a Π with bounds instead" in v.message
    assert v.column == text.index(r"\cdots") - 1


def test_a_claim_of_the_set_after_an_equation_is_reported_not_checked() -> None:
    (v,) = check(r"$$\frac{\partial E}{\partial z_t} = \delta_t \in \mathbb{R}^H.$$", **ELMAN)
    assert v.verdict == "holds"
    assert v.message.endswith("the claim \\in \\mathbb{R}^H after it is not checked")
