"""``python -m backendkit <command>``: ``info`` (diagnostics), ``bench`` (benchmark)
and ``launch`` (a script as several processes).

Each command lives in its concern's module, which provides ``add_arguments(parser)``
and ``run(args) -> int``; this file only dispatches, importing a command's module when
that command is used.
"""

from __future__ import annotations

import argparse
import importlib
import sys

_COMMANDS = {
    "info": ("backendkit.diagnostics", "report the installed backends, devices and Keras"),
    "bench": ("backendkit.bench.cli", "time workloads on every backend, each in its own process"),
    "launch": ("backendkit.launch", "run a script as N processes of one distributed run"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backendkit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (module_name, help_text) in _COMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(commands.add_parser(name, help=help_text, description=help_text))
        modules[name] = module
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args))


if __name__ == "__main__":
    sys.exit(main())
