#!/usr/bin/env bash
# Regenerate the pictures of docs/export.md (needs pdflatex, pdftoppm and Graphviz's dot):
#   bash docs/images/make_images.sh
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The first page of the document `bptt-sym export --model doc --steps 2` writes.
bptt-sym export --model doc --steps 2 -o "$work/derivation.tex"
# A page of T = 10 with tanh, sigmoid and bce: long equations broken across rows.
bptt-sym export --model doc --steps 10 --wrt u --form factored,closed --activation tanh \
  --output sigmoid --loss bce -o "$work/long.tex"
for doc in derivation long; do
  (cd "$work" && pdflatex -interaction=nonstopmode -halt-on-error "$doc.tex" >/dev/null)
done
pdftoppm -png -r 70 -f 1 -l 1 -singlefile "$work/derivation.pdf" export-first-page
pdftoppm -png -r 70 -f 2 -l 2 -singlefile "$work/long.pdf" export-long-equations

# The graph of the issue's example, and what Jupyter shows for a Graph and a Derivation.
bptt-sym graph --model doc --steps 3 --wrt u -o graph-doc-3-u.svg
bptt-sym graph --model elman --steps 3 --wrt W -o graph-elman-3-W.svg
python - "$work" <<'PY'
import sys
from pathlib import Path

from bptt_sym import derive, unroll

work = Path(sys.argv[1])
Path("jupyter-graph.svg").write_text(unroll("doc", steps=2)._repr_svg_(), encoding="utf-8")
view = derive(unroll("doc", steps=4), wrt="w", form="factored")._repr_latex_()
(work / "view.tex").write_text(
    "\\documentclass[11pt]{article}\\usepackage{amsmath}"
    "\\usepackage[paperwidth=17cm,paperheight=5.2cm,margin=0.4cm]{geometry}"
    "\\pagestyle{empty}\\begin{document}\n\\[" + view[2:-2] + "\\]\n\\end{document}\n",
    encoding="utf-8")
PY
(cd "$work" && pdflatex -interaction=nonstopmode -halt-on-error view.tex >/dev/null)
pdftoppm -png -r 90 -singlefile "$work/view.pdf" jupyter-derivation
ls -l
