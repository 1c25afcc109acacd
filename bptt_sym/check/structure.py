"""The parts of a matrix model that the diagnoses of :mod:`bptt_sym.check.explain_matrix` use, read
from its unrolled graph, never from its names: the error ŷ − y of every softmax read by a
cross-entropy, every node that is an elementwise function of a node (s_t = f(z_t)), the
weight that multiplies the previous state (W in z_t = U x_t + W s_{t-1}) and the weight that
multiplies the state in the logits of an error (V in l_t = V s_t).

    >>> from bptt_sym.graph.names import MatrixNames
    >>> from bptt_sym.graph.matrix import ELMAN
    >>> model = structure(MatrixNames(ELMAN, steps=2))
    >>> model.errors, model.activations, model.back
    ([('yhat', 'y', 'l')], [('f', 'tanh', 's', 'z')], [('W', 's', 'z', True)])
    >>> derivative_text("tanh", "s", "z", ("var", "t", 0))
    "tanh'(z_t) = 1 − s_t ⊙ s_t"
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import sympy as sp

from bptt_sym.errors import BpttError
from bptt_sym.graph.matrix import Apply, Softmax, Xent, unroll_vector
from bptt_sym.graph.names import MatrixNames, default_shapes
from bptt_sym.rules.functions import RULES
from bptt_sym.syntax.formula import Call, Num, Op, Ref
from bptt_sym.syntax.text import show

__all__ = ["Structure", "structure", "derivative_text", "derivative_formula"]

_FORMULA_FUNCTIONS = ("tanh", "sigmoid", "relu")  # the activations a formula can name


@dataclass
class Structure:
    """The parts of a model that the diagnoses use, read from its unrolled graph.

    ``errors``: (prediction, target, logits) of each softmax read by a cross-entropy;
    ``activations``: (the formula's name of the function, its name in the rule table,
    output: None for a call inside a line, as tanh(c_t) in h_t = o_t ⊙ tanh(c_t), argument:
    None for one that is no node) of each node that is an elementwise function
    (s_t = f(z_t); c_t = tanh(W x_t)) and of each call of one on a node; ``back``:
    (weight, state, node, left) where the node multiplies the previous step's state by the
    weight (from the left: ``left``); ``own``: (weight, state, error, left) where the logits
    of an error multiply this step's state by the weight; ``complements``: each node X whose
    complement 1 − X a line uses (a GRU's update gate z in (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}).
    """

    errors: list[tuple[str, str, str]] = field(default_factory=list)
    activations: list[tuple[str, str, str, str]] = field(default_factory=list)
    back: list[tuple[str, str, str, bool]] = field(default_factory=list)
    own: list[tuple[str, str, tuple[str, str, str], bool]] = field(default_factory=list)
    complements: list[str] = field(default_factory=list)


def structure(names: MatrixNames) -> Structure:
    """The :class:`Structure` of ``names``' model, from its graph over two steps (once)."""
    found = names._structure
    if found is None:
        try:
            graph = unroll_vector(names.spec, steps=2, sizes=default_shapes(names.spec)[0],
                                  bias=names.bias, activation=names.activation)
        except BpttError:
            found = Structure()
        else:
            found = _structure(graph, names)
        names._structure = found
    return found


def _structure(graph: object, names: MatrixNames) -> Structure:
    nodes = graph.nodes
    out = Structure()

    def base(x: object, step: int | None = 1, kind: str | None = None) -> str | None:
        node = nodes.get(x)
        if node is None or (step is not None and node.step != step) or \
                (kind is not None and node.kind != kind):
            return None
        return node.base

    def pairs(expr: sp.Basic) -> Iterator[tuple[object, object]]:
        for m in sp.preorder_traversal(expr):
            if isinstance(m, sp.MatMul) and len(m.args) == 2:
                yield m.args

    states = set(names.spec.states)
    cell = [n for n in nodes.values() if n.step == 1 and isinstance(n.expr, sp.Basic)]
    for node in cell:
        for x in sorted(node.expr.atoms(Xent), key=str):
            pred, target = nodes.get(x.args[0]), base(x.args[1], kind="target")
            if pred is not None and target is not None and isinstance(pred.expr, Softmax):
                logits = base(pred.expr.arg)
                if logits is not None:
                    out.errors.append((pred.base, target, logits))
    for node in cell:
        if isinstance(node.expr, Apply):
            act = node.expr.name
            call = min(names.activations) if names.activations and \
                act == names.activation else act
            if call in _FORMULA_FUNCTIONS or call in names.activations:
                out.activations.append((call, act, node.base, base(node.expr.arg)))
        elif isinstance(node.expr, sp.Basic):
            for a in sp.preorder_traversal(node.expr):
                if isinstance(a, Apply) and a.name in _FORMULA_FUNCTIONS and \
                        base(a.arg) is not None and \
                        (a.name, a.name, None, base(a.arg)) not in out.activations:
                    out.activations.append((a.name, a.name, None, base(a.arg)))
        for m in sp.preorder_traversal(node.expr):
            if isinstance(m, sp.MatAdd) and any(isinstance(a, sp.OneMatrix) for a in m.args):
                for a in m.args:
                    x = -a if a.could_extract_minus_sign() else None
                    b = base(x, step=None) if x is not None else None
                    if b is not None and b not in out.complements:
                        out.complements.append(b)
        for a, b in pairs(node.expr):
            for w, s, left in ((a, b, True), (b, a, False)):
                weight = base(w, kind="parameter")
                if weight is None:
                    continue
                if base(s, 0) in states:
                    out.back.append((weight, base(s, 0), node.base, left))
                elif base(s) in states:
                    out.own += [(weight, base(s), e, left) for e in out.errors
                                if e[2] == node.base]
    return out


def derivative_text(act: str, out: str, arg: str | None, step: tuple) -> str:
    """f'(z_t), with its value in node values for a concrete activation (1 − s_t ⊙ s_t),
    from the rule table; f'(…) for an argument that has no name."""
    text = f"{act}'({show(Ref(arg, step, 0)) if arg else '…'})"
    value = derivative_formula(act, out, arg, step)
    return text if value is None else f"{text} = {show(value)}"


def derivative_formula(act: str, out: str, arg: str | None, step: tuple) -> object | None:
    """The rule table's derivative of the activation ``act`` as a formula in ``out`` (and
    ``arg``) at ``step``: 1 − s_t ⊙ s_t for tanh; None for an abstract one, or one that
    needs an argument without a name."""
    if ("activation", act) not in RULES or act == "f":
        return None
    z, s = sp.Symbol("z"), sp.Symbol("s")
    refs = {s: Ref(out, step, 0) if out else Call(act, False, (Ref(arg, step, 0),), 0)}
    if arg is not None:
        refs[z] = Ref(arg, step, 0)
    return _formula(RULES[("activation", act)].derivative(z, out=s), refs)


def _formula(expr: sp.Expr, refs: dict) -> object | None:
    """A rule's derivative as a formula of the checker's grammar (⊙ for products, step for
    the Heaviside step); None for what it cannot write."""
    if expr in refs:
        return refs[expr]
    if expr.is_Integer:
        return Num(str(expr))
    parts = [_formula(a, refs) for a in (expr.args[:1] if isinstance(expr, sp.Heaviside)
                                         else expr.args)]
    if None in parts or not parts:
        return None
    if isinstance(expr, sp.Heaviside):
        return Call("step", False, tuple(parts), 0)
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 1:
        parts = [parts[0]] * int(expr.exp)
    elif not isinstance(expr, (sp.Mul, sp.Add)):
        return None
    out = parts[0]
    for term, part in zip(expr.args[1:], parts[1:]):
        if isinstance(expr, sp.Add) and term.could_extract_minus_sign():
            part = _formula(-term, refs)
            if part is None:
                return None
            out = Op("-", (out, part))
        else:
            out = Op("+" if isinstance(expr, sp.Add) else "⊙", (out, part))
    return out
