"""bptt-sym export --model elman: the documents compile (pdflatex, no overfull line),
render (KaTeX, MathJax) and hold exactly the equations derive and unroll print.

The references are the same as for the doc model (tests/test_export.py): pdflatex's exit
status and log, the two math engines, the lines ``bptt-sym derive/unroll --model elman
--format latex`` print, and V1-V4 with a step index t typed from the article.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bptt_sym.export.documents_matrix import vector_document
from bptt_sym.graph.matrix import unroll_vector

from .test_export import (
    assert_compiles_cleanly,
    assert_export_holds,
    assert_markdown_renders,
    printed,
    render_math,
)
from .tools import assert_one_line_error, bptt

ALL_STEPS = range(1, 11)
VARIANTS = [dict(bias=False, activation="tanh"), dict(bias=True, activation="relu")]
MODEL_LATEX = [  # V1-V4 as the article writes them, z_t and l_t named, typed by hand
    r"z_{t} = U x_{t} + W s_{t-1}", r"s_{t} = \tanh\left(z_{t}\right)", r"l_{t} = V s_{t}",
    r"\hat{y}_{t} = \operatorname{softmax}\left(l_{t}\right)",
    r"E_{t} = -y_{t}^{\top} \log\left(\hat{y}_{t}\right)", r"E = \sum_{t} E_{t}"]


def document(steps: int, variant: dict, fmt: str) -> str:
    g = unroll_vector(steps=steps, hidden=4, inputs=3, classes=3, **variant)
    return vector_document(g, wrt=list(g.copies), forms=["paths", "delta"], fmt=fmt)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "bias" if v["bias"] else "plain")
@pytest.mark.parametrize("steps", ALL_STEPS)
def test_latex_compiles_without_overfull_lines(tmp_path: Path, steps: int,
                                               variant: dict) -> None:
    assert_compiles_cleanly(tmp_path / "d.tex", document(steps, variant, "latex"))


def test_markdown_renders_in_katex_and_mathjax(tmp_path: Path) -> None:
    assert_markdown_renders(tmp_path, [document(steps, variant, "markdown")
                                       for steps in ALL_STEPS for variant in VARIANTS])


def test_the_engines_reject_a_broken_matrix_formula(tmp_path: Path) -> None:
    md = document(2, VARIANTS[0], "markdown").replace("\\odot", "\\odoot", 1)
    (tmp_path / "bad.md").write_text(md, encoding="utf-8")
    report = render_math(tmp_path / "bad.md")
    assert [e.split(": ")[1] for e in report["errors"]] == ["katex", "mathjax"]


@pytest.mark.parametrize("steps,options", [(3, []), (10, ["--bias", "--hidden", "16"])])
def test_documents_hold_the_printed_equations(tmp_path: Path, steps: int,
                                              options: list[str]) -> None:
    common = ["--model", "elman", "--steps", str(steps), *options]
    model = MODEL_LATEX
    if "--bias" in options:
        model = [MODEL_LATEX[0] + " + b", *MODEL_LATEX[1:2], MODEL_LATEX[2] + " + c",
                 *MODEL_LATEX[3:]]
    assert_export_holds(tmp_path, common,
                        model + printed("unroll", *common) + printed("derive", *common))


def test_matrix_notation_and_article_numbers() -> None:
    tex = document(3, VARIANTS[0], "latex")
    for word in ("\\odot", "^{\\top}", "\\operatorname{diag}", "\\delta_{t+1}", "\\tag{V5}",
                 "\\hat{y}_{t}"):
        assert word in tex, word
    # δ_t of the issue, in LaTeX
    assert ("\\delta_{t} &= \\left(V^{\\top} \\left(\\hat{y}_{t} - y_{t}\\right) + W^{\\top} "
            "\\delta_{t+1}\\right) \\odot \\left(1 - s_{t} \\odot s_{t}\\right)") in tex
    assert "\\section*{The gradient $\\partial E/\\partial W$}" in tex
    assert tex.count("\\tag{V5}") == 3  # one per weight


def test_export_writes_latex_and_markdown_and_takes_wrt_and_form(tmp_path: Path) -> None:
    r = bptt("export", "--model", "elman", "--steps", "3", "-o", "out.tex", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.tex").read_text(encoding="utf-8").startswith("\\documentclass")
    r = bptt("export", "--model", "elman", "--steps", "3", "--wrt", "V", "--form", "delta",
             "-o", "-", "--format", "markdown")
    assert r.returncode == 0 and r.stdout.startswith("# Backpropagation through time: model "
                                                     "elman, T = 3 steps")
    assert "$\\partial E/\\partial V$" in r.stdout and "\\partial W$" not in r.stdout
    assert "Per output" not in r.stdout and "delta recursion" in r.stdout


BAD = [
    (["--form", "closed"], "elman has the forms paths, delta"),
    (["--wrt", "Q"], "unknown --wrt 'Q' for elman; choose from U, W, V"),
    (["--wrt", "b"], "unknown --wrt 'b' for elman"),
    (["--of", "s_1"], "--of for elman is the loss E only"),
    (["--output", "sigmoid"], "matrix model elman writes its output and loss"),
    (["--hidden", "0"], "--hidden: must be at least 1"),
    (["--format", "html"], "invalid choice: 'html'"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path: Path, args: list[str],
                                                   message: str) -> None:
    r = bptt("export", "--model", "elman", "--steps", "2", "-o", "d.tex", *args, cwd=tmp_path)
    assert_one_line_error(r, message, tmp_path)
