"""Framed, authenticated messages between the grader's processes.

A message is one JSON object.  On the wire it is a *frame*: a 4-byte
big-endian length, a 32-byte tag, then the JSON bytes.  The tag is
HMAC-SHA256 over a label naming the direction (``b"jail>checker"``), an
8-byte sequence number and the payload, with a key made fresh for every
submission by the grader (:func:`new_key`).  Only trusted processes ever
hold the key: the grader, the scoring process and the jail's supervisor.
The student's process never receives it, so a frame the student's code
writes into a pipe it should not have is refused as forged, a frame replayed
or reordered fails its sequence number, and a frame larger than the reader's
limit is refused with :class:`FrameTooLarge` (never cut short).

Between the supervisor and the student's process, where no key can be kept
secret, the same framing is used with ``key=None`` (no tag): the length
still makes every message whole and bounded.

Examples
--------
>>> import os
>>> key = new_key()
>>> r, w = os.pipe()
>>> out = Writer(w, key, b"a>b")
>>> out.send({"op": "hello", "n": 1})
>>> Reader(r, key, b"a>b").receive(timeout=5)
{'op': 'hello', 'n': 1}
>>> out.send({"op": "again"})
>>> Reader(r, key, b"b>a").receive(timeout=5)    # wrong direction: the tag does not match
Traceback (most recent call last):
...
tcpkit.course.channel.ForgedFrame: a frame on the b>a channel failed authentication (forged or corrupted)

Notes
-----
HMAC: RFC 2104; SHA-256: FIPS 180-4.  Python's :mod:`hmac` and
:func:`hmac.compare_digest` (constant-time comparison).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import os
import secrets
import select
import struct
import time
from typing import Any

from tcpkit.engine.errors import TcpkitError

__all__ = [
    "ChannelError",
    "ChannelClosed",
    "ChannelTimeout",
    "ForgedFrame",
    "FrameTooLarge",
    "GarbledFrame",
    "Reader",
    "Writer",
    "encode_frame",
    "new_key",
    "parse_frame",
    "MB",
]

MB = 1024 * 1024
_HEADER = struct.Struct(">I")
_TAG = 32


class ChannelError(TcpkitError):
    """Something went wrong on a grading channel."""


class ChannelClosed(ChannelError):
    """The other end closed the pipe (the process exited)."""


class ChannelTimeout(ChannelError):
    """No whole frame arrived in time."""


class ForgedFrame(ChannelError):
    """A frame's tag or sequence number did not check out."""


class GarbledFrame(ChannelError):
    """A frame's payload is not one JSON object."""


class FrameTooLarge(ChannelError):
    """A frame announced more bytes than the reader accepts."""

    def __init__(self, size: int, limit: int, label: str) -> None:
        self.size, self.limit = size, limit
        super().__init__(
            f"a {size / MB:.1f} MB message on the {label} channel is larger than the {limit / MB:g} MB allowed"
        )


def new_key() -> bytes:
    """A fresh 32-byte random key for one submission's channels.

    >>> len(new_key()), new_key() != new_key()
    (32, True)
    """
    return secrets.token_bytes(32)


def _tag(key: bytes, label: bytes, seq: int, header: bytes, payload: bytes) -> bytes:
    return hmac.new(key, label + seq.to_bytes(8, "big") + header + payload, hashlib.sha256).digest()


def encode_frame(obj: Any, key: bytes | None, label: bytes, seq: int) -> bytes:
    """The bytes of one frame holding ``obj``."""
    payload = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    header = _HEADER.pack(len(payload))
    tag = _tag(key, label, seq, header, payload) if key is not None else b""
    return header + tag + payload


class Writer:
    """Writes frames to a file descriptor (blocking unless ``deadline`` is given to :meth:`send`)."""

    def __init__(self, fd: int, key: bytes | None, label: bytes) -> None:
        self.fd, self.key, self.label, self.seq = fd, key, label, 0

    def send(self, obj: Any, deadline: float | None = None) -> None:
        """Send one message (:class:`ChannelClosed` if the reader is gone, :class:`ChannelTimeout` at ``deadline``)."""
        data = memoryview(encode_frame(obj, self.key, self.label, self.seq))
        self.seq += 1
        while data:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ChannelTimeout(f"the {self.label.decode()} channel did not take a message in time")
                _, ready, _ = select.select([], [self.fd], [], min(left, 0.25))
                if not ready:
                    continue
            try:
                n = os.write(self.fd, data[: 1 << 16] if deadline is not None else data)
            except BlockingIOError:
                continue
            except (BrokenPipeError, OSError) as exc:
                raise ChannelClosed(f"the {self.label.decode()} channel is closed ({exc.strerror})") from None
            data = data[n:]


class Reader:
    """Reads whole frames from a file descriptor, checking size, tag and sequence number."""

    def __init__(self, fd: int, key: bytes | None, label: bytes, limit: int = 64 * MB) -> None:
        self.fd, self.key, self.label, self.limit = fd, key, label, limit
        self.seq = 0
        self._buf = bytearray()
        self._tag = _TAG if key is not None else 0

    def pending(self) -> bool:
        """Whether a whole frame is already buffered."""
        if len(self._buf) < _HEADER.size:
            return False
        (size,) = _HEADER.unpack_from(self._buf)
        return len(self._buf) >= _HEADER.size + self._tag + size

    def fill(self, timeout: float) -> bool:
        """Read what is available within ``timeout``; False if nothing came.  Raises :class:`ChannelClosed` at EOF."""
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 1 << 20)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINTR):
                return False
            raise ChannelClosed(f"the {self.label.decode()} channel failed ({exc.strerror})") from None
        if not chunk:
            raise ChannelClosed(f"the {self.label.decode()} channel was closed by the other side")
        self._buf += chunk
        self._check_size()
        return True

    def _check_size(self) -> None:
        if len(self._buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buf)
            if size > self.limit:
                raise FrameTooLarge(size, self.limit, self.label.decode())

    def take(self) -> Any:
        """The next buffered message (call only when :meth:`pending` is true)."""
        (size,) = _HEADER.unpack_from(self._buf)
        start = _HEADER.size + self._tag
        header = bytes(self._buf[: _HEADER.size])
        tag = bytes(self._buf[_HEADER.size : start])
        payload = bytes(self._buf[start : start + size])
        del self._buf[: start + size]
        if self.key is not None:
            want = _tag(self.key, self.label, self.seq, header, payload)
            if not hmac.compare_digest(tag, want):
                raise ForgedFrame(
                    f"a frame on the {self.label.decode()} channel failed authentication (forged or corrupted)"
                )
        self.seq += 1
        try:
            return json.loads(payload)
        except ValueError:
            raise GarbledFrame(f"a frame on the {self.label.decode()} channel is not JSON") from None

    def receive(self, timeout: float) -> Any:
        """Wait up to ``timeout`` seconds for one whole message."""
        deadline = time.monotonic() + timeout
        while not self.pending():
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelTimeout(f"no message on the {self.label.decode()} channel within {timeout:g} s")
            self.fill(left)
        return self.take()


_RECORD = struct.Struct(">4sIII")  # magic, message id, chunk index, chunks in the message
_MAGIC = b"TKR1"
CHUNK = 60_000


class RecordWriter:
    """Sends messages over a ``SOCK_SEQPACKET`` socket as records of at most :data:`CHUNK` bytes.

    Used between the jail's supervisor and the student's process, where no
    key can be kept secret.  Each write of the other side is a record of its
    own, so bytes the student's code writes into the socket can never run
    into a real message: they arrive as records that are not well-formed and
    are dropped and counted (:attr:`RecordReader.garbage`).
    """

    def __init__(self, fd: int) -> None:
        self.fd, self.next_id = fd, 0

    def send(self, obj: Any, deadline: float | None = None) -> None:
        payload = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
        chunks = [payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)] or [b""]
        ident, self.next_id = self.next_id, self.next_id + 1
        for i, chunk in enumerate(chunks):
            record = _RECORD.pack(_MAGIC, ident, i, len(chunks)) + chunk
            while True:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ChannelTimeout("the student's process did not take a message in time")
                    _, ready, _ = select.select([], [self.fd], [], min(left, 0.25))
                    if not ready:
                        continue
                try:
                    os.write(self.fd, record)
                    break
                except BlockingIOError:
                    continue
                except OSError as exc:
                    raise ChannelClosed(f"the student's channel is closed ({exc.strerror})") from None


class RecordReader:
    """Reassembles messages from :class:`RecordWriter` records; drops and counts everything else."""

    def __init__(self, fd: int, limit: int = 64 * MB) -> None:
        self.fd, self.limit = fd, limit
        self.garbage = 0  # records that were not part of a well-formed message
        self._parts: dict[int, dict[int, bytes]] = {}
        self._total: dict[int, int] = {}
        self._ready: list[tuple[int, bytes]] = []
        self._buffered = 0

    def pending(self) -> bool:
        return bool(self._ready)

    def fill(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0.0))
        if not ready:
            return False
        try:
            record = os.read(self.fd, CHUNK + _RECORD.size + 1)
        except BlockingIOError:
            return False
        except OSError as exc:
            raise ChannelClosed(f"the student's channel failed ({exc.strerror})") from None
        if not record:
            raise ChannelClosed("the student's channel was closed")
        self._add(record)
        return True

    def _add(self, record: bytes) -> None:
        if len(record) < _RECORD.size or len(record) > CHUNK + _RECORD.size:
            self.garbage += 1
            return
        magic, ident, index, total = _RECORD.unpack_from(record)
        if magic != _MAGIC or total < 1 or index >= total or total * CHUNK > self.limit + CHUNK:
            self.garbage += 1
            return
        if self._total.setdefault(ident, total) != total:
            self.garbage += 1
            return
        parts = self._parts.setdefault(ident, {})
        if index in parts:
            self.garbage += 1
            return
        parts[index] = record[_RECORD.size :]
        self._buffered += len(record) - _RECORD.size
        if len(parts) == total:
            data = b"".join(parts[i] for i in range(total))
            del self._parts[ident], self._total[ident]
            self._buffered -= len(data)
            self._ready.append((ident, data))
        while self._buffered > 2 * self.limit and self._parts:  # forged halves of messages: drop the oldest
            oldest = min(self._parts)
            self._buffered -= sum(len(p) for p in self._parts.pop(oldest).values())
            del self._total[oldest]
            self.garbage += 1

    def take(self) -> Any:
        """The next whole message; :class:`GarbledFrame` (and counted) if its bytes are not JSON."""
        _, data = self._ready.pop(0)
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            self.garbage += 1
            raise GarbledFrame("a message from the student's process is not JSON") from None

    def receive(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            while self.pending():
                try:
                    return self.take()
                except GarbledFrame:
                    continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelTimeout(f"no message from the other side within {timeout:g} s")
            self.fill(left)


def parse_frame(data: bytes, key: bytes, label: bytes) -> Any:
    """The message of the first frame in ``data`` (a whole output read at once), checked like :class:`Reader` does.

    >>> key = new_key()
    >>> parse_frame(encode_frame({"a": 1}, key, b"x", 0), key, b"x")
    {'a': 1}
    >>> parse_frame(b"TCPKIT-ANSWERS {}", key, b"x")
    Traceback (most recent call last):
    ...
    tcpkit.course.channel.ChannelClosed: the x channel ended before a whole frame arrived
    """
    r = Reader(-1, key, label, limit=max(len(data), 1))
    r._buf += data
    try:
        r._check_size()
    except FrameTooLarge:
        raise ChannelClosed(f"the {label.decode()} channel ended before a whole frame arrived") from None
    if not r.pending():
        raise ChannelClosed(f"the {label.decode()} channel ended before a whole frame arrived")
    return r.take()
