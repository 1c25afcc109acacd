"""Number literals of the formula grammar, read exactly: ``1e-3``, ``1.5E+2``, ``.5``.

A number becomes a plain decimal string (``0.001``, ``150``, ``0.5``) by moving the decimal
point in the text, never through a float, so ``sympy.Rational`` of it is the exact value and
``mpmath.mpf`` of it is right to its working precision.  Exponents and lengths are bounded,
so ``1e999999`` is an error at its column, not a million digits.

    >>> decimal("1e-3", 1), decimal("2.5E+4", 1), decimal(".5", 1), decimal("12.50", 1)
    ('0.001', '25000', '0.5', '12.50')
"""

from __future__ import annotations

import re

from bptt_sym.errors import BpttError

__all__ = ["Misread", "decimal", "MAX_NUMBER_EXPONENT", "MAX_NUMBER_DIGITS"]

MAX_NUMBER_EXPONENT = 1000  # 1e-1000 is read; 1e1001 is an error, not a thousand digits
MAX_NUMBER_DIGITS = 2000  # digits of a number as a plain decimal (1e-1000 has 1001)
_NUMBER = re.compile(r"(\d*)(?:\.(\d*))?(?:[eE]([+-]?)(\d+))?")


class Misread(BpttError):
    """A token the grammar accepts but that cannot be read, at a column of the formula."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


def _too_long(digits: int, column: int) -> None:
    if digits > MAX_NUMBER_DIGITS:
        raise Misread(f"this number has {digits} digits; at most {MAX_NUMBER_DIGITS}", column)


def decimal(text: str, column: int) -> str:
    """The number ``text`` (a NUMBER token at ``column``) as a plain decimal; written without
    an exponent it is kept as written (``.5`` gains its ``0``)."""
    m = _NUMBER.fullmatch(text)
    whole, frac, sign, digits = m[1], m[2] or "", m[3], m[4]
    _too_long(len(whole) + len(frac), column)
    if digits is None:
        return "0" + text if text.startswith(".") else text
    digits = digits.lstrip("0") or "0"
    if len(digits) > 6 or int(digits) > MAX_NUMBER_EXPONENT:
        shown = digits if len(digits) <= 12 else digits[:12] + "…"
        at = column + len(whole) + (len(frac) + 1 if m[2] is not None else 0)
        raise Misread(f"the exponent {sign}{shown} of this number is larger than "
                      f"{MAX_NUMBER_EXPONENT} in size", at)
    shift = -int(digits) if sign == "-" else int(digits)
    mantissa, point = whole + frac, len(whole) + shift
    if point <= 0:
        head, tail = "0", "0" * -point + mantissa
    elif point >= len(mantissa):
        head, tail = mantissa + "0" * (point - len(mantissa)), ""
    else:
        head, tail = mantissa[:point], mantissa[point:]
    head, tail = head.lstrip("0") or "0", tail.rstrip("0")
    _too_long(len(head) + len(tail), column)
    return f"{head}.{tail}" if tail else head
