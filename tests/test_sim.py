"""The event loop, and hosts running the engine on it."""

from __future__ import annotations

import math

import pytest

from tcpkit.drivers.sim import LATE, URGENT, Simulator
from tcpkit.engine.errors import ParameterError


def test_events_come_out_in_time_order() -> None:
    sim = Simulator()
    out: list[tuple[float, str]] = []
    for delay, tag in [(3, "c"), (1, "a"), (2, "b"), (0, "z")]:
        sim.schedule(delay, lambda tag=tag: out.append((sim.now, tag)))
    sim.run()
    assert out == [(0, "z"), (1, "a"), (2, "b"), (3, "c")]


def test_equal_times_priority_then_fifo() -> None:
    sim = Simulator()
    out: list[str] = []
    sim.schedule(1, out.append, "late", priority=LATE)
    sim.schedule(1, out.append, "n1")
    sim.schedule(1, out.append, "urgent", priority=URGENT)
    sim.schedule(1, out.append, "n2")
    sim.run()
    assert out == ["urgent", "n1", "n2", "late"]


def test_events_scheduled_while_running() -> None:
    sim = Simulator()
    out: list[float] = []

    def tick(n: int) -> None:
        out.append(sim.now)
        if n:
            sim.schedule(0.5, tick, n - 1)

    sim.schedule(0, tick, 4)
    sim.run()
    assert out == [0, 0.5, 1.0, 1.5, 2.0]
    assert sim.steps == 5


def test_run_until_stops_and_sets_now() -> None:
    sim = Simulator()
    out: list[int] = []
    for i in range(1, 6):
        sim.schedule(i, out.append, i)
    sim.run(until=3)
    assert out == [1, 2, 3] and sim.now == 3
    assert sim.peek() == 4
    sim.run(until=3.5)
    assert out == [1, 2, 3] and sim.now == 3.5
    sim.run()
    assert out == [1, 2, 3, 4, 5] and sim.now == 5


def test_cancel_and_peek() -> None:
    sim = Simulator()
    ev = sim.schedule(1, pytest.fail)
    sim.cancel(ev)
    assert sim.peek() == math.inf
    assert sim.step() is False


@pytest.mark.parametrize("bad", [-0.001, float("nan"), float("inf"), "1"])
def test_bad_delay(bad: object) -> None:
    with pytest.raises(ParameterError) as e:
        Simulator().schedule(bad, print)  # type: ignore[arg-type]
    assert e.value.name == "delay"


def test_no_going_back_in_time() -> None:
    sim = Simulator(start=10)
    with pytest.raises(ParameterError, match="time"):
        sim.schedule_at(9.5, print)
    with pytest.raises(ParameterError, match="until"):
        sim.run(until=5)


# --------------------------------------------------------------------------- hosts on a network

from tcpkit.drivers.apps import Client, Server  # noqa: E402
from tcpkit.drivers.links import DropNth  # noqa: E402
from tcpkit.drivers.sim import Network  # noqa: E402
from tcpkit.engine.errors import TcpError  # noqa: E402
from tcpkit.engine.trace import Kind  # noqa: E402


def _two(seed: int = 0, **kw: object) -> tuple[Network, object, object]:
    net = Network(seed=seed, **kw)  # type: ignore[arg-type]
    return net, net.add_host("client", "192.0.2.1"), net.add_host("server", "198.51.100.1")


def test_handshake_timing_follows_link_delay() -> None:
    net, c, s = _two(delay=0.2)
    srv = s.socket()  # type: ignore[attr-defined]
    srv.bind(80)
    srv.listen(4)
    cli = c.socket()  # type: ignore[attr-defined]
    cli.connect("198.51.100.1", 80)
    net.run(until=0.39)
    assert cli.state.value == "SYN_SENT"
    net.run(until=0.4)
    assert cli.state.value == "ESTABLISHED"
    net.run(until=0.61)  # the final ACK arrives at 0.2 + 0.2 + 0.2
    conn = srv.accept()
    assert conn.state.value == "ESTABLISHED"
    with pytest.raises(TcpError) as e:
        srv.accept()
    assert e.value.errno_name == "EAGAIN"


def test_socket_send_recv_close() -> None:
    net, c, s = _two()
    server = Server(s, 80, close="never").start()
    client = Client(c, "198.51.100.1", 80, data=b"x" * 5000, close="never").start()
    net.run(until=1)
    assert server.received == b"x" * 5000 and client.connected_at == pytest.approx(0.02)
    client.sock.shutdown("SHUT_WR")
    net.run(until=2)
    assert server.accepted[0].state.value == "CLOSE_WAIT"


def test_link_drop_is_recorded_and_retransmitted() -> None:
    net, c, s = _two()
    net.link("client", "server", rules=[DropNth(1)])  # lose the first SYN
    Server(s, 80).start()
    cli = Client(c, "198.51.100.1", 80, close="never").start()
    net.run(until=3)
    drops = [r for r in net.records if r.kind is Kind.DROP]
    assert len(drops) == 1 and drops[0].segment is not None and drops[0].segment.syn
    assert drops[0].host == "client" and drops[0].peer == "server" and "rule" in (drops[0].reason or "")
    assert cli.connected_at == pytest.approx(1.02)  # the SYN retransmission after the 1 s initial RTO


def test_timers_fire_without_traffic() -> None:
    net, c, s = _two()
    cli = Client(c, "198.51.100.99", 80, close="never").start()  # nobody there
    net.run(until=200)
    assert cli.error == "ETIMEDOUT"
    syns = [r for r in net.records if r.kind is Kind.SEND and r.host == "client"]
    assert len(syns) == 11  # the first SYN and 10 retransmissions (tcp_syn_retries 6 + 4 linear)
    assert any(r.kind is Kind.DROP and "no host" in (r.reason or "") for r in net.records)


def test_nat_shares_one_address() -> None:
    net = Network(seed=2)
    a = net.add_host("a", "10.0.0.2")
    b = net.add_host("b", "10.0.0.3")
    s = net.add_host("server", "198.51.100.1")
    nat = net.add_nat("203.0.113.1", ["a", "b"])
    srv = Server(s, 80, close="never").start()
    Client(a, "198.51.100.1", 80, data=b"from a", close="never", bind=40000).start()
    Client(b, "198.51.100.1", 80, data=b"from b", close="never", bind=40000).start()
    net.run(until=1)
    assert sorted(srv.received_by_conn) == [b"from a", b"from b"]
    peers = sorted(i.conn[2:] for i in s.stack.sockets() if i.conn[3] != 0)
    assert peers == [("203.0.113.1", 40000), ("203.0.113.1", 40001)]
    assert nat.mappings == {("10.0.0.2", 40000): 40000, ("10.0.0.3", 40000): 40001}


def test_same_seed_same_records_and_bad_hosts() -> None:
    def run(seed: int) -> str:
        net, c, s = _two(seed)
        net.link("client", "server", loss=0.3)
        Server(s, 80).start()
        Client(c, "198.51.100.1", 80, data=3000).start()
        net.run(until=30)
        return net.trace(name="x").to_json()

    assert run(1) == run(1)
    assert run(1) != run(2)
    net, c, s = _two()
    with pytest.raises(ParameterError):
        net.add_host("client", "192.0.2.9")
    with pytest.raises(ParameterError):
        net.add_host("other", "192.0.2.1")
    with pytest.raises(ParameterError):
        net.link("client", "nobody")
    assert net.link("attacker", "server", loss=1.0).loss == 1.0  # an injector's link may be set too
    with pytest.raises(ParameterError):
        Network(delay=-0.1)


def test_port_range_from_profile_and_parameter() -> None:
    net = Network()
    assert net.add_host("a", "192.0.2.1").port_range == (32768, 60999)
    h = net.add_host("b", "192.0.2.2", port_range=(50000, 50001))
    srv = Server(net.add_host("s", "198.51.100.1"), 80, close="never").start()
    apps = [Client(h, "198.51.100.1", 80, close="never", at=0.01 * i).start() for i in range(3)]
    net.run(until=1)
    used = [i.conn[3] for i in srv.host.stack.sockets() if i.conn[3] != 0]
    assert sorted(used) == [50000, 50001] and len(srv.accepted) == 2
    # the third client finds both ports of the range taken
    assert apps[2].error == "EADDRNOTAVAIL"
    for bad in [(6000, 5000), (0, 10), (1, 70000), (1.5, 3), "1-2"]:
        with pytest.raises(ParameterError):
            Network().add_host("x", "192.0.2.3", port_range=bad)  # type: ignore[arg-type]


def test_slow_and_never_accepting_servers() -> None:
    net = Network(seed=4)
    c = net.add_host("client", "192.0.2.1")
    s = net.add_host("server", "198.51.100.1")
    slow = Server(s, 80, accept="slow", accept_every=1.0, close="never").start()
    lazy = Server(s, 81, accept="never", close="never").start()
    for i in range(3):
        Client(c, "198.51.100.1", 80, at=0.01 * i, close="never").start()
        Client(c, "198.51.100.1", 81, at=0.01 * i, close="never").start()
    queue = s.stack.listeners[("198.51.100.1", 80)]
    net.run(until=0.5)
    assert len(slow.accepted) == 0 and queue.queue_lengths() == (0, 3)
    net.run(until=2.5)
    assert len(slow.accepted) == 2 and queue.queue_lengths() == (0, 1)
    assert lazy.accepted == [] and s.stack.listeners[("198.51.100.1", 81)].queue_lengths() == (0, 3)
