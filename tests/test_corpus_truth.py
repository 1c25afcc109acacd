"""The corpus's recorded verdicts (tests/corpus/*.toml, ``correct``) confirmed by the
independent numeric checks of tests/corpus/truth_*.py: a formula recorded true has sides
that agree at random points, one recorded false has a point where they differ."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from tests.corpus.cases import HERE, Case, agree, formulas

FORMULAS = formulas()


def cases() -> dict[str, Case]:
    out: dict[str, Case] = {}
    for path in sorted(HERE.glob("truth_*.py")):
        module = importlib.import_module(f"tests.corpus.{path.stem}")
        for key, case in module.CASES.items():
            assert key not in out, f"{key} has two cases"
            out[key] = case
    return out


CASES = cases()


def test_every_case_is_a_corpus_formula() -> None:
    assert sorted(set(CASES) - set(FORMULAS)) == []


@pytest.mark.parametrize("key", sorted(k for k, c in CASES.items() if c.sides is not None))
def test_the_recorded_verdict_is_the_numeric_truth(key: str) -> None:
    case, recorded = CASES[key], FORMULAS[key]["correct"]
    if "/" in case.model:
        assert (Path(__file__).resolve().parent.parent / case.model).is_file(), case.model
    results = []
    for seed in range(3):
        results.append(all(agree(a, b) for a, b in case.sides(np.random.default_rng(seed))))
    if recorded is True:
        assert all(results), f"{key}: recorded true, but the sides differ at a random point"
    elif recorded is False:
        assert not all(results), f"{key}: recorded false, but the sides agree at 3 points"


def test_an_outside_case_says_why() -> None:
    for key, case in CASES.items():
        assert (case.sides is None) == bool(case.outside), key
