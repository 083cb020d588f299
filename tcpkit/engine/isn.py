"""Initial sequence number (ISN, 初始序列号) generators: pure functions of time and 4-tuple.

An ISN generator is any callable ``gen(now, conn) -> int`` returning a 32-bit
number (:data:`IsnGenerator`).  :func:`make_isn` builds the five kinds the
course compares:

``fixed``
    always the same number: the counter-example (old duplicates and
    blind attackers both know it).
``clock``
    RFC 793's 32-bit counter that ticks every 4 microseconds.
``rfc6528``
    RFC 6528 / RFC 9293 §3.4.1: the clock plus a keyed hash of the 4-tuple.
``linux``
    ``secure_tcp_seq()``: SipHash of the 4-tuple plus a 64 ns clock.
``random``
    a uniform 32-bit number (keyed by ``now`` and the 4-tuple so that it
    stays a pure function).

Examples
--------
>>> conn = ("10.0.0.1", 40000, "10.0.0.2", 80)
>>> make_isn("fixed")(12.5, conn)
0
>>> clock = make_isn("clock")
>>> clock(0.0, conn), clock(1.0, conn)              # 250,000 ticks per second
(0, 250000)
>>> isn = make_isn("linux", seed=1)
>>> isn(1.0, conn) == isn(1.0, conn), isn(1.0, conn) == make_isn("linux", seed=2)(1.0, conn)
(True, False)
>>> make_isn("guess")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter kind = 'guess' is not allowed: expected one of fixed, clock, ...

Notes
-----
No generator reads a clock or a global random source: time is the ``now``
argument and every secret comes from ``seed`` (:func:`tcpkit.engine.siphash.key_from_seed`),
so the same seed gives the same ISNs in every run.
"""

from __future__ import annotations

import ipaddress
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from .errors import ParameterError
from .events import ConnId
from .seqnum import MASK
from .siphash import key_from_seed, siphash24, siphash_3u32

__all__ = [
    "ConnId",
    "IsnGenerator",
    "KINDS",
    "CLOCK_TICK",
    "RFC793_TICK",
    "make_isn",
    "FixedIsn",
    "ClockIsn",
    "Rfc6528Isn",
    "LinuxIsn",
    "RandomIsn",
    "isn_series",
    "predict_next_clock_isn",
]

IsnGenerator = Callable[[float, ConnId], int]

#: The tick RFC 793 §3.3 names: "roughly every 4 microseconds".
CLOCK_TICK = 4e-6
#: The tick that makes RFC 793's "approximately every 4.55 hours" exact: 2**-18 s.
RFC793_TICK = 2.0**-18

KINDS = ("fixed", "clock", "rfc6528", "linux", "random")


@lru_cache(maxsize=4096)
def addr_bytes(addr: str) -> bytes:
    """The packed (network order) form of an IPv4 or IPv6 address.

    >>> addr_bytes("10.0.0.1").hex(), len(addr_bytes("::1"))
    ('0a000001', 16)
    """
    try:
        return ipaddress.ip_address(addr).packed
    except ValueError:
        raise ParameterError("address", addr, "an IPv4 or IPv6 address such as 192.0.2.1 or 2001:db8::1") from None


def _check_conn(conn: ConnId) -> ConnId:
    try:
        la, lp, ra, rp = conn
    except (TypeError, ValueError):
        raise ParameterError("conn", conn, "a 4-tuple (local_addr, local_port, remote_addr, remote_port)") from None
    for name, port in (("local_port", lp), ("remote_port", rp)):
        if not isinstance(port, int) or not 0 <= port <= 0xFFFF:
            raise ParameterError(name, port, "an integer from 0 to 65535")
    return conn


def _ticks(now: float, tick: float) -> int:
    # The tiny epsilon keeps exact multiples (1.0 / 4e-6) from rounding down a tick.
    return math.floor(now / tick + 1e-9)


def _check_now(now: float) -> float:
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now) or now < 0:
        raise ParameterError("now", now, "a finite time in seconds >= 0")
    return float(now)


@dataclass(frozen=True, slots=True)
class FixedIsn:
    """Always ``value``: what a TCP without an ISN generator would do.

    >>> FixedIsn(7)(99.0, ("a", 1, "b", 2))
    7
    """

    value: int = 0
    kind: str = field(default="fixed", init=False)

    def __call__(self, now: float, conn: ConnId) -> int:
        return self.value


@dataclass(frozen=True, slots=True)
class ClockIsn:
    """RFC 793's ISN clock: a 32-bit counter bumped once per ``tick`` seconds.

    ``ISN = (offset + floor(now / tick)) mod 2**32``.

    Examples
    --------
    >>> ClockIsn()(0.001, ("10.0.0.1", 1, "10.0.0.2", 2))   # 1 ms = 250 ticks of 4 us
    250
    >>> round(ClockIsn().period / 3600, 2), round(ClockIsn(tick=RFC793_TICK).period / 3600, 2)
    (4.77, 4.55)

    Notes
    -----
    RFC 793 §3.3 says the generator is "a (possibly fictitious) 32 bit clock
    whose low order bit is incremented roughly every 4 microseconds", and that
    "the ISN cycles approximately every 4.55 hours".  Both are approximately
    right, and the arithmetic shows how:

    * with a tick of exactly 4 us, the cycle is ``2**32 * 4e-6 s = 17179.9 s``,
      i.e. about **4.77 hours**;
    * 4.55 hours is ``16384 s = 2**14 s = 2**32 / 2**18``: a tick of
      ``2**-18 s = 3.81 us`` (a 262,144 Hz clock), which is "roughly 4 us".

    RFC 9293 §3.4.1 keeps the clock (as the ``M`` term of the RFC 6528 formula)
    and says the same.  The tick is a parameter so a notebook can show both.
    """

    tick: float = CLOCK_TICK
    offset: int = 0
    kind: str = field(default="clock", init=False)

    def __call__(self, now: float, conn: ConnId) -> int:
        return (self.offset + _ticks(now, self.tick)) & MASK

    @property
    def period(self) -> float:
        """Seconds until the counter wraps: ``2**32 * tick``."""
        return (MASK + 1) * self.tick


def _tuple_bytes(conn: ConnId) -> bytes:
    la, lp, ra, rp = conn
    return addr_bytes(la) + lp.to_bytes(2, "big") + addr_bytes(ra) + rp.to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class Rfc6528Isn:
    """RFC 6528 / RFC 9293 §3.4.1: ``ISN = M + F(localip, localport, remoteip, remoteport, secretkey)``.

    ``M`` is the 4-us clock; ``F`` is SipHash-2-4 (low 32 bits) of the packed
    4-tuple under a key derived from the seed.

    Examples
    --------
    >>> gen = Rfc6528Isn(key=bytes(16))
    >>> a, b = ("10.0.0.1", 1000, "10.0.0.2", 80), ("10.0.0.1", 1001, "10.0.0.2", 80)
    >>> (gen(1.0, a) - gen(0.0, a)) % 2**32              # same connection: the clock advances
    250000
    >>> gen(0.0, a) != gen(0.0, b)                       # another connection: another sequence space
    True

    Notes
    -----
    RFC 6528 §3 suggests MD5 for ``F``; any keyed pseudo-random function will do,
    and Linux uses SipHash (see :class:`LinuxIsn`).  Because ``F`` is the same for
    a given 4-tuple, the ISNs of successive incarnations of one connection still
    increase with the clock (what RFC 793 wanted against old duplicates), while
    an attacker who does not know the key cannot compute ``F`` for someone
    else's 4-tuple.
    """

    key: bytes
    tick: float = CLOCK_TICK
    kind: str = field(default="rfc6528", init=False)

    def offset(self, conn: ConnId) -> int:
        """``F``: the per-4-tuple offset."""
        return siphash24(self.key, _tuple_bytes(_check_conn(conn))) & MASK

    def __call__(self, now: float, conn: ConnId) -> int:
        return (_ticks(now, self.tick) + self.offset(conn)) & MASK


def _be32_as_u32(addr: str) -> int:
    # The kernel passes __be32 addresses straight to siphash_3u32: on a
    # little-endian machine the u32 it hashes is the network bytes read little-endian.
    return int.from_bytes(addr_bytes(addr), "little")


def _be16_as_u16(port: int) -> int:
    return int.from_bytes(port.to_bytes(2, "big"), "little")


@dataclass(frozen=True, slots=True)
class LinuxIsn:
    """Linux ``secure_tcp_seq()``: SipHash of the 4-tuple plus a 64 ns clock.

    ``ISN = siphash(saddr, daddr, sport << 16 | dport; net_secret) + (ns >> 6)``
    mod 2**32, where ``ns`` is nanoseconds (here ``now`` plus ``epoch``, in ns).

    Examples
    --------
    >>> gen = LinuxIsn(key=bytes(16))
    >>> c = ("192.0.2.1", 40000, "192.0.2.2", 80)
    >>> (gen(64e-9 * 1000, c) - gen(0.0, c)) % 2**32      # 1000 ticks of 64 ns
    1000
    >>> round(2**32 * 64e-9)                              # seconds until the clock part wraps
    275

    Notes
    -----
    ``net/core/secure_seq.c``: ``secure_tcp_seq()`` hashes ``saddr, daddr,
    (u32)sport << 16 | dport`` with ``siphash_3u32`` under the boot-time
    ``net_secret``; ``seq_scale()`` adds ``ktime_get_real_ns() >> 6`` (its
    comment: a 64 ns clock wraps about every 274 s, "less than one time per
    MSL").  The addresses are the *local* then the *remote* one
    (``tcp_v4_connect()`` and ``tcp_v4_init_seq()`` in ``net/ipv4/tcp_ipv4.c``).
    The kernel hashes the big-endian fields as raw u32 words; this model does the
    same as a little-endian machine.  IPv6 (``secure_tcpv6_seq()``) hashes the
    36-byte ``saddr, daddr, sport, dport`` record.
    """

    key: bytes
    epoch: float = 0.0
    kind: str = field(default="linux", init=False)

    def hash(self, conn: ConnId) -> int:
        """The keyed-hash part for a 4-tuple (32 bits)."""
        la, lp, ra, rp = _check_conn(conn)
        if len(addr_bytes(la)) == 4 and len(addr_bytes(ra)) == 4:
            ports = (_be16_as_u16(lp) << 16 | _be16_as_u16(rp)) & MASK
            return siphash_3u32(_be32_as_u32(la), _be32_as_u32(ra), ports, self.key) & MASK
        record = addr_bytes(la) + addr_bytes(ra) + lp.to_bytes(2, "big") + rp.to_bytes(2, "big")
        return siphash24(self.key, record) & MASK

    def __call__(self, now: float, conn: ConnId) -> int:
        # added in integers: a float near 1.7e18 ns would be off by up to 128 ns
        ns = round(self.epoch * 1e9) + round(now * 1e9)
        return (self.hash(conn) + (ns >> 6)) & MASK


@dataclass(frozen=True, slots=True)
class RandomIsn:
    """A uniform 32-bit ISN, drawn from ``random.Random`` seeded by ``(seed, now, conn)``.

    >>> gen = RandomIsn(seed=3)
    >>> c = ("10.0.0.1", 1, "10.0.0.2", 2)
    >>> gen(1.5, c) == gen(1.5, c), 0 <= gen(1.5, c) < 2**32
    (True, True)

    Notes
    -----
    Pure randomness defeats prediction but loses RFC 793's monotonic property
    for reincarnations of the same 4-tuple (RFC 6528 §2 explains why that
    matters for TIME_WAIT).  Seeding with a string is deterministic across
    processes (``random.Random`` hashes it with SHA-512).
    """

    seed: int = 0
    kind: str = field(default="random", init=False)

    def __call__(self, now: float, conn: ConnId) -> int:
        return random.Random(f"isn:{self.seed}:{float(now)!r}:{tuple(conn)!r}").getrandbits(32)


def make_isn(
    kind: str,
    *,
    seed: int = 0,
    value: int = 0,
    tick: float = CLOCK_TICK,
    epoch: float = 0.0,
) -> IsnGenerator:
    """Build an ISN generator by name.

    Parameters
    ----------
    kind : {"fixed", "clock", "rfc6528", "linux", "random"}
    seed : int
        Source of every secret (keys of ``rfc6528``/``linux``, draws of ``random``).
    value : int
        The number ``fixed`` returns (default 0); also the starting value of ``clock``.
    tick : float
        Seconds per clock step for ``clock`` and ``rfc6528`` (default 4 us).
    epoch : float
        Seconds added to ``now`` before the ``linux`` 64 ns clock is read
        (the wall-clock time at virtual time 0).

    Returns
    -------
    IsnGenerator
        A callable ``gen(now, conn) -> int``; check ``gen.kind`` for its name.

    Raises
    ------
    ParameterError
        For an unknown kind or an out-of-range parameter.

    Examples
    --------
    >>> make_isn("fixed", value=1000)(0.0, ("a", 1, "b", 2))
    1000
    >>> make_isn("clock", tick=0)
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter tick = 0 is not allowed: expected a time in seconds > 0

    Notes
    -----
    RFC 9293 §3.4.1 requires ISNs of the ``rfc6528`` form; ``fixed`` and
    ``clock`` are there to show why (see :func:`predict_next_clock_isn`).
    """
    if kind not in KINDS:
        raise ParameterError("kind", kind, "one of " + ", ".join(KINDS))
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MASK:
        raise ParameterError("value", value, "an integer from 0 to 2**32 - 1")
    if isinstance(tick, bool) or not isinstance(tick, int | float) or not math.isfinite(tick) or tick <= 0:
        raise ParameterError("tick", tick, "a time in seconds > 0")
    if isinstance(epoch, bool) or not isinstance(epoch, int | float) or not math.isfinite(epoch) or epoch < 0:
        raise ParameterError("epoch", epoch, "a time in seconds >= 0")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError("seed", seed, "an integer")
    if kind == "fixed":
        return FixedIsn(value)
    if kind == "clock":
        return ClockIsn(tick=float(tick), offset=value)
    if kind == "rfc6528":
        return Rfc6528Isn(key=key_from_seed(seed, "rfc6528"), tick=float(tick))
    if kind == "linux":
        return LinuxIsn(key=key_from_seed(seed, "net_secret"), epoch=float(epoch))
    return RandomIsn(seed=seed)


def isn_series(gen: IsnGenerator, times: Iterable[float], conn: ConnId) -> list[tuple[float, int]]:
    """``(time, ISN)`` pairs of one generator for one 4-tuple (for plots).

    Examples
    --------
    >>> isn_series(make_isn("clock"), [0.0, 0.5, 1.0], ("10.0.0.1", 1, "10.0.0.2", 2))
    [(0.0, 0), (0.5, 125000), (1.0, 250000)]
    """
    _check_conn(conn)
    return [(float(t), gen(_check_now(t), conn)) for t in times]


def predict_next_clock_isn(observed_isn: int, observed_time: float, at_time: float, *, tick: float = CLOCK_TICK) -> int:
    """Guess a clock-driven ISN at ``at_time`` from one ISN seen at ``observed_time``.

    This is the attack of Morris (1985) and Mitnick (1994): open one honest
    connection, read the server's ISN, and the next one follows from the clock.

    Parameters
    ----------
    observed_isn : int
        An ISN the attacker saw (e.g. in a SYN-ACK to its own SYN).
    observed_time, at_time : float
        When it was seen, and when the spoofed SYN will arrive (seconds).
    tick : float
        The victim's clock period (default 4 us).

    Returns
    -------
    int
        The predicted ISN; against :class:`ClockIsn` it is exact or off by one
        tick (the attacker does not know where inside a tick each time falls).

    Examples
    --------
    >>> gen = make_isn("clock", value=123456)
    >>> c = ("10.0.0.1", 1, "10.0.0.2", 2)
    >>> guess = predict_next_clock_isn(gen(10.0, c), 10.0, 12.5)
    >>> abs(guess - gen(12.5, c)) <= 1
    True
    >>> gen = make_isn("rfc6528", seed=5)                   # other 4-tuple: the guess is useless
    >>> other = ("10.0.0.1", 2, "10.0.0.2", 2)
    >>> abs(predict_next_clock_isn(gen(10.0, c), 10.0, 12.5) - gen(12.5, other)) > 1000
    True

    Notes
    -----
    RFC 6528 §1 and RFC 1948 describe the attack; RFC 6528's per-4-tuple offset
    ``F`` is what breaks it, because the attacker's own connection has a
    different 4-tuple from the one it spoofs.
    """
    if isinstance(observed_isn, bool) or not isinstance(observed_isn, int) or not 0 <= observed_isn <= MASK:
        raise ParameterError("observed_isn", observed_isn, "an integer from 0 to 2**32 - 1")
    _check_now(observed_time)
    _check_now(at_time)
    if not isinstance(tick, int | float) or tick <= 0:
        raise ParameterError("tick", tick, "a time in seconds > 0")
    return (observed_isn + round((at_time - observed_time) / tick)) & MASK
