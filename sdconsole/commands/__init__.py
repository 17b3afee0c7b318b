"""The command-line commands, one module each, in the order ``--help`` lists them."""

from sdconsole.commands import (
    attach,
    clean,
    demo,
    metrics,
    migrate,
    preflight,
    profile,
    queries,
    resume,
    rollback,
    runs,
    sample,
    serve,
    status,
    tui,
)

COMMANDS = [
    tui,
    serve,
    demo,
    sample,
    preflight,
    profile,
    clean,
    migrate,
    attach,
    runs,
    resume,
    rollback,
    status,
    queries,
    metrics,
]
