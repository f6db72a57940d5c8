"""The kiosk web application: pages, a small JSON API, server-sent events, served on 127.0.0.1.

`open_kiosk` assembles the running terminal from its configuration (station,
operators, printer, lights, card loop); `create_app` puts screens in front of
it; `run` serves it with uvicorn on a socket bound before start-up, so the
URL printed is already reachable.
"""

import asyncio
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from terminal.app import Permission, Session
from terminal.cardloop import CardLoop
from terminal.operators import LockoutPolicy, OperatorStore
from terminal.station import Station
from terminal.ui.admin import Admin
from terminal.ui.display_token import HEADER as DISPLAY_HEADER
from terminal.ui.display_token import DisplayToken
from terminal.ui.i18n import LANGUAGE_NAMES, environment, money
from terminal.ui.kiosk import Kiosk, KioskError
from terminal.ui.settings import LANGUAGES
from terminal.wallet.journal import Journal
from terminal.wallet.money import AmountError, parse_amount, to_decimal

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "stallpay_session"


@dataclass
class Terminal:
    """Everything a running terminal holds; `close` releases it in order."""

    station: Station
    kiosk: Kiosk
    card_loop: CardLoop
    simulator: Any = None
    admin: Any = None
    extras: list[Callable[[], None]] = field(default_factory=list)

    def start(self) -> None:
        self.card_loop.start()
        if self.kiosk.sync_panel is not None:
            self.kiosk.sync_panel.start()

    def close(self) -> None:
        self.card_loop.stop()
        if self.kiosk.sync_panel is not None:
            self.kiosk.sync_panel.stop()
        self.kiosk.close()
        if self.kiosk.printer is not None:
            self.kiosk.printer.queue.close()
        if self.kiosk.feedback is not None:
            self.kiosk.feedback.close()
        for extra in self.extras:
            extra()
        self.station.close()


def open_face(config: Any, keys: Any, *, demo: bool = False, pipeline: Any = None,
              wallet_journal: Journal | None = None) -> Any:
    """The terminal's FacePay. No camera configured: no models are loaded. `pipeline`: an already loaded one
    (shared by several terminals in one process: tests). Every face decision, consent, enrollment and erasure is
    journaled as an info entry with its scores (never an image or a template)."""
    from terminal.camera.frames import NoCamera, open_source
    from terminal.camera.gallery import Gallery, board_gallery_key
    from terminal.camera.service import FacePay

    def journal(kind: str, record: dict[str, object]) -> None:
        log.debug("%s %s", kind, record)  # the journal keeps it; no per-decision lines in the system log
        if wallet_journal is not None:
            operator = record.get("operator")
            wallet_journal.append("face", "info", operator=operator if isinstance(operator, str) else None,
                                  data={"event": kind, **{k: v for k, v in record.items() if k != "operator"}})

    settings = config.camera
    if settings.source.strip() and pipeline is None:
        return FacePay.from_config(config, keys, journal=journal, demo=demo)
    gallery = Gallery(config.data_dir / "face.db", board_gallery_key(keys))
    source = open_source(settings.source) if settings.source.strip() else NoCamera()
    return FacePay(gallery, settings, pipeline, source, journal, demo=demo)


def open_kiosk(config_path: Path | str, *, demo: bool = False, printer: bool = True, gpio: bool = True,
               reader: Any = None, face_pipeline: Any = None, collector_url: str | None = None) -> Terminal:
    """`collector_url`: None = `[collector] url` of the configuration; "" = no collector (USB sync only)."""
    station = Station.open(config_path)
    if reader is not None:
        station.reader.close()
        station.reader = reader
        station.emulated_state = None
    config = station.config
    operators = OperatorStore(config.data_dir / "operators.db",
                              policy=LockoutPolicy(config.ui.lockout_failures, config.ui.lockout_s))
    receipt_printer = None
    if printer:
        from terminal.printer.receipt_printer import ReceiptPrinter

        receipt_printer = ReceiptPrinter(config.printer, locale=config.ui.language, event_id=config.event.id,
                                         data_dir=config.data_dir)
        receipt_printer.queue.start()
    try:
        face = open_face(config, station.keys, demo=demo, pipeline=face_pipeline,
                         wallet_journal=station.wallet.journal)
    except Exception as exc:  # a broken face stack never stops card payments
        log.warning("face pay unavailable: %s", exc)
        face = None
    kiosk = Kiosk(station, operators, demo=demo, printer=receipt_printer, face=face)
    kiosk.face_shared_pipeline = face_pipeline is not None
    from sync.terminal_side import terminal_for_app
    from terminal.ui.sync_status import SyncPanel

    kiosk.sync = terminal_for_app(config, station.keys, station.wallet.journal, face)
    url = config.collector.url if collector_url is None else collector_url
    if url:  # the background loop starts with the card loop (Terminal.start)
        kiosk.sync_panel = SyncPanel.for_url(kiosk, kiosk.sync, url, interval_s=config.collector.sync_interval_s)
        kiosk.collector = kiosk.sync_panel.client
    else:
        kiosk.sync_panel = SyncPanel(kiosk, kiosk.sync)
    if gpio and config.gpio.enabled:
        from terminal.gpio import Feedback

        try:
            kiosk.feedback = Feedback(config.gpio, on_cancel=kiosk.button_cancel)
        except Exception as exc:  # lights are never a reason not to take payments
            log.warning("GPIO feedback unavailable: %s", exc)
    from terminal.station import identify_card

    def identify_tag(connection: Any) -> Any:
        return identify_card(connection, config)

    loop = CardLoop(station.reader, kiosk.handle_tap, identify=identify_tag, on_unsupported=kiosk.unsupported_tap,
                    on_reader=kiosk.reader_state)
    terminal = Terminal(station=station, kiosk=kiosk, card_loop=loop)
    if face is not None:  # expiry while running: purge now and daily (sync.face_window)
        from sync.face_window import daily_purge

        purge = daily_purge(face)
        purge.start()
        terminal.extras.append(purge.stop)
    return terminal


# --- request bodies -----------------------------------------------------------------------------------


class LoginBody(BaseModel):
    operator: str = Field(max_length=16)
    pin: str = Field(max_length=16)


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


class ChoiceBody(BaseModel):
    value: str = Field(max_length=16)


class OperatorBody(BaseModel):
    id: str = Field(max_length=16)
    name: str = Field(default="", max_length=40)
    role: str
    pin: str = Field(max_length=16)


class ProductBody(BaseModel):
    sku: str = Field(default="", max_length=64)
    name: str | None = Field(default=None, max_length=200)
    price: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, max_length=200)
    barcode: str | None = Field(default=None, max_length=64)

    def form(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class SimFaceBody(BaseModel):
    photo: str = Field(default="", max_length=64)  # "" = nobody in front of the camera
    spoof: bool = False  # liveness on for this photo: shows that a photo is refused


class FaceStartBody(BaseModel):
    request_id: str = Field(min_length=1, max_length=64)


class DigitsBody(BaseModel):
    digits: str = Field(max_length=8)


class ConsentBody(BaseModel):
    language: str = Field(default="en", max_length=8)
    agreed: bool = False


class GuestConsentBody(BaseModel):
    account_id: str = Field(min_length=1, max_length=64)
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


class PinBody(BaseModel):
    pin: str = Field(max_length=16)


class SimBody(BaseModel):
    card: str = Field(default="", max_length=64)
    tear: int | None = None
    label: str = Field(default="", max_length=40)


def create_app(terminal: Terminal) -> FastAPI:
    kiosk = terminal.kiosk
    admin = terminal.admin or Admin(kiosk)
    terminal.admin = admin
    ready = threading.Event()
    display_token = DisplayToken()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kiosk.events.attach(asyncio.get_running_loop())
        terminal.start()
        ready.set()
        try:
            yield
        finally:
            terminal.close()

    app = FastAPI(title="StallPay terminal", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.terminal = terminal
    app.state.ready = ready
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(KioskError)
    async def kiosk_error(request: Request, exc: KioskError) -> JSONResponse:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer echoes the input back: never a PIN on the screen or in a proxy log.
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
        return JSONResponse({"code": "bad_request", "message": kiosk._("Invalid input") + ": " + "; ".join(parts)},
                            status_code=422)

    def session(request: Request) -> Session:
        found = kiosk.current(request.cookies.get(COOKIE))
        if found is None:
            raise KioskError("login", kiosk._("Please log in"), 401)
        return found

    Current = Annotated[Session, Depends(session)]

    def maybe_session(request: Request) -> Session | None:
        return kiosk.current(request.cookies.get(COOKIE))

    def page(name: str, request: Request, current: Session | None, **context: Any) -> HTMLResponse:
        env = environment(kiosk.language)
        ctx = {"kiosk": kiosk, "admin": admin, "session": current, "lang": kiosk.language, "languages": LANGUAGE_NAMES,
               "money": lambda a: money(a, kiosk.currency, kiosk.language),
               "price_text": lambda a: str(to_decimal(a, kiosk.currency)), "demo": kiosk.demo,
               "simulator": terminal.simulator, "page": name, "Permission": Permission, "now": time.time(),
               **context}
        return HTMLResponse(env.get_template(f"{name}.html").render(ctx))

    def screen(name: str, permission: Permission | None = None) -> Callable[..., Response]:
        def handler(request: Request) -> Response:
            current = maybe_session(request)
            if current is None:
                return RedirectResponse("/login", status_code=303)
            if permission is not None and not current.may(permission):
                return RedirectResponse("/", status_code=303)
            return page(name, request, current)
        return handler

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        current = maybe_session(request)
        if current is None:
            return RedirectResponse("/login", status_code=303)
        if kiosk.mode == "cashier" and current.may(Permission.TOPUP):
            return RedirectResponse("/cashier", status_code=303)
        if current.may(Permission.SELL):
            return RedirectResponse("/sale", status_code=303)
        return RedirectResponse("/admin", status_code=303)

    @app.get("/login")
    def login_page(request: Request) -> Response:
        return page("login", request, None)

    app.get("/sale")(screen("sale", Permission.SELL))
    app.get("/cashier")(screen("cashier", Permission.TOPUP))
    app.get("/admin")(screen("admin"))
    app.get("/report")(screen("report", Permission.REPORT))

    @app.get("/display")
    def display(request: Request) -> Response:
        host = request.client.host if request.client else None
        return page("display", request, None, display_token=display_token.for_client(host))

    @app.get("/receipts")
    def receipts(request: Request, current: Current) -> Response:
        return page("receipts", request, current, files=_receipt_files(kiosk))

    @app.get("/receipts/{name}")
    def receipt_file(name: str, current: Current) -> Response:
        files = {p.name: p for p in _receipt_files(kiosk)}
        if name not in files:
            raise KioskError("not_found", "no such receipt", 404)
        return Response(files[name].read_bytes(), media_type="image/png")

    @app.get("/report.png")
    def report_png(current: Current) -> Response:
        return Response(kiosk.report_png(current), media_type="image/png")

    # --- API ---------------------------------------------------------------------------------------------

    @app.get("/api/health")
    def health() -> dict[str, Any]:
        return {"ready": ready.is_set(), "reader": kiosk.reader_ok}

    @app.get("/api/state")
    def state() -> dict[str, Any]:
        return kiosk.snapshot()

    @app.get("/api/events")
    async def events(request: Request) -> StreamingResponse:
        stream = kiosk.events.stream(lambda: [("state", kiosk.snapshot())], request.is_disconnected)
        return StreamingResponse(stream, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.post("/api/login")
    def login(body: LoginBody) -> JSONResponse:
        new = kiosk.login(body.operator, body.pin)
        response = JSONResponse({"ok": True, "operator": new.operator, "role": new.role.value})
        response.set_cookie(COOKIE, new.token, httponly=True, samesite="strict")
        return response

    @app.post("/api/logout")
    def logout() -> JSONResponse:
        kiosk.logout()
        response = JSONResponse({"ok": True})
        response.delete_cookie(COOKIE)
        return response

    @app.post("/api/cart/add")
    def cart_add(body: CartAddBody, current: Current) -> dict[str, Any]:
        kiosk.cart_add(current, body.sku, body.qty)
        return {"ok": True}

    @app.post("/api/cart/scan")
    def cart_scan(body: ScanBody, current: Current) -> dict[str, Any]:
        kiosk.cart_scan(current, body.code)
        return {"ok": True}

    @app.post("/api/cart/amount")
    def cart_amount(body: AmountBody, current: Current) -> dict[str, Any]:
        kiosk.cart_amount(current, _amount(kiosk, body.amount))
        return {"ok": True}

    @app.post("/api/cart/set")
    def cart_set(body: CartSetBody, current: Current) -> dict[str, Any]:
        kiosk.cart_set(current, body.index, body.qty)
        return {"ok": True}

    @app.post("/api/cart/clear")
    def cart_clear(current: Current) -> dict[str, Any]:
        kiosk.cart_clear(current)
        return {"ok": True}

    @app.post("/api/charge")
    def charge(body: ChargeBody, current: Current) -> dict[str, Any]:
        return {"started": kiosk.charge(current, body.request_id)}

    @app.post("/api/face/start")
    def face_start(body: FaceStartBody, current: Current) -> dict[str, Any]:
        return {"started": kiosk.face_start(current, body.request_id)}

    @app.post("/api/face/digits")
    def face_digits(body: DigitsBody, current: Current) -> dict[str, Any]:
        kiosk.face_sale.phone_digits(body.digits)
        return {"ok": True}

    @app.post("/api/face/back")
    def face_back(current: Current) -> dict[str, Any]:
        kiosk.face_sale.back_to_card()
        return {"ok": True}

    @app.get("/api/face/consent")
    def face_consent_texts(current: Current) -> dict[str, str]:
        return kiosk.face_cashier.consent_texts()

    @app.post("/api/face/consent")
    def face_consent(body: ConsentBody, current: Current) -> dict[str, Any]:
        kiosk.require(current, Permission.TOPUP)
        if not body.agreed:
            raise KioskError("no_consent", kiosk._("Record the guest's consent first"), 400)
        if body.language not in LANGUAGES:
            raise KioskError("bad_request", f"language must be one of {', '.join(LANGUAGES)}", 400)
        return kiosk.face_cashier.record_consent(current.operator, body.language)

    @app.get("/api/face/consent/{account_id}")
    def face_consent_status(account_id: str, current: Current) -> dict[str, Any]:
        kiosk.require(current, Permission.TOPUP)
        return kiosk.face_cashier.consent_status(account_id)

    @app.post("/api/display/consent")
    def display_consent(body: GuestConsentBody, request: Request) -> dict[str, Any]:
        """The guest's own tap on the customer display (no operator session: the display's token instead)."""
        if not display_token.accepts(request.headers.get(DISPLAY_HEADER), request.client and request.client.host):
            raise KioskError("display_only", kiosk._("Only the customer display can answer"), 403)
        return kiosk.face_cashier.guest_answer(body.account_id, body.agreed)

    @app.post("/api/face/link")
    def face_link(body: FaceAccountBody, current: Current) -> dict[str, Any]:
        kiosk.require(current, Permission.TOPUP)
        kiosk.face_cashier.link_next_tap(body.account_id)
        return {"ok": True}

    @app.post("/api/face/enroll")
    def face_enroll(body: EnrollBody, current: Current) -> dict[str, Any]:
        kiosk.require(current, Permission.TOPUP)
        return kiosk.face_cashier.enroll(body.account_id, body.phone_digits, body.wristband_uid)

    @app.get("/api/face/preview", include_in_schema=False)
    def face_preview(current: Current) -> Response:
        kiosk.require(current, Permission.TOPUP)
        jpeg = kiosk.face_cashier.preview_jpeg()
        if jpeg is None:
            return Response(status_code=204)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/face/accounts/{account_id}")
    def face_account(account_id: str, current: Current) -> dict[str, Any]:
        kiosk.require(current, Permission.TOPUP)
        return kiosk.face_cashier.account(account_id)

    @app.post("/api/face/topup")
    def face_topup(body: FaceTopupBody, current: Current) -> dict[str, Any]:
        kiosk.require(current, Permission.TOPUP)
        if body.method not in ("cash", "card", "voucher", "comp"):
            raise KioskError("bad_request", kiosk._("Unknown payment method"), 400)
        return kiosk.face_cashier.topup(current.operator, body.account_id, _amount(kiosk, body.amount), body.method,
                                        body.request_id)

    @app.post("/api/face/checkout")
    def face_checkout(body: FaceAccountBody, current: Current) -> dict[str, Any]:
        kiosk.require(current, Permission.REFUND)
        return kiosk.face_cashier.checkout(current.operator, body.account_id)

    @app.post("/api/face/withdraw")
    def face_withdraw(body: FaceAccountBody, current: Current) -> dict[str, Any]:
        from terminal.ui.face_withdrawal import withdraw_consent

        kiosk.require(current, Permission.TOPUP)
        return withdraw_consent(kiosk, current.operator, body.account_id)

    from terminal.ui import card_routes

    card_routes.register(app, kiosk, session)

    @app.post("/api/start")
    def start(body: StartBody, current: Current) -> dict[str, Any]:
        amount = _amount(kiosk, body.amount) if body.kind in ("topup", "issue") else 0
        holder = " · ".join(x.strip() for x in (body.holder, body.phone) if x.strip()) or None
        return {"started": kiosk.start(current, body.kind, body.request_id, amount=amount, method=body.method,
                                       holder=holder)}

    @app.post("/api/cancel")
    def cancel(body: CancelBody, request: Request) -> dict[str, Any]:
        kiosk.cancel(maybe_session(request), force=body.force)
        return {"ok": True}

    @app.post("/api/retry")
    def retry(current: Current) -> dict[str, Any]:
        kiosk.retry(current)
        return {"ok": True}

    @app.post("/api/dismiss")
    def dismiss() -> dict[str, Any]:
        kiosk.dismiss()
        return {"ok": True}

    @app.post("/api/mode")
    def set_mode(body: ChoiceBody, current: Current) -> dict[str, Any]:
        kiosk.set_mode(current, body.value)
        return {"ok": True}

    @app.post("/api/language")
    def set_language(body: ChoiceBody, request: Request) -> dict[str, Any]:
        current = maybe_session(request)
        if current is not None:  # at the login screen anyone picks the language; once in, only a supervisor
            kiosk.require(current, Permission.SETTINGS)
        kiosk.set_language(body.value)
        return {"ok": True}

    @app.post("/api/receipt-policy")
    def set_receipt_policy(body: ChoiceBody, current: Current) -> dict[str, Any]:
        kiosk.set_receipt_policy(current, body.value)
        return {"ok": True}

    @app.get("/api/settings")
    def settings(current: Current) -> dict[str, Any]:
        return admin.settings()

    @app.post("/api/reprint")
    def reprint(current: Current) -> dict[str, Any]:
        return {"job": kiosk.reprint(current)}

    @app.post("/api/report/print")
    def print_report(current: Current) -> dict[str, Any]:
        kiosk.print_report(current)
        return {"ok": True}

    @app.get("/api/hardware")
    def hardware(current: Current) -> dict[str, Any]:
        return kiosk.hardware()

    @app.get("/api/operators")
    def operators(current: Current) -> list[dict[str, Any]]:
        return admin.operators(current)

    @app.post("/api/operators")
    def add_operator(body: OperatorBody, current: Current) -> dict[str, Any]:
        admin.operator_add(current, body.id, body.name, body.role, body.pin)
        return {"ok": True}

    @app.delete("/api/operators/{operator_id}")
    def remove_operator(operator_id: str, current: Current) -> dict[str, Any]:
        admin.operator_remove(current, operator_id)
        return {"ok": True}

    @app.post("/api/operators/{operator_id}/unlock")
    def unlock_operator(operator_id: str, current: Current) -> dict[str, Any]:
        admin.operator_unlock(current, operator_id)
        return {"ok": True}

    @app.post("/api/operators/{operator_id}/pin")
    def reset_pin(operator_id: str, body: PinBody, current: Current) -> dict[str, Any]:
        admin.operator_set_pin(current, operator_id, body.pin)
        return {"ok": True}

    @app.get("/api/catalogue")
    def catalogue(current: Current) -> dict[str, Any]:
        store = kiosk.catalogue_store
        return {"revision": store.revision(), "source": store.source(),
                "products": [p.model_dump() for p in store.catalogue().products]}

    @app.post("/api/catalogue")
    def add_product(body: ProductBody, current: Current) -> dict[str, Any]:
        return admin.product_add(current, body.form())

    @app.put("/api/catalogue/{sku}")
    def update_product(sku: str, body: ProductBody, current: Current) -> dict[str, Any]:
        form = body.form()
        form.pop("sku", None)
        return admin.product_update(current, sku, form)

    @app.delete("/api/catalogue/{sku}")
    def remove_product(sku: str, current: Current) -> dict[str, Any]:
        admin.product_remove(current, sku)
        return {"ok": True}

    @app.post("/api/selftest", status_code=202)
    def start_selftest(current: Current) -> dict[str, Any]:
        return {"started": admin.selftest_start(current)}

    @app.get("/api/selftest")
    def selftest(current: Current) -> dict[str, Any]:
        return admin.selftest_view()

    if terminal.simulator is not None:
        _simulator_routes(app, terminal, page, maybe_session)
    return app


def _simulator_routes(app: FastAPI, terminal: Terminal, page: Callable[..., HTMLResponse],
                      maybe_session: Callable[[Request], Session | None]) -> None:
    """Demo only: the wristbands on the table next to the emulated reader."""
    from terminal.ui.simulator import SimulatorError

    sim = terminal.simulator

    @app.exception_handler(SimulatorError)
    async def sim_error(request: Request, exc: SimulatorError) -> JSONResponse:
        return JSONResponse({"code": "simulator", "message": str(exc)}, status_code=404)

    @app.get("/sim")
    def sim_page(request: Request) -> Response:
        return page("sim", request, maybe_session(request))

    @app.get("/sim/api/cards")
    def cards() -> list[dict[str, Any]]:
        return sim.cards()

    @app.post("/sim/api/tap")
    async def tap(body: SimBody) -> dict[str, Any]:
        return await asyncio.to_thread(sim.tap, body.card, tear=body.tear)

    @app.post("/sim/api/place")
    def place(body: SimBody) -> dict[str, Any]:
        return sim.place(body.card)

    @app.post("/sim/api/remove")
    def remove() -> dict[str, Any]:
        return sim.remove()

    @app.get("/sim/api/faces")
    def faces() -> dict[str, Any]:
        return sim.faces()

    @app.post("/sim/api/face")
    def show_face(body: SimFaceBody) -> dict[str, Any]:
        answer = sim.show_face(body.photo, spoof=body.spoof)
        terminal.kiosk.publish()
        return answer

    @app.post("/sim/api/new")
    def new(body: SimBody) -> dict[str, Any]:
        return sim.new_card(body.label)


def _amount(kiosk: Kiosk, text: str) -> int:
    try:
        return parse_amount(text, kiosk.currency)
    except AmountError as exc:
        raise KioskError("bad_amount", kiosk._("Not a valid amount") + f": {text[:16]}", 400) from exc


def _receipt_files(kiosk: Kiosk) -> list[Path]:
    folder = kiosk.config.data_dir / "receipts"
    return sorted(folder.glob("*.png"), reverse=True)[:60] if folder.is_dir() else []


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


__all__ = ["LANGUAGES", "Terminal", "bind", "create_app", "make_server", "open_kiosk", "run"]
