"""How the grammar reads a written name: its base, and its index (a step number, a step
variable with an offset, or a subscript that is part of the name), in ASCII, Unicode and
LaTeX spellings (``s1``, ``s_{t-1}``, ``s₁``, ``W_hh``, ``w_h_0``, ``\\hat{y}_t``, ``δ_t``).

    >>> from lark import Token
    >>> read_ref(Token("NAME", "s_{t-1}", column=3))
    Ref(base='s', index=('var', 't', -1), column=3)
"""

from __future__ import annotations

import re

from lark import Token

from bptt_sym.errors import BpttError
from bptt_sym.syntax.nodes import Ref
from bptt_sym.syntax.steps import index_of

__all__ = ["IDX", "SPECIAL", "SUBSCRIPT", "SUPERSCRIPT", "read_ref", "unread"]

IDX = (r"(?:_\{[^{}]{1,20}\}|_[A-Za-z]{1,8}_(?:\{[^{}]{1,12}\}|-?\d+|[A-Za-z](?![A-Za-z]))"
        r"|_[A-Za-z]{1,8}(?:₋?[₀-₉]+|[ₜₖⱼᵢ](?:[₊₋][₀-₉]+)?)"
        r"|_-?\d+|_[A-Za-z](?![A-Za-z])|_[A-Za-z]{2,8}(?![A-Za-z0-9])|\d+"
        r"|₋?[₀-₉]+|[ₜₖⱼᵢ](?:[₊₋][₀-₉]+)?)")
# Names beyond plain letters: δ and ŷ as typed or in LaTeX, and bold/vector LaTeX letters.
SPECIAL = (r"δ|ŷ|y\u0302|\\delta|\\hat\{y\}|\\hat y|\\widehat\{y\}"
            r"|\\(?:mathbf|boldsymbol|bm|vec)\{(?:[A-Za-z]|\\delta|\\hat\{y\})\}")

SUBSCRIPT = str.maketrans("₀₁₂₃₄₅₆₇₈₉₋₊ₜₖⱼᵢ", "0123456789-+tkji")
_BASES = (("\\widehat{y}", "yhat"), ("\\hat{y}", "yhat"), ("\\hat y", "yhat"), ("ŷ", "yhat"),
          ("y\u0302", "yhat"), ("\\delta", "delta"), ("δ", "delta"))
_BOLD = re.compile(r"^\\(?:mathbf|boldsymbol|bm|vec)\{(.*?)\}")
SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_NAME = re.compile(r"^([A-Za-zσθφ]+?)(" + IDX + r")?$")
_VAR_INDEX = re.compile(r"^([A-Za-zτ])\s*(?:([+-])\s*(\d+))?$")
_LINEAR = re.compile(r"[+-]?(?:[A-Za-zτ]|\d+)(?:[+-](?:[A-Za-zτ]|\d+)){1,5}")


def _index(text: str) -> tuple | None:
    """The index part of a name: ``_1``, ``1``, ``_{-1}``, ``₁``, ``_t``, ``_{t-1}``."""
    if not text:
        return None
    m = re.fullmatch(r"_([A-Za-z]{1,8})([₋₀-₉ₜₖⱼᵢ₊]+)", text)
    if m:  # w_h₀: a subscripted name at a step, in Unicode
        return ("name", m[1], _step_index(m[2]))
    text = text.translate(SUBSCRIPT).lstrip("_").strip("{}").replace(" ", "").replace("−", "-")
    if text.count(";") == 1:  # δ_{2;3}: a step, then the step of the loss (δ_2^{(3)})
        step, loss = (_index(part) for part in text.split(";"))
        if step is None or loss is None or step[0] not in ("abs", "var") or \
                loss[0] not in ("abs", "var"):
            raise BpttError(f"cannot read the indices {text!r}: a step, then a loss's step")
        return ("loss", step, loss)
    if re.fullmatch(r"-?\d+", text):
        return ("abs", int(text))
    if re.fullmatch(r"[A-Za-z]{2,8}", text):
        return ("name", text)  # W_hh, b_{ih}: part of the name
    m = re.fullmatch(r"([A-Za-z]{1,8})[_,](.+)", text)
    if m:  # w_h_0, W_{hh,t-1}: a subscripted name at a step
        return ("name", m[1], _step_index(m[2]))
    m = re.fullmatch(r"(.+),([a-z]|\d+)", text) or re.fullmatch(r"(\d+)([a-z])", text)
    if m and _VAR_INDEX.match(text) is None:  # h_{t+1,i}, ŷ_{3j}: a step, then an entry
        step = _index(m[1])
        if step is None or step[0] not in ("abs", "var", "lin"):
            raise BpttError(f"cannot read the index {text!r}: a step, then one entry")
        return ("entry", step, (("abs", int(m[2])) if m[2].isdigit() else ("var", m[2], 0),))
    m = _VAR_INDEX.match(text)
    if m is None and _LINEAR.fullmatch(text):  # T+t-i, t-k+1: variables added and subtracted
        terms: dict[str, int] = {}
        off = 0
        for sign, term in re.findall(r"([+-]?)([A-Za-zτ]|\d+)", text):
            k = -1 if sign == "-" else 1
            if term.isdigit():
                off += k * int(term)
            else:
                terms[term] = terms.get(term, 0) + k
        return index_of(terms, off)
    if m is None:
        raise BpttError(f"cannot read the index {text!r}")
    off = int(m[3] or 0) * (-1 if m[2] == "-" else 1)
    return ("var", m[1], off)


def _step_index(text: str) -> tuple:
    """The step of a subscripted name (w_h_0, W_{hh,t-1}): a number or a step variable."""
    if (index := _index(text)) is None or index[0] not in ("abs", "var"):
        raise BpttError(f"cannot read the index {text!r}: a name has one subscript, then a "
                        "step (w_h_0, W_{hh,t-1})")
    return index


def _plain(text: str) -> str:
    """A name with δ, ŷ and LaTeX spellings (\\hat{y}, \\mathbf{W}) as plain letters."""
    text = _BOLD.sub(lambda m: m[1], text)
    for spelling, base in _BASES:
        if text.startswith(spelling):
            return base + text[len(spelling):]
    return text


def read_ref(tok: Token) -> Ref:
    m = _NAME.match(_plain(str(tok)))
    base, idx = (m[1], m[2]) if m else (str(tok), None)
    if base.endswith(("_",)):
        base = base[:-1]
    if base == "theta":  # θ typed in ASCII
        base = "θ"
    try:
        index = _index(idx or "")
    except BpttError as exc:  # the parse error points at the name
        exc.column = tok.column
        raise
    if index is not None and index[0] == "loss":  # δ_2^{(3)}: the checker reads it
        return Ref(base, index[1], tok.column, str(tok), loss=index[2])
    if index is not None and index[0] == "entry":  # h_{t+1,i}
        return Ref(base, index[1], tok.column, str(tok), entry=index[2])
    if index is not None and index[0] == "name":
        step = index[2] if len(index) > 2 else None
        return Ref(f"{base}_{index[1]}", step, tok.column, str(tok))
    return Ref(base, index, tok.column, str(tok))


def unread(found: str, kind: str, before: str) -> str | None:
    """What a notation the grammar stops at is, when it is one people write: the message of
    its syntax error (``found``: the text met, ``kind``: its token, ``before``: the formula
    up to it), else None."""
    if found == "|":
        return ("'|' is not read: a conditional probability p(y | x), an absolute value |x| "
                "and a set's size |V| are not in the grammar; write the loss in the model's "
                "names (E_t, -y_t^T log ŷ_t)")
    if found.startswith("_") and before.rstrip().endswith(")"):
        return ("an entry of a bracket, (…)_i, is not read: write the entry of a name "
                "(o_i^{(t)}, h_{t,i}) or the formula for whole vectors and matrices")
    if found.startswith("_") and re.search(r"_(?:\d+|[A-Za-z]|\{[^{}]*\})$", before):
        return ("two subscripts on one name (δ_2^{(3)} reads δ_2 at step 3): a quantity the "
                "model does not have; write it in the model's names (∂E_3/∂z_2)")
    if found.startswith("^") and re.search(r"(?:\\sum|\\prod|sum|prod|[Σ∑Π∏])\s*_[A-Za-z]$",
                                           before):
        return ("a sum's or product's bounds as _i^t are not read; write the first value "
                "too, Σ_{i=0}^{t}, or Σ_i for every step")
    if found.startswith("^") and re.search(r"[A-Za-z]_[A-Za-z]$", before):
        return ("a step as a bare superscript is read on an entry of a vector (net_j^t, "
                "s_i^{t-1}: subscript i, j, m or n, superscript in t or k); write it in "
                "brackets, x_k^{(t)}, or as a subscript, x_{t,k}")
    if kind == "ELLIPSIS":
        return ("an ellipsis (…, \\ldots, \\cdots) is read only among a function's arguments, "
                "L(x_1, …, x_T); write a sum or product with bounds (Σ_{k=1}^{t}, "
                "Π_{j=k+1}^{t}) instead")
    return None
