"""The mistakes made on a backward pass's finished gradients (the same in every cell's
loop): ``weight``'s sign or transpose, every gradient divided by T or clipped to ±0.05."""

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
