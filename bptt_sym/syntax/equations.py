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
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from bptt_sym.errors import BpttError
from bptt_sym.rules.expressions import Stack
from bptt_sym.syntax import formula as _formula
from bptt_sym.syntax.nodes import Call, Chain, Num, Op, ParseError, Sum

__all__ = ["Ref", "Template", "parse_equation", "read_equation", "fold", "model_ref", "ALIASES"]

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


# The operators of the formula grammar (:mod:`bptt_sym.syntax.formula`) as a model line
# means them: * and ⊙ elementwise, juxtaposition, @ and · the matrix product.
_METHOD = {"+": "add", "-": "sub", "*": "mul", "⊙": "mul", "juxt": "juxt", "@": "juxt",
           "·": "juxt", "/": "div", "^": "pow", "neg": "neg", "T": "transpose",
           "stack": "stack"}
_SUBSCRIPTS = re.compile(r"[_{₀-₉₋]")
# Other spellings of a function, as hand formulas read them: σ(z) and \sigma(z) are sigmoid.
ALIASES = {"σ": "sigmoid", "sigma": "sigmoid"}
# A bare name touching "(": a call in a model line (v (1 - z) with a space multiplies)
_CALL = re.compile(r"(?<![A-Za-z0-9_\\])([A-Za-z][A-Za-z0-9]*)(?=\()")


def model_ref(ref: _formula.Ref) -> Ref:
    """A name of the formula grammar as a model line means it: ``x_t``, ``s_{t-1}``,
    ``E_{T-1}``, ``s_{-1}`` carry a step index; a subscript that is no step (``W_h``, ``W_hh``)
    and digits typed with no ``_`` (``W1``) are part of the name."""
    if ref.index is None:
        return Ref(ref.base)
    if ref.index[0] == "abs":
        if ref.written and not _SUBSCRIPTS.search(ref.written):
            return Ref(ref.written)  # W1 is a name; W_1 and W₁ are W at step 1
        return Ref(ref.base, "", ref.index[1])
    if ref.index[0] == "lin":  # o_{T+t-i}: no name of a model line
        return Ref(f"{ref.base}_{{{ref.written}}}")
    _, var, offset = ref.index
    if var in ("t", "T"):
        return Ref(ref.base, var, offset)
    if offset == 0:
        return Ref(f"{ref.base}_{var}")
    raise BpttError(f"{ref.written or ref.base}: a step index of a model line is t or T "
                    "(x_t, s_{t-1}, E_{T-1})")


def read_equation(source: str, functions: Collection[str]) -> tuple[_formula.Ref, object]:
    """One model line read by the formula grammar: its left side (a name) and right side.

    ``functions``: the names that are called before a bracket; any other name before a
    bracket multiplies it.  Raises :class:`~bptt_sym.syntax.nodes.ParseError` (with its
    column) for text the grammar does not read, :class:`BpttError` for a formula that is
    not a model line (a chain, a condition, a left side that is no name)."""
    names = set(functions) | {a for a, name in ALIASES.items() if name in functions}
    for m in _CALL.finditer(source):
        if m[1] not in names and m[1] not in ("sum", "Σ"):
            known = ", ".join(sorted(functions)) or "none"
            raise BpttError(f"unknown function {m[1]}; known functions: {known}")
    chain: Chain = _formula.parse(source, functions=frozenset(names))
    if len(chain.sides) != 2 or chain.condition is not None:
        raise BpttError("a model line is one equation, name = expression")
    lhs = chain.sides[0]
    if not isinstance(lhs, _formula.Ref):
        raise BpttError("the left side must be a name such as z_t or q (t and T are step "
                        "indices)")
    return lhs, chain.sides[1]


def fold(node: object, visitor: object) -> object:
    """Build a model line's right side bottom-up, left to right: ``visitor`` has a method
    per operator (``add``, ``sub``, ``mul``, ``juxt``, ``div``, ``pow``, ``neg``,
    ``transpose``) and ``number(text)``, ``ref(Ref)``, ``call(name, *args)`` and
    ``stepsum(body)`` (``sum_t``)."""
    if isinstance(node, Num):
        return visitor.number(node.value)
    if isinstance(node, _formula.Ref):
        return visitor.ref(model_ref(node))
    if isinstance(node, Call) and not node.prime and not node.slot:
        name = ALIASES.get(node.name, node.name)
        return visitor.call(name, *(fold(a, visitor) for a in node.args))
    if isinstance(node, Sum) and node.lo is None and node.hi is None and node.var == "t":
        return visitor.stepsum(fold(node.body, visitor))
    if isinstance(node, Op) and node.op in _METHOD:
        args = [fold(a, visitor) for a in node.args]
        return getattr(visitor, _METHOD[node.op])(*args)
    raise BpttError(_foreign(node))


def _foreign(node: object) -> str:
    """Why a piece of a hand formula has no place in a model line."""
    if isinstance(node, Call):
        return f"{node.name}′ or ∂{node.name}: a derivative has no place in a model line"
    if isinstance(node, Sum):
        return "a model line sums over all the steps only: sum_t …"
    if isinstance(node, Op) and node.op == "rows":
        return "rows of a vector, (g)[1:H], are for hand formulas; a model line stacks [a; b]"
    kind = type(node).__name__
    return {"Deriv": "a derivative has no place in a model line",
            "DerivCall": "a derivative has no place in a model line",
            "Prod": "a product over steps has no place in a model line"}.get(
                kind, f"{kind} has no place in a model line")


class _ToSympy:
    """A model line's right side as SymPy, over placeholders (or ``symbol`` of each Ref)."""

    def __init__(self, functions: Mapping[str, Callable[..., sp.Expr]],
                 symbol: Callable[[Ref], sp.Basic] | None = None,
                 steps: int | None = None,
                 step_sum: Callable[[sp.Basic], sp.Basic] | None = None) -> None:
        self.functions, self.step_sum = functions, step_sum
        self.symbol = symbol or Ref.placeholder
        self.steps = steps
        self.refs: dict[sp.Basic, Ref] = {}

    def ref(self, r: Ref) -> sp.Basic:
        if r.base == "T" and r.var is None and self.steps is not None:
            return sp.Integer(self.steps)  # the number of steps, as in 1/T sum_t E_t
        p = self.symbol(r)
        self.refs[p] = r
        return p

    def stepsum(self, body):  # noqa: ANN001, ANN201
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

    def number(self, text: str) -> sp.Rational:
        return sp.Rational(text)

    def call(self, name, *args):  # noqa: ANN001, ANN201
        fn = self.functions.get(str(name))
        if fn is None:
            known = ", ".join(sorted(self.functions)) or "none"
            raise BpttError(f"unknown function {name}; known functions: {known}")
        return fn(*args)

    def add(self, a, b):  # noqa: ANN001, ANN201
        if isinstance(a, MatrixExpr) != isinstance(b, MatrixExpr):  # 1 - z_t: a number spreads
            a, b = (_spread(x, b if x is a else a) for x in (a, b))
        if isinstance(a, MatrixExpr) and isinstance(b, MatrixExpr) and a.shape != b.shape:
            a, b = _broadcast(a, b.shape), _broadcast(b, a.shape)
        if isinstance(a, MatrixExpr) != isinstance(b, MatrixExpr) or (
                isinstance(a, MatrixExpr) and a.shape != b.shape):
            what = [_shape(x) if isinstance(x, MatrixExpr) else f"{x} (a scalar)" for x in (a, b)]
            raise BpttError(f"+ adds {what[0]} and {what[1]}: the shapes differ (a 1 x n row "
                            "spreads over rows, an m x 1 column over columns, as in NumPy)")
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

    def transpose(self, a):  # noqa: ANN001, ANN201
        return sp.Transpose(a) if isinstance(a, MatrixExpr) else a

    def stack(self, *parts):  # noqa: ANN001, ANN201
        """[a; b]: columns (or matrices of one width) one above the other (a placeholder
        call stack(a, b) while the shapes are not known yet)."""
        matrices = [isinstance(p, MatrixExpr) for p in parts]  # a 1 x 1 part stacks too
        if not any(matrices) and self.symbol is Ref.placeholder:
            return sp.Function("stack")(*parts)
        if not all(matrices) or len({p.shape[1] for p in parts}) != 1:
            what = ", ".join(_shape(p) if m else f"{p} (a scalar)"
                             for p, m in zip(parts, matrices))
            raise BpttError(f"[a; b] stacks parts of one width (columns), not {what}")
        return Stack(*parts)

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


def _broadcast(x: MatrixExpr, like: tuple) -> MatrixExpr:
    """NumPy's broadcast of ``x`` to the shape ``like``: a 1 x n row repeated over m rows is
    𝟏 x (𝟏 an m x 1 column of ones), an m x 1 column over n columns x 𝟏ᵀ; ``x`` itself
    when it does not spread to ``like``."""
    rows, cols = x.shape
    if (rows, cols) == tuple(like):
        return x
    if rows == 1 and like[0] != 1 and cols in (like[1], 1):
        x, rows = sp.MatMul(sp.OneMatrix(like[0], 1), x), like[0]
    if cols == 1 and like[1] != 1 and rows == like[0]:
        x = sp.MatMul(x, sp.OneMatrix(1, like[1]))
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
    builder = _ToSympy(functions, symbol, steps, step_sum)
    try:
        lhs_node, rhs_node = read_equation(source, functions)
        lhs_symbol = builder.ref(model_ref(lhs_node))
        rhs = fold(rhs_node, builder)
    except ParseError as exc:
        raise BpttError(f"cannot parse model equation {source!r}: column {exc.column}: "
                        f"{exc.reason}") from None
    except BpttError as exc:
        why = re.sub(r"\b([A-Za-z][A-Za-z0-9_]*)\[([^\]]*)\]", _written, str(exc))
        raise BpttError(f"in model equation {source!r}: {why}") from None
    if lhs_symbol not in builder.refs:  # T = q: the step count is no name to define
        raise BpttError(f"in model equation {source!r}: the left side must be a name such as "
                        "z_t or q (t and T are step indices)")
    lhs = builder.refs.pop(lhs_symbol)
    if lhs_symbol in rhs.free_symbols or rhs.has(lhs_symbol):
        builder.refs[lhs_symbol] = lhs
    return Template(source, lhs, rhs, dict(builder.refs))
