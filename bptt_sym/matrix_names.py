"""The names of a vector model unrolled over T steps: what each name of a hand formula
means (a weight, a step copy, a node value, δ_t, an integer) and its shape in the
model's size letters.

    >>> from bptt_sym.vector import ELMAN
    >>> MatrixNames(ELMAN, steps=3).shape("W")
    ('H', 'H')
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from .formula import Call, Deriv, Op, Prod, Ref, Sum
from .resolve import InvalidFormula
from .vector import VectorSpec

__all__ = ["MatrixNames", "Item", "OutOfRange", "SCALAR", "Shape", "free_variables",
           "steps_text"]

Shape = tuple[str, str]
SCALAR: Shape = ("1", "1")


class OutOfRange(InvalidFormula):
    """A step index outside the unrolled steps (a free index skips such steps)."""


@dataclass(frozen=True)
class Item:
    """What a name means: ``kind`` is value, weight, copy, delta or int; ``name`` the key
    of its value (z_1, W, W_2, s_{-1}, delta_3)."""

    kind: str
    base: str
    step: int | None
    name: str


class MatrixNames:
    """The names of one vector model unrolled over ``steps`` steps, and their shapes."""

    def __init__(self, spec: VectorSpec, steps: int, *, bias: bool = False,
                 activation: str = "tanh") -> None:
        self.spec, self.steps, self.bias, self.activation = spec, steps, bias, activation
        self.weights = spec.parameters + (spec.bias_parameters if bias else ())
        self.stepped = {b for b in spec.shapes if b not in spec.parameters + spec.bias_parameters}
        self.stepped |= {spec.loss_term}
        self.reserved = self.stepped | set(spec.parameters + spec.bias_parameters) | \
            {spec.loss, "T", "I", "delta"}

    def known(self) -> str:
        vectors = ", ".join(f"{b}_t" for b in sorted(self.stepped)) + ", delta_t (δ_t = ∂E/∂z_t)"
        return (f"known: the weights {', '.join(self.weights)} (and their step copies such as "
                f"{self.weights[0]}_0), {vectors}, {self.spec.loss} (t = 0..{self.steps - 1}, "
                "s_{-1}), and the functions f, tanh, sigmoid, relu, step, exp, log, softmax, diag, "
                "outer")

    def shape(self, base: str) -> Shape:
        if base in (self.spec.loss, self.spec.loss_term):
            return SCALAR
        if base == "delta":
            base = "z"
        return self.spec.shapes[base]

    def item(self, ref: Ref, env: Mapping[str, int | None]) -> Item:
        """The meaning of ``ref``; a variable bound to None (shapes only) leaves the step
        unchecked."""
        base = "yhat" if ref.base == "ŷ" else ref.base
        if ref.index is None and base in env:
            return Item("int", base, env[base], base)
        if ref.index is None and base == "T":
            return Item("int", "T", self.steps, "T")
        if ref.index is None and base == "I":
            return Item("identity", "I", None, "I")
        if base not in self.weights and base not in self.stepped and base != "delta" and \
                base != self.spec.loss:
            if base in self.spec.bias_parameters:
                raise InvalidFormula(f"{base} is a bias; check with --bias to use it", ref.column)
            raise InvalidFormula(f"unknown name {base}; {self.known()}", ref.column)
        if ref.index is None:
            if base in self.weights:
                return Item("weight", base, None, base)
            if base == self.spec.loss:
                return Item("value", base, None, base)
            raise InvalidFormula(f"{base} needs a step index: {base}_t, {base}_0 …", ref.column)
        if base == self.spec.loss and base != self.spec.loss_term:
            raise InvalidFormula(f"the loss {base} has no step; its terms are "
                                 f"{self.spec.loss_term}_t", ref.column)
        step = self._step(ref, env)
        if step is None:
            kind = "copy" if base in self.weights else "delta" if base == "delta" else "value"
            return Item(kind, base, None, base)
        low = -1 if base in self.spec.states else 0
        high = self.steps if base == "delta" else self.steps - 1
        if not low <= step <= high:
            raise OutOfRange(f"{base}_{step} is out of range: with --steps {self.steps} the "
                             f"steps are 0..{self.steps - 1}"
                             + (" (and -1 for the initial state)" if low < 0 else ""),
                             ref.column)
        name = f"{base}_{step}" if step >= 0 else f"{base}_{{{step}}}"
        if base == "delta":
            return Item("delta", base, step, name)
        return Item("copy" if base in self.weights else "value", base, step, name)

    @staticmethod
    def _step(ref: Ref, env: Mapping[str, int | None]) -> int | None:
        if ref.index[0] == "abs":
            return ref.index[1]
        _, var, off = ref.index
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
        if var not in bound and var not in found:
            found.append(var)

    def bare(node: object, bound: frozenset[str]) -> None:
        for n in _nodes(node):
            if isinstance(n, Ref) and n.index is None and len(n.base) == 1 and \
                    n.base.islower() and n.base not in names.reserved:
                note(n.base, bound)

    def visit(node: object, bound: frozenset[str]) -> None:
        if isinstance(node, Ref):
            if node.index and node.index[0] == "var":
                note(node.index[1], bound)
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
                conditioned: bool) -> str:
    """The steps actually compared, e.g. "t = 1..2 (t = 0 left out: a name of the formula
    does not exist there)"."""
    if len(free) != 1:
        return f"{', '.join(free)} at {len(envs)} step combinations"
    var = free[0]
    seen = sorted(env[var] for env in envs)
    runs: list[list[int]] = []
    for t in seen:
        if runs and t == runs[-1][-1] + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    shown = ", ".join(f"{r[0]}..{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
    out = f"{var} = {shown}"
    missing = [t for t in range(steps) if t not in seen]
    if missing and not conditioned:
        out += f" ({var} = {', '.join(map(str, missing))} left out: a name of the formula " \
               "does not exist there)"
    return out
