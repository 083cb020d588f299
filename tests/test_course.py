"""Graded homework: building with otter assign, the release, the parts of grading, the student's checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_course_support import HW, built_hw1

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
from tcpkit.course.codec import TooLarge, Unsendable, dumps, loads
from tcpkit.course.messages import summarize
from tcpkit.course.notebook import describe_check
from tcpkit.course.sandbox import run_limited
from tcpkit.course.submissions import Refused, decode_notebook, find_submissions, read_regular
from tcpkit.engine.errors import ParameterError
from tcpkit.engine.states import State


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_hw1(tmp_path_factory)


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


def test_students_get_one_clear_line_from_each_check(built: Path, tmp_path: Path) -> None:

    shutil.copy(built / "release" / HW / f"{HW}.ipynb", tmp_path)
    nb = json.loads((tmp_path / f"{HW}.ipynb").read_text())
    init = "".join(nb["cells"][0]["source"])
    assert "from tcpkit.course.notebook import Notebook" in init  # the release's first cell
    code = (
        init
        + "\nq1 = {'synack_flags': ...}\n"
        + "def synack_giveup(retries, rto=1.0):\n    raise ValueError('not yet')\n"
        + "for q in ('q1', 'q3', 'q4'):\n    print(repr(grader.check(q)))\n"
        + "q2_order = ['B', 'C', 'A', 'D', 'E']\nr = grader.check('q2')\nprint(repr(r), r.passed_all)\n"
        + "print(repr(grader.check('q9')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert r.stdout.splitlines()[-5:] == [
        "q1: ❌ replace every ... with your answer",
        "q3: ❌ q3_a is not defined yet: run the cell that sets it",
        "q4: ❌ assert isinstance(synack_giveup(1), (int, float)) raised ValueError: not yet",
        "q2: ✅ the public test passed (hidden tests run after you hand in) True",
        "q9: ❌ the checks could not run: ValueError: Test q9 not found",
    ], r.stderr[-2000:]
    assert "Traceback" not in r.stdout and "/" not in "".join(r.stdout.splitlines()[-5:]).replace("./", "")


def test_a_check_summary_names_the_first_failure_not_a_follow_on_error() -> None:
    class Case:
        def __init__(self, passed: bool, message: str) -> None:
            self.passed, self.message = passed, message

    report = (
        "❌ Test case failed\nTrying:\n    x = f(2)\nExpecting nothing\n" + "*" * 70 + "\nLine 1, in q1 0\n"
        "Failed example:\n    x = f(2)\nException raised:\n    Traceback (most recent call last):\n"
        '      File "/usr/lib/python3.11/doctest.py", line 1353, in __run\n        exec(compile(...))\n'
        '      File "<doctest q1 0[0]>", line 1, in <module>\n    ZeroDivisionError: division by zero\n'
        "Trying:\n    assert x == 4\nExpecting nothing\n" + "*" * 70 + "\nLine 2, in q1 0\nFailed example:\n"
        "    assert x == 4\nException raised:\n    Traceback (most recent call last):\n    NameError: name 'x' "
        "is not defined\n"
    )
    assert summarize(report) == "x = f(2) raised ZeroDivisionError: division by zero"
    line = describe_check("q1", type("R", (), {"test_case_results": [Case(True, ""), Case(False, report)]})())
    assert repr(line) == "q1: ❌ x = f(2) raised ZeroDivisionError: division by zero (1 of 2 public tests failed)"
    assert (
        summarize(
            "Failed example:\n    assert ok\nException raised:\n    Traceback (most recent call last):\n"
            "    tcpkit.course._checker.FunctionFailed: f(1) raised KeyError: 3\n"
        )
        == "f(1) raised KeyError: 3"
    )


def test_bundle_knows_the_answer_names(built: Path) -> None:
    bundle = load_bundle(built / "grading" / f"{HW}.zip")
    assert bundle.answers == {
        "q1": ["q1"],
        "q2": ["q2_order"],
        "q3": ["q3_a", "q3_b", "q3_c"],
        "q4": ["synack_giveup", "q4_default"],
    }
    assert {q: bundle.possible(q) for q in bundle.questions} == {"q1": 3.0, "q2": 2.0, "q3": 2.0, "q4": 3.0}


# ----------------------------------------------------------------------------- parts


def test_answers_travel_as_data_only() -> None:
    value = {"s": State.CLOSING, "b": b"\x00\xff", "t": (1, [2.5, None]), "x": float("inf")}
    assert loads(dumps(value)) == value

    class Sneaky(str):
        def __eq__(self, other: object) -> bool:
            return True

    back = loads(dumps([Sneaky("x"), object()]))
    assert all(isinstance(v, Unsendable) for v in back)
    assert loads(dumps([...])) == [...] and not answered(loads(dumps({"a": ...})))
    assert not answered(loads('{"__too_large__": 99, "limit": 10}')) and loads('{"__too_large__": 1}') == TooLarge(1, 0)
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
    with pytest.raises(ParameterError, match="processes"):
        Limits(processes=1)
    with pytest.raises(ParameterError, match="isolation"):
        Limits(isolation="docker")
    assert Limits(timeout=30).cpu == 35 and Limits(cpu_s=3).cpu == 3


def test_isolation_can_be_forced_to_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    from tcpkit.course.sandbox import describe_isolation, isolation

    monkeypatch.setenv("TCPKIT_JAIL", "fallback")
    assert isolation() == "fallback" and describe_isolation("fallback").startswith("WARNING: isolation: FALLBACK")
    monkeypatch.setenv("TCPKIT_JAIL", "chroot")
    with pytest.raises(ParameterError, match="isolation"):
        isolation()


def test_submissions_must_be_regular_files_read_without_following_links(tmp_path: Path) -> None:
    import os

    (tmp_path / "ok.ipynb").write_text('{"cells": []}')
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "ok.ipynb")
    os.mkfifo(tmp_path / "pipe.ipynb")
    (tmp_path / "dir.ipynb").mkdir()
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / "x.ipynb").write_text("{}")
    (tmp_path / "linked_folder").symlink_to(tmp_path / "inner")
    assert read_regular(tmp_path / "ok.ipynb")[0] == b'{"cells": []}'
    for name, why in (("link.ipynb", "symbolic link"), ("pipe.ipynb", "FIFO"), ("dir.ipynb", "folder")):
        with pytest.raises(Refused, match=why):
            read_regular(tmp_path / name)
    with pytest.raises(Refused, match="character device"):
        read_regular("/dev/zero")
    found = {e.student: e.refused for e in find_submissions(tmp_path)}
    assert found == {
        "dir": "a folder, not a notebook",
        "inner/x": None,
        "link": None,  # refused when read (lstat): see above
        "linked_folder": "a symbolic link to a folder: not followed",
        "ok": None,
        "pipe": None,
    }


def test_notebooks_are_decoded_with_a_named_reason() -> None:
    utf16 = '{"cells": [{"cell_type": "code", "source": "x = 1"}]}'.encode("utf-16")
    assert decode_notebook(utf16).cells == ["x = 1"] and decode_notebook(utf16).notes == [
        "the file is UTF-16, not UTF-8"
    ]
    assert decode_notebook(b'\xef\xbb\xbf{"cells": []}').notes == []  # a UTF-8 byte-order mark is fine
    for data, why in ((b"", "empty"), (b"[1, 2]", "no list of cells"), (b"{" * 100_000, "nested too deeply|not JSON")):
        with pytest.raises(Refused, match=why):
            decode_notebook(data)
    meta = b'{"cells": [], "metadata": {"otter": {"assignment_name": "hw2_isn"}}}'
    assert decode_notebook(meta).assignment == "hw2_isn"


def test_sandbox_enforces_time_memory_and_output_limits() -> None:
    loop = run_limited([sys.executable, "-I", "-c", "while True: pass"], timeout=1.5, memory_mb=256)
    assert loop.timed_out and loop.returncode != 0
    hog = run_limited([sys.executable, "-I", "-c", "b = bytearray(2 * 1024 ** 3)"], timeout=30, memory_mb=256)
    assert hog.returncode != 0 and b"MemoryError" in hog.stderr
    loud = run_limited(
        [sys.executable, "-I", "-c", "print('x' * 10_000_000)"], timeout=30, memory_mb=256, output_cap=1000
    )
    assert loud.truncated and len(loud.stdout) == 1000


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
    seen: list[tuple[int, int, str]] = []
    build(default_source(), out, run_tests=True, progress=lambda *a: seen.append(a))  # otter checks every solution
    assert seen == [(0, 5, ""), *((i, 5, m.stem) for i, m in enumerate(masters(default_source()), start=1))]
    subs = tmp_path / "subs"
    subs.mkdir()
    for sol in (out / "grading").glob("*-solutions.ipynb"):
        shutil.copy(sol, subs / sol.name)
    results = grade_mod.grade_folder(subs, out / "grading", tmp_path / "g.csv", limits=Limits(timeout=120))
    assert {r.assignment: r.total for r in results} == {m.stem: 10 for m in masters(default_source())}


def test_check_command_accepts_the_built_release(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--out", str(built)]) == 0
    assert "clean" in capsys.readouterr().out


def test_grade_command_reports_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grade", str(tmp_path / "missing"), "--bundle", str(tmp_path)]) == 1
    assert "submissions" in capsys.readouterr().err
    assert main(["grade"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["feedback", str(tmp_path / "nothing.csv")]) == 1
    assert main(["report", str(tmp_path / "nothing.csv")]) == 1
