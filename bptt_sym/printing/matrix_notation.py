"""The matrix notation shared by the Leibniz printers (:mod:`bptt_sym.printing.leibniz`): products
by juxtaposition (ASCII ``@``), ᵀ, ⊙, Σ_t, diag.  A mixin: the printer supplies the tokens
(``_partial``, ``_paren``, ``neg`` …) of its notation.
"""

from __future__ import annotations

import re

import sympy as sp

from bptt_sym.notation import name_subscript

__all__ = ["Matrix", "SUB", "SUB_LETTERS"]

SUB = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")
SUB_LETTERS = str.maketrans("tkj+", "ₜₖⱼ₊")

_TEMPLATE = re.compile(r"^(?P<base>[A-Za-z]+(?:_[A-Za-z]+)?)"
                       r"_(?:\{(?P<braced>[^{}]+)\}|(?P<plain>[0-9A-Za-z]+))$")

_ROOTED = re.compile(r"^(?P<base>[A-Za-z]+)\^\((?P<root>\d+)\)_(?:\{(?P<braced>[^{}]+)\}"
                     r"|(?P<plain>[0-9A-Za-z]+))$")  # delta^(2)_0: loss E_2's own δ_0
SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


class Matrix:
    """Matrix notation: products by juxtaposition (ASCII ``@``), ᵀ, ⊙, Σ_t, diag."""

    matmul = " "
    hadamard = " ⊙ "
    transpose = "ᵀ"
    inverse = "⁻¹"
    kronecker = " ⊗ "
    names: dict[str, str] = {"delta": "δ", "yhat": "ŷ"}
    ones = "𝟏"  # a column of ones, as a factor of a product
    step_sum = "Σₜ "
    sum_sign, prod_sign = "Σ", "Π"
    stack = ("[", "; ", "]")  # [h_{t-1}; x_t]

    def _sub(self, index: str) -> str:
        return index.translate(SUB).translate(SUB_LETTERS)

    def _sup(self, root: str) -> str:
        """The superscript (t) of one loss's adjoint: ⁽²⁾."""
        return f"({root})".translate(SUP)

    def _print_MatrixSymbol(self, expr: sp.MatrixSymbol) -> str:
        name = expr.name
        rooted = _ROOTED.match(name)
        if rooted:
            base = self.names.get(rooted["base"], rooted["base"])
            return base + self._sup(rooted["root"]) + self._sub(rooted["braced"] or
                                                                rooted["plain"])
        if "/" in name:  # dE/dW: a gradient's name
            num, den = name.split("/")
            return self._partial(num[1:], den[1:])
        m = _TEMPLATE.match(name)
        if m is None:
            return self.names.get(name, name)
        stem, sub = name_subscript(name)
        if sub is not None:  # W_x, W_hh: a name with its own subscript
            return self._subscripted(stem, sub, None)
        stem, sub = name_subscript(m["base"])
        if sub is not None:  # W_x_k: the copy of W_x at step k
            return self._subscripted(stem, sub, m["braced"] or m["plain"])
        base = self.names.get(m["base"], m["base"])
        return base + self._sub(m["braced"] or m["plain"])

    def _mat_factor(self, f: sp.Basic) -> str:
        if isinstance(f, sp.OneMatrix):  # 𝟏 b: a row spread over rows (NumPy's broadcast)
            return self.ones
        if isinstance(f, sp.Transpose) and isinstance(f.arg, sp.OneMatrix):  # 𝟏ᵀ δ: a sum
            return self.ones + self.transpose
        text = self._print(f)
        if isinstance(f, (sp.MatAdd, sp.HadamardProduct)):
            return self._paren(text)
        return text

    def _print_MatMul(self, expr: sp.MatMul) -> str:
        args = list(expr.args)
        sign = ""
        if args and args[0].is_Number:
            coeff = args.pop(0)
            sign = self.neg if coeff == -1 else f"{self._print(coeff)}{self.matmul}"
        return sign + self.matmul.join(self._mat_factor(a) for a in args)

    def _print_MatAdd(self, expr: sp.MatAdd) -> str:
        out = ""
        for i, term in enumerate(expr.args):
            negative = isinstance(term, sp.MatMul) and term.args[0] == -1
            body = sp.MatMul(*term.args[1:]) if negative and len(term.args) > 2 else \
                (term.args[1] if negative else term)
            text = self._mat_factor(body) if isinstance(body, sp.MatAdd) else self._print(body)
            if i == 0:
                out = (self.neg if negative else "") + text
            else:
                out += (self.minus if negative else self.plus) + text
        return out

    def _print_Transpose(self, expr: sp.Transpose) -> str:
        inner = self._print(expr.arg)
        if not isinstance(expr.arg, sp.MatrixSymbol) and type(expr.arg).__name__ != "Stack":
            inner = self._paren(inner)
        return inner + self.transpose

    def _print_HadamardProduct(self, expr: sp.HadamardProduct) -> str:
        return self.hadamard.join(self._paren(self._print(a)) if isinstance(a, sp.MatMul)
                                  else self._mat_factor(a) for a in expr.args)

    def _print_Xent(self, expr: sp.Basic) -> str:
        yhat, y = expr.args
        log = self.functions.get("log", "log")
        return f"{self.neg}{self._print(y)}{self.transpose} {log}{self._paren(self._print(yhat))}"

    def _print_HadamardPower(self, expr: sp.HadamardPower) -> str:
        return self.hadamard.join([self._mat_factor(expr.base)] * int(expr.exp))

    def _print_OneMatrix(self, expr: sp.OneMatrix) -> str:
        return "1"

    def _print_Apply(self, expr: sp.Basic) -> str:
        name = self.functions.get(expr.name, expr.name)
        return f"{name}{self._paren(self._print(expr.arg))}"

    def _print_Softmax(self, expr: sp.Basic) -> str:
        name = self.functions.get("softmax", "softmax")
        return f"{name}{self._paren(self._print(expr.arg))}"

    def _print_EntrySum(self, expr: sp.Basic) -> str:
        return f"{self.functions.get('sum', 'sum')}{self._paren(self._print(expr.args[0]))}"

    def _print_Diag(self, expr: sp.Basic) -> str:
        return f"{self.functions.get('diag', 'diag')}{self._paren(self._print(expr.args[0]))}"

    def _print_Stack(self, expr: sp.Basic) -> str:
        start, sep, end = self.stack
        return start + sep.join(self._print(a) for a in expr.args) + end

    def _rows(self, inner: str, start: str, stop: str) -> str:
        return f"{inner}[{start}:{stop}]"

    def _print_Rows(self, expr: sp.Basic) -> str:
        """(g)[1:H]: rows 1 to H of g (counted from 1, the last one included)."""
        inner = self._print(expr.arg)
        if not isinstance(expr.arg, sp.MatrixSymbol):
            inner = self._paren(inner)
        return self._rows(inner, *expr.span)

    def _print_Identity(self, expr: sp.Identity) -> str:
        return "I"

    def _print_Inverse(self, expr: sp.Inverse) -> str:
        inner = self._print(expr.arg)
        if not isinstance(expr.arg, sp.MatrixSymbol) and type(expr.arg).__name__ != "Diag":
            inner = self._paren(inner)
        return inner + self.inverse

    def _print_KroneckerProduct(self, expr: sp.KroneckerProduct) -> str:
        return self.kronecker.join(self._mat_factor(a) for a in expr.args)

    def _print_StepSum(self, expr: sp.Basic) -> str:
        return self.step_sum + self._mat_factor(expr.args[0])

    def _bounds(self, expr: sp.Basic) -> str:
        var, lo, hi = (a.name for a in expr.args[1:])
        return f"_{{{var}={lo}}}^{{{hi}}}"

    def _print_BoundedSum(self, expr: sp.Basic) -> str:
        return f"{self.sum_sign}{self._bounds(expr)} {self._print(expr.args[0])}"

    def _print_StepProduct(self, expr: sp.Basic) -> str:
        return self._paren(f"{self.prod_sign}{self._bounds(expr)} {self._print(expr.args[0])}")

    def _print_ChainProduct(self, expr: sp.Basic) -> str:
        return self.matmul.join(self._mat_factor(a) for a in expr.args)
