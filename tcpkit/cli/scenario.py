"""``tcpkit scenario``: list or run a named scenario and print its trace.

Examples
--------
>>> main(["run", "abort_rst", "--limit", "-5"])
2
"""

from __future__ import annotations

import json
import sys
from typing import Any

from tcpkit.drivers.scenarios import SCENARIOS, list_scenarios, run_scenario
from tcpkit.engine.errors import ParameterError
from tcpkit.engine.profiles import PROFILES
from tcpkit.files import check_output, write_output

from .common import EXIT_OK, Parser, choice, count, guard


def parser() -> Parser:
    ap = Parser(prog="tcpkit scenario", description="List or run a named scenario and print its trace.")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=Parser)
    ls = sub.add_parser("list", help="list the scenarios")
    ls.add_argument("--zh", action="store_true", help="descriptions in Chinese")
    rn = sub.add_parser("run", help="run one scenario")
    rn.add_argument("name", type=choice("NAME", tuple(SCENARIOS)), help="a scenario name (tcpkit scenario list)")
    rn.add_argument("--seed", type=count("--seed", -(2**63), 2**63 - 1), default=0)
    rn.add_argument("--profile", type=choice("--profile", PROFILES), default="linux", help="linux, freebsd or rfc9293")
    rn.add_argument("--param", action="append", default=[], metavar="K=V", help="a scenario parameter (repeatable)")
    rn.add_argument("--json", action="store_true", help="print the trace as JSON")
    rn.add_argument("--limit", type=count("--limit"), default=None, help="show at most this many records (>= 0)")
    rn.add_argument("--out", metavar="FILE", help="write to FILE instead of printing (never over an existing input)")
    return ap


def main(argv: list[str] | None = None) -> int:
    """``tcpkit scenario list`` and ``tcpkit scenario run NAME [--seed N] [--param k=v ...] [--json] [--out FILE]``."""
    return guard("tcpkit scenario", lambda: _run(sys.argv[1:] if argv is None else argv))


def _run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.cmd == "list":
        width = max(len(n) for n in SCENARIOS)
        for name, en, zh in list_scenarios():
            print(f"{name:<{width}}  {zh if args.zh else en}")
        return EXIT_OK
    if args.out:
        check_output(args.out, name="--out")  # before the run: a folder or a missing folder is refused at once
    params: dict[str, Any] = {}
    for kv in args.param:
        k, sep, v = kv.partition("=")
        if not sep or not k.strip():
            raise ParameterError("--param", kv, "NAME=VALUE")
        params[k.strip()] = v.strip()
    trace = run_scenario(args.name, seed=args.seed, profile=args.profile, **params)
    if args.json:
        text = trace.to_json()
    else:
        text = "\n".join(
            [
                f"# {trace.meta['scenario']}: {trace.meta['description']}",
                trace.table(limit=args.limit),
                "result: " + json.dumps(trace.meta["result"], sort_keys=True, ensure_ascii=False),
            ]
        )
    if args.out:
        write_output(args.out, text + "\n", name="--out")
        print(f"wrote {args.name} ({len(trace)} records) to {args.out}")
    else:
        print(text)
    return EXIT_OK
