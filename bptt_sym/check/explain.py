"""Why a failing equation fails: the searches that name a mistake.

Each search changes the person's right side in one way (add the missing step terms, flip
the sign, put one true local derivative in place, add one missing factor, move one step
index) and asks the judge whether the equation then holds at the same random points.

    >>> # see bptt_sym.check.checker for the judge and tests/test_check.py for every kind
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import combinations

import sympy as sp
from flint import fmpq

from bptt_sym.check.decide import Number, classify, describe
from bptt_sym.derivation.sweep import total
from bptt_sym.graph.build import Graph
from bptt_sym.notation import Partial, split_name, step_symbol
from bptt_sym.printing.leibniz import leibniz
from bptt_sym.rules.functions import ROLES

__all__ = ["Diagnosis", "explain", "KINDS"]

KINDS = ("missing-steps", "extra-steps", "sign", "factor", "local-derivative",
         "missing-factor", "step-index")
Holds = Callable[[sp.Expr, sp.Expr], bool]
Values = Callable[[sp.Expr], list[sp.Expr]]


@dataclass(frozen=True)
class Diagnosis:
    """One finding: its ``kind`` (one of KINDS) and a sentence for the person."""

    kind: str
    text: str


def _u(expr: sp.Expr) -> str:
    return leibniz(_compact(expr), "unicode")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
LONG_NUMBER = 30  # digits: a longer rational is shown as n + m·10^-k where it is one


def _compact(expr: sp.Expr) -> sp.Expr:
    """``expr`` with each long decimal rational written as n + m·10^-k (1 + 10^-100, not a
    fraction of two 101-digit numbers); other numbers stay as they are."""
    subs = {}
    for r in expr.atoms(sp.Rational):
        if len(str(r.p)) + len(str(r.q)) <= LONG_NUMBER:
            continue
        k = len(str(r.q)) - 1
        if r.q != 10**k:
            continue
        n, m = divmod(abs(r.p), r.q)
        m_text = str(m).rstrip("0")
        if len(m_text) > 12:
            continue
        zeros = len(str(m)) - len(m_text)
        power = "10" + str(-(k - zeros)).translate(_SUPERSCRIPT)
        tail = power if m_text == "1" else f"{m_text}·{power}"
        shown = sp.Symbol(tail if n == 0 else f"({n} + {tail})")  # a name: shown, never used
        subs[r] = sp.Mul(sp.S.NegativeOne, shown, evaluate=False) if r < 0 else shown
    return expr.xreplace(subs) if subs else expr


def _path(graph: Graph, top: sp.Symbol, leaf: sp.Symbol) -> str:
    """One path from ``top`` down to ``leaf``, as E ← o ← … ← u_0."""
    path = [top]
    while path[-1] != leaf:
        nxt = [p for p in graph.nodes[path[-1]].parents if p == leaf or _reaches(graph, p, leaf)]
        if not nxt:
            break
        path.append(nxt[0])
    return " ← ".join(_u(s) for s in path)


def _reaches(graph: Graph, node: sp.Symbol, leaf: sp.Symbol) -> bool:
    stack, seen = [node], set()
    while stack:
        n = stack.pop()
        if n == leaf:
            return True
        if n not in seen:
            seen.add(n)
            stack.extend(graph.nodes[n].parents)
    return False


def _steps(graph: Graph, lhs: sp.Expr, diff: Values) -> list[Diagnosis]:
    """The difference is a sum of per-step terms ∂X/∂θ_t: missing or extra time steps."""
    if not isinstance(lhs, Partial):
        return []
    den = lhs.den
    param = str(den) if str(den) in graph.copies else graph.nodes[den].parameter \
        if den in graph.nodes else None
    if param is None or len(graph.copies[param]) > 10:
        return []
    copies = graph.copies[param]
    contrib = {c: diff(Partial(lhs.num, c)) for c in copies}
    d = diff(None)
    for size in range(1, len(copies) + 1):
        for subset in combinations(sorted(copies, key=lambda c: -graph.nodes[c].step), size):
            total_ = [sum(contrib[c][i] for c in subset) for i in range(len(d))]
            for sign, kind in ((1, "missing-steps"), (-1, "extra-steps")):
                if all(_same(d[i], sign * total_[i]) for i in range(len(d))):
                    return [Diagnosis(kind, _steps_text(graph, lhs.num, subset, kind))]
    return []


def _steps_text(graph: Graph, top: sp.Symbol, subset: Iterable[sp.Symbol], kind: str) -> str:
    parts = []
    for c in subset:
        step = graph.nodes[c].step
        parts.append(f"step {step}, {_u(Partial(top, c))} (path {_path(graph, top, c)})")
    what = "missing the contribution of" if kind == "missing-steps" else \
        "counting an extra contribution of"
    return f"{what} " + "; ".join(parts)


def _same(a: Number, b: Number) -> bool:
    """Equal at one point as far as the decision can tell (a search, not a verdict)."""
    return classify(a - b) in ("exact", "agrees")


def _sympy_number(x: Number) -> sp.Expr:
    if isinstance(x, fmpq):
        return sp.Rational(int(x.p), int(x.q))
    return sp.Float(describe(x, 40), 40)


def _sign_and_factor(left: list[Number], right: list[Number], steps: int = 0
                     ) -> list[Diagnosis]:
    nonzero = [classify(a) == "differs" for a in left]
    if all(_same(a, -b) for a, b in zip(left, right)) and any(nonzero):
        return [Diagnosis("sign", "the sign is flipped: the right side is the negative of "
                                  "the left")]
    ratios = [b / a for a, b, n in zip(left, right, nonzero) if n]
    if len(ratios) == len(left) and all(_same(ratios[0], q) for q in ratios[1:]) and \
            not _same(ratios[0], fmpq(1)):
        c = _sympy_number(ratios[0])
        near = sp.nsimplify(c, tolerance=sp.Float(10) ** -30, rational=True)
        shown = c if c.is_Rational else (near if near.q < 10**6 else sp.Float(c, 15))
        if shown == 0:  # "0 times the left" says nothing: an empty sum, a dropped term
            return [Diagnosis("factor", "the right side is 0 at every point checked, the left "
                                        "is not (an empty sum, or every term dropped?)")]
        if steps > 2 and shown in (sp.Rational(1, steps), sp.Integer(steps)):
            what = "1/T (mean instead of sum)" if shown < 1 else "T (sum instead of mean)"
            return [Diagnosis("factor", f"a constant factor {what}: the right side is "
                                        f"{shown} times the left (T = {steps})")]
        if steps == 2 and shown in (sp.Rational(1, 2), sp.Integer(2)):  # 2 = T: either
            what = "mean instead of a sum" if shown < 1 else "sum instead of a mean"
            return [Diagnosis("factor", f"off by a constant factor: the right side is {shown} "
                                        f"times the left (with T = 2 also the factor of a "
                                        f"{what}; --steps 3 tells them apart)")]
        return [Diagnosis("factor", f"off by a constant factor: the right side is {shown} "
                                    "times the left")]
    return []


def _partial_sub(expr: sp.Expr, mapping: dict[sp.Symbol, sp.Symbol]) -> sp.Expr:
    """Substitute symbols everywhere, inside ∂X/∂Y too."""
    parts = {p: Partial(mapping.get(p.num, p.num), mapping.get(p.den, p.den))
             for p in expr.atoms(Partial)}
    return expr.xreplace({**parts, **mapping})


def _indexed(graph: Graph, rhs: sp.Expr) -> list[sp.Symbol]:
    syms = set(rhs.free_symbols)
    for p in rhs.atoms(Partial):
        syms |= {p.num, p.den}
    return sorted((s for s in syms if s in graph.nodes and graph.nodes[s].step is not None
                   and graph.nodes[s].kind != "parameter"), key=str)


def _index(graph: Graph, lhs: sp.Expr, rhs: sp.Expr, holds: Holds) -> list[Diagnosis]:
    syms = _indexed(graph, rhs)
    for a, b in combinations(syms, 2):
        if split_name(str(a))[0] == split_name(str(b))[0]:
            if holds(lhs, _partial_sub(rhs, {a: b, b: a})):
                return [Diagnosis("step-index", f"the step indices of {_u(a)} and {_u(b)} "
                                                "are swapped")]
    for s in syms:
        base, step = split_name(str(s))
        for shift in (-1, 1):
            other = step_symbol(base, step + shift)
            if other not in graph.nodes:
                continue
            # everywhere at once, else in one term only (x_1 + w_1·x_1: the second x_1)
            # inside ∂X/∂Y too, or a plain symbol only: everywhere, else in one term only
            places = [rhs] + [t for t in _terms(rhs) if t != rhs and s in t.free_symbols]
            tries = [_partial_sub(rhs, {s: other})] + \
                [rhs.xreplace({place: place.xreplace({s: other})}) for place in places]
            for moved in dict.fromkeys(tries):
                if moved != rhs and holds(lhs, moved):
                    return [Diagnosis("step-index", f"{_u(s)} where {_u(other)} belongs: a "
                                                    "step index off by one")]
    return []


def _candidates(graph: Graph, rhs: sp.Expr) -> list[tuple[sp.Expr, sp.Expr]]:
    """(∂c/∂p, its true value) for every edge and short chain, nearest to ``rhs`` first."""
    near = set(rhs.free_symbols) | {s for p in rhs.atoms(Partial) for s in (p.num, p.den)}
    out = []
    for (c, p), value in graph.local.items():
        if value != 1:
            out.append((Partial(c, p), value, -(len({c, p} & near))))
    for c, node in graph.nodes.items():  # two-edge chains such as ∂E/∂q
        for p in node.parents:
            for pp in graph.nodes[p].parents if p in graph.nodes else ():
                if graph.nodes[p].kind == "node" and graph.nodes[c].nonlinear:
                    out.append((Partial(c, pp), total(graph, c, (pp,)),
                                -(len({c, pp} & near))))
    out.sort(key=lambda item: item[2])
    return [(a, b) for a, b, _ in out]


def _pieces(rhs: sp.Expr) -> list[sp.Expr]:
    """Sub-expressions a person may have written in place of a derivative."""
    pieces = []
    for e in sp.preorder_traversal(rhs):
        if isinstance(e, Partial) or e.is_Number or e.atoms(Partial):
            continue
        pieces.append(e)
    return sorted(dict.fromkeys(pieces), key=sp.count_ops)


def _tidy(value: sp.Expr) -> sp.Expr:
    """A true value as a person would write it: cancelled when that is shorter."""
    short = sp.cancel(value)
    return short if sp.count_ops(short) < sp.count_ops(value) else value


def _local(graph: Graph, lhs: sp.Expr, rhs: sp.Expr, holds: Holds) -> list[Diagnosis]:
    cands = _candidates(graph, rhs)
    for piece in _pieces(rhs):
        for partial, value in cands:
            if value != piece and holds(lhs, rhs.xreplace({piece: value})):
                used = set(graph.spec.functions.values())
                chosen = "/".join(graph.choices[r] for r in ROLES if r in used)
                where = f"with {chosen} " if chosen else ""
                return [Diagnosis("local-derivative",
                                  f"{_u(partial)} written as {_u(piece)}; {where}"
                                  f"it is {_u(_tidy(value))}")]
    return []


def _terms(rhs: sp.Expr) -> list[sp.Expr]:
    out = []
    for e in sp.preorder_traversal(rhs):
        if isinstance(e, (sp.Mul, sp.Symbol, Partial)) and not e.is_Number:
            out.append(e)
    return list(dict.fromkeys(out))


def _heads(graph: Graph, term: sp.Expr) -> set[sp.Symbol]:
    """Nodes whose derivative stands in ``term``: ∂s_0/∂z_0 written as such or as its value."""
    heads = {p.num for p in term.atoms(Partial)}
    inside = set(sp.preorder_traversal(term))
    for (c, _), value in graph.local.items():
        if graph.nodes[c].nonlinear and value in inside and not value.is_Number:
            heads.add(c)
    return heads


def _continues(graph: Graph, partial: Partial, term: sp.Expr) -> int:
    """How well edge ``partial`` fits into ``term``: it continues a chain there (2), it
    touches a symbol there (1), or neither (0)."""
    if partial.den in _heads(graph, term):
        return 2
    names = term.free_symbols | {s for p in term.atoms(Partial) for s in (p.num, p.den)}
    return int(bool({partial.num, partial.den} & names))


def _missing_factor(graph: Graph, lhs: sp.Expr, rhs: sp.Expr, holds: Holds) -> list[Diagnosis]:
    factors = [(p, v) for p, v in _candidates(graph, rhs) if isinstance(v, sp.Symbol)]
    end = lhs.den if isinstance(lhs, Partial) else None
    for term in _terms(rhs):
        # a chain that must end at the left side's variable: its last edge leaves from there
        ranked = sorted(factors, key=lambda item: -(3 * (item[0].den == end) +
                                                    _continues(graph, item[0], term)))
        for partial, v in ranked:
            if holds(lhs, rhs.xreplace({term: term * v})):
                return [Diagnosis("missing-factor", f"the term {_u(term)} lacks the factor "
                                                    f"{_u(v)} (= {_u(partial)})")]
    return []


def explain(graph: Graph, lhs: sp.Expr, rhs: sp.Expr, values: Values,
            holds: Holds) -> list[Diagnosis]:
    """Diagnoses of ``lhs = rhs`` (known to fail at the judge's points), best first.

    ``values(e)`` gives ``e``'s values at the points (``None``: lhs − rhs); ``holds``
    decides an equation at the same points.
    """
    left, right = values(lhs), values(rhs)
    found = _sign_and_factor(left, right, graph.steps)
    if found:
        return found

    def diff(e: sp.Expr | None) -> list[sp.Expr]:
        return [a - b for a, b in zip(left, right)] if e is None else values(e)

    for search in (lambda: _steps(graph, lhs, diff), lambda: _index(graph, lhs, rhs, holds),
                   lambda: _local(graph, lhs, rhs, holds),
                   lambda: _missing_factor(graph, lhs, rhs, holds)):
        found = search()
        if found:
            return found
    return []
