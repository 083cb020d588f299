"""The SYN flood through the general simulator: a real Listener and client stacks, for checking the fast model.

Every spoofed SYN is an event here, so it is slow; the scenario catalogue
(``syn_flood``) and the tests use it on small cases, where
:class:`~tcpkit.drivers.flood_model.FloodModel` must give identical results.

Examples
--------
>>> from tcpkit.drivers.flood_params import FloodParams
>>> p = FloodParams(duration=2, flood_rate=20, legit_rate=2, backlog=4, knobs={"tcp_syncookies": 0})
>>> res, net = full_network(p)
>>> res.attempts, res.samples[-1][1]         # 4 clients; backlog + 1 spoofed requests hold the SYN queue
(4, 5)
"""

from __future__ import annotations

import math
from typing import Any

from tcpkit.engine.errors import TcpError
from tcpkit.engine.segment import MSS, Flags, Segment
from tcpkit.engine.states import Event, State
from tcpkit.engine.trace import QueueChanged, SegmentSent

from .apps import Server
from .flood_params import FloodParams, FloodResult, client_counts
from .sim import URGENT, Network

__all__ = ["full_network", "RateAcceptor"]


def full_network(fp: FloodParams, *, seed: int = 0) -> tuple[FloodResult, Network]:
    """Run the flood of ``fp`` through :class:`~tcpkit.drivers.sim.Network`; return the result and the network.

    Parameters
    ----------
    fp : FloodParams
    seed : int
        Seeds the spoofed SYNs' random source ports and sequence numbers.

    Returns
    -------
    (FloodResult, Network)
    """
    prof = fp.resolved_profile
    net = Network(seed=seed, delay=fp.one_way)
    server = net.add_host("server", "198.51.100.1", profile=prof)
    client = net.add_host("client", "192.0.2.1", profile=prof)
    srv: Server | RateAcceptor
    if math.isinf(fp.accept_rate):
        srv = Server(server, 80, backlog=fp.backlog).start()
    else:
        srv = RateAcceptor(server, 80, fp.backlog, 1.0 / fp.accept_rate).start()
    rng = net.rng("spoof")
    for i in range(fp.spoofed_count()):
        src = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"  # a new source for every SYN
        seg = Segment(
            src_port=rng.randrange(1024, 65536),
            dst_port=80,
            seq=rng.getrandbits(32),
            flags=Flags.SYN,
            window=64240,
            options=(MSS(1460),),
        )
        net.inject(fp.spoof_send_time(i), src, server.addr, seg, who="attacker")
    starts = fp.honest_starts()
    socks: list[Any] = []

    def go(j: int) -> None:
        s = client.socket()
        socks.append(s)
        s.connect(server.addr, 80)

    for j, at in enumerate(starts):
        net.at(at, go, j)
    duration = fp.duration
    net.run(until=duration)
    trace = net.trace()

    # connect times and outcomes from the client's trace
    estab: dict[Any, float] = {}
    closed: dict[Any, float] = {}
    for r in trace.state_changes("client"):
        if r.conn is not None:
            if r.dst is State.ESTABLISHED:
                estab.setdefault(r.conn, r.time)
            elif r.dst is State.CLOSED and r.src is State.SYN_SENT:
                closed.setdefault(r.conn, r.time)
    first_syn: dict[Any, float] = {}
    for rec in trace:
        if (
            isinstance(rec, SegmentSent)
            and rec.host == "client"
            and rec.conn is not None
            and rec.segment.flags == Flags.SYN
        ):
            first_syn.setdefault(rec.conn, rec.time)
    connected = failed = 0
    times: list[float] = []
    done: list[float | None] = []
    gave_up: list[float | None] = []
    for conn, t0 in sorted(first_syn.items(), key=lambda kv: kv[1]):
        done.append(estab.get(conn))
        gave_up.append(closed.get(conn) if conn not in estab else None)
        if conn in estab:
            connected += 1
            times.append(estab[conn] - t0)
        elif conn in closed:
            failed += 1
    # queue occupancy: the last QueueChanged record of the server at or before each sample time
    qrecs = [r for r in trace if isinstance(r, QueueChanged) and r.host == "server"]
    samples: list[tuple[float, int, int]] = []
    qi = 0
    cur = (0, 0)
    for t in fp.sample_times():
        while qi < len(qrecs) and qrecs[qi].time <= t:
            cur = (qrecs[qi].syn_queue, qrecs[qi].accept_queue)
            qi += 1
        samples.append((t, cur[0], cur[1]))
    # clients reset by the server after their handshake (tcp_abort_on_overflow = 1)
    reset = sum(
        1
        for r in trace.state_changes("client")
        if r.src is State.ESTABLISHED and r.dst is State.CLOSED and r.event is Event.RCV_RST
    )
    counters = {k: int(v) for k, v in server.stack.counters.items()}
    params = fp.as_dict()
    net.meta.update(scenario="syn_flood", params=params)
    accepted = len(srv.accepted) if isinstance(srv, Server) else srv.count
    limits = next(((r.syn_limit, r.accept_limit) for r in qrecs if r.syn_limit is not None), (fp.cap, fp.cap))
    result = FloodResult(
        len(starts),
        connected,
        failed,
        len(starts) - connected - failed,
        tuple(times),
        tuple(samples),
        counters,
        params,
        accepted,
        reset,
        syn_limit=int(limits[0] or 0),
        accept_limit=int(limits[1] or 0),
        syn_capacity=fp.syn_capacity,
        clients=client_counts(starts, done, gave_up, fp.sample_times()),
    )
    return result, net


class RateAcceptor:
    """A listening application that spends ``gap`` seconds on each connection it accepts.

    Blocked in ``accept()`` when idle (it takes a finished connection the moment
    the stack has one); busy for ``gap`` seconds after each ``accept()``, then
    it calls ``accept()`` again (an URGENT event, so it runs before the
    segments of the same instant).
    """

    def __init__(self, host: Any, port: int, backlog: int, gap: float) -> None:
        self.host = host
        self.port = port
        self.backlog = backlog
        self.gap = gap
        self.count = 0
        self.busy_until: float | None = None  # None: idle

    def start(self) -> RateAcceptor:
        sock = self.host.socket()
        sock.bind(self.port)
        sock.listen(self.backlog)
        self.sock = sock
        self.host.apps.append(self)
        return self

    def _accept(self, now: float) -> bool:
        try:
            self.sock.accept()
        except TcpError as exc:
            if exc.errno_name == "EAGAIN":
                return False
            raise
        self.count += 1
        self.busy_until = now + self.gap
        return True

    def wake(self, now: float) -> None:
        if self.busy_until is None and self._accept(now):
            self._schedule()

    def _schedule(self) -> None:
        assert self.busy_until is not None
        self.host.net.sim.schedule_at(self.busy_until, self._tick, priority=URGENT)

    def _tick(self) -> None:
        self.busy_until = None
        if self._accept(self.host.net.now):
            self._schedule()
