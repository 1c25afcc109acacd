"""Model files: a recurrent model written as TOML, read into a ModelSpec, and back.

A file names the parameters, inputs, targets and states' initial values and holds the
equations in the article's notation (read by the project's grammar, never ``eval``); a
matrix model adds ``[sizes]`` and ``[shapes]`` (:mod:`bptt_sym.model.shapes`).
Every problem is one :class:`ModelFileError` line ``FILE:LINE:COL: what is wrong``.

    >>> spec = builtin("doc")
    >>> spec.cell[0], spec.states, spec.loss
    ('a_t = x_t*u', ('s',), 'E')
    >>> parse_model(model_toml(spec), path=spec.path) == spec
    True
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources

from bptt_sym.errors import UsageError
from bptt_sym.files import read_bytes
from bptt_sym.model.checks import Line, check_equations, digit_ending, function_arities, parse_line
from bptt_sym.model.places import ModelFileError, Path, Places, line_col, located, tomllib
from bptt_sym.model.shapes import check_shapes, default_adjoints, read_shapes, read_sizes
from bptt_sym.model.spec import ModelSpec
from bptt_sym.model.torch_table import read_torch
from bptt_sym.model.variants import read_variants
from bptt_sym.model.write import model_toml
from bptt_sym.notation import STEP_LETTERS
from bptt_sym.rules.expressions import MATRIX_FUNCTIONS
from bptt_sym.rules.functions import ABSTRACT, ROLES, rule_names

__all__ = ["BUILTIN", "ModelFileError", "parse_model", "load_model", "model_toml", "builtin",
           "builtin_text"]

BUILTIN: tuple[str, ...] = ("doc", "elman", "lstm", "lstm-peephole", "gru", "gru-cho")
MAX_MODEL_BYTES = 1_000_000
MAX_EQUATIONS = 500
MAX_ARTICLE_STEPS = 1000

_KEYS: dict[str, tuple[str, str]] = {  # key: (kind, what belongs there)
    "name": ("string", 'a string, e.g. name = "gru"'),
    "title": ("string", 'a string, e.g. title = "a scalar GRU"'),
    "parameters": ("names", 'a list of names, e.g. parameters = ["u", "w"]'),
    "inputs": ("names", 'a list of names, e.g. inputs = ["x"]'),
    "targets": ("names", 'a list of names, e.g. targets = ["y"]'),
    "initial": ("table", 'a table of "given" or "zero", e.g. initial = { s = "given" }'),
    "cell": ("strings", 'a list of equations, e.g. cell = ["s_t = f(x_t*u + s_{t-1}*w)"]'),
    "head": ("strings", 'a list of equations, e.g. head = ["o = g(s_{T-1}*v)"]'),
    "loss": ("string", 'one equation, e.g. loss = "E = L(o, y)"'),
    "functions": ("table", 'a table of roles, e.g. functions = { f = "activation" }'),
    "keys": ("names", 'a list of node names, e.g. keys = ["s"]'),
    "article_steps": ("count", f"a whole number from 0 to {MAX_ARTICLE_STEPS}"),
    "refs": ("table", 'a table of equation numbers, e.g. a_0 = "S1" under [refs]'),
    "backward_refs": ("table", 'a table of equation numbers, e.g. "sum u" = "B1"'),
    "optional": ("names", 'a list of parameters that --bias adds, e.g. optional = ["b"]'),
    "adjoints": ("table", 'a table of names, e.g. adjoints = { z = "delta" }'),
    "defaults": ("table", 'a table of rules by role, e.g. defaults = { activation = "tanh" }'),
    "sizes": ("sizes", "a table of whole numbers, e.g. H = 4 under [sizes]"),
    "shapes": ("table", 'a table of shapes, e.g. W = "H x H" under [shapes]'),
    "torch": ("torch", 'a table naming the torch.nn module and its gates\' weights, e.g. '
                       'module = "GRU" under [torch]'),
    "variants": ("torch", 'a table of variants of the cell, e.g. cell = ["n_t = …"] under '
                          '[variants.gru-cho]'),
}
_REQUIRED = ("name", "parameters", "cell", "loss")
_ROLE_KEYS = (("parameters", "parameter"), ("inputs", "input"), ("targets", "target"),
              ("functions", "function"))
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_SUBSCRIPTED = re.compile(r"([A-Za-z][A-Za-z0-9]*)_([A-Za-z]{1,8})")
_ROLE_NAMES = {"activation": "f", "output": "g", "loss": "L"}  # the abstract rules' names
_REF_KEY = re.compile(r"([A-Za-z][A-Za-z0-9]*)(?:_(\d+))?")


# ---- reading ------------------------------------------------------------------------------

def load_model(path: str | os.PathLike[str]) -> ModelSpec:
    """The model in the TOML file ``path``; an unreadable file is one line naming it."""
    name = os.fsdecode(path)
    try:
        data = read_bytes(name, "model file", MAX_MODEL_BYTES)
    except UsageError as exc:
        raise ModelFileError(str(exc)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[:exc.start].decode("utf-8-sig", errors="replace")
        raise located(name, *line_col(before, len(before)), f"not UTF-8 text (byte "
                      f"0x{data[exc.start]:02x}); save the model file as UTF-8") from None
    return parse_model(text, path=name)


def parse_model(text: str, *, path: str = "<model>") -> ModelSpec:
    """The model in the TOML ``text`` (``path`` names it in errors and in the spec)."""
    return _build(Places(text, path), _toml(text, path))


def _build(places: Places, data: dict[str, object]) -> ModelSpec:
    path = places.path
    _check_keys(places, data)
    for key, value in data.items():
        _check_type(places, key, value)
    _check_values(places, data)
    _check_defaults(places, data)
    roles = _roles(places, data)
    functions = dict(data.get("functions", {}))
    arities = function_arities(functions)
    matrix = "shapes" in data
    if matrix:
        arities.update(MATRIX_FUNCTIONS)
    lines = [parse_line(places, (part, i), part, source, arities)
             for part in ("cell", "head") for i, source in enumerate(data.get(part, ()))]
    lines.append(parse_line(places, ("loss",), "loss", data["loss"], arities))
    initial = dict(data.get("initial", {}))
    check_equations(places, lines, roles, arities, initial)
    keys = tuple(data.get("keys", initial))
    _check_annotations(places, data, lines)
    sizes, derived = read_sizes(places, data) if matrix else ({}, {})
    shapes = _shapes(places, data, lines, roles, sizes, arities, derived) if matrix else {}
    _check_optional(places, data, lines)
    torch = read_torch(places, data, shapes)
    variants = read_variants(places, data, arities, lambda d: _build(places, d))
    return ModelSpec(
        name=data["name"], title=data.get("title", ""), cell=tuple(data["cell"]),
        head=(*data.get("head", ()), data["loss"]), parameters=tuple(data["parameters"]),
        inputs=tuple(data.get("inputs", ())), targets=tuple(data.get("targets", ())),
        states=tuple(initial), keys=keys, loss=lines[-1].name,
        article_steps=data.get("article_steps", 0),
        refs={_ref_key(k): v for k, v in data.get("refs", {}).items()},
        backward_refs={tuple(k.split()): v for k, v in data.get("backward_refs", {}).items()},
        functions=functions, initial={k: v for k, v in initial.items() if v != "given"},
        path=path, shapes=shapes, sizes=sizes, derived_sizes=derived,
        optional=tuple(data.get("optional", ())),
        adjoints=dict(data.get("adjoints", {}) or (
            default_adjoints(lines, tuple(initial)) if matrix else {})),
        defaults=dict(data.get("defaults", {})), torch=torch, variants=variants)


def _shapes(places: Places, data: Mapping[str, object], lines: list[Line],
            roles: Mapping[str, tuple[str, Path]], sizes: Mapping[str, int],
            arities: Mapping[str, int], derived: Mapping[str, tuple[str, ...]]
            ) -> dict[str, tuple[str, str]]:
    leaves = {n for n, (role, _) in roles.items() if role != "function"} | \
        set(data.get("initial", {}))
    names = leaves | {ln.name for ln in lines}
    declared = read_shapes(places, data, sizes, names, derived)
    return check_shapes(places, lines, sizes, declared, leaves, arities, lines[-1].name,
                        derived)


def _check_optional(places: Places, data: Mapping[str, object], lines: list[Line]) -> None:
    """optional names parameters; adjoints maps a cell node to a new name."""
    for i, name in enumerate(data.get("optional", ())):
        if name not in data["parameters"]:
            raise places.error(("optional", i), f"optional: {name} is not a parameter; "
                               "optional lists the parameters --bias adds")
    cell = {ln.name for ln in lines if ln.part == "cell"}
    taken = {ln.name for ln in lines} | set(data["parameters"]) | \
        set(data.get("inputs", ())) | set(data.get("targets", ()))
    for node, name in data.get("adjoints", {}).items():
        if node not in cell:
            raise places.error(("adjoints", node), f"adjoints: {node} is not a node of the "
                               f"cell; the nodes are {', '.join(sorted(cell))}", key=True)
        _check_name(places, ("adjoints", node), name)
        if name in taken:
            raise places.error(("adjoints", node), f"adjoints: {name} is already a name of the "
                                                   "model; choose another")


def _toml(text: str, path: str) -> dict[str, object]:
    """The TOML table of ``text``; a syntax error is one line at tomllib's line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        why = str(exc)
        m = re.search(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$", why)
        line, col = (int(m[1]), int(m[2])) if m and m[1] else line_col(text, len(text))
        why = why[:m.start()] if m else why
        if why.startswith("Cannot overwrite") or why.startswith("Cannot declare"):
            twice = Places(text, path).twice
            if twice is not None:
                line, col = Places(text, path).at(twice, key=True)
                why = f"{'.'.join(map(str, twice))} is given twice"
        raise located(path, line, col, f"not valid TOML: {why[:1].lower()}{why[1:]}") from None
    except (ValueError, RecursionError) as exc:  # a number of too many digits, deep nesting
        why = str(exc).split("\n")[0][:100] or "nested too deeply"
        raise located(path, 1, 1, f"not valid TOML: {why}") from None


# ---- the keys and their values ---------------------------------------------------------------

def _check_keys(places: Places, data: Mapping[str, object]) -> None:
    for key in data:
        if key not in _KEYS:
            raise places.error((key,), f"unknown key {key!r}; the known keys are "
                                       f"{', '.join(_KEYS)}", key=True)
    for key in _REQUIRED:
        if key not in data:
            raise located(places.path, 1, 1, f"missing required key {key}: {_KEYS[key][1]}")
    for key, other in (("sizes", "shapes"), ("shapes", "sizes")):
        if key in data and other not in data:
            raise places.error((key,), f"[{key}] without [{other}]: a matrix model gives both "
                               "(the size letters, and each name's shape in them)", key=True)


def _check_type(places: Places, key: str, value: object) -> None:
    kind, what = _KEYS[key]
    if kind in ("sizes", "torch"):
        ok, items = isinstance(value, dict), []
    elif kind in ("string", "count"):
        items: list[tuple[Path, object]] = []
        ok = isinstance(value, str) if kind == "string" else (
            isinstance(value, int) and not isinstance(value, bool)
            and 0 <= value <= MAX_ARTICLE_STEPS)
    elif kind == "table":
        ok, items = isinstance(value, dict), list(getattr(value, "items", dict)())
    else:
        ok, items = isinstance(value, list), list(enumerate(value)) if isinstance(value, list) \
            else []
    if not ok:
        raise places.error((key,), f"{key} must be {what}; found {_kind(value)}")
    for sub, item in items:
        if not isinstance(item, str):
            where = f"for {sub}" if kind == "table" else f"as item {int(sub) + 1}"
            raise places.error((key, sub), f"{key} must be {what}; found {_kind(item)} {where}")


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    kinds = {str: "a string", list: "a list", dict: "a table"}
    return next((k for t, k in kinds.items() if isinstance(value, t)), "a date or time")


def _check_values(places: Places, data: Mapping[str, object]) -> None:
    if not _NAME.fullmatch(data["name"].replace("-", "")) or len(data["name"]) > 64:
        raise places.error(("name",), f"name {data['name']!r} must be a letter followed by "
                                      "letters, digits and -, at most 64 characters")
    if not data["cell"]:
        raise places.error(("cell",), "cell must hold at least one equation (of step t)")
    if len(data["cell"]) + len(data.get("head", ())) > MAX_EQUATIONS:
        raise places.error(("cell",), f"a model has at most {MAX_EQUATIONS} equations")
    for state, value in data.get("initial", {}).items():
        _check_name(places, ("initial", state), state, key=True)
        if value not in ("given", "zero"):
            raise places.error(("initial", state), f'initial value of {state} must be "given"'
                               f' (a leaf of the graph) or "zero", not {value!r}')
    for letter, role in data.get("functions", {}).items():
        named = _ROLE_NAMES.get(role)
        if named is not None and letter != named:
            raise places.error(("functions", letter), f"function {letter} = {role!r}: a "
                               f"function with the role {role} is named {named} (the name it "
                               f"prints as while abstract); rename it {named}, or give "
                               f"{letter} the role {ABSTRACT!r}", key=True)
        if role not in ROLES and role != ABSTRACT:
            raise places.error(("functions", letter), f"function {letter} = {role!r}: the role "
                               f"must be one of {', '.join(ROLES)} (the option --activation, "
                               f"--output or --loss that replaces it) or {ABSTRACT!r} (a "
                               "function of any number of arguments that no option replaces)")


def _check_defaults(places: Places, data: Mapping[str, object]) -> None:
    """defaults = { activation = "tanh" }: for each role the model has, a rule of the table
    that the CLI takes when its option (--activation, --output, --loss) is not given."""
    roles = set(data.get("functions", {}).values())
    for role, name in data.get("defaults", {}).items():
        if role not in ROLES:
            raise places.error(("defaults", role), f"defaults.{role}: a default is for one of "
                               f"the roles {', '.join(ROLES)}", key=True)
        if role not in roles:
            raise places.error(("defaults", role), f"defaults.{role}: the model has no "
                               f"function with the role {role} (see functions)", key=True)
        if name not in rule_names(role):
            raise places.error(("defaults", role), f"defaults.{role} = {name!r}: not a rule "
                               f"of that role; choose one of {', '.join(rule_names(role))}")


def _check_name(places: Places, path: Path, name: str, key: bool = False) -> None:
    if _NAME.fullmatch(name) and name not in ("t", "T") and not name[-1].isdigit():
        return
    m = _SUBSCRIPTED.fullmatch(name)
    if m and m[2] not in STEP_LETTERS and not m[1][-1].isdigit():
        return  # W_x, W_hh, b_ih: a name with a subscript of letters
    if _NAME.fullmatch(name) and name[-1].isdigit():
        raise places.error(path, digit_ending(name), key=key)
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        why = (f"{name}: a name is letters and digits with at most one subscript of letters "
               "(W_x, W_hh); a subscript t, T, k, j or a number is a step (x_t, s_{t-1})")
    elif name in ("t", "T"):
        why = "t and T are the step and the number of steps; choose another name"
    else:
        why = f"{name!r} is not a name: a name is a letter followed by letters and digits"
    raise places.error(path, why, key=key)


def _roles(places: Places, data: Mapping[str, object]) -> dict[str, tuple[str, Path]]:
    """Each declared name: its role and its place; a name declared twice is an error."""
    reserved = function_arities({})
    roles: dict[str, tuple[str, Path]] = {}
    for key, role in _ROLE_KEYS:
        for i, name in enumerate(data.get(key, ())):
            path, is_key = ((key, name), True) if key == "functions" else ((key, i), False)
            _check_name(places, path, name, key=is_key)
            other = roles.get(name, (None,))[0]
            if other is not None:
                why = (f"{name} is listed twice in {key}" if other == role else
                       f"{name} is both {_a(other)} and {_a(role)}; a name has one role")
                raise places.error(path, why, key=is_key)
            if role != "function" and name in reserved:
                raise places.error(path, f"{name} is a function; choose another name")
            roles[name] = (role, path)
    return roles


def _a(role: str) -> str:
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"


def _check_annotations(places: Places, data: Mapping[str, object], lines: list[Line]) -> None:
    """keys name nodes; refs name equations; backward_refs keys are "kind name"."""
    cell = [ln.name for ln in lines if ln.part == "cell"]
    head = [ln.name for ln in lines if ln.part != "cell"]
    nodes = list(dict.fromkeys(cell + head))
    for i, key in enumerate(data.get("keys", ())):
        if key not in nodes or key in data["keys"][:i]:
            why = "is listed twice" if key in nodes else "is not a node of the model"
            raise places.error(("keys", i), f"keys: {key} {why}; the nodes are "
                                            f"{', '.join(nodes)}")
    for key in data.get("refs", {}):
        m = _REF_KEY.fullmatch(key)
        if m is None or m[1] not in (cell if m[2] else head):
            raise places.error(("refs", key), f"refs: {key} names no equation; write name_step"
                               " for one of the cell (a_0) or name for one of the head or the "
                               "loss (q)", key=True)
    for key in data.get("backward_refs", {}):
        if len(key.split()) != 2 or " ".join(key.split()) != key:
            raise places.error(("backward_refs", key), f"backward_refs: {key!r} must be "
                               '"kind name", e.g. "sum u" or "copy u_1"', key=True)


def _ref_key(key: str) -> tuple[str, int | None]:
    m = _REF_KEY.fullmatch(key)
    return m[1], None if m[2] is None else int(m[2])


# ---- writing ------------------------------------------------------------------------------

def builtin_text(name: str) -> str:
    """The text of the built-in model file ``bptt_sym/builtin/NAME.toml``."""
    if name not in BUILTIN:
        raise UsageError(f"unknown built-in model file {name!r}; choose one of "
                         f"{', '.join(BUILTIN)}")
    path = resources.files("bptt_sym").joinpath("builtin").joinpath(f"{name}.toml")
    return path.read_text(encoding="utf-8")


def builtin(name: str) -> ModelSpec:
    """The model of the built-in file ``name`` (its ``path`` is the file in the package)."""
    return parse_model(builtin_text(name), path=f"bptt_sym/builtin/{name}.toml")
