"""One TCP connection (a transmission control block, 传输控制块), sans-IO.

A :class:`Connection` implements the event processing of RFC 9293 §3.10:
user calls (open, send, receive, close, shutdown, abort, status), SEGMENT
ARRIVES, and timeouts.  It never reads a clock and never draws a random
number: every entry point takes ``now`` (virtual seconds), the initial
sequence number and the timestamp offset are given to it, and the segments
it wants to send collect in :attr:`Connection.outbox` (take them with
:meth:`Connection.take_outgoing`).  Every state change goes through
:func:`tcpkit.engine.states.lookup` and is reported as a ``STATE`` trace record.

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

Timers (names used in ``TIMER_*`` trace records): ``rexmt`` (SYN, SYN-ACK, data and
FIN retransmission, RFC 6298), ``tlp`` (Linux tail loss probe), ``persist``
(zero-window probes), ``delack`` (delayed ACK), ``keepalive``, ``fin_wait_2``
(orphaned FIN_WAIT_2, ``tcp_fin_timeout``) and ``time_wait`` (2MSL).

Notes
-----
RFC 9293 §3.10 (event processing), §3.10.7 (SEGMENT ARRIVES, checks in the
RFC's order), §3.8.1 and RFC 6298 (retransmission timeout), RFC 5961
(challenge ACKs, exact-match RST), RFC 1337 (TIME-WAIT assassination),
RFC 7323 (window scale, timestamps), RFC 2018 (SACK permitted), RFC 5681
(slow start).  Linux details are cited where used: ``net/ipv4/tcp_input.c``,
``tcp_output.c``, ``tcp_timer.c``, ``tcp.c``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ParameterError, TcpError
from .events import (
    ConnId,
    CounterChanged,
    Note,
    SegmentDropped,
    SegmentSent,
    StateChanged,
    TimerCancelled,
    TimerFired,
    TimerSet,
    Tracer,
    TraceRecord,
)
from .options import freebsd_options, linux_options, wscale_for
from .profiles import Params
from .segment import Flags, Nop, Option, Segment, Timestamp
from .seqnum import MASK, seq_add, seq_diff, seq_ge, seq_gt, seq_in_window, seq_le, seq_lt
from .states import DATA_AFTER_CLOSE, SYNCHRONIZED, UNREAD_DATA, Event, State, lookup
from .timers import RttEstimator, syn_give_up_time, syn_timeout, synack_timeout

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
]


SHUT_RD = "SHUT_RD"
SHUT_WR = "SHUT_WR"
SHUT_RDWR = "SHUT_RDWR"
_SHUT = (SHUT_RD, SHUT_WR, SHUT_RDWR)

#: FreeBSD's ``kern.ipc.maxsockbuf`` default, from which it derives the window scale it offers.
FREEBSD_SB_MAX = 2097152
#: Linux's quick-ACK budget at the start of a connection (``TCP_MAX_QUICKACKS``, include/net/tcp.h).
MAX_QUICKACKS = 16
#: Linux ``TCP_PAWS_WINDOW`` (include/net/tcp.h): timestamp ticks of slack before PAWS rejects.
PAWS_WINDOW = 1
#: ``TCP_PAWS_24DAYS`` / FreeBSD ``TCP_PAWS_IDLE``: after this long TS.Recent is no longer valid (RFC 7323 §5.5).
PAWS_IDLE = 24 * 24 * 3600.0
#: Largest segment the Linux model hands to the "NIC" at once (a TSO super-segment, GSO_MAX_SIZE).
TSO_MAX = 65535 - 54


@dataclass
class _Timer:
    deadline: float


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
        Host name used in trace records.
    tracer : callable, optional
        Receives every :class:`~tcpkit.engine.trace.TraceRecord`.
    passive : bool
        The connection comes from a passive open (a listener's child).
    rcvbuf, sndbuf : int, optional
        Buffer sizes in bytes.
    counters : dict, optional
        Shared nstat-like counters (the Stack passes its own); the connection adds
        ``PAWSEstab``, ``TCPAbortOnData`` and ``TCPAbortOnClose`` to them.

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
    ) -> None:
        self.params = params
        self.counters = counters if counters is not None else {}
        self.local = local
        self.remote = remote
        self.host = host
        self.tracer = tracer
        self.passive = passive
        # a listener's child is born as a copy of its listener, in LISTEN (RFC 9293 §3.10.7.2)
        self.state = State.LISTEN if passive else State.CLOSED
        self.iss = iss & MASK
        self.irs = 0
        self.ts_offset = ts_offset
        # send sequence space (RFC 9293 §3.3.1); snd_max is the highest sequence number sent
        self.snd_una = self.iss
        self.snd_nxt = self.iss
        self.snd_max = self.iss
        self.snd_wnd = 0
        self.snd_wl1 = 0
        self.snd_wl2 = 0
        self.max_snd_wnd = 0
        # receive sequence space
        self.rcv_nxt = 0
        self.rcvbuf = rcvbuf if rcvbuf is not None else default_rcvbuf(params)
        self.sndbuf = sndbuf if sndbuf is not None else default_sndbuf(params)
        # negotiated options
        self.our_mss = params.mss
        self.peer_mss = 536
        self.snd_wscale = 0
        self.rcv_wscale = 0
        self.ws_ok = False
        self.ts_ok = False
        self.sack_ok = False
        self.ts_recent = 0
        self.ts_recent_time = 0.0  # when TS.Recent was last set (Linux ts_recent_stamp)
        # data
        self.send_buf = bytearray()  # bytes from ``_data_base`` on: unacknowledged and unsent
        self.recv_buf = bytearray()
        self.ooo: dict[int, tuple[bytes, bool]] = {}  # seq -> (data, fin) held out of order
        self.syn_data = b""  # data that came on a SYN in SYN_SENT (FreeBSD queues it)
        self.fin_queued = False  # our side will send a FIN after the queued data
        self.fin_sent = False
        self.fin_seq: int | None = None  # sequence number of our FIN once sent
        self.fin_rcvd = False
        self.rd_shut = False
        self.orphan = False  # the application has closed the socket
        self.error: str | None = None  # pending SO_ERROR
        self.ever_connected = False
        self.data_received = False
        self.quickacks = MAX_QUICKACKS
        self.ack_pending = False
        self.unacked_segs = 0
        # congestion control (RFC 5681) and RTO (RFC 6298)
        self.cwnd = params.initial_cwnd * params.mss
        self.ssthresh = 1 << 30
        self.rtt = RttEstimator(params)
        self.rtt_seq: int | None = None
        self.rtt_time = 0.0
        self.retransmits = 0
        self.first_retransmit_time: float | None = None
        self.open_time = 0.0
        # timers: name -> deadline
        self.timers: dict[str, float] = {}
        # socket options the Stack sets
        self.keepalive = False
        self.keepidle = params.keepalive_time
        self.keepintvl = params.keepalive_intvl
        self.keepcnt = params.keepalive_probes
        self.keep_probes = 0
        self.user_timeout = 0.0  # TCP_USER_TIMEOUT in seconds, 0 = off
        self.last_recv_time = 0.0
        self.outbox: list[Segment] = []
        self.transitions: list[tuple[State, Event, str]] = []
        self.sent_segs: list[tuple[int, int, bool]] = []  # (seq, end, fin) of segments in flight
        self.tlp_high: int | None = None
        self.persist_probes = 0
        self._oow_times = []
        self.dupacks = 0
        self.recover: int | None = None  # fast recovery: SND.MAX when it began (RFC 6582)
        #: the Listener that owns this child while it is in SYN_RECEIVED (set by the listener)
        self.listener: Any = None

    # ------------------------------------------------------------------ identity
    @property
    def conn_id(self) -> ConnId:
        """``(local_addr, local_port, remote_addr, remote_port)``."""
        return (self.local[0], self.local[1], self.remote[0], self.remote[1])

    @property
    def seq_base(self) -> tuple[int, int]:
        return (self.iss, self.irs)

    def __repr__(self) -> str:
        return f"<Connection {self.local[0]}:{self.local[1]} > {self.remote[0]}:{self.remote[1]} {self.state.value}>"

    # ------------------------------------------------------------------ tracing
    def _emit(self, event: TraceRecord) -> None:
        if self.tracer is not None:
            self.tracer(event)

    def _transition(self, now: float, event: Event, condition: str = "") -> None:
        row = lookup(self.state, event, condition)
        src = self.state
        self.state = row.dst
        self.transitions.append((src, event, condition))
        self._emit(StateChanged(time=now, host=self.host, conn=self.conn_id, row=row))
        if row.dst is State.CLOSED:
            for name in list(self.timers):
                self._cancel(now, name)
        elif row.dst is State.ESTABLISHED:
            self.ever_connected = True

    def _count(self, now: float, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1
        self._emit(CounterChanged(time=now, host=self.host, conn=self.conn_id, name=name, value=self.counters[name]))

    # ------------------------------------------------------------------ timers
    def _set(self, now: float, name: str, deadline: float) -> None:
        self.timers[name] = deadline
        self._emit(TimerSet(time=now, host=self.host, conn=self.conn_id, timer=name, deadline=deadline))

    def _cancel(self, now: float, name: str) -> None:
        if self.timers.pop(name, None) is not None:
            self._emit(TimerCancelled(time=now, host=self.host, conn=self.conn_id, timer=name))

    def next_deadline(self) -> float | None:
        """When the earliest timer is due, or ``None``.

        >>> from tcpkit.engine.profiles import get_profile
        >>> c = Connection(get_profile("linux").params, local=("a", 1), remote=("b", 2), iss=0)
        >>> c.open_active(5.0); c.next_deadline()
        6.0
        """
        return min(self.timers.values()) if self.timers else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at or before ``now`` (RFC 9293 §3.10.8).

        Examples
        --------
        >>> a, b = handshake_pair()
        >>> a.send(1.0, b"lost"); _ = a.take_outgoing()     # the segment is lost
        4
        >>> a.handle_timer(a.next_deadline()); a.take_outgoing()[0].notation(relative_to=a.seq_base)
        'P. 1:5(4) ack 1 win 65535'
        """
        for _ in range(64):
            due = [(d, n) for n, d in self.timers.items() if d <= now]
            if not due:
                return
            deadline, name = min(due)
            del self.timers[name]
            self._emit(TimerFired(time=now, host=self.host, conn=self.conn_id, timer=name, deadline=deadline))
            getattr(self, "_on_" + name)(now)

    # ------------------------------------------------------------------ segments out
    def take_outgoing(self) -> list[Segment]:
        """Segments queued for sending since the last call.

        >>> a, b = handshake_pair()
        >>> a.close(1.0); [s.notation(relative_to=a.seq_base) for s in a.take_outgoing()]
        ['F. 1:1(0) ack 1 win 65535']
        >>> a.take_outgoing()
        []
        """
        out, self.outbox = self.outbox, []
        return out

    def _tsval(self, now: float) -> int:
        return (self.ts_offset + int(round(now * 1000))) & MASK

    def _adv_window(self) -> int:
        space = max(0, self.rcv_space())
        if self.params.os == "linux":
            # Linux starts with a window clamp of about 64 KB (tcp_select_initial_window)
            space = min(space, self.params.syn_window) if not self.data_received else space
        return min(space >> self.rcv_wscale, 0xFFFF)

    def rcv_space(self) -> int:
        """Free receive-buffer space: RCV.WND (RFC 9293 §3.3.1)."""
        return self.rcvbuf - len(self.recv_buf)

    def _out(
        self,
        now: float,
        flags: Flags,
        seq: int,
        *,
        ack: bool = True,
        payload: bytes = b"",
        window: int | None = None,
        options: tuple[Option, ...] | None = None,
    ) -> Segment:
        if ack:
            flags |= Flags.ACK
        if options is None:
            options = ()
            if self.ts_ok and not flags & Flags.RST:
                ts = Timestamp(self._tsval(now), self.ts_recent)
                options = (Nop(), Nop(), ts)
        seg = Segment(
            src_port=self.local[1],
            dst_port=self.remote[1],
            seq=seq & MASK,
            ack=self.rcv_nxt if ack else 0,
            flags=flags,
            window=self._adv_window() if window is None else window,
            payload=payload,
            options=options,
        )
        self.outbox.append(seg)
        self._emit(SegmentSent(time=now, host=self.host, conn=self.conn_id, segment=seg, seq_base=self.seq_base))
        if ack and not flags & Flags.RST:
            self.ack_pending = False
            self.unacked_segs = 0
            self._cancel(now, "delack")
        return seg

    def _syn_options(self, now: float, *, synack: bool, peer: Segment | None) -> tuple[Option, ...]:
        p = self.params
        if synack and peer is not None:
            sack = p.sack and peer.sack_permitted
            use_ts = p.timestamps and peer.timestamp is not None
            ws = p.window_scaling and peer.wscale is not None
        else:
            sack, use_ts, ws = p.sack, p.timestamps, p.window_scaling
        ts = (self._tsval(now), self.ts_recent if synack else 0) if use_ts else None
        shift = self._our_wscale() if ws else None
        if p.os == "freebsd":
            return freebsd_options(mss=p.mss, sack=sack, ts=ts, wscale=shift)
        return linux_options(mss=p.mss, sack=sack, ts=ts, wscale=shift)

    def _our_wscale(self) -> int:
        if self.params.os == "freebsd":
            return wscale_for(int(self.params.extra.get("maxsockbuf", FREEBSD_SB_MAX)))
        return wscale_for(self.params.rmem_max)

    def _send_syn(self, now: float) -> None:
        opts = self._syn_options(now, synack=False, peer=None)
        self._out(now, Flags.SYN, self.iss, ack=False, window=min(self.params.syn_window, 0xFFFF), options=opts)

    def _send_synack(self, now: float, peer: Segment | None = None) -> None:
        opts = self._syn_options(now, synack=True, peer=peer if peer is not None else self._peer_syn)
        self._out(now, Flags.SYN, self.iss, window=min(self.params.syn_window, 0xFFFF), options=opts)

    def _send_ack(self, now: float) -> None:
        self._out(now, Flags(0), self.snd_nxt)

    def _send_oow_ack(self, now: float) -> None:
        """An ACK answering an invalid segment, rate-limited so two desynchronized
        TCPs cannot ACK each other forever (an "ACK storm").

        Linux allows one per ``tcp_invalid_ratelimit`` (500 ms) per socket
        (net/ipv4/tcp_input.c ``tcp_oow_rate_limited``); FreeBSD allows
        ``ack_war_cnt`` (5) per ``ack_war_timewindow`` (1 s) (sys/netinet/tcp_subr.c);
        RFC 5961 §7 asks for such a limit.
        """
        count, window = (1, 0.5) if self.params.os == "linux" else (5, 1.0)
        self._oow_times = [t for t in self._oow_times if now - t < window - 1e-12]
        if len(self._oow_times) >= count:
            self._emit(
                Note(
                    time=now,
                    host=self.host,
                    conn=self.conn_id,
                    text="ACK to an invalid segment suppressed (rate limit)",
                )
            )
            return
        self._oow_times.append(now)
        self._send_ack(now)

    _oow_times: list[float]

    def _send_rst_ack(self, now: float) -> None:
        self._out(now, Flags.RST, self.snd_nxt, window=0)

    def _send_rst_for(self, now: float, seg: Segment) -> None:
        """Reset answering ``seg`` (RFC 9293 §3.10.7.1 form: ``<SEQ=SEG.ACK><CTL=RST>``)."""
        if seg.rst:
            return
        if seg.has_ack:
            self._out(now, Flags.RST, seg.ack, ack=False, window=0, options=())
        else:
            saved = self.rcv_nxt
            self.rcv_nxt = seg.end_seq
            self._out(now, Flags.RST, 0, window=0, options=())
            self.rcv_nxt = saved

    # ------------------------------------------------------------------ derived numbers
    @property
    def smss(self) -> int:
        """Sender MSS: the peer's MSS option capped by ours, less the timestamp option."""
        m = min(self.peer_mss, self.our_mss)
        return max(1, m - (12 if self.ts_ok else 0))

    @property
    def _data_base(self) -> int:
        """Sequence number of ``send_buf[0]``."""
        if not seq_gt(self.snd_una, self.iss):
            return seq_add(self.iss, 1)
        if self.fin_seq is not None and seq_gt(self.snd_una, self.fin_seq):
            return self.fin_seq
        return self.snd_una

    @property
    def _data_end(self) -> int:
        return seq_add(self._data_base, len(self.send_buf))

    def flight_size(self) -> int:
        return seq_diff(self.snd_nxt, self.snd_una)

    # ------------------------------------------------------------------ user calls
    def open_active(self, now: float) -> None:
        """OPEN, active (RFC 9293 §3.10.1): send a SYN and enter SYN_SENT."""
        if self.state is not State.CLOSED:
            raise TcpError(
                "EISCONN" if self.state in SYNCHRONIZED else "EALREADY", f"connect in state {self.state.value}"
            )
        self.open_time = now
        self._transition(now, Event.ACTIVE_OPEN)
        self.snd_nxt = self.snd_max = seq_add(self.iss, 1)
        self._send_syn(now)
        self.retransmits = 0
        self._set(now, "rexmt", now + syn_timeout(self.params, 0))
        self.rtt_seq, self.rtt_time = self.iss, now

    def accept_syn(self, now: float, seg: Segment, *, reply: bool = True) -> None:
        """A listener's child takes the peer's SYN: LISTEN -> SYN_RECEIVED, send SYN-ACK.

        RFC 9293 §3.10.7.2 (LISTEN, third check).  The connection must have been
        made with ``passive=True`` (it starts in LISTEN, a copy of its listener).
        ``reply=False`` rebuilds a request from a SYN cookie without sending anything.
        """
        if self.state is not State.LISTEN:
            raise TcpError("EINVAL", f"accept_syn needs a passive connection in LISTEN, not {self.state.value}")
        self.open_time = now
        self._take_syn(seg, now)
        self._transition(now, Event.RCV_SYN)
        self.snd_nxt = self.snd_max = seq_add(self.iss, 1)
        self.retransmits = 0
        self.last_recv_time = now
        if reply:
            self._send_synack(now, seg)
            self._set(now, "rexmt", now + synack_timeout(self.params, 0))
            self.rtt_seq, self.rtt_time = self.iss, now

    def _take_syn(self, seg: Segment, now: float) -> None:
        p = self.params
        self._peer_syn = seg
        self.irs = seg.seq
        self.rcv_nxt = seq_add(seg.seq, 1)
        if seg.mss is not None:
            self.peer_mss = seg.mss
        self.sack_ok = p.sack and seg.sack_permitted
        self.ts_ok = p.timestamps and seg.timestamp is not None
        if self.ts_ok and seg.timestamp is not None:
            self.ts_recent = seg.timestamp[0]
            self.ts_recent_time = now
        self.ws_ok = p.window_scaling and seg.wscale is not None
        if self.ws_ok and seg.wscale is not None:
            self.snd_wscale = min(seg.wscale, 14)
            self.rcv_wscale = self._our_wscale()
        else:
            self.snd_wscale = self.rcv_wscale = 0
        if p.os == "freebsd":
            # tcp_mss_update() rounds the socket buffers up to a multiple of the MSS
            self.rcvbuf = -(-self.rcvbuf // self.smss) * self.smss
            self.sndbuf = -(-self.sndbuf // self.smss) * self.smss
        self.cwnd = p.initial_cwnd * self.smss  # RFC 6928 initial window, in segments of the agreed MSS
        self.snd_wnd = seg.window or 0
        self.snd_wl1 = seg.seq
        self.max_snd_wnd = self.snd_wnd

    _peer_syn: Segment | None = None

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
        >>> a, b = handshake_pair()
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
        if self.fin_queued:
            raise TcpError("EPIPE", "send after shutdown(SHUT_WR) or close")
        if self.state is State.CLOSED:
            if self.ever_connected:
                raise TcpError("EPIPE", "send on a closed connection")
            raise TcpError("ENOTCONN", "send on a connection that was never opened")
        if self.state in (State.SYN_SENT, State.SYN_RECEIVED, State.LISTEN):
            raise TcpError("EAGAIN", f"the handshake is not finished ({self.state.value})")
        if self.state not in (State.ESTABLISHED, State.CLOSE_WAIT):
            raise TcpError("EPIPE", f"send in state {self.state.value}")
        room = self.sndbuf - len(self.send_buf)
        if room <= 0 and data:
            raise TcpError("EAGAIN", f"send buffer full ({self.sndbuf} bytes)")
        take = data[:room]
        self.send_buf += take
        self._output(now)
        return len(take)

    def recv(self, now: float, n: int) -> bytes:
        """RECEIVE (RFC 9293 §3.10.3): up to ``n`` bytes; ``b""`` at end of stream.

        Raises
        ------
        TcpError
            ``EAGAIN`` when nothing is there yet, ``ENOTCONN``, or the pending error.

        Examples
        --------
        >>> a, b = handshake_pair()
        >>> b.recv(1.0, 10)
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.TcpError: EAGAIN (Resource temporarily unavailable): no data yet (ESTABLISHED)
        >>> a.close(1.0); b.segment_arrives(1.1, a.take_outgoing()[0]); b.recv(1.1, 10)
        b''
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ParameterError("recv size", n, "a byte count >= 0")
        if self.recv_buf:
            before = self._adv_window()
            out = bytes(self.recv_buf[:n])
            del self.recv_buf[:n]
            after = self._adv_window()
            # window update when the window opened by at least 2 MSS (RFC 9293 §3.8.6.2.2 receiver SWS rule)
            if (
                self.state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2)
                and (after - before) << self.rcv_wscale >= 2 * self.smss
                and before << self.rcv_wscale < self.rcvbuf // 2
            ):
                self._send_ack(now)
            return out
        if self.fin_rcvd or self.rd_shut:
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

        >>> a, b = handshake_pair()
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
        >>> a, b = handshake_pair()
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
        unread = self.recv_buf and (
            st in (State.ESTABLISHED, State.CLOSE_WAIT)
            or (st in (State.FIN_WAIT_1, State.FIN_WAIT_2) and self.params.os == "linux")
        )
        if unread:
            # after shutdown(SHUT_WR) too, Linux __tcp_close() resets when data was left unread
            self.recv_buf.clear()
            self.send_buf.clear()
            self._send_rst_ack(now)
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
        >>> a, b = handshake_pair()
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
            self.rd_shut = True
        if how in (SHUT_WR, SHUT_RDWR):
            self._close_write(now)

    def _close_write(self, now: float) -> None:
        st = self.state
        if st is State.SYN_SENT:
            self._transition(now, Event.CLOSE)
        elif st in (State.SYN_RECEIVED, State.ESTABLISHED, State.CLOSE_WAIT) and not self.fin_queued:
            self.fin_queued = True
            self._transition(now, Event.CLOSE)
            self._output(now)
        elif st is State.LISTEN:
            self._transition(now, Event.CLOSE)

    def abort(self, now: float) -> None:
        """ABORT (RFC 9293 §3.10.5): RST in the states the table says, then CLOSED.

        Examples
        --------
        >>> a, b = handshake_pair()
        >>> a.abort(1.0); a.state, a.take_outgoing()[0].notation(relative_to=a.seq_base)
        (<State.CLOSED: 'CLOSED'>, 'R. 1:1(0) ack 1 win 0')
        """
        if self.state is State.CLOSED:
            return
        row = lookup(self.state, Event.ABORT)
        if row.send == "RST":
            self._send_rst_ack(now)
        self.send_buf.clear()
        self.recv_buf.clear()
        self._transition(now, Event.ABORT)

    def status(self) -> dict[str, Any]:
        """STATUS (RFC 9293 §3.10.6): the TCB in a dict (also the base of TCP_INFO).

        Examples
        --------
        >>> a, b = handshake_pair()
        >>> st = a.status(); st["state"], st["tcpi_state"], st["snd_nxt"] - st["iss"]
        (<State.ESTABLISHED: 'ESTABLISHED'>, 1, 1)
        """
        return {
            "state": self.state,
            "tcpi_state": self.state.linux_code,
            "local": self.local,
            "remote": self.remote,
            "iss": self.iss,
            "irs": self.irs,
            "snd_una": self.snd_una,
            "snd_nxt": self.snd_nxt,
            "snd_wnd": self.snd_wnd,
            "rcv_nxt": self.rcv_nxt,
            "rcv_wnd": self.rcv_space(),
            "tcpi_snd_mss": self.smss,
            "tcpi_rto": self.rtt.rto,
            "tcpi_rtt": self.rtt.srtt,
            "tcpi_snd_cwnd": self.cwnd // max(1, self.smss),
            "tcpi_retransmits": self.retransmits,
            "tcpi_unacked": len(self.send_buf),
            "queued_recv": len(self.recv_buf),
            "options": {
                "sack": self.sack_ok,
                "timestamps": self.ts_ok,
                "wscale": (self.snd_wscale, self.rcv_wscale) if self.ws_ok else None,
            },
        }

    def poll(self) -> frozenset[str]:
        """Readiness like poll(2): a subset of ``in``, ``out``, ``err``, ``hup``, ``rdhup``.

        Follows Linux ``tcp_poll()`` (net/ipv4/tcp.c): nothing while SYN_SENT; ``out`` once
        connected with room in the send buffer; ``in`` with data, after the peer's FIN or
        SHUT_RD; ``err`` with a pending error; ``hup`` when both directions are closed.

        Examples
        --------
        >>> a, b = handshake_pair()
        >>> sorted(a.poll()), sorted(b.poll())
        (['out'], ['out'])
        """
        ev: set[str] = set()
        if self.recv_buf or self.fin_rcvd or self.rd_shut or self.error is not None:
            ev.add("in")
        if (
            self.state in (State.ESTABLISHED, State.CLOSE_WAIT)
            and not self.fin_queued
            and len(self.send_buf) < self.sndbuf
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
        if self.fin_rcvd and self.fin_queued:
            ev.add("hup")
        if self.fin_rcvd or self.rd_shut:
            ev.add("rdhup")
        return frozenset(ev)

    # ------------------------------------------------------------------ output
    def _output(self, now: float, *, force: bool = False) -> None:
        """Send what the windows allow (RFC 9293 §3.8.6; RFC 5681 congestion window).

        ``force`` overrides sender silly-window avoidance (the override timeout of
        RFC 1122 §4.2.3.4, here the persist timer).
        """
        if self.state not in SYNCHRONIZED or self.state is State.TIME_WAIT:
            return
        sent_any = False
        linux = self.params.os == "linux"
        for _ in range(1000):
            data_end = self._data_end
            unsent = seq_diff(data_end, self.snd_nxt)
            wnd = min(self.snd_wnd, self.cwnd)
            room = wnd - self.flight_size()
            n = 0
            if unsent > 0 and room > 0:
                cap = TSO_MAX if linux else self.smss
                if linux:
                    cap = max(self.smss, min(cap, self.cwnd))
                n = min(unsent, room, cap)
                if not linux and not force and n < self.smss and n < unsent:
                    n = 0  # sender SWS avoidance (RFC 9293 §3.8.6.2.1): wait for a full segment
            end = seq_add(self.snd_nxt, n)
            # our FIN follows the last byte; after a go-back-N timeout it is sent again
            fin = self.fin_queued and end == data_end and (not self.fin_sent or seq_gt(self.snd_max, end))
            if n == 0 and not fin:
                break
            off = seq_diff(self.snd_nxt, self._data_base)
            payload = bytes(self.send_buf[off : off + n])
            flags = Flags(0)
            if n and (linux or seq_add(self.snd_nxt, n) == data_end):
                flags |= Flags.PSH
            if fin:
                flags |= Flags.FIN
            seq = self.snd_nxt
            if self.snd_una == self.snd_max:
                self._unacked_since = now  # the oldest unacknowledged byte leaves now
            self._out(now, flags, seq, payload=payload)
            sent_any = True
            if not seq_lt(seq, self.snd_max):
                self.sent_segs.append((seq, seq_add(seq, n + (1 if fin else 0)), fin))
            self.snd_nxt = seq_add(self.snd_nxt, n + (1 if fin else 0))
            if fin:
                self.fin_sent = True
                self.fin_seq = end
            if seq_gt(self.snd_nxt, self.snd_max):
                if self.rtt_seq is None and self.retransmits == 0:
                    self.rtt_seq, self.rtt_time = self.snd_nxt, now
                self.snd_max = self.snd_nxt
            if fin:
                break
        if sent_any and "rexmt" not in self.timers:
            nxt = now + self._rto()
            if self.user_timeout:
                nxt = min(nxt, self._unacked_since + self.user_timeout)
            self._set(now, "rexmt", nxt)
        if sent_any:
            self._schedule_tlp(now)
        self._check_persist(now)
        if not sent_any and self.ack_pending and "delack" not in self.timers:
            self._send_ack(now)

    def _check_persist(self, now: float) -> None:
        """Arm or stop the persist timer (zero-window probing, RFC 9293 §3.8.6.1)."""
        # nothing in flight but data waiting: either the window is closed or too small to
        # be worth a segment; the persist timer probes (or forces a small segment)
        waiting = self.snd_nxt == self.snd_una and seq_gt(self._data_end, self.snd_nxt) and self.state in _SEND_STATES
        if waiting and "persist" not in self.timers:
            self._set(now, "persist", now + min(self.rtt.rto * 2**self.persist_probes, self.params.rto_max))
        elif not waiting and "persist" in self.timers:
            self.persist_probes = 0
            self._cancel(now, "persist")

    def _on_persist(self, now: float) -> None:
        if self.state not in (State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK):
            return
        limit = self.params.orphan_retries if self.orphan else self.params.data_retries
        if self.persist_probes >= limit:
            self._fail(now, Event.TIMEOUT_RETRIES, "ETIMEDOUT")
            return
        self.persist_probes += 1
        if self.snd_wnd > 0:
            # the window is open but small: send what fits (RFC 1122 §4.2.3.4 override)
            self._output(now, force=True)
            if self.snd_nxt != self.snd_una:
                self.persist_probes = 0
                return
        # Linux tcp_xmit_probe_skb(): a bare ACK one below SND.UNA makes the peer state its window
        self._out(now, Flags(0), (self.snd_una - 1) & MASK)
        self._check_persist(now)

    def _retransmit_head(self, now: float) -> None:
        """Send the oldest unacknowledged segment again (one SMSS, with the FIN if it fits)."""
        data = max(0, seq_diff(self._data_end, self.snd_una))
        n = min(self.smss, data)
        off = max(0, seq_diff(self.snd_una, self._data_base))
        fin = self.fin_seq is not None and seq_add(self.snd_una, n) == self.fin_seq
        flags = (Flags.PSH if n and (self.params.os == "linux" or n == data) else Flags(0)) | (
            Flags.FIN if fin else Flags(0)
        )
        if n == 0 and not fin:
            return
        self._out(now, flags, self.snd_una, payload=bytes(self.send_buf[off : off + n]))
        self.rtt_seq = None  # Karn: no RTT sample from a retransmitted segment

    def _schedule_tlp(self, now: float) -> None:
        """Linux tail loss probe (RACK-TLP, RFC 8985 §7; net/ipv4/tcp_output.c tcp_schedule_loss_probe).

        PTO = 2 * SRTT, plus TCP_RTO_MIN when a single segment is out (2 jiffies otherwise);
        only when SACK was negotiated, no probe is outstanding and the RTO would fire later.
        """
        if self.params.os != "linux" or not self.sack_ok or self.rtt.srtt is None or self.tlp_high is not None:
            return
        if self.retransmits or self.snd_una == self.snd_max or self.state not in _TLP_STATES:
            return
        pto = 2 * self.rtt.srtt + (self.params.rto_min if len(self.sent_segs) == 1 else 0.002)
        rto_at = self.timers.get("rexmt")
        if rto_at is not None and now + pto >= rto_at:
            return
        self.timers.pop("tlp", None)
        self._set(now, "tlp", now + pto)

    def _on_tlp(self, now: float) -> None:
        if self.snd_una == self.snd_max or self.state not in _TLP_STATES:
            return
        self.tlp_high = self.snd_max
        unsent = seq_diff(self._data_end, self.snd_nxt)
        if unsent > 0 and self.snd_nxt == self.snd_max:
            # new data goes first: one MSS, regardless of cwnd (tcp_send_loss_probe)
            n = min(unsent, self.smss)
            off = seq_diff(self.snd_nxt, self._data_base)
            seq = self.snd_nxt
            self._out(now, Flags(0), seq, payload=bytes(self.send_buf[off : off + n]))
            self.sent_segs.append((seq, seq_add(seq, n), False))
            self.snd_nxt = self.snd_max = seq_add(seq, n)
        elif self.sent_segs:
            seq, end, fin = self.sent_segs[-1]
            n = seq_diff(end, seq) - (1 if fin else 0)
            off = seq_diff(seq, self._data_base)
            flags = (Flags.PSH if n else Flags(0)) | (Flags.FIN if fin else Flags(0))
            self._out(now, flags, seq, payload=bytes(self.send_buf[off : off + n]) if n > 0 else b"")
            self.rtt_seq = None
        self.timers.pop("rexmt", None)
        self._set(now, "rexmt", now + self._rto())

    def _rto(self) -> float:
        return min(self.rtt.rto * 2**self.retransmits, self.params.rto_max)

    # ------------------------------------------------------------------ timer handlers
    def _on_rexmt(self, now: float) -> None:
        p = self.params
        st = self.state
        if st is State.SYN_SENT:
            give_up = syn_give_up_time(p)
            if self.retransmits >= p.syn_retries + p.syn_linear_timeouts or now - self.open_time >= give_up - 1e-9:
                self._fail(now, Event.TIMEOUT_RETRIES, "ETIMEDOUT")
                return
            self.retransmits += 1
            self.rtt_seq = None
            self._send_syn(now)
            nxt = now + syn_timeout(p, self.retransmits)
            if p.connect_timeout is not None:
                nxt = min(nxt, self.open_time + p.connect_timeout)
            self._set(now, "rexmt", nxt)
            return
        if st is State.SYN_RECEIVED:
            # a listener's request may get a lower limit when its SYN queue is crowded
            # (Linux reqsk_timer_handler pruning, see Listener.synack_retry_limit)
            owner = self.listener
            limit = owner.synack_retry_limit() if self.passive and owner is not None else p.synack_retries
            if self.retransmits >= limit:
                self._fail(now, Event.TIMEOUT_RETRIES, "ETIMEDOUT" if not self.passive else None)
                return
            self.retransmits += 1
            self.rtt_seq = None
            self._send_synack(now)
            self._set(now, "rexmt", now + synack_timeout(p, self.retransmits))
            return
        if self.snd_una == self.snd_max:
            return
        if self.first_retransmit_time is None:
            self.first_retransmit_time = now
        if self.user_timeout and now - self._unacked_since >= self.user_timeout - 1e-6:
            self._fail(now, Event.TIMEOUT_USER, "ETIMEDOUT")
            return
        limit = p.orphan_retries if self.orphan else p.data_retries
        if self.retransmits >= limit:
            self._fail(now, Event.TIMEOUT_RETRIES, "ETIMEDOUT")
            return
        self.retransmits += 1
        self.rtt_seq = None
        self.recover = None
        self.dupacks = 0
        # RFC 5681 §3.1 eq. (4) and loss window; go back N from SND.UNA
        self.ssthresh = max(self.flight_size() // 2, 2 * self.smss)
        self.cwnd = self.smss
        self.snd_nxt = self.snd_una
        self.timers["rexmt"] = now + self._rto()  # placeholder so _output does not arm it twice
        if self.fin_seq is not None and self.snd_una == self.fin_seq:
            # only the FIN is outstanding
            self._out(now, Flags.FIN, self.snd_una)
            self.snd_nxt = self.snd_max
        else:
            self._output(now)
            if self.snd_nxt == self.snd_una:
                if self.snd_wnd == 0:
                    # the peer's window is closed: the persist timer probes from here on
                    self._check_persist(now)
                    return
                self.snd_nxt = self.snd_max
        self.timers.pop("rexmt", None)
        nxt = now + self._rto()
        if self.user_timeout:
            # Linux tcp_clamp_rto_to_user_timeout(): never sleep past the user timeout
            nxt = min(nxt, self._unacked_since + self.user_timeout)
        self._set(now, "rexmt", nxt)

    _unacked_since = 0.0

    def _on_delack(self, now: float) -> None:
        if self.state in SYNCHRONIZED:
            self._send_ack(now)

    def _on_time_wait(self, now: float) -> None:
        self._transition(now, Event.TIMEOUT_2MSL)

    def _on_fin_wait_2(self, now: float) -> None:
        if self.state is State.FIN_WAIT_2:
            self._transition(now, Event.TIMEOUT_FIN_WAIT_2, "orphaned")

    def _on_keepalive(self, now: float) -> None:
        if self.state not in (State.ESTABLISHED, State.CLOSE_WAIT) or not self.keepalive:
            return
        idle = now - self.last_recv_time
        if self.keep_probes == 0 and idle < self.keepidle - 1e-9:
            self._set(now, "keepalive", self.last_recv_time + self.keepidle)
            return
        if self.keep_probes >= self.keepcnt:
            self._send_rst_ack(now)
            self._fail(now, Event.TIMEOUT_KEEPALIVE, "ETIMEDOUT")
            return
        self.keep_probes += 1
        # a probe: one byte below SND.UNA, so the peer must answer with an ACK (RFC 9293 §3.8.4)
        self._out(now, Flags(0), seq_add(self.snd_una, -1) & MASK)
        self._set(now, "keepalive", now + self.keepintvl)

    def set_keepalive(self, now: float, on: bool) -> None:
        """SO_KEEPALIVE: start or stop the keepalive timer.

        Examples
        --------
        >>> a, b = handshake_pair()
        >>> a.keepidle = 30.0; a.set_keepalive(1.0, True); a.next_deadline()
        31.0
        """
        self.keepalive = on
        if on and self.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            self._set(now, "keepalive", max(now, self.last_recv_time) + self.keepidle)
        elif not on:
            self._cancel(now, "keepalive")

    def _arm_keepalive(self, now: float) -> None:
        if self.keepalive and self.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            self.keep_probes = 0
            self.timers["keepalive"] = now + self.keepidle

    def _arm_fin_wait_2(self, now: float) -> None:
        if self.orphan and self.state is State.FIN_WAIT_2 and "fin_wait_2" not in self.timers:
            self._set(now, "fin_wait_2", now + self.params.fin_timeout)

    def _fail(self, now: float, event: Event, err: str | None) -> None:
        if err is not None:
            self.error = err
        self._transition(now, event)

    def _enter_time_wait(self, now: float) -> None:
        for name in ("rexmt", "fin_wait_2", "keepalive", "delack"):
            self._cancel(now, name)
        if self.params.time_wait <= 0:
            # teaching knob: TIME_WAIT switched off -> leave it at once
            self._transition(now, Event.TIMEOUT_2MSL)
            return
        self.timers.pop("time_wait", None)
        self._set(now, "time_wait", now + self.params.time_wait)

    # ------------------------------------------------------------------ segment arrives
    def segment_arrives(self, now: float, seg: Segment) -> None:
        """SEGMENT ARRIVES (RFC 9293 §3.10.7.3-3.10.7.4), for a TCB not in LISTEN or CLOSED.

        Examples
        --------
        A blind RST with a sequence number inside the window but not exactly RCV.NXT
        earns a challenge ACK (RFC 5961 §3.2) instead of a reset:

        >>> a, b = handshake_pair()
        >>> rst = Segment(src_port=80, dst_port=40000, seq=(a.rcv_nxt + 100) % 2**32, flags=Flags.RST)
        >>> a.segment_arrives(1.0, rst); a.state, a.take_outgoing()[0].flags
        (<State.ESTABLISHED: 'ESTABLISHED'>, <Flags.ACK: 16>)
        """
        st = self.state
        if st is State.CLOSED:
            self._send_rst_for(now, seg)
            return
        if st is State.SYN_SENT:
            self._syn_sent(now, seg)
            return
        if st is State.TIME_WAIT:
            self._time_wait(now, seg)
            return
        if st is State.LISTEN:  # pragma: no cover - listeners live in tcpkit.engine.listener
            return
        self._synchronized(now, seg)

    # -- SYN-SENT (RFC 9293 §3.10.7.3)
    def _syn_sent(self, now: float, seg: Segment) -> None:
        if seg.has_ack and (seq_le(seg.ack, self.iss) or seq_gt(seg.ack, self.snd_max)):
            if not seg.rst:
                self._send_rst_for(now, seg)
            self._drop(now, seg, "unacceptable ACK in SYN_SENT")
            return
        if seg.rst:
            if seg.has_ack:
                self._fail(now, Event.RCV_RST, "ECONNREFUSED")
            else:
                self._drop(now, seg, "RST without ACK in SYN_SENT")
            return
        if not seg.syn:
            self._drop(now, seg, "neither SYN nor RST in SYN_SENT")
            return
        self._take_syn(seg, now)
        if seg.has_ack:
            self._ack_advance(now, seg.ack)
        if seq_gt(self.snd_una, self.iss):
            self._transition(now, Event.RCV_SYN_ACK)
            self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
            self.snd_wnd = seg.window or 0  # window in a SYN is never scaled (RFC 7323 §2.2)
            self._cancel(now, "rexmt")
            self.retransmits = 0
            self.last_recv_time = now
            self._arm_keepalive(now)
            if seg.length or seg.fin:
                self._text_and_fin(now, seg, syn_offset=1)
            self._send_ack(now)
            self._output(now)
        else:
            # simultaneous open (RFC 9293 §3.5 Figure 7)
            self._transition(now, Event.RCV_SYN)
            if seg.length and self.params.os == "freebsd":
                self.syn_data = bytes(seg.payload or bytes(seg.length))
            self.retransmits = 0
            self._send_synack(now, seg)
            self._cancel(now, "rexmt")
            self._set(now, "rexmt", now + synack_timeout(self.params, 0))

    # -- TIME-WAIT (RFC 9293 §3.10.7.4; Linux tcp_timewait_state_process, FreeBSD tcp_twcheck)
    def _time_wait(self, now: float, seg: Segment) -> None:
        if seg.rst:
            if self.params.rfc1337:
                self._drop(now, seg, "RST ignored in TIME_WAIT (RFC 1337)")
            elif seq_in_window(seg.seq, self.rcv_nxt, max(1, self.rcv_space())):
                self._transition(now, Event.RCV_RST, "rfc1337 off")
            else:
                self._drop(now, seg, "RST outside the window")
            return
        if seg.syn:
            if self.params.os == "freebsd":
                self._drop(now, seg, "SYN in TIME_WAIT that cannot open a new incarnation")
                return
            if not self.params.syn_challenge_ack:
                self._send_rst_ack(now)
                self._transition(now, Event.RCV_SYN, "RFC 793 SYN handling")
                return
            self._send_ack(now)
            return
        if not seg.has_ack:
            self._drop(now, seg, "no ACK in TIME_WAIT")
            return
        if seg.fin and seq_add(seg.seq, seg.length + 1) == self.rcv_nxt:
            self._transition(now, Event.RCV_FIN)
            self._send_ack(now)
            self._enter_time_wait(now)
            return
        if seg.flags & ~Flags.PSH != Flags.ACK or seg.length or seg.seq != self.rcv_nxt or seg.ack != self.snd_nxt:
            self._send_ack(now)
            return
        self._drop(now, seg, "duplicate ACK in TIME_WAIT")

    def _drop(self, now: float, seg: Segment, reason: str) -> None:
        self._emit(
            SegmentDropped(
                time=now, host=self.host, conn=self.conn_id, segment=seg, reason=reason, seq_base=self.seq_base
            )
        )

    def _acceptable(self, seg: Segment) -> bool:
        """RFC 9293 Table 5 (the four cases of segment acceptability)."""
        wnd = self._recv_window()
        length = seg.seg_len
        if length == 0:
            if wnd == 0:
                return seg.seq == self.rcv_nxt
            return seq_in_window(seg.seq, self.rcv_nxt, wnd)
        if wnd == 0:
            return False
        return seq_in_window(seg.seq, self.rcv_nxt, wnd) or seq_in_window(
            seq_add(seg.seq, length - 1), self.rcv_nxt, wnd
        )

    def _recv_window(self) -> int:
        """RCV.WND as used for acceptability (the profiles differ slightly)."""
        wnd = self.rcv_space()
        if self.params.os == "linux":
            # Linux tests against the window it advertised (tcp_receive_window)
            wnd = self._adv_window() << self.rcv_wscale
        elif self.params.os == "freebsd" and self.passive and self.state is State.SYN_RECEIVED:
            # a syncache entry offers at most TCP_MAXWIN << wscale (sys/netinet/tcp_syncache.c)
            wnd = min(wnd, 0xFFFF << self.rcv_wscale)
        return max(0, wnd)

    # -- synchronized states and SYN-RECEIVED (RFC 9293 §3.10.7.4)
    def _synchronized(self, now: float, seg: Segment) -> None:
        st = self.state
        p = self.params
        if (
            st is State.SYN_RECEIVED
            and not self.passive
            and seg.syn
            and seg.has_ack
            and not seg.rst
            and seq_add(seg.seq, 1) == self.rcv_nxt
            and seg.ack == self.snd_max
        ):
            # simultaneous open: the peer's SYN-ACK acknowledges our SYN; its SYN is old news
            # (Linux tcp_validate_incoming lets exactly this segment pass)
            seg = seg.replace(flags=seg.flags & ~Flags.SYN, seq=self.rcv_nxt, payload=b"", length=0)
        # RFC 7323 §5.3 R1: PAWS before the sequence-number check (Linux tcp_validate_incoming)
        if not seg.rst and not seg.syn and self._paws_reject(now, seg):
            self._count(now, "PAWSEstab")
            self._drop(now, seg, "PAWS: SEG.TSval is older than TS.Recent (RFC 7323 §5.3 R1)")
            if p.os != "freebsd" or seg.length:
                self._send_oow_ack(now)  # FreeBSD drops a bare ACK silently, data gets an ACK
            return
        # first: sequence number
        if not self._acceptable(seg):
            if seg.rst:
                self._drop(now, seg, "RST outside the window")
                return
            if st is State.SYN_RECEIVED and seg.syn and seg.seq == self.irs:
                # a retransmitted SYN: answer with the SYN-ACK again (Linux tcp_check_req)
                self._send_synack(now)
                return
            zero_window_edge = seg.seq == self.rcv_nxt and self._recv_window() == 0
            if (
                seg.has_ack
                and not seg.syn
                and (zero_window_edge or (p.os == "freebsd" and seq_le(seg.end_seq, self.rcv_nxt)))
            ):
                # RFC 9293 §3.10.7.4: with a zero window, valid ACKs (and RSTs) must still be
                # accepted; FreeBSD tcp_input (Stevens vol. 2 p. 960) likewise keeps the ACK of
                # an old duplicate.  Data and FIN are dropped, an ACK goes back.
                seg = seg.replace(seq=self.rcv_nxt, payload=b"", length=0, flags=seg.flags & ~(Flags.FIN | Flags.PSH))
                self._synchronized_rest(now, seg)
                if self.state in SYNCHRONIZED and self.state is not State.TIME_WAIT:
                    self._send_ack(now)
                return
            self._drop(now, seg, "not acceptable (RFC 9293 Table 5)")
            self._send_oow_ack(now)
            return
        self._synchronized_rest(now, seg)

    def _paws_reject(self, now: float, seg: Segment) -> bool:
        """PAWS (Protection Against Wrapped Sequences, 防回绕序列号保护): is ``seg`` an old duplicate?

        True when timestamps are in use on a synchronized connection, TS.Recent is
        valid (non-zero and set less than 24 days ago) and ``SEG.TSval`` is older
        than TS.Recent.

        Examples
        --------
        >>> c, s = handshake_pair("linux")
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
        if not self.ts_ok or seg.timestamp is None or self.state not in SYNCHRONIZED or self.state is State.TIME_WAIT:
            return False
        if self.ts_recent == 0 or now - self.ts_recent_time >= PAWS_IDLE:
            return False
        behind = seq_diff(self.ts_recent, seg.timestamp[0])
        linux = self.params.os == "linux"
        if behind <= (PAWS_WINDOW if linux else 0):
            return False
        if linux:
            # tcp_disordered_ack(): a pure ACK at RCV.NXT acknowledging exactly SND.UNA,
            # no window update, with a timestamp less than one RTO old
            disordered = (
                seg.flags & ~Flags.PSH == Flags.ACK
                and not seg.length
                and seg.seq == self.rcv_nxt
                and seg.ack == self.snd_una
                and (seg.window or 0) << self.snd_wscale == self.snd_wnd
                and behind <= self.rtt.rto * 1000
            )
            if disordered:
                return False
        return True

    def _synchronized_rest(self, now: float, seg: Segment) -> None:
        """SEGMENT ARRIVES after the sequence-number check (second to eighth checks)."""
        st = self.state
        p = self.params
        if (
            self.ts_ok
            and seg.timestamp is not None
            and seq_le(seg.seq, self.rcv_nxt)
            and (
                seq_ge(seg.timestamp[0], self.ts_recent)
                or self.ts_recent == 0
                or now - self.ts_recent_time >= PAWS_IDLE
            )
        ):
            # RFC 7323 §4.3 (2): SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent (an
            # invalid TS.Recent, zero or 24 days old, is simply replaced: Linux tcp_paws_check)
            self.ts_recent = seg.timestamp[0]
            self.ts_recent_time = now
        # second: RST (RFC 5961 §3)
        if seg.rst:
            if p.rst_exact_match and seg.seq != self.rcv_nxt:
                self._drop(now, seg, "in-window RST that is not an exact match: challenge ACK (RFC 5961 §3.2)")
                self._send_oow_ack(now)
                return
            if st is State.SYN_RECEIVED:
                if self.passive:
                    self._transition(now, Event.RCV_RST, "passive open")
                    for name in list(self.timers):
                        self._cancel(now, name)
                else:
                    self.error = "ECONNREFUSED"
                    self._transition(now, Event.RCV_RST, "active open")
                return
            self._fail(now, Event.RCV_RST, "ECONNRESET")
            self.send_buf.clear()
            return
        # fourth: SYN (RFC 5961 §4)
        if seg.syn:
            if st is State.SYN_RECEIVED:
                if seg.seq == self.irs:
                    self._send_synack(now)
                else:
                    self._send_ack(now)
                return
            if p.syn_challenge_ack:
                self._drop(now, seg, "SYN in a synchronized state: challenge ACK (RFC 5961 §4)")
                self._send_oow_ack(now)
                return
            self._send_rst_ack(now)
            self.error = "ECONNRESET"
            self._transition(now, Event.RCV_SYN, "RFC 793 SYN handling")
            return
        # fifth: ACK
        if not seg.has_ack:
            self._drop(now, seg, "no ACK bit")
            return
        if st is State.SYN_RECEIVED:
            if seq_lt(self.snd_una, seg.ack) and seq_le(seg.ack, self.snd_max):
                # a bare FIN riding on the handshake's ACK takes the SYN_RECEIVED -> CLOSE_WAIT
                # row in one step (RFC 9293 §3.10.7.4, eighth check, SYN-RECEIVED)
                fin_with_ack = seg.fin and not seg.length and seg.seq == self.rcv_nxt
                self._established_from_syn_rcvd(now, seg, transition=not fin_with_ack)
            else:
                self._send_rst_for(now, seg)
                self._drop(now, seg, "unacceptable ACK in SYN_RECEIVED")
                return
        elif seq_gt(seg.ack, self.snd_max):
            self._drop(now, seg, "ACK for data not yet sent")
            self._send_oow_ack(now)
            return
        elif (p.os != "rfc9293" or p.rst_exact_match) and seq_lt(
            seg.ack, (self.snd_una - max(self.max_snd_wnd, 1)) & MASK
        ):
            # RFC 5961 §5.2: an ACK older than SND.UNA - MAX.SND.WND is a blind injection attempt
            self._drop(now, seg, "ACK too old (RFC 5961 §5.2): challenge ACK")
            self._send_oow_ack(now)
            return
        self.last_recv_time = now
        if self.keepalive:
            self._arm_keepalive(now)
        fin_acked_before = self._fin_acked()
        self._process_ack(now, seg)
        fin_acked = self._fin_acked() and not fin_acked_before
        st = self.state
        in_order_fin = seg.fin and seq_add(seg.seq, seg.length) == self.rcv_nxt and not self.fin_rcvd
        if fin_acked:
            if st is State.FIN_WAIT_1 and not in_order_fin:
                self._transition(now, Event.RCV_ACK_OF_FIN)
                self._arm_fin_wait_2(now)
            elif st is State.CLOSING:
                self._transition(now, Event.RCV_ACK_OF_FIN)
                self._enter_time_wait(now)
                return
            elif st is State.LAST_ACK:
                self._transition(now, Event.RCV_ACK_OF_FIN)
                return
        # seventh and eighth: text and FIN
        if seg.length or seg.fin:
            self._text_and_fin(now, seg, fin_acked_now=fin_acked)
        self._output(now)

    def _established_from_syn_rcvd(self, now: float, seg: Segment, *, transition: bool = True) -> None:
        if transition:
            self._transition(now, Event.RCV_ACK)
        self.ever_connected = True
        self.snd_wnd = (seg.window or 0) << self.snd_wscale
        self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
        self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
        self._arm_keepalive(now)
        if self.syn_data:
            # data carried by a simultaneous-open SYN, held until now (FreeBSD tcp_reass)
            self.recv_buf += self.syn_data
            self.rcv_nxt = seq_add(self.rcv_nxt, len(self.syn_data))
            self.syn_data = b""
            self.data_received = True

    def _fin_acked(self) -> bool:
        return self.fin_seq is not None and seq_gt(self.snd_una, self.fin_seq)

    def _ack_advance(self, now: float, ack: int) -> int:
        """Move SND.UNA to ``ack``; drop acknowledged bytes; returns bytes newly acknowledged."""
        if not seq_gt(ack, self.snd_una):
            return 0
        acked = seq_diff(ack, self.snd_una)
        data_acked = max(0, min(len(self.send_buf), seq_diff(ack, self._data_base)))
        del self.send_buf[:data_acked]
        if not seq_gt(self.snd_una, self.iss):
            acked -= 1  # the SYN is not data: it does not open the congestion window
        self.snd_una = ack
        while self.sent_segs and seq_le(self.sent_segs[0][1], ack):
            self.sent_segs.pop(0)
        if self.tlp_high is not None and seq_ge(ack, self.tlp_high):
            self.tlp_high = None
        if seq_lt(self.snd_nxt, ack):
            self.snd_nxt = ack
        if self.rtt_seq is not None and seq_ge(ack, self.rtt_seq):
            self.rtt.sample(max(0.0, now - self.rtt_time))
            self.rtt_seq = None
        return acked

    def _process_ack(self, now: float, seg: Segment) -> None:
        # a duplicate ACK (RFC 5681 §2): nothing new acknowledged, no data, same window, data outstanding
        dup = (
            seg.ack == self.snd_una
            and not seg.length
            and not (seg.flags & (Flags.SYN | Flags.FIN))
            and self.snd_una != self.snd_max
            and (seg.window or 0) << self.snd_wscale == self.snd_wnd
        )
        # "advanced" (SND.UNA moved) decides the timers; "acked" (bytes, the SYN not counted)
        # decides the congestion window: an ACK of a bare SYN-ACK advances but acks no data
        advanced = seq_gt(seg.ack, self.snd_una)
        acked = self._ack_advance(now, seg.ack)
        if advanced and self.recover is not None:
            self._cancel(now, "rexmt")
            if seq_ge(seg.ack, self.recover):
                # full ACK: leave fast recovery (RFC 6582 §3.2 step 3)
                self.cwnd = max(self.ssthresh, self.smss)
                self.recover = None
                self.dupacks = 0
            else:
                # partial ACK: the next hole is lost too; retransmit it (RFC 6582 step 4)
                self._retransmit_head(now)
                self.cwnd = max(self.cwnd - acked + self.smss, self.smss)
            self.retransmits = 0
            if self.snd_una != self.snd_max:
                self._set(now, "rexmt", now + self._rto())
        elif advanced:
            self.dupacks = 0
            self.retransmits = 0
            self.first_retransmit_time = None
            self._unacked_since = now
            # slow start / congestion avoidance (RFC 5681 §3.1)
            if not acked:
                pass
            elif self.cwnd < self.ssthresh:
                # Linux tcp_slow_start() adds every acknowledged segment; RFC 5681 caps the
                # increase at one SMSS per ACK (RFC 3465 discusses both)
                self.cwnd += acked if self.params.os == "linux" else min(acked, self.smss)
                self.cwnd = min(self.cwnd, max(self.ssthresh, 2 * self.smss))
            else:
                self.cwnd += max(1, self.smss * self.smss // max(1, self.cwnd))
            self._cancel(now, "rexmt")
            self._cancel(now, "tlp")
            if self.snd_una != self.snd_max:
                self._set(now, "rexmt", now + self._rto())
                self._schedule_tlp(now)
        elif dup:
            self.dupacks += 1
            if self.dupacks == 3 and self.recover is None:
                # fast retransmit and fast recovery (RFC 5681 §3.2, RFC 6582)
                self.ssthresh = max(seq_diff(self.snd_max, self.snd_una) // 2, 2 * self.smss)
                self._retransmit_head(now)
                self.cwnd = self.ssthresh + 3 * self.smss
                self.recover = self.snd_max
            elif self.dupacks > 3 and self.recover is not None:
                self.cwnd += self.smss  # each further duplicate: one segment has left the network
        # window update (RFC 9293 §3.10.7.4 fifth check)
        if seq_lt(self.snd_wl1, seg.seq) or (self.snd_wl1 == seg.seq and seq_le(self.snd_wl2, seg.ack)):
            self.snd_wnd = (seg.window or 0) << self.snd_wscale
            self.snd_wl1, self.snd_wl2 = seg.seq, seg.ack
            self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)

    def _text_and_fin(self, now: float, seg: Segment, *, syn_offset: int = 0, fin_acked_now: bool = False) -> None:
        st = self.state
        start = seq_add(seg.seq, syn_offset)
        payload = bytes(seg.payload) if seg.payload is not None else bytes(seg.length)
        if st in (State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
            if seg.length or seg.fin:
                self._send_ack(now)  # the peer already sent its FIN: just acknowledge
            return
        if (
            self.orphan
            and self.params.os in ("linux", "freebsd")
            and seg.length
            and seq_gt(seq_add(start, seg.length), self.rcv_nxt)
            and st in (State.FIN_WAIT_1, State.FIN_WAIT_2)
        ):
            # data after close(): nobody will read it (RFC 1122 §4.2.2.13).  Linux
            # tcp_rcv_state_process() counts TCPAbortOnData, tcp_reset()s the socket and
            # tcp_v4_do_rcv() answers the segment with tcp_v4_send_reset (seq = SEG.ACK);
            # FreeBSD tcp_do_segment() (SS_NOFDREF, tcps_rcvafterclose) -> dropwithreset, alike
            self._send_rst_for(now, seg)
            self.send_buf.clear()
            self.recv_buf.clear()
            self._transition(now, Event.RCV_DATA, DATA_AFTER_CLOSE)
            self._count(now, "TCPAbortOnData")
            return
        off = seq_diff(self.rcv_nxt, start)
        new_data = False
        fin_here = False
        if off < 0:
            # out of order: hold it and send a duplicate ACK at once (RFC 5681 §4.2)
            self.ooo[start] = (payload, seg.fin)
            self._send_ack(now)
            return
        chunk = payload[off:]
        room = max(0, self.rcv_space())
        if len(chunk) > room:
            chunk = chunk[:room]
            seg_fin = False
        else:
            seg_fin = seg.fin
        if chunk:
            self.recv_buf += chunk
            self.rcv_nxt = seq_add(self.rcv_nxt, len(chunk))
            new_data = True
        fin_here = seg_fin and seq_add(start, len(payload)) == self.rcv_nxt
        filled_gap = bool(self.ooo)
        # pull held segments that are now in order (and forget ones already covered)
        for s_old in [s for s, (d, _f) in self.ooo.items() if seq_lt(seq_add(s, len(d)), self.rcv_nxt)]:
            del self.ooo[s_old]
        while True:
            nxt = None
            for s, (d, _fin) in self.ooo.items():
                if seq_le(s, self.rcv_nxt) and seq_ge(seq_add(s, len(d)), self.rcv_nxt):
                    nxt = s
                    break
            if nxt is None:
                break
            d, f = self.ooo.pop(nxt)
            extra = d[seq_diff(self.rcv_nxt, nxt) :]
            self.recv_buf += extra
            self.rcv_nxt = seq_add(self.rcv_nxt, len(extra))
            new_data = new_data or bool(extra)
            fin_here = fin_here or f
        if new_data and filled_gap and not fin_here:
            # a segment that fills (part of) a gap is acknowledged at once (RFC 5681 §4.2)
            self.data_received = True
            self._send_ack(now)
        elif new_data:
            self._data_ack_policy(now, len(chunk))
        if fin_here:
            self._receive_fin(now, fin_acked_now=fin_acked_now)
        elif seg.length and not new_data:
            self._send_ack(now)  # duplicate data: acknowledge at once

    def _data_ack_policy(self, now: float, n: int) -> None:
        """When to acknowledge in-order data (RFC 9293 §3.8.6.3, RFC 1122 4.2.3.2; Linux quick-ACK mode)."""
        self.data_received = True
        self.ack_pending = True
        self.unacked_segs += 1
        if self.params.os == "linux" and self.quickacks > 0:
            self.quickacks -= 1
            self._send_ack(now)
            return
        if self.unacked_segs >= 2 or n >= 2 * self.smss or self.params.delayed_ack <= 0:
            self._send_ack(now)
            return
        if "delack" not in self.timers:
            self._set(now, "delack", now + self.params.delayed_ack)

    def _receive_fin(self, now: float, *, fin_acked_now: bool) -> None:
        self.rcv_nxt = seq_add(self.rcv_nxt, 1)
        self.fin_rcvd = True
        st = self.state
        if st in (State.ESTABLISHED, State.SYN_RECEIVED):
            self._transition(now, Event.RCV_FIN)
            if self.params.os == "linux" and self.data_received and self.params.delayed_ack > 0:
                # Linux: pingpong mode after a FIN, so the ACK is delayed once data has
                # flowed (icsk_ack.ato > 0); before any data it goes out at once.
                self.ack_pending = True
                self._cancel(now, "delack")
                self._set(now, "delack", now + self.params.delayed_ack)
            else:
                self._send_ack(now)
        elif st is State.FIN_WAIT_1:
            if self._fin_acked():
                self._transition(now, Event.RCV_FIN_ACK)
                self._send_ack(now)
                self._enter_time_wait(now)
            else:
                self._transition(now, Event.RCV_FIN)
                if self.params.os == "freebsd" and self.fin_seq is not None:
                    # FreeBSD's tcp_output() sends the still unacknowledged FIN again with
                    # this ACK (seen in the state-event scripts: "F. 1:1(0) ack 2" in CLOSING)
                    self._out(now, Flags.FIN, self.fin_seq)
                else:
                    self._send_ack(now)
        elif st is State.FIN_WAIT_2:
            self._transition(now, Event.RCV_FIN)
            self._send_ack(now)
            self._enter_time_wait(now)


_SEND_STATES = frozenset({State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK})
_TLP_STATES = frozenset({State.ESTABLISHED, State.FIN_WAIT_1, State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK})


def handshake_pair(profile: str = "rfc9293", *, now: float = 0.0) -> tuple[Connection, Connection]:
    """Two connections, client and server, with the three-way handshake already done by hand.

    Handy for examples and experiments: ``client`` is ``10.0.0.1:40000``, ``server``
    ``10.0.0.2:80``; the ISNs are 1000 and 5000 and the handshake took 30 ms.

    Examples
    --------
    >>> c, s = handshake_pair("linux")
    >>> c.state, s.state, c.smss
    (<State.ESTABLISHED: 'ESTABLISHED'>, <State.ESTABLISHED: 'ESTABLISHED'>, 1448)
    """
    from .profiles import get_profile

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
    if params.os == "freebsd":
        return int(params.extra.get("recvspace", 65536))
    if params.os == "linux":
        return 131072
    return 65535


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
    if params.os == "freebsd":
        return int(params.extra.get("sendspace", 32768))
    if params.os == "linux":
        return 262144
    return 65535
