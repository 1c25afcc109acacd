"""``verify --model elman --at FILE``: the values of the weights, inputs and targets, read
from a JSON object and checked against the sizes of the unrolled graph.

The names are those of the graph: ``U`` (H×D), ``W`` (H×H), ``V`` (K×H), with ``--bias``
also ``b`` (H) and ``c`` (K); the inputs as ``x`` (T×D) or step by step ``x_0`` … (D);
the targets as ``y`` (T×K) or ``y_0`` … (K); the initial state ``s_{-1}`` (H), zero when
left out.  Inputs, targets and ``s_{-1}`` may carry a leading batch axis of B points; the
weights are one matrix for all points.  Everything else missing is an error, as for the
scalar model.  Values come out in the layout of :func:`bptt_sym.mnumeric.random_values`.

    >>> import json, tempfile
    >>> from bptt_sym.vector import unroll_vector
    >>> g = unroll_vector(steps=2, hidden=2, inputs=1, classes=2)
    >>> point = {"U": [[0.5], [-0.2]], "W": [[0.1, 0], [0, 0.3]], "V": [[1, 0], [0, 1]],
    ...          "x": [[1.0], [-1.0]], "y": [[1, 0], [0, 1]]}
    >>> with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
    ...     json.dump(point, fh)
    >>> values = read_elman_points(fh.name, g)
    >>> values["x_1"].shape, values["s_{-1}"].shape, values["W"].shape
    ((1, 1, 1), (1, 2, 1), (2, 2))
    >>> Path(fh.name).unlink()
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .errors import UsageError
from .files import read_json
from .notation import split_name
from .vector import VectorGraph

__all__ = ["read_elman_points"]

_OPTION = {"H": "--hidden", "D": "--inputs", "K": "--classes", "T": "--steps"}
_SEQUENCES = {"x": "D", "y": "K"}  # per-step values and the size of one step's vector
_INITIAL = "s_{-1}"
TARGET_SUM_TOLERANCE = 1e-9


def _load(path: str | Path) -> dict:
    raw = read_json(str(path), "--at file")  # at most 5 MB; every failure is one line
    if not isinstance(raw, dict):
        raise UsageError(f"--at file {str(path)!r} must hold one JSON object of names")
    return raw


def _array(key: str, value: object, label: str) -> np.ndarray:
    """A nested list of finite numbers as a float array; anything else is a UsageError."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UsageError(f"{key} in {label} holds {json.dumps(v)[:40]}, not a number; give "
                             "a number or nested lists of numbers")
        elif isinstance(v, int) and abs(v) > 1e300:
            raise UsageError(f"{key} in {label} holds a whole number of {len(str(v))} digits; "
                             "every value must be a finite float")
    try:
        arr = np.array(value, dtype=float)
    except ValueError:
        raise UsageError(f"{key} in {label} is not a rectangular array of numbers: its rows "
                         "have different lengths") from None
    if not np.all(np.isfinite(arr)):
        first = tuple(np.argwhere(~np.isfinite(np.atleast_1d(arr)))[0])[:arr.ndim]
        where = "".join(f"[{i}]" for i in first)
        raise UsageError(f"{key}{where} in {label} is {arr[first]}; every value must "
                         "be a finite number")
    return arr


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _check_shape(key: str, arr: np.ndarray, letters: tuple[str, ...], sizes: dict[str, int],
                 label: str, batch: bool) -> None:
    """``arr`` has the shape ``letters`` (or, with ``batch``, B× that shape)."""
    want = tuple(sizes[c] for c in letters)
    if arr.shape == want or (batch and arr.ndim == len(want) + 1 and arr.shape[1:] == want
                             and arr.shape[0] >= 1):
        return
    given = "is a single number" if arr.ndim == 0 else f"has shape {_shape_text(arr.shape)}"
    options = " ".join(f"{_OPTION[c]} {sizes[c]}" for c in dict.fromkeys(letters))
    also = f", or B×{_shape_text(want)} for a batch of B points" if batch else ""
    raise UsageError(f"{key} {given} in {label}; with {options} it must be "
                     f"{_shape_text(want)}{also}")


def _names(graph: VectorGraph) -> str:
    last = graph.steps - 1
    weights = ", ".join(graph.copies)
    return (f"{weights}, x (or x_0 … x_{last}), y (or y_0 … y_{last}) and optionally "
            f"{_INITIAL}")


def _classify(raw: dict, graph: VectorGraph, label: str) -> tuple[dict, dict, object]:
    """Split the file's names into weights, per-step sequences and the initial state."""
    weights, seqs, initial = {}, {b: {} for b in _SEQUENCES}, None
    for key, value in raw.items():
        base, step = split_name(key)
        if key in graph.copies:
            weights[key] = value
        elif key in graph.spec.bias_parameters:
            raise UsageError(f"{label} gives the bias {key}, but the model has none; add --bias "
                             f"or leave {key} out")
        elif key == _INITIAL or (base, step) == ("s", -1):
            initial = value
        elif base in _SEQUENCES:
            if step is not None and not 0 <= step < graph.steps:
                raise UsageError(f"{key} in {label} is out of range: with --steps "
                                 f"{graph.steps} the steps are 0..{graph.steps - 1}")
            seqs[base][step] = value
        else:
            raise UsageError(f"{label} has an unknown name {key!r}; elman takes "
                             f"{_names(graph)}")
    return weights, seqs, initial


def _steps_of(base: str, given: dict, graph: VectorGraph, sizes: dict[str, int],
              label: str) -> dict[str, np.ndarray]:
    """``x`` (T×n or B×T×n) or ``x_0`` … (n or B×n) as ``{"x_t": (B?, n)}``."""
    letter = _SEQUENCES[base]
    if None in given and len(given) > 1:
        other = next(f"{base}_{t}" for t in given if t is not None)
        raise UsageError(f"{label} gives both {base} and {other}; give {base} once, for all "
                         f"steps, or as {base}_0 … {base}_{graph.steps - 1}")
    if None in given:
        arr = _array(base, given[None], label)
        _check_shape(base, arr, ("T", letter), sizes, label, batch=True)
        return {f"{base}_{t}": arr[..., t, :] for t in range(graph.steps)}
    missing = [t for t in range(graph.steps) if t not in given]
    if missing:
        raise UsageError(f"{label} has no value for {base}_{missing[0]}; give {base} (all "
                         f"steps) or every one of {base}_0 … {base}_{graph.steps - 1}")
    out = {}
    for t in range(graph.steps):
        out[f"{base}_{t}"] = _array(f"{base}_{t}", given[t], label)
        _check_shape(f"{base}_{t}", out[f"{base}_{t}"], (letter,), sizes, label, batch=True)
    return out


def _points(batched: dict[str, np.ndarray], label: str) -> int:
    """The number of points: the batch axis that every batched value shares (1 if none)."""
    counts = {k: a.shape[0] for k, a in batched.items()}
    if not counts:
        return 1
    first = next(iter(counts))
    for k, n in counts.items():
        if n != counts[first]:
            m = counts[first]
            raise UsageError(f"{first} has {m} point{'s' * (m != 1)} and {k} has {n} in "
                             f"{label}; every value with a batch axis must have the same number")
    return counts[first]


def read_elman_points(path: str | Path, graph: VectorGraph) -> dict[str, np.ndarray]:
    """The values of the JSON object in ``path`` for ``graph``: weights (n, m), inputs
    ``x_t`` (B, D, 1), targets ``y_t`` (B, K, 1), ``s_{-1}`` (B, H, 1)."""
    label = str(path)
    raw = _load(path)
    sizes = {**graph.dims, "T": graph.steps}
    weights, seqs, initial = _classify(raw, graph, label)
    out: dict[str, np.ndarray] = {}
    for p, copies in graph.copies.items():
        if p not in weights:
            raise UsageError(f"{label} has no value for {p}; it needs {_names(graph)}")
        letters = graph.spec.shapes[p]
        arr = _array(p, weights[p], label)
        _check_shape(p, arr, tuple(c for c in letters if c != "1"), sizes, label, batch=False)
        out[p] = arr.reshape(copies[0].shape)
    vectors: dict[str, np.ndarray] = {}
    written: dict[str, str] = {}  # x_1 -> the name the file gave it (x or x_1)
    for base in _SEQUENCES:
        if not seqs[base]:
            raise UsageError(f"{label} has no value for {base}; it needs {_names(graph)}")
        for k, a in _steps_of(base, seqs[base], graph, sizes, label).items():
            vectors[k], written[k] = a, base if None in seqs[base] else k
    if initial is not None:
        vectors[_INITIAL], written[_INITIAL] = _array(_INITIAL, initial, label), _INITIAL
        _check_shape(_INITIAL, vectors[_INITIAL], ("H",), sizes, label, batch=True)
    n = _points({written[k]: a for k, a in vectors.items() if a.ndim == 2}, label)
    if _INITIAL not in vectors:
        vectors[_INITIAL] = np.zeros(graph.dims["H"])
    for k, a in vectors.items():
        out[k] = np.broadcast_to(a, (n, a.shape[-1])).copy()[..., None]
    _check_targets(out, graph.steps, label)
    return out


def _check_targets(values: dict[str, np.ndarray], steps: int, label: str) -> None:
    """ŷ − y, the derived output error, needs every target to sum to 1."""
    for t in range(steps):
        sums = values[f"y_{t}"].sum(axis=(1, 2))
        bad = np.flatnonzero(np.abs(sums - 1) > TARGET_SUM_TOLERANCE)
        if bad.size:
            which = f" of point {bad[0]}" if len(sums) > 1 else ""
            raise UsageError(f"y_{t}{which} sums to {sums[bad[0]]:.6g} in {label}; a target of "
                             "softmax with cross-entropy is one-hot or a distribution that "
                             "sums to 1 (the derived output error ŷ − y needs it)")
