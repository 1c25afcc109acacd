"""The unrolled computation graph: one node per quantity and step, scalar or shaped, with every
edge's local partial.
"""
