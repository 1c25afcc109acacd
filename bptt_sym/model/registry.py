"""Models as data: the built-in models are model files shipped in the package
(``bptt_sym/builtin/*.toml``), read by the same loader as a person's own file.

A model never carries hand-written derivatives; the graph builder reads its lines
with the equation grammar and the rule table does the rest.

    >>> MODELS["doc"].cell[0]
    'a_t = x_t*u'
"""

from __future__ import annotations

import dataclasses

from bptt_sym.errors import UsageError
from bptt_sym.model.load import BUILTIN, builtin, load_model
from bptt_sym.model.spec import ModelSpec

__all__ = ["ModelSpec", "MODELS", "DOC", "model_spec"]

# path "" for the built-ins: they are named by their name, a file by its path
MODELS: dict[str, ModelSpec] = {name: dataclasses.replace(builtin(name), path="")
                                for name in BUILTIN}
DOC = MODELS["doc"]


def model_spec(name: str) -> ModelSpec:
    """The model called ``name``, or the model file at the path ``name`` (one ending in
    .toml); an unknown name is a ``UsageError`` listing the models."""
    if name in MODELS:
        return MODELS[name]
    if name.endswith(".toml"):
        return load_model(name)
    raise UsageError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}, or give a "
                     "model file (NAME.toml)")
