"""Draw the unrolled graph with Graphviz: one box per time step, a gradient's paths in colour.

Each edge runs from a parent to the node it feeds and carries its local partial
(∂z₁/∂b₁ = 1, ∂b₁/∂s₀ = w₁).  The edges on the paths from ``of`` down to the chosen
step copies are drawn in one colour per copy's step; an edge shared by several copies
carries all their colours side by side, and its ``class`` names the copies.

    >>> from bptt_sym.graph.build import unroll
    >>> from bptt_sym.notation import step_symbol
    >>> d = draw(unroll("doc", steps=2), wrt=["u"])
    >>> sorted(str(c) for c in d.highlighted[(step_symbol("s", 0), step_symbol("b", 1))])
    ['u_0']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import graphviz
import sympy as sp

from bptt_sym.derivation.sweep import relevant
from bptt_sym.errors import UsageError
from bptt_sym.graph.build import Graph
from bptt_sym.notation import Partial
from bptt_sym.printing.leibniz import leibniz

__all__ = ["PICTURE_FORMATS", "PALETTE", "MAX_DRAWN_STEPS", "Drawing", "draw", "notebook_svg",
           "picture_format"]

PICTURE_FORMATS = ("dot", "svg", "png")
# Colour-blind-safe (Okabe-Ito), then darker tones; step t uses PALETTE[t % len(PALETTE)].
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#8C564B", "#7F7F00", "#5D3A9B")
MAX_DRAWN_STEPS = 60
_INSTALL = ("install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
            "graphviz) or write .dot, which needs no program")
_SHAPES = {"parameter": dict(shape="box", style="filled", fillcolor="#FFF3C4"),
           "input": dict(shape="plaintext"), "target": dict(shape="plaintext"),
           "initial": dict(shape="ellipse", style="dashed")}

Sym = sp.Symbol
Edge = tuple[Sym, Sym]
_DX, _DY, _GAP = 1.25, 1.25, 0.5  # inches between columns, between layers, between steps


@dataclass(frozen=True)
class Drawing:
    """A graph drawing: its DOT ``source`` and the highlighted edges (parent, child),
    each with the step copies whose paths run through it."""

    source: str
    highlighted: Mapping[Edge, tuple[Sym, ...]]

    def render(self, fmt: str) -> bytes:
        """The drawing as ``dot`` (the source), ``svg`` or ``png`` (needs the dot program)."""
        if fmt == "dot":
            return self.source.encode()
        try:
            return graphviz.Source(self.source, engine="neato").pipe(format=fmt, quiet=True)
        except graphviz.ExecutableNotFound:
            raise UsageError(f"drawing .{fmt} needs the dot program, which is not installed; "
                             f"{_INSTALL}") from None

    def _repr_svg_(self) -> str | None:
        try:
            return self.render("svg").decode()
        except UsageError:
            return None  # Jupyter then falls back to the next representation


def notebook_svg(graph: Graph, *, wrt: Sequence[str] = ()) -> str | None:
    """The SVG of ``draw(graph, wrt=wrt)`` for Jupyter, or None when it cannot be drawn
    (no dot program, or too many steps)."""
    try:
        return draw(graph, wrt=wrt)._repr_svg_()
    except UsageError:
        return None


def picture_format(path: str, fmt: str | None = None) -> str:
    """The picture format: ``fmt`` if given, else from the suffix of ``path`` (dot for -)."""
    if fmt is not None:
        if fmt not in PICTURE_FORMATS:
            raise UsageError(f"unknown --format {fmt!r}; choose dot, svg or png")
        return fmt
    suffix = Path(path).suffix.lower().lstrip(".")
    if path == "-":
        return "dot"
    if suffix not in PICTURE_FORMATS:
        raise UsageError(f"cannot tell the format of {path!r} from its suffix "
                         f"{'.' + suffix if suffix else '(none)'!r}; name it .dot, .svg or "
                         ".png, or give --format")
    return suffix


def _paths_edges(graph: Graph, of: Sym, copy: Sym) -> set[Edge]:
    """Every edge on some path from ``copy`` up to ``of``."""
    rel = relevant(graph, of, (copy,))
    return {(p, n) for n in rel for p in graph.nodes[n].parents if p in rel}


def _label(graph: Graph, sym: Sym) -> str:
    return leibniz(sym, "unicode", depth=graph.steps)


def _later(graph: Graph, parent: Sym, child: Sym) -> bool:
    """An edge of the recurrence: from an earlier step's node into a later step."""
    a, b = graph.nodes[parent].step, graph.nodes[child].step
    return a is not None and b is not None and a < b


def _layers(graph: Graph) -> dict[Sym, int]:
    """The height of each name: one more than its parents in the same step; a leaf sits
    just below its first child, and a leaf that is a state (s_{-1}) with that state."""
    nodes, layer = graph.nodes, {}
    for n, node in nodes.items():
        if node.expr is not None:
            below = [layer[p] for p in node.parents
                     if nodes[p].expr is not None and not _later(graph, p, n)]
            layer[n] = 1 + max(below, default=0)
    first = {}
    for n in layer:
        first.setdefault(nodes[n].base, layer[n])
    top = max(layer.values(), default=1)
    for n, node in nodes.items():
        if node.expr is None:
            kids = [layer[c] for c in graph.children[n]]
            layer[n] = first.get(node.base, min(kids) - 1 if kids else top)
    return layer


def _boxes(graph: Graph) -> dict[str, list[Sym]]:
    """The names of each step, in step order, then those after the last step ("out");
    a leaf goes with its first child, the initial state before step 0."""
    def box(n: Sym) -> str:
        node = graph.nodes[n]
        if node.expr is None and node.kind != "initial" and graph.children[n]:
            return box(graph.children[n][0])
        return "out" if node.step is None else str(node.step)

    found: dict[str, list[Sym]] = {}
    for n in graph.nodes:
        found.setdefault(box(n), []).append(n)
    order = sorted((b for b in found if b != "out"), key=int) + ["out"] * ("out" in found)
    return {b: found[b] for b in order}


def _positions(graph: Graph) -> tuple[dict[Sym, tuple[float, float]], dict[str, float]]:
    """Inches: each step a band of columns, left to right; heights by layer."""
    layer, pos, centres, left = _layers(graph), {}, {}, 0.0
    order = {n: i for i, n in enumerate(graph.nodes)}

    def key(n: Sym) -> tuple[int, ...]:
        """Left to right: what the previous step feeds first, a leaf under its child."""
        node, kids = graph.nodes[n], graph.children[n]
        if node.expr is None and kids:
            return key(kids[0]) + (order[n],)
        return (0 if any(_later(graph, p, n) for p in node.parents) else 1, order[n])

    for box, members in _boxes(graph).items():
        rows: dict[int, list[Sym]] = {}
        for n in sorted(members, key=key):
            rows.setdefault(layer[n], []).append(n)
        wide = max(len(r) for r in rows.values())
        for h, row in rows.items():
            for i, n in enumerate(row):
                pos[n] = (left + (wide - len(row)) / 2 * _DX + i * _DX, h * _DY)
        centres[box] = left + (wide - 1) / 2 * _DX
        left += wide * _DX + _GAP
    return pos, centres


def draw(graph: Graph, *, wrt: Sequence[str] = (), of: str = "E") -> Drawing:
    """Draw ``graph``; the paths from ``of`` down to the copies of each ``wrt`` in colour.

    ``wrt`` names parameters (every copy) or nodes, as ``derive`` takes them.  A vector
    graph (elman) is drawn the same way, each edge labelled with its local Jacobian.
    """
    if graph.steps > MAX_DRAWN_STEPS:
        raise UsageError(f"graph draws at most {MAX_DRAWN_STEPS} steps (--steps "
                         f"{graph.steps}); a larger drawing is unreadable")
    (x,) = graph.resolve(of, option="--of")
    copies = [c for name in wrt for c in graph.resolve(name)]
    uses: dict[Edge, list[Sym]] = {}
    for c in dict.fromkeys(copies):
        for edge in sorted(_paths_edges(graph, x, c), key=str):
            uses.setdefault(edge, []).append(c)
    font = "DejaVu Sans"
    # layout=neato keeps the positions below when the .dot is drawn by `dot` too.
    dot = graphviz.Digraph(graph.spec.name, graph_attr=dict(
        layout="neato", splines="line", forcelabels="true", fontname=font,
        outputorder="edgesfirst"),
        node_attr=dict(fontname=font, width="0.5", height="0.4"),
        edge_attr=dict(fontname=font, fontsize="9", arrowsize="0.7"))
    pos, centres = _positions(graph)
    for box, centre in centres.items():
        title = "after the last step" if box == "out" else f"t = {box}"
        dot.node(f"title_{box}", title, shape="plaintext", fontcolor="#777777",
                 pos=f"{centre:.2f},{-_DY:.2f}!")
    on_path = {n for edge in uses for n in edge}
    for sym, node in graph.nodes.items():
        attrs = dict(_SHAPES.get(node.kind, {}))
        if sym in on_path:
            attrs["penwidth"] = "2"
        px, py = pos[sym]
        dot.node(str(sym), _label(graph, sym), pos=f"{px:.2f},{py:.2f}!", **attrs)
    for sym, node in graph.nodes.items():
        for p in node.parents:
            value = leibniz(graph.local[(sym, p)], "unicode", depth=graph.steps)
            label = f"{leibniz(Partial(sym, p), 'unicode')} = {value}"
            attrs = dict(xlabel=label, color="#AAAAAA", fontcolor="#666666")
            if (p, sym) in uses:
                on = uses[(p, sym)]
                attrs.update(color=":".join(_colour(graph, c) for c in on), penwidth="2",
                             fontcolor="#000000",
                             **{"class": "path " + " ".join(f"copy-{c}" for c in on)})
            dot.edge(str(p), str(sym), **attrs)
    return Drawing(dot.source, {e: tuple(cs) for e, cs in uses.items()})


def _colour(graph: Graph, copy: Sym) -> str:
    return PALETTE[(graph.nodes[copy].step or 0) % len(PALETTE)]
