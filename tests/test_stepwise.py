"""stepwise: compiled code per step, not per graph; equal steps share it, others do not;
stored values are released; a block order that cannot run falls back to straight-line code."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from bptt_sym import BpttError, UsageError, derive, unroll
from bptt_sym.numeric.anchors import Unit, forward_blocks
from bptt_sym.numeric.compiled import (
    DEFAULT_STAND_INS,
    _elementary,
    compile_gradients,
    compile_loss,
    leaf_names,
)
from bptt_sym.numeric.stepwise import build
from bptt_sym.verification.oracles import doc_loss, functions
from bptt_sym.verification.run import draw_points, verify

CHOICES = [("tanh", "sigmoid", "bce"), ("f", "g", "L"), ("relu", "identity", "mse")]


def _points(graph, n: int = 8, seed: int = 0) -> dict:  # noqa: ANN001
    return draw_points(graph, n, np.random.default_rng(seed))


def _max_rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("choice", CHOICES)
@pytest.mark.parametrize("form", ["delta", "closed"])
def test_compiled_code_does_not_grow_with_the_steps(form: str, choice: tuple) -> None:
    counts = {}
    for steps in (5, 50, 300):
        c = compile_gradients(unroll("doc", steps=steps, activation=choice[0],
                                     output=choice[1], loss=choice[2]), form=form)
        counts[steps] = len(c.fn.calls)
        assert len(c.fn.schedule) <= 2 * steps + 3
    assert len(set(counts.values())) == 1 and counts[5] <= 6, counts


@pytest.mark.parametrize("choice", CHOICES)
@pytest.mark.parametrize("steps", [1, 2, 7, 40])
def test_delta_and_closed_agree_and_the_loss_is_the_reference(steps: int, choice: tuple) -> None:
    g = unroll("doc", steps=steps, activation=choice[0], output=choice[1], loss=choice[2])
    values = _points(g, seed=steps)
    for of in ("E", "q", "s_0", f"z_{steps - 1}"):
        delta = compile_gradients(g, form="delta", of=of)(values)
        closed = compile_gradients(g, form="closed", of=of)(values)
        assert all(_max_rel(delta[p], closed[p]) <= 1e-12 for p in "uwkv"), of
    ref = doc_loss({p: values[p] for p in "uwkv"}, values["x"], values["s_{-1}"], values["y"],
                   functions(np, *choice))
    assert _max_rel(compile_loss(g)(values)["E"], ref) <= 1e-12


def _live_peak(program) -> int:  # noqa: ANN001
    live: set[int] = set()
    peak = 0
    for _, _, writes, _, done in program.schedule:
        live.update(writes)
        peak = max(peak, len(live))
        live.difference_update(done)
    return peak


@pytest.mark.parametrize("form", ["delta", "closed"])
def test_stored_values_are_released_after_their_last_read(form: str) -> None:
    # the forward pass keeps the s_t and z_t that the backward steps read; beyond those,
    # what is alive at once does not grow with T
    extra = {steps: _live_peak(compile_gradients(unroll("doc", steps=steps, activation="f"),
                                                 form=form).fn) - 2 * steps
             for steps in (50, 200)}
    assert extra[50] == extra[200] <= 8, extra


def test_a_wrong_step_gets_its_own_code_and_fails() -> None:
    steps = 20
    g = unroll("doc", steps=steps, activation="tanh", output="sigmoid", loss="bce")
    right = derive(g, wrt="u", form="closed").equations[-1].rhs
    w7 = g.copies["w"][7]
    wrong = right.xreplace({w7: 2 * w7})
    assert len(compile_gradients(g, form="closed", override={"u": wrong}).fn.calls) > \
        len(compile_gradients(g, form="closed", override={"u": right}).fn.calls)
    r = verify(steps=steps, activation="tanh", output="sigmoid", loss="bce",
               oracles=["autograd"], points=8, override={"u": wrong})
    assert {row.parameter for row in r.rows if not row.passed} == {"u"}


def test_blocks_that_cannot_run_in_order_become_straight_line_code() -> None:
    g = unroll("doc", steps=6, activation="tanh", output="sigmoid", loss="bce")
    tail = [Unit(0, g.loss)]
    blocks = forward_blocks(g, tail)[::-1]  # the head first: s_5 is not computed yet
    natural = [u for _, units in forward_blocks(g, tail) for u in units]
    lower = functools.partial(_elementary, stand_ins=DEFAULT_STAND_INS)
    program = build(g, blocks, leaf_names(g), n_out=1, natural=natural, lower=lower)
    assert len(program.calls) == 1
    values = _points(g)
    args = [values[n].T if n == "x" else values[n] for n in leaf_names(g)]
    assert _max_rel(program(*args)[0], compile_loss(g)(values)["E"]) <= 1e-15
    with pytest.raises(BpttError, match="out of order"):
        build(g, blocks, leaf_names(g), n_out=1, lower=lower)


def test_a_symbol_outside_the_graph_is_a_usage_error() -> None:
    import sympy as sp

    g = unroll("doc", steps=3, activation="tanh", output="sigmoid", loss="bce")
    with pytest.raises(UsageError, match="cannot evaluate u: it is not a value of the graph"):
        compile_gradients(g, form="closed", override={"u": sp.Symbol("u")})


def test_x_with_the_wrong_number_of_steps_is_a_usage_error() -> None:
    g = unroll("doc", steps=3, activation="tanh", output="sigmoid", loss="bce")
    values = _points(unroll("doc", steps=4), n=2)
    with pytest.raises(UsageError, match="expected 3 rows"):
        compile_gradients(g, form="delta")(values)
