"""The 11-state TCP diagram, drawn from the transition table.

:func:`state_graph` turns :data:`tcpkit.engine.states.TRANSITIONS` into a NetworkX
``MultiDiGraph`` (one edge per row, labelled ``"event / action"``).
:func:`state_graph_figure` draws it with Plotly in a fixed layout that echoes
RFC 9293 Figure 5: CLOSED at the top, LISTEN and the SYN states, ESTABLISHED in
the middle, the active close down the left, the passive close down the right
and TIME_WAIT at the bottom.  As in the RFC figure CLOSED is drawn twice: edges
from the lower half end in a second CLOSED box at the bottom right, so they do
not cross the picture.  Because the picture is generated from the table, it
cannot disagree with the engine.

Examples
--------
>>> g = state_graph()
>>> g.number_of_nodes(), g.number_of_edges() == len(TRANSITIONS)
(11, True)
>>> sorted({d["group"] for _, _, d in g.edges(data=True)}) == sorted(GROUPS)
True
>>> print(to_mermaid(groups=["client"]))
stateDiagram-v2
    CLOSED --> SYN_SENT : connect / SYN
    SYN_SENT --> ESTABLISHED : rcv SYN+ACK / ACK
    SYN_SENT --> CLOSED : close / -
>>> from tcpkit.viz.examples import example_trace
>>> fig = state_graph_figure(example_trace("lossy"))
>>> [a.text for a in fig.layout.annotations if a.name == "client|TIME_WAIT"]
['TIME_WAIT']
>>> [s.value for s in path_states(example_trace("lossy"), "client")][:3]
['CLOSED', 'SYN_SENT', 'ESTABLISHED']

Notes
-----
RFC 9293 §3.3.2 (Figure 5) is "only a summary"; the table in
:mod:`tcpkit.engine.states` adds the RST, timeout and abort edges with their
sections, which is what the hover text shows.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import networkx as nx
import plotly.graph_objects as go

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.states import STATES, TRANSITIONS, State, Transition
from tcpkit.engine.trace import StateChanged, Trace

from .labels import condition_text, event_text, note_text, state_description, state_name, tr

__all__ = [
    "path_shape",
    "GROUPS",
    "MAIN_GROUPS",
    "GROUP_COLORS",
    "LAYOUT",
    "state_graph",
    "state_graph_figure",
    "state_graph_spec",
    "highlight",
    "Highlighter",
    "path_transitions",
    "path_states",
    "to_mermaid",
    "to_dot",
    "edge_label",
    "label_places",
    "LABEL_AREA_PX",
]

#: Edge groups, in legend order (the ``group`` column of the table).
GROUPS: tuple[str, ...] = (
    "client",
    "server",
    "active_close",
    "passive_close",
    "simultaneous",
    "rst",
    "timeout",
    "abort",
)
#: The groups shown on a first look; the others start hidden (click the legend).
MAIN_GROUPS: tuple[str, ...] = GROUPS[:5]

GROUP_COLORS: dict[str, str] = {
    "client": "#1f77b4",
    "server": "#2ca02c",
    "active_close": "#9467bd",
    "passive_close": "#8c564b",
    "simultaneous": "#17becf",
    "rst": "#d62728",
    "timeout": "#ff7f0e",
    "abort": "#7f7f7f",
}

#: Host highlight colours, in order of hosts.
HOST_COLORS: tuple[str, ...] = ("#1f77b4", "#2ca02c", "#d62728", "#9467bd")

#: Fixed positions (x, y) echoing RFC 9293 Figure 5.
LAYOUT: dict[State, tuple[float, float]] = {
    State.CLOSED: (0.0, 6.2),
    State.LISTEN: (0.0, 5.0),
    State.SYN_RECEIVED: (-2.1, 4.0),
    State.SYN_SENT: (2.1, 4.0),
    State.ESTABLISHED: (0.0, 3.0),
    State.FIN_WAIT_1: (-2.1, 2.0),
    State.CLOSE_WAIT: (2.1, 2.0),
    State.CLOSING: (0.0, 1.2),
    State.FIN_WAIT_2: (-2.1, 0.6),
    State.LAST_ACK: (2.1, 0.6),
    State.TIME_WAIT: (-0.9, -0.5),
}
#: The second CLOSED box (bottom right), as in the RFC figure.
CLOSED_LOW: tuple[float, float] = (1.5, -0.5)
_UPPER = frozenset({State.CLOSED, State.LISTEN, State.SYN_SENT, State.SYN_RECEIVED})


def _check_groups(groups: Iterable[str] | None) -> tuple[str, ...]:
    if groups is None:
        return GROUPS
    out = tuple(groups)
    for g in out:
        if g not in GROUPS:
            raise ParameterError("groups", g, "edge groups among " + ", ".join(GROUPS))
    return out


def state_graph(groups: Iterable[str] | None = None) -> nx.MultiDiGraph:
    """The transition table as a NetworkX multigraph.

    Parameters
    ----------
    groups : iterable of str, optional
        Keep only edges of these groups (see :data:`GROUPS`); all by default.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes are the 11 :class:`State` values (attributes ``zh``,
        ``description``, ``pos``); each edge has ``label`` (``"event /
        action"``), ``group``, ``rfc``, ``note`` and the ``transition`` row.

    Examples
    --------
    >>> g = state_graph(groups=["rst"])
    >>> sorted({v.value for _, v in g.edges()})
    ['CLOSED', 'LISTEN']
    """
    keep = set(_check_groups(groups))
    g = nx.MultiDiGraph(name="TCP states (RFC 9293)")
    for s in STATES:
        g.add_node(s, zh=s.zh, description=s.description, pos=LAYOUT[s])
    for t in TRANSITIONS:
        if t.group in keep:
            g.add_edge(
                t.src,
                t.dst,
                key=(t.event.value, t.condition),
                label=t.label,
                group=t.group,
                rfc=t.rfc,
                note=t.note,
                send=t.send,
                transition=t,
            )
    return g


# --------------------------------------------------------------------------- geometry


def _node_pos(state: State, low: bool = False) -> tuple[float, float]:
    return CLOSED_LOW if (state is State.CLOSED and low) else LAYOUT[state]


def _end_points(t: Transition) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where an edge starts and ends (edges into CLOSED from below use the low box)."""
    low_dst = t.dst is State.CLOSED and t.src not in _UPPER
    low_src = t.src is State.CLOSED and t.dst not in _UPPER
    return _node_pos(t.src, low_src), _node_pos(t.dst, low_dst)


def _half_box(state: State) -> tuple[float, float]:
    return (0.04 * len(state.value) + 0.07, 0.2)


def _inside(p: tuple[float, float], c: tuple[float, float], half: tuple[float, float]) -> bool:
    return abs(p[0] - c[0]) <= half[0] and abs(p[1] - c[1]) <= half[1]


def _curve(
    a: tuple[float, float], b: tuple[float, float], nx_: float, ny_: float, off: float
) -> list[tuple[float, float]]:
    """41 points of the quadratic curve from ``a`` to ``b`` bent by ``off`` along the normal (nx_, ny_)."""
    cx = (a[0] + b[0]) / 2 + nx_ * off * 2
    cy = (a[1] + b[1]) / 2 + ny_ * off * 2
    return [
        (
            (1 - u) ** 2 * a[0] + 2 * (1 - u) * u * cx + u * u * b[0],
            (1 - u) ** 2 * a[1] + 2 * (1 - u) * u * cy + u * u * b[1],
        )
        for u in (i / 40 for i in range(41))
    ]


@lru_cache(maxsize=1)
def _geometry() -> dict[Transition, tuple[list[float], list[float], tuple[float, float]]]:
    """Each edge as a polyline (xs, ys) plus its label point, trimmed at the boxes."""
    pairs: dict[tuple[Any, Any], list[Transition]] = {}
    for t in TRANSITIONS:
        a, b = _end_points(t)
        pairs.setdefault((min(a, b), max(a, b)), []).append(t)
    out: dict[Transition, tuple[list[float], list[float], tuple[float, float]]] = {}
    boxes = [(LAYOUT[s_], _half_box(s_)) for s_ in STATES] + [(CLOSED_LOW, _half_box(State.CLOSED))]

    def others(a: tuple[float, float], b: tuple[float, float]) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        return [(c, h) for c, h in boxes if c != a and c != b]

    for (pa, _pb), rows in pairs.items():
        for k, t in enumerate(rows):
            a, b = _end_points(t)
            if a == b:  # self-loop: a small circle to the right of the box
                hx, hy = _half_box(t.src)
                cx, cy = a[0] + hx + 0.25, a[1]
                xs = [round(cx + 0.25 * math.cos(2 * math.pi * i / 24 + math.pi), 3) for i in range(21)]
                ys = [round(cy + 0.2 * math.sin(2 * math.pi * i / 24 + math.pi), 3) for i in range(21)]
                out[t] = (xs, ys, (cx + 0.25, cy))
                continue
            # spread parallel edges evenly (absolute offset, in data units)
            n = len(rows)
            off = (k - (n - 1) / 2) * min(0.42, 1.5 / n) if n > 1 else 0.0
            sign = 1.0 if a == pa else -1.0
            dx, dy = b[0] - a[0], b[1] - a[1]
            length = math.hypot(dx, dy)
            nx_, ny_ = -dy / length * sign, dx / length * sign
            ha, hb = _half_box(t.src), _half_box(t.dst)
            # an edge that would pass behind a third state's box bends around it
            bends = (0.0, 0.3, -0.3, 0.5, -0.5, 0.7, -0.7) if n == 1 else (0.0,)
            for bend in bends:
                pts = _curve(a, b, nx_, ny_, off + bend)
                inner = [p for p in pts if not _inside(p, a, ha) and not _inside(p, b, hb)]
                if not any(_inside(p, c, (h[0] + 0.05, h[1] + 0.05)) for p in inner for c, h in others(a, b)):
                    break
            pts = inner or pts[19:22]
            mid = pts[len(pts) // 2]
            # every other point is smooth enough on screen; 3 decimals is far below a pixel (keeps the JSON small)
            keep = pts[::2] if len(pts) % 2 else [*pts[::2], pts[-1]]
            out[t] = ([round(p[0], 3) for p in keep], [round(p[1], 3) for p in keep], mid)
    return out


#: The plot area (width, height in px) edge labels are placed for: the diagram at a notebook's
#: default width.  A wider plot only leaves more room between them.
LABEL_AREA_PX: tuple[float, float] = (860.0, 470.0)
_X_RANGE: tuple[float, float] = (-3.3, 3.6)
_Y_RANGE: tuple[float, float] = (-0.95, 6.6)
_LABEL_FONT_PX = 9.5
_CHAR_PX = 5.6  # width of one character of the label font (Plotly's sans-serif at 9.5 px), generous
_FRACTIONS = (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.2, 0.8)
_POSITIONS = ("middle right", "middle left", "top center", "bottom center")


def edge_label(t: Transition) -> str:
    """The text written on an edge: ``event / what is sent``, in the current language.

    >>> edge_label(TRANSITIONS[0])
    'listen / -'
    """
    return f"{event_text(t.event)} / {t.send or '-'}"


def _text_px(text: str) -> float:
    """Rough width of ``text`` in the label font (a CJK character is about two Latin ones)."""
    return sum(2.0 if ord(ch) > 0x2E80 else 1.0 for ch in text) * _CHAR_PX


def _label_box(x: float, y: float, pos: str, text: str) -> tuple[float, float, float, float]:
    """The box (x0, x1, y0, y1), in data units, that ``text`` takes at ``pos`` around point (x, y)."""
    px = LABEL_AREA_PX[0] / (_X_RANGE[1] - _X_RANGE[0])
    py = LABEL_AREA_PX[1] / (_Y_RANGE[1] - _Y_RANGE[0])
    w, h, gap = _text_px(text) / px, (_LABEL_FONT_PX + 4) / py, 6.0
    if pos == "middle right":
        return (x + gap / px, x + gap / px + w, y - h / 2, y + h / 2)
    if pos == "middle left":
        return (x - gap / px - w, x - gap / px, y - h / 2, y + h / 2)
    if pos == "top center":
        return (x - w / 2, x + w / 2, y + gap / py, y + gap / py + h)
    return (x - w / 2, x + w / 2, y - gap / py - h, y - gap / py)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def label_places(labelled: tuple[Transition, ...]) -> dict[Transition, tuple[float, float, str]]:
    """Where each labelled edge's dot and text go: ``(x, y, textposition)``, with no two labels overlapping.

    Each label is tried at points along its edge and on the four sides of that
    point, in order, and takes the first place that overlaps no state box, no
    label placed before it and as few edge lines as possible, for a plot area of
    :data:`LABEL_AREA_PX`.

    Examples
    --------
    >>> rows = tuple(t for t in TRANSITIONS if t.group in MAIN_GROUPS)
    >>> places = label_places(rows)
    >>> boxes = [_label_box(*places[t], edge_label(t)) for t in rows]
    >>> any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    False
    """
    return _places(labelled, tuple(edge_label(t) for t in labelled))


@lru_cache(maxsize=32)
def _places(labelled: tuple[Transition, ...], texts: tuple[str, ...]) -> dict[Transition, tuple[float, float, str]]:
    geo = _geometry()
    nodes = []
    for st, (cx, cy) in [*[(s, LAYOUT[s]) for s in STATES], (State.CLOSED, CLOSED_LOW)]:
        hx, hy = _half_box(st)
        nodes.append((cx - hx - 0.03, cx + hx + 0.03, cy - hy - 0.03, cy + hy + 0.03))
    line_pts = [(x, y) for t in TRANSITIONS for x, y in zip(geo[t][0], geo[t][1], strict=True)]
    placed: list[tuple[float, float, float, float]] = []
    out: dict[Transition, tuple[float, float, str]] = {}
    for t, text in zip(labelled, texts, strict=True):
        xs, ys, _ = geo[t]
        best: tuple[float, float, float, str, tuple[float, float, float, float]] | None = None
        for k, frac in enumerate(_FRACTIONS):
            i = min(len(xs) - 1, max(0, round(frac * (len(xs) - 1))))
            x, y = xs[i], ys[i]
            for j, pos in enumerate(_POSITIONS):
                box = _label_box(x, y, pos, text)
                hard = sum(_overlap(box, n) for n in nodes) + sum(_overlap(box, b) for b in placed)
                outside = box[0] < _X_RANGE[0] or box[1] > _X_RANGE[1] or box[2] < _Y_RANGE[0] or box[3] > _Y_RANGE[1]
                lines = sum(box[0] <= px_ <= box[1] and box[2] <= py_ <= box[3] for px_, py_ in line_pts)
                score = 1000.0 * (hard + outside) + lines + 0.3 * k + 0.1 * j
                if best is None or score < best[0]:
                    best = (score, x, y, pos, box)
        assert best is not None
        out[t] = (best[1], best[2], best[3])
        placed.append(best[4])
    return out


# --------------------------------------------------------------------------- trace paths


def path_transitions(trace: Trace, host: str, upto: int | None = None) -> list[Transition]:
    """The table rows a host's STATE records went through, in order.

    Parameters
    ----------
    trace : Trace
    host : str
    upto : int, optional
        Only records with index ``<= upto``.

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> [t.group for t in path_transitions(example_trace("lossy"), "client")][:2]
    ['client', 'client']
    """
    recs = trace if upto is None else trace[: upto + 1]
    return [r.row for r in recs.state_changes(host)]


def path_states(trace: Trace, host: str, upto: int | None = None) -> list[State]:
    """The states a host went through (the first ``src`` then every ``dst``)."""
    recs = trace if upto is None else trace[: upto + 1]
    return [s for _, s in recs.states(host)]


def state_hosts(trace: Trace) -> list[str]:
    """Hosts that have STATE records, in order of appearance (client before server)."""
    seen: dict[str, None] = {}
    for r in trace.state_changes():
        seen.setdefault(r.host, None)
    hosts = list(seen)
    order = {"client": 0, "server": 1}
    return sorted(hosts, key=lambda h: (order.get(h, 2), hosts.index(h)))


# --------------------------------------------------------------------------- figure


def _host_label(host: str) -> str:
    return tr(host) if host in ("client", "server", "attacker") else host


def _edge_hover(t: Transition) -> str:
    cond = f" [{condition_text(t.condition)}]" if t.condition else ""
    send = t.send or tr("viz.edge.nothing")
    return (
        f"<b>{state_name(t.src)} → {state_name(t.dst)}</b><br>{event_text(t.event)}{cond} / {send}"
        f"<br>{note_text(t.note)}<br><i>{t.rfc}</i>"
    )


def state_graph_figure(
    trace: Trace | None = None,
    *,
    hosts: Sequence[str] | None = None,
    upto: int | None = None,
    current: dict[str, State | str] | None = None,
    groups: Iterable[str] | None = None,
    hidden: Iterable[str] = ("rst", "timeout", "abort"),
    edge_labels: bool | None = None,
    height: int = 560,
    focus: State | str | None = None,
) -> go.Figure:
    """Draw the state diagram, optionally with a trace's path and current state per host.

    Parameters
    ----------
    trace : Trace, optional
        Highlight the path each host took (up to record ``upto``).
    hosts : sequence of str, optional
        One panel per host, side by side; default: the hosts that have STATE
        records (client first), or one plain panel without a trace.
    upto : int, optional
        Index of the last record to take into account (the player's cursor).
    current : dict, optional
        ``host -> state`` to highlight instead of the trace's current state.
    groups : iterable of str, optional
        Edge groups to draw at all (default: all of :data:`GROUPS`).
    hidden : iterable of str
        Groups drawn but hidden at first ("legendonly": click the legend to
        show them).  Pass ``()`` to show every group.
    edge_labels : bool, optional
        Write ``event / action`` on the edges of the visible groups, placed so
        that no two labels overlap at a notebook's default width (see
        :func:`label_places`).  Default: on for one panel, off for several (a
        panel half as wide has no room for them; hovering an edge's dot still
        shows its label and RFC section).
    height : int
        Figure height in pixels.
    focus : State, optional
        Draw the ways out of this state: its outgoing edges bold and labelled
        (every group), every other edge faint and unlabelled, its box filled.

    Returns
    -------
    plotly.graph_objects.Figure
        Hover a box for the state's meaning, an edge's dot for its RFC
        section; in English or Chinese after :func:`tcpkit.set_language`.

    Examples
    --------
    >>> fig = state_graph_figure(groups=MAIN_GROUPS, hidden=())
    >>> sorted({d.legendgroup for d in fig.data if d.legendgroup}) == sorted(MAIN_GROUPS)
    True
    >>> state_graph_figure(groups=["rst", "bogus"])
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter groups = 'bogus' is not allowed: expected edge groups among ...
    """
    spec = state_graph_spec(
        trace, hosts=hosts, groups=groups, hidden=hidden, edge_labels=edge_labels, height=height, focus=focus
    )
    fig = go.Figure(spec)
    if trace is not None or current:
        highlight(fig, trace, upto=upto, current=current)
    return fig


def state_graph_spec(
    trace: Trace | None = None,
    *,
    hosts: Sequence[str] | None = None,
    groups: Iterable[str] | None = None,
    hidden: Iterable[str] = ("rst", "timeout", "abort"),
    edge_labels: bool | None = None,
    height: int = 560,
    focus: State | str | None = None,
) -> dict[str, Any]:
    """The diagram of :func:`state_graph_figure` as a plain Plotly dict (no highlight), built without validation.

    What a widget redraws many times: validating a Figure of the diagram costs more than drawing it.

    >>> spec = state_graph_spec(focus="LISTEN")
    >>> sorted(spec), spec["layout"]["meta"]["tcpkit"]
    (['data', 'layout'], 'state_graph')
    """
    groups_t = _check_groups(groups)
    hidden_s = set(_check_groups(hidden))
    focus_st = None if focus is None else State.parse(focus, "focus")
    if focus_st is not None:
        hidden_s = set()
    if hosts is None:
        hosts = state_hosts(trace) if trace is not None else []
    panels = list(hosts) or [""]
    if edge_labels is None:
        edge_labels = len(panels) == 1
    # built as plain dicts and validated once: much faster than add_trace/add_annotation
    data: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    layout: dict[str, Any] = {}
    geo = _geometry()
    if focus_st is not None:
        labelled = tuple(t for t in TRANSITIONS if t.src is focus_st and t.group in groups_t)
    else:
        labelled = tuple(t for t in TRANSITIONS if t.group in groups_t and t.group not in hidden_s)
    places = label_places(labelled) if edge_labels else {}
    labelled_s = set(labelled)
    gap = 0.03
    width = (1 - gap * (len(panels) - 1)) / len(panels)
    node_xy = [LAYOUT[s] for s in STATES] + [CLOSED_LOW]
    node_states = [*STATES, State.CLOSED]
    for col, host in enumerate(panels, start=1):
        xa, ya = ("x", "y") if col == 1 else (f"x{col}", f"y{col}")
        x0 = (col - 1) * (width + gap)
        layout["xaxis" if col == 1 else f"xaxis{col}"] = {
            "domain": [x0, x0 + width],
            "visible": False,
            "range": list(_X_RANGE),
            "anchor": ya,
        }
        layout["yaxis" if col == 1 else f"yaxis{col}"] = {"visible": False, "range": list(_Y_RANGE), "anchor": xa}
        if hosts:
            annotations.append(
                {
                    "text": _host_label(host),
                    "x": x0 + width / 2,
                    "y": 1.0,
                    "xref": "paper",
                    "yref": "paper",
                    "xanchor": "center",
                    "yanchor": "bottom",
                    "showarrow": False,
                    "font": {"size": 15},
                }
            )
        for group in groups_t:
            rows = [t for t in TRANSITIONS if t.group == group]
            xs: list[float | None] = []
            ys: list[float | None] = []
            sizes: list[int] = []
            for t in rows:
                gx, gy, _ = geo[t]
                xs += [*gx, None]
                ys += [*gy, None]
                sizes += [0] * (len(gx) - 1) + [11, 0]
            vis: bool | str = "legendonly" if group in hidden_s else True
            color = GROUP_COLORS[group]
            data.append(
                {
                    "type": "scatter",
                    "x": xs,
                    "y": ys,
                    "xaxis": xa,
                    "yaxis": ya,
                    "mode": "lines+markers",
                    "line": {"color": color, "width": 1.6},
                    "marker": {"symbol": "arrow", "angleref": "previous", "size": sizes, "color": color},
                    "name": tr(f"viz.group.{group}"),
                    "legendgroup": group,
                    "showlegend": col == 1,
                    "visible": vis,
                    "hoverinfo": "skip",
                    "opacity": 0.2 if focus_st is not None else 1.0,
                }
            )
            if focus_st is not None:
                rows = [t for t in rows if t in labelled_s]
                if not rows:
                    continue
                xs, ys, sizes = [], [], []
                for t in rows:
                    gx, gy, _ = geo[t]
                    xs += [*gx, None]
                    ys += [*gy, None]
                    sizes += [0] * (len(gx) - 1) + [13, 0]
                data.append(
                    {
                        "type": "scatter",
                        "x": xs,
                        "y": ys,
                        "xaxis": xa,
                        "yaxis": ya,
                        "mode": "lines+markers",
                        "line": {"color": color, "width": 3},
                        "marker": {"symbol": "arrow", "angleref": "previous", "size": sizes, "color": color},
                        "name": tr(f"viz.group.{group}"),
                        "legendgroup": group,
                        "showlegend": False,
                        "hoverinfo": "skip",
                    }
                )
            show_text = edge_labels and group not in hidden_s
            mids = [places[t] if t in places else (*geo[t][2], "middle right") for t in rows]
            data.append(
                {
                    "type": "scatter",
                    "x": [m[0] for m in mids],
                    "y": [m[1] for m in mids],
                    "xaxis": xa,
                    "yaxis": ya,
                    "mode": "markers+text" if show_text else "markers",
                    "text": [edge_label(t) for t in rows] if show_text else None,
                    "textfont": {"size": _LABEL_FONT_PX, "color": color},
                    "textposition": [m[2] for m in mids],
                    "marker": {"size": 7, "color": color},
                    "hovertext": [_edge_hover(t) for t in rows],
                    "hoverinfo": "text",
                    "name": tr(f"viz.group.{group}"),
                    "legendgroup": group,
                    "showlegend": False,
                    "visible": vis,
                }
            )
        # the path a host took (filled in by highlight()): a layout shape, cheap to redraw
        hc = HOST_COLORS[(col - 1) % len(HOST_COLORS)]
        shapes.append(
            {
                "type": "path",
                "name": f"_path:{host}",
                "xref": xa,
                "yref": ya,
                "path": "M 0,0",
                "line": {"color": hc, "width": 7},
                "opacity": 0.35,
                "visible": False,
                "layer": "below",
            }
        )
        # nodes: hover targets + boxes
        data.append(
            {
                "type": "scatter",
                "x": [p[0] for p in node_xy],
                "y": [p[1] for p in node_xy],
                "xaxis": xa,
                "yaxis": ya,
                "mode": "markers",
                "marker": {"size": 26, "color": "rgba(0,0,0,0)", "symbol": "square"},
                "hovertext": [f"<b>{s.value} {s.zh}</b><br>{state_description(s)}" for s in node_states],
                "hoverinfo": "text",
                "name": f"_nodes:{host}",
                "showlegend": False,
            }
        )
        for s, (x, y) in zip(node_states, node_xy, strict=True):
            annotations.append(
                {
                    "x": x,
                    "y": y,
                    "xref": xa,
                    "yref": ya,
                    "text": s.value,
                    "showarrow": False,
                    "name": f"{host}|{s.value}",
                    "font": {"size": 11, "family": "monospace"},
                    "bgcolor": "#ffd54f" if s is focus_st else "white",
                    "bordercolor": "#444",
                    "borderwidth": 2 if s is focus_st else 1,
                    "borderpad": 3,
                    "hovertext": s.zh,
                }
            )
    layout.update(
        title={"text": tr("viz.graph.title"), "x": 0.01},
        annotations=annotations,
        shapes=shapes,
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.02, "x": 0.0, "font": {"size": 11}},
        hovermode="closest",
        meta={"tcpkit": "state_graph", "hosts": list(panels)},
    )
    return {"data": data, "layout": layout}


def highlight(
    fig: go.Figure, trace: Trace | None, *, upto: int | None = None, current: dict[str, State | str] | None = None
) -> None:
    """Update a state-graph figure in place: each host's path and current state.

    Works on a :class:`plotly.graph_objects.FigureWidget` too; wrap the call
    in ``fig.batch_update()`` to send one message to the browser.  To move
    through a trace step by step, keep one :class:`Highlighter` instead.

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> t = example_trace("lossy")
    >>> fig = state_graph_figure(t, upto=8)
    >>> [a.name for a in fig.layout.annotations if a.bgcolor not in ("white", None)]
    ['client|SYN_SENT', 'server|SYN_RECEIVED']
    """
    Highlighter(fig, trace).apply(fig, upto, current=current)


class Highlighter:
    """Moves a state graph's highlight along a trace, touching only what changed.

    Parameters
    ----------
    fig : Figure or FigureWidget
        Made by :func:`state_graph_figure`.
    trace : Trace or None

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> t = example_trace("lossy")
    >>> fig = state_graph_figure(t)
    >>> h = Highlighter(fig, t)
    >>> h.apply(fig, 3)
    >>> h.current
    {'client': <State.SYN_SENT: 'SYN_SENT'>, 'server': <State.LISTEN: 'LISTEN'>}
    """

    def __init__(self, fig: go.Figure, trace: Trace | None) -> None:
        self.hosts: list[str] = list((fig.layout.meta or {}).get("hosts", []))
        self.path_index: dict[str, int] = {}
        for i, sh in enumerate(fig.layout.shapes):
            if sh.name and sh.name.startswith("_path:"):
                self.path_index[sh.name[6:]] = i
        self.ann_index: dict[tuple[str, str], list[int]] = {}
        for i, a in enumerate(fig.layout.annotations):
            if a.name and "|" in a.name:
                host, st = a.name.split("|", 1)
                self.ann_index.setdefault((host, st), []).append(i)
        geo = _geometry()
        # per host: record indices of STATE records, the row taken and the state reached
        self.steps: dict[str, list[tuple[int, Transition, State, State]]] = {}
        for host in self.hosts:
            steps: list[tuple[int, Transition, State, State]] = []
            if trace is not None and host:
                for i, r in enumerate(trace.records):
                    if isinstance(r, StateChanged) and r.host == host:
                        steps.append((i, r.row, r.src, r.dst))
            self.steps[host] = steps
        self._geo = geo
        self._shown_k: dict[str, int] = {}
        self._shown_state: dict[str, State | None] = {}
        self.current: dict[str, State | None] = {}
        self._colors = {h: HOST_COLORS[i % len(HOST_COLORS)] for i, h in enumerate(self.hosts)}

    def apply(self, fig: go.Figure, upto: int | None, *, current: dict[str, State | str] | None = None) -> None:
        """Show the paths up to record ``upto`` (all records when ``None``)."""
        for host in self.hosts:
            steps = self.steps.get(host, [])
            k = len(steps) if upto is None else bisect.bisect_right([s[0] for s in steps], upto)
            cur: State | None
            if current and host in current:
                cur = State.parse(current[host], "current")
            elif k:
                cur = steps[k - 1][3]
            else:
                cur = None
            self.current[host] = cur
            if self._shown_k.get(host) != k and host in self.path_index:
                parts = []
                for _, row, _, _ in steps[:k]:
                    if row is not None:
                        gx, gy, _ = self._geo[row]
                        parts.append("M " + " L ".join(f"{x:.3f},{y:.3f}" for x, y in zip(gx, gy, strict=True)))
                sh = fig.layout.shapes[self.path_index[host]]
                if parts:
                    sh.path = " ".join(parts)
                    sh.visible = True
                elif sh.visible:
                    sh.visible = False
                self._shown_k[host] = k
            before = self._shown_state.get(host, "unset")
            if before != cur:
                # set each box once, to its final colour: inside a FigureWidget batch an
                # intermediate value would be the one sent to the browser
                anns = fig.layout.annotations
                lit = set(self.ann_index.get((host, cur.value), [])) if cur is not None else set()
                if isinstance(before, State):
                    touch = set(self.ann_index.get((host, before.value), [])) | lit
                else:
                    touch = {i for (h, _), idxs in self.ann_index.items() if h == host for i in idxs}
                for idx in sorted(touch):
                    bg, fg = (self._colors[host], "white") if idx in lit else ("white", "#222")
                    if anns[idx].bgcolor != bg:
                        anns[idx].bgcolor = bg
                        anns[idx].font.color = fg
                self._shown_state[host] = cur


def path_shape(fig: go.Figure, host: str) -> str:
    """The SVG path of the highlighted route of ``host`` (``""`` when nothing is highlighted).

    >>> from tcpkit.viz.examples import example_trace
    >>> path_shape(state_graph_figure(example_trace("lossy"), upto=3), "client").count("M ")
    1
    """
    for sh in fig.layout.shapes:
        if sh.name == f"_path:{host}":
            return str(sh.path) if sh.visible else ""
    return ""


# --------------------------------------------------------------------------- text exports


def to_mermaid(groups: Iterable[str] | None = None, current: State | str | None = None) -> str:
    """The diagram as a Mermaid ``stateDiagram-v2`` (paste into Markdown).

    Parameters
    ----------
    groups : iterable of str, optional
        Edge groups to include (all by default).
    current : State, optional
        A state to mark with the ``current`` class.

    Examples
    --------
    >>> text = to_mermaid(current=State.LISTEN)
    >>> text.splitlines()[-2:]
    ['    classDef current fill:#ffd54f,stroke:#333,stroke-width:2px', '    class LISTEN current']
    """
    keep = set(_check_groups(groups))
    lines = ["stateDiagram-v2"]
    for t in TRANSITIONS:
        if t.group in keep:
            lines.append(f"    {t.src.value} --> {t.dst.value} : {t.label.replace(';', ',').replace(':', ' ')}")
    cur = None if current is None else State.parse(current, "current")
    if cur is not None:
        lines.append("    classDef current fill:#ffd54f,stroke:#333,stroke-width:2px")
        lines.append(f"    class {cur.value} current")
    return "\n".join(lines)


def to_dot(groups: Iterable[str] | None = None, current: State | str | None = None) -> str:
    """The diagram in Graphviz DOT, edges coloured by group.

    Examples
    --------
    >>> dot = to_dot(groups=["passive_close"], current="CLOSE_WAIT")
    >>> dot.splitlines()[0], "CLOSE_WAIT [" in dot, dot.count("->")
    ('digraph tcp_states {', True, 4)
    >>> '"ESTABLISHED" -> "CLOSE_WAIT" [label="rcv FIN / ACK"' in dot
    True
    """
    keep = set(_check_groups(groups))
    cur = None if current is None else State.parse(current, "current")

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["digraph tcp_states {", "    rankdir=TB;", "    node [shape=box, fontname=monospace];"]
    for s in STATES:
        style = ', style=filled, fillcolor="#ffd54f"' if s is cur else ""
        lines.append(f"    {s.value} [label={q(s.value)}, tooltip={q(s.zh + ': ' + s.description)}{style}];")
    for t in TRANSITIONS:
        if t.group in keep:
            lines.append(
                f"    {q(t.src.value)} -> {q(t.dst.value)} [label={q(t.label)}, color={q(GROUP_COLORS[t.group])}, "
                f"tooltip={q(t.rfc)}];"
            )
    lines.append("}")
    return "\n".join(lines)
