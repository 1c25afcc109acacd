"""Independent numeric references: the article's forward pass written by hand, and its
gradients by autodiff (autograd, torch, jax) and by finite differences.

Nothing here is generated from the SymPy graph: ``doc_loss`` is S10-S12 typed as a loop,
once for every array library, so that agreement with the compiled derivation means
something.

    >>> import numpy as np
    >>> fns = functions(np, "tanh", "sigmoid", "bce")
    >>> theta = {"u": np.array([0.5]), "w": np.array([-0.3]), "k": np.array([0.1]),
    ...          "v": np.array([0.8])}
    >>> x = np.array([[0.2, -0.4]])
    >>> round(float(doc_loss(theta, x, np.zeros(1), np.array([0.3]), fns)[0]), 8)
    0.66987903
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from .numeric import DEFAULT_STAND_INS, StandIns

__all__ = ["Functions", "functions", "doc_loss", "ORACLES", "Oracle", "oracle_status",
           "gradient"]

Arrays = Mapping[str, object]
PARAMS = ("u", "w", "k", "v")


@dataclass(frozen=True)
class Functions:
    """The activation, output and loss of one run, in one array library."""

    act: Callable
    out: Callable
    loss: Callable


def functions(xp: ModuleType, activation: str, output: str, loss: str,
              stand_ins: StandIns = DEFAULT_STAND_INS) -> Functions:
    """The textbook formulas of each choice, written with ``xp`` (numpy, autograd.numpy, …)."""
    (fa, fb), (ga, gb), (la, lb) = stand_ins.f, stand_ins.g, stand_ins.L

    def sigmoid(t):  # noqa: ANN001, ANN202
        return 1.0 / (1.0 + xp.exp(-t))

    acts = {"f": lambda z: xp.tanh(fa * z + fb), "tanh": xp.tanh, "sigmoid": sigmoid,
            "relu": lambda z: z * (z > 0), "identity": lambda z: z}
    outs = {"g": lambda q: sigmoid(ga * q + gb), "sigmoid": sigmoid,
            "softmax": lambda q: xp.exp(q) / xp.exp(q), "identity": lambda q: q}
    losses = {"L": lambda o, y: xp.log(1.0 + la * (o - lb) ** 2),
              "bce": lambda o, y: -(y * xp.log(o) + (1.0 - y) * xp.log(1.0 - o)),
              "xent": lambda o, y: -y * xp.log(o),
              "mse": lambda o, y: 0.5 * (o - y) ** 2}
    return Functions(acts[activation], outs[output], losses[loss])


def doc_loss(theta: Arrays, x: object, s_init: object, y: object, fns: Functions) -> object:
    """E for a batch: x is (B, T); theta holds u, w, k, v of shape (B,). S10, S9, S11, S12."""
    u, w, k, v = (theta[p] for p in PARAMS)
    s = s_init
    for t in range(x.shape[-1]):
        z = u * x[..., t] + w * s + k    # S10: z_t = u x_t + w s_{t-1} + k
        s = fns.act(z)                   # s_t = f(z_t)
    q = s * v                            # S9
    o = fns.out(q)                       # S11
    return fns.loss(o, y)                # S12


@dataclass(frozen=True)
class Oracle:
    """A way to get reference gradients, and how to install it when it is missing."""

    name: str
    module: str | None
    install: str
    tolerance: float
    about: str


ORACLES: dict[str, Oracle] = {o.name: o for o in (
    Oracle("autograd", "autograd", "pip install autograd", 1e-9,
           "HIPS autograd reverse mode on the reference forward"),
    Oracle("torch", "torch", "pip install 'bptt-sym[torch]'  (torch==2.13.0)", 1e-9,
           "torch.autograd in float64 on the reference forward"),
    Oracle("jax", "jax", "pip install 'bptt-sym[jax]'", 1e-9,
           "jax.grad in float64 on the reference forward"),
    Oracle("fd", None, "", 1e-7,
           "central differences, step 1e-5*(1+|theta|), on the reference forward"),
    Oracle("complex-step", None, "", 1e-12,
           "Im E(theta + i*h)/h with h = 1e-30: exact to rounding, for analytic models"),
)}


def oracle_status(name: str, activation: str) -> str | None:
    """None when the oracle can run here, else why not (with the install command)."""
    o = ORACLES[name]
    if o.module and importlib.util.find_spec(o.module) is None:
        return f"{o.module} is not installed; {o.install}"
    if name == "complex-step" and activation == "relu":
        return "relu is not real-analytic, so the complex step does not apply"
    return None


def _np_inputs(values: Arrays) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    theta = {p: np.asarray(values[p], dtype=float) for p in PARAMS}
    return (theta, np.asarray(values["x"], dtype=float),
            np.asarray(values["s_{-1}"], dtype=float), np.asarray(values["y"], dtype=float))


def _autograd(values: Arrays, choice: tuple[str, str, str], si: StandIns) -> dict:
    import autograd
    import autograd.numpy as anp

    theta, x, s0, y = _np_inputs(values)
    fns = functions(anp, *choice, si)
    stacked = np.stack([theta[p] for p in PARAMS])

    def total(th):  # noqa: ANN001, ANN202 - the batch's losses are independent: sum them
        return anp.sum(doc_loss(dict(zip(PARAMS, th)), x, s0, y, fns))

    g = autograd.grad(total)(stacked)
    return {p: g[i] for i, p in enumerate(PARAMS)}


def _torch(values: Arrays, choice: tuple[str, str, str], si: StandIns) -> dict:
    import torch

    theta, x, s0, y = _np_inputs(values)
    tt = {p: torch.tensor(theta[p], dtype=torch.float64, requires_grad=True) for p in PARAMS}
    fns = functions(torch, *choice, si)
    as_t = lambda a: torch.tensor(a, dtype=torch.float64)  # noqa: E731
    doc_loss(tt, as_t(x), as_t(s0), as_t(y), fns).sum().backward()
    return {p: tt[p].grad.numpy() for p in PARAMS}


def _jax(values: Arrays, choice: tuple[str, str, str], si: StandIns) -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    theta, x, s0, y = _np_inputs(values)
    fns = functions(jnp, *choice, si)
    g = jax.grad(lambda th: jnp.sum(doc_loss(th, x, s0, y, fns)))(
        {p: jnp.asarray(theta[p]) for p in PARAMS})
    return {p: np.asarray(g[p]) for p in PARAMS}


def _fd(values: Arrays, choice: tuple[str, str, str], si: StandIns) -> dict:
    theta, x, s0, y = _np_inputs(values)
    fns = functions(np, *choice, si)
    out = {}
    for p in PARAMS:
        h = 1e-5 * (1.0 + np.abs(theta[p]))
        up, down = dict(theta), dict(theta)
        up[p], down[p] = theta[p] + h, theta[p] - h
        out[p] = (doc_loss(up, x, s0, y, fns) - doc_loss(down, x, s0, y, fns)) / (2 * h)
    return out


def _complex_step(values: Arrays, choice: tuple[str, str, str], si: StandIns) -> dict:
    theta, x, s0, y = _np_inputs(values)
    fns = functions(np, *choice, si)
    h = 1e-30
    out = {}
    for p in PARAMS:
        moved = {q: theta[q].astype(complex) for q in PARAMS}
        moved[p] = moved[p] + 1j * h
        out[p] = np.imag(doc_loss(moved, x.astype(complex), s0.astype(complex), y, fns)) / h
    return out


_RUN = {"autograd": _autograd, "torch": _torch, "jax": _jax, "fd": _fd,
        "complex-step": _complex_step}


def gradient(oracle: str, values: Arrays, choice: tuple[str, str, str],
             stand_ins: StandIns = DEFAULT_STAND_INS) -> dict[str, np.ndarray]:
    """Reference gradients of u, w, k, v for a batch, by ``oracle``."""
    return {p: np.asarray(g, dtype=float) for p, g in _RUN[oracle](values, choice,
                                                                   stand_ins).items()}
