import numpy as np
import pytest

from terminal.camera.decision import FactorRecord
from terminal.camera.gallery import Gallery, GalleryError, gallery_key

KEY = gallery_key(b"\x01" * 16, b"\x02" * 32, "ev1")


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


def test_database_file_holds_no_template_in_clear(tmp_path):
    path = tmp_path / "face.db"
    g = Gallery(path, KEY)
    t = vec(7)
    g.put("guest-1", t, FactorRecord("4321", "04aabbccddeeff"))
    g.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert t.astype("<f4").tobytes()[:64] not in raw
    assert t[:4].astype("<f4").tobytes() not in raw
    assert b"4321" not in raw and b"04aabbccddeeff" not in raw
    again = Gallery(path, KEY)
    assert np.allclose(again.search(t).best.score, 1.0) and again.factors("guest-1").phone_digits == "4321"


def test_wrong_key_is_a_clear_error(tmp_path):
    Gallery(tmp_path / "face.db", KEY).put("guest-1", vec(1))
    with pytest.raises(GalleryError, match="cannot be decrypted"):
        Gallery(tmp_path / "face.db", gallery_key(b"\x09" * 16, b"\x02" * 32, "ev1"))


def test_row_moved_to_another_account_fails(tmp_path):
    g = Gallery(tmp_path / "face.db", KEY)
    g.put("a", vec(1))
    g.put("b", vec(2))
    g._db.execute("UPDATE face_templates SET sealed = (SELECT sealed FROM face_templates WHERE account_id='a') "
                  "WHERE account_id='b'")
    with pytest.raises(GalleryError):
        Gallery(tmp_path / "face.db", KEY)


def test_erasure_and_confirmation(tmp_path):
    g = Gallery(tmp_path / "face.db", KEY)
    g.put("a", vec(1))
    g.put("b", vec(2))
    assert g.erase("a", "checkout", now=100)
    assert "a" not in g and g.search(vec(1)).best.account_id == "b"
    assert [(e.account_id, e.reason) for e in g.pending_erasures()] == [("a", "checkout")]
    g.confirm_erasures_sent(["a"])
    assert g.pending_erasures() == []
    assert "a" not in Gallery(tmp_path / "face.db", KEY)


def test_expiry(tmp_path):
    g = Gallery(tmp_path / "face.db", KEY)
    g.put("old", vec(1), expires_at=1000)
    g.put("new", vec(2), expires_at=5000)
    assert g.purge_expired(now=2000) == ["old"]
    assert len(g) == 1 and [e.reason for e in g.pending_erasures()] == ["expired"]


def test_bad_template_rejected(tmp_path):
    g = Gallery(tmp_path / "face.db", KEY)
    with pytest.raises(ValueError):
        g.put("a", np.zeros(128, np.float32))
    with pytest.raises(ValueError):
        g.put("a", np.ones(64, np.float32))
