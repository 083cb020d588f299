"""The checkers of the construction tasks, one per task: each runs the student's text on the engine.

Every checker returns a :class:`~tcpkit.lessons.construct.Verdict` that names
the first thing that is wrong: a packetdrill line and column, a Python line,
a state the engine did not reach, an invariant the run broke.  Tests feed each
one a wrong attempt and its model answer (``tcpkit/lessons/models/``).

Examples
--------
>>> v = CHECKERS["walk-path"]("path = [Event.ACTIVE_OPEN, Event.RCV_FIN]")
>>> print(v.message)
Step 2: in SYN_SENT the table has no row for rcv FIN. From SYN_SENT the events are: ...
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tcpkit.drivers.apps import Client, Server
from tcpkit.drivers.flood import simulate_flood
from tcpkit.drivers.packetdrill import run_text
from tcpkit.drivers.sim import Network
from tcpkit.engine.errors import IllegalTransition, KnobError, ParameterError, ScriptSyntaxError, TcpkitError
from tcpkit.engine.profiles import get_profile
from tcpkit.engine.states import Event, State, lookup, transitions_from
from tcpkit.engine.trace import Trace, TraceRecord

from . import demos
from .construct import CHECKERS, Verdict, checker, error_verdict, run_user_code

__all__ = ["CHECKERS", "FLOOD", "PORT_RUN", "DryLab"]


# ----------------------------------------------------------------------------------------------- 00
@checker("walk-path")
def walk_path(text: str) -> Verdict:
    """00: a client's whole life as a list of events, walked through the transition table from CLOSED."""
    ns, bad = run_user_code(text, {"Event": Event, "State": State})
    if bad is not None:
        return bad
    assert ns is not None
    path = ns.get("path")
    if not isinstance(path, list | tuple) or not path:
        return Verdict(False, "Define `path` as a list of events, e.g. path = [Event.ACTIVE_OPEN, ...].")
    state = State.CLOSED
    walked: list[str] = []
    for k, ev in enumerate(path, 1):
        if not isinstance(ev, Event):
            try:
                ev = Event(ev)
            except ValueError:
                return Verdict(False, f"Step {k}: {ev!r} is not an Event; write Event.NAME, e.g. Event.RCV_FIN.")
        try:
            row = lookup(state, ev)
        except IllegalTransition:
            allowed = ", ".join(sorted({t.event.value for t in transitions_from(state)}))
            return Verdict(
                False,
                f"Step {k}: in {state.value} the table has no row for {ev.value}. "
                f"From {state.value} the events are: {allowed}.",
                details="\n".join(walked),
            )
        walked.append(f"{state.value:>12} --{row.label}--> {row.dst.value}")
        state = row.dst
    visited = [line.split()[-1] for line in walked]
    if path[0] is not Event.ACTIVE_OPEN and path[0] != Event.ACTIVE_OPEN.value:
        return Verdict(False, "A client's life starts with connect(): Event.ACTIVE_OPEN.", details="\n".join(walked))
    if "ESTABLISHED" not in visited:
        return Verdict(
            False, "The path never reaches ESTABLISHED: the connection never opened.", details="\n".join(walked)
        )
    if state is not State.CLOSED:
        return Verdict(
            False,
            f"The path ends in {state.value}, but the connection is gone only in CLOSED.",
            details="\n".join(walked),
        )
    return Verdict(
        True,
        f"{len(path)} events take the client from CLOSED through ESTABLISHED back to CLOSED.",
        details="\n".join(walked),
    )


# ----------------------------------------------------------------------------------------------- packetdrill
def _run_script(text: str, profile: str = "linux") -> tuple[Verdict | None, Trace]:
    records: list[TraceRecord] = []
    try:
        result = run_text(text, profile=profile, path="<your script>", tracer=records.append)
    except ScriptSyntaxError as exc:
        return Verdict(
            False, f"Line {exc.line}, column {exc.column}: {exc.reason}.", line=exc.line, column=exc.column
        ), Trace(records)
    trace = Trace(records)
    if result.error is not None:
        return Verdict(False, f"The engine stopped: {result.error}"), trace
    if not result.passed:
        f = result.failure
        assert f is not None
        return Verdict(
            False,
            f"Line {f.line}: {f.what}: your script expects {f.expected}; the engine ({profile}) did {f.got}.",
            line=f.line,
        ), trace
    return None, trace


def _host_path(trace: Trace) -> list[State]:
    host = next((r.host for r in trace.state_changes()), None)
    return [s for _, s in trace.states(host)] if host else []


def _has_walk(path: list[State], walk: list[State]) -> bool:
    n = len(walk)
    return any(path[i : i + n] == walk for i in range(len(path) - n + 1))


def _asserts_state(text: str) -> bool:
    return "tcpi_state" in text


def _ladder(trace: Trace) -> Any:
    try:
        from tcpkit.viz.ladder import ladder_figure

        return ladder_figure(trace) if len(trace) else None
    except Exception:  # noqa: BLE001 - a picture is a bonus; the verdict does not depend on it
        return None


def _crossing_script(
    text: str, walk: list[State], end: State, not_crossed: str, wrong_end: str, no_assert: str
) -> tuple[Verdict | None, Trace, str]:
    """Run a crossing-segments script: the first thing wrong (or None), its trace, and the host's states shown.

    ``walk`` must appear in the host's states, which must end in ``end``; ``wrong_end`` is formatted with
    the state reached instead (``{state}``).
    """
    bad, trace = _run_script(text)
    if bad is not None:
        bad.figure = _ladder(trace)
        return bad, trace, ""
    path = _host_path(trace)
    shown = " -> ".join(s.value for s in path)
    details = f"host's states: {shown}"
    if not _has_walk(path, walk):
        return Verdict(False, not_crossed, details=details, figure=_ladder(trace)), trace, shown
    if path[-1] is not end:
        return (
            Verdict(False, wrong_end.format(state=path[-1].value), details=details, figure=_ladder(trace)),
            trace,
            shown,
        )
    if not _asserts_state(text):
        return Verdict(False, no_assert, details=details), trace, shown
    return None, trace, shown


@checker("simultaneous-open")
def simultaneous_open(text: str) -> Verdict:
    """01: a packetdrill script in which the host's SYN crosses the peer's SYN."""
    bad, trace, shown = _crossing_script(
        text,
        [State.SYN_SENT, State.SYN_RECEIVED],
        State.ESTABLISHED,
        "Your script passes, but the host never went from SYN_SENT to SYN_RECEIVED: that is not a simultaneous "
        "open. The peer's SYN (no ACK) must arrive while the host's own SYN is unanswered.",
        "The host ends in {state}: let the peer's SYN-ACK arrive so that the open completes.",
        "The script runs, but it never checks a state: add a line such as "
        "`+0 %{ assert tcpi_state == TCP_... }%` after the host's answer to the crossing SYN.",
    )
    if bad is not None:
        return bad
    return Verdict(
        True,
        "A simultaneous open: the engine (Linux) agrees with every line.",
        details=f"host's states: {shown}",
        figure=_ladder(trace),
    )


@checker("simultaneous-close")
def simultaneous_close(text: str) -> Verdict:
    """04: a packetdrill script in which the host's FIN crosses the peer's FIN; then the same on FreeBSD."""
    bad, trace, shown = _crossing_script(
        text,
        [State.FIN_WAIT_1, State.CLOSING],
        State.TIME_WAIT,
        "Your script passes, but the host never went from FIN_WAIT_1 to CLOSING: the peer's FIN must arrive "
        "before the peer has acknowledged the host's FIN (the two FINs cross).",
        "The host ends in {state}: let the peer's ACK of the host's FIN arrive.",
        "The script runs but never checks a state: assert the state after the host answers the crossing FIN.",
    )
    if bad is not None:
        return bad
    fb, _ = _run_script(text, "freebsd")
    on_bsd = (
        "It passes on FreeBSD too."
        if fb is None
        else f"On FreeBSD the same script stops: {fb.message} (FreeBSD resends its FIN with that ACK: "
        "tcp_outflags[TCPS_CLOSING] in sys/netinet/tcp_fsm.h.)"
    )
    return Verdict(
        True,
        "A simultaneous close: the engine (Linux) agrees with every line.",
        details=f"host's states: {shown}\n{on_bsd}",
        figure=_ladder(trace),
    )


# ----------------------------------------------------------------------------------------------- 02
_VICTIM = ("10.0.0.2", 513, "192.0.2.77", 1023)  # the server's side of the connection the attacker forges
_ATTACKER = ("10.0.0.2", 513, "203.0.113.66", 40000)  # the server's side of the attacker's honest connection
_SYN_AT = 1.0  # when the attacker sends the forged SYN ...
_ARRIVES = _SYN_AT + 0.01  # ... and when it reaches the server, which picks its ISN then (one link delay later)


def _load_isn(text: str) -> tuple[Callable[[float, Any], int] | None, Verdict | None]:
    ns, bad = run_user_code(text, {})
    if bad is not None:
        return None, bad
    assert ns is not None
    fn = ns.get("my_isn")
    if not callable(fn):
        return None, Verdict(False, "Define a function my_isn(now, conn) that returns the ISN (an int).")
    return fn, None


def _call_isn(fn: Callable[[float, Any], int], now: float, conn: Any) -> tuple[int | None, Verdict | None]:
    try:
        v = fn(now, conn)
    except Exception as exc:  # noqa: BLE001
        return None, error_verdict(exc, f"my_isn({now}, {conn})")
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < 2**32:
        return None, Verdict(False, f"my_isn({now}, {conn}) returned {v!r}: an ISN is an int from 0 to 2**32 - 1.")
    return v, None


def _forged_connection(fn: Callable[[float, Any], int], guesses: list[int]) -> bool:
    """Run the blind attack in the engine: spoofed SYN from the trusted host, then an ACK per guess."""
    from tcpkit.engine.segment import Flags, Segment

    net = Network(seed=3)
    s = net.add_host("server", "10.0.0.2", isn=fn)
    Server(s, 513, close="never").start()
    net.inject(
        _SYN_AT,
        "192.0.2.77",
        "10.0.0.2",
        Segment(src_port=1023, dst_port=513, seq=777000, flags=Flags.SYN, window=64240),
        who="attacker",
    )
    for k, g in enumerate(guesses):
        ack = Segment(src_port=1023, dst_port=513, seq=777001, ack=(g + 1) % 2**32, flags=Flags.ACK, window=64240)
        net.inject(1.2 + 0.01 * k, "192.0.2.77", "10.0.0.2", ack, who="attacker")
    net.run(until=3)
    return any(i.conn[2] == "192.0.2.77" and i.state is State.ESTABLISHED for i in s.stack.sockets())


@checker("keyed-isn")
def keyed_isn(text: str) -> Verdict:
    """02: an ISN generator M + F(4-tuple, secret) that defeats the prediction attack."""
    fn, bad = _load_isn(text)
    if bad is not None:
        return bad
    assert fn is not None
    values: dict[tuple[float, Any], int] = {}
    for now in (_ARRIVES, 1.5, 2.0):
        for conn in (_VICTIM, _ATTACKER):
            v, bad = _call_isn(fn, now, conn)
            if bad is not None:
                return bad
            assert v is not None
            values[now, conn] = v
    again, _ = _call_isn(fn, _ARRIVES, _VICTIM)
    if again != values[_ARRIVES, _VICTIM]:
        return Verdict(
            False,
            f"my_isn({_ARRIVES}, A) gave {values[_ARRIVES, _VICTIM]} and then {again}: the same time and 4-tuple "
            "must give the same ISN. F is a function of the 4-tuple and a secret chosen once, "
            "not a fresh random number per call (RFC 9293 §3.4.1).",
        )
    for a, b in ((_ARRIVES, 1.5), (1.5, 2.0)):
        step = (values[b, _VICTIM] - values[a, _VICTIM]) % 2**32
        if step == 0 or step >= 2**31:
            return Verdict(
                False,
                f"For one 4-tuple your ISN is {values[a, _VICTIM]} at {a} s and {values[b, _VICTIM]} at {b} s: it did "
                "not move forward. The M in M + F is a clock, so that a new incarnation starts ahead of the old one.",
            )
    # the attacker: two honest connections of its own, then the best of two guesses for the victim's 4-tuple
    rate = ((values[2.0, _ATTACKER] - values[1.5, _ATTACKER]) % 2**32) / (2.0 - 1.5)
    clock_guess = (values[1.5, _ATTACKER] + round(rate * (_ARRIVES - 1.5))) % 2**32
    guesses = [clock_guess]
    twin, bad = _load_isn(text)  # Kerckhoffs: the attacker runs your code too, on a machine of its own
    if bad is None and twin is not None:
        mine_then, _ = _call_isn(twin, 1.5, _ATTACKER)
        mine_victim, _ = _call_isn(twin, _ARRIVES, _VICTIM)
        if mine_then is not None and mine_victim is not None:
            guesses.append((values[1.5, _ATTACKER] + mine_victim - mine_then) % 2**32)
    actual = values[_ARRIVES, _VICTIM]
    misses = [min((actual - g) % 2**32, (g - actual) % 2**32) for g in guesses]
    forged = _forged_connection(fn, guesses)
    detail = (
        f"server's ISN for the forged 4-tuple: {actual}; attacker's guesses miss by "
        + ", ".join(f"{m:,}" for m in misses)
        + f"; forged connection ESTABLISHED: {forged}"
    )
    if forged or min(misses) < 2**16:
        why = (
            "extrapolating from its own connection (your offset does not depend on the 4-tuple)"
            if misses[0] < 2**16
            else "running your code on its own machine (your F has no secret chosen at boot)"
        )
        return Verdict(
            False,
            f"The attacker predicted your ISN by {why}, and the forged connection was "
            + ("accepted." if forged else "almost accepted."),
            details=detail,
        )
    return Verdict(True, "The attack fails: the attacker's guesses are no better than random.", details=detail)


# ----------------------------------------------------------------------------------------------- 03
_BURST_KNOBS = ("backlog", "somaxconn", "tcp_syncookies", "tcp_abort_on_overflow", "tcp_max_syn_backlog")


@checker("burst-backlog")
def burst_backlog(text: str) -> Verdict:
    """03: a listener that serves a burst of clients (:data:`~tcpkit.lessons.demos.BURST`) without a lost client."""
    ns, bad = run_user_code(text, {})
    if bad is not None:
        return bad
    assert ns is not None
    cfg = ns.get("listener")
    if not isinstance(cfg, dict) or not cfg:
        return Verdict(False, "Define `listener` as a dict of settings, e.g. listener = dict(backlog=128).")
    unknown = sorted(set(cfg) - set(_BURST_KNOBS))
    if unknown:
        return Verdict(False, f"{unknown[0]!r} is not a setting of this listener; use: {', '.join(_BURST_KNOBS)}.")
    try:
        r = demos.burst(cfg)
    except (KnobError, ParameterError) as exc:
        return Verdict(False, f"The engine refuses this configuration: {exc}")
    c = r.counters
    b = demos.BURST
    detail = (
        f"served by the application within {b['within']:g} s: {r.served} of {r.clients}; clients that believe they "
        f"are connected: {r.established}; reset: {r.reset}; SYN retransmissions: {r.syn_retransmits}\n"
        f"accept queue: peak {r.peak_accept_queue}, limit {r.accept_limit}; SYN queue: peak {r.peak_syn_queue}, "
        f"limit {r.syn_limit}; counters: " + ", ".join(f"{k}={v}" for k, v in sorted(c.items()))
    )
    if r.served == r.clients and not r.reset and not r.syn_retransmits:
        return Verdict(True, f"All {r.clients} clients were served within {b['within']:g} s.", details=detail)
    backlog = cfg.get("backlog", 128)
    if r.accept_limit < backlog:
        why = (
            f"listen({backlog}) got a backlog of only {r.accept_limit}: somaxconn caps it (min(backlog, somaxconn)), "
            f"and the accept queue overflowed"
        )
    elif r.reset:
        why = (
            f"{r.reset} clients were reset: tcp_abort_on_overflow = 1 answers a final ACK that meets a full accept "
            f"queue with an RST (ListenOverflows={c.get('ListenOverflows', 0)})"
        )
    elif c.get("ListenOverflows"):
        why = (
            f"the accept queue (limit {r.accept_limit}, so {r.accept_limit} + 1 fit) overflowed "
            f"{c['ListenOverflows']} times (ListenOverflows): those clients sent their final ACK and believe they are "
            "connected, but the server dropped it"
            + (
                "; their requests were SYN cookies (TCPReqQFullDoCookies), so the server kept nothing and never "
                "asks again"
                if c.get("TCPReqQFullDoCookies")
                else ""
            )
        )
    elif c.get("TCPReqQFullDrop") or r.syn_retransmits:
        why = (
            "the SYN queue (capped by the backlog) was full, so SYNs were dropped (TCPReqQFullDrop) and those clients "
            "waited 1 s to retransmit"
        )
    else:
        why = f"only {r.served} of {r.clients} clients were accepted in time"
    return Verdict(False, f"Not every client was served: {why}.", details=detail)


#: The flood every answer faces: 20 s of spoofed SYNs at 5000/s and 100 honest clients a second.
FLOOD: dict[str, Any] = {"duration": 20.0, "flood_rate": 5000.0, "legit_rate": 100.0, "rtt": 0.05}
_FLOOD_KNOBS = ("backlog", "tcp_syncookies", "tcp_synack_retries", "tcp_max_syn_backlog", "somaxconn")


@checker("flood-config")
def flood_config(text: str) -> Verdict:
    """03: a listener configuration that keeps at least 99 % of honest clients through a SYN flood."""
    ns, bad = run_user_code(text, {})
    if bad is not None:
        return bad
    assert ns is not None
    cfg = ns.get("listener")
    if not isinstance(cfg, dict) or not cfg:
        return Verdict(False, "Define `listener` as a dict of settings, e.g. listener = dict(backlog=128, ...).")
    unknown = sorted(set(cfg) - set(_FLOOD_KNOBS))
    if unknown:
        return Verdict(False, f"{unknown[0]!r} is not a setting of this listener; use: {', '.join(_FLOOD_KNOBS)}.")
    try:
        r = simulate_flood(**FLOOD, **cfg)
    except (KnobError, ParameterError) as exc:
        return Verdict(False, f"The engine refuses this configuration: {exc}")
    share = r.connected / r.attempts if r.attempts else 0.0
    c = r.counters
    detail = (
        f"honest clients: {r.connected} connected, {r.failed} gave up, {r.pending} still trying, of {r.attempts}\n"
        f"SYN queue at the end: {r.samples[-1][1]}; counters: "
        + ", ".join(f"{k}={v}" for k, v in c.items() if k in ("TCPReqQFullDrop", "ListenDrops", "SyncookiesSent"))
    )
    if share >= 0.99:
        return Verdict(True, f"{share:.1%} of honest clients connected through the flood.", details=detail)
    if c.get("TCPReqQFullDrop"):
        why = (
            "the SYN queue was full of spoofed requests, so honest SYNs were dropped (TCPReqQFullDrop) and each "
            "honest client waited for its own SYN retransmission"
        )
    elif c.get("ListenDrops"):
        why = (
            "SYNs were dropped at the listener (ListenDrops): with cookies off, a nearly full SYN queue "
            "refuses SYNs from unproven peers"
        )
    else:
        why = "honest clients did not get through in time"
    return Verdict(False, f"Only {share:.1%} of honest clients connected (you need 99 %): {why}.", details=detail)


# ----------------------------------------------------------------------------------------------- 05
#: The port-hungry client every answer faces: 20 ephemeral ports, 5 connects a second for 40 s, one server.
PORT_RUN = {"ports": 20, "rate": 5.0, "duration": 40.0, "low": 61000}
_FIXED_KNOBS = {
    "ip_local_port_range": "the firewall only allows ports 61000-61019 here: keep the range",
    "ip_local_port_low": "the firewall only allows ports 61000-61019 here: keep the range",
    "ip_local_port_high": "the firewall only allows ports 61000-61019 here: keep the range",
    "time_wait_len": "Linux has no sysctl for the length of TIME_WAIT (TCP_TIMEWAIT_LEN is a constant in "
    "include/net/tcp.h)",
}


def port_run(knobs: dict[str, Any], seed: int = 1) -> dict[str, Any]:
    """Run the port-hungry client of task 05 with ``knobs`` on its host; count connects and errors."""
    low = PORT_RUN["low"]
    client_knobs = {"ip_local_port_low": low, "ip_local_port_high": low + PORT_RUN["ports"] - 1, **knobs}
    net = Network(seed=seed, delay=0.005)
    c = net.add_host("client", "10.0.0.1", **client_knobs)
    s = net.add_host("server", "10.0.0.2")
    Server(s, 80, backlog=128).start()
    n = int(PORT_RUN["duration"] * PORT_RUN["rate"])
    apps = [Client(c, "10.0.0.2", 80, at=i / PORT_RUN["rate"], close="close").start() for i in range(n)]
    net.run(until=PORT_RUN["duration"] + 1)
    errors: dict[str, int] = {}
    for a in apps:
        if a.error:
            errors[a.error] = errors.get(a.error, 0) + 1
    return {"attempts": n, "connected": sum(1 for a in apps if a.connected_at is not None), "errors": errors}


@checker("port-knobs")
def port_knobs(text: str) -> Verdict:
    """05: client knobs that let every connect() of a port-hungry client succeed, without tcp_tw_recycle."""
    ns, bad = run_user_code(text, {})
    if bad is not None:
        return bad
    assert ns is not None
    knobs = ns.get("knobs")
    if not isinstance(knobs, dict):
        return Verdict(False, 'Define `knobs` as a dict of Linux sysctls, e.g. knobs = {"tcp_fin_timeout": 30}.')
    for k in knobs:
        if k in _FIXED_KNOBS:
            return Verdict(False, f"{k} cannot change here: {_FIXED_KNOBS[k]}.")
    try:
        get_profile("linux", **knobs)
    except TcpkitError as exc:
        return Verdict(False, f"Linux refuses this setting: {exc}")
    r = port_run(knobs)
    detail = f"{r['connected']}/{r['attempts']} connect() calls succeeded; errors: {r['errors'] or 'none'}"
    if r["connected"] == r["attempts"]:
        return Verdict(True, "Every connect() succeeds, and TIME_WAIT still protects each old 4-tuple.", details=detail)
    notes = []
    if "tcp_fin_timeout" in knobs:
        notes.append("tcp_fin_timeout only bounds an orphaned FIN_WAIT_2; it does not shorten TIME_WAIT")
    if knobs.get("tcp_tw_reuse") in (1, 2) and knobs.get("tcp_timestamps", 1) == 0:
        notes.append("tcp_tw_reuse needs TCP timestamps: with tcp_timestamps = 0 it cannot prove old segments harmless")
    if knobs.get("tcp_tw_reuse", 2) == 2:
        notes.append("tcp_tw_reuse = 2 (the default) reuses TIME_WAIT ports for loopback connections only")
    why = "; ".join(notes) if notes else "every one of the 20 ports is held by a TIME_WAIT socket for 60 s"
    return Verdict(
        False,
        f"{r['attempts'] - r['connected']} of {r['attempts']} connect() calls failed with EADDRNOTAVAIL: {why}.",
        details=detail,
    )


# ----------------------------------------------------------------------------------------------- 06
class DryLab:
    """Stands in for :class:`tcpkit.live.Lab` where there is no Linux ``/proc``: records the calls only.

    Sockets are small tokens; ``wait_state`` succeeds at once.  The order of
    the calls is what the checker can judge without a kernel.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._n = 0

    def _token(self, role: str) -> str:
        self._n += 1
        return f"<{role} socket {self._n}>"

    def listen(self, backlog: int = 8, role: str = "listener") -> tuple[str, int]:
        self.calls.append((role, "listen"))
        return self._token(role), 40000

    def connect(self, port: int, role: str = "client", **_: Any) -> str:
        self.calls.append((role, "connect"))
        return self._token(role)

    def accept(self, lsock: Any, role: str = "server") -> str:
        self.calls.append((role, "accept"))
        return self._token(role)

    def send(self, sock: Any, role: str, data: bytes) -> int:
        self.calls.append((role, "send"))
        return len(data)

    def recv(self, sock: Any, role: str, size: int = 65536) -> bytes:
        self.calls.append((role, "recv"))
        return b""

    def shutdown(self, sock: Any, role: str, how: int = 1) -> None:
        self.calls.append((role, "shutdown"))

    def close(self, sock: Any, role: str, *, abort: bool = False) -> None:
        self.calls.append((role, "abort" if abort else "close"))

    def wait_state(self, role: str, state: str, timeout: float | None = None) -> bool:
        State.parse(state, "state")
        self.calls.append((role, f"wait {state}"))
        return True

    def hold(self, seconds: float) -> None:
        self.calls.append(("-", "hold"))


def _first_close(calls: list[tuple[str, str]]) -> str | None:
    return next((role for role, call in calls if call in ("close", "shutdown", "abort")), None)


@checker("lab-server-first")
def lab_server_first(text: str, proc_root: str | Path = "/proc") -> Verdict:
    """06: a lab scenario in which the server closes first, run on this machine's kernel (or checked dry)."""
    ns, bad = run_user_code(text, {})
    if bad is not None:
        return bad
    assert ns is not None
    fn = ns.get("my_scenario")
    if not callable(fn):
        return Verdict(False, "Define a function my_scenario(lab) that opens, uses and closes labelled sockets.")
    dry = DryLab()
    try:
        fn(dry)
    except Exception as exc:  # noqa: BLE001
        return error_verdict(exc, "my_scenario")
    roles = {role for role, _ in dry.calls}
    if not {"client", "server"} <= roles:
        return Verdict(False, "Label the two ends `client` (lab.connect) and `server` (lab.accept).")
    first = _first_close(dry.calls)
    if first != "server":
        return Verdict(
            False,
            f"The first end to close is the {first or 'nobody'}: in this task the server closes first.",
        )
    from tcpkit.live import Script, load_recorded, run_one

    script = Script("open_close_server_first", "server closes first (yours)", "a scenario written in the notebook", fn)
    if not (Path(proc_root) / "net" / "tcp").exists():
        rec = load_recorded("open_close_server_first")
        return Verdict(
            True,
            "Your calls are in a working order. This system has no Linux /proc/net/tcp, so the kernel cannot be "
            f"watched here; recorded observations of the same scenario on {rec.system} follow.",
            details=rec.summary(),
        )
    res = run_one(script, proc_root=proc_root)
    if res.error is not None:
        return Verdict(False, f"On the real kernel your scenario stopped: {res.error}", details=res.summary())
    server, client = res.observed_path("server"), res.observed_path("client")
    detail = res.summary()
    if "TIME_WAIT" not in server:
        where = "the client" if "TIME_WAIT" in client else "nobody"
        return Verdict(
            False,
            f"The kernel shows {where} in TIME_WAIT and the server as {' -> '.join(server) or 'never seen'}: "
            "the active closer is the one that waits. Make the server close first and let the client answer.",
            details=detail,
        )
    if "CLOSE_WAIT" not in client:
        return Verdict(
            False,
            "The server reached TIME_WAIT but the client was never seen in CLOSE_WAIT: wait for CLOSE_WAIT "
            "(lab.wait_state('client', 'CLOSE_WAIT')) before the client closes, or the two FINs may cross.",
            details=detail,
        )
    head = f"On the real kernel ({res.system}) the server closed first and waited in TIME_WAIT."
    if res.verdict == "agree":
        return Verdict(True, head + " The model agrees.", details=detail)
    # a path that differs only in timing (e.g. FIN_WAIT_2 seen when a delayed ACK went alone) is explained
    # by the lab's own notes; the task's invariants above hold either way
    return Verdict(True, head + " Kernel and model differ: " + "; ".join(res.differences) + ".", details=detail)
