"""What every tcpkit widget shares: display, language switching, figure replacement."""

from __future__ import annotations

import warnings
import weakref
from typing import Any

import plotly.graph_objects as go

from tcpkit import i18n

__all__ = ["TcpkitWidget", "set_language", "replace_figure", "figure_widget", "live_widgets"]

_LIVE: weakref.WeakSet[TcpkitWidget] = weakref.WeakSet()


class TcpkitWidget:
    """Base class: holds ``self.widget`` (an ipywidgets box) and relabels on a language change.

    Every open widget subscribes to :func:`tcpkit.i18n.on_language_change`
    through a weak reference, so ``tcpkit.set_language("zh")`` relabels it at
    once; the subscription ends when the widget is closed or garbage-collected.
    """

    widget: Any

    def __init__(self) -> None:
        self._lang = i18n.get_language()
        _LIVE.add(self)
        ref = weakref.ref(self)

        def relabel(_lang: str) -> None:
            w = ref()
            if w is not None:
                w._on_language_change()

        # finalize(): unsubscribes when the widget is collected, or at close() (at most once)
        self._language_subscription = weakref.finalize(self, i18n.on_language_change(relabel))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._check_language()
        return self.widget._repr_mimebundle_(**kwargs)

    def _on_language_change(self) -> None:
        try:
            self._check_language()
        except Exception as exc:  # noqa: BLE001 - one broken widget must not stop set_language for the others
            warnings.warn(
                f"{type(self).__name__} could not switch language: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )

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
        self._language_subscription()
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
    """:func:`tcpkit.set_language`: switch language and relabel every open widget at once.

    Open widgets subscribe to :func:`tcpkit.i18n.on_language_change`, so
    calling :func:`tcpkit.set_language` directly relabels them too.

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
