"""``verify --model elman --at FILE`` (or any matrix model file): the values of the weights,
inputs and targets, read from a JSON object and checked against the sizes of the unrolled
graph.

The names are those of the graph: ``U`` (H×D), ``W`` (H×H), ``V`` (K×H), with ``--bias``
also ``b`` (H) and ``c`` (K); the inputs as ``x`` (T×D) or step by step ``x_0`` … (D);
the targets as ``y`` (T×K) or ``y_0`` … (K); the initial state ``s_{-1}`` (H), zero when
left out.  Inputs, targets and ``s_{-1}`` may carry a leading batch axis of B points; the
weights are one matrix for all points.  Everything else missing is an error, as for the
scalar model.  Values come out in the layout of :func:`bptt_sym.numeric.matrix.random_values`.

Any other matrix model reads the same way: its weights, each input and per-step target as
``x`` (T × its shape) or ``x_0`` …, a target of the whole sequence once, each given initial
state ``h_{-1}`` (zero when left out); a value's shape is written without its 1s (a 1 × D row
is D numbers).  Sizes are named ``--size D=3``.

    >>> import json, tempfile
    >>> from bptt_sym.graph.matrix import unroll_vector
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

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from bptt_sym.errors import UsageError
from bptt_sym.files import MAX_INPUT_BYTES, read_bytes, read_json
from bptt_sym.graph.build import Graph
from bptt_sym.model.calls import xent_targets
from bptt_sym.notation import split_name
from bptt_sym.numeric.matrix import is_elman

__all__ = ["read_elman_points", "read_arrays"]

_OPTION = {"H": "--hidden", "D": "--inputs", "K": "--classes", "T": "--steps"}
TARGET_SUM_TOLERANCE = 1e-9


def read_arrays(path: str | Path, what: str) -> dict:
    """The named arrays of a .npz file (as nested lists) or the JSON object of any other
    file; an unreadable or malformed file is one line."""
    if str(path).endswith(".npz"):
        data = read_bytes(str(path), what, MAX_INPUT_BYTES)
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                return {k: npz[k].tolist() for k in npz.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise UsageError(f"{what} {str(path)!r} is not a readable .npz file: "
                             f"{str(exc).splitlines()[0][:120] if str(exc) else 'unreadable'}"
                             ) from None
    raw = read_json(str(path), what)  # at most 5 MB; every failure is one line
    if not isinstance(raw, dict):
        raise UsageError(f"{what} {str(path)!r} must hold one JSON object of names")
    return raw


def _load(path: str | Path) -> dict:
    raw = read_arrays(path, "--at file")
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


class _Layout:
    """What a file for ``graph`` holds: the per-step sequences (with the letters of one
    step's value), the targets of the whole sequence, the given initial states."""

    def __init__(self, graph: Graph) -> None:
        spec = graph.spec
        self.graph, self.spec = graph, spec
        self.elman = is_elman(graph)
        leaves = [n for n in graph.nodes.values() if n.kind in ("input", "target", "initial")]
        self.sequences = {n.base: self.letters(n.base) for n in leaves
                          if n.kind != "initial" and n.step is not None}
        self.once = {n.base: self.letters(n.base) for n in leaves
                     if n.kind == "target" and n.step is None}
        self.initial = {str(n.symbol): self.letters(n.base) for n in leaves
                        if n.kind == "initial"}
        self.probability = xent_targets(spec)

    def letters(self, base: str) -> tuple[str, ...]:
        return tuple(c for c in self.spec.shapes.get(base, ()) if c != "1")

    def option(self, letter: str, size: int) -> str:
        if letter == "T" or self.elman:
            return f"{_OPTION[letter]} {size}"
        return f"--size {letter}={size}"

    def names(self) -> str:
        last = self.graph.steps - 1
        parts = [", ".join(self.graph.copies)]
        parts += [f"{b} (or {b}_0 … {b}_{last})" for b in self.sequences] + list(self.once)
        text = ", ".join(p for p in parts if p)
        return f"{text} and optionally {', '.join(self.initial)}" if self.initial else text


def _check_shape(key: str, arr: np.ndarray, letters: tuple[str, ...], sizes: dict[str, int],
                 label: str, batch: bool, layout: _Layout) -> None:
    """``arr`` has the shape ``letters`` (or, with ``batch``, B× that shape)."""
    want = tuple(sizes[c] for c in letters)
    if arr.shape == want or (batch and arr.ndim == len(want) + 1 and arr.shape[1:] == want
                             and arr.shape[0] >= 1):
        return
    given = "is a single number" if arr.ndim == 0 else f"has shape {_shape_text(arr.shape)}"
    options = " ".join(layout.option(c, sizes[c]) for c in dict.fromkeys(letters))
    also = f", or B×{_shape_text(want)} for a batch of B points" if batch else ""
    if not want:
        want_text, also = "a single number", ", or B numbers for a batch of B points" \
            if batch else ""
        raise UsageError(f"{key} {given} in {label}; it must be {want_text}{also}")
    raise UsageError(f"{key} {given} in {label}; with {options} it must be "
                     f"{_shape_text(want)}{also}")


def _classify(raw: dict, layout: _Layout, label: str) -> tuple[dict, dict, dict]:
    """Split the file's names into weights, per-step sequences (and targets of the whole
    sequence, under the step None) and the initial states."""
    graph = layout.graph
    weights, seqs, initial = {}, {b: {} for b in (*layout.sequences, *layout.once)}, {}
    for key, value in raw.items():
        base, step = split_name(key)
        if key in graph.copies:
            weights[key] = value
        elif key in graph.spec.bias_parameters:
            raise UsageError(f"{label} gives the bias {key}, but the model has none; add --bias "
                             f"or leave {key} out")
        elif key in layout.initial or (step == -1 and f"{base}_{{-1}}" in layout.initial):
            initial[f"{base}_{{-1}}"] = value
        elif base in layout.once and step is None:
            seqs[base][None] = value
        elif base in layout.sequences:
            if step is not None and not 0 <= step < graph.steps:
                raise UsageError(f"{key} in {label} is out of range: with --steps "
                                 f"{graph.steps} the steps are 0..{graph.steps - 1}")
            seqs[base][step] = value
        else:
            raise UsageError(f"{label} has an unknown name {key!r}; {graph.spec.name} takes "
                             f"{layout.names()}")
    return weights, seqs, initial


def _steps_of(base: str, given: dict, layout: _Layout, sizes: dict[str, int],
              label: str) -> dict[str, np.ndarray]:
    """``x`` (T×n or B×T×n) or ``x_0`` … (n or B×n) as ``{"x_t": (B?, n)}``."""
    graph = layout.graph
    letters = layout.sequences[base]
    if None in given and len(given) > 1:
        other = next(f"{base}_{t}" for t in given if t is not None)
        raise UsageError(f"{label} gives both {base} and {other}; give {base} once, for all "
                         f"steps, or as {base}_0 … {base}_{graph.steps - 1}")
    if None in given:
        arr = _array(base, given[None], label)
        _check_shape(base, arr, ("T", *letters), sizes, label, True, layout)
        at = arr.ndim - len(letters) - 1  # the step axis, after a batch axis if any
        return {f"{base}_{t}": np.take(arr, t, axis=at) for t in range(graph.steps)}
    missing = [t for t in range(graph.steps) if t not in given]
    if missing:
        raise UsageError(f"{label} has no value for {base}_{missing[0]}; give {base} (all "
                         f"steps) or every one of {base}_0 … {base}_{graph.steps - 1}")
    out = {}
    for t in range(graph.steps):
        out[f"{base}_{t}"] = _array(f"{base}_{t}", given[t], label)
        _check_shape(f"{base}_{t}", out[f"{base}_{t}"], letters, sizes, label, True, layout)
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


def _leaf_shape(graph: Graph, name: str) -> tuple[int, int]:
    """The (rows, cols) of the leaf called ``name`` (a scalar: 1 × 1)."""
    for sym in graph.nodes:
        if str(sym) == name:
            return tuple(int(n) for n in getattr(sym, "shape", (1, 1)))  # type: ignore[return-value]
    raise KeyError(name)


def read_elman_points(path: str | Path, graph: Graph, raw: dict | None = None
                      ) -> dict[str, np.ndarray]:
    """The values of the JSON object in ``path`` for ``graph``: weights (n, m), inputs
    ``x_t`` (B, D, 1), targets ``y_t`` (B, K, 1), ``s_{-1}`` (B, H, 1); for any matrix
    model every per-point value (B, rows, cols)."""
    label = str(path)
    raw = _load(path) if raw is None else raw  # raw: the file's names, already read
    layout = _Layout(graph)
    sizes = {**graph.dims, "T": graph.steps}
    weights, seqs, initial = _classify(raw, layout, label)
    out: dict[str, np.ndarray] = {}
    for p, copies in graph.copies.items():
        if p not in weights:
            raise UsageError(f"{label} has no value for {p}; it needs {layout.names()}")
        letters = layout.letters(p)
        arr = _array(p, weights[p], label)
        _check_shape(p, arr, letters, sizes, label, False, layout)
        out[p] = arr.reshape(getattr(copies[0], "shape", ()))
    vectors: dict[str, np.ndarray] = {}
    written: dict[str, str] = {}  # x_1 -> the name the file gave it (x or x_1)
    for base in layout.sequences:
        if not seqs[base]:
            raise UsageError(f"{label} has no value for {base}; it needs {layout.names()}")
        for k, a in _steps_of(base, seqs[base], layout, sizes, label).items():
            vectors[k], written[k] = a, base if None in seqs[base] else k
    for base, letters in layout.once.items():
        if None not in seqs[base]:
            raise UsageError(f"{label} has no value for {base}; it needs {layout.names()}")
        vectors[base], written[base] = _array(base, seqs[base][None], label), base
        _check_shape(base, vectors[base], letters, sizes, label, True, layout)
    for name, letters in layout.initial.items():
        if name in initial:
            vectors[name], written[name] = _array(name, initial[name], label), name
            _check_shape(name, vectors[name], letters, sizes, label, True, layout)
    n = _points({written[k]: a for k, a in vectors.items()
                 if a.ndim == len(_value_letters(layout, k)) + 1}, label)
    for name, letters in layout.initial.items():
        vectors.setdefault(name, np.zeros(tuple(sizes[c] for c in letters)))
    for k, a in vectors.items():
        one = tuple(sizes[c] for c in _value_letters(layout, k))
        out[k] = np.broadcast_to(a, (n, *one)).reshape(n, *_leaf_shape(graph, k)).copy()
    _check_targets(out, layout, label)
    return out


def _value_letters(layout: _Layout, key: str) -> tuple[str, ...]:
    base = split_name(key)[0] if key not in layout.once else key
    if key in layout.initial:
        return layout.initial[key]
    return layout.sequences.get(base, layout.once.get(base, ()))


def _check_targets(values: dict[str, np.ndarray], layout: _Layout, label: str) -> None:
    """ŷ − y, the derived output error, needs every target of xent to sum to 1."""
    for key, arr in values.items():
        base = split_name(key)[0]
        if base not in layout.probability or key in layout.graph.copies:
            continue
        sums = arr.sum(axis=(1, 2))
        bad = np.flatnonzero(np.abs(sums - 1) > TARGET_SUM_TOLERANCE)
        if bad.size:
            which = f" of point {bad[0]}" if len(sums) > 1 else ""
            raise UsageError(f"{key}{which} sums to {sums[bad[0]]:.6g} in {label}; a target of "
                             "softmax with cross-entropy is one-hot or a distribution that "
                             "sums to 1 (the derived output error ŷ − y needs it)")
