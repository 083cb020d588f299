"""``tcpkit live``: the real-kernel lab on this machine."""

from __future__ import annotations

import argparse
import json
import sys

from tcpkit.live import ALIASES, SCRIPTS, SHORT_STATE_NOTE, run_live


def main(argv: list[str] | None = None) -> int:
    """``tcpkit live [SCENARIO ...] [--json] [--table] [--no-model] [--root-extras] [--proc PATH]``.

    Exit status: 0 when every scenario agrees with the model (or there is no
    model to compare with), 1 when one differs or fails, 2 for bad arguments.

    >>> main(["--list"])  # doctest: +ELLIPSIS
    abort_rst                Abort with SO_LINGER 0: RST instead of FIN
    ...
    0
    """
    ap = argparse.ArgumentParser(
        prog="tcpkit live",
        description="Run TCP scenarios with real sockets on loopback and compare the kernel's states with the model.",
    )
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario names (default: all); see --list")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--table", action="store_true", help="also print each scenario's timeline")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--no-model", action="store_true", help="only watch the kernel, do not run the model")
    ap.add_argument(
        "--root-extras",
        action="store_true",
        help=(
            "as root: also capture loopback traffic with tcpdump, and run the scenarios that need a private "
            "network namespace"
        ),
    )
    ap.add_argument("--proc", default="/proc", metavar="PATH", help="where procfs is mounted (default /proc)")
    ap.add_argument("--here", action="store_true", help=argparse.SUPPRESS)  # child inside a private namespace
    args = ap.parse_args(argv)
    if args.list:
        for name in sorted(SCRIPTS):
            print(f"{name:<24} {SCRIPTS[name].title}")
        return 0
    unknown = [n for n in args.scenarios if n not in SCRIPTS and n not in ALIASES]
    if unknown:
        print(f"tcpkit live: unknown scenario {unknown[0]!r}; known: {', '.join(sorted(SCRIPTS))}", file=sys.stderr)
        return 2
    results = run_live(
        args.scenarios or None,
        proc_root=args.proc,
        model=not args.no_model,
        root_extras=args.root_extras,
        here=args.here,
    )
    if args.json:
        print(
            json.dumps(
                {"short_states": SHORT_STATE_NOTE, "results": [r.to_dict() for r in results]},
                indent=1,
                ensure_ascii=False,
            )
        )
    else:
        for r in results:
            print(r.summary())
            if args.table:
                print()
                print(r.table())
            print()
        print(SHORT_STATE_NOTE)
    return 0 if all(r.verdict in ("agree", "no model", "skipped") for r in results) else 1
