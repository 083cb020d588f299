"""Links and middleboxes: delay, jitter, loss, targeted drops, duplication, reordering, NAT.

A :class:`Link` carries segments in one direction.  :meth:`Link.transmit`
answers two things for one segment: when copies of it arrive (none, one or,
when duplicated, two), and why it was dropped if it was.  Every random choice
comes from the link's own ``random.Random(seed)``, so the same seed gives the
same losses.

Drop rules (丢包规则) say exactly which segment to lose, which makes a
teaching point repeatable: :class:`DropNth` ("drop the 3rd segment from A to
B"), :class:`DropFlags` ("drop every FIN"), :class:`BlackHole` ("everything
after t = 5 s") and :class:`DropIf` (any predicate).

:class:`Nat` (网络地址转换, network address translation) puts many hosts
behind one public address, rewriting source ports (NAPT, RFC 3022 §2.2).

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> lk = Link(delay=0.05, rules=[DropFlags("F")])
>>> lk.transmit(1.0, parse_segment("S 0:0(0)"))
([1.05], None)
>>> lk.transmit(1.0, parse_segment("F. 1:1(0) ack 1"))
([], 'rule: every F segment')
>>> Link(loss=1.5)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter loss = 1.5 is not allowed: expected a probability from 0 to 1
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import Flags, Segment, parse_flags

__all__ = ["Link", "DropRule", "DropNth", "DropFlags", "BlackHole", "DropIf", "Nat"]


def _check_prob(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ParameterError(name, value, "a probability from 0 to 1")
    return float(value)


def _check_time(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < math.inf:
        raise ParameterError(name, value, "a number >= 0 (seconds)")
    return float(value)


class DropRule:
    """Base class of drop rules: :meth:`check` returns a reason to drop, or ``None``."""

    def check(self, now: float, index: int, segment: Segment) -> str | None:  # pragma: no cover - interface
        raise NotImplementedError


@dataclass
class DropNth(DropRule):
    """Drop the ``n``-th segment on the link (1-based), counting only segments with ``flags`` if given.

    ``flags`` uses tcpdump letters: ``"F"`` counts segments with FIN set.

    >>> from tcpkit.engine.segment import parse_segment
    >>> rule = DropNth(2, flags="F")
    >>> segs = [". 1:1(0) ack 1", "F. 1:1(0) ack 1", "F. 1:1(0) ack 1"]
    >>> [rule.check(0, i, parse_segment(s)) for i, s in enumerate(segs, 1)]
    [None, None, 'rule: F segment number 2']
    """

    n: int
    flags: str | None = None
    _seen: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ParameterError("n", self.n, "a segment number >= 1")
        self._mask = parse_flags(self.flags) if self.flags else Flags(0)

    def check(self, now: float, index: int, segment: Segment) -> str | None:
        if self._mask and (segment.flags & self._mask) != self._mask:
            return None
        self._seen += 1
        if self._seen == self.n:
            return f"rule: {self.flags + ' ' if self.flags else ''}segment number {self.n}"
        return None


@dataclass
class DropFlags(DropRule):
    """Drop every segment that has all of ``flags`` set (tcpdump letters, e.g. ``"F"`` or ``"R"``).

    ``times`` limits how many are dropped (``None``: all of them).

    >>> from tcpkit.engine.segment import parse_segment
    >>> rule = DropFlags("F", times=1)
    >>> fin = parse_segment("F. 1:1(0) ack 1")
    >>> rule.check(0, 1, fin), rule.check(0, 2, fin)
    ('rule: F segment (1 of 1)', None)
    """

    flags: str
    times: int | None = None
    _dropped: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self._mask = parse_flags(self.flags)
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            raise ParameterError("times", self.times, "None or an integer >= 1")

    def check(self, now: float, index: int, segment: Segment) -> str | None:
        if (segment.flags & self._mask) == self._mask and (self.times is None or self._dropped < self.times):
            self._dropped += 1
            return (
                f"rule: every {self.flags} segment"
                if self.times is None
                else f"rule: {self.flags} segment ({self._dropped} of {self.times})"
            )
        return None


@dataclass
class BlackHole(DropRule):
    """Drop everything sent at or after ``after`` (and before ``until``, if given): a dead peer or a cut cable.

    >>> from tcpkit.engine.segment import parse_segment
    >>> BlackHole(after=5).check(4.9, 1, parse_segment(". 1:1(0) ack 1")) is None
    True
    >>> BlackHole(after=5).check(5.0, 1, parse_segment(". 1:1(0) ack 1"))
    'rule: black hole from t=5'
    """

    after: float = 0.0
    until: float | None = None

    def __post_init__(self) -> None:
        _check_time("after", self.after)
        if self.until is not None and (_check_time("until", self.until) < self.after):
            raise ParameterError("until", self.until, f"a time >= after ({self.after})")

    def check(self, now: float, index: int, segment: Segment) -> str | None:
        if now >= self.after and (self.until is None or now < self.until):
            return f"rule: black hole from t={self.after:g}"
        return None


@dataclass
class DropIf(DropRule):
    """Drop every segment for which ``predicate(now, index, segment)`` is true.

    >>> from tcpkit.engine.segment import parse_segment
    >>> big = DropIf(lambda now, i, seg: seg.length > 1000, "larger than 1000 bytes")
    >>> big.check(0, 1, parse_segment("P. 1:1501(1500) ack 1"))
    'rule: larger than 1000 bytes'
    """

    predicate: Callable[[float, int, Segment], bool]
    reason: str = "predicate"

    def check(self, now: float, index: int, segment: Segment) -> str | None:
        return f"rule: {self.reason}" if self.predicate(now, index, segment) else None


class Link:
    """One direction of a path between two hosts.

    Parameters
    ----------
    delay : float
        Fixed one-way delay (seconds).
    jitter : float
        Extra delay drawn uniformly from ``[0, jitter]``; segments still
        arrive in the order sent unless they are reordered.
    loss : float
        Probability that a segment is lost.
    duplicate : float
        Probability that a segment arrives twice (the copy ``dup_gap`` later).
    reorder : float
        Probability that a segment is held back by ``reorder_delay`` so later
        segments overtake it.
    rules : iterable of DropRule
        Checked first, in order; the first that matches drops the segment.
    seed : int
        Seed of this link's own random generator.

    Notes
    -----
    The random generator is consulted in the same order for every segment
    (loss, jitter, duplication, reordering), whatever the outcome, so one
    changed probability does not shift every later choice of the run.
    """

    def __init__(
        self,
        *,
        delay: float = 0.01,
        jitter: float = 0.0,
        loss: float = 0.0,
        duplicate: float = 0.0,
        reorder: float = 0.0,
        reorder_delay: float | None = None,
        dup_gap: float = 0.0,
        rules: Iterable[DropRule] = (),
        seed: int = 0,
        name: str = "link",
    ) -> None:
        self.delay = _check_time("delay", delay)
        self.jitter = _check_time("jitter", jitter)
        self.loss = _check_prob("loss", loss)
        self.duplicate = _check_prob("duplicate", duplicate)
        self.reorder = _check_prob("reorder", reorder)
        self.reorder_delay = _check_time(
            "reorder_delay", reorder_delay if reorder_delay is not None else max(self.delay, 0.001)
        )
        self.dup_gap = _check_time("dup_gap", dup_gap)
        self.rules = list(rules)
        for r in self.rules:
            if not isinstance(r, DropRule):
                raise ParameterError("rules", r, "DropNth, DropFlags, BlackHole or DropIf objects")
        self.name = name
        self.rng = random.Random(seed)
        self.count = 0  # segments offered to the link
        self.dropped = 0
        self._last = -math.inf  # latest in-order arrival time (keeps FIFO under jitter)

    def transmit(self, now: float, segment: Segment) -> tuple[list[float], str | None]:
        """Arrival times of the copies of ``segment`` sent at ``now``, and the drop reason (or ``None``)."""
        self.count += 1
        for rule in self.rules:
            reason = rule.check(now, self.count, segment)
            if reason is not None:
                self.dropped += 1
                return [], reason
        rng = self.rng
        lost = self.loss > 0 and rng.random() < self.loss
        extra = rng.uniform(0, self.jitter) if self.jitter > 0 else 0.0
        dup = self.duplicate > 0 and rng.random() < self.duplicate
        held = self.reorder > 0 and rng.random() < self.reorder
        if lost:
            self.dropped += 1
            return [], f"random loss (p={self.loss:g})"
        t = now + self.delay + extra
        if held:
            t += self.reorder_delay
        else:
            t = max(t, self._last)
            self._last = t
        out = [t]
        if dup:
            out.append(t + self.dup_gap)
        return out, None

    def __repr__(self) -> str:
        return f"<Link {self.name} delay={self.delay:g} loss={self.loss:g} rules={len(self.rules)}>"


class Nat:
    """A NAPT box: many inside hosts share ``public_addr``; source ports are rewritten.

    An inside ``(addr, port)`` keeps its port when it is free on the public
    side (port preservation, as most home routers do), otherwise it gets the
    next free port in ``[port_low, port_high]``.  Mappings last ``timeout``
    seconds after their last use.

    Examples
    --------
    >>> nat = Nat("203.0.113.1")
    >>> nat.outbound("10.0.0.2", 40000, now=0.0)
    ('203.0.113.1', 40000)
    >>> nat.outbound("10.0.0.3", 40000, now=0.0)
    ('203.0.113.1', 40001)
    >>> nat.inbound(40001)
    ('10.0.0.3', 40000)
    >>> Nat("203.0.113.1", port_low=2000, port_high=1000)
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter port_high = 1000 is not allowed: expected a port from port_low ...
    """

    def __init__(
        self, public_addr: str, *, port_low: int = 1024, port_high: int = 65535, timeout: float = 7440.0
    ) -> None:
        if not isinstance(port_low, int) or not 1 <= port_low <= 65535:
            raise ParameterError("port_low", port_low, "a port from 1 to 65535")
        if not isinstance(port_high, int) or not port_low <= port_high <= 65535:
            raise ParameterError("port_high", port_high, f"a port from port_low ({port_low}) to 65535")
        self.public_addr = public_addr
        self.port_low = port_low
        self.port_high = port_high
        self.timeout = _check_time("timeout", timeout)
        self.inside: set[str] = set()
        self._out: dict[tuple[str, int], int] = {}
        self._in: dict[int, tuple[str, int]] = {}
        self._used: dict[int, float] = {}

    def outbound(self, addr: str, port: int, now: float) -> tuple[str, int]:
        """Translate an inside source; returns the public ``(addr, port)``."""
        key = (addr, port)
        pub = self._out.get(key)
        if pub is None:
            pub = self._free_port(port, now)
            self._out[key] = pub
            self._in[pub] = key
        self._used[pub] = now
        return self.public_addr, pub

    def _free_port(self, want: int, now: float) -> int:
        span = self.port_high - self.port_low + 1
        start = want if self.port_low <= want <= self.port_high else self.port_low
        for i in range(span):
            p = self.port_low + (start - self.port_low + i) % span
            last = self._used.get(p)
            if p not in self._in:
                return p
            if last is not None and now - last > self.timeout:
                del self._out[self._in.pop(p)]
                return p
        raise ParameterError("NAT ports", span, "more free public ports: every port is mapped")

    def inbound(self, port: int) -> tuple[str, int] | None:
        """The inside ``(addr, port)`` for a public port, or ``None`` (no mapping: dropped)."""
        return self._in.get(port)

    @property
    def mappings(self) -> dict[tuple[str, int], int]:
        """Current inside ``(addr, port)`` -> public port."""
        return dict(self._out)

    def __repr__(self) -> str:
        return f"<Nat {self.public_addr} {len(self._out)} mappings>"
