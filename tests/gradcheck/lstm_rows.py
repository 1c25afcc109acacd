"""An LSTM's backward pass in the row-vector, batched style (PyTorch-like or cs231n-like numpy
code: arrays of shape (B, n), a batch of B sequences, a_t = x_t @ W_iq + b_iq + h_{t-1} @ W_hq
+ b_hq for each gate q of torch.nn.LSTM, a softmax output h_t @ V + b_y with cross-entropy at
every step and for every sequence, zero initial states), written for the tests from the
model's equations.  The gradients are in the rows layout (each weight's gradient in the shape
of the weight, biases flat) and summed over the batch.  ``mistake`` makes one of the errors
gradcheck must name (the names of lstm_columns.py, and "no-through-time": both
dh_next and dc_next never added); None is the correct pass."""

from __future__ import annotations

import numpy as np

from .after import finished, sigmoid, softmax_rows

GATES = "ifgo"


def backward(point: dict, mistake: str | None = None) -> dict:
    P = {k: np.asarray(v, dtype=float) for k, v in point.items()}
    T = sum(1 for k in P if k.startswith("x_"))
    xs = [np.atleast_2d(P[f"x_{t}"]) for t in range(T)]
    ys = [np.atleast_2d(P[f"y_{t}"]) for t in range(T)]
    B, H = xs[0].shape[0], P["W_hi"].shape[1]
    h, c = {-1: np.zeros((B, H))}, {-1: np.zeros((B, H))}
    gate, yhat = {}, {}
    for t in range(T):  # forward
        a = {q: xs[t] @ P[f"W_i{q}"] + P[f"b_i{q}"] + h[t - 1] @ P[f"W_h{q}"] + P[f"b_h{q}"]
             for q in GATES}
        gate[t] = {q: np.tanh(a[q]) if q == "g" else sigmoid(a[q]) for q in GATES}
        c[t] = gate[t]["f"] * c[t - 1] + gate[t]["i"] * gate[t]["g"]
        h[t] = gate[t]["o"] * np.tanh(c[t])
        yhat[t] = softmax_rows(h[t] @ P["V"] + P["b_y"])
    grads = {k: np.zeros_like(v) for k, v in P.items() if k[0] in "Wb" or k == "V"}
    dh_next, dc_next = np.zeros((B, H)), np.zeros((B, H))
    states = [h[k] for k in range(T)]  # a list: states[t - 1] at t = 0 is the last one
    for t in reversed(range(T)):  # backward
        G = gate[t]
        dl = yhat[t] - ys[t]  # (B, K)
        grads["V"] += h[t].T @ dl
        grads["b_y"] += dl.sum(axis=0)
        dh = dl @ P["V"].T
        if mistake not in ("no-hidden-through-time", "no-through-time"):
            dh = dh + dh_next
        tc = np.tanh(c[t])
        dtanh = np.ones_like(tc) if mistake == "no-tanh-c-derivative" else 1 - tc * tc
        dc = dh * G["o"] * dtanh
        if mistake not in ("no-cell-through-time", "no-through-time"):
            dc = dc + dc_next
        di, df, dg, do = dc * G["g"], dc * c[t - 1], dc * G["i"], dh * tc
        da = {"i": di * G["i"] * (1 - G["i"]), "f": df * G["f"] * (1 - G["f"]),
              "g": dg * (1 - G["g"] * G["g"]), "o": do * G["o"] * (1 - G["o"])}
        if mistake == "g-sigmoid-derivative":  # σ′ where the candidate g is a tanh
            da["g"] = dg * G["g"] * (1 - G["g"])
        h_prev = {"off-by-one": h[t], "wrap": states[t - 1]}.get(mistake, h[t - 1])
        for q in GATES:
            grads[f"W_i{q}"] += xs[t].T @ da[q]
            if mistake == "overwrite" and q == "i":
                grads["W_hi"] = h_prev.T @ da[q]
            else:
                grads[f"W_h{q}"] += h_prev.T @ da[q]
            grads[f"b_i{q}"] += da[q].sum(axis=0)
            grads[f"b_h{q}"] += da[q].sum(axis=0)
        dh_next = da["i"] @ P["W_hi"].T + da["f"] @ P["W_hf"].T + da["g"] @ P["W_hg"].T \
            + da["o"] @ P["W_ho"].T
        dc_next = dc * G["f"]
    return finished(grads, mistake, "W_hf", T)
