"""Demo only: the wristbands on the table next to the emulated reader, and who stands before the camera."""

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from terminal.ui.routes.deps import MaybeCurrent, TillDep
from terminal.ui.routes.pages import page
from terminal.ui.simulator import Simulator

router = APIRouter()


class SimBody(BaseModel):
    card: str = Field(default="", max_length=64)
    tear: int | None = None
    label: str = Field(default="", max_length=40)


class SimFaceBody(BaseModel):
    photo: str = Field(default="", max_length=64)  # "" = nobody in front of the camera
    spoof: bool = False  # liveness on for this photo: shows that a photo is refused


def sim_of(request: Request) -> Simulator:
    return request.app.state.terminal.simulator  # type: ignore[no-any-return]


@router.get("/sim")
def sim_page(request: Request, current: MaybeCurrent) -> Response:
    return page("sim", request, current)


@router.get("/sim/api/cards")
def cards(request: Request) -> list[dict[str, Any]]:
    return sim_of(request).cards()


@router.post("/sim/api/tap")
async def tap(body: SimBody, request: Request) -> dict[str, Any]:
    return await asyncio.to_thread(sim_of(request).tap, body.card, tear=body.tear)


@router.post("/sim/api/place")
def place(body: SimBody, request: Request) -> dict[str, Any]:
    return sim_of(request).place(body.card)


@router.post("/sim/api/remove")
def remove(request: Request) -> dict[str, Any]:
    return sim_of(request).remove()


@router.get("/sim/api/faces")
def faces(request: Request) -> dict[str, Any]:
    return sim_of(request).faces()


@router.post("/sim/api/face")
def show_face(body: SimFaceBody, request: Request, till: TillDep) -> dict[str, Any]:
    answer = sim_of(request).show_face(body.photo, spoof=body.spoof)
    till.publish()
    return answer


@router.post("/sim/api/new")
def new(body: SimBody, request: Request) -> dict[str, Any]:
    return sim_of(request).new_card(body.label)
