"""``derive --truncate K`` and ``verify --truncate K``: truncated BPTT, for scalar and
matrix models (:mod:`bptt_sym.derivation.truncated`, :mod:`bptt_sym.verification.truncated`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bptt_sym.cli.matrix import vector_graph
from bptt_sym.derivation.forms import FORMS
from bptt_sym.errors import UsageError
from bptt_sym.files import emit, emit_json, json_text
from bptt_sym.graph.build import Graph
from bptt_sym.limits import check_points
from bptt_sym.printing.leibniz import derivation_json

__all__ = ["derive_truncated", "verify_truncated_cmd"]

_NOT_WITH = {
    "--form": "derive --truncate prints one form of its own (each loss's delta recursion "
              "within K steps)",
    "--explicit": "derive --truncate prints one form of its own (each loss's delta "
                  "recursion within K steps)",
    "--of": "truncation is of the loss's gradient",
    "--oracle": "verify --truncate checks against autograd and fd (torch's modules and "
                "the complex step give the full gradient)",
}


def _truncated_graph(args: argparse.Namespace, graph: Callable[[argparse.Namespace], Graph],
                     split: Callable[..., list[str]]) -> tuple[Graph, list[str]]:
    """The graph and --wrt parameters of ``derive --truncate`` or ``verify --truncate``."""
    given = {"--form": getattr(args, "form", ",".join(FORMS)) != ",".join(FORMS),
             "--explicit": getattr(args, "explicit", False),
             "--of": getattr(args, "of", None) is not None,
             "--oracle": bool(set(getattr(args, "oracle", None) or ()) - {"autograd", "fd"})}
    for option, why in _NOT_WITH.items():
        if given[option]:
            raise UsageError(f"{option} does not apply with --truncate: {why}; drop it")
    spec = args.model if not isinstance(args.model, str) else None
    from bptt_sym.model.registry import MODELS

    matrix = (spec or MODELS[args.model]).is_matrix
    g = vector_graph(args) if matrix else graph(args)
    wrts = split(args.wrt, "--wrt") if getattr(args, "wrt", None) else list(g.copies)
    for w in wrts:
        if w not in g.copies:
            raise UsageError(f"unknown --wrt {w!r}: --truncate takes the shared parameters of "
                             f"{g.spec.name} ({', '.join(g.copies)})")
    return g, wrts


def derive_truncated(args: argparse.Namespace, graph: Callable[[argparse.Namespace], Graph],
                     split: Callable[..., list[str]]) -> int:
    """``bptt-sym derive --truncate K``."""
    from bptt_sym.derivation.truncated import truncated_derivation

    g, wrts = _truncated_graph(args, graph, split)
    results = [truncated_derivation(g, wrt=w, k=args.truncate) for w in wrts]
    if args.format == "json":
        emit_json({"model": g.spec.name, "steps": g.steps, "truncate": args.truncate,
                   "derivations": [dict(derivation_json(d), title=d.title) for d in results]},
                  ensure_ascii=False, indent=1)
    else:
        emit("\n\n".join(d.text(args.format) for d in results))
    return 0


def verify_truncated_cmd(args: argparse.Namespace, graph: Callable[[argparse.Namespace], Graph],
                         split: Callable[..., list[str]]) -> int:
    """``bptt-sym verify --truncate K``: exit 0 when every row passes."""
    from bptt_sym.verification.points import read_elman_points
    from bptt_sym.verification.run import read_points
    from bptt_sym.verification.truncated import verify_truncated

    g, _ = _truncated_graph(args, graph, split)
    if args.at is None:
        check_points(args.points, args.steps)
    at = None
    if args.at:
        at = read_elman_points(args.at, g) if g.spec.is_matrix else read_points(args.at, g)
    report = verify_truncated(g, args.truncate, points=args.points, seed=args.seed, at=at,
                              oracles=tuple(args.oracle or ("autograd", "fd")))
    emit(json_text(report.to_json(), indent=1) if args.json else report.text())
    return 0 if report.passed else 1
