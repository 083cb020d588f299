"""The ``tcpkit`` dispatcher's contract: one line and exit code 2 for bad input, one "internal error" line
(exit code 70) for a bug with the traceback only under ``--debug``, 130 for Ctrl-C."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

import tcpkit.cli as cli
from tcpkit.cli.common import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_USAGE, Parser, UsageError, count, number, one_line
from tcpkit.engine.errors import ParameterError, SegmentSyntaxError

ROOT = Path(__file__).resolve().parent.parent


def _fake_command(monkeypatch: pytest.MonkeyPatch, body: object) -> None:
    mod = types.ModuleType("tcpkit_test_fake_command")
    mod.main = body  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tcpkit_test_fake_command", mod)
    monkeypatch.setitem(cli.SUBCOMMANDS, "fake", ("tcpkit_test_fake_command", "a command for the tests"))


def test_a_bug_is_one_line_and_exit_70_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(argv: list[str]) -> int:
        return {}["missing"]  # type: ignore[no-any-return]

    _fake_command(monkeypatch, boom)
    monkeypatch.delenv("TCPKIT_DEBUG", raising=False)
    assert cli.main(["fake"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("tcpkit fake: internal error, please report it") and "KeyError" in err and "--debug" in err


def test_debug_shows_the_traceback(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def boom(argv: list[str]) -> int:
        raise RuntimeError("the bug")

    _fake_command(monkeypatch, boom)
    assert cli.main(["--debug", "fake"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "RuntimeError: the bug" in err
    monkeypatch.setenv("TCPKIT_DEBUG", "1")
    assert cli.main(["fake"]) == EXIT_INTERNAL
    assert "Traceback" in capsys.readouterr().err


def test_a_tcpkit_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def bad(argv: list[str]) -> int:
        raise SegmentSyntaxError("S. 1:1(0) ack", 12, "ack needs a number")

    _fake_command(monkeypatch, bad)
    assert cli.main(["fake"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == "tcpkit fake: error: column 12: ack needs a number (in 'S. 1:1(0) ack')\n"


def test_ctrl_c_is_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def stop(argv: list[str]) -> int:
        raise KeyboardInterrupt

    _fake_command(monkeypatch, stop)
    assert cli.main(["fake"]) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "tcpkit fake: interrupted\n"


def test_every_subcommands_usage_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # pkt, live and course build plain argparse parsers; the dispatcher still holds them to one line
    for argv in (["pkt", "--bogus", "x"], ["live", "--bogus"], ["pcap", "--bogus"], ["scenario", "run"]):
        assert cli.main(argv) == EXIT_USAGE, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "usage:" not in err and err.startswith(f"tcpkit {argv[0]}: error:"), err
    import argparse

    assert argparse.ArgumentParser.error is not cli._one_line_error  # put back afterwards


def test_help_still_prints_usage_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["pcap", "import", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--capture-at" in out and "--sockopt" in out and "--set" in out
    assert cli.main([]) == EXIT_USAGE and "Exit codes" in capsys.readouterr().out


def test_argument_types_refuse_nan_and_negative_counts() -> None:
    p = Parser(prog="tcpkit t")
    p.add_argument("--x", type=number("--x", 0, 10))
    p.add_argument("--n", type=count("--n"))
    for argv, word in (
        (["--x", "nan"], "--x"),
        (["--x", "inf"], "--x"),
        (["--x", "11"], "--x"),
        (["--n", "-5"], "--n"),
    ):
        with pytest.raises(UsageError, match=word):
            p.parse_args(argv)
    assert p.parse_args(["--x", "1.5", "--n", "3"]).x == 1.5


def test_one_line_folds_and_cuts() -> None:
    assert one_line(ParameterError("x", "y" * 1000, "z")).endswith("...")
    assert len(one_line(ParameterError("x", "y" * 1000, "z"))) == 400
    assert one_line(ValueError("")) == "ValueError"


def test_python_dash_m_tcpkit_keeps_the_contract(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"records": 5}', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "tcpkit", "pcap", "export", str(bad), str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "not one of the inputs" in proc.stderr
    assert bad.read_text(encoding="utf-8") == '{"records": 5}'
