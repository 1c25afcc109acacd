"""bptt-sym graph --model elman: every node of the unrolled vector graph is drawn, and the
highlighted edges are exactly those on the paths from the weight copies up to E.

The reference paths are enumerated here, one by one, from the node *expressions* of the
unrolled graph (their free symbols), not from the drawing's parents, children or sweep.
The drawing's answer is read back from what it writes (.dot text, .svg classes).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sympy as sp

from bptt_sym.export.drawing import MAX_DRAWN_STEPS, draw
from bptt_sym.graph.build import Graph
from bptt_sym.graph.matrix import unroll_vector

from .test_drawing import Edges, dot_edges, svg_edges, union
from .tools import assert_one_line_error, bptt, need


def expected_edges(g: Graph, wrt: str) -> Edges:
    """Step copy -> every edge (parent, child) of every path from the copy up to E."""
    inputs = {str(n): {str(a) for a in node.expr.free_symbols}
              for n, node in g.nodes.items() if node.expr is not None}

    def paths(node: str, copy: str) -> list[list[str]]:
        """Every path copy -> … -> node, as a list of names."""
        if node == copy:
            return [[copy]]
        return [p + [node] for a in inputs.get(node, ()) for p in paths(a, copy)]

    found: Edges = {}
    for c in g.copies[wrt]:
        for path in paths("E", str(c)):
            found.setdefault(str(c), set()).update(zip(path, path[1:]))
    return found


@pytest.mark.parametrize("steps", range(1, 6))
@pytest.mark.parametrize("wrt", ["U", "W", "V", "b", "c"])
def test_highlighted_edges_are_the_paths_to_e(steps: int, wrt: str) -> None:
    g = unroll_vector(steps=steps, hidden=3, inputs=2, classes=3, bias=True)
    expected = expected_edges(g, wrt)
    drawn, _ = dot_edges(draw(g, wrt=[wrt]).source)
    assert drawn == expected  # each copy's colour marks exactly its own paths
    assert len(expected) == steps


def test_the_paths_of_w_at_t_2_typed_from_v1_v4() -> None:
    chain = {("l_{t}", "yhat_{t}"), ("yhat_{t}", "E_{t}"), ("E_{t}", "E"), ("s_{t}", "l_{t}"),
             ("z_{t}", "s_{t}")}

    def at(t: int) -> set[tuple[str, str]]:
        return {(a.replace("{t}", str(t)), b.replace("{t}", str(t))) for a, b in chain}

    expected = {"W_1": {("W_1", "z_1")} | at(1),
                "W_0": {("W_0", "z_0"), ("s_0", "z_1")} | at(0) | at(1)}
    drawn, _ = dot_edges(draw(unroll_vector(steps=2), wrt=["W"]).source)
    assert drawn == expected


def test_the_paths_of_v_are_not_those_of_w() -> None:
    """A deliberately wrong reference is told apart: V's paths never reach z or s_{t-1}."""
    g = unroll_vector(steps=3)
    drawn, _ = dot_edges(draw(g, wrt=["V"]).source)
    assert union(drawn) != union(expected_edges(g, "W"))
    assert not any(b.startswith("z_") for _, b in union(drawn))
    assert ("V_2", "l_2") in union(drawn) and ("s_1", "z_2") not in union(drawn)


def test_every_node_is_drawn_and_edges_carry_their_jacobians() -> None:
    g = unroll_vector(steps=2, hidden=4, inputs=3, classes=3)
    src = draw(g).source
    names = ["s_{-1}", "E"] + [f"{b}_{t}" for t in range(2)
                               for b in ("z", "s", "l", "yhat", "E", "U", "W", "V", "x", "y")]
    for n in names:
        assert f'\t"{n}" [' in src or f"\t{n} [" in src, n
    drawn, labels = dot_edges(src)
    assert drawn == {}
    assert set(labels) == {(str(p), str(n)) for n, node in g.nodes.items()
                           for p in node.parents}
    # typed from V1-V4: the Jacobian of each edge
    assert labels[("s_0", "z_1")] == "∂z₁/∂s₀ = W₁"
    assert labels[("x_1", "z_1")] == "∂z₁/∂x₁ = U₁"
    assert labels[("z_0", "s_0")] == "∂s₀/∂z₀ = diag(1 − s₀ ⊙ s₀)"
    assert labels[("l_0", "yhat_0")] == "∂ŷ₀/∂l₀ = diag(ŷ₀) − ŷ₀ ŷ₀ᵀ"
    assert labels[("yhat_1", "E_1")] == "∂E₁/∂ŷ₁ = −y₁ᵀ diag(ŷ₁)⁻¹"
    assert labels[("W_1", "z_1")] == "∂z₁/∂W₁ = s₀ᵀ ⊗ I"
    assert labels[("E_0", "E")] == "∂E/∂E₀ = 1"


def test_a_node_and_a_step_copy_as_wrt() -> None:
    g = unroll_vector(steps=3)
    drawn, _ = dot_edges(draw(g, wrt=["W_1"]).source)
    assert drawn == {"W_1": expected_edges(g, "W")["W_1"]}
    drawn, _ = dot_edges(draw(g, wrt=["s_0"], of="E_1").source)
    assert union(drawn) == {("s_0", "z_1"), ("z_1", "s_1"), ("s_1", "l_1"), ("l_1", "yhat_1"),
                            ("yhat_1", "E_1")}


def test_svg_is_drawn_by_dot_with_the_same_paths(tmp_path: Path) -> None:
    need("dot", "apt-get install graphviz")
    r = bptt("graph", "--model", "elman", "--steps", "3", "--wrt", "W", "-o", "g.svg",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "∂z₁/∂s₀ = W₁" in svg
    assert svg_edges(svg) == expected_edges(unroll_vector(steps=3), "W")


BAD = [
    (["--wrt", "Q"], "unknown --wrt name 'Q'; choose a weight (U, W, V)"),
    (["--wrt", "W_7"], "'W_7' is not a step copy of W; its copies are W_0, W_1"),
    (["--wrt", "s_9"], "'s_9' is out of range: with --steps 2 the steps are 0..1"),
    (["--of", "nope"], "unknown --of node 'nope'"),
    (["--steps", str(MAX_DRAWN_STEPS + 1)], f"at most {MAX_DRAWN_STEPS} steps"),
    (["--loss", "bce"], "matrix model elman writes its output and loss"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path: Path, args: list[str],
                                                   message: str) -> None:
    r = bptt("graph", "--model", "elman", "--steps", "2", "-o", "g.dot", *args, cwd=tmp_path)
    assert_one_line_error(r, message, tmp_path)


def test_free_symbols_see_through_the_vector_functions() -> None:
    """The reference reads parents from free symbols: they reach inside f, softmax, xent."""
    g = unroll_vector(steps=1)
    node = next(n for n in g.nodes.values() if n.base == "E" and n.step == 0)
    assert {str(a) for a in node.expr.free_symbols} == {"yhat_0", "y_0"}
    assert isinstance(next(iter(node.expr.free_symbols)), sp.MatrixSymbol)
