"""gradcheck names truncated BPTT in gated cells (issue 14): LSTM and GRU backward passes
written as tutorial code truncates (the error of step t's loss back to steps t − k … t,
tests/gradcheck/*_columns.py ``backward_truncated``), k = 0 … T − 2, and the GRU pass that
never adds dh_next.  The reference for which parameters a truncation changes is the test
pass itself: the untruncated run (k = T − 1) equals the full backward pass."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from .tools import bptt

T = 5


def _point(tmp_path: Path, model: str) -> dict:
    path = tmp_path / "point.npz"
    r = bptt("values", "--model", model, "--steps", str(T), "--seed", "4", "-o", str(path))
    assert r.returncode == 0, r.stderr
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def _gradcheck(tmp_path: Path, model: str, grads: dict) -> tuple[int, dict]:
    np.savez(tmp_path / "grads.npz", **grads)
    r = bptt("gradcheck", "--model", model, "--steps", str(T), "--at",
             str(tmp_path / "point.npz"), "--grads", str(tmp_path / "grads.npz"), "--json")
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, {p["parameter"]: p for p in json.loads(r.stdout)["parameters"]}


@pytest.mark.parametrize("model", ["lstm", "gru"])
@pytest.mark.parametrize("k", [0, 1, 3])
def test_gated_truncation_is_named_with_its_k(tmp_path: Path, model: str, k: int) -> None:
    module = importlib.import_module(f"tests.gradcheck.{model}_columns")
    point = _point(tmp_path, model)
    full = module.backward(point)
    untruncated = module.backward_truncated(point, T - 1)
    assert all(np.max(np.abs(full[p] - untruncated[p])) < 1e-12 for p in full)
    theirs = module.backward_truncated(point, k)
    changed = {p for p in full if np.max(np.abs(full[p] - theirs[p])) >
               1e-6 * np.max(np.abs(full[p]))}
    assert {"V", "b_y"}.isdisjoint(changed) and changed
    if model == "lstm" and k == T - 2:  # the one dropped piece of W_h* multiplies h_{-1} = 0
        assert not any(p.startswith("W_h") for p in changed)
    status, got = _gradcheck(tmp_path, model, theirs)
    assert status == 1
    want = "the through-time term dropped" if k == 0 else f"truncated after {k} step"
    for p, r in got.items():
        if p in changed:
            assert r["verdict"] == "wrong" and r["diagnosis"].startswith(want), r
        else:
            assert r["verdict"] == "matches", r
    status, _ = _gradcheck(tmp_path, model, untruncated)
    assert status == 0


def test_gru_without_dh_next_is_the_through_time_term_dropped(tmp_path: Path) -> None:
    from .gradcheck import gru_columns
    point = _point(tmp_path, "gru")
    theirs = gru_columns.backward(point, "no-through-time")
    k0 = gru_columns.backward_truncated(point, 0)
    assert all(np.max(np.abs(theirs[p] - k0[p])) < 1e-12 for p in theirs)
    status, got = _gradcheck(tmp_path, "gru", theirs)
    assert status == 1 and got["V"]["verdict"] == "matches"
    assert got["W_hz"]["diagnosis"].startswith("the through-time term dropped")
