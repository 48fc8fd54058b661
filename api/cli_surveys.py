"""CLI commands for surveys (registered by api.cli.build_parser)."""

from __future__ import annotations


def register(sub, add) -> None:
    """Add this module's sub-commands: ``sub`` is the top-level subparsers, ``add(name, fn, help, parent)``."""
