"""`python -m paperdeck` runs the CLI."""

from paperdeck.cli import main

main()
