"""The version of bptt_sym, in one place (the package and its documents read it)."""

__version__ = "0.1.0"
