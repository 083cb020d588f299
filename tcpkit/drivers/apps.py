"""Small application behaviours that drive sockets in the simulator.

An application (应用程序) is what decides *when* ``connect``, ``accept``,
``send``, ``recv``, ``shutdown`` and ``close`` are called; most of the
lifecycle lessons are about exactly that.  Each app here is an object on a
:class:`~tcpkit.drivers.sim.Host`: :meth:`App.start` schedules its first call, and
the network calls :meth:`App.wake` whenever the host's stack has changed, so
the app can retry calls that said ``EAGAIN``.

* :class:`Client`: connects at a given time, sends, then closes (or
  half-closes, aborts with ``SO_LINGER`` 0, or never closes).
* :class:`Server`: listens and accepts promptly, slowly or never; reads
  until end-of-file, then closes (or never closes: the CLOSE_WAIT leak,
  关闭等待泄漏).

Examples
--------
>>> from tcpkit.drivers.sim import Network
>>> net = Network(seed=0)
>>> c = net.add_host("client", "192.0.2.1"); s = net.add_host("server", "198.51.100.1")
>>> srv = Server(s, 80).start()
>>> cli = Client(c, s.addr, 80, data=b"hello").start()
>>> net.run(until=1)
>>> cli.connected_at is not None, srv.received
(True, b'hello')

Notes
-----
Socket semantics follow POSIX and Linux ``net/ipv4/tcp.c``: a non-blocking
``connect`` reports completion through writability and ``SO_ERROR``;
``recv`` returns ``b""`` at end-of-file; ``close`` with ``SO_LINGER`` {on, 0}
sends an RST (``tcp_disconnect``).
"""

from __future__ import annotations

import contextlib
from typing import Any

from tcpkit.engine.errors import ParameterError, TcpError

from . import checks
from .sim import Host, Socket

__all__ = ["App", "Client", "Server", "CLIENT_CLOSE", "SERVER_ACCEPT", "SERVER_CLOSE"]

#: What a client does once its data is sent.
CLIENT_CLOSE = ("close", "shutdown", "abort", "never", "on_eof")
#: How fast a server accepts.
SERVER_ACCEPT = ("prompt", "slow", "never")
#: When a server closes an accepted connection.
SERVER_CLOSE = ("on_eof", "after_send", "reply_on_eof", "never", "abort")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    return checks.choice(name, value, allowed)


def _time(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0 or value == float("inf"):
        raise ParameterError(name, value, "a time >= 0 (seconds)")
    return float(value)


def _host(value: Any) -> Host:
    if not isinstance(value, Host):
        raise ParameterError("host", value, "a Host (Network.add_host(...))")
    return value


def _sockopts(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ParameterError("sockopts", value, "a dict of option names to values, e.g. {'SO_KEEPALIVE': 1}")
    return dict(value)


def _payload(name: str, value: Any) -> bytes | int:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return checks.integer(name, value, 0, 2**40)


class App:
    """Base class: an application living on ``host``."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.net = host.net
        self.events: list[tuple[float, str]] = []  # what the app saw, in words
        self.done = False

    def start(self) -> Any:
        self.host.apps.append(self)
        return self

    def wake(self, now: float) -> None:
        """The host's stack changed: make whatever progress is possible now."""

    def _finish(self) -> None:
        self.done = True
        if self in self.host.apps:
            self.host.apps.remove(self)

    def _log(self, what: str) -> None:
        self.events.append((self.net.now, what))


def _drain(sock: Socket, sink: bytearray) -> bool:
    """Read everything available; return True at end-of-file."""
    while True:
        try:
            data = sock.recv(65536)
        except TcpError as exc:
            if exc.errno_name == "EAGAIN":
                return False
            raise
        if not data:
            return True
        sink += data


class Client(App):
    """Connect to ``addr:port`` at time ``at``, send ``data``, then ``close``.

    Parameters
    ----------
    host : Host
    addr, port : where to connect.
    at : float
        When ``connect()`` is called.
    data : bytes or int
        What to send once connected (an int sends that many bytes).
    close : str
        ``close`` (after sending), ``shutdown`` (``SHUT_WR`` after sending, keep
        reading, close at end-of-file: a half-close), ``abort`` (``SO_LINGER``
        {on, 0}: RST), ``never``, or ``on_eof`` (wait for the server's FIN).
    close_at : float, optional
        Close at this time instead of right after sending.
    sockopts : dict
        Options set before ``connect`` (``SO_REUSEADDR``, ``TCP_KEEPIDLE`` ...).
    bind : int, optional
        A fixed local port.

    Attributes
    ----------
    connected_at, error, received, eof_at
    """

    def __init__(
        self,
        host: Host,
        addr: str,
        port: int,
        *,
        at: float = 0.0,
        data: bytes | int = b"",
        close: str = "close",
        close_at: float | None = None,
        sockopts: dict[str, Any] | None = None,
        bind: int | None = None,
    ) -> None:
        super().__init__(_host(host))
        self.addr = checks.address("addr", addr)
        self.port = checks.port("port", port)
        self.at = _time("at", at)
        self.data = _payload("data", data)
        self.close_mode = _choice("close", close, CLOSE_MODES)
        self.close_at = None if close_at is None else _time("close_at", close_at)
        self.sockopts = _sockopts(sockopts)
        self.bind = None if bind is None else checks.port("bind", bind, zero=True)
        self.sock: Socket | None = None
        self.phase = "waiting"
        self.connected_at: float | None = None
        self.error: str | None = None
        self.received = bytearray()
        self.eof_at: float | None = None
        self.closed_at: float | None = None
        self._to_send = data if isinstance(data, int) else len(data)
        self._sent = 0

    def start(self) -> Client:
        # joins host.apps only when it connects: a waiting client needs no wake-ups
        self.net.at(self.at, self._connect)
        if self.close_at is not None:
            self.net.at(self.close_at, self._close_now)
        return self

    def _connect(self) -> None:
        super().start()
        sock = self.host.socket()
        self.sock = sock
        for k, v in self.sockopts.items():
            sock.setsockopt(k, v)
        if self.bind is not None:
            sock.bind(self.bind)
        self.phase = "connecting"
        try:
            sock.connect(self.addr, self.port)
        except TcpError as exc:
            self._fail(exc.errno_name)
            return
        self._log("connect")
        self.wake(self.net.now)

    def _fail(self, err: str) -> None:
        self.error = err
        self.phase = "failed"
        self._log(f"error {err}")
        self._finish()

    def wake(self, now: float) -> None:
        sock = self.sock
        if sock is None or self.phase in ("waiting", "closed", "failed"):
            return
        ev = sock.poll()
        if self.phase == "connecting":
            if "err" in ev or ("hup" in ev and "in" not in ev):
                err = sock.error
                self._fail(str(err) if err else "ECONNRESET")
                return
            if "out" not in ev and "in" not in ev:
                return
            self.phase = "connected"
            self.connected_at = now
            self._log("connected")
        try:
            self._progress(sock, now)
        except TcpError as exc:
            self._fail(exc.errno_name)

    def _progress(self, sock: Socket, now: float) -> None:
        if self.phase == "connected" and self._sent < self._to_send:
            chunk: bytes | int = self.data[self._sent :] if isinstance(self.data, bytes) else self._to_send - self._sent
            try:
                self._sent += sock.send(chunk)
            except TcpError as exc:
                if exc.errno_name != "EAGAIN":
                    raise
        if self.eof_at is None and self.phase in ("connected", "half-closed") and _drain(sock, self.received):
            self.eof_at = now
            self._log("end of file")
        if self.phase == "connected" and self._sent >= self._to_send and self.close_at is None:
            mode = self.close_mode
            if mode == "close":
                self._close_now()
            elif mode == "abort":
                sock.setsockopt("SO_LINGER", (1, 0))
                self._close_now()
            elif mode == "shutdown":
                sock.shutdown("SHUT_WR")
                self.phase = "half-closed"
                self._log("shutdown SHUT_WR")
        if self.eof_at is not None and self.phase != "closed" and self.close_mode in ("shutdown", "on_eof"):
            self._close_now()

    def _close_now(self) -> None:
        if self.sock is None or self.phase in ("closed", "failed", "waiting"):
            return
        if self.close_mode == "abort":
            self.sock.setsockopt("SO_LINGER", (1, 0))
        self.sock.close()
        self.phase = "closed"
        self.closed_at = self.net.now
        self._log("close")
        self._finish()


CLOSE_MODES = CLIENT_CLOSE


class Server(App):
    """Listen on ``port``; accept promptly, slowly (one per ``accept_every`` s) or never.

    Every accepted connection is read until end-of-file; then, by ``close``:
    ``on_eof`` closes it (the normal case), ``never`` leaves it open (a leak:
    the connection sits in CLOSE_WAIT), ``after_send`` sends ``reply`` and
    closes at once (the server closes first), ``reply_on_eof`` sends ``reply``
    only after the client's FIN and then closes (the client half-closed),
    ``abort`` resets it.

    Attributes
    ----------
    accepted : list of Socket
    received : bytes received on all connections
    """

    def __init__(
        self,
        host: Host,
        port: int,
        *,
        backlog: int = 128,
        accept: str = "prompt",
        accept_every: float = 1.0,
        accept_at: float = 0.0,
        close: str = "on_eof",
        reply: bytes | int = b"",
        sockopts: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(_host(host))
        self.port = checks.port("port", port)
        self.backlog = checks.integer("backlog", backlog, 0, 2**31 - 1)
        self.accept_mode = _choice("accept", accept, SERVER_ACCEPT)
        self.accept_every = _time("accept_every", accept_every)
        if self.accept_mode == "slow" and self.accept_every <= 0:
            raise ParameterError("accept_every", accept_every, "a time > 0 (seconds) for a slow server")
        self.accept_at = _time("accept_at", accept_at)
        self.close_mode = _choice("close", close, SERVER_CLOSE)
        self.reply = _payload("reply", reply)
        self.sockopts = _sockopts(sockopts)
        self.listener: Socket | None = None
        self.accepted: list[Socket] = []
        self._conns: list[dict[str, Any]] = []
        self._open: list[dict[str, Any]] = []  # accepted and not yet closed

    @property
    def received(self) -> bytes:
        """Everything received, all connections together."""
        return b"".join(bytes(c["data"]) for c in self._conns)

    @property
    def received_by_conn(self) -> list[bytes]:
        """What each accepted connection received, in accept order."""
        return [bytes(c["data"]) for c in self._conns]

    @property
    def errors(self) -> list[str]:
        """Errors seen on accepted connections (``ECONNRESET`` ...)."""
        return [c["error"] for c in self._conns if "error" in c]

    def start(self) -> Server:
        super().start()
        sock = self.host.socket()
        for k, v in self.sockopts.items():
            sock.setsockopt(k, v)
        sock.bind(self.port)
        sock.listen(self.backlog)
        self.listener = sock
        if self.accept_mode == "slow":
            self.net.at(max(self.net.now, self.accept_at) + self.accept_every, self._slow_accept)
        return self

    def _accept_one(self) -> bool:
        assert self.listener is not None
        try:
            s = self.listener.accept()
        except TcpError as exc:
            if exc.errno_name == "EAGAIN":
                return False
            raise
        self.accepted.append(s)
        n = self.reply if isinstance(self.reply, int) else len(self.reply)
        self._conns.append({"sock": s, "eof": False, "closed": False, "sent": 0, "n": n, "data": bytearray()})
        self._open.append(self._conns[-1])
        self._log("accept")
        return True

    def _slow_accept(self) -> None:
        self._accept_one()
        self._serve(self.net.now)
        self.net.at(self.net.now + self.accept_every, self._slow_accept)

    def wake(self, now: float) -> None:
        if self.listener is None:
            return
        if self.accept_mode == "prompt" and now >= self.accept_at:
            while self._accept_one():
                pass
        self._serve(now)

    def _serve(self, now: float) -> None:
        for c in list(self._open):
            if c["closed"]:
                self._open.remove(c)
                continue
            s: Socket = c["sock"]
            try:
                if not c["eof"] and _drain(s, c["data"]):
                    c["eof"] = True
                    self._log("end of file")
                if c["sent"] < c["n"] and (self.close_mode != "reply_on_eof" or c["eof"]):
                    chunk: bytes | int = (
                        self.reply[c["sent"] :] if isinstance(self.reply, bytes) else c["n"] - c["sent"]
                    )
                    try:
                        c["sent"] += s.send(chunk)
                    except TcpError as exc:
                        if exc.errno_name != "EAGAIN":
                            raise
                if self.close_mode == "after_send" and c["sent"] >= c["n"]:
                    s.close()
                    c["closed"] = True
                    self._log("close")
                    continue
                if self.close_mode == "abort":
                    s.setsockopt("SO_LINGER", (1, 0))
                    s.close()
                    c["closed"] = True
                    self._log("abort")
                    continue
                if c["eof"] and (
                    self.close_mode == "on_eof" or (self.close_mode == "reply_on_eof" and c["sent"] >= c["n"])
                ):
                    s.close()
                    c["closed"] = True
                    self._log("close")
            except TcpError as exc:
                c["closed"] = True
                c["error"] = exc.errno_name
                self._log(f"error {exc.errno_name}")
                with contextlib.suppress(TcpError):
                    s.close()
