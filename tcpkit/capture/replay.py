"""Replay a capture through the real engine on both sides, and tell the engine's differences from the harness's (回放).

:func:`tcpkit.capture.annotate.annotate` rebuilds states from the transition table alone.
:func:`replay` goes further: it runs an engine :class:`~tcpkit.engine.stack.Stack`
for every host of the capture (one per address and role, so every connection
to a server port meets the same listener), gives each connection its captured
ISN and timestamp clock, feeds every captured segment to its receiver when it
arrived, infers the application calls from what each side sent, and compares
what the engine sent with what the capture shows, in content and in time.

Examples
--------
>>> from tcpkit.drivers.scenarios import run_scenario
>>> from tcpkit.capture.savefile import export_pcap_bytes, read_capture
>>> cap = read_capture(export_pcap_bytes(run_scenario("open_close_client_first", seed=1)))
>>> res = replay(cap, delay=0.01)      # export_pcap writes at the sender; the link takes 10 ms
>>> res.agrees, res.report.matched, res.report.captured, res.report.verdict
(True, 8, 8, 'agrees')
>>> res.trace.final_state("client")
<State.TIME_WAIT: 'TIME_WAIT'>

Notes
-----
What the replay is told (:mod:`tcpkit.capture.replay_setup`): the profile,
sysctls and socket options per side, the listener's backlog and accept
behaviour, where the capture was taken and the one-way delay, and the timing
tolerance.

What it reads from the capture (:mod:`tcpkit.capture.evidence`): segments that
were captured but lost before delivery (never acknowledged, then resent;
keepalive probes never answered), which are then *not* delivered and are
listed in ``report.undelivered``; responders that never send anything, which
are black holes (nothing is delivered to them, so no RST is invented);
keepalive settings from the probes; a side whose data segments are all cut
at the MSS (at least two full-sized, none longer), which was captured behind a
device without segmentation offload and is replayed with ``tso=0``; and an accept queue that overflowed (a
listening port that leaves SYNs unanswered), which makes the replayed server
accept lazily with the backlog the capture implies.

Application calls inferred from the capture (a simple, documented rule set):

* the initiator ``connect()``\\ s from the captured port when its first SYN is
  sent; a responder endpoint that answers a SYN with a SYN-ACK has one
  listener from the start, for all its connections; one that sends a SYN of
  its own ``connect()``\\ s (simultaneous open, RFC 9293 §3.5 Figure 7); one
  that only answers with RST has no socket (a closed port, §3.10.7.1);
* a listener ``accept()``\\ s as soon as a connection is ready (``eager``), or
  only when the application first acts on it (``lazy``);
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
counted when they differ but do not make a mismatch
(:mod:`tcpkit.capture.compare`).  A segment the engine sends at another time
than the capture shows is a *timing* difference.  When two segments crossed in
flight (the second is a SYN or FIN from the other side that does not
acknowledge the first), both sends are replayed before both arrivals, as
:func:`tcpkit.capture.annotate.annotate` does.  Timers fire at their own
deadlines; one due at the very moment a segment arrives fires after the arrival.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tcpkit.engine.errors import TcpError, TraceFormatError
from tcpkit.engine.listener import Listener
from tcpkit.engine.profiles import Profile
from tcpkit.engine.segment import Segment
from tcpkit.engine.seqnum import MASK, seq_add, seq_gt, seq_sub
from tcpkit.engine.stack import Stack
from tcpkit.engine.states import State
from tcpkit.engine.trace import ConnId, Note, Trace, TraceRecord

from .compare import ReplayReport, ReplayRow, SideMatcher
from .evidence import ConnectionEvidence, read_evidence
from .flows import CapturedPacket, CaptureLike, Connection, is_pure_syn, split_connections
from .replay_setup import ReplaySetup, make_setup

__all__ = ["ReplayReport", "ReplayResult", "ReplayRow", "replay"]

#: At most this many timer firings per replay step (a guard against a timer that never moves on).
MAX_TIMER_FIRES = 10_000
#: Times closer than this (seconds) are the same time: capture times are rounded to the nanosecond.
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """The engine's trace of a replayed capture and the comparison report."""

    trace: Trace
    report: ReplayReport

    @property
    def agrees(self) -> bool:
        """Shortcut for ``report.agrees``."""
        return self.report.agrees


# --------------------------------------------------------------------------- hosts, endpoints, connections


class _Host:
    """One engine stack: all the endpoints of one address in one role."""

    def __init__(self, name: str, addr: str, initiator: bool, profile: Profile, tracer: Callable[..., None]) -> None:
        self.name = name
        self.addr = addr
        self.initiator = initiator
        self.isns: dict[ConnId, int] = {}
        self.stack = Stack(name=name, addr=addr, profile=profile, isn=self._isn, seed=0, tracer=tracer, ts_offset=0)
        self.listeners: dict[int, _Listener] = {}

    def _isn(self, now: float, cid: ConnId) -> int:
        return self.isns.get(cid, 0)


@dataclass(slots=True)
class _Listener:
    host: _Host
    port: int
    lfd: int
    lazy: bool


@dataclass(slots=True)
class _End:
    """One side of one captured connection."""

    name: str
    addr: str
    port: int
    host: _Host
    initiator: bool
    matcher: SideMatcher
    role: str  # "connect", "listen", "closed" or "silent"
    iss: int | None = None
    ts_offset: int = 0
    sockopts: dict[str, Any] = field(default_factory=dict)
    fd: int | None = None
    app_end: int | None = None  # sequence number after the last byte handed to send()
    fin_called: bool = False
    shut_wr: bool = False
    eof: bool = False  # the application read end of file (or a reset)
    owed: int = 0  # bytes the application wrote that the send buffer has not taken yet
    fin_after: int | None = None  # index of a FIN segment whose call waits for ``owed``

    def key(self, peer: _End) -> tuple[int, str, int, str, int]:
        return (id(self.host), self.addr, self.port, peer.addr, peer.port)


class _Conn:
    def __init__(self, index: int, c: Connection, ev: ConnectionEvidence) -> None:
        self.index = index
        self.conn = c.conn
        self.pk = c.packets
        self.ev = ev
        a = (c.conn[0], c.conn[1])
        self.from_a = [(p.src, p.segment.src_port) == a for p in self.pk]
        self.a: _End
        self.b: _End
        self.closing_write: dict[int, int] = {}
        self.reused_port = False
        self.report = ReplayReport()

    def sender(self, i: int) -> _End:
        return self.a if self.from_a[i] else self.b

    def peer(self, e: _End) -> _End:
        return self.b if e is self.a else self.a


def _crossed(p: CapturedPacket, q: CapturedPacket) -> bool:
    """``q`` comes from ``p``'s receiver, is a SYN or FIN, and does not acknowledge ``p``."""
    ps, qs = p.segment, q.segment
    if (p.src, ps.src_port) == (q.src, qs.src_port) or ps.seg_len == 0 or qs.rst or not (qs.syn or qs.fin):
        return False
    return not qs.has_ack or seq_gt(ps.end_seq, qs.ack)


def _rel(seg: Segment, base: tuple[int, int] | None) -> str:
    return seg.notation(relative_to=base) if base is not None else seg.notation()


def _fmt(c: ConnId) -> str:
    return f"{c[0]}:{c[1]} -> {c[2]}:{c[3]}"


def _check_replayable(c: Connection) -> None:
    if not c.packets:
        raise TraceFormatError(f"connection {c.conn} has no packets to replay")
    first = c.packets[0]
    if not is_pure_syn(first.segment):
        raise TraceFormatError(
            f"connection {_fmt(c.conn)} starts mid-way (frame {first.frame or 1} is "
            f"'{first.segment.notation()}'): replay needs the opening SYN; annotate() reads partial captures"
        )
    ca, cp, sa, sp = c.conn
    if not (0 < cp <= 65535 and 0 < sp <= 65535) or (ca, cp) == (sa, sp):
        raise TraceFormatError(
            f"connection {_fmt(c.conn)} cannot be replayed: the two endpoints must differ and use ports 1 to 65535"
        )


# --------------------------------------------------------------------------- the replay


class _Replay:
    def __init__(self, conns: list[Connection], setup: ReplaySetup, names: tuple[str, str], t0: float) -> None:
        self.setup = setup
        self.names = names
        self.t0 = t0
        self.records: list[TraceRecord] = []
        self.report = ReplayReport(tolerance=setup.tolerance, timer_slack=setup.timer_slack)
        self.report.setup = setup.describe()
        self.hosts: dict[tuple[bool, str], _Host] = {}
        self.route: dict[tuple[int, str, int, str, int], _End] = {}
        self.conns: list[_Conn] = []
        self.listeners: dict[tuple[str, int], _Listener] = {}
        self._delivered_notes: set[tuple[int, int]] = set()
        self._cut_at_mss = {
            side: why
            for side, why in (self._cut_at_mss_sides(conns) if setup.infer else {}).items()
            if "tso" not in setup.side(side).knobs  # what the user said wins
            and any(k.name == "tso" for k in setup.profile_of(side).knobs)  # only Linux builds super-segments
        }
        for side, why in sorted(self._cut_at_mss.items()):
            self.report.inferred.append(
                f"{self.names[0 if side else 1]}: {why}: the capture point sees segments after TSO/GSO cut them "
                "(a device without segmentation offload), modelled with tso=0"
            )
        self._build(conns)

    # -- set-up -------------------------------------------------------------------
    def _host(self, initiator: bool, addr: str) -> _Host:
        key = (initiator, addr)
        h = self.hosts.get(key)
        if h is None:
            base = self.names[0 if initiator else 1]
            n = sum(1 for (i, _a) in self.hosts if i == initiator)
            name = base if n == 0 else f"{base}{n + 1}"
            profile = self.setup.profile_of(initiator)
            if initiator in self._cut_at_mss:
                profile = profile.set(tso=0)
            h = self.hosts[key] = _Host(name, addr, initiator, profile, self.records.append)
        return h

    def _cut_at_mss_sides(self, conns: list[Connection]) -> dict[bool, str]:
        """Sides whose data segments the capture shows cut at the MSS (a device without TSO/GSO), with why.

        A side counts when it sent at least two full-sized segments (payload = the MSS its peer offered, less
        12 bytes when timestamps are on) and never a longer one; a longer segment means the capture saw the
        stack's super-segments (TSO/GSO on, as on loopback).
        """
        full: dict[bool, int] = {}
        longer: set[bool] = set()
        for c in conns:
            sides = [((p.src, p.segment.src_port) == (c.conn[0], c.conn[1]), p.segment) for p in c.packets]
            mss: dict[bool, int] = {}
            for from_a, seg in sides:
                if seg.syn and seg.mss is not None:
                    mss[not from_a] = seg.mss - (12 if seg.timestamp is not None else 0)
            for from_a, seg in sides:
                if not seg.length or from_a not in mss:
                    continue
                if seg.length > mss[from_a]:
                    longer.add(from_a)
                elif seg.length == mss[from_a]:
                    full[from_a] = full.get(from_a, 0) + 1
        return {
            side: f"{n} data segments of exactly the MSS and none longer"
            for side, n in full.items()
            if n >= 2 and side not in longer
        }

    def _build(self, conns: list[Connection]) -> None:
        # what each responder endpoint does in the whole capture
        sent: dict[tuple[str, int], set[str]] = {}
        for c in conns:
            sa, sp = c.conn[2], c.conn[3]
            seen = sent.setdefault((sa, sp), set())
            for p in c.packets:
                if (p.src, p.segment.src_port) == (sa, sp):
                    seg = p.segment
                    seen.add("any")
                    if seg.syn and seg.has_ack and not seg.rst:
                        seen.add("synack")
                    elif is_pure_syn(seg):
                        seen.add("syn")
        infer = self.setup.infer
        by_endpoint: dict[tuple[str, int], list[_Conn]] = {}
        for k, c in enumerate(conns):
            ep = (c.conn[2], c.conn[3])
            roles = sent[ep]
            silent = "any" not in roles
            ev = read_evidence(
                c,
                self.setup.point,
                silent_peer=silent and infer,
                listening="synack" in roles,
                t0=self.t0,
            )
            if not infer:
                ev.undelivered.clear()
                ev.keepalive.clear()
            rc = _Conn(k, c, ev)
            rc.report = ReplayReport(tolerance=self.setup.tolerance, timer_slack=self.setup.timer_slack)
            b_first = next((p for p in c.packets if (p.src, p.segment.src_port) == ep), None)
            if b_first is not None and b_first.segment.syn and not b_first.segment.rst:
                b_role = "listen" if b_first.segment.has_ack else "connect"
            elif "synack" in roles:
                b_role = "listen"  # answered others: its queue was full for this one
            else:
                b_role = "silent" if silent else "closed"
            rc.a = self._end(rc, True, self.names[0], c.conn[0], c.conn[1], "connect")
            rc.b = self._end(rc, False, self.names[1], ep[0], ep[1], b_role)
            rc.closing_write = self._closing_writes(rc)
            self.conns.append(rc)
            by_endpoint.setdefault(ep, []).append(rc)
            if silent and infer:
                self.report.inferred.append(
                    f"{_fmt(c.conn)}: nothing in the capture comes from {ep[0]}:{ep[1]}: modelled as a black hole "
                    "(nothing is delivered to it)"
                )
            for side, ka in ev.keepalive.items():
                opts = ka.sockopts()
                end = rc.a if side == "initiator" else rc.b
                for name, value in opts.items():
                    end.sockopts.setdefault(name, value)
                self.report.inferred.append(
                    f"{_fmt(c.conn)}: {end.name} sent {len(ka.probes)} keepalive probes: "
                    + ", ".join(f"{k}={v}" for k, v in opts.items())
                )
        # the same 4-tuple used again: every incarnation binds with SO_REUSEADDR (on Linux a bind() beside a
        # TIME_WAIT socket needs the flag on both, inet_bind_conflict())
        uses: dict[ConnId, int] = {}
        for rc in self.conns:
            uses[rc.conn] = uses.get(rc.conn, 0) + 1
        for rc in self.conns:
            rc.reused_port = uses[rc.conn] > 1
        for ep, rcs in by_endpoint.items():
            if any(rc.b.role == "listen" for rc in rcs):
                self._listen(ep, rcs)

    def _end(self, rc: _Conn, initiator: bool, name: str, addr: str, port: int, role: str) -> _End:
        host = self._host(initiator, addr)
        iss: int | None = None
        ts_offset = 0
        have_ts = False
        for i, p in enumerate(rc.pk):
            if rc.from_a[i] != initiator:
                continue
            seg = p.segment
            if iss is None and seg.syn and not seg.rst:
                iss = seg.seq
            if not have_ts and seg.timestamp is not None:
                # Sender.tsval: ts_offset + round(now * 1000) (a 1 ms clock, as Linux)
                ts_offset = (seg.timestamp[0] - int(round(rc.ev.send_time[i] * 1000))) & MASK
                have_ts = True
        setup_opts = dict(self.setup.side(initiator).sockopts)
        end = _End(
            name=host.name,
            addr=addr,
            port=port,
            host=host,
            initiator=initiator,
            matcher=SideMatcher(
                host.name,
                rc.report,
                tolerance=self.setup.tolerance,
                slack=self.setup.timer_slack,
                conn=(addr, port, rc.conn[2], rc.conn[3]) if initiator else (addr, port, rc.conn[0], rc.conn[1]),
            ),
            role=role,
            iss=iss,
            ts_offset=ts_offset,
            sockopts=setup_opts,
            app_end=seq_add(iss, 1) if iss is not None else None,
        )
        end.matcher.base = lambda: self._base(rc, end)
        end.matcher.note = lambda t, text: self._note(end, rc, t, text)
        return end

    def _base(self, rc: _Conn, end: _End) -> tuple[int, int] | None:
        peer = rc.peer(end)
        if end.iss is None or peer.iss is None:
            return None
        return (end.iss, peer.iss)

    def _listen(self, ep: tuple[str, int], rcs: list[_Conn]) -> None:
        """One listener for the endpoint, with the backlog and accept behaviour the capture implies."""
        host = rcs[0].b.host
        setup = self.setup
        params = host.stack.params
        drops = [rc for rc in rcs if rc.ev.syn_dropped_at is not None or rc.ev.synack_resent]
        backlog = setup.backlog
        lazy = setup.accept == "lazy"
        if drops and setup.infer:
            t_drop = min(
                rc.ev.syn_dropped_at if rc.ev.syn_dropped_at is not None else (rc.ev.established_at or 0.0)
                for rc in drops
            )
            dropped = {id(rc) for rc in drops}
            requests = sum(  # answered at once, handshake not finished yet: in the SYN queue
                1
                for rc in rcs
                if id(rc) not in dropped
                and rc.ev.syn_at is not None
                and rc.ev.syn_at < t_drop
                and (rc.ev.established_at is None or rc.ev.established_at >= t_drop)
            )
            waiting = sum(  # finished, not yet acted on by the application: in the accept queue
                1
                for rc in rcs
                if rc.ev.established_at is not None
                and rc.ev.established_at < t_drop
                and (rc.ev.app_at is None or rc.ev.app_at > t_drop)
            )
            if setup.accept is None:
                lazy = True
            how = "lazily (only when the application first acts)" if lazy else "at once"
            text = (
                f"{ep[0]}:{ep[1]}: {len(drops)} connections found the listener full (a SYN unanswered until "
                f"resent, or a SYN-ACK resent after the handshake's ACK): it accepts {how}"
            )
            if backlog is None and requests + waiting:
                backlog = _backlog_for(params, requests, waiting)
                text += (
                    f", with backlog {backlog} ({requests} requests and {waiting} finished connections waited when "
                    "it overflowed)"
                )
            self.report.inferred.append(text)
        if backlog is None:
            backlog = params.somaxconn
        st = host.stack
        lfd = st.socket(0.0)
        st.setsockopt(0.0, lfd, "SO_REUSEADDR", 1)
        opts: dict[str, Any] = {}
        for rc in rcs:
            for name, value in rc.b.sockopts.items():
                opts.setdefault(name, value)
        for name, value in opts.items():  # inherited by every accepted connection (Linux copies them)
            st.setsockopt(0.0, lfd, name, value)
        st.bind(0.0, lfd, ep[1], ep[0])
        st.listen(0.0, lfd, backlog=backlog)
        lst = _Listener(host, ep[1], lfd, lazy)
        host.listeners[ep[1]] = lst
        self.listeners[ep] = lst

    def _closing_writes(self, rc: _Conn) -> dict[int, int]:
        """For each data segment ``i`` (without FIN), the data+FIN segment that ends its run, if any.

        A FIN rides on data only when ``close()`` came while that data still
        waited to be sent (Linux ``tcp_send_fin()`` appends it to the last
        unsent segment).  So when a side's payload runs on from segment ``i``
        to a data-carrying FIN, and the peer sends nothing an application could
        react to in between (only ACKs), it was one write followed by the FIN
        call.  One backward pass over the packets (so long captures stay linear).
        """
        out: dict[int, int] = {}
        ends: dict[bool, int | None] = {True: None, False: None}
        for j in range(len(rc.pk) - 1, -1, -1):
            seg = rc.pk[j].segment
            s = rc.from_a[j]
            end = ends[s]
            if seg.length and not (seg.fin or seg.rst) and end is not None:
                out[j] = end
            if seg.rst:
                ends[s] = None
            elif seg.fin:
                ends[s] = j if seg.length else None
            if seg.length or seg.syn or seg.fin or seg.rst:  # something the peer's application could react to
                ends[not s] = None
        return out

    def _note(self, end: _End | None, rc: _Conn | None, t: float, text: str) -> None:
        if end is not None and rc is not None:
            peer = rc.peer(end)
            conn: ConnId | None = (end.addr, end.port, peer.addr, peer.port)
            host = end.name
        else:
            conn, host = None, self.names[0]
        self.records.append(Note(time=t, host=host, conn=conn, text=text))

    # -- engine plumbing ----------------------------------------------------------
    def _collect(self, host: _Host, t: float) -> None:
        for d in host.stack.take_outgoing():
            seg = d.segment
            end = self.route.get((id(host), d.src, seg.src_port, d.dst, seg.dst_port))
            if end is not None:
                end.matcher.engine(t, seg)
                continue
            self.report.extra += 1
            self.report.rows.append(
                ReplayRow(t, host.name, "extra", None, seg.notation(), None, "for no captured connection")
            )
            self.records.append(
                Note(
                    time=t,
                    host=host.name,
                    text=f"replay: the engine sent '{seg.notation()}' from {host.name} to {d.dst}:{seg.dst_port}, "
                    "for no connection of the capture",
                )
            )

    def _advance(self, t: float, *, inclusive: bool = True) -> None:
        """Fire every timer due before ``t`` (or at ``t``: ``inclusive``), each at its own deadline, in time order."""
        limit = t + EPS if inclusive else t - EPS
        hosts = list(self.hosts.values())
        for _ in range(MAX_TIMER_FIRES):
            best: tuple[float, int] | None = None
            for k, h in enumerate(hosts):
                d = h.stack.next_deadline()
                if d is not None and d <= limit and (best is None or d < best[0]):
                    best = (d, k)
            if best is None:
                return
            d, k = best
            hosts[k].stack.handle_timer(d)
            self._collect(hosts[k], d)
        self._note(None, None, t, f"replay stopped firing timers after {MAX_TIMER_FIRES} at t={t:.6f}")

    def _call(self, end: _End, rc: _Conn, t: float, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except TcpError as err:
            if err.errno_name != "EINPROGRESS":
                self._note(end, rc, t, f"replay: the inferred call {what} failed: {err}")
            return None
        finally:
            self._collect(end.host, t)

    # -- accepting ----------------------------------------------------------------
    def _accept_ready(self, lst: _Listener, t: float, want: _End | None = None) -> None:
        """Accept from the queue (all of it, or up to ``want``), handing each descriptor to its endpoint."""
        st = lst.host.stack
        for _ in range(100_000):
            if want is not None and want.fd is not None:
                return
            if "in" not in st.poll(lst.lfd):
                return
            try:
                fd = st.accept(t, lst.lfd)
            except TcpError:
                return
            finally:
                self._collect(lst.host, t)
            c = st.connection(fd)
            end = self.route.get((id(lst.host), *c.conn_id)) if c is not None else None
            if end is None or end.fd is not None:
                continue  # a connection the capture does not show: kept open, never used
            end.fd = fd
            self._read(end, self._conn_of(end), t)

    def _conn_of(self, end: _End) -> _Conn:
        for rc in self.conns:
            if rc.a is end or rc.b is end:
                return rc
        raise AssertionError("an endpoint without its connection")  # pragma: no cover

    def _ensure_fd(self, end: _End, rc: _Conn, t: float) -> None:
        """A lazily accepting listener accepts when the application first needs the connection."""
        if end.fd is not None or end.initiator:
            return
        lst = self.listeners.get((end.addr, end.port))
        if lst is not None:
            self._accept_ready(lst, t, want=end)

    # -- the two phases of one captured segment -----------------------------------
    def _app_before_send(self, rc: _Conn, i: int, t: float) -> None:
        end = rc.sender(i)
        seg = rc.pk[i].segment
        peer = rc.peer(end)
        st = end.host.stack
        if is_pure_syn(seg) and end.fd is None and end.role == "connect" and not end.fin_called:
            fd = st.socket(t)
            if rc.reused_port:
                st.setsockopt(t, fd, "SO_REUSEADDR", 1)
            for name, value in end.sockopts.items():
                st.setsockopt(t, fd, name, value)
            end.fd = fd
            self._call(end, rc, t, f"bind({end.port})", lambda: st.bind(t, fd, end.port, end.addr))
            st.ts_offset = end.ts_offset
            try:
                st.connect(t, fd, peer.addr, peer.port)
            except TcpError as err:
                if err.errno_name != "EINPROGRESS":
                    self._note(end, rc, t, f"replay: the inferred call connect({peer.addr}:{peer.port}) failed: {err}")
                    if err.errno_name in ("EADDRNOTAVAIL", "EADDRINUSE") and "TIME_WAIT" in str(err):
                        self._hint_time_wait(end, rc)
            finally:
                self._collect(end.host, t)
            return
        if seg.rst:
            if end.matcher.waiting_engine(lambda s: s.rst):
                return
            self._ensure_fd(end, rc, t)
            if end.fd is None or st.state(end.fd) in (State.CLOSED, State.LISTEN):
                return
            fd, end.fd = end.fd, None
            st.setsockopt(t, fd, "SO_LINGER", (1, 0))
            self._call(end, rc, t, "close() with SO_LINGER 0", st.close, t, fd)
            return
        if seg.length and end.app_end is not None:
            data_end = seq_add(seg.seq, seg.length + (1 if seg.syn else 0))
            if seq_gt(data_end, end.app_end):
                self._ensure_fd(end, rc, t)
                j = rc.closing_write.get(i)
                if j is not None:
                    data_end = seq_add(rc.pk[j].segment.seq, rc.pk[j].segment.length)
                n = seq_sub(data_end, end.app_end)
                end.app_end = data_end
                if end.fd is None:
                    self._note(end, rc, t, f"replay: {end.name} sends {n} bytes but has no open socket")
                else:
                    end.owed += n
                    if j is not None:
                        end.fin_after = j
                    self._write(end, rc, t)
        if seg.fin:
            self._ensure_fd(end, rc, t)
            if end.owed:
                end.fin_after = i
            else:
                self._fin_call(end, rc, i, t)

    def _hint_time_wait(self, end: _End, rc: _Conn) -> None:
        side = "client" if end.initiator else "server"
        text = (
            f"{_fmt(rc.conn)}: the capture opens this 4-tuple again while the engine still holds it in TIME_WAIT: "
            f"the {side}'s TIME_WAIT was shorter (--set {side}:time_wait_len=SECONDS on Linux) or "
            f"tcp_tw_reuse was on (--set {side}:tcp_tw_reuse=1)"
        )
        if not any(x.endswith(text.split(": ", 1)[1]) for x in self.report.inferred):
            self.report.inferred.append(text)

    def _write(self, end: _End, rc: _Conn, t: float) -> None:
        """Hand the engine what the application still wants to write (a blocking ``send()``
        goes on as the send buffer drains), then make the FIN call that waited for it."""
        st = end.host.stack
        while end.owed and end.fd is not None:
            try:
                n = st.send(t, end.fd, end.owed)
            except TcpError as err:
                if err.errno_name != "EAGAIN":
                    self._note(end, rc, t, f"replay: the inferred call send({end.owed}) failed: {err}")
                    end.owed = 0
                break
            finally:
                self._collect(end.host, t)
            if n <= 0:
                break
            end.owed -= n
        if not end.owed and end.fin_after is not None:
            j, end.fin_after = end.fin_after, None
            self._fin_call(end, rc, j, t)

    def _fin_call(self, end: _End, rc: _Conn, i: int, t: float) -> None:
        """The FIN of segment ``i``: ``shutdown(SHUT_WR)`` when the peer still sends payload later, else ``close()``."""
        if end.fin_called or end.fd is None:
            return
        end.fin_called = True
        st = end.host.stack
        more = any(rc.pk[k].segment.length and rc.from_a[k] != end.initiator for k in range(i + 1, len(rc.pk)))
        if more:
            end.shut_wr = True
            self._call(end, rc, t, "shutdown(SHUT_WR)", st.shutdown, t, end.fd, "SHUT_WR")
        else:
            fd, end.fd = end.fd, None
            self._call(end, rc, t, "close()", st.close, t, fd)

    def _read(self, end: _End, rc: _Conn, t: float) -> None:
        st = end.host.stack
        if end.fd is None or st.connection(end.fd) is None:
            return
        if end.owed:
            self._write(end, rc, t)
        for _ in range(64):  # every byte that is there, then end of file once
            if end.fd is None or end.eof or "in" not in st.poll(end.fd):
                break
            try:
                data = st.recv(t, end.fd, 65536)
            except TcpError:  # a reset: nothing more to read
                end.eof = True
                break
            finally:
                self._collect(end.host, t)
            if not data:
                end.eof = True
                if end.shut_wr:  # end of file after a half-close: the application is done
                    fd, end.fd = end.fd, None
                    self._call(end, rc, t, "close()", st.close, t, fd)
                break

    def _start(self, rc: _Conn) -> None:
        """A connection's first segment: its 4-tuple now names it (a later incarnation replaces an earlier one)."""
        for end in (rc.a, rc.b):
            peer = rc.peer(end)
            self.route[end.key(peer)] = end
            if end.iss is not None:
                end.host.isns[(end.addr, end.port, peer.addr, peer.port)] = end.iss

    def _send(self, rc: _Conn, i: int, t: float) -> None:
        if i == 0:
            self._start(rc)
        end = rc.sender(i)
        self._advance(t)
        self._app_before_send(rc, i, t)
        p = rc.pk[i]
        end.matcher.captured(rc.ev.send_time[i], p.segment, frame=p.frame, cause=rc.ev.cause[i])

    def _deliver(self, rc: _Conn, i: int, t: float) -> None:
        p = rc.pk[i]
        s = rc.sender(i)
        r = rc.peer(s)
        if i in rc.ev.undelivered:
            rc.report.undelivered.append(
                f"frame {p.frame} ({s.name} -> {r.name}, '{_rel(p.segment, self._base(rc, s))}'): "
                f"{rc.ev.undelivered[i]}"
            )
            self._note(r, rc, t, f"replay: frame {p.frame} is not delivered: {rc.ev.undelivered[i]}")
            return
        self._advance(t, inclusive=False)  # a timer due at the very moment fires after the arrival
        st = r.host.stack
        if is_pure_syn(p.segment):
            st.ts_offset = r.ts_offset  # a listener makes the child now: give it the captured clock
        st.segment_arrives(t, p.src, p.dst, p.segment)
        self._collect(r.host, t)
        for lst in r.host.listeners.values():
            if not lst.lazy:
                self._accept_ready(lst, t)
        self._read(r, rc, t)

    def _events(self) -> list[tuple[float, float, str, _Conn, int]]:
        """``(time, order, "send" or "deliver", connection, index)`` for every captured segment, in replay order.

        A segment is sent when its sender sent it and delivered when it reached
        the receiver (see :class:`~tcpkit.capture.replay_setup.CapturePoint`);
        when the next segment of its connection crossed it in flight (see
        :func:`_crossed`), it is delivered only after that one was sent.
        """
        out: list[tuple[float, float, str, _Conn, int]] = []
        for rc in self.conns:
            pk = rc.pk
            for i in range(len(pk)):
                ts = round(rc.ev.send_time[i], 9)  # to the nanosecond: 0.04 + 0.01 must equal 0.05
                out.append((ts, 0.0, "send", rc, i))
                at = round(rc.ev.arrive_time[i], 9)
                if i + 1 < len(pk) and _crossed(pk[i], pk[i + 1]):
                    at = max(at, round(rc.ev.send_time[i + 1], 9))
                out.append((at, 1.0, "deliver", rc, i))
        # equal times: capture order (frame order across connections), sends of a crossing pair first
        frame_order = {}
        for rc in self.conns:
            for i, p in enumerate(rc.pk):
                frame_order[(rc.index, i)] = (p.frame, p.time, rc.index, i)
        keyed = []
        for t, kind, what, rc, i in out:
            fo = frame_order[(rc.index, i)]
            if what == "deliver" and i + 1 < len(rc.pk) and _crossed(rc.pk[i], rc.pk[i + 1]):
                fo = frame_order[(rc.index, i + 1)]
                kind = 0.5
            keyed.append(((t, fo, kind), (t, kind, what, rc, i)))
        keyed.sort(key=lambda x: x[0])
        return [x[1] for x in keyed]

    def run(self) -> None:
        last = 0.0
        for t, _k, what, rc, i in self._events():
            if what == "send":
                self._send(rc, i, t)
            else:
                self._deliver(rc, i, t)
            last = max(last, t)
        self._advance(last)
        for rc in self.conns:
            for end in (rc.a, rc.b):
                end.matcher.finish()
        t_end = max((r.time for r in self.records), default=0.0)
        for rc in self.conns:
            self.report.add(rc.report)
            self._note(rc.a, rc, t_end, f"replay of {_fmt(rc.conn)}: {rc.report.summary()}")
        self.report.rows.sort(key=lambda row: row.time)
        if len(self.conns) > 1:
            self.records.append(Note(time=t_end, host=self.names[0], text=f"replay: {self.report.summary()}"))


def _backlog_for(params: Any, requests: int, waiting: int) -> int:
    """A ``listen()`` backlog with which the engine's listener was full holding ``requests`` half-open requests and
    ``waiting`` finished connections, but not one request (or connection) earlier.

    Asked of the engine's own :class:`~tcpkit.engine.listener.Listener` (``syn_queue_full()`` when SYN cookies
    are off, ``accept_queue_full()``), so the answer follows its rules (Linux: the accept queue is full when it
    holds *more* than the backlog, ``sk_acceptq_is_full()``).
    """

    def full(backlog: int, syn: int, acc: int) -> bool:
        lst = Listener(0.0, params, local=("0.0.0.0", 1), backlog=backlog, make_child=_no_child)
        lst.syn_queue.update({("0.0.0.0", k, "0.0.0.0", 0): None for k in range(syn)})  # type: ignore[misc]
        lst.accept_queue.extend([None] * acc)  # type: ignore[list-item]
        return lst.accept_queue_full() or (not params.syncookies and lst.syn_queue_full())

    before = (requests - 1, waiting) if requests else (requests, waiting - 1)
    for b in range(0, requests + waiting + 1):
        if full(b, requests, waiting) and not full(b, *before):
            return b
    return requests + waiting


def _no_child(now: float, remote: tuple[str, int]) -> Any:  # pragma: no cover - never called
    raise AssertionError("a listener used only to ask when its queue is full made a child")


def replay(
    source: CaptureLike | Connection | Sequence[Connection] | Sequence[CapturedPacket],
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
) -> ReplayResult:
    """Replay captured connections through the engine on both sides.

    Parameters
    ----------
    source : Capture, Connection, connections or packets
        What :func:`tcpkit.capture.savefile.read_capture` gave, or part of it.
    profile : str or Profile
        The engine profile of both sides (``"linux"``, ``"freebsd"``, ``"rfc9293"``).
    names : (str, str)
        Host names for the initiator and the responder.
    delay : float
        One-way delay between the two hosts, seconds: 0 (the default) for a
        loopback capture; the link delay for :func:`tcpkit.capture.savefile.export_pcap`
        of a simulated run.
    capture_at : {"sender", "initiator", "responder"}
        Where the capture was taken: at each segment's sender (an export of a
        simulated run; loopback), or on the initiator's or responder's host.
    sysctls, sockopts : mapping, optional
        ``"NAME"`` (both sides) or ``"SIDE:NAME"`` to a value, e.g.
        ``{"client:tcp_fin_timeout": 2, "server:SO_KEEPALIVE": 1}``
        (:func:`tcpkit.capture.replay_setup.make_setup`).
    backlog : int, optional
        The responder listener's ``listen()`` backlog.
    accept : {"eager", "lazy"}, optional
        When the responder accepts (default: eager, lazy when the capture
        shows its accept queue overflowing).
    tolerance : float
        Seconds a segment may be off its captured time (plus ``timer_slack``
        of the time since the sender's previous event) before it is reported
        as a timing difference.
    timer_slack : float
        See ``tolerance``.
    infer : bool
        Read lost segments, silent peers, keepalive settings and the accept
        behaviour from the capture (see :mod:`tcpkit.capture.evidence`).

    Returns
    -------
    ReplayResult
        ``trace``: the engine's own records for every host (``SEND``, ``RECV``,
        ``STATE``, timers, calls) plus ``NOTE`` records for every discrepancy
        and a summary; times relative to the first packet.  ``report``:
        segments matched (in time or not), mismatched, not produced and extra;
        what was not delivered, what was inferred and what was set.

    Raises
    ------
    TraceFormatError
        When nothing can be replayed: no connection, or none that starts with
        its initiator's SYN (the capture began mid-connection) between two
        distinct endpoints with non-zero ports.  In a capture with several
        connections, the ones that cannot be replayed are listed in
        ``report.skipped`` instead.
    ParameterError, KnobError
        A setting out of range (naming it).

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

    Nothing answers a SYN: the peer is a black hole, not a closed port.

    >>> syns = [p(t, a, b, 5000, 80, "S 0:0(0) win 65535") for t in (0.0, 1.0, 2.0)]
    >>> rep = replay(syns, sysctls={"tcp_syn_retries": 2}).report
    >>> len(rep.undelivered), [r.host for r in rep.rows if r.engine and r.engine.startswith("R")]
    (3, [])

    Notes
    -----
    The inferred application calls are listed in the module docstring.  The
    engine's segments are compared with the captured ones on the core flags,
    sequence and acknowledgment numbers and length (RFC 9293 §3.1); ISNs are
    taken from the capture (§3.4.1) and each connection's timestamp clock
    (RFC 7323 §5.4) is set so the engine's first TSval equals the captured one.
    """
    setup = make_setup(
        profile=profile,
        names=names,
        delay=delay,
        capture_at=capture_at,
        sysctls=sysctls,
        sockopts=sockopts,
        backlog=backlog,
        accept=accept,
        tolerance=tolerance,
        timer_slack=timer_slack,
        infer=infer,
    )
    prof_name = setup.profile if isinstance(setup.profile, str) else setup.profile.name
    meta: dict[str, Any] = {"source": "replay", "profile": prof_name}
    if isinstance(source, CaptureLike):
        conns = source.connections()
        meta["capture"] = source.name
    elif isinstance(source, Connection):
        conns = [source]
    else:
        if isinstance(source, str | bytes) or not isinstance(source, Sequence):
            raise TraceFormatError(
                f"replay: expected a Capture, a Connection, connections or packets, got {type(source).__name__}"
            )
        items = list(source)
        if items and all(isinstance(x, CapturedPacket) for x in items):
            conns = split_connections(x for x in items if isinstance(x, CapturedPacket))
        elif all(isinstance(x, Connection) for x in items):
            conns = items  # type: ignore[assignment]
        else:
            raise TraceFormatError("replay: expected captured packets or connections, not a mix of other things")
    if not conns:
        raise TraceFormatError("nothing to replay: the capture holds no TCP connection")
    t0 = min(p.time for c in conns for p in c.packets) if any(c.packets for c in conns) else 0.0
    good: list[Connection] = []
    skipped: list[str] = []
    first_error: TraceFormatError | None = None
    for c in conns:
        try:
            _check_replayable(c)
        except TraceFormatError as err:
            # one stray or partial connection does not spoil the others
            first_error = first_error or err
            skipped.append(str(err))
            continue
        good.append(c)
    if not good:
        assert first_error is not None
        if len(conns) == 1:
            raise first_error
        raise TraceFormatError(f"none of the {len(conns)} connections can be replayed; the first: {first_error}")
    r = _Replay(good, setup, (names[0], names[1]), t0)
    r.report.skipped.extend(skipped)
    r.run()
    keyed = sorted(enumerate(r.records), key=lambda x: (x[1].time, x[0]))
    meta["capture_start"] = t0
    meta["connections"] = [list(c.conn) for c in conns]
    meta["hosts"] = {
        h.name: {"addr": h.addr, "role": "initiator" if h.initiator else "responder"} for h in r.hosts.values()
    }
    meta["report"] = r.report.to_dict()
    return ReplayResult(Trace((rec for _, rec in keyed), meta), r.report)
