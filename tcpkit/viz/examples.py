"""Hand-made example traces for pictures, docs and widget tests.

These traces are *written by hand*, record by record, to show what the
pictures draw; they are not engine output (use :mod:`tcpkit.drivers.scenarios` for
that).  They follow the trace contract of ``docs/architecture.md``: SEND,
RECV, DROP, STATE, TIMER_*, CALL and QUEUE records with ``seq_base``.

Examples
--------
>>> t = example_trace("lossy")
>>> t.hosts
['server', 'client']
>>> t.final_state("client")
<State.CLOSED: 'CLOSED'>
>>> [s.value for _, s in t.states("server")][-3:]
['CLOSE_WAIT', 'LAST_ACK', 'CLOSED']
>>> sorted(example_trace("attacker").hosts)
['attacker', 'client', 'server']
>>> example_trace("nope")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter kind = 'nope' is not allowed: expected one of lossy, attacker, flood

Notes
-----
Handshake, data and close follow RFC 9293 §3.5 (Figure 6), §3.6 (Figure 12,
case 1) and the retransmission timer of RFC 6298 §5; the blind RST of the
attacker case is answered with a challenge ACK as in RFC 5961 §3.2.
"""

from __future__ import annotations

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import Flags, Segment
from tcpkit.engine.states import Event, State, lookup
from tcpkit.engine.trace import (
    CallMade,
    ConnId,
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

__all__ = ["example_trace", "KINDS"]

KINDS = ("lossy", "attacker", "flood")

_C_ADDR, _S_ADDR, _A_ADDR = "10.0.0.1", "10.0.0.2", "203.0.113.7"
_C_CONN: ConnId = (_C_ADDR, 40000, _S_ADDR, 80)
_S_CONN: ConnId = (_S_ADDR, 80, _C_ADDR, 40000)
_L_CONN: ConnId = (_S_ADDR, 80, "0.0.0.0", 0)
_ISS_C, _ISS_S = 1_000_000, 5_000_000


class _Builder:
    """Appends records in time order; keeps the sequence bookkeeping honest."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []

    def add(self, event: TraceRecord) -> None:
        self.records.append(event)

    def state(self, t: float, host: str, conn: ConnId, src: State, event: Event, condition: str = "") -> None:
        self.add(StateChanged(time=t, host=host, conn=conn, row=lookup(src, event, condition)))

    def segment(
        self,
        t: float,
        host: str,
        conn: ConnId,
        peer: str,
        seg: Segment,
        base: tuple[int, int],
        kind: Kind = Kind.SEND,
        reason: str = "",
    ) -> None:
        if kind is Kind.RECV:
            self.add(
                SegmentReceived(
                    time=t, host=host, conn=(conn[2], conn[3], conn[0], conn[1]), segment=seg, peer=peer, seq_base=base
                )
            )
        elif kind is Kind.DROP:
            self.add(SegmentDropped(time=t, host=host, conn=conn, segment=seg, peer=peer, seq_base=base, reason=reason))
        else:
            self.add(SegmentSent(time=t, host=host, conn=conn, segment=seg, peer=peer, seq_base=base))

    def deliver(
        self, t: float, src: str, dst: str, conn: ConnId, seg: Segment, base: tuple[int, int], delay: float
    ) -> float:
        """SEND at ``t`` on ``src``, RECV at ``t + delay`` on ``dst``; returns the arrival time."""
        self.segment(t, src, conn, dst, seg, base)
        rbase = (base[1], base[0])
        rconn = conn
        self.segment(t + delay, dst, rconn, src, seg, rbase, Kind.RECV)
        return t + delay

    def timer(self, t: float, host: str, conn: ConnId, kind: Kind, name: str, deadline: float | None = None) -> None:
        if kind is Kind.TIMER_SET:
            assert deadline is not None
            self.add(TimerSet(time=t, host=host, conn=conn, timer=name, deadline=deadline))
        elif kind is Kind.TIMER_FIRE:
            self.add(TimerFired(time=t, host=host, conn=conn, timer=name, deadline=deadline))
        else:
            self.add(TimerCancelled(time=t, host=host, conn=conn, timer=name))

    def call(self, t: float, host: str, conn: ConnId, call: str, result: str) -> None:
        self.add(CallMade(time=t, host=host, conn=conn, call=call, result=result))

    def note(self, t: float, host: str, text: str) -> None:
        self.add(Note(time=t, host=host, text=text))

    def queue(self, t: float, host: str, syn: int, acc: int) -> None:
        self.add(QueueChanged(time=t, host=host, conn=_L_CONN, syn_queue=syn, accept_queue=acc))

    def trace(self, meta: dict[str, object]) -> Trace:
        return Trace(sorted(self.records, key=lambda r: r.time), meta)


def _seg(sport: int, dport: int, seq: int, ack: int, flags: str, length: int = 0) -> Segment:
    f = Flags(0)
    for letter, flag in (("S", Flags.SYN), ("F", Flags.FIN), ("R", Flags.RST), ("P", Flags.PSH), (".", Flags.ACK)):
        if letter in flags:
            f |= flag
    return Segment(
        src_port=sport, dst_port=dport, seq=seq & 0xFFFFFFFF, ack=ack & 0xFFFFFFFF, flags=f, window=64240, length=length
    )


def _open(b: _Builder, delay: float, rto: float) -> float:
    """Listen, three-way handshake; returns the time the client is ESTABLISHED."""
    cb, sb = (_ISS_C, _ISS_S), (_ISS_S, _ISS_C)
    b.state(0.0, "server", _L_CONN, State.CLOSED, Event.PASSIVE_OPEN)
    b.queue(0.0, "server", 0, 0)
    t = 0.01
    b.call(t, "client", _C_CONN, "connect(10.0.0.2:80)", "EINPROGRESS")
    b.state(t, "client", _C_CONN, State.CLOSED, Event.ACTIVE_OPEN)
    b.timer(t, "client", _C_CONN, Kind.TIMER_SET, "rto", t + rto)
    t = b.deliver(t, "client", "server", _C_CONN, _seg(40000, 80, _ISS_C, 0, "S"), cb, delay)
    b.state(t, "server", _S_CONN, State.LISTEN, Event.RCV_SYN)
    b.queue(t, "server", 1, 0)
    b.timer(t, "server", _S_CONN, Kind.TIMER_SET, "rto", t + rto)
    t = b.deliver(t, "server", "client", _S_CONN, _seg(80, 40000, _ISS_S, _ISS_C + 1, "S."), sb, delay)
    b.timer(t, "client", _C_CONN, Kind.TIMER_CANCEL, "rto")
    b.state(t, "client", _C_CONN, State.SYN_SENT, Event.RCV_SYN_ACK)
    est = t
    t = b.deliver(t, "client", "server", _C_CONN, _seg(40000, 80, _ISS_C + 1, _ISS_S + 1, "."), cb, delay)
    b.timer(t, "server", _S_CONN, Kind.TIMER_CANCEL, "rto")
    b.state(t, "server", _S_CONN, State.SYN_RECEIVED, Event.RCV_ACK)
    b.queue(t, "server", 0, 1)
    b.call(t + 0.001, "server", _L_CONN, "accept()", "fd 4")
    b.queue(t + 0.001, "server", 0, 0)
    return est


def _lossy(delay: float, rto: float, time_wait: float) -> Trace:
    b = _Builder()
    cb, sb = (_ISS_C, _ISS_S), (_ISS_S, _ISS_C)
    t = _open(b, delay, rto) + 0.001
    c1, s1 = _ISS_C + 1, _ISS_S + 1
    # two data segments; the first is lost on the link
    b.timer(t, "client", _C_CONN, Kind.TIMER_SET, "rto", t + rto)
    b.segment(t, "client", _C_CONN, "server", _seg(40000, 80, c1, s1, "P.", 1000), cb)
    b.segment(
        t + delay / 2,
        "client",
        _C_CONN,
        "server",
        _seg(40000, 80, c1, s1, "P.", 1000),
        cb,
        Kind.DROP,
        reason="lost on the link",
    )
    t2 = b.deliver(t + 0.001, "client", "server", _C_CONN, _seg(40000, 80, c1 + 1000, s1, "P.", 1000), cb, delay)
    b.deliver(t2, "server", "client", _S_CONN, _seg(80, 40000, s1, c1, "."), sb, delay)  # duplicate ACK
    t = t + rto
    b.timer(t, "client", _C_CONN, Kind.TIMER_FIRE, "rto")
    b.timer(t, "client", _C_CONN, Kind.TIMER_SET, "rto", t + 2 * rto)
    t = b.deliver(t, "client", "server", _C_CONN, _seg(40000, 80, c1, s1, "P.", 1000), cb, delay)
    t = b.deliver(t, "server", "client", _S_CONN, _seg(80, 40000, s1, c1 + 2000, "."), sb, delay)
    b.timer(t, "client", _C_CONN, Kind.TIMER_CANCEL, "rto")
    # active close by the client (RFC 9293 Figure 12, case 1)
    t += 0.02
    c2 = c1 + 2000
    b.call(t, "client", _C_CONN, "close()", "0")
    b.state(t, "client", _C_CONN, State.ESTABLISHED, Event.CLOSE)
    t = b.deliver(t, "client", "server", _C_CONN, _seg(40000, 80, c2, s1, "F."), cb, delay)
    b.state(t, "server", _S_CONN, State.ESTABLISHED, Event.RCV_FIN)
    t = b.deliver(t, "server", "client", _S_CONN, _seg(80, 40000, s1, c2 + 1, "."), sb, delay)
    b.state(t, "client", _C_CONN, State.FIN_WAIT_1, Event.RCV_ACK_OF_FIN)
    t += 0.01
    b.call(t, "server", _S_CONN, "close()", "0")
    b.state(t, "server", _S_CONN, State.CLOSE_WAIT, Event.CLOSE)
    t = b.deliver(t, "server", "client", _S_CONN, _seg(80, 40000, s1, c2 + 1, "F."), sb, delay)
    b.state(t, "client", _C_CONN, State.FIN_WAIT_2, Event.RCV_FIN)
    b.timer(t, "client", _C_CONN, Kind.TIMER_SET, "time_wait", t + time_wait)
    tw = t
    t = b.deliver(t, "client", "server", _C_CONN, _seg(40000, 80, c2 + 1, s1 + 1, "."), cb, delay)
    b.state(t, "server", _S_CONN, State.LAST_ACK, Event.RCV_ACK_OF_FIN)
    b.timer(tw + time_wait, "client", _C_CONN, Kind.TIMER_FIRE, "time_wait")
    b.state(tw + time_wait, "client", _C_CONN, State.TIME_WAIT, Event.TIMEOUT_2MSL)
    return b.trace({"example": "lossy", "delay": delay, "rto": rto, "time_wait": time_wait})


def _attacker(delay: float, rto: float) -> Trace:
    b = _Builder()
    cb, sb = (_ISS_C, _ISS_S), (_ISS_S, _ISS_C)
    t = _open(b, delay, rto) + 0.05
    c1, s1 = _ISS_C + 1, _ISS_S + 1
    t = b.deliver(t, "client", "server", _C_CONN, _seg(40000, 80, c1, s1, "P.", 100), cb, delay)
    t = b.deliver(t, "server", "client", _S_CONN, _seg(80, 40000, s1, c1 + 100, "."), sb, delay)
    # a blind attacker spoofs the client's address and guesses a sequence number
    t += 0.02
    guess = c1 + 100 + 30_000
    spoof = _seg(40000, 80, guess, 0, "R")
    b.note(t, "attacker", "spoofs 10.0.0.1:40000 and guesses seq")
    b.segment(t, "attacker", _C_CONN, "server", spoof, cb)
    t += delay
    b.segment(t, "server", _C_CONN, "attacker", spoof, sb, Kind.RECV)
    b.segment(
        t,
        "server",
        _S_CONN,
        "attacker",
        spoof,
        sb,
        Kind.DROP,
        reason="RST in window but not exact: challenge ACK (RFC 5961 §3.2)",
    )
    t = b.deliver(t, "server", "client", _S_CONN, _seg(80, 40000, s1, c1 + 100, "."), sb, delay)
    # the client answers the challenge ACK: nothing new to say, so nothing sent; the connection survives
    b.note(t, "client", "challenge ACK acknowledges nothing new; connection survives")
    t += 0.02
    b.call(t, "client", _C_CONN, "close() with SO_LINGER 0", "0")
    b.state(t, "client", _C_CONN, State.ESTABLISHED, Event.ABORT)
    t = b.deliver(t, "client", "server", _C_CONN, _seg(40000, 80, c1 + 100, s1, "R."), cb, delay)
    b.state(t, "server", _S_CONN, State.ESTABLISHED, Event.RCV_RST)
    return b.trace({"example": "attacker", "delay": delay})


def _flood(delay: float, rto: float, n: int = 12, backlog: int = 4) -> Trace:
    """A SYN flood from spoofed addresses filling a small SYN queue."""
    b = _Builder()
    b.state(0.0, "server", _L_CONN, State.CLOSED, Event.PASSIVE_OPEN)
    b.queue(0.0, "server", 0, 0)
    syn_q = 0
    for i in range(n):
        t = 0.01 + 0.02 * i
        conn: ConnId = (f"198.51.100.{i + 1}", 1024 + i, _S_ADDR, 80)
        seg = _seg(1024 + i, 80, 7_000_000 + 1000 * i, 0, "S")
        b.segment(t, "attacker", conn, "server", seg, (seg.seq, 0))
        b.segment(t + delay, "server", conn, "attacker", seg, (0, seg.seq), Kind.RECV)
        if syn_q < backlog:
            syn_q += 1
            b.queue(t + delay, "server", syn_q, 0)
        else:
            b.segment(
                t + delay,
                "server",
                (conn[2], conn[3], conn[0], conn[1]),
                "attacker",
                seg,
                (0, seg.seq),
                Kind.DROP,
                reason="SYN queue full",
            )
    t_exp = 0.01 + delay + rto * 3
    for _ in range(syn_q):
        syn_q -= 1
        t_exp += 0.02
        b.queue(t_exp, "server", syn_q, 0)
    return b.trace({"example": "flood", "delay": delay, "backlog": backlog})


def example_trace(kind: str = "lossy", *, delay: float = 0.05, rto: float = 1.0, time_wait: float = 60.0) -> Trace:
    """A hand-made trace to draw.

    Parameters
    ----------
    kind : {"lossy", "attacker", "flood"}
        ``lossy``: handshake, two data segments of which the first is lost and
        retransmitted after ``rto``, active close and TIME_WAIT.  ``attacker``:
        a three-host trace where a blind attacker's RST is answered with a
        challenge ACK.  ``flood``: spoofed SYNs filling a SYN queue of 4.
    delay : float
        One-way delay in seconds.
    rto : float
        Retransmission timeout in seconds.
    time_wait : float
        TIME_WAIT duration in seconds.

    Returns
    -------
    Trace

    Examples
    --------
    >>> t = example_trace("lossy", rto=0.5)
    >>> [r.time for r in t if r.kind.value == "timer_fire"][0]
    0.611
    """
    for name, v in (("delay", delay), ("rto", rto), ("time_wait", time_wait)):
        if not isinstance(v, int | float) or v <= 0:
            raise ParameterError(name, v, "a positive number of seconds")
    if kind == "lossy":
        return _lossy(delay, rto, time_wait)
    if kind == "attacker":
        return _attacker(delay, rto)
    if kind == "flood":
        return _flood(delay, rto)
    raise ParameterError("kind", kind, "one of " + ", ".join(KINDS))
