"""The formula grammar: every notation parses to the same tree; nothing else gets through."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bptt_sym.syntax.formula import MAX_DEPTH, PRODUCTS, Chain, ParseError, parse

SAME = [
    ["dE/du = dE/do * do/dq * v1 * ds1/dz1 * (x1 + w1 * ds0/dz0 * x0)",
     "∂E/∂u = ∂E/∂o·∂o/∂q·v₁·∂s₁/∂z₁·(x₁ + w₁·∂s₀/∂z₀·x₀)",
     r"\frac{\partial E}{\partial u} = \frac{\partial E}{\partial o} \cdot "
     r"\frac{\partial o}{\partial q} \cdot v_{1} \cdot \frac{\partial s_{1}}{\partial z_{1}}"
     r" \cdot \left(x_{1} + w_{1} \cdot \frac{\partial s_{0}}{\partial z_{0}} \cdot x_{0}\right)",
     r"\frac{dE}{du} = \frac{dE}{do} \times \frac{do}{dq} \times v_1 \times "
     r"\frac{ds_1}{dz_1} \times (x_1 + w_1 \times \frac{ds_0}{dz_0} \times x_0)",
     r"\partial E/\partial u = \partial E/\partial o ⋅ \partial o/\partial q ⋅ v_1 ⋅ "
     r"\partial s_1/\partial z_1 ⋅ [x_1 + w_1 ⋅ \partial s_0/\partial z_0 ⋅ x_0]"],
    ["ds1/dz1 = 1 - s1^2", "ds_1/dz_1 = 1 − s_1**2", "∂s₁/∂z₁ = 1 − s₁²",
     r"\frac{\partial s_{1}}{\partial z_{1}} = 1 - s_{1}^{2}"],
    ["dE/dw = s_{-1} * w1", "dE/dw = s_-1 · w_1", "dE/dw = s₋₁ w₁", "dE/dw = s_{-1} w_{1}"],
]


def _strip_columns(tree: object) -> object:
    """The tree without source columns, to compare notations (for scalars every way of
    writing a product means the same)."""
    if tree in PRODUCTS:
        return "product"
    if isinstance(tree, tuple):
        return tuple(_strip_columns(t) for t in tree)
    if hasattr(tree, "__dataclass_fields__"):
        return (type(tree).__name__,) + tuple(
            _strip_columns(getattr(tree, f)) for f in tree.__dataclass_fields__
            if f not in ("column", "written"))
    return tree


@pytest.mark.parametrize("group", SAME)
def test_notations_parse_to_the_same_tree(group: list[str]) -> None:
    trees = {repr(_strip_columns(parse(text))) for text in group}
    assert len(trees) == 1, trees


def test_sums_chains_functions() -> None:
    assert len(parse("a = b = c = d").sides) == 4
    for text in (r"dE/du = \sum_{t=0}^{1} \frac{\partial E}{\partial u_t}",
                 "dE/du = Σ_t ∂E/∂u_t", "dE/du = sum_{t=0}^{T-1} dE/du_t",
                 "dE/du = Σ_{t=0}^{1} dE/dz_t * x_t",
                 "ds1/dz1 = f'(z1)", "ds1/dz1 = tanh'(z_1)", "o = σ(q)", r"o = \sigma(q)",
                 r"s_1 = \tanh\left(z_1\right)", r"o = \operatorname{sigmoid}(q)",
                 "E = -(y * log(o) + (1 - y) * log(1 - o))", "q = 2 s_1 v_1", "q = v1 (s1)"):
        assert isinstance(parse(text), Chain), text


@pytest.mark.parametrize("text, column, words", [
    ("dE/du = ", 8, "unexpected end"),
    ("dE/du", 6, "no '='"),
    ("dE/du = (x1 + ", 14, "unexpected end"),
    ("dE/du = x1 $ 2", 12, "unexpected '$'"),
    ("__import__('os').system('rm -rf /') = 1", 1, "unexpected '_'"),
    ("dE/du = x1.__class__", 11, "unexpected"),
    ("lambda: 0 = 1", 7, "unexpected"),
    ("", 1, "empty"),
    ("x = 1e999999", 6, "larger than 1000"),
    ("x = 1.e3", 6, "unexpected '.'"),
])
def test_errors_name_the_column(text: str, column: int, words: str) -> None:
    with pytest.raises(ParseError) as info:
        parse(text)
    assert info.value.column == column, str(info.value)
    assert words in str(info.value)
    assert "^" in str(info.value).splitlines()[-1]


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    deep = "x = " + "(" * 10_000 + "1" + ")" * 10_000
    start = time.perf_counter()
    with pytest.raises(ParseError, match=f"deeper than {MAX_DEPTH}"):
        parse(deep)
    assert time.perf_counter() - start < 5
    ok = "x = " + "(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1)
    assert isinstance(parse(ok), Chain)


def test_very_long_formula() -> None:
    with pytest.raises(ParseError, match="longer than"):
        parse("x = " + "+".join(["x1"] * 20_000))


SEEDS = [line for group in SAME for line in group] + [
    "dL/du = sum_{t=0}^{1} dL/du_t = dL/do * do/ds1 * ds1/du1 + dL/do * do/ds1 * ds1/ds0 * ds0/du0",
    "dE/dq = (o - y) * o * (1 - o)"]
ALPHABET = st.sampled_from(list("dE/u=*()+-^_{}0123456789sxzwvoqy·∂−₁²\\ ,'$σΣ") +
                           [r"\frac", r"\partial", r"\cdot", r"\left(", r"\right)", "__import__"])


def _outcome(text: str) -> None:
    try:
        parse(text)
    except ParseError as exc:
        assert exc.column >= 1


@settings(max_examples=1500, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=120))
def test_random_text_parses_or_fails_cleanly(text: str) -> None:
    _outcome(text)


@settings(max_examples=1500, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 300), ALPHABET,
                                                  st.sampled_from(["insert", "delete",
                                                                   "replace"])), max_size=6))
def test_mutated_formulas_parse_or_fail_cleanly(seed: str, edits: list) -> None:
    text = seed
    for pos, piece, how in edits:
        pos = pos % (len(text) + 1)
        if how == "insert":
            text = text[:pos] + piece + text[pos:]
        elif how == "delete":
            text = text[:pos] + text[pos + len(piece):]
        else:
            text = text[:pos] + piece + text[pos + 1:]
    _outcome(text)
