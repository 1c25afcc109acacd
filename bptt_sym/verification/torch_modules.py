"""PyTorch's own recurrent modules as an outside reference for a model file with a ``[torch]``
table (:mod:`bptt_sym.model.torch_table`): ``torch.nn.RNN``, ``LSTM`` or ``GRU`` in float64,
the model's weights copied into the module's gate blocks, the logits ``W h_t + b`` of the
table's ``output`` with softmax and cross-entropy against y_t summed over the steps, and
``torch.autograd`` for the gradients, split back into the model's names.  Nothing of the
derivation or of the model's equations is used: that the module computes the model's
recurrence is what the comparison tests.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from types import SimpleNamespace

import numpy as np

from bptt_sym.errors import UsageError

__all__ = ["torch_status", "torch_gradient", "torch_program"]


def torch_status(spec: object) -> str | None:
    """None when torch can be the oracle of ``spec``, else why not (one line)."""
    name = getattr(spec, "name", "?")
    if not getattr(spec, "torch", None):
        return (f"torch needs a [torch] table in the model file (the torch.nn module and its "
                f"gates' weights, docs/models.md); use autograd or fd for model {name}")
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed; pip install 'bptt-sym[torch]'"
    return None


def torch_gradient(spec: object, theta: Mapping[str, np.ndarray],
                   data: Mapping[str, np.ndarray], steps: int) -> dict[str, np.ndarray]:
    """∂(Σ_batch Σ_t cross-entropy)/∂p for every weight p named in ``spec.torch``, from the
    torch.nn module; ``theta`` the shared weights (rows, cols), ``data`` the rest (B, rows,
    cols) by graph name (x_0, y_1, h_{-1})."""
    return torch_program(spec, theta, data, steps)()


def torch_program(spec: object, theta: Mapping[str, np.ndarray],
                  data: Mapping[str, np.ndarray],
                  steps: int) -> Callable[[], dict[str, np.ndarray]]:
    """:func:`torch_gradient` made ready to run: the module built and its weights, inputs
    and targets copied in once; each call runs the forward pass and torch.autograd's
    backward (what ``bench/bench_gated.py`` times)."""
    import torch

    table = spec.torch
    module = table["module"]
    if "weight" in table:  # W [h; x]: the first H columns on h, the rest on x
        return _stacked_program(spec, theta, data, steps)
    blocks = {"weight_ih_l0": table["weight_ih"], "weight_hh_l0": table["weight_hh"],
              "bias_ih_l0": table.get("bias_ih", []), "bias_hh_l0": table.get("bias_hh", [])}
    hidden, inputs = theta[blocks["weight_ih_l0"][0]].shape
    options = {"nonlinearity": table.get("nonlinearity", "tanh")} if module == "RNN" else {}
    net = getattr(torch.nn, module)(input_size=inputs, hidden_size=hidden,
                                    bias=bool(blocks["bias_ih_l0"]), batch_first=True,
                                    dtype=torch.float64, **options)
    with torch.no_grad():
        for attr, names in blocks.items():
            if names:
                stacked = np.concatenate([theta[n].reshape(hidden, -1) for n in names])
                getattr(net, attr).copy_(torch.tensor(stacked.reshape(getattr(net, attr).shape)))
    x, y = (torch.tensor(np.stack([data[f"{base}_{s}"][:, :, 0] for s in range(steps)], axis=1))
            for base in (spec.inputs[0], spec.targets[0]))
    batch = x.shape[0]
    first = []
    for state in table.get("states", spec.states):  # h (and c): zero, or given at step -1
        given = data.get(f"{state}_{{-1}}")
        first.append(torch.zeros(1, batch, hidden, dtype=torch.float64) if given is None
                     else torch.tensor(given[:, :, 0])[None])
    out = [torch.tensor(theta[n] if k == 0 else theta[n][:, 0], requires_grad=True)
           for k, n in enumerate(table["output"])]
    missing = [p for p in theta if p not in {n for names in blocks.values() for n in names}
               and p not in table["output"]]
    if missing:
        raise UsageError(f"[torch] of model {spec.name} does not name {', '.join(missing)}; "
                         "every parameter is a block of the module or of output")

    def run() -> dict[str, np.ndarray]:
        net.zero_grad()
        for w in out:
            w.grad = None
        states, _ = net(x, tuple(first) if module == "LSTM" else first[0])
        logits = states @ out[0].T + (out[1] if len(out) > 1 else 0)
        loss = -(y * torch.log_softmax(logits, dim=-1)).sum()
        loss.backward()
        grads: dict[str, np.ndarray] = {}
        for attr, names in blocks.items():
            if names:
                g = getattr(net, attr).grad.detach().numpy().reshape(len(names) * hidden, -1)
                for k, n in enumerate(names):
                    grads[n] = g[k * hidden:(k + 1) * hidden].reshape(theta[n].shape)
        for k, n in enumerate(table["output"]):
            grads[n] = out[k].grad.detach().numpy().reshape(theta[n].shape)
        return grads
    return run


def _stacked_program(spec: object, theta: Mapping[str, np.ndarray],
                     data: Mapping[str, np.ndarray],
                     steps: int) -> Callable[[], dict[str, np.ndarray]]:
    """:func:`torch_program` of a cell with one weight per gate on [h_{t-1}; x_t]: each
    weight split into its blocks of weight_hh_l0 and weight_ih_l0 (bias_hh_l0 zero)."""
    table = spec.torch
    hidden = theta[table["weight"][0]].shape[0]
    theta = dict(theta)
    split = {"weight_hh": [], "weight_ih": [], "bias_ih": [], "bias_hh": []}
    for n in table["weight"]:
        theta[f"{n}:h"], theta[f"{n}:x"] = theta[n][:, :hidden], theta[n][:, hidden:]
        split["weight_hh"].append(f"{n}:h")
        split["weight_ih"].append(f"{n}:x")
    for n in table.get("bias", []):
        theta[f"{n}:0"] = np.zeros_like(theta[n])
        split["bias_ih"].append(n)
        split["bias_hh"].append(f"{n}:0")
    kept = {k: v for k, v in table.items() if k not in ("weight", "bias")}
    parts = SimpleNamespace(torch={**kept, **split}, name=spec.name, inputs=spec.inputs,
                            targets=spec.targets, states=spec.states)
    for n in table["weight"]:
        theta.pop(n)
    run = torch_program(parts, theta, data, steps)

    def joined() -> dict[str, np.ndarray]:
        grads = run()
        for n in table["weight"]:
            grads[n] = np.hstack([grads.pop(f"{n}:h"), grads.pop(f"{n}:x")])
        for n in table.get("bias", []):
            grads.pop(f"{n}:0")
        return grads
    return joined
