"""Grade a folder of submitted notebooks: each in its own jailed process, then scored elsewhere.

For every notebook :func:`grade_submission` does two runs:

1. **student run** (:mod:`tcpkit.course._student`, jailed by
   :mod:`tcpkit.course.sandbox`): a fresh temporary folder that holds only the
   notebook, a time limit, a memory limit; the cells run and the values of
   the answer names come back as tagged JSON (:mod:`tcpkit.course.codec`).
2. **scoring run** (:mod:`tcpkit.course._checker`): a *separate* fresh
   process gets the answers and the assignment's tests (public and hidden,
   read from the autograder zip by this process and sent over a pipe) and
   scores them with otter's test runner.  Function answers are called in a
   third, jailed process.

So student code never shares an interpreter with the tests, never sees the
hidden tests on its disk, and cannot write a score: scores only come out of
the scoring run.  :func:`grade_folder` runs submissions in parallel (threads
that wait on those child processes), keeps a result per submission in a
cache keyed by the notebook's SHA-256 (plus the tests and limits), and writes
the CSV atomically (temporary file + ``os.replace``).

Examples
--------
>>> student_id(Path("subs/alice.ipynb"), Path("subs"))
'alice'
>>> student_id(Path("subs/bob/hw1_handshake.ipynb"), Path("subs"))
'bob/hw1_handshake'
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcpkit.engine.errors import ParameterError

from .bundle import Bundle, find_bundles
from .sandbox import isolation, run_limited

__all__ = ["Limits", "grade_submission", "grade_folder", "write_csv", "student_id", "GRADER_VERSION"]

#: Part of every cache key: bump when grading changes meaning.
GRADER_VERSION = "1"
FRAME = "TCPKIT-ANSWERS "


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits of one submission.

    Attributes
    ----------
    timeout : float
        Wall-clock seconds for running the student's notebook.
    memory_mb : int
        Address-space limit of the student's process (and of its function sandbox).
    cell_timeout : float
        Seconds one cell may run before it is interrupted (the next cell still runs).
    case_timeout : float
        Seconds one test case may run in the scoring process.
    """

    timeout: float = 60.0
    memory_mb: int = 1024
    cell_timeout: float = 20.0
    case_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("timeout", "cell_timeout", "case_timeout"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
                raise ParameterError(name, v, "a number of seconds > 0")
        if isinstance(self.memory_mb, bool) or not isinstance(self.memory_mb, int) or self.memory_mb < 128:
            raise ParameterError("memory_mb", self.memory_mb, "an integer number of megabytes >= 128")

    def key(self) -> str:
        return f"{self.timeout:g}/{self.memory_mb}/{self.cell_timeout:g}/{self.case_timeout:g}"


@dataclass
class Result:
    """The grade of one submission (one CSV row)."""

    student: str
    assignment: str
    file: str
    sha256: str
    scores: dict[str, float] = field(default_factory=dict)
    possible: dict[str, float] = field(default_factory=dict)
    status: str = "ok"
    notes: str = ""
    failures: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return round(sum(self.scores.values()), 6)

    @property
    def max(self) -> float:
        return round(sum(self.possible.values()), 6)

    def to_json(self) -> dict[str, Any]:
        return {
            "student": self.student,
            "assignment": self.assignment,
            "file": self.file,
            "sha256": self.sha256,
            "scores": self.scores,
            "possible": self.possible,
            "status": self.status,
            "notes": self.notes,
            "failures": self.failures,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Result:
        return cls(**d)


def student_id(path: Path, root: Path) -> str:
    """The student's name for a notebook: its path below ``root`` without ``.ipynb``."""
    return path.relative_to(root).with_suffix("").as_posix()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _last_frame(stdout: bytes) -> dict[str, Any] | None:
    frame = None
    for line in stdout.decode("utf-8", "replace").splitlines():
        if line.startswith(FRAME):
            try:
                obj = json.loads(line[len(FRAME) :])
            except ValueError:
                continue
            if isinstance(obj, dict) and isinstance(obj.get("answers"), dict):
                frame = obj
    return frame


def _course_sources() -> list[str]:
    """Folders that hold solutions (the masters, and git history of a checkout): hidden from student code."""
    repo = Path(__file__).resolve().parents[2]
    return [str(repo / d) for d in ("course", ".git") if (repo / d).is_dir()]


def grade_submission(
    notebook: str | Path,
    bundle: Bundle,
    *,
    limits: Limits = Limits(),
    student: str | None = None,
    hide: list[str] | None = None,
) -> Result:
    """Grade one notebook against one assignment.

    Parameters
    ----------
    notebook : path
        The submitted ``.ipynb``.
    bundle : Bundle
        From :func:`tcpkit.course.bundle.load_bundle`.
    limits : Limits
    student : str, optional
        Name for the CSV row (default: the file's stem).
    hide : list of str, optional
        Folders the student's process must not see (the jail adds the course sources).

    Returns
    -------
    Result
        ``status`` is ``ok``, ``errors`` (some cells raised), ``timeout``,
        ``no-answers`` (the notebook never produced any) or ``grader-error``.

    Examples
    --------
    A real run takes seconds (``tests/test_course.py`` grades a dozen
    notebooks); the limits it runs under:

    >>> Limits(timeout=30, memory_mb=512).key()
    '30/512/20/30'

    Notes
    -----
    The two-process design follows the advice of the otter-grader docs to
    grade untrusted code in a container, done here with Linux namespaces
    (``user_namespaces(7)``) when available; see :mod:`tcpkit.course.sandbox`.
    """
    path = Path(notebook)
    data = path.read_bytes()
    result = Result(student=student or path.stem, assignment=bundle.name, file=str(path), sha256=_sha256(data))
    possible = _possible(bundle)
    result.scores = {q: 0.0 for q in bundle.questions}
    result.possible = dict(possible)
    hidden = [*(hide or []), str(bundle.path.parent.resolve()), *_course_sources()]
    request = {"names": bundle.names, "cell_timeout": limits.cell_timeout}
    run = run_limited(
        [sys.executable, "-I", "-m", "tcpkit.course._student"],
        timeout=limits.timeout,
        memory_mb=limits.memory_mb,
        stdin=json.dumps(request).encode(),
        files={"submission.ipynb": data},
        hide=hidden,
        jail=True,
    )
    frame = _last_frame(run.stdout)
    notes: list[str] = []
    if run.timed_out:
        result.status = "timeout"
        notes.append(f"the notebook ran longer than {limits.timeout:g} s and was stopped")
    if run.truncated:
        notes.append("output was cut")
    if frame is None:
        if not run.timed_out:
            result.status = "no-answers"
            notes.append(
                "the notebook produced no answers" + (f" (exit code {run.returncode})" if run.returncode else "")
            )
        result.notes = "; ".join(notes)
        return result
    errors = frame.get("errors") or []
    if errors and result.status == "ok":
        result.status = "errors"
    for e in errors[:3]:
        if isinstance(e, dict):
            notes.append(f"cell {e.get('cell')}: {str(e.get('error'))[:120]}")
    if not run.timed_out and frame.get("cells_run") != frame.get("cells"):
        notes.append(f"stopped after cell {frame.get('cells_run')} of {frame.get('cells')}")
        if result.status == "ok":
            result.status = "errors"
    check_request = {
        "tests": bundle.tests,
        "answers": frame["answers"],
        "functions": [f for f in frame.get("functions", []) if f in bundle.names],
        "definitions": str(frame.get("definitions", "")),
        "memory_mb": limits.memory_mb,
        "case_timeout": limits.case_timeout,
        "jail": True,
        "hide": hidden,
    }
    n_cases = sum(len(spec["suites"][0]["cases"]) for spec in bundle.tests.values())
    checked = run_limited(
        [sys.executable, "-I", "-m", "tcpkit.course._checker"],
        timeout=limits.case_timeout * n_cases + 60,
        memory_mb=max(limits.memory_mb, 1024) + 512,
        stdin=json.dumps(check_request).encode(),
    )
    try:
        scored = json.loads(checked.stdout.decode().strip().splitlines()[-1])["questions"]
    except (ValueError, IndexError, KeyError):
        result.status = "grader-error"
        notes.append("scoring failed: " + checked.stderr.decode("utf-8", "replace")[-300:].replace("\n", " | "))
        result.notes = "; ".join(notes)
        return result
    for q in bundle.questions:
        if q in scored:
            result.scores[q] = round(float(scored[q]["score"]), 6)
            result.possible[q] = round(float(scored[q]["possible"]), 6)
            fails = [
                f"{f['case']}{' (hidden)' if f['hidden'] else ''}: {f['message'][-300:]}" for f in scored[q]["failed"]
            ]
            if fails:
                result.failures[q] = fails
    result.notes = "; ".join(notes)
    return result


_POSSIBLE: dict[str, dict[str, float]] = {}


def _possible(bundle: Bundle) -> dict[str, float]:
    if bundle.digest not in _POSSIBLE:
        _POSSIBLE[bundle.digest] = {q: bundle.possible(q) for q in bundle.questions}
    return _POSSIBLE[bundle.digest]


def _assignment_of(path: Path, data: bytes, bundles: dict[str, Bundle]) -> Bundle | None:
    if len(bundles) == 1:
        return next(iter(bundles.values()))
    try:
        meta = json.loads(data).get("metadata", {}).get("otter", {})
        name = meta.get("assignment_name") if isinstance(meta, dict) else None
    except (ValueError, AttributeError):
        name = None
    if isinstance(name, str) and name in bundles:
        return bundles[name]
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
    progress: bool = False,
) -> list[Result]:
    """Grade every ``*.ipynb`` below ``submissions`` and write ``out`` (CSV).

    Parameters
    ----------
    submissions : path
        Folder of notebooks (searched recursively; ``.ipynb_checkpoints`` skipped).
    bundles : path
        Folder of autograder zips (``tcpkit course build`` writes ``grading/``) or one zip.
    out : path
        The CSV to write.
    workers : int, optional
        Submissions graded at once (default: the machine's CPU count).
    limits : Limits
    cache : path, optional
        Folder of per-submission results (default: ``<out>.cache`` next to the CSV);
        a re-run reuses every result whose notebook, tests and limits are unchanged.
    progress : bool
        Print one line per graded submission.

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
    out = Path(out)
    cache_dir = Path(cache) if cache is not None else out.with_name(out.name + ".cache")
    cache_dir.mkdir(parents=True, exist_ok=True)
    notebooks = sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    hide = [str(root.resolve()), str(cache_dir.resolve())]

    def one(path: Path) -> Result:
        data = path.read_bytes()
        sid = student_id(path, root)
        bundle = _assignment_of(path, data, found)
        if bundle is None:
            return Result(
                sid,
                "?",
                str(path),
                _sha256(data),
                status="unknown-assignment",
                notes="assignments: " + ", ".join(found),
            )
        key = _sha256(f"{GRADER_VERSION}|{bundle.digest}|{limits.key()}|".encode() + data)
        entry = cache_dir / f"{key}.json"
        if entry.exists():
            try:
                cached = Result.from_json(json.loads(entry.read_text()))
                cached.student, cached.file = sid, str(path)
                return cached
            except (ValueError, TypeError):
                pass
        try:
            res = grade_submission(path, bundle, limits=limits, student=sid, hide=hide)
        except Exception as exc:  # one broken submission never stops the batch
            res = Result(
                sid,
                bundle.name,
                str(path),
                _sha256(data),
                status="grader-error",
                notes=f"{type(exc).__name__}: {exc}"[:300],
            )
        if res.status != "grader-error":
            _atomic_write(entry, json.dumps(res.to_json(), sort_keys=True).encode())
        if progress:
            print(f"{sid}: {res.total:g}/{res.max:g} ({res.status})", flush=True)
        return res

    with ThreadPoolExecutor(max_workers=nworkers) as pool:
        results = list(pool.map(one, notebooks))
    results.sort(key=lambda r: (r.student, r.assignment))
    write_csv(results, out)
    return results


def write_csv(results: list[Result], out: str | Path) -> None:
    """One row per submission: student, assignment, one column per question, total, max, status, notes.

    Written atomically: a temporary file in the same folder, then ``os.replace``.

    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "g.csv"
    >>> write_csv([Result("ann", "hw1", "ann.ipynb", "0" * 64, {"q1": 2.0}, {"q1": 3.0})], out)
    >>> out.read_text().splitlines()[1]
    'ann,hw1,2,2,3,ok,,0000000000000000000000000000000000000000000000000000000000000000'
    """
    questions: dict[str, None] = {}
    for r in results:
        for q in r.possible:
            questions.setdefault(q, None)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student", "assignment", *questions, "total", "max", "status", "notes", "sha256"])
    for r in results:
        w.writerow(
            [
                r.student,
                r.assignment,
                *(f"{r.scores[q]:g}" if q in r.scores else "" for q in questions),
                f"{r.total:g}",
                f"{r.max:g}",
                r.status,
                r.notes,
                r.sha256,
            ]
        )
    _atomic_write(Path(out), buf.getvalue().encode())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def describe_isolation() -> str:
    """One line for the grade command's output.

    >>> describe_isolation().startswith("isolation: ")
    True
    """
    level = isolation()
    if level == "namespace":
        return "isolation: namespace jail (read-only file system, private tmpfs, no network, own PID namespace)"
    return (
        "isolation: rlimit only (user namespaces unavailable): student code runs as this user; "
        "grade on a throwaway machine or container"
    )
