"""The package's layout (docs/architecture.md): subpackages by stage, each importing only the
stages above it, no module over ~400 lines, no ``m``-prefixed twin modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bptt_sym"
# The stages in the order data flows; a module may import its own stage and those before it.
# "base" is the package's top-level modules (errors, notation, budgets, limits, files).
STAGES = ["base", "rules", "syntax", "model", "graph", "printing", "derivation", "numeric",
          "verification", "check", "export", "cli"]
MAX_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _stage(module: str) -> str:
    """The stage of a dotted module name under bptt_sym (the package itself is "top")."""
    parts = module.split(".")
    if parts in (["bptt_sym"], ["bptt_sym", "__main__"]):
        return "top"
    if parts[1] in STAGES and (PACKAGE / parts[1]).is_dir():
        return parts[1]
    return "base"


def _name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _hooks(tree: ast.AST) -> set[ast.AST]:
    """The nodes inside Jupyter's display hooks (``_repr_latex_``, ``_repr_svg_``) and
    ``if TYPE_CHECKING:`` blocks: they may look ahead (a derivation shows itself as a
    document; a graph draws itself), as nothing runs them while the package loads."""
    inside: set[ast.AST] = set()
    for node in ast.walk(tree):
        hook = isinstance(node, ast.FunctionDef) and re.fullmatch(r"_repr_\w+_", node.name)
        typing = isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        if hook or typing:
            inside |= set(ast.walk(node))
    return inside


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every ``bptt_sym`` module a file imports (at module level or inside a function),
    but for those in display hooks and typing blocks."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _hooks(tree)
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("bptt_sym"):
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("bptt_sym")]
    return found


def test_every_subpackage_is_a_stage_with_a_docstring():
    subpackages = sorted(p.name for p in PACKAGE.iterdir()
                         if p.is_dir() and (p / "__init__.py").exists())
    assert subpackages == sorted(s for s in STAGES if s != "base")
    for name in subpackages:
        doc = ast.get_docstring(ast.parse((PACKAGE / name / "__init__.py").read_text()))
        assert doc, f"bptt_sym/{name}/__init__.py has no docstring"


def test_no_relative_imports():
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}:{node.lineno}: a relative import"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_stage_imports_only_the_stages_before_it(path):
    here = _stage(_name(path))
    if here == "top":
        return  # bptt_sym/__init__.py re-exports the public names of every stage
    for line, module in _imports(path):
        there = _stage(module)
        assert there != "top", f"{path}:{line}: imports the package itself ({module})"
        assert STAGES.index(there) <= STAGES.index(here), (
            f"{path}:{line}: the {here} stage imports {module} of the later stage {there}")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_over_the_limit(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path} has {lines} lines; split it (limit {MAX_LINES})"


def test_no_m_prefixed_twins():
    names = {p.stem for p in _modules()}
    twins = sorted(n for n in names if n.startswith("m") and n[1:] in names)
    assert not twins, f"m-prefixed twins of other modules: {twins}"
