"""Bad input at the boundary: a tcpkit error naming the culprit, one line and exit code 2 on the command line,
never a traceback, and never a changed or lost file.

The cases are grouped by class (``CLASSES``): data loss, tracebacks (broken files), types, bounds, messages
and budgets.  Each CLI case runs ``tcpkit ...`` in a fresh folder of real inputs (a trace, a capture, a setup
file, links to them) and compares every file's bytes before and after.  The property tests at the end let
hypothesis generate malformed trace documents, pcap bytes, command lines and API argument values.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpkit.capture.pcap import annotate, export_pcap, export_pcap_bytes, read_capture
from tcpkit.capture.replay import replay
from tcpkit.capture.replay_setup import make_setup
from tcpkit.cli import main as tcpkit_main
from tcpkit.drivers.apps import Client, Server
from tcpkit.drivers.scenarios import run_scenario
from tcpkit.drivers.sim import Network, Simulator
from tcpkit.engine.errors import BudgetError, KnobError, ParameterError, TcpkitError, TraceFormatError
from tcpkit.engine.profiles import get_profile
from tcpkit.engine.trace import Trace
from tcpkit.files import same_file, write_output

CAPTURES = Path(__file__).resolve().parent.parent / "tcpkit" / "data" / "captures"


# ----------------------------------------------------------------------------- a folder of real inputs


def _inputs(d: Path) -> None:
    trace = run_scenario("open_close_client_first", seed=1)
    (d / "T.json").write_text(trace.to_json(), encoding="utf-8")
    (d / "cap.pcap").write_bytes((CAPTURES / "half_close.pcap").read_bytes())
    (d / "setup.toml").write_text("delay = 0\n[client.sysctl]\ntcp_fin_timeout = 5\n", encoding="utf-8")
    os.symlink(d / "T.json", d / "link.json")
    os.link(d / "cap.pcap", d / "hard.pcap")
    (d / "sub").mkdir()
    doc = json.loads(trace.to_json())

    send = next(i for i, r in enumerate(doc["records"]) if r["kind"] == "send")

    def broken(name: str, change: Callable[[dict[str, Any]], Any]) -> None:
        copy = json.loads(json.dumps(doc))
        change(copy)
        (d / name).write_text(json.dumps(copy), encoding="utf-8")

    def first(c: dict[str, Any]) -> dict[str, Any]:
        r: dict[str, Any] = c["records"][send]
        return r

    broken("records5.json", lambda c: c.__setitem__("records", 5))
    broken("segstr.json", lambda c: first(c).__setitem__("seg", "S 0:0(0)"))
    broken("metalist.json", lambda c: c.__setitem__("meta", [1, 2]))
    broken("hugelen.json", lambda c: (first(c)["seg"].__setitem__("len", 2**32 - 1), first(c)["seg"].pop("payload", 0)))
    broken("hugewin.json", lambda c: first(c)["seg"].__setitem__("win", 2**20))
    broken("badaddr.json", lambda c: first(c).__setitem__("conn", ["client", 1, "server", 2]))
    broken("negtime.json", lambda c: first(c).__setitem__("t", -5.0))
    broken("nan.json", lambda c: first(c).__setitem__("t", 12345.678))
    broken("version.json", lambda c: c.__setitem__("version", 99))
    broken(
        "v1values.json", lambda c: c.update(version=1, records=[{"t": 0, "host": "h", "kind": "queue", "values": 5}])
    )
    (d / "nan.json").write_text((d / "nan.json").read_text(encoding="utf-8").replace("12345.678", "NaN"), "utf-8")
    (d / "utf16.json").write_bytes(json.dumps(doc).encode("utf-16"))
    (d / "deep.json").write_text("[" * 200_000 + "]" * 200_000, encoding="utf-8")
    (d / "empty.json").write_bytes(b"")
    (d / "binary.json").write_bytes(bytes(range(256)))
    pcap = (CAPTURES / "half_close.pcap").read_bytes()
    (d / "short.pcap").write_bytes(pcap[:10])
    (d / "text.pcap").write_text("hello, world", encoding="utf-8")
    (d / "three.pcap").write_bytes(pcap[:3])
    (d / "epb.pcapng").write_bytes(_pcapng_epb_without_interface())
    (d / "badtoml.toml").write_text("delay = = 1", encoding="utf-8")
    (d / "unknownkey.toml").write_text("speed = 3", encoding="utf-8")
    (d / "badknob.toml").write_text("[sysctl]\ntcp_fin_timeout = 'soon'", encoding="utf-8")


def _pcapng_epb_without_interface() -> bytes:
    shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    shb = struct.pack("<II", 0x0A0D0D0A, 12 + len(shb_body)) + shb_body + struct.pack("<I", 12 + len(shb_body))
    pkt = bytes(40)
    epb_body = struct.pack("<IIIII", 3, 0, 0, len(pkt), len(pkt)) + pkt
    epb = struct.pack("<II", 6, 12 + len(epb_body)) + epb_body + struct.pack("<I", 12 + len(epb_body))
    return shb + epb


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file() and not p.is_symlink()}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    _inputs(tmp_path)
    return tmp_path


def _run(d: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    old = os.getcwd()
    os.chdir(d)
    try:
        rc = tcpkit_main(argv)
    finally:
        os.chdir(old)
    out, err = capsys.readouterr()
    return rc, out, err


# ----------------------------------------------------------------------------- the command line corpus


@dataclass(frozen=True)
class CliCase:
    cls: str
    argv: tuple[str, ...]
    says: str  # a piece of the one error line


CLI_CASES: list[CliCase] = [
    # data loss: an output that is an input, also through links; nothing may change
    CliCase("data loss", ("pcap", "export", "T.json", "T.json"), "is the same path"),
    CliCase("data loss", ("pcap", "export", "T.json", "./T.json"), "T.json"),
    CliCase("data loss", ("pcap", "export", "T.json", "link.json"), "through another path or link"),
    CliCase("data loss", ("pcap", "export", "link.json", "T.json"), "through another path or link"),
    CliCase("data loss", ("pcap", "export", "T.json", "sub/../T.json"), "T.json"),
    CliCase("data loss", ("pcap", "import", "cap.pcap", "--json", "cap.pcap"), "is the same path"),
    CliCase("data loss", ("pcap", "import", "cap.pcap", "--json", "hard.pcap"), "through another path or link"),
    CliCase(
        "data loss",
        ("pcap", "import", "cap.pcap", "--replay", "--setup", "setup.toml", "--json", "setup.toml"),
        "setup.toml",
    ),
    CliCase("data loss", ("pcap", "export", "T.json", "sub"), "not a folder"),
    CliCase("data loss", ("pcap", "export", "T.json", "missing/x.pcap"), "does not exist"),
    CliCase("data loss", ("scenario", "run", "abort_rst", "--out", "sub"), "not a folder"),
    CliCase("data loss", ("pcap", "import", "cap.pcap", "--json", "sub"), "not a folder"),
    CliCase("data loss", ("pcap", "export", "records5.json", "out.pcap"), "records"),  # no half-written out.pcap
    # tracebacks: files broken in ordinary ways
    CliCase("tracebacks", ("pcap", "export", "records5.json", "o.pcap"), "records: expected a list"),
    CliCase("tracebacks", ("pcap", "export", "segstr.json", "o.pcap"), "seg: expected an object"),
    CliCase("tracebacks", ("pcap", "export", "metalist.json", "o.pcap"), "meta: expected an object"),
    CliCase("tracebacks", ("pcap", "export", "utf16.json", "o.pcap"), "UTF-16"),
    CliCase("tracebacks", ("pcap", "export", "deep.json", "o.pcap"), "nested deeper"),
    CliCase("tracebacks", ("pcap", "export", "nan.json", "o.pcap"), "NaN"),
    CliCase("tracebacks", ("pcap", "export", "hugelen.json", "o.pcap"), "payload length"),
    CliCase("tracebacks", ("pcap", "export", "hugewin.json", "o.pcap"), "win"),
    CliCase("tracebacks", ("pcap", "export", "badaddr.json", "o.pcap"), "not an IPv4 or IPv6 address"),
    CliCase("tracebacks", ("pcap", "export", "negtime.json", "o.pcap"), "start"),
    CliCase("tracebacks", ("pcap", "export", "version.json", "o.pcap"), "version 99"),
    CliCase("tracebacks", ("pcap", "export", "v1values.json", "o.pcap"), "values"),
    CliCase("tracebacks", ("pcap", "export", "empty.json", "o.pcap"), "not JSON"),
    CliCase("tracebacks", ("pcap", "export", "binary.json", "o.pcap"), "not UTF-8"),
    CliCase("tracebacks", ("pcap", "export", "nothere.json", "o.pcap"), "cannot read trace"),
    CliCase("tracebacks", ("pcap", "export", "sub", "o.pcap"), "cannot read trace"),
    CliCase("tracebacks", ("pcap", "import", "short.pcap"), "short.pcap: the pcap file header is cut short"),
    CliCase("tracebacks", ("pcap", "import", "three.pcap"), "only 3 bytes"),
    CliCase("tracebacks", ("pcap", "import", "text.pcap"), "not a pcap or pcapng capture"),
    CliCase("tracebacks", ("pcap", "import", "sub"), "cannot read capture"),
    CliCase("tracebacks", ("pcap", "import", "T.json", "--replay"), "not a pcap"),
    CliCase("tracebacks", ("pcap", "import", "cap.pcap", "--replay", "--setup", "badtoml.toml"), "not TOML"),
    CliCase("tracebacks", ("pcap", "import", "cap.pcap", "--replay", "--setup", "unknownkey.toml"), "unknown setting"),
    CliCase("tracebacks", ("pcap", "import", "cap.pcap", "--replay", "--setup", "badknob.toml"), "tcp_fin_timeout"),
    CliCase("tracebacks", ("pcap", "import", "cap.pcap", "--replay", "--setup", "nothere.toml"), "cannot read"),
    # types and bad words on the command line
    CliCase("types", ("pcap", "import", "cap.pcap", "--replay", "--set", "tcp_fin_timeout=soon"), "soon"),
    CliCase("types", ("pcap", "import", "cap.pcap", "--replay", "--set", "tcp_fin_timeout"), "NAME=VALUE"),
    CliCase("types", ("pcap", "import", "cap.pcap", "--replay", "--set", "moon:tcp_fin_timeout=5"), "SIDE"),
    CliCase("types", ("pcap", "import", "cap.pcap", "--replay", "--sockopt", "SO_FOO=1"), "SO_FOO"),
    CliCase("types", ("pcap", "import", "cap.pcap", "--replay", "--sockopt", "client:SO_KEEPALIVE=yes"), "yes"),
    CliCase("types", ("pcap", "import", "cap.pcap", "--replay", "--profile", "windows"), "windows"),
    CliCase("types", ("pcap", "import", "cap.pcap", "--replay", "--capture-at", "moon"), "moon"),
    CliCase("types", ("pcap", "import", "cap.pcap", "--delay", "1"), "belongs to --replay"),
    CliCase("types", ("pcap", "frobnicate"), "invalid choice"),
    CliCase("types", ("pcap",), "required"),
    CliCase("types", ("scenario", "run", "nope"), "nope"),
    CliCase("types", ("scenario", "run", "abort_rst", "--seed", "x"), "--seed"),
    CliCase("types", ("scenario", "run", "abort_rst", "--param", "nothing"), "NAME=VALUE"),
    CliCase("types", ("scenario", "run", "syn_flood", "--param", "flood_rate=fast"), "flood_rate"),
    CliCase("types", ("profile", "windows"), "windows"),
    CliCase("types", ("profile", "linux", "--set", "tcp_syn_retries=many"), "many"),
    CliCase("types", ("profile", "linux", "--only", "no_such_knob"), "no_such_knob"),
    CliCase("types", ("no-such-command",), "unknown command"),
    CliCase("types", ("pkt", "--no-such-flag", "x.pkt"), "unrecognized arguments"),
    # bounds: NaN, infinities, negative counts, out-of-range numbers
    CliCase("bounds", ("pcap", "export", "T.json", "o.pcap", "--start", "nan"), "--start"),
    CliCase("bounds", ("pcap", "export", "T.json", "o.pcap", "--start", "inf"), "--start"),
    CliCase("bounds", ("pcap", "export", "T.json", "o.pcap", "--start", "-1"), "--start"),
    CliCase("bounds", ("pcap", "export", "T.json", "o.pcap", "--start", "1e20"), "--start"),
    CliCase("bounds", ("pcap", "import", "cap.pcap", "--replay", "--delay", "nan"), "--delay"),
    CliCase("bounds", ("pcap", "import", "cap.pcap", "--replay", "--delay", "-0.5"), "--delay"),
    CliCase("bounds", ("pcap", "import", "cap.pcap", "--replay", "--tolerance-ms", "-1"), "--tolerance-ms"),
    CliCase("bounds", ("pcap", "import", "cap.pcap", "--replay", "--timer-slack", "inf"), "--timer-slack"),
    CliCase("bounds", ("pcap", "import", "cap.pcap", "--replay", "--backlog", "-1"), "--backlog"),
    CliCase("bounds", ("pcap", "import", "cap.pcap", "--replay", "--set", "tcp_syn_retries=0"), "tcp_syn_retries"),
    CliCase("bounds", ("pcap", "import", "cap.pcap", "--replay", "--set", "tcp_fin_timeout=nan"), "nan"),
    CliCase("bounds", ("pcap", "import", "cap.pcap", "--replay", "--sockopt", "TCP_KEEPCNT=1000"), "TCP_KEEPCNT"),
    CliCase("bounds", ("scenario", "run", "abort_rst", "--limit", "-5"), "--limit"),
    CliCase("bounds", ("scenario", "run", "abort_rst", "--seed", "99999999999999999999999"), "--seed"),
    CliCase("bounds", ("scenario", "run", "syn_flood", "--param", "flood_rate=-3"), "flood_rate"),
    CliCase("bounds", ("scenario", "run", "keepalive_dead_peer", "--param", "keepidle=nan"), "keepidle"),
    CliCase("bounds", ("profile", "linux", "--set", "tcp_syn_retries=1000"), "tcp_syn_retries"),
    # messages that name the real culprit
    CliCase("messages", ("profile", "linux", "--set", "tcp_fin_timout=5"), "'tcp_fin_timout' = '5'"),
    CliCase("messages", ("pcap", "import", "epb.pcapng"), "interface 3"),
]


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: f"{c.cls}: {' '.join(c.argv)}"[:90])
def test_the_command_line_refuses_bad_input_in_one_line_and_changes_no_file(
    case: CliCase, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(folder)
    rc, _out, err = _run(folder, list(case.argv), capsys)
    if case.cls == "messages" and rc == 0:  # an import that skips a frame says why in its report
        assert case.says in _out
    else:
        assert rc == 2, err
        assert err.count("\n") == 1 and err.startswith("tcpkit"), err
        assert case.says in err, err
    assert "Traceback" not in err and "internal error" not in err
    after = _snapshot(folder)
    assert {k: v for k, v in after.items() if k in before} == before  # no input changed
    assert set(after) == set(before)  # nothing half-written, no temporary file left


def test_a_refused_output_leaves_the_old_file_and_a_good_one_replaces_it(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "old.pcap").write_bytes(b"old bytes")
    rc, _out, _err = _run(folder, ["pcap", "export", "records5.json", "old.pcap"], capsys)
    assert rc == 2 and (folder / "old.pcap").read_bytes() == b"old bytes"
    rc, out, _err = _run(folder, ["pcap", "export", "T.json", "old.pcap"], capsys)
    assert rc == 0 and "wrote" in out
    assert read_capture(folder / "old.pcap").report.tcp > 0
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


def test_writing_through_a_symlink_writes_its_target(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.symlink(folder / "target.pcap", folder / "out-link.pcap")
    rc, _out, err = _run(folder, ["pcap", "export", "T.json", "out-link.pcap"], capsys)
    assert rc == 0, err
    assert (folder / "out-link.pcap").is_symlink() and read_capture(folder / "target.pcap").report.tcp == 8


# ----------------------------------------------------------------------------- the file helper itself


def test_write_output_failure_leaves_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "keep.txt"
    out.write_text("precious", encoding="utf-8")
    os.chmod(out, 0o640)

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(ParameterError, match=r"No space left on device\); nothing was changed"):
        write_output(out, "new")
    monkeypatch.undo()
    assert out.read_text(encoding="utf-8") == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]  # the temporary file is gone
    write_output(out, "new")
    assert out.read_text(encoding="utf-8") == "new" and (out.stat().st_mode & 0o777) == 0o640


def test_same_file_sees_every_kind_of_link(tmp_path: Path) -> None:
    f = tmp_path / "f"
    f.write_text("x", encoding="utf-8")
    os.link(f, tmp_path / "hard")
    os.symlink(f, tmp_path / "soft")
    os.symlink(tmp_path / "soft", tmp_path / "soft2")
    for other in ("hard", "soft", "soft2", "./f", "sub/../f"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        assert same_file(f, tmp_path / other), other
    assert not same_file(f, tmp_path / "sub")


def test_the_api_export_never_writes_over_its_input(tmp_path: Path) -> None:
    t = tmp_path / "t.json"
    t.write_text(run_scenario("abort_rst", seed=1).to_json(), encoding="utf-8")
    before = t.read_bytes()
    with pytest.raises(ParameterError, match="not one of the inputs"):
        export_pcap(Trace.from_json(before), t, inputs=[t])
    assert t.read_bytes() == before
    with pytest.raises(ParameterError, match="not a folder"):
        export_pcap(Trace(), tmp_path)


# ----------------------------------------------------------------------------- the API corpus


@dataclass(frozen=True)
class ApiCase:
    cls: str
    name: str
    call: Callable[[], Any]
    error: type[TcpkitError]
    says: str


def _net2() -> tuple[Network, Any, Any]:
    net = Network(seed=1)
    a = net.add_host("a", "192.0.2.1")
    b = net.add_host("b", "192.0.2.2")
    return net, a, b


def _sock() -> Any:
    return _net2()[1].socket()


def _keepalive_forever() -> None:
    net, a, b = _net2()
    Server(b, 80, close="never").start()
    Client(a, "192.0.2.2", 80, close="never", sockopts={"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": 1}).start()
    net.max_events = 5_000
    net.run(until=1e12)


def _many_hosts() -> None:
    net = Network(max_hosts=50)
    for i in range(51):
        net.add_host(f"h{i}", f"10.0.0.{i + 1}")


API_CASES: list[ApiCase] = [
    # types: the first calls a student types
    ApiCase("types", "Network(seed='abc')", lambda: Network(seed="abc"), ParameterError, "seed"),  # type: ignore[arg-type]
    ApiCase("types", "Network(seed=1.5)", lambda: Network(seed=1.5), ParameterError, "seed"),  # type: ignore[arg-type]
    ApiCase("types", "Network(seed=True)", lambda: Network(seed=True), ParameterError, "seed"),
    ApiCase("types", "Network(delay='1')", lambda: Network(delay="1"), ParameterError, "delay"),  # type: ignore[arg-type]
    ApiCase("types", "Network(meta=[1])", lambda: Network(meta=[1]), ParameterError, "meta"),  # type: ignore[arg-type]
    ApiCase("types", "add_host(5, addr)", lambda: Network().add_host(5, "192.0.2.1"), ParameterError, "host name"),  # type: ignore[arg-type]
    ApiCase("types", "add_host('', addr)", lambda: Network().add_host("", "192.0.2.1"), ParameterError, "host name"),
    ApiCase(
        "types", "add_host(name, '999.1.1.1')", lambda: Network().add_host("c", "999.1.1.1"), ParameterError, "999"
    ),
    ApiCase("types", "add_host(name, 5)", lambda: Network().add_host("c", 5), ParameterError, "addr"),  # type: ignore[arg-type]
    ApiCase(
        "types",
        "add_host(profile=5)",
        lambda: Network().add_host("c", "192.0.2.1", profile=5),
        ParameterError,
        "profile",
    ),  # type: ignore[arg-type]
    ApiCase("types", "add_host(isn=5)", lambda: Network().add_host("c", "192.0.2.1", isn=5), ParameterError, "isn"),
    ApiCase(
        "types",
        "add_host(ts_offset='x')",
        lambda: Network().add_host("c", "192.0.2.1", ts_offset="x"),
        ParameterError,
        "ts_offset",
    ),  # type: ignore[arg-type]
    ApiCase("types", "bind('80')", lambda: _sock().bind("80"), ParameterError, "port"),
    ApiCase("types", "listen('8')", lambda: _sock().listen("8"), ParameterError, "backlog"),
    ApiCase("types", "connect(1, 80)", lambda: _sock().connect(1, 80), ParameterError, "addr"),  # type: ignore[arg-type]
    ApiCase("types", "connect(addr, '80')", lambda: _sock().connect("192.0.2.2", "80"), ParameterError, "port"),  # type: ignore[arg-type]
    ApiCase("types", "send(object())", lambda: _sock().send(object()), ParameterError, "data"),  # type: ignore[arg-type]
    ApiCase("types", "recv('5')", lambda: _sock().recv("5"), ParameterError, "n"),  # type: ignore[arg-type]
    ApiCase("types", "shutdown(1)", lambda: _sock().shutdown(1), ParameterError, "how"),  # type: ignore[arg-type]
    ApiCase("types", "setsockopt(5, 1)", lambda: _sock().setsockopt(5, 1), ParameterError, "socket option"),  # type: ignore[arg-type]
    ApiCase("types", "Client(host='a')", lambda: Client("a", "192.0.2.2", 80), ParameterError, "host"),  # type: ignore[arg-type]
    ApiCase("types", "Server(port='80')", lambda: Server(_net2()[2], "80"), ParameterError, "port"),  # type: ignore[arg-type]
    ApiCase(
        "types",
        "Client(sockopts=[1])",
        lambda: Client(_net2()[1], "192.0.2.2", 80, sockopts=[1]),
        ParameterError,
        "sockopts",
    ),  # type: ignore[arg-type]
    ApiCase("types", "run_scenario(seed='1')", lambda: run_scenario("abort_rst", seed="1"), ParameterError, "seed"),  # type: ignore[arg-type]
    ApiCase("types", "run_scenario([1])", lambda: run_scenario(["abort_rst"]), ParameterError, "scenario"),  # type: ignore[arg-type]
    ApiCase(
        "types", "run_scenario(profile=[1])", lambda: run_scenario("abort_rst", profile=[1]), ParameterError, "profile"
    ),  # type: ignore[arg-type]
    ApiCase("types", "get_profile(5)", lambda: get_profile(5), KnobError, "profile"),  # type: ignore[arg-type]
    ApiCase(
        "types",
        "set(tcp_syn_retries=[1])",
        lambda: get_profile().set(tcp_syn_retries=[1]),
        KnobError,
        "tcp_syn_retries",
    ),
    ApiCase(
        "types",
        "set(tcp_syn_retries=True)",
        lambda: get_profile().set(tcp_syn_retries=True),
        KnobError,
        "tcp_syn_retries",
    ),
    ApiCase("types", "read_capture(5)", lambda: read_capture(5), ParameterError, "source"),  # type: ignore[arg-type]
    ApiCase(
        "types",
        "read_capture(text file)",
        lambda: _read_text_mode_file(),
        TraceFormatError,
        "'rb'",
    ),
    ApiCase("types", "replay(5)", lambda: replay(5), TraceFormatError, "expected a Capture"),  # type: ignore[arg-type]
    ApiCase(
        "types",
        "replay(names='ab')",
        lambda: replay(read_capture(CAPTURES / "half_close.pcap"), names="ab"),
        ParameterError,
        "names",
    ),  # type: ignore[arg-type]
    ApiCase("types", "make_setup(sysctls=[1])", lambda: make_setup(sysctls=[1]), ParameterError, "sysctls"),  # type: ignore[arg-type]
    ApiCase(
        "types", "export_pcap_bytes(start='0')", lambda: export_pcap_bytes(Trace(), start="0"), ParameterError, "start"
    ),  # type: ignore[arg-type]
    # bounds
    ApiCase("bounds", "Network(delay=-1)", lambda: Network(delay=-1), ParameterError, "delay"),
    ApiCase("bounds", "run(until=nan)", lambda: Network().run(until=math.nan), ParameterError, "until"),
    ApiCase("bounds", "run(until=inf)", lambda: Network().run(until=math.inf), ParameterError, "until"),
    ApiCase("bounds", "run(until=-1)", lambda: Network().run(until=-1), ParameterError, "until"),
    ApiCase("bounds", "Simulator(start=nan)", lambda: Simulator(start=math.nan), ParameterError, "start"),
    ApiCase("bounds", "bind(70000)", lambda: _sock().bind(70000), ParameterError, "port"),
    ApiCase("bounds", "listen(-1)", lambda: _sock().listen(-1), ParameterError, "backlog"),
    ApiCase("bounds", "connect(addr, 0)", lambda: _sock().connect("192.0.2.2", 0), ParameterError, "port"),
    ApiCase("bounds", "recv(-1)", lambda: _sock().recv(-1), ParameterError, "n"),
    ApiCase(
        "bounds", "set(tcp_fin_timeout=inf)", lambda: get_profile().set(tcp_fin_timeout=math.inf), KnobError, "inf"
    ),
    ApiCase(
        "bounds", "set(tcp_fin_timeout=nan)", lambda: get_profile().set(tcp_fin_timeout=math.nan), KnobError, "nan"
    ),
    ApiCase(
        "bounds",
        "run_scenario(keepidle=nan)",
        lambda: run_scenario("keepalive_dead_peer", keepidle=math.nan),
        ParameterError,
        "keepidle",
    ),
    ApiCase(
        "bounds",
        "replay(delay=61)",
        lambda: replay(read_capture(CAPTURES / "half_close.pcap"), delay=61),
        ParameterError,
        "delay",
    ),
    ApiCase(
        "bounds",
        "replay(tolerance=nan)",
        lambda: replay(read_capture(CAPTURES / "half_close.pcap"), tolerance=math.nan),
        ParameterError,
        "tolerance",
    ),
    ApiCase(
        "bounds",
        "export_pcap_bytes(start=nan)",
        lambda: export_pcap_bytes(Trace(), start=math.nan),
        ParameterError,
        "start",
    ),
    ApiCase(
        "bounds",
        "export_pcap_bytes(start=2**32)",
        lambda: export_pcap_bytes(Trace(), start=2**32),
        ParameterError,
        "start",
    ),
    ApiCase(
        "bounds",
        "export_pcap_bytes(snaplen=0)",
        lambda: export_pcap_bytes(Trace(), snaplen=0),
        ParameterError,
        "snaplen",
    ),
    # budgets: work that would run for ever is refused by a named budget
    ApiCase("budgets", "run(until=1e12) with keepalive", _keepalive_forever, BudgetError, "event budget"),
    ApiCase("budgets", "more hosts than max_hosts", _many_hosts, BudgetError, "max_hosts"),
    # messages: the error names the real culprit
    ApiCase(
        "messages",
        "unknown knob shows its value",
        lambda: get_profile().set(tcp_fin_timout=5),
        KnobError,
        "'tcp_fin_timout' = 5",
    ),
    ApiCase(
        "messages",
        "set_sysctl lists sysctl names",
        lambda: get_profile().set_sysctl("net.ipv4.tcp_fin_timout", "5"),
        KnobError,
        "net.ipv4.tcp_syn_retries",
    ),
    ApiCase(
        "messages",
        "cut-short header names its file",
        lambda: read_capture(_short_file()),
        TraceFormatError,
        "short.pcap: the pcap file header",
    ),
]


def _read_text_mode_file() -> Any:
    with open(__file__, encoding="utf-8") as fh:  # a text-mode file where a binary one is needed
        return read_capture(fh)  # type: ignore[arg-type]


def _short_file() -> Path:
    import tempfile

    p = Path(tempfile.mkdtemp()) / "short.pcap"
    p.write_bytes((CAPTURES / "half_close.pcap").read_bytes()[:10])
    return p


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: f"{c.cls}: {c.name}")
def test_the_api_refuses_bad_values_with_a_named_tcpkit_error(case: ApiCase) -> None:
    with pytest.raises(case.error) as info:
        case.call()
    assert case.says in str(info.value)


def test_messages_that_used_to_mislead() -> None:
    # set_sysctl lists sysctl names, not Python names
    with pytest.raises(KnobError) as info:
        get_profile().set_sysctl("net.ipv4.tcp_fin_timout", "5")
    assert "net.ipv4.tcp_fin_timeout" in str(info.value) and "'?'" not in str(info.value)
    # an EPB for an undefined interface says so, with the frame
    cap = read_capture(_pcapng_epb_without_interface())
    assert cap.report.skipped == {"undefined interface": 1}
    assert "frame 1" in cap.report.notes[0] and "names interface 3" in cap.report.notes[0]


@pytest.mark.parametrize("value", [np.int64(3), np.int32(3), np.uint8(3), np.float64(3.0)])
def test_numpy_numbers_are_numbers(value: Any) -> None:
    assert get_profile().set(tcp_syn_retries=value)["tcp_syn_retries"] == 3
    assert type(get_profile().set(tcp_syn_retries=value)["tcp_syn_retries"]) is int
    net = Network(seed=np.int64(7))
    h = net.add_host("h", "192.0.2.1")
    s = h.socket()
    s.bind(np.int64(8080))
    s.listen(np.int32(4))
    assert run_scenario("abort_rst", seed=np.int64(1)).meta["seed"] == 1


# ----------------------------------------------------------------------------- property tests

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
_BASE_DOC = json.loads(run_scenario("abort_rst", seed=3).to_json())
_KEYS = [
    "schema",
    "version",
    "meta",
    "records",
    "t",
    "host",
    "kind",
    "conn",
    "seg",
    "seq",
    "ack",
    "len",
    "flags",
    "win",
    "opts",
    "payload",
    "src",
    "dst",
    "event",
    "timer",
    "deadline",
    "values",
    "name",
    "value",
    "text",
]


def _mutate_doc(data: st.DataObject) -> Any:
    doc = json.loads(json.dumps(_BASE_DOC))
    for _ in range(data.draw(st.integers(1, 4))):
        target: Any = doc
        path = []
        while isinstance(target, dict | list) and target and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(target) if isinstance(target, dict) else range(len(target))))
            path.append(key)
            target = target[key]
        if not isinstance(target, dict | list):
            continue
        if isinstance(target, dict):
            target[data.draw(st.sampled_from(_KEYS))] = data.draw(_JSON)
        elif target:
            target[data.draw(st.integers(0, len(target) - 1))] = data.draw(_JSON)
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_malformed_trace_documents_give_only_trace_format_errors(data: st.DataObject) -> None:
    doc = _mutate_doc(data)
    text = json.dumps(doc, allow_nan=True)
    try:
        trace = Trace.from_json(text)
    except TraceFormatError:
        return
    with contextlib.suppress(TcpkitError):  # what was read can be exported, or is refused by name
        export_pcap_bytes(trace)


_PCAPS = [(CAPTURES / f"{n}.pcap").read_bytes() for n in ("half_close", "abort_rst")] + [
    _pcapng_epb_without_interface()
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_pcap_bytes_give_only_tcpkit_errors(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(_PCAPS)))
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "word"]))
        if not raw:
            break
        i = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[i] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del raw[i:]
        elif op == "insert":
            raw[i:i] = data.draw(st.binary(max_size=8))
        else:
            raw[i : i + 4] = struct.pack("<I", data.draw(st.sampled_from([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 12, 65536])))
    try:
        cap = read_capture(bytes(raw))
        annotate(cap)
        replay(cap, infer=data.draw(st.booleans()))
    except TcpkitError:
        pass


_WORDS = ["nan", "inf", "-1", "0", "1", "1e20", "-5", "x", "", "client:", "server:SO_KEEPALIVE=1", "=", "🙂", "0x10"]
_FILES = [
    "T.json",
    "cap.pcap",
    "link.json",
    "hard.pcap",
    "setup.toml",
    "sub",
    "missing/x",
    "records5.json",
    "utf16.json",
    "epb.pcapng",
    "short.pcap",
    "new.out",
    "./T.json",
    "sub/../cap.pcap",
]


def _argv(data: st.DataObject) -> list[str]:
    word = st.sampled_from(_WORDS) | st.text(max_size=6)
    file = st.sampled_from(_FILES)
    cmd = data.draw(st.sampled_from(["export", "import", "scenario", "profile"]))
    if cmd == "export":
        argv = ["pcap", "export", data.draw(file), data.draw(file)]
        opts = ["--ethernet", "--nanosecond", "--start"]
    elif cmd == "import":
        argv = ["pcap", "import", data.draw(file)]
        opts = [
            "--json",
            "--replay",
            "--set",
            "--sockopt",
            "--delay",
            "--capture-at",
            "--setup",
            "--backlog",
            "--accept",
            "--tolerance-ms",
            "--timer-slack",
            "--no-infer",
            "--profile",
            "--names",
        ]
    elif cmd == "scenario":
        argv = ["scenario", "run", data.draw(st.sampled_from(["abort_rst", "half_close", "nope"]))]
        opts = ["--seed", "--param", "--limit", "--json", "--out", "--profile"]
    else:
        argv = ["profile", data.draw(st.sampled_from(["linux", "freebsd", "x"]))]
        opts = ["--set", "--only", "--json"]
    for _ in range(data.draw(st.integers(0, 4))):
        opt = data.draw(st.sampled_from(opts))
        argv.append(opt)
        if opt in ("--json", "--out", "--setup") and cmd != "profile":
            argv.append(data.draw(file))
        elif opt not in ("--ethernet", "--nanosecond", "--replay", "--no-infer", "--json"):
            argv.append(data.draw(word))
    return argv


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_command_line_exits_cleanly_and_changes_no_input(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path_factory.mktemp("cli")
    _inputs(d)
    before = _snapshot(d)
    argv = _argv(data)
    rc, _out, err = _run(d, argv, capsys)
    assert rc in (0, 1, 2), (argv, rc, err)
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if rc == 2:
        assert err.count("\n") == 1, (argv, err)
    after = _snapshot(d)
    # a command that failed changed nothing; one that worked changed only its output
    outputs = set()
    if rc == 0:
        named = [argv[3]] if argv[:2] == ["pcap", "export"] else []
        named += [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--json", "--out") and argv[0] != "profile"]
        outputs = {str((d / n).resolve().relative_to(d.resolve())) for n in named}
    assert {k: after.get(k) for k in before if k not in outputs} == {
        k: v for k, v in before.items() if k not in outputs
    }
    assert not [k for k in after if k.startswith(".") or "/." in k], argv  # no temporary file left


_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**66), 2**66),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=6),
    st.lists(st.integers(), max_size=3),
    st.sampled_from(["192.0.2.9", "::1", "999.1.1.1", "linux", "SHUT_WR", "SO_KEEPALIVE", "80", "", "nan"]),
    st.sampled_from([np.int64(5), np.float64("nan"), np.int8(-1)]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_api_calls_with_any_values_raise_only_tcpkit_errors(data: st.DataObject) -> None:
    what = data.draw(
        st.sampled_from(
            ["network", "host", "socket", "client", "server", "scenario", "profile", "sysctl", "replay", "run"]
        )
    )
    v = [data.draw(_ANY) for _ in range(3)]
    try:
        if what == "network":
            Network(seed=v[0], delay=v[1] if v[1] is not None else 0.01)
        elif what == "host":
            Network().add_host(v[0], v[1])
        elif what == "socket":
            s = _sock()
            call = data.draw(st.sampled_from(["bind", "listen", "connect", "send", "recv", "shutdown", "setsockopt"]))
            if call in ("connect", "setsockopt"):
                getattr(s, call)(v[0], v[1])
            else:
                getattr(s, call)(v[0])
        elif what == "client":
            Client(_net2()[1], v[0], v[1], at=0.0 if v[2] is None else v[2])
        elif what == "server":
            Server(_net2()[2], v[0], backlog=128 if v[1] is None else v[1])
        elif what == "scenario":
            name = data.draw(st.sampled_from(["keepalive_dead_peer", "accept_queue_overflow", "abort_rst", v[0]]))
            key = data.draw(st.sampled_from(["keepidle", "backlog", "clients", "delay", "x"]))
            run_scenario(name, seed=data.draw(st.sampled_from([0, v[1]])), **{key: v[2]})
        elif what == "profile":
            knob = data.draw(
                st.sampled_from(["tcp_syn_retries", "tcp_fin_timeout", "tcp_syncookies", "tcp_timestamps", v[0]])
            )
            get_profile(data.draw(st.sampled_from(["linux", "freebsd", v[1]])), **{str(knob): v[2]})
        elif what == "sysctl":
            get_profile().set_sysctl(
                data.draw(st.sampled_from(["net.ipv4.tcp_rmem", "net.ipv4.ip_local_port_range", v[0]])), v[1]
            )
        elif what == "replay":
            replay(
                read_capture(CAPTURES / "abort_rst.pcap"),
                delay=0.0 if v[0] is None else v[0],
                sysctls={str(v[1]): v[2]},
                tolerance=0.01,
            )
        else:
            net = Network()
            net.run(until=v[0])
    except TcpkitError:
        pass


def test_every_class_has_cases() -> None:
    counts: dict[str, int] = {}
    for c in [*CLI_CASES, *API_CASES]:
        counts[c.cls] = counts.get(c.cls, 0) + 1
    assert set(counts) == {"data loss", "tracebacks", "types", "bounds", "budgets", "messages"}
    assert all(n >= 2 for n in counts.values()), counts
