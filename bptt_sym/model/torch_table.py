"""A model file's ``[torch]`` table: the ``torch.nn`` module that computes the same recurrence,
and which of the model's weights are its gates, so that ``verify`` can check the derived
gradients against PyTorch's own module (an outside reference) with the weights copied in.

    [torch]
    module = "LSTM"                                   # torch.nn.RNN, LSTM or GRU
    weight_ih = ["W_ii", "W_if", "W_ig", "W_io"]      # the blocks of weight_ih_l0, in order
    weight_hh = ["W_hi", "W_hf", "W_hg", "W_ho"]
    bias_ih = ["b_ii", "b_if", "b_ig", "b_io"]        # optional (no biases: bias=False)
    bias_hh = ["b_hi", "b_hf", "b_hg", "b_ho"]
    output = ["V", "b_y"]                              # logits V h_t + b_y, softmax, cross-entropy

A cell written with one weight per gate on the stack [h_{t-1}; x_t] (Colah's
f_t = σ(W_f [h_{t-1}; x_t] + b_f)) names ``weight = ["W_i", "W_f", "W_C", "W_o"]`` and
``bias = [...]`` instead: each weight's first H columns are that gate's block of
weight_hh_l0, the rest its block of weight_ih_l0; the bias is bias_ih_l0 (bias_hh_l0 zero).

The module's gate order is PyTorch's (LSTM: i, f, g, o; GRU: r, z, n).  Nothing here says
that the model's equations are the module's: that is what ``verify`` finds out.
"""

from __future__ import annotations

from collections.abc import Mapping

from bptt_sym.model.places import Places

__all__ = ["GATES", "read_torch"]

GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}  # blocks of weight_ih_l0 per module
_LISTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight", "bias", "output")
_KEYS = ("module", "nonlinearity", "states", *_LISTS)


def read_torch(places: Places, data: Mapping[str, object],
               shapes: Mapping[str, tuple[str, str]]) -> dict[str, object]:
    """The checked ``[torch]`` table of ``data`` ({} without one); every misfit is one
    ``FILE:LINE:COL`` error."""
    table = data.get("torch")
    if table is None:
        return {}
    if not shapes:
        raise places.error(("torch",), "[torch] is for matrix models (with [sizes] and "
                           "[shapes]): torch.nn modules compute vectors", key=True)
    for key, value in table.items():
        if key not in _KEYS:
            raise places.error(("torch", key), f"unknown key {key!r} in [torch]; the known keys "
                               f"are {', '.join(_KEYS)}", key=True)
        if key in (*_LISTS, "states") and not (isinstance(value, list) and
                                  all(isinstance(v, str) for v in value)):
            raise places.error(("torch", key), f"[torch] {key} must be a list of parameter "
                               "names, e.g. [\"W_ir\", \"W_iz\", \"W_in\"]")
    module = table.get("module")
    if module not in GATES:
        raise places.error(("torch", "module") if "module" in table else ("torch",),
                           f"[torch] module must be one of {', '.join(GATES)}, got {module!r}",
                           key="module" not in table)
    parameters = set(data.get("parameters", ()))
    gates = GATES[module]
    wants = {"weight_ih": ("H", "D"), "weight_hh": ("H", "H"), "bias_ih": ("H", "1"),
             "bias_hh": ("H", "1"), "weight": ("H", "M"), "bias": ("H", "1")}
    stacked = "weight" in table
    for key, other in (("weight_ih", "weight"), ("weight_hh", "weight"), ("bias_ih", "bias"),
                       ("bias_hh", "bias")):
        if key in table and other in table:
            raise places.error(("torch", other), f"[torch] gives {other} (the weights of "
                               f"[h; x]) or {key}, not both", key=True)
    if "bias" in table and not stacked:
        raise places.error(("torch", "bias"), "[torch] bias goes with weight (the weights of "
                           "[h; x]); with weight_ih and weight_hh give bias_ih and bias_hh",
                           key=True)
    for key in _LISTS:
        names = table.get(key, [])
        if key in ("weight_ih", "weight_hh") and not names and not stacked:
            raise places.error(("torch",), f"[torch] needs {key}: the {gates} block"
                               f"{'s' if gates > 1 else ''} of {key}_l0", key=True)
        count = (1, 2) if key == "output" else (gates,)
        if names and len(names) not in count:
            raise places.error(("torch", key), f"[torch] {key} of a torch.nn.{module} has "
                               f"{' or '.join(map(str, count))} name(s), got {len(names)}")
        for i, name in enumerate(names):
            if name not in parameters:
                raise places.error(("torch", key, i), f"[torch] {key}: {name} is not a "
                                   "parameter of the model")
        _same_sizes(places, key, names, shapes, wants.get(key))
    if bool(table.get("bias_ih")) != bool(table.get("bias_hh")):
        raise places.error(("torch",), "[torch] gives bias_ih and bias_hh together (PyTorch "
                           "adds both) or neither", key=True)
    if "output" not in table:
        raise places.error(("torch",), "[torch] needs output: the weight (and bias) of the "
                           "logits that softmax and cross-entropy read", key=True)
    listed = [n for key in _LISTS for n in table.get(key, [])]
    for p in sorted(parameters):
        if listed.count(p) != 1:
            raise places.error(("torch",), f"[torch] names {p} {listed.count(p)} times; every "
                               "parameter is one block of the module or of output", key=True)
    for i, state in enumerate(table.get("states", ())):
        if state not in data.get("initial", {}):
            raise places.error(("torch", "states", i), f"[torch] states: {state} is not a "
                               "state of the model (a name of initial)")
    return dict(table)


def _same_sizes(places: Places, key: str, names: list[str],
                shapes: Mapping[str, tuple[str, str]], want: tuple[str, str] | None) -> None:
    """The blocks of one torch weight share one shape (H×D, H×H or H×1 in the model's
    letters, the first block's letters taken as H and D)."""
    if not names or want is None:
        return
    first = shapes.get(names[0])
    for i, name in enumerate(names):
        if shapes.get(name) != first:
            raise places.error(("torch", key, i), f"[torch] {key}: {name} is "
                               f"{'×'.join(shapes.get(name, ('?', '?')))} but {names[0]} is "
                               f"{'×'.join(first or ('?', '?'))}; the blocks of one weight "
                               "have one shape")
    if first is not None and want[1] == "1" and first[1] != "1":
        raise places.error(("torch", key, 0), f"[torch] {key}: {names[0]} is "
                           f"{'×'.join(first)}, not a column")
