"""The bptt-sym command as a user runs it: output, exit status, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# B5, typed from the article in the ascii notation of docs/notation.md.
B5_ASCII = "dE/du = dE/do * do/dq * v_1 * ds_1/dz_1 * (x_1 + w_1 * ds_0/dz_0 * x_0)"
# B6 likewise.
B6_ASCII = "dE/dw = dE/do * do/dq * v_1 * ds_1/dz_1 * (s_0 + w_1 * ds_0/dz_0 * s_{-1})"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bptt_sym", *args], capture_output=True,
                          text=True, timeout=120)


def equations(out: str) -> list[str]:
    return [line for line in out.splitlines() if line and not line.startswith(("#", "%"))]


def test_factored_ascii_prints_b5() -> None:
    r = run("derive", "--model", "doc", "--steps", "2", "--wrt", "u", "--form", "factored",
            "--format", "ascii")
    assert r.returncode == 0, r.stderr
    assert equations(r.stdout) == [B5_ASCII]
    assert "(B5)" in r.stdout


def test_factored_w_prints_b6() -> None:
    r = run("derive", "--wrt", "w", "--form", "factored", "--format", "ascii")
    assert equations(r.stdout) == [B6_ASCII]


def test_default_prints_every_article_formula_b1_to_b8() -> None:
    r = run("derive")
    assert r.returncode == 0, r.stderr
    for ref in ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8"):
        assert f"({ref})" in r.stdout, ref
    # the article's B2 chain, in unicode
    assert "∂E/∂u₁ = ∂E/∂o·∂o/∂q·∂q/∂s₁·∂s₁/∂z₁·∂z₁/∂a₁·∂a₁/∂u₁" in r.stdout
    # B8
    assert "∂E/∂w = ∂E/∂o·∂o/∂s₁·∂s₁/∂w₁ + ∂E/∂o·∂o/∂s₁·∂s₁/∂s₀·∂s₀/∂w₀" in r.stdout


def test_article_refs_only_for_the_article_setting() -> None:
    r = run("derive", "--steps", "3", "--wrt", "u")
    assert "(B" not in r.stdout
    r = run("derive", "--activation", "tanh", "--wrt", "u")
    assert "(B" not in r.stdout


def test_latex_and_json_formats() -> None:
    r = run("derive", "--wrt", "u", "--form", "factored", "--format", "latex")
    assert r.returncode == 0
    (eq,) = equations(r.stdout)
    assert eq.startswith(r"\frac{\partial E}{\partial u} = \frac{\partial E}{\partial o} \cdot")
    r = run("derive", "--wrt", "u,w", "--form", "delta,closed", "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["model"] == "doc" and doc["steps"] == 2
    assert [(d["wrt"], d["form"]) for d in doc["derivations"]] == [
        ("u", "delta"), ("u", "closed"), ("w", "delta"), ("w", "closed")]
    eq = doc["derivations"][1]["equations"][0]
    assert set(eq["lhs"]) == {"ascii", "unicode", "latex", "srepr"}
    assert eq["lhs"]["ascii"] == "dE/du" and "Partial" in eq["lhs"]["srepr"]


def test_closed_sigmoid_bce_reads_o_minus_y() -> None:
    r = run("derive", "--wrt", "v", "--form", "closed", "--activation", "tanh", "--output",
            "sigmoid", "--loss", "bce", "--format", "ascii")
    assert equations(r.stdout) == ["dE/dv = (o - y) * s_1"]


def test_softmax_warns_once_and_gradient_vanishes() -> None:
    r = run("derive", "--output", "softmax", "--form", "closed", "--format", "ascii")
    assert r.returncode == 0
    assert r.stderr.count("softmax of the single logit") == 1
    assert "sigmoid" in r.stderr and "bce" in r.stderr
    assert all(line.endswith(" = 0") for line in equations(r.stdout))


def test_of_and_wrt_nodes() -> None:
    r = run("derive", "--steps", "3", "--of", "s_2", "--wrt", "s_0", "--form", "paths",
            "--format", "ascii")
    assert "ds_2/ds_0 = ds_2/dz_2 * dz_2/db_2 * db_2/ds_1 * ds_1/dz_1 * dz_1/db_1 * db_1/ds_0" \
        in r.stdout


def test_unroll_prints_the_forward_equations() -> None:
    r = run("unroll", "--format", "ascii")
    lines = equations(r.stdout)
    assert lines[:4] == ["a_0 = u_0 * x_0", "b_0 = s_{-1} * w_0", "z_0 = a_0 + b_0 + k_0",
                         "s_0 = f(z_0)"]
    assert lines[-3:] == ["q = s_1 * v_1", "o = g(q)", "E = L(o)"]
    assert "(S9)" in r.stdout


def test_help_and_models() -> None:
    for args in (("--help",), ("derive", "--help"), ("unroll", "--help"), ("models",)):
        r = run(*args)
        assert r.returncode == 0 and r.stdout


@pytest.mark.parametrize("args, words", [
    (("derive", "--steps", "0"), "--steps"),
    (("derive", "--steps", "-1"), "--steps"),
    (("derive", "--steps", "abc"), "--steps"),
    (("derive", "--model", "lstm9"), "doc"),
    (("derive", "--activation", "swish"), "tanh"),
    (("derive", "--output", "nope"), "sigmoid"),
    (("derive", "--loss", "hinge"), "bce"),
    (("derive", "--wrt", "q2"), "u, w, k, v"),
    (("derive", "--wrt", "u,,w"), "empty"),
    (("derive", "--wrt", "s_5"), "out of range"),
    (("derive", "--of", "zz"), "E"),
    (("derive", "--of", "u"), "one node"),
    (("derive", "--form", "nested"), "paths, factored, delta, closed"),
    (("derive", "--format", "html"), "unicode"),
    (("derive", "--steps", "40", "--form", "paths", "--max-paths", "8"), "--form delta"),
    (("derive", "--max-paths", "0"), "--max-paths"),
    (("derive", "--frobnicate"), "unrecognized"),
    (("transmogrify",), "invalid choice"),
    ((), "required"),
])
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], words: str) -> None:
    r = run(*args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and words in lines[0], lines[0]
    assert r.stdout == ""


def test_paths_over_limit_is_skipped_with_a_note_when_not_asked_for() -> None:
    r = run("derive", "--steps", "40", "--wrt", "u", "--max-paths", "8", "--format", "ascii")
    assert r.returncode == 0
    assert "paths form of" in r.stderr and "skipped" in r.stderr
    assert "# dE/du, delta" in r.stdout


def test_large_t_delta_and_closed_linear_output() -> None:
    sizes = {}
    for steps in (100, 200, 400):
        r = run("derive", "--steps", str(steps), "--form", "delta,closed", "--format", "ascii")
        assert r.returncode == 0
        sizes[steps] = len(r.stdout)
    # twice the steps, about twice the text (quadratic growth would give 4x)
    assert 1.8 < sizes[200] / sizes[100] < 2.3
    assert 1.8 < sizes[400] / sizes[200] < 2.3
