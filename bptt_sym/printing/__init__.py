"""Printing: the Leibniz printers (ASCII, Unicode, LaTeX) of partials, sums and matrix
expressions, and the breaking of long LaTeX lines."""
