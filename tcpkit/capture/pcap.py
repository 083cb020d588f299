"""pcap files: export a trace for Wireshark/tcpdump, import a real capture (抓包) and annotate it.

This module gathers the names of three modules with one job each:
:mod:`tcpkit.capture.savefile` reads and writes pcap/pcapng files,
:mod:`tcpkit.capture.flows` holds the captured packets and splits them into
connections, and :mod:`tcpkit.capture.annotate` rebuilds both sides' states (状态)
from the packets, using only rows of the transition table;
:func:`tcpkit.capture.replay.replay` (``tcpkit pcap import FILE --replay``) instead runs
both sides through the engine itself and compares its segments with the capture.

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> from tcpkit.engine.trace import SegmentSent, Trace
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

Notes
-----
File formats: the classic libpcap format (pcap-savefile(5), IETF draft
draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng); link-type
numbers from the tcpdump.org LINKTYPE registry (pcap-linktype(7)).  The
annotation follows RFC 9293 §3.10 event processing (SEND: §3.10.1, §3.10.4,
§3.10.5; SEGMENT ARRIVES: §3.10.7) and RFC 5961 §3.2 for which RSTs count.
"""

from __future__ import annotations

from .annotate import annotate
from .flows import CapturedPacket, CaptureLike, Connection, is_pure_syn, split_connections
from .savefile import LINKTYPES, Capture, ImportReport, export_pcap, export_pcap_bytes, read_capture, trace_packets

__all__ = [
    "LINKTYPES",
    "CaptureLike",
    "CapturedPacket",
    "Connection",
    "ImportReport",
    "Capture",
    "is_pure_syn",
    "read_capture",
    "split_connections",
    "annotate",
    "trace_packets",
    "export_pcap",
    "export_pcap_bytes",
]
