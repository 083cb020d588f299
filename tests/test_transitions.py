"""Every transition the engine takes is a row of states.TRANSITIONS, and every row is taken.

Each row of the table has one small drive below (a pair of stacks on a fake
link, plus hand-made segments where a peer must misbehave); the test asserts
that the STATE record of exactly that row appears.  A last test checks that
the driven rows are the whole table.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from engine_helpers import (
    CLIENT_ADDR,
    SERVER_ADDR,
    Link,
    conn_of,
    connect_pair,
    errno_of,
    inject,
    make_pair,
)

from tcpkit.engine.connection import Connection
from tcpkit.engine.errors import IllegalTransition
from tcpkit.engine.profiles import get_profile
from tcpkit.engine.segment import Flags, Segment
from tcpkit.engine.stack import Datagram
from tcpkit.engine.states import (
    ACCEPT_OVERFLOW,
    DATA_AFTER_CLOSE,
    TRANSITIONS,
    TW_OVERFLOW,
    UNREAD_DATA,
    Event,
    State,
    lookup,
)
from tcpkit.engine.trace import StateChanged, TimerSet

S = State
E = Event
Key = tuple[State, Event, str]


# ---------------------------------------------------------------------- building blocks


def est(profile: str = "linux", **knobs: object) -> tuple[Link, int, int, int]:
    link = make_pair(profile, **knobs)
    c, lfd, s = connect_pair(link)
    return link, c, lfd, s


def from_server(d: Datagram, _t: float) -> bool:
    return d.src == SERVER_ADDR


def from_client(d: Datagram, _t: float) -> bool:
    return d.src == CLIENT_ADDR


def pure_ack(d: Datagram, _t: float) -> bool:
    seg = d.segment
    return seg.flags == Flags.ACK and seg.length == 0


def simultaneous_open(profile: str = "linux", **knobs: object) -> tuple[Link, int, int]:
    """Both hosts connect to each other at once; their SYNs cross (RFC 9293 Figure 8)."""
    link = make_pair(profile, **knobs)
    fa = link.a.socket(link.now)
    link.a.bind(link.now, fa, 1000)
    fb = link.b.socket(link.now)
    link.b.bind(link.now, fb, 2000)
    errno_of(lambda: link.a.connect(0.0, fa, SERVER_ADDR, 2000))
    errno_of(lambda: link.b.connect(0.0, fb, CLIENT_ADDR, 1000))
    link.run(link.delay)  # both SYNs arrive: both sides in SYN_RECEIVED
    assert link.a.state(fa) is S.SYN_RECEIVED and link.b.state(fb) is S.SYN_RECEIVED
    return link, fa, fb


def simultaneous_close(profile: str = "linux", *, drop_acks: bool = False, **knobs: object) -> tuple[Link, int, int]:
    link, c, _lfd, s = est(profile, **knobs)
    if drop_acks:
        link.drop = pure_ack
    link.a.shutdown(link.now, c, "SHUT_WR")
    link.b.shutdown(link.now, s, "SHUT_WR")
    link.run(link.now + link.delay)  # the FINs cross
    assert link.a.state(c) is S.CLOSING, link.a.state(c)
    return link, c, s


def client_time_wait(profile: str = "linux", **knobs: object) -> tuple[Link, int]:
    link, c, _lfd, s = est(profile, **knobs)
    link.a.close(link.now, c)
    link.settle()
    link.b.close(link.now, s)
    link.settle()
    conns = [i for i in link.a.sockets() if i.state is S.TIME_WAIT]
    assert conns
    return link, c


def tw_conn(link: Link) -> Connection:
    return next(c for c in link.a.conns.values() if c.state is S.TIME_WAIT)


def hit(conn: Connection, link: Link, flags: Flags, *, seq: int | None = None, ack: int | None = None) -> None:
    """A hand-made segment from the peer to ``conn`` (by default exactly in sequence)."""
    seg = Segment(
        src_port=conn.remote[1],
        dst_port=conn.local[1],
        seq=conn.rcv_nxt if seq is None else seq,
        ack=(conn.snd_nxt if ack is None else ack) if flags & Flags.ACK else 0,
        flags=flags,
        window=65535,
    )
    st = link.a if conn.local[0] == CLIENT_ADDR else link.b
    st.segment_arrives(link.now, conn.remote[0], conn.local[0], seg)
    link.collect()


# ---------------------------------------------------------------------- one drive per row

DRIVES: dict[Key, Callable[[], Link]] = {}


def drive(src: State, event: Event, condition: str = "") -> Callable[[Callable[[], Link]], Callable[[], Link]]:
    def deco(fn: Callable[[], Link]) -> Callable[[], Link]:
        DRIVES[(src, event, condition)] = fn
        return fn

    return deco


@drive(S.CLOSED, E.PASSIVE_OPEN)
@drive(S.CLOSED, E.ACTIVE_OPEN)
@drive(S.LISTEN, E.RCV_SYN)
@drive(S.SYN_SENT, E.RCV_SYN_ACK)
@drive(S.SYN_RECEIVED, E.RCV_ACK)
def d_handshake() -> Link:
    return est()[0]


@drive(S.LISTEN, E.CLOSE)
def d_listen_close() -> Link:
    link, _c, lfd, _s = est()
    link.b.close(link.now, lfd)
    return link


@drive(S.SYN_SENT, E.RCV_SYN)
def d_simopen() -> Link:
    return simultaneous_open()[0]


@drive(S.SYN_SENT, E.CLOSE)
def d_syn_sent_close() -> Link:
    link = make_pair(drop=from_client)
    fd = link.a.socket(link.now)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
    link.a.close(0.5, fd)
    return link


@drive(S.SYN_RECEIVED, E.CLOSE)
def d_syn_rcvd_close() -> Link:
    link, fa, _fb = simultaneous_open()
    link.a.close(link.now, fa)
    link.settle()
    return link


@drive(S.ESTABLISHED, E.CLOSE)
@drive(S.FIN_WAIT_1, E.RCV_ACK_OF_FIN)
@drive(S.FIN_WAIT_2, E.RCV_FIN)
@drive(S.ESTABLISHED, E.RCV_FIN)
@drive(S.CLOSE_WAIT, E.CLOSE)
@drive(S.LAST_ACK, E.RCV_ACK_OF_FIN)
@drive(S.TIME_WAIT, E.TIMEOUT_2MSL)
def d_orderly_close() -> Link:
    link, c = client_time_wait()
    link.run(link.now + 61)
    return link


@drive(S.ESTABLISHED, E.CLOSE, "unread data")
def d_close_unread() -> Link:
    link, c, _lfd, s = est()
    link.a.send(link.now, c, b"unread")
    link.settle()
    link.b.close(link.now, s)
    return link


@drive(S.CLOSE_WAIT, E.CLOSE, "unread data")
def d_close_wait_unread() -> Link:
    link, c, _lfd, s = est()
    link.a.send(link.now, c, b"unread")
    link.a.close(link.now, c)
    link.settle()
    assert link.b.state(s) is S.CLOSE_WAIT
    link.b.close(link.now, s)
    return link


def _unread_in(state: State) -> Callable[[], Link]:
    def run() -> Link:
        link, c, _lfd, s = est()
        if state is S.FIN_WAIT_1:
            link.drop = lambda d, t: from_server(d, t) and pure_ack(d, t)  # our FIN stays unacknowledged
        link.b.send(link.now, s, b"never read")  # crosses the client's FIN
        link.a.shutdown(link.now, c, "SHUT_WR")
        link.run(link.now + link.delay * 3)
        conn = conn_of(link, "a", c)
        assert conn.state is state and conn.recv_buf
        link.a.close(link.now, c)
        assert conn.state is S.CLOSED and link.a.counters["TCPAbortOnClose"] == 1
        return link

    return run


def _data_after_close_in(state: State) -> Callable[[], Link]:
    def run() -> Link:
        link, c, _lfd, s = est()
        conn = conn_of(link, "a", c)
        if state is S.FIN_WAIT_2:
            link.a.close(link.now, c)
            link.settle()
            assert conn.state is state and conn.orphan
            link.b.send(link.now, s, b"too late")
        else:  # the data crosses our FIN, so it does not acknowledge it
            link.b.send(link.now, s, b"too late")
            link.a.close(link.now, c)
            assert conn.state is state and conn.orphan
        link.settle()
        assert conn.state is S.CLOSED
        assert link.a.counters["TCPAbortOnData"] == 1
        return link

    return run


for _st in (S.FIN_WAIT_1, S.FIN_WAIT_2):
    DRIVES[(_st, E.CLOSE, UNREAD_DATA)] = _unread_in(_st)
    DRIVES[(_st, E.RCV_DATA, DATA_AFTER_CLOSE)] = _data_after_close_in(_st)


@drive(S.SYN_RECEIVED, E.RCV_ACK, ACCEPT_OVERFLOW)
def d_accept_overflow_abort() -> Link:
    link = make_pair(tcp_syncookies=0, tcp_abort_on_overflow=1)
    lfd = link.b.socket(link.now)
    link.b.bind(link.now, lfd, 80)
    link.b.listen(0.0, lfd, 2)  # the accept queue holds three
    fds: list[int] = []
    for _ in range(2):  # two connect at once, then two more (admitted while there is room)
        more = [link.a.socket(link.now) for _ in range(2)]
        for fd in more:
            errno_of(lambda fd=fd: link.a.connect(link.now, fd, SERVER_ADDR, 80))
        fds += more
        link.settle()
    assert [link.a.state(fd) for fd in fds] == [S.ESTABLISHED] * 3 + [S.CLOSED]
    return link


@drive(S.FIN_WAIT_1, E.RCV_FIN)
@drive(S.CLOSING, E.RCV_ACK_OF_FIN)
def d_simclose() -> Link:
    link, _c, _s = simultaneous_close()
    link.settle()
    return link


def fin_ack_together(profile: str = "linux") -> Link:
    link, c, _lfd, s = est(profile)
    link.drop = pure_ack  # the server's separate ACK of the FIN is lost
    link.a.close(link.now, c)
    link.settle()
    link.drop = None
    link.b.close(link.now, s)  # its FIN acknowledges ours too
    link.settle()
    return link


@pytest.mark.parametrize("profile", ["linux", "freebsd", "rfc9293"])
def test_a_fin_that_acknowledges_our_fin_takes_two_rows(profile: str) -> None:
    # RFC 9293 §3.10.7.4: the fifth check moves FIN-WAIT-1 to FIN-WAIT-2 ("and continue processing
    # in that state"), the eighth takes the FIN there: Linux tcp_rcv_state_process() then tcp_fin()
    link = fin_ack_together(profile)
    rows = [(r.time, r.src, r.event, r.dst) for r in link.records if isinstance(r, StateChanged) and r.host == "client"]
    i = next(k for k, r in enumerate(rows) if r[1] is S.FIN_WAIT_1)
    (t1, _, e1, d1), (t2, s2, e2, d2) = rows[i], rows[i + 1]
    assert (e1, d1, s2, e2, d2) == (E.RCV_ACK_OF_FIN, S.FIN_WAIT_2, S.FIN_WAIT_2, E.RCV_FIN, S.TIME_WAIT)
    assert t1 == t2  # one segment
    assert not any(isinstance(r, TimerSet) and r.timer == "fin_wait_2" for r in link.records)


@drive(S.FIN_WAIT_2, E.RCV_FIN, TW_OVERFLOW)
def d_tw_overflow_fin_wait_2() -> Link:
    link = make_pair("linux", tcp_max_tw_buckets=0)
    c, _lfd, s = connect_pair(link)
    link.a.close(link.now, c)
    link.settle()
    link.b.close(link.now, s)
    link.settle()
    assert link.a.counters["TCPTimeWaitOverflow"] == 1 and not link.a.sockets()
    return link


@drive(S.CLOSING, E.RCV_ACK_OF_FIN, TW_OVERFLOW)
def d_tw_overflow_closing() -> Link:
    link, _c, _s = simultaneous_close(tcp_max_tw_buckets=1)
    link.settle()
    # one of the two hosts' sockets... each host has its own buckets: both get the one TIME_WAIT slot
    assert link.a.counters["TCPTimeWaitOverflow"] == 0
    link2, _c2, _s2 = simultaneous_close(tcp_max_tw_buckets=0)
    link2.settle()
    assert link2.a.counters["TCPTimeWaitOverflow"] == 1
    return link2


@drive(S.TIME_WAIT, E.RCV_FIN)
def d_tw_fin_again() -> Link:
    link, _c = client_time_wait()
    tw = tw_conn(link)
    hit(tw, link, Flags.FIN | Flags.ACK, seq=(tw.rcv_nxt - 1) & 0xFFFFFFFF)
    return link


@drive(S.FIN_WAIT_2, E.TIMEOUT_FIN_WAIT_2, "orphaned")
def d_fin_wait_2_timeout() -> Link:
    link, c, _lfd, _s = est()
    link.a.close(link.now, c)
    link.run(link.now + 61)
    return link


@drive(S.SYN_RECEIVED, E.RCV_FIN)
def d_syn_rcvd_fin() -> Link:
    link = make_pair(drop=lambda d, t: d.src == CLIENT_ADDR and pure_ack(d, t))
    lfd = link.b.socket(link.now)
    link.b.bind(link.now, lfd, 80)
    link.b.listen(0.0, lfd)
    fd = link.a.socket(link.now)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
    link.settle()  # the client's handshake ACK is lost
    link.a.close(link.now, fd)  # its FIN carries the ACK
    link.settle()
    return link


@drive(S.SYN_SENT, E.RCV_RST)
def d_refused() -> Link:
    link = make_pair()
    fd = link.a.socket(link.now)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 9))
    link.settle()
    assert link.a.getsockopt(fd, "SO_ERROR") == "ECONNREFUSED"
    return link


@drive(S.SYN_RECEIVED, E.RCV_RST, "passive open")
def d_syn_rcvd_rst_passive() -> Link:
    link = make_pair(drop=lambda d, t: d.src == CLIENT_ADDR and pure_ack(d, t))
    lfd = link.b.socket(link.now)
    link.b.bind(link.now, lfd, 80)
    link.b.listen(0.0, lfd)
    fd = link.a.socket(link.now)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
    link.settle()
    child = next(c for c in link.b.conns.values() if c.state is S.SYN_RECEIVED)
    hit(child, link, Flags.RST)
    return link


@drive(S.SYN_RECEIVED, E.RCV_RST, "active open")
def d_syn_rcvd_rst_active() -> Link:
    link, fa, _fb = simultaneous_open()
    hit(conn_of(link, "a", fa), link, Flags.RST)
    return link


def _rst_in(state: State) -> Callable[[], Link]:
    def run() -> Link:
        link, c, conn = _reach(state)
        hit(conn, link, Flags.RST)
        assert conn.state is S.CLOSED
        return link

    return run


def _syn_in(state: State) -> Callable[[], Link]:
    def run() -> Link:
        link, c, conn = _reach(state, profile="rfc9293", rfc5961=0)
        hit(conn, link, Flags.SYN)
        assert conn.state is S.CLOSED
        return link

    return run


def _reach(state: State, profile: str = "linux", **knobs: object) -> tuple[Link, int, Connection]:
    """A connection (client side unless noted) sitting in ``state``."""
    link, c, _lfd, s = est(profile, **knobs)
    if state is S.ESTABLISHED:
        return link, c, conn_of(link, "a", c)
    if state is S.FIN_WAIT_1:
        link.drop = from_server
        link.a.shutdown(link.now, c, "SHUT_WR")
        link.settle()
        return link, c, conn_of(link, "a", c)
    if state is S.FIN_WAIT_2:
        link.a.shutdown(link.now, c, "SHUT_WR")
        link.settle()
        return link, c, conn_of(link, "a", c)
    if state is S.CLOSE_WAIT:
        link.a.shutdown(link.now, c, "SHUT_WR")
        link.settle()
        return link, s, conn_of(link, "b", s)
    if state is S.CLOSING:
        link.drop = pure_ack
        link.a.shutdown(link.now, c, "SHUT_WR")
        link.b.shutdown(link.now, s, "SHUT_WR")
        link.run(link.now + link.delay)
        return link, c, conn_of(link, "a", c)
    if state is S.LAST_ACK:
        link.a.shutdown(link.now, c, "SHUT_WR")
        link.settle()
        link.drop = from_client
        link.b.shutdown(link.now, s, "SHUT_WR")
        link.settle()
        return link, s, conn_of(link, "b", s)
    if state is S.TIME_WAIT:
        link.a.shutdown(link.now, c, "SHUT_WR")
        link.settle()
        link.b.shutdown(link.now, s, "SHUT_WR")
        link.settle()
        return link, c, conn_of(link, "a", c)
    raise AssertionError(state)


for _st in (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK):
    DRIVES[(_st, E.RCV_RST, "")] = _rst_in(_st)
    DRIVES[(_st, E.RCV_SYN, "RFC 793 SYN handling")] = _syn_in(_st)
DRIVES[(S.TIME_WAIT, E.RCV_SYN, "RFC 793 SYN handling")] = _syn_in(S.TIME_WAIT)


@drive(S.TIME_WAIT, E.RCV_RST, "rfc1337 off")
def d_tw_assassination() -> Link:
    link, c, conn = _reach(S.TIME_WAIT)
    hit(conn, link, Flags.RST)
    return link


@drive(S.TIME_WAIT, E.RCV_SYN, "new incarnation")
def d_new_incarnation() -> Link:
    link, c, _lfd, s = est()
    link.b.close(link.now, s)  # the server closes first and ends in TIME_WAIT
    link.settle()
    link.a.close(link.now, c)
    link.settle()
    tw = next(x for x in link.b.conns.values() if x.state is S.TIME_WAIT)
    hit(tw, link, Flags.SYN, seq=(tw.rcv_nxt + 100_000) & 0xFFFFFFFF)
    return link


def _abort_in(state: State) -> Callable[[], Link]:
    def run() -> Link:
        if state is S.SYN_RECEIVED:
            link, fa, _fb = simultaneous_open()
            link.a.abort(link.now, fa)
            return link
        if state is S.SYN_SENT:
            link = make_pair(drop=from_client)
            fd = link.a.socket(link.now)
            errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
            link.a.abort(0.1, fd)
            return link
        if state is S.LISTEN:
            link, _c, lfd, _s = est()
            link.b.abort(link.now, lfd)
            return link
        link, fd, conn = _reach(state)
        if state is S.TIME_WAIT:
            assert link.a.tcpdrop(link.now, "TIME_WAIT") == 1
        else:
            st = link.a if conn.local[0] == CLIENT_ADDR else link.b
            st.setsockopt(link.now, fd, "SO_LINGER", (1, 0))
            st.close(link.now, fd)
        assert conn.state is S.CLOSED
        return link

    return run


for _st in (
    S.SYN_RECEIVED,
    S.ESTABLISHED,
    S.FIN_WAIT_1,
    S.FIN_WAIT_2,
    S.CLOSE_WAIT,
    S.LISTEN,
    S.SYN_SENT,
    S.CLOSING,
    S.LAST_ACK,
    S.TIME_WAIT,
):
    DRIVES[(_st, E.ABORT, "")] = _abort_in(_st)


def _retries_in(state: State) -> Callable[[], Link]:
    knobs: dict[str, object] = {"tcp_retries2": 3, "tcp_orphan_retries": 3}

    def run() -> Link:
        if state is S.SYN_SENT:
            link = make_pair(drop=from_client)
            fd = link.a.socket(link.now)
            errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
            link.run(200)
            assert link.a.getsockopt(fd, "SO_ERROR") == "ETIMEDOUT"
            return link
        if state is S.SYN_RECEIVED:
            link = make_pair(drop=from_server)
            lfd = link.b.socket(link.now)
            link.b.bind(link.now, lfd, 80)
            link.b.listen(0.0, lfd)
            fd = link.a.socket(link.now)
            errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
            link.run(70)
            return link
        link, fd, conn = _reach(state, **knobs)
        st = link.a if conn.local[0] == CLIENT_ADDR else link.b
        link.drop = lambda d, t: d.dst == conn.local[0]  # nothing reaches this side any more
        if state in (S.ESTABLISHED, S.CLOSE_WAIT):
            st.send(link.now, fd, b"x" * 100)
        link.run(link.now + 2000)
        assert conn.state is S.CLOSED
        return link

    return run


for _st in (S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK):
    DRIVES[(_st, E.TIMEOUT_RETRIES, "")] = _retries_in(_st)


def _keepalive_in(state: State) -> Callable[[], Link]:
    def run() -> Link:
        link, fd, conn = _reach(state)
        st = link.a if conn.local[0] == CLIENT_ADDR else link.b
        for name, v in (("TCP_KEEPIDLE", 10), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3), ("SO_KEEPALIVE", 1)):
            st.setsockopt(link.now, fd, name, v)
        link.drop = lambda d, t: d.dst == conn.local[0]
        link.run(link.now + 30)
        assert conn.state is S.CLOSED
        assert st.getsockopt(fd, "SO_ERROR") == "ETIMEDOUT"
        return link

    return run


for _st in (S.ESTABLISHED, S.CLOSE_WAIT):
    DRIVES[(_st, E.TIMEOUT_KEEPALIVE, "")] = _keepalive_in(_st)


def _user_timeout_in(state: State) -> Callable[[], Link]:
    def run() -> Link:
        link, c, _lfd, s = est()
        # the side that will be in ``state``, with TCP_USER_TIMEOUT = 5 s
        side, fd = ("b", s) if state in (S.CLOSE_WAIT, S.LAST_ACK) else ("a", c)
        st = link.a if side == "a" else link.b
        st.setsockopt(link.now, fd, "TCP_USER_TIMEOUT", 5000)
        if state in (S.CLOSE_WAIT, S.LAST_ACK):
            link.a.shutdown(link.now, c, "SHUT_WR")
            link.settle()
        conn = conn_of(link, side, fd)
        link.drop = lambda d, t: d.dst == conn.local[0]
        if state in (S.ESTABLISHED, S.CLOSE_WAIT):
            st.send(link.now, fd, b"y" * 10)
        elif state in (S.FIN_WAIT_1, S.LAST_ACK):
            st.shutdown(link.now, fd, "SHUT_WR")
        else:  # CLOSING: FINs cross, their ACKs are lost
            link.drop = pure_ack
            link.a.shutdown(link.now, c, "SHUT_WR")
            link.b.shutdown(link.now, s, "SHUT_WR")
            link.run(link.now + link.delay)
            assert conn.state is S.CLOSING
            link.drop = lambda d, t: d.dst == conn.local[0]
        link.run(link.now + 30)
        assert conn.state is S.CLOSED
        return link

    return run


for _st in (S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK):
    DRIVES[(_st, E.TIMEOUT_USER, "")] = _user_timeout_in(_st)


# ---------------------------------------------------------------------- the tests


def _ids(key: Key) -> str:
    src, ev, cond = key
    return f"{src.value}-{ev.name}" + (f"-{cond.replace(' ', '_')}" if cond else "")


@pytest.mark.parametrize("row", TRANSITIONS, ids=lambda t: _ids(t.key))
def test_every_row_is_taken(row) -> None:  # type: ignore[no-untyped-def]
    link = DRIVES[row.key]()
    seen = {
        (r.src.value, r.event.value, r.condition or "", r.dst.value, r.rfc)
        for r in link.records
        if isinstance(r, StateChanged)
    }
    assert (row.src.value, row.event.value, row.condition, row.dst.value, row.rfc) in seen, sorted(seen)


def test_driven_rows_are_the_whole_table() -> None:
    assert set(DRIVES) == {t.key for t in TRANSITIONS}


@pytest.mark.parametrize("key", sorted(DRIVES, key=_ids)[::5], ids=_ids)
def test_every_state_record_is_a_table_row(key: Key) -> None:
    link = DRIVES[key]()
    for r in link.records:
        if isinstance(r, StateChanged):
            assert r.src.value and r.event.value
            row = lookup(State(r.src.value), Event(r.event.value), r.condition or "")
            assert row.dst.value == r.dst.value and row.rfc == r.rfc


def test_forbidden_transition_raises_and_keeps_state() -> None:
    c = Connection(get_profile("linux").params, local=("a", 1), remote=("b", 2), iss=0)
    with pytest.raises(IllegalTransition, match="no transition from CLOSED on 'rcv FIN'"):
        c._transition(0.0, Event.RCV_FIN)
    assert c.state is State.CLOSED


def test_fin_in_listen_is_not_a_transition() -> None:
    link, _c, lfd, _s = est()
    before = len([r for r in link.records if isinstance(r, StateChanged)])
    seg = Segment(src_port=5555, dst_port=80, seq=10, flags=Flags.FIN, window=100)
    link.b.segment_arrives(link.now, CLIENT_ADDR, SERVER_ADDR, seg)
    assert len([r for r in link.records if isinstance(r, StateChanged)]) == before
    assert link.b.state(lfd) is State.LISTEN
    assert inject is not None  # helper kept importable for other tests
