"""Ladder diagrams: pairing sends with receives, losses, retransmissions, timers, many hosts."""

from __future__ import annotations

import pytest

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.events import CLASSES
from tcpkit.engine.segment import parse_segment
from tcpkit.engine.states import Event, State, lookup
from tcpkit.engine.trace import Kind, SegmentEvent, StateChanged, Trace, TraceRecord
from tcpkit.i18n import set_language
from tcpkit.viz.examples import example_trace
from tcpkit.viz.ladder import (
    MAX_SEGMENTS,
    LadderView,
    build_ladder,
    cursor_y,
    ladder_figure,
    ladder_pages,
    ladder_window,
)


class TB:
    """A tiny trace builder for hand-made cases."""

    def __init__(self) -> None:
        self.recs: list[TraceRecord] = []

    def seg(
        self,
        kind: Kind,
        t: float,
        host: str,
        peer: str,
        text: str,
        conn=("10.0.0.1", 1, "10.0.0.2", 2),
        base=None,
        reason=None,
    ) -> TB:
        self.recs.append(
            CLASSES[kind](
                time=t,
                host=host,
                conn=conn,
                segment=parse_segment(text),
                peer=peer,
                seq_base=base,
                **({"reason": reason or ""} if kind is Kind.DROP else {}),
            )
        )
        return self

    def send(self, t, host, peer, text, **kw) -> TB:
        return self.seg(Kind.SEND, t, host, peer, text, **kw)

    def recv(self, t, host, peer, text, **kw) -> TB:
        return self.seg(Kind.RECV, t, host, peer, text, **kw)

    def drop(self, t, host, peer, text, **kw) -> TB:
        return self.seg(Kind.DROP, t, host, peer, text, **kw)

    def state(self, t, host, src, dst, event) -> TB:
        row = lookup(State(src), Event[event] if event in Event.__members__ else Event(event))
        assert row.dst is State(dst), (src, event, dst)
        self.recs.append(StateChanged(time=t, host=host, row=row))
        return self

    def timer(self, kind, t, host, name, deadline=None) -> TB:
        kw = {"deadline": deadline} if kind in (Kind.TIMER_SET, Kind.TIMER_FIRE) else {}
        self.recs.append(CLASSES[kind](time=t, host=host, timer=name, **kw))
        return self

    def trace(self) -> Trace:
        return Trace(self.recs)


def test_example_pairs_losses_and_retransmissions() -> None:
    lad = build_ladder(example_trace("lossy"))
    assert lad.hosts == ["client", "server"]
    lost = [a for a in lad.arrows if a.lost]
    rex = [a for a in lad.arrows if a.rexmit]
    assert len(lost) == 1 and len(rex) == 1
    assert lost[0].label == rex[0].label == "P. 1:1001(1000) ack 1"
    assert rex[0].t_send - lost[0].t_send == pytest.approx(1.0)  # after one RTO
    assert all(a.delivered for a in lad.arrows if not a.lost)
    assert all(a.dst == "server" for a in lad.arrows if a.src == "client")
    states = [(h, s) for _, h, s, _ in lad.states]
    assert ("client", "TIME_WAIT") in states and ("server", "LAST_ACK") in states
    tw = [b for b in lad.timers if b.name == "time_wait"][0]
    assert tw.fired and tw.end - tw.start == pytest.approx(60.0)


def test_absolute_numbers_and_seq_base() -> None:
    rel = build_ladder(example_trace("lossy"), relative=True)
    ab = build_ladder(example_trace("lossy"), relative=False)
    assert rel.arrows[1].label == "S. 0:0(0) ack 1"
    assert ab.arrows[1].label == "S. 5000000:5000000(0) ack 1000001"


def test_send_with_drop_and_no_recv_ends_in_a_cross() -> None:
    t = (
        TB()
        .send(0.0, "a", "b", "S 0:0(0)")
        .drop(0.005, "a", "b", "S 0:0(0)", reason="lost")
        .send(1.0, "a", "b", "S 0:0(0)")
        .recv(1.01, "b", "a", "S 0:0(0)")
        .trace()
    )
    lad = build_ladder(t)
    first, second = lad.arrows
    assert first.lost and not first.delivered and first.reason == "lost" and first.dst == "b"
    assert second.delivered and second.rexmit and second.end_index == 3
    fig = ladder_figure(t)
    lost_trace = next(d for d in fig.data if d.name == "lost segment")
    assert "x" in lost_trace.marker.symbol
    view = LadderView(t)
    x0, y0, x1, y1 = view._arrow_xy(first)
    assert 0 < x1 < 1 and y1 > y0  # stops half way, still going down


def test_in_flight_and_receiver_drop() -> None:
    t = (
        TB()
        .send(0.0, "a", "b", "S 0:0(0)")
        .recv(0.01, "b", "a", "S 0:0(0)")
        .drop(0.01, "b", "a", "S 0:0(0)", reason="listen queue full")
        .send(0.02, "a", "b", ". 1:1(0) ack 1")
        .trace()
    )
    lad = build_ladder(t)
    assert lad.arrows[0].delivered and not lad.arrows[0].lost
    assert lad.drops == [(0.01, "b", "listen queue full", 2)]
    assert not lad.arrows[1].delivered and not lad.arrows[1].lost  # the trace ends first


def test_three_hosts_with_a_nat_in_the_middle() -> None:
    c2n = ("10.0.0.1", 1000, "192.0.2.1", 80)
    n2s = ("198.51.100.1", 40000, "192.0.2.1", 80)
    t = (
        TB()
        .send(0.0, "client", "nat", "S 0:0(0)", conn=c2n)
        .recv(0.01, "nat", "client", "S 0:0(0)", conn=c2n)
        .send(0.01, "nat", "server", "S 0:0(0)", conn=n2s)
        .recv(0.02, "server", "nat", "S 0:0(0)", conn=n2s)
        .trace()
    )
    lad = build_ladder(t)
    assert lad.hosts == ["client", "nat", "server"]
    assert [(a.src, a.dst) for a in lad.arrows] == [("client", "nat"), ("nat", "server")]
    fig = ladder_figure(t)
    assert list(fig.layout.xaxis.ticktext) == ["client", "nat", "server"]


def test_attacker_example_and_hosts_argument() -> None:
    t = example_trace("attacker")
    lad = build_ladder(t)
    assert lad.hosts == ["client", "attacker", "server"]
    spoof = [a for a in lad.arrows if a.src == "attacker"]
    assert len(spoof) == 1 and spoof[0].dst == "server" and spoof[0].label.startswith("R ")
    assert any("challenge ACK" in d[2] for d in lad.drops)
    only = build_ladder(t, hosts=["client", "server"])
    assert all(a.src != "attacker" for a in only.arrows)
    with pytest.raises(ParameterError, match="hosts = 'mallory'"):
        build_ladder(t, hosts=["client", "mallory"])


def test_timer_rearmed_counts_as_one_bar_each() -> None:
    t = (
        TB()
        .timer(Kind.TIMER_SET, 0.0, "a", "rto", 1.0)
        .timer(Kind.TIMER_SET, 0.5, "a", "rto", 1.5)
        .timer(Kind.TIMER_CANCEL, 0.7, "a", "rto")
        .timer(Kind.TIMER_SET, 0.8, "a", "time_wait", 60.8)
        .trace()
    )
    bars = build_ladder(t).timers
    assert [(b.name, b.start, b.end, b.fired, b.open_ended) for b in bars] == [
        ("rto", 0.0, 0.5, False, False),
        ("rto", 0.5, 0.7, False, False),
        ("time_wait", 0.8, 60.8, False, True),
    ]


def test_long_waits_are_shortened_and_labelled() -> None:
    view = LadderView(example_trace("lossy"))
    assert any(b - a > 50 for a, b in view.cuts)  # the 60 s TIME_WAIT
    fig = view.figure()
    gaps = next(d for d in fig.data if d.name == "_gaps")
    assert all(s == "≈ 59.9 s" for s in gaps.text) and len(gaps.text) == 2
    span = max(view.ry) - min(view.ry)
    assert span < 60  # not drawn to scale
    lin = LadderView(example_trace("lossy"), scale="linear", max_gap=0)
    assert max(lin.ry) - min(lin.ry) == pytest.approx(61.391 - 0.0)
    with pytest.raises(ParameterError, match="scale"):
        LadderView(example_trace("lossy"), scale="log")


def test_simultaneous_records_get_their_own_rows() -> None:
    t = (
        TB()
        .send(0.0, "a", "b", ". 1:1(0) ack 1")
        .send(0.0, "a", "b", "P. 1:11(10) ack 1")
        .recv(0.01, "b", "a", ". 1:1(0) ack 1")
        .recv(0.01, "b", "a", "P. 1:11(10) ack 1")
        .trace()
    )
    view = LadderView(t)
    assert view.ry[0] < view.ry[1] and view.ry[2] < view.ry[3]


def test_cursor_moves_and_rejects_bad_index() -> None:
    t = example_trace("lossy")
    view = LadderView(t)
    fig = view.figure()
    current = next(sh for sh in fig.layout.shapes if sh.name == "_current")
    assert cursor_y(fig) is None
    view.move_cursor(fig, 5)  # the SYN
    y5 = cursor_y(fig)
    assert y5 is not None and current.visible and (current.x0, current.x1) == (0, 1)
    view.move_cursor(fig, 0)  # a state record: no segment highlighted
    assert cursor_y(fig) < y5 and not current.visible
    with pytest.raises(ParameterError, match="index = 999"):
        view.move_cursor(fig, 999)


def test_labels_translate() -> None:
    set_language("zh")
    try:
        fig = ladder_figure(example_trace("lossy"))
        assert fig.layout.title.text.startswith("时序图")
        assert list(fig.layout.xaxis.ticktext) == ["客户端", "服务器"]
        assert any(d.name == "丢失的报文段" for d in fig.data)
    finally:
        set_language("en")


def test_real_scenario_with_a_lost_final_ack() -> None:
    scenarios = pytest.importorskip("tcpkit.drivers.scenarios")
    t = scenarios.run_scenario("lost_final_ack", seed=1)
    lad = build_ladder(t)
    lost = [a for a in lad.arrows if a.lost]
    assert len(lost) == 1 and lost[0].src == "client" and lost[0].label.startswith(". ")
    assert any(a.rexmit and a.src == "server" and a.label.startswith("F.") for a in lad.arrows)
    # every other segment found its receiver
    assert all(a.delivered for a in lad.arrows if not a.lost)


def _long_trace(rounds: int) -> Trace:
    """``rounds`` data segments a -> b, each acknowledged: 4 segment records per round, 10 ms apart."""
    tb = TB().state(0.0, "a", "SYN_SENT", "ESTABLISHED", "RCV_SYN_ACK")
    for k in range(rounds):
        t = 0.01 * k
        seq = 1 + 100 * k
        tb.send(t, "a", "b", f"P. {seq}:{seq + 100}(100) ack 1").recv(
            t + 0.002, "b", "a", f"P. {seq}:{seq + 100}(100) ack 1"
        )
        tb.send(t + 0.002, "b", "a", f". 1:1(0) ack {seq + 100}").recv(t + 0.004, "a", "b", f". 1:1(0) ack {seq + 100}")
    return tb.trace()


def _segments(t: Trace, start: int, stop: int) -> int:
    return sum(1 for r in t.records[start:stop] if isinstance(r, SegmentEvent))


def test_a_long_trace_is_cut_with_a_note() -> None:
    t = _long_trace(300)  # 1200 segment records
    view = LadderView(t)
    assert (view.first, view.cut) == (0, True) and _segments(t, 0, view.stop) == MAX_SEGMENTS == 100
    assert t[view.stop].segment is not None  # stops right before the 101st segment record
    assert len(view.ladder.arrows) == 50 and all(a.delivered for a in view.ladder.arrows)
    fig = view.figure()
    assert fig.layout.meta["records"] == [0, view.stop, len(t)]
    assert f"✂ cut: records 0–{view.stop - 1} of {len(t)} (at most 100 segments)" in fig.layout.title.text
    assert "max_segments=" in fig.layout.title.text
    labels = next(d for d in fig.data if d.name == "_labels")
    assert len(labels.text) == 50
    odd = LadderView(t, max_segments=99)  # the 99th segment record is a send whose arrival is cut off
    assert [a.delivered for a in odd.ladder.arrows][-1] is False and "arrives after the cut" in odd.ladder.arrows[
        -1
    ].hover
    assert any(d.name == "arrives after the cut" for d in odd.figure().data)
    everything = ladder_figure(t, max_segments=None)
    assert "records" not in everything.layout.meta and "✂" not in everything.layout.title.text
    assert len(next(d for d in everything.data if d.name == "_labels").text) == 600
    set_language("zh")
    try:
        assert "已截断" in ladder_figure(t).layout.title.text
    finally:
        set_language("en")


def test_a_short_trace_is_drawn_as_before() -> None:
    t = example_trace("lossy")
    fig = ladder_figure(t)
    assert fig.layout.meta == {"tcpkit": "ladder", "hosts": ["client", "server"]}
    assert "<br>" not in fig.layout.title.text and fig.layout.margin.t == 90
    assert fig.to_plotly_json() == ladder_figure(t, max_segments=None).to_plotly_json()


def test_time_window_and_first_record() -> None:
    t = _long_trace(300)
    start, stop = ladder_window(t, window=(1.0, 1.2))
    assert all(1.0 <= r.time <= 1.2 for r in t.records[start:stop])
    assert t[start - 1].time < 1.0 and t[stop].time > 1.2
    fig = ladder_figure(t, window=(1.0, 1.2))
    assert fig.layout.meta["records"] == [start, stop, len(t)]
    assert f"records {start}–{stop - 1} of {len(t)};" in fig.layout.title.text  # cut by the window, not the limit
    assert ladder_window(t, window=(1.0, 1.2), max_segments=10) == (start, start + 10)
    view = LadderView(t, first=401, max_segments=8)
    assert (view.first, _segments(t, 401, view.stop)) == (401, 8)
    # record indices stay those of the whole trace
    fig = view.figure(upto=402)
    assert cursor_y(fig) == view.ry[1] and view.cursor_at(402) == (view.ry[1], view._arrow_xy(view.ladder.arrows[0]))
    view.move_cursor(fig, 5)  # not drawn: the cursor hides
    assert cursor_y(fig) is None and view.cursor_at(5) is None
    with pytest.raises(ParameterError, match=f"index = {len(t)}"):
        view.move_cursor(fig, len(t))


def test_pages_cover_the_trace() -> None:
    t = _long_trace(300)
    pages = ladder_pages(t)
    assert pages == [0, *(ladder_window(t, first=p)[1] for p in pages[:-1])]
    assert len(pages) == 12 and ladder_window(t, first=pages[-1])[1] == len(t)
    assert ladder_pages(t, max_segments=None) == [0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_segments": -1}, "max_segments = -1"),
        ({"max_segments": 2.5}, "max_segments = 2.5"),
        ({"window": (2.0, 1.0)}, r"window = \(2.0, 1.0\).*t0 <= t1"),
        ({"window": (50.0, 60.0)}, r"window = \(50.0, 60.0\).*records from index 0: 0.000 to 2.994 s"),
        ({"window": "soon"}, "window = 'soon'"),
        ({"first": 99999}, "first = 99999.*from 0 to 1200"),
    ],
)
def test_bad_window_arguments(kwargs, match) -> None:
    with pytest.raises(ParameterError, match=match):
        ladder_figure(_long_trace(300), **kwargs)
