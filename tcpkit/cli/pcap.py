"""``tcpkit pcap``: export a trace to pcap, or import a capture, annotate and replay it.

Examples
--------
>>> main(["import", "/nonexistent.pcap"])
2
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tcpkit.capture.replay import replay
from tcpkit.capture.replay_setup import ACCEPT_POLICIES, CAPTURE_POINTS, load_setup_file, parse_assignments
from tcpkit.capture.savefile import export_pcap_bytes, read_capture
from tcpkit.engine.errors import TraceFormatError
from tcpkit.engine.profiles import PROFILES
from tcpkit.engine.trace import MAX_DOCUMENT_BYTES, ConnId, Kind, Trace
from tcpkit.files import check_output, write_output

from .common import EXIT_OK, Parser, UsageError, choice, count, guard, number

#: At most this many differences are printed (all of them are in the --json trace's meta).
MAX_ROWS_SHOWN = 60


def parser() -> Parser:
    ap = Parser(prog="tcpkit pcap", description="Export a trace to pcap, or import a capture and annotate it.")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=Parser)
    ex = sub.add_parser("export", help="write a trace's SEND segments to a pcap file")
    ex.add_argument("trace", help="a trace JSON file (Trace.to_json)")
    ex.add_argument("out", help="the pcap file to write (never one of the inputs; written through a temporary file)")
    ex.add_argument("--ethernet", action="store_true", help="Ethernet link type instead of raw IP")
    ex.add_argument("--nanosecond", action="store_true", help="nanosecond timestamps")
    ex.add_argument(
        "--start", type=number("--start", 0, 2**32 - 1, "Unix seconds"), default=0.0, help="Unix time of trace time 0"
    )
    im = sub.add_parser("import", help="read a pcap/pcapng capture and rebuild both sides' states")
    im.add_argument("capture", help="a pcap or pcapng file")
    im.add_argument("--json", metavar="OUT", help="write the annotated (or replayed) trace as JSON")
    im.add_argument("--names", nargs=2, default=["client", "server"], metavar=("INITIATOR", "RESPONDER"))
    rp = im.add_argument_group("replay through the engine (--replay)")
    rp.add_argument(
        "--replay", action="store_true", help="replay each connection through the engine on both sides and compare"
    )
    rp.add_argument("--profile", type=choice("--profile", PROFILES), default=None, help="linux (default), freebsd ...")
    rp.add_argument("--setup", metavar="FILE", help="a replay setup file (TOML, or JSON): sysctls, socket options ...")
    rp.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="[SIDE:]KNOB=VALUE",
        help="a sysctl for both sides or one (SIDE: client/server), e.g. client:tcp_fin_timeout=5 (repeatable)",
    )
    rp.add_argument(
        "--sockopt",
        action="append",
        default=[],
        metavar="[SIDE:]OPTION=VALUE",
        help="a socket option, e.g. client:SO_KEEPALIVE=1 (repeatable)",
    )
    rp.add_argument(
        "--capture-at",
        type=choice("--capture-at", CAPTURE_POINTS),
        default=None,
        help="where the capture was taken: sender (loopback, exported runs; default), initiator or responder",
    )
    rp.add_argument(
        "--delay", type=number("--delay", 0, 60, "seconds"), default=None, help="one-way delay between the hosts"
    )
    rp.add_argument("--backlog", type=count("--backlog", 0, 65535), default=None, help="the server's listen() backlog")
    rp.add_argument(
        "--accept", type=choice("--accept", ACCEPT_POLICIES), default=None, help="when the server calls accept()"
    )
    rp.add_argument(
        "--tolerance-ms",
        type=number("--tolerance-ms", 0, 60000, "milliseconds"),
        default=None,
        help="how far a segment's time may be off (default 10 ms, plus --timer-slack of the wait)",
    )
    rp.add_argument(
        "--timer-slack",
        type=number("--timer-slack", 0, 1),
        default=None,
        help="extra tolerance, a fraction of the time since the sender's previous event (default 0.125)",
    )
    rp.add_argument(
        "--no-infer", action="store_true", help="do not infer lost segments, silent peers, keepalive, accept queue"
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    """``tcpkit pcap export TRACE.json OUT.pcap`` / ``tcpkit pcap import CAPTURE [--json OUT] [--replay ...]``.

    Exit code 0 when done (also when the replayed engine differs: the report says so), 2 for bad input.
    """
    return guard("tcpkit pcap", lambda: _run(sys.argv[1:] if argv is None else argv))


def _run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.cmd == "export":
        return _export(args)
    return _import(args)


def _read_trace(path: str) -> Trace:
    try:
        size = Path(path).stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise TraceFormatError(f"{path}: {size} bytes is too large a trace (at most {MAX_DOCUMENT_BYTES})")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise TraceFormatError(f"cannot read trace {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise TraceFormatError(f"cannot read trace {path!r}: {exc}") from None
    try:
        return Trace.from_json(data)
    except TraceFormatError as exc:
        raise TraceFormatError(f"{path}: {exc}") from None


def _export(args: Any) -> int:
    check_output(args.out, [args.trace], name="OUT")  # before any work: never over the input
    trace = _read_trace(args.trace)
    linktype = "ethernet" if args.ethernet else "raw"
    data = export_pcap_bytes(trace, linktype=linktype, nanosecond=args.nanosecond, start=args.start)
    write_output(args.out, data, inputs=[args.trace], name="OUT")
    sends = sum(1 for r in trace if r.kind is Kind.SEND)
    n = sum(1 for r in trace if r.kind is Kind.SEND and r.conn is not None)
    print(
        f"wrote {n} packets to {args.out}"
        + (f" (skipped {sends - n} SEND records without a connection)" if sends > n else "")
    )
    return EXIT_OK


def _replay_keywords(args: Any) -> dict[str, Any]:
    kw: dict[str, Any] = load_setup_file(args.setup) if args.setup else {}
    if args.profile is not None:
        kw["profile"] = args.profile
    if args.capture_at is not None:
        kw["capture_at"] = args.capture_at
    if args.delay is not None:
        kw["delay"] = args.delay
    if args.backlog is not None:
        kw["backlog"] = args.backlog
    if args.accept is not None:
        kw["accept"] = args.accept
    if args.tolerance_ms is not None:
        kw["tolerance"] = args.tolerance_ms / 1000.0
    if args.timer_slack is not None:
        kw["timer_slack"] = args.timer_slack
    if args.no_infer:
        kw["infer"] = False
    if args.set:
        kw["sysctls"] = {**kw.get("sysctls", {}), **parse_assignments(args.set, "--set")}
    if args.sockopt:
        kw["sockopts"] = {**kw.get("sockopts", {}), **parse_assignments(args.sockopt, "--sockopt")}
    return kw


def _import(args: Any) -> int:
    inputs = [args.capture] + ([args.setup] if args.setup else [])
    if args.json:
        check_output(args.json, inputs, name="--json")  # before any work: never over an input
    replay_only = [
        flag
        for flag, given in (
            ("--setup", args.setup),
            ("--set", args.set),
            ("--sockopt", args.sockopt),
            ("--profile", args.profile),
            ("--capture-at", args.capture_at),
            ("--delay", args.delay is not None),
            ("--backlog", args.backlog is not None),
            ("--accept", args.accept),
            ("--tolerance-ms", args.tolerance_ms is not None),
            ("--timer-slack", args.timer_slack is not None),
            ("--no-infer", args.no_infer),
        )
        if given
    ]
    if replay_only and not args.replay:
        raise UsageError(f"{replay_only[0]} belongs to --replay (see 'tcpkit pcap import --help')")
    names = (args.names[0], args.names[1])
    if names[0] == names[1] or not all(n.strip() and n.isprintable() for n in names):
        raise UsageError(f"--names {names[0]!r} {names[1]!r}: expected two different, non-empty host names")
    kw = _replay_keywords(args) if args.replay else {}
    cap = read_capture(args.capture)
    replay_report = None
    if args.replay:
        result = replay(cap, names=names, **kw)
        tr, replay_report = result.trace, result.report
    else:
        tr = cap.annotate(names=names)
    print(cap.report.summary())
    for c in cap.connections():
        ca, cp, sa, sp = c.conn
        print(f"\n{ca}:{cp} -> {sa}:{sp}  ({len(c.packets)} packets)")
        for host in args.names:
            path = [s.value for _, s in tr.states(host, side_conn(c.conn, host == args.names[1]))]
            print(f"  {host:<8} {' -> '.join(path) if path else '(no state seen)'}")
    if replay_report is not None:
        profile = kw.get("profile", "linux")
        print(f"\nengine replay (profile {profile}): {replay_report.summary()}")
        for line in replay_report.setup:
            print(f"  set: {line}")
        for line in replay_report.inferred:
            print(f"  inferred: {line}")
        for line in replay_report.undelivered:
            print(f"  not delivered: {line}")
        rows = [r for r in replay_report.rows if r.verdict != "match"]
        for row in rows[:MAX_ROWS_SHOWN]:
            seg = row.captured or row.engine or ""
            print(f"  t={row.time:.6f} {row.host}: {row.verdict}: {seg}  ({row.details})")
        if len(rows) > MAX_ROWS_SHOWN:
            print(f"  ... {len(rows) - MAX_ROWS_SHOWN} more differences (all of them: --json OUT, meta.report)")
        for why in replay_report.skipped:
            print(f"  skipped: {why}")
        verdict = {
            "agrees": "the engine agrees with the capture",
            "agrees, timing differs": "the engine agrees with the capture, but some segments at other times",
            "differs": "the engine differs from the capture",
        }[replay_report.verdict]
        print(f"  {verdict}")
    if args.json:
        write_output(args.json, tr.to_json(indent=1), inputs=inputs, name="--json")
        what = "replayed" if args.replay else "annotated"
        print(f"\nwrote the {what} trace ({len(tr)} records) to {args.json}")
    return EXIT_OK


def side_conn(conn: ConnId, responder: bool) -> ConnId:
    a, b, c, d = conn
    return (c, d, a, b) if responder else conn
