"""The trace player: step through a trace, with the ladder and the state graph moving together.

Examples
--------
>>> from tcpkit.viz import example_trace
>>> p = TracePlayer(example_trace("lossy"))
>>> p.index
0
>>> p.step(); p.step(); p.index
2
>>> p.on_step_clicked(None); p.index     # what the "step" button does
3
>>> "CLOSED → SYN_SENT" in p.text.value
True
>>> p.back(); p.index
2
>>> "connect(10.0.0.2:80)" in p.text.value
True
"""

from __future__ import annotations

import bisect
from typing import Any

import ipywidgets as W
import plotly.graph_objects as go

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.trace import (
    CallMade,
    CounterChanged,
    HostRestarted,
    Kind,
    Note,
    QueueChanged,
    StateChanged,
    TimerCancelled,
    TimerFired,
    TimerSet,
    Trace,
    TraceRecord,
)
from tcpkit.i18n import register
from tcpkit.viz.graph import Highlighter, state_graph_figure
from tcpkit.viz.labels import event_text, note_text, record_note_text, state_name, tr
from tcpkit.viz.ladder import MAX_SEGMENTS, LadderView, ladder_pages

from ._base import TcpkitWidget, figure_widget, replace_figure
from .cursor import STACK_CLASS, LadderCursor
from .flagkey import FlagKey

__all__ = ["TracePlayer", "describe_record"]

register(
    {
        "w.rec.call": ("{host} calls {call} → {result}", "{host}调用 {call} → {result}"),
        "w.rec.timer_set": (
            "{host} sets timer {timer} for t = {at:.3f} s",
            "{host}设置定时器 {timer}，于 t = {at:.3f} 秒到期",
        ),
        "w.rec.timer_fire": ("{host}: timer {timer} fires", "{host}：定时器 {timer} 到期"),
        "w.rec.timer_cancel": ("{host} cancels timer {timer}", "{host}取消定时器 {timer}"),
        "w.rec.queue": (
            "{host}: SYN queue {syn}/{syn_limit}, accept queue {acc}/{acc_limit}",
            "{host}：SYN 队列（半连接队列）{syn}/{syn_limit}，全连接队列 {acc}/{acc_limit}",
        ),
        "w.rec.counter": ("{host}: counter {name} = {value}", "{host}：计数器 {name} = {value}"),
        "w.rec.other": ("{host}: {text}", "{host}：{text}"),
        "w.rec.restart": (
            "{host} crashed and restarted: every connection it had is forgotten (CLOSED), nothing is sent",
            "{host} 崩溃并重启：它的所有连接都被遗忘（CLOSED），什么也没有发送",
        ),
    }
)

SPEEDS: tuple[tuple[str, int], ...] = (("0.5×", 1200), ("1×", 600), ("2×", 300), ("4×", 150))
_KIND_KEY = {Kind.SEND: "sent", Kind.RECV: "received", Kind.DROP: "dropped"}


def describe_record(r: TraceRecord) -> str:
    """A record in words, in the current language (HTML-safe text).

    >>> from tcpkit.viz import example_trace
    >>> describe_record(example_trace("lossy")[0])
    'server: CLOSED → LISTEN (listen) — create the TCB and wait for a SYN [RFC 9293 §3.10.1 (OPEN, passive)]'
    """
    host = tr(r.host) if r.host in ("client", "server", "attacker") else r.host
    if isinstance(r, StateChanged):
        note = " — " + note_text(r.row.note) if r.row.note else ""
        move = f"{state_name(r.src)} → {state_name(r.dst)}"
        return f"{host}: {move} ({event_text(r.event)}){note} [{r.rfc}]"
    if r.kind in _KIND_KEY:
        return f"{host} {tr(_KIND_KEY[r.kind])}: {r.describe()}"
    if isinstance(r, CallMade):
        return tr("w.rec.call", host=host, call=r.call, result=r.result)
    if isinstance(r, TimerSet):
        return tr("w.rec.timer_set", host=host, timer=r.timer, at=r.deadline)
    if isinstance(r, TimerFired):
        return tr("w.rec.timer_fire", host=host, timer=r.timer)
    if isinstance(r, TimerCancelled):
        return tr("w.rec.timer_cancel", host=host, timer=r.timer)
    if isinstance(r, QueueChanged):
        return tr(
            "w.rec.queue",
            host=host,
            syn=r.syn_queue,
            acc=r.accept_queue,
            syn_limit="?" if r.syn_limit is None else r.syn_limit,
            acc_limit="?" if r.accept_limit is None else r.accept_limit,
        )
    if isinstance(r, CounterChanged):
        return tr("w.rec.counter", host=host, name=r.name, value=r.value)
    if isinstance(r, Note):
        return tr("w.rec.other", host=host, text=record_note_text(r.text))
    if isinstance(r, HostRestarted):
        return tr("w.rec.restart", host=host)
    return tr("w.rec.other", host=host, text=r.describe())


def _check_start(start: object, n: int) -> None:
    """``start`` must be a record index of a trace of ``n`` records (0 for an empty trace)."""
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= max(n - 1, 0):
        raise ParameterError("start", start, f"a record index from 0 to {max(n - 1, 0)}")


class TracePlayer(TcpkitWidget):
    """Step through a trace; the ladder cursor and the graph highlight move together.

    Parameters
    ----------
    trace : Trace
    relative : bool
        Relative sequence numbers on the ladder (default).
    start : int
        The record shown first.
    graph, ladder : bool
        Which pictures to show.
    max_segments : int or None
        The ladder draws at most this many segment records at a time (default
        100, see :data:`tcpkit.viz.ladder.MAX_SEGMENTS`) and turns the page when the cursor leaves them; ``None``: all.
    overlay : bool
        Draw the ladder's cursor with a small overlay widget that moves
        without re-rendering the ladder (default); ``False`` moves Plotly
        layout shapes instead (slower in the browser, no custom JavaScript).

    Attributes
    ----------
    widget : ipywidgets.VBox
        What the notebook displays (the player displays itself too).
    ladder_fig, graph_fig : plotly.graph_objects.FigureWidget
    cursor : LadderCursor
        The ladder's cursor overlay (``cursor.y`` is where the cursor is).
    slider, play, speed, back_button, step_button, text : the controls.

    Notes
    -----
    Play/pause is an ``ipywidgets.Play`` linked to the slider in the browser:
    the browser keeps time, the kernel only reacts to the new index, so the
    Python side never reads a clock.  A step sends the ladder cursor (five
    numbers, to :class:`~tcpkit.widgets.cursor.LadderCursor`), the text, and
    one ``batch_update`` of the state graph; the ladder figure itself is
    only re-sent when the trace changes or the cursor leaves the drawn page.
    """

    def __init__(
        self,
        trace: Trace,
        *,
        relative: bool = True,
        start: int = 0,
        graph: bool = True,
        ladder: bool = True,
        max_segments: int | None = MAX_SEGMENTS,
        overlay: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(trace, Trace):
            raise ParameterError("trace", type(trace).__name__, "a tcpkit.engine.trace.Trace")
        _check_start(start, len(trace))
        if max_segments is not None and (
            isinstance(max_segments, bool) or not isinstance(max_segments, int) or max_segments < 1
        ):
            raise ParameterError("max_segments", max_segments, "an integer >= 1, or None for all")
        self.relative = relative
        self.show_graph, self.show_ladder = graph, ladder
        self.max_segments = max_segments
        self.overlay = overlay
        self._pages = [0]
        self._view: LadderView | None = None
        self._syncing = False
        self.ladder_fig = figure_widget()
        self.cursor = LadderCursor()
        self.graph_fig = figure_widget()
        self.slider = W.IntSlider(
            min=0, max=0, value=0, continuous_update=True, readout=True, layout=W.Layout(width="320px")
        )
        self.play = W.Play(min=0, max=0, value=0, interval=SPEEDS[1][1], step=1)
        W.jslink((self.play, "value"), (self.slider, "value"))
        self.speed = W.Dropdown(options=SPEEDS, value=SPEEDS[1][1], layout=W.Layout(width="150px"))
        self.back_button = W.Button(icon="", layout=W.Layout(width="90px"))
        self.step_button = W.Button(icon="", button_style="primary", layout=W.Layout(width="90px"))
        self.back_button.add_class("tcpkit-back")
        self.step_button.add_class("tcpkit-step")
        self.text = W.HTML()
        self.back_button.on_click(self.on_back_clicked)
        self.step_button.on_click(self.on_step_clicked)
        self.slider.observe(self._on_slider, names="value")
        self.speed.observe(self._on_speed, names="value")
        figs: list[Any] = []
        if graph:
            figs.append(self.graph_fig)
        if ladder:
            stack = W.VBox([self.ladder_fig, self.cursor] if overlay else [self.ladder_fig])
            stack.add_class(STACK_CLASS)
            figs.append(stack)
        self.key = FlagKey()  # what the letters on the ladder's arrows mean
        key = [self.key.widget] if ladder else []
        self.widget = W.VBox(
            [W.HBox([self.back_button, self.play, self.step_button, self.slider, self.speed]), self.text, *key, *figs]
        )
        self.widget.add_class("tcpkit-player")
        self._label_controls()
        self.set_trace(trace, start=start)

    # -- public API ------------------------------------------------------------------
    @property
    def index(self) -> int:
        """The record the player shows."""
        return int(self.slider.value)

    def set_trace(self, trace: Trace, *, start: int = 0) -> None:
        """Show another trace (e.g. a rerun with new parameters)."""
        if not isinstance(trace, Trace):
            raise ParameterError("trace", type(trace).__name__, "a tcpkit.engine.trace.Trace")
        _check_start(start, len(trace))
        self.trace = trace
        n = len(trace)
        mx = max(n - 1, 0)
        start = min(max(start, 0), mx)
        self._pages = ladder_pages(trace, max_segments=self.max_segments) if n else [0]
        self._view = None
        # the new figures already show record ``start``: after a replacement the browser
        # must not receive a cursor update before it has drawn the new traces
        if self.show_ladder:
            self._draw_ladder(start)
        if self.show_graph:
            gf = state_graph_figure(trace, upto=start if n else None)
            panels = len((gf.layout.meta or {}).get("hosts", [])) or 1
            gf.update_layout(width=min(1040, 520 * panels))
            replace_figure(self.graph_fig, gf)
            self._hl = Highlighter(self.graph_fig, trace)
        with self.slider.hold_trait_notifications():
            self.slider.max = mx
            self.play.max = mx
        if self.slider.value != start:
            self.slider.value = start  # triggers show()
        else:
            self.show(start)

    def show(self, i: int) -> None:
        """Move cursor and highlight to record ``i``."""
        self._check_language()
        n = len(self.trace)
        if n == 0:
            self.text.value = tr("w.no_records")
            return
        if not 0 <= i < n:
            raise ParameterError("index", i, f"a record index from 0 to {n - 1}")
        # cheapest and most visible first: the ladder cursor, the text, then the graph
        if self.show_ladder and self._view is not None:
            if not self._view.covers(i):
                self._draw_ladder(i)  # turn the page
            if self.overlay:
                self.cursor.show(self._view, i)
            else:
                with self.ladder_fig.batch_update():
                    self._view.move_cursor(self.ladder_fig, i)
        r = self.trace[i]
        import html

        self.text.value = (
            f"<b>{tr('w.record_of', i=i, last=n - 1)}</b> · t = {r.time:.3f} s · "
            f"<span style='font-family:monospace'>{html.escape(describe_record(r))}</span>"
        )
        if self.show_graph:
            with self.graph_fig.batch_update():
                self._hl.apply(self.graph_fig, i)
        if self.slider.value != i:
            # the slider follows last: its echo to the browser must not delay the cursor
            self._syncing = True
            try:
                self.slider.value = i
            finally:
                self._syncing = False

    def step(self, n: int = 1) -> None:
        """Go ``n`` records forward (stops at the end)."""
        self._go(min(self.index + n, self.slider.max))

    def back(self, n: int = 1) -> None:
        """Go ``n`` records back (stops at the start)."""
        self._go(max(self.index - n, 0))

    def on_step_clicked(self, _button: Any) -> None:
        self.step()

    def on_back_clicked(self, _button: Any) -> None:
        self.back()

    def static(self, which: str = "ladder") -> go.Figure:
        """A plain Figure of the ladder (``"ladder"``) or the state graph (``"graph"``) at the cursor."""
        if which == "ladder":
            if not len(self.trace):
                return LadderView(self.trace, relative=self.relative).figure()
            return self._page_view(self.index).figure(self.index)
        if which == "graph":
            return state_graph_figure(self.trace, upto=self.index)
        raise ParameterError("which", which, "'ladder' or 'graph'")

    # -- internals ---------------------------------------------------------------------
    def _page_view(self, i: int) -> LadderView:
        first = self._pages[max(bisect.bisect_right(self._pages, i) - 1, 0)]
        return LadderView(self.trace, relative=self.relative, max_segments=self.max_segments, first=first)

    def _draw_ladder(self, i: int) -> None:
        """Draw the ladder page holding record ``i`` (cursor at ``i``)."""
        if not len(self.trace):
            self._view = None
            replace_figure(self.ladder_fig, go.Figure(layout={"width": 720}))
            if self.overlay:
                self.cursor.show(None, None)
            return
        self._view = view = self._page_view(i)
        lf = view.figure(None if self.overlay else i)
        lf.update_layout(width=max(720, 300 * len(view.ladder.hosts)))
        replace_figure(self.ladder_fig, lf)
        if self.overlay:
            self.cursor.show(view, i)

    def _go(self, i: int) -> None:
        if i != self.index:
            self.show(i)

    def _on_slider(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.show(int(change["new"]))

    def _on_speed(self, change: dict[str, Any]) -> None:
        self.play.interval = int(change["new"])

    def _label_controls(self) -> None:
        self.back_button.description = tr("w.back")
        self.step_button.description = tr("w.step")
        self.play.description = tr("w.play")
        self.speed.description = tr("w.speed")
        self.slider.description = tr("w.record")

    def refresh_language(self) -> None:
        self._label_controls()
        self.key.refresh()
        self.set_trace(self.trace, start=self.index)
