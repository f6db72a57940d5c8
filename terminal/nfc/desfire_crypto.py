"""MIFARE DESFire EV2/EV3 secure messaging: AuthenticateEV2First/NonFirst and the EV2 session.

Shared by the driver and the card emulator, so both sides compute the same
bytes; the known-answer tests pin it to NXP AN12196's worked examples.

- Session keys (AN12196 §4.4): SV1 = A5 5A 00 01 00 80 || RndA[0:2] ||
  (RndA[2:8] ^ RndB[0:6]) || RndB[6:16] || RndA[8:16]; SV2 the same with
  5A A5. SesAuthENCKey = CMAC(K, SV1), SesAuthMACKey = CMAC(K, SV2).
- MAC'd commands: MACt = even-numbered bytes (1, 3, .., 15) of
  CMAC(SesMAC, Cmd || CmdCtr(LE16) || TI || header || data); responses the
  same over RC || CmdCtr || TI || data with the counter already advanced.
- Full mode: data padded with 80 00.. (always), AES-CBC under SesENC with
  IV = E(SesENC, A5 5A || TI || CmdCtr || 0^8) for commands and
  5A A5 for responses; the MAC covers the ciphertext.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
ZERO_IV = bytes(BLOCK)


class SecureMessagingError(Exception):
    """A MAC, padding or authentication answer did not verify."""


def cmac(key: bytes, data: bytes) -> bytes:
    c = _cmac.CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def mac_t(key: bytes, data: bytes) -> bytes:
    """The 8-byte truncated MAC of EV2 secure messaging: bytes 1, 3, .., 15 of the CMAC."""
    return cmac(key, data)[1::2]


def aes_ecb(key: bytes, block: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    if len(data) % BLOCK:
        raise SecureMessagingError("ciphertext is not whole AES blocks")
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 method 2: always 80, then zeros to a whole block."""
    return data + b"\x80" + bytes((-len(data) - 1) % BLOCK)


def unpad(data: bytes) -> bytes:
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80 or len(data) - len(stripped) >= BLOCK:
        raise SecureMessagingError("bad padding")
    return stripped[:-1]


def rotl(data: bytes) -> bytes:
    return data[1:] + data[:1]


def crc32_desfire(data: bytes) -> bytes:
    """DESFire CRC32 (as in ChangeKey): IEEE polynomial, init FFFFFFFF, no final XOR, little-endian."""
    return ((~zlib.crc32(data)) & 0xFFFFFFFF).to_bytes(4, "little")


def session_vectors(rnd_a: bytes, rnd_b: bytes) -> tuple[bytes, bytes]:
    mixed = bytes(a ^ b for a, b in zip(rnd_a[2:8], rnd_b[0:6], strict=True))
    tail = rnd_a[0:2] + mixed + rnd_b[6:16] + rnd_a[8:16]
    return b"\xa5\x5a\x00\x01\x00\x80" + tail, b"\x5a\xa5\x00\x01\x00\x80" + tail


def session_keys(key: bytes, rnd_a: bytes, rnd_b: bytes) -> tuple[bytes, bytes]:
    """(SesAuthENCKey, SesAuthMACKey) of AuthenticateEV2First/NonFirst."""
    sv1, sv2 = session_vectors(rnd_a, rnd_b)
    return cmac(key, sv1), cmac(key, sv2)


@dataclass
class Ev2Session:
    """An authenticated EV2 session: keys, transaction identifier and command counter."""

    key_no: int
    enc_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)
    ti: bytes
    counter: int = 0

    def _iv(self, label: bytes, counter: int) -> bytes:
        return aes_ecb(self.enc_key, label + self.ti + counter.to_bytes(2, "little") + bytes(8))

    def command_mac(self, ins: int, header: bytes, data: bytes) -> bytes:
        return mac_t(self.mac_key, bytes([ins]) + self.counter.to_bytes(2, "little") + self.ti + header + data)

    def response_mac(self, rc: int, data: bytes, counter: int | None = None) -> bytes:
        ctr = self.counter if counter is None else counter
        return mac_t(self.mac_key, bytes([rc]) + ctr.to_bytes(2, "little") + self.ti + data)

    def encrypt_command(self, data: bytes) -> bytes:
        return cbc_encrypt(self.enc_key, self._iv(b"\xa5\x5a", self.counter), pad(data))

    def decrypt_command(self, data: bytes) -> bytes:
        return unpad(cbc_decrypt(self.enc_key, self._iv(b"\xa5\x5a", self.counter), data))

    def encrypt_response(self, data: bytes, counter: int) -> bytes:
        return cbc_encrypt(self.enc_key, self._iv(b"\x5a\xa5", counter), pad(data))

    def decrypt_response(self, data: bytes) -> bytes:
        """With the counter already advanced past the command."""
        return unpad(cbc_decrypt(self.enc_key, self._iv(b"\x5a\xa5", self.counter), data))


def auth_part2(key: bytes, encrypted_rnd_b: bytes, rnd_a: bytes) -> tuple[bytes, bytes]:
    """PCD side: the 32-byte answer E(K, RndA || RndB') to the card's E(K, RndB), and RndB."""
    if len(encrypted_rnd_b) != BLOCK or len(rnd_a) != BLOCK:
        raise SecureMessagingError("authentication frame of the wrong length")
    rnd_b = cbc_decrypt(key, ZERO_IV, encrypted_rnd_b)
    return cbc_encrypt(key, ZERO_IV, rnd_a + rotl(rnd_b)), rnd_b


def auth_finish_first(key: bytes, key_no: int, rnd_a: bytes, rnd_b: bytes, answer: bytes) -> Ev2Session:
    """PCD side of AuthenticateEV2First's last frame: E(K, TI || RndA' || PDcap2 || PCDcap2)."""
    if len(answer) != 2 * BLOCK:
        raise SecureMessagingError("authentication answer of the wrong length")
    plain = cbc_decrypt(key, ZERO_IV, answer)
    if plain[4:20] != rotl(rnd_a):
        raise SecureMessagingError("the card did not prove it holds the key")
    enc, mac = session_keys(key, rnd_a, rnd_b)
    return Ev2Session(key_no, enc, mac, plain[0:4], 0)


def auth_finish_nonfirst(key: bytes, key_no: int, rnd_a: bytes, rnd_b: bytes, answer: bytes,
                         ti: bytes, counter: int) -> Ev2Session:
    """PCD side of AuthenticateEV2NonFirst: E(K, RndA'); TI and command counter carry on."""
    if len(answer) != BLOCK or cbc_decrypt(key, ZERO_IV, answer) != rotl(rnd_a):
        raise SecureMessagingError("the card did not prove it holds the key")
    enc, mac = session_keys(key, rnd_a, rnd_b)
    return Ev2Session(key_no, enc, mac, ti, counter)
