"""The one table of local derivative rules: activations, outputs and losses.

Each rule gives the value of a function and its derivative in terms of the function's
arguments *and its own value* (``out``), so that ``tanh`` reads ``1 - s**2`` in node
values, as the article writes it.  Every rule becomes a SymPy ``Function`` class whose
``fdiff`` comes from this table, so SymPy's own chain rule and ours agree by construction.

    >>> from bptt_sym.rules.functions import rule
    >>> import sympy as sp
    >>> z, s = sp.symbols("z s")
    >>> rule("activation", "tanh").derivative(z, out=s)
    1 - s**2
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp

from bptt_sym.errors import UsageError

__all__ = ["Rule", "RULES", "ROLES", "ABSTRACT", "rule", "rule_names", "function_class",
           "prime_class", "AbstractFunction", "AbstractPartial", "abstract_class",
           "partial_class"]


@dataclass(frozen=True)
class Rule:
    """One differentiable function: its name, role, arity, value and derivatives.

    ``derivs(args, out)`` returns one derivative per argument, written in the
    arguments and the function's value ``out``.  ``explicit(args)`` is the value in
    elementary SymPy functions (``None`` for abstract functions).
    """

    name: str
    role: str
    arity: int
    derivs: Callable[..., tuple[sp.Expr, ...]]
    explicit: Callable[..., sp.Expr] | None
    note: str = ""

    def derivative(self, *args: sp.Expr, out: sp.Expr) -> sp.Expr:
        """d(value)/d(first argument), in the arguments and the value ``out``."""
        return self.derivs(*args, out=out)[0]


# The derivatives f', g', L' of the abstract functions: opaque functions of one argument.
_PRIMES: dict[str, type[sp.Function]] = {
    name: type(f"{name}'", (sp.Function,), {"nargs": 1, "__module__": __name__})
    for name in ("f", "g", "L")
}


def _prime(name: str) -> type[sp.Function]:
    return _PRIMES[name]


def prime_class(name: str) -> type[sp.Function]:
    """The SymPy function class ``f'`` standing for the derivative of abstract ``f``."""
    return _PRIMES[name]


def _step(z: sp.Expr) -> sp.Expr:
    return sp.Heaviside(z, sp.S.Zero)


def _bce(o: sp.Expr, y: sp.Expr) -> sp.Expr:
    return -(y * sp.log(o) + (1 - y) * sp.log(1 - o))


# ---- activations: s = f(z) -------------------------------------------------------------
_ACTIVATIONS = (
    Rule("f", "activation", 1, lambda z, out: (_prime("f")(z),), None,
         "abstract: the derivation holds for every activation"),
    Rule("tanh", "activation", 1, lambda z, out: (1 - out**2,), sp.tanh),
    Rule("sigmoid", "activation", 1, lambda z, out: (out * (1 - out),),
         lambda z: 1 / (1 + sp.exp(-z))),
    Rule("relu", "activation", 1, lambda z, out: (_step(z),), lambda z: sp.Max(0, z),
         "not differentiable at 0; the step function is taken as 0 there"),
    Rule("identity", "activation", 1, lambda z, out: (sp.S.One,), lambda z: z),
)

# ---- outputs: o = g(q) ------------------------------------------------------------------
_OUTPUTS = (
    Rule("g", "output", 1, lambda q, out: (_prime("g")(q),), None,
         "abstract: the derivation holds for every output function"),
    Rule("sigmoid", "output", 1, lambda q, out: (out * (1 - out),),
         lambda q: 1 / (1 + sp.exp(-q))),
    Rule("softmax", "output", 1, lambda q, out: (sp.S.Zero,), lambda q: sp.S.One,
         "softmax of the single logit q is the constant 1, so do/dq = 0 and every gradient "
         "through it vanishes; use --output sigmoid with --loss bce for a scalar output"),
    Rule("identity", "output", 1, lambda q, out: (sp.S.One,), lambda q: q),
)

# ---- losses: E = L(o, y) ----------------------------------------------------------------
_LOSSES = (
    Rule("L", "loss", 1, lambda o, out: (_prime("L")(o),), None,
         "abstract: the derivation holds for every loss"),
    Rule("bce", "loss", 2,
         lambda o, y, out: ((o - y) / (o * (1 - o)), sp.log(1 - o) - sp.log(o)), _bce),
    Rule("xent", "loss", 2, lambda o, y, out: (-y / o, -sp.log(o)), lambda o, y: -y * sp.log(o)),
    Rule("mse", "loss", 2, lambda o, y, out: (o - y, y - o),
         lambda o, y: sp.Rational(1, 2) * (o - y) ** 2),
)

ROLES = ("activation", "output", "loss")
RULES: dict[tuple[str, str], Rule] = {
    (r.role, r.name): r for r in _ACTIVATIONS + _OUTPUTS + _LOSSES
}


def rule_names(role: str) -> tuple[str, ...]:
    """The rule names available for ``role`` ("activation", "output" or "loss")."""
    return tuple(name for (r, name) in RULES if r == role)


def rule(role: str, name: str) -> Rule:
    """Look up a rule; an unknown name is a ``UsageError`` that lists the choices."""
    try:
        return RULES[(role, name)]
    except KeyError:
        choices = ", ".join(rule_names(role))
        raise UsageError(f"unknown {role} {name!r}; choose one of {choices}") from None


def _make_class(r: Rule) -> type[sp.Function]:
    def fdiff(self: sp.Function, argindex: int = 1) -> sp.Expr:
        return r.derivs(*self.args, out=self)[argindex - 1]

    def _eval_evalf(self: sp.Function, prec: int) -> sp.Expr | None:
        if r.explicit is None:
            return None
        try:  # SymPy asks while it builds expressions; a number it cannot hold is no answer
            return r.explicit(*self.args)._eval_evalf(prec)
        except (OverflowError, ValueError, ZeroDivisionError, RecursionError):
            return None

    attrs = {"nargs": r.arity, "fdiff": fdiff, "_eval_evalf": _eval_evalf,
             "rule": r, "__module__": __name__}
    return type(r.name, (sp.Function,), attrs)


# One SymPy class per rule, made once: SymPy compares applied functions by class.
_CLASSES: dict[tuple[str, str], type[sp.Function]] = {
    key: _make_class(r) for key, r in RULES.items()
}


def function_class(r: Rule) -> type[sp.Function]:
    """The SymPy function class of a rule, whose ``fdiff`` is the rule's derivative."""
    return _CLASSES[(r.role, r.name)]


# ---- abstract functions of several arguments ---------------------------------------------
ABSTRACT = "abstract"  # the role of a model's function that no option replaces


class AbstractFunction(sp.Function):
    """An abstract function of a model (``functions = { f = "abstract" }``): opaque, of a
    fixed number of arguments; its partials are :class:`AbstractPartial` classes."""

    abstract_name: str = ""
    arity: int = 0

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return partial_class(self.abstract_name, self.arity, argindex)(*self.args)


class AbstractPartial(sp.Function):
    """∂f/∂(argument ``slot``) of an abstract ``f``, applied to the arguments of ``f``."""

    abstract_name: str = ""
    arity: int = 0
    slot: int = 0


_ABSTRACT: dict[tuple[str, int], type[sp.Function]] = {}
_PARTIALS: dict[tuple[str, int, int], type[sp.Function]] = {}


def abstract_class(name: str, arity: int) -> type[sp.Function]:
    """The SymPy class of the abstract function ``name`` of ``arity`` arguments, made once
    per (name, arity): SymPy compares applied functions by class.

    >>> h, w = sp.symbols("h w")
    >>> f = abstract_class("f", 2)
    >>> sp.diff(f(h, w), w)
    D2f(h, w)
    >>> abstract_class("f", 2) is f, sp.diff(abstract_class("l", 1)(h), h)
    (True, l'(h))
    """
    if arity < 1:
        raise ValueError(f"an abstract function takes at least one argument, not {arity}")
    key = (name, arity)
    if key not in _ABSTRACT:
        attrs = {"nargs": arity, "abstract_name": name, "arity": arity, "__module__": __name__}
        _ABSTRACT[key] = type(name, (AbstractFunction,), attrs)
    return _ABSTRACT[key]


def partial_class(name: str, arity: int, slot: int) -> type[sp.Function]:
    """The opaque class of ∂``name``/∂(argument ``slot``), 1-based; of one argument it is
    ``name'`` (printed ``f'(z)``), else ``D{slot}{name}``."""
    if not 1 <= slot <= arity:
        raise ValueError(f"{name} has {arity} arguments; there is no argument {slot}")
    key = (name, arity, slot)
    if key not in _PARTIALS:
        title = f"{name}'" if arity == 1 else f"D{slot}{name}"
        attrs = {"nargs": arity, "abstract_name": name, "arity": arity, "slot": slot,
                 "__module__": __name__}
        _PARTIALS[key] = type(title, (AbstractPartial,), attrs)
    return _PARTIALS[key]
