r"""Whole derivations of a vector model (elman) as LaTeX or Markdown documents.

The same document as for the scalar model: the model's equations with a step index t, the
unrolled forward equations, then one section per weight with the per-output form (V5) and
the matrix δ recursion, every equation as ``derive --model elman --format latex`` prints it
(matrix products by juxtaposition, ``\odot``, ``^{\top}``, ``\operatorname{diag}``).

    >>> from bptt_sym.vector import unroll_vector
    >>> md = vector_document(unroll_vector(steps=2), wrt=["W"], forms=["paths"],
    ...                      fmt="markdown")
    >>> md.splitlines()[0], md.count("tag{V5}")
    ('# Backpropagation through time: model elman, T = 2 steps', 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy as sp

from .equations import Ref, parse_equation
from .export import PAGE_WIDTH, Display, Part, document_title, latex_document, markdown_document
from .mderive import StepSum
from .mforms import matrix_form
from .printing import leibniz
from .vector import Apply, Softmax, VectorGraph, Xent

__all__ = ["vector_parts", "vector_document"]

_TITLES = {"paths": "Per output: a sum over the steps (V5)",
           "delta": "Matrix form: the delta recursion (BPTT)"}


def _written(graph: VectorGraph) -> Callable[[Ref], sp.Basic]:
    """A model equation's reference as a symbol that prints as written: s_{t-1}, x_{t}, U."""
    spec, dims = graph.spec, {**graph.dims, "1": 1}

    def symbol(ref: Ref) -> sp.Basic:
        shift = f"{ref.offset:+d}" if ref.offset else ""
        name = ref.base if ref.var is None else f"{ref.base}_{{{ref.var or ref.offset}{shift}}}"
        if ref.base not in spec.shapes:
            return sp.Symbol(name)
        return sp.MatrixSymbol(name, *(dims[d] for d in spec.shapes[ref.base]))

    return symbol


def _model_part(graph: VectorGraph) -> Part:
    spec, (h, d, k) = graph.spec, (graph.dims[c] for c in "HDK")
    functions = {"f": lambda z: Apply(graph.activation, z), "softmax": Softmax, "xent": Xent}
    shown = []
    for line in spec.cell_bias if graph.bias else spec.cell:
        t = parse_equation(line, functions=functions, symbol=_written(graph))
        shown.append(Display(leibniz(_written(graph)(t.lhs), "latex"), leibniz(t.rhs, "latex"),
                             numbered=False))
    e_t = sp.Symbol("E_{t}")
    shown.append(Display(leibniz(graph.loss, "latex"), leibniz(StepSum(e_t), "latex"),
                         numbered=False))
    biases = f", and the biases $b$ ({h}) and $c$ ({k})" if graph.bias else ""
    return Part("The model", 1, (
        f"Model {spec.name}: the article's vector RNN (V1-V4), with $H = {h}$ hidden units, "
        f"$D = {d}$ inputs and $K = {k}$ classes: $U$ is ${h} \\times {d}$, $W$ is "
        f"${h} \\times {h}$ and $V$ is ${k} \\times {h}${biases}. The equations hold at "
        f"every step $t$, from the initial state $s_{{-1}}$; here activation "
        f"{graph.activation}, output softmax, loss cross-entropy. Juxtaposition is the "
        "matrix product, $a \\odot b$ the elementwise product and $A^{\\top}$ the transpose."),
        tuple(shown))


def _forward_part(graph: VectorGraph) -> Part:
    shown = tuple(Display(leibniz(n.symbol, "latex"), leibniz(n.expr, "latex"))
                  for n in graph.nodes.values() if n.expr is not None)
    return Part("The unrolled forward equations", 1,
                f"Steps $t = 0, \\dots, {graph.steps - 1}$; each step has its own copy of "
                "every weight.", shown)


def vector_parts(graph: VectorGraph, *, wrt: Sequence[str], forms: Sequence[str]) -> list[Part]:
    """The document's sections: the model, the forward pass, each weight's forms."""
    parts = [_model_part(graph), _forward_part(graph)]
    for w in wrt:
        parts.append(Part(f"The gradient $\\partial E/\\partial {w}$", 1))
        for form in forms:
            shown = tuple(Display(leibniz(s.equation.lhs, "latex"),
                                  leibniz(s.equation.rhs, "latex"), s.math_note, s.ref)
                          for s in matrix_form(graph, wrt=w, form=form))
            parts.append(Part(_TITLES[form], 2, "", shown))
    return parts


def vector_document(graph: VectorGraph, *, wrt: Sequence[str], forms: Sequence[str],
                    fmt: str = "latex", width: float = PAGE_WIDTH) -> str:
    """The whole derivation of ``graph`` as ``fmt`` (latex or markdown)."""
    render = latex_document if fmt == "latex" else markdown_document
    return render(document_title(graph.spec.name, graph.steps),
                  vector_parts(graph, wrt=wrt, forms=forms), width=width)
