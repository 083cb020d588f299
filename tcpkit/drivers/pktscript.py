"""Read packetdrill scripts (packetdrill 测试脚本): times, packets, syscalls, ``%{ }%`` asserts, shell commands.

packetdrill (google/packetdrill) tests a kernel's TCP with a script: each line
has a time, then one action.  ``<`` lines are segments injected into the host
under test, ``>`` lines are segments it must send, syscall lines are what its
application calls (with the result it must get), `````command````` lines run
on the host, and ``%{ ... }%`` blocks check ``tcp_info``.  This module only
*reads* scripts into :class:`Script` values; :mod:`tcpkit.drivers.packetdrill` runs
them against the engine.

Examples
--------
>>> s = parse_script('''
... --tolerance_usecs=10000
... 0   socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
... +0  connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
... +0  > S 0:0(0) <...>
... +.1 < S. 0:0(0) ack 1 win 32000
... +0  %{ assert tcpi_state == TCP_ESTABLISHED }%
... ''')
>>> s.tolerance_usecs, len(s.steps)
(10000, 5)
>>> call = s.steps[1]
>>> call.name, call.result, call.errno
('connect', -1, 'EINPROGRESS')
>>> s.steps[2].direction, s.steps[2].segment.notation()
('>', 'S 0:0(0) <...>')
>>> s.steps[3].time
TimeSpec(kind='relative', start=0.1, end=None)
>>> s.steps[4].checks
(Check(field='tcpi_state', op='==', value='TCP_ESTABLISHED'),)

Notes
-----
The language is described in packetdrill's ``syntax.md`` and defined by its
``parser.y``/``lexer.l`` (google/packetdrill, ``gtests/net/packetdrill``):
``+t`` is relative to the previous event, ``*`` is any time, ``a~b`` a range,
and ``start...end`` after a time marks a blocking system call.  This is an
independent reader written from that description, not a port.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tcpkit.engine.errors import ScriptSyntaxError, SegmentSyntaxError
from tcpkit.engine.segment import Flags, Segment, parse_segment

__all__ = [
    "TimeSpec",
    "Name",
    "BitOr",
    "Bracket",
    "Ellipsis_",
    "ANY",
    "Arg",
    "Step",
    "PacketStep",
    "SyscallStep",
    "Check",
    "AssertStep",
    "CommandStep",
    "Script",
    "SYSCALLS",
    "parse_script",
    "load_script",
]

#: The system calls a script may make (packetdrill supports more; these are the ones tcpkit models).
SYSCALLS: tuple[str, ...] = (
    "socket",
    "bind",
    "listen",
    "accept",
    "connect",
    "read",
    "recv",
    "write",
    "send",
    "close",
    "shutdown",
    "setsockopt",
    "getsockopt",
    "fcntl",
)

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
    """A value passed by pointer, written ``[value]`` (e.g. ``[1]``, ``[ECONNRESET]``)."""

    items: tuple[Arg, ...]

    def __str__(self) -> str:
        return "[" + ", ".join(str(i) for i in self.items) + "]"


@dataclass(frozen=True, slots=True)
class Ellipsis_:
    """``...``: an argument the script does not care about."""

    def __str__(self) -> str:
        return "..."


#: The single ``...`` value.
ANY = Ellipsis_()

Arg = int | str | Name | BitOr | Bracket | Ellipsis_


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
    (a packetdrill line may give an ack number without the ACK flag).
    """

    direction: Literal["<", ">"]
    segment: Segment
    seq_any: bool = False
    ack_given: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SyscallStep(Step):
    """A system call with its expected result.

    ``end`` is the time written after ``...`` for a blocking call (absolute if
    the start time is absolute, else relative to the previous event), or ``None``.
    ``result`` is an int (or ``None`` for ``...``); ``errno`` the expected error
    name; ``note`` the text in parentheses after it.
    """

    name: str
    args: tuple[Arg, ...]
    result: int | None
    errno: str | None = None
    note: str | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """One comparison inside ``%{ assert ... }%``: ``field op value``."""

    field: str
    op: str
    value: int | str


@dataclass(frozen=True, slots=True, kw_only=True)
class AssertStep(Step):
    """A ``%{ assert tcpi_state == TCP_ESTABLISHED }%`` block: every check must hold."""

    checks: tuple[Check, ...]


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
    """

    path: str
    steps: tuple[Step, ...]
    options: dict[str, str] = field(default_factory=dict)
    tolerance_usecs: int | None = None
    ifdefs: tuple[str, ...] = ()


# --------------------------------------------------------------------------- the reader

_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_TIME = re.compile(rf"\*|(?P<p1>\+)?(?P<a>{_NUM})(?:~(?P<p2>\+)?(?P<b>{_NUM}))?(?:\.\.\.(?P<end>{_NUM}))?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPTION = re.compile(r"--(?P<name>[A-Za-z0-9_-]+)(?:=(?P<value>\S*))?\s*$")


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
        line, col = self.where(pos)
        return ScriptSyntaxError(self.path, line, col, reason, self.line_text(line))

    def _blank_comments(self, text: str) -> str:
        """Replace ``//`` and ``/* */`` comments by spaces (newlines kept), outside backticks and ``%{ }%``."""
        out = list(text)
        i, n = 0, len(text)
        while i < n:
            c = text[i]
            if c == "`":
                j = text.find("`", i + 1)
                if j < 0:
                    raise self.error(i, "unterminated shell command: a backtick ` has no closing backtick")
                i = j + 1
            elif text.startswith("%{", i):
                j = text.find("}%", i + 2)
                if j < 0:
                    raise self.error(i, "unterminated %{ block: expected }% to close it")
                i = j + 2
            elif text.startswith("//", i):
                j = text.find("\n", i)
                j = n if j < 0 else j
                for k in range(i, j):
                    out[k] = " "
                i = j
            elif text.startswith("/*", i):
                j = text.find("*/", i + 2)
                if j < 0:
                    raise self.error(i, "unterminated comment: /* has no closing */")
                for k in range(i, j + 2):
                    if out[k] != "\n":
                        out[k] = " "
                i = j + 2
            else:
                i += 1
        return "".join(out)


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
        With ``path:line:column`` and a short reason, for anything this reader
        does not understand (including unknown system calls).

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
    """
    src = _Source(text, path)
    body = src.text
    steps: list[Step] = []
    options: dict[str, str] = {}
    conds: list[tuple[str, bool, int]] = []  # (name, wanted, pos of the #ifdef)
    ifdefs: list[str] = []
    pos, n = 0, len(body)
    while pos < n:
        # skip blank space
        m = re.compile(r"\s+").match(body, pos)
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
            om = _OPTION.match(line_str)
            if not om:
                raise src.error(pos, f"malformed option line {line_str!r}: expected --name=value")
            options[om.group("name")] = om.group("value") or ""
            pos = line_end
            continue
        step, pos = _event(src, pos, tuple((c, w) for c, w, _ in conds))
        steps.append(step)
    if conds:
        raise src.error(conds[-1][2], f"#ifdef {conds[-1][0]} has no matching #endif")
    tol: int | None = None
    if "tolerance_usecs" in options:
        try:
            tol = int(options["tolerance_usecs"])
        except ValueError:
            raise ScriptSyntaxError(
                path,
                1,
                1,
                f"--tolerance_usecs must be a whole number of microseconds, got {options['tolerance_usecs']!r}",
            ) from None
    return Script(path, tuple(steps), options, tol, tuple(ifdefs))


def load_script(path: str | Path) -> Script:
    """Read and parse a script file.

    Raises
    ------
    ScriptSyntaxError
        Also when the file cannot be read (line 0, column 0).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptSyntaxError(str(path), 0, 0, f"cannot read the script: {exc}") from None
    return parse_script(text, str(path))


def _directive(src: _Source, pos: int, line: str, conds: list[tuple[str, bool, int]], ifdefs: list[str]) -> None:
    words = line.split()
    word = words[0]
    if word in ("#ifdef", "#ifndef"):
        if len(words) != 2 or not _IDENT.fullmatch(words[1]):
            raise src.error(pos, f"{word} needs exactly one name, e.g. '{word} FreeBSD'")
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
        raise src.error(pos, f"unsupported directive {word!r} (allowed: #ifdef, #ifndef, #else, #endif)")


def _event(src: _Source, pos: int, conds: tuple[tuple[str, bool], ...]) -> tuple[Step, int]:
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
        seg_text = body[pos + 1 : line_end]
        step: Step = _packet(src, pos, c, seg_text, common)
        return step, line_end
    if c == "`" and end is None:
        close = body.find("`", pos + 1)  # _Source guarantees it exists
        cmd = body[pos + 1 : close]
        _rest_empty(src, close + 1)
        return CommandStep(text=body[start : close + 1], command=cmd.strip(), **common), close + 1
    if body.startswith("%{", pos) and end is None:
        close = body.find("}%", pos + 2)
        checks = _asserts(src, pos + 2, body[pos + 2 : close])
        _rest_empty(src, close + 2)
        return AssertStep(text=body[start : close + 2], checks=checks, **common), close + 2
    if end is not None and (c in "<>`" or body.startswith("%{", pos)):
        raise src.error(tm.start("end") - 3, "only a system call can block: '...END' is allowed before a system call")
    if _IDENT.match(body, pos):
        return _syscall(src, pos, body[pos:line_end], end, body[start:line_end].rstrip(), common), line_end
    raise src.error(pos, f"unexpected {c!r}: expected < or > packet, system call, `command` or %{{ }}%")


def _rest_empty(src: _Source, pos: int) -> None:
    line_end = src.text.find("\n", pos)
    rest = src.text[pos : line_end if line_end >= 0 else len(src.text)]
    if rest.strip():
        raise src.error(pos + len(rest) - len(rest.lstrip()), f"unexpected text after the event: {rest.strip()!r}")


def _time_spec(src: _Source, tm: re.Match[str], pos: int) -> tuple[TimeSpec, float | None]:
    if tm.group(0) == "*":
        return TimeSpec("any"), None
    rel = tm.group("p1") is not None
    a = float(tm.group("a"))
    end = float(tm.group("end")) if tm.group("end") is not None else None
    if tm.group("b") is not None:
        if rel != (tm.group("p2") is not None):
            raise src.error(pos, "a time range must be both relative (+a~+b) or both absolute (a~b)")
        b = float(tm.group("b"))
        if b < a:
            raise src.error(pos, f"a time range must not end before it starts ({a:g} > {b:g})")
        if end is not None:
            raise src.error(tm.start("end") - 3, "a blocking call takes a single start time, not a range")
        return TimeSpec("relative_range" if rel else "absolute_range", a, b), None
    return TimeSpec("relative" if rel else "absolute", a), end


def _packet(src: _Source, pos: int, direction: str, seg_text: str, common: dict[str, Any]) -> PacketStep:
    """Parse the segment after ``<``/``>``, allowing ``...(N)`` and ``ack N`` without the ACK flag."""
    base = pos + 1  # position of seg_text[0]
    text = seg_text.rstrip()
    seq_any = False
    m = re.search(r"(?<=\s)\.\.\.\((\d+)\)", text)
    if m:
        seq_any = True
        n_ = m.group(1)
        text = text[: m.start()] + f"0:{n_}({n_})" + text[m.end() :]
    head = text.split("<", 1)[0]
    ack_given = re.search(r"\back\s", head) is not None
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
        raise src.error(base + col, exc.reason) from None
    if insert_at >= 0:
        seg = seg.replace(flags=seg.flags & ~Flags.ACK)
    return PacketStep(
        text=src.line_text(common["line"]).strip(),
        direction=direction,  # type: ignore[arg-type]
        segment=seg,
        seq_any=seq_any,
        ack_given=ack_given,
        **common,
    )


_CHECK = re.compile(
    r"\s*(?P<field>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>==|!=|<=|>=|<|>)\s*(?P<value>-?(?:0x[0-9a-fA-F]+|\d+)|[A-Za-z_][A-Za-z0-9_]*)\s*"
)


def _asserts(src: _Source, base: int, code: str) -> tuple[Check, ...]:
    """Parse ``assert a == B [and c == D]`` statements; nothing else is allowed."""
    checks: list[Check] = []
    offset = 0
    for raw in re.split(r"[\n;]", code):
        stmt_pos = base + offset + (len(raw) - len(raw.lstrip()))
        offset += len(raw) + 1
        stmt = raw.strip()
        if not stmt or stmt.startswith("#"):
            continue
        if not stmt.startswith("assert "):
            raise src.error(
                stmt_pos, f"unsupported code in %{{ }}%: {stmt!r} (allowed: assert tcpi_FIELD == VALUE [and ...])"
            )
        rest = stmt[len("assert ") :]
        rest_pos = stmt_pos + len("assert ")
        for part in re.split(r"\band\b", rest):
            cm = _CHECK.fullmatch(part)
            if not cm:
                lead = len(part) - len(part.lstrip())
                raise src.error(
                    rest_pos + lead,
                    f"cannot read the assertion {part.strip()!r}: expected NAME == VALUE (operators == != < <= > >=)",
                )
            v = cm.group("value")
            value: int | str = int(v, 0) if re.fullmatch(r"-?(?:0x[0-9a-fA-F]+|\d+)", v) else v
            checks.append(Check(cm.group("field"), cm.group("op"), value))
            rest_pos += len(part) + 3
    if not checks:
        raise src.error(base - 2, "empty %{ }% block: expected assert tcpi_FIELD == VALUE")
    return tuple(checks)


_TOKEN = re.compile(
    r"\s*(?:(?P<ell>\.\.\.)|(?P<num>-?0x[0-9a-fA-F]+|-?\d+)|(?P<id>[A-Za-z_][A-Za-z0-9_]*)|(?P<str>\"[^\"]*\")|(?P<punct>[()\[\],|={}]))"
)


class _Tokens:
    def __init__(self, src: _Source, base: int, text: str) -> None:
        self.src, self.base, self.text, self.i = src, base, text, 0

    def peek(self) -> tuple[str, str, int] | None:
        m = _TOKEN.match(self.text, self.i)
        if not m or m.end() == self.i:
            rest = self.text[self.i :]
            if not rest.strip():
                return None
            lead = len(rest) - len(rest.lstrip())
            raise self.src.error(self.base + self.i + lead, f"unexpected character {rest.strip()[0]!r}")
        kind = m.lastgroup
        assert kind is not None
        return kind, m.group(kind), self.base + m.start(kind)

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            raise self.src.error(self.base + len(self.text.rstrip()), "unexpected end of line")
        m = _TOKEN.match(self.text, self.i)
        assert m is not None
        self.i = m.end()
        return tok

    def expect(self, value: str, what: str) -> int:
        kind, val, pos = self.take()
        if val != value:
            raise self.src.error(pos, f"expected {what}, got {val!r}")
        return pos


def _arg(toks: _Tokens) -> Arg:
    kind, val, pos = toks.take()
    item: Arg
    if kind == "ell":
        item = ANY
    elif kind == "num":
        item = int(val, 0)
    elif kind == "id":
        item = Name(val)
    elif kind == "str":
        item = val[1:-1]
    elif val == "[":
        items: list[Arg] = []
        if (nxt := toks.peek()) is not None and nxt[1] == "]":
            toks.take()
        else:
            while True:
                items.append(_arg(toks))
                k2, v2, p2 = toks.take()
                if v2 == "]":
                    break
                if v2 != ",":
                    raise toks.src.error(p2, f"expected , or ] in a [...] value, got {v2!r}")
        item = Bracket(tuple(items))
    elif val == "{":
        raise toks.src.error(
            pos, "struct arguments {...} are not supported (allowed: numbers, NAMES, A|B, [value], ...)"
        )
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
            parts.append(Name(v) if k == "id" else int(v, 0))
        return BitOr(tuple(parts))
    return item


def _syscall(src: _Source, pos: int, text: str, end: float | None, whole: str, common: dict[str, Any]) -> SyscallStep:
    toks = _Tokens(src, pos, text)
    kind, name, npos = toks.take()
    if name not in SYSCALLS:
        raise src.error(npos, f"unknown system call {name!r} (supported: {', '.join(SYSCALLS)})")
    toks.expect("(", f"'(' after {name}")
    args: list[Arg] = []
    nxt = toks.peek()
    if nxt is not None and nxt[1] == ")":
        toks.take()
    else:
        while True:
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
        result = int(v, 0)
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
        if not re.fullmatch(r"E[A-Z0-9]+", errno):
            raise src.error(nxt[2], f"expected an errno name such as ECONNRESET, got {errno!r}")
        nxt = toks.peek()
    if nxt is not None and nxt[1] == "(":
        close = text.rfind(")")
        open_ = nxt[2] - pos
        if close < open_:
            raise src.error(nxt[2], "the note in parentheses has no closing )")
        note = text[open_ + 1 : close].strip()
        toks.i = close + 1
        nxt = toks.peek()
    if nxt is not None:
        raise src.error(nxt[2], f"unexpected {nxt[1]!r} after the result")
    if errno is not None and result != -1:
        raise src.error(p, f"an errno ({errno}) goes with a result of -1, not {result}")
    return SyscallStep(
        text=whole.strip(), name=name, args=tuple(args), result=result, errno=errno, note=note, end=end, **common
    )
