"""Run packetdrill scripts against the tcpkit engine on a virtual clock (虚拟时钟), as ``tcpkit pkt``.

A script (read by :mod:`tcpkit.drivers.pktscript`) describes one host under test.
The runner plays the script's *remote* side and its *application*: it injects
each ``<`` segment at its time, makes each system call, fires the engine's
timers as virtual time passes, and compares every segment the engine sends
with the next ``>`` line.  The first difference ends the run, as in
packetdrill.

Examples
--------
>>> result = run_text('''
... 0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
... +0  bind(3, ..., ...) = 0
... +0  listen(3, 1) = 0
... +0  < S 0:0(0) win 65535 <mss 1000>
... +0  > S. 0:0(0) ack 1 <...>
... +.1 < . 1:1(0) ack 1 win 65535
... +0  accept(3, ..., ...) = 4
... +0  %{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%
... ''', profile="linux")
>>> result.passed, result.checks
(True, 6)
>>> bad = run_text('''
... 0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
... +0  bind(3, ..., ...) = 0
... +0  listen(3, 1) = 0
... +0  < S 0:0(0) win 65535 <mss 1000>
... +0  > S 0:0(0) <...>
... ''', profile="linux")
>>> bad.passed, bad.failure.line, bad.failure.what
(False, 6, 'outbound packet: flags differ')
>>> run_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\\n+0 bind(3, ..., ...) = 0").error
'<string>:1:1: the script checks nothing: ...'

Notes
-----
Conventions follow packetdrill (google/packetdrill ``gtests/net/packetdrill``,
``run_packet.c`` and ``syntax.md``): inbound sequence numbers are the remote
side's own (its ISN is 0 as written) and inbound ``ack`` numbers are relative
to the host's ISN; outbound ``seq`` is relative to the host's ISN, learnt from
the first SYN it sends.  ``+t`` is relative to the previous event (for an
outbound packet, to the time it was really sent), a blocking call
``+a...b`` starts at ``prev + a`` and must return at ``prev + b``, and times
match within ``--tolerance_usecs`` (default 4 ms).  The remote address is
192.0.2.1 and the local one 192.168.0.1, the addresses packetdrill uses; a
``bind(..., ...)`` binds port 8080 and a ``connect(..., ...)`` goes to port
8080 of the remote address (a ``sockaddr`` argument may name other ports).

``%{ }%`` blocks read ``tcp_info`` of the last socket the script created or
accepted (packetdrill's "socket under test", ``code.c``); the fields the
engine has are mapped from its connection (see :func:`tcp_info_fields`), and
a statement that reads any other field is skipped with that field named.
A script that checks nothing (no ``>`` packet, no assert, no system call whose
result shows the engine's behaviour, no ``sockstat`` count) is refused.
"""

from __future__ import annotations

import ast
import copy
import math
import re
import shlex
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tcpkit.engine.errors import (
    KnobError,
    ParameterError,
    RemovedKnobError,
    ScriptSyntaxError,
    TcpError,
    TcpkitError,
)
from tcpkit.engine.profiles import Profile, get_profile
from tcpkit.engine.segment import Eol, Nop, Segment, Timestamp, format_flags
from tcpkit.engine.seqnum import seq_add, seq_sub
from tcpkit.engine.states import State
from tcpkit.engine.timers import rto_backoff, syn_timeout, synack_timeout
from tcpkit.engine.trace import Tracer

from .pktcode import (
    CONSTANTS,
    FREEBSD_STATE_CODES,
    FREEBSD_TCP_INFO_FIELDS,
    LINUX_TCP_INFO_FIELDS,
    TCP_INFO_FIELDS,
    Namespace,
    StateCode,
    Statement,
    Unmodelled,
    display,
    run_statement,
)
from .pktscript import (
    ERRNO_TEXT,
    AssertStep,
    BitOr,
    Bracket,
    Call,
    CommandStep,
    Ellipsis_,
    Name,
    PacketStep,
    Script,
    Step,
    Struct,
    SyscallStep,
    load_script,
    parse_script,
)

__all__ = [
    "LOCAL_ADDR",
    "REMOTE_ADDR",
    "DEFAULT_TOLERANCE",
    "MAX_TOLERANCE_MS",
    "MAX_NOTES",
    "Failure",
    "ScriptResult",
    "run_script",
    "run_text",
    "run_file",
    "state_constant",
    "tcp_info_fields",
]

LOCAL_ADDR = "192.168.0.1"
REMOTE_ADDR = "192.0.2.1"
#: The port ``bind(fd, ..., ...)`` binds and ``connect(fd, ..., ...)`` connects to.
SCRIPT_PORT = 8080
#: The remote port of connections the script opens towards a listening socket.
REMOTE_PORT = 45000
#: packetdrill's default tolerance (``--tolerance_usecs=4000``).
DEFAULT_TOLERANCE = 0.004
#: The largest ``tolerance_ms`` accepted (1000 s, as ``--tolerance_usecs``).
MAX_TOLERANCE_MS = 1_000_000.0
#: How far the runner lets virtual time run when a ``>`` line says ``*`` (any time).
ANY_TIME_LIMIT = 600.0
#: At most this many notes are kept per script; the rest are counted in a last note.
MAX_NOTES = 100

#: ``fcntl`` flag values: (O_RDWR, O_NONBLOCK) of Linux (asm-generic/fcntl.h) and FreeBSD (sys/fcntl.h).
_O_FLAGS = {"linux": (0x2, 0x800), "freebsd": (0x2, 0x4), "rfc9293": (0x2, 0x800)}

#: ``poll`` event bits (include/uapi/asm-generic/poll.h).
_POLL_BITS = {
    "POLLIN": 0x1,
    "POLLPRI": 0x2,
    "POLLOUT": 0x4,
    "POLLERR": 0x8,
    "POLLHUP": 0x10,
    "POLLNVAL": 0x20,
    "POLLRDNORM": 0x40,
    "POLLRDBAND": 0x80,
    "POLLWRNORM": 0x100,
    "POLLWRBAND": 0x200,
    "POLLRDHUP": 0x2000,
}
#: Engine readiness -> poll bits: tcp_poll() sets POLLIN with POLLRDNORM and POLLOUT with POLLWRNORM
#: (net/ipv4/tcp.c); POLLERR and POLLHUP are reported even when not asked for (poll(2)).
_READY_BITS = {"in": 0x1 | 0x40, "out": 0x4 | 0x100, "err": 0x8, "hup": 0x10, "rdhup": 0x2000}
_ALWAYS = 0x8 | 0x10

#: Calls with a flags word (``MSG_DONTWAIT``...) -> its argument index.
_FLAG_ARG = {"recv": 3, "recvfrom": 3, "send": 3, "sendto": 3, "recvmsg": 2, "sendmsg": 2}
_READS = ("read", "readv", "recv", "recvfrom", "recvmsg")
_WRITES = ("write", "writev", "send", "sendto", "sendmsg")

#: Header options (``--name=value``) the runner uses; the others are reported as ignored.
_USED_OPTIONS = frozenset({"tolerance_usecs", "ip_version", "mtu"})

#: Errno spellings that name the same error (equal numbers on Linux).
_ERRNO_ALIAS = {"EWOULDBLOCK": "EAGAIN", "EDEADLOCK": "EDEADLK", "ENOTSUP": "EOPNOTSUPP"}

#: Options that only pad the option list.
_PADDING = (Nop, Eol)

#: System calls that only set things up: a script made of these (and inbound packets) checks nothing.
_SETUP_CALLS = frozenset({"socket", "bind", "listen", "setsockopt"})

#: ``tcpi_state`` constants (Linux ``TCP_*`` from include/net/tcp_states.h, FreeBSD ``TCPS_*``
#: from sys/netinet/tcp_fsm.h, and the ``TCPI_*`` spelling of the FreeBSD test suite).
_STATE_ALIASES = {
    "SYN_RECV": State.SYN_RECEIVED,
    "SYN_RCVD": State.SYN_RECEIVED,
    "NEW_SYN_RECV": State.SYN_RECEIVED,
    "FIN_WAIT1": State.FIN_WAIT_1,
    "FIN_WAIT2": State.FIN_WAIT_2,
    "CLOSE": State.CLOSED,
}

#: Linux TCP_INFINITE_SSTHRESH (include/net/tcp.h), reported while ssthresh is still "infinite".
_LINUX_INFINITE_SSTHRESH = 0x7FFFFFFF
#: FreeBSD's initial ssthresh, TCP_MAXWIN << TCP_MAX_WINSHIFT (sys/netinet/tcp_subr.c tcp_newtcpcb).
_FREEBSD_INFINITE_SSTHRESH = 65535 << 14
#: The engine's "infinite" initial ssthresh (Connection.__init__).
_ENGINE_INFINITE_SSTHRESH = 1 << 30


def state_constant(name: str) -> State | None:
    """The state a ``TCP_*``/``TCPI_*``/``TCPS_*`` constant (or a sockstat word) names.

    >>> state_constant("TCP_SYN_RECV"), state_constant("TCPI_TIME_WAIT"), state_constant("SYN_RCVD")
    (<State.SYN_RECEIVED: 'SYN_RECEIVED'>, <State.TIME_WAIT: 'TIME_WAIT'>, <State.SYN_RECEIVED: 'SYN_RECEIVED'>)
    >>> state_constant("TCP_BOGUS") is None
    True
    """
    word = re.sub(r"^(TCPI_|TCPS_|TCP_)", "", name)
    if word in _STATE_ALIASES:
        return _STATE_ALIASES[word]
    try:
        return State(word)
    except ValueError:
        return None


def _errno_text(name: str | None) -> str:
    if name is None:
        return ""
    text = ERRNO_TEXT.get(name)
    return f"-1 {name} ({text})" if text else f"-1 {name}"


def tcp_info_fields(stack: Any, fd: int, profile: str) -> dict[str, Any]:
    """``tcp_info`` of engine socket ``fd`` as the OS of ``profile`` reports it, field by field.

    Fields the engine does not have are :class:`~tcpkit.drivers.pktcode.Unmodelled` with the reason.

    Examples
    --------
    >>> from tcpkit.engine.stack import Stack
    >>> st = Stack(profile="linux"); fd = st.socket(0.0)
    >>> info = tcp_info_fields(st, fd, "linux")
    >>> info["tcpi_state"], info["tcpi_snd_cwnd"]
    (7 (CLOSED), Unmodelled(reason='tcpi_snd_cwnd: not modelled for a socket without a connection'))

    Notes
    -----
    Linux fills ``struct tcp_info`` in ``tcp_get_info()`` (net/ipv4/tcp.c): ``tcpi_rto``,
    ``tcpi_rtt`` and ``tcpi_rttvar`` in microseconds, ``tcpi_snd_cwnd`` and
    ``tcpi_snd_ssthresh`` in segments, ``tcpi_backoff`` the RTO doubling count.  FreeBSD
    fills it in ``tcp_fill_info()`` (sys/netinet/tcp_usrreq.c): cwnd and ssthresh in
    bytes, ``tcpi_rcv_mss = tcpi_snd_mss = t_maxseg``, and ``tcpi_snd_nxt``,
    ``tcpi_rcv_nxt``, ``tcpi_rcv_space`` (the receive window), ``tcpi_snd_wnd``.
    """
    freebsd = profile == "freebsd"
    os_fields = FREEBSD_TCP_INFO_FIELDS if freebsd else LINUX_TCP_INFO_FIELDS
    os_name = "FreeBSD" if freebsd else "Linux"
    out: dict[str, Any] = {}
    for f in TCP_INFO_FIELDS:
        if f not in os_fields:
            out[f] = Unmodelled(f"{f} is not in {os_name}'s tcp_info (profile {profile})")
        else:
            out[f] = Unmodelled(f"{f} is not modelled by the engine")
    state = stack.state(fd)
    out["tcpi_state"] = StateCode(FREEBSD_STATE_CODES[state] if freebsd else state.linux_code, state)
    conn = stack.connection(fd)
    if conn is None:
        for f in os_fields:
            if f != "tcpi_state":
                out[f] = Unmodelled(f"{f}: not modelled for a socket without a connection")
        return out
    p = conn.params
    if state is State.SYN_SENT:
        rto = syn_timeout(p, conn.retransmits)
    elif state is State.SYN_RECEIVED:
        rto = synack_timeout(p, conn.retransmits)
    else:
        rto = rto_backoff(conn.rtt.rto, conn.retransmits, p)
    opts = (1 if conn.ts_ok else 0) | (2 if conn.sack_ok else 0) | (4 if conn.ws_ok else 0)
    srtt = conn.rtt.srtt
    smss = conn.smss
    infinite = conn.cc.ssthresh >= _ENGINE_INFINITE_SSTHRESH
    common: dict[str, Any] = {
        "tcpi_options": opts,
        "tcpi_snd_wscale": conn.snd_wscale if conn.ws_ok else 0,
        "tcpi_rcv_wscale": conn.rcv_wscale if conn.ws_ok else 0,
        "tcpi_rto": round(rto * 1e6),
        "tcpi_rtt": 0 if srtt is None else round(srtt * 1e6),
        "tcpi_rttvar": (
            Unmodelled("tcpi_rttvar before the first RTT sample is not modelled")
            if srtt is None
            else round(conn.rtt.rttvar * 1e6)
        ),
        "tcpi_snd_mss": smss,
        "tcpi_snd_wnd": conn.snd_wnd,
    }
    if freebsd:
        common.update(
            {
                "tcpi_rcv_mss": smss,
                "tcpi_snd_cwnd": conn.cc.cwnd,
                "tcpi_snd_ssthresh": _FREEBSD_INFINITE_SSTHRESH if infinite else conn.cc.ssthresh,
                "tcpi_rcv_space": conn.rcv_space(),
                "tcpi_snd_nxt": conn.snd_nxt,
                "tcpi_rcv_nxt": conn.rcv_nxt,
            }
        )
    else:
        common.update(
            {
                "tcpi_retransmits": conn.retransmits,
                "tcpi_backoff": conn.retransmits,
                "tcpi_probes": conn.keep.probes + conn.rexmit.persist_probes,
                "tcpi_advmss": conn.opts.our_mss,
                "tcpi_snd_cwnd": conn.cc.cwnd // max(1, smss),
                "tcpi_snd_ssthresh": _LINUX_INFINITE_SSTHRESH if infinite else conn.cc.ssthresh // max(1, smss),
            }
        )
    out.update(common)
    return out


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a script failed: the line, what it expected and what the engine did."""

    line: int
    text: str
    what: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.what}: expected {self.expected}; engine: {self.got}  [{self.text}]"


@dataclass(slots=True)
class ScriptResult:
    """The outcome of one script.

    ``checks`` counts comparisons that held; ``skipped`` lists checks not made
    because the engine does not model the detail (with what was expected);
    ``ignored`` lists shell commands, sysctls and header options the runner
    does not use; ``branch`` names the ``#ifdef`` branch taken; ``notes`` says
    anything else worth knowing (packets no line expected, defaults.sh applied,
    ``print`` output of ``%{ }%`` blocks).  ``error`` is set, as one
    ``path:line:column: reason`` line, when the script could not be run at all
    (a syntax error, a script that checks nothing, an engine exception).
    """

    path: str
    profile: str
    passed: bool = False
    failure: Failure | None = None
    error: str | None = None
    checks: int = 0
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    branch: str | None = None

    def summary(self) -> str:
        """The one-line report of ``tcpkit pkt``."""
        extra = f"{self.checks} checks, {len(self.skipped)} skipped"
        if self.ignored:
            extra += f", {len(self.ignored)} ignored"
        if self.branch:
            extra += f", #ifdef {self.branch}"
        if self.error is not None:
            return f"FAIL {self.error}" if self.error.startswith(self.path) else f"FAIL {self.path}: {self.error}"
        if self.passed:
            return f"PASS {self.path} ({extra})"
        assert self.failure is not None
        f = self.failure
        return (
            f"FAIL {self.path}:{f.line}: {f.what}: expected {f.expected}; engine: {f.got} | script: {f.text} ({extra})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        d = asdict(self)
        d["status"] = "PASS" if self.passed else "FAIL"
        return d


class _Fail(Exception):
    def __init__(self, step: Step, what: str, expected: str, got: str, line: int | None = None) -> None:
        super().__init__(what)
        text = re.sub(r"\s*\n\s*", " ", step.text)  # a block or call over several lines is reported on one
        self.failure = Failure(step.line if line is None else line, text, what, expected, got)


class _Refuse(Exception):
    """The script cannot be run as a test: ``path:line:col: reason``."""


@dataclass(slots=True)
class _Pending:
    """A blocking call waiting for the engine."""

    step: SyscallStep
    fd: int
    started: float
    due: float  # when the script says it returns
    written: int = 0  # write/send: bytes accepted so far
    deadline: float | None = None  # poll: when its timeout ends the wait


# --------------------------------------------------------------------------- the runner


def _fmt_t(t: float) -> str:
    return f"{t:.3f} s"


def _is_check(step: Step) -> bool:
    """Whether a step compares something the engine did (the rest only sets things up)."""
    if isinstance(step, PacketStep):
        return step.direction == ">"
    if isinstance(step, AssertStep):
        return step.code.checks > 0
    if isinstance(step, SyscallStep):
        if step.name in _SETUP_CALLS:
            return False
        return not (step.name == "fcntl" and len(step.args) > 1 and str(step.args[1]) == "F_SETFL")
    if isinstance(step, CommandStep):
        return any(part.strip().split()[:1] == ["sockstat"] for part in re.split(r"\n|;|&&", step.command))
    return False


class _Runner:
    def __init__(
        self, script: Script, profile: Profile, tolerance: float, result: ScriptResult, tracer: Tracer | None = None
    ) -> None:
        self.script = script
        self.tracer = tracer
        self.profile = profile
        self.tol = tolerance
        self.res = result
        self.stack: Any = None
        self.now = 0.0
        # (serial, time sent, segment): what the engine sent that no > line has taken yet
        self.outq: deque[tuple[int, float, Segment]] = deque()
        self.serial = 0
        self.noted_upto = 0  # outq serials below this were already reported in a note
        self.fds: dict[int, int] = {}
        self.nonblock: set[int] = set()
        self.pending: list[_Pending] = []
        self.iss: int | None = None
        self.local_port = SCRIPT_PORT
        self.remote_port = REMOTE_PORT
        self.connecting = False
        self.last_fd: int | None = None
        self.defines = {"FreeBSD"} if profile.name == "freebsd" else {"STANDARD"}
        self.base_dir = Path(script.path).parent if script.path != "<string>" else Path(".")
        self.current: Step | None = None
        self.env = Namespace()
        self.dropped_notes = 0
        self.observed = 0  # checks made by checking steps (not the results of socket/bind/listen...)

    def note(self, text: str) -> None:
        if len(self.res.notes) < MAX_NOTES:
            self.res.notes.append(text)
        else:
            self.dropped_notes += 1

    # -- plumbing ------------------------------------------------------------------
    def _ensure_stack(self) -> Any:
        if self.stack is None:
            from tcpkit.engine.stack import Stack

            self.stack = Stack(name="local", addr=LOCAL_ADDR, profile=self.profile, seed=1, tracer=self.tracer)
        return self.stack

    def _drain(self) -> None:
        if self.stack is None:
            return
        for dg in self.stack.take_outgoing():
            seg = dg.segment
            if self.iss is None and seg.syn:
                self.iss = seg.seq
            if self.connecting and seg.syn and not seg.has_ack:
                self.local_port = seg.src_port
            self.outq.append((self.serial, self.now, seg))
            self.serial += 1

    def _next_wake(self, limit: float) -> float | None:
        """The next time something happens on its own: an engine timer or the end of a poll() timeout."""
        d = self.stack.next_deadline()
        for p in self.pending:
            if p.deadline is not None and (d is None or p.deadline < d):
                d = p.deadline
        return None if d is None or d > limit else d

    def _advance(self, t: float) -> None:
        """Let virtual time run to ``t``, firing the engine's timers on the way."""
        if self.stack is not None:
            for _ in range(100000):
                d = self._next_wake(t)
                if d is None:
                    break
                self.now = max(self.now, d)
                self.stack.handle_timer(self.now)
                self._drain()
                self._poll_pending()
            else:
                raise TcpkitError(f"the engine's timers did not settle before {_fmt_t(t)}")
        self.now = max(self.now, t)

    def _rel(self, seg: Segment) -> str:
        """An engine segment in the script's notation (relative numbers)."""
        return seg.notation(relative_to=(self.iss or 0, 0))

    # -- main loop -----------------------------------------------------------------
    def run(self) -> None:
        steps = [s for s in self.script.steps if s.active(self.defines)]
        if self.script.ifdefs:
            taken = sorted(set(self.script.ifdefs) & self.defines) or ["none"]
            self.res.branch = ", ".join(taken)
            self.note(
                f"#ifdef branches for profile {self.profile.name}: {', '.join(taken)} defined "
                f"({', '.join(sorted(set(self.script.ifdefs) - self.defines)) or 'nothing'} left out)"
            )
        if self.script.ip_version == "ipv6":
            raise _Refuse(
                f"{self.script.path}:1:1: --ip_version=ipv6 is not modelled: the engine runs IPv4, and an IPv6 "
                "header changes the MSS (allowed: ipv4, ipv4-mapped-ipv6)"
            )
        if self.script.ip_version == "ipv4-mapped-ipv6":
            self.note("--ip_version=ipv4-mapped-ipv6: the packets on the wire are IPv4, so the script runs as IPv4")
        if not any(_is_check(s) for s in steps):
            where = f"{steps[0].line}:{steps[0].column}" if steps else "1:1"
            raise _Refuse(
                f"{self.script.path}:{where}: the script checks nothing: none of its {len(steps)} steps for profile "
                f"{self.profile.name} compares what the engine does (allowed checks: a > packet, a %{{ assert }}%, "
                "a system call other than socket/bind/listen/setsockopt/fcntl F_SETFL, a sockstat count)"
            )
        for name, value in self.script.options.items():
            if name not in _USED_OPTIONS:
                self.res.ignored.append(f"header option --{name}{'=' + value if value else ''}")
        if "mtu" in self.script.options:
            # --mtu: the tun device's MTU, which the engine models as the profile's interface MTU
            self.profile = self.profile.set(mtu=self.script.options["mtu"])
        prev = 0.0
        for step in steps:
            self.current = step
            lo, hi = step.time.window(prev)
            if isinstance(step, PacketStep) and step.direction == ">":
                prev = self._outbound(step, lo, hi)
                continue
            t = self.now if step.time.kind == "any" else lo
            if isinstance(step, CommandStep) and self.stack is None:
                self._command(step)
                prev = t
                continue
            self._ensure_stack()
            self._advance(t)
            if isinstance(step, PacketStep):
                self._inbound(step)
            elif isinstance(step, SyscallStep):
                self._syscall(step, prev)
            elif isinstance(step, AssertStep):
                self._code(step)
            elif isinstance(step, CommandStep):
                self._command(step)
            self._drain()
            self._poll_pending()
            prev = t
        # calls still blocked: give them until their return time
        for p in list(self.pending):
            self._advance(p.due + self.tol)
            if p in self.pending:
                raise _Fail(
                    p.step,
                    f"{p.step.name}() never returned",
                    f"return at {_fmt_t(p.due)}",
                    f"still blocked at {_fmt_t(self.now)}",
                )
        for _, t, seg in self.outq:
            self.note(f"after the last line: the engine sent {self._rel(seg)!r} at {_fmt_t(t)} that no > line expected")
        if self.dropped_notes:
            self.res.notes.append(f"... and {self.dropped_notes} more notes (at most {MAX_NOTES} are kept)")
        if self.observed == 0:
            raise _Refuse(
                f"{self.script.path}:1:1: no check was made: every check of the script was skipped "
                f"({len(self.res.skipped)} skipped: the engine does not model what they compare)"
            )

    # -- packets -------------------------------------------------------------------
    def _inbound(self, step: PacketStep) -> None:
        # Report, once each, the packets the engine sent that no > line has taken yet.  Only the
        # packets queued since the last report are looked at, so this is linear in the script.
        for serial, t, seg in reversed(self.outq):
            if serial < self.noted_upto:
                break
            self.note(
                f"line {step.line}: before this inbound packet the engine sent {self._rel(seg)!r} at {_fmt_t(t)} "
                "that no > line has taken yet"
            )
        self.noted_upto = self.serial
        if step.ecn is not None:
            self.res.skipped.append(f"line {step.line}: IP ECN mark [{step.ecn}] not modelled (the packet is sent)")
        s = step.segment
        ack = seq_add(self.iss or 0, s.ack) if (s.has_ack or step.ack_given) else 0
        seg = s.replace(
            src_port=self.remote_port,
            dst_port=self.local_port,
            ack=ack,
            window=s.window if s.window is not None else 65535,
            options=s.options if s.options is not None else (),
        )
        self.stack.segment_arrives(self.now, REMOTE_ADDR, LOCAL_ADDR, seg)

    def _outbound(self, step: PacketStep, lo: float, hi: float) -> float:
        self._ensure_stack()
        exp = step.segment
        latest = (self.now + ANY_TIME_LIMIT) if step.time.kind == "any" else hi + self.tol
        if not self.outq:
            self._advance_until_packet(latest)
        if not self.outq:
            nxt = self.stack.next_deadline()
            more = f" (next engine timer at {_fmt_t(nxt)})" if nxt is not None else ""
            raise _Fail(
                step,
                "outbound packet missing",
                f"{exp.notation()!r} at {self._window_text(step, lo, hi)}",
                f"sent nothing by {_fmt_t(self.now)}{more}",
            )
        _, t, seg = self.outq.popleft()
        got = self._rel(seg)
        if seg.flags != exp.flags:
            raise _Fail(
                step,
                "outbound packet: flags differ",
                f"{format_flags(exp.flags)} ({exp.notation()!r})",
                f"{format_flags(seg.flags)} ({got!r} at {_fmt_t(t)})",
            )
        if not step.seq_any:
            rel_seq = seq_sub(seg.seq, self.iss or 0)
            if rel_seq != exp.seq:
                raise _Fail(
                    step,
                    "outbound packet: seq differs",
                    f"seq {exp.seq} ({exp.notation()!r})",
                    f"seq {rel_seq} ({got!r})",
                )
        if seg.length != exp.length:
            raise _Fail(
                step,
                "outbound packet: payload length differs",
                f"{exp.length} bytes ({exp.notation()!r})",
                f"{seg.length} bytes ({got!r})",
            )
        if exp.has_ack and seg.ack != exp.ack:
            raise _Fail(
                step, "outbound packet: ack differs", f"ack {exp.ack} ({exp.notation()!r})", f"ack {seg.ack} ({got!r})"
            )
        if exp.window is not None and seg.window is not None and seg.window != exp.window:
            raise _Fail(
                step,
                "outbound packet: window differs",
                f"win {exp.window} ({exp.notation()!r})",
                f"win {seg.window} ({got!r})",
            )
        if exp.options is not None:
            self._check_options(step, seg, got)
        if step.time.kind != "any" and not (lo - self.tol <= t <= hi + self.tol):
            raise _Fail(
                step,
                "outbound packet at the wrong time",
                self._window_text(step, lo, hi),
                f"sent {got!r} at {_fmt_t(t)} ({(t - lo) * 1000:+.1f} ms)",
            )
        if step.ecn is not None:
            self.res.skipped.append(f"line {step.line}: IP ECN mark [{step.ecn}] not modelled (not compared)")
        self.res.checks += 1
        self.observed += 1
        return t

    def _window_text(self, step: Step, lo: float, hi: float) -> str:
        if step.time.kind == "any":
            return "any time"
        if hi > lo:
            return f"{_fmt_t(lo)} to {_fmt_t(hi)} (tolerance {self.tol * 1000:g} ms)"
        return f"{_fmt_t(lo)} (tolerance {self.tol * 1000:g} ms)"

    def _advance_until_packet(self, latest: float) -> None:
        for _ in range(100000):
            d = self._next_wake(latest)
            if d is None or self.outq:
                break
            self.now = max(self.now, d)
            self.stack.handle_timer(self.now)
            self._drain()
            self._poll_pending()
        if not self.outq and latest != float("inf"):
            self.now = max(self.now, min(latest, self.now + ANY_TIME_LIMIT))

    def _check_options(self, step: PacketStep, seg: Segment, got: str) -> None:
        exp = step.segment.options or ()
        have = seg.options or ()

        def meaning(opts: Sequence[Any]) -> list[Any]:
            return sorted(repr(o) for o in opts if not isinstance(o, _PADDING))

        # The timestamp value is the host's clock: not checked.  The echo is.
        exp_ts = next((o for o in exp if isinstance(o, Timestamp)), None)
        have_n = tuple(Timestamp(exp_ts.val, o.ecr) if isinstance(o, Timestamp) and exp_ts else o for o in have)
        if meaning(exp) != meaning(have_n):
            raise _Fail(
                step,
                "outbound packet: options differ",
                "<" + ",".join(str(o) for o in exp) + ">",
                "<" + ",".join(str(o) for o in have) + f"> ({got!r})",
            )
        if tuple(exp) != have_n:
            self.res.skipped.append(
                f"line {step.line}: option layout (order and nop/eol padding) not modelled: "
                f"expected <{','.join(str(o) for o in exp)}>, engine <{','.join(str(o) for o in have)}>"
            )

    # -- system calls ----------------------------------------------------------------
    def _fd(self, step: SyscallStep, i: int = 0) -> int:
        if len(step.args) <= i or not isinstance(step.args[i], int) or isinstance(step.args[i], bool):
            raise _Fail(
                step,
                f"{step.name}() needs a file descriptor",
                "a number such as 3",
                f"{step.args[i] if len(step.args) > i else 'nothing'}",
            )
        sfd = step.args[i]
        assert isinstance(sfd, int)
        return sfd

    def _engine_fd(self, step: SyscallStep, sfd: int) -> int:
        if sfd not in self.fds:
            raise _Fail(
                step,
                f"{step.name}() on an unknown file descriptor",
                f"one of {sorted(self.fds) or 'none'}",
                f"fd {sfd}",
            )
        return self.fds[sfd]

    def _syscall(self, step: SyscallStep, prev: float) -> None:
        due = (step.end if step.time.kind == "absolute" else prev + step.end) if step.end is not None else self.now
        name = step.name
        if name == "socket":
            fd = self.stack.socket(self.now)
            if step.result is not None and step.result >= 0:
                self.fds[step.result] = fd
                self.last_fd = step.result
                if len(step.args) > 1 and "SOCK_NONBLOCK" in _names(step.args[1]):
                    self.nonblock.add(step.result)
                    if hasattr(self.stack, "set_nonblocking"):
                        self.stack.set_nonblocking(fd, True)
            self._result(step, step.result if step.result is not None else 0, None, self.now, due)
            return
        if name == "poll":
            self._poll_call(step, due)
            return
        sfd = self._fd(step)
        efd = self._engine_fd(step, sfd)
        if name in ("accept", "connect", *_READS, *_WRITES):
            self._blocking(step, sfd, efd, due)
            return
        value, err = self._immediate(step, sfd, efd)
        self._result(step, value, err, self.now, due)

    def _call(self, fn: Callable[[], Any]) -> tuple[Any, str | None]:
        try:
            return fn(), None
        except TcpError as exc:
            return None, _ERRNO_ALIAS.get(exc.errno_name, exc.errno_name)

    def _sockaddr(self, step: SyscallStep, arg: Any, want_addr: str) -> int | None:
        """The port of a ``{sa_family=AF_INET, sin_port=htons(N), sin_addr=inet_addr("...")}`` argument."""
        if not isinstance(arg, Struct):
            return None
        port = arg.get("sin_port", "sin6_port")
        addr = arg.get("sin_addr", "sin6_addr")
        family = arg.get("sa_family", "sin_family", "sin6_family")
        if family is not None and str(family) not in ("AF_INET", "AF_INET6"):
            raise _Fail(step, f"{step.name}() address family not modelled", "AF_INET or AF_INET6", str(family))
        if isinstance(addr, Call):
            if addr.value not in (want_addr, "0.0.0.0"):
                self.res.skipped.append(
                    f"line {step.line}: address {addr.value} not modelled: the model's "
                    f"{'remote' if want_addr == REMOTE_ADDR else 'local'} address is {want_addr}"
                )
        elif addr is not None and str(addr) not in ("INADDR_ANY", "in6addr_any", "..."):
            raise _Fail(step, f"{step.name}() address", 'inet_addr("a.b.c.d") or INADDR_ANY', str(addr))
        if isinstance(port, Call):
            value = port.value
            return value if isinstance(value, int) else None
        if isinstance(port, int):
            return port
        if port is None or isinstance(port, Ellipsis_):
            return None
        raise _Fail(step, f"{step.name}() port", "htons(N) or a number", str(port))

    def _immediate(self, step: SyscallStep, sfd: int, efd: int) -> tuple[int, str | None]:
        st, now, name, a = self.stack, self.now, step.name, step.args
        if name == "bind":
            port = self._sockaddr(step, a[1] if len(a) > 1 else None, LOCAL_ADDR)
            port = SCRIPT_PORT if port is None else port
            v, err = self._call(lambda: st.bind(now, efd, port))
            if err is None:
                self.local_port, self.remote_port = port, REMOTE_PORT
            return 0, err
        if name == "listen":
            backlog = a[1] if len(a) > 1 else 1
            if not isinstance(backlog, int):
                raise _Fail(step, "listen() needs a backlog", "a number such as 1", str(backlog))
            return 0, self._call(lambda: st.listen(now, efd, backlog=backlog))[1]
        if name == "close":
            v, err = self._call(lambda: st.close(now, efd))
            if err is None:
                del self.fds[sfd]
                self.nonblock.discard(sfd)
            return 0, err
        if name == "shutdown":
            how = str(a[1]) if len(a) > 1 else "?"
            return 0, self._call(lambda: st.shutdown(now, efd, how))[1]
        if name == "fcntl":
            return self._fcntl(step, sfd)
        if name in ("setsockopt", "getsockopt"):
            return self._sockopt(step, efd)
        raise _Fail(step, "unsupported system call", "a call the runner knows", name)

    def _fcntl(self, step: SyscallStep, sfd: int) -> tuple[int, str | None]:
        rdwr, nonblock = _O_FLAGS.get(self.profile.name, _O_FLAGS["linux"])
        a = step.args
        cmd = str(a[1]) if len(a) > 1 else ""
        if cmd == "F_GETFL":
            return rdwr | (nonblock if sfd in self.nonblock else 0), None
        if cmd == "F_SETFL":
            names = _names(a[2]) if len(a) > 2 else set()
            if "O_NONBLOCK" in names or (len(a) > 2 and isinstance(a[2], int) and a[2] & nonblock):
                self.nonblock.add(sfd)
            else:
                self.nonblock.discard(sfd)
            if hasattr(self.stack, "set_nonblocking"):
                self.stack.set_nonblocking(self.fds[sfd], sfd in self.nonblock)
            return 0, None
        raise _Fail(step, "unsupported fcntl command", "F_GETFL or F_SETFL", cmd)

    def _sockopt(self, step: SyscallStep, efd: int) -> tuple[int, str | None]:
        a = step.args
        opt = str(a[2]) if len(a) > 2 else "?"
        want = a[3] if len(a) > 3 else None
        want_v = want.items[0] if isinstance(want, Bracket) and want.items else want
        if step.name == "setsockopt":
            value: Any
            if opt == "SO_LINGER" and isinstance(want_v, Struct):
                value = (bool(_int_of(want_v.get("l_onoff", "onoff"))), int(_int_of(want_v.get("l_linger", "linger"))))
            elif isinstance(want_v, int):
                value = want_v
            elif isinstance(want_v, Ellipsis_) or want_v is None:
                value = 1
            else:
                self.res.skipped.append(f"line {step.line}: setsockopt {opt} with value {want} not modelled")
                return 0, None
            try:
                self.stack.setsockopt(self.now, efd, opt, value)
            except TcpError as exc:
                return -1, exc.errno_name
            except TcpkitError as exc:
                self.res.skipped.append(f"line {step.line}: setsockopt {opt} not modelled ({exc})")
            return 0, None
        if opt == "TCP_INFO":
            return self._getsockopt_tcp_info(step, efd, want_v)
        try:
            got = self.stack.getsockopt(efd, opt)
        except TcpError as exc:
            return -1, exc.errno_name
        except TcpkitError as exc:
            self.res.skipped.append(f"line {step.line}: getsockopt {opt} not modelled ({exc})")
            return 0, None
        if isinstance(want_v, Ellipsis_) or want_v is None:
            return 0, None
        if isinstance(want_v, Struct):
            if opt != "SO_LINGER":
                self.res.skipped.append(f"line {step.line}: getsockopt {opt} as a struct not modelled")
                return 0, None
            on, secs = got if isinstance(got, tuple) else (bool(got), 0)
            exp_on, exp_secs = want_v.get("l_onoff", "onoff"), want_v.get("l_linger", "linger")
            if (isinstance(exp_on, int) and bool(exp_on) != bool(on)) or (
                isinstance(exp_secs, int) and exp_secs != secs
            ):
                raise _Fail(
                    step, "getsockopt SO_LINGER differs", str(want_v), f"{{l_onoff={int(on)}, l_linger={secs}}}"
                )
            self.res.checks += 1
            return 0, None
        expected: Any = want_v.name if isinstance(want_v, Name) else want_v
        if isinstance(expected, str):
            expected = _ERRNO_ALIAS.get(expected, expected)
            if isinstance(got, str):
                got = _ERRNO_ALIAS.get(got, got)
        if isinstance(got, tuple) and isinstance(expected, int):  # SO_LINGER read as a number: its on flag
            got = int(bool(got[0]))
        if got == expected or (expected == 0 and got in (0, None, "")):
            self.res.checks += 1
            return 0, None
        if opt in ("SO_RCVBUF", "SO_SNDBUF"):
            self.res.skipped.append(
                f"line {step.line}: {opt} size not modelled (script expects {expected}, engine has {got})"
            )
            return 0, None
        raise _Fail(step, f"getsockopt {opt} differs", f"[{expected}]", f"[{got}]")

    def _getsockopt_tcp_info(self, step: SyscallStep, efd: int, want: Any) -> tuple[int, str | None]:
        info = tcp_info_fields(self.stack, efd, self.profile.name)
        if not isinstance(want, Struct):
            return 0, None
        for f in want.fields:
            if f.name is None or isinstance(f.value, Ellipsis_):
                continue
            have = info.get(f.name, Unmodelled(f"{f.name} is not a tcp_info field"))
            if isinstance(have, Unmodelled):
                self.res.skipped.append(f"line {step.line}: {f.name}={f.value} skipped: {have.reason}")
                continue
            exp = CONSTANTS.get(f.value.name) if isinstance(f.value, Name) else f.value
            if isinstance(exp, Unmodelled):
                self.res.skipped.append(f"line {step.line}: {f.name}={f.value} skipped: {exp.reason}")
                continue
            if exp is None or not isinstance(exp, int):
                raise _Fail(step, f"getsockopt TCP_INFO {f.name}", "a number or a constant", str(f.value))
            if have != exp:
                raise _Fail(
                    step,
                    f"getsockopt TCP_INFO {f.name} differs",
                    f"{f.name}={display(exp)}",
                    f"{f.name}={display(have)}",
                )
            self.res.checks += 1
        return 0, None

    def _blocking(self, step: SyscallStep, sfd: int, efd: int, due: float) -> None:
        p = _Pending(step, efd, self.now, due)
        if step.name == "connect":
            port = self._sockaddr(step, step.args[1] if len(step.args) > 1 else None, REMOTE_ADDR)
            port = SCRIPT_PORT if port is None else port
            self.connecting = True
            self.remote_port = port
            self.local_port = 0
            self.iss = None  # a new connection: its sequence numbers count from its own SYN
            v, err = self._call(lambda: self.stack.connect(self.now, efd, REMOTE_ADDR, port))
            self._drain()
            if err == "EINPROGRESS" and sfd not in self.nonblock:
                self.pending.append(p)
                self._poll_pending()
                return
            self._result(step, 0 if err is None else -1, err, self.now, due)
            return
        if step.name != "accept":
            self._byte_count(step)  # fail early on a bad count
        done, value, err = self._attempt(p)
        if not done and not self._nonblocking(step):
            self.pending.append(p)
            return
        if not done:
            value, err = -1, "EAGAIN"
        self._result(step, value, err, self.now, due)

    def _nonblocking(self, step: SyscallStep) -> bool:
        """O_NONBLOCK on the descriptor, or MSG_DONTWAIT in this call's flags (recv(2), send(2))."""
        if step.args and step.args[0] in self.nonblock:
            return True
        i = _FLAG_ARG.get(step.name)
        return i is not None and len(step.args) > i and "MSG_DONTWAIT" in _names(step.args[i])

    def _byte_count(self, step: SyscallStep) -> int:
        """How many bytes a read/write-like call asks for (``readv``/``writev``: the sum of the iovecs)."""
        a = step.args
        if step.name in ("recvmsg", "sendmsg"):
            msg = a[1] if len(a) > 1 else None
            if not isinstance(msg, Struct) or not isinstance(msg.get("msg_iov"), Bracket):
                raise _Fail(
                    step, f"{step.name}() needs a msghdr", "{msg_name(...)=..., msg_iov(N)=[...], ...}", str(msg)
                )
            control = msg.get("msg_control")
            if isinstance(control, Bracket) and control.items:
                note = f"line {step.line}: {step.name}() ancillary data (msg_control) not modelled"
                if note not in self.res.skipped:
                    self.res.skipped.append(note)
            a = (a[0], msg.get("msg_iov"))
        if step.name in ("readv", "writev", "recvmsg", "sendmsg"):
            iov = a[1] if len(a) > 1 else None
            if not isinstance(iov, Bracket):
                raise _Fail(step, f"{step.name}() needs an iovec array", "[{..., N}, ...]", str(iov))
            total = 0
            for item in iov.items:
                n = item.get("iov_len") if isinstance(item, Struct) else None
                if n is None and isinstance(item, Struct):
                    bare = [f.value for f in item.fields if f.name is None]
                    n = bare[-1] if bare else None
                if not isinstance(n, int) or n < 0:
                    raise _Fail(step, f"{step.name}() iovec length", "{..., N} with N >= 0", str(item))
                total += n
            return total
        count = a[2] if len(a) > 2 else None
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _Fail(step, f"{step.name}() needs a byte count", "a number >= 0 as the third argument", str(count))
        return count

    def _attempt(self, p: _Pending) -> tuple[bool, int, str | None]:
        """Try a blocking call once: (finished, result, errno)."""
        st, now, step = self.stack, self.now, p.step
        if step.name == "accept":
            v, err = self._call(lambda: st.accept(now, p.fd))
            if err == "EAGAIN":
                return False, 0, None
            if err is None:
                if step.result is not None and step.result >= 0:
                    self.fds[step.result] = v
                    self.last_fd = step.result
                    # FreeBSD's accept() gives the new socket the listener's O_NONBLOCK; Linux's does not
                    # (accept(2) on each system).
                    if self.profile.name == "freebsd" and step.args[0] in self.nonblock:
                        self.nonblock.add(step.result)
                return True, step.result if step.result is not None and step.result >= 0 else 0, None
            return True, -1, err
        count = self._byte_count(step)
        if step.name in _READS:
            v, err = self._call(lambda: st.recv(now, p.fd, count))
            if err == "EAGAIN":
                return False, 0, None
            return (True, len(v), None) if err is None else (True, -1, err)
        if step.name in _WRITES:
            v, err = self._call(lambda: st.send(now, p.fd, count - p.written))
            if err == "EAGAIN":
                return (True, p.written, None) if p.written and self._nonblocking(p.step) else (False, 0, None)
            if err is not None:
                return True, (p.written or -1), (None if p.written else err)
            p.written += int(v)
            if p.written >= count or self._nonblocking(p.step):
                return True, p.written, None
            return False, 0, None
        raise AssertionError(step.name)

    # -- poll ------------------------------------------------------------------------
    def _poll_fds(self, step: SyscallStep) -> list[tuple[int, int, int | None]]:
        """``(engine fd, requested events, expected revents or None)`` for each pollfd."""
        arr = step.args[0] if step.args else None
        if not isinstance(arr, Bracket):
            raise _Fail(step, "poll() needs an array of pollfd", "[{fd=N, events=POLLIN}, ...]", str(arr))
        out: list[tuple[int, int, int | None]] = []
        for item in arr.items:
            if not isinstance(item, Struct):
                raise _Fail(step, "poll() needs pollfd structs", "{fd=N, events=POLLIN, revents=...}", str(item))
            sfd = item.get("fd")
            if not isinstance(sfd, int):
                raise _Fail(step, "poll() pollfd needs fd=N", "a file descriptor number", str(sfd))
            if sfd not in self.fds:
                raise _Fail(
                    step, "poll() on an unknown file descriptor", f"one of {sorted(self.fds) or 'none'}", str(sfd)
                )
            events = _poll_mask(step, item.get("events"))
            rev = item.get("revents")
            want = None if rev is None or isinstance(rev, Ellipsis_) else _poll_mask(step, rev)
            out.append((self.fds[sfd], events if events is not None else 0, want))
        return out

    def _poll_now(self, fds: list[tuple[int, int, int | None]]) -> list[int]:
        revents = []
        for efd, events, _ in fds:
            ready = 0
            for word in self.stack.poll(efd):
                ready |= _READY_BITS.get(word, 0)
            revents.append(ready & (events | _ALWAYS))
        return revents

    def _poll_call(self, step: SyscallStep, due: float) -> None:
        fds = self._poll_fds(step)
        timeout = step.args[2] if len(step.args) > 2 else 0
        if not isinstance(timeout, int):
            raise _Fail(step, "poll() needs a timeout", "milliseconds (-1: forever)", str(timeout))
        revents = self._poll_now(fds)
        if any(revents) or timeout == 0:
            self._poll_result(step, fds, revents, due)
            return
        deadline = None if timeout < 0 else self.now + timeout / 1000.0
        self.pending.append(_Pending(step, fds[0][0] if fds else -1, self.now, due, deadline=deadline))

    def _poll_result(
        self, step: SyscallStep, fds: list[tuple[int, int, int | None]], revents: list[int], due: float
    ) -> None:
        for (_, _, want), got in zip(fds, revents, strict=True):
            if want is not None and want != got:
                raise _Fail(
                    step, "poll() revents differ", _poll_names(want), f"{_poll_names(got)} at {_fmt_t(self.now)}"
                )
        self._result(step, sum(1 for r in revents if r), None, self.now, due)

    def _poll_pending(self) -> None:
        if self.stack is None:
            return
        for p in list(self.pending):
            if p.step.name == "poll":
                fds = self._poll_fds(p.step)
                revents = self._poll_now(fds)
                if any(revents) or (p.deadline is not None and self.now >= p.deadline - 1e-9):
                    self.pending.remove(p)
                    self._poll_result(p.step, fds, revents, p.due)
                continue
            ready = self.stack.poll(p.fd)
            if not ready:
                continue
            if p.step.name == "connect":
                if not ready & {"out", "err", "hup"}:
                    continue
                err = self.stack.getsockopt(p.fd, "SO_ERROR")
                self.pending.remove(p)
                if err in (0, None, ""):
                    self._result(p.step, 0, None, self.now, p.due)
                else:
                    self._result(p.step, -1, _ERRNO_ALIAS.get(str(err), str(err)), self.now, p.due)
                continue
            done, value, errno_ = self._attempt(p)
            self._drain()
            if done:
                self.pending.remove(p)
                self._result(p.step, value, errno_, self.now, p.due)

    def _result(self, step: SyscallStep, value: int, err: str | None, t: float, due: float) -> None:
        want_err = _ERRNO_ALIAS.get(step.errno, step.errno) if step.errno else None
        got_text = _errno_text(err) if err else str(value)
        want_text = _errno_text(step.errno) if want_err else ("..." if step.result is None else str(step.result))
        if err != want_err or (step.result is not None and not err and value != step.result):
            raise _Fail(step, f"{step.name}() returned the wrong result", want_text, f"{got_text} at {_fmt_t(t)}")
        if abs(t - due) > self.tol + 1e-9:
            raise _Fail(
                step,
                f"{step.name}() returned at the wrong time",
                f"return at {_fmt_t(due)} (tolerance {self.tol * 1000:g} ms)",
                f"returned {got_text} at {_fmt_t(t)}",
            )
        self.res.checks += 1
        if _is_check(step):
            self.observed += 1

    # -- %{ }% ----------------------------------------------------------------------
    def _code(self, step: AssertStep) -> None:
        reads_info = any(
            n in TCP_INFO_FIELDS for s in step.code.statements for n in s.names if n not in self.env.variables
        )
        if reads_info:
            if self.last_fd is None or self.last_fd not in self.fds:
                raise _Fail(step, "tcp_info needs a socket", "an open socket", "no socket open (closed or never made)")
            self.env.fields = tcp_info_fields(self.stack, self.fds[self.last_fd], self.profile.name)
        for stmt in step.code.statements:
            out = run_statement(stmt, self.env)
            line = step.line + stmt.line_offset
            if out.status == "passed":
                self.res.checks += 1
                self.observed += 1
            elif out.status == "skipped":
                self.res.skipped.append(f"line {line}: {stmt.text!r} skipped: {out.reason}")
            elif out.status == "error":
                raise _Fail(step, "error in %{ }% code", f"{stmt.text!r} to run", out.reason, line)
            elif out.status == "failed":
                got = ", ".join(f"{name} = {_shown(v)}" for name, v in out.values) or "the test is false"
                if out.message is not None:
                    got += f"; message: {out.message}"
                raise _Fail(step, f"assert {stmt.test} failed", _render_test(stmt), got, line)
            elif out.message is not None:
                self.note(f"line {line}: print: {out.message}")

    # -- shell commands --------------------------------------------------------------
    def _command(self, step: CommandStep) -> None:
        for raw in re.split(r"\n|;|&&", step.command):
            cmd = raw.strip()
            if not cmd:
                continue
            self._one_command(step, cmd)

    def _one_command(self, step: CommandStep, cmd: str) -> None:
        words = cmd.split()
        head = Path(words[0]).name
        if head == "sysctl":
            self._sysctl(step, cmd, f"line {step.line}")
        elif head == "set_sysctls.py":
            # the Linux selftests' helper: set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0 ...
            for arg in words[1:]:
                name, sep, value = arg.partition("=")
                if sep and name.startswith("/proc/sys/"):
                    self._sysctl(
                        step, f"sysctl {name[len('/proc/sys/') :].replace('/', '.')}={value}", f"line {step.line}"
                    )
                else:
                    self.res.ignored.append(f"line {step.line}: set_sysctls.py {arg}")
        elif head.endswith(".sh") and (self.base_dir / head).is_file():
            self._defaults(step, self.base_dir / head)
        elif head == "sockstat":
            self._sockstat(step, cmd)
        elif head == "tcpdrop":
            self._tcpdrop(step, words)
        else:
            self.res.ignored.append(f"line {step.line}: {cmd}")

    def _defaults(self, step: CommandStep, path: Path) -> None:
        """Apply the ``sysctl`` lines of a shell file beside the script (``defaults.sh``)."""
        head = path.name
        try:
            data = path.read_bytes()[: 1 << 20]
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.res.ignored.append(f"line {step.line}: {head} could not be read ({exc})")
            return
        applied = 0
        for i, line in enumerate(text.splitlines(), 1):
            words = line.split("#", 1)[0].strip()
            if not words:
                continue
            if words.split()[0] == "sysctl":
                applied += self._sysctl(step, words, f"{head}:{i}")
            else:
                self.res.ignored.append(f"{head}:{i}: {words}")
        self.note(f"line {step.line}: ran {head} beside the script: {applied} sysctls applied")

    def _sysctl(self, step: CommandStep, cmd: str, where: str) -> int:
        try:
            words = shlex.split(cmd, comments=False)
        except ValueError:
            self.res.ignored.append(f"{where}: {cmd} (cannot split)")
            return 0
        applied = 0
        for w in words[1:]:
            if w.startswith(">") or w.startswith("2>") or w.startswith("&"):
                break
            if w.startswith("-") or "=" not in w:
                continue
            name, value = w.split("=", 1)
            value = _shell_arith(value)
            try:
                self.profile.knob(name)
            except RemovedKnobError as exc:
                self.res.ignored.append(f"{where}: sysctl {name} ({exc})")
                continue
            except KnobError:
                self.res.ignored.append(
                    f"{where}: sysctl {name}={value} (not a knob of the {self.profile.name} profile)"
                )
                continue
            try:
                new = self.profile.set_sysctl(name, value)
            except KnobError as exc:
                raise _Fail(step, "sysctl value rejected", "a value the knob allows", str(exc)) from None
            self.profile = new
            applied += 1
            if self.stack is not None:
                if hasattr(self.stack, "set_profile"):
                    self.stack.set_profile(new)
                else:
                    self.res.notes.append(
                        f"{where}: sysctl {name}={value} came after the stack started; the engine keeps its profile"
                    )
        return applied

    def _sockstat(self, step: CommandStep, cmd: str) -> None:
        stages = [s.split() for s in cmd.split("|")]
        port: int | None = None
        first = stages[0]
        if "-p" in first and first.index("-p") + 1 < len(first):
            try:
                port = int(first[first.index("-p") + 1])
            except ValueError:
                port = None
        state_word: str | None = None
        count_want: int | None = None
        for st in stages[1:]:
            if st[:2] == ["grep", "-c"] and len(st) == 3:
                state_word = st[2]
            elif st and st[0] == "grep" and len(st) == 2 and state_word is not None and st[1].isdigit():
                count_want = int(st[1])
        state = state_constant(state_word) if state_word else None
        if state is None or count_want is None:
            self.res.ignored.append(f"line {step.line}: {cmd} (not a 'grep -c STATE | grep N' count)")
            return
        n = 0
        for info in self._ensure_stack().sockets():
            if info.state != state:
                continue
            if port is not None and port not in (info.conn[1], info.conn[3]):
                continue
            n += 1
        if n != count_want:
            raise _Fail(step, f"sockstat count of {state_word}", f"{count_want} socket(s) in {state.name}", f"{n}")
        self.res.checks += 1
        self.observed += 1

    def _tcpdrop(self, step: CommandStep, words: list[str]) -> None:
        if len(words) == 3 and words[1] == "-s" and state_constant(words[2]) is not None:
            self._ensure_stack().tcpdrop(self.now, state_constant(words[2]))
            self._drain()
        else:
            self.res.ignored.append(f"line {step.line}: {' '.join(words)} (only 'tcpdrop -s STATE' is known)")


def _names(arg: Any) -> set[str]:
    if isinstance(arg, BitOr):
        return {str(p) for p in arg.parts}
    return {str(arg)}


def _int_of(v: Any) -> int:
    return v if isinstance(v, int) else 0


def _poll_mask(step: SyscallStep, arg: Any) -> int | None:
    """A poll event mask written as names (``POLLIN|POLLOUT``) or a number."""
    if arg is None or isinstance(arg, Ellipsis_):
        return None
    parts = arg.parts if isinstance(arg, BitOr) else (arg,)
    mask = 0
    for part in parts:
        if isinstance(part, int):
            mask |= part
        elif isinstance(part, Name) and part.name in _POLL_BITS:
            mask |= _POLL_BITS[part.name]
        else:
            raise _Fail(step, "poll() event", "POLL* names (" + ", ".join(_POLL_BITS) + ") or a number", str(part))
    return mask


def _poll_names(mask: int) -> str:
    names = [n for n, b in _POLL_BITS.items() if mask & b]
    return "|".join(names) if names else "0"


def _shown(value: Any) -> str:
    """A value in a failure report: a state by its name (``tcpi_state = ESTABLISHED``)."""
    return value.state.value if isinstance(value, StateCode) else display(value)


def _render_test(stmt: Statement) -> str:
    """An assert's test with state constants written as state names (``tcpi_state == CLOSE_WAIT``)."""
    node = stmt.node
    assert isinstance(node, ast.Assert)

    class _States(ast.NodeTransformer):
        def visit_Name(self, n: ast.Name) -> ast.AST:
            v = CONSTANTS.get(n.id)
            return ast.copy_location(ast.Name(id=v.state.value, ctx=n.ctx), n) if isinstance(v, StateCode) else n

    test = _States().visit(copy.deepcopy(node.test))
    return ast.unparse(test)


_ARITH = re.compile(r"\$\(\((?P<expr>[^()]*)\)\)")


def _shell_arith(text: str) -> str:
    """Expand ``$((15*1024*1024))`` (integers and + - * / only), as a shell would.

    >>> _shell_arith("4096 540000 $((15*1024*1024))")
    '4096 540000 15728640'
    """

    def ev(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            value = node.value
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv | ast.Div):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                value = a + b
            elif isinstance(node.op, ast.Sub):
                value = a - b
            elif isinstance(node.op, ast.Mult):
                value = a * b
            else:
                value = a // b
        else:
            raise ValueError("not shell arithmetic")
        if abs(value) >= 1 << 64:
            raise ValueError("out of the shell's 64-bit range")
        return value

    def sub(m: re.Match[str]) -> str:
        expr = m.group("expr").strip()
        if len(expr) > 200:
            return m.group(0)
        try:
            return str(ev(ast.parse(expr, mode="eval")))
        except (ValueError, SyntaxError, ZeroDivisionError, RecursionError, MemoryError):
            return m.group(0)

    return _ARITH.sub(sub, text)


# --------------------------------------------------------------------------- entry points


def run_script(
    script: Script,
    *,
    profile: str | Profile = "linux",
    tolerance_ms: float | None = None,
    tracer: Tracer | None = None,
) -> ScriptResult:
    """Run a parsed script against a fresh engine.

    Parameters
    ----------
    script : Script
    profile : str or Profile
        ``linux``, ``freebsd`` or ``rfc9293`` (or a Profile).  ``freebsd``
        takes ``#ifdef FreeBSD`` branches, the others ``#ifdef STANDARD``.
    tolerance_ms : float, optional
        Timing tolerance; overrides the script's ``--tolerance_usecs``.
        Default: the script's value, else packetdrill's 4 ms.
    tracer : callable, optional
        Receives the engine's :class:`~tcpkit.engine.trace.TraceRecord` values (e.g.
        ``records.append``), to draw the run as a ladder diagram.

    Returns
    -------
    ScriptResult
        Never raises for a failing script; the failure is in the result.

    Examples
    --------
    >>> r = run_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\\n+0 close(3) = 0")
    >>> r.summary()
    'PASS <string> (2 checks, 0 skipped)'
    """
    if not isinstance(script, Script):
        raise ParameterError("script", type(script).__name__, "a Script from parse_script() or load_script()")
    prof = get_profile(profile)
    if tolerance_ms is not None:
        _check_tolerance(tolerance_ms)
        tol = tolerance_ms / 1000.0
    elif script.tolerance_usecs is not None:
        tol = script.tolerance_usecs / 1e6
    else:
        tol = DEFAULT_TOLERANCE
    result = ScriptResult(path=script.path, profile=prof.name)
    runner = _Runner(script, prof, tol, result, tracer)
    try:
        runner.run()
    except _Fail as f:
        result.failure = f.failure
        return result
    except _Refuse as r:
        result.error = str(r)
        return result
    except TcpkitError as exc:  # the engine refused something the script asked for
        where = f"{runner.current.line}:{runner.current.column}: " if runner.current is not None else "1:1: "
        result.error = f"{script.path}:{where}engine raised {type(exc).__name__}: {str(exc).splitlines()[0]}"
        return result
    except Exception as exc:  # a bug: still one line, never a traceback that ends the whole run
        where = f"{runner.current.line}:{runner.current.column}: " if runner.current is not None else "1:1: "
        result.error = f"{script.path}:{where}internal error, please report: {type(exc).__name__}: {exc}"
        return result
    result.passed = True
    return result


def _check_tolerance(tolerance_ms: Any) -> None:
    ok = isinstance(tolerance_ms, int | float) and not isinstance(tolerance_ms, bool)
    if not ok or not math.isfinite(tolerance_ms) or not 0 <= tolerance_ms <= MAX_TOLERANCE_MS:
        raise ParameterError(
            "tolerance_ms", tolerance_ms, f"a finite number of milliseconds from 0 to {MAX_TOLERANCE_MS:g}"
        )


def run_text(
    text: str,
    *,
    profile: str | Profile = "linux",
    tolerance_ms: float | None = None,
    path: str = "<string>",
    tracer: Tracer | None = None,
) -> ScriptResult:
    """Parse and run script text (see :func:`run_script`).

    Raises
    ------
    ScriptSyntaxError
        If the text is not a valid script.
    ParameterError
        If ``tolerance_ms`` is not a finite number from 0 to :data:`MAX_TOLERANCE_MS`.
    """
    if tolerance_ms is not None:
        _check_tolerance(tolerance_ms)
    return run_script(parse_script(text, path), profile=profile, tolerance_ms=tolerance_ms, tracer=tracer)


def run_file(
    path: str | Path,
    *,
    profile: str | Profile = "linux",
    tolerance_ms: float | None = None,
    tracer: Tracer | None = None,
) -> ScriptResult:
    """Parse and run a script file; a syntax error becomes a failed result (never raised).

    >>> run_file("/nonexistent.pkt").error
    '/nonexistent.pkt:0:0: cannot read the script: ...'
    """
    if tolerance_ms is not None:
        _check_tolerance(tolerance_ms)
    try:
        script = load_script(path)
    except ScriptSyntaxError as exc:
        prof = profile.name if isinstance(profile, Profile) else str(profile)
        return ScriptResult(path=str(path), profile=prof, error=str(exc).splitlines()[0])
    return run_script(script, profile=profile, tolerance_ms=tolerance_ms, tracer=tracer)
