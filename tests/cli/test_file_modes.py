"""Every file `init`, `demo`, `serve`, `collector init|pair|serve|bundle|ingest` and `sync export|pair` create,
listed with its mode: whatever holds a secret, a PIN hash, a journal, a card image, batches, bundles or pairing
requests is the owner's alone (0600; terminal.toml 0640), and the collector's database holds no pairing-code key
or bundle-signing seed in plaintext."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.collector.storage import open_store
from sync.format.keys import public_hex
from terminal.config import load_keys
from tests.sync.test_serve import _free_port, _wait_ready

CLI = [sys.executable, "-m", "terminal.cli"]
# files nobody needs to hide: sample photos, the demo's "prepared" mark, the simulator's list of band labels
PUBLIC = {".demo-ready", "cards.json"}
PUBLIC_SUFFIXES = (".jpg", ".png")


def stallpay(*args: str) -> str:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"stallpay {' '.join(args)}: {done.stderr}"
    return done.stdout


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in sorted(root.rglob("*")) if p.is_file()}


def test_every_created_file_is_private(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo, stall, books, usb = tmp_path / "demo", tmp_path / "stall", tmp_path / "collector", tmp_path / "usb"
    stallpay("demo", "--setup-only", "--dir", str(demo))
    stallpay("init", "--dir", str(stall), "--terminal", "2", "--keys", str(demo / "keys.toml"))
    db = str(books / "books.db")
    stallpay("collector", "init", "--db", db, "--event-id", "demo-festival")
    code = stallpay("collector", "pair", "--db", db, "--role", "sale").strip().splitlines()[-1]
    stallpay("sync", "pair", "--config", str(stall / "terminal.toml"), "--code", code, "--to", str(usb))

    serve = subprocess.Popen([*CLI, "serve", "--config", str(demo / "terminal.toml"), "--port", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert serve.stdout is not None and serve.stdout.readline().startswith("ready: ")
    finally:
        serve.terminate()
        serve.wait(30)
    port = _free_port()
    collector = subprocess.Popen([*CLI, "collector", "serve", "--db", db, "--keys", str(demo / "keys.toml"),
                                  "--host", "127.0.0.1", "--port", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_ready(f"http://127.0.0.1:{port}", collector)
    finally:
        collector.terminate()
        collector.wait(30)

    key = Ed25519PrivateKey.from_private_bytes(load_keys(demo / "keys.toml").terminal_signing_key)
    stallpay("collector", "enroll", "--db", db, "--terminal", "1", "--public-key", public_hex(key), "--role", "admin")
    stallpay("sync", "export", "--config", str(demo / "terminal.toml"), "--to", str(usb))
    stallpay("collector", "ingest", "--db", db, str(usb), "--quiet")
    stallpay("collector", "bundle", "--db", db, "--keys", str(demo / "keys.toml"), "--to", str(usb))

    found = modes(tmp_path)
    print(json.dumps({name: f"{mode:04o}" for name, mode in found.items()}, indent=1))  # the list, for the log
    names = set(found)
    for expected in ("demo/keys.toml", "demo/terminal.toml", "demo/data/journal.db", "demo/data/operators.db",
                     "demo/data/face.db", "demo/data/settings.db", "demo/wristbands/alice.json",
                     "stall/terminal.toml", "collector/books.db", "collector/books.db.key"):
        assert expected in names, f"{expected} was not created"
    assert any(n.endswith(".spb") for n in names) and any(n.startswith("usb/pair-") for n in names)
    assert any(n.startswith("usb/") and "bundle" in n for n in names), sorted(names)
    loose = {n: f"{m:04o}" for n, m in found.items()
             if m & 0o077 and not (n.endswith("terminal.toml") and m == 0o640)
             and Path(n).name not in PUBLIC and not n.endswith(PUBLIC_SUFFIXES)}
    assert loose == {}, f"readable by others: {loose}"
    assert found["collector/books.db.key"] == 0o600 and found["demo/keys.toml"] == 0o600

    store = open_store(db)
    try:
        meta = {r["key"]: r["value"] for r in store.query("SELECT key, value FROM meta")}
        code_keys = [r["code_key"] for r in store.query("SELECT code_key FROM pairing_codes")]
    finally:
        store.close()
    assert "collector_bundle_seed" not in meta and meta["collector_bundle_seed_sealed"].startswith("sealed1:")
    assert code_keys and all(k.startswith("sealed1:") for k in code_keys)
    assert os.environ.get("STALLPAY_COLLECTOR_KEY_FILE") is None  # the SQLite collector used books.db.key
