"""Abstract functions of several arguments: d2l's general RNN (docs/examples/models/d2l.toml),
h_t = f(x_t, h_{t-1}, w_h), o_t = g(h_t, w_o), L = 1/T sum_t l(o_t, y_t).

The references are independent of the derivation: SymPy's own ``diff`` of the composed
forward pass with stand-ins typed here, the oracles of ``verify``, and hand formulas."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import sympy as sp

from bptt_sym.check.checker import check_graph
from bptt_sym.derivation.forms import derive
from bptt_sym.graph.build import unroll
from bptt_sym.model.load import ModelFileError, load_model, parse_model
from bptt_sym.printing.leibniz import leibniz
from bptt_sym.rules.functions import (
    AbstractFunction,
    AbstractPartial,
    abstract_class,
    partial_class,
)
from bptt_sym.syntax import formula
from bptt_sym.verification.run import verify

D2L = Path(__file__).resolve().parents[1] / "docs" / "examples" / "models" / "d2l.toml"


@pytest.fixture(scope="module")
def spec():
    return load_model(D2L)


# ---- rules ---------------------------------------------------------------------------------

def test_classes_are_made_once_and_differentiate_to_their_partials():
    x, h, w = sp.symbols("x h w")
    f = abstract_class("f", 3)
    assert abstract_class("f", 3) is f and abstract_class("f", 2) is not f
    assert sp.diff(f(x, h, w), h) == partial_class("f", 3, 2)(x, h, w)
    # the chain rule through an argument that is an expression
    assert sp.diff(f(x, h**2, w), h) == 2 * h * partial_class("f", 3, 2)(x, h**2, w)
    assert str(sp.diff(abstract_class("f", 1)(x), x)) == "f'(x)"


# ---- printing ------------------------------------------------------------------------------

def test_partials_print_as_d2l_writes_them():
    x1, h0, wh1 = sp.symbols("x_1 h_0 w_h_1")  # d2l's w_h at step 1
    p = partial_class("f", 3, 2)(x1, h0, wh1)
    assert leibniz(p, "unicode") == "∂f(x₁, h₀, w_h₁)/∂h₀"
    assert leibniz(p, "ascii") == "df(x_1, h_0, w_h_1)/dh_0"
    assert leibniz(p, "latex") == (r"\frac{\partial f(x_{1}, h_{0}, w_{h,1})}"
                                   r"{\partial h_{0}}")
    q = partial_class("f", 2, 2)(x1, h0 + x1)  # not a symbol: the slot number
    assert leibniz(q, "unicode") == "∂₂f(x₁, h₀ + x₁)"
    assert leibniz(q, "ascii") == "D_2 f(x_1, h_0 + x_1)"
    assert leibniz(q, "latex") == r"\partial_{2} f(x_{1}, h_{0} + x_{1})"
    r = partial_class("f", 2, 1)(x1, x1)  # the same symbol twice: the slot number
    assert leibniz(r, "ascii") == "D_1 f(x_1, x_1)"
    assert leibniz(partial_class("f", 1, 1)(x1), "unicode") == "f'(x₁)"


# ---- the model file ------------------------------------------------------------------------

def test_d2l_loads_with_abstract_functions(spec):
    assert spec.functions == {"f": "abstract", "g": "abstract", "l": "abstract"}
    assert spec.loss == "L" and spec.states == ("h",)


def test_inconsistent_arity_is_a_model_file_error():
    text = D2L.read_text().replace('"o_t = g(h_t, w_o)"', '"o_t = f(h_t, w_o)"')
    with pytest.raises(ModelFileError) as exc:
        parse_model(text, path="m.toml")
    line = text.splitlines().index(next(ln for ln in text.splitlines()
                                        if ln.startswith("cell"))) + 1
    col = text.splitlines()[line - 1].index("f(h_t") + 1
    assert str(exc.value) == f"m.toml:{line}:{col}: f takes 3 arguments, not 2"


def test_inconsistent_arity_within_one_equation_points_at_the_call():
    text = D2L.read_text().replace('"o_t = g(h_t, w_o)"', '"o_t = g(h_t, w_o) + g(h_t)"')
    with pytest.raises(ModelFileError, match=r"m.toml:\d+:\d+: g takes 2 arguments, not 1"):
        parse_model(text, path="m.toml")
    row = next(ln for ln in text.splitlines() if ln.startswith("cell"))
    with pytest.raises(ModelFileError) as exc:
        parse_model(text, path="m.toml")
    assert str(exc.value).split(":")[2] == str(row.index("g(h_t)\"") + 1)


def test_unknown_role_names_abstract():
    text = D2L.read_text().replace('l = "abstract"', 'l = "abstrct"')
    with pytest.raises(ModelFileError, match="or 'abstract'"):
        parse_model(text, path="m.toml")


# ---- the derivation against SymPy's own diff -------------------------------------------------

def _stand_in(arity: int, rng: random.Random):
    """A stand-in typed here: a·sin(Σ bᵢ zᵢ + c) + d·exp(-(Σ eᵢ zᵢ)²/4) (not evaluate's)."""
    def r() -> sp.Rational:
        return sp.Rational(rng.randint(-90, 90) or 7, 60)
    a, c, d = r(), r(), r()
    b, e = [r() for _ in range(arity)], [r() for _ in range(arity)]

    def fn(*zs):
        return (a * sp.sin(sum(bi * z for bi, z in zip(b, zs)) + c)
                + d * sp.exp(-sum(ei * z for ei, z in zip(e, zs)) ** 2 / 4))
    return fn


def _concrete(expr: sp.Expr, fns: dict) -> sp.Expr:
    """Abstract functions and their partials replaced by the stand-ins (partials by
    SymPy's diff of the stand-in)."""
    def partial(cls):
        zs = sp.symbols(f"z1:{cls.arity + 1}")
        d = sp.diff(fns[cls.abstract_name](*zs), zs[cls.slot - 1])
        return lambda *args: d.xreplace(dict(zip(zs, args)))
    for cls in {type(a) for a in expr.atoms(sp.Function)}:
        if issubclass(cls, AbstractPartial):
            expr = expr.replace(cls, partial(cls))
        elif issubclass(cls, AbstractFunction):
            expr = expr.replace(cls, fns[cls.abstract_name])
    return expr


@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("wrt", ["w_h", "w_o"])
def test_closed_form_equals_sympy_diff_of_the_forward(spec, steps, wrt):
    rng = random.Random(steps * 10 + len(wrt))
    fns = {"f": _stand_in(3, rng), "g": _stand_in(2, rng), "l": _stand_in(2, rng)}
    w_h, w_o, h_init = sp.symbols("w_h w_o h_init")
    xs, ys = sp.symbols(f"x0:{steps}"), sp.symbols(f"y0:{steps}")
    h, total = h_init, sp.S.Zero
    for t in range(steps):  # d2l's forward, typed here
        h = fns["f"](xs[t], h, w_h)
        total += fns["l"](fns["g"](h, w_o), ys[t])
    loss = total / steps
    reference = sp.diff(loss, {"w_h": w_h, "w_o": w_o}[wrt])

    graph = unroll(spec, steps=steps)
    derived = _concrete(derive(graph, wrt=wrt, of="L", form="closed").equations[-1].rhs, fns)
    for _ in range(3):
        leaf = {w_h: sp.Rational(rng.randint(-9, 9), 10), w_o: sp.Rational(rng.randint(-9, 9), 10),
                h_init: sp.Rational(rng.randint(-9, 9), 10)}
        leaf.update({x: sp.Rational(rng.randint(-20, 20), 10) for x in xs})
        leaf.update({y: sp.Rational(rng.randint(1, 9), 10) for y in ys})
        env = {}  # the graph's leaves and nodes at this point
        for sym, node in graph.nodes.items():
            name = str(sym)
            if node.kind == "parameter":
                env[sym] = leaf[{"w_h": w_h, "w_o": w_o}[node.parameter]]
            elif node.kind == "initial":
                env[sym] = leaf[h_init]
            elif node.kind in ("input", "target"):
                env[sym] = leaf[sp.Symbol(name.replace("_", ""))]
            else:
                env[sym] = sp.N(_concrete(node.expr, fns).xreplace(env), 40)
        want = sp.N(reference.xreplace(leaf), 30)
        got = sp.N(derived.xreplace(env), 30)
        assert abs(want - got) < sp.Float("1e-25") * (1 + abs(want))


# ---- verify --------------------------------------------------------------------------------

def test_verify_passes_against_the_interpreter(spec):
    r = verify(spec, steps=5, oracles=("autograd", "fd", "complex-step"), points=16)
    assert r.passed, r.text()
    assert {row.oracle for row in r.rows} == {"autograd", "fd", "complex-step"}
    assert {row.parameter for row in r.rows} == {"w_h", "w_o"}


def test_interpreter_calls_the_named_stand_ins(spec):
    import numpy as np

    from bptt_sym.numeric.compiled import DEFAULT_STAND_INS
    from bptt_sym.verification.interpret import function_table

    fns = function_table(spec, np, ("f", "g", "L"))
    k = DEFAULT_STAND_INS.many("f", 3)
    z = (0.3, -0.2, 0.7)
    want = k[0] * np.sin(k[4] + sum(b * v for b, v in zip(k[1:4], z))) + \
        k[5] * np.tanh(k[-2] + sum(e * v for e, v in zip(k[6:9], z))) + k[-1]
    assert fns["f"](*(np.array(v) for v in z)) == pytest.approx(want, rel=1e-14)


# ---- check: hand formulas ------------------------------------------------------------------

RIGHT = "dh_2/dw_h = D_3 f(x_2, h_1, w_h) + D_2 f(x_2, h_1, w_h) * dh_1/dw_h"
WRONG_DROPPED = "dh_2/dw_h = D_3 f(x_2, h_1, w_h)"
WRONG_STEP = "dh_2/dw_h = D_3 f(x_2, h_1, w_h) + D_2 f(x_2, h_2, w_h) * dh_1/dw_h"


def test_the_chapters_recursion_holds_and_wrong_variants_fail(spec):
    graph = unroll(spec, steps=3)
    verdicts = check_graph("\n".join([RIGHT, WRONG_DROPPED, WRONG_STEP]), graph)
    assert [v.verdict for v in verdicts] == ["holds", "fails", "fails"]
    assert "f(z1, z2, z3)" in verdicts[1].counterexample


def test_a_wrong_number_of_arguments_is_invalid(spec):
    graph = unroll(spec, steps=2)
    (v,) = check_graph("dh_1/dh_0 = D_2 f(x_1, h_0)", graph)
    assert v.verdict == "invalid" and "f takes 3 arguments" in v.message


def test_hand_partials_by_slot_number(spec):
    graph = unroll(spec, steps=2)
    lines = ["dh_1/dh_0 = D_2 f(x_1, h_0, w_h_1)",
             "dh_1/dw_h = D_3 f(x_1, h_0, w_h_1) + D_2 f(x_1, h_0, w_h) * D_3 f(x_0, h_{-1}, w_h)",
             "do_1/dw_o = D_2 g(h_1, w_o_1)",
             "do_1/dw_o = D_1 g(h_1, w_o_1)"]
    assert [v.verdict for v in check_graph("\n".join(lines), graph)] == \
        ["holds", "holds", "holds", "fails"]


SLOTS = """name = "slots"
parameters = ["wx", "w_h"]
inputs = ["x"]
targets = ["y"]
initial = { h = "given" }
cell = ["h_t = f(wx x_t, w_h h_{t-1})", "e_t = l(h_t, y_t)"]
loss = "L = sum_t e_t"
functions = { f = "abstract", l = "abstract" }
"""


READS_PARTIALS = pytest.mark.skipif(
    not hasattr(formula, "DerivCall"),
    reason="reading ∂f(…)/∂x and l(o, y) needs the grammar change of formula.py (DerivCall)")


@pytest.mark.parametrize("form", ["closed", pytest.param("delta")])
@READS_PARTIALS
def test_derives_printed_ascii_reads_back_and_holds(form):
    graph = unroll(parse_model(SLOTS, path="slots.toml"), steps=2)
    d = derive(graph, wrt="wx", of="L", form=form)
    text = "\n".join(f"{leibniz(e.lhs, 'ascii')} = {leibniz(e.rhs, 'ascii')}"
                     for e in d.equations)
    assert "D_1 f(wx_1 * x_1, h_0 * w_h_1)" in text or form == "delta"
    verdicts = check_graph(text, graph)
    assert {v.verdict for v in verdicts} == {"holds"}, [v.text() for v in verdicts]


@pytest.mark.parametrize("fmt", ["unicode", "ascii", "latex"])
@READS_PARTIALS
def test_d2l_printed_closed_form_reads_back_and_holds(spec, fmt):
    graph = unroll(spec, steps=2)
    for wrt in ("w_h", "w_o"):
        e = derive(graph, wrt=wrt, of="L", form="closed").equations[-1]
        text = f"{leibniz(e.lhs, fmt)} = {leibniz(e.rhs, fmt)}"
        (v,) = check_graph(text, graph)
        assert v.verdict == "holds", v.text()


@READS_PARTIALS
def test_d2l_partials_in_leibniz_notation():
    graph = unroll(load_model(D2L), steps=3)
    lines = ["dh_2/dw_h = df(x_2, h_1, w_h)/dw_h + df(x_2, h_1, w_h)/dh_1 * dh_1/dw_h",
             "dh_2/dw_h = ∂f(x₂, h₁, w_h)/∂w_h + ∂f(x₂, h₁, w_h)/∂h₁·∂h₁/∂w_h",
             "dh_2/dw_h = df(x_2, h_1, w_h)/dw_h",
             "de_1/do_1 = dl(o_1, y_1)/do_1",
             "dh_2/dh_1 = df(x_2, h_1, w_h)/dh_3"]
    assert [v.verdict for v in check_graph("\n".join(lines), graph)] == \
        ["holds", "holds", "fails", "holds", "invalid"]
