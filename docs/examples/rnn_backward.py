"""A backward pass for the Elman RNN as a course would write it (column vectors, the states
kept in a list, a loop back over the steps), to try `bptt-sym gradcheck` on:

    python docs/examples/rnn_backward.py point.npz grads.npz          # correct
    python docs/examples/rnn_backward.py point.npz grads.npz --wrap   # the h[t-1] bug
    python docs/examples/rnn_backward.py point.npz grads.npz --deltas # also dz_0 … dz_{T-1}
    python docs/examples/rnn_backward.py point.npz grads.npz --no-dhnext  # dh_next forgotten
    python docs/examples/rnn_backward.py point.npz grads.npz --no-target  # p - y written p
    bptt-sym gradcheck --model elman --call docs/examples/rnn_backward.py:backward

With --wrap it makes a mistake published code has made: the states are a list indexed
``hs[t - 1]``, which at t = 0 is hs[-1], the last state, not the initial one.  With
--no-dhnext the error carried back from step t + 1 is never added; with --no-target the
output's error is written p_t where p_t − y_t belongs (a mistake gradcheck has no name
for).  With --deltas each step's dz (∂E/∂z_t, the model's δ_t) is saved too, as dz_t:
`gradcheck --map dz=delta` reads them."""

import sys

import numpy as np


def backward(p: dict, wrap: bool = False, no_dhnext: bool = False, deltas: bool = False,
             no_target: bool = False) -> dict:
    """The gradients of U, W and V at the point ``p`` (the arrays `bptt-sym values` writes);
    `bptt-sym gradcheck --call docs/examples/rnn_backward.py:backward` calls it."""
    U, W, V = p["U"], p["W"], p["V"]
    T = sum(1 for k in p if k.startswith("x_"))
    xs = [p[f"x_{t}"].reshape(-1, 1) for t in range(T)]
    ys = [p[f"y_{t}"].reshape(-1, 1) for t in range(T)]
    h0 = p["s_{-1}"].reshape(-1, 1)
    hs, ps = [], []
    for t in range(T):
        hs.append(np.tanh(U @ xs[t] + W @ (hs[t - 1] if t else h0)))
        e = np.exp(V @ hs[t] - np.max(V @ hs[t]))
        ps.append(e / e.sum())
    dU, dW, dV = np.zeros_like(U), np.zeros_like(W), np.zeros_like(V)
    dh_next = np.zeros_like(h0)
    dzs = {}
    for t in reversed(range(T)):
        dy = ps[t] if no_target else ps[t] - ys[t]
        dV += dy @ hs[t].T
        dz = (V.T @ dy + (0 if no_dhnext else dh_next)) * (1 - hs[t] ** 2)
        dzs[f"dz_{t}"] = dz
        dU += dz @ xs[t].T
        dW += dz @ (hs[t - 1] if (t or wrap) else h0).T
        dh_next = W.T @ dz
    return {"U": dU, "W": dW, "V": dV, **(dzs if deltas else {})}


def main(point_file: str, grads_file: str, flags: list) -> None:
    np.savez(grads_file, **backward(dict(np.load(point_file)), "--wrap" in flags,
                                    "--no-dhnext" in flags, "--deltas" in flags,
                                    "--no-target" in flags))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
