"""SipHash-2-4 against the published reference vectors (Aumasson & Bernstein 2012)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpkit.engine.errors import ParameterError
from tcpkit.engine.siphash import key_from_seed, siphash24, siphash_3u32, siphash_4u32

KEY = bytes(range(16))

# vectors.h of the reference implementation: key 00..0f, message i = bytes 00..i-1,
# output as the 8 little-endian bytes of the 64-bit hash.
VECTORS = [
    "310e0edd47db6f72",
    "fd67dc93c539f874",
    "5a4fa9d909806c0d",
    "2d7efbd796666785",
    "b7877127e09427cf",
    "8da699cd64557618",
    "cee3fe586e46c9cb",
    "37d1018bf50002ab",
    "6224939a79f5f593",
    "b0e4a90bdf82009e",
    "f3b9dd94c5bb5d7a",
    "a7ad6b22462fb3f4",
    "fbe50e86bc8f1e75",
    "903d84c02756ea14",
    "eef27a8e90ca23f7",
    "e545be4961ca29a1",
]


@pytest.mark.parametrize("length", range(len(VECTORS)))
def test_reference_vectors(length: int) -> None:
    got = siphash24(KEY, bytes(range(length)))
    assert got.to_bytes(8, "little").hex() == VECTORS[length]


def test_key_must_be_16_bytes() -> None:
    with pytest.raises(ParameterError, match="16 bytes"):
        siphash24(b"\x00" * 15, b"x")
    with pytest.raises(ParameterError, match="key16"):
        siphash24("0123456789abcdef", b"x")  # type: ignore[arg-type]


@given(st.binary(max_size=40), st.integers(0, 39))
def test_one_changed_byte_changes_the_hash(data: bytes, pos: int) -> None:
    if not data:
        return
    i = pos % len(data)
    flipped = data[:i] + bytes([data[i] ^ 1]) + data[i + 1 :]
    assert siphash24(KEY, data) != siphash24(KEY, flipped)


def test_length_is_part_of_the_hash() -> None:
    # Trailing zero bytes must not collide with the shorter message (length byte).
    assert siphash24(KEY, b"\x00" * 7) != siphash24(KEY, b"\x00" * 8)
    assert siphash24(KEY, b"") != siphash24(KEY, b"\x00")


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_word_helpers_match_kernel_packing(a: int, b: int, c: int, d: int) -> None:
    # siphash_2u64(b << 32 | a, d << 32 | c) in the kernel
    two_u64 = ((b << 32) | a).to_bytes(8, "little") + ((d << 32) | c).to_bytes(8, "little")
    assert siphash_4u32(a, b, c, d, KEY) == siphash24(KEY, two_u64)
    three = a.to_bytes(4, "little") + b.to_bytes(4, "little") + c.to_bytes(4, "little")
    assert siphash_3u32(a, b, c, KEY) == siphash24(KEY, three)


def test_word_helpers_reject_out_of_range() -> None:
    with pytest.raises(ParameterError, match="parameter c"):
        siphash_4u32(0, 0, 2**32, 0, KEY)


def test_key_from_seed_is_deterministic_and_label_separated() -> None:
    assert key_from_seed(5, "a") == key_from_seed(5, "a")
    assert key_from_seed(5, "a") != key_from_seed(5, "b")
    assert key_from_seed(5, "a") != key_from_seed(6, "a")
    with pytest.raises(ParameterError, match="seed"):
        key_from_seed(1.5, "a")  # type: ignore[arg-type]
