"""One host's TCP (协议栈), sans-IO: file descriptors, demultiplexing, ports, TIME_WAIT, closed ports.

A :class:`Stack` offers the socket calls an application makes (``socket``,
``bind``, ``listen``, ``connect``, ``accept``, ``send``, ``recv``,
``shutdown``, ``close``, ``setsockopt``/``getsockopt``, ``poll``) and the
three inputs of any sans-IO engine: ``segment_arrives``, ``handle_timer``
and ``next_deadline``.  Segments it wants to send are collected as
:class:`Datagram` values; take them with :meth:`Stack.take_outgoing`.

Blocking calls do not exist here: ``connect`` raises ``EINPROGRESS``,
``accept``/``recv``/``send`` raise ``EAGAIN`` when they would block, and a
driver waits for :meth:`Stack.poll` to say the socket is ready.

Examples
--------
>>> from tcpkit.engine.profiles import get_profile
>>> from tcpkit.engine.errors import TcpError
>>> srv = Stack(name="server", addr="10.0.0.1", profile="linux", seed=1)
>>> cli = Stack(name="client", addr="10.0.0.2", profile="linux", seed=2)
>>> lfd = srv.socket(0.0); srv.bind(0.0, lfd, 80); srv.listen(0.0, lfd, backlog=8)
>>> fd = cli.socket(0.0)
>>> try:
...     cli.connect(0.0, fd, "10.0.0.1", 80)
... except TcpError as e:
...     print(e.errno_name)
EINPROGRESS
>>> def deliver(a, b, now):
...     for d in a.take_outgoing():
...         b.segment_arrives(now, d.src, d.dst, d.segment)
>>> deliver(cli, srv, 0.01); deliver(srv, cli, 0.02); deliver(cli, srv, 0.03)
>>> cli.state(fd), cli.getsockopt(fd, "SO_ERROR")
(<State.ESTABLISHED: 'ESTABLISHED'>, 0)
>>> cfd = srv.accept(0.03, lfd)
>>> cli.send(0.04, fd, b"hello"); deliver(cli, srv, 0.05)
5
>>> srv.recv(0.05, cfd, 100)
b'hello'

Notes
-----
Demultiplexing: an exact 4-tuple match first, then a listener on the port,
else the CLOSED-state rules of RFC 9293 §3.10.7.1.  Ephemeral ports follow
Linux ``__inet_hash_connect()`` (net/ipv4/inet_hashtables.c): a hashed start
offset plus an increment.  TIME_WAIT sockets outlive their descriptor (Linux
``inet_timewait_sock``).  A SYN to a TIME_WAIT 4-tuple on a listening port may
open a new incarnation (Linux ``tcp_timewait_state_process()``, FreeBSD
``tcp_twcheck()``; RFC 6191).
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .connection import SHUT_RD, SHUT_RDWR, SHUT_WR, Connection, default_rcvbuf, default_sndbuf
from .errors import ParameterError, TcpError
from .events import CallMade, ConnId, CounterChanged, SegmentDropped, SegmentReceived, SegmentSent, Tracer, TraceRecord
from .isn import make_isn
from .listener import COUNTERS, Listener
from .profiles import Profile, get_profile
from .segment import Flags, Segment
from .seqnum import MASK, seq_add, seq_gt
from .states import Event, State, lookup
from .tcb import TimeWaitBuckets

__all__ = ["Stack", "Datagram", "SocketInfo", "O_NONBLOCK", "SOCKOPTS"]

IsnGenerator = Callable[[float, ConnId], int]

#: The value of ``O_NONBLOCK`` reported by ``fcntl(F_GETFL)`` (Linux's; FreeBSD uses 4).
O_NONBLOCK = 0o4000
O_RDWR = 2

#: Socket options the Stack understands.
SOCKOPTS: tuple[str, ...] = (
    "SO_REUSEADDR",
    "SO_REUSEPORT",
    "SO_LINGER",
    "SO_RCVBUF",
    "SO_SNDBUF",
    "SO_KEEPALIVE",
    "SO_ERROR",
    "SO_TYPE",
    "TCP_NODELAY",
    "TCP_KEEPIDLE",
    "TCP_KEEPINTVL",
    "TCP_KEEPCNT",
    "TCP_USER_TIMEOUT",
    "TCP_INFO",
)


@dataclass(frozen=True, slots=True)
class Datagram:
    """A segment leaving a host: IP source, IP destination and the TCP segment."""

    src: str
    dst: str
    segment: Segment


@dataclass(frozen=True, slots=True)
class SocketInfo:
    """One line of ``ss``/``sockstat``: 4-tuple, state and descriptor (``None`` when orphaned)."""

    conn: ConnId
    state: State
    fd: int | None


@dataclass
class _Socket:
    fd: int
    local: tuple[str, int] | None = None
    conn: Connection | None = None
    listener: Listener | None = None
    nonblocking: bool = False
    explicit: bool = False  # bound by bind(), not by connect()
    opts: dict[str, Any] = field(default_factory=dict)
    connecting: bool = False  # connect() started and its outcome not yet reported (Linux SS_CONNECTING)


def _integer(name: str, value: Any, lo: int, hi: int, allowed: str) -> int:
    """``value`` as an int in ``[lo, hi]`` (numpy integers welcome), or a ParameterError naming ``name``."""
    if type(value) is int and lo <= value <= hi:  # the common case, without the ABC check
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= int(value) <= hi:
        raise ParameterError(name, value, allowed)
    return int(value)


def _time(now: Any) -> float:
    """``now`` as a float (seconds of virtual time), or a ParameterError."""
    if type(now) is float and 0.0 <= now < math.inf:  # the common case, without the ABC check
        return now
    if isinstance(now, bool) or not isinstance(now, numbers.Real) or not math.isfinite(now) or now < 0:
        raise ParameterError("now", now, "a time in seconds (a finite number >= 0)")
    return float(now)


def _resolve_profile(profile: Any) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if isinstance(profile, str):
        return get_profile(profile)
    raise ParameterError("profile", profile, "a profile name (linux, freebsd, rfc9293) or a Profile")


class Stack:
    """One host's TCP.

    Parameters
    ----------
    name : str
        Host name used in trace records.
    addr : str
        The host's IP address (the default for ``bind``).
    profile : str or Profile
        ``"linux"``, ``"freebsd"``, ``"rfc9293"`` or a :class:`~tcpkit.engine.profiles.Profile`.
    isn : callable ``(now, conn_id) -> int``, optional
        ISN generator (``tcpkit.engine.isn.make_isn``); default ``make_isn("linux", seed=seed)``
        for Linux and ``"rfc6528"`` otherwise.
    seed : int
        Seeds the ephemeral-port offset, the default ISNs, timestamp offsets and SYN cookies.
    tracer : callable, optional
        Receives every :class:`~tcpkit.engine.trace.TraceRecord`.
    ts_offset : int or None
        Fixed timestamp offset for every connection (``None``: derived from ``seed``).
    first_fd : int
        The lowest descriptor number ``socket()`` returns (3, as after stdin/out/err).
    """

    def __init__(
        self,
        name: str = "host",
        addr: str = "192.0.2.1",
        profile: str | Profile = "linux",
        *,
        isn: IsnGenerator | None = None,
        seed: int = 0,
        tracer: Tracer | None = None,
        ts_offset: int | None = None,
        first_fd: int = 3,
    ) -> None:
        if not isinstance(name, str):
            raise ParameterError("name", name, "a host name (text)")
        if not isinstance(addr, str) or not addr:
            raise ParameterError("addr", addr, "an IP address as text, e.g. '192.0.2.1'")
        self.name = name
        self.addr = addr
        self.profile = _resolve_profile(profile)
        self.params = self.profile.params
        self.seed = _integer("seed", seed, -(1 << 63), 1 << 63, "an integer")
        self.tracer = tracer
        self.isn = isn if isn is not None else make_isn(self.params.rules.isn_algorithm, seed=seed)
        self.ts_offset = ts_offset
        self.first_fd = first_fd
        self.fds: dict[int, _Socket] = {}
        self.conns: dict[ConnId, Connection] = {}
        self.listeners: dict[tuple[str, int], Listener] = {}
        self.counters: dict[str, int] = {name: 0 for name in COUNTERS}
        self.counters.update(
            {
                "OutRsts": 0,
                "AttemptFails": 0,
                "EstabResets": 0,
                "ActiveOpens": 0,
                "PassiveOpens": 0,
                "TCPAbortOnData": 0,
                "TCPAbortOnClose": 0,
                "PAWSEstab": 0,
                "TWRecycled": 0,
                "EmbryonicRsts": 0,
                "TCPLossProbes": 0,
                "TCPSynRetrans": 0,
                "TCPTimeWaitOverflow": 0,
            }
        )
        #: the host's TIME_WAIT sockets, counted against ``tcp_max_tw_buckets``
        self.tw_buckets = TimeWaitBuckets()
        self._out: list[Datagram] = []
        self._port_counter = 0
        self._isn_override: dict[ConnId, int] = {}

    def set_profile(self, profile: str | Profile) -> None:
        """Change the knobs (``sysctl -w``): sysctls are global, so live connections see them too."""
        self.profile = _resolve_profile(profile)
        self.params = self.profile.params
        for c in self.conns.values():
            c.params = self.params
        for s in self.fds.values():
            if s.conn is not None:
                s.conn.params = self.params
        for lst in self.listeners.values():
            lst.params = self.params

    # ------------------------------------------------------------------ tracing
    def _emit(self, event: TraceRecord) -> None:
        if self.tracer is not None:
            self.tracer(event)

    def _count(self, now: float, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1
        self._emit(CounterChanged(time=now, host=self.name, name=name, value=self.counters[name]))

    def _call(self, now: float, text: str, result: str) -> None:
        self._emit(CallMade(time=now, host=self.name, call=text, result=result))

    def _fail(self, now: float, text: str, err: TcpError) -> TcpError:
        self._call(now, text, f"-1 {err.errno_name}")
        return err

    # ------------------------------------------------------------------ descriptors
    def _sock(self, fd: int) -> _Socket:
        fd = _integer("fd", fd, -(1 << 31), (1 << 31) - 1, "a socket descriptor (an integer)")
        s = self.fds.get(fd)
        if s is None:
            raise TcpError("EBADF", f"fd {fd} is not an open socket (open: {sorted(self.fds) or 'none'})")
        return s

    def socket(self, now: float) -> int:
        """A new TCP socket; returns the lowest free descriptor (from ``first_fd``).

        >>> Stack().socket(0.0)
        3
        """
        now = _time(now)
        fd = self.first_fd
        while fd in self.fds:
            fd += 1
        self.fds[fd] = _Socket(fd)
        self._call(now, "socket(SOCK_STREAM)", str(fd))
        return fd

    def _make_conn(
        self,
        now: float,
        local: tuple[str, int],
        remote: tuple[str, int],
        *,
        passive: bool,
        opts: dict[str, Any] | None = None,
    ) -> Connection:
        cid = (local[0], local[1], remote[0], remote[1])
        conn = Connection(
            self.params,
            local=local,
            remote=remote,
            iss=(self._isn_override.pop(cid) if cid in self._isn_override else self.isn(now, cid)) & MASK,
            ts_offset=self._ts_offset(cid),
            host=self.name,
            tracer=self.tracer,
            passive=passive,
            counters=self.counters,
            tw_buckets=self.tw_buckets,
        )
        if opts:
            self._apply_opts(now, conn, opts)
        return conn

    def _ts_offset(self, cid: ConnId) -> int:
        if self.ts_offset is not None:
            return self.ts_offset
        if self.params.rules.ts_offset_per_connection:
            return self._seeded("ts", cid)
        return 0

    def _seeded(self, *parts: object) -> int:
        """A 32-bit number fixed by the seed and ``parts``: the one place the Stack hashes its seed."""
        h = hashlib.blake2b(repr((self.seed, *parts)).encode(), digest_size=4).digest()
        return int.from_bytes(h, "big")

    # ------------------------------------------------------------------ bind / ports
    def _port_in_use(self, addr: str, port: int, *, reuse: bool, exclude: int | None = None) -> bool:
        for s in self.fds.values():
            if s.fd == exclude or s.local is None or s.local[1] != port:
                continue
            if s.local[0] not in (addr, "0.0.0.0") and addr != "0.0.0.0":
                continue
            if reuse and s.opts.get("SO_REUSEADDR") and s.listener is None:
                continue
            return True
        for cid, c in self.conns.items():
            if cid[1] == port and cid[0] in (addr, "0.0.0.0") and c.orphan:
                if reuse and (c.reuse_addr or not self.params.rules.reuseaddr_both_sides):
                    continue
                return True
        return False

    def bind(self, now: float, fd: int, port: int = 0, addr: str | None = None) -> None:
        """Give the socket a local address (``port=0``: an ephemeral port).

        Raises
        ------
        TcpError
            ``EADDRINUSE`` when another socket holds the port (SO_REUSEADDR lets a
            new socket share it with TIME_WAIT and closed sockets, not with a listener;
            on Linux only when those carried SO_REUSEADDR too);
            ``EINVAL`` when the socket is already bound.
        ParameterError
            When ``port`` is not an integer from 0 to 65535 or ``addr`` is not text.

        Examples
        --------
        >>> st = Stack(); fd = st.socket(0.0); st.bind(0.0, fd, "80")
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.ParameterError: parameter port = '80' is not allowed: expected an integer from 0 to 65535
        """
        now = _time(now)
        s = self._sock(fd)
        port = _integer("port", port, 0, 65535, "an integer from 0 to 65535")
        if addr is not None and (not isinstance(addr, str) or not addr):
            raise ParameterError("addr", addr, "an IP address as text, or None for the host's address")
        text = f"bind({fd}, {addr or self.addr}:{port})"
        if s.local is not None:
            raise self._fail(now, text, TcpError("EINVAL", f"fd {fd} is already bound to port {s.local[1]}"))
        a = addr or self.addr
        if port == 0:
            port = self._ephemeral(now, a, None)
        elif self._port_in_use(a, port, reuse=bool(s.opts.get("SO_REUSEADDR")), exclude=fd):
            raise self._fail(now, text, TcpError("EADDRINUSE", f"port {port} is in use"))
        s.local = (a, port)
        s.explicit = True
        self._call(now, text, "0")

    def _ephemeral(self, now: float, addr: str, remote: tuple[str, int] | None) -> int:
        """Linux-like ephemeral port choice: hashed offset, then increments (``__inet_hash_connect``).

        For ``connect`` (``remote`` given) a port is free when the 4-tuple is unused and no
        socket was explicitly bound to it (ports are shared between destinations); a
        4-tuple held by a TIME_WAIT socket counts as free when ``tcp_tw_reuse`` allows
        taking it over (``__inet_check_established`` -> ``tcp_twsk_unique``, see
        :meth:`_tw_reuse_ok`).  For ``bind``/``listen`` the port must be unused altogether.
        """
        low, high = self.params.port_low, self.params.port_high
        span = high - low + 1
        offset = self._seeded(addr, remote) + self._port_counter
        parity = self.params.rules.ephemeral_parity
        if parity:
            # connect() tries ports of one parity first, bind() the other (Linux >= 4.6)
            offset = (offset & ~1) | (0 if remote is not None else 1)
        for i in range(span):
            if parity and span % 2 == 0:
                step = 2 * i if 2 * i < span else 2 * (i - span // 2) + 1
            else:
                step = 2 * i if parity else i
            port = low + (offset + step) % span
            if remote is not None:
                held = self.conns.get((addr, port, remote[0], remote[1]))
                taken = (
                    held is not None and not (held.state is State.TIME_WAIT and self._tw_reuse_ok(now, held))
                ) or any(
                    x.local is not None and x.local[1] == port and (x.explicit or x.listener is not None)
                    for x in self.fds.values()
                )
            else:
                taken = self._port_in_use(addr, port, reuse=False) or any(cid[1] == port for cid in self.conns)
            if not taken:
                self._port_counter += 2 if parity else 1
                return port
        raise TcpError("EADDRNOTAVAIL", f"no free ephemeral port in {low}-{high}")

    # ------------------------------------------------------------------ listen / accept
    def listen(self, now: float, fd: int, backlog: int = 128) -> None:
        """Start listening (passive OPEN, RFC 9293 §3.10.1).

        Examples
        --------
        >>> st = Stack(); fd = st.socket(0.0); st.bind(0.0, fd, 80); st.listen(0.0, fd, backlog=16)
        >>> st.state(fd), st.sockets()[0].conn
        (<State.LISTEN: 'LISTEN'>, ('192.0.2.1', 80, '0.0.0.0', 0))
        >>> st.listen(0.0, fd, "8")
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.ParameterError: parameter backlog = '8' is not allowed: expected an integer (the ...
        """
        now = _time(now)
        s = self._sock(fd)
        backlog = _integer("backlog", backlog, -(1 << 31), (1 << 31) - 1, "an integer (the accept-queue length)")
        text = f"listen({fd}, {backlog})"
        if s.conn is not None:
            raise self._fail(now, text, TcpError("EINVAL", f"fd {fd} is connected"))
        if s.listener is not None:
            s.listener.backlog = max(0, min(backlog, self.params.somaxconn))
            self._call(now, text, "0")
            return
        if s.local is None:
            s.local = (self.addr, self._ephemeral(now, self.addr, None))
        for other in self.fds.values():
            if (
                other is not s
                and other.listener is not None
                and other.local is not None
                and other.local[1] == s.local[1]
            ):
                raise self._fail(now, text, TcpError("EADDRINUSE", f"port {s.local[1]} already has a listener"))
        opts = dict(s.opts)

        def make_child(t: float, remote: tuple[str, int]) -> Connection:
            assert s.local is not None
            local = (s.local[0] if s.local[0] != "0.0.0.0" else self.addr, s.local[1])
            return self._make_conn(t, local, remote, passive=True, opts=opts)

        s.listener = Listener(
            now,
            self.params,
            local=s.local,
            backlog=backlog,
            make_child=make_child,
            host=self.name,
            tracer=self.tracer,
            counters=self.counters,
            cookie_seed=self.seed,
        )
        self.listeners[s.local] = s.listener
        self._call(now, text, "0")

    def accept(self, now: float, fd: int) -> int:
        """The next connection of the accept queue, as a new descriptor (or ``EAGAIN``).

        Examples
        --------
        >>> st = Stack(); fd = st.socket(0.0); st.bind(0.0, fd, 80); st.listen(0.0, fd)
        >>> st.accept(0.0, fd)
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.TcpError: EAGAIN (Resource temporarily unavailable): no connection is waiting
        """
        now = _time(now)
        s = self._sock(fd)
        text = f"accept({fd})"
        if s.listener is None:
            raise self._fail(now, text, TcpError("EINVAL", f"fd {fd} is not listening"))
        conn = s.listener.accept(now)
        if conn is None:
            raise self._fail(now, text, TcpError("EAGAIN", "no connection is waiting"))
        conn.listener = None
        nfd = self.socket(now)
        ns = self.fds[nfd]
        ns.local = conn.local
        ns.conn = conn
        ns.opts = dict(s.opts)
        self._call(now, text, str(nfd))
        return nfd

    # ------------------------------------------------------------------ connect
    def connect(self, now: float, fd: int, addr: str, port: int) -> None:
        """Active OPEN: send a SYN.  Always raises ``TcpError("EINPROGRESS")`` once the SYN is queued.

        Raises
        ------
        TcpError
            ``EINPROGRESS`` (success), ``EALREADY`` (still connecting), ``EISCONN``,
            the pending error of a failed attempt, or ``EADDRNOTAVAIL``.
        ParameterError
            When ``addr`` is not text or ``port`` not an integer from 1 to 65535.
        """
        now = _time(now)
        s = self._sock(fd)
        if not isinstance(addr, str) or not addr:
            raise ParameterError("address", addr, "an IP address as text, e.g. '192.0.2.1'")
        port = _integer("port", port, 1, 65535, "an integer from 1 to 65535")
        text = f"connect({fd}, {addr}:{port})"
        if s.listener is not None:
            raise self._fail(now, text, TcpError("EINVAL", f"fd {fd} is listening"))
        if s.conn is not None:
            st = s.conn.state
            if st in (State.SYN_SENT, State.SYN_RECEIVED):
                raise self._fail(now, text, TcpError("EALREADY", "the handshake is in progress"))
            if st is not State.CLOSED:
                raise self._fail(now, text, TcpError("EISCONN", f"fd {fd} is connected ({st.value})"))
            pending = s.conn.take_error()
            if pending:
                # __inet_stream_connect(): the failed attempt is reported (sock_error) and the
                # socket is unconnected again: the next connect() sends a new SYN
                s.connecting = False
                raise self._fail(now, text, TcpError(pending, "the earlier connect failed"))
            if s.connecting and s.nonblocking:
                # ... and when SO_ERROR has already taken the error: -ECONNABORTED
                s.connecting = False
                raise self._fail(now, text, TcpError("ECONNABORTED", "the earlier connect failed"))
            if s.conn.ever_connected:
                raise self._fail(now, text, TcpError("EISCONN", "the connection has closed"))
        remote = (addr, port)
        if s.local is None:
            try:
                s.local = (self.addr, self._ephemeral(now, self.addr, remote))
            except TcpError as err:
                raise self._fail(now, text, err) from None
        local = (s.local[0] if s.local[0] != "0.0.0.0" else self.addr, s.local[1])
        cid = (local[0], local[1], addr, port)
        old = self.conns.get(cid)
        if old is not None:
            if old.state is State.TIME_WAIT and self._tw_reuse_ok(now, old):
                old.abort(now)  # tcp_twsk_unique(): the TIME_WAIT socket gives way
                self._collect(now, old)
                del self.conns[cid]
                self._count(now, "TWRecycled")  # LINUX_MIB_TIMEWAITRECYCLED
                if self.params.rules.tw_isn_above_old:
                    # the new ISN continues above the old one (tcp_twsk_unique: tw_snd_nxt + 65535 + 2)
                    self._isn_override[cid] = seq_add(old.snd_nxt, 65535 + 2) or 1
            else:
                raise self._fail(now, text, TcpError("EADDRNOTAVAIL", f"4-tuple {cid} is in use ({old.state.value})"))
        conn = self._make_conn(now, local, remote, passive=False, opts=s.opts)
        s.conn = conn
        s.connecting = True
        self.conns[cid] = conn
        conn.open_active(now)
        self._count(now, "ActiveOpens")
        self._collect(now, conn)
        raise self._fail(now, text, TcpError("EINPROGRESS", "SYN sent"))

    def _tw_reuse_ok(self, now: float, tw: Connection) -> bool:
        """May an outgoing connection take over the 4-tuple of TIME_WAIT socket ``tw``?

        ``tcp_tw_reuse`` 1 (2: loopback only), timestamps in use on ``tw``, and ``tw`` in TIME_WAIT for longer
        than ``tcp_tw_reuse_delay`` (1000 ms).  Linux 6.14 made that delay a sysctl counted in ms from the entry
        into TIME_WAIT (``tw_entry_stamp``); up to 6.13 the *last timestamp received* had to be more than 1 s
        old, which for an active closer is usually the peer's FIN that started TIME_WAIT, so the two agree then.

        Notes
        -----
        net/ipv4/tcp_ipv4.c ``tcp_twsk_unique()``; Documentation/networking/ip-sysctl.rst
        ``tcp_tw_reuse`` and ``tcp_tw_reuse_delay`` (1000 ms).  The timestamps make the
        reuse safe: PAWS (RFC 7323 §5) rejects old duplicates of the earlier incarnation.

        Examples
        --------
        >>> from tcpkit.engine.connection import handshake_pair
        >>> c, _s = handshake_pair(0.0, "linux")
        >>> c.time_wait_since = 0.0  # as if TIME_WAIT had started at 0 s
        >>> st = Stack(profile=get_profile("linux", tcp_tw_reuse=1))
        >>> st._tw_reuse_ok(0.5, c), st._tw_reuse_ok(1.5, c)
        (False, True)
        >>> Stack(profile=get_profile("linux", tcp_tw_reuse=1, tcp_tw_reuse_delay=2000))._tw_reuse_ok(1.5, c)
        False
        """
        mode = self.params.tw_reuse
        if not mode or not tw.ts_ok:
            return False
        if mode == 2 and not (tw.remote[0].startswith("127.") and tw.local[0].startswith("127.")):
            return False
        since = tw.time_wait_since if tw.time_wait_since is not None else tw.ts_recent_time
        return now - since > self.params.tw_reuse_delay

    # ------------------------------------------------------------------ data
    def _conn(self, fd: int, what: str) -> Connection:
        s = self._sock(fd)
        if s.conn is None:
            if s.listener is not None:
                raise TcpError("ENOTCONN", f"{what} on listening fd {fd}")
            raise TcpError("ENOTCONN", f"{what} on fd {fd}, which is not connected")
        return s.conn

    def send(self, now: float, fd: int, data: bytes | int) -> int:
        """Queue bytes (or a byte count) for sending; returns how many were accepted."""
        now = _time(now)
        if not isinstance(data, bytes | bytearray | memoryview):
            data = _integer("send data", data, 0, 1 << 40, "bytes or a byte count >= 0")
        n = len(data) if isinstance(data, bytes | bytearray | memoryview) else data
        text = f"send({fd}, {n!r})"
        try:
            conn = self._conn(fd, "send")
            r = conn.send(now, data)
        except TcpError as err:
            raise self._fail(now, text, err) from None
        self._collect(now, conn)
        self._call(now, text, str(r))
        return r

    def recv(self, now: float, fd: int, n: int) -> bytes:
        """Up to ``n`` received bytes; ``b""`` at end of stream; ``EAGAIN`` when nothing yet."""
        now = _time(now)
        n = _integer("recv size", n, 0, 1 << 40, "a byte count >= 0")
        text = f"recv({fd}, {n})"
        try:
            conn = self._conn(fd, "recv")
            data = conn.recv(now, n)
        except TcpError as err:
            raise self._fail(now, text, err) from None
        self._collect(now, conn)
        self._call(now, text, str(len(data)))
        return data

    def shutdown(self, now: float, fd: int, how: str) -> None:
        """shutdown(2) with ``"SHUT_RD"``, ``"SHUT_WR"`` or ``"SHUT_RDWR"``.

        Examples
        --------
        >>> st = Stack(); fd = st.socket(0.0)
        >>> st.shutdown(0.0, fd, "SHUT_WR")
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.TcpError: ENOTCONN (Transport endpoint is not connected): shutdown on fd 3, which is ...
        """
        now = _time(now)
        text = f"shutdown({fd}, {how})"
        if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
            raise ParameterError("how", how, "SHUT_RD, SHUT_WR or SHUT_RDWR")
        try:
            conn = self._conn(fd, "shutdown")
            conn.shutdown(now, how)
        except TcpError as err:
            raise self._fail(now, text, err) from None
        self._collect(now, conn)
        self._call(now, text, "0")

    def close(self, now: float, fd: int) -> None:
        """Close the descriptor; the connection lives on (FIN_WAIT_*, TIME_WAIT) without it.

        Examples
        --------
        >>> st = Stack(); fd = st.socket(0.0); st.close(0.0, fd); st.fds
        {}
        """
        now = _time(now)
        s = self._sock(fd)
        fd = s.fd
        text = f"close({fd})"
        del self.fds[fd]
        if s.listener is not None:
            lst = s.listener
            dropped = lst.close(now, abort=self._linger_zero(s))
            for c in dropped:
                self._collect(now, c)
                self.conns.pop(c.conn_id, None)
            if s.local is not None:
                self.listeners.pop(s.local, None)
        elif s.conn is not None:
            s.conn.close(now, linger_zero=self._linger_zero(s))
            self._collect(now, s.conn)
            self._cleanup(now, s.conn)
        self._call(now, text, "0")

    @staticmethod
    def _linger_zero(s: _Socket) -> bool:
        linger = s.opts.get("SO_LINGER")
        return bool(linger and linger[0] and linger[1] == 0)

    def abort(self, now: float, fd: int) -> None:
        """ABORT (RFC 9293 §3.10.5): reset the connection (or stop listening) and free ``fd``.

        The same as ``close`` with ``SO_LINGER`` on and 0 seconds.
        """
        now = _time(now)
        s = self._sock(fd)
        fd = s.fd
        del self.fds[fd]
        if s.listener is not None:
            lst = s.listener
            for c in lst.close(now, abort=True):
                self._collect(now, c)
                self.conns.pop(c.conn_id, None)
            if s.local is not None:
                self.listeners.pop(s.local, None)
        elif s.conn is not None:
            s.conn.orphan = True
            s.conn.abort(now)
            self._collect(now, s.conn)
            self._cleanup(now, s.conn)
        self._call(now, f"abort({fd})", "0")

    # ------------------------------------------------------------------ options
    def setsockopt(self, now: float, fd: int, name: str, value: Any) -> None:
        """Set a socket option (see :data:`SOCKOPTS`).

        ``SO_RCVBUF``/``SO_SNDBUF`` are doubled on Linux (``sock_setsockopt``);
        ``SO_LINGER`` takes ``(on, seconds)``; ``TCP_USER_TIMEOUT`` is in milliseconds;
        ``TCP_KEEP*`` in seconds (``TCP_KEEPCNT`` a count).

        >>> st = Stack(); fd = st.socket(0.0)
        >>> st.setsockopt(0.0, fd, "SO_SNDBUF", 21000); st.getsockopt(fd, "SO_SNDBUF")
        42000
        >>> st.setsockopt(0.0, fd, "SO_FOO", 1)
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.ParameterError: parameter socket option = 'SO_FOO' is not allowed: expected one of ...
        """
        now = _time(now)
        s = self._sock(fd)
        fd = s.fd
        if name not in SOCKOPTS or name in ("SO_ERROR", "TCP_INFO", "SO_TYPE"):
            raise ParameterError(
                "socket option",
                name,
                "one of " + ", ".join(o for o in SOCKOPTS if o not in ("SO_ERROR", "TCP_INFO", "SO_TYPE")),
            )
        if name == "SO_LINGER":
            if isinstance(value, numbers.Integral):
                value = (bool(value), 0)
            if not (isinstance(value, tuple | list) and len(value) == 2):
                raise ParameterError("SO_LINGER", value, "a pair (on, seconds)")
            value = (bool(value[0]), _integer("SO_LINGER seconds", value[1], 0, 1 << 31, "seconds >= 0"))
        elif name in ("SO_RCVBUF", "SO_SNDBUF"):
            value = _integer(name, value, 0, 1 << 31, "a byte count >= 0")
            if self.params.rules.sockbuf_doubling:
                value = max(value * 2, 2304 if name == "SO_RCVBUF" else 4608)  # SOCK_MIN_RCVBUF/SNDBUF
        elif name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"):
            numeric = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if not numeric or not 1 <= float(value) <= 32767:
                raise ParameterError(name, value, "a number from 1 to 32767")
        elif name == "TCP_USER_TIMEOUT":
            value = _integer(name, value, 0, (1 << 31) - 1, "milliseconds >= 0")
        s.opts[name] = value
        if s.conn is not None:
            self._apply_opts(now, s.conn, {name: value})
            self._collect(now, s.conn)
        self._call(now, f"setsockopt({fd}, {name}, {value!r})", "0")

    def _apply_opts(self, now: float, conn: Connection, opts: dict[str, Any]) -> None:
        for name, value in opts.items():
            if name == "SO_RCVBUF":
                conn.rcvbuf = value
                conn.recvq.locked = True  # SOCK_RCVBUF_LOCK: the window scale follows this buffer (Linux)
            elif name == "SO_SNDBUF":
                conn.sndbuf = value
            elif name == "TCP_KEEPIDLE":
                conn.set_keepidle(now, float(value))
            elif name == "TCP_KEEPINTVL":
                conn.keepintvl = float(value)
            elif name == "TCP_KEEPCNT":
                conn.keepcnt = int(value)
            elif name == "TCP_USER_TIMEOUT":
                conn.user_timeout = value / 1000.0
            elif name == "SO_KEEPALIVE":
                conn.set_keepalive(now, bool(value))
            elif name == "SO_REUSEADDR":
                conn.reuse_addr = bool(value)

    def getsockopt(self, fd: int, name: str) -> Any:
        """Read a socket option; ``SO_ERROR`` returns the pending error name (and clears it) or 0."""
        s = self._sock(fd)
        if name not in SOCKOPTS:
            raise ParameterError("socket option", name, "one of " + ", ".join(SOCKOPTS))
        c = s.conn
        if name == "SO_ERROR":
            if c is None:
                return 0
            err = c.take_error()
            if err and not s.nonblocking:
                s.connecting = False  # a blocking connect() would have returned this error itself
            return err or 0
        if name == "SO_TYPE":
            return "SOCK_STREAM"
        if name == "TCP_INFO":
            if c is not None:
                info = c.status()
            else:
                st = State.LISTEN if s.listener is not None else State.CLOSED
                info = {"state": st, "tcpi_state": st.linux_code}
            return info
        if name == "SO_RCVBUF":
            if c is not None:
                return self._report_rcvbuf(c)
            return s.opts.get(name, _default_buf(self, "rcv"))
        if name == "SO_SNDBUF":
            if c is not None:
                return c.sndbuf
            return s.opts.get(name, _default_buf(self, "snd"))
        if name == "SO_LINGER":
            return s.opts.get(name, (False, 0))
        if name in ("TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"):
            defaults = {
                "TCP_KEEPIDLE": self.params.keepalive_time,
                "TCP_KEEPINTVL": self.params.keepalive_intvl,
                "TCP_KEEPCNT": self.params.keepalive_probes,
            }
            return s.opts.get(name, defaults[name])
        return s.opts.get(name, 0)

    def _report_rcvbuf(self, c: Connection) -> int:
        return c.rcvbuf

    def set_nonblocking(self, fd: int, on: bool = True) -> None:
        """Mark the descriptor non-blocking (informational: no call blocks in a sans-IO engine)."""
        self._sock(fd).nonblocking = on

    def fcntl(self, fd: int, cmd: str, arg: int = 0) -> int:
        """``F_GETFL`` (returns ``O_RDWR`` plus ``O_NONBLOCK`` when set) or ``F_SETFL``."""
        s = self._sock(fd)
        if cmd == "F_GETFL":
            return O_RDWR | (O_NONBLOCK if s.nonblocking else 0)
        if cmd == "F_SETFL":
            s.nonblocking = bool(arg & (O_NONBLOCK | self.params.rules.o_nonblock))
            return 0
        raise ParameterError("fcntl command", cmd, "F_GETFL or F_SETFL")

    # ------------------------------------------------------------------ status
    def poll(self, fd: int) -> frozenset[str]:
        """Readiness of a descriptor: a subset of ``in``, ``out``, ``err``, ``hup``, ``rdhup``.

        Examples
        --------
        >>> st = Stack(); fd = st.socket(0.0); sorted(st.poll(fd))
        ['hup', 'out']
        """
        s = self._sock(fd)
        if s.listener is not None:
            return frozenset({"in"}) if s.listener.accept_queue else frozenset()
        if s.conn is None:
            return frozenset({"out", "hup"})
        return s.conn.poll()

    def state(self, fd: int) -> State:
        """The state of the socket behind ``fd``."""
        s = self._sock(fd)
        if s.listener is not None:
            return s.listener.state
        if s.conn is None:
            return State.CLOSED
        return s.conn.state

    def connection(self, fd: int) -> Connection | None:
        """The TCB behind ``fd`` (``None`` for listeners and unconnected sockets)."""
        return self._sock(fd).conn

    def sockets(self) -> list[SocketInfo]:
        """Every socket, as ``ss -a`` / ``sockstat`` would list it (TIME_WAIT and SYN_RECEIVED included).

        Examples
        --------
        >>> st = Stack(); fd = st.socket(0.0); st.bind(0.0, fd, 8080); st.listen(0.0, fd)
        >>> [(i.state.value, i.fd) for i in st.sockets()]
        [('LISTEN', 3)]
        """
        by_conn = {id(s.conn): fd for fd, s in self.fds.items() if s.conn is not None}
        out: list[SocketInfo] = []
        for fd, s in sorted(self.fds.items()):
            if s.listener is not None:
                out.append(SocketInfo(s.listener.conn_id, s.listener.state, fd))
                for child in s.listener.syn_queue.values():
                    out.append(SocketInfo(child.conn_id, child.state, None))
        for cid, c in self.conns.items():
            if c.listener is not None and c.state is State.SYN_RECEIVED and c.conn_id in c.listener.syn_queue:
                continue
            out.append(SocketInfo(cid, c.state, by_conn.get(id(c))))
        return out

    def tcpdrop(self, now: float, state: State | str) -> int:
        """Drop every connection in ``state`` (FreeBSD ``tcpdrop -s``); returns how many.

        >>> Stack().tcpdrop(0.0, "TIME_WAIT")
        0
        """
        now = _time(now)
        st = State.parse(state)
        victims = [c for c in self.conns.values() if c.state is st]
        for c in victims:
            c.abort(now)
            self._collect(now, c)
            self._cleanup(now, c)
        return len(victims)

    # ------------------------------------------------------------------ segments
    def take_outgoing(self) -> list[Datagram]:
        """Datagrams produced since the last call."""
        out, self._out = self._out, []
        return out

    def _collect(self, now: float, conn: Connection) -> None:
        for seg in conn.take_outgoing():
            self._out.append(Datagram(conn.local[0], conn.remote[0], seg))
            if seg.rst:
                self._count(now, "OutRsts")

    def _send_raw(self, now: float, src: str, dst: str, seg: Segment, conn: ConnId) -> None:
        self._out.append(Datagram(src, dst, seg))
        if seg.rst:
            self._count(now, "OutRsts")
        self._emit(SegmentSent(time=now, host=self.name, conn=conn, segment=seg))

    def _cleanup(self, now: float, conn: Connection) -> None:
        if conn.state in (State.CLOSED, State.LISTEN):
            if self.conns.get(conn.conn_id) is conn:
                del self.conns[conn.conn_id]
            lst = conn.listener
            if isinstance(lst, Listener):
                lst._forget(now, conn)
                lst.child_changed(now, conn)

    def _find_listener(self, addr: str, port: int) -> Listener | None:
        return self.listeners.get((addr, port)) or self.listeners.get(("0.0.0.0", port))

    def segment_arrives(self, now: float, src: str, dst: str, seg: Segment) -> None:
        """A segment from ``src`` to ``dst`` (this host) arrives.

        Examples
        --------
        A SYN to a port where nobody listens is answered with ``<SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>``:

        >>> from tcpkit.engine.segment import parse_segment
        >>> st = Stack(addr="10.0.0.1")
        >>> syn = parse_segment("S 100:100(0) win 9").replace(src_port=5, dst_port=22)
        >>> st.segment_arrives(0.0, "10.0.0.9", "10.0.0.1", syn)
        >>> st.take_outgoing()[0].segment.notation()
        'R. 0:0(0) ack 101 win 0'
        """
        cid = (dst, seg.dst_port, src, seg.src_port)
        conn = self.conns.get(cid)
        base = conn.seq_base if conn is not None else None
        self._emit(SegmentReceived(time=now, host=self.name, conn=cid, segment=seg, seq_base=base))
        lst = self._find_listener(dst, seg.dst_port)
        if (
            conn is not None
            and conn.state is State.TIME_WAIT
            and lst is not None
            and self._new_incarnation(now, conn, seg)
        ):
            conn = None
        if conn is not None:
            owner = conn.listener
            if isinstance(owner, Listener) and conn.state is State.SYN_RECEIVED:
                owner.child_segment(now, conn, seg, send=self._listener_send(now, dst, src))
                self._passive_open(now, conn)
            else:
                conn.segment_arrives(now, seg)
                self._collect(now, conn)
            self._cleanup(now, conn)
            return
        if lst is not None:
            child = lst.segment_arrives(now, src, seg, send=self._listener_send(now, dst, src))
            if child is not None:
                self._collect(now, child)
                self._passive_open(now, child)  # a valid SYN cookie completes at once
                if child.state is not State.CLOSED:
                    self.conns[child.conn_id] = child
            return
        self._closed_port(now, src, dst, seg, cid)

    def _passive_open(self, now: float, child: Connection) -> None:
        """Count ``PassiveOpens`` when a request's handshake completes, not at accept().

        Linux ``tcp_create_openreq_child()`` counts it when the final ACK (or a valid SYN
        cookie) turns the request into a full socket -- after the accept-queue check, so a
        final ACK dropped on overflow does not count.
        """
        if child.passive and child.ever_connected and not child.counted_open:
            child.counted_open = True
            self._count(now, "PassiveOpens")

    def _listener_send(self, now: float, src: str, dst: str) -> Callable[[Segment], None]:
        """Where a listener (or its request) puts its replies; resets count as ``OutRsts``."""

        def send(seg: Segment) -> None:
            self._out.append(Datagram(src, dst, seg))
            if seg.rst:
                self._count(now, "OutRsts")

        return send

    def _new_incarnation(self, now: float, tw: Connection, seg: Segment) -> bool:
        """A SYN that may reopen a TIME_WAIT 4-tuple (Linux ``tcp_timewait_state_process``).

        Accepted when the SYN's sequence number is after RCV.NXT, or (Linux) when
        its timestamp is newer than the last one seen (RFC 6191).
        """
        if not seg.syn or seg.has_ack or seg.rst:
            return False
        newer_ts = (
            tw.ts_ok
            and seg.timestamp is not None
            and seq_gt(seg.timestamp[0], tw.ts_recent)
            and self.params.rules.tw_reopen_by_timestamp
        )
        if not (seq_gt(seg.seq, tw.rcv_nxt) or newer_ts):
            return False
        row = lookup(State.TIME_WAIT, Event.RCV_SYN, "new incarnation")
        tw._transition(now, row.event, row.condition)
        self.conns.pop(tw.conn_id, None)
        self._collect(now, tw)
        # the new ISN continues above the old connection's (Linux: tw_snd_nxt + 65535 + 2)
        if self.params.rules.tw_isn_above_old:
            self._isn_override[tw.conn_id] = seq_add(tw.snd_nxt, 65535 + 2)
        return True

    def _closed_port(self, now: float, src: str, dst: str, seg: Segment, cid: ConnId) -> None:
        """RFC 9293 §3.10.7.1: CLOSED answers everything but an RST with an RST."""
        if seg.rst:
            self._emit(SegmentDropped(time=now, host=self.name, conn=cid, segment=seg, reason="RST to a closed port"))
            return
        if seg.has_ack:
            rst = Segment(src_port=seg.dst_port, dst_port=seg.src_port, seq=seg.ack, flags=Flags.RST, window=0)
        else:
            rst = Segment(
                src_port=seg.dst_port,
                dst_port=seg.src_port,
                seq=0,
                ack=seg.end_seq,
                flags=Flags.RST | Flags.ACK,
                window=0,
            )
        self._send_raw(now, dst, src, rst, cid)

    # ------------------------------------------------------------------ timers
    def next_deadline(self) -> float | None:
        """The earliest timer of any connection, or ``None``.

        >>> st = Stack(); fd = st.socket(0.0)
        >>> st.next_deadline() is None
        True
        >>> from tcpkit.engine.errors import TcpError
        >>> try:
        ...     st.connect(2.0, fd, "192.0.2.9", 80)
        ... except TcpError:
        ...     pass
        >>> st.next_deadline()                  # the SYN retransmission
        3.0
        """
        # the hottest loop of a simulation: read each connection's timer table directly
        ds = [min(dl.values()) for c in self.conns.values() if (dl := c.timer.deadlines)]
        return min(ds) if ds else None

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at or before ``now``.

        >>> from tcpkit.engine.errors import TcpError
        >>> st = Stack(); fd = st.socket(0.0)
        >>> try:
        ...     st.connect(0.0, fd, "192.0.2.9", 80)
        ... except TcpError:
        ...     pass
        >>> _ = st.take_outgoing(); st.handle_timer(1.0); st.take_outgoing()[0].segment.flags
        <Flags.SYN: 2>
        """
        for c in list(self.conns.values()):
            d = c.next_deadline()
            if d is not None and d <= now:
                c.handle_timer(now)
                self._collect(now, c)
                lst = c.listener
                if isinstance(lst, Listener):
                    lst.child_changed(now, c)
                self._cleanup(now, c)


def _default_buf(stack: Stack, which: str) -> int:
    return default_rcvbuf(stack.params) if which == "rcv" else default_sndbuf(stack.params)
