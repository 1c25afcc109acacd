"""What a model's equations call: the function names, and the targets a cross-entropy reads
(they must be one-hot or a probability vector), read from the parsed lines of a spec."""

from __future__ import annotations

from collections.abc import Iterator

from bptt_sym.errors import BpttError
from bptt_sym.model.line import function_arities
from bptt_sym.model.spec import ModelSpec
from bptt_sym.rules.expressions import MATRIX_FUNCTIONS
from bptt_sym.syntax.equations import model_ref, read_equation
from bptt_sym.syntax.nodes import Call, Op, Ref, Sum

__all__ = ["calls", "xent_targets"]


def calls(spec: ModelSpec) -> frozenset[str]:
    """The function names that the equations of ``spec`` call.

    >>> from bptt_sym.model.registry import DOC
    >>> sorted(calls(DOC))
    ['L', 'f', 'g']
    """
    return frozenset(c.name for c in _calls(spec))


def _calls(spec: ModelSpec) -> list[Call]:
    """Every call of every equation of ``spec``, as parsed."""
    names = set(function_arities(spec.functions)) | set(MATRIX_FUNCTIONS)
    found: list[Call] = []
    for source in (*spec.cell, *spec.head):
        try:
            _, rhs = read_equation(source, names)
        except BpttError:
            continue
        found += [n for n in _nodes(rhs) if isinstance(n, Call)]
    return found


def _nodes(node: object) -> Iterator[object]:
    yield node
    children = node.args if isinstance(node, (Op, Call)) else \
        (node.body,) if isinstance(node, Sum) else ()
    for child in children:
        yield from _nodes(child)


def xent_targets(spec: ModelSpec) -> frozenset[str]:
    """The targets that some equation of ``spec`` passes to ``xent`` as its second
    argument: they must be one-hot or a probability vector.

    >>> from bptt_sym.model.registry import MODELS
    >>> sorted(xent_targets(MODELS["elman"]))
    ['y']
    """
    found: set[str] = set()
    for c in _calls(spec):
        if c.name == "xent" and len(c.args) == 2 and isinstance(c.args[1], Ref):
            name = model_ref(c.args[1]).base
            if name in spec.targets:
                found.add(name)
    return frozenset(found)
