"""The sale screen and every request's life: the cart, arming a payment (card or any cashier request), cancel,
retry, dismiss."""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from terminal.ui.routes.deps import Current, MaybeCurrent, TillDep, amount

router = APIRouter()


class CartAddBody(BaseModel):
    sku: str = Field(max_length=32)
    qty: int = 1


class ScanBody(BaseModel):
    code: str = Field(max_length=64)


class AmountBody(BaseModel):
    amount: str = Field(max_length=16)


class CartSetBody(BaseModel):
    index: int
    qty: int


class ChargeBody(BaseModel):
    request_id: str = Field(min_length=1, max_length=64)


class StartBody(BaseModel):
    kind: str
    request_id: str = Field(min_length=1, max_length=64)
    amount: str = Field(default="0", max_length=16)
    method: str | None = None
    holder: str = Field(default="", max_length=60)
    phone: str = Field(default="", max_length=24)


class CancelBody(BaseModel):
    force: bool = False


@router.post("/api/cart/add")
def cart_add(body: CartAddBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.cart_editor.add(current, body.sku, body.qty)
    return {"ok": True}


@router.post("/api/cart/scan")
def cart_scan(body: ScanBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.cart_editor.scan(current, body.code)
    return {"ok": True}


@router.post("/api/cart/amount")
def cart_amount(body: AmountBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.cart_editor.amount(current, amount(till, body.amount))
    return {"ok": True}


@router.post("/api/cart/set")
def cart_set(body: CartSetBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.cart_editor.set_qty(current, body.index, body.qty)
    return {"ok": True}


@router.post("/api/cart/clear")
def cart_clear(current: Current, till: TillDep) -> dict[str, Any]:
    till.cart_editor.clear(current)
    return {"ok": True}


@router.post("/api/charge")
def charge(body: ChargeBody, current: Current, till: TillDep) -> dict[str, Any]:
    return {"started": till.payments.charge(current, body.request_id)}


@router.post("/api/start")
def start(body: StartBody, current: Current, till: TillDep) -> dict[str, Any]:
    value = amount(till, body.amount) if body.kind in ("topup", "issue") else 0
    holder = " · ".join(x.strip() for x in (body.holder, body.phone) if x.strip()) or None
    return {"started": till.payments.start(current, body.kind, body.request_id, amount=value, method=body.method,
                                           holder=holder)}


@router.post("/api/cancel")
def cancel(body: CancelBody, current: MaybeCurrent, till: TillDep) -> dict[str, Any]:
    till.payments.cancel(current, force=body.force)
    return {"ok": True}


@router.post("/api/retry")
def retry(current: Current, till: TillDep) -> dict[str, Any]:
    till.payments.retry(current)
    return {"ok": True}


class Dismiss(BaseModel):
    """What the screen closes: the flow version and balance view it showed (none: whatever is shown)."""

    version: int | None = None
    balance_view: int | None = None


@router.post("/api/dismiss")
def dismiss(till: TillDep, body: Dismiss | None = None) -> dict[str, Any]:
    seen = body or Dismiss()
    till.payments.dismiss(version=seen.version, balance_view=seen.balance_view)
    return {"ok": True}
