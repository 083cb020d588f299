"""The transmission control block: handshake, data, close, RST rules, timers, errors, options."""

from __future__ import annotations

import pytest
from engine_helpers import (
    CLIENT_ADDR,
    SERVER_ADDR,
    conn_of,
    connect_pair,
    errno_of,
    inject,
    make_pair,
    seg_text,
)

from tcpkit.engine.connection import Connection, freebsd_options, linux_options, wscale_for
from tcpkit.engine.errors import ParameterError, TcpError
from tcpkit.engine.profiles import get_profile
from tcpkit.engine.segment import Flags, Segment, parse_segment
from tcpkit.engine.states import State
from tcpkit.engine.timers import syn_give_up_time, syn_retransmit_times, synack_retransmit_times
from tcpkit.engine.trace import Kind, StateChanged


def pair(profile: str = "linux", **knobs: object):  # type: ignore[no-untyped-def]
    link = make_pair(profile, **knobs)
    c, lfd, s = connect_pair(link)
    return link, c, lfd, s


def sent_by(link, host: str) -> list[Segment]:  # type: ignore[no-untyped-def]
    return [r.segment for r in link.records if r.kind is Kind.SEND and r.host == host and r.segment is not None]


# ---------------------------------------------------------------------- handshake and options


def test_linux_syn_options_and_window() -> None:
    link = make_pair("linux")
    fd = link.a.socket(link.now)
    assert errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80)) == "EINPROGRESS"
    syn = link.a.take_outgoing()[0].segment
    assert [str(o) for o in syn.options or ()][0] == "mss 1460"
    # wscale: ilog2(tcp_rmem[2] = 32 MB) - 15 = 10 (Linux >= 6.16, tcp_select_initial_window())
    assert syn.sack_permitted and syn.timestamp is not None and syn.wscale == 10
    assert syn.window == 64240 and syn.flags == Flags.SYN


def test_freebsd_synack_mirrors_peer_options() -> None:
    c = Connection(get_profile("freebsd").params, local=("s", 80), remote=("c", 5), iss=0, passive=True)
    c.accept_syn(0.0, parse_segment("S 0:0(0) win 32767 <mss 1460,sackOK,eol,eol>"))
    out = c.take_outgoing()[0]
    assert out.notation() == "S. 0:0(0) ack 1 win 65535 <mss 1460,sackOK,eol,eol>"


@pytest.mark.parametrize(
    ("buf", "shift"), [(65535, 0), (65536, 1), (6 * 1024 * 1024, 7), (15 * 1024 * 1024, 8), (1 << 30, 14)]
)
def test_wscale_for(buf: int, shift: int) -> None:
    assert wscale_for(buf) == shift


def test_option_layouts() -> None:
    assert (
        ",".join(map(str, linux_options(mss=1460, sack=False, ts=(1, 2), wscale=None)))
        == "mss 1460,nop,nop,TS val 1 ecr 2"
    )
    assert ",".join(map(str, freebsd_options(mss=1460, sack=False, ts=None, wscale=6))) == "mss 1460,nop,wscale 6"
    assert sum(1 for _ in freebsd_options(mss=1460, sack=True, ts=None, wscale=None)) == 4


def test_handshake_negotiates_mss_and_scaling() -> None:
    link, c, _lfd, s = pair()
    cc, sc = conn_of(link, "a", c), conn_of(link, "b", s)
    assert cc.ws_ok and sc.ws_ok and cc.ts_ok and cc.sack_ok
    assert cc.smss == 1460 - 12
    assert cc.snd_wscale == sc.rcv_wscale == 10


def test_simultaneous_open_reaches_established_on_both_sides() -> None:
    link = make_pair()
    fa, fb = link.a.socket(link.now), link.b.socket(link.now)
    link.a.bind(link.now, fa, 1000)
    link.b.bind(link.now, fb, 2000)
    errno_of(lambda: link.a.connect(0.0, fa, SERVER_ADDR, 2000))
    errno_of(lambda: link.b.connect(0.0, fb, CLIENT_ADDR, 1000))
    link.settle()
    assert link.a.state(fa) is State.ESTABLISHED and link.b.state(fb) is State.ESTABLISHED
    link.a.send(link.now, fa, b"hi")
    link.settle()
    assert link.b.recv(link.now, fb, 10) == b"hi"


# ---------------------------------------------------------------------- data


def test_bulk_data_arrives_intact_in_order() -> None:
    link, c, _lfd, s = pair()
    blob = bytes(range(256)) * 400
    got = b""
    sent = 0
    for _ in range(200):
        if sent < len(blob):
            try:
                sent += link.a.send(link.now, c, blob[sent:])
            except TcpError as e:
                assert e.errno_name == "EAGAIN"
        link.run_for(0.05)
        try:
            got += link.b.recv(link.now, s, 1 << 20)
        except TcpError as e:
            assert e.errno_name == "EAGAIN"
        if got == blob:
            break
    assert got == blob


def test_lost_segment_is_retransmitted_and_reassembled() -> None:
    lost = []

    def drop_first_data(d, t):  # type: ignore[no-untyped-def]
        if d.src == CLIENT_ADDR and d.segment.length and not lost:
            lost.append(d)
            return True
        return False

    link, c, _lfd, s = pair("rfc9293")
    link.drop = drop_first_data
    link.a.send(link.now, c, b"a" * 1460 + b"b" * 1460 + b"c" * 100)
    link.run_for(5)
    assert lost
    assert link.b.recv(link.now, s, 10_000) == b"a" * 1460 + b"b" * 1460 + b"c" * 100
    rexmits = [r for r in link.records if r.kind is Kind.TIMER_FIRE and r.host == "client" and r.timer == "rexmt"]
    assert rexmits


def test_data_rto_doubles_and_gives_up_with_etimedout() -> None:
    link, c, _lfd, _s = pair("linux", tcp_retries2=4)
    link.drop = lambda d, t: d.src == SERVER_ADDR
    t0 = link.now
    link.a.send(t0, c, b"z" * 10)
    link.run(t0 + 100)
    data_sends = [
        r.time - t0
        for r in link.records
        if r.kind is Kind.SEND and r.host == "client" and r.segment is not None and r.segment.length
    ]
    # a tail loss probe at the RTO (RFC 8985 §7: min(PTO, RTO)), then RTO retransmissions doubling
    # from the probe: 0.2, 0.4, 0.8, 1.6 s (RTO_MIN 200 ms)
    assert [round(x, 3) for x in data_sends] == [0.0, 0.2, 0.4, 0.8, 1.6, 3.2]
    assert link.a.counters["TCPLossProbes"] == 1
    # Linux gives up by time: tcp_retries2 = 4 is (2^5 - 1) x 200 ms = 6.2 s after the first
    # transmission (tcp_model_timeout); the first RTO at or after that is at 6.4 s
    closed = [r.time - t0 for r in link.records if isinstance(r, StateChanged) and r.host == "client"]
    assert round(closed[-1], 3) == 6.4
    assert link.a.state(c) is State.CLOSED
    assert errno_of(lambda: link.a.send(link.now, c, b"x")) == "ETIMEDOUT"


def test_linux_initial_window_and_tso_coalescing() -> None:
    link, c, _lfd, _s = pair("linux")
    link.drop = lambda d, t: d.src == SERVER_ADDR
    link.a.send(link.now, c, 100_000)
    link.collect()
    first = [d.segment for _t, d in link.dropped] + [d.segment for _t, _n, d in link.in_flight]
    data = [sg for sg in first if sg.length]
    assert len(data) == 1 and data[0].length == 10 * (1460 - 12)


def test_linux_quickack_then_delayed_ack_of_fin() -> None:
    link, c, _lfd, s = pair("linux")
    link.a.send(link.now, c, b"q" * 100)
    link.settle()
    t_data = max(r.time for r in link.records if r.kind is Kind.RECV and r.host == "server")
    ack = [r for r in link.records if r.kind is Kind.SEND and r.host == "server" and r.time == t_data]
    assert ack, "first data is acknowledged at once (quick-ACK mode)"
    link.a.close(link.now, c)
    link.run_for(0.2)
    fin_rx = [
        r.time for r in link.records if r.kind is Kind.RECV and r.host == "server" and r.segment and r.segment.fin
    ][0]
    ack_tx = [r.time for r in link.records if r.kind is Kind.SEND and r.host == "server" and r.time >= fin_rx][0]
    assert round(ack_tx - fin_rx, 3) == 0.04


def test_linux_ack_of_fin_is_immediate_before_any_data() -> None:
    link, c, _lfd, _s = pair("linux")
    link.a.close(link.now, c)
    link.settle()
    fin_rx = [
        r.time for r in link.records if r.kind is Kind.RECV and r.host == "server" and r.segment and r.segment.fin
    ][0]
    ack_tx = [r.time for r in link.records if r.kind is Kind.SEND and r.host == "server" and r.time >= fin_rx][0]
    assert ack_tx == fin_rx


# ---------------------------------------------------------------------- closing


def test_half_close_lets_the_peer_keep_sending() -> None:
    link, c, _lfd, s = pair()
    link.a.shutdown(link.now, c, "SHUT_WR")
    link.settle()
    assert link.a.state(c) is State.FIN_WAIT_2 and link.b.state(s) is State.CLOSE_WAIT
    assert link.b.recv(link.now, s, 10) == b""
    link.b.send(link.now, s, b"late data")
    link.settle()
    assert link.a.recv(link.now, c, 100) == b"late data"
    assert errno_of(lambda: link.a.send(link.now, c, b"x")) == "EPIPE"


def test_fin_wait_2_timer_only_when_orphaned() -> None:
    link, c, _lfd, _s = pair()
    link.a.shutdown(link.now, c, "SHUT_WR")
    link.run_for(200)
    assert link.a.state(c) is State.FIN_WAIT_2  # shutdown(SHUT_WR) does not start tcp_fin_timeout
    link.a.close(link.now, c)
    link.run_for(59)
    assert [i.state for i in link.a.sockets()] == [State.FIN_WAIT_2]
    link.run_for(2)
    assert link.a.sockets() == []


def test_time_wait_lasts_2msl_and_restarts_on_retransmitted_fin() -> None:
    link, c, _lfd, s = pair("linux")
    link.a.close(link.now, c)
    link.settle()
    link.b.close(link.now, s)
    link.settle()
    tw = next(x for x in link.a.conns.values() if x.state is State.TIME_WAIT)
    t_enter = [r.time for r in link.records if isinstance(r, StateChanged) and r.dst.value == "TIME_WAIT"][0]
    assert tw.timers["time_wait"] == pytest.approx(t_enter + 60)
    link.run_for(30)
    seg = Segment(
        src_port=80,
        dst_port=tw.local[1],
        seq=(tw.rcv_nxt - 1) & 0xFFFFFFFF,
        ack=tw.snd_nxt,
        flags=Flags.FIN | Flags.ACK,
        window=100,
    )
    link.a.segment_arrives(link.now, SERVER_ADDR, CLIENT_ADDR, seg)
    assert tw.timers["time_wait"] == pytest.approx(link.now + 60)
    assert link.a.take_outgoing()[0].segment.flags == Flags.ACK


def test_time_wait_switched_off() -> None:
    link, c, _lfd, s = pair("linux", time_wait_len=0)
    link.a.close(link.now, c)
    link.settle()
    link.b.close(link.now, s)
    link.settle()
    states = [(r.src.value, r.dst.value) for r in link.records if isinstance(r, StateChanged) and r.host == "client"]
    assert states[-2:] == [("FIN_WAIT_2", "TIME_WAIT"), ("TIME_WAIT", "CLOSED")]
    assert link.a.sockets() == []


def test_close_with_unread_data_sends_rst() -> None:
    link, c, _lfd, s = pair()
    link.a.send(link.now, c, b"unread")
    link.settle()
    link.b.close(link.now, s)
    link.settle()
    assert any(sg.rst for sg in sent_by(link, "server"))
    assert link.a.getsockopt(c, "SO_ERROR") == "ECONNRESET"


def test_linger_zero_aborts() -> None:
    link, c, _lfd, s = pair()
    link.a.setsockopt(link.now, c, "SO_LINGER", (1, 0))
    link.a.close(link.now, c)
    link.settle()
    assert sent_by(link, "client")[-1].rst
    assert link.b.state(s) is State.CLOSED
    assert errno_of(lambda: link.b.recv(link.now, s, 1)) == "ECONNRESET"


# ---------------------------------------------------------------------- RST and SYN rules


@pytest.mark.parametrize(
    ("offset", "exact", "resets", "challenge"),
    [
        (0, True, True, False),
        (10, True, False, True),
        (10, False, True, False),
        (-5, True, False, False),
        (10**6, True, False, False),
    ],
)
def test_rst_rules_rfc5961(offset: int, exact: bool, resets: bool, challenge: bool) -> None:
    knobs = {} if exact else {"insecure_rst": 1}
    link, c, _lfd, _s = pair("freebsd", **knobs)
    conn = conn_of(link, "a", c)
    n_before = len(sent_by(link, "client"))
    inject(link, "a", c, "R", seq=conn.rcv_nxt + offset)
    assert (conn.state is State.CLOSED) is resets
    new = sent_by(link, "client")[n_before:]
    assert bool(new and new[0].flags == Flags.ACK) is challenge
    if resets:
        assert link.a.getsockopt(c, "SO_ERROR") == "ECONNRESET"


def test_never_rst_in_answer_to_rst() -> None:
    link = make_pair()
    before = len(link.a.take_outgoing())
    link.a.segment_arrives(0.0, SERVER_ADDR, CLIENT_ADDR, Segment(src_port=80, dst_port=4000, seq=5, flags=Flags.RST))
    assert before == 0 and link.a.take_outgoing() == []


def test_syn_in_established_challenge_ack_linux() -> None:
    link, c, _lfd, _s = pair("linux")
    conn = conn_of(link, "a", c)
    n = len(sent_by(link, "client"))
    inject(link, "a", c, "S", seq=conn.rcv_nxt)
    assert conn.state is State.ESTABLISHED
    assert sent_by(link, "client")[n].flags == Flags.ACK


def test_rfc1337_ignores_rst_in_time_wait() -> None:
    for rfc1337, survives in ((1, True), (0, False)):
        link, c, _lfd, s = pair("linux", tcp_rfc1337=rfc1337)
        link.a.close(link.now, c)
        link.settle()
        link.b.close(link.now, s)
        link.settle()
        tw = next(x for x in link.a.conns.values() if x.state is State.TIME_WAIT)
        seg = Segment(src_port=80, dst_port=tw.local[1], seq=tw.rcv_nxt, flags=Flags.RST)
        link.a.segment_arrives(link.now, SERVER_ADDR, CLIENT_ADDR, seg)
        assert (tw.state is State.TIME_WAIT) is survives


# ---------------------------------------------------------------------- timers


def test_linux_syn_schedule_131_seconds() -> None:
    p = get_profile("linux").params
    assert syn_retransmit_times(p) == [1, 2, 3, 4, 5, 7, 11, 19, 35, 67]
    assert syn_give_up_time(p) == 131
    classic = get_profile("linux", tcp_syn_linear_timeouts=0).params
    assert syn_retransmit_times(classic) == [1, 3, 7, 15, 31, 63] and syn_give_up_time(classic) == 127


@pytest.mark.parametrize(("prof", "give_up"), [("linux", 131.0), ("freebsd", 75.0)])
def test_engine_follows_the_syn_schedule(prof: str, give_up: float) -> None:
    if True:
        link = make_pair(prof, drop=lambda d, t: True)
        fd = link.a.socket(link.now)
        errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
        link.run(500)
        times = [round(t, 6) for t, _d in link.dropped]
        assert times[1:] == syn_retransmit_times(link.a.params)
        fail = [r.time for r in link.records if isinstance(r, StateChanged) and r.dst.value == "CLOSED"]
        assert fail == [give_up]
        assert link.a.getsockopt(fd, "SO_ERROR") == "ETIMEDOUT"


def test_synack_schedule_and_request_drop() -> None:
    p = get_profile("linux").params
    assert synack_retransmit_times(p) == [1, 3, 7, 15, 31]
    c = Connection(p, local=("s", 80), remote=("c", 5), iss=0, passive=True)
    c.accept_syn(0.0, parse_segment("S 0:0(0) win 100 <mss 1000>"))
    sent = [0.0]
    for _ in range(20):
        d = c.next_deadline()
        if d is None:
            break
        c.handle_timer(d)
        if c.take_outgoing():
            sent.append(d)
    assert sent[1:] == [1, 3, 7, 15, 31]
    assert c.state is State.CLOSED and c.transitions[-1][1].name == "TIMEOUT_RETRIES"


def test_keepalive_probes_then_reset() -> None:
    link, c, _lfd, _s = pair("linux")
    for name, v in (("TCP_KEEPIDLE", 100), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3), ("SO_KEEPALIVE", 1)):
        link.a.setsockopt(link.now, c, name, v)
    conn = conn_of(link, "a", c)
    link.drop = lambda d, t: d.src == SERVER_ADDR
    t0 = link.now
    link.run(t0 + 200)
    probes = [r for r in link.records if r.kind is Kind.SEND and r.host == "client" and r.time > t0]
    assert [round(r.time - t0, 3) for r in probes] == [100, 110, 120, 130]
    assert all(p.segment is not None and p.segment.seq == (conn.snd_una - 1) & 0xFFFFFFFF for p in probes[:3])
    assert probes[-1].segment is not None and probes[-1].segment.rst
    assert link.a.getsockopt(c, "SO_ERROR") == "ETIMEDOUT"


def test_keepalive_answered_keeps_connection() -> None:
    link, c, _lfd, _s = pair("linux")
    for name, v in (("TCP_KEEPIDLE", 50), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 2), ("SO_KEEPALIVE", 1)):
        link.a.setsockopt(link.now, c, name, v)
    link.run_for(500)
    assert link.a.state(c) is State.ESTABLISHED


def test_user_timeout() -> None:
    link, c, _lfd, _s = pair("linux")
    link.a.setsockopt(link.now, c, "TCP_USER_TIMEOUT", 3000)
    link.drop = lambda d, t: d.src == SERVER_ADDR
    t0 = link.now
    link.a.send(t0, c, b"data")
    link.run(t0 + 60)
    closed = [
        r.time for r in link.records if isinstance(r, StateChanged) and r.host == "client" and r.dst.value == "CLOSED"
    ]
    assert closed == [pytest.approx(t0 + 3)]
    assert link.a.getsockopt(c, "SO_ERROR") == "ETIMEDOUT"


# ---------------------------------------------------------------------- errors a user sees


def test_errors() -> None:
    link = make_pair()
    fd = link.a.socket(link.now)
    assert errno_of(lambda: link.a.send(0.0, fd, b"x")) == "ENOTCONN"
    assert errno_of(lambda: link.a.recv(0.0, fd, 1)) == "ENOTCONN"
    assert errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80)) == "EINPROGRESS"
    assert errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80)) == "EALREADY"
    assert errno_of(lambda: link.a.send(0.0, fd, b"x")) == "EAGAIN"
    assert errno_of(lambda: link.a.recv(0.0, fd, 1)) == "EAGAIN"
    link.settle()  # nobody listens: RST
    assert link.a.getsockopt(fd, "SO_ERROR") == "ECONNREFUSED"
    assert link.a.getsockopt(fd, "SO_ERROR") == 0  # reading SO_ERROR clears it
    with pytest.raises(ParameterError, match="how"):
        link.a.shutdown(0.0, fd, "SHUT_SIDEWAYS")
    with pytest.raises(TcpError, match="EBADF"):
        link.a.send(0.0, 99, b"x")


def test_epipe_after_shutdown_and_econnreset_after_rst() -> None:
    link, c, _lfd, s = pair()
    link.a.shutdown(link.now, c, "SHUT_WR")
    assert errno_of(lambda: link.a.send(link.now, c, b"x")) == "EPIPE"
    conn = conn_of(link, "b", s)
    inject(link, "b", s, "R", seq=conn.rcv_nxt)
    assert errno_of(lambda: link.b.send(link.now, s, b"x")) == "ECONNRESET"


def test_connection_doctest_pair_numbers_are_relative() -> None:
    link, c, _lfd, _s = pair("freebsd")
    conn = conn_of(link, "a", c)
    syn = sent_by(link, "client")[0]
    assert seg_text(syn, conn.seq_base).startswith("S 0:0(0) win 65535 <mss 1460,nop,wscale 6,sackOK,TS val")


def test_poll_flags() -> None:
    link, c, _lfd, s = pair()
    assert "out" in link.a.poll(c) and "in" not in link.b.poll(s)
    link.a.send(link.now, c, b"x")
    link.a.shutdown(link.now, c, "SHUT_WR")
    link.settle()
    assert {"in", "rdhup"} <= link.b.poll(s)


def test_zero_window_persist_probes_until_window_opens() -> None:
    link, c, _lfd, s = pair("rfc9293")
    sconn = conn_of(link, "b", s)
    sconn.rcvbuf = 3000  # a tiny receive buffer that the client will fill
    link.a.send(link.now, c, b"w" * 6000)
    link.run_for(5)
    cconn = conn_of(link, "a", c)
    assert cconn.snd_wnd == 0 and "persist" in cconn.timers
    probes = [r for r in link.records if r.kind is Kind.TIMER_FIRE and r.timer == "persist"]
    assert probes, "zero-window probes were sent"
    got = b""
    for _ in range(6):  # the reader drains: a window update (or a probe's answer) reopens the window
        try:
            got += link.b.recv(link.now, s, 10_000)
        except TcpError as e:
            assert e.errno_name == "EAGAIN"
        link.run_for(10)
    assert got == b"w" * 6000
    assert "persist" not in cconn.timers


def test_linux_tail_loss_probe_resends_last_segment() -> None:
    link, c, _lfd, _s = pair("linux")
    link.drop = lambda d, t: d.src == SERVER_ADDR  # no ACK comes back
    t0 = link.now
    link.a.send(t0, c, b"a" * 3000)
    link.a.shutdown(t0, c, "SHUT_WR")
    link.run(t0 + 0.15)
    fires = [r.time - t0 for r in link.records if r.kind is Kind.TIMER_FIRE and r.timer == "tlp"]
    srtt = conn_of(link, "a", c).rtt.srtt
    assert srtt is not None and fires == [pytest.approx(2 * srtt + 0.002)]
    probe = [r.segment for r in link.records if r.kind is Kind.SEND and r.host == "client" and r.time > t0][-1]
    assert probe is not None and probe.fin  # the last segment (the FIN) goes again


def test_tlp_needs_sack() -> None:
    link, c, _lfd, _s = pair("linux", tcp_sack=0)
    link.drop = lambda d, t: d.src == SERVER_ADDR
    link.a.send(link.now, c, b"a" * 3000)
    link.run_for(0.15)
    assert not [r for r in link.records if r.kind is Kind.TIMER_SET and r.timer == "tlp"]


def test_too_old_ack_is_refused_rfc5961() -> None:
    link, c, _lfd, s = pair("linux")
    sconn = conn_of(link, "b", s)
    n = len(sent_by(link, "server"))
    # in-window data whose ACK field is far behind SND.UNA: a blind injection attempt
    inject(link, "b", s, "P.", ack=(sconn.snd_una - 10_000_000) & 0xFFFFFFFF, payload=b"evil")
    assert sconn.recv_buf == bytearray()
    assert sent_by(link, "server")[n].flags == Flags.ACK


def test_acks_to_invalid_segments_are_rate_limited() -> None:
    link, c, _lfd, _s = pair("linux")
    conn = conn_of(link, "a", c)
    n = len(sent_by(link, "client"))
    for _ in range(5):
        inject(link, "a", c, "R", seq=conn.rcv_nxt + 7)  # in window, not exact: challenge ACK
    assert len(sent_by(link, "client")) - n == 1  # Linux: one per 500 ms (tcp_invalid_ratelimit)
    link.run_for(0.6)
    inject(link, "a", c, "R", seq=conn.rcv_nxt + 7)
    assert len(sent_by(link, "client")) - n == 2


def test_freebsd_processes_ack_of_old_duplicate() -> None:
    link, c, _lfd, s = pair("freebsd")
    link.a.shutdown(link.now, c, "SHUT_WR")
    link.settle()
    link.drop = lambda d, t: d.src == CLIENT_ADDR
    link.b.shutdown(link.now, s, "SHUT_WR")  # server: LAST_ACK, its FIN is never acknowledged
    link.run_for(0.05)
    sconn = conn_of(link, "b", s)
    assert sconn.state is State.LAST_ACK
    # an old duplicate (seq left of the window) that acknowledges the FIN still closes it
    inject(link, "b", s, ".", seq=(sconn.rcv_nxt - 1) & 0xFFFFFFFF, ack=sconn.snd_max)
    assert sconn.state is State.CLOSED


def test_zero_window_still_takes_acks() -> None:
    link, c, _lfd, s = pair("rfc9293")
    cconn, sconn = conn_of(link, "a", c), conn_of(link, "b", s)
    cconn.rcvbuf = 0  # the client cannot take any data: RCV.WND = 0
    link.a.send(link.now, c, b"d" * 100)
    link.collect()
    link.in_flight.clear()  # the client's data is "in flight"; its ACK is what we test
    una = cconn.snd_una
    # the server sends data (not acceptable: zero window) carrying the ACK of the client's data
    inject(link, "a", c, "P.", ack=(una + 100) & 0xFFFFFFFF, payload=b"reply")
    assert cconn.snd_una == (una + 100) & 0xFFFFFFFF  # the ACK field was processed
    assert cconn.recv_buf == bytearray()  # the data was not
    assert sconn is not None


def test_poll_while_connecting_and_after_refusal() -> None:
    link = make_pair("linux")
    fd = link.a.socket(link.now)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 9))
    assert link.a.poll(fd) == frozenset()  # SYN_SENT: nothing yet
    link.settle()
    assert link.a.poll(fd) == {"in", "out", "err", "hup", "rdhup"}
    assert link.a.getsockopt(fd, "SO_ERROR") == "ECONNREFUSED"
    assert "err" not in link.a.poll(fd)


def test_linux_close_after_half_close_with_unread_data_resets() -> None:
    link, c, _lfd, s = pair("linux")
    link.a.shutdown(link.now, c, "SHUT_WR")
    link.b.send(link.now, s, b"never read")
    link.settle()
    assert link.a.state(c) is State.FIN_WAIT_2
    link.a.close(link.now, c)
    assert sent_by(link, "client")[-1].rst
    last = [r for r in link.records if isinstance(r, StateChanged) and r.host == "client"][-1]
    assert (last.event.value, last.condition, last.dst.value) == (
        "close",
        "unread data",
        "CLOSED",
    )  # its own row, not ABORT


@pytest.mark.parametrize("profile", ["linux", "freebsd"])
def test_data_after_close_answered_by_one_rst_from_the_segment(profile: str) -> None:
    # Linux tcp_rcv_state_process(): TCPAbortOnData, tcp_reset(); tcp_v4_send_reset builds the RST from the segment.
    # FreeBSD tcp_do_segment(): SS_NOFDREF and state > CLOSE_WAIT with data -> tcps_rcvafterclose, dropwithreset.
    link, c, _lfd, s = pair(profile)
    conn = link.a.connection(c)
    assert conn is not None
    link.a.close(link.now, c)
    link.settle()
    assert conn.state is State.FIN_WAIT_2
    link.b.send(link.now, s, b"too late")
    link.settle()
    rst = [d.segment for _t, d in link.delivered if d.src == CLIENT_ADDR and d.segment.rst]
    assert len(rst) == 1 and rst[0].flags == Flags.RST and rst[0].seq == conn.snd_nxt
    assert conn.state is State.CLOSED and link.a.counters["TCPAbortOnData"] == 1
    assert link.b.getsockopt(s, "SO_ERROR") == "ECONNRESET"
    last = [r for r in link.records if isinstance(r, StateChanged) and r.host == "client"][-1]
    assert (last.src.value, last.event.value, last.condition) == ("FIN_WAIT_2", "rcv data", "data after close")


def test_fast_retransmit_after_three_duplicate_acks() -> None:
    lost: list[int] = []

    def drop_second_segment(d, t):  # type: ignore[no-untyped-def]
        if d.src == CLIENT_ADDR and d.segment.length and len(lost) < 2:
            lost.append(d.segment.seq)
            return len(lost) == 2  # the second data segment is lost
        return False

    link, c, _lfd, s = pair("freebsd")
    link.drop = drop_second_segment
    t0 = link.now
    link.a.send(t0, c, bytes(range(256)) * 40)  # 10240 bytes: several segments
    link.run(t0 + 0.5)  # well before the 1 s RTO
    assert link.b.recv(link.now, s, 100_000) == bytes(range(256)) * 40
    assert not [r for r in link.records if r.kind is Kind.TIMER_FIRE and r.timer == "rexmt" and r.time > t0]
    resent = [
        r.segment.seq
        for r in link.records
        if r.kind is Kind.SEND and r.host == "client" and r.segment is not None and r.segment.length and r.time >= t0
    ]
    assert resent.count(lost[1]) == 2  # sent, lost, sent again after the duplicates


def _ts_seg(conn: Connection, tsval: int, flags: Flags = Flags.ACK, payload: bytes = b"") -> Segment:
    from tcpkit.engine.segment import Timestamp

    return Segment(
        src_port=conn.remote[1],
        dst_port=conn.local[1],
        seq=conn.rcv_nxt,
        ack=conn.snd_nxt,
        flags=flags,
        window=65535,
        payload=payload,
        options=(Timestamp(tsval, 0),),
    )


@pytest.mark.parametrize("profile", ["linux", "freebsd"])
def test_paws_drops_data_with_an_old_timestamp(profile: str) -> None:
    from tcpkit.engine.connection import handshake_pair

    _c, s = handshake_pair(0.0, profile)
    assert s.ts_ok and s.ts_recent > 5
    s.segment_arrives(1.0, _ts_seg(s, s.ts_recent - 5, Flags.ACK | Flags.PSH, b"old"))
    assert s.recv_buf == b"" and s.counters["PAWSEstab"] == 1
    out = s.take_outgoing()
    assert len(out) == 1 and out[0].flags == Flags.ACK and out[0].ack == s.rcv_nxt  # dropped, and ACKed
    s.segment_arrives(1.1, _ts_seg(s, s.ts_recent + 5, Flags.ACK | Flags.PSH, b"new"))
    assert bytes(s.recv_buf) == b"new" and s.counters["PAWSEstab"] == 1


def test_paws_lets_an_rst_through_and_allows_one_tick_on_linux() -> None:
    from tcpkit.engine.connection import handshake_pair

    _c, s = handshake_pair(0.0, "linux")
    s.segment_arrives(1.0, _ts_seg(s, s.ts_recent - 1, Flags.ACK | Flags.PSH, b"ok"))  # TCP_PAWS_WINDOW = 1
    assert bytes(s.recv_buf) == b"ok"
    s.segment_arrives(1.1, _ts_seg(s, s.ts_recent - 1000, Flags.RST))
    assert s.state is State.CLOSED and s.take_error() == "ECONNRESET"


def test_paws_off_without_timestamps() -> None:
    from tcpkit.engine.connection import handshake_pair

    _c, s = handshake_pair(0.0, "rfc9293")  # no timestamps negotiated
    assert not s.ts_ok
    s.segment_arrives(1.0, _ts_seg(s, 1, Flags.ACK | Flags.PSH, b"taken"))
    assert bytes(s.recv_buf) == b"taken" and s.counters.get("PAWSEstab", 0) == 0


def test_ack_of_a_bare_syn_ack_stops_the_retransmission_timer() -> None:
    """The SYN-ACK's RTO must not outlive the handshake (RFC 6298 §5.2: all data acked -> timer off).

    Before the fix the stale timer fired at 1.01 s in a simultaneous close and resent the FIN.
    """
    from tcpkit.drivers.scenarios import run_scenario
    from tcpkit.engine.trace import Kind

    trace = run_scenario("simultaneous_close", seed=1)
    server_fins = [
        r for r in trace if r.host == "server" and r.kind is Kind.SEND and r.segment is not None and r.segment.fin
    ]
    assert len(server_fins) == 1
    fired = [r for r in trace if r.host == "server" and r.kind is Kind.TIMER_FIRE and r.timer == "rexmt"]
    assert fired == []


def test_a_device_without_tso_shows_the_super_segment_cut_at_the_mss() -> None:
    # Linux builds one 10-MSS segment; software GSO cuts it before the tap, PSH on the last piece only
    from tcpkit.engine.connection import handshake_pair
    from tcpkit.engine.profiles import get_profile
    from tcpkit.engine.segment import Flags

    for tso, want in ((1, [5000]), (0, [1448, 1448, 1448, 656])):
        a, _b = handshake_pair(0.0, get_profile("linux", tso=tso))
        a.outbox.clear()
        a.send(1.0, b"x" * 5000)
        data = [s for s in a.outbox if s.length]
        assert [s.length for s in data] == want
        assert [bool(s.flags & Flags.PSH) for s in data] == [False] * (len(want) - 1) + [True]
        assert all(s.seq == data[0].seq + 1448 * k for k, s in enumerate(data))
