"""The rule tables: each function's derivative in node values, and each matrix operator's vector-
Jacobian product and local Jacobian.
"""
