"""English and Simplified Chinese labels for everything a student sees.

Examples
--------
>>> set_language("zh")
>>> tr("state")
'状态'
>>> set_language("en")
>>> tr("state")
'state'
>>> set_language("fr")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter language = 'fr' is not allowed: expected 'en' or 'zh'
"""

from __future__ import annotations

from collections.abc import Callable

from .engine.errors import ParameterError

__all__ = ["set_language", "get_language", "tr", "register", "on_language_change", "CATALOG"]

_LANG = ["en"]
_LISTENERS: list[Callable[[str], None]] = []

#: key -> (English, Chinese).  Modules add their own keys with :func:`register`.
CATALOG: dict[str, tuple[str, str]] = {
    "state": ("state", "状态"),
    "time": ("time", "时间"),
    "host": ("host", "主机"),
    "client": ("client", "客户端"),
    "server": ("server", "服务器"),
    "attacker": ("attacker", "攻击者"),
    "sent": ("sent", "发送"),
    "received": ("received", "接收"),
    "dropped": ("dropped", "丢弃"),
    "lost": ("lost", "丢失"),
    "retransmission": ("retransmission", "重传"),
    "seconds": ("seconds", "秒"),
}


def set_language(lang: str) -> None:
    """Switch every label, hover text and message to ``"en"`` or ``"zh"``."""
    if lang not in ("en", "zh"):
        raise ParameterError("language", lang, "'en' or 'zh'")
    changed = lang != _LANG[0]
    _LANG[0] = lang
    if changed:
        for listener in list(_LISTENERS):
            listener(lang)


def on_language_change(callback: Callable[[str], None]) -> Callable[[], None]:
    """Call ``callback(lang)`` whenever :func:`set_language` switches language.

    Returns a function that unsubscribes.  Open widgets use this to relabel at once.

    >>> seen = []
    >>> stop = on_language_change(seen.append)
    >>> set_language("zh"); set_language("en"); stop(); set_language("zh"); set_language("en")
    >>> seen
    ['zh', 'en']
    """
    _LISTENERS.append(callback)

    def unsubscribe() -> None:
        if callback in _LISTENERS:
            _LISTENERS.remove(callback)

    return unsubscribe


def get_language() -> str:
    """The current language, ``"en"`` or ``"zh"``."""
    return _LANG[0]


def register(entries: dict[str, tuple[str, str]]) -> None:
    """Add ``key -> (en, zh)`` labels to the catalogue."""
    CATALOG.update(entries)


def tr(key: str, **fmt: object) -> str:
    """The label for ``key`` in the current language (the key itself if unknown)."""
    en, zh = CATALOG.get(key, (key, key))
    text = zh if _LANG[0] == "zh" else en
    return text.format(**fmt) if fmt else text
