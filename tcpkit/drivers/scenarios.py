"""A catalogue of named scenarios (场景): each runs the engine on the simulator and returns a Trace.

Every scenario makes one teaching point that can be checked from its trace:
final states, which segments were dropped or answered with RST, counters.
The trace's ``meta`` holds the scenario name, parameters, seed and profile,
and a ``result`` dict that states the point in numbers.

Examples
--------
>>> t = run_scenario("connection_refused")
>>> t.meta["result"]["client_error"]
'ECONNREFUSED'
>>> "syn_flood" in SCENARIOS
True
>>> run_scenario("no_such_thing")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter scenario = 'no_such_thing' is not allowed: expected one of ...

Command line::

    tcpkit scenario list
    tcpkit scenario run lost_final_ack_no_time_wait --seed 3 --param time_wait_len=0 --json

Notes
-----
Sources for each teaching point are cited in the scenario's ``notes``:
RFC 9293 (§3.6 closing and TIME-WAIT, §3.4.1 ISN selection, §3.5.1
simultaneous open, §3.10.7.1 closed port, §3.8.4 keepalive), RFC 6528, RFC
5961, RFC 1337, RFC 6191, RFC 4987 (SYN flooding), Linux
``Documentation/networking/ip-sysctl.rst`` and ``net/ipv4/tcp_minisocks.c``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from tcpkit.engine.errors import ParameterError, TcpkitError
from tcpkit.engine.profiles import PROFILES, get_profile
from tcpkit.engine.segment import Flags, Segment
from tcpkit.engine.states import State
from tcpkit.engine.trace import Note, SegmentDropped, SegmentReceived, SegmentSent, StateChanged, Trace

from . import checks
from .apps import Client, Server
from .links import BlackHole, DropIf
from .sim import Host, Network

__all__ = ["Scenario", "Param", "SCENARIOS", "run_scenario", "list_scenarios"]

CLIENT = "192.0.2.1"
SERVER = "198.51.100.1"
PORT = 80


@dataclass(frozen=True)
class Param:
    """One parameter of a scenario: default, allowed range or choices, meaning."""

    default: Any
    help: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] = ()

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        kind = "an integer" if isinstance(self.default, int) else "a number"
        return f"{kind} from {self.lo:g} to {self.hi:g}"

    def check(self, name: str, value: Any) -> Any:
        if isinstance(value, str) and not isinstance(self.default, str):
            try:
                value = float(value) if isinstance(self.default, float) else int(value, 0)
            except ValueError:
                raise ParameterError(name, value, self.allowed()) from None
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)  # numpy integers too
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
        if self.choices:
            if isinstance(value, bool) or not isinstance(value, str | int | float) or value not in self.choices:
                raise ParameterError(name, value, self.allowed())
            return value
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ParameterError(name, value, self.allowed())
        if isinstance(self.default, int) and not float(value).is_integer():
            raise ParameterError(name, value, self.allowed())
        assert self.lo is not None and self.hi is not None
        if not self.lo <= value <= self.hi:
            raise ParameterError(name, value, self.allowed())
        return type(self.default)(value)


Runner = Callable[..., tuple[Network, dict[str, Any]]]


@dataclass(frozen=True)
class Scenario:
    """A named, parameterized scenario."""

    name: str
    description: str
    description_zh: str
    params: dict[str, Param]
    runner: Runner = field(repr=False)
    notes: str = ""

    def run(self, seed: int = 0, profile: str = "linux", **params: Any) -> Trace:
        """Run it; see :func:`run_scenario`."""
        seed = checks.integer("seed", seed)
        if not isinstance(profile, str) or profile not in PROFILES:
            raise ParameterError("profile", profile, "one of " + ", ".join(PROFILES))
        values = {k: p.default for k, p in self.params.items()}
        for k, v in params.items():
            if k not in self.params:
                allowed = ", ".join(self.params) or "no parameters"
                raise ParameterError("param", k, f"a parameter of {self.name}: {allowed}")
            values[k] = self.params[k].check(k, v)
        net, result = self.runner(seed=seed, profile=profile, **values)
        return net.trace(
            scenario=self.name,
            params=values,
            seed=seed,
            profile=profile,
            result=result,
            description=self.description,
            description_zh=self.description_zh,
        )


SCENARIOS: dict[str, Scenario] = {}


def _scenario(name: str, en: str, zh: str, notes: str = "", **params: Param) -> Callable[[Runner], Runner]:
    def deco(fn: Runner) -> Runner:
        SCENARIOS[name] = Scenario(name, en, zh, dict(params), fn, notes)
        return fn

    return deco


def list_scenarios() -> list[tuple[str, str, str]]:
    """``(name, English description, Chinese description)`` for every scenario.

    >>> list_scenarios()[0][0]
    'open_close_client_first'
    """
    return [(s.name, s.description, s.description_zh) for s in SCENARIOS.values()]


def run_scenario(name: str, seed: int = 0, profile: str = "linux", **params: Any) -> Trace:
    """Run the scenario ``name`` and return its trace.

    Parameters
    ----------
    name : str
        A key of :data:`SCENARIOS`.
    seed : int
        Same seed, same trace (byte-identical ``to_json()``).
    profile : str
        ``linux``, ``freebsd`` or ``rfc9293``.
    **params
        The scenario's parameters (see ``SCENARIOS[name].params``).

    Raises
    ------
    ParameterError
        Unknown scenario (the known ones are listed) or a parameter out of range.

    Examples
    --------
    >>> t = run_scenario("abort_rst", seed=2)
    >>> t.meta["result"]["server_error"], t.meta["result"]["client_time_wait"]
    ('ECONNRESET', False)
    """
    sc = SCENARIOS.get(name) if isinstance(name, str) else None
    if sc is None:
        raise ParameterError("scenario", name, "one of " + ", ".join(SCENARIOS))
    return sc.run(seed=seed, profile=profile, **params)


# --------------------------------------------------------------------------- helpers


def _pair(
    seed: int,
    profile: str,
    *,
    delay: float = 0.01,
    client: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
) -> tuple[Network, Host, Host]:
    net = Network(seed=seed, delay=delay)
    c = net.add_host("client", CLIENT, profile=profile, **(client or {}))
    s = net.add_host("server", SERVER, profile=profile, **(server or {}))
    return net, c, s


def _paths(net: Network, host: str) -> dict[str, list[str]]:
    """State path of every connection (not listeners) of ``host``: ``"a:p>b:q" -> [states]``."""
    out: dict[str, list[str]] = {}
    for r in net.of(StateChanged, host):
        if r.conn is not None and r.conn[3] != 0:
            key = f"{r.conn[0]}:{r.conn[1]}>{r.conn[2]}:{r.conn[3]}"
            out.setdefault(key, [r.src.value]).append(r.dst.value)
    return out


def _path(net: Network, host: str) -> list[str]:
    """The state path of the host's first connection."""
    paths = _paths(net, host)
    return next(iter(paths.values()), [])


def _sockets(host: Host) -> list[str]:
    return [f"{i.conn[0]}:{i.conn[1]}>{i.conn[2]}:{i.conn[3]} {i.state.value}" for i in host.stack.sockets()]


def _count(host: Host, state: str) -> int:
    return sum(1 for i in host.stack.sockets() if i.state.value == state)


def _sent(net: Network, host: str, flag: Flags) -> int:
    return sum(1 for r in net.of(SegmentSent, host) if r.segment.flags & flag)


def _dropped(net: Network) -> list[str]:
    return [
        f"{r.host}: {r.segment.notation()} ({r.reason})" for r in net.of(SegmentDropped) if r.reason.startswith("link")
    ]


def _last_event(net: Network, host: str, dst: str) -> str | None:
    ev = None
    for r in net.of(StateChanged, host):
        if r.dst.value == dst and r.conn is not None and r.conn[3] != 0:
            ev = r.event.value
    return ev


def _tw(profile: str, knobs: dict[str, Any] | None = None) -> float:
    return float(get_profile(profile, **(knobs or {})).params.time_wait)


# --------------------------------------------------------------------------- open and close


def _open_close(seed: int, profile: str, first: str, data: int, delay: float) -> tuple[Network, dict[str, Any]]:
    net, c, s = _pair(seed, profile, delay=delay)
    if first == "client":
        srv = Server(s, PORT).start()
        cli = Client(c, SERVER, PORT, data=data, close="close").start()
    else:
        srv = Server(s, PORT, close="after_send", reply=data).start()
        cli = Client(c, SERVER, PORT, close="on_eof").start()
    net.run(until=5)
    mid = {"client": _sockets(c), "server": _sockets(s)}
    net.run(until=5 + _tw(profile) + 1)
    tw_host = (
        "client" if "TIME_WAIT" in _path(net, "client") else "server" if "TIME_WAIT" in _path(net, "server") else None
    )
    return net, {
        "client_path": _path(net, "client"),
        "server_path": _path(net, "server"),
        "time_wait_host": tw_host,
        "sockets_at_5s": mid,
        "sockets_at_end": {"client": _sockets(c), "server": _sockets(s)},
        "bytes_delivered": len(srv.received) if first == "client" else len(cli.received),
    }


@_scenario(
    "open_close_client_first",
    "Three-way handshake, some data, the client closes first and waits in TIME_WAIT.",
    "三次握手、传输少量数据，客户端先关闭并进入 TIME_WAIT（时间等待）。",
    "RFC 9293 §3.6 (normal close sequence, Figure 12), §3.4.2 (MSL) and §3.10.8 (TIME-WAIT lasts 2 MSL).",
    data=Param(64, "bytes the client sends", 0, 1 << 20),
    delay=Param(0.01, "one-way delay (s)", 0.0001, 5),
)
def _sc_client_first(seed: int, profile: str, data: int, delay: float) -> tuple[Network, dict[str, Any]]:
    return _open_close(seed, profile, "client", data, delay)


@_scenario(
    "open_close_server_first",
    "The server sends a reply and closes first: the server, not the client, holds TIME_WAIT.",
    "服务器发送回复后先关闭：持有 TIME_WAIT 的是服务器而不是客户端。",
    "RFC 9293 §3.5: whichever side closes first (the active closer) enters TIME-WAIT.",
    data=Param(64, "bytes the server sends", 0, 1 << 20),
    delay=Param(0.01, "one-way delay (s)", 0.0001, 5),
)
def _sc_server_first(seed: int, profile: str, data: int, delay: float) -> tuple[Network, dict[str, Any]]:
    return _open_close(seed, profile, "server", data, delay)


@_scenario(
    "half_close",
    "The client shuts down its sending side (SHUT_WR); the server keeps sending its reply, then closes.",
    "客户端关闭发送方向（SHUT_WR，半关闭）；服务器继续发送回复，然后关闭。",
    "RFC 9293 §3.6 (CLOSE means 'I have no more to send'; the peer may keep sending), shutdown(2).",
    request=Param(100, "bytes the client sends before SHUT_WR", 0, 1 << 20),
    reply=Param(20000, "bytes the server sends after the client's FIN", 1, 1 << 22),
)
def _sc_half_close(seed: int, profile: str, request: int, reply: int) -> tuple[Network, dict[str, Any]]:
    net, c, s = _pair(seed, profile)
    srv = Server(s, PORT, close="reply_on_eof", reply=reply).start()
    cli = Client(c, SERVER, PORT, data=request, close="shutdown").start()
    net.run(until=10)
    # data that reached the client after it had sent its FIN (its half of the connection closed)
    fin_at = next((r.time for r in net.of(SegmentSent, "client") if r.segment.fin), None)
    after = sum(r.segment.length for r in net.of(SegmentReceived, "client") if fin_at is not None and r.time > fin_at)
    return net, {
        "client_path": _path(net, "client"),
        "server_path": _path(net, "server"),
        "server_received": len(srv.received),
        "client_received": len(cli.received),
        "bytes_received_after_client_fin": after,
    }


@_scenario(
    "simultaneous_open",
    "Both ends call connect() to each other at the same moment: SYN_SENT -> SYN_RECEIVED -> ESTABLISHED on both.",
    "两端同时互相 connect()：双方都经历 SYN_SENT -> SYN_RECEIVED -> ESTABLISHED（同时打开）。",
    "RFC 9293 §3.5 Figure 7 (simultaneous connection synchronization).",
    delay=Param(0.05, "one-way delay (s)", 0.001, 5),
)
def _sc_simultaneous_open(seed: int, profile: str, delay: float) -> tuple[Network, dict[str, Any]]:
    net = Network(seed=seed, delay=delay)
    a = net.add_host("client", CLIENT, profile=profile)
    b = net.add_host("server", SERVER, profile=profile)
    ca = Client(a, SERVER, 6000, bind=5000, close="never").start()
    cb = Client(b, CLIENT, 5000, bind=6000, close="never").start()
    net.run(until=3)
    return net, {
        "client_path": _path(net, "client"),
        "server_path": _path(net, "server"),
        "both_established": ca.connected_at is not None and cb.connected_at is not None,
        "syn_acks_sent": _sent(net, "client", Flags.SYN | Flags.ACK) + _sent(net, "server", Flags.SYN | Flags.ACK),
    }


@_scenario(
    "simultaneous_close",
    "Both ends close at the same moment: FIN_WAIT_1 -> CLOSING -> TIME_WAIT on both sides.",
    "两端同时关闭：双方都经历 FIN_WAIT_1 -> CLOSING -> TIME_WAIT（同时关闭）。",
    "RFC 9293 §3.6 Figure 13 (simultaneous close sequence).",
    at=Param(1.0, "when both call close() (s)", 0.1, 100),
)
def _sc_simultaneous_close(seed: int, profile: str, at: float) -> tuple[Network, dict[str, Any]]:
    net, c, s = _pair(seed, profile)
    srv = Server(s, PORT, close="never").start()
    Client(c, SERVER, PORT, close="never", close_at=at).start()

    def server_close() -> None:
        for sock in srv.accepted:
            sock.close()

    net.at(at, server_close)
    net.run(until=at + 2)
    return net, {
        "client_path": _path(net, "client"),
        "server_path": _path(net, "server"),
        "time_wait": {"client": _count(c, "TIME_WAIT"), "server": _count(s, "TIME_WAIT")},
    }


# --------------------------------------------------------------------------- TIME_WAIT


def _drop_final_ack(net: Network) -> dict[str, Any]:
    """Drop the client's ACK of the server's FIN, once (the first copy)."""
    seen: dict[str, Any] = {"fin_end": None, "dropped": 0}

    def watch(now: float, i: int, seg: Segment) -> bool:
        if seg.fin:
            seen["fin_end"] = seg.end_seq
        return False

    def drop(now: float, i: int, seg: Segment) -> bool:
        if (
            seen["dropped"] == 0
            and seen["fin_end"] is not None
            and seg.flags == Flags.ACK
            and seg.ack == seen["fin_end"]
        ):
            seen["dropped"] = 1
            return True
        return False

    net.link("server", "client", rules=[DropIf(watch, "never (watches the FIN)")])
    net.link("client", "server", rules=[DropIf(drop, "the final ACK of the close")])
    return seen


def _lost_final_ack(seed: int, profile: str, time_wait_len: float | None) -> tuple[Network, dict[str, Any]]:
    knobs = {} if time_wait_len is None else {"time_wait_len": time_wait_len}
    if time_wait_len is not None and profile != "linux":
        raise ParameterError("profile", profile, "linux (time_wait_len is a knob of the linux profile)")
    net, c, s = _pair(seed, profile, client=knobs)
    _drop_final_ack(net)
    Server(s, PORT).start()
    Client(c, SERVER, PORT, data=10, close="close").start()
    net.run(until=_tw(profile, knobs) + 10)
    rst_from_client = _sent(net, "client", Flags.RST)
    how = _last_event(net, "server", "CLOSED")
    return net, {
        "client_path": _path(net, "client"),
        "server_path": _path(net, "server"),
        "server_closed_by": how,
        "client_rsts": rst_from_client,
        "server_fins": _sent(net, "server", Flags.FIN),
        "clean_close": how == "rcv ACK of FIN" and rst_from_client == 0,
        "dropped": _dropped(net),
    }


@_scenario(
    "lost_final_ack",
    "The last ACK of the close is lost; the server retransmits its FIN and the client, still in TIME_WAIT, ACKs it "
    "again.",
    "关闭时最后一个 ACK 丢失；服务器重传 FIN，仍处于 TIME_WAIT 的客户端再次确认，连接干净地结束。",
    "RFC 9293 §3.6 and §3.10.7.4 (TIME-WAIT: a retransmitted FIN is acknowledged and the 2 MSL timer restarted).",
)
def _sc_lost_final_ack(seed: int, profile: str) -> tuple[Network, dict[str, Any]]:
    return _lost_final_ack(seed, profile, None)


@_scenario(
    "lost_final_ack_no_time_wait",
    "The same lost ACK with TIME_WAIT switched off: the retransmitted FIN hits a closed port and draws an RST.",
    "同样丢失最后的 ACK，但关闭 TIME_WAIT：重传的 FIN 到达已关闭的端口，换来 RST，对端看到的是错误而非正常关闭。",
    "RFC 9293 §3.6 and §3.4.2 (why TIME-WAIT exists), §3.10.7.1 (a closed port answers with RST); time_wait_len is "
    "a teaching knob.",
    time_wait_len=Param(0.0, "the client's TIME_WAIT length (s)", 0, 600),
)
def _sc_lost_final_ack_no_tw(seed: int, profile: str, time_wait_len: float) -> tuple[Network, dict[str, Any]]:
    return _lost_final_ack(seed, profile, time_wait_len)


# --------------------------------------------------------------------------- lost handshake ACK


def _is_pure_ack(seg: Segment) -> bool:
    """ACK flag alone, no data: what a firewall that "drops pure ACKs" loses."""
    return seg.flags == Flags.ACK and seg.length == 0


@_scenario(
    "lost_handshake_ack",
    "The client's final handshake ACK is lost: the client is ESTABLISHED, the server's request stays SYN_RECEIVED and "
    "retransmits its SYN-ACK after 1, 2, 4, 8 and 16 s; if no ACK ever arrives the request is dropped at 63 s and the "
    "client's first data draws an RST.",
    "客户端第三次握手的 ACK 丢失：客户端已是 ESTABLISHED，服务器的连接请求停留在 SYN_RECEIVED（同步已接收），"
    "并在 1、2、4、8、16 秒后重传 SYN-ACK；"
    "若始终收不到 ACK，请求在 63 秒时被丢弃，客户端随后发送的数据换来 RST（复位）。",
    "Linux net/ipv4/inet_connection_sock.c reqsk_timer_handler (timeout TCP_TIMEOUT_INIT << num_timeout, "
    "tcp_synack_retries = 5 in ip-sysctl.rst: retransmissions at 1, 3, 7, 15, 31 s, request dropped 32 s after the "
    "last one); net/ipv4/tcp_minisocks.c tcp_check_req (any acceptable ACK completes the handshake, so a data segment "
    "repairs a lost ACK); an ESTABLISHED client answers a retransmitted SYN-ACK with a duplicate ACK (RFC 9293 "
    "§3.10.7.4, tcp_validate_incoming); an ACK reaching only the listener is answered with RST (RFC 9293 §3.10.7.2, "
    "net/ipv4/tcp_ipv4.c tcp_v4_send_reset). The client sees nothing wrong until it sends: a server-speaks-first "
    "protocol would wait forever.",
    lost=Param("all", "which of the client's pure ACKs the network loses", choices=("all", "first")),
    send_at=Param(70.0, "when the client sends its first data (s); 0 = never", 0, 600),
    synack_retries=Param(5, "tcp_synack_retries on the server", 0, 10),
    delay=Param(0.01, "one-way delay (s)", 0.00001, 5),
)
def _sc_lost_handshake_ack(
    seed: int, profile: str, lost: str, send_at: float, synack_retries: int, delay: float
) -> tuple[Network, dict[str, Any]]:
    from tcpkit.engine.errors import TcpError
    from tcpkit.engine.timers import synack_retransmit_times, synack_timeout

    if profile != "linux":
        raise ParameterError("profile", profile, "linux (tcp_synack_retries and this SYN-ACK schedule are Linux's)")
    net, c, s = _pair(seed, profile, delay=delay, server={"tcp_synack_retries": synack_retries})
    lost_acks = {"n": 0}

    def drop(now: float, i: int, seg: Segment) -> bool:
        if not _is_pure_ack(seg) or (lost == "first" and lost_acks["n"] >= 1):
            return False
        lost_acks["n"] += 1
        return True

    net.link(
        "client",
        "server",
        rules=[DropIf(drop, "the client's pure ACKs" if lost == "all" else "the client's first pure ACK")],
    )
    srv = Server(s, PORT, close="never").start()
    cli = Client(c, SERVER, PORT, close="never").start()
    data = b"hello after the handshake"
    send_result: dict[str, Any] = {}

    def send() -> None:
        if cli.sock is None:
            return
        try:
            send_result["sent"] = cli.sock.send(data)
        except TcpError as exc:
            send_result["error"] = exc.errno_name

    if send_at:
        net.at(send_at, send)
    params = get_profile(profile, tcp_synack_retries=synack_retries).params
    lifetime = sum(synack_timeout(params, k) for k in range(synack_retries + 1))
    net.run(until=max(send_at, lifetime) + 5)

    synacks = [r.time for r in net.of(SegmentSent, "server") if r.segment.syn and r.segment.has_ack]
    first = synacks[0] if synacks else 0.0
    srv_states = [
        (r.time, r.src, r.dst, r.event.value)
        for r in net.of(StateChanged, "server")
        if r.conn is not None and r.conn[3] != 0
    ]
    established = next((t for t, a, b, _ in srv_states if a is State.SYN_RECEIVED and b is State.ESTABLISHED), None)
    expired = next(((t, ev) for t, a, b, ev in srv_states if a is State.SYN_RECEIVED and b is State.CLOSED), None)
    rst_at = next((r.time for r in net.of(SegmentReceived, "client") if r.segment.rst), None)
    rel = [round(t - first, 6) for t in synacks[1:]]
    return net, {
        "client_path": _path(net, "client"),
        "server_path": _path(net, "server"),
        "client_connected_at": cli.connected_at,
        "synack_sent_at": [round(t, 6) for t in synacks],
        "synack_retransmits_after": rel,
        "synack_gaps": [round(b - a, 6) for a, b in pairwise(synacks)],
        "expected_retransmits_after": synack_retransmit_times(params),
        "expected_request_lifetime": lifetime,
        "acks_lost": lost_acks["n"],
        "server_established_at": established,
        "server_established_by_data": established is not None and send_at > 0 and established >= send_at,
        "request_dropped_after": None if expired is None else round(expired[0] - first, 6),
        "request_dropped_by": None if expired is None else expired[1],
        "client_rst_received_at": None if rst_at is None else round(rst_at, 6),
        "client_error": cli.error or send_result.get("error"),
        "server_received": len(srv.received),
    }


# --------------------------------------------------------------------------- ISNs and old duplicates


@_scenario(
    "old_duplicate",
    "A delayed data segment of an old connection arrives in a new connection with the same 4-tuple; a fixed ISN "
    "lets it in.",
    "旧连接中被延迟的数据段到达四元组相同的新连接；若初始序列号（ISN）固定，旧数据会被新连接接受。",
    "RFC 9293 §3.4.1 (ISN selection and why it must change), RFC 6528 (keyed-hash ISNs), RFC 7323 §5 (PAWS: the "
    "other guard, off here). "
    "The old segment also carries an old ACK: when only the client's ISN is fixed, the server's new ISN puts that "
    "ACK far below "
    "SND.UNA and the segment is dropped with a challenge ACK (RFC 5961 §5.2, Linux tcp_ack: 'ACK too old'); so by "
    "default "
    "both hosts use the same ISN generator.",
    isn=Param("fixed", "the client's ISN generator", choices=("fixed", "clock", "rfc6528", "linux")),
    timestamps=Param(0, "tcp_timestamps on both hosts (1 turns PAWS on)", choices=(0, 1)),
    gap=Param(5.0, "seconds between the two connections", 1, 100),
    server_isn=Param(
        "same",
        "the server's ISN generator ('same': the client's)",
        choices=("same", "fixed", "clock", "rfc6528", "linux"),
    ),
)
def _sc_old_duplicate(
    seed: int, profile: str, isn: str, timestamps: int, gap: float, server_isn: str
) -> tuple[Network, dict[str, Any]]:
    if profile != "linux":
        raise ParameterError("profile", profile, "linux (this scenario turns Linux knobs)")
    knobs: dict[str, Any] = {"tcp_timestamps": timestamps, "time_wait_len": 1.0}
    net = Network(seed=seed)
    c = net.add_host("client", CLIENT, profile=profile, isn=isn, **knobs)
    s = net.add_host("server", SERVER, profile=profile, isn=isn if server_isn == "same" else server_isn, **knobs)
    held: list[Segment] = []

    def hold(now: float, i: int, seg: Segment) -> bool:
        if seg.length and not held:
            held.append(seg)  # a copy is stuck in a router queue; the original is delivered
        return False

    net.link("client", "server", rules=[DropIf(hold, "never (copies the first data segment)")])
    srv = Server(s, PORT, close="never").start()
    first = Client(
        c, SERVER, PORT, data=b"OLD DATA from connection 1", close="close", bind=40000, sockopts={"SO_REUSEADDR": 1}
    ).start()

    def close_first() -> None:
        for sock in srv.accepted:
            sock.close()

    net.at(0.5, close_first)
    second = Client(c, SERVER, PORT, at=gap, close="never", bind=40000, sockopts={"SO_REUSEADDR": 1}).start()

    def replay() -> None:
        if held:
            seg = held[0]
            who = "network (old duplicate)"
            net.records.append(
                Note(
                    time=net.now,
                    host=who,
                    text="a copy of connection 1's data, delayed in the network, is finally delivered",
                )
            )
            net.records.append(
                SegmentSent(
                    time=net.now,
                    host=who,
                    conn=(CLIENT, seg.src_port, SERVER, seg.dst_port),
                    segment=seg,
                    peer="server",
                )
            )
            net.transmit(who, CLIENT, SERVER, seg)

    net.at(gap + 0.5, replay)
    net.run(until=gap + 2)
    got = srv.received_by_conn
    second_data = got[1] if len(got) > 1 else b""
    isns = [r.segment.seq for r in net.of(SegmentSent, "client") if r.segment.flags == Flags.SYN]
    server_isns = [r.segment.seq for r in net.of(SegmentSent, "server") if r.segment.syn]
    old_drop = next(
        (r.reason for r in net.of(SegmentDropped, "server") if r.time >= gap + 0.5 and r.segment.length), None
    )
    return net, {
        "client_isns": isns,
        "server_isns": server_isns,
        "old_segment_dropped_because": old_drop,
        "connections": len(got),
        "old_data_accepted": second_data.startswith(b"OLD DATA"),
        "second_connection_received": second_data.decode("latin-1"),
        "first_ok": first.connected_at is not None and second.connected_at is not None,
    }


@_scenario(
    "two_way_handshake",
    "Why three messages: an old duplicate SYN reaches the server; the client's RST stops it. With only two, the "
    "server would wait on a ghost connection.",
    "为什么不是两次握手：旧的重复 SYN 到达服务器，客户端的 RST 将其终止；若只有两次握手，服务器会为一个幽灵连接等待。",
    "RFC 9293 §3.5 Figure 8 (recovery from an old duplicate SYN); the two-way variant is a counterfactual, drawn as "
    "notes.",
)
def _sc_two_way(seed: int, profile: str) -> tuple[Network, dict[str, Any]]:
    net, c, s = _pair(seed, profile)
    Server(s, PORT, close="never").start()
    old_syn = Segment(src_port=41000, dst_port=PORT, seq=123456, flags=Flags.SYN, window=64240)
    net.note("client", "an old duplicate SYN from a connection that ended long ago is still in the network")
    net.inject(0.1, CLIENT, SERVER, old_syn, who="client")
    net.run(until=0.2)
    net.note(
        "server (two-way)",
        "counterfactual: with a two-way handshake this SYN alone would have made the connection ESTABLISHED",
    )
    net.note(
        "server (two-way)",
        "the server would allocate buffers and wait for data that never comes; the client does not even know",
    )
    net.run(until=3)
    return net, {
        "server_path": _path(net, "server"),
        "client_rsts": _sent(net, "client", Flags.RST),
        "server_connections_left": sum(1 for i in s.stack.sockets() if i.conn[3] != 0),
        "two_way_would_leave": 1,
    }


@_scenario(
    "isn_prediction",
    "An attacker reads one ISN, predicts the next from the clock and forges a whole connection from a trusted "
    "address; a keyed-hash ISN stops it.",
    "攻击者读到一个 ISN，按时钟预测下一个，冒充受信任地址伪造整个连接；带密钥哈希的 ISN 可以阻止。",
    "RFC 9293 §3.4.1, RFC 6528 (Morris 1985, the 1994 Mitnick attack); tcpkit.engine.isn.predict_next_clock_isn.",
    isn=Param("clock", "the server's ISN generator", choices=("clock", "rfc6528", "linux", "random")),
)
def _sc_isn_prediction(seed: int, profile: str, isn: str) -> tuple[Network, dict[str, Any]]:
    from tcpkit.engine.isn import CLOCK_TICK, predict_next_clock_isn

    net = Network(seed=seed)
    s = net.add_host("server", SERVER, profile=profile, isn=isn)
    a = net.add_host("attacker", "203.0.113.66", profile=profile)
    trusted = "192.0.2.77"  # silenced (no host answers at this address)
    srv = Server(s, 513, close="never").start()
    probe = Client(a, SERVER, 513, at=0.0, close="close").start()
    net.run(until=0.5)
    synack = next(r for r in net.of(SegmentReceived, "attacker") if r.segment.syn)
    seen_isn = synack.segment.seq
    observed_at = 0.0 + net.delay  # the honest SYN reached the server one delay after it left
    t_syn = 1.0
    guess = predict_next_clock_isn(seen_isn, observed_at, t_syn + net.delay, tick=CLOCK_TICK)
    my_isn = 777000
    net.inject(
        t_syn,
        trusted,
        SERVER,
        Segment(src_port=1023, dst_port=513, seq=my_isn, flags=Flags.SYN, window=64240),
        who="attacker",
    )
    for k, g in enumerate((guess, (guess + 1) & 0xFFFFFFFF)):
        ack = Segment(
            src_port=1023, dst_port=513, seq=my_isn + 1, ack=(g + 1) & 0xFFFFFFFF, flags=Flags.ACK, window=64240
        )
        net.inject(t_syn + 0.2 + 0.01 * k, trusted, SERVER, ack, who="attacker")
    cmd = b"echo + + >> .rhosts\n"
    data = Segment(
        src_port=1023,
        dst_port=513,
        seq=my_isn + 1,
        ack=(guess + 1) & 0xFFFFFFFF,
        flags=Flags.ACK | Flags.PSH,
        window=64240,
        payload=cmd,
    )
    net.inject(t_syn + 0.3, trusted, SERVER, data, who="attacker")
    net.run(until=3)
    real = next(
        (r.segment.seq for r in net.of(SegmentSent, "server") if r.segment.syn and r.conn and r.conn[2] == trusted),
        None,
    )
    forged = [i for i in s.stack.sockets() if i.conn[2] == trusted and i.state.value == "ESTABLISHED"]
    return net, {
        "observed_isn": seen_isn,
        "predicted_isn": guess,
        "actual_isn": real,
        "prediction_off_by": None if real is None else (real - guess) & 0xFFFFFFFF,
        "forged_connection_established": bool(forged),
        "server_received": srv.received.decode("latin-1"),
        "probe_connected": probe.connected_at is not None,
    }


# --------------------------------------------------------------------------- errors and resets


@_scenario(
    "connection_refused",
    "connect() to a port where nobody listens: the SYN is answered with RST and connect() fails with ECONNREFUSED.",
    "connect() 到无人监听的端口：SYN 换来 RST，connect() 以 ECONNREFUSED（连接被拒绝）失败。",
    "RFC 9293 §3.10.7.1 (CLOSED state answers with RST), §3.10.7.3 (SYN-SENT receives RST).",
    port=Param(81, "the port the client tries", 1, 65535),
)
def _sc_refused(seed: int, profile: str, port: int) -> tuple[Network, dict[str, Any]]:
    net, c, s = _pair(seed, profile)
    if port == PORT:
        raise ParameterError("port", port, f"any port but {PORT} (the only one with a listener)")
    Server(s, PORT).start()
    cli = Client(c, SERVER, port).start()
    net.run(until=2)
    return net, {
        "client_error": cli.error,
        "client_path": _path(net, "client"),
        "server_rsts": _sent(net, "server", Flags.RST),
    }


@_scenario(
    "abort_rst",
    "The client sets SO_LINGER {on, 0} and closes: one RST instead of a FIN, no TIME_WAIT, the server reads "
    "ECONNRESET.",
    "客户端设置 SO_LINGER {on, 0} 后关闭：发出 RST 而非 FIN，没有 TIME_WAIT，服务器读到 ECONNRESET（连接被重置）。",
    "RFC 9293 §3.10.5 (ABORT), Linux net/ipv4/tcp.c __tcp_close (linger 0 sends RST).",
)
def _sc_abort(seed: int, profile: str) -> tuple[Network, dict[str, Any]]:
    net, c, s = _pair(seed, profile)
    srv = Server(s, PORT).start()
    Client(c, SERVER, PORT, data=100, close="abort").start()
    net.run(until=2)
    return net, {
        "client_path": _path(net, "client"),
        "server_path": _path(net, "server"),
        "client_rsts": _sent(net, "client", Flags.RST),
        "client_fins": _sent(net, "client", Flags.FIN),
        "client_time_wait": "TIME_WAIT" in _path(net, "client"),
        "server_error": srv.errors[0] if srv.errors else None,
    }


@_scenario(
    "close_wait_leak",
    "A leaky server never calls close(): every connection the clients end piles up in CLOSE_WAIT on the server.",
    "有泄漏的服务器从不调用 close()：客户端结束的每条连接都堆积在服务器的 CLOSE_WAIT（关闭等待）状态。",
    "RFC 9293 §3.6 (CLOSE-WAIT waits for the local user's CLOSE; no timer ends it).",
    clients=Param(3, "clients that connect and close", 1, 50),
)
def _sc_close_wait(seed: int, profile: str, clients: int) -> tuple[Network, dict[str, Any]]:
    net, c, s = _pair(seed, profile)
    Server(s, PORT, close="never").start()
    for i in range(clients):
        Client(c, SERVER, PORT, at=0.1 * i, data=10, close="close").start()
    net.run(until=5)
    at5 = _count(s, "CLOSE_WAIT")
    p = get_profile(profile).params
    net.run(until=5 + p.fin_timeout + 10)
    return net, {
        "server_close_wait_at_5s": at5,
        "server_close_wait_at_end": _count(s, "CLOSE_WAIT"),
        "client_fin_wait_2_at_end": _count(c, "FIN_WAIT_2"),
        "server_sockets": _sockets(s),
    }


@_scenario(
    "fin_wait_2_orphan",
    "The client closed, the server acknowledged but never sends its FIN: the orphaned FIN_WAIT_2 socket is dropped "
    "after tcp_fin_timeout.",
    "客户端已关闭，服务器确认但从不发送 FIN：孤儿 FIN_WAIT_2 套接字在 tcp_fin_timeout 后被丢弃。",
    "Linux ip-sysctl.rst tcp_fin_timeout, net/ipv4/tcp.c tcp_close (orphan FIN_WAIT2 timer); RFC 9293 has no such "
    "timer.",
    fin_timeout=Param(60.0, "tcp_fin_timeout (s)", 1, 3600),
)
def _sc_fin_wait_2(seed: int, profile: str, fin_timeout: float) -> tuple[Network, dict[str, Any]]:
    if profile != "linux":
        raise ParameterError("profile", profile, "linux (tcp_fin_timeout is a Linux knob)")
    net, c, s = _pair(seed, profile, client={"tcp_fin_timeout": fin_timeout})
    Server(s, PORT, close="never").start()
    cli = Client(c, SERVER, PORT, data=10, close="close").start()
    net.run(until=fin_timeout + 10)
    fw2 = next((r.time for r in net.of(StateChanged, "client") if r.dst is State.FIN_WAIT_2), None)
    gone = next((r.time for r in net.of(StateChanged, "client") if r.src is State.FIN_WAIT_2), None)
    return net, {
        "client_path": _path(net, "client"),
        "closed_at": cli.closed_at,
        "fin_wait_2_at": fw2,
        "fin_wait_2_ended_at": gone,
        "fin_wait_2_seconds": None
        if fw2 is None or gone is None or cli.closed_at is None
        else round(gone - cli.closed_at, 6),
        "server_still": _sockets(s),
    }


@_scenario(
    "keepalive_dead_peer",
    "The server dies silently; the client's keepalive probes go unanswered and the connection fails with ETIMEDOUT.",
    "服务器无声无息地宕机；客户端的保活（keepalive）探测无人应答，连接以 ETIMEDOUT 失败。",
    "RFC 9293 §3.8.4 / RFC 1122 §4.2.3.6 (keep-alives), Linux TCP_KEEPIDLE/TCP_KEEPINTVL/TCP_KEEPCNT (tcp(7)).",
    keepidle=Param(10.0, "TCP_KEEPIDLE (s)", 1, 7200),
    keepintvl=Param(5.0, "TCP_KEEPINTVL (s)", 1, 600),
    keepcnt=Param(3, "TCP_KEEPCNT", 1, 20),
    dies_at=Param(1.0, "when the server dies (s)", 0.5, 100),
)
def _sc_keepalive(
    seed: int, profile: str, keepidle: float, keepintvl: float, keepcnt: int, dies_at: float
) -> tuple[Network, dict[str, Any]]:
    net, c, s = _pair(seed, profile)
    net.link("server", "client", rules=[BlackHole(after=dies_at)])
    net.link("client", "server", rules=[BlackHole(after=dies_at)])
    Server(s, PORT, close="never").start()
    opts = {"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": keepidle, "TCP_KEEPINTVL": keepintvl, "TCP_KEEPCNT": keepcnt}
    cli = Client(c, SERVER, PORT, close="never", sockopts=opts).start()
    horizon = dies_at + keepidle + keepintvl * (keepcnt + 2) + 5
    net.run(until=horizon)
    probes = sum(1 for r in net.of(SegmentSent, "client") if r.time > dies_at)
    gave_up = next((r.time for r in net.of(StateChanged, "client") if r.dst is State.CLOSED), None)
    err = cli.sock.error if cli.sock is not None else None
    return net, {
        "client_path": _path(net, "client"),
        "probes_sent": probes,
        "gave_up_at": gave_up,
        "expected_give_up": round(cli.connected_at + keepidle + keepintvl * keepcnt, 6)
        if cli.connected_at is not None
        else None,
        "client_error": cli.error or (err if err else None),
    }


@_scenario(
    "accept_queue_overflow",
    "The server never calls accept(); once the accept queue is full the final ACK is dropped (abort_on_overflow 0) "
    "or answered with RST (1).",
    "服务器从不调用 accept()；全连接队列满后，第三次握手的 ACK 被丢弃（abort_on_overflow=0）或以 RST 回应（=1）。",
    "Linux net/ipv4/tcp_minisocks.c tcp_check_req, ip-sysctl.rst tcp_abort_on_overflow, include/net/sock.h "
    "sk_acceptq_is_full, "
    "net/ipv4/tcp_input.c tcp_conn_request (a SYN meeting a full accept queue is dropped). The first `backlog` "
    "clients connect 1 ms apart, the others one and a half round trips later. With a long delay (default 10 ms) the "
    "late clients' SYNs find room (both queues hold backlog + 1, include/net/inet_connection_sock.h and "
    "include/net/sock.h), but the accept queue fills before their final ACKs arrive; with a loopback-like delay "
    "(e.g. 0.00005 s) each handshake ends before the next SYN, so the late clients' SYNs are dropped and they stay "
    "in SYN_SENT, as on a real loopback.",
    abort_on_overflow=Param(0, "tcp_abort_on_overflow", choices=(0, 1)),
    clients=Param(5, "clients connecting at once", 1, 50),
    backlog=Param(3, "listen() backlog", 1, 64),
    delay=Param(0.01, "one-way link delay (s); 0.00005 is loopback-like", 0.00001, 5),
)
def _sc_accept_overflow(
    seed: int, profile: str, abort_on_overflow: int, clients: int, backlog: int, delay: float
) -> tuple[Network, dict[str, Any]]:
    if profile != "linux":
        raise ParameterError("profile", profile, "linux (tcp_abort_on_overflow is a Linux knob)")
    net, c, s = _pair(
        seed, profile, delay=delay, server={"tcp_abort_on_overflow": abort_on_overflow, "tcp_syncookies": 0}
    )
    Server(s, PORT, backlog=backlog, accept="never").start()
    # the late clients start once the first ones completed their handshakes (a SYN ends at +3 delays)
    starts = [0.001 * i + (3 * delay if i >= backlog else 0.0) for i in range(clients)]
    apps = [Client(c, SERVER, PORT, at=at, close="never").start() for at in starts]
    net.run(until=10)
    return net, {
        "client_believes_connected": sum(1 for a in apps if a.connected_at is not None and a.error is None),
        "client_errors": [a.error for a in apps if a.error],
        "server_accept_queue": s.stack.listeners[(SERVER, PORT)].queue_lengths()[1],
        "server_syn_queue": s.stack.listeners[(SERVER, PORT)].queue_lengths()[0],
        "ListenOverflows": s.stack.counters.get("ListenOverflows", 0),
        "server_rsts": _sent(net, "server", Flags.RST),
        "client_established_sockets": _count(c, "ESTABLISHED"),
        "client_syn_sent_sockets": _count(c, "SYN_SENT"),
        "syns_dropped_accept_queue_full": sum(
            1 for r in net.of(SegmentDropped, "server") if r.reason == "accept queue full"
        ),
    }


@_scenario(
    "blind_rst",
    "An off-path attacker sprays an RST with an in-window (not exact) sequence number: RFC 793 rules reset the "
    "connection, RFC 5961 answers with a challenge ACK.",
    "路径外攻击者发送序号在窗口内（但不精确）的 RST：按 RFC 793 连接被重置，按 RFC 5961 则回复挑战 ACK，连接存活。",
    "RFC 5961 §3 (RST: exact match resets, in-window sends a challenge ACK), RFC 9293 §3.10.7.4; FreeBSD "
    "net.inet.tcp.insecure_rst.",
    rfc5961=Param(1, "RFC 5961 protection on the server", choices=(0, 1)),
    offset=Param(1000, "how far into the window the forged RST lands (bytes)", 1, 60000),
)
def _sc_blind_rst(seed: int, profile: str, rfc5961: int, offset: int) -> tuple[Network, dict[str, Any]]:
    if profile == "linux" and not rfc5961:
        raise ParameterError(
            "rfc5961",
            rfc5961,
            "1 with the linux profile (Linux always applies RFC 5961 §3); use profile freebsd or rfc9293 to switch "
            "it off",
        )
    knobs: dict[str, Any] = {}
    if profile == "freebsd":
        knobs = {"insecure_rst": 1 - rfc5961}
    elif profile == "rfc9293":
        knobs = {"rfc5961": rfc5961}
    net, c, s = _pair(seed, profile, server=knobs)
    Server(s, PORT, close="never").start()
    cli = Client(c, SERVER, PORT, data=100, close="never").start()
    net.run(until=1.0)
    conn = s.stack.conns.get(next((cid for cid in s.stack.conns if cid[2] == CLIENT), ("", 0, "", 0)))
    if conn is None:
        raise TcpkitError("blind_rst: the connection did not open")
    rst = Segment(
        src_port=conn.remote[1], dst_port=PORT, seq=(conn.rcv_nxt + offset) & 0xFFFFFFFF, flags=Flags.RST, window=0
    )
    net.inject(1.0, CLIENT, SERVER, rst, who="attacker")
    net.run(until=3)
    server_state = next((i.state.value for i in s.stack.sockets() if i.conn[2] == CLIENT), "CLOSED")
    challenge = sum(
        1 for r in net.of(SegmentSent, "server") if r.time >= 1.0 + net.delay and r.segment.flags == Flags.ACK
    )
    return net, {
        "server_state_after": server_state,
        "connection_survived": server_state == "ESTABLISHED",
        "challenge_acks": challenge,
        "client_state_after": cli.sock.state.value if cli.sock is not None else None,
    }


# --------------------------------------------------------------------------- floods and port exhaustion


@_scenario(
    "syn_flood",
    "Spoofed SYNs fill the SYN queue; honest clients get through only with SYN cookies.",
    "伪造源地址的 SYN 塞满半连接队列；只有开启 SYN cookie 时正常客户端才能连上。",
    "RFC 4987 (SYN flooding and defences), Linux tcp_conn_request and ip-sysctl.rst tcp_syncookies; "
    "tcpkit.drivers.flood for large runs. "
    "With a slow application (accept_rate) the accept queue fills too: tcp_check_req drops the final ACK "
    "(tcp_abort_on_overflow = 0) or resets the client (1), and tcp_conn_request drops SYNs while it is full "
    "(ListenOverflows).",
    syncookies=Param(1, "tcp_syncookies", choices=(0, 1, 2)),
    flood_rate=Param(50.0, "spoofed SYNs per second", 1, 2000),
    legit_rate=Param(4.0, "honest connects per second", 0.1, 100),
    duration=Param(5.0, "seconds", 1, 60),
    backlog=Param(16, "listen() backlog", 1, 1024),
    accept_rate=Param(0.0, "connections the application accepts per second; 0 = at once", 0, 10000),
    abort_on_overflow=Param(0, "tcp_abort_on_overflow (matters once the accept queue is full)", choices=(0, 1)),
)
def _sc_syn_flood(
    seed: int,
    profile: str,
    syncookies: int,
    flood_rate: float,
    legit_rate: float,
    duration: float,
    backlog: int,
    accept_rate: float,
    abort_on_overflow: int,
) -> tuple[Network, dict[str, Any]]:
    import math

    from .flood import flood_network

    if profile != "linux":
        raise ParameterError("profile", profile, "linux (the flood model follows the Linux listener)")
    rate = accept_rate if accept_rate > 0 else math.inf
    res, net = flood_network(
        duration=duration,
        flood_rate=flood_rate,
        legit_rate=legit_rate,
        backlog=backlog,
        seed=seed,
        accept_rate=rate,
        tcp_syncookies=syncookies,
        tcp_abort_on_overflow=abort_on_overflow,
    )
    return net, {
        "attempts": res.attempts,
        "connected": res.connected,
        "success_rate": round(res.success_rate, 6),
        "max_syn_queue": max((q for _, q, _ in res.samples), default=0),
        "SyncookiesSent": res.counters.get("SyncookiesSent", 0),
        "TCPReqQFullDrop": res.counters.get("TCPReqQFullDrop", 0),
        "accepted": res.accepted,
        "reset": res.reset,
        "max_accept_queue": max((q for _, _, q in res.samples), default=0),
        "ListenOverflows": res.counters.get("ListenOverflows", 0),
    }


def _port_run(
    seed: int,
    profile: str,
    ports: int,
    rate: float,
    duration: float,
    knobs: dict[str, Any],
    timestamps: int,
    bind_cycle: bool,
) -> tuple[Network, dict[str, Any]]:
    low = 61000
    client_knobs = {
        "ip_local_port_low": low,
        "ip_local_port_high": low + ports - 1,
        "tcp_timestamps": timestamps,
        **knobs,
    }
    net, c, s = _pair(seed, profile, client=client_knobs, server={"tcp_timestamps": timestamps}, delay=0.005)
    Server(s, PORT, backlog=128).start()
    n = int(duration * rate)
    if bind_cycle:  # the application picks the ports itself, round robin, with SO_REUSEADDR
        apps = [
            Client(
                c, SERVER, PORT, at=i / rate, close="close", bind=low + i % ports, sockopts={"SO_REUSEADDR": 1}
            ).start()
            for i in range(n)
        ]
    else:
        apps = [Client(c, SERVER, PORT, at=i / rate, close="close").start() for i in range(n)]
    net.run(until=duration + 1)
    ok = sum(1 for a in apps if a.connected_at is not None)
    errors: dict[str, int] = {}
    for a in apps:
        if a.error:
            errors[a.error] = errors.get(a.error, 0) + 1
    tw = _tw(profile, client_knobs)
    return net, {
        "attempts": n,
        "connected": ok,
        "errors": errors,
        "measured_per_s": round(ok / duration, 6),
        "ceiling_per_s": round(ports / tw, 6) if tw else None,
        "linux_default_ceiling_per_s": round((60999 - 32768 + 1) / 60.0, 3),
        "client_time_wait_at_end": _count(c, "TIME_WAIT"),
    }


#: Parameters shared by the two port-hungry client scenarios.
_PORT_RUN_PARAMS = {
    "ports": Param(20, "size of the client's ephemeral port range", 2, 2000),
    "rate": Param(5.0, "connects per second", 0.1, 100),
    "duration": Param(40.0, "seconds", 1, 600),
    "time_wait_len": Param(10.0, "TIME_WAIT length (s)", 1, 600),
}


def _port_scenario(
    seed: int, profile: str, ports: int, rate: float, duration: float, time_wait_len: float, tw_reuse: int, knob: str
) -> tuple[Network, dict[str, Any]]:
    if profile != "linux":
        raise ParameterError("profile", profile, f"linux ({knob} is a Linux knob)")
    return _port_run(
        seed, profile, ports, rate, duration, {"time_wait_len": time_wait_len, "tcp_tw_reuse": tw_reuse}, 1, False
    )


@_scenario(
    "time_wait_exhaustion",
    "One client opens and closes connections faster than TIME_WAIT frees ports: connect() fails with EADDRNOTAVAIL; "
    "the ceiling is ports / TIME_WAIT (28232/60 = 470 per second on Linux defaults).",
    "单个客户端开关连接的速度快于 TIME_WAIT 释放端口：connect() 以 EADDRNOTAVAIL 失败；"
    "上限为端口数 / TIME_WAIT 时长（Linux 默认 28232/60 ≈ 470 次每秒）。",
    "Linux ip-sysctl.rst ip_local_port_range, include/net/tcp.h TCP_TIMEWAIT_LEN, net/ipv4/inet_hashtables.c "
    "__inet_hash_connect.",
    **_PORT_RUN_PARAMS,
    tw_reuse=Param(
        0, "tcp_tw_reuse: 1 lets connect() take a port whose 4-tuple is in TIME_WAIT (timestamps on)", choices=(0, 1)
    ),
)
def _sc_tw_exhaustion(
    seed: int, profile: str, ports: int, rate: float, duration: float, time_wait_len: float, tw_reuse: int
) -> tuple[Network, dict[str, Any]]:
    return _port_scenario(seed, profile, ports, rate, duration, time_wait_len, tw_reuse, "ip_local_port_range")


@_scenario(
    "tw_reuse",
    "A port-hungry client (plain connect(), ephemeral ports) with tcp_tw_reuse=1 and timestamps: connect() takes a "
    "port whose 4-tuple is still in TIME_WAIT once its last timestamp is over 1 s old, because timestamps (PAWS) "
    "make old segments harmless.",
    "缺端口的客户端（普通 connect()，临时端口）开启 tcp_tw_reuse=1 和时间戳："
    "当 TIME_WAIT 四元组的最后时间戳已超过 1 秒，connect() "
    "便可复用该端口，因为时间戳（PAWS）让旧报文无害。",
    "Linux ip-sysctl.rst tcp_tw_reuse / tcp_tw_reuse_delay, net/ipv4/inet_hashtables.c __inet_hash_connect / "
    "__inet_check_established, net/ipv4/tcp_ipv4.c tcp_twsk_unique; RFC 7323 §5 (PAWS), RFC 6191.",
    **_PORT_RUN_PARAMS,
    tw_reuse=Param(1, "tcp_tw_reuse", choices=(0, 1)),
)
def _sc_tw_reuse(
    seed: int, profile: str, ports: int, rate: float, duration: float, time_wait_len: float, tw_reuse: int
) -> tuple[Network, dict[str, Any]]:
    return _port_scenario(seed, profile, ports, rate, duration, time_wait_len, tw_reuse, "tcp_tw_reuse")


@_scenario(
    "tw_recycle_nat",
    "HISTORICAL (tcp_tw_recycle, removed in Linux 4.12): a server remembering the last timestamp per client address "
    "drops SYNs from a second client behind the same NAT.",
    "历史行为（tcp_tw_recycle，已在 Linux 4.12 中移除）："
    "按客户端地址记录最近时间戳的服务器，会丢弃同一 NAT 后第二个客户端的 SYN。",
    "Linux < 4.12 tcp_v4_conn_request / tcp_peer_is_proven (per-host PAWS with TCP_PAWS_MSL = 60 s); removal: "
    "commit 4396e46187ca (2017); RFC 7323 §5 and Appendix B.",
    recycle=Param(1, "model the removed per-host PAWS check", choices=(0, 1)),
    clients=Param(2, "hosts behind the NAT", 2, 10),
)
def _sc_tw_recycle(seed: int, profile: str, recycle: int, clients: int) -> tuple[Network, dict[str, Any]]:
    if profile != "linux":
        raise ParameterError("profile", profile, "linux (tw_recycle was a Linux knob)")
    net = Network(seed=seed)
    s = net.add_host("server", SERVER, profile=profile)
    names = [f"client{i + 1}" for i in range(clients)]
    rng = net.rng("ts clocks")
    hosts = []
    for i, name in enumerate(names):
        # every host its own timestamp clock (before Linux 4.10 there were no per-connection offsets)
        hosts.append(
            net.add_host(
                name,
                f"10.0.0.{i + 2}",
                profile=profile,
                tcp_timestamps=2,
                ts_offset=rng.getrandbits(31) if i else 2_000_000_000,
            )
        )
    nat = net.add_nat("203.0.113.1", names)
    last: dict[str, tuple[int, float]] = {}  # per source address: (latest TSval, when)
    drops = {"n": 0}

    def per_host_paws(now: float, i: int, seg: Segment) -> bool:
        ts = seg.timestamp
        if ts is None:
            return False
        prev = last.get(nat.public_addr)
        if (
            recycle
            and seg.syn
            and not seg.has_ack
            and prev is not None
            and now - prev[1] < 60.0
            and ((prev[0] - ts[0]) & 0xFFFFFFFF) < 0x80000000
            and prev[0] != ts[0]
        ):
            drops["n"] += 1
            return True
        if not seg.syn:
            last[nat.public_addr] = (ts[0], now)
        return False

    for name in names:
        net.link(name, "server", rules=[DropIf(per_host_paws, "tw_recycle per-host PAWS (removed in Linux 4.12)")])
    Server(s, PORT, close="after_send", reply=10).start()
    apps = [Client(h, SERVER, PORT, at=1.0 * i, close="on_eof").start() for i, h in enumerate(hosts)]
    net.note("server", "tcp_tw_recycle is modelled here as it was before Linux 4.12; the knob no longer exists")
    net.run(until=clients + 10)
    return net, {
        "connected": [a.connected_at is not None for a in apps],
        "syns_dropped": drops["n"],
        "server_time_wait": _count(s, "TIME_WAIT"),
        "modelled_removed_knob": bool(recycle),
    }


# --------------------------------------------------------------------------- command line
