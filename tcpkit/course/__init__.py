"""Graded homework (作业) that grades itself: ``tcpkit course build`` and ``tcpkit course grade``.

Masters live in ``course/<assignment>/<assignment>.ipynb`` (otter-assign
format).  ``build`` writes the student release and the grading bundle;
``grade`` grades a folder of submitted notebooks into a CSV.  See
``course/README.md`` for the instructor's guide.

The command line lives in :mod:`tcpkit.cli.course`.
"""

from __future__ import annotations

from .build import BuildResult, build, check_release
from .bundle import Bundle, load_bundle
from .grade import Limits, Result, grade_folder, grade_submission

__all__ = [
    "Bundle",
    "BuildResult",
    "Limits",
    "Result",
    "build",
    "check_release",
    "grade_folder",
    "grade_submission",
    "load_bundle",
]
