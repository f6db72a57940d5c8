"""Reading a TOML file a technician wrote, with one-line reasons that name the file.

Configuration, device specs and key files all fail the same few ways (missing,
not TOML, unreadable); the callers wrap the reason in their own error type.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


class TomlFileError(Exception):
    """The file is missing, unreadable or not TOML; the message starts with the path."""


def read_toml(path: Path, *, missing: str = "no such file") -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TomlFileError(f"{path}: {missing}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TomlFileError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TomlFileError(f"{path}: cannot read: {exc}") from None
