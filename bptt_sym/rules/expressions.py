"""The matrix expressions a model line builds besides SymPy's own: an elementwise function
f(z), softmax(l), the cross-entropy xent(ŷ, y), sum(X), the sum of every entry, the stacked
column [a; b] and the rows (g)_{i:j} of a matrix (what a stack's adjoint sends to one part).

    >>> import sympy as sp
    >>> z = sp.MatrixSymbol("z", 3, 1)
    >>> Apply("tanh", z).shape, EntrySum(z).is_commutative
    ((3, 1), True)
    >>> x = sp.MatrixSymbol("x", 2, 1)
    >>> Stack(z, x).shape, Stack(z, x).offsets, Rows(Stack(z, x), 3, 5).shape
    ((5, 1), (0, 3, 5), (2, 1))
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr

__all__ = ["Apply", "Softmax", "Xent", "EntrySum", "Stack", "Rows", "MATRIX_FUNCTIONS"]

# The functions of a matrix model line besides the elementwise ones, and their arities.
MATRIX_FUNCTIONS = {"softmax": 1, "xent": 2, "sum": 1}


class Apply(MatrixExpr):
    """An elementwise function applied to a vector: tanh(z_t)."""

    def __new__(cls, name: str | Str, arg: MatrixExpr) -> Apply:
        return MatrixExpr.__new__(cls, Str(str(name)), arg)

    @property
    def name(self) -> str:
        return str(self.args[0])

    @property
    def arg(self) -> MatrixExpr:
        return self.args[1]

    @property
    def shape(self) -> tuple:
        return self.arg.shape


class Softmax(MatrixExpr):
    """softmax of a vector of logits."""

    def __new__(cls, arg: MatrixExpr) -> Softmax:
        return MatrixExpr.__new__(cls, arg)

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    @property
    def shape(self) -> tuple:
        return self.arg.shape


class Xent(sp.Expr):
    """The cross-entropy −yᵀ log ŷ of a prediction ŷ and a target y (a scalar)."""

    is_commutative = True

    def __new__(cls, yhat: MatrixExpr, y: MatrixExpr) -> Xent:
        return sp.Expr.__new__(cls, yhat, y)


class EntrySum(sp.Expr):
    """sum(X): the sum of every entry of a matrix (a scalar)."""

    is_commutative = True

    def __new__(cls, arg: MatrixExpr) -> EntrySum:
        return sp.Expr.__new__(cls, arg)

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]


class Stack(MatrixExpr):
    """[a; b; …]: the parts one above the other (each of the same number of columns)."""

    def __new__(cls, *parts: MatrixExpr) -> Stack:
        return MatrixExpr.__new__(cls, *parts)

    @property
    def parts(self) -> tuple:
        return self.args

    @property
    def offsets(self) -> tuple[int, ...]:
        """The first row of each part, then the number of rows: (0, 3, 5) for 3 + 2 rows."""
        out = [0]
        for part in self.args:
            out.append(out[-1] + part.shape[0])
        return tuple(out)

    @property
    def shape(self) -> tuple:
        return (sum(part.shape[0] for part in self.args), self.args[0].shape[1])

    def _entry(self, i: int, j: int, **kwargs: object) -> sp.Basic:
        offsets = self.offsets
        k = next(k for k in range(len(self.args)) if i < offsets[k + 1])
        return self.args[k]._entry(i - offsets[k], j, **kwargs)


class Rows(MatrixExpr):
    """(g)[start+1:stop]: rows start … stop − 1 (counted from 0) of a matrix; ``span`` the
    same bounds in size letters as printed, counted from 1 (``("1", "H")``), when known."""

    def __new__(cls, arg: MatrixExpr, start: int, stop: int, *span: object) -> Rows:
        span = span[0] if len(span) == 1 else span  # (…, ("1", "H")) or SymPy's own rebuild
        named = (Str(str(span[0])), Str(str(span[1]))) if span else ()
        return MatrixExpr.__new__(cls, arg, sp.Integer(start), sp.Integer(stop), *named)

    @property
    def arg(self) -> MatrixExpr:
        return self.args[0]

    @property
    def start(self) -> int:
        return int(self.args[1])

    @property
    def stop(self) -> int:
        return int(self.args[2])

    @property
    def span(self) -> tuple[str, str]:
        """The printed bounds: size letters when known, else the numbers (from 1)."""
        if len(self.args) == 5:
            return (str(self.args[3]), str(self.args[4]))
        return (str(self.start + 1), str(self.stop))

    @property
    def shape(self) -> tuple:
        return (self.stop - self.start, self.arg.shape[1])

    def _entry(self, i: int, j: int, **kwargs: object) -> sp.Basic:
        return self.arg._entry(i + self.start, j, **kwargs)
