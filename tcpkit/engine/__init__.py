"""The sans-IO TCP engine: everything that decides what TCP does, and nothing else.

This package imports nothing outside itself.  It never reads a clock (every
entry point takes ``now``), never draws random numbers of its own (ISNs and
timestamp offsets come from generators passed in, seeded), never prints or
plots.  What it does is told through typed trace events
(:mod:`tcpkit.engine.trace`), the one interface every driver and picture reads.

Modules, bottom up: ``errors``, ``seqnum`` (mod 2**32 arithmetic), ``segment``
(segments and their notation), ``options`` (SYN options per OS), ``states``
(the 11 states and the transition table), ``osrules`` (how the OSes differ,
as data), ``profiles`` (knobs), ``timers`` (schedules, the RTO, a connection's
timer table), ``siphash``, ``isn``, ``syncookies``, ``trace``, ``tcb`` (the
parts of a TCB), ``sender`` (output and the send-side timers), ``connection``
(one TCB and RFC 9293 §3.10 event processing), ``listener`` (SYN and accept
queues), ``stack`` (one host).  ``events`` holds the typed trace events, ``trace`` the
:class:`Trace` that collects them and its saved JSON form.

>>> from tcpkit.engine import State, lookup, Event
>>> lookup(State.LISTEN, Event.RCV_SYN).dst is State.SYN_RECEIVED
True
"""

from __future__ import annotations

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
from .isn import IsnGenerator, make_isn, predict_next_clock_isn
from .listener import Listener
from .profiles import Params, Profile, get_profile
from .segment import Flags, Segment, parse_segment
from .stack import Datagram, SocketInfo, Stack
from .states import STATES, TRANSITIONS, Event, State, Transition, lookup
from .trace import ConnId, Kind, Trace, Tracer, TraceRecord

__all__ = [
    "CallMade",
    "ConnId",
    "CounterChanged",
    "Note",
    "QueueChanged",
    "SegmentDropped",
    "SegmentEvent",
    "SegmentReceived",
    "SegmentSent",
    "StateChanged",
    "TimerCancelled",
    "TimerEvent",
    "TimerFired",
    "TimerSet",
    "Connection",
    "Datagram",
    "Event",
    "Flags",
    "IllegalTransition",
    "IsnGenerator",
    "Kind",
    "KnobError",
    "Listener",
    "Params",
    "ParameterError",
    "Profile",
    "RemovedKnobError",
    "STATES",
    "ScriptSyntaxError",
    "Segment",
    "SegmentSyntaxError",
    "SocketInfo",
    "Stack",
    "State",
    "TRANSITIONS",
    "TcpError",
    "TcpkitError",
    "Trace",
    "TraceFormatError",
    "TraceRecord",
    "Tracer",
    "Transition",
    "get_profile",
    "handshake_pair",
    "lookup",
    "make_isn",
    "parse_segment",
    "predict_next_clock_isn",
]
