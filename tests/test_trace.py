"""Typed trace events and the saved JSON form: round trips, version 1, and every way a file can be broken."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpkit.drivers.scenarios import run_scenario
from tcpkit.engine.errors import ParameterError, TcpkitError, TraceFormatError
from tcpkit.engine.events import CLASSES
from tcpkit.engine.segment import parse_segment
from tcpkit.engine.states import Event, State, lookup
from tcpkit.engine.trace import (
    MAX_DEPTH,
    CallMade,
    CounterChanged,
    HostRestarted,
    Kind,
    Note,
    QueueChanged,
    SegmentDropped,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerCancelled,
    TimerFired,
    TimerSet,
    Trace,
)

C = ("10.0.0.1", 40000, "10.0.0.2", 80)


def _one_of_each() -> Trace:
    seg = parse_segment("S 7:7(0) win 100 <mss 1460>")
    return Trace(
        [
            SegmentSent(time=0.0, host="c", conn=C, segment=seg, peer="s", seq_base=(7, 0)),
            SegmentReceived(time=0.1, host="s", conn=C, segment=seg),
            SegmentDropped(time=0.2, host="s", conn=C, segment=seg, reason="link: lost"),
            StateChanged(time=0.3, host="c", conn=C, row=lookup(State.CLOSED, Event.ACTIVE_OPEN)),
            TimerSet(time=0.4, host="c", conn=C, timer="rexmt", deadline=1.4),
            TimerFired(time=1.4, host="c", conn=C, timer="rexmt", deadline=1.4),
            TimerCancelled(time=1.5, host="c", conn=C, timer="rexmt"),
            CallMade(time=1.6, host="c", call="close(3)", result="0"),
            QueueChanged(time=1.7, host="s", syn_queue=1, accept_queue=2, syn_limit=8, accept_limit=8),
            CounterChanged(time=1.8, host="s", name="ListenOverflows", value=3),
            Note(time=1.9, host="s", text="hello"),
            HostRestarted(time=2.0, host="c"),
        ],
        {"seed": 1},
    )


def test_every_kind_round_trips_and_has_its_class() -> None:
    t = _one_of_each()
    assert {r.kind for r in t} == set(Kind) == set(CLASSES)
    back = Trace.from_json(t.to_json())
    assert back == t and back.meta == {"seed": 1}
    assert Trace.from_json(t.to_json().encode("utf-8")) == t


def test_a_scenario_trace_round_trips_byte_for_byte() -> None:
    t = run_scenario("lost_final_ack", seed=3)
    text = t.to_json()
    assert Trace.from_json(text).to_json() == text


def test_a_restart_closes_every_connection_of_the_host_in_its_state_path() -> None:
    from tcpkit.lessons.runs import build_run

    t = build_run("half-open-reconnect").finish()
    [crash] = t.of(HostRestarted)
    conn = ("10.0.0.1", 40000, "10.0.0.2", 80)
    before = [s for time, s in t.states("client", conn) if time < crash.time]
    assert before[-1] is State.ESTABLISHED
    assert (crash.time, State.CLOSED) in t.states("client", conn)
    back = Trace.from_json(t.to_json())
    assert back.states("client", conn) == t.states("client", conn)


def test_state_changes_carry_the_table_row() -> None:
    t = run_scenario("open_close_client_first", seed=1)
    for r in t.state_changes():
        assert r.row is lookup(r.src, r.event, r.condition)
    assert t.final_state("client") is State.CLOSED
    assert [s for _, s in t.states("client")][:3] == [State.CLOSED, State.SYN_SENT, State.ESTABLISHED]


def test_typed_filters() -> None:
    t = _one_of_each()
    assert [type(r) for r in t.filter(kind=SegmentDropped)] == [SegmentDropped]
    assert len(t.filter(kind="timer_fire")) == 1 and len(t.filter(kind=Kind.NOTE)) == 1
    assert [r.timer for r in t.of(TimerSet, "c")] == ["rexmt"]


def test_version_1_files_are_still_read() -> None:
    v1 = {
        "schema": "tcpkit-trace",
        "version": 1,
        "meta": {},
        "records": [
            {"t": 0, "host": "c", "kind": "state", "src_state": "CLOSED", "dst_state": "SYN_SENT", "event": "connect"},
            {"t": 1, "host": "s", "kind": "queue", "values": [["syn_queue", 2], ["accept_queue", 1]]},
            {"t": 2, "host": "s", "kind": "counter", "values": [["SyncookiesSent", 4]]},
        ],
    }
    t = Trace.from_json(json.dumps(v1))
    st_, q, c = t
    assert isinstance(st_, StateChanged) and st_.dst is State.SYN_SENT
    assert isinstance(q, QueueChanged) and (q.syn_queue, q.accept_queue) == (2, 1)
    assert isinstance(c, CounterChanged) and (c.name, c.value) == ("SyncookiesSent", 4)


def _doc(records: object = (), **top: object) -> str:
    d = {"schema": "tcpkit-trace", "version": 2, "meta": {}, "records": list(records)} | top  # type: ignore[call-overload]
    return json.dumps(d)


SEND = {
    "t": 0.0,
    "host": "c",
    "kind": "send",
    "seg": {"sport": 1, "dport": 2, "seq": 0, "ack": 0, "flags": "S", "len": 0},
}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (_doc().replace('"records": []', '"records": 5'), "records: expected a list of records, got 5"),
        (_doc(meta=[1, 2]), "meta: expected an object"),
        (_doc([SEND | {"seg": "x"}]), "records[0].seg: expected an object, got 'x'"),
        (_doc([SEND | {"t": "soon"}]), "records[0].t: expected a finite number"),
        (_doc([SEND]).replace('"t": 0.0', '"t": NaN'), "NaN is not allowed"),
        (_doc([SEND]).replace('"t": 0.0', '"t": Infinity'), "Infinity is not allowed"),
        (_doc([SEND | {"kind": "teleport"}]), "records[0].kind: expected one of send, recv"),
        (_doc([SEND | {"seg": SEND["seg"] | {"seq": 2**32}}]), "records[0].seg.seq: expected an integer from 0"),  # type: ignore[operator]
        (_doc([SEND | {"seg": SEND["seg"] | {"dport": 70000}}]), "records[0].seg.dport"),  # type: ignore[operator]
        (_doc([SEND | {"seg": SEND["seg"] | {"flags": "XYZ"}}]), "records[0].seg.flags"),  # type: ignore[operator]
        (_doc([SEND | {"seg": SEND["seg"] | {"opts": "mss banana"}}]), "records[0].seg.opts"),  # type: ignore[operator]
        (_doc([SEND | {"conn": ["a", 1, "b"]}]), "records[0].conn: expected a list of 4 items"),
        (
            _doc([{"t": 0, "host": "c", "kind": "state", "src": "LISTEN", "event": "rcv FIN", "dst": "CLOSED"}]),
            "no transition from LISTEN on 'rcv FIN'",
        ),
        (
            _doc([{"t": 0, "host": "c", "kind": "state", "src": "LISTEN", "event": "rcv SYN", "dst": "CLOSED"}]),
            "goes to SYN_RECEIVED, not CLOSED",
        ),
        (_doc([{"t": 0, "host": "c", "kind": "timer_set", "timer": "rexmt"}]), "deadline: expected a finite number"),
        (_doc(version=7), "schema version 7 is not supported"),
        ('{"schema": "other"}', "not a tcpkit trace"),
        ("{", "not JSON"),
        ("[" * 200_000 + "]" * 200_000, f"nested deeper than {MAX_DEPTH}"),
    ],
)
def test_broken_documents_name_the_field(text: str, fragment: str) -> None:
    with pytest.raises(TraceFormatError) as info:
        Trace.from_json(text)
    assert fragment in str(info.value)


def test_encodings() -> None:
    good = _one_of_each().to_json()
    with pytest.raises(TraceFormatError, match="UTF-16"):
        Trace.from_json(good.encode("utf-16"))
    with pytest.raises(TraceFormatError, match="not UTF-8"):
        Trace.from_json(b'{"x": "\xff"}')
    assert Trace.from_json(b"\xef\xbb\xbf" + good.encode()) == Trace.from_json(good)  # a BOM is tolerated


def test_events_validate_their_own_fields() -> None:
    with pytest.raises(ParameterError, match="time"):
        Note(time=float("nan"), host="a", text="x")
    with pytest.raises(ParameterError, match="segment"):
        SegmentSent(time=0.0, host="a", segment="S 0:0(0)")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="row"):
        StateChanged(time=0.0, host="a", row="LISTEN")  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    record=st.dictionaries(
        st.sampled_from(
            ["t", "host", "kind", "conn", "seg", "src", "dst", "event", "timer", "deadline", "name", "value"]
        ),
        json_values | st.sampled_from([k.value for k in Kind]),
        max_size=8,
    )
)
def test_any_malformed_record_gives_only_a_trace_format_error(record: dict[str, object]) -> None:
    try:
        Trace.from_json(_doc([record]))
    except TraceFormatError:
        pass
    except TcpkitError as exc:  # pragma: no cover - would be a bug: the wrong error class
        raise AssertionError(f"{type(exc).__name__}: {exc}") from exc
