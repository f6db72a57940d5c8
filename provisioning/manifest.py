"""The bundle's manifest: name, version, size and sha256 of every file, checked before anything is installed.

`manifest.json` is for programs (`provision update`, the tests); `SHA256SUMS`
holds the same hashes for first boot, which checks them with `sha256sum` before
Python or the venv exist. The check refuses a missing, changed or extra file: a
card copied half-way or a file swapped on the stick never gets installed. (It is
integrity, not authenticity: whoever can write the card can write the manifest.)
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

FORMAT = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-")
_DEB = re.compile(r"^(?P<name>[^_]+)_(?P<version>[^_]+)_")


class ManifestError(Exception):
    """The bundle does not match its manifest; the message lists what is wrong."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def describe(bundle: Path, path: Path, versions: dict[str, str] | None = None) -> dict[str, Any]:
    """One manifest row; `versions` gives a .deb's full version (with its epoch) by package name."""
    rel = path.relative_to(bundle).as_posix()
    name, version = path.name, ""
    if m := (_WHEEL.match(path.name) if path.suffix == ".whl" else _DEB.match(path.name)
             if path.suffix == ".deb" else None):
        name, version = m["name"], m["version"]
        version = (versions or {}).get(name, version)
    return {"path": rel, "name": name, "version": version, "size": path.stat().st_size, "sha256": sha256_file(path)}


def bundle_files(bundle: Path) -> list[Path]:
    return sorted(p for p in bundle.rglob("*") if p.is_file() and p.name not in (MANIFEST, SUMS))


def write_manifest(bundle: Path, info: dict[str, Any], versions: dict[str, str] | None = None) -> dict[str, Any]:
    files = [describe(bundle, p, versions) for p in bundle_files(bundle)]
    manifest = {"format": FORMAT, **info, "files": files}
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    (bundle / SUMS).write_text("".join(f"{f['sha256']}  {f['path']}\n" for f in files), encoding="utf-8")
    return manifest


def read_manifest(bundle: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{bundle}: no {MANIFEST} (not a bundle from 'stallpay provision bundle')") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ManifestError(f"{bundle / MANIFEST}: unreadable: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
            or not isinstance(manifest.get("files"), list):
        raise ManifestError(f"{bundle / MANIFEST}: not a format {FORMAT} manifest")
    return manifest


def verify_bundle(bundle: Path) -> dict[str, Any]:
    """The manifest, after checking every file against it; ManifestError naming each problem otherwise."""
    manifest = read_manifest(bundle)
    problems: list[str] = []
    listed: set[str] = set()
    for row in manifest["files"]:
        rel = row.get("path") if isinstance(row, dict) else None
        if not isinstance(rel, str) or rel.startswith("/") or ".." in Path(rel).parts:
            problems.append(f"bad entry {row!r}")
            continue
        listed.add(rel)
        path = bundle / rel
        if not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != row.get("size") or sha256_file(path) != row.get("sha256"):
            problems.append(f"{rel}: changed (sha256 does not match the manifest)")
    for path in bundle_files(bundle):
        if path.relative_to(bundle).as_posix() not in listed:
            problems.append(f"{path.relative_to(bundle).as_posix()}: not in the manifest")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise ManifestError(f"{bundle}: the bundle does not match its manifest: {shown}")
    return manifest
