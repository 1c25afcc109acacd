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

import bisect
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


def _item(tokens: list[str], i: int, scale: float) -> tuple[float, int]:
    """The width of the item that starts at tokens[i] (a token with its arguments, or a
    brace group), and the index after it."""
    t = tokens[i]
    i += 1
    if t == "{":
        return _measure(tokens, i, scale)
    if t in ("_", "^"):
        return _argument(tokens, i, scale * 0.7)
    if t in ("\\frac", "\\dfrac"):
        num, i = _argument(tokens, i, scale)
        den, i = _argument(tokens, i, scale)
        return max(num, den) + 0.3 * scale, i
    if t in ("\\operatorname", "\\text", "\\mathrm"):
        return _argument(tokens, i, scale * 0.9)
    if t in _DELIMS:  # \left( around a fraction grows; \big( is a little wider than (
        return (0.45 if t.startswith("\\big") else 0.62) * scale, i + 1
    if t.isspace() or t in ("\\left.", "\\right."):
        return 0.0, i
    return _GLYPH.get(t, 0.5 if t.isdigit() else 0.58) * scale, i


def _measure(tokens: list[str], i: int, scale: float) -> tuple[float, int]:
    total = 0.0
    while i < len(tokens):
        if tokens[i] == "}":
            return total, i + 1
        w, i = _item(tokens, i, scale)
        total += w
    return total, i


def em_width(latex: str) -> float:
    """The estimated width of display math ``latex``, in em.

    >>> round(em_width(r"\\frac{\\partial E}{\\partial u}"), 2)
    1.46
    """
    return _measure(_TOKEN.findall(latex), 0, 1.0)[0]


class _Widths:
    """The widths of the pieces of one long ``text``, measured once: ``width(a, b)`` is
    ``em_width(text[a:b])`` for a and b between top-level items, in constant time, so that
    breaking a long equation is linear in its length, not quadratic."""

    def __init__(self, text: str) -> None:
        self.text = text
        found = [(m.start(), m.group()) for m in _TOKEN.finditer(text)]
        tokens = [t for _, t in found]
        self.at: dict[int, float] = {}
        total, i = 0.0, 0
        while i < len(tokens):
            self.at[found[i][0]] = total
            if tokens[i] == "}":  # unbalanced: the rest is measured piece by piece
                break
            w, i = _item(tokens, i, 1.0)
            total += w
        else:
            self.at[len(text)] = total

    def __call__(self, a: int, b: int | None = None) -> float:
        b = len(self.text) if b is None else b
        if a in self.at and b in self.at:
            return self.at[b] - self.at[a]
        return em_width(self.text[a:b])


class _Cut(NamedTuple):
    """A place to end a row: ``rhs[start:end]`` is the operator, ``cost`` its badness."""

    start: int
    end: int
    op: str
    cost: float


def _scan(rhs: str, width: _Widths | None = None) -> tuple[list[_Cut], dict[int, int]]:
    """The cuts of ``rhs`` outside braces, and its ``\\left``/``\\right`` pairs outside
    braces (position of ``\\left`` -> position of ``\\right``).

    A cut costs more inside parentheses, more at · than at + or −, and most inside a short
    group such as (1 − s₁²), which should stay on one row.
    """
    found: list[tuple[int, int, str, int, int | None]] = []  # and the depth, the inner (
    pairs: dict[int, int] = {}
    opened: list[int] = []
    braces, i = 0, 0
    while i < len(rhs):
        c = rhs[i]
        if c == "\\":
            if braces == 0 and rhs.startswith("\\left", i):
                opened.append(i)
                i += len("\\left")
            elif braces == 0 and rhs.startswith("\\right", i):
                pairs[opened.pop()] = i
                i += len("\\right")
            else:
                i += 2 if rhs.startswith(("\\{", "\\}"), i) else 1
            continue
        if c == "{":
            braces += 1
        elif c == "}":
            braces -= 1
        elif c == " " and braces == 0 and i > 0:
            op = next((o for o in _OPS if rhs.startswith(o, i)), None)
            if op:
                found.append((i, i + len(op), op.strip(), len(opened),
                              opened[-1] if opened else None))
                i += len(op)
                continue
        i += 1
    cuts = []
    if found and width is None:
        width = _Widths(rhs)
    for start, end, op, depth, inner in found:
        short = inner is not None and width(inner, pairs.get(inner, len(rhs))) < 8
        cost = 0.08 * depth + (0.12 if op == "\\cdot" else 0.0) + (1.0 if short else 0.0)
        cuts.append(_Cut(start, end, op, cost))
    return cuts, pairs


def _choose(cuts: list[_Cut], first: int, width: _Widths, begin: int, room: float) -> int:
    """The index in ``cuts`` (from ``first`` on) where a row from ``begin`` should end:
    late and cheap."""
    best, best_score = first, float("-inf")
    for k in range(first, len(cuts)):
        cut = cuts[k]
        used = width(begin, cut.start)
        if used > room and k > first:
            break
        score = used / room - cut.cost
        if score > best_score:
            best, best_score = k, score
    return best


def _delimiters(rhs: str, pairs: dict[int, int], breaks: list[int]) -> str:
    """``rhs`` with every \\left/\\right pair that spans a break made \\biggl/\\biggr."""
    swap: dict[int, tuple[str, str]] = {}
    breaks = sorted(breaks)
    fracs = [m.start() for m in re.finditer(r"\\frac", rhs)]
    for left, right in pairs.items():
        if _between(breaks, left, right):
            big = "\\bigg" if _between(fracs, left, right - len("\\frac") + 1) else "\\big"
            swap[left] = ("\\left", f"{big}l")
            swap[right] = ("\\right", f"{big}r")
    out, last = [], 0
    for pos in sorted(swap):
        old, new = swap[pos]
        out += [rhs[last:pos], new]
        last = pos + len(old)
    return "".join(out) + rhs[last:]


def _between(positions: list[int], left: int, right: int) -> bool:
    """Some p of the sorted ``positions`` has left < p < right."""
    k = bisect.bisect_right(positions, left)
    return k < len(positions) and positions[k] < right


def _greedy(width: _Widths, cuts: list[_Cut], room: float) -> list[_Cut]:
    """The cuts that end each row when every row is filled up to ``room``."""
    begin, ends, first = 0, [], 0
    while first < len(cuts) and width(begin) > room:
        k = _choose(cuts, first, width, begin, room)
        ends.append(cuts[k])
        begin, first = cuts[k].end, k + 1
    return ends


def rows(lhs: str, rhs: str, *, width: float, relation: str = "=") -> list[str]:
    """``lhs = rhs`` as align rows (``lhs &= …``, then ``&\\quad + …``) within ``width`` em."""
    room = width - em_width(lhs) - 1.4
    width = _Widths(rhs)
    if width(0) <= room:  # fits on one row: nothing to scan
        return [f"{lhs} &{relation} {rhs}"]
    cuts = _scan(rhs, width)[0]
    ends = _greedy(width, cuts, room)
    if not ends:
        return [f"{lhs} &{relation} {rhs}"]
    # As many rows, but of even widths: the last is then no stub of closing parentheses.
    for slack in (1.1, 1.25, 1.4):
        even = width(0) / (len(ends) + 1) * slack
        again = _greedy(width, cuts, even) if even < room else ends
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
