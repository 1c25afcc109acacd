"""Matrix models (the article's Elman RNN, V1-V4, and any model file with ``[shapes]``):
equations over matrices and vectors, unrolled.

The same equation grammar as the scalar models reads the cell; every name with a shape
becomes a SymPy ``MatrixSymbol``, so ``U x_t + W s_{t-1}`` is a matrix expression.  The
unrolled graph has a copy of each weight per step (W_0, W_1, …), as the scalar one does.

    >>> g = unroll_vector(steps=2, hidden=3, inputs=2, classes=4)
    >>> g.nodes[sp.MatrixSymbol("z_1", 3, 1)].expr
    U_1*x_1 + W_1*s_0
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from bptt_sym.errors import BpttError, UsageError
from bptt_sym.graph.build import Graph, Node
from bptt_sym.model.checks import function_arities
from bptt_sym.model.registry import MODELS
from bptt_sym.model.shapes import MAX_SIZE, fitting, matrix_functions, with_derived
from bptt_sym.model.spec import ModelSpec
from bptt_sym.notation import step_symbol
from bptt_sym.rules.expressions import MATRIX_FUNCTIONS, Apply, EntrySum, Softmax, Stack, Xent
from bptt_sym.rules.functions import rule_names
from bptt_sym.rules.matrix import edge_jacobians
from bptt_sym.syntax.equations import Ref, Template, parse_equation

__all__ = ["Apply", "Softmax", "Xent", "EntrySum", "ELMAN",
           "unroll_vector", "matrix_symbol", "model_sizes", "MAX_SIZE", "ACTIVATIONS",
           "unused_parameters", "unused_text"]


ELMAN = MODELS["elman"]  # the built-in file, read once (models.py)




ACTIVATIONS = tuple(n for n in rule_names("activation") if n != "f") + ("f",)  # f: abstract
_OPTION = {"H": "--hidden", "D": "--inputs", "K": "--classes"}


def model_sizes(spec: ModelSpec, sizes: Mapping[str, int] | None = None, *,
                hidden: int | None = None, inputs: int | None = None,
                classes: int | None = None) -> dict[str, int]:
    """The size of each letter: the model's defaults, then ``sizes``, then elman's spellings
    (``hidden`` is H, ``inputs`` D, ``classes`` K); each checked."""
    dims = dict(spec.sizes)
    dims.update({k: v for k, v in (sizes or {}).items() if k not in spec.derived_sizes})
    for letter, value in (("H", hidden), ("D", inputs), ("K", classes)):
        if value is not None:
            dims[letter] = value
    for letter, value in dims.items():
        option = _OPTION.get(letter, f"--size {letter}=") if letter in spec.sizes else None
        if option is None:
            raise UsageError(f"--size {letter}=: model {spec.name} has no size {letter}; its "
                             f"sizes are {', '.join(spec.sizes)}")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIZE:
            raise UsageError(f"{option} must be a whole number from 1 to {MAX_SIZE}, got "
                             f"{value!r}")
    full = with_derived(spec.derived_sizes, dims)
    for letter, value in (sizes or {}).items():  # a derived size given: only its own value
        if letter in spec.derived_sizes and value != full[letter]:
            parts = " + ".join(spec.derived_sizes[letter])
            raise UsageError(f"--size {letter}=: {letter} is {parts} in model {spec.name} "
                             f"({full[letter]} here); set those sizes instead")
    return full


def matrix_symbol(spec: ModelSpec, dims: Mapping[str, int], base: str,
                  step: int | None, name: str | None = None) -> sp.Basic:
    """The symbol of ``base`` at ``step`` (or called ``name``): a MatrixSymbol of its shape,
    a Symbol for a scalar (E_t)."""
    name = name or step_symbol(base, step).name
    if base not in spec.shapes:
        return sp.Symbol(name)
    rows, cols = (dims.get(d, 1) if d != "1" else 1 for d in spec.shapes[base])
    return sp.MatrixSymbol(name, rows, cols)


def _without(expr: sp.Basic, absent: set[sp.Basic], line: str) -> sp.Basic:
    """``expr`` with every term that holds an absent symbol (a bias left out, a zero initial
    state) dropped from its sum."""
    if not (expr.free_symbols | expr.atoms(sp.MatrixSymbol)) & absent:
        return expr
    if isinstance(expr, (sp.MatAdd, sp.Add)):
        kept = [_without(a, absent, line) for a in expr.args
                if not ((a.free_symbols | a.atoms(sp.MatrixSymbol)) & absent)
                or not _is_product_of(a, absent)]
        if not kept:
            return sp.ZeroMatrix(*expr.shape) if isinstance(expr, MatrixExpr) else sp.S.Zero
        if len(kept) == 1:
            return kept[0]
        return sp.MatAdd(*kept) if isinstance(expr, MatrixExpr) else sp.Add(*kept)
    if _is_product_of(expr, absent):
        return sp.ZeroMatrix(*expr.shape) if isinstance(expr, MatrixExpr) else sp.S.Zero
    if isinstance(expr, Stack):  # [h_{-1}; x_0]: the zero state as zeros of its shape
        return Stack(*(sp.ZeroMatrix(*a.shape) if a in absent else _without(a, absent, line)
                       for a in expr.parts))
    if isinstance(expr, (sp.MatMul, sp.HadamardProduct)) and expr.has(Stack):  # W [h; x]
        return expr.func(*(_without(a, absent, line) for a in expr.args))
    if isinstance(expr, (Apply, Softmax, EntrySum, Xent, sp.Transpose)):  # f(U x + W h_{-1})
        return expr.func(*(a if isinstance(a, sp.core.symbol.Str) else _without(a, absent, line)
                           for a in expr.args))
    raise UsageError(f"in {line!r}: {', '.join(sorted(map(str, absent)))} (left out, or a zero "
                     "initial state) may only appear as a term of a sum or a factor of one")


def _renamed(expr: sp.Basic, mapping: Mapping[sp.Basic, sp.Basic]) -> sp.Basic:
    """``expr.xreplace(mapping)``, a scalar sum kept in its written order (E = E_0 + E_1 +
    … + E_10, not SymPy's E_0 + E_1 + E_10 + …: the order the forward pass adds in)."""
    if isinstance(expr, sp.Add):
        return sp.Add(*(_renamed(a, mapping) for a in expr.args), evaluate=False)
    if isinstance(expr, sp.Mul) and any(isinstance(a, sp.Add) for a in expr.args):
        return sp.Mul(*(_renamed(a, mapping) for a in expr.args), evaluate=False)
    return expr.xreplace(mapping)


def unused_parameters(graph: Graph) -> tuple[str, ...]:
    """The model's parameters (of this unrolling) that the graph has no copy of."""
    return tuple(p for p in graph.spec.parameters_for(graph.bias) if p not in graph.copies)


def unused_text(graph: Graph, name: str) -> str:
    """Why ``name`` has no gradient to derive here."""
    return (f"{name} is not used at --steps {graph.steps}: the only term it is in multiplies a "
            f"zero initial state, so its gradient is 0; use a larger --steps")


def _is_product_of(expr: sp.Basic, absent: set[sp.Basic]) -> bool:
    """True when ``expr`` is zero because a factor of it is absent."""
    if expr in absent:
        return True
    if isinstance(expr, (sp.MatMul, sp.HadamardProduct, sp.Mul)):
        return any(_is_product_of(a, absent) for a in expr.args)
    if isinstance(expr, sp.Transpose):
        return _is_product_of(expr.arg, absent)
    return False


def unroll_vector(spec: ModelSpec = ELMAN, *, steps: int = 2,
                  sizes: Mapping[str, int] | None = None, hidden: int | None = None,
                  inputs: int | None = None, classes: int | None = None, bias: bool = False,
                  activation: str = "tanh") -> Graph:
    """Unroll a matrix model over ``steps`` steps; ``sizes`` (and elman's spellings hidden,
    inputs, classes) replace the model's default sizes.  A parameter that no equation of
    these steps reads (one that multiplies only a zero initial state, at T = 1) has no
    copies and is no parameter of the graph: :func:`unused_parameters` names it."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_SIZE:
        raise UsageError(f"--steps must be a whole number from 1 to {MAX_SIZE}, got {steps!r}")
    dims = model_sizes(spec, sizes, hidden=hidden, inputs=inputs, classes=classes)
    if activation not in ACTIVATIONS:
        raise UsageError(f"unknown activation {activation!r} for {spec.name}; choose one of "
                         f"{', '.join(ACTIVATIONS[:-1])}, or f (abstract)")
    params = spec.parameters_for(bias)
    functions = matrix_functions(function_arities(spec.functions) | MATRIX_FUNCTIONS)
    for letter, role in spec.functions.items():
        if role == "activation":
            functions[letter] = lambda z, a=activation: Apply(a, z)

    def placeholder(ref: Ref) -> sp.Basic:
        return matrix_symbol(spec, dims, ref.base, None, ref.placeholder().name)

    def parse(line: str, summed: bool) -> Template:
        try:
            tpl = parse_equation(line, functions=functions, symbol=placeholder,
                                 steps=steps if summed else None)
            fitting(tpl.rhs, line)
            return tpl
        except BpttError as exc:
            raise UsageError(f"model {spec.name}: {exc}") from None

    nodes: dict[sp.Basic, Node] = {}
    copies: dict[str, list] = {p: [] for p in params}
    left_out = set(spec.parameters) - set(params)

    def leaf(ref: Ref, t: int) -> sp.Basic:
        if ref.base in params:
            sym = matrix_symbol(spec, dims, ref.base, t)
            if sym not in nodes:
                nodes[sym] = Node(sym, ref.base, t, "parameter", parameter=ref.base)
                copies[ref.base].append(sym)
            return sym
        step = ref.step(t, steps)
        sym = matrix_symbol(spec, dims, ref.base, step)
        if sym not in nodes:
            kind = {True: "initial"}.get(ref.base in spec.states and step == -1) or \
                ("input" if ref.base in spec.inputs else
                 "target" if ref.base in spec.targets else None)
            if kind is None:
                raise UsageError(f"model {spec.name}: {sym} is used before it is defined")
            nodes[sym] = Node(sym, ref.base, step, kind)
        return sym

    def absent(ref: Ref, t: int) -> bool:
        return ref.base in left_out or (
            ref.base in spec.states and ref.step(t, steps) == -1
            and spec.initial_value(ref.base) == "zero")

    def add(tpl: Template, t: int, step: int | None) -> None:
        gone = {p for p, r in tpl.refs.items() if absent(r, t)}
        rhs = _without(tpl.rhs, gone, tpl.source) if gone else tpl.rhs
        present = rhs.free_symbols | rhs.atoms(sp.MatrixSymbol)
        mapping = {p: leaf(r, t) for p, r in tpl.refs.items() if p in present}
        sym = matrix_symbol(spec, dims, tpl.lhs.base, step)
        parents = tuple(dict.fromkeys(v for p, v in mapping.items() if rhs.has(p)))
        nodes[sym] = Node(sym, tpl.lhs.base, step, "node", _renamed(rhs, mapping), parents)

    cell = [parse(e, False) for e in spec.cell]
    for t in range(steps):
        for tpl in cell:
            add(tpl, t, t)
    for line in spec.head:
        add(parse(line, True), steps - 1, None)
    children: dict[sp.Basic, list[sp.Basic]] = {n: [] for n in nodes}
    local: dict[tuple[sp.Basic, sp.Basic], sp.Basic] = {}
    for n, node in nodes.items():
        for p in node.parents:
            children[p].append(n)
        if node.expr is not None:
            local.update(edge_jacobians(n, node, lambda x: getattr(nodes.get(x), "kind", "")))
    return Graph(spec=spec, steps=steps, choices={"activation": activation}, nodes=nodes,
                 children={k: tuple(v) for k, v in children.items()}, local=local,
                 copies={k: tuple(v) for k, v in copies.items() if v}, dims=dims, bias=bias)
