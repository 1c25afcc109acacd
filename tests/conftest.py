"""Shared corpus and the independent reference: the article's forward pass written by hand.

``reference`` builds the fully nested expressions of S1-S12 directly from the article's
formulas (not from bptt_sym's graph), with every step copy of a parameter its own symbol,
and differentiates them with SymPy's own ``diff``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import mpmath
import pytest
import sympy as sp

from bptt_sym import Partial, split_name
from bptt_sym.rules.functions import RULES, function_class, rule

STEPS = (1, 2, 3, 5)
PARAMETERS = ("u", "w", "k", "v")
CONCRETE = ("tanh", "sigmoid", "bce")  # activation, output, loss


def _sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


# Concrete functions of the reference: SymPy's own, written from their textbook formulas.
_CONCRETE = {
    ("activation", "tanh"): sp.tanh,
    ("activation", "sigmoid"): _sigmoid,
    ("activation", "identity"): lambda z: z,
    ("output", "sigmoid"): _sigmoid,
    ("output", "identity"): lambda q: q,
    ("output", "softmax"): lambda q: sp.exp(q) / sp.exp(q),
    ("loss", "bce"): lambda o, y: -(y * sp.log(o) + (1 - y) * sp.log(1 - o)),
    ("loss", "xent"): lambda o, y: -y * sp.log(o),
    ("loss", "mse"): lambda o, y: (o - y) ** 2 / 2,
}


def _fn(role: str, name: str):  # noqa: ANN202
    if (role, name) in _CONCRETE:
        return _CONCRETE[(role, name)]
    # Abstract f, g, L: an opaque function whose derivative is the opaque f', g', L'.
    cls = function_class(rule(role, name))
    return (lambda o, y: cls(o)) if role == "loss" else cls


def S(name: str) -> sp.Symbol:  # noqa: N802 - the article's names
    return sp.Symbol(name)


def idx(base: str, t: int) -> sp.Symbol:
    return S(f"{base}_{t}" if t >= 0 else f"{base}_{{{t}}}")


@dataclass(eq=False)
class Reference:
    """Nested values of every node of the doc model, by hand from S1-S12."""

    steps: int
    activation: str = "f"
    output: str = "g"
    loss: str = "L"

    def forward(self, cut: str | None = None) -> dict[str, sp.Expr]:
        """Node name -> expression in leaves; ``cut`` names a node kept as a free symbol."""
        f = _fn("activation", self.activation)
        g = _fn("output", self.output)
        L = _fn("loss", self.loss)  # noqa: N806
        vals: dict[str, sp.Expr] = {}

        def keep(name: str, value: sp.Expr) -> sp.Expr:
            vals[name] = S(name) if name == cut else value
            return vals[name]

        s_prev = idx("s", -1)
        for t in range(self.steps):
            a = keep(f"a_{t}", idx("x", t) * idx("u", t))                 # S1, S5
            b = keep(f"b_{t}", s_prev * idx("w", t))                      # S2, S6
            z = keep(f"z_{t}", a + b + idx("k", t))                       # S3, S7
            s_prev = keep(f"s_{t}", f(z))                                 # S4, S8
        q = keep("q", s_prev * idx("v", self.steps - 1))                  # S9
        o = keep("o", g(q))                                               # S11
        keep("E", L(o, S("y")))                                           # S12
        return vals

    def shared(self) -> dict[sp.Symbol, sp.Symbol]:
        """Every step copy -> its shared parameter."""
        return {idx(p, t): S(p) for p in PARAMETERS for t in range(self.steps)}

    def derivative(self, num: str, den: str) -> sp.Expr:
        """∂num/∂den by SymPy's diff of the nested expression, in leaves (memoised)."""
        cache = self.__dict__.setdefault("_cache", {})
        if (num, den) not in cache:
            cache[(num, den)] = self._derivative(num, den)
        return cache[(num, den)]

    def _derivative(self, num: str, den: str) -> sp.Expr:
        if den in PARAMETERS:
            expr = self.forward()[num].xreplace(self.shared())
            return sp.diff(expr, S(den))
        base, _ = split_name(den)
        is_node = base in ("a", "b", "z", "s", "q", "o", "E") and den != "s_{-1}"
        vals = self.forward(cut=den if is_node else None)
        if num not in vals:  # a leaf: the derivative of a leaf is 1 for itself, else 0
            return sp.S.One if num == den else sp.S.Zero
        value = sp.diff(vals[num], S(den))
        # Below the cut, the cut node's own value (in leaves) takes its place again.
        return value.xreplace({S(den): self.forward()[den]}) if is_node else value

    def value(self, expr: sp.Expr) -> sp.Expr:
        """An expression of bptt_sym's (partials, node symbols, rule functions) in leaves.

        Step copies are then set equal to their shared parameter: that is the point at
        which a gradient of the shared parameter is defined.
        """
        partials = {p: self.derivative(str(p.num), str(p.den)) for p in expr.atoms(Partial)}
        expr = expr.xreplace(partials)
        expr = expr.xreplace({S(k): v for k, v in self.forward().items()})
        return _explicit_rules(expr.xreplace(self.shared()))


def _explicit_rules(expr: sp.Expr) -> sp.Expr:
    """Replace bptt_sym's concrete rule functions by the reference's SymPy formulas."""
    for (role, name), r in RULES.items():
        if r.explicit is None:
            continue
        cls = function_class(r)
        ref = _CONCRETE.get((role, name))
        if ref is not None and expr.has(cls):
            expr = expr.replace(cls, ref)
    if expr.has(sp.Heaviside):
        expr = expr.replace(sp.Heaviside, lambda *a: sp.Piecewise((1, a[0] > 0), (0, True)))
    return expr


def equal(a: sp.Expr, b: sp.Expr, *, rng: random.Random | None = None) -> bool:
    """Decide a == b: symbolically for abstract functions, else at random exact points.

    The points are rationals and the evaluation uses 60 digits, so a difference of 1e-6
    is never mistaken for zero.
    """
    diff = a - b
    if diff == 0:
        return True
    if diff.atoms(sp.core.function.AppliedUndef) or any(
            getattr(f.func, "rule", None) is not None for f in diff.atoms(sp.Function)):
        return sp.expand(diff) == 0
    rng = rng or random.Random(1234)
    symbols = sorted(diff.free_symbols, key=str)
    # Our own test expressions, compiled with common subexpressions shared, run in mpmath.
    fn = sp.lambdify(symbols, diff, modules="mpmath", cse=True)
    with mpmath.workdps(60):
        for _ in range(3):
            point = [mpmath.mpf(rng.randint(-9, 9)) / 10 for _ in symbols]
            for i, s in enumerate(symbols):
                if str(s) == "y":
                    point[i] = mpmath.mpf(rng.randint(1, 9)) / 10
            if abs(fn(*point)) > mpmath.mpf(10) ** -40:
                return False
    return True


@pytest.fixture
def rng() -> random.Random:
    return random.Random(20261127)
