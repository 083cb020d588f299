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
... +0  %{ assert tcpi_state == TCP_ESTABLISHED }%
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
8080 of the remote address.
"""

from __future__ import annotations

import ast
import operator
import re
import shlex
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tcpkit.engine.errors import (
    KnobError,
    RemovedKnobError,
    ScriptSyntaxError,
    TcpError,
    TcpkitError,
)
from tcpkit.engine.profiles import Profile, get_profile
from tcpkit.engine.segment import Eol, Nop, Segment, Timestamp, format_flags
from tcpkit.engine.seqnum import seq_add, seq_sub
from tcpkit.engine.states import State
from tcpkit.engine.trace import Tracer

from .pktscript import (
    AssertStep,
    BitOr,
    Bracket,
    CommandStep,
    Ellipsis_,
    Name,
    PacketStep,
    Script,
    Step,
    SyscallStep,
    load_script,
    parse_script,
)

__all__ = [
    "LOCAL_ADDR",
    "REMOTE_ADDR",
    "DEFAULT_TOLERANCE",
    "Failure",
    "ScriptResult",
    "run_script",
    "run_text",
    "run_file",
]

LOCAL_ADDR = "192.168.0.1"
REMOTE_ADDR = "192.0.2.1"
#: The port ``bind(fd, ..., ...)`` binds and ``connect(fd, ..., ...)`` connects to.
SCRIPT_PORT = 8080
#: The remote port of connections the script opens towards a listening socket.
REMOTE_PORT = 45000
#: packetdrill's default tolerance (``--tolerance_usecs=4000``).
DEFAULT_TOLERANCE = 0.004
#: How far the runner lets virtual time run when a ``>`` line says ``*`` (any time).
ANY_TIME_LIMIT = 600.0

#: ``fcntl`` flag values: (O_RDWR, O_NONBLOCK) of Linux (asm-generic/fcntl.h) and FreeBSD (sys/fcntl.h).
_O_FLAGS = {"linux": (0x2, 0x800), "freebsd": (0x2, 0x4), "rfc9293": (0x2, 0x800)}

#: tcp_info fields in microseconds (include/uapi/linux/tcp.h ``struct tcp_info``).
_USEC_FIELDS = frozenset({"tcpi_rto", "tcpi_ato", "tcpi_rtt", "tcpi_rttvar", "tcpi_min_rtt"})

#: Header options (``--name=value``) the runner uses; the others are reported as ignored.
_USED_OPTIONS = frozenset({"tolerance_usecs", "mtu"})

#: Errno spellings that name the same error.
_ERRNO_ALIAS = {"EWOULDBLOCK": "EAGAIN"}

#: Options that only pad the option list.
_PADDING = (Nop, Eol)

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
    anything else worth knowing (packets no line expected, defaults.sh applied).
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
    def __init__(self, step: Step, what: str, expected: str, got: str) -> None:
        super().__init__(what)
        self.failure = Failure(step.line, step.text, what, expected, got)


@dataclass(slots=True)
class _Pending:
    """A blocking call waiting for the engine."""

    step: SyscallStep
    fd: int
    started: float
    due: float  # when the script says it returns
    written: int = 0  # write/send: bytes accepted so far


# --------------------------------------------------------------------------- the runner


def _fmt_t(t: float) -> str:
    return f"{t:.3f} s"


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
        self.outq: deque[tuple[float, Segment]] = deque()
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
        self.noted: set[int] = set()  # id() of queued packets already reported in a note

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
            self.outq.append((self.now, seg))

    def _advance(self, t: float) -> None:
        """Let virtual time run to ``t``, firing the engine's timers on the way."""
        if self.stack is not None:
            for _ in range(100000):
                d = self.stack.next_deadline()
                if d is None or d > t:
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
            self.res.notes.append(
                f"#ifdef branches for profile {self.profile.name}: {', '.join(taken)} defined "
                f"({', '.join(sorted(set(self.script.ifdefs) - self.defines)) or 'nothing'} left out)"
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
                self._assert(step)
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
        for t, seg in self.outq:
            self.res.notes.append(
                f"after the last line: the engine sent {self._rel(seg)!r} at {_fmt_t(t)} that no > line expected"
            )

    # -- packets -------------------------------------------------------------------
    def _inbound(self, step: PacketStep) -> None:
        for t, seg in self.outq:
            if id(seg) in self.noted:
                continue
            self.noted.add(id(seg))
            self.res.notes.append(
                f"line {step.line}: before this inbound packet the engine sent {self._rel(seg)!r} at {_fmt_t(t)} "
                "that no > line has taken yet"
            )
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
        t, seg = self.outq.popleft()
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
        self.res.checks += 1
        return t

    def _window_text(self, step: Step, lo: float, hi: float) -> str:
        if step.time.kind == "any":
            return "any time"
        if hi > lo:
            return f"{_fmt_t(lo)} to {_fmt_t(hi)} (tolerance {self.tol * 1000:g} ms)"
        return f"{_fmt_t(lo)} (tolerance {self.tol * 1000:g} ms)"

    def _advance_until_packet(self, latest: float) -> None:
        for _ in range(100000):
            d = self.stack.next_deadline()
            if d is None or d > latest or self.outq:
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
        if len(step.args) <= i or not isinstance(step.args[i], int):
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
            self._result(step, step.result if step.result is not None else 0, None, self.now, due)
            return
        sfd = self._fd(step)
        efd = self._engine_fd(step, sfd)
        if name in ("accept", "connect", "read", "recv", "write", "send"):
            self._blocking(step, sfd, efd, due)
            return
        value, err = self._immediate(step, sfd, efd)
        self._result(step, value, err, self.now, due)

    def _call(self, fn: Callable[[], Any]) -> tuple[Any, str | None]:
        try:
            return fn(), None
        except TcpError as exc:
            return None, _ERRNO_ALIAS.get(exc.errno_name, exc.errno_name)

    def _immediate(self, step: SyscallStep, sfd: int, efd: int) -> tuple[int, str | None]:
        st, now, name, a = self.stack, self.now, step.name, step.args
        if name == "bind":
            v, err = self._call(lambda: st.bind(now, efd, SCRIPT_PORT))
            if err is None:
                self.local_port, self.remote_port = SCRIPT_PORT, REMOTE_PORT
            return 0, err
        if name == "listen":
            backlog = a[1] if len(a) > 1 and isinstance(a[1], int) else 1
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
            if "O_NONBLOCK" in names:
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
            value = want_v if isinstance(want_v, int) else 1
            try:
                self.stack.setsockopt(self.now, efd, opt, value)
            except TcpError as exc:
                return -1, exc.errno_name
            except TcpkitError as exc:
                self.res.skipped.append(f"line {step.line}: setsockopt {opt} not modelled ({exc})")
            return 0, None
        try:
            got = self.stack.getsockopt(efd, opt)
        except TcpError as exc:
            return -1, exc.errno_name
        except TcpkitError as exc:
            self.res.skipped.append(f"line {step.line}: getsockopt {opt} not modelled ({exc})")
            return 0, None
        if isinstance(want_v, Ellipsis_) or want_v is None:
            return 0, None
        expected: Any = want_v.name if isinstance(want_v, Name) else want_v
        if isinstance(expected, str):
            expected = _ERRNO_ALIAS.get(expected, expected)
            if isinstance(got, str):
                got = _ERRNO_ALIAS.get(got, got)
        if got == expected or (expected == 0 and got in (0, None, "")):
            self.res.checks += 1
            return 0, None
        if opt in ("SO_RCVBUF", "SO_SNDBUF"):
            self.res.skipped.append(
                f"line {step.line}: {opt} size not modelled (script expects {expected}, engine has {got})"
            )
            return 0, None
        raise _Fail(step, f"getsockopt {opt} differs", f"[{expected}]", f"[{got}]")

    def _blocking(self, step: SyscallStep, sfd: int, efd: int, due: float) -> None:
        p = _Pending(step, efd, self.now, due)
        if step.name == "connect":
            self.connecting = True
            self.remote_port = SCRIPT_PORT
            self.local_port = 0
            v, err = self._call(lambda: self.stack.connect(self.now, efd, REMOTE_ADDR, SCRIPT_PORT))
            self._drain()
            if err == "EINPROGRESS" and sfd not in self.nonblock:
                self.pending.append(p)
                self._poll_pending()
                return
            self._result(step, 0 if err is None else -1, err, self.now, due)
            return
        done, value, err = self._attempt(p)
        if not done and sfd not in self.nonblock:
            self.pending.append(p)
            return
        if not done:
            value, err = -1, "EAGAIN"
        self._result(step, value, err, self.now, due)

    def _attempt(self, p: _Pending) -> tuple[bool, int, str | None]:
        """Try a blocking call once: (finished, result, errno)."""
        st, now, step = self.stack, self.now, p.step
        a = step.args
        count = a[2] if len(a) > 2 and isinstance(a[2], int) else 0
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
        if step.name in ("read", "recv"):
            v, err = self._call(lambda: st.recv(now, p.fd, count))
            if err == "EAGAIN":
                return False, 0, None
            return (True, len(v), None) if err is None else (True, -1, err)
        if step.name in ("write", "send"):
            v, err = self._call(lambda: st.send(now, p.fd, count - p.written))
            if err == "EAGAIN":
                return (True, p.written, None) if p.written and p.step.args[0] in self.nonblock else (False, 0, None)
            if err is not None:
                return True, (p.written or -1), (None if p.written else err)
            p.written += int(v)
            if p.written >= count or p.step.args[0] in self.nonblock:
                return True, p.written, None
            return False, 0, None
        raise AssertionError(step.name)

    def _poll_pending(self) -> None:
        if self.stack is None:
            return
        for p in list(self.pending):
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
        got_text = f"-1 {err}" if err else str(value)
        want_text = f"-1 {want_err}" if want_err else ("..." if step.result is None else str(step.result))
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

    # -- %{ }% ----------------------------------------------------------------------
    def _assert(self, step: AssertStep) -> None:
        if self.last_fd is None or self.last_fd not in self.fds:
            raise _Fail(step, "tcp_info needs a socket", "an open socket", "no socket used yet")
        info = self.stack.getsockopt(self.fds[self.last_fd], "TCP_INFO")
        for check in step.checks:
            got = info.get(check.field) if isinstance(info, Mapping) else getattr(info, check.field, None)
            if got is None:
                self.res.skipped.append(f"line {step.line}: {check.field} not modelled")
                continue
            want: Any = check.value
            if check.field in _USEC_FIELDS and isinstance(got, float):
                got = round(got * 1e6)  # the engine reports seconds, tcp_info microseconds
            if check.field == "tcpi_state":
                got = _as_state(got)
                want = state_constant(want) if isinstance(want, str) else _as_state(want)
                if want is None:
                    raise _Fail(step, "unknown state constant", "TCP_* or TCPI_* state name", str(check.value))
                ok = (got == want) if check.op == "==" else (got != want) if check.op == "!=" else False
            else:
                ops: dict[str, Callable[[Any, Any], bool]] = {
                    "==": operator.eq,
                    "!=": operator.ne,
                    "<": operator.lt,
                    "<=": operator.le,
                    ">": operator.gt,
                    ">=": operator.ge,
                }
                try:
                    ok = ops[check.op](got, want)
                except TypeError:
                    ok = False
            if not ok:
                shown = got.name if isinstance(got, State) else got
                wanted = want.name if isinstance(want, State) else want
                raise _Fail(
                    step,
                    f"assert {check.field} {check.op} {check.value} failed",
                    f"{check.field} {check.op} {wanted}",
                    f"{check.field} = {shown}",
                )
            self.res.checks += 1

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
        elif head.endswith(".sh") and (self.base_dir / head).is_file():
            path = self.base_dir / head
            applied = 0
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                text = line.split("#", 1)[0].strip()
                if not text:
                    continue
                if text.split()[0] == "sysctl":
                    applied += self._sysctl(step, text, f"{head}:{i}")
                else:
                    self.res.ignored.append(f"{head}:{i}: {text}")
            self.res.notes.append(f"line {step.line}: ran {head} beside the script: {applied} sysctls applied")
        elif head == "sockstat":
            self._sockstat(step, cmd)
        elif head == "tcpdrop":
            self._tcpdrop(step, words)
        else:
            self.res.ignored.append(f"line {step.line}: {cmd}")

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


def _as_state(v: Any) -> State | None:
    if isinstance(v, State):
        return v
    if isinstance(v, int):
        try:
            return State.from_linux_code(v)
        except ValueError:
            return None
    if isinstance(v, str):
        return state_constant(v)
    return None


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
            return node.value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv | ast.Div):
            a, b = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return a + b
            if isinstance(node.op, ast.Sub):
                return a - b
            if isinstance(node.op, ast.Mult):
                return a * b
            return a // b
        raise ValueError("not shell arithmetic")

    def sub(m: re.Match[str]) -> str:
        try:
            return str(ev(ast.parse(m.group("expr").strip(), mode="eval")))
        except (ValueError, SyntaxError, ZeroDivisionError):
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
    prof = get_profile(profile)
    if tolerance_ms is not None:
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
    except Exception as exc:  # an engine error must not end the whole run with a traceback
        where = f"{runner.current.line}: " if runner.current is not None else " "
        result.error = f"{script.path}:{where}engine raised {type(exc).__name__}: {exc}"
        return result
    result.passed = True
    return result


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
    """
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
    "/nonexistent.pkt:0:0: cannot read the script: ..."
    """
    try:
        script = load_script(path)
    except ScriptSyntaxError as exc:
        prof = profile.name if isinstance(profile, Profile) else str(profile)
        return ScriptResult(path=str(path), profile=prof, error=str(exc).splitlines()[0])
    return run_script(script, profile=profile, tolerance_ms=tolerance_ms, tracer=tracer)
