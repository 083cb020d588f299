"""Graded homework: build with otter assign, grade hostile submissions in isolated processes."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tcpkit
from tcpkit.cli.course import main
from tcpkit.course import Limits, build, check_release, load_bundle
from tcpkit.course import grade as grade_mod
from tcpkit.course.build import default_source, masters, solution_lines
from tcpkit.course.bundle import answer_names, doctest_source
from tcpkit.course.checks import (
    answered,
    exchange_in_order,
    flood_success,
    simultaneous_close_result,
)
from tcpkit.course.codec import Unsendable, dumps, loads
from tcpkit.course.sandbox import isolation, kept_under_tmp, run_limited
from tcpkit.engine.errors import ParameterError
from tcpkit.engine.states import State

SUBMISSIONS = Path(__file__).parent / "data" / "submissions"
HW = "hw1_handshake"
#: submissions that attack the machine: graded only inside the namespace jail
JAILED_ONLY = {"file_vandal", "read_hidden_tests", "fake_score"}
LIMITS = Limits(timeout=10, memory_mb=1024, cell_timeout=2, case_timeout=20)

# What each submission's answers deserve.  Points are split evenly over a question's
# test cases (public and hidden): q1 has 5 cases, q2 2, q3 4, q4 4.
EXPECTED = {
    "perfect": ({"q1": 3, "q2": 2, "q3": 2, "q4": 3}, "ok"),
    # right q1; q2 only in shape (public case); q3 one of three hidden; q4 ignores rto (case 2 fails)
    "partial": ({"q1": 3, "q2": 1, "q3": 1, "q4": 2.25}, "ok"),
    # stopped by the wall-clock limit: answers from the cells before the loop still count
    "infinite_loop": ({"q1": 3, "q2": 2, "q3": 0, "q4": 0}, "timeout"),
    "exception_first_cell": ({"q1": 3, "q2": 2, "q3": 2, "q4": 3}, "errors"),
    "huge_output": ({"q1": 3, "q2": 2, "q3": 2, "q4": 3}, "ok"),
    "memory_hog": ({"q1": 3, "q2": 2, "q3": 2, "q4": 3}, "errors"),
    "not_json": ({"q1": 0, "q2": 0, "q3": 0, "q4": 0}, "errors"),
    # wrong answers with the checks, tcpkit and otter patched: only honest shape checks pass
    # (q2's list has the right labels, q4's function returns a number)
    "monkeypatch": ({"q1": 0, "q2": 1, "q3": 0, "q4": 0.75}, "ok"),
    # Its recursive glob of the file system may or may not finish inside the cell time limit, depending
    # on where the jail puts the working folder; either way it changes nothing (see the sandbox test).
    "file_vandal": ({"q1": 3, "q2": 2, "q3": 2, "q4": 3}, None),
    # q2 is right only if it found hidden tests or solutions: it must not
    "read_hidden_tests": ({"q1": 3, "q2": 1, "q3": 2, "q4": 3}, "ok"),
    "fake_score": ({"q1": 0, "q2": 1, "q3": 1, "q4": 0}, "ok"),
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("course-build")
    res = build(default_source(), out, only=[HW], run_tests=False)
    assert res.assignments == (HW,)
    return out


@pytest.fixture(scope="module")
def graded(built: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("grading")
    subs = work / "submissions"
    subs.mkdir()
    for nb in SUBMISSIONS.glob("*.ipynb"):
        if nb.stem in JAILED_ONLY and isolation() != "namespace":
            continue  # without the jail these really would vandalise this machine
        shutil.copy(nb, subs / nb.name)
    watched = [
        Path(tcpkit.__file__).parent / "engine" / "states.py",
        Path(tcpkit.__file__).parent / "course" / "checks.py",
        *sorted(subs.iterdir()),
        *sorted((built / "grading").iterdir()),
    ]
    before = {p: _sha(p) for p in watched}
    out = work / "out" / "grades.csv"
    results = grade_mod.grade_folder(subs, built / "grading", out, workers=2, limits=LIMITS)
    return {"results": {r.student: r for r in results}, "out": out, "subs": subs, "before": before, "built": built}


# ----------------------------------------------------------------------------- build


def test_masters_exist_for_every_topic() -> None:
    names = [m.stem for m in masters(default_source())]
    assert names == ["hw1_handshake", "hw2_isn", "hw3_queues", "hw4_close", "hw5_timewait"]


def test_build_puts_release_and_grading_bundle_in_separate_folders(built: Path) -> None:
    release = sorted(p.relative_to(built / "release").as_posix() for p in (built / "release").rglob("*") if p.is_file())
    grading = sorted(p.name for p in (built / "grading").iterdir())
    assert release == [f"{HW}/{HW}.ipynb"]
    assert grading == [f"{HW}-solutions.ipynb", f"{HW}.zip"]


def test_release_holds_no_hidden_test_and_no_solution(built: Path) -> None:
    nb = json.loads((built / "release" / HW / f"{HW}.ipynb").read_text())
    text = json.dumps(nb) + "\n".join("".join(c["source"]) for c in nb["cells"])
    bundle = load_bundle(built / "grading" / f"{HW}.zip")
    hidden = [c for spec in bundle.tests.values() for c in spec["suites"][0]["cases"] if c["hidden"]]
    assert len(hidden) >= 8
    for case in hidden:
        for line in doctest_source(case["code"]).splitlines():
            if "assert" in line:
                assert line.strip() not in text
    # the public tests travel in the notebook's metadata for grader.check(); none is hidden
    meta_cases = [c for t in nb["metadata"]["otter"]["tests"].values() for c in t["suites"][0]["cases"]]
    assert meta_cases and not any(c["hidden"] for c in meta_cases)
    master = json.loads((default_source() / HW / f"{HW}.ipynb").read_text())
    sol = [ln for c in master["cells"] if c["cell_type"] == "code" for ln in solution_lines(c["source"].splitlines())]
    assert 'q2_order = ["B", "C", "A", "D", "E"]' in sol
    assert all(s not in text for s in sol if len(s) > 12)


def test_check_release_refuses_a_leaked_solution(built: Path, tmp_path: Path) -> None:
    release = tmp_path / "release"
    shutil.copytree(built / "release", release)
    shutil.copy(built / "grading" / f"{HW}-solutions.ipynb", release / HW / "oops.ipynb")
    with pytest.raises(ParameterError, match="release"):
        check_release(release, built / "grading")


def test_public_tests_give_feedback_inside_the_notebook(built: Path, tmp_path: Path) -> None:
    shutil.copy(built / "release" / HW / f"{HW}.ipynb", tmp_path)
    code = (
        "import otter\n"
        f"g = otter.Notebook('{HW}.ipynb')\n"
        "print(g.check('q2', global_env={'q2_order': ['B', 'C', 'A', 'D', 'E']}).passed_all,\n"
        "      g.check('q2', global_env={'q2_order': ['B', 'C']}).passed_all)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip().splitlines()[-1] == "True False", r.stderr[-2000:]


def test_bundle_knows_the_answer_names(built: Path) -> None:
    bundle = load_bundle(built / "grading" / f"{HW}.zip")
    assert bundle.answers == {
        "q1": ["q1"],
        "q2": ["q2_order"],
        "q3": ["q3_a", "q3_b", "q3_c"],
        "q4": ["synack_giveup", "q4_default"],
    }
    assert {q: bundle.possible(q) for q in bundle.questions} == {"q1": 3.0, "q2": 2.0, "q3": 2.0, "q4": 3.0}


# ----------------------------------------------------------------------------- grading


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_gets_the_score_its_answers_deserve(graded: dict, student: str) -> None:
    if student not in graded["results"]:
        pytest.skip(
            f"{student} attacks the machine; graded only when the namespace jail works (isolation() = {isolation()!r})"
        )
    r = graded["results"][student]
    scores, status = EXPECTED[student]
    assert r.scores == pytest.approx(scores, abs=1e-4), r.failures
    if status is not None:
        assert r.status == status, r.notes
    else:
        assert r.status in ("ok", "errors") and all("CellTimeout" in n for n in r.notes.split(";") if n.strip()), (
            r.notes
        )
    assert r.total == pytest.approx(sum(scores.values()), abs=1e-4)


def test_csv_has_one_row_per_student_with_question_scores_and_total(graded: dict) -> None:
    with graded["out"].open() as f:
        rows = list(csv.DictReader(f))
    assert [r["student"] for r in rows] == sorted(graded["results"])
    assert list(rows[0])[:8] == ["student", "assignment", "q1", "q2", "q3", "q4", "total", "max"]
    perfect = next(r for r in rows if r["student"] == "perfect")
    assert (perfect["total"], perfect["max"], perfect["status"]) == ("10", "10", "ok")
    leftovers = [p.name for p in graded["out"].parent.iterdir() if p.name.startswith(".grades.csv.")]
    assert leftovers == []  # the temporary file of the atomic write is gone


def test_hostile_submissions_changed_no_file_outside_their_sandbox(graded: dict) -> None:
    for path, digest in graded["before"].items():
        assert path.exists() and _sha(path) == digest, path
    assert not (graded["subs"] / "grades.csv").exists()
    assert not (graded["out"].parent.parent / "grades.csv").exists()


def test_a_rerun_resumes_from_the_cache_without_regrading(graded: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    first = graded["out"].read_text()

    def regrade(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished submission was graded again")

    monkeypatch.setattr(grade_mod, "grade_submission", regrade)
    grade_mod.grade_folder(graded["subs"], graded["built"] / "grading", graded["out"], workers=2, limits=LIMITS)
    assert graded["out"].read_text() == first


def test_one_broken_submission_does_not_stop_the_batch(
    graded: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(SUBMISSIONS / "perfect.ipynb", subs / "perfect.ipynb")
    changed = json.loads((SUBMISSIONS / "perfect.ipynb").read_text())
    changed["cells"].append(
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": "pass"}
    )
    (subs / "crashes_the_grader.ipynb").write_text(json.dumps(changed))
    real = grade_mod.grade_submission

    def flaky(path: Path, *args: object, **kwargs: object) -> object:
        if Path(path).stem == "crashes_the_grader":
            raise RuntimeError("grader bug")
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(grade_mod, "grade_submission", flaky)
    cache = graded["out"].with_name(graded["out"].name + ".cache")
    results = grade_mod.grade_folder(
        subs, graded["built"] / "grading", tmp_path / "g.csv", workers=1, limits=LIMITS, cache=cache
    )
    by = {r.student: r for r in results}
    assert by["perfect"].total == 10 and by["perfect"].status == "ok"
    assert by["crashes_the_grader"].status == "grader-error" and "grader bug" in by["crashes_the_grader"].notes


def test_grade_command_reports_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", str(tmp_path / "missing"), "--bundle", str(tmp_path)]) == 1
    assert "submissions" in capsys.readouterr().err
    assert main(["grade"]) == 2
    assert main(["frobnicate"]) == 2


# ----------------------------------------------------------------------------- parts


def test_answers_travel_as_data_only() -> None:
    value = {"s": State.CLOSING, "b": b"\x00\xff", "t": (1, [2.5, None]), "x": float("inf")}
    assert loads(dumps(value)) == value

    class Sneaky(str):
        def __eq__(self, other: object) -> bool:
            return True

    back = loads(dumps([Sneaky("x"), object()]))
    assert all(isinstance(v, Unsendable) for v in back)
    assert isinstance(loads('{"__reduce__": "os.system"}'), Unsendable)
    assert not answered(back) and not answered({"a": [1, ...]}) and answered({"a": [1, "x"]})


def test_answer_names_ignore_what_the_test_defines_itself() -> None:
    body = (
        ">>> from tcpkit.course import checks\n>>> segs = {'A': 1}\n"
        ">>> assert checks.exchange_in_order(q2_order, segs, sender)\n"
    )
    assert answer_names(body) == ["q2_order", "sender"]


def test_limits_are_validated() -> None:
    with pytest.raises(ParameterError, match="timeout"):
        Limits(timeout=0)
    with pytest.raises(ParameterError, match="memory_mb"):
        Limits(memory_mb=16)


def test_sandbox_enforces_time_memory_and_output_limits() -> None:
    loop = run_limited([sys.executable, "-I", "-c", "while True: pass"], timeout=1.5, memory_mb=256)
    assert loop.timed_out and loop.returncode != 0
    hog = run_limited([sys.executable, "-I", "-c", "b = bytearray(2 * 1024 ** 3)"], timeout=30, memory_mb=256)
    assert hog.returncode != 0 and b"MemoryError" in hog.stderr
    loud = run_limited(
        [sys.executable, "-I", "-c", "print('x' * 10_000_000)"], timeout=30, memory_mb=256, output_cap=1000
    )
    assert loud.truncated and len(loud.stdout) == 1000


@pytest.mark.skipif(isolation() != "namespace", reason="user namespaces are not available here")
def test_jail_hides_folders_and_makes_the_file_system_read_only(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "hidden.txt").write_text("answers")
    target = Path(tcpkit.__file__).parent / "never_written_by_a_student.txt"
    code = (
        "import os\n"
        f"try:\n    print(sorted(os.listdir({str(secret)!r})))\nexcept OSError:\n    print('gone')\n"
        "print(sorted(os.listdir('.')))\n"
        f"try:\n    open({str(target)!r}, 'w')\nexcept OSError as e:\n    print(e.errno)\n"
    )
    r = run_limited(
        [sys.executable, "-I", "-c", code],
        timeout=30,
        memory_mb=256,
        files={"nb.ipynb": b"{}"},
        hide=[secret],
        jail=True,
    )
    lines = r.stdout.decode().split("\n")
    # a checkout under /tmp comes back read-only inside the jail's /tmp, beside the notebook
    kept = sorted({p.split("/")[2] for p in kept_under_tmp()})
    assert lines[0] in ("[]", "gone") and lines[1:3] == [str(sorted(["nb.ipynb", *kept])), "30"], r.stderr  # 30 = EROFS
    assert not target.exists()


def test_exchange_order_checks_sequence_numbers() -> None:
    segs = {
        "P": "F. 1001:1001(0) ack 5001",
        "Q": ". 5001:5001(0) ack 1002",
        "R": "F. 5001:5001(0) ack 1002",
        "S": ". 1002:1002(0) ack 5002",
    }
    sender = {"P": "a", "Q": "b", "R": "b", "S": "a"}
    start = {"a": 1001, "b": 5001}
    assert exchange_in_order(["P", "Q", "R", "S"], segs, sender, start) is True
    assert exchange_in_order(["P", "R", "Q", "S"], segs, sender, start) is False  # R's FIN used 5001 first
    assert exchange_in_order(["P", "Q", "S", "R"], segs, sender, start) is False  # S acks a FIN not yet sent
    assert exchange_in_order(["P", "Q"], segs, sender, start) is False
    assert exchange_in_order("PQRS", segs, sender, start) is False


def test_simultaneous_close_check_runs_the_engine() -> None:
    handshake = (
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n"
        "+0 < S 0:0(0) win 65535 <mss 1000>\n+0 > S. 0:0(0) ack 1 <...>\n+.1 < . 1:1(0) ack 1 win 65535\n"
        "+0 accept(3, ..., ...) = 4\n+0 close(4) = 0\n+0 > F. 1:1(0) ack 1 <...>\n"
    )
    crossing = handshake + "+0 < F. 1:1(0) ack 1 win 65535\n+0 > . 2:2(0) ack 2 <...>\n+.1 < . 2:2(0) ack 2 win 65535\n"
    ordinary = handshake + "+.1 < . 1:1(0) ack 2 win 65535\n+0 < F. 1:1(0) ack 2 win 65535\n+0 > . 2:2(0) ack 2 <...>\n"
    assert simultaneous_close_result(crossing) == (True, "")
    ok, why = simultaneous_close_result(ordinary)
    assert not ok and "CLOSING" in why
    assert simultaneous_close_result(42)[0] is False


def test_flood_check_runs_the_simulation() -> None:
    assert flood_success(128, {}, tcp_syncookies=1) >= 0.99
    assert flood_success(128, {}, tcp_syncookies=0) < 0.5
    assert flood_success("128", {}) == 0.0


@pytest.mark.slow
def test_every_master_builds_and_its_solutions_score_full_marks(tmp_path: Path) -> None:
    out = tmp_path / "build"
    build(default_source(), out, run_tests=True)  # otter assign runs every test on the solutions
    subs = tmp_path / "subs"
    subs.mkdir()
    for sol in (out / "grading").glob("*-solutions.ipynb"):
        shutil.copy(sol, subs / sol.name)
    results = grade_mod.grade_folder(subs, out / "grading", tmp_path / "g.csv", limits=Limits(timeout=120))
    assert {r.assignment: r.total for r in results} == {m.stem: 10 for m in masters(default_source())}


def test_function_answers_take_only_definitions_along() -> None:
    from tcpkit.course._student import definitions, strip_magics

    cells = [
        "import math\n%matplotlib inline",
        "K = 3\nslow = expensive()\nf = lambda x: x + K\ndef g(x):\n    return math.sqrt(x)",
    ]
    src = definitions([strip_magics(c) for c in cells])
    assert src.splitlines() == ["import math", "K = 3", "f = lambda x: x + K", "def g(x):", "    return math.sqrt(x)"]


def test_check_command_accepts_the_built_release(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--out", str(built)]) == 0
    assert "clean" in capsys.readouterr().out
