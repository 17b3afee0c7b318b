"""The operator runbook: the Markdown files shipped in the sdconsole.runbook package."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import MarkdownViewer, OptionList, Static

from sdconsole.tui.widgets.footer import ConsoleFooter


def runbook_pages() -> list[Path]:
    """The runbook's pages, index first, then by file name."""
    root = Path(str(files("sdconsole.runbook")))
    pages = sorted(root.glob("*.md"), key=lambda p: (p.stem != "index", p.name))
    return pages


def page_title(path: Path) -> str:
    """The first heading of a page, or its file name."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return path.stem


class RunbookScreen(Screen):
    TITLE = "Runbook"
    BINDINGS = [
        Binding("escape", "close", "Back", id="back"),
        Binding("tab", "app.focus_next", "Pages or page text", id="focus_next", show=False),
    ]

    def compose(self) -> ComposeResult:
        self.pages = runbook_pages()
        yield Static("Runbook", classes="title")
        with Horizontal():
            yield OptionList(*(page_title(p) for p in self.pages), id="pages")
            yield MarkdownViewer(show_table_of_contents=False)
        yield ConsoleFooter()

    async def on_mount(self) -> None:
        if self.pages:
            await self.query_one(MarkdownViewer).go(self.pages[0])

    @on(OptionList.OptionHighlighted, "#pages")
    async def _open(self, event: OptionList.OptionHighlighted) -> None:
        await self.query_one(MarkdownViewer).go(self.pages[event.option_index])

    def action_close(self) -> None:
        self.dismiss()
