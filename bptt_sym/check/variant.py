"""Whether a failing matrix formula holds for a variant of the model (a model file's
``[variants]``, :mod:`bptt_sym.model.variants`): the same cell with a line written another
way, as a GRU's reset gate before or after the product.  The variant is judged as the
model is, at the same sizes and points, so "holds for the variant" promises what "holds"
does."""

from __future__ import annotations

from bptt_sym.check.explain import Diagnosis
from bptt_sym.graph.names import MatrixNames
from bptt_sym.model.variants import variant_spec

__all__ = ["variant_diagnosis"]


def variant_diagnosis(judge: object, lhs: object, rhs: object,
                      free: tuple[str, ...]) -> Diagnosis | None:
    """The first variant for which ``lhs = rhs`` holds, as a diagnosis; None for none."""
    names = judge.names
    spec = names.spec
    if not spec.variants:
        return None
    cache = judge.__dict__.setdefault("_variant_judges", {})
    for name, v in spec.variants.items():
        other = cache.get(name)
        if other is None:
            vnames = MatrixNames(variant_spec(spec, name), names.steps, bias=names.bias,
                                 activation=names.activation, layout=names.layout,
                                 partials=names.partials)
            other = cache[name] = type(judge)(vnames, judge.seed, judge.shapes,
                                              pool=judge.pool, first=judge.first)
        other.condition, other.entries = judge.condition, judge.entries
        try:
            decision, pairs = other.decision(lhs, rhs, free)
        finally:
            other.condition, other.entries = None, {}
        if pairs and decision.verdict == "holds":
            theirs = [ln for ln, mine in zip(v["cell"], spec.cell) if ln != mine]
            ours = [mine for ln, mine in zip(v["cell"], spec.cell) if ln != mine]
            return Diagnosis("variant", f"that is the {name} variant: the formula holds for "
                             f"{'; '.join(theirs)} ({v['about']}), but this model ({spec.name}) "
                             f"has {'; '.join(ours)}")
    return None
