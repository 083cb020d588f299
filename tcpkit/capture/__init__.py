"""Packets on the wire: encode segments as IPv4/IPv6 packets (``wire``), read and write pcap/pcapng files
(``savefile``), group packets into connections (``flows``), rebuild both sides' states (``annotate``; ``pcap``
gathers these names), and replay a capture through the engine (``replay``): told what a capture cannot show
(``replay_setup``), reading what it does show (``evidence``), comparing in content and time (``compare``).

>>> from tcpkit.capture import read_capture
>>> callable(read_capture)
True
"""

from __future__ import annotations

from .pcap import Capture, ImportReport, annotate, export_pcap, read_capture
from .replay import ReplayReport, ReplayResult, replay
from .replay_setup import ReplaySetup, load_setup_file, make_setup

__all__ = [
    "Capture",
    "ImportReport",
    "ReplayReport",
    "ReplayResult",
    "ReplaySetup",
    "load_setup_file",
    "make_setup",
    "annotate",
    "export_pcap",
    "read_capture",
    "replay",
]
