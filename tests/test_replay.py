"""Replaying captures through the engine on both sides (tcpkit.capture.replay)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpkit.capture.pcap import CapturedPacket, export_pcap_bytes, read_capture
from tcpkit.capture.replay import ReplayReport, replay
from tcpkit.cli.pcap import main
from tcpkit.drivers.scenarios import run_scenario
from tcpkit.engine.errors import TcpkitError, TraceFormatError
from tcpkit.engine.segment import Flags, parse_segment
from tcpkit.engine.states import Event, State, lookup
from tcpkit.engine.trace import Kind, Trace

CAPTURES = Path(__file__).resolve().parent.parent / "tcpkit" / "data" / "captures"
A, B = "10.0.0.1", "10.0.0.2"
TIMER_EVENTS = {e.value for e in Event if e.name.startswith("TIMEOUT_")}

# Same expectations as the table-based observer, now from the engine: one table, in tests/test_pcap.py.
from test_pcap import EXPECTED  # noqa: E402


def _paths(trace: Trace, names: tuple[str, str] = ("client", "server")) -> tuple[list[str], list[str]]:
    return [s.value for _, s in trace.states(names[0])], [s.value for _, s in trace.states(names[1])]


def _pk(t: float, src: str, dst: str, sp: int, dp: int, text: str) -> CapturedPacket:
    return CapturedPacket(t, src, dst, parse_segment(text).replace(src_port=sp, dst_port=dp))


# ----------------------------------------------------------------------------- real loopback captures


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_captures_replay_with_the_expected_states_and_agree(name: str) -> None:
    cap = read_capture(CAPTURES / f"{name}.pcap")
    res = replay(cap)
    assert _paths(res.trace) == EXPECTED[name]
    rep = res.report
    assert res.agrees and rep.agrees
    assert rep.captured == rep.matched == len(cap.packets)
    assert (rep.mismatched, rep.not_produced, rep.extra) == (0, 0, 0)
    # The engine sent every captured segment itself: its SEND records carry the captured
    # flags, numbers and lengths, in the same order per side.
    for host, addr_port in (("client", cap.connections()[0].conn[:2]), ("server", cap.connections()[0].conn[2:])):
        sent = [r.segment for r in res.trace.filter(host=host, kind=Kind.SEND)]
        want = [p.segment for p in cap.packets if (p.src, p.segment.src_port) == addr_port]
        assert [(s.flags & ~Flags.PSH, s.seq, s.ack, s.length) for s in sent if s is not None] == [
            (s.flags & ~Flags.PSH, s.seq, s.ack, s.length) for s in want
        ]
    # every engine state change is a row of the transition table
    for r in res.trace.filter(kind=Kind.STATE):
        row = lookup(State(r.src.value), Event(r.event.value), r.condition or "")
        assert row.dst.value == r.dst.value


def test_real_capture_differences_are_only_window_and_options() -> None:
    # Loopback Linux advertises MSS 65495 and window scale 10; the engine profile has its own
    # buffers, so windows and SYN options differ, and they are counted, not failed.
    res = replay(read_capture(CAPTURES / "client_closes_first.pcap"))
    assert set(res.report.minor) <= {"window", "options", "psh"}
    assert res.report.minor.get("window", 0) > 0
    assert all(r.verdict == "match" for r in res.report.rows)


def test_captured_isns_and_timestamp_clock_are_used() -> None:
    cap = read_capture(CAPTURES / "half_close.pcap")
    res = replay(cap)
    syn, synack = cap.packets[0].segment, cap.packets[1].segment
    eng = {r.host: r.segment for r in res.trace.filter(kind=Kind.SEND) if r.segment is not None and r.segment.syn}
    assert eng["client"].seq == syn.seq and eng["server"].seq == synack.seq
    # the engine's first TSval equals the captured one (same clock offset, 1 ms ticks)
    assert eng["client"].timestamp is not None and syn.timestamp is not None
    assert eng["client"].timestamp[0] == syn.timestamp[0]
    assert eng["server"].timestamp is not None and synack.timestamp is not None
    assert eng["server"].timestamp[0] == synack.timestamp[0]


@pytest.mark.parametrize(
    ("name", "calls"),
    [
        ("half_close", {"client": "shutdown(3, SHUT_WR)", "server": "accept(3)"}),
        ("abort_rst", {"client": "setsockopt(3, SO_LINGER, (True, 0))", "server": "accept(3)"}),
        ("client_closes_first", {"client": "close(3)", "server": "close(4)"}),
    ],
)
def test_inferred_application_calls(name: str, calls: dict[str, str]) -> None:
    res = replay(read_capture(CAPTURES / f"{name}.pcap"))
    for host, call in calls.items():
        made = [r.call for r in res.trace.filter(host=host, kind=Kind.CALL)]
        assert call in made, made


def test_names_and_profile_are_passed_on() -> None:
    cap = read_capture(CAPTURES / "client_closes_first.pcap")
    res = replay(cap, names=("alice", "bob"), profile="freebsd")
    assert res.trace.meta["profile"] == "freebsd"
    assert {r.host for r in res.trace} == {"alice", "bob"}
    assert _paths(res.trace, ("alice", "bob"))[0][:3] == ["CLOSED", "SYN_SENT", "ESTABLISHED"]
    assert res.report.captured == 9


# ----------------------------------------------------------------------------- engine-made captures


@pytest.mark.parametrize(
    "name", ["open_close_client_first", "half_close", "abort_rst", "connection_refused", "simultaneous_close"]
)
def test_engine_traces_exported_and_replayed_agree_exactly(name: str) -> None:
    trace = run_scenario(name, seed=1)
    cap = read_capture(export_pcap_bytes(trace))
    # export_pcap writes each segment when it leaves its host: the scenarios' links take 10 ms.
    res = replay(cap, delay=0.01)
    rep = res.report
    assert rep.agrees, rep.to_dict()["differences"]
    assert rep.captured == rep.matched == len(cap.packets)
    assert not rep.minor  # same engine, same clocks: windows and options agree too
    # and the engine went through the same states as in the original run, connection by connection
    # (timers are not on the wire; a listener is not a connection and shows only if it answered)
    assert _edges(res.trace) == _edges(trace)


def _edges(trace: Trace) -> dict[tuple[str, int, str, int], list[tuple[str | None, str | None]]]:
    out: dict[tuple[str, int, str, int], list[tuple[str | None, str | None]]] = {}
    for r in trace.filter(kind=Kind.STATE):
        if r.conn is None or r.event.value in TIMER_EVENTS or (r.src.value, r.dst.value) == ("CLOSED", "LISTEN"):
            continue
        out.setdefault(r.conn, []).append((r.src.value, r.dst.value))
    return out


def test_half_close_fin_on_data_is_one_write_then_close() -> None:
    # The server's last data segment carries the FIN (FP.): close() came while data waited.
    trace = run_scenario("half_close", seed=1)
    res = replay(read_capture(export_pcap_bytes(trace)), delay=0.01)
    calls = [
        r.call
        for r in res.trace.filter(host="server", kind=Kind.CALL)
        if r.call and r.call.startswith(("send", "close"))
    ]
    assert calls[-2:] == ["send(4, 20000)", "close(4)"]


def test_a_write_larger_than_the_send_buffer_goes_on_as_it_drains() -> None:
    # 1 MB does not fit the send buffer: the replayed application keeps writing as ACKs
    # free space, and closes only when all of it was taken (the FIN rides on the last data).
    trace = run_scenario("half_close", seed=1, reply=1_000_000)
    cap = read_capture(export_pcap_bytes(trace))
    res = replay(cap, delay=0.01)
    assert res.agrees, res.report.to_dict()["differences"]
    sends = [r.call for r in res.trace.filter(host="server", kind=Kind.CALL) if r.call and r.call.startswith("send")]
    assert sends[0] == "send(4, 1000000)" and len(sends) > 1
    sent = {
        (r.segment.seq, r.segment.length)
        for r in res.trace.filter(host="server", kind=Kind.SEND)
        if r.segment is not None
    }
    assert sum(n for _, n in sent) == 1_000_000  # every byte left the replayed server once


# ----------------------------------------------------------------------------- discrepancies


def _client_closes_first() -> list[CapturedPacket]:
    return list(read_capture(CAPTURES / "client_closes_first.pcap").packets)


def test_a_wrong_ack_is_a_mismatch_with_a_note() -> None:
    pk = _client_closes_first()
    p = pk[4]  # the server's ACK of the 5 data bytes
    pk[4] = CapturedPacket(p.time, p.src, p.dst, p.segment.replace(ack=p.segment.ack - 2), p.frame)
    res = replay(pk)
    assert not res.agrees and res.report.mismatched == 1
    row = next(r for r in res.report.rows if r.verdict == "mismatch")
    assert row.host == "server" and "ack 4 vs 6" in row.details
    notes = [r.text or "" for r in res.trace.filter(host="server", kind=Kind.NOTE)]
    assert any("frame 5" in n and "ack 4 vs 6" in n for n in notes)


def test_a_missing_segment_makes_the_engine_one_extra() -> None:
    pk = _client_closes_first()[:-1]  # the client's last ACK was not captured
    res = replay(pk)
    assert (res.report.extra, res.report.mismatched, res.report.not_produced) == (1, 0, 0)
    row = next(r for r in res.report.rows if r.verdict == "extra")
    assert row.host == "client" and row.engine is not None and row.engine.startswith(". 7:7(0) ack 2 ")
    # the server never got that ACK: it stays in LAST_ACK
    assert _paths(res.trace)[1][-1] == "LAST_ACK"


def test_a_segment_the_engine_would_not_send_is_not_produced() -> None:
    pk = _client_closes_first()
    p = pk[4]
    dup = CapturedPacket(p.time + 0.000001, p.src, p.dst, p.segment.replace(flags=Flags.ACK | Flags.URG), p.frame)
    res = replay([*pk[:5], dup, *pk[5:]])
    assert res.report.not_produced == 1 and res.report.matched == len(pk)


def test_every_difference_has_a_note_and_a_summary_note() -> None:
    pk = _client_closes_first()[:-1]
    res = replay(pk)
    notes = [r.text or "" for r in res.trace.filter(kind=Kind.NOTE)]
    assert sum("which the capture does not show" in n for n in notes) == res.report.extra == 1
    assert any(n.startswith("replay of 127.0.0.1:41306 -> 127.0.0.1:36213: replayed 8") for n in notes)
    assert res.trace.meta["report"]["extra"] == 1


def test_report_summary_and_adding() -> None:
    a = ReplayReport(captured=2, matched=2, minor={"window": 1})
    b = ReplayReport(captured=1, not_produced=1, skipped=["x"])
    a.add(b)
    assert (a.captured, a.matched, a.not_produced, a.minor) == (3, 2, 1, {"window": 1})
    assert not a.agrees and "1 connections not replayable" in a.summary()


# ----------------------------------------------------------------------------- odd captures


def test_capture_starting_mid_connection_is_a_clear_error() -> None:
    pk = _client_closes_first()[3:]
    with pytest.raises(TraceFormatError, match="starts mid-way .*replay needs the opening SYN"):
        replay(pk)


def test_empty_capture_is_a_clear_error() -> None:
    with pytest.raises(TraceFormatError, match="nothing to replay"):
        replay(read_capture(export_pcap_bytes(Trace())))


def test_a_stray_connection_is_skipped_not_fatal() -> None:
    stray = _pk(0.5, A, B, 7, 80, ". 1:1(0) ack 1 win 9")
    res = replay([*_client_closes_first(), stray])
    assert res.report.matched == 9 and len(res.report.skipped) == 1 and not res.agrees
    assert "10.0.0.1:7 -> 10.0.0.2:80 starts mid-way" in res.report.skipped[0]


def test_port_zero_and_bad_delay_are_clear_errors() -> None:
    with pytest.raises(TraceFormatError, match="ports 1 to 65535"):
        replay([_pk(0.0, A, B, 0, 80, "S 0:0(0) win 9")])
    with pytest.raises(TcpkitError, match="delay"):
        replay(_client_closes_first(), delay=-1)


def test_truncated_capture_file_replays_what_it_has() -> None:
    data = (CAPTURES / "half_close.pcap").read_bytes()
    cut = read_capture(data[: len(data) // 2])
    assert cut.report.skipped["truncated record"] == 1
    res = replay(cut)
    assert res.report.captured == len(cut.packets) < 15
    assert res.agrees  # everything up to the cut is reproduced


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_connections_never_crash(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(EXPECTED)))
    pk = list(read_capture(CAPTURES / f"{name}.pcap").packets)
    for _ in range(data.draw(st.integers(1, 4))):
        if not pk:
            break
        i = data.draw(st.integers(0, len(pk) - 1))
        p = pk[i]
        seg = p.segment
        op = data.draw(st.sampled_from(["flags", "seq", "ack", "length", "dup", "drop"]))
        if op == "dup":
            pk.insert(i, p)
            continue
        if op == "drop":
            del pk[i]
            continue
        if op == "flags":
            seg = seg.replace(flags=Flags(data.draw(st.integers(0, 63))))
        elif op == "seq":
            seg = seg.replace(seq=(seg.seq + data.draw(st.sampled_from([-1, 1, 1000, 2**31]))) % 2**32)
        elif op == "ack":
            seg = seg.replace(ack=(seg.ack + data.draw(st.sampled_from([-1, 1, 1000, 2**31]))) % 2**32)
        else:
            seg = seg.replace(length=data.draw(st.sampled_from([0, 1, 5000])), payload=None)
        pk[i] = CapturedPacket(p.time, p.src, p.dst, seg, p.frame)
    if data.draw(st.booleans()):
        pk = data.draw(st.permutations(pk))
    try:
        res = replay(pk, delay=data.draw(st.sampled_from([0.0, 0.001])))
    except TcpkitError:
        return
    rep = res.report
    assert rep.matched + rep.mismatched + rep.not_produced == rep.captured


# ----------------------------------------------------------------------------- CLI


def test_cli_import_replay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    js = tmp_path / "replayed.json"
    assert main(["import", str(CAPTURES / "abort_rst.pcap"), "--replay", "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "engine replay (profile linux): replayed 6 captured segments: 6 matched" in out
    assert "the engine agrees with the capture" in out
    back = Trace.from_json(js.read_text(encoding="utf-8"))
    assert back.meta["source"] == "replay" and back.meta["report"]["matched"] == 6


def test_cli_replay_shows_differences_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(CAPTURES / "half_close.pcap"), "--replay", "--profile", "freebsd"]) == 0
    out = capsys.readouterr().out
    assert "engine replay (profile freebsd)" in out and "the engine differs from the capture" in out
    assert main(["import", str(CAPTURES / "half_close.pcap"), "--replay", "--profile", "windows"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tcpkit pcap: error:") and "windows" in err and "Traceback" not in err
    mid = tmp_path / "mid.pcap"
    mid.write_bytes(export_pcap_bytes(run_scenario("open_close_client_first", seed=1).filter(kind=Kind.SEND)[3:]))
    assert main(["import", str(mid), "--replay"]) == 1
    assert "starts mid-way" in capsys.readouterr().err
