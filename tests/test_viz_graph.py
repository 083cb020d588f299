"""The state graph: built from the transition table, drawn, highlighted, exported."""

from __future__ import annotations

import networkx as nx
import pytest

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.states import STATES, TRANSITIONS, State
from tcpkit.i18n import set_language
from tcpkit.viz.examples import example_trace
from tcpkit.viz.graph import (
    GROUPS,
    LAYOUT,
    Highlighter,
    highlight,
    path_shape,
    path_states,
    path_transitions,
    state_graph,
    state_graph_figure,
    to_dot,
    to_mermaid,
)


def test_graph_has_every_row_of_the_table() -> None:
    g = state_graph()
    assert set(g.nodes) == set(STATES)
    assert g.number_of_edges() == len(TRANSITIONS)
    for t in TRANSITIONS:
        data = g.get_edge_data(t.src, t.dst)[(t.event.value, t.condition)]
        assert data["label"] == t.label and data["group"] == t.group and data["rfc"] == t.rfc


def test_group_filter_and_bad_group() -> None:
    g = state_graph(groups=["client", "server"])
    assert {d["group"] for _, _, d in g.edges(data=True)} == {"client", "server"}
    # the classic open path is there
    assert nx.has_path(g, State.CLOSED, State.ESTABLISHED)
    with pytest.raises(ParameterError, match="groups = 'nope'.*client, server"):
        state_graph(groups=["nope"])


def test_layout_echoes_the_rfc_figure() -> None:
    y = {s: LAYOUT[s][1] for s in STATES}
    x = {s: LAYOUT[s][0] for s in STATES}
    assert y[State.CLOSED] == max(y.values())
    assert y[State.TIME_WAIT] == min(y.values())
    assert y[State.LISTEN] > y[State.ESTABLISHED] > y[State.FIN_WAIT_2]
    assert x[State.FIN_WAIT_1] < 0 < x[State.CLOSE_WAIT]  # active close left, passive close right
    assert x[State.FIN_WAIT_2] < 0 < x[State.LAST_ACK]


def test_figure_one_panel_per_host_and_toggles() -> None:
    t = example_trace("lossy")
    fig = state_graph_figure(t)
    assert fig.layout.meta["hosts"] == ["client", "server"]
    names = [a.name for a in fig.layout.annotations if a.name]
    assert len(names) == 2 * (len(STATES) + 1)  # CLOSED is drawn twice, as in the RFC figure
    hidden = {d.legendgroup for d in fig.data if d.visible == "legendonly"}
    assert hidden == {"rst", "timeout", "abort"}
    assert {d.legendgroup for d in fig.data if d.showlegend} == set(GROUPS)
    shown = state_graph_figure(hidden=())
    assert not any(d.visible == "legendonly" for d in shown.data)
    only = state_graph_figure(groups=["client"], hidden=())
    assert {d.legendgroup for d in only.data if d.legendgroup} == {"client"}


def test_hover_text_has_rfc_and_switches_language() -> None:
    fig = state_graph_figure(groups=["passive_close"], hidden=())
    hovers = [h for d in fig.data if d.hovertext for h in d.hovertext]
    assert any("RFC 9293 §3.10.7.4" in h and "rcv FIN" in h for h in hovers)
    set_language("zh")
    try:
        fig_zh = state_graph_figure(groups=["passive_close"], hidden=())
        hovers_zh = [h for d in fig_zh.data if d.hovertext for h in d.hovertext]
        assert any("收到 FIN" in h and "对方先关闭" in h for h in hovers_zh)
        assert any("关闭等待" in h for h in hovers_zh)  # node hover: CLOSE_WAIT's Chinese name
        assert fig_zh.layout.title.text.startswith("TCP 状态图")
    finally:
        set_language("en")


def test_paths_follow_the_trace() -> None:
    t = example_trace("lossy")
    assert [s.value for s in path_states(t, "client")] == [
        "CLOSED",
        "SYN_SENT",
        "ESTABLISHED",
        "FIN_WAIT_1",
        "FIN_WAIT_2",
        "TIME_WAIT",
        "CLOSED",
    ]
    rows = path_transitions(t, "server")
    assert [(r.src.value, r.dst.value) for r in rows][-2:] == [("CLOSE_WAIT", "LAST_ACK"), ("LAST_ACK", "CLOSED")]


def test_highlight_moves_with_upto() -> None:
    t = example_trace("lossy")
    fig = state_graph_figure(t, upto=0)
    h = Highlighter(fig, t)
    h.apply(fig, 0)
    assert h.current == {"client": None, "server": State.LISTEN}
    assert path_shape(fig, "client") == ""
    h.apply(fig, len(t) - 1)
    assert h.current["client"] is State.CLOSED
    assert path_shape(fig, "client").count("M ") == 6  # six transitions drawn
    lit = [a.name for a in fig.layout.annotations if a.name and a.bgcolor != "white"]
    assert sorted(lit) == ["client|CLOSED", "client|CLOSED", "server|CLOSED", "server|CLOSED"]
    # back again: the highlight follows
    h.apply(fig, 8)
    lit = [a.name for a in fig.layout.annotations if a.name and a.bgcolor != "white"]
    assert sorted(lit) == ["client|SYN_SENT", "server|SYN_RECEIVED"]
    highlight(fig, None, current={"client": "TIME_WAIT"})
    assert [a.name for a in fig.layout.annotations if a.name and a.bgcolor != "white"] == ["client|TIME_WAIT"]


def test_mermaid_and_dot() -> None:
    m = to_mermaid()
    assert m.startswith("stateDiagram-v2\n")
    assert m.count("-->") == len(TRANSITIONS)
    assert "FIN_WAIT_1 --> FIN_WAIT_2 : rcv ACK of FIN / -" in m
    assert "FIN_WAIT_1 --> TIME_WAIT" not in m  # a FIN+ACK takes two rows (via FIN_WAIT_2)
    d = to_dot(current=State.TIME_WAIT)
    assert d.count("->") == len(TRANSITIONS)
    assert 'TIME_WAIT [label="TIME_WAIT"' in d and "fillcolor" in d
    assert d.strip().endswith("}")
    assert to_mermaid(groups=["rst"]).count("-->") == sum(t.group == "rst" for t in TRANSITIONS)


def test_real_scenario_paths_are_drawable() -> None:
    scenarios = pytest.importorskip("tcpkit.drivers.scenarios")
    t = scenarios.run_scenario("simultaneous_close", seed=1)
    fig = state_graph_figure(t)
    for host in fig.layout.meta["hosts"]:
        rows = path_transitions(t, host)
        assert any(r.group == "simultaneous" for r in rows), host
