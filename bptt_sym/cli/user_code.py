"""``gradcheck --call FILE.py:FUNC``: the person's own backward pass, imported from their file
and called on the point, as pytest imports and runs a test file.  It is their code, run at
their request; nothing of theirs is passed through eval."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from pathlib import Path

import numpy as np

from bptt_sym.errors import UsageError
from bptt_sym.files import warn

__all__ = ["call_backward"]


def _function(target: str) -> object:
    """FILE.py:FUNC -> the function, each failure one line."""
    path, colon, name = target.rpartition(":")
    if not colon or not path.endswith(".py") or not name.isidentifier():
        raise UsageError(f"--call {target!r}: write FILE.py:FUNC, e.g. my_rnn.py:backward")
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--call: no file {path!r}")
    spec = importlib.util.spec_from_file_location(f"_bptt_user_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(file.resolve().parent))  # their file may import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - their module failing to import: show it whole
        _show(exc, file)
        raise UsageError(f"--call: importing {path} raised {type(exc).__name__}: {exc}"
                         ) from None
    finally:
        sys.path.remove(str(file.resolve().parent))
    fn = getattr(module, name, None)
    if not callable(fn):
        have = ", ".join(n for n, v in vars(module).items()
                         if inspect.isfunction(v) and v.__module__ == module.__name__)
        raise UsageError(f"--call: {path} has no function {name!r} (it has {have or 'none'})")
    return fn


def _show(exc: BaseException, file: Path) -> None:
    """Their traceback, from the first frame in their file on, as pytest shows a test's."""
    frames = traceback.extract_tb(exc.__traceback__)
    start = next((i for i, f in enumerate(frames)
                  if Path(f.filename).resolve() == file.resolve()), 0)
    lines = traceback.format_list(frames[start:])
    warn("Traceback (most recent call last), in your code:\n" + "".join(lines).rstrip("\n")
         + f"\n{type(exc).__name__}: {exc}")


def call_backward(target: str, point: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Call FUNC(point) (FUNC(**point) when its first parameter is a name of the point, as
    in ``def backward(U, W, V, **rest)``) and return its dict
    of gradients; it raising, or returning anything but a dict of arrays, is one line (with
    their traceback first)."""
    fn = _function(target)
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    whole = bool(params) and params[0].kind in (params[0].POSITIONAL_ONLY,
                                                params[0].POSITIONAL_OR_KEYWORD) \
        and params[0].name not in point  # def backward(point, …): the whole dict
    arrays = {k: np.array(v) for k, v in point.items()}
    try:
        out = fn(arrays) if whole else fn(**arrays)
    except Exception as exc:  # noqa: BLE001 - their code: whatever it raises is reported
        _show(exc, Path(target.rpartition(":")[0]))
        raise UsageError(f"--call: {target} raised {type(exc).__name__}: {exc}") from None
    if not isinstance(out, dict):
        raise UsageError(f"--call: {target} returned {type(out).__name__}; return a dict of "
                         "gradients by parameter name, e.g. {'U': dU, 'W': dW, 'V': dV}")
    return out
