"""The paths by which the loss reaches a node that has a named adjoint: the terms of the
node's delta recursion as the derivation writes them, one term per way back from the node
(an LSTM's cell state c_t is reached through h_t and through c_{t+1}: two terms of dc_t).

The diagnoses of :mod:`bptt_sym.check.explain_matrix` add a missing term to a person's
recursion, or notice that theirs is one term of several ("two paths reach c_t; yours has
one").  The terms come from the model's own derivation (:func:`derive_matrix` on three
steps, once per model), printed in ASCII and read back by the checker's grammar: text this
program wrote, never the person's.

    >>> from bptt_sym.graph.names import MatrixNames
    >>> from bptt_sym.model.registry import model_spec
    >>> paths = adjoint_paths(MatrixNames(model_spec("lstm"), steps=3))
    >>> [(p.through, p.text) for p in paths["dc"]]
    [('h_t', '(dhₜ ⊙ oₜ) ⊙ (1 − tanh(cₜ) ⊙ tanh(cₜ))'), ('c_{t+1}', 'dcₜ₊₁ ⊙ fₜ₊₁')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy as sp

from bptt_sym.errors import BpttError
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.graph.names import MatrixNames, default_shapes

__all__ = ["Path", "adjoint_paths"]


@dataclass(frozen=True)
class Path:
    """One term of an adjoint's recursion: the formula (the checker's tree), its text in
    Unicode, and the node it comes back through (``h_t``, ``c_{t+1}``; ``None`` for the
    error of the step's own output)."""

    term: object
    text: str
    through: str | None


_ADJOINT = re.compile(r"^(?P<base>[A-Za-z]+)_(?:\{(?P<index>[^}]*)\}|(?P<plain>t))$")


def adjoint_paths(names: MatrixNames) -> dict[str, tuple[Path, ...]]:
    """For each named adjoint of the model (dc, dh), the terms of its recursion at a step t
    with a next step; {} for a model without named adjoints or one the derivation cannot
    unroll.  Computed once per ``names``."""
    found = getattr(names, "_paths", None)
    if found is None:
        found = _paths(names)
        names._paths = found
    return found


def _paths(names: MatrixNames) -> dict[str, tuple[Path, ...]]:
    from bptt_sym.derivation.matrix import derive_matrix
    from bptt_sym.printing.leibniz import leibniz
    from bptt_sym.syntax.formula import ParseError, parse
    from bptt_sym.syntax.nodes import named

    if not names.adjoint:
        return {}
    try:
        graph = unroll_vector(names.spec, steps=3, sizes=default_shapes(names.spec)[0],
                              bias=names.bias, activation=names.activation)
        template = derive_matrix(graph, wrt=next(iter(graph.copies))).template
    except (BpttError, StopIteration):
        return {}
    out: dict[str, tuple[Path, ...]] = {}
    for eq in template:
        m = _ADJOINT.match(getattr(eq.lhs, "name", ""))
        if eq.kind != "delta" or m is None or m["base"] not in names.adjoint:
            continue
        terms = eq.rhs.args if isinstance(eq.rhs, sp.MatAdd) else (eq.rhs,)
        paths = []
        for term in terms:
            try:
                chain = named(parse(f"{leibniz(eq.lhs, 'ascii')} = {leibniz(term, 'ascii')}"),
                              names.spec.names)
            except ParseError:  # a term the grammar cannot write: no path diagnoses
                paths = []
                break
            paths.append(Path(chain.sides[1], leibniz(term, "unicode"), _through(term, names)))
        if len(paths) > 1:
            out[m["base"]] = tuple(paths)
    return out


def _through(term: sp.Basic, names: MatrixNames) -> str | None:
    """The node whose adjoint a term carries back (dc_{t+1} → c_{t+1}); None for none."""
    for s in sorted(term.atoms(sp.MatrixSymbol), key=lambda s: s.name):
        m = _ADJOINT.match(s.name)
        if m and m["base"] in names.adjoint:
            index = m["index"] or m["plain"]
            node = names.adjoint[m["base"]]
            return f"{node}_t" if index == "t" else f"{node}_{{{index}}}"
    return None
