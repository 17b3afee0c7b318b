"""Flags several commands share."""

from __future__ import annotations

import argparse


def target_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--target DSN`` (unset: the embedded server under the work dir)."""
    parser.add_argument(
        "--target",
        dest="target_dsn",
        metavar="DSN",
        help="PostgreSQL DSN (default: embedded server in the work dir)",
    )
