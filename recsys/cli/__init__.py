"""The ``recsys`` command line: one thin module per command.

Each command module defines ``add_parser(subparsers)`` and ``run(args) -> int``. Bad input
(:class:`recsys.core.errors.InputError`, argparse errors) prints one line and exits with code 2;
an interruption prints one line and exits with code 130.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from recsys import __version__
from recsys.cli.args import bounded, positive_int, probability  # noqa: F401 - the commands' argument types
from recsys.core.errors import InputError

#: command name -> module under recsys.cli
COMMANDS = {
    "demo": "demo",
    "ab": "ab",
    "analyze": "analyze",
    "evaluate": "evaluate",
    "tune-model": "tune_model",
    "tune-diversity": "tune_diversity",
    "artwork-test": "artwork_test",
    "preview": "preview",
    "power": "power",
    "surrogate-bank": "surrogate_bank",
    "interleave": "interleave",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage too)
        raise InputError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="recsys", description="A personalization testbed: simulate, recommend, A/B test.")
    parser.add_argument("--version", action="version", version=f"recsys {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"recsys.cli.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"recsys.cli.{module_name}":
                continue  # command not built yet
            raise
        module.add_parser(sub, name)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: stop, write nothing more, say so."""


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        return int(args.run(args) or 0)
    except InputError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "bad input"
        print(f"recsys: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        what = "terminated" if isinstance(exc, Terminated) else "interrupted"
        print(f"recsys: {what}; no output was written (a run with --out can continue with --resume)",
              file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except Exception as exc:  # noqa: BLE001 - e.g. a worker died: one line, nothing written
        if os.environ.get("RECSYS_DEBUG"):
            raise
        reason = str(exc).splitlines()[0] if str(exc) else ""
        print(f"recsys: failed: {type(exc).__name__}: {reason}; no output was written "
              "(RECSYS_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
