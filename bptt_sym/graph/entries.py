"""Entries of vectors and matrices in matrix formulas, as course notes write them: h_{t+1,i}
(entry i of h_{t+1}), ŷ_{3j}, o_i^{(t)}, W_{ij}, w_{i,j}; a sum over an entry
(Σ_{k=1}^{n} W_{ik} h_{t,k}); an equation with a free entry index holds for every entry.

Entries count from 1, as the sources write them.  A formula is first read in the model's
terms (:func:`read`): each name with an entry becomes a ``Ref`` whose ``entry`` holds its
entry indices, so that the rest of the checker sees step indices only.

    >>> from bptt_sym.graph.matrix import ELMAN
    >>> from bptt_sym.graph.names import MatrixNames
    >>> from bptt_sym.syntax.formula import parse
    >>> names = MatrixNames(ELMAN, steps=3)
    >>> w, s = read(parse("x = W_ij + s_{t,k}").sides[1], names).args
    >>> w.base, w.index, w.entry
    ('W', None, (('var', 'i', 0), ('var', 'j', 0)))
    >>> s.base, s.index, s.entry
    ('s', ('var', 't', 0), (('var', 'k', 0),))
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import numpy as np

from bptt_sym.graph.names import SCALAR, MatrixNames, Shape, is_vector
from bptt_sym.graph.resolve import InvalidFormula
from bptt_sym.syntax.nodes import Num, Prod, Ref, Sum, rebuild

__all__ = ["read", "dims_of", "pick", "pick_derivative", "free_entries", "entry_bounds",
           "entry_values", "check_bounds"]

_LETTER = re.compile(r"[a-z]")


def _var(letter: str) -> tuple:
    return ("var", letter, 0)


def read(tree: object, names: MatrixNames) -> object:
    """``tree`` with the model's names that carry an entry written as such: h_t with an
    entry index (o_i^{(t)} read o_i at step t; h_{t,k}, which the grammar reads as a name
    h_t at step k), W_ik and W_{i,j} of a matrix weight, and w_{ij} for W's entry where the
    model has no w."""
    def visit(node: object) -> object | None:
        if not isinstance(node, Ref) or node.entry or node.base in names.reserved:
            return None
        head, _, tail = node.base.partition("_")
        if head not in names.reserved and head.upper() in names.weights and \
                len(tail) in (1, 2):  # w_{ij}, an entry of W, as the lower-case letter
            head = head.upper()
        if not tail or head not in names.reserved:
            return None
        shape = names.shape(head)
        if (head in names.stepped or head in names.adjoint) and is_vector(shape) and \
                _LETTER.fullmatch(tail):
            if "," in node.written and node.index is not None and (
                    node.index[0] == "abs" or node.index[0] == "var" and node.index[2] == 0):
                # h_{t,k}: the grammar read a name h_t at step k; here step t, entry k
                return dataclasses.replace(node, base=head, index=_var(tail),
                                           entry=(node.index,))
            return dataclasses.replace(node, base=head, entry=(_var(tail),))  # o_i^{(t)}
        if head in names.weights and len(shape) == 2 and "1" not in shape:
            if node.index is None and re.fullmatch(r"[a-z]{2}", tail):  # W_ij
                return dataclasses.replace(node, base=head, entry=(_var(tail[0]),
                                                                   _var(tail[1])))
            if node.index is not None and node.index[0] == "var" and node.index[2] == 0 and \
                    _LETTER.fullmatch(tail):  # w_{i,j}
                return dataclasses.replace(node, base=head, index=None,
                                           entry=(_var(tail), node.index))
        return None

    return rebuild(tree, visit)


def dims_of(tree: object, names: MatrixNames) -> dict[str, str]:
    """Each letter used as an entry index, with the size letter it runs over."""
    found: dict[str, str] = {}

    def note(ref: Ref) -> None:
        shape = names.shape(ref.base)
        sizes = [s for s in shape if s != "1"] if is_vector(shape) else list(shape)
        if len(ref.entry) != len(sizes):
            raise InvalidFormula(f"{ref.base} has {len(sizes)} index"
                                 f"{'es' if len(sizes) != 1 else ''} of entries, "
                                 f"written with {len(ref.entry)}", ref.column)
        for index, size in zip(ref.entry, sizes):
            if index[0] == "var" and found.setdefault(index[1], size) != size:
                raise InvalidFormula(f"the entry index {index[1]} runs over {found[index[1]]} "
                                     f"entries and over {size}", ref.column)

    def visit(node: object) -> object | None:
        if isinstance(node, Ref) and node.entry:
            note(node)
        return None

    rebuild(tree, visit)
    return found


def free_entries(sides: tuple, names: MatrixNames) -> dict[str, str]:
    """The entry letters no sum binds, with their sizes: the equation holds for each entry."""
    bound: set[str] = set()

    def visit(node: object) -> object | None:
        if isinstance(node, (Sum, Prod)):
            bound.add(node.var)
        return None

    rebuild(sides, visit)
    return {v: d for v, d in dims_of(sides, names).items() if v not in bound}


def check_bounds(node: Sum, names: MatrixNames, env: Mapping[str, int | None]) -> None:
    """A sum over an entry runs over all of them: from 1 (or no bound) to a letter the model
    does not use for anything else (n, m) or none."""
    lo_ok = node.lo is None or (isinstance(node.lo, Num) and node.lo.value == "1")
    hi_ok = node.hi is None or (isinstance(node.hi, Ref) and node.hi.index is None and
                                node.hi.base not in names.reserved and node.hi.base not in env)
    if not (lo_ok and hi_ok):
        raise InvalidFormula(f"a sum over the entry index {node.var} runs over every entry: "
                             f"write Σ_{node.var} or Σ_{{{node.var}=1}}^{{n}}")


def entry_bounds(sides: tuple, names: MatrixNames) -> set[str]:
    """The letters that end a sum over entries (n in Σ_{k=1}^{n}): sizes, no step variables."""
    found: set[str] = set()

    def visit(node: object) -> object | None:
        if isinstance(node, Sum) and isinstance(node.hi, Ref) and node.hi.index is None and \
                node.var in dims_of(node.body, names):
            found.add(node.hi.base)
        return None

    rebuild(sides, visit)
    return found


def entry_values(ref: Ref, env: Mapping[str, int | None]) -> list[int | None]:
    """The entries a ref picks (1-based as written), None where a letter is unbound."""
    out: list[int | None] = []
    for index in ref.entry:
        if index[0] == "abs":
            out.append(index[1])
        elif index[1] not in env:
            raise InvalidFormula(f"the entry index {index[1]} is not bound", ref.column)
        else:
            out.append(None if env[index[1]] is None else env[index[1]] + index[2])
    return out


def pick(value: np.ndarray, shape: Shape, at: list[int | None], ref: Ref,
         dims: Mapping[str, int] | None) -> np.ndarray:
    """Entry ``at`` (1-based) of ``value``: a vector's entry, or a matrix's (row, column)."""
    if dims is not None:
        sizes = [s for s in shape if s != "1"] if is_vector(shape) else list(shape)
        for k, size in zip(at, sizes):
            if not 1 <= k <= dims[size]:
                raise InvalidFormula(f"entry {k} of {ref.base} is out of range: it has "
                                     f"{dims[size]} ({size}) entries, counted from 1",
                                     ref.column)
    if is_vector(shape):
        flat = value.reshape(-1)
        return np.array([[flat[at[0] - 1]]], dtype=object)
    return np.array([[value[at[0] - 1, at[1] - 1]]], dtype=object)


def pick_derivative(value: np.ndarray | None, num: list, den: list, ns: Shape,
                    ds: Shape) -> tuple[Shape, np.ndarray | None]:
    """∂a_i/∂b_j and its kin: the entries ``num`` of the numerator and ``den`` of the
    denominator picked out of the whole derivative ``value`` (numerator layout: a row per
    entry of the numerator; a 3-tensor by a matrix)."""
    entries = [s for s in ns if s != "1"]
    full = None
    if value is not None:
        count = int(np.prod(value.shape)) // _count(value, ds, ns)
        full = value.reshape((count,) + _den_shape(value, ds, ns))
    if num or ns == SCALAR:  # one entry of the numerator (or a scalar one)
        full = full[(num[0] - 1) if num else 0] if full is not None else None
        rest: Shape = ds
    else:
        rest = (entries[0], "1")
    if not den:
        return rest, full
    if full is not None:
        lead = () if (num or ns == SCALAR) else (slice(None),)
        if len(den) == 2:
            full = full[lead + (den[0] - 1, den[1] - 1)]
        else:
            flat = full.reshape(full.shape[:len(lead)] + (-1,))
            full = flat[lead + (den[0] - 1,)]
        full = np.array(full, dtype=object).reshape(-1, 1) if np.ndim(full) else \
            np.array([[full]], dtype=object)
    return (SCALAR if (num or ns == SCALAR) else rest), full


def _den_shape(value: np.ndarray, ds: Shape, ns: Shape) -> tuple[int, ...]:
    """The denominator's axes of a derivative array (its trailing axes)."""
    if ns == SCALAR:
        return value.shape
    return value.shape[1:] if value.ndim == 3 else (value.shape[1], 1)


def _count(value: np.ndarray, ds: Shape, ns: Shape) -> int:
    return int(np.prod(_den_shape(value, ds, ns)))
