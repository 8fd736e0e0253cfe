"""The command line: thin Click commands over the library. Parse, call, format."""

from __future__ import annotations

import click

from attuned import __version__


@click.group()
@click.version_option(__version__, prog_name="attuned")
def cli() -> None:
    """attuned: gentle nudges for practising attunement with your partner."""


def main() -> None:
    cli()
