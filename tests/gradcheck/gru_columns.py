"""A GRU's backward pass as people write it (column vectors, torch.nn.GRU's equations and
names, the reset gate inside the candidate, n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1}
+ b_hn)), a softmax output with cross-entropy at every step), written for the tests from the
model's equations.  ``mistake`` makes one of the errors gradcheck must name."""

from __future__ import annotations

import numpy as np

from .after import finished


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def backward(point: dict, mistake: str | None = None) -> dict:
    P = {k: np.asarray(v, dtype=float) for k, v in point.items()}
    for k, v in P.items():
        if k.startswith("b_") or k == "h_{-1}":
            P[k] = v.reshape(-1, 1)
    T = sum(1 for k in P if k.startswith("x_"))
    xs = [P[f"x_{t}"].reshape(-1, 1) for t in range(T)]
    ys = [P[f"y_{t}"].reshape(-1, 1) for t in range(T)]
    h = {-1: P["h_{-1}"]}
    r, z, n, m, yhat = {}, {}, {}, {}, {}
    for t in range(T):
        r[t] = _sigmoid(P["W_ir"] @ xs[t] + P["b_ir"] + P["W_hr"] @ h[t - 1] + P["b_hr"])
        z[t] = _sigmoid(P["W_iz"] @ xs[t] + P["b_iz"] + P["W_hz"] @ h[t - 1] + P["b_hz"])
        m[t] = P["W_hn"] @ h[t - 1] + P["b_hn"]
        n[t] = np.tanh(P["W_in"] @ xs[t] + P["b_in"] + r[t] * m[t])
        h[t] = (1 - z[t]) * n[t] + z[t] * h[t - 1]
        logits = P["V"] @ h[t] + P["b_y"]
        e = np.exp(logits - logits.max())
        yhat[t] = e / e.sum()
    d = {k: np.zeros_like(v) for k, v in P.items() if k[0] in "Wb" or k == "V"}
    dh_next = np.zeros_like(h[0])
    states = [h[k] for k in range(T)]  # a list: states[t - 1] at t = 0 is the last one
    for t in reversed(range(T)):
        dl = yhat[t] - ys[t]
        d["V"] += dl @ h[t].T
        d["b_y"] += dl
        dh = P["V"].T @ dl + dh_next
        dn = {"no-n-derivative": 1, "n-sigmoid-derivative": n[t] * (1 - n[t])}
        dan = dh * (1 - z[t]) * dn.get(mistake, 1 - n[t] ** 2)
        daz = dh * (h[t - 1] - n[t]) * z[t] * (1 - z[t])
        dm = dan * r[t]
        dar = dan * m[t] * r[t] * (1 - r[t])
        prev = {"off-by-one": h[t], "wrap": states[t - 1]}.get(mistake, h[t - 1])
        for q, da in (("r", dar), ("z", daz), ("n", dan)):
            d[f"W_i{q}"] += da @ xs[t].T
            d[f"b_i{q}"] += da
        for q, da in (("r", dar), ("z", daz), ("n", dm)):
            if mistake == "overwrite" and q == "z":
                d["W_hz"] = da @ prev.T
            else:
                d[f"W_h{q}"] += da @ prev.T
            d[f"b_h{q}"] += da
        dh_next = dh * z[t] + P["W_hr"].T @ dar + P["W_hz"].T @ daz + P["W_hn"].T @ dm
    return finished(d, mistake, "W_hn", T)
