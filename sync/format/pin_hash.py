"""The operator PIN hash agreed between the collector and the terminals (a shared sync format).

`scrypt$N$r$p$salt$digest`: scrypt with N=2**14, r=8, p=1, a 16-byte random salt and a 32-byte digest, both
hex; exactly what terminal/operators.py writes for operators added on the terminal itself. The collector
hashes a PIN once when an organizer sets it; bundles carry only the hash, and a terminal verifies the PIN
offline. A terminal accepts no other parameters: a bundle cannot make it spend gigabytes on one login.
"""

from __future__ import annotations

import hashlib
import re
import secrets

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES, DIGEST_BYTES = 16, 32
PIN_DIGITS = (4, 8)
FORMAT = re.compile(rf"scrypt\${SCRYPT_N}\${SCRYPT_R}\${SCRYPT_P}\$[0-9a-f]{{{2 * SALT_BYTES}}}"
                    rf"\$[0-9a-f]{{{2 * DIGEST_BYTES}}}")


class PinError(ValueError):
    """A PIN or a PIN hash not in the agreed form."""


def check_pin(pin: str) -> str:
    if not (pin.isascii() and pin.isdigit() and PIN_DIGITS[0] <= len(pin) <= PIN_DIGITS[1]):
        raise PinError(f"a PIN is {PIN_DIGITS[0]} to {PIN_DIGITS[1]} digits")
    return pin


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    check_pin(pin)
    salt = salt or secrets.token_bytes(SALT_BYTES)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=DIGEST_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def is_agreed(stored: object) -> bool:
    """Whether `stored` is a PIN hash in exactly the agreed form (parameters, lengths, lower-case hex)."""
    return isinstance(stored, str) and FORMAT.fullmatch(stored) is not None
