"""One TCP connection (a transmission control block, 传输控制块), sans-IO.

A :class:`Connection` implements the event processing of RFC 9293 §3.10:
the user calls (OPEN, SEND, RECEIVE, CLOSE, ABORT, STATUS), SEGMENT ARRIVES
and the timeouts.  SEGMENT ARRIVES reads top to bottom as the RFC's
numbered checks (first the sequence number, second RST, third security,
fourth SYN, fifth ACK, sixth URG, seventh the text, eighth FIN).  What goes
on the wire and when (output, retransmission, tail loss probe, persist,
keepalive, delayed ACK) is the job of its :class:`~tcpkit.engine.sender.Sender`;
its state lives in the small dataclasses of :mod:`tcpkit.engine.tcb`; where
Linux, FreeBSD and the RFC differ it reads ``params.rules``
(:mod:`tcpkit.engine.osrules`).

It never reads a clock and never draws a random number: every entry point
takes ``now`` (virtual seconds), the initial sequence number and the
timestamp offset are given to it, and the segments it wants to send collect
in :attr:`Connection.outbox` (take them with :meth:`Connection.take_outgoing`).
Every state change goes through :func:`tcpkit.engine.states.lookup` and is
reported as a :class:`~tcpkit.engine.events.StateChanged` event.

Examples
--------
Two connections wired back to back by hand:

>>> from tcpkit.engine.profiles import get_profile
>>> p = get_profile("rfc9293").params
>>> a = Connection(p, local=("10.0.0.1", 40000), remote=("10.0.0.2", 80), iss=1000)
>>> b = Connection(p, local=("10.0.0.2", 80), remote=("10.0.0.1", 40000), iss=5000, passive=True)
>>> a.open_active(0.0)
>>> syn = a.take_outgoing()[0]; syn.notation()
'S 1000:1000(0) win 65535 <mss 1460>'
>>> b.accept_syn(0.0, syn)
>>> synack = b.take_outgoing()[0]; a.segment_arrives(0.01, synack)
>>> a.state, a.take_outgoing()[0].notation()
(<State.ESTABLISHED: 'ESTABLISHED'>, '. 1001:1001(0) ack 5001 win 65535')

Timers (names used in ``Timer*`` trace events): ``rexmt`` (SYN, SYN-ACK, data and
FIN retransmission, RFC 6298), ``tlp`` (tail loss probe), ``persist``
(zero-window probes), ``delack`` (delayed ACK), ``keepalive``, ``fin_wait_2``
(orphaned FIN_WAIT_2, ``tcp_fin_timeout``) and ``time_wait`` (2MSL).

Notes
-----
RFC 9293 §3.10 (event processing), §3.10.7 (SEGMENT ARRIVES, checks in the
RFC's order), §3.8.1 and RFC 6298 (retransmission timeout), RFC 5961
(challenge ACKs, exact-match RST), RFC 1337 (TIME-WAIT assassination),
RFC 7323 (window scale, timestamps, PAWS), RFC 2018 (SACK permitted), RFC 5681
(slow start).  Linux details are cited where used: ``net/ipv4/tcp_input.c``,
``tcp_output.c``, ``tcp_timer.c``, ``tcp.c``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ParameterError, TcpError
from .events import (
    ConnId,
    CounterChanged,
    Note,
    SegmentDropped,
    StateChanged,
    TimerCancelled,
    TimerFired,
    TimerSet,
    Tracer,
    TraceRecord,
)
from .options import freebsd_options, linux_options, wscale_for
from .profiles import Params, Profile, get_profile
from .segment import Flags, Segment
from .sender import Sender
from .seqnum import MASK, seq_add, seq_diff, seq_ge, seq_gt, seq_in_window, seq_le, seq_lt
from .states import ACCEPT_OVERFLOW, DATA_AFTER_CLOSE, SYNCHRONIZED, TW_OVERFLOW, UNREAD_DATA, Event, State, lookup
from .tcb import (
    AckState,
    Clocks,
    Congestion,
    Keepalive,
    Negotiated,
    ReceiveQueue,
    ReceiveSequence,
    Retransmission,
    SendQueue,
    SendSequence,
    TimeWaitBuckets,
)
from .timers import RttEstimator, Timers, syn_timeout, synack_timeout

__all__ = [
    "Connection",
    "ConnId",
    "wscale_for",
    "linux_options",
    "freebsd_options",
    "SHUT_RD",
    "SHUT_WR",
    "SHUT_RDWR",
    "handshake_pair",
    "default_rcvbuf",
    "default_sndbuf",
]


SHUT_RD = "SHUT_RD"
SHUT_WR = "SHUT_WR"
SHUT_RDWR = "SHUT_RDWR"
_SHUT = (SHUT_RD, SHUT_WR, SHUT_RDWR)

#: Linux's quick-ACK budget at the start of a connection (``TCP_MAX_QUICKACKS``, include/net/tcp.h).
MAX_QUICKACKS = 16
#: Timers the Sender handles (``Sender.on_<name>``); the others are the connection's own.
_SENDER_TIMERS = frozenset({"rexmt", "tlp", "persist", "delack", "keepalive"})
_ESTABLISHED_STATES = frozenset({State.ESTABLISHED, State.CLOSE_WAIT})
_OPENING_STATES = frozenset({State.SYN_SENT, State.SYN_RECEIVED})
_ATTEMPT_FAILURES = frozenset({Event.RCV_RST, Event.TIMEOUT_RETRIES, Event.TIMEOUT_USER})
#: ``TCP_PAWS_24DAYS`` / FreeBSD ``TCP_PAWS_IDLE``: after this long TS.Recent is no longer valid (RFC 7323 §5.5).
PAWS_IDLE = 24 * 24 * 3600.0


def _timer_reporter(tracer: Tracer | None, host: str, conn: ConnId) -> Callable[[float, str, float | None], None]:
    """What a connection's :class:`Timers` reports its changes to: ``TimerSet``/``TimerCancelled``."""
    if tracer is None:
        return _ignore_timer

    def report(now: float, name: str, deadline: float | None) -> None:
        if deadline is None:
            tracer(TimerCancelled(time=now, host=host, conn=conn, timer=name))
        else:
            tracer(TimerSet(time=now, host=host, conn=conn, timer=name, deadline=deadline))

    return report


def _ignore_timer(now: float, name: str, deadline: float | None) -> None:
    return None


class Connection:
    """A transmission control block: one end of one TCP connection.

    Parameters
    ----------
    params : Params
        The profile's engine parameters (``get_profile(...).params``).
    local, remote : (addr, port)
    iss : int
        Initial send sequence number (from an ISN generator).
    ts_offset : int
        Added to the 1 kHz timestamp clock (RFC 7323 §5.4 per-connection offset).
    host : str
        Host name used in trace events.
    tracer : callable, optional
        Receives every trace event.
    passive : bool
        The connection comes from a passive open (a listener's child).
    rcvbuf, sndbuf : int, optional
        Buffer sizes in bytes (default: the profile's).
    counters : dict, optional
        Shared nstat-like counters (the Stack passes its own); the connection adds
        ``PAWSEstab``, ``TCPAbortOnData``, ``TCPAbortOnClose``, ``EstabResets``,
        ``AttemptFails``, ``EmbryonicRsts``, ``TCPSynRetrans``, ``TCPLossProbes`` and
        ``TCPTimeWaitOverflow`` to them.
    tw_buckets : TimeWaitBuckets, optional
        The host's count of TIME_WAIT sockets (for ``tcp_max_tw_buckets``).

    Attributes
    ----------
    state : State
    snd, rcv : SendSequence, ReceiveSequence
        RFC 9293 §3.3.1 sequence variables (also readable by their RFC names:
        ``snd_una``, ``snd_nxt``, ``rcv_nxt``, ...).
    sendq, recvq : SendQueue, ReceiveQueue
    opts : Negotiated
        MSS, window scale, SACK and timestamps as agreed in the handshake.
    cc, rtt, rexmit, ack, keep, clocks
        Congestion control, RTT estimator, retransmission, ACK policy, keepalive and
        the moments the timers measure from (see :mod:`tcpkit.engine.tcb`).
    timer : Timers
        The running timers (``timers`` is its name -> deadline dict).
    sender : Sender
        Output and the send-side timers.

    Examples
    --------
    >>> from tcpkit.engine.profiles import get_profile
    >>> c = Connection(get_profile("linux").params, local=("a", 1), remote=("b", 2), iss=0)
    >>> c.state
    <State.CLOSED: 'CLOSED'>
    >>> c.send(0.0, b"x")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.TcpError: ENOTCONN (Transport endpoint is not connected): send on a connection that was ...
    """

    def __init__(
        self,
        params: Params,
        *,
        local: tuple[str, int],
        remote: tuple[str, int],
        iss: int,
        ts_offset: int = 0,
        host: str = "host",
        tracer: Tracer | None = None,
        passive: bool = False,
        rcvbuf: int | None = None,
        sndbuf: int | None = None,
        counters: dict[str, int] | None = None,
        tw_buckets: TimeWaitBuckets | None = None,
    ) -> None:
        self.params = params
        self.tw_buckets = tw_buckets if tw_buckets is not None else TimeWaitBuckets()
        self.counters = counters if counters is not None else {}
        self.local = local
        self.remote = remote
        self.host = host
        self.tracer = tracer
        self.passive = passive
        # a listener's child is born as a copy of its listener, in LISTEN (RFC 9293 §3.10.7.2)
        self.state = State.LISTEN if passive else State.CLOSED
        self.ts_offset = ts_offset
        self.snd = SendSequence.starting_at(iss)
        self.rcv = ReceiveSequence()
        self.sendq = SendQueue(size=sndbuf if sndbuf is not None else params.sndbuf)
        self.recvq = ReceiveQueue(size=rcvbuf if rcvbuf is not None else params.rcvbuf)
        self.opts = Negotiated(our_mss=params.mss)
        self.cc = Congestion(cwnd=params.initial_cwnd * params.mss)
        self.rtt = RttEstimator(params)
        self.rexmit = Retransmission()
        self.ack = AckState(quickacks=MAX_QUICKACKS)
        self.keep = Keepalive(idle=params.keepalive_time, intvl=params.keepalive_intvl, cnt=params.keepalive_probes)
        self.clocks = Clocks()
        # neither the timer table nor the sender keeps a reference back to the connection, so a
        # finished connection is freed at once rather than by the cycle collector
        self.timer = Timers(_timer_reporter(tracer, host, self.conn_id))
        self.outbox: list[Segment] = []
        self.transitions: list[tuple[State, Event, str]] = []
        self.orphan = False  # the application has closed the socket
        self.time_wait_since: float | None = None  # when it entered TIME_WAIT
        self.reuse_addr = False  # SO_REUSEADDR on its socket (kept after close, like Linux tw_reuse)
        self.error: str | None = None  # pending SO_ERROR
        self.ever_connected = False
        self.counted_open = False  # PassiveOpens counted for this child (by the Stack)
        self.syn_cookie = False  # our SYN-ACK is a SYN cookie (the listener keeps no request)
        self.peer_syn: Segment | None = None  # the SYN our SYN-ACK answers
        #: the Listener that owns this child while it is in SYN_RECEIVED (set by the listener)
        self.listener: Any = None

    @property
    def sender(self) -> Sender:
        """Output and the send-side timers of this connection (a view over its TCB)."""
        return Sender(self)

    # ------------------------------------------------------------------ identity
    @property
    def conn_id(self) -> ConnId:
        """``(local_addr, local_port, remote_addr, remote_port)``."""
        return (self.local[0], self.local[1], self.remote[0], self.remote[1])

    @property
    def seq_base(self) -> tuple[int, int]:
        """``(ISS, IRS)``: what relative sequence numbers count from."""
        return (self.snd.iss, self.rcv.irs)

    def __repr__(self) -> str:
        return f"<Connection {self.local[0]}:{self.local[1]} > {self.remote[0]}:{self.remote[1]} {self.state.value}>"

    # ------------------------------------------------------------------ RFC 9293 names for the TCB variables
    @property
    def iss(self) -> int:
        return self.snd.iss

    @iss.setter
    def iss(self, value: int) -> None:
        self.snd.iss = value

    @property
    def snd_una(self) -> int:
        return self.snd.una

    @snd_una.setter
    def snd_una(self, value: int) -> None:
        self.snd.una = value

    @property
    def snd_nxt(self) -> int:
        return self.snd.nxt

    @snd_nxt.setter
    def snd_nxt(self, value: int) -> None:
        self.snd.nxt = value

    @property
    def snd_max(self) -> int:
        return self.snd.max

    @snd_max.setter
    def snd_max(self, value: int) -> None:
        self.snd.max = value

    @property
    def snd_wnd(self) -> int:
        return self.snd.wnd

    @property
    def irs(self) -> int:
        return self.rcv.irs

    @property
    def rcv_nxt(self) -> int:
        return self.rcv.nxt

    @property
    def rcvbuf(self) -> int:
        return self.recvq.size

    @rcvbuf.setter
    def rcvbuf(self, value: int) -> None:
        self.recvq.size = value

    @property
    def sndbuf(self) -> int:
        return self.sendq.size

    @sndbuf.setter
    def sndbuf(self, value: int) -> None:
        self.sendq.size = value

    @property
    def send_buf(self) -> bytearray:
        """Bytes written and not yet acknowledged."""
        return self.sendq.data

    @property
    def recv_buf(self) -> bytearray:
        """Bytes received in order and not yet read."""
        return self.recvq.data

    @property
    def fin_seq(self) -> int | None:
        """The sequence number of our FIN once sent."""
        return self.sendq.fin_seq

    @property
    def smss(self) -> int:
        """Sender MSS: the peer's MSS option capped by ours, less the timestamp option."""
        return self.opts.smss

    @property
    def ts_ok(self) -> bool:
        return self.opts.ts_ok

    @property
    def ts_recent(self) -> int:
        return self.opts.ts_recent

    @property
    def ts_recent_time(self) -> float:
        return self.opts.ts_recent_time

    @property
    def sack_ok(self) -> bool:
        return self.opts.sack_ok

    @property
    def ws_ok(self) -> bool:
        return self.opts.ws_ok

    @property
    def snd_wscale(self) -> int:
        return self.opts.snd_wscale

    @property
    def rcv_wscale(self) -> int:
        return self.opts.rcv_wscale

    @property
    def retransmits(self) -> int:
        """Retransmissions of the current SYN, SYN-ACK or oldest unacknowledged data."""
        return self.rexmit.retransmits

    @retransmits.setter
    def retransmits(self, value: int) -> None:
        self.rexmit.retransmits = value

    @property
    def timers(self) -> dict[str, float]:
        """Running timers: name -> deadline."""
        return self.timer.deadlines

    @property
    def keepidle(self) -> float:
        """TCP_KEEPIDLE in seconds."""
        return self.keep.idle

    @keepidle.setter
    def keepidle(self, value: float) -> None:
        self.keep.idle = value

    @property
    def keepintvl(self) -> float:
        """TCP_KEEPINTVL in seconds."""
        return self.keep.intvl

    @keepintvl.setter
    def keepintvl(self, value: float) -> None:
        self.keep.intvl = value

    @property
    def keepcnt(self) -> int:
        """TCP_KEEPCNT."""
        return self.keep.cnt

    @keepcnt.setter
    def keepcnt(self, value: int) -> None:
        self.keep.cnt = value

    @property
    def user_timeout(self) -> float:
        """TCP_USER_TIMEOUT in seconds (0: off)."""
        return self.clocks.user_timeout

    @user_timeout.setter
    def user_timeout(self, value: float) -> None:
        self.clocks.user_timeout = value

    # ------------------------------------------------------------------ tracing
    def _emit(self, event: TraceRecord) -> None:
        if self.tracer is not None:
            self.tracer(event)

    def _transition(self, now: float, event: Event, condition: str = "") -> None:
        row = lookup(self.state, event, condition)
        src = self.state
        dst = row.dst
        self.state = dst
        self.transitions.append((src, event, condition))
        self._emit(StateChanged(time=now, host=self.host, conn=self.conn_id, row=row))
        if dst is State.TIME_WAIT and src is not State.TIME_WAIT:
            self.tw_buckets.used += 1
            self.time_wait_since = now  # Linux tw_entry_stamp (tcp_time_wait())
        elif src is State.TIME_WAIT and dst is not State.TIME_WAIT:
            self.tw_buckets.used -= 1
        if dst is State.CLOSED:
            self.timer.cancel_all(now)
        elif dst is State.ESTABLISHED and not self.ever_connected:
            self.ever_connected = True
            self._emit(Note(time=now, host=self.host, conn=self.conn_id, text=self._negotiated_note()))
        self._count_transition(now, src, event, dst, condition)

    def _count_transition(self, now: float, src: State, event: Event, dst: State, condition: str) -> None:
        """The MIB counters a state change moves (Linux names, as ``nstat`` shows them).

        ``EstabResets``: ESTABLISHED or CLOSE_WAIT straight to CLOSED (``tcp_set_state()``).
        ``AttemptFails``: a connection attempt dies by RST or timeout (``tcp_done()`` in
        SYN_SENT/SYN_RECV), or a request is reset (``tcp_check_req()``: RST or SYN).
        ``EmbryonicRsts``: a request (SYN_RECEIVED child of a listener) is reset
        (``tcp_check_req()`` ``embryonic_reset``, also on accept-queue overflow with
        ``tcp_abort_on_overflow``).
        """
        if dst is State.CLOSED:
            if src in _ESTABLISHED_STATES:
                self._count(now, "EstabResets")
            elif src in _OPENING_STATES and not self.passive and event in _ATTEMPT_FAILURES:
                self._count(now, "AttemptFails")
        if src is State.SYN_RECEIVED and self.passive:
            if event is Event.RCV_RST:
                self._count(now, "AttemptFails")
                self._count(now, "EmbryonicRsts")
            elif condition == ACCEPT_OVERFLOW:
                self._count(now, "EmbryonicRsts")

    def _count(self, now: float, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1
        self._emit(CounterChanged(time=now, host=self.host, conn=self.conn_id, name=name, value=self.counters[name]))

    def _fail(self, now: float, event: Event, err: str | None) -> None:
        if err is not None:
            self.error = err
        self._transition(now, event)

    def _drop(self, now: float, seg: Segment, reason: str) -> None:
        self._emit(
            SegmentDropped(
                time=now, host=self.host, conn=self.conn_id, segment=seg, reason=reason, seq_base=self.seq_base
            )
        )

    # kept for the listener, which answers for its children
    def _send_rst_for(self, now: float, seg: Segment) -> None:
        self.sender.send_rst_for(now, seg)

    # ------------------------------------------------------------------ timers
    def next_deadline(self) -> float | None:
        """When the earliest timer is due, or ``None``.

        >>> from tcpkit.engine.profiles import get_profile
        >>> c = Connection(get_profile("linux").params, local=("a", 1), remote=("b", 2), iss=0)
        >>> c.open_active(5.0); c.next_deadline()
        6.0
        """
        deadlines = self.timer.deadlines
        return min(deadlines.values()) if deadlines else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at or before ``now`` (RFC 9293 §3.10.8).

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> a.send(1.0, b"lost"); _ = a.take_outgoing()     # the segment is lost
        4
        >>> a.handle_timer(a.next_deadline()); a.take_outgoing()[0].notation(relative_to=a.seq_base)
        'P. 1:5(4) ack 1 win 65535'
        """
        for _ in range(64):
            due = self.timer.pop_due(now)
            if due is None:
                return
            deadline, name = due
            self._emit(TimerFired(time=now, host=self.host, conn=self.conn_id, timer=name, deadline=deadline))
            owner = self.sender if name in _SENDER_TIMERS else self
            getattr(owner, "on_" + name)(now)

    def on_time_wait(self, now: float) -> None:
        """The 2MSL timer (RFC 9293 §3.10.8): TIME_WAIT ends."""
        self._transition(now, Event.TIMEOUT_2MSL)

    def on_fin_wait_2(self, now: float) -> None:
        """An orphaned FIN_WAIT_2 gives up (Linux tcp_fin_timeout)."""
        if self.state is State.FIN_WAIT_2:
            self._transition(now, Event.TIMEOUT_FIN_WAIT_2, "orphaned")

    def _arm_fin_wait_2(self, now: float) -> None:
        if self.orphan and self.state is State.FIN_WAIT_2 and "fin_wait_2" not in self.timer:
            self.timer.set(now, "fin_wait_2", now + self.params.fin_timeout)

    def _to_time_wait(self, now: float, event: Event, *, ack: bool = False) -> None:
        """Take the row into TIME_WAIT (with the ACK of the peer's FIN when ``ack``) -- or, when
        the host already holds ``tcp_max_tw_buckets`` TIME_WAIT sockets, the row that closes at
        once (Linux ``tcp_time_wait()`` when ``inet_twsk_alloc()`` fails: ``TCPTimeWaitOverflow``,
        ``tcp_done()``; ``tcp_fin()`` has sent the ACK already)."""
        limit = self.params.max_tw_buckets
        if limit is not None and self.tw_buckets.used >= limit:
            if ack:
                self.sender.send_ack(now)
            self._transition(now, event, TW_OVERFLOW)
            self._count(now, "TCPTimeWaitOverflow")
            return
        self._transition(now, event)
        if ack:
            self.sender.send_ack(now)
        self._enter_time_wait(now)

    def _enter_time_wait(self, now: float) -> None:
        for name in ("rexmt", "fin_wait_2", "keepalive", "delack"):
            self.timer.cancel(now, name)
        if self.params.time_wait <= 0:
            # teaching knob: TIME_WAIT switched off -> leave it at once
            self._transition(now, Event.TIMEOUT_2MSL)
            return
        self.timer.forget("time_wait")
        self.timer.set(now, "time_wait", now + self.params.time_wait)

    # ------------------------------------------------------------------ segments out
    def take_outgoing(self) -> list[Segment]:
        """Segments queued for sending since the last call.

        >>> a, b = handshake_pair(0.0)
        >>> a.close(1.0); [s.notation(relative_to=a.seq_base) for s in a.take_outgoing()]
        ['F. 1:1(0) ack 1 win 65535']
        >>> a.take_outgoing()
        []
        """
        out, self.outbox = self.outbox, []
        return out

    def rcv_space(self) -> int:
        """Free receive-buffer space: RCV.WND (RFC 9293 §3.3.1)."""
        return self.recvq.size - len(self.recvq.data)

    def flight_size(self) -> int:
        """Bytes (and SYN/FIN) sent and not yet acknowledged: SND.NXT - SND.UNA."""
        return self.sender.flight_size()

    # ------------------------------------------------------------------ user calls
    def open_active(self, now: float) -> None:
        """OPEN, active (RFC 9293 §3.10.1): send a SYN and enter SYN_SENT."""
        if self.state is not State.CLOSED:
            raise TcpError(
                "EISCONN" if self.state in SYNCHRONIZED else "EALREADY", f"connect in state {self.state.value}"
            )
        self.clocks.open_time = now
        self._transition(now, Event.ACTIVE_OPEN)
        self.snd.nxt = self.snd.max = seq_add(self.snd.iss, 1)
        self.sender.send_syn(now)
        self.rexmit.retransmits = 0
        self.timer.set(now, "rexmt", now + syn_timeout(self.params, 0))
        self.rexmit.rtt_seq, self.rexmit.rtt_time = self.snd.iss, now

    def accept_syn(self, now: float, seg: Segment, *, reply: bool = True, cookie: bool = False) -> None:
        """A listener's child takes the peer's SYN: LISTEN -> SYN_RECEIVED, send SYN-ACK.

        RFC 9293 §3.10.7.2 (LISTEN, third check).  The connection must have been
        made with ``passive=True`` (it starts in LISTEN, a copy of its listener).
        ``cookie=True``: the SYN-ACK is a SYN cookie (its timestamp carries the peer's
        window scale and SACK); ``reply=False`` rebuilds a request from a SYN cookie's
        ACK without sending anything.
        """
        if self.state is not State.LISTEN:
            raise TcpError("EINVAL", f"accept_syn needs a passive connection in LISTEN, not {self.state.value}")
        self.clocks.open_time = now
        self.syn_cookie = cookie or not reply
        self._take_syn(now, seg)
        self._transition(now, Event.RCV_SYN)
        self.snd.nxt = self.snd.max = seq_add(self.snd.iss, 1)
        self.rexmit.retransmits = 0
        self.clocks.last_recv_time = now
        if not reply:
            self._emit(Note(time=now, host=self.host, conn=self.conn_id, text=self._cookie_note(seg)))
        if reply:
            self.sender.send_synack(now, seg)
            self.timer.set(now, "rexmt", now + synack_timeout(self.params, 0))
            self.rexmit.rtt_seq, self.rexmit.rtt_time = self.snd.iss, now

    def _cookie_note(self, syn: Segment) -> str:
        """What a connection rebuilt from a SYN cookie kept of the client's SYN options, in words."""
        kept = [f"MSS {syn.mss} (one of the cookie's four values: 536, 1300, 1440, 1460)"]
        if syn.timestamp is not None:
            kept.append(
                "window scale "
                + (f"{syn.wscale}" if syn.wscale is not None else "none")
                + (", SACK" if syn.sack_permitted else "")
                + " and timestamps (the window scale and SACK rode in the SYN-ACK's TSval)"
            )
            lost = ""
        else:
            lost = "; lost: window scale and SACK (no timestamps to carry them)"
        return "request rebuilt from a SYN cookie: kept " + ", ".join(kept) + lost

    def _negotiated_note(self) -> str:
        """The handshake's outcome, in words: what each option negotiated (RFC 9293 §3.7.1, RFC 7323, RFC 2018)."""
        o = self.opts
        ws = f"window scale: we shift by {o.rcv_wscale}, the peer by {o.snd_wscale}" if o.ws_ok else "no window scale"
        return (
            f"negotiated: MSS ours {o.our_mss}, peer's {o.peer_mss} -> segments of {o.smss} bytes"
            f"{' (12 for timestamps)' if o.ts_ok else ''}; {ws}; "
            f"SACK {'on' if o.sack_ok else 'off'}; timestamps {'on' if o.ts_ok else 'off'}"
        )

    def _take_syn(self, now: float, seg: Segment) -> None:
        """Record the peer's SYN: IRS, RCV.NXT and the options it offers (RFC 9293 §3.10.7.2-3; RFC 7323)."""
        p = self.params
        opts = self.opts
        self.peer_syn = seg
        self.rcv.irs = seg.seq
        self.rcv.nxt = seq_add(seg.seq, 1)
        if seg.mss is not None:
            opts.peer_mss = seg.mss
        opts.sack_ok = p.sack and seg.sack_permitted
        opts.ts_ok = p.timestamps and seg.timestamp is not None
        if opts.ts_ok and seg.timestamp is not None:
            opts.ts_recent = seg.timestamp[0]
            opts.ts_recent_time = now
        opts.ws_ok = p.window_scaling and seg.wscale is not None
        if opts.ws_ok and seg.wscale is not None:
            opts.snd_wscale = min(seg.wscale, 14)
            opts.rcv_wscale = self.sender.our_wscale()
        else:
            opts.snd_wscale = opts.rcv_wscale = 0
        if p.rules.round_buffers_to_mss:
            # FreeBSD tcp_mss_update() rounds the socket buffers up to a multiple of the MSS
            smss = opts.smss
            self.recvq.size = -(-self.recvq.size // smss) * smss
            self.sendq.size = -(-self.sendq.size // smss) * smss
        self.cc.cwnd = p.initial_cwnd * opts.smss  # RFC 6928 initial window, in segments of the agreed MSS
        self.snd.wnd = seg.window or 0
        self.snd.wl1 = seg.seq
        self.snd.max_wnd = self.snd.wnd

    def send(self, now: float, data: bytes | int) -> int:
        """SEND (RFC 9293 §3.10.2): queue bytes (or a byte count); returns how many were taken.

        Raises
        ------
        TcpError
            ``EAGAIN`` (handshake not done or buffer full), ``EPIPE`` (we already sent
            FIN / shut down writing), ``ENOTCONN``, or the pending error (``ECONNRESET``,
            ``ETIMEDOUT``, ...).

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> a.send(1.0, b"hello")
        5
        >>> b.segment_arrives(1.1, a.take_outgoing()[0]); b.recv(1.1, 100)
        b'hello'
        """
        if isinstance(data, bool) or not isinstance(data, int | bytes | bytearray | memoryview):
            raise ParameterError("send data", data, "bytes or a byte count >= 0")
        if isinstance(data, int):
            if data < 0:
                raise ParameterError("send size", data, "a byte count >= 0 or bytes")
            data = bytes(data)
        data = bytes(data)
        if self.error is not None and self.state is State.CLOSED:
            raise TcpError(self.take_error() or "EPIPE", "send after the connection failed")
        if self.sendq.fin_queued:
            raise TcpError("EPIPE", "send after shutdown(SHUT_WR) or close")
        if self.state is State.CLOSED:
            if self.ever_connected:
                raise TcpError("EPIPE", "send on a closed connection")
            raise TcpError("ENOTCONN", "send on a connection that was never opened")
        if self.state in (State.SYN_SENT, State.SYN_RECEIVED, State.LISTEN):
            raise TcpError("EAGAIN", f"the handshake is not finished ({self.state.value})")
        if self.state not in (State.ESTABLISHED, State.CLOSE_WAIT):
            raise TcpError("EPIPE", f"send in state {self.state.value}")
        room = self.sendq.size - len(self.sendq.data)
        if room <= 0 and data:
            raise TcpError("EAGAIN", f"send buffer full ({self.sendq.size} bytes)")
        take = data[:room]
        self.sendq.data += take
        self.sender.output(now)
        return len(take)

    def recv(self, now: float, n: int) -> bytes:
        """RECEIVE (RFC 9293 §3.10.3): up to ``n`` bytes; ``b""`` at end of stream.

        Raises
        ------
        TcpError
            ``EAGAIN`` when nothing is there yet, ``ENOTCONN``, or the pending error.

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> b.recv(1.0, 10)
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.TcpError: EAGAIN (Resource temporarily unavailable): no data yet (ESTABLISHED)
        >>> a.close(1.0); b.segment_arrives(1.1, a.take_outgoing()[0]); b.recv(1.1, 10)
        b''
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ParameterError("recv size", n, "a byte count >= 0")
        recvq = self.recvq
        if recvq.data:
            before = self.sender.adv_window()
            out = bytes(recvq.data[:n])
            del recvq.data[:n]
            after = self.sender.adv_window()
            # window update when the window opened by at least 2 MSS (RFC 9293 §3.8.6.2.2 receiver SWS rule)
            wscale = self.opts.rcv_wscale
            if (
                self.state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2)
                and (after - before) << wscale >= 2 * self.opts.smss
                and before << wscale < recvq.size // 2
            ):
                self.sender.send_ack(now)
            return out
        if recvq.fin_rcvd or recvq.rd_shut:
            return b""
        if self.error is not None:
            raise TcpError(self.take_error() or "ECONNRESET", "receive after the connection failed")
        if self.state is State.CLOSED:
            if self.ever_connected:
                return b""
            raise TcpError("ENOTCONN", "receive on a connection that is not open")
        raise TcpError("EAGAIN", f"no data yet ({self.state.value})")

    def take_error(self) -> str | None:
        """Read and clear the pending socket error (``SO_ERROR``).

        >>> a, b = handshake_pair(0.0)
        >>> a.abort(1.0); b.segment_arrives(1.1, a.take_outgoing()[0])
        >>> b.take_error(), b.take_error()
        ('ECONNRESET', None)
        """
        err, self.error = self.error, None
        return err

    def close(self, now: float, *, linger_zero: bool = False) -> None:
        """CLOSE (RFC 9293 §3.10.4); ``linger_zero`` (SO_LINGER on, 0 s) aborts instead.

        Closing with unread received data resets the connection (RFC 2525 §2.17,
        Linux ``__tcp_close``).

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> a.close(1.0); a.state
        <State.FIN_WAIT_1: 'FIN_WAIT_1'>
        >>> b.segment_arrives(1.1, a.take_outgoing()[0]); b.state
        <State.CLOSE_WAIT: 'CLOSE_WAIT'>
        """
        self.orphan = True
        st = self.state
        if linger_zero and st is not State.CLOSED:
            self.abort(now)
            return
        unread = self.recvq.data and (
            st in (State.ESTABLISHED, State.CLOSE_WAIT)
            or (st in (State.FIN_WAIT_1, State.FIN_WAIT_2) and self.params.rules.reset_unread_after_shutdown)
        )
        if unread:
            # after shutdown(SHUT_WR) too, Linux __tcp_close() resets when data was left unread
            self.recvq.data.clear()
            self.sendq.data.clear()
            self.sender.send_rst_ack(now)
            self._transition(now, Event.CLOSE, UNREAD_DATA)
            self._count(now, "TCPAbortOnClose")
            return
        self._close_write(now)
        if self.state is State.FIN_WAIT_2:
            self._arm_fin_wait_2(now)

    def shutdown(self, now: float, how: str) -> None:
        """shutdown(2): ``SHUT_RD``, ``SHUT_WR`` or ``SHUT_RDWR``.

        SHUT_WR sends our FIN after the queued data (a half-close, 半关闭); SHUT_RD makes
        further reads return end-of-file once the buffer is empty (Linux keeps
        accepting and acknowledging data, net/ipv4/tcp.c ``tcp_shutdown``).

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> a.shutdown(1.0, "SHUT_WR"); a.send(1.0, b"more")
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.TcpError: EPIPE (Broken pipe): send after shutdown(SHUT_WR) or close
        """
        if how not in _SHUT:
            raise ParameterError("how", how, "SHUT_RD, SHUT_WR or SHUT_RDWR")
        if self.state in (State.CLOSED, State.LISTEN) or (self.state is State.SYN_SENT and how == SHUT_RD):
            raise TcpError("ENOTCONN", f"shutdown in state {self.state.value}")
        if how in (SHUT_RD, SHUT_RDWR):
            self.recvq.rd_shut = True
        if how in (SHUT_WR, SHUT_RDWR):
            self._close_write(now)

    def _close_write(self, now: float) -> None:
        st = self.state
        if st is State.SYN_SENT:
            self._transition(now, Event.CLOSE)
        elif st in (State.SYN_RECEIVED, State.ESTABLISHED, State.CLOSE_WAIT) and not self.sendq.fin_queued:
            self.sendq.fin_queued = True
            self._transition(now, Event.CLOSE)
            self.sender.output(now)
        elif st is State.LISTEN:
            self._transition(now, Event.CLOSE)

    def abort(self, now: float) -> None:
        """ABORT (RFC 9293 §3.10.5): RST in the states the table says, then CLOSED.

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> a.abort(1.0); a.state, a.take_outgoing()[0].notation(relative_to=a.seq_base)
        (<State.CLOSED: 'CLOSED'>, 'R. 1:1(0) ack 1 win 0')
        """
        if self.state is State.CLOSED:
            return
        row = lookup(self.state, Event.ABORT)
        if row.send == "RST":
            self.sender.send_rst_ack(now)
        self.sendq.data.clear()
        self.recvq.data.clear()
        self._transition(now, Event.ABORT)

    def set_keepidle(self, now: float, seconds: float) -> None:
        """TCP_KEEPIDLE on a connection: a running keepalive timer follows the new idle time at once.

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> a.set_keepalive(1.0, True); a.timers["keepalive"]
        7201.0
        >>> a.set_keepidle(10.0, 30.0); a.timers["keepalive"]  # 30 s after the last arrival, at 0.02 s
        30.02
        >>> a.set_keepidle(100.0, 30.0); a.timers["keepalive"]  # idle for longer already: probe now
        100.0
        """
        self.sender.set_keepidle(now, seconds)

    def set_keepalive(self, now: float, on: bool) -> None:
        """SO_KEEPALIVE: start or stop the keepalive timer.

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> a.keepidle = 30.0; a.set_keepalive(1.0, True); a.next_deadline()
        31.0
        """
        self.sender.set_keepalive(now, on)

    def status(self) -> dict[str, Any]:
        """STATUS (RFC 9293 §3.10.6): the TCB in a dict (also the base of TCP_INFO).

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> st = a.status(); st["state"], st["tcpi_state"], st["snd_nxt"] - st["iss"]
        (<State.ESTABLISHED: 'ESTABLISHED'>, 1, 1)
        """
        opts = self.opts
        return {
            "state": self.state,
            "tcpi_state": self.state.linux_code,
            "local": self.local,
            "remote": self.remote,
            "iss": self.snd.iss,
            "irs": self.rcv.irs,
            "snd_una": self.snd.una,
            "snd_nxt": self.snd.nxt,
            "snd_wnd": self.snd.wnd,
            "rcv_nxt": self.rcv.nxt,
            "rcv_wnd": self.rcv_space(),
            "tcpi_snd_mss": opts.smss,
            "tcpi_rto": self.rtt.rto,
            "tcpi_rtt": self.rtt.srtt,
            "tcpi_snd_cwnd": self.cc.cwnd // max(1, opts.smss),
            "tcpi_retransmits": self.rexmit.retransmits,
            "tcpi_unacked": len(self.sendq.data),
            "queued_recv": len(self.recvq.data),
            "options": {
                "sack": opts.sack_ok,
                "timestamps": opts.ts_ok,
                "wscale": (opts.snd_wscale, opts.rcv_wscale) if opts.ws_ok else None,
            },
        }

    def poll(self) -> frozenset[str]:
        """Readiness like poll(2): a subset of ``in``, ``out``, ``err``, ``hup``, ``rdhup``.

        Follows Linux ``tcp_poll()`` (net/ipv4/tcp.c): nothing while SYN_SENT; ``out`` once
        connected with room in the send buffer; ``in`` with data, after the peer's FIN or
        SHUT_RD; ``err`` with a pending error; ``hup`` when both directions are closed.

        Examples
        --------
        >>> a, b = handshake_pair(0.0)
        >>> sorted(a.poll()), sorted(b.poll())
        (['out'], ['out'])
        """
        ev: set[str] = set()
        recvq = self.recvq
        if recvq.data or recvq.fin_rcvd or recvq.rd_shut or self.error is not None:
            ev.add("in")
        if (
            self.state in (State.ESTABLISHED, State.CLOSE_WAIT)
            and not self.sendq.fin_queued
            and len(self.sendq.data) < self.sendq.size
        ):
            ev.add("out")
        if self.error is not None:
            ev.add("err")
        if self.state is State.CLOSED:
            # Linux tcp_poll(): a closed socket is hung up; one that was opened has both
            # directions shut down (tcp_done), so it also reads as readable and writable
            ev |= {"hup", "out"}
            if self.transitions:
                ev |= {"in", "rdhup"}
        if recvq.fin_rcvd and self.sendq.fin_queued:
            ev.add("hup")
        if recvq.fin_rcvd or recvq.rd_shut:
            ev.add("rdhup")
        return frozenset(ev)

    # ------------------------------------------------------------------ SEGMENT ARRIVES (RFC 9293 §3.10.7)
    def segment_arrives(self, now: float, seg: Segment) -> None:
        """SEGMENT ARRIVES (RFC 9293 §3.10.7.3-3.10.7.4), for a TCB not in LISTEN.

        Examples
        --------
        A blind RST with a sequence number inside the window but not exactly RCV.NXT
        earns a challenge ACK (RFC 5961 §3.2) instead of a reset:

        >>> a, b = handshake_pair(0.0)
        >>> rst = Segment(src_port=80, dst_port=40000, seq=(a.rcv_nxt + 100) % 2**32, flags=Flags.RST)
        >>> a.segment_arrives(1.0, rst); a.state, a.take_outgoing()[0].flags
        (<State.ESTABLISHED: 'ESTABLISHED'>, <Flags.ACK: 16>)
        """
        st = self.state
        if st is State.CLOSED:
            # §3.10.7.1: everything but an RST is answered with an RST
            self.sender.send_rst_for(now, seg)
            return
        if st is State.SYN_SENT:
            self._syn_sent(now, seg)
            return
        if st is State.TIME_WAIT:
            self._time_wait(now, seg)
            return
        if st is State.LISTEN:  # pragma: no cover - listeners live in tcpkit.engine.listener
            return
        self._otherwise(now, seg)

    # -- SYN-SENT (RFC 9293 §3.10.7.3)
    def _syn_sent(self, now: float, seg: Segment) -> None:
        """§3.10.7.3: first the ACK bit, second RST, third security, fourth SYN, fifth neither."""
        # first: an ACK that does not acknowledge our SYN gets an RST (unless it is one)
        if seg.has_ack and (seq_le(seg.ack, self.snd.iss) or seq_gt(seg.ack, self.snd.max)):
            if not seg.rst:
                self.sender.send_rst_for(now, seg)
            self._drop(now, seg, "unacceptable ACK in SYN_SENT")
            return
        # second: RST with an acceptable ACK refuses the connection; without an ACK it is dropped
        if seg.rst:
            if seg.has_ack:
                self._fail(now, Event.RCV_RST, "ECONNREFUSED")
            else:
                self._drop(now, seg, "RST without ACK in SYN_SENT")
            return
        # third: security (no compartments are modelled)
        # fifth (checked first here): neither SYN nor RST
        if not seg.syn:
            self._drop(now, seg, "neither SYN nor RST in SYN_SENT")
            return
        # fourth: SYN
        self._take_syn(now, seg)
        if seg.has_ack:
            self.sender.ack_advance(now, seg.ack)
        if seq_gt(self.snd.una, self.snd.iss):
            # our SYN is acknowledged: ESTABLISHED, ACK it
            self._transition(now, Event.RCV_SYN_ACK)
            self.snd.wl1, self.snd.wl2 = seg.seq, seg.ack
            self.snd.wnd = seg.window or 0  # window in a SYN is never scaled (RFC 7323 §2.2)
            self.timer.cancel(now, "rexmt")
            self.rexmit.retransmits = 0
            self.clocks.last_recv_time = now
            self.sender.arm_keepalive(now)
            if seg.length or seg.fin:
                self._text_and_fin(now, seg, syn_offset=1)
            self.sender.send_ack(now)
            self.sender.output(now)
        else:
            # simultaneous open (RFC 9293 §3.5 Figure 7): SYN_RECEIVED, send SYN-ACK
            self._transition(now, Event.RCV_SYN)
            if seg.length and self.params.rules.queue_syn_data:
                self.recvq.syn_data = bytes(seg.payload or bytes(seg.length))
            self.rexmit.retransmits = 0
            self.sender.send_synack(now, seg)
            self.timer.cancel(now, "rexmt")
            self.timer.set(now, "rexmt", now + synack_timeout(self.params, 0))

    # -- TIME-WAIT (RFC 9293 §3.10.7.4; Linux tcp_timewait_state_process, FreeBSD tcp_twcheck)
    def _time_wait(self, now: float, seg: Segment) -> None:
        p = self.params
        if seg.rst:
            if p.rfc1337:
                self._drop(now, seg, "RST ignored in TIME_WAIT (RFC 1337)")
            elif seq_in_window(seg.seq, self.rcv.nxt, max(1, self.rcv_space())):
                self._transition(now, Event.RCV_RST, "rfc1337 off")
            else:
                self._drop(now, seg, "RST outside the window")
            return
        if seg.syn:
            if p.rules.drop_syn_in_time_wait:
                self._drop(now, seg, "SYN in TIME_WAIT that cannot open a new incarnation")
                return
            if not p.syn_challenge_ack:
                self.sender.send_rst_ack(now)
                self._transition(now, Event.RCV_SYN, "RFC 793 SYN handling")
                return
            self.sender.send_ack(now)
            return
        if not seg.has_ack:
            self._drop(now, seg, "no ACK in TIME_WAIT")
            return
        if seg.fin and seq_add(seg.seq, seg.length + 1) == self.rcv.nxt:
            self._transition(now, Event.RCV_FIN)
            self.sender.send_ack(now)
            self._enter_time_wait(now)
            return
        if seg.flags & ~Flags.PSH != Flags.ACK or seg.length or seg.seq != self.rcv.nxt or seg.ack != self.snd.nxt:
            self.sender.send_ack(now)
            return
        self._drop(now, seg, "duplicate ACK in TIME_WAIT")

    # -- SYN-RECEIVED and the synchronized states (RFC 9293 §3.10.7.4 "Otherwise")
    def _otherwise(self, now: float, seg: Segment) -> None:
        """§3.10.7.4: PAWS, then the eight checks in the RFC's order."""
        peer_synack = self._simultaneous_open_synack(seg)
        if peer_synack is not seg:
            self._otherwise(now, peer_synack)
            if self.state in SYNCHRONIZED:
                # its SYN is an old sequence number, which is acknowledged at once (". 1:1(0) ack 1"):
                # Linux tcp_data_queue() (out_of_window: quick ACK), FreeBSD tcp_do_segment()
                # (todrop: TF_ACKNOW), RFC 9293 §3.10.7.4 first check (unacceptable -> ACK)
                self.sender.send_ack(now)
            return
        if self._paws(now, seg):
            return
        checked = self._first_check_sequence_number(now, seg)
        if checked is None:
            return
        seg, ack_after = checked
        self._update_ts_recent(now, seg)
        if seg.rst:
            self._second_check_rst(now, seg)
            return
        # third: security and compartment -- nothing to check (no compartments are modelled)
        if seg.syn:
            self._fourth_check_syn(now, seg)
            return
        fin_acked = self._fifth_check_ack(now, seg)
        if fin_acked is not None:
            # sixth: URG -- not modelled (RFC 6093 asks new applications not to use urgent data)
            if seg.length or seg.fin:
                self._text_and_fin(now, seg, fin_acked_now=fin_acked)  # seventh and eighth
            self.sender.output(now)
        if ack_after and self.state in SYNCHRONIZED and self.state is not State.TIME_WAIT:
            self.sender.send_ack(now)

    def _simultaneous_open_synack(self, seg: Segment) -> Segment:
        """In SYN_RECEIVED after a simultaneous open, the peer's SYN-ACK acknowledging our SYN
        is its handshake ACK: its SYN is old news (Linux ``tcp_validate_incoming`` lets exactly
        this segment pass, RFC 9293 §3.5 Figure 8 line 7)."""
        if (
            self.state is State.SYN_RECEIVED
            and not self.passive
            and seg.syn
            and seg.has_ack
            and not seg.rst
            and seq_add(seg.seq, 1) == self.rcv.nxt
            and seg.ack == self.snd.max
        ):
            return seg.replace(flags=seg.flags & ~Flags.SYN, seq=self.rcv.nxt, payload=b"", length=0)
        return seg

    def _paws(self, now: float, seg: Segment) -> bool:
        """RFC 7323 §5.3 R1, before the sequence-number check (Linux ``tcp_validate_incoming``).

        Returns True when the segment was rejected (and dropped, with an ACK where the OS sends one).
        """
        if seg.rst or seg.syn or not self._paws_reject(now, seg):
            return False
        self._count(now, "PAWSEstab")
        self._drop(now, seg, "PAWS: SEG.TSval is older than TS.Recent (RFC 7323 §5.3 R1)")
        if self.params.rules.paws_ack_for_bare_ack or seg.length:
            self.sender.send_oow_ack(now)  # FreeBSD drops a bare ACK silently, data gets an ACK
        return True

    def _first_check_sequence_number(self, now: float, seg: Segment) -> tuple[Segment, bool] | None:
        """§3.10.7.4 first check: is the segment acceptable (Table 5)?

        Returns ``(segment, ack_after)`` to go on with (``ack_after``: a zero-window or
        old-duplicate ACK that is processed and then answered with an ACK), or ``None``
        when the segment was dealt with here.
        """
        st = self.state
        if self._acceptable(seg):
            return seg, False
        if seg.rst:
            self._drop(now, seg, "RST outside the window")
            return None
        if st is State.SYN_RECEIVED and seg.syn and seg.seq == self.rcv.irs:
            # a retransmitted SYN: answer with the SYN-ACK again (Linux tcp_check_req ->
            # inet_rtx_syn_ack -> tcp_rtx_synack, which counts TCPSynRetrans)
            self.sender.send_synack(now)
            self._count(now, "TCPSynRetrans")
            return None
        zero_window_edge = seg.seq == self.rcv.nxt and self._recv_window() == 0
        old_duplicate = self.params.rules.ack_of_old_duplicate and seq_le(seg.end_seq, self.rcv.nxt)
        if seg.has_ack and not seg.syn and (zero_window_edge or old_duplicate):
            # RFC 9293 §3.10.7.4: with a zero window, valid ACKs (and RSTs) must still be
            # accepted; FreeBSD tcp_input (Stevens vol. 2 p. 960) likewise keeps the ACK of
            # an old duplicate.  Data and FIN are dropped, an ACK goes back.
            trimmed = seg.replace(seq=self.rcv.nxt, payload=b"", length=0, flags=seg.flags & ~(Flags.FIN | Flags.PSH))
            return trimmed, True
        self._drop(now, seg, "not acceptable (RFC 9293 Table 5)")
        self.sender.send_oow_ack(now)
        return None

    def _update_ts_recent(self, now: float, seg: Segment) -> None:
        """RFC 7323 §4.3 (2): SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent.

        An invalid TS.Recent (zero or 24 days old) is simply replaced (Linux ``tcp_paws_check``).
        """
        opts = self.opts
        if (
            opts.ts_ok
            and seg.timestamp is not None
            and seq_le(seg.seq, self.rcv.nxt)
            and (
                seq_ge(seg.timestamp[0], opts.ts_recent)
                or opts.ts_recent == 0
                or now - opts.ts_recent_time >= PAWS_IDLE
            )
        ):
            opts.ts_recent = seg.timestamp[0]
            opts.ts_recent_time = now

    def _second_check_rst(self, now: float, seg: Segment) -> None:
        """§3.10.7.4 second check: RST (with RFC 5961 §3.2's exact-match rule)."""
        st = self.state
        if self.params.rst_exact_match and seg.seq != self.rcv.nxt:
            self._drop(now, seg, "in-window RST that is not an exact match: challenge ACK (RFC 5961 §3.2)")
            self.sender.send_oow_ack(now)
            return
        if st is State.SYN_RECEIVED:
            if self.passive:
                self._transition(now, Event.RCV_RST, "passive open")
                self.timer.cancel_all(now)
            else:
                self.error = "ECONNREFUSED"
                self._transition(now, Event.RCV_RST, "active open")
            return
        self._fail(now, Event.RCV_RST, "ECONNRESET")
        self.sendq.data.clear()

    def _fourth_check_syn(self, now: float, seg: Segment) -> None:
        """§3.10.7.4 fourth check: SYN (RFC 5961 §4: a challenge ACK instead of a reset)."""
        st = self.state
        if st is State.SYN_RECEIVED:
            if seg.seq == self.rcv.irs:
                self.sender.send_synack(now)
                self._count(now, "TCPSynRetrans")
            else:
                self.sender.send_ack(now)
            return
        if self.params.syn_challenge_ack:
            self._drop(now, seg, "SYN in a synchronized state: challenge ACK (RFC 5961 §4)")
            self.sender.send_oow_ack(now)
            return
        self.sender.send_rst_ack(now)
        self.error = "ECONNRESET"
        self._transition(now, Event.RCV_SYN, "RFC 793 SYN handling")

    def _fifth_check_ack(self, now: float, seg: Segment) -> bool | None:
        """§3.10.7.4 fifth check: the ACK field.

        Returns whether this ACK acknowledged our FIN just now, or ``None`` when the
        segment needs no further processing.
        """
        st = self.state
        p = self.params
        snd = self.snd
        if not seg.has_ack:
            self._drop(now, seg, "no ACK bit")
            return None
        if st is State.SYN_RECEIVED:
            if seq_lt(snd.una, seg.ack) and seq_le(seg.ack, snd.max):
                # a bare FIN riding on the handshake's ACK takes the SYN_RECEIVED -> CLOSE_WAIT
                # row in one step (RFC 9293 §3.10.7.4, eighth check, SYN-RECEIVED)
                fin_with_ack = seg.fin and not seg.length and seg.seq == self.rcv.nxt
                self._established_from_syn_rcvd(now, seg, transition=not fin_with_ack)
            else:
                self.sender.send_rst_for(now, seg)
                self._drop(now, seg, "unacceptable ACK in SYN_RECEIVED")
                return None
        elif seq_gt(seg.ack, snd.max):
            self._drop(now, seg, "ACK for data not yet sent")
            self.sender.send_oow_ack(now)
            return None
        elif (p.rules.ack_too_old_check or p.rst_exact_match) and seq_lt(
            seg.ack, (snd.una - max(snd.max_wnd, 1)) & MASK
        ):
            # RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND is a blind injection attempt
            self._drop(now, seg, "ACK too old (RFC 5961 §5.2): challenge ACK")
            self.sender.send_oow_ack(now)
            return None
        self.clocks.last_recv_time = now
        self.rexmit.persist_probes = 0  # the peer is there: unanswered probes start over (Linux tcp_ack())
        self.sender.arm_keepalive(now)
        fin_acked_before = self._fin_acked()
        self.sender.on_ack(now, seg)
        # window update (RFC 9293 §3.10.7.4 fifth check: SND.WL1/SND.WL2 decide)
        if seq_lt(snd.wl1, seg.seq) or (snd.wl1 == seg.seq and seq_le(snd.wl2, seg.ack)):
            snd.wnd = (seg.window or 0) << self.opts.snd_wscale
            snd.wl1, snd.wl2 = seg.seq, seg.ack
            snd.max_wnd = max(snd.max_wnd, snd.wnd)
        fin_acked = self._fin_acked() and not fin_acked_before
        st = self.state
        in_order_fin = seg.fin and seq_add(seg.seq, seg.length) == self.rcv.nxt and not self.recvq.fin_rcvd
        if fin_acked:
            if st is State.FIN_WAIT_1:
                # "if the FIN segment is now acknowledged, then enter FIN-WAIT-2 and continue
                # processing in that state" -- also when this segment carries the peer's FIN,
                # which the eighth check then takes from FIN_WAIT_2 to TIME_WAIT
                self._transition(now, Event.RCV_ACK_OF_FIN)
                if not in_order_fin:
                    self._arm_fin_wait_2(now)
            elif st is State.CLOSING:
                self._to_time_wait(now, Event.RCV_ACK_OF_FIN)
                return None
            elif st is State.LAST_ACK:
                self._transition(now, Event.RCV_ACK_OF_FIN)
                return None
        return fin_acked

    def _established_from_syn_rcvd(self, now: float, seg: Segment, *, transition: bool = True) -> None:
        if transition:
            self._transition(now, Event.RCV_ACK)
        self.ever_connected = True
        snd = self.snd
        snd.wnd = (seg.window or 0) << self.opts.snd_wscale
        snd.wl1, snd.wl2 = seg.seq, seg.ack
        snd.max_wnd = max(snd.max_wnd, snd.wnd)
        self.sender.arm_keepalive(now)
        recvq = self.recvq
        if recvq.syn_data:
            # data carried by a simultaneous-open SYN, held until now (FreeBSD tcp_reass)
            recvq.data += recvq.syn_data
            self.rcv.nxt = seq_add(self.rcv.nxt, len(recvq.syn_data))
            recvq.syn_data = b""
            recvq.any_data = True

    def _fin_acked(self) -> bool:
        fin_seq = self.sendq.fin_seq
        return fin_seq is not None and seq_gt(self.snd.una, fin_seq)

    def _text_and_fin(self, now: float, seg: Segment, *, syn_offset: int = 0, fin_acked_now: bool = False) -> None:
        """The seventh (segment text) and eighth (FIN bit) checks of §3.10.7.4."""
        fin_here = self._seventh_check_text(now, seg, syn_offset)
        if fin_here:
            self._eighth_check_fin(now, fin_acked_now=fin_acked_now)

    def _seventh_check_text(self, now: float, seg: Segment, syn_offset: int) -> bool:
        """§3.10.7.4 seventh check: queue the data (in order, or held out of order) and acknowledge.

        Returns whether the peer's FIN is now in order (the eighth check takes it).
        """
        st = self.state
        rcv, recvq = self.rcv, self.recvq
        start = seq_add(seg.seq, syn_offset)
        payload = bytes(seg.payload) if seg.payload is not None else bytes(seg.length)
        if st in (State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
            if seg.length or seg.fin:
                self.sender.send_ack(now)  # the peer already sent its FIN: just acknowledge
            return False
        if (
            self.orphan
            and self.params.rules.reset_data_after_close
            and seg.length
            and seq_gt(seq_add(start, seg.length), rcv.nxt)
            and st in (State.FIN_WAIT_1, State.FIN_WAIT_2)
        ):
            # data after close(): nobody will read it (RFC 9293 §3.6.1 SHLD-3, RFC 1122 §4.2.2.13).
            # Linux tcp_rcv_state_process() counts TCPAbortOnData, tcp_reset()s the socket and
            # tcp_v4_do_rcv() answers the segment with tcp_v4_send_reset (seq = SEG.ACK);
            # FreeBSD tcp_do_segment() (SS_NOFDREF, tcps_rcvafterclose) -> dropwithreset, alike
            self.sender.send_rst_for(now, seg)
            self.sendq.data.clear()
            recvq.data.clear()
            self._transition(now, Event.RCV_DATA, DATA_AFTER_CLOSE)
            self._count(now, "TCPAbortOnData")
            return False
        off = seq_diff(rcv.nxt, start)
        new_data = False
        if off < 0:
            # out of order: hold it and send a duplicate ACK at once (RFC 5681 §4.2)
            recvq.out_of_order[start] = (payload, seg.fin)
            self.sender.send_ack(now)
            return False
        chunk = payload[off:]
        room = max(0, self.rcv_space())
        if len(chunk) > room:
            chunk = chunk[:room]
            seg_fin = False
        else:
            seg_fin = seg.fin
        if chunk:
            recvq.data += chunk
            rcv.nxt = seq_add(rcv.nxt, len(chunk))
            new_data = True
        fin_here = seg_fin and seq_add(start, len(payload)) == rcv.nxt
        ooo = recvq.out_of_order
        filled_gap = bool(ooo)
        # pull held segments that are now in order (and forget ones already covered)
        for s_old in [s for s, (d, _f) in ooo.items() if seq_lt(seq_add(s, len(d)), rcv.nxt)]:
            del ooo[s_old]
        while True:
            nxt = None
            for s, (d, _fin) in ooo.items():
                if seq_le(s, rcv.nxt) and seq_ge(seq_add(s, len(d)), rcv.nxt):
                    nxt = s
                    break
            if nxt is None:
                break
            d, f = ooo.pop(nxt)
            extra = d[seq_diff(rcv.nxt, nxt) :]
            recvq.data += extra
            rcv.nxt = seq_add(rcv.nxt, len(extra))
            new_data = new_data or bool(extra)
            fin_here = fin_here or f
        if new_data and filled_gap and not fin_here:
            # a segment that fills (part of) a gap is acknowledged at once (RFC 5681 §4.2)
            recvq.any_data = True
            self.sender.send_ack(now)
        elif new_data:
            self.sender.ack_data(now, len(chunk))
        if not fin_here and seg.length and not new_data:
            self.sender.send_ack(now)  # duplicate data: acknowledge at once
        return fin_here

    def _eighth_check_fin(self, now: float, *, fin_acked_now: bool) -> None:
        """§3.10.7.4 eighth check: the peer's FIN, in order (RCV.NXT advances over it)."""
        self.rcv.nxt = seq_add(self.rcv.nxt, 1)
        self.recvq.fin_rcvd = True
        st = self.state
        rules = self.params.rules
        if st in (State.ESTABLISHED, State.SYN_RECEIVED):
            self._transition(now, Event.RCV_FIN)
            if rules.delay_ack_of_fin and self.recvq.any_data and self.params.delayed_ack > 0:
                # Linux: pingpong mode after a FIN, so the ACK is delayed once data has
                # flowed (icsk_ack.ato > 0); before any data it goes out at once.
                self.sender.delay_ack(now)
            else:
                self.sender.send_ack(now)
        elif st is State.FIN_WAIT_1:
            # our FIN is not acknowledged yet (else the fifth check moved us to FIN_WAIT_2)
            self._transition(now, Event.RCV_FIN)
            if rules.fin_rides_ack_in_closing and self.sendq.fin_seq is not None:
                # FreeBSD's tcp_output() sends the still unacknowledged FIN again with
                # this ACK (seen in the state-event scripts: "F. 1:1(0) ack 2" in CLOSING)
                self.sender.segment(now, Flags.FIN, self.sendq.fin_seq)
            else:
                self.sender.send_ack(now)
        elif st is State.FIN_WAIT_2:
            # tcp_fin(): the ACK goes out, then tcp_time_wait()
            self._to_time_wait(now, Event.RCV_FIN, ack=True)

    # -- acceptability (RFC 9293 §3.10.7.4 Table 5) and PAWS (RFC 7323 §5)
    def _acceptable(self, seg: Segment) -> bool:
        """RFC 9293 Table 5 (the four cases of segment acceptability)."""
        wnd = self._recv_window()
        length = seg.seg_len
        rcv_nxt = self.rcv.nxt
        if length == 0:
            if wnd == 0:
                return seg.seq == rcv_nxt
            return seq_in_window(seg.seq, rcv_nxt, wnd)
        if wnd == 0:
            return False
        return seq_in_window(seg.seq, rcv_nxt, wnd) or seq_in_window(seq_add(seg.seq, length - 1), rcv_nxt, wnd)

    def _recv_window(self) -> int:
        """RCV.WND as used for acceptability (``rules.acceptability_window``)."""
        rules = self.params.rules
        if rules.acceptability_window == "advertised":
            # Linux tests against the window it advertised (tcp_receive_window)
            wnd = self.sender.adv_window() << self.opts.rcv_wscale
        else:
            wnd = self.rcv_space()
            if rules.syncache_window_cap and self.passive and self.state is State.SYN_RECEIVED:
                # a syncache entry offers at most TCP_MAXWIN << wscale (sys/netinet/tcp_syncache.c)
                wnd = min(wnd, 0xFFFF << self.opts.rcv_wscale)
        return max(0, wnd)

    def _paws_reject(self, now: float, seg: Segment) -> bool:
        """PAWS (Protection Against Wrapped Sequences, 防回绕序列号保护): is ``seg`` an old duplicate?

        True when timestamps are in use on a synchronized connection, TS.Recent is
        valid (non-zero and set less than 24 days ago) and ``SEG.TSval`` is older
        than TS.Recent.

        Examples
        --------
        >>> from tcpkit.engine.segment import Timestamp
        >>> c, s = handshake_pair(0.0, "linux")
        >>> s.ts_recent, s.state
        (20, <State.ESTABLISHED: 'ESTABLISHED'>)
        >>> old = Segment(src_port=40000, dst_port=80, seq=s.rcv_nxt, ack=s.snd_nxt, flags=Flags.ACK, window=100,
        ...               payload=b"x", options=(Timestamp(10, 0),))
        >>> s._paws_reject(1.0, old), s._paws_reject(1.0, old.replace(options=(Timestamp(21, 0),)))
        (True, False)

        Notes
        -----
        RFC 7323 §5.3 R1 (and §5.5 for the 24-day limit).  Linux net/ipv4/tcp_input.c
        ``tcp_paws_discard()``: ``tcp_paws_check()`` with ``TCP_PAWS_WINDOW`` = 1 tick of
        slack and ``TCP_PAWS_24DAYS``, except ``tcp_disordered_ack()`` (a pure duplicate
        ACK that only arrived out of order, within one RTO of TS.Recent).  FreeBSD
        sys/netinet/tcp_input.c (``TSTMP_LT(to_tsval, ts_recent)``, ``TCP_PAWS_IDLE``).
        """
        opts = self.opts
        if not opts.ts_ok or seg.timestamp is None or self.state not in SYNCHRONIZED or self.state is State.TIME_WAIT:
            return False
        if opts.ts_recent == 0 or now - opts.ts_recent_time >= PAWS_IDLE:
            return False
        behind = seq_diff(opts.ts_recent, seg.timestamp[0])
        rules = self.params.rules
        if behind <= rules.paws_window:
            return False
        if rules.paws_disordered_ack:
            # tcp_disordered_ack(): a pure ACK at RCV.NXT acknowledging exactly SND.UNA,
            # no window update, with a timestamp less than one RTO old
            disordered = (
                seg.flags & ~Flags.PSH == Flags.ACK
                and not seg.length
                and seg.seq == self.rcv.nxt
                and seg.ack == self.snd.una
                and (seg.window or 0) << opts.snd_wscale == self.snd.wnd
                and behind <= self.rtt.rto * 1000
            )
            if disordered:
                return False
        return True


def handshake_pair(now: float, profile: str | Profile = "rfc9293") -> tuple[Connection, Connection]:
    """Two connections, client and server, with the three-way handshake done by hand from ``now``.

    Handy for examples and experiments: ``client`` is ``10.0.0.1:40000``, ``server``
    ``10.0.0.2:80``; the ISNs are 1000 and 5000 and the handshake takes 30 ms.

    Examples
    --------
    >>> c, s = handshake_pair(0.0, "linux")
    >>> c.state, s.state, c.smss
    (<State.ESTABLISHED: 'ESTABLISHED'>, <State.ESTABLISHED: 'ESTABLISHED'>, 1448)
    """
    p = get_profile(profile).params
    c = Connection(p, local=("10.0.0.1", 40000), remote=("10.0.0.2", 80), iss=1000)
    s = Connection(p, local=("10.0.0.2", 80), remote=("10.0.0.1", 40000), iss=5000, passive=True)
    c.open_active(now)
    s.accept_syn(now + 0.01, c.take_outgoing()[0])
    c.segment_arrives(now + 0.02, s.take_outgoing()[0])
    s.segment_arrives(now + 0.03, c.take_outgoing()[0])
    return c, s


def default_rcvbuf(params: Params) -> int:
    """A new socket's receive buffer in bytes, before any ``SO_RCVBUF``.

    >>> from tcpkit.engine.profiles import get_profile
    >>> default_rcvbuf(get_profile("linux").params), default_rcvbuf(get_profile("freebsd").params)
    (131072, 65536)

    Notes
    -----
    Linux: the middle value of ``tcp_rmem`` (131072 since 4.20, ``Documentation/networking/ip-sysctl.rst``);
    FreeBSD: ``net.inet.tcp.recvspace`` (``sys/netinet/tcp_usrreq.c``).
    """
    return params.rcvbuf


def default_sndbuf(params: Params) -> int:
    """A new socket's send buffer in bytes, before any ``SO_SNDBUF``.

    >>> from tcpkit.engine.profiles import get_profile
    >>> default_sndbuf(get_profile("linux").params), default_sndbuf(get_profile("freebsd").params)
    (262144, 32768)

    Notes
    -----
    Linux: 2 x the middle value of ``tcp_wmem`` as ``getsockopt(SO_SNDBUF)`` reports it; FreeBSD:
    ``net.inet.tcp.sendspace`` (``sys/netinet/tcp_usrreq.c``).
    """
    return params.sndbuf
