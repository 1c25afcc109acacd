"""Derivations of ∂X/∂Y in the article's four forms: paths, factored, delta, closed.

    >>> from bptt_sym.graph.build import unroll
    >>> d = derive(unroll("doc", steps=2), wrt="u", form="factored")
    >>> print(d.text("ascii").splitlines()[-1])
    dE/du = dE/do * do/dq * v_1 * ds_1/dz_1 * (x_1 + w_1 * ds_0/dz_0 * x_0)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from bptt_sym.derivation.sweep import backward, fold, local_factor, plus, relevant, tangent
from bptt_sym.errors import UsageError
from bptt_sym.graph.build import Graph
from bptt_sym.notation import Partial

__all__ = ["FORMS", "Equation", "Derivation", "derive", "DEFAULT_MAX_PATHS", "MAX_PRODUCT_WORK",
           "MAX_PATH_FACTORS"]

FORMS = ("paths", "factored", "delta", "closed")
DEFAULT_MAX_PATHS = 256
MAX_PATH_FACTORS = 1_000_000  # the paths form's chains, all together
MAX_PRINTED_NODES = 250_000  # nodes of one printed right side, each shared part counted
# as often as it prints (about 1.5 MB of text; doc at T = 10000 needs 110,004)
MAX_PRODUCT_WORK = 3_200_000  # factors copied while a long chain product is built (~15 s)
Sym = sp.Symbol


@dataclass(frozen=True)
class Equation:
    """``lhs = rhs``; ``kind`` says what the equation is, ``ref`` its number in the article."""

    lhs: sp.Expr
    rhs: sp.Expr
    kind: str = ""
    note: str = ""
    ref: str = ""
    math_note: str = ""  # the note with $…$ LaTeX math, where it differs from ``note``
    last: int | None = None  # the equation holds for t < last only
    relation: str = "="  # ≈: the right side approximates the left (a truncated gradient)

    def condition(self, fmt: str) -> str:
        """``, t < 2`` after an equation that holds before the last step only."""
        if self.last is None:
            return ""
        return f",\\quad t < {self.last}" if fmt == "latex" else f", t < {self.last}"


@dataclass(frozen=True)
class Derivation:
    """One form of ∂of/∂wrt: a sequence of equations, printable in every format."""

    of: str
    wrt: str
    form: str
    equations: tuple[Equation, ...]
    graph: Graph = field(repr=False, compare=False)
    title: str = ""  # the header, where it is not "∂of/∂wrt, form"

    def text(self, fmt: str = "unicode") -> str:
        """The derivation as text: a ``#`` header, then one equation a line."""
        from bptt_sym.printing.leibniz import render_derivation

        return render_derivation(self, fmt)

    def _repr_latex_(self) -> str:
        """Jupyter: the whole derivation, notes and long equations broken into rows."""
        from bptt_sym.export.documents import display

        return display(self)


class PathLimitError(UsageError):
    """The form would be too large to build or print: more paths than allowed, or (any
    form but delta) a chain product too long."""


def _product_work(graph: Graph, x: Sym, targets: tuple[Sym, ...], keep_ones: bool) -> int:
    """How many factors the forward sweep copies: along a chain without branches (∂E/∂s_0)
    each node's product is rebuilt one factor longer, so the work is quadratic in its
    length; a sum restarts it.  Counted without building anything."""
    rel = relevant(graph, x, targets)
    length = {t: 0 for t in targets}
    work = 0
    for n in graph.nodes:
        if n not in rel or n in length:
            continue
        parents = [p for p in graph.nodes[n].parents if p in rel]
        if len(parents) == 1:
            one = not keep_ones and graph.local.get((n, parents[0])) == 1
            length[n] = length[parents[0]] + (0 if one else 1)
            work += length[n]
        else:
            length[n] = 1
            work += len(parents)
    return work


def _check_product(graph: Graph, x: Sym, targets: tuple[Sym, ...], name: Sym,
                   form: str) -> None:
    work = _product_work(graph, x, targets, keep_ones=form == "paths")
    if work > MAX_PRODUCT_WORK:
        raise PathLimitError(f"--form {form} of ∂{x}/∂{name} at --steps {graph.steps} is a "
                             f"chain product that takes {work:,} steps to build (time "
                             f"quadratic in its length; the limit is {MAX_PRODUCT_WORK:,}); use "
                             "--form delta, or a node nearer the loss")


def printed_nodes(expr: sp.Expr, limit: int) -> int:
    """The nodes of ``expr`` as printed: a subexpression shared by several parents counts
    once per parent (the printers write it out each time).  Stops counting past ``limit``.
    One pass over the distinct subexpressions, with no recursion."""
    size: dict[sp.Basic, int] = {}
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        e, done = stack.pop()
        if e in size:
            continue
        if done:
            size[e] = min(limit + 1, 1 + sum(size[a] for a in e.args))
        else:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in size)
    return size[expr]


def _check_printed(graph: Graph, x: Sym, name: Sym, form: str, rhs: sp.Expr) -> None:
    n = printed_nodes(rhs, MAX_PRINTED_NODES)
    if n > MAX_PRINTED_NODES:
        raise PathLimitError(f"--form {form} of ∂{x}/∂{name} at --steps {graph.steps} would "
                             f"print more than {MAX_PRINTED_NODES:,} terms: the cell's paths "
                             "branch at every step, so the nested forms grow exponentially "
                             "with T; use --form delta, whose size grows linearly")


def _target(graph: Graph, wrt: str, of: str) -> tuple[Sym, tuple[Sym, ...], Sym]:
    (x,) = graph.resolve(of, option="--of") if of not in graph.copies else (None,)
    if x is None:
        raise UsageError(f"--of {of!r} is a shared parameter; --of takes one node such as "
                         "E, o, s_1")
    targets = graph.resolve(wrt)
    name = sp.Symbol(wrt) if wrt in graph.copies else targets[0]
    return x, targets, name


def _refs(graph: Graph, of: Sym, form_kind: str, lhs_name: str) -> str:
    spec = graph.spec
    if graph.steps != spec.article_steps or not graph.abstract or of != graph.loss:
        return ""
    return spec.backward_refs.get((form_kind, lhs_name), "")


def _eq(graph: Graph, x: Sym, lhs: sp.Expr, rhs: sp.Expr, kind: str, note: str) -> Equation:
    name = str(lhs.den) if isinstance(lhs, Partial) else str(lhs)
    return Equation(lhs, rhs, kind, note, _refs(graph, x, kind, name))


def _step_of(graph: Graph, s: Sym) -> int:
    return graph.nodes[s].step or 0


def _paths(graph: Graph, x: Sym, targets: tuple[Sym, ...], max_paths: int) -> list[list[Sym]]:
    rel = relevant(graph, x, targets)
    count = {t: 1 for t in targets}
    size = {t: 1 for t in targets}  # the nodes of all the paths from here, together
    for n in graph.nodes:
        if n in rel and n not in count:
            count[n] = sum(count[p] for p in graph.nodes[n].parents if p in rel)
            size[n] = sum(size[p] + count[p] for p in graph.nodes[n].parents if p in rel)
    n_paths = count.get(x, 0)
    if n_paths > max_paths:
        raise PathLimitError(f"--form paths would print {n_paths} paths at --steps {graph.steps} "
                             f"(limit {max_paths}, set by --max-paths); use --form delta, whose "
                             "size grows linearly (or factored)")
    if size.get(x, 0) > MAX_PATH_FACTORS:
        raise PathLimitError(f"--form paths would print {size[x]:,} factors at --steps "
                             f"{graph.steps} (limit {MAX_PATH_FACTORS:,}); use --form delta, "
                             "whose size grows linearly (or factored)")
    ends = set(targets)
    paths: list[list[Sym]] = []
    stack: list[list[Sym]] = [[x]] if x in rel else []
    while stack:
        path = stack.pop()
        if path[-1] in ends:
            paths.append(path)
            continue
        nxt = [p for p in graph.nodes[path[-1]].parents if p in rel]
        stack.extend(path + [p] for p in reversed(nxt))
    return paths


def _chain(path: list[Sym], graph: Graph | None = None) -> sp.Expr:
    """The product of ∂a/∂b along ``path``.  With ``graph``, the path is one of edges: an
    edge whose total derivative is not its local partial is written by its value."""
    factors = [Partial(a, b) if graph is None or graph.single_path(a, b) else
               graph.local[(a, b)] for a, b in zip(path, path[1:])]
    return factors[0] if len(factors) == 1 else sp.Mul(*factors, evaluate=False)


def _paths_form(graph: Graph, x: Sym, targets: tuple[Sym, ...], name: Sym,
                max_paths: int) -> list[Equation]:
    paths = _paths(graph, x, targets, max_paths)
    copies = sorted({p[-1] for p in paths}, key=lambda s: -_step_of(graph, s))
    lhs = Partial(x, name)
    eqs = []
    if len(targets) > 1 or name not in graph.nodes:
        eqs.append(_eq(graph, x, lhs, plus([Partial(x, c) for c in copies]), "sum",
                       "a shared parameter's gradient is the sum over its step copies"))
    for c in copies:
        chains = [_chain(p, graph) for p in paths if p[-1] == c]
        where = "down to this step copy" if name not in graph.nodes else ""
        eqs.append(_eq(graph, x, Partial(x, c), plus(chains), "copy",
                       f"the chain rule along each path {where}".rstrip()))
    keys = {n for n in graph.nodes if graph.nodes[n].base in graph.spec.keys} | {x, *targets}
    coarse: list[list[Sym]] = []
    for c in copies:
        for p in paths:
            short = [n for n in p if n in keys]
            if p[-1] == c and short not in coarse:
                coarse.append(short)
    if coarse and any(len(c) < len(p) for c, p in zip(coarse, paths)) and \
            coarse != [[x, *targets]] and _separated(graph, coarse, keys):
        eqs.append(_eq(graph, x, lhs, plus([_chain(c) for c in coarse]), "state",
                       "the same paths through the states only (total derivatives between them)"))
    known = tangent(graph, x, targets, local_factor(graph, symbolic=True), keep_ones=True)
    eqs.append(_eq(graph, x, lhs, known, "substituted",
                   "known local partials substituted, common factors pulled out"))
    said = [e for e in eqs if e.rhs != e.lhs]  # a direct edge: ∂E/∂y = ∂E/∂y says nothing
    return said or eqs[-1:]


def _separated(graph: Graph, chains: list[list[Sym]], keys: set[Sym]) -> bool:
    """True when each link a → b of the chains through the keys has no other key between
    a and b.  Then a chain's product of total derivatives is the sum over exactly the paths
    that meet its keys, and the chains together count each path once.  (A loss at every
    step reaches h_0 both directly and through h_1: ∂E/∂h_0 would count h_1's paths twice.)"""
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            if (relevant(graph, a, [b]) & keys) - {a, b}:
                return False
    return True


def _kept(graph: Graph, n: Sym, x: Sym) -> bool:
    node = graph.nodes[n]
    if n == x or node.nonlinear or node.base in graph.spec.states:
        return True
    return any(graph.nodes[c].nonlinear for c in graph.children[n])


def _delta_form(graph: Graph, x: Sym, targets: tuple[Sym, ...], name: Sym) -> list[Equation]:
    """The delta recursion: the one reverse sweep with each edge's local partial.

    A node's adjoint is its list of chains (the factors from a kept node, or from ``x``,
    down to it): a node that is not kept passes each chain on, so the kept ones read
    ∂x/∂n = Σ ∂x/∂c · (local partials from c down to n), as the article writes B7-B8."""
    rel = relevant(graph, x, targets)
    factor = local_factor(graph, symbolic=True)
    position = {n: {c: i for i, c in enumerate(graph.children[n])} for n in rel}
    sweep = backward(
        graph, x, [()],
        send=lambda n, chains: [(p, [c + (factor(n, p),) for c in chains])
                                for p in graph.nodes[n].parents if p in rel],
        join=lambda n, parts: [c for part in parts for c in part],
        keep=lambda n: [(Partial(x, n),)] if _kept(graph, n, x) else None,
        order=lambda child, n: position[n][child],
        ends=targets)
    eqs = [Equation(Partial(x, n), rhs, "delta") for n, _, chains in sweep.kept
           if (rhs := plus([fold(c) for c in chains])) != Partial(x, n)]
    ordered = sorted(targets, key=lambda s: -_step_of(graph, s))
    rhs = plus([plus([fold(c) for c in sweep.adjoint[t]]) for t in ordered
                if t in sweep.adjoint])
    note = ("the gradient from the adjoints, summed over step copies" if len(targets) > 1
            else "the gradient from the adjoints")
    eqs.append(Equation(Partial(x, name), rhs, "gradient", note))
    return eqs


def _small(expr: sp.Expr, limit: int = 30) -> bool:
    """True for a short expression that is not a sum (a local value, not a whole tangent)."""
    if isinstance(expr, sp.Add):
        return False
    for count, _ in enumerate(sp.preorder_traversal(expr)):
        if count > limit:
            return False
    return True


def _merge_neighbours(expr: sp.Expr) -> sp.Expr:
    """Cancel adjacent factors that simplify together ((o - y)/(o(1 - o)) · o(1 - o))."""
    if not isinstance(expr, sp.Mul):
        return expr
    args = list(expr.args)
    i = 0
    while i + 1 < len(args):
        a, b = args[i], args[i + 1]
        if _small(a) and _small(b):
            merged = sp.cancel(sp.Mul(a, b))
            if sp.count_ops(merged) < sp.count_ops(a) + sp.count_ops(b) + 1:
                args[i: i + 2] = [merged]
                continue
        i += 1
    return args[0] if len(args) == 1 else sp.Mul(*args, evaluate=False)


def _explicit(graph: Graph, expr: sp.Expr) -> sp.Expr:
    """``expr`` with every node replaced by its definition, copies by the shared parameter."""
    defs: dict[Sym, sp.Expr] = {}
    for n, node in graph.nodes.items():
        if node.kind == "parameter":
            defs[n] = sp.Symbol(node.parameter)
        elif node.expr is not None:
            defs[n] = node.expr.xreplace(defs)
    return expr.xreplace(defs)


def derive(graph: Graph, *, wrt: str, of: str | None = None, form: str = "factored",
           explicit: bool = False, max_paths: int = DEFAULT_MAX_PATHS) -> Derivation:
    """Derive ∂of/∂wrt in one of ``FORMS``; ``wrt`` is a parameter (all copies) or a node,
    ``of`` a node (default: the model's loss).

    >>> from bptt_sym.graph.build import unroll
    >>> print(derive(unroll("doc", steps=1), wrt="k", form="closed").text("ascii"))
    # dE/dk, closed
    # every local derivative replaced by its value (in node values)
    dE/dk = L'(o) * g'(q) * v_0 * f'(z_0)
    """
    if form not in FORMS:
        raise UsageError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")
    x, targets, name = _target(graph, wrt, of or graph.spec.loss)
    if form != "delta":
        _check_product(graph, x, targets, name, form)
    if form == "paths":
        eqs = _paths_form(graph, x, targets, name, max_paths)
    elif form == "delta":
        eqs = _delta_form(graph, x, targets, name)
    else:
        symbolic = form == "factored"
        rhs = tangent(graph, x, targets, local_factor(graph, symbolic=symbolic))
        if not symbolic:
            rhs = _merge_neighbours(rhs)
            if explicit:
                rhs = _explicit(graph, rhs)
        note = ("local partials with known values substituted" if symbolic else
                "every local derivative replaced by its value"
                + (" (in inputs and parameters)" if explicit else " (in node values)"))
        eqs = [_eq(graph, x, Partial(x, name), rhs, form, note)]
    if form != "delta":
        for eq in eqs:
            _check_printed(graph, x, name, form, eq.rhs)
    return Derivation(str(x), str(name), form, tuple(eqs), graph)
