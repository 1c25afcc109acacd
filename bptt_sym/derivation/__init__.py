"""Derivations: the forward and reverse sweeps over the graph, and the forms (paths, factored,
delta, closed; matrix delta and per-output).
"""
