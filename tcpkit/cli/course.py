"""``tcpkit course``: build student homework, grade submissions, check a release.

>>> main(["--help"])                                   # doctest: +ELLIPSIS
usage: tcpkit course {build,grade,check} ...
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

from tcpkit.course import Limits, build, check_release, grade_folder
from tcpkit.course.grade import describe_isolation
from tcpkit.engine.errors import TcpkitError

DEFAULT_LIMITS = Limits()

USAGE = """usage: tcpkit course {build,grade,check} ...

  build [--source DIR] [--out DIR] [--only NAME ...] [--no-run-tests]
        write OUT/release (student notebooks) and OUT/grading (autograder zips)
  grade SUBMISSIONS_DIR --out grades.csv [--bundle DIR|ZIP] [--workers N]
        [--timeout S] [--memory-mb M] [--cell-timeout S] [--cache DIR]
        grade every notebook, each in its own limited process; re-runs resume
  check [--out DIR]
        prove OUT/release holds no solution and no hidden test
"""


def parser(cmd: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"tcpkit course {cmd}", add_help=True)
    if cmd == "build":
        p.add_argument("--source", default=None, help="folder of master notebooks (default: course/)")
        p.add_argument("--out", default="course-build", help="output folder (default: course-build)")
        p.add_argument("--only", nargs="*", default=None, help="build only these assignments")
        p.add_argument("--no-run-tests", action="store_true", help="skip otter's check of the solutions")
    elif cmd == "grade":
        p.add_argument("submissions")
        p.add_argument("--out", default="grades.csv")
        p.add_argument("--bundle", default="course-build/grading", help="autograder zips (folder or one zip)")
        p.add_argument("--workers", type=int, default=None, help="submissions at once (default: CPU count)")
        p.add_argument("--timeout", type=float, default=DEFAULT_LIMITS.timeout, help="seconds per notebook")
        p.add_argument("--memory-mb", type=int, default=DEFAULT_LIMITS.memory_mb)
        p.add_argument("--cell-timeout", type=float, default=DEFAULT_LIMITS.cell_timeout)
        p.add_argument("--cache", default=None, help="result cache (default: OUT.cache)")
    else:
        p.add_argument("--out", default="course-build")
    return p


def main(argv: list[str]) -> int:
    """``tcpkit course ...``: returns the exit code."""
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE.rstrip())
        return 0 if argv else 2
    cmd, rest = argv[0], argv[1:]
    if cmd not in ("build", "grade", "check"):
        print(f"tcpkit course: unknown command {cmd!r}; allowed: build, grade, check", file=sys.stderr)
        return 2
    if cmd == "grade" and not [a for a in rest if not a.startswith("-")]:
        print("tcpkit course grade: missing SUBMISSIONS_DIR (a folder of .ipynb files)")
        return 2
    args = parser(cmd).parse_args(rest)
    try:
        if cmd == "build":
            res = build(args.source, args.out, only=args.only, run_tests=not args.no_run_tests)
            print(f"built {', '.join(res.assignments)}")
            print(f"  release (hand out): {res.release}")
            print(f"  grading (keep):     {res.grading}")
        elif cmd == "check":
            check_release(Path(args.out) / "release", Path(args.out) / "grading")
            print("release is clean: no solutions, no hidden tests")
        else:
            limits = Limits(
                timeout=args.timeout, memory_mb=args.memory_mb, cell_timeout=min(args.cell_timeout, args.timeout)
            )
            print(describe_isolation(), file=sys.stderr)
            results = grade_folder(
                args.submissions,
                args.bundle,
                args.out,
                workers=args.workers,
                limits=limits,
                cache=args.cache,
                progress=True,
            )
            print(f"wrote {args.out}: {len(results)} submissions")
    except TcpkitError as exc:
        print(f"tcpkit course {cmd}: {exc}", file=sys.stderr)
        return 1
    return 0
