"""Terminal side of key epochs: a bundle's `key_epoch` opened with this terminal's box key and written into its
key file ([epochs], 0600), so the next wallet it opens seals bands under the new epoch (`sync.collector.key_epochs`)."""

from __future__ import annotations

import tomllib
from typing import TYPE_CHECKING, Any

import tomli_w

from sync.format.face_keys import SealError

if TYPE_CHECKING:
    from terminal.uplink.terminal_side import TerminalSync


def apply_key_epoch(t: TerminalSync, body: dict[str, Any]) -> dict[str, Any]:
    """Install a newer epoch from a verified bundle; {} when the bundle carries nothing new for this terminal."""
    from sync.format.bundle import BundleError
    from sync.format.key_epochs import open_section_keys
    from terminal.config import epochs_section, load_keys, write_secret_file
    from terminal.key_file_seal import read_key_text

    section = body.get("key_epoch")
    face = body.get("face")
    if not isinstance(section, dict) or not isinstance(section.get("epoch"), int) or section["epoch"] <= t.keys.epoch:
        return {}
    if not section.get("sealed") or not isinstance(face, dict) or not isinstance(face.get("box_key"), str):
        return {"key_epoch": f"epoch {section['epoch']} not sent to this terminal: pair it again"}
    try:
        band, desfire = open_section_keys(t.box, face["box_key"], t.keys.event_id, t.config.terminal.id, section)
    except SealError as exc:
        raise BundleError(str(exc)) from None
    if section["epoch"] not in band:
        raise BundleError(f"the bundle's key epoch {section['epoch']} lacks its own key")
    old_until = section.get("old_until") if isinstance(section.get("old_until"), int) else 0
    keys = t.keys.model_copy(update={"epoch": section["epoch"], "old_until": old_until,
                                     "epoch_keys": {**t.keys.epoch_keys, **band},
                                     "epoch_desfire": {**t.keys.epoch_desfire, **desfire}})
    path = t.config.keys_path
    raw = tomllib.loads(read_key_text(path))
    raw["epochs"] = epochs_section(keys)
    write_secret_file(path, tomli_w.dumps(raw))  # write-then-rename, sealed to the board where it can be
    t.keys = load_keys(path, t.keys.event_id)
    return {"key_epoch": t.keys.epoch}
