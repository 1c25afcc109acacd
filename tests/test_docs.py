"""Every shell example in docs/ prints exactly what the page shows."""

from __future__ import annotations

import pytest

from .doc_blocks import DOCS, Example, examples, run

EXAMPLES = [e for p in DOCS for e in examples(p)]


def test_docs_have_examples() -> None:
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_example_output_is_current(example: Example) -> None:
    assert run(example.command) == example.output.rstrip("\n"), (
        f"{example} is stale; refresh with: python -m tests.doc_blocks")
