"""Matrix formulas of a matrix model: what each name means, its shape, and its value.

The grammar is the one of :mod:`bptt_sym.syntax.formula`; here a parsed side is read as matrix
algebra.  Shapes are worked out first in the size letters of the model (elman's H hidden,
D inputs, K classes), so a mismatch is named before any number is computed:

    >>> from bptt_sym.syntax.formula import parse
    >>> from bptt_sym.graph.matrix import ELMAN
    >>> names = MatrixNames(ELMAN, steps=3)
    >>> shape_of(parse("dE/dV = sum_t (yhat_t - y_t) s_t^T").sides[1], names)
    ('K', 'H')
    >>> try:
    ...     shape_of(parse("x = V (yhat_t - y_t)").sides[1], names)
    ... except ShapeError as e:
    ...     print(e)
    V (K×H) times ŷ_t − y_t (K×1): the inner sizes H and K differ

Conventions (docs/check.md): ``*``, ⊙ and ∘ are elementwise; juxtaposition, ``@``, · and ×
the matrix product; a number or a 1×1 value scales; ``W^2`` is W W, ``s^2`` entrywise; a named
adjoint is the gradient of its node (elman's δ_t is ∂E/∂z_t; δ_T = 0); ∂E/∂X has the shape
of X, ∂a/∂b of two vectors (columns or rows) is the Jacobian (rows: a).
A gradient standing first in a matrix product whose sizes only fit as a row is read as the
row (the article's chain ∂E_t/∂ŷ_t · ∂ŷ_t/∂s_t · …).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from flint import fmpq

from bptt_sym.errors import BpttError
from bptt_sym.graph import entries as _entries
from bptt_sym.graph import names as _names
from bptt_sym.graph import resolve_blocks as _blocks
from bptt_sym.graph.chain_product import chain_tree
from bptt_sym.graph.exact import Integers, diag_of, exact, identity_like
from bptt_sym.graph.names import (
    SCALAR,
    Item,
    MatrixNames,
    OutOfRange,
    Shape,
    is_vector,
    length,
)
from bptt_sym.graph.resolve import MAX_EXPONENT, MAX_SUM_TERMS, InvalidFormula, one_argument
from bptt_sym.graph.resolve_blocks import ShapeError, _dims, _no_tensor
from bptt_sym.notation import STEP_LETTERS
from bptt_sym.rules.functions import rule_names
from bptt_sym.syntax.equations import ALIASES
from bptt_sym.syntax.formula import PRODUCTS, Call, Deriv, Num, Op, Prod, Ref, Sum
from bptt_sym.syntax.text import show

__all__ = ["MatrixNames", "Item", "ShapeError", "OutOfRange", "shape_of", "side", "Walk", "show",
           "entrywise_powers",
           "SCALAR", "ELEMENTWISE", "MATMUL"]

ELEMENTWISE = frozenset({"*", "⊙"})
MATMUL = PRODUCTS - ELEMENTWISE
_ACTIVATIONS = {**{n: n for n in rule_names("activation") if n not in ("f", "identity")}, **ALIASES}
_UNARY = frozenset({"exp", "log", "step"})
KINK_FUNCS = frozenset({"relu", "step"})  # the kinks a point must see on both sides


class Walk:
    """Shapes (always) and values (with a point) of a parsed side.

    ``point`` supplies ``value(item)`` and ``derivative(num_item, den_item)`` as object
    arrays; without it only shapes are worked out.
    """

    def __init__(self, names: MatrixNames, point: object | None = None) -> None:
        self.names = names
        self.point = point
        self.rowed = False  # a gradient was read as a row (the article's chain order)
        self.terms = 0  # terms of every sum and product evaluated, nested ones included
        self.entrywise: list[str] = []  # powers of vectors, read entry by entry (s_t^2)

    def __call__(self, node: object, env: Mapping[str, int | None]) -> tuple[Shape, object]:
        method: Callable | None = getattr(self, "_" + type(node).__name__.lower(), None)
        if method is None:  # a node of the grammar that matrix formulas give no meaning
            call = getattr(node, "call", node)
            raise InvalidFormula(f"∂{getattr(call, 'name', '')}(…)/∂… is not read in matrix "
                                 "formulas: partials of a function's arguments are for scalar "
                                 "model files", getattr(call, "column", None))
        return method(node, env)

    # leaves
    def _num(self, node: Num, env: Mapping[str, int | None]) -> tuple[Shape, object]:
        return SCALAR, (self._scalar(exact(node.value)) if self.point else None)

    def _ref(self, node: Ref, env: Mapping[str, int | None]) -> tuple[Shape, object]:
        item = self.names.item(node, env)
        if item.kind == "zero" and self.point:
            return self.names.shape(item.base), self.point.zeros(self.names.shape(item.base))
        if item.kind == "int":
            return SCALAR, self._scalar(fmpq(item.step)) if self.point else None
        if item.kind == "identity":
            raise InvalidFormula("I (the identity) is not known here; write diag(1) of a "
                                 "vector or leave the factor out", node.column)
        shape = self.names.shape(item.base)
        value = self.point.value(item) if self.point else None
        if node.entry:  # h_{t+1,i}: one entry, a number
            at = _entries.entry_values(node, env)
            if value is None or None in at:
                return SCALAR, None
            return SCALAR, _entries.pick(value, shape, at, node, self.point.dims)
        return shape, value

    def _deriv(self, node: Deriv, env: Mapping[str, int | None]) -> tuple[Shape, object]:
        num, den = _names.derivative_items(self.names, node, env)
        ns, ds = self.names.shape(num.base), self.names.shape(den.base)
        if node.num.entry or node.den.entry:  # ∂h_{t+1,i}/∂h_{t,j}, ∂L/∂o_i, ∇_V o_i
            at = [_entries.entry_values(r, env) for r in (node.num, node.den)]
            value = self.point.derivative(num, den) if self.point and None not in \
                at[0] + at[1] else None
            return _entries.pick_derivative(value, at[0], at[1], ns, ds)
        if ns == SCALAR:
            shape = ds
        elif is_vector(ns) and (is_vector(ds) or ds == SCALAR):  # columns or rows: the Jacobian
            if self.names.layout == "denominator":  # d2l's: a row per entry of b
                return (length(ds), length(ns)), \
                    (self.point.derivative(num, den).T if self.point else None)
            shape = (length(ns), length(ds))
        else:  # a vector by a matrix: a 3-tensor, for the end of a chain (V5)
            shape = (length(ns), ds[0], ds[1])
        if not self.point:
            return shape, None
        return shape, self.point.derivative(num, den)

    # operators
    def _op(self, node: Op, env: Mapping[str, int | None]) -> tuple[Shape, object]:
        if node.op == "neg":
            shape, v = self(node.args[0], env)
            return shape, (-v if v is not None else None)
        if node.op == "T":
            shape, v = self(node.args[0], env)
            _no_tensor(node.args[0], shape)
            return (shape[1], shape[0]), (v.T if v is not None else None)
        if node.op == "^":
            return self._power(node, env)
        if node.op == "stack":
            return _blocks.stack(self, node, env)
        if node.op == "rows":
            return _blocks.rows(self, node, env)
        (sa, va), (sb, vb) = self(node.args[0], env), self(node.args[1], env)
        if node.op in MATMUL:
            return self._matmul(node, sa, va, sb, vb)
        _no_tensor(node.args[0], sa)
        _no_tensor(node.args[1], sb)
        a_text, b_text = show(node.args[0]), show(node.args[1])
        if sa != sb and SCALAR not in (sa, sb):
            what = {"+": "plus", "-": "minus", "/": "divided by"}.get(node.op, "⊙")
            raise ShapeError(f"{a_text} ({_dims(sa)}) {what} {b_text} ({_dims(sb)}): the shapes "
                             "differ")
        shape = sa if sa != SCALAR else sb
        if va is None or vb is None:
            return shape, None
        if node.op == "/":
            if any(x == 0 for x in np.ravel(vb)):
                raise InvalidFormula(f"division by zero in {a_text} / {b_text}")
            return shape, va / vb
        ops = {"+": lambda: va + vb, "-": lambda: va - vb}
        return shape, ops.get(node.op, lambda: va * vb)()

    def _matmul(self, node: Op, sa: Shape, va: object, sb: Shape,
                vb: object) -> tuple[Shape, object]:
        if sa[1] != sb[0] and _names.is_gradient(node.args[0], self.names) and sa[0] == sb[0]:
            sa, va = (sa[1], sa[0]), (va.T if va is not None else None)  # a row, as written
            self.rowed = True
        if len(sb) == 3:  # row · ∂s/∂W: the gradient by the matrix W
            if sa != ("1", sb[0]):
                raise ShapeError(f"{show(node.args[0])} ({_dims(sa)}) times "
                                 f"{show(node.args[1])} (a 3-tensor, {sb[0]} by {_dims(sb[1:])})"
                                 f": a tensor by a matrix can only follow a 1×{sb[0]} row")
            shape = sb[1:]
            return shape, (np.tensordot(va[0], vb, axes=1) if va is not None else None)
        _no_tensor(node.args[0], sa)
        if SCALAR in (sa, sb):
            return (sa if sb == SCALAR else sb), (va * vb if va is not None else None)
        if node.op == "juxt" and sa == sb and sa[1] == "1" and sa[0] != "1":  # y_t log ŷ_t
            return ("1", "1"), (va.T.dot(vb) if va is not None and vb is not None else None)
        if sa[1] != sb[0]:
            raise ShapeError(f"{show(node.args[0])} ({_dims(sa)}) times {show(node.args[1])} "
                             f"({_dims(sb)}): the inner sizes {sa[1]} and {sb[0]} differ")
        shape = (sa[0], sb[1])
        if va is None or vb is None:
            return shape, None
        return shape, va.dot(vb)

    def _power(self, node: Op, env: Mapping[str, int | None]) -> tuple[Shape, object]:
        """A square matrix's power is the matrix power (W² = W W, (Wᵀ)^{t-k} in the step
        variables); a vector's (s_t²) and a scalar's are entry by entry."""
        n = _names.whole(node.args[1], env, self.names.steps)
        up = next((r for r in _refs(node.args[1]) if r.index is None and r.base not in env
                   and r.base not in STEP_LETTERS), None)
        if n is None and up is not None:
            what = "a name of the model, not a whole number" \
                if up.base in self.names.reserved else "no number, step or name of the model"
            raise InvalidFormula(f"the superscript {up.base} of {show(node.args[0])} is {what} "
                                 "(a layer index? this model has one layer); as written the "
                                 "formula is not defined")
        if n is None or n > MAX_EXPONENT:
            raise InvalidFormula(f"the exponent {n} is larger than {MAX_EXPONENT}" if n else
                                 "an exponent must be a whole number such as 2, or one in the "
                                 "step variables and T such as T-1-k")
        shape, v = self(node.args[0], env)
        if len(shape) == 2 and shape[0] == shape[1] and shape[0] != "1":
            if v is None:  # shapes only: a step variable may be unbound (read as 1)
                return shape, None
            if n < 0:
                raise InvalidFormula("a negative power of a matrix is its inverse: not read")
            out = identity_like(v) if v is not None else None
            for _ in range(n if v is not None else 0):
                out = out.dot(v)
            return shape, out
        if is_vector(shape) and show(node) not in self.entrywise:
            self.entrywise.append(show(node))
        return shape, (v ** n if v is not None else None)

    def _call(self, node: Call, env: Mapping[str, int | None]) -> tuple[Shape, object]:
        name = node.name
        if name not in ("outer", "diag", "sum", "softmax", "prod"):
            self._elementwise(node)  # an unknown function is named before its arguments
        parts = [self(a, env) for a in node.args]
        if name == "outer":
            if len(parts) != 2 or any(s[1] != "1" for s, _ in parts):
                raise InvalidFormula("outer(a, b) takes two column vectors", node.column)
            (sa, va), (sb, vb) = parts
            return (sa[0], sb[0]), (va.dot(vb.T) if va is not None and vb is not None else None)
        if name == "prod" and len(parts) > 1 and not node.prime:  # d2l's prod(a, b, …)
            return self(chain_tree(node, [s for s, _ in parts], self.names), env)
        if len(parts) != 1:
            raise InvalidFormula(one_argument(name, len(parts)), node.column)
        (shape, v), = parts
        if name == "diag":
            if not is_vector(shape):
                raise InvalidFormula(f"diag takes a column or row vector, got {show(node.args[0])} "
                                     f"({_dims(shape)})", node.column)
            n = length(shape)
            return (n, n), (diag_of(v.reshape(-1, 1)) if v is not None else None)
        if name == "sum":  # the sum of every entry
            return SCALAR, (np.array([[v.sum()]], dtype=object) if v is not None else None)
        if name == "softmax":
            if node.prime:
                raise InvalidFormula("softmax' is not elementwise; write its Jacobian "
                                     "diag(ŷ) − ŷ ŷᵀ", node.column)
            if not is_vector(shape) and shape != SCALAR:
                raise InvalidFormula("softmax takes a column or row vector", node.column)
            return shape, (self.point.softmax(v) if v is not None else None)
        fn = self._elementwise(node)
        note = getattr(self.point, "kink", None)
        if v is not None and note is not None and self._name(node) in KINK_FUNCS:
            steps = tuple(sorted((k, t) for k, t in env.items() if t is not None))
            where = " at " + ", ".join(f"{k} = {t}" for k, t in steps) if steps else ""
            note(("formula", node.column, steps),
                 f"{self._name(node)}({show(node.args[0])}){where}", v)
        return shape, (fn(v, node.prime) if v is not None else None)

    def _name(self, node: Call) -> str:
        if node.name in self.names.activations or self._phi(node):
            return self.names.activation
        return _ACTIVATIONS.get(node.name, node.name)

    def _phi(self, node: Call) -> bool:
        """φ, d2l's name of the activation, is the model's f where it has no φ."""
        return node.name == "φ" and "f" in self.names.activations

    def _elementwise(self, node: Call) -> Callable:
        name = node.name
        if name in self.names.activations or self._phi(node):
            name = self.names.activation
        elif name in _ACTIVATIONS:
            name = _ACTIVATIONS[name]
        elif name not in _UNARY:
            raise InvalidFormula(f"unknown function {node.name}; {self.names.known()}",
                                 node.column)
        if node.prime and name in _UNARY:
            raise InvalidFormula(f"write {name}' as what it is ({name}' = exp, log' = 1/x)",
                                 node.column)
        return lambda v, prime: self.point.function(name, v, prime)

    def _sum(self, node: Sum, env: Mapping[str, int | None]) -> tuple[Shape, object]:
        if self.point is None:
            return self(node.body, {**env, node.var: None})[0], None
        size = _entries.dims_of(node.body, self.names).get(node.var)
        if size is not None:  # Σ_{k=1}^{n} W_{ik} h_{t,k}: over every entry
            _entries.check_bounds(node, self.names, env)
            ks = range(1, self.point.dims[size] + 1) if size != "1" else range(1, 2)
        else:
            ks = self._range(node, env)
        terms = [self._term(node, env, t) for t in ks]
        if not terms:
            shape = Walk(self.names)(node.body, {**env, node.var: None})[0]
            return shape, self.point.zeros(shape)
        total = terms[0][1]
        for _, v in terms[1:]:
            total = total + v
        return terms[0][0], total

    def _prod(self, node: Prod, env: Mapping[str, int | None]) -> tuple[Shape, object]:
        shape = Walk(self.names)(node.body, {**env, node.var: None})[0]
        if shape[0] != shape[1]:
            raise ShapeError(f"a product Π over {node.var} needs square factors; "
                             f"{show(node.body)} is {_dims(shape)}")
        if self.point is None:
            return shape, None
        out = None
        for t in reversed(self._range(node, env)):  # the highest step stands on the left
            v = self._term(node, env, t)[1]
            out = v if out is None else out.dot(v)
        if out is None:
            out = self.point.identity(shape)
        return shape, out

    def _term(self, node: Sum | Prod, env: Mapping[str, int | None],
              t: int) -> tuple[Shape, object]:
        self.terms += 1
        if self.terms > MAX_SUM_TERMS:  # nested sums multiply: Σ_t Σ_t … has T^depth terms
            raise InvalidFormula(f"the sums and products of this formula add up to more than "
                                 f"{MAX_SUM_TERMS} terms")
        try:
            return self(node.body, {**env, node.var: t})
        except OutOfRange as exc:  # the bounds are the person's: not a step to skip
            raise InvalidFormula(f"{exc} (in the {'sum' if isinstance(node, Sum) else 'product'}"
                                 f" over {node.var} at {node.var} = {t})", exc.column) from None

    def _range(self, node: Sum | Prod, env: Mapping[str, int]) -> list[int]:
        lo = 0 if node.lo is None else self._bound(node.lo, env)
        hi = self.names.steps - 1 if node.hi is None else self._bound(node.hi, env)
        if hi - lo + 1 > MAX_SUM_TERMS:
            raise InvalidFormula(f"a sum of {hi - lo + 1} terms is more than {MAX_SUM_TERMS}")
        return list(range(lo, hi + 1))

    def integer(self, node: object, env: Mapping[str, int]) -> int:
        """The whole number a bound or condition stands for (step variables, T, numbers)."""
        return self._bound(node, env)

    def _bound(self, node: object, env: Mapping[str, int]) -> int:
        saved = self.point
        self.point = Integers()
        try:
            shape, v = self(node, env)
        finally:
            self.point = saved
        if shape != SCALAR or v is None or v[0, 0] != int(v[0, 0]):
            raise InvalidFormula(f"a bound must be a whole number, got {show(node)}")
        return int(v[0, 0])

    def _scalar(self, value: fmpq) -> np.ndarray:
        return np.array([[value]], dtype=object)


def side(node: object, names: MatrixNames, env: Mapping[str, int | None],
         point: object | None = None) -> tuple[Shape, object]:
    """Shape and value of one side.  A chain begun by a gradient read as a row (∂E_t/∂ŷ_t
    ∂ŷ_t/∂c_t) is a gradient again: its 1×n result stands as a column.  Two equal columns
    side by side (y_t log ŷ_t) are their inner product, the one product that fits."""
    walk = Walk(names, point)
    shape, value = walk(node, env)
    if walk.rowed and len(shape) == 2 and shape[0] == "1" and shape[1] != "1":
        return (shape[1], "1"), (value.T if value is not None else None)
    return shape, value


def entrywise_powers(sides: tuple, names: MatrixNames, free: tuple[str, ...]) -> list[str]:
    """The powers of vectors in ``sides`` (s_t^2), which are read entry by entry."""
    walk = Walk(names)
    for node in sides:
        try:
            walk(node, dict.fromkeys(free))
        except BpttError:
            pass
    return walk.entrywise


def shape_of(node: object, names: MatrixNames, free: tuple[str, ...] = ("t",)) -> Shape:
    """The shape of a parsed side in the model's letters (raises :class:`ShapeError`);
    ``free`` are the step variables not bound by a sum."""
    return side(node, names, dict.fromkeys(free))[0]


def _refs(node: object) -> list[Ref]:
    """The names in an exponent (l in δ_t^l, also when --first moved it: l − 1)."""
    if isinstance(node, Ref):
        return [node]
    return [r for a in getattr(node, "args", ()) for r in _refs(a)]
