"""The matrix expressions a model line builds besides SymPy's own: an elementwise function
f(z), softmax(l), the cross-entropy xent(ŷ, y) and sum(X), the sum of every entry.

    >>> import sympy as sp
    >>> z = sp.MatrixSymbol("z", 3, 1)
    >>> Apply("tanh", z).shape, EntrySum(z).is_commutative
    ((3, 1), True)
"""

from __future__ import annotations

import sympy as sp
from sympy.core.symbol import Str
from sympy.matrices.expressions import MatrixExpr

__all__ = ["Apply", "Softmax", "Xent", "EntrySum", "MATRIX_FUNCTIONS"]

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
