"""Model files (TOML): the built-in doc, a scalar GRU, the canonical text and back, and every
kind of bad file as one line ``FILE:LINE:COL: what is wrong`` pointing at the culprit."""

from __future__ import annotations

import dataclasses
import random

import pytest

from bptt_sym.errors import UsageError
from bptt_sym.graph.build import unroll
from bptt_sym.model.load import (
    BUILTIN,
    ModelFileError,
    builtin,
    builtin_text,
    load_model,
    model_toml,
    parse_model,
)
from bptt_sym.model.registry import DOC, ModelSpec

DOC_TEXT = builtin_text("doc")

GRU_TEXT = """\
name = "gru-scalar"
title = "a scalar GRU"
parameters = ["wr", "ur", "br", "wz", "uz", "bz", "wn", "un", "bn"]
inputs = ["x"]
targets = ["y"]
initial = { h = "zero" }
cell = [
    "r_t = sigmoid(wr x_t + ur h_{t-1} + br)",
    "z_t = sigmoid(wz x_t + uz h_{t-1} + bz)",
    "n_t = tanh(wn x_t + r_t (un h_{t-1}) + bn)",
    "h_t = (1 - z_t) n_t + z_t h_{t-1}",
    "E_t = mse(h_t, y_t)",  # a loss at every step
]
loss = "E = sum_t E_t"
functions = {}
"""

GRU = ModelSpec(
    name="gru-scalar", title="a scalar GRU",
    cell=("r_t = sigmoid(wr x_t + ur h_{t-1} + br)", "z_t = sigmoid(wz x_t + uz h_{t-1} + bz)",
          "n_t = tanh(wn x_t + r_t (un h_{t-1}) + bn)", "h_t = (1 - z_t) n_t + z_t h_{t-1}",
          "E_t = mse(h_t, y_t)"),
    head=("E = sum_t E_t",), parameters=("wr", "ur", "br", "wz", "uz", "bz", "wn", "un", "bn"),
    inputs=("x",), targets=("y",), states=("h",), keys=("h",), loss="E", functions={},
    initial={"h": "zero"}, path="m.toml")


def _error(text: str) -> str:
    with pytest.raises(ModelFileError) as info:
        parse_model(text, path="m.toml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("m.toml:"), message
    return message


def _at(text: str, needle: str, shift: int = 0, nth: int = 0) -> str:
    """``LINE:COL`` of the ``nth`` occurrence of ``needle`` in ``text``, moved by ``shift``."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    i += shift
    line = text.count("\n", 0, i) + 1
    return f"{line}:{i - (text.rfind(chr(10), 0, i) + 1) + 1}"


def _doc(old: str, new: str) -> str:
    assert old in DOC_TEXT, old
    return DOC_TEXT.replace(old, new, 1)


def _gru(old: str, new: str) -> str:
    assert old in GRU_TEXT, old
    return GRU_TEXT.replace(old, new, 1)


def _expect(text: str, needle: str, fragment: str, shift: int = 0, nth: int = 0) -> None:
    message = _error(text)
    assert message.startswith(f"m.toml:{_at(text, needle, shift, nth)}: "), message
    assert fragment in message, message


# ---- good files ---------------------------------------------------------------------------

def test_builtin_doc_is_the_python_doc() -> None:
    assert BUILTIN == ("doc", "elman", "lstm", "lstm-peephole", "gru", "gru-cho")
    spec = builtin("doc")
    assert dataclasses.replace(spec, path="") == DOC
    assert spec.path.endswith("doc.toml")


def test_builtin_text_is_the_canonical_text_of_doc() -> None:
    assert builtin_text("doc") == model_toml(DOC)
    assert "# S1, S5" in DOC_TEXT and '"sum u" = "B1"' in DOC_TEXT


def test_unknown_builtin_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown built-in model file 'nope'; choose one of doc"):
        builtin_text("nope")


def test_gru_loads() -> None:
    spec = parse_model(GRU_TEXT, path="m.toml")
    assert spec == GRU
    assert spec.initial_value("h") == "zero"
    graph = unroll(spec, steps=3)
    assert graph.copies["wr"][-1].name == "wr_2"


@pytest.mark.parametrize("text", [DOC_TEXT, GRU_TEXT], ids=["doc", "gru"])
def test_round_trip(text: str) -> None:
    spec = parse_model(text, path="m.toml")
    again = parse_model(model_toml(spec), path="other.toml")
    assert dataclasses.replace(again, path="m.toml") == spec
    assert model_toml(again) == model_toml(spec)


def test_round_trip_of_the_python_doc() -> None:
    assert dataclasses.replace(parse_model(model_toml(DOC)), path="") == DOC


@pytest.mark.parametrize("loss", ["E = 1/T sum_t E_t", "E = E_{T-1}", "E = sum_t E_t / T"])
def test_other_losses_load(loss: str) -> None:
    spec = parse_model(_gru('"E = sum_t E_t"', f'"{loss}"'))
    assert spec.head == (loss,) and spec.loss == "E"
    unroll(spec, steps=2)


def test_defaults_and_layouts() -> None:
    text = """name = 'tiny'   # a literal string
parameters = [
    "w",  # the only weight
]
inputs = ["x"]
cell = ['s_t = tanh(w s_{t-1} + x_t)']
initial = {s="zero"}
loss = '''E = s_{T-1}'''
"""
    spec = parse_model(text)
    assert (spec.title, spec.head, spec.states, spec.keys, spec.functions) == \
        ("", ("E = s_{T-1}",), ("s",), ("s",), {})
    assert spec.initial == {"s": "zero"} and spec.refs == {} and spec.article_steps == 0


def test_load_model_reads_a_file(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "gru.toml"
    path.write_text(GRU_TEXT, encoding="utf-8")
    assert load_model(path) == dataclasses.replace(GRU, path=str(path))


# ---- 1. TOML syntax ---------------------------------------------------------------------

def test_toml_syntax_error_at_tomllib_position() -> None:
    text = _doc('name = "doc"', 'name = "doc')
    _expect(text, '"doc\n', "not valid TOML: illegal character", shift=4)


def test_toml_missing_equals() -> None:
    text = _doc("parameters = [", "parameters [")
    _expect(text, "parameters [", "not valid TOML: expected '=' after a key", shift=11)


def test_toml_duplicate_key_points_at_the_second() -> None:
    text = _doc('a_0 = "S1"', 'a_0 = "S1"\nb_0 = "S0"')
    _expect(text, "b_0", "refs.b_0 is given twice", nth=1)


# ---- 2. equations that do not parse ----------------------------------------------------------

def test_parse_error_at_the_end_of_the_equation() -> None:
    text = _doc('"b_t = s_{t-1}*w"', '"b_t = s_{t-1}*"')
    _expect(text, '"b_t = s_{t-1}*"', "cannot parse the equation 'b_t = s_{t-1}*': found the end"
            ' of the equation where a name, a number, "(", "-" or sum_t was expected', shift=15)


def test_parse_error_at_the_unexpected_token() -> None:
    text = _doc('"z_t = a_t + b_t + k"', '"z_t = a_t + * b_t + k"')
    _expect(text, "+ * b_t", "found '*' where a name", shift=2)


def test_a_unary_plus_reads_as_in_hand_formulas() -> None:
    """One grammar: ``+ b_t`` is b_t in a model line as in a hand formula."""
    text = _doc('"z_t = a_t + b_t + k"', '"z_t = a_t + + b_t + k"')
    assert "z_t = a_t + + b_t + k" in parse_model(text, path="m.toml").cell


def test_parse_error_missing_equals_sign() -> None:
    text = _doc('"a_t = x_t*u"', '"a_t x_t*u"')
    _expect(text, "a_t x_t*u", 'cannot parse the equation \'a_t x_t*u\': it has no "="; an '
            "equation reads name = expression")


def test_parse_error_column_through_an_escape() -> None:
    text = _doc('"z_t = a_t + b_t + k"', '"z_t = \\u0061_t + b_t + k )"')
    _expect(text, "k )", "found ')'", shift=2)


# ---- 3. undefined names ----------------------------------------------------------------------

def test_undefined_name_in_the_cell() -> None:
    text = _doc('"z_t = a_t + b_t + k"', '"z_t = a_t + bb_t + k"')
    _expect(text, "bb_t", "undefined name bb: it is not a parameter, input or target and no "
            "equation defines it")


def test_undefined_name_in_the_head() -> None:
    text = _doc('"o = g(q)"', '"o = g(qq)"')
    _expect(text, "qq", "undefined name qq")


def test_undefined_name_in_the_loss() -> None:
    _expect(_doc('"E = L(o, y)"', '"E = L(o, yy)"'), "yy", "undefined name yy")


def test_t_alone_is_no_name() -> None:
    _expect(_doc("x_t*u", "x_t*u*t"), "*t", "t alone is no name", shift=1)


# ---- 4. used before it is defined ------------------------------------------------------------

def test_cell_uses_a_node_of_a_later_line() -> None:
    text = _doc('"a_t = x_t*u"', '"a_t = x_t*u + b_t"')
    _expect(text, "b_t\"", "b_t is used before it is defined (on line 12); move that equation "
            "above this one")


def test_head_uses_a_node_of_a_later_line() -> None:
    text = _doc('"q = s_{T-1}*v",', '"q = s_{T-1}*v + r",\n    "r = s_{T-1}*k",')
    _expect(text, "r\"", "r is used before it is defined")


# ---- 5. cycles --------------------------------------------------------------------------------

def test_cycle_of_two_nodes() -> None:
    text = _doc('"a_t = x_t*u"', '"a_t = x_t*u*b_t"').replace('"b_t = s_{t-1}*w"',
                                                                  '"b_t = a_t*w"')
    _expect(text, "b_t\"", "a_t depends on itself at the same step (a_t -> b_t -> a_t); one of "
            "them must read the step before, e.g. b_{t-1}")


def test_node_that_needs_itself() -> None:
    _expect(_doc('"a_t = x_t*u"', '"a_t = x_t*u + a_t"'), "a_t\"", "(a_t -> a_t)")


def test_cycle_in_the_head() -> None:
    _expect(_doc('"q = s_{T-1}*v"', '"q = s_{T-1}*v*o"'), "*o\"",
            "q depends on itself at the same step (q -> o -> q)", shift=1)


# ---- 6. unused names ----------------------------------------------------------------------

def test_unused_parameter() -> None:
    text = _doc('["u", "w", "k", "v"]', '["u", "w", "k", "v", "c"]')
    _expect(text, '"c"', "parameter c is not used by any equation; remove it from parameters")


def test_unused_input() -> None:
    _expect(_doc('inputs = ["x"]', 'inputs = ["x", "xx"]'), '"xx"', "input xx is not used")


# ---- 7. states and initial values ------------------------------------------------------------

def test_state_without_initial_value() -> None:
    text = _doc('initial = { s = "given" }', "initial = {}")
    _expect(text, "s_{t-1}", 's_{t-1} reads s at the step before, so s is a state and needs its '
            'value at step -1: add it to initial, e.g. initial = { s = "given" } (or "zero")')


def test_initial_entry_that_is_not_a_state() -> None:
    text = _doc('initial = { s = "given" }', 'initial = { s = "given", q = "zero" }')
    _expect(text, 'q = "zero"', "initial gives q a value at step -1, but q is not a state")


def test_initial_value_other_than_given_or_zero() -> None:
    _expect(_doc('{ s = "given" }', '{ s = "one" }'), '"one"',
            'initial value of s must be "given" (a leaf of the graph) or "zero", not \'one\'')


# ---- 8. two definitions --------------------------------------------------------------------

def test_name_defined_twice_in_the_cell() -> None:
    text = _doc('"s_t = f(z_t)",', '"s_t = f(z_t)",\n    "a_t = s_t",')
    _expect(text, "a_t = s_t", "a is defined twice (also on line 11); rename one")


def test_head_defines_a_name_of_the_cell() -> None:
    _expect(_doc('"o = g(q)"', '"a = g(q)"'), "a = g", "a is defined twice (also on line 11)")


def test_head_defines_the_loss_name() -> None:
    _expect(_doc('"o = g(q)"', '"E = g(q)"'), "E = L", "E is defined twice")


# ---- 9. functions -------------------------------------------------------------------------

def test_unknown_function_lists_the_known_ones() -> None:
    _expect(_doc('"s_t = f(z_t)"', '"s_t = sigmod(z_t)"'), "sigmod", "unknown function sigmod; "
            "known functions: bce, exp, f, g, identity, L, log, mse, relu, sigmoid, tanh, xent")


def test_function_name_with_a_space_before_its_parenthesis() -> None:
    """One grammar: a function's name before a bracket calls it, space or not, as in a hand
    formula; a name that is no function before a bracket multiplies (v (1 - z_t))."""
    spaced = parse_model(_gru("sigmoid(wr x_t", "sigmoid (wr x_t"), path="m.toml")
    plain = parse_model(_gru("", ""), path="m.toml")
    assert unroll(spaced, steps=2).nodes.keys() == unroll(plain, steps=2).nodes.keys()
    assert [n.expr for n in unroll(spaced, steps=2).nodes.values()] == \
        [n.expr for n in unroll(plain, steps=2).nodes.values()]


def test_function_with_the_wrong_number_of_arguments() -> None:
    _expect(_doc('"E = L(o, y)"', '"E = L(o)"'), "L(o)", "L takes 2 arguments, not 1")


def test_function_role_must_be_a_role() -> None:
    _expect(_doc('g = "output"', 'g = "out"'), '"out"', "function g = 'out': the role must be "
            "one of activation, output, loss")


# ---- 10. required keys and types -----------------------------------------------------------

@pytest.mark.parametrize("key", ["name", "parameters", "cell", "loss"])
def test_missing_required_key(key: str) -> None:
    lines = GRU_TEXT.split("\n")
    text = "\n".join(line for line in lines if not line.startswith(f"{key} "))
    if key == "cell":
        text = "\n".join(lines[:6] + lines[13:])
    assert _error(text).startswith(f"m.toml:1:1: missing required key {key}: ")


def test_number_where_a_list_of_strings_belongs() -> None:
    text = _doc('["u", "w", "k", "v"]', '["u", 3]')
    _expect(text, "3]", 'parameters must be a list of names, e.g. parameters = ["u", "w"]; found'
            " the number 3 as item 2")


def test_string_where_a_list_belongs() -> None:
    _expect(_gru('inputs = ["x"]', 'inputs = "x"'), '"x"', "inputs must be a list of names")


def test_number_where_an_equation_belongs() -> None:
    _expect(_gru('loss = "E = sum_t E_t"', "loss = 1"), "= 1", "loss must be one equation",
            shift=2)


def test_article_steps_must_be_a_count() -> None:
    _expect(_doc("article_steps = 2", "article_steps = true"), "true",
            "article_steps must be a whole number from 0 to 1000; found true/false")


def test_unknown_key_lists_the_known_keys() -> None:
    _expect(_doc("title =", "titel ="), "titel", "unknown key 'titel'; the known keys are name, "
            "title, parameters")


def test_empty_cell() -> None:
    text = GRU_TEXT[:GRU_TEXT.index("cell = [")] + "cell = []\n" + GRU_TEXT[
        GRU_TEXT.index("loss ="):]
    _expect(text, "[]", "cell must hold at least one equation")


# ---- 11. names with an underscore ------------------------------------------------------------

def test_a_subscript_that_is_a_step_in_a_list() -> None:
    _expect(_doc('"k", "v"]', '"k", "v", "W_t"]'), '"W_t"',
            "W_t: a name is letters and digits with at most one subscript of letters")


def test_a_subscripted_name_in_an_equation_is_a_name() -> None:
    """un_h is one name (a subscript of letters), not un at a step h: undeclared here."""
    message = _error(_gru("un h_{t-1}", "un_h"))
    assert "un_h" in message and "step" not in message, message


# ---- 12. matrix models -------------------------------------------------------------------------

@pytest.mark.parametrize("table, other", [("sizes", "shapes"), ("shapes", "sizes")])
def test_one_matrix_table_without_the_other(table: str, other: str) -> None:
    text = DOC_TEXT + f"\n[{table}]\nH = 3\n"
    _expect(text, f"[{table}]", f"[{table}] without [{other}]: a matrix model gives both")


# ---- 13. _t after the last step ---------------------------------------------------------------

def test_t_in_the_head_outside_sum_t() -> None:
    _expect(_doc("q = s_{T-1}*v", "q = s_t*v"), "s_t*v", "s_t in the head reads step t, but the "
            "head comes after the last step: write s_{T-1}")


def test_t_in_the_loss_outside_sum_t() -> None:
    _expect(_gru('"E = sum_t E_t"', '"E = E_t"'), 'E_t"', "the loss reads E_t outside sum_t: "
            "write E = sum_t E_t, E = 1/T sum_t E_t or E = E_{T-1}")


def test_t_outside_sum_t_next_to_one() -> None:
    _expect(_gru('"E = sum_t E_t"', '"E = E_t + sum_t E_t"'), "E_t +", "the loss reads E_t")


def test_sum_t_in_the_cell() -> None:
    _expect(_doc("x_t*u", "sum_t x_t*u"), "sum_t", "sum_t adds up all the steps")


# ---- 14. the loss line, and names in two roles -----------------------------------------------

def test_loss_line_defines_one_unindexed_name() -> None:
    _expect(_doc('"E = L(o, y)"', '"E_t = L(o, y)"'), "E_t", "the loss line defines the loss, "
            "one name with no step index: write E = …")


def test_target_that_is_also_a_parameter() -> None:
    _expect(_doc('targets = ["y"]', 'targets = ["y", "u"]'), '"u"]',
            "u is both a parameter and a target; a name has one role")


def test_input_that_is_also_a_parameter() -> None:
    _expect(_doc('inputs = ["x"]', 'inputs = ["x", "w"]'), '"w"]', "w is both a parameter and an"
            " input")


def test_defined_name_that_is_a_parameter() -> None:
    _expect(_doc('"o = g(q)"', '"v = g(q)"'), "v = g", "v is a parameter and also defined by an "
            "equation")


# ---- step indices, keys, refs -----------------------------------------------------------------

def test_parameter_with_a_step_index() -> None:
    _expect(_doc("x_t*u", "x_t*u_t"), "u_t", "parameter u has no step index: write u")


def test_input_without_a_step_index() -> None:
    _expect(_doc("x_t*u", "x*u"), "x*u", "input x is read at the current step: write x_t")


def test_cell_node_without_index_in_the_head() -> None:
    _expect(_doc("q = s_{T-1}*v", "q = s*v"), "s*v", "s is computed at every step: write s_{T-1}")


def test_head_node_in_the_cell() -> None:
    _expect(_doc("x_t*u", "x_t*u*q"), "q\"", "q is defined in the head, after the last step")


def test_keys_must_be_nodes() -> None:
    _expect(_doc('keys = ["o", "s"]', 'keys = ["o", "zz"]'), '"zz"',
            "keys: zz is not a node of the model; the nodes are a, b, z, s, q, o, E")


def test_refs_must_name_equations() -> None:
    _expect(_doc('a_0 = "S1"', 'q_0 = "S1"'), "q_0", "refs: q_0 names no equation")


def test_backward_refs_keys_are_kind_and_name() -> None:
    _expect(_doc('"sum u" = "B1"', '"sumu" = "B1"'), '"sumu"', 'backward_refs: \'sumu\' must be '
            '"kind name"')


# ---- garbage and unreadable files -------------------------------------------------------------

def test_random_garbage_is_one_line() -> None:
    rng = random.Random(2024)
    pieces = list('abxyzt_{}()[]=+-*/^,"\'#\n .019\\') + ["sum_t", "E_t", "[refs]", "\x00"]
    for n in range(300):
        if n % 3 == 0:
            text = "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(80)))
        else:
            chars = list(DOC_TEXT if n % 2 else GRU_TEXT)
            for _ in range(rng.randint(1, 4)):
                i = rng.randrange(len(chars))
                chars[i:i + rng.randint(0, 2)] = [rng.choice(pieces)]
            text = "".join(chars)
        try:
            parse_model(text, path="m.toml")
        except ModelFileError as exc:
            assert "\n" not in str(exc) and str(exc).startswith("m.toml:")


def test_binary_file(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "model.toml"
    path.write_bytes(b'name = "x"\n\x89PNG\r\n\x1a\n\x00\x00')
    with pytest.raises(ModelFileError, match=r"model\.toml:2:1: not UTF-8 text \(byte 0x89\)"):
        load_model(path)
    path.write_bytes(b"\x00\x01\x02binary\xff"[:9])
    with pytest.raises(ModelFileError, match=r"model\.toml:1:1: not valid TOML"):
        load_model(path)


def test_missing_file_and_directory(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ModelFileError, match=r"cannot read model file '.*nope\.toml': No such"):
        load_model(tmp_path / "nope.toml")
    with pytest.raises(ModelFileError, match="cannot read model file"):
        load_model(tmp_path)


def test_the_built_in_doc_is_the_article_s_model() -> None:
    """doc.toml against the article's S1-S12, typed here (not the loader's own output)."""
    spec = builtin("doc")
    assert spec.cell == ("a_t = x_t*u", "b_t = s_{t-1}*w", "z_t = a_t + b_t + k",
                         "s_t = f(z_t)")
    assert spec.head == ("q = s_{T-1}*v", "o = g(q)", "E = L(o, y)")
    assert (spec.parameters, spec.inputs, spec.targets, spec.states, spec.loss) == (
        ("u", "w", "k", "v"), ("x",), ("y",), ("s",), "E")
    assert spec.refs[("q", None)] == "S9" and spec.refs[("s", 1)] == "S8"
    assert spec.backward_refs[("state", "w")] == "B8"


@pytest.mark.parametrize("old,new,where", [
    ('parameters = ["u", "w", "k", "v"]', 'parameters = ["u", "w1", "k", "v"]', "w1 ends in"),
    ('"a_t = x_t*u"', '"a2_t = x_t*u"', "a2 ends in"),
])
def test_a_name_that_ends_in_a_digit_is_refused(old: str, new: str, where: str) -> None:
    """s1 means s at step 1 in a hand formula: a model name w1 could never be read back."""
    text = builtin_text("doc").replace(old, new)
    if "w1" in new:
        text = text.replace("s_{t-1}*w", "s_{t-1}*w1")
    else:
        text = text.replace("z_t = a_t", "z_t = a2_t")
    with pytest.raises(ModelFileError, match=where) as exc:
        parse_model(text, path="m.toml")
    assert str(exc.value).startswith("m.toml:") and "\n" not in str(exc.value)


def test_a_role_function_is_named_after_its_role() -> None:
    """An abstract activation prints as f: naming it phi would print a name the file lacks."""
    text = builtin_text("doc").replace("s_t = f(z_t)", "s_t = phi(z_t)").replace(
        "functions = { f = ", "functions = { phi = ")
    with pytest.raises(ModelFileError, match="is named f") as exc:
        parse_model(text, path="m.toml")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("functions"))
    assert str(exc.value).startswith(f"m.toml:{line}:")


# ---- defaults: the rules the command line takes when no option says ------------------------

DEFAULTS = DOC_TEXT.replace('functions = { f = "activation", g = "output", L = "loss" }',
                            'functions = { f = "activation", g = "output", L = "loss" }\n'
                            'defaults = { activation = "tanh", output = "sigmoid", loss = "bce" }')


def test_defaults_are_read_and_written_back() -> None:
    assert DEFAULTS != DOC_TEXT
    spec = parse_model(DEFAULTS, path="m.toml")
    assert spec.defaults == {"activation": "tanh", "output": "sigmoid", "loss": "bce"}
    again = parse_model(model_toml(spec), path="again.toml")
    assert again.defaults == spec.defaults and model_toml(again) == model_toml(spec)


def test_defaults_choose_the_rules_unless_an_option_says(tmp_path, capsys) -> None:  # noqa: ANN001
    """derive with the file's defaults prints what the explicit options print; an option
    given still wins (--activation f keeps f abstract)."""
    from bptt_sym.cli.main import main

    model = tmp_path / "m.toml"
    model.write_text(DEFAULTS)

    def derive_out(*argv: str) -> str:
        assert main(["derive", "--wrt", "u", "--form", "closed", *argv]) == 0
        return capsys.readouterr().out

    chosen = derive_out("--model", "doc", "--activation", "tanh", "--output", "sigmoid",
                        "--loss", "bce")
    assert derive_out("--model", str(model)) == chosen
    assert derive_out("--model", str(model), "--activation", "f", "--output", "g",
                      "--loss", "L") == derive_out("--model", "doc")


@pytest.mark.parametrize("new, needle, fragment", [
    ('defaults = { activation = "tanh", output = "sigmod", loss = "bce" }', '"sigmod"',
     "defaults.output = 'sigmod': not a rule of that role; choose one of"),
    ('defaults = { activaton = "tanh" }', "activaton",
     "defaults.activaton: a default is for one of the roles activation, output, loss"),
    ('defaults = { activation = 3 }', "{ activation = 3",
     "defaults must be a table of rules by role"),
])
def test_bad_defaults_are_one_line(new: str, needle: str, fragment: str) -> None:
    text = DEFAULTS.replace(
        'defaults = { activation = "tanh", output = "sigmoid", loss = "bce" }', new)
    _expect(text, needle, fragment, shift=len("{ activation = ") if "= 3" in needle else 0)


def test_a_default_for_a_role_the_model_lacks() -> None:
    text = GRU_TEXT.replace("cell = [", 'defaults = { loss = "bce" }\ncell = [', 1)
    _expect(text, "loss = ", "defaults.loss: the model has no function with the role loss")
