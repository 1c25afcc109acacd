"""Rigorous evaluation of the notation at random points, for deciding equalities.

A point gives every leaf a random rational (step copies share their parameter's value)
drawn from a wide set: a random numerator over a random denominator of 21 bits, either
sign, magnitudes from 1/8 to 4 (a pool of further points reaches 2^20, for kinks); targets
lie in (0, 1).  Every abstract function (f, g, L) stands in as a fresh random
non-polynomial function at each point,
a·sin(b·z + c) + d·tanh(e·z + g) + h, with its derivative f′ consistent; an abstract
function of n arguments (``functions = { f = "abstract" }``) as a·sin(Σ bᵢ·zᵢ + c) +
d·tanh(Σ eᵢ·zᵢ + g) + h, with its partials consistent.  Expressions
evaluate to exact rationals (``flint.fmpq``) while every operation is rational, else to Arb
balls that provably hold the true value (:mod:`bptt_sym.check.decide` says what is decided).

    >>> from bptt_sym.graph.build import unroll
    >>> from bptt_sym.check.decide import working, START_BITS
    >>> import random, sympy as sp
    >>> s = Sampler(unroll("doc", steps=2), random.Random(0))
    >>> p = s.point()
    >>> with working(START_BITS):
    ...     s.value(sp.Symbol("s_1") - sp.Symbol("s_1"), p)
    0
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sympy as sp
from flint import arb, ctx, fmpq

from bptt_sym.check.decide import Number, Undefined, Unsure, sign, to_ball
from bptt_sym.derivation.sweep import total
from bptt_sym.graph.build import Graph
from bptt_sym.notation import Partial
from bptt_sym.rules.functions import (
    ROLES,
    AbstractFunction,
    function_class,
    partial_class,
    prime_class,
    rule,
)

__all__ = ["Point", "Sampler", "Undefined", "StandIn", "ManyStandIn", "draw_rational",
           "kink_arguments", "BallEvaluator"]

_MAX_RATIONAL_BITS = 4000  # a rational this tall is carried on as a ball


def draw_rational(rng: random.Random, *, lo: int = -3, hi: int = 1) -> fmpq:
    """A random rational n/d: d of 21 bits, |n/d| in [2^lo, 2^(hi+1)], either sign."""
    d = rng.randint(1 << 20, 1 << 21)
    m = rng.randint(lo, hi)
    low = d << m if m >= 0 else (d >> -m) + 1
    n = rng.randint(low, 2 * low)
    return fmpq(n if rng.random() < 0.5 else -n, d)


def _unit(rng: random.Random) -> fmpq:
    """A random rational in (0, 1) with a 21-bit denominator."""
    d = rng.randint(1 << 20, 1 << 21)
    return fmpq(rng.randint(1, d - 1), d)


@dataclass(frozen=True)
class StandIn:
    """a·sin(b·z + c) + d·tanh(e·z + g) + h, a random non-polynomial function."""

    coef: tuple[fmpq, ...]

    @classmethod
    def draw(cls, rng: random.Random) -> StandIn:
        return cls(tuple(draw_rational(rng, lo=-2, hi=1) for _ in range(7)))

    def __call__(self, z: Number) -> arb:
        a, b, c, d, e, g, h = self.coef
        z = to_ball(z)
        return a * (b * z + c).sin() + d * (e * z + g).tanh() + h

    def prime(self, z: Number) -> arb:
        a, b, c, d, e, g, _ = self.coef
        z = to_ball(z)
        t = (e * z + g).tanh()
        return a * b * (b * z + c).cos() + d * e * (1 - t * t)

    def text(self) -> str:
        """The function with its coefficients to 6 digits (the exact ones are rationals)."""
        a, b, c, d, e, g, h = (f"{float(x):.6g}" for x in self.coef)
        return f"{a}·sin({b}·z + {c}) + {d}·tanh({e}·z + {g}) + {h}"


@dataclass(frozen=True)
class ManyStandIn:
    """A random non-polynomial function of n arguments, for an abstract function of the
    model (``functions = { f = "abstract" }``), with its partials consistent:
    a·sin(Σ bᵢ·zᵢ + c) + d·tanh(Σ eᵢ·zᵢ + g) + h."""

    a: fmpq
    b: tuple[fmpq, ...]
    c: fmpq
    d: fmpq
    e: tuple[fmpq, ...]
    g: fmpq
    h: fmpq

    @classmethod
    def draw(cls, rng: random.Random, arity: int) -> ManyStandIn:
        def one() -> fmpq:
            return draw_rational(rng, lo=-2, hi=1)
        return cls(one(), tuple(one() for _ in range(arity)), one(), one(),
                   tuple(one() for _ in range(arity)), one(), one())

    def _inner(self, zs: tuple[Number, ...]) -> tuple[arb, arb]:
        zs = tuple(to_ball(z) for z in zs)
        return (sum((b * z for b, z in zip(self.b, zs)), self.c),
                sum((e * z for e, z in zip(self.e, zs)), self.g))

    def at(self, zs: tuple[Number, ...], slot: int = 0) -> arb:
        """The value at ``zs`` (``slot`` 0), or the partial by argument ``slot`` (1-based)."""
        u, v = self._inner(zs)
        if not slot:
            return self.a * u.sin() + self.d * v.tanh() + self.h
        t = v.tanh()
        return self.a * self.b[slot - 1] * u.cos() + self.d * self.e[slot - 1] * (1 - t * t)

    def text(self) -> str:
        """The function in z1 … zn with its coefficients to 6 digits."""
        def lin(ks: tuple[fmpq, ...], k0: fmpq) -> str:
            return " + ".join([f"{_g(k)}·z{i}" for i, k in enumerate(ks, 1)] + [_g(k0)])
        return (f"{_g(self.a)}·sin({lin(self.b, self.c)}) + {_g(self.d)}·tanh("
                f"{lin(self.e, self.g)}) + {_g(self.h)}")


def _g(x: fmpq) -> str:
    return f"{float(x):.6g}"


@dataclass(frozen=True)
class Point:
    """Values of the leaves and shared parameters, and the stand-in functions."""

    values: Mapping[sp.Symbol, fmpq]
    # class -> (stand-in, is its derivative); an abstract function of the model's, or one
    # of its partials: (ManyStandIn, 0 for the value or the partial's argument number)
    functions: Mapping[type, tuple[StandIn | ManyStandIn, bool | int]]
    _nodes: dict = field(default_factory=dict, compare=False, repr=False)


def kink_arguments(expr: sp.Expr) -> set[sp.Expr]:
    """The arguments at which ``expr`` has a kink: of Heaviside, Max, Min, Abs, sign and of
    rule functions whose value is one of these (relu)."""
    found: set[sp.Expr] = set()
    for f in expr.atoms(sp.Heaviside, sp.Abs, sp.sign, sp.Max, sp.Min, sp.Function):
        if isinstance(f, (sp.Heaviside, sp.Abs, sp.sign)):
            found.add(f.args[0])
        elif isinstance(f, (sp.Max, sp.Min)):
            found |= {a - b for a in f.args for b in f.args if a != b}
        else:
            r = getattr(type(f), "rule", None)
            if r is not None and r.explicit is not None and r.name == "relu":
                found |= kink_arguments(r.explicit(*f.args))
    return {a for a in found if not a.is_number}


_ELEMENTARY: dict[type, Callable[[arb], arb]] = {
    sp.exp: arb.exp, sp.sin: arb.sin, sp.cos: arb.cos, sp.tanh: arb.tanh, sp.sinh: arb.sinh,
    sp.cosh: arb.cosh, sp.atan: arb.atan,
}


class BallEvaluator:
    """Evaluates one SymPy expression tree at one point, memoising shared subtrees."""

    def __init__(self, env: Mapping[sp.Symbol, Number],
                 functions: Mapping[type, tuple[StandIn | ManyStandIn, bool | int]]) -> None:
        self.env, self.functions = env, functions
        self.memo: dict[sp.Expr, Number] = {}

    def __call__(self, expr: sp.Expr) -> Number:
        got = self.memo.get(expr)
        if got is None:
            got = self.memo[expr] = self._eval(expr)
        return got

    def _eval(self, e: sp.Expr) -> Number:
        if e.is_Rational:
            return fmpq(int(e.p), int(e.q))
        if e.is_Symbol:
            try:
                return self.env[e]
            except KeyError:
                raise Undefined(f"{e} has no value at the random point") from None
        if e.is_Add:
            return _tame(sum((self(a) for a in e.args), fmpq(0)))
        if e.is_Mul:
            out: Number = fmpq(1)
            for a in e.args:
                out = out * self(a)
            return _tame(out)
        if e.is_Pow:
            return self._pow(e)
        if e.is_Float:  # a binary float is a rational: take it exactly
            r = sp.Rational(e)
            return fmpq(int(r.p), int(r.q))
        if e in (sp.zoo, sp.nan, sp.oo, -sp.oo) or e is sp.I:
            raise Undefined(f"the formula is undefined or not real at a random point (it "
                            f"holds {e}); look for a division by zero")
        if e is sp.pi:
            return arb.pi()
        if e is sp.E:
            return arb.const_e()
        return self._function(e)

    def _pow(self, e: sp.Pow) -> Number:
        base, exp = self(e.base), e.exp
        if exp.is_Integer:
            if base == 0 and exp < 0:
                raise ZeroDivisionError("division by zero")
            if isinstance(base, fmpq) and abs(int(exp)) * base.height_bits() > _MAX_RATIONAL_BITS:
                base = arb(base)
            return _tame(base ** int(exp))
        p = self(exp)
        if sign(base) <= 0:
            if sign(base) == 0 and sign(p) > 0:
                return fmpq(0)
            raise Undefined("a power of a number that is not positive is not real here; "
                            "look for a root of a negative number")
        return to_ball(base) ** to_ball(p)

    def _function(self, e: sp.Expr) -> Number:
        cls = type(e)
        if cls in self.functions:
            fn, derivative = self.functions[cls]
            if isinstance(fn, ManyStandIn):
                return fn.at(tuple(self(a) for a in e.args), int(derivative))
            return fn.prime(self(e.args[0])) if derivative else fn(self(e.args[0]))
        r = getattr(cls, "rule", None)
        if r is not None and r.explicit is not None:
            return self(r.explicit(*e.args))
        if cls in _ELEMENTARY:
            return _ELEMENTARY[cls](to_ball(self(e.args[0])))
        if cls is sp.log:
            x = self(e.args[0])
            if sign(x) <= 0:
                raise Undefined("a log of a number that is not positive: not real at a "
                                "random point")
            return to_ball(x).log()
        if cls is sp.Heaviside:
            s = sign(self(e.args[0]))
            return (fmpq(1) if s > 0 else fmpq(0)) if s else self(e.args[1])
        if cls is sp.Abs:
            x = self(e.args[0])
            return x if sign(x) >= 0 else -x
        if cls is sp.sign:
            return fmpq(sign(self(e.args[0])))
        if cls in (sp.Max, sp.Min):
            vals = [self(a) for a in e.args]
            best = vals[0]
            for v in vals[1:]:
                s = sign(v - best)
                if (s > 0 and cls is sp.Max) or (s < 0 and cls is sp.Min):
                    best = v
            return best
        raise Undefined(f"cannot evaluate {cls.__name__} at a random point")


def _tame(x: Number) -> Number:
    """An exact rational whose digits grow without bound becomes a ball; a ball that is
    not finite makes the point unsure."""
    if isinstance(x, fmpq):
        if x.height_bits() > _MAX_RATIONAL_BITS:
            return arb(x)
        return x
    if not x.is_finite():
        raise Unsure("a value overflows at this precision")
    return x


class Sampler:
    """Draws points for one graph and evaluates expressions of the notation there."""

    def __init__(self, graph: Graph, rng: random.Random) -> None:
        self.graph = graph
        self.rng = rng
        self._partials: dict[Partial, sp.Expr] = {}
        found: set[type] = set()
        for node in graph.nodes.values():
            if node.expr is not None:
                found |= {type(a) for a in node.expr.atoms(AbstractFunction)}
        self._abstract = sorted(found, key=lambda c: (c.abstract_name, c.arity))

    def point(self, *, wide: bool = False) -> Point:
        """A random point: leaves from the set of moderate magnitudes (``wide``: up to
        2^20, so that kinks far from 0 are reached), targets in (0, 1), fresh stand-ins."""
        lo, hi = (-10, 20) if wide else (-3, 1)
        g = self.graph
        functions: dict[type, tuple[StandIn, bool]] = {}
        used = set(g.spec.functions.values())
        for role in (r for r in ROLES if r in used):  # the model's abstract functions only
            r = rule(role, g.choices[role])
            if r.explicit is not None:
                continue
            fn = StandIn.draw(self.rng)
            functions[function_class(r)] = (fn, False)
            functions[prime_class(r.name)] = (fn, True)
        for cls in self._abstract:  # the abstract functions of several arguments
            many = ManyStandIn.draw(self.rng, cls.arity)
            functions[cls] = (many, 0)
            for slot in range(1, cls.arity + 1):
                functions[partial_class(cls.abstract_name, cls.arity, slot)] = (many, slot)
        values: dict[sp.Symbol, fmpq] = {}
        for p in g.copies:
            values[sp.Symbol(p)] = draw_rational(self.rng, lo=lo, hi=hi)
        for sym, node in g.nodes.items():
            if node.kind == "parameter":
                values[sym] = values[sp.Symbol(node.parameter)]
            elif node.kind == "target":
                values[sym] = _unit(self.rng)
            elif node.expr is None:
                values[sym] = draw_rational(self.rng, lo=lo, hi=hi)
        return Point(values, functions)

    def node_values(self, point: Point) -> BallEvaluator:
        """An evaluator at ``point`` with every node's value, at the current precision."""
        key = ctx.prec
        if key not in point._nodes:
            ev = BallEvaluator(dict(point.values), point.functions)
            for sym, node in self.graph.nodes.items():
                if node.expr is not None:
                    ev.env[sym] = ev(node.expr)
            ev.memo.clear()
            point._nodes[key] = ev
        return point._nodes[key]

    def partial_value(self, p: Partial) -> sp.Expr:
        """∂X/∂Y in node values (the graph's total derivative), memoised."""
        if p not in self._partials:
            targets = self.graph.copies.get(str(p.den), (p.den,))
            self._partials[p] = total(self.graph, p.num, targets)
        return self._partials[p]

    def in_node_values(self, expr: sp.Expr) -> sp.Expr:
        """``expr`` with every ∂X/∂Y replaced by its value in node values."""
        found = expr.atoms(Partial)
        return expr.xreplace({p: self.partial_value(p) for p in found}) if found else expr

    def value(self, expr: sp.Expr, point: Point) -> Number:
        """The value of ``expr`` at ``point``: an exact rational or a ball at the current
        precision (``Unsure`` when a branch cannot be told, ``Undefined`` when not real)."""
        try:
            return self.node_values(point)(self.in_node_values(expr))
        except ZeroDivisionError:
            raise Undefined("the formula is undefined at a random point: a division by "
                            "zero") from None

    def leaves(self, point: Point) -> dict[str, float | str]:
        """The point as the person can read it: inputs, targets, initial state, parameters
        (rationals shown as floats) and the stand-ins."""
        out: dict[str, float | str] = {str(k): float(v) for k, v in point.values.items()
               if self.graph.nodes.get(k) is None or
               self.graph.nodes[k].kind in ("input", "target", "initial")}
        for cls, (fn, derivative) in point.functions.items():
            if isinstance(fn, ManyStandIn) and not derivative:
                zs = ", ".join(f"z{i}" for i in range(1, cls.arity + 1))
                out[f"{cls.__name__}({zs})"] = fn.text()
            elif not derivative:
                out[f"{cls.__name__}(z)"] = fn.text()
        return out
