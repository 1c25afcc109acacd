"""bptt-sym export: the documents compile (pdflatex), render (KaTeX, MathJax), match derive.

The references are independent of the export code: pdflatex's exit status and its
``Overfull \\hbox (X pt too wide)`` lines, KaTeX and MathJax parsing every formula, the lines that
``bptt-sym derive --format latex`` and ``bptt-sym unroll --format latex`` print, and the
model's equations typed from the article (S1-S12 with a step index t).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from bptt_sym import derive, unroll
from bptt_sym.cli.main import main
from bptt_sym.export.documents import collect, latex, markdown

from .tools import bptt, need, need_math_engines

FORMS = ["paths", "factored", "delta", "closed"]
ALL_STEPS = range(1, 11)
# (activation, output, loss, explicit): abstract, and the longest closed forms there are.
VARIANTS = [("f", "g", "L", False), ("tanh", "sigmoid", "bce", True)]
MODEL_LATEX = [  # the doc model's equations as the article writes them, typed by hand
    r"a_{t} = x_{t} \cdot u", r"b_{t} = s_{t-1} \cdot w", r"z_{t} = a_{t} + b_{t} + k",
    r"s_{t} = f\left(z_{t}\right)", r"q = s_{T-1} \cdot v", r"o = g\left(q\right)",
    r"E = L\left(o, y\right)"]
OVERFULL = re.compile(r"Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)")
MAX_OVERFULL_PT = 20.0


def document(steps: int, variant: tuple[str, str, str, bool], fmt: str) -> str:
    activation, output, loss, explicit = variant
    g = unroll("doc", steps=steps, activation=activation, output=output, loss=loss)
    found = collect(g, wrt=list(g.copies), forms=FORMS, explicit=explicit)
    return (latex if fmt == "latex" else markdown)(g, found)


def pdflatex(tex: Path) -> tuple[int, str]:
    """Compile ``tex`` in its folder; the exit status and the log."""
    program = need("pdflatex", "apt-get install texlive-latex-base texlive-latex-recommended")
    r = subprocess.run([program, "-interaction=nonstopmode", "-halt-on-error", tex.name],
                       cwd=tex.parent, capture_output=True, text=True, timeout=120)
    log = tex.with_suffix(".log").read_text(encoding="latin-1")
    return r.returncode, log


def assert_compiles_cleanly(tex: Path, text: str) -> None:
    """``text`` written to ``tex`` compiles: exit 0, no error line, no overfull box, a PDF."""
    tex.write_text(text, encoding="utf-8")
    status, log = pdflatex(tex)
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert status == 0 and not errors, errors
    assert "Overfull" not in log
    assert tex.with_suffix(".pdf").stat().st_size > 0


def render_math(*paths: Path) -> dict:
    """Every formula of the Markdown files through KaTeX and MathJax (tests/js/render.js)."""
    script = need_math_engines()
    r = subprocess.run(["node", str(script), *map(str, paths)], capture_output=True,
                       text=True, timeout=300)
    assert r.stdout, r.stderr
    return json.loads(r.stdout)


def assert_markdown_renders(tmp_path: Path, documents: list[str]) -> None:
    """Every display formula of every document renders in KaTeX and MathJax, none fails."""
    paths, expected = [], 0
    for i, md in enumerate(documents):
        paths.append(tmp_path / f"d{i}.md")
        paths[-1].write_text(md, encoding="utf-8")
        expected += len(re.findall(r"^\$\$$", md, re.M)) // 2
    report = render_math(*paths)
    assert report["errors"] == []
    assert report["display"] == expected and report["inline"] > 0


def rejoin(rows: list[str]) -> list[str]:
    """Align rows back into one line per equation, as derive prints it."""
    out: list[str] = []
    for row in rows:
        row = re.sub(r"\s*\\(?:notag|tag\{[^}]*\})\s*$", "", row.strip())
        if row.startswith("&\\quad "):
            out[-1] += " " + row[len("&\\quad "):]
        else:
            out.append(row.replace(" &= ", " = ", 1))
    return [re.sub(r"\\bigg?([lr])([(\[])", lambda m: ("\\left" if m[1] == "l" else "\\right")
                   + m[2], e).replace("\\biggr)", "\\right)").replace("\\bigr)", "\\right)")
            for e in out]


def latex_equations(tex: str) -> list[str]:
    rows = []
    for body in re.findall(r"\\begin\{align\}\n(.*?)\n\\end\{align\}", tex, re.S):
        rows += body.split(" \\\\\n")
    return rejoin(rows)


def markdown_equations(md: str) -> list[str]:
    rows = []
    for body in re.findall(r"\\begin\{aligned\}\n(.*?)\n\\end\{aligned\}", md, re.S):
        rows += body.split(" \\\\\n")
    return rejoin(rows)


def printed(*args: str) -> list[str]:
    """The equation lines of a bptt-sym command's LaTeX output."""
    r = bptt(*args, "--format", "latex")
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line and not line.startswith("%")]


# --- the LaTeX document compiles, and nothing runs off the page ---

@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v)))
@pytest.mark.parametrize("steps", ALL_STEPS)
def test_latex_compiles_without_overfull_lines(tmp_path: Path, steps: int,
                                               variant: tuple[str, str, str, bool]) -> None:
    tex = tmp_path / "d.tex"
    tex.write_text(document(steps, variant, "latex"), encoding="utf-8")
    status, log = pdflatex(tex)
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert status == 0 and not errors, errors
    worst = max((float(x) for x in OVERFULL.findall(log)), default=0.0)
    assert worst <= MAX_OVERFULL_PT, f"a line runs {worst}pt off the page"
    assert (tmp_path / "d.pdf").stat().st_size > 0


def test_unbroken_lines_would_run_off_the_page(tmp_path: Path) -> None:
    """The overfull measure is real: with the line breaking off, T = 10 overflows."""
    g = unroll("doc", steps=10)
    tex = tmp_path / "wide.tex"
    tex.write_text(latex(g, collect(g, wrt=["u"], forms=["factored"]), width=1000),
                   encoding="utf-8")
    status, log = pdflatex(tex)
    assert status == 0
    assert max(float(x) for x in OVERFULL.findall(log)) > 100


def test_broken_latex_is_reported(tmp_path: Path) -> None:
    tex = tmp_path / "bad.tex"
    good = document(2, VARIANTS[0], "latex")
    tex.write_text(good.replace("\\end{align}", "\\end{aligned}", 1), encoding="utf-8")
    status, log = pdflatex(tex)
    assert status != 0 and any(line.startswith("!") for line in log.splitlines())


# --- the Markdown renders in real LaTeX-math engines ---

def test_markdown_renders_in_katex_and_mathjax(tmp_path: Path) -> None:
    assert_markdown_renders(tmp_path, [document(steps, variant, "markdown")
                                       for steps in ALL_STEPS for variant in VARIANTS])


def test_the_engines_reject_a_broken_formula(tmp_path: Path) -> None:
    md = document(2, VARIANTS[0], "markdown").replace("\\end{aligned}", "\\end{align}", 1)
    (tmp_path / "bad.md").write_text(md, encoding="utf-8")
    report = render_math(tmp_path / "bad.md")
    assert [e.split(": ")[1] for e in report["errors"]] == ["katex", "mathjax"]


def test_jupyter_view_renders(tmp_path: Path) -> None:
    g = unroll("doc", steps=10, activation="tanh", output="sigmoid", loss="bce")
    blocks = []
    for form in FORMS:
        d = derive(g, wrt="w", form=form, explicit=True)
        view = d._repr_latex_()
        assert view.startswith("$$") and view.endswith("$$")
        assert view.count("&=") == len(d.equations)
        blocks.append("$$\n" + view[2:-2] + "\n$$")
    (tmp_path / "views.md").write_text("\n\n".join(blocks), encoding="utf-8")
    report = render_math(tmp_path / "views.md")
    assert report["errors"] == [] and report["display"] == len(FORMS)


# --- the documents say exactly what derive and unroll print ---

@pytest.mark.parametrize("steps,options", [(2, []), (10, ["--activation", "tanh",
                                                          "--output", "sigmoid",
                                                          "--loss", "bce", "--explicit"])])
def test_documents_hold_the_printed_equations(tmp_path: Path, steps: int,
                                              options: list[str]) -> None:
    common = ["--model", "doc", "--steps", str(steps), *options]
    forward = printed("unroll", *[o for o in common if o != "--explicit"])
    assert_export_holds(tmp_path, common, MODEL_LATEX + forward + printed("derive", *common))


def assert_export_holds(tmp_path: Path, options: list[str], equations: list[str]) -> None:
    """`export` to .tex and .md writes exactly ``equations``, in order, and nothing on stderr."""
    for name in ("d.tex", "d.md"):
        r = bptt("export", *options, "-o", name, cwd=tmp_path)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        text = (tmp_path / name).read_text(encoding="utf-8")
        found = latex_equations(text) if name.endswith(".tex") else markdown_equations(text)
        assert found == equations


def test_article_numbers_tag_the_equations() -> None:
    tex = document(2, VARIANTS[0], "latex")
    for ref in ["S1", "S12", "B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8"]:
        assert f"\\tag{{{ref}}}" in tex, ref
    md = document(2, VARIANTS[0], "markdown")
    assert "\\tag{B5}" in md and "\\tag{S9}" in md
    assert "\\tag{B" not in document(3, VARIANTS[0], "latex")


# --- the command line ---

def test_export_writes_the_file_the_suffix_names(tmp_path: Path) -> None:
    for name, start in [("d.tex", "\\documentclass"), ("d.md", "# "), ("d.markdown", "# ")]:
        r = bptt("export", "--steps", "2", "--wrt", "u", "--form", "factored", "-o", name,
                 cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / name).read_text(encoding="utf-8").startswith(start)


def test_format_overrides_the_suffix_and_dash_is_stdout(tmp_path: Path) -> None:
    r = bptt("export", "--wrt", "k", "--form", "closed", "-o", "notes.txt", "--format",
             "markdown", cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "notes.txt").read_text().startswith("# ")
    r = bptt("export", "--wrt", "k", "--form", "closed", "-o", "-")
    assert r.returncode == 0 and r.stdout.startswith("\\documentclass")
    r = bptt("export", "--wrt", "k", "--form", "closed", "-o", "-", "--format", "markdown")
    assert r.stdout.startswith("# ") and "$$" in r.stdout


def test_export_takes_derive_options() -> None:
    r = bptt("export", "--steps", "3", "--wrt", "w,s_0", "--of", "E", "--form", "delta",
             "--activation", "tanh", "-o", "-", "--format", "markdown")
    assert r.returncode == 0, r.stderr
    assert "The gradient $\\partial E/\\partial w$" in r.stdout
    assert "The gradient $\\partial E/\\partial s_{0}$" in r.stdout
    assert "Closed form" not in r.stdout and "delta recursion" in r.stdout


def test_a_paths_form_over_the_limit_is_skipped_only_when_not_asked_for(
        tmp_path: Path) -> None:
    r = bptt("export", "--steps", "5", "--max-paths", "3", "-o", "d.tex", cwd=tmp_path)
    assert r.returncode == 0 and "paths form of ∂E/∂u skipped" in r.stderr
    assert "Not shown: the paths form" in (tmp_path / "d.tex").read_text()
    r = bptt("export", "--steps", "5", "--max-paths", "3", "--form", "paths", "-o", "e.tex",
             cwd=tmp_path)
    assert r.returncode == 2 and not (tmp_path / "e.tex").exists()


BAD = [
    (["-o", "d.txt"], "cannot tell the format of 'd.txt' from its suffix '.txt'"),
    (["-o", "d"], "from its suffix '(none)'"),
    (["-o", "missing/d.tex"], "the directory 'missing' does not exist"),
    (["-o", "plain.txt/d.tex"], "'plain.txt' is not a directory"),
    (["-o", "folder", "--format", "latex"], "it is a directory"),
    (["-o", "d.tex", "--format", "html"], "invalid choice: 'html'"),
    (["-o", "d.tex", "--wrt", "nope"], "unknown --wrt name 'nope'"),
    (["-o", "d.tex", "--model", "elman", "--form", "closed"], "elman has the forms paths, delta"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_exit_2_and_no_file(tmp_path: Path, args: list[str],
                                                   message: str) -> None:
    (tmp_path / "plain.txt").write_text("old")
    (tmp_path / "folder").mkdir()
    before = sorted(p.name for p in tmp_path.rglob("*"))
    r = bptt("export", "--steps", "2", *args, cwd=tmp_path)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and message in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert (tmp_path / "plain.txt").read_text() == "old"


def test_a_failed_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The rename that publishes the file fails: neither the file nor the temporary stays."""
    (tmp_path / "d.tex").write_text("old")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bptt_sym.cli.main.os.replace", refuse)
    status = main(["export", "--steps", "2", "--form", "factored", "--force", "-o",
                   str(tmp_path / "d.tex")])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "No space left on device" in err
    assert [p.name for p in tmp_path.iterdir()] == ["d.tex"]
    assert (tmp_path / "d.tex").read_text() == "old"


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "d.md"
    target.write_text("x" * 100_000)
    r = bptt("export", "--wrt", "v", "--form", "closed", "-o", str(target), "--force")
    assert r.returncode == 0
    assert target.read_text().startswith("# ") and "x" * 100 not in target.read_text()


def test_the_first_page_renders_to_png(tmp_path: Path) -> None:
    """What docs/export.md shows: pdftoppm turns the first page into a picture."""
    program = need("pdftoppm", "apt-get install poppler-utils")
    tex = tmp_path / "d.tex"
    tex.write_text(document(2, VARIANTS[0], "latex"), encoding="utf-8")
    assert pdflatex(tex)[0] == 0
    subprocess.run([program, "-png", "-r", "40", "-f", "1", "-l", "1", "-singlefile", "d.pdf",
                    "page"], cwd=tmp_path, check=True, timeout=60)
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
