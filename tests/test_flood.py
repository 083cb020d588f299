"""The SYN-flood fast path, checked against the general simulator and a SimPy model."""

from __future__ import annotations

import math

import pytest

from tcpkit.drivers.flood import FloodResult, simulate_flood, simulate_flood_full
from tcpkit.engine.errors import KnobError, ParameterError

COUNTERS = ("SyncookiesSent", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies", "ListenOverflows")

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
]


@pytest.mark.parametrize(("flood", "legit", "backlog", "cookies", "retries", "rtt", "extra"), CASES)
def test_fast_path_equals_general_simulator(
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
    fast = simulate_flood(**kw)
    assert (fast.attempts, fast.connected, fast.failed, fast.pending) == (
        full.attempts,
        full.connected,
        full.failed,
        full.pending,
    )
    assert (fast.accepted, fast.reset) == (full.accepted, full.reset)
    assert fast.connect_times == pytest.approx(full.connect_times, abs=1e-9)
    assert fast.samples == full.samples
    assert {k: fast.counters.get(k, 0) for k in COUNTERS} == {k: full.counters.get(k, 0) for k in COUNTERS}
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
]


@pytest.mark.parametrize("kw", PRUNE_CASES)
def test_fast_path_equals_general_simulator_with_pruning(kw: dict) -> None:
    kw = dict(duration=16.0, **kw)
    full, _trace = simulate_flood_full(**kw)
    fast = simulate_flood(**kw)
    assert (fast.attempts, fast.connected, fast.failed, fast.pending) == (
        full.attempts,
        full.connected,
        full.failed,
        full.pending,
    )
    assert (fast.accepted, fast.reset) == (full.accepted, full.reset)
    assert fast.connect_times == pytest.approx(full.connect_times, abs=1e-9)
    assert fast.samples == full.samples
    assert {k: fast.counters.get(k, 0) for k in COUNTERS} == {k: full.counters.get(k, 0) for k in COUNTERS}


def test_pruning_turns_the_syn_queue_over() -> None:
    # without pruning the 8 first spoofed requests would hold the queue for 63 s; with it, those that
    # retransmitted die at 1 + 2 + 4 = 7 s while the queue is more than half full, and new ones get in
    r = simulate_flood(duration=30, flood_rate=200, legit_rate=5, backlog=8, tcp_syncookies=0)
    assert r.counters["SpoofedQueued"] > 8 * 2
    two_retries = simulate_flood(
        duration=30, flood_rate=200, legit_rate=5, backlog=8, tcp_syncookies=0, tcp_synack_retries=2
    )
    # with tcp_synack_retries = 2 EVERY request dies at 7 s; pruning stops once the queue is half full
    assert two_retries.counters["SpoofedQueued"] > r.counters["SpoofedQueued"]


def test_syn_queue_full_without_cookies_locks_out_clients() -> None:
    r = simulate_flood(duration=20, flood_rate=1000, legit_rate=10, backlog=32, tcp_syncookies=0)
    assert r.success_rate < 0.05
    assert all(q == 32 for t, q, _ in r.samples if t >= 1)
    assert r.counters["TCPReqQFullDrop"] > 0 and r.counters["SyncookiesSent"] == 0


def test_cookies_let_clients_in_without_delay() -> None:
    r = simulate_flood(duration=20, flood_rate=1000, legit_rate=10, backlog=32, rtt=0.08, tcp_syncookies=1)
    assert r.connected == r.attempts - r.pending and r.failed == 0
    assert set(round(t, 9) for t in r.connect_times) == {0.08}
    assert r.counters["SyncookiesSent"] >= 1000 * 19


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
    assert len(r.samples) == 121
    assert "honest clients connected" in r.summary()
    assert sum(r.histogram().values()) == r.connected


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


@pytest.mark.parametrize("bad", [0, -2, float("nan"), "fast", True])
def test_bad_accept_rate(bad: object) -> None:
    with pytest.raises(ParameterError) as e:
        simulate_flood(duration=1, accept_rate=bad)
    assert e.value.name == "accept_rate" and "inf" in str(e.value)


def test_percentile_and_empty() -> None:
    r = FloodResult(0, 0, 0, 0, (), (), {})
    assert r.success_rate == 1.0 and math.isnan(r.percentile(50))
    with pytest.raises(ParameterError):
        r.percentile(101)


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"flood_rate": 0}, "flood_rate"),
        ({"flood_rate": -5}, "flood_rate"),
        ({"legit_rate": -1}, "legit_rate"),
        ({"duration": 0}, "duration"),
        ({"backlog": 0}, "backlog"),
        ({"rtt": 1.5}, "rtt"),
        ({"sample_interval": 0}, "sample_interval"),
        ({"profile": "freebsd"}, "profile"),
    ],
)
def test_bad_parameters(kw: dict, name: str) -> None:
    with pytest.raises(ParameterError) as e:
        simulate_flood(**kw)
    assert e.value.name == name


def test_bad_knob() -> None:
    with pytest.raises(KnobError):
        simulate_flood(tcp_syncookies=3)


def test_simpy_model_agrees() -> None:
    pytest.importorskip("simpy")
    from benchmarks.bench_sim import simpy_flood

    for cookies in (0, 1):
        st = simpy_flood(duration=3.0, flood_rate=300, legit_rate=10, backlog=16, syncookies=cookies)
        fast = simulate_flood(duration=3.0, flood_rate=300, legit_rate=10, backlog=16, tcp_syncookies=cookies)
        assert st["connected"] == fast.connected
        assert st["cookies"] == fast.counters["SyncookiesSent"]
