"""A small discrete-event simulator, and hosts that run the TCP engine on it.

Three layers, each readable on its own:

* :class:`Simulator`: the event loop (时间驱动的离散事件模拟器, discrete-event
  simulator).  A heap of ``(time, priority, seq, event)``, a virtual clock
  ``now``, :meth:`~Simulator.schedule`, :meth:`~Simulator.peek`,
  :meth:`~Simulator.step` and :meth:`~Simulator.run`.  Events at the same time
  come out by priority, then in the order they were scheduled.
* :class:`Network` and :class:`Host`: each host wraps one sans-IO
  :class:`tcpkit.engine.stack.Stack`.  The network fires the stack's timers at
  ``next_deadline()``, carries its ``take_outgoing()`` datagrams over
  :class:`tcpkit.drivers.links.Link` objects (delay, loss, drop rules, NAT) and collects
  every :class:`~tcpkit.engine.trace.TraceRecord` into one :class:`~tcpkit.engine.trace.Trace`.
* :class:`Socket`: a thin socket API (套接字) over the stack: ``connect``,
  ``listen``, ``accept``, ``send``, ``recv``, ``shutdown``, ``close``,
  ``setsockopt``.  Calls never block; they return ``None`` (or raise
  :class:`~tcpkit.engine.errors.TcpError`) and the applications of :mod:`tcpkit.drivers.apps`
  retry when the network wakes them.

Examples
--------
>>> sim = Simulator()
>>> seen = []
>>> _ = sim.schedule(2.0, seen.append, "b")
>>> _ = sim.schedule(1.0, seen.append, "a")
>>> _ = sim.schedule(2.0, seen.append, "c")
>>> sim.run()
>>> seen, sim.now
(['a', 'b', 'c'], 2.0)
>>> sim.schedule(-1, print)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter delay = -1 is not allowed: expected a number >= 0 (seconds)

Notes
-----
The loop follows the shape of SimPy's ``core.py`` (a heap keyed by time,
priority and a counter), without processes or generators: every event is a
plain callable.  Time is virtual and nothing here reads the wall clock.
"""

from __future__ import annotations

import contextlib
import heapq
import math
import random
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tcpkit.engine.errors import BudgetError, ParameterError, TcpError
from tcpkit.engine.profiles import Profile, get_profile
from tcpkit.engine.segment import Segment
from tcpkit.engine.trace import Note, SegmentDropped, SegmentSent, Trace, TraceRecord

from . import checks

R = TypeVar("R", bound=TraceRecord)

if TYPE_CHECKING:
    from .links import Link, Nat

__all__ = [
    "Simulator",
    "Event",
    "Network",
    "Host",
    "Socket",
    "URGENT",
    "NORMAL",
    "LATE",
    "MAX_EVENTS",
    "MAX_HOSTS",
    "interface_mtu",
]

#: The interface MTU hosts get when :meth:`Network.add_host` is not told one (None: the profile's).
_DEFAULT_MTU: ContextVar[int | None] = ContextVar("tcpkit_default_mtu", default=None)


@contextlib.contextmanager
def interface_mtu(mtu: int | None) -> Iterator[None]:
    """Within the ``with`` block, hosts added to any :class:`Network` get an interface of this MTU.

    For running an existing scenario as if its hosts talked over loopback (``lo`` has MTU 65536:
    MSS 65495) without changing the scenario; a host given an explicit ``mtu=`` knob keeps it.

    Examples
    --------
    >>> with interface_mtu(65536):
    ...     h = Network().add_host("a", "192.0.2.1")
    >>> h.profile["mtu"], h.profile.params.mss, Network().add_host("b", "192.0.2.2").profile.params.mss
    (65536, 65495, 1460)
    """
    if mtu is not None and (isinstance(mtu, bool) or not isinstance(mtu, int) or not 68 <= mtu <= 65536):
        raise ParameterError("mtu", mtu, "an interface MTU from 68 to 65536 bytes, or None")
    token = _DEFAULT_MTU.set(mtu)
    try:
        yield
    finally:
        _DEFAULT_MTU.reset(token)


#: Priorities: lower runs first among events at the same time.
URGENT, NORMAL, LATE = 0, 1, 2
#: The event budget of one :meth:`Network.run` call: about a minute of work.  A run that needs more events
#: (a timer that re-arms for ever, a million hosts chatting) stops with a :class:`~tcpkit.engine.errors.BudgetError`
#: naming the budget; raise it with ``Network(max_events=...)`` or ``run(until, max_events=...)``.
MAX_EVENTS = 2_000_000
#: The most hosts one :class:`Network` holds (each is a full TCP stack); ``Network(max_hosts=...)`` changes it.
MAX_HOSTS = 10_000


class Event:
    """A scheduled call; :meth:`Simulator.cancel` marks it so it never runs."""

    __slots__ = ("time", "fn", "args", "cancelled")

    def __init__(self, time: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.time = time
        self.fn = fn
        self.args = args
        self.cancelled = False

    def __repr__(self) -> str:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        return f"<Event t={self.time:.6f} {name}{' cancelled' if self.cancelled else ''}>"


class Simulator:
    """The event loop: a heap of ``(time, priority, seq, event)``.

    Parameters
    ----------
    start : float
        The initial virtual time, in seconds.

    Examples
    --------
    >>> sim = Simulator()
    >>> ev = sim.schedule(5, print, "never")
    >>> _ = sim.schedule(1, print, "once")
    >>> sim.cancel(ev)
    >>> sim.peek()
    1.0
    >>> sim.run(until=10)
    once
    >>> sim.now, sim.peek()
    (10.0, inf)
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = checks.number("start", start, 0.0, unit="seconds")
        self._heap: list[tuple[float, int, int, Event]] = []
        self._seq = 0
        self.steps = 0  # events run so far

    @property
    def now(self) -> float:
        """The current virtual time (seconds)."""
        return self._now

    def schedule(self, delay: float, fn: Callable[..., Any], *args: Any, priority: int = NORMAL) -> Event:
        """Call ``fn(*args)`` after ``delay`` seconds of virtual time.

        Raises
        ------
        ParameterError
            If ``delay`` is negative or not a finite number.
        """
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not delay >= 0 or math.isinf(delay):
            raise ParameterError("delay", delay, "a number >= 0 (seconds)")
        if not callable(fn):
            raise ParameterError("fn", fn, "a function to call")
        return self._push(self._now + delay, priority, fn, args)

    def schedule_at(self, time: float, fn: Callable[..., Any], *args: Any, priority: int = NORMAL) -> Event:
        """Call ``fn(*args)`` at absolute virtual ``time`` (not in the past).

        >>> Simulator(start=3).schedule_at(2, print)
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.ParameterError: parameter time = 2 is not allowed: expected a time >= now (3.0 s)
        """
        if isinstance(time, bool) or not isinstance(time, int | float) or not time >= self._now or math.isinf(time):
            raise ParameterError("time", time, f"a time >= now ({self._now} s)")
        if not callable(fn):
            raise ParameterError("fn", fn, "a function to call")
        return self._push(float(time), priority, fn, args)

    def _push(self, time: float, priority: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> Event:
        ev = Event(time, fn, args)
        self._seq += 1
        heapq.heappush(self._heap, (time, priority, self._seq, ev))
        return ev

    def cancel(self, event: Event) -> None:
        """Make a scheduled event a no-op (it stays in the heap until its time)."""
        event.cancelled = True

    def peek(self) -> float:
        """The time of the next live event, or ``inf`` when there is none."""
        heap = self._heap
        while heap and heap[0][3].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else math.inf

    def step(self) -> bool:
        """Run the next event; return ``False`` if there was none."""
        if self.peek() == math.inf:
            return False
        time, _, _, ev = heapq.heappop(self._heap)
        self._now = time
        self.steps += 1
        ev.fn(*ev.args)
        return True

    def run(self, until: float | None = None, *, max_events: int | None = None) -> None:
        """Run events in order; with ``until``, run those at times ``<= until``, then set ``now = until``.

        Parameters
        ----------
        until : float, optional
            A finite time ``>= now``; ``None`` runs until no event is left.
        max_events : int, optional
            The event budget of this call: stop with :class:`~tcpkit.engine.errors.BudgetError`
            instead of running more events than this (``None``: no budget).

        Raises
        ------
        ParameterError
            If ``until`` lies before ``now`` (time never goes back) or is not a finite number.
        BudgetError
            If the run needs more than ``max_events`` events; ``now`` is then the time reached.

        Examples
        --------
        >>> sim = Simulator()
        >>> def tick():
        ...     _ = sim.schedule(1, tick)
        >>> _ = sim.schedule(0, tick)
        >>> sim.run(until=1e12, max_events=1000)
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.BudgetError: the run stopped at t=999.0 s after 1000 events, its event budget ...
        """
        if max_events is not None:
            max_events = checks.integer("max_events", max_events, 1)
        if until is not None:
            if isinstance(until, bool) or not isinstance(until, int | float) or not until >= self._now:
                raise ParameterError("until", until, f"a time >= now ({self._now} s)")
            if math.isinf(until):
                raise ParameterError("until", until, "a finite time (None runs until no event is left)")
        budget = math.inf if max_events is None else max_events
        done = 0
        limit = math.inf if until is None else until
        while (nxt := self.peek()) < math.inf and nxt <= limit:
            if done >= budget:
                raise BudgetError(
                    f"the run stopped at t={self._now} s after {done} events, its event budget (max_events; "
                    f"tcpkit.drivers.sim.MAX_EVENTS for a Network): run to an earlier time, or raise the budget "
                    "if the run is meant to be that long"
                )
            self.step()
            done += 1
        if until is not None:
            self._now = float(until)


# --------------------------------------------------------------------------- hosts


@dataclass(frozen=True, slots=True)
class _Route:
    """Where a datagram goes once it leaves the sender (after NAT)."""

    src: str
    dst: str
    segment: Segment
    to_host: Host | None


class Host:
    """One host on a :class:`Network`: an address, a profile and one :class:`~tcpkit.engine.stack.Stack`.

    Use :meth:`Network.add_host` to make one.

    Examples
    --------
    >>> net = Network()
    >>> h = net.add_host("client", "192.0.2.1")
    >>> h.port_range, h.profile.name, h.stack.addr
    ((32768, 60999), 'linux', '192.0.2.1')

    Attributes
    ----------
    name, addr : str
    stack : tcpkit.engine.stack.Stack
    profile : Profile
        Its ``ip_local_port_low``/``high`` knobs give the ephemeral port range
        (32768-60999 on Linux).
    ts_offset : int or None
        One timestamp offset for every connection of the host: a per-host
        timestamp clock, as Linux had before 4.10 gave every connection its own
        offset (``None``: the engine's per-connection offsets).
    """

    def __init__(
        self, net: Network, name: str, addr: str, profile: Profile, isn: Any, seed: int, ts_offset: int | None = None
    ) -> None:
        from tcpkit.engine.stack import Stack

        self.net = net
        self.name = name
        self.addr = addr
        self.profile = profile
        self.ts_offset = ts_offset
        self.stack = Stack(
            name=name, addr=addr, profile=profile, isn=isn, seed=seed, tracer=net.records.append, ts_offset=ts_offset
        )
        self.apps: list[Any] = []
        self._timer: Event | None = None
        self.nat: Nat | None = None  # set when the host sits behind a NAT box

    @property
    def port_range(self) -> tuple[int, int]:
        """The ephemeral port range ``(low, high)`` from the profile."""
        p = self.profile.params
        return (p.port_low, p.port_high)

    def socket(self) -> Socket:
        """A new socket on this host."""
        return Socket(self, self.stack.socket(self.net.now))

    def deliver(self, src: str, dst: str, segment: Segment) -> None:
        """A segment arrives from the network (called by the simulator)."""
        self.stack.segment_arrives(self.net.now, src, dst, segment)
        self.net.settle(self)

    def _fire(self) -> None:
        self._timer = None
        self.stack.handle_timer(self.net.now)
        self.net.settle(self)

    def __repr__(self) -> str:
        return f"<Host {self.name} {self.addr}>"


class Socket:
    """A thin socket on a :class:`Host`: each call goes to the stack at the network's ``now``.

    ``connect`` returns at once (the handshake runs as the simulation runs);
    ``accept`` and ``recv`` raise ``TcpError("EAGAIN")`` when nothing is ready.
    After every call the host's outgoing segments are sent and its timer rescheduled.

    Examples
    --------
    >>> net = Network()
    >>> a = net.add_host("a", "192.0.2.1"); b = net.add_host("b", "192.0.2.2")
    >>> lst = b.socket(); lst.setsockopt("SO_REUSEADDR", 1); lst.bind(7); lst.listen(4)
    >>> s = a.socket(); s.connect("192.0.2.2", 7); net.run(until=0.1)
    >>> s.send(b"ping"), s.state.value
    (4, 'ESTABLISHED')
    >>> conn = lst.accept(); net.run(until=0.2); conn.recv(100)
    b'ping'
    >>> s.setsockopt("SO_LINGER", (1, 0)); s.close(); net.run(until=0.3)
    >>> conn.recv(100)
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.TcpError: ECONNRESET (Connection reset by peer)...
    """

    def __init__(self, host: Host, fd: int) -> None:
        self.host = host
        self.fd = fd

    def _done(self) -> None:
        self.host.net.settle(self.host, wake=False)

    def setsockopt(self, name: str, value: Any) -> None:
        """``SO_LINGER`` (seconds or ``(on, seconds)``), ``SO_REUSEADDR``, ``TCP_KEEPIDLE`` ..."""
        _option(name)
        self.host.stack.setsockopt(self.host.net.now, self.fd, name, value)
        self._done()

    def getsockopt(self, name: str) -> Any:
        """The value of a socket option (``SO_ERROR`` returns and clears a pending error)."""
        return self.host.stack.getsockopt(self.fd, _option(name))

    def bind(self, port: int, addr: str | None = None) -> None:
        """Bind to ``port`` (0: an ephemeral port) on ``addr`` (default the host's address)."""
        port = checks.port("port", port, zero=True)
        if addr is not None:
            addr = checks.address("addr", addr)
        self.host.stack.bind(self.host.net.now, self.fd, port, addr)

    def listen(self, backlog: int = 128) -> None:
        """Listen with this ``backlog`` (capped by ``somaxconn``)."""
        backlog = checks.integer("backlog", backlog, 0, 2**31 - 1)
        self.host.stack.listen(self.host.net.now, self.fd, backlog=backlog)
        self._done()

    def connect(self, addr: str, port: int) -> None:
        """Start the handshake (EINPROGRESS is swallowed; other errors are raised)."""
        addr = checks.address("addr", addr)
        port = checks.port("port", port)
        try:
            self.host.stack.connect(self.host.net.now, self.fd, addr, port)
        except TcpError as exc:
            if exc.errno_name != "EINPROGRESS":
                self._done()
                raise
        self._done()

    def accept(self) -> Socket:
        fd = self.host.stack.accept(self.host.net.now, self.fd)
        self._done()
        return Socket(self.host, fd)

    def send(self, data: bytes | int) -> int:
        """Queue ``data`` (bytes, or a byte count); returns how much the send buffer took."""
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        elif not isinstance(data, bytes):
            data = checks.integer("data", data, 0, 2**40)
        n: int = self.host.stack.send(self.host.net.now, self.fd, data)
        self._done()
        return n

    def recv(self, n: int = 65536) -> bytes:
        """Up to ``n`` received bytes (``b""`` at end of file)."""
        n = checks.integer("n", n, 0, 2**31 - 1)
        data: bytes = self.host.stack.recv(self.host.net.now, self.fd, n)
        self._done()
        return data

    def shutdown(self, how: str = "SHUT_WR") -> None:
        """``SHUT_RD``, ``SHUT_WR`` or ``SHUT_RDWR``."""
        checks.choice("how", how, ("SHUT_RD", "SHUT_WR", "SHUT_RDWR"))
        self.host.stack.shutdown(self.host.net.now, self.fd, how)
        self._done()

    def close(self) -> None:
        self.host.stack.close(self.host.net.now, self.fd)
        self._done()

    def poll(self) -> frozenset[str]:
        result: frozenset[str] = self.host.stack.poll(self.fd)
        return result

    @property
    def state(self) -> Any:
        return self.host.stack.state(self.fd)

    @property
    def error(self) -> Any:
        """``SO_ERROR``: a pending error name, or 0."""
        return self.host.stack.getsockopt(self.fd, "SO_ERROR")

    def __repr__(self) -> str:
        return f"<Socket {self.host.name} fd={self.fd}>"


def _option(name: Any) -> str:
    if not isinstance(name, str):
        raise ParameterError("socket option", name, "an option name such as 'SO_LINGER' (a string)")
    return name


def _port_knobs(profile: str | Profile, port_range: Any) -> dict[str, int]:
    ok = (
        isinstance(port_range, tuple | list)
        and len(port_range) == 2
        and all(isinstance(p, int) and not isinstance(p, bool) for p in port_range)
    )
    if not ok or not 1 <= port_range[0] <= port_range[1] <= 65535:
        raise ParameterError("port_range", port_range, "(low, high) with 1 <= low <= high <= 65535")
    os_name = profile if isinstance(profile, str) else profile.name
    if os_name == "linux":
        return {"ip_local_port_low": port_range[0], "ip_local_port_high": port_range[1]}
    if os_name == "freebsd":
        return {"portrange_first": port_range[0], "portrange_last": port_range[1]}
    raise ParameterError(
        "port_range", port_range, "nothing for the rfc9293 profile (its range is fixed at 49152-65535)"
    )


class Network:
    """Hosts joined by links, run on one :class:`Simulator`, recording one trace.

    Parameters
    ----------
    seed : int
        Every random choice (link loss, jitter, ISNs, timestamp offsets) is
        drawn from generators derived from this seed, so the same seed gives
        the same trace.
    delay : float
        One-way delay of links made on demand (seconds).
    meta : dict, optional
        Added to the trace's ``meta``.
    max_events : int
        The event budget of each :meth:`run` call (default :data:`MAX_EVENTS`).
    max_hosts : int
        The most hosts :meth:`add_host` makes (default :data:`MAX_HOSTS`).

    Raises
    ------
    ParameterError
        A seed that is not an integer, a negative or infinite delay, and so on.

    Examples
    --------
    >>> Network(seed="abc")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter seed = 'abc' is not allowed: expected an integer
    >>> net = Network(seed=1)
    >>> a = net.add_host("client", "10.0.0.1")
    >>> b = net.add_host("server", "10.0.0.2")
    >>> srv = b.socket(); srv.bind(80); srv.listen(8)
    >>> cli = a.socket(); cli.connect("10.0.0.2", 80)
    >>> net.run(until=1)
    >>> cli.state.value, cli.error
    ('ESTABLISHED', 0)
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        delay: float = 0.01,
        meta: dict[str, Any] | None = None,
        max_events: int = MAX_EVENTS,
        max_hosts: int = MAX_HOSTS,
    ) -> None:
        seed = checks.integer("seed", seed)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay < math.inf:
            raise ParameterError("delay", delay, "a number >= 0 (seconds)")
        if meta is not None and not isinstance(meta, dict):
            raise ParameterError("meta", meta, "a dict (or None)")
        self.max_events = checks.integer("max_events", max_events, 1)
        self.max_hosts = checks.integer("max_hosts", max_hosts, 1)
        self.seed = seed
        self.sim = Simulator()
        self.records: list[TraceRecord] = []
        self.hosts: dict[str, Host] = {}
        self._by_addr: dict[str, Host] = {}
        self._links: dict[tuple[str, str], Link] = {}
        self._nats: dict[str, Nat] = {}  # public address -> NAT box
        self.delay = float(delay)
        self.meta: dict[str, Any] = dict(meta or {})

    @property
    def now(self) -> float:
        return self.sim.now

    def rng(self, *names: object) -> random.Random:
        """A random generator derived from the network seed and ``names`` (stable across processes)."""
        return random.Random(":".join([str(self.seed), *map(str, names)]))

    # -- building ---------------------------------------------------------------------
    def add_host(
        self,
        name: str,
        addr: str,
        *,
        profile: str | Profile = "linux",
        isn: str | Any = None,
        ts_offset: int | None = None,
        port_range: tuple[int, int] | None = None,
        **knobs: Any,
    ) -> Host:
        """Add a host.

        Parameters
        ----------
        profile : str or Profile
            ``linux``, ``freebsd`` or ``rfc9293``; ``knobs`` change it.
        isn : str or callable, optional
            An ISN kind of :func:`tcpkit.engine.isn.make_isn` or a generator; default
            the profile's own (``linux`` for Linux, ``rfc6528`` otherwise).
        ts_offset : int, optional
            One timestamp offset for all the host's connections (a per-host
            clock); default: the engine's per-connection offsets.
        port_range : (low, high), optional
            The ephemeral port range (``ip_local_port_range``; Linux default
            32768-60999); sets the profile's port knobs.

        Raises
        ------
        ParameterError
            A name that is not a short printable string, an address that is not
            IPv4 or IPv6, a name or address already used, an impossible port range.
        BudgetError
            More than ``max_hosts`` hosts.

        Examples
        --------
        >>> Network().add_host("c", "192.0.2.1", port_range=(50000, 50099)).port_range
        (50000, 50099)
        >>> Network().add_host("c", "192.0.2.1", port_range=(6000, 5000))
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.ParameterError: parameter port_range = (6000, 5000) is not allowed: expected (low, ...
        """
        name = checks.name("host name", name)
        addr = checks.address("addr", addr)
        if name in self.hosts:
            raise ParameterError("host name", name, "a name not used yet: " + ", ".join(self.hosts))
        if len(self.hosts) >= self.max_hosts:
            raise BudgetError(
                f"this network already holds {len(self.hosts)} hosts, its limit (Network(max_hosts=...), "
                f"default tcpkit.drivers.sim.MAX_HOSTS = {MAX_HOSTS}); each host is a full TCP stack"
            )
        if not (isinstance(profile, str | Profile)):
            raise ParameterError("profile", profile, "a profile name (linux, freebsd, rfc9293) or a Profile")
        if isn is not None and not isinstance(isn, str) and not callable(isn):
            raise ParameterError("isn", isn, "an ISN kind (see tcpkit.engine.isn.make_isn) or a function (now, conn)")
        if ts_offset is not None:
            ts_offset = checks.integer("ts_offset", ts_offset, 0, 2**32 - 1)
        if addr in self._by_addr or addr in self._nats:
            raise ParameterError("addr", addr, "an address no other host or NAT uses")
        if port_range is not None:
            knobs.update(_port_knobs(profile, port_range))
        mtu = _DEFAULT_MTU.get()
        if mtu is not None and "mtu" not in knobs:
            base = get_profile(profile)
            knobs["mtu"] = min(mtu, int(base.knob("mtu").hi or mtu))
        prof = get_profile(profile, **knobs)
        seed = self.rng("host", name).getrandbits(32)
        if isinstance(isn, str):
            from tcpkit.engine.isn import make_isn

            isn = make_isn(isn, seed=seed)
        host = Host(self, name, addr, prof, isn, seed, ts_offset)
        self.hosts[name] = host
        self._by_addr[addr] = host
        return host

    def link(self, a: str, b: str, **params: Any) -> Link:
        """Set the link carrying segments from ``a`` to host ``b`` (one direction).

        ``a`` is a host name or the ``who`` of :meth:`inject` (an attacker).
        ``params`` go to :class:`tcpkit.drivers.links.Link` (``delay``, ``jitter``, ``loss``,
        ``duplicate``, ``reorder``, ``rules``); its random generator comes from the seed.

        >>> net = Network(seed=1)
        >>> _ = net.add_host("a", "192.0.2.1"); _ = net.add_host("b", "192.0.2.2")
        >>> net.link("a", "b", delay=0.1, loss=0.05)
        <Link a->b delay=0.1 loss=0.05 rules=0>
        >>> net.link("a", "c")
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.ParameterError: parameter host = 'c' is not allowed: expected one of a, b
        """
        from .links import Link

        if not isinstance(a, str) or not isinstance(b, str) or b not in self.hosts:
            raise ParameterError("host", b, "one of " + ", ".join(self.hosts))
        params.setdefault("delay", self.delay)
        lk = Link(name=f"{a}->{b}", seed=self.rng("link", a, b).getrandbits(32), **params)
        self._links[(a, b)] = lk
        return lk

    def add_nat(self, public_addr: str, inside: Iterable[str], **params: Any) -> Nat:
        """Put the hosts named in ``inside`` behind one NAT box with address ``public_addr``."""
        from .links import Nat

        public_addr = checks.address("public_addr", public_addr)
        if isinstance(inside, str):
            raise ParameterError("inside", inside, "a list of host names (not one string)")
        if public_addr in self._by_addr or public_addr in self._nats:
            raise ParameterError("public_addr", public_addr, "an address no host or NAT uses")
        nat = Nat(public_addr, **params)
        self._nats[public_addr] = nat
        for name in inside:
            if name not in self.hosts:
                raise ParameterError("host", name, "one of " + ", ".join(self.hosts))
            self.hosts[name].nat = nat
            nat.inside.add(self.hosts[name].addr)
        return nat

    def _link(self, a: str, b: str) -> Link:
        lk = self._links.get((a, b))
        if lk is None:
            from .links import Link

            lk = self._links[(a, b)] = Link(
                name=f"{a}->{b}", delay=self.delay, seed=self.rng("link", a, b).getrandbits(32)
            )
        return lk

    # -- running ----------------------------------------------------------------------
    def settle(self, host: Host, *, wake: bool = True) -> None:
        """After ``host``'s stack changed: let its apps react, send what it produced, re-arm its timer."""
        if wake:
            for app in list(host.apps):
                app.wake(self.now)
        for dg in host.stack.take_outgoing():
            self._send(host, dg.src, dg.dst, dg.segment)
        deadline = host.stack.next_deadline()
        timer = host._timer
        if timer is not None and (deadline is None or timer.time != max(deadline, self.now)):
            self.sim.cancel(timer)
            host._timer = timer = None
        if deadline is not None and timer is None:
            host._timer = self.sim.schedule_at(max(deadline, self.now), host._fire, priority=LATE)

    def _route(self, src: str, dst: str, seg: Segment, sender: Host | None) -> _Route:
        if sender is not None and sender.nat is not None and dst not in sender.nat.inside:
            src, sport = sender.nat.outbound(src, seg.src_port, self.now)
            seg = seg.replace(src_port=sport)
        nat = self._nats.get(dst)
        if nat is not None:
            back = nat.inbound(seg.dst_port)
            if back is None:
                return _Route(src, dst, seg, None)
            dst, dport = back
            seg = seg.replace(dst_port=dport)
        return _Route(src, dst, seg, self._by_addr.get(dst))

    def _send(self, sender: Host, src: str, dst: str, seg: Segment) -> None:
        self.transmit(sender.name, src, dst, seg, sender)

    def transmit(self, from_name: str, src: str, dst: str, seg: Segment, sender: Host | None = None) -> None:
        """Carry one segment from ``src`` to ``dst`` over the right link (NAT applied)."""
        r = self._route(src, dst, seg, sender)
        conn = (src, seg.src_port, dst, seg.dst_port)
        if r.to_host is None:
            self.records.append(
                SegmentDropped(
                    time=self.now, host=from_name, conn=conn, segment=seg, reason=f"no host has address {r.dst}"
                )
            )
            return
        lk = self._link(from_name, r.to_host.name)
        arrivals, reason = lk.transmit(self.now, r.segment)
        if reason is not None:
            self.records.append(
                SegmentDropped(
                    time=self.now,
                    host=from_name,
                    conn=conn,
                    segment=seg,
                    peer=r.to_host.name,
                    reason=f"link {lk.name}: {reason}",
                )
            )
        for t in arrivals:
            self.sim.schedule_at(t, r.to_host.deliver, r.src, r.dst, r.segment)

    def inject(self, at: float, src: str, dst: str, segment: Segment, *, who: str = "attacker") -> None:
        """Send a crafted segment (for instance with a spoofed source) at time ``at``.

        It appears as a ``SEND`` record of host ``who`` and travels over the
        ``who -> receiver`` link like any other segment.
        """
        src = checks.address("src", src)
        dst = checks.address("dst", dst)
        if not isinstance(segment, Segment):
            raise ParameterError("segment", segment, "a Segment (tcpkit.parse_segment('S 0:0(0) win 1000'))")
        who = checks.name("who", who)

        def go() -> None:
            self.records.append(
                SegmentSent(
                    time=self.now,
                    host=who,
                    conn=(src, segment.src_port, dst, segment.dst_port),
                    segment=segment,
                )
            )
            self.transmit(who, src, dst, segment)

        self.sim.schedule_at(at, go)

    def note(self, host: str, text: str) -> None:
        """Add a ``NOTE`` record (a sentence for the reader) at the current time."""
        if not isinstance(host, str) or not isinstance(text, str):
            raise ParameterError("note", (host, text), "a host name and a text (strings)")
        self.records.append(Note(time=self.now, host=host, text=text))

    def at(self, time: float, fn: Callable[..., Any], *args: Any) -> Event:
        """Run ``fn(*args)`` at virtual ``time`` (e.g. a user calling ``close``)."""
        return self.sim.schedule_at(time, fn, *args)

    def run(self, until: float, *, max_events: int | None = None) -> None:
        """Run the simulation up to virtual time ``until`` (seconds).

        Parameters
        ----------
        until : float
            A finite time, not before ``now``.
        max_events : int, optional
            The event budget of this call (default: the network's ``max_events``,
            :data:`MAX_EVENTS`).

        Raises
        ------
        ParameterError
            ``until`` before ``now``, or not a finite number.
        BudgetError
            The run needed more events than its budget (a timer that re-arms for
            ever, a huge network): the message names the budget and the time reached.

        Examples
        --------
        >>> net = Network()
        >>> net.run(until=float("nan"))
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.ParameterError: parameter until = nan is not allowed: expected a time >= now (0.0 s)
        """
        if until is None or isinstance(until, bool) or not isinstance(until, int | float):
            raise ParameterError("until", until, "a finite time in seconds")
        self.sim.run(until=until, max_events=self.max_events if max_events is None else max_events)

    def trace(self, **meta: Any) -> Trace:
        """Everything recorded so far, with ``meta`` (scenario name, params, seed)."""
        m = dict(self.meta)
        m.update(meta)
        m.setdefault("seed", self.seed)
        return Trace(self.records, m)

    def of(self, cls: type[R], host: str | None = None) -> list[R]:
        """The events of class ``cls`` recorded so far (of one host), typed: see :meth:`Trace.of`."""
        return [r for r in self.records if isinstance(r, cls) and (host is None or r.host == host)]
