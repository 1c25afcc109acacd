"""``bptt-sym values`` (a point for a person's backward pass) and ``bptt-sym gradcheck`` (their
gradients at that point judged against the exact ones, with the name of their mistake)."""

from __future__ import annotations

import argparse
import io
import json
import re

import numpy as np

from bptt_sym.check.backward import Exact, exact_gradients, judge
from bptt_sym.check.deltas import judge_deltas
from bptt_sym.cli.matrix import vector_graph, vector_spec
from bptt_sym.cli.user_code import call_backward
from bptt_sym.derivation.matrix import kept_adjoints
from bptt_sym.errors import UsageError
from bptt_sym.files import check_output, emit, json_text, warn, write_output
from bptt_sym.graph.build import Graph
from bptt_sym.model.registry import MODELS
from bptt_sym.numeric.matrix import random_values
from bptt_sym.verification.points import read_arrays, read_elman_points

__all__ = ["add_commands", "values_cmd", "gradcheck_cmd"]

LAYOUTS = ("columns", "rows")


def add_commands(sub: argparse._SubParsersAction, model_options: object,
                 output_option: object, seed: object, positive: object) -> None:
    """The two subcommands, with the model options every command shares."""
    v = sub.add_parser("values", help="write a random point to run a backward pass at",
                       description="Write the values of a matrix model's parameters, inputs, "
                       "targets and initial states (zero) at a random point, as JSON or, for "
                       "a FILE ending in .npz, as NumPy arrays; each name's shape is printed "
                       "to stderr. Run your backward pass at it and give its gradients to "
                       "`bptt-sym gradcheck --at FILE --grads GRADS`.")
    model_options(v)
    v.add_argument("--seed", type=seed, default=0, metavar="N",
                   help="random seed, a whole number ≥ 0 (default: 0)")
    v.add_argument("--batch", type=positive, default=1, metavar="N",
                   help="points in the batch: each input, target and initial state gets a "
                   "leading axis of N (default: 1, no batch axis)")
    v.add_argument("--layout", choices=LAYOUTS, default="columns",
                   help="columns: vectors are columns and W multiplies them (U x + W h, as "
                   "the model); rows: each weight is written transposed, for code that "
                   "writes x @ Wx + h @ Wh (default: columns)")
    v.add_argument("--one-hot-inputs", action="store_true",
                   help="each input x_t a one-hot vector of a random index, as a char-RNN "
                   "reads its characters (targets are one-hot already)")
    output_option(v, "point (.npz: NumPy arrays; anything else: JSON)")

    g = sub.add_parser("gradcheck", help="judge a backward pass's gradients at a point",
                       description="Compare your gradients (--grads, one array per "
                       "parameter, at the values of --at) with the exact ones (the "
                       "derivation evaluated in 256-bit ball arithmetic). Each parameter "
                       "matches (within its dtype's round-off, stated) or is wrong; a wrong "
                       "one is compared with the usual mistakes (sign, transpose, averaged "
                       "over the steps, one step's term where += belongs, clipped, a step "
                       "index off by one, h[t-1] wrapping to the last state at t = 0, truncated "
                       "BPTT after k steps, the through-time term dropped, an activation's "
                       "derivative left out or written as another's); the "
                       "one that fits is named. Exit 0 when all match, 1 when one is wrong, 2 "
                       "for bad input.")
    model_options(g)
    g.add_argument("--at", metavar="FILE",
                   help="the point (.json or .npz) your gradients were computed at, as "
                   "`bptt-sym values` writes it (with --call: default a random point, "
                   "--seed)")
    yours = g.add_mutually_exclusive_group(required=True)
    yours.add_argument("--grads", metavar="FILE",
                       help="your gradients (.json or .npz): one array per parameter, by its "
                       "name in the model (or as --map names it); optionally your per-step "
                       "adjoints, named as the model's adjoints (elman: delta_0 … delta_{T-1}"
                       " = ∂E/∂z_t, or one array delta with the step first): the first step, "
                       "counting back, where yours departs is named")
    yours.add_argument("--call", metavar="FILE.py:FUNC",
                       help="import your FILE.py and call FUNC(point), the point's arrays "
                       "named as `values` writes them (FUNC(**point) when FUNC's first "
                       "parameter is one of those names); it returns a dict of "
                       "gradients. This runs your own code, as pytest runs a test file")
    g.add_argument("--seed", type=seed, default=0, metavar="N",
                   help="random seed of the point --call is run at without --at (default: 0)")
    g.add_argument("--map", default=None, metavar="YOURS=OURS,…",
                   help="your names of the parameters and adjoints, e.g. "
                   "dWxh=U,dWhh=W,dWhy=V,dhraw=delta")
    g.add_argument("--layout", choices=LAYOUTS, default="columns",
                   help="rows: the point's and your gradients' weights are transposed (x @ "
                   "W code), as `values --layout rows` writes them (default: columns)")
    g.add_argument("--json", action="store_true", help="print the report as JSON")


def _graph(args: argparse.Namespace) -> Graph:
    """The matrix model's graph; a scalar model (the default doc) is one clear line."""
    spec = vector_spec(args)
    if spec is None or not spec.is_matrix:
        matrix = ", ".join(name for name, m in MODELS.items() if m.is_matrix)
        raise UsageError(f"{args.command} needs a matrix model: --model {matrix}, or a model "
                         f"file with [sizes] ({getattr(spec, 'name', args.model)} is scalar)")
    return vector_graph(args)


def _point(g: Graph, values: dict[str, np.ndarray], layout: str, batch: int) -> dict:
    """The values of ``random_values`` in a file's layout: weights as matrices (transposed
    for rows), biases and vectors step by step (x_0 …) without their 1s, with a batch axis
    if N > 1."""
    out = {}
    for name, v in values.items():
        if name in g.copies and 1 in np.shape(v):  # a bias: its numbers, as the reader reads
            out[name] = np.ravel(v)
        elif name in g.copies:
            out[name] = v.T if layout == "rows" else v
        else:
            a = np.asarray(v)[..., 0]  # (B, n)
            out[name] = a[0] if batch == 1 else a
    return out


def values_cmd(args: argparse.Namespace) -> int:
    check_output(args.output_file, force=args.force)
    g = _graph(args)
    rng = np.random.default_rng(args.seed)
    values = random_values(g, rng, batch=args.batch)
    if args.one_hot_inputs:
        for sym, node in g.nodes.items():
            if node.kind == "input":
                x = np.zeros_like(values[sym.name])
                x[np.arange(x.shape[0]), rng.integers(0, x.shape[1], x.shape[0]), 0] = 1
                values[sym.name] = x
    point = _point(g, values, args.layout, args.batch)
    if args.output_file.endswith(".npz"):
        buf = io.BytesIO()
        np.savez(buf, **point)
        data = buf.getvalue()
    else:
        data = (json.dumps({k: v.tolist() for k, v in point.items()}) + "\n").encode()
    write_output(args.output_file, data, force=args.force)
    shapes = ", ".join(f"{k} {'×'.join(map(str, np.shape(v))) or 'scalar'}"
                       for k, v in point.items())
    batch = f"; a batch of {args.batch}: the first axis of each vector" if args.batch > 1 else ""
    warn(f"bptt-sym values: {g.spec.name}, T = {g.steps}, {args.layout} layout{batch}: {shapes}")
    return 0


def _mapping(text: str | None, g: Graph) -> dict[str, str]:
    """--map dWxh=U,dhraw=delta,…: their name → ours (a parameter or a kept adjoint); every
    name of ours checked."""
    adjoints = list(kept_adjoints(g).values())
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        yours, eq, ours = part.partition("=")
        if not eq or not yours.strip() or not ours.strip():
            raise UsageError(f"--map: {part.strip()!r} is not YOURS=OURS (e.g. dWxh=U)")
        if ours.strip() not in g.copies and ours.strip() not in adjoints:
            more = f"; its adjoints (per-step δs) {', '.join(adjoints)}" if adjoints else ""
            raise UsageError(f"--map: {ours.strip()!r} is no parameter of {g.spec.name}; its "
                             f"parameters are {', '.join(g.copies)}{more}")
        out[yours.strip()] = ours.strip()
    return out


_STEP = re.compile(r"^(?P<base>.+?)_\{?(?P<t>\d+)\}?$")  # dh_3, dh_{3}


def _adjoint_arrays(found: dict[str, dict], exact: Exact, where: str
                    ) -> dict[str, list[np.ndarray]]:
    """Their per-step adjoints, each step as the exact one's B × n: from NAME_t arrays (every
    step 0 … T − 1) or one array NAME whose first axis is the step."""
    out = {}
    for name, given in found.items():
        want = exact.adjoints[name]
        T, shape = len(want), want[0].shape
        if "stacked" in given and len(given) > 1:
            raise UsageError(f"{where}: {name} is given both as one array and step by step; "
                             "give one of them")
        if "stacked" in given:
            key, a = given["stacked"]
            if a.ndim == 0 or a.shape[0] != T:
                raise UsageError(f"{where}: {key} has shape {a.shape}; as one array of every "
                                 f"step's {name} its first axis is the step (T = {T})")
            steps = {t: (f"{key}[{t}]", a[t]) for t in range(T)}
        else:
            steps = given
        missing = [str(t) for t in range(T) if t not in steps]
        extra = [str(t) for t in steps if t >= T]
        if missing or extra:
            bad = (f"no step {', '.join(missing)}" if missing else
                   f"step {', '.join(extra)} beyond the last step {T - 1}")
            raise UsageError(f"{where}: {name} has {bad}; give {name}_0 … {name}_{T - 1} (or "
                             f"--map your name), or one array {name} of T = {T} rows")
        out[name] = [_one_step(key, a, shape, name, where) for key, a in
                     (steps[t] for t in range(T))]
    return out


def _one_step(key: str, a: np.ndarray, shape: tuple[int, int], name: str, where: str
              ) -> np.ndarray:
    B, n = shape
    if a.size == B * n and (B == 1 or a.shape in ((B, n), (B, n, 1))):
        return a.reshape(B, n)
    if B > 1 and a.shape in ((n, B), (n, B, 1)):  # a batch in columns
        return a.reshape(n, B).T
    want = f"{n}" if B == 1 else f"{B}×{n} (a batch of {B})"
    raise UsageError(f"{where}: {key} has shape {a.shape}; {name} at one step is {want}")


def _theirs(args: argparse.Namespace, g: Graph, exact: Exact, point: dict
            ) -> tuple[dict, dict, list[str]]:
    """Their gradients by parameter, their per-step adjoints by name, and the names of the
    arrays that are neither (reported as skipped)."""
    if args.call:
        raw = call_backward(args.call, point)
        single = {k for k, v in raw.items()
                  if getattr(v, "dtype", None) in (np.float32, np.float16)}
        where = f"--call {args.call}"
    else:
        raw = read_arrays(args.grads, "--grads file")
        single = _single(args.grads)
        where = f"--grads {args.grads!r}"
    names = _mapping(args.map, g)
    ours: dict[str, np.ndarray] = {}
    adjoints: dict[str, dict] = {}
    skipped = []
    for key, value in raw.items():
        p = names.get(key, key)
        step = _STEP.match(key) if p not in g.copies and p not in exact.adjoints else None
        base = names.get(step["base"], step["base"]) if step else p
        if p not in g.copies and base not in exact.adjoints:
            skipped.append(key)
            continue
        try:
            a = np.asarray(value, dtype=np.float32 if key in single else np.float64)
        except (TypeError, ValueError):
            raise UsageError(f"{where}: {key} is not an array of numbers") from None
        if not np.all(np.isfinite(a)):
            raise UsageError(f"{where}: {key} holds NaN or infinity")
        if p not in g.copies:
            adjoints.setdefault(base, {})[int(step["t"]) if step else "stacked"] = (key, a)
            continue
        if args.layout == "rows" and a.ndim == 2:
            a = a.T
        shape = exact.total[p].shape
        if a.shape != shape and a.shape != shape[::-1] and a.size == np.prod(shape) and \
                1 in shape:
            a = a.reshape(shape)  # a bias written as a flat vector
        if a.shape != shape and a.shape != shape[::-1]:
            raise UsageError(f"{where}: {key} has shape {a.shape}; {p} is "
                             f"{shape}")
        ours[p] = a
    missing = [p for p in g.copies if p not in ours]
    if missing:
        given = ", ".join(raw) or "nothing"
        raise UsageError(f"{where} has no gradient of {', '.join(missing)} (it "
                         f"holds {given}); name them as the model does or map them with --map")
    return ours, _adjoint_arrays(adjoints, exact, where), skipped


def _single(path: str) -> set[str]:
    """The arrays of a .npz file written in float32 or float16 (JSON numbers are float64)."""
    if not path.endswith(".npz"):
        return set()
    with np.load(path, allow_pickle=False) as npz:
        return {k for k in npz.files if npz[k].dtype in (np.float32, np.float16)}


def gradcheck_cmd(args: argparse.Namespace) -> int:
    g = _graph(args)
    if args.at is None and args.call is None:
        raise UsageError("--grads needs --at FILE: the point your gradients were computed at")
    if args.at is None:  # --call at a random point, as `values --seed` writes it
        raw = _point(g, random_values(g, np.random.default_rng(args.seed)), args.layout, 1)
        label = f"the random point of --seed {args.seed}"
    else:
        raw = read_arrays(args.at, "--at file")
        label = args.at
    given = {k: np.asarray(v) for k, v in raw.items()}  # as the file holds it, for --call
    if args.layout == "rows":
        raw = {k: (np.asarray(v).T.tolist() if k in g.copies and np.ndim(v) == 2 else v)
               for k, v in raw.items()}
    raw = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in raw.items()}
    point = read_elman_points(label, g, raw)
    exact = exact_gradients(g, point)
    grads, adjoints, skipped = _theirs(args, g, exact, given)
    if skipped:
        known = ", ".join([*g.copies, *exact.adjoints])
        warn(f"bptt-sym gradcheck: skipped {', '.join(skipped)}: no parameter or adjoint of "
             f"{g.spec.name} ({known}); --map YOURS=OURS names them")
    results = judge(exact, grads)
    steps = judge_deltas(exact, adjoints)
    ok = all(r.verdict == "matches" for r in [*results, *steps])
    if args.json:
        emit(json_text({"model": g.spec.name, "steps": g.steps,
                        "parameters": [{**r.to_json(), "exact": exact.total[r.name].tolist(),
                                        "yours": np.asarray(grads[r.name]).tolist()}
                                       for r in results],
                        "adjoints": [r.to_json() for r in steps], "skipped": skipped,
                        "all_match": ok}, indent=1))
        return 0 if ok else 1
    for r in results:
        why = r.diagnosis or ""
        line = f"{r.name}: {r.verdict}" + (f": {why}" if why else "")
        emit(line)
        if r.detail:
            emit(f"  {r.detail}")
        else:  # a named mistake: it accounts for the whole difference
            emit(f"  yours differs by {r.error:.1e} of the largest entry; that mistake "
                 f"accounts for all of it (to {r.dtype} round-off)")
    for d in steps:
        emit(f"{d.name} ({d.meaning}, by step): {d.verdict}")
        emit(f"  {d.detail}")
    wrong = sum(r.verdict != "matches" for r in results)
    departs = sum(d.verdict != "matches" for d in steps)
    emit(f"{len(results) - wrong} match, {wrong} wrong" +
         (f"; adjoints: {len(steps) - departs} match, {departs} depart" if steps else ""))
    return 0 if ok else 1
