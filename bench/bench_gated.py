"""Benchmark verify's compiled gradients of the gated built-ins against PyTorch.

For each model (lstm, gru), batch size B and thread count, in one run: the derived matrix
program of ``bptt_sym.numeric.matrix.matrix_program`` (the forward pass, the δ recursion and
every weight's gradient, compiled once; what ``verify`` runs), against torch.autograd's
backward of ``torch.nn.LSTM`` / ``torch.nn.GRU`` in float64 with the same weights, inputs
and targets (``bptt_sym.verification.torch_modules.torch_program``: the module built once,
each call one forward pass and ``loss.backward()``).  The worker keeps freed memory in the
process as ``verify`` does (:mod:`bptt_sym.numeric.memory`; torch's caching allocator does
the same for its tensors).  Both compute the gradients of every
parameter of the same loss (softmax with cross-entropy at every step); the run first checks
that they agree to 1e-9 relative.

Each thread count runs in its own process, with ``OPENBLAS_NUM_THREADS``,
``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` set before NumPy loads and
``torch.set_num_threads`` for torch, so that NumPy and torch get the same number of threads.
The ratio is bptt_sym's time over torch's, both measured in the same process.

    python bench/bench_gated.py        # hidden 256, T = 100, B = 1 and 32, 1 and 2 threads
    python bench/bench_gated.py --steps 20 --hidden 64 --batches 1,8 --threads 1
    python bench/bench_gated.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from _machine import command_output, cpu_model, git_commit, version  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _options(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="bptt_sym's compiled gradients of lstm and gru "
                                 "against torch.nn.LSTM / GRU's autograd backward (float64)")
    ap.add_argument("--models", default="lstm,gru", help="built-in models (default lstm,gru)")
    ap.add_argument("--steps", type=int, default=100, help="T (default 100)")
    ap.add_argument("--hidden", type=int, default=256, help="H (default 256)")
    ap.add_argument("--inputs", type=int, default=32, help="D (default 32)")
    ap.add_argument("--classes", type=int, default=32, help="K (default 32)")
    ap.add_argument("--batches", default="1,32", help="batch sizes B (default 1,32)")
    ap.add_argument("--threads", default="1,2", help="thread counts (default 1,2)")
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per case, best kept "
                    "(default 5)")
    ap.add_argument("--json", metavar="FILE", help="also write every measurement as JSON")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)  # one thread count
    return ap.parse_args(argv)


def _best_pair(ours: object, theirs: object, repeat: int) -> tuple[float, float]:
    """The best time of each of two calls, taken in turn (ours, theirs, ours, …) so that a
    busy spell of the machine falls on both."""
    ours()
    theirs()  # warm-up
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for i, fn in enumerate((ours, theirs)):
            start = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - start)
    return best[0], best[1]


def _worker(opts: argparse.Namespace) -> list[dict]:
    """One thread count: every model and batch, as JSON rows on stdout."""
    import numpy as np
    import torch

    from bptt_sym.graph.matrix import unroll_vector
    from bptt_sym.model.registry import model_spec
    from bptt_sym.numeric.matrix import matrix_program, random_values
    from bptt_sym.numeric.memory import keep_freed_memory
    from bptt_sym.verification.torch_modules import torch_program

    torch.set_num_threads(opts.worker)
    keep_freed_memory()  # as verify does (bptt_sym/numeric/memory.py)
    rows = []
    sizes = {"H": opts.hidden, "D": opts.inputs, "K": opts.classes}
    for model in opts.models.split(","):
        spec = model_spec(model)
        start = time.perf_counter()
        graph = unroll_vector(spec, steps=opts.steps, sizes=sizes)
        program = matrix_program(graph)
        derive_s = time.perf_counter() - start
        for batch in (int(b) for b in opts.batches.split(",")):
            values = random_values(graph, np.random.default_rng(batch), batch=batch)
            theta = {p: values[p] for p in spec.parameters}
            data = {k: v for k, v in values.items() if k not in theta}
            ours = program(values)
            theirs_fn = torch_program(spec, theta, data, opts.steps)
            theirs = theirs_fn()
            worst = max(float(np.max(np.abs(ours[p] - theirs[p])) /
                              max(float(np.max(np.abs(theirs[p]))), 1e-300)) for p in theirs)
            if worst > 1e-9:
                raise SystemExit(f"{model} B={batch}: bptt_sym and torch differ by {worst:.1e}")
            ours_s, torch_s = _best_pair(lambda v=values, f=program: f(v), theirs_fn,
                                         opts.repeat)
            rows.append({"model": model, "batch": batch, "threads": opts.worker,
                         "bptt_sym_ms": 1000 * ours_s, "torch_ms": 1000 * torch_s,
                         "ratio": ours_s / torch_s, "agree_rel": worst,
                         "derive_s": derive_s})
            print(f"{model} B={batch} threads={opts.worker}: bptt_sym {1000 * ours_s:.1f} ms, "
                  f"torch {1000 * torch_s:.1f} ms", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    opts = _options(argv)
    if opts.worker is not None:
        print(json.dumps(_worker(opts)))
        return 0
    rows: list[dict] = []
    for n in opts.threads.split(","):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=n, OMP_NUM_THREADS=n, MKL_NUM_THREADS=n)
        args = [a for a in (argv if argv is not None else sys.argv[1:])]
        r = subprocess.run([sys.executable, __file__, *args, "--worker", n], env=env,
                           stdout=subprocess.PIPE, text=True, cwd=REPO)
        if r.returncode != 0:
            return r.returncode
        rows += json.loads(r.stdout)
    import numpy
    import torch

    print(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"- machine: {cpu_model()}, {os.cpu_count()} CPUs; "
          f"{command_output(['uname', '-sr'], 'unknown OS')}")
    print(f"- commit: {git_commit()}; Python {sys.version.split()[0]}, NumPy {numpy.__version__}"
          f", torch {torch.__version__}, SymPy {version('sympy')}")
    print(f"- hidden {opts.hidden}, inputs {opts.inputs}, classes {opts.classes}, "
          f"T = {opts.steps}; best of {opts.repeat} calls each, taken in turn; float64")
    print()
    print("| model | B | threads | bptt_sym ms | torch ms | ratio | agree (max rel) | derive s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['batch']} | {r['threads']} | {r['bptt_sym_ms']:.1f} | "
              f"{r['torch_ms']:.1f} | {r['ratio']:.2f}× | {r['agree_rel']:.1e} | "
              f"{r['derive_s']:.1f} |")
    if opts.json:
        Path(opts.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
