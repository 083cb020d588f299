"""What the course notebooks call: questions asked by id, construction tasks, the glossary, small tables.

A notebook cell holds only ``ask("03.accept-queue-size")``: the question,
its answer or the rule that computes the answer from an engine run, and its
explanation live in the question bank (``tcpkit/lessons/bank/NN.toml``).
Construction tasks (``kind = "construct"``) give an empty scaffold, a *Check*
button that runs the student's text on the engine, hints one at a time, and a
model answer after a first attempt.

Modules
-------
bank : the question bank, :func:`ask` and :func:`check_yourself`.
rules : answers computed from engine runs (a seed gives new numbers).
runs : the named runs the predict moments ask about.
construct : the construction-task framework; tasks : the tasks' checkers.
myths : myth-vs-fact boxes and the errata they correct.
quiz : question classes with immediate feedback; text : glossary, key terms, tables.

Examples
--------
>>> from tcpkit.lessons import ask, term
>>> term("SYN flood")
'SYN flood (SYN 洪泛攻击)'
>>> ask("05.linux-time-wait").check(60).correct
True
"""

from __future__ import annotations

from . import quiz, tasks
from .bank import ask, check_yourself, load_bank, questions
from .construct import ConstructTask, Verdict
from .text import (
    TERMS,
    Table,
    connected_pair,
    glossary_rows,
    glossary_table,
    key_terms,
    setup_notebook,
    state_paths,
    term,
)

__all__ = [
    "TERMS",
    "ConstructTask",
    "Table",
    "Verdict",
    "ask",
    "check_yourself",
    "connected_pair",
    "glossary_rows",
    "glossary_table",
    "key_terms",
    "load_bank",
    "questions",
    "quiz",
    "setup_notebook",
    "state_paths",
    "tasks",
    "term",
]
