"""Named engine runs the notebooks' predict moments ask about, built the same way every time.

A predict moment needs a run to ask about and a record in it ("the server has
just received the SYN").  The question bank names both: ``run = "handshake"``
and a record selector such as ``{kind = "recv", host = "server"}``.  Each run
here is a small, seeded simulation built *before* it is run
(:meth:`Run.finish` runs it), so a test can build it again and step the
simulator one event at a time to read the engine's state after any record.

Examples
--------
>>> r = build_run("handshake")
>>> trace = r.finish()
>>> i = find_record(trace, kind="recv", host="server")
>>> trace[i].segment.notation().split()[0]
'S'
>>> build_run("nope")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter run = 'nope' is not allowed: expected one of ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tcpkit.drivers.sim import Host, Network, Socket
from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import format_flags
from tcpkit.engine.stack import Stack
from tcpkit.engine.trace import HostRestarted, Kind, Trace

__all__ = ["Run", "RUNS", "build_run", "find_record", "connected_pair", "reboot"]


@dataclass
class Run:
    """A simulation set up but not yet run: the network, the sockets by role, and how long to run."""

    name: str
    net: Network
    until: float
    sockets: dict[str, Socket] = field(default_factory=dict)
    _trace: Trace | None = None

    def finish(self) -> Trace:
        """Run to the end (once) and return the trace."""
        if self._trace is None:
            self.net.run(until=self.until)
            self._trace = self.net.trace(scenario=self.name)
        return self._trace


def _listening_pair(
    seed: int, client: dict[str, Any] | None = None, server: dict[str, Any] | None = None
) -> tuple[Network, Host, Socket]:
    """A network with a client (10.0.0.1) and a server (10.0.0.2) listening on port 80 (backlog 8)."""
    net = Network(seed=seed)
    c = net.add_host("client", "10.0.0.1", **(client or {}))
    s = net.add_host("server", "10.0.0.2", **(server or {}))
    listener = s.socket()
    listener.bind(80)
    listener.listen(8)
    return net, c, listener


def connected_pair(
    seed: int = 1, *, client: dict[str, Any] | None = None, server: dict[str, Any] | None = None, until: float = 0.5
) -> tuple[Network, Socket, Socket]:
    """A simulated client and server (Linux profile) with one established, accepted connection.

    Parameters
    ----------
    seed : int
        The network seed (same seed, same trace).
    client, server : dict, optional
        Knobs for each host's profile, e.g. ``{"tcp_fin_timeout": 10}``.
    until : float
        Virtual time to run the handshake to (seconds).

    Returns
    -------
    (Network, Socket, Socket)
        The network, the client's socket (10.0.0.1) and the server's accepted socket (10.0.0.2:80).

    Examples
    --------
    >>> net, cli, srv = connected_pair()
    >>> cli.state.value, srv.state.value
    ('ESTABLISHED', 'ESTABLISHED')
    """
    net, c, listener = _listening_pair(seed, client, server)
    sock = c.socket()
    sock.connect("10.0.0.2", 80)
    net.run(until=until)
    return net, sock, listener.accept()


def reboot(net: Network, name: str) -> None:
    """Host ``name`` crashes and reboots at once: its stack, and every connection in it, is forgotten.

    The host keeps its name and address and gets a fresh :class:`~tcpkit.engine.stack.Stack`
    (new secrets, new timestamp offsets), as a machine that lost power and came back; no
    segment is sent.  Its peers' connections are now *half-open* (RFC 9293 §3.5.1).

    Parameters
    ----------
    net : Network
    name : str
        A host of ``net``.

    Examples
    --------
    >>> net, cli, srv = connected_pair()
    >>> reboot(net, "client")
    >>> net.hosts["client"].stack.sockets(), srv.state.value
    ([], 'ESTABLISHED')
    """
    if not isinstance(name, str) or name not in net.hosts:
        raise ParameterError("host", name, "a host of the network: " + ", ".join(net.hosts))
    host = net.hosts[name]
    host.stack = Stack(
        name=name,
        addr=host.addr,
        profile=host.profile,
        seed=net.rng("reboot", name, net.now).getrandbits(32),
        tracer=net.records.append,
        ts_offset=host.ts_offset,
    )
    net.records.append(HostRestarted(time=net.now, host=name))
    net.settle(host, wake=False)


def _handshake(seed: int) -> Run:
    # notebook 01's first run: a Linux client connects to a Linux server listening on port 80
    net, client, listener = _listening_pair(seed)
    sock = client.socket()
    sock.connect("10.0.0.2", 80)
    return Run("handshake", net, 1.0, {"client": sock, "listener": listener})


def _pair_then(seed: int, name: str, until: float, client_close: float, server_close: float) -> Run:
    """A client connects at 0 s; the server accepts at 0.5 s; each side closes at the time given.

    Nothing runs yet (unlike :func:`connected_pair`), so the run can be stepped from its first event.
    """
    net, c, listener = _listening_pair(seed)
    cli = c.socket()
    cli.connect("10.0.0.2", 80)
    accepted: list[Socket] = []
    net.at(0.5, lambda: accepted.append(listener.accept()))
    net.at(client_close, cli.close)
    net.at(server_close, lambda: accepted[0].close())
    return Run(name, net, until, {"client": cli, "listener": listener})


def _client_closes_first(seed: int) -> Run:
    # notebook 04's first run: the client closes at 1 s, the server's application half a second later
    return _pair_then(seed, "client closes first", 100.0, 1.0, 1.5)


def _simultaneous_close(seed: int) -> Run:
    return _pair_then(seed, "simultaneous close", 200.0, 1.0, 1.0)


def _closed_port(seed: int) -> Run:
    # notebook 01: the client connects to port 81, where the server has no listener (it listens on 80)
    net, client, listener = _listening_pair(seed)
    sock = client.socket()
    sock.connect("10.0.0.2", 81)
    return Run("closed-port", net, 1.0, {"client": sock, "listener": listener})


def _half_open_reconnect(seed: int) -> Run:
    """Notebook 02: a connection from port 40000; the client crashes at 1 s and connects again from 40000 at 2 s."""
    net, c, listener = _listening_pair(seed)
    first = c.socket()
    first.bind(40000)
    first.connect("10.0.0.2", 80)
    net.at(0.5, listener.accept)
    net.at(1.0, reboot, net, "client")
    again: dict[str, Socket] = {}

    def new_socket() -> None:  # one call per step, so a stepped run shows the state between them
        sock = net.hosts["client"].socket()
        sock.bind(40000)
        again["client"] = sock

    net.at(2.0, new_socket)
    net.at(2.0, lambda: again["client"].connect("10.0.0.2", 80))
    return Run("half-open reconnect", net, 5.0, {"listener": listener})


#: run name -> builder(seed) returning a :class:`Run` that has not run yet.
RUNS: Mapping[str, Callable[[int], Run]] = {
    "handshake": _handshake,
    "closed-port": _closed_port,
    "half-open-reconnect": _half_open_reconnect,
    "client-closes-first": _client_closes_first,
    "simultaneous-close": _simultaneous_close,
}


def build_run(name: str, seed: int = 1) -> Run:
    """Set up run ``name`` with ``seed`` (not run yet; call :meth:`Run.finish`)."""
    if name not in RUNS:
        raise ParameterError("run", name, "one of " + ", ".join(RUNS))
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError("seed", seed, "an integer")
    return RUNS[name](seed)


def find_record(
    trace: Trace, *, kind: str, host: str, nth: int = 1, after: float = -1.0, flags: str | None = None
) -> int:
    """Index of the ``nth`` record of ``kind`` (``recv``, ``send``, ``state`` ...) of ``host`` after time ``after``.

    ``flags`` keeps only segments with exactly those flags in tcpdump notation (``"F."``).

    >>> t = build_run("client-closes-first").finish()
    >>> t[find_record(t, kind="recv", host="client", after=1.0)].segment.notation().split()[0]
    '.'
    """
    try:
        want = Kind(kind)
    except ValueError:
        raise ParameterError("kind", kind, "a record kind: " + ", ".join(k.value for k in Kind)) from None
    seen = 0
    for i, r in enumerate(trace):
        if r.kind is not want or r.host != host or r.time <= after:
            continue
        seg = getattr(r, "segment", None)
        if flags is not None and (seg is None or format_flags(seg.flags) != flags):
            continue
        seen += 1
        if seen == nth:
            return i
    raise ParameterError("record", {"kind": kind, "host": host, "nth": nth, "after": after}, "a record of the run")
