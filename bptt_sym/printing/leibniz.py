"""Leibniz printers: the article's notation in ASCII, Unicode and LaTeX.

They subclass SymPy's ``StrPrinter`` and ``LatexPrinter`` and recurse through
``self._print``; products and sums print in the order the derivation built them.

    >>> import sympy as sp
    >>> from bptt_sym.notation import Partial
    >>> s1, z1 = sp.symbols("s_1 z_1")
    >>> leibniz(sp.Mul(Partial(s1, z1), 1 - s1**2, evaluate=False), "unicode")
    '∂s₁/∂z₁·(1 − s₁²)'
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from bptt_sym.deep import run_deep
from bptt_sym.errors import UsageError
from bptt_sym.notation import name_subscript, split_name
from bptt_sym.printing.matrix_notation import SUB as _SUB
from bptt_sym.printing.matrix_notation import Matrix as _Matrix

if TYPE_CHECKING:
    from bptt_sym.derivation.forms import Derivation

__all__ = ["FORMATS", "leibniz", "render_derivation", "AsciiPrinter", "UnicodePrinter",
           "LeibnizLatexPrinter"]

FORMATS = ("unicode", "ascii", "latex", "json")
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def _has_division(f: sp.Expr) -> bool:
    """A factor printed with '/' or a sign: it needs parentheses inside a product."""
    if isinstance(f, sp.Rational):
        return not isinstance(f, sp.Integer)
    if isinstance(f, sp.Mul):
        return any(_has_division(a) or (isinstance(a, sp.Pow) and a.exp.is_Number and a.exp < 0)
                   or (isinstance(a, sp.Number) and a < 0) for a in f.args)
    return False


class _Leibniz:
    """Shared layout rules; subclasses set the tokens of their notation."""

    times = "*"
    minus = " - "
    lparen, rparen = "(", ")"
    functions: dict[str, str] = {}

    def _index(self, base: str, step: int) -> str:
        return f"{base}_{step}" if step >= 0 else f"{base}_{{{step}}}"

    def _power(self, base: str, exp: sp.Expr) -> str:
        return f"{base}^{self._print(exp)}"

    def _partial(self, num: str, den: str) -> str:
        return f"d{num}/d{den}"

    def _fraction(self, num: str, den: str, n_many: bool, d_many: bool) -> str:
        num = f"{self.lparen}{num}{self.rparen}" if n_many else num
        den = f"{self.lparen}{den}{self.rparen}" if d_many else den
        return f"{num}/{den}"

    def _paren(self, text: str) -> str:
        return f"{self.lparen}{text}{self.rparen}"

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        base, step = split_name(expr.name)
        stem, sub = name_subscript(base)
        if sub is not None:
            return self._subscripted(stem, sub, step)
        return base if step is None else self._index(base, step)

    def _subscripted(self, stem: str, sub: str, step: int | str | None) -> str:
        """A name with its own subscript, W_x or W_hh, at ``step`` (None: no step; a string:
        a step index such as k or t-1)."""
        name = f"{stem}_{sub}"
        if step is None:
            return name
        return self._index(name, step) if isinstance(step, int) else name + self._sub(step)

    def _print_Partial(self, expr: sp.Expr) -> str:
        return self._partial(self._print(expr.num), self._print(expr.den))

    def _print_Add(self, expr: sp.Add, order: str | None = None) -> str:
        out = ""
        for i, term in enumerate(expr.args):
            negative, body = self._split_sign(term)
            text = self._print(body)
            if isinstance(body, sp.Add):
                text = self._paren(text)
            if i == 0:
                out = (self.neg if negative else "") + text
            else:
                out += (self.minus if negative else self.plus) + text
        return out

    plus = " + "
    neg = "-"
    paren_fractions = True

    @staticmethod
    def _split_sign(term: sp.Expr) -> tuple[bool, sp.Expr]:
        if isinstance(term, sp.Number) and term < 0:
            return True, -term
        if isinstance(term, sp.Mul) and isinstance(term.args[0], sp.Number) and term.args[0] < 0:
            rest = term.args[1:]
            coeff = -term.args[0]
            factors = rest if coeff == 1 else (coeff, *rest)
            return True, factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)
        return False, term

    def _factor(self, f: sp.Expr, alone: bool) -> str:
        text = self._print(f)
        needs = (isinstance(f, sp.Add) and not alone) or (isinstance(f, sp.Number) and f < 0)
        needs = needs or (self.paren_fractions and not alone and _has_division(f))
        return self._paren(text) if needs else text

    def _print_Mul(self, expr: sp.Mul) -> str:
        negative, body = self._split_sign(expr)
        if negative:
            inner = self._print(body)
            return self.neg + (self._paren(inner) if isinstance(body, sp.Add) else inner)
        num, den = [], []
        for f in expr.args:
            if isinstance(f, sp.Pow) and f.exp.is_Number and f.exp < 0:
                den.append(f.base if f.exp == -1 else sp.Pow(f.base, -f.exp))
            elif isinstance(f, sp.Rational) and not isinstance(f, sp.Integer):
                num.append(sp.Integer(f.p)) if f.p != 1 else None
                den.append(sp.Integer(f.q))
            else:
                num.append(f)
        if den and all(isinstance(d, sp.Integer) for d in den) and \
                (len(num) > 1 or (num and isinstance(num[0], sp.Add))):
            # (long product)/3 cannot break across lines: write 1/3 · (long product)
            whole = [f for f in num if isinstance(f, sp.Integer)]
            rest = [f for f in num if not isinstance(f, sp.Integer)] or [sp.S.One]
            coeff = sp.Rational(int(sp.Mul(*whole)), int(sp.Mul(*den)))
            return self.times.join([self._print(coeff)] +
                                   [self._factor(f, False) for f in rest])
        top = self.times.join(self._factor(f, len(num) == 1) for f in num) or "1"
        if not den:
            return top
        bottom = self.times.join(self._factor(f, len(den) == 1) for f in den)
        n_many = len(num) > 1 or (len(num) == 1 and isinstance(num[0], sp.Add))
        d_many = len(den) > 1 or isinstance(den[0], (sp.Add, sp.Mul, sp.Pow))
        return self._fraction(top, bottom, n_many, d_many)

    def _print_Pow(self, expr: sp.Pow) -> str:
        if expr.exp.is_Number and expr.exp < 0:
            den = sp.Pow(expr.base, -expr.exp) if expr.exp != -1 else expr.base
            return self._fraction("1", self._print(den), False, isinstance(den, (sp.Add,
                                                                                  sp.Mul, sp.Pow)))
        base = self._print(expr.base)
        if not isinstance(expr.base, (sp.Symbol, sp.Function)) or \
                (isinstance(expr.base, sp.Number) and expr.base < 0):
            base = self._paren(base)
        return self._power(base, expr.exp)

    def _print_Function(self, expr: sp.Function) -> str:
        if getattr(expr.func, "slot", 0) and expr.func.arity > 1:  # SymPy's dispatch skips it
            return self._abstract_partial(expr)
        name = expr.func.__name__
        args = ", ".join(self._print(a) for a in expr.args)
        return f"{self.functions.get(name, name)}{self._paren(args)}"

    call_parens = ("(", ")")  # around an abstract function's arguments inside ∂…/∂…

    def _slot(self, slot: int, call: str) -> str:
        return f"D_{slot} {call}"

    def _abstract_partial(self, expr: sp.Function) -> str:
        """∂f/∂(argument i) at (a1 … an): ``∂f(a1, …, an)/∂ai`` when ai is a symbol that no
        other argument holds, else ``∂ᵢf(a1, …, an)`` (of one argument it prints f'(a1))."""
        cls, args = expr.func, expr.args
        lp, rp = self.call_parens
        call = f"{cls.abstract_name}{lp}{', '.join(self._print(a) for a in args)}{rp}"
        arg = args[cls.slot - 1]
        others = [a for i, a in enumerate(args) if i != cls.slot - 1]
        if arg.is_Symbol and not any(arg in a.free_symbols for a in others):
            return self._partial(call, self._print(arg))
        return self._slot(cls.slot, call)

    def _print_Heaviside(self, expr: sp.Function) -> str:
        return f"{self.functions.get('step', 'step')}{self._paren(self._print(expr.args[0]))}"

    def _print_Max(self, expr: sp.Function) -> str:
        return self._print_Function(expr)


class AsciiPrinter(_Matrix, _Leibniz, StrPrinter):
    """ASCII: ``dE/du``, ``*``, ``s_{-1}``."""

    times = " * "
    printmethod = "_bptt_ascii"
    matmul = " @ "
    hadamard = " * "
    transpose = "^T"
    ones = "ones"
    inverse = "^-1"
    kronecker = " kron "
    names: dict[str, str] = {}
    step_sum = "sum_t "
    sum_sign, prod_sign = "sum", "prod"

    def _sub(self, index: str) -> str:
        return f"_{index}" if index.isalnum() and not index.startswith("-") else f"_{{{index}}}"

    def _sup(self, root: str) -> str:
        return f"^({root})"


class UnicodePrinter(_Matrix, _Leibniz, StrPrinter):
    """Unicode: ``∂E/∂u``, ``·``, subscripts ``s₋₁``."""

    times = "·"
    minus = " − "
    neg = "−"
    functions = {"sigmoid": "σ"}
    printmethod = "_bptt_unicode"

    def _index(self, base: str, step: int) -> str:
        return base + str(step).translate(_SUB)

    def _power(self, base: str, exp: sp.Expr) -> str:
        if isinstance(exp, sp.Integer):
            return base + str(exp).translate(_SUP)
        return f"{base}^{self._paren(self._print(exp))}"

    def _partial(self, num: str, den: str) -> str:
        return f"∂{num}/∂{den}"

    def _slot(self, slot: int, call: str) -> str:
        return f"∂{str(slot).translate(_SUB)}{call}"


class LeibnizLatexPrinter(_Matrix, _Leibniz, LatexPrinter):
    r"""LaTeX: ``\frac{\partial E}{\partial u}``, ``\cdot``, ``s_{-1}``."""

    times = " \\cdot "
    lparen, rparen = "\\left(", "\\right)"
    paren_fractions = False
    functions = {"tanh": "\\tanh", "sigmoid": "\\sigma", "exp": "\\exp", "log": "\\log",
                 "step": "\\operatorname{step}", "relu": "\\operatorname{relu}",
                 "bce": "\\operatorname{bce}", "xent": "\\operatorname{xent}",
                 "mse": "\\operatorname{mse}", "softmax": "\\operatorname{softmax}",
                 "diag": "\\operatorname{diag}", "sum": "\\operatorname{sum}"}
    printmethod = "_bptt_latex"
    matmul = " "
    hadamard = " \\odot "
    transpose = "^{\\top}"
    ones = "\\mathbf{1}"
    inverse = "^{-1}"
    kronecker = " \\otimes "
    names = {"delta": "\\delta", "yhat": "\\hat{y}"}
    step_sum = "\\sum_{t} "
    sum_sign, prod_sign = "\\sum", "\\prod"
    stack = ("\\begin{bmatrix} ", " \\\\ ", " \\end{bmatrix}")

    def _rows(self, inner: str, start: str, stop: str) -> str:
        return f"{inner}_{{{start}:{stop}}}"

    def _sub(self, index: str) -> str:
        return f"_{{{index}}}"

    def _sup(self, root: str) -> str:
        return f"^{{({root})}}"

    def _index(self, base: str, step: int) -> str:
        return f"{base}_{{{step}}}"

    def _subscripted(self, stem: str, sub: str, step: int | str | None) -> str:
        return f"{stem}_{{{sub}}}" if step is None else f"{stem}_{{{sub},{step}}}"

    def _power(self, base: str, exp: sp.Expr) -> str:
        return f"{base}^{{{self._print(exp)}}}"

    def _partial(self, num: str, den: str) -> str:
        return f"\\frac{{\\partial {num}}}{{\\partial {den}}}"

    def _slot(self, slot: int, call: str) -> str:
        return f"\\partial_{{{slot}}} {call}"

    def _fraction(self, num: str, den: str, n_many: bool, d_many: bool) -> str:
        return f"\\frac{{{num}}}{{{den}}}"

    def _print_Rational(self, expr: sp.Rational) -> str:
        return str(expr.p) if expr.q == 1 else f"\\frac{{{expr.p}}}{{{expr.q}}}"


_PRINTERS = {"ascii": AsciiPrinter, "unicode": UnicodePrinter, "latex": LeibnizLatexPrinter}


def _doprint(printer: type, expr: sp.Expr) -> str:
    return printer({"order": "none"}).doprint(expr)


def leibniz(expr: sp.Expr, fmt: str = "unicode", *, depth: int = 0) -> str:
    """Print ``expr`` in the article's notation: ``fmt`` is ascii, unicode or latex.

    Nested expressions (the factored form at large T) print in a thread with a large stack
    (:mod:`bptt_sym.deep`); beyond its limit :class:`~bptt_sym.errors.TooDeep` is raised.
    ``depth`` is accepted for old callers and not needed.
    """
    try:
        printer = _PRINTERS[fmt]
    except KeyError:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(_PRINTERS)}") \
            from None
    return run_deep(_doprint, printer, expr)


def _header(d: Derivation, fmt: str) -> str:
    from bptt_sym.notation import Partial

    lhs = leibniz(Partial(sp.Symbol(d.of), sp.Symbol(d.wrt)), "unicode" if fmt == "unicode"
                  else "ascii")
    return f"{lhs}, {d.form}"


def render_derivation(d: Derivation, fmt: str) -> str:
    """Render a derivation as text lines (unicode, ascii), LaTeX lines or JSON."""
    depth = d.graph.steps
    if fmt == "json":
        return json.dumps(derivation_json(d), ensure_ascii=False, indent=1)
    comment = "%" if fmt == "latex" else "#"
    lines = [f"{comment} {d.title or _header(d, fmt)}"]
    for e in d.equations:
        if e.note or e.ref:
            ref = f"({e.ref}) " if e.ref else ""
            lines.append(f"{comment} {ref}{e.note}".rstrip())
        lines.append(f"{leibniz(e.lhs, fmt, depth=depth)} {relation(e.relation, fmt)} "
                     f"{leibniz(e.rhs, fmt, depth=depth)}{e.condition(fmt)}")
    return "\n".join(lines)


RELATIONS = {"≈": {"ascii": "~=", "unicode": "≈", "latex": "\\approx"}}


def relation(name: str, fmt: str) -> str:
    """How an equation's relation prints: = in every format, ≈ as ~= in ASCII."""
    return RELATIONS[name][fmt] if name in RELATIONS else name


def _both(expr: sp.Expr, depth: int) -> dict[str, str]:
    return {"ascii": leibniz(expr, "ascii"), "unicode": leibniz(expr, "unicode"),
            "latex": leibniz(expr, "latex"), "srepr": run_deep(_srepr, expr)}


def _srepr(expr: sp.Expr) -> str:
    """SymPy's srepr with the arguments in the derivation's order: sorting the terms of a
    sum of T terms would take time quadratic in T."""
    return sp.srepr(expr, order="none")


def derivation_json(d: Derivation) -> dict[str, object]:
    """A JSON-able dict: of, wrt, form and each equation's sides in every notation."""
    depth = d.graph.steps
    return {"of": d.of, "wrt": d.wrt, "form": d.form,
            "equations": [{"kind": e.kind, "note": e.note, "ref": e.ref or None,
                           **({"relation": e.relation} if e.relation != "=" else {}),
                           "lhs": _both(e.lhs, depth), "rhs": _both(e.rhs, depth)}
                          for e in d.equations]}
