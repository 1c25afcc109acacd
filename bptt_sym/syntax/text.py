"""A parsed formula (the tree of :mod:`bptt_sym.syntax.formula`) shown as Unicode text, for
messages and diagnoses.

    >>> from bptt_sym.syntax.formula import parse
    >>> show(parse("dE/dW = sum_t delta_t s_{t-1}^T").sides[1])
    'Σ_t δ_t s_{t-1}ᵀ'
"""

from __future__ import annotations

from bptt_sym.syntax.formula import PRODUCTS, Call, Deriv, Num, Op, Prod, Ref, Sum

__all__ = ["show"]

_OP_TEXT = {"+": " + ", "-": " − ", "*": " ⊙ ", "⊙": " ⊙ ", "@": " ", "·": " ", "juxt": " ",
            "/": " / "}
_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _index_text(index: tuple | None) -> str:
    if index is None:
        return ""
    if index[0] == "abs":
        return f"_{index[1]}" if index[1] >= 0 else f"_{{{index[1]}}}"
    if index[0] == "lin":
        _, terms, off = index
        text = "".join(f"{'+' if c > 0 else '-'}{abs(c) if abs(c) != 1 else ''}{v}"
                       for v, c in terms)
        return "_{" + text.lstrip("+") + (f"{off:+d}" if off else "") + "}"
    _, var, off = index
    return f"_{var}" if off == 0 else f"_{{{var}{off:+d}}}"


def _name_text(ref: Ref) -> str:
    base = {"yhat": "ŷ", "delta": "δ"}.get(ref.base, ref.base)
    if ref.entry:  # h_{t+1,i}, W_{ij}
        step = _index_text(ref.index).lstrip("_").strip("{}")
        entries = ",".join(_index_text(e).lstrip("_").strip("{}") for e in ref.entry)
        return f"{base}_{{{step + ',' if step else ''}{entries}}}"
    return base + _index_text(ref.index)


def show(node: object) -> str:
    """A parsed formula as Unicode text (for messages)."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Ref):
        return _name_text(node)
    if isinstance(node, Deriv):
        return f"∂{_name_text(node.num)}/∂{_name_text(node.den)}"
    if isinstance(node, Call):
        args = ", ".join(show(a) for a in node.args)
        return f"{node.name}{chr(39) if node.prime else ''}({args})"
    if isinstance(node, (Sum, Prod)):
        sym = "Σ" if isinstance(node, Sum) else "Π"
        bounds = f"_{node.var}" if node.lo is None else \
            f"_{{{node.var}={show(node.lo)}..{show(node.hi) if node.hi is not None else 'T-1'}}}"
        return f"{sym}{bounds} {_wrapped(node.body, 'sum')}"
    if isinstance(node, Op):
        if node.op == "neg":
            return f"−{_wrapped(node.args[0], 'neg')}"
        if node.op == "T":
            return f"{_wrapped(node.args[0], 'T')}ᵀ"
        if node.op == "rows":
            return f"{_wrapped(node.args[0], 'T')}{node.args[1]}"
        if node.op == "stack":
            return "[" + "; ".join(show(a) for a in node.args) + "]"
        if node.op == "^":
            exp = show(node.args[1])
            sup = exp.translate(_SUP) if exp.isdigit() else f"^{exp}"
            return f"{_wrapped(node.args[0], 'T')}{sup}"
        a, b = node.args
        return f"{_wrapped(a, node.op)}{_OP_TEXT[node.op]}{_wrapped(b, node.op, right=True)}"
    return str(node)


def _wrapped(node: object, outer: str, *, right: bool = False) -> str:
    text = show(node)
    inner = node.op if isinstance(node, Op) else None
    loose = {"+", "-"}
    if inner in loose and (outer not in loose or (right and outer == "-")):
        return f"({text})"
    if isinstance(node, (Sum, Prod)) and outer != "sum":
        return f"({text})"
    if inner in PRODUCTS | {"/"} and outer in PRODUCTS | {"T", "neg", "/"} \
            and (outer != inner or right):
        return f"({text})"
    if inner == "neg" and (outer not in ("+", "sum", "/") or right):
        return f"({text})"
    return text
