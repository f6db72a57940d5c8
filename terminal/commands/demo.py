"""`stallpay demo`: a complete simulated terminal on this machine, no hardware needed.

Sets up a demo directory once (configuration, event keys, catalogue, operators,
prepared wristbands, a camera made of sample photos and one enrolled face
account), then runs the real application with the emulated reader and the
simulator panel, and prints the URL to open.

A still photo can never pass the liveness challenge (that is the point of it),
so the demo's camera runs with `[camera] liveness = "demo-off"`, which FacePay
refuses outside the demo, and both screens say "DEMO: liveness off". The
simulator can also show a photo with liveness on, to see it refused.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

from terminal.config import ConfigError, write_config

DEFAULT_DIR = Path("demo-data")
READY_MARK = ".demo-ready"  # written last: a set-up interrupted half-way is redone
OPERATORS = (("1", "Vendor", "vendor", "1111"), ("2", "Cashier", "cashier", "2222"),
             ("9", "Supervisor", "supervisor", "9999"))


def _ean13(base12: str) -> str:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(base12))
    return base12 + str((10 - total % 10) % 10)


CATALOGUE: list[dict[str, Any]] = [
    {"sku": "BEER", "name": "Beer 0.5 l", "price": 450, "category": "Drinks", "barcode": _ean13("400638133393")},
    {"sku": "WATER", "name": "Water", "price": 200, "category": "Drinks", "barcode": _ean13("590123412345")},
    {"sku": "COLA", "name": "Cola", "price": 300, "category": "Drinks"},
    {"sku": "COFFEE", "name": "Coffee", "price": 250, "category": "Drinks"},
    {"sku": "FRIES", "name": "Fries", "price": 350, "category": "Food"},
    {"sku": "BURGER", "name": "Burger", "price": 800, "category": "Food"},
    {"sku": "HOTDOG", "name": "Hot dog", "price": 500, "category": "Food"},
    {"sku": "TSHIRT", "name": "T-shirt", "price": 2000, "category": "Merch"},
    {"sku": "CAP", "name": "Cap", "price": 1200, "category": "Merch"},
]
# (name, label, opening balance, method, blocked)
WRISTBANDS = (
    ("alice", "Alice · 50.00", 5000, "cash", False),
    ("bob", "Bob · 3.00", 300, "cash", False),
    ("carol", "Carol · 20.00 complimentary", 2000, "comp", False),
    ("dave", "Dave · lost (blocked)", 2500, "cash", True),
)
FACE_ACCOUNT = "F-demo-obama"  # enrolled from obama.jpg with phone digits 1234, balance 50.00
FACE_PHONE = "1234"
FACE_BALANCE = 5000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="set up (if needed) and run a complete simulated terminal; prints the URL")
    p.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"demo directory (default: ./{DEFAULT_DIR})")
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--no-browser", action="store_true", help="do not try to open a browser")
    p.add_argument("--setup-only", action="store_true", help="prepare the demo directory and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    directory: Path = args.dir.resolve()
    config_path = directory / "terminal.toml"
    try:
        if not (directory / READY_MARK).exists():
            setup(directory)
            print(f"demo set up in {directory}", file=sys.stderr)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"stallpay demo: cannot set up {directory}: {exc}", file=sys.stderr)
        return 2
    if args.setup_only:
        return 0
    from terminal.ui.server import bind, create_app
    from terminal.ui.server import run as serve

    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"stallpay demo: cannot listen on {args.host}:{args.port}: {exc.strerror} "
              "(try --port 0 for any free port)", file=sys.stderr)
        return 3
    try:
        terminal = open_demo(config_path)
    except (ConfigError, OSError, ValueError) as exc:
        print(f"stallpay demo: {exc}", file=sys.stderr)
        return 2
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}/"

    def ready() -> None:
        print(f"StallPay demo running: open {url}  (customer display: {url}display)", flush=True)
        print("operators: 1/1111 vendor, 2/2222 cashier, 9/9999 supervisor; Ctrl+C stops", flush=True)
        if terminal.kiosk.face is not None:  # the face models load after the till is ready, if configured so
            terminal.kiosk.face.after_ready()
        if not args.no_browser and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            import webbrowser

            webbrowser.open(url)

    with contextlib.suppress(KeyboardInterrupt):
        serve(create_app(terminal), sock, on_ready=ready)
    return 0


def open_demo(config_path: Path, *, face_pipeline: Any = None) -> Any:
    """The demo terminal: the real app on an emulated reader, with the simulator panel (wristbands and faces)."""
    from terminal.nfc.emulated import EmulatedReader
    from terminal.ui.simulator import SimulatorError
    from terminal.wiring import open_terminal

    terminal = open_terminal(config_path, demo=True, reader=EmulatedReader(), face_pipeline=face_pipeline,
                             simulator_dir=config_path.parent)
    sim = terminal.simulator
    if sim.face is not None and sim.face.available:
        with contextlib.suppress(SimulatorError):
            sim.show_face("")  # nobody in front of the camera yet
    return terminal


def setup(directory: Path, *, face_pipeline: Any = None) -> None:
    """Configuration, keys, catalogue, operators, wristbands with balances and a face account, written once."""
    from terminal.commands import init

    directory.mkdir(parents=True, exist_ok=True)
    for leftover in ("data", "wristbands", "faces"):
        shutil.rmtree(directory / leftover, ignore_errors=True)
    code = init.run(argparse.Namespace(dir=directory, event="demo-festival", terminal=1, keys=None, currency="EUR",
                                       vendor="Demo Stall", mode="admin", force=True))
    if code:
        raise ConfigError("stallpay init failed")
    config_path = directory / "terminal.toml"
    data = tomllib.loads(config_path.read_text())
    data["event"]["name"] = "Demo Festival"
    data["reader"].pop("emulated_card", None)
    data["ui"] = {"language": "en", "idle_logout_s": 600}
    data["gpio"] = {"backend": "mock"}
    data["catalogue"] = CATALOGUE
    faces = _prepare_photos(directory / "faces")
    if faces is not None:
        # A demo threshold (SFace's usual cosine cut-off) marked calibrated so a match can pay alone; a real
        # terminal gets its threshold from `stallpay face eval` at its stated false-match rate.
        data["camera"] = {"source": str(faces), "liveness": "demo-off", "threshold": 0.40,
                          "threshold_calibrated": True, "liveness_timeout_s": 4.0,
                          "bind_on_first_use": False}
    write_config(config_path, data)

    from terminal.config import load_config, load_keys
    from terminal.operators import OperatorStore

    config = load_config(config_path)
    store = OperatorStore(config.data_dir / "operators.db")
    for op_id, name, role, pin in OPERATORS:
        store.add(op_id, name, role, pin, replace=True)
    keys = load_keys(config.keys_path, config.event.id)
    _prepare_wristbands(config, keys, directory / "wristbands")
    if faces is not None:
        _prepare_face_account(config, keys, faces, face_pipeline)
    (directory / READY_MARK).write_text("ok\n")


def _prepare_photos(folder: Path) -> Path | None:
    """The sample photos (from the face_recognition sdist, via pip); None when unavailable."""
    try:
        from terminal.camera.samples import PHOTOS, sample_photos

        source = sample_photos()
    except Exception as exc:  # no network for pip, no OpenCV: the demo runs without a camera
        print(f"stallpay demo: no sample faces ({exc}); face pay stays off", file=sys.stderr)
        return None
    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        if name != "obama_partial_face2.jpg":
            shutil.copyfile(source / name, folder / name)
    return folder


def _prepare_face_account(config: Any, keys: Any, faces: Path, pipeline: Any) -> None:
    """Enroll obama.jpg (consent recorded by "setup") and give the account a balance the terminal knows."""
    from terminal.camera.source_files import ImageFileSource
    from terminal.wallet.face_accounts import FaceAccounts
    from terminal.wallet.journal import open_journal
    from terminal.wiring import open_face

    face = open_face(config, keys, demo=True, pipeline=pipeline)
    try:
        if not face.available:
            print(f"stallpay demo: face pay unavailable ({face.status().detail})", file=sys.stderr)
            return
        face.record_consent(FACE_ACCOUNT, "face-consent-v1/en", "setup")
        source = ImageFileSource(faces / "obama.jpg")
        result = face.enroll(FACE_ACCOUNT, [source.read() for _ in range(config.camera.enroll_frames)],
                             phone_digits=FACE_PHONE)
        if not result.template:
            raise ValueError(f"demo face enrollment failed: {result.outcome.value}")
    finally:
        if pipeline is not None:
            face.pipeline = None  # the caller's
        face.close()
    journal = open_journal(config.journal_path, terminal_id=config.terminal.id, event_id=config.event.id,
                           currency=config.event.currency)
    try:
        accounts = FaceAccounts(journal, allowance=config.camera.offline_allowance)
        entry = accounts.topup(FACE_ACCOUNT, FACE_BALANCE, method="cash", operator="setup")
        # As if the collector had synced it: the balance this terminal may spend from.
        accounts.replace_snapshot({FACE_ACCOUNT: FACE_BALANCE}, as_of_seq=entry["seq"], issued_at=entry["time"])
    finally:
        journal.db.close()


def _prepare_wristbands(config: Any, keys: Any, folder: Path) -> None:
    from terminal.nfc.emulated import EmulatedReader
    from terminal.nfc.emulator import DesfireEmulator, NtagEmulator
    from terminal.station import identify_card
    from terminal.ui.simulator import Simulator
    from terminal.wallet.operations import Wallet

    wallet = Wallet.open(config, keys)
    reader = EmulatedReader()
    sim = Simulator(reader, None, folder)  # type: ignore[arg-type]

    def issue(w: Wallet, card: NtagEmulator | DesfireEmulator, amount: int, method: str) -> int:
        reader.place(card)
        connection = reader.wait_for_card(1.0)
        try:
            outcome = w.issue(identify_card(connection, config), amount, method=method, operator="setup")
        finally:
            connection.close()
            reader.remove()
        return outcome.state.card_id

    for name, label, amount, method, blocked in WRISTBANDS:
        card = NtagEmulator(product="NTAG215")
        card_id = issue(wallet, card, amount, method)
        if blocked:
            wallet.hotlist.add(card_id, "lost")
        sim.add(name, label, card)
    secure = DesfireEmulator("DESFIRE_EV2")  # the secure-card tier: the card itself refuses credit without the key
    issue(wallet, secure, 4000, "cash")
    sim.add("erin", "Erin · 40.00 DESFire EV2", secure)
    # A wristband of another event (its own keys and journal), to show that decline.
    import secrets
    import tempfile

    from terminal.wallet.journal import open_journal

    with tempfile.TemporaryDirectory() as tmp:
        journal = open_journal(Path(tmp) / "other.db", terminal_id=1, event_id="other-event", currency="EUR")
        other = Wallet(journal=journal, master_key=secrets.token_bytes(16), event_id="other-event", terminal_id=1)
        card = NtagEmulator(product="NTAG215")
        issue(other, card, 1000, "cash")
        journal.db.close()
    sim.add("other", "Other event · 10.00", card)
    sim.add("blank", "New wristband (blank)", NtagEmulator(product="NTAG215"))
    wallet.journal.db.close()
