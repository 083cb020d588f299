"""After grading: collecting notebooks, feedback files, the gradebook export, the report, the progress bar."""

from __future__ import annotations

import csv
import io
import os
import struct
import zlib
from pathlib import Path

import pytest

from tcpkit.cli.course import main
from tcpkit.course import collect
from tcpkit.course.charts import Bar, BarChart
from tcpkit.course.feedback import render_html, render_markdown, write_feedback
from tcpkit.course.grade import Result, write_results
from tcpkit.course.gradebook import LateRule, export_gradebook
from tcpkit.course.progress import ProgressBar
from tcpkit.course.report import attention, write_report
from tcpkit.engine.errors import ParameterError

HIDDEN_CODE = "assert checks.same_state(q3_b, lookup(State.SYN_RECEIVED, Event.RCV_RST).dst)"


def result(
    student: str,
    total: float,
    *,
    submitted: str = "2025-03-01T10:00:00Z",
    status: str = "ok",
    assignment: str = "hw1",
    notes: list[str] | None = None,
) -> Result:
    half = total / 2
    r = Result(
        student,
        assignment,
        f"{student}.ipynb",
        f"{abs(hash(student)):064x}"[:64],
        {"q1": half, "q2": total - half},
        {"q1": 5.0, "q2": 5.0},
        status=status,
        notes=notes or [],
    )
    r.submitted = submitted
    r.cases = {
        "q1": [
            {
                "name": "q1 - 1",
                "hidden": False,
                "passed": half == 5,
                "summary": "replace every ... with your answer",
                "message": "Failed example:\n    assert answered(q1), 'replace every ... with your answer'\n"
                "Exception raised:\n    Traceback (most recent call last):\n"
                '      File "/usr/lib/python3.11/doctest.py", line 1353, in __run\n'
                "    AssertionError: replace every ... with your answer\n",
                "failure_message": "",
            },
        ],
        "q2": [
            {
                "name": "q2 - 1",
                "hidden": True,
                "passed": False,
                "summary": HIDDEN_CODE,
                "message": f"Failed example:\n    {HIDDEN_CODE}\n",
                "failure_message": "",
            },
            {
                "name": "q2 - 2",
                "hidden": True,
                "passed": False,
                "summary": HIDDEN_CODE,
                "message": f"Failed example:\n    {HIDDEN_CODE}\n",
                "failure_message": "The state after an RST is off.",
            },
        ],
    }
    r.answers = {"q1": "data", "q2_x": "is still ..."}
    r.run = {"names": {"q1": ["q1"], "q2": ["q2_x"]}, "errors": [{"cell": 4, "error": "line 2: NameError: x"}]}
    return r


def grades_file(tmp_path: Path, results: list[Result], name: str = "grades.csv") -> Path:
    out = tmp_path / name
    write_results(results, out)
    return out


# ----------------------------------------------------------------------------- feedback


def test_feedback_shows_public_messages_and_author_summaries_never_hidden_code(tmp_path: Path) -> None:
    r = result("ann", 3.0)
    text = render_markdown(r)
    assert "**Score: 3 / 10**" in text and "| q1 | 1.5 / 5 |" in text
    assert "Public test 1 failed: replace every ... with your answer" in text
    assert "checked: `assert answered(q1), 'replace every ... with your answer'`" in text
    assert "Hidden test 1 failed." in text and "Hidden test 2 failed: The state after an RST is off." in text
    assert "`q2_x` is still ...." in text and "Cell 4, line 2: NameError: x" in text
    assert HIDDEN_CODE not in text and "SYN_RECEIVED" not in text and "doctest.py" not in text
    page = render_html(r)
    assert page.startswith("<!doctype html>") and HIDDEN_CODE not in page and "<code>" in page
    files = write_feedback(grades_file(tmp_path, [r, result("-bob", 10.0)]), tmp_path / "fb", fmt="html")
    assert sorted(f.name for f in files) == ["ann.html", "bob.html"]
    assert "'-bob" in (tmp_path / "fb" / "index.csv").read_text()
    with pytest.raises(ParameterError, match="format"):
        write_feedback([r], tmp_path / "x", fmt="pdf")


def test_feedback_for_files_that_were_not_graded_says_why(tmp_path: Path) -> None:
    r = Result(
        "eve",
        "hw1",
        "eve.ipynb",
        "",
        {"q1": 0.0},
        {"q1": 5.0},
        status="refused",
        notes=["a symbolic link (to 'grading/hw1-solutions.ipynb'), not a regular file: submit the notebook itself"],
    )
    text = render_markdown(r)
    assert "not a regular notebook file" in text and "a symbolic link" in text and "| q1 | 0 / 5 |" in text


# ----------------------------------------------------------------------------- gradebook


def test_late_rules_read_like_their_text() -> None:
    r = LateRule.parse("10%/day, max 50%, grace 15m, zero after 7d")
    assert [r.penalty(s) for s in (0, 899, 901, 86400 + 900, 86401 + 900, 6 * 86400, 8 * 86400)] == [
        0.0,
        0.0,
        0.1,
        0.1,
        0.2,
        0.5,
        1.0,
    ]
    assert LateRule.parse("2% per hour").penalty(3 * 3600 + 1) == 0.08
    for bad in ("", "10%", "max 150%", "10%/fortnight", "ten%/day"):
        with pytest.raises(ParameterError, match="late rule"):
            LateRule.parse(bad)


def test_canvas_export_joins_the_roster_keeps_the_newest_and_applies_the_late_rule(tmp_path: Path) -> None:
    grades = grades_file(
        tmp_path,
        [
            result("alice/try1", 10.0, submitted="2025-03-01T09:00:00Z"),
            result("alice/try2", 6.0, submitted="2025-03-01T11:00:00Z"),  # newest counts, even if lower
            result("bob", 10.0, submitted="2025-03-03T12:30:00Z"),  # 2 days and a bit late: 3 started days
            result("=HYPERLINK(1)", 4.0),
            result("zed", 8.0),  # not in the roster
        ],
    )
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\nAlice A,1,s1,alice,L01\nBob B,2,s2,bob,L01\n"
        "Carol C,3,s3,carol,L02\nEvil,4,s4,=HYPERLINK(1),@SUM(1)\n"
    )
    out = tmp_path / "canvas.csv"
    ex = export_gradebook(
        grades,
        out,
        roster=roster,
        due="2025-03-01T12:00:00+00:00",
        late="10%/day, max 50%",
        columns={"hw1": "Homework 1 (4321)"},
    )
    assert ex.roster_key == "SIS Login ID" and ex.resubmissions == 1 and ex.late == 1
    assert ex.missing == ["carol (hw1)"] and ex.not_in_roster == ["zed"]
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 1 (4321)"]
    assert rows[1] == ["Points Possible", "", "", "", "", "10"]
    assert rows[2:] == [
        ["Evil", "4", "s4", "'=HYPERLINK(1)", "'@SUM(1)", "4"],
        ["Alice A", "1", "s1", "alice", "L01", "6"],
        ["Bob B", "2", "s2", "bob", "L01", "7"],
        ["Carol C", "3", "s3", "carol", "L02", "0"],
    ]


def test_gradescope_export_has_its_columns_and_one_file_per_assignment(tmp_path: Path) -> None:
    a = grades_file(tmp_path, [result("ann", 9.0), result("bob", 4.0, submitted="2025-03-02T13:00:00Z")], "a.csv")
    b = grades_file(tmp_path, [result("ann", 5.0, assignment="hw2")], "b.csv")
    times = tmp_path / "times.csv"
    times.write_text("student,submitted\nann,2025-03-01T08:00:00+08:00\n")
    roster = tmp_path / "roster.csv"
    roster.write_text("Name,Email,SID\nAnn Lee,ann@example.edu,ann\nBob Ma,bob@example.edu,bob\n")
    ex = export_gradebook(
        [a, b],
        tmp_path / "gs.csv",
        fmt="gradescope",
        roster=roster,
        due="2025-03-02T12:00:00Z",
        late="25%/day",
        times=times,
        missing_score="",
    )
    assert [f.name for f in ex.files] == ["gs-hw1.csv", "gs-hw2.csv"]
    hw1 = list(csv.reader((tmp_path / "gs-hw1.csv").open()))
    assert hw1[0] == [
        "Name",
        "SID",
        "Email",
        "Total Score",
        "Max Points",
        "Status",
        "Submission Time",
        "Lateness (H:M:S)",
    ]
    assert hw1[1] == ["Ann Lee", "ann", "ann@example.edu", "9", "10", "Graded", "2025-03-01T00:00:00Z", "0:00:00"]
    assert hw1[2] == ["Bob Ma", "bob", "bob@example.edu", "3", "10", "Late", "2025-03-02T13:00:00Z", "1:00:00"]
    hw2 = list(csv.reader((tmp_path / "gs-hw2.csv").open()))
    assert hw2[2] == ["Bob Ma", "bob", "bob@example.edu", "", "10", "Missing", "", "0:00:00"]


def test_gradebook_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    grades = grades_file(tmp_path, [result("ann", 9.0)])
    with pytest.raises(ParameterError, match="due"):
        export_gradebook(grades, tmp_path / "x.csv", late="10%/day")
    with pytest.raises(ParameterError, match="format"):
        export_gradebook(grades, tmp_path / "x.csv", fmt="moodle")
    with pytest.raises(ParameterError, match="grades"):
        export_gradebook(tmp_path / "nothing.csv", tmp_path / "x.csv")
    assert main(["gradebook", str(grades), "--out", str(tmp_path / "x.csv"), "--late", "soon"]) == 1


# ----------------------------------------------------------------------------- report, charts, progress


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    idat = data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8]
    assert len(zlib.decompress(idat)) == h * (1 + 3 * w)
    return w, h


def test_report_lists_what_needs_attention_with_charts_and_pngs(tmp_path: Path) -> None:
    rows = [
        result("ann", 10.0),
        result("bob", 0.0, status="timeout", notes=["stopped in cell 3 of 5: ..."]),
        result("cat", 10.0, notes=["identical to the solutions notebook of the grading folder"]),
        result("dan", 6.0),
    ]
    rows[3].isolation = "FALLBACK (no user namespaces)"
    assert [r.student for r in attention(rows)] == ["bob", "dan", "cat"]
    files = write_report(grades_file(tmp_path, rows), tmp_path / "r.html")
    page = files[0].read_text()
    assert page.count("<svg") == 2 and "FALLBACK" in page and "<td>ann</td>" not in page
    assert [_png_size(f.read_bytes()) for f in files[1:]] == [(1280, 640), (1280, 640)]


def test_charts_draw_bars_in_proportion() -> None:
    chart = BarChart("t", [Bar("a", [(1, "#ff0000")]), Bar("b", [(3, "#0000ff")])])
    svg = chart.svg()
    heights = [float(x.split('"')[0]) for x in svg.split('height="')[2:4]]
    assert heights[1] == pytest.approx(3 * heights[0], rel=0.01)
    png = chart.png(scale=1)
    raw = zlib.decompress(png[png.index(b"IDAT") + 4 : png.index(b"IEND") - 8])
    w, h = _png_size(png)
    pixels = [raw[y * (1 + 3 * w) + 1 + 3 * x : y * (1 + 3 * w) + 4 + 3 * x] for y in range(h) for x in range(w)]
    reds, blues = pixels.count(b"\xff\x00\x00"), pixels.count(b"\x00\x00\xff")
    assert reds > 1000 and blues == pytest.approx(3 * reds, rel=0.05)


def test_progress_bar_redraws_on_a_terminal_and_writes_lines_in_a_log() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    bar = ProgressBar(2, "grading", stream=tty, width=4)
    bar(1, 2, result("ann", 10.0))
    bar(2, 2, result("bob", 5.0))
    assert tty.getvalue().count("\r") == 2 and tty.getvalue().endswith("\n")
    assert "[####] 2/2 100%" in tty.getvalue() and "bob: 5/10 ok" in tty.getvalue()
    log = io.StringIO()
    ProgressBar(3, "building", stream=log, width=3).update(1, "hw1 done")
    assert log.getvalue().startswith("building [#..] 1/3  33%") and "\r" not in log.getvalue()


# ----------------------------------------------------------------------------- collecting


def test_collect_copies_regular_files_only_and_keeps_their_time(tmp_path: Path) -> None:
    homes = tmp_path / "home"
    solutions = tmp_path / "grading" / "hw1-solutions.ipynb"
    solutions.parent.mkdir()
    solutions.write_text('{"cells": ["the answers"]}')
    rel = Path("hw") / "hw1.ipynb"
    for who in ("ann", "bob", "cat", "dan", "eve", "fay"):
        (homes / f"jupyter-{who}" / "hw").mkdir(parents=True)
    (homes / "jupyter-ann" / rel).write_text('{"cells": []}')
    os.utime(homes / "jupyter-ann" / rel, (1_700_000_000, 1_700_000_000))
    (homes / "jupyter-bob" / rel).symlink_to(solutions)  # the file itself is a link
    (homes / "jupyter-cat" / "hw").rmdir()
    (homes / "jupyter-cat" / "hw").symlink_to(solutions.parent)  # a folder on the way is a link
    os.link(solutions, homes / "jupyter-dan" / rel)  # a hard link to a file of someone else
    os.mkfifo(homes / "jupyter-eve" / rel)
    (homes / "jupyter-mallory").symlink_to(solutions.parent)  # the home folder itself is a link
    out = tmp_path / "subs"
    done = {c.student: c for c in collect(str(homes / "jupyter-*"), str(rel), out)}
    assert done["ann"].status == "copied"
    assert (done["bob"].status, done["bob"].reason) == ("refused", "hw/hw1.ipynb is a symbolic link: not followed")
    assert (done["cat"].status, done["cat"].reason) == ("refused", "hw is a symbolic link: not followed")
    assert done["dan"].status == "refused" and "2 hard links" in done["dan"].reason
    assert done["eve"].status == "refused" and "FIFO" in done["eve"].reason
    assert done["fay"].status == "missing"
    assert done["mallory"].status == "refused" and "symbolic link" in done["mallory"].reason
    assert sorted(p.name for p in out.iterdir()) == ["ann.ipynb"]
    assert os.stat(out / "ann.ipynb").st_mtime == 1_700_000_000
    assert "the answers" not in (out / "ann.ipynb").read_text()
    with pytest.raises(ParameterError, match="pattern"):
        collect(str(homes), str(rel), out)
    assert main(["collect", str(homes / "jupyter-*"), str(rel), "--to", str(out)]) == 0


def test_the_readme_collection_command_does_not_follow_links(tmp_path: Path) -> None:
    import re
    import shlex

    readme = (Path(__file__).resolve().parents[1] / "course" / "README.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", readme, re.S) if "tcpkit course collect" in b)
    argv = shlex.split(block.replace("\\\n", " "))
    assert argv[:3] == ["tcpkit", "course", "collect"] and "cp " not in block
    homes, rel = argv[3], argv[4]
    assert homes == "/home/jupyter-*"
    fake = str(tmp_path / "home" / "jupyter-*")
    secret = tmp_path / "grading"
    secret.mkdir()
    (secret / "hw1_handshake.ipynb").write_text('{"cells": ["solutions"]}')
    (tmp_path / "home" / "jupyter-ann" / Path(rel).parent).mkdir(parents=True)
    (tmp_path / "home" / "jupyter-ann" / rel).write_text('{"cells": []}')
    (tmp_path / "home" / "jupyter-bob").mkdir(parents=True)
    (tmp_path / "home" / "jupyter-bob" / Path(rel).parts[0]).symlink_to(tmp_path)  # tcp-homework -> elsewhere
    (tmp_path / "release" / "hw1_handshake").mkdir(parents=True)
    (tmp_path / "release" / "hw1_handshake" / "hw1_handshake.ipynb").symlink_to(secret / "hw1_handshake.ipynb")
    out = tmp_path / "subs"
    assert main(["collect", fake, rel, "--to", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["ann.ipynb"]


def test_course_commands_refuse_to_write_over_their_inputs(tmp_path: Path) -> None:
    from tcpkit.cli.course import main as course_main

    grades = tmp_path / "grades.csv"
    grades.write_text("key,student\n", encoding="utf-8")
    before = grades.read_bytes()
    assert course_main(["report", str(grades), "--out", str(grades)]) != 0
    assert course_main(["gradebook", str(grades), "--out", str(grades)]) != 0
    subs = tmp_path / "subs"
    subs.mkdir()
    nb = subs / "ann.ipynb"
    nb.write_text("{}", encoding="utf-8")
    assert course_main(["grade", str(subs), "--out", str(nb), "--bundle", str(tmp_path)]) != 0
    assert grades.read_bytes() == before and nb.read_text(encoding="utf-8") == "{}"
