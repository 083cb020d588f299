"""The flag-notation key every widget that prints ``S  S.  .  P.  F.  R  R.`` shows beside it.

The letters are tcpdump's (and packetdrill's): ``S`` SYN, ``F`` FIN, ``R`` RST,
``P`` PSH, and a dot for ACK.  The meanings come from the course glossary
(:func:`tcpkit.i18n.flag_key`), in the current language; each letter also has
its full sentence as hover text.

Examples
--------
>>> from tcpkit.i18n import set_language
>>> "<code><b>S.</b></code> SYN and ACK (a SYN-ACK)" in flag_key_html()
True
>>> flag_tooltips(["S", "F.", "-"])[1]
'F. = FIN and ACK: the sender has no more data to send in its direction (it also acknowledges).'
>>> set_language("zh"); "标志位" in flag_key_html(); set_language("en")
True
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import ipywidgets as W

from tcpkit.i18n import flag_key, register, tr

__all__ = ["flag_key_html", "flag_tooltips", "FlagKey"]

register(
    {
        "w.flagkey.title": ("Flags:", "标志位："),
        "w.flagkey.dot": ("(a dot = ACK)", "（点号 = ACK）"),
    }
)


def flag_key_html(letters: Sequence[str] | None = None) -> str:
    """A one-line legend, e.g. ``S SYN · S. SYN+ACK · . ACK ...``, with each meaning as hover text."""
    terms = [t for t in flag_key() if letters is None or t.name in letters]
    items = " · ".join(
        f"<span title='{html.escape(t.text(), quote=True)}' style='white-space:nowrap'>"
        f"<code><b>{html.escape(t.name)}</b></code> {html.escape(_short(t.text()))}</span>"
        for t in terms
    )
    return (
        f"<div class='tcpkit-flagkey' style='font-size:small;color:#444'>"
        f"{html.escape(tr('w.flagkey.title'))} {items} {html.escape(tr('w.flagkey.dot'))}</div>"
    )


def _short(meaning: str) -> str:
    """The part of a flag's meaning before its colon: ``SYN and ACK (a SYN-ACK)``."""
    return re.split(r"[:：]", meaning, maxsplit=1)[0]


def flag_tooltips(letters: Sequence[str]) -> list[str]:
    """Hover text for buttons labelled with flag letters (one per letter, in order)."""
    by_name = {t.name: t for t in flag_key()}
    out = []
    for letter in letters:
        t = by_name.get(letter)
        out.append(f"{letter} = {t.text()}" if t is not None else letter)
    return out


class FlagKey:
    """A small HTML widget holding the legend; :meth:`refresh` rewrites it in the current language."""

    def __init__(self, letters: Sequence[str] | None = None) -> None:
        self.letters = list(letters) if letters is not None else None
        self.widget = W.HTML(flag_key_html(self.letters))

    def refresh(self) -> None:
        self.widget.value = flag_key_html(self.letters)
