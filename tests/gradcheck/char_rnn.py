"""A char-RNN's loss and backward pass in the shape of Karpathy's min-char-rnn ``lossFun``,
written for the tests from the model's equations (h_t = tanh(Wxh x_t + Whh h_{t-1} + bh),
y_t = Why h_t + by, p_t = softmax(y_t), loss = Σ_t −log p_t[target_t]): one-hot inputs
made from integer indices, column vectors, dictionaries of states keyed by step (hs[-1] is
hprev), a loop back over the steps carrying dhnext, and every gradient clipped to ±5 at the
end.  This is elman with ``--bias``: Wxh = U, Whh = W, Why = V, bh = b, by = c, hprev = s_{-1}.
``mistake`` makes one of the errors gradcheck must name; None is the correct pass."""

from __future__ import annotations

import numpy as np

MISTAKES = ("no-dhnext", "raw-dh", "overwrite", "mean", "sign", "wrap")


def lossFun(inputs: list[int], targets: list[int], hprev: np.ndarray, Wxh: np.ndarray,
            Whh: np.ndarray, Why: np.ndarray, bh: np.ndarray, by: np.ndarray,
            mistake: str | None = None, clip: float | None = 5.0) -> tuple:
    """The loss, the gradients dWxh, dWhh, dWhy, dbh, dby and the last hidden state.
    ``clip`` None leaves the gradients unclipped (for comparing with autograd)."""
    if mistake is not None and mistake not in MISTAKES:
        raise ValueError(f"unknown mistake {mistake!r}")
    vocab_size = Wxh.shape[1]
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0.0
    for t in range(len(inputs)):  # forward pass
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
        ys = np.dot(Why, hs[t]) + by  # unnormalized log probabilities of the next char
        e = np.exp(ys - np.max(ys))
        ps[t] = e / np.sum(e)
        loss += -np.log(ps[t][targets[t], 0])
    if mistake == "wrap":  # the states kept in a list: hs[t-1] at t = 0 is hs[-1], the last
        hs = [hs[t] for t in range(len(inputs))]
    dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
    dbh, dby = np.zeros_like(bh), np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(inputs))):  # backward pass
        dy = np.copy(ps[t])
        dy[targets[t]] -= 1  # softmax and cross-entropy: p - onehot(target)
        dWhy += np.dot(dy, hs[t].T)
        dby += dy
        dh = np.dot(Why.T, dy)
        if mistake != "no-dhnext":  # no-dhnext: the gradient from step t + 1 never added
            dh = dh + dhnext
        dhraw = dh if mistake == "raw-dh" else (1 - hs[t] * hs[t]) * dh
        dbh += dhraw
        dWxh += np.dot(dhraw, xs[t].T)
        if mistake == "overwrite":
            dWhh = np.dot(dhraw, hs[t - 1].T)
        elif mistake == "sign":
            dWhh -= np.dot(dhraw, hs[t - 1].T)
        else:
            dWhh += np.dot(dhraw, hs[t - 1].T)
        dhnext = np.dot(Whh.T, dhraw)
    grads = [dWxh, dWhh, dWhy, dbh, dby]
    if mistake == "mean":  # the loss and every gradient divided by the sequence's length
        loss /= len(inputs)
        for dparam in grads:
            dparam /= len(inputs)
    if clip is not None:
        for dparam in grads:
            np.clip(dparam, -clip, clip, out=dparam)  # mitigate exploding gradients
    return (loss, *grads, hs[len(inputs) - 1])


def _index(v: np.ndarray, name: str) -> int:
    v = np.ravel(np.asarray(v, dtype=float))
    i = int(np.argmax(v))
    if v[i] != 1 or np.count_nonzero(v) != 1:
        raise ValueError(f"{name} is not a one-hot vector")
    return i


def backward(point: dict, mistake: str | None = None, clip: float | None = 5.0) -> dict:
    """Run ``lossFun`` at a point named as ``bptt-sym values --model elman --bias`` writes
    it (x_t and y_t one-hot): the gradients by min-char-rnn's names, each in the shape of
    the point's parameter (a bias as its H numbers)."""
    T = sum(1 for k in point if k.startswith("x_"))
    inputs = [_index(point[f"x_{t}"], f"x_{t}") for t in range(T)]
    targets = [_index(point[f"y_{t}"], f"y_{t}") for t in range(T)]

    def col(name: str) -> np.ndarray:
        return np.asarray(point[name], dtype=float).reshape(-1, 1)

    Wxh, Whh, Why = (np.asarray(point[k], dtype=float) for k in ("U", "W", "V"))
    out = lossFun(inputs, targets, col("s_{-1}"), Wxh, Whh, Why, col("b"), col("c"),
                  mistake, clip)
    names = {"dWxh": "U", "dWhh": "W", "dWhy": "V", "dbh": "b", "dby": "c"}
    return {mine: g.reshape(np.shape(point[ours]))
            for (mine, ours), g in zip(names.items(), out[1:6])}
