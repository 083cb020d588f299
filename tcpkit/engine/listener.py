"""A listening socket: the SYN queue (半连接队列), the accept queue (全连接队列) and SYN cookies.

A :class:`Listener` is the LISTEN end of a passive open.  Each SYN that is
accepted creates a child :class:`~tcpkit.engine.connection.Connection` that moves
LISTEN -> SYN_RECEIVED and waits in the SYN queue; when the handshake's
final ACK arrives the child becomes ESTABLISHED and moves to the accept
queue, where ``accept()`` finds it.  The rules for full queues follow Linux
(``params.os == "linux"``); the FreeBSD profile uses the same code with its
own limits, which is close enough to its syncache for the state-event
scripts (a SYN-ACK per SYN, SYN_RCVD entries visible to ``sockstat``, RST
handling per RFC 5961).  FreeBSD's own SYN-cookie layout is not modelled: both
profiles use the Linux one (:mod:`tcpkit.engine.syncookies`).

Examples
--------
>>> from tcpkit.engine.profiles import get_profile
>>> from tcpkit.engine.segment import parse_segment
>>> sent = []
>>> def child(now, remote):
...     return Connection(get_profile("linux").params, local=("10.0.0.1", 80), remote=remote, iss=7000, passive=True)
>>> lst = Listener(0.0, get_profile("linux").params, local=("10.0.0.1", 80), backlog=1, make_child=child)
>>> syn = parse_segment("S 0:0(0) win 65535 <mss 1460>").replace(src_port=5000, dst_port=80)
>>> c = lst.segment_arrives(0.0, "10.0.0.2", syn, send=sent.append)
>>> c.state, lst.queue_lengths()
(<State.SYN_RECEIVED: 'SYN_RECEIVED'>, (1, 0))
>>> ack = parse_segment(". 1:1(0) ack 7001 win 500").replace(src_port=5000, dst_port=80)
>>> lst.child_segment(0.1, c, ack, send=sent.append); lst.queue_lengths()
(0, 1)
>>> lst.accept(0.1) is c
True

Notes
-----
Linux: ``net/ipv4/tcp_input.c`` ``tcp_conn_request()`` (SYN admission, cookie
decision, ``tcp_max_syn_backlog``), ``net/ipv4/tcp_minisocks.c``
``tcp_check_req()`` (final ACK, ``tcp_abort_on_overflow``),
``include/net/inet_connection_sock.h`` ``inet_csk_reqsk_queue_is_full()`` (full when
the SYN queue holds MORE than the backlog since Linux 6.13, commit 3479c7549fb1),
``include/net/sock.h`` ``sk_acceptq_is_full()``,
``net/ipv4/inet_connection_sock.c`` ``reqsk_timer_handler()`` (SYN-ACK
retransmission, with ``acked`` requests kept alive), ``net/ipv4/syncookies.c``
(cookies).  RFC 9293 §3.10.7.2 (SEGMENT ARRIVES in LISTEN).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from tcpkit.engine import syncookies

from .connection import Connection
from .events import ConnId, CounterChanged, QueueChanged, SegmentDropped, SegmentSent, StateChanged, Tracer, TraceRecord
from .profiles import Params
from .segment import MSS, Flags, Segment
from .states import ACCEPT_OVERFLOW, Event, State, lookup

__all__ = [
    "Listener",
    "COUNTERS",
    "syn_queue_is_full",
    "accept_queue_is_full",
    "syn_backlog_reserved",
    "syn_queue_capacity",
    "synack_retry_limit",
]

#: The nstat counters a listener maintains.
COUNTERS: tuple[str, ...] = (
    "ListenOverflows",
    "ListenDrops",
    "SyncookiesSent",
    "SyncookiesRecv",
    "SyncookiesFailed",
    "TCPReqQFullDrop",
    "TCPReqQFullDoCookies",
)

Send = Callable[[Segment], None]

#: ``TCP_SYNCOOKIE_VALID`` (include/net/tcp.h): how long after the last cookie an ACK may be one, seconds.
SYNCOOKIE_VALID = 120.0


# ---------------------------------------------------------------------------- the queue rules
# Pure functions of the profile and the queue lengths, so that the Listener below and the
# SYN-flood model (tcpkit.drivers.flood_model) apply the very same rules.


def syn_queue_is_full(params: Params, qlen: int, backlog: int) -> bool:
    """``inet_csk_reqsk_queue_is_full()``: is a SYN queue of ``qlen`` requests full?

    Parameters
    ----------
    params : Params
    qlen : int
        Requests in the SYN queue.
    backlog : int
        The listen backlog already capped by ``somaxconn`` (``sk_max_ack_backlog``).

    Returns
    -------
    bool

    Examples
    --------
    >>> from dataclasses import replace
    >>> from tcpkit.engine.profiles import get_profile
    >>> p = get_profile("linux").params
    >>> syn_queue_is_full(p, 1, 1), syn_queue_is_full(p, 2, 1), syn_queue_is_full(p, 0, 0)
    (False, True, False)
    >>> old = replace(p, syn_queue_full_above_backlog=False)      # Linux 4.4 to 6.12
    >>> syn_queue_is_full(old, 1, 1), syn_queue_is_full(old, 0, 0)
    (True, True)

    Notes
    -----
    Linux: include/net/inet_connection_sock.h compares ``inet_csk_reqsk_queue_len(sk)``
    with ``sk->sk_max_ack_backlog`` using ``>`` since Linux 6.13 (commit 3479c7549fb1,
    "tcp/dccp: allow a connection when sk_max_ack_backlog is zero") and ``>=`` from
    Linux 4.4 (commit ef547f2ac16b) to 6.12; :attr:`Params.syn_queue_full_above_backlog`
    says which.  ``tcp_conn_request()`` (net/ipv4/tcp_input.c) asks it for every SYN, with
    SYN cookies on or off.  FreeBSD's syncache is bounded by its own size
    (``net.inet.tcp.syncache.cachelimit``, here ``max_syn_backlog``), not by the backlog.
    """
    if params.os == "freebsd":
        return qlen >= params.max_syn_backlog
    if params.syn_queue_full_above_backlog:
        return qlen > backlog
    return qlen >= backlog


def accept_queue_is_full(params: Params, alen: int, backlog: int) -> bool:
    """``sk_acceptq_is_full()``: is an accept queue of ``alen`` connections full?

    Linux calls it full only when MORE than ``backlog`` wait, so ``backlog + 1`` fit.

    Examples
    --------
    >>> from tcpkit.engine.profiles import get_profile
    >>> p = get_profile("linux").params
    >>> accept_queue_is_full(p, 1, 1), accept_queue_is_full(p, 2, 1)
    (False, True)

    Notes
    -----
    include/net/sock.h: ``READ_ONCE(sk->sk_ack_backlog) > READ_ONCE(sk->sk_max_ack_backlog)``.
    FreeBSD ``sonewconn()`` (sys/kern/uipc_socket.c): over when ``sol_qlen > 3 * sol_qlimit / 2``.
    """
    if params.os == "freebsd":
        return alen > 3 * backlog // 2
    return alen > backlog


def syn_backlog_reserved(params: Params, qlen: int) -> bool:
    """With SYN cookies off, is the SYN queue in the last quarter of ``tcp_max_syn_backlog``?

    Such a SYN is dropped unless its peer is "proven alive" (this model keeps no TCP
    metrics cache, so no peer is).  It counts ``ListenDrops`` only: ``TCPReqQFullDrop``
    belongs to the queue-full test (:func:`syn_queue_is_full`).

    Examples
    --------
    >>> from tcpkit.engine.profiles import get_profile
    >>> p = get_profile("linux", tcp_syncookies=0, tcp_max_syn_backlog=8).params
    >>> [syn_backlog_reserved(p, q) for q in (5, 6, 7)]          # 8 - qlen < 8 >> 2
    [False, False, True]
    >>> syn_backlog_reserved(get_profile("linux", tcp_max_syn_backlog=8).params, 7)   # cookies on
    False

    Notes
    -----
    net/ipv4/tcp_input.c ``tcp_conn_request()``: ``!syncookies && (max_syn_backlog -
    inet_csk_reqsk_queue_len(sk) < (max_syn_backlog >> 2)) && !tcp_peer_is_proven(...)``
    then ``goto drop_and_release`` (``tcp_listendrop()``: ``ListenDrops``).
    """
    msb = params.max_syn_backlog
    return not params.syncookies and msb - qlen < (msb >> 2)


def syn_queue_capacity(params: Params, backlog: int) -> int:
    """How many requests the SYN queue takes before every new SYN is refused or answered with a cookie.

    The smallest queue length at which :func:`syn_queue_is_full` or (cookies off)
    :func:`syn_backlog_reserved` holds.  With ``tcp_syncookies = 2`` no request is ever
    queued, but the queue rules still say how many could be.

    Examples
    --------
    >>> from tcpkit.engine.profiles import get_profile
    >>> syn_queue_capacity(get_profile("linux").params, 128)       # backlog + 1 requests fit
    129
    >>> syn_queue_capacity(get_profile("linux", tcp_syncookies=0, tcp_max_syn_backlog=16).params, 128)
    13
    """

    def refused(q: int) -> bool:
        return syn_queue_is_full(params, q, backlog) or syn_backlog_reserved(params, q)

    lo, hi = 0, max(backlog + 1, params.max_syn_backlog)  # refused(hi) holds; both tests grow with q
    while lo < hi:
        mid = (lo + hi) // 2
        if refused(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def synack_retry_limit(params: Params, qlen: int, young: int, backlog: int) -> int:
    """How many SYN-ACK retransmissions a request may make when its timer fires (``reqsk_timer_handler``).

    Normally ``tcp_synack_retries``.  On Linux, when the SYN queue is more than half
    full (``qlen << 1 > max(8, backlog)``), old requests are pruned: the limit drops by
    one (down to 2) for each doubling of the "young" count (requests that have not
    retransmitted yet) that the queue length still reaches -- "we reserve half of room
    for young embrions; and abort old ones without pity".  A request expires when the
    number of SYN-ACKs it has retransmitted reaches the limit.

    Parameters
    ----------
    params : Params
    qlen : int
        Requests in the SYN queue (``reqsk_queue_len``).
    young : int
        Those that have not retransmitted yet (``reqsk_queue_len_young``).
    backlog : int
        The listen backlog capped by ``somaxconn`` (``sk_max_ack_backlog``).

    Examples
    --------
    >>> from tcpkit.engine.profiles import get_profile
    >>> p = get_profile("linux").params
    >>> synack_retry_limit(p, 5, 5, 8)         # half full or less: no pruning
    5
    >>> synack_retry_limit(p, 8, 8, 8), synack_retry_limit(p, 8, 4, 8), synack_retry_limit(p, 8, 0, 8)
    (5, 4, 2)
    >>> synack_retry_limit(get_profile("freebsd").params, 8, 0, 8)   # no such rule in the syncache
    3

    Notes
    -----
    net/ipv4/inet_connection_sock.c ``reqsk_timer_handler()`` (``max_syn_ack_retries``,
    ``reqsk_queue_len_young``) and ``syn_ack_recalc()``.  FreeBSD's syncache has no such rule.
    """
    limit = params.synack_retries
    if params.os != "linux":
        return limit
    if qlen << 1 > max(8, backlog):
        y = young << 1
        while limit > 2:
            if qlen < y:
                break
            limit -= 1
            y <<= 1
    return limit


class Listener:
    """The LISTEN socket of a passive open.

    Parameters
    ----------
    now : float
        When ``listen()`` was called.
    params : Params
    local : (addr, port)
    backlog : int
        The ``listen()`` backlog; capped by ``params.somaxconn``.
    make_child : callable ``(now, (addr, port)) -> Connection``
        Builds a child TCB (with its ISN) for a new SYN.
    host : str
    tracer : callable, optional
    counters : dict, optional
        Shared nstat-like counters (the Stack passes its own).
    cookie_seed : int
        Secret source for SYN cookies.
    """

    def __init__(
        self,
        now: float,
        params: Params,
        *,
        local: tuple[str, int],
        backlog: int,
        make_child: Callable[[float, tuple[str, int]], Connection],
        host: str = "host",
        tracer: Tracer | None = None,
        counters: dict[str, int] | None = None,
        cookie_seed: int = 0,
    ) -> None:
        self.params = params
        self.local = local
        self.host = host
        self.tracer = tracer
        self.make_child = make_child
        self.counters = counters if counters is not None else {}
        for name in COUNTERS:
            self.counters.setdefault(name, 0)
        self.cookie_seed = cookie_seed
        self.backlog = max(0, min(backlog, params.somaxconn))
        self.syn_queue: dict[ConnId, Connection] = {}
        self.accept_queue: deque[Connection] = deque()
        #: when this listener last answered a SYN with a cookie (``tcp_synq_overflow``), or None
        self.last_overflow: float | None = None
        self.state = State.CLOSED
        self._transition(now, Event.PASSIVE_OPEN)
        self._emit_queue(now)

    # ------------------------------------------------------------------ bookkeeping
    @property
    def conn_id(self) -> ConnId:
        return (self.local[0], self.local[1], "0.0.0.0", 0)

    def _emit(self, event: TraceRecord) -> None:
        if self.tracer is not None:
            self.tracer(event)

    def _transition(self, now: float, event: Event, condition: str = "") -> None:
        row = lookup(self.state, event, condition)
        self.state = row.dst
        self._emit(StateChanged(time=now, host=self.host, conn=self.conn_id, row=row))

    def _count(self, now: float, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1
        self._emit(CounterChanged(time=now, host=self.host, conn=self.conn_id, name=name, value=self.counters[name]))

    def _send_own(self, now: float, seg: Segment, send: Send) -> None:
        """A segment of the listener itself (not of a child, which traces its own)."""
        self._emit(SegmentSent(time=now, host=self.host, conn=self.conn_id, segment=seg))
        send(seg)

    def queue_lengths(self) -> tuple[int, int]:
        """``(SYN queue, accept queue)`` lengths."""
        return (len(self.syn_queue), len(self.accept_queue))

    def _emit_queue(self, now: float) -> None:
        if self.tracer is not None:
            n, m = self.queue_lengths()
            syn_limit, accept_limit = self.queue_limits()
            self.tracer(
                QueueChanged(
                    time=now,
                    host=self.host,
                    conn=self.conn_id,
                    syn_queue=n,
                    accept_queue=m,
                    syn_limit=syn_limit,
                    accept_limit=accept_limit,
                )
            )

    def queue_limits(self) -> tuple[int, int]:
        """``(SYN queue, accept queue)`` limits: a queue is full when it holds MORE than its limit.

        On Linux both limits are the backlog (``sk_max_ack_backlog``), so ``backlog + 1``
        requests and ``backlog + 1`` connections fit (:func:`syn_queue_is_full`,
        :func:`accept_queue_is_full`); with cookies off ``tcp_max_syn_backlog`` may stop
        the SYN queue earlier (:func:`syn_backlog_reserved`).

        >>> from tcpkit.engine.profiles import get_profile
        >>> Listener(0.0, get_profile("linux").params, local=("a", 80), backlog=8, make_child=print).queue_limits()
        (8, 8)
        """
        syn = self.params.max_syn_backlog if self.params.os == "freebsd" else self.backlog
        return (syn, self.backlog)

    def syn_queue_full(self) -> bool:
        """``inet_csk_reqsk_queue_is_full()`` for this listener (see :func:`syn_queue_is_full`).

        Examples
        --------
        >>> from tcpkit.engine.profiles import get_profile
        >>> lst = Listener(0.0, get_profile("linux").params, local=("a", 80), backlog=0, make_child=print)
        >>> lst.syn_queue_full(), lst.accept_queue_full()      # listen(0) still admits one request
        (False, False)
        """
        return syn_queue_is_full(self.params, len(self.syn_queue), self.backlog)

    def synack_retry_limit(self) -> int:
        """How many SYN-ACK retransmissions a request may still make (:func:`synack_retry_limit`).

        Examples
        --------
        >>> from tcpkit.engine.profiles import get_profile
        >>> from tcpkit.engine.segment import parse_segment
        >>> p = get_profile("linux").params
        >>> def child(now, remote):
        ...     return Connection(p, local=("10.0.0.1", 80), remote=remote, iss=7, passive=True)
        >>> lst = Listener(0.0, p, local=("10.0.0.1", 80), backlog=8, make_child=child)
        >>> for port in range(5000, 5005):
        ...     syn = parse_segment("S 0:0(0) win 65535").replace(src_port=port, dst_port=80)
        ...     _ = lst.segment_arrives(0.0, "10.0.0.2", syn, send=lambda s: None)
        >>> lst.synack_retry_limit()          # 5 of 8, all young: no pruning
        5
        >>> for c in lst.syn_queue.values():
        ...     c.retransmits = 1             # all of them have retransmitted once
        >>> lst.synack_retry_limit()
        2
        """
        young = sum(1 for c in self.syn_queue.values() if c.retransmits == 0)
        return synack_retry_limit(self.params, len(self.syn_queue), young, self.backlog)

    def accept_queue_full(self) -> bool:
        """``sk_acceptq_is_full()``: MORE than ``backlog`` children wait (see :func:`accept_queue_is_full`).

        Examples
        --------
        >>> from tcpkit.engine.profiles import get_profile
        >>> lst = Listener(0.0, get_profile("linux").params, local=("a", 80), backlog=1, make_child=print)
        >>> lst.accept_queue.extend(["c1", "c2"]); lst.accept_queue_full()    # backlog 1 holds two
        True
        """
        return accept_queue_is_full(self.params, len(self.accept_queue), self.backlog)

    # ------------------------------------------------------------------ segments
    def segment_arrives(self, now: float, src_addr: str, seg: Segment, *, send: Send) -> Connection | None:
        """SEGMENT ARRIVES in LISTEN (RFC 9293 §3.10.7.2) for a segment no connection claimed.

        Returns the new child connection (in SYN_RECEIVED, or already ESTABLISHED when a
        SYN cookie was validated), or ``None``.  Replies that do not belong to a child
        (RSTs, stateless cookie SYN-ACKs) go to ``send``.
        """
        if seg.rst:
            self._drop(now, seg, "RST in LISTEN is ignored")
            return None
        if seg.has_ack:
            if not seg.syn and self.params.syncookies and self.params.os in ("linux", "freebsd"):
                handled, child = self._cookie_ack(now, src_addr, seg, send=send)
                if handled:
                    return child
            self._send_own(now, _rst_for(seg), send)
            self._drop(now, seg, "ACK in LISTEN: answered with RST")
            return None
        if not seg.syn:
            self._drop(now, seg, "neither SYN, ACK nor RST in LISTEN")
            return None
        return self._syn(now, src_addr, seg, send=send)

    def _drop(self, now: float, seg: Segment, reason: str) -> None:
        self._emit(SegmentDropped(time=now, host=self.host, conn=self.conn_id, segment=seg, reason=reason))

    def _syn(self, now: float, src_addr: str, seg: Segment, *, send: Send) -> Connection | None:
        """``tcp_conn_request()`` (net/ipv4/tcp_input.c): admit a SYN, answer with cookies, or drop."""
        p = self.params
        key = (self.local[0], self.local[1], src_addr, seg.src_port)
        old = self.syn_queue.get(key)
        if old is not None:
            # a retransmitted SYN for a request we hold: the request answers it
            old.segment_arrives(now, seg)
            return None
        want_cookie = False
        if p.syncookies == 2 or self.syn_queue_full():
            if p.syncookies:
                want_cookie = True
                self._count(now, "TCPReqQFullDoCookies")
            else:
                self._count(now, "TCPReqQFullDrop")
                self._count(now, "ListenDrops")
                self._drop(now, seg, "SYN queue full and syncookies off")
                return None
        if self.accept_queue_full():
            self._count(now, "ListenOverflows")
            self._count(now, "ListenDrops")
            self._drop(now, seg, "accept queue full")
            return None
        if not want_cookie and syn_backlog_reserved(p, len(self.syn_queue)):
            # the last quarter of tcp_max_syn_backlog is kept for peers proven alive
            # (tcp_peer_is_proven); this model has no TCP metrics cache, so none is proven.
            # Counted as ListenDrops only (TCPReqQFullDrop is tcp_syn_flood_action()'s).
            self._count(now, "ListenDrops")
            self._drop(now, seg, "tcp_max_syn_backlog: last quarter kept for proven peers")
            return None
        child = self.make_child(now, (src_addr, seg.src_port))
        child.listener = self
        if want_cookie:
            c = syncookies.encode(
                src_addr,
                self.local[0],
                seg.src_port,
                self.local[1],
                client_isn=seg.seq,
                mss=seg.mss or 536,
                now=now,
                seed=self.cookie_seed,
            )
            child.iss = child.snd_una = child.snd_nxt = child.snd_max = c.cookie
            child.accept_syn(now, seg, cookie=True)
            for out in child.take_outgoing():
                send(out)
            self._count(now, "SyncookiesSent")
            self._note_overflow(now)
            # no state is kept: the child is forgotten
            return None
        child.accept_syn(now, seg)
        self.syn_queue[child.conn_id] = child
        self._emit_queue(now)
        return child

    def _note_overflow(self, now: float) -> None:
        """``tcp_synq_overflow()`` (include/net/tcp.h): remember that a cookie was sent.

        The stamp moves only when the last one is more than a second old (Linux keeps
        it in jiffies and rewrites it at most once per ``HZ``).
        """
        last = self.last_overflow
        if last is None or not last <= now <= last + 1.0:
            self.last_overflow = now

    def no_recent_overflow(self, now: float) -> bool:
        """``tcp_synq_no_recent_overflow()``: no SYN cookie sent within ``TCP_SYNCOOKIE_VALID``.

        An ACK for no request is only checked as a cookie when one was sent recently
        (from one second before the stamp to ``TCP_SYNCOOKIE_VALID`` = 2 minutes after it).

        Notes
        -----
        include/net/tcp.h ``tcp_synq_no_recent_overflow()``, ``TCP_SYNCOOKIE_VALID``
        (``MAX_SYNCOOKIE_AGE * TCP_SYNCOOKIE_PERIOD`` = 2 * 60 s); net/ipv4/syncookies.c
        ``cookie_v4_check()`` returns at once when it is true.

        Examples
        --------
        >>> from tcpkit.engine.profiles import get_profile
        >>> lst = Listener(0.0, get_profile("linux").params, local=("a", 80), backlog=1, make_child=print)
        >>> lst.no_recent_overflow(5.0)
        True
        >>> lst._note_overflow(5.0); lst.no_recent_overflow(100.0), lst.no_recent_overflow(126.0)
        (False, True)
        """
        last = self.last_overflow
        return last is None or not last - 1.0 <= now <= last + SYNCOOKIE_VALID

    def _cookie_ack(self, now: float, src_addr: str, seg: Segment, *, send: Send) -> tuple[bool, Connection | None]:
        """An ACK for no request: maybe the echo of a SYN cookie (``cookie_v4_check``).

        Returns ``(handled, child)``; not handled means "answer with RST".  A valid cookie
        meeting a full accept queue is dropped silently (``tcp_v4_syn_recv_sock`` overflow):
        the client's next segment carries the same cookie and may succeed later.
        On Linux an ACK is not even checked (nor counted as ``SyncookiesFailed``)
        unless a cookie was sent recently (:meth:`no_recent_overflow`).
        """
        if self.params.os == "linux" and self.no_recent_overflow(now):
            return False, None
        mss = syncookies.check_ack(seg, src_addr, self.local[0], now=now, seed=self.cookie_seed)
        if mss is None:
            self._count(now, "SyncookiesFailed")
            return False, None
        self._count(now, "SyncookiesRecv")
        if self.accept_queue_full():
            self._count(now, "ListenOverflows")
            self._count(now, "ListenDrops")
            self._drop(now, seg, "valid cookie but the accept queue is full")
            return True, None
        child = self.make_child(now, (src_addr, seg.src_port))
        child.listener = self
        syn = Segment(
            src_port=seg.src_port,
            dst_port=seg.dst_port,
            seq=(seg.seq - 1) & 0xFFFFFFFF,
            flags=Flags.SYN,
            window=seg.window,
            options=(MSS(mss), *syncookies.options_from_ack(seg)),
        )
        cookie = (seg.ack - 1) & 0xFFFFFFFF
        child.iss = child.snd_una = child.snd_nxt = child.snd_max = cookie
        child.accept_syn(now, syn, reply=False)
        child.segment_arrives(now, seg)
        for out in child.take_outgoing():
            send(out)
        if child.state is not State.CLOSED:
            self.accept_queue.append(child)
            self._emit_queue(now)
        return True, child

    def child_segment(self, now: float, child: Connection, seg: Segment, *, send: Send) -> None:
        """A segment for a child still in SYN_RECEIVED (``tcp_check_req``).

        When the final ACK arrives but the accept queue is full: with
        ``tcp_abort_on_overflow = 0`` the ACK is dropped (the client believes it is
        ESTABLISHED; the server keeps retransmitting its SYN-ACK and completes the
        handshake on a later ACK when there is room); with ``1`` it answers RST.
        """
        completes = (
            seg.has_ack
            and not seg.rst
            and not seg.syn
            and child.state is State.SYN_RECEIVED
            and child._acceptable(seg)
            and seg.ack == child.snd_max
        )
        if completes and self.accept_queue_full():
            self._count(now, "ListenOverflows")
            self._count(now, "ListenDrops")
            if self.params.abort_on_overflow:
                # tcp_check_req(): listen_overflow -> embryonic_reset: ONE reset, built from
                # the ACK (tcp_v4_send_reset: seq = its ack, no ACK flag); the request goes
                child._send_rst_for(now, seg)
                child.send_buf.clear()
                child._transition(now, Event.RCV_ACK, ACCEPT_OVERFLOW)
                for out in child.take_outgoing():
                    send(out)
                self._forget(now, child)
            else:
                self._drop(now, seg, "accept queue full: final ACK dropped (tcp_abort_on_overflow = 0)")
            return
        child.segment_arrives(now, seg)
        for out in child.take_outgoing():
            send(out)
        self.child_changed(now, child)

    def child_changed(self, now: float, child: Connection) -> None:
        """Move a child between queues after its state changed (also called after timers)."""
        key = child.conn_id
        if key not in self.syn_queue:
            return
        if child.state is State.SYN_RECEIVED:
            return
        del self.syn_queue[key]
        if child.state not in (State.CLOSED, State.LISTEN):
            self.accept_queue.append(child)
        self._emit_queue(now)

    def _forget(self, now: float, child: Connection) -> None:
        if self.syn_queue.pop(child.conn_id, None) is not None:
            self._emit_queue(now)

    def accept(self, now: float) -> Connection | None:
        """The oldest child of the accept queue, or ``None``."""
        while self.accept_queue:
            c = self.accept_queue.popleft()
            self._emit_queue(now)
            return c
        return None

    def close(self, now: float, *, abort: bool = False) -> list[Connection]:
        """CLOSE in LISTEN (RFC 9293 §3.10.4): forget requests, reset accepted-but-unclaimed children.

        Returns every child that was dropped (so the Stack can unregister them).
        ``abort=True`` takes the ABORT row instead (RFC 9293 §3.10.5; SO_LINGER 0).

        Notes
        -----
        Linux ``inet_csk_listen_stop()`` (net/ipv4/inet_connection_sock.c): request
        sockets are freed silently, children in the accept queue are disconnected
        (``tcp_disconnect`` sends an RST in synchronized states).

        Examples
        --------
        >>> from tcpkit.engine.profiles import get_profile
        >>> lst = Listener(0.0, get_profile("linux").params, local=("a", 80), backlog=4, make_child=print)
        >>> lst.close(1.0), lst.state
        ([], <State.CLOSED: 'CLOSED'>)
        """
        dropped: list[Connection] = []
        for child in list(self.syn_queue.values()):
            # request sockets are freed without a word (no segment, no state record)
            child.timers.clear()
            dropped.append(child)
        self.syn_queue.clear()
        for child in list(self.accept_queue):
            child.abort(now)
            dropped.append(child)
        self.accept_queue.clear()
        self._emit_queue(now)
        self._transition(now, Event.ABORT if abort else Event.CLOSE)
        return dropped


def _rst_for(seg: Segment) -> Segment:
    """The reset RFC 9293 §3.10.7.1/§3.10.7.2 send in answer to ``seg`` (never for an RST)."""
    if seg.has_ack:
        return Segment(src_port=seg.dst_port, dst_port=seg.src_port, seq=seg.ack, flags=Flags.RST, window=0)
    return Segment(
        src_port=seg.dst_port, dst_port=seg.src_port, seq=0, ack=seg.end_seq, flags=Flags.RST | Flags.ACK, window=0
    )
