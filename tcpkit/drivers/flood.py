"""A SYN flood (SYN 洪泛攻击) against a Linux listener, fast enough for a slider.

:func:`simulate_flood` answers "what fraction of honest clients still get
in?" for a flood of spoofed SYNs.  It runs :class:`FloodModel`, which
follows the listener rules of the engine (:mod:`tcpkit.engine.listener`,
Linux ``tcp_conn_request``) but does not push 600,000 SYNs through an event
heap: spoofed SYNs arrive evenly spaced, so between two events that change
the queues their number is arithmetic and they are handled as one batch; the
requests in the SYN queue (半连接队列) fire their SYN-ACK timers in FIFO
order per retransmission stage; honest SYNs that the queues refuse are
counted a slice at a time.  :func:`simulate_flood_full` runs the same
situation through the general simulator (a real
:class:`~tcpkit.engine.listener.Listener`); on small cases both give identical
results (tested).  :func:`phase_map` sweeps flood rate x backlog for the lab.

The parameters of a run are one :class:`FloodParams` (validated, frozen);
every function here takes one, or the same fields as keywords plus the
profile's knobs.

Examples
--------
>>> r = simulate_flood(duration=10, flood_rate=1000, legit_rate=10, backlog=16, tcp_syncookies=0)
>>> r.attempts, r.connected < r.attempts
(100, True)
>>> with_cookies = simulate_flood(duration=10, flood_rate=1000, legit_rate=10, backlog=16, tcp_syncookies=1)
>>> with_cookies.success_rate
1.0
>>> p = FloodParams(duration=10, flood_rate=1000, legit_rate=10, backlog=16, knobs={"tcp_syncookies": 0})
>>> simulate_flood(p) == r
True
>>> simulate_flood(flood_rate=0)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter flood_rate = 0 is not allowed: expected a rate > 0 (SYNs per second)

Notes
-----
Linux rules followed (``net/ipv4/tcp_input.c`` ``tcp_conn_request``,
``include/net/inet_connection_sock.h``, ``include/net/sock.h``,
``net/ipv4/inet_connection_sock.c``), all through the functions of
:mod:`tcpkit.engine.listener`:

* the SYN queue is full only when it holds MORE than ``min(backlog,
  somaxconn)`` requests (``inet_csk_reqsk_queue_is_full``: ``qlen >
  sk_max_ack_backlog`` since Linux 6.13, commit 3479c7549fb1), so backlog + 1
  requests fit;
* when it is full, ``tcp_syncookies=1`` answers with a cookie (no state kept)
  and ``0`` drops the SYN (``TCPReqQFullDrop``); ``2`` always answers with a cookie;
* a SYN is dropped while the accept queue is full (``sk_acceptq_is_full``:
  more than ``backlog`` waiting), counted as ``ListenOverflows``;
* with cookies off, ``tcp_max_syn_backlog`` applies: a SYN is dropped once
  fewer than a quarter of it remains free (``max_syn_backlog - qlen <
  max_syn_backlog >> 2``) for peers not proven alive (``ListenDrops`` only);
* a request retransmits its SYN-ACK after 1, 2, 4, 8, 16 s and dies 32 s after
  the last one (``tcp_synack_retries`` = 5, ``reqsk_timer_handler``), unless
  the SYN queue is more than half full (``qlen << 1 > max(8, backlog)``):
  then the retry limit drops by one, down to 2, for every doubling of the
  number of requests that have not retransmitted yet that the queue length
  still reaches, so old requests die after 1 + 2 + 4 = 7 s ("reserve half of
  room for young embrions");
* honest clients retransmit their SYN on the Linux schedule of
  :func:`tcpkit.engine.timers.syn_timeout`; spoofed sources never answer;
* a final ACK (or a SYN-cookie ACK) that finds the accept queue full is
  counted as ``ListenOverflows`` and ``ListenDrops``
  (``tcp_v4_syn_recv_sock``, ``net/ipv4/tcp_ipv4.c``); ``tcp_check_req``
  (``net/ipv4/tcp_minisocks.c``) then, with ``tcp_abort_on_overflow = 0``,
  ignores it: the request stays in the SYN queue, its next SYN-ACK draws a
  duplicate ACK that may find room; with ``1`` it removes the request and
  resets the client.  A cookie ACK is dropped silently either way
  (``cookie_v4_check``), and the client, already ESTABLISHED, never knows.

Arrivals are evenly spaced (spoofed SYN ``i`` leaves at ``(i + 0.1) /
flood_rate``, honest client ``j`` at ``(j + 0.3) / legit_rate``) so runs are
exactly repeatable and the batching is exact.  By default the application
accepts every connection as soon as it is in the accept queue; with
``accept_rate`` it spends ``1 / accept_rate`` seconds on each connection it
accepts, then calls ``accept()`` again (taking a waiting one at once).
"""

from __future__ import annotations

from typing import Any

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.trace import Trace

from .flood_full import full_network
from .flood_map import PhaseMap, phase_map
from .flood_model import FloodModel
from .flood_params import LEGIT_PHASE, NSTAT_COUNTERS, SPOOF_PHASE, FloodParams, FloodResult
from .sim import Network

__all__ = [
    "FloodParams",
    "FloodResult",
    "FloodModel",
    "PhaseMap",
    "simulate_flood",
    "simulate_flood_full",
    "flood_network",
    "phase_map",
    "SPOOF_PHASE",
    "LEGIT_PHASE",
    "NSTAT_COUNTERS",
]

#: The smaller defaults of :func:`simulate_flood_full` (every SYN is an event there).
FULL_DEFAULTS: dict[str, Any] = {"duration": 5.0, "flood_rate": 100.0, "legit_rate": 10.0, "backlog": 8}


def _params(params: FloodParams | None, kwargs: dict[str, Any], defaults: dict[str, Any] | None = None) -> FloodParams:
    if params is None:
        return FloodParams.from_kwargs(**{**(defaults or {}), **kwargs})
    if not isinstance(params, FloodParams):
        raise ParameterError("params", params, "a FloodParams, or the parameters as keywords")
    return params.replace(**kwargs) if kwargs else params


def simulate_flood(params: FloodParams | None = None, /, **kwargs: Any) -> FloodResult:
    """Simulate a spoofed SYN flood plus honest clients against one Linux listener.

    Parameters
    ----------
    params : FloodParams, optional
        The run; keywords given as well change it.
    **kwargs
        The fields of :class:`FloodParams` -- ``duration`` (60 s), ``flood_rate``
        (10,000 SYN/s), ``legit_rate`` (100 connects/s), ``backlog`` (128), ``rtt``
        (0.05 s), ``sample_interval`` (0.5 s), ``accept_rate`` (inf: at once),
        ``profile`` ("linux") -- and knobs of the profile (``tcp_syncookies``,
        ``tcp_synack_retries``, ``tcp_max_syn_backlog``, ``somaxconn``,
        ``tcp_abort_on_overflow``, ...).

    Returns
    -------
    FloodResult

    Raises
    ------
    ParameterError
        A rate, time or backlog out of range, or a profile that is not Linux.
    KnobError
        An unknown knob or a value it does not allow.

    Examples
    --------
    >>> r = simulate_flood(duration=5, flood_rate=2000, legit_rate=20, backlog=64, tcp_syncookies=0)
    >>> r.samples[-1][1]  # the SYN queue is full of spoofed requests (backlog + 1 of them)
    65
    >>> r.counters["TCPReqQFullDrop"] > 0
    True

    A slow application (5 ``accept()`` calls per second) fills the accept
    queue (全连接队列); clients whose final ACK finds it full believe they
    are connected, and with ``tcp_abort_on_overflow = 1`` they are reset:

    >>> kw = dict(duration=10, flood_rate=1, legit_rate=40, backlog=4, rtt=0.3, accept_rate=5, tcp_syncookies=0)
    >>> [(r.connected, r.accepted, r.reset) for r in (simulate_flood(**kw, tcp_abort_on_overflow=a) for a in (0, 1))]
    [(55, 48, 0), (99, 48, 44)]
    """
    return FloodModel(_params(params, kwargs)).run()


def flood_network(params: FloodParams | None = None, /, *, seed: int = 0, **kwargs: Any) -> tuple[FloodResult, Network]:
    """:func:`simulate_flood_full`, returning the :class:`~tcpkit.drivers.sim.Network` instead of its trace."""
    return full_network(_params(params, kwargs, FULL_DEFAULTS), seed=seed)


def simulate_flood_full(
    params: FloodParams | None = None, /, *, seed: int = 0, **kwargs: Any
) -> tuple[FloodResult, Trace]:
    """The same flood through the general simulator: a real listener, real client stacks.

    Takes what :func:`simulate_flood` takes (with smaller defaults: 5 s, 100 SYN/s,
    10 connects/s, backlog 8) and a ``seed`` for the spoofed SYNs' ports and
    sequence numbers.  Returns ``(FloodResult, Trace)``.  Slow (every SYN is an
    event); meant for small cases, the scenario catalogue and checking
    :func:`simulate_flood`.

    Examples
    --------
    >>> full, trace = simulate_flood_full(duration=2, flood_rate=20, legit_rate=2, backlog=4, tcp_syncookies=0)
    >>> fast = simulate_flood(duration=2, flood_rate=20, legit_rate=2, backlog=4, tcp_syncookies=0)
    >>> (full.connected, full.samples, full.clients) == (fast.connected, fast.samples, fast.clients)
    True
    """
    res, net = full_network(_params(params, kwargs, FULL_DEFAULTS), seed=seed)
    return res, net.trace()
