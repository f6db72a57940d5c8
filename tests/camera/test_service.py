import pytest

from terminal.camera.decision import Outcome
from terminal.camera.frames import CameraState, Frame, open_source
from terminal.camera.service import EnrollOutcome, FacePay, GalleryChange
from terminal.config import CameraSection, Config, EventKeys

from .synth import moved_photo, still_photo

KEYS = EventKeys(event_id="ev1", master_key=b"\x01" * 16, terminal_signing_key=b"\x02" * 32)


def config(tmp_path, **camera) -> Config:
    return Config.model_validate({"event": {"id": "ev1"}, "terminal": {"id": 1}, "paths": {"data": str(tmp_path)},
                                  "camera": camera})


@pytest.fixture
def face_pay(tmp_path, still_pipeline):
    journal = []
    settings = {"threshold": 0.5, "threshold_calibrated": True, "fmr": 1e-6, "liveness_timeout_s": 1.0}
    fp = FacePay.from_config(config(tmp_path, **settings), KEYS, journal=lambda kind, rec: journal.append((kind, rec)))
    fp.pipeline = still_pipeline  # share the loaded models across tests
    fp.journal_entries = journal
    yield fp
    fp.gallery.close()


def test_no_camera_is_a_status_not_an_exception(tmp_path):
    fp = FacePay.from_config(config(tmp_path), KEYS)
    assert fp.status().state is CameraState.MISSING and "no camera" in fp.status().detail
    assert not fp.available and fp.read_frame() is None
    assert fp.identify([]).outcome in (Outcome.RETRY, Outcome.LOCKED)
    assert open_source("/dev/nonexistent-camera").status().state is CameraState.MISSING
    assert open_source("99").status().state is CameraState.MISSING


def test_face_stack_missing_gives_unavailable_decision(tmp_path, image):
    fp = FacePay.from_config(config(tmp_path, source="0"), KEYS)
    fp.pipeline = None
    frame = Frame(image("obama.jpg"), 0.0)
    assert fp.identify([frame]).outcome is Outcome.UNAVAILABLE


def test_enroll_needs_consent_then_detects_duplicate(face_pay, image):
    frames = moved_photo(image("obama.jpg"), n=6, tilt=False)
    assert face_pay.enroll("guest-1", frames).outcome is EnrollOutcome.NO_CONSENT
    face_pay.record_consent("guest-1", "consent-v1", "cashier-7")
    result = face_pay.enroll("guest-1", frames, phone_digits="4321")
    assert result.outcome is EnrollOutcome.ENROLLED and result.frames_used == 3
    face_pay.record_consent("guest-2", "consent-v1", "cashier-7")
    dup = face_pay.enroll("guest-2", still_photo(image("obama_partial_face.jpg"), n=3))
    assert dup.outcome is EnrollOutcome.DUPLICATE and dup.duplicate_of == "guest-1"
    biden = [Frame(image("biden.jpg"), i) for i in range(3)]
    assert face_pay.enroll("guest-3", biden).outcome is EnrollOutcome.NO_CONSENT
    face_pay.record_consent("guest-3", "consent-v1", "cashier-7")
    assert face_pay.enroll("guest-3", biden).outcome is EnrollOutcome.ENROLLED
    with pytest.raises(ValueError):
        face_pay.enroll("guest-3", [], phone_digits="12")


def test_match_and_moved_photo_never_pays(face_pay, image):
    face_pay.record_consent("guest-1", "consent-v1", "cashier-7")
    face_pay.enroll("guest-1", [Frame(image("obama.jpg"), i) for i in range(3)])
    probe_img = image("obama3.jpg")
    obs = face_pay.pipeline.observe(probe_img)
    assert face_pay.decide_on(face_pay.pipeline.embed(probe_img, obs.faces[0])).account_id == "guest-1"
    decision = face_pay.identify(moved_photo(image("obama_partial_face.jpg"), n=80))
    assert decision.outcome is Outcome.LOCKED  # liveness failed max_attempts times
    kinds = [rec["outcome"] for kind, rec in face_pay.journal_entries if kind == "face_decision"]
    assert "accept" not in kinds and kinds[-1] == "locked"


def test_bundle_changes_and_erasure_confirmation(face_pay):
    t = tuple([1.0] + [0.0] * 127)
    stored, erased = face_pay.apply_gallery_changes([GalleryChange("g1", template=t, phone_digits="1111"),
                                                     GalleryChange("g2", template=t[::-1])])
    assert (stored, erased) == (2, 0) and len(face_pay.gallery) == 2
    face_pay.apply_gallery_changes([GalleryChange("g1", erase=True)])
    assert "g1" not in face_pay.gallery
    assert face_pay.erase("g2", "checkout")
    assert [(e.account_id, e.reason) for e in face_pay.pending_erasure_confirmations()] == \
        [("g1", "collector"), ("g2", "checkout")]
    face_pay.confirm_erasures_sent(["g1", "g2"])
    assert face_pay.pending_erasure_confirmations() == []


def test_templates_expire_after_event(tmp_path, still_pipeline):
    clock = [1_000_000.0]
    fp = FacePay.from_config(config(tmp_path, event_end=1_000_000, retention_days=2), KEYS)
    fp.clock = lambda: clock[0]
    fp.apply_gallery_changes([GalleryChange("g1", template=tuple([1.0] * 128))])
    clock[0] += 2 * 86_400 - 1
    assert fp.purge_expired() == []
    clock[0] += 2
    assert fp.purge_expired() == ["g1"] and len(fp.gallery) == 0


def test_camera_section_defaults_keep_old_configs_loading():
    assert CameraSection.model_validate({"source": "0"}).threshold_calibrated is False
