"""Line breaking of long LaTeX equations: rows lose nothing, stay balanced, fit the width.

The width estimate is checked against pdflatex's own measure (\\settowidth) of the same
formulas, when pdflatex is there.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bptt_sym import derive, leibniz, unroll
from bptt_sym.layout import em_width, rows

from .tools import need


def long_sides() -> list[tuple[str, str]]:
    g = unroll("doc", steps=10, activation="tanh", output="sigmoid", loss="bce")
    sides = []
    for form in ("paths", "factored", "closed"):
        for e in derive(g, wrt="u", form=form, explicit=form == "closed").equations:
            sides.append((leibniz(e.lhs, "latex"), leibniz(e.rhs, "latex", depth=10)))
    return sides


def unbreak(lines: list[str]) -> str:
    text = " ".join(line.removeprefix("&\\quad ") for line in lines).replace(" &= ", " = ", 1)
    text = re.sub(r"\\bigg?l([(\[])", r"\\left\1", text)
    return re.sub(r"\\bigg?r([)\]])", r"\\right\1", text)


def test_a_short_equation_is_one_row() -> None:
    assert rows("y", "a + b", width=30) == ["y &= a + b"]


def test_cuts_come_at_operators_outside_braces() -> None:
    lhs, rhs = "E", r"\frac{a + b}{c + d} + x_{1 + 2} \cdot y"
    out = rows(lhs, rhs, width=4)
    assert out == [r"E &= \frac{a + b}{c + d}", r"&\quad + x_{1 + 2}", r"&\quad \cdot y"]


@pytest.mark.parametrize("lhs,rhs", long_sides()[:12], ids=lambda s: s[:20])
def test_rows_rejoin_to_the_equation_and_stay_balanced(lhs: str, rhs: str) -> None:
    out = rows(lhs, rhs, width=37)
    assert unbreak(out) == f"{lhs} = {rhs}"
    for row in out:
        assert row.count("{") == row.count("}")
        assert row.count("\\left") == row.count("\\right")
        assert len(re.findall(r"\\bigg?l", row)) >= 0
        assert em_width(row.removeprefix("&\\quad ")) <= 37 + 2, row
    text = " ".join(out)
    assert len(re.findall(r"\\bigg?l[(\[]", text)) == len(re.findall(r"\\bigg?r[)\]]", text))


def test_a_long_closed_form_takes_many_even_rows() -> None:
    lhs, rhs = long_sides()[-1]
    out = rows(lhs, rhs, width=37)
    widths = [em_width(r.removeprefix("&\\quad ")) for r in out]
    assert len(out) > 10 and min(widths[1:-1]) > 0.5 * max(widths)


def test_width_estimate_matches_pdflatex(tmp_path: Path) -> None:
    program = need("pdflatex", "apt-get install texlive-latex-base")
    samples = [r for _, rhs in long_sides()[:6] for r in rows("x", rhs, width=37)]
    samples = [s.split("&", 1)[1].removeprefix("= ").removeprefix("\\quad ") for s in samples]
    body = "\n".join(f"\\settowidth{{\\dimen0}}{{$\\displaystyle {s}$}}\\typeout{{W{i}:"
                     f"\\the\\dimen0}}" for i, s in enumerate(samples))
    (tmp_path / "w.tex").write_text("\\documentclass[11pt]{article}\\usepackage{amsmath}"
                                    f"\\begin{{document}}\n{body}\n\\end{{document}}\n")
    r = subprocess.run([program, "-interaction=nonstopmode", "w.tex"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=120)
    measured = {int(i): float(pt) / 10.95 for i, pt in re.findall(r"W(\d+):([\d.]+)pt",
                                                                   r.stdout)}
    assert len(measured) == len(samples)
    for i, s in enumerate(samples):
        assert 0.85 < measured[i] / em_width(s) < 1.1, s
