"""Reading a document faithfully (issue 10, classes 6, 7, 8 and 11): numbers, list markers,
mixed files, escaped dollars, every math construct, skipped lines reported, unclosed
delimiters in one pass, and the whole check's time limit.

The references are independent of the reader: Python's own ``fractions.Fraction`` for the
value of a number, and the verdict a formula must get if (and only if) it was read right.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from fractions import Fraction

import pytest
import sympy as sp

from bptt_sym.check.checker import Verdict, check, judge_lines, summary
from bptt_sym.check.matrix import check_matrix
from bptt_sym.syntax.document import Broken, Found, Skipped, find_equations, read_document
from bptt_sym.syntax.formula import Num, Op, ParseError, Ref, parse

B1 = "dE/du = dE/du1 + dE/du0"  # holds for the abstract model at T = 2


def verdicts(text: str, **kw: object) -> list[str]:
    return [v.verdict for v in check(text, **kw)]


def number(text: str) -> sp.Rational:
    (num,) = [s for s in parse(f"x = {text}").sides[1:]]
    assert isinstance(num, Num), num
    return sp.Rational(num.value)


# --- 6. numbers ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["1e-3", "1E-3", "1.5e2", "2.5E+4", ".5", "0.125", "7",
                                  "1e0", "3E-0", "12.5e-1", "1e-1000", "1e1000"])
def test_numbers_are_exact_rationals(text: str) -> None:
    value = number(text)
    assert value.is_Rational and value == sp.Rational(Fraction(text).numerator,
                                                      Fraction(text).denominator)


def test_1e_minus_3_is_a_thousandth_not_the_loss_minus_3() -> None:
    assert number("1E-3") == sp.Rational(1, 1000)
    assert verdicts("dE/du = dE/du + 1E-3") == ["fails"]
    assert verdicts("x1 * 1e-3 = x1/1000") == ["holds"]
    assert verdicts("1E-3 = E - 3") == ["fails"]  # read as 1·E − 3 it would hold
    assert verdicts("x1 * 2.5E+4 = 25000 * x1") == ["holds"]
    assert verdicts("x1 * .5 = x1 / 2") == ["holds"]
    assert verdicts("x1 * 1.5e2 = 150 * x1 + 1e-30") == ["fails"]


def test_an_exponent_needs_digits_and_no_space() -> None:
    tree = parse("x = 2E").sides[1]
    assert tree == Op("juxt", (Num("2"), Ref("E", None, 6)))
    assert verdicts("2E = E + E") == ["holds"]  # 2·E
    assert verdicts("2E+3 = 2000") == ["holds"]  # a number
    assert verdicts("2 E+3 = 2*E + 3") == ["holds"]  # a product, then + 3
    assert verdicts("2E+3 = 2*E + 3") == ["fails"]


@pytest.mark.parametrize("text, column", [("x = 1e999999", 6), ("x = 2.5E+1001", 8),
                                          ("x = 1e" + "9" * 5000, 6), ("x = .5e-99999", 7)])
def test_huge_exponents_are_an_error_with_a_column(text: str, column: int) -> None:
    start = time.process_time()
    with pytest.raises(ParseError) as info:
        parse(text)
    assert time.process_time() - start < 5
    assert info.value.column == column and "larger than 1000" in info.value.reason
    (v,) = check(text)
    assert v.verdict == "invalid" and v.column == column and "Traceback" not in v.text()


def test_numbers_in_matrix_formulas() -> None:
    assert [v.verdict for v in check_matrix("dE/dl_t = yhat_t - y_t + 1E-3")] == ["fails"]
    assert [v.verdict for v in check_matrix("dE/dl_t = 1e-3 * (1000 * (yhat_t - y_t))\n"
                                            "dE/dl_t = .5 * (2 * (yhat_t - y_t))\n"
                                            "dE/dl_t = 2.5E+4 * (yhat_t - y_t) / 25000")] \
        == ["holds"] * 3


def test_any_number_reads_as_python_reads_it() -> None:
    rng = random.Random(10)  # a seeded loop, not hypothesis: the same cases every run
    for _ in range(500):
        whole = str(rng.randrange(10 ** rng.randint(1, 15))) if rng.random() < 0.8 else ""
        frac = "." + str(rng.randrange(10 ** rng.randint(1, 8))).zfill(rng.randint(1, 9)) \
            if rng.random() < 0.7 or not whole else ""
        exp = rng.randint(-1000, 1000)
        tail = rng.choice(["", f"{rng.choice('eE')}{rng.choice(['', '+']) if exp >= 0 else ''}"
                               f"{exp}"])
        text = whole + frac + tail
        ref = Fraction(text)
        assert number(text) == sp.Rational(ref.numerator, ref.denominator), text


# --- 7. list markers ----------------------------------------------------------------------

@pytest.mark.parametrize("line", [f"- {B1}", f"* {B1}", f"+ {B1}", f"1. {B1}", f"12) {B1}",
                                  f"   - {B1}", f"-\t{B1}"])
def test_a_list_marker_is_a_bullet_not_a_sign(line: str) -> None:
    assert [(f.line, f.text) for f in find_equations(line)] == [(1, B1)]
    assert verdicts(line) == ["holds"]  # as −dE/du it would fail


def test_a_sign_stays_a_sign() -> None:
    assert verdicts("-dE/du = -dE/du1 - dE/du0") == ["holds"]
    assert verdicts("-dE/du = dE/du1 + dE/du0") == ["fails"]  # as a bullet it would hold
    assert verdicts("− dE/du = −dE/du1 − dE/du0") == ["holds"]  # the Unicode minus is a sign
    assert verdicts("– dE/du = dE/du1 + dE/du0") == ["fails"]  # so is the dash
    assert verdicts("-1 = 0 - 1") == ["holds"]


def test_bullets_in_a_markdown_document() -> None:
    text = f"# notes\n\n- {B1}\n- where $s_1$ is the state\n1. ds1/dz1 = f'(z1)\n"
    assert [(f.line, f.text) for f in find_equations(text)] == [(3, B1), (5, "ds1/dz1 = f'(z1)")]


# --- 8. reading documents -----------------------------------------------------------------

def test_a_plain_file_with_one_dollar_formula_loses_no_line() -> None:
    text = f"# two steps\n{B1}\n$s_1 = f(z_1)$\nds1/dz1 = f'(z1)\ndE/dk = dE/dz1 + dE/dz0\n"
    assert [f.line for f in find_equations(text)] == [2, 3, 4, 5]
    assert verdicts(text) == ["holds"] * 4


def test_prose_with_an_equals_sign_is_reported_not_read() -> None:
    text = ("We set x = 1 here.\n$s_1 = f(z_1)$\nwhere $s_1$ is y = 2\n其中 x = 1\n"
            "see [the docs](http://a.org/?a=b)\n| a | b = c |\nT = 2\n")
    items = read_document(text)
    prose = [(i.line, i.reason) for i in items if isinstance(i, Skipped) and "prose" in i.reason]
    assert [line for line, _ in prose] == [1, 3, 4, 5, 6]
    assert [(i.line, i.text) for i in items if isinstance(i, Found)] == \
        [(2, "s_1 = f(z_1)"), (7, "T = 2")]


def test_inline_code_and_headings_are_not_formulas() -> None:
    text = "Each `&= …` row continues; every `=` is checked, see $s_1 = f(z_1)$\n# x = 1\n"
    assert [type(i).__name__ for i in read_document(text)] == ["Found"]


@pytest.mark.parametrize("text, lines", [
    (r"it costs \$5 and $s_1 = f(z_1)$ then \$ more", [1]),
    ("price \\$5,\nthen $s_1 = f(z_1)$ and $" + B1 + "$", [2, 2]),
    (r"a \\$s_1 = f(z_1)$", [1]),  # \\ is a line break, so $ opens math
    (r"$a = \$b$ and $s_1 = f(z_1)$", [1, 1]),
])
def test_an_escaped_dollar_never_opens_math(text: str, lines: list[int]) -> None:
    found = find_equations(text)
    assert [f.line for f in found] == lines
    assert found[-1].text in ("s_1 = f(z_1)", B1)


def test_escaped_dollars_alone_leave_a_plain_file_plain() -> None:
    assert [f.text for f in find_equations(f"{B1}\n# costs \\$5 or \\$6\n")] == [B1]
    assert verdicts(f"{B1}  % 5\\% of \\$3\n") == ["holds"]


CONSTRUCTS = {
    "paren": (r"inline \(" + B1 + r"\) and \(s_1 = f(z_1)\)", 2),
    "eqnarray": ("\\begin{eqnarray}\n" + B1.replace(" = ", " &=& ") +
                 " \\\\\n &=& dE/du0 + dE/du1\n\\end{eqnarray}", 1),
    "eqnarray*": ("\\begin{eqnarray*}\ndE/dk &=& dE/dz1 + dE/dz0\n\\end{eqnarray*}", 1),
    "multline": ("\\begin{multline}\ndE/du = dE/du1 \\\\\n + dE/du0\n\\end{multline}", 1),
    "multline*": ("\\begin{multline*}\ndE/du = \\\\ dE/du1 + dE/du0\n\\end{multline*}", 1),
    "alignat": ("\\begin{alignat}{2}\ndE/du &= dE/du1 + dE/du0 &\\quad dE/dk &= dE/dz1 + dE/dz0"
                " \\\\\n &= dE/du0 + dE/du1 & &= dE/dz0 + dE/dz1\n\\end{alignat}", 2),
    "alignat*": ("\\begin{alignat*}{1}\ndE/dk &= dE/dz1 + dE/dz0\n\\end{alignat*}", 1),
    "gather": ("\\begin{gather}\n" + B1 + " \\\\ dE/dk = dE/dz1 + dE/dz0\n\\end{gather}", 2),
    "flalign": ("\\begin{flalign}\ndE/du &= dE/du1 + dE/du0 &\n\\end{flalign}", 1),
    "flalign*": ("\\begin{flalign*}\ndE/du &= dE/du1 + dE/du0\n\\end{flalign*}", 1),
    "fence": ("Some text\n```math\n\\frac{\\partial E}{\\partial u} = \\frac{\\partial E}"
              "{\\partial u_1}\n + \\frac{\\partial E}{\\partial u_0}\n```\n", 1),
    "continued": ("\\begin{align}\ndE/du &= dE/du1 \\\\\n &\\quad + dE/du0 \\\\[2pt]\n"
                  " &= dE/du0 + dE/du1\n\\end{align}", 1),
    "align in $$": ("$$\\begin{align} dE/du &= dE/du1 + dE/du0 \\\\ &= dE/du0 + dE/du1 "
                    "\\end{align}$$", 1),
}


@pytest.mark.parametrize("name", CONSTRUCTS)
def test_every_math_construct_is_read(name: str) -> None:
    text, count = CONSTRUCTS[name]
    vs = check(text)
    assert [v.verdict for v in vs if v.verdict != "skipped"] == ["holds"] * count, \
        [v.text() for v in vs]


def test_columns_and_rows_are_not_misread() -> None:
    # alignat's two equations a row are two (not one chain of four sides), multline's rows
    # one equation (not two), and an operator row continues the one above (not dropped).
    assert len(find_equations(CONSTRUCTS["alignat"][0])) == 2
    assert len(find_equations(CONSTRUCTS["multline"][0])) == 1
    (f,) = find_equations(CONSTRUCTS["continued"][0])
    assert "dE/du0" in f.text.split("=")[1]
    wrong = "\\begin{align}\ndE/du &= dE/du1 \\\\\n &\\quad + dE/du1\n\\end{align}"
    assert verdicts(wrong) == ["fails"]
    assert verdicts("\\begin{align} dE/du &= dE/du1 & dE/dk &= dE/dz1 + dE/dz0 \\end{align}") \
        == ["fails", "holds"]


def test_code_blocks_are_not_math_and_are_reported() -> None:
    text = "```python\nx = 1  # $a = b$\n```\n$s_1 = f(z_1)$\n~~~\nno equals\n~~~\n"
    items = read_document(text)
    assert [type(i).__name__ for i in items] == ["Skipped", "Found"]
    assert items[0].line == 1 and "code block" in items[0].reason


def test_what_is_not_read_is_reported_as_skipped() -> None:
    text = ("# a heading\n\n% a comment $x = 1$\nwhere $s_1$ is the state and\n"
            "$$\n\\frac{\\partial E}{\\partial u}\n$$\nplain prose without equals\n"
            "We set x = 1.\n")
    vs = check(text)
    assert [(v.line, v.verdict) for v in vs] == [(4, "skipped"), (6, "skipped"),
                                                   (9, "skipped")]
    assert vs[0].text() == "line 4: skipped: s_1  (no '=' in this math)"
    assert vs[2].text() == ("line 9: skipped: We set x = 1.  (prose outside math; write it as "
                            "$…$ to check it)")
    assert "\n" not in "".join(v.text() for v in vs)
    doc = vs[1].to_json()
    assert doc["verdict"] == "skipped" and doc["message"] == "no '=' in this math"
    assert 'color:gray' in vs[0]._repr_html_()
    assert summary(vs) == {"holds": 0, "fails": 0, "undecided": 0, "invalid": 0, "skipped": 3}


def test_skipped_lines_in_matrix_documents() -> None:
    vs = check_matrix("The error $\\delta_t$ runs back:\n"
                      "$$\\frac{\\partial E}{\\partial l_t} = \\hat{y}_t - y_t$$\n")
    assert [(v.line, v.verdict) for v in vs] == [(1, "skipped"), (2, "holds")]


def test_the_cli_prints_skipped_lines() -> None:
    r = subprocess.run([sys.executable, "-m", "bptt_sym", "check", "-"], capture_output=True,
                       input=f"where $s_1$ is\n$${B1}$$\n".encode(), timeout=300)
    out = r.stdout.decode().splitlines()
    assert out[0] == "line 1: skipped: s_1  (no '=' in this math)"
    assert out[1].startswith(f"line 2: holds: {B1}") and "Traceback" not in r.stderr.decode()
    r = subprocess.run([sys.executable, "-m", "bptt_sym", "check", "-", "--json"],
                       capture_output=True, input=b"where $s_1$ is\n", timeout=300)
    doc = json.loads(r.stdout)
    assert [e["verdict"] for e in doc["equations"]] == ["skipped"]


# --- 11. unclosed delimiters, in one pass; the whole check's time limit ---------------------

@pytest.mark.parametrize("opener", ["\\[", "\\(", "\\begin{align}", "\\begin{equation*}"])
def test_many_unclosed_delimiters_are_each_reported_in_one_pass(opener: str) -> None:
    # 400 KB: quadratic reading (the old one took 89 s for 198 KB) would take many minutes.
    lines = 40_000 if len(opener) == 2 else 20_000
    text = f"{opener} a = b \n" * lines
    assert len(text) > 190_000
    items = read_document(text)
    assert len(items) == lines and all(isinstance(i, Broken) for i in items)
    assert items[7].line == 8 and items[7].reason.startswith(f"{opener} opened on line 8 is "
                                                             "never closed")
    one_line = read_document(f"{opener} a = b " * 20_000)  # all on one line
    assert len(one_line) == 20_000 and len(one_line[0].text) <= 120


def test_unclosed_delimiters_are_invalid_and_the_rest_is_read() -> None:
    text = f"\\[ a = b\n\n$${B1}$$\n\\begin{{align}}\n x &= y\n"
    vs = check(text)
    assert [(v.line, v.verdict) for v in vs] == [(1, "invalid"), (3, "holds"), (4, "invalid")]
    assert "\\[ opened on line 1 is never closed; the next math opens on line 3" in vs[0].message
    assert "nothing after it is read" in vs[2].message
    items = read_document(f"```math\n{B1}\n")
    assert [type(i) for i in items] == [Broken] and "never closed" in items[0].reason
    vs = judge_lines("\\[ a = b\n" * 20_000, lambda chain: ("holds", "", (), None, ""),
                     seconds=1)
    assert len(vs) == 20_000 and {v.verdict for v in vs} == {"invalid"}


def test_unclosed_dollars_pair_up_and_a_lone_dollar_is_text() -> None:
    assert [f.text for f in find_equations(f"$${B1}\n$$\n$$ c = d\n")] == [B1]
    assert [type(i).__name__ for i in read_document(f"$${B1}\n$$\n$$ c = d\n")] == \
        ["Found", "Broken"]
    assert [f.text for f in find_equations(f"it costs $5\n{B1}\n")] == ["it costs $5", B1]


def _sleepy(seconds: float):  # noqa: ANN202
    def decide(chain: object) -> tuple:
        time.sleep(seconds)
        return ("holds", "holds (test)", (), None, "test")
    return decide


def test_the_whole_check_has_a_time_limit_and_drops_nothing() -> None:
    text = "\n".join(f"x{i} = x{i}" for i in range(40)) + "\nwhere $s$ is\n"
    vs = judge_lines(text, _sleepy(0.05), seconds=5, total_seconds=0.5)
    assert len(vs) == 41 and vs[-1].verdict == "skipped"
    kinds = [v.verdict for v in vs[:-1]]
    first = kinds.index("undecided")
    assert 3 <= first <= 12 and kinds[:first] == ["holds"] * first
    assert set(kinds[first:]) == {"undecided"}
    message = "not checked: the check's time limit of 0.5 s was reached"
    assert all(v.message == message for v in vs[first + 1:-1])
    assert summary(vs)["undecided"] == 40 - first and summary(vs)["skipped"] == 1


def test_a_spent_limit_and_one_slow_equation_are_undecided() -> None:
    vs = judge_lines(f"{B1}\n{B1}\n", _sleepy(0), seconds=5, total_seconds=0)
    assert [v.verdict for v in vs] == ["undecided"] * 2
    assert vs[0].text().splitlines()[1] == \
        "  not checked: the check's time limit of 0 s was reached"
    (v,) = judge_lines(B1, _sleepy(3), seconds=0.2, total_seconds=60)
    assert v.verdict == "undecided" and "took more than 0.2 s" in v.message
    assert "darkgoldenrod" in v._repr_html_()


def test_verdict_kinds() -> None:
    v = Verdict(3, "a = b", "skipped", "no '=' in this math")
    assert v.text() == "line 3: skipped: a = b  (no '=' in this math)"
    assert v.to_json()["verdict"] == "skipped"
    assert list(summary([v])) == ["holds", "fails", "undecided", "invalid", "skipped"]
