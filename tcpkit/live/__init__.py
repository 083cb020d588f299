"""The real-kernel lab (真实内核实验): check the model against the machine you sit at.

``tcpkit.live`` plays small TCP scenarios with real sockets on 127.0.0.1 (no
root needed), watches every socket's state by polling ``/proc/net/tcp`` and
``/proc/net/tcp6`` about once a millisecond, and puts the states the kernel
went through next to the states tcpkit's ``linux`` profile predicts for the
same scenario, with a verdict per socket role.

Scenarios (same names as in :mod:`tcpkit.scenarios`):
``open_close_client_first`` (alias ``client_closes_first``),
``open_close_server_first`` (alias ``server_closes_first``),
``close_wait_leak``, ``connection_refused``,
``abort_rst``, ``half_close``, ``accept_queue_overflow``; as root, with
``root_extras``, also ``synack_retransmit`` in a private network namespace.

This package is the one place in tcpkit that reads a clock
(``time.monotonic``): real sockets live in real time.  Every scenario is
bounded (well under 2 s); kernel timers such as TIME_WAIT's 60 s are not sat
out, only observed to start.

Modules
-------
procnet : parse ``/proc/net/tcp{,6}``.
watch : the polling thread.
lab : sockets with labels, waits and guaranteed clean-up.
scripts : the scenarios, played with real sockets.
model : per-role state paths from a model trace.
compare : the verdict, allowing for states polling cannot see.
run : run scenarios, results, recorded fallback.
extras : optional root-only extras (loopback capture).
netns : a private network namespace that drops pure ACKs (root only).
diag : a listener's Recv-Q and Send-Q over ``inet_diag`` netlink (what ``ss`` shows).

Examples
--------
>>> from tcpkit.live import run_live
>>> results = run_live(["connection_refused"])    # doctest: +SKIP
>>> print(results[0].summary())                    # doctest: +SKIP
connection_refused: AGREE  [real sockets on this machine (Linux 6.8.0)]
  client: agree (not observed (too short to poll): SYN_SENT)
"""

from __future__ import annotations

import argparse
import json
import sys

from .compare import RoleVerdict, compare_paths
from .lab import Lab
from .procnet import ProcSocket, parse_proc_net_tcp, read_proc_net_tcp
from .run import SHORT_STATE_NOTE, LiveResult, load_recorded, run_live, run_one
from .scripts import ALIASES, SCRIPTS, Script
from .watch import SHORT_STATES, Observation, Watcher

__all__ = [
    "Lab",
    "LiveResult",
    "Observation",
    "ProcSocket",
    "RoleVerdict",
    "SCRIPTS",
    "SHORT_STATES",
    "Script",
    "Watcher",
    "compare_paths",
    "load_recorded",
    "main",
    "parse_proc_net_tcp",
    "read_proc_net_tcp",
    "run_live",
    "run_one",
]


def main(argv: list[str] | None = None) -> int:
    """``tcpkit live [SCENARIO ...] [--json] [--table] [--no-model] [--root-extras] [--proc PATH]``.

    Exit status: 0 when every scenario agrees with the model (or there is no
    model to compare with), 1 when one differs or fails, 2 for bad arguments.

    >>> main(["--list"])  # doctest: +ELLIPSIS
    abort_rst                Abort with SO_LINGER 0: RST instead of FIN
    ...
    0
    """
    ap = argparse.ArgumentParser(prog="tcpkit live", description="Run TCP scenarios with real sockets on loopback and compare the kernel's states with the model.")
    ap.add_argument("scenarios", nargs="*", metavar="SCENARIO", help="scenario names (default: all); see --list")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--table", action="store_true", help="also print each scenario's timeline")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("--no-model", action="store_true", help="only watch the kernel, do not run the model")
    ap.add_argument("--root-extras", action="store_true", help="as root: also capture loopback traffic with tcpdump, and run the scenarios that need a private network namespace")
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
    results = run_live(args.scenarios or None, proc_root=args.proc, model=not args.no_model, root_extras=args.root_extras, here=args.here)
    if args.json:
        print(json.dumps({"short_states": SHORT_STATE_NOTE, "results": [r.to_dict() for r in results]}, indent=1, ensure_ascii=False))
    else:
        for r in results:
            print(r.summary())
            if args.table:
                print()
                print(r.table())
            print()
        print(SHORT_STATE_NOTE)
    return 0 if all(r.verdict in ("agree", "no model", "skipped") for r in results) else 1
