"""Interactive widgets: the course's labs, a trace player, a knob panel, predict-then-reveal, a scenario explorer.

All of them are built from :mod:`tcpkit.viz` pictures and ipywidgets
controls, can be driven without a browser (call the handlers directly, as
the tests do) and relabel at once when :func:`tcpkit.set_language` switches
language.  Each has ``static()`` returning a plain Figure (or table), and
shows it as a static twin beside the live widget, for notebooks read without
a kernel.  Every lab of the notebooks is a :class:`Lab` (controls, one
picture, one sentence, replaced together on every change); the player's
ladder cursor is a small overlay (:class:`LadderCursor`) that moves without
re-rendering the ladder.  A lab redraws its picture in place once the page has
drawn it (:class:`PictureSync`), and every FigureWidget here comes from
:func:`figure_widget`: plotly's widget without its own copy of plotly.js, so a
saved notebook does not carry 5 MB of JavaScript per figure.

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

from ._base import TcpkitWidget, figure_widget, replace_figure, set_language
from .cursor import LadderCursor
from .explorer import ScenarioExplorer, ScenarioRunner, scenario_runner
from .flagkey import FlagKey, flag_key_html
from .flood_lab import FloodLab
from .knobs import KnobPanel
from .lab import Control, Lab, PictureSync, View
from .labs import ExitsLab, IsnAttackLab, KernelLab, PortCeilingLab, PortExhaustionLab, SlowCloseLab, SynRetryLab
from .player import TracePlayer, describe_record
from .predict import PredictWidget
from .queue_lab import BurstLab

__all__ = [
    "BurstLab",
    "Control",
    "ExitsLab",
    "FlagKey",
    "FloodLab",
    "IsnAttackLab",
    "KernelLab",
    "Lab",
    "PortCeilingLab",
    "PortExhaustionLab",
    "SlowCloseLab",
    "SynRetryLab",
    "View",
    "KnobPanel",
    "LadderCursor",
    "PictureSync",
    "PredictWidget",
    "ScenarioExplorer",
    "ScenarioRunner",
    "TcpkitWidget",
    "TracePlayer",
    "describe_record",
    "figure_widget",
    "flag_key_html",
    "replace_figure",
    "scenario_runner",
    "set_language",
]
