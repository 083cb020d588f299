"""Read Linux's socket tables, ``/proc/net/tcp`` and ``/proc/net/tcp6``.

One line per TCP socket in the current network namespace: listeners,
connections, connection requests still in the SYN queue (state 3,
SYN_RECEIVED) and TIME_WAIT sockets.  Addresses and ports are hexadecimal;
an IPv4 address is the raw 32-bit word printed in the *host's* byte order
(so ``0100007F`` is 127.0.0.1 on a little-endian machine), an IPv6 address
is four such words.

Examples
--------
>>> text = '''  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
...    0: 0100007F:1F90 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 5301 1 0 100 0 0 10 0
...    1: 0100007F:C350 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0'''
>>> socks = parse_proc_net_tcp(text, byteorder="little")
>>> [(s.local, s.remote, s.state.value) for s in socks]
[(('127.0.0.1', 8080), ('0.0.0.0', 0), 'LISTEN'), (('127.0.0.1', 50000), ('127.0.0.1', 8080), 'TIME_WAIT')]
>>> socks[0].rx_queue    # on a listener: connections waiting in the accept queue
2

Notes
-----
The line format is written by ``get_tcp4_sock()`` / ``get_openreq4()`` /
``get_timewait4_sock()`` in ``net/ipv4/tcp_ipv4.c`` (and the ``tcp6``
twins in ``net/ipv6/tcp_ipv6.c``).  State numbers are the ``TCP_*`` values
of ``include/net/tcp_states.h``
(:meth:`tcpkit.engine.states.State.from_linux_code`).  On a LISTEN socket
``rx_queue`` is ``sk_ack_backlog``, the current accept-queue length, and
``tx_queue`` is ``write_seq - snd_una``, which is 0: the listen() backlog
(``sk_max_ack_backlog``, what ``ss`` shows as Send-Q) is *not* in this file;
``ss`` gets it over ``inet_diag`` netlink.  On other sockets ``tx_queue`` is
bytes sent but not yet acknowledged (a SYN or FIN counts 1) and ``rx_queue``
bytes received but not yet read by the application.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tcpkit.engine.errors import TraceFormatError
from tcpkit.engine.states import State

__all__ = ["ProcSocket", "parse_proc_net_tcp", "read_proc_net_tcp", "decode_address"]

ByteOrder = Literal["little", "big"]


@dataclass(frozen=True, slots=True)
class ProcSocket:
    """One line of ``/proc/net/tcp`` or ``/proc/net/tcp6``.

    Attributes
    ----------
    local, remote : (address, port)
    state : State
    code : int
        The raw ``TCP_*`` number (12 is ``TCP_NEW_SYN_RECV``).
    tx_queue, rx_queue : int
        See the module Notes: on a listener ``rx_queue`` is the accept-queue length.
    timer : int
        Which timer runs: 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe.
    retransmits : int
        The ``retrnsmt`` column: retransmissions of the current segment
        (on a SYN_RECEIVED request socket, SYN-ACKs resent so far).
    uid, inode : int
        Owner and socket inode (0 for TIME_WAIT and request sockets: no file behind them).
    family : int
        4 or 6.
    """

    local: tuple[str, int]
    remote: tuple[str, int]
    state: State
    code: int
    tx_queue: int
    rx_queue: int
    timer: int
    retransmits: int
    uid: int
    inode: int
    family: int

    @property
    def conn(self) -> tuple[str, int, str, int]:
        """``(local_addr, local_port, remote_addr, remote_port)``."""
        return (self.local[0], self.local[1], self.remote[0], self.remote[1])


def decode_address(text: str, byteorder: ByteOrder | None = None) -> tuple[str, int]:
    """Decode ``HEXADDR:HEXPORT`` as printed in ``/proc/net/tcp{,6}``.

    Parameters
    ----------
    text : str
        8 hex digits (IPv4) or 32 (IPv6), a colon, 4 hex digits of port.
    byteorder : {"little", "big"}, optional
        Byte order of the machine that wrote the text (default: this machine's).

    Raises
    ------
    TraceFormatError
        If the text is not in that form.

    Examples
    --------
    >>> decode_address("0100007F:0050", "little")
    ('127.0.0.1', 80)
    >>> decode_address("00000000000000000000000001000000:1F90", "little")
    ('::1', 8080)
    >>> decode_address("0000000000000000FFFF00000100007F:0016", "little")
    ('::ffff:127.0.0.1', 22)
    >>> decode_address("7F000001:50")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.TraceFormatError: bad /proc/net/tcp address '7F000001:50': expected 8 or 32 hex digits, ...
    """
    order: ByteOrder = byteorder or ("little" if sys.byteorder == "little" else "big")
    addr_hex, _, port_hex = text.partition(":")
    if len(addr_hex) not in (8, 32) or len(port_hex) != 4:
        raise TraceFormatError(
            f"bad /proc/net/tcp address {text!r}: expected 8 or 32 hex digits, a colon and 4 hex digits of port"
        )
    try:
        words = [int(addr_hex[i : i + 8], 16).to_bytes(4, order) for i in range(0, len(addr_hex), 8)]
        port = int(port_hex, 16)
    except ValueError:
        raise TraceFormatError(f"bad /proc/net/tcp address {text!r}: not hexadecimal") from None
    raw = b"".join(words)
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, raw), port


def parse_proc_net_tcp(text: str, *, byteorder: ByteOrder | None = None) -> list[ProcSocket]:
    """Parse the whole text of ``/proc/net/tcp`` or ``/proc/net/tcp6``.

    The header line is skipped; blank lines are ignored.

    Parameters
    ----------
    text : str
    byteorder : {"little", "big"}, optional
        Byte order of the machine that wrote the text (default: this machine's).

    Returns
    -------
    list of ProcSocket

    Raises
    ------
    TraceFormatError
        Naming the line and what was expected, if a line is malformed.

    Examples
    --------
    >>> parse_proc_net_tcp("   0: 0100007F:0050 0100007F:D431 0B 00000000:00000000", byteorder="little")[0].state
    <State.CLOSING: 'CLOSING'>
    >>> parse_proc_net_tcp("   0: 0100007F:0050 0100007F:D431 0X 0:0")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.TraceFormatError: /proc/net/tcp line 1: state '0X' is not a hex TCP_* number from 01 to 0C
    """
    out: list[ProcSocket] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] == "sl":
            continue
        if len(fields) < 5 or not fields[0].endswith(":"):
            raise TraceFormatError(
                f"/proc/net/tcp line {lineno}: expected 'sl: local remote st tx:rx ...', got {line.strip()!r}"
            )
        local = decode_address(fields[1], byteorder)
        remote = decode_address(fields[2], byteorder)
        try:
            code = int(fields[3], 16)
            state = State.from_linux_code(code)
        except ValueError:
            raise TraceFormatError(
                f"/proc/net/tcp line {lineno}: state {fields[3]!r} is not a hex TCP_* number from 01 to 0C"
            ) from None
        try:
            tx_hex, rx_hex = fields[4].split(":")
            tx, rx = int(tx_hex, 16), int(rx_hex, 16)
            timer = int(fields[5].split(":")[0], 16) if len(fields) > 5 else 0
            retransmits = int(fields[6], 16) if len(fields) > 6 else 0
            uid = int(fields[7]) if len(fields) > 7 else 0
            inode = int(fields[9]) if len(fields) > 9 else 0
        except ValueError:
            raise TraceFormatError(
                f"/proc/net/tcp line {lineno}: queue/timer/uid/inode columns are malformed in {line.strip()!r}"
            ) from None
        family = 4 if len(fields[1]) == 13 else 6
        out.append(ProcSocket(local, remote, state, code, tx, rx, timer, retransmits, uid, inode, family))
    return out


def read_proc_net_tcp(proc_root: str | Path = "/proc", families: Iterable[int] = (4, 6)) -> list[ProcSocket]:
    """Read and parse this namespace's TCP sockets.

    Parameters
    ----------
    proc_root : path
        Where ``/proc`` is mounted (a test can point this somewhere else).
    families : iterable of {4, 6}

    Raises
    ------
    FileNotFoundError
        If ``proc_root/net/tcp`` does not exist (not Linux, or no procfs).
        A missing ``tcp6`` (IPv6 disabled) is not an error.

    Examples
    --------
    >>> import os
    >>> socks = read_proc_net_tcp() if os.path.exists("/proc/net/tcp") else []
    >>> all(isinstance(s, ProcSocket) for s in socks)
    True
    """
    root = Path(proc_root)
    out: list[ProcSocket] = []
    for fam in families:
        path = root / "net" / ("tcp" if fam == 4 else "tcp6")
        try:
            text = _read_whole(path)
        except FileNotFoundError:
            if fam == 4:
                raise
            continue
        out.extend(parse_proc_net_tcp(text))
    return out


def _read_whole(path: Path) -> str:
    # One big read() per call: the kernel's seq_file then walks the socket
    # hash tables in one go.  Small reads resume the walk at an offset, and a
    # socket added or removed in between shifts the rest, so a line can be
    # skipped or repeated.
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", "replace")
