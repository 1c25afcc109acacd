"""verify for the vector RNN: the derived matrix-form gradients, run as NumPy matrix code,
against autograd, torch's own nn.RNN and finite differences of a hand-written forward pass.

    >>> r = verify_elman(steps=3, hidden=3, inputs=2, classes=3, oracles=("autograd",),
    ...                  points=4)
    >>> r.passed, sorted({row.parameter for row in r.rows})
    (True, ['U', 'V', 'W'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .elman_oracles import TOLERANCE, elman_gradient, elman_loss, elman_oracle_status, weight_names
from .errors import UsageError
from .limits import MAX_WORK, check_points, check_seed
from .mnumeric import forward_values, matrix_program, random_values
from .vector import unroll_vector
from .verify import Report, Row, Skip, compare

__all__ = ["verify_elman", "ELMAN_ORACLES"]

ELMAN_ORACLES = ("autograd", "torch", "fd")


def verify_elman(*, steps: int = 3, hidden: int = 4, inputs: int = 3, classes: int = 3,
                 bias: bool = False, activation: str = "tanh",
                 oracles: Sequence[str] | None = None, points: int = 8, seed: int = 0,
                 one_hot: bool = True, at: Mapping[str, np.ndarray] | None = None) -> Report:
    """Verify every weight's matrix-form gradient of elman against the oracles.

    ``at`` gives the values (as :func:`bptt_sym.elman_points.read_elman_points` reads
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
