"""Sequence-number arithmetic modulo 2**32.

Every comparison of TCP sequence or acknowledgment numbers in tcpkit goes
through this module, so wrap-around is handled in exactly one place.

Examples
--------
>>> seq_add(2**32 - 1, 2)
1
>>> seq_lt(2**32 - 1, 1)          # 0xffffffff comes just before 1
True
>>> seq_diff(1, 2**32 - 1)
2
>>> seq_in_window(5, 3, 10)
True

Notes
-----
RFC 9293 section 3.4 ("Sequence Numbers"): all arithmetic on sequence numbers
is modulo 2**32, and comparisons use "serial number arithmetic" (RFC 1982):
``a < b`` iff ``(b - a) mod 2**32`` lies in ``(0, 2**31)``.  Linux uses the
same rule in ``before()``/``after()`` (``include/net/tcp.h``).
"""

from __future__ import annotations

MOD = 1 << 32
HALF = 1 << 31
MASK = MOD - 1

__all__ = [
    "MOD",
    "seq_add",
    "seq_sub",
    "seq_diff",
    "seq_lt",
    "seq_le",
    "seq_gt",
    "seq_ge",
    "seq_max",
    "seq_in_window",
    "seq_between",
]


def seq_add(a: int, n: int) -> int:
    """Return ``a + n`` modulo 2**32.

    >>> seq_add(10, 5)
    15
    """
    return (a + n) & MASK


def seq_sub(a: int, n: int) -> int:
    """Return ``a - n`` modulo 2**32.

    >>> seq_sub(0, 1)
    4294967295
    """
    return (a - n) & MASK


def seq_diff(a: int, b: int) -> int:
    """Signed distance ``a - b`` in serial-number arithmetic, in ``[-2**31, 2**31)``.

    >>> seq_diff(3, 10)
    -7
    """
    d = (a - b) & MASK
    return d - MOD if d >= HALF else d


def seq_lt(a: int, b: int) -> bool:
    """``a`` comes strictly before ``b`` (Linux ``before()``).

    >>> seq_lt(1, 2), seq_lt(2, 1)
    (True, False)
    """
    return seq_diff(a, b) < 0


def seq_le(a: int, b: int) -> bool:
    """``a`` comes before or equals ``b``.

    >>> seq_le(7, 7)
    True
    """
    return seq_diff(a, b) <= 0


def seq_gt(a: int, b: int) -> bool:
    """``a`` comes strictly after ``b`` (Linux ``after()``).

    >>> seq_gt(0, 2**32 - 1)
    True
    """
    return seq_diff(a, b) > 0


def seq_ge(a: int, b: int) -> bool:
    """``a`` comes after or equals ``b``.

    >>> seq_ge(7, 7)
    True
    """
    return seq_diff(a, b) >= 0


def seq_max(a: int, b: int) -> int:
    """The later of two sequence numbers.

    >>> seq_max(2**32 - 1, 3)
    3
    """
    return b if seq_gt(b, a) else a


def seq_between(low: int, x: int, high: int) -> bool:
    """``low <= x <= high`` in sequence space (Linux ``between()``).

    >>> seq_between(2**32 - 2, 1, 5)
    True
    """
    return ((x - low) & MASK) <= ((high - low) & MASK)


def seq_in_window(x: int, start: int, size: int) -> bool:
    """``start <= x < start + size``: the test of RFC 9293 Table 5.

    An empty window (``size == 0``) contains nothing.

    >>> seq_in_window(10, 10, 1), seq_in_window(11, 10, 1), seq_in_window(10, 10, 0)
    (True, False, False)
    """
    if size <= 0:
        return False
    return ((x - start) & MASK) < size
