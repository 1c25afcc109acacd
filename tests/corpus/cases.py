"""The corpus of published formulas (tests/corpus/*.toml) and, for each formula, how the
tests decide its truth independently of bptt_sym: a numeric check written by hand.

A ``Case`` says which model the formula is checked against (a built-in name or a model
file), at how many steps, and how its truth is computed: ``sides(rng)`` returns, for each
equality the formula states (an ``a = b = c`` chain states two), the numeric values of its
two sides at one random point of the model, computed from a forward pass written here by
hand (NumPy, differentiated by HIPS autograd or central finite differences).  Nothing of
bptt_sym is used for a truth.  ``outside`` instead says why a formula is not an equality
about the model at all (a fragment, an inequality, a statement about another model, an
ill-typed product); the checker must then answer ``invalid`` or ``skipped``, not holds or
fails.

Each ``truth_*.py`` module of this folder defines ``CASES: dict[str, Case]`` keyed by the
formula ids of the TOML files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXAMPLES = ROOT / "docs" / "examples" / "models"
MODELS = HERE / "models"  # model files written for sources whose names differ

Sides = Sequence[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Case:
    """How one published formula is checked: against ``model`` at ``steps`` steps."""

    model: str  # a built-in name ("doc", "elman") or a path relative to ROOT
    steps: int
    sides: Callable[[np.random.Generator], Sides] | None = None
    outside: str = ""  # why the formula is no equality about the model (then sides is None)
    text: str = ""  # the formula as the checker is given it, when not the TOML text as is
    options: dict = field(default_factory=dict)  # check(): activation=…, bias=True, …
    first: int = 0  # the step number the source gives its first step (d2l: h_1 is the first)
    context: str = ""  # a formula of the same source before it that defines a name it uses

    def model_arg(self) -> str:
        return self.model if "/" not in self.model else str(ROOT / self.model)


def formulas() -> dict[str, dict]:
    """Every formula of the corpus by id, with its source's id under ``source``."""
    out: dict[str, dict] = {}
    for path in sorted(HERE.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for f in data["formula"]:
            assert f["id"] not in out, f"duplicate formula id {f['id']}"
            out[f["id"]] = {**f, "source": data["source"]["id"]}
    return out


def agree(a: np.ndarray, b: np.ndarray) -> bool:
    """The two sides agree numerically (the truth of the tests, never a verdict of the tool):
    the same shape and equal to 1e-7 relative, as the finite differences allow."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(a), initial=0)), float(np.max(np.abs(b), initial=0)))
    return bool(np.max(np.abs(a - b), initial=0) <= 1e-7 * scale)
