"""The ``handpose`` command line: one module per verb under :mod:`handpose.cli`.

Each verb module defines ``register(subparsers)``, which adds its parser and sets ``func`` to the
function that runs it. Verb modules import heavy libraries (torch, Lightning) inside that function,
so ``handpose --help`` stays fast.

A :class:`~handpose.errors.HandposeError` becomes one line on stderr and exit status 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from handpose import __version__
from handpose.errors import HandposeError

VERBS: tuple[str, ...] = (
    "demo",
    "train",
    "folds",
    "evaluate",
    "predict",
    "export",
    "quantize",
    "synth",
    "data",
    "models",
)


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line (``handpose VERB: error: ...``), like every other user error."""

    def error(self, message: str) -> NoReturn:
        # "argument --count: must be ..." reads as "--count must be ...", as the verbs' own checks do.
        message = re.sub(r"^argument (\S+?)(/\S+)?: must", r"\1 must", message)
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="handpose",
        description="3D hand pose estimation from a single depth or RGB image.",
        epilog="Run 'handpose VERB --help' for the options of each verb.",
    )
    parser.add_argument("--version", action="version", version=f"handpose {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        module_name = f"handpose.cli.{verb}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code == 2:  # a usage error, already printed as one line
            return 2
        raise  # --help and --version end the program as argparse means them to
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except HandposeError as exc:
        if args.debug:
            raise
        print(f"handpose {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"handpose {args.verb}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`handpose models | head`): stop quietly, as Unix tools do.
        # Python would report the broken pipe again when it flushes stdout at exit, so point stdout at devnull.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
