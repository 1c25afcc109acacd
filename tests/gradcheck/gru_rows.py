"""A GRU's backward pass in the row-vector, batched style (arrays of shape (B, n), torch.nn.GRU's
equations and names written x @ W: r_t = σ(x_t @ W_ir + b_ir + h_{t-1} @ W_hr + b_hr), z_t
likewise, n_t = tanh(x_t @ W_in + b_in + r_t ⊙ (h_{t-1} @ W_hn + b_hn)), h_t = (1 - z_t) ⊙ n_t
+ z_t ⊙ h_{t-1}, a softmax output h_t @ V + b_y with cross-entropy at every step and for every
sequence), written for the tests from the model's equations.  The gradients are in the rows
layout and summed over the batch.  ``mistake`` makes one of the errors gradcheck must name
(the names of gru_columns.py); None is the correct pass."""

from __future__ import annotations

import numpy as np

from .after import finished, sigmoid, softmax_rows


def backward(point: dict, mistake: str | None = None) -> dict:
    P = {k: np.asarray(v, dtype=float) for k, v in point.items()}
    T = sum(1 for k in P if k.startswith("x_"))
    xs = [np.atleast_2d(P[f"x_{t}"]) for t in range(T)]
    ys = [np.atleast_2d(P[f"y_{t}"]) for t in range(T)]
    h = {-1: np.atleast_2d(P["h_{-1}"])}
    r, z, n, m, yhat = {}, {}, {}, {}, {}
    for t in range(T):  # forward
        r[t] = sigmoid(xs[t] @ P["W_ir"] + P["b_ir"] + h[t - 1] @ P["W_hr"] + P["b_hr"])
        z[t] = sigmoid(xs[t] @ P["W_iz"] + P["b_iz"] + h[t - 1] @ P["W_hz"] + P["b_hz"])
        m[t] = h[t - 1] @ P["W_hn"] + P["b_hn"]
        n[t] = np.tanh(xs[t] @ P["W_in"] + P["b_in"] + r[t] * m[t])
        h[t] = (1 - z[t]) * n[t] + z[t] * h[t - 1]
        yhat[t] = softmax_rows(h[t] @ P["V"] + P["b_y"])
    grads = {k: np.zeros_like(v) for k, v in P.items() if k[0] in "Wb" or k == "V"}
    dh_next = np.zeros_like(h[0])
    states = [h[k] for k in range(T)]  # a list: states[t - 1] at t = 0 is the last one
    for t in reversed(range(T)):  # backward
        dl = yhat[t] - ys[t]  # (B, K)
        grads["V"] += h[t].T @ dl
        grads["b_y"] += dl.sum(axis=0)
        dh = dl @ P["V"].T + dh_next
        if mistake == "no-n-derivative":
            dtanh = np.ones_like(n[t])
        elif mistake == "n-sigmoid-derivative":  # σ′ where n is a tanh
            dtanh = n[t] * (1 - n[t])
        else:
            dtanh = 1 - n[t] * n[t]
        dan = dh * (1 - z[t]) * dtanh  # ∂E/∂(n's pre-activation)
        daz = dh * (h[t - 1] - n[t]) * z[t] * (1 - z[t])
        dm = dan * r[t]  # ∂E/∂(h_{t-1} @ W_hn + b_hn)
        dar = dan * m[t] * r[t] * (1 - r[t])
        h_prev = {"off-by-one": h[t], "wrap": states[t - 1]}.get(mistake, h[t - 1])
        for q, da in (("r", dar), ("z", daz), ("n", dan)):
            grads[f"W_i{q}"] += xs[t].T @ da
            grads[f"b_i{q}"] += da.sum(axis=0)
        for q, da in (("r", dar), ("z", daz), ("n", dm)):
            if mistake == "overwrite" and q == "z":
                grads["W_hz"] = h_prev.T @ da
            else:
                grads[f"W_h{q}"] += h_prev.T @ da
            grads[f"b_h{q}"] += da.sum(axis=0)
        dh_next = dh * z[t] + dar @ P["W_hr"].T + daz @ P["W_hz"].T + dm @ P["W_hn"].T
    return finished(grads, mistake, "W_hn", T)
