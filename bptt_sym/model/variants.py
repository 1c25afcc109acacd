"""A model file's ``[variants]``: the same cell with some of its lines written another way, as
published versions of a cell differ (a GRU's reset gate after the product W_hn h_{t-1}, as
PyTorch and cuDNN compute it, or before it, as Cho et al. 2014 write it).  ``check`` tries
each variant when a person's formula fails: one that holds for a variant is named ("that is
the gru-cho variant").

    [variants.gru-cho]
    about = "the reset gate before the product, as Cho et al. 2014 and d2l write it"
    cell = ["n_t = tanh(W_in x_t + b_in + W_hn (r_t * h_{t-1}) + b_hn)"]

Each line of a variant's ``cell`` replaces the cell line that defines the same node; the
variant keeps every name of the model, so that a formula written for one reads in the other.
A variant is checked as the whole model is: every misfit is one ``FILE:LINE:COL`` error.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping

from bptt_sym.model.line import parse_line
from bptt_sym.model.places import ModelFileError, Places

__all__ = ["read_variants", "variant_spec"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")
_KEYS = ("about", "cell")


def read_variants(places: Places, data: Mapping[str, object], arities: Mapping[str, int],
                  build: Callable[[dict], object]) -> dict[str, dict[str, object]]:
    """The checked ``[variants]`` of ``data`` ({} without one): name → {"about", "cell"}.
    ``build`` makes the model of a data table (each variant is built once, so that its
    errors are found when the file is read)."""
    table = data.get("variants")
    if table is None:
        return {}
    lines = {_defined(places, ("cell", i), s, arities): i for i, s in enumerate(data["cell"])}
    out: dict[str, dict[str, object]] = {}
    for name, v in table.items():
        where = ("variants", name)
        if not _NAME.fullmatch(name):
            raise places.error(where, f"variant name {name!r} must be a letter followed by "
                               "letters, digits and -", key=True)
        if not isinstance(v, dict):
            raise places.error(where, f"[variants.{name}] must be a table with cell = [...] "
                               "(and about = \"...\")", key=True)
        for key in v:
            if key not in _KEYS:
                raise places.error((*where, key), f"unknown key {key!r} in [variants.{name}]; "
                                   f"the known keys are {', '.join(_KEYS)}", key=True)
        about, cell = v.get("about", ""), v.get("cell")
        if not isinstance(about, str):
            raise places.error((*where, "about"), f"[variants.{name}] about must be a string")
        if not (isinstance(cell, list) and cell and all(isinstance(s, str) for s in cell)):
            raise places.error((*where, "cell") if "cell" in v else where,
                               f"[variants.{name}] cell must be a list of the cell's equations "
                               "written another way, e.g. cell = [\"n_t = …\"]",
                               key="cell" not in v)
        new = list(data["cell"])
        for j, source in enumerate(cell):
            node = _defined(places, (*where, "cell", j), source, arities)
            if node not in lines:
                raise places.error((*where, "cell", j), f"[variants.{name}]: {node} is not "
                                   f"defined by a line of the cell ({', '.join(lines)}); a "
                                   "variant rewrites lines of the cell")
            new[lines[node]] = source
        try:
            build({**{k: x for k, x in data.items() if k not in ("variants", "torch")},
                   "cell": new, "name": name, "title": about})
        except ModelFileError as exc:
            why = str(exc)[len(places.path) + 1:].split(": ", 1)[-1]
            raise places.error(where, f"[variants.{name}]: {why}", key=True) from None
        out[name] = {"about": about, "cell": tuple(new)}
    return out


def _defined(places: Places, path: tuple, source: str, arities: Mapping[str, int]) -> str:
    return parse_line(places, path, "cell", source, dict(arities)).name


def variant_spec(spec: object, name: str) -> object:
    """The model ``spec`` with the lines of its variant ``name``: named after the variant,
    titled by its ``about``, with no variants of its own."""
    v = spec.variants[name]
    return dataclasses.replace(spec, name=name, title=v["about"], cell=v["cell"], variants={},
                               torch={})
