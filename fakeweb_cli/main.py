"""Entry point of the ``fakeweb`` command.

Each subcommand lives in its own module exposing ``register(subparsers) -> parser`` and
``run(args) -> int`` (a module may instead set ``handler`` defaults on nested subparsers,
as ``fakeweb model`` does). Add a module to ``COMMAND_MODULES`` to add a command; modules
import heavy libraries inside their handlers so every command starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from services.runtime.version import VERSION

COMMAND_MODULES = ("fakeweb_cli.scan", "fakeweb_cli.jobs", "fakeweb_cli.model")


def build_parser() -> argparse.ArgumentParser:
    """The ``fakeweb`` parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="fakeweb", description="FakeWeb: find manipulated faces in photos.")
    parser.add_argument("--version", action="version", version=f"fakeweb {VERSION}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        command = module.register(subparsers)
        if command.get_default("handler") is None:
            command.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; return the exit code."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
