"""check: the article holds in every notation, each kind of mistake is named, bad input is
invalid (never evaluated), and the command's exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bptt_sym import derive, unroll
from bptt_sym.check.checker import check, check_graph

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
CONCRETE = {"activation": "tanh", "output": "sigmoid", "loss": "bce"}


@pytest.mark.parametrize("name, count", [("article-ascii.txt", 10), ("article-unicode.txt", 8),
                                         ("article-latex.md", 7)])
def test_the_article_holds_in_every_notation(name: str, count: int) -> None:
    verdicts = check((EXAMPLES / name).read_text(encoding="utf-8"))
    assert [v.verdict for v in verdicts] == ["holds"] * count, [v.text() for v in verdicts]


def test_student_mistakes_are_each_diagnosed() -> None:
    verdicts = check((EXAMPLES / "student.txt").read_text(encoding="utf-8"), **CONCRETE)
    assert [v.verdict for v in verdicts[:6]] == ["holds"] * 6
    wrong = verdicts[6:]
    assert [v.verdict for v in wrong] == ["fails"] * 6
    kinds = [v.diagnosis[0].kind if v.diagnosis else None for v in wrong]
    assert kinds == ["missing-steps", "local-derivative", "sign", "step-index",
                     "missing-factor", "local-derivative"]
    texts = [v.diagnosis[0].text for v in wrong]
    assert "step 0" in texts[0] and "∂E/∂u₀" in texts[0]
    assert "1 − s₀²" in texts[1]
    assert "x₀ and x₁ are swapped" in texts[3]
    assert "w₁ (= ∂b₁/∂s₀)" in texts[4]
    assert "∂E/∂o written as o − y" in texts[5]
    assert all(v.counterexample and "left side" in v.counterexample for v in wrong)


B5 = "dE/do * do/dq * v1 * ds1/dz1 * (x1 + w1 * ds0/dz0 * x0)"


@pytest.mark.parametrize("text, kind", [
    ("dE/du = dE/do * do/dq * v1 * ds1/dz1 * x1", "missing-steps"),
    ("dE/du = dE/du1", "missing-steps"),
    ("dE/du1 = dE/du1 + dE/du0", "extra-steps"),
    ("dE/du = -" + B5, "sign"),
    ("dE/du = 2 * " + B5, "factor"),
    ("dE/du = 1.000001 * " + B5, "factor"),        # off by 1e-6 is wrong
    ("ds1/dz1 = f(z1)", "local-derivative"),        # abstract f: f' is meant
    ("dE/du = dE/do * do/dq * v1 * ds1/dz1 * (x1 + ds0/dz0 * x0)", "missing-factor"),
    ("dE/du = dE/do * do/dq * v1 * ds1/dz1 * (x1 + w1 * ds0/dz0 * x1)", "step-index"),
    ("dE/dw = dE/do * do/dq * v1 * ds1/dz1 * (s0 + w1 * ds0/dz0 * s0)", "step-index"),
])
def test_each_kind_of_mistake_abstract(text: str, kind: str) -> None:
    (v,) = check(text)
    assert v.verdict == "fails", v.text()
    assert v.diagnosis and v.diagnosis[0].kind == kind, v.text()


def test_counterexample_without_a_known_mistake() -> None:
    (v,) = check("dE/du = x1 * x0 * o")
    assert v.verdict == "fails" and not v.diagnosis
    assert {"x_0", "x_1", "left side", "right side", "f(z)"} <= set(v.counterexample)


def test_chain_reports_the_failing_pair() -> None:
    (v,) = check(f"dE/du = {B5} = dE/do * x1")
    assert v.verdict == "fails" and "sides 2 and 3" in v.message


@pytest.mark.parametrize("text, words", [
    ("dE/du = (x1 +", "syntax error at column 14"),
    ("dE/du = h1 * x1", "unknown symbol h_1; known: a_t, b_t"),
    ("dE/du = s_5", "out of range"),
    ("dE/du = v_0", "not a step copy of v"),
    ("dx_1/du = 1", "not a node"),
    ("dE/du = x_t + x_k", "the indices k and t are not bound"),
    ("dE/du = foo(x1)", "unknown symbol foo"),
    ("dE/du = 2^(10^10)", "exponent"),
    ("1/0 = 1", "undefined"),
    ("log(-1) = 1", "not real"),
    ("__import__('os').system('echo pwned') = 1", "syntax error"),
    ("dE/du = ().__class__.__bases__", "syntax error"),
    ("dE/du = eval('1')", "syntax error"),
])
def test_invalid_formulas(text: str, words: str) -> None:
    verdicts = check(text + "\nds1/dz1 = f'(z1)")
    assert verdicts[0].verdict == "invalid" and words in verdicts[0].message, verdicts[0].text()
    assert verdicts[1].verdict == "holds"  # the rest is still checked


def test_user_text_never_reaches_sympys_string_parser(monkeypatch) -> None:  # noqa: ANN001
    import sympy.parsing.sympy_parser as parser

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parse_expr was called on user text")

    monkeypatch.setattr(parser, "parse_expr", refuse)
    verdicts = check((EXAMPLES / "student.txt").read_text(encoding="utf-8"), **CONCRETE)
    assert len(verdicts) == 12


@pytest.mark.parametrize("steps", (1, 2, 3))
@pytest.mark.parametrize("choices", [{}, CONCRETE])
def test_everything_derive_prints_holds_under_check(steps: int, choices: dict) -> None:
    g = unroll("doc", steps=steps, **choices)
    for fmt in ("ascii", "unicode", "latex"):
        text = "\n".join(derive(g, wrt=w, form=f).text(fmt) for w in g.copies
                         for f in ("paths", "factored", "delta", "closed"))
        verdicts = check_graph(text, g)
        assert verdicts and all(v.verdict == "holds" for v in verdicts), \
            [v.text() for v in verdicts if v.verdict != "holds"]


def test_concrete_closed_forms_fail_for_other_activations() -> None:
    g = unroll("doc", steps=2, **CONCRETE)
    text = derive(g, wrt="u", form="closed").text("ascii")
    (v,) = check(text, activation="sigmoid", output="sigmoid", loss="bce")
    assert v.verdict == "fails"


def test_verdict_renders_in_jupyter() -> None:
    (v,) = check("ds1/dz1 = 1 - s1", activation="tanh")
    html = v._repr_html_()
    assert "fails" in html and "1 − s₁²" in html


def run(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bptt_sym", "check", *args],
                          input=stdin.encode() if isinstance(stdin, str) else stdin,
                          capture_output=True, timeout=300)


def test_cli_exit_statuses_and_json(tmp_path: Path) -> None:
    r = run(str(EXAMPLES / "article-unicode.txt"))
    assert r.returncode == 0 and r.stdout.decode().endswith("8 hold, 0 fail, 0 invalid\n")
    r = run(str(EXAMPLES / "student.txt"), "--activation", "tanh", "--output", "sigmoid",
            "--loss", "bce", "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["summary"] == {"holds": 6, "fails": 6, "undecided": 0, "invalid": 0, "skipped": 0}
    first_fail = next(e for e in doc["equations"] if e["verdict"] == "fails")
    assert set(first_fail) >= {"line", "source", "verdict", "message", "diagnosis",
                               "counterexample"}
    assert first_fail["line"] == 11 and isinstance(first_fail["diagnosis"][0], str)
    assert first_fail["method"].startswith("certain: ")
    r = run("-", "--json", stdin="dE/du = (x1 +\ndE/du = h1\n")
    cols = [e["column"] for e in json.loads(r.stdout)["equations"]]
    assert cols == [14, 9]
    r = run("-", stdin="dE/du = dE/du1 + dE/du0\n")
    assert r.returncode == 0


@pytest.mark.parametrize("content, code, words", [
    (b"\xff\xfe\x00 not utf-8", 2, "not UTF-8"),
    (b"", 1, "no equations found"),
    (b"# only a comment\n", 1, "no equations found"),
])
def test_cli_bad_files(tmp_path: Path, content: bytes, code: int, words: str) -> None:
    f = tmp_path / "in.txt"
    f.write_bytes(content)
    r = run(str(f))
    assert r.returncode == code
    err = r.stderr.decode().strip().splitlines()
    assert len(err) == 1 and words in err[0] and "Traceback" not in r.stderr.decode()


def test_cli_unreadable_file_and_unknown_option(tmp_path: Path) -> None:
    r = run(str(tmp_path / "missing.md"))
    assert r.returncode == 2 and b"cannot read" in r.stderr
    r = run(str(tmp_path), "--steps", "2")
    assert r.returncode == 2 and b"cannot read" in r.stderr
    r = run(str(EXAMPLES / "student.txt"), "--strict")
    assert r.returncode == 2 and b"unrecognized arguments: --strict" in r.stderr


def test_cli_megabyte_of_junk_ends_with_invalid_lines(tmp_path: Path) -> None:
    import random

    rng = random.Random(5)
    lines = ["".join(rng.choice("abcxyz=+-*/()^_{}0123456789 ") for _ in range(50))
             for _ in range(20_000)]
    f = tmp_path / "junk.txt"
    f.write_text("\n".join(lines))
    assert f.stat().st_size > 1_000_000
    r = run(str(f), "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert sum(doc["summary"].values()) == 20_000


def test_a_tiny_offset_is_shown_as_a_power_of_ten_in_the_diagnosis() -> None:
    """1 + 10^-100 in a wrong local derivative: the reason reads (1 + 10⁻¹⁰⁰), not a
    fraction of two 101-digit numbers."""
    import sympy as sp

    from bptt_sym.check.checker import check
    from bptt_sym.check.explain import _u

    (v,) = check("ds_1/dz_1 = 1 - s_1^2 + 10^-100", activation="tanh", output="sigmoid",
                 loss="bce")
    why = " ".join(d.text for d in v.diagnosis) if v.diagnosis else v.message
    assert v.verdict == "fails" and "10⁻¹⁰⁰" in why and "0000000000" not in why, why
    assert _u(-sp.Integer(1) - sp.Rational(1, 10**60) + sp.Symbol("x")) == "x − (1 + 10⁻⁶⁰)"
    assert _u(sp.Rational(3, 10**45)) == "3·10⁻⁴⁵" and _u(sp.Rational(1, 3)) == "1/3"
