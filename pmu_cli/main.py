"""`pmu`: one command line for the warehouse. Each subsystem adds its sub-commands in its own
module (`pmu_cli/cmd_*.py`, a `register(subparsers)` function) listed in COMMAND_MODULES."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES = (
    "pmu_cli.cmd_db",
    "pmu_cli.cmd_replay",
    "pmu_cli.cmd_demo",
    "pmu_cli.cmd_ingest",
    "pmu_cli.cmd_ml",
    "pmu_cli.cmd_price",
    "pmu_cli.cmd_bets",
    "pmu_cli.cmd_ui",
    "pmu_cli.cmd_synth",
    "pmu_cli.cmd_features",
    "pmu_cli.cmd_serve",
    "pmu_cli.cmd_docs",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmu", description="PMU horse-racing warehouse")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
