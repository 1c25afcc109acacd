"""``check`` on the published formulas of tests/corpus/ (issue 12): its verdicts against the
truth that tests/corpus/truth_*.py computes independently (test_corpus_truth confirms it).

The promise, for every formula: never ``holds`` for a false one, never ``fails`` for a true
one.  A formula outside the model (a fragment, an inequality, another model) is
``invalid`` or ``skipped``.  The formulas the checker cannot read yet are listed in
``NOT_READ`` with what it says; the list may only shrink.
"""

from __future__ import annotations

import pytest

from bptt_sym.check.checker import check
from tests.corpus.cases import Case, formulas
from tests.test_corpus_truth import CASES

FORMULAS = formulas()

# What the checker answers instead of reading the formula, by formula id (not yet read):
# d2l's two-argument prod(·, ·), component indices (h_{t+1, i}, ŷ_{3j}), index arithmetic
# beyond a variable and a number (l_{T+t-i}), \\mathcal names, \\ldots, "and" between
# equations, =: definitions, a time superscript after a subscript (δ_2^{(3)}), partials of a
# function's arguments in matrix formulas, and names the source uses that its model lacks.
NOT_READ: dict[str, str] = {
    'cs224n-dEdW': 'unknown name W; known: the weights W_hh, W_hx, W_S (and thei',
    'cs224n-dEdW-double': 'unknown name W; known: the weights W_hh, W_hx, W_S (and thei',
    'cs224n-jacobian-product': 'unknown name W; known: the weights W_hh, W_hx, W_S (and thei',
    'cs224n-loss': "syntax error at column 9: unexpected '\\\\'",
    'cv193352-component': "syntax error at column 1: cannot read the index 't+1,i'",
    'cv193352-element': "syntax error at column 16: cannot read the index 't+1,i'",
    'cv193352-element-rev2': "syntax error at column 16: cannot read the index 't+1,i'",
    'd2l-en-L': "syntax error at column 8: unexpected '\\\\'",
    'd2l-en-dL-dWhx-dWhh': 'prod takes one argument, got 2',
    'd2l-en-dL-dWqh': 'prod takes one argument, got 2',
    'd2l-en-dL-dhT': 'prod takes one argument, got 2',
    'd2l-en-dL-dht-closed': "syntax error at column 168: cannot read the index 'T+t-i'",
    'd2l-en-dL-dht-recur': 'prod takes one argument, got 2',
    'd2l-en-dL-dot': "syntax error at column 82: unexpected 'T'",
    'd2l-en-linear-L': 'l needs a step index: l_t, l_0 …',
    'd2l2019-jacobian': "syntax error at column 65: unexpected '\\\\'",
    'd2l2019-recur-closed': 'unknown symbol h; known: e_t, h_t, o_t, w_t, x_t, y_t (t = 0',
    'd2l2020-dL-dWhh-dWhx': '∂(…)/∂… is not read in matrix formulas: partials of a functi',
    'd2l2020-dL-dWoh': '∂(…)/∂… is not read in matrix formulas: partials of a functi',
    'd2l2020-jacobian': "syntax error at column 65: unexpected '\\\\'",
    'd2lzh2017-dL-dWhh': 'prod takes one argument, got 2',
    'd2lzh2017-dL-dWyh': 'prod takes one argument, got 2',
    'd2lzh2017-dL-dhT': 'prod takes one argument, got 2',
    'd2lzh2017-dL-dht': 'prod takes one argument, got 2',
    'd2lzh2017-dL-dht-closed': "syntax error at column 144: cannot read the index 'T+t-i'",
    'd2lzh2017-model': "syntax error at column 16: unexpected '\\\\'",
    'gf-10.12-10.14': "syntax error at column 8: unexpected '\\\\'",
    'gf-10.18': "syntax error at column 34: unexpected '_'; expected '(' or '",
    'gf-10.24': "syntax error at column 120: unexpected '_'; expected '(' or ",
    'gf-10.25-10.26': "syntax error at column 126: unexpected '_'; expected '(' or ",
    'gf-10.27-10.28': "syntax error at column 126: unexpected '_'; expected '(' or ",
    'hbt-3.1': "syntax error at column 334: unexpected '.'",
    'hbt-dE-dwji': "syntax error at column 72: unexpected '^'; expected '}'",
    'hbt-jacobian': 'unknown name Wdiag; known: the weights U, W, V (and their st',
    'ip-step2': "syntax error at column 91: unexpected ':'",
    'ip-step3': 'unknown name J; known: the weights W, U, b, V (and their ste',
    'pascanu-eq3': "syntax error at column 38: unexpected '\\\\'",
    'pascanu-eq4': "syntax error at column 40: unexpected '\\\\'",
    'pascanu-eq5': "syntax error at column 68: unexpected '\\\\geq'; expected '=' ",
    'wildml-code-model': 'unknown name o; known: the weights U, W, V (and their step c',
    'wildml-delta': "syntax error at column 9: unexpected '_'; expected '(' or ')",
    'wildml-y3j': "syntax error at column 1: cannot read the index '3j'",
}


def _document(key: str, case: Case) -> str:
    f = FORMULAS[key]
    text = case.text or f["text"]
    return f"$${text}$$" if f["format"] == "latex" else text


def _verdicts(key: str) -> list:
    case = CASES[key]
    return check(_document(key, case), model=case.model_arg(), steps=case.steps,
                 first=case.first, **case.options)


def _outcome(verdicts: list) -> str:
    kinds = {v.verdict for v in verdicts}
    if "fails" in kinds:
        return "fails"
    if kinds == {"holds"}:
        return "holds"
    return "invalid" if "invalid" in kinds else sorted(kinds)[0]


KEYS = sorted(CASES)


@pytest.mark.parametrize("key", KEYS)
def test_check_keeps_its_promise_on_a_published_formula(key: str) -> None:
    case, correct = CASES[key], FORMULAS[key]["correct"]
    verdicts = _verdicts(key)
    got = _outcome(verdicts)
    said = "; ".join(f"{v.verdict}: {v.message}" for v in verdicts)
    if case.outside:  # not a statement about the model: never "holds" of it
        assert got != "holds", f"{key} is outside the model: {said}"
        return
    if correct is True:
        assert got != "fails", f"{key} is true, the checker says: {said}"
    if correct is False:
        assert got != "holds", f"{key} is false, the checker says: {said}"
    if key in NOT_READ:
        assert got in ("invalid", "undecided", "skipped"), f"{key} is read now: {said}"
        assert NOT_READ[key] in said, said
    elif correct is True:
        assert got == "holds", f"{key}: {said}"
    elif correct is False:
        assert got == "fails", f"{key}: {said}"
