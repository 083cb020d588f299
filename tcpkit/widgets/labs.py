"""The course's labs, one per notebook section: each a :class:`~tcpkit.widgets.lab.Lab`.

==========================  ============  ==========================================================
lab                         notebook      what moves
==========================  ============  ==========================================================
:class:`ExitsLab`           00            a state; its ways out drawn on the state graph
:class:`SynRetryLab`        01            ``tcp_syn_retries``, ``tcp_syn_linear_timeouts``
:class:`IsnAttackLab`       02            ISN generator, how long the attacker waits
:class:`~tcpkit.widgets.flood_lab.FloodLab`  03   flood rate, backlog, SYN-ACK retries, cookies
:class:`SlowCloseLab`       04            when the server closes, ``tcp_fin_timeout``
:class:`PortCeilingLab`     05            port range and TIME_WAIT length (a knob panel)
:class:`PortExhaustionLab`  05            ports, connect rate, TIME_WAIT, ``tcp_tw_reuse``
:class:`KernelLab`          06            a real-kernel scenario, kernel and model side by side
==========================  ============  ==========================================================

Examples
--------
>>> lab = SynRetryLab()
>>> lab.sentence_text
'connect() sends the SYN at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s and gives up at 131 s (ETIMEDOUT).'
>>> lab.set(tcp_syn_linear_timeouts=0)
True
>>> lab.sentence_text
'connect() sends the SYN at 0, 1, 3, 7, 15, 31, 63 s and gives up at 127 s (ETIMEDOUT).'
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.isn import KINDS as ISN_KINDS
from tcpkit.engine.isn import make_isn, predict_next_clock_isn
from tcpkit.engine.profiles import Profile, get_profile
from tcpkit.engine.seqnum import MASK
from tcpkit.engine.states import STATES, Event, State, transitions_from
from tcpkit.engine.timers import syn_give_up_time, syn_retransmit_times
from tcpkit.engine.trace import CallMade, StateChanged, Trace
from tcpkit.i18n import get_language, register
from tcpkit.viz.graph import state_graph_spec
from tcpkit.viz.labels import condition_text, event_text, state_name, tr
from tcpkit.viz.timeline import STATE_COLORS, state_gantt_figure

from ._base import figure_spec
from .knobs import KnobPanel
from .lab import Control, Lab, View

__all__ = [
    "ExitsLab",
    "SynRetryLab",
    "IsnAttackLab",
    "SlowCloseLab",
    "PortCeilingLab",
    "PortExhaustionLab",
    "KernelLab",
]

register(
    {
        # 00
        "w.exits.title": ("Lab: the ways out of a state", "实验：离开一个状态的所有途径"),
        "w.exits.state": ("state", "状态"),
        "w.exits.state_help": (
            "Pick a state: the diagram draws every row of the transition table that leaves it.",
            "选择一个状态：图中画出状态转移表里离开它的每一行。",
        ),
        "w.exits.sentence": (
            "{state} has {n} ways out: {calls} on a call, {segments} on a segment, {timers} on a timer.",
            "{state} 共有 {n} 条出路：{calls} 条由调用触发，{segments} 条由报文段触发，{timers} 条由定时器触发。",
        ),
        "w.exits.event": ("event", "事件"),
        "w.exits.condition": ("condition", "条件"),
        "w.exits.send": ("sends", "发送"),
        "w.exits.to": ("to", "到达"),
        "w.exits.rule": ("rule", "依据"),
        # 01
        "w.syn.title": ("Lab: when the SYN is lost", "实验：SYN 丢失时"),
        "w.syn.sentence": (
            "connect() sends the SYN at {times} s and gives up at {giveup:g} s (ETIMEDOUT).",
            "connect() 在 {times} 秒发送 SYN，并在 {giveup:g} 秒放弃（ETIMEDOUT）。",
        ),
        "w.syn.yours": ("your setting", "当前设置"),
        "w.syn.default": ("Linux default (6, 4)", "Linux 默认值（6, 4）"),
        "w.syn.sent": ("SYN sent", "发送 SYN"),
        "w.syn.giveup": ("connect() fails", "connect() 失败"),
        "w.syn.axis": ("seconds after connect()", "connect() 之后的秒数"),
        "w.syn.plot": ("SYN (re)transmissions and the give-up time", "SYN 的（重）传时刻与放弃时刻"),
        # 02
        "w.isn.title": ("Lab: how far off is the attacker?", "实验：攻击者差多远？"),
        "w.isn.kind": ("ISN generator", "ISN 生成器"),
        "w.isn.kind_help": (
            "How the server picks its initial sequence numbers (tcpkit.engine.isn.make_isn).",
            "服务器选择初始序列号的方法（tcpkit.engine.isn.make_isn）。",
        ),
        "w.isn.wait": ("wait (observe → spoof)", "等待时间（观察 → 伪造）"),
        "w.isn.wait_help": (
            "Seconds between the attacker's own connection (where it reads an ISN) and its spoofed SYN.",
            "攻击者自己的连接（从中读到 ISN）与它伪造的 SYN 之间相隔的秒数。",
        ),
        "w.isn.plot": ("How far the attacker's guess misses, against the wait", "攻击者猜测的偏差随等待时间的变化"),
        "w.isn.axis_wait": ("wait (s)", "等待时间（秒）"),
        "w.isn.axis_miss": ("miss (sequence numbers, log scale)", "偏差（序列号，对数刻度）"),
        "w.isn.exact": ("exact guess", "猜中"),
        "w.isn.random": ("a random guess, on average", "随机猜测的平均偏差"),
        "w.isn.now": ("your wait", "当前等待时间"),
        "w.isn.sentence": (
            "{kind}: after waiting {wait:g} s the guess misses by {miss:,} sequence numbers: {verdict}.",
            "{kind}：等待 {wait:g} 秒后，猜测偏差 {miss:,} 个序列号：{verdict}。",
        ),
        "w.isn.accepted": (
            "the forged third segment carries the right ACK and is accepted",
            "伪造的第三个报文段带着正确的 ACK，会被接受",
        ),
        "w.isn.rejected": ("the forged ACK is refused", "伪造的 ACK 会被拒绝"),
        # 04
        "w.close.title": ("Lab: tcp_fin_timeout and a slow application", "实验：tcp_fin_timeout 与迟缓的应用程序"),
        "w.close.at": ("server's close() at", "服务器调用 close() 的时刻"),
        "w.close.at_help": (
            "When the server's application calls close(); the client closed at t = 1 s.",
            "服务器应用程序调用 close() 的时刻；客户端在 t = 1 秒时已关闭。",
        ),
        "w.close.sentence": (
            "client: {cpath}; server: {spath}.",
            "客户端：{cpath}；服务器：{spath}。",
        ),
        "w.close.rst": (
            " (its late FIN met a socket that was gone and got an RST)",
            "（它迟到的 FIN 遇到已消失的套接字，收到 RST）",
        ),
        # 05
        "w.ceiling.title": (
            "Lab: how many new connections per second one client can open to one server port",
            "实验：一个客户端每秒最多能向同一服务器端口发起多少个新连接",
        ),
        "w.ceiling.plot": ("The ceiling against the TIME_WAIT length", "上限随 TIME_WAIT 时长的变化"),
        "w.ceiling.axis_tw": ("TIME_WAIT length (s)", "TIME_WAIT 时长（秒）"),
        "w.ceiling.axis_rate": ("new connections per second (log scale)", "每秒新连接数（对数刻度）"),
        "w.ceiling.yours": ("your port range", "当前端口范围"),
        "w.ceiling.linux": ("Linux default range (28,232 ports)", "Linux 默认端口范围（28,232 个端口）"),
        "w.ceiling.sentence": (
            "{ports:,} ports, TIME_WAIT {tw:g} s → at most {rate} new connections per second to one server port.",
            "{ports:,} 个端口，TIME_WAIT {tw:g} 秒 → 每秒最多向同一服务器端口发起 {rate} 个新连接。",
        ),
        "w.ceiling.nolimit": ("no limit from TIME_WAIT", "不受 TIME_WAIT 限制"),
        "w.exhaust.title": (
            "Lab: port exhaustion in the engine (40 s of connects)",
            "实验：引擎中的端口耗尽（40 秒的连接尝试）",
        ),
        "w.exhaust.ports": ("ephemeral ports", "临时端口数"),
        "w.exhaust.ports_help": ("Size of the client's ephemeral port range.", "客户端临时端口范围的大小。"),
        "w.exhaust.rate": ("connect() rate", "connect() 速率"),
        "w.exhaust.rate_help": (
            "connect() calls per second, each closed at once.",
            "每秒调用 connect() 的次数，每个连接随即关闭。",
        ),
        "w.exhaust.tw": ("time_wait_len", "time_wait_len"),
        "w.exhaust.tw_help": (
            "TIME_WAIT length in seconds (Linux fixes 60 s; a teaching knob).",
            "TIME_WAIT 时长（秒）（Linux 固定为 60 秒；教学用参数）。",
        ),
        "w.exhaust.plot": (
            "Client ports held in TIME_WAIT, and each connect()",
            "客户端处于 TIME_WAIT 的端口数与每次 connect()",
        ),
        "w.exhaust.held": ("ports in TIME_WAIT", "处于 TIME_WAIT 的端口"),
        "w.exhaust.range": ("port range", "端口范围"),
        "w.exhaust.ok": ("connect() ok", "connect() 成功"),
        "w.exhaust.failed": ("connect() failed (EADDRNOTAVAIL)", "connect() 失败（EADDRNOTAVAIL）"),
        "w.exhaust.axis_ports": ("ports", "端口数"),
        "w.exhaust.sentence": (
            "ceiling {ceiling:.1f}/s: {connected} of {attempts} connect() calls succeeded, {failed} failed.",
            "上限 {ceiling:.1f} 次/秒：{attempts} 次 connect() 中 {connected} 次成功，{failed} 次失败。",
        ),
        "w.unit.per_s": ("per second", "次/秒"),
        # 06
        "w.kernel.title": ("Lab: pick a scenario, run it on this kernel", "实验：选择场景，在本机内核上运行"),
        "w.kernel.scenario": ("scenario", "场景"),
        "w.kernel.scenario_help": (
            "A lab scenario of tcpkit.live: real sockets on 127.0.0.1, then the same scenario in the model.",
            "tcpkit.live 的实验场景：先在 127.0.0.1 上用真实套接字运行，再在模型中运行同一场景。",
        ),
        "w.kernel.sentence": (
            "{name}: {verdict} — {where}.",
            "{name}：{verdict} — {where}。",
        ),
        "w.kernel.agree": ("the kernel and the model agree", "内核与模型一致"),
        "w.kernel.differ": ("the kernel and the model differ", "内核与模型不一致"),
        "w.kernel.other": ("verdict: {v}", "结论：{v}"),
        "w.kernel.here": ("real sockets on this machine", "本机上的真实套接字"),
        "w.kernel.recorded": (
            "observations recorded on Linux (no /proc here)",
            "在 Linux 上记录的观测（本机没有 /proc）",
        ),
    }
)


# -- 00: the ways out of a state ------------------------------------------------------------------------

_CALLS = {Event.PASSIVE_OPEN, Event.ACTIVE_OPEN, Event.CLOSE, Event.ABORT}


class ExitsLab(Lab):
    """Pick a state; the state graph draws every row that leaves it, and a small table lists them.

    >>> lab = ExitsLab()
    >>> lab.sentence_text
    'ESTABLISHED has 9 ways out: 3 on a call, 3 on a segment, 3 on a timer.'
    """

    title_key = "w.exits.title"
    css_class = "tcpkit-lab-exits"
    picture_height = 560
    controls = (
        Control(
            "state",
            "w.exits.state",
            "choice",
            "ESTABLISHED",
            options=tuple((s.value, s.value) for s in STATES),
            help="w.exits.state_help",
        ),
    )

    def draw(self, *, state: str, **_: Any) -> View:
        st = State.parse(state, "state")
        rows = transitions_from(st)
        fig = state_graph_spec(focus=st)
        calls = sum(t.event in _CALLS for t in rows)
        timers = sum(t.event.name.startswith("TIMEOUT") for t in rows)
        sentence = tr(
            "w.exits.sentence",
            state=state_name(st),
            n=len(rows),
            calls=calls,
            segments=len(rows) - calls - timers,
            timers=timers,
        )
        head = "".join(
            f"<th style='text-align:left;padding:1px 8px'>{html.escape(tr(k))}</th>"
            for k in ("w.exits.event", "w.exits.condition", "w.exits.send", "w.exits.to", "w.exits.rule")
        )
        body = "".join(
            "<tr>"
            + "".join(
                f"<td style='padding:1px 8px'>{html.escape(str(v))}</td>"
                for v in (
                    event_text(t.event),
                    condition_text(t.condition) if t.condition else "",
                    t.send or "-",
                    state_name(t.dst),
                    t.rfc,
                )
            )
            + "</tr>"
            for t in rows
        )
        return View(fig, sentence, f"<table style='font-size:12px'><tr>{head}</tr>{body}</table>")


# -- 01: SYN retransmissions --------------------------------------------------------------------------


class SynRetryLab(Lab):
    """``tcp_syn_retries`` and ``tcp_syn_linear_timeouts``: when the SYN is resent and when connect() gives up.

    Times come from :func:`tcpkit.engine.timers.syn_retransmit_times` and
    :func:`~tcpkit.engine.timers.syn_give_up_time` on the Linux profile
    (``net/ipv4/tcp_timer.c``: ``tcp_write_timeout()``, ``tcp_retransmit_timer()``).
    """

    title_key = "w.syn.title"
    css_class = "tcpkit-lab-syn"
    picture_height = 300
    controls = (
        Control.knob("tcp_syn_retries", lo=1, hi=10),
        Control.knob("tcp_syn_linear_timeouts", lo=0, hi=6),
    )

    def draw(self, *, tcp_syn_retries: int, tcp_syn_linear_timeouts: int, **_: Any) -> View:
        mine = get_profile("linux", tcp_syn_retries=tcp_syn_retries, tcp_syn_linear_timeouts=tcp_syn_linear_timeouts)
        default = get_profile("linux")
        data: list[dict[str, Any]] = []
        end = 0.0
        for name, prof, colour in ((tr("w.syn.yours"), mine, "#1f77b4"), (tr("w.syn.default"), default, "#999")):
            sends = [0.0, *syn_retransmit_times(prof.params)]
            giveup = syn_give_up_time(prof.params)
            end = max(end, giveup)
            data += [
                {
                    "type": "scatter",
                    "x": sends,
                    "y": [name] * len(sends),
                    "mode": "markers",
                    "marker": {"symbol": "triangle-right", "size": 12, "color": colour},
                    "name": f"{tr('w.syn.sent')} ({name})",
                    "hovertemplate": f"{tr('w.syn.sent')}: %{{x:g}} s<extra>{name}</extra>",
                },
                {
                    "type": "scatter",
                    "x": [0, giveup],
                    "y": [name, name],
                    "mode": "lines",
                    "line": {"color": colour, "width": 1},
                    "showlegend": False,
                    "hoverinfo": "skip",
                },
                {
                    "type": "scatter",
                    "x": [giveup],
                    "y": [name],
                    "mode": "markers+text",
                    "marker": {"symbol": "x", "size": 13, "color": "#d62728"},
                    "text": [f"{giveup:g} s"],
                    "textposition": "top center",
                    "name": f"{tr('w.syn.giveup')} ({name})",
                    "hovertemplate": f"{tr('w.syn.giveup')}: %{{x:g}} s<extra>{name}</extra>",
                },
            ]
        fig = {
            "data": data,
            "layout": {
                "title": {"text": tr("w.syn.plot"), "x": 0.01},
                "height": 280,
                "plot_bgcolor": "white",
                "xaxis": {"title": {"text": tr("w.syn.axis")}, "gridcolor": "#eee", "range": [-3, end * 1.06 + 3]},
                "yaxis": {"range": [1.5, -0.75]},  # two rows, top first, room above for the give-up time
                "margin": {"l": 150, "r": 20, "t": 50, "b": 50},
                "showlegend": False,
            },
        }
        times = [0.0, *syn_retransmit_times(mine.params)]
        sentence = tr("w.syn.sentence", times=", ".join(f"{t:g}" for t in times), giveup=syn_give_up_time(mine.params))
        return View(fig, sentence)


# -- 02: ISN prediction -------------------------------------------------------------------------------------

#: The connection the attacker spoofs and its own honest one (as in notebook 02).
VICTIM = ("10.0.0.2", 80, "198.51.100.7", 513)
ATTACKER = ("10.0.0.2", 80, "203.0.113.9", 40001)
_WAITS = tuple(i * 1.0 for i in range(61))


def attack_miss(kind: str, wait: float, *, seed: int = 7, observed_at: float = 10.0) -> int:
    """How many sequence numbers the attacker's guess is off (the shorter way round the 2³² circle).

    The attacker reads the server's ISN on its own connection at ``observed_at``
    and predicts the victim connection's ISN ``wait`` seconds later as if the
    ISN were the RFC 793 clock (:func:`tcpkit.engine.isn.predict_next_clock_isn`);
    against a fixed ISN it simply guesses the same number again.

    >>> attack_miss("clock", 2.5), attack_miss("fixed", 2.5)
    (0, 0)
    >>> attack_miss("linux", 2.5) > 10**6
    True
    """
    gen = make_isn(kind, seed=seed)
    seen = gen(observed_at, ATTACKER)
    guess = seen if kind == "fixed" else predict_next_clock_isn(seen, observed_at, observed_at + wait)
    miss = (gen(observed_at + wait, VICTIM) - guess) & MASK
    return min(miss, (1 << 32) - miss)


class IsnAttackLab(Lab):
    """An ISN generator and the attacker's wait: how far off the predicted ISN is.

    The picture draws the miss against the wait for every generator (log
    scale; an exact guess sits on the bottom line), the chosen one bold.
    """

    title_key = "w.isn.title"
    css_class = "tcpkit-lab-isn"
    picture_height = 420
    controls = (
        Control(
            "kind",
            "w.isn.kind",
            "choice",
            "clock",
            options=tuple((k, k) for k in ISN_KINDS),
            help="w.isn.kind_help",
        ),
        Control("wait", "w.isn.wait", "float", 2.5, lo=0.0, hi=60.0, step=0.5, unit="w.unit.s", help="w.isn.wait_help"),
    )

    def __init__(self, **start: Any) -> None:
        self._curves = {k: [attack_miss(k, w) for w in _WAITS] for k in ISN_KINDS}
        super().__init__(**start)

    def draw(self, *, kind: str, wait: float, **_: Any) -> View:
        miss = attack_miss(kind, wait)
        floor = 1.0  # where an exact guess is drawn on the log axis
        data: list[dict[str, Any]] = [
            {
                "type": "scatter",
                "x": list(_WAITS),
                "y": [max(float(v), floor) for v in self._curves[k]],
                "customdata": self._curves[k],
                "mode": "lines",
                "name": k,
                "line": {"width": 3.5 if k == kind else 1.2, "color": _ISN_COLOURS.get(k, "#888")},
                "opacity": 1.0 if k == kind else 0.45,
                "hovertemplate": f"{k}: %{{x:g}} s → %{{customdata:,}}<extra></extra>",
            }
            for k in ISN_KINDS
        ]
        data.append(
            {
                "type": "scatter",
                "x": [wait],
                "y": [max(float(miss), floor)],
                "mode": "markers",
                "marker": {"size": 14, "color": _ISN_COLOURS.get(kind, "#333"), "line": {"width": 2, "color": "black"}},
                "name": tr("w.isn.now"),
                "hovertemplate": f"{kind}: {wait:g} s → {miss:,}<extra></extra>",
            }
        )
        fig = {
            "data": data,
            "layout": {
                "title": {"text": tr("w.isn.plot"), "x": 0.01},
                "height": 400,
                "plot_bgcolor": "white",
                "xaxis": {"title": {"text": tr("w.isn.axis_wait")}, "gridcolor": "#eee"},
                "yaxis": {
                    "title": {"text": tr("w.isn.axis_miss")},
                    "type": "log",
                    "range": [-0.2, 9.8],
                    "gridcolor": "#eee",
                    "tickvals": [1, 1e3, 1e6, 1e9],
                    "ticktext": [tr("w.isn.exact"), "1,000", "10⁶", "10⁹"],
                },
                "shapes": [
                    {
                        "type": "line",
                        "xref": "paper",
                        "x0": 0,
                        "x1": 1,
                        "yref": "y",
                        "y0": 2**30,
                        "y1": 2**30,
                        "line": {"dash": "dash", "color": "#777"},
                    }
                ],
                "annotations": [
                    {
                        "xref": "paper",
                        "x": 1,
                        "xanchor": "right",
                        "yref": "y",
                        "y": 9.3,
                        "text": tr("w.isn.random"),
                        "showarrow": False,
                        "font": {"color": "#555", "size": 11},
                    }
                ],
                "margin": {"l": 90, "r": 20, "t": 50, "b": 50},
                "legend": {"orientation": "h", "y": -0.2},
            },
        }
        verdict = tr("w.isn.accepted") if miss == 0 else tr("w.isn.rejected")
        return View(fig, tr("w.isn.sentence", kind=kind, wait=wait, miss=miss, verdict=verdict))


_ISN_COLOURS = {"fixed": "#7f7f7f", "clock": "#d62728", "rfc6528": "#2ca02c", "linux": "#1f77b4", "random": "#9467bd"}


# -- 04: a slow application and tcp_fin_timeout ----------------------------------------------------------------


def _path_text(trace: Trace, host: str) -> str:
    """The host's states from ESTABLISHED on (the close is what this lab is about)."""
    states = [s for _, s in trace.states(host)]
    if State.ESTABLISHED in states:
        states = states[states.index(State.ESTABLISHED) :]
    return " → ".join(state_name(s) for s in states)


class SlowCloseLab(Lab):
    """The client closes at 1 s; when the server closes and ``tcp_fin_timeout`` decide the client's path."""

    title_key = "w.close.title"
    css_class = "tcpkit-lab-close"
    picture_height = 330
    controls = (
        Control(
            "server_closes_at",
            "w.close.at",
            "float",
            30.0,
            lo=2.0,
            hi=120.0,
            step=1.0,
            unit="w.unit.s",
            help="w.close.at_help",
        ),
        Control.knob("tcp_fin_timeout", lo=5, hi=120, step=5),
    )

    def draw(self, *, server_closes_at: float, tcp_fin_timeout: float, **_: Any) -> View:
        key = (get_language(), server_closes_at, tcp_fin_timeout)
        view: View = self.cached(key, lambda: self._draw(server_closes_at, tcp_fin_timeout))
        return view

    def _draw(self, server_closes_at: float, tcp_fin_timeout: float) -> View:
        from tcpkit.drivers.sim import Network

        # a connected pair, as notebook 04 builds it (tcpkit.lessons.text.connected_pair)
        net = Network(seed=1)
        client = net.add_host("client", "10.0.0.1", tcp_fin_timeout=tcp_fin_timeout)
        server = net.add_host("server", "10.0.0.2")
        listener = server.socket()
        listener.bind(80)
        listener.listen(8)
        sock = client.socket()
        sock.connect("10.0.0.2", 80)
        net.run(until=0.5)
        srv = listener.accept()
        net.at(1.0, sock.close)
        net.at(server_closes_at, srv.close)
        net.run(until=server_closes_at + 200)
        trace = net.trace()
        fig = state_gantt_figure(trace, height=300)
        fig.update_layout(
            yaxis={"autorange": "reversed", "tickfont": {"size": 11}}, legend={"orientation": "h", "y": -0.3}
        )
        spec = figure_spec(fig)  # kept as plain JSON: a cached Figure would be serialised again on every draw
        rst = any(isinstance(r, StateChanged) and r.host == "server" and r.event is Event.RCV_RST for r in trace)
        spath = _path_text(trace, "server") + (tr("w.close.rst") if rst else "")
        return View(spec, tr("w.close.sentence", cpath=_path_text(trace, "client"), spath=spath))


# -- 05: the port ceiling, and exhaustion in the engine ---------------------------------------------------------------


class PortCeilingLab(Lab):
    """The port range and TIME_WAIT length in a knob panel; the connection-rate ceiling drawn against TIME_WAIT.

    The panel is a :class:`~tcpkit.widgets.knobs.KnobPanel`: sliders for the
    knobs and a ``sysctl -w`` line (``net.ipv4.ip_local_port_range = 1024
    65000``); a setting the profile refuses (a low port above the high one) is
    shown next to the knob and the last good value stays.

    >>> lab = PortCeilingLab()
    >>> lab.sentence_text
    '28,232 ports, TIME_WAIT 60 s → at most 471 new connections per second to one server port.'
    >>> lab.panel.apply_sysctl("net.ipv4.ip_local_port_range = 1024 65000")
    True
    >>> lab.sentence_text
    '63,977 ports, TIME_WAIT 60 s → at most 1,066 new connections per second to one server port.'
    """

    title_key = "w.ceiling.title"
    css_class = "tcpkit-lab-ceiling"
    picture_height = 380
    KNOBS = ("ip_local_port_low", "ip_local_port_high", "time_wait_len")

    def __init__(self, profile: str | Profile = "linux") -> None:
        self.panel = KnobPanel(profile, knobs=list(self.KNOBS), on_change=lambda _p: self.update())
        super().__init__()

    def _layout_children(self) -> list[Any]:
        return [self.title, self.panel.widget, self.picture, self.sentence, self.details]

    @property
    def values(self) -> dict[str, Any]:
        return {k: self.panel.profile[k] for k in self.KNOBS}

    def set(self, **values: Any) -> bool:
        ok = True
        for name, value in values.items():
            if name not in self.KNOBS:
                raise ParameterError(name, value, "a knob of this lab: " + ", ".join(self.KNOBS))
            ok = self.panel.set(name, value) and ok
        return ok

    def draw(self, **_: Any) -> View:
        p = self.panel.profile.params
        ports = p.port_high - p.port_low + 1
        tws = [1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 240]
        linux = 60999 - 32768 + 1
        data: list[dict[str, Any]] = [
            {
                "type": "scatter",
                "x": tws,
                "y": [n / tw for tw in tws],
                "mode": "lines",
                "name": name,
                "line": {"color": colour, "width": width, "dash": "solid" if width > 2 else "dash"},
            }
            for name, n, colour, width in (
                (tr("w.ceiling.yours"), ports, "#1f77b4", 3),
                (tr("w.ceiling.linux"), linux, "#999", 1.5),
            )
        ]
        if p.time_wait > 0:
            data.append(
                {
                    "type": "scatter",
                    "x": [p.time_wait],
                    "y": [ports / p.time_wait],
                    "mode": "markers",
                    "marker": {"size": 13, "color": "#1f77b4", "line": {"width": 2, "color": "black"}},
                    "showlegend": False,
                    "hovertemplate": "%{x:g} s → %{y:,.0f}/s<extra></extra>",
                }
            )
        fig = {
            "data": data,
            "layout": {
                "title": {"text": tr("w.ceiling.plot"), "x": 0.01},
                "height": 360,
                "plot_bgcolor": "white",
                "xaxis": {"title": {"text": tr("w.ceiling.axis_tw")}, "gridcolor": "#eee"},
                "yaxis": {"title": {"text": tr("w.ceiling.axis_rate")}, "type": "log", "gridcolor": "#eee"},
                "margin": {"l": 80, "r": 20, "t": 50, "b": 50},
                "legend": {"orientation": "h", "y": -0.25},
            },
        }
        rate = f"{ports / p.time_wait:,.0f}" if p.time_wait else tr("w.ceiling.nolimit")
        return View(fig, tr("w.ceiling.sentence", ports=ports, tw=p.time_wait, rate=rate))

    def refresh_language(self) -> None:
        self.panel.refresh_language()
        super().refresh_language()

    def close(self) -> None:
        self.panel.close()
        super().close()


class PortExhaustionLab(Lab):
    """The ``time_wait_exhaustion`` scenario: ports held in TIME_WAIT over time, and which connect() failed."""

    title_key = "w.exhaust.title"
    css_class = "tcpkit-lab-exhaust"
    picture_height = 380
    controls = (
        Control("ports", "w.exhaust.ports", "int", 20, lo=5, hi=40, help="w.exhaust.ports_help"),
        Control(
            "rate",
            "w.exhaust.rate",
            "float",
            5.0,
            lo=1.0,
            hi=10.0,
            step=0.5,
            unit="w.unit.per_s",
            help="w.exhaust.rate_help",
        ),
        Control(
            "time_wait_len",
            "w.exhaust.tw",
            "float",
            10.0,
            lo=1.0,
            hi=30.0,
            step=1.0,
            unit="w.unit.s",
            help="w.exhaust.tw_help",
        ),
        Control.knob("tcp_tw_reuse", default=0, options=(("0", 0), ("1", 1))),
    )
    duration = 40.0

    def draw(self, *, ports: int, rate: float, time_wait_len: float, tcp_tw_reuse: int, **_: Any) -> View:
        held_t, held, ok_t, bad_t, r = self.cached(
            (ports, rate, time_wait_len, tcp_tw_reuse), lambda: self._run(ports, rate, time_wait_len, tcp_tw_reuse)
        )
        line = {"type": "scatter", "mode": "lines"}
        marks = {"type": "scatter", "mode": "markers"}
        fig = {
            "data": [
                {
                    **line,
                    "x": held_t,
                    "y": held,
                    "line": {"shape": "hv", "color": STATE_COLORS["TIME_WAIT"], "width": 2},
                    "name": tr("w.exhaust.held"),
                },
                {
                    **line,
                    "x": [0, self.duration],
                    "y": [ports, ports],
                    "line": {"dash": "dash", "color": "#555"},
                    "name": tr("w.exhaust.range"),
                },
                {
                    **marks,
                    "x": ok_t,
                    "y": [-1.5] * len(ok_t),
                    "marker": {"symbol": "line-ns-open", "size": 9, "color": "#2ca02c"},
                    "name": tr("w.exhaust.ok"),
                },
                {
                    **marks,
                    "x": bad_t,
                    "y": [-3.0] * len(bad_t),
                    "marker": {"symbol": "x-thin-open", "size": 8, "color": "#d62728"},
                    "name": tr("w.exhaust.failed"),
                },
            ],
            "layout": {
                "title": {"text": tr("w.exhaust.plot"), "x": 0.01},
                "height": 360,
                "plot_bgcolor": "white",
                "xaxis": {"title": {"text": tr("viz.ladder.time")}, "gridcolor": "#eee", "range": [0, self.duration]},
                "yaxis": {
                    "title": {"text": tr("w.exhaust.axis_ports")},
                    "gridcolor": "#eee",
                    "range": [-4.5, ports * 1.15],
                },
                "margin": {"l": 70, "r": 20, "t": 50, "b": 50},
                "legend": {"orientation": "h", "y": -0.25},
            },
        }
        failed = sum(r["errors"].values()) if isinstance(r.get("errors"), dict) else len(bad_t)
        sentence = tr(
            "w.exhaust.sentence",
            ceiling=float(r["ceiling_per_s"]),
            connected=r["connected"],
            attempts=r["attempts"],
            failed=failed,
        )
        return View(fig, sentence)

    def _run(self, ports: int, rate: float, time_wait_len: float, tcp_tw_reuse: int) -> tuple[Any, ...]:
        """The scenario's run, as what the picture needs: ports held over time, connect() times, the result."""
        from tcpkit.drivers.scenarios import run_scenario

        trace = run_scenario(
            "time_wait_exhaustion",
            seed=1,
            ports=ports,
            rate=rate,
            duration=self.duration,
            time_wait_len=time_wait_len,
            tw_reuse=tcp_tw_reuse,
        )
        r = trace.meta["result"]
        held_t, held = [0.0], [0]
        n = 0
        for rec in trace.state_changes("client"):
            if rec.dst is State.TIME_WAIT:
                n += 1
            elif rec.src is State.TIME_WAIT:
                n -= 1
            else:
                continue
            held_t.append(rec.time)
            held.append(n)
        held_t.append(self.duration)
        held.append(n)
        ok_t: list[float] = []
        bad_t: list[float] = []
        for c in trace.of(CallMade, "client"):
            if c.call.startswith("connect("):
                (bad_t if "EADDRNOTAVAIL" in c.result else ok_t).append(c.time)
        return held_t, held, ok_t, bad_t, r


# -- 06: the real kernel ----------------------------------------------------------------------------------------------


class KernelLab(Lab):
    """Pick a scenario of :mod:`tcpkit.live`: the kernel runs it again and the model runs beside it.

    Parameters
    ----------
    scenarios : sequence of str, optional
        Which scenarios the drop-down offers (default: all of ``tcpkit.live.SCRIPTS``).
    runner : callable, optional
        ``runner(name) -> LiveResult`` (default :func:`tcpkit.live.run_one`).
    **start
        ``scenario=...``: the one run first.
    """

    title_key = "w.kernel.title"
    css_class = "tcpkit-lab-kernel"
    picture_height = 360

    def __init__(self, scenarios: Sequence[str] | None = None, *, runner: Any = None, **start: Any) -> None:
        from tcpkit.live import SCRIPTS, run_one

        names = list(SCRIPTS) if scenarios is None else list(scenarios)
        for n in names:
            if n not in SCRIPTS:
                raise ParameterError("scenarios", n, "names of tcpkit.live.SCRIPTS: " + ", ".join(SCRIPTS))
        if not names:
            raise ParameterError("scenarios", names, "at least one scenario of tcpkit.live.SCRIPTS")
        if runner is not None and not callable(runner):
            raise ParameterError("runner", type(runner).__name__, "a function name -> LiveResult")
        self._runner = runner or run_one
        self.result: Any = None
        default = "connection_refused" if "connection_refused" in names else names[0]
        self._specs = (
            Control(
                "scenario",
                "w.kernel.scenario",
                "choice",
                default,
                options=tuple((n, n) for n in names),
                help="w.kernel.scenario_help",
            ),
        )
        super().__init__(**start)

    def _control_specs(self) -> tuple[Control, ...]:
        return self._specs

    def draw(self, *, scenario: str, **_: Any) -> View:
        result = self._runner(scenario)
        self.result = result

        def picture() -> dict[str, Any]:
            fig = result.figure()
            fig.update_layout(height=max(300, min(620, fig.layout.height or 300)))
            return figure_spec(fig)

        # a kernel run is new every time; observations recorded on Linux are the same every time
        fig = self.cached(("recorded", get_language(), scenario), picture) if result.source == "recorded" else picture()
        verdict = {"agree": tr("w.kernel.agree"), "differ": tr("w.kernel.differ")}.get(
            result.verdict, tr("w.kernel.other", v=tr(f"live.verdict.{result.verdict}"))
        )
        where = tr("w.kernel.here") if result.source == "kernel" else tr("w.kernel.recorded")
        lines = [v.summary() for v in result.verdicts][:8]
        details = (
            "<pre style='font-size:11px;margin:2px 4px;white-space:pre-wrap'>"
            + html.escape("\n".join(lines))[:1500]
            + "</pre>"
            if lines
            else ""
        )
        return View(fig, tr("w.kernel.sentence", name=scenario, verdict=verdict, where=where), details)
