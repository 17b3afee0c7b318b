"""The command-line commands, one module each, in the order ``--help`` lists them."""

from sdconsole.commands import (
    clean,
    demo,
    metrics,
    migrate,
    preflight,
    profile,
    queries,
    resume,
    rollback,
    sample,
    status,
    tui,
)

COMMANDS = [tui, demo, sample, preflight, profile, clean, migrate, resume, rollback, status,
            queries, metrics]
