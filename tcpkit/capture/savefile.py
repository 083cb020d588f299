"""pcap and pcapng files: read a capture (抓包), and write a trace's segments for Wireshark/tcpdump.

Import reads pcap (either byte order, micro- or nanosecond timestamps) and
pcapng, with Ethernet, Linux cooked (SLL and SLL2), BSD loopback (NULL and
LOOP) and raw-IP link types, IPv4 and IPv6; anything it cannot use is skipped
and counted in an :class:`ImportReport`.  Export writes the ``SEND`` records of
a :class:`~tcpkit.engine.trace.Trace` (every segment once, at the time it left
its host) as a classic pcap file.

Examples
--------
>>> read_capture(b"hello, world, this is text")
Traceback (most recent call last):
...
tcpkit.engine.errors.TraceFormatError: <bytes> is not a pcap or pcapng capture: it starts with 68656c6c (expected ...

Notes
-----
File formats: the classic libpcap format (pcap-savefile(5), IETF draft
draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng); link-type
numbers from the tcpdump.org LINKTYPE registry (pcap-linktype(7)).
"""

from __future__ import annotations

import math
import os
import struct
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from tcpkit.engine.errors import ParameterError, TraceFormatError
from tcpkit.engine.segment import Segment
from tcpkit.engine.trace import SegmentSent, Trace, TraceRecord
from tcpkit.files import write_output

from .annotate import annotate
from .flows import CapturedPacket, Connection, split_connections
from .wire import WireFormatError, decode_packet, encode_packet

__all__ = [
    "LINKTYPES",
    "Capture",
    "ImportReport",
    "export_pcap",
    "export_pcap_bytes",
    "read_capture",
    "trace_packets",
]


#: The largest capture :func:`read_capture` reads (bytes); cut larger ones with ``editcap`` first.
MAX_CAPTURE_BYTES = 1 << 30
#: How many explanations of skipped frames an :class:`ImportReport` keeps.
MAX_NOTES = 20

#: Link types this module reads (LINKTYPE_* numbers as stored in files).
LINKTYPES: dict[int, str] = {
    0: "BSD loopback (NULL)",
    1: "Ethernet",
    101: "raw IP",
    108: "OpenBSD loopback (LOOP)",
    113: "Linux cooked (SLL)",
    228: "raw IPv4",
    229: "raw IPv6",
    276: "Linux cooked v2 (SLL2)",
}
_LINKTYPE_ETHERNET = 1
_LINKTYPE_RAW = 101

_PCAP_MAGIC_US = 0xA1B2C3D4
_PCAP_MAGIC_NS = 0xA1B23C4D
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D
#: Smallest body of the pcapng blocks read: SHB, IDB, obsolete PB, SPB, EPB.
_PCAPNG_MIN_BODY = {_PCAPNG_SHB: 16, 1: 8, 2: 20, 3: 4, 6: 20}
_ETH_IPV4, _ETH_IPV6 = 0x0800, 0x86DD
_ETH_VLAN = (0x8100, 0x88A8, 0x9100)
#: BSD address-family values for IPv4 and IPv6 in NULL/LOOP headers (Linux, BSDs, Darwin).
_AF_INET = {2}
_AF_INET6 = {10, 24, 28, 30}


@dataclass(slots=True)
class ImportReport:
    """What an import read, and what it skipped and why.

    Attributes
    ----------
    format : str
        ``"pcap"`` or ``"pcapng"``.
    linktypes : list of int
        Link types seen (one per pcapng interface).
    frames : int
        Frames (packet records) in the file.
    tcp : int
        Frames that gave a TCP segment.
    skipped : Counter
        Frames not used, by reason: ``truncated``, ``not ip``, ``not tcp``,
        ``fragment``, ``bad header``, ``bad option``, ``unsupported link type``,
        ``truncated record``, ``no timestamp``.
    bad_checksums : int
        TCP segments with a wrong checksum (kept: see :class:`CapturedPacket`).
    unknown_options : Counter
        TCP option kinds seen but not modelled, with counts.
    notes : list of str
        Why frames were skipped, in words, for the first :data:`MAX_NOTES` of them
        (frame numbers and file offsets).
    """

    format: str = "pcap"
    linktypes: list[int] = field(default_factory=list)
    frames: int = 0
    tcp: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    bad_checksums: int = 0
    unknown_options: Counter[int] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        """Keep the first :data:`MAX_NOTES` explanations of skipped frames."""
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def summary(self) -> str:
        """One paragraph in English.

        >>> r = ImportReport(frames=3, tcp=2)
        >>> r.skipped["not tcp"] += 1
        >>> print(r.summary())
        pcap, link types none: 3 frames, 2 TCP segments; skipped 1 (not tcp: 1)
        """
        links = ", ".join(f"{lt} ({LINKTYPES.get(lt, 'unknown')})" for lt in self.linktypes) or "none"
        text = f"{self.format}, link types {links}: {self.frames} frames, {self.tcp} TCP segments"
        n = sum(self.skipped.values())
        if n:
            text += f"; skipped {n} (" + ", ".join(f"{k}: {v}" for k, v in sorted(self.skipped.items())) + ")"
        if self.bad_checksums:
            text += f"; {self.bad_checksums} with a wrong TCP checksum (checksum offload?)"
        if self.unknown_options:
            text += "; unmodelled TCP options " + ", ".join(
                f"kind {k}: {v}" for k, v in sorted(self.unknown_options.items())
            )
        if self.notes:
            text += "; first: " + self.notes[0]
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for a trace's ``meta``)."""
        return {
            "format": self.format,
            "linktypes": list(self.linktypes),
            "frames": self.frames,
            "tcp": self.tcp,
            "skipped": dict(sorted(self.skipped.items())),
            "bad_checksums": self.bad_checksums,
            "unknown_options": {str(k): v for k, v in sorted(self.unknown_options.items())},
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class Capture:
    """Everything :func:`read_capture` found."""

    packets: tuple[CapturedPacket, ...]
    report: ImportReport
    name: str = "<bytes>"

    def connections(self) -> list[Connection]:
        """The packets grouped by connection (see :func:`split_connections`)."""
        return split_connections(self.packets)

    def annotate(self, *, names: tuple[str, str] = ("client", "server"), relative: bool = True) -> Trace:
        """The annotated trace (see :func:`annotate`)."""
        return annotate(self, names=names, relative=relative)

    def __repr__(self) -> str:
        return f"<Capture {self.name}: {len(self.packets)} TCP packets; {self.report.summary()}>"


# --------------------------------------------------------------------------- reading files


@dataclass(frozen=True, slots=True)
class _Frame:
    number: int
    time: float
    linktype: int
    data: bytes
    orig_len: int


def _read_pcap(data: bytes, report: ImportReport, name: str) -> Iterator[_Frame]:
    magic_le = struct.unpack_from("<I", data)[0]
    endian = "<" if magic_le in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS) else ">"
    magic = struct.unpack_from(endian + "I", data)[0]
    scale = 1e-9 if magic == _PCAP_MAGIC_NS else 1e-6
    if len(data) < 24:
        raise TraceFormatError(f"{name}: the pcap file header is cut short: {len(data)} of 24 bytes")
    _maj, _min, _zone, _sig, _snap, network = struct.unpack_from(endian + "HHiIII", data, 4)
    linktype = network & 0x03FFFFFF  # the upper bits may carry FCS information
    report.format = "pcap"
    report.linktypes = [linktype]
    rec = struct.Struct(endian + "IIII")
    pos = 24
    n = 0
    while pos < len(data):
        if pos + 16 > len(data):
            report.skipped["truncated record"] += 1
            report.note(f"the file ends inside a record header at offset {pos}")
            return
        sec, frac, incl, orig = rec.unpack_from(data, pos)
        pos += 16
        n += 1
        if pos + incl > len(data):
            report.frames += 1
            report.skipped["truncated record"] += 1
            report.note(f"frame {n} (offset {pos - 16}) claims {incl} bytes, but the file ends after {len(data) - pos}")
            return
        report.frames += 1
        yield _Frame(n, sec + frac * scale, linktype, data[pos : pos + incl], max(orig, incl))
        pos += incl


def _read_pcapng(data: bytes, report: ImportReport, name: str) -> Iterator[_Frame]:
    report.format = "pcapng"
    pos = 0
    endian = "<"
    interfaces: list[tuple[int, float, float]] = []  # (linktype, seconds per unit, offset)
    n = 0
    while pos + 12 <= len(data):
        btype_le = struct.unpack_from("<I", data, pos)[0]
        if btype_le == _PCAPNG_SHB:
            bom = struct.unpack_from("<I", data, pos + 8)[0]
            if bom == _PCAPNG_BOM:
                endian = "<"
            elif bom == 0x4D3C2B1A:
                endian = ">"
            else:
                raise TraceFormatError(
                    f"{name}: the pcapng section header at offset {pos} has byte-order magic 0x{bom:08x} "
                    "(expected 0x1a2b3c4d)"
                )
            interfaces = []
        btype, blen = struct.unpack_from(endian + "II", data, pos)
        if blen < 12 or blen % 4 or pos + blen > len(data):
            report.skipped["truncated record"] += 1
            return
        body = data[pos + 8 : pos + blen - 4]
        at = pos
        pos += blen
        if len(body) < _PCAPNG_MIN_BODY.get(btype, 0):
            if btype in (2, 3, 6):
                n += 1
                report.frames += 1
            report.skipped["bad header"] += 1
            report.note(
                f"block at offset {at} (type {btype}) has a {len(body)}-byte body, shorter than its "
                f"{_PCAPNG_MIN_BODY[btype]}-byte header"
            )
            continue
        if btype == 1:  # Interface Description Block
            linktype, _res, _snap = struct.unpack_from(endian + "HHI", body)
            unit, offset = 1e-6, 0.0
            opos = 8
            while opos + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, opos)
                val = body[opos + 4 : opos + 4 + olen]
                if code == 0:
                    break
                if code == 9 and olen >= 1:  # if_tsresol
                    r = val[0]
                    unit = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0**-r
                elif code == 14 and olen == 8:  # if_tsoffset
                    offset = float(struct.unpack(endian + "q", val)[0])
                opos += 4 + olen + (-olen % 4)
            interfaces.append((linktype, unit, offset))
            if linktype not in report.linktypes:
                report.linktypes.append(linktype)
        elif btype in (6, 2):  # Enhanced Packet Block, obsolete Packet Block
            if btype == 6:
                iface, hi, lo, incl, orig = struct.unpack_from(endian + "IIIII", body)
            else:
                iface, _drops, hi, lo, incl, orig = struct.unpack_from(endian + "HHIIII", body)
            n += 1
            report.frames += 1
            if iface >= len(interfaces):
                report.skipped["undefined interface"] += 1
                report.note(
                    f"frame {n} (offset {at}) names interface {iface}, but the section defines "
                    + (f"only interfaces 0 to {len(interfaces) - 1}" if interfaces else "no interface")
                    + " (an Interface Description Block must come first)"
                )
                continue
            if 20 + incl > len(body):
                report.skipped["truncated record"] += 1
                report.note(
                    f"frame {n} (offset {at}) claims {incl} captured bytes, but its block holds {len(body) - 20}"
                )
                continue
            linktype, unit, offset = interfaces[iface]
            yield _Frame(n, ((hi << 32) | lo) * unit + offset, linktype, body[20 : 20 + incl], max(orig, incl))
        elif btype == 3:  # Simple Packet Block: no timestamp
            n += 1
            report.frames += 1
            report.skipped["no timestamp"] += 1
    if pos < len(data):
        report.skipped["truncated record"] += 1


def _link_payload(linktype: int, frame: bytes) -> int:
    """Offset of the IP header inside a frame (raises WireFormatError)."""
    n = len(frame)
    if linktype == 1:
        if n < 14:
            raise WireFormatError("truncated", "ethernet header", 0, f"Ethernet header needs 14 bytes, only {n}")
        pos, etype = 14, struct.unpack_from("!H", frame, 12)[0]
        while etype in _ETH_VLAN:
            if pos + 4 > n:
                raise WireFormatError("truncated", "vlan tag", pos, f"VLAN tag at offset {pos} is cut short")
            etype = struct.unpack_from("!H", frame, pos + 2)[0]
            pos += 4
        if etype not in (_ETH_IPV4, _ETH_IPV6):
            raise WireFormatError(
                "not ip", "ethertype", pos - 2, f"ethertype 0x{etype:04x} at offset {pos - 2} is not IPv4 or IPv6"
            )
        return pos
    if linktype == 113:
        if n < 16:
            raise WireFormatError("truncated", "sll header", 0, f"Linux cooked header needs 16 bytes, only {n}")
        proto = struct.unpack_from("!H", frame, 14)[0]
        if proto not in (_ETH_IPV4, _ETH_IPV6):
            raise WireFormatError(
                "not ip", "protocol", 14, f"SLL protocol 0x{proto:04x} at offset 14 is not IPv4 or IPv6"
            )
        return 16
    if linktype == 276:
        if n < 20:
            raise WireFormatError("truncated", "sll2 header", 0, f"Linux cooked v2 header needs 20 bytes, only {n}")
        proto = struct.unpack_from("!H", frame, 0)[0]
        if proto not in (_ETH_IPV4, _ETH_IPV6):
            raise WireFormatError(
                "not ip", "protocol", 0, f"SLL2 protocol 0x{proto:04x} at offset 0 is not IPv4 or IPv6"
            )
        return 20
    if linktype in (0, 108):
        if n < 4:
            raise WireFormatError("truncated", "loopback header", 0, f"loopback header needs 4 bytes, only {n}")
        fam = struct.unpack_from("!I", frame)[0]
        if linktype == 0 and fam > 0xFFFF:  # NULL is in the capturing host's byte order
            fam = struct.unpack_from("<I", frame)[0]
        if fam not in _AF_INET | _AF_INET6:
            raise WireFormatError(
                "not ip", "address family", 0, f"loopback address family {fam} at offset 0 is not IPv4 or IPv6"
            )
        return 4
    if linktype in (101, 228, 229, 12, 14):
        return 0
    raise WireFormatError(
        "unsupported link type", "linktype", 0, f"link type {linktype} (supported: {', '.join(map(str, LINKTYPES))})"
    )


def read_capture(source: str | Path | bytes | BinaryIO) -> Capture:
    """Read the TCP packets of a pcap or pcapng capture.

    Parameters
    ----------
    source : path, bytes or binary file

    Returns
    -------
    Capture
        ``packets`` (in file order) and a ``report`` of what was skipped.

    Raises
    ------
    TraceFormatError
        If the data is not a pcap or pcapng capture at all, its file header
        is broken, or it is larger than :data:`MAX_CAPTURE_BYTES`.  Individual
        bad frames are skipped and counted (``report.skipped``, with the first
        reasons in words in ``report.notes``).
    ParameterError
        If ``source`` is none of the above.

    Examples
    --------
    >>> cap = read_capture(export_pcap_bytes(Trace()))
    >>> cap.packets, cap.report.frames, cap.report.format
    ((), 0, 'pcap')
    """
    name = "<bytes>"
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | os.PathLike):
        name = os.fspath(source) if isinstance(os.fspath(source), str) else repr(source)
        try:
            size = os.stat(name).st_size
            if size > MAX_CAPTURE_BYTES:
                raise TraceFormatError(
                    f"{name}: {size} bytes is too large a capture (at most {MAX_CAPTURE_BYTES}); "
                    "cut it with editcap or tcpdump -r ... -w"
                )
            data = Path(name).read_bytes()
        except OSError as exc:
            raise TraceFormatError(f"cannot read capture {name}: {exc.strerror or exc}") from None
        except ValueError as exc:  # a NUL character in the path
            raise TraceFormatError(f"cannot read capture {name!r}: {exc}") from None
    elif callable(getattr(source, "read", None)):
        name = str(getattr(source, "name", "<file>"))
        try:
            data = source.read(MAX_CAPTURE_BYTES + 1)
        except OSError as exc:
            raise TraceFormatError(f"cannot read capture {name}: {exc.strerror or exc}") from None
        if not isinstance(data, bytes | bytearray):
            raise TraceFormatError(f"{name}: a capture is binary; open the file with 'rb', not as text")
        if len(data) > MAX_CAPTURE_BYTES:
            raise TraceFormatError(f"{name}: too large a capture (more than {MAX_CAPTURE_BYTES} bytes)")
        data = bytes(data)
    else:
        raise ParameterError("source", source, "a file path, bytes, or a binary file opened with 'rb'")
    if len(data) < 4:
        raise TraceFormatError(f"{name} is not a pcap or pcapng capture: only {len(data)} bytes")
    head_le = struct.unpack_from("<I", data)[0]
    head_be = struct.unpack_from(">I", data)[0]
    report = ImportReport()
    frames: Iterator[_Frame]
    if head_le in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS) or head_be in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS):
        frames = _read_pcap(data, report, name)
    elif head_le == _PCAPNG_SHB:
        frames = _read_pcapng(data, report, name)
    else:
        raise TraceFormatError(
            f"{name} is not a pcap or pcapng capture: it starts with {data[:4].hex()} "
            "(expected a1b2c3d4 or a1b23c4d in either byte order, or the pcapng block 0a0d0d0a)"
        )
    packets: list[CapturedPacket] = []
    for fr in frames:
        try:
            off = _link_payload(fr.linktype, fr.data)
            pkt = decode_packet(fr.data[off:], orig_len=fr.orig_len - off, base=off)
        except WireFormatError as exc:
            report.skipped[exc.reason] += 1
            report.note(f"frame {fr.number}: {exc}")
            continue
        report.tcp += 1
        if pkt.checksum_ok is False:
            report.bad_checksums += 1
        for kind in pkt.unknown_options:
            report.unknown_options[kind] += 1
        packets.append(CapturedPacket(fr.time, pkt.src, pkt.dst, pkt.segment, fr.number, pkt.checksum_ok))
    return Capture(tuple(packets), report, name)


# --------------------------------------------------------------------------- export


def trace_packets(trace: Iterable[TraceRecord]) -> list[tuple[float, str, str, Segment]]:
    """``(time, src, dst, segment)`` for every ``SEND`` record that names its connection.

    Ports left at 0 in a segment are filled in from the record's connection.

    Examples
    --------
    >>> from tcpkit.engine.segment import Flags
    >>> rec = SegmentSent(time=1.0, host="h", conn=("10.0.0.1", 1, "10.0.0.2", 2),
    ...                   segment=Segment(flags=Flags.SYN, window=1))
    >>> t, src, dst, seg = trace_packets([rec])[0]
    >>> src, dst, seg.src_port, seg.dst_port
    ('10.0.0.1', '10.0.0.2', 1, 2)
    """
    out: list[tuple[float, str, str, Segment]] = []
    for rec in trace:
        if not isinstance(rec, SegmentSent) or rec.conn is None:
            continue
        la, lp, ra, rp = rec.conn
        seg = rec.segment
        if seg.src_port == 0 and seg.dst_port == 0:
            seg = seg.replace(src_port=lp, dst_port=rp)
        out.append((rec.time, la, ra, seg))
    out.sort(key=lambda x: x[0])  # stable: equal times keep trace order
    return out


def _ethernet(raw: bytes, v6: bool) -> bytes:
    # locally administered MAC addresses 02:00:00:00:00:01/02
    return bytes.fromhex("020000000002020000000001") + struct.pack("!H", _ETH_IPV6 if v6 else _ETH_IPV4) + raw


def export_pcap_bytes(
    trace: Iterable[TraceRecord],
    *,
    start: float = 0.0,
    linktype: str = "raw",
    nanosecond: bool = False,
    snaplen: int = 262144,
) -> bytes:
    """The bytes of a classic pcap file holding a trace's ``SEND`` segments.

    Parameters
    ----------
    trace : Trace or iterable of TraceRecord
    start : float
        Seconds since the Unix epoch at trace time 0 (default 0: 1970-01-01).
    linktype : {"raw", "ethernet"}
        Raw IP (LINKTYPE_RAW, 101) or Ethernet (1) with made-up MAC addresses.
    nanosecond : bool
        Write nanosecond timestamps (magic a1b23c4d) instead of microseconds.
    snaplen : int
        The file's snapshot length.

    Returns
    -------
    bytes

    Examples
    --------
    >>> export_pcap_bytes(Trace())[:4].hex(), export_pcap_bytes(Trace(), nanosecond=True)[:4].hex()
    ('d4c3b2a1', '4d3cb2a1')

    Notes
    -----
    A segment the engine knows only by its length (``payload is None``) is
    written with its headers only and the full length as the record's
    original length, the way tcpdump stores a packet cut by ``-s``; Wireshark
    then shows "packet size limited during capture".  The TCP checksum is
    computed as if the payload were zero bytes.
    """
    if linktype not in ("raw", "ethernet"):
        raise ParameterError("linktype", linktype, "'raw' or 'ethernet'")
    if isinstance(start, bool) or not isinstance(start, int | float) or not 0 <= start < 2**32:
        raise ParameterError("start", start, "Unix seconds from 0 to 2**32 (a finite number)")
    if not isinstance(nanosecond, bool):
        raise ParameterError("nanosecond", nanosecond, "True or False")
    if isinstance(snaplen, bool) or not isinstance(snaplen, int) or not 1 <= snaplen <= 2**31 - 1:
        raise ParameterError("snaplen", snaplen, "an integer from 1 to 2147483647")
    lt = _LINKTYPE_RAW if linktype == "raw" else _LINKTYPE_ETHERNET
    magic = _PCAP_MAGIC_NS if nanosecond else _PCAP_MAGIC_US
    out = bytearray(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, lt))
    per_sec = 1_000_000_000 if nanosecond else 1_000_000
    whole = math.floor(start)
    part = start - whole
    for t, src, dst, seg in trace_packets(trace):
        if not 0 <= start + t < 2**32:
            raise ParameterError(
                "start", start, f"a start that puts every packet between 1970 and 2106 (a packet at trace time {t})"
            )
        try:
            raw = encode_packet(seg, src, dst)
        except WireFormatError as exc:
            raise TraceFormatError(f"the SEND record at t={t} ({src} -> {dst}) cannot be written: {exc}") from None
        keep = len(raw) if seg.payload is not None else len(raw) - seg.length
        if lt == _LINKTYPE_ETHERNET:
            raw = _ethernet(raw, ":" in src)
            keep += 14
        keep = min(keep, snaplen)
        # whole seconds apart: a float holding 1.7e18 ns would lose the last digits
        ticks = whole * per_sec + round((part + t) * per_sec)
        sec, frac = divmod(ticks, per_sec)
        out += struct.pack("<IIII", sec, frac, keep, len(raw)) + raw[:keep]
    return bytes(out)


def export_pcap(
    trace: Iterable[TraceRecord], path: str | os.PathLike[str], *, inputs: Iterable[Any] = (), **kwargs: Any
) -> int:
    """Write :func:`export_pcap_bytes` to ``path``; return the number of packets written.

    The file is written with :func:`tcpkit.files.write_output`: never over one
    of ``inputs`` (e.g. the trace file the records came from), and through a
    temporary file, so a failure leaves an old ``path`` untouched.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     export_pcap(Trace(), os.path.join(d, "empty.pcap"))
    0
    """
    records = list(trace)
    write_output(path, export_pcap_bytes(records, **kwargs), inputs=inputs, name="path")
    return len(trace_packets(records))
