"""Benchmark ``bptt-sym check``: how long it takes to judge hand-written equations.

At T = 2 it builds files of equations the way people write them and times the checker on
them, equation by equation:

* a mix of 1,000 equations: the article's B1-B8 lines in ASCII, Unicode and LaTeX
  (docs/examples/article-*), the student's lines (docs/examples/student.txt), the lines
  ``bptt-sym derive`` prints (every form, ``--of`` E, o, q, s_1, s_0, z_1, in ascii, unicode
  and latex), and wrong variants of those lines (sign flipped, doubled, a term dropped, step
  indices swapped, tanh' as 1 - s, the recurrent weight dropped, a typo);
* 1 MB of junk: 20,000 lines of random printable characters;
* an empty file.

The mix is built twice: for tanh / sigmoid / bce and for the abstract f / g / L (random
non-polynomial stand-ins), each checked with those options; both are decided by
bptt_sym.check.decide (exact rationals or Arb balls, 120 digits).

Run ``python bench/bench_check.py --help`` for the options; bench/README.md says more.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from _machine import command_output, cpu_model, git_commit  # noqa: E402
from sympy.core.cache import clear_cache

import bptt_sym
from bptt_sym import derive, unroll
from bptt_sym.check.checker import Verdict, check_graph
from bptt_sym.graph.build import Graph
from bptt_sym.syntax.document import find_equations

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "docs" / "examples"
STEPS = 2
CONCRETE = {"activation": "tanh", "output": "sigmoid", "loss": "bce"}
ABSTRACT = {"activation": "f", "output": "g", "loss": "L"}
FORMATS = ("ascii", "unicode", "latex")
FORMS = ("paths", "factored", "delta", "closed")
OF_WRT = (("E", ("u", "w", "k", "v", "s_0", "s_1", "z_0", "z_1", "q", "o", "u_0", "w_1")),
          ("o", ("u", "w", "k", "v", "s_0")), ("q", ("u", "w", "s_0")),
          ("s_1", ("u", "w", "k", "s_0", "z_0")), ("s_0", ("u", "w", "k")),
          ("z_1", ("u", "w", "s_0")))
TARGET_TOTAL = 60.0
TARGET_ONE = 0.5
VERDICTS = ("holds", "fails", "invalid")


# ---- the equations -------------------------------------------------------------------------

def notation(line: str) -> str:
    """Which notation a line is written in: latex, unicode or ascii."""
    if "\\" in line:
        return "latex"
    return "unicode" if "∂" in line or any(c in line for c in "₀₁·−") else "ascii"


def article_lines() -> list[str]:
    """B1-B8 (and the two total derivatives) as the example files write them, one a line."""
    lines = []
    for name in ("article-ascii.txt", "article-unicode.txt", "article-latex.md",
                 "student.txt"):
        text = (EXAMPLES / name).read_text(encoding="utf-8")
        lines += [f.text for f in find_equations(text)]
    return lines


def derive_lines(functions: dict[str, str]) -> list[str]:
    """Every equation ``bptt-sym derive`` prints for the OF_WRT pairs, forms and formats."""
    graph = unroll("doc", steps=STEPS, **functions)
    lines = []
    for of, wrts in OF_WRT:
        for wrt in wrts:
            for form in FORMS:
                explicit = (False, True) if form == "closed" and of == "E" else (False,)
                for ex in explicit:
                    d = derive(graph, wrt=wrt, of=of, form=form, explicit=ex)
                    for fmt in FORMATS:
                        lines += [ln for ln in d.text(fmt).splitlines()
                                  if ln.strip() and not ln.startswith(("#", "%"))]
    return lines


def _top_level_split(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside brackets."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _swap(text: str, a: str, b: str) -> str:
    return text.replace(a, "\0").replace(b, a).replace("\0", b)


MINUS = {"ascii": "-", "unicode": "−", "latex": "-"}
TIMES = {"ascii": " * ", "unicode": "·", "latex": " \\cdot "}
OPEN = {"ascii": "(", "unicode": "(", "latex": "\\left("}
CLOSE = {"ascii": ")", "unicode": ")", "latex": "\\right)"}
INDEX = {"ascii": ("_1", "_0"), "unicode": ("₁", "₀"), "latex": ("_{1}", "_{0}")}
SQUARE = {"ascii": ("s_0^2", "s_0"), "unicode": ("s₀²", "s₀"), "latex": ("s_{0}^{2}", "s_{0}")}
W1 = {"ascii": "w_1 * ", "unicode": "w₁·", "latex": "w_{1} \\cdot "}


def mutants(line: str) -> list[str]:
    """Wrong variants of one equation: the mistakes of docs/check.md, and typos."""
    fmt = notation(line)
    sides = line.split(" = ")
    if len(sides) < 2:
        return []
    head, last = " = ".join(sides[:-1]), sides[-1]
    out = [f"{head} = {MINUS[fmt]}{OPEN[fmt]}{last}{CLOSE[fmt]}",         # sign
           f"{head} = 2{TIMES[fmt]}{OPEN[fmt]}{last}{CLOSE[fmt]}"]         # factor
    terms = _top_level_split(last, " + ")
    if len(terms) > 1:                                                     # a step dropped
        out.append(f"{head} = {' + '.join(terms[:-1])}")
    one, zero = INDEX[fmt]
    if one in last and zero in last:                                       # indices swapped
        out.append(f"{head} = {_swap(last, one, zero)}")
    sq, plain = SQUARE[fmt]
    if sq in last:                                                         # tanh' as 1 - s
        out.append(f"{head} = {last.replace(sq, plain, 1)}")
    if W1[fmt] in last:                                                    # w dropped
        out.append(f"{head} = {last.replace(W1[fmt], '', 1)}")
    if "'(" in last:                                                       # f' as f
        out.append(f"{head} = {last.replace(chr(39) + '(', '(', 1)}")
    out.append(f"{head} = {last}{TIMES[fmt].strip() or '*'}")               # a typo: invalid
    return out


def mixed_equations(functions: dict[str, str], count: int, seed: int) -> tuple[list[str], int]:
    """``count`` equations, half correct lines and half wrong variants, shuffled."""
    rng = random.Random(seed)
    right = list(dict.fromkeys(article_lines() + derive_lines(functions)))
    seen = set(right)
    wrong = [m for m in dict.fromkeys(m for line in right for m in mutants(line))
             if m not in seen]
    rng.shuffle(right)
    rng.shuffle(wrong)
    half = count // 2
    picked = _take(right, half) + _take(wrong, count - half)
    rng.shuffle(picked)
    return picked, len(set(picked))


def _take(pool: Sequence[str], n: int) -> list[str]:
    """``n`` items of ``pool``: all of them once before any repeats."""
    return [pool[i % len(pool)] for i in range(n)]


def junk_lines(lines: int, seed: int) -> list[str]:
    """Random printable characters, 1 to 99 a line (about 50 on average)."""
    rng = random.Random(seed)
    chars = string.ascii_letters + string.digits + string.punctuation + " "
    return ["".join(rng.choice(chars) for _ in range(rng.randint(1, 99))) for _ in range(lines)]


# ---- timing --------------------------------------------------------------------------------

@dataclass
class Timed:
    """One equation as checked: the seconds since the previous verdict, and the verdict."""

    seconds: float
    verdict: str
    line: int
    source: str


@dataclass
class Run:
    """One check of one text."""

    name: str
    functions: str
    bytes: int
    lines: int
    unique: int | None
    total: float
    equations: list[Timed] = field(default_factory=list)
    cli: float | None = None
    cli_status: int | None = None
    alone: list[tuple[float, Timed]] = field(default_factory=list)

    def times(self, verdict: str | None = None) -> list[float]:
        return [e.seconds for e in self.equations if verdict in (None, e.verdict)]


def check_timed(text: str, graph: Graph, seed: int) -> tuple[float, list[Timed]]:
    """Check ``text``; the time of each equation is the time since the previous verdict
    (the first one includes finding the equations and drawing the random points)."""
    out: list[Timed] = []
    start = time.perf_counter()
    last = [start]

    def on_verdict(v: Verdict) -> None:
        now = time.perf_counter()
        out.append(Timed(now - last[0], v.verdict, v.line, v.source))
        last[0] = now

    check_graph(text, graph, seed=seed, on_verdict=on_verdict)
    return time.perf_counter() - start, out


def time_alone(source: str, graph: Graph, seed: int) -> float:
    """One equation checked on its own (fresh random points), as ``check`` of a one-line text."""
    start = time.perf_counter()
    check_graph(source, graph, seed=seed)
    return time.perf_counter() - start


def time_cli(path: Path, functions: dict[str, str], seed: int) -> tuple[float, int]:
    """Wall-clock seconds of ``python -m bptt_sym check FILE …`` (start-up included)."""
    cmd = [sys.executable, "-m", "bptt_sym", "check", str(path), "--steps", str(STEPS),
           "--seed", str(seed)] + [f"--{k}={v}" for k, v in functions.items()]
    start = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start, r.returncode


def bench_text(name: str, text: str, functions: dict[str, str], seed: int, workdir: Path,
               unique: int | None = None, cli: bool = True, alone: int = 0) -> Run:
    clear_cache()
    graph = unroll("doc", steps=STEPS, **functions)
    total, eqs = check_timed(text, graph, seed)
    data = text.encode("utf-8")
    run = Run(name, "/".join(functions.values()), len(data), len(text.splitlines()), unique,
              total, eqs)
    for e in sorted(eqs, key=lambda e: -e.seconds)[:alone]:
        run.alone.append((time_alone(e.source, graph, seed), e))
    if cli:
        path = workdir / f"{name.replace(' ', '-').replace('/', '-')}.txt"
        path.write_bytes(data)
        run.cli, run.cli_status = time_cli(path, functions, seed)
    return run


# ---- the report ----------------------------------------------------------------------------

def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1000:.1f}"


def verdict_table(run: Run) -> str:
    rows = ["| verdict | equations | total s | mean ms | median ms | max ms |",
            "|---|---:|---:|---:|---:|---:|"]
    for verdict in (*VERDICTS, None):
        t = run.times(verdict)
        label = verdict or "**all**"
        if not t:
            rows.append(f"| {label} | 0 | | | | |")
            continue
        rows.append(f"| {label} | {len(t)} | {sum(t):.2f} | {ms(statistics.mean(t))} | "
                    f"{ms(statistics.median(t))} | {ms(max(t))} |")
    return "\n".join(rows)


def slowest_lines(run: Run) -> list[str]:
    out = []
    for seconds, e in run.alone:
        shown = e.source if len(e.source) <= 90 else e.source[:87] + "…"
        out.append(f"- {ms(e.seconds)} ms in the run, {ms(seconds)} ms alone ({e.verdict}): "
                   f"`{shown}`")
    return out


def other_table(runs: Sequence[Run]) -> str:
    rows = ["| file | bytes | lines | equations found | holds / fails / invalid | check s | "
            "max ms per equation | CLI s (exit status) |",
            "|---|---:|---:|---:|---|---:|---:|---:|"]
    for r in runs:
        counts = " / ".join(str(len(r.times(v))) for v in VERDICTS)
        worst = ms(max(r.times())) if r.equations else "–"
        cli = "" if r.cli is None else f"{r.cli:.2f} ({r.cli_status})"
        rows.append(f"| {r.name} | {r.bytes:,} | {r.lines:,} | {len(r.equations):,} | {counts} | "
                    f"{r.total:.2f} | {worst} | {cli} |")
    return "\n".join(rows)








def machine() -> dict[str, str]:
    import sympy

    return {
        "date": command_output(["date", "-u"], time.strftime("%a %b %d %H:%M:%S UTC %Y",
                                                             time.gmtime())),
        "machine": f"{command_output(['uname', '-m'], platform.machine())}, {cpu_model()}, "
                   f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sympy": sympy.__version__,
        "load average at start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "bptt_sym": f"{bptt_sym.__version__}, commit {git_commit()}",
    }


def targets(mixes: Sequence[Run]) -> list[str]:
    out = []
    for r in mixes:
        met = "met" if r.total <= TARGET_TOTAL else "NOT met"
        out.append(f"- {len(r.equations):,} equations ≤ {TARGET_TOTAL:.0f} s ({r.functions}): "
                   f"{r.total:.2f} s → {met}")
    for r in mixes:
        worst = max(r.equations, key=lambda e: e.seconds)
        met = "met" if worst.seconds <= TARGET_ONE else "NOT met"
        over = sum(s > TARGET_ONE for s in r.times())
        out.append(f"- one equation ≤ {TARGET_ONE} s at T = {STEPS} ({r.functions}): slowest "
                   f"{ms(worst.seconds)} ms, {over} of {len(r.equations):,} over → {met}")
    return out


def report(info: dict[str, str], mixes: Sequence[Run], others: Sequence[Run],
           elapsed: float) -> str:
    out = [f"- {k}: {v}" for k, v in info.items()]
    out += ["", f"T = {STEPS}, `bptt_sym.check.checker.check_graph` with `on_verdict`, one "
            "process. The "
            "time of an equation is the wall-clock time from the previous verdict to its own "
            "(the first also includes finding the equations and drawing the random points). "
            "`alone` re-checks one equation as a one-line text with fresh random points. "
            "`CLI s` runs `python -m bptt_sym check FILE` in a new process, start-up included."]
    for r in mixes:
        out += ["", f"### {len(r.equations):,} equations, {r.functions} ({r.unique} distinct "
                    f"lines, {r.bytes:,} bytes)", "", verdict_table(r), "",
                ("CLI: not run (--no-cli)." if r.cli is None else
                 f"CLI: {r.cli:.2f} s (exit status {r.cli_status})."), "",
                "Slowest equations:", "", *slowest_lines(r)]
    out += ["", "### Junk and empty files", "", other_table(others), "", "### Targets", "",
            *targets(mixes), "", f"total runtime: {elapsed:.1f} s"]
    return "\n".join(out)


# ---- main ----------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--equations", type=int, default=1000,
                        help="equations in each mixed file (default 1000)")
    parser.add_argument("--junk-lines", type=int, default=20_000,
                        help="lines of random characters in the junk file (default 20000)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the mix, the junk and check's points (default 0)")
    parser.add_argument("--slowest", type=int, default=5,
                        help="re-time this many of the slowest equations alone (default 5)")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI timings")
    parser.add_argument("--abstract-only", action="store_true",
                        help="only the f/g/L mix (skip tanh/sigmoid/bce)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the generated files into DIR (default: a temporary one)")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write every per-equation time as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    info = machine()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        cli = not args.no_cli
        mixes = []
        configs = [ABSTRACT] if args.abstract_only else [CONCRETE, ABSTRACT]
        for functions in configs:
            name = "/".join(functions.values())
            progress(f"building {args.equations} equations for {name}")
            eqs, unique = mixed_equations(functions, args.equations, args.seed)
            progress(f"checking them ({unique} distinct)")
            mixes.append(bench_text(f"mix {name}", "\n".join(eqs) + "\n", functions, args.seed,
                                    workdir, unique=unique, cli=cli, alone=args.slowest))
        junk = junk_lines(args.junk_lines, args.seed)
        plain = [ln.translate(str.maketrans("", "", "$\\")) for ln in junk]
        others = []
        for name, text in (("junk (random printable)", "\n".join(junk) + "\n"),
                           ("junk without $ and \\ (plain text)", "\n".join(plain) + "\n"),
                           ("empty", "")):
            progress(f"checking {name}")
            others.append(bench_text(name, text, ABSTRACT, args.seed, workdir, cli=cli))
    print(report(info, mixes, others, time.perf_counter() - started))
    if args.json:
        args.json.write_text(json.dumps({"info": info, "runs": [asdict(r) for r in
                                                                 (*mixes, *others)]},
                                        ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
