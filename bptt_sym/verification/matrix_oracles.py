"""Independent reference gradients for the vector RNN ``elman``, written by hand from V1-V4.

The forward pass is typed here as a loop over the steps (nothing comes from the SymPy
graph, ``mderive`` or ``mnumeric``; only the layout of the values is shared):

    V1  s_t = f(U x_t + W s_{t-1} [+ b])        V3  E_t = -y_tᵀ log ŷ_t
    V2  ŷ_t = softmax(V s_t [+ c])              V4  E = Σ_t E_t

Values, as ``numeric.matrix.random_values`` makes them: weights ``U`` (H, D), ``W`` (H, H),
``V`` (K, H), with ``bias`` also ``b`` (H, 1) and ``c`` (K, 1); per step t ``x_t`` (B, D, 1)
and ``y_t`` (B, K, 1) (one-hot or a distribution); the initial state ``s_{-1}`` (B, H, 1).
Every oracle returns the gradient of the batch's total loss Σ_batch Σ_t E_t.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> vals = {"U": rng.normal(size=(3, 2)), "W": 0.5 * rng.normal(size=(3, 3)),
    ...         "V": rng.normal(size=(4, 3)), "s_{-1}": np.zeros((2, 3, 1))}
    >>> for t in range(2):
    ...     vals[f"x_{t}"] = rng.normal(size=(2, 2, 1))
    ...     vals[f"y_{t}"] = np.eye(4)[[0, 3]][..., None]
    >>> elman_loss(vals, steps=2).shape
    (2,)
    >>> ad = elman_gradient("autograd", vals, steps=2)
    >>> fd = elman_gradient("fd", vals, steps=2)
    >>> sorted(ad), max_rel(ad, fd) < 1e-6
    (['U', 'V', 'W'], True)
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from types import ModuleType

import numpy as np

from bptt_sym.errors import UsageError
from bptt_sym.files import progress
from bptt_sym.verification.torch_modules import torch_gradient, torch_status

__all__ = ["ELMAN_ORACLES", "MATRIX_ORACLES", "TOLERANCE", "ACTIVATIONS", "elman_loss",
           "elman_gradient", "elman_oracle_status", "weight_names", "max_rel", "matrix_loss",
           "matrix_gradient", "matrix_oracle_status"]

Values = Mapping[str, np.ndarray]

#: oracle -> what it is
ELMAN_ORACLES: dict[str, str] = {
    "autograd": "HIPS autograd reverse mode on the hand-written forward (autograd.numpy)",
    "torch": "torch.nn.RNN (float64, CPU) with the weights copied in, torch.autograd",
    "fd": "central differences, step 1e-6*(1+|theta|), on the NumPy forward, every entry "
          "of every weight (2 forward passes per entry: O(#weights) forward passes)",
}
#: oracle -> what it is, for a matrix model that is not built in: its own equations run by
#: :func:`bptt_sym.verification.interpret.matrix_reference` (nothing of the derivation)
MATRIX_ORACLES: dict[str, str] = {
    "autograd": "HIPS autograd reverse mode on the model's equations run by the interpreter",
    "fd": "central differences, step 1e-6*(1+|theta|), on the interpreted forward, every "
          "entry of every weight (2 forward passes per entry)",
    "torch": "the torch.nn module of the model file's [torch] table (float64, CPU), the "
             "weights copied into its gate blocks, torch.autograd",
}
#: oracle -> max relative error it is expected to reach against an exact gradient
TOLERANCE: dict[str, float] = {"autograd": 1e-9, "torch": 1e-9, "fd": 1e-6}
ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity", "f")
_TORCH_ACTIVATIONS = ("tanh", "relu", "f")  # what torch.nn.RNN's nonlinearity accepts (f: tanh)
_INSTALL = {"autograd": "pip install autograd", "torch": "pip install 'bptt-sym[torch]'"}


def weight_names(bias: bool = False) -> tuple[str, ...]:
    """The weights of elman: U, W, V, and b, c with biases."""
    return ("U", "W", "V", "b", "c") if bias else ("U", "W", "V")


def max_rel(a: Mapping[str, object], b: Mapping[str, object]) -> float:
    """Largest of max|a−b| / max(max|a|, max|b|) over the weights of ``a`` (gradcheck's measure).

    >>> max_rel({"W": np.array([1.0, -2.0])}, {"W": np.array([1.0, -2.5])})
    0.2
    """
    worst = 0.0
    for p in a:
        x, y = np.asarray(a[p], dtype=float), np.asarray(b[p], dtype=float)
        if x.shape != y.shape:
            raise ValueError(f"{p}: shapes {x.shape} and {y.shape} differ")
        scale = max(float(np.max(np.abs(x))), float(np.max(np.abs(y))), 1e-300)
        worst = max(worst, float(np.max(np.abs(x - y))) / scale)
    return worst


def _activation(xp: ModuleType, name: str) -> Callable:
    """f of V1, written with ``xp`` (numpy or autograd.numpy); the abstract f is its
    stand-in tanh, as in :mod:`bptt_sym.numeric.matrix`."""
    table = {"tanh": xp.tanh, "f": xp.tanh, "sigmoid": lambda z: 1.0 / (1.0 + xp.exp(-z)),
             "relu": lambda z: xp.maximum(z, 0.0), "identity": lambda z: z}
    return table[name]


def _inputs(values: Values, steps: int, bias: bool) -> tuple[dict, list, list, np.ndarray]:
    """Weights, per-step inputs (B, D) and targets (B, K), s_{-1} (B, H) as float arrays.

    The trailing column axis of the (B, n, 1) layout is dropped: a batch of row vectors,
    so that V1 reads ``S @ W.T``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise UsageError(f"steps must be a whole number ≥ 1, got {steps!r}")
    need = [*weight_names(bias), "s_{-1}"] + [f"{n}_{t}" for t in range(steps) for n in "xy"]
    missing = [n for n in need if n not in values]
    if missing:
        raise UsageError(f"elman values lack {', '.join(missing)}")
    w = {p: np.asarray(values[p], dtype=np.float64) for p in weight_names(bias)}

    def rows(name: str) -> np.ndarray:
        a = np.asarray(values[name], dtype=np.float64)
        return a[..., 0] if a.ndim == 3 else a

    xs = [rows(f"x_{t}") for t in range(steps)]
    ys = [rows(f"y_{t}") for t in range(steps)]
    return w, xs, ys, rows("s_{-1}")


def _losses(xp: ModuleType, w: Mapping[str, object], xs: list, ys: list, s0: object,
            activation: str) -> object:
    """Per-sequence E = Σ_t -y_tᵀ log softmax(V s_t + c), V1-V4, batch of rows."""
    f = _activation(xp, activation)
    b, c = w.get("b"), w.get("c")
    s, total = s0, 0.0
    for x, y in zip(xs, ys):
        z = x @ w["U"].T + s @ w["W"].T              # V1: U x_t + W s_{t-1}
        s = f(z if b is None else z + b[:, 0])       # (+ b), s_t = f(z_t)
        logits = s @ w["V"].T                        # V2: V s_t
        if c is not None:
            logits = logits + c[:, 0]                # (+ c)
        m = xp.max(logits, axis=1, keepdims=True)    # stable log-softmax
        log_yhat = logits - m - xp.log(xp.sum(xp.exp(logits - m), axis=1, keepdims=True))
        total = total - xp.sum(y * log_yhat, axis=1)  # V3 E_t, V4 Σ_t
    return total


def elman_loss(values: Values, *, steps: int, activation: str = "tanh",
               bias: bool = False) -> np.ndarray:
    """Per-sequence losses E = Σ_t E_t of a batch, shape (B,), by NumPy from V1-V4."""
    _check_activation(activation)
    w, xs, ys, s0 = _inputs(values, steps, bias)
    return np.asarray(_losses(np, w, xs, ys, s0, activation), dtype=np.float64)


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise UsageError(f"unknown activation {activation!r} for elman; choose one of "
                         f"{', '.join(ACTIVATIONS)}")


def elman_oracle_status(oracle: str, activation: str) -> str | None:
    """None when ``oracle`` can run here with ``activation``, else why not (one line).

    >>> elman_oracle_status("fd", "sigmoid") is None
    True
    >>> print(elman_oracle_status("torch", "sigmoid"))
    torch.nn.RNN has only the tanh and relu nonlinearities, not sigmoid; use autograd or fd
    """
    if oracle not in ELMAN_ORACLES:
        return f"unknown oracle {oracle!r}; choose one of {', '.join(ELMAN_ORACLES)}"
    if activation not in ACTIVATIONS:
        return (f"unknown activation {activation!r} for elman; choose one of "
                f"{', '.join(ACTIVATIONS)}")
    if oracle == "torch" and activation not in _TORCH_ACTIVATIONS:
        return (f"torch.nn.RNN has only the tanh and relu nonlinearities, not {activation}; "
                "use autograd or fd")
    if oracle in _INSTALL and importlib.util.find_spec(oracle) is None:
        return f"{oracle} is not installed; {_INSTALL[oracle]}"
    return None


def _autograd(w: dict, xs: list, ys: list, s0: np.ndarray, activation: str) -> dict:
    import autograd
    import autograd.numpy as anp

    names = list(w)

    def total(*weights):  # noqa: ANN002, ANN202 - the sequences are independent: sum their E
        return anp.sum(_losses(anp, dict(zip(names, weights)), xs, ys, s0, activation))

    grads = autograd.grad(total, argnum=tuple(range(len(names))))(*w.values())
    return dict(zip(names, grads))


def _torch(w: dict, xs: list, ys: list, s0: np.ndarray, activation: str) -> dict:
    import torch

    h, d = w["U"].shape
    bias = "b" in w
    nonlinearity = "tanh" if activation == "f" else activation  # f: its stand-in
    rnn = torch.nn.RNN(input_size=d, hidden_size=h, nonlinearity=nonlinearity, bias=bias,
                       batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(w["U"]))
        rnn.weight_hh_l0.copy_(torch.tensor(w["W"]))
        if bias:
            rnn.bias_ih_l0.copy_(torch.tensor(w["b"][:, 0]))
            rnn.bias_hh_l0.zero_()
    if bias:
        rnn.bias_hh_l0.requires_grad_(False)  # b is bias_ih alone
    V = torch.tensor(w["V"], requires_grad=True)  # noqa: N806
    c = torch.tensor(w["c"][:, 0], requires_grad=True) if bias else None
    x = torch.tensor(np.stack(xs, axis=1))          # (B, T, D)
    y = torch.tensor(np.stack(ys, axis=1))          # (B, T, K)
    h0 = torch.tensor(s0)[None]                     # (1, B, H)
    states, _ = rnn(x, h0)                          # s_0 … s_{T-1}: (B, T, H)
    logits = states @ V.T + (0 if c is None else c)
    loss = -(y * torch.log_softmax(logits, dim=-1)).sum()
    loss.backward()
    out = {"U": rnn.weight_ih_l0.grad, "W": rnn.weight_hh_l0.grad, "V": V.grad}
    if bias:
        out.update(b=rnn.bias_ih_l0.grad[:, None], c=c.grad[:, None])
    return {p: g.detach().numpy() for p, g in out.items()}


def _fd(w: dict, xs: list, ys: list, s0: np.ndarray, activation: str) -> dict:
    return _fd_of(lambda weights: float(np.sum(_losses(np, weights, xs, ys, s0, activation))), w)


_RUN = {"autograd": _autograd, "torch": _torch, "fd": _fd}


def elman_gradient(oracle: str, values: Values, *, steps: int, activation: str = "tanh",
                   bias: bool = False) -> dict[str, np.ndarray]:
    """∂(Σ_batch Σ_t E_t)/∂p for every weight p of elman, by ``oracle``, float64.

    ``fd`` takes 2 forward passes per weight entry: fine for small sizes only.
    Raises ``UsageError`` when the oracle cannot run (see :func:`elman_oracle_status`).
    """
    why = elman_oracle_status(oracle, activation)
    if why is not None:
        raise UsageError(why)
    w, xs, ys, s0 = _inputs(values, steps, bias)
    grads = _RUN[oracle](w, xs, ys, s0, activation)
    return {p: np.asarray(grads[p], dtype=np.float64).reshape(w[p].shape) for p in w}


# ---- any matrix model: its own equations, run by the interpreter -----------------------------

def matrix_oracle_status(oracle: str, spec: object, activation: str) -> str | None:
    """None when ``oracle`` can give the gradients of the matrix model ``spec`` (not the
    built-in elman) with ``activation``, else why not (one line).

    >>> from bptt_sym.model.spec import ModelSpec
    >>> spec = ModelSpec("rows", "", (), (), (), (), (), (), (), "E")
    >>> print(matrix_oracle_status("torch", spec, "tanh"))  # doctest: +NORMALIZE_WHITESPACE
    torch needs a [torch] table in the model file (the torch.nn module and its gates'
    weights, docs/models.md); use autograd or fd for model rows
    """
    name = getattr(spec, "name", "?")
    if oracle == "torch":
        return torch_status(spec)
    if oracle not in MATRIX_ORACLES:
        return f"unknown oracle {oracle!r}; choose one of {', '.join(MATRIX_ORACLES)}"
    if activation not in ACTIVATIONS:
        return (f"unknown activation {activation!r} for {name}; choose one of "
                f"{', '.join(ACTIVATIONS)}")
    if oracle in _INSTALL and importlib.util.find_spec(oracle) is None:
        return f"{oracle} is not installed; {_INSTALL[oracle]}"
    return None


def _split(spec: object, values: Values, steps: int, activation: str, bias: bool,
           sizes: Mapping[str, int] | None) -> tuple:
    from bptt_sym.verification.interpret import matrix_reference

    ref = matrix_reference(spec, steps, activation, bias=bias, sizes=sizes)
    missing = [p for p in ref.parameters if p not in values]
    if missing:
        raise UsageError(f"{getattr(spec, 'name', '?')} values lack {', '.join(missing)}")
    theta = {p: np.asarray(values[p], dtype=np.float64) for p in ref.parameters}
    data = {k: np.asarray(v) for k, v in values.items() if k not in theta}
    return ref, theta, data


def matrix_loss(spec: object, values: Values, *, steps: int, activation: str = "tanh",
                bias: bool = False, sizes: Mapping[str, int] | None = None) -> np.ndarray:
    """Per-sequence losses of a batch, shape (B,), of the matrix model ``spec`` by its own
    equations (:func:`bptt_sym.verification.interpret.matrix_reference`)."""
    ref, theta, data = _split(spec, values, steps, activation, bias, sizes)
    return np.asarray(ref.forward(np, theta, data), dtype=np.float64)


def matrix_gradient(oracle: str, spec: object, values: Values, *, steps: int,
                    activation: str = "tanh", bias: bool = False,
                    sizes: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """∂(Σ_batch E)/∂p for every weight p of the matrix model ``spec`` (its optional ones
    only with ``bias``), by ``oracle`` ("autograd" or "fd") on its interpreted equations.
    Weights are shared ``(rows, cols)``; every other value ``(B, rows, cols)``."""
    why = matrix_oracle_status(oracle, spec, activation)
    if why is not None:
        raise UsageError(why)
    ref, theta, data = _split(spec, values, steps, activation, bias, sizes)
    names = list(theta)
    if oracle == "torch":
        return torch_gradient(spec, theta, data, steps)
    if oracle == "autograd":
        import autograd
        import autograd.numpy as anp

        def total(*weights):  # noqa: ANN002, ANN202 - the batch's losses: sum them
            return anp.sum(ref.forward(anp, dict(zip(names, weights)), data))

        grads = autograd.grad(total, argnum=tuple(range(len(names))))(*theta.values())
        return {p: np.asarray(g, dtype=np.float64).reshape(theta[p].shape)
                for p, g in zip(names, grads)}
    return _fd_of(lambda w: float(np.sum(ref.forward(np, w, data))), theta)


def _fd_of(total: Callable[[dict], float], w: dict) -> dict:
    """Central differences of ``total`` in every entry of every weight of ``w`` (with a
    progress line on a terminal when there are many)."""
    out = {}
    entries, done = sum(int(np.size(v)) for v in w.values()), 0
    tick = progress("finite differences", entries) if entries >= 500 else None
    for p, value in w.items():
        grad = np.empty_like(value)
        for i in np.ndindex(value.shape):
            done += 1
            if tick is not None:
                tick(done)
            h = 1e-6 * (1.0 + abs(value[i]))
            moved = dict(w)
            moved[p] = value.copy()
            moved[p][i] = value[i] + h
            up = total(moved)
            moved[p][i] = value[i] - h
            grad[i] = (up - total(moved)) / (2 * h)
        out[p] = grad
    if tick is not None:
        tick(None)
    return out
