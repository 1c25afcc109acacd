"""Resolve a parsed formula against the unrolled graph: names to symbols, ∂X/∂Y to
``Partial``, functions to the model's rules.  Anything unknown is an :class:`InvalidFormula`
naming what is wrong and what is known.

    >>> from bptt_sym.graph.build import unroll
    >>> from bptt_sym.syntax.formula import parse
    >>> g = unroll("doc", steps=2)
    >>> lhs, rhs = (to_sympy(s, g) for s in parse("ds_1/dz_1 = f'(z1)").sides)
    >>> lhs, rhs
    (ds_1/dz_1, f'(z_1))
"""

from __future__ import annotations

from collections.abc import Mapping

import sympy as sp

from bptt_sym.errors import BpttError
from bptt_sym.graph.build import Graph
from bptt_sym.notation import Partial, step_symbol
from bptt_sym.rules.functions import (
    ABSTRACT,
    AbstractFunction,
    abstract_class,
    function_class,
    partial_class,
    rule,
)
from bptt_sym.syntax import formula as _formula
from bptt_sym.syntax.formula import PRODUCTS, Call, Deriv, Num, Op, Prod, Ref, Sum
from bptt_sym.syntax.steps import index_value

__all__ = ["InvalidFormula", "to_sympy", "MAX_SUM_TERMS"]

MAX_SUM_TERMS = 10_000
_CONCRETE = {"tanh": ("activation", "tanh"), "sigmoid": ("activation", "sigmoid"),
             "σ": ("activation", "sigmoid"), "sigma": ("activation", "sigmoid"),
             "relu": ("activation", "relu")}
MAX_EXPONENT = 1000  # 10^-100 is an ordinary perturbation; x^1000 still evaluates fast
_ROLE_OF = {"f": "activation", "g": "output", "L": "loss", "φ": "activation"}  # φ: d2l's


class InvalidFormula(BpttError):
    """A formula that parses but does not name things of this model correctly."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.column = column


def _known(graph: Graph) -> str:
    bases = sorted({n.base for n in graph.nodes.values() if n.step is not None})
    plain = sorted(str(s) for s, n in graph.nodes.items() if n.step is None)
    last = graph.steps - 1
    return (f"known: {', '.join(b + '_t' for b in bases)} (t = 0..{last}, s_{{-1}}), "
            f"{', '.join(plain)}, the parameters {', '.join(graph.copies)}, and the "
            f"functions {', '.join([*_abstract(graph)] or ['f', 'g', 'L'])}, tanh, sigmoid, "
            "relu, exp, log")


def _step(ref: Ref, env: Mapping[str, int], steps: int | None = None) -> int | None:
    if ref.index is None:
        return None
    if ref.index[0] == "abs":
        return ref.index[1]
    if ref.index[0] == "lin":  # o_{T+t-i}: T is the number of steps
        for var, _ in ref.index[1]:
            if var not in env and not (var == "T" and steps is not None):
                raise InvalidFormula(f"the index {var} of {ref.base} is not bound; write a "
                                     f"sum over {var} (Σ_{var} …) or a step number", ref.column)
        return index_value(ref.index, lambda v: env[v] if v in env else steps)
    _, var, off = ref.index
    if var == "T" and var not in env and steps is not None:  # s_{T-1}: the last step
        return steps + off
    if var not in env:
        raise InvalidFormula(f"the index {var} of {ref.base}_{var} is not bound; write a sum "
                             f"over {var} (Σ_{var} …) or a step number", ref.column)
    return env[var] + off


def _symbol(ref: Ref, graph: Graph, env: Mapping[str, int]) -> sp.Expr:
    if getattr(ref, "entry", ()):
        raise InvalidFormula(f"{ref.written or ref.base}: an index of one entry is for the "
                             "vectors and matrices of a matrix model; every name of this model "
                             "is one number", ref.column)
    if ref.base == "T" and ref.index is None and sp.Symbol("T") not in graph.nodes:
        return sp.Integer(graph.steps)  # the number of steps (1/T Σ_t …)
    step = _step(ref, env, graph.steps)
    base = graph.spec.loss if ref.base == "L" and step is None else ref.base
    if base in graph.copies and step is None:
        return sp.Symbol(base)
    sym = step_symbol(base, step)
    if sym in graph.nodes:
        return sym
    if base in graph.copies:
        copies = ", ".join(str(c) for c in graph.copies[base])
        raise InvalidFormula(f"{sym} is not a step copy of {base} with --steps {graph.steps}; "
                             f"its copies are {copies}", ref.column)
    if step is not None and any(n.base == base and n.step is not None
                                for n in graph.nodes.values()):
        raise InvalidFormula(f"{sym} is out of range: with --steps {graph.steps} the steps "
                             f"are 0..{graph.steps - 1} (and -1 for the initial state)"
                             + ("; the last step is T-1 (steps counted from 1, h_1 … h_T, "
                                "need --first 1)"
                                if step == graph.steps else ""), ref.column)
    raise InvalidFormula(f"unknown symbol {sym}; {_known(graph)}", ref.column)


def _abstract(graph: Graph) -> dict[str, int]:
    """The model's abstract functions (``functions = { f = "abstract" }``) and their
    numbers of arguments, as its equations call them."""
    key = "abstract arities"
    if key not in graph._single:
        found: dict[str, int] = {}
        for node in graph.nodes.values():
            for a in node.expr.atoms(AbstractFunction) if node.expr is not None else ():
                found.setdefault(type(a).abstract_name, type(a).arity)
        names = (k for k, v in graph.spec.functions.items() if v == ABSTRACT)
        graph._single[key] = {k: found.get(k, 0) for k in names}
    return graph._single[key]


def _abstract_call(node: Call, graph: Graph, args: list[sp.Expr], slot: int = 0) -> sp.Expr:
    """``f(a1, …, an)`` of an abstract function, or its partial by argument ``slot``."""
    n = _abstract(graph)[node.name]
    if n and len(args) != n:
        raise InvalidFormula(f"{node.name} takes {n} argument{'s' * (n > 1)} in model "
                             f"{graph.spec.name}, got {len(args)}", node.column)
    if node.prime:
        if len(args) != 1:
            raise InvalidFormula(f"{node.name}' is for a function of one argument; write the "
                                 f"partial by the i-th argument as D_i {node.name}(…) (or "
                                 f"∂{node.name}(…)/∂x)", node.column)
        slot = 1
    if slot > len(args):
        raise InvalidFormula(f"{node.name} has {len(args)} arguments; there is no argument "
                             f"{slot}", node.column)
    if slot:
        return partial_class(node.name, len(args), slot)(*args)
    return abstract_class(node.name, len(args))(*args)


def _juxt(node: Op, graph: Graph, env: Mapping[str, int]) -> sp.Expr | None:
    """``D_i f(…)`` (the partial of abstract f by its i-th argument) and ``l(o)`` (a call of
    an abstract function of one argument whose name the grammar reads as a product)."""
    left, right = node.args
    abstract = _abstract(graph)
    if isinstance(left, Ref) and left.base == "D" and left.index and left.index[0] == "abs" \
            and isinstance(right, Call) and right.name in abstract and not right.prime:
        args = [to_sympy(a, graph, env) for a in right.args]
        if left.index[1] < 1:
            raise InvalidFormula(f"D_{left.index[1]} {right.name}: arguments are numbered "
                                 "from 1", left.column)
        return _abstract_call(right, graph, args, left.index[1])
    if isinstance(left, Ref) and left.index is None and left.base in abstract and \
            step_symbol(left.base, None) not in graph.nodes:
        call = Call(left.base, False, (right,), left.column)
        return _abstract_call(call, graph, [to_sympy(right, graph, env)])
    return None


def _deriv_call(node: object, graph: Graph, env: Mapping[str, int]) -> sp.Expr:
    """``∂f(a1, …, an)/∂x`` (a ``DerivCall``): the partial of abstract f by the argument
    that is x (a shared parameter matches its step copies), which no other one holds; when x
    is no argument and f(a1, …, an) is a node's definition, that node's total ∂n/∂x."""
    call, den_ref = node.call, node.den
    if call.name not in _abstract(graph):
        raise InvalidFormula(f"∂{call.name}(…)/∂{den_ref.base}: {call.name} is not an abstract "
                             f"function of model {graph.spec.name}; {_known(graph)}",
                             call.column)
    args = [to_sympy(a, graph, env) for a in call.args]
    named = [i for i, a in enumerate(call.args, 1) if isinstance(a, Ref) and a.index is not None
             and a.base == den_ref.base]
    if den_ref.index is None and len(named) == 1 and \
            den_ref.base not in {str(p) for p in graph.copies}:
        return _abstract_call(call, graph, args, named[0])  # ∂_h f(x_t, h_{t-1}, w): by h_{t-1}
    den = _symbol(den_ref, graph, env)
    base = {c: p for p, cs in graph.copies.items() for c in cs}

    def same(a: sp.Expr) -> bool:
        return a == den or (a.is_Symbol and base.get(a, a) == base.get(den, den) and
                            (str(a) in graph.copies or str(den) in graph.copies))
    slots = [i for i, a in enumerate(args, 1) if same(a)]
    if not slots:  # ∂l(y_t, o_t)/∂w_h: x is no argument; the total derivative of that node
        value = _call(call, graph, args)
        nodes = [n for n, nd in graph.nodes.items() if nd.expr is not None and nd.expr == value]
        if len(nodes) == 1:
            return Partial(nodes[0], den)
    if len(slots) != 1 or any(den in a.free_symbols for i, a in enumerate(args, 1)
                              if i != slots[0]):
        why = "is not one of its arguments" if not slots else "is in more than one argument"
        raise InvalidFormula(f"∂{call.name}(…)/∂{den}: {den} {why}; write the partial by the "
                             f"i-th argument as D_i {call.name}(…)", den_ref.column)
    return _abstract_call(call, graph, args, slots[0])


def _call(node: Call, graph: Graph, args: list[sp.Expr]) -> sp.Expr:
    if node.name in _abstract(graph):
        return _abstract_call(node, graph, args, getattr(node, "slot", 0))
    if getattr(node, "slot", 0):
        raise InvalidFormula(f"∂ᵢ{node.name}(…) is for abstract functions of several "
                             f"arguments; {_known(graph)}", node.column)
    if node.name in ("exp", "log") and not node.prime and len(args) == 1:
        return getattr(sp, node.name)(args[0])
    if node.name == "step" and not node.prime and len(args) == 1:
        return sp.Heaviside(args[0], sp.S.Zero)
    if node.name in _ROLE_OF:
        role = _ROLE_OF[node.name]
        r = rule(role, graph.choices[role])
    elif node.name in _CONCRETE:
        r = rule(*_CONCRETE[node.name])
    else:
        raise InvalidFormula(f"unknown function {node.name}; {_known(graph)}", node.column)
    y = sp.Symbol("y")
    if node.name == "L" and len(args) == 2 and args[1] == y:  # L(o, y), as `models` writes it
        args = args[:1]
    if len(args) != 1:
        raise InvalidFormula(one_argument(node.name, len(args)), node.column)
    full = [args[0], y][: r.arity]
    applied = function_class(r)(*full)
    return r.derivative(*full, out=applied) if node.prime else applied


def to_sympy(node: object, graph: Graph, env: Mapping[str, int] | None = None) -> sp.Expr:
    """The SymPy expression of one side of a formula, in the graph's symbols."""
    env = env or {}
    if isinstance(node, Num):
        return sp.Rational(node.value)
    if isinstance(node, Ref):
        return _symbol(node, graph, env)
    if isinstance(node, Deriv):
        num = _symbol(node.num, graph, env)
        den = _symbol(node.den, graph, env)
        if num in graph.nodes and graph.nodes[num].kind != "node":
            kind = graph.nodes[num].kind
            raise InvalidFormula(f"∂{num}/∂{den}: {num} is {'an' if kind[0] in 'aeiou' else 'a'}"
                                 f" {kind}, not a node; derivatives are taken of nodes "
                                 "(a_t, b_t, z_t, s_t, q, o, E)", node.num.column)
        if num not in graph.nodes:
            raise InvalidFormula(f"∂{num}/∂{den}: {num} is a shared parameter, not a node",
                                 node.num.column)
        return Partial(num, den)
    if isinstance(node, Call):
        return _call(node, graph, [to_sympy(a, graph, env) for a in node.args])
    if type(node) is getattr(_formula, "DerivCall", None):  # ∂f(a1, …, an)/∂x
        return _deriv_call(node, graph, env)
    if isinstance(node, Op):
        if node.op == "T":
            raise InvalidFormula(f"a transpose (ᵀ) is for vectors and matrices; every quantity "
                                 f"of --model {graph.spec.name} is a scalar")
        if node.op == "juxt":
            read = _juxt(node, graph, env)
            if read is not None:
                return read
        a = [to_sympy(x, graph, env) for x in node.args]
        if node.op in PRODUCTS:
            return a[0] * a[1]
        ops = {"+": lambda: a[0] + a[1], "-": lambda: a[0] - a[1],
               "/": lambda: a[0] / a[1], "^": lambda: _power(a[0], a[1]), "neg": lambda: -a[0]}
        return ops[node.op]()
    if isinstance(node, (Sum, Prod)):
        return _sum(node, graph, env)
    raise InvalidFormula(f"cannot read {node!r}")


def _power(base: sp.Expr, exp: sp.Expr) -> sp.Expr:
    """base^exp, refusing number exponents so large that evaluating them never ends."""
    if exp.is_Number and abs(exp) > MAX_EXPONENT:
        raise InvalidFormula(f"the exponent {exp} is larger than {MAX_EXPONENT} in size")
    if exp.free_symbols or exp.atoms(sp.Function):
        raise InvalidFormula("an exponent must be a plain number such as 2")
    return base**exp


def _bound(node: object, graph: Graph, env: Mapping[str, int], default: int) -> int:
    if node is None:
        return default
    if isinstance(node, Ref) and node.base == "T" and node.index is None:
        return graph.steps
    node = _replace_vars(node, env)  # Π_{j=i+1}^{t}: the bound in the outer sums' variables
    value = to_sympy(node, graph, env) if not (isinstance(node, Op) and _has_T(node)) \
        else to_sympy(_replace_T(node, graph.steps), graph, env)
    if not value.is_Integer:
        raise InvalidFormula(f"a sum's bound must be a whole number, got {value}")
    return int(value)


def _replace_vars(node: object, env: Mapping[str, int]) -> object:
    if isinstance(node, Ref) and node.index is None and isinstance(env.get(node.base), int):
        return Num(str(env[node.base]))
    if isinstance(node, Op):
        return Op(node.op, tuple(_replace_vars(a, env) for a in node.args))
    return node


def _has_T(node: object) -> bool:
    if isinstance(node, Ref):
        return node.base == "T" and node.index is None
    return isinstance(node, Op) and any(_has_T(a) for a in node.args)


def _replace_T(node: object, steps: int) -> object:
    if isinstance(node, Ref) and node.base == "T" and node.index is None:
        return Num(str(steps))
    if isinstance(node, Op):
        return Op(node.op, tuple(_replace_T(a, steps) for a in node.args))
    return node


def one_argument(name: str, count: int) -> str:
    """The message for a function of one argument given ``count``."""
    return f"{name} takes one argument, got {count}" + (
        "; d2l's prod(a, b), a product 'after transposition and swapping as needed', is not "
        "read: write the product itself (W^T dL/do_t, dL/do_t h_t^T)" if name == "prod" else "")


_TERMS = "#terms"  # env key (never a step variable): the terms expanded so far, shared by
# the nested sums of one side, since Σ_t Σ_t … Σ_t has T^depth terms


def _sum(node: Sum | Prod, graph: Graph, env: Mapping[str, int]) -> sp.Expr:
    lo = _bound(node.lo, graph, env, 0)
    hi = _bound(node.hi, graph, env, graph.steps - 1)
    if hi - lo + 1 > MAX_SUM_TERMS:
        raise InvalidFormula(f"a sum of {hi - lo + 1} terms is more than {MAX_SUM_TERMS}")
    if _TERMS not in env:
        env = {**env, _TERMS: [0]}
    env[_TERMS][0] += max(hi - lo + 1, 0)
    if env[_TERMS][0] > MAX_SUM_TERMS:
        raise InvalidFormula(f"the sums and products of this formula add up to more than "
                             f"{MAX_SUM_TERMS} terms")
    terms = [to_sympy(node.body, graph, {**env, node.var: t}) for t in range(hi, lo - 1, -1)]
    if isinstance(node, Prod):
        return sp.Mul(*terms, evaluate=False) if len(terms) > 1 else (terms or [sp.S.One])[0]
    if not terms:
        return sp.S.Zero
    return sp.Add(*terms, evaluate=False) if len(terms) > 1 else terms[0]
