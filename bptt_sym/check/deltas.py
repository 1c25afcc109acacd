"""Judge a person's per-step adjoints (δ_t = ∂E/∂z_t of elman, dh_t and dc_t of an LSTM:
the model's ``adjoints``) against the exact ones of :func:`bptt_sym.check.backward.exact_gradients`:
the first step, counting back from the last, where theirs departs, and what that says.

A backward pass computes δ_{T−1} first and each δ_t from δ_{t+1}, so the first step (counting
back) where theirs departs is where their mistake enters; every step below inherits it.
Each step is judged as a gradient is: its largest difference, relative to the exact step's
largest entry, within the round-off bound of their dtype (``ROUNDOFF``).

    >>> import numpy as np
    >>> from bptt_sym.check.backward import exact_gradients
    >>> from bptt_sym.graph.matrix import unroll_vector
    >>> from bptt_sym.numeric.matrix import random_values
    >>> g = unroll_vector(steps=3, hidden=2, inputs=2, classes=2)
    >>> exact = exact_gradients(g, random_values(g, np.random.default_rng(1)))
    >>> theirs = {"delta": exact.wrong_steps["own"]["delta"]}  # nothing carried back
    >>> r = judge_deltas(exact, theirs)[0]
    >>> r.verdict, r.first
    ('departs', 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bptt_sym.check.backward import ROUNDOFF, Exact
from bptt_sym.derivation.matrix import kept_adjoints

__all__ = ["DeltaResult", "judge_deltas", "meanings"]


def meanings(exact: Exact) -> dict[str, str]:
    """Each kept adjoint's name and what it is: ``{"delta": "∂E/∂z_t"}``."""
    return {name: f"∂E/∂{base}_t" for base, name in kept_adjoints(exact.graph).items()
            if name in exact.adjoints}


@dataclass(frozen=True)
class DeltaResult:
    """One adjoint's verdict over the steps: ``matches`` at every step, or ``departs`` first
    at step ``first`` (counting back from T − 1)."""

    name: str
    meaning: str
    verdict: str
    first: int | None
    errors: tuple[float, ...]  # steps 0 … T − 1: max |theirs − exact| / max |exact| of the step
    bound: float
    dtype: str
    detail: str

    def to_json(self) -> dict:
        return {"adjoint": self.name, "meaning": self.meaning, "verdict": self.verdict,
                "first_departing_step": self.first, "relative_error_by_step": list(self.errors),
                "bound": self.bound, "dtype": self.dtype, "detail": self.detail}


def _error(got: np.ndarray, want: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(want))), np.finfo(float).tiny)
    return float(np.max(np.abs(got - want))) / scale


def judge_deltas(exact: Exact, theirs: Mapping[str, list[np.ndarray]]) -> list[DeltaResult]:
    """``theirs`` maps an adjoint's name to its value at steps 0 … T − 1, each B × n (the
    exact ones' shape); float32 arrays are judged with the float32 bound."""
    out = []
    what = meanings(exact)
    for name, steps in theirs.items():
        want = exact.adjoints[name]
        dtype = "float32" if any(np.asarray(a).dtype in (np.float32, np.float16)
                                 for a in steps) else "float64"
        bound = ROUNDOFF[dtype]
        got = [np.asarray(a, dtype=float) for a in steps]
        errors = tuple(_error(g, w) for g, w in zip(got, want))
        last = len(want) - 1
        first = next((t for t in range(last, -1, -1) if errors[t] > bound), None)
        if first is None:
            detail = (f"to {dtype} round-off at every step {last} … 0 (max error "
                      f"{max(errors):.1e} of a step's largest entry, bound {bound:g})")
            out.append(DeltaResult(name, what[name], "matches", None, errors, bound, dtype,
                                   detail))
            continue
        out.append(DeltaResult(name, what[name], "departs", first, errors, bound, dtype,
                               _departure(exact, name, got, first, bound)))
    return out


def _departure(exact: Exact, name: str, got: list[np.ndarray], t: int, bound: float) -> str:
    """What the first departing step says: which part of δ_t differs, and where."""
    want = exact.adjoints[name][t]
    last = len(exact.adjoints[name]) - 1
    after = (f"steps {last} … {t + 1} match" if t + 2 < last else
             f"steps {last} and {t + 1} match" if t + 2 == last else
             f"step {last} matches" if t < last else "it is the first step computed")
    own = exact.wrong_steps.get("own", {}).get(name)
    cut = [(kind[4:], by[name]) for kind, by in sorted(exact.wrong_steps.items())
           if kind.startswith("cut-") and name in by and _error(got[t], by[name][t]) <= bound]
    if own is not None and t < last and _error(got[t], own[t]) <= bound:
        base = {n: b for b, n in kept_adjoints(exact.graph).items()}[name]
        why = (f"yours at step {t} is ∂E_{t}/∂{base}_{t}, step {t}'s own error alone: the part "
               f"carried back from step {t + 1} is not added")
    elif cut and t < last:
        why = (f"yours at step {t} is {name}_{t} with the path back through time along "
               f"{cut[0][0]} dropped (step {t + 1} sends nothing to {cut[0][0]}_{t})")
    elif _error(got[t], -want) <= bound:
        why = f"yours at step {t} is −{name}_{t}: the sign"
    elif t == last:
        why = (f"at the last step {name}_{t} has no part carried back, so step {t}'s own part "
               "(the output's error, an activation's derivative) differs")
    else:
        why = (f"the difference enters at step {t}: in the part carried back from step "
               f"{t + 1} or in step {t}'s own part")
    diff = np.abs(got[t] - want)
    b, i = np.unravel_index(int(np.argmax(diff)), diff.shape)
    point = f", batch point {b + 1}" if want.shape[0] > 1 else ""
    return (f"departs first at step {t}, counting back ({after}); {why}; yours differs by "
            f"{_error(got[t], want):.1e} of the step's largest entry, most at entry ({i + 1}"
            f"{point}): yours {float(got[t][b, i]):.6g}, exact {float(want[b, i]):.6g}")

