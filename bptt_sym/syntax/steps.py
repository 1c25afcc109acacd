"""Step indices of a parsed formula: their algebra (``s_{t-1}``, ``o_{T+t-i}``), the steps a
document counts from (``--first``), τ as the length, the free step variables, and names a
document defines (``… =: J_t``) put back in what follows.

    >>> index_value(("lin", (("T", 1), ("t", 1), ("i", -1)), 0), {"T": 4, "t": 2, "i": 3}.get)
    3
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from bptt_sym.errors import BpttError
from bptt_sym.syntax.nodes import Num, Op, Prod, Ref, Sum, chain, factors, rebuild

__all__ = ["index_terms", "index_of", "index_value", "substitute", "renumber", "free_tau",
           "free_steps"]


def index_terms(index: tuple) -> tuple[tuple[tuple[str, int], ...], int]:
    """A step index as (variable, coefficient) pairs and an offset: s_{t-1} is ((t, 1),), -1."""
    if index[0] == "abs":
        return (), index[1]
    if index[0] == "var":
        return ((index[1], 1),), index[2]
    return index[1], index[2]


def index_of(terms: dict[str, int], off: int) -> tuple:
    """The index of ``terms`` and ``off`` in its simplest kind (abs, var or lin)."""
    terms = {v: c for v, c in terms.items() if c}
    if not terms:
        return ("abs", off)
    if len(terms) == 1 and 1 in terms.values():
        return ("var", next(iter(terms)), off)
    return ("lin", tuple(terms.items()), off)


def index_value(index: tuple, value: Callable[[str], int | None]) -> int | None:
    """The step an index stands for, ``value`` giving each variable's (None: unknown)."""
    terms, off = index_terms(index)
    values = [(value(v), c) for v, c in terms]
    if any(x is None for x, _ in values):
        return None
    return off + sum(x * c for x, c in values)


def substitute(tree: object, defined: dict[str, tuple[Ref, object]]) -> object:
    """``tree`` with each name that a definition gave (``… =: J_t``) replaced by what it
    stands for, at the step written: J_{k+1} is the definition with t = k+1."""
    def visit(node: object) -> object | None:
        if not isinstance(node, Ref) or node.base not in defined:
            return None
        name, body = defined[node.base]
        if name.index is None or node.index is None or name.index[0] != "var":
            return body if name.index == node.index else None
        var, at = name.index[1], node.index
        return rebuild(body, lambda n: dataclasses.replace(n, index=_put(n.index, var, at))
                       if isinstance(n, Ref) and n.index is not None and
                       n.index[0] in ("var", "lin") else None)

    return rebuild(tree, visit) if defined else tree


def _put(index: tuple, var: str, at: tuple) -> tuple:
    """``index`` with the step variable ``var`` replaced by the index ``at``."""
    terms, off = index_terms(index)
    coefficient = dict(terms).pop(var, 0)
    if not coefficient:
        return index
    out = {v: c for v, c in terms if v != var}
    at_terms, at_off = index_terms(at)
    for v, c in at_terms:
        out[v] = out.get(v, 0) + coefficient * c
    return index_of(out, off + coefficient * at_off)


def renumber(tree: object, first: int) -> object:
    """``tree`` written with steps counted from ``first`` (d2l's h_1 … h_T) read in the
    model's steps 0 … T-1: every step number, and every index or bound in T (h_T, Σ_{t=1}^T)
    moves down by ``first``; a step variable (t, k, t-1) is already in the model's steps
    once its bounds are, so in an exponent, where it stands for its number, it moves up
    ((W^T)^{T-t} counts the steps after h_t).

        >>> from bptt_sym.syntax.formula import parse
        >>> print(renumber(parse("dL/dh_T = sum_{t=1}^{T} h_1"), 1).sides[1].hi)
        Op(op='-', args=(Ref(base='T', index=None, column=21), Num(value='1')))
    """
    def visit(node: object) -> object | None:
        if isinstance(node, Ref) and node.index is not None:
            return dataclasses.replace(node, index=_shifted(node.index, first))
        if isinstance(node, (Sum, Prod)):
            return dataclasses.replace(node, lo=_bound(node.lo, first), hi=_bound(node.hi, first),
                                       body=rebuild(node.body, visit))
        if isinstance(node, Op) and node.op == "^":
            return Op("^", (rebuild(node.args[0], visit), rebuild(node.args[1], numbered)))
        return None

    def numbered(node: object) -> object | None:  # a step variable as the number it stands for
        if isinstance(node, Ref) and node.index is None and re.fullmatch(r"[a-z]", node.base):
            return Op("+", (node, Num(str(first))))
        return None

    return rebuild(tree, visit) if first else tree


def _shifted(index: tuple, first: int) -> tuple:
    if index[0] == "abs":
        return ("abs", index[1] - first)
    if index[0] == "var" and index[1] == "T":
        return ("var", "T", index[2] - first)
    if index[0] == "lin":  # each variable is a book's number, T the count: o_{T+t-i}
        terms, off = index_terms(index)
        return ("lin", terms, off + first * sum(c for v, c in terms if v != "T") - first)
    if index[0] == "name" and len(index) > 2:
        return (*index[:2], _shifted(index[2], first))
    return index


def _bound(bound: object, first: int) -> object:
    """A sum's bound in the model's steps: a number or an expression in T moves down."""
    if bound is None:
        return None
    if isinstance(bound, Num) and re.fullmatch(r"-?\d+", bound.value):
        return Num(str(int(bound.value) - first))
    if _variables(bound) <= {"T"}:
        return Op("-", (bound, Num(str(first))))
    return bound


def _variables(tree: object) -> set[str]:
    if isinstance(tree, Ref):
        return {tree.base} if tree.index is None else {tree.base, "index"}
    if isinstance(tree, tuple):
        return set().union(*(_variables(t) for t in tree)) if tree else set()
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        return set().union(*(_variables(getattr(tree, f.name)) for f in dataclasses.fields(tree)
                             if f.name not in ("column", "written")))
    return set()


def free_tau(tree: object) -> object:
    """τ bound by no sum is the sequence length, as Goodfellow et al. write it
    (h^{(τ)} is the last state): its index becomes T."""
    def bound(t: object) -> bool:
        if isinstance(t, (Sum, Prod)):
            return t.var == "τ" or bound(t.body)
        if isinstance(t, tuple):
            return any(bound(x) for x in t)
        if dataclasses.is_dataclass(t) and not isinstance(t, type):
            return any(bound(getattr(t, f.name)) for f in dataclasses.fields(t))
        return False

    def swap(t: object) -> object | None:
        if isinstance(t, Ref) and t.index is not None and t.index[:2] == ("var", "τ"):
            return dataclasses.replace(t, index=("var", "T", t.index[2]))
        if isinstance(t, Ref) and t.index is not None and t.index[0] == "lin":
            terms, off = index_terms(t.index)
            return dataclasses.replace(t, index=index_of(
                {("T" if v == "τ" else v): c for v, c in terms}, off))
        return None

    return tree if bound(tree) else rebuild(tree, swap)


def free_steps(tree: object, bound: frozenset[str] = frozenset()) -> set[str]:
    """The step variables of ``tree`` that no sum or product binds (T is the length).

        >>> from bptt_sym.syntax.formula import parse
        >>> sorted(free_steps(parse("h_t = f(x_t, h_{t-1}) + sum_k s_k").sides))
        ['t']
    """
    if isinstance(tree, Ref):
        index = tree.index[2] if tree.index and tree.index[0] == "name" and len(tree.index) > 2 \
            else tree.index
        if index and index[0] in ("var", "lin"):
            return {v for v, _ in index_terms(index)[0]} - bound - {"T"}
        return set()
    if isinstance(tree, (Sum, Prod)):
        inner = free_steps(tree.body, bound | {tree.var})
        return inner | free_steps((tree.lo, tree.hi), bound)
    if isinstance(tree, tuple):
        return set().union(*(free_steps(t, bound) for t in tree)) if tree else set()
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        return set().union(*(free_steps(getattr(tree, f.name), bound)
                             for f in dataclasses.fields(tree)
                             if f.name not in ("column", "written")))
    return set()


def _first_index(node: object) -> tuple | None:
    found: list[tuple] = []

    def visit(n: object) -> object | None:
        if isinstance(n, Ref) and n.index is not None and n.index[0] in ("var", "lin", "abs") \
                and not found:
            found.append(n.index)
        return None

    rebuild(node, visit)
    return found[0] if found else None


def _shift(node: object, by: dict[str, int], off: int) -> object:
    """``node`` with every step index moved by the index ``by`` + ``off`` (terms may cancel)."""
    def visit(n: object) -> object | None:
        if isinstance(n, Ref) and n.index is not None and n.index[0] in ("var", "lin", "abs"):
            terms, o = index_terms(n.index)
            out = dict(terms)
            for v, c in by.items():
                out[v] = out.get(v, 0) + c
            return dataclasses.replace(n, index=index_of(out, o + off))
        return None

    return rebuild(node, visit)


def _difference(a: tuple, b: tuple) -> tuple[dict[str, int], int]:
    """The index a − b as terms and an offset."""
    (ta, oa), (tb, ob) = index_terms(a), index_terms(b)
    out = dict(ta)
    for v, c in tb:
        out[v] = out.get(v, 0) - c
    return {v: c for v, c in out.items() if c}, oa - ob


def _bound_of(index: tuple) -> object:
    """An index as a formula tree, for a product's bound."""
    terms, off = index_terms(index)
    tree: object | None = None
    for v, c in terms:
        term = Ref(v, None, 0) if abs(c) == 1 else Op("juxt", (Num(str(abs(c))), Ref(v, None, 0)))
        if tree is None:
            tree = term if c > 0 else Op("neg", (term,))
        else:
            tree = Op("+" if c > 0 else "-", (tree, term))
    if tree is None:
        return Num(str(off))
    return tree if not off else Op("+" if off > 0 else "-", (tree, Num(str(abs(off)))))


def immediate(d: object, plus: bool) -> object:
    """Pascanu's ∂⁺x_k/∂θ (``plus``), the immediate partial (x_{k-1} held fixed): by θ's copy
    at step k, which reaches x_k only through the nodes of step k."""
    if not plus or d.den.index is not None:
        return d
    return dataclasses.replace(d, den=Ref(d.den.base, d.num.index, d.den.column, d.den.written))


def dots(left: object, right: list, column: int) -> object:
    """``J_T J_{T-1} ⋯ J_{k+1}`` (and ∂h_t/∂h_{t-1} ∂h_{t-1}/∂h_{t-2} ⋯ ∂h_{k+1}/∂h_k): the
    two factors before ``⋯`` step down by one, and the one after is the same factor further
    down; read as Π_{j=k+1}^{T} J_j, every factor from the first shown to the last, highest
    step on the left (the order of a Π), so that it is defined at every k (at k = T-1 it is
    J_T alone).  A repeated pair of factors reads the same way, ``W diag(f'(z_{t-1})) W
    diag(f'(z_{t-2})) ⋯ W diag(f'(z_k))``: Π over the pair.  ``right`` holds the factors
    written after the ellipsis; those after the last repeated one multiply the product.  Any
    other ellipsis between factors is an error at ``column``."""
    before = factors(left)
    right = [f for r in right for f in factors(r)]
    for period in (1, 2):
        if len(before) < 2 * period or len(right) < period:
            continue
        rest = before[:-2 * period]
        a, b = (chain(before[-2 * period + i * period:][:period]) for i in (0, 1))
        product = _pattern(chain(rest) if rest else None, a, b, chain(right[:period]))
        if product is not None:
            return chain([product, *right[period:]])
    error = BpttError("an ellipsis (…, \\ldots, \\cdots) in a product is read after two "
                      "factors (or pairs of factors) one step apart and before one further "
                      "down (J_T J_{T-1} ⋯ J_{k+1}); write a Π with bounds instead")
    error.column = column
    raise error


def _pattern(rest: object | None, a: object, b: object, right: object) -> object | None:
    ia, ib, ir = _first_index(a), _first_index(b), _first_index(right)
    if ia is None or ib is None or ir is None:
        return None
    step, off = _difference(ib, ia)
    if step or off != -1 or _bare(_shift(a, {}, -1)) != _bare(b):
        return None
    gap, gap_off = _difference(ir, ib)  # right = b moved by gap + gap_off
    if _bare(_shift(b, gap, gap_off)) != _bare(right):
        return None
    used = _index_variables((rest, a, b, right))
    var = next(v for v in "jimnpq" if v not in used)
    body = _shift(b, {var: 1, **{v: -c for v, c in index_terms(ib)[0]}}, -index_terms(ib)[1])
    whole = Prod(var, _bound_of(ir), _bound_of(ia), body)
    return whole if rest is None else Op("juxt", (rest, whole))


def _bare(tree: object) -> object:
    """``tree`` with every column 0, to compare what two factors say, not where."""
    if isinstance(tree, tuple):
        return tuple(_bare(t) for t in tree)
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        return dataclasses.replace(tree, **{
            f.name: 0 if f.name == "column" else _bare(getattr(tree, f.name))
            for f in dataclasses.fields(tree) if f.name != "written"})
    return tree


def _index_variables(tree: object) -> set[str]:
    found: set[str] = set()

    def visit(n: object) -> object | None:
        if isinstance(n, Ref) and n.index is not None and n.index[0] in ("var", "lin"):
            found.update(v for v, _ in index_terms(n.index)[0])
        if isinstance(n, (Sum, Prod)):
            found.add(n.var)
        return None

    rebuild(tree, visit)
    return found
