"""FreeBSD's SYN-sending behaviour (issue 12): packetdrill scripts in tests/data/freebsd-snd-syn, written from
sys/netinet sources (each script names the function it follows), run with the freebsd profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcpkit.drivers.packetdrill import run_file
from tcpkit.engine.profiles import get_profile
from tcpkit.engine.timers import syn_give_up_time, syn_retransmit_times, synack_retransmit_times

SCRIPTS = sorted((Path(__file__).resolve().parent / "data" / "freebsd-snd-syn").glob("*.pkt"))


def test_there_are_scripts() -> None:
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_script_passes_with_the_freebsd_profile(path: Path) -> None:
    r = run_file(path, profile="freebsd")
    assert r.passed, r.summary()
    assert not r.skipped, r.skipped  # every line was checked, none waved through


def test_mss_follows_the_interface_mtu() -> None:
    assert [get_profile("freebsd", mtu=m).params.mss for m in (72, 1500, 9000, 65535)] == [32, 1460, 8960, 65495]


def test_syn_and_synack_schedules() -> None:
    # tcp_timer_rexmt(): tcp_rexmit_initial * tcp_backoff[n] + tcp_rexmit_slop, capped at TCPTV_REXMTMAX (64 s);
    # connect() ends at net.inet.tcp.keepinit (75 s); the syncache gives up after rexmtlimit (3) resends
    p = get_profile("freebsd").params
    assert syn_retransmit_times(p) == [1.0, 3.2, 7.4, 15.6, 31.8, 64.0]
    assert syn_give_up_time(p) == 75.0
    assert synack_retransmit_times(p) == [1.0, 3.2, 7.4]
    assert syn_give_up_time(get_profile("freebsd", keepinit=5000).params) == 5.0
