"""``tcpkit profile``: show a profile's knobs with defaults, ranges and meanings.

Examples
--------
>>> main(["linux", "--set", "tcp_syn_retries=3", "--only", "tcp_syn_retries"])
tcp_syn_retries  net.ipv4.tcp_syn_retries  3 (default 6)  an integer from 1 to 127 (count)
    How many times connect() retransmits an unanswered SYN.
0
>>> main(["linux", "--set", "tcp_tw_recycle=1"])
tcpkit profile: tcp_tw_recycle does not exist any more: removed in Linux 4.12 (2017)...
2
"""

from __future__ import annotations

import argparse
import json
import sys

from tcpkit.engine.errors import KnobError, TcpkitError
from tcpkit.engine.profiles import PROFILES, get_profile
from tcpkit.i18n import get_language


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="tcpkit profile", description="Show an OS profile's knobs.")
    ap.add_argument("name", nargs="?", default="linux", help="one of " + ", ".join(PROFILES))
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE", help="change a knob first (repeatable)")
    ap.add_argument("--only", action="append", default=[], metavar="KNOB", help="show only these knobs")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args(argv)
    try:
        profile = get_profile(args.name)
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise KnobError(item, item, "KNOB=VALUE")
            profile = profile.set(**{key.strip(): profile.knob(key.strip()).parse(value, profile.name)})
        rows = profile.table()
        if args.only:
            wanted = {profile.knob(k).name for k in args.only}
            rows = [r for r in rows if r["knob"] in wanted]
    except TcpkitError as exc:
        print(f"tcpkit profile: {exc}", file=sys.stdout)
        return 2
    if args.json:
        print(json.dumps({"profile": profile.name, "knobs": rows}, indent=2, ensure_ascii=False))
        return 0
    zh = get_language() == "zh"
    for r in rows:
        value = r["value"] if r["value"] == r["default"] else f"{r['value']} (default {r['default']})"
        print(f"{r['knob']}  {r['sysctl']}  {value}  {r['allowed']}")
        print(f"    {r['meaning_zh'] if zh else r['meaning']}")
    return 0
