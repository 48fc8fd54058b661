"""The ``gridpatrol`` command line on Click: one module per domain group, the shared context in
:mod:`api.cli.context`, the root group in :mod:`api.cli.app`."""

from api.cli.app import cli, main

__all__ = ["cli", "main"]
