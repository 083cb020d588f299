"""The SYN-flood lab's parameters (one frozen, validated dataclass) and what a run found.

:class:`FloodParams` is shared by the fast model (:mod:`tcpkit.drivers.flood_model`),
its full-simulator twin (:mod:`tcpkit.drivers.flood_full`), the phase map
(:mod:`tcpkit.drivers.flood_map`) and the notebooks, so that all of them mean the
same thing by "a flood of 10,000 SYN/s against backlog 128".  It also fixes the
arrival times both models use: spoofed SYN ``i`` leaves at ``(i + SPOOF_PHASE) /
flood_rate``, honest client ``j`` calls ``connect()`` at ``(j + LEGIT_PHASE) /
legit_rate``.

Examples
--------
>>> p = FloodParams(duration=10, flood_rate=1000, legit_rate=10, backlog=16, knobs={"tcp_syncookies": 0})
>>> p.spoofed_count(), p.honest_count(), p.cap, p.params.syncookies
(10000, 100, 16, 0)
>>> p.replace(backlog=32).backlog
32
>>> FloodParams(flood_rate=0)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter flood_rate = 0 is not allowed: expected a rate > 0 (SYNs per second)
"""

from __future__ import annotations

import dataclasses
import math
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.listener import syn_queue_capacity
from tcpkit.engine.profiles import Params, Profile, get_profile

__all__ = ["FloodParams", "FloodResult", "SPOOF_PHASE", "LEGIT_PHASE", "NSTAT_COUNTERS", "client_counts"]

SPOOF_PHASE = 0.1  # spoofed SYN i leaves at (i + SPOOF_PHASE) / flood_rate
LEGIT_PHASE = 0.3  # honest client j calls connect() at (j + LEGIT_PHASE) / legit_rate

#: The listener's nstat counters a flood run reports (``nstat`` prints them with the ``TcpExt`` prefix).
NSTAT_COUNTERS: tuple[str, ...] = (
    "ListenOverflows",
    "ListenDrops",
    "SyncookiesSent",
    "SyncookiesRecv",
    "TCPReqQFullDrop",
    "TCPReqQFullDoCookies",
)

_FIELDS = (
    "duration",
    "flood_rate",
    "legit_rate",
    "backlog",
    "rtt",
    "sample_interval",
    "accept_rate",
    "profile",
    "resolution",
)


def _knobs(v: object) -> Mapping[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, Mapping):
        raise ParameterError("knobs", v, "a mapping of knob names to values, e.g. {'tcp_syncookies': 0}")
    return v


def _number(name: str, v: object, what: str, *, zero: bool = False, inf: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
        raise ParameterError(name, v, what)
    if (math.isinf(v) and not (inf and v > 0)) or v < 0 or (v == 0 and not zero):
        raise ParameterError(name, v, what)
    return float(v)


@dataclass(frozen=True)
class FloodParams:
    """One SYN flood against one Linux listener, with honest clients beside it.

    Parameters
    ----------
    duration : float
        Seconds of flood (and of honest clients starting); the run ends there.
    flood_rate : float
        Spoofed SYNs per second (> 0), evenly spaced.
    legit_rate : float
        Honest ``connect()`` calls per second (>= 0), evenly spaced.
    backlog : int
        The ``listen()`` backlog (>= 0); Linux caps it at ``somaxconn``.
    rtt : float
        Round-trip time between every client and the server (below the initial RTO).
    sample_interval : float
        Spacing of the queue-occupancy samples.
    accept_rate : float
        Connections per second the application accepts: it spends ``1 / accept_rate``
        seconds on each, then calls ``accept()`` again.  ``inf``: at once.
    profile : str or Profile
        A Linux profile.
    knobs : mapping
        Knobs that change the profile (``tcp_syncookies``, ``tcp_synack_retries``,
        ``tcp_max_syn_backlog``, ``somaxconn``, ``tcp_abort_on_overflow``, ...).
    resolution : float
        0 (the default): spoofed SYNs arrive one by one, evenly spaced.  Above 0 the
        flood comes in bursts: the SYNs of every ``resolution`` seconds (``burst`` of
        them, at least 1) arrive together, at the time of the first.  The models are
        exact for either flood, and a bursty one is cheaper to compute when the queues
        are large, but it is another flood: with cookies off, which honest SYN finds a
        free slot depends on where the SYNs fall, and the honest clients' success can
        differ a lot from the even flood's (``benchmarks/bench_sim.py`` measures it).

    Raises
    ------
    ParameterError
        A rate, time or backlog out of range, or a profile that is not Linux.
    KnobError
        A knob that does not exist or a value it does not allow.

    Examples
    --------
    >>> FloodParams(backlog=64, knobs={"tcp_syncookies": 2}).as_dict()["tcp_syncookies"]
    2
    >>> FloodParams.from_kwargs(backlog=8, tcp_syncookies=0).knobs
    {'tcp_syncookies': 0}
    """

    duration: float = 60.0
    flood_rate: float = 10000.0
    legit_rate: float = 100.0
    backlog: int = 128
    rtt: float = 0.05
    sample_interval: float = 0.5
    accept_rate: float = math.inf
    profile: str | Profile = "linux"
    knobs: Mapping[str, Any] = field(default_factory=dict)
    resolution: float = 0.0
    _profile: Profile = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.knobs, Mapping):
            raise ParameterError("knobs", self.knobs, "a mapping of knob names to values, e.g. {'tcp_syncookies': 0}")
        object.__setattr__(self, "knobs", dict(self.knobs))
        prof = get_profile(self.profile, **self.knobs)
        if prof.params.os != "linux":
            raise ParameterError("profile", prof.name, "'linux' (the flood model follows the Linux listener)")
        object.__setattr__(self, "_profile", prof)
        object.__setattr__(self, "duration", _number("duration", self.duration, "a time > 0 (seconds)"))
        rate = "a rate > 0 (SYNs per second)"
        object.__setattr__(self, "flood_rate", _number("flood_rate", self.flood_rate, rate))
        what = "a rate >= 0 (connects per second)"
        object.__setattr__(self, "legit_rate", _number("legit_rate", self.legit_rate, what, zero=True))
        if isinstance(self.backlog, bool) or not isinstance(self.backlog, int) or self.backlog < 0:
            raise ParameterError("backlog", self.backlog, "an integer >= 0 (the listen() backlog)")
        rto = prof.params.rto_initial
        what = f"a round-trip time > 0 and below the initial RTO ({rto:g} s)"
        rtt = _number("rtt", self.rtt, what)
        if rtt >= rto:
            raise ParameterError("rtt", self.rtt, what)
        object.__setattr__(self, "rtt", rtt)
        what = "a time > 0 (seconds)"
        object.__setattr__(self, "sample_interval", _number("sample_interval", self.sample_interval, what))
        what = "a rate > 0 (accept() calls per second), or inf for an instant accept()"
        object.__setattr__(self, "accept_rate", _number("accept_rate", self.accept_rate, what, inf=True))
        what = "a time >= 0 (seconds; 0: every spoofed SYN on its own)"
        object.__setattr__(self, "resolution", _number("resolution", self.resolution, what, zero=True))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> FloodParams:
        """Split keyword arguments into the fields and the profile's knobs (as :func:`simulate_flood` takes them).

        >>> FloodParams.from_kwargs(duration=5, tcp_synack_retries=2).knobs
        {'tcp_synack_retries': 2}
        """
        fields = {k: kwargs.pop(k) for k in _FIELDS if k in kwargs}
        knobs = {**_knobs(kwargs.pop("knobs", {})), **kwargs}
        return cls(**fields, knobs=knobs)

    def replace(self, **changes: Any) -> FloodParams:
        """A copy with some fields (or knobs, by name) changed, validated again.

        >>> FloodParams(knobs={"tcp_syncookies": 0}).replace(tcp_syncookies=1, backlog=4).knobs
        {'tcp_syncookies': 1}
        """
        fields = {k: changes.pop(k) for k in _FIELDS if k in changes}
        knobs = {**self.knobs, **_knobs(changes.pop("knobs", {})), **changes}
        return dataclasses.replace(self, **fields, knobs=knobs)

    # ------------------------------------------------------------------ derived facts
    @property
    def params(self) -> Params:
        """The engine parameters of the resolved profile."""
        return self._profile.params

    @property
    def profile_name(self) -> str:
        return self._profile.name

    @property
    def resolved_profile(self) -> Profile:
        """The profile with the knobs applied."""
        return self._profile

    @property
    def cap(self) -> int:
        """The backlog as the listener keeps it: ``min(backlog, somaxconn)`` (``sk_max_ack_backlog``)."""
        return max(0, min(self.backlog, self.params.somaxconn))

    @property
    def syn_capacity(self) -> int:
        """Requests the SYN queue takes before SYNs are refused or answered with cookies.

        >>> FloodParams(backlog=128).syn_capacity     # full only when it holds MORE than the backlog
        129
        """
        return syn_queue_capacity(self.params, self.cap)

    @property
    def burst(self) -> int:
        """Spoofed SYNs that arrive together: ``round(resolution * flood_rate)``, at least 1.

        >>> FloodParams(flood_rate=10000, resolution=0.001).burst, FloodParams().burst
        (10, 1)
        """
        return max(1, round(self.resolution * self.flood_rate))

    def spoof_send_time(self, i: int) -> float:
        """When spoofed SYN ``i`` leaves: ``(i + SPOOF_PHASE) / flood_rate``, or its burst's first SYN's time."""
        g = self.burst
        return ((i // g) * g + SPOOF_PHASE) / self.flood_rate

    @property
    def one_way(self) -> float:
        """One-way delay ``rtt / 2``."""
        return self.rtt / 2

    def spoofed_count(self) -> int:
        """Spoofed SYNs sent before ``duration``."""
        n = max(0, math.ceil(self.duration * self.flood_rate - SPOOF_PHASE))
        while n > 0 and (n - 1 + SPOOF_PHASE) / self.flood_rate >= self.duration:
            n -= 1
        return n

    def honest_count(self) -> int:
        """Honest clients that call ``connect()`` before ``duration``."""
        if self.legit_rate <= 0:
            return 0
        n = max(0, math.ceil(self.duration * self.legit_rate - LEGIT_PHASE))
        while n > 0 and (n - 1 + LEGIT_PHASE) / self.legit_rate >= self.duration:
            n -= 1
        return n

    def honest_starts(self) -> list[float]:
        """When each honest client calls ``connect()``."""
        return [(j + LEGIT_PHASE) / self.legit_rate for j in range(self.honest_count())]

    def sample_times(self) -> list[float]:
        """The times of the queue-occupancy samples, ``0, interval, 2 interval, ... <= duration``."""
        out = []
        for k in range(int(self.duration / self.sample_interval) + 1):
            t = k * self.sample_interval
            if t <= self.duration:
                out.append(t)
        return out

    def as_dict(self) -> dict[str, Any]:
        """The run's parameters as a plain dict (``FloodResult.params``)."""
        return {
            "duration": self.duration,
            "flood_rate": self.flood_rate,
            "legit_rate": self.legit_rate,
            "backlog": self.backlog,
            "rtt": self.rtt,
            "sample_interval": self.sample_interval,
            "accept_rate": self.accept_rate,
            "profile": self.profile_name,
            **({"resolution": self.resolution} if self.resolution else {}),
            **self.knobs,
        }


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
        ``SyncookiesSent``, ``SyncookiesRecv``, ``ListenOverflows``, ``ListenDrops``,
        ``TCPReqQFullDrop``, ``TCPReqQFullDoCookies`` and the numbers of spoofed
        SYNs seen (``SpoofedSyns``), queued (``SpoofedQueued``) and honest SYNs
        seen (``LegitSyns``).
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
    syn_limit, accept_limit : int
        The queues' limits (``min(backlog, somaxconn)`` both, as the listener's
        ``QueueChanged`` records give them): a queue is full when it holds MORE.
    syn_capacity : int
        Requests the SYN queue takes at most (``backlog + 1``, or fewer when
        ``tcp_max_syn_backlog`` stops it with cookies off).
    clients : tuple of (time, connected, gave_up, trying)
        Honest clients in each state at every sample time.

    Examples
    --------
    >>> r = FloodResult(3, 2, 1, 0, (0.1, 1.1), ((0.0, 0, 0), (1.0, 4, 0)), {"SyncookiesSent": 5}, syn_limit=4)
    >>> r.success_rate, r.nstat()["TcpExtSyncookiesSent"], r.limits["syn_queue"]
    (0.6666666666666666, 5, 4)
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
    syn_limit: int = 0
    accept_limit: int = 0
    syn_capacity: int = 0
    clients: tuple[tuple[float, int, int, int], ...] = ()

    @property
    def success_rate(self) -> float:
        """Connected clients / clients that tried (1.0 when nobody tried)."""
        return self.connected / self.attempts if self.attempts else 1.0

    @property
    def limits(self) -> dict[str, int]:
        """``{"syn_queue": ..., "accept_queue": ...}``: the limit lines of a queue plot."""
        return {"syn_queue": self.syn_limit, "accept_queue": self.accept_limit}

    def nstat(self) -> dict[str, int]:
        """The listener's counters as ``nstat -az`` names them (``TcpExtListenDrops``, ...)."""
        return {f"TcpExt{k}": int(self.counters.get(k, 0)) for k in NSTAT_COUNTERS}

    def clients_at(self, t: float) -> tuple[int, int, int]:
        """``(connected, gave_up, trying)`` honest clients at the last sample at or before ``t``.

        >>> FloodResult(1, 1, 0, 0, (0.2,), (), {}, clients=((0.0, 0, 0, 0), (1.0, 1, 0, 0))).clients_at(0.5)
        (0, 0, 0)
        """
        if not self.clients:
            return (0, 0, 0)
        k = bisect_right([c[0] for c in self.clients], t) - 1
        _, c, g, y = self.clients[max(0, k)]
        return (c, g, y)

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100, nearest rank) of connect times, ``nan`` if none.

        >>> FloodResult(3, 3, 0, 0, (0.1, 1.1, 3.1), (), {}).percentile(50)
        1.1
        """
        if isinstance(q, bool) or not isinstance(q, int | float) or not 0 <= q <= 100:
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


def client_counts(
    starts: list[float], done: list[float | None], gave_up: list[float | None], times: list[float]
) -> tuple[tuple[float, int, int, int], ...]:
    """``(time, connected, gave_up, trying)`` at each of ``times``, from per-client event times.

    ``done[j]`` is when client ``j`` got ESTABLISHED (or None), ``gave_up[j]`` when it
    failed (or None); a client is trying from its ``connect()`` until either.

    >>> client_counts([0.0, 1.0, 2.0], [0.5, None, None], [None, 1.7, None], [0.0, 1.0, 2.0])
    ((0.0, 0, 0, 1), (1.0, 1, 0, 1), (2.0, 1, 1, 1))
    """
    ds = sorted(t for t in done if t is not None)
    gs = sorted(t for t in gave_up if t is not None)
    ss = sorted(starts)
    out = []
    for t in times:
        c = bisect_right(ds, t)
        g = bisect_right(gs, t)
        out.append((t, c, g, bisect_right(ss, t) - c - g))
    return tuple(out)
