"""The command-line commands, one module each, in the order ``--help`` lists them."""

from sdconsole.commands import sample

COMMANDS = [sample]
