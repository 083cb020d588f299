"""Packets on the wire: encode segments as IPv4/IPv6 packets (``wire``), read
pcap/pcapng captures and rebuild both sides' states (``pcap``), and replay a
capture through the engine to compare (``replay``).

>>> from tcpkit.capture import read_capture
>>> callable(read_capture)
True
"""

from __future__ import annotations

from .pcap import Capture, ImportReport, annotate, export_pcap, read_capture
from .replay import ReplayReport, ReplayResult, replay

__all__ = [
    "Capture",
    "ImportReport",
    "ReplayReport",
    "ReplayResult",
    "annotate",
    "export_pcap",
    "read_capture",
    "replay",
]
