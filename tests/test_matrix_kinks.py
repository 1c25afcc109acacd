"""The matrix checker sees every kink argument on both sides before it says holds: each entry
of z_t at each step (the model's s_t = relu(z_t)) and of every relu/step written in the
formula.  A formula right on one side of a kink only never holds; a right one still holds;
a kink that the points cannot cross leaves the formula undecided, with the kink named."""

from __future__ import annotations

import numpy as np
import pytest
from flint import fmpq

from bptt_sym.check import matrix as mcheck
from bptt_sym.check.kinks import Coverage
from bptt_sym.check.matrix import SHAPES, MatrixJudge, check_matrix
from bptt_sym.graph.matrix import ELMAN
from bptt_sym.graph.resolve_matrix import MatrixNames

SEEDS = range(5)


def _verdicts(text: str, **kw: object) -> list[str]:
    return [v.verdict for v in check_matrix(text, **kw)]


# Each is right where the kink argument is positive (or negative) and wrong on the other side.
ONE_SIDED = [
    "ds_t/dz_t = diag(1 + 0*z_t)",        # the identity: right only where z_t > 0
    "ds_t/dz_t = diag(0*z_t)",            # zero: right only where z_t < 0
    "s_t = z_t",                          # relu(z) = z only for z > 0
    "ds_t/ds_{t-1} = W",                  # drops diag(step(z_t))
    "delta_t = (V^T (yhat_t - y_t) + W^T delta_{t+1}) * (1 + 0*z_t)",
    "delta_t = (V^T (yhat_t - y_t) + W^T delta_{t+1}) * (0*z_t)",
]
FORMULA_KINKS = [
    "relu(z_t) = z_t",                    # in the formula, right only for z > 0
    "step(z_t) = 1 + 0*z_t",
    "step(z_t) = 0*z_t",
    "relu(z_t) = 0*z_t",
    "relu(z_t + 3) = z_t + 3",            # the kink at z = −3: right for most moderate points
    "step(z_t - 3) = 0*z_t",              # the kink at z = 3
]
RIGHT = [
    "ds_t/dz_t = diag(step(z_t))",
    "ds_t/dz_t = diag(f'(z_t))",
    "ds_t/ds_{t-1} = diag(step(z_t)) W",
    "relu(z_t) = s_t",
    "s_t = z_t * step(z_t)",
    "delta_t = (V^T (yhat_t - y_t) + W^T delta_{t+1}) * step(z_t)",
    "dE/dW = sum_t delta_t s_{t-1}^T",
]


@pytest.mark.parametrize("seed", SEEDS)
def test_formulas_right_on_one_side_of_the_models_kink_fail(seed: int) -> None:
    assert _verdicts("\n".join(ONE_SIDED), steps=3, activation="relu", seed=seed) == \
        ["fails"] * len(ONE_SIDED)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("seed", SEEDS)
def test_formulas_right_on_one_side_of_their_own_kink_fail(activation: str, seed: int) -> None:
    assert _verdicts("\n".join(FORMULA_KINKS), steps=3, activation=activation, seed=seed) == \
        ["fails"] * len(FORMULA_KINKS)


@pytest.mark.parametrize("seed", SEEDS)
def test_right_formulas_with_kinks_hold(seed: int) -> None:
    got = check_matrix("\n".join(RIGHT), steps=3, activation="relu", seed=seed)
    assert [v.verdict for v in got] == ["holds"] * len(RIGHT), [v.text() for v in got]


def test_the_same_seed_gives_the_same_report() -> None:
    text = "\n".join(RIGHT + ONE_SIDED[:2] + ["relu(s_t) = s_t"])
    runs = [[v.text() for v in check_matrix(text, steps=3, activation="relu", seed=3)]
            for _ in range(2)]
    assert runs[0] == runs[1]


# ---------------------------------------------------------------- a kink never crossed


@pytest.mark.parametrize("text, side", [
    ("relu(1 + 0*z_t) = 1 + 0*z_t", "negative"),   # the argument is always 1
    ("relu(s_t) = s_t", "negative"),               # s_t = relu(z_t) is never negative
    ("step(0*z_t) = 0*z_t", "positive"),           # exactly 0 counts as neither side
])
def test_a_kink_the_points_cannot_cross_is_undecided(text: str, side: str) -> None:
    for seed in (0, 1):
        (v,) = check_matrix(text, steps=2, activation="relu", seed=seed)
        assert v.verdict == "undecided", v.text()
        assert "was never crossed at the 64 points tried" in v.message
        assert f"(never {side})" in v.message and "t = 0, entry 1" in v.message


def test_without_further_points_an_uncovered_model_kink_is_undecided(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No pool beyond the six fixed points: where they leave an entry of z_t on one side, a
    right formula is undecided (never holds), and it names that entry."""
    monkeypatch.setattr(mcheck, "POOL", len(SHAPES) * mcheck.POINTS_PER_SHAPE)
    got = {seed: check_matrix("dE/dV = sum_t (yhat_t - y_t) s_t^T", steps=3,
                              activation="relu", seed=seed)[0] for seed in range(6)}
    undecided = [v for v in got.values() if v.verdict == "undecided"]
    assert undecided and all(v.verdict in ("holds", "undecided") for v in got.values())
    for v in undecided:
        assert "the kink of relu(z_" in v.message and "at the 6 points tried" in v.message
    # the same seeds with the pool: every one holds
    for seed, v in got.items():
        if v.verdict == "undecided":
            monkeypatch.setattr(mcheck, "POOL", 64)
            assert check_matrix(v.source, steps=3, activation="relu",
                                seed=seed)[0].verdict == "holds"


def test_without_further_points_a_one_sided_formula_does_not_hold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """relu(z_t + 8) = z_t + 8 is right wherever z_t > −8: at moderate points nearly always,
    so the fixed points alone would say holds.  Without the pool it is undecided; with it, the
    wider points cross the kink and it fails."""
    text = "relu(z_t + 8) = z_t + 8"
    for seed in SEEDS:
        monkeypatch.setattr(mcheck, "POOL", 6)
        (v,) = check_matrix(text, steps=2, activation="tanh", seed=seed)
        assert v.verdict == "undecided" and "relu(z_t + 8)" in v.message, v.text()
        monkeypatch.setattr(mcheck, "POOL", 64)
        (v,) = check_matrix(text, steps=2, activation="tanh", seed=seed)
        assert v.verdict == "fails", v.text()
        assert v.counterexample is not None


# ---------------------------------------------------------------- no kinks: no extra points


def test_formulas_without_kinks_use_the_fixed_points_only() -> None:
    names = MatrixNames(ELMAN, 3, activation="tanh")
    judge = MatrixJudge(names, 0, SHAPES)
    got = check_matrix("dE/dV = sum_t (yhat_t - y_t) s_t^T\n"
                       "delta_t = (V^T (yhat_t - y_t) + W^T delta_{t+1}) * (1 - s_t^2)",
                       steps=3)
    assert [v.verdict for v in got] == ["holds", "holds"]
    assert all("for the kinks" not in v.message for v in got)
    assert len(judge.points) == judge.base == 6


def test_extra_points_are_reported() -> None:
    texts = [check_matrix(RIGHT[0], steps=3, activation="relu", seed=s)[0].message
             for s in SEEDS]
    assert any("more for the kinks" in t for t in texts), texts


def test_coverage_counts_each_entry_and_zero_as_neither_side() -> None:
    c = Coverage()
    c.note("a", "relu(z_0)", np.array([[fmpq(1)], [fmpq(-1)], [fmpq(0)]], dtype=object))
    c.note("a", "relu(z_0)", np.array([[fmpq(-2)], [fmpq(3)], [fmpq(0)]], dtype=object))
    assert c.gaps() == [("a", 2)]
    assert c.missing() == ("relu(z_0), entry 3", "positive")
    c.note("b", "step(W)", np.array([[fmpq(1), fmpq(-1)]], dtype=object))
    assert c.labels[("b", 1)] == "step(W), entry (1, 2)"


@pytest.mark.parametrize("text", ["dsδ/dz=s", "df(s_1, z_1)/dz_1 = s_1"])
def test_a_partial_of_a_function_is_invalid_in_matrix_formulas(text: str) -> None:
    """Found by the fuzzer (seed 3, input 8837): the scalar grammar's ∂f(…)/∂x reached the
    matrix reader, which had no meaning for it (an AttributeError)."""
    from bptt_sym.check.matrix import check_matrix

    (v,) = check_matrix(text, steps=2)
    assert v.verdict == "invalid" and "scalar model files" in v.message, v.message
