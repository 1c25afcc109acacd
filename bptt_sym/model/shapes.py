"""The shapes of a matrix model file: its ``[sizes]`` and ``[shapes]`` tables, and every
equation's shapes checked, each problem one ``FILE:LINE:COL`` line.

A shape is written in size letters, ``"H x D"``.  To catch a product of an ``H x D`` and
an ``H x 1`` matrix whatever sizes the user later picks, every letter is given its own
prime for the check, also a letter whose size is 1 in ``[sizes]`` (a 1 x H row added to
N x H rows spreads over them, as NumPy broadcasts).  A name the cell defines and
``[shapes]`` leaves out takes the shape of its right side.

    >>> from bptt_sym.model.places import Places
    >>> prime_sizes({"H": 4, "D": 3, "N": 1})
    {'D': 2, 'H': 3, 'N': 5}
    >>> with_derived({"M": ("H", "D")}, {"H": 4, "D": 3})
    {'H': 4, 'D': 3, 'M': 7}

A letter may be the sum of others (``M = "H + D"``, the rows of a stack [h; x]): it follows
them and no option sets it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from bptt_sym.errors import BpttError
from bptt_sym.model.places import Path, Places
from bptt_sym.rules.expressions import MATRIX_FUNCTIONS, Apply, EntrySum, Softmax, Stack, Xent
from bptt_sym.syntax.equations import Ref, parse_equation

__all__ = ["MAX_SIZE", "read_sizes", "read_shapes", "prime_sizes", "with_derived",
           "check_shapes", "matrix_functions", "fitting", "default_adjoints"]

MAX_SIZE = 4096
_LETTER = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_SHAPE = re.compile(r"\s*([A-Za-z][A-Za-z0-9]*|1)\s*[x×]\s*([A-Za-z][A-Za-z0-9]*|1)\s*")
_PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71)
_MORE_PRIMES = (73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151)
_PLACEHOLDER = re.compile(r"\b([A-Za-z][A-Za-z0-9]*)\[([^\]]*)\]")


def read_sizes(places: Places, data: Mapping[str, object]
               ) -> tuple[dict[str, int], dict[str, tuple[str, ...]]]:
    """``[sizes]``: each letter a whole number from 1 to MAX_SIZE, or the sum of such
    letters (``M = "H + D"``); the numbers, and the sums (letter: its parts)."""
    sizes = data.get("sizes", {})
    if not isinstance(sizes, dict):
        raise places.error(("sizes",), "sizes must be a table of whole numbers, e.g. H = 4 "
                                       "under [sizes]")
    if len(sizes) > len(_PRIMES):
        raise places.error(("sizes",), f"a model has at most {len(_PRIMES)} size letters")
    for letter, n in sizes.items():
        if not _LETTER.fullmatch(letter) or letter in ("t", "T"):
            raise places.error(("sizes", letter), f"size {letter!r} must be a name such as H "
                               "(t and T are step indices)", key=True)
        if isinstance(n, str):
            continue
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SIZE:
            raise places.error(("sizes", letter), f"size {letter} must be a whole number from "
                                                  f"1 to {MAX_SIZE}, not {n!r} (or a sum "
                                                  'of size letters such as "H + D")')
    numbers = {k: n for k, n in sizes.items() if not isinstance(n, str)}
    derived = {}
    for letter, text in sizes.items():
        if not isinstance(text, str):
            continue
        parts = tuple(p.strip() for p in text.split("+"))
        wrong = [p for p in parts if p not in numbers]
        if len(parts) < 2 or wrong:
            why = (f"{wrong[0]!r} is not a size letter given as a number" if wrong and wrong[0]
                   else "it needs two letters or more")
            raise places.error(("sizes", letter), f'size {letter} = {text!r}: a derived size '
                               f'is a sum of size letters such as "H + D"; {why} (known: '
                               f'{", ".join(numbers) or "none"})')
        derived[letter] = parts
    return numbers, derived


def with_derived(derived: Mapping[str, tuple[str, ...]], dims: Mapping[str, int]
                 ) -> dict[str, int]:
    """``dims`` and each derived letter, the sum of its parts."""
    return {**dims, **{k: sum(dims[p] for p in parts) for k, parts in derived.items()}}


def read_shapes(places: Places, data: Mapping[str, object], sizes: Mapping[str, int],
                names: set[str], derived: Mapping[str, tuple[str, ...]] | None = None
                ) -> dict[str, tuple[str, str]]:
    """``[shapes]``: each known name's ``"ROWS x COLS"`` in the letters of ``[sizes]``."""
    shapes: dict[str, tuple[str, str]] = {}
    for name, text in data.get("shapes", {}).items():
        if name not in names:
            raise places.error(("shapes", name), f"shapes: {name} is not a name of the model; "
                               f"the names are {', '.join(sorted(names))}", key=True)
        m = _SHAPE.fullmatch(text)
        if m is None:
            raise places.error(("shapes", name), f'shape of {name} must read "ROWS x COLS" in '
                                                 f'size letters, e.g. "H x 1", not {text!r}')
        for letter in m.groups():
            if letter != "1" and letter not in sizes and letter not in (derived or {}):
                known = ", ".join(sizes) or "none"
                raise places.error(("shapes", name), f"shape of {name}: {letter} is not a size"
                                   f" letter; give it under [sizes] (known: {known})")
        shapes[name] = (m[1], m[2])
    return shapes


def prime_sizes(sizes: Mapping[str, int], derived: Mapping[str, tuple[str, ...]] | None = None
                ) -> dict[str, int]:
    """Each letter its own prime (in sorted order), also a letter whose default size is 1
    (the rows N of a batch): ``--size`` may set it later, and a 1 x H row spreads over
    N x H as in NumPy.  With ``derived`` letters (M = H + D), primes further on where a sum
    would equal another letter's prime, so that each letter still has a size of its own."""
    letters = sorted(sizes)
    for skip in range(len(_MORE_PRIMES) + 1):
        dims = dict(zip(letters, (_PRIMES + _MORE_PRIMES)[skip:]))
        full = with_derived(derived or {}, dims)
        meaning = {k: tuple(sorted((derived or {}).get(k, (k,)))) for k in full}
        seen: dict[int, tuple] = {}
        if all(seen.setdefault(n, meaning[k]) == meaning[k] for k, n in full.items()):
            return dims
    raise BpttError("the derived sizes cannot be told apart from the other letters")


def matrix_functions(arities: Mapping[str, int]) -> dict[str, object]:
    """The callables a matrix model line's functions become: elementwise functions apply
    entry by entry; softmax, xent and sum as themselves."""
    table: dict[str, object] = {"softmax": Softmax, "xent": Xent, "sum": EntrySum}
    for name, n in arities.items():
        if name not in MATRIX_FUNCTIONS:
            table[name] = _elementwise(name, n)
    return table


def _elementwise(name: str, n: int) -> object:
    def call(*args: sp.Basic) -> sp.Basic:
        if len(args) != 1:
            raise BpttError(f"{name} of {len(args)} arguments: a matrix model's functions other "
                            "than xent take one argument (applied entry by entry)")
        arg = args[0]
        return Apply(name, arg) if isinstance(arg, MatrixExpr) else sp.Function(name)(arg)
    return call


class _Shapes:
    """The walk that checks an equation's shapes and names the problem in letters."""

    def __init__(self, letters: Mapping[int, str]) -> None:
        self.letters = letters

    def text(self, shape: tuple[int, int] | None) -> str:
        if shape is None:
            return "a scalar"
        return " x ".join(self.letters.get(d, str(d)) for d in shape)

    def of(self, e: sp.Basic) -> tuple[int, int] | None:
        """The shape of ``e`` (None: a scalar); a misfit raises BpttError."""
        if isinstance(e, MatrixExpr) and not isinstance(e, (sp.MatAdd, sp.MatMul,
                                                            sp.HadamardProduct, Apply,
                                                            Softmax, sp.Transpose, Stack)):
            return tuple(e.shape)
        if isinstance(e, Stack):
            shapes = [(a, self.of(a)) for a in e.parts]
            for a, s in shapes[1:]:
                if s is None or shapes[0][1] is None or s[1] != shapes[0][1][1]:
                    raise BpttError(self._misfit("[a; b] stacks parts of one width, not",
                                                 shapes[0], (a, s)))
            return (sum(s[0] for _, s in shapes), shapes[0][1][1])
        if isinstance(e, sp.Transpose):
            s = self.of(e.arg)
            return None if s is None else (s[1], s[0])
        if isinstance(e, (sp.MatAdd, sp.Add)):
            shapes = [(a, self.of(a)) for a in e.args]
            first = shapes[0]
            for a, s in shapes[1:]:
                if s != first[1]:
                    raise BpttError(self._misfit("+ adds", first, (a, s)))
            return first[1]
        if isinstance(e, sp.HadamardProduct):
            shapes = [(a, self.of(a)) for a in e.args]
            for a, s in shapes[1:]:
                if s != shapes[0][1]:
                    raise BpttError(self._misfit("* is elementwise and multiplies", shapes[0],
                                                 (a, s)))
            return shapes[0][1]
        if isinstance(e, (sp.MatMul, sp.Mul)):
            out: tuple[int, int] | None = None
            left = None
            for a in e.args:
                s = self.of(a)
                if s is None:
                    continue
                if out is not None and out[1] != s[0]:
                    raise BpttError(f"{_named(left)} ({self.text(out)}) times {_named(a)} "
                                    f"({self.text(s)}) does not fit a matrix product (the "
                                    "columns of the left must be the rows of the right)")
                out = s if out is None else (out[0], s[1])
                left = a if left is None else sp.MatMul(left, a)
            return out
        if isinstance(e, Apply):
            return self.of(e.arg)
        if isinstance(e, Softmax):
            if not isinstance(e.arg, (sp.MatrixSymbol, sp.Symbol)):
                raise BpttError(f"softmax takes a name, not {_named(e.arg)}: define it on a "
                                "line of its own (l_t = V s_t), then softmax(l_t)")
            s = self.of(e.arg)
            if s is None or s[1] != 1:
                raise BpttError(f"softmax takes a column vector; {_named(e.arg)} is "
                                f"{self.text(s)}")
            return s
        if isinstance(e, Xent):
            a, b = ((x, self.of(x)) for x in e.args)
            if a[1] != b[1] or a[1] is None or a[1][1] != 1:
                raise BpttError(f"xent(prediction, target) takes two column vectors of one "
                                f"shape; {_named(a[0])} is {self.text(a[1])} and "
                                f"{_named(b[0])} is {self.text(b[1])}")
            return None
        if isinstance(e, EntrySum):
            self.of(e.arg)
            return None
        if isinstance(e, sp.Pow):
            if self.of(e.base) is not None or self.of(e.exp) is not None:
                raise BpttError(f"{_named(e)}: a power of a matrix is not supported in model "
                                "lines; write the product out (h ⊙ h)")
            return None
        for a in e.args:
            if isinstance(a, sp.Basic) and self.of(a) is not None:
                raise BpttError(f"{_named(e)} takes a scalar; {_named(a)} is "
                                f"{self.text(self.of(a))}")
        return None

    def _misfit(self, what: str, a: tuple, b: tuple) -> str:
        return (f"{what} {_named(a[0])} ({self.text(a[1])}) and {_named(b[0])} "
                f"({self.text(b[1])}): the shapes differ")


def _named(e: sp.Basic) -> str:
    """An expression with its placeholders x[t-1] written x_{t-1} again."""
    def name(m: re.Match) -> str:
        index = m[2]
        return f"{m[1]}_{index}" if re.fullmatch(r"t|T|\d+", index) else f"{m[1]}_{{{index}}}"
    return _PLACEHOLDER.sub(name, str(e)).replace("*", " ")


def check_shapes(places: Places, lines: list, sizes: Mapping[str, int],
                 declared: Mapping[str, tuple[str, str]], leaves: set[str],
                 arities: Mapping[str, int], loss: str,
                 derived: Mapping[str, tuple[str, ...]] | None = None
                 ) -> dict[str, tuple[str, str]]:
    """Check every equation's shapes; the shapes of all names, the cell's inferred ones
    added (a leaf left out of ``[shapes]`` is a scalar)."""
    dims = with_derived(derived or {}, prime_sizes(sizes, derived))
    letters = {n: k for k, n in dims.items() if n != 1}
    shapes = dict(declared)
    walk = _Shapes(letters)
    functions = matrix_functions(arities)

    def symbol(ref: Ref) -> sp.Basic:
        p = ref.placeholder()
        if ref.base not in shapes:
            return p
        rows, cols = (1 if d == "1" else dims[d] for d in shapes[ref.base])
        return sp.MatrixSymbol(p.name, rows, cols)

    for line in lines:
        path: Path = line.path
        try:
            tpl = parse_equation(line.source, functions=functions, symbol=symbol,
                                 steps=None if line.part == "cell" else 3)
            got = walk.of(tpl.rhs)
        except BpttError as exc:
            why = str(exc).split(": ", 1)[-1] if str(exc).startswith("in model") else str(exc)
            raise places.error(path, _named_text(why, letters)) from None
        except (TypeError, ValueError, AttributeError, ArithmeticError,
            LookupError) as exc:  # SymPy refusing a mix
            raise places.error(path, f"the shapes of {line.source!r} do not fit: "
                                     f"{str(exc).splitlines()[0][:100]}") from None
        name = tpl.lhs.base
        text = None if got is None else tuple(_letter(letters, d) for d in got)
        if name in shapes or name in leaves:
            want = shapes.get(name)
            if _numbers(want, dims) != got:
                raise places.error(path, f"{name} is {_shape_text(want)} (its [shapes] entry"
                                   f"{'' if want else ' is missing'}) but its right side is "
                                   f"{_shape_text(text)}")
        elif text is not None:
            shapes[name] = text
        if name == loss and text is not None:
            raise places.error(path, f"the loss {loss} must be a scalar; its right side is "
                                     f"{_shape_text(text)} (sum(…) adds up a matrix)")
    return shapes


def default_adjoints(lines: list, states: tuple[str, ...]) -> dict[str, str]:
    """The adjoints a matrix model keeps by default: the argument of each state's
    elementwise function (s_t = f(z_t) keeps ∂E/∂z_t), else the state itself (a state such
    as Pascanu's x_t = W f(x_{t-1}) + …), named delta when there is one.  Each step then has
    a kept adjoint on the recurrence, so the δ recursion in t holds at every step."""
    bases = []
    for line in lines:
        tpl = line.template
        if line.part != "cell" or tpl.lhs.base not in states:
            continue
        call, kept = tpl.rhs, tpl.lhs.base
        if isinstance(call, sp.Function) and len(call.args) == 1 and \
                isinstance(call.args[0], sp.Symbol):
            ref = tpl.refs.get(call.args[0])
            cell = {ln.name for ln in lines if ln.part == "cell"}
            if ref is not None and ref.var == "t" and ref.offset == 0 and ref.base in cell:
                kept = ref.base
        bases.append(kept)
    bases = list(dict.fromkeys(bases))
    return {bases[0]: "delta"} if len(bases) == 1 else {b: f"delta{b}" for b in bases}


def _numbers(shape: tuple[str, str] | None, dims: Mapping[str, int]) -> tuple[int, int] | None:
    return None if shape is None else tuple(1 if d == "1" else dims[d] for d in shape)


def fitting(expr: sp.Basic, where: str) -> None:
    """Check the shapes of an unrolled equation at the chosen sizes (a BpttError names the
    misfit)."""
    try:
        _Shapes({}).of(expr)
    except BpttError as exc:
        raise BpttError(f"in {where!r} at these sizes: {_named_text(str(exc), {})}") from None


def _letter(letters: Mapping[int, str], d: int) -> str:
    return "1" if d == 1 else letters.get(d, str(d))


def _shape_text(shape: tuple[str, str] | None) -> str:
    return "a scalar" if shape is None else " x ".join(shape)


def _named_text(why: str, letters: Mapping[int, str]) -> str:
    """A message of the equation parser with placeholders and sizes in the file's terms."""
    why = _PLACEHOLDER.sub(lambda m: f"{m[1]}_{m[2]}" if re.fullmatch(r"t|T|\d+", m[2])
                           else f"{m[1]}_{{{m[2]}}}", why)
    return re.sub(r"\((\d+) x (\d+)\)", lambda m: "(" + " x ".join(
        _letter(letters, int(d)) for d in m.groups()) + ")", why)
