"""Fuzz model files: mutate the built-in and example files (matrix ones, and with
``--scalar`` the scalar ones too) and run each result through the loader, the unroller,
the delta form, verify and check.

A mutated file must be one ModelFileError line or a model; a model must unroll, derive,
verify and check with at most a UsageError or BpttError (one line on the command line).
Anything else is printed with its traceback and the text that caused it, and counted.

    python bench/fuzz_models.py --inputs 2000 --seed 0
    python bench/fuzz_models.py --inputs 2000 --seed 0 --scalar
    python bench/fuzz_models.py --help
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bptt_sym.check.checker import check  # noqa: E402
from bptt_sym.check.matrix import check_matrix  # noqa: E402
from bptt_sym.derivation.forms import derive  # noqa: E402
from bptt_sym.derivation.matrix_forms import matrix_form  # noqa: E402
from bptt_sym.errors import BpttError, UsageError  # noqa: E402
from bptt_sym.graph.build import unroll  # noqa: E402
from bptt_sym.graph.matrix import unroll_vector  # noqa: E402
from bptt_sym.model.load import ModelFileError, parse_model  # noqa: E402
from bptt_sym.verification.matrix import verify_matrix  # noqa: E402
from bptt_sym.verification.run import verify  # noqa: E402

PIECES = (" x ", "*", "@", "⊙", "ᵀ", "^T", "sum(", "softmax(", "xent(", "(", ")", "_{t-1}", "_t",
          "1 - ", "H", "D", "K", "N", "1", "0", "=", '"', "[", "]", "{", "}", ",", " + ", " - ",
          "/", "^2", "tanh(", "_{T-1}", "sum_t ", "T", "\n", "#", "'", "x", "y", "h", "W", "b",
          # the hand-formula grammar that model lines now share
          "\\frac{", "\\tanh", "\\cdot", "∂", "d", "/d", "_h", "_{hh}", "W_x", "′", "_{t+1}",
          "sum_{k=0}^{t} ", "prod_{j=1}^{t} ", "|", " for ", " <= ", "²", "₁", "ŷ", "δ", "σ(")


def mutate(text: str, rng: random.Random) -> str:
    """One to three insertions, deletions or copies at random places."""
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(text))
        op = rng.random()
        if op < 0.4:
            text = text[:k] + rng.choice(PIECES) + text[k:]
        elif op < 0.7:
            text = text[:k] + text[k + rng.randint(1, 5):]
        else:
            j = rng.randrange(len(text))
            text = text[:k] + text[j:j + rng.randint(1, 8)] + text[k:]
    return text


def run_one(text: str) -> str:
    """What happened to ``text``: refused, loaded (scalar), derived, or a finding."""
    try:
        spec = parse_model(text, path="m.toml")
    except ModelFileError as exc:
        return "refused" if "\n" not in str(exc) else "finding: a message of several lines"
    if not spec.is_matrix:
        return _scalar(spec)
    try:
        graph = unroll_vector(spec, steps=2)
        for w in list(graph.copies)[:2]:
            matrix_form(graph, wrt=w, form="delta")
        verify_matrix(spec, steps=2, points=1, oracles=["autograd"])
        check_matrix(f"d{spec.loss}/d{next(iter(graph.copies))} = 0", spec=spec, steps=2)
    except (UsageError, BpttError):
        return "refused later"
    return "derived"


def _scalar(spec: object) -> str:
    """A scalar model: unroll, the delta and closed forms, verify and check."""
    try:
        graph = unroll(spec, steps=2)
        for w in list(graph.copies)[:2]:
            for form in ("delta", "closed"):
                derive(graph, wrt=w, form=form).text("unicode")
        verify(spec, steps=2, points=2, oracles=["autograd"])
        check(f"d{spec.loss}/d{next(iter(graph.copies))} = 0", model=spec, steps=2)
    except (UsageError, BpttError):
        return "refused later (scalar)"
    return "derived (scalar)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=2000, help="mutated files to try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scalar", action="store_true",
                        help="mutate the scalar model files too (doc, d2l, gru-scalar, …)")
    args = parser.parse_args()
    files = [*sorted((ROOT / "bptt_sym" / "builtin").glob("*.toml")),
             *sorted((ROOT / "docs" / "examples" / "models").glob("*.toml"))]
    texts = [f.read_text("utf-8") for f in files]
    texts = [t for t in texts if args.scalar or "[shapes]" in t]
    rng = random.Random(args.seed)
    counts: dict[str, int] = {}
    start = time.perf_counter()
    for i in range(args.inputs):
        text = mutate(rng.choice(texts), rng)
        try:
            outcome = run_one(text)
        except Exception:  # noqa: BLE001 - a finding: print it and go on
            outcome = "finding: an exception"
            print(f"input {i}:", file=sys.stderr)
            traceback.print_exc()
            print(repr(text), file=sys.stderr)
        counts[outcome] = counts.get(outcome, 0) + 1
        if (i + 1) % 200 == 0:
            print(f"{i + 1} inputs, {time.perf_counter() - start:.0f} s", file=sys.stderr)
    findings = sum(n for k, n in counts.items() if k.startswith("finding"))
    print(f"{args.inputs} inputs (seed {args.seed}) in {time.perf_counter() - start:.0f} s: "
          + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
