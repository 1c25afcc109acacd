"""Find the equations in a document: plain text, Markdown or LaTeX, with line numbers.

* Plain text (no math delimiters anywhere): one equation a line; ``#`` and ``%`` start
  comments, and a list marker (``- ``, ``* ``, ``+ ``, ``1. ``) before the equation is dropped.
* Markdown / LaTeX: the math is read: ``$…$``, ``$$…$$``, ``\\[…\\]``, ``\\(…\\)``, the
  environments ``equation``, ``align``, ``gather``, ``multline``, ``eqnarray``, ``alignat``,
  ``flalign`` (starred or not) and fenced ```` ```math ```` blocks; ``&`` columns pair up,
  ``\\\\`` splits rows, ``\\$`` is a dollar sign.  Outside math, a line with ``=`` that holds no
  prose is read as a plain-text equation; other lines with ``=`` are reported as skipped.

Nothing is dropped without a word: :func:`read_document` yields every equation (:class:`Found`),
every line or piece of math it does not read although it holds an ``=`` or is math
(:class:`Skipped`, with the reason), and every delimiter that is never closed (:class:`Broken`).

    >>> [(e.line, e.text) for e in find_equations("see $a = b$ and\\n$$c = d$$")]
    [(1, 'a = b'), (2, 'c = d')]
    >>> read_document("where $s_1$ is the state")
    [Skipped(line=1, text='s_1', reason="no '=' in this math")]
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

from bptt_sym.syntax.formula import FUNCTIONS

__all__ = ["Found", "Skipped", "Broken", "read_document", "find_equations"]

TOP_ENVS = frozenset(e + star for e in ("equation", "align", "gather", "multline", "eqnarray",
                                        "alignat", "flalign", "displaymath", "math")
                     for star in ("", "*"))
INNER_ENVS = frozenset({"aligned", "gathered", "split", "alignedat", "multlined"})
_TOKEN = re.compile(r"\\\\|\\\$|\$\$|\$|\\[\[\]()]|\\(begin|end)\{([A-Za-z]+\*?)\}(\s*\{\d+\})?")
_CLOSER = {"$$": "$$", "\\[": "\\]", "\\(": "\\)"}
_ENV = re.compile(r"\\(?:begin|end)\{(?:"
                  + "|".join(re.escape(e) for e in sorted(TOP_ENVS | INNER_ENVS))
                  + r")\}(?:\s*\{\d+\})?")
_ROW = re.compile(r"\\\\")
_SPACING = re.compile(r"^\s*\*?\s*\[[^\]]{0,20}\]")  # \\[2pt] and \\*[2pt] after a row break
_AMP = re.compile(r"(?<!\\)&")
# two equations in one row: "h_t = … \text{ and } o_t = …" (also "and thus", "hence", "so"),
# "… = J_t, \qquad z_t = …"
_AND = re.compile(r"\\(?:text|mbox|textrm|mathrm)\{\s*(?:and(?:\s+(?:thus|so|hence))?|thus|so|"
                  r"hence|therefore|i\.e\.,?)\s*\}|,\s*\\qquad(?=[^=]*=)")
_MEMBERSHIP = re.compile(r"\s*(?:\\in|∈)\s*(?:\\mathbb\s*\{?\s*R\s*\}?|ℝ|\\R(?![A-Za-z]))"
                         r"\s*(?:\^\s*(?:\{[^{}]*\}|[A-Za-z0-9]))?\s*[.,;]?\s*$")
_LABELS = re.compile(r"\\(?:label|tag\*?|nonumber|notag)(?:\{[^}]*\})?")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
_BULLET = re.compile(r"\s*(?:[-*+]|\d{1,9}[.)])\s+")
# A row that starts with an operator (after spacing such as \quad) continues the one above.
_OPERATOR = re.compile(r"(?:\s|\\q?quad|\\[,;:! ]|\\h?phantom\{[^{}]*\}|\\hspace\*?\{[^{}]*\})*"
                       r"(?:[-+*·⋅×−–]|\\cdot|\\times|\\pm|\\mp)")
_DELIMITER = re.compile(r"\$|\\[\[\]()]|\\(?:begin|end)\{")
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")  # Markdown inline code: not a formula
_WORD = re.compile(r"[^\W\d_]+")
# Words of three letters or more that formulas use; any other such word makes a line prose.
GRAMMAR_WORDS = frozenset(FUNCTIONS | {"sum", "prod", "for", "yhat", "delta", "sigma", "top"})
SHOWN = 120  # characters of a skipped line that a report shows


@dataclass(frozen=True)
class Found:
    """One equation as written, with the line it starts on; ``note``: what was read around
    it and not checked (a set it is said to lie in, ∈ ℝ^q)."""

    line: int
    text: str
    note: str = ""

    @staticmethod
    def of(line: int, text: str) -> Found:
        """The equation of ``text``, a trailing ``\\in \\mathbb{R}^{…}`` split off as a note."""
        m = _MEMBERSHIP.search(text)
        if m is None or "=" not in text[:m.start()]:
            return Found(line, text)
        return Found(line, text[:m.start()].rstrip(), f"the claim {m[0].strip()} after it is "
                     "not checked")


@dataclass(frozen=True)
class Skipped:
    """A line or piece of math that is not read as an equation, and why."""

    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class Broken:
    """A delimiter that is never closed: the text it would enclose is not read."""

    line: int
    text: str
    reason: str


def _strip_comment(line: str) -> str:
    cut = len(line)
    for mark in ("#", "%"):
        i = line.find(mark)
        if i != -1 and not (mark == "%" and i > 0 and line[i - 1] == "\\"):
            cut = min(cut, i)
    return line[:cut]


def _shown(text: str) -> str:
    text = " ".join(text[:4 * SHOWN].split())  # bounded: a long line costs no more
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


def _strip_bullet(text: str) -> str:
    """``- dE/du = …`` is a list item holding ``dE/du = …``; ``-x = y`` stays a formula."""
    m = _BULLET.match(text)
    return text[m.end():] if m else text


def _is_prose(text: str) -> bool:
    """A word of three letters or more that no formula uses, any CJK text, or Markdown."""
    if "`" in text or "|" in text:
        return True
    for m in _WORD.finditer(text):
        word = m[0]
        if m.start() and text[m.start() - 1] == "\\":
            continue  # a LaTeX command
        if any(ord(ch) >= 0x2E80 for ch in word):
            return True
        if len(word) >= 3 and word not in GRAMMAR_WORDS and \
                not (word[0] == "d" and word[1:] in GRAMMAR_WORDS):
            return True
    return False


def _rows(body: str, line: int, env: str, key: int) -> list[tuple]:
    """The equations of one piece of math (first line ``line``): rows split at ``\\\\``,
    ``&`` columns in pairs, ``&= …`` and operator-led rows continuing the equation above."""
    body = _ENV.sub(" ", body)
    if env.startswith(("multline", "multlined")):
        body = body.replace("\\\\", " ")
    out: list[list] = []  # [line, text, reason or None]
    last: dict[int, int] = {}  # column pair -> index in out of its last equation
    for row in _ROW.split(body):
        row_line = line + row[:len(row) - len(row.lstrip())].count("\n")
        text = " ".join(_strip_comment(part) for part in row.split("\n")) \
            if "#" in row or "%" in row else row
        text = _SPACING.sub(" ", _LABELS.sub(" ", text) if "\\" in text else text)
        cells = _AMP.split(text) if "&" in text else [text]
        if env.startswith("eqnarray") or len(cells) <= 2:
            groups = [" ".join(cells)]
        else:
            groups = [" ".join(cells[i:i + 2]) for i in range(0, len(cells), 2)]
        groups = [part for g in groups for part in _AND.split(g)]  # a = b \text{ and } c = d
        for k, group in enumerate(groups):
            piece = " ".join(group.split()).rstrip(",.;").strip()
            if not piece:
                continue
            if k in last and (piece.startswith("=") or
                              ("=" not in piece and _OPERATOR.match(piece))):
                out[last[k]][1].append(piece)
            elif piece.startswith("=") and out and out[-1][2] == "no '=' in this math":
                out[-1][1].append(piece)  # L(…) on one row, "= Σ_t L^{(t)}" on the next
                out[-1][2], last[k] = None, len(out) - 1
            elif "=" in piece:
                last[k] = len(out)
                out.append([row_line, [piece], None])
            else:
                out.append([row_line, [piece], "no '=' in this math"])
        line += row.count("\n")
    return [((ln, key, i), Found.of(ln, " ".join(parts)) if why is None else
             Skipped(ln, _shown(" ".join(parts)), why)) for i, (ln, parts, why) in enumerate(out)]


class _Lines:
    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def of(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)


def _tokens(text: str) -> list[tuple[int, int, str, str]]:
    """The math delimiters of ``text`` as (start, end, kind, env); ``\\\\`` and ``\\$`` are not
    delimiters, and environments other than math ones are left out."""
    out = []
    for m in _TOKEN.finditer(text):
        tok = m[0]
        if tok in ("\\\\", "\\$"):
            continue
        if m[1]:
            env = m[2]
            if env not in TOP_ENVS and env not in INNER_ENVS:
                continue
            end = m.end() if m[1] == "begin" and env.startswith("alignat") else m.end(2) + 1
            out.append((m.start(), end, m[1], env))
        else:
            out.append((m.start(), m.end(), tok, ""))
    return out


def _opens(tok: tuple, inside: tuple) -> bool:
    """Whether ``tok`` opens new math while the math ``inside`` is open (which is then
    unclosed): any display or inline opener; an environment only inside an environment
    (``$$\\begin{align}…\\end{align}$$`` is one display), an inner one (aligned, split)
    only inside another inner one."""
    kind, env, outer = tok[2], tok[3], inside[2]
    if kind in ("\\[", "\\(") or (kind == "$$" and outer != "$$"):
        return True
    if kind != "begin" or outer != "begin":
        return kind == "begin" and outer == "\\("
    return env in TOP_ENVS or inside[3] in INNER_ENVS


def _scan(text: str, lines: _Lines) -> tuple[list, list]:
    """The math of ``text`` in one pass over its delimiters: closed pieces as
    (start, body start, body end, end, env) and unclosed openers as (start, end, name, stop)."""
    toks = _tokens(text)
    regions, broken = [], []
    i, n = 0, len(toks)
    while i < n:
        start, end, kind, env = toks[i]
        if kind == "$":
            nxt = toks[i + 1] if i + 1 < n else None
            if nxt and nxt[2] == "$" and "\n" not in text[end:nxt[0]] and nxt[0] > end:
                regions.append((start, end, nxt[0], nxt[1], "$"))
                i += 2
            else:
                i += 1  # a lone $ (a price, say) is text
            continue
        if kind in ("\\]", "\\)", "end"):
            i += 1  # a stray closer
            continue
        j = i + 1
        while j < n:
            t = toks[j]
            if (kind == "begin" and t[2] == "end" and t[3] == env) or \
                    (kind != "begin" and t[2] == _CLOSER[kind]):
                break
            if _opens(t, toks[i]):
                break
            j += 1
        if j < n and (t[2] == "end" or t[2] == _CLOSER.get(kind)):
            regions.append((start, end, t[0], t[1], env or kind))
            i = j + 1
            continue
        name = f"\\begin{{{env}}}" if kind == "begin" else kind
        broken.append((start, toks[j][0] if j < n else len(text), name,
                       lines.of(toks[j][0]) if j < n else None))
        i = j
    return regions, broken


def _fences(lines: list[str]) -> tuple[list, list[tuple]]:
    """Fenced code blocks: the math ones as math, the others reported when they hold an '='.
    Returns the lines blanked out and the items found."""
    items, masked, i = [], list(lines), 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info = m[1], m[2]
        closing = re.compile(r" {0,3}" + re.escape(fence[0]) + f"{{{len(fence)},}}\\s*")
        end = next((j for j in range(i + 1, len(lines)) if closing.fullmatch(lines[j])), None)
        inner = lines[i + 1:end if end is not None else len(lines)]
        label = f"{fence}{info}"
        if end is None:
            items.append(((i + 1, 0, 0), Broken(i + 1, _shown(lines[i]),
                                                f"{label} opened on line {i + 1} is never "
                                                "closed; nothing after it is read")))
        elif info == "math":
            items += _rows("\n".join(inner), i + 2, "math", -1)
        elif any("=" in x for x in inner):
            items.append(((i + 1, 0, 0), Skipped(i + 1, label, f"a code block (lines {i + 1}–"
                                                 f"{end + 1}) is not read; write math as "
                                                 "```math or $…$")))
        stop = end if end is not None else len(lines) - 1
        for j in range(i, stop + 1):
            masked[j] = " " * len(lines[j])
        i = stop + 1
    return masked, items


def _plain(lines: list[str]) -> list:
    found = []
    for i, raw in enumerate(lines, start=1):
        line = _strip_bullet(_strip_comment(raw)).strip()
        if line:
            found.append(Found.of(i, line))
    return found


def _is_math_document(lines: list[str]) -> bool:
    """Math outside comment lines (or a fenced block) makes a Markdown/LaTeX document."""
    body = [" " * len(x) if x.lstrip().startswith(("#", "%")) else x for x in lines]
    if any(_FENCE.match(x) for x in body):
        return True
    text = "\n".join(body)
    regions, broken = _scan(text, _Lines(text))
    return bool(regions or broken)


def read_document(text: str) -> list[Found | Skipped | Broken]:
    """Every equation of ``text`` and every line or piece of math not read, in order, each
    with its (1-based) line number."""
    lines = text.splitlines()
    if not _is_math_document(lines):
        return _plain(lines)
    masked, items = _fences(lines)
    masked = [" " * len(x) if x.lstrip().startswith("%") else x for x in masked]
    kept = "\n".join(masked)
    where = _Lines(kept)
    regions, broken = _scan(kept, where)
    spans = [(r[0], r[3]) for r in regions]
    for start, body, body_end, _end, env in regions:
        items += _rows(kept[body:body_end], where.of(body), env, start)
    reported = set()
    for start, stop, name, stop_line in broken:
        first = where.of(start)
        reported.add(first)
        rest = (f"the next math opens on line {stop_line}; nothing between is read"
                if stop_line else "nothing after it is read")
        opener = kept[start:kept.find("\n", start) if "\n" in kept[start:start + 4 * SHOWN]
                      else start + 4 * SHOWN]
        items.append(((first, start, 0), Broken(first, _shown(opener),
                                                f"{name} opened on line {first} is never "
                                                f"closed; {rest}")))
        spans.append((start, stop))
    items += _outside(lines, kept, where, sorted(spans), reported)
    return [item for _key, item in sorted(items, key=lambda x: x[0])]


def _outside(lines: list[str], kept: str, where: _Lines, spans: list, reported: set) -> list:
    """The lines outside math with an '=': plain equations, or prose to report."""
    out, s = [], 0
    for number, start in enumerate(where.starts, start=1):
        end = start + len(lines[number - 1]) if number <= len(lines) else start
        pieces, touched = [], False
        pos = start
        while s < len(spans) and spans[s][1] <= start:
            s += 1
        k = s
        while k < len(spans) and spans[k][0] < end:
            touched = True
            pieces.append(kept[pos:max(spans[k][0], pos)])
            pos = max(pos, spans[k][1])
            k += 1
        pieces.append(kept[pos:end] if pos < end else "")
        rest = "".join(pieces)
        if "`" in rest and len(rest) <= 10 * SHOWN:  # longer lines with ` are prose anyway
            rest = _CODE_SPAN.sub(" ", rest)
        rest = _strip_bullet(_strip_comment(rest)).strip()
        if "=" not in rest or number in reported:
            continue
        if touched or _DELIMITER.search(rest) or _is_prose(rest):
            out.append(((number, -1, 0), Skipped(number, _shown(lines[number - 1]),
                                                 "prose outside math; write it as $…$ to "
                                                 "check it")))
        else:
            out.append(((number, -1, 0), Found.of(number, " ".join(rest.split()))))
    return out


def find_equations(text: str) -> list[Found]:
    """Every equation in ``text``, in order, each with its (1-based) line number."""
    return [item for item in read_document(text) if isinstance(item, Found)]
