"""`stallpay sync ...`: the terminal side of sync (USB export, pairing, status, bundles, upload)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from terminal.config import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sync", help="sync this terminal's journal with the collector")
    p.add_argument("--config", type=Path, default=Path("terminal.toml"), help="terminal.toml (default: ./)")
    s = p.add_subparsers(dest="sync_command", metavar="ACTION")
    s.required = True
    e = s.add_parser("export", help="write signed batches of the undelivered journal to DIR (USB stick)")
    e.add_argument("--to", required=True, type=Path, metavar="DIR")
    e.add_argument("--all", action="store_true", help="export delivered entries still on the terminal too")
    e.set_defaults(func=run_export)
    st = s.add_parser("status", help="unsynced entries, last sync, clock, days since last sync, collector (JSON)")
    st.add_argument("--url", help="collector URL to check (default: [collector] url, then $STALLPAY_COLLECTOR_URL)")
    st.set_defaults(func=run_status)
    pr = s.add_parser("pair", help="pair this terminal with the collector using a pairing code")
    pr.add_argument("--code", required=True)
    where = pr.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", type=Path, metavar="DIR", help="write a pairing file for 'collector ingest'")
    where.add_argument("--url", help="collector URL")
    pr.set_defaults(func=run_pair)
    b = s.add_parser("apply-bundle", help="verify and apply a bundle file from the collector (USB)")
    b.add_argument("file", type=Path)
    b.set_defaults(func=run_apply_bundle)
    u = s.add_parser("upload", help="upload undelivered batches and fetch the bundle (once)")
    u.add_argument("--url", help="collector URL (default: [collector] url of the configuration, then "
                                  "$STALLPAY_COLLECTOR_URL)")
    u.set_defaults(func=run_upload)
    for action in (e, st, pr, b, u):  # `stallpay sync ACTION --config X` as well as `stallpay sync --config X ACTION`
        action.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="terminal.toml")


def collector_url(args: argparse.Namespace, config) -> str:  # type: ignore[no-untyped-def]
    """--url, else the configuration's [collector] url, else STALLPAY_COLLECTOR_URL (provisioning's collector.env)."""
    return (args.url or config.collector.url or os.environ.get("STALLPAY_COLLECTOR_URL", "")).strip().rstrip("/")


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from terminal.uplink.terminal_side import open_terminal

    return open_terminal(args.config)


def _fail(message: str, code: int = 1) -> int:
    print(f"stallpay sync: {message}", file=sys.stderr)
    return code


def run_export(args: argparse.Namespace) -> int:
    from terminal.uplink.export import export_to_dir

    try:
        t = _open(args)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    after = 0 if args.all else t.state.acked_seq
    from terminal.uplink.device_report import upload_fields

    status = {**t.status(), **upload_fields(t.config.data_dir)}
    erased = [e.account_id for e in t.face_pay().pending_erasure_confirmations()]
    if erased:  # confirmed on the terminal when a bundle says the collector stored them
        status["face_erasures"] = erased
    try:
        paths = export_to_dir(t.journal, t.key, args.to, after=after, status=status)
    except OSError as exc:
        return _fail(f"cannot write to {args.to}: {exc.strerror}")
    entries = sum(1 for _ in paths)
    print(json.dumps({"batches": entries, "directory": str(args.to), "after_seq": after,
                      "head_seq": t.journal.head()[0]}))
    return 0


def run_status(args: argparse.Namespace) -> int:
    try:
        t = _open(args)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    status = {**t.status(), **t.overview(), "pending_erasures": t.pending_erasures()}
    url = collector_url(args, t.config)
    status["collector"] = url or None
    status["collector_reachable"] = _reachable(url) if url else None
    print(json.dumps(status, indent=1))
    return 0


def _reachable(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/api/v1/time", timeout=3.0).status_code == 200
    except httpx.HTTPError:
        return False


def run_pair(args: argparse.Namespace) -> int:
    try:
        t = _open(args)
    except ConfigError as exc:
        return _fail(str(exc), 2)
    if args.to is not None:
        path = t.write_pairing_request(args.code, args.to)
        print(f"wrote {path}; run 'stallpay collector ingest' on the organizer's machine")
        return 0
    from provisioning.pairing import PairingError, install_pairing
    from terminal.uplink.client import CollectorClient, SyncFailed

    try:  # the keys exchange: event keys and the collector's bundle key sealed for this terminal, first bundle
        payload = CollectorClient(args.url, t).pair_keys(args.code)
    except SyncFailed as exc:
        return _fail(str(exc))
    finally:
        t.journal.db.close()
    try:
        result = install_pairing(Path("/"), args.url, payload, config=args.config)
    except PairingError as exc:
        return _fail(str(exc))
    print(json.dumps(result))
    return 0


def run_apply_bundle(args: argparse.Namespace) -> int:
    from sync.format.bundle import BundleError
    from terminal.uplink.bundle_apply import apply_bundle_bytes

    try:
        t = _open(args)
        applied = apply_bundle_bytes(t, args.file.read_bytes())
    except (ConfigError, BundleError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot read {args.file}: {exc.strerror}")
    print(json.dumps(applied))
    return 0


def run_upload(args: argparse.Namespace) -> int:
    from terminal.uplink.client import CollectorClient, SyncFailed

    try:
        t = _open(args)
        url = collector_url(args, t.config)
        if not url:
            return _fail("no collector URL: give --url, or set [collector] url in the configuration")
        result = CollectorClient(url, t).sync_once()
    except (ConfigError, SyncFailed) as exc:
        return _fail(str(exc))
    print(json.dumps(result))
    return 0
