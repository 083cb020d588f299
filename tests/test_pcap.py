"""pcap export (checked with dpkt), import of every supported format, and the annotation."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import dpkt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpkit.capture.pcap import (
    CapturedPacket,
    annotate,
    export_pcap,
    export_pcap_bytes,
    read_capture,
    split_connections,
    trace_packets,
)
from tcpkit.capture.wire import encode_options, encode_packet
from tcpkit.cli.pcap import main
from tcpkit.engine.errors import TraceFormatError
from tcpkit.engine.segment import Segment, parse_segment
from tcpkit.engine.states import Event, State, lookup
from tcpkit.engine.trace import Kind, Note, SegmentReceived, SegmentSent, Trace

CAPTURES = Path(__file__).resolve().parent.parent / "tcpkit" / "data" / "captures"
C4, S4 = "192.0.2.2", "192.0.2.1"
C6, S6 = "2001:db8::2", "2001:db8::1"


def _send(t: float, host: str, conn: tuple[str, int, str, int], text: str, payload: bytes | None = None) -> SegmentSent:
    seg = parse_segment(text)
    if payload is not None:
        seg = seg.replace(payload=payload, length=len(payload))
    return SegmentSent(time=t, host=host, conn=conn, segment=seg)


def _handshake_trace(c: str, s: str) -> Trace:
    cc = (c, 40000, s, 80)
    sc = (s, 80, c, 40000)
    return Trace(
        [
            _send(0.0, "client", cc, "S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>"),
            SegmentReceived(time=0.01, host="server", conn=sc, segment=parse_segment("S 1000:1000(0) win 1")),
            _send(
                0.010001,
                "server",
                sc,
                "S. 5000:5000(0) ack 1001 win 65160 <mss 1460,sackOK,TS val 9 ecr 1,nop,wscale 7>",
            ),
            _send(0.02, "client", cc, ". 1001:1001(0) ack 5001 win 502 <nop,nop,TS val 2 ecr 9>"),
            _send(0.03, "client", cc, "P. 1001:1006(5) ack 5001 win 502 <nop,nop,TS val 3 ecr 9>", payload=b"hello"),
            _send(0.04, "server", sc, "P. 5001:9001(4000) ack 1006 win 509"),  # length only: exported cut short
            _send(0.05, "client", cc, "F. 1006:1006(0) ack 9001 win 502 <nop,nop,sack 1:2>"),
            Note(time=0.06, host="server", text="not a packet"),
            _send(1.25, "server", sc, "R 9001:9001(0) win 0"),
        ]
    )


# ----------------------------------------------------------------------------- export


@pytest.mark.parametrize(("c", "s"), [(C4, S4), (C6, S6)])
@pytest.mark.parametrize("linktype", ["raw", "ethernet"])
@pytest.mark.parametrize("nano", [False, True])
def test_export_read_back_with_dpkt(c: str, s: str, linktype: str, nano: bool) -> None:
    trace = _handshake_trace(c, s)
    data = export_pcap_bytes(trace, start=1_700_000_000.0, linktype=linktype, nanosecond=nano)
    reader = dpkt.pcap.Reader(io.BytesIO(data))
    assert reader.datalink() == (dpkt.pcap.DLT_EN10MB if linktype == "ethernet" else 101)
    expected = trace_packets(trace)
    rows = list(reader)
    assert len(rows) == len(expected) == 7
    for (ts, buf), (t, src, dst, seg) in zip(rows, expected, strict=True):
        assert abs(float(ts) - (1_700_000_000.0 + t)) < 2e-6
        if linktype == "ethernet":
            buf = dpkt.ethernet.Ethernet(buf).data.pack()  # back to the IP bytes dpkt saw
        if ":" in c:
            ip = dpkt.ip6.IP6(buf)
            src_text, dst_text = dpkt.utils.inet_to_str(ip.src), dpkt.utils.inet_to_str(ip.dst)
            total = 40 + ip.plen
        else:
            ip = dpkt.ip.IP(buf)
            src_text, dst_text = dpkt.utils.inet_to_str(ip.src), dpkt.utils.inet_to_str(ip.dst)
            total = ip.len
        tcp = ip.data
        hdr = 20 + len(tcp.opts)
        assert (src_text, dst_text) == (src, dst)
        assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flags, tcp.win) == (
            seg.src_port,
            seg.dst_port,
            seg.seq,
            seg.ack,
            int(seg.flags),
            seg.window,
        )
        assert bytes(tcp.opts) == encode_options(seg.options)
        assert total - (40 if ":" in c else 20) - hdr == seg.length
        if seg.payload is not None:
            assert bytes(tcp.data) == seg.payload


def test_export_uses_each_send_once_and_fills_ports() -> None:
    conn = (C4, 1234, S4, 80)
    bare = SegmentSent(time=0.0, host="c", conn=conn, segment=parse_segment("S 0:0(0) win 1"))
    recv = SegmentReceived(time=0.1, host="s", conn=(S4, 80, C4, 1234), segment=parse_segment("S 0:0(0) win 1"))
    no_conn = SegmentSent(time=0.2, host="c", segment=parse_segment("S 0:0(0) win 1"))
    rows = trace_packets([bare, recv, no_conn])
    assert len(rows) == 1 and (rows[0][3].src_port, rows[0][3].dst_port) == (1234, 80)


def test_export_then_import_round_trip(tmp_path: Path) -> None:
    trace = _handshake_trace(C4, S4)
    out = tmp_path / "t.pcap"
    assert export_pcap(trace, out, nanosecond=True, start=10.0) == 7
    cap = read_capture(out)
    assert cap.report.skipped == {} and cap.report.bad_checksums == 0
    got = [(round(p.time - 10.0, 6), p.src, p.dst, p.segment) for p in cap.packets]
    want = [(round(t, 6), src, dst, seg) for t, src, dst, seg in trace_packets(trace)]
    assert got == want
    # the length-only segment came back by length, not bytes
    assert cap.packets[4].checksum_ok is None and cap.packets[4].segment.length == 4000


def test_nanosecond_export_keeps_nanoseconds_at_real_dates() -> None:
    rec = _send(0.030000001, "c", (C4, 1, S4, 2), "S 0:0(0) win 1")
    data = export_pcap_bytes([rec], start=1_700_000_000.0, nanosecond=True)
    sec, frac = struct.unpack_from("<II", data, 24)
    assert (sec, frac) == (1_700_000_000, 30_000_001)


# ----------------------------------------------------------------------------- import formats

SEGS = [
    (C4, S4, parse_segment("S 7:7(0) win 100 <mss 1460>").replace(src_port=5555, dst_port=80)),
    (S4, C4, parse_segment("S. 70:70(0) ack 8 win 100 <mss 1460>").replace(src_port=80, dst_port=5555)),
    (C6, S6, parse_segment("P. 8:12(4) ack 71 win 100").replace(src_port=5555, dst_port=80, payload=b"abcd")),
]


def _link(linktype: int, ip: bytes, v6: bool, order: str = "<") -> bytes:
    proto = 0x86DD if v6 else 0x0800
    if linktype == 1:
        return bytes(12) + struct.pack("!H", proto) + ip
    if linktype == 113:
        return struct.pack("!HHH8sH", 0, 772, 6, bytes(8), proto) + ip
    if linktype == 276:
        return struct.pack("!HHIHBB8s", proto, 0, 1, 772, 0, 6, bytes(8)) + ip
    if linktype == 0:
        return struct.pack(order + "I", 30 if v6 else 2) + ip
    if linktype == 108:
        return struct.pack("!I", 24 if v6 else 2) + ip
    return ip


def _pcap(linktype: int, frames: list[tuple[float, bytes]], *, order: str = "<", nano: bool = False) -> bytes:
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    per = 10**9 if nano else 10**6
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for t, frame in frames:
        sec, frac = divmod(round(t * per), per)
        out += struct.pack(order + "IIII", sec, frac, len(frame), len(frame)) + frame
    return out


def _frames(linktype: int, order: str = "<") -> list[tuple[float, bytes]]:
    out = []
    for i, (src, dst, seg) in enumerate(SEGS):
        if linktype == 228 and ":" in src or linktype == 229 and ":" not in src:
            continue
        out.append((100.0 + i * 0.000123, _link(linktype, encode_packet(seg, src, dst), ":" in src, order)))
    return out


@pytest.mark.parametrize("linktype", [0, 1, 101, 108, 113, 228, 229, 276])
@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_pcap_link_types_byte_orders_and_resolutions(linktype: int, order: str, nano: bool) -> None:
    frames = _frames(linktype, order)
    cap = read_capture(_pcap(linktype, frames, order=order, nano=nano))
    want = [s for s in SEGS if not (linktype == 228 and ":" in s[0] or linktype == 229 and ":" not in s[0])]
    assert [(p.src, p.dst, p.segment) for p in cap.packets] == want
    assert [round(p.time, 6) for p in cap.packets] == [round(t, 6) for t, _ in frames]
    assert cap.report.linktypes == [linktype] and cap.report.tcp == len(want) and not cap.report.skipped


def test_pcapng_written_by_dpkt() -> None:
    buf = io.BytesIO()
    w = dpkt.pcapng.Writer(buf, linktype=1)
    for t, frame in _frames(1):
        w.writepkt(frame, ts=t)
    cap = read_capture(buf.getvalue())
    assert cap.report.format == "pcapng"
    assert [(p.src, p.dst, p.segment) for p in cap.packets] == SEGS
    assert abs(cap.packets[1].time - 100.000123) < 1e-6


def _block(order: str, btype: int, body: bytes) -> bytes:
    body += bytes(-len(body) % 4)
    n = len(body) + 12
    return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)


@pytest.mark.parametrize("order", ["<", ">"])
def test_pcapng_both_orders_nanosecond_interfaces(order: str) -> None:
    shb = _block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    # interface 0: SLL2 with if_tsresol = 9 (nanoseconds); interface 1: raw IP, default microseconds
    idb0 = _block(
        order,
        1,
        struct.pack(order + "HHI", 276, 0, 0)
        + struct.pack(order + "HH", 9, 1)
        + b"\x09\x00\x00\x00"
        + struct.pack(order + "HH", 0, 0),
    )
    idb1 = _block(order, 1, struct.pack(order + "HHI", 101, 0, 0))
    blocks = shb + idb0 + idb1
    for i, (src, dst, seg) in enumerate(SEGS):
        iface = i % 2
        ip = encode_packet(seg, src, dst)
        frame = _link(276, ip, ":" in src) if iface == 0 else ip
        ticks = (5 * 10**9 + i) if iface == 0 else (5 * 10**6 + i)
        blocks += _block(
            order,
            6,
            struct.pack(order + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame,
        )
    blocks += _block(order, 3, struct.pack(order + "I", 4) + b"abcd")  # simple packet block: no time
    blocks += _block(order, 5, b"stats")  # ignored block type
    cap = read_capture(blocks)
    assert [(p.src, p.dst, p.segment) for p in cap.packets] == SEGS
    assert [p.time for p in cap.packets] == [5 + 0e-9, 5 + 1e-6, 5 + 2e-9]
    assert cap.report.linktypes == [276, 101]
    assert cap.report.skipped == {"no timestamp": 1}


def test_strange_frames_are_counted_not_fatal() -> None:
    good = _frames(1)[0][1]
    ip = encode_packet(SEGS[0][2], C4, S4)
    udp = bytearray(ip)
    udp[9] = 17
    frag = bytearray(ip)
    frag[6:8] = b"\x20\x00"
    arp = bytes(12) + b"\x08\x06" + bytes(28)
    vlan = bytes(12) + b"\x81\x00\x00\x05\x08\x00" + ip
    frames = [
        (1.0, good),
        (1.1, _link(1, bytes(udp), False)),
        (1.2, _link(1, bytes(frag), False)),
        (1.3, arp),
        (1.4, good[:40]),
        (1.5, b"\x00" * 5),
        (1.6, vlan),
    ]
    data = _pcap(1, frames) + b"\x00" * 7  # and a cut-off record header at the end
    cap = read_capture(data)
    assert len(cap.packets) == 2 and cap.packets[1].segment == SEGS[0][2]
    assert cap.report.skipped == {"not tcp": 1, "fragment": 1, "not ip": 1, "truncated": 2, "truncated record": 1}
    assert cap.report.frames == 7
    assert "skipped 6" in cap.report.summary()


def test_unsupported_link_type_is_counted() -> None:
    cap = read_capture(_pcap(105, [(0.0, b"\x00" * 40)]))
    assert cap.report.skipped == {"unsupported link type": 1}


@pytest.mark.parametrize("data", [b"", b"abc", b"GIF89a....................", json.dumps({"a": 1}).encode()])
def test_not_a_capture(data: bytes) -> None:
    with pytest.raises(TraceFormatError, match="not a pcap or pcapng capture"):
        read_capture(data)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="cannot read capture"):
        read_capture(tmp_path / "nope.pcap")


# ----------------------------------------------------------------------------- annotation


def _pk(t: float, src: str, dst: str, sp: int, dp: int, text: str) -> CapturedPacket:
    return CapturedPacket(t, src, dst, parse_segment(text).replace(src_port=sp, dst_port=dp))


def _paths(trace: Trace) -> tuple[list[str], list[str]]:
    return [s.value for _, s in trace.states("client")], [s.value for _, s in trace.states("server")]


def _open(a: str = C4, b: str = S4) -> list[CapturedPacket]:
    return [
        _pk(0.0, a, b, 5, 80, "S 0:0(0) win 1"),
        _pk(0.1, b, a, 80, 5, "S. 100:100(0) ack 1 win 1"),
        _pk(0.2, a, b, 5, 80, ". 1:1(0) ack 101 win 1"),
    ]


def test_three_segment_close_passes_fin_wait_2_at_the_same_instant() -> None:
    pkts = _open() + [
        _pk(1.0, C4, S4, 5, 80, "F. 1:1(0) ack 101 win 1"),
        _pk(1.1, S4, C4, 80, 5, "F. 101:101(0) ack 2 win 1"),  # FIN + ACK of the client's FIN
        _pk(1.2, C4, S4, 5, 80, ". 2:2(0) ack 102 win 1"),
    ]
    client, server = _paths(annotate(pkts))
    # the FIN+ACK takes two rows, FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT, as the kernel reports it
    assert client == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    assert server == ["CLOSED", "LISTEN", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]


def test_simultaneous_close_and_resent_fin() -> None:
    pkts = _open() + [
        _pk(1.0, C4, S4, 5, 80, "F. 1:1(0) ack 101 win 1"),
        _pk(1.0, S4, C4, 80, 5, "F. 101:101(0) ack 1 win 1"),  # crossed
        _pk(1.1, C4, S4, 5, 80, ". 2:2(0) ack 102 win 1"),
        _pk(1.1, S4, C4, 80, 5, ". 102:102(0) ack 2 win 1"),
        _pk(1.5, S4, C4, 80, 5, "F. 101:101(0) ack 2 win 1"),  # resent FIN: TIME_WAIT ACKs again
    ]
    tr = annotate(pkts)
    client, server = _paths(tr)
    assert client == ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT", "TIME_WAIT"]
    assert server == ["CLOSED", "LISTEN", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "CLOSING", "TIME_WAIT"]


def test_simultaneous_open() -> None:
    pkts = [
        _pk(0.0, C4, S4, 5, 80, "S 0:0(0) win 1"),
        _pk(0.0, S4, C4, 80, 5, "S 100:100(0) win 1"),
        _pk(0.1, C4, S4, 5, 80, "S. 0:0(0) ack 101 win 1"),
        _pk(0.1, S4, C4, 80, 5, "S. 100:100(0) ack 1 win 1"),
    ]
    client, server = _paths(annotate(pkts))
    assert client == ["CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"]
    assert server == ["CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"]


def test_rst_must_hit_rcv_nxt() -> None:
    pkts = _open() + [
        _pk(1.0, S4, C4, 80, 5, "R 150:150(0) win 0"),  # in window but not RCV.NXT: challenge ACK
        _pk(1.1, S4, C4, 80, 5, "R 101:101(0) win 0"),
    ]
    tr = annotate(pkts)
    client, server = _paths(tr)
    assert client == ["CLOSED", "SYN_SENT", "ESTABLISHED", "CLOSED"]
    assert server[-1] == "CLOSED"  # the server aborted
    notes = [r.text for r in tr if r.kind is Kind.NOTE]
    assert any("RFC 5961" in (n or "") for n in notes)
    assert [r.time for r in tr.filter(host="client", kind=Kind.STATE)][-1] == 1.1


def test_every_state_record_is_a_table_row_and_seq_bases_are_set() -> None:
    for path in sorted(CAPTURES.glob("*.pcap")):
        tr = read_capture(path).annotate()
        for r in tr.filter(kind=Kind.STATE):
            row = lookup(State(r.src.value), Event(r.event.value), r.condition or "")
            assert row.dst.value == r.dst.value and row.rfc == r.rfc
        sends = tr.filter(kind=Kind.SEND)
        assert len(sends) == len(read_capture(path).packets)
        if path.stem != "connection_refused":
            assert sends[-1].seq_base is not None


def test_split_connections_keeps_retransmitted_syn_together() -> None:
    pkts = [_pk(0.0, C4, S4, 5, 80, "S 0:0(0) win 1"), _pk(1.0, C4, S4, 5, 80, "S 0:0(0) win 1")] + _open()[1:]
    conns = split_connections(pkts)
    assert len(conns) == 1 and conns[0].conn == (C4, 5, S4, 80)
    other = [_pk(0.0, C4, S4, 6, 80, "S 0:0(0) win 1")]
    assert len(split_connections(pkts + other)) == 2
    # a capture that starts at the SYN-ACK still names the client first
    assert split_connections(_open()[1:])[0].conn == (C4, 5, S4, 80)
    # a new SYN after a FIN is a new incarnation even with the same ISN (a fixed ISN generator)
    again = [*_open(), _pk(1.0, C4, S4, 5, 80, "F. 1:1(0) ack 101 win 1"), _pk(2.0, C4, S4, 5, 80, "S 0:0(0) win 1")]
    assert [len(c.packets) for c in split_connections(again)] == [4, 1]


# ----------------------------------------------------------------------------- real captures

EXPECTED = {
    "client_closes_first": (
        ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"],
        ["CLOSED", "LISTEN", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"],
    ),
    "server_closes_first": (
        ["CLOSED", "SYN_SENT", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"],
        ["CLOSED", "LISTEN", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"],
    ),
    "half_close": (
        ["CLOSED", "SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"],
        ["CLOSED", "LISTEN", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"],
    ),
    "abort_rst": (
        ["CLOSED", "SYN_SENT", "ESTABLISHED", "CLOSED"],
        ["CLOSED", "LISTEN", "SYN_RECEIVED", "ESTABLISHED", "CLOSED"],
    ),
    "connection_refused": (["CLOSED", "SYN_SENT", "CLOSED"], []),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_loopback_captures(name: str) -> None:
    path = CAPTURES / f"{name}.pcap"
    assert path.stat().st_size < 10_000
    cap = read_capture(path)
    assert cap.report.linktypes == [1] and not cap.report.skipped
    assert len(cap.connections()) == 1
    tr = cap.annotate()
    assert _paths(tr) == EXPECTED[name]
    events = [r.event.value for r in tr.filter(host="client", kind=Kind.STATE)]
    if name == "abort_rst":
        assert events[-1] == Event.ABORT.value  # the client sent the RST
        assert [r.event.value for r in tr.filter(host="server", kind=Kind.STATE)][-1] == Event.RCV_RST.value
    if name == "connection_refused":
        assert events[-1] == Event.RCV_RST.value
        assert any("no listener" in (r.text or "") for r in tr.filter(host="server", kind=Kind.NOTE))


def test_half_close_capture_keeps_cut_payload_lengths() -> None:
    cap = read_capture(CAPTURES / "half_close.pcap")
    data = [p.segment for p in cap.packets if p.segment.length == 1000]
    assert len(data) == 3 and all(s.payload is None for s in data)


# ----------------------------------------------------------------------------- CLI


def test_cli_export_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tj = tmp_path / "trace.json"
    tj.write_text(_handshake_trace(C4, S4).to_json(), encoding="utf-8")
    out = tmp_path / "out.pcap"
    assert main(["export", str(tj), str(out), "--ethernet"]) == 0
    assert "wrote 7 packets" in capsys.readouterr().out
    js = tmp_path / "annotated.json"
    assert main(["import", str(out), "--json", str(js)]) == 0
    text = capsys.readouterr().out
    assert "192.0.2.2:40000 -> 192.0.2.1:80" in text and "SYN_SENT" in text
    back = Trace.from_json(js.read_text(encoding="utf-8"))
    assert len(back.filter(kind=Kind.SEND)) == 7


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_text("hello world", encoding="utf-8")
    assert main(["import", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tcpkit pcap: error:") and "not a pcap" in err and "Traceback" not in err
    assert err.count("\n") == 1
    assert main(["export", str(bad), str(tmp_path / "x.pcap")]) == 2
    err = capsys.readouterr().err
    assert "not JSON" in err and str(bad) in err and err.count("\n") == 1
    assert not (tmp_path / "x.pcap").exists()


def test_segments_survive_in_the_annotated_trace() -> None:
    cap = read_capture(CAPTURES / "client_closes_first.pcap")
    tr = cap.annotate()
    assert [r.segment for r in tr.filter(kind=Kind.SEND)] == [p.segment for p in cap.packets]
    assert isinstance(cap.packets[0].segment, Segment)
    assert cap.packets[0].segment.mss == 65495  # loopback MTU 65536 - 40


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_captures_never_crash(data: st.DataObject) -> None:
    ng = io.BytesIO()
    w = dpkt.pcapng.Writer(ng, linktype=1)
    for t, frame in _frames(1):
        w.writepkt(frame, ts=t)
    base = bytearray(
        data.draw(st.sampled_from([_pcap(1, _frames(1)), _pcap(276, _frames(276), order=">"), ng.getvalue()]))
    )
    for _ in range(data.draw(st.integers(1, 8))):
        i = data.draw(st.integers(0, len(base) - 1))
        base[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(base)))
    try:
        cap = read_capture(bytes(base[:cut]))
    except TraceFormatError:
        return
    assert cap.report.tcp == len(cap.packets) <= cap.report.frames
    annotate(cap)  # the observer copes with whatever came through


# ----------------------------------------------------------------------------- against the engine

TIMER_EVENTS = {e.value for e in Event if e.name.startswith("TIMEOUT_")}
AGREEING = [
    "open_close_client_first",
    "open_close_server_first",
    "half_close",
    "simultaneous_open",
    "simultaneous_close",
    "lost_final_ack",
    "old_duplicate",
    "connection_refused",
    "abort_rst",
    "close_wait_leak",
    "fin_wait_2_orphan",
    "time_wait_exhaustion",
]


def _edges(trace: Trace, *, drop_timers: bool) -> dict[tuple[str, int, str, int], list[tuple[str | None, str | None]]]:
    out: dict[tuple[str, int, str, int], list[tuple[str | None, str | None]]] = {}
    for r in trace.filter(kind=Kind.STATE):
        if r.conn is None or (drop_timers and r.event.value in TIMER_EVENTS):
            continue
        if (r.src.value, r.dst.value) == ("CLOSED", "LISTEN"):  # the listener is not a connection
            continue
        out.setdefault(r.conn, []).append((r.src.value, r.dst.value))
    return out


@pytest.mark.parametrize("name", AGREEING)
def test_capture_of_an_engine_run_gives_the_engine_states(name: str) -> None:
    scenarios = pytest.importorskip("tcpkit.drivers.scenarios")
    trace = scenarios.run_scenario(name, seed=1)
    rebuilt = read_capture(export_pcap_bytes(trace)).annotate()
    # Timers are invisible on the wire; everything else must match, connection by connection.
    assert _edges(rebuilt, drop_timers=False) == _edges(trace, drop_timers=True)
