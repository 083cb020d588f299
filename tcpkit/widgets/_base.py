"""What every tcpkit widget shares: display, language switching, figure replacement."""

from __future__ import annotations

import weakref
from typing import Any

import plotly.graph_objects as go

from .. import i18n

__all__ = ["TcpkitWidget", "set_language", "replace_figure", "figure_widget", "live_widgets"]

_LIVE: weakref.WeakSet[TcpkitWidget] = weakref.WeakSet()


class TcpkitWidget:
    """Base class: holds ``self.widget`` (an ipywidgets box) and relabels on a language change."""

    widget: Any

    def __init__(self) -> None:
        self._lang = i18n.get_language()
        _LIVE.add(self)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._check_language()
        return self.widget._repr_mimebundle_(**kwargs)

    def _check_language(self) -> None:
        if self._lang != i18n.get_language():
            self._lang = i18n.get_language()
            self.refresh_language()

    def refresh_language(self) -> None:
        """Rewrite every label in the current language (figures included)."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the widget and its children (frees them in the kernel and the browser)."""
        _LIVE.discard(self)
        _close_tree(self.widget)


def _close_tree(w: Any) -> None:
    for child in getattr(w, "children", ()) or ():
        _close_tree(child)
    if hasattr(w, "close"):
        w.close()


def live_widgets() -> list[TcpkitWidget]:
    """The tcpkit widgets that are open (relabelled by :func:`set_language`)."""
    return list(_LIVE)


def set_language(lang: str) -> None:
    """:func:`tcpkit.set_language`, then relabel every live widget at once.

    Widgets also notice a language change made with :func:`tcpkit.set_language`
    at their next interaction.

    >>> set_language("zh"); set_language("en")
    """
    i18n.set_language(lang)
    for w in list(_LIVE):
        w._check_language()


def figure_widget(fig: go.Figure) -> go.FigureWidget:
    """A FigureWidget showing ``fig``."""
    return go.FigureWidget(fig)


def replace_figure(fw: go.FigureWidget, fig: go.Figure) -> None:
    """Make ``fw`` show ``fig`` (all traces and the layout) in one batch.

    >>> fw = go.FigureWidget(go.Figure(go.Scatter(y=[1, 2])))
    >>> replace_figure(fw, go.Figure([go.Bar(y=[3]), go.Bar(y=[4])]))
    >>> [d.type for d in fw.data]
    ['bar', 'bar']
    """
    with fw.batch_update():
        fw.data = []
        fw.add_traces(list(fig.data))
        fw.layout = fig.layout
