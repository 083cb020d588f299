"""Shared text for the course notebooks: key terms (English and Chinese) and small tables.

The notebooks give each key term's Simplified Chinese name once; this module
holds those names in one place, so the glossary of ``00_start_here`` and the
"Key terms" list at the end of every notebook agree.

Examples
--------
>>> TERMS["three-way handshake"]
'三次握手'
>>> rows = glossary_rows()
>>> rows[0]["term"], rows[0]["zh"]
('CLOSED', '关闭')
>>> len([r for r in rows if r["kind"] == "state"])
11
>>> print(Table(["a", "b"], [[1, "x"], [22, "yy"]]))
a   b
--  --
1   x
22  yy
>>> term("SYN flood")
'SYN flood (SYN 洪泛攻击)'
>>> term("handshake")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter term = 'handshake' is not allowed: expected a key term of the ...

Notes
-----
The Chinese names are the ones Chinese-language textbooks and the Linux
community use (e.g. 半连接队列 for the SYN queue, 全连接队列 for the accept
queue, 四次挥手 for the four-way close), so a learner can search for them.
State names come from :mod:`tcpkit.engine.states` (RFC 9293 §3.3.2).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.states import STATES
from tcpkit.engine.trace import Trace

__all__ = ["TERMS", "term", "glossary_rows", "Table", "setup_notebook", "state_paths", "connected_pair"]

#: English key term -> Simplified Chinese name.
TERMS: dict[str, str] = {
    "three-way handshake": "三次握手",
    "four-way close": "四次挥手",
    "sequence number": "序列号",
    "acknowledgment number": "确认号",
    "initial sequence number (ISN)": "初始序列号",
    "SYN": "同步报文段",
    "ACK": "确认报文段",
    "FIN": "终止报文段",
    "RST": "复位报文段",
    "socket": "套接字",
    "passive open": "被动打开",
    "active open": "主动打开",
    "simultaneous open": "同时打开",
    "simultaneous close": "同时关闭",
    "half-open connection": "半开连接",
    "half-close": "半关闭",
    "old duplicate segment": "历史重复报文段",
    "TCP Fast Open (TFO)": "TCP 快速打开",
    "4-tuple": "四元组",
    "incarnation": "连接实例（同一四元组先后建立的连接）",
    "ISN clock": "ISN 时钟",
    "keyed hash": "带密钥的哈希",
    "sequence-number prediction attack": "序列号预测攻击",
    "quiet time": "静默时间",
    "SYN queue": "半连接队列",
    "accept queue": "全连接队列",
    "backlog": "积压队列长度",
    "SYN flood": "SYN 洪泛攻击",
    "SYN cookie": "SYN Cookie 机制",
    "retransmission": "重传",
    "exponential backoff": "指数退避",
    "active close": "主动关闭",
    "passive close": "被动关闭",
    "orphaned socket": "孤儿套接字",
    "abortive close": "异常关闭（复位关闭）",
    "maximum segment lifetime (MSL)": "报文最大生存时间",
    "2MSL": "两倍报文最大生存时间",
    "TIME_WAIT": "时间等待",
    "ephemeral port": "临时端口",
    "port exhaustion": "端口耗尽",
    "TCP timestamps": "TCP 时间戳",
    "PAWS (Protection Against Wrapped Sequences)": "防止序列号回绕",
    "NAT": "网络地址转换",
    "connection pooling": "连接池",
    "keepalive": "保活机制",
    "TIME-WAIT assassination": "TIME_WAIT 暗杀",
    "kernel": "内核",
    "packetdrill script": "packetdrill 测试脚本",
    "transition table": "状态转移表",
    "ladder diagram": "时序图（梯形图）",
}


def term(name: str) -> str:
    """``"name (中文)"`` for a key term, as written the first time it appears."""
    if name not in TERMS:
        some = ", ".join(list(TERMS)[:3])
        raise ParameterError("term", name, f"a key term of the course, e.g. {some}, ...")
    return f"{name} ({TERMS[name]})"


def glossary_rows() -> list[dict[str, str]]:
    """The glossary: the 11 states (from the transition table module), then the key terms."""
    rows = [{"term": s.value, "zh": s.zh, "kind": "state", "meaning": s.description} for s in STATES]
    rows += [{"term": k, "zh": v, "kind": "term", "meaning": ""} for k, v in TERMS.items()]
    return rows


class Table:
    """A small table that shows itself as HTML in a notebook and as aligned text elsewhere.

    Parameters
    ----------
    columns : sequence of str
    rows : sequence of sequences (one value per column)
    """

    def __init__(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.columns = [str(c) for c in columns]
        self.rows = [list(r) for r in rows]
        for r in self.rows:
            if len(r) != len(self.columns):
                raise ParameterError("row", r, f"{len(self.columns)} values, one per column {self.columns}")

    @classmethod
    def from_dicts(cls, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> Table:
        """Build from dicts (e.g. :func:`glossary_rows`), keeping ``columns`` in order.

        >>> Table.from_dicts([{"x": 1, "y": 2}], ["y"]).rows
        [[2]]
        """
        cols = list(columns) if columns is not None else (list(rows[0]) if rows else [])
        return cls(cols, [[r.get(c, "") for c in cols] for r in rows])

    def __str__(self) -> str:
        cells = [self.columns] + [[_text(v) for v in r] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(_text(v))}</td>" for v in r) + "</tr>"
            for r in self.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if not v.is_integer() else f"{int(v):,}"
    return str(v)


def setup_notebook(language: str = "en") -> None:
    """Prepare a course notebook: Plotly figures as their own MIME type, labels in ``language``.

    Figures are sent as ``application/vnd.plotly.v1+json`` (JupyterLab, nbviewer
    and VS Code draw them), never with a copy of plotly.js embedded in every
    notebook.

    >>> setup_notebook()
    >>> import plotly.io as pio
    >>> pio.renderers.default
    'plotly_mimetype'
    """
    import plotly.io as pio

    from tcpkit.i18n import set_language

    pio.renderers.default = "plotly_mimetype"
    set_language(language)


def state_paths(trace: Trace) -> Table:
    """Every connection's path through the states, one row per host and connection.

    Examples
    --------
    >>> from tcpkit.viz.examples import example_trace
    >>> for row in state_paths(example_trace("lossy")).rows:
    ...     print(row[0], "|", row[2])
    server | CLOSED -> LISTEN
    client | CLOSED -> SYN_SENT -> ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT -> CLOSED
    server | LISTEN -> SYN_RECEIVED -> ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSED
    """
    paths: dict[tuple[str, Any], list[str]] = {}
    for r in trace.state_changes():
        paths.setdefault((r.host, r.conn), [r.src.value]).append(r.dst.value)
    rows = []
    for (host, conn), path in paths.items():
        where = "-" if not conn else f"{conn[0]}:{conn[1]} > " + ("*" if conn[3] == 0 else f"{conn[2]}:{conn[3]}")
        rows.append([host, where, " -> ".join(path)])
    return Table(["host", "connection", "path"], rows)


def connected_pair(
    seed: int = 1, *, client: dict[str, Any] | None = None, server: dict[str, Any] | None = None, until: float = 0.5
) -> tuple[Any, Any, Any]:
    """A simulated client and server (Linux profile) with one established, accepted connection.

    Parameters
    ----------
    seed : int
        The network seed (same seed, same trace).
    client, server : dict, optional
        Knobs for each host's profile, e.g. ``{"tcp_fin_timeout": 10}``.
    until : float
        Virtual time to run the handshake to (seconds).

    Returns
    -------
    (Network, Socket, Socket)
        The network, the client's socket (10.0.0.1) and the server's accepted socket (10.0.0.2:80).

    Examples
    --------
    >>> net, cli, srv = connected_pair()
    >>> cli.state.value, srv.state.value
    ('ESTABLISHED', 'ESTABLISHED')
    """
    from tcpkit.drivers.sim import Network

    net = Network(seed=seed)
    c = net.add_host("client", "10.0.0.1", **(client or {}))
    s = net.add_host("server", "10.0.0.2", **(server or {}))
    listener = s.socket()
    listener.bind(80)
    listener.listen(8)
    sock = c.socket()
    sock.connect("10.0.0.2", 80)
    net.run(until=until)
    return net, sock, listener.accept()
