"""`stallpay provision ...`: the technician's tools — prepare SD cards, provision a Pi, pair it, build the bundle.

Nothing here asks a question: everything comes from options and files, so the
same commands run from a batch script, a first-boot unit or a test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("provision", help="prepare SD cards, provision a Pi, pair it with an event")
    s = p.add_subparsers(dest="provision_command", metavar="ACTION")
    s.required = True

    d = s.add_parser("device", help="provision this system (or a staging root) as a terminal; safe to re-run")
    d.add_argument("--spec", required=True, type=Path, help="device file (TOML: [terminal], [event], ...)")
    d.add_argument("--root", type=Path, default=Path("/"), help="write into DIR instead of / (staging)")
    d.add_argument("--bundle", type=Path, help="offline bundle (wheels/, debs/, systemd/)")
    d.add_argument("--units", type=Path, help="folder of unit files (default: the bundle's or the source tree's)")
    d.add_argument("--no-packages", action="store_true", help="do not install Debian packages")
    d.add_argument("--no-start", action="store_true", help="do not (re)start services")
    d.set_defaults(func=run_device)

    i = s.add_parser("image", help="write a self-provisioning card (or image file) from a Raspberry Pi OS image")
    i.add_argument("--image", required=True, type=Path, help="Raspberry Pi OS Lite image (.img)")
    i.add_argument("--spec", required=True, type=Path, help="device file for this terminal")
    i.add_argument("--output", required=True, type=Path, help="card device (/dev/sdX) or image file to write")
    i.add_argument("--bundle", type=Path, help="offline bundle to put on the boot partition")
    i.add_argument("--keys", type=Path, help="event key file to put on the card (pairing without a collector)")
    i.add_argument("--in-place", action="store_true", help="--output already holds the image: only add files")
    i.set_defaults(func=run_image)

    b = s.add_parser("batch", help="prepare one card or image per row of a CSV of terminals")
    b.add_argument("--csv", required=True, type=Path, help="columns: terminal_id, vendor, event, ...")
    b.add_argument("--image", required=True, type=Path)
    b.add_argument("--output", required=True, help="image file pattern with {terminal_id}, or a card device")
    b.add_argument("--bundle", type=Path)
    b.add_argument("--keys", type=Path)
    b.add_argument("--defaults", type=Path, help="device file whose values fill empty cells")
    b.add_argument("--continue-on-error", action="store_true", help="go on with the next row after a failure")
    b.set_defaults(func=run_batch)

    r = s.add_parser("pair", help="install event keys: from a key file (USB stick) or a collector pairing code")
    r.add_argument("--root", type=Path, default=Path("/"), help="write into DIR instead of / (staging)")
    r.add_argument("--config", type=Path, help="terminal.toml (default: ROOT/etc/stallpay/terminal.toml)")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--key-file", type=Path, help="event key file (from 'stallpay init' / the organizer)")
    src.add_argument("--usb", type=Path, metavar="DIR", help="search DIR (a mounted stick) for stallpay-keys*.toml")
    src.add_argument("--code", help="pairing code shown by the collector (needs --url)")
    r.add_argument("--url", help="collector URL for --code")
    r.set_defaults(func=run_pair)

    u = s.add_parser("bundle", help="build the offline bundle (aarch64 / Python 3.11 wheels, unit files)")
    u.add_argument("--output", required=True, type=Path)
    u.add_argument("--wheel", type=Path, help="the project's wheel (default: build it from the source tree)")
    u.add_argument("--debs", type=Path, help="folder of more arm64 .deb files to carry along (optional)")
    u.add_argument("--no-debs", action="store_true",
                   help="leave out the Debian packages (pyscard, pcscd): the Pi then needs the archive at first boot")
    u.add_argument("--cache", type=Path, help="download cache (default $STALLPAY_CACHE or ~/.cache/stallpay)")
    u.set_defaults(func=run_bundle)

    up = s.add_parser("update", help="install a newer bundle into a new venv, migrate, switch, restart (or back)")
    up.add_argument("--bundle", required=True, type=Path, help="bundle folder from 'stallpay provision bundle'")
    up.add_argument("--root", type=Path, default=Path("/"), help="staging root (services untouched)")
    up.set_defaults(func=run_update)

    m = s.add_parser("migrate", help="bring every terminal database in DIR to this release's schema")
    m.add_argument("--data", required=True, type=Path, help="the terminal's data folder (/var/lib/stallpay)")
    m.set_defaults(func=run_migrate)


def _fail(message: str) -> int:
    print(f"stallpay provision: {message}", file=sys.stderr)
    return 1


def run_device(args: argparse.Namespace) -> int:
    from provisioning.device import DeviceOptions, provision_device
    from provisioning.spec import SpecError, load_spec
    from provisioning.target_root import ProvisionError, TargetRoot

    try:
        spec = load_spec(args.spec)
        root = TargetRoot(args.root)
        options = DeviceOptions(bundle=args.bundle, units=args.units, packages=not args.no_packages,
                                start=not args.no_start)
        changed = provision_device(root, spec, options, progress=lambda step: print(f"[{step}]", file=sys.stderr))
    except (SpecError, ProvisionError) as exc:
        return _fail(str(exc))
    for line in root.log:
        print(f"  {line}")
    print(f"terminal {spec.terminal.id} provisioned in {args.root}: {len(changed)} changes")
    return 0


def run_image(args: argparse.Namespace) -> int:
    from provisioning.image import ImageError, prepare_card
    from provisioning.spec import SpecError, load_spec

    try:
        spec = load_spec(args.spec)
        written = prepare_card(args.image, args.output, spec, bundle=args.bundle, keys=args.keys,
                               in_place=args.in_place)
    except (SpecError, ImageError) as exc:
        return _fail(str(exc))
    print(f"terminal {spec.terminal.id}: {args.output} ready ({len(written)} files on the boot partition)")
    return 0


def run_batch(args: argparse.Namespace) -> int:
    from provisioning.batch import run_batch as batch
    from provisioning.image import ImageError
    from provisioning.spec import SpecError

    try:
        results = batch(args.csv, args.image, args.output, bundle=args.bundle, keys=args.keys,
                        defaults=args.defaults, keep_going=args.continue_on_error,
                        progress=lambda line: print(line, file=sys.stderr, flush=True))
    except (SpecError, ImageError) as exc:
        return _fail(str(exc))
    failed = [r for r in results if r["error"]]
    print(json.dumps({"prepared": len(results) - len(failed), "failed": len(failed), "results": results}, indent=1))
    return 1 if failed else 0


def run_pair(args: argparse.Namespace) -> int:
    from provisioning.pairing import PairingError, pair_from_collector, pair_from_key_file, pair_from_usb

    try:
        if args.key_file:
            result = pair_from_key_file(args.root, args.key_file, config=args.config)
        elif args.usb:
            result = pair_from_usb(args.root, args.usb, config=args.config)
        else:
            if not args.url:
                return _fail("--code needs --url (the collector's address)")
            result = pair_from_collector(args.root, args.url, args.code, config=args.config)
    except PairingError as exc:
        return _fail(str(exc))
    print(json.dumps(result, indent=1))
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    from provisioning.bundle import BundleBuildError, build_bundle

    try:
        manifest = build_bundle(args.output, wheel=args.wheel, debs=args.debs, cache=args.cache,
                                with_debs=not args.no_debs, progress=lambda line: print(line, file=sys.stderr))
    except BundleBuildError as exc:
        return _fail(str(exc))
    summary = {k: v for k, v in manifest.items() if k != "files"}
    summary["files"] = len(manifest["files"])
    summary["size"] = sum(f["size"] for f in manifest["files"])
    print(json.dumps(summary, indent=1))
    return 0


def run_update(args: argparse.Namespace) -> int:
    from provisioning.target_root import TargetRoot
    from provisioning.update import UpdateError, update_terminal

    try:
        result = update_terminal(TargetRoot(args.root), args.bundle, progress=lambda line: print(line, file=sys.stderr))
    except UpdateError as exc:
        return _fail(str(exc))
    print(json.dumps({"release": result.release, "previous": result.previous, "steps": result.steps}, indent=1))
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from provisioning.update import migrate_data

    if not args.data.is_dir():
        return _fail(f"{args.data}: no such folder")
    had = migrate_data(args.data)  # a newer database: SchemaError, reported by the CLI with exit 2
    print(json.dumps({"migrated_from": had}, indent=1))
    return 0
