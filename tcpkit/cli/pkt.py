"""``tcpkit pkt``: run packetdrill scripts against the engine.


Each script runs on a virtual clock; one PASS/FAIL line each, then ``N passed, N failed``.
"""

from __future__ import annotations

import argparse
import json
import sys

from tcpkit.drivers.packetdrill import run_file
from tcpkit.engine.profiles import PROFILES


def main(argv: list[str] | None = None) -> int:
    """``tcpkit pkt [--profile P] [--tolerance-ms N] [--json] [-v] FILE...``.

    Prints one line per script and ``N passed, N failed``; exits 0 only if every script passed.
    """
    ap = argparse.ArgumentParser(prog="tcpkit pkt", description="Run packetdrill scripts against the tcpkit engine.")
    ap.add_argument("--profile", default="linux", choices=PROFILES, help="OS profile (default linux)")
    ap.add_argument(
        "--tolerance-ms",
        type=float,
        default=None,
        help="timing tolerance in ms (default: the script's --tolerance_usecs, else 4)",
    )
    ap.add_argument("--json", action="store_true", help="print machine-readable results")
    ap.add_argument(
        "-v", "--verbose", action="store_true", help="also print notes, skipped checks and ignored commands"
    )
    ap.add_argument("files", nargs="+", metavar="FILE")
    args = ap.parse_args(argv)
    if args.tolerance_ms is not None and args.tolerance_ms < 0:
        print(
            f"tcpkit pkt: --tolerance-ms = {args.tolerance_ms} is not allowed: expected a number >= 0", file=sys.stderr
        )
        return 2
    results = [run_file(f, profile=args.profile, tolerance_ms=args.tolerance_ms) for f in args.files]
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
