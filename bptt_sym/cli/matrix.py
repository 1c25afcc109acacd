"""The CLI for matrix models (elman, and model files with [shapes]): derive, unroll, verify
and check in matrix notation.

Called by :mod:`bptt_sym.cli.main` for a matrix model; the same one-line errors, exit 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bptt_sym.cli.parser import SIZE_LETTERS
from bptt_sym.derivation.forms import FORMS, Equation
from bptt_sym.derivation.matrix_forms import (
    MATRIX_FORMS,
    forms_text,
    served_forms,
)
from bptt_sym.derivation.registry import derive
from bptt_sym.errors import UsageError
from bptt_sym.files import emit, emit_json, json_text, warn
from bptt_sym.graph.build import Graph
from bptt_sym.graph.matrix import unroll_vector, unused_parameters, unused_text
from bptt_sym.model.registry import MODELS
from bptt_sym.model.spec import ModelSpec
from bptt_sym.printing.leibniz import leibniz

__all__ = ["vector_graph", "vector_spec", "check_vector", "derive_vector", "unroll_vector_cmd",
           "verify_vector"]

def vector_spec(args: argparse.Namespace) -> ModelSpec:
    """The matrix model of ``--model``: a built-in one by name, or the file's."""
    return args.model if isinstance(args.model, ModelSpec) else MODELS[args.model]


def _sizes(args: argparse.Namespace) -> dict[str, int]:
    """The sizes the command line gives (--size letters besides elman's --hidden …)."""
    return {k: v for k, v in (getattr(args, "size", None) or {}).items()
            if k not in SIZE_LETTERS}


def vector_graph(args: argparse.Namespace) -> Graph:
    """The unrolled matrix graph for the command line's options (tanh unless given)."""
    spec = vector_spec(args)
    if args.output != "g" or args.loss != "L":
        raise UsageError(f"--output and --loss do not apply: matrix model {spec.name} writes "
                         "its output and loss in its equations (elman: softmax and cross-entropy,"
                         " V2, V3); drop them")
    if args.bias and not spec.optional:
        raise UsageError(f"--bias does not apply: model {spec.name} has no optional parameters "
                         "(its `optional` list names the biases --bias adds)")
    return unroll_vector(spec, steps=args.steps, sizes=_sizes(args), hidden=args.hidden,
                         inputs=args.inputs, classes=args.classes, bias=args.bias,
                         activation=args.activation)


def _note(step: Equation) -> str:
    return f"({step.ref}) {step.note}" if step.ref else step.note


def vector_request(args: argparse.Namespace, split: Callable[..., list[str]]
                   ) -> tuple[Graph, list[str], list[str]]:
    """The graph, the --wrt weights and the --form forms of derive or export for elman."""
    g = vector_graph(args)
    asked = split(args.form, "--form", FORMS)
    forms = [f for f in asked if f in MATRIX_FORMS]
    if not forms or (args.form.strip() != ",".join(FORMS) and len(forms) < len(asked)):
        raise UsageError(forms_text(g))
    left_out = [f for f in forms if f not in served_forms(g)]
    if left_out and args.form.strip() == ",".join(FORMS):  # the default: what the model serves
        forms = [f for f in forms if f not in left_out]
        warn(f"bptt-sym: note: the per-output form (paths) needs a loss that adds one loss per "
             f"step; model {g.spec.name} gets the delta form")
    wrts = split(args.wrt, "--wrt") if args.wrt else list(g.copies)
    for name in unused_parameters(g):
        if name in wrts:
            raise UsageError(unused_text(g, name))
        warn(f"bptt-sym: note: {unused_text(g, name)}")
    for w in wrts:
        if w not in g.copies:
            raise UsageError(f"unknown --wrt {w!r} for {g.spec.name}; choose from "
                             f"{', '.join(g.copies)}")
    if args.of not in (None, g.spec.loss):
        raise UsageError(f"--of for {g.spec.name} is the loss {g.spec.loss} only")
    return g, wrts, forms


def derive_vector(args: argparse.Namespace, split: Callable[..., list[str]]) -> int:
    """``bptt-sym derive --model elman``: the matrix forms of each weight's gradient."""
    g, wrts, forms = vector_request(args, split)
    blocks, docs = [], []
    for w in wrts:
        for form in forms:
            d = derive(g, wrt=w, form=form)
            docs.append({"wrt": w, "form": form, "equations": [
                {"note": _note(st),
                 "lhs": {f: leibniz(st.lhs, f) for f in ("ascii", "unicode", "latex")},
                 "rhs": {f: leibniz(st.rhs, f) for f in ("ascii", "unicode", "latex")},
                 **({"holds_for": f"t < {st.last}"} if st.last is not None else {})}
                for st in d.equations]})
            if args.format != "json":
                blocks.append(d.text(args.format))
    if args.format == "json":
        emit_json({"model": g.spec.name, "steps": g.steps, "dims": dict(g.dims),
                   "derivations": docs}, ensure_ascii=False, indent=1)
    else:
        emit("\n\n".join(blocks))
    return 0


def unroll_vector_cmd(args: argparse.Namespace) -> int:
    """``bptt-sym unroll --model elman``: the forward equations of every step."""
    g = vector_graph(args)
    comment = "%" if args.format == "latex" else "#"
    emit(f"{comment} model {g.spec.heading}; steps 0..{g.steps - 1}")
    for node in g.nodes.values():
        if node.expr is not None:
            emit(f"{leibniz(node.symbol, args.format)} = {leibniz(node.expr, args.format)}")
    return 0


def verify_vector(args: argparse.Namespace) -> int:
    """``bptt-sym verify`` for a matrix model."""
    from bptt_sym.verification.matrix import verify_matrix
    from bptt_sym.verification.points import read_elman_points

    g = vector_graph(args)  # the same checks of the options
    at = read_elman_points(args.at, g) if args.at else None
    report = verify_matrix(g.spec, steps=args.steps, sizes=g.dims, bias=args.bias,
                           activation=args.activation, oracles=args.oracle,
                           points=args.points, seed=args.seed, at=at)
    emit(json_text(report.to_json(), indent=1) if args.json else report.text())
    return 0 if report.passed else 1


def check_vector(args: argparse.Namespace, text: str, show: callable) -> list:
    """``bptt-sym check`` for a matrix model: matrix formulas, decided at small random sizes
    (or at the sizes --size, --hidden, --inputs, --classes give)."""
    from bptt_sym.check.matrix import check_matrix
    from bptt_sym.graph.names import default_shapes

    spec = vector_spec(args)
    given = {**_sizes(args), "H": args.hidden, "D": args.inputs, "K": args.classes}
    shapes = default_shapes(spec, {k: v for k, v in given.items() if v})
    return check_matrix(text, spec=spec, steps=args.steps, bias=args.bias,
                        activation=args.activation,
                        seed=args.seed, shapes=shapes, on_verdict=show, first=args.first,
                        layout=args.layout, partials=args.partials)
