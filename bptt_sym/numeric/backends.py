"""The backends of the matrix evaluator: NumPy on columns side by side, NumPy batch axis
first, and exact SymPy; their elementwise functions are compiled from the rule table."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import sympy as sp

from bptt_sym.rules.functions import RULES

__all__ = ["NUMPY", "BATCHED", "SYMPY", "STAND_IN"]

#: what the abstract activation f of a vector model computes with in NumPy (and the oracles)
STAND_IN = "tanh"


def _np_softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _sp_softmax(a: sp.Matrix) -> sp.Matrix:
    e = a.applyfunc(sp.exp)
    return e / sum(e)


_Z = sp.Dummy("z")


def _from_rules(compile_: Callable[[sp.Expr], Callable]) -> dict[str, Callable]:
    """Every concrete activation of the rule table (rules/functions.py), compiled from its
    value in elementary functions: a new activation there is one here too."""
    return {r.name: compile_(r.explicit(_Z)) for (role, _), r in RULES.items()
            if role == "activation" and r.explicit is not None}


def _np_stack(parts: list) -> np.ndarray:
    """[a; b] of (n, B) columns; a zero part of one column spreads over the batch."""
    width = max(np.shape(p)[1] for p in parts)
    return np.concatenate([np.broadcast_to(p, (np.shape(p)[0], width)) for p in parts])


def _b_stack(parts: list) -> np.ndarray:
    """[a; b] of (B, n, cols) values; a part without the batch axis spreads over it."""
    lead = np.broadcast_shapes(*(np.shape(p)[:-2] for p in parts))
    return np.concatenate([np.broadcast_to(p, (*lead, *np.shape(p)[-2:])) for p in parts],
                          axis=-2)


# NumPy works on a batch of column vectors side by side: a vector is (n, B), so U x is one
# matrix product and δ sᵀ = (H, B) @ (B, H) is already summed over the batch.
NUMPY = SimpleNamespace(
    matmul=lambda a, b: a @ b, transpose=lambda a: a.T,
    hadamard=lambda a, b: a * b, ones=lambda shape: np.ones(shape), softmax=_np_softmax,
    xent=lambda yhat, y: -(y * np.log(yhat)).sum(axis=0),
    diag=lambda v: np.diag(v[:, 0]), stack=_np_stack, rows=lambda a, i, j: a[i:j],
    funcs={**_from_rules(lambda e: sp.lambdify(_Z, e, "numpy")),
           "step": lambda z: (z > 0).astype(float),
           # the abstract f runs with its stand-in tanh (STAND_IN), and f' with tanh'
           "f": np.tanh, "f'": lambda z: 1 - np.tanh(z) ** 2})


def _b_scalar(v: object) -> bool:
    shape = np.shape(v)
    return len(shape) < 2 or shape[-2:] == (1, 1)


def _b_diag(v: np.ndarray) -> np.ndarray:
    """diag of a batch of column or row vectors: (B, n, 1) or (B, 1, n) -> (B, n, n)."""
    col = v if np.shape(v)[-1] == 1 else np.swapaxes(v, -1, -2)
    return col * np.eye(np.shape(col)[-2])


def _b_softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=-2, keepdims=True))
    return e / e.sum(axis=-2, keepdims=True)


# Any matrix model: a value is (B, rows, cols) (a shared weight (rows, cols)), a scalar such
# as E_t (B, 1, 1); np.matmul broadcasts the batch axis.  Row vectors work as columns do.
BATCHED = SimpleNamespace(
    matmul=lambda a, b: a * b if _b_scalar(a) or _b_scalar(b) else np.matmul(a, b),
    transpose=lambda a: np.swapaxes(a, -1, -2) if np.ndim(a) >= 2 else a,
    hadamard=lambda a, b: a * b, ones=lambda shape: np.ones(shape), softmax=_b_softmax,
    xent=lambda yhat, y: -(y * np.log(yhat)).sum(axis=(-2, -1), keepdims=True),
    entrysum=lambda a: np.sum(a, axis=(-2, -1), keepdims=True) if np.ndim(a) >= 2 else a,
    diag=lambda v: _b_diag(v), stack=_b_stack, rows=lambda a, i, j: a[..., i:j, :],
    zeros=lambda shape: np.zeros(shape), funcs=NUMPY.funcs)
SYMPY = SimpleNamespace(
    matmul=lambda a, b: a * b, transpose=lambda a: a.T,
    hadamard=lambda a, b: a.multiply_elementwise(b), ones=lambda shape: sp.ones(*shape),
    softmax=_sp_softmax, xent=lambda yhat, y: -sum(y[i] * sp.log(yhat[i])
                                                   for i in range(y.shape[0])),
    diag=lambda v: sp.diag(*v), stack=lambda parts: sp.Matrix.vstack(*parts),
    rows=lambda a, i, j: a[i:j, :],
    funcs={**_from_rules(lambda e: sp.Lambda(_Z, e)), "step": lambda z: sp.Heaviside(z, 0)})
