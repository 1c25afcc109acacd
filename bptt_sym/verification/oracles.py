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

from bptt_sym.numeric.compiled import DEFAULT_STAND_INS, StandIns

__all__ = ["Functions", "functions", "tables", "abstract_function", "doc_loss", "ORACLES", "Oracle",
           "oracle_status", "Reference", "doc_reference", "gradient"]

Arrays = Mapping[str, object]
PARAMS = ("u", "w", "k", "v")


@dataclass(frozen=True)
class Functions:
    """The activation, output and loss of one run, in one array library."""

    act: Callable
    out: Callable
    loss: Callable


def tables(xp: ModuleType, stand_ins: StandIns = DEFAULT_STAND_INS) -> dict[str, dict]:
    """Role -> name -> the textbook formula, written with ``xp`` (numpy, autograd.numpy, …);
    the abstract f, g, L are the named stand-ins."""
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
    return {"activation": acts, "output": outs, "loss": losses}


def abstract_function(xp: ModuleType, name: str,
                      stand_ins: StandIns = DEFAULT_STAND_INS) -> Callable:
    """The stand-in of a model's abstract function ``name`` (``functions = { f =
    "abstract" }``) written with ``xp``, of as many arguments as it is called with:
    a·sin(Σ bᵢ·zᵢ + c) + d·tanh(Σ eᵢ·zᵢ + g) + h (:meth:`StandIns.many`)."""
    def fn(*zs):  # noqa: ANN002, ANN202
        n = len(zs)
        k = stand_ins.many(name, n)
        u, v = k[n + 1], k[-2]
        for i, z in enumerate(zs):
            u = u + k[1 + i] * z
            v = v + k[n + 3 + i] * z
        return k[0] * xp.sin(u) + k[n + 2] * xp.tanh(v) + k[-1]
    return fn


def functions(xp: ModuleType, activation: str, output: str, loss: str,
              stand_ins: StandIns = DEFAULT_STAND_INS) -> Functions:
    """The textbook formulas of each choice, written with ``xp`` (numpy, autograd.numpy, …)."""
    t = tables(xp, stand_ins)
    return Functions(t["activation"][activation], t["output"][output], t["loss"][loss])


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


@dataclass(frozen=True)
class Reference:
    """The forward pass that the oracles differentiate.

    ``forward(xp, theta, data)`` is E for a batch, written with the array library ``xp``:
    ``theta`` maps each of ``parameters`` to a ``(B,)`` array, ``data`` every other value
    (inputs ``(B, T)``, targets and initial states ``(B,)``).
    """

    parameters: tuple[str, ...]
    forward: Callable[[ModuleType, Arrays, Arrays], object]

    def loss(self, values: Arrays) -> np.ndarray:
        """E in NumPy at ``values`` (parameters and data in one mapping)."""
        theta, data = _split(values, self)
        return np.asarray(self.forward(np, theta, data))


def doc_reference(choice: tuple[str, str, str],
                  stand_ins: StandIns = DEFAULT_STAND_INS) -> Reference:
    """The article's model by :func:`doc_loss`, the forward pass typed by hand."""
    def forward(xp: ModuleType, theta: Arrays, data: Arrays) -> object:
        return doc_loss(theta, data["x"], data["s_{-1}"], data["y"],
                        functions(xp, *choice, stand_ins))
    return Reference(PARAMS, forward)


def _split(values: Arrays, ref: Reference) -> tuple[dict, dict]:
    theta = {p: np.asarray(values[p], dtype=float) for p in ref.parameters}
    data = {k: np.asarray(v, dtype=float) for k, v in values.items() if k not in theta}
    return theta, data


def _autograd(values: Arrays, ref: Reference) -> dict:
    import autograd
    import autograd.numpy as anp

    theta, data = _split(values, ref)
    names = ref.parameters
    stacked = np.stack(np.broadcast_arrays(*(theta[p] for p in names)))

    def total(th):  # noqa: ANN001, ANN202 - the batch's losses are independent: sum them
        return anp.sum(ref.forward(anp, dict(zip(names, th)), data))

    g = autograd.grad(total)(stacked)
    return {p: g[i] for i, p in enumerate(names)}


def _torch(values: Arrays, ref: Reference) -> dict:
    import torch

    theta, data = _split(values, ref)
    tt = {p: torch.tensor(theta[p], dtype=torch.float64, requires_grad=True)
          for p in ref.parameters}
    dt = {k: torch.tensor(v, dtype=torch.float64) for k, v in data.items()}
    ref.forward(torch, tt, dt).sum().backward()
    return {p: np.zeros_like(theta[p]) if tt[p].grad is None else tt[p].grad.numpy()
            for p in ref.parameters}


def _jax(values: Arrays, ref: Reference) -> dict:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    theta, data = _split(values, ref)
    dj = {k: jnp.asarray(v) for k, v in data.items()}
    g = jax.grad(lambda th: jnp.sum(ref.forward(jnp, th, dj)))(
        {p: jnp.asarray(theta[p]) for p in ref.parameters})
    return {p: np.asarray(g[p]) for p in ref.parameters}


def _fd(values: Arrays, ref: Reference) -> dict:
    theta, data = _split(values, ref)
    out = {}
    for p in ref.parameters:
        h = 1e-5 * (1.0 + np.abs(theta[p]))
        up, down = dict(theta), dict(theta)
        up[p], down[p] = theta[p] + h, theta[p] - h
        out[p] = (ref.forward(np, up, data) - ref.forward(np, down, data)) / (2 * h)
    return out


def _complex_step(values: Arrays, ref: Reference) -> dict:
    theta, data = _split(values, ref)
    h = 1e-30
    out = {}
    for p in ref.parameters:
        moved = {q: theta[q].astype(complex) for q in ref.parameters}
        moved[p] = moved[p] + 1j * h
        out[p] = np.imag(ref.forward(np, moved, data)) / h
    return out


_RUN = {"autograd": _autograd, "torch": _torch, "jax": _jax, "fd": _fd,
        "complex-step": _complex_step}


def gradient(oracle: str, values: Arrays, choice: tuple[str, str, str],
             stand_ins: StandIns = DEFAULT_STAND_INS, *,
             reference: Reference | None = None) -> dict[str, np.ndarray]:
    """Reference gradients of every parameter for a batch, by ``oracle``: of ``reference``
    (default: the article's model by :func:`doc_loss`, with ``choice`` and ``stand_ins``)."""
    ref = reference or doc_reference(choice, stand_ins)
    batch = np.broadcast(*(np.asarray(values[p]) for p in ref.parameters)).shape
    return {p: np.broadcast_to(np.asarray(g, dtype=float), batch).copy()
            for p, g in _RUN[oracle](values, ref).items()}
