"""The forms of a derivation, the graphs each one serves, and ``derive`` for every model.

A scalar graph serves all four forms of the article; a matrix graph the delta recursion,
and the per-output chain (V5, the ``paths`` form) where its loss adds one loss per step of
one state.  A form a graph does not serve is refused here, with one message.

    >>> from bptt_sym.graph.build import unroll
    >>> served(unroll("elman", steps=2))
    ('paths', 'delta')
    >>> print(derive(unroll("elman", steps=1), wrt="V").text("ascii"))
    # dE/dV, matrix form (elman: hidden 4, inputs 3, classes 3, T = 1)
    # unrolled over the steps
    delta_0 = (V^T @ (yhat_0 - y_0)) * (1 - s_0 * s_0)
    dE/dV = (yhat_0 - y_0) @ s_0^T
"""

from __future__ import annotations

from bptt_sym.derivation.forms import DEFAULT_MAX_PATHS, FORMS, Derivation
from bptt_sym.derivation.forms import derive as derive_scalar
from bptt_sym.derivation.matrix_forms import MATRIX_FORMS, forms_text, matrix_form, served_forms
from bptt_sym.errors import UsageError
from bptt_sym.graph.build import Graph

__all__ = ["FORMS", "served", "derive", "sizes_text"]

SIZE_WORDS = {"H": "hidden", "D": "inputs", "K": "classes"}


def served(graph: Graph) -> tuple[str, ...]:
    """The forms ``graph`` serves, in the order of :data:`FORMS`."""
    return served_forms(graph) if graph.spec.is_matrix else FORMS


def sizes_text(graph: Graph) -> str:
    """``hidden 4, inputs 3, classes 3``: the sizes a matrix derivation's header names."""
    return ", ".join(f"{SIZE_WORDS[k]} {n}" if k in SIZE_WORDS else f"{k} = {n}"
                     for k, n in graph.dims.items())


def derive(graph: Graph, *, wrt: str, of: str | None = None, form: str | None = None,
           explicit: bool = False, max_paths: int = DEFAULT_MAX_PATHS) -> Derivation:
    """Derive ∂of/∂wrt in ``form`` (default: factored for a scalar graph, delta for a
    matrix one); ``of`` is the loss unless given (a scalar graph: any node)."""
    if form is not None and form not in FORMS:
        raise UsageError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    if not graph.spec.is_matrix:
        return derive_scalar(graph, wrt=wrt, of=of, form=form or "factored",
                             explicit=explicit, max_paths=max_paths)
    form = form or "delta"
    if form not in MATRIX_FORMS:
        raise UsageError(forms_text(graph))
    loss = graph.spec.loss
    if of not in (None, loss):
        raise UsageError(f"--of for {graph.spec.name} is the loss {loss} only")
    kind = "matrix form" if form == "delta" else "per output"
    title = f"d{loss}/d{wrt}, {kind} ({graph.spec.name}: {sizes_text(graph)}, T = {graph.steps})"
    return Derivation(loss, wrt, form, tuple(matrix_form(graph, wrt=wrt, form=form)), graph,
                      title)
