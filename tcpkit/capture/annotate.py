"""Rebuild both sides' states (状态) from captured packets, using only rows of the transition table.

:func:`annotate` turns the packets of a capture into a trace: each packet a
``SEND`` record of its sender and a ``RECV`` record of its receiver, and every
state change a ``STATE`` record taken from :mod:`tcpkit.engine.states`.
:func:`tcpkit.capture.replay.replay` instead runs both sides through the engine itself.

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> p = CapturedPacket(0.0, "10.0.0.1", "10.0.0.2", parse_segment("S 0:0(0) win 1").replace(src_port=5, dst_port=80))
>>> [s.value for _, s in annotate([p]).states("client")]
['CLOSED', 'SYN_SENT']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tcpkit.engine.segment import Segment
from tcpkit.engine.seqnum import seq_add, seq_ge, seq_gt, seq_le
from tcpkit.engine.states import Event, State, lookup, transitions_from
from tcpkit.engine.trace import ConnId, Note, SegmentReceived, SegmentSent, StateChanged, Trace, TraceRecord

from .flows import CapturedPacket, CaptureLike, Connection, is_pure_syn, split_connections

__all__ = ["annotate"]


@dataclass(slots=True)
class _Side:
    name: str
    addr: str
    port: int
    state: State | None = None  # None: no socket seen (yet)
    passive: bool = False
    iss: int | None = None
    snd_nxt: int | None = None
    fin_seq: int | None = None  # sequence number of our FIN
    irs: int | None = None
    rcv_nxt: int | None = None
    peer_fin: int | None = None  # sequence number of the peer's FIN
    noted: set[str] = field(default_factory=set)

    def conn(self, peer: _Side) -> ConnId:
        return (self.addr, self.port, peer.addr, peer.port)

    def seq_base(self) -> tuple[int, int] | None:
        if self.iss is None or self.irs is None:
            return None
        return (self.iss, self.irs)


class _Observer:
    """Replays one connection's packets on both sides through :func:`tcpkit.engine.states.lookup`."""

    def __init__(self, conn: Connection, names: tuple[str, str], t0: float) -> None:
        ca, cp, sa, sp = conn.conn
        self.a = _Side(names[0], ca, cp)
        self.b = _Side(names[1], sa, sp)
        self.conn = conn
        self.t0 = t0
        self.records: list[TraceRecord] = []

    # -- helpers -----------------------------------------------------------------------
    def _peer(self, side: _Side) -> _Side:
        return self.b if side is self.a else self.a

    def _move(self, side: _Side, t: float, event: Event, condition: str = "") -> None:
        src = side.state or State.CLOSED
        row = lookup(src, event, condition)  # only ever a row of the table
        self.records.append(StateChanged(time=t, host=side.name, conn=side.conn(self._peer(side)), row=row))
        side.state = row.dst

    def _note(self, side: _Side, t: float, key: str, text: str) -> None:
        if key in side.noted:
            return
        side.noted.add(key)
        self.records.append(Note(time=t, host=side.name, conn=side.conn(self._peer(side)), text=text))

    def _has_row(self, state: State, event: Event, condition: str = "") -> bool:
        return any(r.event is event and r.condition == condition for r in transitions_from(state))

    # -- packets -------------------------------------------------------------------------
    def run(self) -> None:
        pk = self.conn.packets
        i = 0
        while i < len(pk):
            if i + 1 < len(pk) and self._crossed(pk[i], pk[i + 1]):
                # Both were sent before either arrived (simultaneous open or close).
                self.send(pk[i])
                self.send(pk[i + 1])
                self.receive(i, pk[i])
                self.receive(i + 1, pk[i + 1])
                i += 2
            else:
                self.send(pk[i])
                self.receive(i, pk[i])
                i += 1

    def _sides(self, pkt: CapturedPacket) -> tuple[_Side, _Side]:
        sender = self.a if (pkt.src, pkt.segment.src_port) == (self.a.addr, self.a.port) else self.b
        return sender, self._peer(sender)

    def _crossed(self, p: CapturedPacket, q: CapturedPacket) -> bool:
        """``q`` comes from ``p``'s receiver, is a SYN or FIN, and does not acknowledge ``p``."""
        if self._sides(p)[0] is self._sides(q)[0] or p.segment.seg_len == 0 or q.segment.rst:
            return False
        qs = q.segment
        if not (qs.syn or qs.fin):
            return False
        return not qs.has_ack or seq_gt(p.segment.end_seq, qs.ack)

    def send(self, pkt: CapturedPacket) -> None:
        t = pkt.time - self.t0
        sender, receiver = self._sides(pkt)
        self._sent(sender, t, pkt.segment)
        self.records.append(
            SegmentSent(
                time=t,
                host=sender.name,
                conn=sender.conn(receiver),
                segment=pkt.segment,
                peer=receiver.name,
                seq_base=sender.seq_base(),
            )
        )

    def receive(self, i: int, pkt: CapturedPacket) -> None:
        t = pkt.time - self.t0
        sender, receiver = self._sides(pkt)
        self.records.append(
            SegmentReceived(
                time=t,
                host=receiver.name,
                conn=receiver.conn(sender),
                segment=pkt.segment,
                peer=sender.name,
                seq_base=receiver.seq_base(),
            )
        )
        self._arrived(receiver, sender, t, pkt.segment, i)

    def _sent(self, s: _Side, t: float, seg: Segment) -> None:
        if seg.syn:
            s.iss = seg.seq
        end = seg.end_seq
        if s.snd_nxt is None or seq_gt(end, s.snd_nxt):
            s.snd_nxt = end
        if seg.fin:
            s.fin_seq = seq_add(seg.seq, seg.length + (1 if seg.syn else 0))
        st = s.state
        if seg.rst:
            if st is not None and st not in (State.CLOSED, State.LISTEN) and self._has_row(st, Event.ABORT):
                # On the wire an abort (SO_LINGER 0) and a close with unread data look
                # the same; tcpkit reads them as ABORT (RFC 9293 §3.10.5).
                self._move(s, t, Event.ABORT)
            return
        if is_pure_syn(seg) and st in (None, State.CLOSED):
            self._move(s, t, Event.ACTIVE_OPEN)
        elif seg.fin and st in (State.ESTABLISHED, State.CLOSE_WAIT, State.SYN_RECEIVED):
            self._move(s, t, Event.CLOSE)

    def _arrived(self, r: _Side, s: _Side, t: float, seg: Segment, i: int) -> None:
        st = r.state
        if seg.rst:
            self._rst(r, t, seg)
            return
        if seg.syn:
            r.irs = seg.seq
            r.rcv_nxt = seq_add(seg.seq, 1)
            if not seg.has_ack:
                if st in (None, State.CLOSED):
                    answers = any(
                        p.segment.syn and p.segment.has_ack and (p.src, p.segment.src_port) == (r.addr, r.port)
                        for p in self.conn.packets[i + 1 :]
                    )
                    if answers:
                        r.passive = True
                        self._move(r, t, Event.PASSIVE_OPEN)
                        self._move(r, t, Event.RCV_SYN)
                    else:
                        self._note(
                            r,
                            t,
                            "nolisten",
                            f"no listener seen on port {r.port}: a closed port answers a SYN with RST, or nothing "
                            f"answers (RFC 9293 §3.10.7.1)",
                        )
                elif st in (State.LISTEN, State.SYN_SENT):
                    self._move(r, t, Event.RCV_SYN)
                elif st is not None and st is not State.SYN_RECEIVED:
                    self._note(
                        r,
                        t,
                        f"syn{seg.seq}",
                        f"SYN in {st.value}: Linux answers with a challenge ACK (RFC 5961 §4), no state change",
                    )
            elif st is State.SYN_SENT and r.snd_nxt is not None and seg.ack == r.snd_nxt:
                self._move(r, t, Event.RCV_SYN_ACK)
            elif st is State.SYN_RECEIVED and r.iss is not None and seg.ack == seq_add(r.iss, 1):
                self._move(r, t, Event.RCV_ACK)
            return
        # neither SYN nor RST: ACK processing, then FIN (RFC 9293 §3.10.7.4, fifth and eighth)
        old_nxt = r.rcv_nxt
        in_order = old_nxt is None or seq_le(seg.seq, old_nxt)
        if old_nxt is None or (in_order and seq_gt(seg.end_seq, old_nxt)):
            r.rcv_nxt = seg.end_seq
        fin_at = seq_add(seg.seq, seg.length)
        new_fin = seg.fin and in_order and r.peer_fin is None
        old_fin = seg.fin and r.peer_fin is not None and fin_at == r.peer_fin
        if seg.fin and not in_order:
            self._note(r, t, f"ooo{seg.seq}", "FIN beyond a gap: it waits in the out-of-order queue")
        if new_fin:
            r.peer_fin = fin_at
        if seg.has_ack:
            acks_fin = r.fin_seq is not None and seq_ge(seg.ack, seq_add(r.fin_seq, 1))
            if st is State.SYN_RECEIVED and r.iss is not None and seq_ge(seg.ack, seq_add(r.iss, 1)):
                self._move(r, t, Event.RCV_ACK)
            elif st is State.FIN_WAIT_1 and acks_fin:
                # FIN_WAIT_1 -> FIN_WAIT_2 first, even when the FIN rides on this ACK (the FIN
                # below then moves FIN_WAIT_2 -> TIME_WAIT): RFC 9293 §3.10.7.4, as kernels report it
                self._move(r, t, Event.RCV_ACK_OF_FIN)
            elif st in (State.CLOSING, State.LAST_ACK) and acks_fin:
                self._move(r, t, Event.RCV_ACK_OF_FIN)
        if seg.fin:
            st = r.state
            fresh = new_fin and st in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.SYN_RECEIVED)
            if fresh or (old_fin and st is State.TIME_WAIT):  # TIME_WAIT: a resent FIN, ACKed again
                self._move(r, t, Event.RCV_FIN)

    def _rst(self, r: _Side, t: float, seg: Segment) -> None:
        st = r.state
        if st is None or st in (State.CLOSED, State.LISTEN):
            return
        if st is State.SYN_SENT:
            if seg.has_ack and seg.ack == r.snd_nxt:
                self._move(r, t, Event.RCV_RST)
            else:
                self._note(
                    r, t, f"rst{seg.seq}", "RST without an acceptable ACK: ignored in SYN_SENT (RFC 9293 §3.10.7.3)"
                )
            return
        if st is State.SYN_RECEIVED:
            self._move(r, t, Event.RCV_RST, "passive open" if r.passive else "active open")
            return
        if r.rcv_nxt is not None and seg.seq != r.rcv_nxt:
            self._note(
                r,
                t,
                f"rst{seg.seq}",
                f"RST with seq {seg.seq} != RCV.NXT {r.rcv_nxt}: a challenge ACK, no reset (RFC 5961 §3.2)",
            )
            return
        self._move(r, t, Event.RCV_RST, "rfc1337 off" if st is State.TIME_WAIT else "")


def annotate(
    source: CaptureLike | Sequence[Connection] | Sequence[CapturedPacket],
    *,
    names: tuple[str, str] = ("client", "server"),
    relative: bool = True,
) -> Trace:
    """Rebuild both sides' states from captured packets.

    For every connection, the initiator is called ``names[0]`` and the other
    side ``names[1]``; each packet becomes a ``SEND`` record of its sender and a
    ``RECV`` record of its receiver (at the same time: one capture point), and
    every state change a ``STATE`` record taken from the transition table.

    Parameters
    ----------
    source : Capture, connections or packets
    names : (str, str)
        Host names for initiator and responder.
    relative : bool
        Times relative to the first packet (the absolute start goes into
        ``trace.meta["capture_start"]``).

    Returns
    -------
    Trace

    Examples
    --------
    >>> from tcpkit.engine.segment import parse_segment
    >>> a, b = "10.0.0.1", "10.0.0.2"
    >>> def p(t, src, dst, sp, dp, text):
    ...     return CapturedPacket(t, src, dst, parse_segment(text).replace(src_port=sp, dst_port=dp))
    >>> pkts = [p(0.0, a, b, 5, 80, "S 0:0(0) win 1"), p(0.1, b, a, 80, 5, "S. 7:7(0) ack 1 win 1"),
    ...         p(0.2, a, b, 5, 80, ". 1:1(0) ack 8 win 1")]
    >>> tr = annotate(pkts)
    >>> [s.value for _, s in tr.states("client")], [s.value for _, s in tr.states("server")]
    (['CLOSED', 'SYN_SENT', 'ESTABLISHED'], ['CLOSED', 'LISTEN', 'SYN_RECEIVED', 'ESTABLISHED'])

    Notes
    -----
    Sending a SYN is an active OPEN, sending a FIN a CLOSE, sending an RST an
    ABORT (RFC 9293 §3.10.1, §3.10.4, §3.10.5); arriving segments follow
    §3.10.7 (ACK before FIN, so a FIN that also acknowledges ours takes
    FIN_WAIT_1 straight to TIME_WAIT).  A responder is taken to have been
    listening when it answers a SYN with a SYN-ACK.  When the next packet comes
    from the other side, is a SYN or FIN, and does not acknowledge the packet
    before it, the two crossed in flight (simultaneous open or close, RFC 9293
    §3.5 Figure 7, §3.6 case 3): both sends are replayed before both arrivals.
    An RST counts only at
    exactly RCV.NXT (RFC 5961 §3.2, as Linux does).  Timers cannot be seen in a
    capture: a TIME_WAIT side stays in TIME_WAIT at the end.
    """
    if isinstance(source, CaptureLike):
        conns = source.connections()
        meta: dict[str, Any] = {"source": "capture", "capture": source.name, "report": source.report.to_dict()}
    else:
        items = list(source)
        if items and isinstance(items[0], CapturedPacket):
            conns = split_connections(items)  # type: ignore[arg-type]
        else:
            conns = items  # type: ignore[assignment]
        meta = {"source": "capture"}
    all_times = [p.time for c in conns for p in c.packets]
    t0 = min(all_times) if (all_times and relative) else 0.0
    meta["capture_start"] = t0
    meta["connections"] = [list(c.conn) for c in conns]
    records: list[tuple[float, int, TraceRecord]] = []
    seq = 0
    for c in conns:
        obs = _Observer(c, names, t0)
        obs.run()
        for rec in obs.records:
            records.append((rec.time, seq, rec))
            seq += 1
    records.sort(key=lambda x: (x[0], x[1]))
    return Trace((r for _, _, r in records), meta)
