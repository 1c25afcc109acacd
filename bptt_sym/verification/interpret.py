"""Run a model's own equations forward, in array code: the reference for any model file.

Each equation is read by the one grammar (:func:`bptt_sym.syntax.equations.read_equation`), but
the tree is turned into plain Python closures over arrays, not into SymPy: nothing of the
symbolic derivation is used, so agreement with the compiled derivation means something.
The arrays come from any NumPy-like library (``numpy``, ``autograd.numpy``, ``torch``,
complex arrays for the complex step); every leaf has a batch axis.

Values are named as :func:`bptt_sym.numeric.compiled.leaf_names` names them: a parameter by its
name, an input ``(B, T)`` by its name, a target ``y`` or per step ``y_0 … y_{T-1}``, a given
initial state ``s_{-1}``.

    >>> import numpy as np
    >>> from bptt_sym.model.registry import DOC
    >>> values = {"u": np.array([0.5]), "w": np.array([-0.3]), "k": np.array([0.1]),
    ...           "v": np.array([0.8]), "x": np.array([[0.2, -0.4]]),
    ...           "s_{-1}": np.zeros(1), "y": np.array([0.3])}
    >>> fns = function_table(DOC, np, ("tanh", "sigmoid", "bce"))
    >>> round(float(loss(DOC, values, steps=2, functions=fns)[0]), 8)
    0.66987903
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from types import ModuleType

import numpy as np

from bptt_sym.errors import BpttError
from bptt_sym.model.calls import calls, xent_targets
from bptt_sym.model.registry import ModelSpec
from bptt_sym.notation import split_name
from bptt_sym.numeric.compiled import DEFAULT_STAND_INS, StandIns
from bptt_sym.syntax.equations import Ref, fold, model_ref, read_equation
from bptt_sym.verification.interpret_ops import (
    SCALAR_OPS,
    MatrixOps,
    as_matrix,
    infer_sizes,
    matrix_functions,
    shape_of,
    zeros,
)
from bptt_sym.verification.oracles import Reference, abstract_function, tables

__all__ = ["evaluate", "loss", "function_table", "calls", "xent_targets", "reference",
           "matrix_reference"]

Value = object
Closure = Callable[["_Run", int], Value]
ROLE_ARITY = {"activation": 1, "output": 1, "loss": 2}
ELEMENTARY = ("exp", "log")


class _Ref:
    """A reference ``base_{var+offset}`` (``var`` None: no index; "": an absolute step)."""

    def __init__(self, base: str, var: str | None, offset: int) -> None:
        self.base, self.var, self.offset = base, var, offset

    def step(self, t: int, steps: int) -> int | None:
        if self.var is None:
            return None
        return {"t": t, "T": steps, "": 0}[self.var] + self.offset

    def __call__(self, run: _Run, t: int) -> Value:
        if self.base == "T" and self.var is None:
            return run.steps  # the number of steps, as in 1/T sum_t E_t
        return run.get(self.base, self.step(t, run.steps))


def _binary(op: Callable[[Value, Value], Value], a: Closure, b: Closure) -> Closure:
    return lambda run, t: op(a(run, t), b(run, t))


class _ToClosures:
    """A model line's tree (:func:`bptt_sym.syntax.equations.fold`) -> a closure
    ``(run, t) -> value`` per subexpression."""

    def ref(self, r: Ref) -> _Ref:
        return _Ref(r.base, r.var, r.offset)

    def number(self, text: str) -> Closure:
        value = int(text) if text.isdigit() else float(text)
        return lambda run, t: value

    def stepsum(self, body):  # noqa: ANN001, ANN201
        def total(run: _Run, t: int) -> Value:
            acc = body(run, 0)
            for k in range(1, run.steps):
                acc = acc + body(run, k)
            return acc
        return total

    def call(self, name, *args):  # noqa: ANN001, ANN201
        return lambda run, t: run.call(name, [a(run, t) for a in args])

    def add(self, a, b):  # noqa: ANN001, ANN201
        return _binary(lambda p, q: p + q, a, b)

    def sub(self, a, b):  # noqa: ANN001, ANN201
        return _binary(lambda p, q: p - q, a, b)

    def mul(self, a, b):  # noqa: ANN001, ANN201
        """a * b, a ⊙ b: elementwise (a plain product in a scalar model)."""
        return lambda run, t: run.ops.mul(a(run, t), b(run, t))

    def juxt(self, a, b):  # noqa: ANN001, ANN201
        """a b, a @ b, a · b: the matrix product (a plain product when a side is scalar)."""
        return lambda run, t: run.ops.matmul(a(run, t), b(run, t))

    def transpose(self, a):  # noqa: ANN001, ANN201
        return lambda run, t: run.ops.transpose(a(run, t))

    def stack(self, *parts):  # noqa: ANN001, ANN201
        return lambda run, t: run.ops.stack(*(p(run, t) for p in parts))

    def div(self, a, b):  # noqa: ANN001, ANN201
        return _binary(lambda p, q: p / q, a, b)

    def pow(self, a, b):  # noqa: ANN001, ANN201
        return _binary(lambda p, q: p**q, a, b)

    def neg(self, a):  # noqa: ANN001, ANN201
        return lambda run, t: -a(run, t)


@functools.lru_cache(maxsize=256)
def _line(source: str, functions: frozenset[str]) -> tuple[_Ref, Closure]:
    """One equation, parsed once: its left side and the closure of its right side."""
    to = _ToClosures()
    try:
        lhs, rhs = read_equation(source, functions)
        return to.ref(model_ref(lhs)), fold(rhs, to)
    except BpttError as exc:
        first = str(exc).strip().splitlines()[0]
        raise BpttError(f"cannot parse model equation {source!r}: {first}") from None


class _Run:
    """One forward pass: the values given, the nodes computed so far, the functions; ``ops``
    the meaning of products and ᵀ (:mod:`bptt_sym.verification.interpret_ops`), ``sizes`` the size
    of each shape letter (matrix models)."""

    def __init__(self, spec: ModelSpec, steps: int, values: Mapping[str, Value],
                 functions: Mapping[str, Callable[..., Value]], xp: ModuleType | None = None,
                 sizes: Mapping[str, int] | None = None) -> None:
        self.spec, self.steps, self.values, self.functions = spec, steps, values, functions
        self.nodes: dict[tuple[str, int | None], Value] = {}
        self.matrix = spec.is_matrix
        self.xp = xp if xp is not None else np
        self.ops = MatrixOps(self.xp) if self.matrix else SCALAR_OPS
        if self.matrix:
            self.sizes = dict(sizes) if sizes is not None else infer_sizes(spec, values)

    def get(self, base: str, step: int | None) -> Value:
        """The value of ``base`` at ``step``, in the order the graph builder looks it up."""
        spec = self.spec
        if base in spec.states and step == -1 and spec.initial_value(base) == "zero":
            return self._zero(base)
        if base in spec.parameters:
            if base in spec.optional and base not in self.values:
                return self._zero(base)  # no --bias: the bias and its terms are 0
            return self._given(base)
        if (base, step) in self.nodes:
            return self.nodes[(base, step)]
        if base in spec.inputs and step is not None and 0 <= step < self.steps:
            if self.matrix and _name(base, step) in self.values:
                return self._given(_name(base, step))  # x_t, as (B, rows, cols)
            if self.matrix:
                if base not in self.values:
                    raise BpttError(f"no value for {_name(base, step)!r} (nor {base!r})")
                return self.values[base][..., step, :, :]  # x as (B, T, rows, cols)
            return self._given(base)[..., step]
        if base in spec.targets or (base in spec.states and step == -1):
            return self._given(_name(base, step))
        raise BpttError(f"model {spec.name}: {_name(base, step)} is used before it is "
                        "defined")

    def _zero(self, base: str) -> Value:
        return zeros(shape_of(self.spec, base, self.sizes)) if self.matrix else 0.0

    def _given(self, name: str) -> Value:
        if name not in self.values:
            raise BpttError(f"no value for {name!r}")
        value = self.values[name]
        if self.matrix:
            return as_matrix(self.spec, split_name(name)[0] if name not in self.spec.shapes
                             else name, value, self.xp)
        return value

    def call(self, name: str, args: list[Value]) -> Value:
        fn = self.functions.get(name)
        if fn is None:
            known = ", ".join(sorted(self.functions)) or "none"
            raise BpttError(f"unknown function {name}; known functions: {known}")
        return fn(*args)


def _name(base: str, step: int | None) -> str:
    """How a leaf's value is named: ``y``, ``y_0``, ``s_{-1}``."""
    if step is None:
        return base
    return f"{base}_{step}" if step >= 0 else f"{base}_{{{step}}}"


def evaluate(spec: ModelSpec, values: Mapping[str, Value], *, steps: int,
             functions: Mapping[str, Callable[..., Value]], xp: ModuleType | None = None,
             sizes: Mapping[str, int] | None = None,
             cut: tuple[int, Callable[[tuple, Value], Value]] | None = None
             ) -> dict[tuple[str, int | None], Value]:
    """Every node's value: ``(base, step)`` -> array (``step`` None after the last step).

    The cell runs at t = 0 … steps-1, then the head (at t = steps-1, as the graph builds it).
    A matrix model (``spec.is_matrix``) runs with NumPy's semantics in ``xp`` (default
    numpy; :mod:`bptt_sym.verification.interpret_ops`): its values are ``(B, rows, cols)`` (a shared
    weight may be ``(rows, cols)``), an input ``x_t`` per step or ``x`` as ``(B, T, rows,
    cols)``, a scalar ``(B, 1, 1)``.  ``sizes`` (default: read off the values, then
    ``spec.sizes``) gives the shape of what is zero: an optional parameter left out of
    ``values`` and a zero initial state.  ``cut = (k, fn)`` replaces every node computed
    before step k by ``fn(key, value)`` (a constant: truncated BPTT's oracles).
    """
    run = _Run(spec, steps, values, functions, xp, sizes)
    for t in range(steps):
        if cut is not None and t == cut[0]:  # the nodes before step cut[0], replaced
            run.nodes = {key: cut[1](key, v) for key, v in run.nodes.items()}
        for source in spec.cell:
            _define(run, source, t)
    for source in spec.head:
        _define(run, source, steps - 1)
    return run.nodes


def _define(run: _Run, source: str, t: int) -> None:
    lhs, rhs = _line(source, frozenset(run.functions))
    run.nodes[(lhs.base, lhs.step(t, run.steps))] = rhs(run, t)


def loss(spec: ModelSpec, values: Mapping[str, Value], *, steps: int,
         functions: Mapping[str, Callable[..., Value]], xp: ModuleType | None = None,
         sizes: Mapping[str, int] | None = None) -> Value:
    """The loss ``spec.loss`` of each sequence of the batch (shape ``(B,)``; a matrix
    model's 1 x 1 loss without its two trailing axes)."""
    nodes = evaluate(spec, values, steps=steps, functions=functions, xp=xp, sizes=sizes)
    if (spec.loss, None) not in nodes:
        raise BpttError(f"model {spec.name}: no equation defines the loss {spec.loss}")
    value = nodes[(spec.loss, None)]
    if spec.is_matrix:
        shape = tuple(getattr(value, "shape", ()))
        if len(shape) >= 2:
            if shape[-2:] != (1, 1):
                raise BpttError(f"model {spec.name}: the loss {spec.loss} is "
                                f"{shape[-2]} x {shape[-1]}, not a scalar; sum it with sum(…)")
            value = (xp if xp is not None else np).reshape(value, shape[:-2])
    return value


def _role(fn: Callable[..., Value], arity: int) -> Callable[..., Value]:
    """A role function called as the graph calls it: with its first ``arity`` arguments
    (an abstract loss L(o) reads no target)."""
    if arity == 1:
        return lambda *a: fn(*a[:1])
    return lambda o, y=None, *rest: fn(o, y)


def function_table(spec: ModelSpec, xp: ModuleType, choice: tuple[str, str, str],
                   stand_ins: StandIns = DEFAULT_STAND_INS) -> dict[str, Callable[..., Value]]:
    """The functions an equation may call, in ``xp``: each role letter of ``spec`` (f, g, L)
    the chosen function of its role (activation, output, loss), each concrete rule by its
    name, and exp, log.  Abstract choices are the named stand-ins, and so are the abstract
    functions of several arguments (:func:`bptt_sym.verification.oracles.abstract_function`).  A
    matrix model's are those of :func:`bptt_sym.verification.interpret_ops.matrix_functions`."""
    if spec.is_matrix:
        return matrix_functions(spec, xp, choice)
    table = tables(xp, stand_ins)
    chosen = dict(zip(("activation", "output", "loss"), choice))
    fns: dict[str, Callable[..., Value]] = {name: getattr(xp, name) for name in ELEMENTARY}
    for role in ("activation", "output", "loss"):
        for name, fn in table[role].items():
            if name not in ("f", "g", "L", "softmax"):
                fns.setdefault(name, fn)
    for letter, role in spec.functions.items():
        if role == "abstract":  # a function of several arguments that no option replaces
            fns[letter] = abstract_function(xp, letter, stand_ins)
            continue
        fns[letter] = _role(table[role][chosen[role]], ROLE_ARITY[role])
    return fns


def reference(spec: ModelSpec, steps: int, choice: tuple[str, str, str],
              stand_ins: StandIns = DEFAULT_STAND_INS) -> Reference:
    """The oracles' forward pass for ``spec``: its equations run by this interpreter."""
    def forward(xp: ModuleType, theta: Mapping[str, Value], data: Mapping[str, Value]) -> Value:
        return loss(spec, {**data, **theta}, steps=steps,
                    functions=function_table(spec, xp, choice, stand_ins))
    return Reference(tuple(spec.parameters), forward)


def matrix_reference(spec: ModelSpec, steps: int, activation: str = "tanh", *,
                     bias: bool = False, sizes: Mapping[str, int] | None = None) -> Reference:
    """The forward pass of a matrix model for the oracles: its equations run by this
    interpreter with NumPy's semantics.  The parameters are the model's, its optional ones
    (biases) only with ``bias``; without, they are zero.  ``theta`` holds shared weights
    ``(rows, cols)``, ``data`` every other value ``(B, rows, cols)``."""
    params = tuple(p for p in spec.parameters if bias or p not in spec.optional)
    choice = (activation, "g", "L")

    def forward(xp: ModuleType, theta: Mapping[str, Value], data: Mapping[str, Value]) -> Value:
        values = {k: v for k, v in data.items() if k not in spec.optional or bias}
        return loss(spec, {**values, **theta}, steps=steps,
                    functions=function_table(spec, xp, choice), xp=xp, sizes=sizes)
    return Reference(params, forward)
