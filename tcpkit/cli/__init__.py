"""The ``tcpkit`` command line (also ``python -m tcpkit``).

Each subcommand lives in its own module of this package; this file only
dispatches, so ``tcpkit --help`` stays fast.

>>> main(["--version"])
tcpkit 0.1.0
0
"""

from __future__ import annotations

import importlib
import sys

#: subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "pkt": ("tcpkit.cli.pkt", "run packetdrill scripts against the engine"),
    "scenario": ("tcpkit.cli.scenario", "list or run a named scenario and print its trace"),
    "profile": ("tcpkit.cli.profile", "show a profile's knobs, defaults and ranges"),
    "pcap": ("tcpkit.cli.pcap", "export a trace to pcap, or import a capture and annotate it"),
    "course": ("tcpkit.cli.course", "build student homework or grade submissions"),
    "live": ("tcpkit.cli.live", "run the real-kernel lab on this machine"),
}


def _usage() -> str:
    lines = ["usage: tcpkit COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "Run 'tcpkit COMMAND --help' for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0 if args else 2
    if args[0] == "--version":
        from tcpkit import __version__

        print(f"tcpkit {__version__}")
        return 0
    name = args[0]
    if name not in SUBCOMMANDS:
        print(f"tcpkit: unknown command {name!r}; known commands: {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    result: int = module.main(args[1:])
    return result
