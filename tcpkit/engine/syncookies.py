"""SYN cookies (SYN cookie 机制) in the Linux layout, as pure encode/check functions.

When the SYN queue (半连接队列) is full, for instance during a SYN flood
(SYN 洪泛攻击), Linux does not remember a half-open connection at all: it puts
everything it needs into the ISN of its SYN-ACK (the *cookie*) and rebuilds
the connection when the final ACK echoes ``cookie + 1``.

The 32 bits are laid out as in ``net/ipv4/syncookies.c``::

    cookie = H0(saddr, daddr, sport, dport, 0) + client_isn
           + (count << 24)
           + ((H1(saddr, daddr, sport, dport, count) + mss_index) & 0xffffff)

``count`` is a minute counter (``tcp_cookie_time()``), ``H0``/``H1`` are
SipHash-2-4 under two boot secrets, and ``mss_index`` picks one of the four
MSS values of ``MSSTAB``.  A cookie is accepted while ``count`` is at most
``MAX_SYNCOOKIE_AGE - 1`` minutes old.

Examples
--------
>>> c = encode("192.0.2.2", "192.0.2.1", 40000, 80, client_isn=1000, mss=1460, now=125.0, seed=1)
>>> c.mss                                   # the largest table entry <= 1460
1460
>>> check(c.cookie, "192.0.2.2", "192.0.2.1", 40000, 80, client_isn=1000, now=130.0, seed=1)
1460
>>> check(c.cookie, "192.0.2.2", "192.0.2.1", 40000, 80, client_isn=1000, now=300.0, seed=1) is None
True
>>> d = decode(c.cookie, "192.0.2.2", "192.0.2.1", 40000, 80, client_isn=1000, now=130.0, seed=1)
>>> d.counter, d.age, d.mss_index, d.mss
(2, 0, 3, 1460)

Notes
-----
Functions and constants of ``net/ipv4/syncookies.c`` (Linux 6.x):
``cookie_hash()``, ``secure_tcp_syn_cookie()``, ``check_tcp_syn_cookie()``,
``__cookie_v4_init_sequence()`` (MSS index), ``__cookie_v4_check()``,
``cookie_init_timestamp()`` and ``cookie_timestamp_decode()``; ``COOKIEBITS``,
``COOKIEMASK``, ``TSBITS``, ``msstab``.  ``MAX_SYNCOOKIE_AGE``,
``TCP_SYNCOOKIE_PERIOD`` and ``tcp_cookie_time()`` are in ``include/net/tcp.h``.
IPv6 cookies (``net/ipv6/syncookies.c``) hash the record ``saddr, daddr,
count, sport, dport``; this module does the same for IPv6 addresses.

The kernel's minute counter runs on jiffies since boot; tcpkit counts minutes
of virtual time (``floor(now / 60)``).  The secrets are drawn once per boot
(``net_get_random_once``); here they come from ``seed``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from .errors import ParameterError
from .isn import addr_bytes
from .segment import Option, SackPermitted, Segment, Timestamp, WScale
from .seqnum import MASK
from .siphash import key_from_seed, siphash24, siphash_4u32

__all__ = [
    "COOKIEBITS",
    "COOKIEMASK",
    "MAX_SYNCOOKIE_AGE",
    "TCP_SYNCOOKIE_PERIOD",
    "MSSTAB",
    "TSBITS",
    "TS_OPT_WSCALE_MASK",
    "TS_OPT_SACK",
    "TS_OPT_ECN",
    "Cookie",
    "CookieBits",
    "TsCookieOptions",
    "cookie_time",
    "mss_index",
    "cookie_hash",
    "encode",
    "check",
    "check_ack",
    "decode",
    "encode_timestamp",
    "decode_timestamp",
    "options_from_ack",
]

#: Bits of the cookie that hold the hash + MSS index; the top 8 hold the counter.
COOKIEBITS = 24
COOKIEMASK = (1 << COOKIEBITS) - 1
#: A cookie is valid while its counter is this many minutes old or less, minus one.
MAX_SYNCOOKIE_AGE = 2
#: Seconds per counter step (``60 * HZ`` jiffies).
TCP_SYNCOOKIE_PERIOD = 60.0
#: The MSS values a cookie can carry (index 0..3).
MSSTAB = (536, 1300, 1440, 1460)
#: Low bits of TSval used for options when timestamps carry them.
TSBITS = 6
TS_OPT_WSCALE_MASK = 0xF
TS_OPT_SACK = 1 << 4
TS_OPT_ECN = 1 << 5


@lru_cache(maxsize=256)
def _secrets(seed: int | str) -> tuple[bytes, bytes]:
    return key_from_seed(seed, "syncookie_secret0"), key_from_seed(seed, "syncookie_secret1")


def cookie_time(now: float) -> int:
    """The minute counter ``tcp_cookie_time()``: ``floor(now / 60)``.

    >>> cookie_time(59.9), cookie_time(60.0)
    (0, 1)
    """
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now) or now < 0:
        raise ParameterError("now", now, "a finite time in seconds >= 0")
    return math.floor(now / TCP_SYNCOOKIE_PERIOD) & MASK


def mss_index(mss: int) -> int:
    """Index of the largest ``MSSTAB`` entry not above ``mss`` (0 if ``mss`` < 536).

    >>> [mss_index(m) for m in (100, 536, 1299, 1300, 1450, 9000)]
    [0, 0, 0, 1, 2, 3]

    Notes
    -----
    ``__cookie_v4_init_sequence()`` walks ``msstab`` down from the top and
    stops at index 0, so a tiny MSS is still answered with 536.
    """
    if isinstance(mss, bool) or not isinstance(mss, int) or not 0 <= mss <= 0xFFFF:
        raise ParameterError("mss", mss, "an integer from 0 to 65535")
    for i in range(len(MSSTAB) - 1, 0, -1):
        if mss >= MSSTAB[i]:
            return i
    return 0


def _port(name: str, port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 0xFFFF:
        raise ParameterError(name, port, "an integer from 0 to 65535")
    return port


def _u32(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MASK:
        raise ParameterError(name, value, "an integer from 0 to 2**32 - 1")
    return value


def cookie_hash(saddr: str, daddr: str, sport: int, dport: int, count: int, c: int, *, seed: int | str = 0) -> int:
    """``cookie_hash()``: SipHash of the 4-tuple and ``count`` under secret ``c`` (0 or 1).

    Examples
    --------
    >>> h = cookie_hash("10.0.0.2", "10.0.0.1", 5000, 80, 0, 0)
    >>> 0 <= h < 2**32, h == cookie_hash("10.0.0.2", "10.0.0.1", 5000, 80, 0, 1)
    (True, False)

    Notes
    -----
    IPv4: ``siphash_4u32(saddr, daddr, sport << 16 | dport, count,
    &syncookie_secret[c])`` with the big-endian fields read as raw u32 words
    (modelled as on a little-endian machine).  IPv6: SipHash of the packed
    ``saddr, daddr, count, sport, dport`` record (``net/ipv6/syncookies.c``).
    """
    if c not in (0, 1):
        raise ParameterError("c", c, "0 or 1 (which of the two secrets)")
    _port("sport", sport)
    _port("dport", dport)
    key = _secrets(seed)[c]
    sa, da = addr_bytes(saddr), addr_bytes(daddr)
    count &= MASK
    if len(sa) != len(da):
        raise ParameterError("daddr", daddr, f"an address of the same family as saddr {saddr!r}")
    if len(sa) == 4:
        sp = int.from_bytes(sport.to_bytes(2, "big"), "little")
        dp = int.from_bytes(dport.to_bytes(2, "big"), "little")
        return (
            siphash_4u32(int.from_bytes(sa, "little"), int.from_bytes(da, "little"), (sp << 16 | dp) & MASK, count, key)
            & MASK
        )
    record = sa + da + count.to_bytes(4, "little") + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    return siphash24(key, record) & MASK


@dataclass(frozen=True, slots=True)
class Cookie:
    """What :func:`encode` returns: the ISN to put in the SYN-ACK and the MSS it encodes."""

    cookie: int
    mss: int
    mss_index: int
    counter: int


def encode(
    saddr: str,
    daddr: str,
    sport: int,
    dport: int,
    *,
    client_isn: int,
    mss: int,
    now: float,
    seed: int | str = 0,
) -> Cookie:
    """The SYN-ACK's ISN for a SYN from ``saddr:sport`` to ``daddr:dport``.

    Parameters
    ----------
    saddr, daddr : str
        The SYN's source (the client) and destination (the listener).
    sport, dport : int
        The SYN's source and destination ports.
    client_isn : int
        The SYN's sequence number.
    mss : int
        The MSS the client announced (536 if it sent none).
    now : float
        Virtual time in seconds.
    seed : int or str
        Source of the two secrets.

    Returns
    -------
    Cookie
        ``cookie`` (the ISN), ``mss`` (the table value the server will use),
        ``mss_index`` and ``counter``.

    Examples
    --------
    >>> encode("10.0.0.2", "10.0.0.1", 5000, 80, client_isn=0, mss=1400, now=0.0).mss
    1300

    Notes
    -----
    ``secure_tcp_syn_cookie()`` and ``__cookie_v4_init_sequence()`` in
    ``net/ipv4/syncookies.c``.
    """
    _port("sport", sport)
    _port("dport", dport)
    _u32("client_isn", client_isn)
    idx = mss_index(mss)
    count = cookie_time(now)
    h0 = cookie_hash(saddr, daddr, sport, dport, 0, 0, seed=seed)
    h1 = cookie_hash(saddr, daddr, sport, dport, count, 1, seed=seed)
    value = (h0 + client_isn + (count << COOKIEBITS) + ((h1 + idx) & COOKIEMASK)) & MASK
    return Cookie(cookie=value, mss=MSSTAB[idx], mss_index=idx, counter=count)


@dataclass(frozen=True, slots=True)
class CookieBits:
    """Every part of a cookie, for the "bits of a real cookie" display.

    Attributes
    ----------
    cookie : the 32-bit cookie (the server's ISN).
    hash0 : ``H0``, the counter-free hash that was added on top.
    stripped : ``cookie - H0 - client_isn``: counter in the top 8 bits, hash + index in the low 24.
    counter_bits : the top 8 bits of ``stripped`` (the counter mod 256).
    counter_now : the full minute counter at ``now``.
    age : minutes between the cookie's counter and now (mod 256).
    counter : the cookie's full counter (``counter_now - age``).
    hash1 : ``H1`` for that counter (meaningful when the age is acceptable).
    low_bits : the low 24 bits of ``stripped``.
    mss_index : ``(low_bits - H1) mod 2**24``; a genuine cookie gives 0..3.
    mss : ``MSSTAB[mss_index]``, or None if the index is not 0..3.
    valid : the age is below ``MAX_SYNCOOKIE_AGE`` and the index is in the table.
    """

    cookie: int
    hash0: int
    stripped: int
    counter_bits: int
    counter_now: int
    age: int
    counter: int
    hash1: int
    low_bits: int
    mss_index: int
    mss: int | None
    valid: bool

    def fields(self) -> list[tuple[str, str]]:
        """``(name, value)`` rows in hex and decimal, for a table.

        >>> rows = decode(0, "10.0.0.2", "10.0.0.1", 1, 2, client_isn=0, now=0.0).fields()
        >>> rows[0][0]
        'cookie'
        """
        return [
            ("cookie", f"0x{self.cookie:08x}"),
            ("H0", f"0x{self.hash0:08x}"),
            ("cookie - H0 - client ISN", f"0x{self.stripped:08x}"),
            ("counter (top 8 bits)", f"{self.counter_bits}"),
            ("counter now", f"{self.counter_now}"),
            ("age (minutes)", f"{self.age}"),
            ("H1(counter)", f"0x{self.hash1:08x}"),
            ("low 24 bits", f"0x{self.low_bits:06x}"),
            ("MSS index", f"{self.mss_index}"),
            ("MSS", "invalid" if self.mss is None else f"{self.mss}"),
            ("valid", "yes" if self.valid else "no"),
        ]


def decode(
    cookie: int,
    saddr: str,
    daddr: str,
    sport: int,
    dport: int,
    *,
    client_isn: int,
    now: float,
    seed: int | str = 0,
) -> CookieBits:
    """Take a cookie apart, step by step, as ``check_tcp_syn_cookie()`` does.

    ``cookie`` is the server's ISN (the ACK's ``ack - 1``) and ``client_isn``
    the client's ISN (the ACK's ``seq - 1``).

    Examples
    --------
    >>> c = encode("10.0.0.2", "10.0.0.1", 5000, 80, client_isn=77, mss=536, now=61.0)
    >>> d = decode(c.cookie, "10.0.0.2", "10.0.0.1", 5000, 80, client_isn=77, now=150.0)
    >>> d.counter_bits, d.counter_now, d.age, d.valid, d.mss
    (1, 2, 1, True, 536)
    >>> decode(c.cookie, "10.0.0.2", "10.0.0.1", 5000, 81, client_isn=77, now=61.0).valid
    False

    Notes
    -----
    ``check_tcp_syn_cookie()``: subtract ``H0 + sseq``; the top 8 bits then hold
    the counter, so ``diff = (count - (cookie >> 24)) & 0xff``; refuse if
    ``diff >= MAX_SYNCOOKIE_AGE``; otherwise ``(cookie - H1(count - diff)) &
    COOKIEMASK`` is the MSS index, valid if below ``ARRAY_SIZE(msstab)``
    (``__cookie_v4_check()``).
    """
    _u32("cookie", cookie)
    _u32("client_isn", client_isn)
    _port("sport", sport)
    _port("dport", dport)
    count = cookie_time(now)
    h0 = cookie_hash(saddr, daddr, sport, dport, 0, 0, seed=seed)
    stripped = (cookie - h0 - client_isn) & MASK
    counter_bits = stripped >> COOKIEBITS
    age = (count - counter_bits) & (MASK >> COOKIEBITS)
    counter = (count - age) & MASK
    h1 = cookie_hash(saddr, daddr, sport, dport, counter, 1, seed=seed)
    low = stripped & COOKIEMASK
    idx = (stripped - h1) & COOKIEMASK
    in_table = idx < len(MSSTAB)
    valid = age < MAX_SYNCOOKIE_AGE and in_table
    return CookieBits(
        cookie=cookie,
        hash0=h0,
        stripped=stripped,
        counter_bits=counter_bits,
        counter_now=count,
        age=age,
        counter=counter,
        hash1=h1,
        low_bits=low,
        mss_index=idx,
        mss=MSSTAB[idx] if in_table else None,
        valid=valid,
    )


def check(
    cookie: int,
    saddr: str,
    daddr: str,
    sport: int,
    dport: int,
    *,
    client_isn: int,
    now: float,
    seed: int | str = 0,
) -> int | None:
    """The MSS a cookie encodes, or None if it is forged, stale or for another 4-tuple.

    Examples
    --------
    >>> c = encode("10.0.0.2", "10.0.0.1", 5000, 80, client_isn=9, mss=1440, now=0.0)
    >>> check(c.cookie, "10.0.0.2", "10.0.0.1", 5000, 80, client_isn=9, now=119.9)
    1440
    >>> check(c.cookie, "10.0.0.2", "10.0.0.1", 5000, 80, client_isn=9, now=120.0) is None
    True

    Notes
    -----
    ``__cookie_v4_check()`` in ``net/ipv4/syncookies.c``.  A cookie made in
    minute ``k`` is accepted in minutes ``k`` and ``k + 1``: between 60 and
    120 seconds of life depending on when in the minute it was made.
    """
    bits = decode(cookie, saddr, daddr, sport, dport, client_isn=client_isn, now=now, seed=seed)
    return bits.mss if bits.valid else None


def check_ack(segment: Segment, saddr: str, daddr: str, *, now: float, seed: int | str = 0) -> int | None:
    """:func:`check` applied to the handshake's final ACK (``cookie = ack - 1``, ``isn = seq - 1``).

    Examples
    --------
    >>> from tcpkit.engine.segment import Flags
    >>> c = encode("10.0.0.2", "10.0.0.1", 5000, 80, client_isn=41, mss=1460, now=0.0)
    >>> ack = Segment(src_port=5000, dst_port=80, seq=42, ack=(c.cookie + 1) % 2**32, flags=Flags.ACK)
    >>> check_ack(ack, "10.0.0.2", "10.0.0.1", now=1.0)
    1460
    """
    return check(
        (segment.ack - 1) & MASK,
        saddr,
        daddr,
        segment.src_port,
        segment.dst_port,
        client_isn=(segment.seq - 1) & MASK,
        now=now,
        seed=seed,
    )


@dataclass(frozen=True, slots=True)
class TsCookieOptions:
    """The options carried in the low 6 bits of a cookie's TSval."""

    wscale: int | None
    sack: bool
    ecn: bool


def encode_timestamp(ts_now: int, *, wscale: int | None, sack: bool, ecn: bool = False) -> int:
    """``cookie_init_timestamp()``: the SYN-ACK's TSval with the options in its low 6 bits.

    Parameters
    ----------
    ts_now : int
        The current TSval clock (milliseconds on Linux, ``TCP_TS_HZ = 1000``).
    wscale : int or None
        The client's window scale (0..14), or None if it sent none (stored as 0xf).
    sack, ecn : bool
        Whether the client offered SACK / ECN.

    Returns
    -------
    int
        ``ts_now`` with its low 6 bits replaced by the options, moved down by
        64 if that would put it in the future.

    Examples
    --------
    >>> ts = encode_timestamp(100_000, wscale=7, sack=True)
    >>> ts, ts <= 100_000, ts & 0x3f
    (99991, True, 23)
    >>> decode_timestamp(ts)
    TsCookieOptions(wscale=7, sack=True, ecn=False)

    Notes
    -----
    ``net/ipv4/syncookies.c``: ``options = wscale_ok ? snd_wscale : 0xf``, plus
    ``TS_OPT_SACK`` (bit 4) and ``TS_OPT_ECN`` (bit 5);
    ``ts = (ts_now >> 6) << 6 | options``, and ``if (ts > ts_now) ts -= 64``
    so later timestamps never go backwards.  The client echoes it in TSecr.
    """
    _u32("ts_now", ts_now)
    if wscale is not None and (isinstance(wscale, bool) or not isinstance(wscale, int) or not 0 <= wscale <= 14):
        raise ParameterError("wscale", wscale, "None or an integer from 0 to 14")
    options = TS_OPT_WSCALE_MASK if wscale is None else wscale
    if sack:
        options |= TS_OPT_SACK
    if ecn:
        options |= TS_OPT_ECN
    ts = ((ts_now >> TSBITS) << TSBITS) | options
    if ts > ts_now:
        ts -= 1 << TSBITS
    return ts & MASK


def decode_timestamp(tsecr: int) -> TsCookieOptions:
    """``cookie_timestamp_decode()``: options from the TSecr of the final ACK.

    >>> decode_timestamp(0x3f)
    TsCookieOptions(wscale=None, sack=True, ecn=True)

    Notes
    -----
    A wscale field of 0xf means "no window scaling" (``TS_OPT_WSCALE_MASK``).
    """
    _u32("tsecr", tsecr)
    ws = tsecr & TS_OPT_WSCALE_MASK
    return TsCookieOptions(
        wscale=None if ws == TS_OPT_WSCALE_MASK else ws,
        sack=bool(tsecr & TS_OPT_SACK),
        ecn=bool(tsecr & TS_OPT_ECN),
    )


def options_from_ack(ack: Segment) -> tuple[Option, ...]:
    """The SYN options a cookie's final ACK gives back (beyond the MSS): ``cookie_timestamp_decode()``.

    With a timestamp, its echo (TSecr) carries the client's window scale and SACK; without one
    both are lost and the connection runs without them.

    >>> from tcpkit.engine.segment import Flags
    >>> echo = encode_timestamp(100_000, wscale=7, sack=True)
    >>> ack = Segment(src_port=1, dst_port=2, seq=1, ack=2, flags=Flags.ACK, options=(Timestamp(5, echo),))
    >>> [str(o) for o in options_from_ack(ack)]
    ['TS val 5 ecr 99991', 'wscale 7', 'sackOK']
    >>> options_from_ack(ack.replace(options=()))
    ()
    """
    if ack.timestamp is None:
        return ()
    tsval, tsecr = ack.timestamp
    opts = decode_timestamp(tsecr)
    out: list[Option] = [Timestamp(tsval, tsecr)]
    if opts.wscale is not None:
        out.append(WScale(opts.wscale))
    if opts.sack:
        out.append(SackPermitted())
    return tuple(out)
