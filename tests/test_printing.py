"""The Leibniz printers against hand-written strings of docs/notation.md."""

from __future__ import annotations

import pytest
import sympy as sp

from bptt_sym import Partial, derive, leibniz, unroll
from bptt_sym.errors import UsageError
from bptt_sym.rules.functions import function_class, prime_class, rule

s1, z1, s_m1, x0, o, y = sp.symbols("s_1 z_1 s_{-1} x_0 o y")
E, u = sp.symbols("E u")
TANH = function_class(rule("activation", "tanh"))
SIGMA = function_class(rule("output", "sigmoid"))
FPRIME = prime_class("f")


@pytest.mark.parametrize("expr, ascii_, unicode_, latex_", [
    (Partial(s1, z1), "ds_1/dz_1", "∂s₁/∂z₁", r"\frac{\partial s_{1}}{\partial z_{1}}"),
    (Partial(E, u), "dE/du", "∂E/∂u", r"\frac{\partial E}{\partial u}"),
    (s_m1, "s_{-1}", "s₋₁", "s_{-1}"),
    (sp.Mul(Partial(s1, z1), 1 - s1**2, evaluate=False), "ds_1/dz_1 * (1 - s_1^2)",
     "∂s₁/∂z₁·(1 − s₁²)",
     r"\frac{\partial s_{1}}{\partial z_{1}} \cdot \left(1 - s_{1}^{2}\right)"),
    (sp.Mul(1, x0, evaluate=False), "1 * x_0", "1·x₀", r"1 \cdot x_{0}"),
    ((o - y) / (o * (1 - o)), "(o - y)/(o * (1 - o))", "(o − y)/(o·(1 − o))",
     r"\frac{o - y}{o \cdot \left(1 - o\right)}"),
    (-y / o, "-y/o", "−y/o", r"-\frac{y}{o}"),
    (TANH(z1), "tanh(z_1)", "tanh(z₁)", r"\tanh\left(z_{1}\right)"),
    (SIGMA(z1), "sigmoid(z_1)", "σ(z₁)", r"\sigma\left(z_{1}\right)"),
    (FPRIME(z1), "f'(z_1)", "f'(z₁)", r"f'\left(z_{1}\right)"),
    (sp.Mul(s1, 1 - s1, evaluate=False), "s_1 * (1 - s_1)", "s₁·(1 − s₁)",
     r"s_{1} \cdot \left(1 - s_{1}\right)"),
])
def test_notation(expr: sp.Expr, ascii_: str, unicode_: str, latex_: str) -> None:
    assert leibniz(expr, "ascii") == ascii_
    assert leibniz(expr, "unicode") == unicode_
    assert leibniz(expr, "latex") == latex_


def test_products_keep_the_order_the_derivation_built() -> None:
    a, b, c = sp.symbols("c b a")
    assert leibniz(sp.Mul(a, b, c, evaluate=False), "ascii") == "c * b * a"
    assert leibniz(sp.Add(a, b, c, evaluate=False), "ascii") == "c + b + a"


def test_unknown_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown format 'html'"):
        leibniz(u, "html")


def test_jupyter_renders_latex() -> None:
    d = derive(unroll("doc", steps=2), wrt="u", form="delta")
    latex = d._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and latex.endswith("\\end{aligned}$$")
    assert latex.count("&=") == len(d.equations)
    assert r"\frac{\partial E}{\partial z_{0}}" in latex


def test_deep_expressions_print_without_recursion_error() -> None:
    g = unroll("doc", steps=3000, activation="tanh")
    text = derive(g, wrt="u", form="closed").text("latex")
    assert text.count(r"\tanh") == 0 and text.count("s_{2998}") >= 1
