"""The grading report: one HTML page (charts as inline SVG) and the same charts as PNG files.

For every assignment in the grades: the distribution of total scores, how
each question went (full, partial, no points), and the submissions that
need a look: every row whose status is not ``ok``, every total of zero,
every run that dropped forged messages or names, every copy of the
solutions, every submission graded in the fallback mode.

Examples
--------
>>> from tcpkit.course.grade import Result
>>> rows = [Result("ann", "hw1", "a.ipynb", "0" * 64, {"q1": 2.0}, {"q1": 2.0}),
...         Result("bob", "hw1", "b.ipynb", "1" * 64, {"q1": 0.0}, {"q1": 2.0}, status="timeout", notes=["stopped"])]
>>> [r.student for r in attention(rows)]
['bob']
>>> "<svg" in render_html(rows)
True
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from .charts import Bar, BarChart
from .grade import STATUSES, Result, atomic_write, read_results

__all__ = ["attention", "charts_for", "render_html", "write_report"]

GREEN, AMBER, RED, GREY = "#1a7f37", "#dc8a00", "#b42318", "#98a2b3"
_SUSPICIOUS = ("nobody asked for", "names that are not answers", "identical to the solutions", "survived")


def attention(results: Iterable[Result]) -> list[Result]:
    """The submissions an instructor should look at, worst first."""
    out = []
    for r in results:
        if (
            r.status != "ok"
            or (r.max and r.total == 0)
            or any(s in r.note for s in _SUSPICIOUS)
            or r.isolation.startswith("FALLBACK")
        ):
            out.append(r)
    order = {s: i for i, s in enumerate(["grader-error", "refused", "unreadable", "unknown-assignment"])}
    return sorted(out, key=lambda r: (order.get(r.status, 9), r.total, r.student))


def charts_for(results: list[Result], assignment: str) -> list[tuple[str, BarChart]]:
    """The charts of one assignment: ``(name, chart)`` for the totals and for the questions."""
    rows = [r for r in results if r.assignment == assignment]
    top = max((r.max for r in rows), default=0.0)
    n_bins = int(top) + 1 if 0 < top <= 20 else 11
    width = top / (n_bins - 1) if n_bins > 1 and top else 1.0
    bins = [[0, 0] for _ in range(n_bins)]  # graded, not graded (refused, unreadable, ...)
    for r in rows:
        i = min(n_bins - 1, int(round(r.total / width))) if width else 0
        bins[i][0 if r.status not in ("refused", "unreadable", "unknown-assignment", "grader-error") else 1] += 1
    labels = [f"{i * width:g}" for i in range(n_bins)]
    totals = BarChart(
        f"{assignment}: total scores ({len(rows)} submissions, {top:g} points)",
        [Bar(labels[i], [(b[0], GREEN), (b[1], GREY)]) for i, b in enumerate(bins)],
        y_label="submissions",
        legend=[("graded", GREEN), ("not graded", GREY)],
    )
    questions: dict[str, list[int]] = {}
    for r in rows:
        for q, possible in r.possible.items():
            got = r.scores.get(q, 0.0)
            c = questions.setdefault(q, [0, 0, 0])
            c[0 if got >= possible > 0 else (1 if got > 0 else 2)] += 1
    per_q = BarChart(
        f"{assignment}: points per question",
        [Bar(q, [(c[0], GREEN), (c[1], AMBER), (c[2], RED)]) for q, c in questions.items()],
        y_label="submissions",
        legend=[("full points", GREEN), ("partial", AMBER), ("none", RED)],
    )
    return [("totals", totals), ("questions", per_q)]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text) or "assignment"


def render_html(results: list[Result], title: str = "Grading report") -> str:
    """The report as one self-contained HTML page."""
    e = html.escape
    assignments = sorted({r.assignment for r in results})
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}"
        "td,th{border-bottom:1px solid #e4e7ec;padding:3px 10px;text-align:left;vertical-align:top}"
        ".num{text-align:right;white-space:nowrap}.warn{color:#b42318;font-weight:bold}svg{max-width:100%;height:auto}</style>",
        "</head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{len(results)} submissions, {len(assignments)} assignment(s); written "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
    ]
    fallback = [r for r in results if r.isolation.startswith("FALLBACK")]
    if fallback:
        parts.append(
            f'<p class="warn">{len(fallback)} submissions were graded in the FALLBACK isolation mode '
            "(no user namespaces): their code ran as the grader's user.</p>"
        )
    for a in assignments:
        rows = [r for r in results if r.assignment == a]
        graded = [r.total for r in rows if r.status not in ("refused", "unreadable", "unknown-assignment")]
        mean = sum(graded) / len(graded) if graded else 0.0
        parts.append(f"<h2>{e(a)}</h2>")
        parts.append(f"<p>{len(rows)} submissions; mean of the graded ones {mean:.2f}.</p>")
        for _, chart in charts_for(results, a):
            parts.append(chart.svg())
    need = attention(results)
    parts.append(f"<h2>Needs attention ({len(need)})</h2>")
    if need:
        parts.append(
            "<table><tr><th>key</th><th>student</th><th>assignment</th><th>score</th><th>status</th><th>why</th></tr>"
        )
        for r in need:
            parts.append(
                f"<tr><td><code>{e(r.key)}</code></td><td>{e(r.student)}</td><td>{e(r.assignment)}</td>"
                f'<td class="num">{r.total:g} / {r.max:g}</td><td title="{e(STATUSES.get(r.status, ""))}">'
                f"{e(r.status)}</td><td>{e(r.note) or e(r.isolation)}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p>Nothing: every submission ran cleanly.</p>")
    parts.append("<h2>Statuses</h2><table>")
    for s, meaning in STATUSES.items():
        n = sum(1 for r in results if r.status == s)
        if n:
            parts.append(f'<tr><td>{e(s)}</td><td class="num">{n}</td><td>{e(meaning)}</td></tr>')
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def write_report(grades: str | Path | list[Result], out: str | Path, *, png: bool = True) -> list[Path]:
    """Write ``out`` (HTML) and, with ``png``, one PNG per chart beside it (``<out stem>-<assignment>-<chart>.png``).

    Returns the files written.

    >>> import tempfile, pathlib
    >>> top = pathlib.Path(tempfile.mkdtemp())
    >>> rows = [Result("ann", "hw1", "a.ipynb", "0" * 64, {"q1": 2.0}, {"q1": 2.0})]
    >>> [p.name for p in write_report(rows, top / "report.html")]
    ['report.html', 'report-hw1-totals.png', 'report-hw1-questions.png']
    """
    results = read_results(grades) if isinstance(grades, str | Path) else list(grades)
    out = Path(out)
    atomic_write(out, render_html(results).encode())
    written = [out]
    if png:
        for a in sorted({r.assignment for r in results}):
            for name, chart in charts_for(results, a):
                p = out.with_name(f"{out.stem}-{_slug(a)}-{name}.png")
                atomic_write(p, chart.png())
                written.append(p)
    return written
