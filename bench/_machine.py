"""What every benchmark prints about the run: the commit, the CPU, versions, command output."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def git_commit() -> str:
    """``git rev-parse --short HEAD``, and whether bptt_sym/ has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "bptt_sym"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (bptt_sym/ has uncommitted changes)" if dirty else "")


def command_output(cmd: Sequence[str], fallback: str) -> str:
    """The stripped stdout of a command, or ``fallback`` when it cannot run."""
    try:
        return subprocess.run(list(cmd), capture_output=True, text=True,
                              check=True).stdout.strip() or fallback
    except (OSError, subprocess.CalledProcessError):
        return fallback


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, or ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(package: str) -> str:
    """The installed version of ``package``, or "not installed"."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
