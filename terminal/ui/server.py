"""The kiosk web application: pages, a small JSON API, server-sent events, served on 127.0.0.1.

`terminal.wiring.open_terminal` builds the running terminal; `create_app`
puts the routers of `terminal.ui.routes` in front of it; `run` serves it with
uvicorn on a socket bound before start-up, so the URL printed is already
reachable.
"""

import asyncio
import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from terminal.app.errors import TillError
from terminal.i18n import LANGUAGES
from terminal.ui.display_token import DisplayToken
from terminal.ui.i18n import N_
from terminal.ui.routes import ROUTERS, simulator
from terminal.wiring import Terminal

STATIC = Path(__file__).resolve().parent / "static"
UNEXPECTED = N_("The terminal had a problem with that request. Check the screen, then try again; if it happens "
                "again, call the technician.")
log = logging.getLogger(__name__)


def create_app(terminal: Terminal) -> FastAPI:
    till = terminal.kiosk
    ready = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        till.events.attach(asyncio.get_running_loop())
        terminal.start()
        ready.set()
        try:
            yield
        finally:
            terminal.close()

    app = FastAPI(title="StallPay terminal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.terminal = terminal
    app.state.ready = ready
    app.state.display_token = DisplayToken()  # per boot: binds the guest's answers to this board's display
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(TillError)
    async def till_error(request: Request, exc: TillError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer echoes the input back: never a PIN on the screen or in a proxy log.
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return JSONResponse({"code": "bad_request", "message": till.tr(N_("Invalid input")) + ": " + "; ".join(parts)},
                            status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        # a fault of the terminal's own: logged with its traceback, answered in words the kiosk can show (never
        # a bare "Internal Server Error", nor the exception's text, which may name internals)
        log.error("kiosk request %s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"code": "internal", "message": till.tr(UNEXPECTED)}, status_code=503,
                            headers={"Retry-After": "1"})

    for router in ROUTERS:
        app.include_router(router)
    if terminal.simulator is not None:
        _simulator_errors(app)
        app.include_router(simulator.router)
    return app


def _simulator_errors(app: FastAPI) -> None:
    from terminal.ui.simulator import SimulatorError

    @app.exception_handler(SimulatorError)
    async def sim_error(request: Request, exc: SimulatorError) -> JSONResponse:
        return JSONResponse({"code": "simulator", "message": str(exc)}, status_code=404)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket bound now: port 0 picks a free port, and the URL works before uvicorn accepts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def make_server(app: FastAPI, sock: socket.socket) -> Any:
    import uvicorn

    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    server._sock = sock  # type: ignore[attr-defined]
    return server


def run(app: FastAPI, sock: socket.socket, *, on_ready: Callable[[], None] | None = None) -> None:
    """Serve until interrupted; `on_ready` is called once the terminal is up."""
    server = make_server(app, sock)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if on_ready is not None and server.started:
            on_ready()
        await task

    asyncio.run(main())


__all__ = ["LANGUAGES", "Terminal", "bind", "create_app", "make_server", "run"]
