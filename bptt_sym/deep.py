"""Deep expressions without crashes: a thread with a large C stack and a recursion limit that
is safe for it.

SymPy's printers and tree walks recurse, and the factored and closed forms are nested as
deep as T.  Raising ``sys.setrecursionlimit`` on the ordinary 8 MB stack past what it holds
ends in a segmentation fault, so nothing here does that.  Instead :func:`run_deep` runs a
function in a thread whose stack is :data:`STACK_BYTES` (reserved, not committed: only the
part a recursion touches takes memory) with the recursion limit :data:`DEEP_LIMIT`.  The
deepest walk measured costs about 800 bytes of C stack per unit of the limit
(``str``/``srepr`` of a nested SymPy expression), so the limit leaves a factor of three.
Beyond the limit the walk raises :class:`~bptt_sym.errors.TooDeep`, one line, never a crash.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> e = x
    >>> for _ in range(3000):  # nested 6000 deep: too deep for the default limit of 1000
    ...     e = sp.Mul(x, sp.Add(x, e, evaluate=False), evaluate=False)
    >>> len(run_deep(str, e)) > 3000
    True
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TypeVar

from bptt_sym.errors import TooDeep

__all__ = ["STACK_BYTES", "DEEP_LIMIT", "run_deep", "in_deep_thread"]

STACK_BYTES = 512 * 2**20
DEEP_LIMIT = 200_000
R = TypeVar("R")

_STATE = threading.local()
_LOCK = threading.Lock()


def in_deep_thread() -> bool:
    """True inside :func:`run_deep` (the large stack and the raised limit are in force)."""
    return getattr(_STATE, "deep", False)


def _too_deep() -> TooDeep:
    return TooDeep(f"the expression is nested too deeply to handle (more than {DEEP_LIMIT} "
                   "levels of recursion); use fewer --steps or --form delta")


def run_deep(fn: Callable[..., R], *args: object, **kwargs: object) -> R:
    """``fn(*args, **kwargs)``: tried at once, and when it runs out of recursion, again in a
    thread with a :data:`STACK_BYTES` stack and the limit :data:`DEEP_LIMIT`.

    Exceptions of ``fn`` propagate; a RecursionError even there becomes
    :class:`~bptt_sym.errors.TooDeep`.
    """
    if not in_deep_thread():
        try:
            return fn(*args, **kwargs)
        except RecursionError:
            pass
    return in_thread(fn, *args, **kwargs)


def _direct(fn: Callable[..., R], *args: object, **kwargs: object) -> R:
    try:
        return fn(*args, **kwargs)
    except RecursionError:
        raise _too_deep() from None


def in_thread(fn: Callable[..., R], *args: object, **kwargs: object) -> R:
    """``fn(*args, **kwargs)`` in a thread with the large stack and the raised limit (at once,
    when already in one).  Ctrl-C in the caller's thread raises KeyboardInterrupt there."""
    if in_deep_thread():
        return _direct(fn, *args, **kwargs)
    box: dict[str, object] = {}

    def body() -> None:
        _STATE.deep = True
        try:
            box["value"] = fn(*args, **kwargs)
        except RecursionError:
            box["error"] = _too_deep()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = exc
        finally:
            _leave()

    worker: threading.Thread | None = threading.Thread(target=body, daemon=True,
                                                       name="bptt-sym deep")
    with _LOCK:  # the stack size is read when a thread starts, and is shared by all threads
        old_size = threading.stack_size()
        try:
            threading.stack_size(STACK_BYTES)
        except ValueError:  # no such stack here: run in this thread instead
            worker = None
        else:
            _enter()
            try:
                worker.start()
            except RuntimeError:  # no memory for the stack: the same
                worker = None
                _leave(locked=True)
        finally:
            threading.stack_size(old_size)
    if worker is None:
        return _direct(fn, *args, **kwargs)
    worker.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


_RUNNING = {"threads": 0, "limit": 0}


def _enter() -> None:
    """The first deep thread raises the limit (it is shared by every thread)."""
    if _RUNNING["threads"] == 0:
        _RUNNING["limit"] = sys.getrecursionlimit()
        sys.setrecursionlimit(max(_RUNNING["limit"], DEEP_LIMIT))
    _RUNNING["threads"] += 1


def _leave(locked: bool = False) -> None:
    """The last deep thread to end puts the limit back."""
    if not locked:
        with _LOCK:
            _leave(locked=True)
        return
    _RUNNING["threads"] -= 1
    if _RUNNING["threads"] == 0:
        sys.setrecursionlimit(_RUNNING["limit"])
