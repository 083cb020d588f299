"""pcap files: export a trace for Wireshark/tcpdump, import a real capture (抓包) and annotate it.

Export writes the ``SEND`` records of a :class:`~tcpkit.engine.trace.Trace` (every
segment once, at the time it left its host) as a classic pcap file.  Import
reads pcap (either byte order, micro- or nanosecond timestamps) and pcapng,
with Ethernet, Linux cooked (SLL and SLL2), BSD loopback (NULL and LOOP) and
raw-IP link types, IPv4 and IPv6; anything it cannot use is skipped and
counted in an :class:`ImportReport`.  :func:`annotate` then rebuilds both
sides' states (状态) from the packets, using only rows of the transition table;
:func:`tcpkit.capture.replay.replay` (``tcpkit pcap import FILE --replay``) instead runs
both sides through the engine itself and compares its segments with the capture.

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> from tcpkit.engine.trace import ConnId, SegmentSent, Trace
>>> conn = ("10.0.0.1", 40000, "10.0.0.2", 80)
>>> syn = parse_segment("S 100:100(0) win 64240 <mss 1460>").replace(src_port=40000, dst_port=80)
>>> trace = Trace([SegmentSent(time=0.5, host="client", conn=conn, segment=syn)])
>>> data = export_pcap_bytes(trace)
>>> len(data)                          # 24-byte file header + 16-byte record header + 44-byte packet
84
>>> cap = read_capture(data)
>>> p = cap.packets[0]
>>> p.time, p.src, p.dst, p.segment == syn
(0.5, '10.0.0.1', '10.0.0.2', True)
>>> read_capture(b"hello, world, this is text")
Traceback (most recent call last):
...
tcpkit.engine.errors.TraceFormatError: <bytes> is not a pcap or pcapng capture: it starts with 68656c6c (expected ...

Notes
-----
File formats: the classic libpcap format (pcap-savefile(5), IETF draft
draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng); link-type
numbers from the tcpdump.org LINKTYPE registry (pcap-linktype(7)).  The
annotation follows RFC 9293 §3.10 event processing (SEND: §3.10.1, §3.10.4,
§3.10.5; SEGMENT ARRIVES: §3.10.7) and RFC 5961 §3.2 for which RSTs count.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tcpkit.engine.errors import TraceFormatError
from tcpkit.engine.segment import Segment
from tcpkit.engine.seqnum import seq_add, seq_ge, seq_gt, seq_le
from tcpkit.engine.states import Event, State, lookup, transitions_from
from tcpkit.engine.trace import ConnId, Note, SegmentReceived, SegmentSent, StateChanged, Trace, TraceRecord

from .wire import WireFormatError, decode_packet, encode_packet

__all__ = [
    "LINKTYPES",
    "CapturedPacket",
    "Connection",
    "ImportReport",
    "Capture",
    "read_capture",
    "split_connections",
    "annotate",
    "trace_packets",
    "export_pcap",
    "export_pcap_bytes",
]


#: Link types this module reads (LINKTYPE_* numbers as stored in files).
LINKTYPES: dict[int, str] = {
    0: "BSD loopback (NULL)",
    1: "Ethernet",
    101: "raw IP",
    108: "OpenBSD loopback (LOOP)",
    113: "Linux cooked (SLL)",
    228: "raw IPv4",
    229: "raw IPv6",
    276: "Linux cooked v2 (SLL2)",
}
_LINKTYPE_ETHERNET = 1
_LINKTYPE_RAW = 101

_PCAP_MAGIC_US = 0xA1B2C3D4
_PCAP_MAGIC_NS = 0xA1B23C4D
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D
#: Smallest body of the pcapng blocks read: SHB, IDB, obsolete PB, SPB, EPB.
_PCAPNG_MIN_BODY = {_PCAPNG_SHB: 16, 1: 8, 2: 20, 3: 4, 6: 20}
_ETH_IPV4, _ETH_IPV6 = 0x0800, 0x86DD
_ETH_VLAN = (0x8100, 0x88A8, 0x9100)
#: BSD address-family values for IPv4 and IPv6 in NULL/LOOP headers (Linux, BSDs, Darwin).
_AF_INET = {2}
_AF_INET6 = {10, 24, 28, 30}


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class CapturedPacket:
    """One TCP packet read from a capture.

    Attributes
    ----------
    time : float
        Seconds (absolute, as in the file).
    src, dst : str
        IP addresses.
    segment : Segment
    frame : int
        1-based frame number in the file (as Wireshark counts).
    checksum_ok : bool or None
        The TCP checksum was right (often not, for packets captured on the
        sending host: checksum offload); None when the capture cut the packet short.
    """

    time: float
    src: str
    dst: str
    segment: Segment
    frame: int = 0
    checksum_ok: bool | None = True

    @property
    def conn(self) -> ConnId:
        """``(src, sport, dst, dport)``."""
        return (self.src, self.segment.src_port, self.dst, self.segment.dst_port)


@dataclass(slots=True)
class ImportReport:
    """What an import read, and what it skipped and why.

    Attributes
    ----------
    format : str
        ``"pcap"`` or ``"pcapng"``.
    linktypes : list of int
        Link types seen (one per pcapng interface).
    frames : int
        Frames (packet records) in the file.
    tcp : int
        Frames that gave a TCP segment.
    skipped : Counter
        Frames not used, by reason: ``truncated``, ``not ip``, ``not tcp``,
        ``fragment``, ``bad header``, ``bad option``, ``unsupported link type``,
        ``truncated record``, ``no timestamp``.
    bad_checksums : int
        TCP segments with a wrong checksum (kept: see :class:`CapturedPacket`).
    unknown_options : Counter
        TCP option kinds seen but not modelled, with counts.
    """

    format: str = "pcap"
    linktypes: list[int] = field(default_factory=list)
    frames: int = 0
    tcp: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    bad_checksums: int = 0
    unknown_options: Counter[int] = field(default_factory=Counter)

    def summary(self) -> str:
        """One paragraph in English.

        >>> r = ImportReport(frames=3, tcp=2)
        >>> r.skipped["not tcp"] += 1
        >>> print(r.summary())
        pcap, link types none: 3 frames, 2 TCP segments; skipped 1 (not tcp: 1)
        """
        links = ", ".join(f"{lt} ({LINKTYPES.get(lt, 'unknown')})" for lt in self.linktypes) or "none"
        text = f"{self.format}, link types {links}: {self.frames} frames, {self.tcp} TCP segments"
        n = sum(self.skipped.values())
        if n:
            text += f"; skipped {n} (" + ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items())) + ")"
        if self.bad_checksums:
            text += f"; {self.bad_checksums} with a wrong TCP checksum (checksum offload?)"
        if self.unknown_options:
            text += "; unmodelled TCP options " + ", ".join(
                f"kind {k}: {v}" for k, v in sorted(self.unknown_options.items())
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for a trace's ``meta``)."""
        return {
            "format": self.format,
            "linktypes": list(self.linktypes),
            "frames": self.frames,
            "tcp": self.tcp,
            "skipped": dict(sorted(self.skipped.items())),
            "bad_checksums": self.bad_checksums,
            "unknown_options": {str(k): v for k, v in sorted(self.unknown_options.items())},
        }


@dataclass(frozen=True, slots=True)
class Connection:
    """The packets of one TCP connection, in capture order.

    ``conn`` is written from the initiator's side: ``(client_addr,
    client_port, server_addr, server_port)``; the initiator is the sender of
    the first SYN (the receiver of the SYN-ACK, or the sender of the first
    packet, when the capture starts later).
    """

    conn: ConnId
    packets: tuple[CapturedPacket, ...]

    @property
    def rows(self) -> list[tuple[float, str, str, Segment]]:
        """``(time, src, dst, segment)`` per packet."""
        return [(p.time, p.src, p.dst, p.segment) for p in self.packets]


@dataclass(frozen=True, slots=True)
class Capture:
    """Everything :func:`read_capture` found."""

    packets: tuple[CapturedPacket, ...]
    report: ImportReport
    name: str = "<bytes>"

    def connections(self) -> list[Connection]:
        """The packets grouped by connection (see :func:`split_connections`)."""
        return split_connections(self.packets)

    def annotate(self, *, names: tuple[str, str] = ("client", "server"), relative: bool = True) -> Trace:
        """The annotated trace (see :func:`annotate`)."""
        return annotate(self, names=names, relative=relative)

    def __repr__(self) -> str:
        return f"<Capture {self.name}: {len(self.packets)} TCP packets; {self.report.summary()}>"


# --------------------------------------------------------------------------- reading files


@dataclass(frozen=True, slots=True)
class _Frame:
    number: int
    time: float
    linktype: int
    data: bytes
    orig_len: int


def _read_pcap(data: bytes, report: ImportReport) -> Iterator[_Frame]:
    magic_le = struct.unpack_from("<I", data)[0]
    endian = "<" if magic_le in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS) else ">"
    magic = struct.unpack_from(endian + "I", data)[0]
    scale = 1e-9 if magic == _PCAP_MAGIC_NS else 1e-6
    if len(data) < 24:
        raise TraceFormatError(f"pcap file header is cut short: {len(data)} of 24 bytes")
    _maj, _min, _zone, _sig, _snap, network = struct.unpack_from(endian + "HHiIII", data, 4)
    linktype = network & 0x03FFFFFF  # the upper bits may carry FCS information
    report.format = "pcap"
    report.linktypes = [linktype]
    rec = struct.Struct(endian + "IIII")
    pos = 24
    n = 0
    while pos < len(data):
        if pos + 16 > len(data):
            report.skipped["truncated record"] += 1
            return
        sec, frac, incl, orig = rec.unpack_from(data, pos)
        pos += 16
        n += 1
        if pos + incl > len(data):
            report.frames += 1
            report.skipped["truncated record"] += 1
            return
        report.frames += 1
        yield _Frame(n, sec + frac * scale, linktype, data[pos : pos + incl], max(orig, incl))
        pos += incl


def _read_pcapng(data: bytes, report: ImportReport) -> Iterator[_Frame]:
    report.format = "pcapng"
    pos = 0
    endian = "<"
    interfaces: list[tuple[int, float, float]] = []  # (linktype, seconds per unit, offset)
    n = 0
    while pos + 12 <= len(data):
        btype_le = struct.unpack_from("<I", data, pos)[0]
        if btype_le == _PCAPNG_SHB:
            bom = struct.unpack_from("<I", data, pos + 8)[0]
            if bom == _PCAPNG_BOM:
                endian = "<"
            elif bom == 0x4D3C2B1A:
                endian = ">"
            else:
                raise TraceFormatError(
                    f"pcapng section header at offset {pos} has byte-order magic 0x{bom:08x} (expected 0x1a2b3c4d)"
                )
            interfaces = []
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12 or blen % 4 or pos + blen > len(data):
            report.skipped["truncated record"] += 1
            return
        body = data[pos + 8 : pos + blen - 4]
        pos += blen
        if len(body) < _PCAPNG_MIN_BODY.get(btype, 0):
            if btype in (2, 3, 6):
                n += 1
                report.frames += 1
            report.skipped["bad header"] += 1
            continue
        if btype == 1:  # Interface Description Block
            linktype, _res, _snap = struct.unpack_from(endian + "HHI", body)
            unit, offset = 1e-6, 0.0
            opos = 8
            while opos + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, opos)
                val = body[opos + 4 : opos + 4 + olen]
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    r = val[0]
                    unit = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0**-r
                elif code == 14 and olen == 8:  # if_tsoffset
                    offset = float(struct.unpack(endian + "q", val)[0])
                opos += 4 + olen + (-olen % 4)
            interfaces.append((linktype, unit, offset))
            if linktype not in report.linktypes:
                report.linktypes.append(linktype)
        elif btype in (6, 2):  # Enhanced Packet Block, obsolete Packet Block
            if btype == 6:
                iface, hi, lo, incl, orig = struct.unpack_from(endian + "IIIII", body)
            else:
                iface, _drops, hi, lo, incl, orig = struct.unpack_from(endian + "HHIIII", body)
            n += 1
            report.frames += 1
            if iface >= len(interfaces) or 20 + incl > len(body):
                report.skipped["truncated record" if iface < len(interfaces) else "bad header"] += 1
                continue
            linktype, unit, offset = interfaces[iface]
            yield _Frame(n, ((hi << 32) | lo) * unit + offset, linktype, body[20 : 20 + incl], max(orig, incl))
        elif btype == 3:  # Simple Packet Block: no timestamp
            n += 1
            report.frames += 1
            report.skipped["no timestamp"] += 1
    if pos < len(data):
        report.skipped["truncated record"] += 1


def _link_payload(linktype: int, frame: bytes) -> int:
    """Offset of the IP header inside a frame (raises WireFormatError)."""
    n = len(frame)
    if linktype == 1:
        if n < 14:
            raise WireFormatError("truncated", "ethernet header", 0, f"Ethernet header needs 14 bytes, only {n}")
        pos, etype = 14, struct.unpack_from("!H", frame, 12)[0]
        while etype in _ETH_VLAN:
            if pos + 4 > n:
                raise WireFormatError("truncated", "vlan tag", pos, f"VLAN tag at offset {pos} is cut short")
            etype = struct.unpack_from("!H", frame, pos + 2)[0]
            pos += 4
        if etype not in (_ETH_IPV4, _ETH_IPV6):
            raise WireFormatError(
                "not ip", "ethertype", pos - 2, f"ethertype 0x{etype:04x} at offset {pos - 2} is not IPv4 or IPv6"
            )
        return pos
    if linktype == 113:
        if n < 16:
            raise WireFormatError("truncated", "sll header", 0, f"Linux cooked header needs 16 bytes, only {n}")
        proto = struct.unpack_from("!H", frame, 14)[0]
        if proto not in (_ETH_IPV4, _ETH_IPV6):
            raise WireFormatError(
                "not ip", "protocol", 14, f"SLL protocol 0x{proto:04x} at offset 14 is not IPv4 or IPv6"
            )
        return 16
    if linktype == 276:
        if n < 20:
            raise WireFormatError("truncated", "sll2 header", 0, f"Linux cooked v2 header needs 20 bytes, only {n}")
        proto = struct.unpack_from("!H", frame, 0)[0]
        if proto not in (_ETH_IPV4, _ETH_IPV6):
            raise WireFormatError(
                "not ip", "protocol", 0, f"SLL2 protocol 0x{proto:04x} at offset 0 is not IPv4 or IPv6"
            )
        return 20
    if linktype in (0, 108):
        if n < 4:
            raise WireFormatError("truncated", "loopback header", 0, f"loopback header needs 4 bytes, only {n}")
        fam = struct.unpack_from("!I", frame)[0]
        if linktype == 0 and fam > 0xFFFF:  # NULL is in the capturing host's byte order
            fam = struct.unpack_from("<I", frame)[0]
        if fam not in _AF_INET | _AF_INET6:
            raise WireFormatError(
                "not ip", "address family", 0, f"loopback address family {fam} at offset 0 is not IPv4 or IPv6"
            )
        return 4
    if linktype in (101, 228, 229, 12, 14):
        return 0
    raise WireFormatError(
        "unsupported link type", "linktype", 0, f"link type {linktype} (supported: {', '.join(map(str, LINKTYPES))})"
    )


def read_capture(source: str | Path | bytes | BinaryIO) -> Capture:
    """Read the TCP packets of a pcap or pcapng capture.

    Parameters
    ----------
    source : path, bytes or binary file

    Returns
    -------
    Capture
        ``packets`` (in file order) and a ``report`` of what was skipped.

    Raises
    ------
    TraceFormatError
        If the data is not a pcap or pcapng capture at all, or its file
        header is broken.  Individual bad frames are skipped and counted.

    Examples
    --------
    >>> cap = read_capture(export_pcap_bytes(Trace()))
    >>> cap.packets, cap.report.frames, cap.report.format
    ((), 0, 'pcap')
    """
    name = "<bytes>"
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
    elif isinstance(source, str | Path):
        name = str(source)
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise TraceFormatError(f"cannot read capture {name}: {exc.strerror or exc}") from None
    else:
        data = source.read()
        name = str(getattr(source, "name", "<file>"))
    if len(data) < 4:
        raise TraceFormatError(f"{name} is not a pcap or pcapng capture: only {len(data)} bytes")
    head_le = struct.unpack_from("<I", data)[0]
    head_be = struct.unpack_from(">I", data)[0]
    report = ImportReport()
    frames: Iterator[_Frame]
    if head_le in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS) or head_be in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
        frames = _read_pcap(data, report)
    elif head_le == _PCAPNG_SHB:
        frames = _read_pcapng(data, report)
    else:
        raise TraceFormatError(
            f"{name} is not a pcap or pcapng capture: it starts with {data[:4].hex()} "
            "(expected a1b2c3d4 or a1b23c4d in either byte order, or the pcapng block 0a0d0d0a)"
        )
    packets: list[CapturedPacket] = []
    for fr in frames:
        try:
            off = _link_payload(fr.linktype, fr.data)
            pkt = decode_packet(fr.data[off:], orig_len=fr.orig_len - off, base=off)
        except WireFormatError as exc:
            report.skipped[exc.reason] += 1
            continue
        report.tcp += 1
        if pkt.checksum_ok is False:
            report.bad_checksums += 1
        for kind in pkt.unknown_options:
            report.unknown_options[kind] += 1
        packets.append(CapturedPacket(fr.time, pkt.src, pkt.dst, pkt.segment, fr.number, pkt.checksum_ok))
    return Capture(tuple(packets), report, name)


# --------------------------------------------------------------------------- connections


def _is_pure_syn(seg: Segment) -> bool:
    return seg.syn and not seg.has_ack and not seg.rst


def split_connections(packets: Iterable[CapturedPacket]) -> list[Connection]:
    """Group packets by 4-tuple, splitting when a new incarnation starts.

    A SYN without ACK after the old incarnation has seen a FIN or an RST
    starts a new connection on the same 4-tuple (RFC 9293 §3.10.7.4 note on
    TIME-WAIT; RFC 6191): within one incarnation a SYN is only ever resent
    before the handshake ends, and a refused SYN is not resent.

    Examples
    --------
    >>> from tcpkit.engine.segment import parse_segment
    >>> a, b = "10.0.0.1", "10.0.0.2"
    >>> def p(t, src, dst, sp, dp, text):
    ...     return CapturedPacket(t, src, dst, parse_segment(text).replace(src_port=sp, dst_port=dp))
    >>> pkts = [p(0, a, b, 5, 80, "S 0:0(0) win 1"), p(1, b, a, 80, 5, "R. 0:0(0) ack 1 win 0"),
    ...         p(2, a, b, 5, 80, "S 99:99(0) win 1")]
    >>> [(c.conn, len(c.packets)) for c in split_connections(pkts)]
    [(('10.0.0.1', 5, '10.0.0.2', 80), 2), (('10.0.0.1', 5, '10.0.0.2', 80), 1)]
    """
    open_conns: dict[frozenset[tuple[str, int]], _Flow] = {}
    flows: list[_Flow] = []
    for pkt in packets:
        seg = pkt.segment
        key = frozenset({(pkt.src, seg.src_port), (pkt.dst, seg.dst_port)})
        flow = open_conns.get(key)
        if flow is None or (flow.ended and _is_pure_syn(seg)):
            src = (pkt.src, seg.src_port, pkt.dst, seg.dst_port)
            # a capture that starts at the SYN-ACK still names the client first
            conn = (src[2], src[3], src[0], src[1]) if seg.syn and seg.has_ack else src
            flow = open_conns[key] = _Flow(conn)
            flows.append(flow)
        if seg.fin or seg.rst:
            flow.ended = True
        flow.packets.append(pkt)
    return [Connection(f.conn, tuple(f.packets)) for f in flows]


@dataclass(slots=True)
class _Flow:
    conn: ConnId
    packets: list[CapturedPacket] = field(default_factory=list)
    ended: bool = False


# --------------------------------------------------------------------------- annotation


@dataclass(slots=True)
class _Side:
    name: str
    addr: str
    port: int
    state: State | None = None  # None: no socket seen (yet)
    passive: bool = False
    iss: int | None = None
    snd_nxt: int | None = None
    fin_seq: int | None = None  # sequence number of our FIN
    irs: int | None = None
    rcv_nxt: int | None = None
    peer_fin: int | None = None  # sequence number of the peer's FIN
    noted: set[str] = field(default_factory=set)

    def conn(self, peer: _Side) -> ConnId:
        return (self.addr, self.port, peer.addr, peer.port)

    def seq_base(self) -> tuple[int, int] | None:
        if self.iss is None or self.irs is None:
            return None
        return (self.iss, self.irs)


class _Observer:
    """Replays one connection's packets on both sides through :func:`tcpkit.engine.states.lookup`."""

    def __init__(self, conn: Connection, names: tuple[str, str], t0: float) -> None:
        ca, cp, sa, sp = conn.conn
        self.a = _Side(names[0], ca, cp)
        self.b = _Side(names[1], sa, sp)
        self.conn = conn
        self.t0 = t0
        self.records: list[TraceRecord] = []

    # -- helpers -----------------------------------------------------------------------
    def _peer(self, side: _Side) -> _Side:
        return self.b if side is self.a else self.a

    def _move(self, side: _Side, t: float, event: Event, condition: str = "") -> None:
        src = side.state or State.CLOSED
        row = lookup(src, event, condition)  # only ever a row of the table
        self.records.append(StateChanged(time=t, host=side.name, conn=side.conn(self._peer(side)), row=row))
        side.state = row.dst

    def _note(self, side: _Side, t: float, key: str, text: str) -> None:
        if key in side.noted:
            return
        side.noted.add(key)
        self.records.append(Note(time=t, host=side.name, conn=side.conn(self._peer(side)), text=text))

    def _has_row(self, state: State, event: Event, condition: str = "") -> bool:
        return any(r.event is event and r.condition == condition for r in transitions_from(state))

    # -- packets -------------------------------------------------------------------------
    def run(self) -> None:
        pk = self.conn.packets
        i = 0
        while i < len(pk):
            if i + 1 < len(pk) and self._crossed(pk[i], pk[i + 1]):
                # Both were sent before either arrived (simultaneous open or close).
                self.send(pk[i])
                self.send(pk[i + 1])
                self.receive(i, pk[i])
                self.receive(i + 1, pk[i + 1])
                i += 2
            else:
                self.send(pk[i])
                self.receive(i, pk[i])
                i += 1

    def _sides(self, pkt: CapturedPacket) -> tuple[_Side, _Side]:
        sender = self.a if (pkt.src, pkt.segment.src_port) == (self.a.addr, self.a.port) else self.b
        return sender, self._peer(sender)

    def _crossed(self, p: CapturedPacket, q: CapturedPacket) -> bool:
        """``q`` comes from ``p``'s receiver, is a SYN or FIN, and does not acknowledge ``p``."""
        if self._sides(p)[0] is self._sides(q)[0] or p.segment.seg_len == 0 or q.segment.rst:
            return False
        qs = q.segment
        if not (qs.syn or qs.fin):
            return False
        return not qs.has_ack or seq_gt(p.segment.end_seq, qs.ack)

    def send(self, pkt: CapturedPacket) -> None:
        t = pkt.time - self.t0
        sender, receiver = self._sides(pkt)
        self._sent(sender, t, pkt.segment)
        self.records.append(
            SegmentSent(
                time=t,
                host=sender.name,
                conn=sender.conn(receiver),
                segment=pkt.segment,
                peer=receiver.name,
                seq_base=sender.seq_base(),
            )
        )

    def receive(self, i: int, pkt: CapturedPacket) -> None:
        t = pkt.time - self.t0
        sender, receiver = self._sides(pkt)
        self.records.append(
            SegmentReceived(
                time=t,
                host=receiver.name,
                conn=receiver.conn(sender),
                segment=pkt.segment,
                peer=sender.name,
                seq_base=receiver.seq_base(),
            )
        )
        self._arrived(receiver, sender, t, pkt.segment, i)

    def _sent(self, s: _Side, t: float, seg: Segment) -> None:
        if seg.syn:
            s.iss = seg.seq
        end = seg.end_seq
        if s.snd_nxt is None or seq_gt(end, s.snd_nxt):
            s.snd_nxt = end
        if seg.fin:
            s.fin_seq = seq_add(seg.seq, seg.length + (1 if seg.syn else 0))
        st = s.state
        if seg.rst:
            if st is not None and st not in (State.CLOSED, State.LISTEN) and self._has_row(st, Event.ABORT):
                # On the wire an abort (SO_LINGER 0) and a close with unread data look
                # the same; tcpkit reads them as ABORT (RFC 9293 §3.10.5).
                self._move(s, t, Event.ABORT)
            return
        if _is_pure_syn(seg) and st in (None, State.CLOSED):
            self._move(s, t, Event.ACTIVE_OPEN)
        elif seg.fin and st in (State.ESTABLISHED, State.CLOSE_WAIT, State.SYN_RECEIVED):
            self._move(s, t, Event.CLOSE)

    def _arrived(self, r: _Side, s: _Side, t: float, seg: Segment, i: int) -> None:
        st = r.state
        if seg.rst:
            self._rst(r, t, seg)
            return
        if seg.syn:
            r.irs = seg.seq
            r.rcv_nxt = seq_add(seg.seq, 1)
            if not seg.has_ack:
                if st in (None, State.CLOSED):
                    answers = any(
                        p.segment.syn and p.segment.has_ack and (p.src, p.segment.src_port) == (r.addr, r.port)
                        for p in self.conn.packets[i + 1 :]
                    )
                    if answers:
                        r.passive = True
                        self._move(r, t, Event.PASSIVE_OPEN)
                        self._move(r, t, Event.RCV_SYN)
                    else:
                        self._note(
                            r,
                            t,
                            "nolisten",
                            f"no listener seen on port {r.port}: a closed port answers a SYN with RST, or nothing "
                            f"answers (RFC 9293 §3.10.7.1)",
                        )
                elif st in (State.LISTEN, State.SYN_SENT):
                    self._move(r, t, Event.RCV_SYN)
                elif st is not None and st is not State.SYN_RECEIVED:
                    self._note(
                        r,
                        t,
                        f"syn{seg.seq}",
                        f"SYN in {st.value}: Linux answers with a challenge ACK (RFC 5961 §4), no state change",
                    )
            elif st is State.SYN_SENT and r.snd_nxt is not None and seg.ack == r.snd_nxt:
                self._move(r, t, Event.RCV_SYN_ACK)
            elif st is State.SYN_RECEIVED and r.iss is not None and seg.ack == seq_add(r.iss, 1):
                self._move(r, t, Event.RCV_ACK)
            return
        # neither SYN nor RST: ACK processing, then FIN (RFC 9293 §3.10.7.4, fifth and eighth)
        old_nxt = r.rcv_nxt
        in_order = old_nxt is None or seq_le(seg.seq, old_nxt)
        if old_nxt is None or (in_order and seq_gt(seg.end_seq, old_nxt)):
            r.rcv_nxt = seg.end_seq
        fin_at = seq_add(seg.seq, seg.length)
        new_fin = seg.fin and in_order and r.peer_fin is None
        old_fin = seg.fin and r.peer_fin is not None and fin_at == r.peer_fin
        if seg.fin and not in_order:
            self._note(r, t, f"ooo{seg.seq}", "FIN beyond a gap: it waits in the out-of-order queue")
        if new_fin:
            r.peer_fin = fin_at
        fin_done = False
        if seg.has_ack:
            acks_fin = r.fin_seq is not None and seq_ge(seg.ack, seq_add(r.fin_seq, 1))
            if st is State.SYN_RECEIVED and r.iss is not None and seq_ge(seg.ack, seq_add(r.iss, 1)):
                self._move(r, t, Event.RCV_ACK)
            elif st is State.FIN_WAIT_1 and acks_fin:
                # FIN_WAIT_1 -> FIN_WAIT_2 first, even when the FIN rides on this ACK (the FIN
                # below then moves FIN_WAIT_2 -> TIME_WAIT): RFC 9293 §3.10.7.4, as kernels report it
                self._move(r, t, Event.RCV_ACK_OF_FIN)
            elif st in (State.CLOSING, State.LAST_ACK) and acks_fin:
                self._move(r, t, Event.RCV_ACK_OF_FIN)
        if seg.fin and not fin_done:
            st = r.state
            fresh = new_fin and st in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.SYN_RECEIVED)
            if fresh or (old_fin and st is State.TIME_WAIT):  # TIME_WAIT: a resent FIN, ACKed again
                self._move(r, t, Event.RCV_FIN)

    def _rst(self, r: _Side, t: float, seg: Segment) -> None:
        st = r.state
        if st is None or st in (State.CLOSED, State.LISTEN):
            return
        if st is State.SYN_SENT:
            if seg.has_ack and seg.ack == r.snd_nxt:
                self._move(r, t, Event.RCV_RST)
            else:
                self._note(
                    r, t, f"rst{seg.seq}", "RST without an acceptable ACK: ignored in SYN_SENT (RFC 9293 §3.10.7.3)"
                )
            return
        if st is State.SYN_RECEIVED:
            self._move(r, t, Event.RCV_RST, "passive open" if r.passive else "active open")
            return
        if r.rcv_nxt is not None and seg.seq != r.rcv_nxt:
            self._note(
                r,
                t,
                f"rst{seg.seq}",
                f"RST with seq {seg.seq} != RCV.NXT {r.rcv_nxt}: a challenge ACK, no reset (RFC 5961 §3.2)",
            )
            return
        self._move(r, t, Event.RCV_RST, "rfc1337 off" if st is State.TIME_WAIT else "")


def annotate(
    source: Capture | Sequence[Connection] | Sequence[CapturedPacket],
    *,
    names: tuple[str, str] = ("client", "server"),
    relative: bool = True,
) -> Trace:
    """Rebuild both sides' states from captured packets.

    For every connection, the initiator is called ``names[0]`` and the other
    side ``names[1]``; each packet becomes a ``SEND`` record of its sender and a
    ``RECV`` record of its receiver (at the same time: one capture point), and
    every state change a ``STATE`` record taken from the transition table.

    Parameters
    ----------
    source : Capture, connections or packets
    names : (str, str)
        Host names for initiator and responder.
    relative : bool
        Times relative to the first packet (the absolute start goes into
        ``trace.meta["capture_start"]``).

    Returns
    -------
    Trace

    Examples
    --------
    >>> from tcpkit.engine.segment import parse_segment
    >>> a, b = "10.0.0.1", "10.0.0.2"
    >>> def p(t, src, dst, sp, dp, text):
    ...     return CapturedPacket(t, src, dst, parse_segment(text).replace(src_port=sp, dst_port=dp))
    >>> pkts = [p(0.0, a, b, 5, 80, "S 0:0(0) win 1"), p(0.1, b, a, 80, 5, "S. 7:7(0) ack 1 win 1"),
    ...         p(0.2, a, b, 5, 80, ". 1:1(0) ack 8 win 1")]
    >>> tr = annotate(pkts)
    >>> [s.value for _, s in tr.states("client")], [s.value for _, s in tr.states("server")]
    (['CLOSED', 'SYN_SENT', 'ESTABLISHED'], ['CLOSED', 'LISTEN', 'SYN_RECEIVED', 'ESTABLISHED'])

    Notes
    -----
    Sending a SYN is an active OPEN, sending a FIN a CLOSE, sending an RST an
    ABORT (RFC 9293 §3.10.1, §3.10.4, §3.10.5); arriving segments follow
    §3.10.7 (ACK before FIN, so a FIN that also acknowledges ours takes
    FIN_WAIT_1 straight to TIME_WAIT).  A responder is taken to have been
    listening when it answers a SYN with a SYN-ACK.  When the next packet comes
    from the other side, is a SYN or FIN, and does not acknowledge the packet
    before it, the two crossed in flight (simultaneous open or close, RFC 9293
    §3.5 Figure 7, §3.6 case 3): both sends are replayed before both arrivals.
    An RST counts only at
    exactly RCV.NXT (RFC 5961 §3.2, as Linux does).  Timers cannot be seen in a
    capture: a TIME_WAIT side stays in TIME_WAIT at the end.
    """
    if isinstance(source, Capture):
        conns = source.connections()
        meta: dict[str, Any] = {"source": "capture", "capture": source.name, "report": source.report.to_dict()}
    else:
        items = list(source)
        if items and isinstance(items[0], CapturedPacket):
            conns = split_connections(items)  # type: ignore[arg-type]
        else:
            conns = items  # type: ignore[assignment]
        meta = {"source": "capture"}
    all_times = [p.time for c in conns for p in c.packets]
    t0 = min(all_times) if (all_times and relative) else 0.0
    meta["capture_start"] = t0
    meta["connections"] = [list(c.conn) for c in conns]
    records: list[tuple[float, int, TraceRecord]] = []
    seq = 0
    for c in conns:
        obs = _Observer(c, names, t0)
        obs.run()
        for rec in obs.records:
            records.append((rec.time, seq, rec))
            seq += 1
    records.sort(key=lambda x: (x[0], x[1]))
    return Trace((r for _, _, r in records), meta)


# --------------------------------------------------------------------------- export


def trace_packets(trace: Iterable[TraceRecord]) -> list[tuple[float, str, str, Segment]]:
    """``(time, src, dst, segment)`` for every ``SEND`` record that names its connection.

    Ports left at 0 in a segment are filled in from the record's connection.

    Examples
    --------
    >>> from tcpkit.engine.segment import Flags
    >>> rec = SegmentSent(time=1.0, host="h", conn=("10.0.0.1", 1, "10.0.0.2", 2),
    ...                   segment=Segment(flags=Flags.SYN, window=1))
    >>> t, src, dst, seg = trace_packets([rec])[0]
    >>> src, dst, seg.src_port, seg.dst_port
    ('10.0.0.1', '10.0.0.2', 1, 2)
    """
    out: list[tuple[float, str, str, Segment]] = []
    for rec in trace:
        if not isinstance(rec, SegmentSent) or rec.conn is None:
            continue
        la, lp, ra, rp = rec.conn
        seg = rec.segment
        if seg.src_port == 0 and seg.dst_port == 0:
            seg = seg.replace(src_port=lp, dst_port=rp)
        out.append((rec.time, la, ra, seg))
    out.sort(key=lambda x: x[0])  # stable: equal times keep trace order
    return out


def _ethernet(raw: bytes, v6: bool) -> bytes:
    # locally administered MAC addresses 02:00:00:00:00:01/02
    return bytes.fromhex("020000000002020000000001") + struct.pack("!H", _ETH_IPV6 if v6 else _ETH_IPV4) + raw


def export_pcap_bytes(
    trace: Iterable[TraceRecord],
    *,
    start: float = 0.0,
    linktype: str = "raw",
    nanosecond: bool = False,
    snaplen: int = 262144,
) -> bytes:
    """The bytes of a classic pcap file holding a trace's ``SEND`` segments.

    Parameters
    ----------
    trace : Trace or iterable of TraceRecord
    start : float
        Seconds since the Unix epoch at trace time 0 (default 0: 1970-01-01).
    linktype : {"raw", "ethernet"}
        Raw IP (LINKTYPE_RAW, 101) or Ethernet (1) with made-up MAC addresses.
    nanosecond : bool
        Write nanosecond timestamps (magic a1b23c4d) instead of microseconds.
    snaplen : int
        The file's snapshot length.

    Returns
    -------
    bytes

    Examples
    --------
    >>> export_pcap_bytes(Trace())[:4].hex(), export_pcap_bytes(Trace(), nanosecond=True)[:4].hex()
    ('d4c3b2a1', '4d3cb2a1')

    Notes
    -----
    A segment the engine knows only by its length (``payload is None``) is
    written with its headers only and the full length as the record's
    original length, the way tcpdump stores a packet cut by ``-s``; Wireshark
    then shows "packet size limited during capture".  The TCP checksum is
    computed as if the payload were zero bytes.
    """
    if linktype not in ("raw", "ethernet"):
        from tcpkit.engine.errors import ParameterError

        raise ParameterError("linktype", linktype, "'raw' or 'ethernet'")
    lt = _LINKTYPE_RAW if linktype == "raw" else _LINKTYPE_ETHERNET
    magic = _PCAP_MAGIC_NS if nanosecond else _PCAP_MAGIC_US
    out = bytearray(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, lt))
    per_sec = 1_000_000_000 if nanosecond else 1_000_000
    whole = math.floor(start)
    part = start - whole
    for t, src, dst, seg in trace_packets(trace):
        raw = encode_packet(seg, src, dst)
        keep = len(raw) if seg.payload is not None else len(raw) - seg.length
        if lt == _LINKTYPE_ETHERNET:
            raw = _ethernet(raw, ":" in src)
            keep += 14
        keep = min(keep, snaplen)
        # whole seconds apart: a float holding 1.7e18 ns would lose the last digits
        ticks = whole * per_sec + round((part + t) * per_sec)
        sec, frac = divmod(ticks, per_sec)
        out += struct.pack("<IIII", sec, frac, keep, len(raw)) + raw[:keep]
    return bytes(out)


def export_pcap(trace: Iterable[TraceRecord], path: str | Path, **kwargs: Any) -> int:
    """Write :func:`export_pcap_bytes` to ``path``; return the number of packets written.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     export_pcap(Trace(), os.path.join(d, "empty.pcap"))
    0
    """
    records = list(trace)
    Path(path).write_bytes(export_pcap_bytes(records, **kwargs))
    return len(trace_packets(records))


# --------------------------------------------------------------------------- CLI
