"""Segments, sequence arithmetic, the transition table, traces and profiles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpkit import KnobError, RemovedKnobError, SegmentSyntaxError, get_profile, parse_segment
from tcpkit.engine.segment import Flags, Segment
from tcpkit.engine.seqnum import seq_add, seq_diff, seq_lt
from tcpkit.engine.states import STATES, TRANSITIONS, Event, State, lookup
from tcpkit.engine.trace import SegmentSent, Trace

CANONICAL = [
    "S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>",
    "S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 100 ecr 0>",
    "R 1:1(0)",
    "R. 1:1(0) ack 1 win 0",
    "FP. 13001:20001(7000) ack 1",
    ". 1:1(0) ack 1 <...>",
    ". 5:5(0) ack 9 win 10 <nop,nop,sack 1:5 9:12>",
    "S 0:0(0) <mss 1460,FO 0102030405060708,eol>",
    "P.U 1:2(1) ack 1 win 100 urg 1",
    "SEW 4294967295:4294967295(0) win 0",
]


@pytest.mark.parametrize("text", CANONICAL)
def test_notation_round_trips_exactly(text: str) -> None:
    assert parse_segment(text).notation() == text


@pytest.mark.parametrize(
    ("text", "column", "fragment"),
    [
        ("X 0:0(0)", 1, "unknown flag letter"),
        ("S 0:0", 3, "sequence range"),
        ("S 0:5(2)", 3, "holds 5 bytes"),
        ("S 0:0(0) win 70000", 14, "between 0 and 65535"),
        ("S 0:0(0) <mss 1460,bogus>", 20, "unknown or malformed option"),
        ("S 0:0(0) frob 3", 10, "unexpected 'frob'"),
    ],
)
def test_bad_notation_names_the_column(text: str, column: int, fragment: str) -> None:
    with pytest.raises(SegmentSyntaxError) as info:
        parse_segment(text)
    assert info.value.column == column
    assert fragment in str(info.value)


@given(
    seq=st.integers(0, 2**32 - 1),
    ack=st.integers(0, 2**32 - 1),
    length=st.integers(0, 65535),
    flags=st.integers(0, 255),
    window=st.none() | st.integers(0, 65535),
)
def test_any_segment_round_trips(seq: int, ack: int, length: int, flags: int, window: int | None) -> None:
    f = Flags(flags)
    seg = Segment(seq=seq, ack=ack if f & Flags.ACK else 0, flags=f, window=window, length=length)
    assert parse_segment(seg.notation()) == seg


@given(a=st.integers(0, 2**32 - 1), n=st.integers(1, 2**31 - 1))
def test_sequence_order_survives_wraparound(a: int, n: int) -> None:
    b = seq_add(a, n)
    assert seq_lt(a, b) and not seq_lt(b, a)
    assert seq_diff(b, a) == n


def test_table_has_the_eleven_states_and_the_edges_figure_5_omits() -> None:
    assert [s.value for s in STATES] == [
        "CLOSED",
        "LISTEN",
        "SYN_SENT",
        "SYN_RECEIVED",
        "ESTABLISHED",
        "FIN_WAIT_1",
        "FIN_WAIT_2",
        "CLOSE_WAIT",
        "CLOSING",
        "LAST_ACK",
        "TIME_WAIT",
    ]
    assert lookup(State.FIN_WAIT_1, Event.RCV_ACK_OF_FIN).dst is State.FIN_WAIT_2  # a FIN+ACK: then FIN_WAIT_2
    assert lookup(State.SYN_RECEIVED, Event.RCV_RST, "passive open").dst is State.LISTEN
    assert lookup(State.TIME_WAIT, Event.TIMEOUT_2MSL).dst is State.CLOSED
    rst_sources = {t.src for t in TRANSITIONS if t.event is Event.RCV_RST}
    assert rst_sources == set(STATES) - {State.CLOSED, State.LISTEN}
    for t in TRANSITIONS:
        assert t.rfc and t.group, t
    for s in STATES:
        assert s.zh and s.description and s.description_zh


def test_trace_json_is_stable_and_versioned() -> None:
    rec = SegmentSent(time=0.25, host="c", conn=("a", 1, "b", 2), segment=parse_segment("S 0:0(0) win 5"))
    text = Trace([rec], {"seed": 1}).to_json()
    assert Trace.from_json(text).to_json() == text
    assert '"version": 2' in text


def test_profiles_validate_and_know_removed_knobs() -> None:
    linux = get_profile("linux")
    assert linux.params.syn_retries == 6 and linux.params.synack_retries == 5
    assert linux.params.time_wait == 60 and linux.params.fin_timeout == 60
    assert (linux.params.keepalive_time, linux.params.keepalive_intvl, linux.params.keepalive_probes) == (7200, 75, 9)
    assert (linux.params.port_low, linux.params.port_high) == (32768, 60999)
    assert get_profile("freebsd").params.time_wait == 60
    assert get_profile("rfc9293").params.time_wait == 240
    with pytest.raises(KnobError, match="tcp_synack_retries = 300 .* from 0 to 255"):
        linux.set(tcp_synack_retries=300)
    with pytest.raises(RemovedKnobError, match="4.12"):
        linux.set_sysctl("net.ipv4.tcp_tw_recycle", "1")
    with pytest.raises(KnobError, match="ip_local_port_low"):
        linux.set(ip_local_port_low=61000)


def test_generated_state_reference_is_up_to_date() -> None:
    from pathlib import Path

    from tcpkit.cli.docs import states_markdown

    path = Path(__file__).resolve().parent.parent / "docs" / "states.md"
    assert path.read_text(encoding="utf-8") == states_markdown(), "run: python -m tcpkit.cli.docs"
