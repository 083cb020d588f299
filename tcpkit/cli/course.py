"""``tcpkit course``: build student homework, grade submissions, and everything an instructor does after.

>>> main(["--help"])                                   # doctest: +ELLIPSIS
usage: tcpkit course {build,check,collect,grade,feedback,gradebook,report} ...
...
0
>>> main(["grade"])
tcpkit course grade: missing SUBMISSIONS_DIR (a folder of .ipynb files)
2
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tcpkit.course import Limits, build, check_release, collect, grade_folder
from tcpkit.course.feedback import FORMATS as FEEDBACK_FORMATS
from tcpkit.course.feedback import write_feedback
from tcpkit.course.gradebook import FORMATS as GRADEBOOK_FORMATS
from tcpkit.course.gradebook import export_gradebook
from tcpkit.course.progress import ProgressBar
from tcpkit.course.report import attention, write_report
from tcpkit.course.sandbox import MODES, describe_isolation, isolation
from tcpkit.engine.errors import ParameterError, TcpkitError
from tcpkit.files import check_output

DEFAULT_LIMITS = Limits()
COMMANDS = ("build", "check", "collect", "grade", "feedback", "gradebook", "report")

USAGE = """usage: tcpkit course {build,check,collect,grade,feedback,gradebook,report} ...

  build [--source DIR] [--out DIR] [--only NAME ...] [--no-run-tests]
        write OUT/release (student notebooks) and OUT/grading (autograder zips)
  check [--out DIR]
        prove OUT/release holds no solution and no hidden test
  collect 'HOMES_GLOB' PATH --to DIR
        copy PATH out of every home folder matching the glob, never following a link
  grade SUBMISSIONS_DIR --out grades.csv [--bundle DIR|ZIP] [--workers N] [--timeout S]
        [--memory-mb M] [--cell-timeout S] [--case-timeout S] [--processes N] [--files N]
        [--scratch-mb M] [--answer-mb M] [--isolation auto|namespace|fallback] [--cache DIR]
        [--feedback DIR] [--report FILE]
        grade every notebook in a sealed jail; writes the CSV, a .json of details and a .log
  feedback grades.csv --out DIR [--format md|html]
        one file per student: points per question, public-test messages, never hidden tests
  gradebook grades.csv [...] --out FILE [--format canvas|gradescope] [--roster CSV]
        [--roster-key COLUMN] [--due TIME --late RULE] [--times CSV] [--missing-score S]
        CSV for the LMS: newest submission per student, late penalty, a row for everyone in the roster
  report grades.csv --out report.html [--no-png]
        an HTML page with score distributions and the submissions that need a look (and PNG charts)
"""


def parser(cmd: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"tcpkit course {cmd}", add_help=True)
    if cmd == "build":
        p.add_argument("--source", default=None, help="folder of master notebooks (default: course/)")
        p.add_argument("--out", default="course-build", help="output folder (default: course-build)")
        p.add_argument("--only", nargs="*", default=None, help="build only these assignments")
        p.add_argument("--no-run-tests", action="store_true", help="skip otter's check of the solutions")
    elif cmd == "grade":
        d = DEFAULT_LIMITS
        p.add_argument("submissions")
        p.add_argument("--out", default="grades.csv")
        p.add_argument("--bundle", default="course-build/grading", help="autograder zips (folder or one zip)")
        p.add_argument("--workers", type=int, default=None, help="submissions at once (default: CPU count)")
        p.add_argument("--timeout", type=float, default=d.timeout, help="seconds for ALL of a notebook's code")
        p.add_argument("--memory-mb", type=int, default=d.memory_mb, help="memory of all its processes together")
        p.add_argument("--cell-timeout", type=float, default=d.cell_timeout, help="seconds per cell")
        p.add_argument("--case-timeout", type=float, default=d.case_timeout, help="seconds per test case")
        p.add_argument("--processes", type=int, default=d.processes, help="processes per submission")
        p.add_argument("--files", type=int, default=d.files, help="files in its private /tmp")
        p.add_argument("--scratch-mb", type=int, default=d.scratch_mb, help="size of its private /tmp")
        p.add_argument("--answer-mb", type=int, default=d.answer_mb, help="largest answer")
        p.add_argument("--isolation", choices=MODES, default=None, help="default: $TCPKIT_JAIL or auto")
        p.add_argument("--cache", default=None, help="result cache (default: OUT.cache)")
        p.add_argument("--feedback", default=None, help="also write feedback files into this folder")
        p.add_argument("--report", default=None, help="also write this HTML report")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
    elif cmd == "collect":
        p.add_argument("homes", help="glob of home folders with one '*', e.g. '/home/jupyter-*'")
        p.add_argument("path", help="the notebook's path inside each home folder")
        p.add_argument("--to", required=True, help="folder for the copies")
    elif cmd == "feedback":
        p.add_argument("grades")
        p.add_argument("--out", default="feedback")
        p.add_argument("--format", choices=FEEDBACK_FORMATS, default="md")
    elif cmd == "gradebook":
        p.add_argument("grades", nargs="+")
        p.add_argument("--out", default="gradebook.csv")
        p.add_argument("--format", choices=GRADEBOOK_FORMATS, default="canvas")
        p.add_argument("--roster", default=None, help="class list CSV (Canvas's gradebook export works)")
        p.add_argument("--roster-key", default=None, help="roster column that names submissions")
        p.add_argument("--id-pattern", default=r"^(?P<id>[^/]+)", help="regex taking the student id out of a name")
        p.add_argument("--due", default=None, help="due time, ISO 8601 (no zone: UTC)")
        p.add_argument("--late", default=None, help="late rule, e.g. '10%%/day, max 50%%, grace 15m'")
        p.add_argument("--times", default=None, help="CSV student,submitted overriding the file times")
        p.add_argument("--missing-score", default="0", help="score for roster students without a submission")
        p.add_argument("--column", action="append", default=[], help="ASSIGNMENT=COLUMN name in the export")
    elif cmd == "report":
        p.add_argument("grades")
        p.add_argument("--out", default="report.html")
        p.add_argument("--no-png", action="store_true")
    else:
        p.add_argument("--out", default="course-build")
    return p


def _inputs(*paths: str | None) -> list[Path]:
    """Every file a command reads: given files, and the notebooks inside given folders."""
    out: list[Path] = []
    for given in paths:
        if not given:
            continue
        p = Path(given)
        out += sorted(p.rglob("*")) if p.is_dir() else [p]
    return out


def _grade(args: argparse.Namespace) -> int:
    reads = _inputs(args.submissions, args.bundle)
    for suffix in ("", ".json", ".log"):
        out = Path(args.out) if not suffix else Path(args.out).with_suffix(suffix)
        check_output(out, reads, name="--out")
    if args.report:
        check_output(args.report, reads, name="--report")
    limits = Limits(
        timeout=args.timeout,
        memory_mb=args.memory_mb,
        cell_timeout=min(args.cell_timeout, args.timeout),
        case_timeout=args.case_timeout,
        processes=args.processes,
        files=args.files,
        scratch_mb=args.scratch_mb,
        answer_mb=args.answer_mb,
        isolation=args.isolation or "auto",
    )
    print(describe_isolation(isolation(limits.isolation)), file=sys.stderr)
    bar = None if args.no_progress else ProgressBar(0, "grading")
    results = grade_folder(
        args.submissions,
        args.bundle,
        args.out,
        workers=args.workers,
        limits=limits,
        cache=args.cache,
        progress=bar if bar is not None else False,
    )
    need = attention(results)
    print(
        f"wrote {args.out} (and {Path(args.out).with_suffix('.json').name}, {Path(args.out).with_suffix('.log').name})"
        f": {len(results)} submissions, {len(need)} need attention"
    )
    if args.feedback:
        files = write_feedback(args.out, args.feedback)
        print(f"wrote {len(files)} feedback files into {args.feedback}")
    if args.report:
        files = write_report(args.out, args.report)
        print(f"wrote {files[0]}" + (f" and {len(files) - 1} PNG charts" if len(files) > 1 else ""))
    return 0


def main(argv: list[str]) -> int:
    """``tcpkit course ...``: returns the exit code."""
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE.rstrip())
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd not in COMMANDS:
        print(f"tcpkit course: unknown command {cmd!r}; allowed: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if cmd == "grade" and not [a for a in rest if not a.startswith("-")]:
        print("tcpkit course grade: missing SUBMISSIONS_DIR (a folder of .ipynb files)")
        return 2
    args = parser(cmd).parse_args(rest)
    try:
        if cmd == "build":
            bar = ProgressBar(0, "building")

            def step(done: int, total: int, name: str) -> None:
                bar.total = total
                bar.update(done, f"{name} done" if name else "otter assign …")

            res = build(args.source, args.out, only=args.only, run_tests=not args.no_run_tests, progress=step)
            print(f"built {', '.join(res.assignments)}")
            print(f"  release (hand out): {res.release}")
            print(f"  grading (keep):     {res.grading}")
        elif cmd == "check":
            check_release(Path(args.out) / "release", Path(args.out) / "grading")
            print("release is clean: no solutions, no hidden tests")
        elif cmd == "collect":
            done = collect(args.homes, args.path, args.to)
            for c in done:
                if c.status != "copied":
                    print(f"{c.student}: {c.status}: {c.reason}")
            n = sum(1 for c in done if c.status == "copied")
            print(f"copied {n} of {len(done)} notebooks into {args.to}")
        elif cmd == "grade":
            return _grade(args)
        elif cmd == "feedback":
            files = write_feedback(args.grades, args.out, fmt=args.format)
            print(f"wrote {len(files)} feedback files into {args.out} (index: {Path(args.out) / 'index.csv'})")
        elif cmd == "gradebook":
            check_output(args.out, _inputs(*args.grades, args.roster, args.times), name="--out")
            columns = {}
            for c in args.column:
                if "=" not in c:
                    raise ParameterError("column", c, "ASSIGNMENT=COLUMN")
                k, v = c.split("=", 1)
                columns[k] = v
            ex = export_gradebook(
                args.grades,
                args.out,
                fmt=args.format,
                roster=args.roster,
                roster_key=args.roster_key,
                id_pattern=args.id_pattern,
                due=args.due,
                late=args.late,
                times=args.times,
                missing_score=args.missing_score,
                columns=columns,
            )
            print(
                f"wrote {', '.join(str(f) for f in ex.files)}: {len(ex.rows)} rows, {len(ex.missing)} missing, "
                f"{ex.resubmissions} older resubmissions set aside, {ex.late} late"
            )
            if ex.roster_key:
                print(f"  roster matched on column {ex.roster_key!r}")
            if ex.not_in_roster:
                print("  not in the roster (left out): " + ", ".join(ex.not_in_roster))
        else:
            check_output(args.out, _inputs(args.grades, str(Path(args.grades).with_suffix(".json"))), name="--out")
            files = write_report(args.grades, args.out, png=not args.no_png)
            print(f"wrote {files[0]}" + (f" and {len(files) - 1} PNG charts" if len(files) > 1 else ""))
    except TcpkitError as exc:
        print(f"tcpkit course {cmd}: {exc}", file=sys.stderr)
        return 1
    return 0
