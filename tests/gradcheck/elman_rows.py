"""An Elman RNN's backward pass in the row-vector, batched style (arrays of shape (B, n), a
batch of B sequences, z_t = x_t @ U + s_{t-1} @ W, s_t = tanh(z_t), ŷ_t = softmax(s_t @ V),
E = the sum over steps and sequences of the cross-entropy), written for the tests from the
model's equations.  The gradients are in the rows layout (each the shape of its weight) and
summed over the batch.  ``mistake`` makes one of the errors gradcheck must name (the names of
elman_columns.py); None is the correct pass."""

from __future__ import annotations

import numpy as np

from .after import finished, softmax_rows


def backward(point: dict, mistake: str | None = None) -> dict:
    U, W, V = (np.asarray(point[k], dtype=float) for k in ("U", "W", "V"))
    T = sum(1 for k in point if k.startswith("x_"))
    xs = [np.atleast_2d(np.asarray(point[f"x_{t}"], dtype=float)) for t in range(T)]
    ys = [np.atleast_2d(np.asarray(point[f"y_{t}"], dtype=float)) for t in range(T)]
    s = {-1: np.atleast_2d(np.asarray(point["s_{-1}"], dtype=float))}
    yhat = {}
    for t in range(T):  # forward
        s[t] = np.tanh(xs[t] @ U + s[t - 1] @ W)
        yhat[t] = softmax_rows(s[t] @ V)
    states = [s[t] for t in range(T)]  # a list: states[t - 1] at t = 0 is the last one
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    ds_next = np.zeros_like(s[0])
    for t in reversed(range(T)):  # backward
        dl = yhat[t] - ys[t]  # (B, K)
        dV += s[t].T @ dl
        ds = dl @ V.T
        if mistake != "no-through-time":
            ds = ds + ds_next
        if mistake == "no-activation-derivative":
            dz = ds
        elif mistake == "sigmoid-derivative":  # σ′ = s(1 − s) written for a tanh unit
            dz = ds * s[t] * (1 - s[t])
        else:
            dz = ds * (1 - s[t] * s[t])
        dU += xs[t].T @ dz
        if mistake == "off-by-one":
            s_prev = s[t]
        elif mistake == "wrap":
            s_prev = states[t - 1]
        else:
            s_prev = s[t - 1]
        if mistake == "overwrite":
            dW = s_prev.T @ dz
        else:
            dW += s_prev.T @ dz
        ds_next = dz @ W.T
    return finished({"U": dU, "W": dW, "V": dV}, mistake, "W", T)
