"""The tree a hand formula parses into (:mod:`bptt_sym.syntax.formula`): small frozen dataclasses
that the checkers resolve against a graph, and the error of a formula that does not parse.

    >>> Op("+", (Num("1"), Ref("x", ("var", "t", 0), 5)))
    Op(op='+', args=(Num(value='1'), Ref(base='x', index=('var', 't', 0), column=5)))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from bptt_sym.errors import BpttError

__all__ = ["ParseError", "Num", "Ref", "Deriv", "Call", "DerivCall", "Op", "Sum", "Prod",
           "Condition", "Chain", "Span", "named", "deriv_call", "depth_check", "expected_text",
           "PRODUCTS"]


# The products an Op can name: ``*`` as typed, ``⊙`` (\odot, ∘), ``@``, ``·`` (\cdot, ×) and
# ``juxt`` (two factors side by side).  For scalars all multiply; for matrices ``*`` and ``⊙``
# are elementwise, the others the matrix product.
PRODUCTS = frozenset({"*", "⊙", "@", "·", "juxt"})


class ParseError(BpttError):
    """A formula that is not in our grammar: the message names the column, with a caret."""

    def __init__(self, message: str, *, column: int, source: str, found: str | None = None,
                 expected: frozenset[str] = frozenset()) -> None:
        start = max(column - 41, 0)  # a window of the line around the column, for long lines
        excerpt = source[start:column + 40]
        lead = "…" if start else ""
        tail = "…" if column + 40 < len(source) else ""
        caret = " " * (len(lead) + column - 1 - start) + "^"
        super().__init__(f"column {column}: {message}\n  {lead}{excerpt}{tail}\n  {caret}")
        self.column = column
        self.reason = message
        # what the parser met ("" at the end of the text; None: no token) and the kinds of
        # token it would have taken there (the grammar's terminal names)
        self.found, self.expected = found, expected


@dataclass(frozen=True)
class Num:
    """A number as a plain decimal (``1e-3`` and ``.5`` are read as ``0.001`` and ``0.5``),
    so that ``sympy.Rational(value)`` is its exact value."""

    value: str


@dataclass(frozen=True)
class Ref:
    """A name as written: ``base`` and an index ``("abs", n)``, ``("var", "t", offset)`` or
    ``("lin", ((var, coefficient), …), offset)`` (``o_{T+t-i}``: step variables and T added
    and subtracted); ``written`` is the token as typed (``s1``, ``s_1``), which the
    comparisons ignore."""

    base: str
    index: tuple | None
    column: int
    written: str = field(default="", compare=False, repr=False)
    entry: tuple = field(default=(), repr=False)  # h_{t,i}: entry indices, from 1
    loss: tuple | None = field(default=None, repr=False)  # δ_2^{(3)}: the loss's step


@dataclass(frozen=True)
class Deriv:
    num: Ref
    den: Ref


@dataclass(frozen=True)
class Call:
    """``f(a, b)``; ``slot`` i > 0: the partial by the i-th argument, ``∂ᵢf(a, b)``."""

    name: str
    prime: bool
    args: tuple
    column: int
    slot: int = 0


@dataclass(frozen=True)
class DerivCall:
    """``∂f(a1, …, an)/∂x``: the partial of ``call`` by the argument that ``den`` names."""

    call: Call
    den: Ref


@dataclass(frozen=True)
class Op:
    """An operator: ``+ - * / ^`` with two operands, ``neg`` with one."""

    op: str
    args: tuple


@dataclass(frozen=True)
class Span:
    """The rows ``start`` … ``stop`` (counted from 1, both in) of ``(g)[1:H]``: each a size
    letter, a number, or a sum of them (``H+1``, ``H+D``); the second operand of ``rows``."""

    start: str
    stop: str

    def __str__(self) -> str:
        return f"[{self.start}:{self.stop}]"


@dataclass(frozen=True)
class Sum:
    """Σ over ``var`` from ``lo`` to ``hi`` (``None``: every step) of ``body``."""

    var: str
    lo: object
    hi: object
    body: object


@dataclass(frozen=True)
class Prod:
    """Π over ``var`` from ``lo`` to ``hi`` of ``body``; for matrices the factor of the
    highest step stands on the left (the chain rule's order)."""

    var: str
    lo: object
    hi: object
    body: object


@dataclass(frozen=True)
class Condition:
    """``k ≤ t`` after an equation: the steps where it is claimed (``op`` is <=, <, >=, >)."""

    left: object
    op: str
    right: object


@dataclass(frozen=True)
class Chain:
    """``A = B = C``: the sides, in order, and an optional condition (``…, k ≤ t``)."""

    sides: tuple
    condition: Condition | None = None
    defines: tuple | None = None  # (name, i): "… =: J_t" or "J_t := …" names side i


def rebuild(tree: object, visit: Callable[[object], object | None]) -> object:
    """``tree`` rebuilt bottom up where ``visit`` gives a node its replacement (None: keep
    the node and look inside it); positions (``column``, ``written``) are kept."""
    new = visit(tree)
    if new is not None:
        return new
    if isinstance(tree, tuple):
        return tuple(rebuild(t, visit) for t in tree)
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        changes = {f.name: rebuild(getattr(tree, f.name), visit)
                   for f in dataclasses.fields(tree) if f.name not in ("column", "written")}
        return dataclasses.replace(tree, **changes)
    return tree


def named(tree: object, names: Collection[str]) -> object:
    """``tree`` with ``W_x`` read as the model's name W_x wherever ``names`` has it: the
    grammar reads a one-letter subscript as a step index (``x_k``), and only the model knows
    that its W_x is a name.

        >>> from bptt_sym.syntax.formula import parse
        >>> named(parse("dE/dW_x = 0"), {"W_x"}).sides[0].den
        Ref(base='W_x', index=None, column=5)
    """
    def name(node: Ref) -> Ref:
        if node.index is not None and node.index[0] == "var" and node.index[2] == 0 and \
                f"{node.base}_{node.index[1]}" in names:
            return Ref(f"{node.base}_{node.index[1]}", None, node.column, node.written)
        return node

    def visit(node: object) -> object | None:
        if isinstance(node, Ref):
            return _letters(name(node), names)
        if isinstance(node, Deriv):  # ∂X/∂Y names one node by one: no product to split
            return dataclasses.replace(node, num=name(node.num), den=name(node.den))
        if isinstance(node, Op) and node.op == "juxt" and (call := _glued(node, names)):
            return rebuild(call, visit)  # Wdiag[f'(net)]: W diag(f'(net)), as printed
        if isinstance(node, DerivCall) and (ref := node_of(node.call)) is not None:
            return Deriv(ref, name(node.den))  # ∂l(o_t, y_t)/∂o_t: the node l_t by o_t
        return node_of(node) if isinstance(node, Call) else None

    def node_of(call: Call) -> Ref | None:
        """E(y, ŷ): the model's E, its arguments named; l(o_t, y_t): the node l_t."""
        if call.name not in names or call.prime or call.slot or len(call.args) < 2 or \
                not all(isinstance(a, Ref) for a in call.args):
            return None
        steps = {a.index for a in call.args if a.index is not None}
        # one step in every argument: that step's node; several (L(x_1, …, x_T)): the whole
        return Ref(call.name, steps.pop() if len(steps) == 1 else None, call.column)

    return rebuild(tree, visit) if names else tree


_WORDS = frozenset({"delta", "yhat", "sum", "prod", "diag", "outer", "softmax", "tanh", "sigmoid",
                    "sigma", "relu", "step", "exp", "log", "cosh", "sech", "T", "I"})


_GLUED = ("diag", "tanh", "sigmoid", "softmax", "exp", "log")


def _glued(node: Op, names: Collection[str]) -> object | None:
    """``Wdiag[x]``, a model's name and a function's run together before its bracket (as
    hanbingtao prints it): W diag(x), when W is the model's and Wdiag is not."""
    ref, arg = node.args
    if not isinstance(ref, Ref) or ref.index is not None or ref.base in names:
        return None
    for fn in _GLUED:
        head = ref.base[:-len(fn)]
        if ref.base.endswith(fn) and head in names:
            left = Ref(head, None, ref.column, head)
            return Op("juxt", (left, Call(fn, False, (arg,), ref.column + len(head))))
    return None


def _letters(ref: Ref, names: Collection[str]) -> object:
    """``Ux_t`` read as U x_t when the model has U and x and no name Ux: in print (and in
    LaTeX) letters side by side are a product.  Only a split into the model's names that is
    the one possible split; the step index stays on the last name."""
    base = ref.base
    if base in names or base in _WORDS or len(base) < 2 or not base.isalpha():
        return ref
    splits: list[list[str]] = []
    stack: list[tuple[int, list[str]]] = [(0, [])]
    while stack and len(splits) < 2:
        at, parts = stack.pop()
        if at == len(base):
            splits.append(parts)
            continue
        stack += [(at + n, [*parts, base[at:at + n]]) for n in range(1, len(base) - at + 1)
                  if base[at:at + n] in names]
    if len(splits) != 1 or len(splits[0]) < 2:
        return ref
    out: object = None
    at = ref.column
    for i, part in enumerate(splits[0]):
        last = i == len(splits[0]) - 1
        piece = Ref(part, ref.index if last else None, at, part)
        out = piece if out is None else Op("juxt", (out, piece))
        at += len(part)
    return out


MAX_HADAMARD = 8  # s^{⊙n}: written out as s ⊙ … ⊙ s


def hadamard_power(x: object, n: int, column: int) -> object:
    """``x^{⊙n}``, the elementwise power, as x ⊙ … ⊙ x."""
    if not 1 <= n <= MAX_HADAMARD:
        error = BpttError(f"the elementwise power ^{{⊙{n}}} must be from 1 to {MAX_HADAMARD}")
        error.column = column
        raise error
    out = x
    for _ in range(n - 1):
        out = Op("⊙", (out, x))
    return out


def deriv_call(a: object, b: object) -> object | None:
    """ASCII ``df(a1, …, an)/dx`` (in a product, the last factor before the /): the partial
    of f by the argument that x names, or None."""
    if not (isinstance(b, Ref) and b.base.startswith("d") and len(b.base) > 1):
        return None
    den = Ref(b.base[1:], b.index, b.column + 1)
    if isinstance(a, Call) and not a.prime and not a.slot and len(a.name) > 1 \
            and a.name.startswith("d"):
        return DerivCall(Call(a.name[1:], False, a.args, a.column + 1), den)
    if isinstance(a, Op) and a.op == "juxt" and isinstance(a.args[0], Ref) and \
            a.args[0].index is None and a.args[0].base.startswith("d") and \
            len(a.args[0].base) > 1 and not isinstance(a.args[1], Op):
        return DerivCall(Call(a.args[0].base[1:], False, (a.args[1],), a.args[0].column + 1),
                         den)
    if isinstance(a, Op) and a.op in PRODUCTS and len(a.args) == 2:
        inner = deriv_call(a.args[1], b)
        return None if inner is None else Op(a.op, (a.args[0], inner))
    return None


def factors(node: object, op: str = "juxt") -> list:
    """The operands of a chain of one binary ``op`` (``a b c``, ``a ⊙ b ⊙ c``), left to
    right, at any grouping."""
    if isinstance(node, Op) and node.op == op:
        return factors(node.args[0], op) + factors(node.args[1], op)
    return [node]


def chain(items: list, op: str = "juxt") -> object:
    """``items`` joined by ``op`` from the left: the inverse of :func:`factors`."""
    out = items[0]
    for item in items[1:]:
        out = Op(op, (out, item))
    return out


def depth_check(text: str, limit: int) -> None:
    """Brackets nested deeper than ``limit`` are a ParseError at the bracket."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "({[":
            depth += 1
            if depth > limit:
                raise ParseError(f"brackets nested deeper than {limit}", column=i + 1,
                                 source=text)
        elif ch in ")}]":
            depth -= 1


def expected_text(exc: object) -> str:
    """'; expected ')' or a name': what the parser wanted, in words."""
    names = sorted(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or [])
    shown = {"_EQ": "'='", "_RP": "')'", "_RB": "'}'", "_LP": "'('", "_LB": "'{'", "_SEMI": "';'",
             "NAME": "a name", "NUMBER": "a number", "DERIV": "a derivative"}
    words = sorted({shown.get(n, "") for n in names} - {""})
    return f"; expected {' or '.join(words)}" if words else ""
