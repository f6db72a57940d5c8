"""The admin screen: mode, language, receipt policy, operators, the catalogue, devices, receipts again, the day
report, the self-test."""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from terminal.app.permissions import Permission
from terminal.ui.routes.deps import AdminDep, Current, MaybeCurrent, TillDep

router = APIRouter()


class ChoiceBody(BaseModel):
    value: str = Field(max_length=16)


class OperatorBody(BaseModel):
    id: str = Field(max_length=16)
    name: str = Field(default="", max_length=40)
    role: str
    pin: str = Field(max_length=16)


class PinBody(BaseModel):
    pin: str = Field(max_length=16)


class ProductBody(BaseModel):
    sku: str = Field(default="", max_length=64)
    name: str | None = Field(default=None, max_length=200)
    price: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, max_length=200)
    barcode: str | None = Field(default=None, max_length=64)

    def form(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


@router.post("/api/mode")
def set_mode(body: ChoiceBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.preferences.set_mode(current, body.value)
    return {"ok": True}


@router.post("/api/language")
def set_language(body: ChoiceBody, current: MaybeCurrent, till: TillDep) -> dict[str, Any]:
    if current is not None:  # at the login screen anyone picks the language; once in, only a supervisor
        till.require(current, Permission.SETTINGS)
    till.set_language(body.value)
    return {"ok": True}


@router.post("/api/receipt-policy")
def set_receipt_policy(body: ChoiceBody, current: Current, till: TillDep) -> dict[str, Any]:
    till.preferences.set_receipt_policy(current, body.value)
    return {"ok": True}


@router.get("/api/settings")
def settings(current: Current, admin: AdminDep) -> dict[str, Any]:
    return admin.settings()


@router.post("/api/reprint")
def reprint(current: Current, till: TillDep) -> dict[str, Any]:
    return {"job": till.receipts.reprint(current)}


@router.post("/api/report/print")
def print_report(current: Current, till: TillDep) -> dict[str, Any]:
    till.receipts.print_report(current)
    return {"ok": True}


@router.get("/api/hardware")
def hardware(current: Current, till: TillDep) -> dict[str, Any]:
    return till.hardware.status()


@router.get("/api/operators")
def operators(current: Current, admin: AdminDep) -> list[dict[str, Any]]:
    return admin.operators(current)


@router.post("/api/operators")
def add_operator(body: OperatorBody, current: Current, admin: AdminDep) -> dict[str, Any]:
    admin.operator_add(current, body.id, body.name, body.role, body.pin)
    return {"ok": True}


@router.delete("/api/operators/{operator_id}")
def remove_operator(operator_id: str, current: Current, admin: AdminDep) -> dict[str, Any]:
    admin.operator_remove(current, operator_id)
    return {"ok": True}


@router.post("/api/operators/{operator_id}/unlock")
def unlock_operator(operator_id: str, current: Current, admin: AdminDep) -> dict[str, Any]:
    admin.operator_unlock(current, operator_id)
    return {"ok": True}


@router.post("/api/operators/{operator_id}/pin")
def reset_pin(operator_id: str, body: PinBody, current: Current, admin: AdminDep) -> dict[str, Any]:
    admin.operator_set_pin(current, operator_id, body.pin)
    return {"ok": True}


@router.get("/api/catalogue")
def catalogue(current: Current, till: TillDep) -> dict[str, Any]:
    store = till.catalogue_store
    return {"revision": store.revision(), "source": store.source(),
            "products": [p.model_dump() for p in store.catalogue().products]}


@router.post("/api/catalogue")
def add_product(body: ProductBody, current: Current, admin: AdminDep) -> dict[str, Any]:
    return admin.product_add(current, body.form())


@router.put("/api/catalogue/{sku}")
def update_product(sku: str, body: ProductBody, current: Current, admin: AdminDep) -> dict[str, Any]:
    form = body.form()
    form.pop("sku", None)
    return admin.product_update(current, sku, form)


@router.delete("/api/catalogue/{sku}")
def remove_product(sku: str, current: Current, admin: AdminDep) -> dict[str, Any]:
    admin.product_remove(current, sku)
    return {"ok": True}


@router.post("/api/selftest", status_code=202)
def start_selftest(current: Current, admin: AdminDep) -> dict[str, Any]:
    return {"started": admin.selftest_start(current)}


@router.get("/api/selftest")
def selftest(current: Current, admin: AdminDep) -> dict[str, Any]:
    return admin.selftest_view()
