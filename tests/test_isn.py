"""ISN generators: purity, the clock arithmetic, the RFC 6528 per-tuple offset, prediction."""

from __future__ import annotations

import pytest

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.isn import (
    CLOCK_TICK,
    KINDS,
    RFC793_TICK,
    ClockIsn,
    LinuxIsn,
    isn_series,
    make_isn,
    predict_next_clock_isn,
)
from tcpkit.engine.siphash import siphash_3u32

A = ("10.0.0.1", 40000, "10.0.0.2", 80)
B = ("10.0.0.1", 40001, "10.0.0.2", 80)
V6 = ("2001:db8::1", 40000, "2001:db8::2", 80)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_pure_and_32_bit(kind: str) -> None:
    for now in (0.0, 0.123456, 59.0, 1e6):
        for conn in (A, B, V6):
            x = make_isn(kind, seed=4)(now, conn)
            assert x == make_isn(kind, seed=4)(now, conn)
            assert 0 <= x < 2**32
    assert make_isn(kind, seed=4).kind == kind  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["rfc6528", "linux", "random"])
def test_seed_changes_secret_kinds(kind: str) -> None:
    assert make_isn(kind, seed=1)(5.0, A) != make_isn(kind, seed=2)(5.0, A)


def test_fixed_ignores_time_and_tuple() -> None:
    gen = make_isn("fixed", value=4242)
    assert {gen(t, c) for t in (0.0, 10.0) for c in (A, B)} == {4242}


def test_clock_counts_ticks_and_wraps() -> None:
    gen = make_isn("clock")
    assert gen(1.0, A) == 250_000
    assert gen(1.0, A) == gen(1.0, B)  # the clock ignores the 4-tuple
    period = 2**32 * CLOCK_TICK
    assert gen(period + 1.0, A) == gen(1.0, A)
    assert abs(period / 3600 - 4.77) < 0.01
    assert abs(ClockIsn(tick=RFC793_TICK).period - 16384.0) < 1e-9  # 4.55 hours
    assert make_isn("clock", value=2**32 - 1)(CLOCK_TICK, A) == 0


def test_rfc6528_same_tuple_increases_other_tuple_differs() -> None:
    gen = make_isn("rfc6528", seed=9)
    series = [x for _, x in isn_series(gen, [0.0, 0.5, 1.0, 1.5], A)]
    steps = [(b - a) % 2**32 for a, b in zip(series, series[1:], strict=False)]
    assert steps == [125_000, 125_000, 125_000]
    assert gen(0.0, A) != gen(0.0, B)
    # the per-tuple offset is what the clock ISN lacks
    clock = make_isn("clock")
    assert (gen(0.0, A) - clock(0.0, A)) % 2**32 != (gen(0.0, B) - clock(0.0, B)) % 2**32


def test_linux_matches_formula() -> None:
    key = bytes(range(16))
    gen = LinuxIsn(key=key)
    # secure_tcp_seq: siphash_3u32(saddr, daddr, sport << 16 | dport) of the raw __be fields
    saddr = int.from_bytes(bytes([10, 0, 0, 1]), "little")
    daddr = int.from_bytes(bytes([10, 0, 0, 2]), "little")
    sport = int.from_bytes((40000).to_bytes(2, "big"), "little")
    dport = int.from_bytes((80).to_bytes(2, "big"), "little")
    h = siphash_3u32(saddr, daddr, sport << 16 | dport, key) & 0xFFFFFFFF
    now = 3.0
    assert gen(now, A) == (h + (round(now * 1e9) >> 6)) % 2**32
    # 64 ns clock: one second is 15,625,000 ticks
    assert (gen(2.0, A) - gen(1.0, A)) % 2**32 == 15_625_000


def test_random_is_keyed_by_time_and_tuple() -> None:
    gen = make_isn("random", seed=1)
    values = {gen(t / 10, c) for t in range(20) for c in (A, B)}
    assert len(values) == 40


def test_prediction_works_against_clock_only() -> None:
    clock = make_isn("clock", value=777)
    for t0, t1 in [(1.0, 1.5), (10.0, 10.000123), (0.3333, 4000.1)]:
        guess = predict_next_clock_isn(clock(t0, A), t0, t1)
        assert min((guess - clock(t1, A)) % 2**32, (clock(t1, A) - guess) % 2**32) <= 1
    secure = make_isn("rfc6528", seed=3)
    guess = predict_next_clock_isn(secure(1.0, A), 1.0, 1.5)
    assert guess == (secure(1.0, A) + 125_000) % 2**32
    assert guess == secure(1.5, A)  # the attacker's own tuple is predictable ...
    assert guess != secure(1.5, B)  # ... but not someone else's


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"kind": "nope"}, "kind"),
        ({"kind": "clock", "tick": -1.0}, "tick"),
        ({"kind": "fixed", "value": 2**32}, "value"),
        ({"kind": "linux", "seed": "x"}, "seed"),
        ({"kind": "linux", "epoch": float("nan")}, "epoch"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ParameterError) as info:
        make_isn(**kwargs)  # type: ignore[arg-type]
    assert info.value.name == name


def test_bad_address_and_ports_are_named() -> None:
    gen = make_isn("rfc6528")
    with pytest.raises(ParameterError, match="address"):
        gen(0.0, ("not-an-ip", 1, "10.0.0.2", 2))
    with pytest.raises(ParameterError, match="remote_port"):
        gen(0.0, ("10.0.0.1", 1, "10.0.0.2", 70000))
    with pytest.raises(ParameterError, match="now"):
        isn_series(gen, [-1.0], A)
