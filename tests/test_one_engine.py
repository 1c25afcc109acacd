"""One machinery for scalar and matrix models, seen from the Python API: one ``unroll``,
one ``derive`` (a forms registry that says which forms a graph serves), one reverse sweep.

The values are checked elsewhere against independent references (autograd, finite
differences, torch); here the API must agree with the command line, and the forms a graph
does not serve must be refused with one message."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import bptt_sym
from bptt_sym.derivation.registry import served
from bptt_sym.errors import UsageError
from bptt_sym.model.load import load_model
from tests.tools import bptt

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples" / "models"


def test_unroll_gives_a_matrix_graph_for_a_matrix_model() -> None:
    g = bptt_sym.unroll("elman", steps=3, sizes={"H": 5})
    assert g.spec.is_matrix and g.dims["H"] == 5 and g.steps == 3
    assert g.copies["W"][0].shape == (5, 5)
    assert bptt_sym.unroll("elman", steps=2, bias=True).copies.keys() >= {"b", "c"}


def test_sizes_of_a_scalar_model_are_refused() -> None:
    with pytest.raises(UsageError, match="sizes and bias apply to matrix models; doc is scalar"):
        bptt_sym.unroll("doc", steps=2, sizes={"H": 3})


@pytest.mark.parametrize("model, forms", [
    ("doc", ("paths", "factored", "delta", "closed")),
    ("elman", ("paths", "delta")),
    (str(EXAMPLES / "elman-last.toml"), ("delta",)),
    (str(EXAMPLES / "rnn-rows.toml"), ("paths", "delta")),
])
def test_the_registry_says_which_forms_a_graph_serves(model: str, forms: tuple) -> None:
    spec = load_model(model) if model.endswith(".toml") else model
    assert served(bptt_sym.unroll(spec, steps=2)) == forms


def test_a_form_a_matrix_graph_does_not_serve_is_one_message() -> None:
    g = bptt_sym.unroll("elman", steps=2)
    for form in ("factored", "closed"):
        with pytest.raises(UsageError, match=r"^elman has the forms paths, delta \(delta: the "
                           r"matrix δ recursion; paths: the per-output form V5\)$"):
            bptt_sym.derive(g, wrt="W", form=form)
    with pytest.raises(UsageError, match="unknown form 'sideways'; choose one of paths, "
                       "factored, delta, closed"):
        bptt_sym.derive(g, wrt="W", form="sideways")
    with pytest.raises(UsageError, match="--of for elman is the loss E only"):
        bptt_sym.derive(g, wrt="W", of="s_0")


@pytest.mark.parametrize("fmt", ["unicode", "ascii", "latex"])
@pytest.mark.parametrize("form", ["delta", "paths"])
def test_the_api_prints_what_the_command_line_prints(fmt: str, form: str) -> None:
    g = bptt_sym.unroll("elman", steps=3, sizes={"H": 2})
    text = "\n\n".join(bptt_sym.derive(g, wrt=w, form=form).text(fmt) for w in ("U", "W"))
    r = bptt("derive", "--model", "elman", "--steps", "3", "--hidden", "2", "--wrt", "U,W",
             "--form", form, "--format", fmt)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip("\n") == text


def test_the_default_form_is_what_the_graph_serves() -> None:
    assert bptt_sym.derive(bptt_sym.unroll("doc", steps=2), wrt="u").form == "factored"
    assert bptt_sym.derive(bptt_sym.unroll("elman", steps=2), wrt="U").form == "delta"


def test_a_matrix_derivation_is_a_derivation() -> None:
    """The same class, with the conditions (t < T-1) and the LaTeX notes of each step."""
    spec = load_model(EXAMPLES / "elman-last.toml")
    d = bptt_sym.derive(bptt_sym.unroll(spec, steps=3), wrt="W")
    assert isinstance(d, bptt_sym.Derivation)
    assert any(e.last == 2 for e in d.equations)
    assert ", t < 2" in d.text("unicode") and r",\quad t < 2" in d.text("latex")
    assert "$$\\begin{aligned}" in d._repr_latex_()


def test_the_scalar_delta_form_holds_by_sympy_diff() -> None:
    """The delta form of the one sweep, written out, equals SymPy's own diff of the loss
    written in the inputs and parameters (doc, T = 3, concrete functions)."""
    g = bptt_sym.unroll("doc", steps=3, activation="tanh", output="identity", loss="mse")
    d = bptt_sym.derive(g, wrt="w", form="delta")
    values: dict = {}
    for eq in d.equations[:-1]:
        values[eq.lhs] = eq.rhs
    grad = d.equations[-1].rhs
    for _ in range(len(values) + 1):  # each δ in the ones after it
        grad = grad.xreplace(values)
    grad = bptt_sym.evaluate_partials(g, grad)
    defs: dict = {}
    for n, node in g.nodes.items():
        if node.kind == "parameter":
            defs[n] = sp.Symbol(node.parameter)
        elif node.expr is not None:
            defs[n] = node.expr.xreplace(defs)
    explicit = grad.xreplace(defs)
    for _ in range(3):
        explicit = explicit.xreplace(defs)
    want = sp.diff(defs[g.loss], sp.Symbol("w"))
    rng = np.random.default_rng(3)
    free = sorted(want.free_symbols | explicit.free_symbols, key=str)
    for _ in range(5):
        point = {s: sp.Rational(int(rng.integers(-90, 90)), 100) for s in free}
        assert abs(sp.N(explicit.xreplace(point) - want.xreplace(point), 40)) < 1e-30


def test_there_is_one_reverse_loop() -> None:
    """The derivation stage walks the graph backwards in one place: sweep.backward."""
    loops = []
    for path in (ROOT / "bptt_sym" / "derivation").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and \
                    getattr(node.iter.func, "id", "") == "reversed" and \
                    "nodes" in ast.unparse(node.iter):
                fn = next(f.name for f in ast.walk(ast.parse(path.read_text()))
                          if isinstance(f, ast.FunctionDef) and f.lineno <= node.lineno
                          <= f.end_lineno)
                loops.append((path.name, fn))
    assert sorted(loops) == [("sweep.py", "backward"), ("sweep.py", "relevant")]


def _activations() -> list:
    from bptt_sym.rules.functions import RULES

    return [r for (role, _), r in RULES.items() if role == "activation" and r.explicit]


def test_every_backend_has_every_activation_of_the_rule_table() -> None:
    """The NumPy and SymPy evaluator and the Arb truth take their activations from the rule
    table; each agrees with SymPy's own value of the function, and the truth's derivative
    (a dual number) with SymPy's diff of it."""
    from flint import fmpq

    from bptt_sym.check.truth_matrix import SCALAR_FUNCS, Dual
    from bptt_sym.numeric.matrix import NUMPY, SYMPY

    z = sp.Symbol("z")
    for r in _activations():
        for x in (sp.Rational(-7, 5), sp.Rational(3, 10), sp.Rational(9, 4)):
            want = r.explicit(z)
            value = float(sp.N(want.subs(z, x), 30))
            slope = float(sp.N(sp.diff(want, z).subs(z, x), 30))
            assert NUMPY.funcs[r.name](np.array([[float(x)]]))[0, 0] == pytest.approx(value,
                                                                                   rel=1e-15)
            assert sp.simplify(SYMPY.funcs[r.name](x) - want.subs(z, x)) == 0
            got = SCALAR_FUNCS[r.name](Dual(fmpq(int(x.p), int(x.q)), fmpq(1)))
            got_v = got.v if isinstance(got, Dual) else got
            got_d = got.d if isinstance(got, Dual) else 1
            assert float(got_v) == pytest.approx(value, rel=1e-15)
            assert float(got_d) == pytest.approx(slope, rel=1e-15)


MATRIX_FILES = sorted([*EXAMPLES.glob("*.toml"), *(ROOT / "tests/corpus/models").glob("*.toml")])


def _at_step(expr: sp.Basic, k: int) -> sp.Basic:
    """A template in t read at step k: x_t -> x_k, δ_{t+1} -> δ_{k+1}."""
    import re

    from bptt_sym.notation import step_symbol

    subs = {}
    for s in expr.atoms(sp.MatrixSymbol):
        m = re.fullmatch(r"(.+?)_(?:t|\{t([+-]\d+)\})", s.name)
        if m:
            subs[s] = sp.MatrixSymbol(str(step_symbol(m[1], k + int(m[2] or 0))), *s.shape)
    return expr.xreplace(subs)


@pytest.mark.parametrize("path", ["elman", *(str(p) for p in MATRIX_FILES)],
                         ids=lambda p: Path(p).stem)
def test_the_delta_recursion_in_t_is_every_unrolled_step(path: str) -> None:
    """The general δ_t line of a matrix derivation, read at each step k < T - 1, has the
    value of the unrolled δ_k (at random matrices): a template read off one step must hold
    at all of them (a model without a kept adjoint once printed step T-2's expansion)."""
    from bptt_sym.numeric.matrix import NUMPY, compile_expr

    spec = path if path == "elman" else load_model(path)
    try:
        g = bptt_sym.unroll(spec, steps=4)
    except UsageError:
        pytest.skip("not a matrix model")
    if not g.spec.is_matrix:
        pytest.skip("a scalar model")
    rng = np.random.default_rng(0)
    for w in g.copies:
        d = bptt_sym.derive(g, wrt=w, form="delta")
        general = [e for e in d.equations if e.kind == "delta" and e.last is None and
                   any(s.name.endswith("_t") for s in e.lhs.atoms(sp.MatrixSymbol))]
        unrolled = {e.lhs.name: e.rhs for e in d.equations[len(general):] if e.kind == "delta"}
        for eq in general:
            for k in range(g.steps - 1):
                lhs, rhs = _at_step(eq.lhs, k), _at_step(eq.rhs, k)
                if lhs.name not in unrolled:
                    continue
                env = {s.name: rng.normal(size=s.shape) for e in (rhs, unrolled[lhs.name])
                       for s in e.atoms(sp.MatrixSymbol)}
                env |= {s.name: float(rng.normal()) for e in (rhs, unrolled[lhs.name])
                        for s in e.atoms(sp.Symbol)}
                a = compile_expr(rhs, NUMPY)(env)
                b = compile_expr(unrolled[lhs.name], NUMPY)(env)
                assert np.allclose(a, b, rtol=1e-12, atol=1e-12), (w, str(eq.lhs), k)
        _gradient_is_the_sum_of_its_terms(g, d, rng)


def _gradient_is_the_sum_of_its_terms(g, d, rng) -> None:  # noqa: ANN001
    """∂E/∂W = Σ_t term_t: the term read at every step k and added up is the unrolled
    gradient (δ past the last step and a zero initial state are 0)."""
    import re

    from bptt_sym.derivation.matrix import StepSum
    from bptt_sym.numeric.matrix import NUMPY, compile_expr

    template = [e for e in d.equations if e.kind == "gradient" and isinstance(e.rhs, StepSum)]
    if not template:
        return
    term = template[0].rhs.args[0]
    whole = [e for e in d.equations if e.kind == "gradient"][-1].rhs
    parts = [_at_step(term, k) for k in range(g.steps)]
    kept = set(g.spec.adjoints.values())
    zero = {s for s, v in g.spec.initial.items() if v == "zero"}
    env: dict = {}
    for e in (*parts, whole):
        for s in e.atoms(sp.MatrixSymbol):
            m = re.fullmatch(r"(.+?)_\{?(-?\d+)\}?", s.name)
            late = m is not None and int(m[2]) >= g.steps and m[1] in kept
            early = m is not None and int(m[2]) < 0 and m[1] in zero
            env.setdefault(s.name, np.zeros(s.shape) if late or early else
                           rng.normal(size=s.shape))
    total = sum(compile_expr(p, NUMPY)(env) for p in parts)
    assert np.allclose(total, compile_expr(whole, NUMPY)(env), rtol=1e-12, atol=1e-12), \
        (d.wrt, str(term))


def test_softmax_of_an_expression_is_one_line_at_its_column(tmp_path: Path) -> None:
    """softmax of a product has no Jacobian rule of its own: the model file says where."""
    text = (EXAMPLES / "rnn-rows.toml").read_text(encoding="utf-8")
    model = tmp_path / "m.toml"
    model.write_text(text.replace('"h_t = f(a_t)"', '"h_t = softmax(a_t W_h)"'),
                     encoding="utf-8")
    r = bptt("derive", "--model", str(model), "--steps", "2", "--form", "delta")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.stderr
    assert "softmax takes a name, not a_t W_h: define it on a line of its own" in r.stderr
    assert f"{model}:" in r.stderr
