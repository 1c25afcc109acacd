"""Why a matrix formula fails: each search changes the person's right side in one way and
asks the judge whether the equation then holds at the same random points.

The changes, in the order they are tried (elman's names as examples): read every Jacobian
∂a/∂b in the other layout (its transpose: d2l's ∂h_t/∂h_{t−1} = Wᵀ); flip the sign;
transpose the whole side; add or remove one transpose; move one step index by one; put the
softmax-with-cross-entropy error ŷ_t − y_t in place of one vector of its shape; multiply one
vector of an activation's argument's shape by the activation's derivative; put that
derivative in place of one such vector; the changes of gated cells
(:mod:`bptt_sym.check.explain_gated`: a path of an adjoint left out, σ′ for tanh′ and back, a
gate and its complement exchanged); add the missing recursion term Wᵀ δ_{t+1} (or the
step's own output term Vᵀ(ŷ_t − y_t)); put the copy W_k for W in ∂s_k/∂W; move a sum's or
product's bound by one; let a sum run over every step; sum a one-step term over t.

What a change needs comes from the model's graph (:mod:`bptt_sym.check.structure`), never from
names; a model without such a part (no softmax, no named adjoint) has no such change.

    >>> # see bptt_sym.check.matrix for the judge and tests/test_mcheck.py for every kind
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

from bptt_sym.check.explain import Diagnosis
from bptt_sym.check.explain_gated import gated_candidates, path_candidates
from bptt_sym.check.structure import derivative_formula, derivative_text, structure
from bptt_sym.graph.names import is_jacobian
from bptt_sym.graph.resolve import InvalidFormula
from bptt_sym.graph.resolve_matrix import MatrixNames, ShapeError, Walk, show
from bptt_sym.syntax.formula import Call, Deriv, Num, Op, Prod, Ref, Sum
from bptt_sym.syntax.steps import index_terms

__all__ = ["explain_matrix", "MATRIX_KINDS"]

MATRIX_KINDS = ("shape", "layout", "sign", "factor", "whole-transpose", "transpose", "step-index",
                "softmax", "missing-factor", "local-derivative", "missing-path",
                "activation-swap", "complement", "missing-term", "copy",
                "bounds", "missing-steps", "missing-sum", "step-range")
Holds = Callable[[object, object, tuple], bool]
MAX_TRIES = 400


def _children(node: object) -> list[tuple[str, int | None, object]]:
    """(field, position, child) of every sub-formula directly below ``node``."""
    if isinstance(node, (Op, Call)):
        return [("args", i, a) for i, a in enumerate(node.args)]
    if isinstance(node, (Sum, Prod)):
        return [("body", None, node.body)]
    return []


def _positions(node: object, path: tuple = ()) -> Iterator[tuple[tuple, object]]:
    """Every sub-formula with its path from the root, the root first."""
    yield path, node
    for fld, i, child in _children(node):
        yield from _positions(child, path + ((fld, i),))


def _replace(node: object, path: tuple, new: object) -> object:
    if not path:
        return new
    (fld, i), rest = path[0], path[1:]
    if fld == "args":
        args = list(node.args)
        args[i] = _replace(args[i], rest, new)
        return dataclasses.replace(node, args=tuple(args))
    return dataclasses.replace(node, body=_replace(node.body, rest, new))


def _step_var(root: object, path: tuple, free: tuple[str, ...], lhs: object) -> tuple | None:
    """The step index that a candidate term at ``path`` should carry: the innermost sum's
    variable, else the free variable, else the left side's own step (δ_2 = …)."""
    node, var = root, None
    for fld, i in path:
        if isinstance(node, (Sum, Prod)):
            var = node.var
        node = node.args[i] if fld == "args" else node.body
    if var:
        return ("var", var, 0)
    if free:
        return ("var", free[0], 0)
    ref = lhs.num if isinstance(lhs, Deriv) else lhs
    if isinstance(ref, Ref) and ref.index and ref.index[0] == "abs":
        return ref.index
    return None


def _shifted(index: tuple, by: int) -> tuple:
    if index[0] == "abs":
        return ("abs", index[1] + by)
    return (*index[:2], index[2] + by)


def _ref(base: str, index: tuple | None) -> Ref:
    return Ref(base, index, 0)


def _has(node: object, bases: set[str]) -> bool:
    return any(isinstance(n, Deriv) or (isinstance(n, Ref) and n.base in bases)
               for _, n in _positions(node))


def explain_matrix(lhs: object, rhs: object, names: MatrixNames, free: tuple[str, ...],
                   holds: Holds, *, kinds: Sequence[str] | None = None) -> list[Diagnosis]:
    """The first change to ``rhs`` that makes ``lhs = rhs`` hold, as a diagnosis."""
    shapes: dict[tuple, tuple | None] = {}
    walk = Walk(names)

    def shape(node: object, path: tuple) -> tuple | None:
        if path not in shapes:
            env = dict.fromkeys(free)
            for _, var in _bound_vars(rhs, path):
                env[var] = None
            try:
                shapes[path] = walk(node, env)[0]
            except (ShapeError, InvalidFormula):
                shapes[path] = None
        return shapes[path]

    tries = 0
    for kind, candidate, text in _candidates(lhs, rhs, names, free, shape):
        if kinds is not None and kind not in kinds:
            continue
        tries += 1
        if tries > MAX_TRIES:
            break
        if holds(lhs, candidate, free):
            return [Diagnosis(kind, text)]
    return []


def _bound_vars(root: object, path: tuple) -> Iterator[tuple[tuple, str]]:
    node = root
    for depth, (fld, i) in enumerate(path):
        if isinstance(node, (Sum, Prod)):
            yield path[:depth], node.var
        node = node.args[i] if fld == "args" else node.body


def _other_layout(lhs: object, rhs: object, names: MatrixNames) -> Iterator[tuple]:
    """The equation read in the other layout: every Jacobian transposed (on the left side
    too, which comes out as a transpose of the right side)."""
    def flip(node: object) -> object:
        for path, n in reversed(list(_positions(node))):
            if is_jacobian(n, names):
                node = _replace(node, path, Op("T", (n,)))
        return node

    if not any(is_jacobian(n, names) for side in (lhs, rhs) for _, n in _positions(side)):
        return
    new = flip(rhs)
    if is_jacobian(lhs, names):
        new = Op("T", (new,))
    other, example = ("denominator", "∂h_t/∂h_{t−1} = Wᵀ, as d2l writes it") \
        if names.layout == "numerator" else ("numerator", "∂h_t/∂h_{t−1} = W")
    yield "layout", new, f"the formula holds in the {other} layout, where ∂a/∂b of two " \
        f"vectors is the transpose of the one read here ({example}): check it with " \
        f"--layout {other} (Python: layout=\"{other}\")"


def _candidates(lhs: object, rhs: object, names: MatrixNames, free: tuple[str, ...],
                shape: Callable) -> Iterator[tuple[str, object, str]]:
    positions = list(_positions(rhs))
    yield from _other_layout(lhs, rhs, names)
    yield "sign", Op("neg", (rhs,)), f"the sign: the right side is −({show(lhs)})"
    yield "whole-transpose", Op("T", (rhs,)), \
        f"the right side is the transpose of {show(lhs)}: transpose it (or swap the factors)"
    length = Ref("T", None, 0)  # a loss averaged where it is summed, or summed where averaged
    yield "factor", Op("juxt", (length, rhs)), \
        "a constant factor 1/T (mean instead of sum): the right side times T holds"
    yield "factor", Op("/", (rhs, length)), \
        "a constant factor T (sum instead of mean): the right side divided by T holds"
    yield from path_candidates(lhs, rhs, names)
    for path, node in positions:
        if isinstance(node, (Sum, Prod)):
            yield "whole-transpose", _replace(rhs, path, dataclasses.replace(
                node, body=Op("T", (node.body,)))), \
                f"each term of {show(node)} is transposed: write ({show(node.body)})ᵀ"
    # one transpose added or removed
    for path, node in positions:
        if isinstance(node, Op) and node.op == "T" and isinstance(node.args[0], Ref):
            yield "transpose", _replace(rhs, path, node.args[0]), \
                f"wrong transpose: {show(node)} should be {show(node.args[0])}"
        elif isinstance(node, Ref) and shape(node, path) not in (None, ("1", "1")) and \
                not _under_transpose(rhs, path):
            yield "transpose", _replace(rhs, path, Op("T", (node,))), \
                f"wrong transpose: {show(node)} should be {show(node)}ᵀ"
    # one step index moved by one
    for path, node in positions:
        refs = [(None, node)] if isinstance(node, Ref) else \
            [("num", node.num), ("den", node.den)] if isinstance(node, Deriv) else []
        for part, ref in refs:
            if ref.index is None:
                continue
            for by in (-1, 1):
                moved = dataclasses.replace(ref, index=_shifted(ref.index, by))
                new = moved if part is None else dataclasses.replace(node, **{part: moved})
                yield "step-index", _replace(rhs, path, new), \
                    f"off-by-one step index: {show(ref)} should be {show(moved)}"
    model = structure(names)
    # the output error of softmax with cross-entropy
    for path, node in positions:
        step = _step_var(rhs, path, free, lhs)
        if step is None:
            continue
        for pred, target, logits in model.errors:
            if shape(node, path) != names.shape(pred):
                continue
            error = Op("-", (_ref(pred, step), _ref(target, step)))
            if node == error:
                continue
            p, y = show(_ref(pred, None)), show(_ref(target, None))
            flipped = Op("-", (_ref(target, step), _ref(pred, step)))
            why = (f"the output error is {show(error)}, not {show(node)} (its sign)"
                   if node == flipped else
                   f"wrong softmax derivative: with cross-entropy the error at the logits is "
                   f"∂{names.spec.loss}/∂{logits} = {show(error)} (softmax's Jacobian "
                   f"diag({p}) − {p} {p}ᵀ times −{y}/{p}), not {show(node)}")
            yield "softmax", _replace(rhs, path, error), why
    # the activation's derivative: missing (all of these first), or written wrong
    missing, wrong = [], []
    plain = set(names.adjoint) | {e[0] for e in model.errors} | set(names.spec.targets) | \
        set(names.spec.inputs)
    for path, node in positions:
        step = _step_var(rhs, path, free, lhs)
        if step is None:
            continue
        for call, act, out, arg in model.activations:
            if shape(node, path) != names.shape(arg or out):
                continue
            deriv = Call(call, True, (_ref(arg, step),), 0) if arg else \
                derivative_formula(act, out, arg, step)
            if deriv is None:
                continue
            text = derivative_text(act, out, arg, step)
            missing.append(("missing-factor", _replace(rhs, path, Op("⊙", (node, deriv))),
                            f"missing the factor {text} (the derivative of {act}) on "
                            f"{show(node)}"))
            if not (_has(node, plain) or isinstance(node, Num)):
                wrong.append(("local-derivative", _replace(rhs, path, deriv),
                              f"wrong derivative of {act}: {show(node)} should be {text}"))
    yield from missing
    yield from gated_candidates(lhs, rhs, names, model, positions, _replace)
    yield from wrong
    # a missing term of the recursion: from the next step, from this step's own output
    for path, node in positions:
        step = _step_var(rhs, path, free, lhs)
        if step is None:
            continue
        for weight, state, target, left in model.back:
            if shape(node, path) != names.shape(state):
                continue
            later = _adjoint_ref(names, target, _shifted(step, 1))
            back = _product(Op("T", (_ref(weight, None),)), later, left)
            yield "missing-term", _replace(rhs, path, Op("+", (node, back))), \
                f"missing the term {show(back)} (the error that flows back from the next " \
                f"step) in {show(node)}"
        for weight, state, (pred, target, _), left in model.own:
            if shape(node, path) != names.shape(state):
                continue
            own = _product(Op("T", (_ref(weight, None),)),
                           Op("-", (_ref(pred, step), _ref(target, step))), left)
            yield "missing-term", _replace(rhs, path, Op("+", (node, own))), \
                f"missing the term {show(own)} (the error of this step's own output) in " \
                f"{show(node)}"
    # ∂s_k/∂W (every path) where the immediate ∂s_k/∂W_k (the copy at step k) is meant
    for path, node in positions:
        if isinstance(node, Deriv) and node.den.base in names.weights and \
                node.den.index is None and node.num.index is not None:
            copy = dataclasses.replace(node, den=dataclasses.replace(node.den,
                                                                     index=node.num.index))
            yield "copy", _replace(rhs, path, copy), \
                f"{show(node)} is the total derivative through every earlier step; in this " \
                f"sum the immediate one is meant: {show(copy)}, through the copy of " \
                f"{node.den.base} used at that step (or check with --partials local, " \
                f"where ∂h_t/∂W means that)"
    # a sum's or product's bound off by one
    for path, node in positions:
        if not isinstance(node, (Sum, Prod)):
            continue
        for fld in ("lo", "hi"):
            bound = getattr(node, fld)
            if bound is None:
                continue
            for by in (1, -1):
                moved = Op("+" if by > 0 else "-", (bound, Num("1")))
                new = dataclasses.replace(node, **{fld: moved})
                which = "start" if fld == "lo" else "end"
                yield "bounds", _replace(rhs, path, new), \
                    f"the {'sum' if isinstance(node, Sum) else 'product'} over {node.var} " \
                    f"should {which} at {node.var} = {show(moved)}, not {show(bound)}"
    # sums over too few steps; a one-step term not summed
    for path, node in positions:
        if isinstance(node, Sum) and (node.lo is not None or node.hi is not None):
            whole = dataclasses.replace(node, lo=None, hi=None)
            yield "missing-steps", _replace(rhs, path, whole), \
                f"the sum over {node.var} must run over every step 0..{names.steps - 1}: " \
                f"write {show(whole)}"
    lhs_vars = {v for _, n in _positions(lhs) for v in _index_vars(n)}
    for var in free:
        if var not in lhs_vars:
            yield "missing-sum", Sum(var, None, None, rhs), \
                f"the right side is the term of one step {var}; {show(lhs)} sums it over " \
                f"every step: Σ_{var} …"


def _product(a: object, b: object, left: bool) -> Op:
    """``a b`` (a weight that multiplies from the left), else ``b a``."""
    return Op("juxt", (a, b) if left else (b, a))


def _adjoint_ref(names: MatrixNames, node: str, step: tuple) -> object:
    """The named adjoint of ``node`` at ``step`` (δ_{t+1}), else ∂E/∂node."""
    for name, of in names.adjoint.items():
        if of == node:
            return _ref(name, step)
    return Deriv(_ref(names.spec.loss, None), _ref(node, step))


def _index_vars(node: object) -> set[str]:
    refs = [node] if isinstance(node, Ref) else [node.num, node.den] \
        if isinstance(node, Deriv) else []
    return {v for r in refs if r.index and r.index[0] in ("var", "lin")
            for v, _ in index_terms(r.index)[0]}


def _under_transpose(root: object, path: tuple) -> bool:
    node = root
    for fld, i in path[:-1]:
        node = node.args[i] if fld == "args" else node.body
    return isinstance(node, Op) and node.op == "T"
