"""Read packetdrill scripts (packetdrill 测试脚本): times, packets, syscalls, ``%{ }%`` blocks, shell commands.

packetdrill (google/packetdrill) tests a kernel's TCP with a script: each line
has a time, then one action.  ``<`` lines are segments injected into the host
under test, ``>`` lines are segments it must send, syscall lines are what its
application calls (with the result it must get), `````command````` lines run
on the host, and ``%{ ... }%`` blocks check ``tcp_info`` with Python
(:mod:`tcpkit.drivers.pktcode`).  This module only *reads* scripts into
:class:`Script` values; :mod:`tcpkit.drivers.packetdrill` runs them against
the engine.

Examples
--------
>>> s = parse_script('''
... --tolerance_usecs=10000
... 0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
... +0  setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0
... +0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
... +0  > S 0:0(0) <...>
... +.1 < S. 0:0(0) ack 1 win 32000
... +0  %{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%
... ''')
>>> s.tolerance_usecs, len(s.steps)
(10000, 6)
>>> s.steps[1].args[3]
Struct(fields=(Field(name='l_onoff', value=1), Field(name='l_linger', value=0)))
>>> call = s.steps[2]
>>> call.name, call.result, call.errno, call.note
('connect', -1, 'EINPROGRESS', 'Operation now in progress')
>>> s.steps[3].direction, s.steps[3].segment.notation()
('>', 'S 0:0(0) <...>')
>>> s.steps[4].time
TimeSpec(kind='relative', start=0.1, end=None)
>>> s.steps[5].code.statements[0].text
'assert tcpi_state == TCP_ESTABLISHED, tcpi_state'

Notes
-----
The language is described in packetdrill's ``syntax.md`` and defined by its
``parser.y``/``lexer.l`` (google/packetdrill, ``gtests/net/packetdrill``):
``+t`` is relative to the previous event, ``*`` is any time, ``a~b`` a range,
and ``start...end`` after a time marks a blocking system call.  This is an
independent reader written from that description, not a port.

Limits (each refused with ``path:line:column`` and what is allowed):
:data:`MAX_SCRIPT_BYTES` per script; times finite and at most :data:`MAX_TIME`
seconds; integers in system calls within 64 bits; ``[ ]``/``{ }`` nested at
most :data:`MAX_NESTING` deep; a segment's payload at most
``65535 - 20 - 20 - options`` bytes (the IPv4 Total Length field is 16 bits,
RFC 791 §3.1, under a 20-byte IP and a 20-byte TCP header; packetdrill's own
``parser.y`` also refuses a payload over 16 bits); TCP options at most 40
bytes (the Data Offset field counts 32-bit words up to 15, RFC 9293 §3.1).
The reader takes time linear in the script's size.
"""

from __future__ import annotations

import bisect
import difflib
import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tcpkit.engine.errors import ScriptSyntaxError, SegmentSyntaxError
from tcpkit.engine.segment import Flags, Segment, parse_segment

from .pktcode import TCP_INFO_FIELDS, CodeBlock, CodeError, parse_code

__all__ = [
    "TimeSpec",
    "Name",
    "BitOr",
    "Bracket",
    "Struct",
    "Field",
    "Call",
    "Ellipsis_",
    "ANY",
    "Arg",
    "Step",
    "PacketStep",
    "SyscallStep",
    "AssertStep",
    "CommandStep",
    "Script",
    "SYSCALLS",
    "FUNCTIONS",
    "ERRNO_TEXT",
    "ECN_MARKS",
    "IP_VERSIONS",
    "MAX_SCRIPT_BYTES",
    "MAX_TIME",
    "MAX_NESTING",
    "MAX_TOLERANCE_USECS",
    "MAX_PAYLOAD",
    "MAX_OPTION_BYTES",
    "parse_script",
    "load_script",
]

#: The longest script read, in bytes (UTF-8).  The longest script of the Linux and packetdrill
#: suites is under 100 KB; the reader is linear, so this bounds the work to a few seconds.
MAX_SCRIPT_BYTES = 4 * 1024 * 1024
#: The largest time a script may write, in seconds (about 11.6 days: longer than any TCP timer).
MAX_TIME = 1_000_000.0
#: How deeply ``[ ]``, ``{ }`` and ``( )`` may nest in a system call's arguments.
MAX_NESTING = 16
#: The largest ``--tolerance_usecs`` (1000 s).
MAX_TOLERANCE_USECS = 1_000_000_000
#: The largest payload a segment line may give: the IPv4 Total Length field (16 bits, RFC 791 §3.1)
#: less a 20-byte IPv4 header and a 20-byte TCP header; the segment's options come off as well.
MAX_PAYLOAD = 65535 - 20 - 20
#: The most option bytes a TCP header holds: Data Offset <= 15 words = 60 bytes, less the 20 fixed (RFC 9293 §3.1).
MAX_OPTION_BYTES = 40
_MAX_INT = (1 << 64) - 1
_MIN_INT = -(1 << 63)

#: The system calls a script may make (packetdrill supports more; these are the ones tcpkit models).
SYSCALLS: tuple[str, ...] = (
    "socket",
    "bind",
    "listen",
    "accept",
    "connect",
    "read",
    "readv",
    "recv",
    "recvfrom",
    "recvmsg",
    "write",
    "writev",
    "send",
    "sendto",
    "sendmsg",
    "close",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "fcntl",
    "poll",
)

#: Functions an argument may call: name -> what its argument must be.
FUNCTIONS: dict[str, str] = {
    "htons": "a number from 0 to 65535",
    "ntohs": "a number from 0 to 65535",
    "htonl": "a number from 0 to 4294967295",
    "ntohl": "a number from 0 to 4294967295",
    "inet_addr": 'an IPv4 address in quotes, e.g. inet_addr("192.0.2.1")',
    "inet6_addr": 'an IPv6 address in quotes, e.g. inet6_addr("fd3d::1")',
}

#: IP ECN marks a packet line may carry before its flags (packetdrill parser.y ``ip_ecn``).
ECN_MARKS: tuple[str, ...] = ("noecn", "ect0", "ect1", "ce", "ect01")

#: Values of the ``--ip_version`` header option (packetdrill config.c).
IP_VERSIONS: tuple[str, ...] = ("ipv4", "ipv4-mapped-ipv6", "ipv6")

_LINUX_ERRNO_TEXT: dict[str, str] = {
    "E2BIG": "Argument list too long",
    "EACCES": "Permission denied",
    "EADDRINUSE": "Address already in use",
    "EADDRNOTAVAIL": "Cannot assign requested address",
    "EADV": "Advertise error",
    "EAFNOSUPPORT": "Address family not supported by protocol",
    "EAGAIN": "Resource temporarily unavailable",
    "EALREADY": "Operation already in progress",
    "EBADE": "Invalid exchange",
    "EBADF": "Bad file descriptor",
    "EBADFD": "File descriptor in bad state",
    "EBADMSG": "Bad message",
    "EBADR": "Invalid request descriptor",
    "EBADRQC": "Invalid request code",
    "EBADSLT": "Invalid slot",
    "EBFONT": "Bad font file format",
    "EBUSY": "Device or resource busy",
    "ECANCELED": "Operation canceled",
    "ECHILD": "No child processes",
    "ECHRNG": "Channel number out of range",
    "ECOMM": "Communication error on send",
    "ECONNABORTED": "Software caused connection abort",
    "ECONNREFUSED": "Connection refused",
    "ECONNRESET": "Connection reset by peer",
    "EDEADLK": "Resource deadlock avoided",
    "EDEADLOCK": "Resource deadlock avoided",
    "EDESTADDRREQ": "Destination address required",
    "EDOM": "Numerical argument out of domain",
    "EDOTDOT": "RFS specific error",
    "EDQUOT": "Disk quota exceeded",
    "EEXIST": "File exists",
    "EFAULT": "Bad address",
    "EFBIG": "File too large",
    "EHOSTDOWN": "Host is down",
    "EHOSTUNREACH": "No route to host",
    "EHWPOISON": "Memory page has hardware error",
    "EIDRM": "Identifier removed",
    "EILSEQ": "Invalid or incomplete multibyte or wide character",
    "EINPROGRESS": "Operation now in progress",
    "EINTR": "Interrupted system call",
    "EINVAL": "Invalid argument",
    "EIO": "Input/output error",
    "EISCONN": "Transport endpoint is already connected",
    "EISDIR": "Is a directory",
    "EISNAM": "Is a named type file",
    "EKEYEXPIRED": "Key has expired",
    "EKEYREJECTED": "Key was rejected by service",
    "EKEYREVOKED": "Key has been revoked",
    "EL2HLT": "Level 2 halted",
    "EL2NSYNC": "Level 2 not synchronized",
    "EL3HLT": "Level 3 halted",
    "EL3RST": "Level 3 reset",
    "ELIBACC": "Can not access a needed shared library",
    "ELIBBAD": "Accessing a corrupted shared library",
    "ELIBEXEC": "Cannot exec a shared library directly",
    "ELIBMAX": "Attempting to link in too many shared libraries",
    "ELIBSCN": ".lib section in a.out corrupted",
    "ELNRNG": "Link number out of range",
    "ELOOP": "Too many levels of symbolic links",
    "EMEDIUMTYPE": "Wrong medium type",
    "EMFILE": "Too many open files",
    "EMLINK": "Too many links",
    "EMSGSIZE": "Message too long",
    "EMULTIHOP": "Multihop attempted",
    "ENAMETOOLONG": "File name too long",
    "ENAVAIL": "No XENIX semaphores available",
    "ENETDOWN": "Network is down",
    "ENETRESET": "Network dropped connection on reset",
    "ENETUNREACH": "Network is unreachable",
    "ENFILE": "Too many open files in system",
    "ENOANO": "No anode",
    "ENOBUFS": "No buffer space available",
    "ENOCSI": "No CSI structure available",
    "ENODATA": "No data available",
    "ENODEV": "No such device",
    "ENOENT": "No such file or directory",
    "ENOEXEC": "Exec format error",
    "ENOKEY": "Required key not available",
    "ENOLCK": "No locks available",
    "ENOLINK": "Link has been severed",
    "ENOMEDIUM": "No medium found",
    "ENOMEM": "Cannot allocate memory",
    "ENOMSG": "No message of desired type",
    "ENONET": "Machine is not on the network",
    "ENOPKG": "Package not installed",
    "ENOPROTOOPT": "Protocol not available",
    "ENOSPC": "No space left on device",
    "ENOSR": "Out of streams resources",
    "ENOSTR": "Device not a stream",
    "ENOSYS": "Function not implemented",
    "ENOTBLK": "Block device required",
    "ENOTCONN": "Transport endpoint is not connected",
    "ENOTDIR": "Not a directory",
    "ENOTEMPTY": "Directory not empty",
    "ENOTNAM": "Not a XENIX named type file",
    "ENOTRECOVERABLE": "State not recoverable",
    "ENOTSOCK": "Socket operation on non-socket",
    "ENOTSUP": "Operation not supported",
    "ENOTTY": "Inappropriate ioctl for device",
    "ENOTUNIQ": "Name not unique on network",
    "ENXIO": "No such device or address",
    "EOPNOTSUPP": "Operation not supported",
    "EOVERFLOW": "Value too large for defined data type",
    "EOWNERDEAD": "Owner died",
    "EPERM": "Operation not permitted",
    "EPFNOSUPPORT": "Protocol family not supported",
    "EPIPE": "Broken pipe",
    "EPROTO": "Protocol error",
    "EPROTONOSUPPORT": "Protocol not supported",
    "EPROTOTYPE": "Protocol wrong type for socket",
    "ERANGE": "Numerical result out of range",
    "EREMCHG": "Remote address changed",
    "EREMOTE": "Object is remote",
    "EREMOTEIO": "Remote I/O error",
    "ERESTART": "Interrupted system call should be restarted",
    "ERFKILL": "Operation not possible due to RF-kill",
    "EROFS": "Read-only file system",
    "ESHUTDOWN": "Cannot send after transport endpoint shutdown",
    "ESOCKTNOSUPPORT": "Socket type not supported",
    "ESPIPE": "Illegal seek",
    "ESRCH": "No such process",
    "ESRMNT": "Srmount error",
    "ESTALE": "Stale file handle",
    "ESTRPIPE": "Streams pipe error",
    "ETIME": "Timer expired",
    "ETIMEDOUT": "Connection timed out",
    "ETOOMANYREFS": "Too many references: cannot splice",
    "ETXTBSY": "Text file busy",
    "EUCLEAN": "Structure needs cleaning",
    "EUNATCH": "Protocol driver not attached",
    "EUSERS": "Too many users",
    "EWOULDBLOCK": "Resource temporarily unavailable",
    "EXDEV": "Invalid cross-device link",
    "EXFULL": "Exchange full",
}
_FREEBSD_ERRNO_TEXT: dict[str, str] = {
    "ENOTCAPABLE": "Capabilities insufficient",
    "ECAPMODE": "Not permitted in capability mode",
    "EDOOFUS": "Function or API is being abused at run-time",
    "EPROCLIM": "Too many processes",
    "EBADRPC": "RPC struct is bad",
    "ERPCMISMATCH": "RPC version wrong",
    "EPROGUNAVAIL": "RPC program not available",
    "EPROGMISMATCH": "Program version wrong",
    "EPROCUNAVAIL": "Bad procedure for program",
    "EFTYPE": "Inappropriate file type or format",
    "EAUTH": "Authentication error",
    "ENEEDAUTH": "Need authenticator",
    "ENOATTR": "Attribute not found",
    "EINTEGRITY": "Integrity check failed",
}

#: errno name -> its text (strerror): Linux (include/uapi/asm-generic/errno*.h, glibc's texts) and the
#: names only FreeBSD has (sys/sys/errno.h).  A script may write only these.
ERRNO_TEXT: dict[str, str] = {**_LINUX_ERRNO_TEXT, **_FREEBSD_ERRNO_TEXT}

TimeKind = Literal["absolute", "relative", "any", "absolute_range", "relative_range"]


@dataclass(frozen=True, slots=True)
class TimeSpec:
    """When an event happens, as written.

    ``start`` (and ``end`` for a range) are seconds; for ``relative`` kinds they
    are offsets from the previous event.

    Examples
    --------
    >>> TimeSpec("relative", 0.1).window(prev=0.2)
    (0.30000000000000004, 0.30000000000000004)
    >>> TimeSpec("relative_range", 0.0, 0.04).window(prev=1.0)
    (1.0, 1.04)
    >>> TimeSpec("any").window(prev=5.0)
    (5.0, inf)
    """

    kind: TimeKind
    start: float = 0.0
    end: float | None = None

    def window(self, prev: float) -> tuple[float, float]:
        """The earliest and latest allowed time, given the previous event's time."""
        if self.kind == "any":
            return prev, float("inf")
        base = prev if self.kind in ("relative", "relative_range") else 0.0
        lo = base + self.start
        hi = base + (self.end if self.end is not None else self.start)
        return lo, hi

    def __str__(self) -> str:
        if self.kind == "any":
            return "*"
        plus = "+" if self.kind.startswith("relative") else ""
        text = f"{plus}{self.start:g}"
        if self.end is not None:
            text += f"~{plus}{self.end:g}"
        return text


# --------------------------------------------------------------------------- syscall arguments


@dataclass(frozen=True, slots=True)
class Name:
    """A symbolic constant such as ``SOCK_STREAM`` or ``ECONNRESET``."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class BitOr:
    """Flags joined with ``|``, e.g. ``O_RDWR|O_NONBLOCK``."""

    parts: tuple[Arg, ...]

    def __str__(self) -> str:
        return "|".join(str(p) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Bracket:
    """An array, or a value passed by pointer: ``[value, ...]`` (e.g. ``[1]``, ``[ECONNRESET]``)."""

    items: tuple[Arg, ...]

    def __str__(self) -> str:
        return "[" + ", ".join(str(i) for i in self.items) + "]"


@dataclass(frozen=True, slots=True)
class Field:
    """One member of a struct: ``name=value``, ``name(index)=value``, or a bare ``value`` (``name`` None)."""

    name: str | None
    value: Arg
    index: Arg | None = None

    def __str__(self) -> str:
        if self.name is None:
            return str(self.value)
        idx = f"({self.index})" if self.index is not None else ""
        return f"{self.name}{idx}={self.value}"

    def __repr__(self) -> str:
        extra = f", index={self.index!r}" if self.index is not None else ""
        return f"Field(name={self.name!r}, value={self.value!r}{extra})"


@dataclass(frozen=True, slots=True)
class Struct:
    """A struct argument, ``{l_onoff=1, l_linger=0}`` or ``{sa_family=AF_INET, sin_port=htons(8080), ...}``.

    >>> s = Struct((Field("l_onoff", 1), Field("l_linger", 0)))
    >>> s.get("l_linger"), s.get("nope", default="absent"), str(s)
    (0, 'absent', '{l_onoff=1, l_linger=0}')
    """

    fields: tuple[Field, ...]

    def get(self, *names: str, default: Any = None) -> Any:
        """The value of the first member called one of ``names`` (or ``default``)."""
        for f in self.fields:
            if f.name in names:
                return f.value
        return default

    def names(self) -> tuple[str, ...]:
        """The member names, in order."""
        return tuple(f.name for f in self.fields if f.name is not None)

    def __str__(self) -> str:
        return "{" + ", ".join(str(f) for f in self.fields) + "}"


@dataclass(frozen=True, slots=True)
class Call:
    """A function in an argument: ``htons(8080)``, ``inet_addr("192.0.2.1")``.

    >>> Call("htons", (8080,)).value, Call("inet_addr", ("192.0.2.1",)).value
    (8080, '192.0.2.1')
    """

    name: str
    args: tuple[Arg, ...]

    @property
    def value(self) -> int | str:
        """The port or address it stands for (byte order does not matter to the model)."""
        v = self.args[0]
        assert isinstance(v, int | str)
        return v

    def __str__(self) -> str:
        return f"{self.name}(" + ", ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in self.args) + ")"


@dataclass(frozen=True, slots=True)
class Ellipsis_:
    """``...``: an argument the script does not care about."""

    def __str__(self) -> str:
        return "..."


#: The single ``...`` value.
ANY = Ellipsis_()

Arg = int | str | Name | BitOr | Bracket | Struct | Call | Ellipsis_


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One event of a script: where it is written and when it happens.

    ``conditions`` are the ``#ifdef``/``#ifndef`` blocks around the step, as
    ``(name, wanted)`` pairs: the step runs only if ``name`` is defined exactly
    when ``wanted`` is true.
    """

    line: int
    column: int
    text: str
    time: TimeSpec
    conditions: tuple[tuple[str, bool], ...] = ()

    def active(self, defines: frozenset[str] | set[str]) -> bool:
        """Whether the step runs when the names in ``defines`` are defined.

        >>> st = CommandStep(line=1, column=1, text="", time=TimeSpec("any"), command="x",
        ...                  conditions=(("FreeBSD", True),))
        >>> st.active({"FreeBSD"}), st.active({"STANDARD"})
        (True, False)
        """
        return all((name in defines) == wanted for name, wanted in self.conditions)


@dataclass(frozen=True, slots=True, kw_only=True)
class PacketStep(Step):
    """A ``<`` (inbound) or ``>`` (outbound) segment.

    ``seq_any`` is true when the script wrote ``...(N)`` for the sequence range
    (any sequence number).  ``ack_given`` says whether ``ack N`` was written
    (a packetdrill line may give an ack number without the ACK flag).  ``ecn``
    is the IP ECN mark written before the flags (``[ect0]``...), or ``None``.
    """

    direction: Literal["<", ">"]
    segment: Segment
    seq_any: bool = False
    ack_given: bool = False
    ecn: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SyscallStep(Step):
    """A system call with its expected result.

    ``end`` is the time written after ``...`` for a blocking call (absolute if
    the start time is absolute, else relative to the previous event), or ``None``.
    ``result`` is an int (or ``None`` for ``...``); ``errno`` the expected error
    name (one of :data:`ERRNO_TEXT`); ``note`` the text in parentheses after it.
    """

    name: str
    args: tuple[Arg, ...]
    result: int | None
    errno: str | None = None
    note: str | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AssertStep(Step):
    """A ``%{ ... }%`` block (Python checks of ``tcp_info``, see :mod:`tcpkit.drivers.pktcode`)."""

    code: CodeBlock

    @property
    def checks(self) -> int:
        """How many ``assert`` statements it holds."""
        return self.code.checks


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandStep(Step):
    """A shell command in backticks (``sysctl -w ...``, ``sockstat ...``, ...)."""

    command: str


@dataclass(frozen=True, slots=True)
class Script:
    """A parsed script.

    Attributes
    ----------
    path : where it came from (``"<string>"`` for text).
    steps : the events in order (including those inside every ``#ifdef`` branch).
    options : the ``--name=value`` header lines (value ``""`` for a bare ``--name``).
    tolerance_usecs : ``--tolerance_usecs`` as an int, or ``None``.
    ifdefs : the names tested by ``#ifdef``/``#ifndef``, in order of first use.
    ip_version : ``--ip_version`` (default ``ipv4``).
    """

    path: str
    steps: tuple[Step, ...]
    options: dict[str, str] = field(default_factory=dict)
    tolerance_usecs: int | None = None
    ifdefs: tuple[str, ...] = ()
    ip_version: str = "ipv4"


# --------------------------------------------------------------------------- the reader

_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_TIME = re.compile(rf"\*|(?P<p1>\+)?(?P<a>{_NUM})(?:~(?P<p2>\+)?(?P<b>{_NUM}))?(?:\.\.\.(?P<end>{_NUM}))?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPTION = re.compile(r"--(?P<name>[A-Za-z0-9_-]+)(?:=(?P<value>\S*))?\s*$")
_SPACE = re.compile(r"\s+")
_SPECIAL = re.compile(r'[`%/"]')
_NO_DIRECTION = re.compile(r"(?:[FSRPUEWC]+\.?|\.|none|-)\s+(?:\d+:\d+\(\d+\)|\.\.\.\(\d+\))")


class _Source:
    """The script text with comments blanked out and a line/column index."""

    def __init__(self, text: str, path: str) -> None:
        self.raw = text
        self.path = path
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.text = self._blank_comments(text)

    def where(self, pos: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.line_starts, pos) - 1
        return i + 1, pos - self.line_starts[i] + 1

    def line_text(self, line: int) -> str:
        start = self.line_starts[line - 1]
        end = self.raw.find("\n", start)
        return self.raw[start : end if end >= 0 else len(self.raw)]

    def error(self, pos: int, reason: str) -> ScriptSyntaxError:
        """The error at character ``pos``: ``path:line:column: reason``, then the line and a caret."""
        pos = max(0, min(pos, len(self.raw)))
        line, col = self.where(pos)
        shown = self.line_text(line)
        if len(shown) <= 200:
            return ScriptSyntaxError(self.path, line, col, reason, shown)
        # a very long line: show 200 characters around the column, the caret under it
        lo = max(0, col - 100)
        err = ScriptSyntaxError(self.path, line, col, reason)
        err.text = shown[lo : lo + 200]
        err.args = (f"{err.args[0]}\n  {err.text}\n  {' ' * (col - lo - 1)}^",)
        return err

    def _blank_comments(self, text: str) -> str:
        """Replace ``//`` and ``/* */`` comments by spaces (newlines kept), outside backticks, strings and ``%{ }%``.

        One pass: ``_SPECIAL`` jumps to the next character that can start something, so the work is
        linear in the length of the text.
        """
        pieces: list[str] = []
        done = 0  # text[:done] is already in pieces
        i, n = 0, len(text)
        while True:
            m = _SPECIAL.search(text, i)
            if m is None:
                break
            i = m.start()
            c = text[i]
            if c == "`":
                j = text.find("`", i + 1)
                if j < 0:
                    raise self.error(i, "unterminated shell command: a backtick ` has no closing backtick")
                i = j + 1
            elif c == '"':
                j = text.find('"', i + 1)
                nl = text.find("\n", i + 1)
                while j > 0 and text[j - 1] == "\\" and (nl < 0 or j < nl):
                    j = text.find('"', j + 1)
                # an unterminated string is reported by the argument reader; go on after the line
                i = (j + 1) if j >= 0 and (nl < 0 or j < nl) else (nl if nl >= 0 else n)
            elif text.startswith("%{", i):
                j = text.find("}%", i + 2)
                if j < 0:
                    raise self.error(i, "unterminated %{ block: expected }% to close it")
                i = j + 2
            elif text.startswith("//", i):
                j = text.find("\n", i)
                j = n if j < 0 else j
                pieces += [text[done:i], " " * (j - i)]
                done = i = j
            elif text.startswith("/*", i):
                j = text.find("*/", i + 2)
                if j < 0:
                    raise self.error(i, "unterminated comment: /* has no closing */")
                pieces += [text[done:i], re.sub(r"[^\n]", " ", text[i : j + 2])]
                done = i = j + 2
            else:
                i += 1
        pieces.append(text[done:])
        return "".join(pieces)


def parse_script(text: str, path: str = "<string>") -> Script:
    """Parse the text of a packetdrill script.

    Parameters
    ----------
    text : str
        The script.
    path : str
        Used in error messages.

    Returns
    -------
    Script

    Raises
    ------
    ScriptSyntaxError
        With ``path:line:column`` and a reason naming what is allowed, for anything this reader
        does not understand or refuses (unknown system calls and errno names, numbers out of
        range, a script over :data:`MAX_SCRIPT_BYTES`).

    Examples
    --------
    >>> parse_script("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\\n+0 frobnicate(3) = 0", "x.pkt")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ScriptSyntaxError: x.pkt:2:4: unknown system call 'frobnicate' (supported: socket, bind, ...
      +0 frobnicate(3) = 0
         ^
    >>> parse_script("+0 < S 0:0(0) win 100 <mss>")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ScriptSyntaxError: <string>:1:24: unknown or malformed option 'mss' ...
    >>> parse_script("+0 S 0:0(0) win 100")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ScriptSyntaxError: <string>:1:4: missing < or > before the packet ...
    >>> parse_script("0 close(3) = -1 ECONNREFUZED")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ScriptSyntaxError: <string>:1:17: unknown errno 'ECONNREFUZED' (did you mean ECONNREFUSED?) ...
    """
    if not isinstance(text, str):
        raise ScriptSyntaxError(str(path), 0, 0, f"a script must be text (str), got {type(text).__name__}")
    if len(text) > MAX_SCRIPT_BYTES or len(text.encode("utf-8", errors="surrogatepass")) > MAX_SCRIPT_BYTES:
        raise ScriptSyntaxError(
            path,
            1,
            1,
            f"the script is {len(text.encode('utf-8', errors='surrogatepass'))} bytes long: "
            f"at most {MAX_SCRIPT_BYTES} bytes ({MAX_SCRIPT_BYTES // (1024 * 1024)} MiB) are read",
        )
    src = _Source(text, path)
    body = src.text
    steps: list[Step] = []
    options: dict[str, str] = {}
    tol: int | None = None
    ip_version = "ipv4"
    conds: list[tuple[str, bool, int]] = []  # (name, wanted, pos of the #ifdef)
    ifdefs: list[str] = []
    known: set[str] = set()  # names assigned in %{ }% blocks so far
    pos, n = 0, len(body)
    while pos < n:
        m = _SPACE.match(body, pos)
        if m:
            pos = m.end()
            continue
        line_end = body.find("\n", pos)
        line_end = n if line_end < 0 else line_end
        line_str = body[pos:line_end].rstrip()
        if line_str.startswith("#"):
            _directive(src, pos, line_str, conds, ifdefs)
            pos = line_end
            continue
        if line_str.startswith("--"):
            name, value = _option(src, pos, line_str)
            options[name] = value
            if name == "tolerance_usecs":
                tol = _tolerance(src, pos, value)
            elif name == "ip_version":
                if value not in IP_VERSIONS:
                    raise src.error(pos, f"--ip_version={value} is not known (allowed: {', '.join(IP_VERSIONS)})")
                ip_version = value
            pos = line_end
            continue
        step, pos = _event(src, pos, tuple((c, w) for c, w, _ in conds), known)
        steps.append(step)
    if conds:
        raise src.error(conds[-1][2], f"#ifdef {conds[-1][0]} has no matching #endif")
    return Script(path, tuple(steps), options, tol, tuple(ifdefs), ip_version)


def load_script(path: str | Path) -> Script:
    """Read and parse a script file (UTF-8, at most :data:`MAX_SCRIPT_BYTES`).

    Raises
    ------
    ScriptSyntaxError
        Also when the file cannot be read or is not a regular file (line 0, column 0), is too
        large, or is not UTF-8 (with the line and column of the first bad byte).

    Examples
    --------
    >>> load_script("/nonexistent.pkt")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ScriptSyntaxError: /nonexistent.pkt:0:0: cannot read the script: ...
    """
    p = Path(path)
    try:
        if p.exists() and not p.is_file():
            raise ScriptSyntaxError(str(path), 0, 0, "cannot read the script: it is not a regular file")
        with p.open("rb") as f:
            data = f.read(MAX_SCRIPT_BYTES + 1)
            size = max(len(data), p.stat().st_size)
    except OSError as exc:
        raise ScriptSyntaxError(str(path), 0, 0, f"cannot read the script: {exc.strerror or exc}") from None
    if size > MAX_SCRIPT_BYTES:
        raise ScriptSyntaxError(
            str(path),
            1,
            1,
            f"the script is {size} bytes long: at most {MAX_SCRIPT_BYTES} bytes "
            f"({MAX_SCRIPT_BYTES // (1024 * 1024)} MiB) are read",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise ScriptSyntaxError(
            str(path), line, col, f"byte 0x{data[exc.start]:02x} is not UTF-8 text (scripts are read as UTF-8)"
        ) from None
    return parse_script(text, str(path))


def _option(src: _Source, pos: int, line: str) -> tuple[str, str]:
    om = _OPTION.match(line)
    if not om:
        raise src.error(pos, f"malformed option line {line[:60]!r}: expected --name=value")
    return om.group("name"), om.group("value") or ""


def _tolerance(src: _Source, pos: int, value: str) -> int:
    if not value.isdigit() or len(value) > 12 or int(value) > MAX_TOLERANCE_USECS:
        raise src.error(
            pos,
            f"--tolerance_usecs must be a whole number of microseconds from 0 to {MAX_TOLERANCE_USECS}, "
            f"got {value[:40]!r}",
        )
    return int(value)


def _directive(src: _Source, pos: int, line: str, conds: list[tuple[str, bool, int]], ifdefs: list[str]) -> None:
    words = line.split()
    word = words[0]
    if word in ("#ifdef", "#ifndef"):
        if len(words) != 2 or not _IDENT.fullmatch(words[1]):
            raise src.error(pos, f"{word} needs exactly one name, e.g. '{word} FreeBSD'")
        if len(conds) >= 64:
            raise src.error(pos, "#ifdef nested more than 64 deep")
        conds.append((words[1], word == "#ifdef", pos))
        if words[1] not in ifdefs:
            ifdefs.append(words[1])
    elif word == "#else":
        if not conds:
            raise src.error(pos, "#else without #ifdef")
        name, wanted, at = conds.pop()
        conds.append((name, not wanted, at))
    elif word == "#endif":
        if not conds:
            raise src.error(pos, "#endif without #ifdef")
        conds.pop()
    else:
        raise src.error(pos, f"unsupported directive {word[:40]!r} (allowed: #ifdef, #ifndef, #else, #endif)")


def _event(src: _Source, pos: int, conds: tuple[tuple[str, bool], ...], known: set[str]) -> tuple[Step, int]:
    """Parse one timed event starting at ``pos``; return it and the position after it."""
    body = src.text
    start = pos
    line, col = src.where(start)
    if body[pos] == "`":
        # An untimed shell command (packetdrill allows these, typically in the header):
        # it runs right after the previous event, i.e. at "+0".
        close = body.find("`", pos + 1)
        _rest_empty(src, close + 1)
        return (
            CommandStep(
                line=line,
                column=col,
                time=TimeSpec("relative", 0.0),
                conditions=conds,
                text=body[start : close + 1],
                command=body[pos + 1 : close].strip(),
            ),
            close + 1,
        )
    tm = _TIME.match(body, pos)
    if not tm or tm.end() == pos:
        line_end = body.find("\n", pos)
        rest = body[pos : line_end if line_end >= 0 else len(body)]
        if rest[:1] in "<>" or _NO_DIRECTION.match(rest):
            raise src.error(pos, "expected a time (such as 0, +0.1, *, +0~+0.04) before the packet")
        raise src.error(pos, "expected a time (such as 0, +0.1, *, +0~+0.04) at the start of the event")
    time, end = _time_spec(src, tm, pos)
    pos = tm.end()
    if pos < len(body) and not body[pos].isspace():
        raise src.error(pos, f"expected a space after the time, got {body[pos]!r}")
    while pos < len(body) and body[pos] in " \t":
        pos += 1
    line_end = body.find("\n", pos)
    line_end = len(body) if line_end < 0 else line_end
    if pos >= line_end:
        raise src.error(pos, "expected an event after the time: < or > packet, system call, `command` or %{ }%")
    c = body[pos]
    common: dict[str, Any] = {"line": line, "column": col, "time": time, "conditions": conds}
    if c in "<>" and end is None:
        step: Step = _packet(src, pos, c, body[pos + 1 : line_end], common)
        return step, line_end
    if c == "`" and end is None:
        close = body.find("`", pos + 1)  # _Source guarantees it exists
        cmd = body[pos + 1 : close]
        _rest_empty(src, close + 1)
        return CommandStep(text=body[start : close + 1], command=cmd.strip(), **common), close + 1
    if body.startswith("%{", pos) and end is None:
        close = body.find("}%", pos + 2)
        try:
            code = parse_code(body[pos + 2 : close], known=known)
        except CodeError as exc:
            raise src.error(pos + 2 + exc.offset, exc.reason) from None
        _rest_empty(src, close + 2)
        return AssertStep(text=body[start : close + 2], code=code, **common), close + 2
    if end is not None and (c in "<>`" or body.startswith("%{", pos)):
        raise src.error(tm.start("end") - 3, "only a system call can block: '...END' is allowed before a system call")
    rest = body[pos:line_end]
    if _NO_DIRECTION.match(rest):
        word = rest.split()[0]
        raise src.error(
            pos,
            f"missing < or > before the packet '{word} ...': write '< {word} ...' for a segment that arrives at "
            f"the host, '> {word} ...' for one the host must send",
        )
    if _IDENT.match(body, pos):
        # A call may go on over several lines while a ( [ { is open, as the suites write long
        # poll() and recvmsg() calls (packetdrill's lexer ignores newlines).
        call_end = _call_end(src, pos, line_end)
        return _syscall(src, pos, body[pos:call_end], end, body[start:call_end].rstrip(), common), call_end
    raise src.error(pos, f"unexpected {c!r}: expected < or > packet, system call, `command` or %{{ }}%")


_BRACKETS = re.compile(r'[(\[{)\]}"\n]')
#: A line that starts a new event (a time, then a packet, command, block or call): a call that is
#: still open when such a line comes is not continued onto it.
_EVENT_START = re.compile(
    r"[ \t]*(?:\*|\+?(?:\d+(?:\.\d+)?|\.\d+)(?:~\+?[\d.]+)?(?:\.\.\.[\d.]+)?)[ \t]+(?:[<>`]|%\{|[A-Za-z_]\w*[ \t]*\()"
)


def _call_end(src: _Source, pos: int, line_end: int) -> int:
    """Where a system call that starts at ``pos`` ends: the end of the line on which its brackets close.

    A call goes on over the next lines only while a ``(``, ``[`` or ``{`` is open and the next line
    does not start a new event; otherwise it ends at its own line, where the argument reader says
    what is missing.  Each character is looked at once.
    """
    body = src.text
    segment = body[pos:line_end]
    if segment.count("(") == segment.count(")") and "[" not in segment and "{" not in segment:
        return line_end  # the common case: one line, nothing left open
    depth, i, n = 0, pos, len(body)
    while True:
        m = _BRACKETS.search(body, i)
        if m is None:
            return line_end if depth > 0 else n
        c = m.group()
        i = m.end()
        if c == "\n":
            if depth <= 0:
                return m.start()
            if _EVENT_START.match(body, i):
                return line_end
        elif c == '"':
            j = body.find('"', i)
            nl = body.find("\n", i)
            while j > 0 and body[j - 1] == "\\" and (nl < 0 or j < nl):
                j = body.find('"', j + 1)
            if j < 0 or 0 <= nl < j:
                return line_end  # an unterminated string: the argument reader reports it
            i = j + 1
        elif c in "([{":
            depth += 1
        else:
            depth -= 1


def _rest_empty(src: _Source, pos: int) -> None:
    line_end = src.text.find("\n", pos)
    rest = src.text[pos : line_end if line_end >= 0 else len(src.text)]
    if rest.strip():
        raise src.error(pos + len(rest) - len(rest.lstrip()), f"unexpected text after the event: {rest.strip()[:60]!r}")


def _seconds(src: _Source, pos: int, text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value > MAX_TIME:
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise src.error(pos, f"time {shown} is out of range (allowed: 0 to {MAX_TIME:g} seconds)")
    return value


def _time_spec(src: _Source, tm: re.Match[str], pos: int) -> tuple[TimeSpec, float | None]:
    if tm.group(0) == "*":
        return TimeSpec("any"), None
    rel = tm.group("p1") is not None
    a = _seconds(src, tm.start("a"), tm.group("a"))
    end = _seconds(src, tm.start("end"), tm.group("end")) if tm.group("end") is not None else None
    if tm.group("b") is not None:
        if rel != (tm.group("p2") is not None):
            raise src.error(pos, "a time range must be both relative (+a~+b) or both absolute (a~b)")
        b = _seconds(src, tm.start("b"), tm.group("b"))
        if b < a:
            raise src.error(pos, f"a time range must not end before it starts ({a:g} > {b:g})")
        if end is not None:
            raise src.error(tm.start("end") - 3, "a blocking call takes a single start time, not a range")
        return TimeSpec("relative_range" if rel else "absolute_range", a, b), None
    return TimeSpec("relative" if rel else "absolute", a), end


_SEQ_ANY = re.compile(r"(?<=\s)\.\.\.\((\d+)\)")
_ACK_WORD = re.compile(r"\back\s")
_RANGE_LEN = re.compile(r"\d+:\d+\((\d+)\)")
_LONG_NUM = re.compile(r"\d{21,}")


def _packet(src: _Source, pos: int, direction: str, seg_text: str, common: dict[str, Any]) -> PacketStep:
    """Parse the segment after ``<``/``>``, allowing ``[ect0]``, ``...(N)`` and ``ack N`` without the ACK flag."""
    base = pos + 1  # position of seg_text[0]
    ecn: str | None = None
    stripped = seg_text.lstrip()
    if stripped.startswith("["):
        close = stripped.find("]")
        mark = stripped[1:close].strip() if close > 0 else ""
        at = base + len(seg_text) - len(stripped)
        if close < 0 or mark not in ECN_MARKS:
            raise src.error(
                at,
                f"unknown IP ECN mark {stripped[: close + 1 if close > 0 else 12]!r} "
                f"(allowed: {', '.join('[' + m + ']' for m in ECN_MARKS)})",
            )
        if mark == "ect01" and direction == "<":
            raise src.error(at, "[ect01] (either ECT codepoint) can only be used with outbound packets")
        ecn = mark
        cut = len(seg_text) - len(stripped) + close + 1
        base += cut
        seg_text = seg_text[cut:]
    text = seg_text.rstrip()
    seq_any = False
    m = _SEQ_ANY.search(text)
    if m:
        n_ = m.group(1)
        if len(n_) > 6 or int(n_) > MAX_PAYLOAD:
            raise src.error(base + m.start(1), f"payload length {n_[:20]} is out of range (at most {MAX_PAYLOAD})")
        seq_any = True
        text = text[: m.start()] + f"0:{n_}({n_})" + text[m.end() :]
        # the replacement is longer than "...(N)": columns after it are shifted, see below
    shift_at, shift = (m.end(), len(f"0:{m.group(1)}({m.group(1)})") - (m.end() - m.start())) if m else (-1, 0)
    long_num = _LONG_NUM.search(text)
    if long_num:
        col = long_num.start() - (shift if 0 <= shift_at <= long_num.start() else 0)
        raise src.error(base + col, f"number {long_num.group()[:20]}... is out of range (at most 4294967295)")
    rm = _RANGE_LEN.search(text)
    if rm and not seq_any and (len(rm.group(1)) > 10 or int(rm.group(1)) > MAX_PAYLOAD):
        raise src.error(
            base + rm.start(1),
            f"payload length {rm.group(1)[:20]} is out of range: a segment carries at most {MAX_PAYLOAD} bytes "
            "(IPv4 Total Length is 16 bits, less 20-byte IP and TCP headers)",
        )
    head = text.split("<", 1)[0]
    ack_given = _ACK_WORD.search(head) is not None
    tokens = head.split()
    insert_at = -1
    if tokens and ack_given and "." not in tokens[0] and tokens[0] != "none":
        # packetdrill accepts "F 17:20(3) ack 34": an ack number without the ACK flag.
        ftok = re.search(r"\S+", text)
        assert ftok is not None
        insert_at = ftok.end()
        text = text[:insert_at] + "." + text[insert_at:]
    try:
        seg = parse_segment(text)
    except SegmentSyntaxError as exc:
        col = exc.column - 1
        if insert_at >= 0 and col > insert_at:
            col -= 1
        if shift_at >= 0 and col >= shift_at + shift:
            col -= shift
        raise src.error(base + col, exc.reason) from None
    if insert_at >= 0:
        seg = seg.replace(flags=seg.flags & ~Flags.ACK)
    if seg.options is None and direction == "<":
        at = text.find("<...>")
        raise src.error(
            base + max(at, 0) - (shift if 0 <= shift_at < at else 0),
            "<...> (options not checked) is only for outbound > packets: an inbound packet needs its options "
            "written, e.g. <mss 1460,sackOK>, or none at all",
        )
    opt_bytes = seg.options_size()
    if opt_bytes > MAX_OPTION_BYTES:
        at = text.find("<")
        raise src.error(
            base + max(at, 0) - (shift if 0 <= shift_at < at else 0),
            f"the options take {opt_bytes} bytes: at most {MAX_OPTION_BYTES} fit in a TCP header "
            "(Data Offset is 4 bits, RFC 9293 §3.1)",
        )
    limit = MAX_PAYLOAD - ((opt_bytes + 3) // 4) * 4
    if seg.length > limit:
        raise src.error(
            base + (rm.start(1) if rm else 0),
            f"payload length {seg.length} is out of range: with {opt_bytes} bytes of options a segment carries "
            f"at most {limit} bytes (IPv4 Total Length is 16 bits, less 20-byte IP and TCP headers and options)",
        )
    return PacketStep(
        text=src.line_text(common["line"]).strip(),
        direction=direction,  # type: ignore[arg-type]
        segment=seg,
        seq_any=seq_any,
        ack_given=ack_given,
        ecn=ecn,
        **common,
    )


# --------------------------------------------------------------------------- system calls

_TOKEN = re.compile(
    r"\s*(?:(?P<ell>\.\.\.)|(?P<num>-?0[xX][0-9a-fA-F]+|-?\d+(?:\.\d*)?|-?\.\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<str>\"(?:\\.|[^\"\\\n])*\")|(?P<punct>[()\[\],|={}])|(?P<bad>\S))"
)


class _Tokens:
    """The tokens of one syscall line, read left to right once (linear in the line)."""

    def __init__(self, src: _Source, base: int, text: str) -> None:
        self.src, self.base, self.text, self.i = src, base, text, 0
        self._cache: tuple[int, tuple[tuple[str, str, int], int] | None] | None = None

    def _scan(self) -> tuple[tuple[str, str, int], int] | None:
        if self._cache is not None and self._cache[0] == self.i:
            return self._cache[1]
        m = _TOKEN.match(self.text, self.i)
        r: tuple[tuple[str, str, int], int] | None = None
        if m and m.end() > self.i:
            kind = m.lastgroup
            assert kind is not None
            val = m.group(kind)
            p = self.base + m.start(kind)
            if kind == "bad":
                if val == '"':
                    raise self.src.error(p, 'unterminated string: a " has no closing " on this line')
                raise self.src.error(p, f"unexpected character {val!r}")
            r = ((kind, val, p), m.end())
        self._cache = (self.i, r)
        return r

    def peek(self) -> tuple[str, str, int] | None:
        r = self._scan()
        return r[0] if r else None

    def take(self) -> tuple[str, str, int]:
        r = self._scan()
        if r is None:
            raise self.src.error(self.base + len(self.text.rstrip()), "unexpected end of line")
        self.i = r[1]
        return r[0]

    def expect(self, value: str, what: str) -> int:
        kind, val, pos = self.take()
        if val != value:
            raise self.src.error(pos, f"expected {what}, got {val!r}")
        return pos


def _number(toks: _Tokens, val: str, pos: int, what: str = "a number") -> int:
    if "." in val and not val.lower().startswith(("0x", "-0x")):
        raise toks.src.error(pos, f"expected a whole number here, got {val!r}")
    if len(val) > 24:
        raise toks.src.error(pos, f"{what} {val[:20]}... is out of range (allowed: {_MIN_INT} to {_MAX_INT})")
    v = int(val, 0) if not re.fullmatch(r"-?0\d+", val) else int(val, 10)
    if not _MIN_INT <= v <= _MAX_INT:
        raise toks.src.error(pos, f"{what} {val} is out of range (allowed: {_MIN_INT} to {_MAX_INT})")
    return v


def _string(toks: _Tokens, val: str, pos: int) -> str:
    inner = val[1:-1]
    return re.sub(r"\\(.)", r"\1", inner)


def _function(toks: _Tokens, name: str, pos: int, depth: int) -> Call:
    if name not in FUNCTIONS:
        raise toks.src.error(pos, f"unknown function {name!r} (allowed: {', '.join(FUNCTIONS)})")
    toks.expect("(", f"'(' after {name}")
    arg = _arg(toks, depth + 1)
    close = toks.take()
    if close[1] != ")":
        raise toks.src.error(close[2], f"{name}() takes one argument: {FUNCTIONS[name]}")
    ok = False
    if name in ("htons", "ntohs"):
        ok = isinstance(arg, int) and 0 <= arg <= 0xFFFF
    elif name in ("htonl", "ntohl"):
        ok = isinstance(arg, int) and 0 <= arg <= 0xFFFFFFFF
    elif isinstance(arg, str):
        try:
            (ipaddress.IPv4Address if name == "inet_addr" else ipaddress.IPv6Address)(arg)
            ok = True
        except ValueError:
            ok = False
    if not ok:
        raise toks.src.error(pos, f"{name}({arg}) is not allowed: expected {FUNCTIONS[name]}")
    return Call(name, (arg,))


def _arg(toks: _Tokens, depth: int = 0) -> Arg:
    if depth > MAX_NESTING:
        nxt = toks.peek()
        raise toks.src.error(
            nxt[2] if nxt else toks.base, f"arguments nested too deeply (at most {MAX_NESTING} levels of [ ] and {{ }})"
        )
    kind, val, pos = toks.take()
    item: Arg
    if kind == "ell":
        item = ANY
    elif kind == "num":
        item = _number(toks, val, pos)
    elif kind == "id":
        nxt = toks.peek()
        item = _function(toks, val, pos, depth) if nxt is not None and nxt[1] == "(" else Name(val)
    elif kind == "str":
        item = _string(toks, val, pos)
        nxt = toks.peek()
        if nxt is not None and nxt[0] == "ell":  # "abc"... : a string the call may extend
            toks.take()
    elif val == "[":
        items: list[Arg] = []
        if (nxt := toks.peek()) is not None and nxt[1] == "]":
            toks.take()
        else:
            while True:
                items.append(_arg(toks, depth + 1))
                k2, v2, p2 = toks.take()
                if v2 == "]":
                    break
                if v2 != ",":
                    raise toks.src.error(p2, f"expected , or ] in a [...] value, got {v2!r}")
        item = Bracket(tuple(items))
    elif val == "{":
        item = _struct(toks, depth)
    else:
        raise toks.src.error(pos, f"expected an argument, got {val!r}")
    nxt = toks.peek()
    if nxt is not None and nxt[1] == "|":
        parts = [item]
        while (nxt := toks.peek()) is not None and nxt[1] == "|":
            toks.take()
            k, v, p = toks.take()
            if k not in ("id", "num"):
                raise toks.src.error(p, f"expected a flag name after |, got {v!r}")
            parts.append(Name(v) if k == "id" else _number(toks, v, p))
        return BitOr(tuple(parts))
    return item


def _struct(toks: _Tokens, depth: int) -> Struct:
    """``{name=value, name(index)=value, value, ...}`` (the opening brace is taken)."""
    fields: list[Field] = []
    seen: set[str] = set()
    if (nxt := toks.peek()) is not None and nxt[1] == "}":
        toks.take()
        return Struct(())
    while True:
        nxt = toks.peek()
        member: Field
        if nxt is not None and nxt[0] == "id" and nxt[1] not in FUNCTIONS:
            save_i = toks.i
            k, name, p = toks.take()
            index: Arg | None = None
            after = toks.peek()
            if after is not None and after[1] == "(":
                toks.take()
                index = _arg(toks, depth + 1)
                toks.expect(")", f"')' after {name}(...")
                after = toks.peek()
            if after is not None and after[1] == "=":
                toks.take()
                if name in seen:
                    raise toks.src.error(p, f"struct member {name!r} given twice")
                seen.add(name)
                member = Field(name, _arg(toks, depth + 1), index)
            elif index is None:
                toks.i = save_i
                member = Field(None, _arg(toks, depth + 1))
            else:
                raise toks.src.error(p, f"expected '=' after {name}(...) in a struct")
        else:
            member = Field(None, _arg(toks, depth + 1))
        fields.append(member)
        k2, v2, p2 = toks.take()
        if v2 == "}":
            break
        if v2 != ",":
            raise toks.src.error(p2, f"expected , or }} in a struct {{...}}, got {v2!r}")
    return Struct(tuple(fields))


#: Arguments that must be whole numbers: call -> {index: what it is}.
_NUMBER_ARGS: dict[str, dict[int, str]] = {
    **{c: {0: "a file descriptor"} for c in SYSCALLS if c not in ("socket", "poll")},
    **{c: {0: "a file descriptor", 2: "a byte count"} for c in ("read", "recv", "recvfrom", "write", "send", "sendto")},
    "listen": {0: "a file descriptor", 1: "a backlog"},
    "poll": {1: "the number of pollfds", 2: "a timeout in milliseconds"},
}
_ARG_COUNT: dict[str, tuple[int, int]] = {
    "socket": (3, 3),
    "bind": (3, 3),
    "listen": (2, 2),
    "accept": (3, 3),
    "connect": (3, 3),
    "read": (3, 3),
    "readv": (3, 3),
    "recv": (4, 4),
    "recvfrom": (6, 6),
    "recvmsg": (3, 3),
    "write": (3, 3),
    "writev": (3, 3),
    "send": (4, 4),
    "sendto": (6, 6),
    "sendmsg": (3, 3),
    "close": (1, 1),
    "shutdown": (2, 2),
    "setsockopt": (5, 5),
    "getsockopt": (5, 5),
    "fcntl": (2, 3),
    "poll": (3, 3),
}


def _check_args(src: _Source, npos: int, name: str, args: list[Arg], arg_pos: list[int]) -> None:
    """How many arguments a call takes, and which of them must be whole numbers (fds, counts)."""
    lo, hi = _ARG_COUNT[name]
    if not lo <= len(args) <= hi:
        want = str(lo) if lo == hi else f"{lo} or {hi}"
        raise src.error(npos, f"{name}() takes {want} arguments, got {len(args)}")
    for i, what in _NUMBER_ARGS.get(name, {}).items():
        v = args[i]
        if not isinstance(v, int):
            shown = str(v) if len(str(v)) <= 40 else str(v)[:37] + "..."
            raise src.error(arg_pos[i], f"argument {i + 1} of {name}() must be {what} (a whole number), got {shown}")
        if isinstance(v, int) and v < (-1 if what.startswith("a timeout") else 0):
            raise src.error(arg_pos[i], f"argument {i + 1} of {name}() must be {what} >= 0, got {v}")


_LINGER_MEMBERS = ("l_onoff", "l_linger", "onoff", "linger")
_SOCKADDR_MEMBERS = (
    "sa_family",
    "sin_family",
    "sin_port",
    "sin_addr",
    "sin6_family",
    "sin6_port",
    "sin6_addr",
    "sin6_flowinfo",
    "sin6_scope_id",
)
_POLLFD_MEMBERS = ("fd", "events", "revents")


def _check_members(src: _Source, pos: int, text: str, name: str, args: list[Arg]) -> None:
    """The struct members of the calls whose structs the runner reads must be ones those structs have."""

    def check(value: Arg, allowed: tuple[str, ...] | frozenset[str], what: str) -> None:
        if not isinstance(value, Struct):
            return
        for member in value.names():
            if member not in allowed:
                at = text.find(member + "=")
                close = difflib.get_close_matches(member, sorted(allowed), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise src.error(
                    pos + max(at, 0), f"{what} has no member {member!r}{hint} (allowed: {', '.join(sorted(allowed))})"
                )

    opt = str(args[2]) if len(args) > 2 else ""
    if name in ("setsockopt", "getsockopt") and len(args) > 3:
        if opt == "SO_LINGER":
            check(args[3], _LINGER_MEMBERS, "struct linger")
        elif opt == "TCP_INFO":
            check(args[3], TCP_INFO_FIELDS, "struct tcp_info")
    elif name in ("bind", "connect") and len(args) > 1:
        check(args[1], _SOCKADDR_MEMBERS, "struct sockaddr")
    elif name == "poll" and args and isinstance(args[0], Bracket):
        for item in args[0].items:
            check(item, _POLLFD_MEMBERS, "struct pollfd")


def _syscall(src: _Source, pos: int, text: str, end: float | None, whole: str, common: dict[str, Any]) -> SyscallStep:
    toks = _Tokens(src, pos, text)
    kind, name, npos = toks.take()
    if name not in SYSCALLS:
        close = difflib.get_close_matches(name, SYSCALLS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise src.error(npos, f"unknown system call {name[:40]!r}{hint} (supported: {', '.join(SYSCALLS)})")
    toks.expect("(", f"'(' after {name}")
    args: list[Arg] = []
    arg_pos: list[int] = []
    nxt = toks.peek()
    if nxt is not None and nxt[1] == ")":
        toks.take()
    else:
        while True:
            first = toks.peek()
            arg_pos.append(first[2] if first is not None else pos)
            args.append(_arg(toks))
            k, v, p = toks.take()
            if v == ")":
                break
            if v != ",":
                raise src.error(p, f"expected , or ) between arguments, got {v!r}")
    toks.expect("=", "'= RESULT' after the call")
    k, v, p = toks.take()
    result: int | None
    if k == "num":
        result = _number(toks, v, p, "the result")
    elif k == "ell":
        result = None
    else:
        raise src.error(p, f"the result must be a number (or ...), got {v!r}")
    errno: str | None = None
    note: str | None = None
    nxt = toks.peek()
    if nxt is not None and nxt[0] == "id":
        toks.take()
        errno = nxt[1]
        if errno not in ERRNO_TEXT:
            close = difflib.get_close_matches(errno, ERRNO_TEXT, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            what = "errno" if errno.startswith("E") else "errno name (such as ECONNRESET)"
            raise src.error(nxt[2], f"unknown {what} {errno[:40]!r}{hint} (allowed: {', '.join(sorted(ERRNO_TEXT))})")
        nxt = toks.peek()
    if nxt is not None and nxt[1] == "(":
        close_at = text.rfind(")")
        open_ = nxt[2] - pos
        if close_at < open_:
            raise src.error(nxt[2], "the note in parentheses has no closing )")
        note = text[open_ + 1 : close_at].strip()
        toks.i = close_at + 1
        nxt = toks.peek()
    if nxt is not None:
        raise src.error(nxt[2], f"unexpected {nxt[1]!r} after the result (allowed: an errno name, then a (note))")
    if errno is not None and result != -1:
        raise src.error(p, f"an errno ({errno}) goes with a result of -1, not {result}")
    _check_args(src, npos, name, args, arg_pos)
    _check_members(src, pos, text, name, args)
    return SyscallStep(
        text=whole.strip(), name=name, args=tuple(args), result=result, errno=errno, note=note, end=end, **common
    )
