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

# What the checker answers instead of reading the formula, by formula id.  Outside the model:
# names the source uses that its model file lacks (CS224n's W for W_hh, WildML's o_t for ŷ_t,
# cv193352's g(x)), a conditional probability p(y | x) (gf-10.12), Goodfellow's indicator
# 1_{i,y} of a class index (gf-10.18), |V| and J^{(t)}(θ) (cs224n-loss).  Ill-formed as
# written: hbt-3.1's δ_t^l, a stray superscript l (its source's typo).  Each message says
# which.
NOT_READ: dict[str, str] = {
    'cs224n-dEdW': 'unknown name W; known: the weights W_hh, W_hx, W_S (and thei',
    'cs224n-dEdW-double': 'unknown name W; known: the weights W_hh, W_hx, W_S (and thei',
    'cs224n-jacobian-product': 'unknown name W; known: the weights W_hh, W_hx, W_S (and thei',
    'cs224n-loss': "'|' is not read: a conditional probability p(y | x), an absolute value",
    'cv193352-component': 'unknown function g; known: the weights U, W, V',
    'gf-10.12-10.14': "'|' is not read: a conditional probability p(y | x)",
    'gf-10.18': 'an entry of a bracket, (…)_i, is not read',
    'hbt-3.1': 'the superscript l of δ_t is a name of the model, not a whole number',
    'wildml-code-model': 'unknown name o; known: the weights U, W, V (and their step c',
}


def _document(key: str, case: Case) -> str:
    f = FORMULAS[key]
    text = case.text or f["text"]
    before = FORMULAS[case.context]["text"] if case.context else ""
    if f["format"] == "latex":
        return (f"$${before}$$\n" if before else "") + f"$${text}$$"
    return (f"{before}\n" if before else "") + text


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
