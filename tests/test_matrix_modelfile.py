"""Matrix model files: elman is a built-in file whose saved copy gives byte for byte the
output of `--model elman`; the example matrix models (row vectors, many-to-one) derive,
unroll, export, draw and verify; every kind of bad matrix file is one line
``FILE:LINE:COL: what is wrong``."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bptt_sym.check.matrix import check_matrix
from bptt_sym.cli import main as cli
from bptt_sym.derivation.matrix import derive_matrix
from bptt_sym.graph.matrix import ELMAN, unroll_vector
from bptt_sym.model.load import (
    ModelFileError,
    builtin,
    builtin_text,
    load_model,
    model_toml,
    parse_model,
)
from bptt_sym.numeric.matrix import random_values

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
MODELS = EXAMPLES / "models"
ELMAN_TEXT = builtin_text("elman")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def elman_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("model") / "my-elman.toml"
    r = subprocess.run([sys.executable, "-m", "bptt_sym", "models", "--show", "elman"],
                       capture_output=True, text=True, timeout=120, check=True)
    path.write_text(r.stdout)
    return str(path)


# ---- elman is a file ----------------------------------------------------------------------

def test_models_show_elman_prints_the_built_in_file(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "models", "--show", "elman")
    assert status == 0 and out == ELMAN_TEXT.rstrip("\n") + "\n"
    status, out, _ = run(capsys, "models")
    assert [line.split()[0] for line in out.splitlines()[:-1]] == \
        ["doc", "elman", "lstm", "lstm-peephole", "gru", "gru-cho"]


def test_the_elman_file_is_the_elman_of_the_engine() -> None:
    spec = builtin("elman")
    assert dataclasses.replace(spec, path="") == dataclasses.replace(ELMAN, path="")
    assert spec.shapes["W"] == ("H", "H") and spec.sizes == {"H": 4, "D": 3, "K": 3}
    assert spec.parameters_for(False) == ("U", "W", "V")
    assert spec.parameters_for(True) == ("U", "W", "V", "b", "c")
    assert parse_model(model_toml(spec), path=spec.path) == spec


@pytest.mark.parametrize("name", ["rnn-rows", "elman-last", "gru-matrix", "lstm-matrix"])
def test_example_matrix_models_round_trip(name: str) -> None:
    spec = load_model(MODELS / f"{name}.toml")
    assert spec.is_matrix and parse_model(model_toml(spec), path=spec.path) == spec


SAME = [
    ["derive", "--steps", "3"],
    ["derive", "--steps", "2", "--format", "latex", "--bias"],
    ["derive", "--steps", "3", "--format", "ascii", "--form", "paths", "--wrt", "W"],
    ["derive", "--steps", "2", "--format", "json", "--activation", "relu"],
    ["derive", "--steps", "1", "--activation", "f"],
    ["unroll", "--steps", "3"],
    ["unroll", "--steps", "2", "--bias", "--format", "latex"],
    ["check", str(EXAMPLES / "elman-student.txt"), "--steps", "2"],
    ["check", str(EXAMPLES / "elman-unicode.txt"), "--steps", "2", "--json"],
    ["verify", "--steps", "3", "--points", "2", "--size", "H=3,D=2,K=4"],
    ["verify", "--steps", "2", "--bias", "--points", "2", "--json", "--oracle", "fd"],
]


@pytest.mark.parametrize("argv", SAME, ids=[" ".join(a[:2]) + f" {i}" for i, a in
                                            enumerate(SAME)])
def test_the_elman_file_gives_the_output_of_model_elman(capsys: pytest.CaptureFixture[str],
                                                        elman_file: str, argv: list[str]
                                                        ) -> None:
    assert run(capsys, *argv, "--model", "elman") == run(capsys, *argv, "--model", elman_file)


@pytest.mark.parametrize("suffix", ["md", "tex", "dot"])
def test_export_and_graph_of_the_elman_file_are_the_same(tmp_path: Path, elman_file: str,
                                                         capsys: pytest.CaptureFixture[str],
                                                         suffix: str) -> None:
    command = "graph" if suffix == "dot" else "export"
    a, b = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
    assert run(capsys, command, "--model", "elman", "--steps", "2", "-o", str(a))[0] == 0
    assert run(capsys, command, "--steps", "2", "--model", elman_file, "-o", str(b))[0] == 0
    assert a.read_bytes() == b.read_bytes()


# ---- the example matrix models --------------------------------------------------------------

@pytest.mark.parametrize("name", ["rnn-rows", "elman-last", "gru-matrix", "lstm-matrix"])
def test_each_example_matrix_model_runs_every_command(tmp_path: Path, name: str,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    path = str(MODELS / f"{name}.toml")
    status, out, _ = run(capsys, "derive", "--model", path, "--steps", "3", "--form", "delta")
    assert status == 0 and "∂E/∂" in out and ("δₜ = " in out or "dhₜ = " in out)
    status, out, _ = run(capsys, "unroll", "--model", path, "--steps", "2")
    assert status == 0 and out.startswith(f"# model {name}: ")
    for command, suffix in (("export", "tex"), ("export", "md"), ("graph", "dot")):
        target = tmp_path / f"{name}.{suffix}"
        assert run(capsys, command, "--model", path, "--steps", "2", "-o", str(target))[0] == 0
        assert target.stat().st_size > 500
    status, out, _ = run(capsys, "verify", "--model", path, "--steps", "4", "--points", "4")
    assert status == 0 and out.rstrip().endswith("all passed"), out


def test_many_to_one_output_weight_gets_the_last_step_only() -> None:
    spec = load_model(MODELS / "elman-last.toml")
    graph = unroll_vector(spec, steps=3)
    d = derive_matrix(graph, wrt="V")
    from bptt_sym.printing.leibniz import leibniz
    assert leibniz(d.unrolled[-1].rhs, "ascii") == "(yhat - y) @ s_2^T"
    values = random_values(graph, np.random.default_rng(1))
    assert set(values) >= {"U", "W", "V", "x_0", "y"}


# ---- bad matrix model files ----------------------------------------------------------------

def _error(text: str) -> str:
    with pytest.raises(ModelFileError) as info:
        parse_model(text, path="m.toml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("m.toml:"), message
    return message


def _at(text: str, needle: str) -> str:
    i = text.index(needle)
    return f"{text.count(chr(10), 0, i) + 1}:{i - (text.rfind(chr(10), 0, i) + 1) + 1}"


def _elman(old: str, new: str) -> str:
    assert old in ELMAN_TEXT, old
    return ELMAN_TEXT.replace(old, new, 1)


BAD = [
    ("a product that does not fit", ('"z_t = U x_t + W s_{t-1} + b"',
                                     '"z_t = U x_t + x_t W s_{t-1} + b"'),
     '"z_t = U x_t + x_t W', "x_t (D x 1) times W (H x H) does not fit a matrix product"),
    ("* where only @ fits", ('"l_t = V s_t + c"', '"l_t = V * s_t + c"'), '"l_t = V * s_t',
     "* is elementwise and needs equal shapes; V (K x H) and s_t (H x 1) differ; use @ or "
     "juxtaposition for the matrix product"),
    ("a sum of two shapes", ('"l_t = V s_t + c"', '"l_t = V s_t + c + b"'), '"l_t = V s_t + c + b',
     "the shapes differ"),
    ("a left side of another shape", ('"s_t = f(z_t)"', '"s_t = f(V z_t)"'), '"s_t = f(V z_t)',
     "s is H x 1 (its [shapes] entry) but its right side is"),
    ("a loss that is not a scalar", ('loss = "E = sum_t E_t"', 'loss = "E = s_{T-1}"'),
     '"E = s_{T-1}"', "the loss E must be a scalar; its right side is H x 1"),
    ("a power of a matrix (found by fuzzing)", ('"s_t = f(z_t)"', '"s_t = f(z_t)^2"'),
     '"s_t = f(z_t)^2"', "a power of a matrix is not supported in model lines"),
    ("softmax of a matrix", ('"yhat_t = softmax(l_t)"', '"yhat_t = softmax(V)"'),
     '"yhat_t = softmax(V)"', "softmax takes a column vector; V is K x H"),
    ("an unknown size letter", ('s = "H x 1"', 's = "Q x 1"'), '"Q x 1"',
     "shape of s: Q is not a size letter; give it under [sizes]"),
    ("a shape that is no shape", ('W = "H x H"', 'W = "H by H"'), '"H by H"',
     'shape of W must read "ROWS x COLS" in size letters'),
    ("a shape of an unknown name", ('yhat = "K x 1"', 'yhat = "K x 1"\nq = "K x 1"'),
     'q = "K x 1"', "shapes: q is not a name of the model"),
    ("a size that is no count", ("H = 4", "H = 0"), "0  # hidden",
     "size H must be a whole number from 1 to 4096, not 0"),
    ("optional names no parameter", ('optional = ["b", "c"]', 'optional = ["b", "x"]'),
     '"x"]', "optional: x is not a parameter"),
    ("an adjoint of no node", ('adjoints = { z = "delta" }', 'adjoints = { q = "delta" }'),
     "q = ", "adjoints: q is not a node of the cell"),
    ("an adjoint name in use", ('adjoints = { z = "delta" }', 'adjoints = { z = "s" }'),
     '"s" }', "adjoints: s is already a name of the model"),
]


@pytest.mark.parametrize("old_new, needle, fragment", [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_matrix_model_files_are_one_line(old_new: tuple[str, str], needle: str,
                                             fragment: str) -> None:
    text = _elman(*old_new)
    message = _error(text)
    assert message.startswith(f"m.toml:{_at(text, needle)}: "), message
    assert fragment in message, message


def test_a_bad_matrix_file_on_the_command_line_is_one_line_and_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(_elman('"l_t = V s_t + c"', '"l_t = V * s_t + c"'))
    status, out, err = run(capsys, "derive", "--model", str(path))
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert f"{path}:" in err and "use @ or juxtaposition" in err


@pytest.mark.parametrize("argv, message", [
    (["--size", "Q=5"], "model elman has no size Q; its sizes are H, D, K"),
    (["--model", str(MODELS / "rnn-rows.toml"), "--bias"],
     "--bias does not apply: model rnn-rows has no optional parameters"),
    (["--model", str(MODELS / "elman-last.toml"), "--form", "closed"],
     "elman-last has the form delta (delta: the matrix δ recursion)"),
    (["--model", str(MODELS / "elman-last.toml"), "--form", "paths"],
     "the per-output form (paths, V5) needs one state and a loss that adds one loss per step"),
    (["--model", str(MODELS / "rnn-rows.toml"), "--loss", "bce"],
     "--output and --loss do not apply: matrix model rnn-rows"),
])
def test_bad_options_for_matrix_models(capsys: pytest.CaptureFixture[str], argv: list[str],
                                       message: str) -> None:
    args = argv if "--model" in argv else ["--model", "elman", *argv]
    status, out, err = run(capsys, "derive", *args)
    assert status == 2 and out == "" and len(err.splitlines()) == 1 and message in err, err


def test_derive_json_names_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "derive", "--model", str(MODELS / "rnn-rows.toml"),
                         "--steps", "2", "--format", "json", "--wrt", "b")
    doc = json.loads(out)
    assert status == 0 and doc["model"] == "rnn-rows" and doc["dims"] == {"N": 1, "D": 3, "H": 4}


def test_a_matrix_file_keeps_the_pre_activation_adjoint_by_default() -> None:
    assert load_model(MODELS / "rnn-rows.toml").adjoints == {"a": "delta"}
    assert load_model(MODELS / "elman-last.toml").adjoints == {"z": "delta"}


@pytest.mark.parametrize("formula, verdict", [
    ("E_t = sum(h_t * y_t)", "holds"),
    ("E_t = sum(h_t ⊙ y_t)", "holds"),
    ("E_t = sum(h_t)", "fails"),                           # the upstream y_t left out
    ("dE/dW_h = sum_t h_{t-1}^T delta_t", "holds"),        # δ_t = ∂E/∂a_t, rows
    ("dE/dW_h = sum_t delta_t^T h_{t-1}", "fails"),        # the transpose of the gradient
    ("dE/db = sum_t delta_t", "holds"),
    ("delta_t = (y_t + delta_{t+1} W_h^T) * (1 - h_t * h_t)", "holds"),
    ("delta_t = y_t * (1 - h_t * h_t)", "fails"),          # the through-time term dropped
])
def test_check_on_the_rows_file_with_its_batch_letter(tmp_path: Path, formula: str,
                                                      verdict: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """rnn-rows has N = 1 rows: N and 1 are one size, and sum(…) reads in a formula."""
    notes = tmp_path / "notes.txt"
    notes.write_text(formula + "\n")
    status, out, _ = run(capsys, "check", str(notes), "--model", str(MODELS / "rnn-rows.toml"),
                         "--steps", "3", "--json")
    (eq,) = json.loads(out)["equations"]
    assert eq["verdict"] == verdict, eq


@pytest.mark.parametrize("formula, verdict", [
    ("dE/dV = sum_t (yhat_t - y_t) h_t^T", "holds"),
    ("dE/dbn = sum_t (dh_t * (1 - z_t)) * (1 - n_t * n_t)", "holds"),
    ("dE/dbn = sum_t (dh_t * z_t) * (1 - n_t * n_t)", "fails"),     # z and 1 - z swapped
    ("dE/dbn = sum_t dh_t * (1 - z_t)", "fails"),                    # tanh' left out
    ("dh_t/dh_{t-1} = diag(z_t)", "fails"),                          # the gates' paths left out
])
def test_check_on_the_matrix_gru(tmp_path: Path, formula: str, verdict: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A gated cell as a file: 1 - z_t spreads the 1, the zero h_{-1} drops out inside the
    gates, and dh_t (its `adjoints`) reads in formulas."""
    notes = tmp_path / "notes.txt"
    notes.write_text(formula + "\n")
    status, out, _ = run(capsys, "check", str(notes), "--model",
                         str(MODELS / "gru-matrix.toml"), "--steps", "3", "--json")
    (eq,) = json.loads(out)["equations"]
    assert eq["verdict"] == verdict, eq


@pytest.mark.parametrize("formula, verdict, words", [
    ("dE/dl = yhat - y", "holds", ""),
    ("dE/dl = yhat - y_2", "invalid", "y is one value for the whole sequence"),
    ("dE/dl = yhat - y_{T-1}", "invalid", "write y"),
    ("dE/dV = (yhat - y) s_{T-1}^T", "holds", ""),
    ("dE/dV = sum_t (yhat - y) s_t^T", "fails", ""),   # the many-to-many habit
])
def test_a_target_of_the_whole_sequence_in_hand_formulas(tmp_path: Path, formula: str,
                                                         verdict: str, words: str,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """elman-last's y has no step: a formula writes y, and y_2 is one clear invalid line
    (it used to be a KeyError)."""
    notes = tmp_path / "notes.txt"
    notes.write_text(formula + "\n")
    status, out, err = run(capsys, "check", str(notes), "--model",
                           str(MODELS / "elman-last.toml"), "--steps", "3", "--json")
    (eq,) = json.loads(out)["equations"]
    assert eq["verdict"] == verdict and words in json.dumps(eq, ensure_ascii=False), eq
    assert "Traceback" not in err


@pytest.mark.parametrize("name", ["gru-matrix", "lstm-matrix", "rnn-rows", "elman-last",
                                  "elman"])
def test_every_vector_edge_jacobian_against_finite_differences(name: str) -> None:
    """Each edge label of `graph` between vectors (∂h_1/∂z_1 = −diag(n_1) + diag(h_0) in
    the GRU) equals the finite-difference Jacobian of its node's own equation."""
    from bptt_sym.numeric.matrix import BATCHED, compile_expr, forward_values

    spec = builtin(name) if name == "elman" else load_model(MODELS / f"{name}.toml")
    graph = unroll_vector(spec, steps=2, sizes={k: 1 if n == 1 else 2 + i for i, (k, n) in
                                                enumerate(spec.sizes.items())})
    env = forward_values(graph, random_values(graph, np.random.default_rng(5)))
    checked = 0
    for (child, parent), jac in graph.local.items():
        node = graph.nodes[child]
        shape = getattr(parent, "shape", None)
        if graph.nodes[parent].kind == "parameter" or shape is None or 1 not in shape or \
                getattr(child, "shape", None) is None:
            continue
        rows = int(np.prod(child.shape))
        got = np.asarray(compile_expr(jac, BATCHED)(env)).reshape(rows, -1)
        f = compile_expr(node.expr, BATCHED)
        want = np.zeros((rows, int(np.prod(shape))))
        for j in range(want.shape[1]):
            step = np.zeros(int(np.prod(shape)))
            step[j] = 1e-6
            up, down = dict(env), dict(env)
            up[str(parent)] = env[str(parent)] + step.reshape(env[str(parent)].shape)
            down[str(parent)] = env[str(parent)] - step.reshape(env[str(parent)].shape)
            want[:, j] = ((np.asarray(f(up)) - np.asarray(f(down))) / 2e-6).reshape(-1)
        assert np.allclose(got, want, rtol=1e-6, atol=1e-8), (child, parent, jac)
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("formula, verdict", [
    ("dc_t = dh_t * o_t * (1 - tanh(c_t)^2) + dc_{t+1} * f_{t+1}", "holds"),
    ("dc_t = dh_t * o_t * (1 - tanh(c_t)^2)", "fails"),             # the c-path dropped
    ("dc_t = dh_t * o_t + dc_{t+1} * f_{t+1}", "fails"),            # tanh'(c_t) missing
    ("dE/dbf = sum_t dc_t * c_{t-1} * f_t * (1 - f_t)", "holds"),
    ("dE/dbf = sum_t dc_t * c_t * f_t * (1 - f_t)", "fails"),       # c_t for c_{t-1}
])
def test_check_on_the_matrix_lstm(tmp_path: Path, formula: str, verdict: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The LSTM's two adjoints: dc_t has two paths back (through h_t and through c_{t+1})."""
    notes = tmp_path / "notes.txt"
    notes.write_text(formula + "\n")
    status, out, _ = run(capsys, "check", str(notes), "--model",
                         str(MODELS / "lstm-matrix.toml"), "--steps", "3", "--json")
    (eq,) = json.loads(out)["equations"]
    assert eq["verdict"] == verdict, eq


READ_BACK = [  # model, options of both commands, derive's own options, format
    ("elman", ["--steps", "3"], [], "ascii"),
    ("elman", ["--steps", "2", "--bias", "--activation", "sigmoid"], [], "unicode"),
    ("rnn-rows", ["--steps", "3"], [], "ascii"),
    ("rnn-rows", ["--steps", "2"], [], "unicode"),
    ("elman-last", ["--steps", "3"], [], "ascii"),
    ("elman-last", ["--steps", "4", "--bias"], [], "unicode"),
    ("gru-matrix", ["--steps", "3"], ["--wrt", "Un,bz,V"], "ascii"),
    ("lstm-matrix", ["--steps", "3"], ["--wrt", "Uf,bo"], "ascii"),
]


@pytest.mark.parametrize("name, options, own, fmt", READ_BACK,
                         ids=[f"{n} {' '.join(o + w)} {f}" for n, o, w, f in READ_BACK])
def test_derive_output_read_back_by_check_holds(tmp_path: Path, name: str, options: list[str],
                                                own: list[str], fmt: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """Every equation `derive --form delta` prints for a matrix model, the templates in t
    included, holds when `check` judges it against the model's forward pass (complex step
    and exact arithmetic, not the derivation)."""
    model = name if name == "elman" else str(MODELS / f"{name}.toml")
    status, out, _ = run(capsys, "derive", "--model", model, "--form", "delta",
                         "--format", fmt, *options, *own)
    lines = [ln for ln in out.splitlines() if ln and not ln.startswith("#")]
    assert status == 0 and len(lines) >= 4
    notes = tmp_path / "derived.txt"
    notes.write_text("\n".join(lines) + "\n")
    status, out, _ = run(capsys, "check", str(notes), "--model", model, *options, "--json")
    verdicts = [e["verdict"] for e in json.loads(out)["equations"]]
    assert verdicts == ["holds"] * len(lines), out


def test_a_number_times_a_matrix_node_derives_and_draws() -> None:
    """`s_t = 2 f(z_t)` (found by fuzzing: `1f(z_t)` crashed the edge Jacobians): the
    Jacobian label and the derived gradients, against autograd on the file's equations."""
    from bptt_sym.printing.leibniz import leibniz
    from bptt_sym.verification.matrix import verify_matrix

    spec = parse_model(_elman('"s_t = f(z_t)"', '"s_t = 2 f(z_t)"'), path="m.toml")
    graph = unroll_vector(spec, steps=2)
    (jac,) = [j for (c, p), j in graph.local.items() if str(c) == "s_1"]
    assert leibniz(jac) == "2 diag(1 − tanh(z₁) ⊙ tanh(z₁))"
    report = verify_matrix(spec, steps=3, points=2, oracles=["autograd", "fd"])
    assert report.passed, report.text()


def test_progress_goes_to_a_terminal_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finite differences over many entries show a progress line on a terminal; a pipe or
    a log gets nothing, so outputs stay byte for byte."""
    import io

    from bptt_sym.files import progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, expect in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        tick = progress("finite differences", 200)
        for done in range(1, 201):
            tick(done)
        tick(None)
        text = stream.getvalue()
        assert ("finite differences: 200 of 200 (100%)" in text) is expect
        assert text.count("\r") == (102 if expect else 0)  # once a percent, and the clear


def test_a_parameter_unused_at_one_step_is_named_not_a_crash(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """elman-last at T = 1: W only multiplies s_{-1} = 0 (found by fuzzing check: an
    IndexError in five commands)."""
    path = str(MODELS / "elman-last.toml")
    status, out, err = run(capsys, "derive", "--model", path, "--steps", "1")
    assert status == 0 and "∂E/∂U" in out and "W is not used at --steps 1" in err
    status, out, err = run(capsys, "derive", "--model", path, "--steps", "1", "--wrt", "W")
    assert status == 2 and out == "" and "its gradient is 0" in err
    status, out, err = run(capsys, "graph", "--model", path, "--steps", "1", "--wrt", "W",
                           "-o", str(tmp_path / "g.dot"))
    assert status == 2 and "W is not used at --steps 1" in err
    status, out, _ = run(capsys, "verify", "--model", path, "--steps", "1", "--points", "2")
    assert status == 0 and out.rstrip().endswith("all passed")
    notes = tmp_path / "notes.txt"
    notes.write_text("dE/dU = delta_0 x_0^T\ndE/dW_0 = 0 * W\ndE/dUi = 0 * Ui\n")
    status, out, _ = run(capsys, "check", str(notes), "--model", path, "--steps", "1", "--json")
    assert [e["verdict"] for e in json.loads(out)["equations"]][:2] == ["holds", "holds"]
    status, out, _ = run(capsys, "check", str(notes), "--model",
                         str(MODELS / "lstm-matrix.toml"), "--steps", "1", "--json")
    assert [e["verdict"] for e in json.loads(out)["equations"]][2] == "holds"  # Ui: 0 at T=1


# ---- perturbed right formulas never hold, on the new matrix models ----------------------

FILE_TRUE = [  # model, a right formula, a term of the formula's shape to perturb it by
    ("rnn-rows", "dE/db = sum_t delta_t", "x_0 W_x", "x_0 x_0^T"),
    ("rnn-rows", "dE/dW_h = sum_t h_{t-1}^T delta_t", "W_h", "x_0 x_0^T"),
    ("elman-last", "dE/dV = (yhat - y) s_{T-1}^T", "V", "x_0^T x_0"),
    ("lstm-matrix", "dE/dbf = sum_t dc_t * c_{t-1} * f_t * (1 - f_t)", "bf", "x_0^T x_0"),
]


@settings(max_examples=16, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(i=st.integers(0, len(FILE_TRUE) - 1), k=st.integers(1, 100), big=st.integers(0, 80),
       kind=st.sampled_from(["tiny", "offset", "grid", "kink"]))
def test_perturbed_right_formulas_never_hold(i: int, k: int, big: int, kind: str) -> None:
    """A right formula holds and a copy off by 10⁻ᵏ, by 10⁻ᵏ under a 10^big offset, by terms
    that vanish on a grid of 64ths, or by a kink term fails (a kink never crossed is at
    most undecided): as for elman (tests/test_decide.py), on files with rows, a many-to-one
    loss and two named adjoints."""
    name, text, carrier, square = FILE_TRUE[i]
    lhs, rhs = text.split(" = ", 1)
    if kind == "tiny":
        wrong = f"{text} + (1/10^{k}) {carrier}"
    elif kind == "offset":
        wrong = f"{lhs} + (10^{big}) {carrier} = {rhs} + (10^{big} + 1/10^{k}) {carrier}"
    elif kind == "grid":
        grid = " ".join(f"(64 {square} - {j})" for j in range(0, 8))
        wrong = f"{text} + {grid} {carrier}"
    else:
        wrong = f"{text} + step({square} - 1/{k + 1}) {carrier}"
    got = [v.verdict for v in check_matrix(f"{text}\n{wrong}", spec=load_model(
        MODELS / f"{name}.toml"), steps=3)]
    assert got[0] == "holds", got
    assert got[1] == "fails" if kind != "kink" else got[1] in ("fails", "undecided"), got


@pytest.mark.parametrize("name, columns", [("elman-last", True), ("gru-matrix", True),
                                           ("lstm-matrix", True), ("rnn-rows", False)])
def test_column_models_run_side_by_side_and_agree_with_the_batched_run(name: str,
                                                                        columns: bool) -> None:
    """A model of column vectors (any, not elman alone) runs as (n, B) columns side by side,
    the fast path; its gradients equal the batch-first run's to round-off."""
    from bptt_sym.numeric.matrix import BATCHED, NUMPY, backend, matrix_gradients

    spec = load_model(MODELS / f"{name}.toml")
    graph = unroll_vector(spec, steps=3)
    assert (backend(graph) is NUMPY) is columns
    values = random_values(graph, np.random.default_rng(7), batch=4)
    fast, batched = matrix_gradients(graph, values), matrix_gradients(graph, values, BATCHED)
    for w in graph.copies:
        a, b = np.asarray(fast[w], dtype=float), np.asarray(batched[w], dtype=float)
        assert np.allclose(a.reshape(b.shape), b, rtol=1e-12, atol=1e-13), w
