"""The shell examples of docs/*.md: find them, run them, and refresh their outputs.

An example is a line ``$ bptt-sym …`` inside a ```text block, followed by the output the
command prints.  ``python -m tests.doc_blocks`` rewrites every output from a fresh run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
_BLOCK = re.compile(r"^```text\n(.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Example:
    path: Path
    command: str
    output: str

    def __str__(self) -> str:
        return f"{self.path.name}: $ {self.command}"


def examples(path: Path) -> list[Example]:
    found = []
    for block in _BLOCK.finditer(path.read_text(encoding="utf-8")):
        command, lines = None, []
        for line in block.group(1).splitlines():
            if line.startswith("$ "):
                if command is not None:
                    found.append(Example(path, command, "\n".join(lines)))
                command, lines = line[2:], []
            else:
                lines.append(line)
        if command is not None:
            found.append(Example(path, command, "\n".join(lines)))
    return [e for e in found if e.command.startswith("bptt-sym")]


def run(command: str) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    r = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=300)
    return r.stdout.rstrip("\n")


def refresh(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for e in examples(path):
        old = f"$ {e.command}\n{e.output}".rstrip("\n")
        new = f"$ {e.command}\n{run(e.command)}".rstrip("\n")
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    for p in DOCS:
        refresh(p)
