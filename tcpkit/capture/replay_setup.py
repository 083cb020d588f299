"""What a replay needs to know that a capture does not show: sysctls, socket options, the listener, the capture point.

A capture holds packets, not the knobs (sysctls) or socket options the two
programs ran with, nor where the capture was taken.  A :class:`ReplaySetup`
says so, per side; :func:`make_setup` builds one from plain values (the form of
``tcpkit pcap import --replay --set ... --sockopt ...``) and
:func:`load_setup_file` from a small TOML or JSON file::

    # replay.toml: tcpkit pcap import cap.pcap --replay --setup replay.toml
    profile = "linux"
    capture_at = "initiator"     # where the capture was taken: sender, initiator or responder
    delay = 0.005                # one-way delay between the two hosts (seconds)
    tolerance_ms = 10            # how far a segment's time may be off
    [sysctl]                     # both sides (a loopback capture: one kernel)
    tcp_syn_retries = 2
    [client.sysctl]              # one side: client/initiator or server/responder
    "net.ipv4.tcp_fin_timeout" = 2
    [client.sockopt]
    SO_KEEPALIVE = 1
    TCP_KEEPIDLE = 1
    [server]
    backlog = 1                  # listen() backlog of the server's listener
    accept = "lazy"              # eager: accept() at once; lazy: only when the application acts

Examples
--------
>>> s = make_setup(sysctls={"client:tcp_fin_timeout": "2", "tcp_syn_retries": 3}, sockopts={"client:SO_KEEPALIVE": 1})
>>> s.initiator.knobs, s.responder.knobs, s.initiator.sockopts
({'tcp_fin_timeout': 2.0, 'tcp_syn_retries': 3}, {'tcp_syn_retries': 3}, {'SO_KEEPALIVE': 1})
>>> make_setup(sysctls={"tcp_fin_timeout": "soon"})
Traceback (most recent call last):
...
tcpkit.engine.errors.KnobError: tcp_fin_timeout = 'soon' is not allowed (profile 'linux'): expected a number from 1 ...
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcpkit.engine.errors import ParameterError, TcpkitError, TraceFormatError
from tcpkit.engine.profiles import PROFILES, Profile, get_profile

__all__ = [
    "ACCEPT_POLICIES",
    "CAPTURE_POINTS",
    "SOCKOPTS",
    "CapturePoint",
    "ReplaySetup",
    "SideSetup",
    "load_setup_file",
    "make_setup",
    "parse_assignments",
]

#: Where a capture can have been taken.
CAPTURE_POINTS = ("sender", "initiator", "responder")
#: When the replayed server calls ``accept()``.
ACCEPT_POLICIES = ("eager", "lazy")
#: Socket options a replay can set: name -> (kind, low, high, meaning).
SOCKOPTS: dict[str, tuple[str, float, float, str]] = {
    "SO_KEEPALIVE": ("int", 0, 1, "0 or 1"),
    "TCP_KEEPIDLE": ("number", 1, 32767, "seconds from 1 to 32767"),
    "TCP_KEEPINTVL": ("number", 1, 32767, "seconds from 1 to 32767"),
    "TCP_KEEPCNT": ("int", 1, 127, "an integer from 1 to 127"),
    "TCP_NODELAY": ("int", 0, 1, "0 or 1"),
    "TCP_USER_TIMEOUT": ("int", 0, 2**31 - 1, "milliseconds from 0 to 2147483647"),
    "SO_RCVBUF": ("int", 0, 2**31 - 1, "bytes from 0 to 2147483647"),
    "SO_SNDBUF": ("int", 0, 2**31 - 1, "bytes from 0 to 2147483647"),
}
#: The largest setup file read (bytes).
MAX_SETUP_BYTES = 1 << 20

_INITIATOR_WORDS = ("initiator", "client")
_RESPONDER_WORDS = ("responder", "server")


@dataclass(frozen=True, slots=True)
class CapturePoint:
    """Where the capture was taken, and the one-way delay between the two hosts.

    ``sender``: each segment was captured as it left its sender (an export of a
    simulated run, or a loopback capture with ``delay`` 0); ``initiator`` or
    ``responder``: on that host, which sees its own segments leave and the
    other side's arrive.

    Examples
    --------
    >>> p = CapturePoint("initiator", 0.005)
    >>> p.offsets(from_initiator=True), p.offsets(from_initiator=False)
    ((0.0, 0.005), (0.005, 0.0))
    """

    at: str = "sender"
    delay: float = 0.0

    def __post_init__(self) -> None:
        if self.at not in CAPTURE_POINTS:
            raise ParameterError("capture_at", self.at, "one of " + ", ".join(CAPTURE_POINTS))
        d = self.delay
        if isinstance(d, bool) or not isinstance(d, int | float) or not 0.0 <= d <= 60.0:
            raise ParameterError("delay", d, "seconds from 0 to 60")

    def offsets(self, *, from_initiator: bool) -> tuple[float, float]:
        """``(before, after)``: a segment captured at ``t`` left its sender at ``t - before`` and reached the
        receiver at ``t + after``."""
        d = float(self.delay)
        if self.at == "sender":
            return (0.0, d)
        mine = (self.at == "initiator") == from_initiator
        return (0.0, d) if mine else (d, 0.0)


@dataclass(frozen=True, slots=True)
class SideSetup:
    """Knobs (profile short names) and socket options of one side."""

    knobs: dict[str, Any] = field(default_factory=dict)
    sockopts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReplaySetup:
    """Everything a replay is told rather than shown (see :func:`make_setup`)."""

    profile: str | Profile = "linux"
    point: CapturePoint = field(default_factory=CapturePoint)
    initiator: SideSetup = field(default_factory=SideSetup)
    responder: SideSetup = field(default_factory=SideSetup)
    backlog: int | None = None
    accept: str | None = None
    tolerance: float = 0.010
    timer_slack: float = 0.125
    infer: bool = True

    def side(self, initiator: bool) -> SideSetup:
        return self.initiator if initiator else self.responder

    def profile_of(self, initiator: bool) -> Profile:
        """The profile of one side, with its knobs applied."""
        base = get_profile(self.profile) if isinstance(self.profile, str) else self.profile
        knobs = self.side(initiator).knobs
        return base.set(**knobs) if knobs else base

    def describe(self) -> list[str]:
        """What the replay was told, one line per side (for the report)."""
        out = []
        for label, s in (("initiator", self.initiator), ("responder", self.responder)):
            parts = [f"{k}={v}" for k, v in s.knobs.items()] + [f"{k}={v}" for k, v in s.sockopts.items()]
            if parts:
                out.append(f"{label}: " + ", ".join(parts))
        if self.backlog is not None:
            out.append(f"responder: listen backlog {self.backlog}")
        if self.accept is not None:
            out.append(f"responder: accept {self.accept}")
        return out


def _side_of(key: str, names: tuple[str, str], what: str) -> tuple[tuple[bool, ...], str]:
    """Split ``side:name`` into the sides it applies to (initiator?) and the name."""
    if not isinstance(key, str) or not key.strip():
        raise ParameterError(what, key, "NAME or SIDE:NAME (a string)")
    side, sep, rest = key.partition(":")
    if not sep:
        return (True, False), key.strip()
    side = side.strip()
    if side in _INITIATOR_WORDS or side == names[0]:
        return (True,), rest.strip()
    if side in _RESPONDER_WORDS or side == names[1]:
        return (False,), rest.strip()
    allowed = ", ".join(dict.fromkeys([*_INITIATOR_WORDS, *_RESPONDER_WORDS, *names]))
    raise ParameterError(what, key, f"SIDE:NAME with SIDE one of {allowed}")


def _number(text: Any, name: str, kind: str, lo: float, hi: float, meaning: str) -> int | float:
    value = text
    if isinstance(value, str):
        try:
            value = int(value.strip(), 0) if kind == "int" else float(value.strip())
        except ValueError:
            raise ParameterError(name, text, meaning) from None
    if isinstance(value, bool):
        if (lo, hi) != (0, 1):
            raise ParameterError(name, text, meaning)
        value = int(value)
    if isinstance(value, numbers.Integral):
        value = int(value)  # numpy integers too
    elif isinstance(value, numbers.Real):
        value = float(value)
    if not isinstance(value, int | float) or (isinstance(value, float) and not math.isfinite(value)):
        raise ParameterError(name, text, meaning)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 2.0 seconds is 2
    if kind == "int" and isinstance(value, float):
        raise ParameterError(name, text, meaning)
    if not lo <= value <= hi:
        raise ParameterError(name, text, meaning)
    return value


def _check_sockopt(name: str, value: Any) -> int | float:
    if name not in SOCKOPTS:
        raise ParameterError("socket option", name, "one of " + ", ".join(SOCKOPTS))
    kind, lo, hi, meaning = SOCKOPTS[name]
    return _number(value, name, kind, lo, hi, meaning)


def make_setup(
    *,
    profile: str | Profile = "linux",
    names: tuple[str, str] = ("client", "server"),
    delay: float = 0.0,
    capture_at: str = "sender",
    sysctls: Mapping[str, Any] | None = None,
    sockopts: Mapping[str, Any] | None = None,
    backlog: int | None = None,
    accept: str | None = None,
    tolerance: float = 0.010,
    timer_slack: float = 0.125,
    infer: bool = True,
) -> ReplaySetup:
    """A checked :class:`ReplaySetup`.

    Parameters
    ----------
    profile : str or Profile
        ``linux``, ``freebsd`` or ``rfc9293``.
    names : (str, str)
        The initiator's and responder's names; also accepted as ``SIDE`` below.
    delay : float
        One-way delay between the hosts, seconds (0 to 60).
    capture_at : {"sender", "initiator", "responder"}
        Where the capture was taken (see :class:`CapturePoint`).
    sysctls : mapping
        ``"KNOB"`` (both sides) or ``"SIDE:KNOB"`` to a value (number or text);
        ``KNOB`` is a profile knob (``tcp_fin_timeout``) or its sysctl
        (``net.ipv4.tcp_fin_timeout``); ``SIDE`` is ``client``/``initiator``,
        ``server``/``responder`` or one of ``names``.
    sockopts : mapping
        ``"OPTION"`` or ``"SIDE:OPTION"`` to a value, for :data:`SOCKOPTS`.
    backlog : int, optional
        ``listen()`` backlog of the responder's listener (default: ``somaxconn``,
        or what the capture shows when the queue overflowed).
    accept : {"eager", "lazy"}, optional
        When the responder's application calls ``accept()``: at once, or only
        when it first sends (default eager, or lazy when the capture shows the
        accept queue overflowing).
    tolerance : float
        Seconds a segment's time may differ from the capture's (0 to 60).
    timer_slack : float
        Extra tolerance, as a fraction of the time since the sender's previous
        event (0 to 1): kernel timers fire late by up to an eighth of their
        length (Linux ``kernel/time/timer.c``, the timer wheel's levels).
    infer : bool
        Infer socket options, lost segments, silent peers and the accept
        behaviour from the capture.

    Raises
    ------
    ParameterError, KnobError
        Naming the argument or key that is wrong and what is allowed.
    """
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ParameterError("profile", profile, "one of " + ", ".join(PROFILES))
        base = get_profile(profile)
    elif isinstance(profile, Profile):
        base = profile
    else:
        raise ParameterError("profile", profile, "one of " + ", ".join(PROFILES) + ", or a Profile")
    if not (isinstance(names, tuple | list) and len(names) == 2 and all(isinstance(n, str) and n for n in names)):
        raise ParameterError("names", names, "two non-empty host names")
    if names[0] == names[1]:
        raise ParameterError("names", names, "two different host names")
    nm = (names[0], names[1])
    point = CapturePoint(capture_at, delay)
    knobs: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    opts: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    for key, value in _items(sysctls, "sysctls"):
        sides, name = _side_of(key, nm, "sysctl")
        knob = base.knob(name)
        checked = knob.check(value, base.name)
        for initiator in sides:
            knobs[0 if initiator else 1][knob.name] = checked
    for key, value in _items(sockopts, "sockopts"):
        sides, name = _side_of(key, nm, "socket option")
        checked_opt = _check_sockopt(name, value)
        for initiator in sides:
            opts[0 if initiator else 1][name] = checked_opt
    for i in (0, 1):  # the knobs must also make a consistent profile
        base.set(**knobs[i])
    if backlog is not None:
        backlog = int(_number(backlog, "backlog", "int", 0, 65535, "an integer from 0 to 65535"))
    if accept is not None and accept not in ACCEPT_POLICIES:
        raise ParameterError("accept", accept, "one of " + ", ".join(ACCEPT_POLICIES))
    tol = _number(tolerance, "tolerance", "number", 0, 60, "seconds from 0 to 60")
    slack = _number(timer_slack, "timer_slack", "number", 0, 1, "a fraction from 0 to 1")
    if not isinstance(infer, bool):
        raise ParameterError("infer", infer, "True or False")
    return ReplaySetup(
        profile=base if isinstance(profile, Profile) else profile,
        point=point,
        initiator=SideSetup(knobs[0], opts[0]),
        responder=SideSetup(knobs[1], opts[1]),
        backlog=backlog,
        accept=accept,
        tolerance=float(tol),
        timer_slack=float(slack),
        infer=infer,
    )


def _items(m: Mapping[str, Any] | None, what: str) -> Iterable[tuple[str, Any]]:
    if m is None:
        return ()
    if not isinstance(m, Mapping):
        raise ParameterError(what, m, "a mapping of NAME or SIDE:NAME to a value")
    return list(m.items())


def parse_assignments(items: Iterable[str], flag: str) -> dict[str, str]:
    """``["a=1", "client:b=2"]`` -> ``{"a": "1", "client:b": "2"}`` (the form of ``--set`` and ``--sockopt``).

    >>> parse_assignments(["tcp_fin_timeout=5", "server:SO_KEEPALIVE = 1"], "--set")
    {'tcp_fin_timeout': '5', 'server:SO_KEEPALIVE': '1'}
    >>> parse_assignments(["tcp_fin_timeout"], "--set")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter --set = 'tcp_fin_timeout' is not allowed: expected NAME=VALUE ...
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ParameterError(flag, item, "NAME=VALUE or SIDE:NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


#: Top-level keys of a setup file.
_FILE_KEYS = {"profile", "capture_at", "delay", "tolerance_ms", "timer_slack", "infer", "sysctl", "sockopt"}
_SIDE_KEYS = {"sysctl", "sockopt", "backlog", "accept"}


def load_setup_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a replay setup file (TOML, or JSON when it ends in ``.json``) into :func:`make_setup` keywords.

    Raises
    ------
    TraceFormatError
        The file cannot be read, is not TOML/JSON, or has a key that is not
        allowed (named with the file, and the allowed keys listed).

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "r.toml")
    >>> _ = open(p, "w").write('delay = 0.005\\ncapture_at = "initiator"\\n[client.sockopt]\\nSO_KEEPALIVE = 1\\n')
    >>> load_setup_file(p)
    {'delay': 0.005, 'capture_at': 'initiator', 'sockopts': {'client:SO_KEEPALIVE': 1}}
    """
    name = os.fspath(path)
    try:
        raw = Path(name).read_bytes()[: MAX_SETUP_BYTES + 1]
    except (OSError, ValueError) as exc:
        raise TraceFormatError(
            f"cannot read the replay setup {name}: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    if len(raw) > MAX_SETUP_BYTES:
        raise TraceFormatError(f"{name}: a replay setup file is at most {MAX_SETUP_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TraceFormatError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    try:
        doc = json.loads(text) if name.endswith(".json") else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise TraceFormatError(f"{name}: not {'JSON' if name.endswith('.json') else 'TOML'}: {exc}") from None
    if not isinstance(doc, dict):
        raise TraceFormatError(f"{name}: expected a table of settings at the top")
    out: dict[str, Any] = {}
    sysctls: dict[str, Any] = {}
    sockopts: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("client", "server", "initiator", "responder"):
            if not isinstance(value, dict):
                raise TraceFormatError(f"{name}: [{key}] must be a table with keys " + ", ".join(sorted(_SIDE_KEYS)))
            for k, v in value.items():
                if k == "sysctl":
                    sysctls.update({f"{key}:{n}": x for n, x in _table(v, f"{name}: [{key}.sysctl]").items()})
                elif k == "sockopt":
                    sockopts.update({f"{key}:{n}": x for n, x in _table(v, f"{name}: [{key}.sockopt]").items()})
                elif k in ("backlog", "accept") and key in ("server", "responder"):
                    out[k] = v
                else:
                    allowed = sorted(_SIDE_KEYS if key in ("server", "responder") else {"sysctl", "sockopt"})
                    raise TraceFormatError(f"{name}: [{key}] has no setting {k!r}; allowed: {', '.join(allowed)}")
        elif key == "sysctl":
            sysctls.update(_table(value, f"{name}: [sysctl]"))
        elif key == "sockopt":
            sockopts.update(_table(value, f"{name}: [sockopt]"))
        elif key == "tolerance_ms":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TraceFormatError(f"{name}: tolerance_ms must be a number of milliseconds, got {value!r}")
            out["tolerance"] = value / 1000.0
        elif key in _FILE_KEYS:
            out[key] = value
        else:
            allowed = sorted(_FILE_KEYS | {"client", "server", "initiator", "responder"})
            raise TraceFormatError(f"{name}: unknown setting {key!r}; allowed: {', '.join(allowed)}")
    if sysctls:
        out["sysctls"] = sysctls
    if sockopts:
        out["sockopts"] = sockopts
    return out


def _table(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise TraceFormatError(f"{where} must be a table of NAME = VALUE")
    return v


def check_setup_keywords(kw: Mapping[str, Any]) -> None:
    """Raise a :class:`TcpkitError` unless :func:`make_setup` accepts these keywords (names only)."""
    allowed = {"profile", "names", "delay", "capture_at", "sysctls", "sockopts", "backlog", "accept"}
    allowed |= {"tolerance", "timer_slack", "infer"}
    bad = sorted(set(kw) - allowed)
    if bad:
        raise TcpkitError(f"unknown replay setting {bad[0]!r}; allowed: {', '.join(sorted(allowed))}")
