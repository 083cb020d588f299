"""The real-kernel lab: /proc parser, watcher, verdicts, fallback, clean-up, real scenarios."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sys
from pathlib import Path

import pytest

from tcpkit.cli.live import main
from tcpkit.engine.errors import ParameterError, TraceFormatError
from tcpkit.engine.states import TRANSITIONS, State
from tcpkit.engine.trace import StateChanged, Trace
from tcpkit.live import Lab, Script, run_live, run_one
from tcpkit.live.compare import compare_paths
from tcpkit.live.extras import capture_unavailable
from tcpkit.live.model import role_paths
from tcpkit.live.netns import netns_unavailable
from tcpkit.live.procnet import decode_address, parse_proc_net_tcp, read_proc_net_tcp
from tcpkit.live.run import LiveResult, load_recorded
from tcpkit.live.scripts import SCRIPTS
from tcpkit.live.watch import SHORT_STATES, Watcher

HAVE_PROC = Path("/proc/net/tcp").exists()
needs_proc = pytest.mark.skipif(not HAVE_PROC, reason="no Linux /proc/net/tcp on this system")
HAVE_MODEL = importlib.util.find_spec("tcpkit.drivers.scenarios") is not None

# Real lines in the kernel's format (net/ipv4/tcp_ipv4.c), from a little-endian machine.
TCP4 = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:8845 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 640 1 00000000b1eb13a3 100 0 0 10 0
   6: 0100007F:B1AA 0100007F:8845 02 00000001:00000000 01:0000005A 00000000  1000        0 7788 2 0000000000000000 200 0 0 1 7
   7: 0100007F:8845 0100007F:B190 0C 00000000:00000000 02:00000052 00000000     0        0 0 0 0000000000000000
   8: 0100007F:C350 0100007F:1F90 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   9: 0101A8C0:0016 6401A8C0:D6D8 08 00000000:0000002A 00:00000000 00000000     0        0 9911 1 0000000000000000 20 4 30 10 -1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:A000 04 00000001:00000000 01:00000014 00000000     0        0 124 1 0000000000000000 20 4 0 10 -1
"""


# ---- /proc parser -------------------------------------------------------------------------
def test_parser_reads_addresses_ports_states_and_queues() -> None:
    socks = parse_proc_net_tcp(TCP4, byteorder="little")
    assert [s.state for s in socks] == [
        State.LISTEN,
        State.SYN_SENT,
        State.SYN_RECEIVED,
        State.TIME_WAIT,
        State.CLOSE_WAIT,
    ]
    lst, syn, req, tw, cw = socks
    assert lst.local == ("127.0.0.1", 0x8845) and lst.remote == ("0.0.0.0", 0)
    assert (lst.tx_queue, lst.rx_queue) == (0, 2)  # rx_queue of a listener = accept-queue length
    assert syn.conn == ("127.0.0.1", 0xB1AA, "127.0.0.1", 0x8845)
    assert (syn.tx_queue, syn.timer, syn.uid, syn.inode) == (1, 1, 1000, 7788)
    assert req.code == 12 and req.inode == 0  # TCP_NEW_SYN_RECV request socket
    assert tw.timer == 3
    assert cw.local == ("192.168.1.1", 22) and cw.remote == ("192.168.1.100", 0xD6D8) and cw.rx_queue == 42
    assert all(s.family == 4 for s in socks)


def test_parser_reads_ipv6_and_mapped_addresses() -> None:
    a, b = parse_proc_net_tcp(TCP6, byteorder="little")
    assert (a.local, a.remote, a.state, a.family) == (("::1", 8080), ("::", 0), State.LISTEN, 6)
    assert b.local == ("::ffff:127.0.0.1", 8080) and b.remote == ("::ffff:127.0.0.1", 0xA000)
    assert b.state is State.FIN_WAIT_1


def test_parser_honours_the_writers_byte_order() -> None:
    assert decode_address("7F000001:0050", "big") == ("127.0.0.1", 80)
    assert decode_address("0100007F:0050", "little") == ("127.0.0.1", 80)
    assert decode_address("00000000000000000000000000000001:0050", "big") == ("::1", 80)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("   0: 0100007F:0050 0100007F:D431 1F 00000000:00000000", "state '1F'"),
        ("   0: 0100007F:0050 0100007F:D431 ZZ 00000000:00000000", "state 'ZZ'"),
        ("   0: 0100007F:50 0100007F:D431 01 00000000:00000000", "bad /proc/net/tcp address"),
        ("   0: 0100007G:0050 0100007F:D431 01 00000000:00000000", "not hexadecimal"),
        ("   0: 0100007F:0050 0100007F:D431 01 0000000000000000", "queue/timer/uid/inode"),
        ("garbage", "expected 'sl: local remote st tx:rx ...'"),
    ],
)
def test_parser_rejects_malformed_lines_by_name(line: str, fragment: str) -> None:
    with pytest.raises(TraceFormatError) as info:
        parse_proc_net_tcp(line)
    assert fragment in str(info.value)


def test_read_proc_net_tcp_from_another_root(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(TCP4)
    socks = read_proc_net_tcp(tmp_path)  # no tcp6 file: IPv6 off is not an error
    assert len(socks) == 5
    (tmp_path / "net" / "tcp6").write_text(TCP6)
    assert len(read_proc_net_tcp(tmp_path)) == 7
    with pytest.raises(FileNotFoundError):
        read_proc_net_tcp(tmp_path / "missing")


# ---- watcher on a fake /proc -------------------------------------------------------------
def _line(i: int, lport: int, rport: int, code: int, rx: int = 0) -> str:
    return (
        f"{i:4d}: 0100007F:{lport:04X} 0100007F:{rport:04X} {code:02X} 00000000:{rx:08X} 00:00000000 00000000 0 0 1 1\n"
    )


@pytest.mark.skipif(sys.byteorder != "little", reason="sample lines are little-endian")
def test_watcher_records_changes_and_confirms_disappearance(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    f = tmp_path / "net" / "tcp"
    conn = ("127.0.0.1", 40000, "127.0.0.1", 80)
    w = Watcher({80}, proc_root=tmp_path)
    f.write_text(_line(0, 40000, 80, 1) + _line(1, 5555, 6666, 1))
    w.snapshot()
    w.snapshot()  # no change: nothing new recorded
    f.write_text(_line(0, 40000, 80, 1, rx=5))
    w.snapshot()
    f.write_text(_line(0, 40000, 80, 4))
    w.snapshot()
    f.write_text("")
    w.snapshot()  # one miss is not enough (reads race with the hash tables)
    assert w.current(conn) is State.FIN_WAIT_1
    f.write_text(_line(0, 40000, 80, 4))
    w.snapshot()  # it was there after all
    f.write_text("")
    w.snapshot()
    w.snapshot()
    hist = w.history(conn)
    assert [(o.state.value, o.rx_queue, o.present) for o in hist] == [
        ("ESTABLISHED", 0, True),
        ("ESTABLISHED", 5, True),
        ("FIN_WAIT_1", 0, True),
        ("CLOSED", 0, False),
    ]
    assert w.conns() == [conn]  # the socket on other ports is not watched


# ---- verdicts ----------------------------------------------------------------------------
def test_missed_short_states_are_not_disagreements() -> None:
    v = compare_paths(
        "server",
        ["SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"],
        ["ESTABLISHED", "CLOSE_WAIT", "CLOSED"],
    )
    assert v.agree and v.not_observed == ("SYN_RECEIVED", "LAST_ACK") and not v.differences
    v = compare_paths(
        "server",
        ["SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"],
        ["SYN_RECEIVED", "ESTABLISHED", "CLOSE_WAIT", "LAST_ACK", "CLOSED"],
    )
    assert v.agree and v.not_observed == ()


def test_timer_states_are_not_waited_for_but_long_states_must_show() -> None:
    model = ["SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"]
    v = compare_paths("client", model, ["ESTABLISHED", "FIN_WAIT_2", "TIME_WAIT"], not_waited_from=5)
    assert v.agree and v.not_waited == ("CLOSED",)
    v = compare_paths("client", model, ["ESTABLISHED", "FIN_WAIT_2", "TIME_WAIT"])
    assert not v.agree and v.differences == ("the model reaches CLOSED after TIME_WAIT; the kernel never showed it",)
    v = compare_paths("client", model, ["ESTABLISHED", "CLOSED"], not_waited_from=5)
    assert not v.agree
    assert "the model reaches FIN_WAIT_2 after FIN_WAIT_1; the kernel never showed it" in v.differences
    assert "the model reaches TIME_WAIT after FIN_WAIT_2; the kernel never showed it" in v.differences


def test_an_extra_kernel_state_is_named() -> None:
    v = compare_paths("client", ["ESTABLISHED", "CLOSED"], ["ESTABLISHED", "CLOSE_WAIT", "CLOSED"])
    assert not v.agree
    assert v.differences == ("the kernel showed CLOSE_WAIT where the model expects CLOSED",)
    assert "DIFFER" in v.summary() and "CLOSE_WAIT" in v.summary()


def _st(t: float, host: str, conn: tuple[str, int, str, int], a: str, b: str, ev: str = "") -> StateChanged:
    """A state change along the table row from ``a`` to ``b`` (on ``ev`` when several rows lead there)."""
    rows = [r for r in TRANSITIONS if r.src.value == a and r.dst.value == b and (not ev or r.event.value == ev)]
    return StateChanged(time=t, host=host, conn=conn, row=rows[0])


def test_model_roles_from_a_trace() -> None:
    c1 = ("10.0.0.1", 40000, "10.0.0.2", 80)
    c2 = ("10.0.0.1", 40001, "10.0.0.2", 80)
    s1 = ("10.0.0.2", 80, "10.0.0.1", 40000)
    lst = ("10.0.0.2", 80, "0.0.0.0", 0)
    tr = Trace(
        [
            _st(0.0, "server", lst, "CLOSED", "LISTEN"),
            _st(0.1, "client", c1, "CLOSED", "SYN_SENT"),
            _st(0.1, "server", s1, "LISTEN", "SYN_RECEIVED"),
            _st(0.2, "client", c1, "SYN_SENT", "ESTABLISHED"),
            _st(0.2, "server", s1, "SYN_RECEIVED", "ESTABLISHED"),
            _st(0.3, "client", c2, "CLOSED", "SYN_SENT"),
            _st(3.3, "client", c2, "SYN_SENT", "CLOSED", "retransmissions exhausted"),
        ]
    )
    paths = role_paths(tr)
    assert set(paths) == {"listener", "client1", "client2", "server1"}
    assert paths["listener"].states == ("LISTEN",)
    assert paths["server1"].states == ("SYN_RECEIVED", "ESTABLISHED")
    assert paths["client2"].states == ("SYN_SENT", "CLOSED") and paths["client2"].not_waited_from == 1
    assert role_paths(tr, horizon=0.25)["client2"].not_waited_from == 0
    assert role_paths(tr)["client1"].not_waited_from is None


def test_judge_reports_a_kernel_socket_the_model_lacks() -> None:
    res = LiveResult("x")
    from tcpkit.live.model import ModelPath
    from tcpkit.live.watch import Observation

    res.model = {"client": ModelPath("client", None, ("SYN_SENT", "CLOSED"), (0.0, 0.1))}
    res.observed = {"client": [], "server": [Observation(0.0, State.ESTABLISHED)]}
    res.gone_at_end = {"client": True, "server": False}
    res.judge()
    assert res.verdict == "differ"
    assert res.differences == ["server: the kernel had a server socket (ESTABLISHED); the model has none"]


# ---- no /proc: recorded fallback ---------------------------------------------------------
def test_without_proc_the_lab_says_so_and_uses_recorded_observations(tmp_path: Path) -> None:
    res = run_one("client_closes_first", proc_root=tmp_path / "no-proc", model=False)  # the name for it
    assert res.source == "recorded"
    assert "no Linux /proc/net/tcp" in res.notes[0] and str(tmp_path / "no-proc") in res.notes[0]
    assert res.system.startswith("Linux")
    assert "TIME_WAIT" in res.observed_path("client")
    assert "recorded on" in res.summary()


@pytest.mark.skipif(not HAVE_MODEL, reason="tcpkit.drivers.scenarios (the model) is not available")
@pytest.mark.parametrize("name", sorted(n for n, s in SCRIPTS.items() if s.model_name))
def test_recorded_linux_observations_agree_with_the_model(tmp_path: Path, name: str) -> None:
    res = run_one(name, proc_root=tmp_path)  # no /proc here: what a macOS or JupyterLite student gets
    assert res.source == "recorded"
    assert res.verdict == "agree", res.summary()


def test_recorded_observations_cover_every_scenario() -> None:
    for name in SCRIPTS:
        res = load_recorded(name)
        assert res.observed, name
        assert res.calls, name


# ---- real sockets --------------------------------------------------------------------------
def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _boom(lab: Lab) -> None:
    lsock, port = lab.listen()
    lab.connect(port, "client")
    lab.accept(lsock, "server")
    lab.wait_state("server", "ESTABLISHED")
    raise RuntimeError("step 4 failed")


@pytest.mark.live
@needs_proc
def test_cleanup_when_a_step_raises() -> None:
    before = _fds()
    res = run_one(Script("boom", "a failing step", "", _boom), model=False)
    assert res.verdict == "error" and "step 4 failed" in (res.error or "")
    assert _fds() == before
    port = _server_port(res)
    left = [s for s in read_proc_net_tcp() if port in (s.local[1], s.remote[1])]
    assert left == []  # aborted with RST: not even TIME_WAIT is left behind
    with pytest.raises(RuntimeError):
        run_one(Script("boom", "a failing step", "", _boom), model=False, catch=False)
    assert _fds() == before


def _server_port(res: LiveResult) -> int:
    return next(int(c.call.split(":")[1].rstrip(")")) for c in res.calls if c.call.startswith("connect"))


@pytest.mark.live
@needs_proc
def test_cleanup_on_keyboard_interrupt() -> None:
    before = _fds()

    def interrupted(lab: Lab) -> None:
        lab.listen()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_one(Script("ctrl_c", "", "", interrupted), model=False)
    assert _fds() == before


@pytest.fixture(scope="module")
def kernel_results() -> dict[str, LiveResult]:
    if not HAVE_PROC:
        pytest.skip("no Linux /proc/net/tcp on this system")
    before = _fds()
    results = {r.scenario: r for r in run_live(model=HAVE_MODEL)}
    assert _fds() == before, "the lab leaked file descriptors"
    listed = {s.conn: s.state for s in read_proc_net_tcp()}
    for r in results.values():  # only kernel-owned TIME_WAIT sockets may outlive the lab
        left = {role: listed[conn] for role, conn in r.sockets.items() if conn in listed}
        assert all(st is State.TIME_WAIT for st in left.values()), (r.scenario, left)
    return results


@pytest.mark.live
def test_every_scenario_ran_on_the_kernel_in_bounded_time(kernel_results: dict[str, LiveResult]) -> None:
    assert set(kernel_results) == {n for n, s in SCRIPTS.items() if not s.netns}
    for r in kernel_results.values():
        assert r.source == "kernel" and r.error is None, r.summary()
        assert r.duration < 10.0, (r.scenario, r.duration)  # a hang guard: no step waits for a kernel timer
        assert not r.notes, r.summary()  # every awaited state change happened


def _long(path: list[str]) -> list[str]:
    """The path without the states polling may or may not catch."""
    short = {s.value for s in SHORT_STATES}
    return [s for s in path if s not in short]


@pytest.mark.live
def test_kernel_paths(kernel_results: dict[str, LiveResult]) -> None:
    k = kernel_results
    cf = k["open_close_client_first"]
    sf = k["open_close_server_first"]
    for r, active, passive in ((cf, "client", "server"), (sf, "server", "client")):
        # the active closer passes FIN_WAIT_2 at once when the peer's FIN carries the ACK of its FIN,
        # and sits in it (seen) when the peer closed after its delayed-ACK timer (40 ms) had sent the
        # ACK alone: either way the same TCP, and the second case is a timing note
        path = _long(r.observed_path(active))
        assert path in (["ESTABLISHED", "TIME_WAIT"], ["ESTABLISHED", "FIN_WAIT_2", "TIME_WAIT"]), path
        assert ("FIN_WAIT_2" in path) == any(n.startswith(f"{active}: FIN_WAIT_2") for n in r.timing_notes)
        assert _long(r.observed_path(passive)) == ["ESTABLISHED", "CLOSE_WAIT", "CLOSED"]
    cw = k["close_wait_leak"]
    for i in (1, 2, 3):
        assert _long(cw.observed_path(f"server{i}")) == ["ESTABLISHED", "CLOSE_WAIT"]
        assert _long(cw.observed_path(f"client{i}")) == ["ESTABLISHED", "FIN_WAIT_2"]
    cr = k["connection_refused"]
    assert cr.observed_path("client")[-1] == "CLOSED"
    assert any(c.result == "ECONNREFUSED" for c in cr.calls)
    ab = k["abort_rst"]
    assert ab.observed_path("client") == ["ESTABLISHED", "CLOSED"] == ab.observed_path("server")
    assert any(c.result == "ECONNRESET" for c in ab.calls)
    hc = k["half_close"]
    assert _long(hc.observed_path("client")) == ["ESTABLISHED", "FIN_WAIT_2", "TIME_WAIT"]
    client_got = sum(int(c.result.split()[0]) for c in hc.calls if c.role == "client" and c.call == "recv()")
    assert client_got == 20000  # everything the server sent after the client's FIN arrived


@pytest.mark.live
def test_accept_queue_holds_backlog_plus_one(kernel_results: dict[str, LiveResult]) -> None:
    r = kernel_results["accept_queue_overflow"]
    assert r.backlog == 3
    assert r.send_q in (3, None)  # the listener's Send-Q (inet_diag), when netlink is allowed
    assert max(n for _, n in r.accept_queue()) == r.backlog + 1  # include/net/sock.h sk_acceptq_is_full: '>'
    assert [r.observed_path(f"client{i}")[-1] for i in range(1, 6)] == ["ESTABLISHED"] * 4 + ["SYN_SENT"]
    assert r.observed.get("server5") == []  # its SYN was dropped: the kernel never made a request socket


@pytest.mark.live
@pytest.mark.skipif(not HAVE_MODEL, reason="tcpkit.drivers.scenarios (the model) is not available yet")
@pytest.mark.parametrize("name", sorted(n for n, s in SCRIPTS.items() if not s.netns))
def test_model_and_kernel_agree(kernel_results: dict[str, LiveResult], name: str) -> None:
    r = kernel_results[name]
    assert r.model, r.model_error
    assert r.verdict == "agree", r.summary() + "\n" + r.table()


# ---- output and CLI ---------------------------------------------------------------------
@pytest.mark.live
def test_table_and_json_show_both_sides(kernel_results: dict[str, LiveResult]) -> None:
    r = kernel_results["open_close_client_first"]
    table = r.table()
    assert "kernel (observed)" in table and "TIME_WAIT" in table and "close()" in table
    d = json.loads(json.dumps(r.to_dict()))
    assert d["scenario"] == "open_close_client_first" and d["observed"]["client"]
    fig = r.figure()
    assert any("TIME_WAIT" in (t.text or ()) for t in fig.data)


def test_cli_lists_and_rejects_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    assert "accept_queue_overflow" in capsys.readouterr().out
    assert main(["bogus"]) == 2
    assert "unknown scenario 'bogus'" in capsys.readouterr().err


def test_cli_json_on_a_system_without_proc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["abort_rst", "--json", "--no-model", "--proc", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    [res] = doc["results"]
    assert res["source"] == "recorded" and res["verdict"] == "no model"
    assert "microseconds" in doc["short_states"]


def test_bad_lab_parameters_are_named() -> None:
    with pytest.raises(ParameterError, match="interval"):
        Lab(interval=0)
    with pytest.raises(ParameterError, match="scenario = 'nope'"):
        run_live(["nope"])


@pytest.mark.live
@needs_proc
def test_lab_roles_are_labelled_from_both_ends() -> None:
    with Lab() as lab:
        lsock, port = lab.listen()
        c = lab.connect(port, "client")
        lab.accept(lsock, "server")
        assert lab.wait_state("server", "ESTABLISHED")
        assert lab.conn_of("server") == tuple(reversed_pair(lab.conn_of("client")))
        assert isinstance(c, socket.socket)
        with pytest.raises(ParameterError, match="role = 'nobody'"):
            lab.conn_of("nobody")


def reversed_pair(conn: tuple[str, int, str, int]) -> tuple[str, int, str, int]:
    return (conn[2], conn[3], conn[0], conn[1])


# ---- root extras ------------------------------------------------------------------------------
def _pcap(packets: list[tuple[int, int, int]], linktype: int = 1) -> bytes:
    import struct

    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for i, (sport, dport, flags) in enumerate(packets):
        tcp = struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, flags, 65535, 0, 0)
        ip = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])
        )
        l2 = b"\0" * 12 + b"\x08\x00" if linktype == 1 else b""
        pkt = l2 + ip + tcp
        out += struct.pack("<IIII", 100, i * 1000, len(pkt), len(pkt)) + pkt
    return out


def test_summarize_pcap_reads_ports_and_flags() -> None:
    from tcpkit.live.extras import summarize_pcap

    data = _pcap([(40000, 80, 0x02), (80, 40000, 0x12), (40000, 80, 0x10), (40000, 80, 0x14)])
    assert [(s, d, f) for _, s, d, f in summarize_pcap(data)] == [
        (40000, 80, "S"),
        (80, 40000, "S."),
        (40000, 80, "."),
        (40000, 80, "R."),
    ]
    assert summarize_pcap(_pcap([(1, 2, 0x11)], linktype=101))[0][3] == "F."
    with pytest.raises(TraceFormatError, match="link type 9"):
        summarize_pcap(_pcap([], linktype=9))


def test_capture_skips_cleanly_when_not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    from tcpkit.live import extras

    monkeypatch.setattr(extras.os, "geteuid", lambda: 1000)
    assert extras.capture_unavailable() == "not root: capturing packets needs CAP_NET_RAW"
    with pytest.raises(OSError, match="not root"), extras.LoopbackCapture([1]):
        pass
    monkeypatch.setattr(extras, "capture_unavailable", lambda: "not root: capturing packets needs CAP_NET_RAW")
    import tcpkit.live.run as run_mod

    monkeypatch.setattr(run_mod, "capture_unavailable", extras.capture_unavailable)
    if HAVE_PROC:
        res = run_one("connection_refused", model=False, root_extras=True)
        assert res.capture is None
        assert "loopback capture skipped: not root" in res.notes[0]


@pytest.mark.live
@needs_proc
@pytest.mark.skipif(capture_unavailable() is not None, reason=f"loopback capture: {capture_unavailable()}")
def test_loopback_capture_sees_the_handshake_and_the_rst() -> None:
    from tcpkit.live.extras import summarize_pcap

    before = _fds()
    res = run_one("connection_refused", model=False, root_extras=True)
    assert res.capture is not None
    assert [f for _, _, _, f in summarize_pcap(res.capture)] == ["S", "R."]
    res = run_one("abort_rst", model=False, root_extras=True)
    assert [f for _, _, _, f in summarize_pcap(res.capture or b"")][:3] == ["S", "S.", "."]
    assert "R." in [f for _, _, _, f in summarize_pcap(res.capture or b"")]
    if importlib.util.find_spec("tcpkit.capture.pcap") is not None:  # read back by the pcap importer
        paths = role_paths(res.capture_trace)
        assert paths["client"].states[:2] == ("SYN_SENT", "ESTABLISHED")
        assert paths["client"].states[-1] == "CLOSED"
    assert _fds() == before


def test_netns_scenario_is_skipped_without_root_extras() -> None:
    res = run_one("synack_retransmit", model=False)
    assert res.verdict == "skipped" and "root_extras=True" in res.notes[0]


@pytest.mark.live
@needs_proc
@pytest.mark.skipif(netns_unavailable() is not None, reason=f"private namespace: {netns_unavailable()}")
def test_synack_is_retransmitted_when_the_handshake_ack_is_dropped() -> None:
    import subprocess

    res = run_one("synack_retransmit", model=False, root_extras=True)
    assert res.error is None, res.summary()
    assert res.observed_path("client") == ["ESTABLISHED"]
    assert res.observed_path("server") == ["SYN_RECEIVED"]
    assert max(o.retransmits for o in res.observed["server"]) >= 1
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert f"tcpkit-lab-{os.getpid()}" not in names


def test_model_roles_drop_a_leading_listen_reached_from_closed() -> None:
    s = ("10.0.0.2", 80, "10.0.0.1", 40000)
    tr = Trace(
        [
            _st(0.0, "server", s, "CLOSED", "LISTEN"),
            _st(0.1, "server", s, "LISTEN", "SYN_RECEIVED"),
            _st(0.2, "server", s, "SYN_RECEIVED", "ESTABLISHED"),
        ]
    )
    assert role_paths(tr)["server"].states == ("SYN_RECEIVED", "ESTABLISHED")


@pytest.mark.live
@needs_proc
def test_listener_send_q_is_the_backlog_capped_by_somaxconn() -> None:
    from tcpkit.live.diag import listener_queues

    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    with socket.socket() as small, socket.socket() as huge:
        small.bind(("127.0.0.1", 0))
        small.listen(2)
        huge.bind(("127.0.0.1", 0))
        huge.listen(somaxconn + 1000)
        q_small = listener_queues(small.getsockname()[1])
        if q_small is None:
            pytest.skip("netlink sock_diag is not available here")
        assert q_small == (0, 2)
        assert listener_queues(huge.getsockname()[1]) == (0, somaxconn)
        with socket.create_connection(small.getsockname()):
            assert listener_queues(small.getsockname()[1]) == (1, 2)  # one connection waits for accept()
    assert listener_queues(1) is None  # nobody listens on port 1 here


# ---- a loopback run against a loopback-MTU model: states and segment order ---------------------------------
def test_segment_tokens_merge_a_data_burst_and_its_flow_control_acks() -> None:
    from tcpkit.engine.segment import parse_segment as p
    from tcpkit.live.compare import segment_tokens

    segs = [
        ("server", p("P. 1:1001(1000) ack 7 win 1")),
        ("client", p(". 7:7(0) ack 1001 win 1")),
        ("server", p("P. 1001:2001(1000) ack 7 win 1")),
        ("client", p(". 7:7(0) ack 2001 win 1")),
        ("server", p("F. 2001:2001(0) ack 7 win 1")),
    ]
    assert segment_tokens(segs) == [("server", "data"), ("client", "ACK"), ("server", "FIN")]


def test_segment_order_differences_and_timing_notes_are_told_apart() -> None:
    from tcpkit.live.compare import compare_segments

    model = [("client", "SYN"), ("server", "SYN-ACK"), ("client", "ACK"), ("client", "FIN"), ("server", "FIN")]
    # an ACK sent alone (the delayed-ACK timer fired first) is timing; a missing FIN is not
    late = [*model[:4], ("server", "ACK"), ("server", "FIN")]
    v = compare_segments("client", model, late)
    assert v.agree and len(v.timing) == 1 and "delayed-ACK" in v.timing[0]
    v = compare_segments("client", model, model[:4])
    assert not v.agree and v.differences == ("the model sends FIN from the server; the kernel did not",)
    # the lab's own clean-up resets at the end are not the scenario's
    v = compare_segments("client", model, [*model, ("client", "RST")])
    assert v.agree and v.ignored


def test_the_model_of_the_lab_uses_loopbacks_mtu_like_the_kernel() -> None:
    # ip link: lo has MTU 65536 -> MSS min(65536, 65535) - 40 = 65495 (ipv4_default_advmss); the SYN window is
    # that MSS (tcp_select_initial_window rounds 64 KB down to it), the SYN-ACK's 65495 - 12 (timestamps)
    from tcpkit.capture.pcap import read_capture
    from tcpkit.engine.events import SegmentSent
    from tcpkit.live.model import model_trace
    from tcpkit.live.run import _shipped_capture

    shipped = _shipped_capture("half_close")
    assert shipped is not None
    kernel = read_capture(shipped[1]).annotate()
    model = model_trace("half_close")

    def syn_parts(tr: Trace) -> list[tuple[int | None, int | None, int | None, bool]]:
        return [
            (r.segment.window, r.segment.mss, r.segment.wscale, r.segment.sack_permitted)
            for r in tr.of(SegmentSent)
            if r.segment.syn
        ]

    assert syn_parts(model) == syn_parts(kernel) == [(65495, 65495, 10, True), (65483, 65495, 10, True)]


@pytest.mark.skipif(not HAVE_MODEL, reason="tcpkit.drivers.scenarios (the model) is not available")
@pytest.mark.parametrize("name", ["abort_rst", "connection_refused", "half_close"])
def test_shipped_loopback_captures_agree_with_the_model_on_segment_order(tmp_path: Path, name: str) -> None:
    res = run_one(name, proc_root=tmp_path)  # recorded observations plus the shipped capture
    assert res.capture_trace is not None and res.segment_verdicts
    assert res.verdict == "agree", res.summary()
    assert all(v.agree for v in res.segment_verdicts)


@pytest.mark.live
@pytest.mark.skipif(not HAVE_MODEL, reason="tcpkit.drivers.scenarios (the model) is not available")
@pytest.mark.skipif(not HAVE_PROC or capture_unavailable() is not None, reason="needs root, tcpdump and /proc")
def test_a_captured_loopback_run_agrees_with_the_model_on_states_and_segment_order() -> None:
    names = ["open_close_client_first", "open_close_server_first", "half_close", "abort_rst", "connection_refused"]
    for r in run_live(names, root_extras=True):
        assert r.source == "kernel" and r.capture_trace is not None, r.summary()
        assert r.segment_verdicts, r.summary()
        # timing-only differences (an ACK sent alone after the 40 ms delayed-ACK timer, FIN_WAIT_2 seen) are
        # timing notes, never a "differ"
        assert r.verdict == "agree", r.summary() + "\n" + r.table()
