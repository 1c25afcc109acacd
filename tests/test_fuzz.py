"""No input makes check raise, hang or crash: it returns one verdict per equation.

Two kinds of test:

* ``fuzz`` (marked, a few minutes on 2 cores): fixed-seed runs of bench/fuzz_check.py's
  generators in worker processes with a watchdog, so that a hang or a segfault is seen
  rather than taking the test run down;
* hypothesis: generated strings fed in this process to ``syntax.formula.parse``,
  ``syntax.document.find_equations`` and ``check`` (doc and elman), which must answer, never raise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bptt_sym.check.checker as check_module
from bptt_sym.check.checker import Verdict, check
from bptt_sym.syntax.document import find_equations
from bptt_sym.syntax.formula import Chain, ParseError, parse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fuzz_check  # noqa: E402

KNOWN_VERDICTS = set(getattr(check_module, "VERDICTS", fuzz_check.VERDICTS))
# inputs per generator: the cheap ones many times, those that decide many equations fewer
# (worker ms per input, roughly: random 1, numbers 60, grammar 110, mutation 110, document 210,
# nesting 270, long 700; 3 to 4 minutes in all on 2 cores)
RUNS = {"random": 5000, "mutation": 1000, "grammar": 800, "numbers": 800, "document": 200,
        "nesting": 150, "long": 60}
WATCHDOG = 120.0  # seconds: only a real hang, not a loaded machine, goes over it


def _findings(stats: fuzz_check.Stats) -> str:
    lines = []
    for f in stats.findings.values():
        job = f.first
        lines.append(f"{f.sig} ({f.count}×), first input {job['i']} ({job['gen']}, "
                     f"{job['cfg']}): {job['text'][:300]!r}\n  {f.error}\n"
                     + "".join(f.tb)[-1500:])
    return "\n".join(lines)


@pytest.mark.fuzz
@pytest.mark.parametrize("generator", sorted(RUNS))
def test_generated_inputs_get_verdicts(generator: str) -> None:
    stats = fuzz_check.run_fuzz(inputs=RUNS[generator], seed=0, workers=2, timeout=WATCHDOG,
                                generators=[generator], shrink_budget=0, quiet=True)
    assert stats.inputs == RUNS[generator]
    assert not stats.findings, _findings(stats)
    assert sum(stats.verdicts.values()) > 0


def test_the_fuzzer_sees_an_exception_a_hang_and_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watchdog and the crash detection work: a worker whose check raises, sleeps past
    the watchdog or dies by a signal is reported as such, and the next input still runs."""
    monkeypatch.setenv("FUZZ_CHECK_STUB", "1")  # the worker then obeys inputs "STUB …"
    pool = fuzz_check.Pool(1, timeout=3.0)
    try:
        texts = ["STUB raise", "STUB sleep", "STUB segfault", "dE/du = dE/du_1 + dE/du_0"]
        results = {job["text"]: r for job, r in pool.run(
            {"i": i, "cfg": "doc-f", "text": t} for i, t in enumerate(texts))}
    finally:
        pool.close()
    assert results["STUB raise"]["status"] == "exception"
    assert results["STUB raise"]["sig"].startswith("RuntimeError")
    assert results["STUB sleep"]["status"] == "hang"
    assert any("sleep" in line or "_stub" in line for line in results["STUB sleep"]["tb"])
    assert results["STUB segfault"]["status"] == "crash"
    assert "SIGSEGV" in results["STUB segfault"]["sig"]
    assert results[texts[-1]]["status"] == "ok"
    assert results[texts[-1]]["counts"] == {"holds": 1}


def test_inputs_are_the_same_for_the_same_seed() -> None:
    a = [fuzz_check.make_input(7, i) for i in range(200)]
    assert a == [fuzz_check.make_input(7, i) for i in range(200)]
    assert a != [fuzz_check.make_input(8, i) for i in range(200)]
    assert {gen for gen, _, _ in a} == set(fuzz_check.GENERATORS)


def test_most_grammar_inputs_parse() -> None:
    """The grammar-aware generator gets past the parser, so the decision is exercised."""
    parsed = total = 0
    for i in range(300):
        _, _, text = fuzz_check.make_input(0, i, ["grammar"])
        for found in find_equations(text):
            total += 1
            try:
                parse(found.text)
                parsed += 1
            except ParseError:
                pass
    assert parsed > 0.8 * total


# ---- hypothesis: in this process -----------------------------------------------------------

ALPHABET = fuzz_check.LETTERS + fuzz_check.SYMBOLS + fuzz_check.SPACES * 4
formula_text = st.lists(st.sampled_from(ALPHABET), max_size=40).map("".join)
grammar_text = st.tuples(st.randoms(use_true_random=False),
                         st.sampled_from(sorted(fuzz_check.CONFIGS))).map(
    lambda rc: (fuzz_check.grammar_formula(rc[0], fuzz_check.CONFIGS[rc[1]]), rc[1]))
any_text = st.one_of(formula_text, st.text(max_size=60))
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _answers(verdicts: object) -> None:
    assert isinstance(verdicts, list)
    for v in verdicts:
        assert isinstance(v, Verdict)
        assert v.verdict in KNOWN_VERDICTS
        assert v.verdict != "invalid" or v.message.strip()


@SETTINGS
@given(st.one_of(any_text, grammar_text.map(lambda tc: tc[0])))
def test_parse_answers_a_chain_or_a_parse_error(text: str) -> None:
    try:
        chain = parse(text)
    except ParseError as exc:
        assert exc.column >= 1
    else:
        assert isinstance(chain, Chain) and len(chain.sides) >= 2


@SETTINGS
@given(st.lists(st.one_of(any_text, st.sampled_from(
    ["$", "$$", "\\[", "\\]", "\\begin{align}", "\\end{align}", "&", "\\\\", "#", "%",
     "```math", "```", "\\$", "- "])), max_size=12).map("\n".join))
def test_find_equations_answers_a_list(text: str) -> None:
    found = find_equations(text)
    assert isinstance(found, list)


@SETTINGS
@given(any_text, st.sampled_from(sorted(fuzz_check.CONFIGS)))
def test_check_answers_verdicts_for_any_text(text: str, cfg: str) -> None:
    _answers(check(text, **fuzz_check.CONFIGS[cfg]))


@settings(SETTINGS, max_examples=60)
@given(grammar_text)
def test_check_answers_verdicts_for_grammar_formulas(text_cfg: tuple[str, str]) -> None:
    text, cfg = text_cfg
    _answers(check(text, **fuzz_check.CONFIGS[cfg]))


@pytest.mark.parametrize("text", [
    "dI/dW = W", "dE/dI = I", "dI/dI = 1", "s_1 = tanh(exp(exp(exp(9))))",
    "q = f(tanh(exp(exp(exp(9)))))", "x_1 = f(exp(exp(exp(exp(9)))))",
    "dE/dW = relu(diag(z_1))",
    "$\\frac{ds1}{ds_{0}}=diag(\\frac{\\partial E_{1}}{\\partial z_{1}})$",
    "s_1 = sum_{t=0}^{exp(0)} z_0", "delta_1 = " + "sum_t " * 40 + "s_t",
    "dE/dW = W^1000", "x_1 = 10^999999", "E = 9^9^9^9", "E = " + "(" * 5000 + "E" + ")" * 5000,
    "E = " + "-" * 5000 + "E", "E = " + "^".join(["E"] * 3000)])
@pytest.mark.parametrize("cfg", ["doc-f", "doc-tanh", "doc-relu", "elman", "elman-relu"])
def test_inputs_the_fuzzer_found(text: str, cfg: str) -> None:
    _answers(check(text, **fuzz_check.CONFIGS[cfg]))


@pytest.mark.parametrize("text, cfg, verdict, words", [
    ("dI/dW = W", "elman", "invalid", "the identity"),
    ("dE/dI = I", "elman", "invalid", "the identity"),
    ("delta_1 = " + "sum_t " * 40 + "s_t", "elman", "invalid", "more than 10000 terms"),
    ("dE/du = " + "sum_t " * 40 + "x_t", "doc-f", "invalid", "more than 10000 terms"),
    ("E = sum_{t=0}^{exp(0)} E", "elman", "invalid", "whole number"),
    ("E = sum_{t=0}^{prod_{j=1}^{0} W} E", "elman", "invalid", "whole number"),
    ("dE/dW = relu(diag(z_1))", "elman", "fails", ""),
    ("ds_1/ds_0 = diag(1 - s_1 * s_1) W", "elman", "holds", ""),
])
def test_what_the_fuzzer_found_is_answered_with_a_reason(text: str, cfg: str, verdict: str,
                                                         words: str) -> None:
    (v,) = check(text, **fuzz_check.CONFIGS[cfg])
    assert (v.verdict, words in v.message) == (verdict, True), v.message
