"""Time budgets for work that may run long (SymPy's simplify, one equation of a check).

    >>> import time
    >>> try:
    ...     with budget(0.05):
    ...         while True:
    ...             time.sleep(0.01)
    ... except TimeoutError:
    ...     print("stopped")
    stopped
"""

from __future__ import annotations

import signal
import threading
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["OutOfTime", "budget"]


class OutOfTime(Exception):
    """The search for a diagnosis ran out of its time; the counterexample still stands."""


@contextmanager
def budget(seconds: float, error: type[Exception] = TimeoutError, *,
           cpu: bool = False) -> Iterator[None]:
    """Raise ``error`` in work that runs longer than ``seconds`` of wall-clock time (``cpu``:
    of this process's CPU time, the same on a loaded machine).  Main thread only; nested
    budgets of the same clock restore the outer one."""
    if threading.current_thread() is not threading.main_thread() or \
            not hasattr(signal, "setitimer"):
        yield
        return
    timer, signum = (signal.ITIMER_PROF, signal.SIGPROF) if cpu else \
        (signal.ITIMER_REAL, signal.SIGALRM)
    clock = time.process_time if cpu else time.monotonic

    def stop(signum: int, frame: types.FrameType | None) -> None:
        # An exception raised inside a garbage-collector callback or a finaliser is lost
        # ("Exception ignored in …") and the work would go on unbounded: try again shortly.
        name = frame.f_code.co_name if frame is not None else ""
        if name == "__del__" or "callback" in name:
            signal.setitimer(timer, 0.005)
            return
        raise error

    outer_left, _ = signal.getitimer(timer)
    started = clock()
    old = signal.signal(signum, stop)
    signal.setitimer(timer, min(seconds, outer_left) if outer_left else seconds)
    try:
        yield
    finally:
        signal.setitimer(timer, 0)
        signal.signal(signum, old)
        if outer_left:
            left = outer_left - (clock() - started)
            signal.setitimer(timer, max(left, 1e-3))
