"""An Elman RNN's backward pass as people write it (column vectors, U x + W h, a loop back
over the steps, min-char-rnn's shape), written for the tests from the model's equations
(z_t = U x_t + W s_{t-1}, s_t = tanh(z_t), ŷ_t = softmax(V s_t), E = Σ_t −y_tᵀ log ŷ_t).
``mistake`` makes one of the errors gradcheck must name; None is the correct pass."""

from __future__ import annotations

import numpy as np

from .after import finished


def _softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def backward(point: dict, mistake: str | None = None, dtype: type = np.float64,
             deltas: bool = False) -> dict:
    """The gradients of U, W, V; with ``deltas`` also each step's dz = ∂E/∂z_t as
    ``delta_t``, the model's name of that adjoint."""
    U, W, V = (np.asarray(point[k], dtype=dtype) for k in ("U", "W", "V"))
    T = sum(1 for k in point if k.startswith("x_"))
    col = (lambda a: np.asarray(a, dtype=dtype).reshape(len(a), -1)) \
        if np.ndim(point["x_0"]) == 1 else (lambda a: np.asarray(a, dtype=dtype).T)
    xs = [col(point[f"x_{t}"]) for t in range(T)]
    ys = [col(point[f"y_{t}"]) for t in range(T)]
    s = {-1: col(point["s_{-1}"])}
    yhat = {}
    for t in range(T):
        s[t] = np.tanh(U @ xs[t] + W @ s[t - 1])
        yhat[t] = _softmax(V @ s[t])
    states = [s[t] for t in range(T)]  # a list: states[t - 1] at t = 0 is the last one
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    ds_next = np.zeros_like(s[0])
    dzs = {}
    for t in reversed(range(T)):
        dl = yhat[t] if mistake == "no-target" else yhat[t] - ys[t]  # no-target: −y forgotten
        dV += dl @ s[t].T
        ds = V.T @ dl + (0 if mistake == "no-through-time" else ds_next)
        dz = ds * (1 - s[t] ** 2)
        if mistake == "no-activation-derivative":
            dz = ds
        if mistake == "sigmoid-derivative":  # σ′ = s(1 − s) written for a tanh unit
            dz = ds * s[t] * (1 - s[t])
        dU += dz @ xs[t].T
        dzs[t] = dz
        prev = {"off-by-one": s[t], "wrap": states[t - 1]}.get(mistake, s[t - 1])
        if mistake == "overwrite":
            dW = dz @ prev.T
        else:
            dW += dz @ prev.T
        ds_next = W.T @ dz
    grads = finished({"U": dU, "W": dW, "V": dV}, mistake, "W", T)
    return {**grads, **{f"delta_{t}": dz for t, dz in dzs.items()}} if deltas else grads


def backward_truncated(point: dict, k: int) -> dict:
    """Truncated BPTT as tutorial code writes it (WildML's ``bptt_truncate``): the error of
    step t goes back to the steps max(0, t - k) … t only."""
    U, W, V = (np.asarray(point[n], dtype=float) for n in ("U", "W", "V"))
    T = sum(1 for n in point if n.startswith("x_"))
    xs = [np.asarray(point[f"x_{t}"], dtype=float).reshape(-1, 1) for t in range(T)]
    ys = [np.asarray(point[f"y_{t}"], dtype=float).reshape(-1, 1) for t in range(T)]
    s = {-1: np.asarray(point["s_{-1}"], dtype=float).reshape(-1, 1)}
    yhat = {}
    for t in range(T):
        s[t] = np.tanh(U @ xs[t] + W @ s[t - 1])
        yhat[t] = _softmax(V @ s[t])
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    for t in range(T):
        dl = yhat[t] - ys[t]
        dV += dl @ s[t].T
        dz = (V.T @ dl) * (1 - s[t] ** 2)
        for step in range(t, max(0, t - k) - 1, -1):
            dW += dz @ s[step - 1].T
            dU += dz @ xs[step].T
            dz = (W.T @ dz) * (1 - s[step - 1] ** 2)
    return {"U": dU, "W": dW, "V": dV}
