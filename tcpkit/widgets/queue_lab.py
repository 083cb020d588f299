"""Notebook 03's lab: a burst of clients meets a listen backlog and an application that accepts at its own pace.

:func:`burst_run` runs the engine (:mod:`tcpkit.drivers.sim`): ``clients``
sockets of one host call ``connect()`` at the same moment; the server's
application calls ``accept()`` ``accept_rate`` times a second.  It returns the
trace and the numbers a student reads (clients served, clients that believe they
are connected, resets, the peak queues, the server's counters).
:class:`BurstLab` moves the backlog, the burst, the accept rate,
``tcp_abort_on_overflow`` and ``tcp_syncookies`` and draws both queues over time.

Examples
--------
>>> r = burst_run(clients=20, backlog=32, accept_rate=10, duration=3)
>>> r.served, r.established, r.counters.get("ListenOverflows", 0)
(20, 20, 0)
>>> small = burst_run(clients=20, backlog=8, accept_rate=10, duration=3)
>>> small.established, small.served < small.clients, small.counters["ListenOverflows"] > 0
(20, True, True)
>>> lab = BurstLab(clients=20, backlog=32)
>>> lab.sentence_text.startswith("20 of 20 clients served")
True
>>> lab.close()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tcpkit.drivers.sim import Network
from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import Flags
from tcpkit.engine.trace import QueueChanged, SegmentSent, Trace
from tcpkit.i18n import register
from tcpkit.viz.labels import tr
from tcpkit.viz.timeline import queue_figure

from .lab import Control, Lab, View

__all__ = ["BurstRun", "burst_run", "BurstLab"]

register(
    {
        "w.burst.title": (
            "Lab: a burst of clients meets the listen backlog",
            "实验：一批客户端同时涌向 listen 的 backlog",
        ),
        "w.burst.clients": ("clients connecting at once", "同时连接的客户端数"),
        "w.burst.clients_help": (
            "How many connect() calls reach the server in the same instant.",
            "同一时刻到达服务器的 connect() 调用数。",
        ),
        "w.burst.backlog": ("listen() backlog", "listen() 的 backlog"),
        "w.burst.backlog_help": (
            "The argument of listen(); somaxconn (4096) caps it. It bounds both queues.",
            "listen() 的参数，受 somaxconn（4096）限制；它同时限制两个队列。",
        ),
        "w.burst.rate": ("accept() calls", "accept() 调用"),
        "w.burst.rate_help": (
            "How many times a second the application takes a connection from the accept queue.",
            "应用程序每秒从全连接队列取走连接的次数。",
        ),
        "w.burst.sentence": (
            "{served} of {clients} clients served by the application within {duration:g} s; {established} believe "
            "they are connected, {reset} were reset; peak accept queue {peak} (limit {limit}); "
            "ListenOverflows {overflows}, SYN cookies sent {cookies}.",
            "{duration:g} 秒内应用程序服务了 {clients} 个客户端中的 {served} 个；{established} 个客户端认为已连接，"
            "{reset} 个被重置；全连接队列峰值 {peak}（上限 {limit}）；ListenOverflows {overflows}，"
            "发出的 SYN Cookie {cookies} 个。",
        ),
    }
)


@dataclass(frozen=True)
class BurstRun:
    """What one burst did (see :func:`burst_run`)."""

    clients: int
    served: int
    established: int
    reset: int
    syn_retransmits: int
    synack_retransmits: int
    peak_syn_queue: int
    peak_accept_queue: int
    syn_limit: int
    accept_limit: int
    counters: dict[str, int]
    trace: Trace = field(repr=False)


def burst_run(
    *, clients: int, backlog: int, accept_rate: float, duration: float = 5.0, seed: int = 1, **server: Any
) -> BurstRun:
    """``clients`` connect at once to ``listen(backlog)``; the application accepts ``accept_rate`` per second.

    Parameters
    ----------
    clients : int
        ``connect()`` calls at time 0 (from one client host, 5 ms away).
    backlog : int
        The ``listen()`` argument.
    accept_rate : float
        ``accept()`` calls per second, the first at ``1 / accept_rate`` s.
    duration : float
        Seconds simulated.
    seed : int
    **server
        Knobs of the server (``somaxconn``, ``tcp_syncookies``, ``tcp_abort_on_overflow`` ...).

    Returns
    -------
    BurstRun

    Notes
    -----
    The listener follows Linux ``tcp_conn_request()`` (``net/ipv4/tcp_input.c``) and
    ``tcp_check_req()`` (``net/ipv4/tcp_minisocks.c``) as the engine models them.
    """
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 1:
        raise ParameterError("clients", clients, "an integer >= 1")
    for name, v in (("accept_rate", accept_rate), ("duration", duration)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v < float("inf"):
            raise ParameterError(name, v, "a number > 0")
    net = Network(seed=seed, delay=0.005)
    s = net.add_host("server", "10.0.0.2", **server)
    c = net.add_host("clients", "10.0.0.1")
    listener = s.socket()
    listener.bind(80)
    listener.listen(backlog)
    socks = [c.socket() for _ in range(int(clients))]
    for sock in socks:
        sock.connect("10.0.0.2", 80)
    served: list[float] = []

    def accept_one() -> None:
        if "in" in listener.poll():
            listener.accept()
            served.append(net.now)

    step = 1.0 / accept_rate
    for k in range(int(duration * accept_rate)):
        net.at(step * (k + 1), accept_one)
    net.run(until=duration)
    queues = net.of(QueueChanged, "server")
    client_syns = sum(1 for r in net.of(SegmentSent, "clients") if r.segment.flags == Flags.SYN)
    synacks = sum(1 for r in net.of(SegmentSent, "server") if r.segment.syn)
    return BurstRun(
        clients=int(clients),
        served=len(served),
        established=sum(1 for k in socks if k.state.value == "ESTABLISHED"),
        reset=sum(1 for k in socks if k.state.value == "CLOSED"),
        syn_retransmits=client_syns - int(clients),
        synack_retransmits=max(0, synacks - int(clients)),
        peak_syn_queue=max((q.syn_queue for q in queues), default=0),
        peak_accept_queue=max((q.accept_queue for q in queues), default=0),
        syn_limit=(queues[-1].syn_limit if queues else None) or backlog,
        accept_limit=(queues[-1].accept_limit if queues else None) or backlog,
        counters={k: v for k, v in s.stack.counters.items() if v},
        trace=net.trace(scenario="burst"),
    )


class BurstLab(Lab):
    """The burst, the backlog, the accept rate, ``tcp_abort_on_overflow`` and ``tcp_syncookies``; both queues drawn.

    Parameters
    ----------
    duration : float
        Seconds simulated per change (default 5).
    **start
        Starting values of the controls.
    """

    title_key = "w.burst.title"
    css_class = "tcpkit-lab-burst"
    picture_height = 380
    controls = (
        Control("clients", "w.burst.clients", "int", 300, lo=10, hi=500, step=10, help="w.burst.clients_help"),
        Control(
            "backlog",
            "w.burst.backlog",
            "int",
            128,
            lo=1,
            hi=1024,
            step=1,
            help="w.burst.backlog_help",
            allowed="0–4096",
        ),
        Control(
            "accept_rate",
            "w.burst.rate",
            "int",
            100,
            lo=10,
            hi=500,
            step=10,
            unit="w.unit.per_s",
            help="w.burst.rate_help",
        ),
        Control.knob("tcp_abort_on_overflow"),
        Control.knob("tcp_syncookies"),
    )

    def __init__(self, *, duration: float = 5.0, **start: Any) -> None:
        if isinstance(duration, bool) or not isinstance(duration, int | float) or not 0 < duration <= 60:
            raise ParameterError("duration", duration, "seconds, more than 0 and at most 60")
        self.duration = float(duration)
        self.run: BurstRun | None = None
        super().__init__(**start)

    def draw(
        self, *, clients: int, backlog: int, accept_rate: int, tcp_abort_on_overflow: int, tcp_syncookies: int, **_: Any
    ) -> View:
        run = self.cached(
            (clients, backlog, accept_rate, tcp_abort_on_overflow, tcp_syncookies),
            lambda: burst_run(
                clients=clients,
                backlog=backlog,
                accept_rate=accept_rate,
                duration=self.duration,
                tcp_abort_on_overflow=tcp_abort_on_overflow,
                tcp_syncookies=tcp_syncookies,
            ),
        )
        self.run = run
        fig = queue_figure(run.trace, host="server", limits={"accept_queue": run.accept_limit}, height=360)
        sentence = tr(
            "w.burst.sentence",
            served=run.served,
            clients=run.clients,
            duration=self.duration,
            established=run.established,
            reset=run.reset,
            peak=run.peak_accept_queue,
            limit=run.accept_limit,
            overflows=run.counters.get("ListenOverflows", 0),
            cookies=run.counters.get("SyncookiesSent", 0),
        )
        return View(fig, sentence)
