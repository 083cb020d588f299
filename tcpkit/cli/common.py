"""What every ``tcpkit`` subcommand shares: one-line errors, exit codes, checked argument types.

The contract of the command line:

* exit code 0: done; 1: done, and the answer is "no" (a script failed, the
  engine differs); 2: the input was wrong: a tcpkit error or a usage error,
  printed as **one line** on stderr naming what was wrong and what is allowed;
  70: an internal error (a bug): one line asking for a report, the traceback
  only with ``tcpkit --debug``; 130: interrupted (Ctrl-C).
* :class:`Parser` is :class:`argparse.ArgumentParser` whose usage errors are
  that one line (``see 'tcpkit pcap --help'``) instead of the usage text.
* :func:`guard` runs a subcommand body and applies the contract.
* :func:`number` and :func:`count` are argument types that refuse NaN,
  infinities and out-of-range values by name.

Examples
--------
>>> one_line(ValueError("column 3: bad\\n  S. 1:1(0)\\n    ^"))
"column 3: bad (in 'S. 1:1(0)')"
>>> p = Parser(prog="tcpkit demo")
>>> _ = p.add_argument("--limit", type=count("--limit"))
>>> p.parse_args(["--limit", "-5"])
Traceback (most recent call last):
...
tcpkit.cli.common.UsageError: argument --limit: --limit = '-5' is not allowed: expected an integer >= 0 ...
"""

from __future__ import annotations

import argparse
import math
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn

from tcpkit.engine.errors import TcpkitError

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "Parser",
    "UsageError",
    "choice",
    "count",
    "guard",
    "number",
    "one_line",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 70, 130
#: The longest error line printed (a huge value in a message is cut).
MAX_LINE = 400


class UsageError(TcpkitError):
    """A command line the parser refused (unknown option, missing or bad argument)."""


class Parser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors are one line and a :class:`UsageError`."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def one_line(exc: BaseException) -> str:
    """An error message as one line: extra lines (a quoted source line, a caret) folded in."""
    lines = [ln.strip() for ln in str(exc).splitlines()]
    lines = [ln for ln in lines if ln and set(ln) != {"^"}]
    if not lines:
        return type(exc).__name__
    text = lines[0] + (" (in " + " / ".join(repr(ln) for ln in lines[1:]) + ")" if len(lines) > 1 else "")
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."


def guard(prog: str, body: Callable[[], int], *, debug: bool = False) -> int:
    """Run ``body`` and turn what it raises into the exit codes above, printing one line on stderr."""
    try:
        return body()
    except TcpkitError as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except SystemExit as exc:  # argparse's --help and --version
        code = exc.code
        return code if isinstance(code, int) else (EXIT_OK if code is None else EXIT_USAGE)
    except BrokenPipeError:  # the reader went away (tcpkit ... | head)
        return EXIT_FAILED
    except Exception as exc:
        if debug:
            traceback.print_exc()
        hint = "" if debug else "; run it again as 'tcpkit --debug ...' to see the traceback"
        print(
            f"{prog}: internal error, please report it with the command you ran: "
            f"{type(exc).__name__}: {one_line(exc)}{hint}",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _fail(name: str, text: str, allowed: str) -> NoReturn:
    raise argparse.ArgumentTypeError(f"{name} = {text!r} is not allowed: expected {allowed}")


def _num(x: float) -> str:
    return str(int(x)) if math.isfinite(x) and float(x).is_integer() else f"{x:g}"


def number(name: str, lo: float = -math.inf, hi: float = math.inf, unit: str = "") -> Callable[[str], float]:
    """An argument type: a finite number from ``lo`` to ``hi`` (NaN and infinities refused)."""
    what = f"a finite number from {_num(lo)} to {_num(hi)}" + (f" ({unit})" if unit else "")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            _fail(name, text, what)
        if not math.isfinite(value) or not lo <= value <= hi:
            _fail(name, text, what)
        return value

    return parse


def count(name: str, lo: int = 0, hi: int | None = None) -> Callable[[str], int]:
    """An argument type: an integer from ``lo`` (to ``hi``)."""
    what = f"an integer >= {lo}" if hi is None else f"an integer from {lo} to {hi}"

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            _fail(name, text, what)
        if value < lo or (hi is not None and value > hi):
            _fail(name, text, what)
        return value

    return parse


def choice(name: str, allowed: tuple[str, ...]) -> Callable[[str], str]:
    """An argument type: one of ``allowed`` (named in the error)."""

    def parse(text: str) -> str:
        if text not in allowed:
            _fail(name, text, "one of " + ", ".join(allowed))
        return text

    return parse
