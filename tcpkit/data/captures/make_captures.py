"""Record the loopback captures in this folder (maintainers only; needs root and tcpdump).

Run from the repository root on a Linux machine::

    sudo .venv/bin/python tcpkit/data/captures/make_captures.py tcpkit/data/captures

Each scenario uses plain sockets on 127.0.0.1 with its own ports, while
``tcpdump -i lo -s 128 -U --immediate-mode -w NAME.pcap 'tcp port PORT'`` records it.  Every
wait is bounded; the whole run takes a few seconds.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

PAUSE = 0.05  # lets each step's packets go out before the next call


def _listen() -> tuple[socket.socket, int]:
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    ls.settimeout(2.0)
    return ls, ls.getsockname()[1]


def _pair(ls: socket.socket, port: int) -> tuple[socket.socket, socket.socket]:
    c = socket.create_connection(("127.0.0.1", port), timeout=2.0)
    s, _ = ls.accept()
    s.settimeout(2.0)
    c.sendall(b"hello")
    s.recv(100)
    time.sleep(PAUSE)
    return c, s


def client_closes_first(ls: socket.socket, port: int) -> None:
    c, s = _pair(ls, port)
    c.close()
    time.sleep(PAUSE)
    s.recv(100)  # EOF
    s.close()


def server_closes_first(ls: socket.socket, port: int) -> None:
    c, s = _pair(ls, port)
    s.close()
    time.sleep(PAUSE)
    c.recv(100)
    c.close()


def abort_rst(ls: socket.socket, port: int) -> None:
    c, s = _pair(ls, port)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # SO_LINGER 0: RST instead of FIN
    time.sleep(PAUSE)
    with contextlib.suppress(ConnectionResetError):
        s.recv(100)
    s.close()


def half_close(ls: socket.socket, port: int) -> None:
    c, s = _pair(ls, port)
    c.shutdown(socket.SHUT_WR)
    time.sleep(PAUSE)
    s.recv(100)  # EOF
    for _ in range(3):
        s.sendall(b"x" * 1000)
        time.sleep(PAUSE)
        c.recv(4000)
    s.close()
    time.sleep(PAUSE)
    c.recv(100)
    c.close()


def connection_refused(ls: socket.socket, port: int) -> None:
    ls.close()  # nobody listens on the port any more
    time.sleep(PAUSE)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(2.0)
    with contextlib.suppress(ConnectionRefusedError):
        c.connect(("127.0.0.1", port))
    c.close()


SCENARIOS: dict[str, Callable[[socket.socket, int], None]] = {
    f.__name__: f for f in (client_closes_first, server_closes_first, abort_rst, half_close, connection_refused)
}


def record(name: str, out_dir: Path) -> Path:
    ls, port = _listen()
    path = out_dir / f"{name}.pcap"
    dump = subprocess.Popen(
        ["tcpdump", "-i", "lo", "-s", "128", "-U", "--immediate-mode", "-w", str(path), f"tcp port {port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert dump.stderr is not None
        deadline = time.monotonic() + 5.0
        line = b""
        while b"listening" not in line and time.monotonic() < deadline:
            line = dump.stderr.readline()
        time.sleep(0.5)
        SCENARIOS[name](ls, port)
        time.sleep(1.0)
    finally:
        dump.terminate()
        try:
            dump.communicate(timeout=5.0)
        except subprocess.TimeoutExpired:
            dump.kill()
        with contextlib.suppress(OSError):
            ls.close()
    return path


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else Path(__file__).parent
    for name in argv[1:] or SCENARIOS:
        p = record(name, out_dir)
        print(f"{p}: {p.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
