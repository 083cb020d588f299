"""Listener queues (SYN queue, accept queue), overflow rules, SYN cookies and counters (Linux semantics)."""

from __future__ import annotations

import pytest
from engine_helpers import CLIENT_ADDR, SERVER_ADDR, Link, errno_of, make_pair

from tcpkit.engine.errors import TcpError
from tcpkit.engine.listener import Listener
from tcpkit.engine.profiles import get_profile
from tcpkit.engine.segment import Flags, Segment, parse_segment
from tcpkit.engine.stack import Stack
from tcpkit.engine.states import State
from tcpkit.engine.trace import CounterChanged, QueueChanged


def server(link: Link, backlog: int) -> int:
    lfd = link.b.socket(link.now)
    link.b.bind(link.now, lfd, 80)
    link.b.listen(link.now, lfd, backlog)
    return lfd


def dial(link: Link, n: int) -> list[int]:
    fds = []
    for _ in range(n):
        fd = link.a.socket(link.now)
        assert errno_of(lambda fd=fd: link.a.connect(link.now, fd, SERVER_ADDR, 80)) == "EINPROGRESS"
        fds.append(fd)
    return fds


def queue_values(link: Link) -> list[tuple[int, int]]:
    out = []
    for r in link.records:
        if isinstance(r, QueueChanged) and r.host == "server":
            out.append((r.syn_queue, r.accept_queue))
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


def test_abort_on_overflow_1_sends_exactly_one_rst_built_from_the_ack() -> None:
    # Linux tcp_check_req(): listen_overflow -> embryonic_reset -> one send_reset (tcp_v4_send_reset)
    link, _lfd, fds = _overflow_at_third_ack(1)
    link.settle()
    rsts = [d.segment for _t, d in link.delivered if d.src == SERVER_ADDR and d.segment.rst]
    assert len(rsts) == 1
    conn = link.a.connection(fds[3])
    assert conn is not None
    assert rsts[0].flags == Flags.RST and rsts[0].seq == conn.rcv_nxt  # seq = the ACK's ack field, no ACK bit
    assert link.b.counters["ListenOverflows"] == 1 and link.b.counters["OutRsts"] == 1
    assert not any(c.state is State.SYN_RECEIVED for c in link.b.conns.values())


def test_syn_queue_full_without_cookies_drops() -> None:
    # inet_csk_reqsk_queue_is_full(): full only when MORE than backlog requests wait (Linux >= 6.13)
    link = make_pair("linux", tcp_syncookies=0, drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK)
    lfd = server(link, backlog=2)
    dial(link, 4)
    link.run_for(0.05)
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths() == (3, 0)
    assert link.b.counters["TCPReqQFullDrop"] == 1 and link.b.counters["ListenDrops"] == 1


def test_listen_1_with_one_request_pending_answers_the_next_syn_normally() -> None:
    # Linux 6.18 on loopback (issue 12): listen(1), one request pending, the next SYN got a normal
    # SYN-ACK, no cookie; the third is the first the queue is full for
    link = make_pair("linux", drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK)
    lfd = server(link, backlog=1)
    dial(link, 1)
    link.run_for(0.05)
    dial(link, 1)
    link.run_for(0.05)
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths() == (2, 0)
    assert link.b.counters["SyncookiesSent"] == 0 and link.b.counters["TCPReqQFullDoCookies"] == 0
    synacks = [
        d.segment for _, d in link.delivered if d.src == SERVER_ADDR and d.segment.flags == Flags.SYN | Flags.ACK
    ]
    assert len(synacks) == 2
    dial(link, 1)
    link.run_for(0.05)
    assert lst.queue_lengths() == (2, 0)
    assert link.b.counters["SyncookiesSent"] == 1 and link.b.counters["TCPReqQFullDoCookies"] == 1


def test_listen_0_without_cookies_completes_one_connection() -> None:
    # tcp_syncookies = 0 and listen(0): the kernel completes one connection (the request is admitted
    # because 0 > 0 is false; sk_acceptq_is_full() is 0 > 0 too); the next SYN meets a full accept queue
    link = make_pair("linux", tcp_syncookies=0)
    lfd = server(link, backlog=0)
    (first,) = dial(link, 1)
    link.run_for(0.5)
    assert link.a.state(first) is State.ESTABLISHED
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths() == (0, 1)
    (second,) = dial(link, 1)
    link.run_for(0.5)
    assert link.a.state(second) is State.SYN_SENT
    assert link.b.counters["ListenOverflows"] == 1 and link.b.counters["TCPReqQFullDrop"] == 0
    assert link.b.accept(link.now, lfd) is not None


def test_older_kernels_call_the_syn_queue_full_at_backlog() -> None:
    # Linux 4.4 to 6.12 (>=): listen(0) with cookies off drops every SYN, listen(1) sends a cookie
    # for the second pending request; the profile fact says which rule applies
    from dataclasses import replace

    from tcpkit.engine.connection import Connection

    for above, admitted in ((True, [True, True, False]), (False, [True, False, False])):
        p = replace(get_profile("linux").params, syn_queue_full_above_backlog=above)

        def child(now: float, remote: tuple[str, int], p=p) -> Connection:
            return Connection(p, local=(SERVER_ADDR, 80), remote=remote, iss=7, passive=True)

        lst = Listener(0.0, p, local=(SERVER_ADDR, 80), backlog=1, make_child=child)
        got = []
        for port in (5000, 5001, 5002):
            syn = Segment(src_port=port, dst_port=80, seq=1, flags=Flags.SYN, window=100)
            got.append(lst.segment_arrives(0.0, CLIENT_ADDR, syn, send=lambda s: None) is not None)
        assert got == admitted
        assert lst.counters["SyncookiesSent"] == admitted.count(False)
        p0 = replace(p, syncookies=0)
        lst0 = Listener(0.0, p0, local=(SERVER_ADDR, 80), backlog=0, make_child=child)
        syn = Segment(src_port=6000, dst_port=80, seq=1, flags=Flags.SYN, window=100)
        assert (lst0.segment_arrives(0.0, CLIENT_ADDR, syn, send=lambda s: None) is not None) is above
        assert lst0.counters["TCPReqQFullDrop"] == (0 if above else 1)


@pytest.mark.parametrize("cookies", [0, 1])
def test_backlog_caps_the_syn_queue_with_cookies_on_or_off(cookies: int) -> None:
    # tcp_max_syn_backlog is far above the backlog: the backlog alone bounds the SYN queue (backlog + 1)
    link = make_pair(
        "linux", tcp_syncookies=cookies, drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK
    )
    lfd = server(link, backlog=4)
    dial(link, 8)
    link.run_for(0.05)
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths() == (5, 0)
    c = link.b.counters
    if cookies:
        assert (c["TCPReqQFullDoCookies"], c["SyncookiesSent"], c["TCPReqQFullDrop"], c["ListenDrops"]) == (3, 3, 0, 0)
    else:
        assert (c["TCPReqQFullDoCookies"], c["SyncookiesSent"], c["TCPReqQFullDrop"], c["ListenDrops"]) == (0, 0, 3, 3)


def test_syncookies_1_when_syn_queue_full() -> None:
    link = make_pair("linux", drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK and t < 0.1)
    lfd = server(link, backlog=1)
    fds = dial(link, 3)
    link.run_for(0.05)
    assert link.b.counters["TCPReqQFullDoCookies"] == 1 and link.b.counters["SyncookiesSent"] == 1
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths() == (2, 0)  # the cookie left no state behind
    link.run_for(0.2)
    link.a.send(link.now, fds[2], b"via cookie")  # this ACK carries the cookie back
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
    syn = Segment(src_port=4000, dst_port=80, seq=7, flags=Flags.SYN, window=100)
    link.b.segment_arrives(0.0, CLIENT_ADDR, SERVER_ADDR, syn)  # a cookie goes out: checks are on
    assert link.b.counters["SyncookiesSent"] == 1
    link.b.take_outgoing()
    bogus = Segment(src_port=5000, dst_port=80, seq=100, ack=12345, flags=Flags.ACK, window=100)
    link.b.segment_arrives(1.0, CLIENT_ADDR, SERVER_ADDR, bogus)
    out = link.b.take_outgoing()
    assert link.b.counters["SyncookiesFailed"] == 1
    assert len(out) == 1 and out[0].segment.rst and out[0].segment.seq == 12345


def test_ack_without_recent_cookie_is_not_checked_as_one() -> None:
    # Linux cookie_v4_check(): returns at once when tcp_synq_no_recent_overflow(sk)
    link = make_pair("linux", tcp_syncookies=2)
    server(link, backlog=8)
    bogus = Segment(src_port=5000, dst_port=80, seq=100, ack=12345, flags=Flags.ACK, window=100)
    link.b.segment_arrives(0.0, CLIENT_ADDR, SERVER_ADDR, bogus)  # no cookie was ever sent
    out = link.b.take_outgoing()
    assert link.b.counters["SyncookiesFailed"] == 0 and link.b.counters["SyncookiesRecv"] == 0
    assert len(out) == 1 and out[0].segment.rst and out[0].segment.seq == 12345


def test_valid_cookie_too_long_after_the_last_overflow_is_refused() -> None:
    # a genuine cookie ACK, but the listener sent its last cookie more than TCP_SYNCOOKIE_VALID ago
    from tcpkit.engine.listener import SYNCOOKIE_VALID

    link = make_pair("linux", tcp_syncookies=2)
    lfd = server(link, backlog=8)
    syn = Segment(src_port=4000, dst_port=80, seq=7, flags=Flags.SYN, window=100)
    link.b.segment_arrives(0.0, CLIENT_ADDR, SERVER_ADDR, syn)
    cookie = link.b.take_outgoing()[0].segment.seq
    ack = Segment(src_port=4000, dst_port=80, seq=8, ack=(cookie + 1) % 2**32, flags=Flags.ACK, window=100)
    lst = link.b.fds[lfd].listener
    assert lst is not None and not lst.no_recent_overflow(SYNCOOKIE_VALID - 1)
    assert lst.no_recent_overflow(SYNCOOKIE_VALID + 1)
    link.b.segment_arrives(SYNCOOKIE_VALID + 1, CLIENT_ADDR, SERVER_ADDR, ack)
    out = link.b.take_outgoing()
    assert link.b.counters["SyncookiesRecv"] == 0 and link.b.counters["SyncookiesFailed"] == 0
    assert len(out) == 1 and out[0].segment.rst
    link.b.segment_arrives(SYNCOOKIE_VALID + 2, CLIENT_ADDR, SERVER_ADDR, syn)  # a new cookie re-arms the check
    cookie = link.b.take_outgoing()[0].segment.seq
    link.b.segment_arrives(SYNCOOKIE_VALID + 2.1, CLIENT_ADDR, SERVER_ADDR, ack.replace(ack=(cookie + 1) % 2**32))
    assert link.b.counters["SyncookiesRecv"] == 1


def test_max_syn_backlog_keeps_last_quarter() -> None:
    link = make_pair(
        "linux",
        tcp_syncookies=0,
        tcp_max_syn_backlog=8,
        drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK,
    )
    lfd = server(link, backlog=100)
    dial(link, 10)
    link.run_for(0.05)
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths()[0] == 7  # 8 - 7 < 8 // 4: the 8th is refused
    # tcp_conn_request() drops them through drop_and_release: ListenDrops, not TCPReqQFullDrop
    assert link.b.counters["ListenDrops"] == 3 and link.b.counters["TCPReqQFullDrop"] == 0


def test_max_syn_backlog_quarter_rule_only_with_cookies_off() -> None:
    link = make_pair(
        "linux", tcp_max_syn_backlog=8, drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK
    )
    lfd = server(link, backlog=100)
    dial(link, 10)
    link.run_for(0.05)
    lst = link.b.fds[lfd].listener
    assert lst is not None and lst.queue_lengths()[0] == 10
    assert link.b.counters["ListenDrops"] == 0


def test_queue_records_follow_lengths() -> None:
    link = make_pair("linux")
    lfd = server(link, backlog=4)
    dial(link, 2)
    link.settle()
    link.b.accept(link.now, lfd)
    vals = queue_values(link)
    assert vals[0] == (0, 0)
    assert (2, 0) in vals and (0, 2) in vals and vals[-1] == (0, 1)
    counters = {r.name for r in link.records if isinstance(r, CounterChanged)}
    assert counters == {"ActiveOpens", "PassiveOpens"}  # nothing overflowed or was dropped


def test_backlog_capped_by_somaxconn() -> None:
    st = Stack(profile=get_profile("linux", somaxconn=3))
    fd = st.socket(0.0)
    st.bind(0.0, fd, 80)
    st.listen(0.0, fd, backlog=1000)
    lst = st.fds[fd].listener
    assert lst is not None and lst.backlog == 3


def test_freebsd_syncache_entry_visible_and_syn_data_dropped() -> None:
    st = Stack(name="srv", addr=SERVER_ADDR, profile="freebsd")
    fd = st.socket(0.0)
    st.bind(0.0, fd, 8080)
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


def _request_lifetimes(backlog: int, n: int) -> list[float]:
    """``n`` spoofed SYNs (nobody answers the SYN-ACKs) at t = 0; when each request dies."""
    st = Stack(name="server", addr=SERVER_ADDR, profile=get_profile("linux", tcp_syncookies=0), seed=2)
    lfd = st.socket(0.0)
    st.bind(0.0, lfd, 80)
    st.listen(0.0, lfd, backlog)
    for i in range(n):
        st.segment_arrives(
            0.0, "203.0.113.9", SERVER_ADDR, Segment(src_port=1000 + i, dst_port=80, seq=i, flags=Flags.SYN, window=100)
        )
    lst = st.fds[lfd].listener
    assert lst is not None and len(lst.syn_queue) == n
    alive = dict(lst.syn_queue)
    died: list[float] = []
    while (t := st.next_deadline()) is not None:
        st.handle_timer(t)
        st.take_outgoing()
        died += [t for k in list(alive) if k not in lst.syn_queue and alive.pop(k)]
    return died


def test_crowded_syn_queue_prunes_old_requests() -> None:
    # reqsk_timer_handler(): qlen << 1 > max(8, backlog) and no young request left -> retry limit 2,
    # so a request dies at its third timer (1 + 2 + 4 = 7 s) instead of after 5 retries (63 s)
    # ... until the queue is back to half full (qlen << 1 = 8): the other four live their full 63 s
    assert _request_lifetimes(backlog=8, n=8) == [pytest.approx(7.0)] * 4 + [pytest.approx(63.0)] * 4
    assert _request_lifetimes(backlog=12, n=12) == [pytest.approx(7.0)] * 6 + [pytest.approx(63.0)] * 6
    assert _request_lifetimes(backlog=16, n=8) == [pytest.approx(63.0)] * 8  # half full only: no pruning


def test_freebsd_syncache_is_not_pruned() -> None:
    from tcpkit.engine.connection import Connection

    p = get_profile("freebsd").params
    lst = Listener(
        0.0,
        p,
        local=(SERVER_ADDR, 80),
        backlog=8,
        make_child=lambda now, r: Connection(p, local=(SERVER_ADDR, 80), remote=r, iss=1, passive=True),
    )
    for i in range(8):
        lst.segment_arrives(
            0.0,
            "203.0.113.9",
            Segment(src_port=1000 + i, dst_port=80, seq=i, flags=Flags.SYN, window=100),
            send=lambda s: None,
        )
    for c in lst.syn_queue.values():
        c.retransmits = 3
    assert lst.synack_retry_limit() == p.synack_retries
