"""Grading a hostile batch: exact scores, a reason for every zero, nothing outside the jail changed.

The batch (tests/data/submissions plus files made here: a symbolic link to the solutions, a FIFO,
a 5 MB literal, a copy of the solutions) is graded once in the namespace jail; a smaller batch is
graded again in the forced fallback mode.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from test_course_support import (
    HW,
    SUBMISSIONS,
    built_hw1,
    make_bundle,
    marker_hits,
    perfect_cells,
    places_outside_the_jail,
    sleepers,
    snapshot,
    write_notebook,
)

import tcpkit
from tcpkit.course import Limits, load_bundle, read_results
from tcpkit.course import grade as grade_mod
from tcpkit.course.grade import grade_submission
from tcpkit.course.sandbox import isolation

LIMITS = Limits(timeout=10, memory_mb=1024, cell_timeout=2, case_timeout=20)
FULL = {"q1": 3, "q2": 2, "q3": 2, "q4": 3}
ZERO = {"q1": 0, "q2": 0, "q3": 0, "q4": 0}

# What each submission deserves: scores, status (None: ok or errors), words its note must contain.
# Points are split evenly over a question's test cases (public and hidden): q1 has 5 cases, q2 2, q3 4, q4 4.
EXPECTED: dict[str, tuple[dict[str, float], str | None, list[str]]] = {
    "perfect": (FULL, "ok", []),
    # right q1; q2 only in shape (public case); q3 one of three hidden; q4 ignores rto (case 2 fails)
    "partial": ({"q1": 3, "q2": 1, "q3": 1, "q4": 2.25}, "ok", []),
    # the loop ignores the interrupt: stopped there; answers from the cells before it still count
    "infinite_loop": ({"q1": 3, "q2": 2, "q3": 0, "q4": 0}, "timeout", ["stopped in cell 5 of 7", "q3: not answered"]),
    "exception_first_cell": (FULL, "errors", ["cell 1, line 1: RuntimeError: boom in the first cell"]),
    "huge_output": (FULL, "ok", []),
    "memory_hog": (FULL, "errors", ["cell 3, line 1: MemoryError"]),
    "not_json": (ZERO, "unreadable", ["not a notebook: not JSON"]),
    # wrong answers with the checks, tcpkit and otter patched: only honest shape checks pass
    "monkeypatch": ({"q1": 0, "q2": 1, "q3": 0, "q4": 0.75}, "ok", ["q1: test 1", "q3: q3_a is not plain data"]),
    # its recursive glob may be interrupted by the cell time limit; either way it changes nothing
    "file_vandal": (FULL, None, []),
    # q2 is right only if it found hidden tests or solutions: it must not
    "read_hidden_tests": ({"q1": 3, "q2": 1, "q3": 2, "q4": 3}, "ok", []),
    # its fake results and answer lines go nowhere; its own (wrong) answers count
    "fake_score": ({"q1": 0, "q2": 1, "q3": 1, "q4": 0}, "ok", ["nobody asked for", "q4: synack_giveup is never set"]),
    "mount_vandal": (FULL, "ok", []),
    "sleepers": (FULL, "ok", []),
    # forged frames (old and new format, perfect answers, extra names) are dropped; its own answers count
    "forged_frame": ({"q1": 0.6, "q2": 2, "q3": 1, "q4": 0}, "ok", ["nobody asked for"]),
    "decorated": (FULL, "ok", []),
    "big_literal": (FULL, "ok", []),
    "=1+2": ({"q1": 3, "q2": 1, "q3": 0, "q4": 0}, "ok", ["q3: not answered", "q4: not answered"]),
    "latin1": (FULL, "ok", ["not UTF-8 (byte 0xe9"]),
    "wrong_assignment": (ZERO, "wrong-assignment", ["metadata names hw2_isn, not hw1_handshake", "q1: not answered"]),
    "symlinked": (ZERO, "refused", ["a symbolic link (to", "hw1_handshake-solutions.ipynb"]),
    "fifo": (ZERO, "refused", ["a FIFO (named pipe), not a regular file"]),
    "copied_solutions": (FULL, "ok", ["identical to the solutions notebook"]),
}
#: graded again with the fallback forced (nothing here harms the machine outside a jail)
FALLBACK_BATCH = ["perfect", "partial", "sleepers", "decorated", "forged_frame", "exception_first_cell"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _make_batch(subs: Path, built: Path, names: list[str]) -> None:
    subs.mkdir(parents=True)
    for name in names:
        src = SUBMISSIONS / f"{name}.ipynb"
        if src.exists():
            shutil.copy(src, subs / src.name)
    if "big_literal" in names:  # a 5 MB string literal, then the answers
        cells = perfect_cells()
        cells.insert(2, "SPLASH = '" + "tcp" * (5 * 2**20 // 3) + "'\nassert len(SPLASH) > 5_000_000")
        write_notebook(subs / "big_literal.ipynb", cells)
    if "symlinked" in names:
        (subs / "symlinked.ipynb").symlink_to(built / "grading" / f"{HW}-solutions.ipynb")
    if "fifo" in names:
        os.mkfifo(subs / "fifo.ipynb")
    if "copied_solutions" in names:
        shutil.copy(built / "grading" / f"{HW}-solutions.ipynb", subs / "copied_solutions.ipynb")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_hw1(tmp_path_factory)


@pytest.fixture(scope="module")
def batch(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    if isolation() != "namespace":
        pytest.skip(f"the hostile batch runs only in the namespace jail (this machine: {isolation()!r})")
    work = tmp_path_factory.mktemp("batch")
    subs = work / "submissions"
    _make_batch(subs, built, list(EXPECTED))
    watched = [
        *sorted(Path(tcpkit.__file__).parent.rglob("*.py")),
        *sorted(p for p in subs.iterdir() if p.is_file() and not p.is_symlink() and p.name != "fifo.ipynb"),
        *sorted((built / "grading").iterdir()),
    ]
    before = {p: _sha(p) for p in watched}
    places = places_outside_the_jail()
    shot = snapshot(places)
    out = work / "out" / "grades.csv"
    results = grade_mod.grade_folder(subs, built / "grading", out, workers=2, limits=LIMITS)
    return {
        "results": {r.student: r for r in results},
        "out": out,
        "subs": subs,
        "before": before,
        "built": built,
        "places": places,
        "shot": shot,
        "after": snapshot(places),
    }


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_hostile_submission_gets_exactly_what_its_answers_deserve(batch: dict, student: str) -> None:
    r = batch["results"][student]
    scores, status, words = EXPECTED[student]
    assert r.scores == pytest.approx(scores, abs=1e-4), (r.notes, r.cases)
    assert r.max == 10  # also for rows that were not graded
    if status is None:
        assert r.status in ("ok", "errors") and all("Interrupted" in n for n in r.notes), r.notes
    else:
        assert r.status == status, r.notes
    for w in words:
        assert w in r.note, (w, r.note)
    if not words and status == "ok":
        assert r.notes == [], r.notes


def test_every_zero_and_every_trouble_has_a_reason(batch: dict) -> None:
    for r in batch["results"].values():
        if r.status != "ok" or r.total == 0:
            assert r.note, r.student
        for q, s in r.scores.items():
            if s == 0 and r.status not in ("refused", "unreadable"):
                assert f"{q}:" in r.note, (r.student, q, r.note)


def test_nothing_outside_the_jail_changed(batch: dict) -> None:
    # no file anywhere a submission tried to write (every mount point, /dev, /dev/shm, /run,
    # /sys/fs/cgroup, HOME, the repository, /tmp) carries the vandal's mark
    assert marker_hits(batch["shot"], batch["after"]) == []
    assert not Path("/dev/TCPKIT-VANDAL-5f1c.bin").exists()
    for path, digest in batch["before"].items():
        assert path.exists() and _sha(path) == digest, path
    assert not (batch["subs"] / "grades.csv").exists()
    assert "/" in {str(p) for p in batch["places"]} and len(batch["places"]) > 10


def test_detached_sleepers_do_not_outlive_grading(batch: dict) -> None:
    assert batch["results"]["sleepers"].total == 10
    assert sleepers() == []
    end = batch["results"]["sleepers"].run["end"]
    assert end["peak_processes"] >= 51 and end["survivors"] == 0  # they did start, and none is left


def test_csv_rows_have_a_stable_key_and_cells_no_spreadsheet_runs(batch: dict) -> None:
    with batch["out"].open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0])[:8] == ["key", "student", "assignment", "q1", "q2", "q3", "q4", "total"]
    by = {r["student"]: r for r in rows}
    assert "'=1+2" in by and "=1+2" not in by
    formula = by["'=1+2"]
    assert formula["key"] == batch["results"]["=1+2"].key and len(formula["key"]) == 12
    assert (by["symlinked"]["total"], by["symlinked"]["max"], by["symlinked"]["status"]) == ("0", "10", "refused")
    assert all(r["isolation"] == "namespace" for r in rows if r["status"] not in ("refused",))
    assert all(not r[c].startswith(("=", "+", "-", "@")) for r in rows for c in r)
    # the same student and file always give the same key
    assert (
        batch["results"]["perfect"].key == grade_mod.Result("perfect", HW, "", batch["results"]["perfect"].sha256).key
    )
    details = read_results(batch["out"])
    assert {d.key for d in details} == {r["key"] for r in rows}
    log = batch["out"].with_suffix(".log").read_text()
    assert "isolation: namespace jail" in log and "perfect [" in log


def test_a_rerun_resumes_from_the_cache_without_regrading(batch: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    first = batch["out"].read_text()

    def regrade(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished submission was graded again")

    monkeypatch.setattr(grade_mod, "grade_submission", regrade)
    again = grade_mod.grade_folder(batch["subs"], batch["built"] / "grading", batch["out"], workers=2, limits=LIMITS)
    assert batch["out"].read_text() == first
    assert {r.student: r.status for r in again}["fifo"] == "refused"


# ----------------------------------------------------------------------------- fallback mode


@pytest.fixture(scope="module")
def fallback(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("fallback")
    subs = work / "submissions"
    _make_batch(subs, built, FALLBACK_BATCH)
    out = work / "grades.csv"
    limits = Limits(timeout=10, memory_mb=1024, cell_timeout=2, case_timeout=20, isolation="fallback")
    results = grade_mod.grade_folder(subs, built / "grading", out, workers=2, limits=limits)
    return {"results": {r.student: r for r in results}, "out": out}


@pytest.mark.parametrize("student", FALLBACK_BATCH)
def test_the_fallback_grades_the_same(fallback: dict, student: str) -> None:
    r = fallback["results"][student]
    scores, status, words = EXPECTED[student]
    assert r.scores == pytest.approx(scores, abs=1e-4), r.notes
    assert r.status == status and all(w in r.note for w in words), r.notes
    assert r.isolation == "FALLBACK (no user namespaces)"


def test_the_fallback_says_so_loudly_and_kills_every_descendant(fallback: dict) -> None:
    with fallback["out"].open() as f:
        rows = list(csv.DictReader(f))
    assert {r["isolation"] for r in rows} == {"FALLBACK (no user namespaces)"}
    assert "WARNING: isolation: FALLBACK" in fallback["out"].with_suffix(".log").read_text()
    assert sleepers() == []
    end = fallback["results"]["sleepers"].run["end"]
    assert end["peak_processes"] >= 51 and end["survivors"] == 0


# ----------------------------------------------------------------------------- calls, time, size


@pytest.fixture(scope="module")
def calls_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("calls-bundle")
    return make_bundle(
        folder,
        "calls",
        {"q1": [(">>> slow(1)\n1\n", False), (">>> slow(2)\n2\n", False), (">>> slow(3)\n3\n", True)]},
        points=3,
    )


SLOW = '''
import os, struct, threading, time, json
def _late_replies():
    """Write replies to call 1 into the grader's channel, again and again, long after it timed out."""
    fd = next(int(n) for n in os.listdir("/proc/self/fd") if os.readlink(f"/proc/self/fd/{n}").startswith("socket:"))
    body = json.dumps({"op": "call", "id": 1, "ok": 99}).encode()
    for i in range(40):
        os.write(fd, struct.pack(">4sIII", b"TKR1", 50_000 + i, 0, 1) + body)
        time.sleep(0.05)

def slow(x):
    if x == 1:
        try:
            time.sleep(60)
        except BaseException:
            threading.Thread(target=_late_replies, daemon=True).start()
            time.sleep(0.3)
            return 99
    return x
'''


def test_a_call_that_times_out_never_answers_the_next_test(calls_bundle: Path, tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "late.ipynb", [SLOW], assignment="calls")
    limits = Limits(timeout=30, cell_timeout=5, case_timeout=1.5)
    r = grade_submission(nb, load_bundle(calls_bundle), limits=limits)
    assert [c["passed"] for c in r.cases["q1"]] == [False, True, True], r.cases
    assert "ran past the test's time limit" in r.cases["q1"][0]["summary"]
    assert r.scores == {"q1": 2.0}
    assert r.run["end"]["stale"] + r.run["end"]["unexpected"] >= 1


def test_the_time_limit_is_for_the_whole_submission_not_per_test(calls_bundle: Path, tmp_path: Path) -> None:
    src = "import time\ndef slow(x):\n    time.sleep(2)\n    return x\n"
    nb = write_notebook(tmp_path / "slowpoke.ipynb", [src], assignment="calls")
    r = grade_submission(nb, load_bundle(calls_bundle), limits=Limits(timeout=3, cell_timeout=3, case_timeout=10))
    assert [c["passed"] for c in r.cases["q1"]] == [True, False, False], r.cases
    assert r.status == "timeout"
    assert "used up its 3 s" in r.note
    assert "could not be called" in r.cases["q1"][2]["summary"]


def test_a_too_large_answer_is_named_never_cut(tmp_path: Path) -> None:
    bundle = load_bundle(make_bundle(tmp_path / "b", "big", {"q1": [(">>> len(q_big)\n2000000\n", False)]}))
    nb = write_notebook(tmp_path / "big.ipynb", ["q_big = 'x' * 2_000_000", "other = 1"], assignment="big")
    r = grade_submission(nb, bundle, limits=Limits(timeout=20, answer_mb=1))
    assert r.scores == {"q1": 0.0} and r.status == "ok"
    assert "q1: q_big is 1.9 MB as data (the limit is 1 MB)" in r.note
    assert r.run["cells_run"] == 2  # nothing was cut short: every cell ran


def test_a_grader_error_keeps_the_points_possible(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(SUBMISSIONS / "perfect.ipynb", subs / "crashes_the_grader.ipynb")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("grader bug")

    monkeypatch.setattr(grade_mod, "grade_submission", broken)
    results = grade_mod.grade_folder(subs, built / "grading", tmp_path / "g.csv", workers=1, limits=LIMITS)
    (r,) = results
    assert (r.status, r.total, r.max) == ("grader-error", 0, 10)
    assert "RuntimeError: grader bug" in r.note
    assert not list((tmp_path / "g.csv.cache").iterdir())  # grader errors are retried, not cached


def test_details_json_has_every_case_for_feedback(batch: dict) -> None:
    doc = json.loads(batch["out"].with_suffix(".json").read_text())
    partial = next(d for d in doc["results"] if d["student"] == "partial")
    q4 = partial["cases"]["q4"]
    assert [c["passed"] for c in q4] == [True, True, False, True]
    assert q4[2]["hidden"] and q4[2]["failure_message"].startswith("synack_giveup(3, rto=0.5) is off")
    assert doc["isolation"] == "namespace"


# ----------------------------------------------------------------------------- after grading: the instructor's commands


def test_feedback_report_and_gradebook_from_the_batch(batch: dict, tmp_path: Path) -> None:
    from tcpkit.cli.course import main
    from tcpkit.course.bundle import doctest_source

    grades = str(batch["out"])
    assert main(["feedback", grades, "--out", str(tmp_path / "fb")]) == 0
    files = sorted((tmp_path / "fb" / HW).glob("*.md"))
    assert len(files) == len(EXPECTED)
    # hidden tests never reach a student: not their code, not their failure reports
    bundle = load_bundle(batch["built"] / "grading" / f"{HW}.zip")
    hidden = {
        line.strip()
        for spec in bundle.tests.values()
        for case in spec["suites"][0]["cases"]
        if case["hidden"]
        for line in doctest_source(case["code"]).splitlines()
        if len(line.strip()) > 12 and not line.strip().startswith(("from ", "import "))
    }
    assert len(hidden) > 10
    for f in files:
        text = f.read_text()
        assert not [h for h in hidden if h in text], f
        assert "Traceback" not in text and "doctest.py" not in text
    partial = (tmp_path / "fb" / HW / "partial.md").read_text()
    assert "**Score: 7.25 / 10**" in partial and "| q4 | 2.25 / 3 |" in partial
    assert "Hidden test 3 failed: synack_giveup(3, rto=0.5) is off" in partial  # the author's summary
    loop = (tmp_path / "fb" / HW / "infinite_loop.md").read_text()
    assert "`q3_a` is never set in your notebook." in loop and "Stopped in cell 5" in loop
    index = (tmp_path / "fb" / "index.csv").read_text()
    assert "'=1+2" in index

    assert main(["report", grades, "--out", str(tmp_path / "report.html")]) == 0
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") == 2 and "Needs attention" in page
    for name in ("fifo", "symlinked", "wrong_assignment", "infinite_loop", "forged_frame"):
        assert f"<td>{name}</td>" in page
    assert "<td>perfect</td>" not in page
    pngs = sorted(p.name for p in tmp_path.glob("report-*.png"))
    assert pngs == [f"report-{HW}-questions.png", f"report-{HW}-totals.png"]

    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\n"
        "Perfect Pat,101,s101,perfect,A\nPartial Paul,102,s102,partial,A\nNobody Nora,103,s103,nora,B\n"
    )
    out = tmp_path / "canvas.csv"
    assert main(["gradebook", grades, "--out", str(out), "--roster", str(roster)]) == 0
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", HW]
    assert rows[1][0] == "Points Possible" and rows[1][5] == "10"
    assert rows[2:] == [
        ["Nobody Nora", "103", "s103", "nora", "B", "0"],
        ["Partial Paul", "102", "s102", "partial", "A", "7.25"],
        ["Perfect Pat", "101", "s101", "perfect", "A", "10"],
    ]


def test_the_graders_home_folder_is_hidden_from_submissions(tmp_path: Path) -> None:
    if isolation() != "namespace":
        pytest.skip("only the namespace jail hides folders")
    from tcpkit.course.sandbox import hide_plan

    home = Path.home()
    kept = {Path(k).relative_to(home).parts[0] for h in hide_plan([home]) for k in h["keep"]}
    assert set(os.listdir(home)) - kept, "the test needs something in the home folder besides Python"
    bundle = load_bundle(
        make_bundle(tmp_path / "b", "home", {"q1": [(f">>> set(seen) <= {kept | {'unreadable'}!r}\nTrue\n", False)]})
    )
    code = f"import os\ntry:\n    seen = os.listdir({str(home)!r})\nexcept OSError:\n    seen = ['unreadable']"
    nb = write_notebook(tmp_path / "peek.ipynb", [code], assignment="home")
    r = grade_submission(nb, bundle, limits=Limits(timeout=20))
    assert r.scores == {"q1": 2.0}, r.cases
