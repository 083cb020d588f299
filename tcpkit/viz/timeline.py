"""Pictures over time: queue occupancy, a state Gantt chart, a time-sequence graph, ISNs.

Examples
--------
>>> from tcpkit.viz.examples import example_trace
>>> t = example_trace("flood")
>>> s = queue_series(t)
>>> max(s.syn_queue), s.host
(4, 'server')
>>> fig = queue_figure(([0, 1, 2], [0, 5, 3], [0, 1, 0]), limits={"syn_queue": 4})
>>> [d.name for d in fig.data][:2]
['SYN queue', 'accept queue']
>>> rows = state_intervals(example_trace("lossy"))
>>> rows[0][:3]
('server', 'LISTEN', 0.0)
>>> fig = time_sequence_figure(example_trace("lossy"), host="client")
>>> sorted(d.name for d in fig.data)
['ACK received', 'data sent', 'receive window edge', 'retransmitted']

Notes
-----
The time-sequence graph follows tcptrace (Ostermann) and Stevens, *TCP/IP
Illustrated* vol. 1: data as vertical bars from ``seq`` to ``seq + len``,
the ACK line below them and the receive window edge above.  The ISN
generators are those of :mod:`tcpkit.engine.isn` (RFC 793 clock, RFC 6528 / RFC 9293
§3.4.1 keyed hash plus clock, Linux ``net/core/secure_seq.c``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import Flags
from tcpkit.engine.seqnum import MASK
from tcpkit.engine.states import State
from tcpkit.engine.trace import ConnId, QueueChanged, SegmentReceived, SegmentSent, Trace

from .labels import tr

__all__ = [
    "QueueSeries",
    "queue_series",
    "queue_figure",
    "state_intervals",
    "state_gantt_figure",
    "time_sequence_figure",
    "isn_figure",
    "STATE_COLORS",
]

STATE_COLORS: dict[str, str] = {
    "CLOSED": "#bdbdbd",
    "LISTEN": "#9ecae1",
    "SYN_SENT": "#6baed6",
    "SYN_RECEIVED": "#74c476",
    "ESTABLISHED": "#31a354",
    "FIN_WAIT_1": "#9e9ac8",
    "FIN_WAIT_2": "#756bb1",
    "CLOSE_WAIT": "#fd8d3c",
    "CLOSING": "#17becf",
    "LAST_ACK": "#e6550d",
    "TIME_WAIT": "#de2d26",
}


@dataclass(frozen=True)
class QueueSeries:
    """Queue lengths over time (step functions)."""

    t: tuple[float, ...]
    syn_queue: tuple[int, ...]
    accept_queue: tuple[int, ...]
    host: str | None = None


def queue_series(source: Any, host: str | None = None) -> QueueSeries:
    """Queue lengths from a trace, a flood result or plain lists.

    Parameters
    ----------
    source : Trace, FloodResult-like, mapping or (t, syn_q, acc_q)
        A :class:`Trace` (its QUEUE records); an object with ``samples`` of
        ``(t, syn_q, acc_q)`` (:class:`tcpkit.drivers.flood.FloodResult`); an object or
        mapping with ``t``, ``syn_q``/``syn_queue`` and ``acc_q``/``accept_queue``;
        or a tuple of three equally long sequences.
    host : str, optional
        For a trace: whose queues (default: the first host with QUEUE records).

    Raises
    ------
    ParameterError
        If ``source`` is none of these or the sequences differ in length.

    Examples
    --------
    >>> queue_series({"t": [0, 1], "syn_q": [1, 2], "acc_q": [0, 0]}).syn_queue
    (1, 2)
    >>> queue_series(([0, 1], [1], [0, 0]))
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter source = 'lists of lengths 2, 1, 2' is not allowed: expected ...
    """
    if isinstance(source, Trace):
        recs = source.of(QueueChanged, host)
        if recs:
            host = recs[0].host
            recs = [r for r in recs if r.host == host]
        ts, sq, aq = [], [], []
        for r in recs:
            ts.append(r.time)
            sq.append(r.syn_queue)
            aq.append(r.accept_queue)
        return QueueSeries(tuple(ts), tuple(sq), tuple(aq), host)
    samples = getattr(source, "samples", None)
    if samples is not None and not isinstance(source, Mapping):
        rows = list(samples)
        return QueueSeries(
            tuple(float(r[0]) for r in rows), tuple(int(r[1]) for r in rows), tuple(int(r[2]) for r in rows)
        )

    def get(*names: str) -> Any:
        for n in names:
            if isinstance(source, Mapping) and n in source:
                return source[n]
            if not isinstance(source, Mapping | tuple | list) and hasattr(source, n):
                return getattr(source, n)
        return None

    t, s, a = get("t", "time", "times"), get("syn_q", "syn_queue"), get("acc_q", "accept_queue")
    if t is None and isinstance(source, tuple | list) and len(source) == 3:
        t, s, a = source
    if t is None or s is None or a is None:
        raise ParameterError("source", type(source).__name__, "a Trace, a FloodResult, or (t, syn_q, acc_q) sequences")
    t, s, a = list(t), list(s), list(a)
    if not len(t) == len(s) == len(a):
        raise ParameterError(
            "source", f"lists of lengths {len(t)}, {len(s)}, {len(a)}", "t, syn_q and acc_q of the same length"
        )
    return QueueSeries(tuple(float(x) for x in t), tuple(int(x) for x in s), tuple(int(x) for x in a))


def queue_figure(
    source: Any, *, host: str | None = None, limits: Mapping[str, int] | None = None, height: int = 360
) -> go.Figure:
    """SYN queue and accept queue occupancy over time, as step lines.

    Parameters
    ----------
    source : see :func:`queue_series`
    host : str, optional
    limits : mapping, optional
        ``{"syn_queue": n, "accept_queue": m}``: draw the limits as dashed lines.
    height : int

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> fig = queue_figure(example_trace("flood"), limits={"syn_queue": 4})
    >>> max(fig.data[0].y), fig.data[2].y
    (4, (4, 4))
    """
    s = queue_series(source, host)
    fig = go.Figure()
    for name, ys, color in (("syn", s.syn_queue, "#d62728"), ("accept", s.accept_queue, "#1f77b4")):
        fig.add_trace(
            go.Scatter(
                x=list(s.t),
                y=list(ys),
                mode="lines",
                line={"shape": "hv", "color": color, "width": 2},
                name=tr(f"viz.queue.{name}"),
            )
        )
    for key, color in (("syn_queue", "#d62728"), ("accept_queue", "#1f77b4")):
        if limits and key in limits and s.t:
            label = tr("viz.queue.limit", name=tr("viz.queue.syn" if key == "syn_queue" else "viz.queue.accept"))
            fig.add_trace(
                go.Scatter(
                    x=[s.t[0], s.t[-1]],
                    y=[limits[key]] * 2,
                    mode="lines",
                    line={"dash": "dash", "color": color, "width": 1},
                    name=label,
                )
            )
    title = tr("viz.queue.title") + (f" — {_host(s.host)}" if s.host else "")
    if not s.t:
        title += " — " + tr("viz.empty", why="no QUEUE records")
    fig.update_layout(
        title={"text": title, "x": 0.01},
        height=height,
        plot_bgcolor="white",
        xaxis={"title": {"text": tr("viz.ladder.time")}, "gridcolor": "#eee"},
        yaxis={"title": {"text": tr("viz.queue.length")}, "gridcolor": "#eee", "rangemode": "tozero"},
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def state_intervals(trace: Trace) -> list[tuple[str, str, float, float, ConnId | None]]:
    """Per (host, connection): ``(host, state, start, end, conn)`` for each state held.

    The last state of each connection lasts until the end of the trace.

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> [(h, s) for h, s, *_ in state_intervals(example_trace("lossy"))][:3]
    [('server', 'LISTEN'), ('client', 'SYN_SENT'), ('server', 'SYN_RECEIVED')]
    """
    if not len(trace):
        return []
    t_end = max(r.time for r in trace.records)
    open_: dict[tuple[str, ConnId | None], tuple[str, float]] = {}
    out: list[tuple[str, str, float, float, ConnId | None]] = []
    for r in trace.state_changes():
        key = (r.host, r.conn)
        if key in open_:
            st, start = open_.pop(key)
            out.append((r.host, st, start, r.time, r.conn))
        open_[key] = (r.dst.value, r.time)
    for (host, conn), (st, start) in open_.items():
        out.append((host, st, start, t_end, conn))
    return sorted(out, key=lambda x: (x[2], x[0]))


def _host(host: str) -> str:
    return tr(host) if host in ("client", "server", "attacker") else host


def _conn_label(host: str, conn: ConnId | None) -> str:
    hl = _host(host)
    if conn is None:
        return hl
    return f"{hl} {conn[0]}:{conn[1]}↔{conn[2]}:{conn[3]}"


def state_gantt_figure(trace: Trace, *, height: int | None = None) -> go.Figure:
    """A Gantt chart: one row per (host, connection), coloured by state.

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> fig = state_gantt_figure(example_trace("lossy"))
    >>> "TIME_WAIT" in {d.name for d in fig.data}
    True
    """
    rows = state_intervals(trace)
    fig = go.Figure()
    by_state: dict[str, list[tuple[str, str, float, float, ConnId | None]]] = {}
    for row in rows:
        by_state.setdefault(row[1], []).append(row)
    order = [s.value for s in State]
    for st in sorted(by_state, key=lambda s: order.index(s) if s in order else 99):
        items = by_state[st]
        fig.add_trace(
            go.Bar(
                orientation="h",
                base=[i[2] for i in items],
                x=[max(i[3] - i[2], 1e-6) for i in items],
                y=[_conn_label(i[0], i[4]) for i in items],
                name=st,
                marker={"color": STATE_COLORS.get(st, "#888")},
                hovertext=[f"{_conn_label(i[0], i[4])}<br>{st}: {i[2]:.3f} → {i[3]:.3f} s" for i in items],
                hoverinfo="text",
            )
        )
    n_rows = len({_conn_label(r[0], r[4]) for r in rows})
    fig.update_layout(
        barmode="overlay",
        title={"text": tr("viz.gantt.title"), "x": 0.01},
        height=height or max(220, 60 * n_rows + 140),
        plot_bgcolor="white",
        xaxis={"title": {"text": tr("viz.ladder.time")}, "gridcolor": "#eee"},
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


def time_sequence_figure(
    trace: Trace, *, host: str | None = None, conn: ConnId | None = None, height: int = 420
) -> go.Figure:
    """A tcptrace-style time-sequence graph of the data one host sends.

    Parameters
    ----------
    trace : Trace
    host : str, optional
        The sender (default: the host that sent the most payload bytes).
    conn : ConnId, optional
        One connection of that host (default: the one with the most payload).

    Returns
    -------
    plotly.graph_objects.Figure

    Raises
    ------
    ParameterError
        If ``host`` sent no segments.

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> fig = time_sequence_figure(example_trace("lossy"), host="client")
    >>> [y for y in fig.data[1].y if y is not None]     # the retransmitted bytes 1..1001
    [1, 1001]

    Notes
    -----
    Sequence numbers are relative to the sender's ISN (``seq_base``). The window
    edge is ``ack + window``, with the window scaled by the shift the receiver
    announced in its SYN when both SYNs carried window scale (RFC 7323 §2.3).
    """
    sends = trace.of(SegmentSent)
    if host is None or conn is None:
        totals: dict[tuple[str, ConnId | None], int] = {}
        for r in sends:
            if host is None or r.host == host:
                totals[(r.host, r.conn)] = totals.get((r.host, r.conn), 0) + r.segment.length
        if not totals:
            raise ParameterError("host", host, "a host that sent segments in this trace: " + ", ".join(trace.hosts))
        host, conn = max(totals, key=lambda k: totals[k])
    mine = [r for r in sends if r.host == host and r.conn == conn]
    base = next((r.seq_base[0] for r in mine if r.seq_base is not None), mine[0].segment.seq if mine else 0)
    rconn = (conn[2], conn[3], conn[0], conn[1]) if conn is not None else None
    acks = [r for r in trace.of(SegmentReceived, host) if r.conn in (conn, rconn) and r.segment.flags & Flags.ACK]
    peer_shift = 0
    syn_mine = next((r.segment for r in mine if r.segment.syn), None)
    syn_peer = next((r.segment for r in acks if r.segment.syn), None)
    if syn_mine is not None and syn_peer is not None and syn_mine.wscale is not None and syn_peer.wscale is not None:
        peer_shift = syn_peer.wscale

    def rel(x: int) -> int:
        return (x - base) & MASK

    seen: set[tuple[int, int]] = set()
    dx: list[float | None] = []
    dy: list[float | None] = []
    rx: list[float | None] = []
    ry: list[float | None] = []
    for r in mine:
        seg = r.segment
        if seg.seg_len == 0:
            continue
        key = (seg.seq, seg.seg_len)
        xs, ys = (rx, ry) if key in seen else (dx, dy)
        seen.add(key)
        xs += [r.time, r.time, None]
        ys += [rel(seg.seq), rel(seg.seq) + seg.seg_len, None]
    ax, ay, wx, wy = [], [], [], []
    for ack in acks:
        seg = ack.segment
        ax.append(ack.time)
        ay.append(rel(seg.ack))
        if seg.window is not None:
            wx.append(ack.time)
            wy.append(rel(seg.ack) + (seg.window << (0 if seg.syn else peer_shift)))
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=dx,
            y=dy,
            mode="lines+markers",
            name=tr("viz.tseq.data"),
            line={"color": "#222", "width": 2},
            marker={"symbol": "line-ew", "size": 8, "line": {"width": 2, "color": "#222"}},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=rx,
            y=ry,
            mode="lines+markers",
            name=tr("viz.tseq.rexmit"),
            line={"color": "#d62728", "width": 2},
            marker={"symbol": "line-ew", "size": 8, "line": {"width": 2, "color": "#d62728"}},
        )
    )
    fig.add_trace(
        go.Scatter(x=ax, y=ay, mode="lines", line={"shape": "hv", "color": "#2ca02c"}, name=tr("viz.tseq.ack"))
    )
    fig.add_trace(
        go.Scatter(
            x=wx,
            y=wy,
            mode="lines",
            line={"shape": "hv", "color": "#bcbd22", "dash": "dot"},
            name=tr("viz.tseq.window"),
        )
    )
    sub = _host(host) + (f" {conn[0]}:{conn[1]} → {conn[2]}:{conn[3]}" if conn else "")
    fig.update_layout(
        title={"text": f"{tr('viz.tseq.title')} — {sub}", "x": 0.01},
        height=height,
        plot_bgcolor="white",
        xaxis={"title": {"text": tr("viz.ladder.time")}, "gridcolor": "#eee"},
        yaxis={"title": {"text": tr("viz.tseq.seq")}, "gridcolor": "#eee"},
        margin={"l": 70, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def isn_figure(
    kinds: Iterable[str] = ("clock", "rfc6528", "linux", "random"),
    *,
    seed: int = 0,
    times: Sequence[float] | None = None,
    conns: Sequence[ConnId] = (("10.0.0.1", 40000, "10.0.0.2", 80), ("10.0.0.3", 40001, "10.0.0.2", 80)),
    height: int | None = None,
) -> go.Figure:
    """How each ISN generator's numbers move over time: one panel per generator, each on its own scale.

    Each panel plots, for a few 4-tuples, how far the ISN has moved since the
    first sample (``ISN(t) − ISN(t₀)`` modulo 2³², as a signed number), so the
    clock's steady climb (250,000 per second for the 4 µs clock) is visible
    instead of being lost on a 0–4·10⁹ axis; the hover text gives the ISN itself,
    and a panel's title says how far apart the 4-tuples start.

    Parameters
    ----------
    kinds : iterable of str
        Generators of :func:`tcpkit.engine.isn.make_isn`.
    seed : int
        Passed to ``make_isn`` (same seed, same picture).
    times : sequence of float, optional
        Sample times in seconds (default: 0 to 10 s, 41 points).
    conns : sequence of ConnId
        4-tuples to sample; a keyed generator gives each its own line.
    height : int, optional

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per generator and 4-tuple (``legendgroup`` is the generator;
        ``y`` the movement, ``customdata`` the ISNs).

    Examples
    --------
    >>> fig = isn_figure(["clock", "rfc6528"], times=[0.0, 1.0])
    >>> len(fig.data), list(fig.data[0].y)
    (4, [0, 250000])
    """
    from plotly.subplots import make_subplots

    ts = list(times) if times is not None else [i * 0.25 for i in range(41)]
    kinds = list(kinds)
    try:
        from tcpkit.engine import isn as isn_mod
    except ImportError as exc:  # pragma: no cover - the module exists in a full checkout
        fig = go.Figure()
        fig.update_layout(title={"text": tr("viz.isn.missing", why=str(exc))})
        return fig
    series: dict[str, list[list[int]]] = {}
    titles = []
    for kind in kinds:
        gen = isn_mod.make_isn(kind, seed=seed)
        series[kind] = [[gen(t, c) for t in ts] for c in conns]
        firsts = [row[0] for row in series[kind] if row]
        spread = max(_signed(a - b) for a in firsts for b in firsts) if len(firsts) > 1 else 0
        titles.append(
            tr("viz.isn.panel_same", kind=kind)
            if spread == 0
            else tr("viz.isn.panel_apart", kind=kind, apart=f"{abs(spread):,}")
        )
    cols = 2 if len(kinds) > 1 else 1
    rows = (len(kinds) + cols - 1) // cols
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=titles, shared_xaxes=True, vertical_spacing=0.16, horizontal_spacing=0.12
    )
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
    for k, kind in enumerate(kinds):
        r, c = k // cols + 1, k % cols + 1
        for j, conn in enumerate(conns):
            values = series[kind][j]
            moved = [_signed(v - values[0]) for v in values]
            fig.add_trace(
                go.Scatter(
                    x=ts,
                    y=moved,
                    customdata=values,
                    mode="lines+markers",
                    marker={"size": 4},
                    line={"color": colours[j % len(colours)], "dash": "solid" if j == 0 else "dot"},
                    name=f"{conn[0]}:{conn[1]}",
                    legendgroup=kind,
                    showlegend=k == 0,
                    hovertemplate=f"{kind} {conn[0]}:{conn[1]}<br>t = %{{x}} s<br>ISN %{{customdata:,}}"
                    f"<br>{tr('viz.isn.moved')} %{{y:,}}<extra></extra>",
                ),
                row=r,
                col=c,
            )
        fig.update_yaxes(gridcolor="#eee", zerolinecolor="#bbb", exponentformat="SI", row=r, col=c)
        fig.update_xaxes(gridcolor="#eee", row=r, col=c)
        if c == 1:
            fig.update_yaxes(title={"text": tr("viz.isn.moved")}, row=r, col=c)
        if r == rows:
            fig.update_xaxes(title={"text": tr("viz.ladder.time")}, row=r, col=c)
    fig.update_layout(
        title={"text": tr("viz.isn.title"), "x": 0.01},
        height=height or 220 + 230 * rows,
        plot_bgcolor="white",
        margin={"l": 80, "r": 20, "t": 120, "b": 50},
        legend={
            "orientation": "h",
            "y": 1.09,
            "yanchor": "bottom",
            "x": 1.0,
            "xanchor": "right",
            "title": {"text": tr("viz.isn.tuple")},
        },
    )
    return fig


def _signed(v: int) -> int:
    """``v`` modulo 2**32 as a signed 32-bit number (how far one sequence number is ahead of another)."""
    v &= MASK
    return v - (1 << 32) if v >= 1 << 31 else v
