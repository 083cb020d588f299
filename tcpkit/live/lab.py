"""The lab bench: real loopback sockets, labelled, watched, and always cleaned up.

A :class:`Lab` is a context manager that owns a :class:`~tcpkit.live.watch.Watcher`
and every socket a scenario opens.  Leaving it (normally, on an exception or
on Ctrl-C) stops the watcher first and then aborts every socket still open:
``SO_LINGER`` with a zero timeout, then ``close()``, which sends an RST and
frees the socket at once instead of leaving FIN_WAIT or TIME_WAIT behind
(``tcp_close()`` in ``net/ipv4/tcp.c``; RFC 9293 §3.10.5, ABORT).

Examples
--------
>>> import os
>>> if os.path.exists("/proc/net/tcp"):
...     with Lab() as lab:
...         lsock, port = lab.listen(backlog=4)
...         c = lab.connect(port, "client")
...         s = lab.accept(lsock, "server")
...         ok = lab.wait_state("server", "ESTABLISHED")
... else:
...     ok = True
>>> ok
True
"""

from __future__ import annotations

import errno
import select
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.events import ConnId
from tcpkit.engine.states import State

from .diag import listener_queues
from .procnet import ProcSocket
from .watch import Observation, Watcher

__all__ = ["Lab", "Call"]

_ANY = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class Call:
    """A socket call the scenario made, for the timeline."""

    time: float
    role: str
    call: str
    result: str


class Lab:
    """Real sockets on loopback with a watcher and guaranteed clean-up.

    Parameters
    ----------
    proc_root : path
        Where procfs is mounted (default ``/proc``).
    interval : float
        Seconds between background polls (default 0.001).
    step_timeout : float
        Longest wait for one expected state change, in seconds (default 1.0).
    addr : str
        Loopback address to use (default ``127.0.0.1``).
    ports : sequence of int, optional
        Ports :meth:`listen` and :meth:`free_port` take, in order, instead of
        ephemeral ones; a capture filter can then name them in advance.

    Raises
    ------
    FileNotFoundError
        On entering, when ``proc_root/net/tcp`` does not exist.
    """

    def __init__(
        self,
        *,
        proc_root: str | Path = "/proc",
        interval: float = 0.001,
        step_timeout: float = 1.0,
        addr: str = "127.0.0.1",
        ports: Sequence[int] = (),
    ) -> None:
        if not 0 < interval <= 0.1:
            raise ParameterError("interval", interval, "seconds between polls, more than 0 and at most 0.1")
        if not 0 < step_timeout <= 5:
            raise ParameterError("step_timeout", step_timeout, "seconds, more than 0 and at most 5")
        self.addr = addr
        self._ports = list(ports)
        self.step_timeout = step_timeout
        self.watcher = Watcher(proc_root=proc_root, interval=interval)
        self.labels: dict[ConnId, str] = {}
        self.sockets: list[socket.socket] = []
        self.calls: list[Call] = []
        self.notes: list[str] = []
        self.listener_port: int | None = None
        self.backlog: int | None = None
        self.send_q: int | None = None  # the backlog the kernel uses (inet_diag), None if unknown
        self.closed_at_end: dict[str, bool] = {}
        self._own: set[ConnId] = set()

    # -- life cycle -----------------------------------------------------------
    def __enter__(self) -> Lab:
        self.watcher.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.watcher.stop()
            present = {s.conn for s in self._last_snapshot()}
            seen = set(self.watcher.conns())
            # gone at the end: sockets that were listed at some point, or that
            # the lab itself created (a refused client may never be listed);
            # a server-side socket the kernel never made is not "gone"
            self.closed_at_end = {
                label: conn not in present for conn, label in self.labels.items() if conn in seen or conn in self._own
            }
        finally:
            self.cleanup()

    def _last_snapshot(self) -> list[ProcSocket]:
        try:
            return self.watcher.snapshot()
        except OSError:  # pragma: no cover
            return []

    def cleanup(self) -> None:
        """Abort (RST) and close every socket this lab opened that is still open."""
        while self.sockets:
            sock = self.sockets.pop()
            if sock.fileno() < 0:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            finally:
                sock.close()

    # -- labels and time ----------------------------------------------------------
    def now(self) -> float:
        return self.watcher.now()

    def label(self, conn: ConnId, role: str) -> None:
        self.labels[conn] = role

    def conn_of(self, role: str) -> ConnId:
        for conn, r in self.labels.items():
            if r == role:
                return conn
        raise ParameterError("role", role, "one of " + ", ".join(sorted(set(self.labels.values()))))

    def history(self, role: str) -> list[Observation]:
        return self.watcher.history(self.conn_of(role))

    def log(self, role: str, call: str, result: str = "ok") -> None:
        self.calls.append(Call(self.now(), role, call, result))

    # -- socket calls ---------------------------------------------------------------
    def _socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sockets.append(sock)
        return sock

    def listen(self, backlog: int = 8, role: str = "listener") -> tuple[socket.socket, int]:
        """A listening socket on an ephemeral loopback port, watched."""
        sock = self._socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.addr, self._take_port()))
        port = sock.getsockname()[1]
        self.watcher.add_port(port)
        self.label((self.addr, port, _ANY, 0), role)
        sock.listen(backlog)
        sock.setblocking(False)
        self.listener_port = port
        self.backlog = backlog
        queues = listener_queues(port)
        self.send_q = queues[1] if queues else None
        self.log(
            role, f"listen(backlog={backlog})", "ok" if queues is None else f"ok, Send-Q (backlog in use) {queues[1]}"
        )
        return sock, port

    def free_port(self) -> int:
        """A loopback port nobody listens on (bound and released at once), watched."""
        with socket.socket() as probe:
            probe.bind((self.addr, self._take_port()))
            port: int = probe.getsockname()[1]
        self.watcher.add_port(port)
        return port

    def _take_port(self) -> int:
        return self._ports.pop(0) if self._ports else 0

    def connect(
        self, port: int, role: str = "client", *, server_role: str | None = None, wait: bool = True
    ) -> socket.socket:
        """Connect a new client socket to ``port``; with ``wait``, until connect() finishes.

        The client is bound first, so its 4-tuple (and that of the server's
        side of the connection, labelled ``server_role``) is known before the
        SYN leaves.
        """
        sock = self._socket()
        sock.bind((self.addr, 0))
        cport = sock.getsockname()[1]
        self.label((self.addr, cport, self.addr, port), role)
        self._own.add((self.addr, cport, self.addr, port))
        self.label((self.addr, port, self.addr, cport), server_role or role.replace("client", "server"))
        sock.setblocking(False)
        err = sock.connect_ex((self.addr, port))
        if err not in (0, errno.EINPROGRESS):
            self.log(role, f"connect(:{port})", errno.errorcode.get(err, str(err)))
            return sock
        if not wait:
            self.log(role, f"connect(:{port})", "EINPROGRESS")
            return sock
        select.select([], [sock], [], self.step_timeout)
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        self.log(role, f"connect(:{port})", "ok" if err == 0 else errno.errorcode.get(err, str(err)))
        return sock

    def accept(self, lsock: socket.socket, role: str = "server") -> socket.socket:
        """Accept one connection (waiting at most ``step_timeout``)."""
        select.select([lsock], [], [], self.step_timeout)
        conn, peer = lsock.accept()
        self.sockets.append(conn)
        conn.setblocking(False)
        local = conn.getsockname()
        self.label((local[0], local[1], peer[0], peer[1]), role)
        self._own.add((local[0], local[1], peer[0], peer[1]))
        self.log(role, "accept()", f"ok, peer :{peer[1]}")
        return conn

    def send(self, sock: socket.socket, role: str, data: bytes) -> int:
        n = sock.send(data)
        self.log(role, f"send({len(data)} bytes)", str(n))
        return n

    def recv(self, sock: socket.socket, role: str, size: int = 65536) -> bytes | str:
        """Receive what is there (waiting at most ``step_timeout``); an error comes back as its errno name."""
        select.select([sock], [], [], self.step_timeout)
        try:
            data = sock.recv(size)
        except OSError as exc:
            name = errno.errorcode.get(exc.errno or 0, str(exc))
            self.log(role, "recv()", name)
            return name
        self.log(role, "recv()", f"{len(data)} bytes" + (" (EOF)" if not data else ""))
        return data

    def shutdown(self, sock: socket.socket, role: str, how: int = socket.SHUT_WR) -> None:
        sock.shutdown(how)
        self.log(
            role,
            "shutdown("
            + {socket.SHUT_RD: "SHUT_RD", socket.SHUT_WR: "SHUT_WR", socket.SHUT_RDWR: "SHUT_RDWR"}[how]
            + ")",
        )

    def close(self, sock: socket.socket, role: str, *, abort: bool = False) -> None:
        """``close()``; with ``abort``, ``SO_LINGER`` 0 first (an RST instead of a FIN)."""
        if abort:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        if sock in self.sockets:
            self.sockets.remove(sock)
        self.log(role, "close()" if not abort else "close() with SO_LINGER 0")

    # -- waiting -----------------------------------------------------------------------
    def wait_state(self, role: str, state: str, timeout: float | None = None) -> bool:
        """Wait until the socket playing ``role`` is in ``state`` (``CLOSED``: gone).

        Returns False, and writes a note, if it did not happen in time.
        """
        want = State(state)
        conn = self.conn_of(role)
        t = self.step_timeout if timeout is None else timeout
        if want is State.CLOSED:
            ok = self.watcher.wait_for(lambda s: s.conn == conn, t, gone=True)
        else:
            ok = self.watcher.wait_for(lambda s: s.conn == conn and s.state is want, t)
        if not ok:
            self.notes.append(f"{role} did not reach {state} within {t:.1f} s")
        return ok

    def hold(self, seconds: float) -> None:
        """Let real time pass (the watcher keeps polling)."""
        time.sleep(seconds)
