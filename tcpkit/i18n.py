"""English and Simplified Chinese labels for everything a student sees, and the course glossary.

Labels are keys in :data:`CATALOG`; the glossary (:func:`glossary`, from
``tcpkit/data/glossary.toml``) gives every key term, flag letter and state its
Chinese name and a one-line meaning in both languages.

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

import functools
import importlib.resources
import tomllib
from collections.abc import Callable
from dataclasses import dataclass

from .engine.errors import ParameterError, TcpkitError

__all__ = [
    "set_language",
    "get_language",
    "tr",
    "register",
    "on_language_change",
    "CATALOG",
    "Term",
    "glossary",
    "term",
    "flag_key",
]

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


# ----------------------------------------------------------------------------------------- the glossary
#: Where the glossary lives (package data): terms, flag letters, and which notebooks list which state.
GLOSSARY_FILE = "data/glossary.toml"


@dataclass(frozen=True, slots=True)
class Term:
    """One glossary entry: a name, its Simplified Chinese name and a one-line meaning in both languages.

    ``kind`` is ``"term"``, ``"flag"`` (a flag letter such as ``S.``) or ``"state"`` (one of the 11
    states; its names and meanings come from the transition table).  ``notebooks`` lists the notebooks
    whose "Key terms" list shows it.
    """

    name: str
    zh: str
    meaning: str
    meaning_zh: str
    kind: str = "term"
    notebooks: tuple[str, ...] = ()

    def label(self) -> str:
        """The name in the current language (``"SYN queue"`` or ``"半连接队列"``)."""
        return self.zh if _LANG[0] == "zh" else self.name

    def text(self) -> str:
        """The meaning in the current language."""
        return self.meaning_zh if _LANG[0] == "zh" else self.meaning


@functools.cache
def glossary() -> tuple[Term, ...]:
    """Every glossary entry: the flag letters, the 11 states, then the key terms (the file's order).

    Examples
    --------
    >>> g = {t.name: t for t in glossary()}
    >>> g["SYN queue"].zh, g["S."].kind, g["TIME_WAIT"].kind
    ('半连接队列', 'flag', 'state')
    >>> all(t.meaning and t.meaning_zh for t in glossary())
    True

    Raises
    ------
    TcpkitError
        If the data file misses a field or repeats a name (a packaging bug).
    """
    from .engine.states import STATES

    doc = tomllib.loads(importlib.resources.files("tcpkit").joinpath(GLOSSARY_FILE).read_text(encoding="utf-8"))
    out: list[Term] = []
    for f in doc.get("flag", []):
        out.append(_term(f, "flag"))
    listed = {s["name"]: tuple(s.get("notebooks", ())) for s in doc.get("state", [])}
    unknown = set(listed) - {s.value for s in STATES}
    if unknown:
        raise TcpkitError(f"{GLOSSARY_FILE}: [[state]] entries that are not states: {sorted(unknown)}")
    for s in STATES:
        out.append(Term(s.value, s.zh, s.description, s.description_zh, "state", listed.get(s.value, ())))
    for t in doc.get("term", []):
        out.append(_term(t, "term"))
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise TcpkitError(f"{GLOSSARY_FILE}: a name appears twice: {sorted({n for n in names if names.count(n) > 1})}")
    return tuple(out)


def _term(d: dict[str, object], kind: str) -> Term:
    fields = ("name", "zh", "meaning", "meaning_zh")
    missing = [f for f in fields if not isinstance(d.get(f), str) or not str(d.get(f)).strip()]
    if missing:
        raise TcpkitError(f"{GLOSSARY_FILE}: the {kind} {d.get('name')!r} has no {', '.join(missing)}")
    notebooks = d.get("notebooks", ())
    if not isinstance(notebooks, list | tuple):
        raise TcpkitError(f"{GLOSSARY_FILE}: the {kind} {d.get('name')!r} has notebooks that are not a list")
    name, zh, meaning, meaning_zh = (str(d[f]) for f in fields)
    return Term(name, zh, meaning, meaning_zh, kind=kind, notebooks=tuple(str(n) for n in notebooks))


def term(name: str) -> Term:
    """The glossary entry called ``name`` (a term, a flag letter or a state).

    >>> term("half-open connection").zh
    '半开连接'
    >>> term("handshake")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter term = 'handshake' is not allowed: expected a glossary entry, ...
    """
    for t in glossary():
        if t.name == name:
            return t
    some = ", ".join(t.name for t in glossary() if t.kind == "term")
    raise ParameterError("term", name, f"a glossary entry, e.g. {some[:120]}, ...")


def flag_key() -> tuple[Term, ...]:
    """The flag letters a ladder or a widget prints (``S``, ``S.``, ``.``, ``P.``, ``F.``, ``R``, ``R.``, ``-``).

    >>> [t.name for t in flag_key()]
    ['S', 'S.', '.', 'P.', 'F.', 'R', 'R.', '-']
    """
    return tuple(t for t in glossary() if t.kind == "flag")
