"""No input crashes or hangs the command line (issue 10, classes 9 to 13).

Each class has the case that was seen and cases of our own.  Runs that could end in a
segmentation fault or a traceback are separate processes: the exit status and stderr are
what a user sees.  The expected messages and limits come from docs/index.md#limits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from bptt_sym.cli import main as cli
from bptt_sym.deep import DEEP_LIMIT, run_deep
from bptt_sym.errors import TooDeep, UsageError
from bptt_sym.files import MAX_INPUT_BYTES, json_text
from bptt_sym.graph.build import unroll
from bptt_sym.limits import MAX_NESTED_STEPS, MAX_POINTS, MAX_VERIFY_STEPS
from bptt_sym.numeric.compiled import override_expr
from bptt_sym.printing.leibniz import leibniz
from bptt_sym.verification.run import Report, Row, verify

ROOT = Path(__file__).resolve().parent.parent
STUDENT = str(ROOT / "docs" / "examples" / "student.txt")
ARTICLE = str(ROOT / "docs" / "examples" / "article-ascii.txt")


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``bptt-sym ARGS`` in a new process, as a user runs it."""
    r = subprocess.run([sys.executable, "-m", "bptt_sym", *args], input=stdin,
                       capture_output=True, timeout=timeout, cwd=cwd)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode("utf-8", "replace"),
                                       r.stderr.decode("utf-8", "replace"))


def assert_one_line(r: subprocess.CompletedProcess[str], *words: str, status: int = 2) -> None:
    """Exit ``status``, exactly one line on stderr holding ``words``, no traceback."""
    assert r.returncode == status, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr[-2000:]
    for w in words:
        assert w in r.stderr, r.stderr


def strict_json(text: str) -> object:
    """json.loads that refuses NaN, Infinity and -Infinity (which are not JSON)."""
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in JSON output")
    return json.loads(text, parse_constant=refuse)


def nested(depth: int) -> sp.Expr:
    """x·(x + x·(x + …)): a SymPy expression ``2·depth`` levels deep, built bottom-up."""
    x = sp.Symbol("x")
    e = x
    for _ in range(depth):
        e = sp.Mul(x, sp.Add(x, e, evaluate=False), evaluate=False)
    return e


# ---- 9: deep expressions end in a result or in one line, never in a segmentation fault ----

def test_seen_factored_form_at_6000_steps_prints() -> None:
    """Was: exit 139 (the recursion limit raised past the C stack)."""
    r = run("derive", "--steps", "6000", "--form", "factored", "--wrt", "k", "--format", "ascii")
    assert r.returncode == 0 and r.stderr == "", r.stderr[-2000:]
    assert r.stdout.startswith("# dE/dk, factored") and r.stdout.count("w_5999") == 1


def test_seen_export_at_6000_steps_writes_the_document(tmp_path: Path) -> None:
    r = run("export", "--steps", "6000", "--wrt", "k", "--form", "factored,closed", "-o",
            "d.tex", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "", r.stderr[-2000:]
    text = (tmp_path / "d.tex").read_text(encoding="utf-8")
    assert text.rstrip().endswith("\\end{document}") and "w_{5999}" in text


def test_seen_derive_at_the_nested_limit_prints_every_form() -> None:
    """``derive --steps 10000`` was exit 139; 10000 is the largest T the nested forms print."""
    r = run("derive", "--steps", str(MAX_NESTED_STEPS), "--wrt", "v", "--format", "ascii")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert [line for line in r.stdout.splitlines() if line.startswith("# dE/dv")] == \
        ["# dE/dv, paths", "# dE/dv, factored", "# dE/dv, delta", "# dE/dv, closed"]


@pytest.mark.parametrize("form", ["factored", "closed", "delta,closed"])
def test_a_nested_form_past_the_limit_is_one_line(form: str) -> None:
    r = run("derive", "--steps", "100000", "--form", form)
    assert_one_line(r, f"--steps 100000 is too deep for --form {form.split(',')[-1]}",
                    f"the largest that prints is {MAX_NESTED_STEPS}", "--form delta")
    r = run("export", "--steps", str(MAX_NESTED_STEPS + 1), "--form", form, "-o", "-")
    assert_one_line(r, "is too deep for --form", "use --form delta")


def test_without_form_the_nested_forms_are_left_out_with_a_note() -> None:
    """Past the limit, the default forms print the delta form (the cheap one) and say so."""
    r = run("derive", "--steps", str(MAX_NESTED_STEPS + 1), "--wrt", "k", "--format", "ascii")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    notes = r.stderr.splitlines()
    assert any("factored form skipped" in n for n in notes)
    assert any("closed form skipped" in n for n in notes)
    assert r.stdout.startswith("# dE/dk, delta") and "dE/dz_10000 = " in r.stdout


def test_a_long_chain_product_is_refused_not_built_for_minutes() -> None:
    """∂E/∂s_0 is one product along the whole chain; the sweep builds it in time quadratic
    in its length (T = 4000 took 4 minutes), so past the limit it is one line."""
    for form in ("factored", "closed", "paths"):
        r = run("derive", "--steps", "2000", "--wrt", "s_0", "--form", form)
        assert_one_line(r, f"--form {form} of ∂E/∂s_0 at --steps 2000 is a chain product",
                        "use --form delta")
    r = run("derive", "--steps", "2000", "--wrt", "s_0", "--format", "ascii")
    assert r.returncode == 0 and r.stdout.startswith("# dE/ds_0, delta")
    assert len(r.stderr.splitlines()) == 3 and "Traceback" not in r.stderr
    r = run("derive", "--steps", "300", "--wrt", "s_0", "--form", "factored", "--format", "ascii")
    assert r.returncode == 0 and r.stdout.count("w_") == 299


@pytest.mark.parametrize("args, words", [
    (["verify", "--steps", "100000"], f"verify runs at most {MAX_VERIFY_STEPS} steps"),
    (["verify", "--steps", str(MAX_VERIFY_STEPS + 1), "--model", "elman"], "at most"),
    (["graph", "--steps", "100000"], "graph draws at most 60 steps"),
    (["derive", "--model", "elman", "--steps", "100000"], "from 1 to 4096"),
    (["export", "--model", "elman", "--steps", "100000", "-o", "-"], "from 1 to 4096"),
    (["check", ARTICLE, "--model", "elman", "--steps", "100000"], "from 1 to 4096"),
])
def test_commands_past_their_step_limit_say_it_at_once(args: list[str], words: str) -> None:
    assert_one_line(run(*args, timeout=120), words)


def test_printing_a_deep_expression_in_the_main_thread_does_not_crash() -> None:
    """The printer retries in a thread with a large stack: 30,000 levels print."""
    text = leibniz(nested(15_000), "ascii")
    assert text.count("x") == 30_001


def test_deeper_than_the_limit_is_one_error_not_a_crash() -> None:
    code = ("import sympy as sp\n"
            "from bptt_sym.printing.leibniz import leibniz\n"
            "from bptt_sym.errors import TooDeep\n"
            "x = sp.Symbol('x'); e = x\n"
            f"for _ in range({DEEP_LIMIT}):\n"
            "    e = sp.Mul(x, sp.Add(x, e, evaluate=False), evaluate=False)\n"
            "try:\n    leibniz(e)\nexcept TooDeep as exc:\n    print('too deep:', exc)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and r.stdout.startswith("too deep:"), (r.returncode, r.stderr[-500:])
    with pytest.raises(TooDeep):
        run_deep(lambda: _recurse(DEEP_LIMIT + 10))


def _recurse(n: int) -> int:
    return 0 if n == 0 else 1 + _recurse(n - 1)


# ---- 10: tracebacks become one line and exit 2 (130 for Ctrl-C) --------------------------

@pytest.mark.parametrize("args, words", [
    (["--seed", "-1"], "--seed: must be at least 0"),                       # seen
    (["--seed", "-5", "--model", "elman"], "--seed: must be at least 0"),
    (["--seed", "1.5"], "--seed: must be a whole number"),
    (["--points", str(10**9)], f"--points: must be at most {MAX_POINTS}"),   # seen
    (["--points", "9" * 30, "--model", "elman"], "--points: must be at most"),
    (["--points", "100000", "--steps", "1000"], "more than the limit of 10,000,000"),
    (["--model", "elman", "--hidden", "4096", "--steps", "100"], "use at most --points"),
    (["--model", "elman", "--hidden", "40", "--steps", "2000", "--oracle", "fd"],
     "--oracle fd: finite differences would run"),
])
def test_verify_bad_counts_are_one_line(args: list[str], words: str) -> None:
    assert_one_line(run("verify", *args, timeout=120), words)


def test_verify_api_refuses_bad_seeds_and_counts() -> None:
    with pytest.raises(UsageError, match="--seed must be a whole number ≥ 0"):
        verify("doc", steps=2, seed=-1)
    with pytest.raises(UsageError, match="more than the limit"):
        verify("doc", steps=2, points=10**9)
    from bptt_sym.verification.matrix import verify_elman
    with pytest.raises(UsageError, match="--seed must be"):
        verify_elman(steps=2, seed=-3)
    with pytest.raises(UsageError, match="more than the limit"):
        verify_elman(steps=2, points=10**7)


def _scalar_at(**change: object) -> str:
    point = {"u": 0.5, "w": -0.3, "k": 0.1, "v": 0.8, "y": 0.3, "s_{-1}": 0.0, "x": [1.0, -1.0]}
    point.update(change)
    return json.dumps(point)


ELMAN_AT = (ROOT / "docs" / "examples" / "elman-point.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("model, content, words", [
    ("elman", ELMAN_AT.replace("[", "[" + "9" * 5000 + ", ", 1), "is not valid JSON"),  # seen
    ("doc", _scalar_at().replace("0.5", "9" * 5000), "is not valid JSON"),
    ("doc", _scalar_at().replace("0.5", "9" * 400), "not a number or list of finite numbers"),
    ("doc", _scalar_at().replace("0.5", "1e400"), "'u' is not finite"),
    ("doc", "[" * 100_000, "is not valid JSON"),                                          # seen
    ("doc", _scalar_at().replace("0.5", "[" * 50_000 + "1" + "]" * 50_000),
     "not a number or list of finite numbers"),
    ("elman", '{"U": ' + "[" * 200_000 + "]" * 200_000 + "}", "is not valid JSON"),
    ("doc", '{"u": 1, "x": [' + "1, " * 300_000 + "1]}", "no value for 'w'"),
])
def test_verify_at_bad_files_are_one_line(tmp_path: Path, model: str, content: str,
                                          words: str) -> None:
    (tmp_path / "at.json").write_text(content, encoding="utf-8")
    steps = "3" if model == "elman" else "2"
    r = run("verify", "--model", model, "--steps", steps, "--at", "at.json", cwd=tmp_path)
    assert_one_line(r, words)
    assert len(r.stderr) < 400


@pytest.mark.parametrize("model", ["doc", "elman"])
def test_verify_at_dev_zero_is_one_line_and_quick(model: str) -> None:
    r = run("verify", "--model", model, "--at", "/dev/zero", timeout=120)  # seen
    assert_one_line(r, "'/dev/zero' is larger than the 5 MB limit; split it")


LONG = "d" * 300 + ".tex"


@pytest.mark.parametrize("args, words", [
    (["export", "-o", LONG], "File name too long"),                                  # seen
    (["graph", "-o", "g" * 300 + ".dot"], "File name too long"),
    (["export", "-o", "x" * 250 + "/d.tex"], "does not exist"),
    (["export", "-o", "a/" * 2100 + "d.tex"], "File name too long"),
])
def test_output_names_too_long_are_one_line(tmp_path: Path, args: list[str],
                                            words: str) -> None:
    r = run(*args, cwd=tmp_path)
    assert_one_line(r, words)
    assert len(r.stderr) < 400 and list(tmp_path.iterdir()) == []


def test_a_name_of_250_characters_is_written(tmp_path: Path) -> None:
    """The temporary file beside it has a short name, so any name that fits is written."""
    name = "d" * 251 + ".md"
    r = run("export", "--form", "closed", "--wrt", "k", "-o", name, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in tmp_path.iterdir()] == [name]


@pytest.mark.parametrize("args", [
    ["export", "--wrt", "k", "-o", "/dev/full", "--format", "latex"],                 # seen
    ["graph", "-o", "/dev/full", "--format", "dot"],
    ["derive", "--wrt", "k"],  # stdout is /dev/full
    ["unroll", "--steps", "3000"],
])
def test_a_full_disk_is_one_line(args: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        r = subprocess.run([sys.executable, "-m", "bptt_sym", *args], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.splitlines() == [r.stderr.strip()] and "No space left on device" in r.stderr


def test_a_full_disk_in_the_middle_of_a_write_leaves_the_old_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "g.dot"
    target.write_text("old")
    real_open = open

    class Full:
        def __init__(self, fh: object) -> None:
            self.fh = fh

        def __enter__(self) -> Full:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def write(self, data: bytes) -> int:
            raise OSError(28, "No space left on device")

    def fake_open(name: object, mode: str = "r", *a: object, **k: object) -> object:
        fh = real_open(name, mode, *a, **k)
        return Full(fh) if "x" in mode else fh

    monkeypatch.setattr("builtins.open", fake_open)
    status = cli.main(["graph", "--steps", "2", "--force", "-o", str(target)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "No space left on device" in err
    assert [p.name for p in tmp_path.iterdir()] == ["g.dot"] and target.read_text() == "old"


def test_ctrl_c_while_working_is_one_line_and_130() -> None:
    """SIGINT while the derivation runs in its worker thread."""
    code = ("import os, signal, sys, threading\n"
            "from bptt_sym.cli.main import main_exit\n"
            "threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
            "sys.argv = ['bptt-sym', 'derive', '--steps', '20000', '--form', 'delta']\n"
            "main_exit()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 130 and r.stderr == "bptt-sym derive: interrupted\n", r.stderr


@pytest.mark.parametrize("where", ["parser", "_graph", "check_graph"])
def test_ctrl_c_during_start_up_is_one_line_and_130(where: str) -> None:
    """KeyboardInterrupt raised in start-up steps of main, in the main thread (check) and
    in the worker thread (derive): one line, status 130."""
    command = "check" if where == "check_graph" else "derive"
    code = ("import sys\n"
            "import bptt_sym.cli.main as cli\n"
            "def stop(*a, **k):\n    raise KeyboardInterrupt\n"
            f"cli.{where} = stop\n"
            f"sys.argv = ['bptt-sym', '{command}'] + ({[ARTICLE]!r} if '{command}' == 'check'"
            " else [])\n"
            "cli.main_exit()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 130 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.endswith("interrupted\n")


def test_ctrl_c_while_the_package_loads_is_one_line_and_130() -> None:
    """KeyboardInterrupt raised while bptt_sym.cli.main is being imported (an import hook stands in
    for the user's Ctrl-C at that moment), through the console-script entry point."""
    code = ("import sys\n"
            "class Stop:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'sympy':\n"
            "            raise KeyboardInterrupt\n"
            "sys.meta_path.insert(0, Stop())\n"
            "from bptt_sym_launch import main\n"
            "sys.argv = ['bptt-sym', 'derive']\n"
            "main()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 130 and r.stderr == "bptt-sym: interrupted\n", r.stderr


def test_sigint_soon_after_start_is_130_without_traceback() -> None:
    """A real SIGINT 0.3 s after the console script starts (while SymPy loads)."""
    proc = subprocess.Popen([sys.executable, "-m", "bptt_sym_launch", "derive", "--steps", "3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert len(err.splitlines()) == 1 and err.endswith("interrupted\n"), err


def test_ctrl_c_in_main_exit_itself_is_130(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    def stop(argv: object = None) -> int:
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "main", stop)
    with pytest.raises(SystemExit) as exc:
        cli.main_exit()
    assert exc.value.code == 130 and capsys.readouterr().err == "bptt-sym: interrupted\n"


# ---- 11: input is read with a size limit, from files, stdin and FIFOs ---------------------

@pytest.mark.parametrize("args", [
    ["check", "/dev/zero"],
    ["check", "/dev/zero", "--model", "elman"],
])
def test_check_dev_zero_is_refused_at_the_limit(args: list[str]) -> None:
    assert_one_line(run(*args, timeout=120), "'/dev/zero' is larger than the 5 MB limit")


def test_check_stdin_larger_than_the_limit_is_refused() -> None:
    r = run("check", "-", stdin=b"dE/du = dE/du1 + dE/du0\n" * (MAX_INPUT_BYTES // 20))
    assert_one_line(r, "'-' is larger than the 5 MB limit; split it")


def test_a_file_just_under_the_limit_is_read(tmp_path: Path) -> None:
    line = "# a comment line that is skipped\n"
    body = line * ((MAX_INPUT_BYTES - 100) // len(line)) + "dE/du = dE/du1 + dE/du0\n"
    (tmp_path / "big.txt").write_text(body, encoding="utf-8")
    assert cli._read_text(str(tmp_path / "big.txt")) == body


def _fifo_writer(path: Path, data: bytes) -> threading.Thread:
    def write() -> None:
        with open(path, "wb") as fh:
            for i in range(0, len(data), 7):  # in small pieces, as a slow writer would
                fh.write(data[i:i + 7])
                fh.flush()
    t = threading.Thread(target=write, daemon=True)
    t.start()
    return t


def test_check_reads_a_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "derivation"
    os.mkfifo(fifo)
    writer = _fifo_writer(fifo, b"dE/du = dE/du1 + dE/du0\nds1/dz1 = f'(z1)\n")
    status = cli.main(["check", str(fifo)])
    writer.join(timeout=60)
    out = capsys.readouterr().out
    assert status == 0 and out.endswith("2 hold, 0 fail, 0 invalid\n"), out


def test_verify_at_reads_a_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "at.json"
    os.mkfifo(fifo)
    writer = _fifo_writer(fifo, _scalar_at().encode())
    status = cli.main(["verify", "--at", str(fifo), "--activation", "tanh", "--output",
                       "sigmoid", "--loss", "bce", "--oracle", "autograd", "--json"])
    writer.join(timeout=60)
    report = strict_json(capsys.readouterr().out)
    assert status == 0 and report["passed"] and report["points"] == 1


def test_a_fifo_larger_than_the_limit_is_refused(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "huge"
    os.mkfifo(fifo)

    def write() -> None:
        try:
            with open(fifo, "wb") as fh:
                for _ in range(MAX_INPUT_BYTES // 65536 + 10):
                    fh.write(b"x" * 65536)
        except BrokenPipeError:
            pass  # the reader stopped at the limit, as it should
    t = threading.Thread(target=write, daemon=True)
    t.start()
    assert cli.main(["check", str(fifo)]) == 2
    t.join(timeout=60)
    assert "is larger than the 5 MB limit" in capsys.readouterr().err


# ---- 12: JSON is JSON, a closed pipe keeps the status, -o does not overwrite ---------------

def test_check_json_is_valid_json_for_infinite_values() -> None:
    """Was: ``Infinity`` in the output (a counterexample that overflows)."""
    r = run("check", "-", "--json", "--activation", "tanh",
            stdin=b"ds1/dz1 = exp(exp(exp(3)))\ndE/dk = 10^400 * dE/dk\n")
    strict_json(r.stdout)
    assert r.returncode == 1 and "Traceback" not in r.stderr


def _verdicts(monkeypatch: pytest.MonkeyPatch, *verdicts: object) -> None:
    monkeypatch.setattr(cli, "check_graph", lambda *a, **k: list(verdicts))


def test_check_json_writes_non_finite_counterexamples_as_strings(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from bptt_sym.check.checker import Verdict
    (tmp_path / "d.txt").write_text("dE/dk = 1\n")
    _verdicts(monkeypatch, Verdict(1, "dE/dk = 1", "fails", "differs", counterexample={
        "k": 0.5, "left side": float("inf"), "difference": float("nan")}))
    assert cli.main(["check", str(tmp_path / "d.txt"), "--json"]) == 1
    out = strict_json(capsys.readouterr().out)
    assert out["equations"][0]["counterexample"] == {"k": 0.5, "left side": "inf",
                                                     "difference": "nan"}


@pytest.mark.parametrize("kinds, status", [
    (["holds", "skipped"], 0), (["holds", "undecided"], 1), (["skipped"], 1),
    (["holds", "invalid"], 1), (["fails", "skipped"], 1), (["holds"], 0),
])
def test_check_exit_status_counts_undecided_as_failing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        kinds: list[str], status: int) -> None:
    """docs/check.md: 0 when every equation holds; skipped lines are not equations."""
    from bptt_sym.check.checker import Verdict
    (tmp_path / "d.txt").write_text("x\n")
    _verdicts(monkeypatch, *(Verdict(i + 1, "x", k, "") for i, k in enumerate(kinds)))
    assert cli.main(["check", str(tmp_path / "d.txt")]) == status
    captured = capsys.readouterr()
    if kinds == ["skipped"]:
        assert "no equations found" in captured.err


def test_verify_json_writes_inf_as_a_string(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    rows = (Row("delta", "u", "fd", float("inf"), float("nan"), 1e-6),)
    report = Report("doc", 2, {"activation": "f", "output": "g", "loss": "L"}, 0, 1, {},
                    float("-inf"), rows)
    monkeypatch.setattr(cli, "verify", lambda *a, **k: report)
    assert cli.main(["verify", "--json"]) == 1
    out = strict_json(capsys.readouterr().out)
    assert out["rows"][0]["max_abs"] == "inf" and out["rows"][0]["max_rel"] == "nan"
    assert out["forward_max_rel"] == "-inf"


def test_json_text_turns_every_non_finite_number_into_a_string() -> None:
    value = {"a": [1.0, float("inf"), (float("-inf"), np.float64("nan"))], "b": {"c": 2}}
    assert strict_json(json_text(value)) == {"a": [1.0, "inf", ["-inf", "nan"]], "b": {"c": 2}}


@pytest.mark.parametrize("args", [["derive", "--format", "json"],
                                  ["derive", "--model", "elman", "--format", "json"],
                                  ["verify", "--steps", "3", "--points", "4", "--json"]])
def test_every_json_output_is_strict_json(args: list[str]) -> None:
    r = run(*args)
    assert r.returncode == 0, r.stderr
    strict_json(r.stdout)


def _closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader is gone before anything is written."""
    read, write = os.pipe()
    os.close(read)
    try:
        r = subprocess.run([sys.executable, "-m", "bptt_sym", *args], stdout=write,
                           stderr=subprocess.PIPE, text=True, timeout=600)
    finally:
        os.close(write)
    return r


@pytest.mark.parametrize("args, status", [
    (["check", STUDENT, "--activation", "tanh", "--output", "sigmoid", "--loss", "bce"], 1),
    (["check", ARTICLE], 0),                                          # was: exit 0 for both
    (["check", ARTICLE, "--steps", "3", "--json"], 1),
    (["unroll", "--steps", "2000"], 0),
    (["derive", "--steps", "bad"], 2),
])
def test_a_closed_pipe_keeps_the_exit_status(args: list[str], status: int) -> None:
    r = _closed_pipe(*args)
    assert r.returncode == status and "Traceback" not in r.stderr, r.stderr
    assert "BrokenPipe" not in r.stderr and "Exception ignored" not in r.stderr


def test_head_keeps_the_failing_status() -> None:
    """``check bad.txt | head -1``: the shell's pipefail sees check's own status."""
    script = (f"set -o pipefail; {sys.executable} -m bptt_sym check {STUDENT} --activation "
              "tanh --output sigmoid --loss bce | head -1")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and r.stdout.startswith("line ") and r.stderr == "", r.stderr


@pytest.mark.parametrize("command", ["export", "graph"])
def test_o_does_not_overwrite_without_force(tmp_path: Path, command: str) -> None:
    target = tmp_path / ("d.tex" if command == "export" else "g.dot")
    target.write_text("mine")
    r = run(command, "--steps", "2", "-o", target.name, cwd=tmp_path)
    assert_one_line(r, f"'{target.name}' exists; pass --force to overwrite it")
    assert target.read_text() == "mine" and [p.name for p in tmp_path.iterdir()] == [target.name]
    r = run(command, "--steps", "2", "-o", target.name, "--force", cwd=tmp_path)
    assert r.returncode == 0 and target.read_text() != "mine"


def test_o_writes_to_devices_without_force(tmp_path: Path) -> None:
    link = tmp_path / "link.tex"
    link.symlink_to(tmp_path / "new.tex")  # a symlink to a file not there yet: written
    assert run("export", "-o", str(link)).returncode == 0
    assert (tmp_path / "new.tex").read_text().startswith("\\documentclass")
    assert_one_line(run("export", "-o", str(link)), "exists; pass --force")
    r = run("export", "--wrt", "k", "-o", "/dev/null", "--format", "latex")
    assert r.returncode == 0 and r.stderr == ""


# ---- 13: text given to verify is never evaluated -----------------------------------------

ATTACK = "__import__('os').system('touch {}')"


def _no_sympy_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """SymPy's string parsers raise: sympify of text, and parse_expr (where sympify sends
    any object it does not know, through its str())."""
    import sympy.parsing.sympy_parser as parser

    sympify_module = sys.modules["sympy.core.sympify"]  # sympy.core.sympify is the function
    real = sympify_module.sympify

    def guarded(a: object, *args: object, **kwargs: object) -> object:
        if isinstance(a, str) and not kwargs.get("strict"):
            raise AssertionError(f"sympify was called on text {a!r}")
        return real(a, *args, **kwargs)

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("parse_expr was called")
    monkeypatch.setattr(sp, "sympify", guarded)
    monkeypatch.setattr(sympify_module, "sympify", guarded)
    monkeypatch.setattr(parser, "parse_expr", refuse)


@pytest.mark.parametrize("text", [
    ATTACK,                                                                   # seen
    "eval(\"__import__('os').system('touch {}')\")",
    "lambda: open('{}', 'w')",
    "(o - y) * v1 ; import os; os.system('touch {}')",
])
def test_override_text_that_is_code_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               text: str) -> None:
    pwned = tmp_path / "pwned"
    _no_sympy_parsing(monkeypatch)
    with pytest.raises(UsageError, match="override for 'u' is not a formula of ours"):
        verify("doc", steps=2, oracles=["autograd"], points=2,
               override={"u": text.format(pwned)})
    assert not pwned.exists()


def test_override_objects_that_are_neither_sympy_nor_text_are_refused(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"

    class Sneaky:
        def __str__(self) -> str:  # what sympify would have parsed
            return ATTACK.format(pwned)
    _no_sympy_parsing(monkeypatch)
    g = unroll("doc", steps=2)
    for value in (Sneaky(), [1, 2], float("nan"), True):
        with pytest.raises(UsageError, match="override for 'u'"):
            override_expr(g, "u", value)
    assert not pwned.exists()


def test_override_text_in_our_notation_is_read_and_checked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The right ∂E/∂k (tanh, sigmoid, bce, T = 2) as text passes; a wrong one fails."""
    _no_sympy_parsing(monkeypatch)
    right = "(o - y) * v1 * (1 - s1^2) * (1 + w1 * (1 - s0^2))"
    wrong = "(o - y) * v1 * (1 - s1^2)"
    options = dict(steps=2, activation="tanh", output="sigmoid", loss="bce",
                   oracles=["autograd"], points=8)
    ok = verify("doc", **options, override={"k": right})
    bad = verify("doc", **options, override={"k": "dE/dk = " + wrong})
    assert ok.passed and not bad.passed
    assert {r.parameter for r in bad.rows if not r.passed} == {"k"}
