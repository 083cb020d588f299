"""Typed trace events: what the engine tells the world, one small frozen class per kind.

The engine (a :class:`~tcpkit.engine.connection.Connection`, a
:class:`~tcpkit.engine.listener.Listener`, a :class:`~tcpkit.engine.stack.Stack`)
never prints or draws.  It calls a :data:`Tracer` with one of these events each
time something happens; drivers collect them into a
:class:`~tcpkit.engine.trace.Trace`, and every picture, widget, grader and the
live lab reads them.  States and events are :class:`~tcpkit.engine.states.State`
and :class:`~tcpkit.engine.states.Event` values, never strings to parse back, and
a state change carries the very row of the transition table that allowed it.

=====================  ================================================
class                  what happened
=====================  ================================================
:class:`SegmentSent`      a segment left the host
:class:`SegmentReceived`  a segment arrived (before processing)
:class:`SegmentDropped`   a segment was dropped (``reason`` says why)
:class:`StateChanged`     a connection moved along a table row
:class:`TimerSet`         a timer was armed for ``deadline``
:class:`TimerFired`       a timer went off
:class:`TimerCancelled`   a timer was disarmed
:class:`CallMade`         a socket call and its result
:class:`QueueChanged`     a listener's SYN / accept queue lengths
:class:`CounterChanged`   an nstat counter took a new value
:class:`Note`             anything else worth showing, in words
=====================  ================================================

Examples
--------
>>> from tcpkit.engine.states import lookup, State, Event
>>> ev = StateChanged(time=1.0, host="server", conn=("10.0.0.2", 80, "10.0.0.1", 40000),
...                   row=lookup(State.LISTEN, Event.RCV_SYN))
>>> ev.src, ev.dst, ev.event
(<State.LISTEN: 'LISTEN'>, <State.SYN_RECEIVED: 'SYN_RECEIVED'>, <Event.RCV_SYN: 'rcv SYN'>)
>>> ev.describe()
'LISTEN -> SYN_RECEIVED on rcv SYN'
>>> ev.kind
<Kind.STATE: 'state'>
>>> SegmentSent(time=0.0, host="a", segment=None)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter segment = None is not allowed: expected a Segment

Notes
-----
The design follows h11's ``_events.py``: small frozen dataclasses with
keyword-only, validating constructors.  The JSON form of a trace (one module:
:mod:`tcpkit.engine.trace`) is the stable saved form; these classes are the
in-memory form.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from .errors import ParameterError
from .segment import Segment
from .states import Event, State, Transition

__all__ = [
    "CallMade",
    "ConnId",
    "CounterChanged",
    "HostRestarted",
    "Kind",
    "Note",
    "QueueChanged",
    "SEGMENT_EVENTS",
    "SegmentDropped",
    "SegmentEvent",
    "SegmentReceived",
    "SegmentSent",
    "StateChanged",
    "TIMER_EVENTS",
    "TimerCancelled",
    "TimerEvent",
    "TimerFired",
    "TimerSet",
    "TraceRecord",
    "Tracer",
]

#: A connection's address: ``(local_addr, local_port, remote_addr, remote_port)``.
ConnId = tuple[str, int, str, int]


class Kind(enum.StrEnum):
    """The kind of an event: its name in the saved JSON and a handy filter."""

    SEND = "send"
    RECV = "recv"
    DROP = "drop"
    STATE = "state"
    TIMER_SET = "timer_set"
    TIMER_FIRE = "timer_fire"
    TIMER_CANCEL = "timer_cancel"
    CALL = "call"
    QUEUE = "queue"
    COUNTER = "counter"
    NOTE = "note"
    RESTART = "restart"


def _conn_text(c: ConnId) -> str:
    return f"{c[0]}:{c[1]} > {c[2]}:{c[3]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceRecord:
    """What every event has: when, on which host, and (usually) which connection.

    Parameters
    ----------
    time : float
        Seconds on the driver's clock (finite).
    host : str
        The host's name.
    conn : ConnId or None
        ``(local_addr, local_port, remote_addr, remote_port)`` as the host sees it.
    """

    kind: ClassVar[Kind]

    time: float
    host: str
    conn: ConnId | None = None

    def __post_init__(self) -> None:
        if isinstance(self.time, bool) or not isinstance(self.time, int | float) or not math.isfinite(self.time):
            raise ParameterError("time", self.time, "a finite number of seconds")
        if not isinstance(self.host, str):
            raise ParameterError("host", self.host, "a host name (str)")

    def describe(self) -> str:
        """The event in a few words (English)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentEvent(TraceRecord):
    """A segment seen by a host; the base of sent, received and dropped.

    ``peer`` names the other host when the driver knows it; ``seq_base`` is
    ``(our ISN, peer ISN)`` so pictures can show relative sequence numbers.
    """

    segment: Segment
    peer: str | None = None
    seq_base: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        TraceRecord.__post_init__(self)
        if not isinstance(self.segment, Segment):
            raise ParameterError("segment", self.segment, "a Segment")

    def _arrow(self) -> str:
        if self.conn is None:
            return ""
        c = self.conn
        return _conn_text((c[2], c[3], c[0], c[1]) if self.kind is Kind.RECV else c) + "  "

    def describe(self) -> str:
        return f"{self._arrow()}{self.segment.notation()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentSent(SegmentEvent):
    """A segment left the host."""

    kind: ClassVar[Kind] = Kind.SEND


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentReceived(SegmentEvent):
    """A segment arrived at the host, before the host processed it."""

    kind: ClassVar[Kind] = Kind.RECV


@dataclass(frozen=True, slots=True, kw_only=True)
class SegmentDropped(SegmentEvent):
    """A segment was dropped by a link, a middlebox or the stack; ``reason`` says why."""

    kind: ClassVar[Kind] = Kind.DROP
    reason: str = ""

    def describe(self) -> str:
        why = f"  ({self.reason})" if self.reason else ""
        return f"{self._arrow()}{self.segment.notation()}{why}"


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged(TraceRecord):
    """A connection moved from ``src`` to ``dst`` along one row of the transition table."""

    kind: ClassVar[Kind] = Kind.STATE
    row: Transition

    def __post_init__(self) -> None:
        TraceRecord.__post_init__(self)
        if not isinstance(self.row, Transition):
            raise ParameterError("row", self.row, "a Transition of tcpkit.engine.states.TRANSITIONS")

    @property
    def src(self) -> State:
        return self.row.src

    @property
    def dst(self) -> State:
        return self.row.dst

    @property
    def event(self) -> Event:
        return self.row.event

    @property
    def condition(self) -> str:
        return self.row.condition

    @property
    def rfc(self) -> str:
        return self.row.rfc

    def describe(self) -> str:
        cond = f" [{self.row.condition}]" if self.row.condition else ""
        return f"{self.src.value} -> {self.dst.value} on {self.event.value}{cond}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerEvent(TraceRecord):
    """A timer of a connection or listener (``rexmt``, ``delack``, ``time_wait``, ...)."""

    timer: str

    def describe(self) -> str:
        return self.timer


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerSet(TimerEvent):
    """A timer was armed to go off at ``deadline``."""

    kind: ClassVar[Kind] = Kind.TIMER_SET
    deadline: float

    def describe(self) -> str:
        return f"{self.timer} for t={self.deadline:.3f}"


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerFired(TimerEvent):
    """A timer went off (it had been set for ``deadline``)."""

    kind: ClassVar[Kind] = Kind.TIMER_FIRE
    deadline: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimerCancelled(TimerEvent):
    """A timer was disarmed before it went off."""

    kind: ClassVar[Kind] = Kind.TIMER_CANCEL


@dataclass(frozen=True, slots=True, kw_only=True)
class CallMade(TraceRecord):
    """A socket call (``call``, as written, e.g. ``connect(3, 10.0.0.2:80)``) and its ``result``."""

    kind: ClassVar[Kind] = Kind.CALL
    call: str
    result: str

    def describe(self) -> str:
        return f"{self.call} = {self.result}"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueChanged(TraceRecord):
    """A listener's queue lengths after a change, with their limits when known.

    ``syn_queue`` counts requests in SYN_RECEIVED (半连接队列), ``accept_queue``
    finished connections waiting for ``accept()`` (全连接队列).
    """

    kind: ClassVar[Kind] = Kind.QUEUE
    syn_queue: int
    accept_queue: int
    syn_limit: int | None = None
    accept_limit: int | None = None

    def describe(self) -> str:
        text = f"syn_queue={self.syn_queue}, accept_queue={self.accept_queue}"
        if self.syn_limit is not None:
            text += f", syn_limit={self.syn_limit}"
        if self.accept_limit is not None:
            text += f", accept_limit={self.accept_limit}"
        return text


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterChanged(TraceRecord):
    """An nstat counter (``ListenOverflows``, ``SyncookiesSent``, ...) took the value ``value``."""

    kind: ClassVar[Kind] = Kind.COUNTER
    name: str
    value: int

    def describe(self) -> str:
        return f"{self.name}={self.value}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(TraceRecord):
    """Anything else worth showing, in words."""

    kind: ClassVar[Kind] = Kind.NOTE
    text: str

    def describe(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True, kw_only=True)
class HostRestarted(TraceRecord):
    """The host crashed and came back: every connection it had is gone (CLOSED), and nothing was sent.

    No row of the transition table covers a crash (RFC 9293 §3.5.1 describes its effect on the peer:
    a half-open connection), so it is its own event; :meth:`Trace.states` closes the host's connections here.
    """

    kind: ClassVar[Kind] = Kind.RESTART

    def describe(self) -> str:
        return "crashed and restarted: every connection it had is forgotten, nothing is sent"


#: Event classes by kind (the JSON discriminator).
CLASSES: dict[Kind, type[TraceRecord]] = {
    cls.kind: cls
    for cls in (
        SegmentSent,
        SegmentReceived,
        SegmentDropped,
        StateChanged,
        TimerSet,
        TimerFired,
        TimerCancelled,
        CallMade,
        QueueChanged,
        CounterChanged,
        Note,
        HostRestarted,
    )
}
SEGMENT_EVENTS = (SegmentSent, SegmentReceived, SegmentDropped)
TIMER_EVENTS = (TimerSet, TimerFired, TimerCancelled)

#: What the engine calls with each event.
Tracer = Callable[[TraceRecord], None]
