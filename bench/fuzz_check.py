"""Fuzz ``bptt_sym.check.checker.check``: every input must come back as a list of verdicts.

Generated inputs (deterministic by ``--seed``; input i depends only on the seed and i):

* ``random``: strings over the formula alphabet (the models' letters, digits, operators,
  ∂ Σ ∏ ᵀ ⊙, LaTeX commands, sums with bounds, spaces, newlines);
* ``grammar``: formulas in the check grammar, in ASCII, Unicode and LaTeX, built from the
  model's names (doc: scalar expressions; elman: shape-typed matrix expressions), true
  equations and their usual mistakes, so that most of them parse and are decided;
* ``mutation``: the files and lines of docs/examples with characters, tokens and lines
  deleted, inserted, swapped and duplicated;
* ``nesting``: brackets, fractions, calls, powers, signs and sums nested up to 20,000 deep;
* ``numbers``: huge and tiny numbers (10^999999, 9^9^9^9, exp(exp(exp(9))), 1e999999, a
  5,000-digit integer), huge sum bounds and step indices, 1/0, log(0);
* ``long``: long lines (to 1 MB), many lines, long names, long chains and sums;
* ``document``: Markdown and LaTeX around formulas: $…$, $$…$$, \\[…\\], align, unclosed.

Each input is checked against one model configuration (doc with f/g/L, tanh/sigmoid/bce or
relu; elman with tanh or relu and biases) in a worker process.  The parent gives each input
a wall-clock watchdog (``--timeout``, 30 s): over it, the worker's Python stack is dumped
(faulthandler) and the worker is killed and restarted (a hang); a worker that dies (a
segfault, the memory limit) is restarted too (a crash).  Anything but a list of Verdicts is
an exception; each kind is shrunk to a minimal input at the end.  The workers import a copy
of bptt_sym/ taken at the start (``--live``: the files on disk), so that files edited during
a long run do not mix two versions.

    python bench/fuzz_check.py --inputs 100000 --seed 0 --workers 2
    python bench/fuzz_check.py --seed 0 --show 1234        # print input 1234 and its model
    python bench/fuzz_check.py --seed 0 --only 1234,99     # re-run some inputs

The report goes to stdout (Markdown), progress to stderr; the exit status is 1 when any
input raised, hung, crashed or returned something other than verdicts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import command_output, cpu_model, git_commit, version  # noqa: E402

REPO = Path(os.environ.get("FUZZ_CHECK_REPO", Path(__file__).resolve().parent.parent))
EXAMPLES = REPO / "docs" / "examples"
VERDICTS = ("holds", "fails", "undecided", "invalid", "skipped")  # check.VERDICTS wins
TIMEOUT = 30.0
MEMORY_LIMIT = 4 << 30  # bytes of address space per worker: a blow-up is a MemoryError
RECYCLE = 5000  # inputs per worker process before it is replaced (bounds caches and leaks)

# ---- model configurations ------------------------------------------------------------------

CONFIGS: dict[str, dict] = {
    "doc-f": dict(model="doc", steps=2, activation="f", output="g", loss="L"),
    "doc-tanh": dict(model="doc", steps=2, activation="tanh", output="sigmoid", loss="bce"),
    "doc-relu": dict(model="doc", steps=3, activation="relu", output="identity", loss="mse"),
    "elman": dict(model="elman", steps=3, activation="tanh"),
    "elman-relu": dict(model="elman", steps=2, activation="relu", bias=True),
}
CONFIG_WEIGHTS = {"doc-f": 25, "doc-tanh": 20, "doc-relu": 15, "elman": 25, "elman-relu": 15}

# ---- the alphabet --------------------------------------------------------------------------

LETTERS = list("uwvkxszabqoEyWUVfgLTtIlcjm") + ["s_t", "delta", "yhat", "delta_t", "yhat_t",
                                                   "s_{t-1}", "x_t", "z_t", "l_t", "E_t"]
SYMBOLS = list("0123456789_^{}()[]+-*/=',.<>&|!~`\"") + [
    "∂", "Σ", "∏", "Π", "∑", "ᵀ", "⊙", "∘", "·", "×", "−", "′", "²", "³", "₀", "₁", "₋",
    "ₜ", "ₖ", "δ", "ŷ", "σ", "≤", "≥", "⊤", "\\frac", "\\partial", "\\sum", "\\prod", "\\cdot",
    "\\odot", "\\top", "\\delta", "\\hat{y}", "\\tanh", "\\sigma", "\\left(", "\\right)",
    "\\mathbf{W}", "\\,", "\\\\", "\\[", "\\]", "$", "$$", "#", "%", "^T", "^{T}", "sum_",
    "prod_", "sum_t", "sum_{t=0}^{T-1}", "\\sum_{k=0}^{t}", "d", "dE/d", "f'", "tanh", "sigmoid",
    "relu", "exp", "log", "diag", "softmax", "outer", "step", "for", "\\text{for}",
    "\\begin{align}", "\\end{align}", "\n", "\t", "\u00a0", "\u200b", "\ufeff"]
SPACES = [" ", " ", " ", "  "]

_TOKEN = re.compile(r"\\[A-Za-z]+(?:\{[^{}]*\})?|\\.|[A-Za-zδŷσ]+(?:_\{[^{}]*\}|_-?\d+|_[A-Za-z])?"
                    r"|\d+(?:\.\d+)?|\s+|.", re.S)


def tokens(text: str) -> list[str]:
    """The text cut into names, numbers, commands, spaces and single characters."""
    return _TOKEN.findall(text)


# ---- spelling: one formula in ASCII, Unicode or LaTeX --------------------------------------

STYLES = ("ascii", "unicode", "latex")
_SUB = str.maketrans("0123456789-+", "₀₁₂₃₄₅₆₇₈₉₋₊")
_SPECIAL = {"delta": {"ascii": "delta", "unicode": "δ", "latex": "\\delta"},
            "yhat": {"ascii": "yhat", "unicode": "ŷ", "latex": "\\hat{y}"}}


@dataclass
class Style:
    """How one generated formula is spelled (every part of it the same way)."""

    kind: str
    rng: random.Random

    def base(self, b: str) -> str:
        return _SPECIAL.get(b, {}).get(self.kind, b)

    def name(self, b: str, step: int | str | None) -> str:
        base = self.base(b)
        if step is None:
            return base
        s = str(step)
        r = self.rng.random()
        if self.kind == "unicode":
            if isinstance(step, int) or re.fullmatch(r"[tkji](?:[+-]\d)?", s):
                return base + s.translate(_SUB).replace("t", "ₜ").replace("k", "ₖ") \
                    .replace("j", "ⱼ").replace("i", "ᵢ")
            return f"{base}_{{{s}}}"
        if self.kind == "latex" or len(s) > 1 and not s.isdigit():
            return f"{base}_{{{s}}}" if len(s) > 1 or r < 0.5 else f"{base}_{s}"
        if s.isdigit() and r < 0.3 and not base.startswith("\\"):
            return f"{base}{s}"
        return f"{base}_{s}" if r < 0.8 else f"{base}_{{{s}}}"

    def deriv(self, num: str, den: str) -> str:
        if self.kind == "ascii":
            return f"d{num}/d{den}"
        if self.kind == "unicode":
            return f"∂{num}/∂{den}"
        if self.rng.random() < 0.8:
            return f"\\frac{{\\partial {num}}}{{\\partial {den}}}"
        return f"\\frac{{d{num}}}{{d{den}}}"

    def mul(self, elementwise: bool = False) -> str:
        if elementwise:
            return {"ascii": " * ", "unicode": " ⊙ ", "latex": " \\odot "}[self.kind]
        return self.rng.choice({"ascii": [" * ", " ", " @ "], "unicode": [" · ", " ", " × "],
                                "latex": [" \\cdot ", " ", " \\times "]}[self.kind])

    def minus(self) -> str:
        return " − " if self.kind == "unicode" else " - "

    def frac(self, a: str, b: str) -> str:
        return f"\\frac{{{a}}}{{{b}}}" if self.kind == "latex" else f"({a}) / ({b})"

    def power(self, a: str, n: str) -> str:
        if self.kind == "unicode" and n.isdigit():
            return a + n.translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
        return f"{a}^{{{n}}}" if self.kind == "latex" else f"{a}^{n}"

    def transpose(self, a: str) -> str:
        return {"ascii": f"{a}^T", "unicode": f"{a}ᵀ", "latex": f"{a}^\\top"}[self.kind]

    def big(self, op: str, var: str, lo: str | None, hi: str | None) -> str:
        sym = {"ascii": {"sum": "sum", "prod": "prod"}, "unicode": {"sum": "Σ", "prod": "∏"},
               "latex": {"sum": "\\sum", "prod": "\\prod"}}[self.kind][op]
        if lo is None:
            if self.kind == "unicode" and var in "tkji" and op == "sum" and self.rng.random() < .3:
                return sym + var.translate(str.maketrans("tkji", "ₜₖⱼᵢ")) + " "
            return f"{sym}_{var} " if self.rng.random() < 0.7 else f"{sym}_{{{var}}} "
        return f"{sym}_{{{var}={lo}}}^{{{hi}}} "

    def call(self, fn: str, arg: str, prime: bool = False) -> str:
        p = ("′" if self.kind == "unicode" and self.rng.random() < 0.5 else "'") if prime else ""
        if self.kind == "latex" and fn in ("tanh", "exp", "log") and not prime:
            return f"\\{fn}({arg})" if self.rng.random() < 0.5 else f"\\{fn}{{{arg}}}"
        if self.kind == "unicode" and fn == "sigmoid" and self.rng.random() < 0.5:
            fn = "σ"
        return f"{fn}{p}({arg})"


def _paren(text: str) -> str:
    return f"({text})"


# ---- the doc model: scalar formulas --------------------------------------------------------

DOC_STEPPED = ("a", "b", "z", "s", "x", "u", "w", "k", "v")
DOC_PLAIN = ("q", "o", "E", "y", "u", "w", "k", "v", "L")
DOC_NUM = ("E", "o", "q", "s", "z", "a", "b", "L")
DOC_DEN = ("u", "w", "k", "v", "s", "z", "a", "b", "q", "o", "x")
DOC_FUNCS = ("f", "g", "L", "tanh", "sigmoid", "relu", "exp", "log", "step")
# true equations at step {t} (and {p} = t - 1) and their usual mistakes; {T1} = T - 1
DOC_TRUE = (
    "ds{t}/dz{t} = f'(z{t})", "dz{t}/da{t} = 1", "dz{t}/db{t} = 1", "da{t}/du{t} = x{t}",
    "db{t}/ds_{{{p}}} = w{t}", "db{t}/dw{t} = s_{{{p}}}", "z{t} = a{t} + b{t} + k{t}",
    "a{t} = u{t} x{t}", "s{t} = f(z{t})", "b{t} = w{t} s_{{{p}}}", "q = v{T1} s{T1}",
    "o = g(q)", "dE/dq = dE/do * do/dq", "do/dq = g'(q)", "dE/do = L'(o)",
    "dE/du = sum_{{t=0}}^{{T-1}} dE/du_t", "dE/dk = sum_t dE/dz_t", "dE/dw = sum_t dE/dw_t",
    "dE/dv = dE/dq s{T1}", "dE/ds{T1} = dE/dq v{T1}", "dE/dz{t} = dE/ds{t} ds{t}/dz{t}",
    "dE/du{t} = dE/dz{t} x{t}", "dE/dw{t} = dE/dz{t} s_{{{p}}}", "dE/dk{t} = dE/dz{t}",
    "ds{t}/ds_{{{p}}} = ds{t}/dz{t} * w{t}", "dE/du = dE/du_0 + dE/du_1",
    "ds{t}/dz{t} = 1 - s{t}^2", "ds{t}/dz{t} = s{t} (1 - s{t})", "dE/dq = o - y",
    "dE/do = (o - y) / (o (1 - o))", "ds{t}/dz{t} = step(z{t})", "s{t} = relu(z{t})",
    "dE/dq = dE/do do/dq = L'(o) g'(q)", "-(a{t} + b{t}) = -a{t} - b{t}", "x{t}^2 = x{t} x{t}",
)


@dataclass
class DocGen:
    """Random scalar formulas for the doc model over ``steps`` steps."""

    rng: random.Random
    steps: int
    style: Style
    bound: list[str] = field(default_factory=list)

    def step(self) -> int | str:
        r = self.rng.random()
        if self.bound and r < 0.5:
            var = self.rng.choice(self.bound)
            return self.rng.choice([var, var, f"{var}-1", f"{var}+1"])
        if r < 0.9:
            return self.rng.randrange(self.steps)
        return self.rng.choice([-1, self.steps, self.steps + 1, 99, "t", "T"])

    def ref(self) -> str:
        if self.rng.random() < 0.6:
            b = self.rng.choice(DOC_STEPPED)
            st = self.step()
            if b == "v" and isinstance(st, int):
                st = self.steps - 1 if self.rng.random() < 0.8 else st
            if b == "s" and self.rng.random() < 0.1:
                st = -1
            return self.style.name(b, st)
        return self.rng.choice(DOC_PLAIN)

    def deriv(self) -> str:
        num = self.rng.choice(DOC_NUM)
        den = self.rng.choice(DOC_DEN)
        step = lambda b: None if b in "qoEL" or (b in "uwkv" and self.rng.random() < .5) \
            else self.step()  # noqa: E731
        return self.style.deriv(self.style.name(num, step(num)), self.style.name(den, step(den)))

    def number(self) -> str:
        return self.rng.choice(["1", "2", "0", "3", "1/2", "0.5", "16", "-1", "10"])

    def expr(self, depth: int) -> str:
        r = self.rng.random()
        if depth <= 0 or r < 0.25:
            return self.rng.choice([self.ref, self.ref, self.deriv, self.deriv, self.number])()
        pick = self.rng.random()
        s = self.style
        if pick < 0.25:
            op = self.rng.choice([" + ", s.minus()])
            return self.expr(depth - 1) + op + self.expr(depth - 1)
        if pick < 0.5:
            a, b = self.wrapped(depth - 1), self.wrapped(depth - 1)
            return a + s.mul() + b
        if pick < 0.57:
            return s.frac(self.expr(depth - 1), self.expr(depth - 1))
        if pick < 0.63:
            return "-" + self.wrapped(depth - 1)
        if pick < 0.7:
            return s.power(self.wrapped(0), self.rng.choice(["2", "2", "3", "0", "1", "(-1)"]))
        if pick < 0.85:
            fn = self.rng.choice(DOC_FUNCS)
            prime = fn in "fgL" and self.rng.random() < 0.5 or fn in ("tanh", "sigmoid", "relu") \
                and self.rng.random() < 0.15
            arg = self.expr(depth - 1) if self.rng.random() < 0.4 else self.ref()
            return s.call(fn, arg, prime)
        var = self.rng.choice("tkj")
        lo, hi = self.rng.choice([(None, None), ("0", "T-1"), ("0", "T - 1"), ("1", "T-1"),
                                  ("0", "T"), ("0", str(self.steps - 1)), ("1", "0")])
        self.bound.append(var)
        try:
            body = self.wrapped(depth - 1)
        finally:
            self.bound.pop()
        return s.big(self.rng.choice(["sum", "sum", "sum", "prod"]), var, lo, hi) + body

    def wrapped(self, depth: int) -> str:
        text = self.expr(depth)
        if any(c in text for c in "+-−") or self.rng.random() < 0.1:
            return _paren(text)
        return text

    def lhs(self) -> str:
        return self.deriv() if self.rng.random() < 0.75 else self.ref()


def doc_true(rng: random.Random, steps: int) -> str:
    t = rng.randrange(steps)
    line = rng.choice(DOC_TRUE).format(t=t, p=t - 1, T1=steps - 1)
    return line.replace("_{-1}", rng.choice(["_{-1}", "_-1"]))


# ---- the elman model: shape-typed matrix formulas ------------------------------------------

# leaves of each shape: (base, kind) with kind "step" (needs an index), "plain" or "deriv"
MAT_LEAVES: dict[str, list[tuple[str, ...]]] = {
    "H1": [("s", "step"), ("z", "step"), ("delta", "step"), ("E", "s", "deriv"),
           ("E", "z", "deriv"), ("b", "plain")],
    "K1": [("yhat", "step"), ("y", "step"), ("l", "step"), ("E", "l", "deriv"),
           ("E", "yhat", "deriv"), ("c", "plain")],
    "D1": [("x", "step")],
    "HH": [("W", "plain"), ("W", "step"), ("E", "W", "deriv"), ("s", "s", "jac"),
           ("s", "z", "jac"), ("z", "s", "jac")],
    "HD": [("U", "plain"), ("U", "step"), ("E", "U", "deriv"), ("z", "x", "jac")],
    "KH": [("V", "plain"), ("V", "step"), ("E", "V", "deriv"), ("l", "s", "jac"),
           ("yhat", "s", "jac")],
    "KK": [("yhat", "l", "jac")],
    "11": [("E", "plain"), ("E", "step"), ("1", "num"), ("2", "num"), ("T", "plain")],
}
DIMS = ("H", "K", "D", "1")


@dataclass
class MatGen:
    """Random matrix formulas for the elman model, of a wanted shape most of the time."""

    rng: random.Random
    steps: int
    style: Style
    free: list[str] = field(default_factory=lambda: ["t"])
    bound: list[str] = field(default_factory=list)
    wrong: float = 0.05

    def step(self) -> int | str:
        r = self.rng.random()
        names = self.bound + self.free
        if names and r < 0.7:
            var = self.rng.choice(names)
            return self.rng.choice([var, var, var, f"{var}-1", f"{var}+1"])
        if r < 0.95:
            return self.rng.randrange(self.steps)
        return self.rng.choice([-1, self.steps, 99])

    def leaf(self, shape: str) -> str:
        options = MAT_LEAVES.get(shape)
        if not options:  # (1, H), (H, K), (D, D) …: a transpose or a product of known ones
            if shape[::-1] in MAT_LEAVES:
                return self.style.transpose(_paren(self.leaf(shape[::-1])))
            return f"{_paren(self.leaf(shape[0] + 'H'))} {_paren(self.leaf('H' + shape[1]))}"
        choice = self.rng.choice(options)
        s = self.style
        if choice[-1] == "num":
            return choice[0]
        if choice[-1] == "plain":
            return s.base(choice[0])
        if choice[-1] == "step":
            return s.name(choice[0], self.step())
        num, den, _ = choice
        if choice[-1] == "deriv":
            st = self.step()
            num_text = s.name("E", st) if self.rng.random() < 0.2 else "E"
            den_text = s.name(den, None if den in "WUV" and self.rng.random() < .6 else st)
            return s.deriv(num_text, den_text)
        st = self.step()
        den_step = f"{st}-1" if isinstance(st, str) and num == den else \
            (st - 1 if isinstance(st, int) and num == den else st)
        return s.deriv(s.name(num, st), s.name(den, den_step))

    def expr(self, shape: str, depth: int) -> str:
        if self.rng.random() < self.wrong:
            shape = self.rng.choice(list(MAT_LEAVES))
        r, c = shape[0], shape[1]
        if depth <= 0 or self.rng.random() < 0.25:
            return self.leaf(shape)
        s = self.style
        pick = self.rng.random()
        if pick < 0.2:
            op = self.rng.choice([" + ", s.minus()])
            return self.expr(shape, depth - 1) + op + self.wrapped(shape, depth - 1)
        if pick < 0.4:
            inner = self.rng.choice([d for d in DIMS if d != "1"] + ["1"])
            a, b = self.wrapped(r + inner, depth - 1), self.wrapped(inner + c, depth - 1)
            return a + s.mul() + b
        if pick < 0.5:
            return self.wrapped(shape, depth - 1) + s.mul(True) + self.wrapped(shape, depth - 1)
        if pick < 0.55:
            return self.rng.choice(["2", "-1", "1/2", "T"]) + " " + self.wrapped(shape, depth - 1)
        if pick < 0.62:
            return s.transpose(self.wrapped(c + r, depth - 1, tight=True))
        if pick < 0.75 and c == "1":
            fn = self.rng.choice(["f", "tanh", "sigmoid", "relu", "exp", "log", "softmax",
                                  "f", "diag"])
            if fn == "diag":
                return s.call("diag", self.expr(r + "1", depth - 1)) + " " + \
                    self.wrapped(shape, depth - 1)
            prime = fn in ("f", "tanh") and self.rng.random() < 0.5
            arg = self.expr(shape, depth - 1)
            return s.call(fn, arg, prime)
        if pick < 0.8 and r == c and r != "1":
            return s.call("diag", self.expr(r + "1", depth - 1))
        if pick < 0.85 and c != "1":
            if self.rng.random() < 0.5:
                return s.call("outer", f"{self.expr(r + '1', depth - 1)}, "
                                       f"{self.expr(c + '1', depth - 1)}")
            return self.wrapped(r + "1", depth - 1) + " " + \
                s.transpose(self.wrapped(c + "1", depth - 1, tight=True))
        if pick < 0.9:
            return "(1 - " + s.power(self.wrapped(shape, 0, tight=True), "2") + ")"
        var = self.rng.choice([v for v in "kji" if v not in self.bound + self.free] or ["m"])
        lo, hi = self.rng.choice([(None, None), ("0", "t"), ("0", "T-1"), ("k+1", "t"),
                                  ("1", "T"), ("0", str(self.steps - 1)), ("t", "T-1")])
        op = "prod" if r == c and r != "1" and self.rng.random() < 0.3 else "sum"
        self.bound.append(var)
        try:
            body = self.wrapped(shape, depth - 1)
        finally:
            self.bound.pop()
        return s.big(op, var, lo, hi) + body

    def wrapped(self, shape: str, depth: int, tight: bool = False) -> str:
        text = self.expr(shape, depth)
        if tight and not re.fullmatch(r"[\w\\{}]+", text) or \
                any(ch in text for ch in "+-− ") or self.rng.random() < 0.1:
            return _paren(text)
        return text

    def equation(self) -> str:
        s = self.style
        t = "t" if self.rng.random() < 0.8 else self.rng.randrange(self.steps)
        lhs, shape, stepped = self.rng.choice([
            (s.deriv("E", "W"), "HH", False), (s.deriv("E", "U"), "HD", False),
            (s.deriv("E", "V"), "KH", False), (s.name("delta", t), "H1", True),
            (s.deriv("E", s.name("l", t)), "K1", True),
            (s.deriv(s.name("s", t), s.name("s", "t-1" if t == "t" else t - 1)), "HH", True),
            (s.deriv("E", s.name("s", t)), "H1", True),
            (s.deriv(s.name("E", t), "W"), "HH", True),
            (s.deriv("E", s.name("z", t)), "H1", True), (s.name("s", t), "H1", True),
            (s.name("yhat", t), "K1", True), ("E", "11", False),
            (s.deriv("E", s.name("W", t)), "HH", True), (s.deriv("E", "b"), "H1", False)])
        self.free = ["t"] if stepped and t == "t" else []
        text = f"{lhs} = {self.expr(shape, self.rng.randint(1, 4))}"
        if "k" in text and "t" in self.free and self.rng.random() < 0.3:
            text += self.rng.choice([", k <= t", ", k ≤ t", " \\text{for} k \\le t", ", k < t"])
        return text


# ---- the generators ------------------------------------------------------------------------

def _example_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.iterdir())
            if p.suffix in (".txt", ".md")}


EXAMPLE_TEXTS = _example_texts()
EXAMPLE_LINES = sorted({ln.strip() for t in EXAMPLE_TEXTS.values() for ln in t.splitlines()
                        if "=" in ln and not ln.lstrip().startswith(("#", "%"))})


def grammar_formula(rng: random.Random, cfg: dict) -> str:
    """One equation in the grammar, for the configuration's model."""
    style = Style(rng.choice(STYLES), rng)
    steps = cfg["steps"]
    if cfg["model"] == "elman":
        if rng.random() < 0.2:
            line = rng.choice([ln for ln in EXAMPLE_LINES if any(w in ln for w in
                                                                 ("delta", "δ", "W", "V"))])
            return _mistake(rng, line) if rng.random() < 0.6 else line
        return MatGen(rng, steps, style).equation()
    if rng.random() < 0.35:
        line = doc_true(rng, steps)
        return _mistake(rng, line) if rng.random() < 0.6 else line
    gen = DocGen(rng, steps, style)
    sides = [gen.lhs()] + [gen.expr(rng.randint(1, 4)) for _ in range(rng.choice([1, 1, 1, 2]))]
    return " = ".join(sides)


def _mistake(rng: random.Random, line: str) -> str:
    """A usual mistake made on a true line: sign, factor, index, dropped term or factor."""
    head, _, rhs = line.partition(" = ")
    kind = rng.randrange(7)
    if kind == 0:
        rhs = f"-({rhs})"
    elif kind == 1:
        rhs = f"2 ({rhs})"
    elif kind == 2:
        digits = [m.start() for m in re.finditer(r"(?<=[_a-zA-Z{])\d", rhs)]
        if digits:
            i = rng.choice(digits)
            rhs = rhs[:i] + str((int(rhs[i]) + rng.choice([1, -1])) % 3) + rhs[i + 1:]
    elif kind == 3:
        terms = re.split(r" \+ ", rhs)
        if len(terms) > 1:
            terms.pop(rng.randrange(len(terms)))
        rhs = " + ".join(terms)
    elif kind == 4:
        parts = rhs.split(" ")
        if len(parts) > 1:
            parts.pop(rng.randrange(len(parts)))
        rhs = " ".join(parts)
    elif kind == 5:
        rhs = rhs.replace("^2", "", 1).replace("^T", "", 1) if rng.random() < .5 else \
            rhs.replace("t-1", "t", 1).replace("'", "", 1)
    else:
        rhs = rhs.replace("t", "k", 1) if rng.random() < 0.5 else rhs + " + 1"
    return f"{head} = {rhs}"


def gen_grammar(rng: random.Random, cfg: dict) -> str:
    lines = [grammar_formula(rng, cfg) for _ in range(rng.choice([1, 1, 1, 1, 2, 3]))]
    return "\n".join(lines)


def gen_random(rng: random.Random, cfg: dict) -> str:
    pool = LETTERS * 3 + SYMBOLS + SPACES * 6
    out = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        n = rng.choice([1, 2, 3, 5, 8, 13, 20, 30, 50, 80])
        parts = [rng.choice(pool) for _ in range(n)]
        if rng.random() < 0.7:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice([" = ", "=", " = "]))
        out.append("".join(parts))
    return "\n".join(out)


MUTATION_POOL = LETTERS + SYMBOLS + [" ", "_", "{", "}", "(", ")", "=", "t", "1", "0", "-1"]


def mutate(rng: random.Random, text: str, n: int) -> str:
    """``n`` random edits of characters, tokens or lines."""
    for _ in range(n):
        kind = rng.randrange(12)
        if kind < 4:  # characters: delete, insert, swap, replace
            if not text:
                text = rng.choice(MUTATION_POOL)
                continue
            i = rng.randrange(len(text))
            if kind == 0:
                text = text[:i] + text[i + 1:]
            elif kind == 1:
                text = text[:i] + rng.choice(MUTATION_POOL) + text[i:]
            elif kind == 2 and i + 1 < len(text):
                text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
            else:
                text = text[:i] + rng.choice(MUTATION_POOL) + text[i + 1:]
        elif kind < 9:  # tokens: delete, insert, swap, duplicate, replace by another
            toks = tokens(text)
            if not toks:
                continue
            i, j = rng.randrange(len(toks)), rng.randrange(len(toks))
            if kind == 4:
                del toks[i]
            elif kind == 5:
                toks.insert(i, rng.choice(toks + MUTATION_POOL))
            elif kind == 6:
                toks[i], toks[j] = toks[j], toks[i]
            elif kind == 7:
                toks.insert(i, toks[i])
            else:
                toks[i] = toks[j]
            text = "".join(toks)
        else:  # lines: duplicate, delete, swap, move a digit
            lines = text.split("\n")
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            if kind == 9:
                lines.insert(i, lines[j])
            elif kind == 10 and len(lines) > 1:
                del lines[i]
            elif kind == 11:
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


def gen_mutation(rng: random.Random, cfg: dict) -> str:
    if rng.random() < 0.15:
        text = EXAMPLE_TEXTS[rng.choice(sorted(EXAMPLE_TEXTS))]
    else:
        text = "\n".join(rng.choice(EXAMPLE_LINES) for _ in range(rng.choice([1, 1, 1, 2])))
    return mutate(rng, text, rng.choice([1, 1, 2, 2, 3, 4, 6, 10]))


def _lhs(rng: random.Random, cfg: dict) -> str:
    if cfg["model"] == "elman":
        return rng.choice(["dE/dW", "E", "delta_1", "dE/dl_1", "s_1", "dE/dV", "yhat_0"])
    return rng.choice(["dE/du", "s_1", "x_1", "E", "ds1/dz1", "o", "dE/dq", "q"])


def _name(rng: random.Random, cfg: dict) -> str:
    if cfg["model"] == "elman":
        return rng.choice(["s_1", "W", "delta_1", "x_0", "yhat_1", "z_0", "E"])
    return rng.choice(["s_1", "x_1", "o", "u", "w_1", "z_0", "E", "y", "s_{-1}"])


def gen_nesting(rng: random.Random, cfg: dict) -> str:
    d = rng.choice([10, 99, 100, 101, 300, 1000, 2000, 5000, 20000])
    x = _name(rng, cfg)
    lhs = _lhs(rng, cfg)
    kind = rng.randrange(14)
    if kind == 0:
        body = "(" * d + x + ")" * d
    elif kind == 1:
        body = "{" * d + x + "}" * d
    elif kind == 2:
        body = "".join(rng.choice("([{") for _ in range(d)) + x
        body += "".join(rng.choice(")]}") for _ in range(d))
    elif kind == 3:
        body = "\\left(" * d + x + "\\right)" * d
    elif kind == 4:
        body = "\\frac{" * d + x + "}{2}" * d
    elif kind == 5:
        fn = rng.choice(["f", "tanh", "exp", "sigmoid", "relu", "log", "f'", "g", "softmax"])
        body = f"{fn}(" * d + x + ")" * d
    elif kind == 6:
        body = rng.choice(["-", "+", "- ", "−"]) * d + x
    elif kind == 7:
        body = "^".join([x] * min(d, 3000))
    elif kind == 8:
        body = "sum_t " * min(d, 3000) + x
    elif kind == 9:
        body = "(" * d + x  # never closed
    elif kind == 10:
        body = x + ")" * d  # never opened
    elif kind == 11:
        body = (x + " * (") * min(d, 2000) + x + ")" * min(d, 2000)
    elif kind == 12:
        body = " ".join([x] * min(d, 5000))
    else:
        body = "(" * min(d, 99) + x + ")" * min(d, 99)
        body = " + ".join([body] * rng.choice([2, 10, 50]))
    return f"{lhs} = {body}"


BIG = ("10^999999", "9^9^9^9", "exp(exp(exp(9)))", "1e999999", "1E-3", "1e-3", "1.5e2", ".5",
       "9" * 20, "9" * 400, "9" * 5000, "0." + "0" * 5000 + "1", "2^64", "2^65", "10^64",
       "10^-64", "(10^64)^64", "2^2^2^2^2", "exp(1000)", "exp(-1000)", "exp(10^6)",
       "tanh(exp(exp(exp(9))))", "sigmoid(exp(exp(9)))", "relu(-(10^64))",
       "log(exp(exp(exp(9))))", "1/exp(exp(exp(9)))", "exp(exp(exp(exp(9))))", "10^(10^6)",
       "0^0", "0^(-1)", "1/0", "log(0)", "log(-1)", "exp(-exp(exp(9)))", "9.9999999999999999999",
       "1" + "0" * 999, "(-1)^(1/2)", "2^(1/2)", "64^64", "65^65", "2^64^2", "10^4300",
       "tanh(10^999)", "sigmoid(-(10^999))", "step(10^999)", "f(10^999)", "f'(exp(exp(9)))")


def gen_numbers(rng: random.Random, cfg: dict) -> str:
    big, other = rng.choice(BIG), rng.choice(BIG)
    x = _name(rng, cfg)
    lhs = _lhs(rng, cfg)
    template = rng.choice([
        "{big}", "{x} * {big}", "tanh({big})", "{x}^{big}", "sum_{{t=0}}^{{{big}}} {x}",
        "sum_{{t={big}}}^{{1}} {x}", "s_{{{digits}}}", "{x} + {big} - {big}", "{big} / {other}",
        "\\frac{{{big}}}{{{other}}}", "1/({x} - {x})", "exp({x} * {big})", "{big} {x}",
        "log({x} - {x})", "{x}^{{{big}}}", "({x})^({big})", "f({big}) - f({other})",
        "{x} + {big}", "delta_{{{digits}}}", "{x}_{digits}", "prod_{{t=0}}^{{{big}}} {x}"])
    digits = rng.choice(["99999999999999999999", "-99999999999", "1" * 5000, "0" * 30 + "1"])
    rhs = template.format(big=big, other=other, x=x, digits=digits)
    return f"{lhs} = {rhs}" if rng.random() < 0.85 else f"{rhs} = {lhs}"


def gen_long(rng: random.Random, cfg: dict) -> str:
    kind = rng.randrange(10)
    line = grammar_formula(rng, cfg)
    if kind == 0:
        return line + " " * rng.choice([19_990, 20_000, 25_000])
    if kind == 1:
        n = rng.choice([100, 500, 1100, 2000, 5000])
        term = rng.choice(["dE/du_1", "dE/du_0", "s_1", "x_1", "W", "delta_1", "1"])
        return f"{_lhs(rng, cfg)} = " + " + ".join([term] * n)
    if kind == 2:
        return "\n".join(grammar_formula(rng, cfg) for _ in range(rng.choice([5, 10, 20])))
    if kind == 3:
        return "\n".join(gen_random(rng, cfg) for _ in range(rng.choice([200, 1000, 3000])))
    if kind == 4:
        return "".join(rng.choice(LETTERS + SYMBOLS) for _ in range(rng.choice(
            [20_001, 100_000, 1_000_000])))
    if kind == 5:
        return rng.choice("swxqEWV") * rng.choice([100, 10_000, 19_000]) + "_1 = 1"
    if kind == 6:
        x = _name(rng, cfg)
        return " = ".join([x] * rng.choice([50, 300, 1000]))
    if kind == 7:
        return (line + "\n") * rng.choice([3, 10, 30])
    if kind == 8:
        return line.replace(" ", " " * rng.choice([100, 1000]))
    return "\n" * rng.choice([10, 10_000]) + line + "\n" * 1000


def gen_document(rng: random.Random, cfg: dict) -> str:
    parts = []
    for _ in range(rng.randint(1, 8)):
        f = grammar_formula(rng, cfg).replace("\n", " ")
        kind = rng.randrange(14)
        if kind == 0:
            parts.append(f"Some prose, then ${f}$ and more.")
        elif kind == 1:
            parts.append(f"$${f}$$")
        elif kind == 2:
            parts.append(f"\\[\n{f}\n\\]")
        elif kind == 3:
            lhs, _, rhs = f.partition("=")
            env = rng.choice(["align", "align*", "equation", "gather*", "aligned"])
            parts.append(f"\\begin{{{env}}}\n{lhs} &= {rhs} \\\\\n &= {rhs} \\label{{eq}}\n"
                         f"\\end{{{env}}}")
        elif kind == 4:
            parts.append(f"${f}")  # unclosed
        elif kind == 5:
            parts.append(f"\\[ {f}")  # unclosed
        elif kind == 6:
            parts.append(f"\\$ 5 and ${f}$")
        elif kind == 7:
            parts.append(f"```math\n{f}\n```")
        elif kind == 8:
            parts.append(f"- {f}")
        elif kind == 9:
            parts.append(f"% ${f}$\n# ${f}$")
        elif kind == 10:
            parts.append(f"$$\\begin{{aligned}} {f} \\\\ &= 0 \\end{{aligned}}$$")
        elif kind == 11:
            parts.append("\\[ x\n" * rng.choice([10, 100, 1000]))
        elif kind == 12:
            parts.append(f"\\begin{{align}}{f}")  # never ended
        else:
            parts.append(mutate(rng, f"$${f}$$", 2))
    return "\n\n".join(parts)


GENERATORS: dict[str, Callable[[random.Random, dict], str]] = {
    "grammar": gen_grammar, "mutation": gen_mutation, "random": gen_random,
    "document": gen_document, "numbers": gen_numbers, "nesting": gen_nesting, "long": gen_long}
GENERATOR_WEIGHTS = {"grammar": 36, "mutation": 24, "random": 14, "document": 8, "numbers": 8,
                     "nesting": 6, "long": 4}


def make_input(seed: int, i: int, generators: Sequence[str] | None = None
               ) -> tuple[str, str, str]:
    """(generator, configuration, text) of input ``i``: the same for the same seed and i."""
    rng = random.Random(f"fuzz_check:{seed}:{i}")
    names = list(generators or GENERATORS)
    gen = rng.choices(names, [GENERATOR_WEIGHTS[n] for n in names])[0]
    cfg = rng.choices(list(CONFIGS), list(CONFIG_WEIGHTS.values()))[0]
    return gen, cfg, GENERATORS[gen](rng, CONFIGS[cfg])


# ---- the worker process --------------------------------------------------------------------

def _signature(exc: BaseException) -> str:
    """The exception's class and the innermost frame in bptt_sym (else the innermost)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "bptt_sym" in f.filename.replace("\\", "/")]
    where = (ours or frames or [None])[-1]
    at = f" at {Path(where.filename).name}:{where.name}" if where else ""
    return f"{type(exc).__name__}{at}"


class Runner:
    """Runs check on one input in this process; keeps one graph (and judge) per model."""

    def __init__(self, fresh: bool = False) -> None:
        import warnings

        import bptt_sym.check.checker as check_module
        from bptt_sym.graph.build import unroll

        self.warnings = warnings
        self.check_module, self.unroll = check_module, unroll
        self.fresh = fresh
        self.graphs: dict[str, object] = {}
        self.runs = 0
        if not fresh:
            self._reuse_judges()

    def _reuse_judges(self) -> None:
        """Draw the random points of a graph once, not once per input: ``check_graph`` makes
        a ``Judge(graph, seed)`` per call, which costs far more than a typical input."""
        original = getattr(self.check_module, "Judge", None)
        if not callable(original):
            return
        made: dict[tuple, object] = {}

        def judge(graph: object, seed: int = 0, *args: object, **kwargs: object) -> object:
            key = (id(graph), seed, args, tuple(sorted(kwargs.items())))
            if key not in made or self.runs % 1000 == 0:
                made[key] = original(graph, seed, *args, **kwargs)
            return made[key]

        self.check_module.Judge = judge

    def check(self, text: str, cfg_name: str, seed: int) -> list:
        cfg = CONFIGS[cfg_name]
        self.runs += 1
        if os.environ.get("FUZZ_CHECK_STUB") and text.startswith("STUB "):
            _stub(text[5:])
        if cfg["model"] == "elman" or self.fresh:
            return self.check_module.check(text, seed=seed, **cfg)
        if cfg_name not in self.graphs:
            opts = {k: v for k, v in cfg.items() if k != "model"}
            self.graphs[cfg_name] = self.unroll(cfg["model"], **opts)
        return self.check_module.check_graph(text, self.graphs[cfg_name], seed=seed)

    def run(self, job: dict) -> dict:
        """One input: its verdict counts, or the exception and the last lines of its traceback."""
        out: dict = {"i": job["i"]}
        started = time.perf_counter()
        with self.warnings.catch_warnings(record=True) as seen:
            self.warnings.simplefilter("always")
            try:
                verdicts = self.check(job["text"], job["cfg"], job.get("seed", 0))
                problem = self.validate(verdicts)
            except BaseException as exc:  # noqa: BLE001 - anything else is what we look for
                out.update(status="exception", sig=_signature(exc),
                           error=f"{type(exc).__name__}: {str(exc)[:300]}",
                           tb=traceback.format_exception(exc)[-8:])
                problem = None
                verdicts = None
        out["sec"] = time.perf_counter() - started
        if verdicts is not None:
            out["counts"] = dict(Counter(v.verdict for v in verdicts))
            if problem:
                out.update(status="bad", sig=problem.split(":")[0], error=problem)
            else:
                out["status"] = "ok"
        if seen:
            out["warnings"] = sorted({f"{w.category.__name__}: {str(w.message)[:200]}"
                                      for w in seen})
        return out

    def validate(self, verdicts: object) -> str | None:
        """What is wrong with check's answer, or None: a list of Verdicts with a known verdict,
        a one-line-readable message, printable as text and as strict JSON."""
        Verdict = self.check_module.Verdict  # noqa: N806
        known = getattr(self.check_module, "VERDICTS", VERDICTS)
        if not isinstance(verdicts, list):
            return f"not a list: check returned {type(verdicts).__name__}"
        for v in verdicts:
            if not isinstance(v, Verdict):
                return f"not a Verdict: a {type(v).__name__} in the list"
            if v.verdict not in known:
                return f"unknown verdict: {v.verdict!r}"
            if v.verdict == "invalid" and not v.message.strip():
                return "invalid without a message"
            if "Traceback" in v.message:
                return f"traceback in the message: {v.message[:200]}"
            try:
                v.text()
                json.dumps(v.to_json(), allow_nan=False)
            except ValueError as exc:
                return f"not strict JSON: {exc} in {v.to_json().get('counterexample')}"
        return None


def _stub(what: str) -> None:
    """What the test of the watchdog asks a worker to do instead of checking."""
    if what == "raise":
        raise RuntimeError("the stub raised")
    if what == "sleep":
        time.sleep(3600)
    if what == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)


def worker_main(fresh: bool) -> int:
    """Read one JSON job a line from stdin, answer one JSON line; stray output to stderr."""
    import faulthandler
    import resource

    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    faulthandler.enable(file=sys.stderr, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass
    runner = Runner(fresh)
    proto.write(json.dumps({"ready": True}) + "\n")
    proto.flush()
    for line in sys.stdin:
        result = runner.run(json.loads(line))
        proto.write(json.dumps(result) + "\n")
        proto.flush()
        if runner.runs % 500 == 0:
            from sympy.core.cache import clear_cache

            clear_cache()
    return 0


# ---- the pool: worker processes with a watchdog --------------------------------------------

class Worker:
    """One worker process, its job and its stderr (where faulthandler writes)."""

    def __init__(self, number: int, logdir: Path, fresh: bool, path: str | None,
                 script: Path) -> None:
        self.number, self.logdir, self.fresh, self.path = number, logdir, fresh, path
        self.script = script
        self.generation = 0
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.generation += 1
        self.err_path = self.logdir / f"worker{self.number}.{self.generation}.err"
        self.err = open(self.err_path, "w+b")  # noqa: SIM115 - kept open with the process
        env = dict(os.environ, FUZZ_CHECK_REPO=str(REPO), OPENBLAS_NUM_THREADS="1",
                   OMP_NUM_THREADS="1",
                   PYTHONHASHSEED="0", PYTHONFAULTHANDLER="1", PYTHONIOENCODING="utf-8")
        if self.path:  # the snapshot of the package comes before the installed one
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [self.path,
                                                              env.get("PYTHONPATH")]))
        cmd = [sys.executable, str(self.script), "--worker"]
        if self.fresh:
            cmd.append("--fresh")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, env=env, cwd=REPO)
        self.buffer = b""
        self.job: dict | None = None
        self.started = 0.0
        self.done = 0
        line = self._read_line(120.0)
        if line is None or not json.loads(line).get("ready"):
            raise RuntimeError(f"worker {self.number} did not start: {self.err_tail()}")

    def _read_line(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    return None
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line

    def send(self, job: dict) -> None:
        self.job, self.started = job, time.monotonic()
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:  # it died between jobs: the next read sees the end and says so
            pass

    def poll(self) -> dict | None:
        """The answer if one is complete (after select said the pipe is readable)."""
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            return self.died()
        self.buffer += chunk
        if b"\n" not in self.buffer:
            return None
        line, _, self.buffer = self.buffer.partition(b"\n")
        result = json.loads(line)
        self.job = None
        self.done += 1
        return result

    def err_tail(self, lines: int = 30, start: int = 0) -> list[str]:
        """The worker's stderr from byte ``start``: the first lines of the last faulthandler
        dump (it lists the newest frame first), else the last lines."""
        try:
            self.err.flush()
            with open(self.err_path, "rb") as f:
                f.seek(start)
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        for mark in ("Fatal Python error", "Current thread", "Thread 0x"):
            if mark in text:
                dump = text[text.rindex("Fatal Python error"):] if mark.startswith("Fatal") \
                    else text[text.index(mark):]
                return [ln + "\n" for ln in dump.splitlines()[:lines]]
        return [ln + "\n" for ln in text.splitlines()[-lines:]]

    def err_size(self) -> int:
        try:
            return self.err_path.stat().st_size
        except OSError:
            return 0

    def died(self) -> dict:
        code = self.proc.wait()
        tail = self.err_tail(40)
        what = f"signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exit {code}"
        result = {"i": self.job["i"], "status": "crash", "sec": time.monotonic() - self.started,
                  "sig": f"crash: {what}{_stack_place(tail)}", "error": what, "tb": tail}
        self.restart()
        return result

    def hang(self, timeout: float) -> dict:
        """Dump the worker's stack, kill it, start a new one."""
        result = {"i": self.job["i"], "status": "hang", "sec": time.monotonic() - self.started}
        start = self.err_size()
        try:
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
        except OSError:
            pass
        tail = self.err_tail(40, start)
        result.update(sig=f"hang over {timeout:g} s{_stack_place(tail)}",
                      error=f"no answer after {timeout:g} s", tb=tail)
        self.restart()
        return result

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
            for pipe in (self.proc.stdin, self.proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
        self.err.close()


def _stack_place(lines: Sequence[str]) -> str:
    """The innermost bptt_sym frame of a faulthandler dump (it lists the newest first)."""
    for line in lines:
        m = re.search(r'File "([^"]*bptt_sym[^"]*)", line \d+ in (\S+)', line)
        if m:
            return f" in {Path(m[1]).name}:{m[2]}"
    return ""


class Pool:
    """``workers`` processes that run jobs with a per-job wall-clock watchdog."""

    def __init__(self, workers: int, timeout: float, fresh: bool = False,
                 snapshot: bool = False) -> None:
        self.timeout = timeout
        self.tmp = tempfile.TemporaryDirectory(prefix="fuzz_check.")
        path, script = None, Path(__file__).resolve()
        if snapshot:  # the package and this script as they are now, whatever is edited later
            path = str(Path(self.tmp.name) / "package")
            shutil.copytree(REPO / "bptt_sym", Path(path) / "bptt_sym",
                            ignore=shutil.ignore_patterns("__pycache__"))
            for name in (script.name, "_machine.py"):
                shutil.copy(script.parent / name, Path(path) / name)
            script = Path(path) / script.name
        self.workers = [Worker(n, Path(self.tmp.name), fresh, path, script)
                        for n in range(workers)]

    def run(self, jobs: Iterable[dict]) -> Iterator[tuple[dict, dict]]:
        """Yield (job, result) for every job, in the order they finish."""
        jobs = iter(jobs)
        exhausted = False
        while True:
            for w in self.workers:
                if w.job is None and not exhausted:
                    if w.done >= RECYCLE:
                        w.restart()
                    job = next(jobs, None)
                    if job is None:
                        exhausted = True
                    else:
                        w.send(job)
            busy = [w for w in self.workers if w.job is not None]
            if not busy:
                return
            now = time.monotonic()
            wait = max(0.0, min(w.started + self.timeout - now for w in busy))
            ready, _, _ = select.select([w.proc.stdout for w in busy], [], [], wait)
            for w in busy:
                job = w.job
                if w.proc.stdout in ready:
                    result = w.poll()
                elif time.monotonic() - w.started > self.timeout:
                    result = w.hang(self.timeout)
                else:
                    continue
                if result is not None:
                    yield job, result

    def one(self, job: dict) -> dict:
        return next(iter(self.run([job])))[1]

    def close(self) -> None:
        for w in self.workers:
            w.stop()
        self.tmp.cleanup()


# ---- shrinking a failing input -------------------------------------------------------------

def same_failure(result: dict, finding: Finding) -> bool:
    """The same exception (class and place); for a hang or a crash, the same kind (where
    the stack was when it was killed may differ from run to run)."""
    if finding.status in ("hang", "crash"):
        return result["status"] == finding.status and result.get("error") == finding.error
    return result.get("sig") == finding.sig


def shrink(job: dict, finding: Finding, pool: Pool, budget: int) -> tuple[str, int]:
    """A smaller input with the same failure (delta debugging over lines, tokens, then
    characters), and how many runs that took."""
    runs = 0
    text = job["text"]

    def same(candidate: str) -> bool:
        nonlocal runs
        runs += 1
        return same_failure(pool.one({**job, "i": -1, "text": candidate}), finding)

    levels: list[tuple[Callable[[str], list[str]], str]] = [
        (lambda t: t.split("\n"), "\n"), (tokens, ""), (list, "")]
    for split, sep in levels:
        parts = split(text)
        n = 2
        while len(parts) >= 2 and runs < budget:
            size = math.ceil(len(parts) / n)
            for start in range(0, len(parts), size):
                candidate = parts[:start] + parts[start + size:]
                if runs >= budget:
                    break
                if candidate and same(sep.join(candidate)):
                    parts = candidate
                    n = max(n - 1, 2)
                    break
            else:
                if n >= len(parts):
                    break
                n = min(2 * n, len(parts))
        text = sep.join(parts)
    return text, runs


# ---- running and reporting -----------------------------------------------------------------

@dataclass
class Finding:
    """One kind of failure (by signature): how often, and the first input that showed it."""

    sig: str
    status: str
    count: int = 0
    first: dict = field(default_factory=dict)
    error: str = ""
    tb: list[str] = field(default_factory=list)
    repro: str | None = None
    repro_runs: int = 0
    reproduces: bool | None = None


@dataclass
class Stats:
    """Everything the report says."""

    inputs: int = 0
    seconds: float = 0.0
    by_gen: dict = field(default_factory=lambda: defaultdict(Counter))
    by_cfg: dict = field(default_factory=lambda: defaultdict(Counter))
    verdicts: Counter = field(default_factory=Counter)
    findings: dict[str, Finding] = field(default_factory=dict)
    warnings: Counter = field(default_factory=Counter)
    slowest: list = field(default_factory=list)
    time_by_gen: dict = field(default_factory=lambda: defaultdict(float))

    def add(self, job: dict, result: dict) -> None:
        self.inputs += 1
        gen, cfg = job["gen"], job["cfg"]
        status = result["status"]
        for table, key in ((self.by_gen, gen), (self.by_cfg, cfg)):
            table[key]["inputs"] += 1
            table[key][status] += 1
            for v, n in result.get("counts", {}).items():
                table[key][v] += n
        for v, n in result.get("counts", {}).items():
            self.verdicts[v] += n
        self.time_by_gen[gen] += result.get("sec", 0.0)
        for w in result.get("warnings", ()):
            self.warnings[w] += 1
        self.slowest.append((result.get("sec", 0.0), job["i"], gen, cfg, job["text"][:120],
                             status))
        self.slowest = sorted(self.slowest, reverse=True)[:8]
        if status != "ok":
            f = self.findings.setdefault(result["sig"], Finding(result["sig"], status))
            f.count += 1
            if not f.first:
                f.first = job
                f.error, f.tb = result.get("error", ""), result.get("tb", [])

    def problems(self) -> int:
        return sum(f.count for f in self.findings.values())


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_fuzz(*, inputs: int, seed: int = 0, workers: int = 2, timeout: float = TIMEOUT,
             generators: Sequence[str] | None = None, only: Sequence[int] | None = None,
             fresh: bool = False, snapshot: bool = False, shrink_budget: int = 200,
             every: int = 2000, quiet: bool = False) -> Stats:
    """Run the inputs 0 … inputs-1 (or ``only`` those) and shrink each failure found."""
    stats = Stats()
    started = time.monotonic()
    pool = Pool(workers, timeout, fresh, snapshot)

    def jobs() -> Iterator[dict]:
        for i in (only if only is not None else range(inputs)):
            gen, cfg, text = make_input(seed, i, generators)
            yield {"i": i, "gen": gen, "cfg": cfg, "text": text, "seed": i % 3}

    try:
        for job, result in pool.run(jobs()):
            stats.add(job, result)
            if result["status"] != "ok" and not quiet:
                progress(f"input {job['i']} ({job['gen']}, {job['cfg']}): {result['status']}: "
                         f"{result.get('error', '')[:200]}")
            if not quiet and stats.inputs % every == 0:
                elapsed = time.monotonic() - started
                progress(f"{stats.inputs:,} inputs in {elapsed:.0f} s "
                         f"({stats.inputs / elapsed:.1f}/s), {stats.problems()} problems "
                         f"({len(stats.findings)} kinds), verdicts {dict(stats.verdicts)}")
        for f in stats.findings.values():
            job = f.first
            f.reproduces = same_failure(pool.one({**job, "i": -1}), f)
            if not f.reproduces or shrink_budget <= 0:
                continue
            budget = shrink_budget if f.status in ("exception", "bad") else \
                max(3, shrink_budget // 20)
            if not quiet:
                progress(f"shrinking {f.sig} (input {job['i']}, {len(job['text'])} characters)")
            f.repro, f.repro_runs = shrink(job, f, pool, budget)
    finally:
        pool.close()
    stats.seconds = time.monotonic() - started
    return stats


def machine_info() -> dict[str, str]:
    return {
        "date": command_output(["date", "-u"], time.strftime("%c")),
        "machine": f"{platform.machine()}, {cpu_model()}, {os.cpu_count()} CPUs, "
                   f"{platform.system()} {platform.release()}",
        "python": platform.python_version(), "sympy": version("sympy"),
        "mpmath": version("mpmath"), "numpy": version("numpy"), "lark": version("lark"),
        "load average at start": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "commit": git_commit(),
    }


def _short(text: str, limit: int = 300) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else shown[:limit] + f"… ({len(text):,} characters)"


def report(stats: Stats, info: dict[str, str], args: argparse.Namespace) -> str:
    out = [f"- {k}: {v}" for k, v in info.items()]
    out += [f"- command: `python bench/fuzz_check.py {' '.join(args.argv)}`".rstrip(), "",
            f"{stats.inputs:,} inputs in {stats.seconds:.0f} s ({args.workers} workers, "
            f"watchdog {args.timeout:g} s per input); {stats.problems()} problems.", ""]
    cols = ("inputs", *VERDICTS, "exception", "hang", "crash", "bad")
    for title, table in (("generator", stats.by_gen), ("configuration", stats.by_cfg)):
        out += [f"| {title} | " + " | ".join(cols) + (" | worker s |" if title == "generator"
                                                       else " |"),
                "|---|" + "---:|" * (len(cols) + (title == "generator"))]
        for key in sorted(table, key=lambda k: -table[k]["inputs"]):
            row = [f"{table[key][c]:,}" for c in cols]
            extra = [f"{stats.time_by_gen[key]:.0f}"] if title == "generator" else []
            out.append(f"| {key} | " + " | ".join(row + extra) + " |")
        out.append("")
    total = sum(stats.verdicts.values())
    out.append(f"verdicts: {total:,} equations: " + ", ".join(
        f"{stats.verdicts[v]:,} {v}" for v in VERDICTS))
    configs = ", ".join(f"{k} = {', '.join(f'{a}={b}' for a, b in v.items())}"
                        for k, v in CONFIGS.items())
    out += ["", f"configurations: {configs}", ""]
    for status, title in (("exception", "Exceptions"), ("hang", "Hangs"),
                          ("crash", "Crashes (segfaults, the memory limit)"),
                          ("bad", "Answers that are not proper verdicts")):
        found = [f for f in stats.findings.values() if f.status == status]
        out.append(f"### {title}: {sum(f.count for f in found)}")
        out.append("")
        for f in sorted(found, key=lambda f: -f.count):
            job = f.first
            out += [f"- **{f.sig}**: {f.count} inputs; first: input {job['i']} ({job['gen']}, "
                    f"{job['cfg']}); reproduces alone: {f.reproduces}",
                    f"  - error: `{f.error[:300]}`",
                    f"  - input: `{_short(job['text'])}`"]
            if f.repro is not None:
                out.append(f"  - minimal ({f.repro_runs} runs): `{_short(f.repro)}`")
            out.append(f"  - re-run: `python bench/fuzz_check.py --seed {args.seed} "
                       f"--only {job['i']}`")
            tb = "".join(f.tb).splitlines()
            tb = tb[-10:] if status in ("exception", "bad") else tb[:14]  # dumps: newest first
            out += ["  ```"] + [f"  {ln.rstrip()}" for ln in tb] + ["  ```"]
        out.append("")
    if stats.warnings:
        out += ["### Warnings", ""] + [f"- {n} × {w}" for w, n in stats.warnings.most_common(10)]
        out.append("")
    out += ["### Slowest inputs", ""]
    for sec, i, gen, cfg, text, status in stats.slowest:
        out.append(f"- {sec:.2f} s, input {i} ({gen}, {cfg}, {status}): `{_short(text, 100)}`")
    out += ["", f"total time: {stats.seconds:.0f} s"]
    return "\n".join(out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--inputs", type=int, default=100_000, help="inputs 0..N-1 (default 100000)")
    p.add_argument("--seed", type=int, default=0, help="the seed of the inputs (default 0)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--timeout", type=float, default=TIMEOUT,
                   help=f"seconds one input may take before it is a hang (default {TIMEOUT:g})")
    p.add_argument("--generators", help=f"comma list of {', '.join(GENERATORS)} (default all)")
    p.add_argument("--only", help="comma list of input numbers to run (no others)")
    p.add_argument("--show", type=int, metavar="I", help="print input I and its model; exit")
    p.add_argument("--fresh", action="store_true",
                   help="call check() as is for every input (slower: unroll and random points "
                        "each time), instead of reusing one graph and judge per model")
    p.add_argument("--live", action="store_true",
                   help="workers import bptt_sym as it is on disk when they (re)start, instead "
                        "of a copy taken at the start of the run")
    p.add_argument("--shrink", type=int, default=200, metavar="RUNS",
                   help="runs spent shrinking each failure to a minimal input (default 200)")
    p.add_argument("--every", type=int, default=2000, help="progress every N inputs")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the findings as JSON")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.generators:
        unknown = set(args.generators.split(",")) - set(GENERATORS)
        if unknown:
            p.error(f"unknown generator {', '.join(sorted(unknown))}; choose from "
                    f"{', '.join(GENERATORS)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args.fresh)
    generators = args.generators.split(",") if args.generators else None
    if args.show is not None:
        gen, cfg, text = make_input(args.seed, args.show, generators)
        print(f"# input {args.show}: generator {gen}, configuration {cfg} = {CONFIGS[cfg]}, "
              f"check seed {args.show % 3}", file=sys.stderr)
        sys.stdout.write(text)
        return 0
    only = [int(x) for x in args.only.split(",")] if args.only else None
    info = machine_info()
    info["package"] = "bptt_sym/ as on disk when a worker starts" if args.live else \
        "a copy of bptt_sym/ taken at the start of the run"
    stats = run_fuzz(inputs=args.inputs, seed=args.seed, workers=args.workers,
                     timeout=args.timeout, generators=generators, only=only, fresh=args.fresh,
                     snapshot=not args.live, shrink_budget=args.shrink, every=args.every)
    print(report(stats, info, args))
    if args.json:
        args.json.write_text(json.dumps({
            "info": info, "inputs": stats.inputs, "seconds": stats.seconds,
            "verdicts": stats.verdicts, "by_generator": stats.by_gen,
            "by_configuration": stats.by_cfg,
            "findings": [f.__dict__ for f in stats.findings.values()]},
            ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 1 if stats.findings else 0


if __name__ == "__main__":
    sys.exit(main())
