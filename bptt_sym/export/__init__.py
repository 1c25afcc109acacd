"""Whole derivations as documents and pictures: standalone LaTeX, Markdown, Jupyter views,
and the unrolled graph drawn with Graphviz."""
