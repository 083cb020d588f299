"""What the course notebooks use besides pictures and widgets: key terms and
small tables (``text``) and check-yourself questions (``quiz``).

>>> from tcpkit.lessons import term
>>> term("SYN flood")
'SYN flood (SYN 洪泛攻击)'
"""

from __future__ import annotations

from . import quiz
from .text import TERMS, Table, glossary_rows, setup_notebook, state_paths, term

__all__ = ["TERMS", "Table", "glossary_rows", "quiz", "setup_notebook", "state_paths", "term"]
