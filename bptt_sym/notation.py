"""The notation contract, stated once (docs/notation.md says the same for users).

* A node or leaf at step t is the SymPy symbol ``base_t`` (``s_0``, ``z_12``) or
  ``base_{t}`` for negative t (``s_{-1}``, the initial state).  Nodes after the last
  step have no index (``q``, ``o``, ``E``).
* A shared parameter ``u`` has one copy per step that uses it: ``u_0 … u_{T-1}``; the
  output weight used after the last step is ``v_{T-1}`` (the article's ``v_1``).
* ``Partial(X, Y)`` is ∂X/∂Y, the *total* derivative of X with respect to Y through
  every path of the unrolled graph.  For a direct edge it equals the local partial.

    >>> str(Partial(step_symbol("s", 1), step_symbol("z", 1)))
    'ds_1/dz_1'
"""

from __future__ import annotations

import re

import sympy as sp

__all__ = ["Partial", "step_symbol", "split_name", "name_subscript", "STEP_LETTERS"]

# Letters that stand for a step in a subscript (x_t, the number of steps T, the bound steps k
# and j of Σ_k and Π_j): never a name's own subscript.  Any other subscript of letters is
# part of the name: W_x, W_hh, b_ih.
STEP_LETTERS = frozenset({"t", "T", "k", "j"})
_SUBSCRIPTED = re.compile(r"^([A-Za-z][A-Za-z0-9]*)_([A-Za-z]{1,8})$")

_INDEXED = re.compile(r"^(?P<base>[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z]+)?)"
                      r"_(?:\{(?P<neg>-?\d+)\}|(?P<pos>\d+))$")


def step_symbol(base: str, step: int | None) -> sp.Symbol:
    """The symbol of ``base`` at ``step`` (``None`` for an unindexed name)."""
    if step is None:
        return sp.Symbol(base)
    return sp.Symbol(f"{base}_{step}" if step >= 0 else f"{base}_{{{step}}}")


def split_name(name: str) -> tuple[str, int | None]:
    """``"s_{-1}"`` -> ``("s", -1)``; ``"q"`` -> ``("q", None)``."""
    m = _INDEXED.match(name)
    if m is None:
        return name, None
    return m["base"], int(m["neg"] if m["neg"] is not None else m["pos"])


def name_subscript(base: str) -> tuple[str, str | None]:
    """``"W_hh"`` -> ``("W", "hh")``; ``"s"`` -> ``("s", None)``; ``"x_t"`` (a step) ->
    ``("x_t", None)``."""
    m = _SUBSCRIPTED.match(base)
    if m is None or m[2] in STEP_LETTERS:
        return base, None
    return m[1], m[2]


class Partial(sp.Expr):
    """∂num/∂den between two symbols of the unrolled graph: a notation atom.

    It has no free symbols of its own: it stands for a value that the graph supplies
    (``bptt_sym.derivation.forms.total``), and substitutions of leaves never reach inside it.
    """

    is_commutative = True

    def __new__(cls, num: sp.Symbol, den: sp.Symbol) -> Partial:
        return sp.Expr.__new__(cls, num, den)

    @property
    def num(self) -> sp.Symbol:
        return self.args[0]

    @property
    def den(self) -> sp.Symbol:
        return self.args[1]

    @property
    def free_symbols(self) -> set[sp.Basic]:
        return set()

    def _eval_subs(self, old: sp.Basic, new: sp.Basic) -> sp.Basic | None:
        return new if old == self else self

    def _xreplace(self, rule):  # noqa: ANN001, ANN202 - SymPy's internal signature
        if self in rule:
            return rule[self], True
        return self, False

    def _sympystr(self, printer: object) -> str:
        return f"d{self.num}/d{self.den}"
