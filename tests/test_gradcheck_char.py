"""gradcheck on a char-RNN backward pass in the shape of min-char-rnn's ``lossFun``
(tests/gradcheck/char_rnn.py): integer-index inputs and targets made one-hot, hprev, the
biases bh and by, dhnext carried back, and every gradient clipped to ±5.  The model is
elman with --bias (Wxh = U, Whh = W, Why = V, bh = b, by = c); the points are `values`
points with each x_t and y_t replaced by a one-hot vector of a character of the text.
The correct pass matches; each mistake is named on the gradients it changes; clipping that
bites is named on the clipped gradients.  The reference, independently, is autograd's
gradient of a forward pass written here."""

from __future__ import annotations

import json
from pathlib import Path

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

from .gradcheck import char_rnn
from .tools import ROOT, bptt

CHARS = "helo"  # the vocabulary: D = K = 4
HIDDEN = 3
SIZES = f"H={HIDDEN},D={len(CHARS)},K={len(CHARS)}"
MAP = "dWxh=U,dWhh=W,dWhy=V,dbh=b,dby=c"
OURS = {"dWxh": "U", "dWhh": "W", "dWhy": "V", "dbh": "b", "dby": "c"}
TEXT = "hello"  # inputs "hell", targets "ello": T = 4
LONG = "hellohellohello"  # T = 14; with U, W, V doubled, clipping at 5 bites on U, W, b


def _point(tmp_path: Path, text: str, scale: float = 1.0, hprev: float = 0.0,
           name: str = "point.json") -> tuple[int, dict]:
    """A `values` point of elman --bias for min-char-rnn's chunk ``text``: x_t the one-hot
    vector of text[t], y_t that of text[t + 1]; U, W, V multiplied by ``scale``; hprev (the
    state carried over from the previous chunk) all ``hprev``."""
    inputs = [CHARS.index(c) for c in text[:-1]]
    targets = [CHARS.index(c) for c in text[1:]]
    steps = len(inputs)
    path = tmp_path / name
    r = bptt("values", "--model", "elman", "--bias", "--steps", str(steps), "--size", SIZES,
             "--seed", "1", "-o", str(path))
    assert r.returncode == 0, r.stderr
    assert "U 3×4, W 3×3, V 4×3, b 3, c 4, x_0 4, s_{-1} 3, y_0 4" in r.stderr
    written = json.loads(path.read_text())
    point = dict(written)
    one_hot = np.eye(len(CHARS))
    for t in range(steps):
        point[f"x_{t}"] = one_hot[inputs[t]].tolist()
        point[f"y_{t}"] = one_hot[targets[t]].tolist()
    for k in "UWV":
        point[k] = (np.asarray(written[k]) * scale).tolist()
    point["s_{-1}"] = [hprev] * HIDDEN
    assert point.keys() == written.keys()  # the same names and shapes as `values` wrote
    assert all(np.shape(point[k]) == np.shape(written[k]) for k in point)
    path.write_text(json.dumps(point))
    return steps, {k: np.asarray(v, dtype=float) for k, v in point.items()}


def _gradcheck(tmp_path: Path, steps: int, grads: dict, at: str = "point.json"):
    np.savez(tmp_path / "grads.npz", **grads)
    r = bptt("gradcheck", "--model", "elman", "--bias", "--steps", str(steps), "--size", SIZES,
             "--at", str(tmp_path / at), "--grads", str(tmp_path / "grads.npz"), "--map", MAP,
             "--json")
    assert r.returncode in (0, 1), r.stderr
    report = json.loads(r.stdout)
    return r.returncode, {p["parameter"]: p for p in report["parameters"]}


def _autograd(point: dict, steps: int) -> tuple[float, dict]:
    """The loss Σ_t −y_tᵀ log softmax(Why h_t + by) and its gradient by autograd, from a
    forward pass written here (the targets as one-hot vectors, not indices)."""
    def col(name: str) -> np.ndarray:
        return point[name].reshape(-1, 1)

    def loss(params: tuple) -> float:
        Wxh, Whh, Why, bh, by = params
        h = col("s_{-1}")
        total = 0.0
        for t in range(steps):
            h = anp.tanh(Wxh @ col(f"x_{t}") + Whh @ h + bh)
            logits = Why @ h + by
            logp = logits - anp.log(anp.sum(anp.exp(logits)))
            total = total - anp.sum(col(f"y_{t}") * logp)
        return total

    params = (point["U"], point["W"], point["V"], col("b"), col("c"))
    reference = grad(loss)(params)
    return float(loss(params)), {mine: g.reshape(point[OURS[mine]].shape)
                                 for mine, g in zip(OURS, reference)}


def _inputs_targets(point: dict, steps: int) -> tuple[list[int], list[int]]:
    return ([int(np.argmax(point[f"x_{t}"])) for t in range(steps)],
            [int(np.argmax(point[f"y_{t}"])) for t in range(steps)])


@pytest.mark.parametrize("hprev", [0.0, 0.5])
def test_lossfun_is_autograds_gradient_and_matches(tmp_path: Path, hprev: float) -> None:
    """At a point where no gradient reaches 5 (the clip is inactive) lossFun's gradients
    are autograd's to 1e-12, and gradcheck says every parameter matches (exit 0)."""
    steps, point = _point(tmp_path, TEXT, hprev=hprev)
    ref_loss, reference = _autograd(point, steps)
    inputs, targets = _inputs_targets(point, steps)
    assert inputs == [0, 1, 2, 2] and targets == [1, 2, 2, 3]
    out = char_rnn.lossFun(inputs, targets, point["s_{-1}"].reshape(-1, 1), point["U"],
                           point["W"], point["V"], point["b"].reshape(-1, 1),
                           point["c"].reshape(-1, 1), clip=None)
    assert abs(out[0] - ref_loss) < 1e-12
    assert out[6].shape == (HIDDEN, 1) and np.all(np.abs(out[6]) < 1)  # the last h
    unclipped = char_rnn.backward(point, clip=None)
    for mine, ref in reference.items():
        assert np.max(np.abs(unclipped[mine] - ref)) < 1e-12, mine
        assert np.max(np.abs(ref)) < 5, mine  # clipping at 5 changes nothing here
    mine = char_rnn.backward(point)  # min-char-rnn's pass, with its clip at 5
    assert all(np.array_equal(mine[k], unclipped[k]) for k in OURS)
    status, got = _gradcheck(tmp_path, steps, mine)
    assert status == 0, got
    assert set(got) == set(OURS.values())
    assert all(p["verdict"] == "matches" and p["dtype"] == "float64" for p in got.values())
    assert max(p["relative_error"] for p in got.values()) < 1e-14


@pytest.mark.parametrize("hprev", [0.0, 0.5])
@pytest.mark.parametrize("mistake, names, diagnosis", [
    ("no-dhnext", "UWb", "the through-time term dropped: each step's error reaches only its "
     "own step's weights (truncated after 0 steps)"),
    ("raw-dh", "UWb", "the derivative of tanh of s left out (taken as 1)"),
    ("overwrite", "W", "overwritten instead of accumulated: yours is step 0's term"),
    ("mean", "UWVbc", "averaged over the 4 steps"),
    ("sign", "W", "the sign: yours is −∂E/∂W"),
    ("wrap", "W", "the initial state taken from the last step: at t = 0, h[t-1] wrapped to "
     "step 3's state"),
])
def test_each_mistake_is_named(tmp_path: Path, mistake: str, names: str, diagnosis: str,
                               hprev: float) -> None:
    """Each mistake is named on the parameters whose gradient it changes (found by
    comparing with the correct pass), and the others match; with hprev zero (a first
    chunk) and nonzero (a later chunk: step 0's term of dWhh is not zero)."""
    steps, point = _point(tmp_path, TEXT, hprev=hprev)
    correct = char_rnn.backward(point)
    theirs = char_rnn.backward(point, mistake)
    unclipped = char_rnn.backward(point, mistake, clip=None)
    assert all(np.array_equal(theirs[k], unclipped[k]) for k in OURS)  # the clip is idle
    changed = {OURS[k] for k in OURS if correct[k].shape != theirs[k].shape
               or not np.array_equal(correct[k], theirs[k])}
    assert changed == set(names)
    if mistake == "overwrite" and hprev == 0:  # step 0's term multiplies the zero hprev
        assert not np.any(theirs["dWhh"])
    status, got = _gradcheck(tmp_path, steps, theirs)
    assert status == 1
    for p, result in got.items():
        if p in changed:
            assert result["verdict"] == "wrong", result
            assert (result["diagnosis"] or "").startswith(diagnosis), result
        else:
            assert result["verdict"] == "matches", result


def test_clipping_at_5_is_named_on_the_clipped_parameters(tmp_path: Path) -> None:
    """A longer chunk with the weights doubled: some exact entries exceed 5, so the correct
    min-char-rnn pass (which clips) is "clipped to ±5" on those parameters and matches on
    the others."""
    steps, point = _point(tmp_path, LONG, scale=2.0, hprev=0.25)
    _, reference = _autograd(point, steps)
    unclipped = char_rnn.backward(point, clip=None)
    for k, ref in reference.items():
        assert np.max(np.abs(unclipped[k] - ref)) < 1e-12 * max(1.0, np.max(np.abs(ref))), k
    clipped = {OURS[k] for k, ref in reference.items() if np.max(np.abs(ref)) > 5}
    assert clipped == {"U", "W", "b"}  # some clipped, some (V, c) not
    mine = char_rnn.backward(point)
    assert all(np.max(np.abs(v)) <= 5 for v in mine.values())
    status, got = _gradcheck(tmp_path, steps, mine)
    assert status == 1
    for p, result in got.items():
        if p in clipped:
            assert result["verdict"] == "wrong", result
            assert result["diagnosis"] == f"clipped to ±5: yours is clip(∂E/∂{p}, −5, 5)", \
                result
        else:
            assert result["verdict"] == "matches", result


USER_CODE = '''
import sys

sys.path.insert(0, {root!r})
from tests.gradcheck import char_rnn  # noqa: E402


def backward(point):
    return char_rnn.backward(point)


def backward_wrapped(point):
    return char_rnn.backward(point, "wrap")
'''


def test_call_runs_lossfun_on_the_point(tmp_path: Path) -> None:
    """--call with their names (--map): a user file that imports the char-RNN's adapter;
    the correct pass matches, the wrapping hs[t-1] is named on W alone."""
    steps, _ = _point(tmp_path, TEXT)
    user = tmp_path / "user.py"
    user.write_text(USER_CODE.format(root=str(ROOT)))
    base = ("gradcheck", "--model", "elman", "--bias", "--steps", str(steps), "--size", SIZES,
            "--at", str(tmp_path / "point.json"), "--map", MAP, "--call")
    r = bptt(*base, f"{user}:backward")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("5 match, 0 wrong"), r.stdout
    r = bptt(*base, f"{user}:backward_wrapped")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "W: wrong: the initial state taken from the last step" in r.stdout
    assert r.stdout.strip().endswith("4 match, 1 wrong"), r.stdout


def test_the_adapter_wants_one_hot_inputs(tmp_path: Path) -> None:
    """A `values` point as written (x_t random, not one-hot) is refused by the adapter:
    min-char-rnn's inputs are indices."""
    path = tmp_path / "raw.json"
    r = bptt("values", "--model", "elman", "--bias", "--steps", "2", "--size", SIZES,
             "--seed", "1", "-o", str(path))
    assert r.returncode == 0, r.stderr
    point = {k: np.asarray(v) for k, v in json.loads(path.read_text()).items()}
    with pytest.raises(ValueError, match="x_0 is not a one-hot vector"):
        char_rnn.backward(point)
    with pytest.raises(ValueError, match="unknown mistake"):
        char_rnn.lossFun([0], [1], np.zeros((3, 1)), point["U"], point["W"], point["V"],
                         np.zeros((3, 1)), np.zeros((4, 1)), mistake="typo")


def test_values_writes_one_hot_inputs_for_a_char_rnn(tmp_path: Path) -> None:
    """`values --one-hot-inputs`: every x_t (and y_t) one-hot, in a batch too; the char-RNN
    runs at such a point through --call without a hand-made point."""
    path = tmp_path / "p.json"
    r = bptt("values", "--model", "elman", "--bias", "--steps", "6", "--size", "H=5,D=4,K=4",
             "--one-hot-inputs", "--batch", "3", "-o", str(path))
    assert r.returncode == 0, r.stderr
    point = {k: np.asarray(v) for k, v in json.loads(path.read_text()).items()}
    for t in range(6):
        for v in (point[f"x_{t}"], point[f"y_{t}"]):
            assert v.shape == (3, 4) and np.array_equal(np.sort(v, axis=1)[:, -1], np.ones(3))
            assert np.array_equal(v.sum(axis=1), np.ones(3))
    path = tmp_path / "one.npz"
    assert bptt("values", "--model", "elman", "--bias", "--steps", "6", "--size",
                "H=5,D=4,K=4", "--one-hot-inputs", "-o", str(path)).returncode == 0
    r = bptt("gradcheck", "--model", "elman", "--bias", "--steps", "6", "--size",
             "H=5,D=4,K=4", "--at", str(path), "--call",
             f"{ROOT / 'tests/gradcheck/char_rnn.py'}:backward", "--map",
             "dWxh=U,dWhh=W,dWhy=V,dbh=b,dby=c")
    assert r.returncode == 0 and r.stdout.strip().endswith("5 match, 0 wrong"), r.stdout
