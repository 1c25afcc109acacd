"""bptt-sym with --model elman: derive prints the issue's matrix formulas, verify passes,
bad sizes and options are one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bptt_sym.verification.matrix import verify_elman


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bptt_sym", *args], capture_output=True,
                          text=True, timeout=300)


def test_derive_prints_the_matrix_formulas() -> None:
    r = run("derive", "--model", "elman", "--steps", "3", "--wrt", "W", "--format", "ascii")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # typed from the issue, in the ASCII notation (@ matrix product, * elementwise)
    assert "delta_t = (V^T @ (yhat_t - y_t) + W^T @ delta_{t+1}) * (1 - s_t * s_t)" in lines
    assert "dE/dW = sum_t delta_t @ s_{t-1}^T" in lines
    assert "dE/dW = delta_2 @ s_1^T + delta_1 @ s_0^T + delta_0 @ s_{-1}^T" in lines
    assert "ds_t/ds_{t-1} = diag(1 - s_t * s_t) @ W" in lines
    r = run("derive", "--model", "elman", "--wrt", "V,U", "--form", "delta", "--format", "json")
    doc = json.loads(r.stdout)
    rhs = [e["rhs"]["ascii"] for d in doc["derivations"] for e in d["equations"]]
    assert "sum_t (yhat_t - y_t) @ s_t^T" in rhs and "sum_t delta_t @ x_t^T" in rhs


def test_verify_cli_passes() -> None:
    r = run("verify", "--model", "elman", "--steps", "20", "--hidden", "16", "--inputs", "8",
            "--classes", "5", "--oracle", "autograd", "--oracle", "fd")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.rstrip().endswith("all passed")


def test_verify_with_biases_and_distribution_targets() -> None:
    r = verify_elman(steps=6, hidden=4, inputs=2, classes=3, bias=True, one_hot=False,
                     oracles=("autograd",), points=5)
    assert r.passed and {row.parameter for row in r.rows} == {"U", "W", "V", "b", "c"}


@pytest.mark.parametrize("args, words", [
    (("derive", "--model", "elman", "--hidden", "0"), "--hidden"),
    (("derive", "--hidden", "3"), "are for matrix models (--model elman"),
    (("derive", "--model", "elman", "--form", "closed"), "forms paths, delta"),
    (("derive", "--model", "elman", "--wrt", "Q"), "unknown --wrt 'Q'"),
    (("derive", "--model", "elman", "--loss", "bce"), "writes its output and loss"),
    (("verify", "--model", "elman", "--oracle", "jax"), "unknown oracle 'jax' for elman"),
    (("check", "-", "--model", "elman", "--hidden", "0"), "--hidden"),
    (("check", "/nonexistent.md", "--model", "elman"), "cannot read"),
])
def test_bad_input(args: tuple[str, ...], words: str) -> None:
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in r.stderr
