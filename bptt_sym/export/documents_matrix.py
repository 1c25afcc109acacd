r"""Whole derivations of a matrix model (elman, a model file) as LaTeX or Markdown documents.

The same document as for the scalar model: the model's equations with a step index t, the
unrolled forward equations, then one section per weight with the per-output form (V5) and
the matrix δ recursion, every equation as ``derive --model elman --format latex`` prints it
(matrix products by juxtaposition, ``\odot``, ``^{\top}``, ``\operatorname{diag}``).

    >>> from bptt_sym.graph.matrix import unroll_vector
    >>> md = vector_document(unroll_vector(steps=2), wrt=["W"], forms=["paths"],
    ...                      fmt="markdown")
    >>> md.splitlines()[0], md.count("tag{V5}")
    ('# Backpropagation through time: model elman, T = 2 steps', 1)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import sympy as sp

from bptt_sym.derivation.matrix import StepSum
from bptt_sym.derivation.matrix_forms import matrix_form
from bptt_sym.export.documents import (
    PAGE_WIDTH,
    Display,
    Part,
    document_title,
    latex_document,
    markdown_document,
)
from bptt_sym.graph.build import Graph
from bptt_sym.graph.matrix import Apply, _without
from bptt_sym.model.checks import function_arities
from bptt_sym.model.shapes import matrix_functions
from bptt_sym.printing.leibniz import leibniz
from bptt_sym.rules.expressions import MATRIX_FUNCTIONS
from bptt_sym.syntax.equations import Ref, parse_equation

__all__ = ["vector_parts", "vector_document"]

_TITLES = {"paths": "Per output: a sum over the steps (V5)",
           "delta": "Matrix form: the delta recursion (BPTT)"}


def _written(graph: Graph) -> Callable[[Ref], sp.Basic]:
    """A model equation's reference as a symbol that prints as written: s_{t-1}, x_{t}, U."""
    spec, dims = graph.spec, {**graph.dims, "1": 1}

    def symbol(ref: Ref) -> sp.Basic:
        shift = f"{ref.offset:+d}" if ref.offset else ""
        name = ref.base if ref.var is None else f"{ref.base}_{{{ref.var or ref.offset}{shift}}}"
        if ref.base not in spec.shapes:
            return sp.Symbol(name)
        return sp.MatrixSymbol(name, *(dims[d] for d in spec.shapes[ref.base]))

    return symbol


_WORDS = {"H": "hidden units", "D": "inputs", "K": "classes"}


def _model_part(graph: Graph) -> Part:
    """The model's own equations (those of --bias when given) and what its names are."""
    spec, dims = graph.spec, graph.dims
    functions = matrix_functions(function_arities(spec.functions) | MATRIX_FUNCTIONS)
    functions.update({k: (lambda z: Apply(graph.activation, z)) for k, role in
                      spec.functions.items() if role == "activation"})
    symbol = _written(graph)
    absent = {symbol(Ref(p)) for p in set(spec.parameters) - set(graph.copies)}
    shown = []
    for line in (*spec.cell, *spec.head):
        t = parse_equation(line, functions=functions, symbol=symbol, step_sum=StepSum)
        rhs = _without(t.rhs, absent, line) if absent else t.rhs
        shown.append(Display(leibniz(symbol(t.lhs), "latex"), leibniz(rhs, "latex"),
                             numbered=False))
    sizes = [f"${k} = {n}$ {_WORDS.get(k, '')}".rstrip() for k, n in dims.items()]
    weights = [w for w in graph.copies if w not in spec.optional]
    shapes = [f"${_tex(w)}$ is ${_dims(graph, w)}$" if w in spec.shapes else
              f"${_tex(w)}$ a scalar" for w in weights]
    biases = [f"${_tex(b)}$ ({_dims(graph, b, vector=True)})" for b in graph.copies
              if b in spec.optional]
    bias_text = f", and the biases {_and(biases)}" if biases else ""
    starts = _and([f"the initial state ${s}_{{-1}}$" if spec.initial_value(s) == "given" else
                   f"the zero initial state ${s}_{{-1}} = 0$" for s in spec.states])
    what = [f"activation {graph.activation}"] * ("activation" in spec.functions.values())
    calls = {type(e).__name__ for n in graph.nodes.values() if n.expr is not None
             for e in sp.preorder_traversal(n.expr)}
    what += ["output softmax"] * ("Softmax" in calls) + ["loss cross-entropy"] * ("Xent" in calls)
    title = spec.title.split(":")[0] if spec.title else "a matrix model"
    return Part("The model", 1, (
        f"Model {spec.name}: {title}, with {_and(sizes)}: {_and(shapes)}{bias_text}. The "
        f"equations hold at every step $t$, from {starts}"
        f"{'; here ' + ', '.join(what) if what else ''}. "
        "Juxtaposition is the matrix product, $a \\odot b$ the elementwise product and "
        "$A^{\\top}$ the transpose."), tuple(shown))


def _tex(name: str) -> str:
    """A name as LaTeX: W_ir is W_{ir} (a subscript of two letters or more in braces)."""
    return re.sub(r"_([A-Za-z0-9]{2,})$", r"_{\1}", name)


def _dims(graph: Graph, name: str, vector: bool = False) -> str:
    """``4 \\times 3``: the sizes of ``name``'s shape (a vector's length alone)."""
    sizes = [str(graph.dims.get(d, 1)) for d in graph.spec.shapes.get(name, ())
             if not (vector and d == "1")]
    return " \\times ".join(sizes) or "1"


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _forward_part(graph: Graph) -> Part:
    shown = tuple(Display(leibniz(n.symbol, "latex"), leibniz(n.expr, "latex"))
                  for n in graph.nodes.values() if n.expr is not None)
    return Part("The unrolled forward equations", 1,
                f"Steps $t = 0, \\dots, {graph.steps - 1}$; each step has its own copy of "
                "every weight.", shown)


def vector_parts(graph: Graph, *, wrt: Sequence[str], forms: Sequence[str]) -> list[Part]:
    """The document's sections: the model, the forward pass, each weight's forms."""
    parts = [_model_part(graph), _forward_part(graph)]
    for w in wrt:
        parts.append(Part(f"The gradient $\\partial E/\\partial {w}$", 1))
        for form in forms:
            shown = tuple(Display(leibniz(s.lhs, "latex"),
                                  leibniz(s.rhs, "latex"), s.math_note, s.ref)
                          for s in matrix_form(graph, wrt=w, form=form))
            parts.append(Part(_TITLES[form], 2, "", shown))
    return parts


def vector_document(graph: Graph, *, wrt: Sequence[str], forms: Sequence[str],
                    fmt: str = "latex", width: float = PAGE_WIDTH) -> str:
    """The whole derivation of ``graph`` as ``fmt`` (latex or markdown)."""
    render = latex_document if fmt == "latex" else markdown_document
    return render(document_title(graph.spec.name, graph.steps),
                  vector_parts(graph, wrt=wrt, forms=forms), width=width)
