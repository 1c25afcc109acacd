"""What a model's equations call: the function names, and the targets a cross-entropy reads
(they must be one-hot or a probability vector), read from the parsed lines of a spec."""

from __future__ import annotations

from lark import Tree
from lark.exceptions import LarkError

from bptt_sym.model.spec import ModelSpec
from bptt_sym.syntax.equations import _PARSER

__all__ = ["calls", "xent_targets"]


def calls(spec: ModelSpec) -> frozenset[str]:
    """The function names that the equations of ``spec`` call.

    >>> from bptt_sym.model.registry import DOC
    >>> sorted(calls(DOC))
    ['L', 'f', 'g']
    """
    return frozenset(str(c.children[0]) for c in _calls(spec))


def _calls(spec: ModelSpec) -> list[Tree]:
    """Every call of every equation of ``spec``, as parse trees."""
    found = []
    for source in (*spec.cell, *spec.head):
        try:
            tree = _PARSER.parse(source)
        except LarkError:
            continue
        found += [c for c in tree.iter_subtrees() if isinstance(c, Tree) and c.data == "call"]
    return found


def xent_targets(spec: ModelSpec) -> frozenset[str]:
    """The targets that some equation of ``spec`` passes to ``xent`` as its second
    argument: they must be one-hot or a probability vector.

    >>> from bptt_sym.model.registry import MODELS
    >>> sorted(xent_targets(MODELS["elman"]))
    ['y']
    """
    found: set[str] = set()
    for c in _calls(spec):
        args = c.children[1:] if str(c.children[0]) == "xent" else []
        if len(args) == 2 and isinstance(args[1], Tree) and args[1].data == "ref":
            name = str(args[1].children[0])
            if name in spec.targets:
                found.add(name)
    return frozenset(found)
