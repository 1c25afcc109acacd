"""bptt-sym graph: the drawn paths are the paths derive prints; labels are the local partials.

The reference for the highlighted edges is the paths form of ``derive``: the chain
products of its "copy" equations (B2, B3 at T = 2), read factor by factor as edges.
The drawing's own answer is read back from what it writes (.dot text, .svg classes).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import sympy as sp

from bptt_sym import Partial, derive, unroll
from bptt_sym.cli.main import main
from bptt_sym.export.drawing import MAX_DRAWN_STEPS, PALETTE, draw

from .tools import bptt, need

Edges = dict[str, set[tuple[str, str]]]
_EDGE = re.compile(r'^\s*("?)(.+?)\1 -> ("?)(.+?)\3 \[(.*)\]$')


def path_edges(steps: int, wrt: str, **choices: str) -> Edges:
    """Step copy -> the edges (parent, child) of derive's chain products down to it."""
    g = unroll("doc", steps=steps, **choices)
    found: Edges = {}
    for e in derive(g, wrt=wrt, form="paths").equations:
        if e.kind != "copy":
            continue
        copy = str(e.lhs.den)
        for chain in sp.Add.make_args(e.rhs):
            for factor in sp.Mul.make_args(chain):
                assert isinstance(factor, Partial)
                found.setdefault(copy, set()).add((str(factor.den), str(factor.num)))
    return found


def dot_edges(source: str) -> tuple[Edges, dict[tuple[str, str], str]]:
    """From DOT text: copy -> its highlighted edges, and every edge's label."""
    by_copy: Edges = {}
    labels = {}
    for line in source.splitlines():
        m = _EDGE.match(line)
        if m is None:
            continue
        edge = (m[2], m[4])
        labels[edge] = re.search(r'xlabel="([^"]*)"', m[5])[1]
        cls = re.search(r'class="([^"]*)"', m[5])
        for word in (cls[1].split() if cls else []):
            if word.startswith("copy-"):
                by_copy.setdefault(word[5:], set()).add(edge)
    return by_copy, labels


def union(edges: Edges) -> set[tuple[str, str]]:
    return set().union(*edges.values()) if edges else set()


@pytest.mark.parametrize("steps", range(2, 7))
@pytest.mark.parametrize("wrt", ["u", "w", "k", "v"])
def test_highlighted_edges_are_the_paths_derive_prints(steps: int, wrt: str) -> None:
    expected = path_edges(steps, wrt)
    drawn, _ = dot_edges(draw(unroll("doc", steps=steps), wrt=[wrt]).source)
    assert union(drawn) == union(expected)
    assert drawn == expected  # and each copy's colour marks exactly its own paths


def test_a_node_target_and_the_command_line_agree_with_derive() -> None:
    r = bptt("graph", "--steps", "4", "--wrt", "s_1", "-o", "-")
    assert r.returncode == 0, r.stderr
    drawn, _ = dot_edges(r.stdout)
    assert union(drawn) == union(path_edges(4, "s_1"))
    r = bptt("graph", "--steps", "3", "--wrt", "u", "--activation", "tanh", "-o", "-",
             "--format", "dot")
    assert dot_edges(r.stdout)[0] == path_edges(3, "u", activation="tanh")


def test_the_paths_of_w_are_not_those_of_u() -> None:
    """A deliberately wrong reference is told apart: u's paths differ from w's."""
    drawn, _ = dot_edges(draw(unroll("doc", steps=3), wrt=["w"]).source)
    assert union(drawn) != union(path_edges(3, "u"))
    assert ("u_0", "a_0") not in union(drawn) and ("w_0", "b_0") in union(drawn)


def test_without_wrt_nothing_is_highlighted_and_every_edge_is_drawn() -> None:
    g = unroll("doc", steps=3)
    drawn, labels = dot_edges(draw(g).source)
    assert drawn == {}
    assert set(labels) == {(str(p), str(c)) for c, p in g.local}


def test_edges_carry_their_local_partials() -> None:
    """Labels, typed from the article's S1-S12 for T = 2: ∂z₁/∂b₁ = 1, ∂b₁/∂s₀ = w₁, …"""
    _, labels = dot_edges(draw(unroll("doc", steps=2)).source)
    assert labels[("b_1", "z_1")] == "∂z₁/∂b₁ = 1"
    assert labels[("s_0", "b_1")] == "∂b₁/∂s₀ = w₁"
    assert labels[("u_0", "a_0")] == "∂a₀/∂u₀ = x₀"
    assert labels[("x_0", "a_0")] == "∂a₀/∂x₀ = u₀"
    assert labels[("s_{-1}", "b_0")] == "∂b₀/∂s₋₁ = w₀"
    assert labels[("z_1", "s_1")] == "∂s₁/∂z₁ = f'(z₁)"
    assert labels[("s_1", "q")] == "∂q/∂s₁ = v₁"
    _, labels = dot_edges(draw(unroll("doc", steps=2, activation="tanh")).source)
    assert labels[("z_0", "s_0")] == "∂s₀/∂z₀ = 1 − s₀²"


def test_one_colour_per_step_copy() -> None:
    src = draw(unroll("doc", steps=3), wrt=["u"]).source
    line = next(x for x in src.splitlines() if x.strip().startswith("o -> E"))
    assert f'color="{PALETTE[0]}:{PALETTE[1]}:{PALETTE[2]}"' in line
    line = next(x for x in src.splitlines() if x.strip().startswith("u_1 -> a_1"))
    assert f'color="{PALETTE[1]}"' in line


def svg_edges(svg: str) -> Edges:
    found: Edges = {}
    for cls, title in re.findall(r'<g id="edge\d+" class="edge([^"]*)">\s*<title>([^<]*)</title>',
                                 svg):
        parent, child = html.unescape(title).split("->")
        for word in html.unescape(cls).split():
            if word.startswith("copy-"):
                found.setdefault(word[5:], set()).add((parent, child))
    return found


def test_svg_and_png_are_drawn_by_dot(tmp_path: Path) -> None:
    need("dot", "apt-get install graphviz")
    r = bptt("graph", "--model", "doc", "--steps", "3", "--wrt", "u", "-o", "graph.svg",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    svg = (tmp_path / "graph.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "∂b₁/∂s₀ = w₁" in svg
    assert svg_edges(svg) == path_edges(3, "u")
    r = bptt("graph", "--steps", "2", "-o", "g.png", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_jupyter_draws_graphs_and_drawings() -> None:
    need("dot", "apt-get install graphviz")
    g = unroll("doc", steps=2)
    assert "<svg" in g._repr_svg_()
    assert svg_edges(draw(g, wrt=["k"])._repr_svg_()) == path_edges(2, "k")


def test_without_dot_the_message_says_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    for name in ("g.svg", "g.png"):
        status = main(["graph", "--steps", "2", "--wrt", "u", "-o", str(tmp_path / name)])
        err = capsys.readouterr().err
        assert status == 2 and err.count("\n") == 1, err
        assert "needs the dot program" in err and "apt-get install graphviz" in err
    assert list(tmp_path.iterdir()) == []
    assert unroll("doc", steps=2)._repr_svg_() is None
    assert main(["graph", "--steps", "2", "-o", str(tmp_path / "g.dot")]) == 0
    assert (tmp_path / "g.dot").read_text(encoding="utf-8").startswith("digraph doc")


BAD = [
    (["-o", "g.jpg"], "cannot tell the format of 'g.jpg' from its suffix '.jpg'"),
    (["-o", "missing/g.svg"], "the directory 'missing' does not exist"),
    (["-o", "g.svg", "--format", "gif"], "invalid choice: 'gif'"),
    (["-o", "g.dot", "--wrt", "u_7"], "'u_7' is not a step copy of u"),
    (["-o", "g.dot", "--steps", str(MAX_DRAWN_STEPS + 1)], f"at most {MAX_DRAWN_STEPS} steps"),
    (["-o", "g.dot", "--model", "elman", "--wrt", "Q"], "unknown --wrt name 'Q'; choose a weight"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path: Path, args: list[str],
                                                   message: str) -> None:
    r = bptt("graph", "--steps", "2", *args, cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and message in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []
