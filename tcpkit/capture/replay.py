"""Replay a captured connection through the real engine on both sides (回放).

:func:`tcpkit.capture.pcap.annotate` rebuilds states from the transition table alone.
:func:`replay` goes further: it builds two :class:`~tcpkit.engine.stack.Stack`
hosts, one per side of a captured connection, gives each the captured ISN and
timestamp clock, feeds every captured segment to its receiver at its capture
time, infers the application calls from what each side sent, and checks that
the engine would have sent the very segments the capture shows.

Examples
--------
>>> from tcpkit.drivers.scenarios import run_scenario
>>> from tcpkit.capture.pcap import export_pcap_bytes, read_capture
>>> cap = read_capture(export_pcap_bytes(run_scenario("open_close_client_first", seed=1)))
>>> res = replay(cap, delay=0.01)      # export_pcap writes at the sender; the link takes 10 ms
>>> res.agrees, res.report.matched, res.report.captured
(True, 8, 8)
>>> res.trace.final_state("client")
<State.TIME_WAIT: 'TIME_WAIT'>

Notes
-----
Application calls inferred from the capture (a simple, documented rule set):

* the initiator ``connect()``\\ s from the captured port when its first SYN is
  sent; the responder ``listen()``\\ s from the start when it answers that SYN
  with a SYN-ACK, ``connect()``\\ s when it sends a SYN of its own
  (simultaneous open, RFC 9293 §3.5 Figure 7), and has no socket otherwise
  (a closed port answers with RST, §3.10.7.1);
* a listener ``accept()``\\ s as soon as a connection is ready;
* new payload bytes in a captured segment mean ``send()`` of that many bytes
  just before it; but when the side's payload runs on, with only ACKs from
  the peer in between, to a segment that carries data and FIN together, it was
  one ``send()`` followed by the FIN call (a FIN rides on data only when the
  close came while the data still waited, Linux ``tcp_send_fin()``);
* every side reads whatever arrives at once (so a later ``close()`` never
  finds unread data, which Linux would answer with RST, RFC 2525 §2.17);
* a FIN means ``shutdown(SHUT_WR)`` when the peer still sends payload after
  it (a half-close), else ``close()``; a half-closed side ``close()``\\ s once
  it reads end-of-file;
* an RST the engine did not make by itself means an abort: ``SO_LINGER``
  on with 0 seconds, then ``close()`` (RFC 9293 §3.10.5).

Segments are compared on the SYN, ACK, FIN and RST flags, sequence and
acknowledgment numbers and payload length; PSH, window and options are
counted when they differ but do not make a mismatch.  When two segments
crossed in flight (the second is a SYN or FIN from the other side that does
not acknowledge the first), both sends are replayed before both arrivals, as
:func:`tcpkit.capture.pcap.annotate` does.  Timers fire at their own deadlines; one
due at the very moment a segment arrives fires after the arrival.

What a capture cannot tell the replay: a segment captured at its sender but
lost on the way is delivered anyway (a capture holds no drops), so the
replayed receiver answers it and the report shows the difference; and the
application's real write boundaries and reading pace are guesses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tcpkit.engine.errors import ParameterError, TcpError, TraceFormatError
from tcpkit.engine.profiles import Profile, get_profile
from tcpkit.engine.segment import Flags, Segment
from tcpkit.engine.seqnum import MASK, seq_add, seq_gt, seq_sub
from tcpkit.engine.stack import Stack
from tcpkit.engine.states import State
from tcpkit.engine.trace import ConnId, Note, Trace, TraceRecord

from .pcap import Capture, CapturedPacket, Connection, split_connections

__all__ = ["ReplayReport", "ReplayResult", "ReplayRow", "replay"]


#: Flags that must agree for two segments to match.
_CORE = Flags.SYN | Flags.ACK | Flags.FIN | Flags.RST
#: At most this many timer firings per replay step (a guard against a timer that never moves on).
_MAX_TIMER_FIRES = 10_000
#: How many of a side's unmatched engine segments a captured segment is compared with.
_MATCH_WINDOW = 64
#: Times closer than this (seconds) are the same time: capture times are rounded to the nanosecond.
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class ReplayRow:
    """One captured or engine-made segment and what became of it.

    ``verdict`` is ``"match"``, ``"mismatch"``, ``"not produced"`` (in the
    capture, not made by the engine) or ``"extra"`` (made by the engine, not in
    the capture).
    """

    time: float
    host: str
    verdict: str
    captured: str | None
    engine: str | None
    frame: int | None = None
    details: str = ""


@dataclass(slots=True)
class ReplayReport:
    """How well the engine reproduced a capture.

    Attributes
    ----------
    captured : int
        Captured segments replayed.
    matched, mismatched, not_produced, extra : int
        Segment counts (see :class:`ReplayRow`).
    minor : Counter-like dict
        Matched segments that differ only in ``psh``, ``window`` or ``options``.
    rows : list of ReplayRow
    skipped : list of str
        Why connections were left out (e.g. the capture starts after their SYN).
    """

    captured: int = 0
    matched: int = 0
    mismatched: int = 0
    not_produced: int = 0
    extra: int = 0
    minor: dict[str, int] = field(default_factory=dict)
    rows: list[ReplayRow] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        """Every captured segment was made by the engine, and nothing else."""
        return self.mismatched == self.not_produced == self.extra == 0 and not self.skipped

    def add(self, other: ReplayReport) -> None:
        """Add another connection's counts."""
        self.captured += other.captured
        self.matched += other.matched
        self.mismatched += other.mismatched
        self.not_produced += other.not_produced
        self.extra += other.extra
        for k, v in other.minor.items():
            self.minor[k] = self.minor.get(k, 0) + v
        self.rows.extend(other.rows)
        self.skipped.extend(other.skipped)

    def summary(self) -> str:
        """One line in English.

        >>> ReplayReport(captured=3, matched=2, not_produced=1).summary()
        'replayed 3 captured segments: 2 matched, 0 mismatched, 1 not produced by the engine, 0 extra'
        """
        text = (
            f"replayed {self.captured} captured segments: {self.matched} matched, {self.mismatched} mismatched, "
            f"{self.not_produced} not produced by the engine, {self.extra} extra"
        )
        if self.minor:
            text += " (minor differences: " + ", ".join(f"{k} {v}" for k, v in sorted(self.minor.items())) + ")"
        if self.skipped:
            text += f"; {len(self.skipped)} connections not replayable"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for a trace's ``meta``)."""
        return {
            "captured": self.captured,
            "matched": self.matched,
            "mismatched": self.mismatched,
            "not_produced": self.not_produced,
            "extra": self.extra,
            "minor": dict(sorted(self.minor.items())),
            "differences": [
                f"t={r.time:.6f} {r.host}: {r.verdict}: {r.details}" for r in self.rows if r.verdict != "match"
            ],
            "skipped": list(self.skipped),
        }


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """The engine's trace of a replayed capture and the comparison report."""

    trace: Trace
    report: ReplayReport

    @property
    def agrees(self) -> bool:
        """Shortcut for ``report.agrees``."""
        return self.report.agrees


# --------------------------------------------------------------------------- one side


@dataclass(slots=True)
class _Side:
    name: str
    addr: str
    port: int
    stack: Stack
    role: str  # "connect", "listen" or "none"
    iss: int | None = None
    fd: int | None = None
    lfd: int | None = None
    app_end: int | None = None  # sequence number after the last byte handed to send()
    fin_called: bool = False
    shut_wr: bool = False
    eof: bool = False  # the application read end of file (or a reset)
    owed: int = 0  # bytes the application wrote that the send buffer has not taken yet
    fin_after: int | None = None  # index of a FIN segment whose call waits for ``owed``
    pending: list[tuple[float, Segment]] = field(default_factory=list)

    def conn(self, peer: _Side) -> ConnId:
        return (self.addr, self.port, peer.addr, peer.port)


def _first_from(packets: Sequence[CapturedPacket], addr: str, port: int) -> CapturedPacket | None:
    for p in packets:
        if (p.src, p.segment.src_port) == (addr, port):
            return p
    return None


def _crossed(p: CapturedPacket, q: CapturedPacket) -> bool:
    """``q`` comes from ``p``'s receiver, is a SYN or FIN, and does not acknowledge ``p``."""
    ps, qs = p.segment, q.segment
    if (p.src, ps.src_port) == (q.src, qs.src_port) or ps.seg_len == 0 or qs.rst or not (qs.syn or qs.fin):
        return False
    return not qs.has_ack or seq_gt(ps.end_seq, qs.ack)


def _same(a: Segment, b: Segment) -> bool:
    """Same core flags, sequence number, acknowledgment (when ACK is set) and length."""
    if (a.flags & _CORE) != (b.flags & _CORE) or a.seq != b.seq or a.length != b.length:
        return False
    return not a.has_ack or a.ack == b.ack


def _rel(seg: Segment, base: tuple[int, int] | None) -> str:
    return seg.notation(relative_to=base) if base is not None else seg.notation()


class _Replayer:
    def __init__(self, conn: Connection, *, profile: Profile, names: tuple[str, str], t0: float, delay: float) -> None:
        self.conn = conn
        self.delay = delay
        self.pk = conn.packets
        self.t0 = t0
        self.records: list[TraceRecord] = []
        self.report = ReplayReport()
        if not self.pk:
            raise TraceFormatError(f"connection {conn.conn} has no packets to replay")
        first = self.pk[0]
        if not (first.segment.syn and not first.segment.has_ack and not first.segment.rst):
            raise TraceFormatError(
                f"connection {_fmt(conn.conn)} starts mid-way (frame {first.frame or 1} is "
                f"'{first.segment.notation()}'): replay needs the opening SYN; annotate() reads partial captures"
            )
        ca, cp, sa, sp = conn.conn
        if not (0 < cp <= 65535 and 0 < sp <= 65535) or (ca, cp) == (sa, sp):
            raise TraceFormatError(
                f"connection {_fmt(conn.conn)} cannot be replayed: the two endpoints must differ and use ports 1 to "
                f"65535"
            )
        self.a = self._make_side(names[0], ca, cp, profile, "connect")
        b_first = _first_from(self.pk, sa, sp)
        role = "none"
        if b_first is not None and b_first.segment.syn and not b_first.segment.rst:
            role = "listen" if b_first.segment.has_ack else "connect"
        self.b = self._make_side(names[1], sa, sp, profile, role)
        self._closing_write = self._closing_writes()

    # -- set-up ---------------------------------------------------------------------------
    def _make_side(self, name: str, addr: str, port: int, profile: Profile, role: str) -> _Side:
        iss: int | None = None
        ts_offset = 0
        have_ts = False
        for p in self.pk:
            if (p.src, p.segment.src_port) != (addr, port):
                continue
            seg = p.segment
            if iss is None and seg.syn and not seg.rst:
                iss = seg.seq
            if not have_ts and seg.timestamp is not None:
                # Connection._tsval: ts_offset + round(now * 1000) (a 1 ms clock, as Linux)
                ts_offset = (seg.timestamp[0] - int(round((p.time - self.t0) * 1000))) & MASK
                have_ts = True
        captured_isn = iss

        def isn(now: float, cid: ConnId) -> int:
            return captured_isn if captured_isn is not None else 0

        stack = Stack(
            name=name, addr=addr, profile=profile, isn=isn, seed=0, tracer=self.records.append, ts_offset=ts_offset
        )
        return _Side(name, addr, port, stack, role, iss=iss, app_end=seq_add(iss, 1) if iss is not None else None)

    def _peer(self, s: _Side) -> _Side:
        return self.b if s is self.a else self.a

    def _sender(self, p: CapturedPacket) -> _Side:
        return self.a if (p.src, p.segment.src_port) == (self.a.addr, self.a.port) else self.b

    def _note(self, s: _Side, t: float, text: str) -> None:
        self.records.append(Note(time=t, host=s.name, conn=s.conn(self._peer(s)), text=text))

    def _base(self, s: _Side) -> tuple[int, int] | None:
        peer = self._peer(s)
        if s.iss is None or peer.iss is None:
            return None
        return (s.iss, peer.iss)

    # -- engine plumbing --------------------------------------------------------------------
    def _collect(self, s: _Side, t: float) -> None:
        for d in s.stack.take_outgoing():
            s.pending.append((t, d.segment))

    def _advance(self, t: float, *, inclusive: bool = True) -> None:
        """Fire every timer due before ``t`` (or at ``t``: ``inclusive``), each at its own deadline, in time order."""
        limit = t + _EPS if inclusive else t - _EPS
        for _ in range(_MAX_TIMER_FIRES):
            due = [
                (d, i)
                for i, s in enumerate((self.a, self.b))
                if (d := s.stack.next_deadline()) is not None and d <= limit
            ]
            if not due:
                return
            d, i = min(due)
            s = (self.a, self.b)[i]
            s.stack.handle_timer(d)
            self._collect(s, d)
        self._note(self.a, t, f"replay stopped firing timers after {_MAX_TIMER_FIRES} at t={t:.6f}")

    def _call(self, s: _Side, t: float, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except TcpError as err:
            if err.errno_name != "EINPROGRESS":
                self._note(s, t, f"replay: the inferred call {what} failed: {err}")
            return None
        finally:
            self._collect(s, t)

    def _setup(self) -> None:
        b = self.b
        if b.role == "listen":
            t = self.pk[0].time - self.t0
            b.lfd = b.stack.socket(t)
            b.stack.bind(t, b.lfd, b.port, b.addr)
            b.stack.listen(t, b.lfd, backlog=b.stack.params.somaxconn)

    # -- the two phases of one captured segment -------------------------------------------
    def _app_before_send(self, s: _Side, p: CapturedPacket, i: int, t: float) -> None:
        seg = p.segment
        peer = self._peer(s)
        st = s.stack
        if seg.syn and not seg.has_ack and not seg.rst and s.fd is None and s.role == "connect" and not s.fin_called:
            fd = st.socket(t)
            st.bind(t, fd, s.port, s.addr)
            s.fd = fd
            self._call(s, t, f"connect({peer.addr}:{peer.port})", st.connect, t, fd, peer.addr, peer.port)
            return
        if seg.rst:
            if any(e.rst for _, e in s.pending) or s.fd is None:
                return
            if st.state(s.fd) in (State.CLOSED, State.LISTEN):
                return
            fd, s.fd = s.fd, None
            st.setsockopt(t, fd, "SO_LINGER", (1, 0))
            self._call(s, t, "close() with SO_LINGER 0", st.close, t, fd)
            return
        if seg.length and s.app_end is not None:
            data_end = seq_add(seg.seq, seg.length + (1 if seg.syn else 0))
            if seq_gt(data_end, s.app_end):
                j = self._write_then_close(s, i)
                if j is not None:
                    data_end = seq_add(self.pk[j].segment.seq, self.pk[j].segment.length)
                n = seq_sub(data_end, s.app_end)
                s.app_end = data_end
                if s.fd is None:
                    self._note(s, t, f"replay: {s.name} sends {n} bytes but has no open socket")
                else:
                    s.owed += n
                    if j is not None:
                        s.fin_after = j
                    self._write(s, t)
        if seg.fin:
            if s.owed:
                s.fin_after = i
            else:
                self._fin_call(s, i, t)

    def _write(self, s: _Side, t: float) -> None:
        """Hand the engine what the application still wants to write (a blocking ``send()``
        goes on as the send buffer drains), then make the FIN call that waited for it."""
        st = s.stack
        while s.owed and s.fd is not None:
            try:
                n = st.send(t, s.fd, s.owed)
            except TcpError as err:
                if err.errno_name != "EAGAIN":
                    self._note(s, t, f"replay: the inferred call send({s.owed}) failed: {err}")
                    s.owed = 0
                break
            finally:
                self._collect(s, t)
            if n <= 0:
                break
            s.owed -= n
        if not s.owed and s.fin_after is not None:
            j, s.fin_after = s.fin_after, None
            self._fin_call(s, j, t)

    def _write_then_close(self, s: _Side, i: int) -> int | None:
        """Index of a later data+FIN segment that ends the write starting at segment ``i``, or None.

        A FIN rides on data only when ``close()`` came while that data still
        waited to be sent (Linux ``tcp_send_fin()`` appends it to the last
        unsent segment).  So when this side's payload runs on from segment ``i``
        to a data-carrying FIN, and the peer sends nothing an application could
        react to in between (only ACKs), it was one write followed by the FIN call.
        """
        return self._closing_write.get(i)

    def _closing_writes(self) -> dict[int, int]:
        """For each data segment ``i`` (without FIN), the data+FIN segment that ends its run, if any.

        One backward pass over the packets (so long captures stay linear).
        """
        out: dict[int, int] = {}
        ends: dict[int, int | None] = {id(self.a): None, id(self.b): None}
        for j in range(len(self.pk) - 1, -1, -1):
            seg = self.pk[j].segment
            s = self._sender(self.pk[j])
            peer = self._peer(s)
            end = ends[id(s)]
            if seg.length and not (seg.fin or seg.rst) and end is not None:
                out[j] = end
            if seg.rst:
                ends[id(s)] = None
            elif seg.fin:
                ends[id(s)] = j if seg.length else None
            if seg.length or seg.syn or seg.fin or seg.rst:  # something the peer's application could react to
                ends[id(peer)] = None
        return out

    def _fin_call(self, s: _Side, i: int, t: float) -> None:
        """The FIN of segment ``i``: ``shutdown(SHUT_WR)`` when the peer still sends payload later, else ``close()``."""
        if s.fin_called or s.fd is None:
            return
        s.fin_called = True
        peer = self._peer(s)
        st = s.stack
        more = any(q.segment.length and (q.src, q.segment.src_port) == (peer.addr, peer.port) for q in self.pk[i + 1 :])
        if more:
            s.shut_wr = True
            self._call(s, t, "shutdown(SHUT_WR)", st.shutdown, t, s.fd, "SHUT_WR")
        else:
            fd, s.fd = s.fd, None
            self._call(s, t, "close()", st.close, t, fd)

    def _app_after_recv(self, s: _Side, t: float) -> None:
        st = s.stack
        if s.lfd is not None and s.fd is None and "in" in st.poll(s.lfd):
            s.fd = self._call(s, t, "accept()", st.accept, t, s.lfd)
        if s.fd is None or st.connection(s.fd) is None:
            return
        if s.owed:
            self._write(s, t)
        for _ in range(64):  # every byte that is there, then end of file once
            if s.eof or "in" not in st.poll(s.fd):
                break
            try:
                data = st.recv(t, s.fd, 65536)
            except TcpError:  # a reset: nothing more to read
                s.eof = True
                break
            finally:
                self._collect(s, t)
            if not data:
                s.eof = True
                if s.shut_wr:  # end of file after a half-close: the application is done
                    fd, s.fd = s.fd, None
                    self._call(s, t, "close()", st.close, t, fd)
                break

    def _send(self, i: int, p: CapturedPacket, t: float) -> None:
        s = self._sender(p)
        self._advance(t)
        self._app_before_send(s, p, i, t)
        self._match(s, p, t)

    def _deliver(self, p: CapturedPacket, t: float) -> None:
        s = self._sender(p)
        r = self._peer(s)
        self._advance(t, inclusive=False)  # a timer due at the very moment fires after the arrival
        r.stack.segment_arrives(t, p.src, p.dst, p.segment)
        self._collect(r, t)
        self._app_after_recv(r, t)

    def _events(self) -> list[tuple[float, float, str, int]]:
        """``(time, order, "send" or "deliver", index)`` for every captured segment, in replay order.

        A segment is sent at its capture time and delivered ``delay`` later; when
        the next segment crossed it in flight (see :func:`_crossed`), it is
        delivered only after that one was sent.
        """
        pk = self.pk
        out: list[tuple[float, float, str, int]] = []
        for i, p in enumerate(pk):
            t = round(p.time - self.t0, 9)  # to the nanosecond: 0.04 + 0.01 must equal 0.05
            out.append((t, 2.0 * i, "send", i))
            at, order = round(t + self.delay, 9), 2.0 * i + 1
            if i + 1 < len(pk) and _crossed(p, pk[i + 1]):
                at, order = max(at, round(pk[i + 1].time - self.t0, 9)), 2.0 * (i + 1) + 0.5
            out.append((at, order, "deliver", i))
        out.sort()
        return out

    # -- comparison -------------------------------------------------------------------------
    def _row(
        self,
        s: _Side,
        t: float,
        verdict: str,
        cap: Segment | None,
        eng: Segment | None,
        frame: int | None,
        details: str,
    ) -> None:
        base = self._base(s)
        self.report.rows.append(
            ReplayRow(
                t, s.name, verdict, _rel(cap, base) if cap else None, _rel(eng, base) if eng else None, frame, details
            )
        )

    def _match(self, s: _Side, p: CapturedPacket, t: float) -> None:
        seg = p.segment
        base = self._base(s)
        self.report.captured += 1
        q = s.pending
        for k, (_te, e) in enumerate(q[:_MATCH_WINDOW]):
            if _same(e, seg):
                for tx, x in q[:k]:
                    self._extra(s, tx, x)
                del q[: k + 1]
                self.report.matched += 1
                minor = []
                if (e.flags ^ seg.flags) & Flags.PSH:
                    minor.append("psh")
                if e.window != seg.window:
                    minor.append("window")
                if e.options != seg.options:
                    minor.append("options")
                for m in minor:
                    self.report.minor[m] = self.report.minor.get(m, 0) + 1
                self._row(s, t, "match", seg, e, p.frame, ", ".join(f"{m} differs" for m in minor))
                return
        head = q[0][1] if q else None
        if head is not None and ((head.flags & _CORE) == (seg.flags & _CORE) or head.seq == seg.seq):
            q.pop(0)
            self.report.mismatched += 1
            why = _differences(head, seg, base)
            self._row(s, t, "mismatch", seg, head, p.frame, why)
            self._note(
                s,
                t,
                f"replay: frame {p.frame}: the capture shows '{_rel(seg, base)}' but the engine sent "
                f"'{_rel(head, base)}' ({why})",
            )
            return
        self.report.not_produced += 1
        self._row(s, t, "not produced", seg, None, p.frame, "the engine did not send it")
        self._note(
            s,
            t,
            f"replay: frame {p.frame}: the capture shows '{_rel(seg, base)}' from {s.name}, which the engine did "
            f"not send",
        )

    def _extra(self, s: _Side, t: float, e: Segment) -> None:
        base = self._base(s)
        self.report.extra += 1
        self._row(s, t, "extra", None, e, None, "not in the capture")
        self._note(s, t, f"replay: the engine sent '{_rel(e, base)}' from {s.name}, which the capture does not show")

    # -- driver -----------------------------------------------------------------------------
    def run(self) -> None:
        self._setup()
        pk = self.pk
        last = 0.0
        for t, _order, what, i in self._events():
            if what == "send":
                self._send(i, pk[i], t)
            else:
                self._deliver(pk[i], t)
            last = t
        self._advance(last)
        for s in (self.a, self.b):
            for tx, x in s.pending:
                self._extra(s, tx, x)
            s.pending.clear()
        self.report.rows.sort(key=lambda row: row.time)
        t_end = max(r.time for r in self.records) if self.records else 0.0
        self._note(self.a, t_end, f"replay of {_fmt(self.conn.conn)}: {self.report.summary()}")


def _differences(eng: Segment, cap: Segment, base: tuple[int, int] | None) -> str:
    out = []
    if (eng.flags & _CORE) != (cap.flags & _CORE):
        out.append(f"flags {_rel(cap, base).split()[0]} vs {_rel(eng, base).split()[0]}")
    iss, irs = base if base is not None else (0, 0)
    if eng.seq != cap.seq:
        out.append(f"seq {seq_sub(cap.seq, iss)} vs {seq_sub(eng.seq, iss)}")
    if (eng.has_ack or cap.has_ack) and eng.ack != cap.ack:
        out.append(f"ack {seq_sub(cap.ack, irs)} vs {seq_sub(eng.ack, irs)}")
    if eng.length != cap.length:
        out.append(f"length {cap.length} vs {eng.length}")
    return "captured vs engine: " + "; ".join(out)


def _fmt(c: ConnId) -> str:
    return f"{c[0]}:{c[1]} -> {c[2]}:{c[3]}"


def replay(
    source: Capture | Connection | Sequence[Connection] | Sequence[CapturedPacket],
    *,
    profile: str | Profile = "linux",
    names: tuple[str, str] = ("client", "server"),
    delay: float = 0.0,
) -> ReplayResult:
    """Replay captured connections through the engine on both sides.

    Parameters
    ----------
    source : Capture, Connection, connections or packets
        What :func:`tcpkit.capture.pcap.read_capture` gave, or part of it.  Each
        connection is replayed on its own pair of stacks.
    profile : str or Profile
        The engine profile of both sides (``"linux"``, ``"freebsd"``, ``"rfc9293"``).
    names : (str, str)
        Host names for the initiator and the responder.
    delay : float
        Seconds from the capture point to the receiver: 0 (the default) for a
        capture on the loopback interface or next to both hosts; the one-way
        link delay for a capture written at the sender, such as
        :func:`tcpkit.capture.pcap.export_pcap` of a simulated run.

    Returns
    -------
    ReplayResult
        ``trace``: the engine's own records for both sides (``SEND``, ``RECV``,
        ``STATE``, timers, calls) plus ``NOTE`` records for every discrepancy
        and a summary; times relative to the first packet.  ``report``:
        segments matched, mismatched, not produced and extra.

    Raises
    ------
    TraceFormatError
        When nothing can be replayed: no connection, or none that starts with
        its initiator's SYN (the capture began mid-connection) between two
        distinct endpoints with non-zero ports.  In a capture with several
        connections, the ones that cannot be replayed are listed in
        ``report.skipped`` instead.

    Examples
    --------
    >>> from tcpkit.engine.segment import parse_segment
    >>> a, b = "10.0.0.1", "10.0.0.2"
    >>> def p(t, src, dst, sp, dp, text):
    ...     return CapturedPacket(t, src, dst, parse_segment(text).replace(src_port=sp, dst_port=dp))
    >>> res = replay([p(0.0, a, b, 5000, 80, "S 0:0(0) win 65535"), p(0.01, b, a, 80, 5000, "R. 0:0(0) ack 1 win 0")])
    >>> res.agrees, [s.value for _, s in res.trace.states("client")]
    (True, ['CLOSED', 'SYN_SENT', 'CLOSED'])
    >>> replay([p(0.0, a, b, 5000, 80, ". 1:1(0) ack 1 win 9")])
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.TraceFormatError: connection 10.0.0.1:5000 -> 10.0.0.2:80 starts mid-way (frame 1 is '. ...

    Notes
    -----
    The inferred application calls are listed in the module docstring.  The
    engine's segments are compared with the captured ones on the core flags,
    sequence and acknowledgment numbers and length (RFC 9293 §3.1); ISNs are
    taken from the capture (§3.4.1) and the timestamp clock (RFC 7323 §5.4)
    is set so the engine's first TSval equals the captured one.
    """
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0.0 <= delay <= 60.0:
        raise ParameterError("delay", delay, "seconds from 0 to 60")
    prof = get_profile(profile) if isinstance(profile, str) else profile
    meta: dict[str, Any] = {"source": "replay", "profile": prof.name}
    if isinstance(source, Capture):
        conns = source.connections()
        meta["capture"] = source.name
    elif isinstance(source, Connection):
        conns = [source]
    else:
        items = list(source)
        if items and isinstance(items[0], CapturedPacket):
            conns = split_connections(items)  # type: ignore[arg-type]
        else:
            conns = items  # type: ignore[assignment]
    if not conns:
        raise TraceFormatError("nothing to replay: the capture holds no TCP connection")
    t0 = min(p.time for c in conns for p in c.packets) if any(c.packets for c in conns) else 0.0
    report = ReplayReport()
    keyed: list[tuple[float, int, TraceRecord]] = []
    n = 0
    first_error: TraceFormatError | None = None
    for c in conns:
        try:
            r = _Replayer(c, profile=prof, names=names, t0=t0, delay=delay)
        except TraceFormatError as err:
            # one stray or partial connection does not spoil the others
            first_error = first_error or err
            report.skipped.append(str(err))
            continue
        r.run()
        report.add(r.report)
        for rec in r.records:
            keyed.append((rec.time, n, rec))
            n += 1
    if first_error is not None and len(report.skipped) == len(conns):
        if len(conns) == 1:
            raise first_error
        raise TraceFormatError(f"none of the {len(conns)} connections can be replayed; the first: {first_error}")
    keyed.sort(key=lambda x: (x[0], x[1]))
    meta["capture_start"] = t0
    meta["connections"] = [list(c.conn) for c in conns]
    meta["report"] = report.to_dict()
    return ReplayResult(Trace((rec for _, _, rec in keyed), meta), report)
