"""Pairing: give a provisioned terminal its event keys, from a USB stick or through the collector.

Key file (no collector): the organizer's event key file (`[event] id,
master_key`; a `[terminal] signing_key` is made here when absent, since each
terminal signs with its own key) is installed as /etc/stallpay/keys.toml,
mode 0600, owned by the service user. Collector (`pair_from_collector`): the
terminal proves it holds the one-time pairing code and gets the event keys
sealed for it alone over plain HTTP (`sync.format.pairing`: X25519 + HMAC and AES-GCM
keyed by the code), plus the first bundle, verified before anything is written.

What a terminal receives, by role (the same for sale, cashier and admin):
- the event master key: the wallet needs it to read and debit wristbands (NTAG
  records have no separate debit key; a terminal that writes a forged wristband
  balance is caught by the collector's reconciliation as a balance jump);
- the PUBLIC half of the collector's bundle key, to verify face balances and
  templates; the private half never leaves the collector, so no terminal can
  mint face balances or templates for others;
- its own Ed25519 signing key stays the one it made (only the public half is sent).
Crediting a face account is decided by the collector from the terminal's enrolled
role: top-ups journaled by sale terminals are not credited (`sync.collector.face`).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from provisioning.device import KEYS_PATH, SERVICE_USER
from provisioning.target_root import ProvisionError, TargetRoot
from terminal.config import ConfigError, load_config, load_keys, role_limited
from terminal.key_file_seal import KeyFileSealError, read_key_text, seal_text

KEY_FILE_NAMES = ("stallpay-keys*.toml", "keys.toml")


class PairingError(Exception):
    """Pairing failed; the message says why and what to do."""


def _config_path(root: Path, config: Path | None) -> Path:
    return config or TargetRoot(root)("/etc/stallpay/terminal.toml")


def pair_from_key_file(root: Path, key_file: Path, *, config: Path | None = None) -> dict:
    try:
        raw = tomllib.loads(key_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PairingError(f"{key_file}: no such key file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        raise PairingError(f"{key_file}: not a key file (TOML with [event] id and master_key)") from None
    event = raw.get("event", {}) if isinstance(raw.get("event"), dict) else {}
    if not event.get("id") or not event.get("master_key"):
        raise PairingError(f"{key_file}: needs [event] id and master_key")
    try:
        terminal_config = load_config(_config_path(root, config))
    except ConfigError as exc:
        raise PairingError(f"{exc} (provision the device first)") from None
    if event["id"] != terminal_config.event.id:
        raise PairingError(f"{key_file}: keys are for event {event['id']!r}, this terminal is set up for "
                           f"{terminal_config.event.id!r}")
    target = TargetRoot(root)
    existing = target(KEYS_PATH)
    signing = raw.get("terminal", {}).get("signing_key")
    if signing is None and existing.exists():  # re-pairing keeps the terminal's identity
        try:
            signing = tomllib.loads(read_key_text(existing)).get("terminal", {}).get("signing_key")
        except (tomllib.TOMLDecodeError, KeyFileSealError):
            signing = None
    section = raw.get("desfire") if isinstance(raw.get("desfire"), dict) else {}
    try:  # only the DESFire keys this terminal's mode needs, whatever the stick holds
        desfire = role_limited({str(k): bytes.fromhex(str(v)) for k, v in section.items()},
                               terminal_config.terminal.mode)
    except ValueError:
        raise PairingError(f"{key_file}: [desfire] keys must be hex") from None
    text = tomli_w.dumps({"event": {"id": event["id"], "master_key": event["master_key"]},
                          "terminal": {"signing_key": signing or secrets.token_bytes(32).hex()},
                          "desfire": {k: v.hex() for k, v in desfire.items()}})
    owner = SERVICE_USER if target.uid(SERVICE_USER) is not None else "root"
    try:
        target.file(KEYS_PATH, seal_text(text), mode=0o600, owner=owner, group=owner)
    except ProvisionError as exc:
        raise PairingError(str(exc)) from None
    try:
        keys = load_keys(existing, terminal_config.event.id)
    except ConfigError as exc:
        existing.unlink()
        raise PairingError(str(exc)) from None
    from sync.format.keys import public_hex, signing_key

    return {"paired": True, "via": "key file", "event": keys.event_id, "keys": str(KEYS_PATH),
            "terminal_public_key": public_hex(signing_key(keys.terminal_signing_key)), "owner": owner}


def pair_from_usb(root: Path, stick: Path, *, config: Path | None = None) -> dict:
    if not stick.is_dir():
        raise PairingError(f"{stick}: not a directory (mount the USB stick and give its mount point)")
    found = sorted({p for pattern in KEY_FILE_NAMES for p in stick.glob(pattern)})
    if not found:
        raise PairingError(f"{stick}: no stallpay-keys*.toml or keys.toml on the stick")
    errors = []
    for candidate in found:  # a stick may carry the keys of several events: take the one that fits
        try:
            return pair_from_key_file(root, candidate, config=config)
        except PairingError as exc:
            errors.append(str(exc))
    raise PairingError("; ".join(errors))


def _existing_signing_key(path: Path) -> str | None:
    try:
        value = tomllib.loads(read_key_text(path)).get("terminal", {}).get("signing_key")
    except (OSError, tomllib.TOMLDecodeError, KeyFileSealError):
        return None
    return value if isinstance(value, str) and len(value) == 64 else None


def _staged_config(root: Path, config: Path | None) -> tuple[Any, TargetRoot, Any]:
    """The terminal's configuration, and a copy whose absolute paths live inside the (staging) root."""
    try:
        terminal_config = load_config(_config_path(root, config))
    except ConfigError as exc:
        raise PairingError(f"{exc} (provision the device first)") from None
    target = TargetRoot(root)
    rebased = terminal_config.model_copy(update={"paths": terminal_config.paths.model_copy(update={
        k: target(v) if Path(v).is_absolute() else v for k, v in (("data", terminal_config.paths.data),
                                                                  ("keys", terminal_config.paths.keys))})})
    return terminal_config, target, rebased


def pair_from_collector(root: Path, url: str, code: str, *, config: Path | None = None, timeout_s: float = 30) -> dict:
    """Pair by code (`sync.format.pairing`): the collector returns the event keys sealed for this terminal and the first
    bundle; the keys are installed 0600 for the service user and the bundle is verified and applied."""
    import httpx

    from sync.format.keys import public_hex, signing_key
    from sync.format.pairing import PairingFailed, make_request, open_response

    terminal_config, _target, rebased = _staged_config(root, config)
    keys_file = rebased.keys_path
    seed = _existing_signing_key(keys_file) or secrets.token_bytes(32).hex()  # re-pairing keeps the identity
    own = public_hex(signing_key(bytes.fromhex(seed)))
    from sync.format.face_keys import box_private, box_public
    from terminal.device_secret import device_secret

    box = box_public(box_private(bytes.fromhex(seed) + device_secret().read()))  # as TerminalSync.box derives it
    req, ephemeral, key = make_request(code, event_id=terminal_config.event.id, terminal_id=terminal_config.terminal.id,
                                       public_key=own, name=terminal_config.terminal.name,
                                       mode="cashier" if terminal_config.terminal.mode != "sale" else "sale",
                                       face_key=box)
    try:
        resp = httpx.post(url.rstrip("/") + "/api/v1/pair/keys", json=req, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise PairingError(f"collector {url} unreachable: {exc}") from None
    if resp.status_code != 200:
        try:
            detail = resp.json().get("detail")
        except ValueError:
            detail = resp.text[:200]
        raise PairingError(f"pairing refused by the collector: {detail}")
    try:
        payload = open_response(key, ephemeral, req, resp.json())
    except (PairingFailed, ValueError) as exc:
        raise PairingError(str(exc) if isinstance(exc, PairingFailed) else "malformed pairing payload") from None
    return install_pairing(root, url, payload, config=config, seed=seed)


def _write_granted_mode(config_path: Path, role: object) -> str:
    """terminal.toml's [terminal] mode set to the role the collector granted (the wallet enforces the mode; a
    terminal set up as cashier but paired as sale must not keep offering credit). 0640, write-then-rename."""
    if role not in ("sale", "cashier", "admin"):
        raise PairingError(f"the collector granted an unknown role {role!r}: nothing installed")
    from terminal.config import write_config

    raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
    if raw.get("terminal", {}).get("mode") != role:
        raw.setdefault("terminal", {})["mode"] = role
        write_config(config_path, raw)
    return str(role)


def install_pairing(root: Path, url: str, payload: dict, *, config: Path | None = None,
                    seed: str | None = None) -> dict:
    """Install what a code pairing returned (`sync.format.pairing` payload, from here or `CollectorClient.pair_keys`):
    the first bundle is verified against the event's and the collector's keys before the key file (event master
    key, collector bundle key, role-limited DESFire keys, this terminal's signing key) is written 0600 and the
    bundle applied."""
    from sync.format.bundle import BundleError, encode_bundle, verify_bundle
    from sync.format.keys import event_signing_key, public_hex, signing_key
    from terminal.uplink.bundle_apply import apply_bundle_bytes
    from terminal.uplink.terminal_side import open_terminal_config

    terminal_config, target, rebased = _staged_config(root, config)
    keys_file = rebased.keys_path
    seed = seed or _existing_signing_key(keys_file) or secrets.token_bytes(32).hex()
    own = public_hex(signing_key(bytes.fromhex(seed)))
    try:
        master = bytes.fromhex(payload["master_key"])
        desfire = {str(k): bytes.fromhex(str(v)).hex() for k, v in dict(payload.get("desfire") or {}).items()}
        collector_key = str(payload["collector_key"])
        bundle = payload["bundle"]
    except (ValueError, KeyError, TypeError):
        raise PairingError("malformed pairing payload") from None
    if payload.get("event_id") != terminal_config.event.id or payload.get("terminal_id") != terminal_config.terminal.id:
        raise PairingError(f"collector paired event {payload.get('event_id')!r} terminal {payload.get('terminal_id')}, "
                           f"this terminal is {terminal_config.event.id!r} / {terminal_config.terminal.id}")
    bundle_bytes = encode_bundle(bundle)
    try:  # the first bundle must carry both the event's and the collector's signatures before anything is written
        verify_bundle(bundle_bytes, public_hex(event_signing_key(master, terminal_config.event.id)),
                      terminal_config.event.id, collector_key)
    except BundleError as exc:
        raise PairingError(f"first bundle refused: {exc}") from None
    text = tomli_w.dumps({"event": {"id": terminal_config.event.id, "master_key": master.hex(),
                                    "collector_key": collector_key},
                          "terminal": {"signing_key": seed}, "desfire": desfire})
    owner = "the current user"
    try:
        if Path(terminal_config.paths.keys).is_absolute():
            owner = SERVICE_USER if target.uid(SERVICE_USER) is not None else "root"
            target.file(str(terminal_config.paths.keys), seal_text(text), mode=0o600, owner=owner, group=owner)
        else:
            from terminal.config import write_secret_file

            write_secret_file(keys_file, text)
        granted = _write_granted_mode(_config_path(root, config), payload.get("role"))
        terminal = open_terminal_config(rebased.model_copy(update={"terminal": rebased.terminal.model_copy(
            update={"mode": granted})}))
        terminal.learn_collector_box_key(payload.get("collector_box_key"))  # uploads sealed for it from the first
        applied = apply_bundle_bytes(terminal, bundle_bytes)
    except (ProvisionError, ConfigError, BundleError) as exc:
        raise PairingError(str(exc)) from None
    if os.geteuid() == 0 and owner == SERVICE_USER:  # files the journal opening made stay the service user's
        uid, gid = target.uid(SERVICE_USER), target.gid(SERVICE_USER)
        if uid is not None and gid is not None:
            for f in terminal.config.data_dir.glob("*.db*"):
                os.chown(f, uid, gid)
    return {"paired": True, "via": "collector", "collector": url, "event": terminal_config.event.id,
            "terminal_id": payload["terminal_id"], "role": payload.get("role"), "vendor": payload.get("vendor"),
            "keys": str(keys_file), "owner": owner, "terminal_public_key": own,
            "bundle": {k: v for k, v in applied.items() if isinstance(v, (int, str))}}
