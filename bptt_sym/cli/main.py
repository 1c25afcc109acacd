"""The ``bptt-sym`` command: ``derive``, ``unroll``, ``verify``, ``check``, ``export``,
``graph`` and ``models``.

Every mistake in the command line ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence

from bptt_sym.check.checker import check_graph, summary
from bptt_sym.cli.gradcheck import gradcheck_cmd, values_cmd
from bptt_sym.cli.matrix import (
    check_vector,
    derive_vector,
    unroll_vector_cmd,
    vector_graph,
    vector_request,
    verify_vector,
)
from bptt_sym.cli.parser import SIZE_LETTERS, parser
from bptt_sym.cli.truncated import derive_truncated, verify_truncated_cmd
from bptt_sym.deep import in_thread
from bptt_sym.derivation.forms import FORMS, PathLimitError, derive
from bptt_sym.errors import BpttError, TooDeep, UsageError
from bptt_sym.export.documents import Skipped, collect, document_format, latex, markdown
from bptt_sym.export.documents_matrix import vector_document
from bptt_sym.export.drawing import MAX_DRAWN_STEPS, draw, picture_format
from bptt_sym.files import (
    check_output,
    emit,
    emit_json,
    flush_stdout,
    json_text,
    read_text,
    silence,
    warn,
    write_output,
)
from bptt_sym.graph.build import Graph, unroll
from bptt_sym.limits import (
    MAX_NESTED_STEPS,
    MAX_VERIFY_STEPS,
    check_nested,
    check_points,
    nested_forms,
)
from bptt_sym.model.registry import MODELS, ModelSpec
from bptt_sym.numeric.memory import keep_freed_memory
from bptt_sym.printing.leibniz import derivation_json, leibniz
from bptt_sym.verification.run import read_points, verify

__all__ = ["main"]


def _split(text: str, option: str, allowed: Sequence[str] | None = None) -> list[str]:
    items = list(dict.fromkeys(t.strip() for t in text.split(",")))
    if not all(items):
        raise UsageError(f"{option} {text!r} has an empty name; write a comma list such as u,w")
    if allowed is not None:
        for item in items:
            if item not in allowed:
                raise UsageError(f"unknown {option} value {item!r}; choose from "
                                 f"{', '.join(allowed)}")
    return items


def _vector(args: argparse.Namespace) -> bool:
    """True for a matrix model (a built-in one or a file with [shapes])."""
    model = getattr(args, "model", "doc")
    spec = model if isinstance(model, ModelSpec) else MODELS.get(model)
    return spec is not None and spec.is_matrix


def model_argument(text: str) -> str | ModelSpec:
    """--model: a built-in name stays a name; anything else is the path of a model file."""
    if text in MODELS:
        return text
    if text.endswith(".toml") or os.sep in text or os.path.exists(text):
        from bptt_sym.model.load import load_model

        return load_model(text)
    names = ", ".join(MODELS)
    raise UsageError(f"unknown model {text!r}; choose {names}, or the path of a model file "
                     "(.toml; `bptt-sym models --show doc` prints one to start from)")


def _apply_sizes(args: argparse.Namespace) -> None:
    """--size H=…,D=…,K=… sets --hidden, --inputs, --classes (giving both is an error)."""
    for letter, value in (getattr(args, "size", None) or {}).items():
        option = SIZE_LETTERS.get(letter)
        if option is None:
            continue  # a letter of a model file's [sizes]: the unroller checks it
        if getattr(args, option) is not None:
            raise UsageError(f"--size {letter}= and --{option} both give the size {letter}; "
                             "give it once")
        setattr(args, option, value)


def _roles_given(args: argparse.Namespace, spec: ModelSpec) -> None:
    """--activation, --output and --loss replace a function of the model; one that the model
    has no function for is an error, not silently ignored."""
    roles = set(spec.functions.values())
    for role, option, default in (("activation", "--activation", "f"), ("output", "--output", "g"),
                                  ("loss", "--loss", "L")):
        if getattr(args, role) != default and role not in roles:
            where = f"model {spec.name}" + (f" ({spec.path})" if spec.path else "")
            raise UsageError(f"{option} does not apply: {where} has no function with the role "
                             f"{role!r} (its `functions` table names the replaceable ones)")


def _graph(args: argparse.Namespace) -> Graph:
    if getattr(args, "hidden", None) or getattr(args, "inputs", None) or \
            getattr(args, "classes", None) or getattr(args, "bias", False) or \
            getattr(args, "size", None):
        raise UsageError("--size, --hidden, --inputs, --classes and --bias are for matrix "
                         "models (--model elman, or a model file with [sizes])")
    if isinstance(args.model, ModelSpec):
        _roles_given(args, args.model)
    g = unroll(args.model, steps=args.steps, activation=args.activation, output=args.output,
               loss=args.loss)
    for note in g.warnings:
        warn(f"bptt-sym: warning: {note}")
    return g


def _targets(args: argparse.Namespace, g: Graph) -> tuple[list[str], str]:
    """The --wrt names (default: every parameter) and the --of node, each checked."""
    wrts = _split(args.wrt, "--wrt") if args.wrt else list(g.copies)
    of = args.of or g.spec.loss
    for w in wrts:
        g.resolve(w)
    g.resolve(of, option="--of")
    return wrts, of


def _derive(args: argparse.Namespace) -> int:
    if args.truncate is not None:
        return derive_truncated(args, _graph, _split)
    if _vector(args):
        return derive_vector(args, _split)
    forms = _forms(args)
    g = _graph(args)
    wrts, of = _targets(args, g)
    explicit_paths = args.form.strip() != ",".join(FORMS)
    results = []
    for w in wrts:
        for form in forms:
            try:
                results.append(derive(g, wrt=w, of=of, form=form, explicit=args.explicit,
                                      max_paths=args.max_paths))
            except PathLimitError as exc:
                if explicit_paths:
                    raise
                warn(f"bptt-sym: note: {form} form of ∂{of}/∂{w} skipped: {exc}")
    if args.format == "json":
        doc = {"model": g.spec.name, "steps": g.steps, "choices": dict(g.choices),
               "warnings": list(g.warnings), "derivations": [derivation_json(d) for d in results]}
        emit_json(doc, ensure_ascii=False, indent=1)
    else:
        emit("\n\n".join(d.text(args.format) for d in results))
    return 0


def _forms(args: argparse.Namespace, left_out: list[str] | None = None) -> list[str]:
    """The --form list; a nested form beyond MAX_NESTED_STEPS is an error when asked for
    and, when --form was not given, left out: with a note, or added to ``left_out``."""
    forms = _split(args.form, "--form", FORMS)
    deep = nested_forms(forms, args.steps)
    if not deep:
        return forms
    if args.form.strip() != ",".join(FORMS):
        check_nested(forms, args.steps)
    if left_out is not None:
        left_out += deep
    else:
        for form in deep:
            warn(f"bptt-sym: note: {form} form skipped: {_too_deep(args.steps)}")
    return [f for f in forms if f not in deep]


def _too_deep(steps: int) -> str:
    return (f"at --steps {steps} it is nested too deeply to print (it prints up to "
            f"{MAX_NESTED_STEPS} steps); use --form delta")


def _unroll(args: argparse.Namespace) -> int:
    if _vector(args):
        return unroll_vector_cmd(args)
    g = _graph(args)
    comment = "%" if args.format == "latex" else "#"
    emit(f"{comment} model {g.spec.heading}, steps 0..{g.steps - 1}")
    for node in g.nodes.values():
        if node.expr is None:
            continue
        ref = g.spec.refs.get((node.base, node.step)) if g.steps == g.spec.article_steps else None
        if ref:
            emit(f"{comment} ({ref})")
        emit(f"{leibniz(node.symbol, args.format)} = {leibniz(node.expr, args.format)}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if args.steps > MAX_VERIFY_STEPS:
        raise UsageError(f"verify runs at most {MAX_VERIFY_STEPS} steps (--steps {args.steps}): "
                         "it compiles and runs every form and oracle; use a smaller --steps")
    keep_freed_memory()  # the compiled programs' arrays: kept for the next call
    if args.truncate is not None:
        return verify_truncated_cmd(args, _graph, _split)
    if _vector(args):
        return verify_vector(args)
    if args.at is None:
        check_points(args.points, args.steps)
    g = _graph(args)
    at = read_points(args.at, g) if args.at else None
    report = verify(args.model, steps=args.steps, activation=args.activation,
                    output=args.output, loss=args.loss, oracles=args.oracle,
                    points=args.points, seed=args.seed, at=at)
    emit(json_text(report.to_json(), indent=1) if args.json else report.text())
    return 0 if report.passed else 1


_read_text = read_text  # check's FILE: at most MAX_INPUT_BYTES, from a file, stdin or a FIFO


def _check(args: argparse.Namespace) -> int:
    show = None if args.json else lambda v: emit(v.text())
    if _vector(args):
        vector_graph(args)  # the same checks of the options as derive and verify
        text = _read_text(args.file)
        verdicts = check_vector(args, text, show)
    else:
        g = _graph(args)
        text = _read_text(args.file)
        verdicts = check_graph(text, g, seed=args.seed, on_verdict=show, first=args.first)
    counts = summary(verdicts)
    if args.json:
        emit(json_text({"equations": [v.to_json() for v in verdicts], "summary": counts},
                       ensure_ascii=False, indent=1))
    elif verdicts:
        extra = "".join(f", {counts[k]} {k}" for k in ("undecided", "skipped") if counts.get(k))
        emit(f"{counts['holds']} hold, {counts['fails']} fail, {counts['invalid']} invalid"
             + extra)
    if not any(v.verdict != "skipped" for v in verdicts):
        warn(f"bptt-sym check: no equations found in {args.file!r}")
        return 1
    failing = sum(counts.get(k, 0) for k in ("fails", "invalid", "undecided"))
    return 1 if failing else 0


def _check_output(args: argparse.Namespace) -> None:
    """Fail early, before any work, on an output path that cannot or may not be written."""
    check_output(args.output_file, force=args.force)


def _write_output(args: argparse.Namespace, data: bytes) -> None:
    write_output(args.output_file, data, force=args.force)


def _export(args: argparse.Namespace) -> int:
    fmt = document_format(args.output_file, args.format)
    _check_output(args)
    if _vector(args):
        g, wrts, forms = vector_request(args, _split)
        text = vector_document(g, wrt=wrts, forms=forms, fmt=fmt)
        _write_output(args, text.encode())
        return 0
    left_out: list[str] = []
    forms = _forms(args, left_out)
    g = _graph(args)
    wrts, of = _targets(args, g)
    skipped = [Skipped(of, w, _too_deep(args.steps), form) for w in wrts for form in left_out]
    results = collect(g, wrt=wrts, forms=forms, of=of, explicit=args.explicit,
                      max_paths=args.max_paths, skipped=skipped,
                      skip_long_paths=args.form.strip() == ",".join(FORMS))
    for note in skipped:
        warn(f"bptt-sym: note: {note}")
    text = (latex if fmt == "latex" else markdown)(g, results, skipped=skipped)
    _write_output(args, text.encode())
    return 0


def _draw(args: argparse.Namespace) -> int:
    fmt = picture_format(args.output_file, args.format)
    _check_output(args)
    if args.steps > MAX_DRAWN_STEPS:  # before unrolling, which takes a minute at 100000
        raise UsageError(f"graph draws at most {MAX_DRAWN_STEPS} steps (--steps {args.steps}); "
                         "a larger drawing is unreadable")
    g = vector_graph(args) if _vector(args) else _graph(args)
    wrts = _split(args.wrt, "--wrt") if args.wrt else []
    picture = draw(g, wrt=wrts, of=args.of or g.spec.loss).render(fmt)
    _write_output(args, picture)
    return 0


def _models(args: argparse.Namespace) -> int:
    from bptt_sym.model.load import BUILTIN, builtin_text

    if args.show is not None:
        if args.show in BUILTIN:
            emit(builtin_text(args.show).rstrip("\n"))
            return 0
        if args.show.endswith(".toml"):  # a model file: read, checked, written back
            from bptt_sym.model.load import load_model, model_toml

            emit(model_toml(load_model(args.show)).rstrip("\n"))
            return 0
        raise UsageError(f"unknown model {args.show!r} for --show; choose one of "
                         f"{', '.join(BUILTIN)}, or give a model file (NAME.toml)")
    width = max(len(name) for name in MODELS)
    for spec in MODELS.values():
        emit(f"{spec.name:<{width}}  {spec.title}")
    emit("(`bptt-sym models --show NAME` prints a model's file: edit it, pass it as --model FILE)")
    return 0


def _default_choices(args: argparse.Namespace) -> None:
    """--activation, --output and --loss left out: the model file's defaults, else the
    abstract f, g and L (tanh for the activation of a matrix model, as V1)."""
    model = getattr(args, "model", None)
    spec = model if isinstance(model, ModelSpec) else MODELS.get(model)
    defaults = spec.defaults if spec is not None else {}
    for option, role, abstract in (("activation", "activation", "f"), ("output", "output", "g"),
                                   ("loss", "loss", "L")):
        if getattr(args, option, "") is None:
            fallback = "tanh" if role == "activation" and _vector(args) else abstract
            setattr(args, option, defaults.get(role, fallback))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Every command but ``check`` runs in a thread with a large stack (:mod:`bptt_sym.deep`),
    so deep expressions end in a clear limit, never in a crash; ``check`` keeps the main
    thread for its time budgets (signals).
    """
    command, args = "bptt-sym", None
    try:
        args = parser().parse_args(argv)
        command = f"bptt-sym {args.command}"
        if hasattr(args, "model"):
            args.model = model_argument(args.model)
            _apply_sizes(args)
        _default_choices(args)
        handlers = {"derive": _derive, "unroll": _unroll, "verify": _verify, "check": _check,
                    "models": _models, "export": _export, "graph": _draw,
                    "values": values_cmd, "gradcheck": gradcheck_cmd}
        handler = handlers[args.command]
        status = handler(args) if args.command == "check" else in_thread(handler, args)
        flush_stdout()
        return status
    except KeyboardInterrupt:
        warn(f"{command}: interrupted")
        return 130
    except TooDeep as exc:
        steps = getattr(args, "steps", None)
        warn(f"{command}: error: --steps {steps} is too deep: {exc}")
        return 2
    except UsageError as exc:
        warn(f"{command}: error: {exc}")
        return 2
    except BpttError as exc:
        warn(f"{command}: error: {exc}")
        return 1
    except MemoryError:
        warn(f"{command}: error: out of memory; use a smaller --steps or --points")
        return 2
    except RecursionError:
        warn(f"{command}: error: the expressions are nested too deeply; use a smaller --steps "
             "or --form delta")
        return 2
    except BrokenPipeError:  # a pipe closed under a write not made through files.emit
        silence()
        return 1


def main_exit() -> None:
    """Console-script entry point: run :func:`main` and exit with its status; Ctrl-C at any
    moment is one line and status 130."""
    try:
        status = main()
    except KeyboardInterrupt:
        warn("bptt-sym: interrupted")
        status = 130
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError):
        pass
    if status == 130 and any(t.name == "bptt-sym deep" for t in threading.enumerate()):
        sys.stderr.flush()
        os._exit(130)  # the worker thread still runs: end without waiting for it
    sys.exit(status)
