"""verify --model elman --at FILE: values from a JSON file, checked against the sizes.

The reference for "the gradient at those values" is autograd on the hand-written forward
pass of ``elman_oracles``, fed with arrays the test builds itself from the same JSON
object (not with what the reader returns).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bptt_sym.cli import main as cli
from bptt_sym.graph.matrix import unroll_vector
from bptt_sym.numeric.matrix import matrix_program
from bptt_sym.verification.matrix_oracles import elman_gradient, max_rel
from bptt_sym.verification.points import read_elman_points

# hidden 4, inputs 3, classes 3, T = 3: the defaults of --model elman
POINT = {
    "U": [[0.5, -0.2, 0.1], [0.3, 0.2, -0.4], [0.0, 0.1, 0.2], [-0.3, 0.4, 0.1]],
    "W": [[0.1, 0.2, 0.0, -0.1], [0.0, 0.3, 0.1, 0.2], [0.2, -0.1, 0.1, 0.0],
          [0.1, 0.0, -0.2, 0.3]],
    "V": [[0.4, -0.3, 0.2, 0.1], [0.0, 0.5, -0.1, 0.3], [-0.2, 0.1, 0.3, -0.4]],
    "x": [[1.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-0.2, 0.3, 0.9]],
    "y": [[1, 0, 0], [0, 0, 1], [0.25, 0.5, 0.25]],
    "s_{-1}": [0.1, -0.1, 0.2, 0.0],
}


def write(tmp_path: Path, obj: object, name: str = "points.json") -> Path:
    f = tmp_path / name
    f.write_text(json.dumps(obj) if not isinstance(obj, str) else obj, encoding="utf-8")
    return f


def by_hand(point: dict, steps: int) -> dict[str, np.ndarray]:
    """The oracle's layout, built here from the JSON object: one sequence, B = 1."""
    vals = {p: np.array(point[p], dtype=float) for p in ("U", "W", "V")}
    vals["s_{-1}"] = np.array(point.get("s_{-1}", [0.0] * 4), dtype=float)[None, :, None]
    for t in range(steps):
        vals[f"x_{t}"] = np.array(point["x"][t], dtype=float)[None, :, None]
        vals[f"y_{t}"] = np.array(point["y"][t], dtype=float)[None, :, None]
    return vals


def test_a_file_of_values_verifies(tmp_path: Path) -> None:
    f = write(tmp_path, POINT)
    r = subprocess.run([sys.executable, "-m", "bptt_sym", "verify", "--model", "elman",
                        "--steps", "3", "--at", str(f), "--oracle", "autograd", "--oracle",
                        "fd"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "seed None, 1 points" in r.stdout and r.stdout.rstrip().endswith("all passed")
    assert r.stdout.count("PASS") == 7  # the forward check and 3 weights × 2 oracles


def test_the_gradient_is_autograds_at_exactly_those_values(tmp_path: Path) -> None:
    g = unroll_vector(steps=3, hidden=4, inputs=3, classes=3)
    values = read_elman_points(write(tmp_path, POINT), g)
    mine = by_hand(POINT, 3)
    assert set(values) == set(mine)
    for k in mine:
        assert np.array_equal(values[k], mine[k]), k
    derived = matrix_program(g)(values)
    assert max_rel(derived, elman_gradient("autograd", mine, steps=3)) < 1e-12
    # the point matters: at s_{-1} = 0 (the default when left out) the gradient differs
    zero = {k: v for k, v in POINT.items() if k != "s_{-1}"}
    moved = matrix_program(g)(read_elman_points(write(tmp_path, zero, "zero.json"), g))
    assert max_rel(moved, derived) > 1e-3
    assert max_rel(moved, elman_gradient("autograd", by_hand(zero, 3), steps=3)) < 1e-12


def test_a_deliberately_wrong_gradient_is_told_apart_at_the_file_values(tmp_path: Path) -> None:
    g = unroll_vector(steps=3, hidden=4, inputs=3, classes=3)
    values = read_elman_points(write(tmp_path, POINT), g)
    wrong = dict(matrix_program(g)(values))
    wrong["W"] = wrong["W"].T  # δ_t s_{t-1}ᵀ written as s_{t-1} δ_tᵀ
    assert max_rel(wrong, elman_gradient("autograd", by_hand(POINT, 3), steps=3)) > 1e-3


def test_batches_per_step_names_and_biases(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    batch = dict(POINT, x=[POINT["x"], np.eye(3).tolist()], **{"s_{-1}": [[0, 0, 0, 0],
                                                                         [1, 1, 1, 1]]})
    assert cli.main(["verify", "--model", "elman", "--steps", "3", "--at",
                     str(write(tmp_path, batch)), "--oracle", "autograd"]) == 0
    assert "seed None, 2 points" in capsys.readouterr().out
    steps = {k: v for k, v in POINT.items() if k not in ("x", "y")}
    steps.update({f"x_{t}": POINT["x"][t] for t in range(3)})
    steps.update({f"y_{t}": POINT["y"][t] for t in range(3)})
    g = unroll_vector(steps=3, hidden=4, inputs=3, classes=3)
    a = read_elman_points(write(tmp_path, steps, "steps.json"), g)
    b = read_elman_points(write(tmp_path, POINT), g)
    assert all(np.array_equal(a[k], b[k]) for k in b)
    biased = dict(POINT, b=[0.1, 0.0, -0.1, 0.2], c=[0.0, 0.3, -0.3])
    assert cli.main(["verify", "--model", "elman", "--steps", "3", "--bias", "--at",
                     str(write(tmp_path, biased, "b.json")), "--oracle", "autograd"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("all passed")


def _with(**changes: object) -> dict:
    out = dict(POINT)
    for k, v in changes.items():
        if v is None:
            del out[k]
        else:
            out[k] = v
    return out


BAD = [  # (file content, extra options, words of the one-line message)
    (_with(W=[[0.1] * 4] * 3), [],
     "W has shape 3×4 in points.json; with --hidden 4 it must be 4×4"),
    (_with(U=[[0.1] * 4] * 4), [],
     "U has shape 4×4 in points.json; with --hidden 4 --inputs 3 it must be 4×3"),
    (_with(x=[[1, 2, 3]] * 2), [],
     "x has shape 2×3 in points.json; with --steps 3 --inputs 3 it must be 3×3, or B×3×3"),
    (_with(V=0.5), [], "V is a single number in points.json; with --classes 3 --hidden 4"),
    (_with(**{"s_{-1}": [0, 0, 0]}), [], "s_{-1} has shape 3 in points.json; with --hidden 4"),
    (json.dumps(POINT).replace('"W": [[0.1', '"W": [[NaN', 1), [],
     "W[0][0] in points.json is nan; every value must be a finite number"),
    (json.dumps(POINT).replace("0.5, 0.5, 0.5", "0.5, Infinity, 0.5", 1), [],
     "x[1][1] in points.json is inf"),
    (json.dumps(_with(U=None)).replace("{", '{"U": 1e999, ', 1), [],
     "U in points.json is inf; every value must be a finite number"),
    (json.dumps(_with(U=None)).replace("{", '{"U": [[' + "9" * 400 + "]], ", 1), [],
     "U in points.json holds a whole number of 400 digits"),
    (_with(Q=[1, 2]), [], "points.json has an unknown name 'Q'; elman takes U, W, V, x"),
    (_with(s_0=[0, 0, 0, 0]), [], "unknown name 's_0'"),
    (_with(x=None, x_0=[1, 2, 3], x_1=[1, 2, 3], x_2=[1, 2, 3], x_5=[1, 2, 3]), [],
     "x_5 in points.json is out of range: with --steps 3 the steps are 0..2"),
    (_with(x=None, x_0=[1, 2, 3], x_2=[1, 2, 3]), [], "points.json has no value for x_1"),
    (_with(x_0=[1, 2, 3]), [], "gives both x and x_0"),
    (_with(V=None), [], "points.json has no value for V; it needs U, W, V, x"),
    (_with(b=[0, 0, 0, 0]), [], "gives the bias b, but the model has none; add --bias"),
    (_with(), ["--bias"], "points.json has no value for b"),
    (_with(U=[[0.1, 0.2], [0.1, 0.2, 0.3]]), [], "U in points.json is not a rectangular array"),
    (_with(W="0.5"), [], 'W in points.json holds "0.5", not a number'),
    (_with(W=[[True] * 4] * 4), [], "W in points.json holds true, not a number"),
    (_with(y=[[1, 0, 0], [0, 0, 1], [0.5, 0, 0]]), [],
     "y_2 sums to 0.5 in points.json; a target of softmax with cross-entropy"),
    (_with(x=[POINT["x"]] * 2, y=[POINT["y"]] * 3), [],
     "x has 2 points and y has 3 in points.json"),
    (_with(y=None, y_0=[[1, 0, 0]] * 2, y_1=[[0, 1, 0]] * 3, y_2=[0, 0, 1]), [],
     "y_0 has 2 points and y_1 has 3 in points.json"),
    (_with(x=[POINT["x"]], **{"s_{-1}": [[0, 0, 0, 0]] * 2}), [],
     "x has 1 point and s_{-1} has 2 in points.json"),
    (_with(), ["--steps", "2"], "x has shape 3×3 in points.json; with --steps 2"),
    (_with(), ["--hidden", "5"], "U has shape 4×3 in points.json; with --hidden 5 --inputs 3"),
    ("[1, 2]", [], "must hold one JSON object of names"),
    ('{"U": [1', [], "is not valid JSON: Expecting"),
    ("", [], "is not valid JSON"),
    ("[" * 100_000, [], "is not valid JSON"),
    ('{"U": ' + "9" * 5000 + "}", [], "is not valid JSON"),
]


@pytest.mark.parametrize("content, options, words", BAD, ids=[w[:40] for *_, w in BAD])
def test_bad_files_are_one_line_and_exit_2(tmp_path: Path, content: object, options: list[str],
                                           words: str, capsys, monkeypatch) -> None:  # noqa: ANN001
    write(tmp_path, content)
    monkeypatch.chdir(tmp_path)  # the messages name the file as the user wrote it
    status = cli.main(["verify", "--model", "elman", "--steps", "3", "--at", "points.json",
                       "--oracle", "autograd", *options])
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert status == 2 and captured.out == ""
    assert len(err) == 1 and words in err[0], err
    assert err[0].startswith("bptt-sym verify: error: ")


def test_unreadable_files(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    (tmp_path / "latin1.json").write_bytes(b'{"U": "\xe9"}')
    for name, words in [("missing.json", "cannot read --at file"),
                        (".", "cannot read --at file"),
                        ("latin1.json", "is not valid JSON")]:
        status = cli.main(["verify", "--model", "elman", "--at", str(tmp_path / name)])
        err = capsys.readouterr().err.splitlines()
        assert status == 2 and len(err) == 1 and words in err[0], err


def test_a_subprocess_sees_one_line_and_no_traceback(tmp_path: Path) -> None:
    f = write(tmp_path, _with(W=[[0.1] * 4] * 3))
    r = subprocess.run([sys.executable, "-m", "bptt_sym", "verify", "--model", "elman",
                        "--at", str(f)], capture_output=True, text=True, timeout=300,
                       cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [
        f"bptt-sym verify: error: W has shape 3×4 in {f}; with --hidden 4 it must be 4×4"]
