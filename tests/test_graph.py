"""The unrolled graph: nodes, step copies and local partials of the article (S1-S12)."""

from __future__ import annotations

import pytest
import sympy as sp

from bptt_sym import BpttError, UsageError, step_symbol, unroll
from bptt_sym.rules.functions import rule
from bptt_sym.syntax.equations import parse_equation

from .conftest import Reference


def n(name: str) -> sp.Symbol:
    return sp.Symbol(name)


@pytest.mark.parametrize("steps", (1, 2, 3, 7))
def test_forward_values_match_the_article(steps: int) -> None:
    """Nested node values equal the hand-written S1-S12 recursion."""
    g = unroll("doc", steps=steps, activation="tanh", output="sigmoid", loss="bce")
    ref = Reference(steps, "tanh", "sigmoid", "bce").forward()
    values: dict[sp.Symbol, sp.Expr] = {}
    for sym, node in g.nodes.items():
        if node.expr is not None:
            values[sym] = node.expr.xreplace(values)
    from .conftest import _explicit_rules
    for name, expected in ref.items():
        assert sp.simplify(_explicit_rules(values[n(name)]) - expected) == 0, name


def test_step_copies_of_shared_parameters() -> None:
    g = unroll("doc", steps=2)
    assert g.copies == {"u": (n("u_0"), n("u_1")), "w": (n("w_0"), n("w_1")),
                        "k": (n("k_0"), n("k_1")), "v": (n("v_1"),)}
    assert g.nodes[n("s_{-1}")].kind == "initial"
    assert g.nodes[n("x_1")].kind == "input"
    assert list(g.nodes).index(n("s_0")) < list(g.nodes).index(n("b_1"))  # topological


def test_local_partials_come_from_the_rule_table() -> None:
    g = unroll("doc", steps=2, activation="tanh", output="sigmoid", loss="bce")
    s1, z1, o, q, y = n("s_1"), n("z_1"), n("o"), n("q"), n("y")
    assert g.local[(s1, z1)] == 1 - s1**2
    assert g.local[(o, q)] == o * (1 - o)
    assert sp.simplify(g.local[(n("E"), o)] - (o - y) / (o * (1 - o))) == 0
    assert g.local[(n("b_1"), n("s_0"))] == n("w_1")
    assert g.local[(z1, n("a_1"))] == 1
    g = unroll("doc", steps=2, activation="relu")
    assert g.local[(s1, z1)] == sp.Heaviside(z1, 0)


def test_softmax_output_warns() -> None:
    g = unroll("doc", steps=2, output="softmax")
    assert len(g.warnings) == 1 and "constant 1" in g.warnings[0]
    assert g.local[(n("o"), n("q"))] == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "--steps"), ({"steps": -3}, "--steps"), ({"steps": "2"}, "--steps"),
    ({"activation": "swish"}, "unknown activation 'swish'; choose one of f, tanh"),
    ({"loss": "hinge"}, "unknown loss"), ({"output": "relu"}, "unknown output"),
])
def test_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        unroll("doc", **kwargs)


def test_unknown_model() -> None:
    with pytest.raises(UsageError, match="unknown model 'minimal-gated'; choose one of doc"):
        unroll("minimal-gated")


def test_resolve_spellings() -> None:
    g = unroll("doc", steps=2)
    for spelling in ("s_{-1}", "s_-1", "s-1"):
        assert g.resolve(spelling) == (n("s_{-1}"),)
    for spelling in ("s1", "s_1", "s_{1}"):
        assert g.resolve(spelling) == (step_symbol("s", 1),)
    with pytest.raises(UsageError, match="out of range"):
        g.resolve("z_2")
    with pytest.raises(UsageError, match="its copies are v_1"):
        g.resolve("v_0")


@pytest.mark.parametrize("source, match", [
    ("z_t = a_t +", "cannot parse"), ("z_t = h(a_t)", "unknown function h"),
    ("z_t == a_t", "cannot parse"), ("__import__('os') = 1", "cannot parse"),
])
def test_model_equation_grammar_rejects(source: str, match: str) -> None:
    with pytest.raises(BpttError, match=match):
        parse_equation(source, functions={})


def test_model_equation_grammar_reads_indices() -> None:
    t = parse_equation("b_t = s_{t-1}*w + s_{T-1} + x_0", functions={})
    assert [str(p) for p in t.refs] == ["s[t-1]", "w", "s[T-1]", "x[0]"]
    assert t.refs[n("s[t-1]")].step(5, 9) == 4 and t.refs[n("s[T-1]")].step(5, 9) == 8
    assert rule("loss", "mse").derivative(n("o"), n("y"), out=n("E")) == n("o") - n("y")
