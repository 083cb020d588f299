"""Tests of the packetdrill runner and ``tcpkit pkt`` (tcpkit/packetdrill.py) on small scripts of our own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcpkit.cli.pkt import main
from tcpkit.drivers.packetdrill import _shell_arith, run_file, run_text, state_constant
from tcpkit.engine.states import State

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
    assert f.expected == "-1 ECONNRESET" and f.got.startswith("-1 EPIPE")


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
    r = run_text("0 `sysctl -w net.ipv4.tcp_syn_retries=0`\n")
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
