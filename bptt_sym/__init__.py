"""bptt_sym: derive, print and verify the gradients of backpropagation through time.

    >>> from bptt_sym import unroll, derive
    >>> d = derive(unroll("doc", steps=2), wrt="u", form="factored")
    >>> print(d.text("ascii").splitlines()[-1])
    dE/du = dE/do * do/dq * v_1 * ds_1/dz_1 * (x_1 + w_1 * ds_0/dz_0 * x_0)
"""

__version__ = "0.1.0"

from .derive import FORMS, Derivation, Equation, derive
from .errors import BpttError, UsageError
from .graph import Graph, Node, unroll
from .models import MODELS, ModelSpec
from .notation import Partial, split_name, step_symbol
from .printing import FORMATS, leibniz
from .rules import RULES, Rule
from .sweep import evaluate_partials, total
from .verify import Report, verify

__all__ = ["FORMS", "FORMATS", "MODELS", "RULES", "BpttError", "Derivation", "Equation",
           "Graph", "ModelSpec", "Node", "Partial", "Report", "Rule", "UsageError", "derive",
           "evaluate_partials", "leibniz", "split_name", "step_symbol", "total", "unroll", "verify",
           "__version__"]
