"""verify for matrix models: the derived matrix-form gradients, run as NumPy matrix code,
against independent references.  For the built-in vector RNN (elman) those are autograd,
torch's own nn.RNN and finite differences of a hand-written forward pass
(:mod:`bptt_sym.verification.matrix_oracles`); for any other matrix model, autograd and finite
differences of its own equations run by :mod:`bptt_sym.verification.interpret`
(:func:`verify_matrix`).

    >>> r = verify_elman(steps=3, hidden=3, inputs=2, classes=3, oracles=("autograd",),
    ...                  points=4)
    >>> r.passed, sorted({row.parameter for row in r.rows})
    (True, ['U', 'V', 'W'])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from bptt_sym.errors import UsageError
from bptt_sym.graph.matrix import model_sizes, unroll_vector
from bptt_sym.limits import MAX_WORK, check_points, check_seed
from bptt_sym.model.spec import ModelSpec
from bptt_sym.numeric.matrix import (
    forward_loss,
    forward_values,
    is_elman,
    matrix_program,
    random_values,
)
from bptt_sym.verification.matrix_oracles import (
    MATRIX_ORACLES,
    TOLERANCE,
    elman_gradient,
    elman_loss,
    elman_oracle_status,
    matrix_gradient,
    matrix_loss,
    matrix_oracle_status,
    weight_names,
)
from bptt_sym.verification.run import Report, Row, Skip, compare
from bptt_sym.verification.torch_modules import torch_status

__all__ = ["verify_elman", "verify_matrix", "ELMAN_ORACLES"]

ELMAN_ORACLES = ("autograd", "torch", "fd")


def verify_elman(*, steps: int = 3, hidden: int = 4, inputs: int = 3, classes: int = 3,
                 bias: bool = False, activation: str = "tanh",
                 oracles: Sequence[str] | None = None, points: int = 8, seed: int = 0,
                 one_hot: bool = True, at: Mapping[str, np.ndarray] | None = None) -> Report:
    """Verify every weight's matrix-form gradient of elman against the oracles.

    ``at`` gives the values (as :func:`bptt_sym.verification.points.read_elman_points` reads
    them) instead of random points drawn from ``seed``.
    """
    names = tuple(oracles) if oracles else ELMAN_ORACLES
    for name in names:
        if name not in ELMAN_ORACLES:
            raise UsageError(f"unknown oracle {name!r} for elman; choose from "
                             f"{', '.join(ELMAN_ORACLES)}")
    if points < 1:
        raise UsageError(f"--points must be at least 1, got {points}")
    seed = check_seed(seed)
    width, entries = hidden + inputs + classes, hidden * (hidden + inputs + classes)
    if at is None:
        check_points(points, steps, width, entries)
    batch = points if at is None else int(at["x_0"].shape[0])
    names, fd_skip = _fd_affordable(names, oracles is not None,
                                    entries + bias * (hidden + classes), batch * steps * entries,
                                    steps)
    graph = unroll_vector(steps=steps, hidden=hidden, inputs=inputs, classes=classes,
                          bias=bias, activation=activation)
    if at is None:
        values = random_values(graph, np.random.default_rng(seed), batch=points,
                               one_hot=one_hot)
    else:
        values = dict(at)
        points, seed = int(values["x_0"].shape[0]), None
    with np.errstate(all="ignore"):
        e_sym = forward_values(graph, values)["E"]
        e_ref = elman_loss(values, steps=steps, activation=activation, bias=bias)
        forward = compare(np.asarray(e_sym), np.asarray(e_ref))[1]
        derived = matrix_program(graph)(values)
        rows, skipped = [], [fd_skip] if fd_skip else []
        for name in names:
            why = elman_oracle_status(name, activation)
            if why:
                skipped.append(Skip(name, why))
                continue
            ref = elman_gradient(name, values, steps=steps, activation=activation, bias=bias)
            for p in weight_names(bias):
                rows.append(Row("matrix", p, name, *compare(derived[p], ref[p]),
                                TOLERANCE[name]))
    choices = {"activation": activation, "output": "softmax", "loss": "xent",
               "sizes": f"hidden {hidden}, inputs {inputs}, classes {classes}"
                        + (", biases b, c" if bias else "")}
    stand_ins = {"f": "f(z) = tanh(z), f'(z) = 1 - tanh(z)^2 (for every method)"} \
        if activation == "f" else {}
    return Report("elman", steps, choices, seed, points, stand_ins, forward, tuple(rows),
                  tuple(skipped))


def verify_matrix(spec: ModelSpec, *, steps: int = 3, sizes: Mapping[str, int] | None = None,
                  bias: bool = False, activation: str = "tanh",
                  oracles: Sequence[str] | None = None, points: int = 8, seed: int = 0,
                  at: Mapping[str, np.ndarray] | None = None, one_hot: bool = True) -> Report:
    """Verify every weight's derived matrix-form gradient of the matrix model ``spec``.

    The built-in elman (by content; a copy of its file too) is :func:`verify_elman` at
    ``sizes`` (its H, D, K), under the spec's name.  Any
    other model is checked against autograd and finite differences of its own equations run
    by the interpreter; torch (nn.RNN) is elman's alone.  ``sizes`` maps size letters to
    numbers (default ``spec.sizes``); ``at`` gives the values (shared weights ``(rows,
    cols)``, everything else ``(B, rows, cols)`` by graph name: ``x_0``, ``y_1``, ``h_{-1}``)
    instead of random points drawn from ``seed``.
    """
    if is_elman(spec):
        dims = model_sizes(spec, sizes)
        report = verify_elman(steps=steps, hidden=dims["H"], inputs=dims["D"],
                              classes=dims["K"], bias=bias, activation=activation,
                              oracles=oracles, points=points, seed=seed, one_hot=one_hot, at=at)
        return dataclasses.replace(report, model=spec.name)  # a copy of elman: its own name
    names = tuple(oracles) if oracles else tuple(o for o in MATRIX_ORACLES
                                                  if o != "torch" or spec.torch)
    for name in names:
        if name not in MATRIX_ORACLES:
            raise UsageError(f"unknown oracle {name!r} for {spec.name}; choose from "
                             f"{', '.join(MATRIX_ORACLES)}")
        if name == "torch" and not spec.torch:
            raise UsageError(f"--oracle torch: {torch_status(spec)}")
    if points < 1:
        raise UsageError(f"--points must be at least 1, got {points}")
    seed = check_seed(seed)
    graph = unroll_vector(spec, steps=steps, sizes=sizes, bias=bias, activation=activation)
    per_step = [n for n in graph.nodes.values() if n.kind in ("input", "target")
                and n.step == 0]
    width = sum(int(np.prod(getattr(n.symbol, "shape", (1, 1)))) for n in per_step)
    entries = sum(int(np.prod(getattr(c[0], "shape", (1, 1)))) for c in graph.copies.values())
    if at is None:
        check_points(points, steps, width, entries)
        values = random_values(graph, np.random.default_rng(seed), batch=points,
                               one_hot=one_hot)
    else:
        values = dict(at)
        points, seed = max([np.shape(v)[0] for v in values.values() if np.ndim(v) == 3]
                           or [1]), None
    names, fd_skip = _fd_affordable(names, oracles is not None, entries,
                                    points * steps * entries, steps)
    options = dict(steps=steps, activation=activation, bias=bias, sizes=graph.dims)
    with np.errstate(all="ignore"):
        forward = compare(forward_loss(graph, values),
                          matrix_loss(spec, values, **options))[1]
        derived = matrix_program(graph)(values)
        rows, skipped = [], [fd_skip] if fd_skip else []
        for name in names:
            why = matrix_oracle_status(name, spec, activation)
            if why:
                skipped.append(Skip(name, why))
                continue
            ref = matrix_gradient(name, spec, values, **options)
            for p in graph.copies:
                rows.append(Row("matrix", p, name, *compare(derived[p], ref[p]),
                                TOLERANCE[name]))
    sized = ", ".join(f"{k} {v}" for k, v in graph.dims.items())
    optional = [p for p in spec.optional if p in graph.copies]
    choices = {"sizes": sized + (f", biases {', '.join(optional)}" if optional else "")}
    if "activation" in spec.functions.values():
        choices = {"activation": activation, **choices}
    stand_ins = {"f": "f(z) = tanh(z), f'(z) = 1 - tanh(z)^2 (for every method)"} \
        if activation == "f" and "activation" in spec.functions.values() else {}
    return Report(spec.name, steps, choices, seed, points, stand_ins, forward, tuple(rows),
                  tuple(skipped), spec.loss)


FD_MAX_STEPS = 2_000_000  # forward steps of all the passes of finite differences


def _fd_affordable(names: tuple[str, ...], asked: bool, entries: int, work: int,
                   steps: int) -> tuple[tuple[str, ...], Skip | None]:
    """Finite differences take 2 forward passes per weight entry: beyond the limits they
    are skipped (or, when --oracle fd was asked for, refused), not run for hours."""
    passes = 2 * entries
    if "fd" not in names or (passes * steps <= FD_MAX_STEPS and passes * work <= 10 * MAX_WORK):
        return names, None
    why = (f"finite differences would run {passes:,} forward passes of {steps} steps, more than "
           f"the limit of {FD_MAX_STEPS:,} steps or {10 * MAX_WORK:.0e} multiply-adds; use "
           "smaller sizes or --steps")
    if asked:
        raise UsageError(f"--oracle fd: {why}")
    return tuple(n for n in names if n != "fd"), Skip("fd", why)
