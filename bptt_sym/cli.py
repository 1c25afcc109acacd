"""The ``bptt-sym`` command: ``derive``, ``unroll``, ``verify``, ``check``, ``export``,
``graph`` and ``models``.

Every mistake in the command line ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .check import check_graph, summary
from .cli_vector import (
    VECTOR_MODELS,
    check_vector,
    derive_vector,
    unroll_vector_cmd,
    vector_graph,
    vector_request,
    verify_vector,
)
from .derive import DEFAULT_MAX_PATHS, FORMS, PathLimitError, derive
from .drawing import PICTURE_FORMATS, draw, picture_format
from .errors import BpttError, UsageError
from .export import DOCUMENT_FORMATS, Skipped, collect, document_format, latex, markdown
from .graph import MAX_STEPS, Graph, unroll
from .mexport import vector_document
from .models import MODELS
from .oracles import ORACLES
from .printing import FORMATS, derivation_json, leibniz
from .rules import rule_names
from .verify import read_points, verify

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line instead of a usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _steps(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 1 <= value <= MAX_STEPS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_STEPS}, got {value}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="doc", choices=list(MODELS) + list(VECTOR_MODELS),
                   help="the model to unroll (default: doc, the article's scalar RNN; elman: "
                   "its vector RNN, V1-V4)")
    p.add_argument("--steps", type=_steps, default=2, metavar="T",
                   help="number of time steps t = 0..T-1 (default: 2, as in the article)")
    p.add_argument("--activation", default=None, choices=rule_names("activation"),
                   help="activation f of the state (default: abstract f, valid for all; "
                   "tanh for --model elman, as V1)")
    p.add_argument("--output", default="g", choices=rule_names("output"),
                   help="output function g (default: abstract g)")
    p.add_argument("--loss", default="L", choices=rule_names("loss"),
                   help="loss L (default: abstract L)")
    sizes = p.add_argument_group("sizes of the vector model (--model elman)")
    sizes.add_argument("--hidden", type=_positive, default=None, metavar="H",
                       help="hidden units (default: 4)")
    sizes.add_argument("--inputs", type=_positive, default=None, metavar="D",
                       help="inputs per step (default: 3)")
    sizes.add_argument("--classes", type=_positive, default=None, metavar="K",
                       help="output classes (default: 3)")
    sizes.add_argument("--bias", action="store_true", help="add the biases b and c")


def _derivation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--wrt", default=None, metavar="NAMES",
                   help="comma list of parameters (u, w, k, v) or nodes (s_0, z_1 ...) "
                   "(default: every parameter)")
    p.add_argument("--of", default=None, metavar="NODE",
                   help="the node to differentiate (default: the loss E)")
    p.add_argument("--form", default=",".join(FORMS), metavar="FORMS",
                   help=f"comma list of {', '.join(FORMS)} (default: all four, in that order)")
    p.add_argument("--explicit", action="store_true",
                   help="write the closed form in inputs and parameters only, not node "
                   "values (affects --form closed only)")
    p.add_argument("--max-paths", type=_positive, default=DEFAULT_MAX_PATHS, metavar="N",
                   help=f"most paths the paths form may print (default: {DEFAULT_MAX_PATHS})")


def _output_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("-o", "--output-file", default="-", metavar="FILE",
                   help=f"where to write the {what}; the suffix chooses the format; - writes "
                   "to stdout (default: -)")


def _parser() -> _Parser:
    top = _Parser(prog="bptt-sym", description="Derive, print, verify and check the gradients of "
                  "backpropagation through time, in the notation of the BPTT article.")
    top.add_argument("--version", action="version", version=f"bptt-sym {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    d = sub.add_parser("derive", help="derive gradients of the unrolled model",
                       description="Derive ∂OF/∂WRT in the article's forms: paths (chain "
                       "products, B1-B3, B7, B8, B4), factored (B5, B6), delta (the BPTT "
                       "recursion) and closed (every local derivative evaluated).")
    _model_options(d)
    _derivation_options(d)
    d.add_argument("--format", default="unicode", choices=FORMATS,
                   help="unicode (∂, ·, subscripts), ascii (dE/du), latex or json "
                   "(default: unicode)")

    u = sub.add_parser("unroll", help="print the unrolled forward equations",
                       description="Print the model's equations for every step, as the "
                       "article's S1-S12 for --steps 2.")
    _model_options(u)
    u.add_argument("--format", default="unicode", choices=("unicode", "ascii", "latex"),
                   help="notation (default: unicode)")

    v = sub.add_parser("verify", help="check the derived gradients numerically",
                       description="Compile the delta and closed forms of every parameter's "
                       "gradient into NumPy and compare them with numeric autodiff "
                       "(autograd, torch, jax) and finite differences of an independently "
                       "written forward pass. Exit 0 when every row passes, 1 otherwise.")
    _model_options(v)
    v.add_argument("--oracle", action="append", choices=list(ORACLES), metavar="NAME",
                   help=f"an oracle to compare with, repeatable: {', '.join(ORACLES)} "
                   "(default: every one; one that is not installed is skipped)")
    v.add_argument("--points", type=_positive, default=64, metavar="N",
                   help="random sequences to check at (default: 64)")
    v.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    v.add_argument("--at", metavar="FILE", help="a JSON file of values to check at instead "
                   "of random points: u, w, k, v, y, s_{-1} numbers and x a list of T numbers "
                   "(or lists of those, one per point); for elman the matrices U, W, V, x (T "
                   "rows), y (T rows) and optionally s_{-1} (see docs/elman.md)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")

    c = sub.add_parser("check", help="check a hand derivation, equation by equation",
                       description="Read every equation of FILE (plain text, one a line; or "
                       "Markdown/LaTeX math) in ASCII, Unicode or LaTeX notation and say "
                       "whether it holds for the model, and when not, why. With --model "
                       "elman: matrix formulas (^T, *, @, diag, outer, sum_t, prod_j, delta_t),"
                       " decided at three small sizes unless --hidden/--inputs/--classes "
                       "give one. Exit 0 when every equation holds, 1 when one fails or is "
                       "invalid, 2 for usage errors.")
    c.add_argument("file", metavar="FILE", help="the derivation to check; - reads stdin")
    _model_options(c)
    c.add_argument("--seed", type=int, default=0, help="seed of the random points (default 0)")
    c.add_argument("--json", action="store_true", help="print one JSON object")

    e = sub.add_parser("export", help="write a whole derivation as a LaTeX or Markdown document",
                       description="Write the model's equations, the unrolled forward "
                       "equations and every chosen form of each gradient as a standalone "
                       "LaTeX document (.tex) or Markdown with $$ math blocks (.md).")
    _model_options(e)
    _derivation_options(e)
    _output_option(e, "document")
    e.add_argument("--format", default=None, choices=DOCUMENT_FORMATS,
                   help="latex or markdown (default: from the suffix of -o; latex for -)")

    gr = sub.add_parser("graph", help="draw the unrolled graph with a gradient's paths",
                        description="Draw the unrolled graph, nodes by time step, each edge "
                        "labelled with its local partial; the paths from --of down to the "
                        "copies of --wrt are drawn in one colour per step copy.")
    _model_options(gr)
    gr.add_argument("--wrt", default=None, metavar="NAMES",
                    help="comma list of parameters or nodes whose paths to highlight "
                    "(default: none)")
    gr.add_argument("--of", default=None, metavar="NODE",
                    help="the node the highlighted paths start from (default: the loss E)")
    _output_option(gr, "picture")
    gr.add_argument("--format", default=None, choices=PICTURE_FORMATS,
                    help="dot (Graphviz source, needs no program), svg or png (need the dot "
                    "program) (default: from the suffix of -o; dot for -)")

    sub.add_parser("models", help="list the models and their equations",
                   description="List the built-in models with their defining equations.")
    return top


def _split(text: str, option: str, allowed: Sequence[str] | None = None) -> list[str]:
    items = list(dict.fromkeys(t.strip() for t in text.split(",")))
    if not all(items):
        raise UsageError(f"{option} {text!r} has an empty name; write a comma list such as u,w")
    if allowed is not None:
        for item in items:
            if item not in allowed:
                raise UsageError(f"unknown {option} value {item!r}; choose from "
                                 f"{', '.join(allowed)}")
    return items


def _graph(args: argparse.Namespace) -> Graph:
    if getattr(args, "hidden", None) or getattr(args, "inputs", None) or \
            getattr(args, "classes", None) or getattr(args, "bias", False):
        raise UsageError("--hidden, --inputs, --classes and --bias are for --model elman")
    g = unroll(args.model, steps=args.steps, activation=args.activation, output=args.output,
               loss=args.loss)
    for note in g.warnings:
        print(f"bptt-sym: warning: {note}", file=sys.stderr)
    return g


def _targets(args: argparse.Namespace, g: Graph) -> tuple[list[str], str]:
    """The --wrt names (default: every parameter) and the --of node, each checked."""
    wrts = _split(args.wrt, "--wrt") if args.wrt else list(g.copies)
    of = args.of or g.spec.loss
    for w in wrts:
        g.resolve(w)
    g.resolve(of, option="--of")
    return wrts, of


def _derive(args: argparse.Namespace) -> int:
    if args.model in VECTOR_MODELS:
        return derive_vector(args, _split)
    forms = _split(args.form, "--form", FORMS)
    g = _graph(args)
    wrts, of = _targets(args, g)
    explicit_paths = args.form.strip() != ",".join(FORMS)
    results = []
    for w in wrts:
        for form in forms:
            try:
                results.append(derive(g, wrt=w, of=of, form=form, explicit=args.explicit,
                                      max_paths=args.max_paths))
            except PathLimitError as exc:
                if explicit_paths:
                    raise
                print(f"bptt-sym: note: paths form of ∂{of}/∂{w} skipped: {exc}",
                      file=sys.stderr)
    if args.format == "json":
        doc = {"model": g.spec.name, "steps": g.steps, "choices": dict(g.choices),
               "warnings": list(g.warnings), "derivations": [derivation_json(d) for d in results]}
        print(json.dumps(doc, ensure_ascii=False, indent=1))
    else:
        print("\n\n".join(d.text(args.format) for d in results))
    return 0


def _unroll(args: argparse.Namespace) -> int:
    if args.model in VECTOR_MODELS:
        return unroll_vector_cmd(args)
    g = _graph(args)
    comment = "%" if args.format == "latex" else "#"
    print(f"{comment} model {g.spec.name}: {g.spec.title}, steps 0..{g.steps - 1}")
    for node in g.nodes.values():
        if node.expr is None:
            continue
        ref = g.spec.refs.get((node.base, node.step)) if g.steps == g.spec.article_steps else None
        if ref:
            print(f"{comment} ({ref})")
        lhs = leibniz(node.symbol, args.format)
        print(f"{lhs} = {leibniz(node.expr, args.format, depth=g.steps)}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if args.model in VECTOR_MODELS:
        return verify_vector(args)
    g = _graph(args)
    at = read_points(args.at, g) if args.at else None
    report = verify(args.model, steps=args.steps, activation=args.activation,
                    output=args.output, loss=args.loss, oracles=args.oracle,
                    points=args.points, seed=args.seed, at=at)
    print(json.dumps(report.to_json(), indent=1) if args.json else report.text())
    return 0 if report.passed else 1


MAX_FILE_BYTES = 5_000_000


def _read_text(name: str) -> str:
    """The text of FILE (or stdin for ``-``), as UTF-8; every failure is a UsageError."""
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with open(name, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {name!r}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise UsageError(f"{name!r} is larger than {MAX_FILE_BYTES // 1_000_000} MB; split it")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{name!r} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                         f"{exc.start}); save it as UTF-8") from None


def _check(args: argparse.Namespace) -> int:
    show = None if args.json else lambda v: print(v.text())
    if args.model in VECTOR_MODELS:
        vector_graph(args)  # the same checks of the options as derive and verify
        text = _read_text(args.file)
        verdicts = check_vector(args, text, show)
    else:
        g = _graph(args)
        text = _read_text(args.file)
        verdicts = check_graph(text, g, seed=args.seed, on_verdict=show)
    counts = summary(verdicts)
    if args.json:
        print(json.dumps({"equations": [v.to_json() for v in verdicts], "summary": counts},
                         ensure_ascii=False, indent=1))
    elif verdicts:
        print(f"{counts['holds']} hold, {counts['fails']} fail, {counts['invalid']} invalid")
    if not verdicts:
        print(f"bptt-sym check: no equations found in {args.file!r}", file=sys.stderr)
        return 1
    return 0 if counts["holds"] == len(verdicts) else 1


def _check_output(name: str) -> None:
    """Fail early, before any work, on an output path that cannot be written."""
    if name == "-":
        return
    path = Path(name)
    if path.is_dir():
        raise UsageError(f"cannot write {name!r}: it is a directory")
    parent = path.parent
    if not parent.exists():
        raise UsageError(f"cannot write {name!r}: the directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise UsageError(f"cannot write {name!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {name!r}: no permission to write in {str(parent)!r}")


def _write_output(name: str, data: bytes) -> None:
    """Write ``data`` to ``name`` whole or not at all (a temporary file, then a rename)."""
    if name == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    path = Path(os.path.realpath(name))  # through a symlink, to the file it names
    if path.exists() and not path.is_file():  # /dev/null, a pipe: nothing to rename over
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise UsageError(f"cannot write {name!r}: {exc.strerror or exc}") from None
        return
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write {name!r}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _export(args: argparse.Namespace) -> int:
    fmt = document_format(args.output_file, args.format)
    _check_output(args.output_file)
    if args.model in VECTOR_MODELS:
        g, wrts, forms = vector_request(args, _split)
        text = vector_document(g, wrt=wrts, forms=forms, fmt=fmt)
        _write_output(args.output_file, text.encode())
        return 0
    forms = _split(args.form, "--form", FORMS)
    g = _graph(args)
    wrts, of = _targets(args, g)
    skipped: list[Skipped] = []
    results = collect(g, wrt=wrts, forms=forms, of=of, explicit=args.explicit,
                      max_paths=args.max_paths, skipped=skipped,
                      skip_long_paths=args.form.strip() == ",".join(FORMS))
    for note in skipped:
        print(f"bptt-sym: note: {note}", file=sys.stderr)
    text = (latex if fmt == "latex" else markdown)(g, results, skipped=skipped)
    _write_output(args.output_file, text.encode())
    return 0


def _draw(args: argparse.Namespace) -> int:
    fmt = picture_format(args.output_file, args.format)
    _check_output(args.output_file)
    g = vector_graph(args) if args.model in VECTOR_MODELS else _graph(args)
    wrts = _split(args.wrt, "--wrt") if args.wrt else []
    picture = draw(g, wrt=wrts, of=args.of or g.spec.loss).render(fmt)
    _write_output(args.output_file, picture)
    return 0


def _models(args: argparse.Namespace) -> int:
    for spec in MODELS.values():
        print(f"{spec.name}: {spec.title}")
        print(f"  parameters {', '.join(spec.parameters)}; inputs {', '.join(spec.inputs)}; "
              f"targets {', '.join(spec.targets)}; state {', '.join(spec.states)}")
        for line in spec.cell:
            print(f"  step t:     {line}")
        for line in spec.head:
            print(f"  after T-1:  {line}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if getattr(args, "activation", "") is None:
        args.activation = "tanh" if getattr(args, "model", "doc") in VECTOR_MODELS else "f"
    handlers = {"derive": _derive, "unroll": _unroll, "verify": _verify, "check": _check,
                "models": _models, "export": _export, "graph": _draw}
    try:
        return handlers[args.command](args)
    except UsageError as exc:
        print(f"bptt-sym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BpttError as exc:
        print(f"bptt-sym {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("bptt-sym: interrupted", file=sys.stderr)
        return 130


def main_exit() -> None:
    """Console-script entry point: run :func:`main` and exit with its status."""
    sys.exit(main())
