"""The lab's scenarios, played with real sockets on loopback.

Each scenario is a function of a :class:`~tcpkit.live.lab.Lab` and carries the
same name as the model scenario of :mod:`tcpkit.drivers.scenarios` it is compared
with.  Every step that waits does so for at most ``lab.step_timeout``; no
scenario waits for a long kernel timer (TIME_WAIT is *entered*, not sat out).

Examples
--------
>>> sorted(SCRIPTS)[:3]
['abort_rst', 'accept_queue_overflow', 'close_wait_leak']
>>> print(SCRIPTS["close_wait_leak"].title)
CLOSE_WAIT leak: the server never calls close()
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from tcpkit.engine.errors import ParameterError

from .lab import Lab

__all__ = ["Script", "SCRIPTS", "ALIASES", "get_script"]


@dataclass(frozen=True, slots=True)
class Script:
    """A lab scenario: its name, a title, what it teaches, and the steps."""

    name: str
    title: str
    about: str
    run: Callable[[Lab], None]
    params: tuple[tuple[str, int], ...] = ()  # passed to the model scenario too
    netns: bool = False  # needs a private namespace that drops pure ACKs (root only)
    model: str | None = ""  # the tcpkit.drivers.scenarios name ("" = the same name, None = no model scenario)
    compare_queue: bool = False  # also compare the accept-queue peak with the model's

    @property
    def model_name(self) -> str | None:
        return self.name if self.model == "" else self.model


def _pair(lab: Lab, data: int, backlog: int = 8) -> tuple[socket.socket, socket.socket, socket.socket]:
    lsock, port = lab.listen(backlog)
    c = lab.connect(port, "client")
    s = lab.accept(lsock, "server")
    lab.wait_state("client", "ESTABLISHED")
    lab.wait_state("server", "ESTABLISHED")
    if data:
        lab.send(c, "client", b"q" * data)
        lab.recv(s, "server")
    return lsock, c, s


# The applications do what the model's applications (tcpkit.drivers.apps) do, and
# react to each event as soon as the watcher has seen the state it led to (a
# poll or two: milliseconds).  A socket that receives a FIN delays its ACK
# (tcp_fin() in net/ipv4/tcp_input.c enters "pingpong" mode); when the
# application closes within the delayed-ACK time (TCP_DELACK_MIN, 40 ms,
# include/net/tcp.h) the ACK rides on its own FIN and the other side passes
# FIN_WAIT_2 in the same instant (FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT on one
# segment), as in the model.  On a busy machine the ACK may go alone first and
# FIN_WAIT_2 is seen: tcpkit.live.compare reports that as a timing note.

OPEN_CLOSE_DATA = 64


def open_close_client_first(lab: Lab) -> None:
    _, c, s = _pair(lab, OPEN_CLOSE_DATA)
    lab.close(c, "client")
    lab.wait_state("server", "CLOSE_WAIT")
    lab.recv(s, "server")  # EOF
    lab.close(s, "server")
    lab.wait_state("client", "TIME_WAIT")
    lab.wait_state("server", "CLOSED")


def open_close_server_first(lab: Lab) -> None:
    _, c, s = _pair(lab, 0)
    lab.send(s, "server", b"r" * OPEN_CLOSE_DATA)
    lab.close(s, "server")
    lab.wait_state("client", "CLOSE_WAIT")
    lab.recv(c, "client")  # the reply (and the EOF behind it)
    if lab.recv(c, "client") == b"":
        lab.close(c, "client")
    lab.wait_state("server", "TIME_WAIT")
    lab.wait_state("client", "CLOSED")


HALF_CLOSE_REQUEST = 100
HALF_CLOSE_REPLY = 20000


def half_close(lab: Lab) -> None:
    _, c, s = _pair(lab, HALF_CLOSE_REQUEST)
    lab.shutdown(c, "client", socket.SHUT_WR)
    lab.wait_state("server", "CLOSE_WAIT")
    lab.recv(s, "server")  # EOF: the client will send no more ...
    lab.send(s, "server", b"r" * 1000)  # ... but the server still can (this also ACKs the FIN)
    lab.recv(c, "client")  # and the client still reads
    lab.wait_state("client", "FIN_WAIT_2")
    left = HALF_CLOSE_REPLY - 1000
    while left > 0:
        left -= lab.send(s, "server", b"r" * min(left, 4000))
        lab.recv(c, "client")
    lab.close(s, "server")
    lab.wait_state("client", "TIME_WAIT")
    lab.wait_state("server", "CLOSED")
    for _ in range(20):  # the rest of the reply, then EOF
        data = lab.recv(c, "client")
        if not isinstance(data, bytes) or not data:
            break
    lab.close(c, "client")  # already in TIME_WAIT: nothing changes


def connection_refused(lab: Lab) -> None:
    lab.listen(8)  # as in the model, somebody listens ... on another port
    port = lab.free_port()
    lab.connect(port, "client")
    lab.wait_state("client", "CLOSED")


ABORT_DATA = 100


def abort_rst(lab: Lab) -> None:
    _, c, s = _pair(lab, ABORT_DATA)
    lab.close(c, "client", abort=True)
    lab.wait_state("client", "CLOSED")
    lab.wait_state("server", "CLOSED")
    lab.recv(s, "server")  # ECONNRESET


CLOSE_WAIT_CLIENTS = 3


def close_wait_leak(lab: Lab) -> None:
    lsock, port = lab.listen(8)
    for i in range(1, CLOSE_WAIT_CLIENTS + 1):
        c = lab.connect(port, f"client{i}")
        s = lab.accept(lsock, f"server{i}")
        lab.wait_state(f"client{i}", "ESTABLISHED")
        lab.wait_state(f"server{i}", "ESTABLISHED")
        lab.send(c, f"client{i}", b"q" * 10)
        lab.recv(s, f"server{i}")
        lab.close(c, f"client{i}")
        lab.wait_state(f"server{i}", "CLOSE_WAIT")
        lab.recv(s, f"server{i}")  # EOF ... and the server application never calls close()
    for i in range(1, CLOSE_WAIT_CLIENTS + 1):
        lab.wait_state(f"client{i}", "FIN_WAIT_2")  # the delayed ACK of the FIN comes after ~40 ms
    lab.hold(0.2)
    still = sum(lab.wait_state(f"server{i}", "CLOSE_WAIT", 0.01) for i in range(1, CLOSE_WAIT_CLIENTS + 1))
    lab.log("server", "(never calls close)", f"{still} connections still in CLOSE_WAIT")


ACCEPT_BACKLOG = 3
ACCEPT_CLIENTS = 5


def accept_queue_overflow(lab: Lab) -> None:
    lab.listen(ACCEPT_BACKLOG)
    port = lab.listener_port
    assert port is not None
    for i in range(1, ACCEPT_CLIENTS + 1):
        lab.connect(port, f"client{i}", wait=False)
    # The application never calls accept().  On loopback each handshake ends
    # within microseconds, so the accept queue fills up to backlog + 1
    # (sk_acceptq_is_full() in include/net/sock.h tests '>'); after that the
    # listener drops new SYNs (tcp_conn_request() in net/ipv4/tcp_input.c)
    # and those clients stay in SYN_SENT, retransmitting after 1 s.
    lab.hold(0.1)
    for i in range(1, ACCEPT_CLIENTS + 1):
        st = lab.watcher.current(lab.conn_of(f"client{i}")).value
        lab.log(f"client{i}", "(state after 0.1 s)", st)


def synack_retransmit(lab: Lab) -> None:
    # Runs inside a private namespace whose loopback drops every pure ACK
    # (tcpkit.live.netns): the client's handshake ACK never arrives.
    lsock, port = lab.listen(8)
    lab.connect(port, "client")  # SYN and SYN-ACK pass: the client is connected
    lab.wait_state("server", "SYN_RECEIVED")
    conn = lab.conn_of("server")
    resent = lab.watcher.wait_for(lambda s: s.conn == conn and s.retransmits >= 1, 1.6)
    lab.log("server", "(SYN-ACK resent after ~1 s)", "yes" if resent else "not within 1.6 s")


SCRIPTS: dict[str, Script] = {
    s.name: s
    for s in (
        Script(
            "open_close_client_first",
            "Client closes first: TIME_WAIT on the client",
            "The side that closes first (active close, 主动关闭) ends in TIME_WAIT; the other passes CLOSE_WAIT and "
            "LAST_ACK.",
            open_close_client_first,
            (("data", OPEN_CLOSE_DATA),),
        ),
        Script(
            "open_close_server_first",
            "Server closes first: TIME_WAIT on the server",
            "Now the server sends its reply and closes first, so the server's port holds the TIME_WAIT socket.",
            open_close_server_first,
            (("data", OPEN_CLOSE_DATA),),
        ),
        Script(
            "close_wait_leak",
            "CLOSE_WAIT leak: the server never calls close()",
            "CLOSE_WAIT (关闭等待) lasts as long as the application wants: no kernel timer ends it, so leaked "
            "connections pile up.",
            close_wait_leak,
            (("clients", CLOSE_WAIT_CLIENTS),),
        ),
        Script(
            "connection_refused",
            "Connection refused: SYN answered by RST",
            "No listener on the port: the kernel answers the SYN with RST and connect() fails with ECONNREFUSED.",
            connection_refused,
        ),
        Script(
            "abort_rst",
            "Abort with SO_LINGER 0: RST instead of FIN",
            "close() with SO_LINGER 0 sends RST (复位): both sockets vanish at once, no TIME_WAIT; the peer's recv() "
            "sees ECONNRESET.",
            abort_rst,
        ),
        Script(
            "half_close",
            "Half-close: shutdown(SHUT_WR) while data still flows back",
            "After shutdown(SHUT_WR) (半关闭, half-close) the client sits in FIN_WAIT_2 and still reads what the "
            "server sends.",
            half_close,
            (("request", HALF_CLOSE_REQUEST), ("reply", HALF_CLOSE_REPLY)),
        ),
        Script(
            "accept_queue_overflow",
            "Accept queue overflow: a tiny backlog and nobody calling accept()",
            "Linux keeps backlog+1 finished connections in the accept queue (全连接队列); "
            "after that it drops new SYNs, so late clients stay in SYN_SENT.",
            accept_queue_overflow,
            (("clients", ACCEPT_CLIENTS), ("backlog", ACCEPT_BACKLOG)),
            compare_queue=True,
        ),
        Script(
            "synack_retransmit",
            "Lost handshake ACK: the server resends its SYN-ACK (root only)",
            "In a private network namespace that drops pure ACKs, the client is ESTABLISHED but the server's "
            "request stays "
            "SYN_RECEIVED (同步已接收) and its SYN-ACK is retransmitted (重传) after 1 s.",
            synack_retransmit,
            (("send_at", 0),),
            netns=True,
            model="lost_handshake_ack",
        ),
    )
}

#: The names the lab's issue used, for the scenarios that tcpkit.drivers.scenarios names differently.
ALIASES: dict[str, str] = {
    "client_closes_first": "open_close_client_first",
    "server_closes_first": "open_close_server_first",
}


def get_script(name: str) -> Script:
    """The lab scenario called ``name`` (or one of its :data:`ALIASES`).

    >>> get_script("half_close").name
    'half_close'
    >>> get_script("client_closes_first").name
    'open_close_client_first'
    >>> get_script("nope")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter scenario = 'nope' is not allowed: expected one of abort_rst, ...
    """
    try:
        return SCRIPTS[ALIASES.get(name, name)]
    except KeyError:
        raise ParameterError("scenario", name, "one of " + ", ".join(sorted(SCRIPTS))) from None
