"""Unroll a model into its computation graph: one node per quantity and step.

The cell's equations are parsed and differentiated *once* (local partials per template,
written in node values); each step only renames placeholders to that step's symbols.

    >>> g = unroll("doc", steps=2)
    >>> g.nodes[step_symbol("z", 1)].expr
    a_1 + b_1 + k_1
    >>> g.local[(step_symbol("b", 1), step_symbol("s", 0))]
    w_1
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sympy as sp

from bptt_sym.errors import BpttError, UsageError
from bptt_sym.model.registry import ModelSpec, model_spec
from bptt_sym.notation import split_name, step_symbol
from bptt_sym.rules.functions import ROLES, function_class, rule, rule_names
from bptt_sym.syntax.equations import Ref, Template, parse_equation

__all__ = ["Node", "Graph", "unroll", "MAX_STEPS"]

MAX_STEPS = 100_000


@dataclass(frozen=True)
class Node:
    """A quantity of the unrolled graph.

    ``kind`` is ``"node"`` (defined by an equation), ``"parameter"`` (a step copy of a
    shared parameter), ``"input"``, ``"target"`` or ``"initial"`` (the state at step -1).
    ``nonlinear`` marks nodes defined through a rule function (their local partials stay
    as ∂ symbols in the factored form).
    """

    symbol: sp.Symbol
    base: str
    step: int | None
    kind: str
    expr: sp.Expr | None = None
    parents: tuple[sp.Symbol, ...] = ()
    parameter: str | None = None
    nonlinear: bool = False
    source: str = ""

    @property
    def shape(self) -> tuple[int, int] | None:
        """The rows and columns of a matrix node; None for a scalar."""
        return tuple(self.symbol.shape) if isinstance(self.symbol, sp.MatrixSymbol) else None


@dataclass(frozen=True)
class Graph:
    """The unrolled graph of ``spec`` over ``steps`` steps, in topological order.

    A matrix model's graph (:func:`bptt_sym.graph.matrix.unroll_vector`) has the sizes of its
    letters in ``dims`` (empty for a scalar model), ``bias`` when its optional parameters
    are in, and each edge's local Jacobian in ``local``.
    """

    spec: ModelSpec
    steps: int
    choices: Mapping[str, str]
    nodes: Mapping[sp.Symbol, Node]
    children: Mapping[sp.Symbol, tuple[sp.Symbol, ...]]
    local: Mapping[tuple[sp.Symbol, sp.Symbol], sp.Expr]
    copies: Mapping[str, tuple[sp.Symbol, ...]]
    warnings: tuple[str, ...] = field(default=())
    dims: Mapping[str, int] = field(default_factory=dict)
    bias: bool = False
    _single: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def loss(self) -> sp.Symbol:
        return sp.Symbol(self.spec.loss)

    @property
    def activation(self) -> str:
        return self.choices.get("activation", "f")

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(self.copies)

    @property
    def abstract(self) -> bool:
        """True when activation, output and loss are the abstract f, g, L."""
        return all(rule(r, self.choices[r]).explicit is None for r in ROLES)

    def _order(self) -> dict[sp.Symbol, int]:
        """Each node's position in topological order (computed once)."""
        if "order" not in self._single:
            self._single["order"] = {n: i for i, n in enumerate(self.nodes)}
        return self._single["order"]

    def single_path(self, child: sp.Symbol, parent: sp.Symbol) -> bool:
        """True when the edge is the only path from ``parent`` to ``child``, so that the
        total derivative ∂child/∂parent is this edge's local partial (a GRU's n_t reads
        h_{t-1} directly and through r_t: there the two differ)."""
        key = (child, parent)
        if key not in self._single:
            self._single[key] = not any(
                _reaches(self, q, parent) for q in self.nodes[child].parents if q != parent)
        return self._single[key]

    def _repr_svg_(self) -> str | None:
        """Jupyter: the graph drawn by bptt_sym.export.drawing (None when it cannot be drawn)."""
        from bptt_sym.export.drawing import notebook_svg

        return notebook_svg(self)

    def resolve(self, name: str, *, option: str = "--wrt") -> tuple[sp.Symbol, ...]:
        """The symbols behind ``name``: the copies of a shared parameter, or one symbol."""
        if name in self.copies:
            return self.copies[name]
        sym = _lookup(self, name)
        if sym is None:
            raise UsageError((_matrix_unknown if self.dims else _unknown_message)(
                self, name, option))
        return (sym,)


def _reaches(graph: Graph, start: sp.Symbol, target: sp.Symbol) -> bool:
    """True when ``target`` is an ancestor of ``start`` (or ``start`` itself).  Nodes are
    in topological order, so the search never goes below ``target``'s position."""
    order = graph._order()
    floor = order[target]
    seen, stack = set(), [start]
    while stack:
        n = stack.pop()
        if n == target:
            return True
        if n in seen or order[n] < floor:
            continue
        seen.add(n)
        stack.extend(graph.nodes[n].parents)
    return False


_SPELLING = re.compile(r"^(?P<base>[A-Za-z][A-Za-z]*)_?\{?(?P<step>-?\d+)\}?$")


def _parse_name(name: str) -> tuple[str, int | None]:
    """A user's spelling of a name: s_1, s1, s_{1}, s_-1, s_{-1} or an unindexed q."""
    m = _SPELLING.match(name.replace(" ", ""))
    if m is None:
        return split_name(name.strip())
    return m["base"], int(m["step"])


def _lookup(graph: Graph, name: str) -> sp.Basic | None:
    if "names" not in graph._single:
        graph._single["names"] = {str(n): n for n in graph.nodes}
    names = graph._single["names"]
    return names.get(name.strip()) or names.get(step_symbol(*_parse_name(name)).name)


def _matrix_unknown(graph: Graph, name: str, option: str) -> str:
    """Why ``name`` names nothing in a matrix graph, with names to choose from."""
    base, step = split_name(name.strip())
    last = graph.steps - 1
    if base in graph.spec.parameters_for(graph.bias) and base not in graph.copies:
        return (f"{option} {name!r}: {base} is not used at --steps {graph.steps}: the only term "
                "it is in multiplies a zero initial state, so its gradient is 0")
    if base in graph.copies:
        return (f"{option} {name!r} is not a step copy of {base}; its copies are "
                f"{', '.join(map(str, graph.copies[base]))}")
    if step is not None and any(n.base == base for n in graph.nodes.values()):
        return (f"{option} {name!r} is out of range: with --steps {graph.steps} the steps are "
                f"0..{last} (and -1 for the initial state)")
    bases = ", ".join(sorted({n.base for n in graph.nodes.values() if n.kind == "node"}))
    state, inner, _ = _example_nodes(graph)
    per_step = {graph.nodes[p].base for p in graph.nodes[graph.loss].parents
                if graph.nodes[p].step is not None}
    losses = [f"{b}_{last}" for b in sorted(per_step)]
    if option == "--of":
        such = ", ".join([graph.spec.loss, *losses, *state, *inner])
        return f"unknown --of node {name!r}; choose a node such as {such} (nodes: {bases})"
    copy = _recurrent(graph) or next(iter(graph.copies), "W")
    return (f"unknown {option} name {name!r}; choose a weight ({', '.join(graph.copies)}), a "
            f"step copy such as {copy}_0, or a node such as {', '.join([*state, *inner])} "
            f"(nodes: {bases})")


def _recurrent(graph: Graph) -> str | None:
    """The weight that multiplies the previous state (elman's W), if one does."""
    for node in graph.nodes.values():
        if node.kind != "node" or node.step != graph.steps - 1 or node.expr is None:
            continue
        for term in node.expr.args if isinstance(node.expr, sp.MatAdd) else (node.expr,):
            factors = getattr(term, "args", ())
            prev = [f for f in factors if f in graph.nodes and graph.nodes[f].base in
                    graph.spec.states]
            weights = [graph.nodes[f].parameter for f in factors
                       if f in graph.nodes and graph.nodes[f].kind == "parameter"]
            if isinstance(term, sp.MatMul) and prev and weights:
                return weights[0]
    return None


def _unknown_message(graph: Graph, name: str, option: str) -> str:
    base, step = _parse_name(name)
    last = graph.steps - 1
    if base in graph.copies:
        copies = ", ".join(str(c) for c in graph.copies[base])
        return f"{option} {name!r} is not a step copy of {base}; its copies are {copies}"
    bases = sorted({n.base for n in graph.nodes.values() if n.kind in ("node", "initial")})
    if step is not None and any(n.base == base and n.step is not None
                                for n in graph.nodes.values()):
        return (f"{option} {name!r} is out of range: with --steps {graph.steps} the steps are "
                f"0..{last} (and -1 for the initial state)")
    state, inner, head = _example_nodes(graph)
    if option == "--of":
        such = ", ".join([graph.spec.loss, *reversed(head), *state, *inner])
        return f"unknown --of node {name!r}; choose a node such as {such}"
    params = ", ".join(graph.copies)
    first = next(iter(graph.copies), "u")
    such = ", ".join([*state, *inner, *head])
    return (f"unknown {option} name {name!r}; choose a parameter ({params}), a step copy such "
            f"as {first}_0, or a node such as {such} (nodes: {', '.join(bases)})")


def _example_nodes(graph: Graph) -> tuple[list[str], list[str], list[str]]:
    """Names to suggest: a state at the last step, the cell node defined just before the
    first state (at step 0), and the nodes after the last step (the loss left out)."""
    spec, last = graph.spec, graph.steps - 1
    defined = [line.split("=")[0].strip().removesuffix("_t") for line in spec.cell]
    state = [f"{spec.states[0]}_{last}"] if spec.states else []
    at = defined.index(spec.states[0]) if spec.states and spec.states[0] in defined else 0
    inner = [f"{defined[at - 1]}_0"] if at > 0 else []
    head = [line.split("=")[0].strip() for line in spec.head]
    return state, inner, [h for h in head if h != spec.loss]


def _functions(spec: ModelSpec, choices: Mapping[str, str]) -> dict[str, Callable[..., sp.Expr]]:
    """Function names an equation may call: the spec's role letters (f, g, L), each the
    rule chosen for its role, its abstract functions (of as many arguments as the call
    has), and every concrete rule of the table by its own name."""
    from bptt_sym.rules.functions import ABSTRACT, abstract_class

    fns: dict[str, Callable[..., sp.Expr]] = {"exp": sp.exp, "log": sp.log}
    for letter, role in spec.functions.items():
        if role == ABSTRACT:
            fns[letter] = (lambda name: lambda *a: abstract_class(name, len(a))(*a))(letter)
            continue
        r = rule(role, choices[role])
        cls = function_class(r)
        fns[letter] = (lambda c, n: lambda *a: c(*a[:n]))(cls, r.arity)
    for role in ROLES:
        for name in rule_names(role):
            r = rule(role, name)
            if r.explicit is not None and name != "softmax":
                fns.setdefault(name, function_class(r))
    return fns


@dataclass(frozen=True)
class _Prepared:
    """A template with its parents in source order and its local partials, done once."""

    template: Template
    parents: tuple[sp.Symbol, ...]
    partials: tuple[sp.Expr, ...]
    nonlinear: bool


def _prepare(t: Template) -> _Prepared:
    free = t.rhs.free_symbols
    parents = tuple(p for p in t.refs if p in free)
    own = t.lhs.placeholder()
    # Derivatives of f(z) come out in f(z) itself; write them in the node's own symbol.
    partials = tuple(sp.diff(t.rhs, p).xreplace({t.rhs: own}) for p in parents)
    return _Prepared(t, parents, partials, bool(t.rhs.atoms(sp.Function)))


class _Builder:
    def __init__(self, spec: ModelSpec, steps: int) -> None:
        self.spec, self.steps = spec, steps
        self.nodes: dict[sp.Symbol, Node] = {}
        self.local: dict[tuple[sp.Symbol, sp.Symbol], sp.Expr] = {}
        self.copies: dict[str, list[sp.Symbol]] = {p: [] for p in spec.parameters}

    def leaf(self, ref: Ref, t: int) -> sp.Expr:
        spec = self.spec
        step = ref.step(t, self.steps)
        if ref.base in spec.states and step == -1 and spec.initial_value(ref.base) == "zero":
            return sp.S.Zero
        if ref.base in spec.parameters:
            sym = step_symbol(ref.base, t)
            if sym not in self.nodes:
                self.nodes[sym] = Node(sym, ref.base, t, "parameter", parameter=ref.base)
                self.copies[ref.base].append(sym)
            return sym
        sym = step_symbol(ref.base, step)
        if sym in self.nodes:
            return sym
        if ref.base in spec.inputs and step is not None and 0 <= step < self.steps:
            kind = "input"
        elif ref.base in spec.targets:
            kind = "target"
        elif ref.base in spec.states and step == -1:
            kind = "initial"
        else:
            raise BpttError(f"model {spec.name}: {sym} is used before it is defined")
        self.nodes[sym] = Node(sym, ref.base, step, kind)
        return sym

    def add(self, prep: _Prepared, t: int) -> None:
        tpl = prep.template
        mapping = {p: self.leaf(r, t) for p, r in tpl.refs.items()}
        sym = step_symbol(tpl.lhs.base, tpl.lhs.step(t, self.steps))
        mapping[tpl.lhs.placeholder()] = sym
        expr = tpl.rhs.xreplace(mapping)
        free = expr.free_symbols
        # A zero initial state is no parent, nor is what it multiplies (un·h_{-1} = 0).
        edges = [(mapping[p], d) for p, d in zip(prep.parents, prep.partials)
                 if mapping[p] in free]
        parents = tuple(p for p, _ in edges)
        self.nodes[sym] = Node(sym, tpl.lhs.base, tpl.lhs.step(t, self.steps), "node",
                               expr, parents, None, prep.nonlinear, tpl.source)
        for p, d in edges:
            self.local[(sym, p)] = d.xreplace(mapping)


def unroll(model: str | ModelSpec = "doc", *, steps: int = 2, activation: str | None = None,
           output: str = "g", loss: str = "L", sizes: Mapping[str, int] | None = None,
           bias: bool = False) -> Graph:
    """Unroll ``model`` over ``steps`` steps (t = 0 … steps-1) with the chosen functions.

    A matrix model (one with ``[shapes]``, such as elman) takes its ``sizes`` (letter:
    size) and ``bias`` (its optional parameters); its activation is tanh unless given.

    >>> unroll("doc", steps=3, activation="tanh").copies["u"]
    (u_0, u_1, u_2)
    >>> unroll("elman", steps=2, sizes={"H": 4}).dims
    {'H': 4, 'D': 3, 'K': 3}
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise UsageError(f"--steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
    spec = model_spec(model) if isinstance(model, str) else model
    if spec.is_matrix:
        from bptt_sym.graph.matrix import unroll_vector  # the same stage, built on this one

        return unroll_vector(spec, steps=steps, sizes=sizes, bias=bias,
                             activation=activation or "tanh")
    if sizes or bias:
        raise UsageError(f"sizes and bias apply to matrix models; {spec.name} is scalar")
    if isinstance(model, str) and not model.endswith(".toml"):  # a built-in: the same graph
        return _unroll_named(model, steps, activation or "f", output, loss)  # again (verify)
    return _unroll(spec, steps, activation or "f", output, loss)


@functools.lru_cache(maxsize=4)
def _unroll_named(model: str, steps: int, activation: str, output: str, loss: str) -> Graph:
    return _unroll(model_spec(model), steps, activation, output, loss)


def _unroll(spec: ModelSpec, steps: int, activation: str, output: str, loss: str) -> Graph:
    choices = {"activation": activation, "output": output, "loss": loss}
    fns = _functions(spec, choices)
    cell = [_prepare(parse_equation(e, functions=fns, steps=steps)) for e in spec.cell]
    head = [_prepare(parse_equation(e, functions=fns, steps=steps)) for e in spec.head]
    b = _Builder(spec, steps)
    for t in range(steps):
        for prep in cell:
            b.add(prep, t)
    for prep in head:
        b.add(prep, steps - 1)
    children: dict[sp.Symbol, list[sp.Symbol]] = {s: [] for s in b.nodes}
    for node in b.nodes.values():
        for p in node.parents:
            children[p].append(node.symbol)
    notes = tuple(rule(r, choices[r]).note for r in ROLES
                  if choices[r] == "softmax" and rule(r, choices[r]).note)
    return Graph(spec, steps, choices, b.nodes, {k: tuple(v) for k, v in children.items()},
                 b.local, {k: tuple(v) for k, v in b.copies.items()}, notes)
