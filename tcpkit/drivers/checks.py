"""Argument checks for the simulator API: each names the argument and what is allowed.

The first calls a student types (``Network(seed=...)``, ``add_host(...)``,
``sock.bind(...)``) check their arguments here, so a wrong type or value is a
:class:`~tcpkit.engine.errors.ParameterError` naming the argument, never a
``TypeError`` from deep inside.  Integers may be any integral type (``int``,
``numpy.int64``); ``bool`` is refused where a number is meant.

Examples
--------
>>> integer("backlog", 8, 0), port("port", 80), address("addr", "192.0.2.1")
(8, 80, '192.0.2.1')
>>> integer("seed", 1.5)
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter seed = 1.5 is not allowed: expected an integer
>>> address("addr", "999.1.1.1")
Traceback (most recent call last):
...
tcpkit.engine.errors.ParameterError: parameter addr = '999.1.1.1' is not allowed: expected an IPv4 or IPv6 address ...
"""

from __future__ import annotations

import ipaddress
import math
import numbers
import operator
from typing import Any

from tcpkit.engine.errors import ParameterError

__all__ = ["address", "choice", "integer", "name", "number", "port"]


def integer(what: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an ``int`` (any integral type, not ``bool``), within ``lo``..``hi`` when given."""
    if lo is None and hi is None:
        allowed = "an integer"
    elif hi is None:
        allowed = f"an integer >= {lo}"
    elif lo is None:
        allowed = f"an integer <= {hi}"
    else:
        allowed = f"an integer from {lo} to {hi}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(what, value, allowed)
    v = operator.index(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ParameterError(what, value, allowed)
    return v


def number(what: str, value: Any, lo: float = -math.inf, hi: float = math.inf, unit: str = "") -> float:
    """``value`` as a finite ``float`` within ``lo``..``hi`` (``bool``, NaN and infinities refused)."""
    bounds = []
    if math.isfinite(lo):
        bounds.append(f">= {lo:g}")
    if math.isfinite(hi):
        bounds.append(f"<= {hi:g}")
    allowed = "a finite number" + (" " + " and ".join(bounds) if bounds else "") + (f" ({unit})" if unit else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(what, value, allowed)
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise ParameterError(what, value, allowed)
    return v


def port(what: str, value: Any, *, zero: bool = False) -> int:
    """A TCP port: 1 to 65535 (0 too when ``zero``: "any port")."""
    return integer(what, value, 0 if zero else 1, 65535)


def address(what: str, value: Any) -> str:
    """An IPv4 or IPv6 address written as text, returned in its usual short form."""
    if not isinstance(value, str):
        raise ParameterError(what, value, "an IPv4 or IPv6 address as text, e.g. '192.0.2.1'")
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ParameterError(
            what, value, "an IPv4 or IPv6 address as text, e.g. '192.0.2.1' or '2001:db8::1'"
        ) from None


def name(what: str, value: Any, *, max_len: int = 64) -> str:
    """A non-empty name without control characters, at most ``max_len`` characters."""
    ok = isinstance(value, str) and 0 < len(value) <= max_len and value.isprintable() and value.strip() == value
    if not ok:
        raise ParameterError(what, value, f"a non-empty printable name of at most {max_len} characters")
    return value


def choice(what: str, value: Any, allowed: tuple[str, ...]) -> str:
    """One of ``allowed`` (strings)."""
    if not isinstance(value, str) or value not in allowed:
        raise ParameterError(what, value, "one of " + ", ".join(allowed))
    return value
