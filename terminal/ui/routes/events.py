"""Server-sent events: the whole state after every change, to every open screen."""

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from terminal.ui.routes.deps import TillDep

router = APIRouter()


@router.get("/api/events")
async def events(request: Request, till: TillDep) -> StreamingResponse:
    stream = till.events.stream(lambda: [("state", till.snapshot())], request.is_disconnected)
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
