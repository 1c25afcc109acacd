"""Where things are in a model file: the line and column of every key and value.

tomllib gives no positions, so :class:`Places` finds them by a small scan of the text
(which tomllib has read already); :meth:`Places.error` makes the one-line
``FILE:LINE:COL: what is wrong`` of a :class:`ModelFileError`.

    >>> p = Places('cell = ["a_t = x_t*u",\\n        "s_t = f(a_t)"]\\n', "m.toml")
    >>> p.at(("cell", 1)), p.at(("cell", 1), inner=4)
    ((2, 9), (2, 14))
"""

from __future__ import annotations

import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from bptt_sym.errors import UsageError

__all__ = ["ModelFileError", "Places", "Path", "line_col", "located", "tomllib"]

Path = tuple[str | int, ...]


class ModelFileError(UsageError):
    """A bad model file: one line ``FILE:LINE:COL: what is wrong`` (and how to fix it)."""


class Places:
    """The offsets of the keys and values of a TOML text, by path (``("cell", 2)``)."""

    def __init__(self, text: str, path: str) -> None:
        self.text, self.path = text, path
        self.values: dict[Path, int] = {}
        self.keys: dict[Path, int] = {}
        self.chars: dict[Path, list[int]] = {}  # a string's offset of each of its characters
        self.twice: Path | None = None  # the first key defined a second time
        self._i = 0
        try:
            self._document()
        except (IndexError, RecursionError):  # an odd text: keep what was found
            pass

    def _skip(self, newlines: bool = True) -> None:
        s = self.text
        while self._i < len(s):
            c = s[self._i]
            if c in " \t\r" or (newlines and c == "\n"):
                self._i += 1
            elif c == "#":
                end = s.find("\n", self._i)
                self._i = len(s) if end < 0 else end
            else:
                return

    def _document(self) -> None:
        table: Path = ()
        while True:
            self._skip()
            start = self._i
            if start >= len(self.text):
                return
            if self.text[start] == "[":
                self._i += 2 if self.text.startswith("[[", start) else 1
                table = self._key()
                self._remember(table, start)
                end = self.text.find("\n", self._i)
                self._i = len(self.text) if end < 0 else end
            else:
                self._keyval(table)
            self._i = max(self._i, start + 1)

    def _remember(self, path: Path, offset: int) -> None:
        if path in self.keys and self.twice is None:
            self.twice = path
        self.keys[path] = offset

    def _key(self) -> Path:
        parts: list[str] = []
        while True:
            self._skip(newlines=False)
            if self.text[self._i:self._i + 1] in ("'", '"'):
                start = self._i
                self._i = _string_end(self.text, start)
                parts.append(_decoded(self.text[start:self._i]) or "")
            else:
                m = re.compile(r"[A-Za-z0-9_-]+").match(self.text, self._i)
                if m is None:
                    return tuple(parts)
                parts.append(m.group())
                self._i = m.end()
            self._skip(newlines=False)
            if not self.text.startswith(".", self._i):
                return tuple(parts)
            self._i += 1

    def _keyval(self, prefix: Path) -> None:
        start = self._i
        path = prefix + self._key()
        self._remember(path, start)
        self._skip(newlines=False)
        if self.text.startswith("=", self._i):
            self._i += 1
        self._skip(newlines=False)
        self._value(path)

    def _value(self, path: Path) -> None:
        s, start = self.text, self._i
        self.values[path] = start
        c = s[start:start + 1]
        if c in ("'", '"'):
            self._i = _string_end(s, start)
            self._characters(path, start, self._i)
        elif c in ("[", "{"):
            self._i += 1
            self._items(path, "]" if c == "[" else "}")
        else:
            self._i = re.compile(r"[^,\]}#\n]*").match(s, start).end()

    def _items(self, path: Path, close: str) -> None:
        n = 0
        while True:
            self._skip()
            before = self._i
            if before >= len(self.text) or self.text[before] == close:
                self._i += 1
                return
            if close == "]":
                self._value(path + (n,))
                n += 1
            else:
                self._keyval(path)
            self._skip()
            if self.text.startswith(",", self._i):
                self._i += 1
            self._i = max(self._i, before + 1)

    def _characters(self, path: Path, start: int, end: int) -> None:
        """The offset of each character of the string written at ``start:end``."""
        raw, value = self.text[start:end], _decoded(self.text[start:end])
        quote = 3 if raw[:3] in ('"""', "'''") else 1
        first = start + quote
        if quote == 3 and self.text.startswith("\n", first):
            first += 1
        offsets, i = [], first
        while i < end - quote:
            offsets.append(i)
            if raw[0] == '"' and self.text[i] == "\\":
                i += {"u": 6, "U": 10}.get(self.text[i + 1:i + 2], 2)
            else:
                i += 1
        if value is not None and len(offsets) == len(value):
            self.chars[path] = offsets + [end - quote]

    def offset(self, path: Path, inner: int | None = None, key: bool = False) -> int:
        """The offset of the value at ``path`` (of its key with ``key``; of its character
        ``inner`` when it is a string), else of the nearest enclosing value."""
        path = tuple(path)
        if inner is not None and not key and path in self.chars:
            chars = self.chars[path]
            return chars[max(0, min(inner, len(chars) - 1))]
        while path:
            for table in ((self.keys, self.values) if key else (self.values, self.keys)):
                if path in table:
                    return table[path]
            path = path[:-1]
        return 0

    def at(self, path: Path, inner: int | None = None, key: bool = False) -> tuple[int, int]:
        """``(line, column)``, both from 1, of :meth:`offset`."""
        return line_col(self.text, self.offset(path, inner, key))

    def error(self, path: Path, message: str, inner: int | None = None,
              key: bool = False) -> ModelFileError:
        """The one-line error ``FILE:LINE:COL: message`` pointing at ``path``."""
        line, col = self.at(path, inner, key)
        return located(self.path, line, col, message)


def line_col(text: str, offset: int) -> tuple[int, int]:
    """The line and column (from 1) of ``offset`` in ``text``."""
    offset = max(0, min(offset, len(text)))
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def located(path: str, line: int, col: int, message: str) -> ModelFileError:
    """``ModelFileError("PATH:LINE:COL: message")``, kept on one line."""
    return ModelFileError(f"{path}:{line}:{col}: {' '.join(message.split())}")


def _string_end(s: str, i: int) -> int:
    """The offset just past the TOML string starting at ``s[i]``."""
    quote = s[i]
    close = quote * 3 if s.startswith(quote * 3, i) else quote
    j = i + len(close)
    while j < len(s):
        if quote == '"' and s[j] == "\\":
            j += 2
        elif s.startswith(close, j):
            j += len(close)
            for _ in range(2 if len(close) == 3 else 0):  # up to two quotes end the value
                j += s.startswith(quote, j)
            return j
        elif len(close) == 1 and s[j] == "\n":
            return j
        else:
            j += 1
    return len(s)


def _decoded(raw: str) -> str | None:
    """The value of the TOML string written ``raw``, or None."""
    try:
        value = tomllib.loads(f"v = {raw}").get("v")
    except (tomllib.TOMLDecodeError, ValueError):
        return None
    return value if isinstance(value, str) else None
