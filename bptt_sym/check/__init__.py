"""Checking hand derivations: resolve a formula against the graph, decide it (holds, fails,
undecided) and explain a failure.
"""
