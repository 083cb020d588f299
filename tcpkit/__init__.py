"""tcpkit: how TCP connections live and die, with an engine verified against real kernels.

The public names are re-exported here; see the README for a tour.

>>> import tcpkit
>>> tcpkit.State.TIME_WAIT.zh
'时间等待'
"""

from __future__ import annotations

from .apps import Client, Server
from .connection import Connection, handshake_pair
from .errors import (
    IllegalTransition,
    KnobError,
    ParameterError,
    RemovedKnobError,
    ScriptSyntaxError,
    SegmentSyntaxError,
    TcpError,
    TcpkitError,
    TraceFormatError,
)
from .flood import FloodResult, simulate_flood, simulate_flood_full
from .i18n import get_language, set_language
from .isn import IsnGenerator, make_isn, predict_next_clock_isn
from .links import BlackHole, DropFlags, DropIf, DropNth, Link, Nat
from .listener import Listener
from .live import LiveResult, run_live
from .packetdrill import ScriptResult, run_file, run_script, run_text
from .pcap import Capture, ImportReport, annotate, export_pcap, read_capture
from .profiles import Params, Profile, get_profile
from .scenarios import SCENARIOS, Scenario, list_scenarios, run_scenario
from .segment import Flags, Segment, parse_segment
from .sim import Host, Network, Simulator, Socket
from .stack import Datagram, SocketInfo, Stack
from .states import STATES, TRANSITIONS, Event, State, Transition, lookup
from .trace import Kind, Trace, TraceRecord

__version__ = "0.1.0"

__all__ = [
    "annotate",
    "BlackHole",
    "Capture",
    "Client",
    "Connection",
    "Datagram",
    "DropFlags",
    "DropIf",
    "DropNth",
    "Event",
    "export_pcap",
    "Flags",
    "FloodResult",
    "get_language",
    "get_profile",
    "handshake_pair",
    "Host",
    "IllegalTransition",
    "ImportReport",
    "IsnGenerator",
    "Kind",
    "KnobError",
    "Link",
    "list_scenarios",
    "Listener",
    "LiveResult",
    "lookup",
    "make_isn",
    "Nat",
    "Network",
    "ParameterError",
    "Params",
    "parse_segment",
    "predict_next_clock_isn",
    "Profile",
    "read_capture",
    "RemovedKnobError",
    "run_file",
    "run_live",
    "run_scenario",
    "run_script",
    "run_text",
    "Scenario",
    "SCENARIOS",
    "ScriptResult",
    "ScriptSyntaxError",
    "Segment",
    "SegmentSyntaxError",
    "Server",
    "set_language",
    "simulate_flood",
    "simulate_flood_full",
    "Simulator",
    "Socket",
    "SocketInfo",
    "Stack",
    "State",
    "STATES",
    "TcpError",
    "TcpkitError",
    "Trace",
    "TraceFormatError",
    "TraceRecord",
    "Transition",
    "TRANSITIONS",
]
