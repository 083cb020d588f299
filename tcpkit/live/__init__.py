"""The real-kernel lab (真实内核实验): check the model against the machine you sit at.

``tcpkit.live`` plays small TCP scenarios with real sockets on 127.0.0.1 (no
root needed), watches every socket's state by polling ``/proc/net/tcp`` and
``/proc/net/tcp6`` about once a millisecond, and puts the states the kernel
went through next to the states tcpkit's ``linux`` profile predicts for the
same scenario, with a verdict per socket role.

Scenarios (same names as in :mod:`tcpkit.drivers.scenarios`):
``open_close_client_first`` (alias ``client_closes_first``),
``open_close_server_first`` (alias ``server_closes_first``),
``close_wait_leak``, ``connection_refused``,
``abort_rst``, ``half_close``, ``accept_queue_overflow``; as root, with
``root_extras``, also ``synack_retransmit`` in a private network namespace.

This package is the one place in tcpkit that reads a clock
(``time.monotonic``): real sockets live in real time.  Every scenario is
bounded (well under 2 s); kernel timers such as TIME_WAIT's 60 s are not sat
out, only observed to start.

Modules
-------
procnet : parse ``/proc/net/tcp{,6}``.
watch : the polling thread.
lab : sockets with labels, waits and guaranteed clean-up.
scripts : the scenarios, played with real sockets.
model : per-role state paths from a model trace.
compare : the verdict, allowing for states polling cannot see.
run : run scenarios, results, recorded fallback.
extras : optional root-only extras (loopback capture).
netns : a private network namespace that drops pure ACKs (root only).
diag : a listener's Recv-Q and Send-Q over ``inet_diag`` netlink (what ``ss`` shows).

Examples
--------
>>> from tcpkit.live import run_live
>>> results = run_live(["connection_refused"])    # doctest: +SKIP
>>> print(results[0].summary())                    # doctest: +SKIP
connection_refused: AGREE  [real sockets on this machine (Linux 6.8.0)]
  client: agree (not observed (too short to poll): SYN_SENT)
"""

from __future__ import annotations

from .compare import RoleVerdict, compare_paths
from .lab import Lab
from .procnet import ProcSocket, parse_proc_net_tcp, read_proc_net_tcp
from .run import SHORT_STATE_NOTE, LiveResult, load_recorded, run_live, run_one
from .scripts import ALIASES, SCRIPTS, Script
from .watch import SHORT_STATES, Observation, Watcher

__all__ = [
    "ALIASES",
    "SHORT_STATE_NOTE",
    "Lab",
    "LiveResult",
    "Observation",
    "ProcSocket",
    "RoleVerdict",
    "SCRIPTS",
    "SHORT_STATES",
    "Script",
    "Watcher",
    "compare_paths",
    "load_recorded",
    "parse_proc_net_tcp",
    "read_proc_net_tcp",
    "run_live",
    "run_one",
]
