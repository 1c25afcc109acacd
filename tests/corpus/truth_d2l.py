"""Numeric truths of the Dive into Deep Learning BPTT formulas (d2l-en-bptt, d2l-en-bptt-2020,
d2l-en-bptt-2019, d2l-zh-bptt-2017, d2l-zh-bptt-2021), written by hand in NumPy and
differentiated by HIPS autograd; nothing of bptt_sym is used.

d2l counts the steps t = 1..T with h_0 given (``first = 1``); the code below keeps the book's
indices: lists indexed 0..T, where index 0 of x and y is unused and h[0] is the given h_0.

Part 1 of every edition is the abstract scalar model h_t = f(x_t, h_{t-1}, w_h),
o_t = g(h_t, w_o), with a loss l(y_t, o_t) per step; f, g and l get the smooth stand-ins f, g
and ell below (every formula recorded true holds for any choice).  Part 2 is the linear vector model
h_t = W_hx x_t + W_hh h_{t-1}, o_t = W_q h_t (W_q is W_qh, W_oh or W_yh by edition), or, in
d2l-zh 2017, h_t = phi(W_hx x_t + W_hh h_{t-1}) with phi = tanh; its loss l(o_t, y_t) is
softmax with cross-entropy, as in the model files.  Gradients are in the book's denominator
layout (column vectors; W^T multiplies a gradient from the left).
"""

from __future__ import annotations

from dataclasses import replace

import autograd.numpy as anp
import numpy as np
from autograd import grad, jacobian

from tests.corpus.cases import Case

T = 4  # the number of steps of every case: t = 1..T
H, D, Q = 3, 2, 3  # hidden, input and output sizes of the vector models

GENERAL = "tests/corpus/models/d2l-general.toml"  # L = 1/T sum_t l(y_t, o_t)
GENERAL_SUM = "tests/corpus/models/d2l-general-sum.toml"  # L = sum_t l(y_t, o_t)
SHARED_W = "tests/corpus/models/d2l-shared-w.toml"  # one w in f and g, L = sum_t l
LINEAR = "tests/corpus/models/d2l-linear.toml"  # W_qh, L = 1/T sum_t l(o_t, y_t)
LINEAR_SUM = "tests/corpus/models/d2l-linear-sum.toml"  # W_oh, L = sum_t l(o_t, y_t)
ZH_PHI = "tests/corpus/models/d2l-zh-phi.toml"  # phi(W_hx x_t + W_hh h_{t-1}), W_yh, mean


# ---------------------------------------------------------------------------------------------
# Part 1: the abstract scalar model, with stand-ins for f, g and l


def f(x, h, w):
    return anp.tanh(w * h + 0.7 * x + 0.3 * w)


def g(h, w):
    return anp.sin(w * h) + 0.5 * h


def ell(y, o):
    return 0.5 * (o - y) ** 2 + 0.3 * anp.sin(o)


def partial(fun, arg, *args):
    """The partial derivative of fun with respect to its argument number ``arg`` (0-based)."""
    return grad(fun, arg)(*args)


def scalar_point(rng: np.random.Generator) -> dict:
    return {
        "x": rng.normal(0, 0.5, T + 1),
        "y": rng.normal(0, 0.5, T + 1),
        "h0": rng.normal(0, 0.5),
        "w_h": rng.normal(0, 0.5),
        "w_o": rng.normal(0, 0.5),
    }


def hidden(p: dict, w_h) -> list:
    """h[0..T]: h[0] = h_0 given, h[t] = f(x_t, h[t-1], w_h)."""
    h = [p["h0"]]
    for t in range(1, T + 1):
        h.append(f(p["x"][t], h[t - 1], w_h))
    return h


def step_loss(p: dict, t: int, w_h, w_o):
    """l(y_t, o_t) as a function of the parameters (through h_1 .. h_t)."""
    return ell(p["y"][t], g(hidden(p, w_h)[t], w_o))


def loss(p: dict, w_h, w_o, mean: bool):
    total = sum(step_loss(p, t, w_h, w_o) for t in range(1, T + 1))
    return total / T if mean else total


def dh_dw(p: dict, t: int):
    """The total derivative dh_t/dw_h (h_0 does not depend on w_h)."""
    return grad(lambda w: hidden(p, w)[t])(p["w_h"])


def model_sides(rng):
    """h_t = f(x_t, h_{t-1}, w_h) and o_t = g(h_t, w_o): the forward pass restated."""
    p = scalar_point(rng)
    h = hidden(p, p["w_h"])
    o = [None] + [g(h[t], p["w_o"]) for t in range(1, T + 1)]
    out = []
    for t in range(1, T + 1):
        out.append((h[t], f(p["x"][t], h[t - 1], p["w_h"])))
        out.append((o[t], g(h[t], p["w_o"])))
    return out


def loss_sides(mean: bool):
    """L = 1/T sum_t l(y_t, o_t) (mean) or sum_t l(y_t, o_t): the objective restated."""

    def sides(rng):
        p = scalar_point(rng)
        h = hidden(p, p["w_h"])
        terms = [ell(p["y"][t], g(h[t], p["w_o"])) for t in range(1, T + 1)]
        rhs = sum(terms) / T if mean else sum(terms)
        return [(loss(p, p["w_h"], p["w_o"], mean), rhs)]

    return sides


def dL_dwh_sides(mean: bool, g_weight: str):
    """dL/dw_h = c sum_t dl(y_t, o_t)/dw_h = c sum_t dl/do_t dg(h_t, w)/dh_t dh_t/dw_h, with
    c = 1/T (mean) or 1 (sum) and the output map's second argument w = w_o (right) or w_h (the
    typo of d2l 2020 and d2l-zh 2021)."""

    def sides(rng):
        p = scalar_point(rng)
        w_h, w_o = p["w_h"], p["w_o"]
        c = 1 / T if mean else 1.0
        h = hidden(p, w_h)
        lhs = grad(lambda w: loss(p, w, w_o, mean))(w_h)
        # the middle: the total derivative of each step's loss
        middle = c * sum(grad(lambda w, t=t: step_loss(p, t, w, w_o))(w_h) for t in range(1, T + 1))
        w_in_g = w_o if g_weight == "w_o" else w_h
        rhs = 0.0
        for t in range(1, T + 1):
            o_t = g(h[t], w_o)
            dl_do = partial(ell, 1, p["y"][t], o_t)
            dg_dh = partial(g, 0, h[t], w_in_g)  # dg(h_t, w)/dh_t, read at the printed w
            rhs = rhs + dl_do * dg_dh * dh_dw(p, t)
        return [(lhs, middle), (middle, c * rhs)]

    return sides


def recur_sides(rng):
    """dh_t/dw_h = df(x_t, h_{t-1}, w_h)/dw_h + df(x_t, h_{t-1}, w_h)/dh_{t-1} dh_{t-1}/dw_h,
    for t = 1..T (dh_0/dw_h = 0)."""
    p = scalar_point(rng)
    x, w = p["x"], p["w_h"]
    h = hidden(p, w)
    out = []
    for t in range(1, T + 1):
        prev = dh_dw(p, t - 1) if t > 1 else 0.0
        rhs = partial(f, 2, x[t], h[t - 1], w) + partial(f, 1, x[t], h[t - 1], w) * prev
        out.append((dh_dw(p, t), rhs))
    return out


def closed_sides(rng):
    """dh_t/dw_h = b_t + sum_{i=1}^{t-1} (prod_{j=i+1}^t c_j) b_i with
    b_i = df(x_i, h_{i-1}, w_h)/dw_h, c_j = df(x_j, h_{j-1}, w_h)/dh_{j-1}, for t = 1..T."""
    p = scalar_point(rng)
    x, w = p["x"], p["w_h"]
    h = hidden(p, w)
    b = [None] + [partial(f, 2, x[i], h[i - 1], w) for i in range(1, T + 1)]
    c = [None] + [partial(f, 1, x[j], h[j - 1], w) for j in range(1, T + 1)]
    out = []
    for t in range(1, T + 1):
        rhs = b[t] + sum(np.prod([c[j] for j in range(i + 1, t + 1)]) * b[i] for i in range(1, t))
        out.append((dh_dw(p, t), rhs))
    return out


# d2l 2019: one parameter w in both f and g, L = sum_t l(y_t, o_t)


def shared_loss(p: dict, w):
    h = hidden(p, w)
    return sum(ell(p["y"][t], g(h[t], w)) for t in range(1, T + 1))


def shared_model_sides(rng):
    """h_t = f(x_t, h_{t-1}, w) and o_t = g(h_t, w): the forward pass restated."""
    p = scalar_point(rng)
    w = p["w_h"]
    h = hidden(p, w)
    o = [None] + [g(h[t], w) for t in range(1, T + 1)]
    out = []
    for t in range(1, T + 1):
        out.append((h[t], f(p["x"][t], h[t - 1], w)))
        out.append((o[t], g(h[t], w)))
    return out


def shared_dL_dw_sides(rng):
    """d_w L = sum_t d_w l(y_t, o_t) = sum_t d_{o_t} l [d_w g(h_t, w) + d_{h_t} g(h_t, w) d_w h_t]:
    d_w g is the partial in g's second argument, d_w h_t the total derivative."""
    p = scalar_point(rng)
    w, y = p["w_h"], p["y"]
    h = hidden(p, w)
    lhs = grad(lambda v: shared_loss(p, v))(w)
    middle = sum(grad(lambda v, t=t: ell(y[t], g(hidden(p, v)[t], v)))(w) for t in range(1, T + 1))
    rhs = 0.0
    for t in range(1, T + 1):
        dl_do = partial(ell, 1, y[t], g(h[t], w))
        rhs = rhs + dl_do * (partial(g, 1, h[t], w) + partial(g, 0, h[t], w) * dh_dw(p, t))
    return [(lhs, middle), (middle, rhs)]


def shared_recur_closed_sides(rng):
    """Row 1: d_w h_t = d_w f(x_t, h_{t-1}, w) + d_h f(x_t, h_{t-1}, w) d_w h_{t-1}.
    Row 2: = sum_{i=t}^{1} [prod_{j=t}^{i} d_h f(x_j, h_{j-1}, w)] d_w f(x_i, h_{i-1}, w), the
    descending limits read as i = 1..t and j = i..t: the product keeps the extra factor j = i."""
    p = scalar_point(rng)
    x, w = p["x"], p["w_h"]
    h = hidden(p, w)
    b = [None] + [partial(f, 2, x[i], h[i - 1], w) for i in range(1, T + 1)]
    c = [None] + [partial(f, 1, x[j], h[j - 1], w) for j in range(1, T + 1)]
    out = []
    for t in range(1, T + 1):
        row1 = b[t] + c[t] * (dh_dw(p, t - 1) if t > 1 else 0.0)
        row2 = sum(np.prod([c[j] for j in range(i, t + 1)]) * b[i] for i in range(1, t + 1))
        out.append((dh_dw(p, t), row1))
        out.append((row1, row2))
    return out


# ---------------------------------------------------------------------------------------------
# Part 2: the vector model h_t = phi(W_hx x_t + W_hh h_{t-1}), o_t = W_q h_t,
# l(o_t, y_t) = -y_t^T log softmax(o_t); phi = identity (d2l-en) or tanh (d2l-zh 2017)


def identity(a):
    return a


def vl(o, y):
    """Cross-entropy of softmax(o) against the one-hot y."""
    return -anp.dot(y, o) + anp.log(anp.sum(anp.exp(o)))


def vector_point(rng: np.random.Generator, phi, mean: bool) -> dict:
    y = np.zeros((T + 1, Q))
    y[np.arange(T + 1), rng.integers(0, Q, T + 1)] = 1.0
    return {
        "x": rng.normal(0, 0.5, (T + 1, D)),
        "y": y,
        "h0": rng.normal(0, 0.5, H),
        "W_hx": rng.normal(0, 0.5, (H, D)),
        "W_hh": rng.normal(0, 0.5, (H, H)),
        "W_q": rng.normal(0, 0.5, (Q, H)),
        "phi": phi,
        "mean": mean,
    }


def vforward(p: dict, W_hx=None, W_hh=None, W_q=None, dh=None, do=None):
    """(L, h, o) with h[0..T], o[1..T]; dh and do are added to the nodes h_t and o_t (zero by
    default), so that the gradient in them is the total derivative dL/dh_t or dL/do_t."""
    W_hx = p["W_hx"] if W_hx is None else W_hx
    W_hh = p["W_hh"] if W_hh is None else W_hh
    W_q = p["W_q"] if W_q is None else W_q
    h, o = [p["h0"]], [None]
    total = 0.0
    for t in range(1, T + 1):
        h_t = p["phi"](W_hx @ p["x"][t] + W_hh @ h[t - 1])
        h.append(h_t if dh is None else h_t + dh[t])
        o_t = W_q @ h[t]
        o.append(o_t if do is None else o_t + do[t])
        total = total + vl(o[t], p["y"][t])
    return (total / T if p["mean"] else total), h, o


def vloss(p: dict, **kw):
    return vforward(p, **kw)[0]


def dL_dh(p: dict) -> np.ndarray:
    """dL/dh_t (total) for t = 0..T, row t."""
    return grad(lambda e: vloss(p, dh=e))(np.zeros((T + 1, H)))


def dL_do(p: dict) -> np.ndarray:
    """dL/do_t (total) for t = 0..T, row t (row 0 unused)."""
    return grad(lambda e: vloss(p, do=e))(np.zeros((T + 1, Q)))


def prod(a: np.ndarray, J: np.ndarray) -> np.ndarray:
    """d2l's prod(dL/dy, dy/dX): the gradient a of y contracted with the Jacobian J of y
    (axes: y's, then X's), in the denominator layout: J^T a for vectors."""
    return np.tensordot(a, J, axes=a.ndim)


def state_jacobian(p: dict, t: int) -> np.ndarray:
    """dh_{t+1}/dh_t (numerator layout, one step)."""
    h_t = vforward(p)[1][t]
    return jacobian(lambda h: p["phi"](p["W_hx"] @ p["x"][t + 1] + p["W_hh"] @ h))(h_t)


def run_from(p: dict, h_t, t: int):
    """h_T as a function of h_t."""
    h = h_t
    for s in range(t + 1, T + 1):
        h = p["phi"](p["W_hx"] @ p["x"][s] + p["W_hh"] @ h)
    return h


def linear_model_sides(phi, with_output: bool):
    """h_t = phi(W_hx x_t + W_hh h_{t-1}) (phi = identity: the linear model) and, when
    with_output, o_t = W_q h_t: the forward pass restated."""

    def sides(rng):
        p = vector_point(rng, phi, True)
        _, h, o = vforward(p)
        out = []
        for t in range(1, T + 1):
            out.append((h[t], phi(p["W_hx"] @ p["x"][t] + p["W_hh"] @ h[t - 1])))
            if with_output:
                out.append((o[t], p["W_q"] @ h[t]))
        return out

    return sides


def linear_L_sides(rng):
    """L = 1/T sum_t l(o_t, y_t): the objective restated."""
    p = vector_point(rng, identity, True)
    L, _, o = vforward(p)
    return [(L, sum(vl(o[t], p["y"][t]) for t in range(1, T + 1)) / T)]


def dL_dot_sides(rng):
    """dL/do_t = dl(o_t, y_t)/(T do_t): the 1/T of the mean, for t = 1..T."""
    p = vector_point(rng, identity, True)
    _, _, o = vforward(p)
    g_o = dL_do(p)
    return [(g_o[t], grad(vl)(o[t], p["y"][t]) / T) for t in range(1, T + 1)]


def dL_dWq_sides(phi, mean: bool, middle_prod: bool):
    """dL/dW_q = sum_t prod(dL/do_t, do_t/dW_q) = sum_t dL/do_t h_t^T (middle_prod), or
    (d2l 2020) d_{W_oh} L = sum_t prod(d_{o_t} l(o_t, y_t), h_t): the outer product with h_t."""

    def sides(rng):
        p = vector_point(rng, phi, mean)
        _, h, _ = vforward(p)
        lhs = grad(lambda W: vloss(p, W_q=W))(p["W_q"])
        g_o = dL_do(p)
        outer = sum(np.outer(g_o[t], h[t]) for t in range(1, T + 1))
        if not middle_prod:
            # d_{o_t} l(o_t, y_t) = dL/do_t here, since this L is the plain sum
            return [(lhs, outer)]
        # do_t/dW_q: the Jacobian of o_t = W_q h_t in W_q at fixed h_t (Q x Q x H)
        middle = sum(
            prod(g_o[t], jacobian(lambda W, t=t: W @ h[t])(p["W_q"])) for t in range(1, T + 1)
        )
        return [(lhs, middle), (middle, outer)]

    return sides


def dL_dhT_sides(phi):
    """dL/dh_T = prod(dL/do_T, do_T/dh_T) = W_q^T dL/do_T."""

    def sides(rng):
        p = vector_point(rng, phi, True)
        _, h, _ = vforward(p)
        g_o = dL_do(p)
        middle = prod(g_o[T], jacobian(lambda v: p["W_q"] @ v)(h[T]))
        return [(dL_dh(p)[T], middle), (middle, p["W_q"].T @ g_o[T])]

    return sides


def dL_dht_recur_sides(phi):
    """dL/dh_t = prod(dL/dh_{t+1}, dh_{t+1}/dh_t) + prod(dL/do_t, do_t/dh_t)
    = W_hh^T dL/dh_{t+1} + W_q^T dL/do_t, for t = 1..T-1 (the Jacobians in prod are the true
    one-step ones; the last form omits phi', right only for phi = identity)."""

    def sides(rng):
        p = vector_point(rng, phi, True)
        _, h, _ = vforward(p)
        g_h, g_o = dL_dh(p), dL_do(p)
        out = []
        for t in range(1, T):
            middle = prod(g_h[t + 1], state_jacobian(p, t)) + prod(
                g_o[t], jacobian(lambda v: p["W_q"] @ v)(h[t])
            )
            rhs = p["W_hh"].T @ g_h[t + 1] + p["W_q"].T @ g_o[t]
            out.append((g_h[t], middle))
            out.append((middle, rhs))
        return out

    return sides


def dL_dht_closed_sides(phi):
    """dL/dh_t = sum_{i=t}^T (W_hh^T)^{T-i} W_q^T dL/do_{T+t-i}, for t = 1..T."""

    def sides(rng):
        p = vector_point(rng, phi, True)
        g_h, g_o = dL_dh(p), dL_do(p)
        out = []
        for t in range(1, T + 1):
            rhs = sum(
                np.linalg.matrix_power(p["W_hh"].T, T - i) @ p["W_q"].T @ g_o[T + t - i]
                for i in range(t, T + 1)
            )
            out.append((g_h[t], rhs))
        return out

    return sides


def dL_dWhx_dWhh_sides(phi, rows: tuple[str, ...]):
    """dL/dW = sum_t prod(dL/dh_t, dh_t/dW) = sum_t dL/dh_t v^T, v = x_t for W_hx and h_{t-1} for
    W_hh; inside prod dh_t/dW is the immediate one-step Jacobian (h_{t-1} held fixed), dL/dh_t
    the total gradient.  With phi = tanh the last form lacks phi'."""

    def sides(rng):
        p = vector_point(rng, phi, True)
        _, h, _ = vforward(p)
        g_h = dL_dh(p)
        x = p["x"]
        out = []
        for name in rows:
            lhs = grad(lambda W, name=name: vloss(p, **{name: W}))(p[name])
            middle, rhs = 0.0, 0.0
            for t in range(1, T + 1):
                if name == "W_hx":
                    J = jacobian(lambda W, t=t: phi(W @ x[t] + p["W_hh"] @ h[t - 1]))(p["W_hx"])
                    v = x[t]
                else:
                    J = jacobian(lambda W, t=t: phi(p["W_hx"] @ x[t] + W @ h[t - 1]))(p["W_hh"])
                    v = h[t - 1]
                middle = middle + prod(g_h[t], J)
                rhs = rhs + np.outer(g_h[t], v)
            out += [(lhs, middle), (middle, rhs)]
        return out

    return sides


def total_dh_dW(p: dict, t: int, name: str) -> np.ndarray:
    """dh_t/dW (total, H x H x D or H x H x H), through every step up to t."""
    return jacobian(lambda W: vforward(p, **{name: W})[1][t])(p[name])


def sum_dWhh_dWhx_sides(rng):
    """(d2l 2020) d_W L = sum_t prod(d_{o_t} l(o_t, y_t), W_oh, d_W h_t) for W = W_hh, W_hx:
    the chain through o_t = W_oh h_t with the total derivative d_W h_t (a 3-tensor)
    contracted; L is the plain sum, so d_{o_t} l = dL/do_t."""
    p = vector_point(rng, identity, False)
    g_o = dL_do(p)
    out = []
    for name in ("W_hh", "W_hx"):
        lhs = grad(lambda W, name=name: vloss(p, **{name: W}))(p[name])
        rhs = sum(prod(prod(g_o[t], p["W_q"]), total_dh_dW(p, t, name)) for t in range(1, T + 1))
        out.append((lhs, rhs))
    return out


def jacobian_power_sides(rng):
    """d_{h_t} h_{t+1} = W_hh^T and thus d_{h_t} h_T = (W_hh^T)^{T-t}, in the denominator layout
    (the transpose of the Jacobian), for t = 1..T-1."""
    p = vector_point(rng, identity, False)
    _, h, _ = vforward(p)
    out = []
    for t in range(1, T):
        out.append((state_jacobian(p, t).T, p["W_hh"].T))
        J = jacobian(lambda v, t=t: run_from(p, v, t))(h[t])
        out.append((J.T, np.linalg.matrix_power(p["W_hh"].T, T - t)))
    return out


# ---------------------------------------------------------------------------------------------

ILL_TYPED = (
    "claims d h_t / d W (a 3-tensor: a vector by a matrix) equals a vector "
    "sum_j (W_hh^T)^{t-j} h_j: ill-typed, not an equality of the model"
)

CASES: dict[str, Case] = {
    # ---- d2l-en-bptt (2023), part 1: the general model, L = 1/T sum_t l(y_t, o_t)
    # h_t = f(x_t, h_{t-1}, w_h), o_t = g(h_t, w_o)
    "d2l-en-ht-ot": Case(GENERAL, T, model_sides, first=1),
    # L(x_1, ..., w_h, w_o) = 1/T sum_t l(y_t, o_t)
    "d2l-en-L": Case(GENERAL, T, loss_sides(mean=True), first=1),
    # dL/dw_h = 1/T sum_t dl/dw_h = 1/T sum_t dl/do_t dg(h_t, w_o)/dh_t dh_t/dw_h
    "d2l-en-dL-dwh": Case(GENERAL, T, dL_dwh_sides(mean=True, g_weight="w_o"), first=1),
    # dh_t/dw_h = df/dw_h + df/dh_{t-1} dh_{t-1}/dw_h
    "d2l-en-recur": Case(GENERAL, T, recur_sides, first=1),
    # a_t = b_t + sum_{i=1}^{t-1} (prod_{j=i+1}^t c_j) b_i
    "d2l-en-at": Case(
        GENERAL,
        T,
        outside="the closed form of a generic recursion a_t = b_t + c_t a_{t-1} in new symbols "
        "a, b, c, not an equation of the model",
        first=1,
    ),
    # a_t = dh_t/dw_h, b_t = df/dw_h, c_t = df/dh_{t-1}
    "d2l-en-abc": Case(
        GENERAL,
        T,
        outside="defines the new symbols a_t, b_t, c_t (a substitution), nothing to check "
        "against the model",
        first=1,
    ),
    # dh_t/dw_h = df(x_t, h_{t-1}, w_h)/dw_h
    #            + sum_{i=1}^{t-1} (prod_{j=i+1}^t df_j/dh_{j-1}) df_i/dw_h
    "d2l-en-closed": Case(GENERAL, T, closed_sides, first=1),
    # ---- d2l-en-bptt (2023), part 2: the linear model, L = 1/T sum_t l(o_t, y_t)
    # h_t = W_hx x_t + W_hh h_{t-1}, o_t = W_qh h_t
    "d2l-en-linear-model": Case(LINEAR, T, linear_model_sides(identity, True), first=1),
    # L = 1/T sum_t l(o_t, y_t)
    "d2l-en-linear-L": Case(LINEAR, T, linear_L_sides, first=1),
    # dL/do_t = dl(o_t, y_t)/(T . do_t)  (the "in R^q" is no equality)
    "d2l-en-dL-dot": Case(LINEAR, T, dL_dot_sides, first=1),
    # dL/dW_qh = sum_t prod(dL/do_t, do_t/dW_qh) = sum_t dL/do_t h_t^T
    "d2l-en-dL-dWqh": Case(LINEAR, T, dL_dWq_sides(identity, True, True), first=1),
    # dL/dh_T = prod(dL/do_T, do_T/dh_T) = W_qh^T dL/do_T
    "d2l-en-dL-dhT": Case(LINEAR, T, dL_dhT_sides(identity), first=1),
    # dL/dh_t = prod(dL/dh_{t+1}, dh_{t+1}/dh_t) + prod(dL/do_t, do_t/dh_t)
    #         = W_hh^T dL/dh_{t+1} + W_qh^T dL/do_t
    "d2l-en-dL-dht-recur": Case(LINEAR, T, dL_dht_recur_sides(identity), first=1),
    # dL/dh_t = sum_{i=t}^T (W_hh^T)^{T-i} W_qh^T dL/do_{T+t-i}
    "d2l-en-dL-dht-closed": Case(LINEAR, T, dL_dht_closed_sides(identity), first=1),
    # dL/dW_hx = sum_t prod(dL/dh_t, dh_t/dW_hx) = sum_t dL/dh_t x_t^T, and the same for W_hh
    # with h_{t-1}^T
    "d2l-en-dL-dWhx-dWhh": Case(LINEAR, T, dL_dWhx_dWhh_sides(identity, ("W_hx", "W_hh")), first=1),
    # ---- d2l-en-bptt-2020: L = sum_t l(y_t, o_t), output weight W_oh
    # h_t = f(x_t, h_{t-1}, w_h) and o_t = g(h_t, w_o)
    "d2l2020-model": Case(GENERAL_SUM, T, model_sides, first=1),
    # L(x, y, w_h, w_o) = sum_t l(y_t, o_t)
    "d2l2020-L": Case(GENERAL_SUM, T, loss_sides(mean=False), first=1),
    # d_{w_h} L = sum_t d_{w_h} l = sum_t d_{o_t} l d_{h_t} g(h_t, w_h) [d_{w_h} h_t]:
    # the printed g(h_t, w_h) (w_h for w_o) makes the second equality fail
    "d2l2020-dL-dwh": Case(GENERAL_SUM, T, dL_dwh_sides(mean=False, g_weight="w_h"), first=1),
    # d_{w_h} h_t = d_{w_h} f(x_t, h_{t-1}, w) + d_h f(x_t, h_{t-1}, w_h) d_{w_h} h_{t-1}
    "d2l2020-recur": Case(
        GENERAL_SUM,
        T,
        outside="its first term is f(x_t, h_{t-1}, w) with a w that is no name of the model "
        "(w_h meant): an undefined symbol",
        first=1,
    ),
    # d_{w_h} h_t = d_{w_h} f + sum_{i=1}^{t-1} (prod_{j=i+1}^t d_{h_{j-1}} f_j) d_{w_h} f_i
    "d2l2020-closed": Case(GENERAL_SUM, T, closed_sides, first=1),
    # h_t = W_hx x_t + W_hh h_{t-1} and o_t = W_oh h_t
    "d2l2020-linear-model": Case(LINEAR_SUM, T, linear_model_sides(identity, True), first=1),
    # d_{W_oh} L = sum_t prod(d_{o_t} l(o_t, y_t), h_t)
    "d2l2020-dL-dWoh": Case(LINEAR_SUM, T, dL_dWq_sides(identity, False, False), first=1),
    # d_{W_hh} L = sum_t prod(d_{o_t} l, W_oh, d_{W_hh} h_t), and the same for W_hx
    "d2l2020-dL-dWhh-dWhx": Case(LINEAR_SUM, T, sum_dWhh_dWhx_sides, first=1),
    # d_{h_t} h_{t+1} = W_hh^T and thus d_{h_t} h_T = (W_hh^T)^{T-t}
    "d2l2020-jacobian": Case(LINEAR_SUM, T, jacobian_power_sides, first=1),
    # d_{W_hh} h_t = sum_{j=1}^t (W_hh^T)^{t-j} h_j, d_{W_hx} h_t = sum_j (W_hh^T)^{t-j} x_j
    "d2l2020-dh-dW": Case(LINEAR_SUM, T, outside=ILL_TYPED, first=1),
    # ---- d2l-en-bptt-2019: one shared w; the linear part as in 2020
    # h_t = f(x_t, h_{t-1}, w) and o_t = g(h_t, w)
    "d2l2019-model": Case(SHARED_W, T, shared_model_sides, first=1),
    # d_w L = sum_t d_w l = sum_t d_{o_t} l [d_w g(h_t, w) + d_{h_t} g(h_t, w) d_w h_t]
    "d2l2019-dL-dw": Case(SHARED_W, T, shared_dL_dw_sides, first=1),
    # d_w h_t = d_w f + d_h f d_w h_{t-1}
    #         = sum_{i=t}^1 [prod_{j=t}^i d_h f(x_j, h_{j-1}, w)] d_w f(x_i, h_{i-1}, w)
    "d2l2019-recur-closed": Case(SHARED_W, T, shared_recur_closed_sides, first=1),
    # h_t = W_hx x_t + W_hh h_{t-1} and o_t = W_oh h_t
    "d2l2019-linear-model": Case(LINEAR_SUM, T, linear_model_sides(identity, True), first=1),
    # d_{h_t} h_{t+1} = W_hh^T and thus d_{h_t} h_T = (W_hh^T)^{T-t}
    "d2l2019-jacobian": Case(LINEAR_SUM, T, jacobian_power_sides, first=1),
    # d_{W_hh} h_t = sum_{j=1}^t (W_hh^T)^{t-j} h_j, d_{W_hx} h_t = sum_j (W_hh^T)^{t-j} x_j
    "d2l2019-dh-dW": Case(LINEAR_SUM, T, outside=ILL_TYPED, first=1),
    # ---- d2l-zh-bptt-2017: h_t = phi(W_hx x_t + W_hh h_{t-1}), o_t = W_yh h_t, phi = tanh
    # h_t = phi(W_hx x_t + W_hh h_{t-1})
    "d2lzh2017-model": Case(
        ZH_PHI, T, linear_model_sides(anp.tanh, False), first=1, options={"activation": "tanh"}
    ),
    # dL/dW_yh = sum_t prod(dL/do_t, do_t/dW_yh) = sum_t dL/do_t h_t^T
    "d2lzh2017-dL-dWyh": Case(
        ZH_PHI, T, dL_dWq_sides(anp.tanh, True, True), first=1, options={"activation": "tanh"}
    ),
    # dL/dh_T = prod(dL/do_T, do_T/dh_T) = W_yh^T dL/do_T
    "d2lzh2017-dL-dhT": Case(
        ZH_PHI, T, dL_dhT_sides(anp.tanh), first=1, options={"activation": "tanh"}
    ),
    # dL/dh_t = prod(...) + prod(...) = W_hh^T dL/dh_{t+1} + W_yh^T dL/do_t: no phi'
    "d2lzh2017-dL-dht": Case(
        ZH_PHI, T, dL_dht_recur_sides(anp.tanh), first=1, options={"activation": "tanh"}
    ),
    # dL/dh_t = sum_{i=t}^T (W_hh^T)^{T-i} W_yh^T dL/do_{T+t-i}: no phi'
    "d2lzh2017-dL-dht-closed": Case(
        ZH_PHI, T, dL_dht_closed_sides(anp.tanh), first=1, options={"activation": "tanh"}
    ),
    # dL/dW_hh = sum_t prod(dL/dh_t, dh_t/dW_hh) = sum_t dL/dh_t h_{t-1}^T: no phi'
    # (dL/dh_t read as the true total gradient, not the text's own wrong recursion)
    "d2lzh2017-dL-dWhh": Case(
        ZH_PHI, T, dL_dWhx_dWhh_sides(anp.tanh, ("W_hh",)), first=1, options={"activation": "tanh"}
    ),
    # ---- d2l-zh-bptt-2021: the general model with the mean
    # dL/dw_h = 1/T sum_t dl/dw_h = 1/T sum_t dl/do_t dg(h_t, w_h)/dh_t dh_t/dw_h (w_h for w_o)
    "d2lzh2021-dL-dwh": Case(GENERAL, T, dL_dwh_sides(mean=True, g_weight="w_h"), first=1),
    # dh_t/dw_h = df/dw_h + df/dh_{t-1} dh_{t-1}/dw_h
    "d2lzh2021-recur": Case(GENERAL, T, recur_sides, first=1),
}

# Part 2's Jacobians are in the book's denominator layout (d_{h_t} h_{t+1} = W_hh^T): the
# checker reads them so with layout="denominator" (`check --layout denominator`).  The 2023
# edition and d2l-zh 2017 write dh_t/dW_hx for the partial through step t's copy alone
# (dh_t/dW_hx = x_t^T): partials="local".  The 2019/2020 texts mean the total d_{W_hh} h_t.
for _key, _case in CASES.items():
    if _case.model in (LINEAR, LINEAR_SUM, ZH_PHI):
        local = {"partials": "local"} if _case.model != LINEAR_SUM else {}
        CASES[_key] = replace(_case, options={**_case.options, "layout": "denominator", **local})
