"""The sending half of a connection: output, retransmission, tail loss probe, persist, keepalive, delayed ACK.

A :class:`Sender` belongs to one :class:`~tcpkit.engine.connection.Connection`
and works on its TCB (:mod:`tcpkit.engine.tcb`).  The connection decides what
an arriving segment or a user call *means* (RFC 9293 §3.10); the sender
decides what goes on the wire and when: which bytes the windows allow
(RFC 9293 §3.8.6, RFC 5681), when to retransmit (RFC 6298, RFC 8985 §7), when
to probe a closed window (§3.8.6.1) or an idle peer (§3.8.4), and when to
acknowledge (§3.8.6.3).  Its timer handlers are named ``on_<timer>``.

Examples
--------
>>> from tcpkit.engine.connection import handshake_pair
>>> a, b = handshake_pair(0.0)
>>> a.send(1.0, b"lost"); _ = a.take_outgoing()         # the segment is lost
4
>>> a.timers                                          # RFC 6298: one RTO (1 s, no RTT sample yet)
{'rexmt': 2.0}
>>> a.handle_timer(2.0); a.take_outgoing()[0].notation(relative_to=a.seq_base)
'P. 1:5(4) ack 1 win 65535'
>>> a.timers                                          # backed off: 2 s
{'rexmt': 4.0}

Notes
-----
RFC 9293 §3.8 (retransmission, persist, keepalive, delayed ACK), RFC 6298
(RTO and backoff, Karn's rule), RFC 5681 (slow start, fast retransmit),
RFC 6582 (NewReno), RFC 8985 §7 (tail loss probe), RFC 1122 §4.2.3.4 (sender
SWS avoidance).  Linux: ``net/ipv4/tcp_output.c``, ``tcp_timer.c``, ``tcp_input.c``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .events import ConnId, Note, SegmentSent, TraceRecord
from .profiles import Params
from .segment import Flags, Nop, Option, Segment, Timestamp
from .seqnum import MASK, seq_add, seq_diff, seq_ge, seq_gt, seq_le, seq_lt
from .states import SYNCHRONIZED, Event, State
from .syncookies import encode_timestamp
from .tcb import (
    AckState,
    Clocks,
    Congestion,
    Keepalive,
    Negotiated,
    ReceiveQueue,
    ReceiveSequence,
    Retransmission,
    SendQueue,
    SendSequence,
)
from .timers import (
    RttEstimator,
    Timers,
    orphan_retries,
    retries_timed_out,
    syn_expired,
    syn_timeout,
    synack_timeout,
)

__all__ = ["Sender", "Owner", "TSO_MAX", "SEND_STATES", "TLP_STATES"]

#: Largest segment the Linux model hands to the "NIC" at once (a TSO super-segment, GSO_MAX_SIZE).
TSO_MAX = 65535 - 54

#: States in which data (and our FIN) may still be sent or retransmitted.
SEND_STATES = frozenset({State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_1, State.CLOSING, State.LAST_ACK})
#: States in which a tail loss probe may be scheduled.
TLP_STATES = frozenset({State.ESTABLISHED, State.FIN_WAIT_1, State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK})


class Owner(Protocol):
    """What a :class:`Sender` needs of its connection (a :class:`~tcpkit.engine.connection.Connection`)."""

    params: Params
    state: State
    host: str
    local: tuple[str, int]
    remote: tuple[str, int]
    passive: bool
    orphan: bool
    listener: Any
    tracer: Callable[[TraceRecord], None] | None
    ts_offset: int
    syn_cookie: bool
    peer_syn: Segment | None
    outbox: list[Segment]
    snd: SendSequence
    rcv: ReceiveSequence
    sendq: SendQueue
    recvq: ReceiveQueue
    opts: Negotiated
    cc: Congestion
    rtt: RttEstimator
    rexmit: Retransmission
    ack: AckState
    keep: Keepalive
    clocks: Clocks
    timer: Timers

    @property
    def conn_id(self) -> ConnId: ...

    @property
    def seq_base(self) -> tuple[int, int]: ...

    def rcv_space(self) -> int: ...

    def _emit(self, event: TraceRecord) -> None: ...

    def _fail(self, now: float, event: Event, err: str | None) -> None: ...

    def _count(self, now: float, name: str) -> None: ...


class Sender:
    """Output and the send-side timers of one connection.

    Parameters
    ----------
    conn : Owner
        The connection whose TCB it reads and writes.
    """

    __slots__ = ("conn",)

    def __init__(self, conn: Owner) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ one segment
    def tsval(self, now: float) -> int:
        """Our timestamp clock: 1 kHz plus the connection's offset (RFC 7323 §5.4)."""
        return (self.conn.ts_offset + int(round(now * 1000))) & MASK

    def adv_window(self) -> int:
        """The window field we advertise (RFC 9293 §3.8.6.2.2; RFC 7323 §2.3 scaling)."""
        c = self.conn
        space = max(0, c.rcv_space())
        if c.params.rules.initial_window_clamp and not c.recvq.any_data:
            # Linux starts with the window of its SYN (about 64 KB, tcp_select_initial_window)
            space = min(space, c.recvq.initial_window)
        return min(space >> c.opts.rcv_wscale, 0xFFFF)

    def segment(
        self,
        now: float,
        flags: Flags,
        seq: int,
        *,
        ack: bool = True,
        payload: bytes = b"",
        window: int | None = None,
        options: tuple[Option, ...] | None = None,
    ) -> Segment:
        """Queue one segment in the connection's outbox (and trace it); ACKing cancels a delayed ACK."""
        c = self.conn
        if ack:
            flags |= Flags.ACK
        if options is None:
            options = ()
            if c.opts.ts_ok and not flags & Flags.RST:
                options = (Nop(), Nop(), Timestamp(self.tsval(now), c.opts.ts_recent))
        seg = Segment(
            src_port=c.local[1],
            dst_port=c.remote[1],
            seq=seq & MASK,
            ack=c.rcv.nxt if ack else 0,
            flags=flags,
            window=self.adv_window() if window is None else window,
            payload=payload,
            options=options,
        )
        c.outbox.append(seg)
        if c.tracer is not None:
            c.tracer(SegmentSent(time=now, host=c.host, conn=c.conn_id, segment=seg, seq_base=c.seq_base))
        if ack and not flags & Flags.RST:
            c.ack.pending = False
            c.ack.unacked_segs = 0
            c.timer.cancel(now, "delack")
        return seg

    def our_wscale(self) -> int:
        """The window-scale shift we offer (RFC 7323 §2.3; ``rules.window_scale``)."""
        c = self.conn
        return c.params.rules.window_scale(c.params, c.recvq.size, c.recvq.locked)

    def syn_options(self, now: float, *, synack: bool, peer: Segment | None) -> tuple[Option, ...]:
        """Options of our SYN or SYN-ACK; a SYN-ACK offers only what the peer's SYN offered (RFC 7323 §2.2, §3.2)."""
        c = self.conn
        p = c.params
        if synack and peer is not None:
            sack = p.sack and peer.sack_permitted
            use_ts = p.timestamps and peer.timestamp is not None
            ws = p.window_scaling and peer.wscale is not None
        else:
            sack, use_ts, ws = p.sack, p.timestamps, p.window_scaling
        if not synack and p.syn_drop_options_after is not None and c.rexmit.retransmits >= p.syn_drop_options_after:
            # FreeBSD net.inet.tcp.rexmit_drop_options: tcp_timer_rexmt() clears TF_REQ_SCALE,
            # TF_REQ_TSTMP and TF_SACK_PERMIT before the 4th SYN (the MSS stays)
            sack, use_ts, ws = False, False, False
        ts = (self.tsval(now), c.opts.ts_recent if synack else 0) if use_ts else None
        if ts is not None and synack and c.syn_cookie and peer is not None:
            # a SYN cookie keeps no state: the peer's window scale and SACK ride in the low 6 bits of
            # our TSval, which its ACK echoes (net/ipv4/syncookies.c cookie_init_timestamp())
            tsval = encode_timestamp(ts[0], wscale=peer.wscale if ws else None, sack=sack)
            ts = (tsval, ts[1])
        shift = self.our_wscale() if ws else None
        return p.rules.syn_options(mss=p.mss, sack=sack, ts=ts, wscale=shift)

    def send_syn(self, now: float) -> None:
        """Our SYN (RFC 9293 §3.10.1), with ECN asked for when the profile says so (RFC 3168 §6.1.1)."""
        c = self.conn
        p = c.params
        opts = self.syn_options(now, synack=False, peer=None)
        window = p.rules.syn_window(p, c.recvq.size, p.mss)
        c.recvq.initial_window = window
        flags = Flags.SYN
        if p.ecn_syn_retries is not None and c.rexmit.retransmits <= p.ecn_syn_retries:
            # FreeBSD tcp_ecn_output_syn_sent(): net.inet.tcp.ecn.enable = 1 sets ECE and CWR on the SYN
            # and on its first net.inet.tcp.ecn.maxretries retransmissions
            flags |= Flags.ECE | Flags.CWR
        self.segment(now, flags, c.snd.iss, ack=False, window=window, options=opts)

    def send_synack(self, now: float, peer: Segment | None = None) -> None:
        c = self.conn
        p = c.params
        syn = peer if peer is not None else c.peer_syn
        opts = self.syn_options(now, synack=True, peer=syn)
        ts_on = p.timestamps and syn is not None and syn.timestamp is not None
        window = p.rules.syn_window(p, c.recvq.size, p.mss - (12 if ts_on else 0))
        c.recvq.initial_window = window
        self.segment(now, Flags.SYN, c.snd.iss, window=window, options=opts)

    def send_ack(self, now: float) -> None:
        self.segment(now, Flags(0), self.conn.snd.nxt)

    def send_oow_ack(self, now: float) -> None:
        """An ACK answering an invalid segment, rate-limited so two desynchronized
        TCPs cannot ACK each other forever (an "ACK storm").

        The limit is ``rules.oow_ack_limit``: Linux allows one per ``tcp_invalid_ratelimit``
        (500 ms) per socket (net/ipv4/tcp_input.c ``tcp_oow_rate_limited``); FreeBSD allows
        ``ack_war_cnt`` (5) per ``ack_war_timewindow`` (1 s) (sys/netinet/tcp_subr.c);
        RFC 5961 §7 asks for such a limit.
        """
        c = self.conn
        count, window = c.params.rules.oow_ack_limit
        c.ack.oow_times = [t for t in c.ack.oow_times if now - t < window - 1e-12]
        if len(c.ack.oow_times) >= count:
            text = "ACK to an invalid segment suppressed (rate limit)"
            c._emit(Note(time=now, host=c.host, conn=c.conn_id, text=text))
            return
        c.ack.oow_times.append(now)
        self.send_ack(now)

    def send_rst_ack(self, now: float) -> None:
        self.segment(now, Flags.RST, self.conn.snd.nxt, window=0)

    def send_rst_for(self, now: float, seg: Segment) -> None:
        """Reset answering ``seg`` (RFC 9293 §3.10.7.1 form: ``<SEQ=SEG.ACK><CTL=RST>``)."""
        if seg.rst:
            return
        if seg.has_ack:
            self.segment(now, Flags.RST, seg.ack, ack=False, window=0, options=())
        else:
            rcv = self.conn.rcv
            saved = rcv.nxt
            rcv.nxt = seg.end_seq
            self.segment(now, Flags.RST, 0, window=0, options=())
            rcv.nxt = saved

    # ------------------------------------------------------------------ where the bytes are
    @property
    def data_base(self) -> int:
        """Sequence number of the first byte of the send queue."""
        c = self.conn
        snd = c.snd
        if not seq_gt(snd.una, snd.iss):
            return seq_add(snd.iss, 1)
        fin_seq = c.sendq.fin_seq
        if fin_seq is not None and seq_gt(snd.una, fin_seq):
            return fin_seq
        return snd.una

    @property
    def data_end(self) -> int:
        return seq_add(self.data_base, len(self.conn.sendq.data))

    def flight_size(self) -> int:
        snd = self.conn.snd
        return seq_diff(snd.nxt, snd.una)

    def rto(self) -> float:
        """The current RTO, backed off once per retransmission (RFC 6298 §5.5), capped at ``rto_max``."""
        c = self.conn
        return min(c.rtt.rto * 2**c.rexmit.retransmits, c.params.rto_max)

    # ------------------------------------------------------------------ output
    def output(self, now: float, *, force: bool = False) -> None:
        """Send what the windows allow (RFC 9293 §3.8.6; RFC 5681 congestion window).

        ``force`` overrides sender silly-window avoidance (the override timeout of
        RFC 1122 §4.2.3.4, here the persist timer).
        """
        c = self.conn
        if c.state not in SYNCHRONIZED or c.state is State.TIME_WAIT:
            return
        snd, sendq, timer = c.snd, c.sendq, c.timer
        sent_any = False
        tso = c.params.rules.tso
        for _ in range(1000):
            data_base = self.data_base
            data_end = seq_add(data_base, len(sendq.data))
            unsent = seq_diff(data_end, snd.nxt)
            cwnd = c.cc.cwnd
            room = min(snd.wnd, cwnd) - seq_diff(snd.nxt, snd.una)
            n = 0
            if unsent > 0 and room > 0:
                smss = c.opts.smss
                cap = max(smss, min(TSO_MAX, cwnd)) if tso else smss
                n = min(unsent, room, cap)
                if not tso and not force and n < smss and n < unsent:
                    n = 0  # sender SWS avoidance (RFC 9293 §3.8.6.2.1): wait for a full segment
            end = seq_add(snd.nxt, n)
            # our FIN follows the last byte; after a go-back-N timeout it is sent again
            fin = sendq.fin_queued and end == data_end and (not sendq.fin_sent or seq_gt(snd.max, end))
            if n == 0 and not fin:
                break
            off = seq_diff(snd.nxt, data_base)
            payload = bytes(sendq.data[off : off + n])
            flags = Flags(0)
            if n and (tso or end == data_end):
                flags |= Flags.PSH
            if fin:
                flags |= Flags.FIN
            seq = snd.nxt
            if snd.una == snd.max:
                c.clocks.unacked_since = now  # the oldest unacknowledged byte leaves now
            if tso and n > c.opts.smss and not c.params.device_tso:
                self._segment_cut(now, flags, seq, payload, c.opts.smss)
            else:
                self.segment(now, flags, seq, payload=payload)
            sent_any = True
            if not seq_lt(seq, snd.max):
                sendq.in_flight.append((seq, seq_add(seq, n + (1 if fin else 0)), fin, now))
            snd.nxt = seq_add(snd.nxt, n + (1 if fin else 0))
            if fin:
                sendq.fin_sent = True
                sendq.fin_seq = end
            if seq_gt(snd.nxt, snd.max):
                if c.rexmit.rtt_seq is None and c.rexmit.retransmits == 0:
                    c.rexmit.rtt_seq, c.rexmit.rtt_time = snd.nxt, now
                snd.max = snd.nxt
            if fin:
                break
        if sent_any and "rexmt" not in timer:
            nxt = now + self.rto()
            if c.clocks.user_timeout and not c.params.rules.time_based_limits:
                nxt = min(nxt, c.clocks.unacked_since + c.clocks.user_timeout)
            timer.set(now, "rexmt", nxt)
        if sent_any:
            self.schedule_tlp(now)
        self.check_persist(now)
        if not sent_any and c.ack.pending and "delack" not in timer:
            self.send_ack(now)

    def _segment_cut(self, now: float, flags: Flags, seq: int, payload: bytes, smss: int) -> None:
        """One super-segment as a device without TSO/GSO sends it: ``smss``-sized pieces, PSH and FIN on the last.

        Linux software GSO (``validate_xmit_skb()``, ``tcp_gso_segment()`` in net/ipv4/tcp_offload.c) cuts the
        skb before the capture tap and keeps PSH and FIN on the last piece only.
        """
        last = (len(payload) - 1) // smss
        for k in range(last + 1):
            piece = payload[k * smss : (k + 1) * smss]
            f = flags if k == last else flags & ~(Flags.PSH | Flags.FIN)
            self.segment(now, f, seq_add(seq, k * smss), payload=piece)

    def retransmit_head(self, now: float) -> None:
        """Send the oldest unacknowledged segment again (one SMSS, with the FIN if it fits)."""
        c = self.conn
        snd = c.snd
        data_base = self.data_base
        data = max(0, seq_diff(seq_add(data_base, len(c.sendq.data)), snd.una))
        n = min(c.opts.smss, data)
        off = max(0, seq_diff(snd.una, data_base))
        fin_seq = c.sendq.fin_seq
        fin = fin_seq is not None and seq_add(snd.una, n) == fin_seq
        flags = (Flags.PSH if n and (c.params.rules.tso or n == data) else Flags(0)) | (Flags.FIN if fin else Flags(0))
        if n == 0 and not fin:
            return
        self.segment(now, flags, snd.una, payload=bytes(c.sendq.data[off : off + n]))
        c.rexmit.rtt_seq = None  # Karn: no RTT sample from a retransmitted segment

    # ------------------------------------------------------------------ ACKs of our data
    def ack_advance(self, now: float, ack: int) -> int:
        """Move SND.UNA to ``ack``; drop acknowledged bytes; returns bytes newly acknowledged."""
        c = self.conn
        snd = c.snd
        if not seq_gt(ack, snd.una):
            return 0
        acked = seq_diff(ack, snd.una)
        sendq = c.sendq
        data_acked = max(0, min(len(sendq.data), seq_diff(ack, self.data_base)))
        del sendq.data[:data_acked]
        if not seq_gt(snd.una, snd.iss):
            acked -= 1  # the SYN is not data: it does not open the congestion window
        snd.una = ack
        in_flight = sendq.in_flight
        while in_flight and seq_le(in_flight[0][1], ack):
            in_flight.pop(0)
        # the oldest unacknowledged byte now: when was it first sent? (Linux retrans_stamp)
        c.clocks.unacked_since = in_flight[0][3] if in_flight else now
        rx = c.rexmit
        if rx.tlp_high is not None and seq_ge(ack, rx.tlp_high):
            rx.tlp_high = None
        if seq_lt(snd.nxt, ack):
            snd.nxt = ack
        if rx.rtt_seq is not None and seq_ge(ack, rx.rtt_seq):
            c.rtt.sample(max(0.0, now - rx.rtt_time))
            rx.rtt_seq = None
        return acked

    def on_ack(self, now: float, seg: Segment) -> None:
        """An acceptable ACK (RFC 9293 §3.10.7.4 fifth check): SND.UNA, congestion window, timers.

        Duplicate ACKs drive fast retransmit and NewReno recovery (RFC 5681 §3.2, RFC 6582);
        a new ACK restarts the retransmission timer (RFC 6298 §5.3).
        """
        c = self.conn
        snd, cc, timer = c.snd, c.cc, c.timer
        smss = c.opts.smss
        # a duplicate ACK (RFC 5681 §2): nothing new acknowledged, no data, same window, data outstanding
        dup = (
            seg.ack == snd.una
            and not seg.length
            and not (seg.flags & (Flags.SYN | Flags.FIN))
            and snd.una != snd.max
            and (seg.window or 0) << c.opts.snd_wscale == snd.wnd
        )
        # "advanced" (SND.UNA moved) decides the timers; "acked" (bytes, the SYN not counted)
        # decides the congestion window: an ACK of a bare SYN-ACK advances but acks no data
        advanced = seq_gt(seg.ack, snd.una)
        acked = self.ack_advance(now, seg.ack)
        if advanced and cc.recover is not None:
            timer.cancel(now, "rexmt")
            if seq_ge(seg.ack, cc.recover):
                # full ACK: leave fast recovery (RFC 6582 §3.2 step 3)
                cc.cwnd = max(cc.ssthresh, smss)
                cc.recover = None
                cc.dupacks = 0
            else:
                # partial ACK: the next hole is lost too; retransmit it (RFC 6582 step 4)
                self.retransmit_head(now)
                cc.cwnd = max(cc.cwnd - acked + smss, smss)
            c.rexmit.retransmits = 0
            if snd.una != snd.max:
                timer.set(now, "rexmt", now + self.rto())
        elif advanced:
            cc.dupacks = 0
            c.rexmit.retransmits = 0
            # slow start / congestion avoidance (RFC 5681 §3.1)
            if not acked:
                pass
            elif cc.cwnd < cc.ssthresh:
                # Linux tcp_slow_start() adds every acknowledged segment; RFC 5681 caps the
                # increase at one SMSS per ACK (RFC 3465 discusses both)
                cc.cwnd += acked if c.params.rules.slow_start_every_byte else min(acked, smss)
                cc.cwnd = min(cc.cwnd, max(cc.ssthresh, 2 * smss))
            else:
                cc.cwnd += max(1, smss * smss // max(1, cc.cwnd))
            timer.cancel(now, "rexmt")
            timer.cancel(now, "tlp")
            if snd.una != snd.max:
                timer.set(now, "rexmt", now + self.rto())
                self.schedule_tlp(now)
        elif dup:
            cc.dupacks += 1
            if cc.dupacks == 3 and cc.recover is None:
                # fast retransmit and fast recovery (RFC 5681 §3.2, RFC 6582)
                cc.ssthresh = max(seq_diff(snd.max, snd.una) // 2, 2 * smss)
                self.retransmit_head(now)
                cc.cwnd = cc.ssthresh + 3 * smss
                cc.recover = snd.max
            elif cc.dupacks > 3 and cc.recover is not None:
                cc.cwnd += smss  # each further duplicate: one segment has left the network

    # ------------------------------------------------------------------ acknowledging data we receive
    def ack_data(self, now: float, n: int) -> None:
        """When to acknowledge in-order data (RFC 9293 §3.8.6.3, RFC 1122 4.2.3.2; Linux quick-ACK mode)."""
        c = self.conn
        ack = c.ack
        c.recvq.any_data = True
        ack.pending = True
        ack.unacked_segs += 1
        if c.params.rules.quickack and ack.quickacks > 0:
            ack.quickacks -= 1
            self.send_ack(now)
            return
        if ack.unacked_segs >= 2 or n >= 2 * c.opts.smss or c.params.delayed_ack <= 0:
            self.send_ack(now)
            return
        if "delack" not in c.timer:
            c.timer.set(now, "delack", now + c.params.delayed_ack)

    def delay_ack(self, now: float) -> None:
        """Acknowledge later, at the delayed-ACK timeout (restarting it)."""
        c = self.conn
        c.ack.pending = True
        c.timer.cancel(now, "delack")
        c.timer.set(now, "delack", now + c.params.delayed_ack)

    def on_delack(self, now: float) -> None:
        if self.conn.state in SYNCHRONIZED:
            self.send_ack(now)

    # ------------------------------------------------------------------ persist (zero-window probes)
    def check_persist(self, now: float) -> None:
        """Arm or stop the persist timer (zero-window probing, RFC 9293 §3.8.6.1).

        The interval is the RTO doubled once per probe (``persist_backoff``), at most
        ``rto_max`` (Linux ``tcp_probe0_when()``).  When the window opens the backoff and
        the probe count start over (``tcp_ack_probe()``).
        """
        # nothing in flight but data waiting: either the window is closed or too small to
        # be worth a segment; the persist timer probes (or forces a small segment)
        c = self.conn
        snd, timer, rx = c.snd, c.timer, c.rexmit
        waiting = snd.nxt == snd.una and seq_gt(self.data_end, snd.nxt) and c.state in SEND_STATES
        if waiting and "persist" not in timer:
            timer.set(now, "persist", now + min(c.rtt.rto * 2**rx.persist_backoff, c.params.rto_max))
        elif not waiting and "persist" in timer:
            rx.persist_probes = rx.persist_backoff = 0
            rx.probes_since = None
            timer.cancel(now, "persist")

    def on_persist(self, now: float) -> None:
        """The persist timer (Linux ``tcp_probe_timer()``): probe the closed window, or give up.

        A peer that answers the probes keeps the connection open for as long as it likes
        (RFC 1122 §4.2.2.17): every ACK resets the probe count.  What ends it is
        ``tcp_retries2`` unanswered probes, ``TCP_USER_TIMEOUT`` of probing, or, for an
        orphaned socket (say FIN_WAIT_1 stuck behind a zero window after close()),
        ``tcp_orphan_retries`` once the backed-off interval has reached ``rto_max``.
        """
        c = self.conn
        if c.state not in SEND_STATES:
            return
        p = c.params
        rx = c.rexmit
        user_timeout = c.clocks.user_timeout
        if rx.probes_since is None:
            rx.probes_since = now
        elif user_timeout and now - rx.probes_since >= user_timeout - 1e-9:
            c._fail(now, Event.TIMEOUT_USER, "ETIMEDOUT")
            return
        limit = p.data_retries
        if c.orphan:
            alive = c.rtt.rto * 2**rx.persist_backoff < p.rto_max
            limit = orphan_retries(p, alive)
            if p.rules.time_based_limits and not alive and rx.persist_backoff >= limit:
                c._fail(now, Event.TIMEOUT_RETRIES, "ETIMEDOUT")
                return
        if rx.persist_probes >= limit:
            c._fail(now, Event.TIMEOUT_RETRIES, "ETIMEDOUT")
            return
        rx.persist_probes += 1
        if rx.persist_backoff < p.data_retries:
            rx.persist_backoff += 1
        if c.snd.wnd > 0:
            # the window is open but small: send what fits (RFC 1122 §4.2.3.4 override)
            self.output(now, force=True)
            if c.snd.nxt != c.snd.una:
                rx.persist_probes = rx.persist_backoff = 0
                rx.probes_since = None
                return
        # Linux tcp_xmit_probe_skb(): a bare ACK one below SND.UNA makes the peer state its window
        self.segment(now, Flags(0), (c.snd.una - 1) & MASK)
        self.check_persist(now)

    # ------------------------------------------------------------------ tail loss probe
    def schedule_tlp(self, now: float) -> None:
        """Tail loss probe (RACK-TLP, RFC 8985 §7; Linux net/ipv4/tcp_output.c tcp_schedule_loss_probe).

        PTO = 2 * SRTT, plus TCP_RTO_MIN when a single segment is out (2 jiffies otherwise);
        only when SACK was negotiated, no probe is outstanding and the RTO would fire later.
        """
        c = self.conn
        rx = c.rexmit
        if not c.params.rules.tail_loss_probe or not c.opts.sack_ok or c.rtt.srtt is None or rx.tlp_high is not None:
            return
        if rx.retransmits or c.snd.una == c.snd.max or c.state not in TLP_STATES:
            return
        pto = 2 * c.rtt.srtt + (c.params.rto_min if len(c.sendq.in_flight) == 1 else 0.002)
        deadline = now + pto
        rto_at = c.timer.get("rexmt")
        if rto_at is not None:
            # "if the RTO formula yields an earlier time, then use that time": the probe then
            # goes out instead of the RTO retransmission, without backing the RTO off
            deadline = min(deadline, rto_at)
        c.timer.forget("tlp")
        c.timer.set(now, "tlp", deadline)

    def on_tlp(self, now: float) -> None:
        c = self.conn
        snd, sendq = c.snd, c.sendq
        if snd.una == snd.max or c.state not in TLP_STATES:
            return
        c.rexmit.tlp_high = snd.max
        data_base = self.data_base
        unsent = seq_diff(seq_add(data_base, len(sendq.data)), snd.nxt)
        if unsent > 0 and snd.nxt == snd.max:
            # new data goes first: one MSS, regardless of cwnd (tcp_send_loss_probe)
            n = min(unsent, c.opts.smss)
            off = seq_diff(snd.nxt, data_base)
            seq = snd.nxt
            self.segment(now, Flags(0), seq, payload=bytes(sendq.data[off : off + n]))
            sendq.in_flight.append((seq, seq_add(seq, n), False, now))
            snd.nxt = snd.max = seq_add(seq, n)
            c._count(now, "TCPLossProbes")
        elif sendq.in_flight:
            # else the last segment sent goes again (for a lone FIN: the FIN)
            seq, end, fin, _sent = sendq.in_flight[-1]
            n = seq_diff(end, seq) - (1 if fin else 0)
            off = seq_diff(seq, data_base)
            flags = (Flags.PSH if n else Flags(0)) | (Flags.FIN if fin else Flags(0))
            self.segment(now, flags, seq, payload=bytes(sendq.data[off : off + n]) if n > 0 else b"")
            c.rexmit.rtt_seq = None
            c._count(now, "TCPLossProbes")
        c.timer.forget("rexmt")
        c.timer.set(now, "rexmt", now + self.rto())

    # ------------------------------------------------------------------ retransmission timeout
    def on_rexmt(self, now: float) -> None:
        """The retransmission timer (RFC 6298 §5.4-5.7; RFC 9293 §3.8.3 R2): resend or give up."""
        c = self.conn
        p = c.params
        st = c.state
        rx = c.rexmit
        timer = c.timer
        clocks = c.clocks
        if st is State.SYN_SENT:
            if syn_expired(p, rx.retransmits, now - clocks.open_time, user_timeout=clocks.user_timeout):
                c._fail(now, Event.TIMEOUT_RETRIES, "ETIMEDOUT")
                return
            rx.retransmits += 1
            rx.rtt_seq = None
            self.send_syn(now)
            c._count(now, "TCPSynRetrans")
            nxt = now + syn_timeout(p, rx.retransmits)
            if p.connect_timeout is not None:
                nxt = min(nxt, clocks.open_time + p.connect_timeout)
            if clocks.user_timeout:
                # tcp_clamp_rto_to_user_timeout()
                nxt = min(nxt, max(now, clocks.open_time + clocks.user_timeout))
            timer.set(now, "rexmt", nxt)
            return
        if st is State.SYN_RECEIVED:
            # a listener's request may get a lower limit when its SYN queue is crowded
            # (Linux reqsk_timer_handler pruning, see Listener.synack_retry_limit)
            owner = c.listener
            limit = owner.synack_retry_limit() if c.passive and owner is not None else p.synack_retries
            if rx.retransmits >= limit:
                c._fail(now, Event.TIMEOUT_RETRIES, "ETIMEDOUT" if not c.passive else None)
                return
            rx.retransmits += 1
            rx.rtt_seq = None
            self.send_synack(now)
            c._count(now, "TCPSynRetrans")
            timer.set(now, "rexmt", now + synack_timeout(p, rx.retransmits))
            return
        snd = c.snd
        if snd.una == snd.max:
            return
        if self._gives_up(now):
            c._fail(now, Event.TIMEOUT_USER if clocks.user_timeout else Event.TIMEOUT_RETRIES, "ETIMEDOUT")
            return
        rx.retransmits += 1
        rx.rtt_seq = None
        cc = c.cc
        cc.recover = None
        cc.dupacks = 0
        # RFC 5681 §3.1 eq. (4) and loss window; go back N from SND.UNA
        smss = c.opts.smss
        cc.ssthresh = max(self.flight_size() // 2, 2 * smss)
        cc.cwnd = smss
        snd.nxt = snd.una
        timer.move("rexmt", now + self.rto())  # placeholder so output() does not arm it twice
        if c.sendq.fin_seq is not None and snd.una == c.sendq.fin_seq:
            # only the FIN is outstanding
            self.segment(now, Flags.FIN, snd.una)
            snd.nxt = snd.max
        else:
            self.output(now)
            if snd.nxt == snd.una:
                if snd.wnd == 0:
                    # the peer's window is closed: the persist timer probes from here on
                    self.check_persist(now)
                    return
                snd.nxt = snd.max
        timer.forget("rexmt")
        nxt = now + self.rto()
        if clocks.user_timeout:
            # Linux tcp_clamp_rto_to_user_timeout(): never sleep past the user timeout
            nxt = min(nxt, clocks.unacked_since + clocks.user_timeout)
        timer.set(now, "rexmt", nxt)

    def _gives_up(self, now: float) -> bool:
        """Has the oldest unacknowledged segment been retransmitted for too long (RFC 9293 §3.8.3 R2)?

        Linux ``tcp_write_timeout()``: by time (``retransmits_timed_out()``) from the first
        transmission of that segment: ``TCP_USER_TIMEOUT`` when set, else ``tcp_retries2``
        (or ``tcp_orphan_retries`` for a closed socket) retransmissions' worth of time from
        ``TCP_RTO_MIN`` -- 924.6 s for 15.  Otherwise by count (FreeBSD ``V_tcp_retries``),
        or after ``TCP_USER_TIMEOUT``.
        """
        c = self.conn
        p = c.params
        rx, clocks = c.rexmit, c.clocks
        elapsed = now - clocks.unacked_since
        if p.rules.time_based_limits:
            if c.snd.wnd == 0 and not c.orphan:
                # the peer shrank its window over data in flight: these retransmissions are window
                # probes, ended only by 2 x TCP_RTO_MAX without a word from the peer
                # (tcp_retransmit_timer(), tcp_rtx_probe0_timed_out())
                quiet = now - clocks.last_recv_time
                return quiet > 2 * p.rto_max and elapsed > 2 * p.rto_max
            if rx.retransmits == 0:
                return False
            retries = orphan_retries(p, self.rto() < p.rto_max) if c.orphan else p.data_retries
            return retries_timed_out(p, retries, elapsed, user_timeout=clocks.user_timeout)
        if clocks.user_timeout and elapsed >= clocks.user_timeout - 1e-6:
            return True
        return rx.retransmits >= (p.orphan_retries if c.orphan else p.data_retries)

    def arm_synack(self, now: float) -> None:
        """Start the SYN-ACK retransmission timer (``retransmits`` SYN-ACKs already resent)."""
        c = self.conn
        c.timer.set(now, "rexmt", now + synack_timeout(c.params, c.rexmit.retransmits))

    # ------------------------------------------------------------------ keepalive
    def on_keepalive(self, now: float) -> None:
        """Keepalive timer (RFC 9293 §3.8.4; Linux tcp_keepalive_timer): probe an idle peer, give up after ``cnt``."""
        c = self.conn
        keep = c.keep
        if c.state not in (State.ESTABLISHED, State.CLOSE_WAIT) or not keep.on:
            return
        if c.params.rules.keepalive_waits_for_idle_queue and (
            c.snd.una != c.snd.max or seq_gt(self.data_end, c.snd.nxt)
        ):
            # Linux tcp_keepalive_timer(): data in flight or queued -> no probe, look again later
            c.timer.set(now, "keepalive", now + keep.idle)
            return
        last = c.clocks.last_recv_time
        idle = now - last
        if keep.probes == 0 and idle < keep.idle - 1e-9:
            c.timer.set(now, "keepalive", last + keep.idle)
            return
        user_timeout = c.clocks.user_timeout
        if (user_timeout and keep.probes > 0 and idle >= user_timeout - 1e-9) or (
            not user_timeout and keep.probes >= keep.cnt
        ):
            # with TCP_USER_TIMEOUT set, it (not TCP_KEEPCNT) decides when probing ends
            self.send_rst_ack(now)
            c._fail(now, Event.TIMEOUT_KEEPALIVE, "ETIMEDOUT")
            return
        keep.probes += 1
        # a probe: one byte below SND.UNA, so the peer must answer with an ACK (RFC 9293 §3.8.4)
        self.segment(now, Flags(0), seq_add(c.snd.una, -1) & MASK)
        c.timer.set(now, "keepalive", now + keep.intvl)

    def set_keepalive(self, now: float, on: bool) -> None:
        c = self.conn
        c.keep.on = on
        if on and c.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            c.timer.set(now, "keepalive", max(now, c.clocks.last_recv_time) + c.keep.idle)
        elif not on:
            c.timer.cancel(now, "keepalive")

    def set_keepidle(self, now: float, idle: float) -> None:
        """TCP_KEEPIDLE: a keepalive timer already running is moved to ``idle`` after the last arrival.

        Linux ``tcp_sock_set_keepidle_locked()`` (net/ipv4/tcp.c) resets it to ``idle`` minus the time already
        idle (``keepalive_time_elapsed()``), or to now if the connection has been idle longer than that.
        """
        c = self.conn
        c.keep.idle = idle
        if c.keep.on and c.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            c.timer.set(now, "keepalive", max(now, c.clocks.last_recv_time + idle))

    def arm_keepalive(self, now: float) -> None:
        """Restart the idle clock after a segment arrived (no trace record: it moves often)."""
        c = self.conn
        if c.keep.on and c.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            c.keep.probes = 0
            c.timer.move("keepalive", now + c.keep.idle)
