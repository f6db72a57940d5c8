"""Face pay on the terminal: frame sources, pipeline, liveness, encrypted gallery, decisions.

Heavy parts (MediaPipe, OpenCV DNN) load only when a pipeline is built; see
`terminal.camera.service.FacePay` for the interface the app and sync use.
"""

from terminal.camera.decision import Decision, DecisionPolicy, Outcome
from terminal.camera.frames import (
           CameraError,
           CameraMissing,
           CameraState,
           CameraStatus,
           Frame,
           FrameSource,
           open_source,
)

__all__ = ["CameraError", "CameraMissing", "CameraState", "CameraStatus", "Decision", "DecisionPolicy", "Frame",
           "FrameSource", "Outcome", "open_source"]
