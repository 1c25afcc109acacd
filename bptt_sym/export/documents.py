"""Whole derivations as documents: standalone LaTeX, Markdown with $$ blocks, Jupyter views.

A document holds the model's equations, the unrolled forward equations and, for each
parameter, every chosen form of its gradient.  Every side is printed by the Leibniz
LaTeX printer; :func:`bptt_sym.printing.layout.rows` breaks the long ones across align rows.

    >>> from bptt_sym.graph.build import unroll
    >>> g = unroll("doc", steps=2)
    >>> md = markdown(g, collect(g, wrt=["u"], forms=["factored"]))
    >>> md.splitlines()[0], md.count("tag{B5}")
    ('# Backpropagation through time: model doc, T = 2 steps', 1)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import sympy as sp

from bptt_sym.derivation.forms import DEFAULT_MAX_PATHS, Derivation, PathLimitError, derive
from bptt_sym.errors import UsageError
from bptt_sym.graph.build import Graph
from bptt_sym.model.line import function_arities
from bptt_sym.model.spec import ModelSpec
from bptt_sym.notation import Partial
from bptt_sym.printing.layout import rows
from bptt_sym.printing.leibniz import leibniz
from bptt_sym.syntax.equations import Ref, parse_equation
from bptt_sym.version import __version__

__all__ = ["DOCUMENT_FORMATS", "Skipped", "Display", "Part", "document_format", "collect",
           "latex", "markdown", "latex_document", "markdown_document", "document_title",
           "display"]

DOCUMENT_FORMATS = ("latex", "markdown")
_SUFFIXES = {".tex": "latex", ".md": "markdown", ".markdown": "markdown"}
PAGE_WIDTH = 37.0  # em of display math on an A4 page with 2 cm margins, less the tag
_TITLES = {"paths": "Paths: the chain rule along every path", "factored": "Factored form",
           "delta": "The delta recursion (BPTT)", "closed": "Closed form"}
_PLAIN = {"∂": "$\\partial$", "·": "$\\cdot$", "−": "-", "…": "\\dots{}", "→": "$\\to$",
          "≤": "$\\le$", "’": "'"}


@dataclass(frozen=True)
class Display:
    """One equation of a document, as LaTeX sides, with the note printed before it."""

    lhs: str
    rhs: str
    note: str = ""
    ref: str = ""
    numbered: bool = True


@dataclass(frozen=True)
class Skipped:
    """A form left out (paths: more paths than allowed; factored, closed: nested too deep
    to print at this T), and why."""

    of: str
    wrt: str
    reason: str
    form: str = "paths"

    def __str__(self) -> str:
        return f"{self.form} form of ∂{self.of}/∂{self.wrt} skipped: {self.reason}"


@dataclass(frozen=True)
class Part:
    """A (sub)section: a title and a paragraph (both may hold $…$ math), then equations."""

    title: str
    level: int
    text: str = ""
    displays: tuple[Display, ...] = ()


def document_format(path: str, fmt: str | None = None) -> str:
    """The document format: ``fmt`` if given, else from the suffix of ``path``."""
    if fmt is not None:
        if fmt not in DOCUMENT_FORMATS:
            raise UsageError(f"unknown --format {fmt!r}; choose latex or markdown")
        return fmt
    if path == "-":
        return "latex"
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise UsageError(f"cannot tell the format of {path!r} from its suffix "
                         f"{suffix or '(none)'!r}; name it .tex or .md, or give --format "
                         "latex or --format markdown")
    return _SUFFIXES[suffix]


def collect(graph: Graph, *, wrt: Sequence[str], forms: Sequence[str], of: str = "E",
            explicit: bool = False, max_paths: int = DEFAULT_MAX_PATHS,
            skip_long_paths: bool = False, skipped: list[Skipped] | None = None
            ) -> list[Derivation]:
    """Every (parameter, form) derivation, parameters outer; a paths form over
    ``max_paths`` is an error, or with ``skip_long_paths`` an entry of ``skipped``."""
    out = []
    for w in wrt:
        for form in forms:
            try:
                out.append(derive(graph, wrt=w, of=of, form=form, explicit=explicit,
                                  max_paths=max_paths))
            except PathLimitError as exc:
                if not skip_long_paths:
                    raise
                if skipped is not None:
                    skipped.append(Skipped(of, w, str(exc), form))
    return out


def _name(ref: Ref) -> sp.Symbol:
    """A model equation's reference as a symbol that prints as written: s_{t-1}, x_{t}."""
    if ref.var is None:
        return sp.Symbol(ref.base, commutative=False)
    shift = f"{ref.offset:+d}" if ref.var and ref.offset else ""
    return sp.Symbol(f"{ref.base}_{{{ref.var or ref.offset}{shift}}}", commutative=False)


def _as_written(spec: ModelSpec) -> dict[str, sp.FunctionClass]:
    """Every function a model equation may call stands for itself (f, g, L, tanh, …)."""
    return {name: sp.Function(name) for name in function_arities(spec.functions)}


def _model_part(graph: Graph) -> Part:
    spec = graph.spec
    shown = []
    for line in spec.cell + spec.head:
        t = parse_equation(line, functions=_as_written(spec), symbol=_name)
        shown.append(Display(leibniz(_name(t.lhs), "latex"), leibniz(t.rhs, "latex"),
                             numbered=False))
    chosen = ", ".join(f"{role} {name}" for role, name in graph.choices.items())
    return Part("The model", 1, f"Model {spec.heading}. The first {len(spec.cell)} "
                f"equations hold at every step $t$, the others after the last step $T-1$. "
                f"Parameters {', '.join(spec.parameters)}; here {chosen}.", tuple(shown))


def _forward_part(graph: Graph) -> Part:
    spec, depth = graph.spec, graph.steps
    shown = []
    for node in graph.nodes.values():
        if node.expr is not None:
            ref = spec.refs.get((node.base, node.step), "") \
                if graph.steps == spec.article_steps else ""
            shown.append(Display(leibniz(node.symbol, "latex"),
                                 leibniz(node.expr, "latex", depth=depth), ref=ref))
    return Part("The unrolled forward equations", 1,
                f"Steps $t = 0, \\dots, {graph.steps - 1}$; each step has its own copy of "
                "every shared parameter.", tuple(shown))


def _math(a: str, b: str) -> str:
    return leibniz(Partial(sp.Symbol(a), sp.Symbol(b)), "latex")


def _slashed(a: str, b: str) -> str:
    """∂a/∂b for a title, in a line of text: \\partial E/\\partial u."""
    return "\\partial {}/\\partial {}".format(*(leibniz(sp.Symbol(n), "latex") for n in (a, b)))


def _gradient_parts(derivations: Sequence[Derivation]) -> list[Part]:
    parts: list[Part] = []
    for d in derivations:
        title = f"The gradient ${_slashed(d.of, d.wrt)}$"
        if not parts or not any(p.title == title for p in parts):
            parts.append(Part(title, 1))
        depth = d.graph.steps
        shown = tuple(Display(leibniz(e.lhs, "latex", depth=depth),
                              leibniz(e.rhs, "latex", depth=depth), e.note, e.ref)
                      for e in d.equations)
        parts.append(Part(_TITLES.get(d.form, d.form), 2, "", shown))
    return parts


def _parts(graph: Graph, derivations: Sequence[Derivation],
           skipped: Sequence[Skipped]) -> list[Part]:
    parts = [_model_part(graph), _forward_part(graph), *_gradient_parts(derivations)]
    for s in skipped:
        parts.append(Part(f"Not shown: the {s.form} form of ${_slashed(s.of, s.wrt)}$", 1,
                          _sentence(s.reason)))
    return parts


def _tags(parts: Sequence[Part]) -> Iterator[tuple[Part, list[tuple[Display, str]]]]:
    """Each part with its displays and their tags: the article's number, else a count
    ("" for an unnumbered display)."""
    n = 0
    for part in parts:
        tagged = []
        for d in part.displays:
            n += bool(d.numbered and not d.ref)
            tagged.append((d, d.ref or (str(n) if d.numbered else "")))
        yield part, tagged


def document_title(model: str, steps: int) -> str:
    """The title of a document: the model and the number of steps."""
    return (f"Backpropagation through time: model {model}, "
            f"T = {steps} step{'s' if steps > 1 else ''}")


def _title(graph: Graph) -> str:
    return document_title(graph.spec.name, graph.steps)


def _latex_text(text: str) -> str:
    """Plain text for LaTeX: specials escaped, $…$ math kept as is."""
    out = []
    for i, chunk in enumerate(text.split("$")):
        if i % 2:
            out.append(f"${chunk}$")
            continue
        chunk = re.sub(r"([&%#_{}])", r"\\\1", chunk.replace("\\", "\\textbackslash "))
        chunk = "".join(_PLAIN.get(c, c if ord(c) < 128 else "?") for c in chunk)
        out.append(chunk.replace("~", "\\textasciitilde{}").replace("^", "\\^{}"))
    return "".join(out)


def _sentence(note: str, ref: str = "") -> str:
    note = note[:1].upper() + note[1:]
    return f"({ref}) {note}." if ref else f"{note}."


def latex(graph: Graph, derivations: Sequence[Derivation], *, skipped: Sequence[Skipped] = (),
          width: float = PAGE_WIDTH) -> str:
    """A standalone LaTeX document (article class, amsmath) of the whole derivation."""
    return latex_document(_title(graph), _parts(graph, derivations, skipped), width=width)


def latex_document(title: str, parts: Sequence[Part], *, width: float = PAGE_WIDTH) -> str:
    """A standalone LaTeX document of ``parts``, each equation in a numbered align row."""
    head = ["\\documentclass[11pt]{article}", "\\usepackage[a4paper,margin=2cm]{geometry}",
            "\\usepackage{amsmath}", "\\allowdisplaybreaks", "\\setlength{\\parindent}{0pt}",
            "\\setlength{\\parskip}{0.6ex}", f"\\title{{{_latex_text(title)}}}",
            f"\\author{{bptt-sym {__version__}}}", "\\date{}", "\\begin{document}",
            "\\maketitle"]
    body: list[str] = []
    for part, tagged in _tags(parts):
        body.append(f"\n\\{'sub' * (part.level - 1)}section*{{{_latex_text(part.title)}}}")
        if part.text:
            body.append(_latex_text(part.text))
        group: list[str] = []
        for d, tag in tagged:
            if d.note and group:
                body += _align(group)
                group = []
            if d.note:
                body.append(_latex_text(_sentence(d.note)))
            lines = rows(d.lhs, d.rhs, width=width)
            last = f"\\tag{{{tag}}}" if tag else "\\notag"
            group += [f"{line} \\notag" for line in lines[:-1]] + [f"{lines[-1]} {last}"]
        body += _align(group)
    return "\n".join(head + body + ["\\end{document}", ""])


def _align(lines: list[str]) -> list[str]:
    return ["\\begin{align}", " \\\\\n".join(lines), "\\end{align}"] if lines else []


def _markdown_text(text: str) -> str:
    """Plain text for Markdown: specials escaped, $…$ math kept as is."""
    return "".join(f"${chunk}$" if i % 2 else re.sub(r"([\\`*_\[\]<>|#])", r"\\\1", chunk)
                   for i, chunk in enumerate(text.split("$")))


def markdown(graph: Graph, derivations: Sequence[Derivation], *, skipped: Sequence[Skipped] = (),
             width: float = PAGE_WIDTH) -> str:
    """Markdown with $$ blocks for GitHub, MathJax and KaTeX: one per numbered equation
    (a display holds one tag), unnumbered equations together."""
    return markdown_document(_title(graph), _parts(graph, derivations, skipped), width=width)


def markdown_document(title: str, parts: Sequence[Part], *, width: float = PAGE_WIDTH) -> str:
    """Markdown of ``parts``: a $$ block per numbered equation, unnumbered ones together."""
    out = [f"# {_markdown_text(title)}", "", f"Written by bptt-sym {__version__}."]
    for part, tagged in _tags(parts):
        out += ["", f"{'#' * (part.level + 1)} {_markdown_text(part.title)}"]
        if part.text:
            out += ["", _markdown_text(part.text)]
        plain: list[str] = []
        for d, tag in tagged:
            if (tag or d.note) and plain:
                out += _block(plain, "")
                plain = []
            if d.note:
                out += ["", _markdown_text(_sentence(d.note))]
            if tag:
                out += _block(rows(d.lhs, d.rhs, width=width), tag)
            else:
                plain += rows(d.lhs, d.rhs, width=width)
        out += _block(plain, "") if plain else []
    return "\n".join(out) + "\n"


def _block(lines: list[str], tag: str) -> list[str]:
    """A $$ display of aligned rows, with its tag."""
    body = ["\\begin{aligned}", " \\\\\n".join(lines), "\\end{aligned}"]
    return ["", "$$", *body, *([f"\\tag{{{tag}}}"] if tag else []), "$$"]


def _math_text(text: str) -> str:
    return "\\text{" + re.sub(r"([&%#_{}$])", r"\\\1", text) + "}"


def display(d: Derivation, *, width: float = 40.0) -> str:
    """The whole derivation as one display block for Jupyter: a title row, each note
    as a text row, long equations broken across rows."""
    depth = d.graph.steps
    lines = [f"&{_math_text(d.form + ' form of ')} {_math(d.of, d.wrt)}"]
    for e in d.equations:
        if e.note or e.ref:
            lines.append(f"&{_math_text(_sentence(e.note, e.ref) if e.note else f'({e.ref})')}")
        lines += rows(leibniz(e.lhs, "latex", depth=depth), leibniz(e.rhs, "latex", depth=depth),
                      width=width)
    return "$$\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}$$"
