"""``python -m sdconsole`` runs the command line."""

from sdconsole.cli import entry

entry()
