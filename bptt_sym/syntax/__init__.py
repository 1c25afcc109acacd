"""Reading text: the grammar of hand formulas and model lines, number literals, and the equations
found in a document.
"""
