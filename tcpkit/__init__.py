"""tcpkit: how TCP connections live and die, with an engine verified against real kernels.

The public names are re-exported here; see the README for a tour.

>>> import tcpkit
>>> tcpkit.State.TIME_WAIT.zh
'时间等待'
"""

from __future__ import annotations

from typing import Any

from . import compat
from .capture.pcap import Capture, ImportReport, annotate, export_pcap, read_capture
from .drivers.apps import Client, Server
from .drivers.flood import FloodResult, simulate_flood, simulate_flood_full
from .drivers.links import BlackHole, DropFlags, DropIf, DropNth, Link, Nat
from .drivers.packetdrill import ScriptResult, run_file, run_script, run_text
from .drivers.scenarios import SCENARIOS, Scenario, list_scenarios, run_scenario
from .drivers.sim import Host, Network, Simulator, Socket
from .engine.connection import Connection, handshake_pair
from .engine.errors import (
    BudgetError,
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
from .engine.isn import IsnGenerator, make_isn, predict_next_clock_isn
from .engine.listener import Listener
from .engine.profiles import Params, Profile, get_profile
from .engine.segment import Flags, Segment, parse_segment
from .engine.stack import Datagram, SocketInfo, Stack
from .engine.states import STATES, TRANSITIONS, Event, State, Transition, lookup
from .engine.trace import (
    CallMade,
    CounterChanged,
    Kind,
    Note,
    QueueChanged,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerCancelled,
    TimerFired,
    TimerSet,
    Trace,
    TraceRecord,
)
from .i18n import get_language, set_language

__version__ = "0.1.0"

compat.install()  # round-1 paths such as ``tcpkit.sim`` keep importing


def __getattr__(name: str) -> Any:
    # The real-kernel lab opens sockets and reads /proc: load it only when asked for.
    if name in ("run_live", "LiveResult"):
        from . import live

        return getattr(live, name)
    raise AttributeError(f"module 'tcpkit' has no attribute {name!r}")


__all__ = [
    "annotate",
    "BlackHole",
    "CallMade",
    "CounterChanged",
    "Note",
    "QueueChanged",
    "SegmentDropped",
    "SegmentReceived",
    "SegmentSent",
    "StateChanged",
    "TimerCancelled",
    "TimerFired",
    "TimerSet",
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
    "BudgetError",
    "TraceRecord",
    "Transition",
    "TRANSITIONS",
]
