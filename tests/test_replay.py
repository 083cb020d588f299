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
    assert main(["import", str(CAPTURES / "half_close.pcap"), "--replay", "--profile", "windows"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tcpkit pcap: error:") and "windows" in err and "Traceback" not in err
    mid = tmp_path / "mid.pcap"
    mid.write_bytes(export_pcap_bytes(run_scenario("open_close_client_first", seed=1).filter(kind=Kind.SEND)[3:]))
    assert main(["import", str(mid), "--replay"]) == 2
    assert "starts mid-way" in capsys.readouterr().err


# ----------------------------------------------------------------------------- telling the engine from the harness

TWO_HOSTS = Path(__file__).resolve().parent / "data" / "captures"
AT_CLIENT: dict[str, object] = {"capture_at": "initiator", "delay": 0.005}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_loopback_captures_agree_in_time_too(name: str) -> None:
    rep = replay(read_capture(CAPTURES / f"{name}.pcap")).report
    assert rep.verdict == "agrees" and rep.in_time and not rep.undelivered


@pytest.mark.parametrize(
    ("name", "extra", "without", "undelivered"),
    [
        # what the harness got wrong before (infer=False is the old replay): now each one agrees
        ("request_reply", {}, "agrees", 0),
        ("refused", {}, "agrees", 0),
        ("abort_unread", {}, "agrees", 0),
        ("keepalive_answered", {}, "differs", 0),
        ("keepalive_dead_peer", {}, "differs", 4),
        ("lost_data", {}, "differs", 1),
        ("syn_black_hole", {}, "differs", 6),
        ("accept_overflow", {}, "differs", 0),
        ("fin_timeout", {"sysctls": {"client:tcp_fin_timeout": 2}}, "differs", 0),
    ],
)
def test_two_host_captures_agree_once_the_harness_knows(
    name: str, extra: dict[str, object], without: str, undelivered: int
) -> None:
    cap = read_capture(TWO_HOSTS / f"{name}.pcap")
    before = replay(cap, infer=False, **AT_CLIENT).report  # type: ignore[arg-type]
    assert before.verdict == without
    after = replay(cap, **AT_CLIENT, **extra).report  # type: ignore[arg-type]
    assert after.verdict == "agrees", after.to_dict()["differences"]
    assert after.captured == after.matched == len(cap.packets)
    assert len(after.undelivered) == undelivered


def test_a_sysctl_the_capture_cannot_show_must_be_given() -> None:
    cap = read_capture(TWO_HOSTS / "fin_timeout.pcap")
    rep = replay(cap, **AT_CLIENT).report  # type: ignore[arg-type]
    assert rep.verdict == "differs" and rep.mismatched == 1
    row = next(r for r in rep.rows if r.verdict == "mismatch")
    assert row.host == "client" and row.captured is not None and row.captured.startswith("R ")
    res = replay(cap, sysctls={"client:net.ipv4.tcp_fin_timeout": "2"}, **AT_CLIENT)  # type: ignore[arg-type]
    assert res.report.setup == ["initiator: tcp_fin_timeout=2.0"]
    # the client's orphaned FIN_WAIT_2 timed out, so the late FIN met no socket and was answered by RST
    assert _paths(res.trace)[0][-2:] == ["FIN_WAIT_2", "CLOSED"]


def test_keepalive_is_inferred_from_the_probes() -> None:
    res = replay(read_capture(TWO_HOSTS / "keepalive_dead_peer.pcap"), **AT_CLIENT)  # type: ignore[arg-type]
    assert any("SO_KEEPALIVE=1, TCP_KEEPIDLE=1, TCP_KEEPINTVL=1, TCP_KEEPCNT=3" in s for s in res.report.inferred)
    calls = [r.call for r in res.trace.filter(host="client", kind=Kind.CALL)]
    assert "setsockopt(3, TCP_KEEPCNT, 3)" in calls
    # the probes and the RST never reached the dead server: it stays ESTABLISHED, the client gives up
    assert _paths(res.trace)[1][-1] == "ESTABLISHED" and _paths(res.trace)[0][-1] == "CLOSED"
    assert all("probe the peer never answered" in u or "went silent" in u for u in res.report.undelivered)


def test_a_segment_captured_then_lost_is_not_delivered() -> None:
    cap = read_capture(TWO_HOSTS / "lost_data.pcap")
    res = replay(cap, **AT_CLIENT)  # type: ignore[arg-type]
    (why,) = res.report.undelivered
    assert why.startswith("frame 4 (client -> server, 'P. 1:101(100)") and "never acknowledged, then sent again" in why
    # delivered anyway (the old replay), the server acknowledged it 0.2 s early: an extra ACK and a timing error
    old = replay(cap, infer=False, **AT_CLIENT).report  # type: ignore[arg-type]
    assert old.extra == 1 and old.timing == 1


def test_a_silent_peer_is_a_black_hole_not_a_closed_port() -> None:
    res = replay(read_capture(TWO_HOSTS / "syn_black_hole.pcap"), **AT_CLIENT)  # type: ignore[arg-type]
    assert not [r for r in res.trace.filter(host="server", kind=Kind.SEND)]  # no RST invented
    assert any("black hole" in s for s in res.report.inferred)
    old = replay(read_capture(TWO_HOSTS / "syn_black_hole.pcap"), infer=False, **AT_CLIENT).report  # type: ignore[arg-type]
    assert old.extra == 6 and all(r.engine and r.engine.startswith("R.") for r in old.rows if r.verdict == "extra")


def test_one_listener_per_port_so_an_overflow_replays_as_an_overflow() -> None:
    cap = read_capture(TWO_HOSTS / "accept_overflow.pcap")
    assert len(cap.connections()) == 4
    res = replay(cap, **AT_CLIENT)  # type: ignore[arg-type]
    calls = [r.call for r in res.trace.filter(host="server", kind=Kind.CALL)]
    assert calls.count("listen(3, 1)") == 1 and not any(c.startswith("accept") for c in calls)
    assert any("accepts lazily" in s and "backlog 1" in s for s in res.report.inferred)
    # the late clients' SYNs met the full queue in the engine too: no SYN-ACK for them
    synacks = [r for r in res.trace.filter(host="server", kind=Kind.SEND) if r.segment.syn]
    assert len(synacks) == 2
    # told the backlog and accept behaviour, no inference needed for the listener
    told = replay(cap, backlog=1, accept="lazy", **AT_CLIENT).report  # type: ignore[arg-type]
    assert told.verdict == "agrees" and told.setup == ["responder: listen backlog 1", "responder: accept lazy"]


def test_a_timer_at_another_time_is_a_timing_difference_not_a_missing_and_an_extra_segment() -> None:
    # SYNs 1 s and then 3 s apart: the engine's linear schedule sends the third one earlier
    syns = [_pk(t, A, B, 5000, 80, "S 0:0(0) win 64240") for t in (0.0, 1.0, 4.0)]
    rep = replay(syns).report
    assert (rep.not_produced, rep.mismatched, rep.timing) == (0, 0, 1)
    row = next(r for r in rep.rows if r.verdict == "timing")
    assert row.time == 4.0 and row.offset is not None and row.offset < -0.5 and "earlier" in row.details
    assert rep.verdict in ("agrees, timing differs", "differs")  # the engine may also send one more SYN
    # a tolerance that covers it makes it a match
    assert replay(syns, tolerance=5.0).report.timing == 0


def test_timer_slack_follows_the_wait() -> None:
    # a keepalive probe 24 ms late after a 1 s wait is within the kernel's timer slack (an eighth)
    cap = read_capture(TWO_HOSTS / "keepalive_answered.pcap")
    assert replay(cap, **AT_CLIENT).report.timing == 0  # type: ignore[arg-type]
    strict = replay(cap, timer_slack=0.0, tolerance=0.001, **AT_CLIENT).report  # type: ignore[arg-type]
    assert strict.timing > 0 and strict.verdict == "agrees, timing differs"


def test_socket_options_and_sysctls_given_by_name_and_side() -> None:
    cap = read_capture(TWO_HOSTS / "keepalive_answered.pcap")
    res = replay(
        cap,
        infer=False,
        sockopts={"client:SO_KEEPALIVE": 1, "client:TCP_KEEPIDLE": "1"},
        sysctls={"server:tcp_syn_retries": 3},
        **AT_CLIENT,  # type: ignore[arg-type]
    )
    assert res.report.verdict == "agrees"
    assert res.report.setup == ["initiator: SO_KEEPALIVE=1, TCP_KEEPIDLE=1", "responder: tcp_syn_retries=3"]


def test_the_capture_point_shifts_send_and_arrival_times() -> None:
    cap = read_capture(TWO_HOSTS / "request_reply.pcap")
    wrong = replay(cap).report  # as if captured at each sender with no delay
    right = replay(cap, **AT_CLIENT).report  # type: ignore[arg-type]
    assert right.verdict == "agrees" and right.in_time
    assert sum(abs(r.offset or 0) for r in right.rows) < sum(abs(r.offset or 0) for r in wrong.rows)


def test_a_segment_acknowledged_before_it_was_resent_was_delivered() -> None:
    # captured at each sender, 20 ms apart: a spurious retransmission, the ACK was on its way when the copy left
    pk = [
        _pk(0.00, A, B, 5000, 80, "S 0:0(0) win 9000"),
        _pk(0.02, B, A, 80, 5000, "S. 0:0(0) ack 1 win 9000"),
        _pk(0.04, A, B, 5000, 80, ". 1:1(0) ack 1 win 9000"),
        _pk(0.05, A, B, 5000, 80, "P. 1:11(10) ack 1 win 9000"),
        _pk(0.07, B, A, 80, 5000, ". 1:1(0) ack 11 win 9000"),
        _pk(0.08, A, B, 5000, 80, "P. 1:11(10) ack 1 win 9000"),
        _pk(0.10, B, A, 80, 5000, ". 1:1(0) ack 11 win 9000 <nop,nop,sack 1:11>"),
    ]
    assert not replay(pk, delay=0.02).report.undelivered
    # SACK also proves delivery
    pk[4] = _pk(0.07, B, A, 80, 5000, ". 1:1(0) ack 1 win 9000 <nop,nop,sack 1:11>")
    assert not replay(pk, delay=0.02).report.undelivered
    # no acknowledgment at all before the copy: the first one was lost
    lost = pk[:4] + pk[5:]
    (why,) = replay(lost, delay=0.02).report.undelivered
    assert why.startswith("frame 0 (client -> server, 'P. 1:11(10)") and "never acknowledged, then sent again" in why
    # and when the peer never sends again, everything after a loss is lost too (it is gone)
    assert len(replay(lost[:-1], delay=0.02).report.undelivered) == 2
    # acknowledged in time, and still sent again: the acknowledgment was lost
    late = (
        pk[:4]
        + [_pk(0.06, B, A, 80, 5000, ". 1:1(0) ack 11 win 9000")]
        + [_pk(0.20, A, B, 5000, 80, "P. 1:11(10) ack 1 win 9000"), pk[6]]
    )
    (why,) = replay(late, delay=0.02).report.undelivered
    assert why.startswith("frame 0 (server -> client, '. 1:1(0) ack 11") and "acknowledgment the peer never got" in why


def test_cli_replay_flags_and_setup_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cap = str(TWO_HOSTS / "fin_timeout.pcap")
    setup = tmp_path / "replay.toml"
    setup.write_text(
        'capture_at = "initiator"\ndelay = 0.005\ntolerance_ms = 10\n[client.sysctl]\ntcp_fin_timeout = 2\n',
        encoding="utf-8",
    )
    assert main(["import", cap, "--replay", "--setup", str(setup)]) == 0
    out = capsys.readouterr().out
    assert "set: initiator: tcp_fin_timeout=2.0" in out and "the engine agrees with the capture" in out
    # flags override the file
    assert main(["import", cap, "--replay", "--setup", str(setup), "--set", "client:tcp_fin_timeout=60"]) == 0
    assert "the engine differs from the capture" in capsys.readouterr().out
    js = tmp_path / "r.json"
    args = ["import", str(TWO_HOSTS / "lost_data.pcap"), "--replay", "--capture-at", "initiator", "--delay", "0.005"]
    assert main([*args, "--json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "not delivered: frame 4" in out
    meta = Trace.from_json(js.read_text(encoding="utf-8")).meta
    assert meta["report"]["verdict"] == "agrees" and len(meta["report"]["undelivered"]) == 1
    assert main([*args, "--no-infer"]) == 0
    assert "the engine differs from the capture" in capsys.readouterr().out


def test_a_capture_cut_at_the_mss_is_replayed_with_tso_off_and_what_still_differs_stays() -> None:
    # a TUN device without offload: Linux's 10-MSS super-segments reach the capture cut into 1448-byte pieces
    cap = read_capture(TWO_HOSTS / "bulk_reply.pcap")
    told = replay(cap, infer=False, **AT_CLIENT).report  # type: ignore[arg-type]
    assert any("length 1448 vs 14480" in r.details for r in told.rows if r.verdict == "mismatch")
    rep = replay(cap, **AT_CLIENT).report  # type: ignore[arg-type]
    assert [x for x in rep.inferred if "tso=0" in x] and rep.inferred[0].startswith("server: 20 data segments")
    assert not [r for r in rep.rows if r.verdict == "mismatch"]  # every data segment now matches
    # what remains is real: the client ACKs every segment at first (Linux quick-ACK mode), the engine every other
    missing = [r for r in rep.rows if r.verdict == "not produced"]
    assert rep.verdict == "differs" and 0 < len(missing) <= 2
    assert all(r.host == "client" and r.captured.startswith(". ") for r in missing)
    assert replay(cap, **AT_CLIENT, sysctls={"server:tso": 1}).report.inferred == []  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "delay", "told", "inferred", "undelivered"),
    [
        # the simulator drops on the link after export_pcap saw the segment: the capture shows it, the peer never got it
        ("lost_final_ack", 0.01, {}, "", "an acknowledgment the peer never got"),
        (
            "keepalive_dead_peer",
            0.01,
            {},
            "TCP_KEEPIDLE=10, TCP_KEEPINTVL=5, TCP_KEEPCNT=3",
            "probe the peer never answered",
        ),
        ("accept_queue_overflow", 0.01, {"server:tcp_syncookies": 0}, "with backlog 3 (", ""),
        ("time_wait_exhaustion", 0.005, {"client:time_wait_len": 10}, "", ""),
        ("tw_reuse", 0.005, {"client:time_wait_len": 10, "client:tcp_tw_reuse": 1}, "", ""),
    ],
)
def test_exported_runs_with_losses_and_knobs_agree(
    name: str, delay: float, told: dict[str, object], inferred: str, undelivered: str
) -> None:
    cap = read_capture(export_pcap_bytes(run_scenario(name, seed=1)))
    rep = replay(cap, delay=delay, sysctls=told).report
    assert rep.verdict == "agrees", rep.to_dict()["differences"][:5]
    assert rep.captured == rep.matched == len(cap.packets)
    if inferred:
        assert any(inferred in s for s in rep.inferred), rep.inferred
    if undelivered:
        assert rep.undelivered and all(undelivered in u or "went silent" in u for u in rep.undelivered)


def test_a_reused_four_tuple_hints_at_the_time_wait_knobs() -> None:
    cap = read_capture(export_pcap_bytes(run_scenario("tw_reuse", seed=1)))
    rep = replay(cap, delay=0.005).report
    assert rep.verdict == "differs"
    assert any("TIME_WAIT was shorter" in s and "--set client:tcp_tw_reuse=1" in s for s in rep.inferred)
