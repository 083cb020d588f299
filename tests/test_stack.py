"""One host's TCP: descriptors, demultiplexing, ports, closed-port RSTs, TIME_WAIT, options, determinism."""

from __future__ import annotations

import pytest
from engine_helpers import CLIENT_ADDR, SERVER_ADDR, connect_pair, errno_of, make_pair

from tcpkit.engine.errors import ParameterError, TcpError
from tcpkit.engine.profiles import get_profile
from tcpkit.engine.segment import Flags, parse_segment
from tcpkit.engine.stack import O_NONBLOCK, Stack
from tcpkit.engine.states import State
from tcpkit.engine.trace import Kind, StateChanged, Trace


def closed_port_answer(text: str) -> str | None:
    st = Stack(addr=SERVER_ADDR, profile="freebsd")
    seg = parse_segment(text).replace(src_port=5000, dst_port=80)
    st.segment_arrives(0.0, CLIENT_ADDR, SERVER_ADDR, seg)
    out = st.take_outgoing()
    return out[0].segment.notation() if out else None


@pytest.mark.parametrize(
    ("inbound", "answer"),
    [
        (". 17:20(3) ack 34 win 32767", "R 34:34(0) win 0"),  # ACK set: <SEQ=SEG.ACK><CTL=RST>
        ("F 0:3(3) win 32767", "R. 0:0(0) ack 4 win 0"),  # no ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
        ("S 0:3(3) win 32767", "R. 0:0(0) ack 4 win 0"),
        ("S 100:100(0) win 100", "R. 0:0(0) ack 101 win 0"),
        ("R 0:3(3) win 32767", None),  # never an RST in answer to an RST
        ("R. 5:5(0) ack 9 win 0", None),
    ],
)
def test_closed_port_rules(inbound: str, answer: str | None) -> None:
    assert closed_port_answer(inbound) == answer


def test_fds_start_at_three_and_reuse_lowest() -> None:
    st = Stack()
    a, b, c = st.socket(0.0), st.socket(0.0), st.socket(0.0)
    assert (a, b, c) == (3, 4, 5)
    st.close(0.0, b)
    assert st.socket(0.0) == 4
    with pytest.raises(TcpError, match="EBADF"):
        st.state(42)


def test_ephemeral_ports_deterministic_and_in_range() -> None:
    def ports(seed: int) -> list[int]:
        st = Stack(profile="linux", seed=seed)
        out = []
        for _ in range(5):
            fd = st.socket(0.0)
            errno_of(lambda fd=fd: st.connect(0.0, fd, "198.51.100.7", 80))
            c = st.connection(fd)
            assert c is not None
            out.append(c.local[1])
        return out

    p1 = ports(1)
    assert p1 == ports(1)
    assert p1 != ports(2)
    lo, hi = get_profile("linux").params.port_low, get_profile("linux").params.port_high
    assert all(lo <= p <= hi for p in p1) and len(set(p1)) == 5
    assert all(p % 2 == 0 for p in p1)  # Linux connect() prefers even ports


def test_bind_conflicts_and_reuseaddr() -> None:
    st = Stack()
    a = st.socket(0.0)
    st.bind(0.0, a, 8080)
    b = st.socket(0.0)
    with pytest.raises(TcpError, match="EADDRINUSE"):
        st.bind(0.0, b, 8080)
    with pytest.raises(TcpError, match="EINVAL"):
        st.bind(0.0, a, 9090)
    with pytest.raises(ParameterError, match="port"):
        st.bind(0.0, b, 70000)


def test_time_wait_outlives_fd_and_blocks_bind_without_reuseaddr() -> None:
    link = make_pair("linux")
    c, lfd, s = connect_pair(link, port=80)
    link.b.close(link.now, s)  # the server closes first: its side ends in TIME_WAIT
    link.b.close(link.now, lfd)
    link.settle()
    link.a.close(link.now, c)
    link.settle()
    assert [(i.state, i.fd) for i in link.b.sockets()] == [(State.TIME_WAIT, None)]
    fd = link.b.socket(link.now)
    assert errno_of(lambda: link.b.bind(link.now, fd, 80)) == "EADDRINUSE"
    link.b.setsockopt(link.now, fd, "SO_REUSEADDR", 1)
    link.b.bind(link.now, fd, 80)


def test_reuseaddr_needs_both_sides_on_linux_not_on_freebsd() -> None:
    # measured on Linux 6.18 loopback: bind() beside a TIME_WAIT succeeds only when the old socket and
    # the new one both set SO_REUSEADDR (inet_bind_conflict(): sk->sk_reuse && sk2->sk_reuse)
    for profile, old_flag, new_flag, expect in (
        ("linux", 0, 1, "EADDRINUSE"),
        ("linux", 1, 0, "EADDRINUSE"),
        ("linux", 1, 1, None),
        ("freebsd", 0, 1, None),
    ):
        link = make_pair(profile)
        lfd = link.b.socket(link.now)
        link.b.setsockopt(link.now, lfd, "SO_REUSEADDR", old_flag)
        link.b.bind(link.now, lfd, 8080)
        link.b.listen(link.now, lfd, 4)
        c = link.a.socket(link.now)
        errno_of(lambda c=c, link=link: link.a.connect(link.now, c, SERVER_ADDR, 8080))
        link.settle()
        s = link.b.accept(link.now, lfd)
        link.b.close(link.now, s)  # the accepted socket inherited the listener's flag
        link.b.close(link.now, lfd)
        link.settle()
        link.a.close(link.now, c)
        link.settle()
        assert State.TIME_WAIT in [i.state for i in link.b.sockets()]
        fd = link.b.socket(link.now)
        link.b.setsockopt(link.now, fd, "SO_REUSEADDR", new_flag)
        got = errno_of(lambda fd=fd, link=link: link.b.bind(link.now, fd, 8080))
        assert got == expect, (profile, old_flag, new_flag, got)


def test_new_incarnation_from_time_wait() -> None:
    link = make_pair("linux")
    c, lfd, s = connect_pair(link, port=80)
    client_port = link.a.connection(c).local[1]  # type: ignore[union-attr]
    link.b.close(link.now, s)
    link.settle()
    link.a.close(link.now, c)
    link.settle()
    tw = next(x for x in link.b.conns.values() if x.state is State.TIME_WAIT)
    old_snd_nxt = tw.snd_nxt
    # the same client port connects again with a higher sequence number
    fd = link.a.socket(link.now)
    link.a.setsockopt(link.now, fd, "SO_REUSEADDR", 1)
    link.a.bind(link.now, fd, client_port)
    link.a.tcpdrop(link.now, "TIME_WAIT")
    errno_of(lambda: link.a.connect(link.now, fd, SERVER_ADDR, 80))
    syn = link.a.take_outgoing()[0].segment
    if not ((syn.seq - tw.rcv_nxt) & 0xFFFFFFFF) < 2**31:
        syn = syn.replace(seq=(tw.rcv_nxt + 1000) & 0xFFFFFFFF)
    link.b.segment_arrives(link.now, CLIENT_ADDR, SERVER_ADDR, syn)
    events = [(r.src.value, r.condition) for r in link.records if isinstance(r, StateChanged) and r.host == "server"]
    assert ("TIME_WAIT", "new incarnation") in events
    synack = link.b.take_outgoing()[-1].segment
    assert synack.syn and synack.has_ack
    assert synack.seq == (old_snd_nxt + 65535 + 2) & 0xFFFFFFFF  # Linux: tw_snd_nxt + 65535 + 2


def test_syn_to_time_wait_not_newer_gets_ack() -> None:
    link = make_pair("linux")
    c, lfd, s = connect_pair(link, port=80)
    link.b.close(link.now, s)
    link.settle()
    link.a.close(link.now, c)
    link.settle()
    tw = next(x for x in link.b.conns.values() if x.state is State.TIME_WAIT)
    old = parse_segment("S 0:0(0) win 100").replace(
        src_port=tw.remote[1], dst_port=80, seq=(tw.rcv_nxt - 10) & 0xFFFFFFFF
    )
    link.b.segment_arrives(link.now, CLIENT_ADDR, SERVER_ADDR, old)
    (out,) = link.b.take_outgoing()
    assert out.segment.flags == Flags.ACK and tw.state is State.TIME_WAIT


def test_tw_reuse_loopback_only() -> None:
    for remote, ok in (("127.0.0.2", True), ("198.51.100.1", False)):
        srv = Stack(name="s", addr=remote, profile="linux", seed=3)
        cli = Stack(name="c", addr="127.0.0.1" if ok else "198.51.100.2", profile="linux", seed=4)
        lfd = srv.socket(0.0)
        srv.bind(0.0, lfd, 80)
        srv.listen(0.0, lfd)
        fd = cli.socket(0.0)
        cli.setsockopt(0.0, fd, "SO_REUSEADDR", 1)  # Linux: the TIME_WAIT socket must carry it too
        errno_of(lambda fd=fd, cli=cli, remote=remote: cli.connect(0.0, fd, remote, 80))
        for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6):
            for a, b in ((cli, srv), (srv, cli)):
                for d in a.take_outgoing():
                    b.segment_arrives(t, d.src, d.dst, d.segment)
        port = cli.connection(fd).local[1]  # type: ignore[union-attr]
        cli.close(0.7, fd)
        sfd = srv.accept(0.7, lfd)
        srv.close(0.7, sfd)
        for t in (0.8, 0.9, 1.0):
            for a, b in ((cli, srv), (srv, cli)):
                for d in a.take_outgoing():
                    b.segment_arrives(t, d.src, d.dst, d.segment)
        assert [i.state for i in cli.sockets()] == [State.TIME_WAIT]
        fd2 = cli.socket(1.0)
        cli.setsockopt(1.0, fd2, "SO_REUSEADDR", 1)
        cli.bind(1.0, fd2, port)
        if ok:  # tcp_twsk_unique(): the TIME_WAIT socket's last timestamp must be more than 1 s old
            assert (
                errno_of(lambda fd2=fd2, cli=cli, remote=remote: cli.connect(1.1, fd2, remote, 80)) == "EADDRNOTAVAIL"
            )
        err = errno_of(lambda fd2=fd2, cli=cli, remote=remote: cli.connect(3.0, fd2, remote, 80))
        assert err == ("EINPROGRESS" if ok else "EADDRNOTAVAIL")
        assert cli.counters["TWRecycled"] == (1 if ok else 0)


def _tw_client(tw_reuse: int, *, ports: int = 2, **knobs: int) -> tuple[Stack, Stack, int, list[int]]:
    """A client with ``ports`` ephemeral ports whose every 4-tuple to the server is in TIME_WAIT."""
    prof = get_profile(
        "linux", tcp_tw_reuse=tw_reuse, ip_local_port_low=50000, ip_local_port_high=50000 + ports - 1, **knobs
    )
    srv = Stack(name="s", addr="10.9.0.1", profile="linux", seed=3)
    cli = Stack(name="c", addr="10.9.0.2", profile=prof, seed=4)
    lfd = srv.socket(0.0)
    srv.bind(0.0, lfd, 80)
    srv.listen(0.0, lfd)
    t = 0.0
    used = []

    def pump() -> None:
        nonlocal t
        for _ in range(4):
            t += 0.01
            for a, b in ((cli, srv), (srv, cli)):
                for d in a.take_outgoing():
                    b.segment_arrives(t, d.src, d.dst, d.segment)

    for _ in range(ports):
        fd = cli.socket(t)
        errno_of(lambda fd=fd: cli.connect(t, fd, "10.9.0.1", 80))
        pump()
        used.append(cli.connection(fd).local[1])  # type: ignore[union-attr]
        cli.close(t, fd)
        srv.close(t, srv.accept(t, lfd))
        pump()
    assert [i.state for i in cli.sockets()] == [State.TIME_WAIT] * ports
    return cli, srv, lfd, used


@pytest.mark.parametrize("tw_reuse", [0, 1])
def test_tw_reuse_on_ephemeral_connect(tw_reuse: int) -> None:
    # __inet_hash_connect -> __inet_check_established -> tcp_twsk_unique for each candidate port
    cli, _srv, _lfd, used = _tw_client(tw_reuse)
    fd = cli.socket(0.0)
    assert errno_of(lambda: cli.connect(0.5, fd, "10.9.0.1", 80)) == "EADDRNOTAVAIL"  # too soon (or off)
    err = errno_of(lambda: cli.connect(5.0, fd, "10.9.0.1", 80))
    if not tw_reuse:
        assert err == "EADDRNOTAVAIL" and cli.counters["TWRecycled"] == 0
        return
    assert err == "EINPROGRESS" and cli.counters["TWRecycled"] == 1
    conn = cli.connection(fd)
    assert conn is not None and conn.local[1] in used and conn.state is State.SYN_SENT
    assert sorted(i.state.value for i in cli.sockets()) == ["SYN_SENT", "TIME_WAIT"]


@pytest.mark.parametrize(("delay_ms", "refused_at", "taken_at"), [(1000, 0.9, 1.2), (2500, 2.4, 2.7)])
def test_tw_reuse_waits_tcp_tw_reuse_delay_from_the_entry_into_time_wait(
    delay_ms: int, refused_at: float, taken_at: float
) -> None:
    # Linux 6.14+ tcp_twsk_unique(): tcp_clock_ms() after tw_entry_stamp + tcp_tw_reuse_delay
    cli, _srv, _lfd, _used = _tw_client(1, ports=1, tcp_tw_reuse_delay=delay_ms)  # TIME_WAIT from about 0.05 s
    fd = cli.socket(0.0)
    assert errno_of(lambda: cli.connect(refused_at, fd, "10.9.0.1", 80)) == "EADDRNOTAVAIL"
    assert errno_of(lambda: cli.connect(taken_at, fd, "10.9.0.1", 80)) == "EINPROGRESS"


def test_tw_reuse_counts_from_the_entry_not_from_the_last_timestamp() -> None:
    from tcpkit.engine.connection import handshake_pair

    c, _s = handshake_pair(0.0, "linux")
    c.time_wait_since, c.opts.ts_recent_time = 0.0, 0.9  # a late timestamp (a retransmitted FIN) in TIME_WAIT
    st = Stack(profile=get_profile("linux", tcp_tw_reuse=1))
    assert st._tw_reuse_ok(1.05, c)  # up to Linux 6.13 this waited until 1.9 s


def test_tw_reuse_needs_timestamps() -> None:
    prof = get_profile("linux", tcp_tw_reuse=1, tcp_timestamps=0)
    st = Stack(profile=prof)
    from tcpkit.engine.connection import handshake_pair

    c, _s = handshake_pair(0.0, "rfc9293")
    assert not c.ts_ok and not st._tw_reuse_ok(100.0, c)


def test_tcpdrop_and_sockets_listing() -> None:
    link = make_pair("freebsd")
    c, lfd, s = connect_pair(link, port=8080)
    link.a.shutdown(link.now, c, "SHUT_WR")
    link.settle()
    link.b.shutdown(link.now, s, "SHUT_WR")
    link.settle()
    assert [i.state for i in link.a.sockets()] == [State.TIME_WAIT]
    assert link.a.sockets()[0].fd == c
    assert link.a.tcpdrop(link.now, State.TIME_WAIT) == 1
    assert link.a.sockets() == []
    assert link.a.take_outgoing() == []  # no RST for a TIME_WAIT drop


def test_sockopts() -> None:
    lin = Stack(profile="linux")
    fd = lin.socket(0.0)
    lin.setsockopt(0.0, fd, "SO_RCVBUF", 1000)
    assert lin.getsockopt(fd, "SO_RCVBUF") == 2304  # doubled, then the SOCK_MIN_RCVBUF floor
    lin.setsockopt(0.0, fd, "SO_RCVBUF", 100_000)
    assert lin.getsockopt(fd, "SO_RCVBUF") == 200_000
    bsd = Stack(profile="freebsd")
    fd2 = bsd.socket(0.0)
    assert bsd.getsockopt(fd2, "SO_RCVBUF") == 65536
    bsd.setsockopt(0.0, fd2, "SO_RCVBUF", 100_000)
    assert bsd.getsockopt(fd2, "SO_RCVBUF") == 100_000  # FreeBSD does not double
    assert lin.getsockopt(fd, "SO_ERROR") == 0
    assert lin.getsockopt(fd, "TCP_INFO")["tcpi_state"] == 7
    assert lin.getsockopt(fd, "TCP_KEEPIDLE") == 7200
    with pytest.raises(ParameterError, match="SO_LINGER"):
        lin.setsockopt(0.0, fd, "SO_LINGER", "forever")
    with pytest.raises(ParameterError, match="TCP_KEEPCNT"):
        lin.setsockopt(0.0, fd, "TCP_KEEPCNT", 0)


def test_fcntl_nonblocking() -> None:
    st = Stack()
    fd = st.socket(0.0)
    assert st.fcntl(fd, "F_GETFL") == 2
    assert st.fcntl(fd, "F_SETFL", 2 | O_NONBLOCK) == 0
    assert st.fcntl(fd, "F_GETFL") == 2 | O_NONBLOCK
    with pytest.raises(ParameterError, match="fcntl"):
        st.fcntl(fd, "F_DUPFD")


def test_tcp_info_of_established() -> None:
    link = make_pair("linux")
    c, _lfd, _s = connect_pair(link)
    info = link.a.getsockopt(c, "TCP_INFO")
    assert info["tcpi_state"] == 1 and info["state"] is State.ESTABLISHED
    assert info["tcpi_rtt"] == pytest.approx(0.02)


def test_call_records_carry_results() -> None:
    link = make_pair("linux")
    fd = link.a.socket(link.now)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
    calls = [(r.call, r.result) for r in link.records if r.kind is Kind.CALL and r.host == "client"]
    assert calls == [("socket(SOCK_STREAM)", "3"), ("connect(3, 10.0.0.1:80)", "-1 EINPROGRESS")]


def test_same_seed_same_trace() -> None:
    def run(seed: int) -> str:
        link = make_pair("linux", seed=seed)
        c, lfd, s = connect_pair(link)
        link.a.send(link.now, c, b"x" * 5000)
        link.a.close(link.now, c)
        link.run_for(1)
        link.b.close(link.now, s)
        link.run_for(100)
        return Trace(link.records).to_json()

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_set_profile_applies_to_live_connections() -> None:
    link = make_pair("freebsd")
    c, _lfd, _s = connect_pair(link)
    conn = link.a.connection(c)
    assert conn is not None and conn.params.rst_exact_match
    link.a.set_profile(get_profile("freebsd", insecure_rst=1))
    assert not conn.params.rst_exact_match


def test_ephemeral_exhaustion_and_sharing_across_destinations() -> None:
    st = Stack(profile=get_profile("linux", ip_local_port_low=40000, ip_local_port_high=40001))
    ports = []
    for _ in range(2):
        fd = st.socket(0.0)
        assert errno_of(lambda fd=fd: st.connect(0.0, fd, "198.51.100.7", 80)) == "EINPROGRESS"
        ports.append(st.connection(fd).local[1])  # type: ignore[union-attr]
    assert sorted(ports) == [40000, 40001]
    fd = st.socket(0.0)
    assert errno_of(lambda: st.connect(0.0, fd, "198.51.100.7", 80)) == "EADDRNOTAVAIL"
    # another destination may use the same local ports (the 4-tuple differs)
    assert errno_of(lambda: st.connect(0.0, fd, "198.51.100.8", 80)) == "EINPROGRESS"


def test_bad_arguments_name_what_is_allowed() -> None:
    link = make_pair("linux")
    c, _lfd, _s = connect_pair(link)
    with pytest.raises(ParameterError, match="send data"):
        link.a.send(link.now, c, "text")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="recv size"):
        link.a.recv(link.now, c, -1)
    fd = link.a.socket(link.now)
    with pytest.raises(ParameterError, match="port"):
        link.a.connect(link.now, fd, SERVER_ADDR, 0)
    with pytest.raises(ParameterError, match="address"):
        link.a.connect(link.now, fd, None, 80)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- the public boundary


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda st, fd: st.bind(0.0, fd, "80"), "port"),
        (lambda st, fd: st.bind(0.0, fd, 70000), "port"),
        (lambda st, fd: st.bind(0.0, fd, 80, addr=7), "addr"),
        (lambda st, fd: st.listen(0.0, fd, "8"), "backlog"),
        (lambda st, fd: st.listen("0", fd, 8), "now"),
        (lambda st, fd: st.connect(0.0, fd, "10.0.0.9", "80"), "port"),
        (lambda st, fd: st.connect(0.0, fd, 10, 80), "address"),
        (lambda st, fd: st.recv(0.0, fd, "10"), "recv size"),
        (lambda st, fd: st.send(0.0, fd, "text"), "send data"),
        (lambda st, fd: st.close(0.0, "3"), "fd"),
        (lambda st, fd: st.setsockopt(0.0, fd, "SO_RCVBUF", "big"), "SO_RCVBUF"),
        (lambda st, fd: st.setsockopt(0.0, fd, "TCP_USER_TIMEOUT", 1.5), "TCP_USER_TIMEOUT"),
        (lambda st, fd: st.socket(float("nan")), "now"),
        (lambda st, fd: st.tcpdrop(0.0, "NOT_A_STATE"), "state"),
    ],
)
def test_bad_arguments_raise_a_parameter_error_naming_the_argument(call, name: str) -> None:  # type: ignore[no-untyped-def]
    st = Stack()
    fd = st.socket(0.0)
    with pytest.raises(ParameterError) as info:
        call(st, fd)
    assert info.value.name == name, str(info.value)
    assert st.fds[fd].local is None and st.conns == {}  # nothing was changed


def test_numpy_integers_are_ints_at_the_boundary() -> None:
    np = pytest.importorskip("numpy")
    st = Stack()
    fd = st.socket(np.float64(0.0))
    st.bind(np.float64(0.0), np.int64(fd), np.int32(8080))
    st.listen(0.0, np.int64(fd), np.int16(4))
    assert st.state(fd) is State.LISTEN and st.listeners[(st.addr, 8080)].backlog == 4
    st.setsockopt(0.0, fd, "SO_RCVBUF", np.int64(1000))
    assert st.getsockopt(fd, "SO_RCVBUF") == 2304  # doubled, at least SOCK_MIN_RCVBUF (Linux sock_setsockopt)
    st.close(0.0, np.int64(fd))
    assert st.fds == {}


def test_a_resolved_profile_is_used_as_given() -> None:
    prof = get_profile("linux", tcp_syn_retries=2)
    st = Stack(profile=prof)
    assert st.profile is prof and st.params is prof.params
    with pytest.raises(ParameterError, match="profile"):
        Stack(profile=42)  # type: ignore[arg-type]


def test_tcp_keepidle_on_a_connected_socket_moves_the_running_keepalive_timer() -> None:
    # Linux tcp_sock_set_keepidle_locked(): reset to keepalive_time minus the time already idle
    srv = Stack(name="s", addr="10.9.0.1", profile="linux", seed=3)
    cli = Stack(name="c", addr="10.9.0.2", profile="linux", seed=4)
    lfd = srv.socket(0.0)
    srv.bind(0.0, lfd, 80)
    srv.listen(0.0, lfd)
    fd = cli.socket(0.0)
    errno_of(lambda: cli.connect(0.0, fd, "10.9.0.1", 80))
    for t in (0.01, 0.02, 0.03):
        for a, b in ((cli, srv), (srv, cli)):
            for d in a.take_outgoing():
                b.segment_arrives(t, d.src, d.dst, d.segment)
    cli.setsockopt(1.0, fd, "SO_KEEPALIVE", 1)
    conn = cli.connection(fd)
    assert conn is not None and conn.timers["keepalive"] == pytest.approx(7201.0)
    cli.setsockopt(5.0, fd, "TCP_KEEPIDLE", 10)
    last = conn.clocks.last_recv_time
    assert last < 1.0 and conn.timers["keepalive"] == pytest.approx(last + 10)  # idle since the last arrival
