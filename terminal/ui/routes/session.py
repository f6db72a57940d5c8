"""Logging in and out, the state every screen starts from, and the health probe."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from terminal.ui.routes.deps import COOKIE, TillDep

router = APIRouter()


class LoginBody(BaseModel):
    operator: str = Field(max_length=16)
    pin: str = Field(max_length=16)


@router.post("/api/login")
def login(body: LoginBody, till: TillDep) -> JSONResponse:
    new = till.login.login(body.operator, body.pin)
    response = JSONResponse({"ok": True, "operator": new.operator, "role": new.role.value})
    response.set_cookie(COOKIE, new.token, httponly=True, samesite="strict")
    return response


@router.post("/api/logout")
def logout(till: TillDep) -> JSONResponse:
    till.login.logout()
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE)
    return response


@router.get("/api/health")
def health(request: Request, till: TillDep) -> dict[str, Any]:
    return {"ready": request.app.state.ready.is_set(), "reader": till.hardware.reader_ok}


@router.get("/api/state")
def state(till: TillDep) -> dict[str, Any]:
    return till.snapshot()
