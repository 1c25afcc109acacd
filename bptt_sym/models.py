"""Models as data: the article's own equations plus which names play which part.

A model never carries hand-written derivatives; the graph builder reads these lines
with the equation grammar and the rule table does the rest.

    >>> MODELS["doc"].cell[0]
    'a_t = x_t*u'
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UsageError

__all__ = ["ModelSpec", "MODELS", "model_spec"]


@dataclass(frozen=True)
class ModelSpec:
    """A recurrent model written as equations.

    ``cell`` holds the equations of step t (indices ``_t``, ``_{t-1}``), ``head`` the
    equations after the last step (``_{T-1}`` is the last step).  Function names are
    roles: ``f`` the activation, ``g`` the output, ``L`` the loss, chosen per unrolling.
    ``keys`` are the nodes that the state-level chains (article B7, B8) pass through.
    ``refs`` gives the article's number for an equation, keyed by ``(name, step)``.
    """

    name: str
    title: str
    cell: tuple[str, ...]
    head: tuple[str, ...]
    parameters: tuple[str, ...]
    inputs: tuple[str, ...]
    targets: tuple[str, ...]
    states: tuple[str, ...]
    keys: tuple[str, ...]
    loss: str
    article_steps: int = 0
    refs: dict[tuple[str, int | None], str] = field(default_factory=dict)
    backward_refs: dict[tuple[str, str], str] = field(default_factory=dict)


DOC = ModelSpec(
    name="doc",
    title="the article's scalar RNN (S1-S12)",
    cell=(
        "a_t = x_t*u",          # S1, S5
        "b_t = s_{t-1}*w",      # S2, S6
        "z_t = a_t + b_t + k",  # S3, S7
        "s_t = f(z_t)",         # S4, S8
    ),
    head=(
        "q = s_{T-1}*v",        # S9
        "o = g(q)",             # S11
        "E = L(o, y)",          # S12
    ),
    parameters=("u", "w", "k", "v"),
    inputs=("x",),
    targets=("y",),
    states=("s",),
    keys=("o", "s"),
    loss="E",
    article_steps=2,
    refs={("a", 0): "S1", ("b", 0): "S2", ("z", 0): "S3", ("s", 0): "S4",
          ("a", 1): "S5", ("b", 1): "S6", ("z", 1): "S7", ("s", 1): "S8",
          ("q", None): "S9", ("o", None): "S11", ("E", None): "S12"},
    # (equation kind, the name on its left) -> the article's number; for T = 2 and f, g, L.
    backward_refs={("sum", "u"): "B1", ("copy", "u_1"): "B2", ("copy", "u_0"): "B3",
                   ("substituted", "u"): "B4", ("factored", "u"): "B5", ("factored", "w"): "B6",
                   ("state", "u"): "B7", ("state", "w"): "B8"},
)

MODELS: dict[str, ModelSpec] = {m.name: m for m in (DOC,)}


def model_spec(name: str) -> ModelSpec:
    """The model called ``name``; an unknown name is a ``UsageError`` listing the models."""
    try:
        return MODELS[name]
    except KeyError:
        raise UsageError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None
