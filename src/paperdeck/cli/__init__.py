"""The ``paperdeck`` command line: a thin layer that parses flags and prints results.

Exit codes: 0 success, 1 errors in the notes (or warnings under ``--strict``), 2 usage.
Each command group lives in its own module; this one only assembles them.
"""

from __future__ import annotations

import click

from paperdeck import __version__
from paperdeck.cli.build import build, check, figures, watch
from paperdeck.cli.collection import import_command, sync_command
from paperdeck.cli.preview import preview
from paperdeck.cli.report import report_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paperdeck")
def main() -> None:
    """Turn Obsidian paper notes into Anki decks.

    \b
    Example:
        paperdeck build notes/          # writes cards/notes.apkg
    """


for command in (build, check, figures, watch, import_command, sync_command, preview):
    main.add_command(command)
main.add_command(report_command)
