"""The runbook ships in the package and cannot drift from the tool it describes."""

from __future__ import annotations

import re
import shlex
from importlib import resources

import pytest

from sdconsole.cli import build_parser
from sdconsole.engine.runtime import metrics

PAGES = (
    "index.md",
    "deployment-checklist.md",
    "quarterly-import.md",
    "profile-and-quality.md",
    "preflight.md",
    "rollback.md",
    "monitoring.md",
    "troubleshooting.md",
    "exit-codes.md",
    "console.md",
)
FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"\]\(([^)#\s]+\.md)(#[^)]*)?\)")


def runbook() -> dict[str, str]:
    folder = resources.files("sdconsole.runbook")
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".md")
    }


def command_lines(name: str, text: str) -> list[tuple[str, int, str]]:
    """``sdconsole ...`` lines inside fenced code blocks, backslash continuations joined."""
    found = []
    inside = False
    pending: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            continue
        if pending is not None:
            start, joined = pending
            line = joined + " " + line.strip()
            number = start
        stripped = line.strip().removeprefix("$ ")
        if stripped.endswith("\\"):
            pending = (number, stripped[:-1].rstrip())
            continue
        pending = None
        if stripped.startswith("sdconsole "):
            found.append((name, number, stripped))
    return found


ALL_COMMANDS = [c for name, text in sorted(runbook().items()) for c in command_lines(name, text)]


def test_runbook_pages_are_found_in_the_installed_package():
    pages = runbook()
    assert set(PAGES) <= set(pages)
    assert all(pages[name].startswith("# ") for name in PAGES)


def test_index_links_every_page_and_every_link_points_at_a_page():
    pages = runbook()
    linked_from_index = {m.group(1) for m in LINK.finditer(pages["index.md"])}
    assert linked_from_index == set(PAGES) - {"index.md"}
    for name, text in pages.items():
        for match in LINK.finditer(text):
            assert match.group(1) in pages, f"{name} links to missing {match.group(1)}"


def test_the_runbook_shows_commands_of_every_kind():
    commands = {shlex.split(line, comments=True)[1] for _, _, line in ALL_COMMANDS}
    assert commands >= {
        "migrate",
        "rollback",
        "status",
        "preflight",
        "profile",
        "clean",
        "queries",
        "metrics",
        "demo",
        "sample",
        "tui",
    }


@pytest.mark.parametrize(
    ("page", "line", "command"), ALL_COMMANDS, ids=[f"{p}:{n}" for p, n, _ in ALL_COMMANDS]
)
def test_every_command_line_in_the_runbook_parses(page, line, command, capsys):
    argv = shlex.split(command, comments=True)[1:]
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):  # --help and --version exit 0
            reason = capsys.readouterr().err.strip()
            pytest.fail(f"runbook/{page} line {line}: {command!r} does not parse: {reason}")


def test_monitoring_page_documents_every_metric():
    text = runbook()["monitoring.md"]
    names = {
        spec[0]
        for spec in (
            *metrics.SCALARS.values(),
            *metrics.LABELLED.values(),
            *metrics.STATES.values(),
        )
    }
    names |= {"sdconsole_run_info", "sdconsole_metadata_up"}
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"monitoring.md does not list {missing}"


def test_exit_codes_page_lists_every_status_the_cli_documents():
    from sdconsole.cli import EPILOG

    text = runbook()["exit-codes.md"]
    documented = {int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", text, re.MULTILINE)}
    promised = {int(n) for n in re.findall(r"(\d+) [a-z]", EPILOG)}
    assert documented == promised == set(range(11))
