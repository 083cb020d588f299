"""``tcpkit profile``: show a profile's knobs with defaults, ranges and meanings.

Examples
--------
>>> main(["linux", "--set", "tcp_syn_retries=3", "--only", "tcp_syn_retries"])
tcp_syn_retries  net.ipv4.tcp_syn_retries  3 (default 6)  an integer from 1 to 127 (count)
    How many times connect() retransmits an unanswered SYN.
0
>>> main(["linux", "--set", "tcp_tw_recycle=1"])        # one line on stderr: removed in Linux 4.12
2
"""

from __future__ import annotations

import json
import sys

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.profiles import PROFILES, get_profile
from tcpkit.i18n import get_language

from .common import EXIT_OK, Parser, choice, guard


def parser() -> Parser:
    ap = Parser(prog="tcpkit profile", description="Show an OS profile's knobs.")
    ap.add_argument("name", nargs="?", default="linux", type=choice("PROFILE", PROFILES), help=", ".join(PROFILES))
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE", help="change a knob first (repeatable)")
    ap.add_argument("--only", action="append", default=[], metavar="KNOB", help="show only these knobs")
    ap.add_argument("--json", action="store_true", help="print JSON")
    return ap


def main(argv: list[str] | None = None) -> int:
    """``tcpkit profile [NAME] [--set KNOB=VALUE ...] [--only KNOB ...] [--json]``."""
    return guard("tcpkit profile", lambda: _run(sys.argv[1:] if argv is None else argv))


def _run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    profile = get_profile(args.name)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError("--set", item, "KNOB=VALUE")
        knob = profile.knob(key.strip(), value=value)
        profile = profile.set(**{knob.name: knob.parse(value, profile.name)})
    rows = profile.table()
    if args.only:
        wanted = {profile.knob(k).name for k in args.only}
        rows = [r for r in rows if r["knob"] in wanted]
    if args.json:
        print(json.dumps({"profile": profile.name, "knobs": rows}, indent=2, ensure_ascii=False))
        return EXIT_OK
    zh = get_language() == "zh"
    for r in rows:
        value = r["value"] if r["value"] == r["default"] else f"{r['value']} (default {r['default']})"
        print(f"{r['knob']}  {r['sysctl']}  {value}  {r['allowed']}")
        print(f"    {r['meaning_zh'] if zh else r['meaning']}")
    return EXIT_OK
