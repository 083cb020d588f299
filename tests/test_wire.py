"""IP + TCP encoding: exact round trips, checksums checked by dpkt, errors that name the field."""

from __future__ import annotations

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpkit.capture.wire import (
    WireFormatError,
    decode_options,
    decode_packet,
    encode_options,
    encode_packet,
    internet_checksum,
)
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
    option_size,
    parse_segment,
)

u32 = st.integers(0, 2**32 - 1)
u16 = st.integers(0, 0xFFFF)
option = st.one_of(
    st.builds(MSS, u16),
    st.builds(WScale, st.integers(0, 14)),
    st.just(SackPermitted()),
    st.builds(Sack, st.lists(st.tuples(u32, u32), min_size=1, max_size=3).map(tuple)),
    st.builds(Timestamp, u32, u32),
    st.just(Nop()),
    st.builds(FastOpen, st.binary(min_size=0, max_size=8)),
)


@st.composite
def aligned_options(draw: st.DrawFn) -> tuple[Option, ...]:
    opts: list[Option] = []
    for o in draw(st.lists(option, max_size=5)):
        if sum(option_size(x) for x in opts) + option_size(o) <= 36:
            opts.append(o)
    if draw(st.booleans()):
        return (*opts, Eol())  # an explicit end of list; the encoder pads with zeros after it
    size = sum(option_size(x) for x in opts)
    opts += [Nop()] * (-size % 4)  # Linux pads with nops so options fill whole words
    return tuple(opts)


segments = st.builds(
    Segment,
    src_port=u16,
    dst_port=u16,
    seq=u32,
    ack=u32,
    flags=st.integers(0, 255).map(Flags),
    window=u16,
    payload=st.one_of(st.none(), st.binary(min_size=1, max_size=64)),
    options=aligned_options(),
    urg=u16,
)
addresses = st.sampled_from([("192.0.2.1", "198.51.100.9"), ("2001:db8::1", "2001:db8:ffff::2"), ("::1", "::1")])


@settings(max_examples=150, deadline=None)
@given(segments, addresses)
def test_round_trip_is_exact(seg: Segment, addrs: tuple[str, str]) -> None:
    src, dst = addrs
    raw = encode_packet(seg, src, dst)
    pkt = decode_packet(raw)
    assert (pkt.src, pkt.dst, pkt.segment, pkt.checksum_ok) == (src, dst, seg, True)
    assert pkt.version == (6 if ":" in src else 4)


@settings(max_examples=80, deadline=None)
@given(segments, addresses)
def test_dpkt_reads_the_same_fields_and_accepts_checksums(seg: Segment, addrs: tuple[str, str]) -> None:
    src, dst = addrs
    raw = encode_packet(seg, src, dst)
    ip = dpkt.ip6.IP6(raw) if ":" in src else dpkt.ip.IP(raw)
    tcp = ip.data
    assert isinstance(tcp, dpkt.tcp.TCP)
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flags, tcp.win, tcp.urp) == (
        seg.src_port,
        seg.dst_port,
        seg.seq,
        seg.ack,
        int(seg.flags),
        seg.window,
        seg.urg,
    )
    assert bytes(tcp.data) == (seg.payload or b"")
    assert bytes(tcp.opts) == encode_options(seg.options)
    # dpkt recomputes checksums from scratch when asked; ours must agree.
    sum_tcp = tcp.sum
    if ":" not in src:
        sum_ip = ip.sum
        ip.sum = 0
        tcp.sum = 0
        again = dpkt.ip.IP(bytes(ip))
        assert (again.sum, again.data.sum) == (sum_ip, sum_tcp)
    else:
        tcp.sum = 0
        again6 = dpkt.ip6.IP6(bytes(ip))
        assert again6.data.sum == sum_tcp


def test_option_bytes_match_rfc_layouts() -> None:
    seg = parse_segment("S 0:0(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>")
    assert encode_options(seg.options).hex() == "020405b40402080a000000640000000001030307"
    assert encode_options((Sack(((1, 2),)),)).hex() == "050a" + "00000001" + "00000002" + "0000"
    assert encode_options((FastOpen(b"\xaa\xbb"),)).hex() == "2204aabb"


def test_unaligned_options_come_back_with_the_eol_padding() -> None:
    # The wire cannot tell zero padding from an EOL option: tcpdump prints "eol" too.
    seg = Segment(src_port=1, dst_port=2, flags=Flags.SYN, window=1, options=(MSS(1460), SackPermitted()))
    back = decode_packet(encode_packet(seg, "10.0.0.1", "10.0.0.2")).segment
    assert back.options == (MSS(1460), SackPermitted(), Eol())


def test_unknown_and_experimental_options() -> None:
    md5 = bytes([19, 18]) + bytes(16)
    tfo_exp = bytes([254, 6, 0xF9, 0x89, 0xAB, 0xCD])
    opts, unknown = decode_options(md5 + tfo_exp + b"\x01\x00\x00\x00")
    assert opts == (FastOpen(b"\xab\xcd"), Nop(), Eol())
    assert unknown == (19,)


def test_capture_cut_by_snaplen_keeps_the_length() -> None:
    seg = Segment(src_port=1, dst_port=2, seq=5, flags=Flags.ACK | Flags.PSH, window=9, payload=bytes(range(200)))
    raw = encode_packet(seg, "10.0.0.1", "10.0.0.2")
    pkt = decode_packet(raw[:54], orig_len=len(raw))
    assert pkt.segment.length == 200 and pkt.segment.payload is None
    assert pkt.checksum_ok is None


def test_ethernet_padding_after_ip_total_length_is_ignored() -> None:
    seg = Segment(src_port=1, dst_port=2, flags=Flags.RST, window=0)
    raw = encode_packet(seg, "10.0.0.1", "10.0.0.2")
    assert decode_packet(raw + bytes(6)).segment == seg


def test_bad_checksum_is_reported_not_fatal() -> None:
    raw = bytearray(encode_packet(Segment(src_port=1, dst_port=2, window=3), "10.0.0.1", "10.0.0.2"))
    raw[36] ^= 0xFF
    assert decode_packet(bytes(raw)).checksum_ok is False


def test_internet_checksum_rfc1071_example() -> None:
    # RFC 1071 §3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (complement 220d)
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    assert internet_checksum(b"\x01") == 0xFEFF  # odd length is padded with a zero byte


@pytest.mark.parametrize(
    ("mutate", "reason", "field", "offset"),
    [
        (lambda b: b[:10], "truncated", "ipv4 header", 0),
        (lambda b: b[:9] + b"\x11" + b[10:], "not tcp", "protocol", 9),
        (lambda b: b[:6] + b"\x20\x00" + b[8:], "fragment", "fragment offset", 6),
        (lambda b: b"\x75" + b[1:], "not ip", "version", 0),
        (lambda b: b[:32] + b"\x40" + b[33:], "bad header", "data offset", 32),
        (lambda b: b[:32] + b"\xf0" + b[33:], "truncated", "data offset", 32),
        (lambda b: b[:2] + b"\x00\x10" + b[4:], "bad header", "total length", 2),
        (lambda b: b[:40] + b"\x02\x09" + b[42:], "bad option", "option length", 40),
    ],
)
def test_errors_name_field_and_offset(mutate, reason: str, field: str, offset: int) -> None:  # type: ignore[no-untyped-def]
    seg = Segment(src_port=1, dst_port=2, flags=Flags.SYN, window=3, options=(MSS(1460),))
    raw = encode_packet(seg, "10.0.0.1", "10.0.0.2")
    with pytest.raises(WireFormatError) as info:
        decode_packet(mutate(raw))
    err = info.value
    assert isinstance(err, TraceFormatError)
    assert (err.reason, err.field, err.offset) == (reason, field, offset)
    assert str(offset) in str(err)


def test_ipv6_errors_and_extension_headers() -> None:
    seg = Segment(src_port=1, dst_port=2, flags=Flags.SYN, window=3)
    raw = encode_packet(seg, "2001:db8::1", "2001:db8::2")
    # insert an 8-byte destination-options header (next header 60) before TCP
    ext = bytes([6, 0]) + bytes(6)
    with_ext = raw[:4] + (len(raw) - 40 + 8).to_bytes(2, "big") + bytes([60]) + raw[7:40] + ext + raw[40:]
    assert decode_packet(with_ext).segment == seg
    udp = raw[:6] + bytes([17]) + raw[7:]
    with pytest.raises(WireFormatError, match="next header 17 at offset 40"):
        decode_packet(udp)
    with pytest.raises(WireFormatError, match="needs 40 bytes"):
        decode_packet(raw[:30])


def test_encode_rejects_mixed_families_and_bad_addresses() -> None:
    seg = Segment(window=1)
    with pytest.raises(WireFormatError, match="different IP versions"):
        encode_packet(seg, "10.0.0.1", "::1")
    with pytest.raises(WireFormatError, match="not an IPv4 or IPv6 address"):
        encode_packet(seg, "10.0.0.300", "10.0.0.1")
    with pytest.raises(WireFormatError, match="at most 40"):
        encode_options((Timestamp(1, 1),) * 5)
