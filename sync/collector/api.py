"""The collector's HTTP API (OpenAPI at /openapi.json): terminals upload batches and fetch bundles with
signed requests; organizers read reports and manage cards and terminals with a password.
"""


import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path as PathLib
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field

from sync.collector import faults
from sync.collector.api_docs import serve_offline_docs
from sync.collector.api_reports import add_report_route
from sync.collector.auth import (
    READ_ONLY_ROLES,
    REQUEST_WINDOW_S,
    check_terminal_signature,
    check_user,
    first_use,
    request_fresh,
)
from sync.collector.backoffice.accounts import token_role
from sync.collector.bundle import build_bundle, collector_public_key
from sync.collector.desfire_rekey import ReleaseError, release_master_key
from sync.collector.enrollment import EnrollmentError, code_for_request, get_terminal, new_pairing_code, pair, revoke
from sync.collector.event import now_iso, require_event
from sync.collector.event_registry import EventStores
from sync.collector.face import (
    CREDIT_ROLES,
    FaceError,
    authorize,
    available,
    balances,
    checkout,
    erase_account,
    get_account,
    record_confirmations,
    upload_template,
)
from sync.collector.face_gallery import collector_box_public, scrub
from sync.collector.face_phone import PhoneChecks, add_phone_check_route
from sync.collector.http_limits import BodyLimit, no_nul_text
from sync.collector.ingest import IngestResult, Prepared, contiguous_seq, ingest_prepared
from sync.collector.ingest_pool import IngestPool
from sync.collector.ledger import (
    LedgerError,
    block_card,
    card_balances,
    hotlist,
    replacement_quote,
    unblock_card,
)
from sync.collector.refunds import refund_cards, refundable
from sync.collector.reports import run_named
from sync.collector.storage import Store, open_store
from sync.format.bundle import encode_bundle
from sync.format.event_keys import EventKeys, desfire_for_mode
from sync.format.pairing import PairingFailed, seal_response

MAX_BATCH_BYTES = 32 * 1024 * 1024
MAX_PAIR_BYTES = 16 * 1024  # pairing requests are a few hundred bytes and come from anyone
MAX_TERMINAL_ID = 65535


MODE_PATTERN = r"^(sale|cashier|admin)$"


class PairRequest(BaseModel):
    code: str = Field(min_length=1, max_length=64)
    event_id: str = Field(min_length=1, max_length=64)
    terminal_id: int = Field(ge=1, le=65535)
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$")
    name: str = Field(default="", max_length=100)
    mode: str = Field(default="sale", pattern=MODE_PATTERN, description="the role an `auto` pairing code grants")
    face_key: str = Field(default="", pattern=r"^([0-9a-f]{64})?$", description="X25519 box key for templates")


class SecurePairRequest(BaseModel):
    event_id: str = Field(min_length=1, max_length=64)
    terminal_id: int = Field(ge=1, le=65535)
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$", description="the terminal's Ed25519 public key")
    ephemeral_key: str = Field(pattern=r"^[0-9a-f]{64}$", description="a fresh X25519 public key")
    name: str = Field(default="", max_length=100)
    mode: str | None = Field(default=None, pattern=MODE_PATTERN, description="covered by the MAC when sent")
    face_key: str = Field(default="", pattern=r"^([0-9a-f]{64})?$",
                          description="the terminal's X25519 box key: templates are sealed for it alone")
    mac: str = Field(pattern=r"^[0-9a-f]{64}$", description="HMAC-SHA256 keyed by scrypt(pairing code)")


ACCOUNT_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"


class FaceAuthorizeRequest(BaseModel):
    account_id: str = Field(pattern=ACCOUNT_PATTERN)
    amount: int = Field(gt=0, le=10**9)
    request_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,64}$", description="chosen by the terminal; retries reuse it")


class FaceEnrollmentRequest(BaseModel):
    account_id: str = Field(pattern=ACCOUNT_PATTERN)
    holder: str = Field(default="", max_length=200)
    phone_hash: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")
    wristband_uid: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{8,20}$")
    template: str = Field(pattern=r"^[0-9a-f]{64,40000}$", description="sealed with the gallery transport key")
    expires_at: int | None = Field(default=None, ge=0, le=2**62)


class FaceEraseRequest(BaseModel):
    reason: str = Field(default="request", pattern=r"^(request|checkout|withdrawn)$")


class FaceConfirmRequest(BaseModel):
    account_ids: list[Annotated[str, Field(pattern=ACCOUNT_PATTERN)]] = Field(max_length=10_000)


class PairingCodeRequest(BaseModel):
    role: str = Field(default="auto", pattern=r"^(auto|sale|cashier|admin)$")
    vendor: str = Field(default="", max_length=100)
    valid_hours: float = Field(default=24, gt=0, le=24 * 30)


class BlockRequest(BaseModel):
    reason: str = Field(default="lost", min_length=1, max_length=200)


class RefundRequest(BaseModel):
    card_ids: list[Annotated[int, Field(ge=0, le=2**62)]] | None = Field(
        default=None, description="cards to refund; omit for every card with a refundable balance")


class Product(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    price: int = Field(ge=0, le=10**9)


def create_app(db: str | Store, keys: EventKeys, *, request_window_s: float = REQUEST_WINDOW_S,
               ingest_workers: int = 0, events_dir: PathLib | None = None, office: bool = True,
               accounts: Store | None = None) -> FastAPI:
    """`request_window_s`: how far a terminal's signed timestamp may be from the collector's clock;
    `ingest_workers`: processes that decode and chain-check uploads (`collector.ingest_pool`; 0: a thread does);
    `events_dir`: where keys of further events are written (none: this collector holds one event);
    `office`: mount the back office (the API of a further event has none of its own);
    `accounts`: where organizer logins and API tokens live (the home database; default: this event's)."""
    store = db if isinstance(db, Store) else open_store(db)
    logins = accounts if accounts is not None else store
    target = None if isinstance(db, Store) else str(db)  # workers open their own connection to it
    require_event(store)
    uploads = IngestPool(ingest_workers)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(uploads.start)  # the workers import before the first upload, not during it
        try:
            yield
        finally:
            await run_in_threadpool(uploads.close)

    app = FastAPI(title="StallPay collector", version="1", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Batches in, bundles out; reports for organizers.", dependencies=[Depends(no_nul_text)])
    serve_offline_docs(app)  # /docs with Swagger UI shipped in the package, not from a CDN
    faults.install(app)
    # bodies are counted while they stream; the limits cover every route, including ones mounted later
    app.add_middleware(BodyLimit, limits=[("/api/v1/batches", MAX_BATCH_BYTES), ("/api/v1/pair", MAX_PAIR_BYTES)])
    basic = HTTPBasic(auto_error=False)
    login_cache: dict[tuple[str, str], tuple[str, float]] = {}

    def organizer(request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]) -> str:
        bearer = request.headers.get("authorization", "")
        if bearer[:7].lower() == "bearer ":  # an API token made in the back office (scripts)
            found = token_role(logins, bearer[7:].strip())
            if found is None:
                raise HTTPException(401, "unknown API token")
            return found[1]
        if credentials is None:
            raise HTTPException(401, "organizer login required", headers={"WWW-Authenticate": "Basic"})
        key = (credentials.username, hashlib.sha256(credentials.password.encode()).hexdigest())
        cached = login_cache.get(key)
        fresh = cached is not None and cached[1] > time.monotonic()
        role = cached[0] if cached and fresh else check_user(logins, credentials.username, credentials.password)
        if role is None:
            raise HTTPException(401, "wrong username or password", headers={"WWW-Authenticate": "Basic"})
        login_cache[key] = (role, time.monotonic() + 60)
        return role

    def may_change(role: Annotated[str, Depends(organizer)]) -> str:
        if role in READ_ONLY_ROLES:
            raise HTTPException(403, "this login may only read")
        return role

    async def terminal(request: Request) -> int:
        """Who signed the request. The terminal is looked up before the body is read (an unknown sender's body is
        never buffered), and every database call runs off the event loop (an ingest holding the store must not
        stall `/api/v1/time`)."""
        h = request.headers
        tid = _terminal_id(h.get("x-terminal-id", ""))
        if tid is None:
            raise HTTPException(401, "terminal signature required (X-Terminal-Id, X-Timestamp, X-Signature)")
        t = await run_in_threadpool(get_terminal, store, tid)
        if t is None:
            raise HTTPException(401, f"terminal {tid} is not enrolled")
        body = await request.body()  # BodyLimit stops it at MAX_BATCH_BYTES
        ts, sig = h.get("x-timestamp", ""), h.get("x-signature", "")
        # the signed path includes the query string, so parameters (e.g. gallery_after) cannot be changed in transit
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if not check_terminal_signature(t["public_key"], sig, request.method, path, ts, body):
            raise HTTPException(401, "bad terminal signature")
        if not request_fresh(ts, window_s=request_window_s):
            raise HTTPException(401, "request timestamp too far from the collector's clock (see GET /api/v1/time)")
        if not await run_in_threadpool(first_use, store, tid, sig, request_window_s):
            raise HTTPException(401, "replayed request: this signature was already used")
        if t["status"] == "revoked":
            raise HTTPException(403, f"terminal {tid} is revoked")
        return tid

    @app.get("/api/v1/time", summary="The collector's clock (public)")
    async def get_time() -> dict[str, str]:  # on the loop: never queued behind busy worker threads
        return {"time": now_iso()}

    @app.post("/api/v1/pair", summary="Enroll a terminal with a pairing code")
    def post_pair(req: PairRequest) -> dict[str, Any]:
        try:
            t = pair(store, code=req.code, event_id=req.event_id, terminal_id=req.terminal_id,
                     public_key=req.public_key, name=req.name, mode=req.mode,
                     face_key=req.face_key)
        except EnrollmentError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        return {"terminal_id": t["terminal_id"], "role": t["role"], "vendor": t["vendor"],
                "collector_box_key": collector_box_public(store)}

    @app.post("/api/v1/pair/keys", summary="Pair by code and receive the event keys sealed for this terminal")
    def post_pair_keys(req: SecurePairRequest) -> dict[str, Any]:
        raw = req.model_dump(exclude_none=True)
        try:
            code_hash, key = code_for_request(store, raw)
            t = pair(store, code="", code_hash=code_hash, event_id=req.event_id, terminal_id=req.terminal_id,
                     public_key=req.public_key, name=req.name, mode=req.mode or "sale",
                     face_key=req.face_key)
            bundle = build_bundle(store, keys, terminal_id=t["terminal_id"])
            # every role gets the master key (the wallet needs it for wristbands) and the collector's PUBLIC bundle
            # key; no role gets a key that signs balances or templates (those stay at the collector); DESFire
            # role keys only as the role needs them (the credit key to cashiers), never the escrow private key
            payload = {"event_id": keys.event_id, "terminal_id": t["terminal_id"], "role": t["role"],
                       "vendor": t["vendor"], "master_key": keys.master_key.hex(),
                       "desfire": desfire_for_mode(keys, t["role"]),
                       "collector_key": collector_public_key(store), "bundle": bundle,
                       # the collector's X25519 box key: enrollment uploads are sealed for it from the first one
                       "collector_box_key": collector_box_public(store)}
            sealed = seal_response(key, raw, payload)
        except (EnrollmentError, PairingFailed) as exc:
            raise HTTPException(getattr(exc, "status", 403), str(exc)) from None
        return {"terminal_id": t["terminal_id"], **sealed}

    @app.post("/api/v1/face/authorize", summary="Reserve a face payment on the account's ledger (or refuse it)")
    def post_face_authorize(req: FaceAuthorizeRequest, tid: Annotated[int, Depends(terminal)]) -> dict[str, Any]:
        try:
            return authorize(store, req.account_id, req.amount, terminal_id=tid, request_id=req.request_id)
        except FaceError as exc:
            raise HTTPException(422, str(exc)) from None

    add_phone_check_route(app, PhoneChecks(store), terminal)

    def cashier(tid: Annotated[int, Depends(terminal)]) -> int:
        t = get_terminal(store, tid)
        if t is None or t["role"] not in CREDIT_ROLES:
            raise HTTPException(403, "only cashier and admin terminals may enroll, erase or check out face accounts")
        return tid

    @app.post("/api/v1/terminal/cards/{card_id}/replacement",
              summary="A cashier terminal replaces a lost card: block it and quote its balance and comp part")
    def post_terminal_replacement(card_id: Annotated[int, Path(ge=0, le=2**62)],
                                  tid: Annotated[int, Depends(cashier)]) -> dict:
        try:
            return replacement_quote(store, card_id, reason=f"lost (replaced at terminal {tid})")
        except LedgerError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/api/v1/terminal/cards/{card_id}/master-key",
              summary="A cashier terminal moving a DESFire band to the newest key epoch receives its AMK, sealed")
    def post_card_master_key(card_id: Annotated[int, Path(ge=0, le=2**62)],
                             tid: Annotated[int, Depends(terminal)]) -> dict:
        try:
            return release_master_key(store, keys, get_terminal(store, tid) or {}, card_id)
        except ReleaseError as exc:
            raise HTTPException(exc.status, str(exc)) from None

    @app.post("/api/v1/face/enrollments", summary="Upload a template enrolled at a cashier terminal (sealed)")
    def post_face_enrollment(req: FaceEnrollmentRequest, tid: Annotated[int, Depends(cashier)]) -> dict[str, Any]:
        try:
            change = upload_template(store, keys.master_key, keys.event_id, req.account_id, req.template,
                                     holder=req.holder, phone_hash=req.phone_hash, wristband_uid=req.wristband_uid,
                                     expires_at=req.expires_at, terminal_id=tid)
        except FaceError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"account_id": req.account_id, "change_id": change}

    @app.post("/api/v1/face/accounts/{account_id}/erase", summary="Erase a guest's template everywhere (request)")
    def post_face_erase(account_id: Annotated[str, Path(pattern=ACCOUNT_PATTERN)], req: FaceEraseRequest,
                        tid: Annotated[int, Depends(cashier)]) -> dict[str, Any]:
        change = erase_account(store, account_id, req.reason, by=f"terminal {tid}")
        return {"account_id": account_id, "change_id": change}

    @app.post("/api/v1/face/accounts/{account_id}/checkout",
              summary="Close a face account and erase its template; returns what the cashier pays out")
    def post_face_checkout(account_id: Annotated[str, Path(pattern=ACCOUNT_PATTERN)],
                           tid: Annotated[int, Depends(cashier)]) -> dict[str, Any]:
        try:
            return checkout(store, account_id, by=f"terminal {tid}", pay_out_here=False)
        except FaceError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.post("/api/v1/face/erasures", summary="Confirm template erasures done on the calling terminal")
    def post_face_erasures(req: FaceConfirmRequest, tid: Annotated[int, Depends(terminal)]) -> dict[str, Any]:
        return {"confirmed": record_confirmations(store, tid, req.account_ids)}

    @app.get("/api/v1/face-accounts/{account_id}", summary="A face account: holder, status, balance, available")
    def get_face_account(account_id: Annotated[str, Path(pattern=ACCOUNT_PATTERN)],
                         _: Annotated[str, Depends(organizer)]) -> dict[str, Any]:
        account = get_account(store, account_id)
        if account is None:
            raise HTTPException(404, f"unknown face account {account_id}")
        return {**account, "balance": balances(store, [account_id]).get(account_id, 0),
                "available": available(store, account_id)}

    @app.post("/api/v1/batches", summary="Upload one signed batch (application/octet-stream)",
              openapi_extra={"requestBody": {"required": True, "content": {"application/octet-stream": {
                  "schema": {"type": "string", "format": "binary"}}}}})
    async def post_batch(request: Request, tid: Annotated[int, Depends(terminal)]) -> dict[str, Any]:
        prepared = await uploads.prepare(f"upload t{tid}", await request.body(), store.copy_text)
        result = await run_in_threadpool(store_upload, prepared, tid)
        await uploads.reconcile(store, target)  # this batch's cards, and any an interrupted ingest left behind
        return {**result.as_dict(), "acked_seq": await run_in_threadpool(contiguous_seq, store, tid)}

    def store_upload(prepared: Prepared, tid: int) -> IngestResult:
        result = ingest_prepared(store, prepared, sender=tid)
        if store.scrub_pending:  # a checkout in this batch erased a template inside the ingest transaction
            scrub(store)
        if not result.ok:
            raise HTTPException(422, result.reason)
        return result

    @app.get("/api/v1/bundle", summary="The signed bundle for the calling terminal")
    def get_bundle(tid: Annotated[int, Depends(terminal)],
                   gallery_after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> Response:
        return Response(encode_bundle(build_bundle(store, keys, terminal_id=tid, gallery_after=gallery_after)),
                        media_type="application/json")

    add_report_route(app, store, organizer)

    @app.get("/api/v1/cards/{card_id}", summary="A card's ledger balance, hotlist status and history")
    def get_card(card_id: Annotated[int, Path(ge=0, le=2**62)], _: Annotated[str, Depends(organizer)]) -> dict:
        history = run_named(store, "card", card=card_id)
        if not history:
            raise HTTPException(404, f"card {card_id} has no entries")
        return {"card_id": card_id, "balance": card_balances(store, [card_id]).get(card_id, 0),
                "blocked": dict(hotlist(store)).get(card_id), "history": history}

    @app.post("/api/v1/cards/{card_id}/block", summary="Put a card on the hotlist")
    def post_block(card_id: Annotated[int, Path(ge=0, le=2**62)], req: BlockRequest,
                   _: Annotated[str, Depends(may_change)]) -> dict:
        block_card(store, card_id, req.reason)
        return {"card_id": card_id, "blocked": True}

    @app.post("/api/v1/cards/{card_id}/replacement",
              summary="Block a lost card; the balance and comp part its replacement wristband gets")
    def post_replacement(card_id: Annotated[int, Path(ge=0, le=2**62)], req: BlockRequest,
                         _: Annotated[str, Depends(may_change)]) -> dict:
        try:
            return replacement_quote(store, card_id, reason=req.reason)
        except LedgerError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.delete("/api/v1/cards/{card_id}/block", summary="Take a card off the hotlist")
    def delete_block(card_id: Annotated[int, Path(ge=0, le=2**62)], _: Annotated[str, Depends(may_change)]) -> dict:
        try:
            return {"card_id": card_id, "removed": unblock_card(store, card_id)}
        except LedgerError as exc:
            raise HTTPException(409, str(exc)) from None

    @app.get("/api/v1/hotlist", summary="Blocked cards")
    def get_hotlist(_: Annotated[str, Depends(organizer)]) -> list[dict]:
        return [{"card_id": c, "reason": r} for c, r in hotlist(store)]

    @app.post("/api/v1/pairing-codes", summary="A one-time code to pair a terminal")
    def post_code(req: PairingCodeRequest, _: Annotated[str, Depends(may_change)]) -> dict:
        try:
            return {"code": new_pairing_code(store, role=req.role, vendor=req.vendor, valid_hours=req.valid_hours)}
        except EnrollmentError as exc:  # the event is over (409)
            raise HTTPException(exc.status, str(exc)) from None

    @app.post("/api/v1/terminals/{terminal_id}/revoke", summary="Revoke a terminal")
    def post_revoke(terminal_id: Annotated[int, Path(ge=1, le=65535)], _: Annotated[str, Depends(may_change)]) -> dict:
        try:
            revoke(store, terminal_id)
        except EnrollmentError as exc:
            raise HTTPException(404, str(exc)) from None
        return {"terminal_id": terminal_id, "status": "revoked"}

    @app.get("/api/v1/refunds", summary="Cards with a remaining balance and what may be refunded")
    def get_refunds(_: Annotated[str, Depends(organizer)]) -> list[dict]:
        return refundable(store)

    @app.post("/api/v1/refunds", summary="Mark cards refunded (and closed)")
    def post_refunds(req: RefundRequest, role: Annotated[str, Depends(may_change)]) -> list[dict]:
        return refund_cards(store, req.card_ids, by=role)

    @app.put("/api/v1/catalogue/{vendor}", summary="Replace a vendor's products and prices")
    def put_catalogue(vendor: Annotated[str, Path(min_length=1, max_length=100)], products: list[Product],
                      _: Annotated[str, Depends(may_change)]) -> dict:
        with store.transaction():
            store.execute("DELETE FROM catalogue WHERE vendor = ?", [vendor])
            for p in {p.id: p for p in products}.values():
                store.execute("INSERT INTO catalogue (vendor, product_id, name, price) VALUES (?, ?, ?, ?)",
                              [vendor, p.id, p.name, p.price])
        return {"vendor": vendor, "products": len({p.id for p in products})}

    if not office:
        return app
    from sync.collector.backoffice import mount
    from sync.collector.event_apis import serve_events

    web = mount(app, store, keys, EventStores(store, keys, keys_dir=events_dir))  # back office /, portal /portal
    serve_events(app, web.events, lambda s, k: create_app(s, k, request_window_s=request_window_s, office=False,
                                                          accounts=web.events.home))
    return app


def _terminal_id(text: str) -> int | None:
    """The X-Terminal-Id header as a terminal id, or None (anything else is refused before the database)."""
    if not text.isascii() or not text.isdigit() or len(text) > 5:
        return None
    tid = int(text)
    return tid if 1 <= tid <= MAX_TERMINAL_ID else None
