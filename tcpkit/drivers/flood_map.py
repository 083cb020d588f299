"""The SYN-flood phase map: honest-client success over flood rate x backlog, for one cookie setting.

Every cell is a run of the exact model (:class:`~tcpkit.drivers.flood_model.FloodModel`)
with the flood rate and backlog of the cell and everything else from one base
:class:`~tcpkit.drivers.flood_params.FloodParams`.  By default the map's base is
10 s of flood (as the flood lab's cells) probed by 10 honest clients per second:
the cost of a cell grows with the simulated time and with the SYNs that get
queued, most where the SYN queue is large and crowded enough for
``reqsk_timer_handler`` to prune it (there every SYN and every expiry is an
event of its own; see ``benchmarks/bench_sim.py``).  With SYN cookies on and an application that
accepts at once, no honest client can be refused: each connects one round trip
after its ``connect()``, whatever the flood, and those cells need no run at all
(:func:`cookie_success`, checked against the model in the tests).

Examples
--------
>>> m = phase_map(flood_rates=[100, 1000], backlogs=[16, 256], duration=10, legit_rate=5, tcp_syncookies=0)
>>> m.shape, m.at(100, 256) >= m.at(1000, 16)
((2, 2), True)
>>> phase_map(flood_rates=[100, 10000], backlogs=[16], tcp_syncookies=1, legit_rate=100).success
((0.995, 0.995),)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tcpkit.engine.errors import ParameterError

from .flood_model import FloodModel
from .flood_params import FloodParams

__all__ = ["PhaseMap", "phase_map", "log_grid", "cookie_success", "MAP_DEFAULTS"]

#: The map's own base run: 10 s of flood, 10 honest connects per second as probes.
MAP_DEFAULTS: dict[str, Any] = {"duration": 10.0, "legit_rate": 10.0}


def log_grid(lo: float, hi: float, n: int, *, integer: bool = False) -> tuple[float, ...]:
    """``n`` values from ``lo`` to ``hi``, evenly spaced on a log scale (rounded to integers if asked).

    >>> log_grid(10, 1000, 3)
    (10.0, 100.0, 1000.0)
    >>> log_grid(16, 4096, 4, integer=True)
    (16, 102, 645, 4096)
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ParameterError("n", n, "an integer >= 1")
    if not (0 < lo <= hi) or math.isinf(hi):
        raise ParameterError("lo, hi", (lo, hi), "0 < lo <= hi < inf")
    if n == 1:
        vals = [float(lo)]
    else:
        step = (math.log(hi) - math.log(lo)) / (n - 1)
        vals = [math.exp(math.log(lo) + step * k) for k in range(n)]
        vals[-1] = float(hi)
    if integer:
        return tuple(int(round(v)) for v in vals)
    return tuple(float(f"{v:.6g}") for v in vals)


def cookie_success(params: FloodParams) -> float | None:
    """Honest clients' success without a run, when nothing can refuse them; else None.

    With ``tcp_syncookies`` 1 or 2 every honest SYN gets a SYN-ACK (a queued request's,
    or a cookie when the SYN queue is full), and an application that accepts at once
    leaves the accept queue empty, so every client is ESTABLISHED one round trip after
    its ``connect()``; only those whose SYN-ACK comes after the end miss.

    >>> p = FloodParams(duration=10, legit_rate=100, knobs={"tcp_syncookies": 1})
    >>> cookie_success(p), FloodModel(p).run().success_rate     # the last 5 clients' SYN-ACKs come too late
    (0.995, 0.995)
    >>> cookie_success(FloodParams(knobs={"tcp_syncookies": 0})) is None
    True
    """
    if not params.params.syncookies or not math.isinf(params.accept_rate):
        return None
    starts = params.honest_starts()
    if not starts:
        return 1.0
    d, end = params.one_way, params.duration
    return sum(1 for s in starts if (s + d) + d <= end) / len(starts)


@dataclass(frozen=True)
class PhaseMap:
    """Honest-client success (0 to 1) for every flood rate x backlog, one cookie setting.

    Attributes
    ----------
    flood_rates : tuple of float
        The columns (spoofed SYNs per second).
    backlogs : tuple of int
        The rows (``listen()`` backlogs).
    success : tuple of tuple of float
        ``success[row][col]``: the share of honest clients that connected.
    base : FloodParams
        Everything else about the runs (duration, honest rate, cookies, ...).
    """

    flood_rates: tuple[float, ...]
    backlogs: tuple[int, ...]
    success: tuple[tuple[float, ...], ...]
    base: FloodParams

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` = ``(len(backlogs), len(flood_rates))``."""
        return (len(self.backlogs), len(self.flood_rates))

    @property
    def syncookies(self) -> int:
        """The ``tcp_syncookies`` setting of every cell."""
        return self.base.params.syncookies

    def nearest(self, flood_rate: float, backlog: int) -> tuple[int, int]:
        """``(row, column)`` of the cell nearest to a slider point (nearest on log scales)."""
        if not flood_rate > 0 or isinstance(backlog, bool) or not isinstance(backlog, int) or backlog < 0:
            raise ParameterError("flood_rate, backlog", (flood_rate, backlog), "a rate > 0 and a backlog >= 0")
        col = min(range(len(self.flood_rates)), key=lambda c: abs(math.log(self.flood_rates[c] / flood_rate)))
        row = min(range(len(self.backlogs)), key=lambda r: abs(math.log(max(self.backlogs[r], 1) / max(backlog, 1))))
        return (row, col)

    def at(self, flood_rate: float, backlog: int) -> float:
        """The success of the cell nearest to ``(flood_rate, backlog)``."""
        row, col = self.nearest(flood_rate, backlog)
        return self.success[row][col]

    def rows(self) -> list[list[Any]]:
        """A table: one row per backlog, the backlog first, then the success per flood rate."""
        return [[b, *row] for b, row in zip(self.backlogs, self.success, strict=True)]


def phase_map(
    base: FloodParams | None = None,
    /,
    *,
    flood_rates: Sequence[float] | None = None,
    backlogs: Sequence[int] | None = None,
    **kwargs: Any,
) -> PhaseMap:
    """Run the flood model for every flood rate x backlog and collect the honest clients' success.

    Parameters
    ----------
    base : FloodParams, optional
        The run every cell starts from (default: :data:`MAP_DEFAULTS` on top of
        :class:`FloodParams`' defaults); keywords change it (``duration``,
        ``legit_rate``, ``tcp_syncookies``, ``resolution``, ...).
    flood_rates : sequence of float
        Default: 10 values from 100 to 10,000 SYN/s on a log scale.
    backlogs : sequence of int
        Default: 10 values from 16 to 4096 on a log scale.

    Returns
    -------
    PhaseMap

    Raises
    ------
    ParameterError
        An empty grid, or a parameter out of range (as :class:`FloodParams` says).

    Examples
    --------
    >>> m = phase_map(flood_rates=[200, 2000], backlogs=[64], duration=10, legit_rate=5, tcp_syncookies=0)
    >>> m.rows()[0][0], m.success[0][0] > m.success[0][1]
    (64, True)
    """
    if base is None:
        base = FloodParams.from_kwargs(**{**MAP_DEFAULTS, **kwargs})
    elif not isinstance(base, FloodParams):
        raise ParameterError("base", base, "a FloodParams, or its fields as keywords")
    elif kwargs:
        base = base.replace(**kwargs)
    rates = tuple(flood_rates if flood_rates is not None else log_grid(100, 10000, 10))
    rows = tuple(backlogs if backlogs is not None else log_grid(16, 4096, 10, integer=True))
    if not rates or not rows:
        raise ParameterError("flood_rates, backlogs", (flood_rates, backlogs), "at least one value each")
    success = []
    for b in rows:
        row = []
        for r in rates:
            cell = base.replace(flood_rate=r, backlog=b)
            s = cookie_success(cell)
            row.append(s if s is not None else FloodModel(cell).run().success_rate)
        success.append(tuple(row))
    return PhaseMap(tuple(float(r) for r in rates), tuple(int(b) for b in rows), tuple(success), base)
