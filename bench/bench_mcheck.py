"""Benchmark ``bptt-sym check --model elman``: how long matrix formulas take to judge.

For each T it checks, equation by equation, in one run:

* ``derive``: every line ``bptt-sym derive --model elman`` prints (both forms, every weight,
  ascii, unicode and latex), all of which hold;
* ``student``: docs/examples/elman-student.txt (3 right lines, 9 mistakes to diagnose);

and, as the baseline measured in the same run, the scalar checker on the article's student
file (docs/examples/student.txt, tanh / sigmoid / bce, T = 2).  Ratios are per equation,
against that baseline's median.  ``python bench/bench_mcheck.py --help`` lists the options.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from contextlib import redirect_stdout
from pathlib import Path

from _machine import command_output, cpu_model, git_commit, version  # noqa: E402

from bptt_sym.check.checker import check
from bptt_sym.check.matrix import check_matrix
from bptt_sym.cli.main import main as cli

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "docs" / "examples"


def derive_lines(steps: int) -> list[str]:
    out = io.StringIO()
    with redirect_stdout(out):
        cli(["derive", "--model", "elman", "--steps", str(steps), "--format", "json"])
    doc = json.loads(out.getvalue())
    return sorted({f"{eq['lhs'][f]} = {eq['rhs'][f]}" for d in doc["derivations"]
                   for eq in d["equations"] for f in ("ascii", "unicode", "latex")})


def timed(run: callable, text: str) -> tuple[list[float], list[str]]:
    """Seconds per equation (each verdict's arrival) and the verdicts."""
    stamps, verdicts = [time.perf_counter()], []

    def seen(v: object) -> None:
        stamps.append(time.perf_counter())
        verdicts.append(v.verdict)

    run(text, seen)
    return [b - a for a, b in zip(stamps, stamps[1:])], verdicts


def row(name: str, steps: int, times: list[float], verdicts: list[str], base: float) -> str:
    counts = ", ".join(f"{verdicts.count(k)} {k}" for k in ("holds", "fails", "invalid")
                       if verdicts.count(k))
    med = statistics.median(times)
    return (f"| {name} | {steps} | {len(times)} ({counts}) | {sum(times):.2f} | "
            f"{med * 1000:.0f} | {max(times) * 1000:.0f} | {med / base:.1f}× |")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", default="2,3,6", help="comma list of T (default: 2,3,6)")
    args = p.parse_args(argv)
    steps = [int(s) for s in args.steps.split(",")]
    info = {
        "date": command_output(["date", "-u"], time.strftime("%c")),
        "machine": f"{platform.machine()}, {cpu_model()}, {os.cpu_count()} CPUs, "
                   f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "sympy": version("sympy"),
        "mpmath": version("mpmath"), "numpy": version("numpy"),
        "load average at start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": git_commit(),
    }
    for k, v in info.items():
        print(f"- {k}: {v}")
    scalar = (EXAMPLES / "student.txt").read_text(encoding="utf-8")
    start = time.perf_counter()  # check() returns all verdicts at once: the mean per equation
    base_verdicts = check(scalar, activation="tanh", output="sigmoid", loss="bce")
    base = (time.perf_counter() - start) / len(base_verdicts)
    print("\nSeconds for the whole file, milliseconds per equation (median, max); ratio = median "
          "per equation / the scalar baseline's mean per equation.\n")
    print("| file | T | equations | total s | median ms | max ms | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| baseline: scalar student.txt (tanh/sigmoid/bce) | 2 | {len(base_verdicts)} | "
          f"{base * len(base_verdicts):.2f} | {base * 1000:.0f} (mean) | – | 1.0× |")
    student = (EXAMPLES / "elman-student.txt").read_text(encoding="utf-8")
    for t in steps:
        for name, text in (("derive lines", "\n".join(derive_lines(t))),
                           ("elman-student.txt", student)):
            times, verdicts = timed(
                lambda text, seen, t=t: check_matrix(text, steps=t, on_verdict=seen), text)
            print(row(name, t, times, verdicts, base))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
