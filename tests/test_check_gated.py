"""check on gated cells (issue 13): each mistake people make in an LSTM's or a GRU's
derivation is named, and the right formula next to it holds.  The right formulas are
written here from the cells' equations (σ′ = σ(1 − σ), tanh′ = 1 − tanh²; the LSTM's
δc_t gathers the path through h_t and the path through c_{t+1}); the judge decides them
against its own forward-mode truth (:mod:`bptt_sym.check.truth_matrix`), which never uses
the derivation engine.  A model file's ``[variants]`` and its errors are tested at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bptt_sym.check.explain_matrix import MATRIX_KINDS
from bptt_sym.check.matrix import check_matrix
from bptt_sym.model.load import ModelFileError, model_toml, parse_model
from bptt_sym.model.registry import model_spec
from bptt_sym.model.variants import variant_spec

MGU = str(Path(__file__).resolve().parent.parent / "docs" / "examples" / "models" / "mgu.toml")

DC = "dc_t = dh_t * o_t * (1 - tanh(c_t)^2) + f_{t+1} * dc_{t+1}"
GRU_DH = ("dh_t = V^T (yhat_t - y_t) + dh_{t+1} * z_{t+1} + W_hn^T (dh_{t+1} * (1 - z_{t+1}) * "
          "(1 - n_{t+1}^2) * r_{t+1}) + W_hz^T (dh_{t+1} * (h_t - n_{t+1}) * z_{t+1} * "
          "(1 - z_{t+1})) + W_hr^T (dh_{t+1} * (1 - z_{t+1}) * (1 - n_{t+1}^2) * "
          "(W_hn h_t + b_hn) * r_{t+1} * (1 - r_{t+1}))")
LSTM_DH = ("dh_t = V^T (yhat_t - y_t) + W_ho^T (dh_{t+1} * tanh(c_{t+1}) * o_{t+1} * "
           "(1 - o_{t+1})) + W_hg^T (dc_{t+1} * i_{t+1} * (1 - g_{t+1}^2)) + W_hf^T (dc_{t+1} * "
           "c_t * f_{t+1} * (1 - f_{t+1})) + W_hi^T (dc_{t+1} * g_{t+1} * i_{t+1} * "
           "(1 - i_{t+1}))")
MGU_DH = ("dh_t = V^T (yhat_t - y_t) + dh_{t+1} * (1 - f_{t+1}) + (U_h^T (dh_{t+1} * f_{t+1} * "
          "(1 - n_{t+1}^2))) * f_{t+1} + U_f^T ((dh_{t+1} * (n_{t+1} - h_t) + (U_h^T (dh_{t+1} * "
          "f_{t+1} * (1 - n_{t+1}^2))) * h_t) * f_{t+1} * (1 - f_{t+1}))")
W_HN = "dE/dW_hn = sum_t (dh_t * (1 - z_t) * (1 - n_t^2) * r_t) h_{t-1}^T"
W_HN_CHO = "dE/dW_hn = sum_t (dh_t * (1 - z_t) * (1 - n_t^2)) (r_t * h_{t-1})^T"

# (model, a right formula, the same with one mistake, the kind named, words of the reason)
CASES = [
    ("lstm", DC, "dc_t = dh_t * o_t * (1 - tanh(c_t)^2)", "missing-path",
     "two paths reach c_t (through h_t and through c_{t+1}); yours has one, the one through "
     "h_t: the other adds dc_{t+1} ⊙ f_{t+1}"),
    ("lstm", DC, "dc_t = f_{t+1} * dc_{t+1}", "missing-path",
     "two paths reach c_t (through h_t and through c_{t+1}); yours has one, the one through "
     "c_{t+1}"),
    ("lstm", DC, "dc_t = dh_t * o_t + f_{t+1} * dc_{t+1}", "missing-factor",
     "missing the factor tanh'(c_t) = 1 − tanh(c_t) ⊙ tanh(c_t)"),
    ("lstm", DC, "dc_t = dh_t * o_t * tanh(c_t) * (1 - tanh(c_t)) + f_{t+1} * dc_{t+1}",
     "activation-swap", "σ′ where tanh′ belongs: tanh(c_t) ⊙ (1 − tanh(c_t))"),
    ("lstm", "dc_t = dh_t ⊙ o_t ⊙ tanh'(c_t) + f_{t+1} ⊙ dc_{t+1}",
     "dc_t = dh_t ⊙ o_t ⊙ sigmoid'(c_t) + f_{t+1} ⊙ dc_{t+1}", "activation-swap",
     "sigmoid′ where tanh′ belongs"),
    ("lstm", "dE/dW_hf = sum_t (dc_t * c_{t-1} * f_t * (1 - f_t)) h_{t-1}^T",
     "dE/dW_hf = sum_t (dc_t * c_{t-1} * (1 - f_t^2)) h_{t-1}^T", "activation-swap",
     "tanh′ where σ′ belongs: 1 − f_t² is tanh's derivative, but f_t is a sigmoid"),
    ("lstm", "dE/dW_hg = sum_t (dc_t * i_t * (1 - g_t^2)) h_{t-1}^T",
     "dE/dW_hg = sum_t (dc_t * i_t * g_t * (1 - g_t)) h_{t-1}^T", "activation-swap",
     "σ′ where tanh′ belongs: g_t ⊙ (1 − g_t) is the sigmoid's derivative, but g_t is a tanh"),
    ("lstm", "dE/dW_ho = sum_t (dh_t * tanh(c_t) * o_t * (1 - o_t)) h_{t-1}^T",
     "dE/dW_ho = sum_t (dh_t * tanh(c_{t-1}) * o_t * (1 - o_t)) h_{t-1}^T", "step-index",
     "c_{t-1} should be c_t"),
    ("lstm", DC, "dc_t = dh_t * o_t * (1 - tanh(c_{t-1})^2) + f_{t+1} * dc_{t+1}",
     "step-index", "c_{t-1} should be c_t"),
    ("lstm", DC, "dc_t = dh_t * o_t * (1 - tanh(c_t)^2) + f_t * dc_{t+1}", "step-index",
     "f_t should be f_{t+1}"),
    ("lstm", LSTM_DH, LSTM_DH.replace(" + W_hf^T (dc_{t+1} * c_t * f_{t+1} * (1 - f_{t+1}))",
                                      ""), "missing-path", "(the path back from c_{t+1})"),
    ("lstm-peephole", DC + " + (dh_t * tanh(c_t) * o_t * (1 - o_t)) * P_o + (dc_{t+1} * c_t * "
     "f_{t+1} * (1 - f_{t+1})) * P_f + (dc_{t+1} * g_{t+1} * i_{t+1} * (1 - i_{t+1})) * P_i",
     DC + " + (dc_{t+1} * c_t * f_{t+1} * (1 - f_{t+1})) * P_f + (dc_{t+1} * g_{t+1} * i_{t+1} "
     "* (1 - i_{t+1})) * P_i", "missing-path", "⊙ P_o (the path back from h_t)"),
    ("gru", GRU_DH, GRU_DH.replace("* z_{t+1} +", "* (1 - z_{t+1}) +", 1), "complement",
     "z and 1 − z swapped: 1 − z_{t+1} should be z_{t+1}"),
    ("gru", W_HN, W_HN.replace("(1 - z_t)", "z_t"), "complement",
     "z and 1 − z swapped: z_t should be 1 − z_t"),
    ("gru", GRU_DH, "dh_t = V^T (yhat_t - y_t) + dh_{t+1} * (1 - z_{t+1}) + W_hn^T (dh_{t+1} * "
     "z_{t+1} * (1 - n_{t+1}^2) * r_{t+1}) + W_hz^T (dh_{t+1} * (h_t - n_{t+1}) * z_{t+1} * "
     "(1 - z_{t+1})) + W_hr^T (dh_{t+1} * z_{t+1} * (1 - n_{t+1}^2) * (W_hn h_t + b_hn) * "
     "r_{t+1} * (1 - r_{t+1}))", "complement", "with every z and 1 − z exchanged"),
    ("gru", GRU_DH, GRU_DH.replace("dh_{t+1} * z_{t+1} + ", ""), "missing-path",
     "missing the term dh_{t+1} ⊙ z_{t+1} (the path back from h_{t+1})"),
    ("gru", W_HN, W_HN_CHO, "variant", "that is the gru-cho variant"),
    ("gru", "dE/dW_hr = sum_t (dh_t * (1 - z_t) * (1 - n_t^2) * (W_hn h_{t-1} + b_hn) * r_t * "
     "(1 - r_t)) h_{t-1}^T", "dE/dW_hr = sum_t (((W_hn^T (dh_t * (1 - z_t) * (1 - n_t^2))) * "
     "h_{t-1}) * r_t * (1 - r_t)) h_{t-1}^T", "variant", "that is the gru-cho variant"),
    ("gru-cho", W_HN_CHO, W_HN, "variant", "that is the gru variant"),
    (MGU, MGU_DH, MGU_DH.replace("dh_{t+1} * (1 - f_{t+1})", "dh_{t+1} * f_{t+1}", 1),
     "complement", "f and 1 − f swapped"),
    (MGU, MGU_DH, MGU_DH.replace(" + (U_h^T (dh_{t+1} * f_{t+1} * (1 - n_{t+1}^2))) * f_{t+1}",
                                 "", 1), "missing-path", "(the path back from h_{t+1})"),
]


def _ids() -> list[str]:
    return [f"{Path(c[0]).stem}-{c[3]}-{i}" for i, c in enumerate(CASES)]


@pytest.mark.parametrize("model, right, wrong, kind, why", CASES, ids=_ids())
def test_a_gated_mistake_is_named(model: str, right: str, wrong: str, kind: str,
                                  why: str) -> None:
    good, bad = check_matrix(f"{right}\n{wrong}\n", spec=model_spec(model), steps=3)
    assert good.verdict == "holds", good.message
    assert bad.verdict == "fails", bad.message
    assert bad.diagnosis, bad.message
    assert bad.diagnosis[0].kind == kind, bad.diagnosis
    assert why in bad.diagnosis[0].text, bad.diagnosis[0].text


def test_every_gated_kind_is_a_kind_and_tested() -> None:
    kinds = {c[3] for c in CASES}
    assert {"missing-path", "activation-swap", "complement", "variant"} <= kinds
    assert kinds - {"variant"} <= set(MATRIX_KINDS)


def test_the_mgu_file_checks_with_no_code_of_its_own() -> None:
    """A user's cell (docs/examples/models/mgu.toml): its right gradients hold."""
    text = "\n".join([
        MGU_DH,
        "dE/db_f = sum_t (dh_t * (n_t - h_{t-1}) + (U_h^T ((dh_t * f_t) * (1 - n_t^2))) * "
        "h_{t-1}) * f_t * (1 - f_t)",
        "dE/dW_h = sum_t (dh_t * f_t * (1 - n_t^2)) x_t^T",
        "dE/dU_h = sum_t (dh_t * f_t * (1 - n_t^2)) (f_t * h_{t-1})^T",
    ])
    assert [v.verdict for v in check_matrix(text, spec=model_spec(MGU), steps=3)] == \
        ["holds"] * 4


EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.mark.parametrize("name, model, kinds", [
    ("lstm-student.md", "lstm", ["missing-path", "missing-path", "missing-factor",
                                 "activation-swap", "activation-swap", "activation-swap",
                                 "step-index", "step-index", "missing-path"]),
    ("gru-student.md", "gru", ["complement", "complement", "variant", "variant",
                               "missing-path", "activation-swap", "sign"]),
], ids=["lstm", "gru"])
def test_the_student_examples(name: str, model: str, kinds: list[str]) -> None:
    """docs/examples/{lstm,gru}-student.md: the model's own lines and the right derivation
    hold, and each mistake after it fails with its kind."""
    verdicts = check_matrix((EXAMPLES / name).read_text(encoding="utf-8"),
                            spec=model_spec(model), steps=3)
    wrong = [v for v in verdicts if v.verdict != "holds"]
    assert all(v.verdict == "fails" for v in wrong), [(v.line, v.message) for v in wrong]
    assert [v.diagnosis[0].kind if v.diagnosis else None for v in wrong] == kinds
    first_wrong = min(v.line for v in wrong)
    assert sum(v.verdict == "holds" for v in verdicts) == \
        sum(v.line < first_wrong for v in verdicts) >= 6


# ---------------------------------------------------------------- a model file's variants

BASE = model_toml(model_spec("gru"))


def test_a_variant_round_trips_and_keeps_the_names() -> None:
    spec = model_spec("gru")
    assert parse_model(model_toml(spec), path=spec.path) == spec
    other = variant_spec(spec, "gru-cho")
    assert other.parameters == spec.parameters and other.name == "gru-cho"
    assert [ln for ln in other.cell if ln not in spec.cell] == \
        ["n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn)"]


@pytest.mark.parametrize("table, words", [
    ('[variants.v]\ncell = ["q_t = tanh(W_in x_t)"]\n', "q is not defined by a line of the cell"),
    ('[variants.v]\nabout = "x"\n', "cell must be a list"),
    ('[variants.v]\ncell = ["n_t = tanh(W_in x_t +)"]\n', ""),
    ('[variants.v]\ncell = ["n_t = tanh(W_hn x_t)"]\n', "[variants.v]"),
    ('[variants.v]\ncell = ["n_t = tanh(W_in x_t)"]\nwhat = 1\n', "unknown key 'what'"),
], ids=["unknown-node", "no-cell", "syntax", "shapes", "unknown-key"])
def test_a_bad_variant_is_one_located_line(table: str, words: str) -> None:
    text = BASE.split("\n[variants.")[0] + "\n" + table
    with pytest.raises(ModelFileError) as exc:
        parse_model(text, path="my.toml")
    message = str(exc.value)
    assert message.startswith("my.toml:") and "\n" not in message, message
    assert words in message, message
