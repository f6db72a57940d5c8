"""`stallpay face eval`: measure the face pipeline on labelled pairs and print the operating point.

The threshold for `[camera] fmr` printed here is what a technician writes to
`[camera] threshold` (and sets `threshold_calibrated = true`) when the set was
large enough ("supported": true); until then face matches need a second factor.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def register(subparsers: argparse._SubParsersAction) -> None:
    face = subparsers.add_parser("face", help="face pay: evaluation and technician tools")
    sub = face.add_subparsers(dest="face_command", metavar="ACTION")
    sub.required = True
    ev = sub.add_parser("eval", help="score labelled image pairs: EER, TAR at FAR, threshold for the FMR")
    ev.add_argument("--pairs", type=Path, required=True, help="CSV rows image_a,image_b,same (same = 1 or 0)")
    ev.add_argument("--images", type=Path, required=True, help="folder the image paths are relative to")
    ev.add_argument("--fmr", type=float, default=None, help="false-match rate (default: [camera] fmr)")
    ev.add_argument("--config", type=Path, default=None, help="terminal configuration for [camera] fmr")
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.set_defaults(func=run_eval)


def _fmr(args: argparse.Namespace) -> float:
    if args.fmr is not None:
        return args.fmr
    from terminal.config import CameraSection, load_config

    return load_config(args.config).camera.fmr if args.config else CameraSection().fmr


def run_eval(args: argparse.Namespace) -> int:
    from terminal.camera.evaluation import PairsFileError, evaluate_pairs, read_pairs
    from terminal.config import ConfigError

    try:
        fmr = _fmr(args)
        if not 0 < fmr < 1:
            raise ConfigError("--fmr must be between 0 and 1")
        if not args.images.is_dir():
            raise PairsFileError(f"{args.images}: not a folder")
        pairs = read_pairs(args.pairs)
        from terminal.camera.pipeline import FacePipeline
        from terminal.camera.source_files import read_image

        pipeline = FacePipeline(video=False)

        def embed(path: Path) -> np.ndarray | None:
            image = read_image(path)
            obs = pipeline.observe(image)
            return pipeline.embed(image, obs.faces[0]) if len(obs.faces) == 1 else None

        report = {"model": pipeline.embedder.name} | evaluate_pairs(pairs, args.images, embed, fmr)
    except (PairsFileError, ConfigError) as exc:
        print(f"stallpay face eval: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        print(f"stallpay face eval: face stack not installed ({exc})", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {value}")
    return 0
