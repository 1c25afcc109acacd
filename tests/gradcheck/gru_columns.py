"""A GRU's backward pass as people write it (column vectors, torch.nn.GRU's equations and
names, the reset gate inside the candidate, n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1}
+ b_hn)), a softmax output with cross-entropy at every step), written for the tests from the
model's equations.  ``mistake`` makes one of the errors gradcheck must name."""

from __future__ import annotations

import numpy as np

from .after import finished, output_error


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def _forward(point: dict) -> dict:
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
    return {"P": P, "T": T, "xs": xs, "ys": ys, "h": h, "r": r, "z": z, "n": n, "m": m,
            "yhat": yhat, "d": d}


def _step_back(F: dict, t: int, dh: np.ndarray, mistake: str | None) -> np.ndarray:
    """Step t's part of the backward pass, given ∂E/∂h_t: its gradients added into F["d"];
    returns what step t sends back to h_{t-1}."""
    P, d, h, xs = F["P"], F["d"], F["h"], F["xs"]
    r, z, n, m = F["r"][t], F["z"][t], F["n"][t], F["m"][t]
    dn = {"no-n-derivative": 1, "n-sigmoid-derivative": n * (1 - n)}
    dan = dh * (1 - z) * dn.get(mistake, 1 - n ** 2)
    daz = dh * (h[t - 1] - n) * z * (1 - z)
    dm = dan * r
    dar = dan * m * r * (1 - r)
    states = [h[k] for k in range(F["T"])]  # a list: states[t - 1] at t = 0 is the last one
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
    return dh * z + P["W_hr"].T @ dar + P["W_hz"].T @ daz + P["W_hn"].T @ dm


def backward(point: dict, mistake: str | None = None, deltas: bool = False) -> dict:
    """The gradients of every weight and bias; with ``deltas`` also each step's dh
    (∂E/∂h_t) as ``dh_t``, the model's name."""
    F = _forward(point)
    dh_next = np.zeros_like(F["h"][-1])
    steps = {}
    for t in reversed(range(F["T"])):
        dh = output_error(F, t) + (0 if mistake == "no-through-time" else dh_next)
        steps[f"dh_{t}"] = dh
        dh_next = _step_back(F, t, dh, mistake)
    grads = finished(F["d"], mistake, "W_hn", F["T"])
    return {**grads, **steps} if deltas else grads


def backward_truncated(point: dict, k: int) -> dict:
    """Truncated BPTT as tutorial code writes it: the error of step t's loss goes back to the
    steps max(0, t − k) … t only."""
    F = _forward(point)
    for t in range(F["T"]):
        dh = output_error(F, t)
        for step in range(t, max(0, t - k) - 1, -1):
            dh = _step_back(F, step, dh, None)
    return F["d"]
