"""Evaluate matrix-form derivations: with NumPy (batched, fast) or with exact SymPy matrices.

One small evaluator walks the derived matrix expressions (MatMul, MatAdd, ᵀ, ⊙, elementwise
functions), so what is verified is exactly what was derived and printed.  Vectors carry a
leading batch axis in NumPy: shape (B, n, 1); weights are shared, shape (n, m).

    >>> import numpy as np
    >>> from bptt_sym.graph.matrix import unroll_vector
    >>> g = unroll_vector(steps=2, hidden=3, inputs=2, classes=3)
    >>> vals = random_values(g, np.random.default_rng(0), batch=4)
    >>> sorted(matrix_gradients(g, vals))
    ['U', 'V', 'W']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import sympy as sp

from bptt_sym.derivation.matrix import Diag, derive_matrix
from bptt_sym.derivation.matrix import shared as shared_weights
from bptt_sym.errors import UsageError
from bptt_sym.graph.build import Graph
from bptt_sym.graph.matrix import ELMAN, Apply, EntrySum, Softmax, Xent, matrix_symbol
from bptt_sym.model.calls import xent_targets
from bptt_sym.numeric.backends import BATCHED, NUMPY, STAND_IN, SYMPY
from bptt_sym.numeric.fused import fused_product, fused_sum, occurrences
from bptt_sym.rules.expressions import Rows, Stack

__all__ = ["evaluate", "compile_expr", "NUMPY", "BATCHED", "STAND_IN", "SYMPY", "backend",
           "forward_values", "matrix_gradients", "matrix_program", "MatrixProgram",
           "random_values", "is_elman", "forward_loss"]


def evaluate(expr: sp.Basic, env: Mapping[str, object], xp: SimpleNamespace) -> object:
    """The value of a matrix expression; ``env`` maps symbol names to values.  To evaluate
    the same expression many times, compile it once with :func:`compile_expr`."""
    return compile_expr(expr, xp)(env)


Compiled = Callable[[Mapping[str, object]], object]


MEMO = "\0memo"  # the env key of one call's values of shared subexpressions
_UNSET = object()


def compile_expr(expr: sp.Basic, xp: SimpleNamespace = NUMPY,
                 shared: dict | None = None) -> Compiled:
    """``evaluate`` done once: a tree of closures that computes ``expr`` from an env.

    The same rules as :func:`evaluate`, without walking SymPy objects on every call.  A sum
    of outer products Σ_t a_t b_tᵀ (a weight's gradient) runs as one matrix product
    [a_0 … a_T][b_0 … b_T]ᵀ: the same sum, in one BLAS call.

    ``shared``: one table for every expression of a program.  A subexpression that occurs
    again (the GRU's W_hn h_{t-1} + b_hn of the forward pass in its backward pass, the δ
    factor that several gradients share) is then compiled once, and computed once per call:
    its value is kept in the call's ``env[MEMO]`` (a dict the caller starts empty).
    """
    if shared is None:
        return _compile(expr, xp, None)
    found = shared.get(expr)
    if found is not None:
        return found
    fn = _compile(expr, xp, shared)
    uses = shared.get(MEMO)  # how often each subexpression occurs, when the caller counted
    if not isinstance(expr, (sp.MatrixSymbol, sp.Symbol)) and not expr.is_Number and \
            (uses is None or uses.get(expr, 2) > 1):
        key, inner = len(shared), fn

        def fn(env: Mapping[str, object]) -> object:
            memo = env[MEMO]
            value = memo.get(key, _UNSET)
            if value is _UNSET:
                value = memo[key] = inner(env)
            return value
    shared[expr] = fn
    return fn


def _compile(expr: sp.Basic, xp: SimpleNamespace, shared: dict | None) -> Compiled:
    if isinstance(expr, (sp.MatrixSymbol, sp.Symbol)):
        name = expr.name
        return lambda env: env[name]
    if isinstance(expr, sp.ZeroMatrix):  # a zero initial state's term at T = 1 (f ⊙ c_{-1})
        shape = tuple(int(n) for n in expr.shape)
        zeros = getattr(xp, "zeros", np.zeros)  # exact zeros for the exact backends
        return (lambda env: sp.zeros(*shape)) if xp is SYMPY else (lambda env: zeros(shape))
    if expr.is_Number:
        value = float(expr) if xp in (NUMPY, BATCHED) else \
            getattr(xp, "number", lambda n: n)(expr)
        return lambda env: value
    if isinstance(expr, (sp.MatAdd, sp.Add)) and xp is NUMPY:
        outer = _outer_terms(expr)
        if outer is not None:
            lefts = [compile_expr(a, xp, shared) for a, _ in outer]
            rights = [compile_expr(b, xp, shared) for _, b in outer]
            return lambda env: np.hstack([f(env) for f in lefts]) @ \
                np.hstack([f(env) for f in rights]).T
    if isinstance(expr, Apply):
        fn = xp.funcs.get(expr.name)
        if fn is None:
            raise UsageError(f"no numeric form of {expr.name}")
        arg = compile_expr(expr.arg, xp, shared)
        return (lambda env: arg(env).applyfunc(fn)) if xp is SYMPY else (lambda env: fn(arg(env)))
    if isinstance(expr, Stack):  # [h_{t-1}; x_t]
        stacked = [compile_expr(a, xp, shared) for a in expr.parts]
        return lambda env: xp.stack([f(env) for f in stacked])
    if isinstance(expr, Rows):  # the rows of one part of a stack
        whole, start, stop = compile_expr(expr.arg, xp, shared), expr.start, expr.stop
        return lambda env: xp.rows(whole(env), start, stop)
    if isinstance(expr, sp.MatAdd) and xp in (NUMPY, BATCHED):  # 1 − z as one subtraction
        fused = fused_sum(expr, lambda a: compile_expr(a, xp, shared))
        if fused is not None:
            return fused
    parts = [compile_expr(a, xp, shared) for a in expr.args]
    if isinstance(expr, sp.HadamardProduct) and xp in (NUMPY, BATCHED):
        return fused_product(parts)
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
    if isinstance(expr, (sp.Mul, sp.Pow)):  # scalars: 1/T Σ_t E_t, E_t^2
        if isinstance(expr, sp.Pow):
            return lambda env: parts[0](env) ** parts[1](env)

        def product(env: Mapping[str, object]) -> object:
            out = parts[0](env)
            for p in parts[1:]:
                out = out * p(env)
            return out
        return product
    first = parts[0] if parts else None
    if isinstance(expr, EntrySum) and hasattr(xp, "entrysum"):
        return lambda env: xp.entrysum(first(env))
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


def is_elman(graph_or_spec: object) -> bool:
    """True for the built-in elman (by content, whatever its name or file)."""
    from bptt_sym.numeric.compiled import spec_key

    spec = getattr(graph_or_spec, "spec", graph_or_spec)
    return spec is ELMAN or spec_key(spec) == spec_key(ELMAN)


def backend(graph: Graph) -> SimpleNamespace:
    """How NumPy runs ``graph``: a model whose every value but the weights is a column
    vector (elman, a GRU or LSTM of columns) as (n, B) columns side by side, so that a
    weight's gradient Σ_t a_t b_tᵀ is one BLAS call (:data:`NUMPY`); any other matrix model
    (rows, matrices) batch axis first (:data:`BATCHED`)."""
    return NUMPY if _columns_only(graph) else BATCHED


def _columns_only(graph: Graph) -> bool:
    """Every value but the weights a column; in a gated cell of hidden size 1 each column
    has one entry, SymPy writes o ⊙ tanh(c) as the 1×1 product o tanh(c) (or o tanh(c)ᵀ),
    which the (n, B) layout would sum over the batch: such a graph runs batch axis first."""
    weights = {c for copies in graph.copies.values() for c in copies}
    nodes = [n for n in graph.nodes if n not in weights]
    shapes = [getattr(n, "shape", (1, 1)) for n in nodes]
    products = any(re.search(r"\*|⊙", line) for line in (*graph.spec.cell, *graph.spec.head))
    if products and any(isinstance(n, sp.MatrixSymbol) and n.shape == (1, 1) for n in nodes):
        return False  # an elementwise product of two 1×1 values: batch axis first
    return bool(shapes) and all(isinstance(s, tuple) and s[1] == 1 for s in shapes)


def forward_values(graph: Graph, values: Mapping[str, object],
                   xp: SimpleNamespace | None = None) -> dict[str, object]:
    """Node values of the unrolled forward pass; step copies read the shared weights.

    NumPy values come in as (B, n, 1) batches (any matrix model: (B, rows, cols)); elman's
    are held as (n, B) columns (:func:`backend`).
    """
    xp = backend(graph) if xp is None else xp
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

    graph: Graph
    deltas: tuple[tuple[str, sp.Basic], ...]
    gradients: tuple[tuple[str, sp.Basic], ...]
    _compiled: dict = field(default_factory=dict, repr=False, compare=False)

    def _program(self, xp: SimpleNamespace) -> tuple:
        """The forward equations, δ's and gradients compiled once for ``xp``."""
        if id(xp) not in self._compiled:
            one = shared_weights(self.graph)  # the step copies W_0, W_1, … as the shared W
            exprs = [n.expr.xreplace(one) for n in self.graph.nodes.values()
                     if n.expr is not None]
            table: dict = {MEMO: occurrences([*exprs, *(e for _, e in self.deltas),
                                        *(e for _, e in self.gradients)])}
            syms = [s for s, n in self.graph.nodes.items() if n.expr is not None]
            nodes = [(s.name, compile_expr(e, xp, table)) for s, e in zip(syms, exprs)]
            deltas = [(name, compile_expr(rhs, xp, table)) for name, rhs in self.deltas]
            grads = [(p, compile_expr(rhs, xp, table)) for p, rhs in self.gradients]
            self._compiled[id(xp)] = (nodes, deltas, grads)
        return self._compiled[id(xp)]

    def __call__(self, values: Mapping[str, object],
                 xp: SimpleNamespace | None = None) -> dict[str, object]:
        if xp is None:  # chosen once per program, not at every call
            xp = self._compiled.setdefault("backend", backend(self.graph))
        nodes, deltas, grads = self._program(xp)
        env = _columns(values) if xp is NUMPY else dict(values)
        env[MEMO] = {}
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
            if xp is BATCHED:
                value = _batch_total(value, values[p], _batch(values))
            out[p] = value
        return out


def _batch(values: Mapping[str, object]) -> int:
    """The number of points: the leading axis of the values that have three axes."""
    return max([np.shape(v)[0] for v in values.values() if np.ndim(v) == 3] or [1])


def _batch_total(value: object, like: object, batch: int) -> np.ndarray:
    """A weight's gradient Σ over the batch, in the shape of the weight: (B, n, m) summed;
    one that no point's value enters is the same for each of the ``batch`` points."""
    value = np.asarray(value, dtype=float)
    value = value.sum(axis=0) if value.ndim == 3 else value * batch
    return value.reshape(np.shape(like))


def forward_loss(graph: Graph, values: Mapping[str, object]) -> np.ndarray:
    """The loss of each point, shape (B,), by the unrolled forward pass."""
    e = np.asarray(forward_values(graph, values)[graph.spec.loss], dtype=float)
    return e.reshape(-1) if e.ndim >= 1 and e.size == _batch(values) else e


def matrix_program(graph: Graph) -> MatrixProgram:
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


def matrix_gradients(graph: Graph, values: Mapping[str, object],
                     xp: SimpleNamespace | None = None) -> dict[str, object]:
    """∂E/∂p for every weight p, by running the derived δ recursion and gradient sums.

    With NumPy and a batch, E is the sum of the batch's losses.  Derives each call: use
    :func:`matrix_program` to derive once and run many times.
    """
    return matrix_program(graph)(values, xp)


def random_values(graph: Graph, rng: np.random.Generator, *, batch: int = 1,
                  one_hot: bool = True) -> dict[str, np.ndarray]:
    """Weights (shared), inputs, one-hot (or distribution) targets and s_{-1} = 0 for
    elman; for any other matrix model every value drawn by its shape (:func:`_by_shape`)."""
    if not is_elman(graph):
        return _by_shape(graph, rng, batch, one_hot)
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


def _shape(sym: sp.Basic) -> tuple[int, ...]:
    """A leaf's (rows, cols); a scalar leaf has none."""
    return tuple(int(n) for n in sym.shape) if isinstance(sym, sp.MatrixSymbol) else ()


def _by_shape(graph: Graph, rng: np.random.Generator, batch: int,
              one_hot: bool) -> dict[str, np.ndarray]:
    """Random values of any matrix model, each of its leaf's shape: a weight N(0, 0.9/√n)
    with n its larger side (a scalar N(0, 0.5²), an optional one, a bias, N(0, 0.1²)),
    shared; per point (B, rows, cols): inputs N(0, 1), given initial states N(0, 0.5²),
    the targets that xent reads one-hot (or a distribution) over their entries, every other
    target N(0, 1)."""
    probability = xent_targets(graph.spec)
    vals: dict[str, np.ndarray] = {}
    for p in graph.spec.parameters_for(graph.bias):  # one unused at this T too: its
        shape = _shape(matrix_symbol(graph.spec, graph.dims, p, None))  # equations read it
        sd = 0.1 if p in graph.spec.optional else 0.9 / np.sqrt(max(shape)) if shape else 0.5
        vals[p] = rng.normal(0, sd, shape)
    for sym, node in graph.nodes.items():
        shape = (batch, *(_shape(sym) or (1, 1)))
        if node.kind == "input":
            vals[sym.name] = rng.normal(0, 1, shape)
        elif node.kind == "initial":
            vals[sym.name] = rng.normal(0, 0.5, shape)
        elif node.kind == "target" and node.base in probability:
            n = shape[1] * shape[2]
            y = np.eye(n)[rng.integers(0, n, batch)] if one_hot else \
                rng.dirichlet(np.ones(n), batch)
            vals[sym.name] = y.reshape(shape)
        elif node.kind == "target":
            vals[sym.name] = rng.normal(0, 1, shape)
    return vals
