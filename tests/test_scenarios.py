"""The scenario catalogue: every teaching point is checked from the trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from tcpkit.cli.scenario import main
from tcpkit.drivers.scenarios import SCENARIOS, list_scenarios, run_scenario
from tcpkit.engine.errors import ParameterError
from tcpkit.engine.profiles import get_profile
from tcpkit.engine.segment import Flags
from tcpkit.engine.timers import syn_retransmit_times
from tcpkit.engine.trace import CounterChanged, Kind, StateChanged, Trace

REQUIRED = {
    "open_close_client_first",
    "open_close_server_first",
    "half_close",
    "simultaneous_open",
    "simultaneous_close",
    "lost_final_ack",
    "lost_final_ack_no_time_wait",
    "old_duplicate",
    "two_way_handshake",
    "connection_refused",
    "abort_rst",
    "close_wait_leak",
    "fin_wait_2_orphan",
    "keepalive_dead_peer",
    "accept_queue_overflow",
    "syn_flood",
    "isn_prediction",
    "blind_rst",
    "time_wait_exhaustion",
    "tw_reuse",
    "tw_recycle_nat",
    "lost_handshake_ack",
}


def _sends(t: Trace, host: str, flags: str) -> list:
    from tcpkit.engine.segment import parse_flags

    f = parse_flags(flags)
    return [
        r for r in t if r.kind is Kind.SEND and r.host == host and r.segment is not None and (r.segment.flags & f) == f
    ]


def test_catalogue_is_complete_and_bilingual() -> None:
    assert set(SCENARIOS) >= REQUIRED
    for name, en, zh in list_scenarios():
        assert en and zh and en != zh, name
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), name


def test_meta_records_name_params_seed() -> None:
    t = run_scenario("connection_refused", seed=7, port=99)
    assert t.meta["scenario"] == "connection_refused"
    assert t.meta["seed"] == 7 and t.meta["params"] == {"port": 99} and t.meta["profile"] == "linux"


def test_client_closes_first_holds_time_wait() -> None:
    t = run_scenario("open_close_client_first")
    r = t.meta["result"]
    assert r["time_wait_host"] == "client"
    assert r["client_path"][-2:] == ["TIME_WAIT", "CLOSED"]
    assert r["server_path"] == ["LISTEN", "SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"]
    assert any("TIME_WAIT" in s for s in r["sockets_at_5s"]["client"]) and r["sockets_at_end"]["client"] == []
    assert r["bytes_delivered"] == 64
    # TIME_WAIT lasts the profile's 60 s: from entering it to leaving it
    path = [(tm, st.value) for tm, st in t.states("client")]
    enter = next(tm for tm, st in path if st == "TIME_WAIT")
    leave = next(tm for tm, st in path if st == "CLOSED" and tm > enter)
    assert leave - enter == pytest.approx(60.0)


def test_server_closes_first_holds_time_wait() -> None:
    r = run_scenario("open_close_server_first").meta["result"]
    assert r["time_wait_host"] == "server"
    assert "TIME_WAIT" not in r["client_path"] and "LAST_ACK" in r["client_path"]


def test_half_close_data_keeps_flowing() -> None:
    t = run_scenario("half_close", reply=30000)
    r = t.meta["result"]
    assert r["client_received"] == 30000 and r["server_received"] == 100
    assert "FIN_WAIT_2" in r["client_path"]
    assert r["bytes_received_after_client_fin"] == 30000  # the whole reply came after the client's FIN


def test_simultaneous_open() -> None:
    r = run_scenario("simultaneous_open").meta["result"]
    for side in ("client_path", "server_path"):
        assert r[side][:4] == ["CLOSED", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED"]
    assert r["both_established"] and r["syn_acks_sent"] >= 2


def test_simultaneous_close() -> None:
    r = run_scenario("simultaneous_close").meta["result"]
    for side in ("client_path", "server_path"):
        i = r[side].index("FIN_WAIT_1")
        assert r[side][i : i + 3] == ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"]
    assert r["time_wait"] == {"client": 1, "server": 1}


def test_lost_final_ack_time_wait_saves_the_close() -> None:
    t = run_scenario("lost_final_ack")
    r = t.meta["result"]
    assert len(r["dropped"]) == 1 and r["server_fins"] == 2
    assert r["server_closed_by"] == "rcv ACK of FIN" and r["client_rsts"] == 0 and r["clean_close"]
    assert not _sends(t, "client", "R")


def test_lost_final_ack_without_time_wait_draws_rst() -> None:
    t = run_scenario("lost_final_ack_no_time_wait")
    r = t.meta["result"]
    assert r["server_closed_by"] == "rcv RST" and not r["clean_close"]
    # the retransmitted FIN reached a port with no connection: the client stack answered with RST
    fins = [x for x in t if x.kind is Kind.RECV and x.host == "client" and x.segment is not None and x.segment.fin]
    rsts = _sends(t, "client", "R")
    assert len(fins) == 2 and len(rsts) == 1 and rsts[0].time == fins[1].time
    with pytest.raises(ParameterError):
        run_scenario("lost_final_ack_no_time_wait", profile="freebsd")


@pytest.mark.parametrize(("isn", "accepted"), [("fixed", True), ("clock", False), ("rfc6528", False), ("linux", False)])
def test_old_duplicate_and_isn(isn: str, accepted: bool) -> None:
    r = run_scenario("old_duplicate", isn=isn).meta["result"]
    assert r["connections"] == 2 and r["first_ok"]
    assert r["old_data_accepted"] is accepted
    assert (r["client_isns"][0] == r["client_isns"][1]) is (isn == "fixed")
    assert (r["old_segment_dropped_because"] is None) is accepted


def test_old_duplicate_old_ack_is_caught_when_only_the_client_isn_is_fixed() -> None:
    # the replayed segment acknowledges connection 1's server ISN: far below SND.UNA of connection 2
    r = run_scenario("old_duplicate", isn="fixed", server_isn="linux").meta["result"]
    assert r["client_isns"][0] == r["client_isns"][1] and r["server_isns"][0] != r["server_isns"][1]
    assert not r["old_data_accepted"] and "RFC 5961" in (r["old_segment_dropped_because"] or "")


def test_two_way_handshake_counterfactual() -> None:
    t = run_scenario("two_way_handshake")
    r = t.meta["result"]
    assert r["server_path"] == ["LISTEN", "SYN_RECEIVED", "LISTEN"]
    assert r["client_rsts"] == 1 and r["server_connections_left"] == 0
    assert any(x.kind is Kind.NOTE and "two-way" in x.host for x in t)


def test_connection_refused() -> None:
    r = run_scenario("connection_refused").meta["result"]
    assert r["client_error"] == "ECONNREFUSED" and r["server_rsts"] == 1
    assert r["client_path"] == ["CLOSED", "SYN_SENT", "CLOSED"]
    with pytest.raises(ParameterError):
        run_scenario("connection_refused", port=80)


def test_abort_with_linger_zero() -> None:
    t = run_scenario("abort_rst")
    r = t.meta["result"]
    assert r["client_fins"] == 0 and r["client_rsts"] >= 1 and not r["client_time_wait"]
    assert r["server_error"] == "ECONNRESET"


def test_close_wait_leak() -> None:
    r = run_scenario("close_wait_leak", clients=4).meta["result"]
    assert r["server_close_wait_at_5s"] == 4 and r["server_close_wait_at_end"] == 4
    assert r["client_fin_wait_2_at_end"] == 0  # the clients' orphans timed out; the server's leak stays


def test_fin_wait_2_orphan_times_out() -> None:
    r = run_scenario("fin_wait_2_orphan", fin_timeout=30).meta["result"]
    assert r["client_path"][-2:] == ["FIN_WAIT_2", "CLOSED"]
    assert r["fin_wait_2_seconds"] == pytest.approx(30, abs=0.1)
    assert any("CLOSE_WAIT" in s for s in r["server_still"])


def test_keepalive_finds_dead_peer() -> None:
    r = run_scenario("keepalive_dead_peer", keepidle=20, keepintvl=4, keepcnt=5).meta["result"]
    assert r["client_error"] == "ETIMEDOUT"
    assert r["gave_up_at"] == pytest.approx(r["expected_give_up"], abs=1e-6)
    assert r["probes_sent"] >= 5


@pytest.mark.parametrize("abort", [0, 1])
def test_accept_queue_overflow(abort: int) -> None:
    t = run_scenario("accept_queue_overflow", abort_on_overflow=abort)
    r = t.meta["result"]
    assert r["ListenOverflows"] >= 1
    assert r["server_accept_queue"] == 4  # backlog 3: sk_acceptq_is_full is "> backlog"
    if abort:
        assert "ECONNRESET" in r["client_errors"] and r["server_rsts"] >= 1
        assert r["client_believes_connected"] == 4
    else:
        assert r["client_errors"] == [] and r["server_rsts"] == 0
        # one client believes it is connected although the server never completed its handshake
        assert r["client_believes_connected"] == 5 and r["server_syn_queue"] == 1
        assert any(x.kind is Kind.DROP and x.reason and "final ACK dropped" in x.reason for x in t)


@pytest.mark.parametrize("abort", [0, 1])
def test_accept_queue_overflow_with_loopback_timing(abort: int) -> None:
    # 50 us one way: each handshake ends before the next client's SYN (1 ms later) arrives
    t = run_scenario("accept_queue_overflow", abort_on_overflow=abort, delay=0.00005)
    r = t.meta["result"]
    assert t.meta["params"]["delay"] == 0.00005
    assert r["server_accept_queue"] == 4 and r["client_established_sockets"] == 4
    # the 5th client's SYNs meet the full accept queue: dropped, whatever abort_on_overflow says
    assert r["client_syn_sent_sockets"] == 1 and r["server_rsts"] == 0 and r["client_errors"] == []
    assert r["syns_dropped_accept_queue_full"] == r["ListenOverflows"] >= 2  # the first SYN and its retransmissions
    syns: dict = {}
    for x in t:
        if x.kind is Kind.SEND and x.host == "client" and x.segment is not None and x.segment.flags == Flags.SYN:
            syns.setdefault(x.conn, []).append(x.time)
    assert sorted(len(v) for v in syns.values())[:-1] == [1, 1, 1, 1]  # only the 5th client retransmits
    late = max(syns.values(), key=len)
    expected = syn_retransmit_times(get_profile("linux").params)  # tcp_syn_linear_timeouts, then doubling
    assert [round(x - late[0], 6) for x in late[1:]] == [x for x in expected if late[0] + x <= 10]


def _synack_times(t: Trace) -> list[float]:
    return [
        x.time
        for x in t
        if x.kind is Kind.SEND and x.host == "server" and x.segment is not None and x.segment.syn and x.segment.has_ack
    ]


def test_lost_handshake_ack_every_ack_lost() -> None:
    t = run_scenario("lost_handshake_ack")
    r = t.meta["result"]
    # from the trace: the first SYN-ACK, then retransmissions 1, 2, 4, 8, 16 s apart (tcp_synack_retries = 5)
    times = _synack_times(t)
    assert [round(b - a, 6) for a, b in pairwise(times)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert r["synack_retransmits_after"] == r["expected_retransmits_after"] == [1.0, 3.0, 7.0, 15.0, 31.0]
    # the request dies 32 s after the last retransmission, 63 s after the first SYN-ACK, by its timer
    dead = [
        x
        for x in t
        if isinstance(x, StateChanged)
        and x.host == "server"
        and x.src.value == "SYN_RECEIVED"
        and x.dst.value == "CLOSED"
    ]
    assert len(dead) == 1 and dead[0].time - times[0] == pytest.approx(63.0) == r["expected_request_lifetime"]
    assert r["server_path"] == ["LISTEN", "SYN_RECEIVED", "CLOSED"] and r["server_established_at"] is None
    # the client never noticed: ESTABLISHED from 20 ms, one duplicate ACK per SYN-ACK, all lost
    assert r["client_connected_at"] == pytest.approx(0.02) and r["acks_lost"] == 6
    client_acks = [
        x.time
        for x in t
        if x.kind is Kind.SEND and x.host == "client" and x.segment is not None and x.segment.flags == Flags.ACK
    ]
    assert [round(a - s, 6) for a, s in zip(client_acks, times, strict=True)] == [0.01] * 6
    # its first data, at 70 s, reaches only the listener: RST, ECONNRESET
    rst = _sends(t, "server", "R")
    assert len(rst) == 1 and rst[0].time == pytest.approx(70.01)
    assert r["client_path"][-1] == "CLOSED" and r["client_error"] == "ECONNRESET" and r["server_received"] == 0
    assert t.to_json() == run_scenario("lost_handshake_ack").to_json()  # same seed, same trace


def test_lost_handshake_ack_repaired_by_a_retransmission_or_by_data() -> None:
    first = run_scenario("lost_handshake_ack", lost="first").meta["result"]
    assert first["acks_lost"] == 1 and first["synack_retransmits_after"] == [1.0]
    assert first["server_established_at"] == pytest.approx(1.03)  # the ACK answering the SYN-ACK resent at 1.01 s
    assert first["client_error"] is None and first["server_received"] == 25
    data = run_scenario("lost_handshake_ack", send_at=5.0).meta["result"]
    assert data["synack_retransmits_after"] == [1.0, 3.0]  # the one due at 7 s is never sent
    assert data["server_established_by_data"] and data["server_established_at"] == pytest.approx(5.01)
    assert data["server_received"] == 25 and data["request_dropped_after"] is None


@pytest.mark.parametrize("retries", [0, 2])
def test_lost_handshake_ack_follows_synack_retries(retries: int) -> None:
    t = run_scenario("lost_handshake_ack", synack_retries=retries, send_at=0)
    r = t.meta["result"]
    times = _synack_times(t)
    assert len(times) == retries + 1
    assert r["request_dropped_after"] == sum(2.0**k for k in range(retries + 1)) == r["expected_request_lifetime"]
    assert r["client_rst_received_at"] is None and r["client_path"][-1] == "ESTABLISHED"  # send_at 0: it never sends


def test_lost_handshake_ack_model_agrees_with_the_recorded_lab(tmp_path: Path) -> None:
    # what tcpkit.live would judge if its synack_retransmit script named this model scenario
    import dataclasses

    from tcpkit.live.run import run_one
    from tcpkit.live.scripts import SCRIPTS

    sc = dataclasses.replace(SCRIPTS["synack_retransmit"], model="lost_handshake_ack", params=(("send_at", 0),))
    res = run_one(sc, proc_root=tmp_path)  # no /proc: the observations recorded on Linux
    assert res.source == "recorded" and res.model and res.verdict == "agree", res.summary()
    assert res.model["server"].states[:2] == ("SYN_RECEIVED", "CLOSED") and res.model["server"].not_waited_from == 1


@pytest.mark.parametrize(("cookies", "all_in"), [(0, False), (1, True), (2, True)])
def test_syn_flood(cookies: int, all_in: bool) -> None:
    t = run_scenario("syn_flood", syncookies=cookies)
    r = t.meta["result"]
    assert r["max_syn_queue"] == (0 if cookies == 2 else 17)  # backlog 16: full only when it holds MORE
    assert (r["connected"] == r["attempts"]) is all_in
    if not cookies:
        assert r["TCPReqQFullDrop"] > 0 and r["success_rate"] < 0.5
    assert any(x.host == "attacker" for x in t)


@pytest.mark.parametrize(("isn", "forged"), [("clock", True), ("rfc6528", False), ("linux", False)])
def test_isn_prediction(isn: str, forged: bool) -> None:
    r = run_scenario("isn_prediction", isn=isn).meta["result"]
    assert r["probe_connected"]
    assert r["forged_connection_established"] is forged
    assert (r["prediction_off_by"] in (0, 1)) is forged
    assert ("rhosts" in r["server_received"]) is forged


@pytest.mark.parametrize(
    ("profile", "rfc5961", "survives"),
    [("linux", 1, True), ("freebsd", 1, True), ("freebsd", 0, False), ("rfc9293", 0, False), ("rfc9293", 1, True)],
)
def test_blind_rst(profile: str, rfc5961: int, survives: bool) -> None:
    r = run_scenario("blind_rst", profile=profile, rfc5961=rfc5961).meta["result"]
    assert r["connection_survived"] is survives
    assert (r["challenge_acks"] >= 1) is survives


def test_blind_rst_linux_cannot_switch_5961_off() -> None:
    with pytest.raises(ParameterError, match="rfc5961"):
        run_scenario("blind_rst", rfc5961=0)


def test_time_wait_exhaustion() -> None:
    r = run_scenario("time_wait_exhaustion").meta["result"]
    assert r["ceiling_per_s"] == pytest.approx(20 / 10)
    assert r["linux_default_ceiling_per_s"] == pytest.approx(28232 / 60, abs=0.01)
    assert r["errors"].get("EADDRNOTAVAIL", 0) > 0
    assert r["measured_per_s"] <= r["ceiling_per_s"] + 0.5
    assert r["connected"] < r["attempts"]


def test_time_wait_exhaustion_reaches_the_true_ceiling() -> None:
    # connect() uses both port parities (__inet_hash_connect): the whole range is in TIME_WAIT at the end
    r = run_scenario("time_wait_exhaustion").meta["result"]
    assert r["measured_per_s"] == pytest.approx(r["ceiling_per_s"], rel=0.05)
    assert r["connected"] == 20 * 4  # four rounds of 20 ports in 40 s, TIME_WAIT 10 s
    assert r["client_time_wait_at_end"] >= 15


def test_time_wait_exhaustion_with_tw_reuse_on_ephemeral_ports() -> None:
    # tcp_tw_reuse applies to connect()'s own port choice (__inet_hash_connect -> tcp_twsk_unique)
    r = run_scenario("time_wait_exhaustion", tw_reuse=1).meta["result"]
    assert r["connected"] == r["attempts"] and not r["errors"]
    assert r["measured_per_s"] > r["ceiling_per_s"]


def test_old_duplicate_stopped_by_paws() -> None:
    # RFC 7323 §5.3 R1: same 4-tuple and ISN, but the replayed segment's TSval is older than TS.Recent
    r = run_scenario("old_duplicate", isn="fixed", timestamps=1).meta["result"]
    assert not r["old_data_accepted"] and r["first_ok"]
    assert r["old_segment_dropped_because"] is not None and "PAWS" in r["old_segment_dropped_because"]
    # without timestamps the same replay is taken as new data
    assert run_scenario("old_duplicate", isn="fixed", timestamps=0).meta["result"]["old_data_accepted"]


def test_tw_reuse() -> None:
    on = run_scenario("tw_reuse", tw_reuse=1).meta["result"]
    off = run_scenario("tw_reuse", tw_reuse=0).meta["result"]
    assert off["errors"].get("EADDRNOTAVAIL", 0) > 0
    assert off["measured_per_s"] == pytest.approx(off["ceiling_per_s"], rel=0.1)
    assert on["connected"] == on["attempts"] and on["measured_per_s"] > on["ceiling_per_s"]


def test_tw_reuse_waits_for_the_timestamp_to_age() -> None:
    # 10 ports at 20 connects/s: a port comes round every 0.5 s, before its TIME_WAIT timestamp is 1 s old
    fast = run_scenario("tw_reuse", tw_reuse=1, ports=10, rate=20.0, duration=5.0).meta["result"]
    assert fast["errors"].get("EADDRNOTAVAIL", 0) > 0 and fast["connected"] < fast["attempts"]
    assert fast["measured_per_s"] > fast["ceiling_per_s"]


@pytest.mark.parametrize(("recycle", "second_ok"), [(1, False), (0, True)])
def test_tw_recycle_behind_nat(recycle: int, second_ok: bool) -> None:
    t = run_scenario("tw_recycle_nat", recycle=recycle)
    r = t.meta["result"]
    assert r["connected"][0] is True and r["connected"][1] is second_ok
    assert (r["syns_dropped"] > 0) is bool(recycle)
    assert any(x.kind is Kind.NOTE and "4.12" in (x.text or "") for x in t)
    if recycle:
        assert any(x.kind is Kind.DROP and "removed in Linux 4.12" in (x.reason or "") for x in t)


def test_tw_recycle_knob_is_gone() -> None:
    from tcpkit.engine.errors import RemovedKnobError
    from tcpkit.engine.profiles import get_profile

    with pytest.raises(RemovedKnobError):
        get_profile("linux").set(tcp_tw_recycle=1)


@pytest.mark.parametrize("abort", [0, 1])
def test_syn_flood_with_a_slow_application(abort: int) -> None:
    t = run_scenario(
        "syn_flood", syncookies=1, flood_rate=5, legit_rate=20, backlog=4, accept_rate=3, abort_on_overflow=abort
    )
    r = t.meta["result"]
    assert r["max_accept_queue"] == 5 and r["ListenOverflows"] > 0 and r["accepted"] < r["connected"]
    rsts = [x for x in _sends(t, "server", "R") if x.conn is not None and x.conn[2] == "192.0.2.1"]
    assert (r["reset"] > 0) is bool(abort) and (len(rsts) > 0) is bool(abort)
    instant = run_scenario("syn_flood", syncookies=1, flood_rate=5, legit_rate=20, backlog=4).meta["result"]
    assert instant["accepted"] == instant["connected"] and instant["max_accept_queue"] == 0


# --------------------------------------------------------------------------- bad input


def test_unknown_scenario_lists_known() -> None:
    with pytest.raises(ParameterError) as e:
        run_scenario("nope")
    assert "open_close_client_first" in str(e.value) and "syn_flood" in str(e.value)


@pytest.mark.parametrize(
    ("name", "kw", "bad"),
    [
        ("syn_flood", {"flood_rate": 0}, "flood_rate"),
        ("old_duplicate", {"isn": "guess"}, "isn"),
        ("close_wait_leak", {"clients": 0}, "clients"),
        ("half_close", {"colour": 1}, "param"),
        ("keepalive_dead_peer", {"keepcnt": 2.5}, "keepcnt"),
        ("open_close_client_first", {"delay": -1}, "delay"),
    ],
)
def test_bad_parameters(name: str, kw: dict, bad: str) -> None:
    with pytest.raises(ParameterError) as e:
        run_scenario(name, **kw)
    assert e.value.name == bad


def test_bad_seed_and_profile() -> None:
    with pytest.raises(ParameterError):
        run_scenario("abort_rst", seed="x")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        run_scenario("abort_rst", profile="windows")


# --------------------------------------------------------------------------- determinism and CLI


def test_same_seed_same_trace_different_seed_differs() -> None:
    a = run_scenario("lost_final_ack", seed=3).to_json()
    assert a == run_scenario("lost_final_ack", seed=3).to_json()
    assert a != run_scenario("lost_final_ack", seed=4).to_json()
    assert Trace.from_json(a).to_json() == a


def test_same_seed_same_trace_across_processes() -> None:
    code = (
        "from tcpkit.drivers.scenarios import run_scenario; import sys; "
        "sys.stdout.write(run_scenario('syn_flood', seed=5, duration=2.0).to_json())"
    )
    here = run_scenario("syn_flood", seed=5, duration=2.0).to_json()
    outs = []
    for hashseed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        outs.append(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
        )
    assert outs[0] == outs[1] == here


def test_cli_list_and_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "syn_flood" in out and "tw_recycle_nat" in out
    assert main(["list", "--zh"]) == 0
    assert "三次握手" in capsys.readouterr().out
    assert main(["run", "connection_refused", "--seed", "2", "--param", "port=99", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["meta"]["result"]["client_error"] == "ECONNREFUSED" and doc["meta"]["params"]["port"] == 99
    assert main(["run", "abort_rst", "--limit", "5"]) == 0
    assert "result:" in capsys.readouterr().out


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "nope"]) == 2
    err = capsys.readouterr().err
    assert "known" not in err or "one of" in err
    assert "Traceback" not in err and "one of" in err
    assert main(["run", "syn_flood", "--param", "flood_rate"]) == 2
    assert main(["run", "syn_flood", "--param", "flood_rate=-3"]) == 2
    assert "flood_rate" in capsys.readouterr().err


def test_lost_handshake_ack_late_data_is_not_a_failed_cookie() -> None:
    # no SYN cookie was sent, so cookie_v4_check() never looks at the late ACK (tcp_synq_no_recent_overflow)
    t = run_scenario("lost_handshake_ack")
    names = {r.name for r in t.of(CounterChanged, "server")}
    assert "OutRsts" in names and not names & {"SyncookiesFailed", "SyncookiesRecv"}
    assert t.meta["result"]["client_error"] == "ECONNRESET"
