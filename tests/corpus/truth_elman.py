"""Numeric truths for the formulas about the Elman cell and its relatives: WildML (post and
notebook), Goodfellow et al. ch. 10, the CS224n notes, Cross Validated 193352, hanbingtao,
interactiveprimer and Pascanu et al. 2013.

Every case runs a forward pass written here by hand (autograd.numpy) at a random point and
differentiates it with HIPS autograd; nothing of bptt_sym is used.  Two forward passes:

- ``Elman``: z_t = U x_t + W s_{t-1} (+ b), s_t = f(z_t), l_t = V s_t (+ c),
  yhat_t = softmax(l_t), E_t = -y_t . log yhat_t, E = sum_t E_t; with ``last=True`` one output
  after the last step only (l = V s_last (+ c), E = -y . log yhat), as hanbingtao and
  interactiveprimer have it.  The sources' own names map onto these (Goodfellow: h = s, a = z,
  o = l, L = E; CS224n: W^(hh) = W, W^(hx) = U, W^(S) = V; hanbingtao: net = z; ...), and each
  section below says how.
- ``Pascanu``: the pre-activation state x_t = W_rec sigma(x_{t-1}) + W_in u_t + b with the
  cost E_t = -y_t . log softmax(x_t) (the paper's L(x_t), left open there).

Steps are numbered as the source numbers them: ``first`` is the source's first step, and the
initial state is step ``first - 1``.  Derivatives are taken through *taps*: a value added, at
zero, to one node at one step (downstream effects only: d out / d node) or to the copy of a
parameter used at one step (the "immediate" derivative, Pascanu's d^+, Goodfellow's W^(t)).
A Jacobian is in numerator layout, J[i, j] = d out_i / d in_j; a gradient has the shape of
what it is taken with respect to.
"""

from __future__ import annotations

from functools import reduce

import autograd.numpy as anp
import numpy as np
from autograd import jacobian

from tests.corpus.cases import Case

H, D, K = 4, 3, 5  # hidden, input and class sizes (all different, so shapes cannot mix up)
STD = 0.5


def softmax(v):
    e = anp.exp(v)
    return e / anp.sum(e)


ACTIVATIONS = {
    "tanh": (anp.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (lambda z: 1 / (1 + anp.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def one_hot(rng, n):
    y = np.zeros(n)
    y[rng.integers(n)] = 1.0
    return y


def chain(*mats):
    """The matrix product of the factors, left to right."""
    return reduce(np.matmul, mats)


def contract(row, tensor):
    """A row vector times a Jacobian whose leading axis is the row's (d out / d matrix)."""
    return np.tensordot(row, tensor, axes=1)


class Model:
    """What both forward passes share: the random point, taps and derivatives."""

    first: int
    T: int
    p: dict

    @property
    def steps(self) -> range:
        return range(self.first, self.first + self.T)

    @property
    def last(self) -> int:
        return self.first + self.T - 1

    def par(self, taps, name, n):
        """The copy of parameter ``name`` used at step n."""
        v = self.p[name]
        for key in ((name, n), (name, None)):  # (name, None): every copy, the shared parameter
            if key in taps:
                v = v + taps[key]
        return v

    @staticmethod
    def at(taps, name, n, v):
        return v + taps[(name, n)] if (name, n) in taps else v

    def d(self, out, name, n=None):
        """d out(r) / d (node or parameter copy ``name`` at step n); n=None: the shared parameter.
        ``out`` maps the forward pass's result r to a scalar or a vector."""
        like = self.p[name] if name in self.p else self.r[name][n]
        return jacobian(lambda v: out(self.run({(name, n): v})))(np.zeros_like(like))


class Elman(Model):
    """z_t = U x_t + W s_{t-1} (+ b), s_t = f(z_t), l_t = V s_t (+ c), yhat_t = softmax(l_t),
    E_t = -y_t . log yhat_t, E = sum_t E_t; last=True: the output at the last step only."""

    def __init__(self, rng, T, first=0, f="tanh", biases="", last=False):
        """``biases``: which of the hidden bias b and the output bias c the model has."""
        self.T, self.first, self.last_only = T, first, last
        self.f, self.df = ACTIVATIONS[f]
        n = lambda *shape: rng.normal(0.0, STD, shape)  # noqa: E731
        self.p = {"U": n(H, D), "W": n(H, H), "V": n(K, H)}
        if "b" in biases:
            self.p["b"] = n(H)
        if "c" in biases:
            self.p["c"] = n(K)
        self.x = {t: n(D) for t in self.steps}
        if last:
            self.y = one_hot(rng, K)
        else:
            self.y = {t: one_hot(rng, K) for t in self.steps}
        self.s0 = n(H)
        self.r = self.run()

    def run(self, taps=None):
        taps = taps or {}
        b = lambda t: self.par(taps, "b", t) if "b" in self.p else 0.0  # noqa: E731
        c = lambda t: self.par(taps, "c", t) if "c" in self.p else 0.0  # noqa: E731
        r = {k: {} for k in ("z", "s", "l", "yhat", "E")}
        r["s"][self.first - 1] = self.at(taps, "s", self.first - 1, self.s0)
        for t in self.steps:
            U, W = self.par(taps, "U", t), self.par(taps, "W", t)
            z = self.at(taps, "z", t, anp.dot(U, self.x[t]) + anp.dot(W, r["s"][t - 1]) + b(t))
            r["z"][t] = z
            r["s"][t] = self.at(taps, "s", t, self.f(z))
            if not self.last_only or t == self.last:
                V = self.par(taps, "V", t)
                r["l"][t] = self.at(taps, "l", t, anp.dot(V, r["s"][t]) + c(t))
                r["yhat"][t] = self.at(taps, "yhat", t, softmax(r["l"][t]))
                y = self.y if self.last_only else self.y[t]
                r["E"][t] = self.at(taps, "E", t, -anp.dot(y, anp.log(r["yhat"][t])))
        r["total"] = sum(r["E"].values())
        return r


class Pascanu(Model):
    """x_t = W_rec sigma(x_{t-1}) + W_in u_t + b, E_t = -y_t . log softmax(x_t), E = sum_t E_t."""

    def __init__(self, rng, T, first=1, f="sigmoid"):
        self.T, self.first = T, first
        self.f, self.df = ACTIVATIONS[f]
        n = lambda *shape: rng.normal(0.0, STD, shape)  # noqa: E731
        self.p = {"W_rec": n(H, H), "W_in": n(H, D), "b": n(H)}
        self.u = {t: n(D) for t in self.steps}
        self.y = {t: one_hot(rng, H) for t in self.steps}
        self.x0 = n(H)
        self.r = self.run()

    def run(self, taps=None):
        taps = taps or {}
        r = {"x": {self.first - 1: self.at(taps, "x", self.first - 1, self.x0)}, "E": {}}
        for t in self.steps:
            W_rec, W_in, b = (self.par(taps, k, t) for k in ("W_rec", "W_in", "b"))
            x = anp.dot(W_rec, self.f(r["x"][t - 1])) + anp.dot(W_in, self.u[t]) + b
            r["x"][t] = self.at(taps, "x", t, x)
            r["E"][t] = self.at(taps, "E", t, -anp.dot(self.y[t], anp.log(softmax(r["x"][t]))))
        r["total"] = sum(r["E"].values())
        return r


def total(r):
    return r["total"]


def node(name, n):
    """out(r) = the value of node ``name`` at step n."""
    return lambda r: r[name][n]


# ---------------------------------------------------------------------------------------------
# WildML, RNN tutorial part 3 (wildml-bptt) and the notebook of part 2 (wildml-rnnlm): the
# built-in elman without biases, steps t = 0..T-1; formulas about E_3 need T = 4.  The post's
# z is the logits in its V-gradient and softmax lines (model wildml-logits, z = l here) and the
# pre-activation in its delta example (elman's z).

WILDML_LOGITS = "tests/corpus/models/wildml-logits.toml"


def wildml_st(rng):
    # s_t = tanh(U x_t + W s_{t-1}), at every step
    m = Elman(rng, 4)
    p, r = m.p, m.r
    return [(r["s"][t], np.tanh(p["U"] @ m.x[t] + p["W"] @ r["s"][t - 1])) for t in m.steps]


def wildml_yt(rng):
    # yhat_t = softmax(V s_t)
    m = Elman(rng, 4)
    return [(m.r["yhat"][t], softmax(m.p["V"] @ m.r["s"][t])) for t in m.steps]


def wildml_et(rng):
    # E_t(y_t, yhat_t) = -y_t log yhat_t, the inner product implicit
    m = Elman(rng, 4)
    return [(m.r["E"][t], -m.y[t] @ np.log(m.r["yhat"][t])) for t in m.steps]


def wildml_e(rng):
    # E(y, yhat) = sum_t E_t(y_t, yhat_t) = -sum_t y_t log yhat_t
    m = Elman(rng, 4)
    r = m.r
    sum_e = sum(r["E"][t] for t in m.steps)
    return [(r["total"], sum_e), (sum_e, -sum(m.y[t] @ np.log(r["yhat"][t]) for t in m.steps))]


def wildml_dedw_sum(rng):
    # dE/dW = sum_t dE_t/dW
    m = Elman(rng, 4)
    return [(m.d(total, "W"), sum(m.d(node("E", t), "W") for t in m.steps))]


def wildml_s3(rng):
    # s_3 = tanh(U x_3 + W s_2)
    m = Elman(rng, 4)
    return [(m.r["s"][3], np.tanh(m.p["U"] @ m.x[3] + m.p["W"] @ m.r["s"][2]))]


def wildml_y3j(rng):
    # yhat_{3j} = e^{z_3j} / sum_{k=1}^m e^{z_3k}, z_3 = V s_3 the logits, k over the m classes
    m = Elman(rng, 4)
    z3 = m.r["l"][3]
    return [(m.r["yhat"][3][j], np.exp(z3[j]) / np.sum(np.exp(z3))) for j in range(K)]


def wildml_de3dv(rng):
    # dE_3/dV = dE_3/dyhat_3 dyhat_3/dV = dE_3/dyhat_3 dyhat_3/dz_3 dz_3/dV = (yhat_3 - y_3) (x) s_3
    # (z_3 = V s_3; numerator layout: a row times Jacobians, the last one K x (K x H))
    m = Elman(rng, 4)
    e3 = node("E", 3)
    de_dy = m.d(e3, "yhat", 3)
    one = contract(de_dy, m.d(node("yhat", 3), "V"))
    two = contract(de_dy @ m.d(node("yhat", 3), "l", 3), m.d(node("l", 3), "V"))
    three = np.outer(m.r["yhat"][3] - m.y[3], m.r["s"][3])
    return [(m.d(e3, "V"), one), (one, two), (two, three)]


def wildml_de3dw_chain(rng):
    # dE_3/dW = dE_3/dyhat_3 dyhat_3/ds_3 ds_3/dW, ds_3/dW the total derivative (H x H x H)
    m = Elman(rng, 4)
    e3 = node("E", 3)
    row = m.d(e3, "yhat", 3) @ m.d(node("yhat", 3), "s", 3)
    return [(m.d(e3, "W"), contract(row, m.d(node("s", 3), "W")))]


def wildml_s3_xt(rng):
    # s_3 = tanh(U x_t + W s_2) with a free t: read for every t, so it claims s_3 is the same
    # whichever step's input it is given; it holds at t = 3 only
    m = Elman(rng, 4)
    p, r = m.p, m.r
    return [(r["s"][3], np.tanh(p["U"] @ m.x[t] + p["W"] @ r["s"][2])) for t in m.steps]


def wildml_sumk_terms(m, immediate=False):
    """The terms dE_3/dyhat_3 dyhat_3/ds_3 ds_3/ds_k ds_k/dW, k = 0..3, the product of the
    state Jacobians written out, j = 3 leftmost; ds_k/dW total, or the immediate partial."""
    e3 = node("E", 3)
    row = m.d(e3, "yhat", 3) @ m.d(node("yhat", 3), "s", 3)
    terms = []
    for k in range(4):
        ds3_dsk = m.d(node("s", 3), "s", k)
        prod = chain(np.eye(H), *(m.d(node("s", j), "s", j - 1) for j in range(3, k, -1)))
        dsk_dw = m.d(node("s", k), "W", k if immediate else None)
        terms.append((contract(row @ ds3_dsk, dsk_dw), contract(row @ prod, dsk_dw)))
    return terms


def wildml_de3dw_sumk(rng):
    # dE_3/dW = sum_{k=0}^3 dE_3/dyhat_3 dyhat_3/ds_3 ds_3/ds_k ds_k/dW.  Unknown; read literally,
    # ds_k/dW is the same symbol as in wildml-dE3dW-chain, the total derivative, and then the
    # sum double counts (the sides differ).  With the immediate partial (s_{k-1} held fixed,
    # immediate=True) it holds.
    m = Elman(rng, 4)
    return [(m.d(node("E", 3), "W"), sum(a for a, _ in wildml_sumk_terms(m)))]


def wildml_delta(rng):
    # delta_2^(3) = dE_3/dz_2 = dE_3/ds_3 ds_3/ds_2 ds_2/dz_2, z_2 = U x_2 + W s_1 (elman's z;
    # the first equality names delta); rows times Jacobians
    m = Elman(rng, 4)
    e3 = node("E", 3)
    rhs = m.d(e3, "s", 3) @ m.d(node("s", 3), "s", 2) @ m.d(node("s", 2), "z", 2)
    return [(m.d(e3, "z", 2), rhs)]


def wildml_s3s1(rng):
    # ds_3/ds_1 = ds_3/ds_2 ds_2/ds_1
    m = Elman(rng, 4)
    rhs = m.d(node("s", 3), "s", 2) @ m.d(node("s", 2), "s", 1)
    return [(m.d(node("s", 3), "s", 1), rhs)]


def wildml_de3dw_prod(rng):
    # dE_3/dW = sum_{k=0}^3 dE_3/dyhat_3 dyhat_3/ds_3 (prod_{j=k+1}^3 ds_j/ds_{j-1}) ds_k/dW.
    # Unknown; read as wildml-dE3dW-sumk (ds_k/dW total: the sides differ), the product ordered
    # j = 3 leftmost.
    m = Elman(rng, 4)
    return [(m.d(node("E", 3), "W"), sum(b for _, b in wildml_sumk_terms(m)))]


def wildml_code_model(rng):
    # s_t = tanh(U x_t + W s_{t-1}), o_t = softmax(V s_t) (the notebook's markdown recap)
    m = Elman(rng, 3)
    p, r = m.p, m.r
    return [(r["s"][t], np.tanh(p["U"] @ m.x[t] + p["W"] @ r["s"][t - 1])) for t in m.steps] + [
        (r["yhat"][t], softmax(p["V"] @ r["s"][t])) for t in m.steps
    ]


# ---------------------------------------------------------------------------------------------
# Goodfellow et al., ch. 10 (model goodfellow: a = z, h = s, o = l, L = E, L^(t) = E_t), both
# biases, steps t = 1..tau (first = 1), h^(0) given; tau = 3.  Gradients nabla are columns.

GOODFELLOW = "tests/corpus/models/goodfellow.toml"


def gf_model(rng):
    return Elman(rng, 3, first=1, biases="bc")


def gf_10_8(rng):
    # a^(t) = b + W h^(t-1) + U x^(t), h^(t) = tanh(a^(t)), o^(t) = c + V h^(t),
    # yhat^(t) = softmax(o^(t))
    m = gf_model(rng)
    p, r = m.p, m.r
    out = []
    for t in m.steps:
        out += [
            (r["z"][t], p["b"] + p["W"] @ r["s"][t - 1] + p["U"] @ m.x[t]),
            (r["s"][t], np.tanh(r["z"][t])),
            (r["l"][t], p["c"] + p["V"] @ r["s"][t]),
            (r["yhat"][t], softmax(r["l"][t])),
        ]
    return out


def gf_10_12(rng):
    # L = sum_t L^(t) = -sum_t log p_model(y^(t) | x^(1..t)), p_model = yhat^(t) at y^(t)'s class
    m = gf_model(rng)
    r = m.r
    sum_l = sum(r["E"][t] for t in m.steps)
    nll = -sum(np.log(r["yhat"][t][np.argmax(m.y[t])]) for t in m.steps)
    return [(r["total"], sum_l), (sum_l, nll)]


def gf_10_17(rng):
    # dL/dL^(t) = 1, at every step
    m = gf_model(rng)
    return [(m.d(total, "E", t), 1.0) for t in m.steps]


def gf_10_18(rng):
    # (nabla_o L)_i = dL/do_i = dL/dL^(t) dL^(t)/do_i = yhat_i - 1_{i, y^(t)} (the first
    # equality is notation: both sides are the same number)
    m = gf_model(rng)
    out = []
    for t in m.steps:
        chained = m.d(total, "E", t) * m.d(node("E", t), "l", t)
        out += [(m.d(total, "l", t), chained), (chained, m.r["yhat"][t] - m.y[t])]
    return out


def gf_10_19(rng):
    # nabla_{h^(tau)} L = V^T nabla_{o^(tau)} L
    m = gf_model(rng)
    tau = m.last
    return [(m.d(total, "s", tau), m.p["V"].T @ m.d(total, "l", tau))]


def gf_10_20(rng):
    # (10.20) nabla_h(t) L = (dh(t+1)/dh(t))^T nabla_h(t+1) L + (do(t)/dh(t))^T nabla_o(t) L
    # (10.21)  = W^T (nabla_h(t+1) L) diag(1 - (h(t+1))^2) + V^T (nabla_o(t) L), for t < tau.
    # (10.21) multiplies a column by an H x H matrix, ill-typed; read leniently as a row times
    # the diagonal, the factor (1 - h^2) lands on W^T nabla_h(t+1) L instead of on nabla_h(t+1)
    # L, and the sides differ.  (10.20) holds.
    m = gf_model(rng)
    p, r = m.p, m.r
    out = []
    for t in range(m.first, m.last):
        g_next, g_o = m.d(total, "s", t + 1), m.d(total, "l", t)
        v20 = m.d(node("s", t + 1), "s", t).T @ g_next + m.d(node("l", t), "s", t).T @ g_o
        v21 = (p["W"].T @ g_next) @ np.diag(1 - r["s"][t + 1] ** 2) + p["V"].T @ g_o
        out += [(m.d(total, "s", t), v20), (v20, v21)]
    return out


def gf_10_22(rng):
    # nabla_c L = sum_t (do(t)/dc)^T nabla_o(t) L = sum_t nabla_o(t) L
    m = gf_model(rng)
    g_o = {t: m.d(total, "l", t) for t in m.steps}
    mid = sum(m.d(node("l", t), "c").T @ g_o[t] for t in m.steps)
    return [(m.d(total, "c"), mid), (mid, sum(g_o.values()))]


def gf_10_23(rng):
    # nabla_b L = sum_t (dh(t)/db(t))^T nabla_h(t) L = sum_t diag(1 - (h(t))^2) nabla_h(t) L,
    # b^(t) the copy of b used at step t
    m = gf_model(rng)
    g_h = {t: m.d(total, "s", t) for t in m.steps}
    mid = sum(m.d(node("s", t), "b", t).T @ g_h[t] for t in m.steps)
    rhs = sum(np.diag(1 - m.r["s"][t] ** 2) @ g_h[t] for t in m.steps)
    return [(m.d(total, "b"), mid), (mid, rhs)]


def gf_10_24(rng):
    # nabla_V L = sum_t sum_i (dL/do_i^(t)) nabla_V o_i^(t) = sum_t (nabla_o(t) L) h(t)^T
    m = gf_model(rng)
    g_o = {t: m.d(total, "l", t) for t in m.steps}
    mid = sum(contract(g_o[t], m.d(node("l", t), "V")) for t in m.steps)
    rhs = sum(np.outer(g_o[t], m.r["s"][t]) for t in m.steps)
    return [(m.d(total, "V"), mid), (mid, rhs)]


def gf_copy_gradient(m, name, prev):
    """Goodfellow's nabla_name L through the copies name^(t): the sides of (10.25)-(10.28);
    ``prev(t)`` is the vector the copy multiplies at step t (h^(t-1) or x^(t))."""
    g_h = {t: m.d(total, "s", t) for t in m.steps}
    mid = sum(contract(g_h[t], m.d(node("s", t), name, t)) for t in m.steps)
    rhs = sum(np.outer(np.diag(1 - m.r["s"][t] ** 2) @ g_h[t], prev(t)) for t in m.steps)
    return [(m.d(total, name), mid), (mid, rhs)]


def gf_10_25(rng):
    # nabla_W L = sum_t sum_i (dL/dh_i^(t)) nabla_{W^(t)} h_i^(t)
    #           = sum_t diag(1 - (h(t))^2) (nabla_h(t) L) h(t-1)^T
    m = gf_model(rng)
    return gf_copy_gradient(m, "W", lambda t: m.r["s"][t - 1])


def gf_10_27(rng):
    # nabla_U L = sum_t sum_i (dL/dh_i^(t)) nabla_{U^(t)} h_i^(t)
    #           = sum_t diag(1 - (h(t))^2) (nabla_h(t) L) x(t)^T
    m = gf_model(rng)
    return gf_copy_gradient(m, "U", lambda t: m.x[t])


# ---------------------------------------------------------------------------------------------
# CS224n notes (model cs224n: W^(hh) = W, W^(hx) = U, W^(S) = V), no biases, the notes'
# sigma = f the sigmoid, steps t = 1..T (first = 1), T = 4.  y_t in the gradient lines is the
# prediction yhat_t.

CS224N = "tests/corpus/models/cs224n.toml"
SIGMOID = {"activation": "sigmoid"}


def cs224n_model_(rng):
    return Elman(rng, 4, first=1, f="sigmoid")


def cs224n_model(rng):
    # h_t = sigma(W^(hh) h_{t-1} + W^(hx) x_t)
    m = cs224n_model_(rng)
    p, r = m.p, m.r
    return [(r["s"][t], sigmoid(p["W"] @ r["s"][t - 1] + p["U"] @ m.x[t])) for t in m.steps]


def cs224n_loss(rng):
    # J^(t) = -sum_{j=1}^{|V|} y_{t,j} x log(yhat_{t,j})
    m = cs224n_model_(rng)
    return [(m.r["E"][t], -sum(m.y[t][j] * np.log(m.r["yhat"][t][j]) for j in range(K)))
            for t in m.steps]


def cs224n_terms(m, t):
    """The terms dE_t/dy_t dy_t/dh_t dh_t/dh_k dh_k/dW for k = 1..t, once with dh_t/dh_k and
    once with it written as prod_{j=k+1}^t dh_j/dh_{j-1} (j = t leftmost); dh_k/dW read as the
    total derivative (the same symbol as the left side's, nothing marks it immediate)."""
    row = m.d(node("E", t), "yhat", t) @ m.d(node("yhat", t), "s", t)
    plain, product = [], []
    for k in range(1, t + 1):
        dhk_dw = m.d(node("s", k), "W")
        prod = chain(np.eye(H), *(m.d(node("s", j), "s", j - 1) for j in range(t, k, -1)))
        plain.append(contract(row @ m.d(node("s", t), "s", k), dhk_dw))
        product.append(contract(row @ prod, dhk_dw))
    return plain, product


def cs224n_dedw(rng):
    # dE_t/dW = sum_{k=1}^t dE_t/dy_t dy_t/dh_t dh_t/dh_k dh_k/dW, at every t.  Unknown; read
    # literally, dh_k/dW is the total derivative (as on the left side) and the sum double
    # counts: the sides differ.  With the immediate partial it would hold.
    m = cs224n_model_(rng)
    return [(m.d(node("E", t), "W"), sum(cs224n_terms(m, t)[0])) for t in m.steps]


def cs224n_jacobian_product(rng):
    # dh_t/dh_k = prod_{j=k+1}^t dh_j/dh_{j-1} = prod_{j=k+1}^t W^T x diag[f'(h_{j-1})], the
    # typo f'(j_{j-1}) read as f'(h_{j-1}); both products ordered j = t leftmost, all k < t
    m = cs224n_model_(rng)
    W, h = m.p["W"], m.r["s"]
    out = []
    for t in m.steps:
        for k in range(m.first, t):
            js = range(t, k, -1)
            jac = chain(*(m.d(node("s", j), "s", j - 1) for j in js))
            printed = chain(*(W.T @ np.diag(m.df(h[j - 1])) for j in js))
            out += [(m.d(node("s", t), "s", k), jac), (jac, printed)]
    return out


def cs224n_dedw_double(rng):
    # dE/dW = sum_{t=1}^T sum_{k=1}^t dE_t/dy_t dy_t/dh_t dh_t/dh_k dh_k/dW
    #       = the same with dh_t/dh_k = prod_{j=k+1}^t dh_j/dh_{j-1}.  Unknown; dh_k/dW read as
    # the total derivative (see cs224n-dEdW): the first equality fails, the second holds.
    m = cs224n_model_(rng)
    terms = [cs224n_terms(m, t) for t in m.steps]
    plain = sum(sum(a) for a, _ in terms)
    product = sum(sum(b) for _, b in terms)
    return [(m.d(total, "W"), plain), (plain, product)]


# ---------------------------------------------------------------------------------------------
# Cross Validated 193352 (model cv193352: elman's cell named h, w_ij the entries of W), no
# bias, steps t = 0..T-1, T = 3.  The answer's h_{t+1} for t = -1..T-2.

CV = "tests/corpus/models/cv193352.toml"


def cv_model_(rng):
    return Elman(rng, 3)


def cv_model(rng):
    # h_{t+1} = tanh(U x_t + W h_t).  Unknown; read as a statement about the model, where
    # h_{t+1} takes the input x_{t+1}: it feeds the input of the step before, and the sides
    # differ (true only of the answer's own shifted model, which no model file can state).
    m = cv_model_(rng)
    p, h = m.p, m.r["s"]
    return [(h[t + 1], np.tanh(p["U"] @ m.x[t] + p["W"] @ h[t])) for t in range(m.last)]


def cv_component(rng):
    # h_{t+1,i} = tanh(sum_{k=1}^n w_ik h_{t,k} + g(x)), g(x) the input part (U x_{t+1})_i
    m = cv_model_(rng)
    W, U, h = m.p["W"], m.p["U"], m.r["s"]
    out = []
    for t in range(m.first - 1, m.last):
        for i in range(H):
            rhs = np.tanh(sum(W[i, k] * h[t][k] for k in range(H)) + (U @ m.x[t + 1])[i])
            out.append((h[t + 1][i], rhs))
    return out


def cv_element(rng):
    # dh_{t+1,i}/dh_{t,j} = 1-h_{t+1,i}^2 w_{i,j}, read as printed: 1 - (h_{t+1,i}^2 w_ij)
    m = cv_model_(rng)
    W, h = m.p["W"], m.r["s"]
    return [(m.d(node("s", t + 1), "s", t), 1 - h[t + 1][:, None] ** 2 * W)
            for t in range(m.first - 1, m.last)]


def cv_element_rev2(rng):
    # dh_{t+1,i}/dh_{t,j} = 1 - tanh^2(h_{t+1,i}) (revision 2): the same value for every j
    m = cv_model_(rng)
    h = m.r["s"]
    return [(m.d(node("s", t + 1), "s", t), np.outer(1 - np.tanh(h[t + 1]) ** 2, np.ones(H)))
            for t in range(m.first - 1, m.last)]


# ---------------------------------------------------------------------------------------------
# hanbingtao (model hanbingtao: net = z, one output after the last step), f = tanh, steps
# t = 1..T (first = 1), s_0 given, T = 4.  E is the error of the last step t = T; delta_k =
# dE/dnet_k; rows are gradients (numerator layout).

HANBINGTAO = "tests/corpus/models/hanbingtao.toml"


def hbt_model_(rng):
    return Elman(rng, 4, first=1, last=True)


def hbt_forward(rng):
    # s_t = f(U x_t + W s_{t-1})
    m = hbt_model_(rng)
    p, s = m.p, m.r["s"]
    return [(s[t], np.tanh(p["U"] @ m.x[t] + p["W"] @ s[t - 1])) for t in m.steps]


def hbt_net(rng):
    # net_t = U x_t + W s_{t-1};  s_{t-1} = f(net_{t-1}) (where net_{t-1} exists, t >= 2)
    m = hbt_model_(rng)
    p, r = m.p, m.r
    out = [(r["z"][t], p["U"] @ m.x[t] + p["W"] @ r["s"][t - 1]) for t in m.steps]
    return out + [(r["s"][t - 1], np.tanh(r["z"][t - 1])) for t in m.steps if t >= 2]


def hbt_jacobian(rng):
    # dnet_t/dnet_{t-1} = dnet_t/ds_{t-1} ds_{t-1}/dnet_{t-1} = W diag[f'(net_{t-1})], t >= 2
    m = hbt_model_(rng)
    out = []
    for t in range(2, m.last + 1):
        mid = m.d(node("z", t), "s", t - 1) @ m.d(node("s", t - 1), "z", t - 1)
        out += [(m.d(node("z", t), "z", t - 1), mid),
                (mid, m.p["W"] @ np.diag(m.df(m.r["z"][t - 1])))]
    return out


def hbt_3_1(rng):
    # delta_k^T = dE/dnet_k = dE/dnet_t dnet_t/dnet_k
    #   = dE/dnet_t dnet_t/dnet_{t-1} ... dnet_{k+1}/dnet_k
    #   = W diag[f'(net_{t-1})] W diag[f'(net_{t-2})] ... W diag[f'(net_k)] delta_t^l
    #   = delta_t^T prod_{i=k}^{t-1} W diag[f'(net_i)]          (i = t-1 leftmost)
    # with t = T the step of the error, every k < t.  Row 4 puts the column delta_t on the
    # right of the product: M delta_t, not delta_t^T M, so it differs from rows 3 and 5.
    m = hbt_model_(rng)
    W, net, t = m.p["W"], m.r["z"], m.last
    delta_t = m.d(total, "z", t)
    out = []
    for k in range(m.first, t):
        factors = [W @ np.diag(m.df(net[i])) for i in range(t - 1, k - 1, -1)]
        row1 = m.d(total, "z", k)
        row2 = delta_t @ m.d(node("z", t), "z", k)
        row3 = chain(delta_t[None, :], *(m.d(node("z", i), "z", i - 1) for i in range(t, k, -1)))
        row4 = chain(*factors) @ delta_t
        row5 = delta_t @ chain(*factors)
        out += [(row1, row2), (row2, row3[0]), (row3[0], row4), (row4, row5)]
    return out


def hbt_de_dwji(rng):
    # dE/dw_ji = dE/dnet_j^t dnet_j^t/dw_ji = delta_j^t s_i^{t-1}, t the step of the error, for
    # every (j, i) at once: dnet_j^t/dw_ji = s_i^{t-1} is the copy of W at step t, so the right
    # side is only that copy's share of the gradient; the whole dE/dW differs.
    m = hbt_model_(rng)
    t = m.last
    delta_t = m.d(total, "z", t)
    mid = contract(delta_t, m.d(node("z", t), "W", t))
    return [(m.d(total, "W"), mid), (mid, np.outer(delta_t, m.r["s"][t - 1]))]


def hbt_3_4(rng):
    # nabla_W E = sum_{i=1}^t nabla_{W_i} E, t the last step, W_i the copy of W at step i
    m = hbt_model_(rng)
    return [(m.d(total, "W"), sum(m.d(total, "W", i) for i in range(1, m.last + 1)))]


# ---------------------------------------------------------------------------------------------
# interactiveprimer (model primer: h = s, a bias b, the loss L after the last step), tanh,
# steps t = 1..T (first = 1), h_0 given, T = 4.  dL/dh are rows.

PRIMER = "tests/corpus/models/primer.toml"


def ip_model_(rng):
    return Elman(rng, 4, first=1, biases="b", last=True)


def ip_step1(rng):
    # dL/dh_{t-1} = dL/dh_t dh_t/dh_{t-1}, t = 1..T
    m = ip_model_(rng)
    return [(m.d(total, "s", t - 1), m.d(total, "s", t) @ m.d(node("s", t), "s", t - 1))
            for t in m.steps]


def ip_step2(rng):
    # dh_t/dh_{t-1} = diag(tanh'(z_t)) W =: J_t,  z_t = W h_{t-1} + U x_t + b
    m = ip_model_(rng)
    p, r = m.p, m.r
    out = []
    for t in m.steps:
        out += [(m.d(node("s", t), "s", t - 1), np.diag(m.df(r["z"][t])) @ p["W"]),
                (r["z"][t], p["W"] @ r["s"][t - 1] + p["U"] @ m.x[t] + p["b"])]
    return out


def ip_step3(rng):
    # dL/dh_k = dL/dh_T prod_{t=k+1}^T J_t = dL/dh_T J_T J_{T-1} ... J_{k+1}, J_t = dh_t/dh_{t-1};
    # the prod read in the order written out next (J_T leftmost), k = 0..T-1
    m = ip_model_(rng)
    T = m.last
    J = {t: m.d(node("s", t), "s", t - 1) for t in m.steps}
    g_T = m.d(total, "s", T)
    out = []
    for k in range(0, T):
        prod = chain(np.eye(H), *(J[t] for t in range(T, k, -1)))
        written = chain(g_T[None, :], *(J[t] for t in range(T, k, -1)))[0]
        out += [(m.d(total, "s", k), g_T @ prod), (g_T @ prod, written)]
    return out


# ---------------------------------------------------------------------------------------------
# Pascanu et al. 2013 (model pascanu), sigma = the sigmoid (as the formulas' \sigma reads),
# steps t = 1..T (first = 1), x_0 given, T = 4; theta = each of W_rec, W_in, b.

PASCANU = "tests/corpus/models/pascanu.toml"
THETA = ("W_rec", "W_in", "b")


def pascanu_eq2(rng):
    # x_t = W_rec sigma(x_{t-1}) + W_in u_t + b
    m = Pascanu(rng, 4)
    p, x = m.p, m.r["x"]
    return [(x[t], p["W_rec"] @ sigmoid(x[t - 1]) + p["W_in"] @ m.u[t] + p["b"]) for t in m.steps]


def pascanu_eq3(rng):
    # dE/dtheta = sum_{1<=t<=T} dE_t/dtheta
    m = Pascanu(rng, 4)
    return [(m.d(total, th), sum(m.d(node("E", t), th) for t in m.steps)) for th in THETA]


def pascanu_eq4(rng):
    # dE_t/dtheta = sum_{1<=k<=t} dE_t/dx_t dx_t/dx_k d^+x_k/dtheta, d^+ the immediate partial
    # (x_{k-1} held fixed: the copy of theta at step k), at every t
    m = Pascanu(rng, 4)
    out = []
    for t in m.steps:
        row = m.d(node("E", t), "x", t)
        for th in THETA:
            rhs = sum(contract(row @ m.d(node("x", t), "x", k), m.d(node("x", k), th, k))
                      for k in range(1, t + 1))
            out.append((m.d(node("E", t), th), rhs))
    return out


def pascanu_eq5(rng):
    # dx_t/dx_k = prod_{t>=i>k} dx_i/dx_{i-1} = prod_{t>=i>k} W_rec^T diag(sigma'(x_{i-1})),
    # both products ordered i = t leftmost, every 1 <= k < t
    m = Pascanu(rng, 4)
    W, x = m.p["W_rec"], m.r["x"]
    out = []
    for t in m.steps:
        for k in range(m.first, t):
            idx = range(t, k, -1)
            jac = chain(*(m.d(node("x", i), "x", i - 1) for i in idx))
            printed = chain(*(W.T @ np.diag(m.df(x[i - 1])) for i in idx))
            out += [(m.d(node("x", t), "x", k), jac), (jac, printed)]
    return out


def pascanu_jacobian_inline(rng):
    # dx_{k+1}/dx_k = W_rec^T diag(sigma'(x_k)), k = 1..T-1
    m = Pascanu(rng, 4)
    W, x = m.p["W_rec"], m.r["x"]
    return [(m.d(node("x", k + 1), "x", k), W.T @ np.diag(m.df(x[k])))
            for k in range(m.first, m.last)]


# ---------------------------------------------------------------------------------------------

CASES: dict[str, Case] = {
    # WildML part 3
    "wildml-st": Case("elman", 4, wildml_st),
    "wildml-yt": Case("elman", 4, wildml_yt),
    "wildml-Et": Case("elman", 4, wildml_et),
    "wildml-E": Case("elman", 4, wildml_e),
    "wildml-dEdW-sum": Case("elman", 4, wildml_dedw_sum),
    "wildml-s3": Case("elman", 4, wildml_s3),
    "wildml-y3j": Case(WILDML_LOGITS, 4, wildml_y3j),
    "wildml-dE3dV": Case(WILDML_LOGITS, 4, wildml_de3dv),
    "wildml-dE3dW-chain": Case("elman", 4, wildml_de3dw_chain),
    "wildml-s3-xt": Case("elman", 4, wildml_s3_xt),
    "wildml-dE3dW-sumk": Case("elman", 4, wildml_de3dw_sumk),
    "wildml-delta": Case("elman", 4, wildml_delta),
    "wildml-s3s1": Case("elman", 4, wildml_s3s1),
    "wildml-dE3dW-prod": Case("elman", 4, wildml_de3dw_prod),
    "wildml-tanh-deriv": Case(
        "elman", 4, outside="a fragment without '=': the derivative 1 - tanh^2(x) of tanh, "
        "quoted on its own"),
    # WildML part 2, the notebook (its other formulas are code)
    "wildml-code-model": Case("elman", 3, wildml_code_model),
    # Goodfellow et al., ch. 10
    "gf-10.8-10.11": Case(GOODFELLOW, 3, gf_10_8, first=1),
    "gf-10.12-10.14": Case(GOODFELLOW, 3, gf_10_12, first=1),
    "gf-10.17": Case(GOODFELLOW, 3, gf_10_17, first=1),
    "gf-10.18": Case(GOODFELLOW, 3, gf_10_18, first=1),
    "gf-10.19": Case(GOODFELLOW, 3, gf_10_19, first=1),
    "gf-10.20-10.21": Case(GOODFELLOW, 3, gf_10_20, first=1),
    "gf-10.22": Case(GOODFELLOW, 3, gf_10_22, first=1),
    "gf-10.23": Case(GOODFELLOW, 3, gf_10_23, first=1),
    "gf-10.24": Case(GOODFELLOW, 3, gf_10_24, first=1),
    "gf-10.25-10.26": Case(GOODFELLOW, 3, gf_10_25, first=1),
    "gf-10.27-10.28": Case(GOODFELLOW, 3, gf_10_27, first=1),
    "gf-10.36": Case(
        GOODFELLOW, 3, first=1, outside="another model: the toy linear recurrence "
        "h^(t) = W^T h^(t-1) of section 10.7, without input, nonlinearity or loss"),
    "gf-10.37": Case(
        GOODFELLOW, 3, first=1, outside="another model: the unrolled toy linear recurrence "
        "of section 10.7, h^(t) = (W^t)^T h^(0)"),
    "gf-10.39": Case(
        GOODFELLOW, 3, first=1, outside="another model: the toy linear recurrence of "
        "section 10.7 after an eigendecomposition W = Q Lambda Q^T that the RNN does not have"),
    # CS224n notes
    "cs224n-model": Case(CS224N, 4, cs224n_model, first=1, options=SIGMOID),
    "cs224n-loss": Case(CS224N, 4, cs224n_loss, first=1, options=SIGMOID),
    "cs224n-dEdW": Case(CS224N, 4, cs224n_dedw, first=1, options=SIGMOID),
    "cs224n-jacobian-product": Case(CS224N, 4, cs224n_jacobian_product, first=1,
                                    options=SIGMOID),
    "cs224n-dEdW-double": Case(CS224N, 4, cs224n_dedw_double, first=1, options=SIGMOID),
    "cs224n-norm-bound": Case(
        CS224N, 4, first=1, options=SIGMOID,
        outside="an inequality between norms with assumed bounds beta_W, beta_h, no equality"),
    # Cross Validated 193352
    "cv193352-model": Case(CV, 3, cv_model),
    "cv193352-component": Case(CV, 3, cv_component),
    "cv193352-element": Case(CV, 3, cv_element),
    "cv193352-element-rev2": Case(CV, 3, cv_element_rev2),
    "cv193352-diag": Case(
        CV, 3, outside="a fragment without '=': the factor diag(1 - h_{t+1}^2), whose claim "
        "(a premultiplier of W) is in the prose around it"),
    # hanbingtao
    "hbt-forward": Case(HANBINGTAO, 4, hbt_forward, first=1),
    "hbt-net": Case(HANBINGTAO, 4, hbt_net, first=1),
    "hbt-jacobian": Case(HANBINGTAO, 4, hbt_jacobian, first=1),
    "hbt-3.1": Case(HANBINGTAO, 4, hbt_3_1, first=1),
    "hbt-dE-dwji": Case(HANBINGTAO, 4, hbt_de_dwji, first=1),
    # the source's t is its last step (E is the error of step t): given to check as T
    "hbt-3.4": Case(HANBINGTAO, 4, hbt_3_4, first=1,
                    text=r"\nabla_WE=\sum_{i=1}^T\nabla_{W_i}E"),
    # interactiveprimer
    "ip-step1": Case(PRIMER, 4, ip_step1, first=1),
    "ip-step2": Case(PRIMER, 4, ip_step2, first=1),
    "ip-step3": Case(PRIMER, 4, ip_step3, first=1, context="ip-step2"),  # J_t =: of step 2
    # Pascanu et al. 2013
    "pascanu-eq1": Case(
        PASCANU, 4, first=1, options=SIGMOID,
        outside="the definition of an abstract recurrent network x_t = F(x_{t-1}, u_t, theta), "
        "F unspecified, not the pre-activation model"),
    "pascanu-eq2": Case(PASCANU, 4, pascanu_eq2, first=1, options=SIGMOID),
    "pascanu-eq3": Case(PASCANU, 4, pascanu_eq3, first=1, options=SIGMOID),
    "pascanu-eq4": Case(PASCANU, 4, pascanu_eq4, first=1, options=SIGMOID),
    "pascanu-eq5": Case(PASCANU, 4, pascanu_eq5, first=1, options=SIGMOID),
    "pascanu-jacobian-inline": Case(PASCANU, 4, pascanu_jacobian_inline, first=1,
                                    options=SIGMOID),
}
