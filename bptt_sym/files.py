"""The user's files: read with a size limit, written whole or not at all, JSON that is JSON.

Every failure is a :class:`~bptt_sym.errors.UsageError` of one line that names the file.

    >>> json_text({"max_rel": float("inf"), "rows": [float("nan"), 1.5]})
    '{"max_rel": "inf", "rows": ["nan", 1.5]}'
"""

from __future__ import annotations

import json
import math
import os
import secrets
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from bptt_sym.errors import UsageError

__all__ = ["MAX_INPUT_BYTES", "read_bytes", "read_text", "read_json", "shown", "json_text",
           "check_output", "write_output", "emit", "emit_bytes", "emit_json", "flush_stdout",
           "warn", "silence", "progress"]

MAX_INPUT_BYTES = 5_000_000  # check's FILE and verify's --at FILE, from disk, stdin or a pipe


def shown(name: str, width: int = 120) -> str:
    """``name`` quoted for a message, its middle cut out when it is very long."""
    if len(name) <= width:
        return repr(name)
    return repr(name[: width // 2] + "…" + name[-width // 2:])


def read_bytes(name: str, what: str = "", limit: int = MAX_INPUT_BYTES) -> bytes:
    """At most ``limit`` bytes of file ``name`` (``-``: stdin); a larger input is refused
    after reading ``limit`` + 1 bytes, so /dev/zero neither hangs nor fills the memory."""
    label = f"{what} {shown(name)}".strip()
    try:
        if name == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(name, "rb") as fh:
                data = fh.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {label}: {exc.strerror or exc}") from None
    except (ValueError, AttributeError):  # stdin closed, or not a byte stream
        raise UsageError(f"cannot read {label}: no input") from None
    if len(data) > limit:
        raise UsageError(f"{label} is larger than the {_size(limit)} limit; split it")
    return data


def _size(n: int) -> str:
    return f"{n // 1_000_000} MB" if n % 1_000_000 == 0 else f"{n} bytes"


def read_text(name: str, what: str = "", limit: int = MAX_INPUT_BYTES) -> str:
    """The text of file ``name`` (``-``: stdin) as UTF-8, at most ``limit`` bytes."""
    data = read_bytes(name, what, limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        label = f"{what} {shown(name)}".strip()
        raise UsageError(f"{label} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                         f"{exc.start}); save it as UTF-8") from None


def read_json(name: str, what: str = "", limit: int = MAX_INPUT_BYTES) -> object:
    """The JSON value in file ``name``: too large, not UTF-8, not JSON, nested too deeply
    or holding a number of more digits than Python converts are each one line."""
    data = read_bytes(name, what, limit)
    label = f"{what} {shown(name)}".strip()
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{label} is not valid JSON: not UTF-8 text (byte "
                         f"0x{data[exc.start]:02x} at offset {exc.start})") from None
    except RecursionError:
        raise UsageError(f"{label} is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and a number of more than 4300 digits
        why = str(exc).splitlines()[0][:120] if str(exc) else "unreadable"
        raise UsageError(f"{label} is not valid JSON: {why}") from None


def _finite(value: object) -> object:
    """``value`` with every non-finite float replaced by "inf", "-inf" or "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "shape", None) == ():
        return _finite(value.item())  # a NumPy scalar
    return value


def json_text(value: object, **options: object) -> str:
    """``json.dumps`` that never writes NaN or Infinity (which are not JSON)."""
    return json.dumps(_finite(value), allow_nan=False, **options)  # type: ignore[arg-type]


def emit_json(value: object, **options: object) -> None:
    """``value`` as JSON on stdout (see :func:`json_text`), written piece by piece: the whole
    text of a derivation at T = 100000 is never held in memory at once."""
    encoder = json.JSONEncoder(allow_nan=False, **options)  # type: ignore[arg-type]
    chunks: list[str] = []
    for chunk in encoder.iterencode(_finite(value)):
        chunks.append(chunk)
        if len(chunks) >= 65536:
            _write("".join(chunks))
            chunks.clear()
    _write("".join(chunks) + "\n")


def _write(text: str) -> None:
    if sys.stdout is None:
        return
    try:
        sys.stdout.write(text)
    except OSError as exc:
        _stdout_failed(exc)


def check_output(name: str, force: bool = False) -> None:
    """Fail early, before any work, on an output path that cannot or may not be written:
    an existing regular file needs ``force``."""
    if name == "-":
        return
    label = shown(name)
    try:
        st = os.stat(name)
    except FileNotFoundError:
        st = None
    except OSError as exc:  # a name too long, a loop of symlinks, a file used as a directory
        raise UsageError(_cannot(name, exc)) from None
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"cannot write {label}: it is a directory")
        if stat.S_ISREG(st.st_mode) and not force:
            raise UsageError(f"{label} exists; pass --force to overwrite it")
        return
    parent = Path(name).parent
    if not parent.exists():
        raise UsageError(f"cannot write {label}: the directory {shown(str(parent))} does not "
                         "exist")
    if not parent.is_dir():
        raise UsageError(f"cannot write {label}: {shown(str(parent))} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {label}: no permission to write in {shown(str(parent))}")


def _cannot(name: str, exc: OSError) -> str:
    if exc.errno == 20:  # ENOTDIR: a part of the path is a file
        parts = Path(name).parents
        for p in reversed(list(parts)):
            if p.is_file():
                return f"cannot write {shown(name)}: {shown(str(p))} is not a directory"
    return f"cannot write {shown(name)}: {exc.strerror or exc}"


def write_output(name: str, data: bytes, force: bool = False) -> None:
    """Write ``data`` to ``name`` whole or not at all (a temporary file, then a rename);
    ``-`` is stdout.  An existing regular file is replaced only with ``force``."""
    if name == "-":
        emit_bytes(data)
        return
    path = Path(os.path.realpath(name))  # through a symlink, to the file it names
    try:
        exists, regular = path.exists(), path.is_file()
    except OSError as exc:
        raise UsageError(_cannot(name, exc)) from None
    if exists and not regular:  # /dev/null, a pipe: nothing to rename over
        try:
            with open(path, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise UsageError(_cannot(name, exc)) from None
        return
    if exists and not force:
        raise UsageError(f"{shown(name)} exists; pass --force to overwrite it")
    tmp = path.with_name(f".bptt-sym-{secrets.token_hex(4)}.tmp")  # short: any name fits
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(_cannot(name, exc)) from None
    finally:
        if tmp.exists():
            tmp.unlink()


# ---- standard output: a closed pipe keeps the exit status, a full disk is one line ----------

def silence(stream: str = "stdout") -> None:
    """Send what is left for stdout (or stderr) to /dev/null (the recipe of the Python docs
    for SIGPIPE), so that neither later writes nor the flush at exit fail again."""
    try:
        fd = getattr(sys, stream).fileno()
    except (OSError, ValueError, AttributeError):
        setattr(sys, stream, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def warn(text: str) -> None:
    """``text`` as a line on stderr; a closed stderr pipe is silently dropped."""
    try:
        print(text, file=sys.stderr)
    except BrokenPipeError:
        silence("stderr")
    except (OSError, ValueError):
        pass  # stderr is full or closed: there is nowhere left to say anything


def _stdout_failed(exc: OSError) -> None:
    """A write to stdout failed: a closed pipe is silent (the reader has what it wanted);
    anything else (a full disk) is one line, exit status 2."""
    silence()
    if isinstance(exc, BrokenPipeError):
        return
    raise UsageError(f"cannot write to stdout: {exc.strerror or exc}") from None


def emit(text: str) -> None:
    """``print(text)`` to stdout, see :func:`_stdout_failed` for failures."""
    try:
        print(text)
    except OSError as exc:
        _stdout_failed(exc)


def emit_bytes(data: bytes) -> None:
    """Bytes to stdout, flushed."""
    if sys.stdout is None:  # started with stdout closed: nowhere to write
        return
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    except OSError as exc:
        _stdout_failed(exc)


def flush_stdout() -> None:
    """Flush stdout now, while a failure can still be reported."""
    if sys.stdout is None:
        return
    try:
        sys.stdout.flush()
    except OSError as exc:
        _stdout_failed(exc)


def progress(what: str, total: int) -> Callable[[int | None], None]:
    """A progress line on stderr for ``total`` pieces of work, redrawn in place at every
    whole percent, and only on a terminal (pipes and logs get nothing); call it with the
    number done, and with None at the end to clear the line."""
    shown = [-1]
    live = getattr(sys.stderr, "isatty", lambda: False)()

    def tick(done: int | None) -> None:
        if not live:
            return
        if done is None:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            return
        percent = 100 * done // max(total, 1)
        if percent != shown[0]:
            shown[0] = percent
            sys.stderr.write(f"\rbptt-sym: {what}: {done:,} of {total:,} ({percent}%)")
            sys.stderr.flush()
    return tick
