"""The SYN-flood model: checked against the general simulator (a real Listener), a SimPy model and itself."""

from __future__ import annotations

import dataclasses
import math

import pytest

from tcpkit.drivers import flood_model
from tcpkit.drivers.flood import (
    FloodModel,
    FloodParams,
    FloodResult,
    PhaseMap,
    phase_map,
    simulate_flood,
    simulate_flood_full,
)
from tcpkit.drivers.flood_map import cookie_success, log_grid
from tcpkit.engine import listener
from tcpkit.engine.errors import KnobError, ParameterError

COUNTERS = (
    "SyncookiesSent",
    "SyncookiesRecv",
    "ListenDrops",
    "TCPReqQFullDrop",
    "TCPReqQFullDoCookies",
    "ListenOverflows",
)


def assert_same(fast: FloodResult, full: FloodResult) -> None:
    assert (fast.attempts, fast.connected, fast.failed, fast.pending) == (
        full.attempts,
        full.connected,
        full.failed,
        full.pending,
    )
    assert (fast.accepted, fast.reset) == (full.accepted, full.reset)
    assert fast.connect_times == pytest.approx(full.connect_times, abs=1e-9)
    assert fast.samples == full.samples
    assert fast.clients == full.clients
    assert (fast.syn_limit, fast.accept_limit) == (full.syn_limit, full.accept_limit)
    assert {k: fast.counters.get(k, 0) for k in COUNTERS} == {k: full.counters.get(k, 0) for k in COUNTERS}


CASES = [
    # flood, legit, backlog, cookies, synack retries, rtt, other knobs
    (40, 5, 8, 0, 1, 0.05, {}),
    (33, 7, 5, 0, 2, 0.03, {"tcp_syn_retries": 1, "tcp_syn_linear_timeouts": 0}),  # clients give up
    (50, 10, 4, 1, 1, 0.1, {}),
    (25, 3, 6, 0, 0, 0.02, {"tcp_syn_linear_timeouts": 2, "tcp_syn_retries": 2}),
    (60, 8, 16, 0, 1, 0.07, {"tcp_max_syn_backlog": 8}),  # the max_syn_backlog quarter rule
    (20, 20, 3, 0, 3, 0.2, {}),
    (100, 4, 10, 2, 1, 0.05, {}),
    (45.5, 6.5, 7, 0, 1, 0.045, {}),
    # listen(0) and listen(1): the SYN queue takes backlog + 1 requests (Linux >= 6.13)
    (5, 10, 0, 0, 2, 0.05, {}),
    (30, 10, 1, 0, 2, 0.05, {}),
    (30, 10, 1, 1, 2, 0.05, {}),
    # a slow application (accept_rate) and tcp_abort_on_overflow
    (10, 20, 4, 1, 5, 0.05, {"accept_rate": 5, "tcp_abort_on_overflow": 1}),  # SYNs meet a full accept queue
    (1, 40, 4, 0, 5, 0.3, {"accept_rate": 5, "tcp_abort_on_overflow": 1}),  # final ACKs answered with RST
    (1, 40, 4, 0, 5, 0.3, {"accept_rate": 5, "tcp_abort_on_overflow": 0}),  # final ACKs dropped, SYN-ACKs resent
    (2, 25, 6, 1, 5, 0.25, {"accept_rate": 8, "tcp_abort_on_overflow": 1}),  # cookie ACKs dropped, requests reset
    (2, 25, 6, 1, 1, 0.25, {"accept_rate": 8}),  # ignored ACKs: the request expires after 1 + 2 s
    (3, 30, 5, 0, 2, 0.4, {"accept_rate": 2}),
    (40, 15, 5, 2, 1, 0.05, {"accept_rate": 6, "tcp_abort_on_overflow": 1}),
    (5, 30, 2, 1, 1, 0.05, {"accept_rate": 7.5}),
    # an ACK and a first SYN arriving at the same float instant: the one sent first goes first
    (2, 20, 6, 0, 2, 0.3, {"accept_rate": 3}),
    # a queued SYN's own first SYN-ACK timer fires within what would otherwise be one batch of
    # spoofed SYNs (the round-1 fast path let the batch run past it)
    (40, 0.5, 1, 1, 0, 0.02, {}),
    # bursty floods: the SYNs of every 50 or 100 ms arrive together
    (40, 5, 8, 0, 1, 0.05, {"resolution": 0.05}),
    (100, 6, 12, 1, 2, 0.05, {"resolution": 0.1}),
    (250, 4, 30, 0, 5, 0.1, {"resolution": 0.05, "tcp_max_syn_backlog": 16}),
]


@pytest.mark.parametrize(("flood", "legit", "backlog", "cookies", "retries", "rtt", "extra"), CASES)
def test_model_equals_general_simulator(
    flood: float, legit: float, backlog: int, cookies: int, retries: int, rtt: float, extra: dict
) -> None:
    kw = dict(
        duration=9.0,
        flood_rate=flood,
        legit_rate=legit,
        backlog=backlog,
        rtt=rtt,
        tcp_syncookies=cookies,
        tcp_synack_retries=retries,
        **extra,
    )
    full, trace = simulate_flood_full(**kw)
    assert_same(simulate_flood(**kw), full)
    assert len(trace) > 0


# longer runs where the SYN queue stays more than half full past 7 s, so reqsk_timer_handler
# prunes requests that have retransmitted (tcp_synack_retries 4 or 5 lowered to 2)
PRUNE_CASES = [
    dict(flood_rate=40, legit_rate=5, backlog=8, rtt=0.05, tcp_syncookies=0),
    dict(flood_rate=15, legit_rate=4, backlog=16, rtt=0.05, tcp_syncookies=0),
    dict(flood_rate=5, legit_rate=25, backlog=8, rtt=0.25, tcp_syncookies=0, accept_rate=5, tcp_abort_on_overflow=1),
    dict(flood_rate=4, legit_rate=12, backlog=10, rtt=0.1, tcp_syncookies=0, tcp_synack_retries=4),
    dict(flood_rate=30, legit_rate=6, backlog=10, rtt=0.05, tcp_syncookies=1),
    dict(flood_rate=2, legit_rate=20, backlog=6, rtt=0.3, tcp_syncookies=0, accept_rate=3, tcp_synack_retries=4),
    # queues long enough for the model's windows (a SYN-ACK stage fired as one slice)
    dict(flood_rate=60, legit_rate=10, backlog=300, rtt=0.05, tcp_syncookies=0),
    dict(flood_rate=120, legit_rate=8, backlog=200, rtt=0.05, tcp_syncookies=1, tcp_synack_retries=3),
]


@pytest.mark.parametrize("kw", PRUNE_CASES)
def test_model_equals_general_simulator_with_pruning(kw: dict) -> None:
    kw = dict(duration=16.0, **kw)
    full, _trace = simulate_flood_full(**kw)
    assert_same(simulate_flood(**kw), full)


def _without_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FloodModel, "_window", lambda self, k0, limit: False)


@pytest.mark.parametrize(
    "kw",
    [
        dict(duration=30, flood_rate=464, legit_rate=10, backlog=2000, tcp_syncookies=0),
        dict(duration=30, flood_rate=3000, legit_rate=30, backlog=1000, tcp_syncookies=1, tcp_synack_retries=3),
        dict(duration=20, flood_rate=150, legit_rate=20, backlog=600, tcp_syncookies=0, resolution=0.01),
    ],
)
def test_windows_change_nothing(kw: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    # the same runs with every event one at a time (too long for the general simulator)
    with_windows = simulate_flood(**kw)
    _without_windows(monkeypatch)
    one_by_one = simulate_flood(**kw)
    assert with_windows == one_by_one
    assert with_windows.counters["SpoofedQueued"] > 1000


def test_model_uses_the_listeners_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # one function, called by both (no second copy to keep equal)
    assert flood_model.synack_retry_limit is listener.synack_retry_limit
    assert flood_model.syn_queue_is_full is listener.syn_queue_is_full
    assert flood_model.accept_queue_is_full is listener.accept_queue_is_full
    assert flood_model.syn_backlog_reserved is listener.syn_backlog_reserved
    calls: list[tuple[int, int, int]] = []

    def spy(params: object, qlen: int, young: int, backlog: int) -> int:
        calls.append((qlen, young, backlog))
        return listener.synack_retry_limit(params, qlen, young, backlog)  # type: ignore[arg-type]

    monkeypatch.setattr(flood_model, "synack_retry_limit", spy)
    simulate_flood(duration=20, flood_rate=50, legit_rate=2, backlog=8, tcp_syncookies=0)
    assert calls and all(b == 8 for _, _, b in calls)
    assert any(q << 1 > 8 for q, _, _ in calls)  # asked while the queue was crowded


def test_listen_0_admits_one_request() -> None:
    # listen(0), cookies off, no flood to speak of: clients get in one at a time (Linux >= 6.13)
    r = simulate_flood(duration=10, flood_rate=0.01, legit_rate=5, backlog=0, tcp_syncookies=0)
    assert r.syn_capacity == 1 and r.syn_limit == 0
    assert r.connected == r.attempts - r.pending and r.failed == 0


def test_syn_queue_holds_backlog_plus_one() -> None:
    for cookies in (0, 1):
        r = simulate_flood(duration=5, flood_rate=2000, legit_rate=10, backlog=64, tcp_syncookies=cookies)
        assert max(q for _, q, _ in r.samples) == 65 == r.syn_capacity
        assert r.limits == {"syn_queue": 64, "accept_queue": 64}
    quarter = simulate_flood(
        duration=5, flood_rate=2000, legit_rate=10, backlog=64, tcp_syncookies=0, tcp_max_syn_backlog=40
    )
    # cookies off: 40 - qlen < 40 >> 2 stops the queue at 31 (ListenDrops only, no TCPReqQFullDrop)
    assert max(q for _, q, _ in quarter.samples) == 31 == quarter.syn_capacity
    assert quarter.counters["TCPReqQFullDrop"] == 0 and quarter.counters["ListenDrops"] > 0


def test_pruning_turns_the_syn_queue_over() -> None:
    # without pruning the 9 first spoofed requests would hold the queue for 63 s; with it, those that
    # retransmitted die at 1 + 2 + 4 = 7 s while the queue is more than half full, and new ones get in
    r = simulate_flood(duration=30, flood_rate=200, legit_rate=5, backlog=8, tcp_syncookies=0)
    assert r.counters["SpoofedQueued"] > 9 * 2
    two_retries = simulate_flood(
        duration=30, flood_rate=200, legit_rate=5, backlog=8, tcp_syncookies=0, tcp_synack_retries=2
    )
    # with tcp_synack_retries = 2 EVERY request dies at 7 s; pruning stops once the queue is half full
    assert two_retries.counters["SpoofedQueued"] > r.counters["SpoofedQueued"]


def test_syn_queue_full_without_cookies_locks_out_clients() -> None:
    r = simulate_flood(duration=20, flood_rate=1000, legit_rate=10, backlog=32, tcp_syncookies=0)
    assert r.success_rate < 0.05
    assert all(q == 33 for t, q, _ in r.samples if t >= 1)
    assert r.counters["TCPReqQFullDrop"] > 0 and r.counters["SyncookiesSent"] == 0


def test_cookies_let_clients_in_without_delay() -> None:
    r = simulate_flood(duration=20, flood_rate=1000, legit_rate=10, backlog=32, rtt=0.08, tcp_syncookies=1)
    assert r.connected == r.attempts - r.pending and r.failed == 0
    assert set(round(t, 9) for t in r.connect_times) == {0.08}
    assert r.counters["SyncookiesSent"] >= 1000 * 19
    assert r.counters["SyncookiesRecv"] == r.counters["SyncookiesSent"] - r.counters["SpoofedSyns"] + r.counters[
        "SpoofedQueued"
    ] - (r.attempts - r.connected)


def test_short_request_lifetime_lets_some_in() -> None:
    # with tcp_synack_retries = 1 a spoofed request dies after 1 + 2 s and honest retries win slots
    long = simulate_flood(duration=30, flood_rate=200, legit_rate=5, backlog=8, tcp_syncookies=0)
    short = simulate_flood(duration=30, flood_rate=200, legit_rate=5, backlog=8, tcp_syncookies=0, tcp_synack_retries=1)
    assert short.connected > long.connected
    assert max(short.connect_times) >= 1.0  # some got in only on a retransmitted SYN


def test_default_case_reports() -> None:
    r = simulate_flood(tcp_syncookies=1)
    # spoofed SYN i leaves at (i + 0.1) / 10000 s and arrives 25 ms later; those arriving after 60 s do not count
    arrived = math.floor((60 - 0.025) * 10000 - 0.1) + 1
    assert r.attempts == 6000 and r.counters["SpoofedSyns"] == arrived
    assert len(r.samples) == len(r.clients) == 121
    assert "honest clients connected" in r.summary()
    assert sum(r.histogram().values()) == r.connected
    assert r.clients[-1][1:] == (r.connected, r.failed, r.pending)
    assert r.clients_at(30.2) == r.clients[60][1:]
    nstat = r.nstat()
    assert set(nstat) == {
        "TcpExtListenOverflows",
        "TcpExtListenDrops",
        "TcpExtSyncookiesSent",
        "TcpExtSyncookiesRecv",
        "TcpExtTCPReqQFullDrop",
        "TcpExtTCPReqQFullDoCookies",
    }
    assert nstat["TcpExtSyncookiesSent"] == r.counters["SyncookiesSent"] > 0


def test_clients_over_time_add_up() -> None:
    r = simulate_flood(duration=40, flood_rate=300, legit_rate=4, backlog=8, tcp_syncookies=0, tcp_syn_retries=2)
    started = 0
    for (t, connected, gave_up, trying), (t2, _, _) in zip(r.clients, r.samples, strict=True):
        assert t == t2
        started = sum(1 for j in range(r.attempts) if (j + 0.3) / 4 <= t)
        assert connected + gave_up + trying == started
    assert r.failed > 0 and r.clients[-1][2] == r.failed
    # they only grow
    assert all(a[1] <= b[1] and a[2] <= b[2] for a, b in zip(r.clients, r.clients[1:], strict=False))


def test_slow_application_fills_the_accept_queue() -> None:
    kw = dict(duration=20, flood_rate=1, legit_rate=40, backlog=4, rtt=0.3, accept_rate=5, tcp_syncookies=0)
    instant = simulate_flood(**{**kw, "accept_rate": math.inf})
    assert instant.accepted == instant.connected and instant.counters["ListenOverflows"] == 0
    assert max(q for _, _, q in instant.samples) == 0
    for abort in (0, 1):
        r = simulate_flood(**kw, tcp_abort_on_overflow=abort)
        # one accept() per 0.2 s at most, the first at the first connection
        assert r.accepted <= 20 * 5 + 1 and r.accepted < r.connected
        # sk_acceptq_is_full() is "> backlog": 4 + 1 connections wait at most
        assert max(q for _, _, q in r.samples) == 5
        assert r.counters["ListenOverflows"] > 0 and r.counters["ListenDrops"] >= r.counters["ListenOverflows"]
        assert (r.reset > 0) is bool(abort)
        assert r.accepted + r.reset <= r.connected
    # with abort_on_overflow 0 the requests whose ACK was ignored stay in the SYN queue and resend their SYN-ACK
    kept = simulate_flood(**kw, tcp_abort_on_overflow=0)
    gone = simulate_flood(**kw, tcp_abort_on_overflow=1)
    assert sum(q for _, q, _ in kept.samples) > sum(q for _, q, _ in gone.samples)
    assert f"reset (accept queue full) {gone.reset}," in gone.summary() and "reset" not in instant.summary()


def test_bursty_flood() -> None:
    exact = simulate_flood(duration=20, flood_rate=2000, legit_rate=10, backlog=128, tcp_syncookies=1)
    bursty = simulate_flood(duration=20, flood_rate=2000, legit_rate=10, backlog=128, tcp_syncookies=1, resolution=0.01)
    assert FloodParams(flood_rate=2000, resolution=0.01).burst == 20
    # a burst arrives with its first SYN: up to 19 more reach the listener before the end
    assert 0 <= bursty.counters["SpoofedSyns"] - exact.counters["SpoofedSyns"] < 20
    assert (
        bursty.success_rate
        == exact.success_rate
        == cookie_success(
            FloodParams(duration=20, flood_rate=2000, legit_rate=10, backlog=128, knobs={"tcp_syncookies": 1})
        )
    )
    assert bursty.params["resolution"] == 0.01 and "resolution" not in exact.params


# ---------------------------------------------------------------------------------------------- parameters


def test_params_are_one_frozen_validated_dataclass() -> None:
    p = FloodParams(duration=10, flood_rate=1000, legit_rate=10, backlog=16, knobs={"tcp_syncookies": 0})
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.backlog = 3  # type: ignore[misc]
    assert simulate_flood(p) == simulate_flood(
        duration=10, flood_rate=1000, legit_rate=10, backlog=16, tcp_syncookies=0
    )
    assert simulate_flood(p, backlog=32).params["backlog"] == 32
    q = p.replace(tcp_syncookies=1, backlog=4)
    assert (q.backlog, q.params.syncookies, p.params.syncookies) == (4, 1, 0)
    assert FloodParams.from_kwargs(backlog=8, tcp_synack_retries=2) == FloodParams(
        backlog=8, knobs={"tcp_synack_retries": 2}
    )
    assert FloodParams(backlog=10_000).cap == 4096  # somaxconn
    assert p.as_dict() == {
        "duration": 10.0,
        "flood_rate": 1000.0,
        "legit_rate": 10.0,
        "backlog": 16,
        "rtt": 0.05,
        "sample_interval": 0.5,
        "accept_rate": math.inf,
        "profile": "linux",
        "tcp_syncookies": 0,
    }
    full, _ = simulate_flood_full(p.replace(duration=2, flood_rate=20))
    assert full.params["backlog"] == 16


@pytest.mark.parametrize("bad", [0, -2, float("nan"), "fast", True])
def test_bad_accept_rate(bad: object) -> None:
    with pytest.raises(ParameterError) as e:
        simulate_flood(duration=1, accept_rate=bad)
    assert e.value.name == "accept_rate" and "inf" in str(e.value)


def test_percentile_and_empty() -> None:
    r = FloodResult(0, 0, 0, 0, (), (), {})
    assert r.success_rate == 1.0 and math.isnan(r.percentile(50))
    assert r.clients_at(3.0) == (0, 0, 0)
    with pytest.raises(ParameterError):
        r.percentile(101)


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"flood_rate": 0}, "flood_rate"),
        ({"flood_rate": -5}, "flood_rate"),
        ({"flood_rate": math.inf}, "flood_rate"),
        ({"legit_rate": -1}, "legit_rate"),
        ({"duration": 0}, "duration"),
        ({"backlog": -1}, "backlog"),
        ({"backlog": 2.5}, "backlog"),
        ({"rtt": 1.5}, "rtt"),
        ({"sample_interval": 0}, "sample_interval"),
        ({"resolution": -0.1}, "resolution"),
        ({"profile": "freebsd"}, "profile"),
        ({"knobs": [("tcp_syncookies", 0)]}, "knobs"),
    ],
)
def test_bad_parameters(kw: dict, name: str) -> None:
    with pytest.raises(ParameterError) as e:
        simulate_flood(**kw)
    assert e.value.name == name
    with pytest.raises(ParameterError):
        FloodParams(**kw)


def test_bad_knob() -> None:
    with pytest.raises(KnobError):
        simulate_flood(tcp_syncookies=3)
    with pytest.raises(KnobError):
        simulate_flood(rtt_ms=5)
    with pytest.raises(ParameterError):
        simulate_flood("fast")  # type: ignore[arg-type]


def test_simpy_model_agrees() -> None:
    pytest.importorskip("simpy")
    from benchmarks.bench_sim import simpy_flood

    for cookies in (0, 1):
        st = simpy_flood(duration=3.0, flood_rate=300, legit_rate=10, backlog=16, syncookies=cookies)
        fast = simulate_flood(duration=3.0, flood_rate=300, legit_rate=10, backlog=16, tcp_syncookies=cookies)
        assert st["connected"] == fast.connected
        assert st["cookies"] == fast.counters["SyncookiesSent"]


# ---------------------------------------------------------------------------------------------- phase map


def test_phase_map_shape_and_meaning() -> None:
    m = phase_map(flood_rates=[50, 500, 5000], backlogs=[8, 64, 512], duration=12, legit_rate=5, tcp_syncookies=0)
    assert isinstance(m, PhaseMap) and m.shape == (3, 3) and m.syncookies == 0
    assert m.rows()[1][0] == 64 and len(m.rows()[1]) == 4
    # each cell is the model's answer for that flood rate and backlog
    cell = simulate_flood(duration=12, flood_rate=500, legit_rate=5, backlog=64, tcp_syncookies=0)
    assert m.success[1][1] == cell.success_rate
    # cookies off: a small backlog under a big flood locks clients out, a big one under a small flood does not
    assert m.at(5000, 8) < 0.2 < 0.9 < m.at(50, 512)
    assert m.nearest(4000, 70) == (1, 2)
    with pytest.raises(ParameterError):
        m.nearest(0, 8)


def test_phase_map_with_cookies_needs_no_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    for cookies in (1, 2):
        p = FloodParams(duration=10, flood_rate=3000, legit_rate=100, backlog=32, knobs={"tcp_syncookies": cookies})
        assert cookie_success(p) == FloodModel(p).run().success_rate < 1.0
    monkeypatch.setattr(FloodModel, "run", lambda self: pytest.fail("no run needed"))
    m = phase_map(tcp_syncookies=1)
    assert m.shape == (10, 10) and len({x for row in m.success for x in row}) == 1
    assert m.flood_rates == log_grid(100, 10000, 10) and m.backlogs[0] == 16 and m.backlogs[-1] == 4096
    assert m.base.duration == 10 and m.base.legit_rate == 10


def test_phase_map_bad_grid() -> None:
    with pytest.raises(ParameterError):
        phase_map(flood_rates=[], backlogs=[8])
    with pytest.raises(ParameterError):
        phase_map("x")  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        log_grid(0, 10, 3)
