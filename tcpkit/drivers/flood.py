"""A SYN flood (SYN 洪泛攻击) against a Linux listener, fast enough for a slider.

:func:`simulate_flood` answers "what fraction of honest clients still get
in?" for a flood of spoofed SYNs, in well under a second for 60 s of
10,000 SYN/s.  It follows the listener rules of the engine
(:mod:`tcpkit.engine.listener`) and of Linux ``tcp_conn_request``, but it does not
push 600,000 events through a heap: spoofed SYNs arrive evenly spaced, so
between two events that change the SYN queue (a request expiring, an honest
client's SYN or ACK) their number is arithmetic and they are handled as one
batch.  The requests in the SYN queue (半连接队列) keep their own timers
(a heap of SYN-ACK retransmission times), because how long a request lives
depends on how crowded the queue is when its timers fire.

:func:`simulate_flood_full` runs the same situation through the general
simulator (:mod:`tcpkit.drivers.sim`, a real :class:`~tcpkit.engine.stack.Stack`
listener); on small cases both give identical results (tested).

Examples
--------
>>> r = simulate_flood(duration=10, flood_rate=1000, legit_rate=10, backlog=16, tcp_syncookies=0)
>>> r.attempts, r.connected < r.attempts
(100, True)
>>> with_cookies = simulate_flood(duration=10, flood_rate=1000, legit_rate=10, backlog=16, tcp_syncookies=1)
>>> with_cookies.success_rate
1.0
>>> simulate_flood(flood_rate=0)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter flood_rate = 0 is not allowed: expected a rate > 0 (SYNs per second)

Notes
-----
Linux rules followed (``net/ipv4/tcp_input.c`` ``tcp_conn_request``,
``include/net/inet_connection_sock.h``, ``include/net/sock.h``):

* the SYN queue holds at most ``min(backlog, somaxconn)`` requests
  (``inet_csk_reqsk_queue_is_full``: ``qlen >= sk_max_ack_backlog``);
* when it is full, ``tcp_syncookies=1`` answers with a cookie (no state kept)
  and ``0`` drops the SYN; ``2`` always answers with a cookie;
* a SYN is dropped while the accept queue is full (``sk_acceptq_is_full``:
  more than ``backlog`` waiting), counted as ``ListenOverflows``;
* with cookies off, ``tcp_max_syn_backlog`` applies: a SYN is dropped once
  fewer than a quarter of it remains free (``max_syn_backlog - qlen <
  max_syn_backlog >> 2``) for peers not proven alive;
* a request retransmits its SYN-ACK after 1, 2, 4, 8, 16 s and dies 32 s after
  the last one (``tcp_synack_retries`` = 5, ``reqsk_timer_handler``), unless
  the SYN queue is more than half full (``qlen << 1 > max(8, backlog)``):
  then the retry limit drops by one, down to 2, for every doubling of the
  number of requests that have not retransmitted yet that the queue length
  still reaches, so old requests die after 1 + 2 + 4 = 7 s
  (``net/ipv4/inet_connection_sock.c``, "reserve half of room for young
  embrions");
* honest clients retransmit their SYN on the Linux schedule of
  :func:`tcpkit.engine.timers.syn_retransmit_times`; spoofed sources never answer;
* a final ACK (or a SYN-cookie ACK) that finds the accept queue full is
  counted as ``ListenOverflows`` and ``ListenDrops``
  (``tcp_v4_syn_recv_sock``, ``net/ipv4/tcp_ipv4.c``); ``tcp_check_req``
  (``net/ipv4/tcp_minisocks.c``) then, with ``tcp_abort_on_overflow = 0``,
  ignores it: the request stays in the SYN queue, its next SYN-ACK draws a
  duplicate ACK that may find room; with ``1`` it removes the request and
  resets the client.  A cookie ACK is dropped silently either way
  (``cookie_v4_check``), and the client, already ESTABLISHED, never knows.

Arrivals are evenly spaced (spoofed SYN ``i`` leaves at ``(i + 0.1) /
flood_rate``, honest client ``j`` at ``(j + 0.3) / legit_rate``) so runs are
exactly repeatable and the batching is exact.  By default the application
accepts every connection as soon as it is in the accept queue; with
``accept_rate`` it spends ``1 / accept_rate`` seconds on each connection it
accepts, then calls ``accept()`` again (taking a waiting one at once).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tcpkit.engine.errors import ParameterError, TcpError
from tcpkit.engine.profiles import Profile, get_profile
from tcpkit.engine.segment import MSS, Flags, Segment
from tcpkit.engine.states import Event, State
from tcpkit.engine.timers import syn_timeout, synack_timeout
from tcpkit.engine.trace import QueueChanged, SegmentSent

from .apps import Server
from .sim import URGENT, Network

__all__ = ["FloodResult", "simulate_flood", "simulate_flood_full", "flood_network", "SPOOF_PHASE", "LEGIT_PHASE"]

SPOOF_PHASE = 0.1  # spoofed SYN i leaves at (i + SPOOF_PHASE) / flood_rate
LEGIT_PHASE = 0.3  # honest client j calls connect() at (j + LEGIT_PHASE) / legit_rate


@dataclass(frozen=True)
class FloodResult:
    """What a flood run found.

    Attributes
    ----------
    attempts, connected, failed, pending : int
        Honest clients that called ``connect()``, that got ESTABLISHED, that
        gave up (ETIMEDOUT) and that were still trying at the end.
    connect_times : tuple of float
        Seconds from ``connect()`` to ESTABLISHED, per connected client, in
        the order the clients started.
    samples : tuple of (time, syn_queue, accept_queue)
        Queue lengths after everything up to each sample time happened.
    counters : dict
        ``SyncookiesSent``, ``ListenOverflows``, ``ListenDrops``,
        ``TCPReqQFullDrop``, ``TCPReqQFullDoCookies`` and the numbers of
        spoofed and honest SYNs seen.
    params : dict
        The parameters of the run.
    accepted : int
        Connections the server application had taken with ``accept()`` by the
        end.  ``connected`` counts what the clients believe; with a slow
        application some of them are ESTABLISHED on a connection the server
        dropped (``tcp_abort_on_overflow = 0``, or a SYN-cookie ACK that met a
        full accept queue).
    reset : int
        Honest clients whose connection the server reset because its accept
        queue was full (``tcp_abort_on_overflow = 1``).
    """

    attempts: int
    connected: int
    failed: int
    pending: int
    connect_times: tuple[float, ...]
    samples: tuple[tuple[float, int, int], ...]
    counters: dict[str, int]
    params: dict[str, Any] = field(default_factory=dict)
    accepted: int = 0
    reset: int = 0

    @property
    def success_rate(self) -> float:
        """Connected clients / clients that tried (1.0 when nobody tried)."""
        return self.connected / self.attempts if self.attempts else 1.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100, nearest rank) of connect times, ``nan`` if none.

        >>> FloodResult(3, 3, 0, 0, (0.1, 1.1, 3.1), (), {}).percentile(50)
        1.1
        """
        if not 0 <= q <= 100:
            raise ParameterError("q", q, "a percentile from 0 to 100")
        xs = sorted(self.connect_times)
        if not xs:
            return math.nan
        rank = max(1, math.ceil(q / 100 * len(xs)))
        return xs[rank - 1]

    def histogram(self) -> dict[float, int]:
        """How many clients connected after each distinct connect time (rounded to 1 ms)."""
        out: dict[float, int] = {}
        for t in self.connect_times:
            k = round(t, 3)
            out[k] = out.get(k, 0) + 1
        return dict(sorted(out.items()))

    def summary(self) -> str:
        """A few lines in English."""
        c = self.counters
        text = (
            f"{self.connected}/{self.attempts} honest clients connected ({100 * self.success_rate:.1f} %), "
            f"{self.failed} gave up, {self.pending} still trying\n"
            f"connect time median {self.percentile(50):.3f} s, p99 {self.percentile(99):.3f} s\n"
            f"SYN cookies sent {c.get('SyncookiesSent', 0)}, SYNs dropped with the SYN queue full "
            f"{c.get('TCPReqQFullDrop', 0)}, max SYN queue {max((s[1] for s in self.samples), default=0)}"
        )
        if not math.isinf(self.params.get("accept_rate", math.inf)):
            text += (
                f"\naccepted by the application {self.accepted}, reset (accept queue full) {self.reset}, "
                f"ListenOverflows {c.get('ListenOverflows', 0)}, max accept queue "
                f"{max((s[2] for s in self.samples), default=0)}"
            )
        return text


def _check_rate(name: str, v: object, allow_zero: bool = False) -> float:
    if (
        isinstance(v, bool)
        or not isinstance(v, int | float)
        or not math.isfinite(v)
        or v < 0
        or (v == 0 and not allow_zero)
    ):
        raise ParameterError(
            name,
            v,
            f"a rate {'>= 0' if allow_zero else '> 0'} ({'SYNs' if 'flood' in name else 'connects'} per second)",
        )
    return float(v)


def _check_pos(name: str, v: object, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
        raise ParameterError(name, v, what)
    return float(v)


def _setup(
    profile: str | Profile,
    knobs: dict[str, Any],
    duration: float,
    flood_rate: float,
    legit_rate: float,
    backlog: int,
    rtt: float,
    sample_interval: float,
) -> tuple[Profile, int, float, float, float]:
    prof = get_profile(profile, **knobs)
    if prof.params.os != "linux":
        raise ParameterError("profile", prof.name, "'linux' (the fast path models the Linux listener)")
    duration = _check_pos("duration", duration, "a time > 0 (seconds)")
    _check_rate("flood_rate", flood_rate)
    _check_rate("legit_rate", legit_rate, allow_zero=True)
    if isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 1:
        raise ParameterError("backlog", backlog, "an integer >= 1")
    rtt = _check_pos("rtt", rtt, "a round-trip time > 0 and below the initial RTO (seconds)")
    if rtt >= prof.params.rto_initial:
        raise ParameterError(
            "rtt", rtt, f"a round-trip time > 0 and below the initial RTO ({prof.params.rto_initial} s)"
        )
    sample_interval = _check_pos("sample_interval", sample_interval, "a time > 0 (seconds)")
    cap = min(backlog, prof.params.somaxconn)
    return prof, cap, duration, rtt / 2, sample_interval


# Event kinds of the fast path.  At equal times they run in the order the general
# simulator runs them: a due accept() goes first (the accepting application's tick has
# URGENT priority), then segments are delivered before timers fire (timers have LATE
# priority): spoofed SYNs were scheduled first, a first SYN (sent by a connect() call)
# goes before an ACK (sent on a delivery), an ACK answering a first SYN-ACK before one
# answering a retransmitted SYN-ACK, and both before retransmitted SYNs (a timer); the
# listener's request timers fire after every delivery; samples see everything.
_ACCEPT, _FIRST_SYN, _LEGIT_ACK, _RESENT_ACK, _RETRANS_SYN, _EXPIRY, _SAMPLE = 0, 1, 2, 3, 4, 5, 6


def _check_accept_rate(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or v <= 0:
        raise ParameterError("accept_rate", v, "a rate > 0 (accept() calls per second), or inf for an instant accept()")
    return float(v)


def simulate_flood(
    *,
    duration: float = 60.0,
    flood_rate: float = 10000.0,
    legit_rate: float = 100.0,
    backlog: int = 128,
    rtt: float = 0.05,
    sample_interval: float = 0.5,
    accept_rate: float = math.inf,
    profile: str | Profile = "linux",
    **knobs: Any,
) -> FloodResult:
    """Simulate a spoofed SYN flood plus honest clients against one Linux listener.

    Parameters
    ----------
    duration : float
        Seconds of flood (and of honest clients starting); the run ends there.
    flood_rate : float
        Spoofed SYNs per second (> 0).
    legit_rate : float
        Honest ``connect()`` calls per second (>= 0).
    backlog : int
        The ``listen()`` backlog; the queues are capped at ``min(backlog, somaxconn)``.
    rtt : float
        Round-trip time between every client and the server (below 1 s).
    sample_interval : float
        Spacing of the queue-occupancy samples.
    accept_rate : float
        How many connections per second the application accepts: it takes
        ``1 / accept_rate`` seconds over each one, then calls ``accept()``
        again (at once if one is waiting).  ``inf`` (the default): every
        connection is accepted the moment it is in the accept queue.
    profile : str or Profile
        A Linux profile; ``knobs`` change it (``tcp_syncookies``,
        ``tcp_synack_retries``, ``tcp_max_syn_backlog``, ``somaxconn``,
        ``tcp_abort_on_overflow``, ...).

    Returns
    -------
    FloodResult

    Raises
    ------
    ParameterError
        A rate, time or backlog out of range, or a profile that is not Linux.

    Examples
    --------
    >>> r = simulate_flood(duration=5, flood_rate=2000, legit_rate=20, backlog=64, tcp_syncookies=0)
    >>> r.samples[-1][1]  # the SYN queue is full of spoofed requests
    64
    >>> r.counters["TCPReqQFullDrop"] > 0
    True

    A slow application (5 ``accept()`` calls per second) fills the accept
    queue (全连接队列); clients whose final ACK finds it full believe they
    are connected, and with ``tcp_abort_on_overflow = 1`` they are reset:

    >>> kw = dict(duration=10, flood_rate=1, legit_rate=40, backlog=4, rtt=0.3, accept_rate=5, tcp_syncookies=0)
    >>> [(r.connected, r.accepted, r.reset) for r in (simulate_flood(**kw, tcp_abort_on_overflow=a) for a in (0, 1))]
    [(55, 48, 0), (99, 48, 44)]
    """
    prof, cap, duration, d, sample_interval = _setup(
        profile, knobs, duration, flood_rate, legit_rate, backlog, rtt, sample_interval
    )
    accept_rate = _check_accept_rate(accept_rate)
    instant = math.isinf(accept_rate)
    accept_gap = 0.0 if instant else 1.0 / accept_rate
    p = prof.params
    cookies = p.syncookies
    abort = bool(p.abort_on_overflow)
    msb = p.max_syn_backlog
    # cookies off: drop once max_syn_backlog - qlen < max_syn_backlog >> 2
    cap_eff = cap if cookies else min(cap, msb - (msb >> 2) + 1)
    synack_timeouts = [synack_timeout(p, k) for k in range(p.synack_retries + 1)]
    max_retries = p.synack_retries
    prune_at = max(8, cap)  # reqsk_timer_handler prunes when qlen << 1 > max(8, sk_max_ack_backlog)
    syn_timeouts = [syn_timeout(p, k) for k in range(p.syn_retries + p.syn_linear_timeouts + 1)]

    # request timers (reqsk_timer_handler), a heap of (time, tie, client or -1 for a spoofed
    # request, SYN-ACK retransmissions so far); spoofed requests always have one pending,
    # honest ones only after their ACK was ignored (otherwise it arrives before the timer)
    rq: list[tuple[float, int, int, int]] = []
    spoofed_q = 0  # spoofed requests in the SYN queue
    young = 0  # requests in the SYN queue that have not retransmitted yet (reqsk_queue_len_young)
    # honest requests waiting for their first ACK, and cookie ACKs, FIFO by arrival: (time, client, kind)
    acks: deque[tuple[float, float, int, int]] = deque()  # (time, sent, client, cookie)
    later: list[
        tuple[float, float, int, int, int, int]
    ] = []  # (time, sent, kind, tie, client, n): ACKs to resent SYN-ACKs
    honest_q = 0  # honest requests in the SYN queue
    syn_arrived: dict[int, float] = {}  # client -> when its queued SYN arrived (its request's timers start there)
    accept_q = 0  # connections waiting for accept()
    accepted = reset = 0
    tick_at = math.inf  # the application's next accept(), while it is busy with the previous connection
    counters = dict.fromkeys(
        (
            "SyncookiesSent",
            "ListenOverflows",
            "ListenDrops",
            "TCPReqQFullDrop",
            "TCPReqQFullDoCookies",
            "SpoofedSyns",
            "SpoofedQueued",
            "LegitSyns",
        ),
        0,
    )
    tie = 0

    heap: list[tuple[float, float, int, int, int]] = []  # (time, sent, kind, tie, client)
    n_legit = 0
    if legit_rate > 0:
        n_legit = max(0, math.ceil(duration * legit_rate - LEGIT_PHASE))
        while n_legit > 0 and (n_legit - 1 + LEGIT_PHASE) / legit_rate >= duration:
            n_legit -= 1
    starts = [(j + LEGIT_PHASE) / legit_rate for j in range(n_legit)]
    attempt = [0] * n_legit
    sent_at = list(starts)  # when the current SYN of each client left
    done_at: list[float | None] = [None] * n_legit
    for j, s in enumerate(starts):
        heap.append((s + d, s, _FIRST_SYN, j, j))
    n_samples = int(duration / sample_interval) + 1
    for k in range(n_samples):
        t = k * sample_interval
        if t <= duration:
            heap.append((t, math.inf, _SAMPLE, k, -1))
    heapq.heapify(heap)
    samples: list[tuple[float, int, int]] = []

    # spoofed SYN i reaches the server at (i + SPOOF_PHASE) / flood_rate + d, for i < n_spoof
    n_spoof = max(0, math.ceil(duration * flood_rate - SPOOF_PHASE))
    while n_spoof > 0 and (n_spoof - 1 + SPOOF_PHASE) / flood_rate >= duration:
        n_spoof -= 1
    si = 0

    def spoof_time(i: int) -> float:
        return (i + SPOOF_PHASE) / flood_rate + d

    def spoofed_until(t_end: float, strict: bool) -> None:
        """Handle every spoofed SYN arriving at or before ``t_end`` (before, if ``strict``), as one batch."""
        nonlocal si, spoofed_q, young, tie
        hi = min(n_spoof, max(si, math.floor((t_end - d) * flood_rate - SPOOF_PHASE) + 1))
        while hi > si and (spoof_time(hi - 1) > t_end or (strict and spoof_time(hi - 1) >= t_end)):
            hi -= 1
        while hi < n_spoof and (spoof_time(hi) < t_end or (not strict and spoof_time(hi) == t_end)):
            hi += 1
        n = hi - si
        if n <= 0:
            return
        counters["SpoofedSyns"] += n
        qlen = spoofed_q + honest_q
        si = hi
        if accept_q > cap:  # sk_acceptq_is_full(): nothing changes during the batch, every SYN is dropped
            if cookies == 2 or qlen >= cap:
                counters["TCPReqQFullDoCookies" if cookies else "TCPReqQFullDrop"] += n
                if not cookies:
                    counters["ListenDrops"] += n
                    return
            counters["ListenOverflows"] += n
            counters["ListenDrops"] += n
            return
        if cookies == 2:
            counters["SyncookiesSent"] += n
            counters["TCPReqQFullDoCookies"] += n
            return
        k = min(n, max(0, (cap if cookies else cap_eff) - qlen))
        first_timeout = synack_timeouts[0]
        for i in range(hi - n, hi - n + k):
            tie += 1
            heapq.heappush(rq, (spoof_time(i) + first_timeout, tie, -1, 0))
        spoofed_q += k
        young += k
        counters["SpoofedQueued"] += k
        rest = n - k
        if rest:
            if cookies == 1:
                counters["SyncookiesSent"] += rest
                counters["TCPReqQFullDoCookies"] += rest
            else:
                if qlen + k >= cap:
                    counters["TCPReqQFullDrop"] += rest
                counters["ListenDrops"] += rest

    def enter_accept_queue(t: float) -> None:
        """A finished connection joins the accept queue; an idle application takes it at once."""
        nonlocal accept_q, accepted, tick_at
        if instant:
            accepted += 1
        elif tick_at == math.inf:  # idle, blocked in accept()
            accepted += 1
            tick_at = t + accept_gap
        else:
            accept_q += 1

    def honest_ack(t: float, j: int, n: int, cookie: bool) -> None:
        """The ACK of client ``j``'s handshake arrives (the ``n``-th, answering SYN-ACK ``n``)."""
        nonlocal honest_q, young, reset, tie
        if accept_q > cap:  # tcp_check_req() / tcp_v4_syn_recv_sock(): the accept queue is full
            counters["ListenOverflows"] += 1
            counters["ListenDrops"] += 1
            if cookie:  # a cookie ACK is dropped silently; the client believes it is connected
                return
            if abort:  # tcp_abort_on_overflow = 1: the request goes, the client gets an RST
                honest_q -= 1
                if n == 0:
                    young -= 1
                if t + d <= duration:
                    reset += 1
                return
            # tcp_abort_on_overflow = 0: the ACK is ignored; the request's timer n will
            # resend its SYN-ACK (drawing another ACK) or let it go
            tie += 1
            t0 = syn_arrived[j]
            for timeout in synack_timeouts[: n + 1]:
                t0 += timeout
            heapq.heappush(rq, (t0, tie, j, n))
            return
        if not cookie:
            honest_q -= 1
            if n == 0:
                young -= 1
        enter_accept_queue(t)

    def retry_limit(qlen: int) -> int:
        """``reqsk_timer_handler()``: the SYN-ACK retry limit, lowered while the SYN queue is crowded."""
        limit = max_retries
        if qlen << 1 > prune_at:
            y = young << 1
            while limit > 2 and qlen >= y:
                limit -= 1
                y <<= 1
        return limit

    def request_timer(t: float, j: int, k: int) -> None:
        """Timer ``k`` of a request fires: retransmit the SYN-ACK or let the request go."""
        nonlocal spoofed_q, honest_q, young, tie
        expire = k >= retry_limit(spoofed_q + honest_q)
        if k == 0:
            young -= 1
        if expire:
            if j < 0:
                spoofed_q -= 1
            else:
                honest_q -= 1  # the request gave up on its client
            return
        tie += 1
        if j < 0:
            heapq.heappush(rq, (t + synack_timeouts[k + 1], tie, -1, k + 1))
        else:  # the client answers the resent SYN-ACK
            heapq.heappush(later, ((t + d) + d, t + d, _RESENT_ACK, tie, j, k + 1))

    while True:
        if heap:
            t_heap, s_heap, k_heap = heap[0][0], heap[0][1], heap[0][2]
        else:
            t_heap, s_heap, k_heap = math.inf, math.inf, _SAMPLE
        t_exp = rq[0][0] if rq else math.inf
        t_ack, s_ack = (acks[0][0], acks[0][1]) if acks else (math.inf, math.inf)
        t_later, s_later, k_later = (later[0][0], later[0][1], later[0][2]) if later else (math.inf, math.inf, _SAMPLE)
        t_next = min(t_heap, t_exp, t_ack, t_later, tick_at)
        bound = min(t_next, duration)
        if si < n_spoof and spoof_time(si) <= bound:
            strict = tick_at <= bound  # a due accept() runs before the segments of its instant
            if not strict or spoof_time(si) < bound:
                spoofed_until(bound, strict)  # spoofed SYNs go first at equal times
                continue
        if t_next > duration:
            break
        # at equal arrival times, what was sent first arrives first (the simulator's
        # scheduling order); accept() ticks are URGENT, timers LATE
        first = min(
            (tick_at, -math.inf, _ACCEPT),
            (t_heap, s_heap, k_heap),
            (t_ack, s_ack, _LEGIT_ACK),
            (t_later, s_later, k_later),
            (t_exp, math.inf, _EXPIRY),
        )
        kind_first = first[2]
        if kind_first == _ACCEPT:
            if accept_q:
                accept_q -= 1
                accepted += 1
                tick_at = tick_at + accept_gap
            else:
                tick_at = math.inf
            continue
        if kind_first == _LEGIT_ACK:
            t, _, j, cookie = acks.popleft()
            honest_ack(t, j, 0, bool(cookie))
            continue
        if kind_first == _RESENT_ACK:
            t, _, kind, _, j, n = heapq.heappop(later)
            honest_ack(t, j, n, False)
            continue
        if kind_first == _EXPIRY:
            t, _, j, k = heapq.heappop(rq)
            request_timer(t, j, k)
            continue
        t, _, kind, _, j = heapq.heappop(heap)
        if kind == _SAMPLE:
            samples.append((t, spoofed_q + honest_q, accept_q))
            continue
        counters["LegitSyns"] += 1
        qlen = spoofed_q + honest_q
        full = qlen >= cap
        overflow = False
        if cookies == 2 or full:
            if cookies:
                counters["TCPReqQFullDoCookies"] += 1
                if accept_q > cap:
                    overflow = True
                    counters["ListenOverflows"] += 1
                    counters["ListenDrops"] += 1
                else:
                    counters["SyncookiesSent"] += 1
                    done_at[j] = t + d
                    acks.append(((t + d) + d, t + d, j, 1))
                    continue
            else:
                counters["TCPReqQFullDrop"] += 1
                counters["ListenDrops"] += 1
        elif accept_q > cap:
            overflow = True
            counters["ListenOverflows"] += 1
            counters["ListenDrops"] += 1
        elif not cookies and msb - qlen < (msb >> 2):
            counters["ListenDrops"] += 1
        else:
            done_at[j] = t + d
            honest_q += 1
            young += 1
            syn_arrived[j] = t
            acks.append(((t + d) + d, t + d, j, 0))
            continue
        # The SYN was dropped: the client's timer retransmits it, or gives up.  When the
        # SYN queue was the reason, every SYN is dropped the same way until a request can
        # leave it (an expiry, an honest ACK); the accept queue can only grow at such an
        # ACK too.  So retransmissions before then are counted without being scheduled.
        # (A full accept queue may shrink at any accept(): no shortcut then.)
        free_at = (
            t
            if overflow
            else min(rq[0][0] if rq else math.inf, acks[0][0] if acks else math.inf, later[0][0] if later else math.inf)
        )
        a = attempt[j]
        sent = sent_at[j]
        while True:
            nxt = sent + syn_timeouts[a]
            if a + 1 >= len(syn_timeouts):
                done_at[j] = -nxt  # negative: gave up (ETIMEDOUT) at that time
                break
            a += 1
            sent = nxt
            if nxt + d < free_at:
                if nxt + d <= duration:
                    counters["LegitSyns"] += 1
                    counters["ListenDrops"] += 1
                    if full:
                        counters["TCPReqQFullDrop"] += 1
                continue
            attempt[j] = a
            sent_at[j] = sent
            heapq.heappush(heap, (nxt + d, nxt, _RETRANS_SYN, j, j))
            break

    connected = failed = 0
    times: list[float] = []
    for j in range(n_legit):
        at = done_at[j]
        if at is None:
            continue
        if at >= 0:
            if at <= duration:
                connected += 1
                times.append(at - starts[j])
        elif -at <= duration:
            failed += 1
    params = {
        "duration": duration,
        "flood_rate": flood_rate,
        "legit_rate": legit_rate,
        "backlog": backlog,
        "rtt": rtt,
        "sample_interval": sample_interval,
        "accept_rate": accept_rate,
        "profile": prof.name,
        **knobs,
    }
    return FloodResult(
        n_legit,
        connected,
        failed,
        n_legit - connected - failed,
        tuple(times),
        tuple(samples),
        counters,
        params,
        accepted,
        reset,
    )


def simulate_flood_full(
    *,
    duration: float = 5.0,
    flood_rate: float = 100.0,
    legit_rate: float = 10.0,
    backlog: int = 8,
    rtt: float = 0.05,
    sample_interval: float = 0.5,
    accept_rate: float = math.inf,
    profile: str | Profile = "linux",
    seed: int = 0,
    **knobs: Any,
) -> tuple[FloodResult, Any]:
    """The same flood through the general simulator: a real listener, real client stacks.

    Returns ``(FloodResult, Trace)``.  Slow (every SYN is an event); meant for
    small cases, the scenario catalogue and checking :func:`simulate_flood`.

    Examples
    --------
    >>> full, trace = simulate_flood_full(duration=2, flood_rate=20, legit_rate=2, backlog=4, tcp_syncookies=0)
    >>> fast = simulate_flood(duration=2, flood_rate=20, legit_rate=2, backlog=4, tcp_syncookies=0)
    >>> (full.connected, full.samples) == (fast.connected, fast.samples)
    True
    """
    res, net = flood_network(
        duration=duration,
        flood_rate=flood_rate,
        legit_rate=legit_rate,
        backlog=backlog,
        rtt=rtt,
        sample_interval=sample_interval,
        accept_rate=accept_rate,
        profile=profile,
        seed=seed,
        **knobs,
    )
    return res, net.trace()


def flood_network(
    *,
    duration: float = 5.0,
    flood_rate: float = 100.0,
    legit_rate: float = 10.0,
    backlog: int = 8,
    rtt: float = 0.05,
    sample_interval: float = 0.5,
    accept_rate: float = math.inf,
    profile: str | Profile = "linux",
    seed: int = 0,
    **knobs: Any,
) -> tuple[FloodResult, Any]:
    """:func:`simulate_flood_full`, returning the :class:`~tcpkit.drivers.sim.Network` instead of its trace."""

    prof, cap, duration, d, sample_interval = _setup(
        profile, knobs, duration, flood_rate, legit_rate, backlog, rtt, sample_interval
    )
    accept_rate = _check_accept_rate(accept_rate)
    net = Network(seed=seed, delay=d)
    server = net.add_host("server", "198.51.100.1", profile=prof)
    client = net.add_host("client", "192.0.2.1", profile=prof)
    srv: Server | _RateAcceptor
    if math.isinf(accept_rate):
        srv = Server(server, 80, backlog=backlog).start()
    else:
        srv = _RateAcceptor(server, 80, backlog, 1.0 / accept_rate).start()
    rng = net.rng("spoof")
    n_spoof = max(0, math.ceil(duration * flood_rate - SPOOF_PHASE))
    while n_spoof > 0 and (n_spoof - 1 + SPOOF_PHASE) / flood_rate >= duration:
        n_spoof -= 1
    for i in range(n_spoof):
        src = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"  # a new source for every SYN
        seg = Segment(
            src_port=rng.randrange(1024, 65536),
            dst_port=80,
            seq=rng.getrandbits(32),
            flags=Flags.SYN,
            window=64240,
            options=(MSS(1460),),
        )
        net.inject((i + SPOOF_PHASE) / flood_rate, src, server.addr, seg, who="attacker")
    n_legit = 0
    if legit_rate > 0:
        n_legit = max(0, math.ceil(duration * legit_rate - LEGIT_PHASE))
        while n_legit > 0 and (n_legit - 1 + LEGIT_PHASE) / legit_rate >= duration:
            n_legit -= 1
    socks: list[Any] = []
    starts = [(j + LEGIT_PHASE) / legit_rate for j in range(n_legit)]

    def go(j: int) -> None:
        s = client.socket()
        socks.append(s)
        s.connect(server.addr, 80)

    for j in range(n_legit):
        net.at(starts[j], go, j)
    net.run(until=duration)
    trace = net.trace()

    # connect times and outcomes from the client's trace
    connected = failed = 0
    times: list[float] = []
    estab: dict[Any, float] = {}
    closed: dict[Any, float] = {}
    for r in trace.state_changes("client"):
        if r.conn is not None:
            if r.dst is State.ESTABLISHED:
                estab.setdefault(r.conn, r.time)
            elif r.dst is State.CLOSED and r.src is State.SYN_SENT:
                closed.setdefault(r.conn, r.time)
    first_syn: dict[Any, float] = {}
    for rec in trace:
        if (
            isinstance(rec, SegmentSent)
            and rec.host == "client"
            and rec.conn is not None
            and rec.segment.flags == Flags.SYN
        ):
            first_syn.setdefault(rec.conn, rec.time)
    for conn, t0 in sorted(first_syn.items(), key=lambda kv: kv[1]):
        if conn in estab:
            connected += 1
            times.append(estab[conn] - t0)
        elif conn in closed:
            failed += 1
    # queue occupancy: the last QUEUE record of the server at or before each sample time
    qrecs = [(r.time, r) for r in trace if isinstance(r, QueueChanged) and r.host == "server"]
    samples: list[tuple[float, int, int]] = []
    qi = 0
    cur = (0, 0)
    for k in range(int(duration / sample_interval) + 1):
        t = k * sample_interval
        if t > duration:
            break
        while qi < len(qrecs) and qrecs[qi][0] <= t:
            q = qrecs[qi][1]
            cur = (q.syn_queue, q.accept_queue)
            qi += 1
        samples.append((t, cur[0], cur[1]))
    # clients reset by the server after their handshake (tcp_abort_on_overflow = 1)
    reset = sum(
        1
        for r in trace.state_changes("client")
        if r.src is State.ESTABLISHED and r.dst is State.CLOSED and r.event is Event.RCV_RST
    )
    counters = {k: int(v) for k, v in server.stack.counters.items()}
    params = {
        "duration": duration,
        "flood_rate": flood_rate,
        "legit_rate": legit_rate,
        "backlog": backlog,
        "rtt": rtt,
        "sample_interval": sample_interval,
        "accept_rate": accept_rate,
        "profile": prof.name,
        **knobs,
    }
    net.meta.update(scenario="syn_flood", params=params)
    accepted = len(srv.accepted) if isinstance(srv, Server) else srv.count
    return FloodResult(
        n_legit,
        connected,
        failed,
        n_legit - connected - failed,
        tuple(times),
        tuple(samples),
        counters,
        params,
        accepted,
        reset,
    ), net


class _RateAcceptor:
    """A listening application that spends ``gap`` seconds on each connection it accepts.

    Blocked in ``accept()`` when idle (it takes a finished connection the moment
    the stack has one); busy for ``gap`` seconds after each ``accept()``, then
    it calls ``accept()`` again (an URGENT event, so it runs before the
    segments of the same instant).
    """

    def __init__(self, host: Any, port: int, backlog: int, gap: float) -> None:
        self.host = host
        self.port = port
        self.backlog = backlog
        self.gap = gap
        self.count = 0
        self.busy_until: float | None = None  # None: idle

    def start(self) -> _RateAcceptor:
        sock = self.host.socket()
        sock.bind(self.port)
        sock.listen(self.backlog)
        self.sock = sock
        self.host.apps.append(self)
        return self

    def _accept(self, now: float) -> bool:
        try:
            self.sock.accept()
        except TcpError as exc:
            if exc.errno_name == "EAGAIN":
                return False
            raise
        self.count += 1
        self.busy_until = now + self.gap
        return True

    def wake(self, now: float) -> None:
        if self.busy_until is None and self._accept(now):
            self._schedule()

    def _schedule(self) -> None:
        assert self.busy_until is not None
        self.host.net.sim.schedule_at(self.busy_until, self._tick, priority=URGENT)

    def _tick(self) -> None:
        self.busy_until = None
        if self._accept(self.host.net.now):
            self._schedule()
