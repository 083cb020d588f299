"""Links, drop rules and the NAT box."""

from __future__ import annotations

import pytest

from tcpkit.drivers.links import BlackHole, DropFlags, DropIf, DropNth, Link, Nat
from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import parse_segment

SYN = parse_segment("S 0:0(0)")
ACK = parse_segment(". 1:1(0) ack 1")
FIN = parse_segment("F. 1:1(0) ack 1")


def test_fixed_delay() -> None:
    lk = Link(delay=0.25)
    assert lk.transmit(2.0, SYN) == ([2.25], None)
    assert lk.count == 1 and lk.dropped == 0


def test_drop_nth_counts_every_segment() -> None:
    lk = Link(delay=0.1, rules=[DropNth(3)])
    out = [lk.transmit(float(i), ACK) for i in range(5)]
    assert [bool(arr) for arr, _ in out] == [True, True, False, True, True]
    assert out[2][1] == "rule: segment number 3"


def test_drop_flags_every_fin_and_limited() -> None:
    lk = Link(rules=[DropFlags("F")])
    assert lk.transmit(0, FIN)[0] == [] and lk.transmit(1, FIN)[0] == []
    assert lk.transmit(2, ACK)[0] != []
    once = Link(rules=[DropFlags("F", times=1)])
    assert once.transmit(0, FIN)[0] == [] and once.transmit(1, FIN)[0] != []


def test_black_hole_window() -> None:
    lk = Link(delay=0.0, rules=[BlackHole(after=5, until=7)])
    assert [bool(lk.transmit(t, ACK)[0]) for t in (4.9, 5.0, 6.9, 7.0)] == [True, False, False, True]


def test_predicate_rule() -> None:
    lk = Link(rules=[DropIf(lambda now, i, seg: seg.syn, "SYNs")])
    assert lk.transmit(0, SYN) == ([], "rule: SYNs")
    assert lk.transmit(0, ACK)[1] is None


def test_loss_is_seeded_and_roughly_right() -> None:
    def pattern(seed: int) -> list[bool]:
        lk = Link(loss=0.3, seed=seed)
        return [bool(lk.transmit(float(i), ACK)[0]) for i in range(2000)]

    a, b, c = pattern(1), pattern(1), pattern(2)
    assert a == b and a != c
    lost = a.count(False) / len(a)
    assert 0.25 < lost < 0.35


def test_jitter_keeps_order_and_reorder_breaks_it() -> None:
    lk = Link(delay=0.1, jitter=0.5, seed=3)
    arrivals = [lk.transmit(i * 0.01, ACK)[0][0] for i in range(200)]
    assert arrivals == sorted(arrivals)
    assert all(0.1 <= a - i * 0.01 <= 0.6 + 1 for i, a in enumerate(arrivals))
    ro = Link(delay=0.1, reorder=0.2, reorder_delay=0.5, seed=3)
    arrivals = [ro.transmit(i * 0.01, ACK)[0][0] for i in range(200)]
    assert arrivals != sorted(arrivals)


def test_duplicate() -> None:
    lk = Link(delay=0.1, duplicate=1.0, dup_gap=0.01)
    assert lk.transmit(0.0, SYN) == ([0.1, 0.11], None)


@pytest.mark.parametrize(
    ("kw", "name"),
    [
        ({"delay": -1}, "delay"),
        ({"loss": 1.5}, "loss"),
        ({"loss": -0.1}, "loss"),
        ({"duplicate": 2}, "duplicate"),
        ({"reorder": "x"}, "reorder"),
        ({"jitter": float("inf")}, "jitter"),
        ({"rules": ["drop"]}, "rules"),
    ],
)
def test_bad_link_parameters(kw: dict, name: str) -> None:
    with pytest.raises(ParameterError) as e:
        Link(**kw)
    assert e.value.name == name


def test_bad_rules() -> None:
    with pytest.raises(ParameterError):
        DropNth(0)
    with pytest.raises(ParameterError):
        BlackHole(after=5, until=1)
    with pytest.raises(ParameterError):
        DropFlags("F", times=0)


def test_nat_port_preservation_and_collision() -> None:
    nat = Nat("203.0.113.9", port_low=40000, port_high=40002)
    assert nat.outbound("10.0.0.1", 40000, 0.0) == ("203.0.113.9", 40000)
    assert nat.outbound("10.0.0.1", 40000, 1.0) == ("203.0.113.9", 40000)  # same mapping reused
    assert nat.outbound("10.0.0.2", 40000, 1.0) == ("203.0.113.9", 40001)
    assert nat.outbound("10.0.0.3", 40000, 1.0) == ("203.0.113.9", 40002)
    assert nat.inbound(40002) == ("10.0.0.3", 40000)
    assert nat.inbound(39999) is None
    with pytest.raises(ParameterError):
        nat.outbound("10.0.0.4", 40000, 2.0)  # every port is taken
    # an idle mapping expires and its port is reused
    assert nat.outbound("10.0.0.4", 40000, 1.0 + nat.timeout + 1)[1] == 40000
    assert nat.inbound(40000) == ("10.0.0.4", 40000)


def test_nat_bad_range() -> None:
    with pytest.raises(ParameterError) as e:
        Nat("1.2.3.4", port_low=5000, port_high=4000)
    assert "port_high" in str(e.value)
