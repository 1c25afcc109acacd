"""LaTeX as books print it, rewritten into the spellings the grammar reads, column by column.

Textbooks and papers write the same formula in many ways: ``\\frac{\\mathrm{d}E}{\\mathrm{d}W}``,
``\\nabla_{\\boldsymbol{W}} L``, ``\\boldsymbol{h}^{(t)}``, ``\\tanh^2(z)``, ``\\sum\\limits_t``,
``\\left. … \\right|``, ``\\partial{E}``, ``w_\\textrm{h}``.  :func:`rewrite` turns each into the
one spelling of :mod:`bptt_sym.syntax.formula` (∂E/∂W, h_t, \\tanh(z)^2, …) and keeps, for
every character it writes, the column of the character it came from, so that a parse error
still points into the text the person typed.  Nothing is evaluated.

    >>> source = r"\\nabla_{\\boldsymbol{W}} L = \\sum\\limits_t \\tanh^2(h^{(t)})"
    >>> text, columns = rewrite(source)
    >>> text
    '\\\\frac{\\\\partial L}{\\\\partial W} = \\\\sum_t \\\\tanh(h_{t})^{2}'
    >>> columns[text.index("h_")] == source.index("h^{") + 1
    True
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["rewrite", "Text"]

Piece = str | tuple[int, int]  # new text (at the column of the match), or a span kept as is


class Text:
    """A string with the original column (1-based) of each of its characters."""

    def __init__(self, text: str, columns: list[int] | None = None) -> None:
        self.text = text
        self.columns = columns if columns is not None else list(range(1, len(text) + 1))

    def splice(self, start: int, end: int, pieces: list[Piece]) -> None:
        """Replace text[start:end] by ``pieces``: new strings take the column of ``start``,
        a (i, j) span keeps the characters text[i:j] with their columns."""
        at = self.columns[start] if start < len(self.columns) else \
            (self.columns[-1] + 1 if self.columns else 1)
        text, cols = [], []
        for piece in pieces:
            if isinstance(piece, str):
                text.append(piece)
                cols += [at] * len(piece)
            else:
                i, j = piece
                text.append(self.text[i:j])
                cols += self.columns[i:j]
        self.text = self.text[:start] + "".join(text) + self.text[end:]
        self.columns = self.columns[:start] + cols + self.columns[end:]

    def sub(self, pattern: re.Pattern[str], make: Callable[[re.Match[str]], list[Piece]]
            ) -> None:
        """Every match of ``pattern`` replaced by ``make(match)``, from the right."""
        for m in reversed(list(pattern.finditer(self.text))):
            self.splice(m.start(), m.end(), make(m))


def _group_end(text: str, start: int) -> int | None:
    """The index after the balanced ``{…}`` group that opens at ``start``."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _paren_end(text: str, start: int) -> int | None:
    """The index after the balanced ``(…)`` that opens at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return None


def _unwrap(t: Text, commands: str, keep: Callable[[str], bool] = lambda inner: False) -> None:
    """``\\cmd{inner}`` → ``inner`` for the commands named (balanced braces inside)."""
    pattern = re.compile(r"\\(?:" + commands + r")\s*(?=\{)")
    for m in reversed(list(pattern.finditer(t.text))):  # right to left: a splice leaves the
        end = _group_end(t.text, m.end())  # matches on its left where they were
        if end is not None and not keep(t.text[m.end() + 1:end - 1]):
            t.splice(m.start(), end, [(m.end() + 1, end - 1)])


_DELIMITER = re.compile(r"\\(?:left|right|bigg|Bigg|big|Big)[lrm]?\s*(\\\{|\\\}|\\\||[()\[\]|.])")
_DROPPED = re.compile(r"\\(?:limits|nolimits|displaystyle|textstyle)(?![A-Za-z])")
_BAR = re.compile(r"\\(?:right|bigg|Bigg|big|Big)[r]?\s*\|\s*(?:_\{[^{}]*\}|_[A-Za-z0-9])?")
_LEFT_DOT = re.compile(r"\\left\s*\.")
_D = re.compile(r"\\(?:mathrm|text|operatorname|mathit|rm)\s*\{\s*d\s*\}\s*")
_WORDS = "mathrm|textrm|text|mathit|mathsf|textit|operatorname|rm|mbox|mathcal|mathscr"
_BOLD = "mathbf|boldsymbol|bm|vec|pmb|mathbfit|symbf"
_TIME_T = re.compile(r"\^\s*\{\s*\(\s*([^(){}]+?)\s*\)\s*\^\s*(?:\\top|T|\{\s*\\top\s*\})\s*\}")
_TIME = re.compile(r"\^\s*\{\s*\(\s*([^(){}]+?)\s*\)\s*\}")
# δ_2^{(3)}: an adjoint at step 2 of the loss of step 3 (WildML's ∂E_3/∂z_2): the two indices
# kept together as _{2;3}, which the checker reads for a named adjoint of the model
_LOSS_TIME = re.compile(r"_(?:\{\s*((?:\d+|[tk])(?:\s*[-+]\s*\d+)?)\s*\}|(\d+|[tk]))\s*\^\s*\{\s*\("
                        r"\s*([^(){}]+?)\s*\)\s*\}")
# net_j^t, s_i^{t-1}, δ_j^t: on an entry (one subscript i, j, m or n) a superscript in the
# step letters t, k is the step, as Hanbingtao's notes write it: read as net_{t,j}; W^t and
# s_t^2 stay powers
_TIME_BARE = re.compile(r"_(?:\{\s*([ijmn])\s*\}|([ijmn]))\s*\^\s*"
                        r"(?:\{\s*([tk](?:\s*[-+]\s*\d+)?)\s*\}|([tk])(?![0-9]))")
_SUM_BEFORE = re.compile(r"\\(?:sum|prod)\s*$")
_PARTIAL = re.compile(r"\\partial\s*(?=\{)")
_NABLA = re.compile(r"\\nabla\s*_\s*|\\partial\s*_\s*(?!\{\s*\d+\s*\})")
_SLASH_D = re.compile(r"(\\partial\s*[A-Za-z][^\s/=+*]*)\s*/\s*d(?=[A-Za-z])")
_NAME = re.compile(r"\s*((?:\\hat\s*\{?y\}?|\\delta|[A-Za-z]+)(?:_\{[^{}]*\}|_[A-Za-z0-9]"
                   r"|_\\?[A-Za-z]+)?(?:_\{[^{}]*\})?)")
_POWER = re.compile(r"(\\(?:tanh|sigma|cosh|sinh|sech|exp|log|cos|sin)|(?<![A-Za-z\\])"
                    r"(?:tanh|sigmoid|sigma|σ|cosh|sech))\s*(?:\^\s*(\{\s*\d+\s*\}|\d)|([⁰¹²³⁴⁵⁶⁷⁸⁹]+))"
                    r"\s*(?=\()")
_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_HYPERBOLIC = re.compile(r"(?:\\|(?<![A-Za-z]))(sech|cosh)\s*(?=\()")
_TAU = re.compile(r"\\tau(?![A-Za-z])")
_MID = re.compile(r"\\mid(?![A-Za-z])")
_THETA = re.compile(r"\\theta(?![A-Za-z])")
_E_POWER = re.compile(r"(?<![A-Za-z\\])e\s*\^\s*(?=\{)")  # e^{z}: exp(z)
_PHI = re.compile(r"\\(?:var)?phi(?![A-Za-z])")
_COLUMN = re.compile(r"\\begin\{[bp]matrix\}(.*?)\\end\{[bp]matrix\}", re.S)  # [h; x]
_REL = (r"\s*(\\leq?(?![A-Za-z])|\\geq?(?![A-Za-z])|\\lt(?![A-Za-z])|\\gt(?![A-Za-z])|[<>≤≥]|<=|>=)"
        r"\s*")
_EXPR = r"([A-Za-z0-9τ]+(?:\s*[-+]\s*[A-Za-z0-9τ]+)*)"
# \sum_{1 \le t \le T}, \prod_{t \geq i > k}: a step variable between two bounds (Pascanu)
_BETWEEN = re.compile(r"(\\sum|\\prod)(\s*_\s*)\{\s*" + _EXPR + _REL + r"([A-Za-z])" + _REL + _EXPR
                      + r"\s*\}")
_UP = {"\\le": 0, "\\leq": 0, "≤": 0, "<=": 0, "<": 1, "\\lt": 1}
_DOWN = {"\\ge": 0, "\\geq": 0, "≥": 0, ">=": 0, ">": 1, "\\gt": 1}


def _nabla(t: Text) -> None:
    """``\\nabla_{X} Y``, ``\\nabla_X Y`` and ``\\partial_{X} Y`` (d2l) →
    ``\\frac{\\partial Y}{\\partial X}``."""
    for m in reversed(list(_NABLA.finditer(t.text))):  # right to left, as _unwrap
        start = m.end()
        end = _group_end(t.text, start)
        wrt = (start + 1, end - 1) if end is not None else (start, start + 1)
        after = end if end is not None else start + 1
        name = _NAME.match(t.text, after)
        if name is None:  # no name after it: left for the parser to report
            t.splice(m.start(), m.end(), ["∇_"])
            continue
        end = name.end()
        if end < len(t.text) and t.text[end] == "(":  # ∂_{w} l(y_t, o_t): the call whole
            end = _paren_end(t.text, end) or end
        t.splice(m.start(), end, ["\\frac{\\partial ", (name.start(1), end), "}{\\partial ",
                                  wrt, "}"])


def _powers(t: Text) -> None:
    """``\\tanh^2(z)`` → ``\\tanh(z)^{2}``: a power written on the function's name is the
    power of its value, as books print it."""
    for m in reversed(list(_POWER.finditer(t.text))):
        close = _paren_end(t.text, m.end())
        if close is None:
            continue
        exponent = (m[2] or m[3].translate(_SUPERSCRIPT)).strip("{} ")
        t.splice(m.start(), close, [m.span(1), (m.end(), close), "^{" + exponent + "}"])


def _hyperbolic(t: Text) -> None:
    """sech(x) and cosh(x), which books use for tanh' = sech², in exp: the grammar's own."""
    for m in reversed(list(_HYPERBOLIC.finditer(t.text))):
        close = _paren_end(t.text, m.end())
        if close is None:
            continue
        arg = (m.end(), close)  # "(x)", brackets included
        if m[1] == "sech":
            t.splice(m.start(), close, ["(2/(exp", arg, " + exp(-", arg, ")))"])
        else:
            t.splice(m.start(), close, ["((exp", arg, " + exp(-", arg, "))/2)"])


_FRAC = re.compile(r"\\[dt]?frac\s*(?=\{)")
_SCALE = re.compile(r"\s*([A-Za-z0-9]+)\s*(?:\\cdot|\\times|\\,|\*)?\s*(?=\\partial)")


def _scaled(t: Text) -> None:
    """``\\frac{\\partial l}{T \\cdot \\partial o_t}`` (d2l) → ``\\frac{1}{T}\\frac{\\partial l}
    {\\partial o_t}``: a factor written before the ∂ of a denominator divides."""
    for m in reversed(list(_FRAC.finditer(t.text))):
        num_end = _group_end(t.text, m.end())
        den_end = _group_end(t.text, num_end) if num_end is not None else None
        if den_end is None or not t.text[m.end() + 1:num_end - 1].lstrip().startswith(
                ("\\partial", "∂")):
            continue
        scale = _SCALE.match(t.text, num_end + 1)
        if scale is None or scale.end() >= den_end:
            continue
        t.splice(m.start(), den_end, ["\\frac{1}{", scale.span(1), "}\\frac", (m.end(), num_end),
                                      "{", (scale.end(), den_end - 1), "}"])


def _moved(expr: str, by: int) -> str:
    if not by:
        return expr
    return f"{expr}{by:+d}" if re.fullmatch(r"[A-Za-z0-9τ]+", expr) else f"({expr}){by:+d}"


def _between(m: re.Match[str]) -> list[Piece]:
    """``\\sum_{1 \\le t \\le T}`` → ``\\sum_{t=1}^{T}``; ``t \\geq i > k`` → ``i=k+1 … t``."""
    a, r1, var, r2, b = m[3], m[4], m[5], m[6], m[7]
    if r1 in _UP and r2 in _UP:
        lo, hi = _moved(a, _UP[r1]), _moved(b, -_UP[r2])
    elif r1 in _DOWN and r2 in _DOWN:
        lo, hi = _moved(b, _DOWN[r2]), _moved(a, -_DOWN[r1])
    else:  # a ≤ t ≥ b: no range; left for the parser to report
        return [m.span()]
    return [m.span(1), "_{" + var + "=" + lo + "}^{" + hi + "}"]


def _stacked(m: re.Match[str]) -> list[Piece]:
    r"""\begin{bmatrix} h_{t-1} \\ x_t \end{bmatrix}: the stack [h_{t-1}; x_t]."""
    pieces: list[Piece] = ["["]
    at = m.start(1)
    for row in re.finditer(r"\\\\", m[1]):
        pieces += [(at, m.start(1) + row.start()), ";"]
        at = m.start(1) + row.end()
    return pieces + [(at, m.end(1)), "]"]


def rewrite(source: str) -> tuple[str, list[int]]:
    """``source`` in the grammar's spellings, and the original column of each character."""
    t = Text(source)
    if not re.search(r"[\\^∂⁰¹²³⁴⁵⁶⁷⁸⁹]|sech|cosh", source):
        return t.text, t.columns
    t.sub(_LEFT_DOT, lambda m: [])
    t.sub(_BAR, lambda m: [])
    t.sub(_DELIMITER, lambda m: [{"\\{": "(", "\\}": ")", ".": "", "\\|": "|"}.get(m[1], m[1])])
    t.sub(_DROPPED, lambda m: [])
    t.sub(_D, lambda m: ["d"])
    _unwrap(t, _WORDS, keep=lambda inner: not re.fullmatch(r"[A-Za-z]+", inner.strip()))
    _unwrap(t, _BOLD, keep=lambda inner: inner.strip() == "1")
    t.sub(_TAU, lambda m: ["τ"])
    t.sub(_THETA, lambda m: ["θ"])
    t.sub(_MID, lambda m: ["|"])
    t.sub(_PHI, lambda m: ["φ"])
    t.sub(_COLUMN, _stacked)
    for m in reversed(list(_E_POWER.finditer(t.text))):
        end = _group_end(t.text, m.end())
        if end is not None:
            t.splice(m.start(), end, ["\\exp(", (m.end() + 1, end - 1), ")"])
    t.sub(_BETWEEN, _between)
    t.sub(_TIME_T, lambda m: ["_{", m.span(1), "}^T"])  # h^{(t)^\top}: (h^{(t)})ᵀ
    t.sub(_LOSS_TIME, lambda m: ["_{", m.span(1) if m[1] else m.span(2), ";", m.span(3), "}"])
    t.sub(_TIME, lambda m: ["_{", m.span(1), "}"])
    t.sub(_TIME_BARE, lambda m: [m.span(0)] if _SUM_BEFORE.search(t.text[:m.start()]) else
          ["_{", m.span(3) if m[3] else m.span(4), ",", m.span(1) if m[1] else m.span(2), "}"])
    for m in reversed(list(_PARTIAL.finditer(t.text))):
        end = _group_end(t.text, m.end())
        if end is not None:
            t.splice(m.start(), end, ["\\partial ", (m.end() + 1, end - 1)])
    _nabla(t)
    _scaled(t)
    _powers(t)
    _hyperbolic(t)
    t.sub(_SLASH_D, lambda m: [m.span(1), "/\\partial "])  # ∂E/do, as some pages type it
    return t.text, t.columns
