"""Matrix-form BPTT for matrix models: a reverse sweep with vector-Jacobian rules.

The rules live in one table (:data:`bptt_sym.rules.matrix.VJP`), one line each, in the
style of autograd's ``defvjp``: given the adjoint ``g`` of a node, the adjoint it sends to
one argument.  The sweep is the one reverse loop of the scalar derivations too
(:func:`bptt_sym.derivation.sweep.backward`); the model's kept
adjoints (δ_t = ∂E/∂z_t for elman, ``adjoints`` in a model file) are symbols, every other
adjoint is written out in place.

    >>> from bptt_sym.graph.matrix import unroll_vector
    >>> from bptt_sym.printing.leibniz import leibniz
    >>> d = derive_matrix(unroll_vector(steps=3), wrt="W")
    >>> print(leibniz(d.template[1].rhs, "ascii"))
    (V^T @ (yhat_t - y_t) + W^T @ delta_{t+1}) * (1 - s_t * s_t)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from bptt_sym.derivation.forms import Equation
from bptt_sym.derivation.sweep import backward
from bptt_sym.errors import UsageError
from bptt_sym.graph.build import Graph
from bptt_sym.graph.matrix import Apply, EntrySum, Softmax, Xent
from bptt_sym.notation import Partial
from bptt_sym.rules.expressions import Stack
from bptt_sym.rules.matrix import VJP, Diag, act_derivative, elementwise, scaled

__all__ = ["VJP", "MatrixDerivation", "derive_matrix", "elementwise", "Diag", "StepSum",
           "BoundedSum", "StepProduct", "ChainProduct", "adjoint_symbol", "shared",
           "state_jacobian", "per_output", "step_losses", "kept_adjoints",
           "mean_of_step_losses"]

M = MatrixExpr


class StepSum(sp.Expr):
    """Σ_t body, for printing the general form; ``var`` is the step variable's name."""

    is_commutative = False

    def __new__(cls, body: sp.Basic, var: str | sp.Symbol = "t") -> StepSum:
        return sp.Expr.__new__(cls, body, sp.Symbol(str(var)))


class BoundedSum(sp.Expr):
    """Σ_{var=lo}^{hi} body, for printing; the bounds are names such as 0, t, k+1."""

    is_commutative = False

    def __new__(cls, body: sp.Basic, var: str, lo: str, hi: str) -> BoundedSum:
        return sp.Expr.__new__(cls, body, *(sp.Symbol(x) for x in (var, lo, hi)))


class StepProduct(BoundedSum):
    """Π_{var=lo}^{hi} body of matrices, the factor of the highest step on the left."""


class ChainProduct(sp.Expr):
    """A chain of Jacobians in the order the chain rule writes them (not multiplied out)."""

    is_commutative = False

    def __new__(cls, *factors: sp.Basic) -> ChainProduct:
        return sp.Expr.__new__(cls, *factors)


def adjoint_symbol(z: sp.MatrixSymbol, name: str, base: str) -> sp.MatrixSymbol:
    """δ_t, the stored adjoint ∂E/∂z_t of a node (``name`` replaces the node's ``base``)."""
    return sp.MatrixSymbol(name + z.name[len(base):], *z.shape)


def kept_adjoints(graph: Graph) -> dict[str, str]:
    """The nodes whose adjoints are kept as named vectors (the model's ``adjoints``; a
    model file's default is the argument of each state's elementwise function)."""
    return dict(graph.spec.adjoints)


def shared(graph: Graph) -> dict[sp.Basic, sp.Basic]:
    """Every step copy W_t -> the shared W (their values are equal)."""
    out = {}
    for p, copies in graph.copies.items():
        for c in copies:
            out[c] = sp.MatrixSymbol(p, *c.shape)
    return out


def _contributions(graph: Graph, n: sp.Basic, g: sp.Basic) -> list[tuple]:
    """(parent, adjoint it receives) for node ``n`` whose adjoint is ``g``."""
    return _vjp(graph, graph.nodes[n].expr, g, n)


def _vjp(graph: Graph, e: sp.Basic, g: sp.Basic, out: sp.Basic | None = None
         ) -> list[tuple]:
    """The adjoints that ``e`` (with adjoint ``g``) sends to the graph's symbols in it, one
    rule of VJP per operator, down to the nodes and leaves; ``out`` is the node's symbol
    when ``e`` is its whole expression (f'(z) is then written in it: 1 − s ⊙ s)."""
    if e in graph.nodes:
        return [(e, g)]
    if isinstance(e, (sp.ZeroMatrix, sp.OneMatrix)) or getattr(e, "is_Number", False):
        return []
    if isinstance(e, Xent):
        yhat, y = e.args
        soft = graph.nodes[yhat].expr if yhat in graph.nodes else None
        if isinstance(soft, Softmax):  # the fused rule: needs Σ_k y_k = 1
            return [(soft.arg, VJP["xent_softmax"](g, yhat, y))]
        raise UsageError("xent without softmax is not supported")
    if isinstance(e, Apply):
        return _vjp(graph, e.arg, VJP["elementwise"](g, act_derivative(e, out or e)))
    if isinstance(e, Softmax):
        return _vjp(graph, e.arg, VJP["softmax"](g, out or e))
    if isinstance(e, EntrySum):
        return _vjp(graph, e.arg, VJP["entry_sum"](g, e.arg))
    if isinstance(e, sp.Transpose):
        return _vjp(graph, e.arg, VJP["transpose"](g))
    if isinstance(e, Stack):
        spans = _spans(graph, e)
        return [c for i, a in enumerate(e.parts)
                for c in _vjp(graph, a, VJP["stack"](g, e, i, spans[i] if spans else None))]
    if isinstance(e, sp.MatAdd):
        return [c for a in e.args for c in _vjp(graph, a, VJP["add"](g))]
    if isinstance(e, sp.HadamardProduct):
        return [c for i, a in enumerate(e.args)
                for c in _vjp(graph, a, VJP["hadamard"](g, *e.args[:i], *e.args[i + 1:]))]
    if isinstance(e, sp.MatMul):
        scalars = [a for a in e.args if not isinstance(a, MatrixExpr)]
        mats = [a for a in e.args if isinstance(a, MatrixExpr)]
        if any(a.free_symbols & set(graph.nodes) for a in scalars):
            raise UsageError(f"cannot differentiate {e}: a scalar node times a matrix is not "
                             "supported yet")
        if scalars:
            g = VJP["scale"](g, sp.Mul(*scalars))
        if len(mats) == 1:
            return _vjp(graph, mats[0], g)
        A, x = mats[0], mats[1] if len(mats) == 2 else sp.MatMul(*mats[1:])
        return _vjp(graph, x, VJP["matmul_arg"](g, A, x)) + \
            _vjp(graph, A, VJP["matmul_mat"](g, A, x))
    if isinstance(e, sp.Add):  # a scalar combination: E = Σ_t E_t
        return [c for a in e.args for c in _vjp(graph, a, g)]
    if isinstance(e, sp.Mul):  # 1/T (…), E_t * c, …
        return [c for i, a in enumerate(e.args)
                for c in _vjp(graph, a, scaled(sp.Mul(*e.args[:i], *e.args[i + 1:]), g))]
    if not isinstance(e, MatrixExpr) and not (e.atoms(MatrixExpr) & set(graph.nodes)):
        return [(p, scaled(sp.diff(e, p), g)) for p in sorted(e.free_symbols & set(graph.nodes),
                                                              key=str)]
    raise UsageError(f"cannot differentiate {e}: no vector-Jacobian rule for "
                     f"{type(e).__name__}")


def _spans(graph: Graph, e: Stack) -> list[tuple[str, str]] | None:
    """The rows of each part of [h_{t-1}; x_t] in size letters, [("1", "H"), ("H+1", "M")]
    (M when the model derives it as H + D); None when a part's letter is not known."""
    letters = []
    for part in e.parts:
        node = graph.nodes.get(part)
        shape = graph.spec.shapes.get(node.base) if node is not None else None
        if shape is None:  # a zero initial state: the letter of its size, if only one has it
            named = [k for k, n in graph.dims.items() if n == part.shape[0]
                     and k not in graph.spec.derived_sizes]
            shape = (named[0], "1") if len(named) == 1 else None
        if shape is None:
            return None
        letters.append(shape[0])
    spans, before = [], []
    for letter in letters:
        start = "+".join(before + ["1"]) if before else "1"
        stop = "+".join(before + [letter])
        whole = [k for k, v in graph.spec.derived_sizes.items() if list(v) == before + [letter]]
        spans.append((start, whole[0] if whole and before else stop))
        before.append(letter)
    return spans


def state_jacobian(graph: Graph) -> Equation | None:
    """∂s_t/∂s_{t-1} = diag(f'(z_t)) W, by the Jacobian of each edge on the path, templated."""
    if graph.steps < 2 or len(graph.spec.states) != 1:
        return None
    t, state = graph.steps - 1, graph.spec.states[0]
    s_t = next(n for n, node in graph.nodes.items() if node.base == state and node.step == t)
    if not isinstance(graph.nodes[s_t].expr, Apply):
        return None
    z_t = graph.nodes[s_t].expr.arg
    prev = next(n for n, node in graph.nodes.items() if node.base == state and node.step == t - 1)
    terms = graph.nodes[z_t].expr.args if z_t in graph.nodes and \
        isinstance(graph.nodes[z_t].expr, sp.MatAdd) else ()
    fprime = Diag(act_derivative(graph.nodes[s_t].expr, s_t))
    jac = next((sp.MatMul(fprime, term.args[0]) for term in terms  # W s_{t-1}
                if isinstance(term, sp.MatMul) and term.args[1:] == (prev,)), None) or \
        next((sp.MatMul(fprime, sp.Transpose(term.args[1])) for term in terms  # s_{t-1} W
              if isinstance(term, sp.MatMul) and term.args[:1] == (prev,)
              and len(term.args) == 2), None)
    if jac is None:
        return None
    eq = Equation(Partial(s_t, prev), jac.xreplace(shared(graph)), "jacobian")
    return Equation(_template_names(eq.lhs, t), _template_names(eq.rhs, t), eq.kind)


def _named(base: str, index: str, like: sp.Basic) -> sp.Basic:
    """The template symbol base_index (s_k, s_{j-1}, W_k) of the shape of ``like``."""
    name = f"{base}_{index}" if index.isalnum() else f"{base}_{{{index}}}"
    return sp.MatrixSymbol(name, *like.shape) if isinstance(like, sp.MatrixSymbol) else \
        sp.MatrixSymbol(name, 1, 1)


def _downstream(graph: Graph, start: sp.Basic) -> set[sp.Basic]:
    reached = {start}
    for n, node in graph.nodes.items():
        if any(p in reached for p in node.parents):
            reached.add(n)
    return reached


def step_losses(graph: Graph) -> str | None:
    """The name of the per-step losses when the loss is their sum over every step (E =
    Σ_t E_t), else None."""
    loss = graph.nodes[graph.loss]
    bases = {graph.nodes[p].base for p in loss.parents}
    terms = loss.expr.args if isinstance(loss.expr, sp.Add) else (loss.expr,)
    if len(bases) != 1 or len(loss.parents) != graph.steps or set(terms) != set(loss.parents):
        return None
    return bases.pop()


def mean_of_step_losses(graph: Graph) -> bool:
    """Whether the loss is the mean of one loss per step, E = 1/T Σ_t E_t (written as
    (E_0 + … )/T or E_0/T + …)."""
    loss = graph.nodes[graph.loss]
    if loss.expr is None or len(loss.parents) != graph.steps:
        return False
    scale, rest = loss.expr.as_coeff_Mul()
    if isinstance(rest, sp.Add) and scale != 1:  # (E_0 + E_1 + …)/T
        pairs = [(scale, a) for a in rest.args]
    else:  # E_0/T + E_1/T + …
        pairs = [a.as_coeff_Mul() for a in (loss.expr.args if isinstance(loss.expr, sp.Add)
                                              else (loss.expr,))]
    return all(c == sp.Rational(1, graph.steps) for c, _ in pairs) and \
        {a for _, a in pairs} == set(loss.parents) and len(pairs) == graph.steps and \
        len({graph.nodes[p].base for p in loss.parents}) == 1


def per_output(graph: Graph, wrt: str) -> list[tuple[str, Equation]]:
    """V5 per output: the chain that carries E_t back to ``wrt``, read off the graph.

    For a weight inside the recurrence (U, W, b) the chain runs through the states of
    every step k ≤ t: ∂E_t/∂W = Σ_{k=0}^{t} ∂E_t/∂ŷ_t ∂ŷ_t/∂s_t (Π_{j=k+1}^{t}
    ∂s_j/∂s_{j−1}) ∂s_k/∂W_k, with the immediate ∂s_k/∂W_k of step k's copy.  A weight of
    the output (V, c) reaches E_t at step t only.  Each chain comes with its local pieces,
    derived by the reverse sweep of the loss E_t alone.
    """
    spec, t0 = graph.spec, graph.steps - 1
    at = {(node.base, node.step): n for n, node in graph.nodes.items()}
    loss_term = step_losses(graph)
    if loss_term is None or len(spec.states) != 1:
        raise UsageError(f"the per-output form (paths, V5) needs one state and a loss that adds"
                         f" one loss per step (E = sum_t E_t); model {spec.name} has "
                         f"{spec.head[-1]!r}; use --form delta")
    e_t = at[(loss_term, t0)]
    out = next(p for p in graph.nodes[e_t].parents if graph.nodes[p].kind == "node")
    state = at[(spec.states[0], t0)]
    copy = next(c for c in graph.copies[wrt] if graph.nodes[c].step == t0)
    w = sp.MatrixSymbol(wrt, *copy.shape)
    loss_t = sp.MatrixSymbol(f"{loss_term}_t", 1, 1)
    out_t = _named(graph.nodes[out].base, "t", out)
    s = spec.states[0]
    if state in _downstream(graph, copy):
        to_state = () if out == state else (Partial(out_t, _named(s, "t", state)),)
        chain = ChainProduct(Partial(loss_t, out_t), *to_state,
                             StepProduct(Partial(_named(s, "j", state),
                                                 _named(s, "j-1", state)), "j", "k+1", "t"),
                             Partial(_named(s, "k", state), _named(wrt, "k", copy)))
        eqs = [("chain", Equation(Partial(loss_t, w), BoundedSum(chain, "k", "0", "t"),
                                  "chain"))]
        jac = state_jacobian(graph)
        if jac is not None:
            eqs.append(("jacobian", jac))
        piece = state
    else:
        chain = ChainProduct(Partial(loss_t, out_t), Partial(out_t, _named(wrt, "t", copy)))
        eqs = [("chain", Equation(Partial(loss_t, w), chain, "chain"))]
        piece = copy
    alone = dict(graph.nodes)  # the graph whose loss is E_t alone
    alone[graph.loss] = dataclasses.replace(graph.nodes[graph.loss], expr=e_t, parents=(e_t,))
    value, _ = _sweep(dataclasses.replace(graph, nodes=alone), keep=False)
    local = Equation(Partial(loss_t, piece if piece is state else w),
                     value[piece].xreplace(shared(graph)), "local")
    eqs.append(("local", Equation(_template_names(local.lhs, t0),
                                  _template_names(local.rhs, t0), "local")))
    return eqs


@dataclass(frozen=True)
class MatrixDerivation:
    """The matrix form of ∂E/∂wrt: the general template in t and the unrolled equations."""

    wrt: str
    template: tuple[Equation, ...]
    unrolled: tuple[Equation, ...]
    per_output: tuple[Equation, ...]
    graph: Graph = field(repr=False, compare=False)
    terms: tuple[tuple[int, sp.Basic], ...] = ()  # (step k, ∂E/∂wrt_k): the gradient's terms


def _sweep(graph: Graph, keep: bool = True) -> tuple[dict, list[Equation]]:
    """The one reverse sweep (:func:`bptt_sym.derivation.sweep.backward`) with the VJP
    table: adjoint expressions of every node, δ equations as they are made (``keep``: the
    kept adjoints become their named symbols, δ_t)."""
    kept = kept_adjoints(graph) if keep else {}

    def name(n: sp.Basic) -> sp.Basic | None:
        base = graph.nodes[n].base
        return adjoint_symbol(n, kept[base], base) if base in kept else None

    sweep = backward(graph, graph.loss, sp.S.One,
                     send=lambda n, g: _contributions(graph, n, g),
                     join=lambda n, parts: _total(parts, n), keep=name,
                     order=lambda child, n: graph.nodes[child].step or 0,
                     ends=[c for copies in graph.copies.values() for c in copies])
    value = sweep.adjoint
    for c in (c for copies in graph.copies.values() for c in copies):
        value.setdefault(c, _total([], c))
    return value, [Equation(d, g, "delta") for _, d, g in sweep.kept]


def _total(parts: list[sp.Basic], like: sp.Basic) -> sp.Basic:
    """The sum of the adjoints a node receives (none: the zero of its shape)."""
    if not parts:
        return sp.ZeroMatrix(*like.shape) if isinstance(like, MatrixExpr) else sp.S.Zero
    if len(parts) == 1:
        return parts[0]
    return sp.MatAdd(*parts) if isinstance(like, MatrixExpr) else sp.Add(*parts)


_STEP = re.compile(r"^(?P<base>[A-Za-z]+)_(?:\{(?P<neg>-?\d+)\}|(?P<pos>\d+))$")


def _template_names(expr: sp.Basic, t0: int) -> sp.Basic:
    """Rename step k to t + (k - t0): the equations of step t0 read for any step t."""
    subs = {}
    for s in expr.atoms(sp.MatrixSymbol):
        m = _STEP.match(s.name)
        if not m:
            continue
        k = int(m["neg"] if m["neg"] is not None else m["pos"]) - t0
        index = "t" if k == 0 else f"t{k:+d}"
        subs[s] = sp.MatrixSymbol(f"{m['base']}_{{{index}}}" if k else f"{m['base']}_t",
                                  *s.shape)
    parts = {p: Partial(p.num.xreplace(subs), p.den.xreplace(subs))
             for p in expr.atoms(Partial)}
    return expr.xreplace({**subs, **parts})


def derive_matrix(graph: Graph, *, wrt: str) -> MatrixDerivation:
    """∂E/∂wrt for a shared weight of a vector model, in matrix notation."""
    if wrt in graph.spec.parameters_for(graph.bias) and wrt not in graph.copies:
        raise UsageError(f"{wrt} is not used at --steps {graph.steps}: the only term it is in "
                         "multiplies a zero initial state, so its gradient is 0")
    if wrt not in graph.copies:
        raise UsageError(f"unknown --wrt {wrt!r} for {graph.spec.name}; choose from "
                         f"{', '.join(graph.copies)}")
    value, deltas = _sweep(graph)
    to_shared = shared(graph)
    copies = sorted(graph.copies[wrt], key=lambda c: -graph.nodes[c].step)
    lhs = Partial(graph.loss, sp.MatrixSymbol(wrt, *copies[0].shape))
    unrolled = [Equation(d.lhs, d.rhs.xreplace(to_shared), "delta") for d in deltas]
    live = [value[c] for c in copies if not isinstance(value[c], sp.ZeroMatrix)]
    total = _total(live, copies[0])
    unrolled.append(Equation(lhs, total.xreplace(to_shared), "gradient"))
    template: list[Equation] = []
    kept = kept_adjoints(graph)
    if graph.steps >= 2 and kept:  # a template in t holds only where a kept δ cuts it
        t0 = graph.steps - 2  # a step with a next one: δ_t depends on δ_{t+1}
        for node in graph.nodes.values():  # the output error at a softmax (not a kept δ)
            arg = node.expr.arg if isinstance(node.expr, Softmax) else None
            if node.step == t0 and arg in value and graph.nodes[arg].base not in kept:
                template.append(Equation(Partial(graph.loss, arg),
                                         value[arg].xreplace(to_shared), "output"))
        names = {adjoint_symbol(n, name, graph.nodes[n].base).name
                 for n in graph.nodes for base, name in kept.items()
                 if graph.nodes[n].base == base and graph.nodes[n].step == t0}
        template += [Equation(d.lhs, d.rhs.xreplace(to_shared), "delta") for d in deltas
                     if d.lhs.name in names][::-1]
        template = [Equation(_template_names(e.lhs, t0), _template_names(e.rhs, t0), e.kind)
                    for e in template]
        own = [c for c in graph.copies[wrt] if graph.nodes[c].step in (t0, t0 + 1)
               and not isinstance(value[c], sp.ZeroMatrix)
               and any(graph.nodes[k].step is not None for k in graph.children[c])]
        own.sort(key=lambda c: value[c].has(sp.ZeroMatrix))  # [0; x_0]: step t0 + 1's
        if own:  # step t0's copy (t0 + 1's when a zero initial state leaves none at t0)
            k = graph.nodes[own[0]].step
            term = _template_names(value[own[0]].xreplace(to_shared), k)
            template.append(Equation(_template_names(lhs, k), StepSum(term), "gradient"))
    terms = tuple((graph.nodes[c].step, value[c].xreplace(to_shared)) for c in copies
                  if not isinstance(value[c], sp.ZeroMatrix))
    return MatrixDerivation(wrt, tuple(template), tuple(unrolled), (), graph, terms)
