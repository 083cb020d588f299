"""What a capture shows beyond its segments: lost segments, silent peers, keepalive, a full accept queue.

A replay delivers every captured segment to its receiver unless the capture
itself shows that the segment never got there.  This module reads those signs,
with a rule for each, so a replay does not report its own blind spots as
differences of the engine:

* **lost after the capture point**: a segment that occupies sequence space
  (data, SYN or FIN), is never acknowledged by the peer (no ACK above its first
  byte and no SACK block over it, sent by the peer before the copy arrived), and
  is then sent again, did not arrive (RFC 9293 §3.8.1: only unacknowledged data
  is retransmitted); and when the data *was* acknowledged, in time for the
  acknowledgment to arrive before the copy left, the acknowledgment was lost
  (except for a SYN-ACK sent again: a listener with a full accept queue drops
  the handshake's ACK on arrival, Linux ``tcp_check_req()``);
* **unanswered keepalive probe**: a probe (see below) the peer never answers
  did not arrive (a live peer must answer it with an ACK, RFC 9293 §3.8.4);
* **silent from then on**: once a segment was lost and the peer sends nothing
  more, everything later to it is lost too (the peer or the path is gone);
* **silent peer**: a responder endpoint that sends nothing in the whole
  capture is a black hole: nothing is delivered to it, so the replay does not
  invent RSTs from a closed port;
* **keepalive probes** (RFC 9293 §3.8.4, RFC 1122 §4.2.3.6): a pure ACK with
  sequence number SND.NXT - 1 and 0 or 1 byte, sent with nothing outstanding to
  a peer whose window is open.  The first one gives ``TCP_KEEPIDLE`` (the time
  since the side last heard from its peer), unanswered ones ``TCP_KEEPINTVL``,
  and a reset after *n* unanswered probes ``TCP_KEEPCNT`` = *n* (Linux
  ``tcp_keepalive_timer()`` in ``net/ipv4/tcp_timer.c``);
* **a full accept queue** (Linux ``tcp_conn_request()``: a SYN meeting a full
  accept queue is dropped; ``tcp_check_req()``: so is the handshake's last ACK
  when ``tcp_abort_on_overflow`` is 0): a SYN that a listening port did not
  answer until it was resent, or a SYN-ACK resent after the handshake's ACK.

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> from tcpkit.capture.flows import CapturedPacket, Connection
>>> a, b = "10.0.0.1", "10.0.0.2"
>>> def p(t, src, dst, sp, dp, text):
...     return CapturedPacket(t, src, dst, parse_segment(text).replace(src_port=sp, dst_port=dp))
>>> c = Connection((a, 5, b, 80), (p(0.0, a, b, 5, 80, "S 0:0(0) win 9"), p(1.0, a, b, 5, 80, "S 0:0(0) win 9")))
>>> ev = read_evidence(c, CapturePoint(), silent_peer=False, listening=False)
>>> for i, why in ev.undelivered.items():
...     print(i, why)
0 never acknowledged, then sent again (frame 0)
1 sent after the peer went silent (nothing from it after a lost segment)
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field

from tcpkit.engine.segment import Flags, Sack, Segment
from tcpkit.engine.seqnum import MASK

from .flows import CapturedPacket, Connection, is_pure_syn
from .replay_setup import CapturePoint

__all__ = ["ConnectionEvidence", "Keepalive", "read_evidence"]

Packets = tuple[CapturedPacket, ...]
#: A sequence number made relative to one side's ISN: ``rel(seq, initiator_side)``.
Rel = Callable[[int, bool], int]


@dataclass(frozen=True, slots=True)
class Keepalive:
    """Keepalive settings of one side, as its probes show them (``None``: not seen)."""

    idle: float
    interval: float | None
    count: int | None
    probes: tuple[int, ...]

    def sockopts(self) -> dict[str, int | float]:
        """The socket options that make the engine send these probes (whole seconds, as Linux takes them)."""
        out: dict[str, int | float] = {"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": _seconds(self.idle)}
        if self.interval is not None:
            out["TCP_KEEPINTVL"] = _seconds(self.interval)
        if self.count is not None:
            out["TCP_KEEPCNT"] = max(1, min(127, self.count))
        return out


def _seconds(x: float) -> int:
    return max(1, min(32767, round(x)))


@dataclass(slots=True)
class ConnectionEvidence:
    """The signs one connection's packets show.

    Attributes
    ----------
    send_time, arrive_time : list of float
        Per packet: when its sender sent it and when its receiver got it
        (relative to ``t0``, see :class:`~tcpkit.capture.replay_setup.CapturePoint`).
    cause : list of float
        Per packet: the sender's previous event (a send or an arrival), for
        the timing tolerance.
    undelivered : dict
        Packet index -> why the replay does not deliver it.
    keepalive : dict
        ``"initiator"``/``"responder"`` -> :class:`Keepalive`.
    syn_dropped_at : float or None
        When a SYN the listening responder did not answer (its queue was full)
        reached it, first.
    synack_resent : bool
        The responder resent its SYN-ACK after the handshake's ACK reached it.
    syn_at : float or None
        When the first SYN reached the responder.
    established_at : float or None
        When the handshake's last ACK reached the responder.
    app_at : float or None
        When the responder's application first acted (sent data, FIN or RST).
    """

    send_time: list[float] = field(default_factory=list)
    arrive_time: list[float] = field(default_factory=list)
    cause: list[float] = field(default_factory=list)
    undelivered: dict[int, str] = field(default_factory=dict)
    keepalive: dict[str, Keepalive] = field(default_factory=dict)
    syn_dropped_at: float | None = None
    synack_resent: bool = False
    syn_at: float | None = None
    established_at: float | None = None
    app_at: float | None = None


def read_evidence(
    conn: Connection, point: CapturePoint, *, silent_peer: bool, listening: bool, t0: float = 0.0
) -> ConnectionEvidence:
    """Read the signs of one connection (see the module docstring for the rules).

    Parameters
    ----------
    conn : Connection
    point : CapturePoint
        Where the capture was taken, for the send and arrival times.
    silent_peer : bool
        The responder endpoint sends nothing in the whole capture: a black hole.
    listening : bool
        The responder endpoint has a listener (it answered some SYN): an
        unanswered SYN was delivered and dropped by a full queue, not lost.
    t0 : float
        Capture time that becomes time 0.
    """
    pk = conn.packets
    ev = ConnectionEvidence()
    a_addr = (conn.conn[0], conn.conn[1])
    from_a = [(p.src, p.segment.src_port) == a_addr for p in pk]
    for p, fa in zip(pk, from_a, strict=True):
        before, after = point.offsets(from_initiator=fa)
        ev.send_time.append(p.time - t0 - before)
        ev.arrive_time.append(p.time - t0 + after)
    last = {True: 0.0, False: 0.0}  # the last event of each side (initiator?)
    for i, fa in enumerate(from_a):
        ev.cause.append(last[fa])
        last[fa] = max(last[fa], ev.send_time[i])
        last[not fa] = max(last[not fa], ev.arrive_time[i])
    if silent_peer:
        for i, fa in enumerate(from_a):
            if fa:
                ev.undelivered[i] = "sent to a silent peer (nothing in the capture comes from it): a black hole"
        return ev
    iss = {True: None, False: None}  # type: dict[bool, int | None]
    for p, fa in zip(pk, from_a, strict=True):
        if iss[fa] is None and p.segment.syn and not p.segment.rst:
            iss[fa] = p.segment.seq
    for fa in (True, False):
        if iss[fa] is None:
            first = next((p.segment.seq for p, f in zip(pk, from_a, strict=True) if f == fa), 0)
            iss[fa] = (first - 1) & MASK

    def rel(x: int, side: bool) -> int:
        base = iss[side]
        assert base is not None
        return (x - base) & MASK

    _lost_segments(pk, from_a, ev, rel, listening)
    _keepalive(pk, from_a, ev, rel)
    _silent_after_loss(from_a, ev)
    _handshake(pk, from_a, ev, rel, listening)
    return ev


def _sack_blocks(seg: Segment) -> tuple[tuple[int, int], ...]:
    for opt in seg.options or ():
        if isinstance(opt, Sack):
            return opt.blocks
    return ()


def _lost_segments(pk: Packets, from_a: list[bool], ev: ConnectionEvidence, rel: Rel, listening: bool) -> None:
    """Rule 1: never acknowledged, then sent again.

    A peer's acknowledgment counts when the peer sent it before the copy
    reached it, or when the capture shows it before the copy: either proves
    the first one arrived.
    """
    for side in (True, False):
        acks: list[tuple[float, int, tuple[tuple[int, int], ...]]] = []  # by the time the peer sent them
        for i, p in enumerate(pk):
            if from_a[i] != side and p.segment.has_ack and not p.segment.rst:
                sack = tuple((rel(lo, side), rel(hi, side)) for lo, hi in _sack_blocks(p.segment))
                acks.append((ev.send_time[i], rel(p.segment.ack, side), sack))
        acks.sort(key=lambda x: x[0])
        times = [a[0] for a in acks]
        best: list[int] = []
        for _, ack, _s in acks:
            best.append(max(best[-1], ack) if best else ack)
        seen_ack = 0  # the highest acknowledgment from the peer so far, in capture order
        seen_sack: list[tuple[int, int]] = []
        waiting: dict[int, int] = {}  # first sequence number (relative) -> packet index
        starts: list[int] = []
        for j, p in enumerate(pk):
            seg = p.segment
            if from_a[j] != side:
                if seg.has_ack and not seg.rst:
                    seen_ack = max(seen_ack, rel(seg.ack, side))
                    seen_sack.extend((rel(lo, side), rel(hi, side)) for lo, hi in _sack_blocks(seg))
                continue
            if seg.seg_len == 0 or seg.rst:
                continue
            s, e = rel(seg.seq, side), rel(seg.seq, side) + seg.seg_len
            lo = bisect.bisect_left(starts, s)
            hi = bisect.bisect_left(starts, e)
            for start in starts[lo:hi]:
                i = waiting.pop(start)
                if side and listening and is_pure_syn(pk[i].segment):
                    continue  # delivered: a listener with a full queue dropped it (see _handshake)
                n = bisect.bisect_left(times, ev.arrive_time[j])  # the peer's segments sent before the copy arrived
                acked = seen_ack > start or (n > 0 and best[n - 1] > start)
                acked = acked or any(lo_ <= start < hi_ for lo_, hi_ in seen_sack)
                acked = acked or any(lo_ <= start < hi_ for _, _, blocks in acks[:n] for lo_, hi_ in blocks)
                if not acked:
                    ev.undelivered.setdefault(i, f"never acknowledged, then sent again (frame {pk[j].frame})")
                elif not (seg.syn and seg.has_ack):
                    _lost_acks(pk, from_a, ev, rel, side, i, j, start)
            del starts[lo:hi]
            waiting[s] = j
            bisect.insort(starts, s)


def _lost_acks(
    pk: Packets, from_a: list[bool], ev: ConnectionEvidence, rel: Rel, side: bool, i: int, j: int, start: int
) -> None:
    """Rule 1b: data sent again although the peer's acknowledgment of it should have arrived first: that
    acknowledgment was lost after the capture point.  (Not for a SYN-ACK sent again: a listener with a full
    accept queue drops the handshake's ACK on arrival, so there the ACK did arrive.)"""
    for k in range(i + 1, j):
        seg = pk[k].segment
        if from_a[k] == side or not seg.has_ack or seg.rst or k in ev.undelivered:
            continue
        if rel(seg.ack, side) > start and ev.arrive_time[k] < ev.send_time[j] - 1e-6:
            ev.undelivered[k] = (
                f"an acknowledgment the peer never got: it sent the data again afterwards (frame {pk[j].frame})"
            )


def _keepalive(pk: Packets, from_a: list[bool], ev: ConnectionEvidence, rel: Rel) -> None:
    """Rule 2 and the keepalive settings.  A probe is answered when the peer sends anything after it
    (in capture order) before this side sends again."""
    for side in (True, False):
        snd_max = 0
        peer_ack = 0
        peer_win: int | None = None
        heard = 0.0  # the last time this side received anything
        probes: list[tuple[int, bool]] = []
        last_probe = -1
        for i, p in enumerate(pk):
            seg = p.segment
            if from_a[i] != side:
                heard = ev.arrive_time[i]
                if seg.has_ack and not seg.rst:
                    peer_ack = max(peer_ack, rel(seg.ack, side))
                    peer_win = seg.window
                if last_probe >= 0:
                    probes[-1] = (last_probe, True)
                    last_probe = -1
                continue
            s = rel(seg.seq, side)
            is_probe = (
                (seg.flags & ~Flags.PSH) == Flags.ACK
                and seg.length <= 1
                and snd_max > 0
                and s == snd_max - 1
                and peer_ack >= snd_max
                and bool(peer_win)
                and ev.send_time[i] - heard >= 0.5
            )
            last_probe = i if is_probe else -1
            if is_probe:
                probes.append((i, False))
            snd_max = max(snd_max, s + seg.seg_len)
        if not probes:
            continue
        for i, answered in probes:
            if not answered:
                ev.undelivered.setdefault(i, "a keepalive probe the peer never answered")
        first = probes[0][0]
        heard_before = max((ev.arrive_time[k] for k in range(first) if from_a[k] != side), default=0.0)
        idle = ev.send_time[first] - heard_before
        gaps = [
            ev.send_time[probes[k + 1][0]] - ev.send_time[probes[k][0]]
            for k in range(len(probes) - 1)
            if not probes[k][1] and probes[k + 1][0] > probes[k][0]
        ]
        interval = min(gaps) if gaps else None
        count = None
        tail = [ok for _, ok in probes]
        last_i = probes[-1][0]
        after = [k for k in range(last_i + 1, len(pk)) if from_a[k] == side]
        if after and pk[after[0]].segment.rst and not tail[-1]:
            n = 0
            for ok in reversed(tail):
                if ok:
                    break
                n += 1
            count = n
        ev.keepalive["initiator" if side else "responder"] = Keepalive(
            idle, interval, count, tuple(i for i, _ in probes)
        )


def _silent_after_loss(from_a: list[bool], ev: ConnectionEvidence) -> None:
    """Rule 3: after a lost segment, a peer that never sends again receives nothing more."""
    for side in (True, False):
        lost = sorted(i for i in ev.undelivered if from_a[i] == side)
        if not lost:
            continue
        first = lost[0]
        peer_later = [k for k in range(first + 1, len(from_a)) if from_a[k] != side]
        if peer_later:
            continue
        for k in range(first + 1, len(from_a)):
            if from_a[k] == side:
                ev.undelivered.setdefault(k, "sent after the peer went silent (nothing from it after a lost segment)")


def _handshake(pk: Packets, from_a: list[bool], ev: ConnectionEvidence, rel: Rel, listening: bool) -> None:
    """Signs of a full accept queue, and when the handshake ended and the responder's application first acted."""
    syn_sent: int | None = None
    synack = False
    resent_syn = False
    for i, p in enumerate(pk):
        seg = p.segment
        if from_a[i]:
            if is_pure_syn(seg):
                if syn_sent is None:
                    syn_sent = i
                    ev.syn_at = ev.arrive_time[i]
                elif not synack:
                    resent_syn = True
            elif (
                seg.has_ack
                and synack
                and ev.established_at is None
                and rel(seg.ack, False) >= 1
                and i not in ev.undelivered
            ):
                ev.established_at = ev.arrive_time[i]
            continue
        if seg.syn and seg.has_ack and not seg.rst:
            if ev.established_at is not None:
                ev.synack_resent = True
            synack = True
        elif (seg.length or seg.fin or seg.rst) and ev.app_at is None and synack:
            ev.app_at = ev.send_time[i]
    if listening and syn_sent is not None and (resent_syn or not synack):
        ev.syn_dropped_at = ev.arrive_time[syn_sent] if not synack else ev.arrive_time[syn_sent]
