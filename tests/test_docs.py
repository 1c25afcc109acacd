"""Every shell example in docs/ prints exactly what the page shows, but for the digits of
float64 round-off (a number below 1e-12 printed as 2.4e-15 or 2.7e-15: the last bits of a
BLAS sum differ between processors), which are compared as "round-off"."""

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


def _digits(text: str) -> str:
    return _ROUNDOFF.sub("round-off", text)


def test_round_off_digits_are_all_that_is_masked() -> None:
    assert _digits("2.4e-15 5.6e-16 1e-09 3.0e-08 1.0e-12") == \
        "round-off round-off 1e-09 3.0e-08 1.0e-12"
