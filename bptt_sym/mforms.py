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
from .mderive import StepSum, derive_matrix, state_jacobian
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
    """V5: ∂E/∂W = Σ_t ∂E_t/∂W, and the Jacobian that carries each term back in time."""
    w = sp.MatrixSymbol(wrt, *g.copies[wrt][0].shape)
    out = [MatrixStep(Equation(Partial(g.loss, w), StepSum(Partial(sp.Symbol("E_t"), w)), "sum"),
                      "the whole sequence is one sample: a sum of the losses of every step",
                      "the whole sequence is one sample: a sum of the losses of every step",
                      "V5")]
    jac = state_jacobian(g)
    if jac is not None:
        out.append(MatrixStep(
            jac,
            f"each ∂E_t/∂{wrt} sums over k ≤ t the chain ∂E_t/∂ŷ_t · ∂ŷ_t/∂s_t · "
            f"Π_{{j=k+1..t}} ∂s_j/∂s_{{j-1}} · ∂s_k/∂{wrt}, where the step Jacobian is",
            f"each $\\partial E_t/\\partial {wrt}$ sums over $k \\le t$ the chain "
            "$\\frac{\\partial E_t}{\\partial \\hat{y}_t} \\frac{\\partial \\hat{y}_t}"
            "{\\partial s_t} \\prod_{j=k+1}^{t} \\frac{\\partial s_j}{\\partial s_{j-1}} "
            f"\\frac{{\\partial s_k}}{{\\partial {wrt}}}$, with the step Jacobian below"))
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
