"""The CLI for vector models (elman): derive, unroll and verify in matrix notation.

Called by :mod:`bptt_sym.cli` when ``--model elman``; the same one-line errors, exit 2.
"""

from __future__ import annotations

import argparse
import json

import sympy as sp

from .derive import FORMS, Equation
from .errors import UsageError
from .mderive import StepSum, derive_matrix, state_jacobian
from .notation import Partial
from .printing import leibniz
from .vector import ELMAN, VectorGraph, unroll_vector

__all__ = ["vector_graph", "derive_vector", "unroll_vector_cmd", "verify_vector",
           "VECTOR_MODELS"]

VECTOR_MODELS = {"elman": ELMAN}
VECTOR_FORMS = ("paths", "delta")


def vector_graph(args: argparse.Namespace) -> VectorGraph:
    """The unrolled vector graph for the command line's options (tanh unless given)."""
    if args.output != "g" or args.loss != "L":
        raise UsageError("elman has a softmax output and cross-entropy loss (V2, V3); "
                         "drop --output and --loss")
    activation = "tanh" if args.activation == "f" else args.activation
    return unroll_vector(steps=args.steps, hidden=args.hidden or 4, inputs=args.inputs or 3,
                         classes=args.classes or 3, bias=args.bias, activation=activation)


def _lines(eqs: list[tuple[str, Equation]], fmt: str) -> list[str]:
    comment = "%" if fmt == "latex" else "#"
    out = []
    for note, e in eqs:
        if note:
            out.append(f"{comment} {note}")
        out.append(f"{leibniz(e.lhs, fmt)} = {leibniz(e.rhs, fmt)}")
    return out


def _per_output(g: VectorGraph, wrt: str) -> list[tuple[str, Equation]]:
    """V5: ∂E/∂W = Σ_t ∂E_t/∂W, and the Jacobian that carries each term back in time."""
    w = sp.MatrixSymbol(wrt, *g.copies[wrt][0].shape)
    e_t = sp.Symbol("E_t")
    eqs = [("(V5) the whole sequence is one sample: a sum of the losses of every step",
            Equation(Partial(g.loss, w), StepSum(Partial(e_t, w)), "sum"))]
    jac = state_jacobian(g)
    if jac is not None:
        eqs.append((f"each ∂E_t/∂{wrt} sums over k ≤ t the chain ∂E_t/∂ŷ_t · ∂ŷ_t/∂s_t · "
                    f"Π_{{j=k+1..t}} ∂s_j/∂s_{{j-1}} · ∂s_k/∂{wrt}, where the step Jacobian is",
                    jac))
    return eqs


def derive_vector(args: argparse.Namespace, split: callable) -> int:
    """``bptt-sym derive --model elman``: the matrix forms of each weight's gradient."""
    g = vector_graph(args)
    asked = split(args.form, "--form", FORMS)
    forms = [f for f in asked if f in VECTOR_FORMS]
    if not forms or (args.form.strip() != ",".join(FORMS) and len(forms) < len(asked)):
        raise UsageError(f"elman has the forms {', '.join(VECTOR_FORMS)} (delta: the matrix "
                         "δ recursion; paths: the per-output form V5)")
    wrts = split(args.wrt, "--wrt") if args.wrt else list(g.copies)
    if args.of not in (None, "E"):
        raise UsageError("--of for elman is the loss E only")
    blocks, docs = [], []
    for w in wrts:
        d = derive_matrix(g, wrt=w)
        for form in forms:
            if form == "paths":
                eqs = _per_output(g, w)
            else:
                notes = ["the output error of softmax with cross-entropy (targets sum to 1)",
                         f"the delta recursion δ_t = ∂E/∂z_t, with δ_{g.steps} = 0", ""]
                eqs = list(zip(notes, d.template))
                eqs += [("unrolled over the steps" if i == 0 else "", e)
                        for i, e in enumerate(d.unrolled)]
            docs.append({"wrt": w, "form": form, "equations": [
                {"note": n, "lhs": {f: leibniz(e.lhs, f) for f in ("ascii", "unicode", "latex")},
                 "rhs": {f: leibniz(e.rhs, f) for f in ("ascii", "unicode", "latex")}}
                for n, e in eqs]})
            if args.format != "json":
                comment = "%" if args.format == "latex" else "#"
                head = (f"{comment} dE/d{w}, {'matrix form' if form == 'delta' else 'per output'}"
                        f" (elman: hidden {g.dims['H']}, inputs {g.dims['D']}, classes "
                        f"{g.dims['K']}, T = {g.steps})")
                blocks.append("\n".join([head] + _lines(eqs, args.format)))
    if args.format == "json":
        print(json.dumps({"model": "elman", "steps": g.steps, "dims": dict(g.dims),
                          "derivations": docs}, ensure_ascii=False, indent=1))
    else:
        print("\n\n".join(blocks))
    return 0


def unroll_vector_cmd(args: argparse.Namespace) -> int:
    """``bptt-sym unroll --model elman``: the forward equations of every step."""
    g = vector_graph(args)
    comment = "%" if args.format == "latex" else "#"
    print(f"{comment} model elman: {g.spec.title}; steps 0..{g.steps - 1}")
    for node in g.nodes.values():
        if node.expr is not None:
            print(f"{leibniz(node.symbol, args.format)} = {leibniz(node.expr, args.format)}")
    return 0


def verify_vector(args: argparse.Namespace) -> int:
    """``bptt-sym verify --model elman``."""
    from .elman_verify import verify_elman

    if args.at:
        raise UsageError("--at is not available for elman yet; use --seed and --points")
    vector_graph(args)  # the same checks of the options
    report = verify_elman(steps=args.steps, hidden=args.hidden or 4, inputs=args.inputs or 3,
                          classes=args.classes or 3, bias=args.bias,
                          activation="tanh" if args.activation == "f" else args.activation,
                          oracles=args.oracle, points=args.points, seed=args.seed)
    print(json.dumps(report.to_json(), indent=1) if args.json else report.text())
    return 0 if report.passed else 1
