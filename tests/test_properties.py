"""Property tests: random user calls, segments (valid, stale, garbage) and timer firings on a pair.

Whatever happens, the engine raises only tcpkit's documented errors, stays in
the 11 states, keeps SND.UNA <= SND.NXT (mod 2**32), and once both sides have
closed and enough virtual time has passed, everything is CLOSED.
"""

from __future__ import annotations

import contextlib

from engine_helpers import CLIENT_ADDR, SERVER_ADDR, Link, make_pair
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpkit.engine.errors import ParameterError, TcpError
from tcpkit.engine.segment import Segment, parse_flags
from tcpkit.engine.seqnum import seq_le
from tcpkit.engine.states import STATES, State
from tcpkit.engine.trace import StateChanged

OPS = (
    "send",
    "recv",
    "shutdown",
    "close",
    "deliver",
    "drop",
    "dup",
    "timer",
    "garbage",
    "stale",
    "abort",
    "run",
    "opt",
)

#: flag combinations a peer (or an attacker) might send
FLAGS = ("R", "R.", "S", "S.", "F", "F.", "FP.", ".", "P.", "SF", "none", "RS")

op_st = st.tuples(
    st.sampled_from(OPS),
    st.sampled_from("ab"),
    st.integers(min_value=0, max_value=2**32 - 1),
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=0, max_value=255),
)


def _check_invariants(link: Link) -> None:
    for stack in (link.a, link.b):
        conns = list(stack.conns.values()) + [s.conn for s in stack.fds.values() if s.conn is not None]
        for c in conns:
            assert c.state in STATES
            assert seq_le(c.snd_una, c.snd_nxt), (c, c.snd_una, c.snd_nxt)
            assert seq_le(c.snd_nxt, c.snd_max), (c, c.snd_nxt, c.snd_max)


def _setup(profile: str, established: bool) -> tuple[Link, dict[str, int | None], int]:
    link = make_pair(profile)
    lfd = link.b.socket(link.now)
    link.b.bind(link.now, lfd, 80)
    link.b.listen(0.0, lfd, 4)
    cfd = link.a.socket(link.now)
    with contextlib.suppress(TcpError):
        link.a.connect(0.0, cfd, SERVER_ADDR, 80)
    if established:
        link.settle()
    return link, {"a": cfd, "b": None}, lfd


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(["linux", "freebsd", "rfc9293"]),
    established=st.booleans(),
    ops=st.lists(op_st, max_size=40),
)
def test_random_sequences_stay_sane(profile: str, established: bool, ops: list[tuple[str, str, int, int, int]]) -> None:
    link, fds, lfd = _setup(profile, established)
    history: list[Segment] = []
    for op, side, num, size, flagbits in ops:
        stack = link.a if side == "a" else link.b
        if fds["b"] is None:
            with contextlib.suppress(TcpError):
                fds["b"] = link.b.accept(link.now, lfd)
        fd = fds[side]
        link.collect()
        try:
            if op == "send" and fd is not None:
                stack.send(link.now, fd, bytes(size % 3000))
            elif op == "recv" and fd is not None:
                stack.recv(link.now, fd, size)
            elif op == "shutdown" and fd is not None:
                stack.shutdown(link.now, fd, ("SHUT_RD", "SHUT_WR", "SHUT_RDWR")[size % 3])
            elif op == "close" and fd is not None:
                stack.close(link.now, fd)
                fds[side] = None
            elif op == "abort" and fd is not None and size % 2 == 0:
                stack.abort(link.now, fd)
                fds[side] = None
            elif op == "deliver" and link.in_flight:
                link.in_flight.sort()
                t, _n, d = link.in_flight.pop(0)
                link.now = max(link.now, t)
                history.append(d.segment)
                (link.a if d.dst == link.a.addr else link.b).segment_arrives(link.now, d.src, d.dst, d.segment)
            elif op == "drop" and link.in_flight:
                link.in_flight.pop(size % len(link.in_flight))
            elif op == "dup" and link.in_flight:
                link.in_flight.append(link.in_flight[size % len(link.in_flight)])
            elif op == "run":
                link.drop = (lambda d, t: True) if flagbits & 1 else None
                link.run_for(size / 10)
                link.drop = None
            elif op == "opt" and fd is not None:
                name, value = (
                    ("SO_KEEPALIVE", 1),
                    ("TCP_KEEPIDLE", 1 + size % 20),
                    ("TCP_KEEPINTVL", 1 + size % 5),
                    ("TCP_USER_TIMEOUT", size),
                    ("SO_LINGER", (1, 0)),
                    ("SO_RCVBUF", size),
                )[flagbits % 6]
                stack.setsockopt(link.now, fd, name, value)
            elif op == "timer":
                nd = stack.next_deadline()
                if nd is not None:
                    link.now = max(link.now, nd)
                    stack.handle_timer(link.now)
            elif op in ("garbage", "stale"):
                target = link.a if side == "a" else link.b
                conns = list(target.conns.values())
                if op == "stale" and history:
                    seg = history[num % len(history)]
                else:
                    c = conns[num % len(conns)] if conns else None
                    seg = Segment(
                        src_port=c.remote[1] if c else 1234,
                        dst_port=c.local[1] if c else 80,
                        seq=num
                        if flagbits & 0x40
                        else ((c.rcv_nxt if c else 0) + (size if flagbits & 0x20 else 0)) & 0xFFFFFFFF,
                        ack=(num * 7) & 0xFFFFFFFF if flagbits & 0x80 else ((c.snd_nxt if c else 0) & 0xFFFFFFFF),
                        flags=parse_flags(FLAGS[flagbits % len(FLAGS)]),
                        window=size,
                        length=size % 50,
                    )
                src, dst = (SERVER_ADDR, CLIENT_ADDR) if side == "a" else (CLIENT_ADDR, SERVER_ADDR)
                target.segment_arrives(link.now, src, dst, seg)
        except (TcpError, ParameterError):
            pass
        link.collect()
        _check_invariants(link)
    # both sides close; the network delivers everything; time passes
    for side, stack in (("a", link.a), ("b", link.b)):
        fd = fds[side]
        if fd is not None:
            stack.close(link.now, fd)
    link.b.close(link.now, lfd)
    link.drop = None
    link.run(link.now + 5000)
    _check_invariants(link)
    assert link.a.sockets() == [] and link.b.sockets() == [], (link.a.sockets(), link.b.sockets())


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    profile=st.sampled_from(["linux", "freebsd", "rfc9293"]),
    seed=st.integers(min_value=0, max_value=10**6),
    loss=st.sampled_from([0.0, 0.05, 0.2]),
    size=st.integers(min_value=0, max_value=40_000),
)
def test_bytes_survive_a_lossy_reordering_link(profile: str, seed: int, loss: float, size: int) -> None:
    import random

    rng = random.Random(seed)
    link = make_pair(profile, drop=lambda d, t: rng.random() < loss)
    lfd = link.b.socket(link.now)
    link.b.bind(link.now, lfd, 80)
    link.b.listen(0.0, lfd, 4)
    cfd = link.a.socket(link.now)
    with contextlib.suppress(TcpError):
        link.a.connect(0.0, cfd, SERVER_ADDR, 80)
    conn = link.a.connection(cfd)
    assert conn is not None
    blob = bytes(rng.randrange(256) for _ in range(size))
    sent = 0
    got = b""
    sfd = None
    closed_a = closed_b = False
    for _ in range(8000):
        link.delay = rng.choice([0.005, 0.01, 0.03])  # segments overtake each other
        link.run_for(0.05)
        if sfd is None:
            with contextlib.suppress(TcpError):
                sfd = link.b.accept(link.now, lfd)
        if conn.state is State.CLOSED and not closed_a:
            return  # the connection failed (connect or retries gave up): allowed on a lossy link
        if conn.state is not State.SYN_SENT and sent < len(blob):
            with contextlib.suppress(TcpError):
                sent += link.a.send(link.now, cfd, blob[sent:])
        if sent == len(blob) and not closed_a and conn.state is not State.SYN_SENT:
            link.a.close(link.now, cfd)
            closed_a = True
        if sfd is not None and not closed_b:
            try:
                chunk = link.b.recv(link.now, sfd, 1 << 20)
            except TcpError as e:
                assert e.errno_name == "EAGAIN", e
                chunk = None
            if chunk == b"":
                link.b.close(link.now, sfd)
                closed_b = True
            elif chunk:
                got += chunk
        if closed_a and closed_b:
            break
    assert blob.startswith(got)  # whatever arrived is exactly what was sent, in order
    if not (closed_a and closed_b):
        # allowed only when a side gave up on a lossy link (retries exhausted)
        gave_up = [
            r for r in link.records if isinstance(r, StateChanged) and r.event.value == "retransmissions exhausted"
        ]
        assert gave_up and loss > 0
        return
    assert got == blob
    link.b.close(link.now, lfd)
    link.drop = None
    link.run(link.now + 5000)
    assert link.a.sockets() == [] and link.b.sockets() == []
