"""Queue timelines, state Gantt chart, time-sequence graph, ISN plot."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.trace import Trace
from tcpkit.viz.examples import example_trace
from tcpkit.viz.timeline import (
    isn_figure,
    queue_figure,
    queue_series,
    state_gantt_figure,
    state_intervals,
    time_sequence_figure,
)


def test_queue_series_from_a_trace() -> None:
    s = queue_series(example_trace("flood"))
    assert s.host == "server"
    assert max(s.syn_queue) == 4 and s.syn_queue[-1] == 0  # filled to the backlog, then drained
    assert list(s.t) == sorted(s.t)


def test_queue_series_from_flood_like_objects_and_lists() -> None:
    result = SimpleNamespace(samples=((0.0, 0, 0), (1.0, 128, 3), (2.0, 64, 0)))
    assert queue_series(result).syn_queue == (0, 128, 64)
    assert queue_series(SimpleNamespace(t=[0, 1], syn_queue=[1, 2], accept_queue=[0, 1])).accept_queue == (0, 1)
    assert queue_series(([0, 1], [3, 4], [0, 0])).syn_queue == (3, 4)
    with pytest.raises(ParameterError, match="same length"):
        queue_series(([0, 1], [3], [0, 0]))
    with pytest.raises(ParameterError, match="a Trace, a FloodResult"):
        queue_series(42)


def test_queue_series_from_the_real_flood_model() -> None:
    flood = pytest.importorskip("tcpkit.drivers.flood")
    res = flood.simulate_flood(duration=2.0, flood_rate=200, legit_rate=5, backlog=16)
    s = queue_series(res)
    assert len(s.t) == len(res.samples) > 0
    assert max(s.syn_queue) <= 16 + 1


def test_queue_figure_limits() -> None:
    fig = queue_figure(([0, 1, 2], [0, 5, 3], [0, 1, 0]), limits={"syn_queue": 4, "accept_queue": 2})
    names = [d.name for d in fig.data]
    assert names == ["SYN queue", "accept queue", "SYN queue limit", "accept queue limit"]
    assert fig.data[0].line.shape == "hv"
    empty = queue_figure(Trace())
    assert "no QUEUE records" in empty.layout.title.text


def test_state_intervals_cover_each_connection() -> None:
    rows = state_intervals(example_trace("lossy"))
    client = [(s, a, b) for h, s, a, b, _ in rows if h == "client"]
    assert [s for s, _, _ in client] == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"]
    for (_, _, end), (_, start, _) in zip(client, client[1:], strict=False):
        assert end == start  # no holes
    tw = next((a, b) for s, a, b in client if s == "TIME_WAIT")
    assert tw[1] - tw[0] == pytest.approx(60.0)


def test_gantt_figure() -> None:
    fig = state_gantt_figure(example_trace("lossy"))
    bars = {d.name: d for d in fig.data}
    assert {"LISTEN", "ESTABLISHED", "TIME_WAIT"} <= set(bars)
    assert bars["TIME_WAIT"].x[0] == pytest.approx(60.0)


def test_time_sequence_graph_marks_the_retransmission() -> None:
    fig = time_sequence_figure(example_trace("lossy"), host="client")
    data = {d.name: d for d in fig.data}
    sent = [y for y in data["data sent"].y if y is not None]
    rex = [y for y in data["retransmitted"].y if y is not None]
    assert rex == [1, 1001]  # the lost first segment, sent again
    assert min(sent) == 0  # the SYN
    assert max(data["ACK received"].y) == 2002  # ACK of our FIN
    with pytest.raises(ParameterError, match="host = 'nobody'"):
        time_sequence_figure(example_trace("lossy"), host="nobody")


def test_isn_figure() -> None:
    pytest.importorskip("tcpkit.engine.isn")
    fig = isn_figure(["clock", "rfc6528"], seed=1, times=[0.0, 1.0, 2.0])
    clock = [d for d in fig.data if d.legendgroup == "clock"]
    keyed = [d for d in fig.data if d.legendgroup == "rfc6528"]
    assert len(clock) == len(keyed) == 2
    assert list(clock[0].customdata) == list(clock[1].customdata)  # a clock ignores the 4-tuple
    assert list(keyed[0].customdata) != list(keyed[1].customdata)  # a keyed hash does not
    # each panel plots the movement, so the clock's climb (250,000 per second) is what the axis shows
    assert list(clock[0].y) == list(keyed[0].y) == list(keyed[1].y) == [0, 250_000, 500_000]
    assert clock[0].xaxis != keyed[0].xaxis  # one panel per generator, each on its own scale
    assert "apart" in fig.layout.annotations[1].text and "same ISN" in fig.layout.annotations[0].text
    again = isn_figure(["rfc6528"], seed=1, times=[0.0, 1.0, 2.0])
    assert list(again.data[0].customdata) == list(keyed[0].customdata)  # same seed, same picture
