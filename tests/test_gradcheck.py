"""gradcheck (issue 14, first part): a person's backward pass judged against the exact
gradients, and each of their mistakes named.  The backward passes are written for the tests
in the styles people use (tests/gradcheck/); the reference is each one's own correct version
and, independently, autograd's gradient of a forward pass written here."""

from __future__ import annotations

import json
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from .gradcheck import elman_columns
from .tools import bptt

STEPS, SIZES = "5", "H=3,D=4,K=4"


def _point(tmp_path: Path, *extra: str, name: str = "point.npz") -> dict:
    path = tmp_path / name
    r = bptt("values", "--model", "elman", "--steps", STEPS, "--size", SIZES, "--seed", "1",
             "-o", str(path), *extra)
    assert r.returncode == 0, r.stderr
    assert ("U 4×3" if "rows" in extra else "U 3×4") in r.stderr  # each name's shape
    if name.endswith(".npz"):
        with np.load(path) as npz:
            return {k: npz[k] for k in npz.files}
    return {k: np.asarray(v) for k, v in json.loads(path.read_text()).items()}


def _gradcheck(tmp_path: Path, grads: dict, *extra: str, at: str = "point.npz"):
    np.savez(tmp_path / "grads.npz", **grads)
    r = bptt("gradcheck", "--model", "elman", "--steps", STEPS, "--size", SIZES, "--at",
             str(tmp_path / at), "--grads", str(tmp_path / "grads.npz"), "--json", *extra)
    assert r.returncode in (0, 1), r.stderr
    report = json.loads(r.stdout)
    return r.returncode, {p["parameter"]: p for p in report["parameters"]}


def test_the_exact_gradient_is_autograds_and_a_correct_pass_matches(tmp_path: Path) -> None:
    point = _point(tmp_path)

    def loss(weights: tuple) -> float:
        U, W, V = weights
        s = point["s_{-1}"].reshape(-1, 1)
        total = 0.0
        for t in range(int(STEPS)):
            s = anp.tanh(U @ point[f"x_{t}"].reshape(-1, 1) + W @ s)
            logits = V @ s
            logp = logits - anp.log(anp.sum(anp.exp(logits)))
            total = total - anp.sum(point[f"y_{t}"].reshape(-1, 1) * logp)
        return total

    reference = grad(loss)((point["U"], point["W"], point["V"]))
    mine = elman_columns.backward(point)
    for name, ref in zip("UWV", reference):
        assert np.max(np.abs(mine[name] - ref)) < 1e-12  # the test's backward is right
    status, got = _gradcheck(tmp_path, mine)
    assert status == 0
    assert all(p["verdict"] == "matches" and p["dtype"] == "float64" for p in got.values())
    assert max(p["relative_error"] for p in got.values()) < 1e-14
    for name, ref in zip("UWV", reference):  # the report's exact gradient is autograd's
        assert np.max(np.abs(np.array(got[name]["exact"]) - ref)) < 1e-12
        assert np.array_equal(np.array(got[name]["yours"]), mine[name])


@pytest.mark.parametrize("mistake, names, diagnosis", [
    ("sign", "W", "the sign"),
    ("transpose", "W", "transposed"),
    ("mean", "UWV", "averaged over the 5 steps"),
    ("overwrite", "W", "overwritten instead of accumulated: yours is step 0's term"),
    ("clip", "UWV", "clipped to ±0.05"),
    ("off-by-one", "W", "a step index off by one"),
    ("wrap", "W", "the initial state taken from the last step"),
    ("no-activation-derivative", "UW", "the derivative of tanh of s left out (taken as 1)"),
    ("sigmoid-derivative", "UW", "tanh′ of s written as sigmoid′ of the same value "
     "(s ⊙ (1 - s) where 1 - s² belongs)"),
])
def test_each_mistake_is_named(tmp_path: Path, mistake: str, names: str, diagnosis: str) -> None:
    point = _point(tmp_path)
    correct, theirs = elman_columns.backward(point), elman_columns.backward(point, mistake)
    changed = {p for p in "UWV" if correct[p].shape != theirs[p].shape
               or not np.array_equal(correct[p], theirs[p])}
    assert changed == set(names)  # the mistake reaches these gradients (clip: every one)
    status, got = _gradcheck(tmp_path, theirs)
    assert status == 1
    for p in "UWV":
        if p in changed:
            assert got[p]["verdict"] == "wrong", got[p]
            assert (got[p]["diagnosis"] or "").startswith(diagnosis), got[p]
        else:
            assert got[p]["verdict"] == "matches", got[p]


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_truncated_bptt_is_named_with_its_k(tmp_path: Path, k: int) -> None:
    """Tutorial-style truncation (the error of step t back to steps t − k … t), and the
    backward pass that drops the through-time term (k = 0) written as people write it."""
    point = _point(tmp_path)
    grads = elman_columns.backward_truncated(point, k)
    if k == 0:
        dropped = elman_columns.backward(point, "no-through-time")
        assert all(np.allclose(grads[p], dropped[p], rtol=0, atol=1e-15) for p in "UWV")
    status, got = _gradcheck(tmp_path, grads)
    assert status == 1 and got["V"]["verdict"] == "matches"
    want = "the through-time term dropped" if k == 0 else f"truncated after {k} step"
    # at k = T − 2 the one piece dropped from W's gradient, ∂E_4/∂W_0 = δ_0 s_{-1}ᵀ,
    # multiplies the zero initial state: W is exact, U is not
    wrong = "U" if k == int(STEPS) - 2 else "UW"
    for p in "UW":
        if p in wrong:
            assert got[p]["verdict"] == "wrong" and got[p]["diagnosis"].startswith(want), got[p]
        else:
            assert got[p]["verdict"] == "matches", got[p]
    full = elman_columns.backward_truncated(point, int(STEPS))  # k ≥ T − 1: no truncation
    status, got = _gradcheck(tmp_path, full)
    assert status == 0


def test_a_mistake_not_known_yet_is_wrong_with_where_it_differs(tmp_path: Path) -> None:
    """An elman backward pass that forgets the target in the output's error (ŷ_t where
    ŷ_t − y_t belongs): no variant fits; the report says so and where the difference is."""
    point = _point(tmp_path)
    status, got = _gradcheck(tmp_path, elman_columns.backward(point, "no-target"))
    assert status == 1
    for p in "UWV":
        assert got[p]["verdict"] == "wrong" and got[p]["diagnosis"] is None, got[p]
        assert "no known mistake fits; the largest difference is at entry" in got[p]["detail"]


def test_one_path_of_a_gated_cell_dropped_is_named(tmp_path: Path) -> None:
    """An LSTM backward pass that leaves out only the cell state's path back (dc_next):
    every weight but the output's is named, V and b_y match."""
    from .gradcheck import lstm_columns
    point_file = tmp_path / "point.npz"
    assert bptt("values", "--model", "lstm", "--steps", "4", "--seed", "2", "-o",
                str(point_file)).returncode == 0
    with np.load(point_file) as npz:
        point = {k: npz[k] for k in npz.files}
    np.savez(tmp_path / "grads.npz", **lstm_columns.backward(point, "no-cell-through-time"))
    r = bptt("gradcheck", "--model", "lstm", "--steps", "4", "--at", str(point_file),
             "--grads", str(tmp_path / "grads.npz"), "--json")
    got = {p["parameter"]: p for p in json.loads(r.stdout)["parameters"]}
    assert r.returncode == 1
    assert got["V"]["verdict"] == "matches" and got["b_y"]["verdict"] == "matches"
    for name in set(got) - {"V", "b_y"}:
        assert got[name]["verdict"] == "wrong", got[name]
        assert got[name]["diagnosis"].startswith("the path back through time along c "
                                                 "dropped"), got[name]


def test_float32_matches_with_its_own_round_off(tmp_path: Path) -> None:
    point = _point(tmp_path)
    status, got = _gradcheck(tmp_path, elman_columns.backward(point, None, np.float32))
    assert status == 0
    assert {p["dtype"] for p in got.values()} == {"float32"}
    assert all(1e-9 < p["relative_error"] < p["bound"] for p in got.values())


def test_rows_layout_json_and_a_batch(tmp_path: Path) -> None:
    rows = _point(tmp_path, "--layout", "rows", "--batch", "3", name="rows.json")
    assert rows["x_0"].shape == (3, 4) and rows["U"].shape == (4, 3)  # Uᵀ for x @ U
    columns = {k: (v.T if k in "UWV" else v) for k, v in rows.items()}
    grads = {k: v.T for k, v in elman_columns.backward(columns).items()}  # their x @ W grads
    status, got = _gradcheck(tmp_path, grads, "--layout", "rows", at="rows.json")
    assert status == 0, got
    status, got = _gradcheck(tmp_path, {k: v.T for k, v in grads.items()}, "--layout",
                             "rows", at="rows.json")
    assert status == 1 and got["W"]["diagnosis"].startswith("transposed")


def test_their_names_by_map_and_bad_input_is_one_line(tmp_path: Path) -> None:
    point = _point(tmp_path)
    mine = elman_columns.backward(point)
    theirs = {"dWxh": mine["U"], "dWhh": mine["W"], "dWhy": mine["V"]}
    status, _ = _gradcheck(tmp_path, theirs, "--map", "dWxh=U,dWhh=W,dWhy=V")
    assert status == 0
    np.savez(tmp_path / "g.npz", **theirs)
    cases = [
        (["--map", "dWxh=U,dWhh=Q"], "--map: 'Q' is no parameter of elman"),
        ([], "has no gradient of U, W, V (it holds dWxh, dWhh, dWhy)"),
        (["--map", "dWxh"], "--map: 'dWxh' is not YOURS=OURS"),
    ]
    for extra, message in cases:
        r = bptt("gradcheck", "--model", "elman", "--steps", STEPS, "--size", SIZES, "--at",
                 str(tmp_path / "point.npz"), "--grads", str(tmp_path / "g.npz"), *extra)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    bad = dict(mine, W=np.ones((2, 2)))
    np.savez(tmp_path / "bad.npz", **bad)
    r = bptt("gradcheck", "--model", "elman", "--steps", STEPS, "--size", SIZES, "--at",
             str(tmp_path / "point.npz"), "--grads", str(tmp_path / "bad.npz"))
    assert r.returncode == 2 and "W has shape (2, 2); W is (3, 3)" in r.stderr
    np.savez(tmp_path / "nan.npz", **dict(mine, V=mine["V"] * np.nan))
    r = bptt("gradcheck", "--model", "elman", "--steps", STEPS, "--size", SIZES, "--at",
             str(tmp_path / "point.npz"), "--grads", str(tmp_path / "nan.npz"))
    assert r.returncode == 2 and "V holds NaN or infinity" in r.stderr
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    r = bptt("gradcheck", "--model", "elman", "--steps", STEPS, "--size", SIZES, "--at",
             str(tmp_path / "point.npz"), "--grads", str(tmp_path / "junk.npz"))
    assert r.returncode == 2 and "is not a readable .npz file" in r.stderr
    r = bptt("values", "-o", str(tmp_path / "p.json"))
    assert r.returncode == 2 and "values needs a matrix model" in r.stderr


GATED = {"lstm": ("lstm_columns", "W_hf", "W_hi"), "gru": ("gru_columns", "W_hn", "W_hz")}


@pytest.mark.parametrize("model", sorted(GATED))
@pytest.mark.parametrize("mistake, diagnosis", [
    (None, None),
    ("sign", "the sign"),
    ("transpose", "transposed"),
    ("mean", "averaged over the 4 steps"),
    ("overwrite", "overwritten instead of accumulated: yours is step 0's term"),
    ("clip", "clipped to ±0.05"),
    ("off-by-one", "a step index off by one"),
    ("wrap", "the initial state taken from the last step"),
    ("no-tanh-c-derivative", "the derivative of tanh in tanh(c) left out"),
    ("g-sigmoid-derivative", "tanh′ of g written as sigmoid′"),
])
def test_gated_cells_mistakes_are_named(tmp_path: Path, model: str, mistake: str | None,
                                        diagnosis: str | None) -> None:
    """Hand-written LSTM and GRU backward passes (torch's equations): the correct one
    matches every parameter; each mistake is named on the parameters it changes, and the
    parameters it leaves alone still match."""
    import importlib
    if model == "gru" and mistake and "derivative" in mistake:  # the GRU's tanh is n's
        mistake, diagnosis = {
            "no-tanh-c-derivative": ("no-n-derivative", "the derivative of tanh of n left out"),
            "g-sigmoid-derivative": ("n-sigmoid-derivative", "tanh′ of n written as sigmoid′"),
        }[mistake]
    module = importlib.import_module(f"tests.gradcheck.{GATED[model][0]}")
    point_file = tmp_path / "point.npz"
    r = bptt("values", "--model", model, "--steps", "4", "--seed", "2", "-o", str(point_file))
    assert r.returncode == 0, r.stderr
    with np.load(point_file) as npz:
        point = {k: npz[k] for k in npz.files}
    correct = module.backward(point)
    theirs = module.backward(point, mistake)
    np.savez(tmp_path / "grads.npz", **theirs)
    r = bptt("gradcheck", "--model", model, "--steps", "4", "--at", str(point_file),
             "--grads", str(tmp_path / "grads.npz"), "--json")
    got = {p["parameter"]: p for p in json.loads(r.stdout)["parameters"]}
    changed = {k for k in correct if correct[k].shape != theirs[k].shape
               or not np.array_equal(correct[k], theirs[k])}
    assert r.returncode == (1 if changed else 0), r.stdout
    for name, p in got.items():
        if name in changed:
            assert p["verdict"] == "wrong" and (p["diagnosis"] or "").startswith(diagnosis), p
        else:
            assert p["verdict"] == "matches", p
    if mistake in ("sign", "transpose"):
        assert changed == {GATED[model][1]}
    if mistake == "overwrite":
        assert changed == {GATED[model][2]}


USER_CODE = '''
import numpy as np


def helper(x):
    return x @ np.ones((7, 7))


def raises(point):
    return helper(point["W"])


def by_name(U, W, V, **rest):
    return {"U": U * 0, "W": W * 0, "V": V * 0}


def not_a_dict(point):
    return 3
'''


def test_call_runs_their_function_on_the_point(tmp_path: Path) -> None:
    """--call imports the person's file: FUNC(point) (docs/examples/rnn_backward.py, right
    and with its h[t-1] bug), FUNC(**point) by names; their exception is shown with their
    traceback and is exit 2, as is a function that returns no dict or does not exist."""
    root = Path(__file__).resolve().parent.parent
    example = root / "docs" / "examples" / "rnn_backward.py"
    wrapped = tmp_path / "wrapped.py"
    wrapped.write_text(f"import sys\nsys.path.insert(0, {str(example.parent)!r})\n"
                       "import rnn_backward\n\n\ndef backward(point):\n"
                       "    return rnn_backward.backward(point, wrap=True)\n")
    base = ("gradcheck", "--model", "elman", "--steps", "4", "--seed", "3", "--call")
    r = bptt(*base, f"{example}:backward")
    assert r.returncode == 0 and r.stdout.strip().endswith("3 match, 0 wrong"), r.stdout
    r = bptt(*base, f"{wrapped}:backward")
    assert r.returncode == 1 and "W: wrong: the initial state taken from the last step" in \
        r.stdout
    user = tmp_path / "user.py"
    user.write_text(USER_CODE)
    r = bptt(*base, f"{user}:by_name")
    assert r.returncode == 1 and "U: wrong: yours is zero" in r.stdout
    r = bptt(*base, f"{user}:raises")
    assert r.returncode == 2 and "Traceback (most recent call last), in your code" in r.stderr
    assert 'line 6, in helper' in r.stderr and "raised ValueError" in r.stderr.splitlines()[-1]
    for target, message in [(f"{user}:not_a_dict", "returned int; return a dict"),
                            (f"{user}:nope", "has no function 'nope' (it has helper, raises"),
                            (f"{tmp_path}/none.py:f", "--call: no file"),
                            ("backward", "write FILE.py:FUNC")]:
        r = bptt(*base, target)
        assert r.returncode == 2 and message in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    r = bptt("gradcheck", "--model", "elman", "--grads", str(tmp_path / "g.npz"))
    assert r.returncode == 2 and "--grads needs --at FILE" in r.stderr


@pytest.mark.parametrize("case, names, diagnosis", [
    ("truncated-clip", "UW", "truncated after 2 steps: step t's error reaches the weights of "
     "steps t − 2 … t only; and clipped to ±0.05"),
    ("dropped-mean", "UW", "the through-time term dropped: each step's error reaches only "
     "its own step's weights (truncated after 0 steps); and divided by 5"),
    ("wrap-sign", "W", "the initial state taken from the last step: at t = 0, h[t-1] "
     "wrapped to step 4's state; and the sign flipped"),
    ("transpose-sign", "U", "transposed: yours is (∂E/∂U)ᵀ, and the sign: yours is −∂E/∂U"),
    ("derivative-sign", "U", "tanh′ of s written as sigmoid′ of the same value (s ⊙ (1 - s) "
     "where 1 - s² belongs); and the sign flipped"),
])
def test_two_mistakes_are_named_together(tmp_path: Path, case: str, names: str,
                                         diagnosis: str) -> None:
    """A mistake of the loop and one made on the finished gradient, named in that order;
    three at once are wrong with where the difference is, not named."""
    point = _point(tmp_path)
    right = elman_columns.backward(point)
    theirs = {
        "truncated-clip": lambda: {k: np.clip(v, -0.05, 0.05) for k, v in
                                   elman_columns.backward_truncated(point, 2).items()},
        "dropped-mean": lambda: {k: v / int(STEPS) for k, v in
                                 elman_columns.backward(point, "no-through-time").items()},
        "wrap-sign": lambda: dict(right, W=-elman_columns.backward(point, "wrap")["W"]),
        "transpose-sign": lambda: dict(right, U=-right["U"].T),
        "derivative-sign": lambda: dict(
            right, U=-elman_columns.backward(point, "sigmoid-derivative")["U"]),
    }[case]()
    status, got = _gradcheck(tmp_path, theirs)
    assert status == 1
    for p in names:
        assert got[p]["verdict"] == "wrong" and got[p]["diagnosis"] == diagnosis, got[p]
    if case == "wrap-sign":
        three = dict(right, W=-elman_columns.backward(point, "wrap")["W"].T)
        status, got = _gradcheck(tmp_path, three)
        assert got["W"]["diagnosis"] is None and "no known mistake fits" in got["W"]["detail"]
