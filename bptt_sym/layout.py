r"""Break long LaTeX equations into align rows at top-level +, − and ·, within a width.

The printer's LaTeX (``leibniz(expr, "latex")``) is cut only outside braces, so a
``\frac{…}{…}`` or a subscript is never split.  A cut inside ``\left( … \right)`` turns
that pair into ``\biggl( … \biggr)`` (``\bigl``/``\bigr`` when nothing tall is inside),
because a ``\left``/``\right`` pair cannot span two rows.  Widths are estimated in em
of the display font, from the glyphs the LaTeX would set.

    >>> for row in rows("y", r"a + b \cdot \left(c + d + e\right)", width=5):
    ...     print(row)
    y &= a + b
    &\quad \cdot \bigl(c + d
    &\quad + e\bigr)
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = ["rows", "em_width"]

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.S)
# Widths in em (Computer Modern, display style), measured with pdflatex's \settowidth.
_GLYPH = {"+": 1.22, "-": 1.22, "=": 1.33, "(": 0.39, ")": 0.39, ",": 0.45, "'": 0.3,
          ".": 0.28, "\\partial": 0.58, "\\cdot": 0.72, "\\sigma": 0.6, "\\tanh": 1.95,
          "\\log": 1.3, "\\exp": 1.6, "\\quad": 1.0, "\\qquad": 2.0, "\\,": 0.17,
          "\\infty": 1.0, "\\dots": 1.2, "\\ldots": 1.2}
_DELIMS = ("\\left", "\\right", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr", "\\biggl", "\\biggr")
_OPS = (" + ", " - ", " \\cdot ")


def _argument(tokens: list[str], i: int, scale: float) -> tuple[float, int]:
    """The width of one argument (a brace group or one token) starting at tokens[i]."""
    if i < len(tokens) and tokens[i] == "{":
        return _measure(tokens, i + 1, scale)
    return _measure(tokens[i:i + 1], 0, scale)[0], i + 1


def _measure(tokens: list[str], i: int, scale: float) -> tuple[float, int]:
    total = 0.0
    while i < len(tokens):
        t = tokens[i]
        i += 1
        if t == "}":
            break
        if t == "{":
            w, i = _measure(tokens, i, scale)
        elif t in ("_", "^"):
            w, i = _argument(tokens, i, scale * 0.7)
        elif t in ("\\frac", "\\dfrac"):
            num, i = _argument(tokens, i, scale)
            den, i = _argument(tokens, i, scale)
            w = max(num, den) + 0.3 * scale
        elif t in ("\\operatorname", "\\text", "\\mathrm"):
            w, i = _argument(tokens, i, scale * 0.9)
        elif t in _DELIMS:  # \left( around a fraction grows; \big( is a little wider than (
            w, i = (0.45 if t.startswith("\\big") else 0.62) * scale, i + 1
        elif t.isspace() or t in ("\\left.", "\\right."):
            w = 0.0
        else:
            w = _GLYPH.get(t, 0.5 if t.isdigit() else 0.58) * scale
        total += w
    return total, i


def em_width(latex: str) -> float:
    """The estimated width of display math ``latex``, in em.

    >>> round(em_width(r"\\frac{\\partial E}{\\partial u}"), 2)
    1.46
    """
    return _measure(_TOKEN.findall(latex), 0, 1.0)[0]


class _Cut(NamedTuple):
    """A place to end a row: ``rhs[start:end]`` is the operator, ``cost`` its badness."""

    start: int
    end: int
    op: str
    cost: float


def _scan(rhs: str) -> tuple[list[_Cut], dict[int, int]]:
    """The cuts of ``rhs`` outside braces, and its ``\\left``/``\\right`` pairs outside
    braces (position of ``\\left`` -> position of ``\\right``).

    A cut costs more inside parentheses, more at · than at + or −, and most inside a short
    group such as (1 − s₁²), which should stay on one row.
    """
    found: list[tuple[int, int, str, list[int]]] = []
    pairs: dict[int, int] = {}
    opened: list[int] = []
    braces, i = 0, 0
    while i < len(rhs):
        if rhs.startswith("\\left", i) and braces == 0:
            opened.append(i)
            i += len("\\left")
            continue
        if rhs.startswith("\\right", i) and braces == 0:
            pairs[opened.pop()] = i
            i += len("\\right")
            continue
        if rhs.startswith(("\\{", "\\}"), i):
            i += 2
            continue
        braces += {"{": 1, "}": -1}.get(rhs[i], 0)
        op = next((o for o in _OPS if braces == 0 and rhs.startswith(o, i)), None)
        if op and i > 0:
            found.append((i, i + len(op), op.strip(), list(opened)))
            i += len(op)
            continue
        i += 1
    cuts = []
    for start, end, op, around in found:
        inner = around[-1] if around else None
        short = inner is not None and em_width(rhs[inner:pairs.get(inner, len(rhs))]) < 8
        cost = 0.08 * len(around) + (0.12 if op == "\\cdot" else 0.0) + (1.0 if short else 0.0)
        cuts.append(_Cut(start, end, op, cost))
    return cuts, pairs


def _choose(cuts: list[_Cut], rhs: str, begin: int, room: float) -> int:
    """The index in ``cuts`` where a row from ``begin`` should end: late and cheap."""
    best, best_score = 0, float("-inf")
    for k, cut in enumerate(cuts):
        used = em_width(rhs[begin:cut.start])
        if used > room and k > 0:
            break
        score = used / room - cut.cost
        if score > best_score:
            best, best_score = k, score
    return best


def _delimiters(rhs: str, pairs: dict[int, int], breaks: list[int]) -> str:
    """``rhs`` with every \\left/\\right pair that spans a break made \\biggl/\\biggr."""
    swap: dict[int, tuple[str, str]] = {}
    for left, right in pairs.items():
        if any(left < b < right for b in breaks):
            big = "\\bigg" if "\\frac" in rhs[left:right] else "\\big"
            swap[left] = ("\\left", f"{big}l")
            swap[right] = ("\\right", f"{big}r")
    out, last = [], 0
    for pos in sorted(swap):
        old, new = swap[pos]
        out += [rhs[last:pos], new]
        last = pos + len(old)
    return "".join(out) + rhs[last:]


def _greedy(rhs: str, cuts: list[_Cut], room: float) -> list[_Cut]:
    """The cuts that end each row when every row is filled up to ``room``."""
    begin, ends = 0, []
    while cuts and em_width(rhs[begin:]) > room:
        k = _choose(cuts, rhs, begin, room)
        ends.append(cuts[k])
        begin, cuts = cuts[k].end, cuts[k + 1:]
    return ends


def rows(lhs: str, rhs: str, *, width: float, relation: str = "=") -> list[str]:
    """``lhs = rhs`` as align rows (``lhs &= …``, then ``&\\quad + …``) within ``width`` em."""
    room = width - em_width(lhs) - 1.4
    cuts = _scan(rhs)[0]
    ends = _greedy(rhs, cuts, room)
    if not ends:
        return [f"{lhs} &{relation} {rhs}"]
    # As many rows, but of even widths: the last is then no stub of closing parentheses.
    for slack in (1.1, 1.25, 1.4):
        even = em_width(rhs) / (len(ends) + 1) * slack
        again = _greedy(rhs, cuts, even) if even < room else ends
        if len(again) == len(ends):
            ends = again
            break
    # Swapping delimiters changes lengths: cut the text at markers placed first.
    marked, last = [], 0
    for cut in ends:
        marked += [rhs[last:cut.start], "\x00", cut.op, " "]
        last = cut.end
    marked.append(rhs[last:])
    text = "".join(marked)
    breaks = [m.start() for m in re.finditer("\x00", text)]
    parts = _delimiters(text, _scan(text)[1], breaks).split("\x00")
    return [f"{lhs} &{relation} {parts[0]}"] + [f"&\\quad {p}" for p in parts[1:]]
