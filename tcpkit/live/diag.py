"""A listener's Recv-Q and Send-Q the way ``ss -lnt`` gets them: ``inet_diag`` over netlink.

``/proc/net/tcp`` shows a LISTEN socket's accept-queue length (its
``rx_queue``) but not its backlog; ``ss`` asks the kernel over a
``NETLINK_SOCK_DIAG`` socket instead, and for a listener the answer's
``idiag_rqueue`` is the accept-queue length and ``idiag_wqueue`` the backlog
the kernel actually uses (``tcp_diag_get_info()`` in ``net/ipv4/tcp_diag.c``).
No root is needed.

Examples
--------
>>> import socket, sys
>>> if sys.platform.startswith("linux"):
...     with socket.socket() as s:
...         s.bind(("127.0.0.1", 0)); s.listen(3)
...         q = listener_queues(s.getsockname()[1])
... else:
...     q = (0, 3)
>>> q
(0, 3)

Notes
-----
Message layouts: ``include/uapi/linux/inet_diag.h`` (``struct
inet_diag_req_v2``, ``struct inet_diag_msg``) and
``include/uapi/linux/sock_diag.h`` (``SOCK_DIAG_BY_FAMILY`` = 20); netlink
framing: ``include/uapi/linux/netlink.h``.  The backlog is
``min(backlog, net.core.somaxconn)`` (``__sys_listen()`` in ``net/socket.c``).
"""

from __future__ import annotations

import socket
import struct

__all__ = ["listener_queues"]

_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST, _NLM_F_DUMP = 0x1, 0x300
_NLMSG_DONE, _NLMSG_ERROR = 3, 2
_TCP_LISTEN = 10


def listener_queues(port: int, addr_family: int = socket.AF_INET) -> tuple[int, int] | None:
    """``(Recv-Q, Send-Q)`` of the listener on ``port``: accept-queue length and backlog.

    Returns None when there is no such listener, or netlink sock_diag is not
    available (not Linux, or a sandbox that forbids it).
    """
    if not hasattr(socket, "AF_NETLINK"):
        return None
    # struct inet_diag_req_v2: family, protocol, ext, pad, states, then the sockid (all zero: match any)
    req = struct.pack("=BBBxI", addr_family, socket.IPPROTO_TCP, 0, 1 << _TCP_LISTEN) + bytes(48)
    hdr = struct.pack("=IHHII", 16 + len(req), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST | _NLM_F_DUMP, 1, 0)
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as nl:
            nl.settimeout(1.0)
            nl.sendto(hdr + req, (0, 0))
            while True:
                data = nl.recv(1 << 16)
                pos = 0
                while pos + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, pos)
                    if kind in (_NLMSG_DONE, _NLMSG_ERROR) or length < 16:
                        return None
                    body = data[pos + 16 : pos + length]
                    # struct inet_diag_msg: family, state, timer, retrans, sockid (sport, dport big-endian ...)
                    sport = struct.unpack_from("!H", body, 4)[0]
                    if sport == port:
                        rqueue, wqueue = struct.unpack_from("=II", body, 4 + 48 + 4)
                        return int(rqueue), int(wqueue)
                    pos += (length + 3) & ~3
    except OSError:
        return None
