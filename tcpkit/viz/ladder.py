"""Ladder (sequence) diagrams: one vertical timeline per host, time going down.

:func:`build_ladder` turns a :class:`~tcpkit.engine.trace.Trace` into a small model
(arrows, state changes, timer bars); :func:`ladder_figure` draws it with
Plotly.  A SEND record is paired with the RECV of the same segment on another
host to draw a slanted arrow; a SEND with a DROP and no RECV ends in a cross;
a segment that repeats sequence space already sent is marked as a
retransmission.  Sequence numbers are shown relative to the ISNs
(``TraceRecord.seq_base``) unless ``relative=False``.  Long idle stretches
(a 60 s TIME_WAIT next to a 50 ms round trip) are drawn shortened, with the
real duration written on the break.

Examples
--------
>>> from tcpkit.viz.examples import example_trace
>>> lad = build_ladder(example_trace("lossy"))
>>> lad.hosts
['client', 'server']
>>> [a.label for a in lad.arrows][:3]
['S 0:0(0)', 'S. 0:0(0) ack 1', '. 1:1(0) ack 1']
>>> [(a.label, a.lost, a.rexmit) for a in lad.arrows if a.lost or a.rexmit]
[('P. 1:1001(1000) ack 1', True, False), ('P. 1:1001(1000) ack 1', False, True)]
>>> sorted({b.name for b in lad.timers})
['rto', 'time_wait']
>>> fig = ladder_figure(example_trace("attacker"))
>>> list(fig.layout.xaxis.ticktext)
['client', 'attacker', 'server']

Notes
-----
The drawing follows the convention of RFC 9293 §3.5 and Stevens, *TCP/IP
Illustrated* vol. 1, ch. 13 (time flows down, one column per end point).
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

import plotly.graph_objects as go

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import Flags, Segment, format_flags
from tcpkit.engine.seqnum import MASK
from tcpkit.engine.trace import (
    Kind,
    SegmentDropped,
    SegmentEvent,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerCancelled,
    TimerFired,
    TimerSet,
    Trace,
)

from .labels import tr

__all__ = [
    "Arrow",
    "TimerBar",
    "Ladder",
    "build_ladder",
    "ladder_figure",
    "LadderView",
    "segment_label",
    "cursor_y",
    "ladder_window",
    "ladder_pages",
    "MAX_SEGMENTS",
]

#: Default number of segment records (SEND, RECV, DROP) one ladder draws; longer traces are cut.
#: About 50 arrows: what the ladder's largest height (1800 px) shows with readable labels
#: (400 records, as in a tw_reuse run, leave about 6 px per event row and the labels overlap).
MAX_SEGMENTS = 100

TIMER_COLORS = {
    "rto": "#ff7f0e",
    "rexmt": "#ff7f0e",
    "tlp": "#fdd0a2",
    "time_wait": "#9467bd",
    "keepalive": "#17becf",
    "delack": "#bcbd22",
    "fin_wait_2": "#8c564b",
    "persist": "#e377c2",
}


@dataclass(frozen=True, slots=True)
class Arrow:
    """One segment on the ladder."""

    src: str
    dst: str | None
    t_send: float
    t_end: float
    label: str
    hover: str
    send_index: int
    end_index: int | None = None
    delivered: bool = False
    lost: bool = False
    rexmit: bool = False
    reason: str | None = None
    end_frac: float = 1.0  # how far towards dst the arrow goes (0.5 for a loss in flight)


@dataclass(frozen=True, slots=True)
class TimerBar:
    """A timer from the moment it was set until it fired, was cancelled or re-armed."""

    host: str
    name: str
    start: float
    end: float
    fired: bool
    open_ended: bool  # the trace ended before the timer did
    index: int
    end_index: int | None = None


@dataclass
class Ladder:
    """What :func:`ladder_figure` draws (plain data, easy to test)."""

    hosts: list[str]
    arrows: list[Arrow]
    states: list[tuple[float, str, str, int]]  # time, host, new state, record index
    timers: list[TimerBar]
    drops: list[tuple[float, str, str, int]]  # drops not on an arrow: time, host, reason, index
    record_arrow: dict[int, int] = field(default_factory=dict)
    times: list[float] = field(default_factory=list)  # time of every record, by index


def segment_label(seg: Segment, base: tuple[int, int] | None = None) -> str:
    """Flags and sequence numbers, tcpdump style, without window and options.

    >>> from tcpkit.engine.segment import parse_segment
    >>> segment_label(parse_segment("S. 5000:5000(0) ack 1001"), (5000, 1000))
    'S. 0:0(0) ack 1'
    """
    seq, ack = seg.seq, seg.ack
    if base is not None:
        seq, ack = (seq - base[0]) & MASK, (ack - base[1]) & MASK
    text = f"{format_flags(seg.flags)} {seq}:{(seq + seg.length) & MASK}({seg.length})"
    if seg.flags & Flags.ACK:
        text += f" ack {ack}"
    return text


def _key(seg: Segment) -> tuple[int, int, int, int]:
    return (seg.seq, seg.ack, int(seg.flags), seg.length)


def order_hosts(trace: Trace) -> list[str]:
    """The hosts of a ladder, left to right: ``client`` first, ``server`` last, others between.

    >>> from tcpkit.viz.examples import example_trace
    >>> order_hosts(example_trace("attacker"))
    ['client', 'attacker', 'server']
    """
    seen: dict[str, None] = {}
    for r in trace.records:
        if r.kind in (Kind.SEND, Kind.RECV, Kind.STATE, Kind.TIMER_SET):
            seen.setdefault(r.host, None)
    hosts = list(seen)
    first = [h for h in hosts if h == "client"]
    last = [h for h in hosts if h == "server"]
    return first + [h for h in hosts if h not in ("client", "server")] + last


def build_ladder(trace: Trace, *, relative: bool = True, hosts: Sequence[str] | None = None) -> Ladder:
    """Pair sends with receives and collect states and timers.

    Parameters
    ----------
    trace : Trace
    relative : bool
        Label sequence numbers relative to the ISNs (``seq_base``).
    hosts : sequence of str, optional
        Timelines to draw, left to right (default: client, others, server).

    Returns
    -------
    Ladder

    Raises
    ------
    ParameterError
        If ``hosts`` names a host that is not in the trace.

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> lad = build_ladder(example_trace("attacker"))
    >>> [(a.src, a.dst, a.label) for a in lad.arrows if a.src == "attacker"]
    [('attacker', 'server', 'R 30101:30101(0)')]
    >>> lad.drops[0][1:3]
    ('server', 'RST in window but not exact: challenge ACK (RFC 5961 §3.2)')
    """
    order = list(hosts) if hosts is not None else order_hosts(trace)
    known = set(trace.hosts)
    for h in order:
        if h not in known:
            raise ParameterError("hosts", h, "hosts of the trace: " + ", ".join(trace.hosts))
    return _build_ladder(trace, relative, order)


def _build_ladder(trace: Trace, relative: bool, order: list[str], inflight: str = "viz.ladder.inflight") -> Ladder:
    recs = trace.records
    addr_host: dict[str, str] = {}
    for r in recs:
        if r.conn is not None and isinstance(r, SegmentReceived | StateChanged):
            addr_host.setdefault(r.conn[0], r.host)

    def target(r: SegmentEvent) -> str | None:
        if r.peer is not None:
            return r.peer
        if r.conn is not None and r.conn[2] in addr_host and addr_host[r.conn[2]] != r.host:
            return addr_host[r.conn[2]]
        others = [h for h in order if h != r.host]
        return others[0] if len(others) == 1 else None

    def label(r: SegmentEvent) -> str:
        return segment_label(r.segment, r.seq_base if relative else None)

    sent_ranges: dict[tuple[str, object], set[tuple[int, int]]] = {}
    rexmit_of: dict[int, bool] = {}
    pending: list[int] = []
    sends: dict[int, SegmentSent] = {}
    arrows_by_send: dict[int, dict[str, object]] = {}
    drops: list[tuple[float, str, str, int]] = []
    states: list[tuple[float, str, str, int]] = []
    open_timers: dict[tuple[str, object, str], tuple[float, int, float | None]] = {}
    timers: list[TimerBar] = []
    for i, r in enumerate(recs):
        if isinstance(r, SegmentSent):
            seg = r.segment
            rng = (seg.seq, seg.seg_len)
            seen = sent_ranges.setdefault((r.host, r.conn), set())
            rexmit_of[i] = seg.seg_len > 0 and rng in seen
            if seg.seg_len > 0:
                seen.add(rng)
            pending.append(i)
            sends[i] = r
            arrows_by_send[i] = {}
        elif isinstance(r, SegmentReceived):
            key = _key(r.segment)
            cands = [j for j in pending if sends[j].host != r.host and _key(sends[j].segment) == key]
            strong = [j for j in cands if sends[j].peer in (None, r.host)]
            if not (strong or cands):
                continue
            pick = (strong or cands)[0]
            pending.remove(pick)
            arrows_by_send[pick] = {"dst": r.host, "t_end": r.time, "end_index": i, "delivered": True}
        elif isinstance(r, SegmentDropped):
            key = _key(r.segment)
            cands = [j for j in pending if _key(sends[j].segment) == key]
            if cands:
                j = cands[0]
                pending.remove(j)
                arrows_by_send[j] = {
                    "dst": target(sends[j]),
                    "t_end": r.time,
                    "end_index": i,
                    "lost": True,
                    "reason": r.reason,
                }
            else:
                drops.append((r.time, r.host, r.reason, i))
        elif isinstance(r, StateChanged):
            states.append((r.time, r.host, r.dst.value, i))
        elif isinstance(r, TimerSet | TimerFired | TimerCancelled):
            tk = (r.host, r.conn, r.timer)
            if tk in open_timers:
                start, idx, _ = open_timers.pop(tk)
                timers.append(TimerBar(r.host, r.timer, start, r.time, isinstance(r, TimerFired), False, idx, i))
            if isinstance(r, TimerSet):
                open_timers[tk] = (r.time, i, r.deadline)
    for (host, _conn, name), (start, idx, dl) in open_timers.items():
        timers.append(TimerBar(host, name, start, dl if dl is not None else start, False, True, idx))
    delays = [float(v["t_end"]) - recs[j].time for j, v in arrows_by_send.items() if v.get("delivered")]  # type: ignore[arg-type]
    one_way = statistics.median(delays) if delays else 0.05
    arrows: list[Arrow] = []
    record_arrow: dict[int, int] = {}
    for j in sorted(arrows_by_send):
        sent = sends[j]
        if sent.host not in order:
            continue
        info = arrows_by_send[j]
        lab = label(sent)
        hover = sent.describe()
        dst = info.get("dst", target(sent))
        if dst is not None and dst not in order:
            dst = None
        if info.get("delivered"):
            t_end, frac = float(info["t_end"]), 1.0  # type: ignore[arg-type]
        elif info.get("lost"):
            t_drop = float(info["t_end"])  # type: ignore[arg-type]
            frac = min(0.75, max(0.3, (t_drop - sent.time) / one_way)) if one_way > 0 else 0.5
            t_end = max(t_drop, sent.time + frac * one_way)
            hover += "<br>" + tr("viz.ladder.lost") + ": " + str(info.get("reason") or "")
        else:
            t_end, frac = sent.time + 0.6 * one_way, 0.6
            hover += "<br>" + tr(inflight)
        if rexmit_of.get(j):
            hover += "<br>" + tr("viz.ladder.rexmit")
        a = Arrow(
            src=sent.host,
            dst=dst,
            t_send=sent.time,
            t_end=t_end,
            label=lab,
            hover=hover,
            send_index=j,
            end_index=info.get("end_index"),  # type: ignore[arg-type]
            delivered=bool(info.get("delivered")),
            lost=bool(info.get("lost")),
            rexmit=bool(rexmit_of.get(j)),
            reason=info.get("reason"),  # type: ignore[arg-type]
            end_frac=frac,
        )
        record_arrow[j] = len(arrows)
        if a.end_index is not None:
            record_arrow[a.end_index] = len(arrows)
        arrows.append(a)
    return Ladder(
        hosts=order,
        arrows=arrows,
        states=[s for s in states if s[1] in order],
        timers=[b for b in timers if b.host in order],
        drops=[d for d in drops if d[1] in order],
        record_arrow=record_arrow,
        times=[r.time for r in recs],
    )


def ladder_window(
    trace: Trace, *, max_segments: int | None = MAX_SEGMENTS, window: tuple[float, float] | None = None, first: int = 0
) -> tuple[int, int]:
    """The records ``[start, stop)`` a ladder of ``trace`` draws.

    Parameters
    ----------
    trace : Trace
    max_segments : int or None
        At most this many segment records (SEND, RECV, DROP); ``None`` or 0: no limit.
    window : (float, float), optional
        Only records with ``t0 <= time <= t1`` (seconds).
    first : int
        Index of the first record to consider.

    Returns
    -------
    (int, int)
        ``start`` and ``stop`` record indices (``stop`` excluded).

    Raises
    ------
    ParameterError
        For a limit that is not a positive integer, a window that is not
        ``(t0, t1)`` with ``t0 <= t1`` or holds no record, or ``first`` outside the trace.

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> t = example_trace("lossy")
    >>> ladder_window(t) == (0, len(t))
    True
    >>> ladder_window(t, max_segments=4)       # the 5th segment record is where it stops
    (0, 14)
    >>> ladder_window(t, window=(1.0, 1.2))
    (28, 33)
    >>> ladder_window(t, max_segments=-1)
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter max_segments = -1 is not allowed: expected a whole number of ...
    """
    if max_segments is not None and (
        isinstance(max_segments, bool) or not isinstance(max_segments, int) or max_segments < 0
    ):
        raise ParameterError(
            "max_segments", max_segments, "a whole number of segment records >= 1, or None for no limit"
        )
    recs = trace.records
    n = len(recs)
    if isinstance(first, bool) or not isinstance(first, int) or not (0 <= first < max(n, 1)):
        raise ParameterError("first", first, f"a record index from 0 to {max(n - 1, 0)}")
    i0 = first
    t1 = math.inf
    if window is not None:
        ok = (
            isinstance(window, tuple | list)
            and len(window) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in window)
            and window[0] <= window[1]
        )
        if not ok:
            raise ParameterError("window", window, "a time range (t0, t1) in seconds with t0 <= t1")
        t0, t1 = float(window[0]), float(window[1])
        while i0 < n and recs[i0].time < t0:
            i0 += 1
        if i0 >= n or recs[i0].time > t1:
            span = f"{recs[0].time:.3f} to {recs[-1].time:.3f} s" if n else "none: the trace is empty"
            raise ParameterError("window", window, f"a time range holding records (records from index {first}: {span})")
    i1, segs = i0, 0
    while i1 < n:
        r = recs[i1]
        if r.time > t1:
            break
        if isinstance(r, SegmentEvent):
            if max_segments and segs >= max_segments:
                break
            segs += 1
        i1 += 1
    return i0, i1


def ladder_pages(trace: Trace, *, max_segments: int | None = MAX_SEGMENTS) -> list[int]:
    """Where consecutive ladders of at most ``max_segments`` segment records start.

    The trace player draws the page holding its cursor and turns the page
    when the cursor leaves it.

    >>> from tcpkit.viz.examples import example_trace
    >>> ladder_pages(example_trace("lossy"))
    [0]
    >>> ladder_pages(example_trace("lossy"), max_segments=10)
    [0, 26, 45]
    """
    n = len(trace)
    pages = [0]
    while True:
        _, stop = ladder_window(trace, max_segments=max_segments, first=pages[-1])
        if stop >= n or stop <= pages[-1]:
            return pages
        pages.append(stop)


class _TimeMap:
    """Time -> y.  ``linear``: real time, idle gaps longer than ``max_gap`` shortened to it.
    ``events``: one step per distinct event time (a little more for long gaps), as
    textbook ladders are drawn; the axis ticks still show real times.
    """

    def __init__(self, times: Sequence[float], max_gap: float, scale: str, one_way: float) -> None:
        ts = sorted(set(times)) or [0.0]
        ys = [0.0]
        self.cuts: list[tuple[float, float]] = []
        for a, b in zip(ts, ts[1:], strict=False):
            gap = b - a
            if gap > max_gap > 0:
                self.cuts.append((a, b))
            if scale == "linear":
                step = min(gap, max_gap) if max_gap > 0 else gap
            else:
                ratio = gap / one_way if one_way > 0 else 1.0
                step = 1.0 + (min(2.0, math.log10(ratio)) if ratio > 1.5 else 0.0)
            ys.append(ys[-1] + step)
        self.ts, self.ys = ts, ys

    def __call__(self, t: float) -> float:
        ts, ys = self.ts, self.ys
        i = bisect.bisect_right(ts, t) - 1
        if i < 0:
            return ys[0] - (ts[0] - t)
        if i >= len(ts) - 1:
            return ys[-1] + (t - ts[-1]) * (1.0 if len(ts) < 2 else (ys[-1] - ys[0]) / max(ts[-1] - ts[0], 1e-9))
        a, b = ts[i], ts[i + 1]
        return ys[i] + (t - a) / (b - a) * (ys[i + 1] - ys[i])


def _auto_gap(lad: Ladder) -> float:
    delays = [a.t_end - a.t_send for a in lad.arrows if a.delivered]
    one_way = statistics.median(delays) if delays else 0.05
    return max(1.0, 10 * one_way)


def _host_label(h: str) -> str:
    return tr(h) if h in ("client", "server", "attacker") else h


class LadderView:
    """A ladder figure plus what is needed to move its cursor quickly.

    Parameters
    ----------
    trace : Trace
    relative : bool
        Relative (default) or absolute sequence numbers.
    hosts : sequence of str, optional
        Timelines, left to right.
    max_gap : float, optional
        Idle stretches longer than this many seconds are marked with their
        real length (and, with ``scale="linear"``, drawn this long); default:
        the larger of 1 s and ten one-way delays; 0 disables.
    scale : {"events", "linear"}
        ``events`` (default): one step down per distinct event time, a bit more
        for long waits, as textbook ladders are drawn; ``linear``: real time.
    height : int, optional
        Figure height in pixels (default grows with the number of segments).
    max_segments : int or None
        Draw at most this many segment records (default :data:`MAX_SEGMENTS`,
        100); a longer trace is cut and the figure's title says so.  ``None``
        draws everything (slow and unreadable for thousands of segments).
    window : (float, float), optional
        Draw only records from ``t0`` to ``t1`` seconds (still at most ``max_segments``).
    first : int
        Start at this record index.

    Attributes
    ----------
    first, stop : int
        The records drawn are ``trace[first:stop]``; record indices given to
        :meth:`figure` and :meth:`move_cursor` are indices into the whole
        trace, while ``ladder`` and ``ry`` count from ``first``.
    cut : bool
        Whether records were left out.

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> view = LadderView(example_trace("lossy"))
    >>> fig = view.figure()
    >>> view.move_cursor(fig, 5)
    >>> cursor_y(fig) == view.ry[5] == view.y(0.010)
    True
    >>> part = LadderView(example_trace("lossy"), max_segments=10, first=26)
    >>> part.first, part.stop, part.cut, part.covers(5)
    (26, 45, True, False)
    >>> fig = part.figure(upto=27); cursor_y(fig) == part.ry[27 - 26]
    True
    """

    def __init__(
        self,
        trace: Trace,
        *,
        relative: bool = True,
        hosts: Sequence[str] | None = None,
        max_gap: float | None = None,
        height: int | None = None,
        scale: str = "events",
        max_segments: int | None = MAX_SEGMENTS,
        window: tuple[float, float] | None = None,
        first: int = 0,
    ) -> None:
        if not isinstance(trace, Trace):
            raise ParameterError("trace", type(trace).__name__, "a tcpkit.engine.trace.Trace (e.g. run_scenario(...))")
        if max_gap is not None and (not isinstance(max_gap, int | float) or max_gap < 0):
            raise ParameterError("max_gap", max_gap, "a number of seconds >= 0 (0 disables shortening)")
        self.trace = trace
        self.relative = relative
        order = list(hosts) if hosts is not None else order_hosts(trace)
        known = set(trace.hosts)
        for h in order:
            if h not in known:
                raise ParameterError("hosts", h, "hosts of the trace: " + ", ".join(trace.hosts))
        self.first, self.stop = ladder_window(trace, max_segments=max_segments, window=window, first=first)
        self.max_segments = max_segments
        self.cut = (self.first, self.stop) != (0, len(trace))
        if self.cut:
            trace = trace[self.first : self.stop]
        self._inflight = "viz.ladder.beyond" if self.stop < len(self.trace) else "viz.ladder.inflight"
        self.ladder = _build_ladder(trace, relative, order, self._inflight)
        lad = self.ladder
        if scale not in ("events", "linear"):
            raise ParameterError("scale", scale, "'events' (one step per event) or 'linear' (real time)")
        gap = _auto_gap(lad) if max_gap is None else max_gap
        event_times = [r.time for r in trace.records if r.host in lad.hosts] or [0.0]
        self.t_first, self.t_last = min(event_times), max(event_times)
        delays = [a.t_end - a.t_send for a in lad.arrows if a.delivered]
        one_way = statistics.median(delays) if delays else 0.05
        tmap = _TimeMap(event_times, gap, scale, one_way)
        self.cuts = tmap.cuts
        self.scale = scale
        self.x = {h: float(i) for i, h in enumerate(lad.hosts)}
        self.ry = self._record_y(trace, set(lad.hosts), tmap, scale)
        pts: dict[float, float] = {}
        for r, y in zip(trace.records, self.ry, strict=True):
            if r.host in self.x:
                pts.setdefault(r.time, y)
        self._pts_t = sorted(pts)
        self._pts_y = [pts[t] for t in self._pts_t]
        dys = [
            self.ry[a.end_index] - self.ry[a.send_index] for a in lad.arrows if a.delivered and a.end_index is not None
        ]
        self._arrow_dy = statistics.median(dys) if dys else 1.0
        units = (max(self.ry) - min(self.ry) if self.ry else 0) if scale == "events" else 24
        self.height = height or max(420, min(1800, 26 * units + 180))

    # -- geometry ----------------------------------------------------------------------
    def _arrow_xy(self, a: Arrow) -> tuple[float, float, float, float]:
        x0 = self.x[a.src]
        x1 = self.x[a.dst] if a.dst is not None else x0 + (0.5 if x0 < len(self.x) - 1 else -0.5)
        x1 = x0 + (x1 - x0) * a.end_frac
        y0 = self.ry[a.send_index]
        if a.delivered and a.end_index is not None:
            y1 = self.ry[a.end_index]
        else:
            y1 = max(self.y(a.t_end), y0 + a.end_frac * self._arrow_dy)
        return x0, y0, x1, y1

    @staticmethod
    def _record_y(trace: Trace, hosts: set[str], tmap: _TimeMap, scale: str) -> list[float]:
        """y of every record.  ``events``: a new step per new time, and a half step when one
        host has two records of the same kind (two sends, two state changes) at one instant."""
        recs = trace.records
        if scale == "linear":
            return [tmap(r.time) for r in recs]
        conflict = (Kind.SEND, Kind.RECV, Kind.STATE, Kind.DROP)
        out: list[float] = []
        y = tmap(recs[0].time) if recs else 0.0
        prev_t: float | None = None
        used: set[tuple[str, Kind]] = set()
        for r in recs:
            if r.host in hosts:
                if prev_t is not None and r.time > prev_t:
                    y += tmap(r.time) - tmap(prev_t)
                    used = set()
                elif r.kind in conflict and (r.host, r.kind) in used:
                    y += 1.0  # a full row: the labels of two arrows sent at one instant need the room
                    used = set()
                if r.kind in conflict:
                    used.add((r.host, r.kind))
                prev_t = r.time
            out.append(y)
        return out

    def y(self, t: float) -> float:
        """The y of time ``t`` (interpolated between records)."""
        ts, ys = self._pts_t, self._pts_y
        if not ts:
            return 0.0
        i = bisect.bisect_right(ts, t) - 1
        if i < 0:
            return ys[0] - (ts[0] - t)
        if i >= len(ts) - 1:
            return ys[-1] + (t - ts[-1])
        a, b = ts[i], ts[i + 1]
        return ys[i] + (t - a) / (b - a) * (ys[i + 1] - ys[i])

    def figure(self, upto: int | None = None) -> go.Figure:
        """A plain :class:`plotly.graph_objects.Figure` (cursor at record ``upto`` if given)."""
        lad = self.ladder
        fig = go.Figure()
        n = len(lad.hosts)
        y_top, y_bot = (min(self.ry), max(self.ry)) if self.ry else (0.0, 1.0)
        pad = 0.7 if self.scale == "events" else max(0.02, 0.04 * (y_bot - y_top))
        # timelines
        xs: list[float | None] = []
        ys: list[float | None] = []
        for h in lad.hosts:
            xs += [self.x[h], self.x[h], None]
            ys += [y_top - pad, y_bot + pad, None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": "#999", "width": 2},
                hoverinfo="skip",
                showlegend=False,
                name="_timelines",
            )
        )
        # idle-gap breaks
        bx, by, bt = [], [], []
        for ga, gb in self.cuts:
            for h in lad.hosts:
                bx.append(self.x[h])
                by.append((self.y(ga) + self.y(gb)) / 2)
                bt.append(f"≈ {gb - ga:.3g} s")
        if bx:
            fig.add_trace(
                go.Scatter(
                    x=bx,
                    y=by,
                    mode="markers+text",
                    text=bt,
                    textposition="middle right",
                    marker={"symbol": "line-ew-open", "size": 16, "color": "#555", "line": {"width": 2}},
                    textfont={"size": 10, "color": "#555"},
                    hoverinfo="skip",
                    showlegend=False,
                    name="_gaps",
                )
            )
        # timers
        by_name: dict[str, list[TimerBar]] = {}
        for tb in lad.timers:
            by_name.setdefault(tb.name, []).append(tb)
        for name, bars in by_name.items():
            txs: list[float | None] = []
            tys: list[float | None] = []
            hov: list[str | None] = []
            for tb in bars:
                off = 0.05 if self.x[tb.host] < n - 1 or n == 1 else -0.05
                end = tb.end if not tb.open_ended else min(tb.end, self.t_last)
                y_end = self.ry[tb.end_index] if tb.end_index is not None else self.y(end)
                txs += [self.x[tb.host] + off, self.x[tb.host] + off, None]
                tys += [self.ry[tb.index], y_end, None]
                how = "fired" if tb.fired else ("open" if tb.open_ended else "cancelled")
                span = f"{tb.start:.3f} → {tb.end:.3f} s ({tb.end - tb.start:.3f} s, {how})"
                h = f"{tr('viz.ladder.timer')} {name}: {span}"
                hov += [h, h, None]
            fig.add_trace(
                go.Scatter(
                    x=txs,
                    y=tys,
                    mode="lines",
                    line={"color": TIMER_COLORS.get(name, "#bbb"), "width": 6},
                    opacity=0.6,
                    name=f"{tr('viz.ladder.timer')} {name}",
                    hovertext=hov,
                    hoverinfo="text",
                )
            )
        # arrows, by kind
        kinds = (
            ("normal", tr("viz.ladder.segment"), "#222", "solid"),
            ("rexmit", tr("viz.ladder.rexmit"), "#e6550d", "solid"),
            ("lost", tr("viz.ladder.lost"), "#d62728", "dot"),
            ("inflight", tr(self._inflight), "#999", "dash"),
        )
        mids_x, mids_y, mids_t, mids_h, mids_pos = [], [], [], [], []
        for kind, lname, color, dash in kinds:
            axs: list[float | None] = []
            ays: list[float | None] = []
            sym: list[str] = []
            size: list[int] = []
            for a in lad.arrows:
                k = "lost" if a.lost else ("inflight" if not a.delivered else ("rexmit" if a.rexmit else "normal"))
                if k != kind:
                    continue
                x0, y0, x1, y1 = self._arrow_xy(a)
                axs += [x0, x1, None]
                ays += [y0, y1, None]
                sym += ["circle", "x" if a.lost else "arrow", "circle"]
                size += [4, 13 if a.lost else 11, 0]
                if a.lost:  # short arrow: write the label after the cross
                    mids_x.append(x1 + (0.03 if x1 >= x0 else -0.03))
                    mids_y.append(y1)
                else:
                    mids_x.append((x0 + x1) / 2)
                    mids_y.append((y0 + y1) / 2)
                mids_t.append((tr("viz.ladder.rexmit_tag") + " " if a.rexmit else "") + a.label)
                mids_h.append(a.hover)
                # beside the arrow, not on it: on screen an arrow runs down from its sender, so the
                # quarter above the midpoint on the receiver's side is always clear of its own line
                mids_pos.append(
                    ("middle right" if x1 >= x0 else "middle left")
                    if a.lost
                    else ("top right" if x1 >= x0 else "top left")
                )
            if axs:
                fig.add_trace(
                    go.Scatter(
                        x=axs,
                        y=ays,
                        mode="lines+markers",
                        name=lname,
                        line={"color": color, "width": 1.8, "dash": dash},
                        marker={"symbol": sym, "size": size, "color": color, "angleref": "previous"},
                        hoverinfo="skip",
                    )
                )
        fig.add_trace(
            go.Scatter(
                x=mids_x,
                y=mids_y,
                mode="text",
                text=mids_t,
                textposition=mids_pos,
                textfont={"size": 11, "family": "monospace"},
                hovertext=mids_h,
                hoverinfo="text",
                showlegend=False,
                name="_labels",
            )
        )
        # drops outside arrows (e.g. by the receiving stack)
        if lad.drops:
            fig.add_trace(
                go.Scatter(
                    x=[self.x[d[1]] for d in lad.drops],
                    y=[self.ry[d[3]] for d in lad.drops],
                    mode="markers",
                    marker={"symbol": "x", "size": 12, "color": "#d62728"},
                    hovertext=[tr("viz.ladder.dropped_at", host=d[1], reason=d[2]) for d in lad.drops],
                    hoverinfo="text",
                    name=tr("dropped"),
                )
            )
        # state changes
        sx = [self.x[s[1]] + (-0.03 if self.x[s[1]] == 0 and n > 1 else 0.03) for s in lad.states]
        fig.add_trace(
            go.Scatter(
                x=sx,
                y=[self.ry[s[3]] for s in lad.states],
                mode="markers+text",
                text=[s[2] for s in lad.states],
                textposition=["middle left" if self.x[s[1]] == 0 and n > 1 else "middle right" for s in lad.states],
                textfont={"size": 11, "color": "#1f4e9c"},
                marker={"size": 7, "color": "#1f4e9c", "symbol": "diamond"},
                hovertext=[f"{s[1]}: {s[2]} @ {s[0]:.3f} s" for s in lad.states],
                hoverinfo="text",
                name=tr("viz.ladder.states"),
            )
        )
        # cursor and current segment (moved by move_cursor): layout shapes, which the
        # browser redraws without recomputing the traces
        fig.update_layout(
            shapes=[
                {
                    "type": "line",
                    "name": "_cursor",
                    "xref": "x",
                    "yref": "y",
                    "x0": -0.6,
                    "x1": n - 0.4,
                    "y0": 0,
                    "y1": 0,
                    "line": {"color": "#f5a623", "width": 2, "dash": "dash"},
                    "visible": False,
                    "layer": "above",
                },
                {
                    "type": "line",
                    "name": "_current",
                    "xref": "x",
                    "yref": "y",
                    "x0": 0,
                    "x1": 0,
                    "y0": 0,
                    "y1": 0,
                    "line": {"color": "#f5a623", "width": 9},
                    "opacity": 0.45,
                    "visible": False,
                    "layer": "below",
                },
            ]
        )
        tick_y, tick_t = self._ticks()
        fig.update_xaxes(
            range=[-0.75, n - 0.25],
            tickvals=list(range(n)),
            ticktext=[_host_label(h) for h in lad.hosts],
            side="top",
            showgrid=False,
            zeroline=False,
            tickfont={"size": 13},
        )
        fig.update_yaxes(
            range=[y_bot + pad * 1.5, y_top - pad * 1.5],
            tickvals=tick_y,
            ticktext=[f"{t:.3f}" for t in tick_t],
            title={"text": tr("viz.ladder.time")},
            showgrid=True,
            gridcolor="#eee",
            zeroline=False,
        )
        sub = tr("viz.ladder.relative") if self.relative else tr("viz.ladder.absolute")
        title = f"{tr('viz.ladder.title')} <span style='font-size:12px'>({sub})</span>"
        meta: dict[str, object] = {"tcpkit": "ladder", "hosts": lad.hosts}
        if self.cut:
            title += f"<br><span style='font-size:11px;color:#b35900'>{self.cut_note()}</span>"
            meta["records"] = [self.first, self.stop, len(self.trace)]
        fig.update_layout(
            title={"text": title, "x": 0.01},
            height=self.height,
            plot_bgcolor="white",
            margin={"l": 60, "r": 20, "t": 110 if self.cut else 90, "b": 40},
            legend={"orientation": "h", "y": -0.03},
            hovermode="closest",
            meta=meta,
        )
        if upto is not None:
            self.move_cursor(fig, upto)
        return fig

    def covers(self, index: int) -> bool:
        """Whether record ``index`` (of the whole trace) is drawn."""
        return self.first <= index < self.stop

    def cut_note(self) -> str:
        """The note a cut ladder shows (empty when nothing was left out)."""
        if not self.cut:
            return ""
        segs = sum(1 for r in self.trace.records[self.first : self.stop] if isinstance(r, SegmentEvent))
        full = bool(self.max_segments) and segs >= (self.max_segments or 0)
        why = tr("viz.ladder.cut_limit", limit=self.max_segments) if full else ""
        return tr("viz.ladder.cut", i0=self.first, i1=self.stop - 1, n=len(self.trace), why=why)

    def cursor_at(self, index: int | None) -> tuple[float, tuple[float, float, float, float] | None] | None:
        """Where the cursor goes for record ``index`` of the whole trace.

        ``None`` when hidden (no index, or a record outside the drawn window);
        else ``(y, segment)`` with ``segment = (x0, y0, x1, y1)`` of the record's
        arrow, or ``None`` when the record is not on an arrow.

        >>> from tcpkit.viz.examples import example_trace
        >>> view = LadderView(example_trace("lossy"))
        >>> y, seg = view.cursor_at(5)
        >>> y == view.ry[5] and seg == (0.0, view.ry[5], 1.0, view.ry[6])
        True
        """
        n = len(self.trace)
        if index is None or n == 0:
            return None
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise ParameterError("index", index, f"a record index from 0 to {n - 1}")
        if not self.covers(index):
            return None
        local = index - self.first
        ai = self.ladder.record_arrow.get(local)
        return self.ry[local], (None if ai is None else self._arrow_xy(self.ladder.arrows[ai]))

    @property
    def x_span(self) -> tuple[float, float]:
        """Left and right ends of the cursor line (x of the first and last timeline, padded)."""
        return -0.6, len(self.ladder.hosts) - 0.4

    def _ticks(self) -> tuple[list[float], list[float]]:
        cands = sorted(
            {(self.ry[a.send_index], round(a.t_send, 6)) for a in self.ladder.arrows}
            | {
                (y, round(t, 6))
                for t, y in zip(self._pts_t[:1] + self._pts_t[-1:], self._pts_y[:1] + self._pts_y[-1:], strict=True)
            }
        )
        span = (max(self.ry) - min(self.ry)) if self.ry else 1.0
        sep = span / 16 if self.scale == "linear" else 0.99
        ys: list[float] = []
        ts: list[float] = []
        for y, t in cands:
            if (not ys or y - ys[-1] >= sep) and t not in ts:
                ys.append(y)
                ts.append(t)
        return ys, ts

    def move_cursor(self, fig: go.Figure, index: int | None) -> None:
        """Put the cursor at record ``index`` and highlight its segment (in place).

        Works on a FigureWidget; call inside ``fig.batch_update()``.
        """
        shapes = fig.layout.shapes
        ci = next((i for i, sh in enumerate(shapes) if sh.name == "_cursor"), None)
        ai_ = next((i for i, sh in enumerate(shapes) if sh.name == "_current"), None)
        if ci is None or ai_ is None:
            raise ParameterError("fig", "a figure", "a figure made by LadderView.figure()")
        cursor, current = shapes[ci], shapes[ai_]
        where = self.cursor_at(index)
        if where is None:
            if cursor.visible is not False:
                cursor.visible = False
            if current.visible is not False:
                current.visible = False
            return
        y, seg = where
        if cursor.y0 != y or not cursor.visible:
            cursor.y0 = cursor.y1 = y
            cursor.visible = True
        if seg is None:
            if current.visible:
                current.visible = False
        else:
            x0, y0, x1, y1 = seg
            if (current.x0, current.y0, current.x1, current.y1) != (x0, y0, x1, y1) or not current.visible:
                current.x0, current.y0, current.x1, current.y1 = x0, y0, x1, y1
                current.visible = True


def cursor_y(fig: go.Figure) -> float | None:
    """Where a ladder figure's cursor is (``None`` when hidden).

    >>> from tcpkit.viz.examples import example_trace
    >>> cursor_y(ladder_figure(example_trace("lossy"))) is None
    True
    """
    for sh in fig.layout.shapes:
        if sh.name == "_cursor":
            return float(sh.y0) if sh.visible else None
    return None


def ladder_figure(
    trace: Trace,
    *,
    relative: bool = True,
    hosts: Sequence[str] | None = None,
    max_gap: float | None = None,
    upto: int | None = None,
    height: int | None = None,
    scale: str = "events",
    max_segments: int | None = MAX_SEGMENTS,
    window: tuple[float, float] | None = None,
    first: int = 0,
) -> go.Figure:
    """Draw the ladder diagram of a trace (see :class:`LadderView` for the parameters).

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> fig = ladder_figure(example_trace("lossy"), relative=False)
    >>> labels = [d for d in fig.data if d.name == "_labels"][0]
    >>> any("1000001:1001001(1000)" in t for t in labels.text)
    True
    """
    return LadderView(
        trace,
        relative=relative,
        hosts=hosts,
        max_gap=max_gap,
        height=height,
        scale=scale,
        max_segments=max_segments,
        window=window,
        first=first,
    ).figure(upto)
