"""An LSTM's backward pass as people write it (column vectors, torch.nn.LSTM's equations and
gate names, a softmax output with cross-entropy at every step, zero initial states), written
for the tests from the model's equations.  ``mistake`` makes one of the errors gradcheck must
name; None is the correct pass."""

from __future__ import annotations

import numpy as np

from .after import finished

GATES = "ifgo"


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def backward(point: dict, mistake: str | None = None, deltas: bool = False) -> dict:
    """The gradients of every weight and bias; with ``deltas`` also each step's dh and dc
    (∂E/∂h_t and ∂E/∂c_t, all paths) as ``dh_t``, ``dc_t``, the model's names."""
    P = {k: np.asarray(v, dtype=float) for k, v in point.items()}
    for k, v in P.items():
        if k.startswith("b_"):
            P[k] = v.reshape(-1, 1)
    T = sum(1 for k in P if k.startswith("x_"))
    xs = [P[f"x_{t}"].reshape(-1, 1) for t in range(T)]
    ys = [P[f"y_{t}"].reshape(-1, 1) for t in range(T)]
    H = P["W_hi"].shape[0]
    h, c = {-1: np.zeros((H, 1))}, {-1: np.zeros((H, 1))}
    gate, yhat = {}, {}
    for t in range(T):
        a = {q: P[f"W_i{q}"] @ xs[t] + P[f"b_i{q}"] + P[f"W_h{q}"] @ h[t - 1] + P[f"b_h{q}"]
             for q in GATES}
        gate[t] = {q: (np.tanh(a[q]) if q == "g" else _sigmoid(a[q])) for q in GATES}
        c[t] = gate[t]["f"] * c[t - 1] + gate[t]["i"] * gate[t]["g"]
        h[t] = gate[t]["o"] * np.tanh(c[t])
        e = np.exp(P["V"] @ h[t] + P["b_y"] - np.max(P["V"] @ h[t] + P["b_y"]))
        yhat[t] = e / e.sum()
    d = {k: np.zeros_like(v) for k, v in P.items() if k[0] in "Wb" or k == "V"}
    dh_next, dc_next = np.zeros((H, 1)), np.zeros((H, 1))
    steps = {}
    for t in reversed(range(T)):
        G = gate[t]
        dl = yhat[t] - ys[t]
        d["V"] += dl @ h[t].T
        d["b_y"] += dl
        dh = P["V"].T @ dl + (0 if mistake == "no-hidden-through-time" else dh_next)
        tc = np.tanh(c[t])
        tanh_c = 1 if mistake == "no-tanh-c-derivative" else 1 - tc ** 2  # tanh′(c_t) forgotten
        dc = dh * G["o"] * tanh_c + (0 if mistake == "no-cell-through-time" else dc_next)
        steps[f"dh_{t}"], steps[f"dc_{t}"] = dh, dc
        local = {"i": dc * G["g"], "f": dc * c[t - 1], "g": dc * G["i"], "o": dh * tc}
        da = {q: local[q] * ((1 - G[q] ** 2) if q == "g" else G[q] * (1 - G[q]))
              for q in GATES}
        if mistake == "g-sigmoid-derivative":  # σ′ written for the tanh candidate g
            da["g"] = local["g"] * G["g"] * (1 - G["g"])
        states = [h[k] for k in range(T)]  # a list: states[t - 1] at t = 0 is the last one
        prev = {"off-by-one": h[t], "wrap": states[t - 1]}.get(mistake, h[t - 1])
        for q in GATES:
            d[f"W_i{q}"] += da[q] @ xs[t].T
            if mistake == "overwrite" and q == "i":
                d["W_hi"] = da[q] @ prev.T
            else:
                d[f"W_h{q}"] += da[q] @ prev.T
            d[f"b_i{q}"] += da[q]
            d[f"b_h{q}"] += da[q]
        dh_next = sum(P[f"W_h{q}"].T @ da[q] for q in GATES)
        dc_next = dc * G["f"]
    grads = finished(d, mistake, "W_hf", T)
    return {**grads, **steps} if deltas else grads
