"""Retransmission schedules: small pure functions the engine asks "how long now?".

Every function takes the profile's :class:`~tcpkit.engine.profiles.Params` and a
retransmission count, and returns a duration in seconds.  Nothing here keeps
state or reads a clock, so the schedules can be printed, plotted and tested
on their own.

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

Notes
-----
Linux: ``net/ipv4/tcp_timer.c`` (``tcp_retransmit_timer``, ``tcp_write_timeout``:
in SYN_SENT ``max_retransmits = syn_retries + syn_linear_timeouts`` and the
first ``syn_linear_timeouts`` timeouts are not backed off);
``net/ipv4/inet_connection_sock.c`` ``reqsk_timer_handler`` for SYN-ACKs.
FreeBSD: ``sys/netinet/tcp_timer.c`` ``tcp_syn_backoff[]`` and
``TCPTV_KEEP_INIT``.  RFC 6298 §2 and §5 (RTO computation and backoff).
"""

from __future__ import annotations

from collections.abc import Callable

from .profiles import Params

__all__ = [
    "Timers",
    "syn_timeout",
    "syn_retransmit_times",
    "syn_give_up_time",
    "synack_timeout",
    "synack_retransmit_times",
    "rto_backoff",
    "RttEstimator",
]


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
    >>> [syn_timeout(get_profile("freebsd").params, k) for k in (0, 5, 6, 12, 20)]
    [1.0, 2.0, 4.0, 64.0, 64.0]

    Notes
    -----
    Linux (>= 6.5): ``rto_initial`` for ``k <= syn_linear_timeouts``, then doubling
    (``net/ipv4/tcp_timer.c``), capped at ``rto_max``.  FreeBSD multiplies
    ``rto_initial`` by ``tcp_syn_backoff[k]``.  RFC 9293/RFC 6298 §5.5: pure doubling.
    """
    if params.syn_backoff:
        mult = params.syn_backoff[min(k, len(params.syn_backoff) - 1)]
        return min(params.rto_initial * mult, params.rto_max)
    lin = params.syn_linear_timeouts
    return min(params.rto_initial * 2 ** max(0, k - lin), params.rto_max)


def _syn_max_retries(params: Params) -> int:
    return params.syn_retries + params.syn_linear_timeouts


def syn_retransmit_times(params: Params) -> list[float]:
    """Times (after connect) at which the SYN is retransmitted.

    >>> from tcpkit.engine.profiles import get_profile
    >>> syn_retransmit_times(get_profile("freebsd").params)
    [1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0]
    """
    times: list[float] = []
    t = 0.0
    limit = params.connect_timeout
    for k in range(_syn_max_retries(params)):
        t += syn_timeout(params, k)
        if limit is not None and t >= limit:
            break
        times.append(t)
    return times


def syn_give_up_time(params: Params) -> float:
    """When connect() fails with ETIMEDOUT (seconds after the first SYN).

    >>> from tcpkit.engine.profiles import get_profile
    >>> syn_give_up_time(get_profile("freebsd").params)
    75.0
    >>> syn_give_up_time(get_profile("rfc9293").params)   # 1+2+4+8+16+32+60+60 (rto_max 60 s)
    183.0
    """
    t = 0.0
    for k in range(_syn_max_retries(params) + 1):
        t += syn_timeout(params, k)
    if params.connect_timeout is not None:
        return min(t, params.connect_timeout)
    return t


def synack_timeout(params: Params, k: int) -> float:
    """How long a listener waits after the ``k``-th SYN-ACK transmission.

    >>> from tcpkit.engine.profiles import get_profile
    >>> [synack_timeout(get_profile("linux").params, k) for k in range(6)]
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]

    Notes
    -----
    Linux ``reqsk_timer_handler`` (``net/ipv4/inet_connection_sock.c``) doubles the
    timeout for every retransmission (``TCP_TIMEOUT_INIT << req->num_timeout``).
    FreeBSD's syncache uses ``tcp_syn_backoff[]`` (``sys/netinet/tcp_syncache.c``).
    """
    if params.syn_backoff:
        mult = params.syn_backoff[min(k, len(params.syn_backoff) - 1)]
        return min(params.rto_initial * mult, params.rto_max)
    return min(params.rto_initial * 2**k, params.rto_max)


def synack_retransmit_times(params: Params) -> list[float]:
    """Times (after the SYN arrived) of SYN-ACK retransmissions; the request dies one timeout later.

    >>> from tcpkit.engine.profiles import get_profile
    >>> synack_retransmit_times(get_profile("linux").params)
    [1.0, 3.0, 7.0, 15.0, 31.0]
    """
    t = 0.0
    out = []
    for k in range(params.synack_retries):
        t += synack_timeout(params, k)
        out.append(t)
    return out


def rto_backoff(rto: float, retransmissions: int, params: Params) -> float:
    """The RTO after ``retransmissions`` doublings, capped at ``rto_max`` (RFC 6298 §5.5).

    >>> from tcpkit.engine.profiles import get_profile
    >>> [rto_backoff(0.2, n, get_profile("linux").params) for n in (0, 1, 3, 20)]
    [0.2, 0.4, 1.6, 120.0]
    """
    return min(rto * 2**retransmissions, params.rto_max)


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
    them out earliest first (equal deadlines by name, so a run is repeatable).

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
        due = [(d, n) for n, d in self.deadlines.items() if d <= now]
        if not due:
            return None
        deadline, name = min(due)
        del self.deadlines[name]
        return deadline, name
