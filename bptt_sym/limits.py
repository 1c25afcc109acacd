"""The documented limits of the command line, in one place (docs/index.md#limits).

Each keeps a command within minutes and a few GB of memory, and beyond it the command
stops at once with one line that says the limit, instead of running for an hour or
crashing.  The numbers were measured on a 2-core machine with 24 GB.

- ``--steps`` is at most 100000 (``graph.build.MAX_STEPS``); the delta form, ``unroll`` and
  ``check`` go that far.
- The factored and closed forms (and the paths form's last equation) nest T deep: their
  printing takes time quadratic in T, so they print up to :data:`MAX_NESTED_STEPS` steps.
  When ``--form`` is not given, ``derive`` and ``export`` leave them out above that (with a
  note), and print the delta form.
- ``derivation.forms.MAX_PATH_FACTORS`` and ``derivation.forms.MAX_PRODUCT_WORK`` bound the paths
form
  and the chain products of ∂E/∂ a node far from the loss (the forward sweep rebuilds such a product
  one factor longer at each node: time quadratic in its length).
- ``verify`` compiles and runs every form and oracle: up to :data:`MAX_VERIFY_STEPS` steps,
  :data:`MAX_POINTS` points and :data:`MAX_VALUES` input numbers in all; for elman also at
  most :data:`MAX_WORK` multiply-adds in one forward pass.
- ``graph`` draws at most 60 steps; ``--model elman`` unrolls at most 4096 steps.
- Input files (check's FILE, verify's --at) are at most 5 MB (``files.MAX_INPUT_BYTES``).
"""

from __future__ import annotations

import operator

from bptt_sym.errors import UsageError

__all__ = ["MAX_NESTED_STEPS", "MAX_VERIFY_STEPS", "MAX_POINTS", "MAX_VALUES", "MAX_WORK",
           "STEPS_HELP", "NESTED_FORMS", "nested_forms", "check_nested", "check_points",
           "check_seed"]

MAX_NESTED_STEPS = 10_000
MAX_VERIFY_STEPS = 10_000
MAX_POINTS = 100_000
MAX_VALUES = 10_000_000
MAX_WORK = 2_000_000_000
NESTED_FORMS = ("factored", "closed")
STEPS_HELP = (f"1 to 100000; the factored and closed forms print up to {MAX_NESTED_STEPS}, "
              f"verify runs up to {MAX_VERIFY_STEPS}, graph draws up to 60, --model elman "
              "unrolls up to 4096 (docs/index.md#limits)")


def nested_forms(forms: list[str], steps: int) -> list[str]:
    """The forms of ``forms`` that are too deep to print at ``steps``."""
    return [f for f in forms if f in NESTED_FORMS and steps > MAX_NESTED_STEPS]


def check_nested(forms: list[str], steps: int) -> None:
    """A UsageError for the first form asked for that is too deep at ``steps``."""
    for form in nested_forms(forms, steps):
        raise UsageError(f"--steps {steps} is too deep for --form {form}; the largest that "
                         f"prints is {MAX_NESTED_STEPS}; use --form delta")


def check_seed(seed: object) -> int | None:
    """``seed`` as a whole number ≥ 0 (or None), else a UsageError (NumPy refuses others)."""
    if seed is None:
        return None
    try:
        value = operator.index(seed)  # type: ignore[arg-type]
    except TypeError:
        value = -1
    if isinstance(seed, bool) or value < 0:
        raise UsageError(f"--seed must be a whole number ≥ 0, got {seed!r}")
    return value


def check_points(points: int, steps: int, width: int = 1, work: int = 0, *,
                 option: str = "--points") -> None:
    """A UsageError when ``points`` sequences of ``steps`` steps are more than verify
    handles: ``width`` input numbers a step (H + D + K for elman), ``work`` multiply-adds a
    step of one forward pass (for elman H·(H + D + K))."""
    if points > MAX_POINTS:
        raise UsageError(f"{option} {points} is more than the limit of {MAX_POINTS}")
    per_point = steps * max(width, 1)
    if per_point > MAX_VALUES:
        raise UsageError(f"--steps {steps} with these sizes is {per_point:,} input values a "
                         f"point, more than the limit of {MAX_VALUES:,}; use a smaller --steps "
                         "or smaller sizes")
    if points * per_point > MAX_VALUES:
        raise UsageError(f"{option} {points} at --steps {steps} is {points * per_point:,} input "
                         f"values, more than the limit of {MAX_VALUES:,}; use at most "
                         f"{option} {MAX_VALUES // per_point}")
    if work and points * steps * work > MAX_WORK:
        raise UsageError(f"{option} {points} at --steps {steps} with these sizes is "
                         f"{points * steps * work:.1e} multiply-adds a forward pass, more than "
                         f"the limit of {MAX_WORK:.0e}; use smaller sizes, --steps or {option}")
