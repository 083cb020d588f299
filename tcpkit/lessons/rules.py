"""The rules that compute a question's answer from the engine, when the student asks for it.

A question in the bank either states its answer (a concept: "why is the third
segment needed?") or names a rule here (a fact of the engine: a state, a time,
a count).  A rule takes a random generator (``None``: the numbers the notebook
text uses) and returns :class:`Given`: the numbers to put in the prompt, and a
function that runs the engine and returns the answer.  Nothing runs until the
answer is needed, so a displayed question holds no answer, and a seed gives
the same question with new numbers.

Answers are option keys (choice questions), numbers, :class:`State` members or
short strings.

Examples
--------
>>> g = compute("accept-queue-fit", None)
>>> g.values
{'backlog': 4}
>>> g.answer()
5
>>> compute("accept-queue-fit", random.Random(3)).values["backlog"] != 4
True
>>> compute("listen-then", None).answer()
<State.LISTEN: 'LISTEN'>
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tcpkit.drivers.flood import simulate_flood
from tcpkit.drivers.links import DropNth
from tcpkit.drivers.scenarios import run_scenario
from tcpkit.drivers.sim import Network
from tcpkit.engine import syncookies
from tcpkit.engine.errors import IllegalTransition, ParameterError, TcpError
from tcpkit.engine.isn import ClockIsn
from tcpkit.engine.profiles import get_profile
from tcpkit.engine.segment import Flags, format_flags, parse_segment
from tcpkit.engine.stack import Stack
from tcpkit.engine.states import STATES, SYNCHRONIZED, TRANSITIONS, Event, State, lookup
from tcpkit.engine.timers import syn_retransmit_times
from tcpkit.engine.trace import CounterChanged, SegmentReceived, SegmentSent, StateChanged

from . import closing, demos
from .runs import build_run, connected_pair

__all__ = ["Given", "RULES", "compute", "rule"]

Rng = random.Random | None


@dataclass(frozen=True)
class Given:
    """What a rule gives: prompt values now, the answer later (``answer()`` runs the engine)."""

    values: dict[str, Any] = field(default_factory=dict)
    answer: Callable[[], Any] = field(default=lambda: None, repr=False)


#: rule name -> function(rng or None) -> Given
RULES: dict[str, Callable[[Rng], Given]] = {}


def rule(name: str) -> Callable[[Callable[[Rng], Given]], Callable[[Rng], Given]]:
    def deco(fn: Callable[[Rng], Given]) -> Callable[[Rng], Given]:
        RULES[name] = fn
        return fn

    return deco


def compute(name: str, rng: Rng) -> Given:
    """Apply rule ``name`` (``rng`` = None: the notebook's own numbers)."""
    if name not in RULES:
        raise ParameterError("rule", name, "a rule of tcpkit.lessons.rules: " + ", ".join(sorted(RULES)))
    return RULES[name](rng)


def _seed(rng: Rng, default: int = 1) -> int:
    return default if rng is None else rng.randrange(2, 10_000)


def _fixed_isn(value: int) -> Callable[[float, Any], int]:
    return lambda _now, _conn: value


# ------------------------------------------------------------------------------------------- 00: the table
@rule("state-count")
def _state_count(rng: Rng) -> Given:
    return Given({}, lambda: len(STATES))


@rule("synchronized-count")
def _synchronized_count(rng: Rng) -> Given:
    return Given({}, lambda: len(SYNCHRONIZED))


@rule("into-time-wait")
def _into_time_wait(rng: Rng) -> Given:
    def answer() -> set[str]:
        return {t.src.value for t in TRANSITIONS if t.dst is State.TIME_WAIT and t.src is not State.TIME_WAIT}

    return Given({}, answer)


def _table_outcome(state: State, event: Event) -> str:
    try:
        return lookup(state, event).dst.value
    except IllegalTransition:
        return "refused"


@rule("listen-on-fin")
def _listen_on_fin(rng: Rng) -> Given:
    return Given({}, lambda: _table_outcome(State.LISTEN, Event.RCV_FIN))


@rule("listen-on-syn")
def _listen_on_syn(rng: Rng) -> Given:
    return Given({}, lambda: lookup(State.LISTEN, Event.RCV_SYN).dst)


@rule("established-on-fin")
def _established_on_fin(rng: Rng) -> Given:
    return Given({}, lambda: lookup(State.ESTABLISHED, Event.RCV_FIN).dst)


@rule("listen-then")
def _listen_then(rng: Rng) -> Given:
    def answer() -> State:
        stack = Stack("10.0.0.2", profile="linux")
        fd = stack.socket(0.0)
        stack.bind(0.0, fd, 80)
        stack.listen(0.0, fd, 8)
        return stack.state(fd)

    return Given({}, answer)


# ------------------------------------------------------------------------------------------- 01: handshake
@rule("synack-ack")
def _synack_ack(rng: Rng) -> Given:
    run = build_run("handshake", _seed(rng))
    trace = run.finish()
    syn = trace.of(SegmentSent, "client")[0].segment

    def answer() -> int:
        return next(r.segment.ack for r in trace.of(SegmentSent, "server") if r.segment.syn)

    return Given({"isn": syn.seq}, answer)


@rule("final-ack")
def _final_ack(rng: Rng) -> Given:
    isn = 4_000_000_000 if rng is None else rng.choice([rng.randrange(2**32), 2**32 - 1 - rng.randrange(3)])

    def answer() -> int:
        net = Network(seed=1)
        client = net.add_host("client", "10.0.0.1")
        server = net.add_host("server", "10.0.0.2", isn=_fixed_isn(isn))
        listener = server.socket()
        listener.bind(80)
        listener.listen(8)
        client.socket().connect("10.0.0.2", 80)
        net.run(until=1)
        return next(r.segment.ack for r in net.of(SegmentSent, "client") if r.segment.flags == Flags.ACK)

    return Given({"isn": isn}, answer)


@rule("simultaneous-open-segments")
def _simultaneous_open_segments(rng: Rng) -> Given:
    def answer() -> int:
        t = run_scenario("simultaneous_open", seed=1)
        done = max(r.time for r in t.of(StateChanged) if r.dst is State.ESTABLISHED)
        return sum(1 for r in t.of(SegmentSent) if r.time <= done)

    return Given({}, answer)


@rule("simultaneous-open-state")
def _simultaneous_open_state(rng: Rng) -> Given:
    def answer() -> State:
        path = run_scenario("simultaneous_open", seed=1).meta["result"]["client_path"]
        return State(path[path.index("SYN_SENT") + 1])

    return Given({}, answer)


@rule("lost-synack-first-retransmitter")
def _lost_synack(rng: Rng) -> Given:
    def answer() -> str:
        net = Network(seed=2)
        client, server = net.add_host("client", "10.0.0.1"), net.add_host("server", "10.0.0.2")
        net.link("server", "client", rules=[DropNth(1)])
        listener = server.socket()
        listener.bind(80)
        listener.listen(8)
        client.socket().connect("10.0.0.2", 80)
        net.run(until=5)
        seen: dict[str, int] = {}
        for r in net.of(SegmentSent):
            seen[r.host] = seen.get(r.host, 0) + 1
            if seen[r.host] == 2:  # the host's second segment is its first retransmission
                return r.host
        return "neither"

    return Given({}, answer)


@rule("third-ack-lost")
def _third_ack_lost(rng: Rng) -> Given:
    def answer() -> str:
        net = Network(seed=1)
        client, server = net.add_host("client", "10.0.0.1"), net.add_host("server", "10.0.0.2")
        net.link("client", "server", rules=[DropNth(2)])
        listener = server.socket()
        listener.bind(80)
        listener.listen(8)
        sock = client.socket()
        sock.connect("10.0.0.2", 80)
        net.at(0.3, sock.send, b"GET / HTTP/1.0\r\n\r\n")
        net.run(until=1)
        if any(r.segment.rst for r in net.of(SegmentSent, "server")):
            return "rst"
        try:
            conn = listener.accept()
        except TcpError:
            return "dropped"
        return "delivered" if conn.state is State.ESTABLISHED and conn.recv(100).startswith(b"GET") else "dropped"

    return Given({}, answer)


@rule("segment-size")
def _segment_size(rng: Rng) -> Given:
    return Given({}, lambda: demos.handshake_options().segment_size["client"])


@rule("options-without-ts")
def _options_without_ts(rng: Rng) -> Given:
    return Given({}, lambda: demos.handshake_options(client={"tcp_timestamps": 0, "tcp_sack": 0}).used("client"))


@rule("syn-gaps")
def _syn_gaps(rng: Rng) -> Given:
    def answer() -> int:
        p = get_profile("linux").params
        sends = [0.0, *syn_retransmit_times(p)]
        return sum(1 for a, b in zip(sends, sends[1:], strict=False) if abs(b - a - p.rto_initial) < 1e-9)

    return Given({}, answer)


@rule("refused-errno")
def _refused_errno(rng: Rng) -> Given:
    return Given({}, lambda: run_scenario("connection_refused", seed=1).meta["result"]["client_error"])


# ------------------------------------------------------------------------------------------- 02: ISNs
@rule("fixed-isn-old-data")
def _fixed_isn_old_data(rng: Rng) -> Given:
    def answer() -> str:
        r = run_scenario("old_duplicate", seed=1, isn="fixed", timestamps=0).meta["result"]
        return "accepted" if r["old_data_accepted"] else ("dropped" if r["connections"] == 2 else "reset")

    return Given({}, answer)


@rule("isn-clock-wrap")
def _isn_clock_wrap(rng: Rng) -> Given:
    tick_us = 4 if rng is None else rng.choice([1, 2, 8, 16])
    return Given({"tick": tick_us}, lambda: ClockIsn(tick=tick_us * 1e-6).period / 3600)


@rule("clock-guess")
def _clock_guess(rng: Rng) -> Given:
    def answer() -> str:
        off = run_scenario("isn_prediction", seed=1, isn="clock").meta["result"]["prediction_off_by"]
        off = min(off, 2**32 - off)
        return "tick" if off <= 2 else ("million" if off <= 2_000_000 else "random")

    return Given({}, answer)


@rule("half-open-data")
def _half_open_data(rng: Rng) -> Given:
    def answer() -> str:
        r = demos.half_open("server")
        if r["server_error"] == "ECONNRESET":
            return "reset"
        return "retransmit" if r["server_state"] != "ESTABLISHED" or not r["segments"] else "acked"

    return Given({}, answer)


@rule("rst-out-of-window")
def _rst_out_of_window(rng: Rng) -> Given:
    def answer() -> str:
        flags = demos.reset_cases().rows[2][2]
        return {"R": "rst", "R.": "rst", ".": "ack"}.get(flags, "nothing")

    return Given({}, answer)


@rule("blind-rst-linux")
def _blind_rst_linux(rng: Rng) -> Given:
    def answer() -> str:
        r = run_scenario("blind_rst", seed=1, profile="linux", rfc5961=1, offset=1000).meta["result"]
        if not r["connection_survived"]:
            return "reset"
        return "challenge" if r["challenge_acks"] else "ignore"

    return Given({}, answer)


# ------------------------------------------------------------------------------------------- 03: queues
def _established_behind(backlog: int, clients: int) -> int:
    net = Network(seed=1)
    server = net.add_host("server", "10.0.0.2")
    listener = server.socket()
    listener.bind(80)
    listener.listen(backlog)
    socks = [net.add_host(f"c{i}", f"10.0.1.{i}").socket() for i in range(1, clients + 1)]
    for i, sock in enumerate(socks):
        net.at(0.01 * i, sock.connect, "10.0.0.2", 80)
    net.run(until=3)
    return sum(1 for s in server.stack.sockets() if s.state is State.ESTABLISHED)


@rule("accept-queue-fit")
def _accept_queue_fit(rng: Rng) -> Given:
    backlog = 4 if rng is None else rng.randint(2, 12)
    return Given({"backlog": backlog}, lambda: _established_behind(backlog, backlog + 4))


@rule("accept-queue-fit-128")
def _accept_queue_fit_128(rng: Rng) -> Given:
    return Given({"backlog": 128}, lambda: _established_behind(128, 132))


@rule("synack-give-up")
def _synack_give_up(rng: Rng) -> Given:
    retries = 5 if rng is None else rng.randint(1, 4)  # the scenario's client speaks at 70 s: keep drops before

    def answer() -> float:
        r = run_scenario("lost_handshake_ack", seed=1, synack_retries=retries).meta["result"]
        return float(r["request_dropped_after"])

    return Given({"retries": retries}, answer)


@rule("pruned-request-lifetime")
def _pruned_request(rng: Rng) -> Given:
    # reqsk_timer_handler() lowers the retry limit to 2 when at most an eighth of the queue is young
    def answer() -> float:
        r = run_scenario("lost_handshake_ack", seed=1, synack_retries=2).meta["result"]
        return float(r["request_dropped_after"])

    return Given({}, answer)


@rule("syn-queue-cap")
def _syn_queue_cap(rng: Rng) -> Given:
    def answer() -> str:
        r = demos.syn_queue_probe(4, 8, tcp_syncookies=0)
        if r["TCPReqQFullDrop"]:
            return "dropped"
        return "cookies" if r["SyncookiesSent"] else "queued"

    return Given({}, answer)


@rule("stray-ack-counter")
def _stray_ack_counter(rng: Rng) -> Given:
    def answer() -> str:
        t = run_scenario("lost_handshake_ack", seed=1)
        rst = next((r.time for r in t.of(SegmentSent, "server") if r.segment.rst), None)
        names = {r.name for r in t.of(CounterChanged, "server") if rst is not None and r.time == rst}
        return "OutRsts" if "OutRsts" in names else ("ListenOverflows" if "ListenOverflows" in names else "none")

    return Given({}, answer)


# ------------------------------------------------------------------------------------------- 03b: attacks
@rule("scan-app-sees")
def _scan_app_sees(rng: Rng) -> Given:
    def answer() -> str:
        return "nothing" if demos.syn_scan(range(20, 30), open_ports=(22, 25)).connections_accepted == 0 else "open"

    return Given({}, answer)


@rule("scan-closed-verdict")
def _scan_closed_verdict(rng: Rng) -> Given:
    return Given({}, lambda: demos.syn_scan([81], open_ports=[80]).rows[0][2])


@rule("cookie-options-no-ts")
def _cookie_options_no_ts(rng: Rng) -> Given:
    return Given(
        {}, lambda: demos.handshake_options(server={"tcp_syncookies": 2}, client={"tcp_timestamps": 0}).used("server")
    )


@rule("cookie-silent-client")
def _cookie_silent_client(rng: Rng) -> Given:
    def answer() -> str:
        r = demos.cookie_stall(1, client_speaks=False)
        if r["accepted"] == r["clients_established"]:
            return "all"
        return "none" if r["accepted"] == 0 else "queue"

    return Given({}, answer)


@rule("flood-share-no-cookies")
def _flood_share(rng: Rng) -> Given:
    rate, backlog = (2000, 128) if rng is None else (rng.choice([500, 1000, 2000, 5000]), rng.choice([64, 128, 256]))

    def answer() -> str:
        r = simulate_flood(duration=20, flood_rate=rate, legit_rate=100, backlog=backlog, tcp_syncookies=0)
        share = r.connected / r.attempts
        return "all" if share >= 0.9 else ("half" if share >= 0.3 else "none")

    return Given({"rate": rate, "backlog": backlog}, answer)


@rule("cookie-mss")
def _cookie_mss(rng: Rng) -> Given:
    mss = 1400 if rng is None else rng.choice([m for m in range(600, 1500, 20) if m not in syncookies.MSSTAB])

    def answer() -> str:
        kept = syncookies.encode("198.51.100.7", "10.0.0.2", 40000, 80, client_isn=0, mss=mss, now=0.0, seed=1).mss
        return str(kept) if kept in syncookies.MSSTAB else "own"

    return Given({"mss": mss}, answer)


@rule("abort-on-overflow-0")
def _abort_on_overflow(rng: Rng) -> Given:
    def answer() -> str:
        r = run_scenario("accept_queue_overflow", seed=1, abort_on_overflow=0, clients=5, backlog=3).meta["result"]
        if r["client_errors"]:
            return "refused"
        return "believes" if r["client_believes_connected"] > r["server_accept_queue"] else "blocks"

    return Given({}, answer)


@rule("slow-server-established")
def _slow_server(rng: Rng) -> Given:
    def answer() -> int:
        net = Network(seed=4)
        server = net.add_host("server", "10.0.0.2", tcp_synack_retries=3)
        listener = server.socket()
        listener.bind(80)
        listener.listen(2)
        socks = [net.add_host(f"c{i}", f"10.0.1.{i}").socket() for i in range(10)]
        for sock in socks:
            sock.connect("10.0.0.2", 80)
        for second in range(1, 11):
            net.at(second, lambda: listener.accept() if "in" in listener.poll() else None)
        net.run(until=30)
        return sum(1 for s in socks if s.state is State.ESTABLISHED)

    return Given({}, answer)


# ------------------------------------------------------------------------------------------- 04: closing
@rule("fin-ack-number")
def _fin_ack_number(rng: Rng) -> Given:
    trace = build_run("client-closes-first", _seed(rng)).finish()
    fin = next(r.segment for r in trace.of(SegmentSent, "client") if r.segment.fin)

    def answer() -> int:
        return next(r.segment.ack for r in trace.of(SegmentSent, "server") if r.time > 1.0)

    return Given({"seq": fin.seq}, answer)


@rule("half-closed-gets-data")
def _half_closed_gets_data(rng: Rng) -> Given:
    def answer() -> str:
        net, cli, srv = connected_pair()
        net.at(1.0, cli.shutdown, "SHUT_WR")
        net.at(1.2, srv.send, b"x" * 3000)
        net.run(until=2)
        sent = [r.segment for r in net.of(SegmentSent, "client") if r.time > 1.2]
        if any(s.rst for s in sent):
            return "rst"
        return "acks" if len(cli.recv(10000)) == 3000 and sent else "discards"

    return Given({}, answer)


@rule("orphan-gets-data")
def _orphan_gets_data(rng: Rng) -> Given:
    def answer() -> str:
        net, cli, srv = connected_pair()
        net.at(1.0, cli.close)
        net.at(1.2, srv.send, b"x" * 3000)
        net.run(until=3)
        sent = [r.segment for r in net.of(SegmentSent, "client") if r.time > 1.2]
        if any(s.rst for s in sent):
            return "rst"
        return "acks" if sent else "silent"

    return Given({}, answer)


@rule("close-wait-leak")
def _close_wait_leak(rng: Rng) -> Given:
    def answer() -> str:
        net, cli, srv = connected_pair()
        net.at(1.0, cli.close)
        net.run(until=300)
        client = [i.state for i in net.hosts["client"].stack.sockets()]
        if srv.state is State.CLOSE_WAIT and not client:
            return "leak"
        if srv.state is State.CLOSE_WAIT and State.TIME_WAIT in client:
            return "tw"
        return "closed"

    return Given({}, answer)


def _closing_reply(profile: str) -> str:
    """What a host in a simultaneous close sends when the crossing FIN arrives, on ``profile``."""
    net = Network(seed=1)
    c = net.add_host("client", "10.0.0.1", profile=profile)
    s = net.add_host("server", "10.0.0.2", profile=profile)
    listener = s.socket()
    listener.bind(80)
    listener.listen(8)
    cli = c.socket()
    cli.connect("10.0.0.2", 80)
    net.run(until=0.5)
    srv = listener.accept()
    net.at(1.0, cli.close)
    net.at(1.0, srv.close)
    net.run(until=3)
    closing = next(r for r in net.of(StateChanged, "client") if r.dst is State.CLOSING)
    reply = next(r.segment for r in net.of(SegmentSent, "client") if r.time >= closing.time)
    return format_flags(reply.flags)


@rule("closing-reply-freebsd")
def _closing_reply_freebsd(rng: Rng) -> Given:
    return Given({}, lambda: _closing_reply("freebsd"))


@rule("request-response-time-wait")
def _request_response(rng: Rng) -> Given:
    def answer() -> str:
        net, cli, srv = connected_pair(seed=5)
        net.at(1.0, cli.send, b"GET")
        net.at(1.0, cli.shutdown, "SHUT_WR")

        def serve() -> None:
            srv.recv(100)
            srv.send(b"y" * 5000)
            srv.close()

        net.at(1.2, serve)
        net.run(until=3)
        waits = {h for h in ("client", "server") if State.TIME_WAIT in [s for _, s in net.trace().states(h)]}
        return {frozenset(): "neither", frozenset({"client"}): "client", frozenset({"server"}): "server"}.get(
            frozenset(waits), "both"
        )

    return Given({}, answer)


@rule("linger-zero")
def _linger_zero(rng: Rng) -> Given:
    def answer() -> str:
        net, cli, srv = connected_pair()
        cli.setsockopt("SO_LINGER", (1, 0))
        net.at(1.0, cli.close)
        net.run(until=2)
        sent = [r.segment for r in net.of(SegmentSent, "client") if r.time >= 1.0]
        return "rst" if sent and sent[0].rst else ("fin" if sent and sent[0].fin else "nothing")

    return Given({}, answer)


#: the three closes of notebook 04's table: (the client sent data first, the server closes this long after the FIN)
_CLOSES = ((False, 0.01), (True, 0.01), (True, 1.0))


@rule("close-three-which")
def _close_three_which(rng: Rng) -> Given:
    def answer() -> str:
        a, b, c = (closing.close_segments(data=d, server_delay=t).count == 3 for d, t in _CLOSES)
        three = (a, b, c)
        return {(False, False, False): "none", (False, True, False): "quick-data", (True, True, False): "quick"}.get(
            three, "all" if all(three) else "other"
        )

    return Given({}, answer)


@rule("linger-dead-peer")
def _linger_dead_peer(rng: Rng) -> Given:
    def answer() -> str:
        r = closing.linger_close(5, peer_alive=False)
        if r["returns_after"] >= 5.0 and r["fins_sent"] > 1 and r["state_then"] == State.FIN_WAIT_1.value:
            return "returns-goes-on"
        return "at-once" if r["returns_after"] < 1 else "other"

    return Given({}, answer)


@rule("orphan-zero-window")
def _orphan_zero_window(rng: Rng) -> Given:
    def answer() -> str:
        g = closing.give_up("zero_window_orphan")
        if g.after is None:
            return "forever"
        fin_timeout = get_profile("linux").params.fin_timeout
        return "fin-timeout" if abs(g.after - fin_timeout) < 1 else "minutes"

    return Given({}, answer)


# ------------------------------------------------------------------------------------------- 05: TIME_WAIT
@rule("no-time-wait-lost-ack")
def _no_tw_lost_ack(rng: Rng) -> Given:
    def answer() -> str:
        r = run_scenario("lost_final_ack_no_time_wait", seed=1).meta["result"]
        if r["clean_close"]:
            return "clean"
        return "rst" if r["client_rsts"] else "stuck"

    return Given({}, answer)


@rule("no-time-wait-old-data")
def _no_tw_old_data(rng: Rng) -> Given:
    def answer() -> str:
        r = run_scenario("old_duplicate", seed=1, isn="fixed", gap=5.0, timestamps=0).meta["result"]
        return "accepted" if r["old_data_accepted"] else "dropped"

    return Given({}, answer)


def _port_ceiling(low: int, high: int) -> float:
    p = get_profile("linux", ip_local_port_low=low, ip_local_port_high=high).params
    return (p.port_high - p.port_low + 1) / p.time_wait


@rule("port-ceiling")
def _port_ceiling_rule(rng: Rng) -> Given:
    p = get_profile("linux").params
    low, high = (p.port_low, p.port_high) if rng is None else (rng.randrange(1024, 40000), rng.randrange(41000, 65536))
    return Given({"low": low, "high": high}, lambda: _port_ceiling(low, high))


@rule("reuseaddr-bind")
def _reuseaddr_bind(rng: Rng) -> Given:
    def answer() -> str:
        net = Network(seed=1)
        client, server = net.add_host("client", "10.0.0.1"), net.add_host("server", "10.0.0.2")
        listener = server.socket()
        listener.bind(80)
        listener.listen(8)
        sock = client.socket()
        sock.connect("10.0.0.2", 80)
        net.run(until=0.5)
        conn = listener.accept()
        conn.close()
        listener.close()
        net.run(until=1.0)
        sock.close()
        net.run(until=2.0)
        try:
            server.socket().bind(80)
        except TcpError as err:
            return "fails" if err.errno_name == "EADDRINUSE" else "other"
        left = [i.state for i in server.stack.sockets()]
        return "kills" if State.TIME_WAIT not in left else "succeeds"

    return Given({}, answer)


@rule("keepalive-detect")
def _keepalive_detect(rng: Rng) -> Given:
    if rng is None:
        p = get_profile("linux").params
        idle, intvl, count = p.keepalive_time, p.keepalive_intvl, p.keepalive_probes
    else:
        idle, intvl, count = float(rng.choice([60, 300, 600])), float(rng.choice([10, 30, 60])), rng.randint(2, 9)

    def answer() -> float:
        t = run_scenario("keepalive_dead_peer", seed=1, keepidle=idle, keepintvl=intvl, keepcnt=count, dies_at=1.0)
        last = max(r.time for r in t.of(SegmentReceived, "client") if r.time <= 1.0)
        return round(t.meta["result"]["gave_up_at"] - last, 6)

    return Given({"idle": idle, "intvl": intvl, "count": count}, answer)


@rule("rfc1337-keeps")
def _rfc1337(rng: Rng) -> Given:
    def survives(rfc1337: int) -> bool:
        net, cli, srv = connected_pair(client={"tcp_rfc1337": rfc1337})
        net.at(1.0, cli.close)
        net.at(1.1, srv.close)
        net.run(until=2)
        fin = [r.segment for r in net.of(SegmentSent, "server") if r.segment.fin][-1]
        rst = parse_segment(f"R {fin.seq + 1}:{fin.seq + 1}(0)").replace(src_port=fin.src_port, dst_port=fin.dst_port)
        net.inject(3.0, "10.0.0.2", "10.0.0.1", rst)
        net.run(until=5)
        return State.TIME_WAIT in [s.state for s in net.hosts["client"].stack.sockets()]

    def answer() -> str:
        keep = {k for k in (0, 1) if survives(k)}
        return {frozenset({1}): "one", frozenset({0}): "zero", frozenset({0, 1}): "both"}.get(frozenset(keep), "none")

    return Given({}, answer)


@rule("who-time-wait")
def _who_time_wait(rng: Rng) -> Given:
    def answer() -> str:
        host = run_scenario("open_close_client_first", seed=1).meta["result"]["time_wait_host"]
        return "first" if host == "client" else "last"

    return Given({}, answer)


@rule("rfc-2msl")
def _rfc_2msl(rng: Rng) -> Given:
    return Given({}, lambda: get_profile("rfc9293").params.time_wait)


@rule("linux-time-wait")
def _linux_time_wait(rng: Rng) -> Given:
    return Given({}, lambda: get_profile("linux").params.time_wait)


@rule("server-time-wait-ports")
def _server_tw_ports(rng: Rng) -> Given:
    def answer() -> str:
        r = closing.port_use(closes_first="server")
        return "all" if r["connected"] == 40 and not r["errors"] else "half"

    return Given({}, answer)


@rule("bind-before-connect")
def _bind_before_connect(rng: Rng) -> Given:
    def answer() -> str:
        plain = closing.port_use(destinations=2)["connected"]
        bound = closing.port_use(destinations=2, bind_first=True)["connected"]
        return "fewer" if bound < plain else ("same" if bound == plain else "more")

    return Given({}, answer)


@rule("tw-buckets-overflow")
def _tw_buckets_overflow(rng: Rng) -> Given:
    limit = 3 if rng is None else rng.randint(1, 5)

    def answer() -> int:
        return int(closing.tw_buckets(limit)["time_wait"])

    return Given({"limit": limit, "connections": 6}, answer)


@rule("retries2-seconds")
def _retries2_seconds(rng: Rng) -> Given:
    def answer() -> float:
        g = closing.give_up("retries2")
        return float(g.after or 0.0)

    return Given({"retries": get_profile("linux").params.data_retries}, answer)


@rule("keepalive-user-timeout")
def _keepalive_user_timeout(rng: Rng) -> Given:
    def answer() -> float:
        return float(closing.give_up("keepalive_user_timeout").after or 0.0)

    return Given({}, answer)


# ------------------------------------------------------------------------------------------- 06: the kernel lab
@rule("lab-who-time-wait")
def _lab_who_time_wait(rng: Rng) -> Given:
    def answer() -> str:
        return run_scenario("open_close_client_first", seed=1).meta["result"]["time_wait_host"]

    return Given({}, answer)


@rule("lab-leak-state")
def _lab_leak_state(rng: Rng) -> Given:
    def answer() -> State:
        r = run_scenario("close_wait_leak", seed=1, clients=1).meta["result"]
        states = {s.split()[-1] for s in r["server_sockets"]} - {"LISTEN"}
        return State(states.pop())

    return Given({}, answer)


@rule("lab-overflow-established")
def _lab_overflow(rng: Rng) -> Given:
    from tcpkit.live.scripts import SCRIPTS

    params: dict[str, Any] = dict(SCRIPTS["accept_queue_overflow"].params)

    def answer() -> int:
        r = run_scenario("accept_queue_overflow", seed=1, **params).meta["result"]
        return int(r["server_accept_queue"])

    return Given({"backlog": params["backlog"], "clients": params["clients"]}, answer)


@rule("lab-short-state-verdict")
def _lab_short_state(rng: Rng) -> Given:
    # the lab's own judge: the model passes FIN_WAIT_1, the poller never saw it
    def answer() -> str:
        from tcpkit.live.compare import compare_paths

        model = ["ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
        return "agree" if compare_paths("client", model, ["ESTABLISHED", "FIN_WAIT_2", "TIME_WAIT"]).agree else "differ"

    return Given({}, answer)


@rule("proc-time-wait-number")
def _proc_time_wait(rng: Rng) -> Given:
    return Given({}, lambda: State.TIME_WAIT.linux_code)


@rule("ss-time-wait-timer")
def _ss_time_wait_timer(rng: Rng) -> Given:
    def answer() -> str:
        net, cli, srv = connected_pair()
        net.at(1.0, cli.close)
        net.at(1.0, srv.close)
        net.run(until=2.0)
        line = closing.ss_lines(net.hosts["client"], net.now)[0]
        return line.split("timer:(")[1].split(",")[0]

    return Given({}, answer)


@rule("capture-ack-delay")
def _capture_ack_delay(rng: Rng) -> Given:
    def answer() -> str:
        rows = closing.capture_close("client_closes_first").rows
        fin_acks = [r for r in rows if r[1].startswith("server")]
        first = fin_acks[0]
        if "F" in first[1]:
            return "with-fin"
        return "delayed" if float(first[0]) >= 10.0 else "at-once"

    return Given({}, answer)
