"""External programs the export and drawing tests need: found, or skipped (never under CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "tests" / "js"


def need(program: str, install: str) -> str:
    """The path of ``program``; the test skips without it, except under CI=true (fails)."""
    found = shutil.which(program)
    if found is None:
        message = f"{program} is not installed ({install})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; .ci/run must install it")
        pytest.skip(message)
    return found


def need_math_engines() -> Path:
    """The script that renders formulas with KaTeX and MathJax, its node_modules installed."""
    need("node", "apt-get install nodejs")
    if not all((JS / "node_modules" / m).is_dir() for m in ("katex", "mathjax-full")):
        message = "KaTeX and MathJax are not installed (npm ci in tests/js)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; .ci/run must install it")
        pytest.skip(message)
    return JS / "render.js"


def bptt(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the bptt-sym command line as a user does."""
    return subprocess.run([sys.executable, "-m", "bptt_sym", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def assert_one_line_error(r: subprocess.CompletedProcess[str], message: str,
                          workdir: Path) -> None:
    """Bad input: exit status 2, one line on stderr naming the problem, and no file left."""
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and message in r.stderr, r.stderr
    assert list(workdir.iterdir()) == []
