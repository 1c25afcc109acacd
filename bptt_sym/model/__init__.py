"""Models as data: the one ModelSpec, the TOML model file and its FILE:LINE:COL checks, and the
built-in models.
"""
