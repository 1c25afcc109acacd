"""Find the equations in a document: plain text, Markdown or LaTeX, with line numbers.

* Plain text: one equation a line; ``#`` and ``%`` start comments.
* Markdown / LaTeX: only math is read: ``$…$``, ``$$…$$``, ``\\[…\\]`` and
  ``align``/``align*``/``equation`` environments; ``&`` is dropped and ``\\\\`` splits rows.
  Math without ``=`` (a symbol in a sentence) is skipped.

    >>> [(e.line, e.text) for e in find_equations("see $a = b$ and\\n$$c = d$$")]
    [(1, 'a = b'), (2, 'c = d')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Found", "find_equations"]

_MATH = re.compile(
    r"\$\$(?P<dd>.+?)\$\$|\\\[(?P<br>.+?)\\\]|\$(?P<d>[^$\n]+?)\$"
    r"|\\begin\{(?P<env>align\*?|equation\*?|gather\*?|aligned)\}(?P<body>.*?)\\end\{(?P=env)\}",
    re.S)
_LABELS = re.compile(r"\\(?:label|tag|nonumber|notag)(?:\{[^}]*\})?")


@dataclass(frozen=True)
class Found:
    """One equation as written, with the line it starts on."""

    line: int
    text: str


def _is_math_document(text: str) -> bool:
    """Math delimiters outside comment lines make a Markdown/LaTeX document."""
    body = "\n".join(line for line in text.splitlines()
                     if not line.lstrip().startswith(("#", "%")))
    return bool(re.search(r"\$[^$\n]+\$|\$\$|\\\[|\\begin\{(align|equation|gather)", body))


def _strip_comment(line: str) -> str:
    cut = len(line)
    for mark in ("#", "%"):
        i = line.find(mark)
        if i != -1 and not (mark == "%" and i > 0 and line[i - 1] == "\\"):
            cut = min(cut, i)
    return line[:cut]


def _rows(body: str, first_line: int) -> list[Found]:
    out = []
    line = first_line
    for row in re.split(r"\\\\", body):
        text = " ".join(_strip_comment(r) for r in row.split("\n"))
        text = _LABELS.sub("", text).replace("&", " ").strip().rstrip(",.;")
        lead = len(row) - len(row.lstrip("\n"))
        if text.startswith("=") and out:  # "a &= b \\ &= c" continues the chain a = b = c
            out[-1] = Found(out[-1].line, f"{out[-1].text} {' '.join(text.split())}")
        elif "=" in text:
            out.append(Found(line + lead, " ".join(text.split())))
        line += row.count("\n")
    return out


def find_equations(text: str) -> list[Found]:
    """Every equation in ``text``, in order, each with its (1-based) line number."""
    if not _is_math_document(text):
        found = []
        for i, raw in enumerate(text.splitlines(), start=1):
            line = _strip_comment(raw).strip()
            if line:
                found.append(Found(i, line))
        return found
    kept = "\n".join(_strip_comment(line) if line.lstrip().startswith("%") else line
                     for line in text.splitlines())
    found = []
    for m in _MATH.finditer(kept):
        body = next(g for g in (m["dd"], m["br"], m["d"], m["body"]) if g is not None)
        body = re.sub(r"\\(begin|end)\{(aligned|gathered|split)\}", " ", body)
        start_line = kept.count("\n", 0, m.start()) + 1
        found.extend(_rows(body, start_line))
    return found
