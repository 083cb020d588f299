"""Answers as tagged JSON: the only thing that travels from a student's process to the grader.

A submission's answers cross a process boundary as data, never as pickles or
live objects, so nothing a student's code did to its own interpreter
(monkeypatching, fake classes, ``__eq__`` that always says yes) can reach the
process that runs the hidden tests.  JSON covers numbers, strings, lists and
dicts; tags add tuples, bytes, the tcpkit enums and a marker for values that
cannot be sent.

Examples
--------
>>> from tcpkit.engine.states import State
>>> text = dumps({"conn": ("10.0.0.1", 80), "key": b"\\x01\\x02", "state": State.TIME_WAIT})
>>> loads(text)
{'conn': ('10.0.0.1', 80), 'key': b'\\x01\\x02', 'state': <State.TIME_WAIT: 'TIME_WAIT'>}
>>> loads(dumps(object()))                         # doctest: +ELLIPSIS
Unsendable('<object object at ...>')

Notes
-----
Decoding builds only the types listed here (``json`` itself never executes
anything), so a hostile answer file can at worst be wrong.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from typing import Any

from tcpkit.engine.segment import Flags
from tcpkit.engine.states import Event, State

__all__ = ["Unsendable", "TooLarge", "encode", "decode", "dumps", "loads", "MAX_DEPTH", "describe"]

#: Deeper nesting than this is sent as :class:`Unsendable` (guards against self-referencing lists).
MAX_DEPTH = 32

_ENUMS: dict[str, type[enum.Enum]] = {"State": State, "Event": Event, "Flags": Flags}


@dataclass(frozen=True, slots=True)
class Unsendable:
    """Stands in for a value that could not be sent (its ``repr``, cut to 200 characters)."""

    text: str

    def __repr__(self) -> str:
        return f"Unsendable({self.text!r})"


@dataclass(frozen=True, slots=True)
class TooLarge:
    """Stands in for an answer whose data was larger than the grader accepts (``size`` bytes as JSON)."""

    size: int
    limit: int

    def __repr__(self) -> str:
        return f"TooLarge({self.size} bytes > {self.limit})"


def describe(value: Any) -> str:
    """A short phrase for why an answer cannot count, or ``""`` when it is an answer.

    >>> describe(...), describe(Unsendable("<object>")), describe(TooLarge(50_000_000, 16_777_216)), describe(3)
    ('is still ...', 'is not plain data: <object>', 'is 47.7 MB as data (the limit is 16 MB)', '')
    """
    if value is ...:
        return "is still ..."
    if isinstance(value, TooLarge):
        return f"is {value.size / 2**20:.1f} MB as data (the limit is {value.limit / 2**20:g} MB)"
    if isinstance(value, Unsendable):
        return f"is not plain data: {value.text[:80]}"
    return ""


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a hostile __repr__
        text = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
    return text[:200]


def encode(value: Any, _depth: int = 0) -> Any:
    """Turn an answer into plain JSON data (with tags).

    >>> encode((1, b"a"))
    {'__tuple__': [1, {'__bytes__': '61'}]}
    """
    if _depth > MAX_DEPTH:
        return {"__unsendable__": "nested too deeply"}
    t = type(value)  # exact types only: a subclass could lie in __eq__ or __str__
    if value is None or t in (bool, str):
        return value
    if value is ...:
        return {"__ellipsis__": True}
    if t is int:
        return value
    if t is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if t in (bytes, bytearray):
        return {"__bytes__": bytes(value).hex()}
    if t is list:
        return [encode(v, _depth + 1) for v in value]
    if t is tuple:
        return {"__tuple__": [encode(v, _depth + 1) for v in value]}
    if t is dict and all(type(k) is str for k in value):
        return {"__dict__": {k: encode(v, _depth + 1) for k, v in value.items()}}
    for name, cls in _ENUMS.items():
        if t is cls:
            return {"__enum__": name, "value": value.value}
    return {"__unsendable__": _short_repr(value)}


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`.

    >>> decode({"__enum__": "State", "value": "LISTEN"})
    <State.LISTEN: 'LISTEN'>
    """
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "__tuple__" in data:
        return tuple(decode(v) for v in data["__tuple__"])
    if "__bytes__" in data:
        return bytes.fromhex(data["__bytes__"])
    if "__dict__" in data:
        return {str(k): decode(v) for k, v in data["__dict__"].items()}
    if "__float__" in data:
        return float(data["__float__"])
    if "__enum__" in data:
        cls = _ENUMS.get(data["__enum__"])
        try:
            return cls(data["value"]) if cls is not None else Unsendable(str(data)[:200])
        except ValueError:
            return Unsendable(str(data)[:200])
    if "__ellipsis__" in data:
        return ...
    if "__too_large__" in data:
        try:
            return TooLarge(int(data["__too_large__"]), int(data.get("limit", 0)))
        except (TypeError, ValueError):
            return Unsendable(str(data)[:200])
    if "__unsendable__" in data:
        return Unsendable(str(data["__unsendable__"]))
    return Unsendable(str(data)[:200])  # not written by encode(): keep it, but as data only


def dumps(value: Any) -> str:
    """``json.dumps(encode(value))``."""
    return json.dumps(encode(value), sort_keys=True)


def loads(text: str) -> Any:
    """``decode(json.loads(text))``."""
    return decode(json.loads(text))
