"""The ``sdconsole`` command line: parses flags, builds settings, runs one command.

Each command lives in ``sdconsole/commands/<name>.py`` with ``register(sub)``
adding its parser and a ``run(args, settings)`` returning the exit status.
Errors reach the operator as one line on stderr with the documented exit
status (see ``sdconsole.engine.runtime.errors``); never as a traceback.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from pathlib import Path
from typing import NoReturn

from sdconsole import __version__
from sdconsole.commands import COMMANDS
from sdconsole.engine.runtime.errors import BadInput, EngineError
from sdconsole.engine.runtime.run import one_line
from sdconsole.settings import SettingsError, load_settings

EPILOG = """exit status: 0 ok, 1 internal error, 2 bad input, 3 preflight failed,
4 quality gate refused, 5 validation failed, 6 locked by another run,
7 stopped at a gate (use --yes), 8 canary failed, 9 stage failed, 10 interrupted"""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the usage is in --help) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="sdconsole",
        description="Migrate a ServiceDesk SQLite database to PostgreSQL, safely.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sdconsole {__version__}")
    parser.add_argument("--config", type=Path, help="sdconsole.toml (or SDCONSOLE_CONFIG)")
    parser.add_argument("--workdir", type=Path, help="work dir (runs, backups, embedded server)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # psycopg logs what it ignores while a dying connection closes ("error ignored
    # terminating ..."): the operator gets one line for the error itself, not that too.
    logging.getLogger("psycopg").addHandler(logging.NullHandler())
    logging.getLogger("psycopg").propagate = False
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.command is None:  # plain ``sdconsole`` opens the console
        args = parser.parse_args([*argv, "tui"])
    args.argv = argv  # what a command that starts another process of itself passes on
    flags = {name: getattr(args, name, None) for name in SETTING_FLAGS}
    try:
        settings = load_settings(args.config, **flags)
        settings = settings.model_copy(update={"workdir": ready_workdir(settings.workdir)})
        return args.run(args, settings)
    except SettingsError as exc:
        return fail(str(exc), 2)
    except EngineError as exc:
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return fail("interrupted", 10)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # a bug: one line, and the traceback on request
        if os.environ.get("SDCONSOLE_DEBUG"):
            raise
        return fail(f"internal error: {one_line(exc)} (set SDCONSOLE_DEBUG=1 for the traceback)", 1)


GC_THRESHOLD = 100_000  # allocations between two young collections (Python's default: 700)

# Flags that are also settings; commands add the ones they take.
SETTING_FLAGS = (
    "workdir",
    "target_dsn",
    "source",
    "theme",
    "stable_schema",
    "quality_threshold",
    "canary_fraction",
    "date_order",
)


def ready_workdir(path: Path) -> Path:
    """The work dir as an absolute path (a relative one is of the current directory),
    created when it does not exist, and then named on stderr: a mistyped path does not
    become an empty work dir unnoticed. A path that is not a writable directory is bad
    input."""
    path = Path(os.path.abspath(path.expanduser()))
    if not path.exists():
        try:
            path.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise BadInput(f"cannot create the work dir {path}: {exc.strerror or exc}") from None
        print(f"sdconsole: created the work dir {path}", file=sys.stderr)
    elif not path.is_dir():
        raise BadInput(f"work dir {path} is not a directory")
    elif not os.access(path, os.W_OK | os.X_OK):
        raise BadInput(f"work dir {path} is not writable")
    return path


def fail(message: str, status: int) -> int:
    print(f"sdconsole: error: {message}", file=sys.stderr)
    return status


def entry() -> None:
    """The console script.

    The engine makes and drops rows by the million, freed by their reference
    counts; collecting every 700 allocations would scan live chunks for
    cycles they never form. So the modules' objects are frozen out of
    collections, the threshold is high, and at exit everything is frozen:
    a final collection would find nothing to free (about 0.1 s each).
    """
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD)
    status = main()
    gc.freeze()
    sys.exit(status)
