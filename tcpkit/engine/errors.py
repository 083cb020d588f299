"""The errors tcpkit raises.  Every one names what was wrong and what is allowed.

Examples
--------
>>> err = TcpError("ECONNREFUSED", "connection refused by peer RST")
>>> err.errno_name, err.errno
('ECONNREFUSED', 111)
>>> str(KnobError("tcp_syn_retries", 0, "an integer from 1 to 127"))
'tcp_syn_retries = 0 is not allowed: expected an integer from 1 to 127'
"""

from __future__ import annotations

import errno as _errno

__all__ = [
    "TcpkitError",
    "TcpError",
    "KnobError",
    "RemovedKnobError",
    "ParameterError",
    "SegmentSyntaxError",
    "ScriptSyntaxError",
    "IllegalTransition",
    "TraceFormatError",
    "BudgetError",
]

ERRNO_TEXT = {
    "ECONNREFUSED": "Connection refused",
    "ECONNRESET": "Connection reset by peer",
    "ETIMEDOUT": "Connection timed out",
    "EPIPE": "Broken pipe",
    "EAGAIN": "Resource temporarily unavailable",
    "EINPROGRESS": "Operation now in progress",
    "ENOTCONN": "Transport endpoint is not connected",
    "EISCONN": "Transport endpoint is already connected",
    "EALREADY": "Operation already in progress",
    "EADDRINUSE": "Address already in use",
    "EADDRNOTAVAIL": "Cannot assign requested address",
    "EINVAL": "Invalid argument",
    "EBADF": "Bad file descriptor",
    "EOPNOTSUPP": "Operation not supported",
}


class TcpkitError(Exception):
    """Base class of every error tcpkit raises on purpose."""


class TcpError(TcpkitError):
    """An error an application sees from a socket call (an ``errno``).

    Parameters
    ----------
    errno_name : str
        The symbolic name, e.g. ``"ECONNRESET"``.
    detail : str
        Why, in words.
    """

    def __init__(self, errno_name: str, detail: str = "") -> None:
        self.errno_name = errno_name
        self.errno = int(getattr(_errno, errno_name, 0))
        self.detail = detail
        text = ERRNO_TEXT.get(errno_name, errno_name)
        super().__init__(f"{errno_name} ({text})" + (f": {detail}" if detail else ""))


class KnobError(TcpkitError, ValueError):
    """A knob (sysctl) was given a value outside its allowed range."""

    def __init__(self, knob: str, value: object, allowed: str, profile: str | None = None) -> None:
        self.knob = knob
        self.value = value
        self.allowed = allowed
        self.profile = profile
        where = f" (profile {profile!r})" if profile else ""
        super().__init__(f"{knob} = {value!r} is not allowed{where}: expected {allowed}")


class RemovedKnobError(KnobError):
    """A knob that real kernels no longer have (e.g. ``tcp_tw_recycle``)."""

    def __init__(self, knob: str, why: str, profile: str | None = None) -> None:
        self.why = why
        TcpkitError.__init__(self, f"{knob} does not exist any more: {why}")
        self.knob = knob
        self.value = None
        self.allowed = "nothing: the knob was removed"
        self.profile = profile


class ParameterError(TcpkitError, ValueError):
    """A scenario, simulator or widget parameter is out of range."""

    def __init__(self, name: str, value: object, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"parameter {name} = {value!r} is not allowed: expected {allowed}")


class SegmentSyntaxError(TcpkitError, ValueError):
    """A segment written in tcpdump/packetdrill notation could not be parsed.

    ``column`` is 1-based and points at the offending character.
    """

    def __init__(self, text: str, column: int, reason: str) -> None:
        self.text = text
        self.column = column
        self.reason = reason
        pointer = " " * (column - 1) + "^"
        super().__init__(f"column {column}: {reason}\n  {text}\n  {pointer}")


class ScriptSyntaxError(TcpkitError):
    """A packetdrill script has a syntax error at ``path:line:column``."""

    def __init__(self, path: str, line: int, column: int, reason: str, text: str = "") -> None:
        self.path = path
        self.line = line
        self.column = column
        self.reason = reason
        self.text = text
        msg = f"{path}:{line}:{column}: {reason}"
        if text:
            msg += f"\n  {text}\n  {' ' * (column - 1)}^"
        super().__init__(msg)


class IllegalTransition(TcpkitError):
    """The engine asked for a state change that is not a row of the transition table."""


class TraceFormatError(TcpkitError, ValueError):
    """A trace file (JSON) or capture could not be read."""


class BudgetError(TcpkitError):
    """A run needed more work than its documented budget allows (e.g. a simulator's event budget)."""
