"""`--model FILE` on the command line: the built-in doc saved as a file gives byte for byte
the output of `--model doc`; the example model files derive, verify and check; options a
model has no role for, unknown names and bad files are one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from bptt_sym.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
MODELS = EXAMPLES / "models"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def doc_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    import subprocess
    import sys
    path = tmp_path_factory.mktemp("model") / "my.toml"
    r = subprocess.run([sys.executable, "-m", "bptt_sym", "models", "--show", "doc"],
                       capture_output=True, text=True, timeout=120, check=True)
    path.write_text(r.stdout)
    return str(path)


SAME = [
    ["derive", "--steps", "2"],
    ["derive", "--steps", "3", "--format", "ascii"],
    ["derive", "--steps", "2", "--format", "latex", "--activation", "tanh"],
    ["derive", "--steps", "2", "--format", "json", "--loss", "bce", "--output", "sigmoid"],
    ["derive", "--steps", "4", "--form", "delta", "--wrt", "w,s_1"],
    ["derive", "--steps", "2", "--explicit", "--form", "closed"],
    ["unroll", "--steps", "2"],
    ["unroll", "--steps", "3", "--format", "latex"],
    ["check", str(EXAMPLES / "student.txt"), "--steps", "2"],
    ["check", str(EXAMPLES / "pitfalls.txt"), "--steps", "2", "--json"],
    ["verify", "--steps", "3", "--oracle", "autograd", "--oracle", "fd", "--points", "4"],
    ["verify", "--steps", "2", "--activation", "tanh", "--json", "--points", "3"],
]


@pytest.mark.parametrize("argv", SAME, ids=[" ".join(a[:2]) + f" {i}" for i, a in
                                            enumerate(SAME)])
def test_the_doc_file_gives_the_output_of_model_doc(capsys: pytest.CaptureFixture[str],
                                                    doc_file: str, argv: list[str]) -> None:
    assert run(capsys, *argv, "--model", "doc") == run(capsys, *argv, "--model", doc_file)


@pytest.mark.parametrize("suffix", ["md", "tex", "dot"])
def test_export_and_graph_of_the_doc_file_are_the_same(tmp_path: Path, doc_file: str,
                                                       capsys: pytest.CaptureFixture[str],
                                                       suffix: str) -> None:
    command = "graph" if suffix == "dot" else "export"
    a, b = tmp_path / f"a.{suffix}", tmp_path / f"b.{suffix}"
    assert run(capsys, command, "--steps", "2", "-o", str(a))[0] == 0
    assert run(capsys, command, "--steps", "2", "--model", doc_file, "-o", str(b))[0] == 0
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("name", ["gru-scalar", "rnn-mean", "rnn-last"])
def test_each_example_model_derives_and_verifies(capsys: pytest.CaptureFixture[str],
                                                 name: str) -> None:
    path = str(MODELS / f"{name}.toml")
    status, out, err = run(capsys, "derive", "--model", path, "--steps", "3", "--form", "delta")
    assert status == 0 and err == "" and "∂E/∂" in out
    status, out, _ = run(capsys, "verify", "--model", path, "--steps", "4", "--points", "4",
                         "--oracle", "autograd", "--oracle", "fd")
    assert status == 0 and out.rstrip().endswith("all passed"), out


def test_a_right_and_a_wrong_hand_formula_on_the_gru(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "gru.txt"
    notes.write_text("dh_2/dz_2 = h_1 - n_2\n"           # h = (1 - z) n + z h_prev
                     "dh_2/dz_2 = n_2 - h_1\n"           # the sign of z and 1 - z swapped
                     "dn_1/dr_1 = (1 - n_1^2) un h_0\n"
                     "dn_1/dr_1 = (1 - n_1^2) un h_1\n")  # a step index off by one
    status, out, _ = run(capsys, "check", str(notes), "--model",
                         str(MODELS / "gru-scalar.toml"), "--steps", "3", "--json")
    import json
    verdicts = [e["verdict"] for e in json.loads(out)["equations"]]
    assert status == 1 and verdicts == ["holds", "fails", "holds", "fails"]


def test_models_lists_each_built_in_model_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "models")
    lines = out.splitlines()
    assert status == 0 and lines[0].startswith("doc ") and lines[1].startswith("elman ")
    assert "--show" in lines[-1]


def test_show_reads_a_model_file_back(capsys: pytest.CaptureFixture[str]) -> None:
    """models --show FILE prints the file as the tool reads it; that text reads as the same
    model (the user's own cell, the minimal gated unit)."""
    from bptt_sym.model.load import load_model, parse_model

    path = str(MODELS / "mgu.toml")
    status, out, _ = run(capsys, "models", "--show", path)
    assert status == 0 and 'name = "mgu"' in out
    assert parse_model(out, path=path) == load_model(path)


@pytest.mark.parametrize("argv,message", [
    (["models", "--show", "mgu"], "unknown model 'mgu' for --show; choose one of doc, elman, "
     "lstm, lstm-peephole, gru, gru-cho"),
    (["derive", "--model", "mgu"], "unknown model 'mgu'; choose doc, elman, lstm, "
     "lstm-peephole, gru, gru-cho, or the path"),
    (["derive", "--model", "missing.toml"], "cannot read model file 'missing.toml'"),
    (["models", "--show", "missing.toml"], "cannot read model file 'missing.toml'"),
    (["derive", "--model", str(MODELS / "gru-scalar.toml"), "--loss", "bce"],
     "--loss does not apply: model gru-scalar"),
    (["verify", "--model", str(MODELS / "gru-scalar.toml"), "--activation", "tanh"],
     "--activation does not apply"),
    (["derive", "--model", str(MODELS / "rnn-mean.toml"), "--wrt", "u"],
     "unknown --wrt name 'u'"),
])
def test_bad_model_arguments_are_one_line_and_2(capsys: pytest.CaptureFixture[str],
                                                argv: list[str], message: str) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2 and out == "" and len(err.splitlines()) == 1 and message in err, err


def test_a_bad_model_file_is_one_line_with_its_place(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    text = (MODELS / "rnn-mean.toml").read_text().replace("wh h_{t-1}", "wq h_{t-1}")
    bad.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "wq h_" in s)
    status, out, err = run(capsys, "derive", "--model", str(bad))
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert f"bad.toml:{line}:" in err and "undefined name wq" in err, err


def test_size_sets_the_sizes_of_elman(capsys: pytest.CaptureFixture[str]) -> None:
    """--size H=5,D=2,K=3 is the same as --hidden 5 --inputs 2 --classes 3."""
    import json
    base = ["verify", "--model", "elman", "--steps", "2", "--points", "2", "--oracle", "fd",
            "--json"]
    status, out, _ = run(capsys, *base, "--size", "H=5,D=2,K=3")
    other = run(capsys, *base, "--hidden", "5", "--inputs", "2", "--classes", "3")
    assert status == 0 and (status, out) == other[:2]
    assert json.loads(out)["choices"]["sizes"] == "hidden 5, inputs 2, classes 3"


@pytest.mark.parametrize("argv,message", [
    (["--size", "H=5", "--hidden", "4"], "--size H= and --hidden both give the size H"),
    (["--size", "Q=5"], "model elman has no size Q; its sizes are H, D, K"),
    (["--size", "H=0"], "must be at least 1"),
    (["--size", "H=2,H=3"], "H is given twice"),
])
def test_bad_sizes_are_one_line_and_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                      message: str) -> None:
    try:
        status = cli.main(["verify", "--model", "elman", *argv])
    except SystemExit as exc:  # argparse's own errors (a bad --size value)
        status = exc.code
    err = capsys.readouterr().err
    assert status == 2 and len(err.splitlines()) == 1 and message in err, err


def test_size_is_for_the_vector_model(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "derive", "--size", "H=4")
    assert status == 2 and "--size, --hidden, --inputs, --classes and --bias are for" in err
