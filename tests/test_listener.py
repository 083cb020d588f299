"""Listener queues (SYN queue, accept queue), overflow rules, SYN cookies and counters (Linux semantics)."""

from __future__ import annotations

from engine_helpers import CLIENT_ADDR, SERVER_ADDR, Link, errno_of, make_pair

from tcpkit.errors import TcpError
from tcpkit.profiles import get_profile
from tcpkit.segment import Flags, Segment, parse_segment
from tcpkit.stack import Stack
from tcpkit.states import State
from tcpkit.trace import Kind


def server(link: Link, backlog: int) -> int:
    lfd = link.b.socket()
    link.b.bind(lfd, 80)
    link.b.listen(link.now, lfd, backlog)
    return lfd


def dial(link: Link, n: int) -> list[int]:
    fds = []
    for _ in range(n):
        fd = link.a.socket()
        assert errno_of(lambda fd=fd: link.a.connect(link.now, fd, SERVER_ADDR, 80)) == "EINPROGRESS"
        fds.append(fd)
    return fds


def queue_values(link: Link) -> list[tuple[int, int]]:
    out = []
    for r in link.records:
        if r.kind is Kind.QUEUE and r.host == "server":
            d = dict(r.values)
            out.append((d["syn_queue"], d["accept_queue"]))
    return out


def test_accept_queue_holds_backlog_plus_one() -> None:
    link = make_pair("linux")
    lfd = server(link, backlog=2)
    fds = dial(link, 3)
    link.run_for(0.5)
    fds += dial(link, 1)
    link.run_for(0.5)
    lst = link.b.fds[lfd].listener
    assert lst is not None
    assert lst.queue_lengths() == (0, 3)
    assert link.b.counters["ListenOverflows"] >= 1 and link.b.counters["ListenDrops"] >= 1
    assert [link.a.state(fd) for fd in fds[:3]] == [State.ESTABLISHED] * 3
    assert link.a.state(fds[3]) is State.SYN_SENT  # its SYN was dropped; it will retry
    link.b.accept(link.now, lfd)
    link.run_for(2)
    assert link.a.state(fds[3]) is State.ESTABLISHED


def _overflow_at_third_ack(abort_on_overflow: int) -> tuple[Link, int, list[int]]:
    link = make_pair("linux", tcp_syncookies=0, tcp_abort_on_overflow=abort_on_overflow)
    lfd = server(link, backlog=2)
    first = dial(link, 2)
    link.run_for(0.1)
    more = dial(link, 2)  # both SYNs are admitted: the accept queue (2) is not yet full
    link.run_for(0.1)
    return link, lfd, first + more


def test_abort_on_overflow_0_drops_final_ack_and_completes_later() -> None:
    link, lfd, fds = _overflow_at_third_ack(0)
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths() == (1, 3)
    assert link.a.state(fds[3]) is State.ESTABLISHED  # the client believes it is connected
    assert link.b.counters["ListenOverflows"] == 1
    for _ in range(3):
        link.b.accept(link.now, lfd)
    link.run_for(3)  # the SYN-ACK retransmission makes the client ACK again; now there is room
    assert lst.queue_lengths() == (0, 1)
    sfd = link.b.accept(link.now, lfd)
    link.a.send(link.now, fds[3], b"finally")
    link.settle()
    assert link.b.recv(link.now, sfd, 100) == b"finally"


def test_abort_on_overflow_1_resets_client() -> None:
    link, _lfd, fds = _overflow_at_third_ack(1)
    link.settle()
    assert link.a.state(fds[3]) is State.CLOSED
    assert link.a.getsockopt(fds[3], "SO_ERROR") == "ECONNRESET"


def test_syn_queue_full_without_cookies_drops() -> None:
    link = make_pair("linux", tcp_syncookies=0, drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK)
    lfd = server(link, backlog=2)
    dial(link, 3)
    link.run_for(0.05)
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths() == (2, 0)
    assert link.b.counters["TCPReqQFullDrop"] == 1 and link.b.counters["ListenDrops"] == 1


def test_syncookies_1_when_syn_queue_full() -> None:
    link = make_pair("linux", drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK and t < 0.1)
    lfd = server(link, backlog=1)
    fds = dial(link, 2)
    link.run_for(0.05)
    assert link.b.counters["TCPReqQFullDoCookies"] == 1 and link.b.counters["SyncookiesSent"] == 1
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths() == (1, 0)  # the cookie left no state behind
    link.run_for(0.2)
    link.a.send(link.now, fds[1], b"via cookie")  # this ACK carries the cookie back
    link.settle()
    assert link.b.counters["SyncookiesRecv"] == 1
    assert [i.state for i in link.b.sockets() if i.conn[3] != 0].count(State.ESTABLISHED) >= 1


def test_syncookies_2_always() -> None:
    link = make_pair("linux", tcp_syncookies=2)
    lfd = server(link, backlog=8)
    (fd,) = dial(link, 1)
    link.settle()
    assert link.b.counters["SyncookiesSent"] == 1 and link.b.counters["SyncookiesRecv"] == 1
    sfd = link.b.accept(link.now, lfd)
    link.a.send(link.now, fd, b"cookie")
    link.settle()
    assert link.b.recv(link.now, sfd, 10) == b"cookie"


def test_forged_cookie_fails_and_gets_rst() -> None:
    link = make_pair("linux", tcp_syncookies=2)
    server(link, backlog=8)
    bogus = Segment(src_port=5000, dst_port=80, seq=100, ack=12345, flags=Flags.ACK, window=100)
    link.b.segment_arrives(0.0, CLIENT_ADDR, SERVER_ADDR, bogus)
    out = link.b.take_outgoing()
    assert link.b.counters["SyncookiesFailed"] == 1
    assert len(out) == 1 and out[0].segment.rst and out[0].segment.seq == 12345


def test_max_syn_backlog_keeps_last_quarter() -> None:
    link = make_pair("linux", tcp_syncookies=0, tcp_max_syn_backlog=8, drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK)
    lfd = server(link, backlog=100)
    dial(link, 10)
    link.run_for(0.05)
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths()[0] == 7  # 8 - 7 < 8 // 4: the 8th is refused
    assert link.b.counters["ListenDrops"] == 3


def test_queue_records_follow_lengths() -> None:
    link = make_pair("linux")
    lfd = server(link, backlog=4)
    dial(link, 2)
    link.settle()
    link.b.accept(link.now, lfd)
    vals = queue_values(link)
    assert vals[0] == (0, 0)
    assert (2, 0) in vals and (0, 2) in vals and vals[-1] == (0, 1)
    counters = {name for r in link.records if r.kind is Kind.COUNTER for name, _v in r.values}
    assert counters == {"ActiveOpens", "PassiveOpens"}  # nothing overflowed or was dropped


def test_backlog_capped_by_somaxconn() -> None:
    st = Stack(profile=get_profile("linux", somaxconn=3))
    fd = st.socket()
    st.bind(fd, 80)
    st.listen(0.0, fd, backlog=1000)
    lst = st.fds[fd].listener
    assert lst is not None and lst.backlog == 3


def test_freebsd_syncache_entry_visible_and_syn_data_dropped() -> None:
    st = Stack(name="srv", addr=SERVER_ADDR, profile="freebsd")
    fd = st.socket()
    st.bind(fd, 8080)
    st.listen(0.0, fd, 1)
    syn = parse_segment("S 17:20(3) win 32767 <mss 1460,sackOK,eol,eol>").replace(src_port=5000, dst_port=8080)
    st.segment_arrives(0.0, CLIENT_ADDR, SERVER_ADDR, syn)
    (out,) = st.take_outgoing()
    assert out.segment.ack == 18 and out.segment.window == 65535
    assert [(i.state, i.fd) for i in st.sockets()] == [(State.LISTEN, fd), (State.SYN_RECEIVED, None)]


def test_closing_listener_resets_unaccepted_children() -> None:
    link = make_pair("linux")
    lfd = server(link, backlog=4)
    (fd,) = dial(link, 1)
    link.settle()
    link.b.close(link.now, lfd)
    link.settle()
    assert link.a.state(fd) is State.CLOSED
    assert errno_of(lambda: link.a.recv(link.now, fd, 1)) == "ECONNRESET"
    assert link.b.sockets() == []


def test_accept_on_empty_queue_is_eagain() -> None:
    link = make_pair("linux")
    lfd = server(link, backlog=4)
    try:
        link.b.accept(0.0, lfd)
    except TcpError as e:
        assert e.errno_name == "EAGAIN"
    else:  # pragma: no cover
        raise AssertionError("accept should have raised EAGAIN")
