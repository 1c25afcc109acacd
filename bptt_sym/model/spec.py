"""The one description of a recurrent model, scalar or matrix: its equations, which names
play which part and, for a matrix model, their shapes.  Built-in models and model files
are read into it (:mod:`bptt_sym.model.load`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bptt_sym.notation import STEP_LETTERS

__all__ = ["ModelSpec"]

# a line's left name: a_t, q, W_hh_t, n_x_t (a one-letter subscript other than a step's)
_DEFINED = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)(?:_([A-Za-z]{1,8})(?![A-Za-z0-9]))?")


@dataclass(frozen=True)
class ModelSpec:
    """A recurrent model written as equations.

    ``cell`` holds the equations of step t (indices ``_t``, ``_{t-1}``), ``head`` the
    equations after the last step (``_{T-1}`` is the last step).  Function names are
    roles: ``f`` the activation, ``g`` the output, ``L`` the loss, chosen per unrolling.
    ``keys`` are the nodes that the state-level chains (article B7, B8) pass through.
    ``refs`` gives the article's number for an equation, keyed by ``(name, step)``.
    ``functions`` maps each function name the equations call, other than the rule table's
    concrete functions, to the role whose CLI option replaces it (``--activation`` for
    ``"activation"`` …).  ``initial`` says each state's value at step -1: ``"given"`` (a
    leaf of the graph) or ``"zero"``.  ``path`` is the model file it was read from ("" for
    a built-in model).

    A matrix model also has ``shapes`` (each non-scalar name's rows and columns, in size
    letters such as ``("H", "1")``), default ``sizes`` per letter (``derived_sizes``: a
    letter that is the sum of others, ``{"M": ("H", "D")}``), ``optional`` parameters
    (biases: they and their terms are left out unless ``--bias``) and ``adjoints`` (a node
    whose adjoint is kept as a named vector, and that name: ``{"z": "delta"}`` for δ_t =
    ∂E/∂z_t).  ``defaults`` names, per role, the rule the command line takes when its option
    is not given (``{"activation": "tanh"}``); without one a role's function stays abstract.
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
    functions: dict[str, str] = field(
        default_factory=lambda: {"f": "activation", "g": "output", "L": "loss"})
    initial: dict[str, str] = field(default_factory=dict)
    path: str = ""
    shapes: dict[str, tuple[str, str]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    derived_sizes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # M = H + D
    optional: tuple[str, ...] = ()
    adjoints: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    torch: dict[str, object] = field(default_factory=dict)  # [torch]: an outside reference
    variants: dict[str, dict[str, object]] = field(default_factory=dict)  # [variants]

    @property
    def is_matrix(self) -> bool:
        """True for a model whose names have shapes (a ``[shapes]`` table)."""
        return bool(self.shapes)

    def parameters_for(self, bias: bool) -> tuple[str, ...]:
        """The parameters of the model unrolled with or without ``--bias``."""
        return self.parameters if bias else tuple(
            p for p in self.parameters if p not in self.optional)

    @property
    def bias_parameters(self) -> tuple[str, ...]:
        """The parameters that are in the model only with ``--bias``."""
        return self.optional

    @property
    def heading(self) -> str:
        """``name: title``, or the name alone for a model with no title."""
        return f"{self.name}: {self.title}" if self.title else self.name

    @property
    def names(self) -> frozenset[str]:
        """Every name of the model: parameters, inputs, targets and the defined nodes."""
        defined = {m[1] if m[2] is None or m[2] in STEP_LETTERS else f"{m[1]}_{m[2]}"
                   for line in (*self.cell, *self.head, f"{self.loss} =")
                   if (m := _DEFINED.match(line))}
        return frozenset({*self.parameters, *self.inputs, *self.targets, *self.states,
                          *defined})

    def initial_value(self, state: str) -> str:
        """``"given"`` or ``"zero"``: the value of ``state`` at step -1."""
        return self.initial.get(state, "given")
