"""Grade a folder of submitted notebooks: each in its own sealed jail, scored in a separate process.

For every notebook :func:`grade_submission`

1. takes it in (:mod:`tcpkit.course.submissions`): a regular file, read
   without following links, decoded (a file that is not UTF-8 is read with
   a note), its code cells listed;
2. starts the scoring process (:mod:`tcpkit.course._checker`), which starts
   the submission's jail (:class:`tcpkit.course.sandbox.Jail`), has its
   cells run there one by one, receives the answers as data, and runs the
   public and hidden tests against them; function answers are called in the
   student's process, inside the jail;
3. turns the outcome into a :class:`Result`: per question points, a status
   and a one-line note that says why points were lost.

Every message between these processes is framed and authenticated with a
key made for this submission (:mod:`tcpkit.course.channel`), which the
student's process never has.

:func:`grade_folder` grades a whole folder with a pool of workers, resumes
from a cache, and writes three files: the CSV (one row per submission), a
JSON file with every detail (read by ``tcpkit course feedback``, ``report``
and ``gradebook``) and a log.

Examples
--------
>>> Limits(timeout=30, memory_mb=512).key()
'30/512/20/30/64/64/1000/16/35/auto'
>>> safe_cell("=1+2"), safe_cell("alice"), safe_cell("-3")
("'=1+2", 'alice', "'-3")
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tcpkit.engine.errors import ParameterError
from tcpkit.files import write_output

from .bundle import Bundle, find_bundles
from .channel import ChannelError, new_key, parse_frame
from .limits import Limits
from .messages import one_line
from .sandbox import describe_isolation, isolation
from .submissions import Refused, decode_notebook, find_submissions, read_regular, submitted_at

__all__ = [
    "Limits",
    "Result",
    "grade_submission",
    "grade_folder",
    "write_csv",
    "write_results",
    "read_results",
    "atomic_write",
    "safe_cell",
    "STATUSES",
    "GRADER_VERSION",
]

# Part of every cache key: bump when grading changes meaning.
GRADER_VERSION = "2"

#: Every status a row can have, and what it means (the README lists them too).
STATUSES = {
    "ok": "graded; every cell ran",
    "errors": "graded; some cells raised (the first are in the notes)",
    "timeout": "graded what was answered before the submission's time ran out or a cell hung",
    "limit": "graded what was answered before its processes passed the memory or CPU limit",
    "crashed": "graded what was answered before the notebook's process exited on its own",
    "too-large": "an answer or message was larger than allowed (named in the notes)",
    "no-answers": "the notebook set none of the answer names",
    "wrong-assignment": "the notebook's metadata names another assignment (graded against this one anyway)",
    "unknown-assignment": "no bundle matches the notebook's metadata or path: not graded",
    "refused": "not a regular file (a symbolic link, device, FIFO, folder): not graded",
    "unreadable": "not a notebook (not JSON, no cells, empty): not graded",
    "grader-error": "the grader itself failed (retried on the next run)",
}


@dataclass
class Result:
    """The grade of one submission (one CSV row) and everything needed to explain it."""

    student: str
    assignment: str
    file: str
    sha256: str
    scores: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    notes: list[str] = field(default_factory=list)
    cases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)
    isolation: str = ""
    submitted: str = ""
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return round(sum(self.scores.values()), 6)

    @property
    def max(self) -> float:
        return round(sum(self.possible.values()), 6)

    @property
    def key(self) -> str:
        """A stable key for this submission: the same student and the same file give the same key."""
        return hashlib.sha256(f"{self.student}\0{self.sha256}".encode()).hexdigest()[:12]

    @property
    def note(self) -> str:
        """The notes as one line."""
        return one_line("; ".join(self.notes), 1000)

    def failures(self, question: str) -> list[dict[str, Any]]:
        """The failed cases of a question."""
        return [c for c in self.cases.get(question, []) if not c.get("passed")]

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "student": self.student,
            "assignment": self.assignment,
            "file": self.file,
            "sha256": self.sha256,
            "scores": self.scores,
            "possible": self.possible,
            "total": self.total,
            "max": self.max,
            "status": self.status,
            "notes": self.notes,
            "cases": self.cases,
            "answers": self.answers,
            "run": self.run,
            "isolation": self.isolation,
            "submitted": self.submitted,
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Result:
        fields = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**fields)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _course_sources() -> list[str]:
    """Folders that hold solutions (the masters, and git history of a checkout): hidden from student code."""
    repo = Path(__file__).resolve().parents[2]
    return [str(repo / d) for d in ("course", ".git") if (repo / d).is_dir()]


_POSSIBLE: dict[str, dict[str, float]] = {}


def _possible(bundle: Bundle) -> dict[str, float]:
    if bundle.digest not in _POSSIBLE:
        _POSSIBLE[bundle.digest] = {q: bundle.possible(q) for q in bundle.questions}
    return _POSSIBLE[bundle.digest]


def _empty(bundle: Bundle | None, student: str, file: str, sha: str, status: str, note: str) -> Result:
    r = Result(student, bundle.name if bundle else "?", file, sha, status=status, notes=[note])
    if bundle is not None:
        r.possible = dict(_possible(bundle))
        r.scores = {q: 0.0 for q in bundle.questions}
    return r


def _checker_request(
    cells: list[str], text: str, bundle: Bundle, limits: Limits, mode: str, hide: list[str], key: bytes
) -> bytes:
    n_cases = sum(len(spec["suites"][0]["cases"]) for spec in bundle.tests.values())
    lifetime = limits.timeout + n_cases * limits.case_timeout + 30
    return json.dumps(
        {
            "key": key.hex(),
            "mode": mode,
            "notebook": text,
            "cells": cells,
            "names": bundle.names,
            "tests": bundle.tests,
            "hide": hide,
            "limits": {
                "timeout": limits.timeout,
                "cell_timeout": min(limits.cell_timeout, limits.timeout),
                "case_timeout": limits.case_timeout,
                "memory_mb": limits.memory_mb,
                "cpu_s": limits.cpu,
                "processes": limits.processes,
                "scratch_mb": limits.scratch_mb,
                "files": limits.files,
                "answer_mb": limits.answer_mb,
                "lifetime": lifetime,
            },
        }
    ).encode()


def _run_checker(request: bytes, key: bytes, backstop: float, memory_mb: int) -> dict[str, Any]:
    argv = [sys.executable, "-I", "-m", "tcpkit.course._checker"]
    prlimit = "/usr/bin/prlimit" if os.path.exists("/usr/bin/prlimit") else None
    if prlimit:
        argv = [prlimit, f"--as={memory_mb * 1024 * 1024}", "--core=0", "--", *argv]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    with tempfile.TemporaryDirectory(prefix="tcpkit-checker-") as tmp:
        env.update({"HOME": tmp, "TMPDIR": os.environ.get("TMPDIR", "/tmp")})
        proc = subprocess.Popen(
            argv,
            cwd=tmp,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(request, timeout=backstop)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, 9)
            proc.communicate()
            raise RuntimeError(f"the scoring process did not finish within {backstop:g} s") from None
    try:
        result = parse_frame(out, key, b"checker>grader")
    except ChannelError as exc:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        raise RuntimeError(f"the scoring process gave no authenticated result ({exc}): {tail[0][:300]}") from None
    if not isinstance(result, dict):
        raise RuntimeError("the scoring process gave a result that is not an object")
    if "error" in result:
        raise RuntimeError(str(result["error"]))
    return result


def grade_submission(
    notebook: str | Path,
    bundle: Bundle,
    *,
    limits: Limits = Limits(),
    student: str | None = None,
    hide: list[str] | None = None,
    data: bytes | None = None,
) -> Result:
    """Grade one notebook against one assignment.

    Parameters
    ----------
    notebook : path
        The submitted ``.ipynb`` (a regular file; a link is refused).
    bundle : Bundle
        From :func:`tcpkit.course.bundle.load_bundle`.
    limits : Limits
    student : str, optional
        Name for the CSV row (default: the file's stem).
    hide : list of str, optional
        Folders the student's process must not see (the bundle's folder and the course sources are added).
    data : bytes, optional
        The notebook's bytes when already read (safely) by the caller.

    Returns
    -------
    Result
        See :data:`STATUSES` for the statuses.

    Examples
    --------
    A real run takes a second or two (``tests/test_course_grading.py`` grades a
    hostile batch); the limits it runs under:

    >>> Limits(timeout=30, memory_mb=512).cpu
    35.0

    Notes
    -----
    The otter-grader documentation advises grading untrusted code in a
    container; this is done here with Linux namespaces where available
    (``user_namespaces(7)``); see :mod:`tcpkit.course.sandbox`.
    """
    path = Path(notebook)
    name = student or path.stem
    t0 = time.monotonic()
    try:
        if data is None:
            data, st = read_regular(path)
            when = submitted_at(st)
        else:
            when = submitted_at(os.lstat(path)) if path.exists() else ""
    except Refused as exc:
        r = _empty(bundle, name, str(path), "", "refused", str(exc))
        r.isolation = ""
        return r
    sha = _sha256(data)
    mode = isolation(limits.isolation)
    try:
        nb = decode_notebook(data)
    except Refused as exc:
        r = _empty(bundle, name, str(path), sha, "unreadable", str(exc))
        r.submitted = when
        r.isolation = _mode_label(mode)
        return r
    result = _empty(bundle, name, str(path), sha, "ok", "")
    result.notes = list(nb.notes)
    result.submitted = when
    result.isolation = _mode_label(mode)
    if nb.assignment and nb.assignment != bundle.name:
        result.status = "wrong-assignment"
        result.notes.insert(0, f"the notebook's metadata names {nb.assignment}, not {bundle.name} (wrong file?)")
    solutions = bundle.path.parent / f"{bundle.name}-solutions.ipynb"
    if solutions.is_file() and _sha256(solutions.read_bytes()) == sha:
        result.notes.insert(0, "identical to the solutions notebook of the grading folder")
    hidden = [*(hide or []), str(bundle.path.parent.resolve()), *_course_sources(), str(Path.home())]
    key = new_key()
    request = _checker_request(nb.cells, nb.text, bundle, limits, mode, hidden, key)
    n_cases = sum(len(spec["suites"][0]["cases"]) for spec in bundle.tests.values())
    backstop = limits.timeout + n_cases * limits.case_timeout + 120
    out = _run_checker(request, key, backstop, max(limits.memory_mb, 1024) + limits.answer_mb * 8 + 1024)
    _fill(result, out, bundle)
    result.seconds = round(time.monotonic() - t0, 3)
    return result


def _mode_label(mode: str) -> str:
    return "namespace" if mode == "namespace" else "FALLBACK (no user namespaces)"


_STOP_STATUS = {
    "budget": "timeout",
    "stuck": "timeout",
    "limit": "limit",
    "gone": "crashed",
    "too-large": "too-large",
}


def _fill(result: Result, out: dict[str, Any], bundle: Bundle) -> None:
    """Scores, status and notes of a result from the scoring process's report."""
    questions = out.get("questions", {})
    for q in bundle.questions:
        if q in questions:
            result.scores[q] = round(float(questions[q]["score"]), 6)
            result.possible[q] = round(float(questions[q]["possible"]), 6)
            result.cases[q] = list(questions[q]["cases"])
    result.answers = dict(out.get("answers", {}))
    run = dict(out.get("run", {}))
    run["names"] = {q: list(bundle.answers.get(q, [])) for q in bundle.questions}
    result.run = run
    notes: list[str] = []
    status = "ok"
    stopped = run.get("stopped")
    if stopped:
        status = _STOP_STATUS.get(str(stopped.get("status")), "crashed")
        where = f"in cell {stopped.get('cell')} of {run.get('cells')}" if stopped.get("cell") else "while starting"
        notes.append(f"stopped {where}: {stopped.get('why')}")
    calls_stopped = run.get("calls_stopped")
    if calls_stopped:
        if status == "ok":
            status = _STOP_STATUS.get(str(calls_stopped.get("status")), "crashed")
        notes.append(f"stopped during the tests, in {calls_stopped.get('call')}: {calls_stopped.get('why')}")
    errors = run.get("errors") or []
    if errors and status == "ok":
        status = "errors"
    for e in errors[:3]:
        notes.append(f"cell {e.get('cell')}, {e.get('error')}")
    if len(errors) > 3:
        notes.append(f"{len(errors) - 3} more cells raised")
    end = run.get("end") or {}
    if run.get("extra_names"):
        notes.append("names that are not answers were sent and dropped: " + ", ".join(run["extra_names"][:5]))
    if end.get("unexpected"):
        notes.append(
            f"{end['unexpected']} message(s) nobody asked for came from the notebook's process and were dropped"
        )
    if end.get("survivors"):
        notes.append(f"{end['survivors']} of its processes survived the end of grading")
    if all(result.answers.get(n, "missing") == "missing" for n in bundle.names) and status == "ok":
        status = "no-answers"
    # a reason for every question that earned nothing
    for q in bundle.questions:
        if result.scores.get(q, 0.0) == 0.0 and result.possible.get(q, 0.0) > 0:
            notes.append(f"{q}: {question_reason(result, q, bundle.answers.get(q, []))}")
    if result.status == "ok":
        result.status = status
    result.notes += notes


def question_reason(result: Result, question: str, names: list[str]) -> str:
    """Why a question earned nothing, in a few words (for the CSV note)."""
    states = {n: result.answers.get(n, "missing") for n in names}
    missing = [n for n, s in states.items() if s == "missing"]
    if names and len(missing) == len(names):
        return "not answered (" + ", ".join(names) + (" never set)" if len(names) > 1 else " is never set)")
    bad = [(n, s) for n, s in states.items() if s not in ("data", "function")]
    if bad:
        n, s = bad[0]
        return f"{n} {s}" if s != "missing" else f"{n} is never set"
    fails = result.failures(question)
    if not fails:
        return "no test passed"
    i = next((k for k, c in enumerate(result.cases.get(question, [])) if c is fails[0]), 0)
    label = f"test {i + 1}{' (hidden)' if fails[0].get('hidden') else ''}"
    return one_line(f"{label}: {fails[0].get('summary') or 'failed'}", 160)


def _assignment_of(path: Path, name: str | None, bundles: dict[str, Bundle]) -> Bundle | None:
    if name and name in bundles:
        return bundles[name]
    if len(bundles) == 1:
        return next(iter(bundles.values()))
    for bname, b in bundles.items():
        if bname in path.as_posix():
            return b
    return None


def grade_folder(
    submissions: str | Path,
    bundles: str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    limits: Limits = Limits(),
    cache: str | Path | None = None,
    progress: bool | Callable[[int, int, Result], None] = False,
) -> list[Result]:
    """Grade every ``*.ipynb`` below ``submissions``; write the CSV, a JSON of details and a log.

    Parameters
    ----------
    submissions : path
        Folder of notebooks (searched recursively, links not followed; ``.ipynb_checkpoints`` skipped).
    bundles : path
        Folder of autograder zips (``tcpkit course build`` writes ``grading/``) or one zip.
    out : path
        The CSV to write; ``<out>`` with ``.json`` and ``.log`` suffixes are written beside it.
    workers : int, optional
        Submissions graded at once (default: the machine's CPU count).
    limits : Limits
    cache : path, optional
        Folder of per-submission results (default: ``<out>.cache`` next to the CSV);
        a re-run reuses every result whose notebook, tests and limits are unchanged.
    progress : bool or callable
        True prints one line per graded submission; a callable gets ``(done, total, result)``.

    Returns
    -------
    list of Result
        In the CSV's order (by student).

    Raises
    ------
    ParameterError
        If a folder is missing or ``workers`` is not a positive integer.

    Examples
    --------
    >>> grade_folder("no/such/folder", "course-build/grading", "grades.csv")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter submissions = 'no/such/folder' is not allowed: expected a ...
    """
    root = Path(submissions)
    if not root.is_dir():
        raise ParameterError("submissions", str(root), "a folder of .ipynb files")
    nworkers = workers if workers is not None else (os.cpu_count() or 1)
    if isinstance(nworkers, bool) or not isinstance(nworkers, int) or nworkers < 1:
        raise ParameterError("workers", workers, "an integer >= 1")
    found = find_bundles(bundles)
    for b in found.values():
        _possible(b)  # once, before the workers start
    mode = isolation(limits.isolation)
    out = Path(out)
    cache_dir = Path(cache) if cache is not None else out.with_name(out.name + ".cache")
    cache_dir.mkdir(parents=True, exist_ok=True)
    entries = find_submissions(root)
    hide = [str(root.resolve()), str(cache_dir.resolve()), str(out.parent.resolve())]
    log = _Log(out.with_suffix(".log"))
    log.write(f"grading {len(entries)} submissions from {root} with {nworkers} workers")
    log.write(describe_isolation(mode))
    log.write(f"limits: {limits}")
    started = time.monotonic()
    done = [0]

    def one(entry: Any) -> Result:
        path, sid = entry.path, entry.student
        guess = _assignment_of(path, None, found)  # for the points possible of a row that is not graded
        if entry.refused:
            return _empty(guess, sid, str(path), "", "refused", entry.refused)
        try:
            data, st = read_regular(path)
        except Refused as exc:
            return _empty(guess, sid, str(path), "", "refused", str(exc))
        try:
            meta_name = decode_notebook(data).assignment
        except Refused:
            meta_name = None
        bundle = _assignment_of(path, meta_name, found)
        if bundle is None:
            said = f"its metadata names {meta_name!r}" if meta_name else "it names no assignment"
            r = _empty(
                None,
                sid,
                str(path),
                _sha256(data),
                "unknown-assignment",
                f"{said}; the bundles are: " + ", ".join(found),
            )
            r.submitted = submitted_at(st)
            return r
        key = _sha256(f"{GRADER_VERSION}|{bundle.digest}|{limits.key()}|{mode}|".encode() + data)
        entry_file = cache_dir / f"{key}.json"
        if entry_file.exists():
            try:
                cached = Result.from_json(json.loads(entry_file.read_text()))
                cached.student, cached.file, cached.submitted = sid, str(path), submitted_at(st)
                return cached
            except (ValueError, TypeError, KeyError):
                pass
        try:
            res = grade_submission(path, bundle, limits=limits, student=sid, hide=hide, data=data)
            res.submitted = submitted_at(st)
        except Exception as exc:  # one broken submission never stops the batch
            res = _empty(
                bundle, sid, str(path), _sha256(data), "grader-error", one_line(f"{type(exc).__name__}: {exc}", 300)
            )
            res.submitted = submitted_at(st)
            res.isolation = _mode_label(mode)
        if res.status not in ("grader-error", "refused"):
            atomic_write(entry_file, json.dumps(res.to_json(), sort_keys=True).encode())
        return res

    def tracked(entry: Any) -> Result:
        res = one(entry)
        done[0] += 1
        log.write(
            f"{res.student} [{res.key}] {res.assignment}: {res.total:g}/{res.max:g} {res.status} "
            f"({res.seconds:.1f} s){' - ' + res.note if res.notes else ''}"
        )
        if callable(progress):
            progress(done[0], len(entries), res)
        elif progress:
            print(f"{res.student}: {res.total:g}/{res.max:g} ({res.status})", flush=True)
        return res

    with ThreadPoolExecutor(max_workers=nworkers) as pool:
        results = list(pool.map(tracked, entries))
    results.sort(key=lambda r: (r.student, r.assignment))
    write_results(results, out, isolation=mode, limits=limits.key())
    log.write(f"done: {len(results)} submissions in {time.monotonic() - started:.1f} s; wrote {out}")
    return results


class _Log:
    """Appends time-stamped lines to the grading log (thread-safe enough: one write per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, line: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.path.open("a", encoding="utf-8") as f:
            f.write(f"{stamp} {line}\n")


def safe_cell(value: str) -> str:
    """A text cell that no spreadsheet reads as a formula (a leading ``'`` before ``= + - @``, tab or CR)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _columns(results: list[Result]) -> tuple[list[str], dict[tuple[str, str], str]]:
    assignments = sorted({r.assignment for r in results if r.possible})
    qualify = len(assignments) > 1
    columns: dict[str, None] = {}
    where: dict[tuple[str, str], str] = {}
    for r in results:
        for q in r.possible:
            col = f"{r.assignment}:{q}" if qualify else q
            columns.setdefault(col, None)
            where[(r.assignment, q)] = col
    return list(columns), where


def write_csv(results: list[Result], out: str | Path) -> None:
    """One row per submission; written atomically (a temporary file, then ``os.replace``).

    Columns: ``key, student, assignment``, one per question (``assignment:q1`` when several
    assignments share the file), ``total, max, status, notes, isolation, submitted, file, sha256``.
    Text cells that a spreadsheet would read as a formula start with ``'``.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "g.csv"
    >>> write_csv([Result("=cmd", "hw1", "x.ipynb", "0" * 64, {"q1": 2.0}, {"q1": 3.0})], out)
    >>> out.read_text().splitlines()[1].split(",")[:8]
    ['fcc5a3de82d6', "'=cmd", 'hw1', '2', '2', '3', 'ok', '']
    """
    qcols, where = _columns(results)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "key",
            "student",
            "assignment",
            *qcols,
            "total",
            "max",
            "status",
            "notes",
            "isolation",
            "submitted",
            "file",
            "sha256",
        ]
    )
    for r in results:
        by_col = {where[(r.assignment, q)]: s for q, s in r.scores.items() if (r.assignment, q) in where}
        w.writerow(
            [
                r.key,
                safe_cell(r.student),
                safe_cell(r.assignment),
                *(f"{by_col[c]:g}" if c in by_col else "" for c in qcols),
                f"{r.total:g}",
                f"{r.max:g}",
                r.status,
                safe_cell(r.note),
                safe_cell(r.isolation),
                r.submitted,
                safe_cell(r.file),
                r.sha256,
            ]
        )
    atomic_write(Path(out), buf.getvalue().encode())


def write_results(results: list[Result], out: str | Path, *, isolation: str = "", limits: str = "") -> None:
    """Write the CSV (:func:`write_csv`) and, beside it, the ``.json`` with every detail.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "grades.csv"
    >>> write_results([Result("ann", "hw1", "ann.ipynb", "0" * 64, {"q1": 2.0}, {"q1": 3.0})], out)
    >>> sorted(p.name for p in out.parent.iterdir())
    ['grades.csv', 'grades.json']
    """
    out = Path(out)
    write_csv(results, out)
    doc = {
        "version": 1,
        "isolation": isolation,
        "limits": limits,
        "graded": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "results": [r.to_json() for r in results],
    }
    atomic_write(out.with_suffix(".json"), json.dumps(doc, sort_keys=True).encode())


def read_results(path: str | Path) -> list[Result]:
    """The results written by :func:`grade_folder`, from the CSV's path (or the ``.json`` beside it).

    Raises
    ------
    ParameterError
        If there is no such file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "grades.csv"
    >>> write_results([Result("ann", "hw1", "ann.ipynb", "0" * 64, {"q1": 2.0}, {"q1": 3.0})], out)
    >>> [(r.student, r.total, r.max) for r in read_results(out)]
    [('ann', 2.0, 3.0)]
    """
    p = Path(path)
    j = p if p.suffix == ".json" else p.with_suffix(".json")
    if not j.is_file():
        raise ParameterError("grades", str(path), "the CSV written by 'tcpkit course grade' (with its .json beside it)")
    doc = json.loads(j.read_text(encoding="utf-8"))
    return [Result.from_json(d) for d in doc.get("results", [])]


def atomic_write(path: Path, data: bytes, inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Write ``data`` to ``path`` with :func:`tcpkit.files.write_output`: never over an input, never half a file.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> atomic_write(p, b"done")
    >>> p.read_bytes()
    b'done'
    >>> atomic_write(p, b"again", inputs=[p])
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter output = '...' is not allowed: expected a file that is not one ...
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    write_output(path, data, inputs=inputs)
