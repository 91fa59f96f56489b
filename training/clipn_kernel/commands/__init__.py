"""CLI commands: each module exposes add_parser(subparsers) and sets a `run` default."""
