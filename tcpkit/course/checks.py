"""Helpers the homework tests call: they turn a student's answer into a verdict by running tcpkit.

Tests (public ones in the student's notebook, hidden ones in the scoring
process) should not compare against pasted numbers when tcpkit can compute
the truth: these helpers look states up in the transition table, check
sequence numbers with :mod:`tcpkit.engine.seqnum`, run packetdrill scripts on the
engine and run the SYN-flood model.

Examples
--------
>>> from tcpkit.engine.states import State
>>> same_state("time-wait", State.TIME_WAIT), same_state("TIME_WAIT", State.CLOSED)
(True, False)
>>> same_flags("S.", "SYN-ACK"), same_flags(".S", "S."), same_flags("F.", "S.")
(True, True, False)
>>> follow(State.FIN_WAIT_1, ["rcv FIN", "rcv ACK of FIN"])
[<State.CLOSING: 'CLOSING'>, <State.TIME_WAIT: 'TIME_WAIT'>]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.segment import Flags, Segment, parse_flags, parse_segment
from tcpkit.engine.seqnum import seq_add, seq_gt
from tcpkit.engine.states import Event, State, lookup
from tcpkit.engine.trace import StateChanged

__all__ = [
    "answered",
    "as_state",
    "same_state",
    "as_flags",
    "same_flags",
    "follow",
    "close_to",
    "exchange_in_order",
    "simultaneous_close_result",
    "flood_success",
    "time_wait_after_rst",
]

_FLAG_WORDS = {"SYN": Flags.SYN, "ACK": Flags.ACK, "FIN": Flags.FIN, "RST": Flags.RST, "PSH": Flags.PSH}


def answered(value: Any) -> bool:
    """False while ``value`` (or anything inside a list, tuple or dict) is still the ``...`` placeholder.

    >>> answered({"a": 1, "b": [2, 3]}), answered({"a": ...}), answered(...)
    (True, False, False)
    """
    from .codec import TooLarge, Unsendable

    if value is ... or isinstance(value, Unsendable | TooLarge):
        return False
    if type(value) in (list, tuple):
        return all(answered(v) for v in value)
    if type(value) is dict:
        return all(answered(v) for v in value.values())
    return True


def as_state(answer: Any) -> State | None:
    """A state from a :class:`State` or a name in any common spelling; None if it is not one.

    >>> as_state("syn-received"), as_state("SYN_RECV"), as_state(42)
    (<State.SYN_RECEIVED: 'SYN_RECEIVED'>, <State.SYN_RECEIVED: 'SYN_RECEIVED'>, None)
    """
    if type(answer) is not State and type(answer) is not str:  # exact types: no str subclasses from students
        return None
    try:
        return State.parse(answer)
    except ParameterError:
        return None


def same_state(answer: Any, expected: State) -> bool:
    """Whether ``answer`` names ``expected``."""
    return as_state(answer) is expected


def as_flags(answer: Any) -> Flags | None:
    """Flags from tcpdump letters (``"S."``) or words (``"SYN-ACK"``, ``"FIN+ACK"``); None if neither.

    >>> as_flags("FIN+ACK") == Flags.FIN | Flags.ACK, as_flags("Q")
    (True, None)
    """
    if type(answer) is not str:
        return None
    text = answer.strip()
    try:
        return parse_flags(text)
    except ValueError:
        pass
    flags = Flags(0)
    for word in text.upper().replace("+", "-").replace("/", "-").replace(",", "-").split("-"):
        if word.strip() not in _FLAG_WORDS:
            return None
        flags |= _FLAG_WORDS[word.strip()]
    return flags


def same_flags(answer: Any, expected: str | Flags) -> bool:
    """Whether ``answer`` gives the same set of flags as ``expected`` (letter order does not matter)."""
    want = expected if isinstance(expected, Flags) else as_flags(expected)
    got = as_flags(answer)
    return got is not None and got == want


def follow(start: State, events: Sequence[str | Event], condition: str = "") -> list[State]:
    """The states the transition table goes through from ``start`` on ``events`` (event values or members).

    Raises
    ------
    IllegalTransition
        If an event is not allowed in the state reached so far.
    """
    out = []
    state = start
    for ev in events:
        event = ev if isinstance(ev, Event) else Event(ev)
        state = lookup(state, event, condition).dst
        out.append(state)
    return out


def close_to(answer: Any, expected: float, *, rel: float = 1e-3, abs_tol: float = 1e-9) -> bool:
    """Whether ``answer`` is a number within ``rel`` (relative) of ``expected``.

    >>> close_to(470.53, 28232 / 60), close_to("470", 470), close_to(True, 1)
    (True, False, False)
    """
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        return False
    return abs(answer - expected) <= max(rel * abs(expected), abs_tol)


def exchange_in_order(
    order: Any, segments: Mapping[str, str], sender: Mapping[str, str], start: Mapping[str, int] | None = None
) -> bool:
    """Whether ``order`` (a list of labels) puts the segments of one connection in a possible order.

    ``segments`` maps a label to a segment in tcpdump notation with absolute
    numbers; ``sender`` maps each label to the side that sent it (``"a"`` or
    ``"b"``); ``start`` gives each side's next sequence number when the
    exchange starts mid-connection (omit it for a handshake: then each side
    must begin with a SYN).  The order is possible when every label appears
    once, each side's segments use consecutive sequence numbers (RFC 9293
    §3.4), and no acknowledgment covers sequence space the other side has
    not sent yet.

    >>> segs = {"x": "S 100:100(0)", "y": "S. 300:300(0) ack 101", "z": ". 101:101(0) ack 301"}
    >>> side = {"x": "a", "y": "b", "z": "a"}
    >>> exchange_in_order(["x", "y", "z"], segs, side), exchange_in_order(["y", "x", "z"], segs, side)
    (True, False)
    """
    if type(order) not in (list, tuple) or len(order) != len(segments):
        return False
    if not all(type(x) is str for x in order) or sorted(order) != sorted(segments):
        return False
    parsed: dict[str, Segment] = {k: parse_segment(v) for k, v in segments.items()}
    next_seq: dict[str, int | None] = {"a": None, "b": None, **(start or {})}
    for label in order:
        seg = parsed[label]
        side = sender[label]
        other = "b" if side == "a" else "a"
        expected = next_seq[side]
        if expected is None:
            if not seg.syn:
                return False
        elif seg.seq != expected:
            return False
        if seg.has_ack:
            end = next_seq[other]
            if end is None or seq_gt(seg.ack, end):
                return False
        next_seq[side] = seq_add(seg.seq, seg.seg_len)
    return True


def simultaneous_close_result(script: Any) -> tuple[bool, str]:
    """Run a packetdrill script on the engine; ``(True, "")`` when it passes *and* goes through CLOSING.

    The script must pass (every ``>`` line matched) and the engine's trace
    must show FIN_WAIT_1 -> CLOSING and CLOSING -> TIME_WAIT: a simultaneous
    close (RFC 9293 §3.6 case 3, Figure 13).
    """
    from tcpkit.drivers.packetdrill import run_text
    from tcpkit.engine.errors import TcpkitError

    if type(script) is not str or not script.strip():
        return False, "the answer must be the script as a non-empty string"
    records: list[Any] = []
    try:
        result = run_text(script, tracer=records.append)
    except TcpkitError as exc:
        return False, f"the script does not parse: {exc}"
    if not result.passed:
        return False, result.summary()
    edges = {(r.src.value, r.dst.value) for r in records if isinstance(r, StateChanged)}
    for edge in (("FIN_WAIT_1", "CLOSING"), ("CLOSING", "TIME_WAIT")):
        if edge not in edges:
            return False, f"the script passes but the engine never went {edge[0]} -> {edge[1]}"
    return True, ""


_TIME_WAIT_THEN_RST = """
0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0  bind(3, ..., ...) = 0
+0  listen(3, 1) = 0
+0  < S 0:0(0) win 65535 <mss 1000>
+0  > S. 0:0(0) ack 1 <...>
+.1 < . 1:1(0) ack 1 win 65535
+0  accept(3, ..., ...) = 4
+0  close(4) = 0
+0  > F. 1:1(0) ack 1 <...>
+.1 < . 1:1(0) ack 2 win 65535
+0  < F. 1:1(0) ack 2 win 65535
+0  > . 2:2(0) ack 2 <...>
+1  < R. 2:2(0) ack 2 win 0
"""


def time_wait_after_rst(rfc1337: int) -> State:
    """Run the engine into TIME_WAIT, send it an RST, and return the state it ends in.

    ``rfc1337`` is Linux's ``tcp_rfc1337`` knob (0 or 1).

    >>> time_wait_after_rst(0), time_wait_after_rst(1)
    (<State.CLOSED: 'CLOSED'>, <State.TIME_WAIT: 'TIME_WAIT'>)

    Notes
    -----
    RFC 1337 (TIME-WAIT assassination hazards); Linux
    ``net/ipv4/tcp_minisocks.c`` ``tcp_timewait_state_process()`` and
    ``Documentation/networking/ip-sysctl.rst`` (``tcp_rfc1337``).
    """
    from tcpkit.drivers.packetdrill import run_text
    from tcpkit.engine.profiles import get_profile

    records: list[Any] = []
    result = run_text(_TIME_WAIT_THEN_RST, profile=get_profile("linux", tcp_rfc1337=rfc1337), tracer=records.append)
    if not result.passed:  # pragma: no cover - the engine itself broke
        raise AssertionError(result.summary())
    states = [r.dst for r in records if isinstance(r, StateChanged) and r.host == "local"]
    return states[-1]


#: The flood of homework 3: spoofed and honest SYN rates, seconds.
FLOOD: dict[str, float] = {"duration": 20.0, "flood_rate": 5000.0, "legit_rate": 50.0}


def flood_success(backlog: Any, knobs: Any, **forced: Any) -> float:
    """Honest clients' success rate in the homework's SYN flood with the student's backlog and knobs.

    ``forced`` knobs override the student's (e.g. ``tcp_syncookies=0``).
    Returns 0.0 for answers of the wrong type; bad knob values raise
    :class:`~tcpkit.engine.errors.KnobError` (the message says what is allowed).

    >>> flood_success(128, {}, tcp_syncookies=1) > 0.99
    True
    >>> flood_success(128, {"rtt": 0.001, "tcp_syncookies": 1})     # not a knob
    0.0
    """
    from tcpkit.drivers.flood import simulate_flood
    from tcpkit.engine.profiles import get_profile

    if type(backlog) is not int or type(knobs) is not dict or not all(type(k) is str for k in knobs):
        return 0.0
    allowed = set(get_profile("linux"))
    if not set(knobs) <= allowed:
        return 0.0  # only knobs: not the flood itself (duration, rates), the rtt or the profile
    merged = {**knobs, **forced}
    run = simulate_flood(
        duration=FLOOD["duration"],
        flood_rate=FLOOD["flood_rate"],
        legit_rate=FLOOD["legit_rate"],
        backlog=backlog,
        **merged,
    )
    return run.success_rate
