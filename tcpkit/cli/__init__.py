"""The ``tcpkit`` command line (also ``python -m tcpkit``).

Each subcommand lives in its own module of this package; this file only
dispatches, so ``tcpkit --help`` stays fast, and applies the contract of
:mod:`tcpkit.cli.common` to every subcommand: a tcpkit error or a usage error
is one line on stderr and exit code 2; an unexpected exception is one line
asking for a report and exit code 70, with the traceback only under
``tcpkit --debug`` (or ``TCPKIT_DEBUG=1``).

>>> main(["--version"])
tcpkit 0.1.0
0
>>> main(["no-such-command"])
2
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from typing import NoReturn

from .common import EXIT_USAGE, UsageError, guard

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "pkt": ("tcpkit.cli.pkt", "run packetdrill scripts against the engine"),
    "scenario": ("tcpkit.cli.scenario", "list or run a named scenario and print its trace"),
    "profile": ("tcpkit.cli.profile", "show a profile's knobs, defaults and ranges"),
    "pcap": ("tcpkit.cli.pcap", "export a trace to pcap, or import a capture and annotate or replay it"),
    "course": ("tcpkit.cli.course", "build student homework or grade submissions"),
    "live": ("tcpkit.cli.live", "run the real-kernel lab on this machine"),
}


def _usage() -> str:
    lines = ["usage: tcpkit [--debug] COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += [
        "",
        "Run 'tcpkit COMMAND --help' for a command's options.",
        "Exit codes: 0 done, 1 done but failed (a script, a comparison), 2 bad input (one line on stderr),",
        "70 internal error (please report it; --debug shows the traceback), 130 interrupted.",
    ]
    return "\n".join(lines)


def _one_line_error(self: argparse.ArgumentParser, message: str) -> NoReturn:
    raise UsageError(f"{message} (see '{self.prog} --help')")


@contextlib.contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    """While a subcommand runs, any argparse parser reports a usage error as one :class:`UsageError` line.

    Subcommands that build a plain :class:`argparse.ArgumentParser` keep their
    own code; the dispatcher still holds them to the one-line contract.
    """
    saved = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = _one_line_error  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.error = saved  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    """Run ``tcpkit ARGS``; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("TCPKIT_DEBUG", "") not in ("", "0")
    while args and args[0] == "--debug":
        debug = True
        args.pop(0)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else EXIT_USAGE
    if args[0] == "--version":
        from tcpkit import __version__

        print(f"tcpkit {__version__}")
        return 0
    name = args[0]
    if name not in SUBCOMMANDS:
        print(f"tcpkit: error: unknown command {name!r}; known commands: {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return EXIT_USAGE

    def body() -> int:
        module = importlib.import_module(SUBCOMMANDS[name][0])
        with _one_line_usage_errors():
            result = module.main(args[1:])
        return int(result) if isinstance(result, int) else 0

    return guard(f"tcpkit {name}", body, debug=debug)
