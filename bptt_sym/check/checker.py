"""Check hand derivations: each equation holds, fails (with why) or is invalid.

    >>> [v.verdict for v in check("dE/du = dE/du_1 + dE/du_0\\nds1/dz1 = 1 - s1",
    ...                           activation="tanh")]
    ['holds', 'fails']
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from bptt_sym.budget import OutOfTime, budget
from bptt_sym.check.decide import Undefined
from bptt_sym.check.explain import Diagnosis
from bptt_sym.check.judge import POINTS, Judge, judge_sides
from bptt_sym.errors import BpttError, UsageError
from bptt_sym.graph.build import Graph, unroll
from bptt_sym.graph.resolve import InvalidFormula, to_sympy
from bptt_sym.model.registry import model_spec
from bptt_sym.model.spec import ModelSpec
from bptt_sym.syntax.document import Broken, Skipped, read_document
from bptt_sym.syntax.formula import Chain, Deriv, ParseError, Ref, named, parse
from bptt_sym.syntax.nodes import rebuild
from bptt_sym.syntax.steps import free_steps, free_tau, renumber, substitute
from bptt_sym.syntax.text import show

__all__ = ["Verdict", "Judge", "check", "check_graph", "judge_lines", "summary", "POINTS",
           "OutOfTime"]

DECIDE_SECONDS = 10.0
TOTAL_SECONDS = 300.0  # the whole check (judge_lines): then every equation left is undecided


VERDICTS = ("holds", "fails", "undecided", "invalid", "skipped")
VERDICT_COLOURS = {"holds": "green", "fails": "crimson", "undecided": "darkgoldenrod",
                   "invalid": "darkorange", "skipped": "gray"}


@dataclass(frozen=True)
class Verdict:
    """What the checker says of one equation (one line of the input): ``holds``, ``fails``,
    ``undecided``, ``invalid``, or ``skipped`` for a line or piece of math not read as an
    equation (the message says why)."""

    line: int
    source: str
    verdict: str
    message: str
    diagnosis: tuple[Diagnosis, ...] = ()
    counterexample: Mapping[str, float | str] | None = None
    method: str = ""
    column: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"line": self.line, "source": self.source, "verdict": self.verdict,
                "message": self.message, "diagnosis": [d.text for d in self.diagnosis],
                "diagnosis_kinds": [d.kind for d in self.diagnosis],
                "counterexample": dict(self.counterexample) if self.counterexample else None,
                "method": self.method or None, "column": self.column}

    def text(self) -> str:
        if self.verdict == "skipped":  # one line: what was not read, and why
            return f"line {self.line}: skipped: {self.source}  ({self.message})"
        head = f"line {self.line}: {self.verdict}: {self.source}"
        lines = [head, f"  {self.message}"] if self.message else [head]
        lines += [f"  why: {d.text}" for d in self.diagnosis]
        if self.counterexample:
            items, left_out = _few(self.counterexample)
            shown = ", ".join(f"{k} = {v:.17g}" if isinstance(v, float) else f"{k} = {v}"
                              for k, v in items)
            more = f" (and {left_out} more inputs; --json lists them all)" if left_out else ""
            lines.append(f"  counterexample: {shown}{more}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = VERDICT_COLOURS.get(self.verdict, "black")
        from html import escape

        body = escape(self.text()).replace("\n", "<br>")
        return f'<div style="font-family:monospace"><b style="color:{colour}">' \
               f"{self.verdict}</b> {body}</div>"


def _few(values: Mapping[str, float | str], per_name: int = 2) -> tuple[list, int]:
    """The values a reader needs at long T: every one without a step, and the first
    ``per_name`` of each stepped name (x_0, x_1 of x_0 … x_99), with how many are left out;
    all of them when there are a few (16 or fewer)."""
    if len(values) <= 16:
        return list(values.items()), 0
    seen: dict[str, int] = {}
    items, left_out = [], 0
    for key, value in values.items():
        base, sep, step = key.partition("_")
        stepped = sep and step.strip("{}").lstrip("-").isdigit()
        if stepped:
            seen[base] = seen.get(base, 0) + 1
            if seen[base] > per_name:
                left_out += 1
                continue
        items.append((key, value))
    return items, left_out


def _invalid(line: int, source: str, message: str, column: int | None = None) -> Verdict:
    return Verdict(line, source, "invalid", message, column=column or None)


def _loss_steps(chain: Chain, adjoints: Mapping[str, tuple[str, str]]) -> Chain:
    """δ_2^{(3)} (WildML's notation: the adjoint at step 2 of the loss of step 3) as
    ∂E_3/∂z_2, for a named adjoint δ of z; on any other name the two indices are an error."""
    def visit(n: object) -> object | None:
        if not (isinstance(n, Ref) and n.loss is not None):
            return None
        if n.base not in adjoints:
            written = f"{show(Ref(n.base, n.index, 0))}^({show(Ref('x', n.loss, 0))[2:]})"
            raise InvalidFormula(f"{written} has two step indices: read only on a named "
                                 "adjoint of the model (δ_2^{(3)} = ∂E_3/∂z_2); write it in "
                                 "the model's names", n.column)
        node, loss = adjoints[n.base]
        return Deriv(Ref(loss, n.loss, n.column), Ref(node, n.index, n.column))
    return rebuild(chain, visit)


def judge_lines(text: str, decide: Callable[[Chain], tuple], *, seconds: float,
                total_seconds: float = TOTAL_SECONDS,
                on_verdict: Callable[[Verdict], None] | None = None,
                names: Collection[str] = (), first: int = 0,
                parameters: Sequence[str] = (),
                adjoints: Mapping[str, tuple[str, str]] | None = None) -> list[Verdict]:
    """Parse each equation of ``text`` and ``decide`` it within ``seconds``; every failure
    to read an equation is its ``invalid`` verdict, never an exception.  What the document
    holds besides equations is ``skipped`` (a delimiter never closed is ``invalid``).  An
    equation not decided within ``seconds``, and every equation once the whole check has
    spent ``total_seconds`` (wall-clock), is ``undecided``: reported, never dropped.
    ``names``: the model's names, so that ``W_x`` is the name W_x (:func:`named`);
    ``first``: the number the document gives the first step (:func:`renumber`);
    ``parameters``: what θ stands for, each in turn, where the model has no θ;
    ``adjoints``: each named adjoint's node and the loss (δ: (z, E)), so that δ_2^{(3)} reads
    ∂E_3/∂z_2."""
    verdicts = []
    defined: dict[str, tuple[Ref, object]] = {}  # names that "… =: J_t" gave, for what follows
    started = time.monotonic()
    for found in read_document(text):
        if isinstance(found, (Skipped, Broken)):
            verdict = Verdict(found.line, found.text, "skipped", found.reason) \
                if isinstance(found, Skipped) else _invalid(found.line, found.text, found.reason)
            verdicts.append(verdict)
            if on_verdict:
                on_verdict(verdict)
            continue
        left = total_seconds - (time.monotonic() - started)
        left_for_this = max(min(seconds, left), 1e-3)
        try:
            if left <= 0:
                raise OutOfTime
            chain = _loss_steps(named(parse(found.text), names), adjoints or {})
            chain = _defined(chain, defined, names)
            if len(chain.sides) < 2:  # J_t := …, no equation besides
                name, body = chain.defines[0], chain.sides[chain.defines[1]]
                verdict = Verdict(found.line, found.text, "skipped", f"a definition: "
                                  f"{show(name)} stands for {show(body)} in what follows")
                verdicts.append(verdict)
                if on_verdict:
                    on_verdict(verdict)
                continue
            chain = renumber(free_tau(chain), first)
            with budget(left_for_this, OutOfTime):
                verdict = Verdict(found.line, found.text, *(
                    _each_parameter(chain, decide, parameters) if "θ" not in names else
                    decide(chain)))
            if chain.defines is not None:
                name, body = chain.defines[0], chain.sides[chain.defines[1]]
                verdict = dataclasses.replace(verdict, message=f"{show(name)} stands for "
                                              f"{show(body)} (a definition); {verdict.message}")
            if found.note:
                verdict = dataclasses.replace(verdict, message=f"{verdict.message}; {found.note}")
            if verdict.verdict == "holds" and isinstance(chain.sides[0], Ref) and \
                    chain.sides[0].base in names:  # s_t = tanh(z_t) in a document
                verdict = dataclasses.replace(verdict, message="the model's own equation: "
                                              + verdict.message)
        except ParseError as exc:
            verdict = _invalid(found.line, found.text, f"syntax error at {exc}", exc.column)
        except Undefined as exc:
            verdict = _invalid(found.line, found.text, str(exc))
        except OutOfTime:
            if left_for_this < seconds:  # the whole check's time is spent (or was, before it began)
                message = f"not checked: the check's time limit of {total_seconds:g} s was reached"
            else:
                message = f"not decided: deciding this formula took more than {seconds:g} s; " \
                          "split it"
            verdict = Verdict(found.line, found.text, "undecided", message, method="undecided")
        except InvalidFormula as exc:
            verdict = _invalid(found.line, found.text, str(exc), exc.column)
        except SystemError:  # a time budget that fired inside a C extension (mpmath, gmpy)
            verdict = Verdict(found.line, found.text, "undecided", "not decided: the time "
                              f"budget of {left_for_this:g} s ran out", method="undecided")
        except OverflowError:
            verdict = _invalid(found.line, found.text, "cannot check this formula: a number "
                               "in it is too large to work with")
        except (BpttError, ZeroDivisionError, ValueError, TypeError, RecursionError) as exc:
            verdict = _invalid(found.line, found.text, f"cannot check this formula: {exc}")
        verdicts.append(verdict)
        if on_verdict:
            on_verdict(verdict)
    return verdicts


def _defined(chain: Chain, defined: dict[str, tuple[Ref, object]],
             names: Collection[str]) -> Chain:
    """``chain`` with the names earlier lines defined put in, its own definition (``… =:
    J_t``, ``J_t := …``) added to ``defined``; a name the model has is its equation."""
    chain = dataclasses.replace(chain, sides=substitute(chain.sides, defined))
    if chain.defines is None:
        return chain
    name, i = chain.defines
    if name.base in names:  # s_t := tanh(z_t): the model's own name, checked as an equation
        sides = (name, *chain.sides) if i == 0 else (*chain.sides, name)
        return dataclasses.replace(chain, sides=sides, defines=None)
    defined[name.base] = (name, chain.sides[i])
    return chain


def _each_parameter(chain: Chain, decide: Callable[[Chain], tuple],
                    parameters: Sequence[str]) -> tuple:
    """``decide`` of ``chain``, where θ (Pascanu's "any parameter") stands for each
    parameter in turn: it holds when it holds for every one, else the first that does not
    hold is reported."""
    thetas: list[Ref] = []
    rebuild(chain, lambda n: thetas.append(n) if isinstance(n, Ref) and n.base == "θ" else None)
    if not thetas:
        return decide(chain)
    if not parameters:
        raise InvalidFormula("θ stands for a parameter, and this model has none")
    results = []
    for p in parameters:
        each = rebuild(chain, lambda n, p=p: dataclasses.replace(n, base=p)
                       if isinstance(n, Ref) and n.base == "θ" else None)
        try:
            results.append((p, decide(each)))
        except InvalidFormula as exc:
            raise InvalidFormula(f"θ = {p}: {exc}", exc.column) from None
    for kind in ("fails", "undecided"):
        for p, (verdict, message, *rest) in results:
            if verdict == kind:
                return (verdict, f"θ = {p}: {message}", *rest)
    verdict, message, *rest = results[0][1]
    return (verdict, f"for every parameter θ = {', '.join(parameters)}: {message}", *rest)


def check_graph(text: str, graph: Graph, *, seed: int = 0,
                on_verdict: Callable[[Verdict], None] | None = None,
                first: int = 0) -> list[Verdict]:
    """Check every equation of ``text`` against ``graph``; see :func:`check`."""
    judge = Judge(graph, seed)

    def decide(chain: Chain) -> tuple:
        if chain.condition is not None:
            raise InvalidFormula("a condition such as k ≤ t is for formulas with free step "
                                 "indices (--model elman); write the steps out here")
        free = sorted(free_steps(chain.sides))
        if not free:
            return judge_sides(judge, [to_sympy(s, graph) for s in chain.sides])
        if len(free) > 1:
            raise InvalidFormula(f"the indices {' and '.join(free)} are not bound; a formula "
                                 "may have one free step index (it is checked at every step)")
        return _every_step(judge, chain, graph, free[0], first)

    return judge_lines(text, decide, seconds=DECIDE_SECONDS, on_verdict=on_verdict,
                       names=graph.spec.names, first=first, parameters=graph.spec.parameters,
                       adjoints={a: (z, graph.spec.loss) for z, a in graph.spec.adjoints.items()})


def _every_step(judge: Judge, chain: Chain, graph: Graph, var: str, first: int) -> tuple:
    """A formula in a free step index (h_t = f(x_t, h_{t-1}, w)) judged at every step where
    all its names exist: fails at a step where it fails, holds when it holds at all of them,
    else undecided.  The steps are named as the document counts them (from ``first``), and
    the steps left out are said."""
    steps, left_out, result, undecided = [], [], None, None
    for k in range(graph.steps):
        try:
            sides = [to_sympy(side, graph, {var: k}) for side in chain.sides]
        except InvalidFormula as exc:
            if any(why in str(exc) for why in ("out of range", "not a step copy",
                                                "is an initial, not a node")):
                left_out.append(k + first)  # x_{t+1} at the last step, ∂h_{t-1}/∂w at the first
                continue
            raise
        result = judge_sides(judge, sides)
        if result[0] == "fails":
            verdict, message, *rest = result
            return (verdict, f"{message} ({var} = {k + first})", *rest)
        if result[0] != "holds":
            undecided = undecided or (result, k + first)
            continue
        steps.append(k)
    if undecided:
        (verdict, message, *rest), k = undecided
        return (verdict, f"{message} ({var} = {k})", *rest)
    if not steps:
        raise InvalidFormula(f"no step {var} = {first}..{graph.steps - 1 + first} has every "
                             "name of this formula; use more --steps")
    verdict, message, *rest = result
    lo, hi = steps[0] + first, steps[-1] + first
    where = f"{var} = {lo}" if lo == hi else f"{var} = {lo}..{hi}"
    if left_out:
        where += f"; {var} = {', '.join(map(str, left_out))} left out: a name of the formula " \
                 "does not exist there"
    return (verdict, f"{message[:-1]}, {where})" if message.endswith(")") else
            f"{message} ({where})", *rest)


def check(text: str, *, model: str | ModelSpec = "doc", steps: int = 2, activation: str = "f",
          output: str = "g", loss: str = "L", seed: int = 0, bias: bool = False,
          first: int = 0, layout: str = "numerator", partials: str = "total") -> list[Verdict]:
    """Check each equation of a document (plain text, Markdown or LaTeX) for ``model`` (a
    built-in name or a spec); a matrix model reads matrix formulas
    (:mod:`bptt_sym.check.matrix`).  ``first``: the number the document gives the first
    step (1 for d2l's h_1 … h_T); the model's steps are 0 … T-1.  ``layout``: what ∂a/∂b of
    two vectors means in matrix formulas, the Jacobian (numerator) or its transpose
    (denominator, as d2l writes it); ``partials``: ∂h_t/∂W through every copy of W (total)
    or through W's copy at step t (local, d2l's ∂h_t/∂W_hx = x_tᵀ)."""
    if layout not in ("numerator", "denominator") or partials not in ("total", "local"):
        raise UsageError(f"layout must be numerator or denominator (got {layout!r}) and "
                         f"partials total or local (got {partials!r})")
    spec = model_spec(model) if isinstance(model, str) else model
    if spec.is_matrix:
        from bptt_sym.check.matrix import check_matrix

        return check_matrix(text, spec=spec, steps=steps, bias=bias, seed=seed, first=first,
                            layout=layout, partials=partials,
                            activation="tanh" if activation == "f" else activation)
    graph = unroll(model, steps=steps, activation=activation, output=output, loss=loss)
    return check_graph(text, graph, seed=seed, first=first)


def summary(verdicts: list[Verdict]) -> dict[str, int]:
    """How many of each verdict, every kind always present (holds, fails, undecided, invalid,
    skipped)."""
    return {k: sum(v.verdict == k for v in verdicts) for k in VERDICTS}
