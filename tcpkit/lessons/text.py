"""Shared text for the course notebooks: the glossary, key-term lists and small tables.

The glossary lives in one data file (``tcpkit/data/glossary.toml``, read by
:func:`tcpkit.i18n.glossary`): every key term with its Simplified Chinese name
and a one-line meaning in both languages.  The glossary of ``00_start_here``,
the "Key terms" list at the end of every notebook (:func:`key_terms`) and the
widgets' flag key all read it, so they agree.

Examples
--------
>>> TERMS["three-way handshake"]
'三次握手'
>>> rows = glossary_rows()
>>> [r["term"] for r in rows if r["kind"] == "state"][0]
'CLOSED'
>>> len([r for r in rows if r["kind"] == "state"])
11
>>> all(r["meaning"] and r["meaning_zh"] for r in rows)
True
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
Two names are easily confused: 半连接 is one entry of the SYN queue (a request
in SYN_RECEIVED), while a half-open connection (半开连接, RFC 9293 §3.5.1) is
one whose other side crashed without this side knowing.  State names come
from :mod:`tcpkit.engine.states` (RFC 9293 §3.3.2).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.trace import Trace
from tcpkit.i18n import get_language, glossary

from .runs import connected_pair

__all__ = [
    "TERMS",
    "term",
    "glossary_rows",
    "glossary_table",
    "key_terms",
    "Table",
    "setup_notebook",
    "state_paths",
    "connected_pair",
]

#: English key term -> Simplified Chinese name (the glossary's terms, in its order).
TERMS: dict[str, str] = {t.name: t.zh for t in glossary() if t.kind == "term"}


def term(name: str) -> str:
    """``"name (中文)"`` for a key term or a state, as written the first time it appears.

    >>> term("TIME_WAIT")
    'TIME_WAIT (时间等待)'
    """
    for t in glossary():
        if t.name == name and t.kind in ("term", "state"):
            return f"{t.name} ({t.zh})"
    some = ", ".join(list(TERMS)[:3])
    raise ParameterError("term", name, f"a key term of the course, e.g. {some}, ...")


def glossary_rows() -> list[dict[str, str]]:
    """The glossary: the 11 states (from the transition table), then the key terms, each with both meanings."""
    return [
        {"term": t.name, "zh": t.zh, "kind": t.kind, "meaning": t.meaning, "meaning_zh": t.meaning_zh}
        for t in glossary()
        if t.kind in ("state", "term")
    ]


def glossary_table() -> Table:
    """00's glossary: flag letters, states and key terms, with their meanings in English and Chinese.

    >>> t = glossary_table()
    >>> t.columns
    ['term', '中文', 'meaning', '释义']
    >>> t.rows[0][:2]
    ['S', 'SYN']
    """
    rows = [[t.name, t.zh, t.meaning, t.meaning_zh] for t in glossary() if t.name != "-"]
    return Table(["term", "中文", "meaning", "释义"], rows)


def key_terms(notebook: str) -> Table:
    """The key terms of one notebook (``"03"``), from the glossary, with meanings in the current language.

    >>> t = key_terms("03")
    >>> [r[0] for r in t.rows][:3]
    ['exponential backoff', 'SYN queue', 'SYN-queue entry (request socket)']
    >>> key_terms("09")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter notebook = '09' is not allowed: expected a notebook with ...
    """
    picked = [t for t in glossary() if notebook in t.notebooks]
    if not picked:
        have = sorted({n for t in glossary() for n in t.notebooks})
        raise ParameterError("notebook", notebook, "a notebook with key terms: " + ", ".join(have))
    zh = get_language() == "zh"
    return Table(
        ["term", "中文", "释义" if zh else "meaning"],
        [[t.name, t.zh, t.meaning_zh if zh else t.meaning] for t in picked],
    )


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
