"""bptt_sym: derive, print and verify the gradients of backpropagation through time.

    >>> from bptt_sym import unroll, derive
    >>> d = derive(unroll("doc", steps=2), wrt="u", form="factored")
    >>> print(d.text("ascii").splitlines()[-1])
    dE/du = dE/do * do/dq * v_1 * ds_1/dz_1 * (x_1 + w_1 * ds_0/dz_0 * x_0)
"""

from bptt_sym.derivation.forms import FORMS, Derivation, Equation
from bptt_sym.derivation.registry import derive
from bptt_sym.derivation.sweep import evaluate_partials, total
from bptt_sym.errors import BpttError, UsageError
from bptt_sym.graph.build import Graph, Node, unroll
from bptt_sym.model.registry import MODELS, ModelSpec
from bptt_sym.notation import Partial, split_name, step_symbol
from bptt_sym.printing.leibniz import FORMATS, leibniz
from bptt_sym.rules.functions import RULES, Rule
from bptt_sym.verification.run import Report, verify
from bptt_sym.version import __version__

__all__ = ["FORMS", "FORMATS", "MODELS", "RULES", "BpttError", "Derivation", "Equation",
           "Graph", "ModelSpec", "Node", "Partial", "Report", "Rule", "UsageError", "derive",
           "evaluate_partials", "leibniz", "split_name", "step_symbol", "total", "unroll", "verify",
           "__version__"]
