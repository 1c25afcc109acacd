"""Every shell example in docs/ prints exactly what the page shows, but for the digits of
float64 round-off (a number below 1e-12 printed as 2.4e-15 or 2.7e-15: the last bits of a
BLAS sum differ between processors), which are compared as "round-off", and the errors of a
verify row against finite differences (the difference quotient's error, 1e-8 to 1e-10, moves
with those same last bits), compared as "fd-error"."""

from __future__ import annotations

import re

import pytest

from .doc_blocks import DOCS, Example, examples, run

EXAMPLES = [e for p in DOCS for e in examples(p)]


def test_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_example_output_is_current(example: Example) -> None:
    assert _digits(run(example.command)) == _digits(example.output.rstrip("\n")), (
        f"{example} is stale; refresh with: python -m tests.doc_blocks")


_ROUNDOFF = re.compile(r"\b\d\.\de-(?:1[3-9]|[2-9]\d)\b")
_FD_ROW = re.compile(r"^(\S+ +\S+ +fd +)\S+ +\S+", re.M)  # form, param, fd, max abs, max rel


def _digits(text: str) -> str:
    return _ROUNDOFF.sub("round-off", _FD_ROW.sub(r"\1fd-error fd-error", text))


def test_round_off_digits_are_all_that_is_masked() -> None:
    assert _digits("2.4e-15 5.6e-16 1e-09 3.0e-08 1.0e-12") == \
        "round-off round-off 1e-09 3.0e-08 1.0e-12"
    row = "matrix W_h    fd               5.8e-10   2.6e-10   1e-06  PASS"
    assert _digits(row) == "matrix W_h    fd               fd-error fd-error   1e-06  PASS"
