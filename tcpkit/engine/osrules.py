"""How Linux, FreeBSD and the RFC text differ, as data: one OsRules value per profile.

The engine never asks "is this Linux?".  Each place where real stacks part
ways reads one named field here (or calls one of its two small strategy
functions: the SYN option layout and the buffer a window scale is chosen
for).  A profile's :class:`~tcpkit.engine.profiles.Params` carries its rules
as ``params.rules``, so changing knobs never loses them and a new OS is a new
instance, not new ``if`` branches.

Examples
--------
>>> LINUX.tail_loss_probe, FREEBSD.tail_loss_probe, RFC9293.tail_loss_probe
(True, False, False)
>>> FREEBSD.oow_ack_limit            # 5 answers per second to invalid segments
(5, 1.0)
>>> rules_for("linux") is LINUX
True

Notes
-----
Every field cites the source it follows.  Linux: ``net/ipv4/tcp_input.c``,
``tcp_output.c``, ``tcp_timer.c``, ``tcp.c``; FreeBSD: ``sys/netinet/tcp_input.c``,
``tcp_output.c``, ``tcp_subr.c``, ``tcp_syncache.c``; RFC 9293 where the text decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ParameterError
from .options import freebsd_options, linux_options, wscale_for
from .segment import Option

__all__ = ["OsRules", "LINUX", "FREEBSD", "RFC9293", "rules_for", "OptionLayout"]

#: ``(mss, sack, (tsval, tsecr) or None, wscale or None) -> options``, keyword arguments.
OptionLayout = Callable[..., tuple[Option, ...]]


@dataclass(frozen=True, slots=True)
class OsRules:
    """The behaviours in which the modelled stacks differ.

    Attributes
    ----------
    name : str
        ``linux``, ``freebsd`` or ``rfc9293``.
    syn_options : callable
        Option layout of SYN and SYN-ACK (:func:`~tcpkit.engine.options.linux_options`
        or :func:`~tcpkit.engine.options.freebsd_options`).
    initial_window_clamp : bool
        Advertise at most the SYN window until data has arrived (Linux
        ``tcp_select_initial_window()`` clamps the first window to about 64 KB).
    acceptability_window : str
        The RCV.WND used for RFC 9293 Table 5: ``"advertised"`` (Linux ``tcp_receive_window()``)
        or ``"space"`` (FreeBSD ``sbspace()``, the RFC's free buffer space).
    syncache_window_cap : bool
        A request in SYN_RECEIVED offers at most ``TCP_MAXWIN << wscale``
        (FreeBSD ``sys/netinet/tcp_syncache.c``).
    oow_ack_limit : (int, float)
        At most this many ACKs to invalid segments per this many seconds (RFC 5961 §7):
        Linux ``tcp_oow_rate_limited()`` (``tcp_invalid_ratelimit`` 500 ms), FreeBSD
        ``ack_war_cnt``/``ack_war_timewindow`` (``sys/netinet/tcp_subr.c``).
    round_buffers_to_mss : bool
        FreeBSD ``tcp_mss_update()`` rounds both socket buffers up to a multiple of the MSS.
    tso : bool
        Linux hands the NIC large segments (TSO/GSO), sets PSH on every data segment and
        has no sender silly-window wait; otherwise one SMSS per segment, PSH on the last,
        and sender SWS avoidance (RFC 9293 §3.8.6.2.1).
    slow_start_every_byte : bool
        Linux ``tcp_slow_start()`` grows cwnd by every acknowledged byte; RFC 5681 §3.1 caps
        the increase at one SMSS per ACK.
    tail_loss_probe : bool
        Tail loss probes (RFC 8985 §7; Linux ``tcp_schedule_loss_probe()``).
    quickack : bool
        Linux acknowledges the first segments at once (``TCP_MAX_QUICKACKS``).
    delay_ack_of_fin : bool
        Linux ``tcp_fin()`` enters pingpong mode: once data has flowed the ACK of a FIN waits
        for the delayed-ACK timer.
    fin_rides_ack_in_closing : bool
        FreeBSD resends its unacknowledged FIN with the ACK of the peer's FIN
        (``tcp_outflags[TCPS_CLOSING]``, ``tcp_output()``).
    queue_syn_data : bool
        Data on a simultaneous-open SYN is kept until ESTABLISHED (FreeBSD ``tcp_reass``).
    drop_syn_in_time_wait : bool
        FreeBSD ``tcp_twcheck()`` drops a SYN that cannot open a new incarnation.
    reset_data_after_close : bool
        New data for a closed (orphaned) socket is answered with RST (RFC 1122 §4.2.2.13;
        Linux ``tcp_rcv_state_process()`` ``TCPAbortOnData``, FreeBSD ``tcps_rcvafterclose``).
    reset_unread_after_shutdown : bool
        Linux ``__tcp_close()`` resets in FIN_WAIT_1/2 too when received data was left unread.
    paws_window : int
        Timestamp ticks of slack before PAWS rejects (Linux ``TCP_PAWS_WINDOW`` = 1).
    paws_disordered_ack : bool
        Linux ``tcp_disordered_ack()`` lets a reordered pure ACK through PAWS.
    paws_ack_for_bare_ack : bool
        A bare ACK rejected by PAWS is answered with an ACK (Linux); FreeBSD drops it silently.
    ack_of_old_duplicate : bool
        FreeBSD processes the ACK field of an old duplicate (Stevens vol. 2 p. 960).
    ack_too_old_check : bool
        Drop an ACK older than SND.UNA - MAX.SND.WND (RFC 5961 §5.2) even when the
        RFC 5961 knobs are off (both kernels always check).
    window_scale : callable ``(params, rcvbuf, locked) -> int``
        The window-scale shift offered for a socket whose receive buffer is ``rcvbuf``
        (``locked``: set by ``SO_RCVBUF``).
    syn_window : callable ``(params, rcvbuf, mss) -> int``
        The (unscaled) window field of our SYN or SYN-ACK.
    time_based_limits : bool
        Retransmission limits are times (Linux ``retransmits_timed_out()``: ``tcp_syn_retries``,
        ``tcp_retries2``, ``tcp_orphan_retries`` turned into seconds, or ``TCP_USER_TIMEOUT``);
        otherwise counts.
    keepalive_waits_for_idle_queue : bool
        No keepalive probe while data is in flight or queued (Linux ``tcp_keepalive_timer()``:
        ``packets_out || !tcp_write_queue_empty()`` reschedules).
    ts_offset_per_connection : bool
        Each connection's timestamp clock gets its own offset (RFC 7323 §5.4): Linux >= 4.10
        (``tcp_timestamps = 1``), FreeBSD >= 12 (``tcp_new_ts_offset()`` in ``tcp_connect()``,
        ``net.inet.tcp.ts_offset_per_conn = 1``).
    isn_algorithm : str
        The ISN generator a Stack uses by default (:func:`tcpkit.engine.isn.make_isn`).
    ephemeral_parity : bool
        connect() tries ports of one parity, bind() the other (Linux >= 4.6 ``__inet_hash_connect()``).
    sockbuf_doubling : bool
        ``SO_RCVBUF``/``SO_SNDBUF`` are doubled for bookkeeping overhead (Linux ``sock_setsockopt()``).
    o_nonblock : int
        The OS's ``O_NONBLOCK`` bit, also accepted by ``fcntl(F_SETFL)`` (FreeBSD 4, Linux 0o4000).
    tw_reopen_by_timestamp : bool
        A SYN whose timestamp is newer than TIME_WAIT's TS.Recent may reopen the 4-tuple even with
        a lower sequence number (Linux ``tcp_timewait_state_process()``; RFC 6191).
    tw_isn_above_old : bool
        A connection that takes over a TIME_WAIT 4-tuple starts its ISN above the old SND.NXT
        (Linux ``tcp_twsk_unique()``/``tcp_conn_request()``: ``tw_snd_nxt + 65535 + 2``).
    reuseaddr_both_sides : bool
        ``SO_REUSEADDR`` lets ``bind()`` share a port with closed-but-lingering connections only
        when they carried the flag too (Linux ``inet_bind_conflict()``: ``sk->sk_reuse &&
        sk2->sk_reuse``; a TIME_WAIT socket keeps ``tw_reuse``, an accepted socket inherits its
        listener's).  Otherwise the new socket's flag alone decides (the other profiles: not
        checked against their kernels).
    """

    name: str
    syn_options: OptionLayout
    initial_window_clamp: bool
    acceptability_window: str
    syncache_window_cap: bool
    oow_ack_limit: tuple[int, float]
    round_buffers_to_mss: bool
    tso: bool
    slow_start_every_byte: bool
    tail_loss_probe: bool
    quickack: bool
    delay_ack_of_fin: bool
    fin_rides_ack_in_closing: bool
    queue_syn_data: bool
    drop_syn_in_time_wait: bool
    reset_data_after_close: bool
    reset_unread_after_shutdown: bool
    paws_window: int
    paws_disordered_ack: bool
    paws_ack_for_bare_ack: bool
    ack_of_old_duplicate: bool
    ack_too_old_check: bool
    window_scale: Callable[[Any, int, bool], int]  # takes the profile's Params (profiles imports this module)
    syn_window: Callable[[Any, int, int], int]
    time_based_limits: bool
    keepalive_waits_for_idle_queue: bool
    ts_offset_per_connection: bool
    isn_algorithm: str
    ephemeral_parity: bool
    sockbuf_doubling: bool
    o_nonblock: int
    tw_reopen_by_timestamp: bool
    tw_isn_above_old: bool
    reuseaddr_both_sides: bool


#: FreeBSD's ``kern.ipc.maxsockbuf`` default, from which it derives the window scale it offers.
FREEBSD_SB_MAX = 2097152


#: Linux ``net.core.rmem_max`` default (``SK_RMEM_MAX``, 212992): also a floor of the space the scale is chosen for.
LINUX_CORE_RMEM_MAX = 212992


def linux_window_scale(params: Any, rcvbuf: int, locked: bool) -> int:
    """Linux ``tcp_select_initial_window()``: ``clamp(ilog2(space) - 15, 0, 14)``.

    ``space`` is the largest of the socket's space, ``tcp_rmem[2]`` and ``net.core.rmem_max``,
    capped by the window clamp, which ``SO_RCVBUF`` sets to the socket's full space (about half
    the doubled buffer, ``tcp_full_space()``; ``tcp_connect_init()``).

    >>> from tcpkit.engine.profiles import get_profile
    >>> p = get_profile("linux").params
    >>> linux_window_scale(p, 131072, False), linux_window_scale(p, 2 * 65536, True)
    (10, 1)
    >>> linux_window_scale(get_profile("linux", tcp_rmem_max=6291456).params, 131072, False)
    7
    """
    space = max(rcvbuf // 2, int(params.rmem_max), LINUX_CORE_RMEM_MAX)
    if locked:
        space = min(space, rcvbuf // 2)
    return max(0, min(14, space.bit_length() - 1 - 15))


def bsd_window_scale(params: Any, rcvbuf: int, locked: bool) -> int:
    """FreeBSD ``tcp_connect()``/``syncache_add()``: ``while (TCP_MAXWIN << wscale) < sb_max: wscale++`` (max 14).

    ``sb_max`` is ``kern.ipc.maxsockbuf``, not the socket's own buffer.

    >>> from tcpkit.engine.profiles import get_profile
    >>> sizes = (73728, 2097152, 2**32 - 1)
    >>> [bsd_window_scale(get_profile("freebsd", maxsockbuf=m).params, 65536, False) for m in sizes]
    [1, 6, 14]
    """
    return wscale_for(int(params.extra.get("maxsockbuf", FREEBSD_SB_MAX)))


def rfc_window_scale(params: Any, rcvbuf: int, locked: bool) -> int:
    """The smallest shift that lets the receive buffer be advertised (RFC 7323 §2.3)."""
    return wscale_for(max(rcvbuf, int(params.rmem_max)))


def linux_syn_window(params: Any, rcvbuf: int, mss: int) -> int:
    """Linux ``tcp_select_initial_window()``: the full space (half the buffer), rounded down to a multiple
    of the MSS, at most 65535.

    ``mss`` is the MSS we advertise, less the 12 bytes of timestamps on a SYN-ACK that carries them
    (``tcp_openreq_init_rwin()``).  On Ethernet that makes 64240 (SYN) and 65160 (SYN-ACK); on
    loopback 65495 and 65483.

    >>> from tcpkit.engine.profiles import get_profile
    >>> p = get_profile("linux").params
    >>> linux_syn_window(p, 131072, 1460), linux_syn_window(p, 131072, 1448), linux_syn_window(p, 131072, 65495)
    (64240, 65160, 65495)
    """
    space = min(rcvbuf // 2, 65535)
    if space > mss:
        space -= space % mss
    return space


def bsd_syn_window(params: Any, rcvbuf: int, mss: int) -> int:
    """FreeBSD: ``imin(sbspace(&so->so_rcv), TCP_MAXWIN)`` (``tcp_output()``, ``syncache_add()``)."""
    return min(max(rcvbuf, 0), int(params.syn_window), 0xFFFF)


LINUX = OsRules(
    name="linux",
    syn_options=linux_options,
    initial_window_clamp=True,
    acceptability_window="advertised",
    syncache_window_cap=False,
    oow_ack_limit=(1, 0.5),
    round_buffers_to_mss=False,
    tso=True,
    slow_start_every_byte=True,
    tail_loss_probe=True,
    quickack=True,
    delay_ack_of_fin=True,
    fin_rides_ack_in_closing=False,
    queue_syn_data=False,
    drop_syn_in_time_wait=False,
    reset_data_after_close=True,
    reset_unread_after_shutdown=True,
    paws_window=1,
    paws_disordered_ack=True,
    paws_ack_for_bare_ack=True,
    ack_of_old_duplicate=False,
    ack_too_old_check=True,
    window_scale=linux_window_scale,
    syn_window=linux_syn_window,
    time_based_limits=True,
    keepalive_waits_for_idle_queue=True,
    ts_offset_per_connection=True,
    isn_algorithm="linux",
    ephemeral_parity=True,
    sockbuf_doubling=True,
    o_nonblock=0o4000,
    tw_reopen_by_timestamp=True,
    tw_isn_above_old=True,
    reuseaddr_both_sides=True,
)

FREEBSD = OsRules(
    name="freebsd",
    syn_options=freebsd_options,
    initial_window_clamp=False,
    acceptability_window="space",
    syncache_window_cap=True,
    oow_ack_limit=(5, 1.0),
    round_buffers_to_mss=True,
    tso=False,
    slow_start_every_byte=False,
    tail_loss_probe=False,
    quickack=False,
    delay_ack_of_fin=False,
    fin_rides_ack_in_closing=True,
    queue_syn_data=True,
    drop_syn_in_time_wait=True,
    reset_data_after_close=True,
    reset_unread_after_shutdown=False,
    paws_window=0,
    paws_disordered_ack=False,
    paws_ack_for_bare_ack=False,
    ack_of_old_duplicate=True,
    ack_too_old_check=True,
    window_scale=bsd_window_scale,
    syn_window=bsd_syn_window,
    time_based_limits=False,
    keepalive_waits_for_idle_queue=False,
    ts_offset_per_connection=True,
    isn_algorithm="rfc6528",
    ephemeral_parity=False,
    sockbuf_doubling=False,
    o_nonblock=4,
    tw_reopen_by_timestamp=False,
    tw_isn_above_old=False,
    reuseaddr_both_sides=False,
)

RFC9293 = OsRules(
    name="rfc9293",
    syn_options=linux_options,
    initial_window_clamp=False,
    acceptability_window="space",
    syncache_window_cap=False,
    oow_ack_limit=(5, 1.0),
    round_buffers_to_mss=False,
    tso=False,
    slow_start_every_byte=False,
    tail_loss_probe=False,
    quickack=False,
    delay_ack_of_fin=False,
    fin_rides_ack_in_closing=False,
    queue_syn_data=False,
    drop_syn_in_time_wait=False,
    reset_data_after_close=False,
    reset_unread_after_shutdown=False,
    paws_window=0,
    paws_disordered_ack=False,
    paws_ack_for_bare_ack=True,
    ack_of_old_duplicate=False,
    ack_too_old_check=False,
    window_scale=rfc_window_scale,
    syn_window=bsd_syn_window,
    time_based_limits=False,
    keepalive_waits_for_idle_queue=False,
    ts_offset_per_connection=False,
    isn_algorithm="rfc6528",
    ephemeral_parity=False,
    sockbuf_doubling=False,
    o_nonblock=0o4000,
    tw_reopen_by_timestamp=False,
    tw_isn_above_old=False,
    reuseaddr_both_sides=False,
)

_BY_NAME = {r.name: r for r in (LINUX, FREEBSD, RFC9293)}


def rules_for(os_name: str) -> OsRules:
    """The rules of ``linux``, ``freebsd`` or ``rfc9293``.

    >>> rules_for("freebsd").drop_syn_in_time_wait
    True
    >>> rules_for("windows")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter os = 'windows' is not allowed: expected one of linux, freebsd, ...
    """
    try:
        return _BY_NAME[os_name]
    except KeyError:
        raise ParameterError("os", os_name, "one of " + ", ".join(_BY_NAME)) from None
