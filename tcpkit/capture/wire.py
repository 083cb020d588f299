"""Segments on the wire: IPv4/IPv6 + TCP bytes with real checksums (校验和), and back.

:func:`encode_packet` turns a :class:`~tcpkit.engine.segment.Segment` and two
addresses into the bytes a network card would send; :func:`decode_packet`
reads such bytes (from a capture, say) back into a segment.  The round trip
is exact for every segment whose options fill whole 32-bit words (as Linux
always arranges with ``nop`` padding) or end with ``eol``, whose window is
set, and whose payload is either ``None`` with length 0 or the actual bytes.

Examples
--------
>>> from tcpkit.engine.segment import parse_segment
>>> seg = parse_segment("S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 7 ecr 0,nop,wscale 7>")
>>> seg = seg.replace(src_port=40000, dst_port=80)
>>> raw = encode_packet(seg, "192.0.2.2", "192.0.2.1")
>>> len(raw)                     # 20 bytes IPv4 + 20 bytes TCP + 20 bytes options
60
>>> pkt = decode_packet(raw)
>>> pkt.src, pkt.dst, pkt.segment == seg, pkt.checksum_ok
('192.0.2.2', '192.0.2.1', True, True)
>>> decode_packet(raw[:30])
Traceback (most recent call last):
...
tcpkit.capture.wire.WireFormatError: truncated: IP length field says 60 bytes for the packet at offset 0, but ...

Notes
-----
IPv4 header: RFC 791 §3.1; IPv6 header: RFC 8200 §3 (extension headers §4);
TCP header and option layout: RFC 9293 §3.1 (options: kind, length, data;
padding with zeros after the last option); the checksum over the pseudo-header
(RFC 9293 §3.1, RFC 8200 §8.1) is the one's complement sum of RFC 1071.
Option kinds: MSS 2 (RFC 9293 §3.2), window scale 3 and timestamps 8
(RFC 7323), SACK-permitted 4 and SACK 5 (RFC 2018), Fast Open 34 (RFC 7413).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from tcpkit.engine.errors import TraceFormatError
from tcpkit.engine.segment import (
    MSS,
    Eol,
    FastOpen,
    Flags,
    Nop,
    Option,
    Sack,
    SackPermitted,
    Segment,
    Timestamp,
    WScale,
)

__all__ = [
    "WireFormatError",
    "Packet",
    "encode_options",
    "decode_options",
    "encode_tcp",
    "decode_tcp",
    "encode_packet",
    "decode_packet",
    "internet_checksum",
    "IPPROTO_TCP",
]

IPPROTO_TCP = 6
_IPV6_EXT = {0: "hop-by-hop options", 43: "routing", 60: "destination options"}
_TCP_HDR = struct.Struct("!HHIIBBHHH")
_IPV4_HDR = struct.Struct("!BBHHHBBH4s4s")
_IPV6_HDR = struct.Struct("!IHBB16s16s")
#: Fast Open cookie in the experimental option (kind 254, magic 0xF989, RFC 7413 §4.1.1).
_TFO_EXP_MAGIC = 0xF989


class WireFormatError(TraceFormatError):
    """Bytes that are not a well-formed (or not a supported) IP + TCP packet.

    Attributes
    ----------
    reason : str
        A short key for counting: ``"truncated"``, ``"not tcp"``,
        ``"fragment"``, ``"bad header"``, ``"bad option"``, ``"not ip"``.
    field : str
        The header field at fault.
    offset : int
        Byte offset of that field from the start of the bytes given.
    """

    def __init__(self, reason: str, field: str, offset: int, detail: str) -> None:
        self.reason = reason
        self.field = field
        self.offset = offset
        super().__init__(f"{reason}: {detail}")


def internet_checksum(data: bytes) -> int:
    """The 16-bit one's complement of the one's complement sum (RFC 1071).

    >>> hex(internet_checksum(bytes.fromhex("0001f203f4f5f6f7")))   # RFC 1071 §3 example, complemented
    '0x220d'
    """
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


# --------------------------------------------------------------------------- options


def encode_options(options: tuple[Option, ...] | None) -> bytes:
    """TCP options as bytes, padded with zeros to a multiple of 4.

    Examples
    --------
    >>> encode_options((MSS(1460), SackPermitted())).hex()
    '020405b404020000'
    >>> encode_options((Nop(), Nop(), Timestamp(1, 2))).hex()
    '0101080a0000000100000002'

    Raises
    ------
    TraceFormatError
        If the options need more than the 40 bytes a TCP header can hold.
    """
    try:
        out = _pack_options(options)
    except (struct.error, TypeError, OverflowError) as exc:
        raise WireFormatError("bad option", "options", 20, f"an option value does not fit its field: {exc}") from None
    out += b"\x00" * (-len(out) % 4)
    if len(out) > 40:
        raise WireFormatError(
            "bad option", "options", 20, f"options take {len(out)} bytes; a TCP header holds at most 40"
        )
    return bytes(out)


def _pack_options(options: tuple[Option, ...] | None) -> bytearray:
    out = bytearray()
    for opt in options or ():
        if isinstance(opt, MSS):
            out += struct.pack("!BBH", 2, 4, opt.value)
        elif isinstance(opt, WScale):
            out += struct.pack("!BBB", 3, 3, opt.shift)
        elif isinstance(opt, SackPermitted):
            out += b"\x04\x02"
        elif isinstance(opt, Sack):
            out += struct.pack("!BB", 5, 2 + 8 * len(opt.blocks))
            for left, right in opt.blocks:
                out += struct.pack("!II", left, right)
        elif isinstance(opt, Timestamp):
            out += struct.pack("!BBII", 8, 10, opt.val, opt.ecr)
        elif isinstance(opt, Nop):
            out += b"\x01"
        elif isinstance(opt, Eol):
            out += b"\x00"
        elif isinstance(opt, FastOpen):
            out += struct.pack("!BB", 34, 2 + len(opt.cookie)) + opt.cookie
    return out


def decode_options(data: bytes, *, base: int = 0) -> tuple[tuple[Option, ...], tuple[int, ...]]:
    """Parse the option bytes of a TCP header.

    Parameters
    ----------
    data : bytes
        The bytes between the fixed 20-byte header and the data offset.
    base : int
        Offset of ``data`` in the packet, for error messages.

    Returns
    -------
    (options, unknown_kinds)
        The options tcpkit understands, in order, and the kinds it skipped
        (e.g. 19 MD5 signature, 30 MPTCP).  An ``eol`` ends the list; the
        zero padding after it is not reported.

    Raises
    ------
    WireFormatError
        For an option whose length byte is missing, below 2, or runs past the header.

    Examples
    --------
    >>> decode_options(bytes.fromhex("020405b40402080a000000640000000001030307"))
    ((MSS(value=1460), SackPermitted(), Timestamp(val=100, ecr=0), Nop(), WScale(shift=7)), ())
    >>> decode_options(bytes.fromhex("0204"), base=20)
    Traceback (most recent call last):
    ...
    tcpkit.capture.wire.WireFormatError: bad option: option kind 2 at offset 20 claims 4 bytes but only 2 are left
    """
    opts: list[Option] = []
    unknown: list[int] = []
    i = 0
    n = len(data)
    while i < n:
        kind = data[i]
        if kind == 0:
            opts.append(Eol())
            break
        if kind == 1:
            opts.append(Nop())
            i += 1
            continue
        if i + 1 >= n:
            raise WireFormatError(
                "bad option", "option length", base + i, f"option kind {kind} at offset {base + i} has no length byte"
            )
        length = data[i + 1]
        if length < 2:
            raise WireFormatError(
                "bad option",
                "option length",
                base + i,
                f"option kind {kind} at offset {base + i} has length {length} (must be >= 2)",
            )
        if i + length > n:
            raise WireFormatError(
                "bad option",
                "option length",
                base + i,
                f"option kind {kind} at offset {base + i} claims {length} bytes but only {n - i} are left",
            )
        body = data[i + 2 : i + length]
        if kind == 2 and length == 4:
            opts.append(MSS(struct.unpack("!H", body)[0]))
        elif kind == 3 and length == 3:
            opts.append(WScale(body[0]))
        elif kind == 4 and length == 2:
            opts.append(SackPermitted())
        elif kind == 5 and (length - 2) % 8 == 0:
            blocks = tuple(struct.unpack("!II", body[j : j + 8]) for j in range(0, length - 2, 8))
            opts.append(Sack(blocks))
        elif kind == 8 and length == 10:
            val, ecr = struct.unpack("!II", body)
            opts.append(Timestamp(val, ecr))
        elif kind == 34:
            opts.append(FastOpen(bytes(body)))
        elif kind == 254 and length >= 4 and struct.unpack("!H", body[:2])[0] == _TFO_EXP_MAGIC:
            opts.append(FastOpen(bytes(body[2:])))
        else:
            unknown.append(kind)
        i += length
    return tuple(opts), tuple(unknown)


# --------------------------------------------------------------------------- TCP


def _pseudo_header(src: bytes, dst: bytes, tcp_len: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, IPPROTO_TCP, tcp_len)
    return src + dst + struct.pack("!IxxxB", tcp_len, IPPROTO_TCP)


def _packed(name: str, addr: str) -> bytes:
    try:
        return ipaddress.ip_address(addr).packed
    except ValueError:
        raise WireFormatError("bad header", name, 0, f"{name} {addr!r} is not an IPv4 or IPv6 address") from None


def encode_tcp(segment: Segment, src: str, dst: str) -> bytes:
    """The TCP header, options and payload, with the checksum filled in.

    A segment that knows only its payload *length* (``payload is None``) is sent
    as zero bytes of that length.

    Examples
    --------
    >>> seg = Segment(src_port=1, dst_port=2, seq=3, ack=4, flags=Flags.ACK, window=5)
    >>> raw = encode_tcp(seg, "10.0.0.1", "10.0.0.2")
    >>> raw[:16].hex()
    '00010002000000030000000450100005'
    >>> internet_checksum(bytes.fromhex("0a0000010a000002") + b"\\x00\\x06\\x00\\x14" + raw)
    0
    """
    s, d = _packed("src", src), _packed("dst", dst)
    if len(s) != len(d):
        raise WireFormatError("bad header", "dst", 0, f"src {src!r} and dst {dst!r} are of different IP versions")
    for field, value, top in (
        ("source port", segment.src_port, 0xFFFF),
        ("destination port", segment.dst_port, 0xFFFF),
        ("window", segment.window or 0, 0xFFFF),
        ("urgent pointer", segment.urg, 0xFFFF),
        ("payload length", segment.length, 0xFFFF - 20),
    ):
        if not 0 <= value <= top:
            raise WireFormatError("bad header", field, 0, f"{field} {value} does not fit a TCP header (0 to {top})")
    opts = encode_options(segment.options)
    payload = segment.payload if segment.payload is not None else bytes(segment.length)
    offset = (20 + len(opts)) // 4
    header = _TCP_HDR.pack(
        segment.src_port,
        segment.dst_port,
        segment.seq,
        segment.ack,
        offset << 4,
        int(segment.flags) & 0xFF,
        segment.window or 0,
        0,
        segment.urg,
    )
    tcp = header + opts + payload
    csum = internet_checksum(_pseudo_header(s, d, len(tcp)) + tcp)
    return tcp[:16] + struct.pack("!H", csum) + tcp[18:]


def decode_tcp(
    data: bytes, src: str, dst: str, *, base: int = 0, orig_len: int | None = None
) -> tuple[Segment, bool | None, tuple[int, ...]]:
    """Parse a TCP header and payload.

    Parameters
    ----------
    data : bytes
        From the first byte of the TCP header to the end of the IP payload
        (possibly cut short by a capture's snap length).
    src, dst : str
        The IP addresses (for the checksum).
    base : int
        Offset of ``data`` in the packet, for error messages.
    orig_len : int, optional
        The TCP length on the wire when ``data`` was cut short; the payload is
        then known only by length (``payload=None``) and the checksum cannot
        be checked (``checksum_ok`` is None).

    Returns
    -------
    (segment, checksum_ok, unknown_option_kinds)

    Examples
    --------
    >>> seg = Segment(src_port=1, dst_port=2, seq=3, flags=Flags.SYN, window=5, options=(MSS(536),))
    >>> decode_tcp(encode_tcp(seg, "::1", "::2"), "::1", "::2")[0] == seg
    True
    """
    n = len(data)
    if n < 20:
        raise WireFormatError(
            "truncated", "tcp header", base, f"TCP header at offset {base} needs 20 bytes, only {n} left"
        )
    sport, dport, seq, ack, off_byte, flag_byte, window, csum, urg = _TCP_HDR.unpack_from(data)
    hlen = (off_byte >> 4) * 4
    if hlen < 20:
        raise WireFormatError(
            "bad header",
            "data offset",
            base + 12,
            f"TCP data offset at offset {base + 12} is {hlen // 4} words (must be >= 5)",
        )
    if hlen > n:
        raise WireFormatError(
            "truncated",
            "data offset",
            base + 12,
            f"TCP data offset at offset {base + 12} says the header has {hlen} bytes, only {n} left",
        )
    opts, unknown = decode_options(data[20:hlen], base=base + 20)
    truncated = orig_len is not None and orig_len > n
    payload: bytes | None
    ok: bool | None
    if truncated:
        assert orig_len is not None
        payload, length, ok = None, orig_len - hlen, None
    else:
        # An empty payload is "no payload" (None), as in segments the engine builds.
        payload = bytes(data[hlen:]) or None
        length = n - hlen
        ok = internet_checksum(_pseudo_header(_packed("src", src), _packed("dst", dst), n) + bytes(data)) == 0
    seg = Segment(
        src_port=sport,
        dst_port=dport,
        seq=seq,
        ack=ack,
        flags=Flags(flag_byte),
        window=window,
        length=length,
        payload=payload,
        options=opts,
        urg=urg,
    )
    return seg, ok, unknown


# --------------------------------------------------------------------------- IP


@dataclass(frozen=True, slots=True)
class Packet:
    """A decoded IP + TCP packet.

    Attributes
    ----------
    src, dst : str
        IP addresses in their usual text form.
    segment : Segment
    version : int
        4 or 6.
    ttl : int
        TTL (IPv4) or hop limit (IPv6).
    checksum_ok : bool or None
        The TCP checksum is right (None: not checkable, the capture cut the
        packet short).  Captures taken on the sending host often
        show wrong checksums because the network card fills them in later
        (checksum offload), so this is reported, not enforced.
    unknown_options : tuple of int
        Option kinds tcpkit does not model and skipped.
    """

    src: str
    dst: str
    segment: Segment
    version: int = 4
    ttl: int = 64
    checksum_ok: bool | None = True
    unknown_options: tuple[int, ...] = ()


def encode_packet(segment: Segment, src: str, dst: str, *, ttl: int = 64, ip_id: int = 0) -> bytes:
    """IPv4 or IPv6 header (chosen by the addresses) followed by the TCP segment.

    Examples
    --------
    >>> seg = Segment(src_port=1, dst_port=2, flags=Flags.RST, window=0)
    >>> raw = encode_packet(seg, "10.0.0.1", "10.0.0.2")
    >>> raw[:4].hex(), internet_checksum(raw[:20])       # version/IHL 0x45, length 40, header sums to 0
    ('45000028', 0)
    >>> encode_packet(seg, "::1", "::2")[:8].hex()       # version 6, payload 20, next header 6, hop limit 64
    '6000000000140640'

    Notes
    -----
    IPv4 packets carry DF (don't fragment), as Linux sends TCP with path MTU
    discovery on (``ip_no_pmtu_disc`` = 0).
    """
    tcp = encode_tcp(segment, src, dst)
    s, d = _packed("src", src), _packed("dst", dst)
    if len(s) == 16:
        return _IPV6_HDR.pack(6 << 28, len(tcp), IPPROTO_TCP, ttl, s, d) + tcp
    total = 20 + len(tcp)
    if total > 0xFFFF:
        raise WireFormatError(
            "bad header", "total length", 2, f"packet of {total} bytes does not fit IPv4's 16-bit total length"
        )
    hdr = _IPV4_HDR.pack(0x45, 0, total, ip_id & 0xFFFF, 0x4000, ttl, IPPROTO_TCP, 0, s, d)
    csum = internet_checksum(hdr)
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:] + tcp


def decode_packet(data: bytes, *, orig_len: int | None = None, base: int = 0) -> Packet:
    """Parse an IPv4 or IPv6 packet carrying TCP.

    Parameters
    ----------
    data : bytes
        The packet from the first byte of the IP header.  Bytes after the IP
        total length (Ethernet padding) are ignored.
    orig_len : int, optional
        The packet's length on the wire when ``data`` is a capture cut short
        by the snap length.
    base : int
        Offset of ``data`` in a larger frame, for error messages.

    Raises
    ------
    WireFormatError
        Naming the field and its offset: truncated headers, a protocol other
        than TCP, IP fragments, malformed options.

    Examples
    --------
    >>> decode_packet(bytes.fromhex("4500001c000000004011") + bytes(10))
    Traceback (most recent call last):
    ...
    tcpkit.capture.wire.WireFormatError: not tcp: IP protocol 17 at offset 9 is not TCP (6)
    """
    n = len(data)
    if n < 1:
        raise WireFormatError("truncated", "version", base, f"no IP header at offset {base}")
    version = data[0] >> 4
    if version == 4:
        if n < 20:
            raise WireFormatError(
                "truncated", "ipv4 header", base, f"IPv4 header at offset {base} needs 20 bytes, only {n} left"
            )
        vihl, _tos, total, _ident, frag, ttl, proto, _csum, s, d = _IPV4_HDR.unpack_from(data)
        ihl = (vihl & 0xF) * 4
        if ihl < 20 or ihl > n:
            raise WireFormatError(
                "bad header" if ihl < 20 else "truncated",
                "ihl",
                base,
                f"IPv4 header length {ihl} at offset {base} is impossible here ({n} bytes available)",
            )
        if total < ihl:
            raise WireFormatError(
                "bad header",
                "total length",
                base + 2,
                f"IPv4 total length {total} at offset {base + 2} is smaller than the header ({ihl})",
            )
        if frag & 0x3FFF:
            raise WireFormatError(
                "fragment",
                "fragment offset",
                base + 6,
                f"IPv4 fragment at offset {base + 6} (flags/offset 0x{frag:04x}); reassembly is not supported",
            )
        if proto != IPPROTO_TCP:
            raise WireFormatError(
                "not tcp", "protocol", base + 9, f"IP protocol {proto} at offset {base + 9} is not TCP (6)"
            )
        src, dst = str(ipaddress.IPv4Address(s)), str(ipaddress.IPv4Address(d))
        payload_start, payload_end = ihl, total
        wire_total = total
    elif version == 6:
        if n < 40:
            raise WireFormatError(
                "truncated", "ipv6 header", base, f"IPv6 header at offset {base} needs 40 bytes, only {n} left"
            )
        _vtf, plen, nxt, ttl, s, d = _IPV6_HDR.unpack_from(data)
        src, dst = str(ipaddress.IPv6Address(s)), str(ipaddress.IPv6Address(d))
        pos = 40
        while nxt in _IPV6_EXT:
            if pos + 2 > n:
                raise WireFormatError(
                    "truncated",
                    "ipv6 extension header",
                    base + pos,
                    f"IPv6 {_IPV6_EXT[nxt]} header at offset {base + pos} is cut short",
                )
            nxt, hlen8 = data[pos], data[pos + 1]
            pos += (hlen8 + 1) * 8
        if nxt == 44:
            raise WireFormatError(
                "fragment",
                "next header",
                base + pos,
                f"IPv6 fragment header at offset {base + pos}; reassembly is not supported",
            )
        if nxt != IPPROTO_TCP:
            raise WireFormatError(
                "not tcp", "next header", base + pos, f"IPv6 next header {nxt} at offset {base + pos} is not TCP (6)"
            )
        payload_start, payload_end = pos, 40 + plen
        wire_total = 40 + plen
        if payload_start > payload_end:
            raise WireFormatError(
                "bad header",
                "payload length",
                base + 4,
                f"IPv6 payload length {plen} at offset {base + 4} is shorter than its extension headers",
            )
    else:
        raise WireFormatError("not ip", "version", base, f"IP version {version} at offset {base} (allowed: 4, 6)")
    cut = min(n, payload_end)
    on_wire = orig_len if orig_len is not None else n
    truncated = n < payload_end
    if truncated and on_wire < wire_total:
        raise WireFormatError(
            "truncated",
            "ip payload",
            base + payload_start,
            f"IP length field says {wire_total} bytes for the packet at offset {base}, but only {on_wire} are there",
        )
    seg, ok, unknown = decode_tcp(
        data[payload_start:cut],
        src,
        dst,
        base=base + payload_start,
        orig_len=(payload_end - payload_start) if truncated else None,
    )
    return Packet(src=src, dst=dst, segment=seg, version=version, ttl=ttl, checksum_ok=ok, unknown_options=unknown)
