"""Widgets, driven headless: call the handlers, check the figures changed."""

from __future__ import annotations

import gc
import weakref

import ipywidgets as W
import plotly.graph_objects as go
import pytest

import tcpkit
from tcpkit import i18n
from tcpkit.engine.errors import ParameterError
from tcpkit.engine.profiles import Profile
from tcpkit.engine.trace import SegmentSent
from tcpkit.i18n import get_language
from tcpkit.viz.examples import example_trace
from tcpkit.viz.graph import path_shape
from tcpkit.viz.ladder import LadderView, cursor_y, ladder_pages
from tcpkit.widgets import KnobPanel, PredictWidget, ScenarioExplorer, TracePlayer, set_language
from tcpkit.widgets._base import TcpkitWidget, live_widgets
from tcpkit.widgets.explorer import ScenarioRunner, _example_runner


@pytest.fixture(autouse=True)
def english():
    set_language("en")
    yield
    for w in live_widgets():
        w.close()  # so the next test's language switch relabels only its own widgets
    set_language("en")


def test_player_step_moves_ladder_and_graph_together() -> None:
    p = TracePlayer(example_trace("lossy"))
    assert isinstance(p.ladder_fig, go.FigureWidget) and isinstance(p.graph_fig, go.FigureWidget)
    y0, path0 = p.cursor.y, path_shape(p.graph_fig, "client")
    for _ in range(5):
        p.on_step_clicked(p.step_button)
    assert p.index == 5
    assert p.cursor.y > y0
    assert path0 == "" and path_shape(p.graph_fig, "client").startswith("M ")  # CLOSED -> SYN_SENT is drawn
    assert "S 1000000:1000000(0)" in p.text.value
    lit = [a.name for a in p.graph_fig.layout.annotations if a.name and a.bgcolor != "white"]
    assert "client|SYN_SENT" in lit
    p.on_back_clicked(p.back_button)
    assert p.index == 4
    p.slider.value = len(p.trace) - 1  # what the Play widget does in the browser
    assert "CLOSED" in p.text.value
    p.step()
    assert p.index == len(p.trace) - 1  # stops at the end
    p.speed.value = 150
    assert p.play.interval == 150


def test_player_static_and_new_trace() -> None:
    p = TracePlayer(example_trace("lossy"), start=10)
    assert type(p.static()) is go.Figure and type(p.static("graph")) is go.Figure
    with pytest.raises(ParameterError, match="which"):
        p.static("pie")
    before = len(p.ladder_fig.data)
    p.set_trace(example_trace("attacker"))
    assert p.index == 0 and p.slider.max == len(example_trace("attacker")) - 1
    assert list(p.ladder_fig.layout.xaxis.ticktext) == ["client", "attacker", "server"]
    labels = [d for d in p.ladder_fig.data if d.name == "_labels"][0]
    assert any(t.startswith("R ") for t in labels.text) and len(p.ladder_fig.data) != before
    with pytest.raises(ParameterError, match="trace"):
        TracePlayer([1, 2, 3])  # type: ignore[arg-type]


def test_player_switches_language() -> None:
    p = TracePlayer(example_trace("lossy"))
    set_language("zh")
    assert get_language() == "zh"
    assert p.step_button.description == "单步 ▶" and p.back_button.description == "◀ 后退"
    assert list(p.ladder_fig.layout.xaxis.ticktext) == ["客户端", "服务器"]
    p.step()
    assert "第 #1 条记录" in p.text.value
    set_language("en")
    assert p.step_button.description == "step ▶"


def test_knob_panel_builds_controls_from_metadata() -> None:
    got: list[Profile] = []
    panel = KnobPanel("linux", on_change=got.append)
    kinds = {name: type(w).__name__ for name, w in panel.controls.items()}
    assert kinds["tcp_syn_retries"] == "IntSlider"
    assert kinds["tcp_syncookies"] == "Dropdown"
    assert kinds["rto_initial"] == "FloatSlider"
    assert kinds["tcp_max_syn_backlog"] == "IntText"  # too wide for a slider
    s = panel.controls["tcp_syn_retries"]
    assert (s.min, s.max) == (1, 127)
    assert "connect()" in panel.helps["tcp_syn_retries"].value
    assert panel.units["rto_initial"].value.endswith("s</span>")
    s.value = 3  # the user moves the slider
    assert got and got[-1]["tcp_syn_retries"] == 3 and panel.profile["tcp_syn_retries"] == 3


def test_knob_panel_invalid_value_shows_message_and_keeps_last_good() -> None:
    got: list[Profile] = []
    panel = KnobPanel(
        "linux", knobs=["tcp_max_syn_backlog", "ip_local_port_low", "ip_local_port_high"], on_change=got.append
    )
    box = panel.controls["tcp_max_syn_backlog"]
    box.value = 0  # typed into the text box
    assert "tcp_max_syn_backlog = 0 is not allowed" in panel.errors["tcp_max_syn_backlog"].value
    assert "4096" in panel.errors["tcp_max_syn_backlog"].value  # the value kept
    assert box.value == 4096 and panel.profile["tcp_max_syn_backlog"] == 4096 and not got
    box.value = 256
    assert panel.errors["tcp_max_syn_backlog"].value == "" and got[-1]["tcp_max_syn_backlog"] == 256
    # consistency between knobs
    panel.controls["ip_local_port_low"].value = 65000
    assert "at most ip_local_port_high" in panel.errors["ip_local_port_low"].value
    assert panel.controls["ip_local_port_low"].value == 32768


def test_knob_panel_sysctl_line_and_reset() -> None:
    panel = KnobPanel("linux", knobs=["tcp_syn_retries"])
    assert panel.apply_sysctl("net.ipv4.tcp_syn_retries = 2")
    assert panel.controls["tcp_syn_retries"].value == 2
    assert not panel.apply_sysctl("net.ipv4.tcp_tw_recycle = 1")
    assert "does not exist any more" in panel.sysctl_msg.value
    assert not panel.apply_sysctl("no equals sign")
    panel.sysctl_text.value = "net.ipv4.tcp_syn_retries=4"
    panel.sysctl_button.click()
    assert panel.profile["tcp_syn_retries"] == 4
    panel.reset_button.click()
    assert panel.profile["tcp_syn_retries"] == 6
    set_language("zh")
    assert "connect() 重传" in panel.helps["tcp_syn_retries"].value
    assert panel.units["tcp_syn_retries"].value.endswith("次</span>")


def test_predict_next_segment() -> None:
    t = example_trace("lossy")
    q = PredictWidget(t, at=6, question="next_send", host="server")
    assert q.answer_label == "S. 0:0(0) ack 1"
    q.choices.value = "R"
    q.check_button.click()
    assert "Not quite" in q.feedback.value and "flags" in q.feedback.value
    q.choices.value = "S."
    q.check_button.click()
    assert "Right" in q.feedback.value
    assert not q.check(text="S. 0:0(0) ack 2")
    assert "ack: you said 2, the trace has 1" in q.feedback.value
    assert not q.check(text="S. 0:0(0) ack 1 win")
    assert "column 17" in q.feedback.value and "win needs a number" in q.feedback.value
    before = len(q.ladder_fig.data[0].x)
    n_arrows = sum(1 for d in q.ladder_fig.data if d.name == "segment" for v in d.x if v is None)
    q.reveal_button.click()
    assert "LISTEN → SYN_RECEIVED" in q.explanation.value and "RFC 9293 §3.10.7.2" in q.explanation.value
    after = sum(1 for d in q.ladder_fig.data if d.name == "segment" for v in d.x if v is None)
    assert after == n_arrows + 1 and len(q.ladder_fig.data[0].x) == before
    assert type(q.static()) is go.Figure


def test_predict_state_and_bad_arguments() -> None:
    t = example_trace("lossy")
    q = PredictWidget(t, at=14, question="state", host="client")
    assert not q.check(choice="SYN_SENT")
    assert q.check(choice="ESTABLISHED")
    q.reveal()
    assert "SYN_SENT → ESTABLISHED" in q.explanation.value
    set_language("zh")
    assert "客户端处于哪个状态" in q.prompt.value
    assert "答案" in q.explanation.value
    set_language("en")
    with pytest.raises(ParameterError, match="question"):
        PredictWidget(t, at=1, question="why")
    with pytest.raises(ParameterError, match="at = 9999"):
        PredictWidget(t, at=9999)
    with pytest.raises(ParameterError, match="host = 'bob'"):
        PredictWidget(t, at=1, host="bob")


def test_explorer_falls_back_to_examples_and_reruns() -> None:
    ex = ScenarioExplorer(runner=_example_runner("ImportError: no scenarios"), name="lossy")
    assert "not available" in ex.notice.value
    ladder = ex.player.ladder_fig
    gantt_before = ex.gantt_fig.data[0].x
    ex.params["rto"].value = 3.0
    assert ex.on_run_clicked(ex.run_button)
    assert ex.trace.meta["rto"] == 3.0
    assert ex.gantt_fig.data[0].x != gantt_before or any(d.name == "ESTABLISHED" for d in ex.gantt_fig.data)
    assert ladder is ex.player.ladder_fig  # the same widget, updated in place
    ex.choice.value = "flood"
    assert ex.run()
    assert ex.queue_box.layout.display == "" and len(ex.queue_fig.data) >= 2
    ex.params["delay"].value = -1.0
    assert not ex.run()
    assert "delay = -1.0 is not allowed" in ex.status.value
    with pytest.raises(ParameterError, match="name = 'nope'"):
        ScenarioExplorer(runner=_example_runner(), name="nope")
    with pytest.raises(ParameterError, match="runner"):
        ScenarioExplorer(runner=ScenarioRunner([], dict, str, lambda *a, **k: None, "empty"))  # type: ignore[arg-type]


def test_explorer_with_real_scenarios() -> None:
    pytest.importorskip("tcpkit.drivers.scenarios")
    ex = ScenarioExplorer(name="connection_refused", seed=1)
    assert ex.runner.source == "tcpkit.drivers.scenarios" and ex.notice.value == ""
    assert ex.trace.meta.get("scenario") == "connection_refused"
    y0 = ex.player.cursor.y
    ex.player.slider.value = ex.player.slider.max
    assert ex.player.cursor.y > y0
    ex.choice.value = "abort_rst"
    assert ex.run()
    assert any(r.segment.rst for r in ex.trace.of(SegmentSent))
    assert type(ex.static("gantt")) is go.Figure


def test_player_step_moves_only_the_cursor_overlay() -> None:
    p = TracePlayer(example_trace("lossy"), start=4)
    ladder_before = p.ladder_fig.to_dict()
    view = LadderView(p.trace)
    assert cursor_y(p.ladder_fig) is None  # the figure's own cursor shape stays hidden
    for i in (5, 6, 20):
        p.slider.value = i
        y, seg = view.cursor_at(i)
        assert p.cursor.y == y == view.ry[i]
        assert p.cursor.segment == ([] if seg is None else list(seg))
        assert p.cursor.span == list(view.x_span)
    p.slider.value = 6  # record 6 is the SYN arriving: its arrow is highlighted
    arrow = view.ladder.arrows[view.ladder.record_arrow[6]]
    assert p.cursor.segment == [0.0, view.ry[arrow.send_index], 1.0, view.ry[6]]
    assert p.ladder_fig.to_dict() == ladder_before  # the ladder itself was not touched
    assert type(p.static()) is go.Figure and cursor_y(p.static()) == view.ry[6]  # the static copy shows the cursor


def test_player_without_overlay_moves_the_figure_shapes() -> None:
    p = TracePlayer(example_trace("lossy"), overlay=False)
    y0 = cursor_y(p.ladder_fig)
    p.step(5)
    assert cursor_y(p.ladder_fig) > y0 and p.cursor.y is None
    assert p.cursor not in p.widget.children[-1].children


def test_player_turns_ladder_pages_on_a_long_trace() -> None:
    t = example_trace("lossy")
    pages = ladder_pages(t, max_segments=10)
    assert pages[0] == 0 and len(pages) >= 3
    p = TracePlayer(t, max_segments=10)
    assert p.ladder_fig.layout.meta["records"] == [0, pages[1], len(t)]
    assert "✂" in p.ladder_fig.layout.title.text
    y_first_page = p.cursor.y
    p.slider.value = pages[1] + 1  # off the first page: the ladder is redrawn from pages[1]
    assert p.ladder_fig.layout.meta["records"][0] == pages[1]
    assert p.cursor.y == LadderView(t, max_segments=10, first=pages[1]).ry[1]
    p.slider.value = 0  # and back
    assert p.ladder_fig.layout.meta["records"][0] == 0 and p.cursor.y == y_first_page
    assert p.static().layout.meta["records"][0] == 0
    full = TracePlayer(t, max_segments=None)
    assert "records" not in full.ladder_fig.layout.meta and "✂" not in full.ladder_fig.layout.title.text


def test_tcpkit_set_language_relabels_open_widgets_at_once() -> None:
    p = TracePlayer(example_trace("lossy"))
    panel = KnobPanel("linux", knobs=["tcp_syn_retries"])
    q = PredictWidget(example_trace("lossy"), at=6, host="server")
    tcpkit.set_language("zh")  # the package-level switch, not tcpkit.widgets.set_language
    assert p.step_button.description == "单步 ▶"
    assert list(p.ladder_fig.layout.xaxis.ticktext) == ["客户端", "服务器"]
    assert "第 #0 条记录" in p.text.value
    assert panel.reset_button.description == "恢复默认值"
    assert q.check_button.description == "检查"
    i18n.set_language("en")
    assert p.step_button.description == "step ▶" and q.check_button.description == "check"


class _Label(TcpkitWidget):
    """The smallest tcpkit widget: one label, no callbacks that keep it alive."""

    def __init__(self) -> None:
        super().__init__()
        self.widget = W.HTML()
        self.refresh_language()

    def refresh_language(self) -> None:
        self.widget.value = i18n.tr("state")


def test_closed_and_collected_widgets_unsubscribe() -> None:
    base = len(i18n._LISTENERS)
    p = TracePlayer(example_trace("lossy"))
    panel = KnobPanel("linux", knobs=["tcp_syn_retries"])
    assert len(i18n._LISTENERS) == base + 2
    p.close()
    assert len(i18n._LISTENERS) == base + 1
    i18n.set_language("zh")
    assert p.step_button.description == "step ▶"  # closed: not relabelled any more
    assert panel.reset_button.description == "恢复默认值"
    i18n.set_language("en")
    ref = weakref.ref(panel)
    panel.close()
    del panel
    gc.collect()
    assert ref() is None and len(i18n._LISTENERS) == base
    # the subscription itself does not keep a widget alive
    lost = _Label()
    i18n.set_language("zh")
    assert lost.widget.value == "状态"
    i18n.set_language("en")
    ref = weakref.ref(lost)
    del lost
    gc.collect()
    assert ref() is None and len(i18n._LISTENERS) == base
    i18n.set_language("zh")  # no callback to a dead widget
    i18n.set_language("en")


def test_a_failing_widget_does_not_stop_the_language_switch(monkeypatch) -> None:
    bad = KnobPanel("linux", knobs=["tcp_syn_retries"])
    good = KnobPanel("linux", knobs=["tcp_syn_retries"])

    def boom() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(bad, "refresh_language", boom)
    with pytest.warns(RuntimeWarning, match="KnobPanel could not switch language: RuntimeError: boom"):
        i18n.set_language("zh")
    assert good.reset_button.description == "恢复默认值"
