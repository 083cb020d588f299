"""Watch real sockets change state by polling ``/proc/net/tcp{,6}``.

A background thread reads the socket tables about once a millisecond and
keeps, for every socket that touches one of the watched ports, the list of
*changes* it saw: ``(time, state, tx_queue, rx_queue)``.  A socket that was
listed and then is not any more is recorded as CLOSED (Linux unhashes a
socket when it reaches TCP_CLOSE, ``tcp_done()`` in ``net/ipv4/tcp.c``, so
it leaves the table even while a file descriptor still points at it).

This is one of the two places in tcpkit that read a clock
(``time.monotonic``): real sockets live in real time.

Examples
--------
>>> import os, socket
>>> if os.path.exists("/proc/net/tcp"):
...     with socket.socket() as lsock:
...         lsock.bind(("127.0.0.1", 0)); lsock.listen(1)
...         port = lsock.getsockname()[1]
...         with Watcher({port}) as w:
...             _ = w.wait_for(lambda s: s.local[1] == port, timeout=1.0)
...         states = [o.state.value for o in w.history(("127.0.0.1", port, "0.0.0.0", 0))]
... else:
...     states = ["LISTEN"]
>>> states
['LISTEN']

Notes
-----
Polling cannot see a state that begins and ends between two reads.  On
loopback the handshake and the FIN exchange complete within microseconds, so
SYN_SENT, SYN_RECEIVED, FIN_WAIT_1, CLOSING and LAST_ACK are normally missed
(:data:`SHORT_STATES`) unless the peer does not answer.  States that wait for
the *application* (ESTABLISHED, CLOSE_WAIT, FIN_WAIT_2 while the peer has not
closed) or for a long kernel timer (TIME_WAIT, 60 s; ``TCP_TIMEWAIT_LEN`` in
``include/net/tcp.h``) are always seen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from tcpkit.engine.events import ConnId
from tcpkit.engine.states import State

from .procnet import ProcSocket, read_proc_net_tcp

__all__ = ["Observation", "Watcher", "SHORT_STATES"]


#: States that last microseconds on loopback when both ends answer at once,
#: so a poll every millisecond usually misses them.
SHORT_STATES: frozenset[State] = frozenset(
    {State.SYN_SENT, State.SYN_RECEIVED, State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK}
)


@dataclass(frozen=True, slots=True)
class Observation:
    """One change seen on one socket.

    ``time`` is seconds since the watcher started; ``present`` is False for
    the CLOSED record written when the socket left the table.
    """

    time: float
    state: State
    tx_queue: int = 0
    rx_queue: int = 0
    present: bool = True
    retransmits: int = 0


class Watcher:
    """A polling thread that records state changes of sockets on some ports.

    Parameters
    ----------
    ports : iterable of int
        A socket is watched if its local or remote port is one of these.
        More ports can be added later with :meth:`add_port`.
    proc_root : path
        Where procfs is mounted.
    interval : float
        Seconds between polls (default 0.001).

    Raises
    ------
    FileNotFoundError
        From :meth:`start` when ``proc_root/net/tcp`` does not exist.
    """

    def __init__(self, ports: Iterable[int] = (), *, proc_root: str | Path = "/proc", interval: float = 0.001) -> None:
        self.proc_root = Path(proc_root)
        self.interval = float(interval)
        self._ports: set[int] = set(ports)
        self._lock = threading.Lock()
        self._history: dict[ConnId, list[Observation]] = {}
        self._present: dict[ConnId, ProcSocket] = {}
        self._missing: dict[ConnId, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        self.polls = 0
        self.error: BaseException | None = None

    # -- life cycle ---------------------------------------------------------
    def start(self) -> Watcher:
        """Take a first snapshot (raising if there is no procfs), then start polling."""
        self._t0 = time.monotonic()
        self.snapshot()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tcpkit-live-watcher", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (idempotent) and take one last snapshot."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        try:
            self.snapshot()
            self.snapshot()  # confirms a disappearance seen by the first
        except OSError:  # pragma: no cover - procfs vanished under us
            pass

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def now(self) -> float:
        """Seconds since :meth:`start`."""
        return time.monotonic() - self._t0

    def add_port(self, port: int) -> None:
        with self._lock:
            self._ports.add(port)

    # -- polling ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.snapshot()
            except BaseException as exc:  # pragma: no cover - reported by the lab
                self.error = exc
                return
            self._stop.wait(self.interval)

    def snapshot(self) -> list[ProcSocket]:
        """Read the tables once, record changes, return the watched sockets now listed."""
        with self._lock:  # reads are serialized so that records stay in time order
            socks = read_proc_net_tcp(self.proc_root)
            t = self.now()
            self.polls += 1
            ports = self._ports
            seen: dict[ConnId, ProcSocket] = {}
            for s in socks:
                if s.local[1] in ports or s.remote[1] in ports:
                    seen[s.conn] = s
            for conn, s in seen.items():
                hist = self._history.setdefault(conn, [])
                last = hist[-1] if hist else None
                if (
                    last is None
                    or not last.present
                    or last.state is not s.state
                    or (last.tx_queue, last.rx_queue, last.retransmits) != (s.tx_queue, s.rx_queue, s.retransmits)
                ):
                    hist.append(Observation(t, s.state, s.tx_queue, s.rx_queue, retransmits=s.retransmits))
                self._missing.pop(conn, None)
            # A socket counts as gone only when two reads in a row miss it
            # (it is recorded as gone at the first of them): a read races
            # with sockets being added to and removed from the hash tables.
            for conn in self._present.keys() - seen.keys():
                if conn in self._missing:
                    self._history[conn].append(Observation(self._missing.pop(conn), State.CLOSED, present=False))
                else:
                    self._missing[conn] = t
                    seen[conn] = self._present[conn]
            self._present = seen
            return [s for c, s in seen.items() if c not in self._missing]

    # -- reading --------------------------------------------------------------
    def history(self, conn: ConnId) -> list[Observation]:
        """Every change recorded for one socket (a copy)."""
        with self._lock:
            return list(self._history.get(conn, ()))

    def conns(self) -> list[ConnId]:
        """Every socket seen so far, in order of first sighting."""
        with self._lock:
            return list(self._history)

    def current(self, conn: ConnId) -> State:
        """The last state recorded for ``conn`` (CLOSED if never seen or gone)."""
        hist = self.history(conn)
        return hist[-1].state if hist else State.CLOSED

    def wait_for(self, predicate: Callable[[ProcSocket], bool], timeout: float, *, gone: bool = False) -> bool:
        """Poll until some watched socket satisfies ``predicate`` (or, with ``gone``, none does).

        Returns whether that happened within ``timeout`` seconds; each check is
        a fresh synchronous snapshot, so the result does not depend on the
        background thread's timing.
        """
        deadline = time.monotonic() + timeout
        misses = 0
        while True:
            found = any(predicate(s) for s in self.snapshot())
            misses = 0 if found else misses + 1
            if (found and not gone) or (gone and misses >= 2):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(self.interval)
