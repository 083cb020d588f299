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


# ---- labs ----------------------------------------------------------------------------------------
import html as _html  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402

from tcpkit.drivers.flood import simulate_flood  # noqa: E402
from tcpkit.engine.profiles import get_profile  # noqa: E402
from tcpkit.widgets import (  # noqa: E402
    ExitsLab,
    FloodLab,
    IsnAttackLab,
    KernelLab,
    Lab,
    PortCeilingLab,
    PortExhaustionLab,
    SlowCloseLab,
    SynRetryLab,
)
from tcpkit.widgets.flood_lab import BACKLOGS, RATES, phase_map, run_flood  # noqa: E402


def _recorded(name: str):  # type: ignore[no-untyped-def]
    from tcpkit.live import load_recorded

    return load_recorded(name)


#: Every lab of the seven notebooks, built as the notebooks build them (06 from recorded observations here).
LABS = {
    "00 exits": lambda: ExitsLab(state="ESTABLISHED"),
    "01 SYN retries": SynRetryLab,
    "02 attack": lambda: IsnAttackLab(kind="clock", wait=2.5),
    "03 flood": lambda: FloodLab(flood_rate=2000, backlog=128, tcp_syncookies=0),
    "04 slow close": lambda: SlowCloseLab(server_closes_at=30.0, tcp_fin_timeout=60),
    "05 ceiling": lambda: PortCeilingLab("linux"),
    "05 exhaustion": PortExhaustionLab,
    "06 scenario": lambda: KernelLab(runner=_recorded),
}
_REPR = re.compile(r"\b[A-Z]\w*\(\w+=")  # a dataclass repr, e.g. FloodResult(attempts=...


def _controls(lab: Lab) -> dict[str, W.ValueWidget]:
    return lab.panel.controls if isinstance(lab, PortCeilingLab) else lab.inputs


def _other_value(ctl: W.ValueWidget):  # type: ignore[no-untyped-def]
    """A value the student could pick that differs from the current one."""
    if hasattr(ctl, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in ctl.options]
        return next(v for v in values if v != ctl.value)
    if hasattr(ctl, "max"):
        return ctl.max if ctl.value != ctl.max else ctl.min
    return ctl.value + 1


def _picture(lab: Lab) -> str:
    [out] = lab.picture.outputs
    return json.dumps(out["data"]["application/vnd.plotly.v1+json"], sort_keys=True)


@pytest.mark.parametrize("name", list(LABS))
def test_a_lab_shows_one_picture_then_a_short_sentence_and_no_raw_result(name: str) -> None:
    lab = LABS[name]()
    assert lab.widget.children.index(lab.picture) < lab.widget.children.index(lab.sentence)  # picture first
    [out] = lab.picture.outputs
    assert out["output_type"] == "display_data" and "application/vnd.plotly.v1+json" in out["data"]
    assert 20 < len(lab.sentence_text) < 400, lab.sentence_text
    shown = lab.sentence_text + _html.unescape(lab.details.value)
    assert not _REPR.search(shown), shown
    bundle = lab._repr_mimebundle_()
    assert {
        "application/vnd.jupyter.widget-view+json",
        "application/vnd.plotly.v1+json",
        "text/html",
        "text/plain",
    } <= set(bundle)
    assert not _REPR.search(bundle["text/plain"]) and len(bundle["text/plain"]) < 500
    assert "plotly.min.js" not in bundle["text/html"]  # plotly.js comes from its CDN, not embedded


@pytest.mark.parametrize("name", list(LABS))
def test_moving_each_control_redraws_the_one_picture_once(name: str) -> None:
    lab = LABS[name]()
    for cname, ctl in _controls(lab).items():
        before, n = (_picture(lab), lab.sentence_text), lab.updates
        ctl.value = _other_value(ctl)  # what the browser does when the student moves it
        assert lab.updates == n + 1, cname  # one redraw per change
        assert len(lab.picture.outputs) == 1, cname  # replaced, nothing stale below
        assert (_picture(lab), lab.sentence_text) != before, f"{name}: moving {cname} changed nothing"
        assert lab.error is None, lab.error


@pytest.mark.parametrize("name", list(LABS))
def test_lab_labels_are_whole_and_tooltips_say_what_is_allowed(name: str) -> None:
    lab = LABS[name]()
    controls = _controls(lab)
    labels = lab.panel.labels if isinstance(lab, PortCeilingLab) else lab.labels
    linux = get_profile("linux")
    for cname, ctl in controls.items():
        label = _html.unescape(re.sub(r"<[^>]+>", "", labels[cname].value))
        assert "…" not in label and label.strip()
        assert not getattr(ctl, "description", ""), "the label is its own element, never a description cut short"
        if isinstance(ctl, W.IntSlider | W.FloatSlider):
            assert ctl.continuous_update is False  # a run per release, not per pixel of a drag
        if cname in {k.name for k in linux.knobs}:
            knob = linux.knob(cname)
            assert label == cname  # the knob's own name, in full
            if knob.sysctl:
                assert knob.sysctl in ctl.tooltip
            if knob.kind == "int":
                assert f"{int(knob.lo)}–{int(knob.hi)}" in ctl.tooltip  # what the kernel allows
        assert len(ctl.tooltip) > len(label)


def test_lab_refuses_values_no_control_offers_and_names_them() -> None:
    lab = SynRetryLab()
    with pytest.raises(ParameterError, match="tcp_syn_retries = 50 .*from 1 to 10"):
        lab.set(tcp_syn_retries=50)
    with pytest.raises(ParameterError, match="bogus"):
        lab.set(bogus=1)
    with pytest.raises(ParameterError, match="state = 'NOPE'"):
        ExitsLab(state="NOPE")
    with pytest.raises(ParameterError, match="duration"):
        FloodLab(duration=-1)
    with pytest.raises(ParameterError, match="tcp_syncookies = 3"):
        FloodLab(tcp_syncookies=3)
    assert lab.values["tcp_syn_retries"] == 6  # nothing changed


def test_flood_lab_adapter_matches_the_flood_model_and_the_map_is_cached() -> None:
    kw = dict(flood_rate=3000, backlog=256, tcp_synack_retries=3, tcp_syncookies=0, duration=5.0, legit_rate=10.0)
    run = run_flood(**kw)
    ref = simulate_flood(
        duration=5.0,
        flood_rate=3000,
        legit_rate=10.0,
        backlog=256,
        sample_interval=5.0 / 120,
        tcp_synack_retries=3,
        tcp_syncookies=0,
    )
    assert (run.attempts, run.connected, run.failed, run.pending) == (
        ref.attempts,
        ref.connected,
        ref.failed,
        ref.pending,
    )
    assert run.counters["TCPReqQFullDrop"] == ref.counters["TCPReqQFullDrop"] and run.syn_limit == 256
    grid = phase_map([100, 10000], [16, 4096], tcp_synack_retries=5, tcp_syncookies=0, duration=5.0, legit_rate=10.0)
    assert grid[0][1] < 0.05 < 0.95 < grid[1][0]  # a small queue falls, a large one against a small flood holds

    lab = FloodLab(flood_rate=2000, backlog=128, tcp_syncookies=0)
    assert len(lab.grid_success) == len(BACKLOGS) and all(len(r) == len(RATES) for r in lab.grid_success)
    first = lab.grid_success
    lab.set(flood_rate=5000, backlog=512)  # only the marker moves: the map is not recomputed
    assert lab.grid_success is first
    marker = [d for d in lab.figure.data if getattr(d, "xaxis", None) == "x4"][0]
    assert RATES.index(3594) < marker.x[0] < RATES.index(5995)
    assert BACKLOGS.index(348) < marker.y[0] < BACKLOGS.index(645)
    lab.set(tcp_syncookies=1)
    assert lab.grid_success is not first and min(min(r) for r in lab.grid_success) > 0.95  # cookies hold everywhere
    # the map's colours are stops plotly.js draws as they are (a name like "RdYlGn" only plotly.py knows)
    [heat] = [d for d in lab.view.figure["data"] if d["type"] == "heatmap"]
    assert heat["colorscale"][0] == [0.0, "rgb(165,0,38)"] and heat["colorscale"][-1][1] == "rgb(0,104,55)"
    # queues, clients and the map are one figure, the counters a table under it, all from one update
    assert {d.type for d in lab.figure.data} >= {"scatter", "bar", "heatmap"}
    n = lab.run.counters["SyncookiesSent"]
    assert (
        n > 0
        and f"<td style='padding:1px 8px'>SyncookiesSent</td><td style='padding:1px 8px' align='right'>{n:,}</td>"
        in (lab.details.value)
    )


def test_labs_redraw_in_chinese_and_back() -> None:
    lab = FloodLab()
    set_language("zh")
    assert "正常客户端" in lab.sentence_text + str(lab.figure.layout.annotations)
    assert "洪泛速率" in lab.labels["flood_rate"].value
    set_language("en")
    assert "honest clients connected" in lab.sentence_text


def test_every_widget_has_a_static_twin() -> None:
    t = example_trace("lossy")
    for w in (
        TracePlayer(t),
        KnobPanel("linux", knobs=["tcp_syn_retries"]),
        ScenarioExplorer(runner=_example_runner()),
    ):
        bundle = w._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle and "text/html" in bundle, type(w).__name__
        assert "text/plain" in bundle and "plotly.min.js" not in bundle["text/html"]
    assert "application/vnd.plotly.v1+json" in TracePlayer(t)._repr_mimebundle_()


def test_widget_arguments_are_checked_at_the_boundary() -> None:
    from tcpkit.viz import ladder_figure

    t = example_trace("lossy")
    cases = [
        (lambda: ladder_figure("str"), "trace = 'str'"),
        (lambda: ScenarioExplorer(seed="x"), "seed = 'x'"),
        (lambda: TracePlayer(t, start=10**6), r"start = 1000000 .*from 0 to"),
        (lambda: TracePlayer(t, start=-3), r"start = -3"),
        (lambda: KnobPanel(on_change=5), r"on_change = 'int' .*callable"),
        (lambda: KnobPanel(knobs="tcp_syn_retries"), r"knobs = 'tcp_syn_retries' .*list of knob names"),
        (lambda: TracePlayer(t, max_segments=0), "max_segments"),
        (lambda: KernelLab(scenarios=["nope"]), "scenarios = 'nope'"),
    ]
    for make, message in cases:
        with pytest.raises(ParameterError, match=message):
            make()


# ---- Chinese mode: no label mixes languages --------------------------------------------------------------

#: English words that stay English in Chinese mode: protocol, tool and API names a student types or reads in
#: kernel output (tcpdump notation, nstat names, calls, profiles, ISN generator names).
ALLOWED_EN = {
    *[
        "TCP",
        "SYN",
        "ACK",
        "FIN",
        "RST",
        "ISN",
        "RFC",
        "MSL",
        "MSS",
        "RTO",
        "IP",
        "TS",
        "PAWS",
        "ECN",
        "SACK",
        "SipHash",
        "Linux",
        "FreeBSD",
        "Wireshark",
    ],
    *[
        "tcpkit",
        "tcpdump",
        "nstat",
        "netstat",
        "ss",
        "sysctl",
        "packetdrill",
        "otter",
        "cookie",
        "Cookie",
        "backlog",
        "somaxconn",
    ],
    *["connect", "listen", "accept", "close", "shutdown", "send", "recv", "socket", "bind", "abort"],
    *[
        "ack",
        "win",
        "mss",
        "sackOK",
        "val",
        "ecr",
        "nop",
        "wscale",
        "rexmt",
        "rto",
        "delack",
        "tlp",
        "keepalive",
        "persist",
    ],
    *["linux", "freebsd", "fixed", "clock", "random"],
    *["ETIMEDOUT", "EADDRNOTAVAIL", "ECONNREFUSED", "ECONNRESET", "EINPROGRESS", "SOCK_STREAM", "OPEN"],
    *["s", "ms"],  # only as units inside numbers such as "t = 0.010 s" from segment descriptions
}
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:[.\-+][A-Za-z0-9_]+)*")


def _segments(text: str) -> list[str]:
    """The pieces of text between HTML tags, entities decoded."""
    return [_html.unescape(p) for p in re.split(r"<[^>]+>", text) if p.strip()]


def _english_words(text: str, identifiers: frozenset[str] = frozenset()) -> set[str]:
    bad = set()
    for piece in _segments(text):
        if piece.lstrip().startswith("RFC ") or "§" in piece:
            continue  # a citation, written as the RFC or the kernel source writes it
        piece = re.sub(r"(?:/[\w.*-]+)+", " ", piece)  # paths: /proc, net/ipv4/tcp.c
        piece = re.sub(r"\b\w+\(", " (", piece)  # calls: close(), min(backlog, ...)
        piece = re.sub(r"\b\w+=", " ", piece)  # keyword arguments: window=(t0, t1)
        for w in _WORD.findall(piece):
            identifier = "_" in w or "." in w or any(c.isdigit() for c in w) or w.isupper() or len(w) == 1
            camel = w[0].isupper() and any(c.isupper() for c in w[1:])  # nstat counters: ListenDrops
            if not (identifier or camel or w in ALLOWED_EN or w in identifiers):
                bad.add(w)
    return bad


def _figure_texts(spec: dict) -> list[str]:  # type: ignore[type-arg]
    lay = spec.get("layout", {})
    out = [str((lay.get("title") or {}).get("text", ""))]
    for key, ax in lay.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(ax, dict):
            out.append(str((ax.get("title") or {}).get("text", "")))
            out += [str(t) for t in ax.get("ticktext") or []]
    out += [str(a.get("text", "")) for a in lay.get("annotations", [])]
    for d in spec.get("data", []):
        if d.get("showlegend", True) is not False and not str(d.get("name", "")).startswith("_"):
            out.append(str(d.get("name", "")))
        if d.get("type") == "table":
            out += [str(v) for v in d.get("header", {}).get("values", [])]
        if isinstance(d.get("text"), list) and d.get("mode", "").find("text") >= 0:
            out += [str(v) for v in d["text"]]
    return out


def _widget_texts(w) -> list[str]:  # type: ignore[no-untyped-def]
    out: list[str] = []
    for attr in ("description", "tooltip", "placeholder"):
        v = getattr(w, attr, None)
        if isinstance(v, str) and attr != "placeholder":
            out.append(v)
    if isinstance(w, W.HTML | W.Label):
        out += _segments(w.value)
        out += [_html.unescape(t) for t in re.findall(r"title='([^']*)'", w.value)]
    if hasattr(w, "options") and not isinstance(w, W.Widget.__class__):
        out += [str(o[0] if isinstance(o, tuple) else o) for o in getattr(w, "options", ())]
    if isinstance(w, W.Output):
        for o in w.outputs:
            spec = o.get("data", {}).get("application/vnd.plotly.v1+json")
            if spec:
                out += _figure_texts(spec)
    if isinstance(w, go.FigureWidget):
        out += _figure_texts(json.loads(w.to_json()))
    for child in getattr(w, "children", ()) or ():
        out += _widget_texts(child)
    return out


def test_chinese_mode_labels_do_not_mix_languages() -> None:
    from tcpkit.drivers.scenarios import SCENARIOS

    # parameter names of scenarios are identifiers a student types (run_scenario(..., rate=5)), like sysctls
    identifiers = frozenset(p for sc in SCENARIOS.values() for p in sc.params)
    t = tcpkit.run_scenario("open_close_client_first", seed=1)
    set_language("zh")
    widgets = {name: make() for name, make in LABS.items()}
    widgets["player"] = TracePlayer(t, start=3)  # a CALL record: "服务器 call:" was the old mixed label
    widgets["knob panel"] = KnobPanel("linux", knobs=["tcp_syn_retries", "tcp_syncookies", "tcp_fin_timeout"])
    widgets["explorer"] = ScenarioExplorer("time_wait_exhaustion", seed=1)
    problems = {}
    for name, w in widgets.items():
        if isinstance(w, TracePlayer):
            for i in range(len(t)):  # every record the player can describe
                w.show(i)
                bad = _english_words(w.text.value, identifiers)
                if bad:
                    problems[f"{name} record {i}"] = sorted(bad)
        bad = set().union(*(_english_words(s, identifiers) for s in _widget_texts(w.widget)))
        if bad:
            problems[name] = sorted(bad)
    assert not problems, problems
    set_language("en")
    assert _english_words(TracePlayer(t, start=3).text.value)  # the check does see English


# -- redrawing in place, kept runs, FigureWidget without plotly.js ---------------------------------------------------


@pytest.mark.parametrize("name", ["02 attack", "03 flood", "05 exhaustion"])
def test_once_the_page_has_drawn_a_lab_it_redraws_the_same_plot_in_place(name: str) -> None:
    lab = LABS[name]()
    first = lab.picture.outputs
    assert lab.sync.spec is None and lab.sync.view == lab.updates  # the output is what the page shows
    lab.sync._handle_message(None, {"ready": True}, None)  # what PictureSync's JavaScript says once it found the plot
    cname, ctl = next(iter(_controls(lab).items()))
    ctl.value = _other_value(ctl)
    assert lab.picture.outputs is first, cname  # no new plot in the page ...
    assert lab.sync.view == lab.updates and lab.sync.spec is not None  # ... the figure goes to Plotly.react
    spec = lab.sync.spec
    assert "template" not in spec["layout"] and spec["config"] == {"displaylogo": False}
    want = json.loads(_picture_of(lab))
    want["layout"].pop("template")
    assert spec == want  # exactly the figure the output would have shown
    # the browser could not redraw in place: the picture is replaced at once, and on the next changes
    lab.sync._handle_message(None, {"failed": "TypeError: boom"}, None)
    assert lab.picture.outputs is not first and lab.sync.spec is None and not lab.sync.ready
    assert json.loads(_picture(lab))["data"] == json.loads(_picture_of(lab))["data"]
    n = lab.updates
    ctl.value = _other_value(ctl)
    assert lab.updates == n + 1 and lab.sync.spec is None and len(lab.picture.outputs) == 1
    lab.close()


def _picture_of(lab: Lab) -> str:
    from tcpkit.widgets._base import figure_bundle

    assert lab.view is not None
    return json.dumps(figure_bundle(lab.view.figure)["application/vnd.plotly.v1+json"], sort_keys=True)


def test_a_lab_error_clears_the_picture_and_the_next_view_replaces_it_even_when_the_page_is_ready() -> None:
    lab = KernelLab(runner=_recorded)
    lab.sync._handle_message(None, {"ready": True}, None)

    def broken(_name: str):  # type: ignore[no-untyped-def]
        raise ParameterError("scenario", _name, "a scenario that runs")

    good, lab._runner = lab._runner, broken
    assert lab.set(scenario="half_close") is False and lab.picture.outputs == () and lab.sync.spec is None
    lab._runner = good
    assert lab.set(scenario="abort_rst") is True
    assert len(lab.picture.outputs) == 1 and lab.sync.spec is None  # a new plot: there was none to redraw
    lab.close()


def test_a_lab_keeps_its_runs_per_setting_and_draws_the_same_picture_from_them() -> None:
    from tcpkit.drivers import scenarios

    calls = []
    real = scenarios.run_scenario

    def counting(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(k)
        return real(*a, **k)

    lab = PortExhaustionLab()
    scenarios.run_scenario = counting
    try:
        first = _picture(lab)
        lab.set(ports=30)
        lab.set(ports=20)  # back to the start: kept
        assert len(calls) == 1 and _picture(lab) == first
        lab.clear_cache()
        lab.set(ports=30)
        assert len(calls) == 2
        set_language("zh")  # a kept run is drawn again in the other language
        assert len(calls) == 2 and "端口" in str(json.loads(_picture(lab)))
    finally:
        scenarios.run_scenario = real
        set_language("en")
        lab.close()
    fresh = PortExhaustionLab()  # same seed, same trace: a kept run draws what a new run draws
    fresh.set(ports=30)
    lab2 = PortExhaustionLab()
    lab2.set(ports=30)
    lab2.set(ports=20)
    lab2.set(ports=30)
    assert _picture(fresh) == _picture(lab2)
    fresh.close()
    lab2.close()


def test_figure_widgets_carry_plotly_s_widget_code_without_plotly_js() -> None:
    from tcpkit.widgets._base import FigureWidget, _light_esm

    light = _light_esm()
    assert light is not None, "plotly's widgetbundle.js changed its layout: FigureWidget would carry 5 MB again"
    fw = FigureWidget(go.Figure(go.Bar(y=[1, 2])))
    state = fw.get_state()
    assert state["_esm"] == light and 50_000 < len(light) < 400_000  # plotly's own: about 5 MB
    assert "hA.exports=globalThis.Plotly" in light and "export default async" in light
    assert "window.Plotly=Q,Q" not in light and "jupyterlab-plotly" in light  # plotly.js from JupyterLab's extension
    assert fw.data[0].y == (1, 2)
    p = TracePlayer(example_trace("lossy"))
    assert all(len(f.get_state()["_esm"]) < 400_000 for f in (p.ladder_fig, p.graph_fig))
    p.close()
