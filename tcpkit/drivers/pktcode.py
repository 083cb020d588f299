"""The Python of packetdrill's ``%{ }%`` blocks (代码块): read once, check ``tcp_info`` with it.

packetdrill lets a script check ``tcp_info`` with Python code between ``%{``
and ``}%``: ``%{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%``.  The
real tool writes every block into one Python file, with the socket's
``tcp_info`` fields as variables (``tcpi_state = 1`` ...), and runs it with a
Python interpreter when the script ends (google/packetdrill
``gtests/net/packetdrill/code.c``).  tcpkit never runs script text: it reads
the blocks with :func:`ast.parse`, accepts only the small part of Python the
test suites use (asserts with a message, comparisons, arithmetic and bit
tests, ``and``/``or``/``not``, ``abs``/``min``/``max``, assignments that later
blocks may read, ``print``) and evaluates that itself, with bounded numbers.

Examples
--------
>>> block = parse_code("assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd", known=set())
>>> [s.kind for s in block.statements]
['assert']
>>> env = Namespace(fields={"tcpi_snd_cwnd": 7})
>>> outcome = run_statement(block.statements[0], env)
>>> outcome.status, outcome.message
('failed', '7')
>>> parse_code("assert tcpi_stat == 1", known=set())
Traceback (most recent call last):
...
tcpkit.drivers.pktcode.CodeError: unknown tcp_info field 'tcpi_stat' (did you mean tcpi_state?) ...

Notes
-----
Field names are those of Linux ``struct tcp_info`` (include/uapi/linux/tcp.h)
and FreeBSD's (sys/netinet/tcp.h, filled by ``tcp_fill_info()`` in
sys/netinet/tcp_usrreq.c); the constants are Linux's ``TCP_*`` states
(include/net/tcp_states.h), ``TCP_CA_*`` and ``TCPI_OPT_*``
(include/uapi/linux/tcp.h) and FreeBSD's ``TCPS_*`` states
(sys/netinet/tcp_fsm.h), the names packetdrill's ``code.c`` defines.
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from tcpkit.engine.states import State

__all__ = [
    "CodeError",
    "EvalError",
    "Unmodelled",
    "StateCode",
    "Statement",
    "CodeBlock",
    "Outcome",
    "Namespace",
    "LINUX_TCP_INFO_FIELDS",
    "FREEBSD_TCP_INFO_FIELDS",
    "TCP_INFO_FIELDS",
    "CONSTANTS",
    "FREEBSD_STATE_CODES",
    "MAX_CODE_CHARS",
    "MAX_DEPTH",
    "parse_code",
    "run_statement",
    "display",
]

#: The longest ``%{ }%`` block read (characters); the test suites' longest is a few hundred.
MAX_CODE_CHARS = 65536
#: The deepest expression tree accepted (operators and brackets inside one another).
MAX_DEPTH = 64
#: Largest magnitude of an integer a block may compute (tcp_info fields are at most 64-bit).
MAX_INT = 1 << 128
#: Longest string a block may build (a message).
MAX_STR = 10000

#: Linux ``struct tcp_info`` (include/uapi/linux/tcp.h, Linux 6.x) field names.
LINUX_TCP_INFO_FIELDS: tuple[str, ...] = (
    "tcpi_state",
    "tcpi_ca_state",
    "tcpi_retransmits",
    "tcpi_probes",
    "tcpi_backoff",
    "tcpi_options",
    "tcpi_snd_wscale",
    "tcpi_rcv_wscale",
    "tcpi_delivery_rate_app_limited",
    "tcpi_fastopen_client_fail",
    "tcpi_rto",
    "tcpi_ato",
    "tcpi_snd_mss",
    "tcpi_rcv_mss",
    "tcpi_unacked",
    "tcpi_sacked",
    "tcpi_lost",
    "tcpi_retrans",
    "tcpi_fackets",
    "tcpi_last_data_sent",
    "tcpi_last_ack_sent",
    "tcpi_last_data_recv",
    "tcpi_last_ack_recv",
    "tcpi_pmtu",
    "tcpi_rcv_ssthresh",
    "tcpi_rtt",
    "tcpi_rttvar",
    "tcpi_snd_ssthresh",
    "tcpi_snd_cwnd",
    "tcpi_advmss",
    "tcpi_reordering",
    "tcpi_rcv_rtt",
    "tcpi_rcv_space",
    "tcpi_total_retrans",
    "tcpi_pacing_rate",
    "tcpi_max_pacing_rate",
    "tcpi_bytes_acked",
    "tcpi_bytes_received",
    "tcpi_segs_out",
    "tcpi_segs_in",
    "tcpi_notsent_bytes",
    "tcpi_min_rtt",
    "tcpi_data_segs_in",
    "tcpi_data_segs_out",
    "tcpi_delivery_rate",
    "tcpi_busy_time",
    "tcpi_rwnd_limited",
    "tcpi_sndbuf_limited",
    "tcpi_delivered",
    "tcpi_delivered_ce",
    "tcpi_bytes_sent",
    "tcpi_bytes_retrans",
    "tcpi_dsack_dups",
    "tcpi_reord_seen",
    "tcpi_rcv_ooopack",
    "tcpi_snd_wnd",
    "tcpi_rcv_wnd",
    "tcpi_rehash",
    "tcpi_total_rto",
    "tcpi_total_rto_recoveries",
    "tcpi_total_rto_time",
)

#: FreeBSD ``struct tcp_info`` fields that ``tcp_fill_info()`` fills (sys/netinet/tcp_usrreq.c).
FREEBSD_TCP_INFO_FIELDS: tuple[str, ...] = (
    "tcpi_state",
    "tcpi_options",
    "tcpi_snd_wscale",
    "tcpi_rcv_wscale",
    "tcpi_rto",
    "tcpi_last_data_recv",
    "tcpi_rtt",
    "tcpi_rttvar",
    "tcpi_snd_ssthresh",
    "tcpi_snd_cwnd",
    "tcpi_rcv_space",
    "tcpi_rcv_nxt",
    "tcpi_snd_wnd",
    "tcpi_snd_bwnd",
    "tcpi_snd_nxt",
    "tcpi_snd_mss",
    "tcpi_rcv_mss",
    "tcpi_snd_rexmitpack",
    "tcpi_rcv_ooopack",
    "tcpi_snd_zerowin",
)

#: Every ``tcpi_*`` name a block may read.
TCP_INFO_FIELDS: frozenset[str] = frozenset(LINUX_TCP_INFO_FIELDS) | frozenset(FREEBSD_TCP_INFO_FIELDS)

#: Other names packetdrill's code.c defines (congestion-control info, ``SO_MEMINFO``): known, never modelled.
_OTHER_KNOWN = frozenset(
    {
        "bbr_bw_lo",
        "bbr_bw_hi",
        "bbr_bw",
        "bbr_min_rtt",
        "bbr_pacing_gain",
        "bbr_cwnd_gain",
        "dctcp_enabled",
        "dctcp_ce_state",
        "dctcp_alpha",
        "dctcp_ab_ecn",
        "dctcp_ab_tot",
        "tcpv_enabled",
        "tcpv_rttcnt",
        "tcp_rtt",
        "tcp_minrtt",
        "SK_MEMINFO_RMEM_ALLOC",
        "SK_MEMINFO_RCVBUF",
        "SK_MEMINFO_WMEM_ALLOC",
        "SK_MEMINFO_SNDBUF",
        "SK_MEMINFO_FWD_ALLOC",
        "SK_MEMINFO_WMEM_QUEUED",
        "SK_MEMINFO_OPTMEM",
        "SK_MEMINFO_BACKLOG",
        "SK_MEMINFO_DROPS",
    }
)

#: FreeBSD ``TCPS_*`` numbers (sys/netinet/tcp_fsm.h).
FREEBSD_STATE_CODES: dict[State, int] = {
    State.CLOSED: 0,
    State.LISTEN: 1,
    State.SYN_SENT: 2,
    State.SYN_RECEIVED: 3,
    State.ESTABLISHED: 4,
    State.CLOSE_WAIT: 5,
    State.FIN_WAIT_1: 6,
    State.CLOSING: 7,
    State.LAST_ACK: 8,
    State.FIN_WAIT_2: 9,
    State.TIME_WAIT: 10,
}


class StateCode(int):
    """A ``tcpi_state`` number that knows its state.

    Two StateCodes are equal when they name the same state, whatever numbering
    (Linux ``TCP_*`` or FreeBSD ``TCPS_*``) each uses; against a plain number a
    StateCode compares as that number.

    >>> linux = StateCode(1, State.ESTABLISHED)       # TCP_ESTABLISHED
    >>> freebsd = StateCode(4, State.ESTABLISHED)     # TCPS_ESTABLISHED
    >>> linux == freebsd, freebsd == 4, freebsd == 1
    (True, True, False)
    >>> str(freebsd)
    '4 (ESTABLISHED)'
    """

    state: State

    def __new__(cls, value: int, state: State) -> StateCode:
        obj = int.__new__(cls, value)
        obj.state = state
        return obj

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StateCode):
            return self.state is other.state
        return int.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = int.__hash__

    def __str__(self) -> str:
        return f"{int(self)} ({self.state.value})"

    __repr__ = __str__


@dataclass(frozen=True, slots=True)
class Unmodelled:
    """A value the engine does not have; using it skips the statement, with ``reason``."""

    reason: str


def _constants() -> dict[str, Any]:
    out: dict[str, Any] = {}
    linux_names = {
        State.ESTABLISHED: ["TCP_ESTABLISHED"],
        State.SYN_SENT: ["TCP_SYN_SENT"],
        State.SYN_RECEIVED: ["TCP_SYN_RECV", "TCP_NEW_SYN_RECV"],
        State.FIN_WAIT_1: ["TCP_FIN_WAIT1"],
        State.FIN_WAIT_2: ["TCP_FIN_WAIT2"],
        State.TIME_WAIT: ["TCP_TIME_WAIT"],
        State.CLOSED: ["TCP_CLOSE"],
        State.CLOSE_WAIT: ["TCP_CLOSE_WAIT"],
        State.LAST_ACK: ["TCP_LAST_ACK"],
        State.LISTEN: ["TCP_LISTEN"],
        State.CLOSING: ["TCP_CLOSING"],
    }
    for state, names in linux_names.items():
        for name in names:
            out[name] = StateCode(12 if name == "TCP_NEW_SYN_RECV" else state.linux_code, state)
    for state, code in FREEBSD_STATE_CODES.items():
        out[f"TCPS_{state.value}"] = StateCode(code, state)
        out[f"TCPI_{state.value}"] = StateCode(code, state)  # the spelling of the FreeBSD test suite
    for i, name in enumerate(("TCP_CA_Open", "TCP_CA_Disorder", "TCP_CA_CWR", "TCP_CA_Recovery", "TCP_CA_Loss")):
        out[name] = i
    out.update({"TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4})
    for name, why in (
        ("TCPI_OPT_ECN", "ECN negotiation"),
        ("TCPI_OPT_ECN_SEEN", "ECN marks"),
        ("TCPI_OPT_SYN_DATA", "TCP Fast Open data on the SYN"),
        ("TCPI_OPT_USEC_TS", "microsecond timestamps"),
        ("TCPI_OPT_TFO_CHILD", "TCP Fast Open"),
        ("TCPI_OPT_TOE", "TCP offload"),
    ):
        out[name] = Unmodelled(f"{name}: the engine does not model {why}")
    return out


#: Constants a block may use: state names (as :class:`StateCode`), ``TCP_CA_*``, ``TCPI_OPT_*``.
CONSTANTS: dict[str, Any] = _constants()

_FUNCS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max, "int": int, "bool": bool, "len": len}
_ALLOWED_TEXT = (
    "assert TEST[, MESSAGE], NAME = EXPR, print(...), pass; in expressions: numbers, strings, tcpi_* fields, "
    "TCP_* / TCPS_* / TCP_CA_* / TCPI_OPT_* constants, names assigned earlier, + - * / // % ** & | ^ << >> ~, "
    "comparisons, and/or/not, X if C else Y, abs() min() max() int() bool() len()"
)


class CodeError(Exception):
    """A ``%{ }%`` block that cannot be read; ``offset`` is the character offset in the block text."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


class EvalError(Exception):
    """Evaluating a statement went wrong (division by zero, a number out of range, mixed types)."""


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    """One statement of a block.

    ``kind`` is ``assert``, ``assign``, ``print`` or ``pass``; ``offset`` is where it
    starts in the block text; ``text`` its source; ``names`` the names it reads;
    ``target`` the name an assignment sets; ``test`` an assert's condition as written;
    ``line_offset`` how many lines below the block's first line it starts.
    """

    kind: Literal["assert", "assign", "print", "pass"]
    offset: int
    text: str
    node: ast.stmt
    names: tuple[str, ...] = ()
    target: str | None = None
    test: str = ""
    line_offset: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class CodeBlock:
    """A parsed ``%{ }%`` block: its statements and the names it assigns."""

    text: str
    statements: tuple[Statement, ...]
    assigned: frozenset[str] = frozenset()

    @property
    def checks(self) -> int:
        """How many ``assert`` statements it holds."""
        return sum(s.kind == "assert" for s in self.statements)


# --------------------------------------------------------------------------- reading


class _Lines:
    """The block text as Python source: the first line and the common indentation of the rest removed."""

    def __init__(self, text: str) -> None:
        raw = text.split("\n")
        starts = [0]
        for line in raw[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        rest = [line for line in raw[1:] if line.strip()]
        common = min((len(line) - len(line.lstrip(" \t")) for line in rest), default=0)
        self.removed = [len(raw[0]) - len(raw[0].lstrip(" \t"))] + [
            min(common, len(line) - len(line.lstrip(" \t"))) for line in raw[1:]
        ]
        self.lines = [line[cut:] for line, cut in zip(raw, self.removed, strict=True)]
        self.starts = starts
        self.source = "\n".join(self.lines)

    def offset(self, lineno: int | None, col: int | None, *, byte_col: bool = True) -> int:
        """Offset in the block text of a 1-based line and a column (UTF-8 bytes for AST nodes)."""
        i = min(max((lineno or 1) - 1, 0), len(self.lines) - 1)
        line = self.lines[i]
        c = max(col or 0, 0)
        if byte_col:
            c = len(line.encode("utf-8")[:c].decode("utf-8", errors="ignore"))
        return self.starts[i] + self.removed[i] + min(c, len(line))


def _depth_ok(tree: ast.AST) -> bool:
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, d = stack.pop()
        if d > MAX_DEPTH:
            return False
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return True


def _suggest(name: str, pool: frozenset[str] | set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(pool), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


class _Checker:
    def __init__(self, lines: _Lines, known: set[str]) -> None:
        self.lines = lines
        self.known = known  # names assigned by earlier statements (this block and earlier blocks)

    def fail(self, node: ast.AST, reason: str) -> CodeError:
        return CodeError(
            self.lines.offset(getattr(node, "lineno", 1), getattr(node, "col_offset", 0)),
            reason,
        )

    def stmt(self, node: ast.stmt) -> Statement:
        text = ast.get_source_segment(self.lines.source, node) or ""
        off = self.lines.offset(node.lineno, node.col_offset)
        if isinstance(node, ast.Assert):
            names = self.expr(node.test)
            if node.msg is not None:
                self.expr(node.msg)
            test = " ".join((ast.get_source_segment(self.lines.source, node.test) or ast.unparse(node.test)).split())
            return Statement("assert", off, text, node, tuple(names), test=test)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if len(targets) != 1 or not isinstance(targets[0], ast.Name) or value is None:
                raise self.fail(node, "only NAME = EXPRESSION assignments are allowed in %{ }%")
            name = targets[0].id
            if name in TCP_INFO_FIELDS or name in CONSTANTS or name in _OTHER_KNOWN or name in _FUNCS:
                raise self.fail(targets[0], f"{name!r} is a tcp_info field or constant and cannot be assigned")
            if isinstance(node, ast.AugAssign):
                if name not in self.known:
                    raise self.fail(targets[0], f"{name!r} is used before it is assigned")
                self._binop(node.op, node)
            names = self.expr(value) + ([name] if isinstance(node, ast.AugAssign) else [])
            self.known.add(name)
            return Statement("assign", off, text, node, tuple(names), target=name)
        if isinstance(node, ast.Expr):
            v = node.value
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "print":
                if v.keywords:
                    raise self.fail(v, "print() takes only positional arguments here")
                read: list[str] = []
                for a in v.args:
                    read += self.expr(a)
                return Statement("print", off, text, node, tuple(read))
            if isinstance(v, ast.Constant) and isinstance(v.value, str):
                return Statement("pass", off, text, node)
            raise self.fail(node, f"a bare expression does nothing here: write 'assert {text}' to check it")
        if isinstance(node, ast.Pass):
            return Statement("pass", off, text, node)
        kind = type(node).__name__
        raise self.fail(node, f"unsupported Python in %{{ }}%: {kind} statement (allowed: {_ALLOWED_TEXT})")

    def _binop(self, op: ast.operator, node: ast.AST) -> None:
        if type(op) not in _BINOPS:
            raise self.fail(node, f"operator {type(op).__name__} is not allowed in %{{ }}% (allowed: {_ALLOWED_TEXT})")

    def expr(self, node: ast.expr) -> list[str]:
        """Check an expression; return the names it reads, in source order."""
        found: list[tuple[int, int, str]] = []
        todo: list[ast.expr] = [node]
        while todo:
            n = todo.pop()
            if isinstance(n, ast.Constant):
                v = n.value
                if isinstance(v, bool) or v is None:
                    continue
                if isinstance(v, int):
                    if abs(v) > MAX_INT:
                        raise self.fail(n, f"number too large (at most {MAX_INT.bit_length() - 1} bits)")
                elif isinstance(v, float):
                    if not math.isfinite(v):
                        raise self.fail(n, "a number must be finite (not inf or nan)")
                elif isinstance(v, str):
                    if len(v) > MAX_STR:
                        raise self.fail(n, f"string longer than {MAX_STR} characters")
                else:
                    raise self.fail(n, f"constant {v!r} is not allowed (numbers and strings only)")
            elif isinstance(n, ast.Name):
                found.append((n.lineno, n.col_offset, self.name(n)))
            elif isinstance(n, ast.BinOp):
                self._binop(n.op, n)
                todo += [n.left, n.right]
            elif isinstance(n, ast.UnaryOp):
                todo.append(n.operand)
            elif isinstance(n, ast.BoolOp):
                todo += n.values
            elif isinstance(n, ast.Compare):
                for op in n.ops:
                    if type(op) not in _CMPOPS:
                        raise self.fail(n, f"comparison {type(op).__name__} is not allowed (use == != < <= > >=)")
                todo += [n.left, *n.comparators]
            elif isinstance(n, ast.IfExp):
                todo += [n.test, n.body, n.orelse]
            elif isinstance(n, ast.Tuple | ast.List):
                if len(n.elts) > 1000:
                    raise self.fail(n, "at most 1000 items in a tuple or list")
                todo += n.elts
            elif isinstance(n, ast.Call):
                if not isinstance(n.func, ast.Name) or n.func.id not in _FUNCS:
                    shown = n.func.id if isinstance(n.func, ast.Name) else type(n.func).__name__
                    raise self.fail(n, f"call of {shown!r} is not allowed (allowed: {', '.join(_FUNCS)})")
                if n.keywords or any(isinstance(a, ast.Starred) for a in n.args):
                    raise self.fail(n, f"{n.func.id}() takes only plain positional arguments here")
                todo += n.args
            elif isinstance(n, ast.JoinedStr):
                for part in n.values:
                    if isinstance(part, ast.FormattedValue):
                        if part.format_spec is not None:
                            raise self.fail(part, "format specifications (after ':') are not allowed in f-strings")
                        todo.append(part.value)
            else:
                raise self.fail(
                    n, f"unsupported Python in %{{ }}%: {type(n).__name__} expression (allowed: {_ALLOWED_TEXT})"
                )
        return [name for _, _, name in sorted(found)]

    def name(self, n: ast.Name) -> str:
        nm = n.id
        if nm in TCP_INFO_FIELDS or nm in CONSTANTS or nm in _OTHER_KNOWN or nm in self.known:
            return nm
        if nm.startswith("tcpi_"):
            raise self.fail(
                n,
                f"unknown tcp_info field {nm!r}{_suggest(nm, TCP_INFO_FIELDS)} "
                f"(allowed: {', '.join(sorted(TCP_INFO_FIELDS))})",
            )
        pool = set(CONSTANTS) | set(self.known)
        raise self.fail(
            n,
            f"unknown name {nm!r}{_suggest(nm, pool)} in %{{ }}% (allowed: tcp_info fields tcpi_*, the constants "
            "TCP_<STATE>, TCPS_<STATE>, TCP_CA_*, TCPI_OPT_*, and names assigned earlier in the script)",
        )


def parse_code(text: str, *, known: set[str]) -> CodeBlock:
    """Read the text between ``%{`` and ``}%``.

    Parameters
    ----------
    text : str
        The block text.
    known : set of str
        Names assigned by earlier blocks; names this block assigns are added to it.

    Returns
    -------
    CodeBlock

    Raises
    ------
    CodeError
        With the offset in ``text`` and a reason naming what is allowed.

    Examples
    --------
    >>> b = parse_code("x = tcpi_rto\\nassert 200000 <= x <= 300000, x", known=set())
    >>> [s.kind for s in b.statements], sorted(b.assigned)
    (['assign', 'assert'], ['x'])
    >>> parse_code("import os", known=set())
    Traceback (most recent call last):
    ...
    tcpkit.drivers.pktcode.CodeError: unsupported Python in %{ }%: Import statement ...
    """
    if len(text) > MAX_CODE_CHARS:
        raise CodeError(0, f"%{{ }}% block of {len(text)} characters is too long (at most {MAX_CODE_CHARS})")
    if "\0" in text:
        raise CodeError(text.index("\0"), "a NUL character is not allowed in %{ }%")
    lines = _Lines(text)
    try:
        tree = ast.parse(lines.source, mode="exec")
    except SyntaxError as exc:
        off = lines.offset(exc.lineno, (exc.offset or 1) - 1, byte_col=False)
        raise CodeError(off, f"Python syntax error in %{{ }}%: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        reason = str(exc) or "expression too deeply nested"
        raise CodeError(0, f"cannot read the %{{ }}% block: {reason}") from None
    if not _depth_ok(tree):
        raise CodeError(0, f"%{{ }}% block nested too deeply (at most {MAX_DEPTH} levels)")
    if not tree.body:
        raise CodeError(0, "empty %{ }% block: expected at least one statement such as 'assert tcpi_state == ...'")
    before = set(known)
    checker = _Checker(lines, known)
    statements = tuple(
        replace(stmt, line_offset=text.count("\n", 0, stmt.offset))
        for stmt in (checker.stmt(node) for node in tree.body)
    )
    return CodeBlock(text, statements, frozenset(known - before))


# --------------------------------------------------------------------------- evaluating

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


class _Skip(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class Namespace:
    """What a block sees: ``fields`` (a snapshot of tcp_info), the constants and ``variables``.

    A value may be :class:`Unmodelled`; ``variables`` persist from block to block,
    as in packetdrill, which runs all blocks of a script as one Python program.
    """

    fields: Mapping[str, Any] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)

    def lookup(self, name: str) -> Any:
        if name in self.variables:
            v = self.variables[name]
        elif name in self.fields:
            v = self.fields[name]
        elif name in CONSTANTS:
            v = CONSTANTS[name]
        elif name in TCP_INFO_FIELDS or name in _OTHER_KNOWN:
            v = Unmodelled(f"{name} is not modelled by the engine")
        else:  # the reader lets only known names through
            raise EvalError(f"name {name!r} has no value")
        if isinstance(v, Unmodelled):
            raise _Skip(v.reason)
        return v


def _check_num(v: Any) -> Any:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and abs(v) > MAX_INT:
        raise EvalError(f"a number out of range (more than {MAX_INT.bit_length() - 1} bits)")
    if isinstance(v, float) and not math.isfinite(v):
        raise EvalError("a computation gave inf or nan")
    if isinstance(v, str) and len(v) > MAX_STR:
        raise EvalError(f"a string longer than {MAX_STR} characters")
    return v


def _binop(op: ast.operator, a: Any, b: Any) -> Any:
    if isinstance(op, ast.Pow):
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            raise EvalError("** takes two numbers")
        if abs(b) > 64 and abs(a) > 1:
            raise EvalError(f"{a} ** {b} is out of range (exponent from -64 to 64)")
    if isinstance(op, ast.LShift | ast.RShift) and isinstance(b, int) and not 0 <= b <= 128:
        raise EvalError(f"shift by {b} is out of range (0 to 128)")
    if isinstance(op, ast.Mod) and isinstance(a, str):
        raise EvalError("string formatting with % is not supported here: give the values after the comma")
    if isinstance(op, ast.Mult) and (isinstance(a, str | list | tuple) or isinstance(b, str | list | tuple)):
        seq, n = (a, b) if isinstance(a, str | list | tuple) else (b, a)
        if not isinstance(n, int) or len(seq) * max(n, 0) > MAX_STR:
            raise EvalError(f"repeating a sequence to more than {MAX_STR} items is not allowed")
    try:
        return _check_num(_BINOPS[type(op)](a, b))
    except (ZeroDivisionError, TypeError, ValueError, OverflowError) as exc:
        raise EvalError(str(exc)) from None


def _eval(node: ast.expr, env: Namespace) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env.lookup(node.id)
    if isinstance(node, ast.BinOp):
        return _binop(node.op, _eval(node.left, env), _eval(node.right, env))
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, env)
        try:
            if isinstance(node.op, ast.Not):
                return not v
            if isinstance(node.op, ast.USub):
                return _check_num(-v)
            if isinstance(node.op, ast.UAdd):
                return _check_num(+v)
            return _check_num(~v)
        except TypeError as exc:
            raise EvalError(str(exc)) from None
    if isinstance(node, ast.BoolOp):
        result: Any = None
        for value in node.values:
            result = _eval(value, env)
            if isinstance(node.op, ast.And) and not result:
                return result
            if isinstance(node.op, ast.Or) and result:
                return result
        return result
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, env)
            try:
                if not _CMPOPS[type(op)](left, right):
                    return False
            except TypeError as exc:
                raise EvalError(str(exc)) from None
            left = right
        return True
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if isinstance(node, ast.Tuple):
        return tuple(_eval(e, env) for e in node.elts)
    if isinstance(node, ast.List):
        return [_eval(e, env) for e in node.elts]
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_eval(a, env) for a in node.args]
        fn = _FUNCS[node.func.id]
        if fn is int and args and isinstance(args[0], str) and len(args[0]) > 100:
            raise EvalError("int() of a string longer than 100 characters")
        try:
            return _check_num(fn(*args))
        except (TypeError, ValueError, OverflowError) as exc:
            raise EvalError(f"{node.func.id}(): {exc}") from None
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                v = _eval(part.value, env)
                out.append(repr(v) if part.conversion == ord("r") else display(v))
            elif isinstance(part, ast.Constant):
                out.append(str(part.value))
        return _check_num("".join(out))
    raise EvalError(f"cannot evaluate {type(node).__name__}")  # the reader lets nothing else through


def display(value: Any) -> str:
    """How a value is shown in a report (a state number with its state's name).

    >>> display(StateCode(6, State.TIME_WAIT)), display(7), display("x")
    ('6 (TIME_WAIT)', '7', 'x')
    """
    if isinstance(value, tuple):
        return "(" + ", ".join(display(v) for v in value) + ")"
    return str(value)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What running one statement gave.

    ``status`` is ``passed``, ``failed`` (an assert that did not hold), ``skipped``
    (it reads something the engine does not model: ``reason`` says what),
    ``error`` (evaluation failed: ``reason``), or ``done`` (assignments, print,
    pass).  ``message`` is the assert's message (or print's output); ``values``
    the fields and variables the statement read, for the report.
    """

    status: Literal["passed", "failed", "skipped", "error", "done"]
    reason: str = ""
    message: str | None = None
    values: tuple[tuple[str, Any], ...] = ()


def _values(stmt: Statement, env: Namespace) -> Iterator[tuple[str, Any]]:
    seen: set[str] = set()
    for name in stmt.names:
        if name in seen or (name in CONSTANTS and name not in env.variables):
            continue
        seen.add(name)
        try:
            yield name, env.lookup(name)
        except (_Skip, EvalError):
            continue


def run_statement(stmt: Statement, env: Namespace) -> Outcome:
    """Run one statement against ``env`` (assignments are stored in ``env.variables``).

    >>> b = parse_code("assert tcpi_sacked == 0; assert tcpi_state == TCP_CLOSE, tcpi_state", known=set())
    >>> env = Namespace(fields={"tcpi_state": StateCode(1, State.ESTABLISHED)})
    >>> [run_statement(s, env).status for s in b.statements]
    ['skipped', 'failed']
    >>> run_statement(b.statements[1], env).message
    '1 (ESTABLISHED)'
    """
    node = stmt.node
    try:
        if isinstance(node, ast.Assert):
            if _eval(node.test, env):
                return Outcome("passed", values=tuple(_values(stmt, env)))
            message: str | None = None
            if node.msg is not None:
                try:
                    message = display(_eval(node.msg, env))
                except _Skip as skip:
                    message = f"(not modelled: {skip.reason})"
            return Outcome("failed", message=message, values=tuple(_values(stmt, env)))
        if stmt.kind == "assign":
            assert stmt.target is not None
            value_node = node.value if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) else None
            assert value_node is not None
            try:
                value = _eval(value_node, env)
                if isinstance(node, ast.AugAssign):
                    value = _binop(node.op, env.lookup(stmt.target), value)
            except _Skip as skip:
                env.variables[stmt.target] = Unmodelled(skip.reason)
                return Outcome("skipped", reason=skip.reason)
            env.variables[stmt.target] = value
            return Outcome("done")
        if stmt.kind == "print":
            assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
            text = " ".join(display(_eval(a, env)) for a in node.value.args)
            return Outcome("done", message=text)
        return Outcome("done")
    except _Skip as skip:
        return Outcome("skipped", reason=skip.reason)
    except EvalError as exc:
        return Outcome("error", reason=str(exc))
    except RecursionError:
        return Outcome("error", reason="expression too deeply nested")
