"""Record the two-host captures in this folder (maintainers only; needs root, iproute2 and tcpdump).

Run from the repository root on a Linux machine::

    sudo .venv/bin/python tests/data/captures/make_captures.py tests/data/captures [NAME ...]

Two private network namespaces, ``A`` (the client, 10.77.0.1) and ``B`` (the
server, 10.77.0.2), each get a TUN interface (``tcpkit0``, MTU 1500).  This
process carries the packets between the two TUN devices itself, with a fixed
one-way delay and a per-scenario drop rule, so a packet can be *captured and
then lost*: ``tcpdump`` records on A's interface, the way a capture on the
client host sees the traffic (A's segments when they leave A, B's segments when
they reach A).  Sysctls are set inside the namespaces only; the machine's own
network is never touched, and both namespaces are deleted afterwards.

Every wait is bounded; the whole run takes about a minute.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import heapq
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

CLIENT, SERVER, PORT = "10.77.0.1", "10.77.0.2", 8080
DELAY = 0.005  # one-way, seconds
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=10)


def _enter(ns: str) -> None:
    """Move the calling thread into network namespace ``ns``."""
    fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns({ns}) failed")
    finally:
        os.close(fd)


def _open_tun(ns: str) -> int:
    out: list[int] = []

    def go() -> None:
        _enter(ns)
        fd = os.open("/dev/net/tun", os.O_RDWR)
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tcpkit0", IFF_TUN | IFF_NO_PI))
        out.append(fd)

    t = threading.Thread(target=go)
    t.start()
    t.join()
    return out[0]


def _tcp(pkt: bytes) -> tuple[int, int, int, int, int] | None:
    """(flags, sport, dport, seq, payload length) of an IPv4 TCP packet."""
    if len(pkt) < 40 or pkt[0] >> 4 != 4 or pkt[9] != 6:
        return None
    ihl = (pkt[0] & 15) * 4
    total = struct.unpack_from("!H", pkt, 2)[0]
    sport, dport, seq = struct.unpack_from("!HHI", pkt, ihl)
    off = (pkt[ihl + 12] >> 4) * 4
    return pkt[ihl + 13], sport, dport, seq, total - ihl - off


@dataclass
class Relay:
    """Carries packets between the two TUN devices: delay, then the drop rule."""

    fd_a: int
    fd_b: int
    drop: Callable[[str, bytes], bool] = lambda direction, pkt: False
    dropped: list[str] = field(default_factory=list)
    _stop: bool = False

    def run(self) -> None:
        heap: list[tuple[float, int, int, bytes]] = []
        n = 0
        while not self._stop:
            timeout = max(0.0, heap[0][0] - time.monotonic()) if heap else 0.05
            ready, _, _ = select.select([self.fd_a, self.fd_b], [], [], min(timeout, 0.05))
            for fd in ready:
                pkt = os.read(fd, 65536)
                direction = "a->b" if fd == self.fd_a else "b->a"
                if self.drop(direction, pkt):
                    self.dropped.append(f"{direction} {_tcp(pkt)}")
                    continue
                n += 1
                heapq.heappush(heap, (time.monotonic() + DELAY, n, self.fd_b if fd == self.fd_a else self.fd_a, pkt))
            now = time.monotonic()
            while heap and heap[0][0] <= now:
                _, _, out, pkt = heapq.heappop(heap)
                os.write(out, pkt)

    def stop(self) -> None:
        self._stop = True


class Env:
    """Two namespaces joined by a :class:`Relay`; ``client``/``server`` run a function inside one."""

    def __init__(self, tag: str) -> None:
        self.a, self.b = f"tcpkit-cap-a-{tag}", f"tcpkit-cap-b-{tag}"

    def __enter__(self) -> Env:
        for ns in (self.a, self.b):
            _sh("ip", "netns", "add", ns)
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
        self.fd_a, self.fd_b = _open_tun(self.a), _open_tun(self.b)
        for ns, addr in ((self.a, CLIENT), (self.b, SERVER)):
            _sh("ip", "-n", ns, "link", "set", "tcpkit0", "mtu", "1500", "up")
            _sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "tcpkit0")
        self.relay = Relay(self.fd_a, self.fd_b)
        self._relay_thread = threading.Thread(target=self.relay.run, daemon=True)
        self._relay_thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.relay.stop()
        self._relay_thread.join(timeout=2)
        for fd in (self.fd_a, self.fd_b):
            os.close(fd)
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10, check=False)

    def sysctl(self, side: str, name: str, value: int) -> None:
        _sh("ip", "netns", "exec", self.a if side == "client" else self.b, "sysctl", "-q", "-w", f"{name}={value}")

    def start(self, side: str, fn: Callable[[], None]) -> threading.Thread:
        ns = self.a if side == "client" else self.b
        errors: list[BaseException] = []

        def go() -> None:
            _enter(ns)
            try:
                fn()
            except BaseException as exc:  # reported by join()
                errors.append(exc)

        t = threading.Thread(target=go, daemon=True)
        t.errors = errors  # type: ignore[attr-defined]
        t.start()
        return t

    def run(self, side: str, fn: Callable[[], None], timeout: float = 30.0) -> None:
        t = self.start(side, fn)
        t.join(timeout)
        if t.is_alive():
            raise TimeoutError(f"{side} step did not finish in {timeout} s")
        if t.errors:  # type: ignore[attr-defined]
            raise t.errors[0]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- scenarios


def _listen(backlog: int = 8) -> socket.socket:
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((SERVER, PORT))
    ls.listen(backlog)
    ls.settimeout(5.0)
    return ls


def _connect(sock: socket.socket | None = None) -> socket.socket:
    c = sock or socket.socket()
    c.settimeout(5.0)
    c.connect((SERVER, PORT))
    return c


def _session(env: Env, client: Callable[[socket.socket], None], server: Callable[[socket.socket], None]) -> None:
    """A listener in B accepts one connection and runs ``server``; the client in A runs ``client``."""
    ready = threading.Event()
    box: list[socket.socket] = []

    def srv() -> None:
        ls = _listen()
        box.append(ls)
        ready.set()
        s, _ = ls.accept()
        s.settimeout(10.0)
        server(s)
        ls.close()

    st = env.start("server", srv)
    ready.wait(5)

    def cli() -> None:
        client(_connect())

    env.run("client", cli)
    st.join(30)


def keepalive_answered(env: Env) -> None:
    """The client turns keepalive on (1 s idle, 1 s interval, 3 probes); the server answers every probe."""

    def client(c: socket.socket) -> None:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        c.sendall(b"ping")
        c.recv(100)
        time.sleep(3.5)  # idle: three probes, each answered
        c.close()

    def server(s: socket.socket) -> None:
        s.recv(100)
        s.sendall(b"pong")
        s.recv(100)  # EOF
        s.close()

    _session(env, client, server)


def keepalive_dead_peer(env: Env) -> None:
    """Keepalive as above, then the server's host goes silent: three probes unanswered, then the client resets."""
    dead = threading.Event()

    def drop(direction: str, pkt: bytes) -> bool:
        return dead.is_set()

    env.relay.drop = drop

    def client(c: socket.socket) -> None:
        c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        c.sendall(b"ping")
        c.recv(100)
        time.sleep(0.5)
        dead.set()
        with contextlib.suppress(OSError):
            c.recv(100)  # ETIMEDOUT after idle 1 s + 3 probes 1 s apart
        c.close()

    def server(s: socket.socket) -> None:
        s.recv(100)
        s.sendall(b"pong")
        time.sleep(6)
        s.close()

    _session(env, client, server)


def fin_timeout(env: Env) -> None:
    """net.ipv4.tcp_fin_timeout = 2 on the client: its orphaned FIN_WAIT_2 ends before the server's late FIN."""
    env.sysctl("client", "net.ipv4.tcp_fin_timeout", 2)

    def client(c: socket.socket) -> None:
        c.sendall(b"bye")
        time.sleep(0.1)
        c.close()

    def server(s: socket.socket) -> None:
        s.recv(100)
        s.recv(100)  # EOF: the client closed
        time.sleep(3.0)  # longer than the client's tcp_fin_timeout
        s.close()

    _session(env, client, server)
    time.sleep(0.5)


def lost_data(env: Env) -> None:
    """The client's first data segment is captured on its way out and lost: never acknowledged, then resent."""
    lost: list[int] = []

    def drop(direction: str, pkt: bytes) -> bool:
        tcp = _tcp(pkt)
        if direction == "a->b" and tcp is not None and tcp[4] > 0 and not lost:
            lost.append(tcp[3])
            return True
        return False

    env.relay.drop = drop

    def client(c: socket.socket) -> None:
        c.sendall(b"x" * 100)
        c.recv(100)
        c.close()

    def server(s: socket.socket) -> None:
        s.recv(100)
        s.sendall(b"ok")
        s.recv(100)
        s.close()

    _session(env, client, server)


def syn_black_hole(env: Env) -> None:
    """Nothing answers: every packet to the server is lost; net.ipv4.tcp_syn_retries = 2 on the client."""
    env.sysctl("client", "net.ipv4.tcp_syn_retries", 2)
    env.relay.drop = lambda direction, pkt: direction == "a->b"

    def client() -> None:
        c = socket.socket()
        c.settimeout(20.0)
        with contextlib.suppress(OSError):
            c.connect((SERVER, PORT))
        c.close()

    env.run("client", client)


def accept_overflow(env: Env) -> None:
    """listen(1) and nobody calls accept(): two connections fit, the next SYNs are dropped and resent."""
    holder: list[socket.socket] = []
    ready = threading.Event()

    def srv() -> None:
        holder.append(_listen(backlog=1))
        ready.set()
        time.sleep(4.0)
        holder[0].close()

    st = env.start("server", srv)
    ready.wait(5)

    def cli() -> None:
        socks = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                c.connect((SERVER, PORT))
            socks.append(c)
            time.sleep(0.1)
        time.sleep(2.0)
        for c in socks:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()

    env.run("client", cli)
    st.join(10)


def request_reply(env: Env) -> None:
    """A request, a reply 0.3 s later (the server's delayed ACK goes out first), then the client closes."""

    def client(c: socket.socket) -> None:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        c.recv(1000)
        c.close()

    def server(s: socket.socket) -> None:
        s.recv(1000)
        time.sleep(0.3)
        s.sendall(b"HTTP/1.0 200 OK\r\n\r\nhello")
        s.recv(100)
        s.close()

    _session(env, client, server)


def bulk_reply(env: Env) -> None:
    """A 20-byte request, a 30 000-byte reply in one write, then the server closes (slow start, delayed ACKs)."""

    def client(c: socket.socket) -> None:
        c.sendall(b"GET /big HTTP/1.0\r\n\r\n")
        got = 0
        while True:
            chunk = c.recv(65536)
            if not chunk:
                break
            got += len(chunk)
        c.close()

    def server(s: socket.socket) -> None:
        s.recv(1000)
        s.sendall(b"x" * 30000)
        s.close()

    _session(env, client, server)


def refused(env: Env) -> None:
    """Nobody listens on the server's port: its kernel answers the SYN with RST."""

    def client() -> None:
        c = socket.socket()
        c.settimeout(5.0)
        with contextlib.suppress(OSError):
            c.connect((SERVER, PORT))
        c.close()

    env.run("client", client)


def abort_unread(env: Env) -> None:
    """The server closes with 10 bytes still unread: Linux sends RST instead of FIN (RFC 2525 §2.17)."""

    def client(c: socket.socket) -> None:
        c.sendall(b"hello")
        time.sleep(0.1)
        c.sendall(b"0123456789")
        time.sleep(0.3)
        with contextlib.suppress(OSError):
            c.recv(100)
        c.close()

    def server(s: socket.socket) -> None:
        s.recv(5)
        time.sleep(0.2)  # the 10 bytes arrive and wait unread
        s.close()

    _session(env, client, server)


SCENARIOS: dict[str, Callable[[Env], None]] = {
    f.__name__: f
    for f in (
        keepalive_answered,
        keepalive_dead_peer,
        fin_timeout,
        lost_data,
        syn_black_hole,
        accept_overflow,
        request_reply,
        bulk_reply,
        refused,
        abort_unread,
    )
}


def record(name: str, out_dir: Path) -> Path:
    path = out_dir / f"{name}.pcap"
    with Env(f"{os.getpid()}") as env:
        dump = subprocess.Popen(
            ["ip", "netns", "exec", env.a, "tcpdump", "-i", "tcpkit0", "-s", "128", "-U", "--immediate-mode"]
            + ["-w", str(path), "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert dump.stderr is not None
            deadline = time.monotonic() + 5.0
            line = b""
            while b"listening" not in line and time.monotonic() < deadline:
                line = dump.stderr.readline()
            time.sleep(0.3)
            SCENARIOS[name](env)
            time.sleep(1.0)
        finally:
            dump.terminate()
            try:
                dump.communicate(timeout=5.0)
            except subprocess.TimeoutExpired:
                dump.kill()
        if env.relay.dropped:
            print(f"  {name}: the relay dropped {len(env.relay.dropped)}: {env.relay.dropped[:3]} ...")
    return path


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else Path(__file__).parent
    for name in argv[1:] or SCENARIOS:
        p = record(name, out_dir)
        print(f"{p}: {p.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
