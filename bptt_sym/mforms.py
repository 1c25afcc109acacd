"""The equations of each matrix form of a weight's gradient, with the notes that explain
them: what ``derive --model elman`` prints and what ``export --model elman`` writes.

Each note comes twice: as plain text (Unicode) for the terminal, and with ``$…$`` LaTeX
math for documents.

    >>> from bptt_sym.vector import unroll_vector
    >>> steps = matrix_form(unroll_vector(steps=3), wrt="W", form="paths")
    >>> steps[0].ref, steps[0].note
    ('V5', 'the whole sequence is one sample: a sum of the losses of every step')
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .derive import Equation
from .errors import UsageError
from .mderive import BoundedSum, StepSum, derive_matrix, per_output
from .notation import Partial
from .vector import VectorGraph

__all__ = ["MATRIX_FORMS", "MatrixStep", "matrix_form"]

MATRIX_FORMS = ("paths", "delta")


@dataclass(frozen=True)
class MatrixStep:
    """One equation of a matrix form, the note before it (text and LaTeX) and its number."""

    equation: Equation
    note: str = ""
    math_note: str = ""
    ref: str = ""


def _per_output(g: VectorGraph, wrt: str) -> list[MatrixStep]:
    """V5: ∂E/∂W = Σ_t ∂E_t/∂W, the chain that carries each E_t back to W, and its pieces."""
    w = sp.MatrixSymbol(wrt, *g.copies[wrt][0].shape)
    e_t = sp.MatrixSymbol("E_t", 1, 1)
    out = [MatrixStep(Equation(Partial(g.loss, w), StepSum(Partial(e_t, w)), "sum"),
                      "the whole sequence is one sample: a sum of the losses of every step",
                      "the whole sequence is one sample: a sum of the losses of every step",
                      "V5")]
    notes = {
        "chain": (f"each loss E_t reaches {wrt} through the state of every step k ≤ t, by the "
                  f"copy {wrt}_k used at step k (∂s_k/∂{wrt}_k is a 3-tensor)",
                  f"each loss $E_t$ reaches ${wrt}$ through the state of every step $k \\le t$, "
                  f"by the copy ${wrt}_k$ used at step $k$"),
        "jacobian": ("where the step Jacobian is", "where the step Jacobian is"),
        "local": ("and the error of E_t alone at its state (softmax with cross-entropy)",
                  "and the error of $E_t$ alone at its state (softmax with cross-entropy)"),
    }
    if all(not isinstance(e.rhs, BoundedSum) for kind, e in per_output(g, wrt)):
        notes["chain"] = (f"{wrt} acts on the output of step t only",
                          f"${wrt}$ acts on the output of step $t$ only")
        notes["local"] = ("the same, worked out (softmax with cross-entropy)",
                          "the same, worked out (softmax with cross-entropy)")
    for kind, eq in per_output(g, wrt):
        out.append(MatrixStep(eq, *notes[kind]))
    return out


def _delta(g: VectorGraph, wrt: str) -> list[MatrixStep]:
    """The δ recursion in t (when T ≥ 2), then the same unrolled over the steps."""
    d = derive_matrix(g, wrt=wrt)
    notes = [("the output error of softmax with cross-entropy (targets sum to 1)",
              "the output error of softmax with cross-entropy (targets sum to 1)"),
             (f"the delta recursion δ_t = ∂E/∂z_t, with δ_{g.steps} = 0",
              f"the delta recursion $\\delta_t = \\partial E/\\partial z_t$, with "
              f"$\\delta_{{{g.steps}}} = 0$"), ("", "")]
    out = [MatrixStep(e, *n) for n, e in zip(notes, d.template)]
    first = ("unrolled over the steps", "unrolled over the steps")
    out += [MatrixStep(e, *(first if i == 0 else ("", ""))) for i, e in enumerate(d.unrolled)]
    return out


def matrix_form(g: VectorGraph, *, wrt: str, form: str) -> list[MatrixStep]:
    """The equations of ``form`` (paths: per output, V5; delta: the matrix δ recursion)."""
    if form not in MATRIX_FORMS:
        raise UsageError(f"elman has the forms {', '.join(MATRIX_FORMS)} (delta: the matrix "
                         "δ recursion; paths: the per-output form V5)")
    if wrt not in g.copies:
        raise UsageError(f"unknown --wrt {wrt!r} for {g.spec.name}; choose from "
                         f"{', '.join(g.copies)}")
    return _per_output(g, wrt) if form == "paths" else _delta(g, wrt)
