"""The console in a browser: textual-serve on 127.0.0.1 behind a token, driven in headless Chromium.

The server runs in a process of its own, as an operator starts it, and each
browser connection starts a real console, which starts real run processes
on a real PostgreSQL. The browser is Chromium from Debian's packages, driven over the
DevTools protocol: it loads the page with the token, presses keys in the
terminal, and the test reads what the page received and takes a screenshot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time

import aiohttp
import pytest
from cli_argv import sdconsole_argv
from test_tui_keys import end_runs
from yarl import URL

from sdconsole.tui.serve import COOKIE

CHROMIUM = shutil.which("chromium")

CAPTURE = """
window.__screen = "";
const decoder = new TextDecoder();
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Native(...args);
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) {
      window.__screen += decoder.decode(event.data, {stream: true});
    } else if (event.data instanceof Blob) {
      event.data.arrayBuffer().then((b) => { window.__screen += decoder.decode(b); });
    }
  });
  return socket;
};
window.WebSocket.prototype = Native.prototype;
"""
"""What the page receives over its WebSocket: the console's output, as the page draws it."""


def listening(port: int, seconds: float = 30.0) -> None:
    """Wait until something accepts connections on ``port`` of 127.0.0.1."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(settings, sample_db, tmp_path):
    """The server process serving a console on the sample; (base URL, URL with token)."""
    port = free_port()
    command = shlex.join([sys.executable, "-m", "sdconsole", "tui", str(sample_db)])
    env = {
        **os.environ,
        "SDCONSOLE_WORKDIR": str(settings.workdir),
        "SDCONSOLE_TARGET_DSN": settings.target_dsn,
        "COLUMNS": "200",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; from sdconsole.tui.serve import serve; serve(sys.argv[1], {port})",
            command,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = server.stdout.readline()
    found = re.search(r"open (http://127\.0\.0\.1:\d+/\?token=\S+)", line)
    assert found, line
    listening(port)  # the address is printed before the server binds it
    yield f"http://127.0.0.1:{port}", found.group(1)
    server.terminate()
    server.wait(timeout=30)
    end_runs(settings.workdir)


async def test_nothing_is_served_without_the_token(served):
    base, with_token = served
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for path in ("/", "/static/css/xterm.css", "/ws", "/?token=wrong"):
            async with http.get(base + path) as response:
                assert response.status == 403, path
        async with http.get(with_token, allow_redirects=False) as response:
            assert response.status == 302
            assert response.headers["Location"] == "/", "the token leaves the URL"
            cookie = response.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert http.cookie_jar.filter_cookies(URL(base)).get(COOKIE)
        async with http.get(base + "/") as response:
            assert response.status == 200
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(base + "/ws", origin="http://evil.example")
        assert refused.value.status == 403, "another site's page may not drive the console"


class DevTools:
    """Just enough of the Chrome DevTools protocol: one page, commands and their answers."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.next_id = 0

    async def __call__(self, method: str, **params) -> dict:
        self.next_id += 1
        await self.socket.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = json.loads((await self.socket.receive()).data)
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message.get("result", {})

    async def screen(self) -> str:
        found = await self("Runtime.evaluate", expression="window.__screen || ''")
        return found["result"]["value"]

    async def wait_for(self, text: str, seconds: float = 60) -> str:
        for _ in range(int(seconds * 10)):
            screen = await self.screen()
            if text in screen:
                return screen
            await asyncio.sleep(0.1)
        raise AssertionError(f"{text!r} never reached the page")

    async def press(self, key: str) -> None:
        code = f"Key{key.upper()}"
        for kind in ("keyDown", "keyUp"):
            await self(
                "Input.dispatchKeyEvent",
                type=kind,
                key=key,
                code=code,
                text=key if kind == "keyDown" else "",
                windowsVirtualKeyCode=ord(key.upper()),
            )


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install -y chromium")
async def test_a_browser_drives_the_console_from_home_to_the_quality_gate(served, tmp_path):
    _, with_token = served
    port = free_port()
    browser = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1280,800",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/json/list") as response:
                        pages = [t for t in await response.json() if t["type"] == "page"]
                    if pages:
                        break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as socket_:
                page = DevTools(socket_)
                await page("Page.enable")
                await page("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE)
                await page("Page.navigate", url=with_token)
                await page.wait_for("New migration")
                location = await page("Runtime.evaluate", expression="location.href")
                assert "token" not in location["result"]["value"], "a clean URL"

                await page(
                    "Runtime.evaluate",
                    expression=("document.querySelector('.xterm-helper-textarea').focus()"),
                )
                await page.press("n")
                screen = await page.wait_for("enter previews the clean")
                assert "Profile" in screen and "passed" in screen, "the run waits at the gate"

                shot = await page("Page.captureScreenshot", format="png")
                png = base64.b64decode(shot["data"])
                (tmp_path / "profile.png").write_bytes(png)
                assert png.startswith(b"\x89PNG") and len(png) > 20_000, "a drawn page"
    finally:
        browser.terminate()
        browser.wait(timeout=30)


def test_the_serve_command_serves_behind_a_token(settings, sample_db) -> None:
    """`sdconsole serve`: 127.0.0.1 only, the token printed at start, nothing without it."""
    import urllib.error
    import urllib.request

    port = free_port()
    server = subprocess.Popen(
        sdconsole_argv(settings, "serve", str(sample_db), "--port", str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ),
    )
    try:
        line = server.stdout.readline()
        found = re.search(r"open (http://127\.0\.0\.1:(\d+)/\?token=\S+)", line)
        assert found and int(found.group(2)) == port, line
        listening(port)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/")
        assert refused.value.code == 403
    finally:
        server.terminate()
        server.wait(timeout=30)
