"""Tests of the packetdrill script reader (tcpkit/pktscript.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcpkit.drivers.pktscript import (
    ANY,
    AssertStep,
    BitOr,
    Bracket,
    Check,
    CommandStep,
    Name,
    PacketStep,
    SyscallStep,
    TimeSpec,
    load_script,
    parse_script,
)
from tcpkit.engine.errors import ScriptSyntaxError, TcpkitError
from tcpkit.engine.segment import MSS, Flags, SackPermitted, Timestamp

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def one(text: str):
    steps = parse_script(text).steps
    assert len(steps) == 1
    return steps[0]


def syntax_error(text: str) -> ScriptSyntaxError:
    with pytest.raises(ScriptSyntaxError) as info:
        parse_script(text, "t.pkt")
    assert isinstance(info.value, TcpkitError)
    return info.value


# --------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("0", TimeSpec("absolute", 0.0)),
        ("1.25", TimeSpec("absolute", 1.25)),
        ("+0", TimeSpec("relative", 0.0)),
        ("+.1", TimeSpec("relative", 0.1)),
        ("+0.00", TimeSpec("relative", 0.0)),
        ("*", TimeSpec("any")),
        ("+0~+.04", TimeSpec("relative_range", 0.0, 0.04)),
        ("+.01~+.015", TimeSpec("relative_range", 0.01, 0.015)),
        ("1~2.5", TimeSpec("absolute_range", 1.0, 2.5)),
    ],
)
def test_time_specs(text: str, spec: TimeSpec) -> None:
    step = one(f"{text} close(3) = 0")
    assert step.time == spec


def test_time_windows() -> None:
    assert TimeSpec("relative", 0.5).window(1.0) == (1.5, 1.5)
    assert TimeSpec("absolute", 0.5).window(1.0) == (0.5, 0.5)
    assert TimeSpec("relative_range", 0.01, 0.015).window(1.0) == pytest.approx((1.01, 1.015))
    assert TimeSpec("absolute_range", 2.0, 3.0).window(1.0) == (2.0, 3.0)
    lo, hi = TimeSpec("any").window(7.0)
    assert lo == 7.0 and hi == float("inf")


def test_blocking_call_end_time() -> None:
    step = one("+.1...0.200 connect(3, ..., ...) = 0")
    assert isinstance(step, SyscallStep)
    assert step.time == TimeSpec("relative", 0.1)
    assert step.end == 0.2
    step = one("+0...0 connect(4, ..., ...) = 0")
    assert step.end == 0.0


def test_mixed_range_is_an_error() -> None:
    err = syntax_error("+0~.04 > . 1:1(0) ack 1")
    assert (err.line, err.column) == (1, 1)
    assert "both relative" in err.reason


def test_backwards_range_is_an_error() -> None:
    err = syntax_error("+.2~+.1 > . 1:1(0) ack 1")
    assert "must not end before it starts" in err.reason


def test_blocking_packet_is_an_error() -> None:
    err = syntax_error("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0...0.1 < S 0:0(0) win 10")
    assert err.line == 2
    assert "only a system call can block" in err.reason


# --------------------------------------------------------------------------- packets


def test_inbound_packet_with_options() -> None:
    step = one("+.1 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 7 ecr 0>")
    assert isinstance(step, PacketStep)
    assert step.direction == "<"
    seg = step.segment
    assert seg.flags == Flags.SYN and seg.window == 32792
    assert seg.options == (MSS(1000), SackPermitted(), Timestamp(7, 0))


def test_outbound_packet_unspecified_fields() -> None:
    step = one("+0 > S. 0:0(0) ack 1 <...>")
    assert isinstance(step, PacketStep)
    assert step.direction == ">"
    assert step.segment.window is None  # not written -> not checked
    assert step.segment.options is None  # <...> -> not checked
    assert step.segment.ack == 1 and step.ack_given


def test_data_packet_lengths() -> None:
    step = one("+0 > P. 1:2001(2000) ack 1")
    assert step.segment.length == 2000 and step.segment.seq == 1


def test_ack_number_without_ack_flag() -> None:
    # FreeBSD rcv-fin-listen: "< F 17:20(3) ack 34" carries an ack number but no ACK flag.
    step = one("+0.10 < F  17:20(3) ack 34 win 32767")
    assert isinstance(step, PacketStep)
    assert step.segment.flags == Flags.FIN
    assert step.segment.ack == 34 and step.ack_given


def test_any_sequence_number() -> None:
    step = one("+0.00 > S.     ...(0)     ack 65537 win 65535 <mss 1460,sackOK,eol,eol>")
    assert isinstance(step, PacketStep)
    assert step.seq_any
    assert step.segment.ack == 65537 and step.segment.length == 0


def test_bad_flag_column() -> None:
    err = syntax_error("+0 > Q 0:0(0)")
    assert (err.line, err.column) == (1, 6)
    assert "unknown flag letter 'Q'" in err.reason


def test_bad_range_column() -> None:
    err = syntax_error("// header\n\n   +0 > P. 1:11(5) ack 1")
    assert (err.line, err.column) == (3, 12)  # the "1" of "1:11(5)"
    assert "holds 10 bytes" in err.reason


def test_bad_option_column() -> None:
    err = syntax_error("0 < S 0:0(0) win 1 <mss 1000,wscale>")
    assert (err.line, err.column) == (1, 30)
    assert "wscale" in err.reason


def test_bad_column_after_inserted_ack_flag() -> None:
    # the runner adds the ACK flag internally; columns must still point into the original line
    err = syntax_error("0 < F 17:20(3) ack 34 wnd 5")
    assert (err.line, err.column) == (1, 23)
    assert "'wnd'" in err.reason


# --------------------------------------------------------------------------- syscalls


def test_syscall_arguments() -> None:
    step = one("+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0")
    assert isinstance(step, SyscallStep)
    assert step.name == "setsockopt"
    assert step.args == (3, Name("SOL_SOCKET"), Name("SO_REUSEADDR"), Bracket((1,)), 4)
    assert step.result == 0 and step.errno is None


def test_syscall_errno_and_note() -> None:
    step = one("+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)")
    assert step.args == (3, ANY, ANY)
    assert (step.result, step.errno, step.note) == (-1, "EINPROGRESS", "Operation now in progress")


def test_fcntl_flags_and_hex_result() -> None:
    get = one("+0.00 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)")
    assert (get.result, get.errno, get.note) == (2, None, "flags O_RDWR")
    put = one("+0.00 fcntl(3, F_SETFL, O_RDWR | O_NONBLOCK) = 0")
    assert put.args[2] == BitOr((Name("O_RDWR"), Name("O_NONBLOCK")))


def test_getsockopt_errno_value() -> None:
    step = one("+0 getsockopt(3, SOL_SOCKET, SO_ERROR, [ECONNRESET], [4]) = 0")
    assert step.args[3] == Bracket((Name("ECONNRESET"),))


def test_trailing_comment_is_ignored() -> None:
    step = one("+0...0.300 write(4, ..., 61000) = 61000    // this write() blocks")
    assert step.result == 61000 and step.end == 0.3


def test_unknown_syscall() -> None:
    err = syntax_error("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n  +0 epoll_wait(3) = 0")
    assert (err.line, err.column) == (2, 6)
    assert "unknown system call 'epoll_wait'" in err.reason
    assert "t.pkt:2:6" in str(err)


def test_missing_result() -> None:
    err = syntax_error("+0 close(3)")
    assert (err.line, err.column) == (1, 12)
    assert "unexpected end of line" in err.reason


def test_errno_needs_minus_one() -> None:
    err = syntax_error("+0 close(3) = 0 EBADF")
    assert "goes with a result of -1" in err.reason


def test_struct_argument_is_unsupported() -> None:
    err = syntax_error("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0")
    assert err.column == 41
    assert "not supported" in err.reason


# --------------------------------------------------------------------------- asserts, commands, headers


def test_assert_block() -> None:
    step = one("+0.00 %{ assert tcpi_state == TCPI_SYN_RECEIVED and tcpi_rto >= 200000 }%")
    assert isinstance(step, AssertStep)
    assert step.checks == (
        Check("tcpi_state", "==", "TCPI_SYN_RECEIVED"),
        Check("tcpi_rto", ">=", 200000),
    )


def test_multiline_assert_block() -> None:
    step = one("+0 %{\nassert tcpi_state == TCP_ESTABLISHED\nassert tcpi_retransmits == 0\n}%")
    assert len(step.checks) == 2


def test_assert_block_rejects_code() -> None:
    err = syntax_error("+0 %{ import os }%")
    assert (err.line, err.column) == (1, 7)
    assert "unsupported code" in err.reason


def test_unterminated_assert_block() -> None:
    err = syntax_error("0 close(3) = 0\n+0 %{ assert tcpi_state == 1")
    assert (err.line, err.column) == (2, 4)


def test_commands_timed_untimed_and_multiline() -> None:
    steps = parse_script("`../common/defaults.sh\n ../x.py a=1\n`\n 0.00 `sysctl -w net.inet.tcp.rfc1323=1`\n").steps
    assert [type(s) for s in steps] == [CommandStep, CommandStep]
    assert steps[0].command == "../common/defaults.sh\n ../x.py a=1"
    assert steps[0].time == TimeSpec("relative", 0.0)
    assert steps[1].command == "sysctl -w net.inet.tcp.rfc1323=1"
    assert steps[1].line == 4


def test_unterminated_backtick() -> None:
    err = syntax_error("0 close(3) = 0\n +0 `sysctl -w a=1\n")
    assert (err.line, err.column) == (2, 5)


def test_header_options() -> None:
    s = parse_script("--ip_version=ipv4\n--tolerance_usecs=75000\n--mss=1000\n0 close(3) = 0\n")
    assert s.options == {"ip_version": "ipv4", "tolerance_usecs": "75000", "mss": "1000"}
    assert s.tolerance_usecs == 75000


def test_bad_tolerance() -> None:
    err = syntax_error("--tolerance_usecs=lots\n")
    assert "tolerance_usecs" in err.reason


def test_comments() -> None:
    s = parse_script("/* a\n   b */ 0 close(3) = 0 // done\n// all comment\n+0 /* inline */ close(4) = 0\n")
    assert [st.line for st in s.steps] == [2, 4]
    assert s.steps[1].args == (4,)


def test_unterminated_block_comment() -> None:
    err = syntax_error("0 close(3) = 0\n/* never closed\n")
    assert (err.line, err.column) == (2, 1)


def test_ifdef_branches() -> None:
    s = parse_script(
        "0 close(3) = 0\n#ifdef STANDARD\n+0 close(4) = 0\n#endif\n#ifdef FreeBSD\n+0 close(5) = 0\n#else\n+0 "
        "close(6) = 0\n#endif\n"
    )
    assert s.ifdefs == ("STANDARD", "FreeBSD")
    fds = lambda names: [st.args[0] for st in s.steps if st.active(names)]  # noqa: E731
    assert fds({"FreeBSD"}) == [3, 5]
    assert fds({"STANDARD"}) == [3, 4, 6]


def test_unbalanced_ifdef() -> None:
    err = syntax_error("#ifdef FreeBSD\n0 close(3) = 0\n")
    assert (err.line, err.column) == (1, 1)
    assert "no matching #endif" in err.reason
    err = syntax_error("0 close(3) = 0\n#endif\n")
    assert err.line == 2 and "#endif without #ifdef" in err.reason


def test_missing_time() -> None:
    err = syntax_error("close(3) = 0")
    assert (err.line, err.column) == (1, 1)
    assert "expected a time" in err.reason


def test_load_script_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScriptSyntaxError) as info:
        load_script(tmp_path / "nope.pkt")
    assert "cannot read" in str(info.value)


@pytest.mark.skipif(
    not CONFORMANCE.is_dir(), reason="the shared conformance scripts are not checked out beside the repo"
)
def test_every_conformance_script_parses() -> None:
    scripts = sorted(CONFORMANCE.rglob("*.pkt"))
    assert len(scripts) >= 180
    for path in scripts:
        s = load_script(path)
        assert s.steps, path
