"""The SYN-flood lab: queues over time, honest clients, the counters, and a phase map, updated together.

Move the flood rate, the backlog, ``tcp_synack_retries`` or ``tcp_syncookies``
and one figure is redrawn: the SYN queue (半连接队列) and accept queue
(全连接队列) over the run with their limits; how many honest clients connected,
gave up or are still trying; and, beside them, a phase map of honest-client success over flood rate × backlog for
the chosen ``tcp_syncookies``, with the current slider point marked, so a
student sees where a defence stops working.  Under the figure, redrawn with it,
a small table of the ``nstat`` counters the kernel would show.

Only two functions here call the flood model, :func:`run_flood` and
:func:`phase_map` (the adapter): when :mod:`tcpkit.drivers.flood` gains its
parameter class and a faster phase-map function, only these two change.

Examples
--------
>>> lab = FloodLab()
>>> lab.values["tcp_syncookies"], lab.run.attempts
(0, 200)
>>> lab.set(tcp_syncookies=1)
True
>>> lab.run.connected, lab.run.pending    # the last client's handshake ends after the run
(199, 1)
>>> len(lab.grid_success), len(lab.grid_success[0])
(10, 10)
"""

from __future__ import annotations

import functools
import html
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.colors import get_colorscale
from plotly.subplots import make_subplots
from plotly.utils import PlotlyJSONEncoder

from tcpkit.drivers.flood import phase_map as flood_phase_map
from tcpkit.drivers.flood import simulate_flood
from tcpkit.engine.errors import ParameterError
from tcpkit.i18n import get_language, register
from tcpkit.viz.labels import tr

from .lab import Control, Lab, View

__all__ = [
    "FloodLab",
    "FloodRun",
    "run_flood",
    "phase_map",
    "flood_spec",
    "flood_figure",
    "counters_html",
    "RATES",
    "BACKLOGS",
    "COUNTERS",
]

register(
    {
        "w.flood.title": (
            "Lab: a SYN flood against one listener, and where the defences stop working",
            "实验：针对一个监听套接字的 SYN 洪泛攻击，以及防御在哪里失效",
        ),
        "w.flood.flood_rate": ("flood rate (spoofed SYN/s)", "洪泛速率（伪造 SYN/秒）"),
        "w.flood.flood_help": (
            "Spoofed SYNs per second from addresses that never answer the SYN-ACK.",
            "每秒从不会应答 SYN-ACK 的伪造地址发来的 SYN 数。",
        ),
        "w.flood.backlog": ("backlog (listen)", "backlog（listen 参数）"),
        "w.flood.backlog_help": (
            "The listen() backlog: the SYN queue and the accept queue are capped at min(backlog, somaxconn).",
            "listen() 的 backlog：SYN 队列与全连接队列的上限为 min(backlog, somaxconn)。",
        ),
        "w.unit.syn_per_s": ("SYN/s", "SYN/秒"),
        "w.flood.cookies_0": ("0 off", "0 关闭"),
        "w.flood.cookies_1": ("1 when the queue is full", "1 队列满时"),
        "w.flood.cookies_2": ("2 always", "2 总是"),
        "w.flood.queues": ("Queues during the flood", "洪泛期间的队列"),
        "w.flood.clients": ("Honest clients", "正常客户端"),
        "w.flood.map": (
            "Honest clients connected (%), tcp_syncookies = {c}",
            "正常客户端连接成功率（%），tcp_syncookies = {c}",
        ),
        "w.flood.connected": ("connected", "已连接"),
        "w.flood.gave_up": ("gave up", "已放弃"),
        "w.flood.trying": ("still trying", "仍在重试"),
        "w.flood.counter": ("nstat counter", "nstat 计数器"),
        "w.flood.value": ("value", "值"),
        "w.flood.you": ("your setting", "当前设置"),
        "w.flood.rate_axis": ("flood rate (SYN/s)", "洪泛速率（SYN/秒）"),
        "w.flood.backlog_axis": ("backlog", "backlog"),
        "w.flood.time_axis": ("time (s)", "时间（秒）"),
        "w.flood.entries": ("entries", "条目数"),
        "w.flood.sentence": (
            "{connected} of {attempts} honest clients connected ({pct:.1f} %), {failed} gave up, "
            "{pending} still trying; the SYN queue peaked at {peak} (full once above {limit}); "
            "SYNs dropped with the queue full: {drops:,}, SYN cookies sent: {cookies:,}.",
            "{attempts} 个正常客户端中 {connected} 个已连接（{pct:.1f}%），{failed} 个放弃，"
            "{pending} 个仍在重试；SYN 队列最高 {peak}（超过 {limit} 即为满）；"
            "队列满时丢弃的 SYN：{drops:,}，发出的 SYN Cookie：{cookies:,}。",
        ),
        "w.flood.setup": (
            "Each run and each map cell: {duration:g} s of flood, {legit:g} honest connect() per second, "
            "{rtt:g} ms round trip, the Linux listener of tcpkit.drivers.flood.",
            "每次运行和相图的每个格子：{duration:g} 秒洪泛，每秒 {legit:g} 个正常 connect()，"
            "往返时延 {rtt:g} 毫秒，tcpkit.drivers.flood 的 Linux 监听模型。",
        ),
    }
)

#: Flood rates of the phase map (SYN/s), log-spaced from 100 to 10,000.
RATES: tuple[int, ...] = tuple(int(round(100 * 10 ** (2 * i / 9))) for i in range(10))
#: Backlogs of the phase map, log-spaced from 16 to 4096.
BACKLOGS: tuple[int, ...] = tuple(int(round(16 * 2 ** (8 * i / 9))) for i in range(10))
#: The counters shown, in ``nstat`` names (``netstat -s`` words in the notebook's table).
COUNTERS: tuple[str, ...] = (
    "TCPReqQFullDrop",
    "TCPReqQFullDoCookies",
    "SyncookiesSent",
    "ListenOverflows",
    "ListenDrops",
)


#: Red (no honest client gets in) to green (all do), as colour stops: plotly.js has no "RdYlGn" of its own.
_RED_YELLOW_GREEN: list[list[Any]] = [[float(v), c] for v, c in get_colorscale("RdYlGn")]


@dataclass(frozen=True)
class FloodRun:
    """What the lab draws from one run (whatever the flood model's own result type is)."""

    samples: tuple[tuple[float, int, int], ...]  # (time, SYN queue, accept queue)
    syn_limit: int
    accept_limit: int
    attempts: int
    connected: int
    failed: int
    pending: int
    counters: dict[str, int]

    @property
    def success(self) -> float:
        """Connected / attempts (1.0 when nobody tried)."""
        return self.connected / self.attempts if self.attempts else 1.0


# -- the adapter: the only two functions that call the flood model ------------------------------


def run_flood(
    *,
    flood_rate: float,
    backlog: int,
    tcp_synack_retries: int,
    tcp_syncookies: int,
    duration: float,
    legit_rate: float,
    rtt: float = 0.05,
) -> FloodRun:
    """One flood run through :func:`tcpkit.drivers.flood.simulate_flood`.

    >>> r = run_flood(flood_rate=2000, backlog=64, tcp_synack_retries=5, tcp_syncookies=0, duration=5, legit_rate=10)
    >>> r.syn_limit, max(s[1] for s in r.samples), r.attempts      # since Linux 6.13 backlog + 1 requests fit
    (64, 65, 50)
    """
    res = simulate_flood(
        duration=duration,
        flood_rate=flood_rate,
        legit_rate=legit_rate,
        backlog=backlog,
        rtt=rtt,
        sample_interval=max(duration / 120, 0.05),
        tcp_synack_retries=tcp_synack_retries,
        tcp_syncookies=tcp_syncookies,
    )
    return FloodRun(
        samples=tuple(res.samples),
        syn_limit=res.syn_limit,
        accept_limit=res.accept_limit,
        attempts=res.attempts,
        connected=res.connected,
        failed=res.failed,
        pending=res.pending,
        counters={k: int(res.counters.get(k, 0)) for k in COUNTERS},
    )


def phase_map(
    rates: Sequence[float],
    backlogs: Sequence[int],
    *,
    tcp_synack_retries: int,
    tcp_syncookies: int,
    duration: float,
    legit_rate: float,
    rtt: float = 0.05,
) -> list[list[float]]:
    """Honest-client success (0–1) for every backlog (rows) × flood rate (columns).

    Computed by :func:`tcpkit.drivers.flood.phase_map`.

    >>> grid = phase_map([100, 5000], [16, 1024], tcp_synack_retries=5, tcp_syncookies=0, duration=5, legit_rate=10)
    >>> [[round(v, 1) for v in row] for row in grid]
    [[0.0, 0.0], [1.0, 0.0]]
    """
    m = flood_phase_map(
        flood_rates=list(rates),
        backlogs=list(backlogs),
        duration=duration,
        legit_rate=legit_rate,
        rtt=rtt,
        tcp_synack_retries=tcp_synack_retries,
        tcp_syncookies=tcp_syncookies,
    )
    return [list(row) for row in m.success]


# -- the lab -----------------------------------------------------------------------------------------


class FloodLab(Lab):
    """Flood rate, backlog, ``tcp_synack_retries`` and ``tcp_syncookies``; one figure redrawn on every change.

    Parameters
    ----------
    duration : float
        Seconds of flood per run and per phase-map cell (default 10).
    legit_rate : float
        Honest ``connect()`` calls per second (default 20).
    rtt : float
        Round-trip time of every client, in seconds.
    **start
        Starting values of the controls (``flood_rate``, ``backlog``,
        ``tcp_synack_retries``, ``tcp_syncookies``).

    Attributes
    ----------
    run : FloodRun
        The run drawn now.
    grid_success : list of list of float
        The phase map drawn now (rows: :data:`BACKLOGS`, columns: :data:`RATES`).

    Notes
    -----
    The phase map depends only on ``tcp_syncookies`` and ``tcp_synack_retries``;
    it is computed once per pair and kept, so moving the rate or backlog only
    moves the marker.  Runs are kept per setting too (:meth:`Lab.cached`).  The listener rules are those of
    :func:`tcpkit.drivers.flood.simulate_flood` (Linux ``tcp_conn_request()``,
    ``net/ipv4/tcp_input.c``).
    """

    title_key = "w.flood.title"
    css_class = "tcpkit-lab-flood"
    picture_height = 490
    controls = (
        Control(
            "flood_rate",
            "w.flood.flood_rate",
            "int",
            2000,
            lo=100,
            hi=10000,
            step=100,
            unit="w.unit.syn_per_s",
            help="w.flood.flood_help",
        ),
        Control(
            "backlog",
            "w.flood.backlog",
            "int",
            128,
            lo=16,
            hi=4096,
            step=16,
            help="w.flood.backlog_help",
            allowed="1–4096",
        ),
        Control.knob("tcp_synack_retries", lo=0, hi=8),
        Control.knob(
            "tcp_syncookies",
            default=0,
            options=(("w.flood.cookies_0", 0), ("w.flood.cookies_1", 1), ("w.flood.cookies_2", 2)),
        ),
    )

    def __init__(self, *, duration: float = 10.0, legit_rate: float = 20.0, rtt: float = 0.05, **start: Any) -> None:
        for name, v, lo in (("duration", duration, 0.0), ("legit_rate", legit_rate, 0.0), ("rtt", rtt, 0.0)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= lo:
                raise ParameterError(name, v, "a number > 0")
        self.duration, self.legit_rate, self.rtt = float(duration), float(legit_rate), float(rtt)
        self._maps: dict[tuple[int, int], list[list[float]]] = {}
        self.run: FloodRun | None = None
        self.grid_success: list[list[float]] = []
        super().__init__(**start)

    def draw(self, *, flood_rate: int, backlog: int, tcp_synack_retries: int, tcp_syncookies: int, **_: Any) -> View:
        setup = {"duration": self.duration, "legit_rate": self.legit_rate, "rtt": self.rtt}
        run = self.cached(
            ("run", flood_rate, backlog, tcp_synack_retries, tcp_syncookies),
            lambda: run_flood(
                flood_rate=flood_rate,
                backlog=backlog,
                tcp_synack_retries=tcp_synack_retries,
                tcp_syncookies=tcp_syncookies,
                **setup,
            ),
        )
        key = (tcp_syncookies, tcp_synack_retries)
        if key not in self._maps:
            self._maps[key] = phase_map(
                RATES, BACKLOGS, tcp_synack_retries=tcp_synack_retries, tcp_syncookies=tcp_syncookies, **setup
            )
        self.run, self.grid_success = run, self._maps[key]
        fig = flood_spec(run, self.grid_success, flood_rate=flood_rate, backlog=backlog, cookies=tcp_syncookies)
        peak = max((s[1] for s in run.samples), default=0)
        sentence = tr(
            "w.flood.sentence",
            connected=run.connected,
            attempts=run.attempts,
            pct=100 * run.success,
            failed=run.failed,
            pending=run.pending,
            peak=peak,
            limit=run.syn_limit,
            drops=run.counters["TCPReqQFullDrop"],
            cookies=run.counters["SyncookiesSent"],
        )
        note = tr("w.flood.setup", duration=self.duration, legit=self.legit_rate, rtt=self.rtt * 1000)
        details = (
            counters_html(run) + f"<div style='color:#666;font-size:12px;margin-left:4px'>{html.escape(note)}</div>"
        )
        return View(fig, sentence, details)


@functools.lru_cache(maxsize=4)
def _skeleton(lang: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The flood figure's layout (as JSON) and where each panel's trace goes, for one language.

    make_subplots works out the panels' domains and axes once; every redraw then only
    fills in data, as plain dicts (validating a Figure costs more than the run it shows).
    """
    fig = make_subplots(
        rows=2,
        cols=2,
        column_widths=[0.56, 0.44],
        row_heights=[0.7, 0.3],
        specs=[[{"type": "xy"}, {"type": "xy", "rowspan": 2}], [{"type": "xy"}, None]],
        subplot_titles=(tr("w.flood.queues"), "{map}", tr("w.flood.clients")),
        horizontal_spacing=0.11,
        vertical_spacing=0.24,
    )
    fig.add_trace(go.Scatter(), row=1, col=1)
    fig.add_trace(go.Bar(), row=2, col=1)
    fig.add_trace(go.Heatmap(), row=1, col=2)
    fig.update_xaxes(range=[0, 1], row=2, col=1, showticklabels=False, showgrid=False)
    fig.update_yaxes(showticklabels=False, row=2, col=1)
    fig.update_xaxes(title={"text": tr("w.flood.rate_axis")}, type="category", row=1, col=2)
    fig.update_yaxes(title={"text": tr("w.flood.backlog_axis")}, type="category", row=1, col=2)
    fig.update_xaxes(title={"text": tr("w.flood.time_axis")}, row=1, col=1, gridcolor="#eee")
    fig.update_yaxes(title={"text": tr("w.flood.entries")}, row=1, col=1, gridcolor="#eee", rangemode="tozero")
    fig.update_layout(
        xaxis4={"overlaying": "x2", "range": [-0.5, len(RATES) - 0.5], "visible": False},
        yaxis4={"overlaying": "y2", "range": [-0.5, len(BACKLOGS) - 0.5], "visible": False},
        height=480,
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        plot_bgcolor="white",
        barmode="stack",
        legend={"orientation": "h", "x": 0, "y": -0.1, "yanchor": "top", "traceorder": "normal", "font": {"size": 12}},
        meta={"tcpkit": "flood_lab"},
    )
    d = fig.to_dict()
    queue, bar, heat = d["data"]
    refs = {
        "queue": {"xaxis": queue.get("xaxis", "x"), "yaxis": queue.get("yaxis", "y")},
        "bar": {"xaxis": bar["xaxis"], "yaxis": bar["yaxis"]},
        "map": {"xaxis": heat["xaxis"], "yaxis": heat["yaxis"]},
    }
    return json.dumps(d["layout"], cls=PlotlyJSONEncoder), refs


def flood_spec(
    run: FloodRun, grid: list[list[float]], *, flood_rate: float, backlog: int, cookies: int
) -> dict[str, Any]:
    """Queues, honest clients and the phase map as one plain Plotly dict (so they always agree).

    The counters are an HTML table beside it (:func:`counters_html`): a Plotly table
    costs the browser as much to redraw as the rest of the figure.
    """
    layout_json, refs = _skeleton(get_language())
    layout = json.loads(layout_json)
    for ann in layout.get("annotations", []):
        if ann.get("text") == "{map}":
            ann["text"] = tr("w.flood.map", c=cookies)
    layout["xaxis3"]["range"] = [0, max(run.attempts, 1)]
    t = [s[0] for s in run.samples]
    syn_name, acc_name = tr("viz.queue.syn"), tr("viz.queue.accept")
    data: list[dict[str, Any]] = []
    for name, ys, color in (
        (syn_name, [s[1] for s in run.samples], "#d62728"),
        (acc_name, [s[2] for s in run.samples], "#1f77b4"),
    ):
        data.append(
            {
                "type": "scatter",
                "x": t,
                "y": ys,
                "mode": "lines",
                "line": {"shape": "hv", "color": color, "width": 2},
                "name": name,
                **refs["queue"],
            }
        )
    if t:
        for limit, name, color in ((run.syn_limit, syn_name, "#d62728"), (run.accept_limit, acc_name, "#1f77b4")):
            data.append(
                {
                    "type": "scatter",
                    "x": [t[0], t[-1]],
                    "y": [limit, limit],
                    "mode": "lines",
                    "line": {"dash": "dash", "color": color, "width": 1},
                    "name": tr("viz.queue.limit", name=name),
                    "opacity": 0.7,
                    **refs["queue"],
                }
            )
    # honest clients: one stacked bar
    for label, n, color in (
        ("w.flood.connected", run.connected, "#2ca02c"),
        ("w.flood.gave_up", run.failed, "#d62728"),
        ("w.flood.trying", run.pending, "#ff9896"),
    ):
        data.append(
            {
                "type": "bar",
                "x": [n],
                "y": [""],
                "orientation": "h",
                "name": f"{tr(label)} {n}",
                "marker": {"color": color},
                "text": [f"{tr(label)} {n}" if n else ""],
                "textposition": "inside",
                "insidetextanchor": "middle",
                "showlegend": False,
                "hovertemplate": f"{tr(label)}: {n}<extra></extra>",
                **refs["bar"],
            }
        )
    data.append(
        {
            "type": "heatmap",
            "x": [str(r) for r in RATES],
            "y": [str(b) for b in BACKLOGS],
            "z": [[round(100 * v, 1) for v in row] for row in grid],
            "zmin": 0,
            "zmax": 100,
            "colorscale": _RED_YELLOW_GREEN,  # as stops: plotly.js itself knows no "RdYlGn" (it would draw RdBu)
            "colorbar": {"title": {"text": "%"}, "len": 0.8, "y": 0.5, "thickness": 12},
            "hovertemplate": f"{tr('w.flood.rate_axis')} %{{x}}<br>backlog %{{y}}<br>%{{z:.0f}} %<extra></extra>",
            "name": "",
            **refs["map"],
        }
    )
    # the current point, between the map's columns and rows (category axes: a fractional index)
    data.append(
        {
            "type": "scatter",
            "x": [_position(flood_rate, RATES)],
            "y": [_position(backlog, BACKLOGS)],
            "mode": "markers",
            "marker": {"symbol": "x-thin", "size": 16, "line": {"width": 3, "color": "black"}},
            "name": tr("w.flood.you"),
            "showlegend": False,
            "xaxis": "x4",
            "yaxis": "y4",
            "hovertemplate": f"{tr('w.flood.you')}: {flood_rate} SYN/s, backlog {backlog}<extra></extra>",
        }
    )
    return {"data": data, "layout": layout}


def counters_html(run: FloodRun) -> str:
    """The run's ``nstat`` counters as a small HTML table (escaped).

    >>> r = run_flood(flood_rate=2000, backlog=64, tcp_synack_retries=5, tcp_syncookies=1, duration=2, legit_rate=5)
    >>> "<td style='padding:1px 8px'>SyncookiesSent</td>" in counters_html(r)
    True
    """
    cell = "style='padding:1px 8px'"
    head = f"<tr><th {cell} align='left'>{html.escape(tr('w.flood.counter'))}</th>" + (
        f"<th {cell} align='right'>{html.escape(tr('w.flood.value'))}</th></tr>"
    )
    body = "".join(f"<tr><td {cell}>{k}</td><td {cell} align='right'>{run.counters[k]:,}</td></tr>" for k in COUNTERS)
    return f"<table class='tcpkit-flood-counters' style='font-size:12px;margin:2px 4px'>{head}{body}</table>"


def flood_figure(run: FloodRun, grid: list[list[float]], *, flood_rate: float, backlog: int, cookies: int) -> go.Figure:
    """:func:`flood_spec` as a validated Figure."""
    return go.Figure(flood_spec(run, grid, flood_rate=flood_rate, backlog=backlog, cookies=cookies))


def _position(value: float, axis: Sequence[float]) -> float:
    """Where ``value`` falls between the (log-spaced) categories of ``axis``, as a fractional index."""
    if value <= axis[0]:
        return 0.0
    if value >= axis[-1]:
        return float(len(axis) - 1)
    for i in range(len(axis) - 1):
        a, b = axis[i], axis[i + 1]
        if a <= value <= b:
            return i + (math.log(value) - math.log(a)) / (math.log(b) - math.log(a))
    return float(len(axis) - 1)
