"""``tcpkit pkt``: run packetdrill scripts against the engine.


Each script runs on a virtual clock; one PASS/FAIL line each, then ``N passed, N failed``.
A script that cannot be read, or that checks nothing, is a FAIL line with ``path:line:column``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import traceback

from tcpkit.drivers.packetdrill import MAX_TOLERANCE_MS, run_file
from tcpkit.engine.errors import TcpkitError
from tcpkit.engine.profiles import PROFILES


def _tolerance(text: str) -> float | None:
    """The ``--tolerance-ms`` value, or None when it is not a finite number in range."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or not 0 <= value <= MAX_TOLERANCE_MS:
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    """``tcpkit pkt [--profile P] [--tolerance-ms N] [--json] [-v] [--debug] FILE...``.

    Prints one line per script and ``N passed, N failed``; exits 0 only if every script passed,
    1 if one failed (or could not be read, or checks nothing), 2 for a bad command line.

    >>> main(["--tolerance-ms", "nan", "x.pkt"])
    2
    """
    ap = argparse.ArgumentParser(prog="tcpkit pkt", description="Run packetdrill scripts against the tcpkit engine.")
    ap.add_argument("--profile", default="linux", choices=PROFILES, help="OS profile (default linux)")
    ap.add_argument(
        "--tolerance-ms",
        default=None,
        help="timing tolerance in ms (default: the script's --tolerance_usecs, else 4)",
    )
    ap.add_argument("--json", action="store_true", help="print machine-readable results")
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="also print notes, skipped checks and ignored commands"
    )
    ap.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    ap.add_argument("files", nargs="+", metavar="FILE")
    args = ap.parse_args(argv)
    tolerance: float | None = None
    if args.tolerance_ms is not None:
        tolerance = _tolerance(args.tolerance_ms)
        if tolerance is None:
            print(
                f"tcpkit pkt: --tolerance-ms = {args.tolerance_ms!r} is not allowed: "
                f"expected a finite number of milliseconds from 0 to {MAX_TOLERANCE_MS:g}",
                file=sys.stderr,
            )
            return 2
    try:
        results = [run_file(f, profile=args.profile, tolerance_ms=tolerance) for f in args.files]
    except TcpkitError as exc:
        print(f"tcpkit pkt: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except Exception as exc:  # never a traceback for a user, unless asked for
        if args.debug:
            traceback.print_exc()
        print(
            f"tcpkit pkt: internal error ({type(exc).__name__}: {exc}); please report it (--debug shows the traceback)",
            file=sys.stderr,
        )
        return 2
    passed = sum(r.passed for r in results)
    failed = len(results) - passed
    if args.json:
        print(
            json.dumps(
                {"results": [r.to_dict() for r in results], "passed": passed, "failed": failed},
                indent=2,
                sort_keys=True,
            )
        )
    else:
        for r in results:
            print(r.summary())
            if args.verbose:
                for label, items in (("note", r.notes), ("skipped", r.skipped), ("ignored", r.ignored)):
                    for item in items:
                        print(f"    {label}: {item}")
        print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1
