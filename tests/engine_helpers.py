"""Shared helpers for the engine tests: two stacks joined by a fake link, and a recorder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tcpkit.engine.errors import TcpError
from tcpkit.engine.profiles import Profile, get_profile
from tcpkit.engine.segment import Segment
from tcpkit.engine.stack import Datagram, Stack
from tcpkit.engine.states import State
from tcpkit.engine.trace import Kind, StateChanged, TraceRecord

CLIENT_ADDR = "10.0.0.2"
SERVER_ADDR = "10.0.0.1"

Drop = Callable[[Datagram, float], bool]


@dataclass
class Link:
    """Two stacks and a wire between them.

    Every datagram is delivered ``delay`` seconds after it was sent unless
    ``drop(datagram, now)`` says otherwise.  ``run(until)`` advances virtual
    time from event to event (deliveries and timer deadlines).
    """

    a: Stack
    b: Stack
    delay: float = 0.01
    drop: Drop | None = None
    now: float = 0.0
    records: list[TraceRecord] = field(default_factory=list)
    in_flight: list[tuple[float, int, Datagram]] = field(default_factory=list)
    delivered: list[tuple[float, Datagram]] = field(default_factory=list)
    dropped: list[tuple[float, Datagram]] = field(default_factory=list)
    _n: int = 0

    def _stack_for(self, addr: str) -> Stack:
        return self.a if addr == self.a.addr else self.b

    def collect(self) -> None:
        for st in (self.a, self.b):
            for d in st.take_outgoing():
                if self.drop is not None and self.drop(d, self.now):
                    self.dropped.append((self.now, d))
                    continue
                self._n += 1
                self.in_flight.append((self.now + self.delay, self._n, d))

    def step(self, until: float) -> bool:
        """Process the next event at or before ``until``; False when there is none."""
        self.collect()
        t_pkt = min((t for t, _, _ in self.in_flight), default=None)
        deadlines = [d for d in (self.a.next_deadline(), self.b.next_deadline()) if d is not None]
        t_tmr = min(deadlines, default=None)
        cands = [t for t in (t_pkt, t_tmr) if t is not None and t <= until]
        if not cands:
            return False
        t = min(cands)
        self.now = max(self.now, t)
        if t_pkt is not None and t_pkt == t:
            self.in_flight.sort()
            _, _, d = self.in_flight.pop(0)
            self.delivered.append((self.now, d))
            self._stack_for(d.dst).segment_arrives(self.now, d.src, d.dst, d.segment)
        else:
            self.a.handle_timer(self.now)
            self.b.handle_timer(self.now)
        self.collect()
        return True

    def run(self, until: float, max_events: int = 100_000) -> None:
        for _ in range(max_events):
            if not self.step(until):
                break
        self.now = max(self.now, until)

    def run_for(self, seconds: float) -> None:
        self.run(self.now + seconds)

    def settle(self) -> None:
        """Deliver everything in flight (no timers beyond the last delivery + delay)."""
        self.run(self.now + self.delay * 4)

    def kinds(self, kind: Kind, host: str | None = None) -> list[TraceRecord]:
        return [r for r in self.records if r.kind is kind and (host is None or r.host == host)]

    def state_rows(self) -> set[tuple[str, str, str]]:
        return {
            (r.src.value or "", r.event.value or "", r.condition or "")
            for r in self.records
            if isinstance(r, StateChanged)
        }


def make_pair(
    profile: str | Profile = "linux",
    *,
    server_profile: str | Profile | None = None,
    delay: float = 0.01,
    drop: Drop | None = None,
    seed: int = 1,
    **knobs: object,
) -> Link:
    """A client stack (``a``) and a server stack (``b``) on a link, sharing one record list."""
    prof = get_profile(profile, **knobs) if knobs or isinstance(profile, str) else profile
    sprof = (
        prof
        if server_profile is None
        else (get_profile(server_profile) if isinstance(server_profile, str) else server_profile)
    )
    records: list[TraceRecord] = []
    a = Stack(name="client", addr=CLIENT_ADDR, profile=prof, seed=seed, tracer=records.append)
    b = Stack(name="server", addr=SERVER_ADDR, profile=sprof, seed=seed + 1, tracer=records.append)
    return Link(a, b, delay=delay, drop=drop, records=records)


def connect_pair(link: Link, port: int = 80, backlog: int = 16) -> tuple[int, int, int]:
    """Listen on the server, connect from the client, accept; returns ``(client fd, listen fd, server fd)``."""
    lfd = link.b.socket(link.now)
    link.b.setsockopt(link.now, lfd, "SO_REUSEADDR", 1)
    link.b.bind(link.now, lfd, port)
    link.b.listen(link.now, lfd, backlog)
    cfd = link.a.socket(link.now)
    try:
        link.a.connect(link.now, cfd, SERVER_ADDR, port)
    except TcpError as e:
        assert e.errno_name == "EINPROGRESS"
    link.settle()
    assert link.a.state(cfd) is State.ESTABLISHED, link.a.state(cfd)
    sfd = link.b.accept(link.now, lfd)
    return cfd, lfd, sfd


def seg_text(seg: Segment, base: tuple[int, int]) -> str:
    """A segment relative to ``(our ISN, peer ISN)``, as packetdrill writes it."""
    return seg.notation(relative_to=base)


def errno_of(fn: Callable[[], object]) -> str | None:
    """Run ``fn``; the errno name it raised, or None."""
    try:
        fn()
    except TcpError as e:
        return e.errno_name
    return None


def inject(
    link: Link,
    side: str,
    fd: int,
    flags: str,
    *,
    seq: int | None = None,
    ack: int | None = None,
    payload: bytes = b"",
    window: int = 65535,
    options: tuple = (),
) -> None:
    """Deliver a hand-made segment to the connection behind ``fd`` on stack ``side`` ("a" or "b").

    ``seq`` defaults to the connection's RCV.NXT and ``ack`` to its SND.NXT, i.e. a
    segment the peer could have sent right now.
    """
    from tcpkit.engine.segment import parse_flags

    st = link.a if side == "a" else link.b
    conn = st.connection(fd)
    assert conn is not None
    fl = parse_flags(flags)
    seg = Segment(
        src_port=conn.remote[1],
        dst_port=conn.local[1],
        seq=(conn.rcv_nxt if seq is None else seq) & 0xFFFFFFFF,
        ack=(conn.snd_nxt if ack is None else ack) & 0xFFFFFFFF if "." in flags else 0,
        flags=fl,
        window=window,
        payload=payload,
        options=options,
    )
    st.segment_arrives(link.now, conn.remote[0], conn.local[0], seg)
    link.collect()


def conn_of(link: Link, side: str, fd: int):  # type: ignore[no-untyped-def]
    st = link.a if side == "a" else link.b
    c = st.connection(fd)
    assert c is not None
    return c
