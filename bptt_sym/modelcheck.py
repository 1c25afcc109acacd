"""The checks of a model file's equations, each problem one ``FILE:LINE:COL`` line.

:func:`parse_line` reads one equation with the project's grammar (never ``sympify``);
:func:`check_equations` checks the model they make: definitions, references and their
step indices, cycles, states and unused names.

    >>> from bptt_sym.modelplaces import ModelFileError, Places
    >>> p = Places('cell = ["a_t = x_t*u +"]', "m.toml")
    >>> try:
    ...     parse_line(p, ("cell", 0), "cell", "a_t = x_t*u +", {})
    ... except ModelFileError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    m.toml:1:23: cannot parse the equation 'a_t = x_t*u +': found the end of the equation ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass

import sympy as sp
from lark.exceptions import LarkError, UnexpectedInput, VisitError

from .equations import _PARSER, Ref, Template, parse_equation
from .errors import BpttError
from .modelplaces import Path, Places
from .rules import ABSTRACT, ROLES, RULES

__all__ = ["Line", "function_arities", "parse_line", "check_equations"]


# ---- one equation -------------------------------------------------------------------------

MAX_EQUATION = 2000  # characters
_ROLE_ARITY = {"activation": 1, "output": 1, "loss": 2}
_UNDERSCORED = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z][A-Za-z0-9]*)\s*_\s*([A-Za-z][A-Za-z0-9]*)")
_CALL = re.compile(r"(?<![A-Za-z0-9_])([A-Za-z][A-Za-z0-9]*)(?=\()")
_INDEX = re.compile(r"\s*_\s*(\{[^}]*\}|[A-Za-z0-9]+)")
_WORDS = (("NAME", "a name"), ("FUNC", "a name"), ("NUMBER", "a number"), ("LPAR", '"("'),
          ("MINUS", '"-"'), ("STEPSUM", "sum_t"), ("PLUS", '"+"'), ("STAR", '"*"'),
          ("SLASH", '"/"'), ("CIRCUMFLEX", '"^"'), ("RPAR", '")"'), ("COMMA", '","'),
          ("EQUAL", '"="'), ("IDXVAR", "t or T"), ("INT", "a whole number"),
          ("SIGNED_INT", "a whole number"), ("LBRACE", '"{"'), ("RBRACE", '"}"'))


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
    _syntax(places, path, source)
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
                                 "such as E = … instead", _spot(source, template.lhs, True))
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
    for m in _UNDERSCORED.finditer(source):
        base, sub = m.groups()
        if sub not in ("t", "T") and not (base == "sum" and sub == "t"):
            raise places.error(path, f"{base}_{sub}: names are letters and digits (e.g. "
                               f"{base}{sub}) for now; _ starts a step index (x_t, s_{{t-1}})",
                               m.start())
    where = max(source.find("sum_t"), source.find("Σ_t"))
    if part == "cell" and where >= 0:
        raise places.error(path, "sum_t adds up all the steps: it belongs in the head or the "
                                 "loss, not in the cell", where)
    for m in _CALL.finditer(source):
        if m.group(1) not in arities:
            known = ", ".join(sorted(arities, key=str.lower))
            raise places.error(path, f"unknown function {m.group(1)}; known functions: {known}"
                               " (a role letter is declared in functions, e.g. "
                               'functions = { f = "activation" })', m.start())


def _syntax(places: Places, path: Path, source: str) -> None:
    try:
        _PARSER.parse(source)
    except UnexpectedInput as exc:
        token = getattr(exc, "token", None)
        end = token is not None and token.type == "$END"
        at = len(source.rstrip()) if end else max(0, exc.pos_in_stream or 0)
        found = ("the end of the equation" if end else
                 f"{source[at]!r}" if token is None else f"{str(token)!r}")
        expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or set()
        words = list(dict.fromkeys(w for k, w in _WORDS if k in expected))
        want = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else "".join(words)
        hint = "; an equation reads name = expression" if words == ['"="'] else ""
        raise places.error(path, f"cannot parse the equation {_shown(source)}: found {found} "
                                 f"where {want or 'something else'} was expected{hint}",
                           at) from None
    except (LarkError, RecursionError):
        raise places.error(path, f"cannot parse the equation {_shown(source)}") from None


def _parsed(places: Places, path: Path, source: str, fns: Mapping[str, Callable[..., sp.Expr]],
            steps: int | None) -> Template:
    try:
        return parse_equation(source, functions=fns, steps=steps)
    except BpttError as exc:
        raise places.error(path, str(exc)) from None
    except (VisitError, ValueError, TypeError, LookupError, ArithmeticError,
            RecursionError) as exc:
        why = str(getattr(exc, "orig_exc", exc)).strip().split("\n")[0][:100] or "too complex"
        raise places.error(path, f"cannot read the equation {_shown(source)}: {why}") from None


def _shown(source: str, width: int = 80) -> str:
    return repr(source if len(source) <= width else source[:width] + "…")


# ---- the model ----------------------------------------------------------------------------

@dataclass
class _Model:
    """What the checks know: the equations, the declared names and the defined ones."""

    places: Places
    lines: list[Line]
    roles: Mapping[str, tuple[str, Path]]  # a declared name: its role and its place
    arities: Mapping[str, int]
    cell: dict[str, Line]
    head: dict[str, Line]  # the head's and the loss's names

    def fail(self, line: Line, ref: Ref, message: str, lhs: bool = False) -> Exception:
        return self.places.error(line.path, message, _spot(line.source, ref, lhs))

    def line_no(self, line: Line) -> int:
        return self.places.at(line.path)[0]


def check_equations(places: Places, lines: list[Line], roles: Mapping[str, tuple[str, Path]],
                    arities: Mapping[str, int], initial: Mapping[str, str]) -> None:
    """Check the model the parsed ``lines`` make: definitions, cycles, every reference and
    its step index, states against ``initial``, and names declared but never used."""
    m = _Model(places, lines, roles, arities, {}, {})
    for line in lines:
        _define(m, line)
    _cycles(m, m.cell, "cell")
    _cycles(m, m.head, "head")
    states: dict[str, tuple[Line, Ref]] = {}
    for line in lines:
        for ref in line.template.refs.values():
            _reference(m, line, ref, states)
    _states(m, states, initial)
    used = {r.base for line in lines for r in line.template.refs.values()}
    for name, (role, path) in roles.items():
        if role != "function" and name not in used:
            raise places.error(path, f"{role} {name} is not used by any equation; remove it "
                                     f"from {role}s or use it")


def digit_ending(name: str) -> str:
    """Why a name may not end in a digit."""
    return (f"{name} ends in a digit: in formulas {name} reads as {name.rstrip('0123456789')} "
            f"at step {name[len(name.rstrip('0123456789')):]}; end names with a letter, "
            f"e.g. {name.rstrip('0123456789')}a")


def _define(m: _Model, line: Line) -> None:
    lhs, name = line.template.lhs, line.name
    if name[-1].isdigit():
        raise m.fail(line, lhs, digit_ending(name), lhs=True)
    if line.part == "cell" and (lhs.var, lhs.offset) != ("t", 0):
        raise m.fail(line, lhs, f"the cell defines each name at step t: write {name}_t = …",
                     lhs=True)
    if line.part != "cell" and lhs.var is not None:
        what = ("the loss line defines the loss, one name with no step index" if line.part ==
                "loss" else "the head defines names with no step index, after the last step")
        raise m.fail(line, lhs, f"{what}: write {name} = …", lhs=True)
    if name in m.roles or name in m.arities:
        role = m.roles[name][0] if name in m.roles else "function"
        raise m.fail(line, lhs, f"{name} is {_a(role)} and also defined by an equation; a "
                                "name has one role: rename one", lhs=True)
    other = m.head.get(name) or (m.cell.get(name) if line.part != "loss" else None)
    if other is not None:
        raise m.fail(line, lhs, f"{name} is defined twice (also on line {m.line_no(other)}); "
                                "rename one", lhs=True)
    (m.cell if line.part == "cell" else m.head)[name] = line


def _a(role: str) -> str:
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def _cycles(m: _Model, defined: dict[str, Line], part: str) -> None:
    """A name that needs itself at the same step is one error naming the loop."""
    def same_step(r: Ref) -> bool:
        return r.base in defined and ((r.var, r.offset) == ("t", 0) if part == "cell"
                                      else r.var is None)

    done: set[str] = set()
    for start in (name for name in defined if name not in done):
        trail, todo = [start], [iter(defined[start].template.refs.values())]
        while todo:
            r = next((r for r in todo[-1] if same_step(r)), None)
            if r is None:
                done.add(trail.pop())
                todo.pop()
            elif r.base in trail:
                _loop(m, defined, trail[trail.index(r.base):] + [r.base], part)
            elif r.base not in done:
                trail.append(r.base)
                todo.append(iter(defined[r.base].template.refs.values()))


def _loop(m: _Model, defined: dict[str, Line], loop: list[str], part: str) -> None:
    t = "_t" if part == "cell" else ""
    chain = " -> ".join(f"{n}{t}" for n in loop)
    ref = Ref(loop[1], "t", 0) if part == "cell" else Ref(loop[1])
    fix = (f"one of them must read the step before, e.g. {loop[-2]}_{{t-1}}" if part == "cell"
           else "an equation cannot use its own result")
    raise m.fail(defined[loop[0]], ref, f"{loop[0]}{t} depends on itself at the same step "
                                        f"({chain}); {fix}")


def _kind(m: _Model, ref: Ref) -> str | None:
    if ref.base in m.roles:
        return m.roles[ref.base][0]
    if ref.base in m.cell and ref.base in m.head:  # the loss E and the steps' E_t
        return "head" if ref.var is None else "cell"
    return "cell" if ref.base in m.cell else "head" if ref.base in m.head else None


def _reference(m: _Model, line: Line, ref: Ref, states: dict[str, tuple[Line, Ref]]) -> None:
    if ref.base == "T" and ref.var is None:
        return  # the number of steps
    kind = _kind(m, ref)
    if kind is None:
        raise m.fail(line, ref, _undefined(m, line, ref))
    problem = _index_problem(m, line, ref, kind)
    if problem:
        raise m.fail(line, ref, problem)
    defined = m.cell if kind == "cell" else m.head
    names = list(defined)
    if kind == line.part or (kind, line.part) == ("head", "loss"):
        if (kind == "head" or ref.offset == 0) and names.index(ref.base) > names.index(line.name):
            raise m.fail(line, ref, f"{_written(ref)} is used before it is defined (on line "
                                    f"{m.line_no(defined[ref.base])}); move that equation "
                                    "above this one")
    if kind == "cell" and line.part == "cell" and ref.offset == -1:
        states.setdefault(ref.base, (line, ref))


def _index_problem(m: _Model, line: Line, ref: Ref, kind: str) -> str | None:
    """What is wrong with the step index of ``ref`` (None: nothing)."""
    name, w, at = ref.base, _written(ref), (ref.var, ref.offset)
    if ref in line.outside:
        if line.part == "loss":
            return (f"the loss reads {w} outside sum_t: write {line.name} = sum_t {w}, "
                    f"{line.name} = 1/T sum_t {w} or {line.name} = {name}_{{T-1}}")
        return (f"{w} in the head reads step t, but the head comes after the last step: "
                f"write {name}_{{T-1}} (the last step) or sum over the steps with sum_t")
    late = ref.var == "T" and ref.offset < 0 or ref.var == "" and ref.offset >= 0
    if kind == "parameter":
        ok, fix = ref.var is None, f"parameter {name} has no step index: write {name} (each step"\
                                   " gets its own copy when the model is unrolled)"
    elif line.part == "cell" and kind in ("input", "target"):
        ok = at == ("t", 0) or (kind == "target" and ref.var is None)
        fix = f"{kind} {name} is read at the current step: write {name}_t"
    elif kind in ("input", "target"):
        ok = at == ("t", 0) or late or (kind == "target" and ref.var is None)
        fix = f"{kind} {name} needs a step: write {name}_{{T-1}} for the last step"
    elif kind == "head":
        ok = ref.var is None and line.part != "cell"
        fix = (f"{name} is defined in the head, after the last step; the cell cannot use it"
               if line.part == "cell" else f"{name} is defined once, in the head: write {name}")
    elif line.part == "cell":
        ok = ref.var == "t" and ref.offset in (0, -1)
        fix = f"the cell reads {name} at this step or the step before: write {name}_t or " \
              f"{name}_{{t-1}}"
    else:
        ok = at == ("t", 0) or late
        fix = (f"{name}_T is past the last step: the steps are 0 … T-1" if ref.var == "T" else
               f"{name} is computed at every step: write {name}_{{T-1}} for the last step "
               "or sum over the steps with sum_t")
    return None if ok else fix


def _undefined(m: _Model, line: Line, ref: Ref) -> str:
    name = ref.base
    if name in m.arities:
        at = _spot(line.source, ref) + len(name)
        call = re.match(r"\s*(\((?:[^()]|\([^()]*\))*\))", line.source[at:])
        return (f"{name} is a function: write {name}{call.group(1) if call else '(…)'} with "
                "no space before the parenthesis")
    if name == "t":
        return "t alone is no name: the step index follows an underscore, as in x_t"
    return (f"undefined name {name}: it is not a parameter, input or target and no equation "
            "defines it; list it in parameters, inputs or targets, or define it")


def _states(m: _Model, states: Mapping[str, tuple[Line, Ref]], initial: Mapping[str, str]) -> None:
    for name, (line, ref) in states.items():
        if name not in initial:
            raise m.fail(line, ref, f"{_written(ref)} reads {name} at the step before, so "
                                    f"{name} is a state and needs its value at step -1: add "
                                    f'it to initial, e.g. initial = {{ {name} = "given" }} '
                                    '(or "zero")')
    for name in initial:
        if name not in states:
            which = f"the states are {', '.join(states)}" if states else "the model has none"
            raise m.places.error(("initial", name), f"initial gives {name} a value at step -1,"
                                 f" but {name} is not a state (no cell equation reads "
                                 f"{name}_{{t-1}}); {which}: remove it", key=True)


def _index_text(ref: Ref) -> str | None:
    if ref.var is None:
        return None
    if ref.var == "":
        return str(ref.offset)
    return ref.var + (f"{ref.offset:+d}" if ref.offset else "")


def _written(ref: Ref) -> str:
    """``ref`` as the article writes it: ``s_{t-1}``, ``x_t``, ``q``."""
    text = _index_text(ref)
    if text is None:
        return ref.base
    return f"{ref.base}_{text}" if len(text) == 1 or text.isdigit() else f"{ref.base}_{{{text}}}"


def _spot(source: str, ref: Ref, lhs: bool = False) -> int:
    """The index in ``source`` where ``ref`` is written (left of ``=`` with ``lhs``)."""
    eq = source.find("=")
    lo, hi = (0, max(eq, 0)) if lhs else (eq + 1, len(source))
    word = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(ref.base)}(?![A-Za-z0-9(])")
    first = None
    for mt in word.finditer(source, lo, hi):
        first = mt.start() if first is None else first
        index = _INDEX.match(source, mt.end())
        text = re.sub(r"[\s{}]", "", index.group(1)) if index else None
        if text == _index_text(ref):
            return mt.start()
    return lo if first is None else first
