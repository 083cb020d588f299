"""Tests of the packetdrill script reader (tcpkit/pktscript.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpkit.drivers.pktscript import (
    ANY,
    ERRNO_TEXT,
    MAX_NESTING,
    MAX_OPTION_BYTES,
    MAX_PAYLOAD,
    MAX_SCRIPT_BYTES,
    MAX_TIME,
    AssertStep,
    BitOr,
    Bracket,
    Call,
    CommandStep,
    Field,
    Name,
    PacketStep,
    Struct,
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


def test_linger_struct_both_spellings() -> None:
    step = one("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0}, 8) = 0")
    assert isinstance(step, SyscallStep)
    assert step.args[3] == Struct((Field("l_onoff", 1), Field("l_linger", 0)))
    step = one("+0 getsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=5}, [8]) = 0")
    assert step.args[3].get("l_onoff", "onoff") == 1 and step.args[3].get("linger") == 5
    assert step.args[4] == Bracket((8,))


def test_sockaddr_with_htons_and_inet_addr() -> None:
    step = one('+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0')
    sa = step.args[1]
    assert isinstance(sa, Struct)
    assert sa.names() == ("sa_family", "sin_port", "sin_addr")
    assert sa.get("sa_family") == Name("AF_INET")
    assert sa.get("sin_port") == Call("htons", (8080,)) and sa.get("sin_port").value == 8080
    assert sa.get("sin_addr").value == "192.0.2.1"
    six = one('+0 connect(3, {sa_family=AF_INET6, sin_port=htons(80), sin_addr=inet6_addr("fd3d::1")}, 28) = 0')
    assert six.args[1].get("sin_addr") == Call("inet6_addr", ("fd3d::1",))


def test_bad_function_arguments_are_refused() -> None:
    err = syntax_error('+0 bind(3, {sa_family=AF_INET, sin_port=htons(70000), sin_addr=inet_addr("1.2.3.4")}, 16) = 0')
    assert "htons(70000) is not allowed" in err.reason and "0 to 65535" in err.reason
    assert err.column == 41
    err = syntax_error('+0 bind(3, {sin_addr=inet_addr("999.1.1.1")}, 16) = 0')
    assert "inet_addr(999.1.1.1) is not allowed" in err.reason and "IPv4 address" in err.reason
    err = syntax_error("+0 bind(3, {sin_port=ntoh(1)}, 16) = 0")
    assert "unknown function 'ntoh'" in err.reason and "htons" in err.reason


def test_poll_array_of_structs_and_flags() -> None:
    step = one("+0...0.1 poll([{fd=3, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 100) = 1")
    (pfd,) = step.args[0].items
    assert pfd.get("fd") == 3
    assert pfd.get("events") == BitOr((Name("POLLIN"), Name("POLLOUT")))
    assert step.args[1:] == (1, 100) and step.end == 0.1


def test_iovec_msghdr_and_strings() -> None:
    step = one("+0 writev(4, [{..., 300}, {iov_base=..., iov_len=200}], 2) = 500")
    a, b = step.args[1].items
    assert a == Struct((Field(None, ANY), Field(None, 300)))
    assert b.get("iov_len") == 200
    # msghdr members carry an index: msg_iov(1)=[...]
    msg = one("+0 writev(4, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0}, 0) = 10").args[1]
    assert msg.fields[1] == Field("msg_iov", Bracket((Struct((Field(None, ANY), Field(None, 10))),)), 1)
    s = one('+0 write(4, "a \\"quoted\\" // not a comment"..., 5) = 5')
    assert s.args[1] == 'a "quoted" // not a comment'


def test_struct_errors() -> None:
    err = syntax_error("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_onoff=0}, 8) = 0")
    assert "struct member 'l_onoff' given twice" in err.reason and err.column == 53
    err = syntax_error("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1; l_linger=0}, 8) = 0")
    assert "unexpected character ';'" in err.reason
    err = syntax_error("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onoff=1, l_linger=0, 8) = 0")
    assert "expected , or } in a struct" in err.reason


def test_nesting_is_bounded() -> None:
    deep = "[" * 40 + "1" + "]" * 40
    err = syntax_error(f"+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {deep}, 8) = 0")
    assert f"nested too deeply (at most {MAX_NESTING}" in err.reason
    deep = "{a=" * 40 + "1" + "}" * 40
    err = syntax_error(f"+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {deep}, 8) = 0")
    assert "nested too deeply" in err.reason
    ok = "[" * MAX_NESTING + "1" + "]" * MAX_NESTING
    assert one(f"+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {ok}, 8) = 0").name == "setsockopt"


def test_numbers_out_of_range_and_floats_in_arguments() -> None:
    err = syntax_error("+0 write(4, ..., 18446744073709551616) = 1")
    assert "out of range" in err.reason and err.column == 18
    err = syntax_error("+0 write(4, ..., 1" + "0" * 5000 + ") = 1")
    assert "out of range" in err.reason
    err = syntax_error("+0 write(4, ..., 1.5) = 1")
    assert "expected a whole number here, got '1.5'" in err.reason
    assert one("+0 write(4, ..., 0x10) = 16").args[2] == 16
    assert one("+0 write(4, ..., 010) = 10").args[2] == 10  # decimal, as packetdrill's lexer reads it


# --------------------------------------------------------------------------- errno


def test_errno_with_its_text() -> None:
    step = one("+0 connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)")
    assert (step.errno, step.note) == ("ECONNREFUSED", "Connection refused")
    assert ERRNO_TEXT["ECONNREFUSED"] == "Connection refused"
    assert one("+0 read(3, ..., 1) = -1 EWOULDBLOCK (Operation would block)").errno == "EWOULDBLOCK"
    assert one("+0 read(3, ..., 1) = -1 ENOTCAPABLE").errno == "ENOTCAPABLE"  # FreeBSD's


def test_unknown_errno_is_refused_with_the_allowed_names() -> None:
    err = syntax_error("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 connect(3, ..., ...) = -1 ECONNREFUZED")
    assert (err.line, err.column) == (2, 30)
    assert "unknown errno 'ECONNREFUZED' (did you mean ECONNREFUSED?)" in err.reason
    assert "allowed: E2BIG, EACCES" in err.reason and "ETIMEDOUT" in err.reason
    err = syntax_error("+0 close(3) = -1 oops")
    assert "unknown errno name (such as ECONNRESET) 'oops'" in err.reason


# --------------------------------------------------------------------------- %{ }%


def test_assert_with_message() -> None:
    step = one("+0.00 %{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%")
    assert isinstance(step, AssertStep)
    (stmt,) = step.code.statements
    assert stmt.kind == "assert" and stmt.test == "tcpi_state == TCP_ESTABLISHED"
    assert stmt.node.msg is not None and step.checks == 1


def test_several_statements_continuations_and_lines() -> None:
    step = one("+0 %{ assert tcpi_probes == 0, tcpi_probes; \\\n     assert tcpi_backoff == 0, tcpi_backoff }%")
    assert [s.test for s in step.code.statements] == ["tcpi_probes == 0", "tcpi_backoff == 0"]
    step = one("+0 %{\n  assert tcpi_state == TCP_ESTABLISHED\n  assert tcpi_retransmits == 0\n}%")
    assert step.checks == 2
    step = one("+0 %{ x = tcpi_rto; print(x); pass; 'a comment' }%")
    assert [s.kind for s in step.code.statements] == ["assign", "print", "pass", "pass"]
    assert step.checks == 0


def test_names_assigned_in_one_block_are_known_in_later_ones() -> None:
    s = parse_script("0 %{ cwnd0 = tcpi_snd_cwnd }%\n+1 %{ assert tcpi_snd_cwnd > cwnd0, cwnd0 }%\n")
    assert s.steps[1].code.statements[0].names == ("tcpi_snd_cwnd", "cwnd0")
    err = syntax_error("0 %{ assert tcpi_snd_cwnd > cwnd0 }%\n+1 %{ cwnd0 = 1 }%\n")
    assert (err.line, err.column) == (1, 29)
    assert "unknown name 'cwnd0'" in err.reason


def test_unknown_tcp_info_field_is_refused_with_a_suggestion() -> None:
    err = syntax_error("+0 %{ assert tcpi_stat == TCP_ESTABLISHED }%")
    assert (err.line, err.column) == (1, 14)
    assert "unknown tcp_info field 'tcpi_stat' (did you mean tcpi_state?)" in err.reason
    assert "tcpi_snd_cwnd" in err.reason  # the allowed names are listed


def test_assert_block_rejects_code() -> None:
    for code, what in [
        ("import os", "Import statement"),
        ("assert open('x')", "call of 'open' is not allowed"),
        ("open('x')", "a bare expression does nothing here"),
        ("assert tcpi_state.__class__", "Attribute expression"),
        ("assert [x for x in (1, 2)]", "ListComp expression"),
        ("while 1: pass", "While statement"),
        ("tcpi_state = 1", "cannot be assigned"),
        ("assert (lambda: 1)()", "call of 'Lambda' is not allowed"),
    ]:
        err = syntax_error(f"+0 %{{ {code} }}%")
        assert what in err.reason, (code, err.reason)
        assert err.line == 1 and err.column >= 7


def test_python_syntax_error_position() -> None:
    err = syntax_error("0 close(3) = 0\n+0 %{\nassert tcpi_state ==\n}%")
    assert err.line == 3 and "Python syntax error" in err.reason


def test_code_blocks_are_bounded() -> None:
    err = syntax_error("+0 %{ assert " + "(" * 300 + "1" + ")" * 300 + " }%")
    assert "too many nested parentheses" in err.reason or "nested too deeply" in err.reason
    err = syntax_error("+0 %{ assert " + "-" * 5000 + "1 }%")
    assert "nested" in err.reason or "cannot read" in err.reason
    err = syntax_error("+0 %{ assert 1" + "+1" * 2000 + " }%")
    assert "nested" in err.reason or "cannot read" in err.reason
    err = syntax_error("+0 %{ assert " + "1" * 5000 + " }%")
    assert "Python syntax error" in err.reason or "cannot read" in err.reason
    err = syntax_error("+0 %{ assert 1e999 }%")
    assert "finite" in err.reason
    err = syntax_error("+0 %{ x = 1 # " + "c" * 70000 + " }%")
    assert "too long" in err.reason


def test_empty_and_unterminated_blocks() -> None:
    err = syntax_error("+0 %{ }%")
    assert "empty %{ }% block" in err.reason
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


# --------------------------------------------------------------------------- bounds (issue 13)


def test_missing_direction_is_named() -> None:
    for line, word in [
        ("+0 S 0:0(0) win 100", "S"),
        ("+0 S. 0:0(0) ack 1 win 100", "S."),
        ("+.1 . 1:1(0) ack 1", "."),
        ("+0 F. 1:1(0) ack 1", "F."),
        ("+0 P. ...(10) ack 1", "P."),
    ]:
        err = syntax_error(line)
        assert err.reason.startswith(f"missing < or > before the packet '{word} ...'"), err.reason
        assert "'<" in err.reason and "'>" in err.reason
        assert err.column == line.index(" " + word + " ") + 2
        assert "unknown system call" not in err.reason
    err = syntax_error("< S 0:0(0) win 100")
    assert "expected a time" in err.reason and "before the packet" in err.reason


def test_times_must_be_finite_and_in_range() -> None:
    err = syntax_error("+" + "9" * 400 + " close(3) = 0")
    assert "out of range" in err.reason and f"{MAX_TIME:g}" in err.reason
    err = syntax_error("2000000 close(3) = 0")
    assert "time 2000000 is out of range" in err.reason
    err = syntax_error("+0~+" + "9" * 400 + " > . 1:1(0) ack 1")
    assert "out of range" in err.reason and err.column == 5
    err = syntax_error("+0..." + "9" * 400 + " read(3, ..., 1) = 1")
    assert "out of range" in err.reason
    err = syntax_error("nan close(3) = 0")
    assert "expected a time" in err.reason


def test_header_option_values() -> None:
    err = syntax_error("--tolerance_usecs=nan\n")
    assert "--tolerance_usecs must be a whole number of microseconds" in err.reason
    err = syntax_error("\n--tolerance_usecs=-5\n")
    assert err.line == 2
    err = syntax_error("--tolerance_usecs=99999999999999999999\n")
    assert "from 0 to 1000000000" in err.reason
    err = syntax_error("--ip_version=ipv5\n")
    assert "--ip_version=ipv5 is not known (allowed: ipv4, ipv4-mapped-ipv6, ipv6)" in err.reason
    assert parse_script("--ip_version=ipv4-mapped-ipv6\n0 close(3) = 0").ip_version == "ipv4-mapped-ipv6"


def test_payload_length_limit() -> None:
    err = syntax_error("+0 < P. 1:4294967296(4294967295) ack 1 win 100")
    assert "payload length 4294967295 is out of range" in err.reason and err.column == 22
    err = syntax_error(f"+0 < P. 1:{MAX_PAYLOAD + 2}({MAX_PAYLOAD + 1}) ack 1 win 100")
    assert f"at most {MAX_PAYLOAD} bytes" in err.reason
    assert one(f"+0 < P. 1:{MAX_PAYLOAD + 1}({MAX_PAYLOAD}) ack 1 win 100").segment.length == MAX_PAYLOAD
    # with options the room shrinks by their padded size: a timestamp option (10 bytes) takes 12
    err = syntax_error(f"+0 < P. 1:{MAX_PAYLOAD + 1}({MAX_PAYLOAD}) ack 1 win 100 <nop,nop,TS val 1 ecr 2>")
    assert f"at most {MAX_PAYLOAD - 12} bytes" in err.reason
    err = syntax_error("+0 > P. ...(70000) ack 1")
    assert "payload length 70000 is out of range" in err.reason and err.column == 13
    err = syntax_error("+0 < P. 1:2(1) ack 1" + "0" * 30 + " win 1")
    assert "out of range" in err.reason


def test_option_bytes_limit() -> None:
    sack = " ".join(f"{i * 10}:{i * 10 + 5}" for i in range(5))  # 2 + 5 * 8 = 42 bytes
    err = syntax_error(f"+0 < . 1:1(0) ack 1 win 100 <sack {sack}>")
    assert f"the options take 42 bytes: at most {MAX_OPTION_BYTES}" in err.reason
    assert err.column == 29
    assert one("+0 < . 1:1(0) ack 1 win 100 <nop,nop,sack 1:2 3:4 5:6 7:8>").segment.options_size() == 36


def test_inbound_options_must_be_written() -> None:
    err = syntax_error("+0 < S 0:0(0) win 100 <...>")
    assert "only for outbound > packets" in err.reason and err.column == 23


def test_ecn_marks() -> None:
    step = one("+0 < [ect0] . 1:1(0) ack 1 win 257")
    assert step.ecn == "ect0" and step.segment.flags == Flags.ACK
    assert one("+0 > [noecn] P. 1:11(10) ack 1").ecn == "noecn"
    err = syntax_error("+0 < [ect2] . 1:1(0) ack 1 win 257")
    assert "unknown IP ECN mark '[ect2]'" in err.reason and err.column == 6
    err = syntax_error("+0 < [ect01] . 1:1(0) ack 1 win 257")
    assert "only be used with outbound packets" in err.reason


def test_script_size_limit(tmp_path: Path) -> None:
    big = "// " + "x" * MAX_SCRIPT_BYTES + "\n"
    err = syntax_error(big)
    assert f"at most {MAX_SCRIPT_BYTES} bytes" in err.reason and (err.line, err.column) == (1, 1)
    path = tmp_path / "big.pkt"
    with path.open("wb") as f:
        f.truncate(MAX_SCRIPT_BYTES + 1)  # sparse: the reader refuses it from its size, without reading it
    with pytest.raises(ScriptSyntaxError) as info:
        load_script(path)
    assert f"{path}:1:1: the script is {MAX_SCRIPT_BYTES + 1} bytes long" in str(info.value)


def test_directories_and_devices_are_not_read(tmp_path: Path) -> None:
    for path in (tmp_path, Path("/dev/zero")):
        with pytest.raises(ScriptSyntaxError) as info:
            load_script(path)
        assert str(info.value) == f"{path}:0:0: cannot read the script: it is not a regular file"


def test_non_utf8_file_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.pkt"
    path.write_bytes(b"0 close(3) = 0\n// caf\xe9\n")
    with pytest.raises(ScriptSyntaxError) as info:
        load_script(path)
    err = info.value
    assert (err.line, err.column) == (2, 7)
    assert "byte 0xe9 is not UTF-8" in err.reason


def test_long_line_error_shows_the_column() -> None:
    err = syntax_error("0 write(3, ..., " + "1, " * 100000 + "x(1)) = 1")
    assert err.line == 1 and err.column > 300000
    assert "unknown function 'x'" in err.reason
    first = str(err).splitlines()[0]
    assert first.startswith(f"t.pkt:1:{err.column}: ")
    assert len(str(err).splitlines()[1]) < 300  # the source line is shown around the column only


@pytest.mark.parametrize(
    "text",
    [
        "+0 S 0:0(0)",
        "0 close(3) = -1 EFOO",
        "+0 %{ assert tcpi_bogus }%",
        "0 connect(3, {sin_port=htons(99999)}, 16) = 0",
        "+0 < P. 0:70000(70000) win 1",
        "--tolerance_usecs=nan",
        "0 close(3) = 0 junk",
        '0 write(3, "unterminated, 1) = 1',
        "1e9 close(3) = 0",
        "0 frob(3) = 0",
    ],
)
def test_every_error_is_one_line_with_file_line_column(text: str) -> None:
    err = syntax_error("// header\n" + text)
    first = str(err).splitlines()[0]
    assert first.startswith(f"t.pkt:{err.line}:{err.column}: "), first
    assert err.line == 2 and err.column >= 1
    assert first.endswith(err.reason)


# --------------------------------------------------------------------------- property: the script boundary

_GRAMMAR = Path(__file__).resolve().parent / "data" / "pkt" / "grammar"
_SEEDS = sorted(p.read_text() for p in _GRAMMAR.glob("*.pkt"))
_ERROR_LINE = re.compile(r"^t\.pkt:\d+:\d+: \S")
_PIECES = [
    "<", ">", "{", "}", "%{", "}%", "[", "]", "(", ")", '"', "`", "...", "~", "+", "*", ",", "=", "|", ";",
    "\\", "\n", "#ifdef X\n", "#endif\n", "/*", "*/", "//", "\x00", "é", "\u2028", "\ud800",
    "nan", "inf", "-1", "1e999", "0x", "99999999999999999999999", "9" * 5000, "tcpi_state", "TCP_CLOSE",
    "assert ", "htons(", "inet_addr(\"", "{l_onoff=", "S.", "ack", "win", "<mss 1460>", "-1 EAGAIN",
]  # fmt: skip


def _check_parse(text: str) -> None:
    try:
        parse_script(text, "t.pkt")
    except ScriptSyntaxError as exc:
        assert _ERROR_LINE.match(str(exc).splitlines()[0]), str(exc)[:200]


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 40)))
        how = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        piece = draw(st.sampled_from(_PIECES) | st.text(max_size=6))
        if how == "insert":
            text = text[:i] + piece + text[i:]
        elif how == "delete":
            text = text[:i] + text[j:]
        elif how == "replace":
            text = text[:i] + piece + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_mutated_scripts_give_only_script_errors(text: str) -> None:
    _check_parse(text)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_random_text_gives_only_script_errors(text: str) -> None:
    _check_parse(text)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.binary(max_size=400))
def test_random_files_give_only_script_errors_and_stay_unchanged(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "t.pkt"
        path.write_bytes(data)
        try:
            load_script(path)
        except ScriptSyntaxError as exc:
            assert re.match(r"^.*t\.pkt:\d+:\d+: \S", str(exc).splitlines()[0])
        assert path.read_bytes() == data


_NUMBER = st.integers(-(10**30), 10**30).map(str) | st.sampled_from(["nan", "inf", "-0", "1e308", "0x" + "f" * 40])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(_NUMBER, min_size=6, max_size=6))
def test_huge_numbers_give_only_script_errors(n: list[str]) -> None:
    _check_parse(
        f"{n[0].lstrip('-')} socket(..., SOCK_STREAM, IPPROTO_TCP) = {n[1]}\n"
        f"+0 < P. {n[2]}:{n[3]}({n[4]}) ack {n[5]} win {n[0]} <mss {n[1]},TS val {n[2]} ecr {n[3]}>\n"
        f"+0 write(3, ..., {n[4]}) = {n[5]}\n"
        f"+0 %{{ assert tcpi_rto == {n[0]} * {n[1]} ** {n[2]} << {n[3]} }}%\n"
        f"+0 poll([{{fd={n[1]}, events={n[2]}}}], 1, {n[3]}) = {n[4]}\n"
    )


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.integers(0, 600), st.sampled_from(["(", "[", "{", "-", "not ", "~", "1+", "{a=", "[{fd="]))
def test_deep_nesting_gives_only_script_errors(depth: int, opener: str) -> None:
    closer = {"(": ")", "[": "]", "{": "}", "{a=": "}", "[{fd=": "}]"}.get(opener, "")
    code = f"+0 %{{ assert {opener * depth}1{closer * depth} }}%\n"
    arg = f"+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {opener * depth}1{closer * depth}, 8) = 0\n"
    _check_parse(code)
    _check_parse(arg)


def test_calls_over_several_lines() -> None:
    s = parse_script(
        "0 poll([{fd=3,\n        events=POLLIN,   // a comment\n        revents=0}], 1, 0) = 0\n+0 close(3) = 0\n"
    )
    assert [st.name for st in s.steps] == ["poll", "close"]
    assert s.steps[0].args[0].items[0].get("revents") == 0
    assert s.steps[0].text.startswith("0 poll([{fd=3,\n") and s.steps[0].text.endswith("revents=0}], 1, 0) = 0")
    assert "a comment" not in s.steps[0].text
    assert s.steps[1].line == 4
    # a call left open is not continued onto a line that starts a new event: the error is on its own line
    err = syntax_error("0 poll([{fd=3,\n+0 close(3) = 0\n")
    assert (err.line, err.column) == (1, 15) and "unexpected end of line" in err.reason
    err = syntax_error("0 poll([{fd=3, events=POLLIN\n")
    assert err.line == 1 and "unexpected end of line" in err.reason


def test_struct_members_are_checked_where_the_runner_reads_them() -> None:
    for text, what in [
        ("+0 setsockopt(3, SOL_SOCKET, SO_LINGER, {l_onof=1, l_linger=0}, 8) = 0", "struct linger has no member"),
        ("+0 getsockopt(3, SOL_TCP, TCP_INFO, {tcpi_stat=1}, [...]) = 0", "struct tcp_info has no member"),
        ("+0 bind(3, {sa_family=AF_INET, port=htons(80)}, 16) = 0", "struct sockaddr has no member 'port'"),
        ("+0 poll([{fd=3, event=POLLIN}], 1, 0) = 1", "struct pollfd has no member 'event' (did you mean events?)"),
    ]:
        err = syntax_error(text)
        assert what in err.reason and "allowed:" in err.reason, err.reason
        member = err.reason.split("member '")[1].split("'")[0]
        assert err.column == text.index(member + "=") + 1
    # a struct for an option the runner does not read is taken as written
    assert one("+0 setsockopt(3, SOL_TCP, TCP_MD5SIG, {tcpm_keylen=5}, 216) = 0").args[3].names() == ("tcpm_keylen",)
