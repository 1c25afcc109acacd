"""Keep freed memory in the process, as torch's caching allocator does for its tensors.

A compiled matrix program (:class:`bptt_sym.numeric.matrix.MatrixProgram`) keeps every
forward value and δ of one call, thousands of arrays of some tens of kilobytes, and frees
them at its end.  glibc's ``malloc`` then gives the top of the heap back to the system, and
the next call touches fresh pages again: on the machine of docs/performance.md that doubled
the time of an LSTM's gradients at hidden 256, T = 100, batch 32.  :func:`keep_freed_memory`
raises glibc's trim threshold (freed memory stays with the process for the next call) and
its mmap threshold (arrays up to 32 MiB come from the heap).  The process's memory then
stays at its peak.  ``verify`` calls it; nothing else of the package changes the allocator.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
_done: list[bool] = []


def keep_freed_memory() -> bool:
    """Tune glibc's malloc once (True when it could be done: Linux with glibc)."""
    if _done:
        return _done[0]
    ok = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            ok = bool(libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)) and \
                bool(libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20))
        except (OSError, AttributeError):  # musl and others have no mallopt
            ok = False
    _done.append(ok)
    return ok
