"""The options of every ``bptt-sym`` command (argparse), and the checks of their values.

A bad value is one line on stderr and exit status 2, never a usage block.
"""

from __future__ import annotations

import argparse
import re

from bptt_sym.derivation.forms import DEFAULT_MAX_PATHS, FORMS
from bptt_sym.export.documents import DOCUMENT_FORMATS
from bptt_sym.export.drawing import PICTURE_FORMATS
from bptt_sym.files import MAX_INPUT_BYTES
from bptt_sym.graph.build import MAX_STEPS
from bptt_sym.limits import MAX_POINTS, STEPS_HELP
from bptt_sym.model.registry import MODELS
from bptt_sym.printing.leibniz import FORMATS
from bptt_sym.rules.functions import rule_names
from bptt_sym.verification.oracles import ORACLES
from bptt_sym.version import __version__

__all__ = ["parser"]


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


def _whole(text: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text[:40]!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    if high is not None and value > high:
        raise argparse.ArgumentTypeError(f"must be at most {high}, got {value}")
    return value


def _positive(text: str) -> int:
    return _whole(text, 1)


SIZE_LETTERS = {"H": "hidden", "D": "inputs", "K": "classes"}


def _sizes(text: str) -> dict[str, int]:
    """--size H=16,D=8: each size letter with a whole number."""
    out: dict[str, int] = {}
    for item in text.split(","):
        letter, eq, value = item.strip().partition("=")
        letter = letter.strip()
        if not eq or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", letter) or letter in "tT":
            raise argparse.ArgumentTypeError(
                f"{item.strip()!r} is not a size; write letter=number with the model's size "
                f"letters (elman: {', '.join(SIZE_LETTERS)}), e.g. H=16,D=8")
        if letter in out:
            raise argparse.ArgumentTypeError(f"{letter} is given twice")
        out[letter] = _positive(value.strip())
    return out


def _seed(text: str) -> int:
    return _whole(text, 0)


def _points(text: str) -> int:
    return _whole(text, 1, MAX_POINTS)


def _model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="doc", metavar="NAME|FILE",
                   help="the model to unroll: a built-in name (" +
                   ", ".join(MODELS) + "; default: doc, the "
                   "article's scalar RNN; elman: its vector RNN, V1-V4) or the path of a model "
                   "file (.toml; `bptt-sym models --show doc` prints one to start from)")
    p.add_argument("--steps", type=_steps, default=2, metavar="T",
                   help="number of time steps t = 0..T-1 (default: 2, as in the article); "
                   + STEPS_HELP)
    p.add_argument("--activation", default=None, choices=rule_names("activation"),
                   help="activation f of the state (default: the model file's defaults, else "
                   "abstract f, valid for all; tanh for a matrix model such as elman, as V1)")
    p.add_argument("--output", default=None, choices=rule_names("output"),
                   help="output function g (default: the model file's defaults, else "
                   "abstract g)")
    p.add_argument("--loss", default=None, choices=rule_names("loss"),
                   help="loss L (default: the model file's defaults, else abstract L)")
    sizes = p.add_argument_group("sizes of a matrix model (--model elman, or a file with "
                                 "[sizes])")
    sizes.add_argument("--hidden", type=_positive, default=None, metavar="H",
                       help="hidden units (default: 4)")
    sizes.add_argument("--inputs", type=_positive, default=None, metavar="D",
                       help="inputs per step (default: 3)")
    sizes.add_argument("--classes", type=_positive, default=None, metavar="K",
                       help="output classes (default: 3)")
    sizes.add_argument("--size", type=_sizes, default=None, metavar="H=…,D=…,K=…",
                       help="the sizes by their letters, e.g. H=16,D=8 (the letters of the model "
                       "file's [sizes]; for elman the same as --hidden, --inputs, --classes)")
    sizes.add_argument("--bias", action="store_true",
                       help="add the model's optional parameters (elman: the biases b and c)")


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
                   "to stdout (default: -). An existing file is not overwritten without "
                   "--force; the file is written whole or not at all")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing FILE")


def parser() -> _Parser:
    """The parser of the whole command line."""
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
    _truncate_option(d, "print the gradient of truncated BPTT instead of the four forms: "
                     "each loss's delta recursion within K steps, the truncated sum (≈) and "
                     "the terms it drops")

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
                       "written forward pass; torch is elman's nn.RNN, or the torch.nn module "
                       "that a model file's [torch] table names (the built-in lstm and gru). "
                       "Exit 0 when every row passes, 1 otherwise.")
    _model_options(v)
    v.add_argument("--oracle", action="append", choices=list(ORACLES), metavar="NAME",
                   help=f"an oracle to compare with, repeatable: {', '.join(ORACLES)} "
                   "(default: every one; one that is not installed is skipped)")
    v.add_argument("--points", type=_points, default=64, metavar="N",
                   help=f"random sequences to check at, 1 to {MAX_POINTS} (default: 64); "
                   "points × steps (× (H + D + K) for elman) is at most 10,000,000 "
                   "(docs/index.md#limits)")
    v.add_argument("--seed", type=_seed, default=0, metavar="N",
                   help="random seed, a whole number ≥ 0 (default: 0)")
    v.add_argument("--at", metavar="FILE", help="a JSON file of values to check at instead "
                   "of random points: u, w, k, v, y, s_{-1} numbers and x a list of T numbers "
                   "(or lists of those, one per point); for elman the matrices U, W, V, x (T "
                   "rows), y (T rows) and optionally s_{-1} (see docs/elman.md); at most "
                   f"{MAX_INPUT_BYTES // 1_000_000} MB, - reads stdin")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    _truncate_option(v, "check the truncated gradient instead of the full one, against "
                     "autograd and finite differences of the model's equations with every "
                     "node before step t - K of loss E_t held at its value")

    c = sub.add_parser("check", help="check a hand derivation, equation by equation",
                       description="Read every equation of FILE (plain text, one a line; or "
                       "Markdown/LaTeX math) in ASCII, Unicode or LaTeX notation and say "
                       "whether it holds for the model, and when not, why. With a matrix "
                       "model (--model elman, or a model file with [shapes]): matrix formulas "
                       "(^T, *, @, diag, outer, sum, sum_t, prod_j, and the model's named "
                       "adjoints such as delta_t), decided at three small sizes unless --size "
                       "(or --hidden/--inputs/--classes) gives one. Exit 0 when every "
                       "equation holds, 1 when one fails, is invalid or undecided, 2 for usage "
                       "errors.")
    c.add_argument("file", metavar="FILE", help="the derivation to check, at most "
                   f"{MAX_INPUT_BYTES // 1_000_000} MB; - reads stdin (a pipe or FIFO works)")
    _model_options(c)
    c.add_argument("--seed", type=int, default=0, help="seed of the random points (default 0)")
    c.add_argument("--first", type=_first, default=0, metavar="N",
                   help="the number your document gives the first step (default 0; 1 when "
                        "it writes h_1 … h_T, as d2l does): h_1 is then the model's step 0")
    c.add_argument("--layout", choices=("numerator", "denominator"), default="numerator",
                   help="what ∂a/∂b of two vectors means in matrix formulas: numerator "
                        "(default; the Jacobian, a row per entry of a: ∂h_t/∂h_{t-1} = W ...) "
                        "or denominator (its transpose, as d2l writes ∂h_t/∂h_{t-1} = W^T)")
    c.add_argument("--partials", choices=("total", "local"), default="total",
                   help="what ∂h_t/∂W of a node at step t by a weight means in matrix "
                        "formulas: total (default; through every copy of W, h_{t-1} too) or "
                        "local (through W's copy at step t only, h_{t-1} held fixed, as d2l "
                        "writes ∂h_t/∂W_hx = x_t^T)")
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

    from bptt_sym.cli.gradcheck import add_commands  # values, gradcheck
    add_commands(sub, _model_options, _output_option, _seed, _positive)

    m = sub.add_parser("models", help="list the built-in models; --show prints one's model file",
                       description="List the built-in models, one line each. With --show NAME, "
                       "print that model's file (TOML): save it, edit it and pass it as "
                       "--model FILE.")
    m.add_argument("--show", metavar="NAME|FILE", default=None,
                   help="print the model file of the built-in model NAME, or a model file "
                        "FILE as the tool reads it (checked, every key written out)")
    return top


def _truncate_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--truncate", type=lambda t: _whole(t, 0), default=None, metavar="K",
                   help="truncated BPTT after K steps (Williams and Peng's BPTT(h); the "
                   "tutorial loop `for s in range(max(0, t - K), t + 1)`): the error of the "
                   "loss at step t reaches the weights of steps t - K ... t only (a loss that "
                   "is not a sum over steps counts as one loss at the last step); K = 0 drops "
                   f"every through-time term. With it, {what}")


def _first(text: str) -> int:
    """--first: 0 or 1 (the step numbers documents count from)."""
    if text.strip() not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"must be 0 or 1, got {text!r}")
    return int(text)
