"""Pairing: give a provisioned terminal its event keys, from a USB stick or through the collector.

Key file (no collector): the organizer's event key file (`[event] id,
master_key`; a `[terminal] signing_key` is made here when absent, since each
terminal signs with its own key) is installed as /etc/stallpay/keys.toml,
mode 0600, owned by the service user. Collector: the terminal presents the
one-time pairing code with its public key (`POST /api/v1/pair`) and fetches
its first signed bundle. The collector does not hand out event keys (they
never travel over the network), so a collector pairing needs the key file
installed first.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path

import tomli_w

from provisioning.device import KEYS_PATH, SERVICE_USER
from provisioning.target_root import ProvisionError, TargetRoot
from terminal.config import ConfigError, load_config, load_keys

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
            signing = tomllib.loads(existing.read_text(encoding="utf-8")).get("terminal", {}).get("signing_key")
        except tomllib.TOMLDecodeError:
            signing = None
    text = tomli_w.dumps({"event": {"id": event["id"], "master_key": event["master_key"]},
                          "terminal": {"signing_key": signing or secrets.token_bytes(32).hex()}})
    owner = SERVICE_USER if target.uid(SERVICE_USER) is not None else "root"
    try:
        target.file(KEYS_PATH, text, mode=0o600, owner=owner, group=owner)
    except ProvisionError as exc:
        raise PairingError(str(exc)) from None
    try:
        keys = load_keys(existing, terminal_config.event.id)
    except ConfigError as exc:
        existing.unlink()
        raise PairingError(str(exc)) from None
    from sync.keys import public_hex, signing_key

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


def pair_from_collector(root: Path, url: str, code: str, *, config: Path | None = None) -> dict:
    from sync.client import CollectorClient, SyncFailed
    from sync.terminal_side import open_terminal

    path = _config_path(root, config)
    try:
        terminal = open_terminal(path)
    except ConfigError as exc:
        raise PairingError(f"{exc} (install the event key file first: stallpay provision pair --usb DIR)") from None
    client = CollectorClient(url, terminal, attempts=3)
    try:
        client.sync_clock()
        paired = client.pair(code)
        bundle = client.fetch_bundle()
    except SyncFailed as exc:
        raise PairingError(str(exc)) from None
    if os.geteuid() == 0:  # files the journal opening just created must stay the service user's
        target = TargetRoot(root)
        uid, gid = target.uid(SERVICE_USER), target.gid(SERVICE_USER)
        if uid is not None and gid is not None:
            for f in terminal.config.data_dir.glob("journal.db*"):
                os.chown(f, uid, gid)
    return {"paired": True, "via": "collector", "collector": url, **paired,
            "bundle": {k: v for k, v in bundle.items() if isinstance(v, (int, str))}}
