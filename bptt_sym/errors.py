"""Errors a user can cause, each carrying one line that says what is wrong and how to fix it."""

from __future__ import annotations

__all__ = ["BpttError", "UsageError", "TooDeep"]


class BpttError(ValueError):
    """A problem with what the user asked for; the message is one line, printed as is."""


class UsageError(BpttError):
    """A bad option or argument (unknown name, value out of range); the CLI exits with status 2."""


class TooDeep(BpttError):
    """An expression nested deeper than the recursion limit allows (see bptt_sym.deep)."""
