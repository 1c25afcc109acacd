"""The one decision both checkers use: is a difference zero, from rigorous enclosures.

A checker hands this module, point by point, a function that evaluates the difference of
the two sides (every entry of it) at the current working precision.  Values are exact
rationals (``flint.fmpq``) where every operation was rational, else Arb balls
(``flint.arb``): intervals that provably contain the true value.  At each point:

* **differs** when an entry is a non-zero rational, or a ball that excludes 0: certain;
* **exact** when every entry is the rational 0;
* **agrees** when every ball lies within 10⁻ᴾ of 0 (``DIGITS`` = P);
* otherwise the point is evaluated again at twice the precision, up to ``MAX_BITS``, and
  is **unsure** after that (a kink straddled, a saturated function, a huge value).

The verdict: **fails** as soon as one point differs; **holds** when ``needed`` points
agree (or are exact) and none differs; **undecided** when the points run out first.  No
tolerance of any size turns a difference into agreement: 10⁻ᴾ is only the precision to
which agreement is stated, and a difference the balls can see always fails.

    >>> from flint import fmpq
    >>> decide(iter([lambda: [fmpq(0)]] * 3), needed=3).verdict
    'holds'
    >>> decide(iter([lambda: [fmpq(1, 10**60)]]), needed=3).verdict
    'fails'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from flint import arb, ctx, fmpq

__all__ = ["DIGITS", "START_BITS", "MAX_BITS", "Unsure", "Undefined", "Decision", "decide",
           "classify", "working", "sign", "to_ball", "describe", "shown",
           "at_point"]

DIGITS = 120              # agreement is stated to this many decimal digits
START_BITS = 560          # first working precision (about 168 digits)
MAX_BITS = 4480           # last one tried before a point is unsure


class Unsure(ArithmeticError):
    """A value's enclosure is too wide to decide a branch (a kink, a log's argument) or is
    not finite at this precision; the point may be tried again at a higher one."""


class Undefined(ValueError):
    """An expression without a finite real value at the point (1/0, log of a negative)."""


Number = fmpq | arb


@contextmanager
def working(bits: int) -> Iterator[None]:
    """Evaluate with ``bits`` of working precision (flint's precision is global)."""
    old = ctx.prec
    ctx.prec = bits
    try:
        yield
    finally:
        ctx.prec = old


def to_ball(x: Number | int) -> arb:
    return x if isinstance(x, arb) else arb(_exact(x))


def _exact(x: object) -> Number:
    """Plain integers (NumPy fills an array's zeros with them) as exact rationals."""
    if isinstance(x, (fmpq, arb)):
        return x
    if isinstance(x, int):
        return fmpq(x)
    raise TypeError(f"not a number of the decision: {type(x).__name__}")


def sign(x: Number) -> int:
    """-1, 0 or 1 for certain; ``Unsure`` when the ball holds 0 but is not the number 0."""
    x = _exact(x)
    if isinstance(x, fmpq):
        return (x > 0) - (x < 0)
    if not x.is_finite():
        raise Unsure("a value is not finite at this precision")
    if x > 0:
        return 1
    if x < 0:
        return -1
    if x.is_exact() and x.is_zero():
        return 0
    raise Unsure("a value too close to 0 to tell its sign")


def _tiny() -> arb:
    return arb(10) ** -DIGITS


def classify(x: Number) -> str:
    """``differs``, ``exact``, ``agrees`` or ``unsure`` for one entry of a difference."""
    x = _exact(x)
    if isinstance(x, fmpq):
        return "exact" if x == 0 else "differs"
    if not x.is_finite():
        return "unsure"
    if not x.contains(0):
        return "differs"
    if x.is_exact():  # contains 0 and has no radius: it is 0
        return "exact"
    return "agrees" if x.abs_upper() < _tiny() else "unsure"


@dataclass(frozen=True)
class AtPoint:
    """How one point went: its outcome, the first differing entry and the precision."""

    outcome: str
    entry: int | None = None
    bits: int = START_BITS
    rational: bool = False       # the differing entry is an exact non-zero rational


def at_point(evaluate: Callable[[], Sequence[Number]]) -> AtPoint:
    """Evaluate one point's difference, doubling the precision until it is decided."""
    bits = START_BITS
    while bits <= MAX_BITS:
        with working(bits):
            try:
                entries = list(evaluate())
            except (Unsure, ZeroDivisionError):
                entries = None
            if entries is not None:
                kinds = [classify(e) for e in entries]
                if "differs" in kinds:
                    j = kinds.index("differs")
                    return AtPoint("differs", j, bits, isinstance(entries[j], fmpq))
                if "unsure" not in kinds:
                    return AtPoint("exact" if set(kinds) <= {"exact"} else "agrees", None, bits)
        bits *= 2
    return AtPoint("unsure", None, MAX_BITS)


@dataclass(frozen=True)
class Decision:
    """The verdict on one equality and how it was reached."""

    verdict: str                 # "holds", "fails" or "undecided"
    method: str                  # e.g. "8 random points, 120 digits"
    point: int | None = None     # the index of the point where the sides differ
    entry: int | None = None     # the entry of the difference that differs there
    agreed: int = 0              # how many points agreed
    unsure: int = 0              # how many points could not be decided


def decide(points: Iterator[Callable[[], Sequence[Number]]], *, needed: int) -> Decision:
    """Walk ``points`` (each a function evaluating the difference there) until one differs
    (fails), ``needed`` agree (holds) or they run out (undecided)."""
    agreed = exact = unsure = 0
    for i, evaluate in enumerate(points):
        result = at_point(evaluate)
        if result.outcome == "differs":
            how = "exact rational arithmetic" if result.rational else \
                f"a {result.bits}-bit enclosure of the difference excludes 0"
            return Decision("fails", f"certain: {how}", i, result.entry, agreed, unsure)
        if result.outcome == "unsure":
            unsure += 1
            continue
        agreed += 1
        exact += result.outcome == "exact"
        if agreed >= needed:
            what = "exact" if exact == agreed else f"{DIGITS} digits"
            return Decision("holds", f"{agreed} random points, {what}", None, None, agreed,
                            unsure)
    return Decision("undecided", f"only {agreed} of the {needed} random points needed could be "
                                 f"decided ({unsure} too close to a kink or beyond "
                                 f"{MAX_BITS}-bit precision)", None, None, agreed, unsure)


def describe(x: Number, digits: int = 17) -> str:
    """A short decimal for a message (never used to decide anything)."""
    x = _exact(x)
    if isinstance(x, fmpq):
        if x.q == 1 and abs(x.p) < 10**20:
            return str(x.p)
        x = arb(x)
    if not x.is_finite():
        return "not finite"
    return x.mid().str(digits, radius=False)


def shown(x: Number) -> float | str:
    """A float where one shows the value (an exact 0, or a number a float can hold without
    flushing to 0), else its decimal text (never used to decide anything)."""
    text = describe(x)
    try:
        f = float(text)
    except ValueError:
        return text
    finite = f == f and abs(f) != float("inf")
    return f if finite and (f != 0 or classify(x) == "exact") else text

