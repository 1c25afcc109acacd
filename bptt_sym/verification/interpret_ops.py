"""The array semantics of the model grammar for :mod:`bptt_sym.verification.interpret`: scalar
models (every product multiplies) and matrix models (NumPy's: ``@`` is the matrix product, ``*`` and
``⊙`` elementwise, ``ᵀ`` swaps the last two axes), and the functions a matrix model calls.

A matrix model's value is an array whose last two axes are its rows and columns, after an
optional leading batch axis: a vector ``x_t`` of shape ``D x 1`` is ``(B, D, 1)``, a shared
weight ``(H, D)`` (NumPy's ``matmul`` broadcasts it over the batch).  A scalar, such as a
loss ``E_t``, is ``(B, 1, 1)``, so that it scales a matrix of the same batch.  Everything is
written with the array library ``xp`` (numpy or autograd.numpy; complex arrays for the
complex step), never with SymPy.

    >>> import numpy as np
    >>> ops = MatrixOps(np)
    >>> ops.matmul(np.ones((2, 3)), np.ones((4, 3, 1))).shape
    (4, 2, 1)
    >>> ops.matmul(2.0, np.ones((2, 1))).tolist()
    [[2.0], [2.0]]
    >>> ops.transpose(np.ones((4, 3, 1))).shape
    (4, 1, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType

import numpy as np

from bptt_sym.errors import BpttError
from bptt_sym.model.spec import ModelSpec

__all__ = ["ScalarOps", "MatrixOps", "SCALAR_OPS", "matrix_functions", "infer_sizes",
           "shape_of", "as_matrix", "zeros", "MATRIX_ACTIVATIONS", "ABSTRACT_STAND_IN"]

Value = object

#: the activations a matrix model's role letter (``f``) may be replaced by
MATRIX_ACTIVATIONS = ("tanh", "sigmoid", "relu", "identity", "f")
#: what the abstract activation f computes with, as :data:`bptt_sym.numeric.matrix.STAND_IN`
ABSTRACT_STAND_IN = "tanh"


class ScalarOps:
    """Scalar models: every product multiplies and a transpose is the value itself."""

    def matmul(self, a: Value, b: Value) -> Value:
        return a * b

    def mul(self, a: Value, b: Value) -> Value:
        return a * b

    def transpose(self, a: Value) -> Value:
        return a

    def stack(self, *parts: Value) -> Value:
        raise BpttError("[a; b] stacks vectors: it needs a model with [shapes]")


SCALAR_OPS = ScalarOps()


def _is_scalar(v: Value) -> bool:
    """A number, or a (batch of) 1 x 1 value: a product with it scales the other side."""
    shape = getattr(v, "shape", ())
    return len(shape) < 2 or tuple(shape[-2:]) == (1, 1)


class MatrixOps(ScalarOps):
    """Matrix models, in ``xp``: juxtaposition, ``@`` and ``·`` are the matrix product (a
    plain product when one side is a scalar); ``*`` and ``⊙`` are elementwise."""

    def __init__(self, xp: ModuleType) -> None:
        self.xp = xp

    def matmul(self, a: Value, b: Value) -> Value:
        if _is_scalar(a) or _is_scalar(b):
            return a * b
        return a @ b

    def transpose(self, a: Value) -> Value:
        if len(getattr(a, "shape", ())) < 2:
            return a
        return self.xp.swapaxes(a, -1, -2)

    def stack(self, *parts: Value) -> Value:
        """[a; b]: rows after rows (axis -2); a part without the batch axis (a zero initial
        state) spreads over the batch."""
        shapes = [tuple(getattr(p, "shape", ())) for p in parts]
        lead = max((s[:-2] for s in shapes), key=len)
        parts = tuple(p if s[:-2] == lead else self.xp.zeros((*lead, *s[-2:])) + p
                      for p, s in zip(parts, shapes))
        return self.xp.concatenate(parts, axis=-2)


def shape_of(spec: ModelSpec, base: str, sizes: Mapping[str, int]) -> tuple[int, int]:
    """The (rows, columns) of ``base`` at ``sizes``; a name with no shape is 1 x 1."""
    letters = spec.shapes.get(base, ("1", "1"))
    try:
        return tuple(1 if c == "1" else int(sizes[c]) for c in letters)  # type: ignore[return-value]
    except KeyError as exc:
        raise BpttError(f"model {spec.name}: no size for the letter {exc.args[0]} of "
                        f"{base}") from None


def as_matrix(spec: ModelSpec, base: str, value: Value, xp: ModuleType) -> Value:
    """A given value in the matrix layout: a scalar name's ``()`` or ``(B,)`` becomes
    ``(1, 1)`` or ``(B, 1, 1)``; a shaped name must end in two axes."""
    shape = tuple(getattr(value, "shape", ()))
    if base not in spec.shapes:
        if len(shape) <= 1:
            return xp.reshape(value, (*shape, 1, 1))
        return value
    if len(shape) not in (2, 3):
        raise BpttError(f"model {spec.name}: the value of {base} has shape {shape}; a matrix "
                        "value is (rows, columns) or (batch, rows, columns)")
    return value


def infer_sizes(spec: ModelSpec, values: Mapping[str, Value]) -> dict[str, int]:
    """The size of each letter, from the given values' last two axes (``spec.sizes`` for a
    letter no value shows); two values that disagree are an error."""
    from bptt_sym.notation import split_name

    sizes: dict[str, int] = {}
    seen: dict[str, str] = {}
    for key, value in values.items():
        base = key if key in spec.shapes else split_name(key)[0]
        shape = tuple(getattr(value, "shape", ()))
        if base not in spec.shapes or len(shape) < 2:
            continue
        for letter, n in zip(spec.shapes[base], shape[-2:]):
            if letter == "1":
                continue
            if letter in sizes and sizes[letter] != n:
                raise BpttError(f"model {spec.name}: {key} has {letter} = {n} but "
                                f"{seen[letter]} has {letter} = {sizes[letter]}")
            sizes.setdefault(letter, int(n))
            seen.setdefault(letter, key)
    out = {**spec.sizes, **{k: n for k, n in sizes.items() if k not in spec.derived_sizes}}
    for letter, parts in spec.derived_sizes.items():
        want = sum(out[p] for p in parts)
        if letter in sizes and sizes[letter] != want:
            raise BpttError(f"model {spec.name}: {seen[letter]} has {letter} = {sizes[letter]} "
                            f"but {letter} is {' + '.join(parts)} = {want}")
        out[letter] = want
    return out


def _softmax(xp: ModuleType) -> Callable[[Value], Value]:
    def softmax(a: Value) -> Value:  # over the rows of a column vector (axis -2)
        shift = xp.max(xp.real(a), axis=-2, keepdims=True)  # real: safe for the complex step
        e = xp.exp(a - shift)
        return e / xp.sum(e, axis=-2, keepdims=True)
    return softmax


def _total(xp: ModuleType) -> Callable[[Value], Value]:
    def total(a: Value) -> Value:  # sum(X): every entry, a (batch of) 1 x 1
        if len(getattr(a, "shape", ())) < 2:
            return a
        return xp.sum(a, axis=(-2, -1), keepdims=True)
    return total


def _elementwise(xp: ModuleType) -> dict[str, Callable[..., Value]]:
    def sigmoid(z: Value) -> Value:
        return 1.0 / (1.0 + xp.exp(-z))

    return {"tanh": xp.tanh, "sigmoid": sigmoid, "relu": lambda z: z * (xp.real(z) > 0),
            "identity": lambda z: z, "exp": xp.exp, "log": xp.log,
            "f": xp.tanh}  # the abstract activation runs with its stand-in (ABSTRACT_STAND_IN)


def matrix_functions(spec: ModelSpec, xp: ModuleType, choice: tuple[str, str, str]
                     ) -> dict[str, Callable[..., Value]]:
    """The functions a matrix model's equations may call, in ``xp``: ``softmax`` (over the
    rows), ``xent(yhat, y)`` = −Σ y log ŷ, ``sum`` (of all entries), the elementwise tanh,
    sigmoid, relu, identity, exp, log, ``mse`` and ``bce`` (entrywise), and each role letter
    of ``spec`` the choice of its role (the activation entrywise; f, abstract, as tanh)."""
    elem = _elementwise(xp)
    total = _total(xp)
    softmax = _softmax(xp)
    fns: dict[str, Callable[..., Value]] = {
        **{k: v for k, v in elem.items() if k != "f"},
        "softmax": softmax, "sum": total,
        "xent": lambda yhat, y: -total(y * xp.log(yhat)),
        "mse": lambda o, y: 0.5 * (o - y) ** 2,
        "bce": lambda o, y: -(y * xp.log(o) + (1.0 - y) * xp.log(1.0 - o)),
    }
    chosen = dict(zip(("activation", "output", "loss"), choice))
    outputs = {"softmax": softmax, "sigmoid": elem["sigmoid"], "identity": elem["identity"]}
    losses = {"xent": fns["xent"], "mse": lambda o, y: total(fns["mse"](o, y)),
              "bce": lambda o, y: total(fns["bce"](o, y))}
    for letter, role in spec.functions.items():
        name = chosen.get(role)
        table = {"activation": elem, "output": outputs, "loss": losses}.get(role, {})
        if name not in table or (role != "activation" and name in ("g", "L")):
            raise BpttError(f"model {spec.name}: the {role} {letter} of a matrix model has no "
                            f"array form for {name!r}")
        fns[letter] = table[name]
    return fns


def zeros(shape: tuple[int, ...]) -> np.ndarray:
    """A constant zero of ``shape`` (an absent bias, a zero initial state)."""
    return np.zeros(shape)
