"""A ModelSpec written back as a model file (TOML): what ``bptt-sym models --show`` prints
and what :func:`bptt_sym.model.load.parse_model` reads back into the same spec."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from bptt_sym.model.spec import ModelSpec

__all__ = ["model_toml"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def model_toml(spec: ModelSpec) -> str:
    """The canonical model file of ``spec``: ``parse_model(model_toml(s))`` is ``s`` again
    (but for ``path``), with the article's equation numbers as comments."""
    initial = {s: spec.initial_value(s) for s in spec.states}
    out = [f"# bptt-sym model file: {spec.name} (pass it as --model FILE)"]
    out += _aligned([
        (f"name = {_q(spec.name)}", ""), (f"title = {_q(spec.title)}", ""),
        (f"parameters = {_list(spec.parameters)}", "shared by all steps"),
        (f"inputs = {_list(spec.inputs)}", "x_t at each step t = 0 … T-1"),
        (f"targets = {_list(spec.targets)}", ""),
        (f"initial = {_table(initial)}", "each state's value at step -1: \"given\" or \"zero\"")])
    out += ["", "# the equations of step t (_{t-1}: the step before)", "cell = ["]
    out += _aligned([(f"    {_q(e)},", _numbers(spec, e, True)) for e in spec.cell]) + ["]"]
    out += ["# the equations after the last step (_{T-1}: the last step)", "head = ["]
    out += _aligned([(f"    {_q(e)},", _numbers(spec, e, False)) for e in spec.head[:-1]])
    loss = spec.head[-1] if spec.head else ""
    out += ["]"] + _aligned([(f"loss = {_q(loss)}", _numbers(spec, loss, False))])
    out += ["# which function names the options --activation, --output and --loss replace",
            f"functions = {_table(spec.functions)}"]
    out += _aligned([(f"keys = {_list(spec.keys)}", "the nodes the state-level chains pass "
                      "through"), (f"article_steps = {spec.article_steps}",
                                   "the number of steps of the article's numbers")])
    if spec.optional:
        out += [f"optional = {_list(spec.optional)}  # in the model only with --bias"]
    if spec.adjoints:
        out += [f"adjoints = {_table(spec.adjoints)}  # adjoints kept as named vectors"]
    if spec.defaults:
        out += [f"defaults = {_table(spec.defaults)}  # the rules taken when no option says"]
    if spec.is_matrix:
        out += ["", "[sizes]  # the default size of each letter (--size sets them)"]
        out += [f"{_key(k)} = {n}" for k, n in spec.sizes.items()]
        out += [f"{_key(k)} = {_q(' + '.join(v))}  # follows its parts"
                for k, v in spec.derived_sizes.items()]
        out += ["", "[shapes]  # rows x columns of every name that is not a scalar"]
        out += [f"{_key(k)} = {_q(' x '.join(v))}" for k, v in spec.shapes.items()]
    if spec.torch:
        out += ["", "[torch]  # the torch.nn module of the same recurrence: verify's oracle"]
        out += [f"{k} = {_q(v) if isinstance(v, str) else _list(tuple(v))}"
                for k, v in spec.torch.items()]
    for name, v in spec.variants.items():
        out += ["", f"[variants.{_key(name)}]  # the cell with these lines: check names it"]
        changed = tuple(ln for ln, old in zip(v["cell"], spec.cell) if ln != old)
        out += [f"about = {_q(v['about'])}", f"cell = {_list(changed)}"]
    if spec.refs:
        out += ["", "[refs]  # the article's equation numbers: name_step (a_0) or name (q)"]
        out += [f"{_key(n if t is None else f'{n}_{t}')} = {_q(v)}" for (n, t), v in
                spec.refs.items()]
    if spec.backward_refs:
        out += ["", '[backward_refs]  # "kind name" -> the number of a backward equation']
        out += [f"{_key(' '.join(k))} = {_q(v)}" for k, v in spec.backward_refs.items()]
    return "\n".join(out) + "\n"


def _aligned(rows: list[tuple[str, str]]) -> list[str]:
    width = max((len(code) for code, note in rows if note), default=0)
    return [f"{code:<{width}}  # {note}" if note else code for code, note in rows]


def _numbers(spec: ModelSpec, equation: str, cell: bool) -> str:
    m = _NAME.match(equation.strip())
    name = m.group() if m else ""
    return ", ".join(v for (n, t), v in spec.refs.items() if n == name and (t is None) != cell)


def _q(text: str) -> str:
    """``text`` as a TOML basic string (JSON's escapes are TOML's, and DEL is escaped)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _q(key)


def _list(names: tuple[str, ...]) -> str:
    return "[" + ", ".join(map(_q, names)) + "]"


def _table(table: Mapping[str, str]) -> str:
    if not table:
        return "{}"
    return "{ " + ", ".join(f"{_key(k)} = {_q(v)}" for k, v in table.items()) + " }"


# ---- built-in files ---------------------------------------------------------------------
