"""No residue: after an erasure the raw database files hold neither the sealed template nor the phone digest,
on SQLite (database, WAL, SHM) and on PostgreSQL (the tables' relation files, read from the data directory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sync.collector.face import checkout, register_account, upload_template
from sync.collector.storage import Store
from sync.format.face_keys import seal_template, transport_key
from tests.privacy.conftest import carve, sqlite_files
from tests.sync.journals import EVENT

MASTER = bytes(16)


def _relation_files(store: Store) -> list[Path]:
    """The heap, TOAST and index files of the face tables, after a CHECKPOINT flushed the shared buffers."""
    store.execute("CHECKPOINT")
    data = Path(store.scalar("SHOW data_directory"))
    files = []
    for table in ("gallery_changes", "face_accounts", "face_erasure_confirmations"):
        oids = store.query("SELECT c.oid, c.reltoastrelid FROM pg_class c WHERE c.oid = ?::regclass", [table])[0]
        rels = [oids["oid"]] + ([oids["reltoastrelid"]] if oids["reltoastrelid"] else [])
        rels += [r["indexrelid"] for r in store.query("SELECT indexrelid FROM pg_index WHERE indrelid = ?",
                                                      [oids["oid"]])]
        for rel in rels:
            path = store.scalar("SELECT pg_relation_filepath(?::oid)", [rel])
            if path:
                files += sorted((data / path).parent.glob(Path(path).name + "*"))
    return files


def _raw_files(store: Store) -> list[Path]:
    if store.dialect == "postgresql":
        return _relation_files(store)
    return sqlite_files(Path(store.path))  # type: ignore[attr-defined]


def test_erased_template_leaves_no_bytes_in_the_database_files(store: Store) -> None:
    vector = np.random.default_rng(7).normal(size=128).astype(np.float32)
    template = list(vector / np.linalg.norm(vector))
    sealed = seal_template(transport_key(MASTER, EVENT), EVENT, "g-carve", template, phone_digits="4321")
    register_account(store, "g-carve", holder="Ada")
    upload_template(store, MASTER, EVENT, "g-carve", sealed)
    at_rest = store.scalar("SELECT template FROM gallery_changes WHERE account_id = 'g-carve'")
    digest = store.scalar("SELECT phone_hash FROM face_accounts WHERE account_id = 'g-carve'")
    assert at_rest and at_rest != sealed and digest.startswith("s1$")
    needles = {"sealed template (at rest)": at_rest[40:104].encode(), "phone digest": digest[-40:].encode(),
               "template float32": np.asarray(template, "<f4").tobytes()[:64]}
    before = carve(_raw_files(store), needles)
    assert set(before) == {"sealed template (at rest)", "phone digest"}, before  # the carver sees them while held
    checkout(store, "g-carve", by="test", pay_out_here=True)
    assert store.scalar("SELECT COUNT(*) FROM gallery_changes WHERE account_id = 'g-carve' AND action = 'put'") == 0
    files = _raw_files(store)
    assert files and carve(files, needles) == {}
