"""Model equations in the article's own notation, parsed by our grammar (never ``sympify``).

A model is a list of lines such as ``z_t = a_t + b_t + k`` or ``q = s_{T-1}*v``.  Each
line parses into a :class:`Template`: the defined name and a SymPy right-hand side over
*placeholder* symbols, one per reference (``s_{t-1}`` is the placeholder of ``Ref("s",
"t", -1)``).  Unrolling later replaces placeholders by the symbols of one step.

    >>> t = parse_equation("z_t = a_t + b_t + k", functions={})
    >>> t.lhs, sorted(str(p) for p in t.refs)
    (Ref(base='z', var='t', offset=0), ['a[t]', 'b[t]', 'k'])
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sympy as sp
from lark import Lark, Transformer, v_args
from lark.exceptions import LarkError, VisitError
from sympy.matrices.expressions import MatrixExpr

from bptt_sym.errors import BpttError

__all__ = ["Ref", "Template", "parse_equation", "StepIndices"]

_GRAMMAR = r"""
start: ref "=" sum
?sum: product | sum "+" product -> add | sum "-" product -> sub
?product: unary | product "*" unary -> mul | product "/" unary -> div | product power -> juxt
        | product ("⊙" | "∘") unary -> hadamard | product ("@" | "·") unary -> matmul
?unary: power | "-" unary -> neg
?power: atom | atom ("^" | "**") unary -> pow | atom TRANSPOSE -> transpose
?atom: NUMBER -> number | ref | call | "(" sum ")" | STEPSUM power -> stepsum
call: FUNC "(" sum ("," sum)* ")"
ref: NAME ("_" index)?
?index: "{" idx "}" | IDXVAR -> var | INT -> const
idx: IDXVAR -> var | IDXVAR "-" INT -> minus | IDXVAR "+" INT -> plus | SIGNED_INT -> const
IDXVAR: "t" | "T"
NAME: /[A-Za-z][A-Za-z0-9]*/
FUNC.2: /[A-Za-z][A-Za-z0-9]*(?=\()/
STEPSUM.3: "sum_t" | "Σ_t"
TRANSPOSE.3: "ᵀ" | /\^\s*T(?![A-Za-z0-9_({])/
%import common.NUMBER
%import common.INT
%import common.SIGNED_INT
%import common.WS
%ignore WS
"""

_PARSER = Lark(_GRAMMAR, parser="lalr")
MAX_EXPONENT = 1000  # 2^(999^9) would make SymPy build a number of 10^26 digits


@dataclass(frozen=True)
class Ref:
    """A name with an optional step index: ``s_{t-1}`` is ``Ref("s", "t", -1)``.

    ``var`` is ``"t"`` (the current step), ``"T"`` (the number of steps), ``""`` for an
    absolute step (``offset`` is then the step) or ``None`` for a name with no index.
    """

    base: str
    var: str | None = None
    offset: int = 0

    def placeholder(self) -> sp.Symbol:
        """The symbol standing for this reference inside a template."""
        if self.var is None:
            return sp.Symbol(self.base)
        if self.var == "":
            return sp.Symbol(f"{self.base}[{self.offset}]")
        sign = "+" if self.offset > 0 else ""
        shift = f"{sign}{self.offset}" if self.offset else ""
        return sp.Symbol(f"{self.base}[{self.var}{shift}]")

    def step(self, t: int, steps: int) -> int | None:
        """The absolute step this reference means at step ``t`` of ``steps``."""
        if self.var is None:
            return None
        origin = {"t": t, "T": steps, "": 0}[self.var]
        return origin + self.offset


@dataclass(frozen=True)
class Template:
    """One parsed model equation: ``lhs = rhs`` with ``refs`` mapping placeholders to refs."""

    source: str
    lhs: Ref
    rhs: sp.Expr
    refs: Mapping[sp.Symbol, Ref]


@v_args(inline=True)
class StepIndices(Transformer):
    """The grammar's step indices as (variable, offset): t -> ("t", 0), t-1 -> ("t", -1),
    3 -> ("", 3).  Shared by every reader of the model grammar."""

    def var(self, name):  # noqa: ANN001, ANN201 - lark callbacks
        return (str(name), 0)

    def minus(self, name, k):  # noqa: ANN001, ANN201
        return (str(name), -int(k))

    def plus(self, name, k):  # noqa: ANN001, ANN201
        return (str(name), int(k))

    def const(self, k):  # noqa: ANN001, ANN201
        return ("", int(k))


@v_args(inline=True)
class _ToSympy(StepIndices):
    def __init__(self, functions: Mapping[str, Callable[..., sp.Expr]],
                 symbol: Callable[[Ref], sp.Basic] | None = None,
                 steps: int | None = None,
                 step_sum: Callable[[sp.Basic], sp.Basic] | None = None) -> None:
        super().__init__()
        self.functions, self.step_sum = functions, step_sum
        self.symbol = symbol or Ref.placeholder
        self.steps = steps
        self.refs: dict[sp.Basic, Ref] = {}

    def ref(self, name, index=None):  # noqa: ANN001, ANN201
        if str(name) == "T" and index is None and self.steps is not None:
            return sp.Integer(self.steps)  # the number of steps, as in 1/T sum_t E_t
        r = Ref(str(name)) if index is None else Ref(str(name), index[0], index[1])
        p = self.symbol(r)
        self.refs[p] = r
        return p

    def stepsum(self, _token, body):  # noqa: ANN001, ANN201
        """sum_t body: the body at every step t = 0 … T-1 (its _t references made absolute)."""
        if self.steps is None:
            return body if self.step_sum is None else self.step_sum(body)
        free = body.free_symbols | body.atoms(sp.MatrixSymbol)
        moving = [(p, r) for p, r in self.refs.items() if r.var == "t" and p in free]
        terms = []
        for k in range(self.steps):
            subs = {}
            for p, r in moving:
                fixed = Ref(r.base, "", k + r.offset)
                q = self.symbol(fixed)
                self.refs[q] = fixed
                subs[p] = q
            terms.append(body.xreplace(subs))
        for p, _ in moving:
            if not any(p in (t.free_symbols | t.atoms(sp.MatrixSymbol)) for t in terms):
                self.refs.pop(p, None)
        return sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]

    def number(self, tok):  # noqa: ANN001, ANN201
        return sp.Rational(str(tok))

    def call(self, name, *args):  # noqa: ANN001, ANN201
        fn = self.functions.get(str(name))
        if fn is None:
            known = ", ".join(sorted(self.functions)) or "none"
            raise BpttError(f"unknown function {name!s}; known functions: {known}")
        return fn(*args)

    def add(self, a, b):  # noqa: ANN001, ANN201
        if isinstance(a, MatrixExpr) != isinstance(b, MatrixExpr):  # 1 - z_t: a number spreads
            a, b = (_spread(x, b if x is a else a) for x in (a, b))
        if isinstance(a, MatrixExpr) != isinstance(b, MatrixExpr) or (
                isinstance(a, MatrixExpr) and a.shape != b.shape):
            what = [_shape(x) if isinstance(x, MatrixExpr) else f"{x} (a scalar)" for x in (a, b)]
            raise BpttError(f"+ adds {what[0]} and {what[1]}: the shapes differ (broadcasting "
                            "is not supported yet)")
        if isinstance(a, MatrixExpr):  # keep the written order: z = U x + W s + b
            return sp.MatAdd(*(a.args if isinstance(a, sp.MatAdd) else (a,)), b)
        return a + b

    def sub(self, a, b):  # noqa: ANN001, ANN201
        if isinstance(a, MatrixExpr) or isinstance(b, MatrixExpr):
            return self.add(a, sp.MatMul(-1, b) if isinstance(b, MatrixExpr) else -b)
        return a - b

    def juxt(self, a, b):  # noqa: ANN001, ANN201
        """a b, a @ b, a · b: the matrix product (a plain product when a side is scalar)."""
        if isinstance(a, MatrixExpr) or isinstance(b, MatrixExpr):
            if _matrix(a) and _matrix(b) and a.shape[1] != b.shape[0]:
                raise BpttError(f"{_shape(a)} times {_shape(b)} does not fit a matrix product "
                                "(the columns of the left must be the rows of the right)")
            return sp.MatMul(a, b)
        if (a.is_Number and isinstance(b, sp.Add)) or (b.is_Number and isinstance(a, sp.Add)):
            return sp.Mul(a, b, evaluate=False)  # 1/T (E_0 + E_1), not E_0/T + E_1/T
        return a * b

    matmul = juxt

    def mul(self, a, b):  # noqa: ANN001, ANN201
        """a * b, a ⊙ b: elementwise between equal shapes (NumPy's convention)."""
        if not (_matrix(a) and _matrix(b)):
            return self.juxt(a, b)
        if a.shape != b.shape:
            fits = a.shape[1] == b.shape[0]
            raise BpttError(f"* is elementwise and needs equal shapes; {_shape(a)} and "
                            f"{_shape(b)} differ" + ("; use @ or juxtaposition for the matrix "
                                                     "product" if fits else ""))
        return sp.HadamardProduct(a, b)

    hadamard = mul

    def transpose(self, a, _token):  # noqa: ANN001, ANN201
        return sp.Transpose(a) if isinstance(a, MatrixExpr) else a

    def div(self, a, b):  # noqa: ANN001, ANN201
        return a / b

    def neg(self, a):  # noqa: ANN001, ANN201
        return -a

    def pow(self, a, b):  # noqa: ANN001, ANN201
        if isinstance(a, MatrixExpr) or isinstance(b, MatrixExpr):
            raise BpttError("a power of a matrix is not supported in model lines; write the "
                            "elementwise product out (h * h)")
        if b.is_Number and abs(b) > MAX_EXPONENT:
            raise BpttError(f"the exponent {b} is too large (at most {MAX_EXPONENT})")
        return a**b

    def start(self, lhs, rhs):  # noqa: ANN001, ANN201
        return lhs, rhs


def _written(m: re.Match) -> str:
    """A placeholder x[t-1] as the equation writes it, x_{t-1}."""
    return f"{m[1]}_{m[2]}" if re.fullmatch(r"t|T|\d+", m[2]) else f"{m[1]}_{{{m[2]}}}"


def _spread(x: object, like: object) -> object:
    """A number beside a matrix: that number in every entry (NumPy's broadcast of a
    scalar); anything else as it is."""
    if isinstance(like, MatrixExpr) and not isinstance(x, MatrixExpr) and \
            getattr(x, "is_Number", False):
        ones = sp.OneMatrix(*like.shape)
        return ones if x == 1 else sp.MatMul(x, ones)
    return x


def _matrix(x: object) -> bool:
    """A matrix of more than one entry (a 1 x 1 MatrixSymbol scales like a scalar)."""
    return isinstance(x, MatrixExpr) and x.shape != (1, 1)


def _shape(x: MatrixExpr) -> str:
    return f"{str(x).replace('*', ' ')} ({x.shape[0]} x {x.shape[1]})"


def parse_equation(source: str, *, functions: Mapping[str, Callable[..., sp.Expr]],
                   symbol: Callable[[Ref], sp.Basic] | None = None,
                   steps: int | None = None,
                   step_sum: Callable[[sp.Basic], sp.Basic] | None = None) -> Template:
    """Parse one model equation; ``functions`` maps the names a call may use to SymPy callables.

    ``symbol`` makes the placeholder of each reference (default: a scalar ``Symbol``; a
    vector model gives ``MatrixSymbol``s of the right shape).  With ``steps``, the name ``T``
    is that number and ``sum_t body`` is the sum of the body over t = 0 … steps-1; without,
    ``sum_t body`` is ``step_sum(body)`` (default: the body alone).

        >>> t = parse_equation("E = 1/T sum_t E_t", functions={}, steps=2)
        >>> t.rhs, sorted(str(p) for p in t.refs)
        ((E[0] + E[1])/2, ['E[0]', 'E[1]'])
    """
    try:
        tree = _PARSER.parse(source)
        builder = _ToSympy(functions, symbol, steps, step_sum)
        lhs_symbol, rhs = builder.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, BpttError):
            why = re.sub(r"\b([A-Za-z][A-Za-z0-9]*)\[([^\]]*)\]", _written, str(exc.orig_exc))
            raise BpttError(f"in model equation {source!r}: {why}") from None
        raise
    except LarkError as exc:
        first = str(exc).strip().splitlines()[0]
        raise BpttError(f"cannot parse model equation {source!r}: {first}") from None
    if lhs_symbol not in builder.refs:  # T = q: the step count is no name to define
        raise BpttError(f"in model equation {source!r}: the left side must be a name such as "
                        "z_t or q (t and T are step indices)")
    lhs = builder.refs.pop(lhs_symbol)
    if lhs_symbol in rhs.free_symbols or rhs.has(lhs_symbol):
        builder.refs[lhs_symbol] = lhs
    return Template(source, lhs, rhs, dict(builder.refs))
