"""d2l's ``prod(a, b, …)``: "the multiplication of its arguments after the necessary operations,
such as transposition and swapping input positions, have been carried out" (Dive into Deep
Learning, section 9.7).  Read as the chain rule's product: the first argument is a gradient
∂L/∂X, each further one carries it on (a Jacobian ∂X/∂Y, a matrix that stands for one, or at
the end ∂X/∂W, a 3-tensor, or a column h: the outer product g hᵀ), and the result is the
gradient by the last denominator.

A Jacobian argument is taken as the Jacobian whatever the layout; a plain matrix is used as it
stands or transposed, whichever fits the sizes (in the model's letters). A square matrix fits
both ways, and then the reading is refused, never guessed.

    >>> from bptt_sym.syntax.formula import parse
    >>> from bptt_sym.graph.matrix import ELMAN
    >>> from bptt_sym.graph.names import MatrixNames
    >>> from bptt_sym.syntax.text import show
    >>> names = MatrixNames(ELMAN, steps=3)
    >>> call = parse("x = prod(dE/dyhat_t, V)").sides[1]
    >>> print(show(chain_tree(call, [("K", "1"), ("K", "H")], names)))
    (∂E/∂ŷ_tᵀ V)ᵀ
"""

from __future__ import annotations

from bptt_sym.graph.names import SCALAR, MatrixNames, Shape, is_jacobian
from bptt_sym.graph.resolve import InvalidFormula
from bptt_sym.syntax.formula import Call, Op
from bptt_sym.syntax.text import show

__all__ = ["chain_tree"]


def _t(node: object) -> Op:
    return Op("T", (node,))


def chain_tree(call: Call, shapes: list[Shape], names: MatrixNames) -> object:
    """The product that ``prod(args)`` stands for, as a formula tree; ``shapes`` are the
    arguments' shapes in size letters."""
    first, *rest = call.args
    s0 = shapes[0]
    if len(s0) != 2 or "1" not in s0 or s0 == SCALAR:
        raise InvalidFormula(f"prod(…): its first argument {show(first)} must be a gradient "
                             f"(a vector), not {'×'.join(s0)}", call.column)
    acc, row = (first, s0) if s0[0] == "1" else (_t(first), ("1", s0[0]))
    for arg, shape in zip(rest, shapes[1:]):
        if row[0] != "1":
            raise InvalidFormula(f"prod(…): {show(arg)} follows a product that is already "
                                 "a matrix (the gradient by a matrix ends the chain)", call.column)
        fits = []
        if is_jacobian(arg, names):  # the Jacobian, rows: its numerator, in either layout
            if names.layout == "denominator":
                arg, shape = _t(arg), (shape[1], shape[0])
            if shape[0] == row[1]:
                fits.append((arg, ("1", shape[1])))
        elif shape == SCALAR:
            fits.append((arg, row))
        elif len(shape) == 3:  # ∂X/∂W: the gradient by the matrix W ends the chain
            if shape[0] == row[1]:
                fits.append((arg, shape[1:]))
        elif shape[1] == "1":  # a column: its inner product, or the outer product g hᵀ
            if shape[0] == row[1]:
                fits.append((arg, SCALAR))
            fits.append((None, (row[1], shape[0])))
        else:
            if shape[0] == row[1]:
                fits.append((arg, ("1", shape[1])))
            if shape[1] == row[1]:
                fits.append((_t(arg), ("1", shape[0])))
        if not fits:
            raise InvalidFormula(f"prod(…): {show(arg)} ({'×'.join(shape)}) does not fit after "
                                 f"a 1×{row[1]} row, as it is or transposed", call.column)
        if len(fits) > 1:
            raise InvalidFormula(f"prod(…): {show(arg)} is square, so it fits as it is and "
                                 "transposed; write the product itself (W^T dL/dh_t or "
                                 "dL/dh_t^T W)", call.column)
        term, row = fits[0]
        acc = Op("juxt", (_t(acc), _t(arg))) if term is None else Op("juxt", (acc, term))
    return _t(acc) if row[0] == "1" and row[1] != "1" else acc
