"""Numeric truths of the formulas of shunliz-bptt (shunliz/Machine-Learning dl/rnn/bptt.md, the
page the project's seed article was copied from), written by hand in NumPy and differentiated
by HIPS autograd; nothing of bptt_sym is used.

The S/B formulas are the article's scalar example at two steps t = 0, 1 (model doc):
a_t = x_t u, b_t = s_{t-1} w, z_t = a_t + b_t + k, s_t = f(z_t), q = s_1 v, o = g(q),
E = L(o, y), with s_{-1} given.  u_t, w_t, v_1 are the copies of the shared u, w, v used at
step t.  Stand-ins: f = tanh, g = sigmoid, L = binary cross-entropy (the page's softmax of one
logit is the constant 1, which would make every gradient 0; the formulas hold for any f, g, L).

The V formulas are the vector RNN (model elman): s_t = tanh(U x_t + W s_{t-1}),
yhat_t = softmax(V s_t), E_t = -y_t^T log yhat_t, E = sum_t E_t, s_{-1} given.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd import grad, jacobian

from tests.corpus.cases import Case

# ---------------------------------------------------------------------------------------------
# the scalar example (doc), two steps


def f(z):
    return anp.tanh(z)


def g(q):
    return 1 / (1 + anp.exp(-q))


def L(o, y):
    return -(y * anp.log(o) + (1 - y) * anp.log(1 - o))


def d(fun, at):
    """The derivative of a function of one variable at a point."""
    return grad(fun)(at)


def doc_point(rng: np.random.Generator) -> dict:
    p = {name: rng.normal(0, 0.5) for name in ("x0", "x1", "s_", "u", "w", "k", "v")}
    p["y"] = rng.uniform(0.2, 0.8)  # s_ is s_{-1}
    return p


def doc_forward(p: dict, u0=None, u1=None, w0=None, w1=None) -> dict:
    """Every node of the two-step graph; u0, u1, w0, w1 are the per-step copies (default: the
    shared u and w)."""
    u0 = p["u"] if u0 is None else u0
    u1 = p["u"] if u1 is None else u1
    w0 = p["w"] if w0 is None else w0
    w1 = p["w"] if w1 is None else w1
    n = {"a0": p["x0"] * u0, "b0": p["s_"] * w0}
    n["z0"] = n["a0"] + n["b0"] + p["k"]
    n["s0"] = f(n["z0"])
    n["a1"] = p["x1"] * u1
    n["b1"] = n["s0"] * w1
    n["z1"] = n["a1"] + n["b1"] + p["k"]
    n["s1"] = f(n["z1"])
    n["q"] = n["s1"] * p["v"]
    n["o"] = g(n["q"])
    n["E"] = L(n["o"], p["y"])
    return n


def dE(p: dict, name: str):
    """dE/d(name): name a shared parameter (u, w) or a copy (u0, u1, w0, w1)."""
    if name in ("u", "w"):
        return d(lambda val: doc_forward({**p, name: val})["E"], p[name])
    return d(lambda val: doc_forward(p, **{name: val})["E"], p[name[0]])


def local(p: dict) -> dict:
    """The local (one-equation) partial derivatives that B2-B6 name, each by autograd of its
    own equation."""
    n = doc_forward(p)
    u, w, k, v = p["u"], p["w"], p["k"], p["v"]
    return {
        "dE/do": d(lambda o: L(o, p["y"]), n["o"]),
        "do/dq": d(g, n["q"]),
        "dq/ds1": d(lambda s: s * v, n["s1"]),
        "ds1/dz1": d(f, n["z1"]),
        "dz1/da1": d(lambda a: a + n["b1"] + k, n["a1"]),
        "da1/du1": d(lambda c: p["x1"] * c, u),
        "dz1/db1": d(lambda b: n["a1"] + b + k, n["b1"]),
        "db1/ds0": d(lambda s: s * w, n["s0"]),
        "ds0/dz0": d(f, n["z0"]),
        "dz0/da0": d(lambda a: a + n["b0"] + k, n["a0"]),
        "da0/du0": d(lambda c: p["x0"] * c, u),
    }


def z0_product_sides(rng):
    """z_0 = a_0 * b_0 (the question's first, multiplicative, pre-activation)."""
    n = doc_forward(doc_point(rng))
    return [(n["z0"], n["a0"] * n["b0"])]


def zt_sides(rng):
    """z_t = u*x_t + w*s_{t-1} + k, for t = 0, 1."""
    p = doc_point(rng)
    n = doc_forward(p)
    return [
        (n["z0"], p["u"] * p["x0"] + p["w"] * p["s_"] + p["k"]),
        (n["z1"], p["u"] * p["x1"] + p["w"] * n["s0"] + p["k"]),
    ]


def B1_sides(rng):
    """dE/du = dE/du_1 + dE/du_0."""
    p = doc_point(rng)
    return [(dE(p, "u"), dE(p, "u1") + dE(p, "u0"))]


def B2_sides(rng):
    """dE/du_1 = dE/do do/dq dq/ds_1 ds_1/dz_1 dz_1/da_1 da_1/du_1."""
    p = doc_point(rng)
    c = local(p)
    rhs = c["dE/do"] * c["do/dq"] * c["dq/ds1"] * c["ds1/dz1"] * c["dz1/da1"] * c["da1/du1"]
    return [(dE(p, "u1"), rhs)]


def B3_sides(rng):
    """dE/du_0 = dE/do do/dq dq/ds_1 ds_1/dz_1 dz_1/db_1 db_1/ds_0 ds_0/dz_0 dz_0/da_0 da_0/du_0."""
    p = doc_point(rng)
    c = local(p)
    rhs = (
        c["dE/do"]
        * c["do/dq"]
        * c["dq/ds1"]
        * c["ds1/dz1"]
        * c["dz1/db1"]
        * c["db1/ds0"]
        * c["ds0/dz0"]
        * c["dz0/da0"]
        * c["da0/du0"]
    )
    return [(dE(p, "u0"), rhs)]


def gather_sides(rng):
    """dE/du = dE/do do/dq dq/ds_1 ds_1/dz_1 ((dz_1/da_1 da_1/du_1)
    + (dz_1/db_1 db_1/ds_0 ds_0/dz_0 dz_0/da_0 da_0/du_0))."""
    p = doc_point(rng)
    c = local(p)
    rhs = (
        c["dE/do"]
        * c["do/dq"]
        * c["dq/ds1"]
        * c["ds1/dz1"]
        * (
            c["dz1/da1"] * c["da1/du1"]
            + c["dz1/db1"] * c["db1/ds0"] * c["ds0/dz0"] * c["dz0/da0"] * c["da0/du0"]
        )
    )
    return [(dE(p, "u"), rhs)]


def B4_sides(rng):
    """dE/du = dE/do do/dq v_1 ds_1/dz_1 ((1 * x_1) + (1 * w_1 * ds_0/dz_0 * 1 * x_0))."""
    p = doc_point(rng)
    c = local(p)
    x0, x1, w, v = p["x0"], p["x1"], p["w"], p["v"]
    rhs = c["dE/do"] * c["do/dq"] * v * c["ds1/dz1"] * ((1 * x1) + (1 * w * c["ds0/dz0"] * 1 * x0))
    return [(dE(p, "u"), rhs)]


def B5_sides(rng):
    """dE/du = dE/do do/dq v_1 ds_1/dz_1 (x_1 + w_1 ds_0/dz_0 x_0)."""
    p = doc_point(rng)
    c = local(p)
    x0, x1, w, v = p["x0"], p["x1"], p["w"], p["v"]
    rhs = c["dE/do"] * c["do/dq"] * v * c["ds1/dz1"] * (x1 + w * c["ds0/dz0"] * x0)
    return [(dE(p, "u"), rhs)]


def B6_sides(rng):
    """dE/dw = dE/do do/dq v_1 ds_1/dz_1 (s_0 + w_1 ds_0/dz_0 s_{-1})."""
    p = doc_point(rng)
    c = local(p)
    s0 = doc_forward(p)["s0"]
    rhs = c["dE/do"] * c["do/dq"] * p["v"] * c["ds1/dz1"] * (s0 + p["w"] * c["ds0/dz0"] * p["s_"])
    return [(dE(p, "w"), rhs)]


def state_sides(param: str):
    """dL/du = sum_t dL/du_t = dL/do do/ds_1 ds_1/du_1 + dL/do do/ds_1 ds_1/ds_0 ds_0/du_0 (and
    the same for w): do/ds_1 = g'(q) v_1 through q, ds_1/ds_0 the one-step derivative, and
    ds_t/du_t the immediate derivative through the copy u_t (s_{t-1} held fixed)."""

    def sides(rng):
        p = doc_point(rng)
        n = doc_forward(p)
        u, w, k, v = p["u"], p["w"], p["k"], p["v"]
        dL_do = d(lambda o: L(o, p["y"]), n["o"])
        do_ds1 = d(lambda s: g(s * v), n["s1"])
        ds1_ds0 = d(lambda s: f(n["a1"] + s * w + k), n["s0"])
        if param == "u":
            ds1_dp1 = d(lambda c: f(p["x1"] * c + n["b1"] + k), u)
            ds0_dp0 = d(lambda c: f(p["x0"] * c + n["b0"] + k), u)
        else:
            ds1_dp1 = d(lambda c: f(n["a1"] + n["s0"] * c + k), w)
            ds0_dp0 = d(lambda c: f(n["a0"] + p["s_"] * c + k), w)
        copies = dE(p, param + "1") + dE(p, param + "0")
        rhs = dL_do * do_ds1 * ds1_dp1 + dL_do * do_ds1 * ds1_ds0 * ds0_dp0
        return [(dE(p, param), copies), (copies, rhs)]

    return sides


# ---------------------------------------------------------------------------------------------
# the vector RNN (elman), three steps t = 0, 1, 2

TV, H, D, K = 3, 4, 3, 3


def softmax(v):
    e = anp.exp(v - anp.max(v))
    return e / anp.sum(e)


def elman_point(rng: np.random.Generator) -> dict:
    y = np.zeros((TV, K))
    y[np.arange(TV), rng.integers(0, K, TV)] = 1.0
    return {
        "x": rng.normal(0, 0.5, (TV, D)),
        "y": y,
        "s_": rng.normal(0, 0.5, H),  # s_{-1}
        "U": rng.normal(0, 0.5, (H, D)),
        "W": rng.normal(0, 0.5, (H, H)),
        "V": rng.normal(0, 0.5, (K, H)),
    }


def elman_forward(p: dict, W=None) -> dict:
    """s_t, yhat_t and E_t for t = 0..TV-1 (lists), and E; E_t = logsumexp(l_t) - y_t^T l_t,
    the cross-entropy of softmax(l_t) for a one-hot y_t, with l_t = V s_t."""
    W = p["W"] if W is None else W
    s, yhat, E_t = [], [], []
    prev = p["s_"]
    for t in range(TV):
        s_t = anp.tanh(p["U"] @ p["x"][t] + W @ prev)
        l_t = p["V"] @ s_t
        s.append(s_t)
        yhat.append(softmax(l_t))
        E_t.append(anp.log(anp.sum(anp.exp(l_t))) - anp.dot(p["y"][t], l_t))
        prev = s_t
    return {"s": s, "yhat": yhat, "E_t": E_t, "E": sum(E_t)}


def V1_sides(rng):
    """s_t = tanh(U x_t + W s_{t-1}), for t = 0..2."""
    p = elman_point(rng)
    s = elman_forward(p)["s"]
    prev = [p["s_"]] + s[:-1]
    return [(s[t], np.tanh(p["U"] @ p["x"][t] + p["W"] @ prev[t])) for t in range(TV)]


def V2_sides(rng):
    """yhat_t = softmax(V s_t), for t = 0..2."""
    p = elman_point(rng)
    n = elman_forward(p)
    return [(n["yhat"][t], softmax(p["V"] @ n["s"][t])) for t in range(TV)]


def V3_sides(rng):
    """E_t(y_t, yhat_t) = -y_t log yhat_t, read as -y_t^T log yhat_t, for t = 0..2."""
    p = elman_point(rng)
    n = elman_forward(p)
    return [(n["E_t"][t], -np.dot(p["y"][t], np.log(n["yhat"][t]))) for t in range(TV)]


def V5_sides(rng):
    """dE/dW = sum_t dE_t/dW (each E_t through every step up to t)."""
    p = elman_point(rng)
    lhs = grad(lambda W: elman_forward(p, W)["E"])(p["W"])
    per_step = jacobian(lambda W: anp.array(elman_forward(p, W)["E_t"]))(p["W"])
    return [(lhs, per_step.sum(axis=0))]


CASES: dict[str, Case] = {
    # z_0 = a_0 * b_0: the question's product, the model adds (z_0 = a_0 + b_0 + k)
    "shunliz-q-z0-product": Case("doc", 2, z0_product_sides),
    # z_t = u*x_t + w*s_{t-1} + k (S10)
    "shunliz-a-zt": Case("doc", 2, zt_sides),
    # q = s_1*v1+c: an output bias c the model does not have
    "shunliz-a-q": Case(
        "doc",
        2,
        outside="adds an output bias c that the doc model lacks (q = s_1 v, S9): a statement "
        "about another model, c is no name of this one",
    ),
    # dE/du = dE/du_1 + dE/du_0 (B1)
    "shunliz-B1": Case("doc", 2, B1_sides),
    # dE/du_1 = dE/do do/dq dq/ds_1 ds_1/dz_1 dz_1/da_1 da_1/du_1 (B2)
    "shunliz-B2": Case("doc", 2, B2_sides),
    # dE/du_0 = ... dz_1/db_1 db_1/ds_0 ds_0/dz_0 dz_0/da_0 da_0/du_0 (B3)
    "shunliz-B3": Case("doc", 2, B3_sides),
    # B2 + B3 with the common factor pulled out
    "shunliz-gather": Case("doc", 2, gather_sides),
    # dE/du = dE/do do/dq v_1 ds_1/dz_1 ((1 x_1) + (1 w_1 ds_0/dz_0 1 x_0)) (B4)
    "shunliz-B4": Case("doc", 2, B4_sides),
    # dE/du = dE/do do/dq v_1 ds_1/dz_1 (x_1 + w_1 ds_0/dz_0 x_0) (B5)
    "shunliz-B5": Case("doc", 2, B5_sides),
    # dE/dw = dE/do do/dq v_1 ds_1/dz_1 (s_0 + w_1 ds_0/dz_0 s_{-1}) (B6)
    "shunliz-B6": Case("doc", 2, B6_sides),
    # dL/du = sum_t dL/du_t = dL/do do/ds_1 ds_1/du_1 + dL/do do/ds_1 ds_1/ds_0 ds_0/du_0 (B7)
    "shunliz-B7": Case("doc", 2, state_sides("u")),
    # dL/dw = sum_t dL/dw_t = ... ds_1/dw_1 + ... ds_1/ds_0 ds_0/dw_0 (B8)
    "shunliz-B8": Case("doc", 2, state_sides("w")),
    # s_t = tanh(U x_t + W s_{t-1}) (V1)
    "shunliz-V1": Case("elman", TV, V1_sides),
    # yhat_t = softmax(V s_t) (V2)
    "shunliz-V2": Case("elman", TV, V2_sides),
    # E_t(y_t, yhat_t) = -y_t log yhat_t (V3)
    "shunliz-V3": Case("elman", TV, V3_sides),
    # dE/dW = sum_t dE_t/dW (V5)
    "shunliz-V5": Case("elman", TV, V5_sides),
}
