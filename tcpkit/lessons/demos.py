"""Small engine runs the notebooks show as tables: options, a port scan, resets, half-open connections, cookies.

Each function builds a seeded simulation (:mod:`tcpkit.drivers.sim`), runs it
and returns numbers read from the engine, never typed in: the options a
handshake negotiated (:func:`handshake_options`), a SYN scan of a host with
some ports open (:func:`syn_scan`), what each kind of unexpected segment earns
(:func:`reset_cases`), a host that crashes under an open connection
(:func:`half_open`), how many requests a SYN queue holds (:func:`syn_queue_probe`),
a SYN-cookie connection that meets a full accept queue (:func:`cookie_stall`) and
a burst of clients against a listen backlog (:func:`burst`).  The question
bank's rules (:mod:`tcpkit.lessons.rules`) call the same functions, so a
notebook's table and the answer to its question cannot disagree.

Examples
--------
>>> n = handshake_options(client={"tcp_timestamps": 0})
>>> sorted(n.used("client")), sorted(n.used("server"))
(['mss', 'sack', 'wscale'], ['mss', 'sack', 'wscale'])
>>> scan = syn_scan(range(20, 26), open_ports=(22,), filtered=(25,))
>>> [(p, v) for p, _, v in scan.rows]
[(20, 'closed'), (21, 'closed'), (22, 'open'), (23, 'closed'), (24, 'closed'), (25, 'filtered')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tcpkit.drivers.links import DropIf
from tcpkit.drivers.scenarios import run_scenario
from tcpkit.drivers.sim import Network
from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import Flags, Segment, format_flags
from tcpkit.engine.trace import QueueChanged, SegmentReceived, SegmentSent, Trace
from tcpkit.widgets.queue_lab import BurstRun, burst_run

from .runs import reboot
from .text import Table

__all__ = [
    "OPTIONS",
    "Negotiation",
    "handshake_options",
    "Scan",
    "syn_scan",
    "reset_cases",
    "half_open",
    "blind_reset",
    "syn_queue_probe",
    "cookie_stall",
    "burst",
    "BURST",
]

#: The four handshake options, in the order a Linux SYN lists them: key -> how the notebooks name it.
OPTIONS: dict[str, str] = {
    "mss": "MSS",
    "wscale": "window scale",
    "sack": "SACK permitted",
    "ts": "timestamps",
}


def _offered(seg: Segment) -> dict[str, str]:
    return {
        "mss": str(seg.mss) if seg.mss is not None else "-",
        "wscale": f"shift {seg.wscale}" if seg.wscale is not None else "-",
        "sack": "yes" if seg.sack_permitted else "-",
        "ts": "yes" if seg.timestamp is not None else "-",
    }


def _uses(info: Mapping[str, Any]) -> dict[str, str]:
    opts = info.get("options", {})
    ws = opts.get("wscale")
    return {
        "mss": f"{info.get('tcpi_snd_mss')} bytes of data per segment",
        "wscale": f"sends x 2^{ws[0]}, receives x 2^{ws[1]}" if ws else "no (windows of at most 65,535 bytes)",
        "sack": "yes" if opts.get("sack") else "no",
        "ts": "yes" if opts.get("timestamps") else "no",
    }


@dataclass(frozen=True)
class Negotiation:
    """What one handshake's SYNs offered and what each side's connection then uses.

    ``syn``/``synack`` map an option key of :data:`OPTIONS` to what the segment
    offered (``"-"``: not offered); ``client``/``server`` to what the side's
    connection uses, read from its ``TCP_INFO``.
    """

    syn: dict[str, str]
    synack: dict[str, str]
    client: dict[str, str]
    server: dict[str, str]
    trace: Trace = field(repr=False, compare=False)
    #: bytes of data in a full segment, as each side sends them (``tcpi_snd_mss``)
    segment_size: dict[str, int] = field(default_factory=dict, compare=False)

    def used(self, side: str) -> set[str]:
        """The option keys side ``"client"`` or ``"server"`` uses (MSS always: every side obeys the peer's)."""
        if side not in ("client", "server"):
            raise ParameterError("side", side, "'client' or 'server'")
        got = self.client if side == "client" else self.server
        return (
            {"mss"} | {k for k in ("sack", "ts") if got[k] == "yes"} | ({"wscale"} if "2^" in got["wscale"] else set())
        )

    def table(self, *columns: str) -> Table:
        """One row per option; ``columns`` picks among ``syn``, ``synack``, ``client``, ``server`` (default all)."""
        heads = {
            "syn": "the client's SYN offers",
            "synack": "the server's SYN-ACK offers",
            "client": "the client's connection uses",
            "server": "the server's connection uses",
        }
        cols = columns or tuple(heads)
        bad = [c for c in cols if c not in heads]
        if bad:
            raise ParameterError("column", bad[0], "one of " + ", ".join(heads))
        return Table(
            ["option", *(heads[c] for c in cols)],
            [[name, *(getattr(self, c)[k] for c in cols)] for k, name in OPTIONS.items()],
        )


def handshake_options(
    *, client: Mapping[str, Any] | None = None, server: Mapping[str, Any] | None = None, seed: int = 1
) -> Negotiation:
    """Run one handshake between two Linux hosts with the knobs given and report its options.

    Parameters
    ----------
    client, server : dict, optional
        Knobs of each host, e.g. ``{"tcp_timestamps": 0}`` or ``{"tcp_syncookies": 2}``.
    seed : int

    Returns
    -------
    Negotiation

    Examples
    --------
    >>> n = handshake_options()
    >>> n.syn["mss"], n.client["mss"], n.server["sack"]
    ('1460', '1448 bytes of data per segment', 'yes')

    Notes
    -----
    RFC 9293 §3.7.1 (MSS: each side announces what it can receive), RFC 7323 §1.3,
    §2.2 and §3.2 (window scale and timestamps are used only when both SYNs carry them),
    RFC 2018 §2 (SACK-permitted likewise).
    """
    net = Network(seed=seed)
    c = net.add_host("client", "10.0.0.1", **dict(client or {}))
    s = net.add_host("server", "10.0.0.2", **dict(server or {}))
    listener = s.socket()
    listener.bind(80)
    listener.listen(8)
    sock = c.socket()
    sock.connect("10.0.0.2", 80)
    net.run(until=1)
    accepted = listener.accept()
    syn = next(r.segment for r in net.of(SegmentSent, "client") if r.segment.syn)
    synack = next(r.segment for r in net.of(SegmentSent, "server") if r.segment.syn)
    infos = {"client": sock.getsockopt("TCP_INFO"), "server": accepted.getsockopt("TCP_INFO")}
    return Negotiation(
        _offered(syn),
        _offered(synack),
        _uses(infos["client"]),
        _uses(infos["server"]),
        net.trace(scenario="handshake options"),
        {side: int(info["tcpi_snd_mss"]) for side, info in infos.items()},
    )


# ------------------------------------------------------------------------------------------- a SYN scan
@dataclass(frozen=True)
class Scan:
    """A SYN scan: one row per port ``(port, answer, verdict)``, what the target's applications saw, the trace."""

    rows: list[tuple[int, str, str]]
    connections_accepted: int
    target_counters: dict[str, int]
    trace: Trace = field(repr=False)

    def table(self) -> Table:
        return Table(["port", "answer to the SYN", "verdict"], [list(r) for r in self.rows])

    def ports(self, verdict: str) -> list[int]:
        """The ports with ``verdict`` (``open``, ``closed`` or ``filtered``)."""
        return [p for p, _, v in self.rows if v == verdict]


def syn_scan(ports: Iterable[int], *, open_ports: Iterable[int], filtered: Iterable[int] = (), seed: int = 1) -> Scan:
    """A scanner sends one SYN to each port of a target and sorts the ports by the answer.

    The target listens on ``open_ports``; a firewall in front of it silently drops
    SYNs to ``filtered``.  The scanner sends raw SYNs (it has no socket), so its own
    kernel answers each SYN-ACK with an RST and no handshake ever completes.

    Parameters
    ----------
    ports : iterable of int
        The ports probed, in order, 10 ms apart.
    open_ports : iterable of int
        Ports with a listening socket on the target.
    filtered : iterable of int
        Ports whose SYNs a firewall drops.
    seed : int

    Returns
    -------
    Scan

    Examples
    --------
    >>> s = syn_scan([80, 81], open_ports=[80])
    >>> s.table().rows
    [[80, 'S.', 'open'], [81, 'R.', 'closed']]
    >>> s.connections_accepted
    0

    Notes
    -----
    An open port answers with a SYN-ACK (RFC 9293 §3.10.7.2), a closed one with an
    RST (§3.10.7.1); silence means something dropped the SYN.  This is nmap's
    ``-sS`` scan (https://nmap.org/book/synscan.html).
    """
    ports = [int(p) for p in ports]
    opened, blocked = set(open_ports), set(filtered)
    net = Network(seed=seed)
    net.add_host("scanner", "203.0.113.9")
    target = net.add_host("target", "10.0.0.2")
    net.link("scanner", "target", rules=[DropIf(lambda _t, _i, seg: seg.dst_port in blocked, "firewall drops")])
    listeners = []
    for p in sorted(opened):
        lst = target.socket()
        lst.bind(p)
        lst.listen(8)
        listeners.append(lst)
    for i, p in enumerate(ports):
        syn = Segment(src_port=51000, dst_port=p, seq=1000, flags=Flags.SYN, window=1024)
        net.inject(0.01 * i, "203.0.113.9", "10.0.0.2", syn, who="scanner")
    net.run(until=0.01 * len(ports) + 3)
    answers: dict[int, str] = {}
    for r in net.of(SegmentReceived, "scanner"):
        answers.setdefault(r.segment.src_port, format_flags(r.segment.flags))
    rows = []
    for p in ports:
        a = answers.get(p)
        verdict = "filtered" if a is None else ("open" if a == "S." else "closed")
        rows.append((p, a or "(nothing)", verdict))
    accepted = sum(1 for lst in listeners if "in" in lst.poll())
    counters = {k: v for k, v in target.stack.counters.items() if v}
    return Scan(rows, accepted, counters, net.trace(scenario="SYN scan"))


# ------------------------------------------------------------------------------------------- resets
def _answer(net: Network, host: str, after: float) -> str:
    seg = next((r.segment for r in net.of(SegmentSent, host) if r.time >= after), None)
    return format_flags(seg.flags) if seg is not None else "(nothing)"


def reset_cases(seed: int = 1) -> Table:
    """What a Linux host answers to three unexpected segments, one for each group of RFC 9293 §3.5.2.

    Examples
    --------
    >>> [row[2] for row in reset_cases().rows]
    ['R.', 'R', '.']
    >>> reset_cases().rows[2][3]
    'ESTABLISHED'

    Notes
    -----
    RFC 9293 §3.5.2: a segment for no connection earns a reset (§3.10.7.1); in a
    non-synchronized state, a segment acknowledging something never sent earns a
    reset (§3.10.7.2, LISTEN; §3.10.7.3); in a synchronized state an unacceptable
    segment earns only an empty ACK (§3.10.7.4, first check).
    """
    rows = []
    # 1. no connection at all: a SYN to a port where nobody listens
    net = Network(seed=seed)
    net.add_host("peer", "10.0.0.1")
    net.add_host("host", "10.0.0.2")
    net.inject(0.0, "10.0.0.1", "10.0.0.2", Segment(src_port=40000, dst_port=81, seq=500, flags=Flags.SYN, window=1000))
    net.run(until=0.5)
    rows.append(["no connection (port 81 is CLOSED)", "a SYN", _answer(net, "host", 0.0), "-"])
    # 2. not synchronized: an ACK for nothing reaches a listener
    net = Network(seed=seed)
    net.add_host("peer", "10.0.0.1")
    lst = net.add_host("host", "10.0.0.2").socket()
    lst.bind(80)
    lst.listen(8)
    stray = Segment(src_port=40001, dst_port=80, seq=500, ack=9999, flags=Flags.ACK, window=1000)
    net.inject(0.1, "10.0.0.1", "10.0.0.2", stray)
    net.run(until=0.5)
    rows.append(
        ["a listener (LISTEN), no request", "an ACK of a SYN-ACK never sent", _answer(net, "host", 0.1), "LISTEN"]
    )
    # 3. synchronized: data far outside the receive window of an open connection
    net = Network(seed=seed)
    lst = net.add_host("host", "10.0.0.2").socket()
    lst.bind(80)
    lst.listen(8)
    sock = net.add_host("peer", "10.0.0.1").socket()
    sock.connect("10.0.0.2", 80)
    net.run(until=0.5)
    conn = lst.accept()
    info = conn.getsockopt("TCP_INFO")
    far = Segment(
        src_port=info["remote"][1],
        dst_port=80,
        seq=(info["rcv_nxt"] + 2**30) % 2**32,
        ack=info["snd_nxt"],
        flags=Flags.ACK | Flags.PSH,
        window=1000,
        payload=b"x" * 10,
    )
    net.inject(1.0, "10.0.0.1", "10.0.0.2", far)
    net.run(until=1.5)
    rows.append(
        ["an open connection (ESTABLISHED)", "data far outside its window", _answer(net, "host", 1.0), conn.state.value]
    )
    return Table(["the segment reaches", "the segment", "answer", "state afterwards"], rows)


def half_open(speaker: str, seed: int = 1) -> dict[str, Any]:
    """A client crashes and reboots under an open connection; then one side speaks (RFC 9293 §3.5.1).

    Parameters
    ----------
    speaker : {"server", "client"}
        ``"server"``: the server sends 5 bytes at 2 s (Figure 10 of the RFC);
        ``"client"``: the rebooted client connects again from the same port at 2 s (Figure 9).
    seed : int

    Returns
    -------
    dict
        ``server_state`` and ``server_error`` of the old connection at the end, the
        segments after the crash (``segments``: ``(time, host, flags)``), whether a new
        connection opened (``new_connection``) and the trace.

    Examples
    --------
    >>> r = half_open("server")
    >>> r["server_state"], r["server_error"]
    ('CLOSED', 'ECONNRESET')
    >>> [f for _, h, f in half_open("client")["segments"]][:3]
    ['S', '.', 'R']
    """
    if speaker not in ("server", "client"):
        raise ParameterError("speaker", speaker, "'server' or 'client'")
    net = Network(seed=seed)
    c, s = net.add_host("client", "10.0.0.1"), net.add_host("server", "10.0.0.2")
    listener = s.socket()
    listener.bind(80)
    listener.listen(8)
    first = c.socket()
    first.bind(40000)
    first.connect("10.0.0.2", 80)
    net.run(until=0.5)
    old = listener.accept()
    net.at(1.0, reboot, net, "client")
    again: list[Any] = []
    if speaker == "server":
        net.at(2.0, old.send, b"hello")
    else:

        def reconnect() -> None:
            sock = net.hosts["client"].socket()
            sock.bind(40000)
            sock.connect("10.0.0.2", 80)
            again.append(sock)

        net.at(2.0, reconnect)
    net.run(until=5)
    segs = [(round(r.time, 3), r.host, format_flags(r.segment.flags)) for r in net.of(SegmentSent) if r.time >= 1.0]
    return {
        "server_state": old.state.value,
        "server_error": old.error or None,
        "segments": segs,
        "new_connection": bool(again) and again[0].state.value == "ESTABLISHED",
        "trace": net.trace(scenario=f"half-open connection, the {speaker} speaks"),
    }


def blind_reset(seed: int = 1) -> Table:
    """An off-path RST, 1000 bytes into the window, against four receivers (scenario ``blind_rst``).

    Examples
    --------
    >>> [row[-1] for row in blind_reset().rows]
    [False, True, True, True]
    """
    cases = [
        ("RFC 793 rules (rfc9293 profile, RFC 5961 off)", "rfc9293", 0),
        ("RFC 9293 with RFC 5961", "rfc9293", 1),
        ("FreeBSD (insecure_rst = 0)", "freebsd", 1),
        ("Linux", "linux", 1),
    ]
    rows = []
    for label, profile, rfc5961 in cases:
        r = run_scenario("blind_rst", seed=seed, profile=profile, rfc5961=rfc5961, offset=1000).meta["result"]
        rows.append([label, r["challenge_acks"], r["server_state_after"], r["connection_survived"]])
    return Table(["receiver", "challenge ACKs sent", "state afterwards", "connection survives"], rows)


# ------------------------------------------------------------------------------------------- queues
def syn_queue_probe(backlog: int, clients: int, seed: int = 1, **server: Any) -> dict[str, int]:
    """``clients`` connect at once to a ``listen(backlog)`` whose final ACKs never arrive; count what the SYN queue did.

    Every client's third segment is lost, so each request stays in the SYN queue.
    Returns the queue's peak length and limit, and the server's counters (nonzero ones).

    Examples
    --------
    >>> r = syn_queue_probe(4, 8, tcp_syncookies=0)
    >>> r["peak"] <= r["limit"] + 1, r["TCPReqQFullDrop"] > 0
    (True, True)
    """
    net = Network(seed=seed)
    s = net.add_host("server", "10.0.0.2", **server)
    c = net.add_host("client", "10.0.0.1")
    net.link("client", "server", rules=[DropIf(lambda _t, _i, seg: seg.flags == Flags.ACK, "the third segment")])
    listener = s.socket()
    listener.bind(80)
    listener.listen(backlog)
    for _ in range(clients):
        c.socket().connect("10.0.0.2", 80)
    net.run(until=0.5)
    queue = net.of(QueueChanged, "server")
    out = {k: v for k, v in s.stack.counters.items() if v}
    out["peak"] = max((q.syn_queue for q in queue), default=0)
    out["limit"] = (queue[-1].syn_limit if queue else None) or backlog
    for name in ("TCPReqQFullDrop", "TCPReqQFullDoCookies", "ListenDrops", "SyncookiesSent"):
        out.setdefault(name, 0)
    return out


def cookie_stall(
    syncookies: int, client_speaks: bool, *, clients: int = 4, backlog: int = 1, seed: int = 1
) -> dict[str, Any]:
    """``clients`` connect at once to ``listen(backlog)``; the application accepts only from 3 s, then every second.

    ``client_speaks``: each client sends a request at once (HTTP); otherwise it waits
    for the server to speak first (SMTP, SSH).  Returns how many clients believe they
    are connected, how many connections the application got by 60 s, how many
    SYN-ACKs the server sent and its counters.

    Examples
    --------
    >>> r = cookie_stall(1, client_speaks=False)
    >>> r["clients_established"], r["accepted"]
    (4, 2)
    """
    net = Network(seed=seed)
    s = net.add_host("server", "10.0.0.2", tcp_syncookies=syncookies)
    listener = s.socket()
    listener.bind(25)
    listener.listen(backlog)
    socks = [net.add_host(f"c{i}", f"10.0.1.{i + 1}").socket() for i in range(clients)]
    for sock in socks:
        sock.connect("10.0.0.2", 25)
        if client_speaks:
            net.at(0.1, sock.send, b"EHLO client.example\r\n")
    accepted: list[Any] = []

    def accept_all() -> None:
        while "in" in listener.poll():
            accepted.append(listener.accept())

    for t in range(3, 60):
        net.at(float(t), accept_all)
    net.run(until=60)
    counters = {k: v for k, v in s.stack.counters.items() if v}
    return {
        "clients_established": sum(1 for k in socks if k.state.value == "ESTABLISHED"),
        "accepted": len(accepted),
        "synacks": sum(1 for r in net.of(SegmentSent, "server") if r.segment.syn),
        "counters": counters,
    }


#: Task 03's burst: this many clients connect at the same moment; the application accepts this many a second.
BURST: dict[str, float] = {"clients": 300, "accept_rate": 100.0, "within": 5.0}


def burst(knobs: Mapping[str, Any], *, seed: int = 1) -> BurstRun:
    """The burst of :data:`BURST` against a listener configured by ``knobs`` (task 03, run by ``burst_run``).

    ``knobs`` may hold ``backlog`` (the ``listen()`` argument, default 128) and server
    sysctls (``somaxconn``, ``tcp_syncookies``, ``tcp_abort_on_overflow``, ``tcp_max_syn_backlog``).

    Examples
    --------
    >>> r = burst({"backlog": 512})
    >>> r.served == r.clients, r.counters.get("ListenOverflows", 0)
    (True, 0)
    """
    knobs = dict(knobs)
    backlog = knobs.pop("backlog", 128)
    return burst_run(
        clients=int(BURST["clients"]),
        backlog=backlog,
        accept_rate=BURST["accept_rate"],
        duration=BURST["within"],
        seed=seed,
        **knobs,
    )
