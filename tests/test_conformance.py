"""The engine against real kernel packetdrill scripts (../shared/conformance).

One test per script: ``freebsd-state-event/`` runs with the ``freebsd``
profile, ``linux/`` with the ``linux`` profile.  A script the engine does not
pass is listed in :data:`OUT_OF_SCOPE` with the reason and runs as a strict
xfail, so a script that starts passing must be taken off the list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tcpkit.drivers.packetdrill import run_file

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"

if not CONFORMANCE.is_dir():
    pytest.skip(
        f"the shared conformance scripts are not at {CONFORMANCE} (check out ../shared beside the repo)",
        allow_module_level=True,
    )

#: script file name -> why the engine does not pass it (re-derived from a real run).
OUT_OF_SCOPE: dict[str, str] = {
    "packetdrill_blocking_blocking-write.pkt": (
        "Linux wakes a blocked write() by skb truesize accounting (sk_wmem_queued vs sk_sndbuf, "
        "sk_stream_is_writeable): the script needs ack 30001 NOT to wake it and ack 36001 to wake it; "
        "the model counts payload bytes, so write() returns at 0.4 s instead of 0.5 s"
    ),
}

PROFILE_OF = {"freebsd-state-event": "freebsd", "linux": "linux"}


def _scripts() -> list[tuple[str, Path]]:
    out = []
    for folder, profile in PROFILE_OF.items():
        for path in sorted((CONFORMANCE / folder).rglob("*.pkt")):
            out.append((profile, path))
    return out


def _params() -> list[object]:
    params: list[object] = []
    for profile, path in _scripts():
        marks = []
        if path.name in OUT_OF_SCOPE:
            marks.append(pytest.mark.xfail(strict=True, reason=OUT_OF_SCOPE[path.name]))
        params.append(pytest.param(profile, path, id=f"{profile}/{path.name}", marks=marks))
    return params


def test_out_of_scope_names_exist() -> None:
    names = {p.name for _, p in _scripts()}
    assert set(OUT_OF_SCOPE) <= names, sorted(set(OUT_OF_SCOPE) - names)


@pytest.mark.parametrize(("profile", "path"), _params())
def test_conformance(profile: str, path: Path) -> None:
    result = run_file(path, profile=profile)
    assert result.passed, result.summary()
