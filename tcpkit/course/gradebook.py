"""Gradebook export: the grades as CSV columns an LMS imports (Canvas, Gradescope).

:func:`export_gradebook` reads one or more grades files written by
``tcpkit course grade``, keeps each student's newest submission per
assignment (by submission time), applies a late penalty given as a rule,
joins a roster (every roster student gets a row: ``missing`` when there is
no submission) and writes:

``canvas``
    ``Student, ID, SIS User ID, SIS Login ID, Section``, one column per
    assignment, and a ``Points Possible`` row, the layout of Canvas's own
    gradebook export, which its gradebook import reads back (an assignment
    column whose name is not in Canvas creates a new assignment; name the
    column ``Homework 1 (12345)`` with ``columns`` to update an existing one).
``gradescope``
    one file per assignment with ``Name, SID, Email, Total Score, Max Points,
    Status, Submission Time, Lateness (H:M:S)``, the columns of Gradescope's
    score export.

Every text cell that a spreadsheet would read as a formula starts with ``'``.

Examples
--------
>>> rule = LateRule.parse("10%/day, max 50%, grace 15m")
>>> rule.penalty(10 * 60), rule.penalty(20 * 60), rule.penalty(3 * 86400), rule.penalty(30 * 86400)
(0.0, 0.1, 0.3, 0.5)
>>> LateRule.parse("10 percent per day")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter late rule = '10 percent per day' is not allowed: expected ...
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tcpkit.engine.errors import ParameterError

from .grade import Result, atomic_write, read_results, safe_cell

__all__ = ["LateRule", "Row", "export_gradebook", "GradebookExport", "FORMATS", "parse_time"]

FORMATS = ("canvas", "gradescope")
_UNITS = {
    "s": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
}
_RULE_HELP = (
    "comma-separated parts: 'P%/day' (or /hour, /minute: per started unit late), 'max P%', "
    "'grace N[m|h|d]', 'zero after N[m|h|d]', e.g. '10%/day, max 50%, grace 15m'"
)


@dataclass(frozen=True)
class LateRule:
    """How much a late submission loses: a share per started unit, a grace period, a cap, a cut-off."""

    per_unit: float = 0.0
    unit: float = 86400.0
    cap: float = 1.0
    grace: float = 0.0
    zero_after: float | None = None

    @classmethod
    def parse(cls, text: str) -> LateRule:
        """Read a rule such as ``"10%/day, max 50%, grace 15m, zero after 7d"``."""
        per, unit, cap, grace, zero = 0.0, 86400.0, 1.0, 0.0, None
        if not text.strip():
            raise ParameterError("late rule", text, _RULE_HELP)
        for part in (p.strip().lower() for p in text.split(",")):
            if m := re.fullmatch(r"(\d+(?:\.\d+)?)\s*%\s*(?:/|per)\s*(minute|min|hour|h|day|d|week|w)", part):
                per, unit = float(m.group(1)) / 100, float(_UNITS[m.group(2)])
            elif m := re.fullmatch(r"max(?:imum)?\s+(\d+(?:\.\d+)?)\s*%", part):
                cap = float(m.group(1)) / 100
            elif m := re.fullmatch(r"grace\s+(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)", part):
                grace = float(m.group(1)) * _UNITS[m.group(2)]
            elif m := re.fullmatch(r"zero\s+after\s+(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)", part):
                zero = float(m.group(1)) * _UNITS[m.group(2)]
            else:
                raise ParameterError("late rule", text, _RULE_HELP)
        if not 0 <= per <= 1 or not 0 <= cap <= 1:
            raise ParameterError("late rule", text, "percentages between 0% and 100%")
        return cls(per, unit, cap, grace, zero)

    def penalty(self, late_seconds: float) -> float:
        """The share of the score lost (0 to 1) for a submission ``late_seconds`` after the due time."""
        if late_seconds <= self.grace:
            return 0.0
        if self.zero_after is not None and late_seconds > self.zero_after:
            return 1.0
        units = math.ceil((late_seconds - self.grace) / self.unit)
        return round(min(self.cap, units * self.per_unit), 6)


def parse_time(text: str, what: str = "time") -> datetime:
    """An ISO 8601 time; without a time zone it is UTC.

    >>> parse_time("2025-03-01T23:59:00+08:00").isoformat()
    '2025-03-01T23:59:00+08:00'
    >>> parse_time("2025-03-01 12:00").tzinfo is UTC
    True
    """
    try:
        t = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ParameterError(what, text, "an ISO 8601 time such as 2025-03-01T23:59:00+08:00") from None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


@dataclass
class Row:
    """One student's line for one assignment."""

    student: str
    assignment: str
    score: float | None
    max: float
    status: str
    submitted: str = ""
    late_seconds: float = 0.0
    penalty: float = 0.0
    key: str = ""
    roster: dict[str, str] = field(default_factory=dict)
    replaced: int = 0  # older submissions of the same student set aside


@dataclass
class GradebookExport:
    """What :func:`export_gradebook` wrote and found."""

    files: list[Path]
    rows: list[Row]
    missing: list[str]
    not_in_roster: list[str]
    resubmissions: int
    late: int
    roster_key: str | None


_DEFAULT_ID = r"^(?P<id>[^/]+)"


def _identity(student: str, pattern: re.Pattern[str]) -> str:
    m = pattern.search(student)
    if m is None:
        return student
    return m.group("id") if "id" in pattern.groupindex else m.group(0)


def _read_roster(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError("roster", str(path), f"a readable UTF-8 CSV file ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in reader]
    if not reader.fieldnames or not rows:
        raise ParameterError("roster", str(path), "a CSV file with a header row and one row per student")
    return [f.strip() for f in reader.fieldnames], rows


def _pick(row: dict[str, str], *names: str) -> str:
    low = {k.lower(): v for k, v in row.items()}
    for n in names:
        if low.get(n.lower()):
            return low[n.lower()]
    return ""


def export_gradebook(
    grades: Sequence[str | Path] | str | Path,
    out: str | Path,
    *,
    fmt: str = "canvas",
    roster: str | Path | None = None,
    roster_key: str | None = None,
    id_pattern: str = _DEFAULT_ID,
    due: str | None = None,
    late: str | None = None,
    times: str | Path | None = None,
    missing_score: str = "0",
    columns: dict[str, str] | None = None,
) -> GradebookExport:
    """Write an LMS gradebook CSV from grades files.

    Parameters
    ----------
    grades : path or list of paths
        CSV files written by ``tcpkit course grade`` (each with its ``.json`` beside it).
    out : path
        The file to write (``gradescope``: one file per assignment, ``OUT-<assignment>.csv``
        when there are several).
    fmt : str
        ``canvas`` or ``gradescope``.
    roster : path, optional
        The class list as CSV (Canvas's gradebook export works as it is).  Every student in it
        gets a row; those without a submission are ``missing``.
    roster_key : str, optional
        The roster column holding the name used for submissions (default: the column that
        matches the most submissions).
    id_pattern : str
        Regular expression that takes the student's id out of a submission's name (its ``id``
        group, else the whole match); default: the first path component, so ``alice/try2``
        and ``alice`` are the same student.
    due : str, optional
        Due time, ISO 8601 (without a time zone: UTC).
    late : str, optional
        Late rule (see :class:`LateRule`); needs ``due``.
    times : path, optional
        CSV with ``student,submitted`` columns giving submission times that override the file
        times recorded by ``grade`` (use the LMS's times when files were downloaded, not collected).
    missing_score : str
        Score written for roster students without a submission (default ``0``; ``""`` leaves it blank).
    columns : dict, optional
        Assignment name -> column name in the export.

    Returns
    -------
    GradebookExport

    Raises
    ------
    ParameterError
        For an unknown format, a bad late rule, a late rule without a due time, an unreadable roster.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tcpkit.course.grade import write_results
    >>> top = pathlib.Path(tempfile.mkdtemp())
    >>> ann = Result("ann", "hw1", "ann.ipynb", "0" * 64, {"q1": 8.0}, {"q1": 10.0}, submitted="2025-03-02T12:00:00Z")
    >>> write_results([ann], top / "g.csv")
    >>> ex = export_gradebook(top / "g.csv", top / "canvas.csv", due="2025-03-01T12:00:00Z", late="10%/day")
    >>> print((top / "canvas.csv").read_text().strip())
    Student,ID,SIS User ID,SIS Login ID,Section,hw1
    Points Possible,,,,,10
    ann,,,ann,,7.2
    """
    if fmt not in FORMATS:
        raise ParameterError("format", fmt, "one of " + ", ".join(FORMATS))
    rule = LateRule.parse(late) if late else None
    if rule is not None and due is None:
        raise ParameterError("late rule", late, "a due time as well (--due)")
    due_at = parse_time(due, "due") if due else None
    try:
        pattern = re.compile(id_pattern)
    except re.error as exc:
        raise ParameterError("id pattern", id_pattern, f"a regular expression ({exc})") from None
    files = [grades] if isinstance(grades, str | Path) else list(grades)
    results: list[Result] = []
    for f in files:
        results += read_results(f)
    override: dict[str, str] = {}
    if times is not None:
        _, trows = _read_roster(Path(times))
        for t in trows:
            who, when = _pick(t, "student", "name", "login"), _pick(t, "submitted", "time", "timestamp")
            if who and when:
                override[who] = parse_time(when, "submission time").astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    maxes: dict[str, float] = {}
    for r in results:
        if r.max:
            maxes[r.assignment] = max(maxes.get(r.assignment, 0.0), r.max)
    # newest submission per (student, assignment)
    best: dict[tuple[str, str], Row] = {}
    resubmissions = 0
    for r in results:
        who = _identity(r.student, pattern)
        submitted = override.get(r.student, override.get(who, r.submitted))
        row = Row(who, r.assignment, r.total, r.max or maxes.get(r.assignment, 0.0), r.status, submitted, key=r.key)
        k = (who, r.assignment)
        if k in best:
            resubmissions += 1
            older, newer = sorted([best[k], row], key=lambda x: (x.submitted, x.key))
            newer.replaced = older.replaced + 1
            best[k] = newer
        else:
            best[k] = row
    late_count = 0
    for row in best.values():
        if rule is not None and due_at is not None and row.submitted and row.score is not None:
            lateness = (parse_time(row.submitted) - due_at).total_seconds()
            if lateness > 0:
                row.late_seconds = lateness
                row.penalty = rule.penalty(lateness)
                row.score = round(row.score * (1 - row.penalty), 4)
                late_count += 1
    assignments = sorted({a for _, a in best} | set(maxes))
    roster_rows: list[dict[str, str]] = []
    key_col = None
    missing: list[str] = []
    not_in_roster: list[str] = []
    if roster is not None:
        header, roster_rows = _read_roster(Path(roster))
        ids = {who for who, _ in best}
        if roster_key is not None:
            if roster_key not in header:
                raise ParameterError("roster key", roster_key, "a column of the roster: " + ", ".join(header))
            key_col = roster_key
        else:
            key_col = max(header, key=lambda c: sum(1 for e in roster_rows if e.get(c) in ids))
        known = {e.get(key_col, "") for e in roster_rows}
        not_in_roster = sorted(ids - known)
        for entry in roster_rows:
            who = entry.get(key_col, "")
            for a in assignments:
                if (who, a) not in best:
                    best[(who, a)] = Row(who, a, None, maxes.get(a, 0.0), "missing")
                    missing.append(f"{who} ({a})")
                best[(who, a)].roster = entry
        best = {k: v for k, v in best.items() if k[0] in known}
    rows = sorted(best.values(), key=lambda x: (x.assignment, x.student))
    out = Path(out)
    written = (_canvas if fmt == "canvas" else _gradescope)(rows, assignments, maxes, out, missing_score, columns or {})
    return GradebookExport(written, rows, missing, not_in_roster, resubmissions, late_count, key_col)


def _score(row: Row, missing_score: str) -> str:
    if row.score is None:
        return missing_score
    return f"{row.score:g}"


def _canvas(
    rows: list[Row], assignments: list[str], maxes: dict[str, float], out: Path, missing: str, columns: dict[str, str]
) -> list[Path]:
    students: dict[str, dict[str, Row]] = {}
    for row in rows:
        students.setdefault(row.student, {})[row.assignment] = row
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *(columns.get(a, a) for a in assignments)])
    w.writerow(["Points Possible", "", "", "", "", *(f"{maxes.get(a, 0):g}" for a in assignments)])
    for who in sorted(students):
        by = students[who]
        r = next(iter(by.values())).roster
        w.writerow(
            [
                safe_cell(_pick(r, "Student", "Name", "Full Name") or who),
                safe_cell(_pick(r, "ID")),
                safe_cell(_pick(r, "SIS User ID", "SID", "Student ID")),
                safe_cell(_pick(r, "SIS Login ID", "Login", "Username") or who),
                safe_cell(_pick(r, "Section")),
                *(_score(by[a], missing) if a in by else "" for a in assignments),
            ]
        )
    atomic_write(out, buf.getvalue().encode())
    return [out]


def _hms(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _gradescope(
    rows: list[Row], assignments: list[str], maxes: dict[str, float], out: Path, missing: str, columns: dict[str, str]
) -> list[Path]:
    written = []
    for a in assignments:
        path = out if len(assignments) == 1 else out.with_name(f"{out.stem}-{a}{out.suffix or '.csv'}")
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(
            ["Name", "SID", "Email", "Total Score", "Max Points", "Status", "Submission Time", "Lateness (H:M:S)"]
        )
        for row in (r for r in rows if r.assignment == a):
            status = "Missing" if row.status == "missing" else ("Late" if row.late_seconds > 0 else "Graded")
            w.writerow(
                [
                    safe_cell(_pick(row.roster, "Name", "Full Name", "Student") or row.student),
                    safe_cell(_pick(row.roster, "SID", "Student ID", "SIS User ID")),
                    safe_cell(_pick(row.roster, "Email", "E-mail")),
                    _score(row, missing),
                    f"{row.max or maxes.get(a, 0):g}",
                    status,
                    row.submitted,
                    _hms(row.late_seconds),
                ]
            )
        atomic_write(path, buf.getvalue().encode())
        written.append(path)
    return written
