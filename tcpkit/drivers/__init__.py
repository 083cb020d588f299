"""Drivers: what runs the engine.

A driver owns the clock and the randomness and feeds the engine: the event-loop
simulator (``sim``) with its links (``links``) and applications (``apps``),
the named scenarios (``scenarios``), the SYN-flood fast path (``flood``), and
the packetdrill runner (``pktscript`` parses, ``pktcode`` reads the ``%{ }%``
blocks, ``packetdrill`` runs).

>>> from tcpkit.drivers import run_scenario
>>> run_scenario("open_close_client_first", seed=1).final_state("client")
<State.CLOSED: 'CLOSED'>
"""

from __future__ import annotations

from .apps import Client, Server
from .flood import FloodResult, simulate_flood, simulate_flood_full
from .links import BlackHole, DropFlags, DropIf, DropNth, Link, Nat
from .packetdrill import ScriptResult, run_file, run_script, run_text
from .scenarios import SCENARIOS, Scenario, list_scenarios, run_scenario
from .sim import Host, Network, Simulator, Socket

__all__ = [
    "BlackHole",
    "Client",
    "DropFlags",
    "DropIf",
    "DropNth",
    "FloodResult",
    "Host",
    "Link",
    "Nat",
    "Network",
    "SCENARIOS",
    "Scenario",
    "ScriptResult",
    "Server",
    "Simulator",
    "Socket",
    "list_scenarios",
    "run_file",
    "run_scenario",
    "run_script",
    "run_text",
    "simulate_flood",
    "simulate_flood_full",
]
