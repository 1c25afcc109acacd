"""The changes to a person's matrix formula that name the mistakes of gated cells (LSTM, GRU
and any cell with several paths back, a gate and its complement, or two activations), tried
by :func:`bptt_sym.check.explain_matrix.explain_matrix` as its other changes are:

- ``missing-path``: a term of a named adjoint's recursion left out (an LSTM's through-time
  term f_{t+1} ⊙ δc_{t+1}), or all the terms of one way back ("two paths reach c_t; yours
  has one"), from the model's own recursion (:mod:`bptt_sym.check.paths`);
- ``activation-swap``: the sigmoid's derivative written where tanh's belongs, or back:
  X ⊙ (1 − X) for X = tanh(…), 1 − X² for X = σ(…), sigmoid′(z) for tanh′(z);
- ``complement``: a gate X and its complement 1 − X exchanged (a GRU's z_t and 1 − z_t),
  everywhere in the formula or in one place.

Which nodes are tanh's or σ's outputs, and which have a complement, comes from the model's
graph (:mod:`bptt_sym.check.structure`), never from names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from bptt_sym.check.paths import adjoint_paths
from bptt_sym.check.structure import Structure
from bptt_sym.graph.resolve_matrix import MatrixNames, show
from bptt_sym.syntax.formula import Call, Num, Op, Ref
from bptt_sym.syntax.nodes import chain, factors, rebuild

__all__ = ["gated_candidates", "path_candidates"]

_PRODUCTS = ("*", "⊙")
_DERIVATIVE = {"tanh": "tanh", "sigmoid": "sigmoid"}  # the derivatives these checks know


def gated_candidates(lhs: object, rhs: object, names: MatrixNames, model: Structure,
                     positions: list, replace: Callable) -> Iterator[tuple[str, object, str]]:
    """(kind, changed right side, why) for each change of this module but the paths."""
    yield from _swaps(rhs, model, positions, replace)
    yield from _complements(rhs, names, model, positions, replace)


def _one(a: object) -> Op:
    return Op("-", (Num("1"), a))


def path_candidates(lhs: object, rhs: object,
                    names: MatrixNames) -> Iterator[tuple[str, object, str]]:
    """(kind, changed right side, why): a way back, or one term of the recursion, added
    (few changes, tried early: a long recursion has many other places to change)."""
    if not (isinstance(lhs, Ref) and lhs.index == ("var", "t", 0)):
        return
    paths = adjoint_paths(names).get(lhs.base, ())
    node = f"{names.adjoint.get(lhs.base, '')}_t"
    ways: dict[str | None, list] = {}
    for p in paths:
        ways.setdefault(p.through, []).append(p)
    count = {2: "two", 3: "three", 4: "four"}.get(len(ways), str(len(ways)))
    named = " and ".join(f"through {w}" if w else "from the step's own output" for w in ways)
    for through in ways if len(ways) > 1 else ():
        rest = [p for other, ps in ways.items() if other != through for p in ps]
        new = rhs
        for p in rest:
            new = Op("+", (new, p.term))
        yours = f"the one through {through}" if through else "the step's own output"
        yield "missing-path", new, \
            f"{count} paths reach {node} ({named}); yours has one, {yours}: the " \
            f"{'other adds' if len(rest) == 1 else 'others add'} " \
            f"{' + '.join(show(p.term) for p in rest)}"
    for p in paths:
        back = f"the path back from {p.through}" if p.through else "this step's own output"
        yield "missing-path", Op("+", (rhs, p.term)), \
            f"missing the term {show(p.term)} ({back}) in {show(lhs)}"


def _outputs(model: Structure, act: str) -> list[object]:
    """The formulas of every output of ``act``: the nodes s_t (Ref with no index, matched by
    base) and the calls tanh(c_t) (matched by argument)."""
    return [(out, arg) for _, a, out, arg in model.activations if a == act]


def _is_output(x: object, model: Structure, act: str) -> bool:
    for out, arg in _outputs(model, act):
        if out is not None and isinstance(x, Ref) and x.base == out:
            return True
        if out is None and isinstance(x, Call) and not x.prime and x.name == act and \
                len(x.args) == 1 and isinstance(x.args[0], Ref) and x.args[0].base == arg:
            return True
    return False


def _squared(x: object) -> object | None:
    """X for X², X ⊙ X, X * X, X^{⊙2}; else None."""
    if isinstance(x, Op) and x.op == "^" and x.args[1] == Num("2"):
        return x.args[0]
    if isinstance(x, Op) and x.op in _PRODUCTS and show(x.args[0]) == show(x.args[1]):
        return x.args[0]
    return None


def _swaps(rhs: object, model: Structure, positions: list,
           replace: Callable) -> Iterator[tuple[str, object, str]]:
    for path, node in positions:
        if isinstance(node, Call) and node.prime and node.name in _DERIVATIVE:
            for other in _DERIVATIVE:
                if other != node.name:
                    yield "activation-swap", replace(rhs, path, Call(
                        other, True, node.args, node.column)), \
                        f"{node.name}′ where {other}′ belongs: {show(node)} should be " \
                        f"{other}'({', '.join(show(a) for a in node.args)})"
        if not (isinstance(node, Op) and node.op in _PRODUCTS):
            continue
        parts = factors(node, node.op)
        for i, x in enumerate(parts):
            if _is_output(x, model, "tanh"):  # σ′'s X ⊙ (1 − X) of a tanh output X
                for j, y in enumerate(parts):
                    if j != i and show(y) == show(_one(x)):
                        right = _one(Op("⊙", (x, x)))
                        new = [right if k == i else f for k, f in enumerate(parts) if k != j]
                        yield "activation-swap", replace(rhs, path, chain(new, node.op)), \
                            f"σ′ where tanh′ belongs: {show(x)} ⊙ (1 − {show(x)}) is the " \
                            f"sigmoid's derivative, but {show(x)} is a tanh, whose " \
                            f"derivative is {show(right)}"
            inner = x.args[1] if isinstance(x, Op) and x.op == "-" and \
                x.args[0] == Num("1") else None
            sq = _squared(inner) if inner is not None else None
            if sq is not None and _is_output(sq, model, "sigmoid"):  # tanh′'s 1 − X² of σ
                right = Op("⊙", (sq, _one(sq)))
                new = [right if k == i else f for k, f in enumerate(parts)]
                yield "activation-swap", replace(rhs, path, chain(new, node.op)), \
                    f"tanh′ where σ′ belongs: {show(x)} is tanh's derivative, but " \
                    f"{show(sq)} is a sigmoid, whose derivative is {show(right)}"


def _complements(rhs: object, names: MatrixNames, model: Structure, positions: list,
                 replace: Callable) -> Iterator[tuple[str, object, str]]:
    for gate in model.complements:
        def is_gate(x: object, gate: str = gate) -> bool:
            return isinstance(x, Ref) and x.base == gate

        def swap(x: object) -> object | None:
            if isinstance(x, Op) and x.op == "-" and x.args[0] == Num("1") and \
                    is_gate(x.args[1]):
                return x.args[1]
            return _one(x) if is_gate(x) else None

        line = next((ln for ln in names.spec.cell if f"1 - {gate}_" in ln.replace("−", "-")),
                    None)
        where = f" (the model's line: {line})" if line else ""
        spots = [(p, n) for p, n in positions if swap(n) is not None and
                 not (is_gate(n) and _in_complement(rhs, p, is_gate))]
        if not spots:
            continue
        if len(spots) > 1:
            yield "complement", rebuild(rhs, swap), \
                f"{gate} and 1 − {gate} swapped: the formula holds with every {gate} and " \
                f"1 − {gate} exchanged{where}"
        for p, n in spots:
            yield "complement", replace(rhs, p, swap(n)), \
                f"{gate} and 1 − {gate} swapped: {show(n)} should be {show(swap(n))}{where}"


def _in_complement(root: object, path: tuple, is_gate: Callable) -> bool:
    """Whether the node at ``path`` is the X of a 1 − X."""
    node = root
    for fld, i in path[:-1]:
        node = node.args[i] if fld == "args" else node.body
    return isinstance(node, Op) and node.op == "-" and node.args[0] == Num("1") and \
        is_gate(node.args[1]) and bool(path)
