"""Our grammar for hand-written formulas: ASCII, Unicode and LaTeX, parsed with Lark.

Text is only ever *parsed*: the result is a small tree of dataclasses (``Num``, ``Ref``,
``Deriv``, ``Call``, ``Op``, ``Sum``) that the checker resolves against the graph.  Nothing
is evaluated, and a Python expression is just a syntax error or an unknown name.

    >>> chain = parse("dE/du = dE/du_1 + dE/du_0")
    >>> len(chain.sides), chain.sides[0]
    (2, Deriv(num=Ref(base='E', index=None, column=2), den=Ref(base='u', index=None, column=5)))
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, VisitError

from bptt_sym.errors import BpttError
from bptt_sym.syntax.latex import rewrite
from bptt_sym.syntax.literals import MAX_NUMBER_EXPONENT, decimal
from bptt_sym.syntax.nodes import (
    PRODUCTS,
    Call,
    Chain,
    Condition,
    Deriv,
    DerivCall,
    Num,
    Op,
    ParseError,
    Prod,
    Ref,
    Span,
    Sum,
    depth_check,
    deriv_call,
    expected_text,
    hadamard_power,
    named,
)
from bptt_sym.syntax.steps import dots, immediate
from bptt_sym.syntax.written import IDX as _IDX
from bptt_sym.syntax.written import SPECIAL as _SPECIAL
from bptt_sym.syntax.written import SUBSCRIPT as _SUBSCRIPT
from bptt_sym.syntax.written import SUPERSCRIPT as _SUPERSCRIPT
from bptt_sym.syntax.written import read_ref as _ref
from bptt_sym.syntax.written import unread

__all__ = ["ParseError", "Num", "Ref", "Deriv", "DerivCall", "Call", "Op", "Sum", "Prod",
           "Chain", "Condition", "parse", "named",
           "MAX_DEPTH", "MAX_LENGTH", "MAX_NUMBER_EXPONENT", "FUNCTIONS", "PRODUCTS"]

MAX_DEPTH = 100
MAX_LENGTH = 20_000
# Names read as functions before a bracket; any other name times a bracket is a product.
FUNCTIONS = frozenset({"f", "g", "L", "tanh", "sigmoid", "σ", "sigma", "relu", "step", "exp",
                       "log", "softmax", "diag", "outer", "sum", "φ"})
_PRODUCT_OF = {"*": "*", "⊙": "⊙", "\\odot": "⊙", "∘": "⊙", "\\circ": "⊙", "@": "@"}

_GRAMMAR = r"""
start: expr (_EQ expr)+ condition?
     | expr (_EQ expr)* defined condition?
     | defining (_EQ expr)* condition?
defined: NAMED NAME
defining: NAME DEFINE expr
condition: _COMMA? FOR? sum REL sum
?expr: sum
?sum: product | sum ADD product -> add | sum SUB product -> sub
?product: signed | product MUL signed -> mul | product DIV signed -> div | sumop | prodop
        | product MUL sumop -> mul | product MUL prodop -> mul
        | product sumop -> juxt | product prodop -> juxt
?signed: juxt | SUB signed -> neg | ADD signed -> pos | SUB sumop -> neg | SUB prodop -> neg
?juxt: power | juxt power -> juxt | juxt ELLIPSIS after_dots -> dots
after_dots: power+
?power: atom | atom POW exponent -> pow | atom SUP -> sup | atom TRANSPOSE -> transpose
       | atom HPOW -> hpow | atom ROWS -> rows
?exponent: atom | SUB exponent -> neg | ADD exponent -> pos | atom POW exponent -> pow
?atom: NUMBER -> number
     | NAME -> ref
     | NAME PRIME? _LP args _RP -> call
     | FUNC PRIME? _LP args _RP -> call
     | FUNC PRIME? _LB args _RB -> call
     | FUNC PRIME? NAME -> call_name
     | DERIV -> deriv_ascii
     | (PARTIAL | PARTIALPLUS) NAME DIV PARTIAL NAME -> deriv
     | PARTIAL NAME _LP args _RP DIV PARTIAL NAME -> deriv_call
     | FRAC _LB PARTIAL NAME _LP args _RP _RB _LB PARTIAL NAME _RB -> deriv_call_frac
     | SLOT NAME _LP args _RP -> slot_call
     | FRAC _LB (PARTIAL | PARTIALPLUS) NAME _RB _LB PARTIAL NAME _RB -> deriv_frac
     | FRAC _LB sum _RB _LB sum _RB -> frac
     | _LP sum _RP
     | _LP sum (_SEMI sum)+ _RP -> stack
     | _LB sum _RB
args: arg ("," arg)* | sum (_SEMI sum)+ -> stacked
?arg: sum | ELLIPSIS -> ellipsis | LBRACESET args RBRACESET -> set_arg
sumop: SUMSYM bounds product
prodop: PRODSYM bounds product
bounds: "_" _LB NAME _EQ sum _RB "^" atom -> range
      | "_" _LB NAME _EQ sum _RB TRANSPOSE -> range_t
      | "_" NAME -> all_steps
      | "_" _LB NAME _RB -> all_steps
      | SUBVAR -> all_steps

SUMSYM.3: "\\sum" | "Σ" | "∑" | /sum(?=_)/ | /sum(?=[ₜₖⱼᵢ])/
PRODSYM.3: "\\prod" | "Π" | "∏" | /prod(?=_)/
SUBVAR: /[ₜₖⱼᵢ]/
TRANSPOSE.3: /\^\s*(\{\s*TOP\s*\}|T(?![A-Za-z0-9_])|\\top|\\intercal|⊤)/ | "ᵀ"
DERIV.3: /d[A-Za-z]+IDX? ?\/ ?d[A-Za-z]+IDX?(?![A-Za-z0-9_])/
FRAC.2: "\\frac" | "\\dfrac" | "\\tfrac"
FUNC.2: "\\tanh" | "\\sigma" | "\\exp" | "\\log" | /\\operatorname\{[A-Za-z]+\}/
PARTIAL: "∂" | "\\partial"
PARTIALPLUS.3: /(∂|\\partial)\s*\^\s*(\{\s*\+\s*\}|\+)/ | "∂⁺"
SLOT.3: /∂[₀-₉]+/ | /\\partial_\{\s*\d+\s*\}/
NAME: /(?:[A-Za-zσθφ]+|SPECIAL)IDX?/
NUMBER: /(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?/
PRIME: "'" | "′" | "’"
LBRACESET.3: "\\{" | "\\left\\{" | "\\big\\{" | "\\Big\\{"
RBRACESET.3: "\\}" | "\\right\\}" | "\\big\\}" | "\\Big\\}"
ELLIPSIS.3: "\\ldots" | "\\dots" | "\\cdots" | "…" | "⋯" | "..."
ADD: "+"
SUB: "-" | "−" | "–"
MUL: "*" | "·" | "⋅" | "×" | "∙" | /\\cdot(?![A-Za-z])/ | /\\times(?![A-Za-z])/ | "⊙"
    | /\\odot(?![A-Za-z])/ | "∘" | /\\circ(?![A-Za-z])/ | "@" | "⊗" | /\\otimes(?![A-Za-z])/
DIV: "/"
POW.2: "^" | "**"
HPOW.3: /\^\s*\{\s*(⊙|∘|\\odot|\\circ)\s*\d+\s*\}/ | /\^\s*(⊙|∘)\s*\d+/
SUP: /[⁰¹²³⁴⁵⁶⁷⁸⁹]+/
ROWS.3: /\[\s*[A-Za-z0-9+\- ]+:[A-Za-z0-9+\- ]+\]/ | /_\{\s*[A-Za-z0-9+\- ]+:[A-Za-z0-9+\- ]+\}/
_EQ: "="
DEFINE.3: ":=" | "≔" | "\\coloneqq" | "\\triangleq" | "≜"
NAMED.3: "=:" | "≕" | "\\eqqcolon"
_COMMA: ","
_SEMI: ";"
FOR.4: /for(?![A-Za-z])/ | /\\(text|mbox|mathrm)\{\s*for\s*\}/
REL: "<=" | "≤" | "\\le" | "\\leq" | "<" | ">=" | "≥" | "\\ge" | "\\geq" | ">"
_LP: "(" | "\\left(" | "\\bigl(" | "\\Bigl(" | "[" | "\\left["
_RP: ")" | "\\right)" | "\\bigr)" | "\\Bigr)" | "]" | "\\right]"
_LB: "{"
_RB: "}"
SPACE: /\s+/ | /\\[,;:! ]/ | "\\quad" | "\\qquad"
%ignore SPACE
""".replace("IDX", _IDX).replace("SPECIAL", _SPECIAL).replace(
    "TOP", r"(T|\\top|\\intercal|⊤|\\mathsf\{T\}|\\mathrm\{T\})")

_PARSER = Lark(_GRAMMAR, parser="lalr", propagate_positions=False, maybe_placeholders=False)


@v_args(inline=True)
class _Build(Transformer):
    def __init__(self, functions: frozenset[str] = FUNCTIONS,
                 columns: list[int] | None = None) -> None:
        super().__init__()
        self.functions = functions
        self.columns = columns  # the typed column of each character of the rewritten text
        self.split: set[int] = set()  # ids of the products written name(…): s1 (1 - s1)

    def __default_token__(self, token: Token) -> Token:
        if self.columns and token.column is not None and 0 < token.column <= len(self.columns):
            token.column = self.columns[token.column - 1]
        return token

    def _bracket(self, a: object, make: Callable[[object], object]) -> object:
        """An exponent or ᵀ after ``name(…)`` binds to the bracket, as in print:
        ``s1 (1 - s1)^2`` is s1 · (1 - s1)², not (s1 (1 - s1))²."""
        if id(a) in self.split:
            return Op("juxt", (a.args[0], make(a.args[1])))
        return make(a)

    def number(self, tok):  # noqa: ANN001, ANN201 - lark callbacks
        return Num(decimal(str(tok), tok.column))

    def ref(self, tok):  # noqa: ANN001, ANN201
        return _ref(tok)

    def call(self, name, *rest):  # noqa: ANN001, ANN201
        prime = bool(rest) and isinstance(rest[0], Token) and rest[0].type == "PRIME"
        args = rest[-1]
        text = str(name).lstrip("\\")
        if text.startswith("operatorname{"):
            text = text[len("operatorname{"):-1]
        ref = _ref(name) if not str(name).startswith("\\") else Ref(text, None, name.column)
        product = ref.index is not None or ref.base not in self.functions
        if product and not prime and len(args) > 1 and ref.index is None:
            return Call(ref.base, False, tuple(args), name.column)  # l(o, y): no product
        if product and not prime and ref.index is not None and len(args) > 1 and \
                all(isinstance(a, Ref) for a in args):
            return ref  # E_t(y_t, ŷ_t): the node E_t, its arguments named as books do
        if product and not prime:  # v1 (x1 + ...) and o(1 - o) are products, not calls
            if len(args) != 1:
                raise BpttError(f"{name} is not a function")
            node = Op("juxt", (ref, args[0]))
            self.split.add(id(node))
            return node
        return Call(ref.base, prime, tuple(args), name.column)

    def call_name(self, name, *rest):  # noqa: ANN001, ANN201
        """``\\log \\hat y_t``: a function of a name, without brackets, as books print it."""
        return self.call(name, *rest[:-1], [_ref(rest[-1])])

    def ellipsis(self, tok):  # noqa: ANN001, ANN201
        """L(x_1, …, x_T): the arguments a book leaves out, in a function's argument list."""
        return Ref("…", None, tok.column)

    def set_arg(self, tok, _args, _close):  # noqa: ANN001, ANN201
        """L({x^{(1)}, …, x^{(τ)}}, …): a set of arguments (Goodfellow), named, not used."""
        return Ref("{…}", None, tok.column)

    def args(self, *items):  # noqa: ANN001, ANN201
        return list(items)

    def stacked(self, *parts):  # noqa: ANN001, ANN201 - W_f [h; x]: a name times a stack
        return [self.stack(*parts)]

    def deriv_ascii(self, tok):  # noqa: ANN001, ANN201
        num, den = (part.strip() for part in str(tok).split("/"))
        col = tok.column
        return Deriv(_ref(Token("NAME", num[1:], column=col + 1)),
                     _ref(Token("NAME", den[1:], column=col + len(num) + 2)))

    def deriv(self, p1, num, _div, _p2, den):  # noqa: ANN001, ANN201
        return immediate(Deriv(_ref(num), _ref(den)), p1.type == "PARTIALPLUS")

    def deriv_frac(self, _frac, p1, num, _p2, den):  # noqa: ANN001, ANN201
        return immediate(Deriv(_ref(num), _ref(den)), p1.type == "PARTIALPLUS")

    def deriv_call(self, _p1, name, args, _div, _p2, den):  # noqa: ANN001, ANN201
        return DerivCall(Call(str(name), False, tuple(args), name.column), _ref(den))

    def deriv_call_frac(self, _frac, _p1, name, args, _p2, den):  # noqa: ANN001, ANN201
        return DerivCall(Call(str(name), False, tuple(args), name.column), _ref(den))

    def slot_call(self, slot, name, args):  # noqa: ANN001, ANN201
        number = int(re.sub(r"\D", "", str(slot).translate(_SUBSCRIPT)))
        return Call(str(name), False, tuple(args), name.column, number)

    def frac(self, _frac, top, bottom):  # noqa: ANN001, ANN201
        if isinstance(top, Ref) and isinstance(bottom, Ref) and top.base.startswith("d") \
                and bottom.base.startswith("d") and len(top.base) > 1 and len(bottom.base) > 1:
            return Deriv(Ref(top.base[1:], top.index, top.column + 1),
                         Ref(bottom.base[1:], bottom.index, bottom.column + 1))
        return Op("/", (top, bottom))

    def add(self, a, _op, b):  # noqa: ANN001, ANN201
        return Op("+", (a, b))

    def sub(self, a, _op, b):  # noqa: ANN001, ANN201
        return Op("-", (a, b))

    def mul(self, a, tok, b):  # noqa: ANN001, ANN201
        if str(tok) in ("⊗", "\\otimes"):  # the outer product a ⊗ b = a bᵀ
            return Op("juxt", (a, Op("T", (b,))))
        return Op(_PRODUCT_OF.get(str(tok), "·"), (a, b))

    def juxt(self, a, b):  # noqa: ANN001, ANN201
        return Op("juxt", (a, b))

    def rows(self, a, tok):  # noqa: ANN001, ANN201 - (g)[1:H], (g)_{H+1:M}: rows of g
        start, stop = (p.replace(" ", "") for p in str(tok).strip("_{}[]").split(":"))
        return self._bracket(a, lambda x: Op("rows", (x, Span(start, stop))))

    def stack(self, *parts):  # noqa: ANN001, ANN201 - [h_{t-1}; x_t]: one above the other
        return Op("stack", tuple(parts))

    def dots(self, a, tok, b):  # noqa: ANN001, ANN201
        """``J_T J_{T-1} ⋯ J_{k+1}``: the product of the factors the ellipsis leaves out."""
        return dots(a, list(b), tok.column)

    def after_dots(self, *factors):  # noqa: ANN001, ANN201 - the factors after an ellipsis
        return tuple(factors)

    def transpose(self, a, _tok):  # noqa: ANN001, ANN201
        return self._bracket(a, lambda x: Op("T", (x,)))

    def div(self, a, _op, b):  # noqa: ANN001, ANN201
        return deriv_call(a, b) or Op("/", (a, b))

    def neg(self, _op, a):  # noqa: ANN001, ANN201
        return Op("neg", (a,))

    def pos(self, _op, a):  # noqa: ANN001, ANN201
        return a

    def pow(self, a, _op, b):  # noqa: ANN001, ANN201
        return self._bracket(a, lambda x: Op("^", (x, b)))

    def hpow(self, a, tok):  # noqa: ANN001, ANN201
        """s^{⊙2}, the Hadamard power: s ⊙ s."""
        n = int(re.search(r"\d+", str(tok)).group())
        return self._bracket(a, lambda x: hadamard_power(x, n, tok.column))

    def sup(self, a, tok):  # noqa: ANN001, ANN201
        return self._bracket(a, lambda x: Op("^", (x, Num(str(tok).translate(_SUPERSCRIPT)))))

    def sumop(self, _sym, bounds, body):  # noqa: ANN001, ANN201
        var, lo, hi = bounds
        return Sum(var, lo, hi, body)

    def prodop(self, _sym, bounds, body):  # noqa: ANN001, ANN201
        var, lo, hi = bounds
        return Prod(var, lo, hi, body)

    def range(self, var, lo, hi):  # noqa: ANN001, ANN201
        return (str(var), lo, hi)

    def range_t(self, var, lo, tok):  # noqa: ANN001, ANN201
        if str(tok).replace(" ", "") not in ("^T", "^{T}"):
            raise BpttError(f"a sum's upper bound cannot be {tok}")
        return (str(var), lo, Ref("T", None, tok.column + 1))

    def all_steps(self, var):  # noqa: ANN001, ANN201
        return (str(var).translate(_SUBSCRIPT), None, None)

    def start(self, *sides):  # noqa: ANN001, ANN201
        condition = sides[-1] if sides and isinstance(sides[-1], Condition) else None
        sides = [s for s in sides if not isinstance(s, Condition)]
        defines = None
        if sides and isinstance(sides[0], tuple):  # J_t := B = C
            defines, sides[0] = (sides[0][0], 0), sides[0][1]
        if sides and isinstance(sides[-1], tuple):  # A = B =: J_t
            defines = (sides.pop()[0], len(sides) - 1)
        return Chain(tuple(sides), condition, defines)

    def defined(self, _tok, name):  # noqa: ANN001, ANN201
        return (_ref(name),)

    def defining(self, name, _tok, expr):  # noqa: ANN001, ANN201
        return (_ref(name), expr)

    def condition(self, *parts):  # noqa: ANN001, ANN201
        left, rel, right = [p for p in parts if not (isinstance(p, Token) and p.type == "FOR")]
        op = {"≤": "<=", "\\le": "<=", "\\leq": "<=", "≥": ">=", "\\ge": ">=",
              "\\geq": ">="}.get(str(rel), str(rel))
        return Condition(left, op, right)


def parse(text: str, *, functions: frozenset[str] | None = None) -> Chain:
    """Parse one equation (or chain ``A = B = C``); raises :class:`ParseError` with a column.

    ``functions``: the names that are functions before a bracket (default
    :data:`FUNCTIONS`); any other name before a bracket multiplies it, ``v (x + 1)``."""
    source = text.strip()
    if not source:
        raise ParseError("empty formula", column=1, source=source)
    depth_check(source, MAX_DEPTH)
    if len(source) > MAX_LENGTH:
        raise ParseError(f"formula longer than {MAX_LENGTH} characters", column=MAX_LENGTH + 1,
                         source=source)
    text, columns = rewrite(source)  # book LaTeX in our spellings, each column kept

    def typed(column: int) -> int:  # a column of ``text`` in the formula as typed
        return columns[column - 1] if 0 < column <= len(columns) else len(source) + 1

    try:
        return _Build(FUNCTIONS if functions is None else functions, columns).transform(
            _PARSER.parse(text))
    except UnexpectedCharacters as exc:
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else "end"
        if (why := unread(char, "", text[:exc.pos_in_stream])):
            raise ParseError(why, column=typed(exc.column), source=source, found=char) from None
        raise ParseError(f"unexpected {char!r}", column=typed(exc.column), source=source,
                         found=char, expected=frozenset(exc.allowed or ())) from None
    except UnexpectedInput as exc:
        col = getattr(exc, "column", -1)
        tok = getattr(exc, "token", None)
        what = "end of formula" if tok is None or tok.type == "$END" else repr(str(tok))
        found = "" if what == "end of formula" else str(tok)
        expected = frozenset(getattr(exc, "expected", None) or ())
        col = len(source) + 1 if col in (-1, None) or what == "end of formula" else typed(col)
        why = unread(found, "" if tok is None else tok.type,
                     text[:getattr(exc, "pos_in_stream", 0) or 0])
        if why:
            raise ParseError(why, column=col, source=source, found=found,
                             expected=expected) from None
        if what == "end of formula" and "=" not in source:
            raise ParseError("no '=' in this formula: write an equation such as dE/du = …",
                             column=len(source) + 1, source=source, found=found,
                             expected=expected) from None
        raise ParseError(f"unexpected {what}{expected_text(exc)}", column=col, source=source,
                         found=found, expected=expected) from None
    except VisitError as exc:
        reason = str(exc.orig_exc) if isinstance(exc.orig_exc, BpttError) else "cannot read"
        raise ParseError(reason, column=getattr(exc.orig_exc, "column", None) or 1,
                         source=source) from None
    except LarkError as exc:  # any other parser failure is still a parse error, never a crash
        raise ParseError(str(exc).splitlines()[0], column=1, source=source) from None
