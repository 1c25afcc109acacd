"""The names of a matrix model unrolled over T steps: what each name of a hand formula
means (a weight, a step copy, a node value, a named adjoint such as δ_t, an integer) and its
shape in the model's size letters, all read from the model's :class:`ModelSpec`.

    >>> from bptt_sym.graph.matrix import ELMAN
    >>> MatrixNames(ELMAN, steps=3).shape("W")
    ('H', 'H')
    >>> default_shapes(ELMAN)[0]
    {'H': 3, 'D': 2, 'K': 4}
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from bptt_sym.errors import UsageError
from bptt_sym.graph.matrix import model_sizes
from bptt_sym.graph.resolve import InvalidFormula
from bptt_sym.model.spec import ModelSpec
from bptt_sym.syntax.formula import Call, Deriv, Num, Op, Prod, Ref, Sum
from bptt_sym.syntax.steps import index_terms, index_value
from bptt_sym.syntax.text import show

__all__ = ["MatrixNames", "Item", "OutOfRange", "SCALAR", "Shape", "free_variables",
           "steps_text", "default_shapes", "size_letters"]

Shape = tuple[str, str]
SCALAR: Shape = ("1", "1")
_SIZES = (3, 2, 4)  # letter i, round j: _SIZES[(i ± j) % 3]; elman's H, D, K as ever
_LHS = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*)")


def size_letters(spec: ModelSpec) -> tuple[str, ...]:
    """The size letters of ``spec``: those of its ``[sizes]``, then any other its shapes use."""
    letters = list(spec.sizes)
    for shape in spec.shapes.values():
        letters += [d for d in shape if d != "1" and d not in letters
                    and d not in spec.derived_sizes]  # M = H + D follows H and D
    return tuple(letters)


def default_shapes(spec: ModelSpec, sizes: Mapping[str, int | None] | None = None
                   ) -> tuple[dict[str, int], ...]:
    """The sizes a matrix formula of ``spec`` is decided at: three small ones in which each
    letter takes 2, 3 and 4 in turn (neighbouring letters differ; a letter of size 1 in the
    model, such as the rows N of a row vector, stays 1), or, with ``sizes``
    (letter: n; None or a missing letter: its first default), that one size."""
    letters = size_letters(spec)
    varied = [d for d in letters if spec.sizes.get(d) != 1]  # a size of 1 stays 1 (a row)
    rounds = tuple({d: 1 if d not in varied else _SIZES[(i + j) % 3 if i < 3 else (i - j) % 3]
                    for i, d in ((varied.index(d) if d in varied else 0, d) for d in letters)}
                   for j in range(3))
    given = {k: v for k, v in (sizes or {}).items() if v is not None}
    if not given:
        return rounds
    unknown = sorted(set(given) - set(letters))
    if unknown:
        raise UsageError(f"model {spec.name} has no size {', '.join(unknown)}; its sizes are "
                         f"{', '.join(letters) or 'none'}")
    if spec.sizes:
        model_sizes(spec, given)  # each size checked, in the words of its option
    return ({d: given.get(d) or rounds[0][d] for d in letters},)


class OutOfRange(InvalidFormula):
    """A step index outside the unrolled steps (a free index skips such steps)."""


@dataclass(frozen=True)
class Item:
    """What a name means: ``kind`` is value, weight, copy, delta (a named adjoint), zero
    (a zero initial state) or int; ``name`` the key of its value (z_1, W, W_2, s_{-1},
    delta_3)."""

    kind: str
    base: str
    step: int | None
    name: str


def _defined(lines: Sequence[str]) -> tuple[str, ...]:
    """The names that the equations ``lines`` define (their left sides)."""
    found = [m[1] for m in map(_LHS.match, lines) if m]
    return tuple(dict.fromkeys(found))


def _unindexed(name: str, spec: ModelSpec) -> bool:
    """True when the equations read ``name`` with no step index (a target of the whole
    sequence, as a many-to-one model's y)."""
    bare = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_(])(?!\s*_)")
    return any(bare.search(e.split("=", 1)[1]) for e in spec.cell + spec.head)


class MatrixNames:
    """The names of one matrix model unrolled over ``steps`` steps, and their shapes."""

    def __init__(self, spec: ModelSpec, steps: int, *, bias: bool = False,
                 activation: str = "tanh", layout: str = "numerator",
                 partials: str = "total") -> None:
        self.spec, self.steps, self.bias, self.activation = spec, steps, bias, activation
        self.layout = layout  # ∂a/∂b of two vectors: rows of a (numerator) or of b
        self.partials = partials  # ∂h_t/∂W: through every copy (total) or W's at step t
        self.weights = spec.parameters_for(bias)
        self.cell = _defined(spec.cell)  # z, s, l, yhat, E: the names of every step
        whole = [b for b in spec.inputs + spec.targets if _unindexed(b, spec)]  # y, not y_t
        self.once = tuple(dict.fromkeys(  # the names of no step: the head's, the loss
            [b for b in _defined(spec.head) if b not in self.cell] + whole + [spec.loss]))
        self.stepped = set(self.cell) | set(spec.inputs) | set(spec.targets) | \
            set(spec.states)
        self.stepped -= set(whole)
        self.adjoint = {name: node for node, name in spec.adjoints.items()}  # delta: z
        self.activations = {f for f, role in spec.functions.items() if role == "activation"
                            and any(re.search(rf"\b{re.escape(f)}\s*\(", e)
                                    for e in spec.cell + spec.head)}
        self.reserved = self.stepped | set(spec.parameters) | set(self.once) | \
            set(self.adjoint) | {spec.loss, "T", "I"}
        self._structure: object | None = None  # the model's parts, once (mstructure)

    def adjoint_text(self, name: str, index: str = "t") -> str:
        """``δ_t = ∂E/∂z_t``: what a named adjoint stands for."""
        return f"{show(Ref(name, ('var', index, 0), 0))} = ∂{self.spec.loss}/∂" \
               f"{self.adjoint[name]}_{index}"

    def known(self) -> str:
        vectors = ", ".join([f"{b}_t" for b in sorted(self.stepped)] +
                            [f"{a}_t ({self.adjoint_text(a)})" for a in self.adjoint])
        starts = [f"{s}_{{-1}}" + (" = 0" if self.spec.initial_value(s) == "zero" else "")
                  for s in self.spec.states]
        steps = ", ".join([f"t = 0..{self.steps - 1}"] + starts)
        weights = f"the weights {', '.join(self.weights)} (and their step copies such as " \
                  f"{self.weights[0]}_0), " if self.weights else ""
        functions = ["f"] if self.activations else []
        return (f"known: {weights}{vectors}, {', '.join(self.once)} ({steps}), and the "
                f"functions {', '.join(functions + ['tanh', 'sigmoid', 'relu', 'step'])}, "
                "exp, log, softmax, diag, outer, sum")

    def shape(self, base: str) -> Shape:
        """The shape of ``base`` in size letters; a letter the model fixes at 1 (the rows N
        of a row vector) reads as 1."""
        base = self.adjoint.get(base, base)
        shape = self.spec.shapes.get(base, SCALAR)
        return tuple("1" if self.spec.sizes.get(d) == 1 else d for d in shape)

    def item(self, ref: Ref, env: Mapping[str, int | None]) -> Item:
        """The meaning of ``ref``; a variable bound to None (shapes only) leaves the step
        unchecked."""
        base = ref.base
        if ref.index is None and base in env:
            return Item("int", base, env[base], base)
        if ref.index is None and base == "T":
            return Item("int", "T", self.steps, "T")
        if ref.index is None and base == "I":
            return Item("identity", "I", None, "I")
        if base not in self.weights and base not in self.stepped and \
                base not in self.adjoint and base not in self.once:
            if base in self.spec.optional:
                raise InvalidFormula(f"{base} is a bias; check with --bias to use it", ref.column)
            head, _, entry = base.partition("_")
            if head in self.stepped and len(entry) == 1 and ref.index is not None:
                raise InvalidFormula(f"{base} at a step is one entry of {head}: an index of one "
                                     "entry is not read; write the formula for whole vectors "
                                     "and matrices", ref.column)
            raise InvalidFormula(f"unknown name {base}; {self.known()}", ref.column)
        if ref.index is None:
            if base in self.weights:
                return Item("weight", base, None, base)
            if base in self.once:
                return Item("value", base, None, base)
            raise InvalidFormula(f"{base} needs a step index: {base}_t, {base}_0 …", ref.column)
        if base in self.once and base in self.spec.inputs + self.spec.targets:
            raise InvalidFormula(f"{base} is one value for the whole sequence (the model reads "
                                 f"it with no step index); write {base}", ref.column)
        if base in self.once and base not in self.stepped:
            what = f"the loss {base}" if base == self.spec.loss else base
            terms = [b for b in self.cell if self.shape(b) == SCALAR]
            raise InvalidFormula(f"{what} has no step" + (
                f"; its terms are {terms[0]}_t" if base == self.spec.loss and terms else
                ": it is computed once, after the last step"), ref.column)
        step = self._step(ref, env)
        delta = base in self.adjoint
        if step is None:
            kind = "copy" if base in self.weights else "delta" if delta else "value"
            return Item(kind, base, None, base)
        low = -1 if base in self.spec.states else 0
        high = self.steps if delta else self.steps - 1
        if not low <= step <= high:
            raise OutOfRange(f"{base}_{step} is out of range: with --steps {self.steps} the "
                             f"steps are 0..{self.steps - 1}"
                             + (" (and -1 for the initial state)" if low < 0 else "")
                             + ("; the last step is T-1 (steps counted from 1, h_1 … h_T, "
                                "need --first 1)"
                                if step == self.steps else ""), ref.column)
        name = f"{base}_{step}" if step >= 0 else f"{base}_{{{step}}}"
        if delta:
            return Item("delta", base, step, name)
        if step < 0 and self.spec.initial_value(base) == "zero":
            return Item("zero", base, step, name)
        return Item("copy" if base in self.weights else "value", base, step, name)

    def _step(self, ref: Ref, env: Mapping[str, int | None]) -> int | None:
        if ref.index[0] == "abs":
            return ref.index[1]
        if ref.index[0] == "lin":  # o_{T+t-i}
            for var, _ in ref.index[1]:
                if var != "T" and var not in env:
                    raise InvalidFormula(f"the index {var} of {show(ref)} is not bound",
                                         ref.column)
            return index_value(ref.index, lambda v: self.steps if v == "T" and v not in env
                               else env[v])
        _, var, off = ref.index
        if var == "T" and var not in env:  # s_{T-1}: the last step
            return self.steps + off
        if var not in env:
            raise InvalidFormula(f"the index {var} of {ref.base}_{var} is not bound", ref.column)
        return None if env[var] is None else env[var] + off


def free_variables(chain_sides: Sequence[object], names: MatrixNames,
                   limits: Sequence[object] = ()) -> tuple[str, ...]:
    """Step variables bound by no sum, in order of appearance: the letters used as step
    indices (s_t, δ_{k+1}) or as bare names in a sum's bounds and in ``limits`` (the
    condition).  Any other bare letter is a name, and unknown ones are reported as such."""
    found: list[str] = []

    def note(var: str, bound: frozenset[str]) -> None:
        if var not in bound and var not in found and var != "T":
            found.append(var)

    def bare(node: object, bound: frozenset[str]) -> None:
        for n in _nodes(node):
            if isinstance(n, Ref) and n.index is None and len(n.base) == 1 and \
                    n.base.islower() and n.base not in names.reserved:
                note(n.base, bound)

    def visit(node: object, bound: frozenset[str]) -> None:
        if isinstance(node, Ref):
            for var, _ in (index_terms(node.index)[0] if node.index and
                           node.index[0] in ("var", "lin") else ()):
                if var != "T" or node.index[0] == "var":
                    note(var, bound)
        elif isinstance(node, Deriv):
            visit(node.num, bound)
            visit(node.den, bound)
        elif isinstance(node, (Sum, Prod)):
            for b in (node.lo, node.hi):
                if b is not None:
                    bare(b, bound)
                    visit(b, bound)
            visit(node.body, bound | {node.var})
        elif isinstance(node, (Op, Call)):
            for a in node.args:
                visit(a, bound)

    for part in chain_sides:
        visit(part, frozenset())
    for part in limits:
        bare(part, frozenset())
        visit(part, frozenset())
    return tuple(found)


def _nodes(node: object) -> Iterator[object]:
    yield node
    for child in getattr(node, "args", ()) if isinstance(node, (Op, Call)) else \
            (node.body,) if isinstance(node, (Sum, Prod)) else ():
        yield from _nodes(child)


def steps_text(free: tuple[str, ...], envs: list[dict[str, int]], steps: int,
                conditioned: bool, first: int = 0) -> str:
    """The steps actually compared, e.g. "t = 1..2 (t = 0 left out: a name of the formula
    does not exist there)", numbered from ``first`` as the document counts them."""
    if len(free) != 1:
        return f"{', '.join(free)} at {len(envs)} step combinations"
    var = free[0]
    seen = sorted(env[var] + first for env in envs)
    runs: list[list[int]] = []
    for t in seen:
        if runs and t == runs[-1][-1] + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    shown = ", ".join(f"{r[0]}..{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
    out = f"{var} = {shown}"
    missing = [t for t in range(first, steps + first) if t not in seen]
    if missing and not conditioned:
        out += f" ({var} = {', '.join(map(str, missing))} left out: a name of the formula " \
               "does not exist there)"
    return out


def whole(node: object, env: Mapping[str, int | None], steps: int) -> int | None:
    """An exponent's value: a whole number, or + and - of numbers, T and bound step
    variables (None where it is not one, or a variable is unbound in a shape pass: 1)."""
    if isinstance(node, Num):
        return int(node.value) if "." not in node.value else None
    if isinstance(node, Ref) and node.index is None:
        if node.base == "T":
            return steps
        return (env[node.base] if env[node.base] is not None else 1) if node.base in env else None
    if isinstance(node, Op) and node.op in ("+", "-") and len(node.args) == 2:
        a, b = (whole(x, env, steps) for x in node.args)
        return None if a is None or b is None else a + b if node.op == "+" else a - b
    if isinstance(node, Op) and node.op == "neg":
        a = whole(node.args[0], env, steps)
        return None if a is None else -a
    return None


def is_gradient(node: object, names: MatrixNames) -> bool:
    """∂(scalar)/∂(vector): a gradient that may stand as a row at the head of a chain."""
    return isinstance(node, Deriv) and names.shape(node.num.base) == SCALAR and \
        names.shape(node.den.base)[1] == "1"


def is_jacobian(node: object, names: MatrixNames) -> bool:
    """∂a/∂b of two vectors, whose meaning the layout sets (the Jacobian or its transpose)."""
    return isinstance(node, Deriv) and all(
        is_vector(names.shape(r.base)) for r in (node.num, node.den))


def is_vector(shape: tuple) -> bool:
    """A column or a row (not a number, not a matrix, not a tensor)."""
    return len(shape) == 2 and shape != SCALAR and "1" in shape


def length(shape: tuple) -> str:
    """The number of entries of a column or row, as a letter."""
    return shape[0] if shape[1] == "1" else shape[1]


def derivative_items(names: MatrixNames, node: Deriv, env: Mapping[str, int | None]
                     ) -> tuple[Item, Item]:
    """What ∂num/∂den names: two items, or an error that says why it is no derivative the
    model has (of a weight or an input, by a step number, of a named adjoint …)."""
    num, den = (names.item(r, env) for r in (node.num, node.den))
    if names.partials == "local" and den.kind == "weight" and num.kind == "value" \
            and node.num.index is not None and num.step is not None and num.step >= 0:
        den = names.item(Ref(den.base, ("abs", num.step), node.den.column), env)
    if num.kind == "delta" or den.kind == "delta":
        ref = node.num if num.kind == "delta" else node.den
        raise InvalidFormula(f"{adjoint_stands(names, ref.base)}; write derivatives of nodes "
                             f"({adjoint_examples(names, ref.base)}) instead", ref.column)
    if "zero" in (num.kind, den.kind):
        ref = node.num if num.kind == "zero" else node.den
        raise OutOfRange(f"{show(ref)} is 0 in this model (its initial value is zero): "
                         "it is no variable and is not computed", ref.column)
    if num.kind in ("weight", "copy") or (num.kind == "value" and num.base in
                                           names.spec.inputs + names.spec.targets):
        raise InvalidFormula(f"∂{show(node.num)}/…: {show(node.num)} is not computed by the "
                             "model; derivatives are taken of its nodes", node.num.column)
    if num.kind == "int" or den.kind == "int":
        raise InvalidFormula("a derivative of or by a step number", node.num.column)
    if "identity" in (num.kind, den.kind):
        ref = node.num if num.kind == "identity" else node.den
        raise InvalidFormula("a derivative of or by I (the identity): derivatives are taken "
                             "of the model's nodes by its nodes and weights", ref.column)
    return num, den


def adjoint_stands(names: MatrixNames, name: str) -> str:
    """``δ_t stands for ∂E/∂z_t``."""
    ref = Ref(name, ("var", "t", 0), 0)
    return f"{show(ref)} stands for ∂{names.spec.loss}/∂{names.adjoint[name]}_t"


def adjoint_examples(names: MatrixNames, name: str) -> str:
    """Derivatives of nodes to write instead of one of the named adjoint ``name``."""
    out = [f"∂{names.spec.loss}/∂{names.adjoint[name]}_t"]
    out += [f"∂{s}_t/∂{s}_{{t-1}}" for s in names.spec.states[:1]]
    return ", ".join(out)
