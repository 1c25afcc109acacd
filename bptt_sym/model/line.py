"""One equation of a model file, read with the project's grammar (never ``sympify``):
its syntax, names and calls checked, each problem one ``FILE:LINE:COL`` line.

    >>> from bptt_sym.model.places import ModelFileError, Places
    >>> p = Places('cell = ["a_t = x_t*u +"]', "m.toml")
    >>> try:
    ...     parse_line(p, ("cell", 0), "cell", "a_t = x_t*u +", {})
    ... except ModelFileError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    m.toml:1:23: cannot parse the equation 'a_t = x_t*u +': found the end of the equation ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, MutableMapping
from dataclasses import dataclass

import sympy as sp

from bptt_sym.errors import BpttError
from bptt_sym.model.places import Path, Places
from bptt_sym.rules.functions import ABSTRACT, ROLES, RULES
from bptt_sym.syntax.equations import ALIASES, Ref, Template, parse_equation, read_equation
from bptt_sym.syntax.nodes import ParseError

__all__ = ["Line", "function_arities", "parse_line", "spot", "index_text", "written",
           "digit_ending"]


# ---- one equation -------------------------------------------------------------------------

MAX_EQUATION = 2000  # characters
_ROLE_ARITY = {"activation": 1, "output": 1, "loss": 2}
_CALL = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z][A-Za-z0-9]*)(?=\()")
_DIGIT_INDEXED = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z][A-Za-z0-9]*[0-9])(?=\s*_)")  # a2_t
_INDEX = re.compile(r"\s*_\s*(\{[^}]*\}|[A-Za-z0-9]+)")
# The grammar's tokens (:mod:`bptt_sym.syntax.formula`) that a model line uses, as a message
# names them, in this order; the others (∂, \frac, …) belong to hand formulas.
_WORDS = (("NAME", "a name"), ("FUNC", "a name"), ("NUMBER", "a number"), ("_LP", '"("'),
          ("SUB", '"-"'), ("SUMSYM", "sum_t"), ("ADD", '"+"'), ("MUL", '"*"'), ("DIV", '"/"'),
          ("POW", '"^"'), ("_RP", '")"'), ("_COMMA", '","'), ("_EQ", '"="'))
_OPERAND = {"NAME", "NUMBER", "_LP", "SUB", "SUMSYM"}  # what may start an operand


@dataclass(frozen=True)
class Line:
    """One equation of the file: its place (``("cell", 2)``), part and parsed template.

    ``outside`` holds the ``_t`` references of a head or loss line that no ``sum_t`` covers.
    """

    path: Path
    part: str  # "cell", "head" or "loss"
    source: str
    template: Template
    outside: frozenset[Ref] = frozenset()

    @property
    def name(self) -> str:
        return self.template.lhs.base


def function_arities(functions: Mapping[str, str]) -> dict[str, int]:
    """The functions an equation may call and their numbers of arguments: the concrete rules
    (as ``graph`` offers them: not softmax), exp, log and the model's role letters.  An
    abstract function's count is 0 until :func:`parse_line` fixes it at its first use."""
    arities = {"exp": 1, "log": 1}
    for (_, name), r in RULES.items():
        if r.explicit is not None and name != "softmax":
            arities.setdefault(name, r.arity)
    arities.update({k: _ROLE_ARITY[v] for k, v in functions.items() if v in ROLES})
    arities.update({k: 0 for k, v in functions.items() if v == ABSTRACT})
    return arities


def parse_line(places: Places, path: Path, part: str, source: str,
               arities: Mapping[str, int]) -> Line:
    """Parse the equation at ``path``: a name with ``_``, an unknown function, a syntax error
    or a wrong number of arguments is a :class:`ModelFileError` at its column.  The first
    call of an abstract function (count 0 in ``arities``) fixes its count there."""
    if len(source) > MAX_EQUATION:
        raise places.error(path, f"the equation is longer than {MAX_EQUATION} characters; "
                                 "split it into several")
    _names_and_calls(places, path, part, source, arities)
    _syntax(places, path, source, arities)
    calls: list[tuple[str, int]] = []
    template = _parsed(places, path, source, {n: _dummy(n, calls) for n in arities}, None)
    for name, n in calls:
        if arities[name] == 0 and isinstance(arities, MutableMapping):
            arities[name] = n  # an abstract function: its first use fixes its count
        if n != arities[name]:
            raise places.error(path, f"{name} takes {arities[name]} argument"
                               f"{'s' * (arities[name] > 1)}, not {n}",
                               _call_at(source, name, arities[name]))
    if template.lhs.base in ("t", "T"):
        raise places.error(path, "t and T are the step and the number of steps; define a name "
                                 "such as E = … instead", spot(source, template.lhs, True))
    if part == "cell":
        return Line(path, part, source, template)
    summed = _parsed(places, path, source, {n: _dummy(n, []) for n in arities}, 3)
    free = summed.rhs.free_symbols
    outside = frozenset(r for p, r in template.refs.items() if r.var == "t" and p in free)
    return Line(path, part, source, template, outside)


def _dummy(name: str, calls: list[tuple[str, int]]) -> Callable[..., sp.Expr]:
    def call(*args: sp.Expr) -> sp.Expr:
        calls.append((name, len(args)))
        return sp.Function(name)(*args)
    return call


def _call_at(source: str, name: str, count: int = 0) -> int:
    """Where ``name`` is called in ``source``: at the first call that has not ``count``
    arguments, else the first call."""
    first = None
    for m in _CALL.finditer(source):
        if m.group(1) == name:
            first = m.start() if first is None else first
            if count and _arguments(source, m.end()) != count:
                return m.start()
    return first or 0


def _arguments(source: str, at: int) -> int:
    """The number of arguments of the call whose "(" is at ``at``."""
    depth, n = 0, 1
    for ch in source[at:]:
        depth += (ch == "(") - (ch == ")")
        if depth == 0:
            break
        n += ch == "," and depth == 1
    return n


def _names_and_calls(places: Places, path: Path, part: str, source: str,
                     arities: Mapping[str, int]) -> None:
    for m in _DIGIT_INDEXED.finditer(source):
        raise places.error(path, digit_ending(m[1]), m.start())
    where = max(source.find("sum_t"), source.find("Σ_t"))
    if part == "cell" and where >= 0:
        raise places.error(path, "sum_t adds up all the steps: it belongs in the head or the "
                                 "loss, not in the cell", where)
    for m in _CALL.finditer(source):
        if m.group(1) not in arities and ALIASES.get(m.group(1)) not in arities:
            known = ", ".join(sorted(arities, key=str.lower))
            raise places.error(path, f"unknown function {m.group(1)}; known functions: {known}"
                               " (a role letter is declared in functions, e.g. "
                               'functions = { f = "activation" })', m.start())


def digit_ending(name: str) -> str:
    """Why a name may not end in a digit."""
    return (f"{name} ends in a digit: in formulas {name} reads as {name.rstrip('0123456789')} "
            f"at step {name[len(name.rstrip('0123456789')):]}; end names with a letter, "
            f"e.g. {name.rstrip('0123456789')}a")


def _syntax(places: Places, path: Path, source: str, functions: Collection[str]) -> None:
    try:
        read_equation(source, functions)
    except ParseError as exc:
        if "=" not in source:
            raise places.error(path, f"cannot parse the equation {_shown(source)}: it has no "
                                     '"="; an equation reads name = expression', 0) from None
        end = exc.found == ""
        at = len(source.rstrip()) if end else max(0, exc.column - 1)
        found = "the end of the equation" if end else repr(exc.found)
        expected = exc.expected
        if expected & _OPERAND:  # an operand: say only what may start one
            expected = expected & _OPERAND
        words = list(dict.fromkeys(w for k, w in _WORDS if k in expected))
        want = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else "".join(words)
        raise places.error(path, f"cannot parse the equation {_shown(source)}: found {found} "
                                 f"where {want or 'something else'} was expected",
                           at) from None
    except BpttError as exc:
        raise places.error(path, f"cannot parse the equation {_shown(source)}: "
                                 f"{str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise places.error(path, f"cannot parse the equation {_shown(source)}") from None


def _parsed(places: Places, path: Path, source: str, fns: Mapping[str, Callable[..., sp.Expr]],
            steps: int | None) -> Template:
    try:
        return parse_equation(source, functions=fns, steps=steps)
    except BpttError as exc:
        raise places.error(path, str(exc)) from None
    except (ValueError, TypeError, LookupError, ArithmeticError, RecursionError) as exc:
        why = str(getattr(exc, "orig_exc", exc)).strip().split("\n")[0][:100] or "too complex"
        raise places.error(path, f"cannot read the equation {_shown(source)}: {why}") from None


def _shown(source: str, width: int = 80) -> str:
    return repr(source if len(source) <= width else source[:width] + "…")


def index_text(ref: Ref) -> str | None:
    if ref.var is None:
        return None
    if ref.var == "":
        return str(ref.offset)
    return ref.var + (f"{ref.offset:+d}" if ref.offset else "")


def written(ref: Ref) -> str:
    """``ref`` as the article writes it: ``s_{t-1}``, ``x_t``, ``q``."""
    text = index_text(ref)
    if text is None:
        return ref.base
    return f"{ref.base}_{text}" if len(text) == 1 or text.isdigit() else f"{ref.base}_{{{text}}}"


def spot(source: str, ref: Ref, lhs: bool = False) -> int:
    """The index in ``source`` where ``ref`` is written (left of ``=`` with ``lhs``)."""
    eq = source.find("=")
    lo, hi = (0, max(eq, 0)) if lhs else (eq + 1, len(source))
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(ref.base)}(?![A-Za-z0-9(])")
    first = None
    for mt in word.finditer(source, lo, hi):
        first = mt.start() if first is None else first
        index = _INDEX.match(source, mt.end())
        text = re.sub(r"[\s{}]", "", index.group(1)) if index else None
        if text == index_text(ref):
            return mt.start()
    return lo if first is None else first
