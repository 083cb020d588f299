"""Tests of the packetdrill runner and ``tcpkit pkt`` (tcpkit/packetdrill.py) on small scripts of our own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpkit.cli.pkt import main
from tcpkit.drivers.packetdrill import MAX_NOTES, _shell_arith, run_file, run_text, state_constant
from tcpkit.engine.errors import ParameterError, ScriptSyntaxError
from tcpkit.engine.states import State
from tcpkit.engine.trace import Kind, TraceRecord

DATA = Path(__file__).resolve().parent / "data" / "pkt"

SERVER_PREFIX = """
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
  +.1 < S 0:0(0) win 32792 <mss 1000>
   +0 > S. 0:0(0) ack 1 <...>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
"""


# --------------------------------------------------------------------------- scripts that pass


@pytest.mark.parametrize("name", ["server_pass.pkt", "client_pass.pkt", "blocking_pass.pkt"])
def test_own_scripts_pass(name: str) -> None:
    r = run_file(DATA / name, profile="linux")
    assert r.passed, r.summary()
    assert r.failure is None and r.error is None
    assert r.checks >= 5


def test_freebsd_branch_and_tcpdrop() -> None:
    r = run_file(DATA / "freebsd_time_wait.pkt", profile="freebsd")
    assert r.passed, r.summary()
    assert any("FreeBSD defined" in n for n in r.notes)
    assert any("hostcache.purgenow" in i for i in r.ignored)


def test_standard_branch_keeps_time_wait() -> None:
    r = run_file(DATA / "freebsd_time_wait.pkt", profile="rfc9293")
    assert r.passed, r.summary()
    assert any("STANDARD defined" in n for n in r.notes)


# --------------------------------------------------------------------------- scripts that fail, precisely


def test_wrong_flag() -> None:
    r = run_file(DATA / "wrong_flag.pkt")
    assert not r.passed
    f = r.failure
    assert f is not None
    assert (f.line, f.what) == (6, "outbound packet: flags differ")
    assert f.expected.startswith("R.") and f.got.startswith("S.")


def test_wrong_ack() -> None:
    r = run_file(DATA / "wrong_ack.pkt")
    f = r.failure
    assert f is not None and not r.passed
    assert (f.line, f.what) == (6, "outbound packet: ack differs")
    assert f.expected.startswith("ack 2") and f.got.startswith("ack 1")


def test_wrong_time() -> None:
    r = run_file(DATA / "wrong_time.pkt")
    f = r.failure
    assert f is not None
    assert (f.line, f.what) == (6, "outbound packet at the wrong time")
    assert "0.600 s" in f.expected and "at 0.100 s" in f.got and "-500.0 ms" in f.got


def test_tolerance_option_changes_the_verdict() -> None:
    # the SYN-ACK is 500 ms early; a 600 ms tolerance accepts it
    assert run_file(DATA / "wrong_time.pkt", tolerance_ms=600).passed
    assert not run_file(DATA / "wrong_time.pkt", tolerance_ms=400).passed


def test_wrong_errno() -> None:
    r = run_file(DATA / "wrong_errno.pkt")
    f = r.failure
    assert f is not None
    assert (f.line, f.what) == (11, "write() returned the wrong result")
    assert f.expected == "-1 ECONNRESET (Connection reset by peer)"
    assert f.got.startswith("-1 EPIPE (Broken pipe) at ")


def test_wrong_sockstat_count() -> None:
    r = run_file(DATA / "wrong_sockstat.pkt", profile="freebsd")
    f = r.failure
    assert f is not None
    assert (f.line, f.what) == (6, "sockstat count of SYN_RCVD")
    assert f.expected == "1 socket(s) in SYN_RECEIVED" and f.got == "0"
    assert r.checks >= 1  # the LISTEN count on line 5 held


def test_missing_packet() -> None:
    r = run_text(SERVER_PREFIX + "   +0 > F. 1:1(0) ack 1\n")
    f = r.failure
    assert f is not None
    assert (f.line, f.what) == (9, "outbound packet missing")


def test_wrong_payload_length() -> None:
    r = run_text(SERVER_PREFIX + "   +0 write(4, ..., 100) = 100\n   +0 > P. 1:51(50) ack 1\n")
    f = r.failure
    assert f is not None
    assert f.what == "outbound packet: payload length differs"
    assert f.expected.startswith("50 bytes") and f.got.startswith("100 bytes")


def test_wrong_tcpi_state() -> None:
    r = run_text(SERVER_PREFIX + "   +0 %{ assert tcpi_state == TCP_CLOSE_WAIT }%\n")
    f = r.failure
    assert f is not None
    assert f.line == 9
    assert f.expected == "tcpi_state == CLOSE_WAIT" and f.got == "tcpi_state = ESTABLISHED"


def test_blocking_call_returning_at_the_wrong_time() -> None:
    # the read is told to return at 0.2 + 0.1, but data arrives only at 0.2 + 0.3
    r = run_text(SERVER_PREFIX + "   +0...0.100 read(4, ..., 100) = 100\n  +.3 < P. 1:101(100) ack 1 win 257\n")
    f = r.failure
    assert f is not None
    assert f.what == "read() returned at the wrong time"
    assert "0.300 s" in f.expected and "0.500 s" in f.got


def test_unexpected_packet_is_only_a_note_until_compared() -> None:
    # The engine ACKs the data; no > line takes that ACK, so it is a note, not a failure.
    r = run_text(SERVER_PREFIX + "   +0 < P. 1:101(100) ack 1 win 257\n   +0 read(4, ..., 100) = 100\n")
    assert r.passed, r.summary()
    assert any("no > line expected" in n for n in r.notes)


def test_nonblocking_read_says_eagain() -> None:
    r = run_text(
        SERVER_PREFIX
        + "   +0 fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n"
        + "   +0 read(4, ..., 10) = -1 EWOULDBLOCK (Operation would block)\n"
    )
    assert r.passed, r.summary()


def test_unknown_fd() -> None:
    r = run_text(SERVER_PREFIX + "   +0 close(9) = 0\n")
    f = r.failure
    assert f is not None and f.line == 9
    assert f.what == "close() on an unknown file descriptor"


def test_sysctl_sets_the_profile_and_unknown_commands_are_reported() -> None:
    r = run_text(
        "0 `sysctl -q net.ipv4.tcp_syn_retries=2 net.ipv4.tcp_frto=2 > /dev/null 2>&1`\n+0 `echo hi`\n" + SERVER_PREFIX
    )
    assert r.passed, r.summary()
    assert any("tcp_frto" in i for i in r.ignored)
    assert any("echo hi" in i for i in r.ignored)
    assert not any("tcp_syn_retries" in i for i in r.ignored)


def test_bad_sysctl_value_fails() -> None:
    r = run_text("0 `sysctl -w net.ipv4.tcp_syn_retries=0`\n" + SERVER_PREFIX)
    f = r.failure
    assert f is not None and f.what == "sysctl value rejected"
    assert "tcp_syn_retries" in f.got


def test_defaults_sh_beside_the_script(tmp_path: Path) -> None:
    (tmp_path / "defaults.sh").write_text(
        '#!/bin/bash\nsysctl -q net.ipv4.tcp_rmem="4096 540000 $((15*1024*1024))"\n'
        "sysctl -q net.ipv4.tcp_fack=0\nip tcp_metrics flush all\n"
    )
    script = tmp_path / "t.pkt"
    script.write_text("`../common/defaults.sh`\n" + SERVER_PREFIX)
    r = run_file(script)
    assert r.passed, r.summary()
    assert any("defaults.sh beside the script: 1 sysctls applied" in n for n in r.notes)
    assert any("tcp_fack" in i and "does not exist any more" in i for i in r.ignored)
    assert any("ip tcp_metrics" in i for i in r.ignored)


def test_shell_arith_and_state_constants() -> None:
    assert _shell_arith("$((1+2*3)) $((10/3))") == "7 3"
    assert _shell_arith("$((__import__))") == "$((__import__))"
    assert state_constant("TCP_FIN_WAIT1") is State.FIN_WAIT_1
    assert state_constant("TCPI_CLOSE_WAIT") is State.CLOSE_WAIT


# --------------------------------------------------------------------------- the command line


def test_cli_pass_and_fail_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(DATA / "server_pass.pkt"), str(DATA / "wrong_ack.pkt")])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[0].startswith("PASS ") and out[0].endswith("server_pass.pkt (" + out[0].split("(")[-1])
    assert out[1].startswith("FAIL ") and "wrong_ack.pkt:6: outbound packet: ack differs" in out[1]
    assert out[-1] == "1 passed, 1 failed"


def test_cli_all_pass_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--profile", "linux", str(DATA / "server_pass.pkt"), str(DATA / "client_pass.pkt")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 passed, 0 failed"


def test_cli_syntax_error_has_file_line_column(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([str(DATA / "syntax_error.pkt")])
    out = capsys.readouterr().out
    assert code == 1
    assert "syntax_error.pkt:4:7: unknown system call 'lisen'" in out
    assert "Traceback" not in out
    assert out.splitlines()[-1] == "0 passed, 1 failed"


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--json", str(DATA / "server_pass.pkt"), str(DATA / "wrong_flag.pkt")])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert (data["passed"], data["failed"]) == (1, 1)
    first, second = data["results"]
    assert first["status"] == "PASS" and first["failure"] is None
    assert second["status"] == "FAIL"
    assert second["failure"]["line"] == 6 and second["failure"]["what"] == "outbound packet: flags differ"


def test_cli_rejects_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--tolerance-ms", "-1", str(DATA / "server_pass.pkt")]) == 2
    assert "--tolerance-ms" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--profile", "windows", str(DATA / "server_pass.pkt")])
    assert info.value.code == 2


def test_cli_verbose_lists_notes(capsys: pytest.CaptureFixture[str]) -> None:
    main(["-v", "--profile", "freebsd", str(DATA / "freebsd_time_wait.pkt")])
    out = capsys.readouterr().out
    assert "    ignored: line 6: sysctl net.inet.tcp.hostcache.purgenow=1" in out


def test_absolute_blocking_call_and_relative_start() -> None:
    # absolute "0...0.2": starts at 0 and must return at 0.2; the next "+.1" is relative to the start (0)
    text = """
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
    0 bind(3, ..., ...) = 0
    0 listen(3, 1) = 0
    0...0.2 accept(3, ..., ...) = 4
  +.1 < S 0:0(0) win 32792 <mss 1000>
   +0 > S. 0:0(0) ack 1 <...>
  +.1 < . 1:1(0) ack 1 win 257
"""
    assert run_text(text).passed
    late = run_text(text.replace("0...0.2 accept", "0...0.1 accept"))
    f = late.failure
    assert f is not None and f.what == "accept() returned at the wrong time"
    assert "0.100 s" in f.expected and "at 0.200 s" in f.got


def test_tcp_info_microseconds_and_header_options() -> None:
    text = "--mss=1000\n" + SERVER_PREFIX + "   +0 %{ assert tcpi_rto >= 200000 and tcpi_rto < 10000000 }%\n"
    r = run_text(text)
    assert r.passed, r.summary()
    assert "header option --mss=1000" in r.ignored
    bad = run_text(SERVER_PREFIX + "   +0 %{ assert tcpi_rto < 1000 }%\n")
    assert bad.failure is not None and bad.failure.what == "assert tcpi_rto < 1000 failed"


def test_every_outbound_line_is_really_checked() -> None:
    # Change the ack number of each ">" line of a passing script in turn: each change must fail at that line.
    lines = (DATA / "server_pass.pkt").read_text().split("\n")
    outbound = [i for i, line in enumerate(lines) if " > " in line and " ack " in line]
    assert len(outbound) >= 5
    for i in outbound:
        words = lines[i].split(" ack ")
        num, rest = words[1].split(" ", 1) if " " in words[1] else (words[1], "")
        mutated = lines[:i] + [f"{words[0]} ack {int(num) + 1} {rest}".rstrip()] + lines[i + 1 :]
        r = run_text("\n".join(mutated), path="server_pass.pkt")
        assert r.failure is not None, lines[i]
        assert (r.failure.line, r.failure.what) == (i + 1, "outbound packet: ack differs")


# --------------------------------------------------------------------------- the suites' grammar, run

GRAMMAR = DATA / "grammar"

#: script -> (profile, why it fails today, or None).  A script fails here only because of an engine
#: behaviour; the reason names it, and the xfail is strict so the engine work turns it green.
GRAMMAR_SCRIPTS: dict[str, tuple[str, str | None]] = {
    "assert_message.pkt": ("linux", None),
    "linger_struct.pkt": ("linux", None),
    "tcp_info_struct.pkt": ("linux", None),
    "tcp_info_freebsd.pkt": ("freebsd", None),
    "errno_refused.pkt": ("linux", None),
    "refused_keeps_socket.pkt": ("linux", None),
    "poll_fcntl.pkt": ("linux", None),
    "sockaddr_ports.pkt": ("linux", None),
    "vector_io.pkt": ("linux", None),
    "times_and_headers.pkt": ("linux", None),
    "set_sysctls.pkt": ("linux", None),
    "simultaneous_open.pkt": ("linux", None),
}


def test_every_grammar_script_is_listed() -> None:
    assert {p.name for p in GRAMMAR.glob("*.pkt")} == set(GRAMMAR_SCRIPTS)


def _grammar_params() -> list[object]:
    out: list[object] = []
    for name, (profile, why) in sorted(GRAMMAR_SCRIPTS.items()):
        marks = [pytest.mark.xfail(strict=True, reason=why)] if why else []
        out.append(pytest.param(name, profile, id=name, marks=marks))
    return out


@pytest.mark.parametrize(("name", "profile"), _grammar_params())
def test_grammar_scripts_run(name: str, profile: str) -> None:
    r = run_file(GRAMMAR / name, profile=profile)
    assert r.passed, r.summary()
    assert r.checks >= 5


def test_grammar_scripts_skip_what_is_not_modelled_by_name() -> None:
    r = run_file(GRAMMAR / "tcp_info_struct.pkt")
    assert r.passed
    assert any("tcpi_ca_state=TCP_CA_Open skipped: tcpi_ca_state is not modelled" in s for s in r.skipped)
    assert any("'assert tcpi_unacked == 0, tcpi_unacked' skipped: tcpi_unacked" in s for s in r.skipped)
    r = run_file(GRAMMAR / "times_and_headers.pkt")
    assert any("IP ECN mark [ect0] not modelled" in s for s in r.skipped)
    assert any("ipv4-mapped-ipv6" in n for n in r.notes)
    assert not any("ip_version" in i for i in r.ignored)


def test_each_grammar_check_can_fail() -> None:
    """Change one expected value in each construct: the run must fail at that line, for that reason."""
    cases = [
        ("assert_message.pkt", "tcpi_snd_cwnd == 11", "tcpi_snd_cwnd == 12", "assert tcpi_snd_cwnd == 12 failed"),
        ("assert_message.pkt", "assert tcpi_backoff == 0", "assert tcpi_backoff == 1", "assert tcpi_backoff == 1"),
        ("assert_message.pkt", "250000 <= rto", "310000 <= rto", "assert 310000 <= rto_after_handshake"),
        ("linger_struct.pkt", "{l_onoff=1, l_linger=0}, [8]", "{l_onoff=0, l_linger=0}, [8]", "SO_LINGER differs"),
        ("linger_struct.pkt", "> R. 1:1(0) ack 1", "> F. 1:1(0) ack 1", "flags differ"),
        ("tcp_info_struct.pkt", "tcpi_snd_mss=1200", "tcpi_snd_mss=1460", "TCP_INFO tcpi_snd_mss differs"),
        ("errno_refused.pkt", "ECONNREFUSED (Connection refused)", "ETIMEDOUT (Connection timed out)", "wrong result"),
        ("poll_fcntl.pkt", "revents=POLLOUT}], 1, 1000) = 1", "revents=POLLIN}], 1, 1000) = 1", "revents differ"),
        ("vector_io.pkt", "msg_iov(1)=[{..., 1000}]", "msg_iov(1)=[{..., 10}]", "recvmsg() returned the wrong result"),
        ("poll_fcntl.pkt", "+0...0.05 poll", "+0...0.04 poll", "poll() returned at the wrong time"),
        ("poll_fcntl.pkt", "= 0x802 (flags", "= 0x2 (flags", "fcntl() returned the wrong result"),
        ("vector_io.pkt", "{..., 300}, {..., 200}], 2) = 500", "{..., 300}, {..., 100}], 2) = 500", "wrong result"),
        ("times_and_headers.pkt", "+.9~+1.1 > S.", "+.5~+.7 > S.", "outbound packet"),
        ("set_sysctls.pkt", "tcp_timestamps=0", "tcp_timestamps=1", None),
    ]
    for name, old, new, what in cases:
        text = (GRAMMAR / name).read_text()
        assert old in text, (name, old)
        profile = GRAMMAR_SCRIPTS[name][0]
        r = run_text(text.replace(old, new, 1), profile=profile, path=name)
        assert not r.passed, (name, new)
        if what is not None:
            assert r.failure is not None and what in r.failure.what + r.failure.expected, (name, r.summary())
            lines = text.splitlines()
            line = next(i for i, t in enumerate(lines, 1) if old in t)
            while "assert" not in old and not re.match(r"\s*[+*.\d`]", lines[line - 1]):  # a call's first line
                line -= 1
            assert r.failure.line == line, (name, r.summary())


def test_assert_failure_shows_the_message_and_values() -> None:
    r = run_text(SERVER_PREFIX + "   +0 %{ assert tcpi_state == TCP_CLOSE_WAIT, tcpi_state }%\n")
    f = r.failure
    assert f is not None and f.line == 9
    assert f.what == "assert tcpi_state == TCP_CLOSE_WAIT failed"
    assert f.expected == "tcpi_state == CLOSE_WAIT"
    assert f.got == "tcpi_state = ESTABLISHED; message: 1 (ESTABLISHED)"
    r = run_text(SERVER_PREFIX + '   +0 %{ x = tcpi_snd_cwnd * 2\nassert x == 3, f"x is {x}" }%\n')
    assert r.failure is not None and r.failure.got == "x = 20; message: x is 20"


def test_code_errors_and_print() -> None:
    r = run_text(SERVER_PREFIX + "   +0 %{ assert tcpi_snd_cwnd // (tcpi_retransmits) == 1 }%\n")
    f = r.failure
    assert f is not None and f.what == "error in %{ }% code" and "by zero" in f.got
    r = run_text(SERVER_PREFIX + "   +0 %{ assert 2 ** 100000 > 1 }%\n")
    assert r.failure is not None and "out of range" in r.failure.got
    r = run_text(SERVER_PREFIX + "   +0 %{ assert 'a' * 10**9 }%\n")
    assert r.failure is not None and "repeating a sequence" in r.failure.got
    r = run_text(SERVER_PREFIX + "   +0 %{ print('cwnd', tcpi_snd_cwnd) }%\n")
    assert r.passed and "line 9: print: cwnd 10" in r.notes


def test_tcp_info_needs_an_open_socket() -> None:
    r = run_text(SERVER_PREFIX + "   +0 close(4) = 0\n   +0 close(3) = 0\n   +0 %{ assert tcpi_state == TCP_CLOSE }%\n")
    f = r.failure
    assert f is not None and f.line == 11 and f.what == "tcp_info needs a socket"


def test_tcp_info_fields_follow_each_os() -> None:
    # Linux reports cwnd in segments, FreeBSD in bytes (tcp_get_info / tcp_fill_info)
    linux = run_text(SERVER_PREFIX + "   +0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%\n", profile="linux")
    assert linux.passed, linux.summary()
    text = SERVER_PREFIX + "   +0 %{ assert tcpi_snd_cwnd > 1000 and tcpi_rcv_mss == 1000, tcpi_snd_cwnd }%\n"
    freebsd = run_text(text.replace("> S. 0:0(0) ack 1 <...>", "> S. 0:0(0) ack 1 <...>"), profile="freebsd")
    assert freebsd.passed, freebsd.summary()
    # a Linux-only field under the freebsd profile is skipped, named, never compared
    r = run_text(SERVER_PREFIX + "   +0 %{ assert tcpi_advmss == 1 }%\n   +0 close(4) = 0\n", profile="freebsd")
    assert r.passed and any("tcpi_advmss is not in FreeBSD's tcp_info" in s for s in r.skipped)


def test_sockaddr_port_is_used() -> None:
    text = (GRAMMAR / "sockaddr_ports.pkt").read_text()
    for port in (9090, 9091):
        records: list[TraceRecord] = []
        r = run_text(text.replace("htons(9090)", f"htons({port})"), path="sockaddr_ports.pkt", tracer=records.append)
        assert r.passed, r.summary()
        sent = [rec.segment for rec in records if rec.kind is Kind.SEND and rec.segment is not None]
        assert sent[0].syn and sent[0].has_ack and sent[0].src_port == port  # the SYN-ACK leaves the bound port
        assert sent[-1].dst_port == 8080  # the second socket connected to htons(8080)
    # the address of the model's host is 192.168.0.1: another one is named as not modelled
    other = run_text(text.replace('inet_addr("192.168.0.1")', 'inet_addr("10.0.0.1")'), path="x.pkt")
    assert other.passed and any("address 10.0.0.1 not modelled" in s for s in other.skipped)


def test_byte_counts_and_descriptors_must_be_numbers() -> None:
    for line, col, what in [
        ("   +0 read(4, ..., nan) = 0\n", 20, "argument 3 of read() must be a byte count (a whole number), got nan"),
        ("   +0 listen(3, lots) = 0\n", 17, "argument 2 of listen() must be a backlog (a whole number), got lots"),
        ("   +0 close(fd) = 0\n", 13, "argument 1 of close() must be a file descriptor (a whole number), got fd"),
        ("   +0 write(4, ..., -5) = 0\n", 21, "argument 3 of write() must be a byte count >= 0, got -5"),
        ("   +0 read(4, ...) = 0\n", 7, "read() takes 3 arguments, got 2"),
    ]:
        with pytest.raises(ScriptSyntaxError) as info:
            run_text(SERVER_PREFIX + line, path="t.pkt")
        assert (info.value.line, info.value.column, info.value.reason) == (9, col, what)


# --------------------------------------------------------------------------- refusals (issue 13)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n   \n",
        "// only a comment\n/* and a block\n comment */\n",
        "--tolerance_usecs=1000\n`sysctl -w net.ipv4.tcp_syn_retries=3`\n",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n"
        "+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0\n+0 < S 0:0(0) win 100\n",
        "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0\n+0 %{ x = 1 }%\n",
    ],
)
def test_a_script_that_checks_nothing_is_refused(text: str) -> None:
    r = run_text(text, path="t.pkt")
    assert not r.passed and r.error is not None
    assert re.match(r"^t\.pkt:\d+:\d+: the script checks nothing", r.error), r.error
    assert r.summary().startswith("FAIL t.pkt:")


def test_a_script_whose_checks_are_all_skipped_is_refused() -> None:
    r = run_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 %{ assert tcpi_sacked == 0 }%\n", path="t.pkt")
    assert not r.passed and r.error is not None
    assert r.error.startswith("t.pkt:1:1: no check was made: every check of the script was skipped (1 skipped")


def test_cli_refuses_empty_and_comment_only_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty, comment = tmp_path / "empty.pkt", tmp_path / "comment.pkt"
    empty.write_text("")
    comment.write_text("// nothing here\n")
    assert main([str(empty), str(comment)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"FAIL {empty}:1:1: the script checks nothing")
    assert out[1].startswith(f"FAIL {comment}:1:1: the script checks nothing")
    assert out[-1] == "0 passed, 2 failed"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e9", "ten", "1e400"])
def test_cli_refuses_bad_tolerance(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([f"--tolerance-ms={value}", str(DATA / "server_pass.pkt")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"tcpkit pkt: --tolerance-ms = {value!r} is not allowed")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0, 1e12, "5", True])
def test_api_refuses_bad_tolerance(value: object) -> None:
    with pytest.raises(ParameterError) as info:
        run_text(SERVER_PREFIX, tolerance_ms=value)  # type: ignore[arg-type]
    assert "tolerance_ms" in str(info.value)
    with pytest.raises(ParameterError):
        run_file(DATA / "server_pass.pkt", tolerance_ms=value)  # type: ignore[arg-type]


def test_ipv6_is_refused_with_the_allowed_versions() -> None:
    r = run_text("--ip_version=ipv6\n" + SERVER_PREFIX, path="t.pkt")
    assert r.error is not None and r.error.startswith("t.pkt:1:1: --ip_version=ipv6 is not modelled")
    assert "allowed: ipv4, ipv4-mapped-ipv6" in r.error


def test_cli_reports_a_missing_direction(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "nodir.pkt"
    script.write_text(SERVER_PREFIX.replace("+.1 < S 0:0(0)", "+.1 S 0:0(0)"))
    assert main([str(script)]) == 1
    out = capsys.readouterr().out
    assert f"{script}:5:7: missing < or > before the packet 'S ...'" in out
    assert "unknown system call" not in out


def test_notes_are_bounded_and_the_run_is_linear() -> None:
    """A long script whose data ACKs no line takes: notes stay bounded (the old runner rescanned them all)."""
    lines = [SERVER_PREFIX]
    for i in range(400):
        lines.append(f"   +0 < P. {1 + 10 * i}:{11 + 10 * i}(10) ack 1 win 257\n   +0 read(4, ..., 10) = 10\n")
    r = run_text("".join(lines))
    assert r.passed, r.summary()
    assert len(r.notes) == MAX_NOTES + 1
    assert re.fullmatch(r"\.\.\. and \d+ more notes \(at most 100 are kept\)", r.notes[-1])


# --------------------------------------------------------------------------- property: the runner boundary

_SEEDS = [SERVER_PREFIX + "   +0 %{ assert tcpi_state == TCP_ESTABLISHED, tcpi_state }%\n"] + sorted(
    p.read_text() for p in GRAMMAR.glob("*.pkt")
)
_PIECES = ["nan", "-1", "99999999999", "...", "{", "}", "[", "]", "POLLIN", "0", ",", "(", ")", " ", "\n", "+1"]


@st.composite
def _mutated_runs(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 12)))
        text = text[:i] + draw(st.sampled_from(_PIECES)) + text[j:]
    return text


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_runs(), st.sampled_from(["linux", "freebsd"]))
def test_mutated_scripts_run_to_a_verdict(text: str, profile: str) -> None:
    try:
        r = run_text(text, profile=profile, path="t.pkt")
    except ScriptSyntaxError:
        return
    assert r.passed or r.failure is not None or r.error is not None
    if r.error is not None:
        assert re.match(r"^t\.pkt:\d+:\d+: ", r.error), r.error
        assert "internal error" not in r.error, r.error
    assert r.summary().count("\n") == 0


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400"])
def test_sysctl_nan_and_inf_are_refused(value: str) -> None:
    r = run_text(f"0 `sysctl -w net.ipv4.tcp_fin_timeout={value}`\n" + SERVER_PREFIX)
    f = r.failure
    assert f is not None and (f.line, f.what) == (1, "sysctl value rejected")
    assert "tcp_fin_timeout" in f.got and "expected a number from 1 to 3600" in f.got
