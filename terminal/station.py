"""The configured terminal: configuration, keys, wallet and reader, opened together at start.

This is where configuration picks the reader backend; the code above it gets a
`PurseTag` per tap and never asks whether the reader is a USB one, the vpcd
virtual one or the in-process emulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from terminal.config import Config, EventKeys, load_config, load_keys
from terminal.nfc.reader import Connection, Reader
from terminal.wallet.card import PurseTag
from terminal.wallet.operations import Wallet


@dataclass
class Station:
    config: Config
    keys: EventKeys
    wallet: Wallet
    reader: Reader
    emulated_state: Path | None = None

    @classmethod
    def open(cls, config_path: Path | str, *, reader_name: str | None = None, reader: Reader | None = None) -> Station:
        """`reader`: one already open (the demo's emulated reader) instead of the configured one."""
        config = load_config(config_path)
        keys = load_keys(config.keys_path, config.event.id)
        wallet = Wallet.open(config, keys, role_of=operator_roles(config.data_dir / "operators.db"))
        state = None
        if reader is None:
            reader, state = open_configured_reader(config, reader_name)
        return cls(config=config, keys=keys, wallet=wallet, reader=reader, emulated_state=state)

    @contextmanager
    def tap(self, timeout: float | None = None) -> Iterator[PurseTag]:
        """Wait for a card and yield it as a purse tag; the connection is released afterwards."""
        wait = self.config.reader.timeout_s if timeout is None else timeout
        connection = self.reader.wait_for_card(wait)
        try:
            yield identify_card(connection, self.config)
        finally:
            connection.close()

    def close(self) -> None:
        self.reader.close()


def identify_card(connection: Connection, config: Config) -> PurseTag:
    """The tapped card as the wallet takes it: a DESFire purse (by its ATR) or an NTAG/Ultralight tag."""
    from terminal.nfc.desfire import DesfireCard, is_desfire_atr
    from terminal.nfc.desfire_purse import DesfirePurse
    from terminal.nfc.ntag import identify

    if is_desfire_atr(connection.atr):
        return DesfirePurse(DesfireCard(connection))  # type: ignore[return-value]
    key = config.reader.signature_public_key or None
    return identify(connection, check_signature=config.reader.check_signature,
                    signature_public_key=bytes.fromhex(key) if key else None, lazy=True)


def operator_roles(path: Path) -> Callable[[str], str | None]:
    """An operator's role as this terminal's operators.db says (None = not an operator here), read at each
    operation so that a supervisor's change applies at once."""

    opened: list = []

    def role_of(operator_id: str) -> str | None:
        from terminal.operators import OperatorStore

        if not opened:
            if not path.exists():
                return None
            opened.append(OperatorStore(path))
        found = opened[0].get(operator_id)
        return found.role.value if found is not None else None

    return role_of


def open_configured_reader(config: Config, reader_name: str | None = None) -> tuple[Reader, Path | None]:
    """The reader the configuration names; `--reader NAME` always means a PC/SC reader."""
    from terminal.nfc.reader import open_reader

    if reader_name is not None or config.reader.backend == "pcsc":
        return open_reader("pcsc", reader_name if reader_name is not None else config.reader.name), None
    from terminal.nfc.emulated import EmulatedReader
    from terminal.nfc.emulator import load_card, new_card

    reader = EmulatedReader()
    state: Path | None = None
    if config.reader.emulated_card:
        state = Path(config.reader.emulated_card)
        if not state.is_absolute() and config.source is not None:
            state = config.source.parent / state
        if state.exists():
            card = load_card(state)
        else:
            card = new_card(config.reader.emulated_product)
            state.parent.mkdir(parents=True, exist_ok=True)
        card.write_through(state)  # every change reaches the file before the journal hears of it
        reader.place(card)
    return reader, state
