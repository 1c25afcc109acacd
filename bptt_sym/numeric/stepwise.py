"""Run derived equations step by step: one compiled function per distinct step, a loop over t.

The unrolled graph is T copies of one cell, and so are the equations derived from it: the
forward pass, the adjoints of the delta form, the layers of the nested closed form.  Each
equation is *anchored* at a step t, and its symbols are renamed relative to t (``s_{t-1}``
becomes "s, one step before the anchor").  The steps whose equations read the same after
renaming share one function made by ``lambdify``, and a plain Python loop calls it: the
generated code does not grow with T, and a step's temporaries die when its call returns.

A quantity (s, ∂E/∂z, a parameter) is a *slot* with one value per step; a stored value is
released after the last call that reads it.  Every symbol is renamed to a generated
identifier before ``lambdify`` sees it.

    >>> from bptt_sym.graph.build import unroll
    >>> from bptt_sym.numeric.compiled import compile_gradients
    >>> c = compile_gradients(unroll("doc", steps=100, activation="tanh"), form="delta")
    >>> len(c.fn.calls), len(c.fn.schedule)  # forward step, head, backward steps T-1 and t
    (4, 201)
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import sympy as sp

from bptt_sym.deep import run_deep
from bptt_sym.errors import BpttError, UsageError
from bptt_sym.graph.build import Graph
from bptt_sym.notation import Partial
from bptt_sym.numeric.anchors import Block, Carry, Unit, value_atoms

__all__ = ["Program", "build"]

Sym = sp.Symbol


# ---- running: the program, a loop over the compiled steps ---------------------------------

@dataclass(frozen=True)
class _Call:
    fn: Callable[..., list]
    reads: tuple[tuple[int, int | None], ...]   # (slot, step + 1 - anchor); None: no step
    writes: tuple[tuple[int, int | None], ...]  # the same, for the values it stores
    adds: tuple[int, ...]                        # outputs that its remaining values add to


@dataclass(frozen=True)
class Program:
    """The compiled steps and the order to call them in, over one flat list of values.

    ``calls`` are the distinct compiled functions.  ``schedule`` holds the calls in order:
    function, getter of its arguments, positions of the values it stores, outputs it adds
    to, and the positions it is the last to read (released after it, so memory holds only
    what later steps still need).  ``leaves`` says where each argument goes.
    """

    size: int
    calls: tuple[_Call, ...]
    schedule: tuple[tuple, ...]
    leaves: tuple[tuple[bool, tuple[int, ...]], ...]
    n_out: int

    def __call__(self, *args: object) -> list[np.ndarray]:
        """The outputs for arguments in lambdify's order: one array per leaf name, or for
        ``x`` an array with one row per step."""
        values: list = [None] * self.size
        firsts = []
        for (rows, places), arg in zip(self.leaves, args):
            given = arg if rows else (arg,)
            if len(given) != len(places):
                raise UsageError(f"expected {len(places)} rows (one per step), got {len(given)}")
            firsts.append(given[0])
            for i, v in zip(places, given):
                values[i] = v
        shape = np.broadcast(*firsts).shape
        out = [np.zeros(shape) for _ in range(self.n_out)]
        for fn, get, writes, adds, done in self.schedule:
            result = fn(*get(values))
            for i, v in zip(writes, result):
                values[i] = v
            for j, v in zip(adds, result[len(writes):]):
                out[j] += v
            for i in done:
                values[i] = None
        return out


def build(graph: Graph, blocks: list[Block], inputs: Mapping[str, tuple[Sym, ...]], *,
          n_out: int, natural: list[Unit] | None = None,
          lower: Callable[[sp.Expr], sp.Expr] = lambda e: e) -> Program:
    """Compile ``blocks`` (run in order; an int anchor t reads step t's values) into one
    function of ``inputs`` (name -> its leaf symbols; ``x`` comes as one row per step).

    ``lower`` rewrites each expression before it is compiled (explicit formulas for the
    rule functions).  When the blocks cannot run in that order, the units of ``natural``
    (all of them, in an order that works) become one block of straight-line code.
    """
    try:
        return run_deep(_build, graph, blocks, inputs, n_out, lower)
    except _Unordered:
        if natural is None:
            raise BpttError("internal error: derived equations out of order") from None
        return run_deep(_build, graph, [(None, natural)], inputs, n_out, lower)


class _Unordered(Exception):
    """A value is read before any block computes it: the blocks cannot run in this order."""


def _build(graph: Graph, blocks: list[Block], inputs: Mapping[str, tuple[Sym, ...]],
           n_out: int, lower: Callable[[sp.Expr], sp.Expr]) -> Program:
    b = _Builder(graph, lower)
    merged = _merge(blocks)
    keys = [b.template(a, units) for a, units in merged]
    args = {k: b.reads(k[1]) for k in dict.fromkeys(keys)}
    needed = {b.place[s][0] for reads in args.values() for s in reads}
    calls = {k: b.compile(k[1], args[k], needed) for k in args}
    size = graph.steps + 1  # steps -1 … T-1; a value without a step is at 0 of its slot

    def at(t: int, place: tuple[int, int | None]) -> int:
        i, k = place
        return i * size + (0 if k is None else t + k)
    leaves = tuple((rows, tuple(at(0, p) for p in places)) for rows, places in b.leaves(inputs))
    steps = [(c, tuple(at(a or 0, p) for p in c.reads), tuple(at(a or 0, p) for p in c.writes))
             for c, a in ((calls[k], a) for k, (a, _) in zip(keys, merged)) if c]
    schedule = tuple((c.fn, _getter(reads), writes, c.adds, done)
                     for (c, reads, writes), done in zip(steps, _releases(steps, leaves)))
    return Program(len(b.slots) * size, tuple(c for c in calls.values() if c), schedule,
                   leaves, n_out)


def _merge(blocks: list[Block]) -> list[Block]:
    """Drop empty blocks; consecutive one-off blocks become one call."""
    merged: list[Block] = []
    for anchor, units in blocks:
        if merged and anchor is None and merged[-1][0] is None:
            merged[-1][1].extend(units)
        elif units:
            merged.append((anchor, list(units)))
    return merged


def _getter(places: tuple[int, ...]) -> Callable[[list], tuple]:
    if len(places) == 1:
        return lambda values: (values[places[0]],)
    return operator.itemgetter(*places) if places else lambda values: ()


def _releases(steps: list[tuple], leaves: tuple) -> list[tuple[int, ...]]:
    """For each call, the positions it is the last to read.  Checks on the way that every
    read finds a value written before it (by an argument or an earlier call)."""
    have = {i for _, places in leaves for i in places}
    last: dict[int, int] = {}
    for n, (_, reads, writes) in enumerate(steps):
        for i in reads:
            if i not in have:
                raise _Unordered(i)
            last[i] = n
        have.update(writes)
    done: list[list[int]] = [[] for _ in steps]
    for i, n in last.items():
        done[n].append(i)
    return [tuple(d) for d in done]


class _Builder:
    """Renames blocks into templates (generated names only) and compiles each template."""

    def __init__(self, graph: Graph, lower: Callable[[sp.Expr], sp.Expr]) -> None:
        self.graph, self.lower = graph, lower
        self.slots: dict[tuple, int] = {}
        self.where: dict[sp.Basic, tuple[int, int | None]] = {}  # atom -> (slot, step)
        self.names: dict[tuple[int, int | None], Sym] = {}  # (slot, shift) -> placeholder
        self.place: dict[Sym, tuple[int, int | None]] = {}  # and back

    def slot(self, atom: sp.Basic, anchor: int | None) -> Sym:
        """The placeholder of ``atom`` in a block anchored at ``anchor``."""
        if atom not in self.where:
            self.where[atom] = self._where(atom)
        i, step = self.where[atom]
        shift = None if step is None else step + 1 - (anchor or 0)
        if (i, shift) not in self.names:
            name = f"v{i}f" if shift is None else f"v{i}{'m' if shift < 0 else 'p'}{abs(shift)}"
            self.names[(i, shift)] = Sym(name)
            self.place[Sym(name)] = (i, shift)
        return self.names[(i, shift)]

    def _where(self, atom: sp.Basic) -> tuple[int, int | None]:
        """The slot of an atom and its step (None: the same value at every step)."""
        if isinstance(atom, Carry):
            key, step = ("c", atom.out), atom.step
        else:
            node = self.graph.nodes.get(atom.den if isinstance(atom, Partial) else atom)
            if node is None:
                raise UsageError(f"cannot evaluate {atom}: it is not a value of the graph "
                                 f"unrolled over {self.graph.steps} steps")
            kind = "d" if isinstance(atom, Partial) else "v"
            key, step = ((kind, node.parameter), None) if node.kind == "parameter" \
                else ((kind, node.base), node.step)
        if step is None:
            key += ("once",)
        return self.slots.setdefault(key, len(self.slots)), step

    def template(self, anchor: int | None, units: list[Unit]) -> tuple:
        """The block with every atom renamed relative to ``anchor``: equal for equal steps."""
        rows = []
        for u in units:
            ren = {a: self.slot(a, anchor) for a in value_atoms(u.expr)}
            target = u.target if isinstance(u.target, int) else self.slot(u.target, anchor)
            rows.append((target, u.expr.xreplace(ren)))
        return anchor is None, tuple(rows)

    def reads(self, rows: tuple) -> list[Sym]:
        """The template's arguments: what it uses before (or without) computing it."""
        defined: set[Sym] = set()
        reads: list[Sym] = []
        for target, expr in rows:
            reads += [s for s in value_atoms(expr) if s not in defined and s not in reads]
            if not isinstance(target, int):
                if target in reads:
                    raise _Unordered(target)
                defined.add(target)
        return reads

    def compile(self, rows: tuple, reads: list[Sym], needed: set[int]) -> _Call | None:
        """One function: ``reads`` -> the values some other call reads, then the outputs."""
        count = itertools.count()
        code: list[tuple[Sym, sp.Expr]] = []
        stored, added, adds, memo = [], [], [], {}
        for target, expr in rows:
            temps, (value,) = _three_address([self.lower(expr)],
                                             lambda: Sym(f"t{next(count)}"), memo)
            code += temps
            if isinstance(target, int):
                added.append(Sym(f"c{next(count)}"))
                adds.append(target)
                code.append((added[-1], value))
            else:
                code.append((target, value))
                if self.place[target][0] in needed:
                    stored.append(target)
        if not stored and not added:
            return None
        outs = stored + added
        code = _prune(code, outs)
        fn = sp.lambdify(reads, outs, modules="numpy", cse=lambda _: (code, outs),
                         docstring_limit=0)
        return _Call(fn, tuple(map(self.place.get, reads)), tuple(map(self.place.get, stored)),
                     tuple(adds))

    def leaves(self, inputs: Mapping[str, tuple[Sym, ...]]) -> list[tuple]:
        """Where each argument goes: ``(rows, ((slot, shift), …))``."""
        plan = []
        for name, syms in inputs.items():
            shared = name in self.graph.copies
            rows = not shared and (name == "x" or len(syms) > 1)
            places = tuple(self.place[self.slot(s, None)] for s in syms[:1 if shared else None])
            plan.append((rows, places))
        return plan


def _prune(code: list[tuple[Sym, sp.Expr]], outs: list[Sym]) -> list[tuple]:
    """Drop the lines no output needs, and delete each temporary after its last use, so a
    call holds only the arrays still to be read (``(name, None)`` is ``del name``)."""
    needed = set(outs)
    kept = []
    for lhs, rhs in reversed(code):
        if lhs in needed:
            kept.append((lhs, rhs))
            needed.update(value_atoms(rhs))
    kept.reverse()
    last = {s: n for n, (_, rhs) in enumerate(kept) for s in value_atoms(rhs)}
    local = {lhs for lhs, _ in kept} - set(outs)
    out: list[tuple] = []
    for n, (lhs, rhs) in enumerate(kept):
        out.append((lhs, rhs))
        out += [(s, None) for s in value_atoms(rhs) if s in local and last[s] == n]
    return out


def _three_address(exprs: list[sp.Expr], fresh: Callable[[], Sym],
                   memo: dict[sp.Expr, sp.Expr] | None = None) -> tuple[list, list]:
    """Give every sum its own temporary, so nesting (as deep as T) never recurses deeply."""
    pairs: list[tuple[Sym, sp.Expr]] = []
    memo = {} if memo is None else memo
    out = []
    for root in exprs:
        stack = [(root, False)]
        while stack:
            e, done = stack.pop()
            if e in memo:
                continue
            if not e.args or isinstance(e, (sp.Number, Sym)):
                memo[e] = e
                continue
            if not done:
                stack.append((e, True))
                stack.extend((a, False) for a in e.args if a not in memo)
                continue
            rebuilt = e.func(*[memo[a] for a in e.args], evaluate=False) \
                if isinstance(e, (sp.Add, sp.Mul)) else e.func(*[memo[a] for a in e.args])
            if isinstance(e, sp.Add):
                t = fresh()
                pairs.append((t, rebuilt))
                rebuilt = t
            memo[e] = rebuilt
        out.append(memo[root])
    return pairs, out
