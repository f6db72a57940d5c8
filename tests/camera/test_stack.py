"""The face stack loads off the card path: not when face pay is configured, but at its first use or after ready."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from terminal.camera.frames import CameraMissing, CameraState, Frame, NoCamera
from terminal.camera.service import FacePay
from terminal.camera.stack import DeferredSource, FaceStack
from terminal.config import Config, EventKeys

KEYS = EventKeys(event_id="ev1", master_key=b"\x01" * 16, terminal_signing_key=b"\x02" * 32)
ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path: Path, **camera: object) -> Config:
    return Config.model_validate({"event": {"id": "ev1"}, "terminal": {"id": 1}, "paths": {"data": str(tmp_path)},
                                  "camera": camera})


def test_configured_face_pay_loads_no_model_and_no_opencv(tmp_path: Path, photos: Path) -> None:
    """In a fresh process (nothing loaded by other tests): FacePay.from_config with a camera imports neither."""
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from terminal.camera.service import FacePay\n"
        "from terminal.config import Config, EventKeys\n"
        f"config = Config.model_validate({{'event': {{'id': 'ev1'}}, 'terminal': {{'id': 1}}, "
        f"'paths': {{'data': {str(tmp_path)!r}}}, 'camera': {{'source': {str(photos)!r}}}}})\n"
        "fp = FacePay.from_config(config, EventKeys(event_id='ev1', master_key=bytes(16), "
        "terminal_signing_key=bytes(32)))\n"
        "print(json.dumps({'usable': fp.status().usable, 'loaded': fp.stack.loaded,\n"
        "                  'heavy': sorted(m for m in ('cv2', 'mediapipe') if m in sys.modules)}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"usable": True, "loaded": False, "heavy": []}


def test_first_use_builds_once_for_every_caller_at_once() -> None:
    built: list[int] = []
    release = threading.Event()

    def build() -> object:
        release.wait(5)
        built.append(1)
        return "pipeline"

    stack = FaceStack(build)  # type: ignore[arg-type]
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(stack.load())) for _ in range(4)]
    for t in threads:
        t.start()
    assert not stack.loaded
    release.set()
    for t in threads:
        t.join(5)
    assert built == [1] and got == ["pipeline"] * 4 and stack.loaded and stack.load_s is not None


def test_background_load_starts_only_after_ready(tmp_path: Path, still_pipeline: object) -> None:
    fp = FacePay.from_config(config(tmp_path, load="background"), KEYS)
    fp.stack = FaceStack(lambda: still_pipeline)  # type: ignore[arg-type,return-value]
    assert not fp.stack.loaded
    fp.after_ready()
    assert fp.pipeline is still_pipeline and fp.stack.loaded
    fp.stack.replace(None)  # the session's pipeline: its fixture closes it
    fp.close()


def test_first_use_does_not_load_after_ready(tmp_path: Path) -> None:
    fp = FacePay.from_config(config(tmp_path, source="0"), KEYS)
    fp.after_ready()
    assert not fp.stack.loaded and fp.stack._thread is None
    fp.gallery.close()


def test_a_stack_that_cannot_load_is_a_status_after_its_first_use(tmp_path: Path, image) -> None:
    def broken() -> object:
        raise ImportError("no module named mediapipe")

    fp = FacePay(FacePay.from_config(config(tmp_path), KEYS).gallery, config(tmp_path).camera, None,
                 DeferredSource(str(tmp_path)), stack=FaceStack(broken))  # type: ignore[arg-type]
    assert fp.status().usable  # not judged before it is needed
    decision = fp.identify([Frame(image("obama.jpg"), 0.0)])
    assert decision.outcome.value == "unavailable" and "mediapipe" in decision.reason
    assert fp.status().state is CameraState.BROKEN and "mediapipe" in fp.status().detail
    fp.close()


def test_deferred_source_judges_the_name_and_opens_on_the_first_frame(tmp_path: Path) -> None:
    opened: list[str] = []

    def opener(spec: str) -> NoCamera:
        opened.append(spec)
        return NoCamera("unplugged", CameraState.BROKEN)

    assert DeferredSource("").status().state is CameraState.MISSING
    assert DeferredSource(str(tmp_path / "nothing.jpg")).status().state is CameraState.MISSING
    source = DeferredSource("0", opener)
    assert source.status().usable and opened == []
    with pytest.raises(CameraMissing, match="unplugged"):
        source.read()
    assert opened == ["0"] and source.status().state is CameraState.BROKEN
