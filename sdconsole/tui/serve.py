"""The console in a browser: textual-serve on 127.0.0.1 only, behind a random token.

textual-serve has no authentication; this adds it. The token is printed at
start, in the one URL to open (through an SSH tunnel: ``ssh -L PORT:127.0.0.1:PORT
host``). The first request with it gets an HttpOnly, SameSite=Strict cookie
and a redirect to the same page without the token, so the token stays out of
the address bar, the history and any log (aiohttp's access log is off).
Without the cookie nothing is served, not even the static files. The
WebSocket is refused unless its Origin is the page's own (cross-site WebSocket
hijacking). Each browser connection starts its own console process: the
``command`` given, which inherits this process's environment (SDCONSOLE_*).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from textual_serve.server import Server

COOKIE = "sdconsole_session"
HOST = "127.0.0.1"


class TokenServer(Server):
    """A textual-serve Server that serves only a browser that showed the token."""

    def __init__(self, command: str, port: int, token: str) -> None:
        super().__init__(command, host=HOST, port=port, title="sdconsole")
        self.token = token

    @property
    def url(self) -> str:
        """The URL to open, token included (printed once, at start)."""
        return f"{self.public_url}/?token={self.token}"

    def initialize_logging(self) -> None:
        """textual-serve's logging, without the access log (a URL may carry the token)."""
        super().initialize_logging()
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def on_startup(self, app: web.Application) -> None:
        self.console.print(
            f"sdconsole in a browser: open {self.url}", highlight=False, soft_wrap=True
        )
        self.console.print(
            f"(from another machine: ssh -L {self.port}:{HOST}:{self.port}"
            " this-host, then open the URL there; ctrl+c stops)",
            highlight=False,
        )

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Token -> cookie and a clean URL; no cookie, or a foreign Origin: 403."""
        if secrets.compare_digest(request.query.get("token", ""), self.token):
            clean = request.rel_url.without_query_params("token")
            response = web.HTTPFound(str(clean))
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
            raise response
        if not secrets.compare_digest(request.cookies.get(COOKIE, ""), self.token):
            raise web.HTTPForbidden(text="sdconsole: open the URL printed at start")
        origin = request.headers.get("Origin")
        if request.path == "/ws" and origin != f"http://{request.host}":
            raise web.HTTPForbidden(text="sdconsole: the console's own page only")
        return await handler(request)


def serve(command: str, port: int, token: str | None = None) -> None:
    """Serve the console at http://127.0.0.1:``port`` until interrupted."""
    TokenServer(command, port, token or secrets.token_urlsafe(24)).serve()
