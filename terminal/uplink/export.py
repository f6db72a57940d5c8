"""Terminal side: cut the journal into signed batches, for upload or for a USB stick.

Exporting never deletes or marks anything; only an acknowledgement from the
collector (`SyncState.acknowledge`) marks entries delivered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.format.batch import Batch, encode, make_batch
from sync.format.private_files import write_private
from terminal.wallet.journal import Journal

BATCH_SIZE = 1000


def batches(journal: Journal, key: Ed25519PrivateKey, *, after: int = 0, batch_size: int = BATCH_SIZE,
            status: dict | None = None) -> Iterator[Batch]:
    """Batches of everything after `after`, cut at fixed boundaries so a re-export gives the same batches."""
    while True:
        # align on multiples of batch_size so repeated exports from any starting point agree
        limit = batch_size - (after % batch_size)
        entries = journal.export(after=after, limit=limit)
        if not entries:
            return
        yield make_batch(entries, key, terminal_status=status)
        after = entries[-1]["seq"]


def write_atomic(path: Path, data: bytes) -> None:
    """Batches and bundles: journal entries and hotlists, the owner's alone (0600)."""
    write_private(path, data)


def export_to_dir(journal: Journal, key: Ed25519PrivateKey, directory: Path, *, after: int = 0,
                  batch_size: int = BATCH_SIZE, status: dict | None = None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for batch in batches(journal, key, after=after, batch_size=batch_size, status=status):
        path = directory / batch.filename()
        write_atomic(path, encode(batch))
        written.append(path)
    return written
