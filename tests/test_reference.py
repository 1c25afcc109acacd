"""Every equation bptt_sym prints is true: checked against SymPy's diff of the nested loss."""

from __future__ import annotations

import pytest
import sympy as sp

from bptt_sym import FORMS, derive, unroll
from bptt_sym.notation import Partial

from .conftest import PARAMETERS, STEPS, Reference, equal


def check_all(graph, ref: Reference, **kw) -> int:  # noqa: ANN001
    checked = 0
    for form in FORMS:
        d = derive(graph, form=form, **kw)
        for eq in d.equations:
            assert equal(ref.value(eq.lhs), ref.value(eq.rhs)), (form, eq)
            checked += 1
    return checked


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("wrt", PARAMETERS)
def test_abstract_every_form_holds(steps: int, wrt: str) -> None:
    g = unroll("doc", steps=steps)
    assert check_all(g, Reference(steps), wrt=wrt) >= 4


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("wrt", PARAMETERS)
@pytest.mark.parametrize("choice", [("tanh", "sigmoid", "bce"), ("sigmoid", "identity", "mse"),
                                    ("tanh", "sigmoid", "xent"), ("identity", "identity", "mse")])
def test_concrete_every_form_holds(steps: int, wrt: str, choice: tuple[str, str, str]) -> None:
    act, out, loss = choice
    g = unroll("doc", steps=steps, activation=act, output=out, loss=loss)
    check_all(g, Reference(steps, act, out, loss), wrt=wrt)


@pytest.mark.parametrize("steps", (1, 2, 3))
def test_explicit_closed_form_holds(steps: int) -> None:
    g = unroll("doc", steps=steps, activation="tanh", output="sigmoid", loss="bce")
    ref = Reference(steps, "tanh", "sigmoid", "bce")
    for wrt in PARAMETERS:
        (eq,) = derive(g, wrt=wrt, form="closed", explicit=True).equations
        names = {str(s) for s in eq.rhs.free_symbols}
        assert not names & {"s_0", "z_0", "o", "q", "a_0"}, names  # inputs and parameters only
        assert equal(ref.value(eq.lhs), ref.value(eq.rhs))


@pytest.mark.parametrize("of, wrt", [("s_2", "s_0"), ("s_2", "u"), ("E", "z_0"), ("q", "w_1"),
                                     ("E", "s_{-1}"), ("o", "x_0"), ("s_1", "k")])
def test_total_derivative_between_any_two_nodes(of: str, wrt: str) -> None:
    g = unroll("doc", steps=3)
    check_all(g, Reference(3), wrt=wrt, of=of)


def test_no_path_gives_zero() -> None:
    g = unroll("doc", steps=3)
    (eq,) = derive(g, of="s_0", wrt="s_2", form="closed").equations
    assert eq.rhs == 0


def test_wrong_equations_are_rejected_by_the_reference() -> None:
    """The checking machinery itself must reject a derivation that drops a time step."""
    ref = Reference(2)
    s1, z1, z0, s0 = sp.symbols("s_1 z_1 z_0 s_0")
    E, o, q, u = sp.symbols("E o q u")
    x1, v1 = sp.symbols("x_1 v_1")
    # B5 without the through-time term w_1 * ds_0/dz_0 * x_0
    truncated = Partial(E, o) * Partial(o, q) * v1 * Partial(s1, z1) * x1
    assert not equal(ref.value(Partial(E, u)), ref.value(truncated))
    g = unroll("doc", steps=2, activation="tanh", output="sigmoid", loss="bce")
    ref = Reference(2, "tanh", "sigmoid", "bce")
    (eq,) = derive(g, wrt="u", form="closed").equations
    assert equal(ref.value(eq.lhs), ref.value(eq.rhs))
    assert not equal(ref.value(eq.lhs), ref.value(eq.rhs * (1 + sp.Rational(1, 10**6))))
    assert not equal(ref.value(eq.lhs), -ref.value(eq.rhs))
