"""The exact SYN-flood model: one Linux listener under evenly spaced spoofed SYNs and honest clients, batched.

:class:`FloodModel` computes what :func:`~tcpkit.drivers.flood_full.simulate_flood_full`
computes with a real :class:`~tcpkit.engine.listener.Listener` and client stacks --
the same queue lengths, counters and connect times, to the last float (tested) --
without pushing every SYN through an event heap.  It applies the listener's own
rules (:func:`~tcpkit.engine.listener.syn_queue_is_full`,
:func:`~tcpkit.engine.listener.accept_queue_is_full`,
:func:`~tcpkit.engine.listener.syn_backlog_reserved`,
:func:`~tcpkit.engine.listener.synack_retry_limit`); only the bookkeeping differs:

* **Spoofed SYNs are arithmetic.**  SYN ``i`` arrives at ``(i + 0.1) / flood_rate +
  rtt / 2`` (or with its burst, see ``FloodParams.resolution``); between two events
  that can change the queues their number is known and they are handled as one batch.
* **Request timers expire FIFO.**  Requests admitted one after the other fire their
  ``k``-th SYN-ACK timer one after the other, so each retransmission stage is a FIFO
  list and only its head sits in a small heap.  Timers due at one instant fire in the
  order their requests were created (the order the Stack walks its connections), so a
  request's tie is its creation number for life and slices can move in any order.  A
  timer below the lowest possible retry limit only resends: it changes nothing but the
  young count, so such timers run in slices just before the next expiry decision; a run
  of decisions that cannot change before the next event also moves as one slice.
* **An expiry and its refill go together.**  Under a flood every expiry frees a slot
  that the next spoofed SYN takes: :meth:`FloodModel._expire_and_refill` does both,
  request after request, while nothing else comes between.
* **Windows of one retry limit.**  When the retry limit cannot change over a stretch of
  time (checked on the bounds of the queue length and the young count), every timer in
  it is decided at once and only the race for free slots is walked in order
  (:meth:`FloodModel._window`).
* **Refused honest SYNs are settled lazily.**  Honest client ``j`` sends its ``a``-th
  SYN at a time fixed by ``connect()`` and the retransmission schedule, so the clients
  waiting for their ``a``-th SYN form a FIFO list.  A SYN the listener refuses (or
  answers with a cookie when the application accepts at once) changes nothing but
  counters and its own client; all those that met the same refusal are settled in one
  slice when the refusal changes, or before their retries could matter.

Examples
--------
>>> from tcpkit.drivers.flood_params import FloodParams
>>> p = FloodParams(duration=5, flood_rate=2000, legit_rate=20, backlog=64, knobs={"tcp_syncookies": 0})
>>> r = FloodModel(p).run()
>>> r.samples[-1][1], r.syn_capacity        # the SYN queue is full of spoofed requests: backlog + 1
(65, 65)
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections import deque
from collections.abc import Callable

from tcpkit.engine.listener import (
    accept_queue_is_full,
    syn_backlog_reserved,
    syn_queue_capacity,
    syn_queue_is_full,
    synack_retry_limit,
)
from tcpkit.engine.timers import syn_give_up_time, syn_timeout, synack_timeout

from .flood_params import SPOOF_PHASE, FloodParams, FloodResult, client_counts

__all__ = ["FloodModel"]

INF = math.inf
Key = tuple[float, float, float, float]  # (time, sent, kind, tie): kind and tie compare as numbers

# Event kinds, in the order the general simulator runs them at equal times: a due
# accept() first (the accepting application's tick has URGENT priority); then segments,
# the one sent first first (spoofed SYNs were scheduled before everything else; a first
# SYN, sent by a connect() call, before an ACK, sent on a delivery; an ACK answering a
# first SYN-ACK before one answering a resent SYN-ACK; both before a resent SYN, sent by
# a timer); then the listener's request timers (LATE priority), in the order they were
# set; samples see everything.  An event's key is (time, sent, kind, tie).
_ACCEPT, _SPOOF, _FIRST_SYN, _ACK, _RESENT_ACK, _RETRANS_SYN, _TIMER, _SAMPLE = range(8)

# What tcp_conn_request() does with a SYN in the listener's present state, by the
# counters it bumps: queue it; answer with a cookie (TCPReqQFullDoCookies, SyncookiesSent);
# cookie wanted but the accept queue is full (TCPReqQFullDoCookies, ListenOverflows,
# ListenDrops); SYN queue full, no cookies (TCPReqQFullDrop, ListenDrops); accept queue
# full (ListenOverflows, ListenDrops); last quarter of tcp_max_syn_backlog (ListenDrops).
_ADMIT, _COOKIE, _COOKIE_OVERFLOW, _FULL_DROP, _OVERFLOW, _RESERVED = range(6)

# request timer heap entries: (time, tie, what, stage or client, n)
_SPOOFED_STAGE, _HONEST_REQUEST = 0, 1


def _first_true(pred: Callable[[int], bool], hi: int) -> int:
    """The smallest ``q`` in ``[0, hi]`` with ``pred(q)``, for a ``pred`` that stays true once true."""
    lo = 0
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


class FloodModel:
    """A spoofed SYN flood plus honest clients against one Linux listener.

    Parameters
    ----------
    params : FloodParams

    Examples
    --------
    >>> from tcpkit.drivers.flood_params import FloodParams
    >>> m = FloodModel(FloodParams(duration=10, flood_rate=1000, legit_rate=10, backlog=16))
    >>> m.run().success_rate          # SYN cookies on (the default): everybody gets in
    1.0

    Notes
    -----
    Linux rules (through :mod:`tcpkit.engine.listener`): the SYN queue is full only
    when it holds more than ``min(backlog, somaxconn)`` requests
    (``inet_csk_reqsk_queue_is_full``, Linux >= 6.13); then ``tcp_syncookies=1``
    answers with a cookie and ``0`` drops the SYN (``TCPReqQFullDrop``); ``2`` always
    answers with a cookie; a SYN meeting a full accept queue (more than the backlog
    waiting, ``sk_acceptq_is_full``) is dropped (``ListenOverflows``); with cookies off
    the last quarter of ``tcp_max_syn_backlog`` is kept for proven peers (``ListenDrops``
    only).  A request resends its SYN-ACK after 1, 2, 4, ... s and dies after
    ``tcp_synack_retries`` of them, fewer while the queue is more than half full
    (``reqsk_timer_handler`` pruning).  A final ACK (or cookie ACK) meeting a full
    accept queue is dropped (``tcp_abort_on_overflow = 0``: the request stays and
    its next SYN-ACK draws another ACK) or answered with a reset (``1``); a cookie
    ACK is dropped silently.  Honest clients resend their SYN on the schedule of
    :func:`tcpkit.engine.timers.syn_timeout` and give up like
    :class:`~tcpkit.engine.connection.Connection` (after the last retry, or once
    :func:`~tcpkit.engine.timers.syn_give_up_time` has passed).
    """

    def __init__(self, params: FloodParams) -> None:
        self.fp = fp = params
        p = self.p = fp.params
        self.d = d = fp.one_way
        self.rate = fp.flood_rate
        self.end = fp.duration
        self.cap = cap = fp.cap
        self.cookies = p.syncookies
        self.abort = bool(p.abort_on_overflow)
        self.instant = math.isinf(fp.accept_rate)
        self.accept_gap = 0.0 if self.instant else 1.0 / fp.accept_rate
        # the listener's rules as thresholds on the queue lengths (each test holds from there on)
        self.full_from = _first_true(lambda q: syn_queue_is_full(p, q, cap), max(cap + 1, p.max_syn_backlog))
        self.reserved_from = (
            _first_true(lambda q: syn_backlog_reserved(p, q), p.max_syn_backlog + 1) if not p.syncookies else 1 << 62
        )
        self.capacity = syn_queue_capacity(p, cap)
        self.accept_from = _first_true(lambda a: accept_queue_is_full(p, a, cap), cap + 1)
        # SYN-ACK timeouts; below min_limit a request never expires, whatever the queue holds
        self.synack_timeouts = [synack_timeout(p, k) for k in range(p.synack_retries + 1)]
        self.min_limit = synack_retry_limit(p, 1 << 40, 0, cap)
        # honest clients' SYN timeouts, and after which SYN they give up (Connection._on_rexmt)
        n_syn = p.syn_retries + p.syn_linear_timeouts + 1
        self.syn_timeouts = [syn_timeout(p, k) for k in range(n_syn)]
        give_up = syn_give_up_time(p)
        off = 0.0
        self.gives_up: list[bool] = []
        for a in range(n_syn):
            off += self.syn_timeouts[a]
            self.gives_up.append(a + 1 >= n_syn or off >= give_up - 1e-9)
        self.last_stage = self.gives_up.index(True)

        # spoofed SYNs, in bursts of g (1: one by one)
        self.g = fp.burst
        self.n_spoof = fp.spoofed_count()
        self.si = 0  # the next spoofed SYN not yet handled
        # honest clients, FIFO per SYN number a: ids, send and arrival times of their a-th SYN, head index
        self.starts = fp.honest_starts()
        n = self.n_legit = len(self.starts)
        stages = self.last_stage + 1
        self.w_id: list[list[int]] = [list(range(n))] + [[] for _ in range(stages - 1)]
        self.w_sent: list[list[float]] = [list(self.starts)] + [[] for _ in range(stages - 1)]
        self.w_arr: list[list[float]] = [[s + d for s in self.starts]] + [[] for _ in range(stages - 1)]
        self.w_h = [0] * stages
        self.done_at: list[float | None] = [None] * n  # when each client got ESTABLISHED
        self.syn_arrived: dict[int, float] = {}  # client -> arrival of its queued SYN (its request's timers)
        # Honest SYNs the listener refuses (or answers with a cookie at once) change nothing but
        # counters and their own client, so they are settled lazily: all those not yet settled
        # met the category pend_cat; in a state that admits SYNs those before `mark` did.
        # They must be settled before their retries could matter: by `deadline`.
        self.retry_gap = min(self.syn_timeouts)
        self.pend_cat: int | None = None
        self.hver = 0  # changes whenever the stage lists do (for the cache of _honest_after)
        self._hcache: tuple[int, Key, tuple[Key, int, int] | None] = (-1, (INF, INF, 0, 0), None)
        self.sver = [0] * stages  # the same per stage, for the per-stage answers
        self._scache: list[tuple[int, Key, int]] = [(-1, (INF, INF, 0, 0), 0)] * stages
        self.mark: Key = (-INF, -INF, 0, 0)
        self.deadline = INF
        # The SYN queue: spoofed requests per SYN-ACK stage, FIFO.  An entry is the requests of one
        # burst (one request when the flood is not bursty): when their timer fires, the tie of the
        # first (the others follow), how many; and the head index of each stage.
        self.r_t: list[list[float]] = [[] for _ in range(p.synack_retries + 1)]
        self.r_tie: list[list[int]] = [[] for _ in range(p.synack_retries + 1)]
        self.r_n: list[list[int]] = [[] for _ in range(p.synack_retries + 1)]
        self.r_h = [0] * (p.synack_retries + 1)
        self.pushed = [0] * (p.synack_retries + 1)  # tie of each stage's entry in the heap
        self.timers: list[tuple[float, int, int, int, int]] = []  # heap: stage heads and honest requests
        self.honest_timers = 0  # honest requests' timers in that heap
        # Timers due at the same instant fire in the order their requests were created (the Stack
        # walks its connections in that order): a request's tie is its creation number, for life.
        self.tie = 0
        self.honest_tie: dict[int, int] = {}
        self.spoofed_q = 0
        self.honest_q = 0
        self.young = 0  # requests that have not retransmitted yet (reqsk_queue_len_young)
        # ACKs of honest clients: FIFO for first ACKs, a heap for ACKs to resent SYN-ACKs
        self.acks: deque[tuple[float, float, int, int]] = deque()  # (time, sent, client, cookie)
        self.later: list[tuple[float, float, int, int, int, int]] = []  # (time, sent, kind, tie, client, n)
        # the application
        self.accept_q = 0
        self.accepted = 0
        self.reset = 0
        self.tick_at = INF  # its next accept(), while busy with the previous connection
        # samples
        self.sample_times = fp.sample_times()
        self.next_sample = 0
        self.samples: list[tuple[float, int, int]] = []
        self.counters = dict.fromkeys(
            (
                "SyncookiesSent",
                "SyncookiesRecv",
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
        cat = self._cat()
        if self._inert(cat):
            self._start_pending(cat, 0.0)
        self.backoff = 0  # main-loop turns before the next try at a window (_window)
        self.fails = 0  # windows that did not fit in a row (the backoff doubles with each)
        self.span = self.synack_timeouts[0] / 2  # the length of the last window that fit
        self.cursor: Key = (-INF, -INF, 0, 0)  # how far a window has gone
        self.done = False

    # ------------------------------------------------------------------ times
    def spoof_time(self, i: int) -> float:
        """When spoofed SYN ``i`` reaches the listener (with its burst)."""
        g = self.g
        return ((i // g) * g + SPOOF_PHASE) / self.rate + self.d

    def sent_time(self, j: int, a: int) -> float:
        """When honest client ``j`` sends its ``a``-th SYN (``a = 0``: at ``connect()``)."""
        t = self.starts[j]
        for x in self.syn_timeouts[:a]:
            t += x
        return t

    # ------------------------------------------------------------------ what a SYN meets
    def _cat(self) -> int:
        """What ``tcp_conn_request()`` does with a SYN arriving now (see the category constants)."""
        qlen = self.spoofed_q + self.honest_q
        if self.cookies == 2 or qlen >= self.full_from:
            if self.cookies:
                return _COOKIE if self.accept_q < self.accept_from else _COOKIE_OVERFLOW
            return _FULL_DROP
        if self.accept_q >= self.accept_from:
            return _OVERFLOW
        if qlen >= self.reserved_from:
            return _RESERVED
        return _ADMIT

    def _inert(self, cat: int) -> bool:
        """True when a SYN meeting ``cat`` changes nothing but counters (and its own client)."""
        return cat != _ADMIT and (cat != _COOKIE or self.instant)

    def _count(self, m: int, cat: int) -> None:
        """Count ``m`` SYNs meeting ``cat``."""
        c = self.counters
        if cat == _COOKIE:
            c["TCPReqQFullDoCookies"] += m
            c["SyncookiesSent"] += m
        elif cat == _COOKIE_OVERFLOW:
            c["TCPReqQFullDoCookies"] += m
            c["ListenOverflows"] += m
            c["ListenDrops"] += m
        elif cat == _FULL_DROP:
            c["TCPReqQFullDrop"] += m
            c["ListenDrops"] += m
        elif cat == _OVERFLOW:
            c["ListenOverflows"] += m
            c["ListenDrops"] += m
        elif cat == _RESERVED:
            c["ListenDrops"] += m

    # ------------------------------------------------------------------ lazily settled honest SYNs
    def _start_pending(self, cat: int, t: float) -> None:
        self.pend_cat = cat
        self.deadline = t + self.retry_gap

    def _changed(self, key: Key, old: int) -> None:
        """The state may have changed at ``key`` (it was ``old`` just before): keep the pending SYNs right."""
        new = self._cat()
        if new == old:
            return
        inert = self._inert(new)
        if self._inert(old):
            if inert:  # another refusal: the SYNs before key met the old one
                self._settle(key, old)
                self._start_pending(new, key[0])
            else:
                self.mark = key  # from here on honest SYNs are events
        elif inert:
            if self.pend_cat is None:
                self._start_pending(new, key[0])
            elif self.pend_cat != new:
                self._settle(self.mark, self.pend_cat)
                self._start_pending(new, key[0])

    def _stage_before(self, a: int, key: Key) -> int:
        """Index of the first SYN of stage ``a`` (from its head) arriving at or after the event ``key``."""
        arr = self.w_arr[a]
        i = bisect_left(arr, key[0], self.w_h[a])
        n = len(arr)
        if i < n and arr[i] == key[0]:
            sent, ids, kind = self.w_sent[a], self.w_id[a], _FIRST_SYN if a == 0 else _RETRANS_SYN
            while i < n and arr[i] == key[0] and (arr[i], sent[i], kind, ids[i]) < key:
                i += 1
        return i

    def _honest_after(self, key: Key) -> tuple[Key, int, int] | None:
        """The first honest SYN arriving at or after ``key``: ``(its key, stage, index)``."""
        ver, qkey, res = self._hcache
        if ver == self.hver and qkey <= key and (res is None or res[0] >= key):
            return res  # nothing arrives between the last question and its answer
        best: tuple[Key, int, int] | None = None
        best_t = INF
        cache, sver, w_arr, w_h = self._scache, self.sver, self.w_arr, self.w_h
        t_key = key[0]
        for a in range(self.last_stage + 1):
            arr = w_arr[a]
            n = len(arr)
            if w_h[a] >= n:
                continue
            v, qk, i = cache[a]
            if not (v == sver[a] and qk <= key and (i >= n or arr[i] > t_key)):
                i = self._stage_before(a, key)
                cache[a] = (sver[a], key, i)
            if i < n and arr[i] <= best_t:
                k = (arr[i], self.w_sent[a][i], _FIRST_SYN if a == 0 else _RETRANS_SYN, self.w_id[a][i])
                if best is None or k < best[0]:
                    best = (k, a, i)
                    best_t = arr[i]
        self._hcache = (self.hver, key, best)
        return best

    def _settle(self, limit: Key, cat: int | None) -> None:
        """Settle every pending honest SYN arriving before ``limit``: they met ``cat``."""
        if cat is None:
            return
        for a in range(self.last_stage + 1):  # retries land in later stages, settled in the same pass
            n = self._stage_before(a, limit) - self.w_h[a]
            if n > 0:
                self._settle_stage(a, n, cat)

    def _settle_stage(self, a: int, n: int, cat: int) -> None:
        """The next ``n`` SYNs of stage ``a`` met ``cat`` (a refusal, or a cookie with an instant ``accept()``)."""
        h = self.w_h[a]
        self.hver += 1
        self.sver[a] += 1
        self.counters["LegitSyns"] += n
        self._count(n, cat)
        if cat == _COOKIE:  # the cookie ACK needs no event of its own: the application takes it at once
            ids, arr, d, end = self.w_id[a], self.w_arr[a], self.d, self.end
            for x in range(h, h + n):
                t = arr[x]
                self.done_at[ids[x]] = t + d
                if (t + d) + d <= end:
                    self.accepted += 1
                    self.counters["SyncookiesRecv"] += 1
        elif not self.gives_up[a]:  # the client's timer resends the SYN
            gap, d = self.syn_timeouts[a], self.d
            sent = [x + gap for x in self.w_sent[a][h : h + n]]
            self.sver[a + 1] += 1
            self.w_id[a + 1].extend(self.w_id[a][h : h + n])
            self.w_sent[a + 1].extend(sent)
            self.w_arr[a + 1].extend([x + d for x in sent])
        h += n
        if h > 4096 and h * 2 > len(self.w_id[a]):
            del self.w_id[a][:h], self.w_sent[a][:h], self.w_arr[a][:h]
            h = 0
        self.w_h[a] = h

    def _settle_due(self, key: Key, inert: bool) -> None:
        """The deadline passed: settle the pending SYNs before their retries could matter."""
        if inert:
            cat = self.pend_cat
            assert cat is not None
            self._settle(key, cat)
            self._start_pending(cat, key[0])
        else:
            self._settle(self.mark, self.pend_cat)
            self.pend_cat = None
            self.deadline = INF

    # ------------------------------------------------------------------ spoofed SYNs
    def _spoofed_index(self, t_end: float, strict: bool) -> int:
        """The first spoofed SYN (from ``si``) arriving after ``t_end`` (at or after, if ``strict``)."""
        si, n_spoof, g, st = self.si, self.n_spoof, self.g, self.spoof_time
        # bursts start at multiples of g; si is always at one
        q = max(si // g, math.floor(((t_end - self.d) * self.rate - SPOOF_PHASE) / g) + 1)
        while q > si // g and (st((q - 1) * g) > t_end or (strict and st((q - 1) * g) >= t_end)):
            q -= 1
        while q * g < n_spoof and (st(q * g) < t_end or (not strict and st(q * g) == t_end)):
            q += 1
        return min(n_spoof, q * g)

    def _spoofed_until(self, t_end: float, strict: bool) -> int:
        """Handle every spoofed SYN arriving at or before ``t_end`` (before, if ``strict``), as one batch.

        Returns how many were queued.
        """
        si, st, g = self.si, self.spoof_time, self.g
        if si >= self.n_spoof:
            return 0
        s0 = st(si)
        if s0 > t_end or (strict and s0 >= t_end):
            return 0
        cat = self._cat()
        first = self.synack_timeouts[0]
        if cat == _ADMIT and s0 + first < t_end:
            # SYN si is queued, and its first SYN-ACK timer fires before t_end: the batch stops
            # there (the SYNs of that very instant still arrive before the timer fires)
            t_end, strict = s0 + first, False
        if si + g >= self.n_spoof or (st(si + g) > t_end or (strict and st(si + g) >= t_end)):
            hi = min(self.n_spoof, si + g)  # just the next SYN (or burst): the common case under a flood
        else:
            hi = self._spoofed_index(t_end, strict)
        n = hi - si
        if n <= 0:
            return 0
        c = self.counters
        c["SpoofedSyns"] += n
        self.si = hi
        if cat != _ADMIT:  # nothing changes during the batch: every SYN meets the same
            self._count(n, cat)
            return 0
        k = min(n, self.capacity - self.spoofed_q - self.honest_q)
        lo, tie, g = hi - n, self.tie, self.g
        stage0 = self.r_t[0]
        was_empty = self.r_h[0] >= len(stage0)
        stage0.extend([st(i) + first for i in range(lo, lo + k, g)])  # one entry per burst
        self.r_tie[0].extend(range(tie + 1, tie + k + 1, g))
        self.r_n[0].extend([g] * (k // g) + ([k % g] if k % g else []))
        self.tie = tie + k
        if was_empty:
            self._push_stage_head(0)
        self.spoofed_q += k
        self.young += k
        c["SpoofedQueued"] += k
        if n > k:
            self._count(n - k, self._cat())  # the queue is full now: the rest meet that
        self._changed((t_end, -INF, _SPOOF, hi), _ADMIT)
        return k

    # ------------------------------------------------------------------ honest SYNs as events
    def _honest_syn(self, a: int, x: int, t: float) -> None:
        """The ``x``-th SYN of stage ``a`` arrives at ``t`` while the listener admits SYNs (an event)."""
        if x > self.w_h[a]:  # those before it in the stage arrived before mark: pending
            assert self.pend_cat is not None
            self._settle_stage(a, x - self.w_h[a], self.pend_cat)
            x = self.w_h[a]
        j = self.w_id[a][x]
        self.w_h[a] = x + 1
        self.hver += 1
        self.sver[a] += 1
        self.counters["LegitSyns"] += 1
        cat = self._cat()
        self._count(1, cat)
        d = self.d
        self.done_at[j] = t + d
        if cat == _ADMIT:
            self.honest_q += 1
            self.young += 1
            self.syn_arrived[j] = t
            self.tie += 1
            self.honest_tie[j] = self.tie
            self.acks.append(((t + d) + d, t + d, j, 0))
        else:  # a cookie, and the application is slow: the cookie ACK is an event
            self.acks.append(((t + d) + d, t + d, j, 1))

    # ------------------------------------------------------------------ the application
    def _enter_accept_queue(self, t: float) -> None:
        """A finished connection joins the accept queue; an idle application takes it at once."""
        if self.instant:
            self.accepted += 1
        elif self.tick_at == INF:  # idle, blocked in accept()
            self.accepted += 1
            self.tick_at = t + self.accept_gap
        else:
            self.accept_q += 1

    def _accept_tick(self) -> None:
        if self.accept_q:
            self.accept_q -= 1
            self.accepted += 1
            self.tick_at = self.tick_at + self.accept_gap
        else:
            self.tick_at = INF

    # ------------------------------------------------------------------ ACKs and request timers
    def _honest_ack(self, t: float, j: int, n: int, cookie: bool) -> None:
        """The ACK of client ``j``'s handshake arrives (the ``n``-th, answering SYN-ACK ``n``)."""
        c = self.counters
        d = self.d
        if cookie:
            c["SyncookiesRecv"] += 1
        if self.accept_q >= self.accept_from:  # tcp_check_req() / tcp_v4_syn_recv_sock(): the accept queue is full
            c["ListenOverflows"] += 1
            c["ListenDrops"] += 1
            if cookie:  # a cookie ACK is dropped silently; the client believes it is connected
                return
            if self.abort:  # tcp_abort_on_overflow = 1: the request goes, the client gets an RST
                self.honest_q -= 1
                if n == 0:
                    self.young -= 1
                if t + d <= self.end:
                    self.reset += 1
                return
            # tcp_abort_on_overflow = 0: the ACK is ignored; the request's timer n will
            # resend its SYN-ACK (drawing another ACK) or let it go
            t0 = self.syn_arrived[j]
            for timeout in self.synack_timeouts[: n + 1]:
                t0 += timeout
            heapq.heappush(self.timers, (t0, self.honest_tie[j], _HONEST_REQUEST, j, n))
            self.honest_timers += 1
            return
        if not cookie:
            self.honest_q -= 1
            if n == 0:
                self.young -= 1
        self._enter_accept_queue(t)

    def _retry_limit(self) -> int:
        return synack_retry_limit(self.p, self.spoofed_q + self.honest_q, self.young, self.cap)

    def _honest_request_timer(self, t: float, j: int, k: int) -> None:
        """Timer ``k`` of client ``j``'s request fires: resend the SYN-ACK (the client answers) or give up."""
        expire = k >= self._retry_limit()
        if k == 0:
            self.young -= 1
        if expire:
            self.honest_q -= 1
            return
        d = self.d
        heapq.heappush(self.later, ((t + d) + d, t + d, _RESENT_ACK, self.honest_tie[j], j, k + 1))

    def _push_stage_head(self, k: int) -> None:
        """Put the head of stage ``k`` in the timer heap (once: ``pushed`` remembers its tie)."""
        h = self.r_h[k]
        if h < len(self.r_t[k]):
            tie = self.r_tie[k][h]
            if self.pushed[k] != tie:
                self.pushed[k] = tie
                heapq.heappush(self.timers, (self.r_t[k][h], tie, _SPOOFED_STAGE, k, 0))

    def _timer_top(self) -> tuple[float, int, int, int, int] | None:
        """The next request timer (dropping stale stage heads)."""
        timers, r_t, r_h, r_tie = self.timers, self.r_t, self.r_h, self.r_tie
        while timers:
            e = timers[0]
            if e[2] == _HONEST_REQUEST:
                return e
            k = e[3]
            h = r_h[k]
            if h < len(r_t[k]) and r_tie[k][h] == e[1]:
                return e
            heapq.heappop(timers)
        return None

    def _timers_before(self, k: int, key: Key) -> int:
        """How many entries of stage ``k`` (from its head) fire before the event ``key``."""
        ts, h = self.r_t[k], self.r_h[k]
        i = bisect_left(ts, key[0], h)
        n = len(ts)
        if i < n and ts[i] == key[0]:
            ties = self.r_tie[k]
            while i < n and ts[i] == key[0] and (ts[i], INF, _TIMER, ties[i]) < key:
                i += 1
        return i - h

    def _next_decision(self) -> Key:
        """The key of the next timer whose request may expire (a stage at or above ``min_limit``, or honest)."""
        best: Key = (INF, INF, _TIMER, 0)
        for k in range(self.min_limit, len(self.r_t)):
            h = self.r_h[k]
            if h < len(self.r_t[k]):
                key = (self.r_t[k][h], INF, _TIMER, self.r_tie[k][h])
                if key < best:
                    best = key
        if self.honest_timers:
            for e in self.timers:
                if e[2] == _HONEST_REQUEST and (e[0], INF, _TIMER, e[1]) < best:
                    best = (e[0], INF, _TIMER, e[1])
        return best

    def _next_resend(self) -> Key:
        """The key of the next timer of a stage below ``min_limit`` (it resends, whatever the queue holds)."""
        best: Key = (INF, INF, _TIMER, 0)
        for k in range(min(self.min_limit, len(self.r_t))):
            h = self.r_h[k]
            if h < len(self.r_t[k]):
                key = (self.r_t[k][h], INF, _TIMER, self.r_tie[k][h])
                if key < best:
                    best = key
        return best

    def _resend_before(self, key: Key) -> None:
        """Fire every timer of the stages below ``min_limit`` due before ``key`` (they only resend).

        Such a timer changes nothing but the young count (at stage 0), which only an expiry
        decision reads: so they run in slices, just before the decision that needs them.
        """
        for k in range(min(self.min_limit, len(self.r_t))):
            m = self._timers_before(k, key)
            if m:
                self._move_stage(k, m)

    def _move_stage(self, k: int, m: int) -> None:
        """The next ``m`` entries of stage ``k`` resend their SYN-ACK: on to stage ``k + 1``."""
        ts, h = self.r_t[k], self.r_h[k]
        step = self.synack_timeouts[k + 1]
        nxt = self.r_t[k + 1]
        was_empty = self.r_h[k + 1] >= len(nxt)
        nxt.extend([t + step for t in ts[h : h + m]])
        counts = self.r_n[k][h : h + m]
        self.r_n[k + 1].extend(counts)
        self.r_tie[k + 1].extend(self.r_tie[k][h : h + m])
        if was_empty:
            self._push_stage_head(k + 1)
        if k == 0:
            self.young -= m if self.g == 1 else sum(counts)  # one request per entry unless bursty
        h += m
        if h > 4096 and h * 2 > len(ts):
            del ts[:h], self.r_tie[k][:h], self.r_n[k][:h]
            h = 0
        self.r_h[k] = h
        self._push_stage_head(k)

    def _stage_timers(self, k: int, other: Key, inert: bool) -> None:
        """The head of SYN-ACK stage ``k`` fires; so does the rest of the stage up to the event ``other``.

        A request resends its SYN-ACK (and moves to stage ``k + 1``) or expires.  While
        nothing else happens, every request of the stage meets the same decision, so
        resends are moved as one slice; expiries go one at a time, each followed by the
        SYN that takes the freed slot (:meth:`_expire_and_refill`).
        """
        if k >= self.min_limit and k >= self._retry_limit():
            self._expire_and_refill(k, other, inert)
            h = self.r_h[k]
            if h > 4096 and h * 2 > len(self.r_t[k]):
                del self.r_t[k][:h], self.r_tie[k][:h], self.r_n[k][:h]
                self.r_h[k] = 0
            self._push_stage_head(k)
            return
        ts, h = self.r_t[k], self.r_h[k]
        # the first resent timer bounds the run too (it fires at stage k + 1)
        bound: Key = (ts[h] + self.synack_timeouts[k + 1], INF, _TIMER, self.r_tie[k][h])
        if k < self.min_limit:
            # an unconditional resend: only the next expiry decision must see it (young count)
            bound = min(bound, self._next_decision())
        else:
            # a decision that the state could change: up to the next event, the next resends included
            bound = min(bound, other, self._next_resend())
        self._move_stage(k, max(1, self._timers_before(k, bound)))

    def _expire_and_refill(self, k: int, other: Key, inert: bool) -> None:
        """Expire the head request of stage ``k`` (and the others of its burst that expire too); then,
        while the next spoofed SYNs take the freed slots before anything else happens, let them, and go
        on with the next requests of the stage if they expire too.

        Under a flood the SYN queue stays full: every expiry is followed by a refill.  Doing
        both here, until another event (``other``), an honest SYN or a resend comes first,
        spares the main loop two turns per request.
        """
        ts, ties, counts = self.r_t[k], self.r_tie[k], self.r_n[k]
        st, end, first, g = self.spoof_time, self.end, self.synack_timeouts[0], self.g
        full = self._cat()  # the state before the first expiry (a refusal when inert)
        bound = other
        while True:
            h = self.r_h[k]
            key = (ts[h], INF, _TIMER, ties[h])
            c = counts[h]
            x = 0
            while True:  # the requests of one entry fire at the same instant, one after the other
                x += 1
                self.spoofed_q -= 1
                if k == 0:
                    self.young -= 1
                if x == c or self._retry_limit() > k:
                    break
            if x < c:  # the rest of the entry resends: the main loop moves it
                counts[h] = c - x
                ties[h] += x
                self._changed(key, full)
                return
            self.r_h[k] = h + 1
            qlen = self.spoofed_q + self.honest_q
            if not inert or self.si >= self.n_spoof or self._cat() != _ADMIT:
                self._changed(key, full)
                return
            s = st(self.si)
            spoof_key = (s, -INF, _SPOOF, self.si)
            h += 1
            nxt = (ts[h], INF, _TIMER, ties[h]) if h < len(ts) else (INF, INF, _TIMER, 0)
            e = self._honest_after(key)
            if s > end or not spoof_key < bound or not spoof_key < nxt or (e is not None and e[0] < spoof_key):
                # something else happens first: an honest SYN (it gets the slot), another event,
                # or the next request of the stage, which may expire too
                self._changed(key, full)
                return
            # the SYNs of that instant (one, or a burst) take the free slots
            n = min(g, self.n_spoof - self.si)
            admitted = min(n, self.capacity - qlen)
            tie0 = self.tie + 1
            self._queue_spoofed(self.si + admitted)
            if n > admitted:
                self.counters["SpoofedSyns"] += n - admitted
                self._count(n - admitted, full)
                self.si += n - admitted
            if self.spoofed_q + self.honest_q < self.capacity:  # they did not fill the queue again
                self._changed(key, full)
                return
            bound = min(bound, (s + first, INF, _TIMER, tie0))  # their first SYN-ACK timer
            if not nxt < bound or nxt[0] > end:
                return
            # the spoofed SYNs up to that timer meet a full queue (honest ones wait, pending)
            if self.si < self.n_spoof and st(self.si) <= nxt[0]:
                hi = self._spoofed_index(nxt[0], False)
                self.counters["SpoofedSyns"] += hi - self.si
                self._count(hi - self.si, full)
                self.si = hi
            self._resend_before(nxt)  # the young count as the next decision sees it
            if self._retry_limit() > k:
                return  # it resends: the main loop moves the run

    def _refill(self, key: Key, full: int) -> bool:
        """A slot freed at ``key`` in a queue that was ``full``: if the next spoofed SYN takes it before
        anything else happens, let it now (the queue is as before).  True when done so."""
        qlen = self.spoofed_q + self.honest_q
        if self.si >= self.n_spoof or self._cat() != _ADMIT:
            return False
        s = self.spoof_time(self.si)
        spoof_key = (s, -INF, _SPOOF, self.si)
        if s > self.end or not spoof_key < self._next_key():
            return False
        e = self._honest_after(key)
        if e is not None and e[0] < spoof_key:
            return False
        if self.pend_cat is not None and s >= self.deadline:
            return False
        n = min(self.g, self.n_spoof - self.si)
        admitted = min(n, self.capacity - qlen)
        if admitted < n or self.spoofed_q + self.honest_q + admitted < self.capacity:
            return False  # not exactly one refill: the main loop does it
        self._queue_spoofed(self.si + admitted)
        return True

    # ------------------------------------------------------------------ windows of one retry limit
    def _window_plan(self, k1: Key) -> tuple[list[int], int] | None:
        """Can the events before ``k1`` run as one window?  ``(entries firing per stage, the limit)`` or None.

        They can when every request whose SYN-ACK timer fires in it meets the same retry
        limit whatever the order of the events: checked on the bounds of the queue length
        and of the young count over the window.
        """
        strict = not ((k1[1], k1[2]) > (-INF, _SPOOF))
        n = self._spoofed_index(k1[0], strict) - self.si
        for a in range(self.last_stage + 1):
            n += self._stage_before(a, k1) - self.w_h[a]
        acks = 0
        for e in self.acks:
            if (e[0], e[1], _ACK, 0) >= k1:
                break
            acks += 1
        firing: list[int] = []
        expiring = young0 = 0
        for k in range(len(self.r_t)):
            m = self._timers_before(k, k1)
            firing.append(m)
            if m:
                h = self.r_h[k]
                members = m if self.g == 1 else sum(self.r_n[k][h : h + m])
                if k == 0:
                    young0 = members
                if k >= self.min_limit:
                    expiring += members
        qlen = self.spoofed_q + self.honest_q
        gone = acks + n  # honest SYNs queued in the window may leave in it too
        lo = synack_retry_limit(self.p, min(self.capacity, qlen + n), max(0, self.young - young0 - gone), self.cap)
        hi = synack_retry_limit(self.p, max(0, qlen - expiring - gone), self.young + n, self.cap)
        return (firing, lo) if lo == hi else None

    def _window(self, k0: Key, limit_key: Key) -> bool:
        """Run the events from ``k0`` to a window end (at most ``limit_key``) in one go, if one fits.

        Within a window the retry limit cannot change (:meth:`_window_plan`), so each SYN-ACK
        stage fires as a slice: resends move to the next stage, expiries free slots.  Only the
        race for the free slots is walked in order: between two slot events (an expiry, an
        honest ACK) the spoofed SYNs are arithmetic and the honest ones few.  The window ends
        before any timer set in it could fire.  Returns False when no window worth it fits.
        """
        span = min(self.synack_timeouts[0], 2 * self.span)  # grow from the last window that worked
        k1 = min(limit_key, (k0[0] + span, -INF, -1, 0))
        plan = self._window_plan(k1)
        if plan is None:  # one more try, a quarter as long
            span /= 4
            k1 = min(limit_key, (k0[0] + span, -INF, -1, 0))
            plan = self._window_plan(k1)
        if plan is None or not k0 < k1:
            self.span = max(span, 1e-3)
            return False
        self.span = max(span, 1e-3)
        firing, limit = plan
        if sum(firing) < 8:
            return False  # not worth it: the main loop does a few events faster
        if self.pend_cat is not None:  # honest SYNs refused before k0: settle them first
            self._settle(k0, self.pend_cat)
            self.pend_cat, self.deadline = None, INF
            cat = self._cat()
            if self._inert(cat):
                self._start_pending(cat, k0[0])
            else:
                self.mark = k0
        # 1. the SYN-ACK timers of the window, a stage at a time; expiries become slot events
        slots: list[tuple[Key, int]] = []
        for k, m in enumerate(firing):
            if not m:
                continue
            h = self.r_h[k]
            ts, ties, counts = self.r_t[k][h : h + m], self.r_tie[k][h : h + m], self.r_n[k][h : h + m]
            if k == 0:
                self.young -= m if self.g == 1 else sum(counts)
            if k >= limit:
                slots.extend(((t, INF, _TIMER, tie), c) for t, tie, c in zip(ts, ties, counts, strict=True))
            else:
                step = self.synack_timeouts[k + 1]
                nxt = self.r_t[k + 1]
                was_empty = self.r_h[k + 1] >= len(nxt)
                nxt.extend([t + step for t in ts])
                self.r_n[k + 1].extend(counts)
                self.r_tie[k + 1].extend(ties)
                if was_empty:
                    self._push_stage_head(k + 1)
            h += m
            if h > 4096 and h * 2 > len(self.r_t[k]):
                del self.r_t[k][:h], self.r_tie[k][:h], self.r_n[k][:h]
                h = 0
            self.r_h[k] = h
            self._push_stage_head(k)
        slots.sort()
        # 2. the race for free slots, in the order of the slot events
        ack_events: list[tuple[Key, int]] = []  # honest ACKs due in the window: (key, client)
        while self.acks and (self.acks[0][0], self.acks[0][1], _ACK, 0) < k1:
            t, sent, j, _ = self.acks.popleft()
            ack_events.append(((t, sent, _ACK, 0), j))
        heapq.heapify(ack_events)
        i = 0
        while True:
            upto, what = k1, 0
            if i < len(slots) and slots[i][0] < upto:
                upto, what = slots[i][0], 1
            if ack_events and ack_events[0][0] < upto:
                upto, what = ack_events[0][0], 2
            if self._arrivals_until(upto, ack_events) < upto:
                continue  # an honest SYN queued on the way has its ACK first
            if what == 0:
                break
            if what == 1:
                self.spoofed_q -= slots[i][1]
                i += 1
            else:
                heapq.heappop(ack_events)
                self.honest_q -= 1
                self.young -= 1
                self.accepted += 1
        for key, j in sorted(ack_events):  # queued in the window, their ACKs come after it
            self.acks.append((key[0], key[1], j, 0))
        # 3. the state after the window: refused honest SYNs wait (pend_cat), or SYNs are events again
        cat = self._cat()
        if self._inert(cat):
            if self.pend_cat is None:
                self._start_pending(cat, k1[0])
        else:
            self.mark = k1
        return True

    def _arrivals_until(self, key: Key, ack_events: list[tuple[Key, int]]) -> Key:
        """In a window: the SYNs arriving before ``key`` take the free slots in their order; the rest are refused.

        Stops early at the ACK of an honest SYN queued on the way (it frees a slot); returns
        the key it went up to.
        """
        d, c = self.d, self.counters
        while True:
            upto = min(key, ack_events[0][0]) if ack_events else key
            free = self.capacity - self.spoofed_q - self.honest_q
            e = self._honest_after(self.cursor) if free > 0 else None
            kh = e[0] if e is not None and e[0] < upto else None
            if self.si < self.n_spoof:
                limit = kh if kh is not None else upto
                strict = not ((limit[1], limit[2]) > (-INF, _SPOOF))
                s_end = self._spoofed_index(limit[0], strict)
                n = s_end - self.si
                if n:
                    k = min(n, max(0, free))
                    self._queue_spoofed(self.si + k)
                    if n > k:
                        c["SpoofedSyns"] += n - k
                        self._count(n - k, self._cat())
                    self.si = s_end
                    free -= k
            if kh is None or e is None or free <= 0:
                if free <= 0:  # the queue is full: honest SYNs before upto are refused, settled later
                    if self.pend_cat is None:
                        self._start_pending(self._cat(), self.cursor[0])
                    if kh is not None:  # and so are the spoofed ones after that honest SYN
                        strict = not ((upto[1], upto[2]) > (-INF, _SPOOF))
                        s_end = self._spoofed_index(upto[0], strict)
                        if s_end > self.si:
                            c["SpoofedSyns"] += s_end - self.si
                            self._count(s_end - self.si, self._cat())
                            self.si = s_end
                self.cursor = upto
                return upto
            # the honest SYN takes a slot
            _, a, x = e
            if x > self.w_h[a]:  # refused ones before it in its stage (pending): settle them
                assert self.pend_cat is not None
                self._settle_stage(a, x - self.w_h[a], self.pend_cat)
                x = self.w_h[a]
            j, t = self.w_id[a][x], self.w_arr[a][x]
            self.w_h[a] = x + 1
            self.hver += 1
            self.sver[a] += 1
            c["LegitSyns"] += 1
            self.tie += 1
            self.done_at[j] = t + d
            self.honest_q += 1
            self.young += 1
            self.syn_arrived[j] = t
            self.honest_tie[j] = self.tie
            heapq.heappush(ack_events, (((t + d) + d, t + d, _ACK, 0), j))
            self.cursor = kh

    def _queue_spoofed(self, hi: int) -> None:
        """Queue spoofed SYNs ``si`` to ``hi`` (there is room for all of them)."""
        lo, g = self.si, self.g
        k = hi - lo
        if k <= 0:
            return
        st, first, tie = self.spoof_time, self.synack_timeouts[0], self.tie
        stage0 = self.r_t[0]
        was_empty = self.r_h[0] >= len(stage0)
        stage0.extend([st(i) + first for i in range(lo, hi, g)])  # one entry per burst
        self.r_tie[0].extend(range(tie + 1, tie + k + 1, g))
        self.r_n[0].extend([g] * (k // g) + ([k % g] if k % g else []))
        self.tie = tie + k
        if was_empty:
            self._push_stage_head(0)
        self.si = hi
        self.spoofed_q += k
        self.young += k
        self.counters["SpoofedSyns"] += k
        self.counters["SpoofedQueued"] += k

    # ------------------------------------------------------------------ the run
    def _next_key(self, decisions_only: bool = False) -> Key:
        """The key of the next event other than a SYN arrival (timers, ACKs, accept(), samples).

        ``decisions_only``: leave out the timers that can only resend (:meth:`_next_decision`).
        """
        ns = self.next_sample
        best: Key = (self.sample_times[ns], INF, _SAMPLE, 0) if ns < len(self.sample_times) else (INF, INF, _SAMPLE, 0)
        t = self.tick_at
        if t < INF and t <= best[0]:
            best = (t, -INF, _ACCEPT, 0)
        timers = self.timers
        if decisions_only:
            key = self._next_decision()
            if key < best:
                best = key
        elif timers:
            e: tuple[float, int, int, int, int] | None = timers[0]
            assert e is not None
            if e[2] != _HONEST_REQUEST:
                k, h = e[3], self.r_h[e[3]]
                if not (h < len(self.r_t[k]) and self.r_tie[k][h] == e[1]):
                    e = self._timer_top()  # drop stale heads
            if e is not None and e[0] <= best[0]:
                key = (e[0], INF, _TIMER, e[1])
                if key < best:
                    best = key
        acks = self.acks
        if acks:
            a = acks[0]
            if a[0] <= best[0]:
                key = (a[0], a[1], _ACK, 0)
                if key < best:
                    best = key
        later = self.later
        if later:
            a2 = later[0]
            if a2[0] <= best[0]:
                key = (a2[0], a2[1], _RESENT_ACK, a2[3])
                if key < best:
                    best = key
        return best

    def run(self) -> FloodResult:
        """Run the flood to its end and return what happened (once; later calls return the same)."""
        if not self.done:
            self._run()
            self.done = True
        return self._result()

    def _run(self) -> None:
        end, n_spoof = self.end, self.n_spoof
        while True:
            cat = self._cat()
            inert = self._inert(cat)
            key = self._next_key()
            hon = None
            if not inert:
                hon = self._honest_after(self.mark)
                if hon is not None and hon[0] < key:
                    key = hon[0]
                else:
                    hon = None
            if self.pend_cat is not None and min(key[0], end) >= self.deadline:
                self._settle_due(min(key, (end, INF, INF, INF)), inert)
                continue
            if self.instant and self.cookies != 2 and not self.later and len(self.r_t) > 1:
                if self.backoff > 0:
                    self.backoff -= 1
                else:  # try to run a whole window of events at once
                    k0 = key
                    if self.si < n_spoof:
                        k0 = min(k0, (self.spoof_time(self.si), -INF, _SPOOF, self.si))
                    nxt_sample = (
                        (self.sample_times[self.next_sample], INF, _SAMPLE, 0)
                        if self.next_sample < len(self.sample_times)
                        else (INF, INF, _SAMPLE, 0)
                    )
                    self.cursor = k0
                    if k0[0] <= end and self._window(k0, min(nxt_sample, (end, INF, INF, INF))):
                        self.fails = 0
                        continue
                    self.fails += 1
                    self.backoff = 16 << min(self.fails, 5)
            bound = min(key[0], end)
            if self.si < n_spoof:
                s = self.spoof_time(self.si)
                if s <= bound:
                    strict = self.tick_at <= bound  # a due accept() runs before the segments of its instant
                    if (not strict or s < bound) and (self._spoofed_until(bound, strict) or self._cat() != cat):
                        continue  # spoofed SYNs went first (equal times too) and changed the queue: look again
            if key[0] > end:
                break
            kind = key[2]
            if hon is not None:
                self._honest_syn(hon[1], hon[2], key[0])
            elif kind == _TIMER:
                e = heapq.heappop(self.timers)
                if e[2] == _HONEST_REQUEST:
                    self.honest_timers -= 1
                    self._honest_request_timer(e[0], e[3], e[4])
                else:
                    other = self._next_key(decisions_only=True)
                    if not inert:
                        if self.si < n_spoof:  # a spoofed SYN would be a change
                            other = min(other, (self.spoof_time(self.si), -INF, _SPOOF, self.si))
                        h2 = self._honest_after(self.mark)
                        if h2 is not None:
                            other = min(other, h2[0])
                    if self.pend_cat is not None:
                        other = min(other, (self.deadline, -INF, _ACCEPT, 0))
                    self._stage_timers(e[3], other, inert)
                    continue  # _expire_and_refill keeps the pending SYNs right itself
            elif kind == _ACCEPT:
                self._accept_tick()
            elif kind == _ACK:
                t, _, j, cookie = self.acks.popleft()
                self._honest_ack(t, j, 0, bool(cookie))
                if inert and self._refill(key, cat):
                    continue
            elif kind == _RESENT_ACK:
                t, _, _, _, j, n = heapq.heappop(self.later)
                self._honest_ack(t, j, n, False)
            else:
                self.samples.append((key[0], self.spoofed_q + self.honest_q, self.accept_q))
                self.next_sample += 1
                continue
            self._changed(key, cat)
        if self.pend_cat is not None:
            self._settle((end, INF, INF, INF) if self._inert(self._cat()) else self.mark, self.pend_cat)

    def _result(self) -> FloodResult:
        end = self.end
        connected = failed = 0
        times: list[float] = []
        done: list[float | None] = []
        gave_up: list[float | None] = []
        g = self.last_stage
        for j, start in enumerate(self.starts):
            at = self.done_at[j]
            if at is not None:
                done.append(at)
                gave_up.append(None)
                if at <= end:
                    connected += 1
                    times.append(at - start)
                continue
            done.append(None)
            quit_at = self.sent_time(j, g) + self.syn_timeouts[g]
            if quit_at <= end:
                failed += 1
                gave_up.append(quit_at)
            else:
                gave_up.append(None)
        n = self.n_legit
        return FloodResult(
            n,
            connected,
            failed,
            n - connected - failed,
            tuple(times),
            tuple(self.samples),
            dict(self.counters),
            self.fp.as_dict(),
            self.accepted,
            self.reset,
            syn_limit=self.cap,
            accept_limit=self.cap,
            syn_capacity=self.capacity,
            clients=client_counts(self.starts, done, gave_up, self.sample_times),
        )
