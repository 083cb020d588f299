"""Trace records: the one interface between the engine and everything that reads it.

The engine emits :class:`TraceRecord` values through a callback; simulators
collect them into a :class:`Trace`.  Pictures, the grader and the notebooks
read traces and never engine internals.

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> rec = TraceRecord(time=0.0, host="client", kind=Kind.SEND,
...                   conn=("10.0.0.1", 40000, "10.0.0.2", 80),
...                   segment=parse_segment("S 0:0(0) win 65535 <mss 1460>"))
>>> t = Trace([rec])
>>> t.to_json() == Trace.from_json(t.to_json()).to_json()
True
>>> print(t.table())
    time  host    kind  what
   0.000  client  send  10.0.0.1:40000 > 10.0.0.2:80  S 0:0(0) win 65535 <mss 1460>

Notes
-----
The JSON form is versioned (``SCHEMA``/``VERSION``); it is written with sorted
keys and ``repr`` floats, so the same run gives byte-identical JSON in any
process.
"""

from __future__ import annotations

import enum
import html
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from .errors import TraceFormatError
from .segment import Segment, parse_flags, parse_options

__all__ = ["Kind", "TraceRecord", "Trace", "Tracer", "SCHEMA", "VERSION", "segment_to_dict", "segment_from_dict"]

SCHEMA = "tcpkit-trace"
VERSION = 1

ConnId = tuple[str, int, str, int]
Tracer = Callable[["TraceRecord"], None]


class Kind(enum.StrEnum):
    """What a trace record says happened."""

    SEND = "send"  # a segment left the host
    RECV = "recv"  # a segment arrived at the host (before processing)
    DROP = "drop"  # a segment was dropped (by the link, a middlebox or the stack); ``reason`` says why
    STATE = "state"  # a state change (``src_state`` -> ``dst_state`` on ``event``)
    TIMER_SET = "timer_set"
    TIMER_FIRE = "timer_fire"
    TIMER_CANCEL = "timer_cancel"
    CALL = "call"  # a user call and its result
    QUEUE = "queue"  # listener queue lengths (``values``: syn_queue, accept_queue, ...)
    COUNTER = "counter"  # an nstat counter changed (``values``: name -> new value)
    NOTE = "note"  # anything else worth showing, in words


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceRecord:
    """One thing that happened, at one time, on one host.

    Only the fields that matter for ``kind`` are set; the rest keep their defaults.
    """

    time: float
    host: str
    kind: Kind
    conn: ConnId | None = None
    segment: Segment | None = None
    peer: str | None = None  # SEND/RECV/DROP: the other host's name, when known
    src_state: str | None = None
    dst_state: str | None = None
    event: str | None = None
    condition: str | None = None
    rfc: str | None = None
    timer: str | None = None
    deadline: float | None = None
    call: str | None = None
    result: str | None = None
    reason: str | None = None
    values: tuple[tuple[str, int], ...] = ()
    text: str | None = None
    seq_base: tuple[int, int] | None = field(default=None)  # (our ISN, peer ISN) for relative numbers

    def describe(self) -> str:
        """The record in a few words (English)."""
        k = self.kind
        if k in (Kind.SEND, Kind.RECV, Kind.DROP):
            c = self.conn
            arrow = ""
            if c is not None:
                arrow = f"{c[0]}:{c[1]} > {c[2]}:{c[3]}  " if k is not Kind.RECV else f"{c[2]}:{c[3]} > {c[0]}:{c[1]}  "
            seg = self.segment.notation() if self.segment is not None else ""
            why = f"  ({self.reason})" if self.reason else ""
            return f"{arrow}{seg}{why}"
        if k is Kind.STATE:
            cond = f" [{self.condition}]" if self.condition else ""
            return f"{self.src_state} -> {self.dst_state} on {self.event}{cond}"
        if k in (Kind.TIMER_SET, Kind.TIMER_FIRE, Kind.TIMER_CANCEL):
            when = f" for t={self.deadline:.3f}" if self.deadline is not None and k is Kind.TIMER_SET else ""
            return f"{self.timer}{when}"
        if k is Kind.CALL:
            return f"{self.call} = {self.result}"
        if k in (Kind.QUEUE, Kind.COUNTER):
            return ", ".join(f"{a}={b}" for a, b in self.values)
        return self.text or ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"t": self.time, "host": self.host, "kind": self.kind.value}
        if self.conn is not None:
            d["conn"] = list(self.conn)
        if self.segment is not None:
            d["seg"] = segment_to_dict(self.segment)
        for name in (
            "peer",
            "src_state",
            "dst_state",
            "event",
            "condition",
            "rfc",
            "timer",
            "deadline",
            "call",
            "result",
            "reason",
            "text",
        ):
            v = getattr(self, name)
            if v is not None:
                d[name] = v
        if self.values:
            d["values"] = [[a, b] for a, b in self.values]
        if self.seq_base is not None:
            d["seq_base"] = list(self.seq_base)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceRecord:
        try:
            kw: dict[str, Any] = {"time": float(d["t"]), "host": str(d["host"]), "kind": Kind(d["kind"])}
            if "conn" in d:
                a, b, c, e = d["conn"]
                kw["conn"] = (str(a), int(b), str(c), int(e))
            if "seg" in d:
                kw["segment"] = segment_from_dict(d["seg"])
            for name in (
                "peer",
                "src_state",
                "dst_state",
                "event",
                "condition",
                "rfc",
                "timer",
                "deadline",
                "call",
                "result",
                "reason",
                "text",
            ):
                if name in d:
                    kw[name] = d[name]
            if "values" in d:
                kw["values"] = tuple((str(a), int(b)) for a, b in d["values"])
            if "seq_base" in d:
                kw["seq_base"] = (int(d["seq_base"][0]), int(d["seq_base"][1]))
        except (KeyError, TypeError, ValueError) as exc:
            raise TraceFormatError(f"bad trace record {d!r}: {exc}") from None
        return cls(**kw)


def segment_to_dict(seg: Segment) -> dict[str, Any]:
    """A segment as plain JSON data."""
    from .segment import format_flags

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
    if seg.options is None:
        d["opts"] = "..."
    elif seg.options:
        d["opts"] = ",".join(str(o) for o in seg.options)
    if seg.payload is not None:
        d["payload"] = seg.payload.hex()
    if seg.urg:
        d["urg"] = seg.urg
    return d


def segment_from_dict(d: dict[str, Any]) -> Segment:
    """Inverse of :func:`segment_to_dict`."""
    opts_text = d.get("opts")
    options = None if opts_text == "..." else (parse_options(opts_text) if opts_text else ())
    payload = bytes.fromhex(d["payload"]) if "payload" in d else None
    return Segment(
        src_port=int(d["sport"]),
        dst_port=int(d["dport"]),
        seq=int(d["seq"]),
        ack=int(d["ack"]),
        flags=parse_flags(d["flags"]),
        window=d.get("win"),
        length=int(d["len"]),
        payload=payload,
        options=options,
        urg=int(d.get("urg", 0)),
    )


class Trace(Sequence[TraceRecord]):
    """An immutable, ordered list of :class:`TraceRecord`.

    Parameters
    ----------
    records : iterable of TraceRecord
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
    def filter(self, *, host: str | None = None, kind: Kind | str | None = None, conn: ConnId | None = None) -> Trace:
        """Records matching every given criterion.

        >>> Trace([TraceRecord(time=0, host="a", kind=Kind.NOTE, text="x")]).filter(host="b").records
        ()
        """
        k = Kind(kind) if kind is not None else None
        return Trace(
            (
                r
                for r in self._records
                if (host is None or r.host == host) and (k is None or r.kind is k) and (conn is None or r.conn == conn)
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

    def states(self, host: str, conn: ConnId | None = None) -> list[tuple[float, str]]:
        """The ``(time, state)`` path of one host (optionally one connection)."""
        out: list[tuple[float, str]] = []
        for r in self._records:
            if r.kind is Kind.STATE and r.host == host and (conn is None or r.conn == conn):
                if not out and r.src_state is not None:
                    out.append((r.time, r.src_state))
                out.append((r.time, r.dst_state or "?"))
        return out

    def final_state(self, host: str, conn: ConnId | None = None) -> str | None:
        path = self.states(host, conn)
        return path[-1][1] if path else None

    # -- JSON --------------------------------------------------------------------
    def to_json(self, *, indent: int | None = None) -> str:
        doc = {"schema": SCHEMA, "version": VERSION, "meta": self.meta, "records": [r.to_dict() for r in self._records]}
        return json.dumps(doc, sort_keys=True, indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Trace:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceFormatError(f"not JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise TraceFormatError(f"not a tcpkit trace: expected schema {SCHEMA!r}")
        if doc.get("version") != VERSION:
            raise TraceFormatError(
                f"trace schema version {doc.get('version')!r} is not supported (this tcpkit reads version {VERSION})"
            )
        return cls((TraceRecord.from_dict(r) for r in doc.get("records", [])), doc.get("meta") or {})

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
                f"<td>{r.kind.value}</td><td "
                f"style='text-align:left;font-family:monospace'>{html.escape(r.describe())}</td></tr>"
            )
        more = f"<p>… {len(self) - limit} more records</p>" if len(self) > limit else ""
        return (
            "<table><thead><tr><th>time (s)</th><th>host</th><th>kind</th><th>what</th></tr></thead><tbody>"
            + "".join(rows)
            + "</tbody></table>"
            + more
        )
