"""Myth-versus-fact boxes: find them in a notebook's Markdown and check them against the known errata.

A box is a Markdown blockquote that opens with ``> **Myth:**`` (the wrong
belief, as people state it) and goes on with ``> **Fact:**`` (what is true,
with its source: an RFC section or a kernel file).  A box about one of the
errata the course corrects is preceded by an HTML comment naming it, e.g.
``<!-- myth 7 -->``, which renders as nothing.

:data:`ERRATA` lists the errata (the wrong beliefs found in the blog posts the
course was built from), the notebooks that teach each topic, and words the
fact must contain, so that a marker cannot sit on a box about something else.

Examples
--------
>>> text = '''<!-- myth 3 -->
... > **Myth:** "The ISN clock ticks every 4 ms."
... >
... > **Fact:** RFC 793 §3.3 makes it about 4 microseconds per tick.
... '''
>>> [(b.erratum, b.myth) for b in myth_boxes(text)]
[(3, '"The ISN clock ticks every 4 ms."')]
>>> problems({"02": text}, need_all=False)
[]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Erratum", "ERRATA", "MythBox", "myth_boxes", "problems", "SOURCE"]


@dataclass(frozen=True)
class Erratum:
    """One wrong belief the course corrects: where it is taught, and words its fact must contain."""

    title: str
    notebooks: tuple[str, ...]
    fact_words: tuple[str, ...]


#: Erratum number (as in the course's source notes) -> where it is taught and what its fact must say.
ERRATA: dict[int, Erratum] = {
    1: Erratum("tcp_fin_timeout is not the MSL and does not set TIME_WAIT", ("04", "05"), (r"FIN_WAIT_2", r"60")),
    2: Erratum("RFC 2MSL is 240 s; Linux 60 s, FreeBSD 2 x 30 s, Windows 240 s", ("05",), (r"240",)),
    3: Erratum("RFC 793's ISN clock ticks every 4 microseconds, not 4 ms", ("02",), (r"microsecond|µs",)),
    4: Erratum("tcp_tw_recycle was removed in Linux 4.12", ("05",), (r"4\.12",)),
    5: Erratum(
        "tcp_tw_reuse is for outgoing connect() only, needs timestamps, default 2",
        ("05",),
        (r"connect\(\)", r"timestamp", r"loopback"),
    ),
    6: Erratum("Linux SYN-ACK retries default to 5: dropped at 63 s", ("03",), (r"63",)),
    7: Erratum("tcp_syn_retries is 6 with 4 linear timeouts: about 131 s", ("01",), (r"131",)),
    8: Erratum("the accept queue holds min(backlog, somaxconn) + 1; somaxconn 4096", ("03",), (r"\+ ?1", r"4096")),
    9: Erratum("the SYN queue is not max(64, tcp_max_syn_backlog) any more", ("03",), (r"tcp_max_syn_backlog",)),
    10: Erratum("tcp_abort_on_overflow = 0 does not refuse the client", ("03",), (r"ESTABLISHED",)),
    11: Erratum(
        "a Linux SYN cookie keeps 4 MSS values; options only with timestamps", ("03",), (r"1460", r"timestamp")
    ),
    12: Erratum(
        "the state names are SYN_RECEIVED and CLOSE_WAIT", ("00", "01", "04"), (r"SYN[-_]RECEIVED", r"CLOSE[-_]WAIT")
    ),
    13: Erratum("a FIN_WAIT_1 side still sends ACKs; half-close is one direction", ("04",), (r"ACK",)),
    14: Erratum("data on the SYN is possible with TCP Fast Open", ("01",), (r"Fast Open|7413",)),
    15: Erratum("with tcp_rfc1337 = 0 an RST kills a Linux TIME_WAIT socket", ("05",), (r"1337",)),
    16: Erratum("keepalive 7875 s are defaults; per-socket options override them", ("05",), (r"TCP_KEEPIDLE", r"7875")),
}

#: A fact must name where it comes from: an RFC section, a kernel source file or the kernel's sysctl page.
SOURCE = re.compile(r"RFC ?\d+|\b[\w/-]+\.[ch]\b|ip-sysctl|tcp_fsm\.h")

_MARK = re.compile(r"<!--\s*myth\s+(\d+)\s*-->")


@dataclass(frozen=True)
class MythBox:
    """One box: the wrong belief, the fact, the erratum it corrects (if marked), where it sits."""

    myth: str
    fact: str
    erratum: int | None
    line: int


def myth_boxes(markdown: str) -> list[MythBox]:
    """Every myth-vs-fact box in a Markdown text, in order."""
    lines = markdown.splitlines()
    boxes = []
    i = 0
    while i < len(lines):
        if not lines[i].lstrip().startswith(">"):
            i += 1
            continue
        start = i
        quote = []
        while i < len(lines) and lines[i].lstrip().startswith(">"):
            quote.append(re.sub(r"^\s*>\s?", "", lines[i]))
            i += 1
        body = "\n".join(quote).strip()
        if not body.startswith("**Myth:**"):
            continue
        myth, sep, fact = body[len("**Myth:**") :].partition("**Fact:**")
        prev = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        mark = _MARK.search(prev)
        boxes.append(
            MythBox(
                " ".join(myth.split()),
                " ".join(fact.split()) if sep else "",
                int(mark.group(1)) if mark else None,
                start + 1,
            )
        )
    return boxes


def problems(sources: Mapping[str, str], *, need_all: bool = True, minimum: int = 16) -> list[str]:
    """What is wrong with the boxes of ``sources`` (notebook number -> Markdown); empty when all is well.

    Checks every box (a myth, a fact with a source, a marker that names a real
    erratum taught in that notebook, the erratum's words in the fact) and, with
    ``need_all``, that every erratum has a box, that notebooks 01-05 have one
    each, and that there are at least ``minimum`` boxes in 01-05.
    """
    out = []
    covered: set[int] = set()
    count: dict[str, int] = {}
    for nb, text in sources.items():
        for b in myth_boxes(text):
            where = f"{nb}, line {b.line}"
            count[nb] = count.get(nb, 0) + 1
            if not b.myth:
                out.append(f"{where}: the box states no myth")
            if not b.fact:
                out.append(f"{where}: the box has no '**Fact:**' line")
            elif not SOURCE.search(b.fact):
                out.append(f"{where}: the fact names no source (an RFC section or a kernel file)")
            if b.erratum is None:
                continue
            e = ERRATA.get(b.erratum)
            if e is None:
                out.append(f"{where}: <!-- myth {b.erratum} --> is not an erratum (1 to {len(ERRATA)})")
                continue
            if nb not in e.notebooks:
                out.append(f"{where}: erratum {b.erratum} ({e.title}) is taught in {', '.join(e.notebooks)}")
            missing = [w for w in e.fact_words if not re.search(w, b.fact)]
            if missing:
                out.append(f"{where}: the fact of erratum {b.erratum} does not say {missing}")
            covered.add(b.erratum)
    if need_all:
        out += [f"erratum {n} ({e.title}) has no box" for n, e in ERRATA.items() if n not in covered]
        out += [f"notebook {nb} has no myth-vs-fact box" for nb in ("01", "02", "03", "04", "05") if not count.get(nb)]
        total = sum(v for k, v in count.items() if k in ("01", "02", "03", "04", "05"))
        if total < minimum:
            out.append(f"notebooks 01-05 have {total} myth-vs-fact boxes; the course wants at least {minimum}")
    return out
