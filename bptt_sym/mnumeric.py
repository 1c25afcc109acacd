"""Evaluate matrix-form derivations: with NumPy (batched, fast) or with exact SymPy matrices.

One small evaluator walks the derived matrix expressions (MatMul, MatAdd, ᵀ, ⊙, elementwise
functions), so what is verified is exactly what was derived and printed.  Vectors carry a
leading batch axis in NumPy: shape (B, n, 1); weights are shared, shape (n, m).

    >>> import numpy as np
    >>> from bptt_sym.vector import unroll_vector
    >>> g = unroll_vector(steps=2, hidden=3, inputs=2, classes=3)
    >>> vals = random_values(g, np.random.default_rng(0), batch=4)
    >>> sorted(matrix_gradients(g, vals))
    ['U', 'V', 'W']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import sympy as sp

from .errors import UsageError
from .mderive import Diag, derive_matrix
from .vector import Apply, Softmax, VectorGraph, Xent

__all__ = ["evaluate", "compile_expr", "NUMPY", "STAND_IN", "SYMPY", "forward_values",
           "matrix_gradients", "matrix_program", "MatrixProgram", "random_values"]


#: what the abstract activation f of a vector model computes with in NumPy (and the oracles)
STAND_IN = "tanh"


def _np_softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _sp_softmax(a: sp.Matrix) -> sp.Matrix:
    e = a.applyfunc(sp.exp)
    return e / sum(e)


# NumPy works on a batch of column vectors side by side: a vector is (n, B), so U x is one
# matrix product and δ sᵀ = (H, B) @ (B, H) is already summed over the batch.
NUMPY = SimpleNamespace(
    matmul=lambda a, b: a @ b, transpose=lambda a: a.T,
    hadamard=lambda a, b: a * b, ones=lambda shape: np.ones(shape), softmax=_np_softmax,
    xent=lambda yhat, y: -(y * np.log(yhat)).sum(axis=0),
    diag=lambda v: np.diag(v[:, 0]),
    funcs={"tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
           "relu": lambda z: np.maximum(z, 0), "identity": lambda z: z,
           "step": lambda z: (z > 0).astype(float),
           # the abstract f runs with its stand-in tanh (STAND_IN), and f' with tanh'
           "f": np.tanh, "f'": lambda z: 1 - np.tanh(z) ** 2})
SYMPY = SimpleNamespace(
    matmul=lambda a, b: a * b, transpose=lambda a: a.T,
    hadamard=lambda a, b: a.multiply_elementwise(b), ones=lambda shape: sp.ones(*shape),
    softmax=_sp_softmax, xent=lambda yhat, y: -sum(y[i] * sp.log(yhat[i])
                                                   for i in range(y.shape[0])),
    diag=lambda v: sp.diag(*v),
    funcs={"tanh": sp.tanh, "sigmoid": lambda z: 1 / (1 + sp.exp(-z)),
           "relu": lambda z: sp.Max(z, 0), "identity": lambda z: z,
           "step": lambda z: sp.Heaviside(z, 0)})


def evaluate(expr: sp.Basic, env: Mapping[str, object], xp: SimpleNamespace) -> object:
    """The value of a matrix expression; ``env`` maps symbol names to values.  To evaluate
    the same expression many times, compile it once with :func:`compile_expr`."""
    return compile_expr(expr, xp)(env)


Compiled = Callable[[Mapping[str, object]], object]


def compile_expr(expr: sp.Basic, xp: SimpleNamespace = NUMPY) -> Compiled:
    """``evaluate`` done once: a tree of closures that computes ``expr`` from an env.

    The same rules as :func:`evaluate`, without walking SymPy objects on every call.  A sum
    of outer products Σ_t a_t b_tᵀ (a weight's gradient) runs as one matrix product
    [a_0 … a_T][b_0 … b_T]ᵀ: the same sum, in one BLAS call.
    """
    if isinstance(expr, (sp.MatrixSymbol, sp.Symbol)):
        name = expr.name
        return lambda env: env[name]
    if expr.is_Number:
        value = float(expr) if xp is NUMPY else getattr(xp, "number", lambda n: n)(expr)
        return lambda env: value
    if isinstance(expr, (sp.MatAdd, sp.Add)) and xp is NUMPY:
        outer = _outer_terms(expr)
        if outer is not None:
            lefts = [compile_expr(a, xp) for a, _ in outer]
            rights = [compile_expr(b, xp) for _, b in outer]
            return lambda env: np.hstack([f(env) for f in lefts]) @ \
                np.hstack([f(env) for f in rights]).T
    if isinstance(expr, Apply):
        fn = xp.funcs.get(expr.name)
        if fn is None:
            raise UsageError(f"no numeric form of {expr.name}")
        arg = compile_expr(expr.arg, xp)
        return (lambda env: arg(env).applyfunc(fn)) if xp is SYMPY else (lambda env: fn(arg(env)))
    parts = [compile_expr(a, xp) for a in expr.args]
    if isinstance(expr, sp.MatMul):
        def matmul(env: Mapping[str, object]) -> object:
            out = parts[0](env)
            for p in parts[1:]:
                v = p(env)
                out = out * v if _scalar(out) or _scalar(v) else xp.matmul(out, v)
            return out
        return matmul
    if isinstance(expr, (sp.MatAdd, sp.Add)):
        def add(env: Mapping[str, object]) -> object:
            out = parts[0](env)
            for p in parts[1:]:
                out = out + p(env)
            return out
        return add
    if isinstance(expr, (sp.HadamardProduct, sp.HadamardPower)):
        reps = int(expr.exp) if isinstance(expr, sp.HadamardPower) else 1
        factors = parts if reps == 1 else [parts[0]] * reps

        def hadamard(env: Mapping[str, object]) -> object:
            out = factors[0](env)
            for p in factors[1:]:
                out = xp.hadamard(out, p(env))
            return out
        return hadamard
    first = parts[0] if parts else None
    simple: dict[type, Compiled] = {
        sp.Transpose: lambda env: xp.transpose(first(env)),
        Softmax: lambda env: xp.softmax(first(env)),
        Xent: lambda env: xp.xent(*(p(env) for p in parts)),
        Diag: lambda env: xp.diag(first(env)),
        sp.OneMatrix: lambda env: xp.ones(expr.shape),
    }
    for cls, fn in simple.items():
        if isinstance(expr, cls):
            return fn
    raise UsageError(f"cannot evaluate {type(expr).__name__}")


def _outer_terms(expr: sp.Basic) -> list[tuple[sp.Basic, sp.Basic]] | None:
    """The (a, b) of a sum of two or more a bᵀ with column vectors a, b; else None."""
    out = []
    for term in expr.args:
        if not (isinstance(term, sp.MatMul) and len(term.args) == 2 and
                isinstance(term.args[1], sp.Transpose)):
            return None
        a, bt = term.args
        if a.shape[1] != 1 or bt.arg.shape[1] != 1:
            return None
        out.append((a, bt.arg))
    return out if len(out) > 1 else None


def _scalar(v: object) -> bool:
    return np.ndim(v) == 0 and not isinstance(v, sp.MatrixBase)


def _columns(values: Mapping[str, object]) -> dict[str, object]:
    """(B, n, 1) batches -> (n, B) columns; weights stay as they are."""
    return {k: (v[..., 0].T if np.ndim(v) == 3 else v) for k, v in values.items()}


def forward_values(graph: VectorGraph, values: Mapping[str, object],
                   xp: SimpleNamespace = NUMPY) -> dict[str, object]:
    """Node values of the unrolled forward pass; step copies read the shared weights.

    NumPy values come in as (B, n, 1) batches and are held as (n, B) columns.
    """
    env = _columns(values) if xp is NUMPY else dict(values)
    names = {c.name: p for p, copies in graph.copies.items() for c in copies}
    for c, p in names.items():
        env[c] = values[p]
    for sym, node in graph.nodes.items():
        if node.expr is not None:
            env[sym.name] = evaluate(node.expr, env, xp)
    return env


@dataclass(frozen=True)
class MatrixProgram:
    """The derived equations of one unrolling, in the order they run: δ's, then gradients.

    Derived once; calling it runs the forward pass and the equations on arrays.
    """

    graph: VectorGraph
    deltas: tuple[tuple[str, sp.Basic], ...]
    gradients: tuple[tuple[str, sp.Basic], ...]
    _compiled: dict = field(default_factory=dict, repr=False, compare=False)

    def _program(self, xp: SimpleNamespace) -> tuple:
        """The forward equations, δ's and gradients compiled once for ``xp``."""
        if id(xp) not in self._compiled:
            nodes = [(s.name, compile_expr(n.expr, xp)) for s, n in self.graph.nodes.items()
                     if n.expr is not None]
            deltas = [(name, compile_expr(rhs, xp)) for name, rhs in self.deltas]
            grads = [(p, compile_expr(rhs, xp)) for p, rhs in self.gradients]
            self._compiled[id(xp)] = (nodes, deltas, grads)
        return self._compiled[id(xp)]

    def __call__(self, values: Mapping[str, object],
                 xp: SimpleNamespace = NUMPY) -> dict[str, object]:
        nodes, deltas, grads = self._program(xp)
        env = _columns(values) if xp is NUMPY else dict(values)
        for p, copies in self.graph.copies.items():
            for c in copies:
                env[c.name] = values[p]
        for name, fn in nodes:
            env[name] = fn(env)
        for name, fn in deltas:
            env[name] = fn(env)
        out = {}
        for p, fn in grads:
            value = fn(env)
            if xp is NUMPY and value.shape[1] != self.graph.copies[p][0].shape[1]:
                value = value.sum(axis=1, keepdims=True)  # a bias: Σ over the batch
            out[p] = value
        return out


def matrix_program(graph: VectorGraph) -> MatrixProgram:
    """Derive every weight's matrix-form gradient once, ready to run."""
    deltas: dict[str, sp.Basic] = {}
    grads = []
    for p in graph.copies:
        d = derive_matrix(graph, wrt=p)
        for eq in d.unrolled:
            if eq.kind == "delta":
                deltas.setdefault(eq.lhs.name, eq.rhs)
            else:
                grads.append((p, eq.rhs))
    return MatrixProgram(graph, tuple(deltas.items()), tuple(grads))


def matrix_gradients(graph: VectorGraph, values: Mapping[str, object],
                     xp: SimpleNamespace = NUMPY) -> dict[str, object]:
    """∂E/∂p for every weight p, by running the derived δ recursion and gradient sums.

    With NumPy and a batch, E is the sum of the batch's losses.  Derives each call: use
    :func:`matrix_program` to derive once and run many times.
    """
    return matrix_program(graph)(values, xp)


def random_values(graph: VectorGraph, rng: np.random.Generator, *, batch: int = 1,
                  one_hot: bool = True) -> dict[str, np.ndarray]:
    """Weights (shared), inputs, one-hot (or distribution) targets and s_{-1} = 0."""
    h, d, k = (graph.dims[c] for c in "HDK")
    scale = {"U": 1 / np.sqrt(d), "W": 0.9 / np.sqrt(h), "V": 1 / np.sqrt(h), "b": 0.1,
             "c": 0.1}
    vals: dict[str, np.ndarray] = {}
    for p, copies in graph.copies.items():
        vals[p] = rng.normal(0, scale[p], copies[0].shape)
    for sym, node in graph.nodes.items():
        if node.kind == "input":
            vals[sym.name] = rng.normal(0, 1, (batch, d, 1))
        elif node.kind == "target":
            if one_hot:
                y = np.zeros((batch, k, 1))
                y[np.arange(batch), rng.integers(0, k, batch), 0] = 1
            else:
                y = rng.dirichlet(np.ones(k), batch)[..., None]
            vals[sym.name] = y
        elif node.kind == "initial":
            vals[sym.name] = np.zeros((batch, h, 1))
    return vals
