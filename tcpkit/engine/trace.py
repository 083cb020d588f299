"""A trace: the ordered events of a run, and its saved JSON form (read and written only here).

Drivers collect the engine's typed events (:mod:`tcpkit.engine.events`) into a
:class:`Trace`.  Pictures, widgets, graders and the live lab read traces, never
engine internals.  :meth:`Trace.to_json` / :meth:`Trace.from_json` are the
one place the saved form is written and read; ``docs/trace-format.md``
describes it field by field.

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> rec = SegmentSent(time=0.0, host="client", conn=("10.0.0.1", 40000, "10.0.0.2", 80),
...                   segment=parse_segment("S 0:0(0) win 65535 <mss 1460>"))
>>> t = Trace([rec])
>>> Trace.from_json(t.to_json()) == t
True
>>> print(t.table())
    time  host    kind  what
   0.000  client  send  10.0.0.1:40000 > 10.0.0.2:80  S 0:0(0) win 65535 <mss 1460>
>>> Trace.from_json('{"schema": "tcpkit-trace", "version": 2, "meta": {}, "records": 5}')
Traceback (most recent call last):
...
tcpkit.engine.errors.TraceFormatError: trace: records: expected a list of records, got 5

Notes
-----
The JSON form is versioned (``SCHEMA``/``VERSION``; version 1 files, written
before events were typed, are still read).  It is written with sorted keys and
``repr`` floats, so the same run gives byte-identical JSON in any process.
Reading validates everything (types, finite numbers, ranges, sizes, encoding,
nesting depth) and names the field that is wrong and what is allowed.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar, overload

from .errors import IllegalTransition, SegmentSyntaxError, TraceFormatError
from .events import (
    CLASSES,
    CallMade,
    ConnId,
    CounterChanged,
    HostRestarted,
    Kind,
    Note,
    QueueChanged,
    SegmentDropped,
    SegmentEvent,
    SegmentReceived,
    SegmentSent,
    StateChanged,
    TimerCancelled,
    TimerEvent,
    TimerFired,
    TimerSet,
    Tracer,
    TraceRecord,
)
from .segment import Flags, Segment, format_flags, parse_flags, parse_options
from .seqnum import MASK
from .states import Event, State, lookup

__all__ = [
    "CallMade",
    "ConnId",
    "CounterChanged",
    "Kind",
    "MAX_DEPTH",
    "MAX_DOCUMENT_BYTES",
    "MAX_RECORDS",
    "Note",
    "HostRestarted",
    "QueueChanged",
    "SCHEMA",
    "SegmentDropped",
    "SegmentEvent",
    "SegmentReceived",
    "SegmentSent",
    "StateChanged",
    "TimerCancelled",
    "TimerEvent",
    "TimerFired",
    "TimerSet",
    "Trace",
    "TraceRecord",
    "Tracer",
    "VERSION",
    "segment_from_dict",
    "segment_to_dict",
]

R = TypeVar("R", bound=TraceRecord)

SCHEMA = "tcpkit-trace"
VERSION = 2
#: The largest trace document :meth:`Trace.from_json` reads.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
#: The most records one trace document may hold.
MAX_RECORDS = 2_000_000
#: The deepest nesting of lists and objects allowed (a trace needs 4).
MAX_DEPTH = 16

_SEGMENT_KINDS = {Kind.SEND, Kind.RECV, Kind.DROP}
_TIMER_KINDS = {Kind.TIMER_SET, Kind.TIMER_FIRE, Kind.TIMER_CANCEL}
_LIMITS = ("syn_limit", "accept_limit")


# ---------------------------------------------------------------------------------------------- segments as JSON
def segment_to_dict(seg: Segment) -> dict[str, Any]:
    """A segment as plain JSON data.

    >>> from tcpkit.engine.segment import parse_segment
    >>> segment_to_dict(parse_segment("S. 0:0(0) ack 1 win 100"))
    {'sport': 0, 'dport': 0, 'seq': 0, 'ack': 1, 'flags': 'S.', 'len': 0, 'win': 100, 'opts': ''}
    """
    d: dict[str, Any] = {
        "sport": seg.src_port,
        "dport": seg.dst_port,
        "seq": seg.seq,
        "ack": seg.ack,
        "flags": format_flags(seg.flags),
        "len": seg.length,
    }
    if seg.window is not None:
        d["win"] = seg.window
    d["opts"] = "..." if seg.options is None else ",".join(str(o) for o in seg.options)
    if seg.payload is not None:
        d["payload"] = seg.payload.hex()
    if seg.urg:
        d["urg"] = seg.urg
    return d


def segment_from_dict(d: Any, where: str = "seg") -> Segment:
    """Inverse of :func:`segment_to_dict`; every field is checked.

    >>> segment_from_dict({"sport": 1, "dport": 2, "seq": -1, "ack": 0, "flags": "S", "len": 0})
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.TraceFormatError: seg.seq: expected an integer from 0 to 4294967295, got -1
    """
    _obj(d, where)
    opts_text = d.get("opts", "")
    if not isinstance(opts_text, str):
        raise _bad(f"{where}.opts", "options in tcpdump notation (a string)", opts_text)
    try:
        options = None if opts_text == "..." else (parse_options(opts_text) if opts_text else ())
    except SegmentSyntaxError as exc:
        raise TraceFormatError(f"{where}.opts: {str(exc).splitlines()[0]}") from None
    payload = None
    if "payload" in d:
        try:
            payload = bytes.fromhex(_str(d["payload"], f"{where}.payload", "hex digits"))
        except ValueError:
            raise _bad(f"{where}.payload", "an even number of hex digits", d["payload"]) from None
    flags_text = _str(d.get("flags"), f"{where}.flags", "flags in tcpdump notation (e.g. 'S.')")
    try:
        flags = parse_flags(flags_text) if flags_text != "." else Flags.ACK
    except ValueError:
        raise _bad(f"{where}.flags", "flags in tcpdump notation (e.g. 'S.')", flags_text) from None
    length = _int(d.get("len"), f"{where}.len", 0, MASK)
    if payload is not None and len(payload) != length:
        raise TraceFormatError(f"{where}.payload: holds {len(payload)} bytes but {where}.len says {length}")
    win = d.get("win")
    sport = _int(d.get("sport"), f"{where}.sport", 0, 65535)
    dport = _int(d.get("dport"), f"{where}.dport", 0, 65535)
    seq = _int(d.get("seq"), f"{where}.seq", 0, MASK)
    ack = _int(d.get("ack"), f"{where}.ack", 0, MASK)
    window = None if win is None else _int(win, f"{where}.win", 0, 2**30)
    urg = _int(d.get("urg", 0), f"{where}.urg", 0, 65535)
    try:
        return Segment(
            src_port=sport,
            dst_port=dport,
            seq=seq,
            ack=ack,
            flags=flags,
            window=window,
            length=length,
            payload=payload,
            options=options,
            urg=urg,
        )
    except (ValueError, TypeError) as exc:  # a Segment's own consistency checks
        raise TraceFormatError(f"{where}: {exc}") from None


# ---------------------------------------------------------------------------------------------- records as JSON
def record_to_dict(r: TraceRecord) -> dict[str, Any]:
    """One event as plain JSON data (version 2 layout, see ``docs/trace-format.md``)."""
    d: dict[str, Any] = {"t": r.time, "host": r.host, "kind": r.kind.value}
    if r.conn is not None:
        d["conn"] = list(r.conn)
    if isinstance(r, SegmentEvent):
        d["seg"] = segment_to_dict(r.segment)
        if r.peer is not None:
            d["peer"] = r.peer
        if r.seq_base is not None:
            d["seq_base"] = list(r.seq_base)
        if isinstance(r, SegmentDropped):
            d["reason"] = r.reason
    elif isinstance(r, StateChanged):
        d.update(src=r.src.value, dst=r.dst.value, event=r.event.value, rfc=r.rfc)
        if r.condition:
            d["condition"] = r.condition
    elif isinstance(r, TimerEvent):
        d["timer"] = r.timer
        if isinstance(r, TimerSet | TimerFired) and r.deadline is not None:
            d["deadline"] = r.deadline
    elif isinstance(r, CallMade):
        d.update(call=r.call, result=r.result)
    elif isinstance(r, QueueChanged):
        d.update(syn_queue=r.syn_queue, accept_queue=r.accept_queue)
        if r.syn_limit is not None:
            d["syn_limit"] = r.syn_limit
        if r.accept_limit is not None:
            d["accept_limit"] = r.accept_limit
    elif isinstance(r, CounterChanged):
        d.update(name=r.name, value=r.value)
    elif isinstance(r, Note):
        d["text"] = r.text
    return d  # HostRestarted: the common fields say it all


def record_from_dict(d: Any, where: str = "record", version: int = VERSION) -> TraceRecord:
    """Inverse of :func:`record_to_dict`; version 1 records are converted."""
    _obj(d, where)
    kind_text = d.get("kind")
    try:
        kind = Kind(kind_text)
    except ValueError:
        raise _bad(f"{where}.kind", "one of " + ", ".join(k.value for k in Kind), kind_text) from None
    base: dict[str, Any] = {
        "time": _num(d.get("t"), f"{where}.t"),
        "host": _str(d.get("host"), f"{where}.host", "a host name"),
    }
    if "conn" in d:
        base["conn"] = _conn(d["conn"], f"{where}.conn")
    if kind in _SEGMENT_KINDS:
        seg = segment_from_dict(d.get("seg"), f"{where}.seg")
        peer = _opt_str(d.get("peer"), f"{where}.peer")
        seq_base = None
        if d.get("seq_base") is not None:
            sb = _list(d["seq_base"], f"{where}.seq_base", 2)
            seq_base = (_int(sb[0], f"{where}.seq_base[0]", 0, MASK), _int(sb[1], f"{where}.seq_base[1]", 0, MASK))
        if kind is Kind.DROP:
            reason = _opt_str(d.get("reason"), f"{where}.reason") or ""
            return SegmentDropped(**base, segment=seg, peer=peer, seq_base=seq_base, reason=reason)
        cls = SegmentSent if kind is Kind.SEND else SegmentReceived
        return cls(**base, segment=seg, peer=peer, seq_base=seq_base)
    if kind is Kind.STATE:
        keys = ("src_state", "dst_state") if version == 1 else ("src", "dst")
        src = _enum(State, d.get(keys[0]), f"{where}.{keys[0]}")
        dst = _enum(State, d.get(keys[1]), f"{where}.{keys[1]}")
        event = _enum(Event, d.get("event"), f"{where}.event")
        condition = _opt_str(d.get("condition"), f"{where}.condition") or ""
        try:
            row = lookup(src, event, condition)
        except IllegalTransition as exc:
            raise TraceFormatError(f"{where}: {exc}") from None
        if row.dst is not dst:
            raise TraceFormatError(
                f"{where}.{keys[1]}: the table row for {src.value} on {event.value!r} goes to {row.dst.value}, "
                f"not {dst.value}"
            )
        return StateChanged(**base, row=row)
    if kind in _TIMER_KINDS:
        timer = _str(d.get("timer"), f"{where}.timer", "a timer name")
        deadline = None if d.get("deadline") is None else _num(d["deadline"], f"{where}.deadline")
        if kind is Kind.TIMER_SET:
            if deadline is None:
                raise _bad(f"{where}.deadline", "a finite number of seconds", None)
            return TimerSet(**base, timer=timer, deadline=deadline)
        if kind is Kind.TIMER_FIRE:
            return TimerFired(**base, timer=timer, deadline=deadline)
        return TimerCancelled(**base, timer=timer)
    if kind is Kind.CALL:
        return CallMade(
            **base,
            call=_str(d.get("call"), f"{where}.call", "a call"),
            result=_str(d.get("result"), f"{where}.result", "a result"),
        )
    if kind is Kind.QUEUE:
        vals = _values(d, where) if version == 1 else d
        limits = [None if vals.get(k) is None else _int(vals[k], f"{where}.{k}", 0, 2**31) for k in _LIMITS]
        return QueueChanged(
            **base,
            syn_queue=_int(vals.get("syn_queue"), f"{where}.syn_queue", 0, 2**31),
            accept_queue=_int(vals.get("accept_queue"), f"{where}.accept_queue", 0, 2**31),
            syn_limit=limits[0],
            accept_limit=limits[1],
        )
    if kind is Kind.COUNTER:
        if version == 1:
            pairs = list(_values(d, where).items())
            if len(pairs) != 1:
                raise _bad(f"{where}.values", "one [name, value] pair", d.get("values"))
            name, value = pairs[0]
        else:
            name, value = d.get("name"), d.get("value")
        return CounterChanged(
            **base,
            name=_str(name, f"{where}.name", "a counter name"),
            value=_int(value, f"{where}.value", -(2**63), 2**63),
        )
    if kind is Kind.RESTART:
        return HostRestarted(**base)
    return Note(**base, text=_str(d.get("text"), f"{where}.text", "text"))


# ---------------------------------------------------------------------------------------------- the container
class Trace(Sequence[TraceRecord]):
    """An immutable, ordered list of trace events.

    Parameters
    ----------
    records : iterable of TraceRecord
        Typed events (:mod:`tcpkit.engine.events`).
    meta : dict, optional
        Scenario name, parameters, seed: anything JSON-able that says where the
        trace came from.
    """

    def __init__(self, records: Iterable[TraceRecord] = (), meta: dict[str, Any] | None = None) -> None:
        self._records: tuple[TraceRecord, ...] = tuple(records)
        self.meta: dict[str, Any] = dict(meta or {})

    @overload
    def __getitem__(self, i: int) -> TraceRecord: ...
    @overload
    def __getitem__(self, i: slice) -> Trace: ...
    def __getitem__(self, i: int | slice) -> TraceRecord | Trace:
        if isinstance(i, slice):
            return Trace(self._records[i], self.meta)
        return self._records[i]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(self._records)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trace) and self._records == other._records

    def __hash__(self) -> int:
        return hash(self._records)

    # -- selection ---------------------------------------------------------------
    def filter(
        self,
        *,
        host: str | None = None,
        kind: Kind | str | type[TraceRecord] | None = None,
        conn: ConnId | None = None,
    ) -> Trace:
        """Records matching every given criterion (``kind`` may be a :class:`Kind` or an event class).

        >>> t = Trace([Note(time=0, host="a", text="x")])
        >>> t.filter(host="b").records, len(t.filter(kind=Note)), len(t.filter(kind="note"))
        ((), 1, 1)
        """
        cls: type[TraceRecord] | None = None
        if isinstance(kind, type):
            cls = kind
        elif kind is not None:
            cls = CLASSES[Kind(kind)]
        return Trace(
            (
                r
                for r in self._records
                if (host is None or r.host == host)
                and (cls is None or isinstance(r, cls))
                and (conn is None or r.conn == conn)
            ),
            self.meta,
        )

    @property
    def records(self) -> tuple[TraceRecord, ...]:
        return self._records

    @property
    def hosts(self) -> list[str]:
        """Host names in order of first appearance."""
        seen: dict[str, None] = {}
        for r in self._records:
            seen.setdefault(r.host, None)
        return list(seen)

    def of(self, cls: type[R], host: str | None = None, conn: ConnId | None = None) -> list[R]:
        """Every event of class ``cls`` (of one host, one connection), typed.

        >>> from tcpkit.drivers import run_scenario
        >>> t = run_scenario("open_close_client_first", seed=1)
        >>> for r in t.of(SegmentSent, "client")[:2]:
        ...     print(r.segment.notation(relative_to=r.seq_base))
        S 0:0(0) win 64240 <mss 1460,sackOK,TS val ... ecr 0,nop,wscale 10>
        . 1:1(0) ack 1 win 62 <nop,nop,TS val ... ecr ...>
        """
        return [
            r
            for r in self._records
            if isinstance(r, cls) and (host is None or r.host == host) and (conn is None or r.conn == conn)
        ]

    def state_changes(self, host: str | None = None, conn: ConnId | None = None) -> list[StateChanged]:
        """Every :class:`StateChanged` (of one host, one connection)."""
        return self.of(StateChanged, host, conn)

    def states(self, host: str, conn: ConnId | None = None) -> list[tuple[float, State]]:
        """The ``(time, state)`` path of one host (optionally one connection).

        A :class:`HostRestarted` of the host ends whatever state it was in with CLOSED.

        >>> from tcpkit.engine.states import Event, lookup
        >>> row = lookup(State.CLOSED, Event.ACTIVE_OPEN)
        >>> t = Trace([StateChanged(time=0, host="a", row=row), HostRestarted(time=1, host="a")])
        >>> [s.value for _, s in t.states("a")]
        ['CLOSED', 'SYN_SENT', 'CLOSED']
        """
        out: list[tuple[float, State]] = []
        for r in self._records:
            if r.host != host:
                continue
            if isinstance(r, HostRestarted):
                if out and out[-1][1] is not State.CLOSED:
                    out.append((r.time, State.CLOSED))
            elif isinstance(r, StateChanged) and (conn is None or r.conn == conn):
                if not out:
                    out.append((r.time, r.src))
                out.append((r.time, r.dst))
        return out

    def final_state(self, host: str, conn: ConnId | None = None) -> State | None:
        """The last state one host reached, or ``None`` if it never changed state."""
        path = self.states(host, conn)
        return path[-1][1] if path else None

    # -- JSON --------------------------------------------------------------------
    def to_json(self, *, indent: int | None = None) -> str:
        """The saved form (``docs/trace-format.md``): same run, same bytes."""
        doc = {
            "schema": SCHEMA,
            "version": VERSION,
            "meta": self.meta,
            "records": [record_to_dict(r) for r in self._records],
        }
        return json.dumps(doc, sort_keys=True, indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Trace:
        """Read a saved trace, checking every field.

        Raises
        ------
        TraceFormatError
            Naming the field that is wrong and what is allowed: not UTF-8, not
            JSON, too large, nested too deep, NaN or infinite numbers, a record
            of the wrong shape, a state change that is not a row of the table.
        """
        if isinstance(text, bytes | bytearray):
            if len(text) > MAX_DOCUMENT_BYTES:
                raise TraceFormatError(f"trace: {len(text)} bytes is too large (at most {MAX_DOCUMENT_BYTES})")
            if text[:2] in (b"\xff\xfe", b"\xfe\xff"):
                raise TraceFormatError("trace: the file is UTF-16; traces are UTF-8 JSON")
            try:
                text = bytes(text).decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise TraceFormatError(f"trace: not UTF-8 (byte {exc.start} is {text[exc.start]:#04x})") from None
        if not isinstance(text, str):
            raise TraceFormatError(f"trace: expected JSON text, got {type(text).__name__}")
        if len(text) > MAX_DOCUMENT_BYTES:
            raise TraceFormatError(f"trace: {len(text)} characters is too large (at most {MAX_DOCUMENT_BYTES})")
        if text.startswith("\ufeff"):
            text = text[1:]
        _check_depth(text)
        try:
            doc = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise TraceFormatError(f"trace: not JSON: {exc}") from None
        except RecursionError:  # pragma: no cover - _check_depth refuses deep nesting first
            raise TraceFormatError(f"trace: nested deeper than {MAX_DEPTH} levels") from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise TraceFormatError(f"trace: not a tcpkit trace: expected an object with schema {SCHEMA!r}")
        version = doc.get("version")
        if version not in (1, VERSION) or isinstance(version, bool):
            raise TraceFormatError(
                f"trace: schema version {version!r} is not supported (this tcpkit reads 1 and {VERSION})"
            )
        meta = doc.get("meta", {})
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise _bad("trace: meta", "an object", meta)
        records = doc.get("records", [])
        if not isinstance(records, list):
            raise _bad("trace: records", "a list of records", records)
        if len(records) > MAX_RECORDS:
            raise TraceFormatError(f"trace: records: {len(records)} records is too many (at most {MAX_RECORDS})")
        out: list[TraceRecord] = []
        for i, r in enumerate(records):
            where = f"trace: records[{i}]"
            out.extend(_legacy_rows(r, where, version) or [record_from_dict(r, where, version)])
        return cls(out, meta)

    # -- display -------------------------------------------------------------------
    def table(self, limit: int | None = None) -> str:
        """A plain-text table."""
        rows = self._records if limit is None else self._records[:limit]
        hw = max([4] + [len(r.host) for r in rows])
        kw = max([4] + [len(r.kind.value) for r in rows])
        lines = [f"{'time':>8}  {'host':<{hw}}  {'kind':<{kw}}  what"]
        for r in rows:
            lines.append(f"{r.time:8.3f}  {r.host:<{hw}}  {r.kind.value:<{kw}}  {r.describe()}")
        if limit is not None and len(self._records) > limit:
            lines.append(f"... {len(self._records) - limit} more records")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Trace: {len(self)} records, hosts {self.hosts}>"

    def _repr_html_(self) -> str:
        limit = 400
        rows = []
        for r in self._records[:limit]:
            rows.append(
                f"<tr><td style='text-align:right'>{r.time:.3f}</td><td>{html.escape(r.host)}</td>"
                f"<td>{r.kind.value}</td><td style='text-align:left;font-family:monospace'>"
                f"{html.escape(r.describe())}</td></tr>"
            )
        more = f"<p>… {len(self) - limit} more records</p>" if len(self) > limit else ""
        return (
            "<table><thead><tr><th>time (s)</th><th>host</th><th>kind</th><th>what</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
            + more
        )


# ---------------------------------------------------------------------------------------------- validation helpers
#: The event of a row that is now two rows (tcpkit <= round 2 saved it as one).
_LEGACY_FIN_ACK = "rcv FIN+ACK of FIN"


def _legacy_rows(d: Any, where: str, version: int) -> list[TraceRecord] | None:
    """Read an old FIN_WAIT_1 --rcv FIN+ACK of FIN--> TIME_WAIT record as the two rows it is now.

    Earlier traces saved the FIN that also acknowledges our FIN as one edge; the table now
    has FIN_WAIT_1 --rcv ACK of FIN--> FIN_WAIT_2 and FIN_WAIT_2 --rcv FIN--> TIME_WAIT
    (RFC 9293 §3.10.7.4 fifth and eighth checks), so such a record becomes both.
    """
    if not isinstance(d, dict) or d.get("kind") != Kind.STATE.value or d.get("event") != _LEGACY_FIN_ACK:
        return None
    src_key = "src_state" if version == 1 else "src"
    if d.get(src_key) != State.FIN_WAIT_1.value:
        return None
    first = record_from_dict(
        {**d, "event": Event.RCV_ACK_OF_FIN.value, ("dst_state" if version == 1 else "dst"): State.FIN_WAIT_2.value},
        where,
        version,
    )
    second = record_from_dict({**d, "event": Event.RCV_FIN.value, src_key: State.FIN_WAIT_2.value}, where, version)
    return [first, second]


def _type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _bad(where: str, allowed: str, value: Any) -> TraceFormatError:
    shown = repr(value) if isinstance(value, int | float | str) and len(repr(value)) < 60 else _type_name(value)
    return TraceFormatError(f"{where}: expected {allowed}, got {shown}")


def _obj(v: Any, where: str) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise _bad(where, "an object", v)
    return v


def _list(v: Any, where: str, n: int) -> list[Any]:
    if not isinstance(v, list) or len(v) != n:
        raise _bad(where, f"a list of {n} items", v)
    return v


def _int(v: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise _bad(where, f"an integer from {lo} to {hi}", v)
    return v


def _num(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _bad(where, "a finite number of seconds", v)
    return float(v)


def _str(v: Any, where: str, allowed: str) -> str:
    if not isinstance(v, str):
        raise _bad(where, f"{allowed} (a string)", v)
    return v


def _opt_str(v: Any, where: str) -> str | None:
    return None if v is None else _str(v, where, "a string or null")


def _conn(v: Any, where: str) -> ConnId:
    a, b, c, e = _list(v, where, 4)
    return (
        _str(a, f"{where}[0]", "an address"),
        _int(b, f"{where}[1]", 0, 65535),
        _str(c, f"{where}[2]", "an address"),
        _int(e, f"{where}[3]", 0, 65535),
    )


def _enum(cls: Any, v: Any, where: str) -> Any:
    try:
        return cls(v)
    except ValueError:
        raise _bad(where, "one of " + ", ".join(repr(m.value) for m in cls), v) from None


def _values(d: dict[str, Any], where: str) -> dict[str, Any]:
    """Version 1 kept queue lengths and counters as ``values: [[name, int], ...]``."""
    out: dict[str, Any] = {}
    values = d.get("values", [])
    if not isinstance(values, list):
        raise _bad(f"{where}.values", "a list of [name, value] pairs", values)
    for i, pair in enumerate(values):
        name, value = _list(pair, f"{where}.values[{i}]", 2)
        out[_str(name, f"{where}.values[{i}][0]", "a name")] = value
    return out


def _no_constant(name: str) -> Any:
    raise TraceFormatError(f"trace: {name} is not allowed: every number must be finite")


def _check_depth(text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` before the JSON parser recurses into it."""
    depth = 0
    in_string = False
    for m in _STRUCTURE.finditer(text):
        tok = m.group()
        if in_string:
            if tok == '"':
                in_string = False
        elif tok == '"':
            in_string = True
        elif tok in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise TraceFormatError(f"trace: nested deeper than {MAX_DEPTH} levels of lists and objects")
        elif tok in "]}":
            depth -= 1


#: Structural characters of JSON; an escaped character (``\\x``) is one token, so ``\\"`` never ends a string.
_STRUCTURE = re.compile(r'\\.|["\[\]{}]', re.S)
