"""Benchmark bptt_sym's compiled gradients against a hand-written NumPy BPTT loop.

The model is the article's scalar RNN ("doc") with a tanh cell, a sigmoid output and the
binary cross-entropy loss.  For each number of steps T and each batch size B, in one run:

* ``compile_gradients(g, form="delta")`` and ``form="closed"``: the time of one call
  (all four gradients u, w, k, v of a whole batch), with prepared arrays, compile excluded;
* the baseline: a NumPy BPTT loop written by hand in this file from the article's equations
  (forward loop storing s_t, then the delta recursion from t = T-1 down to 0);
* HIPS autograd and torch autograd (float64, CPU) on ``bptt_sym.verification.oracles.doc_loss``, the
  article's forward pass typed by hand.

Each time is reported as a ratio to the hand-written loop measured in the same run.  The
compile time of both forms (derivation included) is measured against T as well.

Run ``python bench/bench_numeric.py --help`` for the options; bench/README.md says more.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _machine import command_output, cpu_model, git_commit, version  # noqa: E402
from sympy.core.cache import clear_cache

from bptt_sym import derive, unroll
from bptt_sym.numeric.compiled import Compiled, compile_gradients
from bptt_sym.verification.oracles import doc_loss, functions

DEFAULT_STEPS = "10,100,1000"
DEFAULT_BATCHES = "1,1000"
DEFAULT_REPEAT = 5
DEFAULT_MIN_TIME = 0.2
DEFAULT_BUDGET = 2.0
COMPILE_REPEAT = 3
COMPILE_SLOW = 2.0  # seconds: a compile slower than this is not repeated
CHOICE = ("tanh", "sigmoid", "bce")
PARAMETERS = ("u", "w", "k", "v")
FORMS = ("delta", "closed")
METHODS = ("loop", "delta", "closed", "autograd", "torch")
CHECK_LOOP = 1e-12  # hand loop against the compiled delta and closed forms
CHECK_ORACLE = 1e-9  # autograd and torch against the hand loop (their verify tolerance)
REPO = Path(__file__).resolve().parent.parent

Values = Mapping[str, np.ndarray]


# ---- the baseline: BPTT written by hand ----------------------------------------------------

def hand_bptt(values: Values) -> dict[str, np.ndarray]:
    """∂E/∂u, ∂E/∂w, ∂E/∂k, ∂E/∂v of every sequence of the batch, tanh / sigmoid / bce.

    Forward (S10, S9, S11, S12): z_t = u x_t + w s_{t-1} + k, s_t = tanh(z_t), q = s_{T-1} v,
    o = sigmoid(q), E = -(y log o + (1 - y) log(1 - o)).
    Backward: δq = ∂E/∂o · ∂o/∂q = o - y; ∂E/∂v = δq s_{T-1}; ∂E/∂s_{T-1} = δq v; then for
    t = T-1 … 0: δ_t = ∂E/∂z_t = ∂E/∂s_t (1 - s_t²), ∂E/∂u += δ_t x_t, ∂E/∂w += δ_t s_{t-1},
    ∂E/∂k += δ_t, ∂E/∂s_{t-1} = δ_t w (B1: the gradient of a shared parameter is the sum
    over its step copies).
    """
    u, w, k, v, y = (values[p] for p in ("u", "w", "k", "v", "y"))
    x = values["x"]
    steps = x.shape[1]
    s = values["s_{-1}"]
    states = [s]                              # s_{-1}, s_0, …, s_{T-1}
    for t in range(steps):
        s = np.tanh(u * x[:, t] + w * s + k)
        states.append(s)
    o = 1.0 / (1.0 + np.exp(-(s * v)))
    dq = o - y
    dv = dq * s
    ds = dq * v
    du = np.zeros_like(ds)
    dw = np.zeros_like(ds)
    dk = np.zeros_like(ds)
    for t in range(steps - 1, -1, -1):
        s_t = states[t + 1]
        dz = ds * (1.0 - s_t * s_t)
        du += dz * x[:, t]
        dw += dz * states[t]
        dk += dz
        ds = dz * w
    return {"u": du, "w": dw, "k": dk, "v": dv}


# ---- the references: autograd and torch on oracles.doc_loss ---------------------------------

def autograd_call(values: Values) -> Callable[[], dict[str, np.ndarray]]:
    """A call of HIPS autograd's reverse mode on ``doc_loss``, its inputs prepared."""
    import autograd
    import autograd.numpy as anp

    fns = functions(anp, *CHOICE)
    x, s0, y = values["x"], values["s_{-1}"], values["y"]
    stacked = np.stack([values[p] for p in PARAMETERS])

    def total(theta):  # noqa: ANN001, ANN202 - the sequences are independent: sum their E
        return anp.sum(doc_loss(dict(zip(PARAMETERS, theta)), x, s0, y, fns))

    grad = autograd.grad(total)

    def call() -> dict[str, np.ndarray]:
        g = grad(stacked)
        return {p: g[i] for i, p in enumerate(PARAMETERS)}
    return call


def torch_call(values: Values) -> Callable[[], dict[str, np.ndarray]]:
    """A call of torch.autograd (float64, CPU) on ``doc_loss``, its tensors prepared."""
    import torch

    fns = functions(torch, *CHOICE)
    theta = [torch.tensor(values[p], dtype=torch.float64, requires_grad=True)
             for p in PARAMETERS]
    x, s0, y = (torch.tensor(values[n], dtype=torch.float64) for n in ("x", "s_{-1}", "y"))

    def call() -> dict[str, np.ndarray]:
        loss = doc_loss(dict(zip(PARAMETERS, theta)), x, s0, y, fns).sum()
        grads = torch.autograd.grad(loss, theta)
        return {p: g.numpy() for p, g in zip(PARAMETERS, grads)}
    return call


def torch_threads(requested: int | None) -> str | None:
    """torch's intra-op thread count for the run, as the report states it.

    By default the count is left at torch's default (``torch.get_num_threads()``, the CPU
    count) and not set again: on the 2-CPU machine of docs/performance.md an explicit
    ``torch.set_num_threads(2)``, the same number, made batch-1000 calls 5-50× slower
    (bench/README.md).  ``requested`` calls ``torch.set_num_threads(requested)``.
    """
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    if requested is not None:
        torch.set_num_threads(requested)
    n = torch.get_num_threads()
    how = ("torch's default, left unset" if requested is None
           else f"torch.set_num_threads({requested})")
    return f"{n} thread{'' if n == 1 else 's'} ({how})"


# ---- measuring -----------------------------------------------------------------------------

@dataclass
class Timing:
    """One method at one (T, B): seconds per call, best over the repetitions."""

    best: float
    calls: int                       # calls per repetition
    repetitions: list[float] = field(default_factory=list)  # seconds per call, each

    def ms(self) -> float:
        return 1000 * self.best


def run_calls(fn: Callable[[], object], calls: int) -> float:
    """Seconds for ``calls`` calls of ``fn`` (``time.perf_counter``)."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return time.perf_counter() - start


def measure(fn: Callable[[], object], repeat: int, min_time: float, budget: float) -> Timing:
    """Best time per call; each repetition is ``calls`` calls lasting at least ``min_time``.

    ``calls`` is found as in ``timeit``'s autorange (1, 2, 5, 10, 20, … calls until a run
    lasts ``min_time``); that run counts as the first repetition.  Slow cases get fewer
    repetitions: no more than fit into ``budget`` seconds, but at least two (one when a
    single call already takes longer than ``budget``).
    """
    gc.collect()
    fn()  # warm-up: first-call costs (imports, allocator, autograd tracing set-up)
    calls = 1
    while True:
        elapsed = run_calls(fn, calls)
        if elapsed >= min_time:
            break
        calls = next(c for c in _autorange() if c > calls)
    per_run = elapsed
    limit = max(1 if per_run > budget else 2, min(repeat, math.floor(budget / per_run)))
    times = [elapsed / calls]
    while len(times) < limit:
        times.append(run_calls(fn, calls) / calls)
    return Timing(min(times), calls, times)


def _autorange():  # noqa: ANN202 - 1, 2, 5, 10, 20, 50, …
    i = 1
    while True:
        for m in (1, 2, 5):
            yield m * i
        i *= 10


def max_rel(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> float:
    """Largest relative disagreement over u, w, k, v, as in verify (gradcheck's measure)."""
    worst = 0.0
    for p in PARAMETERS:
        x, y = np.asarray(a[p], dtype=float), np.asarray(b[p], dtype=float)
        scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))), 1e-300)
        worst = max(worst, float(np.max(np.abs(x - y))) / scale)
    return worst


def random_values(steps: int, batch: int, seed: int) -> dict[str, np.ndarray]:
    """A batch drawn as verify draws its points, so that no activation saturates."""
    rng = np.random.default_rng([seed, steps, batch])
    return {"u": rng.uniform(-1, 1, batch), "w": rng.uniform(-0.9, 0.9, batch),
            "k": rng.uniform(-0.5, 0.5, batch), "v": rng.uniform(-1.5, 1.5, batch),
            "y": rng.uniform(0.1, 0.9, batch), "s_{-1}": rng.uniform(-0.5, 0.5, batch),
            "x": rng.normal(size=(batch, steps))}


# ---- compile time ---------------------------------------------------------------------------

@dataclass
class CompileRow:
    """Compile time at T steps (seconds, best over the repetitions)."""

    steps: int
    unroll: float
    derive: dict[str, float]           # derive(g, wrt=p, form) for u, w, k, v, alone
    compile: dict[str, float]          # compile_gradients(g, form), derivation included
    repetitions: dict[str, int]


def cold_compile(steps: int, form: str) -> tuple[float, float, Compiled]:
    """From a cold SymPy cache and a fresh graph: unroll, then ``compile_gradients``."""
    clear_cache()
    gc.collect()
    start = time.perf_counter()
    graph = unroll("doc", steps=steps, activation=CHOICE[0], output=CHOICE[1], loss=CHOICE[2])
    middle = time.perf_counter()
    compiled = compile_gradients(graph, form=form)
    return middle - start, time.perf_counter() - middle, compiled


def cold_derive(steps: int, form: str) -> float:
    """From a cold cache and a fresh graph: ``derive`` alone, for the four parameters."""
    clear_cache()
    graph = unroll("doc", steps=steps, activation=CHOICE[0], output=CHOICE[1], loss=CHOICE[2])
    start = time.perf_counter()
    for p in PARAMETERS:
        derive(graph, wrt=p, form=form)
    return time.perf_counter() - start


def bench_compile(steps: int) -> tuple[CompileRow, dict[str, Compiled]]:
    """Best of up to COMPILE_REPEAT cold compiles of each form (one when it is slow)."""
    row = CompileRow(steps, math.inf, {}, {}, {})
    compiled: dict[str, Compiled] = {}
    for form in FORMS:
        times = []
        while len(times) < COMPILE_REPEAT and (not times or times[-1] <= COMPILE_SLOW):
            t_unroll, t_compile, compiled[form] = cold_compile(steps, form)
            row.unroll = min(row.unroll, t_unroll)
            times.append(t_compile)
        row.compile[form] = min(times)
        row.repetitions[form] = len(times)
        row.derive[form] = min(cold_derive(steps, form) for _ in range(len(times)))
    clear_cache()
    return row, compiled


# ---- one (T, B) cell -----------------------------------------------------------------------

@dataclass
class CallRow:
    """All methods at one (T, B)."""

    steps: int
    batch: int
    timings: dict[str, Timing | None]
    checks: dict[str, float]          # max relative disagreement with the hand loop

    def ratio(self, method: str) -> float | None:
        t = self.timings.get(method)
        return None if t is None else t.best / self.timings["loop"].best


def bench_calls(steps: int, batch: int, compiled: Mapping[str, Compiled],
                args: argparse.Namespace, have: Mapping[str, bool]) -> CallRow:
    """Check every method against the hand loop once, then time each."""
    values = random_values(steps, batch, args.seed)
    reference = hand_bptt(values)
    calls: dict[str, Callable[[], object]] = {"loop": lambda: hand_bptt(values)}
    for form in FORMS:
        calls[form] = (lambda c: lambda: c(values))(compiled[form])
    if have["autograd"]:
        calls["autograd"] = autograd_call(values)
    if have["torch"]:
        calls["torch"] = torch_call(values)
    checks = {m: max_rel(fn(), reference) for m, fn in calls.items() if m != "loop"}
    timings: dict[str, Timing | None] = dict.fromkeys(METHODS)
    for method, fn in calls.items():
        timings[method] = measure(fn, args.repeat, args.min_time, args.budget)
        progress(f"T={steps} B={batch} {method}: {timings[method].ms():.4f} ms/call "
                 f"({timings[method].calls} calls x {len(timings[method].repetitions)})")
    return CallRow(steps, batch, timings, checks)


# ---- the report ----------------------------------------------------------------------------

def progress(message: str) -> None:
    """Report progress on stderr, so that stdout holds only the report."""
    print(message, file=sys.stderr, flush=True)


def fmt_ms(seconds: float) -> str:
    """Milliseconds with four significant digits."""
    return f"{1000 * seconds:.4g}"


def fmt_ratio(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}×"


def calls_table(rows: Sequence[CallRow]) -> str:
    head = ["T", "batch", "loop ms", "delta ms", "closed ms", "autograd ms", "torch ms",
            "delta / loop", "closed / loop", "autograd / loop", "torch / loop"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells = [str(r.steps), str(r.batch)]
        cells += ["n/a" if r.timings[m] is None else fmt_ms(r.timings[m].best) for m in METHODS]
        cells += [fmt_ratio(r.ratio(m)) for m in METHODS[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compile_table(rows: Sequence[CompileRow]) -> str:
    head = ["T", "unroll ms", "delta compile ms", "delta derive ms", "closed compile ms",
            "closed derive ms", "repetitions"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells = [str(r.steps), f"{1000 * r.unroll:.1f}",
                 f"{1000 * r.compile['delta']:.1f}", f"{1000 * r.derive['delta']:.1f}",
                 f"{1000 * r.compile['closed']:.1f}", f"{1000 * r.derive['closed']:.1f}",
                 f"{r.repetitions['delta']}, {r.repetitions['closed']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def checks_lines(rows: Sequence[CallRow]) -> list[str]:
    out = []
    for r in rows:
        parts = []
        for m, err in r.checks.items():
            tol = CHECK_LOOP if m in FORMS else CHECK_ORACLE
            parts.append(f"{m} {err:.1e} ({'ok' if err <= tol else 'FAIL'})")
        out.append(f"- T={r.steps}, batch {r.batch}: " + ", ".join(parts))
    return out


def targets_lines(rows: Sequence[CallRow]) -> list[str]:
    """The issue's two targets, stated against the numbers of this run."""
    out = []
    cell = [r for r in rows if r.steps == 100 and r.batch == 1000]
    if cell:
        r = cell[0]
        for form in FORMS:
            ratio = r.ratio(form)
            out.append(f"- ≤ 1.5× the hand-written loop at T = 100, batch 1000: {form} "
                       f"{ratio:.2f}× → {'met' if ratio <= 1.5 else 'NOT met'}")
    else:
        out.append("- ≤ 1.5× the hand-written loop at T = 100, batch 1000: not measured")
    ones = [r for r in rows if r.batch == 1 and r.timings["torch"] is not None]
    for r in ones:
        torch_s = r.timings["torch"].best
        for form in FORMS:
            speed = torch_s / r.timings[form].best
            out.append(f"- faster than torch autograd at batch 1, T = {r.steps}: {form} "
                       f"{fmt_ms(r.timings[form].best)} ms vs torch {fmt_ms(torch_s)} ms "
                       f"({speed:.2f}× as fast) → {'met' if speed > 1 else 'NOT met'}")
    if not ones:
        out.append("- faster than torch autograd at batch 1: not measured")
    return out










def machine(threads: str | None) -> dict[str, str]:
    """Date (``date -u``), machine, CPU count, versions, torch threads and commit."""
    return {
        "date": command_output(["date", "-u"], time.strftime("%a %b %d %H:%M:%S UTC %Y",
                                                             time.gmtime())),
        "machine": f"{command_output(['uname', '-m'], platform.machine())}, {cpu_model()}, "
                   f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "sympy": version("sympy"),
        "torch": version("torch") + ("" if threads is None else f", {threads}"),
        "autograd": version("autograd"),
        "load average at start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": git_commit(),
    }


def report(info: Mapping[str, str], calls: Sequence[CallRow], compiles: Sequence[CompileRow],
           args: argparse.Namespace) -> str:
    header = "\n".join(f"- {k}: {v}" for k, v in info.items())
    legend = (
        "Model doc, tanh / sigmoid / bce. Milliseconds per call: all four gradients u, w, k, "
        "v of the whole batch, inputs prepared in advance, compile excluded. Each time is the "
        f"best of up to {args.repeat} repetitions of N calls, N chosen so that one repetition "
        f"lasts at least {args.min_time:g} s (fewer repetitions when they would exceed "
        f"{args.budget:g} s). `loop` = the hand-written NumPy BPTT loop; `delta`, `closed` = "
        "`compile_gradients(g, form=…)`; `autograd` = HIPS autograd on "
        "`verification.oracles.doc_loss`; "
        "`torch` = `torch.autograd.grad` on the same forward, float64, CPU. "
        "Ratios are time / loop time from this run (below 1 = faster than the loop).")
    clegend = (
        "Compile time against T: `compile_gradients(g, form=…)` for u, w, k, v from a cold "
        "SymPy cache (`clear_cache()`) and a freshly unrolled graph; it includes the "
        "derivation. `derive ms` is `derive(g, wrt=p, form=…)` alone for the four "
        "parameters, from a cold cache, for comparison. `unroll ms` is not part of compile. "
        f"Best of up to {COMPILE_REPEAT} repetitions, one when a compile takes longer than "
        f"{COMPILE_SLOW:g} s (`repetitions`: delta, closed).")
    return "\n".join([
        header, "", legend, "", "### Time per gradient call", "", calls_table(calls), "",
        "### Compile time", "", clegend, "", compile_table(compiles), "",
        f"### Checks (max relative difference from the loop; compiled ≤ {CHECK_LOOP:g}, "
        f"autograd and torch ≤ {CHECK_ORACLE:g})", "", *checks_lines(calls), "",
        "### Targets", "", *targets_lines(calls), ""])


def to_json(info: Mapping[str, str], calls: Sequence[CallRow],
            compiles: Sequence[CompileRow], total: float) -> str:
    rows = [{"steps": r.steps, "batch": r.batch,
             "seconds_per_call": {m: None if t is None else asdict(t)
                                  for m, t in r.timings.items()},
             "ratio_to_loop": {m: r.ratio(m) for m in METHODS[1:]},
             "max_rel_vs_loop": r.checks} for r in calls]
    return json.dumps({"machine": dict(info), "calls": rows,
                       "compile_seconds": [asdict(c) for c in compiles],
                       "runtime_seconds": total}, indent=1)


# ---- command line --------------------------------------------------------------------------

def parse_list(text: str) -> tuple[int, ...]:
    """``"10,100"`` -> ``(10, 100)``: positive whole numbers."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 10,100, got {text!r}") from None
    if not values or any(n < 1 for n in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers like 10,100, got {text!r}")
    return values


def positive(kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value
    return parse


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time bptt_sym's compiled gradients (delta and closed forms, tanh / "
                    "sigmoid / bce) against a hand-written NumPy BPTT loop, HIPS autograd "
                    "and torch autograd, and their compile time against T; print a "
                    "Markdown report.")
    parser.add_argument("--steps", type=parse_list, default=DEFAULT_STEPS,
                        help="comma-separated values of T (default: %(default)s)")
    parser.add_argument("--batch", type=parse_list, default=DEFAULT_BATCHES,
                        help="comma-separated batch sizes (default: %(default)s)")
    parser.add_argument("--repeat", type=positive(int), default=DEFAULT_REPEAT,
                        help="repetitions to take the best of (default: %(default)s)")
    parser.add_argument("--min-time", type=positive(float), default=DEFAULT_MIN_TIME,
                        metavar="SECONDS",
                        help="shortest duration of one repetition (default: %(default)s)")
    parser.add_argument("--budget", type=positive(float), default=DEFAULT_BUDGET,
                        metavar="SECONDS",
                        help="fewer repetitions (at least 2) for a case whose repetitions "
                             "would take longer than this in all (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random inputs (default: 0)")
    parser.add_argument("--torch-threads", type=positive(int), metavar="N",
                        help="call torch.set_num_threads(N) (default: leave torch's default, "
                             "the CPU count, unset)")
    parser.add_argument("--no-torch", action="store_true", help="skip torch")
    parser.add_argument("--no-autograd", action="store_true", help="skip HIPS autograd")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write every measurement to FILE as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    have = {"autograd": not args.no_autograd and importlib.util.find_spec("autograd") is not None,
            "torch": not args.no_torch and importlib.util.find_spec("torch") is not None}
    threads = torch_threads(args.torch_threads) if have["torch"] else None
    info = machine(threads)
    compiles: list[CompileRow] = []
    calls: list[CallRow] = []
    for steps in sorted(set(args.steps)):
        row, compiled = bench_compile(steps)
        compiles.append(row)
        progress(f"T={steps} compile: delta {row.compile['delta']:.3f}s, "
                 f"closed {row.compile['closed']:.3f}s")
        for batch in sorted(set(args.batch)):
            calls.append(bench_calls(steps, batch, compiled, args, have))
    total = time.perf_counter() - start
    print(report(info, calls, compiles, args))
    print(f"total runtime: {total:.1f} s")
    if args.json:
        args.json.write_text(to_json(info, calls, compiles, total) + "\n")
    failed = any(err > (CHECK_LOOP if m in FORMS else CHECK_ORACLE)
                 for r in calls for m, err in r.checks.items())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
