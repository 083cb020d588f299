"""Feedback for students: one file per submission, safe to send.

Each file gives the score, the points of every question, and for every test
that failed: for a *public* test (its code is in the student's notebook
already) what was checked and what happened; for a *hidden* test only that
it failed and, if the author wrote one, its release-safe summary (the
``failure_message`` of the test's ``BEGIN TEST CONFIG`` block in the master
notebook).  Never a hidden test's code or its failure report, never the
instructor's CSV notes (which name hidden tests): only what the run itself
says about the student's own notebook (cells that raised, time used up).

Examples
--------
>>> from tcpkit.course.grade import Result
>>> r = Result("ann", "hw1", "ann.ipynb", "0" * 64, {"q1": 1.0}, {"q1": 2.0},
...            cases={"q1": [{"name": "q1 - 1", "hidden": False, "passed": True},
...                          {"name": "q1 - 2", "hidden": True, "passed": False, "summary": "assert secret(q1)",
...                           "message": "Failed example: assert secret(q1)", "failure_message": ""}]})
>>> text = render_markdown(r)
>>> "1 / 2" in text and "secret" not in text
True
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tcpkit.engine.errors import ParameterError

from .grade import Result, atomic_write, read_results, safe_cell
from .messages import first_failure, one_line

__all__ = ["render_markdown", "render_html", "write_feedback", "FORMATS"]

FORMATS = ("md", "html")

_STATUS_TEXT = {
    "ok": "",
    "errors": "Some cells of your notebook raised an error (see below); answers from the other cells were graded.",
    "timeout": "Your notebook ran out of time; the answers it had set by then were graded.",
    "limit": "Your notebook used more memory or CPU time than allowed and was stopped; the answers it had set "
    "by then were graded.",
    "crashed": "Your notebook's process stopped on its own; the answers it had set by then were graded.",
    "too-large": "An answer was larger than the grader accepts.",
    "no-answers": "Your notebook did not set any of the answer names, so nothing could be graded.",
    "wrong-assignment": "This notebook belongs to another assignment (see its metadata); it was graded against this "
    "one anyway.",
    "unknown-assignment": "The grader could not tell which assignment this notebook is for.",
    "refused": "The file handed in is not a regular notebook file, so it was not graded.",
    "unreadable": "The file handed in could not be read as a notebook, so it was not graded.",
    "grader-error": "The grader itself failed on this notebook; your instructor has been told.",
}

# notes about the file itself, which are safe to show (the CSV's other notes may name hidden tests)
_FILE_NOTES = ("refused", "unreadable", "wrong-assignment", "unknown-assignment")


def _run_lines(r: Result) -> list[str]:
    """What the run says about the student's own notebook (never anything about the tests)."""
    lines: list[str] = []
    if r.status in _FILE_NOTES and r.notes:
        lines.append(r.notes[0])
    for n in r.notes:
        if n.startswith("the file is ") and n not in lines:
            lines.append(n)  # an encoding note
    run = r.run or {}
    stopped = run.get("stopped")
    if stopped:
        where = f"in cell {stopped.get('cell')}" if stopped.get("cell") else "while starting"
        lines.append(f"Stopped {where}: {stopped.get('why')}.")
    calls = run.get("calls_stopped")
    if calls:
        lines.append(f"Stopped while the tests called {calls.get('call')}: {calls.get('why')}.")
    for e in (run.get("errors") or [])[:5]:
        lines.append(f"Cell {e.get('cell')}, {e.get('error')}")
    return lines


def _public_detail(case: dict[str, Any]) -> list[str]:
    f = first_failure(str(case.get("message") or ""))
    out = [str(case.get("summary") or "failed")]
    if f is not None and f.source:
        out.append(f"checked: `{one_line(f.source, 200)}`")
        if f.exception:
            out.append(f"result: {one_line(f.exception, 200)}")
        elif f.got is not None:
            out.append(
                f"result: got {one_line(f.got or 'nothing', 100)}, expected {one_line(f.expected or 'nothing', 100)}"
            )
    return out


def _questions(r: Result) -> list[tuple[str, float, float, list[str]]]:
    out = []
    names = (r.run or {}).get("names", {})
    for q, possible in r.possible.items():
        lines: list[str] = []
        for n in names.get(q, []):
            state = r.answers.get(n)
            if state == "missing":
                lines.append(f"`{n}` is never set in your notebook.")
            elif state and state not in ("data", "function"):
                lines.append(f"`{n}` {state}.")
        cases = r.cases.get(q, [])
        for i, case in enumerate(cases, start=1):
            if case.get("passed"):
                continue
            if case.get("hidden"):
                summary = str(case.get("failure_message") or "").strip()
                lines.append(f"Hidden test {i} failed" + (f": {one_line(summary, 300)}" if summary else "."))
            else:
                lines.append(f"Public test {i} failed: " + "; ".join(_public_detail(case)))
        if not cases and r.scores.get(q, 0.0) < possible:
            lines.append("Not graded.")
        out.append((q, r.scores.get(q, 0.0), possible, lines))
    return out


def render_markdown(r: Result) -> str:
    """The feedback of one submission as Markdown."""
    parts = [f"# {r.assignment}: feedback for {r.student}", ""]
    parts.append(f"**Score: {r.total:g} / {r.max:g}**" + (f" (handed in {r.submitted})" if r.submitted else ""))
    parts.append("")
    if _STATUS_TEXT.get(r.status):
        parts += [_STATUS_TEXT[r.status], ""]
    parts += ["| question | points |", "|---|---|"]
    for q, got, possible, _ in _questions(r):
        parts.append(f"| {q} | {got:g} / {possible:g} |")
    parts.append("")
    for q, got, possible, lines in _questions(r):
        if not lines:
            continue
        parts.append(f"## {q} ({got:g} / {possible:g})")
        parts.append("")
        parts += [f"- {line}" for line in lines]
        parts.append("")
    run = _run_lines(r)
    if run:
        parts += ["## About your notebook", ""] + [f"- {line}" for line in run] + [""]
    parts.append(f"Submission key: `{r.key}`")
    return "\n".join(parts) + "\n"


def render_html(r: Result) -> str:
    """The feedback of one submission as a small HTML page."""
    md = render_markdown(r)
    body = []
    for line in md.splitlines():
        esc = html.escape(line)
        esc = re.sub(r"`([^`]*)`", r"<code>\1</code>", esc)
        esc = re.sub(r"\*\*([^*]*)\*\*", r"<strong>\1</strong>", esc)
        if line.startswith("# "):
            body.append(f"<h1>{esc[2:]}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{esc[3:]}</h2>")
        elif line.startswith("- "):
            body.append(f"<li>{esc[2:]}</li>")
        elif line.startswith("|---"):
            continue
        elif line.startswith("| "):
            cells = [c.strip() for c in esc.strip("|").split("|")]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        elif line:
            body.append(f"<p>{esc}</p>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(r.assignment)}: {html.escape(r.student)}</title>"
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto}td{padding:2px 12px}"
        "code{background:#f2f4f7}</style></head><body>" + "\n".join(body) + "</body></html>\n"
    )


def _filename(student: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._-") or "student"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name


def write_feedback(grades: str | Path | Iterable[Result], out: str | Path, *, fmt: str = "md") -> list[Path]:
    """Write one feedback file per submission into ``out/<assignment>/``, and ``out/index.csv``.

    Parameters
    ----------
    grades : path or results
        The CSV written by ``tcpkit course grade`` (its ``.json`` beside it is read), or results.
    out : path
        Folder for the files.
    fmt : str
        ``md`` (Markdown) or ``html``.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ParameterError
        For an unknown format or a missing grades file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tcpkit.course.grade import write_results
    >>> top = pathlib.Path(tempfile.mkdtemp())
    >>> write_results([Result("ann", "hw1", "ann.ipynb", "0" * 64, {"q1": 2.0}, {"q1": 3.0})], top / "g.csv")
    >>> [p.relative_to(top).as_posix() for p in write_feedback(top / "g.csv", top / "fb")]
    ['fb/hw1/ann.md']
    """
    if fmt not in FORMATS:
        raise ParameterError("format", fmt, "one of " + ", ".join(FORMATS))
    results = read_results(grades) if isinstance(grades, str | Path) else list(grades)
    out = Path(out)
    written: list[Path] = []
    index = io.StringIO()
    w = csv.writer(index, lineterminator="\n")
    w.writerow(["key", "student", "assignment", "total", "max", "status", "file"])
    taken: dict[str, set[str]] = {}
    for r in sorted(results, key=lambda r: (r.assignment, r.student)):
        folder = out / re.sub(r"[^A-Za-z0-9._-]+", "_", r.assignment or "unknown")
        name = _filename(r.student, taken.setdefault(str(folder), set()))
        path = folder / f"{name}.{fmt}"
        text = render_markdown(r) if fmt == "md" else render_html(r)
        atomic_write(path, text.encode())
        written.append(path)
        w.writerow(
            [
                r.key,
                safe_cell(r.student),
                safe_cell(r.assignment),
                f"{r.total:g}",
                f"{r.max:g}",
                r.status,
                safe_cell(path.relative_to(out).as_posix()),
            ]
        )
    atomic_write(out / "index.csv", index.getvalue().encode())
    return written
