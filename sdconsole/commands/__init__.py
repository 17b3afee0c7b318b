"""The command-line commands, one module each, in the order ``--help`` lists them."""

from sdconsole.commands import metrics, queries, rollback, sample, status

COMMANDS = [sample, rollback, status, queries, metrics]
