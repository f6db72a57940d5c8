"""The answer to a fault of the collector's own (a bug, a database gone away): logged with its traceback, answered
503 with `Retry-After` and a sentence, never a bare "Internal Server Error" nor the exception's text (which may
name tables, paths or values). Terminals retry a 503 on their next sync; a script sees the reason."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

log = logging.getLogger(__name__)
UNEXPECTED = "The collector hit an unexpected problem. It has been logged; try again in a moment."
RETRY_AFTER_S = 5


def logged(request: Request, exc: Exception) -> None:
    log.error("collector request %s %s failed", request.method, request.url.path, exc_info=exc)


async def unexpected(request: Request, exc: Exception) -> Response:
    logged(request, exc)
    return JSONResponse({"detail": UNEXPECTED}, status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})


def install(app: FastAPI) -> None:
    """Every route of `app`, and those included later, answer a fault this way (the back office its own way)."""
    app.add_exception_handler(Exception, unexpected)
