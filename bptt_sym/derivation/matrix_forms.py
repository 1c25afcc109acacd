"""The equations of each matrix form of a weight's gradient, with the notes that explain
them: what ``derive`` prints and ``export`` writes for a matrix model (elman, a file).

Each note comes twice: as plain text (Unicode) for the terminal, and with ``$…$`` LaTeX
math for documents.

    >>> from bptt_sym.graph.matrix import unroll_vector
    >>> steps = matrix_form(unroll_vector(steps=3), wrt="W", form="paths")
    >>> steps[0].ref, steps[0].note
    ('V5', 'the whole sequence is one sample: a sum of the losses of every step')
"""

from __future__ import annotations

import dataclasses

import sympy as sp

from bptt_sym.derivation.forms import Equation
from bptt_sym.derivation.matrix import (
    BoundedSum,
    StepSum,
    derive_matrix,
    kept_adjoints,
    per_output,
    step_losses,
)
from bptt_sym.errors import UsageError
from bptt_sym.graph.build import Graph
from bptt_sym.graph.matrix import Xent
from bptt_sym.notation import Partial
from bptt_sym.printing.leibniz import leibniz

__all__ = ["MATRIX_FORMS", "matrix_form", "served_forms", "forms_text"]

MATRIX_FORMS = ("paths", "delta")


def _step(e: Equation, note: str = "", math_note: str = "", ref: str = "",
          last: int | None = None) -> Equation:
    """``e`` with the note before it (text and LaTeX), its number and its range of t."""
    return dataclasses.replace(e, note=note, math_note=math_note, ref=ref, last=last)


def _per_output(g: Graph, wrt: str) -> list[Equation]:
    """V5: ∂E/∂W = Σ_t ∂E_t/∂W, the chain that carries each E_t back to W, and its pieces."""
    w = sp.MatrixSymbol(wrt, *g.copies[wrt][0].shape)
    e_t = sp.MatrixSymbol("E_t", 1, 1)
    out = [_step(Equation(Partial(g.loss, w), StepSum(Partial(e_t, w)), "sum"),
                 "the whole sequence is one sample: a sum of the losses of every step",
                 "the whole sequence is one sample: a sum of the losses of every step",
                 "V5")]
    s, xent = g.spec.states[0], any(isinstance(n.expr, Xent) for n in g.nodes.values())
    w_tex = leibniz(w, "latex")  # W, or W_{x} for a name with its own subscript
    copy_tex = f"{w_tex}_k" if w_tex == wrt else \
        leibniz(sp.MatrixSymbol(f"{wrt}_k", *w.shape), "latex")
    how = " (softmax with cross-entropy)" if xent else ""
    notes = {
        "chain": (f"each loss E_t reaches {wrt} through the state of every step k ≤ t, by the "
                  f"copy {wrt}_k used at step k (∂{s}_k/∂{wrt}_k is a 3-tensor)",
                  f"each loss $E_t$ reaches ${w_tex}$ through the state of every step "
                  f"$k \\le t$, by the copy ${copy_tex}$ used at step $k$"),
        "jacobian": ("where the step Jacobian is", "where the step Jacobian is"),
        "local": (f"and the error of E_t alone at its state{how}",
                  f"and the error of $E_t$ alone at its state{how}"),
    }
    if all(not isinstance(e.rhs, BoundedSum) for kind, e in per_output(g, wrt)):
        notes["chain"] = (f"{wrt} acts on the output of step t only",
                          f"${w_tex}$ acts on the output of step $t$ only")
        notes["local"] = (f"the same, worked out{how}", f"the same, worked out{how}")
    for kind, eq in per_output(g, wrt):
        out.append(_step(eq, *notes[kind]))
    return out


def _delta(g: Graph, wrt: str) -> list[Equation]:
    """The δ recursion in t (when T ≥ 2), then the same unrolled over the steps."""
    d = derive_matrix(g, wrt=wrt)
    last = g.steps - 1 if step_losses(g) is None else None  # δ_{T-1} has its own form
    out = [_step(e, *_note(g, e), last=last if e.kind == "delta" else None)
           for e in d.template]
    first = ("unrolled over the steps", "unrolled over the steps")
    out += [_step(e, *(first if i == 0 else ("", ""))) for i, e in enumerate(d.unrolled)]
    return out


def _note(g: Graph, e: Equation) -> tuple[str, str]:
    """The note before a template equation, as text and as LaTeX."""
    if e.kind == "output":
        text = "the output error of softmax with cross-entropy (targets sum to 1)"
        return text, text
    if e.kind != "delta":
        return "", ""
    z, name = next((b, n) for b, n in kept_adjoints(g).items() if e.lhs.name == f"{n}_t")
    bare = sp.MatrixSymbol(name, *e.lhs.shape)
    d, d_math, loss = leibniz(bare, "unicode"), leibniz(bare, "latex"), g.spec.loss
    if step_losses(g) is None:  # the last step's δ has its own form
        last = g.steps - 1
        return (f"the delta recursion {d}_t = ∂{loss}/∂{z}_t for t < {last} ({d}_{last} is "
                "below)", f"the delta recursion ${d_math}_t = \\partial {loss}/\\partial {z}_t$"
                f" for $t < {last}$ (${d_math}_{{{last}}}$ is below)")
    return (f"the delta recursion {d}_t = ∂{loss}/∂{z}_t, with {d}_{g.steps} = 0",
            f"the delta recursion ${d_math}_t = \\partial {loss}/\\partial {z}_t$, with "
            f"${d_math}_{{{g.steps}}} = 0$")


def served_forms(g: Graph) -> tuple[str, ...]:
    """The forms the graph serves: paths (V5) needs one state and a loss per step summed."""
    paths = step_losses(g) is not None and len(g.spec.states) == 1
    return MATRIX_FORMS if paths else ("delta",)


def forms_text(g: Graph) -> str:
    """The one message of a form the matrix graph ``g`` does not serve."""
    served = served_forms(g)
    what = {"delta": "delta: the matrix δ recursion", "paths": "paths: the per-output form V5"}
    return (f"{g.spec.name} has the form{'s' * (len(served) > 1)} {', '.join(served)} "
            f"({'; '.join(what[f] for f in ('delta', 'paths') if f in served)})")


def matrix_form(g: Graph, *, wrt: str, form: str) -> list[Equation]:
    """The equations of ``form`` (paths: per output, V5; delta: the matrix δ recursion)."""
    if form not in MATRIX_FORMS:
        raise UsageError(forms_text(g))
    if wrt not in g.copies:
        raise UsageError(f"unknown --wrt {wrt!r} for {g.spec.name}; choose from "
                         f"{', '.join(g.copies)}")
    return _per_output(g, wrt) if form == "paths" else _delta(g, wrt)
