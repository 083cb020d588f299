"""The 11 TCP states and the transition table: the one place they are defined.

Everything that affects which state follows which lives in this module as
data.  The engine (:mod:`tcpkit.engine.connection`) asks :func:`lookup` before every
state change and refuses one that is not a row here; the state graph
(:mod:`tcpkit.viz.graph`), the glossary and the docs are generated from the
same rows, so the picture and the code cannot disagree.

Examples
--------
>>> State.FIN_WAIT_1.zh
'终止等待1'
>>> t = lookup(State.FIN_WAIT_2, Event.RCV_FIN)
>>> t.dst, t.send, t.rfc
(<State.TIME_WAIT: 'TIME_WAIT'>, 'ACK', 'RFC 9293 §3.10.7.4 (eighth, FIN-WAIT-2)')
>>> len(STATES)
11
>>> sum(1 for t in TRANSITIONS if t.event is Event.RCV_RST) >= 9
True

Notes
-----
RFC 9293 Figure 5 is "only a summary" (its own words).  This table adds the
edges the figure leaves out: every RST edge (§3.5.3,
§3.10.7.4 second check), SYN_RECEIVED -> LISTEN when the connection came from
a passive open (§3.10.7.4), the timeouts (§3.8.3, §3.10.8; the 2MSL timer of
§3.6), keepalive (§3.8.4) and the RFC 5961 / RFC 1337 variants.

A FIN that also acknowledges our FIN takes two rows, FIN_WAIT_1 -> FIN_WAIT_2
(fifth check: "if the FIN segment is now acknowledged, then enter FIN-WAIT-2
and continue processing in that state") and FIN_WAIT_2 -> TIME_WAIT (eighth
check), exactly as Linux (``tcp_rcv_state_process()`` then ``tcp_fin()``) and
FreeBSD (``tcp_do_segment()``) report it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import IllegalTransition, ParameterError

__all__ = [
    "State",
    "Event",
    "Transition",
    "TRANSITIONS",
    "STATES",
    "SYNCHRONIZED",
    "lookup",
    "transitions_from",
    "glossary",
    "ACCEPT_OVERFLOW",
    "UNREAD_DATA",
    "DATA_AFTER_CLOSE",
    "TW_OVERFLOW",
]

#: Row conditions used by the engine (the strings appear in STATE trace records).
ACCEPT_OVERFLOW = "accept queue full, tcp_abort_on_overflow"
UNREAD_DATA = "unread data"
DATA_AFTER_CLOSE = "data after close"
TW_OVERFLOW = "tcp_max_tw_buckets full"


class State(enum.Enum):
    """The 11 connection states of RFC 9293 section 3.3.2."""

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"

    @property
    def zh(self) -> str:
        """The Simplified Chinese name."""
        return _INFO[self][0]

    @property
    def description(self) -> str:
        """One sentence in English: what the connection is doing."""
        return _INFO[self][1]

    @property
    def description_zh(self) -> str:
        """One sentence in Simplified Chinese."""
        return _INFO[self][2]

    @property
    def linux_code(self) -> int:
        """The ``TCP_*`` number Linux uses (``include/net/tcp_states.h``, ``/proc/net/tcp``)."""
        return _LINUX_CODE[self]

    @property
    def rfc_name(self) -> str:
        """The spelling RFC 9293 uses, e.g. ``SYN-RECEIVED``."""
        return self.value.replace("_", "-")

    @classmethod
    def from_linux_code(cls, code: int) -> State:
        """Map a Linux ``TCP_*`` number to a state (12, NEW_SYN_RECV, is SYN_RECEIVED).

        >>> State.from_linux_code(6)
        <State.TIME_WAIT: 'TIME_WAIT'>
        """
        if code == 12:
            return cls.SYN_RECEIVED
        for state, c in _LINUX_CODE.items():
            if c == code:
                return state
        raise ValueError(f"unknown Linux TCP state number {code} (allowed: 1 to 12)")

    @classmethod
    def parse(cls, value: State | str, what: str = "state") -> State:
        """A state from itself or its name in any common spelling.

        Accepts ``TIME_WAIT``, ``time-wait``, ``TIME-WAIT``, ``Time Wait`` and the
        Linux / BSD short forms ``SYN_RECV``, ``SYN_RCVD``, ``FIN_WAIT1``, ``FIN_WAIT2``.

        Raises
        ------
        ParameterError
            Naming ``what`` and the eleven states.

        >>> State.parse("syn-recv"), State.parse(State.LISTEN)
        (<State.SYN_RECEIVED: 'SYN_RECEIVED'>, <State.LISTEN: 'LISTEN'>)
        >>> State.parse("NOT_A_STATE", "current")
        Traceback (most recent call last):
        ...
        tcpkit.engine.errors.ParameterError: parameter current = 'NOT_A_STATE' is not allowed: expected one of ...
        """
        if isinstance(value, State):
            return value
        if isinstance(value, str):
            key = value.strip().upper().replace("-", "_").replace(" ", "_")
            key = _STATE_ALIASES.get(key, key)
            try:
                return cls(key)
            except ValueError:
                pass
        raise ParameterError(what, value, "one of the 11 states: " + ", ".join(s.value for s in cls))


_STATE_ALIASES = {
    "SYN_RECV": "SYN_RECEIVED",
    "SYN_RCVD": "SYN_RECEIVED",
    "FIN_WAIT1": "FIN_WAIT_1",
    "FIN_WAIT2": "FIN_WAIT_2",
}

_INFO: dict[State, tuple[str, str, str]] = {
    State.CLOSED: (
        "关闭",
        "No connection exists (the fictional state before and after).",
        "不存在连接（连接开始之前与结束之后）。",
    ),
    State.LISTEN: ("监听", "Waiting for a SYN from any remote TCP.", "等待任意远端 TCP 发来的 SYN。"),
    State.SYN_SENT: ("同步已发送", "Sent a SYN, waiting for a matching SYN-ACK.", "已发送 SYN，等待对应的 SYN-ACK。"),
    State.SYN_RECEIVED: (
        "同步已接收",
        "Received a SYN and sent a SYN-ACK, waiting for the ACK of our SYN.",
        "已收到 SYN 并发送 SYN-ACK，等待对方确认我方的 SYN。",
    ),
    State.ESTABLISHED: ("已建立连接", "Open: data flows both ways.", "连接已打开：数据可以双向传输。"),
    State.FIN_WAIT_1: (
        "终止等待1",
        "We closed and sent a FIN; waiting for its ACK or the peer's FIN.",
        "我方已关闭并发送 FIN，等待其确认或对方的 FIN。",
    ),
    State.FIN_WAIT_2: (
        "终止等待2",
        "Our FIN is acknowledged; waiting for the peer's FIN (the peer may still send data).",
        "我方 FIN 已被确认，等待对方的 FIN（对方仍可发送数据）。",
    ),
    State.CLOSE_WAIT: (
        "关闭等待",
        "The peer sent a FIN; waiting for our application to close.",
        "对方已发送 FIN，等待本方应用程序调用 close。",
    ),
    State.CLOSING: (
        "同时关闭",
        "Both sides sent FINs at once; waiting for the ACK of ours.",
        "双方同时发送了 FIN，等待对方确认我方的 FIN。",
    ),
    State.LAST_ACK: (
        "最后确认",
        "We sent our FIN after the peer's; waiting for its ACK.",
        "在对方之后发送了 FIN，等待最后的确认。",
    ),
    State.TIME_WAIT: (
        "时间等待",
        "Both FINs are acknowledged; waiting 2MSL so the last ACK can be resent and old duplicates die out.",
        "双方 FIN 都已确认；等待 2MSL，以便重发最后的 ACK 并让旧的重复报文消失。",
    ),
}

_LINUX_CODE: dict[State, int] = {
    State.ESTABLISHED: 1,
    State.SYN_SENT: 2,
    State.SYN_RECEIVED: 3,
    State.FIN_WAIT_1: 4,
    State.FIN_WAIT_2: 5,
    State.TIME_WAIT: 6,
    State.CLOSED: 7,
    State.CLOSE_WAIT: 8,
    State.LAST_ACK: 9,
    State.LISTEN: 10,
    State.CLOSING: 11,
}

STATES: tuple[State, ...] = tuple(State)

#: States in which both sides' sequence numbers are known (RFC 9293 §3.5.2 group 3).
SYNCHRONIZED: frozenset[State] = frozenset(
    {
        State.ESTABLISHED,
        State.FIN_WAIT_1,
        State.FIN_WAIT_2,
        State.CLOSE_WAIT,
        State.CLOSING,
        State.LAST_ACK,
        State.TIME_WAIT,
    }
)


class Event(enum.Enum):
    """What can move a connection from one state to another."""

    # user calls (RFC 9293 §3.10.1-3.10.5)
    PASSIVE_OPEN = "listen"
    ACTIVE_OPEN = "connect"
    CLOSE = "close"
    ABORT = "abort"
    # segments (RFC 9293 §3.10.7)
    RCV_SYN = "rcv SYN"
    RCV_SYN_ACK = "rcv SYN+ACK"
    RCV_ACK = "rcv ACK of SYN"
    RCV_FIN = "rcv FIN"
    RCV_ACK_OF_FIN = "rcv ACK of FIN"
    RCV_RST = "rcv RST"
    RCV_DATA = "rcv data"
    # timers (RFC 9293 §3.8, §3.10.8)
    TIMEOUT_2MSL = "2MSL timeout"
    TIMEOUT_FIN_WAIT_2 = "FIN_WAIT_2 timeout"
    TIMEOUT_RETRIES = "retransmissions exhausted"
    TIMEOUT_KEEPALIVE = "keepalive probes unanswered"
    TIMEOUT_USER = "user timeout"

    @property
    def zh(self) -> str:
        return _EVENT_ZH[self]


_EVENT_ZH = {
    Event.PASSIVE_OPEN: "被动打开（listen）",
    Event.ACTIVE_OPEN: "主动打开（connect）",
    Event.CLOSE: "关闭（close）",
    Event.ABORT: "中止（abort）",
    Event.RCV_SYN: "收到 SYN",
    Event.RCV_SYN_ACK: "收到 SYN+ACK",
    Event.RCV_ACK: "收到对 SYN 的 ACK",
    Event.RCV_FIN: "收到 FIN",
    Event.RCV_ACK_OF_FIN: "收到对 FIN 的 ACK",
    Event.RCV_RST: "收到 RST",
    Event.RCV_DATA: "收到数据",
    Event.TIMEOUT_2MSL: "2MSL 超时",
    Event.TIMEOUT_FIN_WAIT_2: "FIN_WAIT_2 超时",
    Event.TIMEOUT_RETRIES: "重传次数用尽",
    Event.TIMEOUT_KEEPALIVE: "保活探测无应答",
    Event.TIMEOUT_USER: "用户超时",
}


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table.

    Attributes
    ----------
    src, event, dst : the edge.
    condition : str
        Distinguishes rows with the same ``(src, event)``; ``""`` for the usual case.
    send : str
        What is sent on the way ("SYN", "SYN-ACK", "ACK", "FIN", "RST", or "").
    rfc : str
        Where the behaviour is specified.
    group : str
        For drawing: ``client``, ``server``, ``active_close``, ``passive_close``,
        ``simultaneous``, ``rst``, ``timeout``, ``abort``.
    note : str
        One line of explanation.
    """

    src: State
    event: Event
    dst: State
    send: str
    rfc: str
    group: str
    condition: str = ""
    note: str = ""

    @property
    def key(self) -> tuple[State, Event, str]:
        return (self.src, self.event, self.condition)

    @property
    def label(self) -> str:
        """``"event / action"`` as on the classic state diagram."""
        ev = self.event.value + (f" [{self.condition}]" if self.condition else "")
        return f"{ev} / {self.send or '-'}"


S = State
E = Event
_R = "RFC 9293 "


def _t(
    src: State, event: Event, dst: State, send: str, rfc: str, group: str, condition: str = "", note: str = ""
) -> Transition:
    return Transition(src, event, dst, send, rfc, group, condition, note)


_SYNC_RST_STATES = (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK)

TRANSITIONS: tuple[Transition, ...] = (
    # ---- opening
    _t(
        S.CLOSED,
        E.PASSIVE_OPEN,
        S.LISTEN,
        "",
        _R + "§3.10.1 (OPEN, passive)",
        "server",
        note="create the TCB and wait for a SYN",
    ),
    _t(
        S.CLOSED,
        E.ACTIVE_OPEN,
        S.SYN_SENT,
        "SYN",
        _R + "§3.10.1 (OPEN, active)",
        "client",
        note="choose an ISN and send SYN",
    ),
    _t(
        S.LISTEN,
        E.RCV_SYN,
        S.SYN_RECEIVED,
        "SYN-ACK",
        _R + "§3.10.7.2 (LISTEN, third: SYN)",
        "server",
        note="remember the peer's ISN, answer with our own",
    ),
    _t(
        S.LISTEN,
        E.CLOSE,
        S.CLOSED,
        "",
        _R + "§3.10.4 (CLOSE in LISTEN)",
        "server",
        note="stop listening; queued SYNs are forgotten",
    ),
    _t(
        S.SYN_SENT,
        E.RCV_SYN_ACK,
        S.ESTABLISHED,
        "ACK",
        _R + "§3.10.7.3 (SYN-SENT, fourth: SYN with acceptable ACK)",
        "client",
        note="both ISNs known: the handshake is done on this side",
    ),
    _t(
        S.SYN_SENT,
        E.RCV_SYN,
        S.SYN_RECEIVED,
        "SYN-ACK",
        _R + "§3.5 Figure 7; §3.10.7.3 (SYN without ACK)",
        "simultaneous",
        note="simultaneous open: resend our SYN with an ACK",
    ),
    _t(
        S.SYN_SENT,
        E.CLOSE,
        S.CLOSED,
        "",
        _R + "§3.10.4 (CLOSE in SYN-SENT)",
        "client",
        note="give up before the peer answered",
    ),
    _t(
        S.SYN_RECEIVED,
        E.RCV_ACK,
        S.ESTABLISHED,
        "",
        _R + "§3.10.7.4 (fifth: ACK in SYN-RECEIVED)",
        "server",
        note="our SYN is acknowledged",
    ),
    _t(
        S.SYN_RECEIVED,
        E.RCV_ACK,
        S.CLOSED,
        "RST",
        "Linux net/ipv4/tcp_minisocks.c tcp_check_req() (listen_overflow, embryonic_reset); ip-sysctl.rst "
        "tcp_abort_on_overflow",
        "abort",
        condition=ACCEPT_OVERFLOW,
        note="the handshake's ACK finds the accept queue full: one RST answers it and the request is dropped",
    ),
    _t(
        S.SYN_RECEIVED,
        E.CLOSE,
        S.FIN_WAIT_1,
        "FIN",
        _R + "§3.10.4 (CLOSE in SYN-RECEIVED)",
        "active_close",
        note="close before the handshake finished",
    ),
    # ---- active close
    _t(
        S.ESTABLISHED,
        E.CLOSE,
        S.FIN_WAIT_1,
        "FIN",
        _R + "§3.6 case 1; §3.10.4",
        "active_close",
        note="our application closed first",
    ),
    _t(
        S.ESTABLISHED,
        E.CLOSE,
        S.CLOSED,
        "RST",
        "RFC 2525 §2.17; Linux net/ipv4/tcp.c __tcp_close()",
        "abort",
        condition=UNREAD_DATA,
        note="closing with unread received data resets the connection",
    ),
    _t(
        S.CLOSE_WAIT,
        E.CLOSE,
        S.CLOSED,
        "RST",
        "RFC 2525 §2.17; Linux net/ipv4/tcp.c __tcp_close()",
        "abort",
        condition=UNREAD_DATA,
        note="closing with unread received data resets the connection",
    ),
    *(
        _t(
            st,
            E.CLOSE,
            S.CLOSED,
            "RST",
            "RFC 1122 §4.2.2.13; RFC 2525 §2.17; Linux net/ipv4/tcp.c __tcp_close()",
            "abort",
            condition=UNREAD_DATA,
            note="after shutdown(SHUT_WR), close() with unread received data still resets (Linux)",
        )
        for st in (S.FIN_WAIT_1, S.FIN_WAIT_2)
    ),
    *(
        _t(
            st,
            E.RCV_DATA,
            S.CLOSED,
            "RST",
            "RFC 1122 §4.2.2.13; Linux net/ipv4/tcp_input.c tcp_rcv_state_process() (TCPAbortOnData); FreeBSD "
            "sys/netinet/tcp_input.c (tcps_rcvafterclose)",
            "abort",
            condition=DATA_AFTER_CLOSE,
            note="new data for a socket the application has closed: nobody can read it, so reset",
        )
        for st in (S.FIN_WAIT_1, S.FIN_WAIT_2)
    ),
    _t(
        S.FIN_WAIT_1,
        E.RCV_ACK_OF_FIN,
        S.FIN_WAIT_2,
        "",
        _R + "§3.10.7.4 (fifth: ACK in FIN-WAIT-1)",
        "active_close",
        note="our FIN is acknowledged; the peer may still send (a FIN on the same segment then moves on to TIME_WAIT)",
    ),
    _t(
        S.FIN_WAIT_1,
        E.RCV_FIN,
        S.CLOSING,
        "ACK",
        _R + "§3.10.7.4 (eighth, FIN-WAIT-1); §3.6 case 3",
        "simultaneous",
        note="simultaneous close: the peer's FIN crossed ours",
    ),
    _t(
        S.FIN_WAIT_2,
        E.RCV_FIN,
        S.TIME_WAIT,
        "ACK",
        _R + "§3.10.7.4 (eighth, FIN-WAIT-2)",
        "active_close",
        note="the peer finished too; start the 2MSL timer",
    ),
    _t(
        S.CLOSING,
        E.RCV_ACK_OF_FIN,
        S.TIME_WAIT,
        "",
        _R + "§3.10.7.4 (fifth: ACK in CLOSING)",
        "simultaneous",
        note="both FINs acknowledged",
    ),
    *(
        _t(
            st,
            ev,
            S.CLOSED,
            send,
            "Linux net/ipv4/tcp_minisocks.c tcp_time_wait(), inet_timewait_sock.c inet_twsk_alloc(); ip-sysctl.rst "
            "tcp_max_tw_buckets",
            "timeout",
            condition=TW_OVERFLOW,
            note="the host already holds tcp_max_tw_buckets TIME_WAIT sockets: this one closes at once "
            "(TCPTimeWaitOverflow)",
        )
        for st, ev, send in ((S.FIN_WAIT_2, E.RCV_FIN, "ACK"), (S.CLOSING, E.RCV_ACK_OF_FIN, ""))
    ),
    _t(
        S.TIME_WAIT,
        E.RCV_FIN,
        S.TIME_WAIT,
        "ACK",
        _R + "§3.10.7.4 (eighth, TIME-WAIT)",
        "active_close",
        note="the peer resent its FIN (our last ACK was lost): ACK again and restart 2MSL",
    ),
    _t(
        S.TIME_WAIT,
        E.TIMEOUT_2MSL,
        S.CLOSED,
        "",
        _R + "§3.6 (closing cases 1-3); §3.10.8 (time-wait timeout)",
        "timeout",
        note="2MSL has passed: old duplicates are gone",
    ),
    _t(
        S.FIN_WAIT_2,
        E.TIMEOUT_FIN_WAIT_2,
        S.CLOSED,
        "",
        "Linux net/ipv4/tcp_timer.c (tcp_fin_timeout); Documentation/networking/ip-sysctl.rst",
        "timeout",
        condition="orphaned",
        note="the application already closed and the peer never sent its FIN",
    ),
    # ---- passive close
    _t(
        S.ESTABLISHED,
        E.RCV_FIN,
        S.CLOSE_WAIT,
        "ACK",
        _R + "§3.10.7.4 (eighth, ESTABLISHED); §3.6 case 2",
        "passive_close",
        note="the peer closed first; we may keep sending",
    ),
    _t(
        S.CLOSE_WAIT,
        E.CLOSE,
        S.LAST_ACK,
        "FIN",
        _R + "§3.10.4 (CLOSE in CLOSE-WAIT)",
        "passive_close",
        note="our application closed too",
    ),
    _t(
        S.LAST_ACK,
        E.RCV_ACK_OF_FIN,
        S.CLOSED,
        "",
        _R + "§3.10.7.4 (fifth: ACK in LAST-ACK)",
        "passive_close",
        note="our FIN is acknowledged: delete the TCB",
    ),
    _t(
        S.SYN_RECEIVED,
        E.RCV_FIN,
        S.CLOSE_WAIT,
        "ACK",
        _R + "§3.10.7.4 (eighth, SYN-RECEIVED)",
        "passive_close",
        note="the FIN arrived with the handshake's ACK",
    ),
    # ---- RST edges (RFC 9293 §3.5.3, §3.10.7.3, §3.10.7.4 second check)
    _t(
        S.SYN_SENT,
        E.RCV_RST,
        S.CLOSED,
        "",
        _R + "§3.10.7.3 (second: RST with acceptable ACK)",
        "rst",
        note="connection refused (ECONNREFUSED)",
    ),
    _t(
        S.SYN_RECEIVED,
        E.RCV_RST,
        S.LISTEN,
        "",
        _R + "§3.10.7.4 (second, SYN-RECEIVED, passive open)",
        "rst",
        condition="passive open",
        note="back to listening; the application never saw it",
    ),
    _t(
        S.SYN_RECEIVED,
        E.RCV_RST,
        S.CLOSED,
        "",
        _R + "§3.10.7.4 (second, SYN-RECEIVED, active open)",
        "rst",
        condition="active open",
        note="simultaneous open refused (ECONNREFUSED)",
    ),
    *(
        _t(
            st,
            E.RCV_RST,
            S.CLOSED,
            "",
            _R + f"§3.10.7.4 (second, {st.value.replace('_', '-')}); RFC 5961 §3",
            "rst",
            note="reset by the peer (ECONNRESET)",
        )
        for st in _SYNC_RST_STATES
    ),
    _t(
        S.TIME_WAIT,
        E.RCV_RST,
        S.CLOSED,
        "",
        "RFC 1337 (TIME-WAIT assassination); RFC 9293 §3.10.7.4 (second, TIME-WAIT)",
        "rst",
        condition="rfc1337 off",
        note="an RST kills the TIME_WAIT socket early (Linux tcp_rfc1337 = 0)",
    ),
    # ---- SYN in a synchronized state, classic behaviour (RFC 5961 answers with a challenge ACK instead)
    *(
        _t(
            st,
            E.RCV_SYN,
            S.CLOSED,
            "RST",
            "RFC 793 §3.9 (SYN in window); RFC 9293 §3.10.7.4 (fourth) without RFC 5961 §4",
            "rst",
            condition="RFC 793 SYN handling",
            note="a SYN inside the window resets the connection",
        )
        for st in (*_SYNC_RST_STATES, S.TIME_WAIT)
    ),
    _t(
        S.TIME_WAIT,
        E.RCV_SYN,
        S.CLOSED,
        "",
        "RFC 9293 §3.10.7.4 note; RFC 6191; Linux net/ipv4/tcp_minisocks.c tcp_timewait_state_process()",
        "server",
        condition="new incarnation",
        note="a SYN with a higher sequence number (or newer timestamp) reopens the 4-tuple",
    ),
    # ---- aborts (RFC 9293 §3.10.5)
    *(
        _t(
            st,
            E.ABORT,
            S.CLOSED,
            "RST",
            _R + "§3.10.5 (ABORT)",
            "abort",
            note="send RST, flush queues (SO_LINGER with 0)",
        )
        for st in (S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT)
    ),
    *(
        _t(st, E.ABORT, S.CLOSED, "", _R + "§3.10.5 (ABORT)", "abort", note="delete the TCB without sending anything")
        for st in (S.LISTEN, S.SYN_SENT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT)
    ),
    # ---- timeouts (RFC 9293 §3.8.3 R2, §3.8.4, §3.10.8)
    *(
        _t(
            st,
            E.TIMEOUT_RETRIES,
            S.CLOSED,
            "",
            _R + "§3.8.3 (R2 threshold)",
            "timeout",
            note="no answer after the last retransmission (ETIMEDOUT)",
        )
        for st in (S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK)
    ),
    *(
        _t(
            st,
            E.TIMEOUT_KEEPALIVE,
            S.CLOSED,
            "RST",
            _R + "§3.8.4; Linux net/ipv4/tcp_timer.c tcp_keepalive_timer()",
            "timeout",
            note="the idle peer never answered the probes (ETIMEDOUT)",
        )
        for st in (S.ESTABLISHED, S.CLOSE_WAIT)
    ),
    *(
        _t(
            st,
            E.TIMEOUT_USER,
            S.CLOSED,
            "",
            _R + "§3.10.8 (USER TIMEOUT); RFC 5482",
            "timeout",
            note="data stayed unacknowledged longer than the user timeout",
        )
        for st in (S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK)
    ),
)

_INDEX: dict[tuple[State, Event, str], Transition] = {}
for _row in TRANSITIONS:
    if _row.key in _INDEX:  # pragma: no cover - guards the table itself
        raise AssertionError(f"duplicate transition row {_row.key}")
    _INDEX[_row.key] = _row


def lookup(src: State, event: Event, condition: str = "") -> Transition:
    """The row for ``(src, event, condition)``.

    Raises
    ------
    IllegalTransition
        If the table has no such row; the message lists what ``src`` allows.

    >>> lookup(State.LISTEN, Event.RCV_SYN).dst
    <State.SYN_RECEIVED: 'SYN_RECEIVED'>
    >>> lookup(State.LISTEN, Event.RCV_FIN)
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.IllegalTransition: no transition from LISTEN on 'rcv FIN'; LISTEN allows: ...
    """
    row = _INDEX.get((src, event, condition))
    if row is None:
        allowed = ", ".join(
            repr(t.event.value) + (f" [{t.condition}]" if t.condition else "") for t in transitions_from(src)
        )
        cond = f" [{condition}]" if condition else ""
        raise IllegalTransition(
            f"no transition from {src.value} on {event.value!r}{cond}; {src.value} allows: {allowed}"
        )
    return row


def transitions_from(src: State) -> tuple[Transition, ...]:
    """Every row leaving ``src``.

    >>> sorted({t.dst.value for t in transitions_from(State.FIN_WAIT_1)})
    ['CLOSED', 'CLOSING', 'FIN_WAIT_2']
    """
    return tuple(t for t in TRANSITIONS if t.src is src)


def glossary() -> list[dict[str, str]]:
    """The states as rows for a glossary table (English and Chinese).

    >>> glossary()[10]["zh"]
    '时间等待'
    """
    return [{"state": s.value, "zh": s.zh, "meaning": s.description, "meaning_zh": s.description_zh} for s in STATES]
