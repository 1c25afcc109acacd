"""verify: compiled derivations agree with autodiff and finite differences, and a wrong
gradient is caught."""

from __future__ import annotations

import importlib.util
import json
import os
from contextlib import nullcontext

import numpy as np
import pytest

from bptt_sym import UsageError, total, unroll
from bptt_sym.cli import main as cli
from bptt_sym.numeric.compiled import compile_gradients, point
from bptt_sym.verification.run import read_points, verify

HAVE_TORCH = importlib.util.find_spec("torch") is not None
IN_CI = os.environ.get("CI") == "true"

CHOICES = [("tanh", "sigmoid", "bce"), ("sigmoid", "sigmoid", "xent"),
           ("tanh", "identity", "mse"), ("relu", "sigmoid", "bce"),
           ("identity", "sigmoid", "mse"), ("f", "g", "L"), ("tanh", "g", "L"),
           ("f", "sigmoid", "bce")]


# every choice at T = 1, 2, 5, 50; a representative three at T = 500
CASES = [(t, c) for t in (1, 2, 5, 50) for c in CHOICES] + \
    [(500, c) for c in (CHOICES[0], CHOICES[1], CHOICES[5])]


@pytest.mark.parametrize("steps, choice", CASES)
def test_agrees_with_autograd(steps: int, choice: tuple[str, str, str]) -> None:
    act, out, loss = choice
    r = verify(steps=steps, activation=act, output=out, loss=loss, oracles=["autograd"],
               points=16, seed=steps)
    assert r.passed, r.text()
    assert len(r.rows) == 8 and all(row.max_rel <= 1e-9 for row in r.rows)


@pytest.mark.parametrize("choice", CHOICES[:3])
def test_finite_differences_and_complex_step(choice: tuple[str, str, str]) -> None:
    r = verify(steps=20, activation=choice[0], output=choice[1], loss=choice[2],
               oracles=["fd", "complex-step"], points=16)
    assert r.passed, r.text()
    assert {row.oracle for row in r.rows} == {"fd", "complex-step"}


def test_relu_skips_the_complex_step_with_a_reason() -> None:
    r = verify(steps=3, activation="relu", output="sigmoid", loss="bce",
               oracles=["complex-step", "autograd"], points=8)
    assert [s.oracle for s in r.skipped] == ["complex-step"]
    assert "not real-analytic" in r.skipped[0].reason
    assert r.passed


@pytest.mark.skipif(not HAVE_TORCH and not IN_CI, reason="torch not installed "
                    "(pip install 'bptt-sym[torch]')")
@pytest.mark.parametrize("steps", (1, 5, 50))
def test_agrees_with_torch(steps: int) -> None:
    assert HAVE_TORCH, "CI installs torch==2.13.0: the torch oracle must run there"
    r = verify(steps=steps, activation="tanh", output="sigmoid", loss="bce",
               oracles=["torch"], points=16)
    assert not r.skipped and r.passed, r.text()


def test_missing_oracle_is_a_skip_with_the_install_command(monkeypatch) -> None:  # noqa: ANN001
    import bptt_sym.verification.oracles as oracles

    real = importlib.util.find_spec
    monkeypatch.setattr(oracles.importlib.util, "find_spec",
                        lambda name: None if name == "jax" else real(name))
    r = verify(steps=2, oracles=["jax", "autograd"], points=4)
    assert [s.oracle for s in r.skipped] == ["jax"]
    assert "pip install 'bptt-sym[jax]'" in r.skipped[0].reason


def _drop_through_time(steps: int) -> dict:
    """dE/du with only the last step's copy: the through-time terms are missing."""
    g = unroll("doc", steps=steps, activation="tanh", output="sigmoid", loss="bce")
    return {"u": total(g, g.loss, (g.copies["u"][-1],))}


def test_corrupted_gradient_fails_for_exactly_that_parameter() -> None:
    r = verify(steps=5, activation="tanh", output="sigmoid", loss="bce",
               oracles=["autograd", "fd"], points=16, override=_drop_through_time(5))
    assert not r.passed
    failed = {(row.parameter, row.oracle) for row in r.rows if not row.passed}
    assert {p for p, _ in failed} == {"u"}
    assert failed == {("u", "autograd"), ("u", "fd")}


def test_cli_exit_1_on_failure(monkeypatch, capsys) -> None:  # noqa: ANN001
    real = cli.verify
    monkeypatch.setattr(cli, "verify", lambda *a, **k: real(*a, override=_drop_through_time(5),
                                                            **k))
    code = cli.main(["verify", "--steps", "5", "--activation", "tanh", "--output", "sigmoid",
                     "--loss", "bce", "--oracle", "autograd", "--points", "8"])
    out = capsys.readouterr().out
    assert code == 1
    fails = [line for line in out.splitlines() if line.endswith("FAIL")]
    assert fails and all(line.split()[1] == "u" for line in fails)
    assert "FAILED: 2 of 8 rows" in out


def test_cli_pass_json_and_table(capsys) -> None:  # noqa: ANN001
    assert cli.main(["verify", "--steps", "3", "--oracle", "autograd", "--points", "4",
                     "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert "seed 7, 4 points" in out and "stand-in f(z) = tanh(" in out
    assert cli.main(["verify", "--steps", "3", "--oracle", "fd", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is True and doc["points"] == 64
    assert {r["oracle"] for r in doc["rows"]} == {"fd"}
    assert set(doc["rows"][0]) >= {"form", "parameter", "max_abs", "max_rel", "tolerance"}


def test_at_file(tmp_path, capsys) -> None:  # noqa: ANN001
    f = tmp_path / "at.json"
    f.write_text(json.dumps({"u": [0.5, 0.1], "w": -0.3, "k": 0.1, "v": 0.8, "y": 0.3,
                             "s_{-1}": 0, "x": [[0.2, -0.4], [1.0, 0.5]]}))
    assert cli.main(["verify", "--at", str(f), "--activation", "tanh", "--oracle",
                     "autograd"]) == 0
    assert "2 points" in capsys.readouterr().out


@pytest.mark.parametrize("content, match", [
    ('{"u": NaN, "w": 1, "k": 1, "v": 1, "y": 0.5, "s_{-1}": 0, "x": [1, 2]}', "not finite"),
    ('{"w": 1, "k": 1, "v": 1, "y": 0.5, "s_{-1}": 0, "x": [1, 2]}', "no value for 'u'"),
    ('{"u": 1, "w": 1, "k": 1, "v": 1, "y": 0.5, "s_{-1}": 0, "x": [1, 2, 3]}', "needs 2"),
    ('{"u": "a", "w": 1, "k": 1, "v": 1, "y": 0.5, "s_{-1}": 0, "x": [1, 2]}', "not a number"),
    ('{"u": [1, 2, 3], "w": [1, 2], "k": 1, "v": 1, "y": 0.5, "s_{-1}": 0, "x": [1, 2]}',
     "different numbers of points"),
    ("[1, 2]", "one JSON object"), ("{nope", "not valid JSON"),
])
def test_bad_at_files(tmp_path, content: str, match: str) -> None:  # noqa: ANN001
    f = tmp_path / "at.json"
    f.write_text(content)
    with pytest.raises(UsageError, match=match):
        read_points(f, unroll("doc", steps=2))


@pytest.mark.parametrize("args, words", [
    (["--oracle", "sympy"], "invalid choice"), (["--points", "0"], "at least 1"),
    (["--at", "/nonexistent/at.json"], "cannot read"),
    (["--output", "identity", "--loss", "bce", "--activation", "tanh"], "--output sigmoid"),
])
def test_cli_bad_input_exit_2(args: list[str], words: str, capsys) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) if args[0] in ("--oracle", "--points") else nullcontext():
        code = cli.main(["verify", *args])
        assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in err[0]


def test_compiled_batch_of_10000_in_one_call() -> None:
    g = unroll("doc", steps=10, activation="tanh", output="sigmoid", loss="bce")
    c = compile_gradients(g, form="delta")
    rng = np.random.default_rng(0)
    n = 10_000
    values = {"u": rng.normal(size=n), "w": rng.uniform(-0.9, 0.9, n), "k": rng.normal(size=n),
              "v": rng.normal(size=n), "x": rng.normal(size=(n, 10)), "y": rng.uniform(size=n),
              "s_{-1}": np.zeros(n)}
    grads = c(values)
    assert all(v.shape == (n,) and np.all(np.isfinite(v)) for v in grads.values())
    one = c({k: v[3:4] for k, v in values.items()})
    assert np.allclose(one["u"], grads["u"][3], rtol=1e-14, atol=0)
    single = c(point(10, **{k: float(values[k][3]) for k in "uwkvy"},
                     x=list(values["x"][3])))
    assert np.allclose(single["w"], grads["w"][3], rtol=1e-14, atol=0)


@pytest.mark.skipif(importlib.util.find_spec("jax") is None,
                    reason="jax not installed (pip install 'bptt-sym[jax]')")
def test_agrees_with_jax() -> None:
    r = verify(steps=5, activation="tanh", output="sigmoid", loss="bce", oracles=["jax"],
               points=8)
    assert not r.skipped and r.passed, r.text()
