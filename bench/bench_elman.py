"""Benchmark the vector RNN ``elman``: the derived matrix-form gradient against torch nn.RNN.

One gradient (∂E/∂U, ∂E/∂W, ∂E/∂V of the batch's total loss) at hidden 256, inputs 64,
classes 32, T = 100, batch 1 and 32, in one run:

* ``matrix_gradients(graph, values)``: NumPy evaluating the derived matrix equations.  It
  derives the equations again on every call, so the run also times that part alone
  (``matrix_program(graph)``, warm and cold SymPy cache) and the call of a program derived
  once (``program(values)``);
* torch autograd through ``torch.nn.RNN`` (float64, CPU): forward, log-softmax loss and
  ``torch.autograd.grad`` for the three weights, with the module and tensors made in
  advance; at torch's default thread count and again with one thread.

The NumPy methods run first, checked against HIPS autograd (``elman_oracles``), and torch
only afterwards, checked against the matrix form: once torch has run, its OpenMP threads
compete with OpenBLAS's on a 2-CPU machine.  Ratios are against torch from the same run.
``python bench/bench_elman.py --help`` lists the options; bench/README.md says more.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.metadata
import importlib.util
import io
import json
import math
import os
import platform
import pstats
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from _machine import command_output, cpu_model, version  # noqa: E402
from sympy.core.cache import clear_cache

from bptt_sym.derivation.matrix import derive_matrix
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.numeric import matrix as mnumeric
from bptt_sym.verification.matrix_oracles import elman_gradient, max_rel, weight_names

REPO = Path(__file__).resolve().parent.parent
CHECK = 1e-9  # matrix form against torch and autograd
Values = Mapping[str, np.ndarray]


# ---- measuring -------------------------------------------------------------------------------

@dataclass
class Timing:
    """Seconds per call, best over the repetitions (each repetition: ``calls`` calls)."""

    best: float
    calls: int
    repetitions: list[float] = field(default_factory=list)


def measure(fn: Callable[[], object], repeat: int, min_time: float, budget: float,
            setup: Callable[[], object] | None = None) -> Timing:
    """Best of ``repeat`` repetitions of N calls, N as in timeit's autorange (≥ ``min_time``).

    One warm-up call first.  A repetition that is slow gets fewer repeats: as many as fit in
    ``budget`` seconds, but at least two (one if a single call is longer than the budget).
    ``setup`` runs before every call, untimed (used for SymPy's cache).
    """
    def run(calls: int) -> float:
        total = 0.0
        for _ in range(calls):
            if setup is not None:
                setup()
            start = time.perf_counter()
            fn()
            total += time.perf_counter() - start
        return total

    gc.collect()
    run(1)
    calls = 1
    while (elapsed := run(calls)) < min_time:
        calls = next(c for c in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if c > calls) \
            if calls < 1000 else calls * 2
    limit = max(1 if elapsed > budget else 2, min(repeat, math.floor(budget / elapsed)))
    times = [elapsed / calls]
    while len(times) < limit:
        times.append(run(calls) / calls)
    return Timing(min(times), calls, times)


# ---- the methods -----------------------------------------------------------------------------

def derive_all(graph) -> Callable | None:  # noqa: ANN001
    """Derive every weight's equations: ``matrix_program`` if mnumeric has it.

    Returns the program (callable on values) or None when only ``derive_matrix`` exists.
    """
    make = getattr(mnumeric, "matrix_program", None)
    if make is not None:
        return make(graph)
    for p in graph.copies:
        derive_matrix(graph, wrt=p)
    return None


def torch_call(values: Values, steps: int, bias: bool) -> Callable[[], dict[str, np.ndarray]]:
    """One gradient through torch.nn.RNN (float64, CPU), module and tensors prepared."""
    import torch

    u, w, v = (values[p] for p in ("U", "W", "V"))
    h, d = u.shape
    rnn = torch.nn.RNN(input_size=d, hidden_size=h, nonlinearity="tanh", bias=bias,
                       batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(u))
        rnn.weight_hh_l0.copy_(torch.tensor(w))
        if bias:
            rnn.bias_ih_l0.copy_(torch.tensor(values["b"][:, 0]))
            rnn.bias_hh_l0.zero_()
    if bias:
        rnn.bias_hh_l0.requires_grad_(False)
    V = torch.tensor(v, requires_grad=True)  # noqa: N806
    c = torch.tensor(values["c"][:, 0], requires_grad=True) if bias else None
    x = torch.tensor(np.stack([values[f"x_{t}"][..., 0] for t in range(steps)], axis=1))
    y = torch.tensor(np.stack([values[f"y_{t}"][..., 0] for t in range(steps)], axis=1))
    h0 = torch.tensor(values["s_{-1}"][..., 0])[None]
    params = [rnn.weight_ih_l0, rnn.weight_hh_l0, V] + ([rnn.bias_ih_l0, c] if bias else [])

    def call() -> dict[str, np.ndarray]:
        states, _ = rnn(x, h0)
        logits = states @ V.T + (0 if c is None else c)
        loss = -(y * torch.log_softmax(logits, dim=-1)).sum()
        grads = torch.autograd.grad(loss, params)
        out = dict(zip(weight_names(bias), (g.numpy() for g in grads)))
        if bias:
            out["b"], out["c"] = out["b"][:, None], out["c"][:, None]
        return out
    return call


# ---- one batch size --------------------------------------------------------------------------

@dataclass
class Row:
    batch: int
    timings: dict[str, Timing | None]
    checks: dict[str, float]


METHODS = ("matrix_gradients", "derive", "derive_cold", "program", "torch", "torch_1")


def numpy_phase(batch: int, args: argparse.Namespace) -> tuple[Row, Values, dict]:
    """The NumPy methods at one batch size, checked against autograd, before torch runs.

    Torch is not touched in this phase: its OpenMP threads keep spinning for a while after
    a call, and on 2 CPUs they then compete with OpenBLAS's threads for the cores.
    """
    graph = unroll_vector(steps=args.steps, hidden=args.hidden, inputs=args.inputs,
                          classes=args.classes, bias=args.bias, activation="tanh")
    values = mnumeric.random_values(graph, np.random.default_rng([args.seed, batch]),
                                    batch=batch)
    result = mnumeric.matrix_gradients(graph, values)
    program = derive_all(graph)
    checks = {"autograd": max_rel(result, elman_gradient("autograd", values, steps=args.steps,
                                                         bias=args.bias))}
    calls: dict[str, Callable[[], object]] = {
        "matrix_gradients": lambda: mnumeric.matrix_gradients(graph, values),
        "derive": lambda: derive_all(graph),
    }
    if program is not None:
        checks["program"] = max_rel(program(values), result)
        calls["program"] = lambda: program(values)
    timings: dict[str, Timing | None] = dict.fromkeys(METHODS)
    for name, fn in calls.items():
        timings[name] = measure(fn, args.repeat, args.min_time, args.budget)
        progress(f"batch {batch} {name}: {1000 * timings[name].best:.2f} ms "
                 f"({timings[name].calls} calls x {len(timings[name].repetitions)})")
    # the derivation from a cold SymPy cache (as in a fresh process), a few times
    timings["derive_cold"] = measure(lambda: derive_all(graph), min(args.repeat, 3), 0.0,
                                     args.budget, setup=clear_cache)
    progress(f"batch {batch} derive (cold cache): {1000 * timings['derive_cold'].best:.2f} ms")
    return Row(batch, timings, checks), values, result


def torch_phase(rows: Sequence[Row], data: Sequence[tuple[Values, dict]],
                args: argparse.Namespace, key: str) -> None:
    """Check torch against the matrix form, then time it, for every batch size."""
    for row, (values, result) in zip(rows, data):
        call = torch_call(values, args.steps, args.bias)
        row.checks.setdefault("torch", max_rel(result, call()))
        row.timings[key] = measure(call, args.repeat, args.min_time, args.budget)
        progress(f"batch {row.batch} {key}: {1000 * row.timings[key].best:.2f} ms "
                 f"({row.timings[key].calls} calls x {len(row.timings[key].repetitions)})")


def profile(args: argparse.Namespace, batch: int, top: int) -> str:
    """cProfile of one warm ``matrix_gradients`` call: the top entries by cumulative time."""
    graph = unroll_vector(steps=args.steps, hidden=args.hidden, inputs=args.inputs,
                          classes=args.classes, bias=args.bias)
    values = mnumeric.random_values(graph, np.random.default_rng([args.seed, batch]),
                                    batch=batch)
    mnumeric.matrix_gradients(graph, values)
    prof = cProfile.Profile()
    prof.enable()
    mnumeric.matrix_gradients(graph, values)
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


# ---- the report ------------------------------------------------------------------------------

def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)








def blas() -> str:
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info.get('name', '?')} {info.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - only for the report
        return "unknown"


def machine() -> dict[str, str]:
    commit = command_output(["git", "rev-parse", "--short", "HEAD"], "unknown")
    dirty = command_output(["git", "status", "--porcelain", "bptt_sym"], "")
    return {
        "date": command_output(["date", "-u"], time.strftime("%c UTC", time.gmtime())),
        "machine": f"{command_output(['uname', '-m'], platform.machine())}, {cpu_model()}, "
                   f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": f"{version('numpy')} ({blas()}, OPENBLAS_NUM_THREADS="
                 f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})",
        "sympy": version("sympy"),
        "torch": version("torch"),
        "autograd": version("autograd"),
        "load average at start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": commit + (" (bptt_sym/ has uncommitted changes)" if dirty else ""),
    }


def ms(t: Timing | None) -> str:
    return "n/a" if t is None else f"{1000 * t.best:.2f}"


def ratio(a: Timing | None, b: Timing | None) -> str:
    return "n/a" if a is None or b is None else f"{a.best / b.best:.2f}×"


def table(rows: Sequence[Row], threads: int | None) -> str:
    n = "?" if threads is None else str(threads)
    head = ["batch", "matrix_gradients ms", "derive ms (warm)", "derive ms (cold)",
            "program ms", f"torch ms ({n} threads)", "torch ms (1 thread)",
            "matrix_gradients / torch", "program / torch", "program / torch (1 thread)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        t = r.timings
        lines.append("| " + " | ".join([
            str(r.batch), ms(t["matrix_gradients"]), ms(t["derive"]), ms(t["derive_cold"]),
            ms(t["program"]), ms(t["torch"]), ms(t["torch_1"]),
            ratio(t["matrix_gradients"], t["torch"]), ratio(t["program"], t["torch"]),
            ratio(t["program"], t["torch_1"])]) + " |")
    return "\n".join(lines)


def report(info: Mapping[str, str], rows: Sequence[Row], args: argparse.Namespace,
           threads: int | None) -> str:
    header = "\n".join(f"- {k}: {v}" for k, v in info.items())
    legend = (
        f"Model elman (tanh, softmax, cross-entropy{', biases b, c' if args.bias else ''}), "
        f"hidden {args.hidden}, inputs {args.inputs}, classes {args.classes}, "
        f"T = {args.steps}, one-hot targets, float64. One call = the gradient of the batch's "
        "total loss with respect to every weight. Milliseconds per call, best of up to "
        f"{args.repeat} repetitions of N calls (N: each repetition lasts ≥ {args.min_time:g} s; "
        f"fewer repetitions when they would exceed {args.budget:g} s). "
        "`matrix_gradients` = `numeric.matrix.matrix_gradients(graph, values)` as called, which "
        "derives again each call; `derive` = `numeric.matrix.matrix_program(graph)` alone (the "
        "derivation inside each call; warm = SymPy cache as after the first call, cold = "
        "`clear_cache()` before each); `program` = the call of a program derived once "
        "(forward + derived equations in NumPy); `torch` = `torch.nn.RNN` forward, "
        "log-softmax loss and `torch.autograd.grad`, module and tensors made in advance. "
        "Ratios are against torch in the same run (below 1 = faster than torch).")
    checks = [f"- batch {r.batch}: " + ", ".join(
        f"{m} {e:.1e} ({'ok' if e <= CHECK else 'FAIL'})" for m, e in r.checks.items())
        for r in rows]
    return "\n".join([header, "", legend, "", table(rows, threads), "",
                      f"Checks, max relative difference of matrix_gradients from each "
                      f"(≤ {CHECK:g}):", "", *checks, ""])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time elman's derived matrix-form gradient (mnumeric.matrix_gradients) "
                    "against torch autograd through torch.nn.RNN; print a Markdown report.")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--inputs", type=int, default=64)
    parser.add_argument("--classes", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--batch", default="1,32", help="comma-separated (default: %(default)s)")
    parser.add_argument("--bias", action="store_true", help="with the biases b and c")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2, metavar="SECONDS")
    parser.add_argument("--budget", type=float, default=10.0, metavar="SECONDS",
                        help="time per method and batch size for repetitions (default: "
                             "%(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-torch", action="store_true", help="skip torch")
    parser.add_argument("--no-single-thread", action="store_true",
                        help="skip the second torch timing with torch.set_num_threads(1)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="print the top N cProfile entries of one matrix_gradients call "
                             "at the largest batch to stderr")
    parser.add_argument("--json", type=Path, metavar="FILE",
                        help="also write every repetition to FILE as JSON")
    args = parser.parse_args(argv)
    args.batch = sorted({int(b) for b in args.batch.split(",") if b.strip()})
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    have_torch = not args.no_torch and importlib.util.find_spec("torch") is not None
    info = machine()
    phase = [numpy_phase(b, args) for b in args.batch]
    rows, data = [r for r, _, _ in phase], [(v, g) for _, v, g in phase]
    if args.profile:
        progress(profile(args, max(args.batch), args.profile))
    threads = None
    if have_torch:
        import torch

        threads = torch.get_num_threads()  # torch's default, left unset
        info["torch"] += f", default {threads} threads"
        torch_phase(rows, data, args, "torch")
        if not args.no_single_thread:
            torch.set_num_threads(1)
            torch_phase(rows, data, args, "torch_1")
    total = time.perf_counter() - start
    print(report(info, rows, args, threads))
    print(f"total runtime: {total:.1f} s")
    if args.json:
        args.json.write_text(json.dumps({
            "machine": info, "runtime_seconds": total,
            "rows": [{"batch": r.batch, "checks": r.checks,
                      "seconds_per_call": {m: None if t is None else asdict(t)
                                           for m, t in r.timings.items()}} for r in rows]},
            indent=1) + "\n")
    return 1 if any(e > CHECK for r in rows for e in r.checks.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
