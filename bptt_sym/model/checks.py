"""The checks of a model file's equations as a whole, each problem one ``FILE:LINE:COL``
line: definitions, references and their step indices, cycles, states and unused names.
(:mod:`bptt_sym.model.line` reads each equation.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bptt_sym.model.line import Line, digit_ending, function_arities, parse_line, spot, written
from bptt_sym.model.places import Path, Places
from bptt_sym.syntax.equations import Ref

__all__ = ["Line", "function_arities", "parse_line", "check_equations", "digit_ending"]


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
        return self.places.error(line.path, message, spot(line.source, ref, lhs))

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
            raise m.fail(line, ref, f"{written(ref)} is used before it is defined (on line "
                                    f"{m.line_no(defined[ref.base])}); move that equation "
                                    "above this one")
    if kind == "cell" and line.part == "cell" and ref.offset == -1:
        states.setdefault(ref.base, (line, ref))


def _index_problem(m: _Model, line: Line, ref: Ref, kind: str) -> str | None:
    """What is wrong with the step index of ``ref`` (None: nothing)."""
    name, w, at = ref.base, written(ref), (ref.var, ref.offset)
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
        at = spot(line.source, ref) + len(name)
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
            raise m.fail(line, ref, f"{written(ref)} reads {name} at the step before, so "
                                    f"{name} is a state and needs its value at step -1: add "
                                    f'it to initial, e.g. initial = {{ {name} = "given" }} '
                                    '(or "zero")')
    for name in initial:
        if name not in states:
            which = f"the states are {', '.join(states)}" if states else "the model has none"
            raise m.places.error(("initial", name), f"initial gives {name} a value at step -1,"
                                 f" but {name} is not a state (no cell equation reads "
                                 f"{name}_{{t-1}}); {which}: remove it", key=True)
