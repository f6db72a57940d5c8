"""Prepare a card or image per row of a CSV of terminals, one after the other, with progress on stderr."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from provisioning.image import ImageError, prepare_card
from provisioning.spec import SpecError, load_spec, spec_from_row


def read_rows(path: Path, defaults: Path | None = None) -> list:
    base = load_spec(defaults).model_dump(mode="json") if defaults else {}
    base.get("terminal", {}).pop("id", None)  # each row names its own terminal
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise SpecError(f"{path}: no such CSV file") from None
    if not rows:
        raise SpecError(f"{path}: no terminals (a header line and one row per terminal are needed)")
    specs = [spec_from_row(row, f"{path} line {n}", base) for n, row in enumerate(rows, start=2)]
    ids = [s.terminal.id for s in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SpecError(f"{path}: terminal id(s) {', '.join(map(str, duplicates))} appear more than once")
    return specs


def run_batch(csv_path: Path, image: Path, output: str, *, bundle: Path | None = None, keys: Path | None = None,
              defaults: Path | None = None, keep_going: bool = False,
              progress: Callable[[str], None] = print) -> list[dict]:
    specs = read_rows(csv_path, defaults)
    if "{terminal_id}" not in output and len(specs) > 1:
        raise ImageError("--output must contain {terminal_id} (one image per terminal), e.g. cards/t{terminal_id}.img")
    results = []
    for n, spec in enumerate(specs, start=1):
        target = Path(output.format(terminal_id=spec.terminal.id))
        progress(f"[{n}/{len(specs)}] terminal {spec.terminal.id} ({spec.terminal.vendor}) -> {target}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            prepare_card(image, target, spec, bundle=bundle, keys=keys, progress=progress)
        except ImageError as exc:
            progress(f"[{n}/{len(specs)}] terminal {spec.terminal.id}: FAILED: {exc}")
            results.append({"terminal_id": spec.terminal.id, "output": str(target), "error": str(exc)})
            if not keep_going:
                break
            continue
        progress(f"[{n}/{len(specs)}] terminal {spec.terminal.id}: ready")
        results.append({"terminal_id": spec.terminal.id, "output": str(target), "error": ""})
    return results
