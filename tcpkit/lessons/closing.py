"""Engine runs for notebooks 04-06: how a close is shaped, lingering, giving up, TIME_WAIT in practice, ``ss`` timers.

Each function builds a seeded simulation (:mod:`tcpkit.drivers.sim`), runs it
and returns numbers read from the engine, never typed in: how many segments a
close takes (:func:`close_segments`, :func:`close_shapes`), when ``close()``
with ``SO_LINGER`` returns (:func:`linger_close`), when a connection to a dead
or silent peer gives up (:func:`give_up`, :func:`give_up_table`), what
``tcp_max_tw_buckets`` does (:func:`tw_buckets`), whose ports TIME_WAIT holds
(:func:`port_use`) and the sockets of a host the way ``ss -tano`` prints them,
timers included (:func:`ss_lines`).  The question bank's rules
(:mod:`tcpkit.lessons.rules`) call the same functions, so a notebook's table
and the answer to its question cannot disagree.

Examples
--------
>>> close_segments(data=True, server_delay=0.01).count, close_segments(data=True, server_delay=1.0).count
(3, 4)
>>> round(give_up("retries2").after, 1)
924.8
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from typing import Any

from tcpkit.capture import read_capture
from tcpkit.drivers.apps import Client, Server
from tcpkit.drivers.links import BlackHole
from tcpkit.drivers.sim import Host, Network, Socket
from tcpkit.engine.errors import ParameterError, TcpError
from tcpkit.engine.states import State
from tcpkit.engine.trace import SegmentReceived, SegmentSent, StateChanged, Trace

from .runs import connected_pair
from .text import Table

__all__ = [
    "CloseShape",
    "close_segments",
    "close_shapes",
    "linger_close",
    "GiveUp",
    "GIVE_UP_CASES",
    "give_up",
    "give_up_table",
    "tw_buckets",
    "port_use",
    "ss_lines",
    "ss_snapshots",
    "sockstat",
    "CAPTURES",
    "shipped_capture",
    "capture_close",
]

_CLIENT, _SERVER = "10.0.0.1", "10.0.0.2"


def _pair(
    seed: int, client: dict[str, Any] | None = None, opts: dict[str, Any] | None = None
) -> tuple[Network, Socket, Socket]:
    """A connected client and server whose client socket got ``opts`` before connect() (keepalive must be armed)."""
    net = Network(seed=seed)
    c = net.add_host("client", _CLIENT, **(client or {}))
    s = net.add_host("server", _SERVER)
    listener = s.socket()
    listener.bind(80)
    listener.listen(8)
    sock = c.socket()
    for name, value in (opts or {}).items():
        sock.setsockopt(name, value)
    sock.connect(_SERVER, 80)
    net.run(until=0.5)
    return net, sock, listener.accept()


# ------------------------------------------------------------------------------------------- 04: three or four
@dataclass(frozen=True)
class CloseShape:
    """The segments of one close: from the client's FIN on, those that carry a FIN or acknowledge one."""

    count: int
    segments: list[str]
    client_path: list[str]


def close_segments(*, data: bool, server_delay: float, seed: int = 1) -> CloseShape:
    """The client (maybe after 100 bytes) closes at 1 s; the server reads and closes ``server_delay`` after the FIN.

    Linux acknowledges a FIN at once before any data has flowed, and otherwise puts
    CLOSE_WAIT in delayed-ACK (pingpong) mode (``tcp_fin()``, ``net/ipv4/tcp_input.c``):
    a FIN sent within the delayed-ACK time carries the ACK, and the close takes 3 segments.

    Examples
    --------
    >>> s = close_segments(data=False, server_delay=0.01)
    >>> s.count, s.segments[0]
    (4, 'client F.')
    """
    if server_delay < 0:
        raise ParameterError("server_delay", server_delay, "a time >= 0 (seconds)")

    def run(close_at: float | None) -> Network:
        net, cli, srv = connected_pair(seed)
        if data:
            net.at(1.0, cli.send, b"x" * 100)
        net.at(1.0, cli.close)
        if close_at is not None:

            def read_and_close() -> None:
                srv.recv(1000)
                srv.close()

            net.at(close_at, read_and_close)
        net.run(until=(close_at or 1.0) + 2.0)
        return net

    # same seed, same trace: a first run tells when the FIN reaches the server
    fin_at = next(r.time for r in run(None).of(SegmentReceived, "server") if r.segment.fin)
    net = run(fin_at + server_delay)
    sent = [r for r in net.trace().records if isinstance(r, SegmentSent) and r.time >= 1.0]
    fin_seq = {r.host: r.segment.seq for r in sent if r.segment.fin}
    out: list[str] = []
    for r in sent:
        peer = "server" if r.host == "client" else "client"
        acks_fin = peer in fin_seq and r.segment.has_ack and r.segment.ack == (fin_seq[peer] + 1) % 2**32
        if r.segment.fin or acks_fin:
            out.append(f"{r.host} {r.segment.notation().split(' ')[0]}")
    return CloseShape(len(out), out, [s.value for _, s in net.trace().states("client")][2:])


def close_shapes(seed: int = 1) -> Table:
    """Three closes side by side: no data and a quick close, data and a quick close, data and a slow close."""
    rows = []
    for data, delay in ((False, 0.01), (True, 0.01), (True, 1.0)):
        s = close_segments(data=data, server_delay=delay, seed=seed)
        rows.append(
            [
                "100 bytes, then close()" if data else "no data, close()",
                f"{delay * 1000:g} ms",
                s.count,
                ", ".join(s.segments),
            ]
        )
    return Table(["the client sends", "server closes after the FIN by", "segments", "the close on the wire"], rows)


# ------------------------------------------------------------------------------------------- 04: SO_LINGER
def linger_close(seconds: int, *, peer_alive: bool, seed: int = 1) -> dict[str, Any]:
    """The client calls close() at 1 s with ``SO_LINGER`` on and ``seconds`` (> 0); the peer answers or is dead.

    Linux ``__tcp_close()`` sends the FIN, then ``sk_stream_wait_close()`` (``net/core/stream.c``)
    blocks the caller while the socket is in FIN_WAIT_1, CLOSING or LAST_ACK, at most
    ``seconds``; then close() returns 0 and the close goes on without the application.
    The engine does not block: this reads when that condition ended from the states.

    Examples
    --------
    >>> r = linger_close(5, peer_alive=False)
    >>> r["returns_after"], r["state_then"]
    (5.0, 'FIN_WAIT_1')
    """
    if not isinstance(seconds, int) or seconds <= 0:
        raise ParameterError("seconds", seconds, "an integer > 0 (SO_LINGER 0 is the abortive close)")
    net, cli, _srv = connected_pair(seed)
    cli.setsockopt("SO_LINGER", (1, seconds))
    if not peer_alive:
        net.link("server", "client", rules=[BlackHole(after=0.9)])
        net.link("client", "server", rules=[BlackHole(after=0.9)])
    net.at(1.0, cli.close)
    net.run(until=1.0 + seconds + 300)
    waiting = (State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK)
    states = [(t, s) for t, s in net.trace().states("client") if t >= 1.0]
    left = next((t for t, s in states if s not in waiting), None)
    returns = min(left - 1.0, float(seconds)) if left is not None else float(seconds)
    at = 1.0 + returns
    then = [s for t, s in states if t <= at + 1e-9][-1]
    fins = sum(1 for r in net.of(SegmentSent, "client") if r.segment.fin)
    end = next((t for t, s in states if s is State.CLOSED), None)
    return {
        "returns_after": round(returns, 6),
        "state_then": then.value,
        "fins_sent": fins,
        "path": [s.value for _, s in states],
        "gone_at": None if end is None else round(end, 6),
    }


# ------------------------------------------------------------------------------------------- 05: giving up
@dataclass(frozen=True)
class GiveUp:
    """When a connection to a dead peer (or one that never reads) gave up, and how."""

    case: str
    after: float | None  # seconds after the peer went silent (None: never, within the run)
    sent: int  # segments the client sent after that
    error: str | None
    path: list[str]


#: case -> (what the client does, client socket options set before connect)
GIVE_UP_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "retries2": ("sends 100 bytes to a dead peer (tcp_retries2 = 15)", {}),
    "user_timeout": ("the same, with TCP_USER_TIMEOUT = 30 s", {"TCP_USER_TIMEOUT": 30_000}),
    "keepalive": (
        "idle, keepalive 10 s + 3 probes 5 s apart",
        {"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3},
    ),
    "keepalive_user_timeout": (
        "idle, the same keepalive with TCP_USER_TIMEOUT = 40 s",
        {"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": 10, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 3, "TCP_USER_TIMEOUT": 40_000},
    ),
    "zero_window_open": ("the peer is alive but never reads: the window is closed, the socket open", {}),
    "zero_window_orphan": ("the same, and the client calls close() (FIN_WAIT_1 behind the zero window)", {}),
}


def give_up(case: str, *, seed: int = 1, until: float = 1500.0) -> GiveUp:
    """Run one of :data:`GIVE_UP_CASES`; the peer goes silent (or stops reading) at 1 s.

    Examples
    --------
    >>> g = give_up("user_timeout")
    >>> round(g.after, 1), g.error
    (30.0, 'ETIMEDOUT')
    """
    if case not in GIVE_UP_CASES:
        raise ParameterError("case", case, "one of " + ", ".join(GIVE_UP_CASES))
    _what, opts = GIVE_UP_CASES[case]
    net, cli, _srv = _pair(seed, opts=opts)
    start = 1.0
    if case.startswith("zero_window"):
        net.at(start, cli.send, b"x" * 2_000_000)  # far more than the server's receive buffer; it never reads
        if case == "zero_window_orphan":
            start = 5.0
            net.at(start, cli.close)
    else:
        for a, b in (("client", "server"), ("server", "client")):
            net.link(a, b, rules=[BlackHole(after=start)])
        if not case.startswith("keepalive"):
            net.at(start, cli.send, b"x" * 100)
    net.run(until=until)
    end = next((r.time for r in net.of(StateChanged, "client") if r.dst is State.CLOSED), None)
    if case.startswith("keepalive") and end is not None:
        # keepalive counts idleness from the last segment received, not from the silence
        last = max(r.time for r in net.of(SegmentReceived, "client") if r.time <= start)
        after: float | None = end - last
    else:
        after = None if end is None else end - start
    sent = sum(1 for r in net.of(SegmentSent, "client") if r.time >= start)
    try:
        err = cli.error or None
    except TcpError:  # the application closed its descriptor: nobody is told
        err = None
    path = [s.value for _, s in net.trace().states("client")][2:]
    return GiveUp(case, None if after is None else round(after, 6), sent, err, path)


def give_up_table(cases: tuple[str, ...] = tuple(GIVE_UP_CASES), seed: int = 1) -> Table:
    """One row per case of :data:`GIVE_UP_CASES`: when and how the client gave up."""
    rows = []
    for case in cases:
        g = give_up(case, seed=seed)
        rows.append(
            [
                GIVE_UP_CASES[case][0],
                "never (within 1500 s)" if g.after is None else f"{g.after:g} s",
                g.sent,
                g.error or "-",
                " → ".join(g.path),
            ]
        )
    return Table(["the client", "gives up after", "segments sent", "error", "client path"], rows)


# ------------------------------------------------------------------------------------------- 05: TIME_WAIT
def tw_buckets(limit: int, connections: int = 6, seed: int = 1) -> dict[str, Any]:
    """``connections`` connections close one by one, the client first, on a host with ``tcp_max_tw_buckets = limit``.

    Examples
    --------
    >>> tw_buckets(3)["time_wait"], tw_buckets(3)["counters"]["TCPTimeWaitOverflow"]
    (3, 3)
    """
    net = Network(seed=seed)
    c = net.add_host("client", _CLIENT, tcp_max_tw_buckets=limit)
    s = net.add_host("server", _SERVER)
    Server(s, 80, backlog=64).start()
    for i in range(connections):
        Client(c, _SERVER, 80, at=0.1 * i, close_at=1.0 + 0.1 * i).start()
    net.run(until=5.0)
    paths: dict[Any, list[str]] = {}
    for r in net.of(StateChanged, "client"):
        paths.setdefault(r.conn, []).append(r.dst.value)
    return {
        "time_wait": sum(1 for i in c.stack.sockets() if i.state is State.TIME_WAIT),
        "counters": {k: v for k, v in c.stack.counters.items() if k in ("ActiveOpens", "TCPTimeWaitOverflow")},
        "paths": sorted({" → ".join(p[-3:]) for p in paths.values()}),
    }


def port_use(
    *, closes_first: str = "client", destinations: int = 1, bind_first: bool = False, seed: int = 1
) -> dict[str, Any]:
    """A client with 20 ephemeral ports opens 40 short connections in 8 s (5 a second) to ``destinations`` server ports.

    ``closes_first``: which side closes first (and so holds TIME_WAIT).  ``bind_first``: the
    client calls ``bind(0)`` before each ``connect()``, so the kernel picks the port without
    knowing the destination (Linux ``inet_csk_get_port()``), not per 4-tuple as ``connect()``
    does (``__inet_hash_connect()``).

    Examples
    --------
    >>> port_use()["connected"], port_use(closes_first="server")["connected"]
    (20, 40)
    """
    if closes_first not in ("client", "server"):
        raise ParameterError("closes_first", closes_first, "'client' or 'server'")
    if not isinstance(destinations, int) or not 1 <= destinations <= 4:
        raise ParameterError("destinations", destinations, "an integer from 1 to 4")
    net = Network(seed=seed, delay=0.005)
    c = net.add_host("client", _CLIENT, ip_local_port_low=61000, ip_local_port_high=61019)
    s = net.add_host("server", _SERVER)
    ports = [80 + i for i in range(destinations)]
    for p in ports:
        if closes_first == "server":
            Server(s, p, backlog=64, close="after_send", reply=b"ok").start()
        else:
            Server(s, p, backlog=64).start()
    errors: dict[str, int] = {}
    connected = 0
    if bind_first:
        # the application binds port 0 first, then connects; Client() would bind a fixed port
        socks: list[Socket] = []

        def attempt(i: int) -> None:
            nonlocal connected
            sock = c.socket()
            try:
                sock.bind(0)
                sock.connect(_SERVER, ports[i % destinations])
            except TcpError as err:
                errors[err.errno_name] = errors.get(err.errno_name, 0) + 1
                sock.close()
                return
            connected += 1
            socks.append(sock)
            net.at(net.now + 0.1, sock.close)

        for i in range(40):
            net.at(i * 0.2, attempt, i)
        net.run(until=9.0)
    else:
        apps = [
            Client(
                c,
                _SERVER,
                ports[i % destinations],
                at=i * 0.2,
                close="on_eof" if closes_first == "server" else "close",
            ).start()
            for i in range(40)
        ]
        net.run(until=9.0)
        for a in apps:
            if a.error:
                errors[a.error] = errors.get(a.error, 0) + 1
        connected = sum(1 for a in apps if a.connected_at is not None)
    return {
        "connected": connected,
        "errors": errors,
        "client_time_wait": sum(1 for i in c.stack.sockets() if i.state is State.TIME_WAIT),
        "server_time_wait": sum(1 for i in s.stack.sockets() if i.state is State.TIME_WAIT),
    }


# ------------------------------------------------------------------------------------------- 06: ss -tano
#: engine timer -> the name ``ss`` prints (iproute2 ``misc/ss.c`` ``tmr_name``; kernel ``inet_sk_diag_fill()``
#: sets ``idiag_timer`` 1 for retransmit, loss probe; 2 for ``sk_timer`` (keepalive, orphaned FIN_WAIT_2);
#: 4 for the zero-window probe; ``inet_twsk_diag_fill()`` 3 for TIME_WAIT)
_SS_TIMER: dict[str, str] = {
    "rexmt": "on",
    "tlp": "on",
    "persist": "persist",
    "keepalive": "keepalive",
    "fin_wait_2": "keepalive",
    "time_wait": "timewait",
}
#: ``TCP_TIMEWAIT_LEN`` (include/net/tcp.h), seconds
_TIMEWAIT_LEN = 60.0
#: the order ``ss`` reports them in when several are pending (the retransmit family first)
_SS_ORDER = ("rexmt", "tlp", "persist", "fin_wait_2", "keepalive", "time_wait")


def _ss_state(state: State) -> str:
    return {"SYN_RECEIVED": "SYN-RECV"}.get(state.value, state.value.replace("_", "-"))


def _ss_time(seconds: float) -> str:
    """``ss``'s ``print_ms_timer()``: minutes, then seconds, then milliseconds."""
    ms = max(0, round(seconds * 1000))
    out = ""
    if ms >= 60_000:
        out += f"{ms // 60_000}min"
        ms %= 60_000
    if ms >= 1000:
        out += f"{ms // 1000}sec"
        ms %= 1000
    if ms or not out:
        out += f"{ms}ms"
    return out


def ss_lines(host: Host, now: float) -> list[str]:
    """``ss -tano``-like lines for the engine's sockets on ``host`` at time ``now``.

    Columns: state, Recv-Q, Send-Q, local, peer, and the pending timer as
    ``timer:(name,expires,retransmits)``.  Recv-Q/Send-Q of a listener are its
    accept-queue length and backlog (what ``ss`` reads over inet_diag); of a
    connection, bytes unread and bytes not yet acknowledged.

    Examples
    --------
    >>> net, cli, srv = connected_pair()
    >>> _ = net.at(1.0, cli.close), net.at(1.0, srv.close); net.run(until=2.0)
    >>> ss_lines(net.hosts["client"], net.now)
    ['TIME-WAIT  0  0  10.0.0.1:... 10.0.0.2:80  timer:(timewait,59sec20ms,0)']
    """
    lines = []
    stack = host.stack
    for info in stack.sockets():
        la, lp, ra, rp = info.conn
        conn = stack.conns.get(info.conn)
        if info.state is State.LISTEN:
            lst = stack.listeners.get((la, lp))
            rq, sq = (len(lst.accept_queue), lst.backlog) if lst is not None else (0, 0)
            timer = ""
        elif conn is not None:
            rq = len(conn.recvq.data)
            sq = (conn.snd.max - conn.snd.una) % 2**32 if info.state is not State.TIME_WAIT else 0
            pending = [n for n in _SS_ORDER if n in conn.timer]
            if info.state is State.TIME_WAIT:
                pending = ["time_wait"]
                deadline = conn.timer.get("time_wait")
            else:
                deadline = conn.timer.get(pending[0]) if pending else None
            timer = ""
            if pending and deadline is not None:
                retrans = conn.rexmit.retransmits if _SS_TIMER[pending[0]] == "on" else conn.rexmit.persist_probes
                if _SS_TIMER[pending[0]] == "keepalive":
                    retrans = conn.keep.probes
                if pending[0] == "time_wait":
                    retrans = 0
                name = _SS_TIMER[pending[0]]
                if pending[0] == "fin_wait_2" and deadline - now <= _TIMEWAIT_LEN:
                    # Linux tcp_close(): an orphan's last TCP_TIMEWAIT_LEN in FIN_WAIT_2 is spent as a
                    # timewait mini-socket (substate FIN_WAIT2); before that, on the keepalive timer
                    name = "timewait"
                timer = f"  timer:({name},{_ss_time(deadline - now)},{retrans})"
        else:
            rq = sq = 0
            timer = ""
        lines.append(f"{_ss_state(info.state)}  {rq}  {sq}  {la}:{lp} {ra}:{rp}{timer}")
    return lines


def ss_snapshots(seed: int = 1) -> Table:
    """``ss -tano`` lines of both hosts at three moments of a close (client first, server 1 s later), then a resend.

    Examples
    --------
    >>> t = ss_snapshots()
    >>> [r[2].split("timer:(")[-1].split(",")[0] for r in t.rows if "TIME-WAIT" in r[2]]
    ['timewait']
    """
    net, cli, srv = _pair(seed, opts={"SO_KEEPALIVE": 1})
    moments = (
        (0.6, "connected, idle, SO_KEEPALIVE on"),
        (1.5, "the client closed at 1 s"),
        (2.5, "the server closed at 2 s"),
    )
    net.at(1.0, cli.close)
    net.at(2.0, srv.close)
    rows: list[list[str]] = []
    for t, what in moments:
        net.run(until=t)
        for name in ("client", "server"):
            for line in ss_lines(net.hosts[name], net.now):
                if not line.startswith("LISTEN"):
                    rows.append([f"{t:g} s: {what}", name, line])
        counts = sockstat(net.hosts["client"], net.now)
        rows.append([f"{t:g} s: {what}", "client, ss -s", ", ".join(f"{k} {v}" for k, v in counts.items())])
    # a retransmission in progress: data towards a peer that has gone silent
    net2, cli2, _srv2 = _pair(seed)
    for a, b in (("client", "server"), ("server", "client")):
        net2.link(a, b, rules=[BlackHole(after=1.0)])
    net2.at(1.0, cli2.send, b"x" * 100)
    net2.run(until=3.0)
    for line in ss_lines(net2.hosts["client"], net2.now):
        rows.append(["3 s: 100 bytes sent at 1 s, the peer silent", "client", line])
    return Table(["moment", "host", "ss -tano"], rows)


def sockstat(host: Host, now: float) -> dict[str, int]:
    """The counts ``ss -s`` prints for TCP (from ``/proc/net/sockstat``): established, orphaned, TIME_WAIT.

    ``orphaned`` counts full sockets whose application has closed them (Linux
    ``tcp_orphan_count``); ``timewait`` the TIME_WAIT mini sockets (``tw_count``), which
    include an orphan's last ``TCP_TIMEWAIT_LEN`` of FIN_WAIT_2 (``tcp_close()`` hands it to
    ``tcp_time_wait()``, as :func:`ss_lines` shows).

    Examples
    --------
    >>> net, cli, srv = connected_pair()
    >>> _ = net.at(1.0, cli.send, b"x" * 10_000_000), net.at(1.0, cli.close); net.run(until=1.5)
    >>> sockstat(net.hosts["client"], net.now)
    {'estab': 0, 'orphaned': 1, 'timewait': 0}
    """

    def mini(c: Any) -> bool:
        if c.state is State.TIME_WAIT:
            return True
        deadline = c.timer.get("fin_wait_2") if c.state is State.FIN_WAIT_2 and c.orphan else None
        return deadline is not None and deadline - now <= _TIMEWAIT_LEN

    conns = list(host.stack.conns.values())
    return {
        "estab": sum(1 for c in conns if c.state is State.ESTABLISHED),
        "orphaned": sum(1 for c in conns if c.orphan and c.state is not State.CLOSED and not mini(c)),
        "timewait": sum(1 for c in conns if mini(c)),
    }


#: the real loopback captures shipped in tcpkit/data/captures (recorded on Linux 6.18, see its README)
CAPTURES = ("client_closes_first", "server_closes_first", "half_close", "abort_rst", "connection_refused")


def shipped_capture(name: str) -> Trace:
    """One of :data:`CAPTURES`, read and annotated (both sides' states rebuilt from the packets).

    Examples
    --------
    >>> [s.value for _, s in shipped_capture("connection_refused").states("client")]
    ['CLOSED', 'SYN_SENT', 'CLOSED']
    """
    if name not in CAPTURES:
        raise ParameterError("capture", name, "one of " + ", ".join(CAPTURES))
    data = importlib.resources.files("tcpkit").joinpath("data", "captures", f"{name}.pcap").read_bytes()
    return read_capture(data).annotate()


def capture_close(name: str = "client_closes_first") -> Table:
    """The close in a shipped capture: every segment from the first FIN on, with its time after that FIN in ms.

    Examples
    --------
    >>> t = capture_close()
    >>> [r[1] for r in t.rows]
    ['client F.', 'server .', 'server F.', 'client .']
    """
    trace = shipped_capture(name)
    sent = [r for r in trace.records if isinstance(r, SegmentSent)]
    first = next((r.time for r in sent if r.segment.fin), None)
    if first is None:
        raise ParameterError("capture", name, "a capture with a FIN in it")
    rows = [
        [f"{(r.time - first) * 1000:.3f}", f"{r.host} {r.segment.notation().split(' ')[0]}", r.segment.ack]
        for r in sent
        if r.time >= first
    ]
    return Table(["ms after the first FIN", "segment", "ack"], rows)
