"""Captured TCP packets and the connections they belong to (the capture's data model).

A :class:`CapturedPacket` is one TCP segment read from a file with its time,
addresses and frame number; :func:`split_connections` groups packets by
connection, splitting a 4-tuple again when a new incarnation starts.

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> p = CapturedPacket(0.5, "10.0.0.1", "10.0.0.2", parse_segment("S 0:0(0) win 1").replace(src_port=5, dst_port=80))
>>> p.conn, is_pure_syn(p.segment)
(('10.0.0.1', 5, '10.0.0.2', 80), True)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tcpkit.engine.segment import Segment
from tcpkit.engine.trace import ConnId

__all__ = ["CaptureLike", "CapturedPacket", "Connection", "is_pure_syn", "split_connections"]


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


@runtime_checkable
class CaptureLike(Protocol):
    """What :func:`~tcpkit.capture.annotate.annotate` and :func:`~tcpkit.capture.replay.replay` read from a
    :class:`~tcpkit.capture.savefile.Capture`: a name, the packets and an import report."""

    @property
    def name(self) -> str:
        """Where the packets came from (a file name)."""
        ...

    @property
    def packets(self) -> tuple[CapturedPacket, ...]:
        """Every TCP packet, in file order."""
        ...

    @property
    def report(self) -> Any:
        """What the import read and skipped (an ``ImportReport``)."""
        ...

    def connections(self) -> list[Connection]:
        """The packets grouped by connection."""
        ...


def is_pure_syn(seg: Segment) -> bool:
    """SYN without ACK or RST: an active open (or its retransmission)."""
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
        if flow is None or (flow.ended and is_pure_syn(seg)):
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
