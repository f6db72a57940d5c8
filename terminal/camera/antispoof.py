"""Optional passive anti-spoofing model (TFLite, run with LiteRT), for operators who have one.

Active challenges (terminal.camera.liveness) stop printed and still photos; a
passive model trained on replay and print attacks adds a check against a video
of the guest blinking. No such model ships with StallPay: an operator sets
`[camera] antispoof_model` to a .tflite file and installs the `antispoof`
extra (`ai-edge-litert`, the maintained successor of tflite-runtime with the
same `Interpreter` API). Nothing is loaded unless configured.

Model contract: one float32 input NHWC (size read from the model) of the
aligned face crop in RGB scaled to 0..1, and an output whose last value is the
probability that the face is live.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import cv2
import numpy as np


class AntiSpoofUnavailable(Exception):
    """Configured model cannot be used; the message is for the technician."""


class PassiveAntiSpoof(Protocol):
    def live_probability(self, crop: np.ndarray) -> float: ...


class LiteRtAntiSpoof:
    def __init__(self, model_path: Path | str, threads: int = 1) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise AntiSpoofUnavailable(f"{path}: anti-spoofing model not found")
        try:
            from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-not-found]
        except ImportError:
            raise AntiSpoofUnavailable(
                "anti-spoofing model configured but ai-edge-litert is not installed (pip install 'stallpay[antispoof]')"
            ) from None
        try:
            self._interp = Interpreter(model_path=str(path), num_threads=threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise AntiSpoofUnavailable(f"{path}: not a usable TFLite model: {exc}") from None
        self._input = self._interp.get_input_details()[0]
        self._output = self._interp.get_output_details()[0]
        _, self._h, self._w, _ = self._input["shape"]

    def live_probability(self, crop: np.ndarray) -> float:
        rgb = cv2.cvtColor(cv2.resize(crop, (int(self._w), int(self._h))), cv2.COLOR_BGR2RGB)
        self._interp.set_tensor(self._input["index"], (rgb.astype(np.float32) / 255.0)[None])
        self._interp.invoke()
        return float(np.asarray(self._interp.get_tensor(self._output["index"])).reshape(-1)[-1])


def load_antispoof(model_path: str) -> PassiveAntiSpoof | None:
    """None when no model is configured; raises AntiSpoofUnavailable when one is configured but unusable."""
    return LiteRtAntiSpoof(model_path) if model_path else None
