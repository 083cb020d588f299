"""A private network namespace for lab scenarios that must lose packets (root only).

:func:`private_netns` creates ``tcpkit-lab-<pid>`` with nothing but its own
loopback, optionally installs a traffic-control rule that drops every *pure
ACK* (TCP flags byte exactly ``0x10``) on that loopback, and always deletes
the namespace again.  The machine's own interfaces and firewall are never
touched.  :func:`run_in_netns` runs one lab scenario inside it, in a child
Python process (``ip netns exec``), and returns the child's JSON result.

Examples
--------
>>> why = netns_unavailable()
>>> why is None or why.startswith(("not root", "the 'ip' tool", "the 'tc' tool"))
True

Notes
-----
The drop uses ``tc`` because it needs no firewall tools: an HTB root qdisc,
a ``u32`` filter matching IP protocol 6 and the TCP flags byte (offset 33 of
the IP packet when the IP header has 20 bytes) equal to ``0x10``, and a leaf
``pfifo`` of length 0 that drops everything classified into it.  With the
client's final handshake ACK lost, the listener keeps the connection request
in SYN_RECEIVED and resends its SYN-ACK after ``TCP_TIMEOUT_INIT`` (1 s),
doubling each time up to ``tcp_synack_retries`` (``inet_rtx_syn_ack()`` and
``reqsk_timer_handler()`` in ``net/ipv4/inet_connection_sock.c``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tcpkit.engine.errors import TraceFormatError

__all__ = ["netns_unavailable", "private_netns", "run_in_netns", "DROP_PURE_ACKS"]

#: ``tc`` commands (after ``tc``) that make ``lo`` drop pure ACKs.
DROP_PURE_ACKS: tuple[tuple[str, ...], ...] = (
    ("qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "10"),
    ("class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit"),
    ("class", "add", "dev", "lo", "parent", "1:", "classid", "1:20", "htb", "rate", "10gbit"),
    ("qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:", "pfifo", "limit", "0"),
    (
        "filter",
        "add",
        "dev",
        "lo",
        "parent",
        "1:",
        "protocol",
        "ip",
        "prio",
        "1",
        "u32",
        "match",
        "ip",
        "protocol",
        "6",
        "0xff",
        "match",
        "u8",
        "0x10",
        "0xff",
        "at",
        "33",
        "flowid",
        "1:20",
    ),
)


def netns_unavailable() -> str | None:
    """Why a private namespace cannot be made here, or None if it can."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not root: creating a network namespace needs CAP_SYS_ADMIN"
    if shutil.which("ip") is None:
        return "the 'ip' tool (iproute2) is not installed"
    if shutil.which("tc") is None:
        return "the 'tc' tool (iproute2) is not installed"
    return None


def _run(*cmd: str, timeout: float = 5.0) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise OSError(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout).strip()}")


@contextlib.contextmanager
def private_netns(*, drop_pure_acks: bool = False, name: str | None = None) -> Iterator[str]:
    """Create a namespace with only ``lo`` (up), yield its name, delete it afterwards.

    Raises
    ------
    OSError
        If not root, a tool is missing, or a command fails (the namespace is
        removed before the error propagates).
    """
    why = netns_unavailable()
    if why:
        raise OSError(why)
    ns = name or f"tcpkit-lab-{os.getpid()}"
    _run("ip", "netns", "add", ns)
    try:
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        if drop_pure_acks:
            for args in DROP_PURE_ACKS:
                _run("ip", "netns", "exec", ns, "tc", *args)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10, check=False)


def run_in_netns(scenario: str, *, drop_pure_acks: bool = True, timeout: float = 15.0) -> dict[str, Any]:
    """Run lab scenario ``scenario`` inside a fresh private namespace; return its JSON result.

    The child is ``python -m tcpkit live SCENARIO --json --no-model --here``
    started with ``ip netns exec``; it is killed if it runs past ``timeout``.
    """
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p))
    with private_netns(drop_pure_acks=drop_pure_acks) as ns:
        proc = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                ns,
                sys.executable,
                "-m",
                "tcpkit",
                "live",
                scenario,
                "--json",
                "--no-model",
                "--here",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    try:
        doc = json.loads(proc.stdout)
        result: dict[str, Any] = doc["results"][0]
    except (json.JSONDecodeError, KeyError, IndexError):
        raise TraceFormatError(
            f"the lab in namespace {ns} gave no result: {proc.stderr.strip()[-500:] or proc.stdout[-500:]}"
        ) from None
    return result
