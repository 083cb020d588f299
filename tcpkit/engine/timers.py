"""Retransmission schedules and limits: small pure functions the engine asks "how long now?" and "give up?".

Every function takes the profile's :class:`~tcpkit.engine.profiles.Params` and a
retransmission count (and, for the limits, the time elapsed), and returns a
duration in seconds or a yes/no.  Nothing here keeps state or reads a clock,
so the schedules can be printed, plotted and tested on their own.  The module
also holds :class:`Timers`, one connection's table of named deadlines.

Examples
--------
>>> from tcpkit.engine.profiles import get_profile
>>> linux = get_profile("linux").params
>>> syn_retransmit_times(linux)
[1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0]
>>> syn_give_up_time(linux)
131.0
>>> syn_retransmit_times(get_profile("linux", tcp_syn_linear_timeouts=0).params)
[1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
>>> two = get_profile("linux", tcp_syn_retries=2).params     # given up by time, not by count
>>> syn_retransmit_times(two), syn_give_up_time(two)
([1.0, 2.0, 3.0, 4.0, 5.0], 7.0)
>>> round(model_timeout(15, 0.2, 120.0), 1)                  # tcp_retries2 = 15 in ESTABLISHED
924.6

Notes
-----
Linux: ``net/ipv4/tcp_timer.c``: ``tcp_retransmit_timer()`` (the first
``tcp_syn_linear_timeouts`` SYN timeouts are not backed off),
``tcp_write_timeout()`` (in SYN_SENT give up after ``syn_retries +
syn_linear_timeouts`` retransmissions *or* when ``retransmits_timed_out()``
says the time that ``syn_retries`` exponential retransmissions would take has
passed; elsewhere by time alone, ``tcp_retries2`` or ``tcp_orphan_retries``
turned into time by ``tcp_model_timeout()``, or ``TCP_USER_TIMEOUT``);
``net/ipv4/inet_connection_sock.c`` ``reqsk_timer_handler()`` for SYN-ACKs.
FreeBSD: ``sys/netinet/tcp_timer.c`` ``tcp_timer_rexmt()`` (SYN and SYN-ACK:
``tcp_rexmit_initial * tcp_backoff[shift]`` through ``TCPT_RANGESET``, which adds
``tcp_rexmit_slop``; give up after ``V_tcp_retries`` = 12), the keep timer
(``net.inet.tcp.keepinit``, 75 s) in SYN_SENT, ``tcp_syncache.c``
``syncache_timeout()`` (``net.inet.tcp.syncache.rexmtlimit``).  RFC 6298 §2 and §5.
"""

from __future__ import annotations

from collections.abc import Callable

from .profiles import Params

__all__ = [
    "Timers",
    "syn_timeout",
    "syn_expired",
    "syn_retransmit_times",
    "syn_give_up_time",
    "synack_timeout",
    "synack_retransmit_times",
    "rto_backoff",
    "model_timeout",
    "retries_timed_out",
    "orphan_retries",
    "RttEstimator",
    "LINUX_RTO_MIN",
]

#: ``TCP_RTO_MIN`` (include/net/tcp.h): the base of Linux's time-based limit for data, whatever ``rto_min`` is.
LINUX_RTO_MIN = 0.2
_EPS = 1e-9


def _rangeset(params: Params, value: float) -> float:
    """FreeBSD ``TCPT_RANGESET``: add ``tcp_rexmit_slop``, then clamp to ``[rto_min, rto_max]``."""
    return min(max(value + params.rexmit_slop, params.rto_min), params.rto_max)


def syn_timeout(params: Params, k: int) -> float:
    """How long to wait after the ``k``-th SYN transmission (``k = 0`` is the first SYN).

    Parameters
    ----------
    params : Params
    k : int
        How many retransmissions have already been sent.

    Returns
    -------
    float
        Seconds until the next retransmission (or the give-up check).

    Examples
    --------
    >>> from tcpkit.engine.profiles import get_profile
    >>> [syn_timeout(get_profile("linux").params, k) for k in range(7)]
    [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 4.0]
    >>> [round(syn_timeout(get_profile("freebsd").params, k), 3) for k in (0, 1, 2, 5, 6, 12)]
    [1.0, 2.2, 4.2, 32.2, 64.0, 64.0]

    Notes
    -----
    Linux (>= 6.5): ``rto_initial`` for ``k <= syn_linear_timeouts``, then doubling
    (``net/ipv4/tcp_timer.c``), capped at ``rto_max``.  FreeBSD ``tcp_timer_rexmt()``:
    ``tcp_rexmit_initial * tcp_backoff[k]`` plus ``tcp_rexmit_slop`` (200 ms), at most
    ``TCPTV_REXMTMAX`` (64 s); the first timeout is ``tcp_rexmit_initial`` itself
    (``tcp_newtcpcb``).  RFC 9293/RFC 6298 §5.5: pure doubling.
    """
    if params.syn_backoff:
        if k == 0:
            return params.rto_initial
        mult = params.syn_backoff[min(k, len(params.syn_backoff) - 1)]
        return _rangeset(params, params.rto_initial * mult)
    lin = params.syn_linear_timeouts
    return min(params.rto_initial * 2 ** max(0, k - lin), params.rto_max)


def model_timeout(boundary: int, rto_base: float, rto_max: float) -> float:
    """How long ``boundary`` retransmissions take when the RTO starts at ``rto_base`` and doubles up to ``rto_max``.

    Linux turns its retry counts into times with this (``tcp_model_timeout()``): the
    first doublings while they stay under ``rto_max``, then ``rto_max`` per retry.

    >>> model_timeout(2, 1.0, 120.0), model_timeout(6, 1.0, 120.0), round(model_timeout(8, 0.2, 120.0), 1)
    (7.0, 127.0, 102.2)

    Notes
    -----
    net/ipv4/tcp_timer.c ``tcp_model_timeout()``: ``linear_backoff_thresh = ilog2(TCP_RTO_MAX /
    rto_base)``; ``((2 << boundary) - 1) * rto_base`` up to it, then ``+ (boundary - thresh) *
    TCP_RTO_MAX``.
    """
    thresh = int(round(rto_max / rto_base, 6)).bit_length() - 1
    if boundary <= thresh:
        return ((2 << boundary) - 1) * rto_base
    return ((2 << thresh) - 1) * rto_base + (boundary - thresh) * rto_max


def syn_expired(params: Params, retransmits: int, elapsed: float, *, user_timeout: float = 0.0) -> bool:
    """Does connect() give up now, after ``retransmits`` SYN retransmissions and ``elapsed`` seconds?

    Examples
    --------
    >>> from tcpkit.engine.profiles import get_profile
    >>> two = get_profile("linux", tcp_syn_retries=2).params
    >>> syn_expired(two, 5, 7.0), syn_expired(two, 5, 6.0), syn_expired(two, 6, 6.0)
    (True, False, True)

    Notes
    -----
    Linux ``tcp_write_timeout()``: ``retransmits >= syn_retries + syn_linear_timeouts``, or
    ``retransmits_timed_out(sk, syn_retries, user_timeout)`` (with ``rto_base = tcp_timeout_init()``).
    FreeBSD: ``++t_rxtshift > V_tcp_retries`` in ``tcp_timer_rexmt()``, and the keep timer
    (``keepinit``) in SYN_SENT (``tcp_timer_keep()``: ``t_state < TCPS_ESTABLISHED`` -> drop).
    """
    if retransmits >= params.syn_retries + params.syn_linear_timeouts:
        return True
    if params.connect_timeout is not None and elapsed >= params.connect_timeout - _EPS:
        return True
    if params.rules.time_based_limits and retransmits > 0:
        limit = user_timeout or model_timeout(params.syn_retries, params.rto_initial, params.rto_max)
        return elapsed >= limit - _EPS
    return False


def _syn_schedule(params: Params) -> tuple[list[float], float]:
    times: list[float] = []
    t = 0.0
    k = 0
    while True:
        t += syn_timeout(params, k)
        if params.connect_timeout is not None:
            t = min(t, params.connect_timeout)
        if syn_expired(params, k, t):
            return times, round(t, 9)
        times.append(round(t, 9))
        k += 1


def syn_retransmit_times(params: Params) -> list[float]:
    """Times (after connect) at which the SYN is retransmitted.

    >>> from tcpkit.engine.profiles import get_profile
    >>> syn_retransmit_times(get_profile("freebsd").params)
    [1.0, 3.2, 7.4, 15.6, 31.8, 64.0]
    """
    return _syn_schedule(params)[0]


def syn_give_up_time(params: Params) -> float:
    """When connect() fails with ETIMEDOUT (seconds after the first SYN).

    >>> from tcpkit.engine.profiles import get_profile
    >>> syn_give_up_time(get_profile("freebsd").params)     # net.inet.tcp.keepinit
    75.0
    >>> syn_give_up_time(get_profile("rfc9293").params)   # 1+2+4+8+16+32+60+60 (rto_max 60 s)
    183.0
    """
    return _syn_schedule(params)[1]


def synack_timeout(params: Params, k: int) -> float:
    """How long a listener waits after the ``k``-th SYN-ACK transmission.

    >>> from tcpkit.engine.profiles import get_profile
    >>> [synack_timeout(get_profile("linux").params, k) for k in range(6)]
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    >>> [round(synack_timeout(get_profile("freebsd").params, k), 3) for k in range(4)]
    [1.0, 2.2, 4.2, 8.2]

    Notes
    -----
    Linux ``reqsk_timer_handler`` (``net/ipv4/inet_connection_sock.c``) doubles the
    timeout for every retransmission (``TCP_TIMEOUT_INIT << req->num_timeout``).
    FreeBSD ``syncache_timeout()`` (``sys/netinet/tcp_syncache.c``): ``tcp_rexmit_initial``
    first, then ``TCPT_RANGESET(tcp_rexmit_initial * tcp_backoff[sc_rxmits])``.
    """
    if params.syn_backoff:
        if k == 0:
            return params.rto_initial
        mult = params.syn_backoff[min(k, len(params.syn_backoff) - 1)]
        return _rangeset(params, params.rto_initial * mult)
    return min(params.rto_initial * 2**k, params.rto_max)


def synack_retransmit_times(params: Params) -> list[float]:
    """Times (after the SYN arrived) of SYN-ACK retransmissions; the request dies one timeout later.

    >>> from tcpkit.engine.profiles import get_profile
    >>> synack_retransmit_times(get_profile("linux").params)
    [1.0, 3.0, 7.0, 15.0, 31.0]
    >>> synack_retransmit_times(get_profile("freebsd").params)    # net.inet.tcp.syncache.rexmtlimit = 3
    [1.0, 3.2, 7.4]
    """
    t = 0.0
    out = []
    for k in range(params.synack_retries):
        t += synack_timeout(params, k)
        out.append(round(t, 9))
    return out


def rto_backoff(rto: float, retransmissions: int, params: Params) -> float:
    """The RTO after ``retransmissions`` doublings, capped at ``rto_max`` (RFC 6298 §5.5).

    >>> from tcpkit.engine.profiles import get_profile
    >>> [rto_backoff(0.2, n, get_profile("linux").params) for n in (0, 1, 3, 20)]
    [0.2, 0.4, 1.6, 120.0]
    """
    return min(rto * 2**retransmissions, params.rto_max)


def orphan_retries(params: Params, alive: bool) -> int:
    """The retry limit of an orphaned socket (closed by its application).

    Linux ``tcp_orphan_retries()``: the sysctl, except that 0 means 8 while the RTO is still
    below ``TCP_RTO_MAX`` ("alive") and stays 0 after; the other profiles use their limit.

    >>> from tcpkit.engine.profiles import get_profile
    >>> orphan_retries(get_profile("linux").params, True), orphan_retries(get_profile("linux").params, False)
    (8, 0)
    """
    r = params.orphan_retries
    if params.rules.time_based_limits and r == 0 and alive:
        return 8
    return r


def retries_timed_out(params: Params, retries: int, elapsed: float, *, user_timeout: float = 0.0) -> bool:
    """Linux ``retransmits_timed_out()`` for data: has ``retries`` retransmissions' worth of time passed?

    The time is ``TCP_USER_TIMEOUT`` when set, else :func:`model_timeout` of ``retries`` from
    ``TCP_RTO_MIN`` (200 ms), measured from the first transmission of the oldest unacknowledged
    segment (``retrans_stamp``).

    >>> from tcpkit.engine.profiles import get_profile
    >>> p = get_profile("linux").params
    >>> retries_timed_out(p, 15, 924.6), retries_timed_out(p, 15, 900.0)
    (True, False)
    >>> retries_timed_out(p, 15, 31.0, user_timeout=30)
    True
    """
    limit = user_timeout or model_timeout(retries, LINUX_RTO_MIN, params.rto_max)
    return elapsed >= limit - _EPS


class RttEstimator:
    """RFC 6298 §2 smoothed RTT and RTO, clamped to ``[rto_min, rto_max]``.

    Examples
    --------
    >>> from tcpkit.engine.profiles import get_profile
    >>> est = RttEstimator(get_profile("linux").params)
    >>> est.rto
    1.0
    >>> est.sample(0.1)
    >>> round(est.srtt, 3), round(est.rttvar, 3), round(est.rto, 3)
    (0.1, 0.05, 0.3)

    Notes
    -----
    RFC 6298 §2.2 (first sample: SRTT = R, RTTVAR = R/2) and §2.3
    (alpha = 1/8, beta = 1/4, RTO = SRTT + max(G, 4 RTTVAR)); §2.4/2.5 for the bounds.
    """

    def __init__(self, params: Params) -> None:
        self.params = params
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.rto = params.rto_initial

    def sample(self, r: float) -> None:
        """Feed one round-trip measurement (seconds)."""
        if self.srtt is None:
            self.srtt = r
            self.rttvar = r / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        rto = self.srtt + max(0.001, 4 * self.rttvar)
        self.rto = min(max(rto, self.params.rto_min), self.params.rto_max)


class Timers:
    """The named deadlines of one connection; every change is reported to ``on_change``.

    A connection has at most one deadline per name (``rexmt``, ``tlp``, ``persist``,
    ``delack``, ``keepalive``, ``fin_wait_2``, ``time_wait``).  :meth:`pop_due` hands
    them out earliest first (equal deadlines: a tail loss probe first, then by name, so a
    run is repeatable).

    Examples
    --------
    >>> seen = []
    >>> t = Timers(lambda now, name, deadline: seen.append((name, deadline)))
    >>> t.set(0.0, "rexmt", 1.0); t.set(0.0, "delack", 0.04); t.next_deadline()
    0.04
    >>> t.pop_due(0.5), t.pop_due(0.5)
    ((0.04, 'delack'), None)
    >>> t.cancel(0.5, "rexmt"); seen
    [('rexmt', 1.0), ('delack', 0.04), ('rexmt', None)]
    """

    __slots__ = ("deadlines", "_on_change")

    #: Fired before the others due at the same instant: a loss probe scheduled for the moment of
    #: the RTO goes instead of it (Linux has one timer, the probe replaced the RTO:
    #: ``tcp_schedule_loss_probe()``).
    FIRST_ON_TIES: tuple[str, ...] = ("tlp",)

    def __init__(self, on_change: Callable[[float, str, float | None], None]) -> None:
        #: name -> deadline (seconds of virtual time)
        self.deadlines: dict[str, float] = {}
        self._on_change = on_change

    def __contains__(self, name: object) -> bool:
        return name in self.deadlines

    def get(self, name: str) -> float | None:
        """The deadline of ``name``, or ``None`` when it is not running."""
        return self.deadlines.get(name)

    def set(self, now: float, name: str, deadline: float) -> None:
        """Start (or move) timer ``name``; reported as a ``TimerSet``."""
        self.deadlines[name] = deadline
        self._on_change(now, name, deadline)

    def cancel(self, now: float, name: str) -> None:
        """Stop timer ``name`` if it runs; reported as a ``TimerCancelled``."""
        if self.deadlines.pop(name, None) is not None:
            self._on_change(now, name, None)

    def cancel_all(self, now: float) -> None:
        """Stop every timer (the connection is gone)."""
        for name in list(self.deadlines):
            self.cancel(now, name)

    def move(self, name: str, deadline: float) -> None:
        """Change a deadline without a trace record (a timer that is re-armed as it is handled)."""
        self.deadlines[name] = deadline

    def forget(self, name: str) -> None:
        """Drop a deadline without a trace record (it is about to be set again)."""
        self.deadlines.pop(name, None)

    def next_deadline(self) -> float | None:
        """The earliest deadline, or ``None``."""
        return min(self.deadlines.values()) if self.deadlines else None

    def pop_due(self, now: float) -> tuple[float, str] | None:
        """Remove and return the earliest ``(deadline, name)`` due at or before ``now``, or ``None``."""
        due = [(d, n not in self.FIRST_ON_TIES, n) for n, d in self.deadlines.items() if d <= now]
        if not due:
            return None
        deadline, _rank, name = min(due)
        del self.deadlines[name]
        return deadline, name
