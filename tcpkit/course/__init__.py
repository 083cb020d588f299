"""Graded homework (作业) that grades itself, and everything an instructor does around it.

Masters live in ``course/<assignment>/<assignment>.ipynb`` (otter-assign
format).  ``build`` writes the student release and the grading bundle;
``collect`` copies notebooks out of home folders without following links;
``grade`` grades a folder of submitted notebooks, each in a sealed jail
(:mod:`tcpkit.course.sandbox`), into a CSV with a reason for every lost
point; ``feedback``, ``gradebook`` and ``report`` turn the grades into files
for students, the LMS and the instructor.  Students check their answers with
:class:`tcpkit.course.notebook.Notebook`.  See ``course/README.md`` for the
instructor's guide.

The command line lives in :mod:`tcpkit.cli.course`.
"""

from __future__ import annotations

from .build import BuildResult, build, check_release
from .bundle import Bundle, load_bundle
from .feedback import write_feedback
from .grade import Limits, Result, grade_folder, grade_submission, read_results
from .gradebook import export_gradebook
from .report import write_report
from .submissions import collect

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
    "read_results",
    "collect",
    "write_feedback",
    "export_gradebook",
    "write_report",
]
