"""tcpkit: how TCP connections live and die, with an engine verified against real kernels.

The public names are re-exported here; see the README for a tour.

>>> import tcpkit
>>> tcpkit.State.TIME_WAIT.zh
'时间等待'
"""

from __future__ import annotations

from .errors import (
    IllegalTransition,
    KnobError,
    ParameterError,
    RemovedKnobError,
    ScriptSyntaxError,
    SegmentSyntaxError,
    TcpError,
    TcpkitError,
    TraceFormatError,
)
from .i18n import get_language, set_language
from .profiles import Params, Profile, get_profile
from .segment import Flags, Segment, parse_segment
from .states import STATES, TRANSITIONS, Event, State, Transition, lookup
from .trace import Kind, Trace, TraceRecord

__version__ = "0.1.0"

__all__ = [
    "Event",
    "Flags",
    "IllegalTransition",
    "Kind",
    "KnobError",
    "ParameterError",
    "Params",
    "Profile",
    "RemovedKnobError",
    "STATES",
    "ScriptSyntaxError",
    "Segment",
    "SegmentSyntaxError",
    "State",
    "TRANSITIONS",
    "TcpError",
    "TcpkitError",
    "Trace",
    "TraceFormatError",
    "TraceRecord",
    "Transition",
    "get_language",
    "get_profile",
    "lookup",
    "parse_segment",
    "set_language",
]
