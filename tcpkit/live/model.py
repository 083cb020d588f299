"""What tcpkit's model predicts for a lab scenario: per-role state paths from a Trace.

Examples
--------
>>> from tcpkit.engine.states import Event as E, State as S, lookup
>>> from tcpkit.engine.trace import StateChanged, Trace
>>> c = ("10.0.0.1", 40000, "10.0.0.2", 80)
>>> def st(t, src, ev):
...     return StateChanged(time=t, host="client", conn=c, row=lookup(src, ev))
>>> tr = Trace([st(0, S.CLOSED, E.ACTIVE_OPEN), st(0.1, S.SYN_SENT, E.RCV_SYN_ACK),
...             st(1, S.ESTABLISHED, E.CLOSE), st(1.1, S.FIN_WAIT_1, E.RCV_FIN_ACK),
...             st(61.1, S.TIME_WAIT, E.TIMEOUT_2MSL)])
>>> p = role_paths(tr)["client"]
>>> p.states, p.not_waited_from
(('SYN_SENT', 'ESTABLISHED', 'FIN_WAIT_1', 'TIME_WAIT', 'CLOSED'), 4)
"""

from __future__ import annotations

from dataclasses import dataclass

from tcpkit.engine.states import Event
from tcpkit.engine.trace import ConnId, Trace

__all__ = ["ModelPath", "role_paths", "is_timer_event", "model_trace"]


_WILDCARD = ("", "*", "0.0.0.0", "::")

#: Model parameters that give a scenario loopback-like timing (the lab runs on loopback).
_LOOPBACK_PARAMS: dict[str, dict[str, object]] = {"accept_queue_overflow": {"delay": 0.00005}}


@dataclass(frozen=True, slots=True)
class ModelPath:
    """One socket's path in the model.

    ``not_waited_from`` is the index of the first state reached through a
    timer (or after ``horizon`` seconds); the lab does not wait for those.
    """

    role: str
    conn: ConnId | None
    states: tuple[str, ...]
    times: tuple[float, ...]
    not_waited_from: int | None = None


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
    for r in trace.state_changes():
        groups.setdefault((r.host, r.conn), []).append((r.time, r.src.value, r.dst.value, r.event))
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
        cut: int | None = None
        first_src = recs[0][1]
        if first_src not in ("CLOSED", "?"):
            states.append(first_src)
            times.append(recs[0][0])
        for t, _src, dst, event in recs:
            if states and states[-1] == dst:
                continue
            if cut is None and (is_timer_event(event) or (horizon is not None and t - t0 > horizon)):
                cut = len(states)
            states.append(dst)
            times.append(t)
        if not role.startswith("listener"):
            while states and states[0] == "LISTEN":  # the listener's state, not this connection's
                states.pop(0)
                times.pop(0)
                cut = None if cut is None else max(0, cut - 1)
        out[role] = ModelPath(role, key[1], tuple(states), tuple(times), cut)
    return out


def model_trace(name: str, *, profile: str = "linux", seed: int = 0, **params: object) -> Trace:
    """Run the model scenario ``name`` (from :mod:`tcpkit.drivers.scenarios`).

    Raises
    ------
    ImportError
        If :mod:`tcpkit.drivers.scenarios` is not available.
    tcpkit.engine.errors.TcpkitError
        If the scenario does not exist (the message lists those that do).
    """
    from tcpkit.drivers import scenarios  # lazily: the simulator is only needed for the comparison

    params = {**_LOOPBACK_PARAMS.get(name, {}), **params}
    trace: Trace = scenarios.run_scenario(name, seed=seed, profile=profile, **params)
    return trace
