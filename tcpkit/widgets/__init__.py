"""Interactive widgets: a trace player, a knob panel, predict-then-reveal, a scenario explorer.

All of them are built from :mod:`tcpkit.viz` pictures shown in Plotly
``FigureWidget`` objects and ipywidgets controls, can be driven without a
browser (call the handlers directly, as the tests do) and switch language
with :func:`set_language`.  Each has ``static()`` returning a plain Figure
(or table) for notebooks read without a kernel.

Examples
--------
>>> from tcpkit.viz import example_trace
>>> from tcpkit.widgets import TracePlayer, set_language
>>> p = TracePlayer(example_trace("lossy"))
>>> set_language("zh"); p.step_button.description
'单步 ▶'
>>> set_language("en"); p.step_button.description
'step ▶'
"""

from __future__ import annotations

from ._base import replace_figure, set_language
from .explorer import ScenarioExplorer, ScenarioRunner, scenario_runner
from .knobs import KnobPanel
from .player import TracePlayer, describe_record
from .predict import PredictWidget

__all__ = [
    "KnobPanel",
    "PredictWidget",
    "ScenarioExplorer",
    "ScenarioRunner",
    "TracePlayer",
    "describe_record",
    "replace_figure",
    "scenario_runner",
    "set_language",
]
