"""The mistakes made on a backward pass's finished gradients (the same in every cell's
loop): ``weight``'s sign or transpose, every gradient divided by T or clipped to ±0.05; and
the two functions of the row-layout passes, and the softmax output's step of the gated
column passes."""

from __future__ import annotations

import numpy as np


def finished(grads: dict, mistake: str | None, weight: str, steps: int) -> dict:
    grads = dict(grads)
    if mistake == "sign":
        grads[weight] = -grads[weight]
    if mistake == "transpose":
        grads[weight] = grads[weight].T
    if mistake == "mean":
        grads = {k: v / steps for k, v in grads.items()}
    if mistake == "clip":
        grads = {k: np.clip(v, -0.05, 0.05) for k, v in grads.items()}
    return grads


def sigmoid(v: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-v))


def softmax_rows(v: np.ndarray) -> np.ndarray:
    """The softmax of each row (a batch of B outputs, B × K)."""
    e = np.exp(v - v.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def output_error(F: dict, t: int) -> np.ndarray:
    """Step t's softmax-and-cross-entropy error ŷ_t − y_t added into V and b_y (F: a gated
    column pass's forward values and gradients); what it sends to h_t."""
    dl = F["yhat"][t] - F["ys"][t]
    F["d"]["V"] += dl @ F["h"][t].T
    F["d"]["b_y"] += dl
    return F["P"]["V"].T @ dl
