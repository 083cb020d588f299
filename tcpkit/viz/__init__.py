"""Pictures of TCP: the state graph, ladder diagrams and timelines.

Every function here reads :class:`tcpkit.engine.trace.Trace` objects and the
transition table :data:`tcpkit.engine.states.TRANSITIONS`, never engine internals,
and returns a plain :class:`plotly.graph_objects.Figure`, which a notebook
shows even without a running kernel.  The interactive versions live in
:mod:`tcpkit.widgets`; :func:`static` turns any of their figures back into a
plain one.

Examples
--------
>>> from tcpkit.viz import example_trace, ladder_figure, state_graph_figure, static
>>> t = example_trace("lossy")
>>> type(static(ladder_figure(t))).__name__
'Figure'
>>> "stateDiagram-v2" in to_mermaid()
True
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from .examples import example_trace
from .graph import (
    GROUPS,
    MAIN_GROUPS,
    Highlighter,
    highlight,
    path_shape,
    path_states,
    path_transitions,
    state_graph,
    state_graph_figure,
    to_dot,
    to_mermaid,
)
from .ladder import (
    MAX_SEGMENTS,
    Ladder,
    LadderView,
    build_ladder,
    cursor_y,
    ladder_figure,
    ladder_pages,
    ladder_window,
)
from .timeline import (
    isn_figure,
    queue_figure,
    queue_series,
    state_gantt_figure,
    state_intervals,
    time_sequence_figure,
)

__all__ = [
    "GROUPS",
    "Highlighter",
    "MAIN_GROUPS",
    "MAX_SEGMENTS",
    "Ladder",
    "LadderView",
    "build_ladder",
    "cursor_y",
    "example_trace",
    "highlight",
    "isn_figure",
    "ladder_figure",
    "ladder_pages",
    "ladder_window",
    "path_shape",
    "path_states",
    "path_transitions",
    "queue_figure",
    "queue_series",
    "state_gantt_figure",
    "state_graph",
    "state_graph_figure",
    "state_intervals",
    "static",
    "time_sequence_figure",
    "to_dot",
    "to_mermaid",
]


def static(fig: Any) -> go.Figure:
    """A plain :class:`plotly.graph_objects.Figure` copy of ``fig`` (e.g. of a FigureWidget).

    A plain figure is saved in the notebook as data, so it stays visible on
    GitHub, in nbviewer and in exported HTML where no kernel runs widgets.
    Widgets of :mod:`tcpkit.widgets` also have a ``static()`` method.

    >>> type(static(go.FigureWidget())).__name__
    'Figure'
    """
    if hasattr(fig, "static") and callable(fig.static) and not isinstance(fig, go.Figure | go.FigureWidget):
        return fig.static()
    return go.Figure(fig.to_dict() if hasattr(fig, "to_dict") else fig)
