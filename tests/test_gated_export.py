"""export and graph on the gated built-ins (issue 13): the LaTeX document of every weight's
delta form compiles with pdflatex and no line runs off the page at T = 1 … 10 (pdflatex's
own log is the reference), the Markdown renders in KaTeX and MathJax, and the graph of an
LSTM colours both paths back from its cell state (through h_t and through c_{t+1})."""

from __future__ import annotations

from pathlib import Path

import pytest

from bptt_sym.export.documents_matrix import vector_document
from bptt_sym.export.drawing import draw
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.model.registry import model_spec

from .test_export import assert_compiles_cleanly, assert_markdown_renders
from .tools import bptt

COLAH = "docs/examples/models/lstm-colah.toml"  # W_f [h_{t-1}; x_t]: a stack
MODELS = ["lstm", "gru", "lstm-peephole", "gru-cho", COLAH]


def document(model: str, steps: int, fmt: str) -> str:
    g = unroll_vector(model_spec(model), steps=steps, sizes={"H": 3, "D": 2, "K": 4})
    return vector_document(g, wrt=list(g.copies), forms=["delta"], fmt=fmt)


@pytest.mark.parametrize("steps", range(1, 11))
@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_latex_compiles_without_overfull_lines(tmp_path: Path, model: str, steps: int) -> None:
    assert_compiles_cleanly(tmp_path / "d.tex", document(model, steps, "latex"))


@pytest.mark.parametrize("model", ["lstm-peephole", "gru-cho", COLAH])
def test_the_variants_compile_too(tmp_path: Path, model: str) -> None:
    for steps in (1, 4, 10):
        assert_compiles_cleanly(tmp_path / f"{Path(model).stem}-{steps}.tex",
                                document(model, steps, "latex"))


def test_markdown_renders_in_katex_and_mathjax(tmp_path: Path) -> None:
    assert_markdown_renders(tmp_path, [document(m, steps, "markdown")
                                       for m in MODELS for steps in (1, 3)])


def test_the_graph_colours_both_paths_back_from_the_cell_state() -> None:
    g = unroll_vector(model_spec("lstm"), steps=2, sizes={"H": 3, "D": 2, "K": 4})
    source = draw(g, wrt=["c_0"]).source
    coloured = {line.split("[")[0].strip() for line in source.splitlines()
                if "->" in line and "copy-c_0" in line}
    assert {"c_0 -> h_0", "c_0 -> c_1"} <= coloured  # the two paths into c_0
    assert "i_0 -> c_0" not in coloured  # an edge into c_0 is not on a path back from E


@pytest.mark.parametrize("fmt", ["unicode", "ascii", "latex", "json"])
@pytest.mark.parametrize("model", MODELS)
def test_derive_prints_both_adjoints_in_every_format(model: str, fmt: str) -> None:
    """The delta form names the variant in its header and keeps the model's adjoints (the
    LSTM's dh and dc); the gates' derivatives are written in node values, σ(1 − σ) and
    1 − tanh²."""
    r = bptt("derive", "--model", model, "--steps", "3", "--form", "delta", "--format", fmt)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    assert model_spec(model).name in text  # the model, or the file's own name
    adjoints = model_spec(model).adjoints.values()
    for name in adjoints:
        assert name in text, (name, text[:300])
    lstm = model_spec(model).name.startswith("lstm")
    if fmt == "ascii":
        gate = "f" if lstm else "z"
        assert f"{gate}_t * (1 - {gate}_t)" in text  # σ′ = σ(1 − σ) in node values
        tanh = "g" if lstm else "n"
        assert f"1 - {tanh}_t * {tanh}_t" in text  # tanh′ = 1 − tanh²
    if lstm and fmt == "ascii":
        cell = "C" if "colah" in model else "c"  # Colah writes the cell state C_t
        assert f"d{cell}_t = " in text and f"d{cell}_{{t+1}} * f_{{t+1}}" in text
