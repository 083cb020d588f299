"""Writing files without ever destroying what the user gave: refuse an output that is an input, write through a
temporary file and ``os.replace``.

>>> from tcpkit.files import write_output
>>> callable(write_output)
True
"""

from __future__ import annotations

from .output import check_output, same_file, write_output

__all__ = ["check_output", "same_file", "write_output"]
