"""Extras that need root: a bounded ``tcpdump`` capture of the lab's loopback traffic.

Nothing here runs unless asked (``run_live(..., root_extras=True)`` or
``tcpkit live --root-extras``), and everything skips with a plain reason when
the process is not root or a tool is missing.

Examples
--------
>>> why = capture_unavailable()
>>> why is None or isinstance(why, str)
True
>>> summarize_pcap(b"")
Traceback (most recent call last):
...
tcpkit.engine.errors.TraceFormatError: not a pcap file: expected a 24-byte header with magic a1b2c3d4 or a1b23c4d
"""

from __future__ import annotations

import os
import select
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tcpkit.engine.errors import TraceFormatError

__all__ = ["LoopbackCapture", "capture_unavailable", "summarize_pcap"]


def capture_unavailable() -> str | None:
    """Why a loopback capture cannot run here, or None if it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root: capturing packets needs CAP_NET_RAW"
    if shutil.which("tcpdump") is None:
        return "tcpdump is not installed"
    if not Path("/sys/class/net/lo").exists():
        return "no loopback interface 'lo'"
    return None


class LoopbackCapture:
    """``tcpdump -i lo 'tcp port P1 or tcp port P2 ...'``, bounded in packets and time, as a context manager.

    After the ``with`` block, :attr:`data` holds the pcap bytes; the temporary
    file and the tcpdump process are gone whatever happened inside.

    Parameters
    ----------
    ports : sequence of int
    max_packets : int
        tcpdump stops by itself after this many (``-c``).
    max_seconds : float
        Longest wait for tcpdump to start, and to finish once stopped.
    """

    def __init__(self, ports: Sequence[int], *, max_packets: int = 1000, max_seconds: float = 3.0) -> None:
        self.ports = list(ports)
        self.max_packets = max_packets
        self.max_seconds = max_seconds
        self.data = b""
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir: str | None = None

    def __enter__(self) -> LoopbackCapture:
        why = capture_unavailable()
        if why:
            raise OSError(why)
        self._dir = tempfile.mkdtemp(prefix="tcpkit-live-")
        path = os.path.join(self._dir, "lo.pcap")
        self._proc = subprocess.Popen(
            [
                "tcpdump",
                "-i",
                "lo",
                "-n",
                "-U",
                "--immediate-mode",
                "-s",
                "256",
                "-c",
                str(self.max_packets),
                "-w",
                path,
                " or ".join(f"tcp port {p}" for p in self.ports),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            self._wait_ready()
        except BaseException:
            self._stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        deadline = time.monotonic() + self.max_seconds
        seen = b""
        fd = self._proc.stderr.fileno()
        while b"listening on" not in seen:
            left = deadline - time.monotonic()
            if left <= 0 or self._proc.poll() is not None:
                raise OSError(f"tcpdump did not start: {seen.decode(errors='replace').strip() or 'no output'}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    continue
                seen += chunk

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        time.sleep(0.05)  # let the last packets reach the file (-U flushes per packet)
        self._stop()

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=self.max_seconds)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        if self._dir is not None:
            path = os.path.join(self._dir, "lo.pcap")
            try:
                with open(path, "rb") as f:
                    self.data = f.read()
            except FileNotFoundError:
                self.data = b""
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


def summarize_pcap(data: bytes) -> list[tuple[float, int, int, str]]:
    """``(time, src_port, dst_port, flags)`` for each IPv4/TCP packet of a pcap capture.

    Understands the classic pcap format with Ethernet (``lo`` on Linux),
    Linux "cooked" (SLL) and raw-IP link types.  ``flags`` is written as
    tcpdump does: ``S``, ``S.``, ``.``, ``P.``, ``F.``, ``R.`` ...

    Raises
    ------
    TraceFormatError
        If ``data`` is not a pcap file.
    """
    if len(data) < 24:
        raise TraceFormatError("not a pcap file: expected a 24-byte header with magic a1b2c3d4 or a1b23c4d")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise TraceFormatError("not a pcap file: expected a 24-byte header with magic a1b2c3d4 or a1b23c4d")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(end + "I", data[20:24])[0]
    offset_l2 = {1: 14, 113: 16, 101: 0, 228: 0}.get(linktype)
    if offset_l2 is None:
        raise TraceFormatError(
            f"pcap link type {linktype} is not supported: expected 1 (Ethernet), 113 (SLL) or 101 (raw IP)"
        )
    out: list[tuple[float, int, int, str]] = []
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, caplen, _ = struct.unpack(end + "IIII", data[pos : pos + 16])
        pkt = data[pos + 16 : pos + 16 + caplen]
        pos += 16 + caplen
        ip = pkt[offset_l2:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            continue
        ihl = (ip[0] & 0x0F) * 4
        tcp = ip[ihl:]
        if len(tcp) < 14:
            continue
        sport, dport = struct.unpack("!HH", tcp[:4])
        out.append((sec + frac / (1e9 if nano else 1e6), sport, dport, _flags(tcp[13])))
    return out


def _flags(b: int) -> str:
    letters = "".join(ch for bit, ch in ((0x02, "S"), (0x01, "F"), (0x04, "R"), (0x08, "P"), (0x20, "U")) if b & bit)
    return (letters + ("." if b & 0x10 else "")) or "none"
