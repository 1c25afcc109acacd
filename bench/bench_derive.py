"""Benchmark bptt_sym's derivations against SymPy's naive ``diff`` of the nested loss.

For each number of steps T, in one run:

* bptt_sym: ``unroll`` the article's scalar RNN ("doc"), ``derive`` the forms ``delta``
  and ``closed`` for the four parameters u, w, k, v, print them as Unicode text, and
  measure the size of the result (characters of the text, nodes of the expression trees).
* the baseline: write the forward pass out as one nested SymPy expression E(u, w, k, v)
  (tanh cell, sigmoid output, binary cross-entropy loss) and time ``sympy.diff(E, p)``
  for the four parameters; measure the size of the result the same way (never expanded).

Run ``python bench/bench_derive.py --help`` for the options; bench/README.md says more.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import sympy as sp
from _machine import cpu_model
from _machine import git_commit as git_state  # noqa: E402
from sympy.core.cache import clear_cache

import bptt_sym
from bptt_sym import derive, unroll

DEFAULT_STEPS = "2,4,8,16,32,64,128,256,512,1024"
DEFAULT_NAIVE_LIMIT = 20.0
PARAMETERS = ("u", "w", "k", "v")
FORMS = ("delta", "closed")
CONCRETE = {"activation": "tanh", "output": "sigmoid", "loss": "bce"}
ABSTRACT = {"activation": "f", "output": "g", "loss": "L"}
BEST_OF = 3
BEST_OF_UP_TO = 64  # best of BEST_OF repetitions for T <= this, one repetition above
REPO = Path(__file__).resolve().parent.parent

R = TypeVar("R")


# ---- measuring -----------------------------------------------------------------------------

def count_nodes(expr: sp.Basic) -> int:
    """Number of nodes of an expression tree, counted with an explicit stack (no recursion)."""
    count, stack = 0, [expr]
    while stack:
        node = stack.pop()
        count += 1
        stack.extend(node.args)
    return count


def timed(fn: Callable[..., R], *args: Any, **kwargs: Any) -> tuple[float, R]:
    """Call ``fn`` once; return the elapsed ``time.perf_counter`` seconds and its result."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def repetitions(steps: int) -> int:
    """How many repetitions to take the best of at ``steps`` steps."""
    return BEST_OF if steps <= BEST_OF_UP_TO else 1


@contextmanager
def recursion_limit(limit: int) -> Iterator[None]:
    """Raise the recursion limit to at least ``limit`` for SymPy's recursive walks."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


# ---- bptt_sym ------------------------------------------------------------------------------

@dataclass
class BpttRun:
    """One repetition of bptt_sym at T steps; times in seconds, summed over u, w, k, v."""

    unroll: float
    derive: dict[str, float]
    printing: dict[str, float]
    chars: dict[str, int]
    nodes: dict[str, int]

    def total(self) -> float:
        """Unroll, both forms' derivations and their printing, in seconds."""
        return self.unroll + sum(self.derive.values()) + sum(self.printing.values())


def derivation_nodes(d: bptt_sym.Derivation) -> int:
    """Tree nodes of every equation of a derivation, both sides."""
    return sum(count_nodes(e.lhs) + count_nodes(e.rhs) for e in d.equations)


def run_bptt(steps: int, functions: dict[str, str]) -> BpttRun:
    """Unroll, derive delta and closed for the four parameters, print; from a cold cache."""
    clear_cache()
    t_unroll, graph = timed(unroll, "doc", steps=steps, **functions)
    run = BpttRun(t_unroll, dict.fromkeys(FORMS, 0.0), dict.fromkeys(FORMS, 0.0),
                  dict.fromkeys(FORMS, 0), dict.fromkeys(FORMS, 0))
    for form in FORMS:
        for p in PARAMETERS:
            t_derive, d = timed(derive, graph, wrt=p, form=form)
            t_print, text = timed(d.text, "unicode")
            run.derive[form] += t_derive
            run.printing[form] += t_print
            run.chars[form] += len(text)
            run.nodes[form] += derivation_nodes(d)
    return run


def best_bptt(runs: Sequence[BpttRun]) -> BpttRun:
    """The best (smallest) of each time over the repetitions; sizes are the same in all."""
    return BpttRun(min(r.unroll for r in runs),
                   {f: min(r.derive[f] for r in runs) for f in FORMS},
                   {f: min(r.printing[f] for r in runs) for f in FORMS},
                   runs[0].chars, runs[0].nodes)


# ---- the naive baseline --------------------------------------------------------------------

@dataclass
class NaiveRun:
    """One repetition of the baseline: building E, then ``sympy.diff`` for each parameter."""

    build: float
    diff: dict[str, float]
    nodes: dict[str, int]

    def total(self) -> float:
        """Building E plus the four ``diff`` calls, in seconds."""
        return self.build + sum(self.diff.values())


def naive_loss(steps: int) -> tuple[sp.Expr, dict[str, sp.Symbol]]:
    """The loss E(u, w, k, v) of the tanh/sigmoid/bce RNN as one nested expression."""
    u, w, k, v, y = sp.symbols("u w k v y")
    xs = sp.symbols(f"x_0:{steps}")
    s: sp.Expr = sp.Symbol("s_{-1}")
    for t in range(steps):
        s = sp.tanh(xs[t] * u + s * w + k)
    q = s * v
    o = 1 / (1 + sp.exp(-q))
    loss = -(y * sp.log(o) + (1 - y) * sp.log(1 - o))
    return loss, {"u": u, "w": w, "k": k, "v": v}


def run_naive(steps: int) -> NaiveRun:
    """Build E and differentiate it for the four parameters; from a cold cache."""
    clear_cache()
    with recursion_limit(10_000 + 50 * steps):
        t_build, (loss, params) = timed(naive_loss, steps)
        run = NaiveRun(t_build, {}, {})
        for name in PARAMETERS:
            t_diff, grad = timed(sp.diff, loss, params[name])
            run.diff[name] = t_diff
            run.nodes[name] = count_nodes(grad)
    return run


def best_naive(steps: int, limit: float) -> NaiveRun:
    """Best of the repetitions; once one repetition exceeds ``limit`` it is not repeated."""
    runs = [run_naive(steps)]
    while len(runs) < repetitions(steps) and runs[-1].total() <= limit:
        runs.append(run_naive(steps))
    return NaiveRun(min(r.build for r in runs),
                    {p: min(r.diff[p] for r in runs) for p in PARAMETERS}, runs[0].nodes)


# ---- the run -------------------------------------------------------------------------------

@dataclass
class Row:
    """All measurements at one T for one choice of functions."""

    steps: int
    functions: str
    bptt: BpttRun
    naive: NaiveRun | None = None
    naive_note: str = ""


def progress(message: str) -> None:
    """Report progress on stderr, so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def bench_functions(steps: Sequence[int], functions: dict[str, str]) -> list[Row]:
    """bptt_sym alone over every T, for one choice of activation, output and loss."""
    label = "/".join(functions.values())
    rows = []
    for n in steps:
        runs = [run_bptt(n, functions) for _ in range(repetitions(n))]
        rows.append(Row(n, label, best_bptt(runs)))
        progress(f"bptt_sym {label} T={n}: {rows[-1].bptt.total():.3f}s")
    return rows


def add_naive(rows: list[Row], limit: float) -> None:
    """Run the baseline for each row's T until one T takes longer than ``limit`` seconds."""
    stopped = ""
    for row in rows:
        if stopped:
            row.naive_note = stopped
            continue
        row.naive = best_naive(row.steps, limit)
        seconds = row.naive.total()
        progress(f"naive sympy.diff T={row.steps}: {seconds:.3f}s")
        if seconds > limit:
            stopped = f"skipped (T={row.steps} took {seconds:.1f}s)"


# ---- the report ----------------------------------------------------------------------------

def ms(seconds: float) -> str:
    """Seconds as milliseconds with one decimal."""
    return f"{1000 * seconds:.1f}"


def table(rows: Sequence[Row], with_naive: bool) -> str:
    """The Markdown table of the rows; naive columns only when ``with_naive``."""
    head = ["T", "unroll ms", "delta ms", "closed ms", "print ms", "total ms",
            "delta chars", "closed chars", "delta nodes", "closed nodes"]
    if with_naive:
        head += ["naive ms", "naive nodes", "time ratio", "size ratio"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        b = r.bptt
        cells = [str(r.steps), ms(b.unroll), ms(b.derive["delta"]), ms(b.derive["closed"]),
                 ms(sum(b.printing.values())), ms(b.total()), str(b.chars["delta"]),
                 str(b.chars["closed"]), str(b.nodes["delta"]), str(b.nodes["closed"])]
        if with_naive:
            cells += naive_cells(r)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def naive_cells(row: Row) -> list[str]:
    """Naive time, size and the two ratios; or the skip note and blanks."""
    if row.naive is None:
        return [row.naive_note, "", "", ""]
    b, n = row.bptt, row.naive
    nodes = sum(n.nodes.values())
    time_ratio = n.total() / (b.unroll + b.derive["closed"])
    size_ratio = nodes / b.nodes["closed"]
    return [ms(n.total()), str(nodes), f"{time_ratio:.1f}×", f"{size_ratio:.1f}×"]






def machine() -> dict[str, str]:
    """Date (as ``date -u`` prints it), machine, CPU count and versions."""
    return {
        "date": datetime.now(timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y"),
        "machine": f"{platform.machine()}, processor {platform.processor() or 'n/a'}, "
                   f"{cpu_model()}, {os.cpu_count()} CPUs, {platform.system()} "
                   f"{platform.release()}",
        "python": platform.python_version(),
        "sympy": sp.__version__,
        "load average at start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "bptt_sym": f"{bptt_sym.__version__}, commit {git_state()}",
    }


def report(info: dict[str, str], concrete: list[Row], abstract: list[Row], limit: float) -> str:
    """The whole Markdown report: machine, legend and both tables."""
    header = "\n".join(f"- {key}: {value}" for key, value in info.items())
    legend = (
        "Times are the best of 3 repetitions for T ≤ 64 and one repetition above, each from a "
        "cold SymPy cache, summed over the parameters u, w, k, v. `total` = unroll + delta + "
        "closed + print. Nodes count expression-tree nodes (both sides of every equation). "
        "`naive` = building the nested E plus `sympy.diff(E, p)` for the four parameters; "
        f"it stops after the first T that takes longer than {limit:g} s. "
        "`time ratio` = naive / (unroll + closed); `size ratio` = naive nodes / closed nodes."
    )
    return (f"{header}\n\n{legend}\n\n### tanh / sigmoid / bce, against sympy.diff\n\n"
            f"{table(concrete, True)}\n\n### abstract f / g / L (bptt_sym only)\n\n"
            f"{table(abstract, False)}\n")


def to_json(info: dict[str, str], rows: Sequence[Row], total: float) -> str:
    """Every measurement of the run as JSON (seconds; per parameter for the baseline)."""
    data = [{"steps": r.steps, "functions": r.functions, "bptt": asdict(r.bptt),
             "naive": asdict(r.naive) if r.naive else None, "naive_note": r.naive_note}
            for r in rows]
    return json.dumps({"machine": info, "rows": data, "runtime_seconds": total}, indent=1)


# ---- command line --------------------------------------------------------------------------

def parse_steps(text: str) -> tuple[int, ...]:
    """``"2,4,8"`` -> ``(2, 4, 8)``: positive whole numbers."""
    try:
        steps = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 2,4,8, got {text!r}") from None
    if not steps or any(n < 1 for n in steps):
        raise argparse.ArgumentTypeError(f"expected positive numbers like 2,4,8, got {text!r}")
    return steps


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: --steps, --naive-limit, --json."""
    parser = argparse.ArgumentParser(
        description="Time bptt_sym's delta and closed derivations (u, w, k, v) against "
                    "sympy.diff of the fully nested loss, for growing numbers of steps T; "
                    "print a Markdown table.")
    parser.add_argument("--steps", type=parse_steps, default=DEFAULT_STEPS,
                        help="comma-separated values of T (default: %(default)s)")
    parser.add_argument("--naive-limit", type=float, default=DEFAULT_NAIVE_LIMIT,
                        metavar="SECONDS",
                        help="stop the naive baseline after the first T that takes longer "
                             "than this (default: %(default)s)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write every measurement to FILE as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    args = parse_args(argv)
    start = time.perf_counter()
    info = machine()
    steps = sorted(set(args.steps))
    concrete = bench_functions(steps, CONCRETE)
    abstract = bench_functions(steps, ABSTRACT)
    add_naive(concrete, args.naive_limit)
    total = time.perf_counter() - start
    print(report(info, concrete, abstract, args.naive_limit))
    print(f"total runtime: {total:.1f} s")
    if args.json:
        args.json.write_text(to_json(info, concrete + abstract, total) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
