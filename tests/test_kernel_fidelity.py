"""What real kernels do, pinned from the facts (issue 12, Linux items 2 to 7), each with its source.

Numbers come from the kernel functions named in each test (net/ipv4/tcp_timer.c, tcp_output.c,
tcp_input.c, tcp_minisocks.c, tcp.c) and from the real Linux 6.18 loopback runs in issue 12.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_helpers import CLIENT_ADDR, SERVER_ADDR, Link, conn_of, connect_pair, errno_of, inject, make_pair

from tcpkit.drivers.packetdrill import run_file
from tcpkit.engine.errors import TcpError
from tcpkit.engine.events import CallMade, Note, SegmentSent, StateChanged, TimerFired
from tcpkit.engine.segment import Flags
from tcpkit.engine.states import Event, State
from tcpkit.engine.timers import model_timeout
from tcpkit.engine.trace import Trace

S = State


def client_sends(link: Link, since: float = 0.0) -> list[tuple[float, str]]:
    return [
        (round(r.time, 4), r.segment.notation(relative_to=r.seq_base))
        for r in link.records
        if isinstance(r, SegmentSent) and r.host == "client" and r.time >= since and r.seq_base is not None
    ]


def closed_at(link: Link, host: str) -> list[tuple[float, Event]]:
    changes = [r for r in link.records if isinstance(r, StateChanged) and r.host == host]
    return [(r.time, r.event) for r in changes if r.dst is S.CLOSED]


# ---------------------------------------------------------------------- item 2: give up by time


def test_connect_with_two_syn_retries_gives_up_by_time_at_7_s() -> None:
    # tcp_write_timeout(): SYN_SENT expires after syn_retries + syn_linear_timeouts retransmissions OR when
    # retransmits_timed_out(sk, syn_retries) says tcp_model_timeout(2, TCP_TIMEOUT_INIT) = (2^3 - 1) x 1 s = 7 s
    # have passed.  Issue 12: SYNs 1 s apart (linear timeouts), ETIMEDOUT at about 7.1 s.
    link = make_pair("linux", drop=lambda d, t: True, tcp_syn_retries=2)
    fd = link.a.socket(0.0)
    assert errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80)) == "EINPROGRESS"
    link.run(30)
    syns = [t for t, text in client_sends(link) if text.startswith("S ")]
    assert syns == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert closed_at(link, "client") == [(pytest.approx(7.0), Event.TIMEOUT_RETRIES)]
    assert model_timeout(2, 1.0, 120.0) == 7.0
    assert link.a.getsockopt(fd, "SO_ERROR") == "ETIMEDOUT"
    assert link.a.counters["AttemptFails"] == 1 and link.a.counters["TCPSynRetrans"] == 5


def test_connect_default_still_gives_up_at_131_s() -> None:
    # 6 retries + 4 linear timeouts = 10 retransmissions: the count ends it at 131 s (the time, 127 s, first
    # elapses between two timer runs and is only looked at when the timer fires)
    link = make_pair("linux", drop=lambda d, t: True)
    fd = link.a.socket(0.0)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
    link.run(200)
    assert closed_at(link, "client") == [(pytest.approx(131.0), Event.TIMEOUT_RETRIES)]


def _silent_peer(delay: float, **knobs: object) -> tuple[Link, int, float]:
    link = make_pair("linux", delay=delay, **knobs)
    c, _lfd, _s = connect_pair(link)
    link.drop = lambda d, t: d.src == SERVER_ADDR  # the server's answers never arrive any more
    t0 = link.now
    link.a.send(t0, c, b"q" * 100)
    return link, c, t0


def test_tcp_retries2_is_924_6_seconds_from_the_first_transmission() -> None:
    # tcp_retries2 = 15 -> tcp_model_timeout(15, TCP_RTO_MIN = 200 ms) = 1023 x 0.2 + 6 x 120 = 924.6 s
    assert model_timeout(15, 0.2, 120.0) == pytest.approx(924.6)
    link, c, t0 = _silent_peer(0.001)
    link.run(t0 + 2000)
    ((t, ev),) = closed_at(link, "client")
    assert ev is Event.TIMEOUT_RETRIES and 924.6 <= t - t0 < 925.0
    data = [x for x, text in client_sends(link, t0) if "(100)" in text]
    assert len(data) == 1 + 1 + 15  # the first transmission, a tail loss probe, 15 RTO retransmissions
    assert link.a.getsockopt(c, "SO_ERROR") == "ETIMEDOUT"


def test_tcp_retries2_is_a_time_not_a_count() -> None:
    # the same 924.6 s with a 0.5 s one-way delay (RTO about 1.5 s): fewer retransmissions fit
    link, _c, t0 = _silent_peer(0.5)
    link.run(t0 + 2000)
    ((t, _ev),) = closed_at(link, "client")
    assert 924.6 <= t - t0 < 924.6 + 120.0
    retrans = [x for x, text in client_sends(link, t0) if "(100)" in text][1:]
    assert len(retrans) < 15


def test_user_timeout_bounds_keepalive_probing() -> None:
    # tcp_keepalive_timer(): with TCP_USER_TIMEOUT set, the connection dies when it has been idle that long
    # and at least one probe went unanswered -- not after TCP_KEEPCNT probes (10 + 9 x 5 = 55 s)
    link = make_pair("linux")
    c, _lfd, _s = connect_pair(link)
    for name, v in (
        ("TCP_KEEPIDLE", 10),
        ("TCP_KEEPINTVL", 5),
        ("TCP_KEEPCNT", 9),
        ("TCP_USER_TIMEOUT", 12000),
        ("SO_KEEPALIVE", 1),
    ):
        link.a.setsockopt(link.now, c, name, v)
    link.drop = lambda d, t: d.src == SERVER_ADDR
    t0 = link.now
    link.run(t0 + 100)
    sent = [(round(t - t0, 3), text[0]) for t, text in client_sends(link, t0)]
    assert sent == [(10.0, "."), (15.0, "R")]  # one probe; at 15 s idle >= 12 s: reset
    ((t, ev),) = closed_at(link, "client")
    assert ev is Event.TIMEOUT_KEEPALIVE and round(t - t0, 3) == 15.0
    assert link.a.getsockopt(c, "SO_ERROR") == "ETIMEDOUT"


def test_orphaned_socket_gives_up_after_tcp_orphan_retries_worth_of_time() -> None:
    # tcp_orphan_retries = 0 means 8 while the RTO is below TCP_RTO_MAX (tcp_orphan_retries()):
    # tcp_model_timeout(8, 200 ms) = 511 x 0.2 = 102.2 s
    link, c, t0 = _silent_peer(0.001)
    link.a.close(t0, c)
    link.run(t0 + 400)
    ((t, ev),) = closed_at(link, "client")
    assert ev is Event.TIMEOUT_RETRIES and 102.2 <= t - t0 < 103.0


def _zero_window(close: bool) -> tuple[Link, int, float]:
    link = make_pair("linux", delay=0.001)
    lfd = link.b.socket(0.0)
    link.b.setsockopt(0.0, lfd, "SO_RCVBUF", 2000)  # the server never reads: its window closes
    link.b.bind(0.0, lfd, 80)
    link.b.listen(0.0, lfd, 8)
    c = link.a.socket(0.0)
    errno_of(lambda: link.a.connect(0.0, c, SERVER_ADDR, 80))
    link.settle()
    link.a.send(link.now, c, b"x" * 20000)
    link.run_for(2)
    cconn = conn_of(link, "a", c)
    assert cconn.snd_wnd == 0 and "persist" in cconn.timers and cconn.snd_una == cconn.snd_max
    t0 = link.now
    if close:
        link.a.close(t0, c)
        assert cconn.state is S.FIN_WAIT_1  # the FIN waits behind the data
    return link, c, t0


def test_fin_wait_1_stuck_on_a_zero_window_ends_by_the_orphan_rule() -> None:
    # tcp_probe_timer(): the peer answers every probe (probes_out back to 0), but an orphan dies once the
    # backed-off interval reaches TCP_RTO_MAX ("not alive") and icsk_backoff >= tcp_orphan_retries
    link, c, t0 = _zero_window(close=True)
    link.run(t0 + 2000)
    ((t, ev),) = closed_at(link, "client")
    fires = [r.time for r in link.records if isinstance(r, TimerFired) and r.host == "client" and r.timer == "persist"]
    gaps = [round(b - a, 3) for a, b in zip(fires, fires[1:], strict=False)]
    # RTO 200 ms doubled per probe (tcp_probe0_when), capped at TCP_RTO_MAX: 0.4 ... 102.4, then 120;
    # at that fire 0.2 s x 2^10 >= 120 s: not alive, and icsk_backoff >= tcp_orphan_retries(alive=0) = 0
    assert gaps == [0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 51.2, 102.4, 120.0]
    assert ev is Event.TIMEOUT_RETRIES and t == fires[-1]
    assert link.a.counters["EstabResets"] == 0  # FIN_WAIT_1 -> CLOSED is not an established reset


def test_zero_window_answered_keeps_an_open_connection_alive() -> None:
    # RFC 1122 §4.2.2.17: while the receiver answers the probes the sender must keep the connection open
    link, c, t0 = _zero_window(close=False)
    link.run(t0 + 2000)
    assert link.a.state(c) is S.ESTABLISHED


# ---------------------------------------------------------------------- item 3: tail loss probe


def test_an_unacknowledged_fin_is_probed_then_backed_off() -> None:
    # RFC 8985 §7 / tcp_schedule_loss_probe(): the probe goes at min(PTO, RTO) and does not back the RTO off;
    # issue 12 on loopback: +0.21 (probe), +0.41, +0.85, +1.69 s with an RTO of about 0.21 s
    link = make_pair("linux", delay=0.0001)
    c, _lfd, _s = connect_pair(link)
    conn = conn_of(link, "a", c)
    link.drop = lambda d, t: d.src == SERVER_ADDR
    t0 = link.now
    link.a.close(t0, c)
    link.run(t0 + 3)
    fins = [round(t - t0, 3) for t, text in client_sends(link, t0) if text.startswith("F")]
    assert conn.rtt.rto == pytest.approx(0.2)  # RTO_MIN on a loopback-like link
    assert fins == [0.0, 0.2, 0.4, 0.8, 1.6]
    assert link.a.counters["TCPLossProbes"] == 1


def test_no_probe_without_sack() -> None:
    link = make_pair("linux", delay=0.0001, tcp_sack=0)
    c, _lfd, _s = connect_pair(link)
    link.drop = lambda d, t: d.src == SERVER_ADDR
    t0 = link.now
    link.a.close(t0, c)
    link.run(t0 + 3)
    fins = [round(t - t0, 3) for t, text in client_sends(link, t0) if text.startswith("F")]
    assert fins == [0.0, 0.2, 0.6, 1.4, 3.0] and link.a.counters["TCPLossProbes"] == 0


# ---------------------------------------------------------------------- item 4: simultaneous open


@pytest.mark.parametrize("profile", ["linux", "freebsd"])
def test_simultaneous_open_answers_the_peers_synack_with_an_ack(profile: str) -> None:
    link = make_pair(profile)
    fa, fb = link.a.socket(0.0), link.b.socket(0.0)
    link.a.bind(0.0, fa, 1000)
    link.b.bind(0.0, fb, 2000)
    errno_of(lambda: link.a.connect(0.0, fa, SERVER_ADDR, 2000))
    errno_of(lambda: link.b.connect(0.0, fb, CLIENT_ADDR, 1000))
    link.settle()
    assert link.a.state(fa) is S.ESTABLISHED and link.b.state(fb) is S.ESTABLISHED
    texts = [text for _t, text in client_sends(link)]
    assert texts[:2][0].startswith("S ") and texts[1].startswith("S. ")
    assert texts[2].startswith(". 1:1(0) ack 1 ")  # issue 12: ". 1:1(0) ack 1"


# ---------------------------------------------------------------------- item 5: a refused connect keeps the socket


def test_a_refused_connect_keeps_the_socket() -> None:
    link = make_pair("linux")
    fd = link.a.socket(0.0)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 81))  # nobody listens: RST
    link.settle()
    assert fd in link.a.fds and link.a.state(fd) is S.CLOSED
    assert link.a.getsockopt(fd, "SO_ERROR") == "ECONNREFUSED"
    assert link.a.counters["AttemptFails"] == 1
    assert errno_of(lambda: link.a.connect(link.now, fd, SERVER_ADDR, 81)) == "EINPROGRESS"
    assert [text for _t, text in client_sends(link)][-1].startswith("S ")  # a new SYN
    link.settle()
    link.a.close(link.now, fd)
    calls = [r for r in link.records if isinstance(r, CallMade) and r.host == "client"]
    assert calls[-1].call == f"close({fd})" and calls[-1].result == "0"


def test_nonblocking_connect_reports_a_refusal_once_then_reconnects() -> None:
    # __inet_stream_connect(): the next connect() reports the failure (the pending error, or ECONNABORTED
    # when SO_ERROR already took it) and leaves the socket unconnected; the one after sends a new SYN
    link = make_pair("linux")
    fd = link.a.socket(0.0)
    link.a.set_nonblocking(fd)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 81))
    link.settle()
    assert link.a.getsockopt(fd, "SO_ERROR") == "ECONNREFUSED"
    assert errno_of(lambda: link.a.connect(link.now, fd, SERVER_ADDR, 81)) == "ECONNABORTED"
    assert errno_of(lambda: link.a.connect(link.now, fd, SERVER_ADDR, 81)) == "EINPROGRESS"


# ---------------------------------------------------------------------- item 7: counters


def test_passive_opens_count_when_the_handshake_completes() -> None:
    link = make_pair("linux")
    lfd = link.b.socket(0.0)
    link.b.bind(0.0, lfd, 80)
    link.b.listen(0.0, lfd, 8)
    fd = link.a.socket(0.0)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
    link.settle()
    assert link.b.counters["PassiveOpens"] == 1  # tcp_create_openreq_child(), before any accept()
    link.b.accept(link.now, lfd)
    assert link.b.counters["PassiveOpens"] == 1 and link.a.counters["ActiveOpens"] == 1


def test_passive_opens_not_counted_when_the_final_ack_meets_a_full_accept_queue() -> None:
    link = make_pair("linux")
    lfd = link.b.socket(0.0)
    link.b.bind(0.0, lfd, 80)
    link.b.listen(0.0, lfd, 0)  # backlog 0: one connection fits (sk_acceptq_is_full: >)
    fds = [link.a.socket(0.0) for _ in range(2)]
    for fd in fds:
        errno_of(lambda fd=fd: link.a.connect(link.now, fd, SERVER_ADDR, 80))
        link.settle()
    assert link.b.counters["ListenOverflows"] >= 1 and link.b.counters["PassiveOpens"] == 1


def test_estab_resets_once_per_side() -> None:
    link = make_pair("linux")
    c, _lfd, _s = connect_pair(link)
    link.a.abort(link.now, c)  # RST: both sides leave ESTABLISHED for CLOSED
    link.settle()
    assert link.a.counters["EstabResets"] == 1 and link.b.counters["EstabResets"] == 1


def test_embryonic_rsts_and_attempt_fails_for_a_reset_request() -> None:
    # tcp_check_req(): an in-window RST for a request -> TCP_MIB_ATTEMPTFAILS and embryonic_reset
    # (LINUX_MIB_EMBRYONICRSTS)
    link = make_pair("linux", drop=lambda d, t: d.src == CLIENT_ADDR and d.segment.flags == Flags.ACK)
    lfd = link.b.socket(0.0)
    link.b.bind(0.0, lfd, 80)
    link.b.listen(0.0, lfd, 8)
    fd = link.a.socket(0.0)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
    link.settle()  # the client is ESTABLISHED, its ACK lost: the server holds a request
    link.drop = None
    link.a.abort(link.now, fd)  # the client's RST reaches the request
    link.settle()
    assert link.b.counters["EmbryonicRsts"] == 1 and link.b.counters["AttemptFails"] == 1


def test_syn_retransmissions_count_tcp_syn_retrans() -> None:
    link = make_pair("linux", drop=lambda d, t: d.src == SERVER_ADDR)
    lfd = link.b.socket(0.0)
    link.b.bind(0.0, lfd, 80)
    link.b.listen(0.0, lfd, 8)
    fd = link.a.socket(0.0)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
    link.run(3.5)  # the client resends its SYN at 1, 2 and 3 s; the server its SYN-ACK at 1 and 3 s
    assert link.a.counters["TCPSynRetrans"] == 3
    # the server answers each retransmitted SYN with its SYN-ACK again (tcp_rtx_synack counts those too)
    assert link.b.counters["TCPSynRetrans"] == 3 + 2


def test_time_wait_overflow_closes_at_once() -> None:
    link = make_pair("linux", tcp_max_tw_buckets=1)
    for _ in range(2):
        c, lfd, s = connect_pair(link, port=80 + _)
        link.a.close(link.now, c)
        link.settle()
        link.b.close(link.now, s)
        link.settle()
    assert [i.state for i in link.a.sockets()].count(S.TIME_WAIT) == 1
    assert link.a.counters["TCPTimeWaitOverflow"] == 1 and link.a.tw_buckets.used == 1


# ---------------------------------------------------------------------- saved traces of the old table


def test_an_old_fin_ack_row_reads_back_as_two_rows() -> None:
    old = (
        '{"schema": "tcpkit-trace", "version": 2, "meta": {}, "records": [{"kind": "state", "t": 1.5, '
        '"host": "c", "conn": ["a", 1, "b", 2], "src": "FIN_WAIT_1", "dst": "TIME_WAIT", '
        '"event": "rcv FIN+ACK of FIN", "condition": ""}]}'
    )
    tr = Trace.from_json(old)
    assert [(r.src, r.dst) for r in tr.state_changes()] == [(S.FIN_WAIT_1, S.FIN_WAIT_2), (S.FIN_WAIT_2, S.TIME_WAIT)]


def test_errors_name_their_argument_not_a_traceback() -> None:
    link = make_pair("linux")
    with pytest.raises(TcpError):
        link.a.close(0.0, 99)


# ---------------------------------------------------------------------- the same facts as packetdrill scripts

LINUX_SCRIPTS = sorted((Path(__file__).resolve().parent / "data" / "linux-issue12").glob("*.pkt"))


@pytest.mark.parametrize("path", LINUX_SCRIPTS, ids=lambda p: p.name)
def test_linux_issue12_script(path: Path) -> None:
    r = run_file(path, profile="linux")
    assert r.passed and not r.skipped, r.summary()


# ---------------------------------------------------------------------- issue 16 topics 1-2: what the engine shows


def _cookie_pair(**knobs: object) -> tuple[Link, int, int]:
    link = make_pair("linux", tcp_syncookies=2, **knobs)  # 2: every SYN is answered with a cookie
    c, _lfd, s = connect_pair(link)
    return link, c, s


def test_a_syn_cookie_keeps_window_scale_and_sack_only_with_timestamps() -> None:
    # net/ipv4/syncookies.c: cookie_init_timestamp() puts the client's wscale and SACK in the low 6 bits of the
    # SYN-ACK's TSval; cookie_timestamp_decode() reads them back from the ACK's TSecr
    link, _c, s = _cookie_pair()
    child = conn_of(link, "b", s)
    assert link.b.counters["SyncookiesSent"] == 1 and link.b.counters["SyncookiesRecv"] == 1
    assert child.ws_ok and child.sack_ok and child.ts_ok and child.snd_wscale == 10
    notes = [r.text for r in link.records if isinstance(r, Note) and r.host == "server"]
    assert any(n.startswith("request rebuilt from a SYN cookie: kept MSS 1460") and "timestamps" in n for n in notes)

    link, _c, s = _cookie_pair(tcp_timestamps=0)
    child = conn_of(link, "b", s)
    assert not child.ws_ok and not child.sack_ok and child.snd_wscale == 0
    notes = [r.text for r in link.records if isinstance(r, Note) and r.host == "server"]
    assert any("lost: window scale and SACK" in n for n in notes)


def test_the_handshake_says_what_it_negotiated() -> None:
    link = make_pair("linux", server_profile="rfc9293")  # a Linux client, a peer without options but the MSS
    c, _lfd, _s = connect_pair(link)
    (note,) = [r.text for r in link.records if isinstance(r, Note) and r.host == "client" and "negotiated" in r.text]
    assert note == (
        "negotiated: MSS ours 1460, peer's 1460 -> segments of 1460 bytes; no window scale; SACK off; timestamps off"
    )
    link = make_pair("linux")
    connect_pair(link)
    (note,) = [r.text for r in link.records if isinstance(r, Note) and r.host == "client" and "negotiated" in r.text]
    assert "segments of 1448 bytes (12 for timestamps)" in note and "we shift by 10, the peer by 10" in note


def test_rst_generation_follows_rfc9293_3_5_2() -> None:
    # group 1: no connection -> RST (<SEQ=SEG.ACK> or <SEQ=0><ACK=SEG.SEQ+SEG.LEN>)
    link = make_pair("linux")
    fd = link.a.socket(0.0)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 9))
    link.settle()
    server_sent = [r.segment for r in link.records if isinstance(r, SegmentSent) and r.host == "server"]
    assert [s.flags for s in server_sent] == [Flags.RST | Flags.ACK] and server_sent[0].seq == 0
    # group 2: a non-synchronized state and an ACK of something not yet sent -> <SEQ=SEG.ACK><CTL=RST>
    link = make_pair("linux", drop=lambda d, t: True)
    fd = link.a.socket(0.0)
    errno_of(lambda: link.a.connect(0.0, fd, SERVER_ADDR, 80))
    conn = conn_of(link, "a", fd)
    bogus = conn.snd_nxt + 1000
    link.drop = None
    inject(link, "a", fd, "S.", seq=5, ack=bogus)
    out = [d.segment for _t, _n, d in link.in_flight if d.src == CLIENT_ADDR]
    assert out[-1].flags == Flags.RST and out[-1].seq == bogus & 0xFFFFFFFF
    assert link.a.state(fd) is S.SYN_SENT
    # group 3: synchronized, unacceptable segment -> an empty ACK, never an RST (and RFC 5961 challenge ACKs)
    link = make_pair("linux")
    c, _lfd, _s = connect_pair(link)
    cc = conn_of(link, "a", c)
    inject(link, "a", c, ".", seq=cc.rcv_nxt + 10_000_000)  # far outside the window
    inject(link, "a", c, "R", seq=cc.rcv_nxt + 1)  # in the window, not RCV.NXT: challenge ACK (RFC 5961 §3.2)
    link.run_for(1.0)
    inject(link, "a", c, "S", seq=cc.rcv_nxt + 5)  # SYN in a synchronized state: challenge ACK (RFC 5961 §4)
    sent = [r.segment for r in link.records if isinstance(r, SegmentSent) and r.host == "client" and r.time > 0.1]
    assert sent and all(s.flags == Flags.ACK for s in sent) and link.a.state(c) is S.ESTABLISHED
