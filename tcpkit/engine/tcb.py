"""The parts of a transmission control block (传输控制块), one small dataclass each.

RFC 9293 §3.3.1 names the variables a TCB keeps; :class:`~tcpkit.engine.connection.Connection`
holds one instance of each group below instead of seventy loose attributes.
The groups hold data only: what to do with it lives in ``connection`` (segment
arrival, user calls) and ``sender`` (output, retransmission, timers).

Examples
--------
>>> snd = SendSequence.starting_at(1000)
>>> snd.una, snd.nxt, snd.max
(1000, 1000, 1000)
>>> Negotiated(our_mss=1460).smss
536
>>> Negotiated(our_mss=1460, peer_mss=1460, ts_ok=True).smss     # less the 12-byte timestamp option
1448
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .seqnum import MASK

__all__ = [
    "TimeWaitBuckets",
    "SendSequence",
    "ReceiveSequence",
    "SendQueue",
    "ReceiveQueue",
    "Negotiated",
    "Congestion",
    "Retransmission",
    "AckState",
    "Keepalive",
    "Clocks",
]


@dataclass(slots=True)
class SendSequence:
    """Send sequence variables (RFC 9293 §3.3.1), plus SND.MAX and MAX.SND.WND.

    ``max`` is the highest sequence number sent so far (SND.NXT goes back to SND.UNA
    on a retransmission timeout, SND.MAX does not); ``max_wnd`` is the largest window
    the peer ever offered (RFC 5961 §5.2).
    """

    iss: int
    una: int
    nxt: int
    max: int
    wnd: int = 0
    wl1: int = 0
    wl2: int = 0
    max_wnd: int = 0

    @classmethod
    def starting_at(cls, iss: int) -> SendSequence:
        """A send space before the SYN: SND.UNA = SND.NXT = SND.MAX = ISS."""
        iss &= MASK
        return cls(iss=iss, una=iss, nxt=iss, max=iss)


@dataclass(slots=True)
class ReceiveSequence:
    """Receive sequence variables (RFC 9293 §3.3.1): IRS and RCV.NXT (RCV.WND is the free buffer)."""

    irs: int = 0
    nxt: int = 0


@dataclass(slots=True)
class SendQueue:
    """Bytes the application wrote and our FIN.

    ``data`` starts at the connection's data base (the first unacknowledged byte);
    ``in_flight`` lists ``(seq, end, fin, sent_at)`` of segments sent and not yet
    acknowledged (``sent_at``: their first transmission).
    """

    size: int
    data: bytearray = field(default_factory=bytearray)
    fin_queued: bool = False
    fin_sent: bool = False
    fin_seq: int | None = None
    in_flight: list[tuple[int, int, bool, float]] = field(default_factory=list)


@dataclass(slots=True)
class ReceiveQueue:
    """Bytes received in order and not yet read, segments held out of order, and the peer's FIN."""

    size: int
    data: bytearray = field(default_factory=bytearray)
    out_of_order: dict[int, tuple[bytes, bool]] = field(default_factory=dict)  # seq -> (data, fin)
    syn_data: bytes = b""  # data that came on a SYN in SYN_SENT (FreeBSD queues it)
    fin_rcvd: bool = False
    rd_shut: bool = False
    any_data: bool = False  # data has arrived on this connection
    locked: bool = False  # the size was set by SO_RCVBUF (Linux SOCK_RCVBUF_LOCK)
    initial_window: int = 0xFFFF  # the window of our SYN or SYN-ACK


@dataclass(slots=True)
class Negotiated:
    """What the SYN exchange agreed: MSS (RFC 9293 §3.7.1), window scale and timestamps (RFC 7323), SACK (RFC 2018)."""

    our_mss: int
    peer_mss: int = 536
    snd_wscale: int = 0
    rcv_wscale: int = 0
    ws_ok: bool = False
    ts_ok: bool = False
    sack_ok: bool = False
    ts_recent: int = 0
    ts_recent_time: float = 0.0  # when TS.Recent was last set (Linux ts_recent_stamp)

    @property
    def smss(self) -> int:
        """Sender MSS: the peer's MSS option capped by ours, less the timestamp option (RFC 9293 §3.7.1)."""
        m = min(self.peer_mss, self.our_mss)
        return max(1, m - (12 if self.ts_ok else 0))


@dataclass(slots=True)
class Congestion:
    """Congestion control (RFC 5681) and NewReno fast recovery (RFC 6582)."""

    cwnd: int
    ssthresh: int = 1 << 30
    dupacks: int = 0
    recover: int | None = None  # SND.MAX when fast recovery began


@dataclass(slots=True)
class Retransmission:
    """Retransmission bookkeeping: the count, Karn's RTT sample, the tail loss probe, persist probes.

    ``persist_probes`` counts zero-window probes since the last ACK (Linux ``icsk_probes_out``:
    any ACK resets it); ``persist_backoff`` doubles the probe interval and is reset only when
    the window opens (``icsk_backoff``); ``probes_since`` is when probing began
    (``icsk_probes_tstamp``).
    """

    retransmits: int = 0
    rtt_seq: int | None = None  # the sequence number whose ACK gives an RTT sample
    rtt_time: float = 0.0
    tlp_high: int | None = None  # SND.MAX when the last tail loss probe went out
    persist_probes: int = 0
    persist_backoff: int = 0
    probes_since: float | None = None


@dataclass(slots=True)
class AckState:
    """When to acknowledge: quick ACKs, a pending delayed ACK, and the rate limit on ACKs to invalid segments."""

    quickacks: int
    pending: bool = False
    unacked_segs: int = 0
    oow_times: list[float] = field(default_factory=list)


@dataclass(slots=True)
class Keepalive:
    """SO_KEEPALIVE and its TCP_KEEP* options (RFC 9293 §3.8.4)."""

    idle: float
    intvl: float
    cnt: int
    on: bool = False
    probes: int = 0


@dataclass(slots=True)
class Clocks:
    """Moments the timers measure from.

    ``unacked_since`` is when the oldest unacknowledged byte was first sent (Linux
    ``retrans_stamp``); ``user_timeout`` is TCP_USER_TIMEOUT in seconds (0 = off).
    """

    open_time: float = 0.0
    last_recv_time: float = 0.0
    unacked_since: float = 0.0
    user_timeout: float = 0.0


@dataclass(slots=True)
class TimeWaitBuckets:
    """How many TIME_WAIT sockets a host holds (shared by all its connections).

    Linux keeps at most ``tcp_max_tw_buckets`` of them; a connection that would enter
    TIME_WAIT beyond that closes at once and counts ``TCPTimeWaitOverflow``
    (net/ipv4/inet_timewait_sock.c ``inet_twsk_alloc()``, tcp_minisocks.c ``tcp_time_wait()``).

    >>> b = TimeWaitBuckets(); b.used
    0
    """

    used: int = 0
