"""``tcpkit pcap``: export a trace to pcap, or import a capture, annotate and replay it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tcpkit.capture.pcap import export_pcap, read_capture
from tcpkit.capture.replay import replay
from tcpkit.engine.errors import TcpkitError, TraceFormatError
from tcpkit.engine.trace import ConnId, Kind, Trace


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="tcpkit pcap", description="Export a trace to pcap, or import a capture and annotate it."
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="write a trace's SEND segments to a pcap file")
    ex.add_argument("trace", help="a trace JSON file (Trace.to_json)")
    ex.add_argument("out", help="the pcap file to write")
    ex.add_argument("--ethernet", action="store_true", help="Ethernet link type instead of raw IP")
    ex.add_argument("--nanosecond", action="store_true", help="nanosecond timestamps")
    ex.add_argument("--start", type=float, default=0.0, help="Unix time of trace time 0 (default 0)")
    im = sub.add_parser("import", help="read a pcap/pcapng capture and rebuild both sides' states")
    im.add_argument("capture", help="a pcap or pcapng file")
    im.add_argument("--json", metavar="OUT", help="write the annotated trace as JSON")
    im.add_argument("--names", nargs=2, default=["client", "server"], metavar=("INITIATOR", "RESPONDER"))
    im.add_argument(
        "--replay", action="store_true", help="replay each connection through the engine on both sides and compare"
    )
    im.add_argument(
        "--profile", default="linux", help="engine profile for --replay: linux, freebsd or rfc9293 (default linux)"
    )
    im.add_argument(
        "--delay", type=float, default=0.0, help="--replay: seconds from the capture point to the receiver (default 0)"
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    """``tcpkit pcap export TRACE.json OUT.pcap`` / ``tcpkit pcap import CAPTURE [--json OUT] [--replay]``.

    >>> main(["import", "/nonexistent.pcap"])
    1
    """
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.cmd == "export":
            try:
                text = Path(args.trace).read_text(encoding="utf-8")
            except OSError as exc:
                raise TraceFormatError(f"cannot read trace {args.trace}: {exc.strerror or exc}") from None
            trace = Trace.from_json(text)
            n = export_pcap(
                trace,
                args.out,
                linktype="ethernet" if args.ethernet else "raw",
                nanosecond=args.nanosecond,
                start=args.start,
            )
            sends = sum(1 for r in trace if r.kind is Kind.SEND)
            print(
                f"wrote {n} packets to {args.out}"
                + (f" (skipped {sends - n} SEND records without a connection)" if sends > n else "")
            )
            return 0
        cap = read_capture(args.capture)
        names = (args.names[0], args.names[1])
        replay_report = None
        if args.replay:
            result = replay(cap, profile=args.profile, names=names, delay=args.delay)
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
            print(f"\nengine replay (profile {args.profile}): {replay_report.summary()}")
            for row in replay_report.rows:
                if row.verdict != "match":
                    seg = row.captured or row.engine or ""
                    print(f"  t={row.time:.6f} {row.host}: {row.verdict}: {seg}  ({row.details})")
            for why in replay_report.skipped:
                print(f"  skipped: {why}")
            print(
                "  the engine agrees with the capture"
                if replay_report.agrees
                else "  the engine differs from the capture"
            )
        if args.json:
            Path(args.json).write_text(tr.to_json(indent=1), encoding="utf-8")
            what = "replayed" if args.replay else "annotated"
            print(f"\nwrote the {what} trace ({len(tr)} records) to {args.json}")
        return 0
    except TcpkitError as exc:
        print(f"tcpkit pcap: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"tcpkit pcap: error: {exc}", file=sys.stderr)
        return 1


def side_conn(conn: ConnId, responder: bool) -> ConnId:
    a, b, c, d = conn
    return (c, d, a, b) if responder else conn
