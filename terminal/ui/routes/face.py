"""Face pay: paying a sale by face at the stall, and the cashier's face accounts (consent, enrollment, top-up,
checkout, withdrawal)."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from terminal.app.errors import TillError
from terminal.app.face_withdrawal import withdraw_consent
from terminal.app.permissions import Permission
from terminal.i18n import LANGUAGES
from terminal.ui.i18n import N_
from terminal.ui.routes.deps import Current, TillDep, amount

router = APIRouter()


class FaceStartBody(BaseModel):
    request_id: str = Field(min_length=1, max_length=64)


class DigitsBody(BaseModel):
    digits: str = Field(max_length=8)


class ConsentBody(BaseModel):
    language: str = Field(default="en", max_length=8)
    agreed: bool = False


class EnrollBody(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)
    phone_digits: str = Field(default="", max_length=8)
    wristband_uid: str = Field(default="", max_length=32)


class FaceAccountBody(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)


class FaceTopupBody(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)
    amount: str = Field(max_length=16)
    method: str = "cash"
    request_id: str = Field(min_length=1, max_length=64)


@router.post("/api/face/start")
def face_start(body: FaceStartBody, current: Current, till: TillDep) -> dict[str, Any]:
    return {"started": till.payments.face_start(current, body.request_id)}


@router.post("/api/face/digits")
def face_digits(body: DigitsBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.face_sale.phone_digits(body.digits)
    return {"ok": True}


@router.post("/api/face/back")
def face_back(current: Current, till: TillDep) -> dict[str, Any]:
    till.face_sale.back_to_card()
    return {"ok": True}


@router.get("/api/face/consent")
def face_consent_texts(current: Current, till: TillDep) -> dict[str, str]:
    return till.face_cashier.consent_texts()


@router.post("/api/face/consent")
def face_consent(body: ConsentBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.require(current, Permission.TOPUP)
    if not body.agreed:
        raise TillError("no_consent", till.tr(N_("Record the guest's consent first")), 400)
    if body.language not in LANGUAGES:
        raise TillError("bad_request", f"language must be one of {', '.join(LANGUAGES)}", 400)
    return till.face_cashier.record_consent(current.operator, body.language)


@router.get("/api/face/consent/{account_id}")
def face_consent_status(account_id: str, current: Current, till: TillDep) -> dict[str, Any]:
    till.require(current, Permission.TOPUP)
    return till.face_cashier.consent_status(account_id)


@router.post("/api/face/link")
def face_link(body: FaceAccountBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.require(current, Permission.TOPUP)
    till.face_cashier.link_next_tap(body.account_id)
    return {"ok": True}


@router.post("/api/face/enroll")
def face_enroll(body: EnrollBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.require(current, Permission.TOPUP)
    return till.face_cashier.enroll(body.account_id, body.phone_digits, body.wristband_uid)


@router.get("/api/face/preview", include_in_schema=False)
def face_preview(current: Current, till: TillDep) -> Response:
    till.require(current, Permission.TOPUP)
    jpeg = till.face_cashier.preview_jpeg()
    if jpeg is None:
        return Response(status_code=204)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/api/face/accounts/{account_id}")
def face_account(account_id: str, current: Current, till: TillDep) -> dict[str, Any]:
    till.require(current, Permission.TOPUP)
    return till.face_cashier.account(account_id)


@router.post("/api/face/topup")
def face_topup(body: FaceTopupBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.require(current, Permission.TOPUP)
    if body.method not in ("cash", "card", "voucher", "comp"):
        raise TillError("bad_request", till.tr(N_("Unknown payment method")), 400)
    return till.face_cashier.topup(current.operator, body.account_id, amount(till, body.amount), body.method,
                                   body.request_id)


@router.post("/api/face/checkout")
def face_checkout(body: FaceAccountBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.require(current, Permission.REFUND)
    return till.face_cashier.checkout(current.operator, body.account_id)


@router.post("/api/face/withdraw")
def face_withdraw(body: FaceAccountBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.require(current, Permission.TOPUP)
    return withdraw_consent(till, current.operator, body.account_id)
