"""An LSTM's backward pass as people write it (column vectors, torch.nn.LSTM's equations and
gate names, a softmax output with cross-entropy at every step, zero initial states), written
for the tests from the model's equations.  ``mistake`` makes one of the errors gradcheck must
name; None is the correct pass."""

from __future__ import annotations

import numpy as np

from .after import finished, output_error

GATES = "ifgo"


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def _forward(point: dict) -> dict:
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
    return {"P": P, "T": T, "xs": xs, "ys": ys, "h": h, "c": c, "gate": gate, "yhat": yhat,
            "d": d}


def _step_back(F: dict, t: int, dh: np.ndarray, dc_next: np.ndarray,
               mistake: str | None) -> tuple:
    """Step t's part of the backward pass, given ∂E/∂h_t (dh) and what c_{t+1} sends back
    (dc_next): the gates' gradients added into F["d"]; returns dc_t and what step t sends
    back to h_{t-1} and c_{t-1}."""
    P, G, c, h, d = F["P"], F["gate"][t], F["c"], F["h"], F["d"]
    tc = np.tanh(c[t])
    tanh_c = 1 if mistake == "no-tanh-c-derivative" else 1 - tc ** 2  # tanh′(c_t) forgotten
    dc = dh * G["o"] * tanh_c + (0 if mistake == "no-cell-through-time" else dc_next)
    local = {"i": dc * G["g"], "f": dc * c[t - 1], "g": dc * G["i"], "o": dh * tc}
    da = {q: local[q] * ((1 - G[q] ** 2) if q == "g" else G[q] * (1 - G[q])) for q in GATES}
    if mistake == "g-sigmoid-derivative":  # σ′ written for the tanh candidate g
        da["g"] = local["g"] * G["g"] * (1 - G["g"])
    states = [h[k] for k in range(F["T"])]  # a list: states[t - 1] at t = 0 is the last one
    prev = {"off-by-one": h[t], "wrap": states[t - 1]}.get(mistake, h[t - 1])
    for q in GATES:
        d[f"W_i{q}"] += da[q] @ F["xs"][t].T
        if mistake == "overwrite" and q == "i":
            d["W_hi"] = da[q] @ prev.T
        else:
            d[f"W_h{q}"] += da[q] @ prev.T
        d[f"b_i{q}"] += da[q]
        d[f"b_h{q}"] += da[q]
    return dc, sum(P[f"W_h{q}"].T @ da[q] for q in GATES), dc * G["f"]


def backward(point: dict, mistake: str | None = None, deltas: bool = False) -> dict:
    """The gradients of every weight and bias; with ``deltas`` also each step's dh and dc
    (∂E/∂h_t and ∂E/∂c_t, all paths) as ``dh_t``, ``dc_t``, the model's names."""
    F = _forward(point)
    dh_next = dc_next = np.zeros_like(F["h"][-1])
    steps = {}
    for t in reversed(range(F["T"])):
        dh = output_error(F, t) + (0 if mistake == "no-hidden-through-time" else dh_next)
        steps[f"dh_{t}"] = dh
        steps[f"dc_{t}"], dh_next, dc_next = _step_back(F, t, dh, dc_next, mistake)
    grads = finished(F["d"], mistake, "W_hf", F["T"])
    return {**grads, **steps} if deltas else grads


def backward_truncated(point: dict, k: int) -> dict:
    """Truncated BPTT as tutorial code writes it: the error of step t's loss goes back to the
    steps max(0, t − k) … t only."""
    F = _forward(point)
    for t in range(F["T"]):
        dh, dc = output_error(F, t), np.zeros_like(F["h"][-1])
        for step in range(t, max(0, t - k) - 1, -1):
            _, dh, dc = _step_back(F, step, dh, dc, None)
    return F["d"]
