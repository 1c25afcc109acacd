"""The CLI for vector models (elman): derive, unroll and verify in matrix notation.

Called by :mod:`bptt_sym.cli` when ``--model elman``; the same one-line errors, exit 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .derive import FORMS
from .errors import UsageError
from .files import emit, emit_json, json_text
from .mforms import MATRIX_FORMS, MatrixStep, matrix_form
from .printing import leibniz
from .vector import ELMAN, VectorGraph, unroll_vector

__all__ = ["vector_graph", "check_vector", "derive_vector", "unroll_vector_cmd", "verify_vector",
           "VECTOR_MODELS"]

VECTOR_MODELS = {"elman": ELMAN}


def vector_graph(args: argparse.Namespace) -> VectorGraph:
    """The unrolled vector graph for the command line's options (tanh unless given)."""
    if args.output != "g" or args.loss != "L":
        raise UsageError("elman has a softmax output and cross-entropy loss (V2, V3); "
                         "drop --output and --loss")
    activation = args.activation
    return unroll_vector(steps=args.steps, hidden=args.hidden or 4, inputs=args.inputs or 3,
                         classes=args.classes or 3, bias=args.bias, activation=activation)


def _lines(steps: list[MatrixStep], fmt: str) -> list[str]:
    comment = "%" if fmt == "latex" else "#"
    out = []
    for step in steps:
        if step.note:
            out.append(f"{comment} {_note(step)}")
        out.append(f"{leibniz(step.equation.lhs, fmt)} = {leibniz(step.equation.rhs, fmt)}")
    return out


def _note(step: MatrixStep) -> str:
    return f"({step.ref}) {step.note}" if step.ref else step.note


def vector_request(args: argparse.Namespace, split: Callable[..., list[str]]
                   ) -> tuple[VectorGraph, list[str], list[str]]:
    """The graph, the --wrt weights and the --form forms of derive or export for elman."""
    g = vector_graph(args)
    asked = split(args.form, "--form", FORMS)
    forms = [f for f in asked if f in MATRIX_FORMS]
    if not forms or (args.form.strip() != ",".join(FORMS) and len(forms) < len(asked)):
        raise UsageError(f"elman has the forms {', '.join(MATRIX_FORMS)} (delta: the matrix "
                         "δ recursion; paths: the per-output form V5)")
    wrts = split(args.wrt, "--wrt") if args.wrt else list(g.copies)
    for w in wrts:
        if w not in g.copies:
            raise UsageError(f"unknown --wrt {w!r} for {g.spec.name}; choose from "
                             f"{', '.join(g.copies)}")
    if args.of not in (None, "E"):
        raise UsageError("--of for elman is the loss E only")
    return g, wrts, forms


def derive_vector(args: argparse.Namespace, split: Callable[..., list[str]]) -> int:
    """``bptt-sym derive --model elman``: the matrix forms of each weight's gradient."""
    g, wrts, forms = vector_request(args, split)
    blocks, docs = [], []
    for w in wrts:
        for form in forms:
            steps = matrix_form(g, wrt=w, form=form)
            docs.append({"wrt": w, "form": form, "equations": [
                {"note": _note(st),
                 "lhs": {f: leibniz(st.equation.lhs, f) for f in ("ascii", "unicode", "latex")},
                 "rhs": {f: leibniz(st.equation.rhs, f) for f in ("ascii", "unicode", "latex")}}
                for st in steps]})
            if args.format != "json":
                comment = "%" if args.format == "latex" else "#"
                head = (f"{comment} dE/d{w}, {'matrix form' if form == 'delta' else 'per output'}"
                        f" (elman: hidden {g.dims['H']}, inputs {g.dims['D']}, classes "
                        f"{g.dims['K']}, T = {g.steps})")
                blocks.append("\n".join([head] + _lines(steps, args.format)))
    if args.format == "json":
        emit_json({"model": "elman", "steps": g.steps, "dims": dict(g.dims),
                   "derivations": docs}, ensure_ascii=False, indent=1)
    else:
        emit("\n\n".join(blocks))
    return 0


def unroll_vector_cmd(args: argparse.Namespace) -> int:
    """``bptt-sym unroll --model elman``: the forward equations of every step."""
    g = vector_graph(args)
    comment = "%" if args.format == "latex" else "#"
    emit(f"{comment} model elman: {g.spec.title}; steps 0..{g.steps - 1}")
    for node in g.nodes.values():
        if node.expr is not None:
            emit(f"{leibniz(node.symbol, args.format)} = {leibniz(node.expr, args.format)}")
    return 0


def verify_vector(args: argparse.Namespace) -> int:
    """``bptt-sym verify --model elman``."""
    from .elman_points import read_elman_points
    from .elman_verify import verify_elman

    g = vector_graph(args)  # the same checks of the options
    at = read_elman_points(args.at, g) if args.at else None
    report = verify_elman(steps=args.steps, hidden=args.hidden or 4, inputs=args.inputs or 3,
                          classes=args.classes or 3, bias=args.bias,
                          activation=args.activation,
                          oracles=args.oracle, points=args.points, seed=args.seed, at=at)
    emit(json_text(report.to_json(), indent=1) if args.json else report.text())
    return 0 if report.passed else 1


def check_vector(args: argparse.Namespace, text: str, show: callable) -> list:
    """``bptt-sym check --model elman``: matrix formulas, decided at small random sizes
    (or at the sizes --hidden/--inputs/--classes give)."""
    from .mcheck import SHAPES, check_matrix

    given = {"H": args.hidden, "D": args.inputs, "K": args.classes}
    shapes = SHAPES if not any(given.values()) else \
        ({k: v or SHAPES[0][k] for k, v in given.items()},)
    return check_matrix(text, spec=VECTOR_MODELS[args.model], steps=args.steps, bias=args.bias,
                        activation=args.activation,
                        seed=args.seed, shapes=shapes, on_verdict=show)
