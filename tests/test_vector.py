"""elman: the matrix-form derivation equals the elementwise truth (SymPy's diff of every
entry of the fully written-out loss), symbolically shaped, numerically to 40 digits."""

from __future__ import annotations

import random

import mpmath
import pytest
import sympy as sp

from bptt_sym.derivation.matrix import derive_matrix
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.numeric.matrix import SYMPY, matrix_program
from bptt_sym.printing.leibniz import leibniz

DIGITS = 50


def _rational(rng: random.Random) -> sp.Rational:
    return sp.Rational(rng.randint(-9, 9), 10)


def _matrix(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}[{i},{j}]"))


def _truth(steps: int, h: int, d: int, k: int, bias: bool, values: dict) -> dict:
    """∂E/∂(every weight entry) by SymPy's diff of E written out entry by entry (V1-V4)."""
    weights = {"U": _matrix("U", h, d), "W": _matrix("W", h, h), "V": _matrix("V", k, h)}
    if bias:
        weights |= {"b": _matrix("b", h, 1), "c": _matrix("c", k, 1)}
    s = values["s_{-1}"]
    loss = 0
    for t in range(steps):
        z = weights["U"] * values[f"x_{t}"] + weights["W"] * s
        if bias:
            z += weights["b"]
        s = z.applyfunc(sp.tanh)                                    # V1
        logits = weights["V"] * s + (weights["c"] if bias else sp.zeros(k, 1))
        e = logits.applyfunc(sp.exp)
        yhat = e / sum(e)                                           # V2
        y = values[f"y_{t}"]
        loss += -sum(y[i] * sp.log(yhat[i]) for i in range(k))      # V3, V4
    symbols = [sym for m in weights.values() for sym in m]
    grads = [sp.diff(loss, sym) for sym in symbols]
    # our own test expressions, compiled with shared subexpressions, run at 50 digits
    fn = sp.lambdify(symbols, grads, modules="mpmath", cse=True)
    with mpmath.workdps(DIGITS):
        point = [mpmath.mpf(sp.Rational(values[name][i]).p) / sp.Rational(values[name][i]).q
                 for name, m in weights.items() for i in range(len(m))]
        numbers = iter(fn(*point))
        return {name: sp.Matrix(m.rows, m.cols, lambda i, j: sp.Float(next(numbers), DIGITS))
                for name, m in weights.items()}


# SymPy's diff of the written-out loss grows fast with T and the sizes: small cases here;
# tests/test_elman_oracles.py covers hidden 1-4, T = 1-6 and hidden 64 numerically.
CASES = [(1, 1, 1, 2, False), (1, 2, 2, 3, True), (2, 2, 1, 2, False), (3, 1, 1, 2, True)]


@pytest.mark.parametrize("steps, h, d, k, bias", CASES)
def test_matrix_form_equals_elementwise_truth(steps: int, h: int, d: int, k: int,
                                             bias: bool) -> None:
    rng = random.Random(steps * 100 + h)
    g = unroll_vector(steps=steps, hidden=h, inputs=d, classes=k, bias=bias)
    values: dict[str, sp.Matrix] = {"s_{-1}": sp.Matrix(h, 1, lambda i, j: _rational(rng))}
    for name, shape in (("U", (h, d)), ("W", (h, h)), ("V", (k, h)), ("b", (h, 1)),
                        ("c", (k, 1))):
        values[name] = sp.Matrix(*shape, lambda i, j: _rational(rng))
    for t in range(steps):
        values[f"x_{t}"] = sp.Matrix(d, 1, lambda i, j: _rational(rng))
        y = sp.zeros(k, 1)
        y[rng.randrange(k)] = 1
        values[f"y_{t}"] = y
    derived = matrix_program(g)(values, SYMPY)
    truth = _truth(steps, h, d, k, bias, values)
    assert set(derived) == set(truth)
    for name, m in truth.items():
        got = derived[name].applyfunc(lambda e: sp.N(e, DIGITS))
        assert got.shape == m.shape
        assert max(abs(a - b) for a, b in zip(got, m)) < sp.Float(10) ** -40, name


def test_a_wrong_matrix_formula_is_rejected() -> None:
    """Drop the recursion term Wᵀδ_{t+1}: the comparison with the truth must fail."""
    rng = random.Random(7)
    g = unroll_vector(steps=3, hidden=2, inputs=1, classes=2)
    prog = matrix_program(g)
    delta1 = dict(prog.deltas)["delta_1"]
    cut = delta1.args[0].args[0] if isinstance(delta1, sp.HadamardProduct) else None
    assert cut is not None
    broken = delta1.xreplace({delta1.args[0]: cut})
    bad = type(prog)(g, tuple((n, broken if n == "delta_1" else e) for n, e in prog.deltas),
                     prog.gradients)
    values = {"s_{-1}": sp.zeros(2, 1), "U": sp.Matrix([[1], [-2]]) / 3,
              "W": sp.Matrix([[1, 2], [-3, 1]]) / 5, "V": sp.Matrix([[2, -1], [1, 1]]) / 4}
    for t in range(3):
        values[f"x_{t}"] = sp.Matrix([[_rational(rng)]])
        values[f"y_{t}"] = sp.Matrix([[1], [0]])
    truth = _truth(3, 2, 1, 2, False, values)
    got = bad(values, SYMPY)["W"].applyfunc(lambda e: sp.N(e, DIGITS))
    assert max(abs(a - b) for a, b in zip(got, truth["W"])) > sp.Float(10) ** -10


# The issue's formulas, typed from its text in the ASCII notation (@ product, * elementwise).
TEMPLATE = {
    "W": "sum_t delta_t @ s_{t-1}^T", "U": "sum_t delta_t @ x_t^T",
    "V": "sum_t (yhat_t - y_t) @ s_t^T",
}
DELTA = "(V^T @ (yhat_t - y_t) + W^T @ delta_{t+1}) * (1 - s_t * s_t)"


@pytest.mark.parametrize("wrt", ["W", "U", "V"])
def test_general_form_reads_as_the_issue_writes_it(wrt: str) -> None:
    d = derive_matrix(unroll_vector(steps=4), wrt=wrt)
    out, delta, grad = d.template
    assert leibniz(out.rhs, "ascii") == "yhat_t - y_t"
    assert leibniz(delta.lhs, "ascii") == "delta_t" and leibniz(delta.rhs, "ascii") == DELTA
    assert leibniz(grad.rhs, "ascii") == TEMPLATE[wrt]
    assert leibniz(delta.rhs, "unicode") == "(Vᵀ (ŷₜ − yₜ) + Wᵀ δₜ₊₁) ⊙ (1 − sₜ ⊙ sₜ)"
    assert r"\odot" in leibniz(delta.rhs, "latex")
