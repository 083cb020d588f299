"""English and Simplified Chinese labels for the pictures and widgets.

Every string a picture or widget shows goes through :func:`tcpkit.i18n.tr`;
this module registers the keys (``viz.*``) and the Chinese text of the
transition table's notes and conditions.

Examples
--------
>>> from tcpkit.i18n import set_language
>>> set_language("zh")
>>> tr("viz.group.active_close")
'主动关闭'
>>> note_text("our SYN is acknowledged")
'我方 SYN 已被确认'
>>> set_language("en")
>>> note_text("our SYN is acknowledged")
'our SYN is acknowledged'
"""

from __future__ import annotations

import re

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.states import Event, State
from tcpkit.i18n import get_language, register, tr

__all__ = [
    "tr",
    "state_name",
    "state_description",
    "event_text",
    "note_text",
    "record_note_text",
    "condition_text",
    "zh",
]

register(
    {
        # state graph
        "viz.graph.title": ("TCP state diagram (RFC 9293 §3.3.2)", "TCP 状态图（RFC 9293 §3.3.2）"),
        "viz.graph.state": ("state", "状态"),
        "viz.graph.current": ("current state", "当前状态"),
        "viz.graph.path": ("path taken", "经过的路径"),
        "viz.group.client": ("client path", "客户端路径"),
        "viz.group.server": ("server path", "服务器路径"),
        "viz.group.active_close": ("active close", "主动关闭"),
        "viz.group.passive_close": ("passive close", "被动关闭"),
        "viz.group.simultaneous": ("simultaneous open/close", "同时打开/关闭"),
        "viz.group.rst": ("RST", "RST 复位"),
        "viz.group.timeout": ("timeout", "超时"),
        "viz.group.abort": ("abort", "中止"),
        "viz.edge.send": ("sends", "发送"),
        "viz.edge.nothing": ("nothing", "不发送"),
        # ladder
        "viz.ladder.title": ("Ladder diagram", "时序图（梯形图）"),
        "viz.ladder.time": ("time (s)", "时间（秒）"),
        "viz.ladder.segment": ("segment", "报文段"),
        "viz.ladder.lost": ("lost segment", "丢失的报文段"),
        "viz.ladder.rexmit": ("retransmission", "重传"),
        "viz.ladder.rexmit_tag": ("(rexmit)", "（重传）"),
        "viz.ladder.inflight": ("not delivered (trace ends)", "未送达（跟踪结束）"),
        "viz.ladder.dropped_at": ("dropped by {host}: {reason}", "被 {host} 丢弃：{reason}"),
        "viz.ladder.timer": ("timer", "定时器"),
        "viz.ladder.cursor": ("now", "当前"),
        "viz.ladder.states": ("state changes", "状态变化"),
        "viz.ladder.relative": ("relative sequence numbers", "相对序列号"),
        "viz.ladder.absolute": ("absolute sequence numbers", "绝对序列号"),
        "viz.ladder.delay": ("one-way delay {ms:.1f} ms", "单向时延 {ms:.1f} 毫秒"),
        "viz.ladder.cut": (
            "✂ cut: records {i0}–{i1} of {n}{why}; choose others with max_segments=, window=(t0, t1) or first=",
            "✂ 已截断：显示第 {i0}–{i1} 条记录，共 {n} 条{why}；"
            "可用 max_segments=、window=(t0, t1) 或 first= 选择其他部分",
        ),
        "viz.ladder.beyond": ("arrives after the cut", "在截断处之后到达"),
        "viz.ladder.cut_limit": (" (at most {limit} segments)", "（最多 {limit} 个报文段）"),
        # timelines
        "viz.queue.title": ("SYN queue and accept queue", "SYN 队列（半连接队列）与全连接队列"),
        "viz.queue.syn": ("SYN queue", "SYN 队列（半连接队列）"),
        "viz.queue.accept": ("accept queue", "全连接队列"),
        "viz.queue.limit": ("{name} limit", "{name}上限"),
        "viz.queue.length": ("entries", "条目数"),
        "viz.gantt.title": ("Connection states over time", "连接状态随时间变化"),
        "viz.gantt.connection": ("connection", "连接"),
        "viz.tseq.title": ("Time-sequence graph (tcptrace style)", "时间-序列号图（tcptrace 风格）"),
        "viz.tseq.seq": ("relative sequence number", "相对序列号"),
        "viz.tseq.data": ("data sent", "发送的数据"),
        "viz.tseq.rexmit": ("retransmitted", "重传的数据"),
        "viz.tseq.ack": ("ACK received", "收到的 ACK"),
        "viz.tseq.window": ("receive window edge", "接收窗口右沿"),
        "viz.isn.title": (
            "How far each generator's ISN moves over time (each panel on its own scale)",
            "各生成器的初始序列号（ISN）随时间的变化（每幅子图刻度不同）",
        ),
        "viz.isn.moved": ("ISN − first ISN", "ISN 相对首个值的变化"),
        "viz.isn.tuple": ("4-tuple (client):", "四元组（客户端）："),
        "viz.isn.panel_same": ("{kind}: the same ISN for every 4-tuple", "{kind}：所有四元组的 ISN 相同"),
        "viz.isn.panel_apart": ("{kind}: 4-tuples start {apart} apart", "{kind}：各四元组起点相差 {apart}"),
        "viz.isn.isn": ("ISN", "初始序列号"),
        "viz.isn.missing": ("ISN generators are not available: {why}", "ISN 生成器不可用：{why}"),
        "viz.empty": ("nothing to show: {why}", "没有可显示的内容：{why}"),
        # widgets
        "w.back": ("◀ back", "◀ 后退"),
        "w.step": ("step ▶", "单步 ▶"),
        "w.play": ("play", "播放"),
        "w.speed": ("speed", "速度"),
        "w.record": ("record", "记录"),
        "w.record_of": ("record #{i} (0–{last})", "第 #{i} 条记录（0–{last}）"),
        "w.no_records": ("the trace is empty", "跟踪为空"),
        "w.knobs.title": ("Knobs of profile {name}", "配置 {name} 的参数"),
        "w.knobs.sysctl": ("sysctl -w", "sysctl -w"),
        "w.knobs.apply": ("apply", "应用"),
        "w.knobs.reset": ("reset to defaults", "恢复默认值"),
        "w.knobs.kept": ("kept the last good value {value!r}", "保留上一个有效值 {value!r}"),
        "w.knobs.ok": ("ok: {knob} = {value!r}", "已设置：{knob} = {value!r}"),
        "w.predict.next_send": ("What does the {host} send next?", "{host}接下来发送什么？"),
        "w.predict.state": ("Which state is the {host} in now?", "{host}现在处于哪个状态？"),
        "w.predict.type": ("or type a segment (packetdrill notation):", "或输入一个报文段（packetdrill 记法）："),
        "w.predict.check": ("check", "检查"),
        "w.predict.reveal": ("reveal", "揭晓"),
        "w.predict.right": ("Right!", "正确！"),
        "w.predict.wrong": ("Not quite.", "不完全对。"),
        "w.predict.answer": ("Answer: {answer}", "答案：{answer}"),
        "w.predict.why": ("Why: {why}", "原因：{why}"),
        "w.predict.nothing": ("nothing (no segment)", "什么都不发送"),
        "w.predict.pick": ("Pick an answer or type a segment first.", "请先选择答案或输入报文段。"),
        "w.predict.mismatch": (
            "{field}: you said {got}, the trace has {want}",
            "{field}：你的答案是 {got}，跟踪中为 {want}",
        ),
        "w.predict.no_question": ("no such moment in the trace: {why}", "跟踪中没有这样的时刻：{why}"),
        "w.explorer.scenario": ("scenario", "场景"),
        "w.explorer.seed": ("seed", "随机种子"),
        "w.explorer.profile": ("profile", "系统配置"),
        "w.explorer.run": ("run", "运行"),
        "w.explorer.missing": (
            "Scenarios are not available ({why}); showing pictures of the built-in example trace instead.",
            "场景模块不可用（{why}）；改为显示内置示例跟踪的图。",
        ),
        "w.explorer.error": ("could not run {name}: {why}", "无法运行 {name}：{why}"),
        "w.explorer.ran": ("{name}: {n} records", "{name}：{n} 条记录"),
    }
)

#: Chinese for the notes of :data:`tcpkit.engine.states.TRANSITIONS`, keyed by the English note.
_NOTES_ZH: dict[str, str] = {
    "2MSL has passed: old duplicates are gone": "已过 2MSL：旧的重复报文已消失",
    "FIN and ACK of our FIN together (a three-segment close); missing from Figure 5": (
        "FIN 与对我方 FIN 的确认同时到达（三次挥手）；Figure 5 中没有这条边"
    ),
    "a SYN inside the window resets the connection": "窗口内的 SYN 会重置连接",
    "a SYN with a higher sequence number (or newer timestamp) reopens the 4-tuple": (
        "序列号更大（或时间戳更新）的 SYN 可重新打开该四元组"
    ),
    "an RST kills the TIME_WAIT socket early (Linux tcp_rfc1337 = 0)": (
        "RST 会提前结束 TIME_WAIT 套接字（Linux tcp_rfc1337 = 0）"
    ),
    "back to listening; the application never saw it": "回到监听状态；应用程序从未见到这个连接",
    "both FINs acknowledged": "双方的 FIN 都已确认",
    "both ISNs known: the handshake is done on this side": "双方 ISN 均已知：本端握手完成",
    "choose an ISN and send SYN": "选择 ISN 并发送 SYN",
    "close before the handshake finished": "握手完成前就关闭",
    "closing with unread received data resets the connection": "关闭时仍有未读的接收数据，连接被重置",
    "connection refused (ECONNREFUSED)": "连接被拒绝（ECONNREFUSED）",
    "create the TCB and wait for a SYN": "创建 TCB 并等待 SYN",
    "data stayed unacknowledged longer than the user timeout": "数据未被确认的时间超过了用户超时",
    "delete the TCB without sending anything": "删除 TCB，不发送任何报文",
    "give up before the peer answered": "对方应答前放弃",
    "no answer after the last retransmission (ETIMEDOUT)": "最后一次重传后仍无应答（ETIMEDOUT）",
    "our FIN is acknowledged: delete the TCB": "我方 FIN 已被确认：删除 TCB",
    "our FIN is acknowledged; the peer may still send": "我方 FIN 已被确认；对方仍可发送数据",
    "our SYN is acknowledged": "我方 SYN 已被确认",
    "our application closed first": "本方应用程序先关闭",
    "our application closed too": "本方应用程序也关闭了",
    "remember the peer's ISN, answer with our own": "记下对方的 ISN，并以我方 ISN 应答",
    "reset by the peer (ECONNRESET)": "被对方重置（ECONNRESET）",
    "send RST, flush queues (SO_LINGER with 0)": "发送 RST 并清空队列（SO_LINGER 为 0）",
    "simultaneous close: the peer's FIN crossed ours": "同时关闭：对方的 FIN 与我方的 FIN 交错而过",
    "simultaneous open refused (ECONNREFUSED)": "同时打开被拒绝（ECONNREFUSED）",
    "simultaneous open: resend our SYN with an ACK": "同时打开：重发带 ACK 的 SYN",
    "stop listening; queued SYNs are forgotten": "停止监听；队列中的 SYN 被丢弃",
    "the FIN arrived with the handshake's ACK": "FIN 与握手的 ACK 一起到达",
    "the application already closed and the peer never sent its FIN": "应用程序已关闭，而对方一直没有发送 FIN",
    "the idle peer never answered the probes (ETIMEDOUT)": "空闲的对端始终未应答保活探测（ETIMEDOUT）",
    "the peer closed first; we may keep sending": "对方先关闭；我方仍可继续发送",
    "the peer finished too; start the 2MSL timer": "对方也结束了；启动 2MSL 定时器",
    "the peer resent its FIN (our last ACK was lost): ACK again and restart 2MSL": (
        "对方重发了 FIN（我方最后的 ACK 丢失）：再次确认并重启 2MSL"
    ),
}

_CONDITIONS_ZH: dict[str, str] = {
    "RFC 793 SYN handling": "RFC 793 的 SYN 处理",
    "active open": "主动打开",
    "passive open": "被动打开",
    "new incarnation": "新的连接实例",
    "orphaned": "孤儿套接字",
    "rfc1337 off": "关闭 rfc1337",
    "unread data": "有未读数据",
}


def zh() -> bool:
    """True when the current language is Simplified Chinese."""
    return get_language() == "zh"


def state_name(state: State | str, *, both: bool = False) -> str:
    """A state's name in the current language (``both``: English and Chinese).

    >>> state_name(State.LISTEN, both=True)
    'LISTEN 监听'
    """
    try:
        s = State.parse(state)
    except ParameterError:  # not a state: shown as it is
        return str(state)
    if both:
        return f"{s.value} {s.zh}"
    return f"{s.value} {s.zh}" if zh() else s.value


def state_description(state: State) -> str:
    """One sentence about ``state`` in the current language."""
    return state.description_zh if zh() else state.description


def event_text(event: Event | str) -> str:
    """An event in the current language (strings that are not events pass through)."""
    ev = event if isinstance(event, Event) else _event_or_none(event)
    if ev is None:
        return str(event)
    return ev.zh if zh() else ev.value


def note_text(note: str) -> str:
    """A transition note in the current language."""
    return _NOTES_ZH.get(note, note) if zh() else note


#: The engine's Note at the end of a handshake (``Connection._negotiated_note``).
_NEGOTIATED = re.compile(
    r"negotiated: MSS ours (\d+), peer's (\d+) -> segments of (\d+) bytes( \(12 for timestamps\))?; "
    r"(?:window scale: we shift by (\d+), the peer by (\d+)|no window scale); SACK (on|off); timestamps (on|off)"
)


def record_note_text(text: str) -> str:
    """The text of a trace ``Note`` in the current language (a note it does not know passes through).

    >>> from tcpkit.i18n import set_language
    >>> set_language("zh")
    >>> record_note_text("negotiated: MSS ours 1460, peer's 1460 -> segments of 1460 bytes; no window scale; "
    ...                  "SACK on; timestamps off")
    '协商结果：MSS 我方 1460，对方 1460 → 每段 1460 字节；不缩放窗口；SACK 开；时间戳 关'
    >>> set_language("en")
    """
    m = _NEGOTIATED.fullmatch(text) if zh() else None
    if m is None:
        return text
    ours, peers, seg, ts_cost, ws_ours, ws_peer, sack, ts = m.groups()
    onoff = {"on": "开", "off": "关"}
    ws = f"窗口缩放：我方左移 {ws_ours} 位，对方 {ws_peer} 位" if ws_ours is not None else "不缩放窗口"
    return (
        f"协商结果：MSS 我方 {ours}，对方 {peers} → 每段 {seg} 字节{'（时间戳占 12 字节）' if ts_cost else ''}；"
        f"{ws}；SACK {onoff[sack]}；时间戳 {onoff[ts]}"
    )


def condition_text(condition: str) -> str:
    """A transition condition in the current language."""
    return _CONDITIONS_ZH.get(condition, condition) if zh() else condition


def _event_or_none(text: str) -> Event | None:
    try:
        return Event(text)
    except ValueError:
        try:
            return Event[text]
        except KeyError:
            return None
