"""`python -m clipn_kernel <command>`: the kernel's command line."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes add_parser(subparsers); a module that fails to import names itself.
COMMAND_MODULES = (
    "clipn_kernel.commands.export_cmd",
    "clipn_kernel.commands.tokenize_cmd",
    "clipn_kernel.goldens",
    "clipn_kernel.demo.cli",
    "clipn_kernel.train_prompts",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m clipn_kernel", description="CLIPN kernel: model, export, demo model, prompt training")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):  # the command is not part of this build
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
