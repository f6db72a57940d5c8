"""Installing a bundle into a virtualenv: the locked wheels with their hashes, the face stack without its
declared dependencies (as on the development machine), then the stallpay wheel itself.

Everything comes from the bundle's wheels/ folder (`--no-index`); `--require-hashes`
makes pip refuse any wheel whose sha256 is not the lock's.
"""

from __future__ import annotations

from pathlib import Path


def install_commands(python: Path, bundle: Path) -> list[list[str]]:
    wheels = bundle / "wheels"
    locks = sorted((bundle / "requirements").glob("*.lock"))
    stallpay = sorted(wheels.glob("stallpay-*.whl"))
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-index", "--find-links", str(wheels), "--no-deps"]
    commands = []
    if locks:
        commands.append([*pip, "--require-hashes", *(arg for lock in locks for arg in ("-r", str(lock)))])
    commands.append([*pip, "--force-reinstall", *(str(w) for w in stallpay[-1:])] if stallpay
                    else [*pip[:-1], "--upgrade", "stallpay"])
    return commands
