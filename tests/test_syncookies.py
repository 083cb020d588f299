"""SYN cookies in the Linux layout: round trip, expiry, forgery, the bits, timestamps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import Flags, Segment
from tcpkit.engine.syncookies import (
    COOKIEMASK,
    MSSTAB,
    check,
    check_ack,
    cookie_hash,
    decode,
    decode_timestamp,
    encode,
    encode_timestamp,
    mss_index,
)

C, S = "198.51.100.7", "192.0.2.1"


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 0xFFFF),
    st.integers(1, 0xFFFF),
    st.floats(0, 1e7),
    st.floats(0, 59.999),
    st.sampled_from([C, "2001:db8::7"]),
)
def test_round_trip_within_validity(isn: int, mss: int, sport: int, now: float, later: float, client: str) -> None:
    server = S if ":" not in client else "2001:db8::1"
    c = encode(client, server, sport, 443, client_isn=isn, mss=mss, now=now, seed=7)
    assert c.mss == MSSTAB[mss_index(mss)]
    assert c.mss <= max(mss, 536)
    assert check(c.cookie, client, server, sport, 443, client_isn=isn, now=now + later, seed=7) == c.mss


def test_valid_for_exactly_two_counter_steps() -> None:
    c = encode(C, S, 1234, 80, client_isn=5, mss=1460, now=60.0, seed=1)  # minute 1
    ok = [check(c.cookie, C, S, 1234, 80, client_isn=5, now=t, seed=1) for t in (60.0, 119.9, 179.9, 180.0, 400.0)]
    assert ok == [1460, 1460, 1460, None, None]
    # and not before it was made (the counter would be "in the future": age wraps to 255)
    assert check(c.cookie, C, S, 1234, 80, client_isn=5, now=59.0, seed=1) is None


def test_counter_sits_in_the_top_byte() -> None:
    for minute in (0, 1, 200, 300):
        c = encode(C, S, 1234, 80, client_isn=0, mss=536, now=minute * 60.0, seed=2)
        h0 = cookie_hash(C, S, 1234, 80, 0, 0, seed=2)
        assert ((c.cookie - h0) % 2**32) >> 24 == minute % 256
        bits = decode(c.cookie, C, S, 1234, 80, client_isn=0, now=minute * 60.0, seed=2)
        assert bits.counter_bits == minute % 256 and bits.counter == minute and bits.age == 0
        assert bits.low_bits == (bits.hash1 + bits.mss_index) & COOKIEMASK


def test_wrong_tuple_seed_or_isn_is_rejected() -> None:
    c = encode(C, S, 1234, 80, client_isn=99, mss=1440, now=0.0, seed=3)
    assert check(c.cookie, C, S, 1234, 80, client_isn=99, now=1.0, seed=3) == 1440
    bad = [
        check(c.cookie, C, S, 1235, 80, client_isn=99, now=1.0, seed=3),
        check(c.cookie, "198.51.100.8", S, 1234, 80, client_isn=99, now=1.0, seed=3),
        check(c.cookie, C, S, 1234, 80, client_isn=99 + 4, now=1.0, seed=3),
        check(c.cookie, C, S, 1234, 80, client_isn=99, now=1.0, seed=4),
        check((c.cookie + 4) % 2**32, C, S, 1234, 80, client_isn=99, now=1.0, seed=3),
    ]
    assert bad == [None] * 5
    # The client ISN is simply added, so a small error in it moves the MSS index:
    # the layout only protects the index through its range check (index < 4).
    assert check(c.cookie, C, S, 1234, 80, client_isn=100, now=1.0, seed=3) == MSSTAB[mss_index(1440) - 1]


def test_random_guesses_rarely_pass() -> None:
    import random

    rng = random.Random(0)
    hits = sum(
        check(rng.getrandbits(32), C, S, 1234, 80, client_isn=1, now=0.0, seed=3) is not None for _ in range(2000)
    )
    # 2 valid counters * 4 indexes out of 2**32: expect ~0
    assert hits == 0


def test_mss_index_table() -> None:
    assert [mss_index(m) for m in (0, 535, 536, 1299, 1300, 1439, 1440, 1459, 1460, 65535)] == [
        0,
        0,
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]
    with pytest.raises(ParameterError, match="mss"):
        mss_index(70000)


def test_check_ack_undoes_the_plus_one() -> None:
    c = encode(C, S, 999, 80, client_isn=2**32 - 1, mss=1300, now=10.0)
    ack = Segment(src_port=999, dst_port=80, seq=0, ack=(c.cookie + 1) % 2**32, flags=Flags.ACK)
    assert check_ack(ack, C, S, now=11.0) == 1300
    assert check_ack(ack.replace(seq=5), C, S, now=11.0) is None
    assert check_ack(ack.replace(ack=(c.cookie + 9) % 2**32), C, S, now=11.0) is None


@given(st.integers(64, 2**32 - 1), st.sampled_from([None, *range(15)]), st.booleans(), st.booleans())
def test_timestamp_options_round_trip(ts_now: int, wscale: int | None, sack: bool, ecn: bool) -> None:
    ts = encode_timestamp(ts_now, wscale=wscale, sack=sack, ecn=ecn)
    assert ts <= ts_now < ts + 128  # never in the future, at most ~2 * 64 behind
    assert decode_timestamp(ts) == decode_timestamp(ts & 0x3F)
    opts = decode_timestamp(ts)
    assert (opts.wscale, opts.sack, opts.ecn) == (wscale, sack, ecn)


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ParameterError, match="client_isn"):
        encode(C, S, 1, 2, client_isn=-1, mss=1460, now=0.0)
    with pytest.raises(ParameterError, match="sport"):
        encode(C, S, 70000, 2, client_isn=0, mss=1460, now=0.0)
    with pytest.raises(ParameterError, match="address"):
        encode("bogus", S, 1, 2, client_isn=0, mss=1460, now=0.0)
    with pytest.raises(ParameterError, match="same family"):
        encode(C, "::1", 1, 2, client_isn=0, mss=1460, now=0.0)
    with pytest.raises(ParameterError, match="wscale"):
        encode_timestamp(1000, wscale=15, sack=False)
    with pytest.raises(ParameterError, match="now"):
        encode(C, S, 1, 2, client_isn=0, mss=1460, now=-5.0)
