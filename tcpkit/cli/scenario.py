"""``tcpkit scenario``: list or run a named scenario and print its trace."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tcpkit.drivers.scenarios import SCENARIOS, list_scenarios, run_scenario
from tcpkit.engine.errors import ParameterError, TcpkitError


def main(argv: list[str] | None = None) -> int:
    """``tcpkit scenario list`` and ``tcpkit scenario run NAME [--seed N] [--param k=v ...] [--json]``."""
    ap = argparse.ArgumentParser(
        prog="tcpkit scenario", description="List or run a named scenario and print its trace."
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="list the scenarios")
    ls.add_argument("--zh", action="store_true", help="descriptions in Chinese")
    rn = sub.add_parser("run", help="run one scenario")
    rn.add_argument("name")
    rn.add_argument("--seed", type=int, default=0)
    rn.add_argument("--profile", default="linux", help="linux, freebsd or rfc9293")
    rn.add_argument("--param", action="append", default=[], metavar="K=V", help="a scenario parameter (repeatable)")
    rn.add_argument("--json", action="store_true", help="print the trace as JSON")
    rn.add_argument("--limit", type=int, default=None, help="show at most this many records")
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.cmd == "list":
        width = max(len(n) for n in SCENARIOS)
        for name, en, zh in list_scenarios():
            print(f"{name:<{width}}  {zh if args.zh else en}")
        return 0
    params: dict[str, Any] = {}
    try:
        for kv in args.param:
            k, sep, v = kv.partition("=")
            if not sep or not k:
                raise ParameterError("--param", kv, "NAME=VALUE")
            params[k.strip()] = v.strip()
        trace = run_scenario(args.name, seed=args.seed, profile=args.profile, **params)
    except TcpkitError as exc:
        print(f"tcpkit scenario: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(trace.to_json())
        return 0
    print(f"# {trace.meta['scenario']}: {trace.meta['description']}")
    print(trace.table(limit=args.limit))
    print("result: " + json.dumps(trace.meta["result"], sort_keys=True, ensure_ascii=False))
    return 0
