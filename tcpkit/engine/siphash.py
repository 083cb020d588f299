"""SipHash-2-4, the keyed hash behind Linux ISNs and SYN cookies (in pure Python).

SipHash (Aumasson and Bernstein, 2012) turns a 128-bit secret key and a message
into a 64-bit value.  Without the key an attacker cannot predict the output,
which is exactly what an initial sequence number (ISN, 初始序列号) or a SYN
cookie needs: the kernel computes ``siphash(4-tuple, secret)`` and an off-path
attacker, who does not know the secret, cannot guess the result.

Examples
--------
>>> hex(siphash24(bytes(range(16)), b""))            # the paper's first test vector
'0x726fdb47dd0e0e31'
>>> siphash_4u32(1, 2, 3, 4, bytes(range(16))) == siphash24(bytes(range(16)),
...     (1).to_bytes(4, "little") + (2).to_bytes(4, "little")
...     + (3).to_bytes(4, "little") + (4).to_bytes(4, "little"))
True

Notes
-----
The algorithm, as the paper describes it:

* the key is read as two little-endian 64-bit words ``k0, k1``; four state
  words are ``k0 ^ "somepseu"``, ``k1 ^ "dorandom"``, ``k0 ^ "lygenera"``,
  ``k1 ^ "tedbytes"`` (the ASCII constants, big-endian);
* the message is cut into little-endian 64-bit words; the last word holds the
  leftover bytes and the message length (mod 256) in its top byte;
* each word ``m`` is mixed in by ``v3 ^= m``, **2** SipRounds ("c = 2"),
  ``v0 ^= m``;
* finalisation: ``v2 ^= 0xff``, **4** SipRounds ("d = 4"), output
  ``v0 ^ v1 ^ v2 ^ v3``.

A SipRound is add-rotate-xor on the four words (rotations 13, 16, 21, 17 and
32).  The kernel's ``siphash_4u32(a, b, c, d, key)`` (``lib/siphash.c``,
``include/linux/siphash.h``) hashes the four 32-bit words as two 64-bit words
``b << 32 | a`` and ``d << 32 | c``, which is the same as hashing the 16
little-endian bytes of ``a, b, c, d``; ``siphash_3u32`` likewise hashes 12 bytes.

References
----------
J.-P. Aumasson and D. J. Bernstein, "SipHash: a fast short-input PRF",
INDOCRYPT 2012.  Test vectors: appendix A of the paper and the authors'
reference ``vectors.h`` (key ``00 01 .. 0f``, messages ``""``, ``00``, ``00 01``, ...).
"""

from __future__ import annotations

import random

from .errors import ParameterError

__all__ = ["siphash24", "siphash_3u32", "siphash_4u32", "key_from_seed"]

_M64 = (1 << 64) - 1
_M32 = (1 << 32) - 1


def _check_key(key16: bytes) -> tuple[int, int]:
    if not isinstance(key16, bytes | bytearray) or len(key16) != 16:
        got = f"{len(key16)} bytes" if isinstance(key16, bytes | bytearray) else type(key16).__name__
        raise ParameterError("key16", got, "exactly 16 bytes (a 128-bit SipHash key)")
    return int.from_bytes(key16[:8], "little"), int.from_bytes(key16[8:], "little")


def _sip_rounds(v0: int, v1: int, v2: int, v3: int, n: int) -> tuple[int, int, int, int]:
    """``n`` SipRounds (the paper's ARX network) on the four 64-bit state words."""
    m64 = _M64
    for _ in range(n):
        v0 = (v0 + v1) & m64
        v1 = ((v1 << 13) | (v1 >> 51)) & m64
        v1 ^= v0
        v0 = ((v0 << 32) | (v0 >> 32)) & m64
        v2 = (v2 + v3) & m64
        v3 = ((v3 << 16) | (v3 >> 48)) & m64
        v3 ^= v2
        v0 = (v0 + v3) & m64
        v3 = ((v3 << 21) | (v3 >> 43)) & m64
        v3 ^= v0
        v2 = (v2 + v1) & m64
        v1 = ((v1 << 17) | (v1 >> 47)) & m64
        v1 ^= v2
        v2 = ((v2 << 32) | (v2 >> 32)) & m64
    return v0, v1, v2, v3


def siphash24(key16: bytes, data: bytes) -> int:
    """SipHash-2-4 of ``data`` under a 16-byte key, as a 64-bit integer.

    Parameters
    ----------
    key16 : bytes
        The 128-bit secret key.
    data : bytes
        The message, any length.

    Returns
    -------
    int
        The 64-bit hash; its little-endian bytes are the reference output.

    Raises
    ------
    ParameterError
        If the key is not exactly 16 bytes.

    Examples
    --------
    >>> siphash24(bytes(range(16)), bytes(range(15))).to_bytes(8, "little").hex()
    'e545be4961ca29a1'
    >>> siphash24(b"short", b"")
    Traceback (most recent call last):
    ...
    tcpkit.engine.errors.ParameterError: parameter key16 = '5 bytes' is not allowed: expected exactly 16 bytes (a ...

    Notes
    -----
    Written from the description in Aumasson and Bernstein (2012), section 2.
    Two compression rounds per 8-byte word and four finalization rounds (SipHash-2-4).
    """
    k0, k1 = _check_key(key16)
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573
    n = len(data)
    full = n - (n % 8)
    words = [int.from_bytes(data[i : i + 8], "little") for i in range(0, full, 8)]
    words.append(int.from_bytes(data[full:], "little") | ((n & 0xFF) << 56))
    for m in words:
        v3 ^= m
        v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 2)
        v0 ^= m
    v2 ^= 0xFF
    v0, v1, v2, v3 = _sip_rounds(v0, v1, v2, v3, 4)
    return v0 ^ v1 ^ v2 ^ v3


def _u32(name: str, value: int) -> int:
    if not isinstance(value, int) or not 0 <= value <= _M32:
        raise ParameterError(name, value, "an integer from 0 to 2**32 - 1")
    return value


def siphash_4u32(a: int, b: int, c: int, d: int, key: bytes) -> int:
    """SipHash-2-4 of four 32-bit words, like the kernel's ``siphash_4u32``.

    Examples
    --------
    >>> siphash_4u32(0, 0, 0, 0, bytes(16)) == siphash24(bytes(16), bytes(16))
    True

    Notes
    -----
    ``include/linux/siphash.h``: ``siphash_4u32`` is
    ``siphash_2u64((u64)b << 32 | a, (u64)d << 32 | c, key)``; the SYN-cookie
    hash ``cookie_hash()`` in ``net/ipv4/syncookies.c`` calls it.
    """
    words = (_u32("a", a), _u32("b", b), _u32("c", c), _u32("d", d))
    return siphash24(key, b"".join(w.to_bytes(4, "little") for w in words))


def siphash_3u32(a: int, b: int, c: int, key: bytes) -> int:
    """SipHash-2-4 of three 32-bit words, like the kernel's ``siphash_3u32``.

    Examples
    --------
    >>> siphash_3u32(1, 2, 3, bytes(16)) == siphash24(bytes(16), bytes([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]))
    True

    Notes
    -----
    ``secure_tcp_seq()`` in ``net/core/secure_seq.c`` hashes
    ``(saddr, daddr, sport << 16 | dport)`` with it.
    """
    words = (_u32("a", a), _u32("b", b), _u32("c", c))
    return siphash24(key, b"".join(w.to_bytes(4, "little") for w in words))


def key_from_seed(seed: int | str, label: str) -> bytes:
    """A 16-byte secret derived deterministically from a seed and a purpose label.

    The kernel draws its secrets at boot (``net_get_random_once``); tcpkit derives
    them from the seed so that the same seed gives the same "boot".

    Examples
    --------
    >>> key_from_seed(1, "isn") == key_from_seed(1, "isn"), key_from_seed(1, "isn") == key_from_seed(2, "isn")
    (True, False)
    >>> len(key_from_seed(0, "syncookie0"))
    16
    """
    if isinstance(seed, bool) or not isinstance(seed, int | str):
        raise ParameterError("seed", seed, "an integer or a string")
    # A str seed is hashed with SHA-512 by random.Random, the same in every process.
    return random.Random(f"tcpkit:{label}:{seed}").randbytes(16)
