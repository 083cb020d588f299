"""What tcpkit's model predicts for a lab scenario: per-role state paths from a Trace.

Examples
--------
>>> from tcpkit.engine.states import Event as E, State as S, lookup
>>> from tcpkit.engine.trace import StateChanged, Trace
>>> c = ("10.0.0.1", 40000, "10.0.0.2", 80)
>>> def st(t, src, ev):
...     return StateChanged(time=t, host="client", conn=c, row=lookup(src, ev))
>>> tr = Trace([st(0, S.CLOSED, E.ACTIVE_OPEN), st(0.1, S.SYN_SENT, E.RCV_SYN_ACK),
...             st(1, S.ESTABLISHED, E.CLOSE), st(1.1, S.FIN_WAIT_1, E.RCV_ACK_OF_FIN),
...             st(1.1, S.FIN_WAIT_2, E.RCV_FIN), st(61.1, S.TIME_WAIT, E.TIMEOUT_2MSL)])
>>> p = role_paths(tr)["client"]
>>> p.states, p.not_waited_from
(('SYN_SENT', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT', 'CLOSED'), 5)
"""

from __future__ import annotations

from dataclasses import dataclass

from tcpkit.engine.states import Event
from tcpkit.engine.trace import CallMade, ConnId, SegmentReceived, StateChanged, TimerFired, Trace

__all__ = ["ModelPath", "role_paths", "is_timer_event", "model_trace"]


_WILDCARD = ("", "*", "0.0.0.0", "::")

#: Model parameters that give a scenario loopback-like timing (the lab runs on loopback).
_LOOPBACK_PARAMS: dict[str, dict[str, object]] = {"accept_queue_overflow": {"delay": 0.00005}}


@dataclass(frozen=True, slots=True)
class ModelPath:
    """One socket's path in the model.

    ``not_waited_from`` is the index of the first state reached through a
    timer (or after ``horizon`` seconds); the lab does not wait for those.
    ``instant`` holds the states the model enters and leaves on one and the same
    input (FIN_WAIT_2 when the peer's FIN acknowledges ours: one segment, two
    rows): no poll can see those.  A state the model's application leaves at once
    by a later call, or that the next segment ends, is not instant: in the lab
    those take real time.
    """

    role: str
    conn: ConnId | None
    states: tuple[str, ...]
    times: tuple[float, ...]
    not_waited_from: int | None = None
    instant: frozenset[str] = frozenset()


def is_timer_event(event: Event) -> bool:
    """Whether a state change's event is a timer going off (2MSL, FIN_WAIT_2, retries, keepalive, user timeout).

    >>> is_timer_event(Event.TIMEOUT_2MSL), is_timer_event(Event.RCV_FIN)
    (True, False)
    """
    return event.name.startswith("TIMEOUT_")


def _is_listener(conn: ConnId | None) -> bool:
    return conn is None or (conn[3] == 0 and conn[2] in _WILDCARD)


def role_paths(trace: Trace, *, horizon: float | None = None) -> dict[str, ModelPath]:
    """Group a model trace's STATE records into per-role paths.

    Roles: a listening socket is ``listener``; the connections of host
    ``client`` (or of hosts named ``client...``) are ``client`` (or
    ``client1``, ``client2`` ... in order of their first record when there are
    several); the server side of a connection takes the matching client's
    number (``server``, ``server1`` ...), found by the reversed 4-tuple.
    A leading CLOSED is dropped (a socket is not listed before it exists), and
    so is a leading LISTEN on a server connection (Linux keeps a request
    socket per connection, never the listener's state).

    Parameters
    ----------
    trace : Trace
    horizon : float, optional
        States reached later than this many seconds after the first record are
        marked as not waited for, like those reached through a timer.
    """
    groups: dict[tuple[str, ConnId | None], list[tuple[float, str, str, Event]]] = {}
    # what each state change was caused by: the number of inputs (segments received and timers
    # fired on its connection, calls on its host) seen so far -- two changes with the same stamp came from one input
    stamps: dict[tuple[str, ConnId | None], list[tuple[int, int]]] = {}
    calls: dict[str, int] = {}
    segs: dict[tuple[str, ConnId | None], int] = {}
    for r in trace:
        if isinstance(r, SegmentReceived | TimerFired):
            segs[(r.host, r.conn)] = segs.get((r.host, r.conn), 0) + 1
        elif isinstance(r, CallMade):
            calls[r.host] = calls.get(r.host, 0) + 1
        elif isinstance(r, StateChanged):
            groups.setdefault((r.host, r.conn), []).append((r.time, r.src.value, r.dst.value, r.event))
            stamps.setdefault((r.host, r.conn), []).append((calls.get(r.host, 0), segs.get((r.host, r.conn), 0)))
    t0 = min((recs[0][0] for recs in groups.values()), default=0.0)
    clients = [k for k in groups if k[0].startswith("client") and not _is_listener(k[1])]
    names: dict[tuple[str, ConnId | None], str] = {}
    for i, key in enumerate(clients, 1):
        names[key] = "client" if len(clients) == 1 else f"client{i}"
    by_client_conn = {key[1]: name for key, name in names.items()}
    listeners = 0
    others = 0
    for key in groups:
        if key in names:
            continue
        conn = key[1]
        if _is_listener(conn):
            listeners += 1
            names[key] = "listener" if listeners == 1 else f"listener{listeners}"
            continue
        assert conn is not None
        peer = (conn[2], conn[3], conn[0], conn[1])
        if peer in by_client_conn:
            names[key] = by_client_conn[peer].replace("client", "server")
        else:
            others += 1
            names[key] = "server" if others == 1 else f"server_extra{others}"
    out: dict[str, ModelPath] = {}
    for key, recs in groups.items():
        role = names[key]
        states: list[str] = []
        times: list[float] = []
        enter: list[tuple[int, int] | None] = []  # the input that entered each state
        leave: list[tuple[int, int] | None] = []  # ... and the one that left it
        cut: int | None = None
        first_src = recs[0][1]
        if first_src not in ("CLOSED", "?"):
            states.append(first_src)
            times.append(recs[0][0])
            enter.append(None)
            leave.append(None)
        for (t, _src, dst, event), stamp in zip(recs, stamps[key], strict=True):
            if states and states[-1] == dst:
                continue
            if leave:
                leave[-1] = stamp
            if cut is None and (is_timer_event(event) or (horizon is not None and t - t0 > horizon)):
                cut = len(states)
            states.append(dst)
            times.append(t)
            enter.append(stamp)
            leave.append(None)
        if not role.startswith("listener"):
            while states and states[0] == "LISTEN":  # the listener's state, not this connection's
                states.pop(0)
                times.pop(0)
                enter.pop(0)
                leave.pop(0)
                cut = None if cut is None else max(0, cut - 1)
        instant = frozenset(s for i, s in enumerate(states[:-1]) if enter[i] is not None and enter[i] == leave[i])
        out[role] = ModelPath(role, key[1], tuple(states), tuple(times), cut, instant)
    return out


#: The MTU of Linux's loopback interface (``ip link show lo``: ``mtu 65536``): MSS 65495.
LOOPBACK_MTU = 65536


def model_trace(
    name: str, *, profile: str = "linux", seed: int = 0, mtu: int | None = LOOPBACK_MTU, **params: object
) -> Trace:
    """Run the model scenario ``name`` (from :mod:`tcpkit.drivers.scenarios`) on loopback-MTU interfaces.

    The lab runs on ``lo``, so the model's hosts get its MTU (:data:`LOOPBACK_MTU`: MSS 65495,
    data in segments as large as the kernel's there); ``mtu=None`` keeps the profile's Ethernet 1500.

    Raises
    ------
    ImportError
        If :mod:`tcpkit.drivers.scenarios` is not available.
    tcpkit.engine.errors.TcpkitError
        If the scenario does not exist (the message lists those that do).
    """
    from tcpkit.drivers import scenarios  # lazily: the simulator is only needed for the comparison
    from tcpkit.drivers.sim import interface_mtu

    params = {**_LOOPBACK_PARAMS.get(name, {}), **params}
    with interface_mtu(mtu):
        trace: Trace = scenarios.run_scenario(name, seed=seed, profile=profile, **params)
    return trace
