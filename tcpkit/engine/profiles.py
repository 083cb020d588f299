"""OS profiles: the knobs (sysctls) that shape a TCP stack, with their metadata.

A :class:`Profile` is immutable: :meth:`Profile.set` returns a new one.  Every
knob knows its sysctl name, default, unit, allowed range and meaning in
English and Chinese, so widgets can build a knob panel from it and errors can
say what is allowed.  The engine never reads knobs directly: it reads
:attr:`Profile.params`, one :class:`Params` with the same fields for every OS.

Examples
--------
>>> p = get_profile("linux")
>>> p["tcp_synack_retries"], p.params.time_wait
(5, 60.0)
>>> p.set(tcp_syn_retries=3)["tcp_syn_retries"]
3
>>> p.set(tcp_syn_retries=0)
Traceback (most recent call last):
...
tcpkit.engine.errors.KnobError: tcp_syn_retries = 0 is not allowed (profile 'linux'): expected an integer from 1 ...
>>> p.set(tcp_tw_recycle=1)
Traceback (most recent call last):
...
tcpkit.engine.errors.RemovedKnobError: tcp_tw_recycle does not exist any more: removed in Linux 4.12 (2017)...
>>> get_profile("rfc9293").params.time_wait
240.0

Notes
-----
Linux defaults: ``Documentation/networking/ip-sysctl.rst`` and
``include/net/tcp.h`` (``TCP_TIMEWAIT_LEN`` 60 s, ``TCP_TIMEOUT_INIT`` 1 s,
``TCP_RTO_MIN`` 200 ms, ``TCP_RTO_MAX`` 120 s, ``TCP_DELACK_MIN`` 40 ms).
FreeBSD: ``sys/netinet/tcp_timer.h``, ``tcp_subr.c`` (``net.inet.tcp.msl``
30 s, ``tcp_syn_backoff[]``, ``keepinit`` 75 s) and ``tcp_input.c``
(``insecure_rst``/``insecure_syn``, RFC 5961).  RFC 9293 §3.4.2 (MSL of 2
minutes), RFC 6298 (initial RTO 1 s, exponential backoff).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import KnobError, RemovedKnobError
from .osrules import FREEBSD, LINUX, RFC9293, OsRules

__all__ = ["Knob", "Profile", "Params", "get_profile", "PROFILES", "REMOVED_KNOBS", "TCP_BACKOFF"]

#: FreeBSD ``tcp_backoff[]`` (sys/netinet/tcp_timer.c): RTO multipliers per retransmission, SYNs included.
#: (Before FreeBSD 13 SYNs used ``tcp_syn_backoff[] = {1, 1, 1, 1, 1, 2, 4, ...}`` with a 3 s first RTO.)
TCP_BACKOFF = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512, 512)


@dataclass(frozen=True, slots=True)
class Knob:
    """Metadata of one knob.

    Attributes
    ----------
    name : short name used in Python (``tcp_syn_retries``).
    sysctl : the real sysctl (``net.ipv4.tcp_syn_retries``), or ``None`` for a
        kernel constant or a teaching knob that has no sysctl.
    default, unit, kind : ``kind`` is ``int``, ``float``, ``bool`` or ``choice``.
    lo, hi : inclusive range for ``int``/``float``.
    choices : allowed values for ``choice``.
    help, help_zh : one line each.
    source : where the default comes from.
    """

    name: str
    sysctl: str | None
    default: Any
    unit: str
    kind: str
    help: str
    help_zh: str
    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] = ()
    source: str = ""
    modelled: bool = True

    def allowed(self) -> str:
        """The allowed values in words.

        >>> get_profile("linux").knob("tcp_syncookies").allowed()
        'one of 0, 1, 2'
        """
        if self.kind == "bool":
            return "0 or 1 (off or on)"
        if self.kind == "choice":
            return "one of " + ", ".join(str(c) for c in self.choices)
        what = "an integer" if self.kind == "int" else "a number"
        lo = _fmt(self.lo)
        hi = _fmt(self.hi)
        unit = f" ({self.unit})" if self.unit else ""
        return f"{what} from {lo} to {hi}{unit}"

    def check(self, value: Any, profile: str | None = None) -> Any:
        """Validate (and normalise) a value, or raise :class:`KnobError`.

        Any integral number (``numpy.int64`` too) is an integer; ``bool`` is
        refused where a number is meant.

        >>> k = get_profile("linux").knob("tcp_syn_retries")
        >>> k.check("3"), k.check(3.0)
        (3, 3)
        >>> k.check(float("nan"))
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.KnobError: tcp_syn_retries = nan is not allowed: expected an integer from 1 to 127 (count)
        """
        if isinstance(value, str):
            value = self.parse(value, profile)
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
        if self.kind == "bool":
            if value in (0, 1, True, False):
                return bool(value)
            raise KnobError(self.name, value, self.allowed(), profile)
        if self.kind == "choice":
            if isinstance(value, int | float | str) and not isinstance(value, bool) and value in self.choices:
                return value
            raise KnobError(self.name, value, self.allowed(), profile)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise KnobError(self.name, value, self.allowed(), profile)
        if self.kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise KnobError(self.name, value, self.allowed(), profile)
                value = int(value)
        else:
            value = float(value)
        assert self.lo is not None and self.hi is not None
        if not self.lo <= value <= self.hi:
            raise KnobError(self.name, value, self.allowed(), profile)
        return value

    def parse(self, text: str, profile: str | None = None) -> Any:
        """Parse a value written as text (as in ``sysctl -w name=value``)."""
        t = text.strip().strip('"').strip("'")
        try:
            if self.kind == "float":
                return float(t)
            return int(t, 0)
        except ValueError:
            raise KnobError(self.name, text, self.allowed(), profile) from None


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else str(x)


@dataclass(frozen=True, slots=True)
class Params:
    """What the engine needs to know, the same fields for every profile.

    Times are in seconds.  Besides the knobs, a few fields are facts of a kernel version
    (there is no sysctl for them); each names the version it follows:

    syn_queue_full_above_backlog : bool
        Linux ``inet_csk_reqsk_queue_is_full()`` (include/net/inet_connection_sock.h): True
        when the SYN queue is full only when it holds MORE than the listen backlog
        (``qlen > sk_max_ack_backlog``, so ``backlog + 1`` requests fit and ``listen(0)``
        admits one), as since Linux 6.13 (commit 3479c7549fb1, "tcp/dccp: allow a connection
        when sk_max_ack_backlog is zero", January 2025, also taken into the 5.15, 6.1, 6.6 and
        6.12 stable series); False for the ``>=`` of Linux 4.4 (commit ef547f2ac16b, "tcp:
        remove max_qlen_log") to 6.12.  The ``linux`` profile follows the current kernel
        (True); other profiles ignore it.
    """

    os: str
    msl: float
    time_wait: float
    syn_retries: int
    syn_linear_timeouts: int
    syn_backoff: tuple[float, ...]  # FreeBSD tcp_backoff[] for SYN/SYN-ACK timeouts (plus rexmit_slop); () = Linux/RFC
    connect_timeout: float | None  # FreeBSD keepinit: give up connecting after this long
    synack_retries: int
    data_retries: int
    orphan_retries: int
    rto_initial: float
    rto_min: float
    rto_max: float
    fin_timeout: float
    keepalive_time: float
    keepalive_intvl: float
    keepalive_probes: int
    rst_exact_match: bool  # RFC 5961 §3
    syn_challenge_ack: bool  # RFC 5961 §4
    rfc1337: bool  # True: ignore RST in TIME_WAIT
    somaxconn: int
    max_syn_backlog: int
    syncookies: int
    abort_on_overflow: bool
    tw_reuse: int
    tw_reuse_delay: float  # seconds in TIME_WAIT before tcp_tw_reuse may hand the 4-tuple on (Linux 6.14+)
    timestamps: bool
    sack: bool
    window_scaling: bool
    mss: int
    rmem_max: int
    syn_window: int
    delayed_ack: float
    initial_cwnd: int
    port_low: int
    port_high: int
    mtu: int  # the interface MTU (the MSS offered follows from it)
    max_tw_buckets: int | None  # most TIME_WAIT sockets a host keeps (None: no limit)
    rexmit_slop: float  # added to backed-off SYN/SYN-ACK timeouts (FreeBSD TCPT_RANGESET)
    ecn_syn_retries: int | None  # ECN requested on the SYN and this many retransmissions (None: not requested)
    syn_drop_options_after: int | None  # SYN retransmissions after which options are dropped (None: never)
    rules: OsRules  # how this OS differs from the others (tcpkit.engine.osrules)
    rcvbuf: int  # a new socket's receive buffer before SO_RCVBUF
    sndbuf: int  # a new socket's send buffer before SO_SNDBUF
    extra: Mapping[str, Any] = field(default_factory=dict)
    syn_queue_full_above_backlog: bool = False
    device_tso: bool = True  # the device takes super-segments; with False a capture sees them cut (rules.tso)


def _k(
    name: str,
    sysctl: str | None,
    default: Any,
    unit: str,
    kind: str,
    lo: float | None,
    hi: float | None,
    help: str,
    help_zh: str,
    source: str = "",
    choices: tuple[Any, ...] = (),
    modelled: bool = True,
) -> Knob:
    return Knob(name, sysctl, default, unit, kind, help, help_zh, lo, hi, choices, source, modelled)


_IPS = "Documentation/networking/ip-sysctl.rst"

LINUX_KNOBS: tuple[Knob, ...] = (
    _k(
        "tcp_syn_retries",
        "net.ipv4.tcp_syn_retries",
        6,
        "count",
        "int",
        1,
        127,
        "How many times connect() retransmits an unanswered SYN.",
        "connect() 重传未获应答的 SYN 的次数。",
        _IPS,
    ),
    _k(
        "tcp_syn_linear_timeouts",
        "net.ipv4.tcp_syn_linear_timeouts",
        4,
        "count",
        "int",
        0,
        127,
        "How many SYN retransmissions use a linear 1 s timeout before exponential backoff (Linux >= 6.5).",
        "在指数退避之前，按 1 秒线性超时重传 SYN 的次数（Linux 6.5 起）。",
        _IPS,
    ),
    _k(
        "tcp_synack_retries",
        "net.ipv4.tcp_synack_retries",
        5,
        "count",
        "int",
        0,
        255,
        "How many times a listener retransmits a SYN-ACK (5: 1+2+4+8+16+32 = 63 s).",
        "监听端重传 SYN-ACK 的次数（5 次：1+2+4+8+16+32 = 63 秒）。",
        _IPS,
    ),
    _k(
        "tcp_retries2",
        "net.ipv4.tcp_retries2",
        15,
        "count",
        "int",
        1,
        255,
        "Retransmissions of data before an established connection is given up.",
        "已建立连接在放弃前重传数据的次数。",
        _IPS,
    ),
    _k(
        "tcp_orphan_retries",
        "net.ipv4.tcp_orphan_retries",
        0,
        "count",
        "int",
        0,
        255,
        "Retransmissions for orphaned (closed) sockets; 0 means 8.",
        "孤儿套接字（已关闭）的重传次数；0 表示 8。",
        _IPS,
    ),
    _k(
        "tcp_fin_timeout",
        "net.ipv4.tcp_fin_timeout",
        60,
        "s",
        "float",
        1,
        3600,
        "How long an orphaned socket waits in FIN_WAIT_2. Not the MSL, not TIME_WAIT.",
        "孤儿套接字在 FIN_WAIT_2 等待的时长；它不是 MSL，也不决定 TIME_WAIT。",
        _IPS,
    ),
    _k(
        "time_wait_len",
        None,
        60,
        "s",
        "float",
        0,
        600,
        "TIME_WAIT duration. Linux fixes it at 60 s (TCP_TIMEWAIT_LEN, no sysctl); 0 switches TIME_WAIT off to show "
        "why it exists.",
        "TIME_WAIT 时长。Linux 固定为 60 秒（TCP_TIMEWAIT_LEN，无 sysctl）；设为 0 可关闭 TIME_WAIT 以演示其作用。",
        "include/net/tcp.h TCP_TIMEWAIT_LEN",
    ),
    _k(
        "tcp_keepalive_time",
        "net.ipv4.tcp_keepalive_time",
        7200,
        "s",
        "float",
        1,
        32767,
        "Idle time before the first keepalive probe.",
        "发送第一个保活探测前的空闲时间。",
        _IPS,
    ),
    _k(
        "tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_intvl",
        75,
        "s",
        "float",
        1,
        32767,
        "Time between keepalive probes.",
        "保活探测之间的间隔。",
        _IPS,
    ),
    _k(
        "tcp_keepalive_probes",
        "net.ipv4.tcp_keepalive_probes",
        9,
        "count",
        "int",
        1,
        127,
        "Unanswered probes before the connection is dropped (7200 + 75 x 9 = 7875 s).",
        "放弃连接前未获应答的探测次数（7200 + 75 × 9 = 7875 秒）。",
        _IPS,
    ),
    _k(
        "tcp_syncookies",
        "net.ipv4.tcp_syncookies",
        1,
        "",
        "choice",
        None,
        None,
        "0 off; 1 send cookies when the SYN queue overflows; 2 always send cookies.",
        "0 关闭；1 SYN 队列溢出时发送 cookie；2 总是发送 cookie。",
        _IPS,
        choices=(0, 1, 2),
    ),
    _k(
        "tcp_max_syn_backlog",
        "net.ipv4.tcp_max_syn_backlog",
        4096,
        "requests",
        "int",
        1,
        1 << 20,
        "SYN queue limit, used only with syncookies off; the last quarter is kept for peers proven alive. Default "
        "depends on memory.",
        "SYN 队列上限，仅在关闭 syncookies 时使用；最后四分之一留给已验证的对端。默认值随内存而定。",
        _IPS,
    ),
    _k(
        "somaxconn",
        "net.core.somaxconn",
        4096,
        "connections",
        "int",
        1,
        1 << 20,
        "Upper bound on listen() backlog (4096 since Linux 5.4, 128 before).",
        "listen() backlog 的上限（Linux 5.4 起为 4096，之前为 128）。",
        "Documentation/networking/ip-sysctl.rst; net/socket.c",
    ),
    _k(
        "tcp_abort_on_overflow",
        "net.ipv4.tcp_abort_on_overflow",
        0,
        "",
        "bool",
        None,
        None,
        "When the accept queue is full: 0 drop the final ACK (client thinks it is connected), 1 answer with RST.",
        "全连接队列满时：0 丢弃第三次握手的 ACK（客户端以为已连接），1 回复 RST。",
        _IPS,
    ),
    _k(
        "tcp_tw_reuse",
        "net.ipv4.tcp_tw_reuse",
        2,
        "",
        "choice",
        None,
        None,
        "Let outgoing connect() reuse a TIME_WAIT 4-tuple when timestamps prove it safe: 0 off, 1 on, 2 loopback only.",
        "允许主动 connect() 在时间戳证明安全时复用 TIME_WAIT 的四元组：0 关闭，1 开启，2 仅回环。",
        _IPS,
        choices=(0, 1, 2),
    ),
    _k(
        "tcp_tw_reuse_delay",
        "net.ipv4.tcp_tw_reuse_delay",
        1000,
        "ms",
        "int",
        1,
        600000,
        "How long a socket must have been in TIME_WAIT before tcp_tw_reuse may give its 4-tuple to a new "
        "connect() (Linux 6.14+; up to 6.13 the last timestamp had to be over 1 s old).",
        "tcp_tw_reuse 把 TIME_WAIT 的四元组交给新的 connect() 之前，该套接字至少要在 TIME_WAIT 中停留的时间"
        "（Linux 6.14 起；6.13 及以前要求最后一个时间戳超过 1 秒）。",
        _IPS + "; net/ipv4/tcp_ipv4.c tcp_twsk_unique()",
    ),
    _k(
        "tcp_rfc1337",
        "net.ipv4.tcp_rfc1337",
        0,
        "",
        "bool",
        None,
        None,
        "1: ignore RST in TIME_WAIT (RFC 1337). 0 (default): an RST kills the TIME_WAIT socket.",
        "1：在 TIME_WAIT 中忽略 RST（RFC 1337）；0（默认）：RST 会提前结束 TIME_WAIT。",
        _IPS,
    ),
    _k(
        "tcp_timestamps",
        "net.ipv4.tcp_timestamps",
        1,
        "",
        "choice",
        None,
        None,
        "Timestamps (RFC 7323): 0 off, 1 on with random offsets, 2 on without offsets.",
        "时间戳（RFC 7323）：0 关闭，1 开启且随机偏移，2 开启不加偏移。",
        _IPS,
        choices=(0, 1, 2),
    ),
    _k(
        "tcp_sack",
        "net.ipv4.tcp_sack",
        1,
        "",
        "bool",
        None,
        None,
        "Selective acknowledgements (RFC 2018).",
        "选择性确认（RFC 2018）。",
        _IPS,
    ),
    _k(
        "tcp_window_scaling",
        "net.ipv4.tcp_window_scaling",
        1,
        "",
        "bool",
        None,
        None,
        "Window scaling (RFC 7323).",
        "窗口缩放（RFC 7323）。",
        _IPS,
    ),
    _k(
        "tcp_rmem_max",
        "net.ipv4.tcp_rmem",
        33554432,
        "bytes",
        "int",
        4096,
        1 << 30,
        "Largest receive buffer (third value of tcp_rmem, 32 MB since Linux 6.16, 6 MB before); sets the window "
        "scale offered (10 for 32 MB, 7 for 6 MB).",
        "最大接收缓冲区（tcp_rmem 第三个值，Linux 6.16 起为 32 MB，之前为 6 MB），"
        "决定通告的窗口缩放因子（32 MB 对应 10，6 MB 对应 7）。",
        _IPS + "; commit 572be9bf9d0d (tcp: increase tcp_rmem[2] to 32 MB)",
    ),
    _k(
        "tcp_max_tw_buckets",
        "net.ipv4.tcp_max_tw_buckets",
        262144,
        "sockets",
        "int",
        0,
        1 << 30,
        "Most TIME_WAIT sockets the host keeps; beyond it a closing socket skips TIME_WAIT (TCPTimeWaitOverflow). "
        "The default is half the established-hash size, which depends on memory.",
        "主机保留的 TIME_WAIT 套接字上限；超出时关闭的套接字跳过 TIME_WAIT（计数 TCPTimeWaitOverflow）。"
        "默认值为已建立连接哈希表大小的一半，随内存而定。",
        _IPS + "; net/ipv4/tcp_ipv4.c tcp_sk_init(), net/ipv4/inet_timewait_sock.c inet_twsk_alloc()",
    ),
    _k(
        "mtu",
        None,
        1500,
        "bytes",
        "int",
        68,
        65536,
        "Interface MTU (ip link set dev ... mtu; 65536 on lo). The MSS offered is min(MTU, 65535) - 40 for IPv4.",
        "接口 MTU（ip link set dev ... mtu；lo 为 65536）。通告的 MSS 为 min(MTU, 65535) - 40（IPv4）。",
        "net/ipv4/route.c ipv4_default_advmss() (IPV4_MAX_PMTU = 65535)",
    ),
    _k(
        "tso",
        None,
        1,
        "",
        "choice",
        None,
        None,
        "Whether the device takes segments longer than the MSS (TSO/GSO, ethtool -k; on for lo and packetdrill's "
        "tun): 1 a capture shows the stack's large segments; 0 it shows them cut into MSS-sized ones, PSH and FIN "
        "on the last piece only.",
        "设备是否接受长于 MSS 的报文段（TSO/GSO，ethtool -k；lo 与 packetdrill 的 tun 均开启）：1 抓包看到协议栈发出的"
        "大报文段；0 看到切成 MSS 大小的报文段，只有最后一段带 PSH 和 FIN。",
        "net/core/dev.c validate_xmit_skb() (software GSO before the capture tap when the device lacks the "
        "feature); net/ipv4/tcp_offload.c tcp_gso_segment() (PSH and FIN kept on the last segment only)",
        choices=(0, 1),
    ),
    _k(
        "rto_initial",
        None,
        1.0,
        "s",
        "float",
        0.01,
        60,
        "Initial retransmission timeout (TCP_TIMEOUT_INIT, RFC 6298).",
        "初始重传超时（TCP_TIMEOUT_INIT，RFC 6298）。",
        "include/net/tcp.h",
    ),
    _k(
        "rto_min",
        "net.ipv4.tcp_rto_min_us",
        0.2,
        "s",
        "float",
        0.001,
        10,
        "Smallest retransmission timeout (TCP_RTO_MIN).",
        "最小重传超时（TCP_RTO_MIN）。",
        "include/net/tcp.h",
    ),
    _k(
        "rto_max",
        None,
        120.0,
        "s",
        "float",
        1,
        600,
        "Largest retransmission timeout (TCP_RTO_MAX).",
        "最大重传超时（TCP_RTO_MAX）。",
        "include/net/tcp.h",
    ),
    _k(
        "delayed_ack",
        None,
        0.04,
        "s",
        "float",
        0,
        0.5,
        "Delayed-ACK timeout once data has flowed (TCP_DELACK_MIN / TCP_ATO_MIN).",
        "有数据到达后延迟确认的超时（TCP_DELACK_MIN / TCP_ATO_MIN）。",
        "include/net/tcp.h",
    ),
    _k(
        "ip_local_port_low",
        "net.ipv4.ip_local_port_range",
        32768,
        "port",
        "int",
        1,
        65535,
        "Lowest ephemeral port (first value of ip_local_port_range).",
        "临时端口范围下限（ip_local_port_range 第一个值）。",
        _IPS,
    ),
    _k(
        "ip_local_port_high",
        "net.ipv4.ip_local_port_range",
        60999,
        "port",
        "int",
        1,
        65535,
        "Highest ephemeral port (second value of ip_local_port_range).",
        "临时端口范围上限（ip_local_port_range 第二个值）。",
        _IPS,
    ),
)

FREEBSD_KNOBS: tuple[Knob, ...] = (
    _k(
        "msl",
        "net.inet.tcp.msl",
        30000,
        "ms",
        "int",
        0,
        600000,
        "Maximum segment lifetime; TIME_WAIT lasts 2 x msl (60 s by default).",
        "最大报文段生存时间；TIME_WAIT 为 2 × msl（默认 60 秒）。",
        "sys/netinet/tcp_timer.h TCPTV_MSL",
    ),
    _k(
        "insecure_rst",
        "net.inet.tcp.insecure_rst",
        0,
        "",
        "bool",
        None,
        None,
        "1: accept any in-window RST (RFC 793). 0: only an exact-match RST resets, others get a challenge ACK (RFC "
        "5961).",
        "1：接受窗口内任意 RST（RFC 793）；0：仅精确匹配的 RST 生效，其余回复挑战 ACK（RFC 5961）。",
        "sys/netinet/tcp_input.c",
    ),
    _k(
        "insecure_syn",
        "net.inet.tcp.insecure_syn",
        0,
        "",
        "bool",
        None,
        None,
        "1: an in-window SYN resets the connection (RFC 793). 0: answer with a challenge ACK (RFC 5961).",
        "1：窗口内 SYN 重置连接（RFC 793）；0：回复挑战 ACK（RFC 5961）。",
        "sys/netinet/tcp_input.c",
    ),
    _k(
        "keepinit",
        "net.inet.tcp.keepinit",
        75000,
        "ms",
        "int",
        1000,
        3600000,
        "How long connect() keeps retransmitting SYNs before it gives up.",
        "connect() 持续重传 SYN 直至放弃的时长。",
        "sys/netinet/tcp_timer.h TCPTV_KEEP_INIT",
    ),
    _k(
        "keepidle",
        "net.inet.tcp.keepidle",
        7200000,
        "ms",
        "int",
        1000,
        86400000,
        "Idle time before the first keepalive probe.",
        "发送第一个保活探测前的空闲时间。",
        "sys/netinet/tcp_timer.h",
    ),
    _k(
        "keepintvl",
        "net.inet.tcp.keepintvl",
        75000,
        "ms",
        "int",
        1000,
        3600000,
        "Time between keepalive probes.",
        "保活探测之间的间隔。",
        "sys/netinet/tcp_timer.h",
    ),
    _k(
        "keepcnt",
        "net.inet.tcp.keepcnt",
        8,
        "count",
        "int",
        1,
        127,
        "Unanswered probes before the connection is dropped.",
        "放弃连接前未获应答的探测次数。",
        "sys/netinet/tcp_timer.h TCPTV_KEEPCNT",
    ),
    _k(
        "finwait2_timeout",
        "net.inet.tcp.finwait2_timeout",
        60000,
        "ms",
        "int",
        1000,
        3600000,
        "How long a closed socket waits in FIN_WAIT_2.",
        "已关闭套接字在 FIN_WAIT_2 等待的时长。",
        "sys/netinet/tcp_timer.c",
    ),
    _k(
        "syncookies",
        "net.inet.tcp.syncookies",
        1,
        "",
        "bool",
        None,
        None,
        "Use SYN cookies when the syncache overflows.",
        "syncache 溢出时使用 SYN cookie。",
        "sys/netinet/tcp_syncache.c",
    ),
    _k(
        "rexmtlimit",
        "net.inet.tcp.syncache.rexmtlimit",
        3,
        "count",
        "int",
        0,
        255,
        "SYN-ACK retransmissions from the syncache.",
        "syncache 重传 SYN-ACK 的次数。",
        "sys/netinet/tcp_syncache.c",
    ),
    _k(
        "soacceptqueue",
        "kern.ipc.soacceptqueue",
        128,
        "connections",
        "int",
        1,
        65535,
        "Upper bound on listen() backlog (formerly kern.ipc.somaxconn).",
        "listen() backlog 的上限（旧名 kern.ipc.somaxconn）。",
        "sys/kern/uipc_socket.c",
    ),
    _k(
        "maxsockbuf",
        "kern.ipc.maxsockbuf",
        2097152,
        "bytes",
        "int",
        1024,
        (1 << 32) - 1,
        "Largest socket buffer; the window scale offered is the smallest s with 65535 << s >= maxsockbuf (max 14).",
        "套接字缓冲区上限；通告的窗口缩放因子为满足 65535 << s >= maxsockbuf 的最小 s（最大 14）。",
        "sys/kern/uipc_sockbuf.c sb_max; sys/netinet/tcp_usrreq.c tcp_connect(), tcp_syncache.c syncache_add()",
    ),
    _k(
        "mtu",
        None,
        1500,
        "bytes",
        "int",
        72,
        65535,
        "Interface MTU (ifconfig ... mtu; 16384 on lo0). The MSS offered is MTU - 40 for IPv4.",
        "接口 MTU（ifconfig ... mtu；lo0 为 16384）。通告的 MSS 为 MTU - 40（IPv4）。",
        "sys/netinet/tcp_subr.c tcp_maxmtu(); tcp_input.c tcp_mssopt()",
    ),
    _k(
        "ecn_enable",
        "net.inet.tcp.ecn.enable",
        2,
        "",
        "choice",
        None,
        None,
        "ECN (RFC 3168): 0 off, 1 request it on outgoing SYNs (flags E and W) and accept it, 2 only accept it.",
        "ECN（RFC 3168）：0 关闭，1 在发出的 SYN 上请求（E 与 W 标志）并接受，2 只接受。",
        "sys/netinet/tcp_ecn.c tcp_ecn_output_syn_sent()",
        choices=(0, 1, 2),
    ),
    _k(
        "ecn_maxretries",
        "net.inet.tcp.ecn.maxretries",
        1,
        "count",
        "int",
        0,
        127,
        "SYN retransmissions that still ask for ECN; later ones go without E and W.",
        "仍然请求 ECN 的 SYN 重传次数；之后的重传不带 E 与 W。",
        "sys/netinet/tcp_ecn.c tcp_ecn_output_syn_sent()",
    ),
    _k(
        "rexmit_slop",
        "net.inet.tcp.rexmit_slop",
        200,
        "ms",
        "int",
        0,
        60000,
        "Added to every backed-off retransmission timeout (TCPT_RANGESET).",
        "加到每个退避后的重传超时上的余量（TCPT_RANGESET）。",
        "sys/netinet/tcp_timer.h TCPTV_CPU_VAR, TCPT_RANGESET",
    ),
    _k(
        "rexmit_drop_options",
        "net.inet.tcp.rexmit_drop_options",
        0,
        "",
        "bool",
        None,
        None,
        "Send the 4th and later SYN without window scale, timestamps and SACK (for broken middleboxes).",
        "第 4 次及以后的 SYN 不带窗口缩放、时间戳与 SACK（应对有问题的中间设备）。",
        "sys/netinet/tcp_timer.c tcp_timer_rexmt()",
    ),
    _k(
        "rfc1323",
        "net.inet.tcp.rfc1323",
        1,
        "",
        "bool",
        None,
        None,
        "Window scaling and timestamps (RFC 1323/7323).",
        "窗口缩放与时间戳（RFC 1323/7323）。",
        "sys/netinet/tcp_subr.c",
    ),
    _k(
        "sack_enable",
        "net.inet.tcp.sack.enable",
        1,
        "",
        "bool",
        None,
        None,
        "Selective acknowledgements (RFC 2018).",
        "选择性确认（RFC 2018）。",
        "sys/netinet/tcp_sack.c",
    ),
    _k(
        "recvspace",
        "net.inet.tcp.recvspace",
        65536,
        "bytes",
        "int",
        1024,
        1 << 24,
        "Default receive buffer.",
        "默认接收缓冲区。",
        "sys/netinet/tcp_usrreq.c",
    ),
    _k(
        "sendspace",
        "net.inet.tcp.sendspace",
        32768,
        "bytes",
        "int",
        1024,
        1 << 24,
        "Default send buffer.",
        "默认发送缓冲区。",
        "sys/netinet/tcp_usrreq.c",
    ),
    _k(
        "rexmit_initial",
        "net.inet.tcp.rexmit_initial",
        1000,
        "ms",
        "int",
        1,
        60000,
        "Initial retransmission timeout.",
        "初始重传超时。",
        "sys/netinet/tcp_timer.h TCPTV_RTOBASE",
    ),
    _k(
        "rexmit_min",
        "net.inet.tcp.rexmit_min",
        30,
        "ms",
        "int",
        1,
        60000,
        "Smallest retransmission timeout.",
        "最小重传超时。",
        "sys/netinet/tcp_timer.h TCPTV_MIN",
    ),
    _k(
        "delacktime",
        "net.inet.tcp.delacktime",
        100,
        "ms",
        "int",
        0,
        1000,
        "Delayed-ACK timeout.",
        "延迟确认超时。",
        "sys/netinet/tcp_timer.h TCPTV_DELACK",
    ),
    _k(
        "portrange_first",
        "net.inet.ip.portrange.first",
        10000,
        "port",
        "int",
        1,
        65535,
        "Lowest ephemeral port.",
        "临时端口范围下限。",
        "sys/netinet/in_pcb.c",
    ),
    _k(
        "portrange_last",
        "net.inet.ip.portrange.last",
        65535,
        "port",
        "int",
        1,
        65535,
        "Highest ephemeral port.",
        "临时端口范围上限。",
        "sys/netinet/in_pcb.c",
    ),
)

RFC9293_KNOBS: tuple[Knob, ...] = (
    _k(
        "msl",
        None,
        120,
        "s",
        "float",
        0,
        600,
        "Maximum segment lifetime: 2 minutes in RFC 9293 §3.4.2, so TIME_WAIT lasts 240 s.",
        "最大报文段生存时间：RFC 9293 §3.4.2 规定为 2 分钟，因此 TIME_WAIT 为 240 秒。",
        "RFC 9293 §3.4.2",
    ),
    _k(
        "rfc5961",
        None,
        1,
        "",
        "bool",
        None,
        None,
        "Blind-attack mitigations of RFC 5961 (challenge ACKs, exact-match RST), recommended by RFC 9293 §3.10.7.4.",
        "RFC 5961 的盲攻击防护（挑战 ACK、RST 精确匹配），RFC 9293 §3.10.7.4 推荐启用。",
        "RFC 9293 §3.10.7.4; RFC 5961",
    ),
    _k(
        "syn_retries",
        None,
        7,
        "count",
        "int",
        1,
        64,
        "SYN retransmissions with pure exponential backoff (1, 2, 4, ... s); 7 covers the 3-minute R2 of §3.8.3.",
        "按纯指数退避（1、2、4…秒）重传 SYN 的次数；7 次覆盖 §3.8.3 规定的 3 分钟 R2。",
        "RFC 9293 §3.8.3; RFC 6298",
    ),
    _k(
        "synack_retries",
        None,
        7,
        "count",
        "int",
        0,
        64,
        "SYN-ACK retransmissions.",
        "SYN-ACK 重传次数。",
        "RFC 9293 §3.8.3",
    ),
    _k(
        "data_retries",
        None,
        10,
        "count",
        "int",
        1,
        64,
        "Data retransmissions before giving up (R2 of at least 100 s).",
        "放弃前的数据重传次数（R2 至少 100 秒）。",
        "RFC 9293 §3.8.3",
    ),
    _k(
        "rto_initial",
        None,
        1.0,
        "s",
        "float",
        0.01,
        60,
        "Initial retransmission timeout (RFC 6298 §2.1).",
        "初始重传超时（RFC 6298 §2.1）。",
        "RFC 6298 §2.1",
    ),
    _k(
        "rto_min",
        None,
        1.0,
        "s",
        "float",
        0.001,
        60,
        "Smallest retransmission timeout (RFC 6298 §2.4: 1 s).",
        "最小重传超时（RFC 6298 §2.4：1 秒）。",
        "RFC 6298 §2.4",
    ),
    _k(
        "rto_max",
        None,
        60.0,
        "s",
        "float",
        1,
        600,
        "Largest retransmission timeout (RFC 6298 §2.5 allows an upper bound of at least 60 s).",
        "最大重传超时（RFC 6298 §2.5：上限至少 60 秒）。",
        "RFC 6298 §2.5",
    ),
    _k(
        "keepalive_time",
        None,
        7200,
        "s",
        "float",
        1,
        86400,
        "Idle time before a keepalive probe (RFC 9293 §3.8.4: at least two hours).",
        "发送保活探测前的空闲时间（RFC 9293 §3.8.4：至少 2 小时）。",
        "RFC 9293 §3.8.4",
    ),
    _k(
        "keepalive_intvl",
        None,
        75,
        "s",
        "float",
        1,
        86400,
        "Time between keepalive probes.",
        "保活探测之间的间隔。",
        "RFC 1122 §4.2.3.6",
    ),
    _k(
        "keepalive_probes",
        None,
        9,
        "count",
        "int",
        1,
        127,
        "Unanswered probes before the connection is dropped.",
        "放弃连接前未获应答的探测次数。",
        "RFC 1122 §4.2.3.6",
    ),
    _k(
        "backlog_max",
        None,
        128,
        "connections",
        "int",
        1,
        65535,
        "Upper bound on the listen backlog.",
        "listen backlog 上限。",
        "",
    ),
    _k(
        "mtu",
        None,
        1500,
        "bytes",
        "int",
        68,
        65535,
        "Interface MTU; the MSS offered is MTU - 40 (IPv4 and TCP headers without options).",
        "接口 MTU；通告的 MSS 为 MTU - 40（不含选项的 IPv4 与 TCP 头部）。",
        "RFC 9293 §3.7.1; RFC 879",
    ),
)

#: Knobs that used to exist, and why they are gone.
REMOVED_KNOBS: dict[str, dict[str, str]] = {
    "linux": {
        "tcp_tw_recycle": (
            "removed in Linux 4.12 (2017): it dropped SYNs from clients behind NAT, whose timestamps are not "
            "monotonic across hosts, and with per-connection random timestamp offsets (Linux 4.10) it broke for "
            "everyone"
        ),
        "tcp_fack": "removed in Linux 4.15: forward acknowledgement was replaced by RACK",
    },
    "freebsd": {},
    "rfc9293": {},
}


def _derive_linux(v: Mapping[str, Any]) -> Params:
    return Params(
        os="linux",
        msl=float(v["time_wait_len"]) / 2,
        time_wait=float(v["time_wait_len"]),
        syn_retries=v["tcp_syn_retries"],
        syn_linear_timeouts=v["tcp_syn_linear_timeouts"],
        syn_backoff=(),
        connect_timeout=None,
        synack_retries=v["tcp_synack_retries"],
        data_retries=v["tcp_retries2"],
        orphan_retries=v["tcp_orphan_retries"],  # 0: tcp_orphan_retries() picks 8 while the RTO is below rto_max
        rto_initial=v["rto_initial"],
        rto_min=v["rto_min"],
        rto_max=v["rto_max"],
        fin_timeout=float(v["tcp_fin_timeout"]),
        keepalive_time=float(v["tcp_keepalive_time"]),
        keepalive_intvl=float(v["tcp_keepalive_intvl"]),
        keepalive_probes=v["tcp_keepalive_probes"],
        rst_exact_match=True,
        syn_challenge_ack=True,
        rfc1337=v["tcp_rfc1337"],
        somaxconn=v["somaxconn"],
        max_syn_backlog=v["tcp_max_syn_backlog"],
        syncookies=v["tcp_syncookies"],
        abort_on_overflow=v["tcp_abort_on_overflow"],
        tw_reuse=v["tcp_tw_reuse"],
        tw_reuse_delay=v["tcp_tw_reuse_delay"] / 1000,
        timestamps=v["tcp_timestamps"] != 0,
        sack=v["tcp_sack"],
        window_scaling=v["tcp_window_scaling"],
        mss=min(v["mtu"], 65535) - 40,  # ipv4_default_advmss(): IPV4_MAX_PMTU - header sizes
        rmem_max=v["tcp_rmem_max"],
        syn_window=64240,
        delayed_ack=v["delayed_ack"],
        initial_cwnd=10,
        port_low=v["ip_local_port_low"],
        port_high=v["ip_local_port_high"],
        mtu=v["mtu"],
        device_tso=bool(v["tso"]),
        max_tw_buckets=v["tcp_max_tw_buckets"],
        rexmit_slop=0.0,
        ecn_syn_retries=None,
        syn_drop_options_after=None,
        rules=LINUX,
        rcvbuf=131072,  # tcp_rmem[1] since 4.20
        sndbuf=262144,  # 2 x tcp_wmem[1], as getsockopt(SO_SNDBUF) reports it
        syn_queue_full_above_backlog=True,
    )


def _derive_freebsd(v: Mapping[str, Any]) -> Params:
    msl = v["msl"] / 1000.0
    return Params(
        os="freebsd",
        msl=msl,
        time_wait=2 * msl,
        syn_retries=12,  # V_tcp_retries = TCP_MAXRXTSHIFT
        syn_linear_timeouts=0,
        syn_backoff=TCP_BACKOFF,
        connect_timeout=v["keepinit"] / 1000.0,
        synack_retries=v["rexmtlimit"],
        data_retries=12,
        orphan_retries=12,
        rto_initial=v["rexmit_initial"] / 1000.0,
        rto_min=v["rexmit_min"] / 1000.0,
        rto_max=64.0,
        fin_timeout=v["finwait2_timeout"] / 1000.0,
        keepalive_time=v["keepidle"] / 1000.0,
        keepalive_intvl=v["keepintvl"] / 1000.0,
        keepalive_probes=v["keepcnt"],
        rst_exact_match=not v["insecure_rst"],
        syn_challenge_ack=not v["insecure_syn"],
        rfc1337=True,
        somaxconn=v["soacceptqueue"],
        max_syn_backlog=512,
        syncookies=1 if v["syncookies"] else 0,
        abort_on_overflow=False,
        tw_reuse=0,
        tw_reuse_delay=1.0,
        timestamps=v["rfc1323"],
        sack=v["sack_enable"],
        window_scaling=v["rfc1323"],
        mss=v["mtu"] - 40,  # tcp_mssopt(): if_mtu - min_protoh
        rmem_max=v["recvspace"],
        syn_window=65535,
        delayed_ack=v["delacktime"] / 1000.0,
        initial_cwnd=10,
        port_low=v["portrange_first"],
        port_high=v["portrange_last"],
        mtu=v["mtu"],
        max_tw_buckets=None,
        rexmit_slop=v["rexmit_slop"] / 1000.0,
        ecn_syn_retries=v["ecn_maxretries"] if v["ecn_enable"] == 1 else None,
        syn_drop_options_after=3 if v["rexmit_drop_options"] else None,
        rules=FREEBSD,
        rcvbuf=v["recvspace"],
        sndbuf=v["sendspace"],
        extra={"recvspace": v["recvspace"], "sendspace": v["sendspace"], "maxsockbuf": v["maxsockbuf"]},
    )


def _derive_rfc9293(v: Mapping[str, Any]) -> Params:
    msl = float(v["msl"])
    return Params(
        os="rfc9293",
        msl=msl,
        time_wait=2 * msl,
        syn_retries=v["syn_retries"],
        syn_linear_timeouts=0,
        syn_backoff=(),
        connect_timeout=None,
        synack_retries=v["synack_retries"],
        data_retries=v["data_retries"],
        orphan_retries=v["data_retries"],
        rto_initial=v["rto_initial"],
        rto_min=v["rto_min"],
        rto_max=v["rto_max"],
        fin_timeout=2 * msl,
        keepalive_time=float(v["keepalive_time"]),
        keepalive_intvl=float(v["keepalive_intvl"]),
        keepalive_probes=v["keepalive_probes"],
        rst_exact_match=v["rfc5961"],
        syn_challenge_ack=v["rfc5961"],
        rfc1337=False,
        somaxconn=v["backlog_max"],
        max_syn_backlog=v["backlog_max"],
        syncookies=0,
        abort_on_overflow=False,
        tw_reuse=0,
        tw_reuse_delay=1.0,
        timestamps=False,
        sack=False,
        window_scaling=False,
        mss=v["mtu"] - 40,
        rmem_max=65535,
        syn_window=65535,
        delayed_ack=0.0,
        initial_cwnd=10,
        port_low=49152,
        port_high=65535,
        mtu=v["mtu"],
        max_tw_buckets=None,
        rexmit_slop=0.0,
        ecn_syn_retries=None,
        syn_drop_options_after=None,
        rules=RFC9293,
        rcvbuf=65535,
        sndbuf=65535,
    )


_SPECS = {
    "linux": ("Linux 6.x defaults (net.ipv4.*)", "Linux 6.x 默认值（net.ipv4.*）", LINUX_KNOBS, _derive_linux),
    "freebsd": (
        "FreeBSD 14 defaults (net.inet.tcp.*)",
        "FreeBSD 14 默认值（net.inet.tcp.*）",
        FREEBSD_KNOBS,
        _derive_freebsd,
    ),
    "rfc9293": (
        "The standard as written: RFC 9293 with RFC 6298 timers",
        "标准原文：RFC 9293 与 RFC 6298 定时器",
        RFC9293_KNOBS,
        _derive_rfc9293,
    ),
}

PROFILES: tuple[str, ...] = tuple(_SPECS)


class Profile(Mapping[str, Any]):
    """An OS profile: knob metadata plus current values.

    Use :func:`get_profile` to make one.  A profile is a read-only mapping from
    knob name to value.
    """

    def __init__(self, name: str, values: Mapping[str, Any] | None = None) -> None:
        if not isinstance(name, str) or name not in _SPECS:
            raise KnobError("profile", name, "one of " + ", ".join(PROFILES))
        self.name = name
        self.description, self.description_zh, self.knobs, self._derive = _SPECS[name]
        self._by_name = {k.name: k for k in self.knobs}
        self._values = {k.name: k.default for k in self.knobs}
        for key, value in (values or {}).items():
            knob = self.knob(key, value=value)
            self._values[knob.name] = knob.check(value, name)
        self._check_consistency()
        self.params: Params = self._derive(self._values)

    def _check_consistency(self) -> None:
        for lo, hi in (("ip_local_port_low", "ip_local_port_high"), ("portrange_first", "portrange_last")):
            if lo in self._values and self._values[lo] > self._values[hi]:
                raise KnobError(
                    lo, self._values[lo], f"at most {hi} = {self._values[hi]} (the range would be empty)", self.name
                )

    def knob(self, name: str, *, value: Any = None, sysctl: bool = False) -> Knob:
        """Knob metadata by short name or full sysctl name.

        Parameters
        ----------
        name : str
        value : optional
            The value being set, shown in the error when ``name`` is not a knob.
        sysctl : bool
            List the sysctl names (not the Python names) in that error.

        Examples
        --------
        >>> get_profile("linux").knob("net.ipv4.tcp_fin_timeout").name
        'tcp_fin_timeout'
        >>> get_profile("linux").knob("tcp_fin_timout")
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.KnobError: 'tcp_fin_timout' is not a knob of the linux profile; its knobs: ...
        """
        if not isinstance(name, str):
            raise self._unknown(name, value, sysctl)
        if name in self._by_name:
            return self._by_name[name]
        for k in self.knobs:
            if k.sysctl == name:
                return k
        removed = REMOVED_KNOBS.get(self.name, {})
        short = name.rsplit(".", 1)[-1]
        if short in removed:
            raise RemovedKnobError(short, removed[short], self.name)
        raise self._unknown(name, value, sysctl)

    def _unknown(self, name: Any, value: Any, sysctl: bool) -> KnobError:
        """The error for a name that is no knob: the value as given (if any), and the names allowed."""
        if sysctl:
            names = [k.sysctl for k in self.knobs if k.sysctl]
            what = "sysctls"
        else:
            names = list(self._by_name)
            what = "knobs"
        allowed = f"a knob of the {self.name} profile; its {what}: " + ", ".join(names)
        err = KnobError(str(name), value, allowed, self.name)
        shown = f"{name!r} = {value!r}" if value is not None else repr(name)
        err.args = (f"{shown} is not a knob of the {self.name} profile; its {what}: " + ", ".join(names),)
        return err

    def set(self, **changes: Any) -> Profile:
        """A new profile with some knobs changed (validated).

        >>> get_profile("linux").set(tcp_syn_retry=3)
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.KnobError: 'tcp_syn_retry' = 3 is not a knob of the linux profile; its knobs: ...
        """
        values = dict(self._values)
        for key, value in changes.items():
            knob = self.knob(key, value=value)
            values[knob.name] = knob.check(value, self.name)
        return Profile(self.name, values)

    def set_sysctl(self, sysctl: str, value: str) -> Profile:
        """Apply ``sysctl -w sysctl=value`` (value as text; multi-value sysctls handled).

        >>> get_profile("linux").set_sysctl("net.ipv4.tcp_rmem", "4096 540000 15728640")["tcp_rmem_max"]
        15728640
        >>> get_profile("linux").set_sysctl("net.ipv4.ip_local_port_range", "1024 65000").params.port_low
        1024
        >>> get_profile("linux").set_sysctl("net.ipv4.tcp_fin_timout", "5")
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.KnobError: 'net.ipv4.tcp_fin_timout' = '5' is not a knob of the linux profile; its ...
        """
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise KnobError(str(sysctl), value, "a value written as text, as for sysctl -w", self.name)
        if sysctl == "net.ipv4.tcp_rmem":
            parts = value.strip().strip('"').split()
            if len(parts) != 3:
                raise KnobError("tcp_rmem", value, "three integers: min default max", self.name)
            return self.set(tcp_rmem_max=parts[2])
        if sysctl == "net.ipv4.ip_local_port_range":
            parts = value.strip().strip('"').split()
            if len(parts) != 2:
                raise KnobError("ip_local_port_range", value, "two integers: low high", self.name)
            return self.set(ip_local_port_low=parts[0], ip_local_port_high=parts[1])
        knob = self.knob(sysctl, value=value, sysctl=True)
        return self.set(**{knob.name: value})

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str):
            raise KeyError(key)
        return self._values[self.knob(key).name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._values.items() if v != self._by_name[k].default}
        return f"Profile({self.name!r}, {changed!r})" if changed else f"Profile({self.name!r})"

    def table(self) -> list[dict[str, Any]]:
        """Knobs as rows (for a notebook table or a knob panel)."""
        return [
            {
                "knob": k.name,
                "sysctl": k.sysctl or "(constant)",
                "value": self._values[k.name],
                "default": k.default,
                "unit": k.unit,
                "allowed": k.allowed(),
                "meaning": k.help,
                "meaning_zh": k.help_zh,
            }
            for k in self.knobs
        ]


def get_profile(name: str | Profile = "linux", **changes: Any) -> Profile:
    """A profile by name, optionally with knobs changed.

    >>> get_profile("freebsd", insecure_rst=1).params.rst_exact_match
    False
    >>> get_profile("windows")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.KnobError: profile = 'windows' is not allowed: expected one of linux, freebsd, rfc9293
    """
    if isinstance(name, Profile):
        return name.set(**changes) if changes else name
    return Profile(name, changes)
